//! When something was written, as its reader tells time: the hour in their locale beside
//! each message, a line for each new day ("Today", "Yesterday", or the date), and the full
//! date and time on hover and for assistive technology.
//!
//! The browser formats (the `Intl` behind `Date.toLocale…String`, in the reader's time
//! zone); the server renders no messages (they arrive over the socket), so its build only
//! has to compile: it counts days in UTC and formats nothing.

use crate::text::Lang;

/// A calendar day in the reader's time zone: days since 1970-01-01 there.
pub type Day = i64;

/// One moment, formatted for its reader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// The hour and minute, as the reader's locale writes them ("2:05 PM", "14:05").
    pub short: String,
    /// Date and time in full ("Thursday, 3 December 2026 at 14:05").
    pub full: String,
    /// For `<time datetime>`: the moment in RFC 3339 (UTC).
    pub machine: String,
}

/// The day the moment `ts` (milliseconds since the epoch) falls on for this reader.
pub fn day_of(ts: u64) -> Day {
    let offset_ms = local_offset_ms(ts);
    (ts as i64 + offset_ms).div_euclid(86_400_000)
}

/// How a day's line reads: "Today", "Yesterday", or the date (with the year when it is
/// not this year's).
pub fn day_label(day: Day, ts: u64, now: u64, lang: Lang) -> String {
    let today = day_of(now);
    if day == today {
        lang.ui().today.to_owned()
    } else if day == today - 1 {
        lang.ui().yesterday.to_owned()
    } else {
        format_date(ts, now, lang)
    }
}

/// The milliseconds since the epoch now, as the reader's clock says.
pub fn now_ms() -> u64 {
    #[cfg(feature = "browser")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "browser"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

#[cfg(feature = "browser")]
mod browser {
    use super::*;
    use js_sys::{Date, JSON};
    use wasm_bindgen::JsValue;

    /// The latest moment a JavaScript date holds (8.64e15 ms); past it, formatting throws.
    const LATEST_MS: u64 = 8_640_000_000_000_000;

    fn date(ts: u64) -> Date {
        Date::new(&JsValue::from_f64(ts.min(LATEST_MS) as f64))
    }

    fn options(json: &str) -> JsValue {
        JSON::parse(json).unwrap_or(JsValue::UNDEFINED)
    }

    /// The locale to format in: the browser's own when it is of the UI's language (so an
    /// English reader in Britain gets "14:05" and one in the US "2:05 PM"), else the UI's.
    fn locale(lang: Lang) -> String {
        let browser = leptos::web_sys::window().and_then(|w| w.navigator().language());
        match browser {
            Some(tag) if Lang::of_tag(&tag) == Some(lang) => tag,
            _ => lang.tag().to_owned(),
        }
    }

    pub fn local_offset_ms(ts: u64) -> i64 {
        // getTimezoneOffset: minutes to add to local time to get UTC.
        -(date(ts).get_timezone_offset() * 60_000.0) as i64
    }

    pub fn stamp(ts: u64, lang: Lang) -> Stamp {
        let d = date(ts);
        let locale = locale(lang);
        Stamp {
            short: d
                .to_locale_time_string_with_options(
                    &locale,
                    &options(r#"{"hour":"numeric","minute":"2-digit"}"#),
                )
                .into(),
            full: d
                .to_locale_string(&locale, &options(r#"{"dateStyle":"full","timeStyle":"short"}"#))
                .into(),
            machine: d.to_iso_string().into(),
        }
    }

    /// The date, with the year when it is not this year's.
    pub fn format_date(ts: u64, now: u64, lang: Lang) -> String {
        let json = if date(ts).get_full_year() != date(now).get_full_year() {
            r#"{"weekday":"long","year":"numeric","month":"long","day":"numeric"}"#
        } else {
            r#"{"weekday":"long","month":"long","day":"numeric"}"#
        };
        date(ts).to_locale_date_string(&locale(lang), &options(json)).into()
    }
}

#[cfg(feature = "browser")]
pub use browser::stamp;
#[cfg(feature = "browser")]
use browser::{format_date, local_offset_ms};

// The server's build: UTC days, nothing formatted (it renders no messages).
#[cfg(not(feature = "browser"))]
fn local_offset_ms(_ts: u64) -> i64 {
    0
}
#[cfg(not(feature = "browser"))]
pub fn stamp(_ts: u64, _lang: Lang) -> Stamp {
    Stamp::default()
}
#[cfg(not(feature = "browser"))]
fn format_date(_ts: u64, _now: u64, _lang: Lang) -> String {
    String::new()
}

/// Where a day's line goes in a list ordered by time: before the first item of each day.
/// Takes each item's moment, oldest first; returns the indexes that start a new day, with
/// that day.
pub fn day_starts(moments: impl IntoIterator<Item = u64>) -> Vec<(usize, Day)> {
    let mut last = None;
    let mut starts = Vec::new();
    for (i, ts) in moments.into_iter().enumerate() {
        let day = day_of(ts);
        if last != Some(day) {
            starts.push((i, day));
            last = Some(day);
        }
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;

    #[test]
    fn a_line_starts_each_day_and_only_then() {
        let monday = 20_000 * DAY;
        let moments =
            [monday + 1, monday + 5_000, monday + DAY + 7, monday + 3 * DAY, monday + 3 * DAY + 9];
        assert_eq!(day_starts(moments), vec![(0, 20_000), (2, 20_001), (3, 20_003)]);
        assert_eq!(day_starts([]), vec![]);
    }

    #[test]
    fn today_and_yesterday_are_named_in_the_readers_language() {
        let now = 20_000 * DAY + 3_600_000;
        assert_eq!(day_label(day_of(now), now, now, Lang::En), "Today");
        assert_eq!(day_label(day_of(now) - 1, now - DAY, now, Lang::En), "Yesterday");
        assert_eq!(day_label(day_of(now), now, now, Lang::ZhCn), "今天");
        assert_eq!(day_label(day_of(now) - 1, now - DAY, now, Lang::ZhCn), "昨天");
    }
}

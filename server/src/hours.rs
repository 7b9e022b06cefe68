//! Office hours: when the desk is staffed, as configured (`OFFICE_HOURS`). Outside them,
//! customers are told so, and their messages wait for the agents as ever.
//!
//! The format: days and times separated by `;`, and the desk's offset from UTC, e.g.
//! `Mon-Fri 09:00-18:00; Sat 10:00-14:00; UTC+08:00`. Days are `Mon` … `Sun` (ranges wrap:
//! `Fri-Mon`), times are a day's `HH:MM-HH:MM` (`24:00` ends at midnight). A fixed offset,
//! not a time zone: where clocks change, the setting changes with them.
//! Must not: read the clock (callers pass the time).

use std::fmt;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// When the desk is open, per day of the week (Monday first), in minutes of the day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficeHours {
    open: [Vec<(u16, u16)>; 7],
    /// Minutes east of UTC.
    offset_min: i32,
    /// As configured, for people to read.
    text: String,
}

impl OfficeHours {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut open: [Vec<(u16, u16)>; 7] = Default::default();
        let mut offset_min = 0;
        let mut any = false;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(offset) = part.strip_prefix("UTC") {
                offset_min = parse_offset(offset)
                    .ok_or_else(|| format!("{part:?} is not an offset like UTC+08:00"))?;
                continue;
            }
            let (days, times) = part
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("{part:?} is not like Mon-Fri 09:00-18:00"))?;
            let (from, to) = times
                .trim()
                .split_once('-')
                .ok_or_else(|| format!("{times:?} is not like 09:00-18:00"))?;
            let (from, to) = (
                minutes(from).ok_or(format!("{from:?} is not a time"))?,
                minutes(to).ok_or(format!("{to:?} is not a time"))?,
            );
            if from >= to {
                return Err(format!("{times:?} ends before it starts"));
            }
            for day in day_range(days)
                .ok_or_else(|| format!("{days:?} is not a day or days like Mon-Fri"))?
            {
                open[day].push((from, to));
            }
            any = true;
        }
        if !any {
            return Err("no opening hours given".into());
        }
        Ok(Self { open, offset_min, text: text.trim().to_owned() })
    }

    /// Whether the desk is open at `now_ms` (milliseconds since the Unix epoch).
    pub fn is_open(&self, now_ms: u64) -> bool {
        let local_min = (now_ms / 60_000) as i64 + i64::from(self.offset_min);
        let day_index = local_min.div_euclid(24 * 60);
        let minute = local_min.rem_euclid(24 * 60) as u16;
        // 1970-01-01 was a Thursday (index 3, Monday first).
        let weekday = (day_index + 3).rem_euclid(7) as usize;
        self.open[weekday].iter().any(|&(from, to)| from <= minute && minute < to)
    }
}

impl fmt::Display for OfficeHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

fn day(name: &str) -> Option<usize> {
    DAYS.iter().position(|d| d.eq_ignore_ascii_case(name.trim()))
}

/// `Mon`, or `Mon-Fri` (wrapping over the week's end: `Fri-Mon`).
fn day_range(days: &str) -> Option<Vec<usize>> {
    match days.split_once('-') {
        None => Some(vec![day(days)?]),
        Some((first, last)) => {
            let (first, last) = (day(first)?, day(last)?);
            let len = (last + 7 - first) % 7 + 1;
            Some((0..len).map(|i| (first + i) % 7).collect())
        }
    }
}

/// `+08:00`, `-05:30`, `+8`.
fn parse_offset(offset: &str) -> Option<i32> {
    let offset = offset.trim();
    let (sign, rest) = match offset.chars().next()? {
        '+' => (1, &offset[1..]),
        '-' => (-1, &offset[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds at a UTC date and time (2026-11-23 was a Monday).
    fn at(day_of_nov_2026: u64, h: u64, m: u64) -> u64 {
        // 2026-11-01T00:00:00Z
        let nov_first = 1_793_491_200_000;
        nov_first + ((day_of_nov_2026 - 1) * 24 * 60 + h * 60 + m) * 60_000
    }

    #[test]
    fn open_within_the_hours_of_the_day_in_the_desks_offset() {
        let hours = OfficeHours::parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00; UTC+08:00").unwrap();
        // Monday 23 Nov, 01:00 UTC is 09:00 in UTC+8: open; 00:59 UTC is not.
        assert!(hours.is_open(at(23, 1, 0)));
        assert!(!hours.is_open(at(23, 0, 59)));
        // 10:00 UTC is 18:00 there: closed (the end is not included).
        assert!(hours.is_open(at(23, 9, 59)));
        assert!(!hours.is_open(at(23, 10, 0)));
        // Saturday 28 Nov, 03:00 UTC is 11:00 there: open; Sunday never.
        assert!(hours.is_open(at(28, 3, 0)));
        assert!(!hours.is_open(at(29, 3, 0)));
        // Sunday 29 Nov, 17:00 UTC is Monday 01:00 there: closed; 01:00 UTC Monday is 09:00.
        assert!(!hours.is_open(at(29, 17, 0)));
        assert_eq!(hours.to_string(), "Mon-Fri 09:00-18:00; Sat 10:00-14:00; UTC+08:00");
    }

    #[test]
    fn ranges_of_days_wrap_and_days_end_at_midnight() {
        let hours = OfficeHours::parse("Fri-Mon 20:00-24:00").unwrap();
        assert!(hours.is_open(at(27, 23, 59)), "Friday 23:59");
        assert!(hours.is_open(at(30, 20, 0)), "Monday 20:00");
        assert!(!hours.is_open(at(24, 21, 0)), "Tuesday");
    }

    #[test]
    fn a_setting_that_cannot_be_read_is_refused_with_the_reason() {
        for (bad, says) in [
            ("", "no opening hours"),
            ("Mon-Fri", "is not like"),
            ("Funday 09:00-10:00", "is not a day"),
            ("Mon 18:00-09:00", "ends before it starts"),
            ("Mon 09:00-25:00", "is not a time"),
            ("Mon 09:00-10:00; UTC+8x", "is not an offset"),
        ] {
            let err = OfficeHours::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}

//! Admins' reports: the period asked for (days in the reader's time zone), the store's
//! figures ([`crate::store::ReportRows`]) put into an [`app::protocol::Report`], and that
//! report as CSV files with headers in the reader's language. What is counted, and how, is
//! said in [`app::protocol::report`]; the counting is the store's, in SQL.

use std::collections::BTreeMap;

use app::protocol::{
    AgentFigures, DayFigures, DeskFigures, Durations, Problem, Ratings, Report, ReportFormat,
    UserName, REPORT_MAX_DAYS,
};
use app::text::Lang;

use crate::store::ReportRows;

/// A day in ms.
const DAY_MS: i64 = 86_400_000;
/// The Julian day of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// The days a report covers, both included, counted from 1970-01-01 in the reader's time
/// zone (`offset_min` minutes east of UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub first_day: i64,
    pub last_day: i64,
    pub offset_min: i32,
}

impl Period {
    /// The period from `from` to `to` (`YYYY-MM-DD`), or why not.
    pub fn parse(from: &str, to: &str, offset_min: i32) -> Result<Self, Problem> {
        let (first_day, last_day) = (day_number(from)?, day_number(to)?);
        // Time zones lie within a day of UTC.
        if first_day > last_day
            || last_day - first_day >= REPORT_MAX_DAYS
            || offset_min.abs() > 24 * 60
            || first_day < 1
        {
            return Err(Problem::ReportPeriodInvalid);
        }
        Ok(Self { first_day, last_day, offset_min })
    }

    /// The reader's offset in ms.
    pub fn offset_ms(&self) -> i64 {
        i64::from(self.offset_min) * 60_000
    }

    /// Where the period starts and ends (excluded), in ms since the epoch.
    pub fn bounds_ms(&self) -> (u64, u64) {
        let at = |day: i64| u64::try_from(day * DAY_MS - self.offset_ms()).unwrap_or(0);
        (at(self.first_day), at(self.last_day + 1))
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn day_number(date: &str) -> Result<i64, Problem> {
    let parts: Vec<&str> = date.trim().split('-').collect();
    let number = |s: &str| s.parse::<i32>().map_err(|_| Problem::ReportPeriodInvalid);
    let [year, month, day] = parts[..] else { return Err(Problem::ReportPeriodInvalid) };
    let month = time::Month::try_from(u8::try_from(number(month)?).unwrap_or(0))
        .map_err(|_| Problem::ReportPeriodInvalid)?;
    let day = u8::try_from(number(day)?).map_err(|_| Problem::ReportPeriodInvalid)?;
    let date = time::Date::from_calendar_date(number(year)?, month, day)
        .map_err(|_| Problem::ReportPeriodInvalid)?;
    Ok(i64::from(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY))
}

/// Day `n` since 1970-01-01 as `YYYY-MM-DD`.
fn day_label(n: i64) -> String {
    i32::try_from(n)
        .ok()
        .and_then(|n| time::Date::from_julian_day(n + UNIX_EPOCH_JULIAN_DAY).ok())
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// The report of `period` from the store's rows.
pub fn assemble(period: Period, rows: &ReportRows) -> Report {
    let mut days: BTreeMap<i64, DayFigures> = (period.first_day..=period.last_day)
        .map(|d| (d, DayFigures { day: day_label(d), ..DayFigures::default() }))
        .collect();
    let mut desk = DeskFigures::default();
    let names: BTreeMap<&str, &str> =
        rows.names.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect();
    let mut agents: BTreeMap<String, AgentFigures> = BTreeMap::new();
    for (day, n) in &rows.started {
        if let Some(d) = days.get_mut(day) {
            d.conversations += n;
        }
        desk.conversations += n;
    }
    for (day, key, n) in &rows.messages {
        let d = days.get_mut(day);
        if key.is_empty() {
            desk.customer_messages += n;
            if let Some(d) = d {
                d.customer_messages += n;
            }
        } else {
            desk.agent_messages += n;
            if let Some(d) = d {
                d.agent_messages += n;
            }
            if let Some(a) = agent(&mut agents, &names, key) {
                a.messages += n;
            }
        }
    }
    for (day, key, n) in &rows.resolved {
        desk.resolved += n;
        if let Some(d) = days.get_mut(day) {
            d.resolved += n;
        }
        if let Some(a) = agent(&mut agents, &names, key) {
            a.resolved += n;
        }
    }
    for (metric, key, count, median_ms, p90_ms) in &rows.times {
        let durations = Durations { count: *count, median_ms: *median_ms, p90_ms: *p90_ms };
        match (metric.as_str(), key.is_empty()) {
            ("first_response", true) => desk.first_response = durations,
            ("resolution", true) => desk.resolution = durations,
            ("queue_wait", true) => desk.queue_wait = durations,
            ("first_response", false) => {
                if let Some(a) = agent(&mut agents, &names, key) {
                    a.first_response = durations;
                }
            }
            ("resolution", false) => {
                if let Some(a) = agent(&mut agents, &names, key) {
                    a.resolution = durations;
                }
            }
            _ => {}
        }
    }
    for (key, count, sum, satisfied) in &rows.ratings {
        let ratings = Ratings { count: *count, sum: *sum, satisfied: *satisfied };
        desk.ratings.count += count;
        desk.ratings.sum += sum;
        desk.ratings.satisfied += satisfied;
        if let Some(a) = agent(&mut agents, &names, key) {
            a.ratings = ratings;
        }
    }
    let mut agents: Vec<AgentFigures> = agents.into_values().collect();
    agents.sort_by_key(|a| a.name.as_str().to_lowercase());
    Report {
        from: day_label(period.first_day),
        to: day_label(period.last_day),
        days: days.into_values().collect(),
        desk,
        agents,
    }
}

/// The figures of the agent keyed `key` ('' is nobody), made on first use.
fn agent<'a>(
    agents: &'a mut BTreeMap<String, AgentFigures>,
    names: &BTreeMap<&str, &str>,
    key: &str,
) -> Option<&'a mut AgentFigures> {
    if key.is_empty() {
        return None;
    }
    // An account removed since: its key (its name in lower case) stands for it.
    let name = UserName::parse(names.get(key).copied().unwrap_or(key)).ok()?;
    Some(agents.entry(key.to_owned()).or_insert_with(|| AgentFigures {
        name,
        resolved: 0,
        messages: 0,
        first_response: Durations::default(),
        resolution: Durations::default(),
        ratings: Ratings::default(),
    }))
}

/// Seconds, rounded, or nothing.
fn seconds(ms: Option<u64>) -> String {
    ms.map(|ms| ((ms + 500) / 1000).to_string()).unwrap_or_default()
}

/// The report's days or agents as a CSV file, its headers in `lang`.
pub fn csv(report: &Report, format: ReportFormat, lang: Lang) -> Result<String, csv::Error> {
    let ui = lang.ui();
    let mut out = csv::Writer::from_writer(Vec::new());
    match format {
        ReportFormat::Json | ReportFormat::DaysCsv => {
            out.write_record([
                ui.report_day,
                ui.report_conversations,
                ui.report_resolved,
                ui.report_customer_messages,
                ui.report_agent_messages,
            ])?;
            for d in &report.days {
                out.write_record([
                    d.day.clone(),
                    d.conversations.to_string(),
                    d.resolved.to_string(),
                    d.customer_messages.to_string(),
                    d.agent_messages.to_string(),
                ])?;
            }
        }
        ReportFormat::AgentsCsv => {
            out.write_record([
                ui.report_agent,
                ui.report_resolved,
                ui.report_messages,
                ui.report_first_response_median,
                ui.report_first_response_p90,
                ui.report_resolution_median,
                ui.report_resolution_p90,
                ui.report_ratings,
                ui.report_rating_average,
                ui.report_satisfied,
            ])?;
            for a in &report.agents {
                out.write_record([
                    a.name.to_string(),
                    a.resolved.to_string(),
                    a.messages.to_string(),
                    seconds(a.first_response.median_ms),
                    seconds(a.first_response.p90_ms),
                    seconds(a.resolution.median_ms),
                    seconds(a.resolution.p90_ms),
                    a.ratings.count.to_string(),
                    a.ratings.average().map(|v| format!("{v:.1}")).unwrap_or_default(),
                    a.ratings.satisfied_percent().map(|v| v.to_string()).unwrap_or_default(),
                ])?;
            }
        }
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_two_dates_in_order_and_at_most_a_year() {
        let p = Period::parse("2026-11-01", "2026-11-30", 480).unwrap();
        assert_eq!(p.last_day - p.first_day, 29);
        assert_eq!(day_label(p.first_day), "2026-11-01");
        // 2026-11-01 00:00 at UTC+8 is 2026-10-31 16:00 UTC.
        assert_eq!(p.bounds_ms().0, 1_793_491_200_000 - 8 * 3_600_000);
        assert_eq!(p.bounds_ms().1 - p.bounds_ms().0, 30 * 86_400_000);
        for (from, to) in [
            ("2026-11-30", "2026-11-01"),
            ("2026-02-30", "2026-03-01"),
            ("2026-1-1x", "2026-03-01"),
            ("yesterday", "2026-03-01"),
            ("2024-01-01", "2026-01-01"),
        ] {
            assert_eq!(
                Period::parse(from, to, 0),
                Err(Problem::ReportPeriodInvalid),
                "{from} {to}"
            );
        }
        assert!(Period::parse("2025-01-01", "2025-12-31", 0).is_ok(), "a year");
    }

    #[test]
    fn the_rows_become_days_with_nothing_left_out_and_agents_by_name() {
        let p = Period::parse("2026-11-01", "2026-11-03", 0).unwrap();
        let d = p.first_day;
        let rows = ReportRows {
            started: vec![(d, 2), (d + 2, 1)],
            messages: vec![(d, String::new(), 3), (d, "amy".into(), 2), (d + 2, "zoe".into(), 1)],
            resolved: vec![(d + 2, "amy".into(), 1)],
            times: vec![("first_response".into(), "".into(), 2, Some(1000), Some(3000))],
            ratings: vec![("amy".into(), 2, 9, 2)],
            names: vec![("amy".into(), "Amy".into())],
        };
        let report = assemble(p, &rows);
        assert_eq!(report.days.len(), 3, "the empty day too");
        assert_eq!(report.days[1].conversations, 0);
        assert_eq!((report.desk.conversations, report.desk.customer_messages), (3, 3));
        assert_eq!(report.desk.first_response.median_ms, Some(1000));
        let names: Vec<String> = report.agents.iter().map(|a| a.name.to_string()).collect();
        assert_eq!(names, ["Amy", "zoe"], "a removed account by its key");
        assert_eq!(report.agents[0].ratings.average(), Some(4.5));

        let zh = csv(&report, ReportFormat::DaysCsv, Lang::ZhCn).unwrap();
        assert!(zh.starts_with("日期,对话,已解决,顾客消息,客服消息\n2026-11-01,2,0,3,2\n"), "{zh}");
        let agents = csv(&report, ReportFormat::AgentsCsv, Lang::En).unwrap();
        assert!(agents.contains("\nAmy,1,2,,,,,2,4.5,100\n"), "{agents}");
    }
}

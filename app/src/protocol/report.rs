//! Reports for admins: how the desk did over a period of days, as JSON for the console's
//! *Reports* view and as CSV files for a spreadsheet (`GET` [`REPORTS_PATH`]).
//!
//! What is counted (the server computes it in SQL, the same on SQLite and PostgreSQL):
//! - a *conversation* is one stretch of a customer's conversation, from its first message
//!   after it was last resolved (or ever) to its next resolution: a customer who writes
//!   again after a resolution starts another one, counted on the day it starts;
//! - *first response*: from the customer's first message in it to the first agent message
//!   after that; *resolution*: from its first message to its resolution. Both are of the
//!   conversations that started in the period (their answer or resolution may come after
//!   it), credited to the agent who answered first and the agent who resolved it;
//! - *waiting in the queue*: from entering the queue to being assigned, for the waits that
//!   began in the period and have ended;
//! - *resolved*, *messages* and *ratings*: as they happened in the period, on their days; a
//!   rating is credited to the agent who made the resolution rated.
//!
//! Medians and 90th percentiles are the nearest rank: the smallest time that at least half
//! (nine tenths) of the times are at or under.

use serde::{Deserialize, Serialize};

use super::UserName;

/// HTTP: `GET` a report, for an admin's cookie session only (anyone else: 404):
/// `?from=YYYY-MM-DD&to=YYYY-MM-DD&offset=480&format=json|days.csv|agents.csv&lang=en|zh-CN`,
/// the days in the reader's time zone (`offset` minutes east of UTC), both included.
pub const REPORTS_PATH: &str = "/reports";
/// The longest period a report covers, in days.
pub const REPORT_MAX_DAYS: i64 = 366;

/// What [`REPORTS_PATH`] answers in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReportFormat {
    /// A [`Report`].
    #[default]
    #[serde(rename = "json")]
    Json,
    /// A CSV file of [`Report::days`], with its headers in the reader's language.
    #[serde(rename = "days.csv")]
    DaysCsv,
    /// A CSV file of [`Report::agents`].
    #[serde(rename = "agents.csv")]
    AgentsCsv,
}

impl ReportFormat {
    /// As written in the query.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::DaysCsv => "days.csv",
            Self::AgentsCsv => "agents.csv",
        }
    }
}

/// The address of the report from day `from` to day `to` (`YYYY-MM-DD`, both included) in
/// `format`, for a reader of `lang` whose offset from UTC is `offset_min` minutes east.
pub fn report_url(
    from: &str,
    to: &str,
    offset_min: i32,
    format: ReportFormat,
    lang: &str,
) -> String {
    // Dates as the page's date inputs give them: digits and '-', nothing to escape.
    let keep = |s: &str| s.chars().filter(|c| c.is_ascii_digit() || *c == '-').collect::<String>();
    format!(
        "{REPORTS_PATH}?from={}&to={}&offset={offset_min}&format={}&lang={lang}",
        keep(from),
        keep(to),
        format.as_str()
    )
}

/// How many times were measured, and their median and 90th percentile (ms); none measured:
/// no median.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<u64>,
}

/// Ratings given: how many, the sum of their scores (the average is `sum / count`), and how
/// many were 4 or 5 (satisfied).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratings {
    pub count: u64,
    pub sum: u64,
    pub satisfied: u64,
}

impl Ratings {
    /// The average score, with one decimal (none rated: none).
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.sum as f64 / self.count as f64 * 10.0).round() / 10.0)
    }

    /// The share of satisfied ratings in whole percent (none rated: none).
    pub fn satisfied_percent(&self) -> Option<u64> {
        (self.count > 0).then(|| (self.satisfied * 100 + self.count / 2) / self.count)
    }
}

/// One day of the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Conversations that started that day.
    pub conversations: u64,
    pub resolved: u64,
    pub customer_messages: u64,
    pub agent_messages: u64,
}

/// The whole desk over the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskFigures {
    pub conversations: u64,
    pub resolved: u64,
    pub customer_messages: u64,
    pub agent_messages: u64,
    pub first_response: Durations,
    pub resolution: Durations,
    pub queue_wait: Durations,
    pub ratings: Ratings,
}

/// One agent over the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFigures {
    pub name: UserName,
    pub resolved: u64,
    pub messages: u64,
    /// Of the conversations where this agent answered first.
    pub first_response: Durations,
    /// Of the conversations this agent resolved.
    pub resolution: Durations,
    pub ratings: Ratings,
}

/// The answer of [`REPORTS_PATH`] in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    /// Every day of the period, in order (days with nothing in them too).
    pub days: Vec<DayFigures>,
    pub desk: DeskFigures,
    /// Every agent with something in the period, by name.
    pub agents: Vec<AgentFigures>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_url_carries_only_the_dates_digits() {
        assert_eq!(
            report_url("2026-11-01", "2026-11-30&x=1", -300, ReportFormat::DaysCsv, "zh-CN"),
            "/reports?from=2026-11-01&to=2026-11-301&offset=-300&format=days.csv&lang=zh-CN"
        );
    }

    #[test]
    fn averages_and_shares_are_rounded_and_absent_without_ratings() {
        let r = Ratings { count: 3, sum: 13, satisfied: 2 };
        assert_eq!(r.average(), Some(4.3));
        assert_eq!(r.satisfied_percent(), Some(67));
        assert_eq!(Ratings::default().average(), None);
        assert_eq!(Ratings::default().satisfied_percent(), None);
    }
}

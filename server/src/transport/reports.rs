//! Reports over HTTP: `GET /reports?from=…&to=…&offset=…&format=json|days.csv|agents.csv&lang=…`
//! answers an admin (their cookie session) with how the desk did over those days.
//!
//! Owns: who may read a report (admins only: anyone else, logged in or not, gets the same
//! 404 as a path that does not exist) and answering in the format asked for. The period is
//! [`crate::reports::Period`]'s to read, the counting the store's.
//! Must not: count anything itself.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::desk::internal;
use super::http::refused;
use super::requester::{admin_name, private};
use super::shared::Shared;
use crate::reports::{assemble, csv, Period};
use app::protocol::{Problem, ReportFormat, REPORTS_PATH};
use app::text::Lang;

/// Reports computed at once, on the whole server; others wait their turn (each reads a
/// period's messages).
static COUNTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new().route(REPORTS_PATH, get(report)).with_state(shared)
}

#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The reader's offset from UTC in minutes east; UTC otherwise.
    #[serde(default)]
    offset: i32,
    #[serde(default)]
    format: ReportFormat,
    /// The reader's language tag (`en`, `zh-CN`), for the CSV's headers.
    #[serde(default)]
    lang: String,
}

async fn report(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Response {
    // Only an admin learns that reports exist.
    if let Err(refusal) = admin_name(&shared, &headers).await {
        return refusal;
    }
    let period = match Period::parse(&query.from, &query.to, query.offset) {
        Ok(period) => period,
        Err(problem) => return refused(problem),
    };
    let rows = async {
        let _turn = COUNTING.acquire().await.map_err(|e| {
            tracing::error!(error = %e, "waiting to count a report");
            Problem::Internal
        })?;
        let (from, to) = period.bounds_ms();
        shared
            .desk
            .store
            .report(from, to, period.offset_ms())
            .await
            .map_err(internal("counting a report"))
    };
    let report = match rows.await {
        Ok(rows) => assemble(period, &rows),
        Err(problem) => return refused(problem),
    };
    let response = match query.format {
        ReportFormat::Json => axum::Json(report).into_response(),
        format => {
            let lang = Lang::of_tag(&query.lang).unwrap_or_default();
            let text = match csv(&report, format, lang) {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!(error = %e, "writing a report as CSV");
                    return refused(Problem::Internal);
                }
            };
            let name = format!(
                "attachment; filename=\"report-{}-{}-{}\"",
                report.from,
                report.to,
                format.as_str()
            );
            let mut response = text.into_response();
            let set = response.headers_mut();
            set.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            // Dates and a fixed name: always a valid header value.
            match HeaderValue::from_str(&name) {
                Ok(value) => {
                    set.insert(header::CONTENT_DISPOSITION, value);
                }
                Err(e) => tracing::error!(error = %e, "a report's file name"),
            }
            response
        }
    };
    private(response)
}

//! An admin's report over HTTP (`GET /reports`, with the session cookie the page carries):
//! the report, or why not in the reader's language.

use crate::protocol::{AgentSession, Problem, Report};
use crate::text::Lang;

/// The report at `url` (a [`crate::protocol::report_url`] in JSON), or the sentence to show.
pub async fn fetch(url: String, lang: Lang) -> Result<Report, String> {
    let response = gloo_net::http::Request::get(&url).send().await.map_err(|e| {
        leptos::logging::warn!("fetching a report: {e}");
        lang.ui().cannot_reach_server.to_owned()
    })?;
    if response.ok() {
        return response.json::<Report>().await.map_err(|e| {
            leptos::logging::warn!("reading a report: {e}");
            Problem::Internal.in_lang(lang)
        });
    }
    // A refusal names its problem; anything else (a 404 for someone who is no admin any
    // more, a proxy's page) is the server's.
    match response.json::<AgentSession>().await {
        Ok(AgentSession::Refused { problem: Some(problem), .. }) => Err(problem.in_lang(lang)),
        _ => Err(Problem::Internal.in_lang(lang)),
    }
}

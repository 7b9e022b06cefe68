//! An admin's report over HTTP (`GET /reports`, with the session cookie the page carries):
//! the report, or why not in the reader's language.

use crate::protocol::Report;
use crate::text::Lang;

/// The report at `url` (a [`crate::protocol::report_url`] in JSON), or the sentence to show.
pub async fn fetch(url: String, lang: Lang) -> Result<Report, String> {
    super::console::get(&url, lang).await
}

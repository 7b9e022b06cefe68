//! Transcripts over HTTP: `GET /conversations/{id}/transcript?format=text|html&lang=…&offset=…`
//! downloads a conversation as a file, for its customer (their session token as
//! `Authorization: Bearer`) and for every agent who sees it (their cookie).
//!
//! Owns: reading the whole conversation and answering with the file. Who may have it is
//! the hub's one rule ([`crate::hub::Hub::seen_by`]); every refusal is the same 404, whether
//! the conversation, the session or the right to see it is missing.
//! Must not: lay out the document ([`crate::transcript`] does).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::desk::internal;
use super::requester::reader;
use super::shared::Shared;
use crate::clock::now_ms;
use crate::transcript::{Format, Transcript};
use app::protocol::{ConversationId, Problem, TRANSCRIPT_PATH};
use app::text::Lang;

/// Messages read at a time.
const PAGE: u32 = 1000;

/// The most messages a transcript holds (the first ones; the document says it stops
/// there): a transcript is built whole in memory, and a customer can make their own
/// conversation long.
const MAX_MESSAGES: usize = 10_000;

/// Transcripts built at once, on the whole server; others wait their turn.
static BUILDING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new().route(TRANSCRIPT_PATH, get(download)).with_state(shared)
}

#[derive(Deserialize)]
struct TranscriptQuery {
    format: Format,
    /// The reader's language tag (`en`, `zh-CN`); English otherwise.
    #[serde(default)]
    lang: String,
    /// The reader's offset from UTC in minutes east; UTC otherwise.
    #[serde(default)]
    offset: i32,
}

async fn download(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    Query(query): Query<TranscriptQuery>,
) -> Response {
    match transcript(&shared, &headers, ConversationId(id), &query).await {
        Ok(response) => response,
        Err(Problem::Internal) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        // An API token past its rate is told when to come back, not that nothing is there.
        Err(problem @ Problem::SlowDown(_)) => super::http::refused(problem),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn transcript(
    shared: &Shared,
    headers: &HeaderMap,
    id: ConversationId,
    query: &TranscriptQuery,
) -> Result<Response, Problem> {
    let requester = reader(shared, headers).await?;
    // Learnt from storage if the hub had let go of it; then the one rule.
    shared.desk.learn(id).await;
    let (customer, status) = {
        let live = shared.desk.live();
        let meta = live.hub.seen_by(&requester.who, requester.admin, id)?;
        (meta.customer_name.clone(), meta.status)
    };
    let _turn = BUILDING.acquire().await.map_err(|e| {
        tracing::error!(error = %e, "waiting to build a transcript");
        Problem::Internal
    })?;
    let mut messages = Vec::new();
    loop {
        let after = messages.last().map_or(0, |m: &crate::model::StoredMessage| m.seq);
        let page = shared
            .desk
            .store
            .messages_after(id, after, PAGE)
            .await
            .map_err(internal("reading a conversation for its transcript"))?;
        let full = page.len() == PAGE as usize;
        messages.extend(page);
        // One more than it holds: then it is known to go on.
        if !full || messages.len() > MAX_MESSAGES {
            break;
        }
    }
    let cut = messages.len() > MAX_MESSAGES;
    messages.truncate(MAX_MESSAGES);
    let lang = Lang::of_tag(&query.lang).unwrap_or_default();
    let document = Transcript {
        id,
        customer: &customer,
        status,
        messages: &messages,
        lang,
        offset_min: query.offset,
        now: now_ms(),
        cut,
    }
    .render(query.format);
    let (media, extension) = query.format.media();
    let disposition = format!("attachment; filename=\"conversation-{}.{extension}\"", id.0);
    let mut response = document.into_response();
    let set = response.headers_mut();
    set.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    // Made of a number and a fixed extension: always a valid header value.
    match HeaderValue::from_str(&disposition) {
        Ok(value) => {
            set.insert(header::CONTENT_DISPOSITION, value);
        }
        Err(e) => tracing::error!(error = %e, "a transcript's file name"),
    }
    // Never kept in a shared computer's cache.
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    set.insert(header::VARY, HeaderValue::from_static("Cookie, Authorization"));
    Ok(response)
}

//! Files over HTTP: uploads (`POST /attachments`) and downloads (`GET /attachments/{id}`,
//! `…/{id}/thumb`), and the attachments a `private_message` names.
//!
//! Owns: the size limit as the body arrives, storing an upload (its
//! bytes in the blob store, durably, before its record; the customer's rows first if
//! nothing of them was stored yet), the headers a file is served with, and checking that a
//! message's files are its author's uploads for its conversation.
//! Must not: decide who may see a conversation (the hub's [`crate::hub::Hub::seen_by`], the one
//! rule),
//! or look inside a file (see [`crate::attachment`]).
//!
//! Every refusal to fetch a file is the same 404, whether the file, the session or the
//! right to see its conversation is missing.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::desk::internal;
use super::requester::{reader, requester, seen};
use super::shared::Shared;
use crate::attachment::{self, Prepared};
use crate::auth;
use crate::clock::now_ms;
use crate::model::{AttachmentRecord, Identity, NewMessage};
use app::protocol::{
    self, Attachment, AttachmentId, ConversationId, Problem, UploadRefused, ATTACHMENTS_PATH,
};

/// The routes under [`ATTACHMENTS_PATH`].
/// The longest an upload may take to arrive (10 MB at about 35 KB/s): a client that sends
/// slower holds memory and a place among [`Shared::receiving`] for nothing.
const RECEIVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(300);

pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(ATTACHMENTS_PATH, post(upload))
        .route(&format!("{ATTACHMENTS_PATH}/{{id}}"), get(download))
        .route(&format!("{ATTACHMENTS_PATH}/{{id}}/thumb"), get(thumbnail))
        // The size limit is checked as the body is read (with its own refusal).
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    name: String,
    /// Agents: the conversation the file is for (a customer's is their own).
    conversation: Option<u64>,
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    extensions: Extensions,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> Response {
    match stored_upload(&shared, &headers, &extensions, query, body).await {
        Ok(attachment) => Json(attachment).into_response(),
        Err(problem) => {
            tracing::info!(%problem, "upload refused");
            refused(problem)
        }
    }
}

async fn stored_upload(
    shared: &Shared,
    headers: &HeaderMap,
    extensions: &Extensions,
    query: UploadQuery,
    body: Body,
) -> Result<Attachment, Problem> {
    let requester = requester(shared, headers).await?;
    let conversation = requester
        .own
        .or(query.conversation.map(ConversationId))
        .ok_or(Problem::UnknownConversation)?;
    seen(shared, &requester, conversation).await?;
    let agent = matches!(requester.who, Identity::Agent(_));
    let ip = shared.gate.client_ip(headers, extensions);
    if let Some(wait_s) = shared.gate.upload_limited(ip, agent) {
        return Err(Problem::SlowDown(wait_s));
    }
    let max = shared.attachment_max_bytes;
    let too_large = app::protocol::file_too_large(max);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large);
    }
    let _receiving = shared.receiving.try_acquire().map_err(|_| Problem::SlowDown(1))?;
    let limit = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let whole = tokio::time::timeout(RECEIVE_WITHIN, axum::body::to_bytes(body, limit));
    let bytes: Bytes = whole
        .await
        .map_err(|_| {
            tracing::info!("an upload was too slow to arrive; dropped");
            Problem::NotSaved
        })?
        .map_err(|e| {
            let inner = e.into_inner();
            if inner.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                too_large.clone()
            } else {
                // The connection broke, or the client stopped sending: nothing was kept.
                tracing::info!(error = %inner, "an upload did not arrive whole");
                Problem::NotSaved
            }
        })?;
    let prepared = {
        let _turn = shared.preparing.acquire().await.map_err(|_| Problem::Internal)?;
        tokio::task::spawn_blocking(move || attachment::prepare(&bytes, max)).await.map_err(
            |e| {
                tracing::error!(error = %e, "preparing an upload failed");
                Problem::Internal
            },
        )??
    };
    // The customer's rows exist before anything of theirs refers to them.
    shared.desk.save_unsaved(conversation).await?;
    let id = auth::new_attachment_id().map_err(|e| {
        tracing::error!(error = %e, "cannot make an attachment id");
        Problem::Internal
    })?;
    let Prepared { mime, bytes, image, thumb } = prepared;
    let blobs = shared.desk.store.blobs();
    let size = bytes.len() as u64;
    // The bytes are on the disk before the record that makes them reachable.
    blobs.put(id.as_str(), bytes).await.map_err(internal("storing an upload"))?;
    let thumb = match thumb {
        Some((bytes, size)) => {
            blobs.put(&thumb_key(&id), bytes).await.map_err(internal("storing a thumbnail"))?;
            Some(size)
        }
        None => None,
    };
    let attachment = Attachment {
        id,
        name: protocol::file_name(&query.name),
        mime: mime.to_owned(),
        size,
        image,
        thumb,
    };
    let record = AttachmentRecord {
        attachment: attachment.clone(),
        conversation,
        uploader: requester.who,
        ts: now_ms(),
    };
    shared.desk.store.add_attachment(&record).await.map_err(internal("recording an upload"))?;
    Ok(attachment)
}

/// A refused upload: the status that fits, and the problem with its English sentence.
fn refused(problem: Problem) -> Response {
    let status = match problem {
        Problem::AttachmentTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Problem::AttachmentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Problem::AttachmentEmpty | Problem::ImageUnreadable => StatusCode::UNPROCESSABLE_ENTITY,
        Problem::NotLoggedIn => StatusCode::UNAUTHORIZED,
        Problem::UnknownConversation => StatusCode::NOT_FOUND,
        Problem::SlowDown(_) => StatusCode::TOO_MANY_REQUESTS,
        Problem::Internal | Problem::NotSaved => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = (status, Json(UploadRefused::from(problem.clone()))).into_response();
    if let Problem::SlowDown(s) = problem {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    response
}

/// The blob key of an image's thumbnail.
pub(super) fn thumb_key(id: &AttachmentId) -> String {
    format!("{id}.thumb")
}

async fn download(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    served(&shared, &headers, &id, false).await.unwrap_or_else(not_found)
}

async fn thumbnail(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    served(&shared, &headers, &id, true).await.unwrap_or_else(not_found)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such file").into_response()
}

/// The file (or its thumbnail), if the requester may see its conversation; `None` (a 404)
/// for anything else.
async fn served(shared: &Shared, headers: &HeaderMap, id: &str, thumb: bool) -> Option<Response> {
    let id = AttachmentId::parse(id).ok()?;
    let requester = match reader(shared, headers).await {
        Ok(requester) => requester,
        // An API token past its rate is told when to come back, not that the file is gone.
        Err(problem @ Problem::SlowDown(_)) => return Some(super::http::refused(problem)),
        Err(_) => return None,
    };
    let records = shared.desk.store.attachments(std::slice::from_ref(&id)).await;
    let record = records
        .map_err(|e| tracing::error!(error = %e, "reading an attachment failed"))
        .ok()?
        .pop()?;
    seen(shared, &requester, record.conversation).await.ok()?;
    let a = &record.attachment;
    let etag = format!("\"{}{}\"", a.id, if thumb { ".thumb" } else { "" });
    let mut response =
        if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let key = if thumb { a.thumb.map(|_| thumb_key(&a.id))? } else { a.id.to_string() };
            let bytes = shared.desk.store.blobs().get(&key).await;
            let bytes =
                bytes.map_err(|e| tracing::error!(error = %e, "reading a blob failed")).ok()?;
            let Some(bytes) = bytes else {
                tracing::error!(key, "an attachment's blob is missing");
                return None;
            };
            bytes.into_response()
        };
    let mime = if thumb { Prepared::thumb_mime(&a.mime) } else { a.mime.as_str() };
    // Images are shown; anything else is only ever downloaded, never rendered.
    let disposition = if a.image.is_some() { "inline" } else { "attachment" };
    let set = response.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).ok();
    set.insert(header::CONTENT_TYPE, value(mime)?);
    set.insert(
        header::CONTENT_DISPOSITION,
        value(&format!("{disposition}; filename*=UTF-8''{}", percent(&a.name)))?,
    );
    set.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Its own document (opened in a tab, say) may run nothing and load nothing.
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    // Never written to the browser's cache (`no-cache` would still keep it on disk, only
    // asking before reuse): a logout leaves nothing of it on a shared computer. The page
    // holds what it shows for as long as it is open; the ETag still answers a
    // conditional request (a 304, after the same check).
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    set.insert(header::ETAG, value(&etag)?);
    set.insert(header::VARY, HeaderValue::from_static("Cookie, Authorization"));
    Some(response)
}

/// A file name for `filename*=UTF-8''…` (RFC 8187): every byte but unreserved ones encoded.
fn percent(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The files a message names, as it will carry them: each must be an upload of its
/// author's for its conversation (anything else is `UnknownAttachment`, the same whether
/// the id does not exist or is someone else's). Named twice is kept once.
pub(super) async fn attach(
    shared: &Shared,
    message: &mut NewMessage,
    ids: &[AttachmentId],
) -> Result<(), Problem> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut unique: Vec<AttachmentId> = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(id.clone());
        }
    }
    let records =
        shared.desk.store.attachments(&unique).await.map_err(internal("reading attachments"))?;
    let mut attachments = Vec::with_capacity(unique.len());
    for id in &unique {
        let record =
            records.iter().find(|r| &r.attachment.id == id).ok_or(Problem::UnknownAttachment)?;
        if record.conversation != message.conversation || record.uploader != message.author {
            return Err(Problem::UnknownAttachment);
        }
        attachments.push(record.attachment.clone());
    }
    message.attachments = attachments;
    Ok(())
}

//! Who sent an HTTP request, by the session it carried: the agent's session cookie, a
//! customer's session token as `Authorization: Bearer`, or a REST API token (`lct_…`, also
//! as `Bearer`, counted against its rate); and whether they see a conversation, by the hub's
//! one rule ([`crate::hub::Hub::seen_by`]). For the routes that serve a conversation's files
//! and transcripts, the REST API, and the console's admin-only routes ([`admin_name`]: the
//! same 404 for anyone else as for a path that does not exist; [`private`]: answers nobody
//! may keep a copy of).
//! Must not: word a refusal (each route refuses in its own way, saying no more than "no such
//! thing").

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::desk::internal;
use super::shared::Shared;
use crate::auth;
use crate::clock::now_ms;
use crate::model::Identity;
use crate::store::SessionOwner;
use app::protocol::{ApiTokenInfo, ConversationId, Problem, UserName, API_TOKEN_PREFIX};

/// Who sent a request, by the session or REST API token it carried.
pub(super) struct Requester {
    pub who: Identity,
    pub admin: bool,
    /// A customer's own conversation.
    pub own: Option<ConversationId>,
    /// An agent's account name, as the team shows it.
    pub name: Option<UserName>,
}

/// The token a request carries as `Authorization: Bearer`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The session a request carried: a customer's token as `Authorization: Bearer` (their
/// page holds it; no cookie), or an agent's cookie (from the chat's own pages). A token of
/// the other kind, either way, is no session here; each is checked against its own kind's
/// idle limit, so a lapsed agent session is not brought back by presenting it as a bearer.
pub(super) async fn requester(shared: &Shared, headers: &HeaderMap) -> Result<Requester, Problem> {
    let (token, customer) = match bearer(headers).map(str::to_owned) {
        Some(token) => (token, true),
        None => (
            super::cookie::socket_token(headers, shared.gate.trusts_proxy())
                .ok_or(Problem::NotLoggedIn)?,
            false,
        ),
    };
    let hash = auth::token_hash(&token).ok_or(Problem::NotLoggedIn)?;
    if customer {
        // A customer who has not written is known to the hub only.
        if let Some(meta) = shared.desk.live().hub.unsaved_login(&hash) {
            let who = Identity::Customer(meta.customer);
            return Ok(Requester { who, admin: false, own: Some(meta.id), name: None });
        }
    }
    let owner = shared
        .desk
        .store
        .resume(&hash, now_ms(), auth::SESSION_IDLE)
        .await
        .map_err(internal("resuming a session for a file"))?;
    match owner {
        Some(SessionOwner::Customer { id, conversation, .. }) if customer => Ok(Requester {
            who: Identity::Customer(id),
            admin: false,
            own: Some(conversation.id),
            name: None,
        }),
        Some(SessionOwner::Agent(record)) if !customer => Ok(Requester {
            who: Identity::Agent(crate::model::AgentKey::of(&record.name)),
            admin: record.admin,
            own: None,
            name: Some(record.name),
        }),
        _ => Err(Problem::NotLoggedIn),
    }
}

/// Who asks to read a conversation's file or transcript: a session ([`requester`]), or a
/// REST API token, which sees every conversation as an admin does.
pub(super) async fn reader(shared: &Shared, headers: &HeaderMap) -> Result<Requester, Problem> {
    match bearer(headers).filter(|t| t.starts_with(API_TOKEN_PREFIX)) {
        Some(token) => match api_token(shared, token).await {
            Ok((requester, _)) => Ok(requester),
            // An API token that does not work is no session either.
            Err(Problem::ApiTokenInvalid) => Err(Problem::NotLoggedIn),
            Err(problem) => Err(problem),
        },
        None => requester(shared, headers).await,
    }
}

/// Who a REST API request comes from: the token it carried as `Authorization: Bearer`, and
/// what that token may do. Without one, or with one that is unknown or revoked,
/// `ApiTokenInvalid`.
pub(super) async fn api_requester(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<(Requester, ApiTokenInfo), Problem> {
    let token = bearer(headers)
        .filter(|t| t.starts_with(API_TOKEN_PREFIX))
        .ok_or(Problem::ApiTokenInvalid)?;
    api_token(shared, token).await
}

/// The REST API token `token` (with its prefix), if it exists.
async fn api_token(shared: &Shared, token: &str) -> Result<(Requester, ApiTokenInfo), Problem> {
    let hash = auth::token_hash(token).ok_or(Problem::ApiTokenInvalid)?;
    let info = shared
        .desk
        .store
        .use_api_token(&hash, now_ms())
        .await
        .map_err(internal("reading an API token"))?
        .ok_or(Problem::ApiTokenInvalid)?;
    if let Some(wait_s) = shared.gate.api_limited(info.id) {
        return Err(Problem::SlowDown(wait_s));
    }
    let who = Identity::Agent(crate::model::AgentKey::token(info.id));
    Ok((Requester { who, admin: true, own: None, name: None }, info))
}

/// The conversation `id`, if the requester sees it (learnt from storage if the hub had let
/// go of it).
pub(super) async fn seen(
    shared: &Shared,
    requester: &Requester,
    id: ConversationId,
) -> Result<(), Problem> {
    shared.desk.learn(id).await;
    shared.desk.live().hub.seen_by(&requester.who, requester.admin, id).map(|_| ())
}

/// The name of the admin behind the request's cookie session, for the console's requests
/// only admins make; anyone else (no session, an agent, a customer, a token) gets the same
/// 404 as a path that does not exist.
pub(super) async fn admin_name(shared: &Shared, headers: &HeaderMap) -> Result<UserName, Response> {
    match requester(shared, headers).await {
        // The name as the team shows it (the session's account), for "made by".
        Ok(Requester { admin: true, name: Some(name), .. }) => Ok(name),
        Err(Problem::Internal) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        _ => Err(StatusCode::NOT_FOUND.into_response()),
    }
}

/// Answers that no copy of it may be kept (a new token's secret, above all).
pub(super) fn private(mut response: Response) -> Response {
    let set = response.headers_mut();
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    set.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// An admin's `DELETE …/{id}` of something of the console's (a token, a webhook): the admin
/// check first (nobody else learns anything of the path, not even that an id is a number),
/// then `remove`, which `doing` names in the log (with the id and the admin). 204, or the 404
/// of anything.
pub(super) async fn remove_by_id<F>(
    shared: &Shared,
    headers: &HeaderMap,
    id: Result<axum::extract::Path<u64>, axum::extract::rejection::PathRejection>,
    doing: &'static str,
    remove: impl FnOnce(u64) -> F,
) -> Response
where
    F: std::future::Future<Output = Result<(), crate::store::StoreError>>,
{
    let by = match admin_name(shared, headers).await {
        Ok(by) => by,
        Err(refusal) => return refusal,
    };
    let Ok(axum::extract::Path(id)) = id else { return StatusCode::NOT_FOUND.into_response() };
    match remove(id).await {
        Ok(()) => {
            tracing::info!(id, by = %by, "{doing}: done");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(crate::store::StoreError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => super::http::refused(internal(doing)(e)),
    }
}

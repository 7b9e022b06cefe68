//! Who sent an HTTP request, by the session it carried: the agent's session cookie, or a
//! customer's session token as `Authorization: Bearer`; and whether they see a
//! conversation, by the hub's one rule ([`crate::hub::Hub::seen_by`]). For the routes that
//! serve a conversation's files and transcripts.
//! Must not: word a refusal (each route refuses in its own way, saying no more than "no such
//! thing").

use axum::http::header::{self, HeaderMap};

use super::desk::internal;
use super::shared::Shared;
use crate::auth;
use crate::clock::now_ms;
use crate::model::Identity;
use crate::store::SessionOwner;
use app::protocol::{ConversationId, Problem};

/// Who sent a request, by the session it carried.
pub(super) struct Requester {
    pub who: Identity,
    pub admin: bool,
    /// A customer's own conversation.
    pub own: Option<ConversationId>,
}

/// The session a request carried: a customer's token as `Authorization: Bearer` (their
/// page holds it; no cookie), or an agent's cookie (from the chat's own pages). A token of
/// the other kind, either way, is no session here; each is checked against its own kind's
/// idle limit, so a lapsed agent session is not brought back by presenting it as a bearer.
pub(super) async fn requester(shared: &Shared, headers: &HeaderMap) -> Result<Requester, Problem> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let (token, customer) = match bearer {
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
            return Ok(Requester { who, admin: false, own: Some(meta.id) });
        }
    }
    let owner = shared
        .desk
        .store
        .resume(&hash, now_ms(), auth::SESSION_IDLE)
        .await
        .map_err(internal("resuming a session for a file"))?;
    match owner {
        Some(SessionOwner::Customer { id, conversation, .. }) if customer => {
            Ok(Requester { who: Identity::Customer(id), admin: false, own: Some(conversation.id) })
        }
        Some(SessionOwner::Agent(record)) if !customer => Ok(Requester {
            who: Identity::Agent(crate::model::AgentKey::of(&record.name)),
            admin: record.admin,
            own: None,
        }),
        _ => Err(Problem::NotLoggedIn),
    }
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

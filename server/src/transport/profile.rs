//! The profile of a conversation's customer, for the agents who see the conversation: what
//! storage keeps of them, their other conversations (by e-mail address) that this agent
//! sees, and the changes an agent makes (the address, the note on them).
//!
//! Owns: `profile` and `profile_set`. Who may read or change a profile is the hub's one
//! rule about the conversation ([`crate::hub::Hub::customer_for_agent`]), asked before the
//! profile is read or the change checked (the hub learns the conversation from storage
//! first if an agent asks about one it does not hold, as for every request); its other
//! conversations each pass [`crate::hub::Hub::found`].
//! Must not: hold the live state's lock across the store's `await`, or word anything.

use std::sync::Arc;

use socketioxide::extract::State;

use super::desk::internal;
use super::payload::Payload;
use super::shared::Shared;
use super::turnstile::Turn;
use crate::clock::now_ms;
use crate::hub::ConnId;
use app::protocol::{
    ConversationId, ConversationRef, CustomerProfile, OtherConversation, Problem, ProfileUpdate,
    ServerEvent, OTHER_CONVERSATIONS_MAX,
};

/// `profile`: the profile of a conversation's customer, or an `error`.
pub(super) async fn on_profile(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<ConversationRef>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let profile = async {
        let id = payload?.conversation;
        shared.desk.recall(conn, id).await;
        read(&shared, conn, id).await
    };
    answer(&shared, conn, profile.await);
}

/// `profile_set`: an agent changes a customer's e-mail address or the note on them; answered
/// with the profile as it now stands, or an `error`.
pub(super) async fn on_profile_set(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<ProfileUpdate>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let profile = async {
        let update = payload?;
        shared.desk.recall(conn, update.conversation).await;
        let (customer, by) = {
            let live = shared.desk.live();
            let (by, meta) = live.hub.customer_for_agent(conn, update.conversation)?;
            (meta.customer, by)
        };
        let change = update.check()?;
        // A customer who has not written is stored now (with what their browser said): what
        // an agent notes on them is kept as their messages would be.
        shared.desk.save_unsaved(update.conversation).await?;
        shared
            .desk
            .store
            .change_profile(customer, &change, &by, now_ms())
            .await
            .map_err(internal("changing a customer's profile"))?;
        read(&shared, conn, update.conversation).await
    };
    answer(&shared, conn, profile.await);
}

/// Sends a profile, or the refusal.
fn answer(shared: &Shared, conn: ConnId, profile: Result<CustomerProfile, Problem>) {
    match profile {
        Ok(profile) => shared.desk.live().emit(conn, &ServerEvent::Profile(Box::new(profile))),
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

/// The profile of conversation `id`'s customer, as the agent on `conn` may see it.
async fn read(
    shared: &Shared,
    conn: ConnId,
    id: ConversationId,
) -> Result<CustomerProfile, Problem> {
    let (customer, name, unsaved) = {
        let live = shared.desk.live();
        let (_, meta) = live.hub.customer_for_agent(conn, id)?;
        (meta.customer, meta.customer_name.clone(), meta.unsaved.clone())
    };
    let record = record(shared, customer, unsaved).await?;
    let store = &shared.desk.store;
    // More than are shown: the hub leaves out those this agent may not see.
    let others = match &record.email {
        Some(email) => store
            .same_email(customer, email, OTHER_CONVERSATIONS_MAX * 5)
            .await
            .map_err(internal("finding a customer's other conversations"))?,
        None => Vec::new(),
    };
    let live = shared.desk.live();
    let others = others
        .iter()
        .filter_map(|(stored, ts)| {
            let meta = live.hub.found(conn, stored)?;
            Some(OtherConversation { summary: meta.summary(), ts: *ts })
        })
        .take(OTHER_CONVERSATIONS_MAX as usize)
        .collect();
    Ok(CustomerProfile {
        conversation: id,
        customer: name,
        email: record.email,
        user_id: record.user_id,
        attributes: record.attributes,
        page: record.page,
        language: record.language,
        time_zone: record.time_zone,
        first_seen: record.first_seen,
        note: record.note,
        others,
    })
}

/// What is kept of a conversation's customer: in storage, or (`unsaved`: nothing of them is
/// stored yet) what their browser said, waiting in the hub.
pub(super) async fn record(
    shared: &Shared,
    customer: crate::model::CustomerId,
    unsaved: Option<Box<crate::model::Unsaved>>,
) -> Result<crate::store::ProfileRecord, Problem> {
    Ok(match unsaved {
        Some(unsaved) => {
            let visit = unsaved.visit.as_deref().cloned().unwrap_or_default();
            crate::store::ProfileRecord {
                email: visit.email,
                page: visit.page,
                language: visit.language,
                time_zone: visit.time_zone,
                first_seen: Some(unsaved.since),
                ..Default::default()
            }
        }
        None => shared
            .desk
            .store
            .profile(customer)
            .await
            .map_err(internal("reading a customer's profile"))?,
    })
}

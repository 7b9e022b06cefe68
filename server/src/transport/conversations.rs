//! The pages of an agent's console after those sent at login: the login's catch-up ends
//! with a `conversations_page` saying where the next page starts (none when every one was
//! listed); `conversations` asks for it, and `conversations_page` answers with the page's
//! summaries and where the one after starts.
//!
//! Owns: turning the request into a page. Storage lists by the same rule as at login; the
//! hub's one rule then judges every conversation listed ([`crate::hub::Hub::found`]).
//! Must not: hold the live state's lock across the store's `await`.

use std::sync::Arc;

use socketioxide::extract::State;

use super::desk::internal;
use super::payload::Payload;
use super::shared::Shared;
use super::turnstile::Turn;
use app::protocol::{
    ConversationSummary, ConversationsCursor, ConversationsPage, ConversationsRequest, Problem,
    ServerEvent, CONVERSATIONS_PAGE,
};

/// `conversations`: the next page of the agent's conversations, or an `error`.
pub(super) async fn on_conversations(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<ConversationsRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let page = async {
        let request = payload?;
        let (agent, admin) = shared.desk.live().hub.searcher(conn)?;
        let before = request.before.map(|c| (c.active, c.id));
        let listed = shared
            .desk
            .store
            .agent_conversations_after(&agent, admin, before, CONVERSATIONS_PAGE)
            .await
            .map_err(internal("listing an agent's conversations"))?;
        let live = shared.desk.live();
        let shown: Vec<(ConversationSummary, u64)> = listed
            .iter()
            .filter_map(|(meta, active)| live.hub.found(conn, meta).map(|m| (m.summary(), *active)))
            .collect();
        // The next page starts after the last one shown (after the storage's last only when
        // the hub left every one out: its position says nothing then).
        let last = shown
            .last()
            .map(|(s, active)| (s.id, *active))
            .or_else(|| listed.last().map(|(m, active)| (m.id, *active)));
        let next = (listed.len() == CONVERSATIONS_PAGE as usize)
            .then_some(last)
            .flatten()
            .map(|(id, active)| ConversationsCursor { active, id });
        let conversations = shown.into_iter().map(|(s, _)| s).collect();
        Ok::<_, Problem>(ConversationsPage { conversations, next })
    };
    match page.await {
        Ok(page) => shared.desk.live().emit(conn, &ServerEvent::ConversationsPage(page)),
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

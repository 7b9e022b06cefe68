//! An agent's search: what storage finds, judged by the hub, worded as the console shows it.
//!
//! Owns: turning a `search` request into a page of [`SearchResults`]. Storage finds among
//! the conversations the agent sees (a restatement of the hub's rule that keeps pages full);
//! the hub's one rule then judges every conversation found ([`crate::hub::Hub::found`]), so a
//! conversation the agent may not see is left out as if nothing in it matched.
//! Must not: word anything for a reader (snippets are marked ranges; the console renders
//! them), or hold the live state's lock across the store's `await`.

use std::sync::Arc;

use socketioxide::extract::State;

use super::desk::internal;
use super::payload::Payload;
use super::shared::Shared;
use super::turnstile::Turn;
use crate::model::ConversationMeta;
use app::protocol::{
    FoundBy, FoundConversation, FoundMessage, Problem, SearchQuery, SearchRequest, SearchResults,
    ServerEvent, Status, UserName, SEARCH_PAGE,
};

/// Who has a conversation, while it is open.
fn assignee(meta: &ConversationMeta) -> Option<UserName> {
    meta.assignee.as_ref().filter(|_| meta.status == Status::Open).map(|a| a.name.clone())
}

/// `search`: a page of what an agent's query finds (`search_results`), or an `error`.
pub(super) async fn on_search(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<SearchRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let results = async {
        let request = payload?;
        // Customers are refused before anything about the query is looked at.
        let (agent, admin) = shared.desk.live().hub.searcher(conn)?;
        let query = SearchQuery::parse(&request.query)?;
        let found = shared
            .desk
            .store
            .search(&query, &agent, admin, request.before, SEARCH_PAGE)
            .await
            .map_err(internal("searching"))?;
        let live = shared.desk.live();
        let messages: Vec<FoundMessage> = found
            .messages
            .iter()
            .filter_map(|(stored, m)| {
                let meta = live.hub.found(conn, stored)?;
                Some(FoundMessage {
                    id: m.id,
                    conversation: m.conversation,
                    seq: m.seq,
                    customer: meta.customer_name.clone(),
                    status: meta.status,
                    assignee: assignee(meta),
                    from: m.from.clone(),
                    ts: m.ts,
                    snippet: query.snippet(&m.text),
                })
            })
            .collect();
        let conversations = found
            .conversations
            .iter()
            .filter_map(|c| {
                let meta = live.hub.found(conn, &c.meta)?;
                let name = meta.customer_name.as_str();
                let (by, shown) = if query.number() == Some(meta.id.0) {
                    (FoundBy::Number, format!("#{}", meta.id.0))
                } else if query.matches(name) {
                    (FoundBy::Name, name.to_owned())
                } else {
                    (FoundBy::UserId, c.external.clone()?)
                };
                Some(FoundConversation {
                    conversation: meta.id,
                    customer: meta.customer_name.clone(),
                    status: meta.status,
                    assignee: assignee(meta),
                    ts: c.updated_at,
                    by,
                    snippet: query.snippet(&shown),
                })
            })
            .collect();
        Ok::<_, Problem>(SearchResults {
            query: request.query,
            before: request.before,
            conversations,
            // The next page starts after the last message shown, not after one the hub
            // left out (its id says nothing of a conversation the agent may not see); after
            // the storage's last only when every one was left out.
            next: found.next.map(|last| messages.last().map_or(last, |m| m.id)),
            messages,
        })
    };
    match results.await {
        Ok(results) => shared.desk.live().emit(conn, &ServerEvent::SearchResults(results)),
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

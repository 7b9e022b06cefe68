//! The Socket.IO namespace `/`: the registration table ([`attach`]) and one thin handler
//! per event. Each handler waits for its connection's turn (events of one connection are
//! served in the order sent), reads its payload ([`Payload`]) and hands the work to the
//! part that owns it: [`login`](super::login), the [`pipeline`](super::pipeline) for
//! messages, the [`desk`](super::desk) for everything the hub decides, [`admin`](super::admin).
//!
//! Handlers are registered in a connect *middleware*, which socketioxide awaits before it
//! acknowledges the namespace connection; registering them in the connect handler (the
//! pattern of socketioxide's examples) loses events a fast client sends right after the
//! acknowledgement, such as the tutorial's `login` (see docs/traps.md).

use std::sync::Arc;

use socketioxide::extract::{AckSender, Event, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;

use super::admin::{self, AddAgent, RemoveAgent, RemoveCanned, SetCanned};
use super::conversations;
use super::cookie;
use super::desk::internal;
use super::files;
use super::in_place::InPlace;
use super::live::Item;
use super::login::{self, SessionHash};
use super::payload::Payload;
use super::pipeline::{self, Answer, Job};
use super::profile;
use super::rating;
use super::search;
use super::shared::Shared;
use super::turnstile::{ConnInfo, Turn};
use crate::clock::now_ms;
use crate::hub::{Command, ConnId};
use crate::model::{ConversationMeta, Identity};
use app::protocol::{
    self, AgentRef, AwayRequest, CannedRef, CannedReply, ConversationId, ConversationRef, History,
    HistoryRequest, LoginPayload, MessageText, NewAgent, NoteAck, NoteRequest, PrivateMessage,
    Problem, ReadUpTo, ServerEvent, StatusRequest, Transfer, TypingRequest,
};

/// Installs the namespace `/` on `io`.
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(attach));
}

/// Connect middleware: registers the connection with the hub and every event handler,
/// before the client is told it joined; refuses an address with too many connections.
async fn attach(s: SocketRef, State(shared): State<Arc<Shared>>) -> Result<(), Problem> {
    let ip = shared.gate.client_ip(&s.req_parts().headers, &s.req_parts().extensions);
    shared.gate.may_connect(ip)?;
    let conn = shared.new_conn();
    s.extensions.insert(ConnInfo::new(conn, ip, shared.gate.limits().events));
    shared.desk.live().attach(conn, s.clone());
    if let (Err(problem), _) = shared.desk.apply_one(Item::Hub(Command::Connect(conn))).await {
        // Unknown to the hub (the cluster could not take it), it could never log in.
        shared.desk.live().detach(conn);
        shared.gate.disconnected(ip);
        return Err(problem);
    }
    s.on(protocol::LOGIN, on_login);
    // The one event of the message path: planned and queued in place when nothing waits.
    s.on(protocol::PRIVATE_MESSAGE, InPlace(on_private_message));
    s.on(protocol::HISTORY, on_history);
    s.on(protocol::LOGOUT, on_logout);
    s.on(protocol::TAKE, on_take);
    s.on(protocol::RESOLVE, on_resolve);
    s.on(protocol::TRANSFER, on_transfer);
    s.on(protocol::TYPING, on_typing);
    s.on(protocol::NOTE, on_note);
    s.on(protocol::READ, on_read);
    s.on(protocol::AWAY, on_away);
    s.on(protocol::STATUS, on_status);
    s.on(protocol::AGENT_ADD, on_agent_add);
    s.on(protocol::AGENT_REMOVE, on_agent_remove);
    s.on(protocol::CANNED_SET, on_canned_set);
    s.on(protocol::CANNED_REMOVE, on_canned_remove);
    s.on(protocol::SEARCH, search::on_search);
    s.on(protocol::CONVERSATIONS, conversations::on_conversations);
    s.on(protocol::PROFILE, profile::on_profile);
    s.on(protocol::PROFILE_SET, profile::on_profile_set);
    s.on(protocol::RATE, rating::on_rate);
    s.on(protocol::DESK_SETTINGS, rating::on_desk_settings);
    s.on_fallback(on_unknown);
    s.on_disconnect(on_disconnect);
    Ok(())
}

async fn on_connect(s: SocketRef) {
    tracing::debug!(sid = %s.id, transport = ?s.transport_type(), "connected");
}

/// An event no handler is registered for.
async fn on_unknown(turn: Turn, State(shared): State<Arc<Shared>>, Event(event): Event) {
    let _served = turn.ticket.wait().await;
    let shown: String = event.chars().take(protocol::NAME_MAX_CHARS).collect();
    shared.desk.refuse(turn.info.conn, Problem::UnknownEvent(shown));
}

async fn on_login(
    s: SocketRef,
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<LoginPayload>,
) {
    let _served = turn.ticket.wait().await;
    let cookie = cookie::socket_token(&s.req_parts().headers, shared.gate.trusts_proxy());
    // The socket carries its session from the moment the hub logs it in (`Live::apply`).
    let _outcome = login::log_in(&shared, turn.info.conn, turn.info.ip, payload, cookie).await;
}

/// A message: planned by the hub, then stored, delivered and acknowledged by the pipeline
/// (this handler ends once the message is queued: nothing waits here for the commit). Run
/// in place by the socket's reader, in a task only when it has to wait ([`InPlace`]).
async fn on_private_message(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<PrivateMessage>,
) {
    let served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let answer = Answer::new(conn, ack, shared.drain.sending());
    let planned = match payload {
        Err(problem) => Err(problem),
        Ok(request) => {
            let agent = matches!(shared.desk.live().hub.identity(conn), Some(Identity::Agent(_)));
            match shared.gate.message_limited(&turn.info, agent) {
                Some(wait_s) => Err(Problem::SlowDown(wait_s)),
                None => {
                    if let Some(id) = request.conversation {
                        shared.desk.recall(conn, id).await;
                    }
                    let files = request.attachments.clone();
                    let planned = shared.desk.live().hub.plan(conn, request, now_ms());
                    match planned {
                        Ok(mut message) => {
                            files::attach(&shared, &mut message, &files).await.map(|()| message)
                        }
                        Err(problem) => Err(problem),
                    }
                }
            }
        }
    };
    match planned {
        Err(problem) => answer.give(&shared.desk, Err(problem)),
        Ok(message) => {
            let joins = message.joins.clone();
            // Queued while this connection's turn is held, so its messages are stored in
            // the order sent; the next one may be planned while this one is committed.
            // A job the pipeline cannot take (it is gone) is refused here.
            if let Err(Job::Send { answer, .. }) =
                shared.queue(Job::Send { message, joins, answer }).await
            {
                answer.give(&shared.desk, Err(Problem::Internal));
            }
            drop(served);
        }
    }
}

/// A page of a conversation the connection may read: the older messages before `before`, or
/// the rest of a catch-up after `after` (one of the two).
async fn on_history(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<HistoryRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let page = async {
        let request = payload?;
        shared.desk.recall(conn, request.conversation).await;
        let (viewer, customer) = shared.desk.live().hub.readable(conn, request.conversation)?;
        let id = request.conversation;
        let page = match (request.before, request.after) {
            (Some(before), None) => {
                let page = shared
                    .desk
                    .store
                    .messages_before(id, Some(before), protocol::HISTORY_PAGE)
                    .await;
                page.map(pipeline::Page::from)
            }
            (None, Some(after)) => pipeline::page_after(&shared.desk, id, after).await,
            _ => return Err(Problem::Malformed(protocol::HISTORY.into())),
        }
        .map_err(internal("reading history"))?;
        if let Some(last) = request.after.and(page.messages.last()) {
            // Sent: a live message at or below it is not sent again.
            shared.desk.live().cover(conn, id, last.seq);
        }
        let messages = page.messages.iter().map(|m| m.to_wire(&customer, &viewer)).collect();
        let (more, newer) = (page.more, page.newer);
        Ok(History {
            conversation: id,
            customer,
            messages,
            more,
            notes: vec![],
            ratings: vec![],
            read: 0,
            newer,
        })
    };
    match page.await {
        Ok(page) => shared.desk.live().emit(conn, &ServerEvent::History(page)),
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

/// Ends the session on purpose: its token stops working, this connection closes, and so
/// does every other connection logged in with it (other tabs, other nodes), told why.
async fn on_logout(s: SocketRef, turn: Turn, State(shared): State<Arc<Shared>>) {
    let served = turn.ticket.wait().await;
    // Taken off this socket first: it closes quietly, the others are told.
    if let Some(SessionHash(hash)) = s.extensions.remove::<SessionHash>() {
        // A customer nothing is stored of yet: their token stops resuming from the live
        // state first (a first write racing this stores no session, or revokes the one it
        // stored), then from storage. (`EndSession` tells the hub again, for the logouts
        // over HTTP: the second time changes nothing.)
        shared.desk.apply_quietly(Item::Hub(Command::SessionEnded(hash.clone()))).await;
        if let Err(e) = shared.desk.store.revoke(&hash).await {
            tracing::error!(error = %e, "revoking a session failed");
        }
        shared.desk.apply_quietly(Item::EndSession(hash)).await;
    }
    // The disconnect handler waits for this turn.
    drop(served);
    if let Err(e) = s.disconnect() {
        tracing::debug!(error = %e, "closing a logged-out socket");
    }
}

async fn on_disconnect(turn: Turn, State(shared): State<Arc<Shared>>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    shared.gate.disconnected(turn.info.ip);
    let agent = {
        let mut live = shared.desk.live();
        live.detach(conn);
        matches!(live.hub.identity(conn), Some(Identity::Agent(_)))
    };
    if agent && !shared.agent_grace.is_zero() {
        // An agent's reload must not look like leaving and coming back to every customer
        // and to the queue: the connection counts as present a little longer, and a new one
        // of the same agent meanwhile takes over without anyone noticing.
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(shared.agent_grace).await;
            gone(&shared, conn).await;
        });
    } else {
        gone(&shared, conn).await;
    }
}

/// The connection is gone for good.
async fn gone(shared: &Shared, conn: ConnId) {
    let (_, changed) = shared.desk.apply_one(Item::Hub(Command::Disconnect(conn))).await;
    shared.desk.keep(changed).await;
    tracing::debug!(conn = conn.0, online = shared.desk.live().hub.online(), "disconnected");
}

/// Runs a take, resolve, read or transfer for `conn`, then stores what changed. Returns
/// the conversation as it now stands, if the command was done.
async fn change(
    shared: &Shared,
    conn: ConnId,
    conversation: ConversationId,
    command: Command,
) -> Option<ConversationMeta> {
    shared.desk.recall(conn, conversation).await;
    let (outcome, changed) = shared.desk.apply_one(Item::Hub(command)).await;
    tracing::debug!(conn = conn.0, conversation = conversation.0, ?outcome, "conversation change");
    let now = changed.iter().find(|m| m.id == conversation).cloned();
    shared.desk.keep(changed).await;
    now.filter(|_| outcome.is_ok())
}

async fn on_take(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<ConversationRef>,
) {
    by_ref(turn, &shared, payload, |conn, conversation| Command::Take { conn, conversation }).await;
}

async fn on_resolve(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<ConversationRef>,
) {
    by_ref(turn, &shared, payload, |conn, conversation| Command::Resolve { conn, conversation })
        .await;
}

/// A desk action that names only a conversation (`take`, `resolve`).
async fn by_ref(
    turn: Turn,
    shared: &Shared,
    payload: Result<ConversationRef, Problem>,
    command: fn(ConnId, ConversationId) -> Command,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(ConversationRef { conversation }) => {
            change(shared, conn, conversation, command(conn, conversation)).await;
        }
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

async fn on_transfer(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<Transfer>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let to = async {
        let Transfer { conversation, to, note } = payload?;
        // Only an agent learns whether an account exists.
        shared.desk.live().hub.agent(conn)?;
        // Any agent account, online or not: an offline one finds it at their next login.
        Ok((conversation, shared.desk.account(&to).await?, note))
    };
    match to.await {
        // The agent it went to gets its newest page (an effect of the transfer, on every node).
        Ok((conversation, to, note)) => {
            change(&shared, conn, conversation, Command::Transfer { conn, conversation, to, note })
                .await;
        }
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

async fn on_typing(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<TypingRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(TypingRequest { conversation }) => {
            // An agent typing in a conversation the hub forgot (idle a while) reads it back.
            if let Some(id) = conversation {
                shared.desk.recall(conn, id).await;
            }
            shared
                .desk
                .apply_quietly(Item::Hub(Command::Typing { conn, conversation, now_ms: now_ms() }))
                .await;
        }
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

/// An internal note: checked by the hub, stored, then sent to every agent online.
async fn on_note(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<NoteRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let stored = async {
        let NoteRequest { conversation, text } = payload?;
        let text = MessageText::parse(&text)?;
        shared.desk.recall(conn, conversation).await;
        let (key, name) = shared.desk.live().hub.note_author(conn, conversation)?;
        shared.desk.save_unsaved(conversation).await?;
        shared.desk.store.add_note(conversation, &key, &name, &text, now_ms()).await.map_err(|e| {
            tracing::error!(error = %e, "storing a note failed");
            Problem::NotSaved
        })
    };
    let reply = match stored.await {
        Ok(note) => {
            let id = note.id;
            shared.desk.apply_quietly(Item::Hub(Command::Noted(note))).await;
            NoteAck::stored(id)
        }
        Err(problem) => {
            shared.desk.refuse(conn, problem.clone());
            NoteAck::failed(problem)
        }
    };
    if let Err(e) = ack.send(&reply) {
        tracing::debug!(conn = conn.0, error = %e, "note ack");
    }
}

async fn on_read(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<ReadUpTo>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(ReadUpTo { conversation, seq }) => {
            change(&shared, conn, conversation, Command::Read { conn, conversation, seq }).await;
        }
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

async fn on_away(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<AwayRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(AwayRequest { away }) => {
            let (_, changed) = shared.desk.apply_one(Item::Hub(Command::Away { conn, away })).await;
            shared.desk.keep(changed).await;
        }
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

async fn on_status(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    Payload(payload): Payload<StatusRequest>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(StatusRequest { status }) => {
            let command = Command::SetStatus { conn, status };
            let (_, changed) = shared.desk.apply_one(Item::Hub(command)).await;
            shared.desk.keep(changed).await;
        }
        Err(problem) => shared.desk.refuse(conn, problem),
    }
}

async fn on_agent_add(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<NewAgent>,
) {
    let _served = turn.ticket.wait().await;
    admin::as_admin(&shared, turn.info.conn, ack, payload, AddAgent).await;
}

async fn on_agent_remove(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<AgentRef>,
) {
    let _served = turn.ticket.wait().await;
    admin::as_admin(&shared, turn.info.conn, ack, payload, RemoveAgent).await;
}

async fn on_canned_set(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<CannedReply>,
) {
    let _served = turn.ticket.wait().await;
    admin::as_admin(&shared, turn.info.conn, ack, payload, SetCanned).await;
}

async fn on_canned_remove(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    Payload(payload): Payload<CannedRef>,
) {
    let _served = turn.ticket.wait().await;
    admin::as_admin(&shared, turn.info.conn, ack, payload, RemoveCanned).await;
}

//! One connection, from the Engine.IO handshake until it ends (over whichever transport
//! `client/transport.rs` found: a websocket, or long-polling).
//!
//! Owns: the [`Session`] of one connection (what it has sent and is waiting for, its
//! timers and read positions), turning frames into [`ChatState`] updates and commands into
//! frames. Must not: reconnect or wait between attempts (`client/mod.rs` does), or outlive
//! its connection: everything here starts afresh with the next one.
//! The server's side is in this file; what the views ask for, and what is done every second
//! (typing expiry, away, reading, a silent server), in `commands.rs`; what only an agent's
//! console asks for, in `desk.rs`.

mod commands;
#[cfg(feature = "console")]
mod desk;

use std::collections::HashMap;
use std::ops::ControlFlow::{self, Break, Continue};

use futures::channel::mpsc;
use futures::{stream, StreamExt};
use leptos::prelude::*;

use super::transport::{self, Link};
use super::{forget_session, remember_status, save_session, Credentials, End};
use crate::inbox::Outgoing;
use crate::protocol::wire::{EnginePacket, Handshake, SocketPacket};
use crate::protocol::{
    AgentStatus, ClientEvent, ClientMsgId, ConversationId, HistoryRequest, LoginPayload,
    LoginSuccess, Problem, Refusal, ResolvedAt, SendAck, ServerEvent, StatusRequest, AWAY_AFTER_MS,
};
use crate::state::{ChatState, Command, ConnStatus};

pub(crate) use commands::while_offline;

/// What a session waits on: the server, the views, and the clock.
enum Input {
    /// An Engine.IO packet, or why the connection failed (`Err`, or `None`: it ended).
    Frame(Option<Result<String, String>>),
    Command(Command),
    Tick,
}

/// What handling one input leads to: go on with this connection, or end it so.
type Step = ControlFlow<End>;

/// The wall clock, in milliseconds.
fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Whether the page is in a background tab (or minimised).
fn tab_hidden() -> bool {
    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden())
}

/// Encodes an event, with an acknowledgement id when one is given.
fn encode(event: &ClientEvent, ack: Option<u64>) -> Option<String> {
    match serde_json::to_value(event) {
        Ok(data) => {
            let args = if data.is_null() { vec![] } else { vec![data] };
            let packet = SocketPacket::Event { ack, name: event.name().to_owned(), args };
            Some(EnginePacket::Message(packet).encode())
        }
        Err(e) => {
            leptos::logging::error!("could not encode {}: {e}", event.name());
            None
        }
    }
}

/// A refusal worded with the problem the server sent beside it, unless it names its own.
fn with_problem(mut reason: Refusal, problem: Option<Problem>) -> Refusal {
    reason.problem = reason.problem.or(problem);
    reason
}

/// Runs one connection to its end.
pub(crate) async fn run(
    state: ChatState,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    credentials: &mut Option<Credentials>,
    failures: &mut u32,
) -> End {
    let (link, incoming) = match transport::open(state.transport).await {
        Ok(opened) => opened,
        Err(e) => {
            leptos::logging::warn!("cannot reach the server: {e}");
            return End::Lost;
        }
    };
    let frames = incoming.map(|f| Input::Frame(Some(f))).chain(stream::iter([Input::Frame(None)]));
    let ticks = gloo_timers::future::IntervalStream::new(1000).map(|()| Input::Tick);
    let mut inputs =
        stream::select(frames, stream::select(commands.by_ref().map(Input::Command), ticks));
    let mut session = Session::new(link, state, credentials, failures);
    while let Some(input) = inputs.next().await {
        if let Break(end) = session.on_input(input).await {
            return end;
        }
    }
    End::Lost
}

/// One connection: where it writes, and what it remembers between one input and the next.
struct Session<'a> {
    link: Link,
    state: ChatState,
    /// The login to send once joined, kept across connections by the caller.
    credentials: &'a mut Option<Credentials>,
    /// Connection attempts failed in a row, kept by the caller for its backoff.
    failures: &'a mut u32,
    /// When the server was last heard from.
    last_heard: f64,
    /// How long the server may stay silent before the connection counts as lost.
    silence_limit_ms: f64,
    /// Whether the server has let this connection join the namespace.
    joined: bool,
    /// Whether the server has accepted a login on this connection.
    logged_in: bool,
    /// Messages sent on this connection whose acknowledgement has not come yet.
    awaiting: HashMap<u64, ClientMsgId>,
    /// The acknowledgement id last asked for.
    last_ack: u64,
    /// When `typing` was last sent.
    typing_sent: f64,
    /// The read position last sent per conversation.
    read_sent: HashMap<ConversationId, u64>,
    /// Since when the tab has been hidden (agents).
    hidden_since: Option<f64>,
    /// Whether the server was told "away".
    away_sent: bool,
    /// After how long hidden an agent counts as away.
    away_after_ms: f64,
}

impl<'a> Session<'a> {
    /// A session that has not heard from the server yet.
    fn new(
        link: Link,
        state: ChatState,
        credentials: &'a mut Option<Credentials>,
        failures: &'a mut u32,
    ) -> Self {
        Self {
            link,
            state,
            credentials,
            failures,
            last_heard: now_ms(),
            // Until the handshake says otherwise: Socket.IO's default ping interval + timeout.
            silence_limit_ms: 45_000.0,
            joined: false,
            logged_in: false,
            awaiting: HashMap::new(),
            last_ack: 0,
            typing_sent: 0.0,
            read_sent: HashMap::new(),
            hidden_since: None,
            away_sent: false,
            away_after_ms: AWAY_AFTER_MS as f64,
        }
    }

    /// Handles whatever came next: a frame, a command from the views, or the clock.
    async fn on_input(&mut self, input: Input) -> Step {
        match input {
            Input::Frame(frame) => self.on_frame(frame).await,
            Input::Command(command) => self.on_command(command).await,
            Input::Tick => self.on_tick().await,
        }
    }

    // ---- Sending ----

    /// Writes one packet; a failed write ends the connection.
    async fn send(&mut self, packet: String) -> Step {
        if let Err(e) = self.link.send(packet) {
            leptos::logging::warn!("send failed: {e}");
            return Break(End::Lost);
        }
        Continue(())
    }

    /// Writes one Engine.IO packet.
    async fn send_packet(&mut self, packet: EnginePacket) -> Step {
        self.send(packet.encode()).await
    }

    /// Sends an event, asking for an acknowledgement when `ack` is given (skipped, and
    /// logged, if it cannot be encoded).
    async fn emit(&mut self, event: &ClientEvent, ack: Option<u64>) -> Step {
        match encode(event, ack) {
            Some(message) => self.send(message).await,
            None => Continue(()),
        }
    }

    /// Sends an event that wants no acknowledgement.
    async fn send_event(&mut self, event: &ClientEvent) -> Step {
        self.emit(event, None).await
    }

    /// Sends a message from the outbox; its acknowledgement says whether it was stored.
    async fn send_message(&mut self, outgoing: &Outgoing) -> Step {
        self.last_ack += 1;
        self.awaiting.insert(self.last_ack, outgoing.client_id.clone());
        self.emit(&ClientEvent::PrivateMessage(outgoing.request()), Some(self.last_ack)).await
    }

    /// Ends the connection by choice, once what was sent has gone.
    async fn close(&mut self) {
        self.link.close();
    }

    // ---- What the server sends ----

    /// An Engine.IO packet, or the connection's end (`None`, or why it failed).
    async fn on_frame(&mut self, frame: Option<Result<String, String>>) -> Step {
        match frame {
            None => Break(End::Lost),
            Some(Err(e)) => {
                leptos::logging::warn!("connection error: {e}");
                Break(End::Lost)
            }
            Some(Ok(text)) => {
                match EnginePacket::decode(&text) {
                    Ok(packet) => {
                        // Only what it can read shows that the server is there.
                        self.last_heard = now_ms();
                        self.on_packet(packet).await
                    }
                    Err(e) => {
                        leptos::logging::warn!(
                            "ignoring a frame the client cannot read ({e}): {text}"
                        );
                        Continue(())
                    }
                }
            }
        }
    }

    /// One Engine.IO packet (carrying, for `Message`, a Socket.IO packet).
    async fn on_packet(&mut self, packet: EnginePacket) -> Step {
        match packet {
            EnginePacket::Open(handshake) => self.handshake(handshake).await,
            EnginePacket::Ping => self.send_packet(EnginePacket::Pong).await,
            EnginePacket::Pong | EnginePacket::Noop => Continue(()),
            EnginePacket::Close => Break(End::Lost),
            EnginePacket::Message(SocketPacket::Connect(_)) => self.on_joined().await,
            EnginePacket::Message(SocketPacket::Disconnect) => Break(End::Lost),
            EnginePacket::Message(SocketPacket::ConnectError(e)) => {
                leptos::logging::warn!("the server refused the connection: {e}");
                Break(End::Lost)
            }
            EnginePacket::Message(SocketPacket::Ack { id, args }) => {
                self.on_ack(id, args);
                Continue(())
            }
            EnginePacket::Message(SocketPacket::Event { name, args, .. }) => {
                self.on_event(name, args).await
            }
        }
    }

    /// The Engine.IO handshake: learns how long silence may last, and joins the namespace.
    async fn handshake(&mut self, handshake: Handshake) -> Step {
        self.silence_limit_ms = (handshake.ping_interval + handshake.ping_timeout) as f64;
        self.send_packet(EnginePacket::Message(SocketPacket::Connect(None))).await
    }

    /// Joined the namespace: the connection counts as made; logs in if someone is known.
    async fn on_joined(&mut self) -> Step {
        self.joined = true;
        *self.failures = 0;
        self.state.conn.set(ConnStatus::Connected);
        let Some(request) = self.credentials.as_ref().map(|c| c.request(self.state)) else {
            return Continue(());
        };
        self.state.logging_in.set(true);
        self.send_event(&ClientEvent::Login(LoginPayload::Full(request))).await
    }

    /// The acknowledgement of a message sent on this connection: sent, or why not.
    fn on_ack(&mut self, id: u64, mut args: Vec<serde_json::Value>) {
        let Some(client_id) = self.awaiting.remove(&id) else { return };
        let state = self.state;
        let reply = if args.is_empty() { serde_json::Value::Null } else { args.swap_remove(0) };
        match serde_json::from_value::<SendAck>(reply) {
            Ok(SendAck::Sent { .. }) => {
                state.inbox.update(|i| i.outbox.retain(|o| o.client_id != client_id))
            }
            Ok(SendAck::Failed { error, problem, .. }) => {
                let reason = problem.map_or(error, |p| p.in_lang(state.lang.get_untracked()));
                state.inbox.update(|i| i.fail(&client_id, reason))
            }
            Err(e) => {
                leptos::logging::warn!("ignoring an acknowledgement the client cannot read: {e}")
            }
        }
    }

    /// A Socket.IO event from the server, applied to the state.
    async fn on_event(&mut self, name: String, mut args: Vec<serde_json::Value>) -> Step {
        let state = self.state;
        let data = if args.is_empty() { serde_json::Value::Null } else { args.remove(0) };
        // An error's second argument says what it is, to word it here.
        let problem = args.first().and_then(|v| serde_json::from_value::<Problem>(v.clone()).ok());
        let lang = state.lang.get_untracked();
        let event = match ServerEvent::decode(&name, data) {
            Ok(event) => event,
            Err(e) => {
                leptos::logging::warn!("ignoring event {name}: {e}");
                return Continue(());
            }
        };
        match event {
            ServerEvent::LoginSuccess(ok) => return self.on_logged_in(ok).await,
            ServerEvent::LoginError(reason) => {
                return self.on_login_refused(with_problem(reason, problem))
            }
            ServerEvent::UserList(users) => state.set_users(users),
            #[cfg(feature = "console")]
            ServerEvent::Presence(change) => state.presence(change),
            ServerEvent::Message(message) => {
                super::notify::new_message(&message, lang);
                state.receive(message);
            }
            ServerEvent::History(page) => {
                // A catch-up cut short: the rest, a page at a time.
                let rest = page
                    .newer
                    .then(|| page.messages.last().map(|m| (page.conversation, m.seq)))
                    .flatten();
                state.history(page);
                if let Some((conversation, after)) = rest {
                    let request = HistoryRequest { conversation, before: None, after: Some(after) };
                    return self.send_event(&ClientEvent::History(request)).await;
                }
            }
            #[cfg(feature = "console")]
            ServerEvent::Conversation(summary) => state.desk.update(|d| {
                d.insert(summary.id, summary);
            }),
            #[cfg(feature = "console")]
            ServerEvent::ConversationGone(gone) => state.forget(gone.conversation),
            ServerEvent::Typing(t) => state.typing(t.conversation, t.from, now_ms() as u64),
            ServerEvent::Read(r) => state.read_up_to(r.conversation, r.seq),
            #[cfg(feature = "console")]
            ServerEvent::Canned(replies) => state.canned.set(replies),
            ServerEvent::Away(names) => state.away.set(names),
            ServerEvent::Busy(names) => state.busy.set(names),
            #[cfg(feature = "console")]
            ServerEvent::Status(StatusRequest { status }) => self.set_status(status),
            #[cfg(feature = "console")]
            ServerEvent::Agents(agents) => state.agents.set(agents),
            ServerEvent::Office(office) => state.office.set(Some(office)),
            #[cfg(feature = "console")]
            ServerEvent::ConversationsPage(page) => state.conversations_page(page),
            #[cfg(feature = "console")]
            ServerEvent::Profile(profile) => state.profile.set(Some(*profile)),
            ServerEvent::Resolved(resolved) => state.resolved.set(Some(resolved)),
            ServerEvent::Rating(rating) => {
                let agent = state.me.with_untracked(|m| {
                    m.as_ref().is_some_and(|m| m.role == crate::protocol::Role::Agent)
                });
                if agent {
                    state.inbox.update(|i| i.rating(rating));
                } else {
                    let rated = ResolvedAt { conversation: rating.conversation, seq: rating.seq };
                    state.rated.set(Some(rated));
                }
            }
            ServerEvent::DeskSettings(settings) => state.settings.set(settings),
            #[cfg(feature = "console")]
            ServerEvent::SearchResults(page) => state.search.update(|s| {
                if let Some(s) = s.as_mut() {
                    s.take(page);
                }
            }),
            #[cfg(feature = "console")]
            ServerEvent::Note(note) => {
                let customer = state
                    .desk
                    .with_untracked(|d| d.get(&note.conversation).map(|s| s.customer.clone()));
                state.inbox.update(|i| i.note(note, customer));
            }
            ServerEvent::Error(reason) => {
                // A page refused is not waited for any longer.
                #[cfg(feature = "console")]
                {
                    if let crate::state::MoreConversations::Waiting(before) =
                        state.more_conversations.get_untracked()
                    {
                        state
                            .more_conversations
                            .set(crate::state::MoreConversations::After(before));
                    }
                    if state.search.with_untracked(|s| s.as_ref().is_some_and(|s| s.waiting)) {
                        state.search.update(|s| {
                            if let Some(s) = s.as_mut() {
                                s.waiting = false;
                            }
                        });
                    }
                }
                let reason = with_problem(reason, problem);
                // Rated already (in another tab, or before a reload): thanked, as if now.
                if reason.problem == Some(Problem::AlreadyRated) {
                    state.rated.set(state.resolved.get_untracked());
                }
                state.error.set(Some(reason.in_lang(lang)))
            }
            // The customers' bundle decodes none of the events only agents are sent
            // (`ServerEvent::decode`).
            #[cfg(not(feature = "console"))]
            _ => {}
        }
        Continue(())
    }

    /// An agent's status, as they or another tab of theirs chose it: shown, said again by
    /// the next login, and kept across a reload of this tab.
    pub(super) fn set_status(&mut self, status: AgentStatus) {
        remember_status(self.state, self.credentials.as_ref(), status);
    }

    /// The login was accepted: remembers the session, then sends the whole outbox.
    async fn on_logged_in(&mut self, ok: LoginSuccess) -> Step {
        // A status chosen while offline is newer than the one the server kept.
        let unsent = self.credentials.as_mut().and_then(|c| c.unsent_status.take());
        if ok.status.is_some() && unsent.is_none() {
            self.state.my_status.set(ok.status);
        }
        if let Some(c) = self.credentials.as_mut() {
            c.name = ok.name.to_string();
            c.password = None;
            // Said once: on the profile now, where an agent may correct it.
            c.email = None;
            c.resume = ok.resume.clone().or(c.resume.take());
            save_session(c, self.state.my_status.get_untracked());
        }
        // The customers' bundle has no console (components/mod.rs): an agent logged in by
        // this tab's cookie (on a page that got this bundle without it: opened from another
        // site's link, which sends no `SameSite=Strict` cookie) loads the page again, and
        // gets the agents' bundle, which logs in the same way.
        #[cfg(not(feature = "console"))]
        if ok.role == crate::protocol::Role::Agent && super::load_console() {
            self.state.logging_in.set(true);
            return Continue(());
        }
        let away_after = ok.away_after_ms.unwrap_or(AWAY_AFTER_MS) as f64;
        self.state.logged_in(ok);
        self.logged_in = true;
        // A new connection starts present: say "away" again if so.
        self.away_sent = false;
        self.away_after_ms = away_after;
        // Everything written while offline (or not confirmed before the connection
        // dropped) goes now, in order; the server stores a message once however often it
        // is sent.
        let pending: Vec<Outgoing> =
            self.state.inbox.with_untracked(|i| i.pending().cloned().collect());
        for outgoing in pending {
            self.send_message(&outgoing).await?;
        }
        if let Some(status) = unsent {
            self.send_event(&ClientEvent::Status(StatusRequest { status })).await?;
        }
        Continue(())
    }

    /// The login was refused: forgets the session (keeping the outbox), unless the name is
    /// only held elsewhere for now, when the connection ends to try again later.
    fn on_login_refused(&mut self, reason: Refusal) -> Step {
        let state = self.state;
        // Someone else holds this person's name right now: keep the session (and its
        // history) and try again later.
        let resuming = self.credentials.as_ref().is_some_and(|c| c.resume.is_some());
        let taken = reason.problem == Some(Problem::NameTaken)
            || reason.text == Problem::NameTaken.to_string();
        let reason = reason.in_lang(state.lang.get_untracked());
        if resuming && taken {
            state.error.set(Some(reason));
            return Break(End::Lost);
        }
        *self.credentials = None;
        forget_session();
        // What was written and not sent yet stays, for the next login.
        let outbox = state.inbox.with_untracked(|i| i.outbox.clone());
        crate::client::files::forget(state);
        state.reset();
        state.inbox.update(|i| i.outbox = outbox);
        state.login_error.set(Some(reason));
        Continue(())
    }
}

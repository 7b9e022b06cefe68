//! One websocket connection, from the Engine.IO handshake until it ends.
//!
//! Owns: the [`Session`] of one connection (what it has sent and is waiting for, its
//! timers and read positions), turning frames into [`ChatState`] updates and commands into
//! frames. Must not: reconnect or wait between attempts (`client/mod.rs` does), or outlive
//! its connection: everything here starts afresh with the next one.

use std::collections::HashMap;
use std::ops::ControlFlow::{self, Break, Continue};

use futures::channel::mpsc;
use futures::stream::SplitSink;
use futures::{stream, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use leptos::prelude::*;

use super::{end_agent_session, forget_session, new_client_id, save_session, Credentials, End};
use crate::inbox::{Delivery, Outgoing, Target};
use crate::protocol::wire::{EnginePacket, Handshake, SocketPacket};
use crate::protocol::{
    AgentRef, AwayRequest, CannedRef, ClientEvent, ClientMsgId, ConversationId, ConversationRef, HistoryRequest, LoginPayload,
    LoginRequest, LoginSuccess, NoteRequest, ReadUpTo, Role, SendAck, ServerEvent, Transfer, TypingRequest, AWAY_AFTER_MS,
    TYPING_EVERY_MS,
};
use crate::state::{ChatState, Command, ConnStatus};
use crate::protocol::{Problem, Refusal};

/// What a session waits on: the server, the views, and the clock.
enum Input {
    /// A frame, or `None` when the socket closed.
    Frame(Option<Result<Message, WebSocketError>>),
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

/// Puts a message written here in the outbox of the open conversation; it is sent now
/// if logged in, otherwise after the next login.
fn queue(state: ChatState, text: String) -> Option<Outgoing> {
    let target = state.open.get_untracked()?;
    let me = state.me.get_untracked()?;
    let to = if me.role == Role::Customer { state.to.get_untracked() } else { None };
    let outgoing = Outgoing { client_id: new_client_id(), target, to, text, status: Delivery::Pending };
    state.inbox.update(|i| i.queue(outgoing.clone()));
    Some(outgoing)
}

/// Forgets who was logged in: here, and for an agent also the cookie session on the server.
fn forget_login(state: ChatState, credentials: &mut Option<Credentials>) {
    if credentials.as_ref().is_some_and(|c| c.role == Role::Agent) {
        end_agent_session();
    }
    forget_session();
    *credentials = None;
    state.reset();
}

/// A command given while there is no connection (or before the namespace is joined).
pub(crate) fn while_offline(state: ChatState, command: Command, credentials: &mut Option<Credentials>) {
    match command {
        Command::Login(request) => {
            state.logging_in.set(true);
            *credentials = Some(Credentials::from(request));
        }
        Command::Send(text) => {
            queue(state, text);
        }
        Command::Retry(id) => {
            state.inbox.update(|i| {
                i.retry(&id);
            });
        }
        // Asked again when the person scrolls up once connected.
        Command::LoadOlder(_) => {}
        // Nobody hears typing while offline; reading is said again when back.
        Command::Typing | Command::MarkRead(_) => {}
        // Desk actions need the server's answer: they are not queued.
        Command::Take(_)
        | Command::Resolve(_)
        | Command::Transfer { .. }
        | Command::Note(_)
        | Command::AddAgent(_)
        | Command::RemoveAgent(_)
        | Command::SetCanned(_)
        | Command::RemoveCanned(_) => {
            state.error.set(Some(state.lang.get_untracked().ui().offline_action.to_owned()));
        }
        // A customer's token cannot be revoked without a connection; it is forgotten
        // here and expires on the server. An agent's cookie session ends over HTTP.
        Command::Logout => forget_login(state, credentials),
    }
}

/// Encodes an event, with an acknowledgement id when one is given.
fn encode(event: &ClientEvent, ack: Option<u64>) -> Option<Message> {
    match serde_json::to_value(event) {
        Ok(data) => {
            let args = if data.is_null() { vec![] } else { vec![data] };
            let packet = SocketPacket::Event { ack, name: event.name().to_owned(), args };
            Some(Message::Text(EnginePacket::Message(packet).encode()))
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
    url: &str,
    state: ChatState,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    credentials: &mut Option<Credentials>,
    failures: &mut u32,
) -> End {
    let ws = match WebSocket::open(url) {
        Ok(ws) => ws,
        Err(e) => {
            leptos::logging::warn!("cannot open {url}: {e}");
            return End::Lost;
        }
    };
    let (write, read) = ws.split();
    let frames = read.map(|f| Input::Frame(Some(f))).chain(stream::iter([Input::Frame(None)]));
    let ticks = gloo_timers::future::IntervalStream::new(1000).map(|()| Input::Tick);
    let mut inputs = stream::select(frames, stream::select(commands.by_ref().map(Input::Command), ticks));
    let mut session = Session::new(write, state, credentials, failures);
    while let Some(input) = inputs.next().await {
        if let Break(end) = session.on_input(input).await {
            return end;
        }
    }
    End::Lost
}

/// One connection: where it writes, and what it remembers between one input and the next.
struct Session<'a> {
    write: SplitSink<WebSocket, Message>,
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
        write: SplitSink<WebSocket, Message>,
        state: ChatState,
        credentials: &'a mut Option<Credentials>,
        failures: &'a mut u32,
    ) -> Self {
        Self {
            write,
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

    /// Writes one frame; a failed write ends the connection.
    async fn send(&mut self, message: Message) -> Step {
        if let Err(e) = self.write.send(message).await {
            leptos::logging::warn!("send failed: {e}");
            return Break(End::Lost);
        }
        Continue(())
    }

    /// Writes one Engine.IO packet.
    async fn send_packet(&mut self, packet: EnginePacket) -> Step {
        self.send(Message::Text(packet.encode())).await
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

    /// Closes the socket before the connection ends by choice.
    async fn close(&mut self) {
        // The connection is being left either way: a failed close changes nothing.
        let _ = self.write.close().await;
    }

    // ---- What the server sends ----

    /// A websocket frame, or the socket's end (`None`).
    async fn on_frame(&mut self, frame: Option<Result<Message, WebSocketError>>) -> Step {
        match frame {
            None => Break(End::Lost),
            Some(Err(e)) => {
                leptos::logging::warn!("connection error: {e}");
                Break(End::Lost)
            }
            Some(Ok(Message::Bytes(_))) => {
                leptos::logging::warn!("ignoring a binary frame: this client expects text frames only");
                Continue(())
            }
            Some(Ok(Message::Text(text))) => {
                self.last_heard = now_ms();
                match EnginePacket::decode(&text) {
                    Ok(packet) => self.on_packet(packet).await,
                    Err(e) => {
                        leptos::logging::warn!("ignoring a frame the client cannot read ({e}): {text}");
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
            EnginePacket::Message(SocketPacket::Event { name, args, .. }) => self.on_event(name, args).await,
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
        let Some(request) = self.credentials.as_ref().map(|c| c.request(self.state)) else { return Continue(()) };
        self.state.logging_in.set(true);
        self.send_event(&ClientEvent::Login(LoginPayload::Full(request))).await
    }

    /// The acknowledgement of a message sent on this connection: sent, or why not.
    fn on_ack(&mut self, id: u64, mut args: Vec<serde_json::Value>) {
        let Some(client_id) = self.awaiting.remove(&id) else { return };
        let state = self.state;
        let reply = if args.is_empty() { serde_json::Value::Null } else { args.swap_remove(0) };
        match serde_json::from_value::<SendAck>(reply) {
            Ok(SendAck::Sent { .. }) => state.inbox.update(|i| i.outbox.retain(|o| o.client_id != client_id)),
            Ok(SendAck::Failed { error, problem, .. }) => {
                let reason = problem.map_or(error, |p| p.in_lang(state.lang.get_untracked()));
                state.inbox.update(|i| i.fail(&client_id, reason))
            }
            Err(e) => leptos::logging::warn!("ignoring an acknowledgement the client cannot read: {e}"),
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
            ServerEvent::LoginError(reason) => return self.on_login_refused(with_problem(reason, problem)),
            ServerEvent::UserList(users) => state.set_users(users),
            ServerEvent::Presence(change) => state.presence(change),
            ServerEvent::Message(message) => {
                super::notify::new_message(&message, lang);
                state.receive(message);
            }
            ServerEvent::History(page) => state.history(page),
            ServerEvent::Conversation(summary) => state.desk.update(|d| {
                d.insert(summary.id, summary);
            }),
            ServerEvent::Typing(t) => state.typing(t.conversation, t.from, now_ms() as u64),
            ServerEvent::Read(r) => state.read_up_to(r.conversation, r.seq),
            ServerEvent::Canned(replies) => state.canned.set(replies),
            ServerEvent::Away(names) => state.away.set(names),
            ServerEvent::Agents(agents) => state.agents.set(agents),
            ServerEvent::Office(office) => state.office.set(Some(office)),
            ServerEvent::Note(note) => {
                let customer = state.desk.with_untracked(|d| d.get(&note.conversation).map(|s| s.customer.clone()));
                state.inbox.update(|i| i.note(note, customer));
            }
            ServerEvent::Error(reason) => state.error.set(Some(with_problem(reason, problem).in_lang(lang))),
        }
        Continue(())
    }

    /// The login was accepted: remembers the session, then sends the whole outbox.
    async fn on_logged_in(&mut self, ok: LoginSuccess) -> Step {
        if let Some(c) = self.credentials.as_mut() {
            c.name = ok.name.to_string();
            c.password = None;
            c.resume = ok.resume.clone().or(c.resume.take());
            save_session(c);
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
        let pending: Vec<Outgoing> = self.state.inbox.with_untracked(|i| i.pending().cloned().collect());
        for outgoing in pending {
            self.send_message(&outgoing).await?;
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
        let taken = reason.problem == Some(Problem::NameTaken) || reason.text == Problem::NameTaken.to_string();
        let reason = reason.in_lang(state.lang.get_untracked());
        if resuming && taken {
            state.error.set(Some(reason));
            return Break(End::Lost);
        }
        *self.credentials = None;
        forget_session();
        // What was written and not sent yet stays, for the next login.
        let outbox = state.inbox.with_untracked(|i| i.outbox.clone());
        state.reset();
        state.inbox.update(|i| i.outbox = outbox);
        state.login_error.set(Some(reason));
        Continue(())
    }

    // ---- What the views ask for ----

    /// A command from the views: acted on now if logged in, otherwise as [`while_offline`].
    async fn on_command(&mut self, command: Command) -> Step {
        match command {
            Command::Login(request) => self.on_login(request).await,
            command if !self.logged_in => {
                while_offline(self.state, command, self.credentials);
                Continue(())
            }
            Command::Send(text) => self.send_text(text).await,
            Command::Retry(id) => self.retry(id).await,
            Command::LoadOlder(conversation) => self.load_older(conversation).await,
            Command::Typing => self.on_typing().await,
            Command::MarkRead(conversation) => self.mark_read(conversation).await,
            Command::Note(text) => self.send_note(text).await,
            Command::Take(conversation) => self.send_event(&ClientEvent::Take(ConversationRef { conversation })).await,
            Command::Resolve(conversation) => self.send_event(&ClientEvent::Resolve(ConversationRef { conversation })).await,
            Command::Transfer { conversation, to, note } => {
                self.send_event(&ClientEvent::Transfer(Transfer { conversation, to, note })).await
            }
            Command::AddAgent(agent) => self.send_event(&ClientEvent::AgentAdd(agent)).await,
            Command::RemoveAgent(name) => self.send_event(&ClientEvent::AgentRemove(AgentRef { name })).await,
            Command::SetCanned(reply) => self.send_event(&ClientEvent::CannedSet(reply)).await,
            Command::RemoveCanned(shortcut) => self.send_event(&ClientEvent::CannedRemove(CannedRef { shortcut })).await,
            Command::Logout => self.log_out().await,
        }
    }

    /// A login from the form: an agent's goes over HTTP (this connection ends for it); a
    /// customer's is sent once joined, or kept for then.
    async fn on_login(&mut self, request: LoginRequest) -> Step {
        if request.role == Role::Agent {
            self.close().await;
            return Break(End::AgentLogin(request));
        }
        if !self.joined {
            while_offline(self.state, Command::Login(request), self.credentials);
            return Continue(());
        }
        self.state.logging_in.set(true);
        let credentials = Credentials::from(request);
        self.send_event(&ClientEvent::Login(LoginPayload::Full(credentials.request(self.state)))).await?;
        *self.credentials = Some(credentials);
        Continue(())
    }

    /// Queues a message written in the open conversation and sends it.
    async fn send_text(&mut self, text: String) -> Step {
        // The next keystroke starts a new message: say so at once.
        self.typing_sent = 0.0;
        match queue(self.state, text) {
            Some(outgoing) => self.send_message(&outgoing).await,
            None => Continue(()),
        }
    }

    /// Sends again a message that failed.
    async fn retry(&mut self, id: ClientMsgId) -> Step {
        match self.state.inbox.try_update(|i| i.retry(&id).cloned()).flatten() {
            Some(outgoing) => self.send_message(&outgoing).await,
            None => Continue(()),
        }
    }

    /// Asks for the page of history before the oldest message held.
    async fn load_older(&mut self, conversation: ConversationId) -> Step {
        let first =
            self.state.inbox.with_untracked(|i| i.threads.get(&conversation).and_then(|t| t.messages.keys().next().copied()));
        match first {
            Some(before) => self.send_event(&ClientEvent::History(HistoryRequest { conversation, before })).await,
            None => Continue(()),
        }
    }

    /// Says the person is typing, at most once per [`TYPING_EVERY_MS`].
    async fn on_typing(&mut self) -> Step {
        let state = self.state;
        let conversation = match state.open.get_untracked() {
            Some(Target::Conversation(id)) => Some(id),
            _ => None,
        };
        let is_customer = state.me.with_untracked(|m| m.as_ref().is_some_and(|m| m.role == Role::Customer));
        if (is_customer || conversation.is_some()) && now_ms() - self.typing_sent >= TYPING_EVERY_MS as f64 {
            self.typing_sent = now_ms();
            let conversation = if is_customer { None } else { conversation };
            return self.send_event(&ClientEvent::Typing(TypingRequest { conversation })).await;
        }
        Continue(())
    }

    /// What an agent has on screen, in a visible tab, is read: tells the server how far.
    async fn mark_read(&mut self, conversation: ConversationId) -> Step {
        let newest = self.state.inbox.with_untracked(|i| i.threads.get(&conversation).and_then(|t| t.contiguous()));
        let sent = self.read_sent.get(&conversation).copied().unwrap_or(0);
        match newest.filter(|s| !tab_hidden() && *s > sent) {
            Some(seq) => {
                self.read_sent.insert(conversation, seq);
                self.send_event(&ClientEvent::Read(ReadUpTo { conversation, seq })).await
            }
            None => Continue(()),
        }
    }

    /// Sends an internal note in the open conversation (agents).
    async fn send_note(&mut self, text: String) -> Step {
        match self.state.open.get_untracked() {
            Some(Target::Conversation(conversation)) => {
                self.send_event(&ClientEvent::Note(NoteRequest { conversation, text })).await
            }
            _ => Continue(()),
        }
    }

    /// Logs out on the server and here; the connection ends, to start afresh logged out.
    async fn log_out(&mut self) -> Step {
        self.send_event(&ClientEvent::Logout).await?;
        forget_login(self.state, self.credentials);
        self.close().await;
        Break(End::LoggedOut)
    }

    // ---- The clock ----

    /// Every second: expires typing, keeps an agent's presence and reading up to date, and
    /// ends a connection the server has gone silent on.
    async fn on_tick(&mut self) -> Step {
        self.state.expire_typing(now_ms() as u64);
        if self.logged_in && self.state.is_agent_untracked() {
            self.watch_tab().await?;
        }
        if now_ms() - self.last_heard > self.silence_limit_ms {
            leptos::logging::warn!("no word from the server for {} ms; reconnecting", self.silence_limit_ms);
            self.close().await;
            return Break(End::Lost);
        }
        Continue(())
    }

    /// An agent is away after a while in a hidden tab; back (and reading) once it shows again.
    async fn watch_tab(&mut self) -> Step {
        let hidden = tab_hidden();
        self.hidden_since = if hidden { self.hidden_since.or(Some(now_ms())) } else { None };
        let away = self.hidden_since.is_some_and(|since| now_ms() - since >= self.away_after_ms);
        if away != self.away_sent {
            self.away_sent = away;
            self.send_event(&ClientEvent::Away(AwayRequest { away })).await?;
        }
        match self.state.open_conversation().filter(|_| !hidden) {
            Some(conversation) => self.mark_read(conversation).await,
            None => Continue(()),
        }
    }
}

//! One websocket connection, from the Engine.IO handshake until it ends.

use std::collections::HashMap;

use futures::channel::mpsc;
use futures::{stream, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;

use super::{end_agent_session, forget_session, new_client_id, save_session, Credentials, End};
use crate::inbox::{Delivery, Outgoing};
use crate::protocol::wire::{EnginePacket, SocketPacket};
use crate::protocol::{
    AgentRef, AwayRequest, CannedRef, ClientEvent, ClientMsgId, ConversationId, ConversationRef, HistoryRequest, LoginPayload,
    NoteRequest, ReadUpTo, Role, SendAck, ServerEvent, Transfer, TypingRequest, AWAY_AFTER_MS, TYPING_EVERY_MS,
};
use crate::inbox::Target;
use crate::state::{ChatState, Command, ConnStatus};
use crate::protocol::Problem;

enum Input {
    /// A frame, or `None` when the socket closed.
    Frame(Option<Result<Message, gloo_net::websocket::WebSocketError>>),
    Command(Command),
    Tick,
}

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

/// A command given while there is no connection (or before the namespace is joined).
pub(crate) fn while_offline(state: ChatState, command: Command, credentials: &mut Option<Credentials>) {
    match command {
        Command::Login(request) => {
            state.logging_in.set(true);
            *credentials = Some(Credentials {
                name: request.name,
                role: request.role,
                password: request.password,
                resume: None,
                identity: request.identity,
            });
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
        Command::Logout => {
            // A customer's token cannot be revoked without a connection; it is forgotten
            // here and expires on the server. An agent's cookie session ends over HTTP.
            if credentials.as_ref().is_some_and(|c| c.role == Role::Agent) {
                end_agent_session();
            }
            forget_session();
            *credentials = None;
            state.reset();
        }
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
    let (mut write, read) = ws.split();
    let frames = read.map(|f| Input::Frame(Some(f))).chain(stream::iter([Input::Frame(None)]));
    let ticks = gloo_timers::future::IntervalStream::new(1000).map(|()| Input::Tick);
    let mut inputs = stream::select(frames, stream::select(commands.by_ref().map(Input::Command), ticks));

    let mut last_heard = now_ms();
    // Until the handshake says otherwise: Socket.IO's default ping interval + timeout.
    let mut silence_limit_ms = 45_000.0;
    let mut joined = false;
    let mut logged_in = false;
    // Messages sent on this connection whose acknowledgement has not come yet.
    let mut awaiting: HashMap<u64, ClientMsgId> = HashMap::new();
    let mut next_ack = 0u64;
    let mut typing_sent = 0.0;
    // The read position last sent per conversation.
    let mut read_sent: HashMap<ConversationId, u64> = HashMap::new();
    // Since when the tab has been hidden (agents), and whether the server was told "away".
    let mut hidden_since: Option<f64> = None;
    let mut away_sent = false;
    let mut away_after_ms = AWAY_AFTER_MS as f64;

    macro_rules! send {
        ($msg:expr) => {
            if let Some(msg) = $msg {
                if let Err(e) = write.send(msg).await {
                    leptos::logging::warn!("send failed: {e}");
                    return End::Lost;
                }
            }
        };
    }
    // What an agent has on screen, in a visible tab, is read: tell the server how far.
    macro_rules! mark_read {
        ($conversation:expr) => {{
            let conversation = $conversation;
            let newest = state.inbox.with_untracked(|i| i.threads.get(&conversation).and_then(|t| t.contiguous()));
            if let Some(seq) = newest.filter(|s| !tab_hidden() && *s > read_sent.get(&conversation).copied().unwrap_or(0)) {
                read_sent.insert(conversation, seq);
                send!(encode(&ClientEvent::Read(ReadUpTo { conversation, seq }), None));
            }
        }};
    }
    macro_rules! send_message {
        ($outgoing:expr) => {{
            next_ack += 1;
            awaiting.insert(next_ack, $outgoing.client_id.clone());
            send!(encode(&ClientEvent::PrivateMessage($outgoing.request()), Some(next_ack)));
        }};
    }

    while let Some(input) = inputs.next().await {
        match input {
            Input::Frame(None) => return End::Lost,
            Input::Frame(Some(Err(e))) => {
                leptos::logging::warn!("connection error: {e}");
                return End::Lost;
            }
            Input::Frame(Some(Ok(Message::Bytes(_)))) => {
                leptos::logging::warn!("ignoring a binary frame: this client expects text frames only");
            }
            Input::Frame(Some(Ok(Message::Text(text)))) => {
                last_heard = now_ms();
                let packet = match EnginePacket::decode(&text) {
                    Ok(p) => p,
                    Err(e) => {
                        leptos::logging::warn!("ignoring a frame the client cannot read ({e}): {text}");
                        continue;
                    }
                };
                match packet {
                    EnginePacket::Open(handshake) => {
                        silence_limit_ms = (handshake.ping_interval + handshake.ping_timeout) as f64;
                        send!(Some(Message::Text(EnginePacket::Message(SocketPacket::Connect(None)).encode())));
                    }
                    EnginePacket::Ping => send!(Some(Message::Text(EnginePacket::Pong.encode()))),
                    EnginePacket::Pong | EnginePacket::Noop => {}
                    EnginePacket::Close => return End::Lost,
                    EnginePacket::Message(SocketPacket::Connect(_)) => {
                        joined = true;
                        *failures = 0;
                        state.conn.set(ConnStatus::Connected);
                        if let Some(c) = credentials.as_ref() {
                            state.logging_in.set(true);
                            send!(encode(&ClientEvent::Login(LoginPayload::Full(c.request(state))), None));
                        }
                    }
                    EnginePacket::Message(SocketPacket::Disconnect) => return End::Lost,
                    EnginePacket::Message(SocketPacket::ConnectError(e)) => {
                        leptos::logging::warn!("the server refused the connection: {e}");
                        return End::Lost;
                    }
                    EnginePacket::Message(SocketPacket::Ack { id, mut args }) => {
                        let Some(client_id) = awaiting.remove(&id) else { continue };
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
                    EnginePacket::Message(SocketPacket::Event { name, mut args, .. }) => {
                        let data = if args.is_empty() { serde_json::Value::Null } else { args.remove(0) };
                        // An error's second argument says what it is, to word it here.
                        let problem = args.first().and_then(|v| serde_json::from_value::<Problem>(v.clone()).ok());
                        let lang = state.lang.get_untracked();
                        let worded = |mut reason: crate::protocol::Refusal| {
                            reason.problem = reason.problem.or(problem.clone());
                            reason
                        };
                        match ServerEvent::decode(&name, data) {
                            Ok(ServerEvent::LoginSuccess(ok)) => {
                                if let Some(c) = credentials.as_mut() {
                                    c.name = ok.name.to_string();
                                    c.password = None;
                                    c.resume = ok.resume.clone().or(c.resume.take());
                                    save_session(c);
                                }
                                let away_after = ok.away_after_ms.unwrap_or(AWAY_AFTER_MS) as f64;
                                state.logged_in(ok);
                                logged_in = true;
                                // A new connection starts present: say "away" again if so.
                                away_sent = false;
                                away_after_ms = away_after;
                                // Everything written while offline (or not confirmed before
                                // the connection dropped) goes now, in order; the server
                                // stores a message once however often it is sent.
                                let pending: Vec<Outgoing> = state.inbox.with_untracked(|i| i.pending().cloned().collect());
                                for outgoing in pending {
                                    send_message!(outgoing);
                                }
                            }
                            Ok(ServerEvent::LoginError(reason)) => {
                                let reason = worded(reason);
                                // Someone else holds this person's name right now: keep the
                                // session (and its history) and try again later.
                                let resuming = credentials.as_ref().is_some_and(|c| c.resume.is_some());
                                let taken = reason.problem == Some(Problem::NameTaken) || reason.text == Problem::NameTaken.to_string();
                                let reason = reason.in_lang(lang);
                                if resuming && taken {
                                    state.error.set(Some(reason));
                                    return End::Lost;
                                }
                                *credentials = None;
                                forget_session();
                                // What was written and not sent yet stays, for the next login.
                                let outbox = state.inbox.with_untracked(|i| i.outbox.clone());
                                state.reset();
                                state.inbox.update(|i| i.outbox = outbox);
                                state.login_error.set(Some(reason));
                            }
                            Ok(ServerEvent::UserList(users)) => state.set_users(users),
                            Ok(ServerEvent::Presence(change)) => state.presence(change),
                            Ok(ServerEvent::Message(message)) => {
                                super::notify::new_message(&message, lang);
                                state.receive(message);
                            }
                            Ok(ServerEvent::History(page)) => state.history(page),
                            Ok(ServerEvent::Conversation(summary)) => state.desk.update(|d| {
                                d.insert(summary.id, summary);
                            }),
                            Ok(ServerEvent::Typing(t)) => state.typing(t.conversation, t.from, now_ms() as u64),
                            Ok(ServerEvent::Read(r)) => state.read_up_to(r.conversation, r.seq),
                            Ok(ServerEvent::Canned(replies)) => state.canned.set(replies),
                            Ok(ServerEvent::Away(names)) => state.away.set(names),
                            Ok(ServerEvent::Agents(agents)) => state.agents.set(agents),
                            Ok(ServerEvent::Office(office)) => state.office.set(Some(office)),
                            Ok(ServerEvent::Note(note)) => {
                                let customer = state.desk.with_untracked(|d| d.get(&note.conversation).map(|s| s.customer.clone()));
                                state.inbox.update(|i| i.note(note, customer));
                            }
                            Ok(ServerEvent::Error(reason)) => state.error.set(Some(worded(reason).in_lang(lang))),
                            Err(e) => leptos::logging::warn!("ignoring event {name}: {e}"),
                        }
                    }
                }
            }
            Input::Command(Command::Login(request)) if request.role == Role::Agent => {
                let _ = write.close().await;
                return End::AgentLogin(request);
            }
            Input::Command(command) if !logged_in && !matches!(command, Command::Login(_)) => {
                while_offline(state, command, credentials)
            }
            Input::Command(Command::Login(request)) if joined => {
                state.logging_in.set(true);
                let c = Credentials {
                    name: request.name,
                    role: request.role,
                    password: request.password,
                    resume: None,
                    identity: request.identity,
                };
                send!(encode(&ClientEvent::Login(LoginPayload::Full(c.request(state))), None));
                *credentials = Some(c);
            }
            Input::Command(command @ Command::Login(_)) => while_offline(state, command, credentials),
            Input::Command(Command::Send(text)) => {
                // The next keystroke starts a new message: say so at once.
                typing_sent = 0.0;
                if let Some(outgoing) = queue(state, text) {
                    send_message!(outgoing);
                }
            }
            Input::Command(Command::Retry(id)) => {
                let again = state.inbox.try_update(|i| i.retry(&id).cloned()).flatten();
                if let Some(outgoing) = again {
                    send_message!(outgoing);
                }
            }
            Input::Command(Command::LoadOlder(conversation)) => {
                let first = state.inbox.with_untracked(|i| i.threads.get(&conversation).and_then(|t| t.messages.keys().next().copied()));
                if let Some(before) = first {
                    send!(encode(&ClientEvent::History(HistoryRequest { conversation, before }), None));
                }
            }
            Input::Command(Command::Typing) => {
                let conversation = match state.open.get_untracked() {
                    Some(Target::Conversation(id)) => Some(id),
                    _ => None,
                };
                let is_customer = state.me.with_untracked(|m| m.as_ref().is_some_and(|m| m.role == Role::Customer));
                if (is_customer || conversation.is_some()) && now_ms() - typing_sent >= TYPING_EVERY_MS as f64 {
                    typing_sent = now_ms();
                    let conversation = if is_customer { None } else { conversation };
                    send!(encode(&ClientEvent::Typing(TypingRequest { conversation }), None));
                }
            }
            Input::Command(Command::MarkRead(conversation)) => mark_read!(conversation),
            Input::Command(Command::AddAgent(agent)) => send!(encode(&ClientEvent::AgentAdd(agent), None)),
            Input::Command(Command::RemoveAgent(name)) => send!(encode(&ClientEvent::AgentRemove(AgentRef { name }), None)),
            Input::Command(Command::SetCanned(reply)) => send!(encode(&ClientEvent::CannedSet(reply), None)),
            Input::Command(Command::RemoveCanned(shortcut)) => {
                send!(encode(&ClientEvent::CannedRemove(CannedRef { shortcut }), None))
            }
            Input::Command(Command::Note(text)) => {
                if let Some(Target::Conversation(conversation)) = state.open.get_untracked() {
                    send!(encode(&ClientEvent::Note(NoteRequest { conversation, text }), None));
                }
            }
            Input::Command(Command::Take(conversation)) => {
                send!(encode(&ClientEvent::Take(ConversationRef { conversation }), None));
            }
            Input::Command(Command::Resolve(conversation)) => {
                send!(encode(&ClientEvent::Resolve(ConversationRef { conversation }), None));
            }
            Input::Command(Command::Transfer { conversation, to, note }) => {
                send!(encode(&ClientEvent::Transfer(Transfer { conversation, to, note }), None));
            }
            Input::Command(Command::Logout) => {
                send!(encode(&ClientEvent::Logout, None));
                if credentials.as_ref().is_some_and(|c| c.role == Role::Agent) {
                    end_agent_session();
                }
                forget_session();
                *credentials = None;
                state.reset();
                let _ = write.close().await;
                return End::LoggedOut;
            }
            Input::Tick => {
                state.expire_typing(now_ms() as u64);
                if logged_in && state.is_agent_untracked() {
                    // Away after a while hidden; back (and reading) once shown again.
                    let hidden = tab_hidden();
                    hidden_since = if hidden { hidden_since.or(Some(now_ms())) } else { None };
                    let away = hidden_since.is_some_and(|since| now_ms() - since >= away_after_ms);
                    if away != away_sent {
                        away_sent = away;
                        send!(encode(&ClientEvent::Away(AwayRequest { away }), None));
                    }
                    if let Some(conversation) = state.open_conversation().filter(|_| !hidden) {
                        mark_read!(conversation);
                    }
                }
                if now_ms() - last_heard > silence_limit_ms {
                    leptos::logging::warn!("no word from the server for {silence_limit_ms} ms; reconnecting");
                    let _ = write.close().await;
                    return End::Lost;
                }
            }
        }
    }
    End::Lost
}

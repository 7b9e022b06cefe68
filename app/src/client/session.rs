//! One websocket connection, from the Engine.IO handshake until it ends.

use futures::channel::mpsc;
use futures::{stream, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::*;

use super::{forget_login, save_login, Credentials, End};
use crate::protocol::wire::{EnginePacket, SocketPacket};
use crate::protocol::{ClientEvent, LoginPayload, ServerEvent};
use crate::state::{ChatState, Command, ConnStatus};
use crate::text::Problem;

/// Automatic re-logins refused as "name taken" (the previous connection of this same
/// person not gone yet) before giving up and asking the person.
const RELOGIN_ATTEMPTS: u32 = 5;

enum Input {
    /// A frame, or `None` when the socket closed.
    Frame(Option<Result<Message, gloo_net::websocket::WebSocketError>>),
    Command(Command),
    Tick,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A command given while there is no connection.
pub(crate) fn while_offline(state: ChatState, command: Command, credentials: &mut Option<Credentials>) {
    match command {
        Command::Login(request) => {
            state.logging_in.set(true);
            *credentials = Some(Credentials { request, confirmed: false, refused: 0 });
        }
        Command::Send(_) => state.error.set(Some(crate::text::EN.offline_send_hint.to_owned())),
        Command::Logout => {
            forget_login();
            *credentials = None;
            state.reset();
        }
    }
}

fn encode(event: &ClientEvent) -> Option<Message> {
    match serde_json::to_value(event) {
        Ok(data) => Some(Message::Text(EnginePacket::Message(SocketPacket::event(event.name(), data)).encode())),
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

    macro_rules! send {
        ($msg:expr) => {
            if let Err(e) = write.send($msg).await {
                leptos::logging::warn!("send failed: {e}");
                return End::Lost;
            }
        };
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
                        send!(Message::Text(EnginePacket::Message(SocketPacket::Connect(None)).encode()));
                    }
                    EnginePacket::Ping => send!(Message::Text(EnginePacket::Pong.encode())),
                    EnginePacket::Pong | EnginePacket::Noop => {}
                    EnginePacket::Close => return End::Lost,
                    EnginePacket::Message(SocketPacket::Connect(_)) => {
                        joined = true;
                        *failures = 0;
                        state.conn.set(ConnStatus::Connected);
                        if let Some(c) = credentials.as_ref() {
                            state.logging_in.set(true);
                            if let Some(m) = encode(&ClientEvent::Login(LoginPayload::Full(c.request.clone()))) {
                                send!(m);
                            }
                        }
                    }
                    EnginePacket::Message(SocketPacket::Disconnect) => return End::Lost,
                    EnginePacket::Message(SocketPacket::ConnectError(e)) => {
                        leptos::logging::warn!("the server refused the connection: {e}");
                        return End::Lost;
                    }
                    EnginePacket::Message(SocketPacket::Ack { .. }) => {}
                    EnginePacket::Message(SocketPacket::Event { name, mut args, .. }) => {
                        let data = if args.is_empty() { serde_json::Value::Null } else { args.swap_remove(0) };
                        match ServerEvent::decode(&name, data) {
                            Ok(event) => {
                                if let Some(end) = apply(state, event, credentials) {
                                    return end;
                                }
                            }
                            Err(e) => leptos::logging::warn!("ignoring event {name}: {e}"),
                        }
                    }
                }
            }
            Input::Command(command) if !joined => while_offline(state, command, credentials),
            Input::Command(Command::Login(request)) => {
                state.logging_in.set(true);
                if let Some(m) = encode(&ClientEvent::Login(LoginPayload::Full(request.clone()))) {
                    send!(m);
                }
                *credentials = Some(Credentials { request, confirmed: false, refused: 0 });
            }
            Input::Command(Command::Send(message)) => {
                if let Some(m) = encode(&ClientEvent::PrivateMessage(message)) {
                    send!(m);
                }
            }
            Input::Command(Command::Logout) => {
                forget_login();
                *credentials = None;
                state.reset();
                let _ = write.close().await;
                return End::LoggedOut;
            }
            Input::Tick => {
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

/// Applies one server event to the state. Returns `Some` when the connection must end.
fn apply(state: ChatState, event: ServerEvent, credentials: &mut Option<Credentials>) -> Option<End> {
    match event {
        ServerEvent::LoginSuccess(ok) => {
            if let Some(c) = credentials.as_mut() {
                c.confirmed = true;
                c.refused = 0;
                save_login(&c.request);
            }
            state.logging_in.set(false);
            state.login_error.set(None);
            state.me.set(Some(ok));
        }
        ServerEvent::LoginError(reason) => {
            let retry = match credentials.as_mut() {
                // The previous connection of this same person may still be open on the
                // server (a reload, a network switch): try again on a new connection.
                Some(c) if c.confirmed && reason == Problem::NameTaken.to_string() && c.refused < RELOGIN_ATTEMPTS => {
                    c.refused += 1;
                    true
                }
                _ => false,
            };
            if retry {
                return Some(End::Lost);
            }
            *credentials = None;
            forget_login();
            state.logging_in.set(false);
            state.me.set(None);
            state.login_error.set(Some(reason));
        }
        ServerEvent::UserList(users) => state.set_users(users),
        ServerEvent::Message(message) => state.add_message(message),
        ServerEvent::Error(reason) => state.error.set(Some(reason)),
    }
    None
}

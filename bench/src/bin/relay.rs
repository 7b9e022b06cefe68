//! The bound: the tutorial's private chat (`bench/peer/server.js`, event for event) on our
//! stack, socketioxide over axum, everything in memory, nothing stored.
//!
//! Not part of the product. `make bench` drives it beside our server and the Node peer with
//! the same load, so the table shows what the Socket.IO library alone costs per message on
//! this machine: how far our server's storage, ordering and support workflow add to it, and
//! which of the targets (ratios to the Node peer) a relay with nothing else to do reaches.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use serde::Serialize;
use socketioxide::extract::{Data, SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::{BroadcastError, SendError, SocketError, SocketIo};

#[derive(Parser)]
struct Cli {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3303")]
    addr: std::net::SocketAddr,
}

/// Who is online (name → socket) and the last message id given.
#[derive(Default)]
struct Users {
    by_name: HashMap<String, SocketRef>,
    last_id: u64,
}

type Shared = Arc<Mutex<Users>>;

#[derive(Serialize)]
struct Message<'a> {
    id: u64,
    from: &'a str,
    to: &'a str,
    message: &'a serde_json::Value,
    ts: u64,
    #[serde(rename = "self")]
    mine: bool,
}

/// The name a socket logged in with.
#[derive(Clone)]
struct Me(String);

fn users(state: &Shared) -> std::sync::MutexGuard<'_, Users> {
    // A panic while holding the lock leaves the map as consistent as it was: go on.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends `event` to `socket`. A socket that has gone is skipped, as the tutorial's server
/// skips it; any other failure (a full buffer, say) is shown, since a message lost here
/// stalls the generator's window.
fn emit<T: Serialize + ?Sized>(socket: &SocketRef, event: &'static str, data: &T) {
    match socket.emit(event, data) {
        Ok(()) | Err(SendError::Socket(SocketError::Closed)) => {}
        Err(e) => eprintln!("relay: emit {event} to {}: {e}", socket.id),
    }
}

fn broadcast_user_list(io: &SocketIo, names: Vec<String>) {
    let io = io.clone();
    tokio::spawn(async move {
        match io.emit("user_list", &names).await {
            Ok(()) => {}
            Err(BroadcastError::Socket(errors))
                if errors.iter().all(|e| matches!(e, SocketError::Closed)) => {}
            Err(e) => eprintln!("relay: user_list: {e}"),
        }
    });
}

/// Registers the handlers, as connect middleware: it runs before the client is told it
/// joined, where the connect handler itself runs as a task of its own, so that a `login`
/// sent at once after joining could arrive before its handler and be dropped.
async fn register(socket: SocketRef) -> Result<(), Infallible> {
    socket.on("login", on_login);
    socket.on("private_message", on_private_message);
    socket.on_disconnect(on_disconnect);
    Ok(())
}

/// Everything is done by [`register`].
async fn on_connect() {}

async fn on_login(
    socket: SocketRef,
    io: SocketIo,
    State(state): State<Shared>,
    Data(name): Data<serde_json::Value>,
) {
    let Some(name) = name.as_str().map(str::trim).filter(|n| !n.is_empty()) else {
        return emit(&socket, "login_error", "Please enter a name.");
    };
    let names = {
        let mut users = users(&state);
        if users.by_name.contains_key(name) {
            drop(users);
            return emit(
                &socket,
                "login_error",
                "That name is already taken. Please choose another.",
            );
        }
        users.by_name.insert(name.to_owned(), socket.clone());
        users.by_name.keys().cloned().collect()
    };
    socket.extensions.insert(Me(name.to_owned()));
    emit(&socket, "login_success", &serde_json::json!({ "name": name, "role": "customer" }));
    broadcast_user_list(&io, names);
}

async fn on_private_message(
    socket: SocketRef,
    State(state): State<Shared>,
    Data(data): Data<serde_json::Value>,
) {
    let Some(Me(me)) = socket.extensions.get::<Me>() else {
        return emit(&socket, "error", "Please log in first.");
    };
    // As lenient as the tutorial: whatever `to` and `message` are.
    let to = data.get("to").and_then(|to| to.as_str()).unwrap_or_default().to_owned();
    let text = data.get("message").cloned().unwrap_or_default();
    let (id, recipient) = {
        let mut users = users(&state);
        let Some(recipient) = users.by_name.get(&to).cloned() else {
            drop(users);
            return emit(&socket, "error", &format!("{to} is not online."));
        };
        users.last_id += 1;
        (users.last_id, recipient)
    };
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let message = Message { id, from: &me, to: &to, message: &text, ts, mine: false };
    emit(&recipient, "message", &message);
    emit(&socket, "message", &Message { mine: true, ..message });
}

async fn on_disconnect(socket: SocketRef, io: SocketIo, State(state): State<Shared>) {
    let names = {
        let mut users = users(&state);
        let before = users.by_name.len();
        users.by_name.retain(|_, s| s.id != socket.id);
        if users.by_name.len() == before {
            return;
        }
        users.by_name.keys().cloned().collect()
    };
    broadcast_user_list(&io, names);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (layer, io) = SocketIo::builder()
        // Node's buffers are unbounded; socketioxide's default of 128 packets per socket is
        // filled by the tutorial's user_list broadcasts while thousands log in.
        .max_buffer_size(1 << 16)
        .with_state(Shared::default())
        .build_layer();
    io.ns("/", on_connect.with(register));
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(cli.addr)
        .await
        .with_context(|| format!("listening on {}", cli.addr))?;
    println!("relay listening on http://{}", cli.addr);
    axum::serve(listener, app).await.context("serving")
}

//! The Socket.IO namespace `/`: one handler per event, all registered in [`register`].
//!
//! Handlers are registered in a connect *middleware*, which socketioxide awaits before it
//! acknowledges the namespace connection; registering them in the connect handler (the
//! pattern of socketioxide's examples) loses events a fast client sends right after the
//! acknowledgement, such as the tutorial's `login` (see shared/TRAPS.md).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;

use super::turnstile::{ConnInfo, Turn, Turnstile};
use crate::auth;
use crate::hub::{Command, ConnId, Hub, Outcome, Step};
use crate::store::Store;
use app::protocol::{self, LoginPayload, PrivateMessage, Role, SendAck, UserName};
use app::text::Problem;

/// The state every handler shares.
pub struct Shared {
    live: Mutex<Live>,
    store: Arc<dyn Store>,
    next_conn: AtomicU64,
}

/// The hub and the sockets its [`ConnId`]s stand for, changed together under one lock so
/// that what the hub decides is sent in the order it decided it.
struct Live {
    hub: Hub,
    sockets: HashMap<ConnId, SocketRef>,
}

impl Shared {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            live: Mutex::new(Live { hub: Hub::new(), sockets: HashMap::new() }),
            store,
            next_conn: AtomicU64::new(1),
        }
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock leaves the hub as consistent as any single
        // command leaves it (commands mutate, then return), so keep serving.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a hub command and sends its output.
    fn apply(&self, command: Command) -> Result<Outcome, Problem> {
        let mut live = self.live();
        let step = live.hub.handle(command);
        live.deliver(step)
    }

    /// Sends a step decided outside the hub (a refusal at the edge).
    fn deliver(&self, step: Step) -> Result<Outcome, Problem> {
        self.live().deliver(step)
    }
}

impl Live {
    fn deliver(&self, step: Step) -> Result<Outcome, Problem> {
        for out in &step.outbound {
            let Some(socket) = self.sockets.get(&out.to) else {
                tracing::warn!(conn = out.to.0, event = out.event.name(), "no socket for an outbound event");
                continue;
            };
            if let Err(e) = socket.emit(out.event.name(), &out.event) {
                tracing::warn!(conn = out.to.0, sid = %socket.id, event = out.event.name(), error = %e, "emit failed");
            }
        }
        step.outcome
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Installs the namespace `/` on `io`.
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(attach));
}

/// Connect middleware: registers the connection with the hub and every event handler,
/// before the client is told it joined.
async fn attach(s: SocketRef, State(shared): State<Arc<Shared>>) -> Result<(), Infallible> {
    let conn = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    s.extensions.insert(ConnInfo { conn, turnstile: Arc::new(Turnstile::new()) });
    {
        let mut live = shared.live();
        live.sockets.insert(conn, s.clone());
        let step = live.hub.handle(Command::Connect(conn));
        let _ = live.deliver(step);
    }
    s.on(protocol::LOGIN, on_login);
    s.on(protocol::PRIVATE_MESSAGE, on_private_message);
    s.on_disconnect(on_disconnect);
    Ok(())
}

async fn on_connect(s: SocketRef) {
    tracing::debug!(sid = %s.id, transport = ?s.transport_type(), "connected");
}

async fn on_login(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<LoginPayload>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.conn;
    let parts = payload.map_err(|_| Problem::Malformed(protocol::LOGIN)).and_then(LoginPayload::into_parts);
    let (name, role, password) = match parts {
        Ok(parts) => parts,
        Err(problem) => {
            let _ = shared.deliver(Hub::refuse_login(conn, problem));
            return;
        }
    };
    let checked = match role {
        Role::Customer => check_customer(&shared, name).await,
        Role::Agent => check_agent(&shared, name, password).await,
    };
    let outcome = match checked {
        Ok(name) => shared.apply(Command::Login { conn, name, role }),
        Err(problem) => shared.deliver(Hub::refuse_login(conn, problem)),
    };
    tracing::info!(conn = conn.0, ?role, ?outcome, "login");
}

/// A customer may not take the name of an agent account, online or not.
async fn check_customer(shared: &Shared, name: UserName) -> Result<UserName, Problem> {
    match shared.store.agent(&name).await {
        Ok(None) => Ok(name),
        Ok(Some(_)) => Err(Problem::NameReserved),
        Err(e) => {
            tracing::error!(error = %e, "agent lookup failed");
            Err(Problem::Internal)
        }
    }
}

/// An agent logs in with the password of their account; the account's spelling of the
/// name is the one shown.
async fn check_agent(shared: &Shared, name: UserName, password: Option<String>) -> Result<UserName, Problem> {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(Problem::AgentPasswordMissing);
    };
    let record = shared.store.agent(&name).await.map_err(|e| {
        tracing::error!(error = %e, "agent lookup failed");
        Problem::Internal
    })?;
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    // Hashing is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, hash.as_deref()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "password check panicked");
            Problem::Internal
        })?;
    match record {
        Some(record) if ok => Ok(record.name),
        _ => Err(Problem::WrongPassword),
    }
}

async fn on_private_message(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    TryData(payload): TryData<PrivateMessage>,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.conn;
    let outcome = match payload {
        Ok(PrivateMessage { to, message }) => {
            shared.apply(Command::Send { conn, to, text: message, now_ms: now_ms() })
        }
        Err(_) => shared.deliver(Hub::refuse(conn, Problem::Malformed(protocol::PRIVATE_MESSAGE))),
    };
    let reply = match outcome {
        Ok(Outcome::Sent(id)) => SendAck::Sent { ok: true, id },
        Ok(other) => {
            tracing::debug!(conn = conn.0, ?other, "private_message without delivery");
            return;
        }
        Err(problem) => SendAck::Failed { ok: false, error: problem.to_string() },
    };
    if let Err(e) = ack.send(&reply) {
        tracing::warn!(conn = conn.0, error = %e, "ack failed");
    }
}

async fn on_disconnect(turn: Turn, State(shared): State<Arc<Shared>>) {
    let _served = turn.ticket.wait().await;
    let mut live = shared.live();
    let step = live.hub.handle(Command::Disconnect(turn.conn));
    live.sockets.remove(&turn.conn);
    let _ = live.deliver(step);
    tracing::debug!(conn = turn.conn.0, online = live.hub.online(), "disconnected");
}

//! The browser's Socket.IO connection (websocket transport, Engine.IO v4 / Socket.IO v5).
//!
//! Owns: connecting, answering pings, noticing a dead connection, reconnecting with
//! backoff, logging the participant back in after a reconnect (and after a reload, for
//! customers), and turning server events into [`ChatState`] updates.
//! Must not: render anything; the views read [`ChatState`] and send [`Command`]s.
//!
//! Why our own client: no maintained Rust Socket.IO client compiles to wasm32, and binding
//! the npm `socket.io-client` would add a JS bundle and a second definition of the protocol.
//! The websocket transport alone is enough for every browser this product supports; the
//! long-polling transport stays available on the server for tutorial-era clients.

mod session;

use futures::channel::mpsc;
use futures::future::{self, Either};
use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::protocol::LoginRequest;
use crate::state::{ChatState, Command, ConnStatus};

/// How a session ended.
pub(crate) enum End {
    /// The connection dropped or could not be made: try again after a pause.
    Lost,
    /// The person logged out: reconnect at once, logged out.
    LoggedOut,
}

/// Starts the connection and returns the sender the views use for commands.
pub fn start(state: ChatState) -> Callback<Command> {
    let (tx, rx) = mpsc::unbounded();
    spawn_local(run(state, rx));
    Callback::new(move |command| {
        if let Err(e) = tx.unbounded_send(command) {
            leptos::logging::error!("chat connection task has stopped: {e}");
        }
    })
}

/// The login to repeat after a reconnect.
pub(crate) struct Credentials {
    pub request: LoginRequest,
    /// Accepted by the server at least once: a later refusal is worth retrying (the old
    /// connection may not be gone yet), whereas a first refusal goes to the person.
    pub confirmed: bool,
    /// Automatic re-logins refused in a row.
    pub refused: u32,
}

const SAVED_LOGIN: &str = "chat.login";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// A customer's login survives a reload of the tab (not the password of an agent: that
/// never touches storage).
pub(crate) fn save_login(request: &LoginRequest) {
    if request.password.is_some() {
        return;
    }
    if let (Some(storage), Ok(json)) = (session_storage(), serde_json::to_string(request)) {
        if let Err(e) = storage.set_item(SAVED_LOGIN, &json) {
            leptos::logging::warn!("could not remember the login: {e:?}");
        }
    }
}

pub(crate) fn forget_login() {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(SAVED_LOGIN);
    }
}

fn saved_login() -> Option<LoginRequest> {
    let json = session_storage()?.get_item(SAVED_LOGIN).ok()??;
    serde_json::from_str(&json).ok()
}

fn socket_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).as_deref() == Some("https:");
    let scheme = if secure { "wss" } else { "ws" };
    format!("{scheme}://{host}/socket.io/?EIO=4&transport=websocket")
}

/// Backoff after the `attempt`-th failure in a row: 0.5 s doubling to 10 s, with jitter so
/// that a restarted server is not met by every browser at the same instant.
fn backoff_ms(attempt: u32) -> u32 {
    let base = 500u32.saturating_mul(1 << attempt.min(5)).min(10_000);
    let jitter = (js_sys::Math::random() * f64::from(base) * 0.3) as u32;
    base - base / 5 + jitter
}

async fn run(state: ChatState, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut credentials = saved_login().map(|request| {
        state.logging_in.set(true);
        Credentials { request, confirmed: true, refused: 0 }
    });
    let mut failures = 0u32;
    loop {
        state.conn.set(ConnStatus::Connecting);
        let end = session::run(&socket_url(), state, &mut commands, &mut credentials, &mut failures).await;
        match end {
            End::LoggedOut => continue,
            End::Lost => {
                let wait = backoff_ms(failures);
                failures = failures.saturating_add(1);
                let deadline = js_sys::Date::now() + f64::from(wait);
                loop {
                    let left = deadline - js_sys::Date::now();
                    if left <= 0.0 {
                        break;
                    }
                    state.conn.set(ConnStatus::Reconnecting { in_secs: (left / 1000.0).ceil() as u32 });
                    let tick = gloo_timers::future::TimeoutFuture::new(left.min(1000.0) as u32);
                    // A command given meanwhile (a login, say) is taken now and acted on
                    // once connected.
                    if let Either::Right((Some(command), _)) = future::select(tick, commands.next()).await {
                        session::while_offline(state, command, &mut credentials);
                    }
                }
            }
        }
    }
}

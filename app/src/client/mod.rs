//! The browser's Socket.IO connection (Engine.IO v4 / Socket.IO v5, over a websocket or
//! long-polling: see `transport.rs`).
//!
//! Owns: connecting, answering pings, noticing a dead connection, reconnecting with
//! backoff, resuming the session after a reconnect or a reload (with the cursors of what
//! the page holds, so that nothing is missed or repeated), sending the outbox once logged
//! in, and turning server events into [`ChatState`] updates.
//! Must not: render anything; the views read [`ChatState`] and send [`Command`]s.
//!
//! Why our own client: no maintained Rust Socket.IO client compiles to wasm32, and binding
//! the npm `socket.io-client` would add a JS bundle and a second definition of the protocol.
//! Long-polling is for networks that let no websocket through (proxies, firewalls); every
//! browser this product supports has websockets.

pub mod console;
pub mod files;
pub mod notify;
pub mod reports;
mod session;
mod transport;

use futures::channel::mpsc;
use futures::future::{self, Either};
use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::protocol::{
    AgentCredentials, AgentSession, AgentStatus, ClientMsgId, FirstAdmin, HostIdentity,
    LoginRequest, Role, Visit, SESSION_PATH, SETUP_ADMIN_PATH,
};
use crate::state::{ChatState, Command, ConnStatus};

/// How a session ended.
pub(crate) enum End {
    /// The connection dropped or could not be made: try again after a pause.
    Lost,
    /// The person logged out: reconnect at once, logged out.
    LoggedOut,
    /// An agent asked to log in: that happens over HTTP (see [`agent_login`]), then a new
    /// connection carries the session cookie.
    AgentLogin(LoginRequest),
    /// The first run: the first admin is created over HTTP (see [`set_up`]), then logged in
    /// as an agent's login is.
    SetUp { token: String, login: LoginRequest },
}

/// Starts the connection and returns the sender the views use for commands.
/// `vouched`: the customer the widget's host site signed (their name and identity), who is
/// logged in at once, rather than any session this tab saved.
pub fn start(state: ChatState, vouched: Option<(String, HostIdentity)>) -> Callback<Command> {
    let (tx, rx) = mpsc::unbounded();
    spawn_local(run(state, rx, vouched));
    Callback::new(move |command| {
        if let Err(e) = tx.unbounded_send(command) {
            leptos::logging::error!("chat connection task has stopped: {e}");
        }
    })
}

/// The login to repeat after a reconnect: the name and role, and once the server has
/// accepted it, the resume token that brings back the same identity.
pub(crate) struct Credentials {
    pub name: String,
    pub role: Role,
    /// Only until the first login succeeds: afterwards the resume token stands in for it.
    pub password: Option<String>,
    pub resume: Option<String>,
    /// A customer the widget's host site vouches for; sent until a resume token stands in.
    pub identity: Option<HostIdentity>,
    /// An agent's status chosen while there was no connection: said as soon as the next
    /// login is through (another tab of theirs online would otherwise keep the older one).
    pub unsent_status: Option<AgentStatus>,
    /// The e-mail address a customer gave in the widget's pre-chat form, said at each login
    /// (it goes on their profile, for the agents).
    pub email: Option<String>,
}

impl Credentials {
    /// The `login` to send now: with the cursors of what the page holds, so that the
    /// server sends exactly what is missing.
    pub fn request(&self, state: ChatState) -> LoginRequest {
        LoginRequest {
            name: self.name.clone(),
            role: self.role,
            password: self.password.clone(),
            resume: self.resume.clone(),
            since: state.inbox.with_untracked(|i| i.cursors()),
            identity: self.identity.clone().filter(|_| self.resume.is_none()),
            status: state.my_status.get_untracked().filter(|_| self.role == Role::Agent),
            visit: (self.role == Role::Customer).then(|| Box::new(visit(self.email.clone()))),
        }
    }
}

/// What a customer's browser says of itself at login: the page the chat was opened on (the
/// host site's, passed by `widget.js` in the frame's fragment, else this one's), the
/// browser's language and time zone; with the e-mail address they gave.
fn visit(email: Option<String>) -> Visit {
    let window = web_sys::window();
    let location = window.as_ref().map(web_sys::Window::location);
    let host_page = location.as_ref().and_then(|l| l.hash().ok()).and_then(|fragment| {
        web_sys::UrlSearchParams::new_with_str(fragment.trim_start_matches('#')).ok()?.get("page")
    });
    let own_page = || {
        let l = location.as_ref()?;
        Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?))
    };
    let language = window.as_ref().and_then(|w| w.navigator().language());
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    let time_zone =
        js_sys::Reflect::get(&options, &"timeZone".into()).ok().and_then(|z| z.as_string());
    Visit { email, page: host_page.or_else(own_page), language, time_zone }
}

/// A login as the form gave it: no resume token yet.
impl From<LoginRequest> for Credentials {
    fn from(request: LoginRequest) -> Self {
        Self {
            name: request.name,
            role: request.role,
            password: request.password,
            resume: None,
            identity: request.identity,
            unsent_status: None,
            email: request.visit.and_then(|v| v.email),
        }
    }
}

/// What survives a reload: for customers in `localStorage` (a visit days later is the
/// same person) with their resume token; for agents in `sessionStorage` (this tab only)
/// just that this tab is an agent's, whose session token is in an `HttpOnly` cookie that
/// no script can read. Never a password.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    name: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<String>,
    /// An agent's status, said again when this tab is reloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<AgentStatus>,
}

const SAVED_SESSION: &str = "chat.session";

fn storage(role: Role) -> Option<web_sys::Storage> {
    let window = web_sys::window()?;
    let storage = match role {
        Role::Customer => window.local_storage(),
        Role::Agent => window.session_storage(),
    };
    storage.ok().flatten()
}

pub(crate) fn save_session(credentials: &Credentials, status: Option<AgentStatus>) {
    let resume = credentials.resume.clone();
    if resume.is_none() && credentials.role == Role::Customer {
        return;
    }
    let status = status.filter(|_| credentials.role == Role::Agent);
    let saved = Saved { name: credentials.name.clone(), role: credentials.role, resume, status };
    if let (Some(storage), Ok(json)) = (storage(saved.role), serde_json::to_string(&saved)) {
        if let Err(e) = storage.set_item(SAVED_SESSION, &json) {
            leptos::logging::warn!("could not remember the session: {e:?}");
        }
    }
}

/// An agent's status: shown, said again by the next login, and kept across a reload of
/// this tab.
pub(crate) fn remember_status(
    state: ChatState,
    credentials: Option<&Credentials>,
    status: AgentStatus,
) {
    state.my_status.set(Some(status));
    if let Some(c) = credentials {
        save_session(c, Some(status));
    }
}

pub(crate) fn forget_session() {
    for role in [Role::Customer, Role::Agent] {
        if let Some(storage) = storage(role) {
            if let Err(e) = storage.remove_item(SAVED_SESSION) {
                leptos::logging::warn!("could not forget the session: {e:?}");
            }
        }
    }
}

/// This tab's agent session first (an agent tab on a customer's machine), then a
/// customer's; with the agent's status.
fn saved_session() -> Option<(Credentials, Option<AgentStatus>)> {
    [Role::Agent, Role::Customer].into_iter().find_map(|role| {
        let json = storage(role)?.get_item(SAVED_SESSION).ok()??;
        let saved: Saved = serde_json::from_str(&json).ok()?;
        let credentials = Credentials {
            name: saved.name,
            role: saved.role,
            password: None,
            resume: saved.resume,
            identity: None,
            unsent_status: None,
            email: None,
        };
        Some((credentials, saved.status))
    })
}

/// A fresh id for a message written here (the server stores a message once per id).
pub(crate) fn new_client_id() -> ClientMsgId {
    let now = js_sys::Date::now() as u64;
    let random = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
    ClientMsgId::parse(&format!("w{now:x}-{random:x}"))
        .expect("hex digits and '-' are valid in a client id")
}

/// Logs an agent in over HTTP: the server checks the password and sets the session
/// cookie, which the next connection's handshake carries. Returns why not, in words.
async fn agent_login(request: &LoginRequest, lang: crate::text::Lang) -> Result<(), String> {
    let credentials = AgentCredentials {
        name: request.name.clone(),
        password: request.password.clone().unwrap_or_default(),
    };
    post_for_session(SESSION_PATH, &credentials, lang).await
}

/// The first run: creates the first admin with the setup link's token, then logs them in.
async fn set_up(
    state: ChatState,
    token: String,
    login: LoginRequest,
    credentials: &mut Option<Credentials>,
) {
    state.logging_in.set(true);
    state.login_error.set(None);
    let admin = FirstAdmin {
        token,
        name: login.name.clone(),
        password: login.password.clone().unwrap_or_default(),
    };
    match post_for_session(SETUP_ADMIN_PATH, &admin, state.lang.get_untracked()).await {
        Ok(()) => log_agent_in(state, login, credentials).await,
        Err(reason) => {
            state.logging_in.set(false);
            state.login_error.set(Some(reason));
        }
    }
}

/// `POST`s `body` as JSON to `path`, which answers an [`AgentSession`]: `Ok` if it says
/// logged in (or created), otherwise why not, in words.
async fn post_for_session(
    path: &str,
    body: &impl serde::Serialize,
    lang: crate::text::Lang,
) -> Result<(), String> {
    let sent =
        gloo_net::http::Request::post(path).json(body).map_err(|e| e.to_string())?.send().await;
    let response = sent.map_err(|e| {
        leptos::logging::warn!("{path} request failed: {e}");
        lang.ui().cannot_reach_server.to_owned()
    })?;
    match response.json::<AgentSession>().await {
        Ok(AgentSession::LoggedIn { .. }) if response.ok() => Ok(()),
        Ok(AgentSession::Refused { error, problem }) => {
            Err(problem.map_or(error, |p| p.in_lang(lang)))
        }
        other => {
            leptos::logging::warn!(
                "unexpected answer from {path} ({}): {other:?}",
                response.status()
            );
            Err(crate::protocol::Problem::Internal.in_lang(lang))
        }
    }
}

/// Ends an agent's cookie session on the server, which also clears the cookie; the
/// socket's `logout` revokes it too, but this works without a connection.
pub(crate) fn end_agent_session() {
    spawn_local(async {
        if let Err(e) = gloo_net::http::Request::delete(SESSION_PATH).send().await {
            leptos::logging::warn!("could not end the agent session: {e}");
        }
    });
}

/// Runs an agent login; on success the next connection logs in by the cookie.
async fn log_agent_in(
    state: ChatState,
    request: LoginRequest,
    credentials: &mut Option<Credentials>,
) {
    state.logging_in.set(true);
    state.login_error.set(None);
    match agent_login(&request, state.lang.get_untracked()).await {
        Ok(()) => {
            let agent = Credentials {
                name: request.name,
                role: Role::Agent,
                password: None,
                resume: None,
                identity: None,
                unsent_status: None,
                email: None,
            };
            // The customers' bundle has no console (components/mod.rs): the page loads again
            // and gets the agents' bundle (the session cookie now says whose page it is),
            // which logs in by the cookie and this tab's saved session. Before this bundle
            // logs in, so that nothing the server sends a new agent is sent for nothing.
            #[cfg(not(feature = "console"))]
            {
                save_session(&agent, None);
                if load_console() {
                    return;
                }
            }
            *credentials = Some(agent);
        }
        Err(reason) => {
            state.logging_in.set(false);
            state.login_error.set(Some(reason));
        }
    }
}

/// Loads the page again, for the agents' bundle (an agent's page in the customers' bundle:
/// see [`log_agent_in`]). Navigated to by this page (not a reload) so that the browser sends
/// the `SameSite=Strict` session cookie, which is how the server tells an agent's page. At
/// most once in ten seconds per tab: a browser that still sent no cookie would otherwise
/// load the page for ever (the agent then stays on the customers' view, and can reload).
/// Returns whether a navigation was started.
#[cfg(not(feature = "console"))]
pub(crate) fn load_console() -> bool {
    const LOADED: &str = "chat.console-loaded";
    let Some(window) = web_sys::window() else { return false };
    // Whole milliseconds: a float's text and parsing would add 12 KB (brotli) to the bundle.
    let now = js_sys::Date::now() as u64;
    let storage = window.session_storage().ok().flatten();
    let last = storage.as_ref().and_then(|s| s.get_item(LOADED).ok().flatten());
    if last.and_then(|t| t.parse::<u64>().ok()).is_some_and(|t| now.saturating_sub(t) < 10_000) {
        leptos::logging::warn!("the page was loaded for the console moments ago: not again");
        return false;
    }
    // Unnoted, a load that again got the customers' bundle would load it again for ever.
    match storage.map(|s| s.set_item(LOADED, &now.to_string())) {
        Some(Ok(())) => {}
        other => {
            leptos::logging::warn!("cannot note the console's load ({other:?}): not loading it");
            return false;
        }
    }
    let location = window.location();
    // Without the fragment: to the same address with one, the browser would only scroll.
    let address = location.href().map(|href| href.split('#').next().unwrap_or_default().to_owned());
    match address.and_then(|address| location.assign(&address)) {
        Ok(()) => true,
        Err(e) => {
            leptos::logging::warn!("cannot load the console: {e:?}");
            false
        }
    }
}

/// Backoff after the `attempt`-th failure in a row: 0.5 s doubling to 10 s, with jitter so
/// that a restarted server is not met by every browser at the same instant.
fn backoff_ms(attempt: u32) -> u32 {
    let base = 500u32.saturating_mul(1 << attempt.min(5)).min(10_000);
    let jitter = (js_sys::Math::random() * f64::from(base) * 0.3) as u32;
    base - base / 5 + jitter
}

async fn run(
    state: ChatState,
    mut commands: mpsc::UnboundedReceiver<Command>,
    vouched: Option<(String, HostIdentity)>,
) {
    let vouched = vouched.map(|(name, identity)| Credentials {
        name,
        role: Role::Customer,
        password: None,
        resume: None,
        identity: Some(identity),
        unsent_status: None,
        email: None,
    });
    let mut credentials = vouched.or_else(|| {
        let (credentials, status) = saved_session()?;
        state.my_status.set(status);
        Some(credentials)
    });
    if credentials.is_some() {
        state.logging_in.set(true);
    }
    let mut failures = 0u32;
    loop {
        state.conn.set(ConnStatus::Connecting);
        let end = session::run(state, &mut commands, &mut credentials, &mut failures).await;
        match end {
            End::LoggedOut => continue,
            End::AgentLogin(request) => log_agent_in(state, request, &mut credentials).await,
            End::SetUp { token, login } => set_up(state, token, login, &mut credentials).await,
            End::Lost => {
                let wait = backoff_ms(failures);
                failures = failures.saturating_add(1);
                let deadline = js_sys::Date::now() + f64::from(wait);
                loop {
                    let left = deadline - js_sys::Date::now();
                    if left <= 0.0 {
                        break;
                    }
                    state
                        .conn
                        .set(ConnStatus::Reconnecting { in_secs: (left / 1000.0).ceil() as u32 });
                    let tick = gloo_timers::future::TimeoutFuture::new(left.min(1000.0) as u32);
                    // A command given meanwhile (a login, say) is taken now and acted on
                    // once connected.
                    match future::select(tick, commands.next()).await {
                        Either::Right((Some(Command::Login(request)), _))
                            if request.role == Role::Agent =>
                        {
                            // The server answers over HTTP if it is back: try now.
                            log_agent_in(state, request, &mut credentials).await;
                            break;
                        }
                        Either::Right((Some(Command::SetUp { token, login }), _)) => {
                            set_up(state, token, login, &mut credentials).await;
                            break;
                        }
                        Either::Right((Some(command), _)) => {
                            session::while_offline(state, command, &mut credentials)
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

//! The Socket.IO namespace `/`: one handler per event, all registered in [`attach`].
//!
//! Handlers are registered in a connect *middleware*, which socketioxide awaits before it
//! acknowledges the namespace connection; registering them in the connect handler (the
//! pattern of socketioxide's examples) loses events a fast client sends right after the
//! acknowledgement, such as the tutorial's `login` (see docs/traps.md).
//!
//! A login is established here (password, resume token, or a new customer), then joins
//! through the [`pipeline`](super::pipeline); a message is planned by the hub here, then
//! stored and delivered by the pipeline, and acknowledged once stored.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use tokio::sync::{mpsc, oneshot};

use super::cluster::Cluster;
use super::live::{Applied, Effect, Item, Live, Told, CONN_BITS};
use super::pipeline::{self, Job};
use super::registrar::{self, Registration};
use super::turnstile::{ConnInfo, Turn};
use crate::auth;
use crate::hub::{Command, ConnId, Hub, Login, Outcome, Step};
use crate::limits::{Address, Limits};
use crate::model::{AgentKey, Assignee, ConversationMeta, Identity};
use crate::store::{AgentRecord, SessionOwner, Store, StoreError};
use app::protocol::{
    self, AgentRef, AwayRequest, CannedRef, CannedReply, ConversationId, ConversationRef, History, HistoryRequest, LoginIntent,
    LoginPayload, MessageText, NewAgent, NoteRequest, PrivateMessage, ReadUpTo, Role, SendAck, ServerEvent, Transfer,
    TypingRequest, UserName,
};
use app::text::Problem;

/// Internal notes sent with a conversation to an agent (the newest).
pub(super) const NOTES_SENT: u32 = 100;

/// Conversations an agent is sent at login (the most recently active).
const AGENT_CONVERSATIONS: u32 = 100;

/// The state every handler shares.
pub struct Shared {
    live: Mutex<Live>,
    /// The other nodes, when there are (see [`super::cluster`]).
    cluster: Option<Arc<Cluster>>,
    pub(super) store: Arc<dyn Store>,
    next_conn: AtomicU64,
    pipeline: mpsc::Sender<Job>,
    registrar: mpsc::Sender<Registration>,
    /// See [`crate::Settings::agent_grace`].
    agent_grace: std::time::Duration,
    pub(super) limits: Limits,
    addresses: Mutex<Addresses>,
    pub(super) trust_forwarded_for: bool,
    /// See [`crate::Settings::widget_secret`].
    widget_secret: Option<Vec<u8>>,
    /// See [`crate::Settings::office_hours`].
    office_hours: Option<crate::hours::OfficeHours>,
    /// Password hashes and checks running now (see [`Shared::hashing`]).
    hashing: tokio::sync::Semaphore,
    /// Messages taken in before the shutdown began whose sender has not been answered
    /// yet, and the signal that the count went down (see [`Shared::drain`]).
    sending: AtomicUsize,
    answered: tokio::sync::Notify,
    /// Set when the shutdown begins: later messages are not waited for.
    draining: AtomicBool,
}

/// Counts one message as being sent until it is dropped (after its acknowledgement).
struct Sending<'a>(Option<&'a Shared>);

impl<'a> Sending<'a> {
    fn new(shared: &'a Shared) -> Self {
        if shared.draining.load(Ordering::SeqCst) {
            return Self(None);
        }
        shared.sending.fetch_add(1, Ordering::SeqCst);
        Self(Some(shared))
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            shared.sending.fetch_sub(1, Ordering::SeqCst);
            shared.answered.notify_waiters();
        }
    }
}

/// Password hashes and checks that may run at once.
const HASHING_AT_ONCE: usize = 4;

/// What is remembered per client address; forgotten once there is nothing to remember.
#[derive(Default)]
struct Addresses {
    known: HashMap<IpAddr, Address>,
    /// How many addresses may be known before the idle ones are swept out.
    sweep_at: usize,
}

/// Addresses remembered before the first sweep.
const ADDRESSES_SWEPT_AT: usize = 4096;

/// The hash of the session token a connection logged in with, for `logout`.
#[derive(Clone)]
struct SessionHash(String);

impl Shared {
    /// The shared state (with the conversations waiting in `queue`), and the pipeline
    /// task that runs with it. In a cluster, the hub starts as the others' (`hub`, from their
    /// snapshot), and the queue is learnt through the cluster once it is joined (`queue` is
    /// empty then).
    pub fn new(
        store: Arc<dyn Store>,
        settings: &crate::Settings,
        queue: Vec<ConversationMeta>,
        cluster: Option<(Arc<Cluster>, Option<Hub>)>,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(pipeline::QUEUE);
        let (registrar_tx, registrar_rx) = mpsc::channel(registrar::QUEUE);
        let (cluster, hub) = match cluster {
            Some((cluster, hub)) => (Some(cluster), hub),
            None => (None, None),
        };
        let mut hub = hub.unwrap_or_else(|| Hub::with_capacity(settings.capacity));
        hub.set_away_after(settings.away_after.as_millis() as u64);
        for meta in queue {
            hub.learn(meta);
        }
        let node = cluster.as_ref().map_or(0, |c| c.node());
        let shared = Arc::new(Self {
            live: Mutex::new(Live::new(hub, node)),
            cluster,
            store,
            next_conn: AtomicU64::new((node << CONN_BITS) | 1),
            pipeline: tx,
            registrar: registrar_tx,
            agent_grace: settings.agent_grace,
            limits: settings.limits.clone(),
            addresses: Mutex::new(Addresses { known: HashMap::new(), sweep_at: ADDRESSES_SWEPT_AT }),
            trust_forwarded_for: settings.trust_forwarded_for,
            widget_secret: settings.widget_secret.as_ref().map(|s| s.as_bytes().to_vec()),
            office_hours: settings.office_hours.clone(),
            hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE),
            sending: AtomicUsize::new(0),
            answered: tokio::sync::Notify::new(),
            draining: AtomicBool::new(false),
        });
        // The tasks hold the state weakly: each ends when the state (and with it the
        // channel's sender) is dropped.
        tokio::spawn(pipeline::run(Arc::downgrade(&shared), rx));
        tokio::spawn(registrar::run(Arc::downgrade(&shared), registrar_rx));
        shared
    }

    pub(super) fn live(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock leaves the hub as consistent as any single
        // command leaves it (commands mutate, then return), so keep serving.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on what is remembered about the client address `ip`, at the current time;
    /// `None` when the address is unknown (no limits per address then).
    pub(super) fn at_address<T>(&self, ip: Option<IpAddr>, f: impl FnOnce(&mut Address, &Limits, u64) -> T) -> Option<T> {
        let ip = ip?;
        let now = now_ms();
        let mut addresses = self.addresses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if addresses.known.len() >= addresses.sweep_at && !addresses.known.contains_key(&ip) {
            addresses.known.retain(|_, a| !a.is_idle(&self.limits, now));
            addresses.sweep_at = (addresses.known.len() * 2).max(ADDRESSES_SWEPT_AT);
        }
        Some(f(addresses.known.entry(ip).or_default(), &self.limits, now))
    }

    /// Whether a message from this connection is over its rate (its own; for customers,
    /// also their address's): the seconds to wait, if so.
    fn message_limited(&self, conn: ConnId, info: &ConnInfo) -> Option<u64> {
        let agent = matches!(self.live().hub.identity(conn), Some(Identity::Agent(_)));
        let rate = if agent { self.limits.agent_messages } else { self.limits.customer_messages };
        if let Err(wait_s) = info.take(|b| &mut b.messages, rate) {
            return Some(wait_s);
        }
        if agent {
            return None;
        }
        self.at_address(info.ip, |a, limits, now| a.message(limits, now)).and_then(Result::err)
    }

    /// Runs a password hash or check: on a blocking thread (it is deliberately slow), and
    /// only a few at once (each takes argon2id's 19 MiB of memory: a flood of logins from
    /// many addresses must not take the server's memory with it).
    async fn hashing<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Problem> {
        let _permit = self.hashing.acquire().await.map_err(|_| Problem::Internal)?;
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            tracing::error!(error = %e, "password hashing panicked");
            Problem::Internal
        })
    }

    /// Applies items to the live state: here, or (in a cluster) on every node in the
    /// order of the cluster's stream. Returns what each did here.
    pub(super) async fn apply(&self, items: Vec<Item>) -> Vec<Applied> {
        match &self.cluster {
            Some(cluster) => {
                // Logins that could not go through the cluster are told so here (the hub
                // tells those it refuses).
                let logins: Vec<ConnId> = items
                    .iter()
                    .filter_map(|item| match item {
                        Item::Hub(Command::Login(login)) => Some(login.conn),
                        _ => None,
                    })
                    .collect();
                let n = items.len();
                cluster.publish(items).await.unwrap_or_else(|problem| {
                    let mut live = self.live();
                    for conn in logins {
                        let _ = live.deliver(Hub::refuse_login(conn, problem.clone()));
                    }
                    (0..n).map(|_| (Err(problem.clone()), vec![])).collect()
                })
            }
            None => {
                let (applied, effects) = self.live().apply(items);
                self.follow_up(effects).await;
                applied
            }
        }
    }

    pub(super) async fn apply_one(&self, item: Item) -> Applied {
        self.apply(vec![item]).await.pop().unwrap_or((Err(Problem::Internal), vec![]))
    }

    /// Does what applying items left for afterwards.
    pub(super) async fn follow_up(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Close(sockets) => {
                    for socket in sockets {
                        let _ = socket.emit(protocol::ERROR, &app::text::Refusal::from(Problem::SessionExpired));
                        if let Err(e) = socket.disconnect() {
                            tracing::debug!(error = %e, "closing a removed agent's socket");
                        }
                    }
                }
                Effect::HandOver(meta) => self.hand_over(&meta).await,
                Effect::Fenced => {
                    // Its connections no longer count anywhere: the honest way out is to
                    // stop, so that its clients reconnect to a node that counts them.
                    tracing::error!("the other nodes declared this node gone (it did not answer in time): exiting");
                    std::process::exit(70);
                }
            }
        }
    }

    /// At a graceful shutdown, tells the other nodes of a cluster that this one leaves.
    pub async fn leave_cluster(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
    }

    pub(super) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Sends a step decided outside the hub (a refusal at the edge).
    pub(super) fn deliver(&self, step: Step) -> Result<Outcome, Problem> {
        self.live().deliver(step)
    }

    /// Makes sure the hub knows conversation `id` if it exists, when an agent asks for it:
    /// an agent may open one that was not among those sent at login (only the most recent
    /// are). Customers only ever have their own, known since their login.
    async fn recall(&self, conn: ConnId, id: ConversationId) {
        {
            let live = self.live();
            if live.hub.knows(id) || !matches!(live.hub.identity(conn), Some(Identity::Agent(_))) {
                return;
            }
        }
        match self.store.conversation(id).await {
            Ok(Some(meta)) => {
                // A failure was logged; the request then finds the conversation unknown.
                let _ = self.apply_one(Item::Learn(meta)).await;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, conversation = id.0, "reading a conversation failed"),
        }
    }

    /// Stores the conversations a step changed. Changes may be stored out of order: the
    /// store keeps the newest version.
    pub(super) async fn keep(&self, changed: Vec<ConversationMeta>) {
        for meta in changed {
            if let Err(e) = self.store.set_state(&meta).await {
                tracing::error!(error = %e, conversation = meta.id.0, "storing a conversation's state failed");
            }
        }
    }

    /// Sends `agent` (every tab) the newest page of a conversation handed to them: after a
    /// transfer they may never have seen it. (The queue and a take only give agents
    /// conversations they hold already: waiting conversations go to every agent.)
    async fn hand_over(&self, meta: &ConversationMeta) {
        let Some(assignee) = meta.assignee.as_ref() else { return };
        let agent = Identity::Agent(assignee.key.clone());
        if self.live().hub.connections(&agent).is_empty() {
            return;
        }
        match self.store.messages_before(meta.id, None, protocol::HISTORY_PAGE).await {
            Ok(page) => {
                let messages = page.messages.iter().map(|m| m.to_wire(&meta.customer_name, &agent)).collect();
                let history = ServerEvent::History(History {
                    conversation: meta.id,
                    customer: meta.customer_name.clone(),
                    messages,
                    more: page.more,
                    notes: self.store.notes(meta.id, NOTES_SENT).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, "reading notes failed");
                        vec![]
                    }),
                    read: 0,
                });
                let upto = page.messages.last().map(|m| m.seq);
                let mut live = self.live();
                for conn in live.hub.connections(&agent) {
                    live.emit(conn, &history);
                    if let Some(seq) = upto {
                        live.cover(conn, meta.id, seq);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, conversation = meta.id.0, "reading history failed"),
        }
    }

    /// At shutdown, before the connections close: stores and delivers every message
    /// already taken in, and waits (up to `within`) until each of their senders has the
    /// acknowledgement, so that nobody is left wondering whether a message went through.
    /// Messages that arrive meanwhile are stored as usual but not waited for.
    pub async fn drain(&self, within: std::time::Duration) {
        self.draining.store(true, Ordering::SeqCst);
        let settled = async {
            if let Err(problem) = self.through(&self.pipeline, |reply| Job::Flush { reply }).await {
                tracing::error!(?problem, "flushing the pipeline at shutdown failed");
            }
            loop {
                let answered = self.answered.notified();
                if self.sending.load(Ordering::SeqCst) == 0 {
                    break;
                }
                answered.await;
            }
        };
        if tokio::time::timeout(within, settled).await.is_err() {
            let left = self.sending.load(Ordering::SeqCst);
            tracing::warn!(left, "shutdown: some senders were not answered in time; their clients will send again");
        }
    }

    /// Hands a job to one of the tasks (the pipeline, the registrar) and waits for its answer.
    async fn through<J, T>(&self, task: &mpsc::Sender<J>, job: impl FnOnce(oneshot::Sender<Result<T, Problem>>) -> J) -> Result<T, Problem> {
        let (tx, rx) = oneshot::channel();
        if task.send(job(tx)).await.is_err() {
            tracing::error!("a storage task has stopped");
            return Err(Problem::Internal);
        }
        rx.await.unwrap_or_else(|_| {
            tracing::error!("a storage task dropped a job");
            Err(Problem::Internal)
        })
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Installs the namespace `/` on `io`.
pub fn register(io: &SocketIo) {
    io.ns("/", on_connect.with(attach));
}

impl Shared {
    /// The client's address: the TCP peer's, or behind a trusted proxy the last hop of
    /// `X-Forwarded-For`.
    pub(super) fn client_ip(&self, headers: &axum::http::HeaderMap, extensions: &axum::http::Extensions) -> Option<IpAddr> {
        let forwarded = || {
            let header = headers.get("x-forwarded-for")?.to_str().ok()?;
            header.rsplit(',').next()?.trim().parse().ok()
        };
        if self.trust_forwarded_for {
            if let Some(ip) = forwarded() {
                return Some(ip);
            }
        }
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
    }

    /// Whether another login (over the socket or HTTP) may be tried from `ip` now.
    pub(super) fn may_log_in(&self, ip: Option<IpAddr>) -> Result<(), Problem> {
        match self.at_address(ip, |a, limits, now| a.login(limits, now)) {
            Some(Err(wait_s)) => {
                tracing::warn!(?ip, "login refused: too many from one address");
                Err(Problem::SlowDown(wait_s))
            }
            _ => Ok(()),
        }
    }
}

/// Connect middleware: registers the connection with the hub and every event handler,
/// before the client is told it joined; refuses an address with too many connections.
async fn attach(s: SocketRef, State(shared): State<Arc<Shared>>) -> Result<(), Problem> {
    let ip = shared.client_ip(&s.req_parts().headers, &s.req_parts().extensions);
    if shared.at_address(ip, |a, limits, _| a.connect(limits)) == Some(Err(())) {
        tracing::warn!(?ip, "refused a connection: too many from one address");
        return Err(Problem::TooManyConnections);
    }
    let conn = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    s.extensions.insert(ConnInfo::new(conn, ip, shared.limits.events));
    shared.live().attach(conn, s.clone());
    if let (Err(problem), _) = shared.apply_one(Item::Hub(Command::Connect(conn))).await {
        // Unknown to the hub (the cluster could not take it), it could never log in.
        shared.live().detach(conn);
        shared.at_address(ip, |a, _, _| a.disconnect());
        return Err(problem);
    }
    s.on(protocol::LOGIN, on_login);
    s.on(protocol::PRIVATE_MESSAGE, on_private_message);
    s.on(protocol::HISTORY, on_history);
    s.on(protocol::LOGOUT, on_logout);
    s.on(protocol::TAKE, on_take);
    s.on(protocol::RESOLVE, on_resolve);
    s.on(protocol::TRANSFER, on_transfer);
    s.on(protocol::TYPING, on_typing);
    s.on(protocol::NOTE, on_note);
    s.on(protocol::READ, on_read);
    s.on(protocol::AWAY, on_away);
    s.on(protocol::AGENT_ADD, on_agent_add);
    s.on(protocol::AGENT_REMOVE, on_agent_remove);
    s.on(protocol::CANNED_SET, on_canned_set);
    s.on(protocol::CANNED_REMOVE, on_canned_remove);
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
    let _ = shared.deliver(Hub::refuse(turn.info.conn, Problem::UnknownEvent(shown)));
}

async fn on_login(s: SocketRef, turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<LoginPayload>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let ip = turn.info.ip;
    if let Err(problem) = shared.may_log_in(ip) {
        let outcome = shared.deliver(Hub::refuse_login(conn, problem));
        tracing::debug!(conn = conn.0, ?outcome, "login refused");
        return;
    }
    let intent = payload.map_err(|_| Problem::Malformed(protocol::LOGIN.into())).and_then(LoginPayload::into_intent);
    let role = intent.as_ref().map(|i| i.role).ok();
    let outcome = match intent {
        Err(problem) => shared.deliver(Hub::refuse_login(conn, problem)),
        Ok(intent) => {
            let since = intent.since.clone();
            let cookie = super::cookie::token_in(&s.req_parts().headers);
            match establish(&shared, conn, ip, intent, cookie).await {
                Err(problem) => shared.deliver(Hub::refuse_login(conn, problem)),
                Ok((entry, hash)) => {
                    let (agent, admin) = match &entry {
                        Entry::Known(login) => (matches!(login.who, Identity::Agent(_)), login.admin),
                        Entry::New { .. } => (false, false),
                    };
                    let outcome = match entry {
                        Entry::New { name, token, external } => {
                            let token_hash = hash.clone();
                            shared
                                .through(&shared.registrar, |reply| Registration { conn, name, token, token_hash, external, reply })
                                .await
                        }
                        Entry::Known(login) => shared.through(&shared.pipeline, |reply| Job::Join { login, since, reply }).await,
                    };
                    if outcome == Ok(Outcome::LoggedIn) {
                        s.extensions.insert(SessionHash(hash));
                        if let (false, Some(hours)) = (agent, &shared.office_hours) {
                            let office = protocol::OfficeStatus { open: hours.is_open(now_ms()), hours: hours.to_string() };
                            shared.live().emit(conn, &ServerEvent::Office(office));
                        }
                        if agent {
                            match shared.store.canned().await {
                                Ok(replies) => shared.live().emit(conn, &ServerEvent::Canned(replies)),
                                Err(e) => tracing::error!(error = %e, "reading canned replies failed"),
                            }
                        }
                        if admin {
                            shared.send_team(Some(conn)).await;
                        }
                    }
                    outcome
                }
            }
        }
    };
    tracing::info!(conn = conn.0, ?role, ?outcome, "login");
}

/// Who is logging in, as far as [`establish`] can tell.
enum Entry {
    /// Someone known: an agent, or a customer who resumed.
    Known(Login),
    /// A new customer, for the [`registrar`] to create (with the host site's user id, when
    /// the site vouched for them).
    New { name: UserName, token: String, external: Option<String> },
}

/// Works out who is logging in: the owner of a valid resume token, an agent with the
/// right password or (given neither) the session cookie the handshake carried, or a new
/// customer. Returns who it is and their session's token hash.
async fn establish(
    shared: &Shared,
    conn: ConnId,
    ip: Option<IpAddr>,
    intent: LoginIntent,
    cookie: Option<String>,
) -> Result<(Entry, String), Problem> {
    let LoginIntent { name, role, password, resume, identity, .. } = intent;
    let now = now_ms();
    if let Some(identity) = identity {
        // A customer the host site vouches for: the same record whenever they come back,
        // from any device.
        let name = name.filter(|_| role == Role::Customer).ok_or(Problem::IdentityInvalid)?;
        let secret = shared.widget_secret.as_deref().ok_or(Problem::IdentityNotAccepted)?;
        let signed = identity.sig.as_deref().is_some_and(|sig| auth::host_identity_signed(secret, &identity.id, name.as_str(), sig));
        if !signed {
            tracing::warn!(?ip, "refused a host identity with a missing or wrong signature");
            return Err(Problem::IdentityInvalid);
        }
        let (token, hash) = new_token()?;
        return match shared.store.external_customer(&identity.id).await.map_err(internal("looking up a host's user"))? {
            Some(customer) => {
                shared.store.create_customer_session(customer, &hash, now).await.map_err(internal("opening a session"))?;
                let (login, hash) = resumed(shared, conn, &token, Role::Customer, now).await?.ok_or(Problem::Internal)?;
                Ok((Entry::Known(login), hash))
            }
            None => Ok((Entry::New { name, token, external: Some(identity.id) }, hash)),
        };
    }
    let password_given = password.as_deref().is_some_and(|p| !p.is_empty());
    if let (Role::Agent, None, false, Some(token)) = (role, &resume, password_given, cookie) {
        let Some((mut login, hash)) = resumed(shared, conn, &token, role, now).await? else {
            return Err(Problem::SessionExpired);
        };
        // The token stays in its cookie, out of reach of the page's scripts.
        login.resume = None;
        return Ok((Entry::Known(login), hash));
    }
    if let Some(token) = resume {
        if let Some((login, hash)) = resumed(shared, conn, &token, role, now).await? {
            return Ok((Entry::Known(login), hash));
        }
        // Unknown or lapsed: a customer who gave a name starts afresh, an agent who
        // gave a password logs in with it; anyone else must log in again.
        let fresh_possible = match role {
            Role::Customer => name.is_some(),
            Role::Agent => name.is_some() && password_given,
        };
        if !fresh_possible {
            return Err(Problem::SessionExpired);
        }
    }
    let name = name.ok_or(Problem::NameEmpty)?;
    match role {
        Role::Customer => {
            let (token, hash) = new_token()?;
            Ok((Entry::New { name, token, external: None }, hash))
        }
        Role::Agent => {
            let record = check_agent(shared, ip, name, password).await?;
            let (token, hash) = open_agent_session(shared, &record).await?;
            Ok((Entry::Known(agent_login(shared, conn, record, token).await?), hash))
        }
    }
}

/// The login a resume token stands for, if it is valid for someone of `role`.
async fn resumed(shared: &Shared, conn: ConnId, token: &str, role: Role, now: u64) -> Result<Option<(Login, String)>, Problem> {
    let Some(hash) = auth::token_hash(token) else { return Ok(None) };
    let idle = match role {
        Role::Customer => auth::CUSTOMER_SESSION_IDLE_MS,
        Role::Agent => auth::AGENT_SESSION_IDLE_MS,
    };
    let owner = shared.store.resume(&hash, now, idle).await.map_err(internal("resuming a session"))?;
    let login = match (owner, role) {
        (Some(SessionOwner::Customer { id, name, conversation }), Role::Customer) => Login {
            conn,
            who: Identity::Customer(id),
            name,
            resume: Some(token.to_owned()),
            conversations: vec![conversation],
            admin: false,
        },
        (Some(SessionOwner::Agent(record)), Role::Agent) => agent_login(shared, conn, record, token.to_owned()).await?,
        // A token of the other kind is no token for this login.
        _ => return Ok(None),
    };
    Ok(Some((login, hash)))
}

/// The login of an agent account, with the conversations their console lists.
async fn agent_login(shared: &Shared, conn: ConnId, record: AgentRecord, token: String) -> Result<Login, Problem> {
    let key = AgentKey::of(&record.name);
    let conversations = shared
        .store
        .agent_conversations(&key, record.admin, AGENT_CONVERSATIONS)
        .await
        .map_err(internal("listing an agent's conversations"))?;
    Ok(Login { conn, who: Identity::Agent(key), name: record.name, resume: Some(token), conversations, admin: record.admin })
}

/// A new session token and the hash to store for it.
fn new_token() -> Result<(String, String), Problem> {
    auth::new_token().map_err(|e| {
        tracing::error!(error = %e, "cannot make a session token");
        Problem::Internal
    })
}

/// Starts a session for an agent whose password was checked: its token and hash.
pub(super) async fn open_agent_session(shared: &Shared, record: &AgentRecord) -> Result<(String, String), Problem> {
    let (token, hash) = new_token()?;
    let key = AgentKey::of(&record.name);
    shared.store.create_agent_session(&key, &hash, now_ms()).await.map_err(internal("creating an agent session"))?;
    Ok((token, hash))
}

/// Logs a storage failure and turns it into the error a participant sees.
pub(super) fn internal(doing: &'static str) -> impl Fn(crate::store::StoreError) -> Problem {
    move |e| {
        tracing::error!(error = %e, "{doing} failed");
        Problem::Internal
    }
}

/// An agent logs in with the password of their account; the account's spelling of the
/// name is the one shown. After a few wrong passwords for a name from one address, each
/// further try waits longer.
pub(super) async fn check_agent(shared: &Shared, ip: Option<IpAddr>, name: UserName, password: Option<String>) -> Result<AgentRecord, Problem> {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(Problem::AgentPasswordMissing);
    };
    let key = crate::model::name_key(name.as_str());
    if let Some(Err(wait_s)) = shared.at_address(ip, |a, _, now| a.may_try_password(&key, now)) {
        tracing::warn!(?ip, "agent login refused: too many wrong passwords");
        return Err(Problem::TooManyAttempts(wait_s));
    }
    let record = shared.store.agent(&name).await.map_err(internal("looking up an agent"))?;
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let ok = shared.hashing(move || auth::verify_password(&password, hash.as_deref())).await?;
    let ok = ok && record.is_some();
    shared.at_address(ip, |a, limits, now| a.password_checked(limits, &key, ok, now));
    match record {
        Some(record) if ok => Ok(record),
        _ => Err(Problem::WrongPassword),
    }
}

async fn on_private_message(
    turn: Turn,
    State(shared): State<Arc<Shared>>,
    ack: AckSender,
    TryData(payload): TryData<PrivateMessage>,
) {
    let served = turn.ticket.wait().await;
    let _sending = Sending::new(&shared);
    let conn = turn.info.conn;
    let limited = payload.is_ok().then(|| shared.message_limited(conn, &turn.info)).flatten();
    let planned = match (payload, limited) {
        (Ok(_), Some(wait_s)) => Err(Problem::SlowDown(wait_s)),
        (Ok(request), None) => {
            if let Some(id) = request.conversation {
                shared.recall(conn, id).await;
            }
            shared.live().hub.plan(conn, request, now_ms())
        }
        (Err(_), _) => Err(Problem::Malformed(protocol::PRIVATE_MESSAGE.into())),
    };
    let stored = match planned {
        Err(problem) => Err(problem),
        Ok(message) => {
            let joins = message.joins.clone();
            let (tx, rx) = oneshot::channel();
            // Queued while this connection's turn is held, so its messages are stored in
            // the order sent; the next one may be planned while this one is committed.
            let queued = shared.pipeline.send(Job::Send { message, joins, reply: tx }).await;
            drop(served);
            match queued {
                Ok(()) => rx.await.unwrap_or(Err(Problem::Internal)),
                Err(_) => Err(Problem::Internal),
            }
        }
    };
    let reply = match stored {
        Ok(appended) => {
            let m = appended.message;
            SendAck::Sent { ok: true, id: m.id, conversation: m.conversation, seq: m.seq, client_id: m.client_id }
        }
        Err(problem) => {
            let _ = shared.deliver(Hub::refuse(conn, problem.clone()));
            SendAck::failed(problem)
        }
    };
    if let Err(e) = ack.send(&reply) {
        tracing::warn!(conn = conn.0, error = %e, "ack failed");
    }
}

async fn on_history(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<HistoryRequest>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let page = async {
        let request = payload.map_err(|_| Problem::Malformed(protocol::HISTORY.into()))?;
        shared.recall(conn, request.conversation).await;
        let (viewer, customer) = shared.live().hub.readable(conn, request.conversation)?;
        let page = shared
            .store
            .messages_before(request.conversation, Some(request.before), protocol::HISTORY_PAGE)
            .await
            .map_err(internal("reading history"))?;
        let messages = page.messages.iter().map(|m| m.to_wire(&customer, &viewer)).collect();
        Ok(History { conversation: request.conversation, customer, messages, more: page.more, notes: vec![], read: 0 })
    };
    match page.await {
        Ok(page) => shared.live().emit(conn, &ServerEvent::History(page)),
        Err(problem) => {
            let _ = shared.deliver(Hub::refuse(conn, problem));
        }
    }
}

/// Ends the session on purpose: its token stops working, and the connection closes.
async fn on_logout(s: SocketRef, turn: Turn, State(shared): State<Arc<Shared>>) {
    let served = turn.ticket.wait().await;
    if let Some(SessionHash(hash)) = s.extensions.get::<SessionHash>() {
        if let Err(e) = shared.store.revoke(&hash).await {
            tracing::error!(error = %e, "revoking a session failed");
        }
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
    shared.at_address(turn.info.ip, |a, _, _| a.disconnect());
    let agent = {
        let mut live = shared.live();
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
    let (_, changed) = shared.apply_one(Item::Hub(Command::Disconnect(conn))).await;
    shared.keep(changed).await;
    tracing::debug!(conn = conn.0, online = shared.live().hub.online(), "disconnected");
}

/// Runs a take, resolve or transfer for `conn`, then stores what changed. Returns the
/// conversation as it now stands, if the command was done.
async fn change(
    shared: &Shared,
    conn: ConnId,
    conversation: ConversationId,
    command: impl FnOnce() -> Command,
) -> Option<ConversationMeta> {
    shared.recall(conn, conversation).await;
    let (outcome, changed) = shared.apply_one(Item::Hub(command())).await;
    tracing::debug!(conn = conn.0, conversation = conversation.0, ?outcome, "conversation change");
    let now = changed.iter().find(|m| m.id == conversation).cloned();
    shared.keep(changed).await;
    now.filter(|_| outcome.is_ok())
}

async fn on_take(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<ConversationRef>) {
    by_ref(turn, &shared, payload.ok(), protocol::TAKE, |conn, conversation| Command::Take { conn, conversation }).await;
}

async fn on_resolve(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<ConversationRef>) {
    by_ref(turn, &shared, payload.ok(), protocol::RESOLVE, |conn, conversation| Command::Resolve { conn, conversation }).await;
}

/// A desk action that names only a conversation (`take`, `resolve`).
async fn by_ref(
    turn: Turn,
    shared: &Shared,
    payload: Option<ConversationRef>,
    event: &'static str,
    command: fn(ConnId, ConversationId) -> Command,
) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Some(ConversationRef { conversation }) => {
            change(shared, conn, conversation, || command(conn, conversation)).await;
        }
        None => {
            let _ = shared.deliver(Hub::refuse(conn, Problem::Malformed(event.into())));
        }
    }
}

async fn on_transfer(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<Transfer>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let Ok(Transfer { conversation, to, note }) = payload else {
        let _ = shared.deliver(Hub::refuse(conn, Problem::Malformed(protocol::TRANSFER.into())));
        return;
    };
    // Any agent account, online or not: an offline one finds it at their next login.
    let account = match UserName::parse(&to) {
        Ok(name) => shared.store.agent(&name).await.map_err(internal("looking up an agent")),
        Err(_) => Ok(None),
    };
    let to = match account {
        Ok(Some(record)) => Assignee { key: AgentKey::of(&record.name), name: record.name },
        Ok(None) => {
            let _ = shared.deliver(Hub::refuse(conn, Problem::UnknownAgent(to.trim().to_owned())));
            return;
        }
        Err(problem) => {
            let _ = shared.deliver(Hub::refuse(conn, problem));
            return;
        }
    };
    // The agent it went to gets its newest page (an effect of the transfer, on every node).
    change(&shared, conn, conversation, || Command::Transfer { conn, conversation, to, note }).await;
}

async fn on_typing(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<TypingRequest>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(TypingRequest { conversation }) => {
            let _ = shared.apply_one(Item::Hub(Command::Typing { conn, conversation, now_ms: now_ms() })).await;
        }
        Err(_) => {
            let _ = shared.deliver(Hub::refuse(conn, Problem::Malformed(protocol::TYPING.into())));
        }
    }
}

/// An internal note: checked by the hub, stored, then sent to every agent online.
async fn on_note(turn: Turn, State(shared): State<Arc<Shared>>, ack: AckSender, TryData(payload): TryData<NoteRequest>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let stored = async {
        let NoteRequest { conversation, text } = payload.map_err(|_| Problem::Malformed(protocol::NOTE.into()))?;
        let text = MessageText::parse(&text)?;
        shared.recall(conn, conversation).await;
        let (key, name) = shared.live().hub.note_author(conn, conversation)?;
        shared.store.add_note(conversation, &key, &name, &text, now_ms()).await.map_err(|e| {
            tracing::error!(error = %e, "storing a note failed");
            Problem::NotSaved
        })
    };
    let reply = match stored.await {
        Ok(note) => {
            let id = note.id;
            let _ = shared.apply_one(Item::Hub(Command::Noted(note))).await;
            serde_json::json!({"ok": true, "id": id})
        }
        Err(problem) => {
            let _ = shared.deliver(Hub::refuse(conn, problem.clone()));
            serde_json::json!({"ok": false, "error": problem.to_string(), "problem": problem})
        }
    };
    if let Err(e) = ack.send(&reply) {
        tracing::debug!(conn = conn.0, error = %e, "note ack");
    }
}

async fn on_read(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<ReadUpTo>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    match payload {
        Ok(ReadUpTo { conversation, seq }) => {
            change(&shared, conn, conversation, || Command::Read { conn, conversation, seq }).await;
        }
        Err(_) => {
            let _ = shared.deliver(Hub::refuse(conn, Problem::Malformed(protocol::READ.into())));
        }
    }
}

async fn on_away(turn: Turn, State(shared): State<Arc<Shared>>, TryData(payload): TryData<AwayRequest>) {
    let _served = turn.ticket.wait().await;
    let conn = turn.info.conn;
    let (_, changed) = match payload {
        Ok(AwayRequest { away }) => shared.apply_one(Item::Hub(Command::Away { conn, away })).await,
        Err(_) => (shared.deliver(Hub::refuse(conn, Problem::Malformed(protocol::AWAY.into()))), vec![]),
    };
    shared.keep(changed).await;
}

impl Shared {
    /// Sends the agent accounts to one admin connection, or to every admin online.
    async fn send_team(&self, only: Option<ConnId>) {
        match self.store.agents().await {
            Ok(agents) => match only {
                Some(conn) => self.live().emit(conn, &ServerEvent::Agents(agents)),
                None => {
                    let _ = self.apply_one(Item::Tell(Told::Team(agents))).await;
                }
            },
            Err(e) => tracing::error!(error = %e, "listing agents failed"),
        }
    }

    /// Sends the canned replies to every agent online.
    async fn send_canned(&self) {
        match self.store.canned().await {
            Ok(replies) => {
                let _ = self.apply_one(Item::Tell(Told::Canned(replies))).await;
            }
            Err(e) => tracing::error!(error = %e, "reading canned replies failed"),
        }
    }
}

/// Runs an admin's request: refused unless `conn` is an admin's, the error told to them
/// and in the optional acknowledgement (`{ok}` or `{ok: false, error}`).
async fn as_admin<F>(shared: &Shared, conn: ConnId, ack: AckSender, event: &'static str, payload: Option<F::Input>, work: F)
where
    F: AdminWork,
{
    let done = async {
        let payload = payload.ok_or(Problem::Malformed(event.into()))?;
        let me = shared.live().hub.admin(conn)?;
        work.run(shared, me, payload).await
    };
    let reply = match done.await {
        Ok(()) => serde_json::json!({"ok": true}),
        Err(problem) => {
            let _ = shared.deliver(Hub::refuse(conn, problem.clone()));
            serde_json::json!({"ok": false, "error": problem.to_string(), "problem": problem})
        }
    };
    if let Err(e) = ack.send(&reply) {
        tracing::debug!(conn = conn.0, error = %e, "admin ack");
    }
}

/// One kind of admin request.
trait AdminWork {
    type Input;
    async fn run(self, shared: &Shared, me: AgentKey, input: Self::Input) -> Result<(), Problem>;
}

struct AddAgent;
impl AdminWork for AddAgent {
    type Input = NewAgent;
    async fn run(self, shared: &Shared, _me: AgentKey, NewAgent { name, password, admin }: NewAgent) -> Result<(), Problem> {
        let name = UserName::parse(&name)?;
        if password.chars().count() < auth::MIN_PASSWORD_CHARS {
            return Err(Problem::PasswordTooShort);
        }
        let hash = shared.hashing(move || auth::hash_password(&password)).await?.map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            Problem::Internal
        })?;
        match shared.store.add_agent(&name, &hash, admin).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => return Err(Problem::AgentExists(name.to_string())),
            Err(e) => return Err(internal("adding an agent")(e)),
        }
        tracing::info!(agent = %name, admin, "agent added");
        shared.send_team(None).await;
        Ok(())
    }
}

struct RemoveAgent;
impl AdminWork for RemoveAgent {
    type Input = AgentRef;
    async fn run(self, shared: &Shared, me: AgentKey, AgentRef { name }: AgentRef) -> Result<(), Problem> {
        let name = UserName::parse(&name).map_err(|_| Problem::UnknownAgent(name.trim().to_owned()))?;
        let key = AgentKey::of(&name);
        if key == me {
            return Err(Problem::RemoveSelf);
        }
        match shared.store.remove_agent(&name).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Err(Problem::UnknownAgent(name.to_string())),
            Err(e) => return Err(internal("removing an agent")(e)),
        }
        // Logged out at once (their sockets, on every node, are closed); what they had
        // goes back to the queue.
        let (_, changed) = shared.apply_one(Item::Hub(Command::Retire { agent: key, now_ms: now_ms() })).await;
        shared.keep(changed).await;
        tracing::info!(agent = %name, "agent removed");
        shared.send_team(None).await;
        Ok(())
    }
}

struct SetCanned;
impl AdminWork for SetCanned {
    type Input = CannedReply;
    async fn run(self, shared: &Shared, _me: AgentKey, reply: CannedReply) -> Result<(), Problem> {
        if !CannedReply::valid_shortcut(&reply.shortcut) {
            return Err(Problem::BadShortcut);
        }
        let text = MessageText::parse(&reply.text)?;
        let reply = CannedReply { shortcut: reply.shortcut, text: text.as_str().to_owned() };
        shared.store.set_canned(&reply).await.map_err(internal("saving a canned reply"))?;
        shared.send_canned().await;
        Ok(())
    }
}

struct RemoveCanned;
impl AdminWork for RemoveCanned {
    type Input = CannedRef;
    async fn run(self, shared: &Shared, _me: AgentKey, CannedRef { shortcut }: CannedRef) -> Result<(), Problem> {
        match shared.store.remove_canned(&shortcut).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(internal("removing a canned reply")(e)),
        }
        shared.send_canned().await;
        Ok(())
    }
}

async fn on_agent_add(turn: Turn, State(shared): State<Arc<Shared>>, ack: AckSender, TryData(payload): TryData<NewAgent>) {
    let _served = turn.ticket.wait().await;
    as_admin(&shared, turn.info.conn, ack, protocol::AGENT_ADD, payload.ok(), AddAgent).await;
}

async fn on_agent_remove(turn: Turn, State(shared): State<Arc<Shared>>, ack: AckSender, TryData(payload): TryData<AgentRef>) {
    let _served = turn.ticket.wait().await;
    as_admin(&shared, turn.info.conn, ack, protocol::AGENT_REMOVE, payload.ok(), RemoveAgent).await;
}

async fn on_canned_set(turn: Turn, State(shared): State<Arc<Shared>>, ack: AckSender, TryData(payload): TryData<CannedReply>) {
    let _served = turn.ticket.wait().await;
    as_admin(&shared, turn.info.conn, ack, protocol::CANNED_SET, payload.ok(), SetCanned).await;
}

async fn on_canned_remove(turn: Turn, State(shared): State<Arc<Shared>>, ack: AckSender, TryData(payload): TryData<CannedRef>) {
    let _served = turn.ticket.wait().await;
    as_admin(&shared, turn.info.conn, ack, protocol::CANNED_REMOVE, payload.ok(), RemoveCanned).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_a_few_password_hashes_run_at_once() {
        let store = Arc::new(crate::store::SqliteStore::open("sqlite::memory:").await.unwrap());
        let shared = Shared::new(store, &crate::Settings::default(), vec![], None);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..16)
            .map(|_| {
                let (shared, running, most) = (shared.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    shared
                        .hashing(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!((2..=HASHING_AT_ONCE).contains(&most), "{most} at once");
    }
}

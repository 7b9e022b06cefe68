//! The live-chat server: SSR pages, static assets and Socket.IO on one port.
//!
//! # Layout
//! - [`hub`]: the chat rules as a pure state machine (no I/O).
//! - [`transport`]: socketioxide handlers and HTTP routes; feeds the hub, sends its output.
//! - [`model`]: the domain nouns (identities, conversations, stored messages) hub and store share.
//! - [`store`]: persistence behind a trait (SQLite by default).
//! - [`transcript`]: a conversation laid out as a document (text or HTML) to download.
//! - [`attachment`]: uploaded files checked and made safe (type from the bytes, images re-encoded).
//! - [`auth`]: agent password hashing.
//! - [`cli`]: the command line of the `server` and `chat` binaries.
//! - [`clock`]: the wall clock in milliseconds.
//! - [`hours`]: office hours (`OFFICE_HOURS`): whether the desk is staffed now.
//! - [`limits`]: abuse limits (rates, connection caps, password backoff) as pure policy.
//! - [`metrics`]: what operators scrape at `/metrics` (Prometheus), recorded where it happens.
//! - [`replies`]: how soon the team answers a new question, from recent history.
//! - [`reports`]: admins' reports: the period, the figures put together, the CSV files.
//! - [`resources`]: the REST API's resources made from the model (answers and webhooks).
//! - [`webhooks`]: the events webhooks are sent, their bodies and signatures, and retries.
//! - [`run`]: serves a router on a listener until a shutdown signal; tests call it on port 0.
// Leptos views are deeply nested types: rendering the app needs a deeper limit.
#![recursion_limit = "256"]

pub mod attachment;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod hours;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod replies;
pub mod reports;
pub mod resources;
pub mod store;
pub mod transcript;
pub mod transport;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;

use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

pub use transport::router;

/// The Engine.IO heartbeat by default (Socket.IO's own defaults): see [`Settings::ping_interval`].
pub const PING_INTERVAL_MS: u64 = 25_000;
pub const PING_TIMEOUT_MS: u64 = 20_000;

/// How the desk runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Open conversations the queue gives one agent at most.
    pub capacity: usize,
    /// How long an agent's closed connection still counts as present, so that a reload
    /// does not look like leaving and coming back.
    pub agent_grace: std::time::Duration,
    /// How long an agent's tab stays hidden before they count as away (told to clients).
    pub away_after: std::time::Duration,
    /// How often who may do what (see [`limits::Limits`]).
    pub limits: limits::Limits,
    /// Other sites whose pages may open a Socket.IO connection (`scheme://host[:port]`);
    /// this site's own pages always may.
    pub allowed_origins: Vec<String>,
    /// Take the client's address from the last `X-Forwarded-For` entry (behind a reverse
    /// proxy that sets it); otherwise the TCP peer's address counts.
    pub trust_forwarded_for: bool,
    /// Engine.IO heartbeat: a ping this often, and a connection that has not answered
    /// within `ping_timeout` is closed (also one whose outgoing buffer is so full that the
    /// ping cannot be queued: a client that stopped reading).
    pub ping_interval: std::time::Duration,
    pub ping_timeout: std::time::Duration,
    /// Several nodes share the live state through this Redis (see `transport::cluster`):
    /// `redis://`, or `rediss://` over TLS; a password as `redis://:password@host:port`.
    pub redis_url: Option<String>,
    /// The certificate (PEM) of the authority that signed a `rediss://` server's, when the
    /// system does not trust it already (a private CA).
    pub redis_ca: Option<std::path::PathBuf>,
    /// How often a node of a cluster writes the snapshot that joining nodes start from.
    pub snapshot_every: std::time::Duration,
    /// The secret host sites sign their users with for the widget (see
    /// [`auth::host_identity_signed`]); without it, identities from host sites are refused.
    pub widget_secret: Option<String>,
    /// When the desk is staffed (customers are told at login when it is not).
    pub office_hours: Option<hours::OfficeHours>,
    /// How long an anonymous customer who never wrote is kept after they were last seen
    /// (only a conversation an agent greeted them in is stored of them at all).
    pub anon_retention: std::time::Duration,
    /// The largest file that may be uploaded, in bytes.
    pub attachment_max_bytes: u64,
    /// Who may read `/metrics` (Prometheus): the bearer of this token. Without it, the
    /// server records no metrics and has no such route.
    pub metrics_token: Option<String>,
    /// The site's files, when they are built into the binary (the `chat` binary's; see
    /// [`transport::Site`]); otherwise they are read from `LEPTOS_SITE_ROOT`.
    pub site: Option<Arc<transport::Site>>,
    /// The first run's setup link (printed while nobody has an account) works from other
    /// machines too, not only on this one's loopback.
    pub setup_remote: bool,
    /// How long a webhook's failed delivery waits before its first retry (each later wait
    /// twice as long; see [`webhooks::retry_at`]).
    pub webhook_retry_first: std::time::Duration,
    /// How often the courier looks for webhook deliveries that are due.
    pub webhook_poll: std::time::Duration,
}

/// See [`Settings::anon_retention`].
pub const ANON_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl Default for Settings {
    fn default() -> Self {
        Self {
            capacity: hub::DEFAULT_CAPACITY,
            agent_grace: std::time::Duration::from_secs(4),
            away_after: std::time::Duration::from_millis(app::protocol::AWAY_AFTER_MS),
            limits: limits::Limits::default(),
            allowed_origins: vec![],
            trust_forwarded_for: false,
            ping_interval: std::time::Duration::from_millis(PING_INTERVAL_MS),
            ping_timeout: std::time::Duration::from_millis(PING_TIMEOUT_MS),
            redis_url: None,
            redis_ca: None,
            snapshot_every: transport::SNAPSHOT_EVERY,
            widget_secret: None,
            office_hours: None,
            anon_retention: ANON_RETENTION,
            attachment_max_bytes: app::protocol::ATTACHMENT_MAX_BYTES,
            metrics_token: None,
            site: None,
            setup_remote: false,
            webhook_retry_first: std::time::Duration::from_millis(webhooks::RETRY_FIRST_WAIT_MS),
            webhook_poll: std::time::Duration::from_secs(1),
        }
    }
}

/// Serves the chat on `listener` with the default [`Settings`] until `shutdown`
/// completes, then closes connections gracefully.
pub async fn run(
    listener: TcpListener,
    leptos_options: LeptosOptions,
    store: Arc<dyn store::Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with(listener, leptos_options, store, Settings::default(), shutdown).await
}

/// [`run`], with settings.
pub async fn run_with(
    listener: TcpListener,
    leptos_options: LeptosOptions,
    store: Arc<dyn store::Store>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The queue outlives restarts: whoever waited before still waits, in order.
    let queue = store
        .queued()
        .await
        .map_err(|e| std::io::Error::other(format!("loading the queue: {e}")))?;
    // In a cluster, the live state starts as the other nodes have it.
    let joining = match &settings.redis_url {
        Some(url) => {
            let ca = settings.redis_ca.as_deref();
            Some(transport::Cluster::connect(url, ca, settings.snapshot_every).await.map_err(
                |e| {
                    std::io::Error::other(format!(
                        "joining the cluster at {}: {e}",
                        store::shown(url)
                    ))
                },
            )?)
        }
        None => None,
    };
    let (app, io, shared) = match joining {
        // A cluster's nodes learn the queue through the stream, once joined.
        Some((cluster, start)) => {
            let (app, io, shared) = router(
                leptos_options,
                store,
                settings,
                vec![],
                Some((Arc::new(cluster), start.hub)),
            );
            transport::join_cluster(&shared, start.from, queue)
                .await
                .map_err(std::io::Error::other)?;
            (app, io, shared)
        }
        None => router(leptos_options, store, settings, queue, None),
    };
    // Every message accepted is stored, delivered and acknowledged; then the sockets
    // close (open websockets would keep a graceful shutdown waiting forever). A closed
    // transport, unlike a Socket.IO disconnect, makes clients reconnect — to this server
    // once restarted, or to another node. Then axum drains HTTP.
    let drained = shared.clone();
    let shutdown = async move {
        shutdown.await;
        drained.drain(SHUTDOWN_DRAIN).await;
        io.close().await;
        // The other nodes drop this one's connections now, not when its key expires.
        drained.leave_cluster().await;
    };
    // Nobody has an account yet: the link that creates the first admin.
    if let Ok(addr) = listener.local_addr() {
        transport::offer_setup(&shared, addr).await?;
    }
    // The peer's address, for the limits per address.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    // What arrived while the sockets were closing is stored too (its senders were not
    // answered; their resend finds it stored).
    shared.drain(SHUTDOWN_DRAIN).await;
    served
}

/// How long a shutdown waits for accepted messages to be stored and answered.
const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

//! The command line of the server's binaries (`server`, and `chat` with the site inside):
//! serves the live chat, or manages agent accounts and canned replies.
//!
//! Configuration comes from the command line and the environment: `DATABASE_URL` for the
//! store, and Leptos' own variables (`LEPTOS_SITE_ADDR`, `LEPTOS_SITE_ROOT`, ...) for the
//! web server, as set by cargo-leptos.
//!
//! (`anyhow` here, in the library: this is the binaries' `main`, shared by two of them.)

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::store::{SqliteOptions, SqliteSync, Store};
use crate::transport::Site;
use app::protocol::UserName;

#[derive(Parser)]
#[command(version, about = "Self-hosted customer-service live chat")]
struct Cli {
    /// Where everything persistent is kept: `sqlite://path` (the default, embedded) or
    /// `postgres://user:password@host/db` (several server nodes on one database).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/chat.db", global = true)]
    database_url: String,
    /// Stop storing (senders are told their messages could not be saved) once the SQLite
    /// database reaches this many MiB, leaving room on a shared disk. Unset: no cap.
    #[arg(long, env = "DATABASE_MAX_MB", global = true)]
    database_max_mb: Option<u64>,
    /// SQLite only (PostgreSQL has its own `synchronous_commit`). `full`: every message is on
    /// the disk (fsync) before anyone is told it was stored, and survives power loss.
    /// `normal` (opt-in, faster): it survives the server's crash or `kill -9`, but an OS
    /// crash or power loss may undo the last moments' messages.
    #[arg(long, env = "SQLITE_SYNC", value_enum, default_value_t = SqliteSync::Full, global = true)]
    sqlite_sync: SqliteSync,
    /// Several server nodes share one desk through this Redis (`redis://host:port`, or
    /// `rediss://` over TLS; a password as `redis://:password@host:port`), with a
    /// `postgres://` database. Unset: this process is the whole desk.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// The certificate (PEM file) of the authority that signed the `rediss://` server's
    /// certificate, when the system does not trust it already.
    #[arg(long, env = "REDIS_CA_FILE")]
    redis_ca: Option<std::path::PathBuf>,
    /// The secret shared with the host sites that sign their users for the widget
    /// (`data-user-id`, `data-user-expires`, `data-user-sig`). Unset: such identities are refused.
    #[arg(long, env = "WIDGET_SECRET", hide_env_values = true)]
    widget_secret: Option<String>,
    /// Serves `/metrics` (Prometheus's text format) to requests that carry this token as
    /// `Authorization: Bearer`. Unset: no metrics are recorded, and there is no such route.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// How long a webhook's failed delivery waits before it is tried again the first time
    /// (`10s`; each later wait twice the one before, at most an hour, for 24 hours).
    #[arg(long, env = "WEBHOOK_RETRY_FIRST", default_value = "10s", value_parser = humantime::parse_duration)]
    webhook_retry_first: std::time::Duration,
    /// How often the server looks for webhook deliveries that are due (`1s`).
    #[arg(long, env = "WEBHOOK_POLL", default_value = "1s", value_parser = humantime::parse_duration)]
    webhook_poll: std::time::Duration,
    /// When the desk is staffed, e.g. `Mon-Fri 09:00-18:00; Sat 10:00-14:00; UTC+08:00`:
    /// outside these hours customers are told so (their messages wait as ever).
    #[arg(long, env = "OFFICE_HOURS", value_parser = crate::hours::OfficeHours::parse)]
    office_hours: Option<crate::hours::OfficeHours>,
    /// How long an anonymous customer who never wrote is kept after they were last seen
    /// (`7d`, `12h`, `30m`): they, and any greeting an agent left them, are deleted then.
    #[arg(long, env = "ANON_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    anon_retention: std::time::Duration,
    /// The largest file customers and agents may send, in megabytes.
    #[arg(long, env = "ATTACHMENT_MAX_MB", default_value_t = app::protocol::ATTACHMENT_MAX_MB,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    attachment_max_mb: u64,
    /// Open conversations the queue gives one agent at most.
    #[arg(long, env = "AGENT_CAPACITY", default_value_t = crate::hub::DEFAULT_CAPACITY)]
    agent_capacity: usize,
    /// Milliseconds an agent's closed connection still counts as present (a reload).
    #[arg(long, env = "AGENT_GRACE_MS", default_value_t = 4000)]
    agent_grace_ms: u64,
    /// Milliseconds an agent's tab stays hidden before they count as away.
    #[arg(long, env = "AGENT_AWAY_MS", default_value_t = app::protocol::AWAY_AFTER_MS)]
    agent_away_ms: u64,
    /// Other sites whose pages may connect (comma-separated `scheme://host[:port]`); the
    /// chat's own pages always may.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// The first run's setup link (printed while nobody has an account) works from any
    /// address, not only in a browser on this machine.
    #[arg(long, env = "SETUP_REMOTE")]
    setup_remote: bool,
    /// Behind a reverse proxy: take the client's address from `X-Forwarded-For`.
    #[arg(long, env = "TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// `off` lifts every rate and connection limit (benchmarks only).
    #[arg(long, env = "LIMITS", default_value = "on", value_parser = ["on", "off"])]
    limits: String,
    /// Milliseconds between Engine.IO heartbeats.
    #[arg(long, env = "PING_INTERVAL_MS", default_value_t = crate::PING_INTERVAL_MS)]
    ping_interval_ms: u64,
    /// Milliseconds a client has to answer a heartbeat before it is disconnected.
    #[arg(long, env = "PING_TIMEOUT_MS", default_value_t = crate::PING_TIMEOUT_MS)]
    ping_timeout_ms: u64,
    /// Threads that run the server (default: one per core).
    #[arg(long, env = "WORKER_THREADS")]
    worker_threads: Option<usize>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the chat (the default).
    Serve,
    /// Manage the accounts of support agents.
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Manage the canned replies agents insert with `/shortcut`.
    #[command(subcommand)]
    Canned(CannedCmd),
}

#[derive(Subcommand)]
enum CannedCmd {
    /// Add or replace a reply; its text is read from standard input.
    Add { shortcut: String },
    /// List the replies.
    List,
    /// Remove a reply.
    Remove { shortcut: String },
}

#[derive(Subcommand)]
enum AgentCmd {
    /// Add an agent; the password is asked for twice at a terminal (not shown as typed),
    /// or read from standard input (one line) when it is piped.
    Add {
        name: String,
        /// An admin sees every conversation and manages agents and canned replies.
        #[arg(long)]
        admin: bool,
    },
    /// List the agents.
    List,
    /// Remove an agent, with the REST API tokens and webhooks they made.
    Remove { name: String },
}

/// Runs the command line of a binary called `name`: serves the chat (with the site's files
/// from `site` when it is given, see [`Site`]) or manages accounts.
pub fn main(name: &'static str, site: Option<Site>) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                EnvFilter::new("info,tower_http=warn,sqlx::postgres::notice=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    use clap::{CommandFactory as _, FromArgMatches as _};
    let cli = Cli::from_arg_matches(&Cli::command().name(name).get_matches())
        .unwrap_or_else(|e| e.exit());
    // Built without cargo-leptos the output name is not baked in; this project's is fixed.
    // (Set before any other thread exists.)
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_none()
        && option_env!("LEPTOS_OUTPUT_NAME").is_none()
    {
        std::env::set_var("LEPTOS_OUTPUT_NAME", "chat");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.worker_threads {
        runtime.worker_threads(n);
    }
    let runtime = runtime.enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let sqlite = SqliteOptions {
            max_bytes: cli.database_max_mb.map(|mb| mb.saturating_mul(1 << 20)),
            sync: cli.sqlite_sync,
        };
        let store: Arc<dyn Store> = crate::store::open(&cli.database_url, sqlite)
            .await
            .with_context(|| format!("opening the database {}", crate::store::shown(&cli.database_url)))?;
        match cli.command.unwrap_or(Cmd::Serve) {
            Cmd::Serve => {
                let settings = crate::Settings {
                    capacity: cli.agent_capacity,
                    agent_grace: std::time::Duration::from_millis(cli.agent_grace_ms),
                    away_after: std::time::Duration::from_millis(cli.agent_away_ms),
                    limits: match cli.limits.as_str() {
                        "off" => crate::limits::Limits::unlimited(),
                        _ => crate::limits::Limits::default(),
                    },
                    allowed_origins: cli.allowed_origins.into_iter().filter(|o| !o.trim().is_empty()).collect(),
                    trust_forwarded_for: cli.trust_forwarded_for,
                    ping_interval: std::time::Duration::from_millis(cli.ping_interval_ms),
                    ping_timeout: std::time::Duration::from_millis(cli.ping_timeout_ms),
                    redis_url: cli.redis_url.filter(|u| !u.trim().is_empty()),
                    redis_ca: cli.redis_ca,
                    widget_secret: cli.widget_secret.filter(|s| !s.is_empty()),
                    office_hours: cli.office_hours,
                    anon_retention: cli.anon_retention,
                    attachment_max_bytes: cli.attachment_max_mb * app::protocol::MB,
                    metrics_token: metrics_token(cli.metrics_token)?,
                    site: built_in_site(site)?,
                    setup_remote: cli.setup_remote,
                    webhook_retry_first: cli.webhook_retry_first,
                    webhook_poll: cli.webhook_poll,
                    ..Default::default()
                };
                if settings.redis_url.is_some() && !cli.database_url.starts_with("postgres") {
                    bail!("REDIS_URL needs a PostgreSQL DATABASE_URL: the nodes of a cluster share one database");
                }
                serve(store, settings).await
            }
            Cmd::Agent(cmd) => agent(store, cmd).await,
            Cmd::Canned(cmd) => canned(store, cmd).await,
        }
    })
}

async fn serve(store: Arc<dyn Store>, settings: crate::Settings) -> Result<()> {
    let conf =
        leptos::config::get_configuration(None).context("reading the Leptos configuration")?;
    let options = conf.leptos_options;
    // Read from disk, an empty root would be the working directory (the database with it).
    if settings.site.is_none() && options.site_root.trim().is_empty() {
        bail!("LEPTOS_SITE_ROOT is empty: set it to the site's directory (a copy of target/site)");
    }
    let listener = tokio::net::TcpListener::bind(options.site_addr)
        .await
        .with_context(|| format!("binding {}", options.site_addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    crate::run_with(listener, options, store, settings, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// The site's files built into the binary, unless `LEPTOS_SITE_ROOT` says to read them
/// from a directory instead. A binary built without them (the site was not built first)
/// refuses to start rather than serve pages that cannot load.
fn built_in_site(site: Option<Site>) -> Result<Option<Arc<Site>>> {
    let Some(site) = site else { return Ok(None) };
    if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT").filter(|r| !r.is_empty()) {
        tracing::warn!(
            root = %std::path::Path::new(&root).display(),
            "LEPTOS_SITE_ROOT is set: the site's files are read from there, not the ones built in"
        );
        return Ok(None);
    }
    let output = std::env::var("LEPTOS_OUTPUT_NAME")
        .ok()
        .or_else(|| option_env!("LEPTOS_OUTPUT_NAME").map(str::to_owned))
        .unwrap_or_else(|| "chat".into());
    if !site.has(&format!("pkg/{output}.wasm")) {
        bail!(
            "this binary has no site inside (no pkg/{output}.wasm among its {} files): \
             build it with `make release`, which builds the site first, or set LEPTOS_SITE_ROOT",
            site.len()
        );
    }
    Ok(Some(Arc::new(site)))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

async fn canned(store: Arc<dyn Store>, cmd: CannedCmd) -> Result<()> {
    use app::protocol::{CannedReply, MessageText};
    let check = |shortcut: &str| {
        if CannedReply::valid_shortcut(shortcut) {
            Ok(())
        } else {
            Err(anyhow::anyhow!("{} ({shortcut:?})", app::protocol::Problem::BadShortcut))
        }
    };
    match cmd {
        CannedCmd::Add { shortcut } => {
            check(&shortcut)?;
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading the reply from stdin")?;
            let text = MessageText::parse(&text).map_err(|p| anyhow::anyhow!("{p}"))?;
            store
                .set_canned(&CannedReply {
                    shortcut: shortcut.clone(),
                    text: text.as_str().to_owned(),
                })
                .await?;
            println!("saved /{shortcut}");
        }
        CannedCmd::List => {
            for reply in store.canned().await? {
                println!("/{}\t{}", reply.shortcut, reply.text);
            }
        }
        CannedCmd::Remove { shortcut } => {
            store.remove_canned(&shortcut).await?;
            println!("removed /{shortcut}");
        }
    }
    Ok(())
}

async fn agent(store: Arc<dyn Store>, cmd: AgentCmd) -> Result<()> {
    let parse =
        |raw: &str| UserName::parse(raw).map_err(|p| anyhow::anyhow!("invalid name {raw:?}: {p}"));
    match cmd {
        AgentCmd::Add { name, admin } => {
            let name = parse(&name)?;
            let stdin = std::io::stdin();
            let password = if stdin.is_terminal() {
                // Typed by a person: not shown as it is typed, and asked twice (a slip would
                // lock them out).
                let ask = |prompt: String| {
                    rpassword::prompt_password(prompt)
                        .context("reading the password from the terminal")
                };
                let first = ask(format!("Password for {name}: "))?;
                if ask("Again, to be sure: ".to_owned())? != first {
                    bail!("the two passwords differ; nobody was added");
                }
                first
            } else {
                // Piped by a script: one line.
                let mut password = String::new();
                stdin.lock().read_line(&mut password).context("reading the password from stdin")?;
                password.trim_end_matches(['\r', '\n']).to_owned()
            };
            if password.is_empty() {
                bail!("no password given on standard input");
            }
            let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
                .await??;
            store.add_agent(&name, &hash, admin).await?;
            println!("added {} {name}", if admin { "admin" } else { "agent" });
        }
        AgentCmd::List => {
            for agent in store.agents().await? {
                println!("{}{}", agent.name, if agent.admin { "\tadmin" } else { "" });
            }
        }
        AgentCmd::Remove { name } => {
            let name = parse(&name)?;
            let gone = store.remove_agent(&name).await?;
            println!("removed agent {name}");
            if gone.tokens + gone.webhooks > 0 {
                println!(
                    "and what they made: {} API token(s), {} webhook(s)",
                    gone.tokens, gone.webhooks
                );
            }
        }
    }
    Ok(())
}

/// The `METRICS_TOKEN`, without the spaces around it (an env file's), if it is long enough
/// not to be guessed; none if empty. A short one is refused without being repeated (it may be
/// a secret used elsewhere).
fn metrics_token(token: Option<String>) -> Result<Option<String>> {
    let Some(token) = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if token.chars().count() < 16 {
        bail!("METRICS_TOKEN must be at least 16 characters long (for example `openssl rand -hex 16`)");
    }
    Ok(Some(token))
}

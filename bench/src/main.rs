//! The load generator: drives our server or the tutorial's Node.js peer with the same
//! load over Socket.IO websockets, and prints one JSON line of results per run.
//!
//! Modes: `throughput` (K agents, N customers; customer i writes to agent i mod K at a
//! fixed rate or closed-loop with W in flight; delivered/s and latency from send to the
//! agent's `message`), `idle` (N logged-in connections held until stdin closes), and
//! `storm` (the time for N customers to log in while K agents are online).
//! With `--server-pid` the server's CPU seconds over the measured window are read from
//! /proc (Linux).
//!
//! The generator must cost far less than the servers it measures (docs/traps.md): every
//! connection is one task reading frames in place ([`client`]), messages are frames encoded
//! once with the send time written in, and a fixed rate is kept by one pacer task that
//! writes to every customer's socket, not by a timer per customer.

mod client;
mod cpu;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use client::{Frame, Login, MessageFrame, Reader, Target, Writer};
use cpu::{cpu_seconds, settle, tree_cpu_seconds};
use serde_json::json;
use tokio::sync::Semaphore;

#[derive(Parser)]
struct Cli {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    server: SocketAddr,
    /// Where agents connect, if not to `--server` (another node of the same cluster).
    #[arg(long)]
    agent_server: Option<SocketAddr>,
    /// Local addresses to connect from, used in turn (spreads connections over more
    /// source ports than one address has).
    #[arg(long, value_delimiter = ',')]
    bind: Vec<IpAddr>,
    /// Whose server: ours logs agents in with their accounts; the peer has no roles, so
    /// everyone logs in with a bare name.
    #[arg(long, value_enum, default_value = "ours")]
    peer: Peer,
    /// The agents' password (ours; every agent-<i> account has it).
    #[arg(long, default_value = "bench-password")]
    password: String,
    /// Prefix of the customers' names (distinct per run and process).
    #[arg(long, default_value = "c")]
    prefix: String,
    /// The server's process id, to read its CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A database server's main process (PostgreSQL's postmaster), whose CPU time, with its
    /// children's, is read over the same window as the server's.
    #[arg(long)]
    database_pid: Option<u32>,
    /// More processes whose CPU time counts as the server's (the other nodes of a cluster,
    /// and its Redis).
    #[arg(long, value_delimiter = ',')]
    also_pid: Vec<u32>,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Peer {
    Ours,
    Node,
}

#[derive(Subcommand)]
enum Mode {
    Throughput {
        #[arg(long, default_value_t = 10)]
        agents: usize,
        #[arg(long, default_value_t = 100)]
        customers: usize,
        /// Messages per second offered in all; without it, closed-loop with `window`.
        #[arg(long)]
        rate: Option<f64>,
        /// Messages each customer keeps in flight (closed loop).
        #[arg(long, default_value_t = 1)]
        window: usize,
        #[arg(long, default_value_t = 2.0)]
        warmup_s: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    Idle {
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Only join the namespace, without logging in (what a connection costs before
        /// the chat knows it).
        #[arg(long)]
        anonymous: bool,
    },
    Storm {
        #[arg(long, default_value_t = 20)]
        agents: usize,
        #[arg(long, default_value_t = 10_000)]
        customers: usize,
        /// Give up after this long.
        #[arg(long, default_value_t = 60.0)]
        timeout_s: f64,
    },
}

fn clock() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    clock().elapsed().as_micros() as u64
}

struct Env {
    cli: Cli,
    setup: Semaphore,
}

impl Env {
    fn target(&self, i: usize, login: &Login) -> Target {
        let bind = (!self.cli.bind.is_empty()).then(|| self.cli.bind[i % self.cli.bind.len()]);
        let server = match login {
            Login::Agent { .. } => self.cli.agent_server.unwrap_or(self.cli.server),
            _ => self.cli.server,
        };
        Target { server, bind }
    }

    /// CPU seconds of the server (with `--also-pid`, of all its processes).
    fn server_cpu(&self) -> Option<f64> {
        let own = cpu_seconds(self.cli.server_pid?)?;
        Some(own + self.cli.also_pid.iter().filter_map(|&p| cpu_seconds(p)).sum::<f64>())
    }

    fn agent_name(i: usize) -> String {
        format!("agent-{i}")
    }

    fn agent_login(&self, i: usize) -> Login {
        match self.cli.peer {
            Peer::Ours => {
                Login::Agent { name: Self::agent_name(i), password: self.cli.password.clone() }
            }
            Peer::Node => Login::Bare(Self::agent_name(i)),
        }
    }

    fn customer_login(&self, i: usize) -> Login {
        Login::Bare(format!("{}-{i}", self.cli.prefix))
    }

    /// Logs in, with at most `concurrency` set-ups at once.
    async fn connect(&self, i: usize, login: &Login) -> Result<(Writer, Reader)> {
        let _permit = self.setup.acquire().await?;
        client::login(&self.target(i, login), login).await.with_context(|| format!("{login:?}"))
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    clock();
    let env = Arc::new(Env { setup: Semaphore::new(cli.concurrency), cli });
    let result = match env.cli.mode {
        Mode::Throughput { agents, customers, rate, window, warmup_s, seconds } => {
            throughput(env.clone(), agents, customers, rate, window, warmup_s, seconds).await?
        }
        Mode::Idle { connections, anonymous } => idle(env.clone(), connections, anonymous).await?,
        Mode::Storm { agents, customers, timeout_s } => {
            storm(env.clone(), agents, customers, timeout_s).await?
        }
    };
    println!("{result}");
    // Connections are many: leave without closing each politely.
    std::process::exit(0);
}

/// Percentile of sorted samples.
fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The number a message's text carries (the generator's send time, in µs).
fn number(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

/// What every connection of a throughput run adds to.
#[derive(Default)]
struct Counts {
    /// Messages sent.
    sent: AtomicU64,
    /// Latencies (µs) of the messages agents received while measuring.
    latencies: Mutex<Vec<u64>>,
    measuring: AtomicBool,
    /// `error` events received by customers.
    errors: AtomicU64,
    /// Customers that could not log in, or whose connection ended during the run.
    failed: AtomicU64,
}

/// An agent: reads everything, and records each message's latency while measuring.
async fn agent(counts: Arc<Counts>, mut tx: Writer, mut rx: Reader) -> Result<()> {
    let mut got = Vec::new();
    loop {
        rx.fill().await?;
        let now = now_us();
        let measuring = counts.measuring.load(Ordering::Relaxed);
        while let Some(payload) = rx.frame()? {
            match Frame::of(payload) {
                Frame::Ping => tx.text(b"3"),
                Frame::Message { mine: false, text } if measuring => {
                    if let Some(sent) = number(text) {
                        got.push(now.saturating_sub(sent));
                    }
                }
                _ => {}
            }
        }
        if !got.is_empty() {
            counts.latencies.lock().expect("not poisoned").append(&mut got);
        }
        tx.flush().await?;
    }
}

/// A customer in a closed loop: `window` messages in flight, a new one for each of their
/// own copies that comes back.
async fn closed_loop(
    counts: &Counts,
    to: &MessageFrame,
    window: usize,
    mut tx: Writer,
    mut rx: Reader,
) -> Result<()> {
    for _ in 0..window {
        tx.message(to, now_us());
    }
    counts.sent.fetch_add(window as u64, Ordering::Relaxed);
    tx.flush().await?;
    loop {
        rx.fill().await?;
        let mut back = 0;
        while let Some(payload) = rx.frame()? {
            match Frame::of(payload) {
                Frame::Message { mine: true, .. } => back += 1,
                Frame::Ping => tx.text(b"3"),
                Frame::Error => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        if back > 0 {
            let now = now_us();
            for _ in 0..back {
                tx.message(to, now);
            }
            counts.sent.fetch_add(back, Ordering::Relaxed);
        }
        tx.flush().await?;
    }
}

/// A customer at a fixed rate: the pacer writes their messages; this reads what comes back,
/// and asks the pacer to answer pings.
async fn paced_reader(counts: &Counts, pong: &AtomicBool, mut rx: Reader) -> Result<()> {
    loop {
        rx.fill().await?;
        while let Some(payload) = rx.frame()? {
            match Frame::of(payload) {
                Frame::Ping => pong.store(true, Ordering::Relaxed),
                Frame::Error => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }
}

/// Writes `rate` messages per second in all, in turn from each customer, every millisecond
/// what is due by then (measured from the start: a late tick sends what it owes).
async fn pacer(
    counts: Arc<Counts>,
    rate: f64,
    mut writers: Vec<(Writer, MessageFrame, Arc<AtomicBool>)>,
) -> Result<()> {
    let started = Instant::now();
    let mut done: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        let now = now_us();
        let n = writers.len() as u64;
        for k in done..due {
            let (tx, to, _) = &mut writers[(k % n) as usize];
            tx.message(to, now);
        }
        counts.sent.fetch_add(due.saturating_sub(done), Ordering::Relaxed);
        done = done.max(due);
        for (tx, _, pong) in &mut writers {
            if pong.swap(false, Ordering::Relaxed) {
                tx.text(b"3");
            }
            if tx.pending() {
                tx.try_flush()?;
            }
        }
    }
}

async fn throughput(
    env: Arc<Env>,
    agents: usize,
    customers: usize,
    rate: Option<f64>,
    window: usize,
    warmup_s: f64,
    seconds: f64,
) -> Result<serde_json::Value> {
    anyhow::ensure!(
        agents > 0 && customers > 0,
        "throughput needs at least one agent and one customer"
    );
    if let Some(rate) = rate {
        anyhow::ensure!(rate > 0.0, "--rate must be positive");
    }
    let counts = Arc::new(Counts::default());
    for a in 0..agents {
        let (tx, rx) = env.connect(a, &env.agent_login(a)).await?;
        let counts = counts.clone();
        tokio::spawn(async move {
            if let Err(e) = agent(counts, tx, rx).await {
                eprintln!("agent {a}: {e:#}");
            }
        });
    }
    // Everyone logs in (in parallel), the server settles, then everyone starts sending.
    let mut logins = tokio::task::JoinSet::new();
    for c in 0..customers {
        let env = env.clone();
        logins.spawn(async move { (c, env.connect(agents + c, &env.customer_login(c)).await) });
    }
    let mut connected = vec![];
    while let Some(joined) = logins.join_next().await {
        match joined? {
            (c, Ok(pair)) => connected.push((c, pair)),
            (c, Err(e)) => {
                eprintln!("customer {c}: {e:#}");
                counts.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    connected.sort_by_key(|(c, _)| *c);
    let pid = env.cli.server_pid;
    settle(pid).await;
    let to = move |c: usize| MessageFrame::to(&Env::agent_name(c % agents));
    match rate {
        None => {
            for (c, (tx, rx)) in connected {
                let (counts, to) = (counts.clone(), to(c));
                tokio::spawn(async move {
                    if let Err(e) = closed_loop(&counts, &to, window, tx, rx).await {
                        eprintln!("customer {c}: {e:#}");
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
        Some(rate) => {
            let mut writers = vec![];
            for (c, (tx, rx)) in connected {
                let pong = Arc::new(AtomicBool::new(false));
                writers.push((tx, to(c), pong.clone()));
                let counts = counts.clone();
                tokio::spawn(async move {
                    if let Err(e) = paced_reader(&counts, &pong, rx).await {
                        eprintln!("customer {c}: {e:#}");
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            let counts = counts.clone();
            tokio::spawn(async move {
                if let Err(e) = pacer(counts, rate, writers).await {
                    eprintln!("pacer: {e:#}");
                }
            });
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup_s)).await;
    let cpu_before = env.server_cpu();
    let db_cpu_before = env.cli.database_pid.and_then(tree_cpu_seconds);
    let own_cpu_before = cpu_seconds(std::process::id());
    let sent_before = counts.sent.load(Ordering::Relaxed);
    counts.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    counts.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = env.server_cpu();
    let db_cpu_after = env.cli.database_pid.and_then(tree_cpu_seconds);
    let own_cpu = own_cpu_before.zip(cpu_seconds(std::process::id())).map(|(b, a)| a - b);
    let sent_during = counts.sent.load(Ordering::Relaxed) - sent_before;
    let mut latencies = std::mem::take(&mut *counts.latencies.lock().expect("not poisoned"));
    latencies.sort_unstable();
    let delivered = latencies.len() as f64;
    let cpu = cpu_before.zip(cpu_after).map(|(b, a)| a - b);
    let db_cpu = db_cpu_before.zip(db_cpu_after).map(|(b, a)| a - b);
    Ok(json!({
        "mode": "throughput",
        "peer": if env.cli.peer == Peer::Ours { "ours" } else { "node" },
        "agents": agents,
        "customers": customers,
        "offered_per_s": rate,
        "window": rate.is_none().then_some(window),
        "seconds": elapsed,
        "sent_per_s": sent_during as f64 / elapsed,
        "delivered_per_s": delivered / elapsed,
        "p50_ms": pct(&latencies, 0.50) as f64 / 1000.0,
        "p99_ms": pct(&latencies, 0.99) as f64 / 1000.0,
        "p999_ms": pct(&latencies, 0.999) as f64 / 1000.0,
        "server_cpu_s": cpu,
        "cpu_us_per_message": cpu.map(|c| c * 1e6 / delivered.max(1.0)),
        "database_cpu_s": db_cpu,
        "cpu_us_per_message_with_database": cpu.zip(db_cpu).map(|(c, d)| (c + d) * 1e6 / delivered.max(1.0)),
        // The generator's own cost: it must stay well below the servers'.
        "generator_cpu_us_per_message": own_cpu.map(|c| c * 1e6 / delivered.max(1.0)),
        "errors": counts.errors.load(Ordering::Relaxed),
        "failed_customers": counts.failed.load(Ordering::Relaxed),
    }))
}

async fn idle(env: Arc<Env>, connections: usize, anonymous: bool) -> Result<serde_json::Value> {
    let started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for c in 0..connections {
        let env = env.clone();
        logins.spawn(async move {
            let login = if anonymous { Login::None } else { env.customer_login(c) };
            let (tx, rx) = env.connect(c, &login).await?;
            // Held, answering pings, until the run ends.
            tokio::spawn(async move {
                if let Err(e) = client::hold(tx, rx).await {
                    eprintln!("idle connection {c} ended: {e:#}");
                }
            });
            anyhow::Ok(())
        });
    }
    let mut failed = 0;
    while let Some(joined) = logins.join_next().await {
        if !matches!(joined, Ok(Ok(()))) {
            failed += 1;
        }
    }
    let login_s = started.elapsed().as_secs_f64();
    // Tell whoever runs us, then hold until our stdin closes.
    println!("{}", json!({"ready": connections - failed, "failed": failed, "login_s": login_s}));
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {}
    })
    .await?;
    Ok(json!({"mode": "idle", "connections": connections, "failed": failed}))
}

async fn storm(
    env: Arc<Env>,
    agents: usize,
    customers: usize,
    timeout_s: f64,
) -> Result<serde_json::Value> {
    for a in 0..agents {
        let (tx, rx) = env.connect(a, &env.agent_login(a)).await?;
        // Agents read everything they are sent (lists included), as a console would.
        tokio::spawn(client::hold(tx, rx));
    }
    let cpu_before = env.server_cpu();
    let started = Instant::now();
    let logged_in = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..customers {
        let env = env.clone();
        let logged_in = logged_in.clone();
        tasks.spawn(async move {
            let (tx, rx) = env.connect(agents + c, &env.customer_login(c)).await?;
            logged_in.fetch_add(1, Ordering::Relaxed);
            // Stay connected (reading what comes) until the run ends.
            tokio::spawn(client::hold(tx, rx));
            anyhow::Ok(())
        });
    }
    let deadline = tokio::time::sleep(Duration::from_secs_f64(timeout_s));
    tokio::pin!(deadline);
    let mut failed = 0;
    let finished = loop {
        tokio::select! {
            _ = &mut deadline => break false,
            next = tasks.join_next() => match next {
                None => break true,
                Some(Ok(Ok(()))) => {}
                Some(_) => failed += 1,
            },
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let cpu = env.server_cpu().zip(cpu_before).map(|(a, b)| a - b);
    Ok(json!({
        "mode": "storm",
        "peer": if env.cli.peer == Peer::Ours { "ours" } else { "node" },
        "agents": agents,
        "customers": customers,
        "finished": finished,
        "logged_in": logged_in.load(Ordering::Relaxed),
        "failed": failed,
        "seconds": seconds,
        "server_cpu_s": cpu,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_sample_at_or_above_the_rank() {
        let samples: Vec<u64> = (1..=1000).collect();
        assert_eq!(
            (pct(&samples, 0.5), pct(&samples, 0.99), pct(&samples, 0.999)),
            (500, 990, 999)
        );
        assert_eq!(pct(&[7], 0.99), 7);
        assert_eq!(pct(&[], 0.5), 0);
    }

    #[test]
    fn a_send_time_is_read_from_digits_only() {
        assert_eq!(number(b"1234567"), Some(1234567));
        assert_eq!(number(b"0"), Some(0));
        assert_eq!(number(b""), None);
        assert_eq!(number(b"12a"), None);
        assert_eq!(number(b"99999999999999999999"), None);
    }
}

//! The load generator: drives our server or the tutorial's Node.js peer with the same
//! load over Socket.IO websockets, and prints one JSON line of results per run.
//!
//! Modes: `throughput` (K agents, N customers; customer i writes to agent i mod K at a
//! fixed rate or closed-loop with W in flight; delivered/s and latency from send to the
//! agent's `message`), `idle` (N logged-in connections held until stdin closes), and
//! `storm` (the time for N customers to log in while K agents are online).
//! With `--server-pid` the server's CPU seconds over the measured window are read from
//! /proc (Linux).

mod cpu;
mod sio;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use cpu::{cpu_seconds, settle, tree_cpu_seconds};
use serde_json::json;
use sio::{Incoming, Login, Target};
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
    async fn connect(&self, i: usize, login: &Login) -> Result<(sio::Sender, sio::Receiver)> {
        let _permit = self.setup.acquire().await?;
        sio::login(&self.target(i, login), login).await.with_context(|| format!("{login:?}"))
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
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut agent_tasks = vec![];
    for a in 0..agents {
        let (mut tx, mut rx) = env.connect(a, &env.agent_login(a)).await?;
        let (measuring, stop) = (measuring.clone(), stop.clone());
        agent_tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u64> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let got = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
                match got {
                    Err(_) => continue,
                    Ok(Err(_)) => break,
                    Ok(Ok(Incoming::Ping)) => {
                        let _ = tx.pong().await;
                    }
                    Ok(Ok(Incoming::Event(name, data)))
                        if name == app::protocol::MESSAGE && data["self"] == json!(false) =>
                    {
                        if measuring.load(Ordering::Relaxed) {
                            if let Some(t) =
                                data["message"].as_str().and_then(|m| m.parse::<u64>().ok())
                            {
                                latencies.push(now_us().saturating_sub(t));
                            }
                        }
                    }
                    Ok(Ok(_)) => {}
                }
            }
            latencies
        }));
    }
    let mut customer_tasks = vec![];
    let per_customer_interval = rate.map(|r| Duration::from_secs_f64(customers as f64 / r));
    // Everyone logs in, the server settles, then everyone starts sending.
    let ready = Arc::new(tokio::sync::Barrier::new(customers + 1));
    let go = Arc::new(tokio::sync::Barrier::new(customers + 1));
    for c in 0..customers {
        let env = env.clone();
        let (stop, sent, ready, go) = (stop.clone(), sent.clone(), ready.clone(), go.clone());
        customer_tasks.push(tokio::spawn(async move {
            let connected = env.connect(agents + c, &env.customer_login(c)).await;
            ready.wait().await;
            go.wait().await;
            let (mut tx, mut rx) = connected?;
            let to = Env::agent_name(c % agents);
            let message = |to: &str| json!({"to": to, "message": now_us().to_string()});
            let mut errors = 0u64;
            match per_customer_interval {
                None => {
                    for _ in 0..window {
                        tx.emit(app::protocol::PRIVATE_MESSAGE, message(&to)).await?;
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    while !stop.load(Ordering::Relaxed) {
                        match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                            Err(_) => continue,
                            Ok(incoming) => match incoming? {
                                Incoming::Ping => tx.pong().await?,
                                Incoming::Event(name, data) if name == app::protocol::MESSAGE && data["self"] == json!(true) => {
                                    tx.emit(app::protocol::PRIVATE_MESSAGE, message(&to)).await?;
                                    sent.fetch_add(1, Ordering::Relaxed);
                                }
                                Incoming::Event(name, _) if name == app::protocol::ERROR => errors += 1,
                                Incoming::Event(..) => {}
                            },
                        }
                    }
                }
                Some(every) => {
                    // Spread the customers' first sends over one interval.
                    tokio::time::sleep(every.mul_f64(c as f64 / customers as f64)).await;
                    let mut tick = tokio::time::interval(every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    while !stop.load(Ordering::Relaxed) {
                        tokio::select! {
                            _ = tick.tick() => {
                                tx.emit(app::protocol::PRIVATE_MESSAGE, message(&to)).await?;
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                            incoming = rx.recv() => match incoming? {
                                Incoming::Ping => tx.pong().await?,
                                Incoming::Event(name, _) if name == app::protocol::ERROR => errors += 1,
                                Incoming::Event(..) => {}
                            },
                        }
                    }
                }
            }
            anyhow::Ok(errors)
        }));
    }
    ready.wait().await;
    let pid = env.cli.server_pid;
    settle(pid).await;
    go.wait().await;
    tokio::time::sleep(Duration::from_secs_f64(warmup_s)).await;
    let cpu_before = env.server_cpu();
    let db_cpu_before = env.cli.database_pid.and_then(tree_cpu_seconds);
    let sent_before = sent.load(Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = env.server_cpu();
    let db_cpu_after = env.cli.database_pid.and_then(tree_cpu_seconds);
    let sent_during = sent.load(Ordering::Relaxed) - sent_before;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = vec![];
    for task in agent_tasks {
        latencies.extend(task.await?);
    }
    let mut errors = 0;
    let mut failed = 0;
    for task in customer_tasks {
        match task.await? {
            Ok(e) => errors += e,
            Err(_) => failed += 1,
        }
    }
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
        "errors": errors,
        "failed_customers": failed,
    }))
}

async fn idle(env: Arc<Env>, connections: usize, anonymous: bool) -> Result<serde_json::Value> {
    let started = Instant::now();
    let mut tasks = vec![];
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    for c in 0..connections {
        let env = env.clone();
        let mut done = done_rx.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<()>>();
        tokio::spawn(async move {
            let login = if anonymous { Login::None } else { env.customer_login(c) };
            let (mut tx, mut rx) = match env.connect(c, &login).await {
                Ok(pair) => {
                    let _ = ready_tx.send(Ok(()));
                    pair
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // Held, answering pings, until told to stop.
            loop {
                tokio::select! {
                    _ = done.changed() => return,
                    incoming = rx.recv() => match incoming {
                        Ok(Incoming::Ping) => { let _ = tx.pong().await; }
                        Ok(_) => {}
                        Err(e) => { eprintln!("idle connection {c} ended: {e}"); return; }
                    },
                }
            }
        });
        tasks.push(ready_rx);
    }
    let mut failed = 0;
    for ready in tasks {
        if !matches!(ready.await, Ok(Ok(()))) {
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
    let _ = done_tx.send(true);
    Ok(json!({"mode": "idle", "connections": connections, "failed": failed}))
}

async fn storm(
    env: Arc<Env>,
    agents: usize,
    customers: usize,
    timeout_s: f64,
) -> Result<serde_json::Value> {
    let mut held = vec![];
    for a in 0..agents {
        let (mut tx, mut rx) = env.connect(a, &env.agent_login(a)).await?;
        // Agents read everything they are sent (lists included), as a console would.
        held.push(tokio::spawn(async move {
            while let Ok(incoming) = rx.recv().await {
                if let Incoming::Ping = incoming {
                    let _ = tx.pong().await;
                }
            }
        }));
    }
    let cpu_before = env.server_cpu();
    let started = Instant::now();
    let logged_in = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..customers {
        let env = env.clone();
        let logged_in = logged_in.clone();
        tasks.spawn(async move {
            let (mut tx, mut rx) = env.connect(agents + c, &env.customer_login(c)).await?;
            logged_in.fetch_add(1, Ordering::Relaxed);
            // Stay connected (reading what comes) until the run ends.
            tokio::spawn(async move {
                while let Ok(incoming) = rx.recv().await {
                    if let Incoming::Ping = incoming {
                        let _ = tx.pong().await;
                    }
                }
            });
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
}

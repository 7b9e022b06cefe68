//! Several nodes sharing one desk through Redis (`REDIS_URL`).
//!
//! Every node runs the same hub on the same [`Item`]s in the same order: a node appends
//! the items it would apply to one Redis stream (`XADD`), every node reads the stream
//! (`XREAD`) and applies each entry, sending what it produces to its own sockets only. The
//! node that appended an entry gets its outcome back once applied, and stores what it
//! changed. So a login, a name, the queue and every assignment are decided once, in stream
//! order, identically on every node: a conversation cannot be assigned twice.
//!
//! Nodes: each takes a number (`INCR`), which is the high bits of its connection ids, and
//! keeps a key alive (`SET … PX`) while it runs. A node whose key expired (it crashed) is
//! declared gone by the first other node to notice (`SREM` on the set of nodes answers 1
//! to one caller only): a `NodeGone` entry, on which every hub drops that node's
//! connections. A node joining starts from the newest snapshot of the hub (written by one
//! node at a time, under a lease) and the stream after it; older entries are trimmed.
//! Must not: decide anything (the hub does), or send to other nodes' sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::oneshot;

use super::live::{Applied, Effect, Item, CONN_BITS};
use super::socket::Shared;
use crate::hub::Hub;
use app::text::Problem;

const STREAM: &str = "chat:hub";
const NODES: &str = "chat:nodes";
const NODE_IDS: &str = "chat:node-ids";
const SNAPSHOT: &str = "chat:snapshot";
const SNAPSHOTTER: &str = "chat:snapshotter";

/// A node refreshes its key this often; the key lives `NODE_TTL` (so a node is declared
/// gone between `NODE_TTL` and `NODE_TTL + HEARTBEAT` after it stopped).
const HEARTBEAT: Duration = Duration::from_secs(1);
const NODE_TTL: Duration = Duration::from_secs(5);
/// How often the snapshot is written by default, and how long its writer holds the lease
/// (at least three snapshots' time).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);
/// Entries read at once, and how long one read waits for new ones.
const READ_COUNT: usize = 1024;
const READ_BLOCK_MS: u64 = 1000;

/// This node's link to the others.
pub struct Cluster {
    node: u64,
    client: Client,
    writer: MultiplexedConnection,
    /// Entries this node appended and is waiting to see applied, by their number here.
    pending: Mutex<HashMap<u64, Pending>>,
    next: AtomicU64,
    /// Set when this node leaves on purpose: its own `NodeGone` is expected then.
    leaving: AtomicBool,
    snapshot_every: Duration,
}

struct Pending {
    /// The items as given: they may hold secrets that are not sent (a login's token).
    items: Vec<Item>,
    reply: oneshot::Sender<Vec<Applied>>,
}

/// Where a joining node starts: the hub as of a stream entry.
pub struct Start {
    pub hub: Option<Hub>,
    pub from: String,
}

fn failed(doing: &'static str) -> impl Fn(redis::RedisError) -> String {
    move |e| format!("{doing}: {e}")
}

impl Cluster {
    /// Connects, takes a node number and reads where to start from.
    pub async fn connect(url: &str, snapshot_every: Duration) -> Result<(Self, Start), String> {
        let client = Client::open(url).map_err(failed("the Redis URL"))?;
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
        let mut writer =
            client.get_multiplexed_async_connection_with_config(&config).await.map_err(failed("connecting to Redis"))?;
        let node: u64 = redis::cmd("INCR").arg(NODE_IDS).query_async(&mut writer).await.map_err(failed("taking a node number"))?;
        if node >= 1 << (64 - CONN_BITS) {
            return Err(format!("node number {node} is too large; reset {NODE_IDS} in Redis"));
        }
        let snapshot: Option<Vec<u8>> = redis::cmd("GET").arg(SNAPSHOT).query_async(&mut writer).await.map_err(failed("reading the snapshot"))?;
        let start = match snapshot {
            Some(bytes) => {
                let (from, hub): (String, Hub) = postcard::from_bytes(&bytes).map_err(|e| format!("reading the snapshot: {e}"))?;
                Start { hub: Some(hub), from }
            }
            None => Start { hub: None, from: "0-0".into() },
        };
        let cluster = Self {
            node,
            client,
            writer,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            leaving: AtomicBool::new(false),
            snapshot_every,
        };
        cluster.beat().await.map_err(failed("registering the node"))?;
        Ok((cluster, start))
    }

    pub fn node(&self) -> u64 {
        self.node
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `items` to the stream and waits until this node has applied them.
    pub async fn publish(&self, items: Vec<Item>) -> Result<Vec<Applied>, Problem> {
        let payload = serde_json::to_vec(&items).map_err(|e| {
            tracing::error!(error = %e, "encoding a cluster entry failed");
            Problem::Internal
        })?;
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let (reply, applied) = oneshot::channel();
        self.pending().insert(key, Pending { items, reply });
        let added: redis::RedisResult<String> = redis::cmd("XADD")
            .arg(STREAM)
            .arg("*")
            .arg("n")
            .arg(self.node)
            .arg("k")
            .arg(key)
            .arg("c")
            .arg(payload)
            .query_async(&mut self.writer.clone())
            .await;
        if let Err(e) = added {
            self.pending().remove(&key);
            tracing::error!(error = %e, "appending to the cluster stream failed");
            return Err(Problem::Internal);
        }
        applied.await.map_err(|_| {
            tracing::error!("a cluster entry was appended but not applied");
            Problem::Internal
        })
    }

    /// Refreshes this node's key.
    async fn beat(&self) -> redis::RedisResult<()> {
        let mut conn = self.writer.clone();
        redis::pipe()
            .cmd("SET")
            .arg(format!("chat:node:{}", self.node))
            .arg(1)
            .arg("PX")
            .arg(NODE_TTL.as_millis() as u64)
            .ignore()
            .cmd("SADD")
            .arg(NODES)
            .arg(self.node)
            .ignore()
            .query_async(&mut conn)
            .await
    }

    /// The nodes whose key expired, each claimed by this node alone.
    async fn claim_gone(&self) -> redis::RedisResult<Vec<u64>> {
        let mut conn = self.writer.clone();
        let nodes: Vec<u64> = redis::cmd("SMEMBERS").arg(NODES).query_async(&mut conn).await?;
        let mut gone = vec![];
        for node in nodes.into_iter().filter(|&n| n != self.node) {
            let alive: bool = redis::cmd("EXISTS").arg(format!("chat:node:{node}")).query_async(&mut conn).await?;
            if !alive {
                let claimed: u64 = redis::cmd("SREM").arg(NODES).arg(node).query_async(&mut conn).await?;
                if claimed == 1 {
                    gone.push(node);
                }
            }
        }
        Ok(gone)
    }

    /// Leaves on purpose (a graceful shutdown): the others drop this node's connections now
    /// rather than when its key expires.
    pub async fn leave(&self) {
        self.leaving.store(true, Ordering::SeqCst);
        if let Err(problem) = self.publish(vec![Item::NodeGone(self.node)]).await {
            tracing::warn!(?problem, "telling the other nodes that this one leaves failed; its key expires instead");
        }
        let mut conn = self.writer.clone();
        let _: redis::RedisResult<()> =
            redis::pipe().cmd("SREM").arg(NODES).arg(self.node).ignore().cmd("DEL").arg(format!("chat:node:{}", self.node)).ignore().query_async(&mut conn).await;
    }
}

/// Applies the stream up to now (a joining node must be current before it serves), then
/// starts the tasks that follow the stream and keep the node alive.
pub async fn start(shared: &Arc<Shared>, cluster: Arc<Cluster>, from: String) -> Result<(), String> {
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_millis(READ_BLOCK_MS) + Duration::from_secs(10)));
    let mut reader = cluster
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(failed("connecting to Redis"))?;
    let mut from = from;
    loop {
        let read = read(&mut reader, &from, None).await.map_err(failed("reading the cluster stream"))?;
        if read.is_empty() {
            break;
        }
        from = apply(shared, &cluster, read);
    }
    tracing::info!(node = cluster.node, from = %from, online = shared.live().hub.online(), "joined the cluster");
    tokio::spawn(follow(Arc::downgrade(shared), cluster.clone(), reader, from));
    tokio::spawn(keep_alive(Arc::downgrade(shared), cluster));
    Ok(())
}

/// One stream entry: who appended it, its number there, and its items.
struct Entry {
    id: String,
    node: u64,
    key: u64,
    items: Result<Vec<Item>, String>,
}

async fn read(conn: &mut MultiplexedConnection, after: &str, block_ms: Option<u64>) -> redis::RedisResult<Vec<Entry>> {
    let mut command = redis::cmd("XREAD");
    command.arg("COUNT").arg(READ_COUNT);
    if let Some(ms) = block_ms {
        command.arg("BLOCK").arg(ms);
    }
    let reply: Option<StreamReadReply> = command.arg("STREAMS").arg(STREAM).arg(after).query_async(conn).await?;
    let ids = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
    Ok(ids
        .map(|entry| {
            let field = |name: &str| entry.map.get(name).and_then(|v| redis::from_redis_value_ref::<Vec<u8>>(v).ok());
            let number = |name: &str| field(name).and_then(|b| String::from_utf8(b).ok()?.parse::<u64>().ok()).unwrap_or(0);
            let items = field("c")
                .ok_or_else(|| "no items".to_owned())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
            Entry { node: number("n"), key: number("k"), items, id: entry.id }
        })
        .collect())
}

/// Applies entries read from the stream; returns the last one's id.
fn apply(shared: &Arc<Shared>, cluster: &Cluster, entries: Vec<Entry>) -> String {
    let mut last = String::new();
    let mut effects = vec![];
    {
        let mut live = shared.live();
        for entry in entries {
            last = entry.id;
            // This node's own entries are applied as given (with what was not sent).
            let own = (entry.node == cluster.node).then(|| cluster.pending().remove(&entry.key)).flatten();
            let (items, reply) = match (own, entry.items) {
                (Some(Pending { items, reply }), _) => (items, Some(reply)),
                (None, Ok(items)) => (items, None),
                (None, Err(e)) => {
                    tracing::error!(entry = %last, error = %e, "a cluster entry cannot be read; skipped");
                    continue;
                }
            };
            let (applied, mut more) = live.apply(items);
            effects.append(&mut more);
            if let Some(reply) = reply {
                let _ = reply.send(applied);
            }
        }
    }
    let effects: Vec<Effect> = effects
        .into_iter()
        .filter(|e| match e {
            Effect::Fenced if cluster.leaving.load(Ordering::SeqCst) => false,
            _ => true,
        })
        .collect();
    if !effects.is_empty() {
        let shared = shared.clone();
        tokio::spawn(async move { shared.follow_up(effects).await });
    }
    last
}

/// Follows the stream for as long as the node runs; writes snapshots while it holds the lease.
async fn follow(shared: Weak<Shared>, cluster: Arc<Cluster>, mut conn: MultiplexedConnection, mut from: String) {
    let mut snapshot_due = tokio::time::Instant::now() + cluster.snapshot_every;
    let mut trim_to: Option<String> = None;
    loop {
        let read = read(&mut conn, &from, Some(READ_BLOCK_MS)).await;
        let Some(shared) = shared.upgrade() else { break };
        match read {
            Ok(entries) if !entries.is_empty() => from = apply(&shared, &cluster, entries),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "reading the cluster stream failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        if tokio::time::Instant::now() >= snapshot_due {
            snapshot_due = tokio::time::Instant::now() + cluster.snapshot_every;
            match snapshot(&shared, &cluster, &from, trim_to.as_deref()).await {
                Ok(true) => trim_to = Some(from.clone()),
                Ok(false) => trim_to = None,
                Err(e) => tracing::warn!(error = %e, "writing the cluster snapshot failed"),
            }
        }
    }
}

/// Writes the hub as of entry `at`, if this node holds (or takes) the lease; trims the
/// stream before its previous snapshot (a node joining from the current one still finds
/// everything after it). Returns whether it wrote.
async fn snapshot(shared: &Shared, cluster: &Cluster, at: &str, trim_to: Option<&str>) -> Result<bool, String> {
    let mut conn = cluster.writer.clone();
    let lease_ms = (cluster.snapshot_every * 3).as_millis() as u64;
    let took: Option<String> = redis::cmd("SET")
        .arg(SNAPSHOTTER)
        .arg(cluster.node)
        .arg("NX")
        .arg("PX")
        .arg(lease_ms)
        .query_async(&mut conn)
        .await
        .map_err(failed("taking the snapshot lease"))?;
    if took.is_none() {
        let holder: Option<u64> = redis::cmd("GET").arg(SNAPSHOTTER).query_async(&mut conn).await.map_err(failed("reading the lease"))?;
        if holder != Some(cluster.node) {
            return Ok(false);
        }
        let _: () = redis::cmd("PEXPIRE").arg(SNAPSHOTTER).arg(lease_ms).query_async(&mut conn).await.map_err(failed("renewing the lease"))?;
    }
    // `at` is the last entry applied: the hub now is the hub as of `at`.
    let bytes = {
        let live = shared.live();
        postcard::to_allocvec(&(at, &live.hub)).map_err(|e| format!("encoding the hub: {e}"))?
    };
    let _: () = redis::cmd("SET").arg(SNAPSHOT).arg(bytes).query_async(&mut conn).await.map_err(failed("writing the snapshot"))?;
    if let Some(min) = trim_to {
        let _: u64 = redis::cmd("XTRIM").arg(STREAM).arg("MINID").arg(min).query_async(&mut conn).await.map_err(failed("trimming the stream"))?;
    }
    Ok(true)
}

/// Refreshes this node's key and declares the nodes gone whose key expired.
async fn keep_alive(shared: Weak<Shared>, cluster: Arc<Cluster>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tick.tick().await;
        if shared.strong_count() == 0 || cluster.leaving.load(Ordering::SeqCst) {
            break;
        }
        if let Err(e) = cluster.beat().await {
            tracing::error!(error = %e, "refreshing this node's key failed");
            continue;
        }
        match cluster.claim_gone().await {
            Ok(gone) => {
                for node in gone {
                    tracing::warn!(node, "a node stopped answering: its connections are gone");
                    match cluster.publish(vec![Item::NodeGone(node)]).await {
                        // What its agents leaving changed (conversations back to the queue).
                        Ok(applied) => match shared.upgrade() {
                            Some(shared) => shared.keep(applied.into_iter().flat_map(|(_, changed)| changed).collect()).await,
                            None => break,
                        },
                        Err(problem) => tracing::error!(?problem, node, "declaring a node gone failed"),
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "checking the other nodes failed"),
        }
    }
}

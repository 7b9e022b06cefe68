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
//! This file is the link to Redis; [`super::follower`] applies the stream to the desk.
//! Must not: decide anything (the hub does), or send to other nodes' sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::oneshot;

use super::live::{Applied, Item, CONN_BITS};
use crate::hub::Hub;
use app::protocol::Problem;

const STREAM: &str = "chat:hub";
const NODES: &str = "chat:nodes";
const NODE_IDS: &str = "chat:node-ids";
const SNAPSHOT: &str = "chat:snapshot";
const SNAPSHOTTER: &str = "chat:snapshotter";

/// A node refreshes its key this often; the key lives `NODE_TTL` (so a node is declared
/// gone between `NODE_TTL` and `NODE_TTL + HEARTBEAT` after it stopped).
pub(super) const HEARTBEAT: Duration = Duration::from_secs(1);
const NODE_TTL: Duration = Duration::from_secs(5);
/// How often the snapshot is written by default, and how long its writer holds the lease
/// (at least three snapshots' time).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);
/// Entries read at once, and how long one read waits for new ones.
const READ_COUNT: usize = 1024;
/// How long one read of the stream waits for new entries, in milliseconds.
pub(super) const READ_BLOCK_MS: u64 = 1000;

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

/// Items this node appended to the stream, and who waits for their outcome.
pub(super) struct Pending {
    /// The items as given: they may hold secrets that are not sent (a login's token).
    pub items: Vec<Item>,
    pub reply: oneshot::Sender<Vec<Applied>>,
}

/// Where a joining node starts: the hub as of a stream entry.
pub struct Start {
    pub hub: Option<Hub>,
    pub from: String,
}

/// Why joining or following the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{doing}: {source}")]
    Redis {
        doing: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("{doing}: {source}")]
    Snapshot {
        doing: &'static str,
        #[source]
        source: postcard::Error,
    },
    #[error("node number {0} is too large; reset {NODE_IDS} in Redis")]
    NodeNumber(u64),
    #[error("reading the Redis CA certificate {path}: {source}")]
    Ca {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a Redis failure was about.
pub(super) fn failed(doing: &'static str) -> impl Fn(redis::RedisError) -> ClusterError {
    move |source| ClusterError::Redis { doing, source }
}

impl Cluster {
    /// Connects, takes a node number and reads where to start from.
    pub async fn connect(
        url: &str,
        ca: Option<&std::path::Path>,
        snapshot_every: Duration,
    ) -> Result<(Self, Start), ClusterError> {
        let client = match ca {
            // A private authority signed the server's certificate: trust it (only it).
            Some(path) => {
                let root_cert = std::fs::read(path).map_err(|source| ClusterError::Ca {
                    path: path.display().to_string(),
                    source,
                })?;
                let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
                Client::build_with_tls(url, certs)
            }
            None => Client::open(url),
        }
        .map_err(failed("the Redis URL"))?;
        let config =
            AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
        let mut writer = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(failed("connecting to Redis"))?;
        let node: u64 = redis::cmd("INCR")
            .arg(NODE_IDS)
            .query_async(&mut writer)
            .await
            .map_err(failed("taking a node number"))?;
        if node >= 1 << (64 - CONN_BITS) {
            return Err(ClusterError::NodeNumber(node));
        }
        let snapshot: Option<Vec<u8>> = redis::cmd("GET")
            .arg(SNAPSHOT)
            .query_async(&mut writer)
            .await
            .map_err(failed("reading the snapshot"))?;
        let start = match snapshot {
            Some(bytes) => {
                let (from, hub): (String, Hub) =
                    postcard::from_bytes(&bytes).map_err(|source| ClusterError::Snapshot {
                        doing: "reading the snapshot",
                        source,
                    })?;
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

    /// This node's number in the cluster.
    pub fn node(&self) -> u64 {
        self.node
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// This node's own entry `key` of the stream (appended by [`Cluster::publish`], which
    /// waits for it): the items as given, and where their outcome goes.
    pub(super) fn take_pending(&self, node: u64, key: u64) -> Option<Pending> {
        if node != self.node {
            return None;
        }
        self.pending().remove(&key)
    }

    /// Whether this node is leaving on purpose (its own `NodeGone` is expected then).
    pub(super) fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::SeqCst)
    }

    /// How often a snapshot of the hub is written.
    pub(super) fn snapshot_every(&self) -> Duration {
        self.snapshot_every
    }

    /// A connection of its own for reading the stream (a blocking read would hold up the
    /// writer's).
    pub(super) async fn reader(&self) -> Result<MultiplexedConnection, ClusterError> {
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(
            Duration::from_millis(READ_BLOCK_MS) + Duration::from_secs(10),
        ));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(failed("connecting to Redis"))
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
    pub(super) async fn beat(&self) -> redis::RedisResult<()> {
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
    pub(super) async fn claim_gone(&self) -> redis::RedisResult<Vec<u64>> {
        let mut conn = self.writer.clone();
        let nodes: Vec<u64> = redis::cmd("SMEMBERS").arg(NODES).query_async(&mut conn).await?;
        let mut gone = vec![];
        for node in nodes.into_iter().filter(|&n| n != self.node) {
            let alive: bool = redis::cmd("EXISTS")
                .arg(format!("chat:node:{node}"))
                .query_async(&mut conn)
                .await?;
            if !alive {
                let claimed: u64 =
                    redis::cmd("SREM").arg(NODES).arg(node).query_async(&mut conn).await?;
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
            tracing::warn!(
                ?problem,
                "telling the other nodes that this one leaves failed; its key expires instead"
            );
        }
        let mut conn = self.writer.clone();
        let _: redis::RedisResult<()> = redis::pipe()
            .cmd("SREM")
            .arg(NODES)
            .arg(self.node)
            .ignore()
            .cmd("DEL")
            .arg(format!("chat:node:{}", self.node))
            .ignore()
            .query_async(&mut conn)
            .await;
    }
}

/// One stream entry: who appended it, its number there, and its items.
pub(super) struct Entry {
    pub id: String,
    pub node: u64,
    pub key: u64,
    pub items: Result<Vec<Item>, String>,
}

/// The entries after `after` (waiting up to `block_ms` for some, if given).
pub(super) async fn read(
    conn: &mut MultiplexedConnection,
    after: &str,
    block_ms: Option<u64>,
) -> redis::RedisResult<Vec<Entry>> {
    let mut command = redis::cmd("XREAD");
    command.arg("COUNT").arg(READ_COUNT);
    if let Some(ms) = block_ms {
        command.arg("BLOCK").arg(ms);
    }
    let reply: Option<StreamReadReply> =
        command.arg("STREAMS").arg(STREAM).arg(after).query_async(conn).await?;
    let ids = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
    Ok(ids
        .map(|entry| {
            let field = |name: &str| {
                entry.map.get(name).and_then(|v| redis::from_redis_value_ref::<Vec<u8>>(v).ok())
            };
            let number = |name: &str| {
                field(name)
                    .and_then(|b| String::from_utf8(b).ok()?.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let items = field("c")
                .ok_or_else(|| "no items".to_owned())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
            Entry { node: number("n"), key: number("k"), items, id: entry.id }
        })
        .collect())
}

impl Cluster {
    /// Whether this node holds the snapshot lease, taking it when nobody does (or renewing
    /// it when this node has it). Only the holder encodes and writes snapshots.
    pub(super) async fn hold_snapshot_lease(&self) -> Result<bool, ClusterError> {
        let mut conn = self.writer.clone();
        let lease_ms = (self.snapshot_every * 3).as_millis() as u64;
        let took: Option<String> = redis::cmd("SET")
            .arg(SNAPSHOTTER)
            .arg(self.node)
            .arg("NX")
            .arg("PX")
            .arg(lease_ms)
            .query_async(&mut conn)
            .await
            .map_err(failed("taking the snapshot lease"))?;
        if took.is_none() {
            let holder: Option<u64> = redis::cmd("GET")
                .arg(SNAPSHOTTER)
                .query_async(&mut conn)
                .await
                .map_err(failed("reading the lease"))?;
            if holder != Some(self.node) {
                return Ok(false);
            }
            let _: () = redis::cmd("PEXPIRE")
                .arg(SNAPSHOTTER)
                .arg(lease_ms)
                .query_async(&mut conn)
                .await
                .map_err(failed("renewing the lease"))?;
        }
        Ok(true)
    }

    /// Writes a snapshot (the hub with the last entry it applied, encoded; the caller holds
    /// the lease) and trims the stream before its previous snapshot (a node joining from the
    /// current one still finds everything after it).
    pub(super) async fn write_snapshot(
        &self,
        hub: Vec<u8>,
        trim_to: Option<&str>,
    ) -> Result<(), ClusterError> {
        let mut conn = self.writer.clone();
        let _: () = redis::cmd("SET")
            .arg(SNAPSHOT)
            .arg(hub)
            .query_async(&mut conn)
            .await
            .map_err(failed("writing the snapshot"))?;
        if let Some(min) = trim_to {
            let _: u64 = redis::cmd("XTRIM")
                .arg(STREAM)
                .arg("MINID")
                .arg(min)
                .query_async(&mut conn)
                .await
                .map_err(failed("trimming the stream"))?;
        }
        Ok(())
    }
}

//! A node of a cluster following the others: it catches up with the cluster's stream,
//! applies every entry to its desk in stream order, writes snapshots of the hub while it
//! holds the lease, and keeps its own key alive (declaring gone the nodes whose key
//! expired). See [`super::cluster`] for the design.
//!
//! Owns: the tasks that read the stream and beat. Must not: decide anything (the hub
//! does), or send to other nodes' sockets.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::cluster::{self, Cluster, ClusterError, Entry, Pending, HEARTBEAT, READ_BLOCK_MS};
use super::desk::Desk;
use super::live::{Effect, Item};
use crate::metrics;

/// Applies the stream up to now (a joining node must be current before it serves), then
/// starts the tasks that follow the stream and keep the node alive.
pub async fn start(
    desk: &Arc<Desk>,
    cluster: Arc<Cluster>,
    from: String,
) -> Result<(), ClusterError> {
    let mut reader = cluster.reader().await?;
    let mut from = from;
    loop {
        let read = cluster::read(&mut reader, &from, None)
            .await
            .map_err(cluster::failed("reading the cluster stream"))?;
        if read.is_empty() {
            break;
        }
        from = apply(desk, &cluster, read);
    }
    tracing::info!(node = cluster.node(), from = %from, online = desk.live().hub.online(), "joined the cluster");
    tokio::spawn(follow(Arc::downgrade(desk), cluster.clone(), reader, from));
    tokio::spawn(keep_alive(Arc::downgrade(desk), cluster));
    Ok(())
}

/// Applies entries read from the stream; returns the last one's id.
fn apply(desk: &Arc<Desk>, cluster: &Cluster, entries: Vec<Entry>) -> String {
    let mut last = String::new();
    let mut effects = vec![];
    {
        let mut live = desk.live();
        for entry in entries {
            last = entry.id;
            // This node's own entries are applied as given (with what was not sent).
            let (items, reply) = match (cluster.take_pending(entry.node, entry.key), entry.items) {
                (Some(Pending { items, reply }), _) => (items, Some(reply)),
                (None, Ok(items)) => (items, None),
                (None, Err(e)) => {
                    tracing::error!(entry = %last, error = %e, "a cluster entry cannot be read; skipped");
                    continue;
                }
            };
            live.written_ms = written_ms(&last);
            let (applied, mut more) = live.apply(items);
            effects.append(&mut more);
            if let Some(reply) = reply {
                if reply.send(applied).is_err() {
                    tracing::debug!(entry = %last, "the node's own entry was applied after its caller gave up");
                }
            }
        }
        live.written_ms = None;
    }
    let effects: Vec<Effect> = effects
        .into_iter()
        .filter(|e| !(matches!(e, Effect::Fenced) && cluster.is_leaving()))
        .collect();
    if !effects.is_empty() {
        let desk = desk.clone();
        tokio::spawn(async move { desk.follow_up(effects).await });
    }
    last
}

/// When Redis wrote the stream entry `id` (`<milliseconds>-<sequence>`).
fn written_ms(id: &str) -> Option<u64> {
    id.split_once('-').and_then(|(ms, _)| ms.parse().ok())
}

/// Follows the stream for as long as the node runs; writes snapshots while it holds the lease.
async fn follow(
    desk: Weak<Desk>,
    cluster: Arc<Cluster>,
    mut conn: MultiplexedConnection,
    mut from: String,
) {
    let mut snapshot_due = tokio::time::Instant::now() + cluster.snapshot_every();
    let mut trim_to: Option<String> = None;
    loop {
        let read = cluster::read(&mut conn, &from, Some(READ_BLOCK_MS)).await;
        let Some(desk) = desk.upgrade() else { break };
        match read {
            Ok(entries) if !entries.is_empty() => {
                from = apply(&desk, &cluster, entries);
                metrics::stream_applied(written_ms(&from), crate::clock::now_ms());
            }
            // Caught up: nothing more to read.
            Ok(_) => metrics::stream_applied(None, crate::clock::now_ms()),
            Err(e) => {
                tracing::error!(error = %e, "reading the cluster stream failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        if tokio::time::Instant::now() >= snapshot_due {
            snapshot_due = tokio::time::Instant::now() + cluster.snapshot_every();
            match snapshot(&desk, &cluster, &from, trim_to.as_deref()).await {
                Ok(true) => trim_to = Some(from.clone()),
                Ok(false) => trim_to = None,
                Err(e) => tracing::warn!(error = %e, "writing the cluster snapshot failed"),
            }
        }
    }
}

/// Writes the hub as of entry `at` (the last one applied), if this node holds the lease
/// (the others do not encode it). Returns whether it wrote.
async fn snapshot(
    desk: &Desk,
    cluster: &Cluster,
    at: &str,
    trim_to: Option<&str>,
) -> Result<bool, ClusterError> {
    if !cluster.hold_snapshot_lease().await? {
        return Ok(false);
    }
    let bytes = {
        let live = desk.live();
        postcard::to_allocvec(&(at, &live.hub))
            .map_err(|source| ClusterError::Snapshot { doing: "encoding the hub", source })?
    };
    cluster.write_snapshot(bytes, trim_to).await?;
    Ok(true)
}

/// Refreshes this node's key, tells the other nodes what this one's clients used per
/// address, and declares the nodes gone whose key expired.
async fn keep_alive(desk: Weak<Desk>, cluster: Arc<Cluster>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    loop {
        tick.tick().await;
        if desk.strong_count() == 0 || cluster.is_leaving() {
            break;
        }
        if let Err(e) = cluster.beat().await {
            tracing::error!(error = %e, "refreshing this node's key failed");
            continue;
        }
        // The limits per address hold for the whole cluster, a second behind at most.
        match desk.upgrade() {
            Some(desk) => desk.share_use().await,
            None => break,
        }
        match cluster.claim_gone().await {
            Ok(gone) => {
                for node in gone {
                    tracing::warn!(node, "a node stopped answering: its connections are gone");
                    match cluster.publish(vec![Item::NodeGone(node)]).await {
                        // What its agents leaving changed (conversations back to the queue).
                        Ok(applied) => match desk.upgrade() {
                            Some(desk) => {
                                desk.keep(
                                    applied.into_iter().flat_map(|(_, changed)| changed).collect(),
                                )
                                .await
                            }
                            None => break,
                        },
                        Err(problem) => {
                            tracing::error!(?problem, node, "declaring a node gone failed")
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "checking the other nodes failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::written_ms;

    #[test]
    fn a_stream_entry_id_says_when_redis_wrote_it() {
        assert_eq!(written_ms("1796524719831-0"), Some(1_796_524_719_831));
        assert_eq!(written_ms("1796524719831-17"), Some(1_796_524_719_831));
        assert_eq!(written_ms("0"), None);
        assert_eq!(written_ms(""), None);
    }
}

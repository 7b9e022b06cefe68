//! The thread that keeps a SQLite file's search index up to date, behind the messages.
//!
//! Owns: one connection of its own (rusqlite) and the index's position (`search_index`,
//! migration 0011). It indexes the messages stored after that position a batch at a time,
//! each batch one short transaction, and rests after each for [`REST_FACTOR`] times as long
//! as the batch took, so that it never takes more than a fifth of one core from the
//! message path (a tenth of this machine's two), however much waits: under a burst the
//! index falls behind and catches up after. A search stays complete meanwhile: it reads
//! the index up to the position and scans the messages after it (`store::search`).
//!
//! Why not in the message's own transaction (a trigger): indexing a message's trigrams costs
//! SQLite about four times what storing the message does (measured by `benches/search.rs`:
//! appends ran at 0.22–0.27× their rate with the trigger); the message path must not pay it.
//! Must not: index a message twice, or one that is not committed (the position moves in the
//! same transaction as the index; message ids grow, committed in order by one writer, and
//! one stored with an id the position has passed, which SQLite may give again after the
//! newest message was deleted, is indexed by a trigger as it is stored: migration 0011).

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use super::rows::backend;
use super::StoreError;

/// Messages indexed in one transaction: short enough that the writer waits a few
/// milliseconds at most for the database's lock.
pub(super) const BATCH: i64 = 200;

/// How long the indexer rests after a batch, as a multiple of the time the batch took.
const REST_FACTOR: u32 = 4;

/// How often an idle indexer looks for new messages.
const IDLE: Duration = Duration::from_millis(500);

/// How long the indexer waits for the database's lock before trying again later.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The handle to the indexer thread; the thread ends when the handle is dropped.
#[derive(Debug)]
pub(super) struct Indexer {
    _stop: mpsc::Sender<()>,
}

impl Indexer {
    /// Starts indexing the database file at `path` (its schema up to date).
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = open(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-indexer".into())
            .spawn(move || run(conn, stopped))
            .map_err(backend)?;
        Ok(Self { _stop: stop })
    }
}

/// A connection for indexing the database file at `path`. Its commits are not fsynced
/// (`synchronous = NORMAL`, in WAL mode): a power loss may undo the last batches, and the
/// position with them, so they are indexed again; the index is never ahead of its position.
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
    Ok(conn)
}

fn run(mut conn: Connection, stopped: mpsc::Receiver<()>) {
    loop {
        let started = Instant::now();
        let rest = match index_batch(&mut conn) {
            Ok(0) => IDLE,
            Ok(_) => started.elapsed() * REST_FACTOR,
            Err(e) => {
                tracing::error!(error = %e, "indexing messages for search failed; trying again later");
                IDLE * 10
            }
        };
        // The store is gone when its handle is: then so is this thread.
        match stopped.recv_timeout(rest) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

/// The index's position: every message up to it is indexed.
pub(super) const POSITION: &str = "SELECT indexed_up_to FROM search_index WHERE only_row = 1";
/// The last id and the number of the next messages to index (after `$1`, at most `$2`).
pub(super) const NEXT: &str =
    "SELECT max(id), count(*) FROM (SELECT id FROM messages WHERE id > $1 ORDER BY id LIMIT $2)";
/// Indexes the messages after `$1` up to `$2`.
pub(super) const INDEX: &str =
    "INSERT INTO messages_fts (rowid, body) SELECT id, body FROM messages WHERE id > $1 AND id <= $2";
/// Moves the position to `$1`.
pub(super) const ADVANCE: &str = "UPDATE search_index SET indexed_up_to = $1 WHERE only_row = 1";

/// Indexes the next [`BATCH`] messages not indexed yet, in one transaction: how many.
pub(super) fn index_batch(conn: &mut Connection) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let from: i64 = tx.query_row(POSITION, [], |r| r.get(0)).map_err(backend)?;
    let (to, count): (Option<i64>, i64) =
        tx.query_row(NEXT, [from, BATCH], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
    let Some(to) = to else { return Ok(0) };
    tx.execute(INDEX, [from, to]).map_err(backend)?;
    tx.execute(ADVANCE, [to]).map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(usize::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use crate::model::Identity;
    use crate::store::{SqliteStore, Store};
    use app::protocol::{MessageText, UserName};

    #[tokio::test]
    async fn the_indexer_catches_up_with_the_messages_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display())).await.unwrap();
        let meta = store.create_customer(&UserName::parse("ann").unwrap(), "t", 1).await.unwrap();
        let batch: Vec<_> = (0..super::BATCH + 5)
            .map(|i| crate::model::NewMessage {
                conversation: meta.id,
                author: Identity::Customer(meta.customer),
                from: meta.customer_name.clone(),
                to: None,
                joins: None,
                text: MessageText::parse(&format!("message {i}")).unwrap(),
                client_id: None,
                ts: 10 + i as u64,
                attachments: vec![],
            })
            .collect();
        store.append(&batch).await.unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let read = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        let newest = read("SELECT max(id) FROM messages");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while read(super::POSITION) < newest {
            assert!(std::time::Instant::now() < deadline, "the indexer did not catch up");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Every message once, in more than one batch.
        assert_eq!(
            read("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"message\"'"),
            newest
        );

        // The newest deleted (as a forgotten customer's are), its id given again: the new
        // message is indexed at once, the old one is gone from the index, which stays whole.
        conn.execute("DELETE FROM messages WHERE id = ?1", [newest]).unwrap();
        let mut again = batch[0].clone();
        again.text = MessageText::parse("a brand new parcel").unwrap();
        let stored = store.append(&[again]).await.unwrap().pop().unwrap().unwrap();
        assert_eq!(stored.message.id.0 as i64, newest, "SQLite gave the id again");
        let count = |phrase: &str| {
            read(&format!(
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"{phrase}\"'"
            ))
        };
        assert_eq!(count("brand new"), 1);
        assert_eq!(count("message"), newest - 1);
        conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
            .expect("the index matches the messages");
    }
}

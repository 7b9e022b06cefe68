//! The thread that appends messages to a SQLite file.
//!
//! Owns: one connection of its own (rusqlite, its statements prepared once and kept), on
//! a thread of its own. It takes every batch waiting as one transaction with one fsync
//! (group commit) and answers each caller with what was stored. The message pipeline is
//! its one caller in the server and sends a batch at a time, itself everything that waited
//! (so the pipeline's batch is the commit group); several callers' batches waiting together
//! (tests, tools) are committed together.
//!
//! Why a thread and another driver for this one write: through sqlx, each statement of an
//! append is handed to sqlx's worker thread and its answer handed back (a dozen hand-offs
//! for one batch, with the JSON the batched statements take); issue 5's profile put SQLite
//! behind sqlx at a fifth of the server's CPU. Here a batch costs one hand-off each way and
//! a few prepared statements per message, run in place. Everything else the store does
//! (logins, sessions, states, reads) stays on sqlx's pool: SQLite lets one writer at a time
//! and both sides wait for the lock (the busy timeout) rather than fail.
//!
//! Durability is the pool's: WAL with `synchronous = FULL` by default, so an acknowledged
//! message survives `kill -9` and power loss (`SQLITE_SYNC=normal`, opt-in: `kill -9`
//! only); the file is confirmed after every commit.
//! Must not: run on the async runtime (everything here blocks), or answer before the commit.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{params, CachedStatement, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::rows::{
    attachments_column, author_columns, backend, int, invalid, uint, MessageColumns,
    MESSAGE_COLUMNS,
};
use super::sqlite::FileIdentity;
use super::{SqliteSync, StoreError};
use crate::model::{Appended, NewMessage, StoredMessage};
use app::protocol::MessageId;

/// How long a write waits for the database's lock (held by the pool's writes meanwhile),
/// the same as sqlx's default for the pool.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Most messages in one transaction when several batches wait together.
const MAX_GROUP: usize = 2048;

/// What each message of a batch became, or why the whole batch was not stored.
pub(super) type Outcome = Result<Vec<Result<Appended, StoreError>>, StoreError>;

/// One caller's batch and where its answer goes.
struct Job {
    batch: Vec<NewMessage>,
    reply: oneshot::Sender<Outcome>,
}

/// The handle to the writer thread; the thread ends (and closes its connection) when the
/// last handle is dropped.
#[derive(Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the writer's connection to the database file at `path` (its schema already up
    /// to date) and starts the thread. `max_pages` is the size cap, if any, and `sync` the
    /// `synchronous` setting (each a connection's own setting: the same as the pool's).
    pub(super) fn start(
        path: &Path,
        max_pages: Option<u64>,
        sync: SqliteSync,
        file: FileIdentity,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        // The pool set WAL (a setting of the file) when it opened it; without it, this
        // connection's writes would block every reader.
        let mode: String =
            conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(backend(std::io::Error::other(format!(
                "the database file is in journal mode {mode}, not WAL"
            ))));
        }
        conn.pragma_update(None, "synchronous", sync.level()).map_err(backend)?;
        // A setting that did not take would weaken every acknowledgement without a word:
        // read it back.
        let applied: i64 =
            conn.pragma_query_value(None, "synchronous", |row| row.get(0)).map_err(backend)?;
        if applied != sync.level() {
            return Err(backend(std::io::Error::other(format!(
                "the writer's synchronous setting is {applied}, not {} ({sync:?})",
                sync.level()
            ))));
        }
        conn.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
        if let Some(pages) = max_pages {
            conn.pragma_update(None, "max_page_count", pages).map_err(backend)?;
        }
        let (jobs, waiting) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, waiting, file))
            .map_err(backend)?;
        Ok(Self { jobs })
    }

    /// Stores `batch` (see [`super::Store::append`]); answers once it is committed.
    pub(super) async fn append(&self, batch: &[NewMessage]) -> Outcome {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { batch: batch.to_vec(), reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    backend(std::io::Error::other("the SQLite writer thread has stopped"))
}

/// The thread: waits for a batch, takes every other one waiting with it, stores them in
/// one transaction, answers each.
fn run(mut conn: Connection, waiting: mpsc::Receiver<Job>, file: FileIdentity) {
    while let Ok(first) = waiting.recv() {
        // Whatever waits, up to MAX_GROUP messages (a longer transaction would keep the
        // pool's writes waiting for the lock).
        let mut count = first.batch.len();
        let mut group = vec![first];
        while count < MAX_GROUP {
            let Ok(job) = waiting.try_recv() else { break };
            count += job.batch.len();
            group.push(job);
        }
        let messages: Vec<&NewMessage> = group.iter().flat_map(|job| &job.batch).collect();
        // A panic fails this group, not every later one.
        let stored = std::panic::catch_unwind(AssertUnwindSafe(|| store(&mut conn, &messages)))
            .unwrap_or_else(|_| Err(backend(std::io::Error::other("the SQLite writer panicked"))))
            .and_then(|results| {
                file.still_there()?;
                Ok(results)
            });
        match stored {
            Ok(results) => {
                let mut results = results.into_iter();
                for job in group {
                    let mine = results.by_ref().take(job.batch.len()).collect();
                    // The caller may have gone; what was stored reaches everyone at their
                    // next catch-up.
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, messages = messages.len(), "storing messages failed");
                let text = e.to_string();
                for job in group {
                    let _ = job.reply.send(Err(backend(std::io::Error::other(text.clone()))));
                }
            }
        }
    }
}

/// What storing a group in one transaction came to, when it did not.
enum Halted {
    /// SQLite undid the whole transaction (as it does on an I/O error, and may on a full
    /// disk, whatever statement hit it), or the statements could not be prepared before
    /// anything was written: the group fails.
    Undone(StoreError),
    /// A write failed after a message's row was inserted (its participant, or its
    /// conversation's number at the end of the group): the transaction must be undone.
    MessageFailed(StoreError),
}

/// Stores messages in one transaction (see [`append_all`]); should a write fail after a
/// message's row was inserted, the transaction is undone and the messages are stored one
/// by one in savepoints (a savepoint per message costs SQLite a copy of every page it
/// touches, so only then), so that one failing does not fail the others. The whole fails
/// if the transaction cannot begin or commit, or if the database undid it.
fn store(
    conn: &mut Connection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    if !conn.is_autocommit() {
        // A rollback that failed earlier (rusqlite ignores its error when a transaction is
        // dropped) would leave this connection inside it, and every later BEGIN refused.
        tracing::error!(
            "the SQLite writer's connection was left in a transaction; rolling it back"
        );
        conn.execute_batch("ROLLBACK").map_err(backend)?;
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    match append_all(&tx, messages) {
        Ok(results) => {
            enqueue(&tx, &results)?;
            tx.commit().map_err(backend)?;
            Ok(results)
        }
        Err(Halted::Undone(e)) => Err(e),
        Err(Halted::MessageFailed(e)) => {
            // Dropping the transaction undoes it.
            drop(tx);
            tracing::debug!(error = %e, "storing messages at once failed; storing each alone");
            one_by_one(conn, messages)
        }
    }
}

/// Stores each message in a savepoint of its own, within one transaction: a message that
/// fails is undone alone and refused; the others are stored.
fn one_by_one(
    conn: &mut Connection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut results = Vec::with_capacity(messages.len());
    for m in messages {
        let one = tx.savepoint().map_err(backend)?;
        match append_all(&one, &[m]) {
            Ok(mut result) => {
                enqueue(&one, &result)?;
                one.commit().map_err(backend)?;
                results.push(result.pop().expect("one result for one message"));
            }
            Err(Halted::Undone(e)) => return Err(e),
            Err(Halted::MessageFailed(e)) => {
                // Dropping the savepoint rolls it back.
                drop(one);
                results.push(Err(e));
            }
        }
    }
    tx.commit().map_err(backend)?;
    Ok(results)
}

/// Writes the webhooks' deliveries of the messages just stored, in their transaction (see
/// `store::webhooks`): nothing when no webhook exists. A failure fails the group: no message
/// is stored without its events.
fn enqueue(conn: &Connection, results: &[Result<Appended, StoreError>]) -> Result<(), StoreError> {
    let any = conn
        .prepare_cached(super::webhooks::ANY_WEBHOOK)
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)).optional())
        .map_err(backend)?;
    if any.is_none() {
        return Ok(());
    }
    let appended: Vec<&Appended> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let events = crate::webhooks::stored(&appended);
    let mut insert = conn.prepare_cached(super::webhooks::ENQUEUE).map_err(backend)?;
    for event in &events {
        insert
            .execute(params![event.name, event.body, int(event.at), event.pattern()])
            .map_err(backend)?;
    }
    Ok(())
}

/// Where a conversation's numbering stands within a group: read before its first message
/// of the group, written once after the last.
struct Numbering {
    last_seq: i64,
    /// The newest message's time, for `updated_at`.
    newest: i64,
    /// Whether a message of the group was numbered (a copy takes no number).
    numbered: bool,
}

/// Stores messages inside the caller's transaction or savepoint (a group, or one message
/// of the one-by-one fallback): each conversation's last sequence number is read once, each
/// new message inserted with the next (a copy of one already stored, recognised by its
/// client id, is answered with the original and takes no number), and each conversation
/// written once at the end. A message refused by its insert
/// (which SQLite undoes whole) takes no number, so the others go on without a gap.
fn append_all(
    conn: &Connection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, Halted> {
    // Before anything is written: should they not prepare, the group fails whole.
    let mut statements = Statements::prepare(conn).map_err(Halted::Undone)?;
    // Ordered by id, so that the updates at the end walk the table's B-tree in order.
    let mut numbering: BTreeMap<i64, Numbering> = BTreeMap::new();
    let mut results = Vec::with_capacity(messages.len());
    for m in messages {
        match append_one(conn, &mut statements, &mut numbering, m) {
            Ok(appended) => results.push(Ok(appended)),
            // SQLite undid the whole transaction: what went before is gone too.
            Err(failed) if conn.is_autocommit() => return Err(Halted::Undone(failed.into_error())),
            Err(Failed::Before(e)) => results.push(Err(e)),
            Err(Failed::After(e)) => return Err(Halted::MessageFailed(e)),
        }
    }
    for (conversation, n) in numbering.iter().filter(|(_, n)| n.numbered) {
        let updated =
            statements.number.execute(params![n.last_seq, n.newest, conversation]).map_err(backend);
        match updated {
            Ok(1) => {}
            // SQLite undid the whole transaction: the group fails.
            Err(e) if conn.is_autocommit() => return Err(Halted::Undone(e)),
            // Its messages are inserted but the conversation not numbered: undone, and
            // stored one by one, this conversation's messages are refused, not the others.
            Err(e) => return Err(Halted::MessageFailed(e)),
            Ok(rows) => {
                return Err(Halted::MessageFailed(invalid(format!(
                    "numbering conversation {conversation} changed {rows} rows"
                ))))
            }
        }
    }
    Ok(results)
}

/// The statements a group runs for each message and conversation, taken from the
/// connection's cache once per group rather than looked up (their text hashed) per message.
struct Statements<'c> {
    last_seq: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    join: CachedStatement<'c>,
    number: CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c Connection) -> Result<Self, StoreError> {
        let prepare = |sql: &str| conn.prepare_cached(sql).map_err(backend);
        Ok(Self {
            last_seq: prepare("SELECT last_seq FROM conversations WHERE id = ?1")?,
            insert: prepare(
                "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at, attachments) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (conversation_id, author_role, author_key, client_id) WHERE client_id IS NOT NULL DO NOTHING \
                 RETURNING id",
            )?,
            join: prepare(
                "INSERT INTO conversation_agents (conversation_id, agent_key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?,
            number: prepare(
                "UPDATE conversations SET last_seq = ?1, updated_at = max(updated_at, ?2) WHERE id = ?3",
            )?,
        })
    }
}

/// Why a message was not stored: before any of its statements wrote, or after.
enum Failed {
    Before(StoreError),
    After(StoreError),
}

impl Failed {
    fn into_error(self) -> StoreError {
        match self {
            Failed::Before(e) | Failed::After(e) => e,
        }
    }
}

/// Stores one message of a group, numbered from `numbering`.
fn append_one(
    conn: &Connection,
    statements: &mut Statements<'_>,
    numbering: &mut BTreeMap<i64, Numbering>,
    m: &NewMessage,
) -> Result<Appended, Failed> {
    let conversation = int(m.conversation.0);
    let n = match numbering.entry(conversation) {
        Entry::Occupied(n) => n.into_mut(),
        Entry::Vacant(slot) => {
            let last_seq: i64 = statements
                .last_seq
                .query_row(params![conversation], |row| row.get(0))
                .optional()
                .map_err(|e| Failed::Before(backend(e)))?
                .ok_or_else(|| {
                    Failed::Before(StoreError::NotFound(format!(
                        "conversation {}",
                        m.conversation.0
                    )))
                })?;
            slot.insert(Numbering { last_seq, newest: 0, numbered: false })
        }
    };
    let seq = n.last_seq + 1;
    let Some(id) = insert(&mut statements.insert, m, seq).map_err(Failed::Before)? else {
        let earlier = earlier(conn, m).map_err(Failed::Before)?;
        return Ok(Appended { message: earlier, duplicate: true });
    };
    *n = Numbering { last_seq: seq, newest: n.newest.max(int(m.ts)), numbered: true };
    if let Some(agent) = &m.joins {
        statements
            .join
            .execute(params![conversation, agent.as_str()])
            .map_err(|e| Failed::After(backend(e)))?;
    }
    Ok(Appended { message: m.stored(MessageId(uint(id)), uint(seq)), duplicate: false })
}

/// Inserts a message numbered `seq`; returns its id, or nothing if its sender already sent
/// its client id (the unique index's conflict, which the insert skips).
fn insert(
    insert: &mut CachedStatement<'_>,
    m: &NewMessage,
    seq: i64,
) -> Result<Option<i64>, StoreError> {
    let (role, key) = author_columns(&m.author);
    insert
        .query_row(
            params![
                int(m.conversation.0),
                seq,
                role,
                key,
                m.from.as_str(),
                m.to.as_ref().map(|n| n.as_str()),
                m.text.as_str(),
                m.client_id.as_ref().map(|c| c.as_str()),
                int(m.ts),
                attachments_column(&m.attachments),
            ],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)
}

/// The message stored earlier with the client id of `m`, from the same sender.
fn earlier(conn: &Connection, m: &NewMessage) -> Result<StoredMessage, StoreError> {
    let (role, key) = author_columns(&m.author);
    let Some(client_id) = m.client_id.as_ref().map(|c| c.as_str()) else {
        // Only a trigger ignoring the row could make an insert without one store nothing.
        return Err(invalid("the message's insert stored no row"));
    };
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE conversation_id = ?1 AND author_role = ?2 AND author_key = ?3 AND client_id = ?4"
    ))
    .and_then(|mut select| {
        select.query_row(params![int(m.conversation.0), role, key, client_id], |row| {
            Ok(MessageColumns {
                id: row.get(0)?,
                conversation: row.get(1)?,
                seq: row.get(2)?,
                role: row.get(3)?,
                key: row.get(4)?,
                from: row.get(5)?,
                to: row.get(6)?,
                body: row.get(7)?,
                client_id: row.get(8)?,
                ts: row.get(9)?,
                attachments: row.get(10)?,
            })
        })
    })
    .map_err(backend)?
    .message()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::model::Identity;
    use crate::store::tests::message;
    use crate::store::{SqliteStore, Store};
    use app::protocol::UserName;

    /// Batches from many tasks at once (committed together whenever they wait together):
    /// each caller gets the results of its own messages, in its order, and every
    /// conversation is numbered without gaps in the order its messages were sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn batches_committed_together_each_get_their_own_answers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let name = UserName::parse(&format!("c{i}")).unwrap();
                    let meta = store.create_customer(&name, &format!("t{i}"), 1).await.unwrap();
                    let me = Identity::Customer(meta.customer);
                    for k in 0..40 {
                        let batch: Vec<_> = (0..3)
                            .map(|j| message(&meta, me.clone(), &format!("{i}-{k}-{j}"), None, 2))
                            .collect();
                        let results = store.append(&batch).await.unwrap();
                        let got: Vec<(String, u64)> = results
                            .into_iter()
                            .map(|r| r.unwrap().message)
                            .map(|m| (m.text, m.seq))
                            .collect();
                        let sent: Vec<(String, u64)> =
                            (0..3).map(|j| (format!("{i}-{k}-{j}"), k * 3 + j + 1)).collect();
                        assert_eq!(got, sent);
                    }
                    meta.id
                })
            })
            .collect();
        for task in tasks {
            let id = task.await.unwrap();
            let stored = store.messages_after(id, 0, 200).await.unwrap();
            let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=120).collect::<Vec<_>>());
        }
    }
}

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
//! Durability is the pool's: WAL with `synchronous = FULL`, so an acknowledged message
//! survives `kill -9` and power loss; the file is confirmed after every commit.
//! Must not: run on the async runtime (everything here blocks), or answer before the commit.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::rows::{author_columns, backend, int, uint, MessageColumns};
use super::sqlite::FileIdentity;
use super::StoreError;
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
    /// to date) and starts the thread. `max_pages` is the size cap, if any (a connection's
    /// own setting, like the pool's).
    pub(super) fn start(
        path: &Path,
        max_pages: Option<u64>,
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
        conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
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

/// What trying a group at once came to.
enum AtOnce {
    /// Committed: what each message became.
    Stored(Vec<Result<Appended, StoreError>>),
    /// A message failed after part of it was written: nothing was committed.
    MessageFailed(StoreError),
}

/// Stores messages in one transaction, each message's statements straight after the
/// other's (a savepoint per message costs SQLite a copy of every page it touches); should a
/// message fail halfway, the transaction is undone and the messages are stored one by one
/// in savepoints, so that one failing does not fail the others. The whole fails if the
/// transaction cannot begin or commit, or if the database undid it (as SQLite does on an
/// I/O error, and may on a full disk, whatever statement hit it).
fn store(
    conn: &mut Connection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    match at_once(conn, messages)? {
        AtOnce::Stored(results) => Ok(results),
        AtOnce::MessageFailed(e) => {
            tracing::debug!(error = %e, "storing messages at once failed; storing each alone");
            one_by_one(conn, messages)
        }
    }
}

fn at_once(conn: &mut Connection, messages: &[&NewMessage]) -> Result<AtOnce, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut results = Vec::with_capacity(messages.len());
    for m in messages {
        match append_one(&tx, m) {
            Ok(appended) => results.push(Ok(appended)),
            // SQLite undid the whole transaction (as it may on a full disk or an I/O
            // error): what went before is gone too, so the whole group fails.
            Err(Failed::Before(e) | Failed::After(e)) if tx.is_autocommit() => return Err(e),
            // Refused before anything of it was written.
            Err(Failed::Before(e)) => results.push(Err(e)),
            // Dropping the transaction undoes it.
            Err(Failed::After(e)) => return Ok(AtOnce::MessageFailed(e)),
        }
    }
    tx.commit().map_err(backend)?;
    Ok(AtOnce::Stored(results))
}

fn one_by_one(
    conn: &mut Connection,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut results = Vec::with_capacity(messages.len());
    for m in messages {
        let one = tx.savepoint().map_err(backend)?;
        match append_one(&one, m) {
            Ok(appended) => {
                one.commit().map_err(backend)?;
                results.push(Ok(appended));
            }
            Err(Failed::Before(e) | Failed::After(e)) => {
                // Dropping the savepoint rolls it back.
                drop(one);
                if tx.is_autocommit() {
                    return Err(e);
                }
                results.push(Err(e));
            }
        }
    }
    tx.commit().map_err(backend)?;
    Ok(results)
}

/// Why a message was not stored: before any of its statements wrote, or after.
enum Failed {
    Before(StoreError),
    After(StoreError),
}

/// Stores one message (the statements of the pool's `append_one`, prepared once).
fn append_one(conn: &Connection, m: &NewMessage) -> Result<Appended, Failed> {
    let seq = match numbered(conn, m).map_err(Failed::Before)? {
        Numbered::Copy(earlier) => return Ok(Appended { message: earlier, duplicate: true }),
        Numbered::Seq(seq) => seq,
    };
    let id = insert(conn, m, seq).map_err(Failed::After)?;
    Ok(Appended { message: m.stored(MessageId(uint(id)), uint(seq)), duplicate: false })
}

/// What a message is before it is inserted.
enum Numbered {
    /// Its sender sent this client id before: the message stored then.
    Copy(StoredMessage),
    /// New: its sequence number, taken from the conversation (the only write so far, one
    /// statement, which SQLite undoes whole if it fails).
    Seq(i64),
}

fn numbered(conn: &Connection, m: &NewMessage) -> Result<Numbered, StoreError> {
    let (role, key) = author_columns(&m.author);
    let conversation = int(m.conversation.0);
    if let Some(client_id) = &m.client_id {
        let earlier = conn
            .prepare_cached(
                "SELECT id, conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at \
                 FROM messages WHERE conversation_id = ?1 AND author_role = ?2 AND author_key = ?3 AND client_id = ?4",
            )
            .map_err(backend)?
            .query_row(params![conversation, role, key, client_id.as_str()], |row| {
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
                })
            })
            .optional()
            .map_err(backend)?;
        if let Some(earlier) = earlier {
            return Ok(Numbered::Copy(earlier.message()?));
        }
    }
    let seq: Option<i64> = conn
        .prepare_cached(
            "UPDATE conversations SET last_seq = last_seq + 1, updated_at = max(updated_at, ?1) \
             WHERE id = ?2 RETURNING last_seq",
        )
        .map_err(backend)?
        .query_row(params![int(m.ts), conversation], |row| row.get(0))
        .optional()
        .map_err(backend)?;
    seq.map(Numbered::Seq)
        .ok_or_else(|| StoreError::NotFound(format!("conversation {}", m.conversation.0)))
}

/// Inserts a numbered message (and its agent as taking part); returns its id.
fn insert(conn: &Connection, m: &NewMessage, seq: i64) -> Result<i64, StoreError> {
    let (role, key) = author_columns(&m.author);
    let conversation = int(m.conversation.0);
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        )
        .map_err(backend)?
        .query_row(
            params![
                conversation,
                seq,
                role,
                key,
                m.from.as_str(),
                m.to.as_ref().map(|n| n.as_str()),
                m.text.as_str(),
                m.client_id.as_ref().map(|c| c.as_str()),
                int(m.ts),
            ],
            |row| row.get(0),
        )
        .map_err(backend)?;
    if let Some(agent) = &m.joins {
        conn.prepare_cached(
            "INSERT INTO conversation_agents (conversation_id, agent_key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .map_err(backend)?
        .execute(params![conversation, agent.as_str()])
        .map_err(backend)?;
    }
    Ok(id)
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

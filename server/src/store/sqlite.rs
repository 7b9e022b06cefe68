//! The SQLite [`Store`]: one file (or memory), WAL mode, embedded migrations.

use std::str::FromStr;

use std::collections::BTreeSet;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::rows::{
    append_batch, attachments_column, author_columns, backend, int, invalid, message_from_row,
    now_ms, parse_name, parse_status, status_text, uint, BatchSql, MessageRow, LISTED_FOR_AGENT,
    MESSAGE_COLUMNS,
};
use super::sql::sql_store;

/// Which SQL a search speaks ([`super::search`]).
const DIALECT: super::search::Dialect = super::search::Dialect::Sqlite;
use super::sqlite_writer::Writer;
use super::{
    name_key, AgentRecord, NewCustomer, Page, RemovedAgent, SessionOwner, SqliteOptions,
    SqliteSync, Store, StoreError,
};
use crate::model::{
    AgentKey, Appended, Assignee, AttachmentRecord, ConversationMeta, CustomerId, NewMessage,
    StoredMessage,
};
use app::protocol::{
    AgentInfo, AttachmentId, CannedReply, ConversationId, MessageId, MessageText, Note, UserName,
};

/// SQLite storage behind a connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file as it was opened (none in memory).
    file: Option<FileIdentity>,
    /// The customer and conversation ids given out ([`Store::reserve_ids`]): every new
    /// customer is numbered here, stored at once or not, so that none is numbered twice,
    /// even across a restart. (One process owns a SQLite database; several nodes need
    /// PostgreSQL.)
    ids: std::sync::Arc<tokio::sync::Mutex<Ids>>,
    /// The thread that appends messages (a file's; in memory the pool's one connection
    /// holds the database, and appends go through it).
    writer: Option<std::sync::Arc<Writer>>,
    /// Uploaded files: `attachments/` beside the database file (in memory beside an
    /// in-memory database).
    blobs: std::sync::Arc<dyn super::Blobs>,
    /// The thread that keeps the search index up to date (a file's; in memory,
    /// [`SqliteStore::index_now`] indexes, and searches scan what it has not).
    _indexer: Option<std::sync::Arc<super::sqlite_indexer::Indexer>>,
}

/// Customer and conversation ids given out, and how far the database says they may go.
#[derive(Debug)]
struct Ids {
    /// The last ones given out.
    last: (u64, u64),
    /// The largest the database has recorded (table `id_blocks`): ids up to these may be
    /// given without writing; beyond, the record is raised first, [`ID_BLOCK`] further.
    recorded: (u64, u64),
}

/// Ids recorded at a time: a restart skips up to this many, never gives one twice.
const ID_BLOCK: u64 = 1000;

/// SQLite's page size for new databases; the size cap is counted in pages of it.
const PAGE_BYTES: u64 = 4096;

/// Which file a path named when the database was opened.
///
/// A database file deleted or replaced under a running server is a trap: the open
/// connections keep writing to the old, unlinked file, every write succeeds, and all of
/// it vanishes at the next start. Each write is therefore confirmed against the path
/// after it commits; a write to a file that is no longer there counts as not saved.
#[derive(Debug, Clone)]
pub(super) struct FileIdentity {
    path: std::path::PathBuf,
    #[cfg(unix)]
    id: (u64, u64),
}

/// A file system failure about `path`, with the path in its message.
fn file_error(path: &std::path::Path, e: std::io::Error) -> StoreError {
    backend(std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl FileIdentity {
    fn of(path: &std::path::Path) -> Result<Self, StoreError> {
        let meta = std::fs::metadata(path).map_err(|e| file_error(path, e))?;
        #[cfg(not(unix))]
        let _ = meta;
        Ok(Self {
            path: path.to_owned(),
            #[cfg(unix)]
            id: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino())
            },
        })
    }

    pub(super) fn still_there(&self) -> Result<(), StoreError> {
        match Self::of(&self.path) {
            #[cfg(unix)]
            Ok(now) if now.id != self.id => {
                Err(invalid(format!("the database file {} was replaced", self.path.display())))
            }
            Ok(_) => Ok(()),
            // Gone or unreadable: the error names the file.
            Err(e) => Err(e),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, SqliteOptions::default()).await
    }

    /// [`SqliteStore::open`] with a size cap or another `synchronous` setting.
    pub async fn open_with(url: &str, settings: SqliteOptions) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match settings.sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true);
        let max_pages = settings.max_bytes.map(|max| (max / PAGE_BYTES).max(1));
        if let Some(pages) = max_pages {
            options = options.pragma("max_page_count", pages.to_string());
        }
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
            }
        }
        // An in-memory database lives as long as its one connection.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory { None } else { Some(std::time::Duration::from_secs(600)) })
            .max_lifetime(if in_memory { None } else { Some(std::time::Duration::from_secs(3600)) })
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(backend)?;
        let file = if in_memory { None } else { Some(FileIdentity::of(options.get_filename())?) };
        // Past every id recorded as given, and every id stored.
        let (customers, conversations): (i64, i64) = sqlx::query_as(
            "SELECT max((SELECT coalesce(max(id), 0) FROM customers), (SELECT customers FROM id_blocks)), \
                    max((SELECT coalesce(max(id), 0) FROM conversations), (SELECT conversations FROM id_blocks))",
        )
        .fetch_one(&pool)
        .await
        .map_err(backend)?;
        let last = (uint(customers), uint(conversations));
        let ids = std::sync::Arc::new(tokio::sync::Mutex::new(Ids { last, recorded: last }));
        let writer = match &file {
            Some(file) => Some(std::sync::Arc::new(Writer::start(
                &file.path,
                max_pages,
                settings.sync,
                file.clone(),
            )?)),
            None => None,
        };
        let blobs: std::sync::Arc<dyn super::Blobs> = match options.get_filename().parent() {
            _ if in_memory => std::sync::Arc::new(super::MemoryBlobs::default()),
            Some(dir) => std::sync::Arc::new(super::DirBlobs::create(dir.join("attachments"))?),
            None => std::sync::Arc::new(super::DirBlobs::create("attachments")?),
        };
        let indexer = match &file {
            Some(file) => {
                Some(std::sync::Arc::new(super::sqlite_indexer::Indexer::start(&file.path)?))
            }
            None => None,
        };
        Ok(Self { pool, file, ids, writer, blobs, _indexer: indexer })
    }

    /// See [`Store::index_now`].
    async fn index_everything(&self) -> Result<(), StoreError> {
        use super::sqlite_indexer::{ADVANCE, BATCH, INDEX, NEXT, POSITION};
        loop {
            let mut tx = self.begin_write().await?;
            let (from,): (i64,) =
                sqlx::query_as(POSITION).fetch_one(&mut *tx).await.map_err(backend)?;
            let (to, _count): (Option<i64>, i64) = sqlx::query_as(NEXT)
                .bind(from)
                .bind(BATCH)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
            let Some(to) = to else { return Ok(()) };
            sqlx::query(INDEX).bind(from).bind(to).execute(&mut *tx).await.map_err(backend)?;
            sqlx::query(ADVANCE).bind(to).execute(&mut *tx).await.map_err(backend)?;
            tx.commit().await.map_err(backend)?;
        }
    }

    /// The search index's position: the messages up to it are indexed, those after it not
    /// yet (see [`super::search`]).
    async fn indexed_up_to(conn: &mut SqliteConnection) -> Result<Option<i64>, StoreError> {
        let (position,): (i64,) = sqlx::query_as(super::sqlite_indexer::POSITION)
            .fetch_one(&mut *conn)
            .await
            .map_err(backend)?;
        Ok(Some(position))
    }

    /// Takes `n` customer and conversation ids: the last ones given before them (the
    /// taken ones are the `n` after). Must not be called inside a write transaction (it may
    /// write itself).
    async fn take_ids(&self, n: usize) -> Result<(u64, u64), StoreError> {
        let mut ids = self.ids.lock().await;
        let before = ids.last;
        let after = (before.0 + n as u64, before.1 + n as u64);
        if after.0 > ids.recorded.0 || after.1 > ids.recorded.1 {
            let recorded = (after.0 + ID_BLOCK, after.1 + ID_BLOCK);
            sqlx::query(
                "UPDATE id_blocks SET customers = max(customers, $1), conversations = max(conversations, $2) WHERE only_row = 1",
            )
            .bind(int(recorded.0))
            .bind(int(recorded.1))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            self.confirm(())?;
            ids.recorded = recorded;
        }
        ids.last = after;
        Ok(before)
    }

    /// A transaction that writes. IMMEDIATE: it takes the write lock at once; a deferred
    /// transaction that reads first cannot wait for the lock when it starts writing
    /// (SQLite answers "locked").
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)
    }

    /// After a write has committed: whether it went to the file the path names.
    fn confirm<T>(&self, written: T) -> Result<T, StoreError> {
        match &self.file {
            Some(file) => file.still_there().map(|()| written),
            None => Ok(written),
        }
    }
}

/// The batched append's statements for SQLite: each takes its rows as one JSON array
/// (`json_each`), so a batch costs the same few statements whatever its size.
struct Batch<'c>(&'c mut SqliteConnection);

impl BatchSql for Batch<'_> {
    async fn earlier_copies(
        &mut self,
        conversations: &[i64],
        client_ids: &[&str],
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id IN (SELECT value FROM json_each(?)) AND client_id IN (SELECT value FROM json_each(?))"
        );
        let rows = sqlx::query(&sql)
            .bind(serde_json::to_string(conversations).map_err(backend)?)
            .bind(serde_json::to_string(client_ids).map_err(backend)?)
            .fetch_all(&mut *self.0)
            .await
            .map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn reserve(&mut self, counts: &[(i64, i64, i64)]) -> Result<Vec<(i64, i64)>, StoreError> {
        let counts: Vec<serde_json::Value> = counts
            .iter()
            .map(|(id, n, ts)| serde_json::json!({"id": id, "n": n, "ts": ts}))
            .collect();
        sqlx::query_as(
            "UPDATE conversations SET last_seq = last_seq + j.n, updated_at = max(updated_at, j.ts) \
             FROM (SELECT value ->> 'id' AS id, value ->> 'n' AS n, value ->> 'ts' AS ts FROM json_each(?)) AS j \
             WHERE conversations.id = j.id RETURNING conversations.id, conversations.last_seq",
        )
        .bind(serde_json::Value::Array(counts).to_string())
        .fetch_all(&mut *self.0)
        .await
        .map_err(backend)
    }

    async fn insert(
        &mut self,
        rows: &[MessageRow<'_>],
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let m = r.message;
                serde_json::json!([
                    r.conversation,
                    r.seq,
                    r.role,
                    r.key,
                    m.from.as_str(),
                    m.to.as_ref().map(|n| n.as_str()),
                    m.text.as_str(),
                    m.client_id.as_ref().map(|c| c.as_str()),
                    m.ts,
                    attachments_column(&m.attachments)
                ])
            })
            .collect();
        sqlx::query_as(
            "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at, attachments) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9 \
             FROM json_each(?) ORDER BY key RETURNING id, conversation_id, seq",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .fetch_all(&mut *self.0)
        .await
        .map_err(backend)
    }

    async fn join(&mut self, pairs: &[(i64, &str)]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO conversation_agents (conversation_id, agent_key) \
             SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
        )
        .bind(serde_json::to_string(pairs).map_err(backend)?)
        .execute(&mut *self.0)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

sql_store!(store: SqliteStore, connection: SqliteConnection, own: {
    async fn index_now(&self) -> Result<(), StoreError> {
        self.index_everything().await
    }

    async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        match &self.writer {
            Some(writer) => writer.append(batch).await,
            None => self.append_pooled(batch).await,
        }
    }

    async fn reserve_ids(&self, n: usize) -> Result<Vec<(CustomerId, ConversationId)>, StoreError> {
        let (customers, conversations) = self.take_ids(n).await?;
        Ok((1..=n as u64).map(|i| (CustomerId(customers + i), ConversationId(conversations + i))).collect())
    }

    async fn create_customers(&self, new: &[NewCustomer], now: u64) -> Result<Vec<Option<ConversationMeta>>, StoreError> {
        if new.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = new.iter().map(|c| name_key(&c.name)).collect();
        // Numbered first (outside the write transaction, which numbering may need): one run of
        // ids for the batch, so that each customer, conversation and session stay together
        // without relying on the order of a RETURNING clause (which SQLite leaves
        // unspecified). A name refused below leaves a gap.
        let (customer_base, conversation_base) = self.take_ids(new.len()).await?;
        let (customer_base, conversation_base) = (int(customer_base), int(conversation_base));
        let mut tx = self.begin_write().await?;
        let reserved: Vec<(String,)> =
            sqlx::query_as("SELECT name_key FROM agents WHERE name_key IN (SELECT value FROM json_each(?))")
                .bind(serde_json::to_string(&keys).map_err(backend)?)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        let reserved: BTreeSet<String> = reserved.into_iter().map(|(k,)| k).collect();
        let accepted: Vec<&NewCustomer> =
            new.iter().zip(&keys).filter(|(_, key)| !reserved.contains(*key)).map(|(c, _)| c).collect();
        let rows: Vec<serde_json::Value> =
            accepted.iter().map(|c| serde_json::json!([c.name.as_str(), c.token_hash.as_str(), c.external])).collect();
        let rows = serde_json::Value::Array(rows).to_string();
        for sql in [
            "INSERT INTO customers (id, name, created_at) SELECT ?1 + key + 1, value ->> 0, ?3 FROM json_each(?4)",
            "INSERT INTO conversations (id, customer_id, created_at, updated_at) \
             SELECT ?2 + key + 1, ?1 + key + 1, ?3, ?3 FROM json_each(?4)",
            "INSERT INTO sessions (token_hash, customer_id, created_at, last_used_at) \
             SELECT value ->> 1, ?1 + key + 1, ?3, ?3 FROM json_each(?4)",
            "INSERT INTO external_customers (external_id, customer_id) \
             SELECT value ->> 2, ?1 + key + 1 FROM json_each(?4) WHERE value ->> 2 IS NOT NULL \
             ON CONFLICT (external_id) DO NOTHING",
        ] {
            sqlx::query(sql)
                .bind(customer_base)
                .bind(conversation_base)
                .bind(int(now))
                .bind(&rows)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        self.confirm(())?;
        let mut created = accepted.into_iter().enumerate().map(|(i, c)| {
            let i = i as u64 + 1;
            ConversationMeta::new(
                ConversationId(uint(conversation_base) + i),
                CustomerId(uint(customer_base) + i),
                c.name.clone(),
            )
        });
        Ok(keys.iter().map(|key| if reserved.contains(key) { None } else { created.next() }).collect())
    }
});

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::model::Identity;
    use crate::store::tests::message;

    /// Adds trigger `name`, refusing the writes `when` says (`BEFORE INSERT ON t WHEN …`).
    async fn refuse(store: &SqliteStore, name: &str, when: &str) {
        let sql = format!(
            "CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        );
        sqlx::query(&sql).execute(&store.pool).await.unwrap();
    }

    /// `SQLITE_SYNC`: full by default (an fsync per commit), normal when asked, on the
    /// pool's connections and the writer's alike (the writer checks its own and refuses to
    /// start otherwise); messages are stored either way.
    #[tokio::test]
    async fn the_synchronous_setting_is_full_unless_normal_is_asked_for() {
        for (settings, expected) in [
            (SqliteOptions::default(), 2),
            (SqliteOptions { sync: SqliteSync::Normal, ..Default::default() }, 1),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("chat.db").display());
            let store = SqliteStore::open_with(&url, settings).await.unwrap();
            let pragma: i64 =
                sqlx::query_scalar("PRAGMA synchronous").fetch_one(&store.pool).await.unwrap();
            assert_eq!(pragma, expected, "{settings:?}");
            let cat =
                store.create_customer(&UserName::parse("cat").unwrap(), "t", 1).await.unwrap();
            let sent = message(&cat, Identity::Customer(cat.customer), "hello", None, 2);
            let stored = store.append(&[sent]).await.unwrap();
            assert_eq!(stored[0].as_ref().unwrap().message.seq, 1, "{settings:?}");
        }
    }

    /// A message whose row is refused (here by a trigger) takes no number: the others are
    /// numbered on without a gap.
    #[tokio::test]
    async fn a_message_failing_halfway_leaves_no_gap_and_the_others_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        refuse(&store, "refused_body", "BEFORE INSERT ON messages WHEN NEW.body = 'refused'").await;
        let cat = store.create_customer(&UserName::parse("cat").unwrap(), "t", 1).await.unwrap();
        let me = Identity::Customer(cat.customer);
        let batch: Vec<_> = ["one", "refused", "two"]
            .iter()
            .map(|text| message(&cat, me.clone(), text, None, 2))
            .collect();
        let results = store.append(&batch).await.unwrap();
        assert!(results[1].is_err(), "{:?}", results[1]);
        let kept: Vec<(String, u64)> = [&results[0], &results[2]]
            .iter()
            .map(|r| r.as_ref().unwrap().message.clone())
            .map(|m| (m.text, m.seq))
            .collect();
        assert_eq!(kept, vec![("one".to_owned(), 1), ("two".to_owned(), 2)]);
        let stored = store.messages_after(cat.id, 0, 10).await.unwrap();
        assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(store.conversation(cat.id).await.unwrap().unwrap().last_seq, 2);
    }

    /// A write failing after a message's row went in (its agent joining the conversation,
    /// or its conversation's number at the end of the group) refuses that message, or that
    /// conversation's, and no other: the file's writer undoes the group and stores each
    /// message alone, numbered without a gap.
    #[tokio::test]
    async fn a_write_failing_after_the_row_refuses_only_its_own_messages() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let name = |s: &str| UserName::parse(s).unwrap();
        let cat = store.create_customer(&name("cat"), "t1", 1).await.unwrap();
        let dan = store.create_customer(&name("dan"), "t2", 1).await.unwrap();
        let (cat_me, dan_me) = (Identity::Customer(cat.customer), Identity::Customer(dan.customer));
        let bob = Identity::Agent(AgentKey::of(&name("bob")));
        let outcome = |results: Vec<Result<Appended, StoreError>>| -> Vec<Option<(u64, u64)>> {
            results
                .into_iter()
                .map(|r| r.ok().map(|a| (a.message.conversation.0, a.message.seq)))
                .collect()
        };

        refuse(&store, "no_bob", "BEFORE INSERT ON conversation_agents WHEN NEW.agent_key = 'bob'")
            .await;
        let batch = [
            message(&cat, cat_me.clone(), "one", None, 2),
            message(&cat, bob.clone(), "refused: bob may not join", None, 3),
            message(&dan, dan_me.clone(), "hi", None, 4),
            message(&cat, cat_me.clone(), "two", None, 5),
        ];
        let results = outcome(store.append(&batch).await.unwrap());
        assert_eq!(
            results,
            vec![Some((cat.id.0, 1)), None, Some((dan.id.0, 1)), Some((cat.id.0, 2))]
        );

        refuse(
            &store,
            "no_dan",
            &format!("BEFORE UPDATE ON conversations WHEN NEW.id = {}", dan.id.0),
        )
        .await;
        let batch = [
            message(&dan, dan_me.clone(), "refused: dan's number is not written", None, 6),
            message(&cat, cat_me.clone(), "three", None, 7),
        ];
        let results = outcome(store.append(&batch).await.unwrap());
        assert_eq!(results, vec![None, Some((cat.id.0, 3))]);

        for (meta, texts) in [(&cat, vec!["one", "two", "three"]), (&dan, vec!["hi"])] {
            let stored = store.messages_after(meta.id, 0, 10).await.unwrap();
            let got: Vec<(u64, &str)> = stored.iter().map(|m| (m.seq, m.text.as_str())).collect();
            let want: Vec<(u64, &str)> = (1..).zip(texts.iter().copied()).collect();
            assert_eq!(got, want);
            let last_seq = store.conversation(meta.id).await.unwrap().unwrap().last_seq;
            assert_eq!(last_seq, want.len() as u64);
        }
    }

    /// Filling a size-capped file batch after batch: whatever the batch the disk fills in,
    /// every message answered as stored is stored, none answered as refused is, and the
    /// conversation is numbered without a gap.
    #[tokio::test]
    async fn a_full_disk_fails_messages_without_losing_or_numbering_any_wrongly() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("chat.db").display());
        let store = SqliteStore::open_with(
            &url,
            SqliteOptions { max_bytes: Some(384 * 1024), ..Default::default() },
        )
        .await
        .unwrap();
        let mut cats = vec![];
        for i in 0..4 {
            let name = UserName::parse(&format!("cat{i}")).unwrap();
            cats.push(store.create_customer(&name, &format!("t{i}"), 1).await.unwrap());
        }
        let mut acked: Vec<Vec<String>> = vec![vec![]; cats.len()];
        let mut refused = 0;
        for round in 0..400 {
            let batch: Vec<_> = (0..6)
                .map(|j| {
                    let cat = &cats[(round + j) % cats.len()];
                    let body = format!("{round}-{j} {}", "x".repeat(1500 + 37 * j));
                    message(cat, Identity::Customer(cat.customer), &body, None, 2)
                })
                .collect();
            match store.append(&batch).await {
                Ok(results) => {
                    for (m, r) in batch.iter().zip(results) {
                        match r {
                            Ok(a) => {
                                assert!(!a.duplicate);
                                let i = cats.iter().position(|c| c.id == m.conversation).unwrap();
                                assert_eq!(a.message.seq, acked[i].len() as u64 + 1);
                                acked[i].push(m.text.as_str().to_owned());
                            }
                            Err(_) => refused += 1,
                        }
                    }
                }
                Err(_) => refused += batch.len(),
            }
        }
        assert!(refused > 0, "the cap was never reached");
        for (cat, acked) in cats.iter().zip(&acked) {
            let stored = store.messages_after(cat.id, 0, 1000).await.unwrap();
            let texts: Vec<String> = stored.iter().map(|m| m.text.clone()).collect();
            assert_eq!(&texts, acked);
            let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (1..=acked.len() as u64).collect::<Vec<_>>());
            assert_eq!(
                store.conversation(cat.id).await.unwrap().unwrap().last_seq,
                acked.len() as u64
            );
        }
    }

    /// The batch path itself (not the one-by-one fallback): numbering per conversation in
    /// order, retried client ids stored once whether the first copy is in an earlier
    /// batch or the same one, and participants joined.
    #[tokio::test]
    async fn a_batch_is_numbered_deduplicated_and_joined_at_once() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let name = |s: &str| UserName::parse(s).unwrap();
        let cat = store.create_customer(&name("cat"), "t1", 1).await.unwrap();
        let dan = store.create_customer(&name("dan"), "t2", 1).await.unwrap();
        let amy = Identity::Agent(AgentKey::of(&name("amy")));
        let first = store
            .append(&[message(&cat, Identity::Customer(cat.customer), "one", Some("c1"), 1)])
            .await
            .unwrap();
        let first = first.into_iter().next().unwrap().unwrap();
        let batch = [
            message(&cat, Identity::Customer(cat.customer), "one again", Some("c1"), 2),
            message(&dan, Identity::Customer(dan.customer), "hi", Some("d1"), 3),
            message(&cat, amy.clone(), "hello cat", Some("a1"), 4),
            message(&dan, Identity::Customer(dan.customer), "hi (resent)", Some("d1"), 5),
            message(&dan, amy, "hello dan", None, 6),
        ];
        let mut conn = store.pool.acquire().await.unwrap();
        let out =
            append_batch(&mut Batch(&mut conn), &batch).await.expect("the batch path succeeds");
        drop(conn);
        let summary: Vec<(u64, u64, bool)> =
            out.iter().map(|a| (a.message.conversation.0, a.message.seq, a.duplicate)).collect();
        assert_eq!(
            summary,
            vec![
                (cat.id.0, 1, true),
                (dan.id.0, 1, false),
                (cat.id.0, 2, false),
                (dan.id.0, 1, true),
                (dan.id.0, 2, false)
            ]
        );
        assert_eq!(out[0].message.id, first.message.id);
        assert_eq!(out[3].message.id, out[1].message.id);
        assert_eq!(out[2].message.text, "hello cat");
        let stored = store.conversation(dan.id).await.unwrap().unwrap();
        assert_eq!(stored.agents.iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec!["amy"]);
        let page = store.messages_before(dan.id, None, 10).await.unwrap();
        assert_eq!(
            page.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            vec!["hi", "hello dan"]
        );
    }
}

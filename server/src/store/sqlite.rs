//! The SQLite [`Store`]: one file (or memory), WAL mode, embedded migrations.

use std::str::FromStr;

use std::collections::BTreeSet;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::rows::{
    append_batch, author_columns, backend, int, message_from_row, now_ms, parse_name, parse_status, status_text, uint, BatchSql,
    MessageRow, MESSAGE_COLUMNS,
};
use super::{name_key, AgentRecord, NewCustomer, Page, SessionOwner, Store, StoreError};
use crate::model::{AgentKey, Appended, Assignee, ConversationMeta, CustomerId, NewMessage, StoredMessage};
use app::protocol::{AgentInfo, CannedReply, ConversationId, MessageId, MessageText, Note, UserName};

/// SQLite storage behind a connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file as it was opened (none in memory).
    file: Option<FileIdentity>,
}

/// SQLite's page size for new databases; the size cap is counted in pages of it.
const PAGE_BYTES: u64 = 4096;

/// Which file a path named when the database was opened.
///
/// A database file deleted or replaced under a running server is a trap: the open
/// connections keep writing to the old, unlinked file, every write succeeds, and all of
/// it vanishes at the next start. Each write is therefore confirmed against the path
/// after it commits; a write to a file that is no longer there counts as not saved.
#[derive(Debug, Clone)]
struct FileIdentity {
    path: std::path::PathBuf,
    #[cfg(unix)]
    id: (u64, u64),
}

impl FileIdentity {
    fn of(path: &std::path::Path) -> Result<Self, StoreError> {
        let meta = std::fs::metadata(path).map_err(|e| backend(format!("{}: {e}", path.display())))?;
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

    fn still_there(&self) -> Result<(), StoreError> {
        match Self::of(&self.path) {
            #[cfg(unix)]
            Ok(now) if now.id != self.id => Err(backend(format!("the database file {} was replaced", self.path.display()))),
            Ok(_) => Ok(()),
            Err(e) => Err(backend(format!("the database file is gone: {e}"))),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_capped(url, None).await
    }

    /// [`SqliteStore::open`], refusing writes that would grow the database past
    /// `max_bytes` (as a full disk would: SQLite's "database or disk is full").
    pub async fn open_capped(url: &str, max_bytes: Option<u64>) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        if let Some(max) = max_bytes {
            options = options.pragma("max_page_count", (max / PAGE_BYTES).max(1).to_string());
        }
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| backend(format!("creating {}: {e}", dir.display())))?;
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
        Ok(Self { pool, file })
    }

    /// After a write has committed: whether it went to the file the path names.
    fn confirm<T>(&self, written: T) -> Result<T, StoreError> {
        match &self.file {
            Some(file) => file.still_there().map(|()| written),
            None => Ok(written),
        }
    }
}

/// A conversation's metadata, on one connection (inside a transaction or not).
async fn load_meta(conn: &mut SqliteConnection, id: ConversationId) -> Result<Option<ConversationMeta>, StoreError> {
    let row = sqlx::query(
        "SELECT c.customer_id, cu.name, c.status, c.assignee_key, c.assignee_name, c.queued_at, c.note, c.read_seq, c.last_seq, c.version \
         FROM conversations c JOIN customers cu ON cu.id = c.customer_id WHERE c.id = ?",
    )
    .bind(int(id.0))
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    let Some(row) = row else { return Ok(None) };
    let agents: Vec<(String,)> = sqlx::query_as("SELECT agent_key FROM conversation_agents WHERE conversation_id = ?")
        .bind(int(id.0))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    let customer: i64 = row.try_get("customer_id").map_err(backend)?;
    let assignee_key: Option<String> = row.try_get("assignee_key").map_err(backend)?;
    let assignee_name: Option<String> = row.try_get("assignee_name").map_err(backend)?;
    let assignee = match (assignee_key, assignee_name) {
        (Some(key), Some(name)) => Some(Assignee { key: AgentKey::from_stored(key), name: parse_name(name)? }),
        _ => None,
    };
    let status: String = row.try_get("status").map_err(backend)?;
    let mut meta = ConversationMeta::new(id, CustomerId(uint(customer)), parse_name(row.try_get("name").map_err(backend)?)?);
    meta.agents = agents.into_iter().map(|(k,)| AgentKey::from_stored(k)).collect::<BTreeSet<_>>();
    meta.status = parse_status(&status)?;
    meta.assignee = assignee;
    meta.queued_at = uint(row.try_get("queued_at").map_err(backend)?);
    meta.note = row.try_get("note").map_err(backend)?;
    meta.version = uint(row.try_get("version").map_err(backend)?);
    meta.read_seq = uint(row.try_get("read_seq").map_err(backend)?);
    meta.last_seq = uint(row.try_get("last_seq").map_err(backend)?);
    let unread: Vec<(i64,)> = sqlx::query_as(
        "SELECT seq FROM messages WHERE conversation_id = ? AND seq > ? AND author_role = 'customer' ORDER BY seq",
    )
    .bind(int(id.0))
    .bind(int(meta.read_seq))
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    meta.unread = unread.into_iter().map(|(s,)| uint(s)).collect();
    Ok(Some(meta))
}

/// The agent account keyed `key`, on one connection.
async fn load_agent(conn: &mut SqliteConnection, key: &str) -> Result<Option<AgentRecord>, StoreError> {
    let row: Option<(String, String, bool)> = sqlx::query_as("SELECT name, password_hash, admin FROM agents WHERE name_key = ?")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
    row.map(|(name, password_hash, admin)| Ok(AgentRecord { name: parse_name(name)?, password_hash, admin })).transpose()
}

/// The metadata of each conversation id, in order.
async fn load_metas(conn: &mut SqliteConnection, ids: Vec<(i64,)>) -> Result<Vec<ConversationMeta>, StoreError> {
    let mut metas = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(meta) = load_meta(conn, ConversationId(uint(id))).await? {
            metas.push(meta);
        }
    }
    Ok(metas)
}

/// The batched append's statements for SQLite: each takes its rows as one JSON array
/// (`json_each`), so a batch costs the same few statements whatever its size.
struct SqliteBatch<'c>(&'c mut SqliteConnection);

impl BatchSql for SqliteBatch<'_> {
    async fn earlier_copies(&mut self, conversations: &[i64], client_ids: &[&str]) -> Result<Vec<StoredMessage>, StoreError> {
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
        let counts: Vec<serde_json::Value> = counts.iter().map(|(id, n, ts)| serde_json::json!({"id": id, "n": n, "ts": ts})).collect();
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

    async fn insert(&mut self, rows: &[MessageRow<'_>]) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let m = r.message;
                serde_json::json!([
                    r.conversation, r.seq, r.role, r.key, m.from.as_str(), m.to.as_ref().map(|n| n.as_str()),
                    m.text.as_str(), m.client_id.as_ref().map(|c| c.as_str()), m.ts
                ])
            })
            .collect();
        sqlx::query_as(
            "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8 \
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

/// Stores one message inside the caller's transaction.
async fn append_one(conn: &mut SqliteConnection, m: &NewMessage) -> Result<Appended, StoreError> {
    let (role, key) = author_columns(&m.author);
    if let Some(client_id) = &m.client_id {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE conversation_id = ? AND author_role = ? AND author_key = ? AND client_id = ?"
        );
        let existing = sqlx::query(&sql)
            .bind(int(m.conversation.0))
            .bind(role)
            .bind(&key)
            .bind(client_id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        if let Some(row) = existing {
            return Ok(Appended { message: message_from_row(&row)?, duplicate: true });
        }
    }
    let seq: Option<(i64,)> =
        sqlx::query_as("UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? RETURNING last_seq")
            .bind(int(m.ts))
            .bind(int(m.conversation.0))
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
    let Some((seq,)) = seq else {
        return Err(StoreError::NotFound(format!("conversation {}", m.conversation.0)));
    };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(int(m.conversation.0))
    .bind(seq)
    .bind(role)
    .bind(&key)
    .bind(m.from.as_str())
    .bind(m.to.as_ref().map(|n| n.as_str()))
    .bind(m.text.as_str())
    .bind(m.client_id.as_ref().map(|c| c.as_str()))
    .bind(int(m.ts))
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    if let Some(agent) = &m.joins {
        sqlx::query("INSERT INTO conversation_agents (conversation_id, agent_key) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(int(m.conversation.0))
            .bind(agent.as_str())
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(Appended { message: m.stored(MessageId(uint(id)), uint(seq)), duplicate: false })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn add_agent(&self, name: &UserName, password_hash: &str, admin: bool) -> Result<(), StoreError> {
        let result = sqlx::query("INSERT INTO agents (name_key, name, password_hash, admin, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(name_key(name))
            .bind(name.as_str())
            .bind(password_hash)
            .bind(admin)
            .bind(now_ms())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => self.confirm(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate(name.to_string())),
            Err(e) => Err(backend(e)),
        }
    }

    async fn agent(&self, name: &UserName) -> Result<Option<AgentRecord>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        load_agent(&mut conn, &name_key(name)).await
    }

    async fn agents(&self) -> Result<Vec<AgentInfo>, StoreError> {
        let rows: Vec<(String, bool)> = sqlx::query_as("SELECT name, admin FROM agents ORDER BY name_key")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter().map(|(n, admin)| Ok(AgentInfo { name: parse_name(n)?, admin })).collect()
    }

    async fn remove_agent(&self, name: &UserName) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM agents WHERE name_key = ?")
            .bind(name_key(name))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Ok(())
    }

    async fn create_customers(&self, new: &[NewCustomer], now: u64) -> Result<Vec<Option<ConversationMeta>>, StoreError> {
        if new.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = new.iter().map(|c| name_key(&c.name)).collect();
        // IMMEDIATE: take the write lock at once. A deferred transaction that reads first
        // cannot wait for the lock when it starts writing (SQLite answers "locked").
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        let reserved: Vec<(String,)> =
            sqlx::query_as("SELECT name_key FROM agents WHERE name_key IN (SELECT value FROM json_each(?))")
                .bind(serde_json::to_string(&keys).map_err(backend)?)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend)?;
        let reserved: BTreeSet<String> = reserved.into_iter().map(|(k,)| k).collect();
        let accepted: Vec<&NewCustomer> =
            new.iter().zip(&keys).filter(|(_, key)| !reserved.contains(*key)).map(|(c, _)| c).collect();
        // The write lock is held: the ids after the current largest are ours. Numbering
        // them here keeps each customer, conversation and session together without
        // relying on the order of a RETURNING clause (which SQLite leaves unspecified).
        let (customer_base, conversation_base): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(max(id), 0) FROM customers), (SELECT coalesce(max(id), 0) FROM conversations)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let rows: Vec<serde_json::Value> =
            accepted.iter().map(|c| serde_json::json!([c.name.as_str(), c.token_hash.as_str()])).collect();
        let rows = serde_json::Value::Array(rows).to_string();
        for sql in [
            "INSERT INTO customers (id, name, created_at) SELECT ?1 + key + 1, value ->> 0, ?3 FROM json_each(?4)",
            "INSERT INTO conversations (id, customer_id, created_at, updated_at) \
             SELECT ?2 + key + 1, ?1 + key + 1, ?3, ?3 FROM json_each(?4)",
            "INSERT INTO sessions (token_hash, customer_id, created_at, last_used_at) \
             SELECT value ->> 1, ?1 + key + 1, ?3, ?3 FROM json_each(?4)",
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

    async fn create_agent_session(&self, agent: &AgentKey, token_hash: &str, now: u64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (token_hash, agent_key, created_at, last_used_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(agent.as_str())
            .bind(int(now))
            .bind(int(now))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.confirm(())
    }

    async fn resume(&self, token_hash: &str, now: u64, max_idle_ms: u64) -> Result<Option<SessionOwner>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let row: Option<(Option<i64>, Option<String>, i64)> =
            sqlx::query_as("SELECT customer_id, agent_key, last_used_at FROM sessions WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
        let Some((customer, agent, last_used)) = row else { return Ok(None) };
        if uint(last_used).saturating_add(max_idle_ms) < now {
            sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
                .bind(token_hash)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            return Ok(None);
        }
        sqlx::query("UPDATE sessions SET last_used_at = ? WHERE token_hash = ?")
            .bind(int(now))
            .bind(token_hash)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        match (customer, agent) {
            (Some(customer), _) => {
                let row: Option<(i64, String)> = sqlx::query_as(
                    "SELECT c.id, cu.name FROM conversations c JOIN customers cu ON cu.id = c.customer_id WHERE cu.id = ?",
                )
                .bind(customer)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let Some((conversation, name)) = row else {
                    return Err(backend(format!("customer {customer} has no conversation")));
                };
                let meta = load_meta(&mut conn, ConversationId(uint(conversation)))
                    .await?
                    .ok_or_else(|| backend(format!("conversation {conversation} vanished")))?;
                Ok(Some(SessionOwner::Customer { id: CustomerId(uint(customer)), name: parse_name(name)?, conversation: meta }))
            }
            (None, Some(key)) => {
                Ok(load_agent(&mut conn, &key).await?.map(SessionOwner::Agent))
            }
            (None, None) => Err(backend("a session without an owner")),
        }
    }

    async fn revoke(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn agent_conversations(&self, agent: &AgentKey, all: bool, limit: u32) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        // The agent's open conversations first, whatever the limit: the queue's capacity
        // rule counts them.
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT c.id FROM conversations c \
             WHERE c.assignee_key = ?1 OR c.status = 'queued' \
                OR c.id IN (SELECT conversation_id FROM conversation_agents WHERE agent_key = ?1) \
                OR (?3 AND c.last_seq > 0) \
             ORDER BY (c.status = 'open' AND c.assignee_key = ?1) DESC, c.updated_at DESC, c.id DESC LIMIT ?2",
        )
        .bind(agent.as_str())
        .bind(i64::from(limit))
        .bind(all)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        load_metas(&mut conn, ids).await
    }

    async fn queued(&self) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let ids: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM conversations WHERE status = 'queued' ORDER BY queued_at, id")
                .fetch_all(&mut *conn)
                .await
                .map_err(backend)?;
        load_metas(&mut conn, ids).await
    }

    async fn set_state(&self, meta: &ConversationMeta) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE conversations SET status = ?, assignee_key = ?, assignee_name = ?, queued_at = ?, note = ?, read_seq = ?, version = ? \
             WHERE id = ? AND version < ?",
        )
        .bind(status_text(meta.status))
        .bind(meta.assignee.as_ref().map(|a| a.key.as_str().to_owned()))
        .bind(meta.assignee.as_ref().map(|a| a.name.as_str().to_owned()))
        .bind(int(meta.queued_at))
        .bind(meta.note.as_deref())
        .bind(int(meta.read_seq))
        .bind(int(meta.version))
        .bind(int(meta.id.0))
        .bind(int(meta.version))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM conversations WHERE id = ?")
                .bind(int(meta.id.0))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("conversation {}", meta.id.0)));
            }
        }
        self.confirm(())
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationMeta>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        load_meta(&mut conn, id).await
    }

    async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        // IMMEDIATE: take the write lock at once. A deferred transaction that reads first
        // cannot wait for the lock when it starts writing (SQLite answers "locked").
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        // The whole batch in a handful of statements; should any message fail, the batch
        // is undone and stored one message at a time, so the others still go in.
        let mut all = sqlx::Connection::begin(&mut *tx).await.map_err(backend)?;
        match append_batch(&mut SqliteBatch(&mut all), batch).await {
            Ok(results) => {
                all.commit().await.map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                return self.confirm(results.into_iter().map(Ok).collect());
            }
            Err(e) => {
                tracing::debug!(error = %e, "storing a batch at once failed; storing each message alone");
                all.rollback().await.map_err(backend)?;
            }
        }
        let mut results = Vec::with_capacity(batch.len());
        for m in batch {
            // A savepoint per message: one bad message does not take the batch down.
            let mut one = sqlx::Connection::begin(&mut *tx).await.map_err(backend)?;
            match append_one(&mut one, m).await {
                Ok(appended) => {
                    one.commit().await.map_err(backend)?;
                    results.push(Ok(appended));
                }
                Err(e) => {
                    one.rollback().await.map_err(backend)?;
                    results.push(Err(e));
                }
            }
        }
        tx.commit().await.map_err(backend)?;
        self.confirm(results)
    }

    async fn set_canned(&self, reply: &CannedReply) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO canned_replies (shortcut, body) VALUES (?, ?) ON CONFLICT (shortcut) DO UPDATE SET body = excluded.body")
            .bind(&reply.shortcut)
            .bind(&reply.text)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        self.confirm(())
    }

    async fn remove_canned(&self, shortcut: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM canned_replies WHERE shortcut = ?")
            .bind(shortcut)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("canned reply /{shortcut}")));
        }
        Ok(())
    }

    async fn canned(&self) -> Result<Vec<CannedReply>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT shortcut, body FROM canned_replies ORDER BY shortcut")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(|(shortcut, text)| CannedReply { shortcut, text }).collect())
    }

    async fn add_note(
        &self,
        id: ConversationId,
        author: &AgentKey,
        name: &UserName,
        text: &MessageText,
        ts: u64,
    ) -> Result<Note, StoreError> {
        let result: Result<(i64,), _> = sqlx::query_as(
            "INSERT INTO notes (conversation_id, author_key, author_name, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(int(id.0))
        .bind(author.as_str())
        .bind(name.as_str())
        .bind(text.as_str())
        .bind(int(ts))
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok((note,)) => self.confirm(Note { id: uint(note), conversation: id, from: name.clone(), text: text.as_str().to_owned(), ts }),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(StoreError::NotFound(format!("conversation {}", id.0))),
            Err(e) => Err(backend(e)),
        }
    }

    async fn notes(&self, id: ConversationId, limit: u32) -> Result<Vec<Note>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, author_name, body, created_at FROM notes WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(int(id.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut notes = rows
            .into_iter()
            .map(|(note, from, text, ts)| Ok(Note { id: uint(note), conversation: id, from: parse_name(from)?, text, ts: uint(ts) }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        notes.reverse();
        Ok(notes)
    }

    async fn messages_after(&self, id: ConversationId, after: u64, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?");
        let rows = sqlx::query(&sql)
            .bind(int(id.0))
            .bind(int(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn messages_before(&self, id: ConversationId, before: Option<u64>, limit: u32) -> Result<Page, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
        );
        // One more than asked for says whether there are older ones.
        let rows = sqlx::query(&sql)
            .bind(int(id.0))
            .bind(before.map(int).unwrap_or(i64::MAX))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let more = rows.len() > limit as usize;
        let mut messages = rows.iter().take(limit as usize).map(message_from_row).collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(Page { messages, more })
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::model::Identity;
    use crate::store::tests::message;

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
        let first = store.append(&[message(&cat, Identity::Customer(cat.customer), "one", Some("c1"), 1)]).await.unwrap();
        let first = first.into_iter().next().unwrap().unwrap();
        let batch = [
            message(&cat, Identity::Customer(cat.customer), "one again", Some("c1"), 2),
            message(&dan, Identity::Customer(dan.customer), "hi", Some("d1"), 3),
            message(&cat, amy.clone(), "hello cat", Some("a1"), 4),
            message(&dan, Identity::Customer(dan.customer), "hi (resent)", Some("d1"), 5),
            message(&dan, amy, "hello dan", None, 6),
        ];
        let mut conn = store.pool.acquire().await.unwrap();
        let out = append_batch(&mut SqliteBatch(&mut conn), &batch).await.expect("the batch path succeeds");
        drop(conn);
        let summary: Vec<(u64, u64, bool)> = out.iter().map(|a| (a.message.conversation.0, a.message.seq, a.duplicate)).collect();
        assert_eq!(
            summary,
            vec![(cat.id.0, 1, true), (dan.id.0, 1, false), (cat.id.0, 2, false), (dan.id.0, 1, true), (dan.id.0, 2, false)]
        );
        assert_eq!(out[0].message.id, first.message.id);
        assert_eq!(out[3].message.id, out[1].message.id);
        assert_eq!(out[2].message.text, "hello cat");
        let stored = store.conversation(dan.id).await.unwrap().unwrap();
        assert_eq!(stored.agents.iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec!["amy"]);
        let page = store.messages_before(dan.id, None, 10).await.unwrap();
        assert_eq!(page.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), vec!["hi", "hello dan"]);
    }
}

//! The PostgreSQL [`Store`], for a desk that outgrows one machine: several server nodes
//! share one database. Chosen by a `postgres://` `DATABASE_URL`.
//!
//! Correct with several writers at once, by the database's own locks rather than timing:
//! a batch locks the conversations it numbers (in id order, so two batches cannot
//! deadlock), so sequence numbers stay gapless and unique; a retried client id meets the
//! unique index; new customers take their ids from sequences; a conversation's state is
//! written only over an older version.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool, Row};

use super::rows::{
    append_batch, attachments_column, author_columns, backend, int, invalid, message_from_row,
    now_ms, parse_name, parse_status, status_text, uint, BatchSql, MessageRow, LISTED_FOR_AGENT,
    MESSAGE_COLUMNS,
};
use super::sql::sql_store;

/// Which SQL a search speaks ([`super::search`]).
const DIALECT: super::search::Dialect = super::search::Dialect::Postgres;
use super::{
    name_key, AgentRecord, NewCustomer, Page, RemovedAgent, SessionOwner, Store, StoreError,
};
use crate::model::{
    AgentKey, Appended, Assignee, AttachmentRecord, ConversationMeta, CustomerId, NewMessage,
    StoredMessage,
};
use app::protocol::{
    AgentInfo, AttachmentId, CannedReply, ConversationId, MessageId, MessageText, Note, UserName,
};

/// PostgreSQL storage behind a connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Uploaded files, in the `blobs` table.
    blobs: std::sync::Arc<dyn super::Blobs>,
}

/// Connections per node; the server's default allows 100 in all.
const POOL_SIZE: u32 = 16;
/// How long a request waits for a connection (a database that is gone fails as fast as a
/// locked SQLite file does).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

impl PgStore {
    /// PostgreSQL keeps its search index as messages are stored: every message is in it.
    async fn indexed_up_to(_conn: &mut PgConnection) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }

    /// Connects to the database at `url` (`postgres://user@host/db`) and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(backend)?;
        // One connection first: a database that cannot be reached says why (the pool
        // would only say that it timed out).
        PgConnection::connect_with(&options)
            .await
            .map_err(backend)?
            .close()
            .await
            .map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations-postgres").run(&pool).await.map_err(backend)?;
        let blobs = std::sync::Arc::new(super::PgBlobs::new(pool.clone()));
        Ok(Self { pool, blobs })
    }

    /// A transaction that writes (row locks keep concurrent writers apart).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }

    /// After a write has committed: nothing to check (the server keeps its own files).
    fn confirm<T>(&self, written: T) -> Result<T, StoreError> {
        Ok(written)
    }
}

/// The batched append's statements for PostgreSQL: each takes its rows as arrays
/// (`unnest`), so a batch costs the same few statements whatever its size.
struct Batch<'c>(&'c mut PgConnection);

impl BatchSql for Batch<'_> {
    async fn earlier_copies(
        &mut self,
        conversations: &[i64],
        client_ids: &[&str],
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ANY($1) AND client_id = ANY($2)");
        let client_ids: Vec<String> = client_ids.iter().map(|c| (*c).to_owned()).collect();
        let rows = sqlx::query(&sql)
            .bind(conversations)
            .bind(client_ids)
            .fetch_all(&mut *self.0)
            .await
            .map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn reserve(&mut self, counts: &[(i64, i64, i64)]) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut ids: Vec<i64> = counts.iter().map(|c| c.0).collect();
        ids.sort_unstable();
        // Locked in one order by every writer: two batches never wait for each other in a circle.
        sqlx::query("SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .execute(&mut *self.0)
            .await
            .map_err(backend)?;
        let (ids, ns, tss): (Vec<i64>, Vec<i64>, Vec<i64>) =
            counts.iter().fold((vec![], vec![], vec![]), |(mut a, mut b, mut c), (id, n, ts)| {
                a.push(*id);
                b.push(*n);
                c.push(*ts);
                (a, b, c)
            });
        sqlx::query_as(
            "UPDATE conversations c SET last_seq = c.last_seq + j.n, updated_at = GREATEST(c.updated_at, j.ts) \
             FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS j(id, n, ts) \
             WHERE c.id = j.id RETURNING c.id, c.last_seq",
        )
        .bind(ids)
        .bind(ns)
        .bind(tss)
        .fetch_all(&mut *self.0)
        .await
        .map_err(backend)
    }

    async fn insert(
        &mut self,
        rows: &[MessageRow<'_>],
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let column = |f: &dyn Fn(&MessageRow<'_>) -> Option<String>| {
            rows.iter().map(f).collect::<Vec<Option<String>>>()
        };
        sqlx::query_as(
            "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at, attachments) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                                  $8::text[], $9::bigint[], $10::text[]) \
             RETURNING id, conversation_id, seq",
        )
        .bind(rows.iter().map(|r| r.conversation).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| r.seq).collect::<Vec<i64>>())
        .bind(column(&|r| Some(r.role.to_owned())))
        .bind(column(&|r| Some(r.key.clone())))
        .bind(column(&|r| Some(r.message.from.to_string())))
        .bind(column(&|r| r.message.to.as_ref().map(|n| n.to_string())))
        .bind(column(&|r| Some(r.message.text.as_str().to_owned())))
        .bind(column(&|r| r.message.client_id.as_ref().map(|c| c.as_str().to_owned())))
        .bind(rows.iter().map(|r| int(r.message.ts)).collect::<Vec<i64>>())
        .bind(column(&|r| attachments_column(&r.message.attachments)))
        .fetch_all(&mut *self.0)
        .await
        .map_err(backend)
    }

    async fn join(&mut self, pairs: &[(i64, &str)]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO conversation_agents (conversation_id, agent_key) \
             SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(pairs.iter().map(|p| p.0).collect::<Vec<i64>>())
        .bind(pairs.iter().map(|p| p.1.to_owned()).collect::<Vec<String>>())
        .execute(&mut *self.0)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

sql_store!(store: PgStore, connection: PgConnection, own: {
    async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        self.append_pooled(batch).await
    }

    async fn reserve_ids(&self, n: usize) -> Result<Vec<(CustomerId, ConversationId)>, StoreError> {
        // The sequences never give an id twice, whichever node asks.
        let ids: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT nextval('customers_id_seq'), nextval('conversations_id_seq') FROM generate_series(1, $1)",
        )
        .bind(n as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(ids.into_iter().map(|(cu, c)| (CustomerId(uint(cu)), ConversationId(uint(c)))).collect())
    }

    async fn create_customers(&self, new: &[NewCustomer], now: u64) -> Result<Vec<Option<ConversationMeta>>, StoreError> {
        if new.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = new.iter().map(|c| name_key(&c.name)).collect();
        // Ids from the sequences, taken before the transaction holds a connection (taking
        // them needs another): each customer, conversation and session stay together
        // whatever other nodes create meanwhile; a name refused below leaves a gap.
        let mut ids = self.reserve_ids(new.len()).await?;
        let mut tx = self.begin_write().await?;
        let reserved: Vec<(String,)> = sqlx::query_as("SELECT name_key FROM agents WHERE name_key = ANY($1)")
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let reserved: std::collections::BTreeSet<String> = reserved.into_iter().map(|(k,)| k).collect();
        let accepted: Vec<&NewCustomer> =
            new.iter().zip(&keys).filter(|(_, key)| !reserved.contains(*key)).map(|(c, _)| c).collect();
        ids.truncate(accepted.len());
        let customers: Vec<i64> = ids.iter().map(|i| int(i.0 .0)).collect();
        let conversations: Vec<i64> = ids.iter().map(|i| int(i.1 .0)).collect();
        let names: Vec<String> = accepted.iter().map(|c| c.name.to_string()).collect();
        let tokens: Vec<String> = accepted.iter().map(|c| c.token_hash.clone()).collect();
        sqlx::query("INSERT INTO customers (id, name, created_at) SELECT id, name, $3 FROM unnest($1::bigint[], $2::text[]) AS n(id, name)")
            .bind(&customers)
            .bind(&names)
            .bind(int(now))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO conversations (id, customer_id, created_at, updated_at) \
             SELECT id, customer, $3, $3 FROM unnest($1::bigint[], $2::bigint[]) AS n(id, customer)",
        )
        .bind(&conversations)
        .bind(&customers)
        .bind(int(now))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, customer_id, created_at, last_used_at) \
             SELECT token, customer, $3, $3 FROM unnest($1::text[], $2::bigint[]) AS n(token, customer)",
        )
        .bind(&tokens)
        .bind(&customers)
        .bind(int(now))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let externals: Vec<Option<String>> = accepted.iter().map(|c| c.external.clone()).collect();
        sqlx::query(
            "INSERT INTO external_customers (external_id, customer_id) \
             SELECT external, customer FROM unnest($1::text[], $2::bigint[]) AS n(external, customer) \
             WHERE external IS NOT NULL ON CONFLICT (external_id) DO NOTHING",
        )
        .bind(&externals)
        .bind(&customers)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let mut created = accepted.into_iter().zip(ids).map(|(c, (customer, conversation))| {
            ConversationMeta::new(conversation, customer, c.name.clone())
        });
        Ok(keys.iter().map(|key| if reserved.contains(key) { None } else { created.next() }).collect())
    }
});

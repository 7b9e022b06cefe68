//! The SQLite [`Store`]: one file (or memory), WAL mode, embedded migrations.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::{name_key, AgentRecord, Store, StoreError};
use app::protocol::UserName;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// SQLite storage behind a connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
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
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(backend)?;
        Ok(Self { pool })
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn parse_name(raw: String) -> Result<UserName, StoreError> {
    UserName::parse(&raw).map_err(|p| backend(format!("stored name {raw:?} is invalid: {p}")))
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn add_agent(&self, name: &UserName, password_hash: &str) -> Result<(), StoreError> {
        let result = sqlx::query("INSERT INTO agents (name_key, name, password_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(name_key(name))
            .bind(name.as_str())
            .bind(password_hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate(name.to_string())),
            Err(e) => Err(backend(e)),
        }
    }

    async fn agent(&self, name: &UserName) -> Result<Option<AgentRecord>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, password_hash FROM agents WHERE name_key = ?")
                .bind(name_key(name))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        row.map(|(name, password_hash)| Ok(AgentRecord { name: parse_name(name)?, password_hash }))
            .transpose()
    }

    async fn agent_names(&self) -> Result<Vec<UserName>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM agents ORDER BY name_key")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter().map(|(n,)| parse_name(n)).collect()
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
}

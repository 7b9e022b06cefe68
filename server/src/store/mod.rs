//! Everything that outlives the process.
//!
//! Owns: the [`Store`] trait the rest of the server talks to, and its SQLite implementation
//! (the embedded default, a file under `./data/`). A Postgres implementation joins here later
//! without anything above this module changing.
//! Must not: leak `sqlx` types or errors ([`StoreError`] is all callers see), or decide
//! domain rules (the hub does).

mod sqlite;

pub use sqlite::SqliteStore;

use app::protocol::UserName;

/// A storage failure, without the backend's types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("storage backend: {0}")]
    Backend(String),
}

/// One agent account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub name: UserName,
    /// argon2id PHC string; never leaves the server.
    pub password_hash: String,
}

/// Persistent state. Implementations must be cheap to share (`Arc`) across tasks.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds an agent account; a name that exists (case-insensitively) is `Duplicate`.
    async fn add_agent(&self, name: &UserName, password_hash: &str) -> Result<(), StoreError>;
    /// The agent account of that name (case-insensitively), if any.
    async fn agent(&self, name: &UserName) -> Result<Option<AgentRecord>, StoreError>;
    /// Every agent name, sorted.
    async fn agent_names(&self) -> Result<Vec<UserName>, StoreError>;
    /// Removes an agent account; an unknown name is `NotFound`.
    async fn remove_agent(&self, name: &UserName) -> Result<(), StoreError>;
}

/// The lookup key of a name: the same case-folding the hub uses.
pub(crate) fn name_key(name: &UserName) -> String {
    name.as_str().to_lowercase()
}

#[cfg(test)]
mod tests;

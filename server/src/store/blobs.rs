//! Where the bytes of uploaded files live: the [`Blobs`] trait, and its three homes.
//!
//! Owns: [`DirBlobs`] (a directory beside the SQLite file, `./data/attachments/` by
//! default), [`PgBlobs`] (a table of the PostgreSQL database, which every node of a cluster
//! reads), and [`MemoryBlobs`] (beside an in-memory database, for tests). A blob is durable
//! once [`Blobs::put`] returns: a message that names it is committed only after.
//! Must not: know what a blob is for, or who may read it (the transport asks the hub).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sqlx::PgPool;

use super::rows::backend;
use super::StoreError;

/// Bytes by key: written once, read many times, never changed.
#[async_trait::async_trait]
pub trait Blobs: std::fmt::Debug + Send + Sync + 'static {
    /// Keeps `bytes` under `key` (replacing nothing: keys are random and new), on the disk
    /// before it returns.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError>;
    /// The bytes under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes what is under `key` (nothing there is no error).
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Blobs as files in a directory: `dir/ab/abcdef…` (two levels, so that no directory
/// holds more than a 256th of them). Each is written to a temporary file, fsynced, renamed
/// into place and its directory fsynced: a blob is there whole or not at all, even after a
/// power loss.
#[derive(Debug)]
pub struct DirBlobs {
    dir: PathBuf,
}

impl DirBlobs {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// [`DirBlobs::new`], with the directory made now: a server that could not write its
    /// files says so at its start, not at the first upload, and the directory is there to
    /// back up from the first day.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let blobs = Self::new(dir);
        std::fs::create_dir_all(&blobs.dir).map_err(backend)?;
        Ok(blobs)
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        // Keys are made by the server (hex, and a suffix); anything else is a bug, never a
        // path to follow.
        let safe = key.len() >= 2 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !safe || key.starts_with('.') {
            return Err(StoreError::Invalid(format!("blob key {key:?}")));
        }
        Ok(self.dir.join(&key[..2]).join(key))
    }
}

/// Writes `bytes` to `path` durably (see [`DirBlobs`]).
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent =
        path.parent().ok_or_else(|| std::io::Error::other("a blob path has no directory"))?;
    std::fs::create_dir_all(parent)?;
    let temporary = path.with_extension("part");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(parent)?.sync_all()
}

#[async_trait::async_trait]
impl Blobs for DirBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
            .await
            .map_err(backend)?
            .map_err(backend)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}

/// Blobs in PostgreSQL's `blobs` table: the database every node shares holds them, and its
/// backups hold them too.
#[derive(Debug)]
pub struct PgBlobs {
    pool: PgPool,
}

impl PgBlobs {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl Blobs for PgBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO blobs (key, bytes) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(bytes)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT bytes FROM blobs WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.map(|(bytes,)| bytes))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blobs WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Blobs in memory, beside an in-memory database: gone with the process, as it is.
#[derive(Debug, Default)]
pub struct MemoryBlobs(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait::async_trait]
impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_keeps_blobs_whole_and_refuses_keys_that_are_paths() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = DirBlobs::new(dir.path());
        blobs.put("0123abcd", b"bytes".to_vec()).await.expect("put");
        assert_eq!(blobs.get("0123abcd").await.expect("get"), Some(b"bytes".to_vec()));
        assert!(dir.path().join("01").join("0123abcd").exists());
        assert!(!dir.path().join("01").join("0123abcd.part").exists(), "no temporary left");
        assert_eq!(blobs.get("0123abce").await.expect("get"), None);
        for bad in ["../etc", "..", "a/b", "", "x", ".hidden"] {
            assert!(blobs.put(bad, vec![1]).await.is_err(), "{bad:?}");
            assert!(blobs.delete(bad).await.is_err(), "{bad:?}");
        }
        blobs.delete("0123abcd").await.expect("delete");
        assert_eq!(blobs.get("0123abcd").await.expect("get"), None);
        assert!(!dir.path().join("01").join("0123abcd").exists());
        blobs.delete("0123abcd").await.expect("deleting what is not there");
    }
}

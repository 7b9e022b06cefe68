//! The REST API's tokens in SQL, for either database.
//!
//! Owns: the `api_tokens` table (migration 0015; PostgreSQL 0009): a token's name, the
//! SHA-256 of its secret (never the secret), whether it may write, who made it (their name
//! as shown, and their account's key: the token goes with the account, migration 0017;
//! PostgreSQL 0011) and when, and when it was last used (to the minute: a busy integration does not write on every
//! request). A revoked token's row is deleted. Must not: decide who may make or use one.
//!
//! A macro like [`rating_methods!`](super::ratings::rating_methods), expanded inside
//! `sql_store!`.

/// A token's last use is written again only this long after the last time written.
pub(super) const LAST_USED_EVERY_MS: u64 = 60_000;

/// A token as its row is read: [`TOKEN_COLUMNS`].
pub(super) type TokenRow = (i64, String, bool, String, i64, Option<i64>);
pub(super) const TOKEN_COLUMNS: &str = "id, name, write, created_by, created_at, last_used_at";

pub(super) fn token_info(row: TokenRow) -> app::protocol::ApiTokenInfo {
    let (id, name, write, created_by, created_at, last_used_at) = row;
    app::protocol::ApiTokenInfo {
        id: super::rows::uint(id),
        name,
        write,
        created_by,
        created_at: super::rows::uint(created_at),
        last_used_at: last_used_at.map(super::rows::uint),
    }
}

/// Expands, inside `sql_store!`, the token methods of [`Store`](super::Store) as inherent
/// methods of the backend (`token_…`), which its `impl Store` calls.
macro_rules! token_methods {
    ($store:ty) => {
        impl $store {
            pub(super) async fn token_add(&self, name: &str, hash: &str, write: bool, by: &UserName, now: u64) -> Result<app::protocol::ApiTokenInfo, StoreError> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO api_tokens (name, token_hash, write, created_by, created_by_key, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(name)
                .bind(hash)
                .bind(write)
                .bind(by.as_str())
                .bind(name_key(by))
                .bind(int(now))
                .fetch_one(&self.pool)
                .await
                .map_err(super::rows::made_by(by))?;
                let info = app::protocol::ApiTokenInfo {
                    id: uint(id),
                    name: name.to_owned(),
                    write,
                    created_by: by.as_str().to_owned(),
                    created_at: now,
                    last_used_at: None,
                };
                self.confirm(info)
            }

            pub(super) async fn token_list(&self) -> Result<Vec<app::protocol::ApiTokenInfo>, StoreError> {
                let rows: Vec<super::tokens::TokenRow> =
                    sqlx::query_as(&format!("SELECT {} FROM api_tokens ORDER BY id", super::tokens::TOKEN_COLUMNS))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(backend)?;
                Ok(rows.into_iter().map(super::tokens::token_info).collect())
            }

            pub(super) async fn token_revoke(&self, id: u64) -> Result<(), StoreError> {
                let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
                    .bind(int(id))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("API token {id}")));
                }
                self.confirm(())
            }

            pub(super) async fn token_use(&self, hash: &str, now: u64) -> Result<Option<app::protocol::ApiTokenInfo>, StoreError> {
                let row: Option<super::tokens::TokenRow> =
                    sqlx::query_as(&format!("SELECT {} FROM api_tokens WHERE token_hash = $1", super::tokens::TOKEN_COLUMNS))
                        .bind(hash)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                let Some(row) = row else { return Ok(None) };
                let mut info = super::tokens::token_info(row);
                let due = info.last_used_at.is_none_or(|at| at + super::tokens::LAST_USED_EVERY_MS <= now);
                if due {
                    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                        .bind(int(info.id))
                        .bind(int(now))
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    info.last_used_at = Some(now);
                }
                Ok(Some(info))
            }
        }
    };
}

pub(super) use token_methods;

//! Satisfaction ratings and the desk's settings in SQL, for either database.
//!
//! Owns: the `ratings` and `desk_settings` tables (migration 0013; PostgreSQL 0007). A
//! rating is keyed by its conversation and the resolution it rates (the sequence number of
//! the newest message when it was resolved): a second rating of one resolution is refused
//! by the key, whichever node takes it. Must not: decide who may rate (the hub does).
//!
//! A macro like [`profile_methods!`](super::profiles::profile_methods), expanded inside
//! `sql_store!`.

/// The name of the setting that says whether customers are asked for ratings.
pub(super) const CSAT: &str = "csat";

/// Expands, inside `sql_store!`, the rating and settings methods of [`Store`](super::Store)
/// as inherent methods of the backend (`rating_…`), which its `impl Store` calls.
macro_rules! rating_methods {
    ($store:ty) => {
        impl $store {
            pub(super) async fn rating_add(&self, rating: &app::protocol::Rating) -> Result<(), StoreError> {
                // The rating and its webhooks' deliveries, together.
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "INSERT INTO ratings (conversation_id, seq, score, comment, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(int(rating.conversation.0))
                .bind(int(rating.seq))
                .bind(i32::from(rating.score))
                .bind(rating.comment.as_deref())
                .bind(int(rating.ts))
                .execute(&mut *tx)
                .await;
                match done {
                    Ok(_) => {
                        enqueue(&mut tx, || vec![crate::webhooks::rated(rating)]).await?;
                        tx.commit().await.map_err(backend)?;
                        self.confirm(())
                    }
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        Err(StoreError::Duplicate(format!("the rating of conversation {} at {}", rating.conversation.0, rating.seq)))
                    }
                    Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                        Err(StoreError::NotFound(format!("conversation {}", rating.conversation.0)))
                    }
                    Err(e) => Err(backend(e)),
                }
            }

            pub(super) async fn rating_list(&self, id: ConversationId, limit: u32) -> Result<Vec<app::protocol::Rating>, StoreError> {
                let rows: Vec<(i64, i32, Option<String>, i64)> = sqlx::query_as(
                    "SELECT seq, score, comment, created_at FROM ratings WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2",
                )
                .bind(int(id.0))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                let mut ratings = rows
                    .into_iter()
                    .map(|(seq, score, comment, ts)| {
                        let score = u8::try_from(score).map_err(|_| invalid(format!("a rating's score of {score}")))?;
                        Ok(app::protocol::Rating { conversation: id, seq: uint(seq), score, comment, ts: uint(ts) })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                ratings.reverse();
                Ok(ratings)
            }

            pub(super) async fn rating_settings(&self) -> Result<app::protocol::DeskSettings, StoreError> {
                let csat: Option<(String,)> = sqlx::query_as("SELECT value FROM desk_settings WHERE name = $1")
                    .bind(super::ratings::CSAT)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                let mut settings = app::protocol::DeskSettings::default();
                if let Some((value,)) = csat {
                    settings.csat = value != "off";
                }
                Ok(settings)
            }

            pub(super) async fn rating_set_settings(&self, settings: app::protocol::DeskSettings) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO desk_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
                    .bind(super::ratings::CSAT)
                    .bind(if settings.csat { "on" } else { "off" })
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                self.confirm(())
            }
        }
    };
}

pub(super) use rating_methods;

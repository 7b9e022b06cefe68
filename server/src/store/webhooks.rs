//! Webhooks and their outbox in SQL, for either database.
//!
//! Owns: the `webhooks` and `webhook_deliveries` tables (migration 0016; PostgreSQL 0010).
//! An event's deliveries (one per webhook that wants it) are written by [`enqueue`] inside
//! the transaction that stores the event (a message's append, a resolution's state, a
//! rating): committed together or not at all (a delivery that cannot be written fails its
//! event: its message is refused, and the client sends it again; on the SQLite writer, the
//! whole group committed with it). The courier claims due deliveries for a while
//! ([`Store::due_deliveries`](super::Store::due_deliveries): a row another node claimed is
//! not taken twice) and writes each attempt's outcome. Must not: decide what an event says
//! (see [`crate::webhooks`]) or who may register a webhook.
//!
//! A macro like [`rating_methods!`](super::ratings::rating_methods), expanded inside
//! `sql_store!`.

/// Whether any webhook exists (an event's deliveries are made only then).
pub(super) const ANY_WEBHOOK: &str = "SELECT id FROM webhooks LIMIT 1";
/// An event's deliveries: one for each webhook that wants it (`$4`: its
/// [`Event::pattern`](crate::webhooks::Event::pattern)). The same text on both databases
/// and on the SQLite writer's own connection.
pub(super) const ENQUEUE: &str =
    "INSERT INTO webhook_deliveries (webhook_id, event, body, created_at, next_at) \
     SELECT id, $1, $2, $3, $3 FROM webhooks WHERE events LIKE $4 ORDER BY id";

/// A delivery the courier is to attempt now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: u64,
    /// The webhook it is for.
    pub webhook: u64,
    /// Claimed until then: what comes of the attempt is written only while the claim
    /// holds (a node that took longer leaves the delivery to whoever claimed it next).
    pub claimed_until: u64,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub body: String,
    pub created_at: u64,
    /// Attempts before this one.
    pub attempts: u32,
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub at: u64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed; `None` when it was delivered.
    pub error: Option<String>,
    /// When it is tried again (`None`: delivered, or given up).
    pub next_at: Option<u64>,
}

/// The columns of a delivery as the console shows it.
pub(super) const DELIVERY_COLUMNS: &str =
    "id, event, created_at, attempts, last_at, last_status, last_error, delivered_at, next_at";

/// A row of [`DELIVERY_COLUMNS`].
pub(super) type DeliveryRow =
    (i64, String, i64, i32, Option<i64>, Option<i32>, Option<String>, Option<i64>, Option<i64>);

pub(super) fn delivery_info(row: DeliveryRow) -> app::protocol::DeliveryInfo {
    let (id, event, created_at, attempts, last_at, last_status, last_error, delivered_at, next_at) =
        row;
    app::protocol::DeliveryInfo {
        id: super::rows::uint(id),
        event,
        created_at: super::rows::uint(created_at),
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_attempt_at: last_at.map(super::rows::uint),
        last_status: last_status.and_then(|s| u16::try_from(s).ok()),
        last_error,
        delivered_at: delivered_at.map(super::rows::uint),
        next_attempt_at: next_at.map(super::rows::uint),
    }
}

/// A webhook's events as its column keeps them, read back.
pub(super) fn events_of(column: &str) -> Vec<String> {
    column.split(',').filter(|e| !e.is_empty()).map(str::to_owned).collect()
}

/// Expands, inside `sql_store!`, `enqueue` (an event's deliveries, on the caller's
/// connection) and the webhook methods of [`Store`](super::Store) as inherent methods of
/// the backend (`webhook_…`), which its `impl Store` calls.
macro_rules! webhook_methods {
    ($store:ty, $conn:ty) => {
        /// Writes a delivery of each event `events` makes for every webhook that wants it, on
        /// `conn` (the transaction that stores the events). Nothing (not even the events'
        /// bodies) when no webhook exists.
        async fn enqueue(conn: &mut $conn, events: impl FnOnce() -> Vec<crate::webhooks::Event>) -> Result<(), StoreError> {
            let any: Option<(i64,)> = sqlx::query_as(super::webhooks::ANY_WEBHOOK)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
            if any.is_none() {
                return Ok(());
            }
            for event in events() {
                sqlx::query(super::webhooks::ENQUEUE)
                .bind(event.name)
                .bind(&event.body)
                .bind(int(event.at))
                .bind(event.pattern())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            }
            Ok(())
        }

        impl $store {
            pub(super) async fn webhook_add(&self, url: &str, events: &str, secret: &str, by: &UserName, now: u64) -> Result<app::protocol::WebhookInfo, StoreError> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO webhooks (url, events, secret, created_by, created_by_key, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(url)
                .bind(events)
                .bind(secret)
                .bind(by.as_str())
                .bind(name_key(by))
                .bind(int(now))
                .fetch_one(&self.pool)
                .await
                .map_err(super::rows::made_by(by))?;
                let info = app::protocol::WebhookInfo {
                    id: uint(id),
                    url: url.to_owned(),
                    events: super::webhooks::events_of(events),
                    created_by: by.as_str().to_owned(),
                    created_at: now,
                    deliveries: vec![],
                };
                self.confirm(info)
            }

            pub(super) async fn webhook_list(&self, shown: u32) -> Result<Vec<app::protocol::WebhookInfo>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                let hooks: Vec<(i64, String, String, String, i64)> =
                    sqlx::query_as("SELECT id, url, events, created_by, created_at FROM webhooks ORDER BY id")
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(backend)?;
                let mut listed = Vec::with_capacity(hooks.len());
                for (id, url, events, created_by, created_at) in hooks {
                    let rows: Vec<super::webhooks::DeliveryRow> = sqlx::query_as(&format!(
                        "SELECT {} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
                        super::webhooks::DELIVERY_COLUMNS
                    ))
                    .bind(id)
                    .bind(i64::from(shown))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(backend)?;
                    listed.push(app::protocol::WebhookInfo {
                        id: uint(id),
                        url,
                        events: super::webhooks::events_of(&events),
                        created_by,
                        created_at: uint(created_at),
                        deliveries: rows.into_iter().map(super::webhooks::delivery_info).collect(),
                    });
                }
                Ok(listed)
            }

            pub(super) async fn webhook_remove(&self, id: u64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
                    .bind(int(id))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                    .bind(int(id))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("webhook {id}")));
                }
                tx.commit().await.map_err(backend)?;
                self.confirm(())
            }

            pub(super) async fn webhook_due(&self, now: u64, until: u64, limit: u32, busy: &std::collections::HashMap<u64, usize>, per_webhook: usize) -> Result<Vec<super::webhooks::Due>, StoreError> {
                // The webhooks that have their share under way are left out in the query (their
                // backlog, however long, hides nobody else's); of one webhook's deliveries, only
                // its share can be taken in this round, so the rows read leave room for that.
                let full: Vec<String> =
                    busy.iter().filter(|(_, n)| **n >= per_webhook).map(|(id, _)| id.to_string()).collect();
                let except = if full.is_empty() {
                    String::new()
                } else {
                    // Numbers only: written into the statement, not bound.
                    format!(" AND d.webhook_id NOT IN ({})", full.join(", "))
                };
                let rows: Vec<(i64, i64, i64, String, String, String, String, i64, i32)> = sqlx::query_as(&format!(
                    "SELECT d.id, d.webhook_id, d.next_at, w.url, w.secret, d.event, d.body, d.created_at, d.attempts \
                     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                     WHERE d.next_at IS NOT NULL AND d.next_at <= $1{except} ORDER BY d.next_at, d.id LIMIT $2",
                ))
                .bind(int(now))
                .bind(i64::from(limit) * per_webhook.max(1) as i64 * 4)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                let mut claimed = Vec::with_capacity(limit as usize);
                let mut taken: std::collections::HashMap<u64, usize> = busy.clone();
                for (id, webhook, next_at, url, secret, event, body, created_at, attempts) in rows {
                    if claimed.len() == limit as usize {
                        break;
                    }
                    let share = taken.entry(uint(webhook)).or_default();
                    if *share >= per_webhook {
                        continue;
                    }
                    // Claimed until `until`, unless another node claimed it first.
                    let done = sqlx::query("UPDATE webhook_deliveries SET next_at = $1 WHERE id = $2 AND next_at = $3")
                        .bind(int(until))
                        .bind(id)
                        .bind(next_at)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    if done.rows_affected() == 1 {
                        *share += 1;
                        claimed.push(super::webhooks::Due {
                            id: uint(id),
                            webhook: uint(webhook),
                            claimed_until: until,
                            url,
                            secret,
                            event,
                            body,
                            created_at: uint(created_at),
                            attempts: u32::try_from(attempts).unwrap_or(0),
                        });
                    }
                }
                self.confirm(claimed)
            }

            pub(super) async fn webhook_attempted(&self, due: &super::webhooks::Due, attempt: &super::webhooks::Attempt) -> Result<(), StoreError> {
                let delivered = attempt.error.is_none().then_some(int(attempt.at));
                let done = sqlx::query(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, last_at = $1, last_status = $2, last_error = $3, \
                     delivered_at = $4, next_at = $5 WHERE id = $6 AND next_at = $7",
                )
                .bind(int(attempt.at))
                .bind(attempt.status.map(i32::from))
                .bind(attempt.error.as_deref())
                .bind(delivered)
                .bind(attempt.next_at.map(int))
                .bind(int(due.id))
                .bind(int(due.claimed_until))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    // Its claim lapsed (another node has it now), or its webhook was removed.
                    tracing::warn!(delivery = due.id, "a webhook delivery's attempt was not written: its claim lapsed, or its webhook is gone");
                }
                self.confirm(())
            }

            pub(super) async fn webhook_prune(&self, before: u64) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM webhook_deliveries WHERE next_at IS NULL AND created_at < $1")
                    .bind(int(before))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                self.confirm(done.rows_affected())
            }
        }
    };
}

pub(super) use webhook_methods;

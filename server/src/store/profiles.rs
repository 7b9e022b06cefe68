//! Customer profiles in SQL, for either database: what a customer's visits said, what the
//! host site signed, the agents' note, and the same person's other conversations (by
//! e-mail address).
//!
//! Owns: the `customer_profiles` table (migration 0012; PostgreSQL 0006), a row per stored
//! customer that anything was said of (deleted with them). A new anonymous customer's visit
//! waits in the hub with their conversation ([`crate::model::Unsaved`]) and is written with
//! them ([`Store::save_customer`](super::Store::save_customer)): nobody costs a row before
//! they (or an agent) write. Must not: decide who may read a profile (the
//! hub's rule, asked by the transport, does).
//!
//! A macro like [`sql_store!`](super::sql::sql_store), expanded inside it: the statements
//! are the same text on both databases.

use std::collections::BTreeMap;

use app::protocol::{CustomerNote, Email};

/// What storage keeps of a customer besides their name ([`Store::profile`](super::Store::profile)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileRecord {
    pub email: Option<Email>,
    pub page: Option<String>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    /// What the host site signed about them, by name.
    pub attributes: BTreeMap<String, String>,
    pub note: Option<CustomerNote>,
    /// The host site's user id, when the site vouched for them.
    pub user_id: Option<String>,
    /// When they first came: their first recorded visit, or their row's creation.
    pub first_seen: Option<u64>,
}

/// Expands, inside `sql_store!`, the profile methods of [`Store`](super::Store) as inherent
/// methods of the backend (named `profile_…`), which its `impl Store` calls, and
/// `write_visit` (for `save_customer` too). (Not the trait methods themselves:
/// `async_trait` rewrites the methods it sees written in the impl, before a macro there
/// would expand.)
macro_rules! profile_methods {
    ($store:ty, $conn:ty) => {
        /// Writes what a customer's browser said (and the host site signed, as JSON) on one
        /// connection (inside a transaction or not): what was said replaces what was stored,
        /// but an e-mail address replaces none; what was not said stays.
        async fn write_visit(
            conn: &mut $conn,
            customer: CustomerId,
            visit: &app::protocol::VisitFacts,
            attributes: Option<String>,
            now: u64,
        ) -> Result<(), StoreError> {
            let email = visit.email.as_ref().map(|e| e.as_str().to_owned());
            let email_key = visit.email.as_ref().map(app::protocol::Email::key);
            sqlx::query(
                "INSERT INTO customer_profiles (customer_id, email, email_key, page, language, time_zone, attributes, first_seen, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (customer_id) DO UPDATE SET \
                   email = COALESCE(customer_profiles.email, excluded.email), \
                   email_key = COALESCE(customer_profiles.email_key, excluded.email_key), \
                   page = COALESCE(excluded.page, customer_profiles.page), \
                   language = COALESCE(excluded.language, customer_profiles.language), \
                   time_zone = COALESCE(excluded.time_zone, customer_profiles.time_zone), \
                   attributes = COALESCE(excluded.attributes, customer_profiles.attributes), \
                   updated_at = excluded.updated_at",
            )
            .bind(int(customer.0))
            .bind(email)
            .bind(email_key)
            .bind(visit.page.as_deref())
            .bind(visit.language.as_deref())
            .bind(visit.time_zone.as_deref())
            .bind(attributes)
            .bind(int(now))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
            Ok(())
        }

        impl $store {
        pub(super) async fn profile_record_visit(
            &self,
            customer: CustomerId,
            visit: &app::protocol::VisitFacts,
            attributes: Option<&std::collections::BTreeMap<String, String>>,
            now: u64,
        ) -> Result<(), StoreError> {
            if visit.is_empty() && attributes.is_none() {
                return Ok(());
            }
            let attributes = attributes
                .map(|a| serde_json::to_string(a).map_err(|e| invalid(format!("attributes: {e}"))))
                .transpose()?;
            let email = visit.email.as_ref().map(|e| e.as_str().to_owned());
            // Read first: a customer logging in again from the same page says the same, and
            // then nothing is written (a login storm pays reads, not commits).
            let row: Option<(Option<String>, Option<String>, Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT email, page, language, time_zone, attributes FROM customer_profiles WHERE customer_id = $1",
            )
            .bind(int(customer.0))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
            let same = |given: &Option<String>, stored: &Option<String>| given.is_none() || given == stored;
            if let Some((e, p, l, z, a)) = &row {
                // A stored address stays: the one given first, or an agent's correction.
                let email_same = e.is_some() || email.is_none();
                if email_same && same(&visit.page, p) && same(&visit.language, l) && same(&visit.time_zone, z) && same(&attributes, a) {
                    return Ok(());
                }
            }
            let mut conn = self.pool.acquire().await.map_err(backend)?;
            write_visit(&mut conn, customer, visit, attributes, now).await?;
            self.confirm(())
        }

        pub(super) async fn profile_read(&self, customer: CustomerId) -> Result<super::ProfileRecord, StoreError> {
            let mut conn = self.pool.acquire().await.map_err(backend)?;
            let row = sqlx::query(
                "SELECT email, page, language, time_zone, attributes, note, note_by, note_at, first_seen \
                 FROM customer_profiles WHERE customer_id = $1",
            )
            .bind(int(customer.0))
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
            let mut record = super::ProfileRecord::default();
            if let Some(row) = row {
                let email: Option<String> = row.try_get("email").map_err(backend)?;
                // Stored only once checked; one that no longer reads as an address is left out.
                record.email = email.and_then(|e| app::protocol::Email::parse(&e).ok());
                record.page = row.try_get("page").map_err(backend)?;
                record.language = row.try_get("language").map_err(backend)?;
                record.time_zone = row.try_get("time_zone").map_err(backend)?;
                let attributes: Option<String> = row.try_get("attributes").map_err(backend)?;
                if let Some(json) = attributes {
                    record.attributes = serde_json::from_str(&json).map_err(|e| invalid(format!("attributes of customer {}: {e}", customer.0)))?;
                }
                let note: Option<String> = row.try_get("note").map_err(backend)?;
                let by: Option<String> = row.try_get("note_by").map_err(backend)?;
                let at: Option<i64> = row.try_get("note_at").map_err(backend)?;
                if let (Some(text), Some(by), Some(at)) = (note, by, at) {
                    record.note = Some(app::protocol::CustomerNote { text, by: parse_name(by)?, ts: uint(at) });
                }
                record.first_seen = Some(uint(row.try_get("first_seen").map_err(backend)?));
            }
            let created: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM customers WHERE id = $1")
                .bind(int(customer.0))
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
            if let Some((created,)) = created {
                let created = uint(created);
                record.first_seen = Some(record.first_seen.map_or(created, |seen| seen.min(created)));
            }
            let external: Option<(String,)> = sqlx::query_as("SELECT external_id FROM external_customers WHERE customer_id = $1")
                .bind(int(customer.0))
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
            record.user_id = external.map(|(id,)| id);
            Ok(record)
        }

        pub(super) async fn profile_change_profile(
            &self,
            customer: CustomerId,
            change: &app::protocol::ProfileChange,
            by: &UserName,
            now: u64,
        ) -> Result<(), StoreError> {
            let mut tx = self.begin_write().await?;
            sqlx::query("INSERT INTO customer_profiles (customer_id, first_seen, updated_at) VALUES ($1, $2, $2) ON CONFLICT (customer_id) DO NOTHING")
                .bind(int(customer.0))
                .bind(int(now))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            if let Some(email) = &change.email {
                sqlx::query("UPDATE customer_profiles SET email = $2, email_key = $3, updated_at = $4 WHERE customer_id = $1")
                    .bind(int(customer.0))
                    .bind(email.as_ref().map(|e| e.as_str().to_owned()))
                    .bind(email.as_ref().map(app::protocol::Email::key))
                    .bind(int(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            if let Some(note) = &change.note {
                sqlx::query("UPDATE customer_profiles SET note = $2, note_by = $3, note_at = $4, updated_at = $5 WHERE customer_id = $1")
                    .bind(int(customer.0))
                    .bind(note.as_deref())
                    .bind(note.as_ref().map(|_| by.as_str().to_owned()))
                    .bind(note.as_ref().map(|_| int(now)))
                    .bind(int(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            tx.commit().await.map_err(backend)?;
            self.confirm(())
        }

        pub(super) async fn profile_same_email(
            &self,
            customer: CustomerId,
            email: &app::protocol::Email,
            limit: u32,
        ) -> Result<Vec<(ConversationMeta, u64)>, StoreError> {
            let mut conn = self.pool.acquire().await.map_err(backend)?;
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT c.id, c.updated_at FROM customer_profiles p JOIN conversations c ON c.customer_id = p.customer_id \
                 WHERE p.email_key = $1 AND p.customer_id <> $2 ORDER BY c.updated_at DESC, c.id DESC LIMIT $3",
            )
            .bind(email.key())
            .bind(int(customer.0))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
            load_active_metas(&mut conn, rows).await
        }
        }
    };
}

pub(super) use profile_methods;

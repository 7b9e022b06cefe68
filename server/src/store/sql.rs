//! The SQL that SQLite and PostgreSQL share, written once.
//!
//! Both take numbered parameters (`$1`, and a number may repeat), so one statement text
//! serves both; each backend module invokes [`sql_store!`] with what differs: its
//! connection type and the methods it writes itself (creating customers, whose ids each
//! backend numbers its own way). A backend module also provides `Batch` (its
//! [`BatchSql`](super::rows::BatchSql)), `begin_write` (a transaction that writes) and
//! `confirm` (a check after each write; SQLite's looks for its file).
//!
//! A macro rather than generic code: sqlx's traits for code generic over the database
//! need bounds on every type bound and decoded, and the two expansions are plain,
//! concrete code.

/// Expands, in a backend module: `load_meta`, `load_agent`, `load_metas`,
/// `load_active_metas`, `append_one`, `append_pooled` (the append through the pool, with
/// the webhooks' deliveries of what it stored), the profile, rating, report, token and
/// webhook methods (`profile_methods!`, `rating_methods!`, `report_methods!`,
/// `token_methods!`, `webhook_methods!`, which also gives `enqueue`), and `impl Store for
/// $store` with every method but those given in `{ ... }` (`append` is among them: SQLite
/// appends on a thread of its own, see `sqlite_writer`).
macro_rules! sql_store {
    (store: $store:ty, connection: $conn:ty, own: { $($own:tt)* }) => {
        /// A conversation's metadata, on one connection (inside a transaction or not).
        async fn load_meta(conn: &mut $conn, id: ConversationId) -> Result<Option<ConversationMeta>, StoreError> {
            let row = sqlx::query(
                "SELECT c.customer_id, cu.name, c.status, c.assignee_key, c.assignee_name, c.queued_at, c.note, c.read_seq, c.last_seq, \
                        c.version FROM conversations c JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1",
            )
            .bind(int(id.0))
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
            let Some(row) = row else { return Ok(None) };
            let agents: Vec<(String,)> = sqlx::query_as("SELECT agent_key FROM conversation_agents WHERE conversation_id = $1")
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
            meta.agents = agents.into_iter().map(|(k,)| AgentKey::from_stored(k)).collect();
            meta.status = parse_status(&status)?;
            meta.assignee = assignee;
            meta.queued_at = uint(row.try_get("queued_at").map_err(backend)?);
            meta.note = row.try_get("note").map_err(backend)?;
            meta.version = uint(row.try_get("version").map_err(backend)?);
            meta.read_seq = uint(row.try_get("read_seq").map_err(backend)?);
            meta.last_seq = uint(row.try_get("last_seq").map_err(backend)?);
            let unread: Vec<(i64,)> = sqlx::query_as(
                "SELECT seq FROM messages WHERE conversation_id = $1 AND seq > $2 AND author_role = 'customer' ORDER BY seq",
            )
            .bind(int(id.0))
            .bind(int(meta.read_seq))
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
            meta.unread = unread.into_iter().map(|(s,)| uint(s)).collect();
            Ok(Some(meta))
        }

        /// Records where a conversation stands (status, assignee, queue time, note, read
        /// position), unless a newer version is stored: how many rows changed (0 or 1). A
        /// change of status or assignee is also kept as an event at `at` (for the reports),
        /// on the same connection: inside the caller's transaction, both or neither.
        async fn update_state(conn: &mut $conn, meta: &ConversationMeta, at: u64) -> Result<u64, StoreError> {
            let assignee = meta.assignee.as_ref().map(|a| a.key.as_str().to_owned());
            if meta.status == app::protocol::Status::Resolved {
                // Resolved by this change (not told again by an older or the same state). The
                // row is locked first (a no-op write; on PostgreSQL another writer of it waits
                // until this commits), so that two changes at once cannot both see it open.
                sqlx::query("UPDATE conversations SET version = version WHERE id = $1")
                    .bind(int(meta.id.0))
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                let resolving: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM conversations WHERE id = $1 AND version < $2 AND status <> 'resolved'",
                )
                .bind(int(meta.id.0))
                .bind(int(meta.version))
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                if resolving.is_some() {
                    enqueue(&mut *conn, || vec![crate::webhooks::resolved(meta, at)]).await?;
                }
            }
            sqlx::query(
                "INSERT INTO conversation_events (conversation_id, at, from_status, status, agent_key, seq) \
                 SELECT id, $1, status, $2, $3, $4 FROM conversations \
                 WHERE id = $5 AND version < $6 AND (status <> $2 OR COALESCE(assignee_key, '') <> COALESCE($3, ''))",
            )
            .bind(int(at))
            .bind(status_text(meta.status))
            .bind(assignee.as_deref())
            .bind(int(meta.last_seq))
            .bind(int(meta.id.0))
            .bind(int(meta.version))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
            let done = sqlx::query(
                "UPDATE conversations SET status = $1, assignee_key = $2, assignee_name = $3, queued_at = $4, note = $5, read_seq = $6, \
                 version = $7 WHERE id = $8 AND version < $7",
            )
            .bind(status_text(meta.status))
            .bind(assignee)
            .bind(meta.assignee.as_ref().map(|a| a.name.as_str().to_owned()))
            .bind(int(meta.queued_at))
            .bind(meta.note.as_deref())
            .bind(int(meta.read_seq))
            .bind(int(meta.version))
            .bind(int(meta.id.0))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
            Ok(done.rows_affected())
        }

        /// The agent account keyed `key`, on one connection.
        async fn load_agent(conn: &mut $conn, key: &str) -> Result<Option<AgentRecord>, StoreError> {
            let row: Option<(String, String, bool)> = sqlx::query_as("SELECT name, password_hash, admin FROM agents WHERE name_key = $1")
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
            row.map(|(name, password_hash, admin)| Ok(AgentRecord { name: parse_name(name)?, password_hash, admin })).transpose()
        }

        /// The metadata of each conversation id, in order.
        async fn load_metas(conn: &mut $conn, ids: Vec<(i64,)>) -> Result<Vec<ConversationMeta>, StoreError> {
            let mut metas = Vec::with_capacity(ids.len());
            for (id,) in ids {
                if let Some(meta) = load_meta(conn, ConversationId(uint(id))).await? {
                    metas.push(meta);
                }
            }
            Ok(metas)
        }

        /// The metadata of each conversation id, in order, with its last activity.
        async fn load_active_metas(conn: &mut $conn, rows: Vec<(i64, i64)>) -> Result<Vec<(ConversationMeta, u64)>, StoreError> {
            let mut metas = Vec::with_capacity(rows.len());
            for (id, active) in rows {
                if let Some(meta) = load_meta(conn, ConversationId(uint(id))).await? {
                    metas.push((meta, uint(active)));
                }
            }
            Ok(metas)
        }

        /// Stores one message inside the caller's transaction.
        async fn append_one(conn: &mut $conn, m: &NewMessage) -> Result<Appended, StoreError> {
            let (role, key) = author_columns(&m.author);
            if let Some(client_id) = &m.client_id {
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages \
                     WHERE conversation_id = $1 AND author_role = $2 AND author_key = $3 AND client_id = $4"
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
            let seq: Option<(i64,)> = sqlx::query_as(
                "UPDATE conversations SET last_seq = last_seq + 1, updated_at = CASE WHEN updated_at > $1 THEN updated_at ELSE $1 END WHERE id = $2 RETURNING last_seq",
            )
            .bind(int(m.ts))
            .bind(int(m.conversation.0))
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
            let Some((seq,)) = seq else {
                return Err(StoreError::NotFound(format!("conversation {}", m.conversation.0)));
            };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO messages (conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at, attachments) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
            .bind(attachments_column(&m.attachments))
            .fetch_one(&mut *conn)
            .await
            .map_err(backend)?;
            if let Some(agent) = &m.joins {
                sqlx::query("INSERT INTO conversation_agents (conversation_id, agent_key) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(int(m.conversation.0))
                    .bind(agent.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
            }
            Ok(Appended { message: m.stored(MessageId(uint(id)), uint(seq)), duplicate: false })
        }


        impl $store {
            /// [`Store::append`] on a connection of the pool.
            async fn append_pooled(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
                let mut tx = self.begin_write().await?;
                // The whole batch in a handful of statements; should any message fail, the batch
                // is undone and stored one message at a time, so the others still go in.
                let mut all = sqlx::Connection::begin(&mut *tx).await.map_err(backend)?;
                let stored = match append_batch(&mut Batch(&mut all), batch).await {
                    Ok(results) => {
                        enqueue(&mut all, || crate::webhooks::stored(&results.iter().collect::<Vec<_>>()))
                            .await
                            .map(|()| results)
                    }
                    Err(e) => Err(e),
                };
                match stored {
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
                    let stored = match append_one(&mut one, m).await {
                        Ok(appended) => enqueue(&mut one, || crate::webhooks::stored(&[&appended])).await.map(|()| appended),
                        Err(e) => Err(e),
                    };
                    match stored {
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
        }

        super::profiles::profile_methods!($store, $conn);
        super::ratings::rating_methods!($store);
        super::reports::report_methods!($store);
        super::tokens::token_methods!($store);
        super::webhooks::webhook_methods!($store, $conn);

        #[async_trait::async_trait]
        impl Store for $store {
            $($own)*

            async fn record_visit(&self, customer: CustomerId, visit: &app::protocol::VisitFacts, attributes: Option<&std::collections::BTreeMap<String, String>>, now: u64) -> Result<(), StoreError> {
                self.profile_record_visit(customer, visit, attributes, now).await
            }

            async fn profile(&self, customer: CustomerId) -> Result<super::ProfileRecord, StoreError> {
                self.profile_read(customer).await
            }

            async fn change_profile(&self, customer: CustomerId, change: &app::protocol::ProfileChange, by: &UserName, now: u64) -> Result<(), StoreError> {
                self.profile_change_profile(customer, change, by, now).await
            }

            async fn same_email(&self, customer: CustomerId, email: &app::protocol::Email, limit: u32) -> Result<Vec<(ConversationMeta, u64)>, StoreError> {
                self.profile_same_email(customer, email, limit).await
            }

            async fn add_rating(&self, rating: &app::protocol::Rating) -> Result<(), StoreError> {
                self.rating_add(rating).await
            }

            async fn ratings(&self, id: ConversationId, limit: u32) -> Result<Vec<app::protocol::Rating>, StoreError> {
                self.rating_list(id, limit).await
            }

            async fn report(&self, from_ms: u64, to_ms: u64, offset_ms: i64) -> Result<super::ReportRows, StoreError> {
                self.report_rows(from_ms, to_ms, offset_ms).await
            }

            async fn add_webhook(&self, url: &str, events: &str, secret: &str, by: &UserName, now: u64) -> Result<app::protocol::WebhookInfo, StoreError> {
                self.webhook_add(url, events, secret, by, now).await
            }

            async fn webhooks(&self, shown: u32) -> Result<Vec<app::protocol::WebhookInfo>, StoreError> {
                self.webhook_list(shown).await
            }

            async fn remove_webhook(&self, id: u64) -> Result<(), StoreError> {
                self.webhook_remove(id).await
            }

            async fn due_deliveries(&self, now: u64, until: u64, limit: u32, busy: &std::collections::HashMap<u64, usize>, per_webhook: usize) -> Result<Vec<super::Due>, StoreError> {
                self.webhook_due(now, until, limit, busy, per_webhook).await
            }

            async fn attempted(&self, due: &super::Due, attempt: &super::Attempt) -> Result<(), StoreError> {
                self.webhook_attempted(due, attempt).await
            }

            async fn prune_deliveries(&self, before: u64) -> Result<u64, StoreError> {
                self.webhook_prune(before).await
            }

            async fn add_api_token(&self, name: &str, hash: &str, write: bool, by: &UserName, now: u64) -> Result<app::protocol::ApiTokenInfo, StoreError> {
                self.token_add(name, hash, write, by, now).await
            }

            async fn api_tokens(&self) -> Result<Vec<app::protocol::ApiTokenInfo>, StoreError> {
                self.token_list().await
            }

            async fn revoke_api_token(&self, id: u64) -> Result<(), StoreError> {
                self.token_revoke(id).await
            }

            async fn use_api_token(&self, hash: &str, now: u64) -> Result<Option<app::protocol::ApiTokenInfo>, StoreError> {
                self.token_use(hash, now).await
            }

            async fn desk_settings(&self) -> Result<app::protocol::DeskSettings, StoreError> {
                self.rating_settings().await
            }

            async fn set_desk_settings(&self, settings: app::protocol::DeskSettings) -> Result<(), StoreError> {
                self.rating_set_settings(settings).await
            }

            async fn add_agent(&self, name: &UserName, password_hash: &str, admin: bool) -> Result<(), StoreError> {
                let result = sqlx::query("INSERT INTO agents (name_key, name, password_hash, admin, created_at) VALUES ($1, $2, $3, $4, $5)")
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

            async fn remove_agent(&self, name: &UserName) -> Result<RemovedAgent, StoreError> {
                let key = name_key(name);
                let mut tx = self.begin_write().await?;
                // What they made for the desk's integrations goes with them, in the same
                // transaction (the foreign keys would take it too; deleted here to count it).
                let mut gone = [0; 2];
                for (n, table) in ["api_tokens", "webhooks"].into_iter().enumerate() {
                    let sql = format!("DELETE FROM {table} WHERE created_by_key = $1");
                    gone[n] = sqlx::query(&sql).bind(&key).execute(&mut *tx).await.map_err(backend)?.rows_affected();
                }
                let done = sqlx::query("DELETE FROM agents WHERE name_key = $1").bind(&key).execute(&mut *tx).await.map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(name.to_string()));
                }
                tx.commit().await.map_err(backend)?;
                self.confirm(RemovedAgent { tokens: gone[0], webhooks: gone[1] })
            }

            async fn create_agent_session(&self, agent: &AgentKey, token_hash: &str, now: u64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO sessions (token_hash, agent_key, created_at, last_used_at) VALUES ($1, $2, $3, $3)")
                    .bind(token_hash)
                    .bind(agent.as_str())
                    .bind(int(now))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                self.confirm(())
            }

            async fn external_customer(&self, external_id: &str) -> Result<Option<CustomerId>, StoreError> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT customer_id FROM external_customers WHERE external_id = $1")
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(row.map(|(id,)| CustomerId(uint(id))))
            }

            async fn create_customer_session(&self, customer: CustomerId, token_hash: &str, now: u64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO sessions (token_hash, customer_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)")
                    .bind(token_hash)
                    .bind(int(customer.0))
                    .bind(int(now))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                self.confirm(())
            }

            async fn resume(&self, token_hash: &str, now: u64, idle: super::IdleLimits) -> Result<Option<SessionOwner>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                let row: Option<(Option<i64>, Option<String>, i64)> =
                    sqlx::query_as("SELECT customer_id, agent_key, last_used_at FROM sessions WHERE token_hash = $1")
                        .bind(token_hash)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(backend)?;
                let Some((customer, agent, last_used)) = row else { return Ok(None) };
                let max_idle_ms = if customer.is_some() { idle.customer_ms } else { idle.agent_ms };
                if uint(last_used).saturating_add(max_idle_ms) < now {
                    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *conn).await.map_err(backend)?;
                    return Ok(None);
                }
                sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2")
                    .bind(int(now))
                    .bind(token_hash)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                match (customer, agent) {
                    (Some(customer), _) => {
                        let row: Option<(i64, String)> = sqlx::query_as(
                            "SELECT c.id, cu.name FROM conversations c JOIN customers cu ON cu.id = c.customer_id WHERE cu.id = $1",
                        )
                        .bind(customer)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(backend)?;
                        let Some((conversation, name)) = row else {
                            return Err(invalid(format!("customer {customer} has no conversation")));
                        };
                        let meta = load_meta(&mut conn, ConversationId(uint(conversation)))
                            .await?
                            .ok_or_else(|| invalid(format!("conversation {conversation} vanished")))?;
                        Ok(Some(SessionOwner::Customer { id: CustomerId(uint(customer)), name: parse_name(name)?, conversation: meta }))
                    }
                    (None, Some(key)) => Ok(load_agent(&mut conn, &key).await?.map(SessionOwner::Agent)),
                    (None, None) => Err(invalid("a session without an owner")),
                }
            }

            async fn revoke(&self, token_hash: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await.map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn search(
                &self,
                query: &app::protocol::SearchQuery,
                agent: &AgentKey,
                admin: bool,
                before: Option<MessageId>,
                limit: u32,
            ) -> Result<super::Found, StoreError> {
                use super::search::{self, Bind};
                /// A statement with its parameters bound.
                fn bound(st: &search::Statement) -> sqlx::query::Query<'_, <$conn as sqlx::Connection>::Database, <<$conn as sqlx::Connection>::Database as sqlx::Database>::Arguments<'_>> {
                    st.binds.iter().fold(sqlx::query(&st.sql), |q, b| match b {
                        Bind::Text(t) => q.bind(t.as_str()),
                        Bind::Int(i) => q.bind(*i),
                        Bind::Bool(v) => q.bind(*v),
                    })
                }
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                let who = search::Searcher { agent, admin };
                // The newest first: those not indexed yet (SQLite), then the index; or all.
                let parts = match Self::indexed_up_to(&mut conn).await? {
                    Some(up_to) => vec![search::Part::After(up_to), search::Part::IndexedUpTo(up_to)],
                    None => vec![search::Part::All],
                };
                let mut messages = Vec::new();
                for part in parts {
                    let wanted = limit + 1 - messages.len() as u32;
                    if wanted == 0 {
                        break;
                    }
                    let st = search::messages(DIALECT, query, who, before, part, wanted);
                    let rows = bound(&st).fetch_all(&mut *conn).await.map_err(backend)?;
                    for row in &rows {
                        messages.push(message_from_row(row)?);
                    }
                }
                let more = messages.len() > limit as usize;
                messages.truncate(limit as usize);
                let next = more.then(|| messages.last().map(|m| m.id)).flatten();
                // Each conversation read once, however many of its messages were found.
                let mut metas: std::collections::HashMap<ConversationId, ConversationMeta> = std::collections::HashMap::new();
                let mut found = super::Found { conversations: Vec::new(), messages: Vec::with_capacity(messages.len()), next };
                for message in messages {
                    let meta = match metas.get(&message.conversation) {
                        Some(meta) => meta.clone(),
                        None => {
                            let Some(meta) = load_meta(&mut conn, message.conversation).await? else { continue };
                            metas.insert(meta.id, meta.clone());
                            meta
                        }
                    };
                    found.messages.push((meta, message));
                }
                // Conversations by their customer or number: with the first page only.
                if before.is_none() {
                    let st = search::conversations(DIALECT, query, who);
                    let rows = bound(&st).fetch_all(&mut *conn).await.map_err(backend)?;
                    for row in rows {
                        let id: i64 = row.try_get("id").map_err(backend)?;
                        let external: Option<String> = row.try_get("external_id").map_err(backend)?;
                        let updated_at = uint(row.try_get("updated_at").map_err(backend)?);
                        if let Some(meta) = load_meta(&mut conn, ConversationId(uint(id))).await? {
                            found.conversations.push(super::FoundConversation { meta, external, updated_at });
                        }
                    }
                }
                Ok(found)
            }

            async fn agent_conversations(&self, agent: &AgentKey, all: bool, limit: u32) -> Result<Vec<ConversationMeta>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                // The agent's open conversations first, whatever the limit: the queue's capacity
                // rule counts them.
                let ids: Vec<(i64,)> = sqlx::query_as(&format!(
                    "SELECT c.id FROM conversations c WHERE {LISTED_FOR_AGENT} \
                     ORDER BY COALESCE(c.status = 'open' AND c.assignee_key = $1, FALSE) DESC, c.updated_at DESC, c.id DESC LIMIT $3",
                ))
                .bind(agent.as_str())
                .bind(all)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(backend)?;
                load_metas(&mut conn, ids).await
            }

            async fn last_activity(&self, id: ConversationId) -> Result<Option<u64>, StoreError> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT updated_at FROM conversations WHERE id = $1")
                    .bind(int(id.0))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(row.map(|(active,)| uint(active)))
            }

            async fn agent_conversations_after(
                &self,
                agent: &AgentKey,
                all: bool,
                before: Option<(u64, ConversationId)>,
                limit: u32,
            ) -> Result<Vec<(ConversationMeta, u64)>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                // The same conversations as at login, without the agent's open ones (a login
                // lists them first), by last activity after where the last page ended.
                let (active, id) = before.map_or((i64::MAX, i64::MAX), |(active, id)| (int(active), int(id.0)));
                let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
                    "SELECT c.id, c.updated_at FROM conversations c WHERE {LISTED_FOR_AGENT} \
                       AND NOT COALESCE(c.status = 'open' AND c.assignee_key = $1, FALSE) \
                       AND (c.updated_at < $3 OR (c.updated_at = $3 AND c.id < $4)) \
                     ORDER BY c.updated_at DESC, c.id DESC LIMIT $5",
                ))
                .bind(agent.as_str())
                .bind(all)
                .bind(active)
                .bind(id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .map_err(backend)?;
                load_active_metas(&mut conn, rows).await
            }

            async fn queued(&self) -> Result<Vec<ConversationMeta>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM conversations WHERE status = 'queued' ORDER BY queued_at, id")
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(backend)?;
                load_metas(&mut conn, ids).await
            }

            async fn set_state(&self, meta: &ConversationMeta, at: u64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                if update_state(&mut tx, meta, at).await? == 0 {
                    let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM conversations WHERE id = $1")
                        .bind(int(meta.id.0))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(backend)?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("conversation {}", meta.id.0)));
                    }
                }
                tx.commit().await.map_err(backend)?;
                self.confirm(())
            }

            async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationMeta>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(backend)?;
                load_meta(&mut conn, id).await
            }

            async fn set_canned(&self, reply: &CannedReply) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO canned_replies (shortcut, body) VALUES ($1, $2) ON CONFLICT (shortcut) DO UPDATE SET body = excluded.body")
                    .bind(&reply.shortcut)
                    .bind(&reply.text)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                self.confirm(())
            }

            async fn remove_canned(&self, shortcut: &str) -> Result<(), StoreError> {
                let done =
                    sqlx::query("DELETE FROM canned_replies WHERE shortcut = $1").bind(shortcut).execute(&self.pool).await.map_err(backend)?;
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
                    "INSERT INTO notes (conversation_id, author_key, author_name, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
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
                    "SELECT id, author_name, body, created_at FROM notes WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2",
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

            async fn save_customer(&self, meta: &ConversationMeta, now: u64) -> Result<(), StoreError> {
                let unsaved = meta.unsaved.as_ref().ok_or_else(|| invalid(format!("conversation {} is stored already", meta.id.0)))?;
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO customers (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(int(meta.customer.0))
                    .bind(meta.customer_name.as_str())
                    .bind(int(unsaved.since))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                // Stored already by a racing first write, or someone else under this id (which
                // reserve_ids never gives twice): then nothing of this one is stored.
                let (name, since): (String, i64) = sqlx::query_as("SELECT name, created_at FROM customers WHERE id = $1")
                    .bind(int(meta.customer.0))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend)?;
                if name != meta.customer_name.as_str() || uint(since) != unsaved.since {
                    return Err(invalid(format!("customer {} is stored as someone else", meta.customer.0)));
                }
                sqlx::query("INSERT INTO conversations (id, customer_id, created_at, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
                    .bind(int(meta.id.0))
                    .bind(int(meta.customer.0))
                    .bind(int(unsaved.since))
                    .bind(int(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                // As it stands, unless a racing first write stored a newer state.
                update_state(&mut tx, meta, now).await?;
                // What their browser said at login: their profile.
                if let Some(visit) = &unsaved.visit {
                    write_visit(&mut tx, meta.customer, visit, None, unsaved.since).await?;
                }
                // A session that ended (a logout) before anyone wrote is not stored.
                if let Some(token_hash) = &unsaved.token_hash {
                    sqlx::query("INSERT INTO sessions (token_hash, customer_id, created_at, last_used_at) VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING")
                        .bind(token_hash)
                        .bind(int(meta.customer.0))
                        .bind(int(unsaved.since))
                        .bind(int(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
                tx.commit().await.map_err(backend)?;
                self.confirm(())
            }

            async fn silent_anonymous(&self, cutoff: u64, after: CustomerId, limit: u32) -> Result<Vec<(CustomerId, ConversationId)>, StoreError> {
                let sql = format!(
                    "SELECT cu.id, c.id FROM customers cu JOIN conversations c ON c.customer_id = cu.id \
                     WHERE cu.id > $2 AND {} ORDER BY cu.id LIMIT $3",
                    super::sql::SILENT_ANONYMOUS
                );
                let rows: Vec<(i64, i64)> = sqlx::query_as(&sql)
                    .bind(int(cutoff))
                    .bind(int(after.0))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(rows.into_iter().map(|(cu, c)| (CustomerId(uint(cu)), ConversationId(uint(c)))).collect())
            }

            async fn delete_silent_anonymous(&self, customers: &[CustomerId], cutoff: u64) -> Result<u64, StoreError> {
                // Asked again, row by row, as it is deleted: a customer who came back (their
                // session renewed) or wrote since the list was made stays.
                let sql = format!("DELETE FROM customers AS cu WHERE cu.id = $2 AND {}", super::sql::SILENT_ANONYMOUS);
                let mut tx = self.begin_write().await?;
                let mut deleted = 0;
                for customer in customers {
                    let done = sqlx::query(&sql).bind(int(cutoff)).bind(int(customer.0)).execute(&mut *tx).await.map_err(backend)?;
                    deleted += done.rows_affected();
                }

                tx.commit().await.map_err(backend)?;
                self.confirm(deleted)
            }

            fn blobs(&self) -> std::sync::Arc<dyn super::Blobs> {
                self.blobs.clone()
            }

            async fn add_attachment(&self, record: &AttachmentRecord) -> Result<(), StoreError> {
                let (role, key) = author_columns(&record.uploader);
                let a = &record.attachment;
                let size = |s: Option<app::protocol::Size>| (s.map(|s| i64::from(s.width)), s.map(|s| i64::from(s.height)));
                let (width, height) = size(a.image);
                let (thumb_width, thumb_height) = size(a.thumb);
                let mut tx = self.begin_write().await?;
                let known: Option<(i64,)> = sqlx::query_as("SELECT id FROM conversations WHERE id = $1")
                    .bind(int(record.conversation.0))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                if known.is_none() {
                    return Err(StoreError::NotFound(format!("conversation {}", record.conversation.0)));
                }
                sqlx::query(
                    "INSERT INTO attachments (id, conversation_id, uploader_role, uploader_key, name, mime, size, width, height, \
                     thumb_width, thumb_height, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(a.id.as_str())
                .bind(int(record.conversation.0))
                .bind(role)
                .bind(&key)
                .bind(&a.name)
                .bind(&a.mime)
                .bind(int(a.size))
                .bind(width)
                .bind(height)
                .bind(thumb_width)
                .bind(thumb_height)
                .bind(int(record.ts))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                self.confirm(())
            }

            async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<AttachmentRecord>, StoreError> {
                let mut found = Vec::with_capacity(ids.len());
                for id in ids {
                    let row = sqlx::query(
                        "SELECT conversation_id, uploader_role, uploader_key, name, mime, size, width, height, thumb_width, thumb_height, \
                         created_at FROM attachments WHERE id = $1",
                    )
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                    let Some(row) = row else { continue };
                    let get = |column: &str| -> Result<Option<i64>, StoreError> { row.try_get(column).map_err(backend) };
                    let size = |w: Option<i64>, h: Option<i64>| match (w, h) {
                        (Some(w), Some(h)) => Some(app::protocol::Size { width: uint(w) as u32, height: uint(h) as u32 }),
                        _ => None,
                    };
                    let attachment = app::protocol::Attachment {
                        id: id.clone(),
                        name: row.try_get("name").map_err(backend)?,
                        mime: row.try_get("mime").map_err(backend)?,
                        size: uint(row.try_get("size").map_err(backend)?),
                        image: size(get("width")?, get("height")?),
                        thumb: size(get("thumb_width")?, get("thumb_height")?),
                    };
                    let role: String = row.try_get("uploader_role").map_err(backend)?;
                    found.push(AttachmentRecord {
                        attachment,
                        conversation: ConversationId(uint(row.try_get("conversation_id").map_err(backend)?)),
                        uploader: super::rows::identity(&role, row.try_get("uploader_key").map_err(backend)?)?,
                        ts: uint(row.try_get("created_at").map_err(backend)?),
                    });
                }
                Ok(found)
            }

            async fn unsent_attachments(&self, cutoff: u64, limit: u32) -> Result<Vec<AttachmentId>, StoreError> {
                let sql = format!("SELECT a.id FROM attachments a WHERE {} ORDER BY a.created_at LIMIT $2", super::sql::UNSENT);
                let rows: Vec<(String,)> = sqlx::query_as(&sql)
                    .bind(int(cutoff))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rows.into_iter().map(|(id,)| AttachmentId::parse(&id).map_err(|_| StoreError::Invalid(format!("attachment id {id:?}")))).collect()
            }

            async fn delete_unsent_attachments(&self, ids: &[AttachmentId], cutoff: u64) -> Result<Vec<AttachmentId>, StoreError> {
                // Asked again as each is deleted: one sent since the list was made stays.
                let sql = format!("DELETE FROM attachments AS a WHERE a.id = $2 AND {}", super::sql::UNSENT);
                let mut tx = self.begin_write().await?;
                let mut deleted = Vec::new();
                for id in ids {
                    let done = sqlx::query(&sql).bind(int(cutoff)).bind(id.as_str()).execute(&mut *tx).await.map_err(backend)?;
                    if done.rows_affected() > 0 {
                        deleted.push(id.clone());
                    }
                }
                tx.commit().await.map_err(backend)?;
                self.confirm(deleted)
            }

            async fn recent_turns(&self, since: u64, conversations: u32, per_conversation: u32, limit: u32) -> Result<Vec<crate::replies::Turn>, StoreError> {
                // By the index on conversations' last activity, then each one's newest
                // messages by the (conversation, seq) index: however long a conversation,
                // no more of it is read.
                // (The upper bound on seq, always true, makes PostgreSQL's planner look the
                // range up in the index rather than scan every message.)
                let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
                    "SELECT m.conversation_id, m.seq, m.author_role, m.created_at \
                     FROM (SELECT id, last_seq, updated_at FROM conversations \
                           WHERE updated_at >= $1 AND last_seq > 0 ORDER BY updated_at DESC, id DESC LIMIT $2) c \
                     JOIN messages m ON m.conversation_id = c.id \
                          AND m.seq > c.last_seq - $3 AND m.seq <= c.last_seq \
                     WHERE m.created_at >= $1 \
                     ORDER BY c.updated_at DESC, c.id DESC, m.seq LIMIT $4",
                )
                .bind(int(since))
                .bind(i64::from(conversations))
                .bind(i64::from(per_conversation))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                Ok(rows
                    .into_iter()
                    .map(|(conversation, seq, role, at)| crate::replies::Turn {
                        conversation: ConversationId(uint(conversation)),
                        seq: uint(seq),
                        by_agent: role == "agent",
                        at: uint(at),
                    })
                    .collect())
            }

            async fn messages_after(&self, id: ConversationId, after: u64, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
                let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
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
                let sql =
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3");
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
    };
}

pub(super) use sql_store;

/// The upload `a` was never sent: made before `$1`, and no message of its conversation
/// carries it (a message lists its files' ids in `attachments`, as the wire has them).
pub(super) const UNSENT: &str = "a.created_at < $1 \
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = a.conversation_id \
        AND m.attachments LIKE '%' || a.id || '%')";

/// The customer `cu` is an anonymous one who never wrote (see `Store::silent_anonymous`):
/// created before `$1`, no session used since, no host site's user id, and a conversation
/// that is new or resolved, with no message of theirs. Anything else (an open
/// conversation an agent greeted in, say) stays.
pub(super) const SILENT_ANONYMOUS: &str = "cu.created_at < $1 \
    AND NOT EXISTS (SELECT 1 FROM external_customers e WHERE e.customer_id = cu.id) \
    AND NOT EXISTS (SELECT 1 FROM customer_profiles p WHERE p.customer_id = cu.id AND p.note IS NOT NULL) \
    AND NOT EXISTS (SELECT 1 FROM ratings r JOIN conversations rc ON rc.id = r.conversation_id \
        WHERE rc.customer_id = cu.id) \
    AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.customer_id = cu.id AND s.last_used_at >= $1) \
    AND NOT EXISTS (SELECT 1 FROM attachments a JOIN conversations ac ON ac.id = a.conversation_id \
        WHERE ac.customer_id = cu.id) \
    AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = cu.id \
        AND (c.status IN ('queued', 'open') \
             OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author_role = 'customer')))";

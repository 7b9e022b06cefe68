//! What the SQL stores share: turning rows into the model and back, and the batched
//! append, whose plan (which messages are retries, how each conversation is numbered) is
//! the same whatever the database; each backend supplies its four statements
//! ([`BatchSql`]).

use std::collections::HashMap;

use sqlx::{ColumnIndex, Decode, Row, Type};

use super::StoreError;
use crate::model::{AgentKey, Appended, CustomerId, Identity, NewMessage, StoredMessage};
use app::protocol::{Attachment, ClientMsgId, ConversationId, MessageId, Status, UserName};

/// A failure of the database, with its error as the source; counted for the metrics
/// (every backend error is made here).
pub(super) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    crate::metrics::database_error();
    StoreError::Backend(Box::new(e))
}

/// A failure to store what an agent makes for the desk's integrations (a token, a webhook):
/// `NotFound` if their account is gone (removed meanwhile: the row would have gone with it),
/// otherwise a failure of the database.
pub(super) fn made_by(by: &UserName) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound(format!("the agent account {by}"))
        }
        e => backend(e),
    }
}

/// Stored data that is not what it should be.
pub(super) fn invalid(what: impl Into<String>) -> StoreError {
    StoreError::Invalid(what.into())
}

pub(super) fn now_ms() -> i64 {
    int(crate::clock::now_ms())
}

/// A stored name: checked when it was stored, by the rules of that day; rules added since
/// (NFKC, no invisible characters) do not make an existing customer unreadable.
pub(super) fn parse_name(raw: String) -> Result<UserName, StoreError> {
    if raw.trim().is_empty() {
        return Err(invalid("an empty stored name"));
    }
    Ok(UserName::stored(raw))
}

/// SQL integers are signed; our ids and times are not negative.
pub(super) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, author_role, author_key, author_name, to_name, body, client_id, created_at, attachments";

/// A row of [`MESSAGE_COLUMNS`] as the database gives it, whichever driver read it.
pub(super) struct MessageColumns {
    pub id: i64,
    pub conversation: i64,
    pub seq: i64,
    pub role: String,
    pub key: String,
    pub from: String,
    pub to: Option<String>,
    pub body: String,
    pub client_id: Option<String>,
    pub ts: i64,
    /// JSON: the message's files, when it has any.
    pub attachments: Option<String>,
}

impl MessageColumns {
    /// The message the row stores.
    pub(super) fn message(self) -> Result<StoredMessage, StoreError> {
        let author = identity(&self.role, self.key)?;
        Ok(StoredMessage {
            id: MessageId(uint(self.id)),
            conversation: ConversationId(uint(self.conversation)),
            seq: uint(self.seq),
            author,
            from: parse_name(self.from)?,
            to: self.to.map(parse_name).transpose()?,
            text: self.body,
            client_id: self
                .client_id
                .map(|c| {
                    ClientMsgId::parse(&c)
                        .map_err(|p| invalid(format!("stored client id {c:?}: {p}")))
                })
                .transpose()?,
            ts: uint(self.ts),
            attachments: attachments_from(self.attachments.as_deref())?,
        })
    }
}

/// Who an author (or uploader) column pair stands for (see [`author_columns`]).
pub(super) fn identity(role: &str, key: String) -> Result<Identity, StoreError> {
    Ok(match role {
        "customer" => Identity::Customer(CustomerId(
            key.parse().map_err(|e| invalid(format!("customer key {key:?}: {e}")))?,
        )),
        "agent" => Identity::Agent(AgentKey::from_stored(key)),
        other => return Err(invalid(format!("unknown author role {other:?}"))),
    })
}

/// The `attachments` column of a message: JSON, or nothing when it has no files.
pub(super) fn attachments_column(attachments: &[Attachment]) -> Option<String> {
    if attachments.is_empty() {
        return None;
    }
    // A list of plain structs of strings and numbers always serialises.
    serde_json::to_string(attachments).ok()
}

/// The files of a message's `attachments` column.
pub(super) fn attachments_from(column: Option<&str>) -> Result<Vec<Attachment>, StoreError> {
    match column {
        None | Some("") => Ok(vec![]),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| invalid(format!("stored attachments {json:?}: {e}"))),
    }
}

/// A message from a row of [`MESSAGE_COLUMNS`], in either database (through sqlx).
pub(super) fn message_from_row<'r, R>(row: &'r R) -> Result<StoredMessage, StoreError>
where
    R: Row,
    for<'n> &'n str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    MessageColumns {
        id: row.try_get("id").map_err(backend)?,
        conversation: row.try_get("conversation_id").map_err(backend)?,
        seq: row.try_get("seq").map_err(backend)?,
        role: row.try_get("author_role").map_err(backend)?,
        key: row.try_get("author_key").map_err(backend)?,
        from: row.try_get("author_name").map_err(backend)?,
        to: row.try_get("to_name").map_err(backend)?,
        body: row.try_get("body").map_err(backend)?,
        client_id: row.try_get("client_id").map_err(backend)?,
        ts: row.try_get("created_at").map_err(backend)?,
        attachments: row.try_get("attachments").map_err(backend)?,
    }
    .message()
}

pub(super) fn author_columns(author: &Identity) -> (&'static str, String) {
    match author {
        Identity::Customer(id) => ("customer", id.0.to_string()),
        Identity::Agent(key) => ("agent", key.as_str().to_owned()),
    }
}

/// The conversations an agent's console lists (`$1` the agent's key, `$2` whether they see
/// every one): assigned to them, waiting, or that they took part in; for an admin, any that
/// has messages. At login ([`super::Store::agent_conversations`]) and in the pages after.
pub(super) const LISTED_FOR_AGENT: &str = "(c.assignee_key = $1 OR c.status = 'queued' \
     OR c.id IN (SELECT conversation_id FROM conversation_agents WHERE agent_key = $1) \
     OR ($2 AND c.last_seq > 0))";

pub(super) fn status_text(status: Status) -> &'static str {
    match status {
        Status::New => "new",
        Status::Queued => "queued",
        Status::Open => "open",
        Status::Resolved => "resolved",
    }
}

pub(super) fn parse_status(text: &str) -> Result<Status, StoreError> {
    Ok(match text {
        "new" => Status::New,
        "queued" => Status::Queued,
        "open" => Status::Open,
        "resolved" => Status::Resolved,
        other => return Err(invalid(format!("unknown conversation status {other:?}"))),
    })
}

/// A new message's row, as inserted.
pub(super) struct MessageRow<'a> {
    pub conversation: i64,
    pub seq: i64,
    pub role: &'static str,
    pub key: String,
    pub message: &'a NewMessage,
}

/// The statements of a batched append, inside the caller's transaction.
pub(super) trait BatchSql {
    /// Messages stored before in `conversations` with one of `client_ids`.
    async fn earlier_copies(
        &mut self,
        conversations: &[i64],
        client_ids: &[&str],
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// Raises each conversation's `last_seq` by its count of new messages (and its
    /// `updated_at` to the newest time); returns `(id, last_seq)` of those that exist.
    async fn reserve(&mut self, counts: &[(i64, i64, i64)]) -> Result<Vec<(i64, i64)>, StoreError>;
    /// Inserts the rows; returns `(id, conversation, seq)` of each.
    async fn insert(&mut self, rows: &[MessageRow<'_>])
        -> Result<Vec<(i64, i64, i64)>, StoreError>;
    /// Records agents as taking part in conversations (`(conversation, agent key)`).
    async fn join(&mut self, pairs: &[(i64, &str)]) -> Result<(), StoreError>;
}

/// Stores a batch of messages with a handful of statements, whatever its size: earlier
/// copies of retried client ids in one query, the sequence numbers of each conversation
/// reserved in one update, the messages in one insert. Any failure fails the whole batch
/// (the caller then stores messages one by one).
pub(super) async fn append_batch(
    sql: &mut impl BatchSql,
    batch: &[NewMessage],
) -> Result<Vec<Appended>, StoreError> {
    type DedupeKey = (u64, &'static str, String, String);
    let dedupe_key = |m: &NewMessage| {
        m.client_id.as_ref().map(|c| {
            let (role, key) = author_columns(&m.author);
            (m.conversation.0, role, key, c.as_str().to_owned())
        })
    };
    // Copies stored before, by (conversation, author, client id).
    let mut stored: HashMap<DedupeKey, StoredMessage> = HashMap::new();
    let retried: Vec<&NewMessage> = batch.iter().filter(|m| m.client_id.is_some()).collect();
    if !retried.is_empty() {
        let conversations: Vec<i64> = retried.iter().map(|m| int(m.conversation.0)).collect();
        let client_ids: Vec<&str> =
            retried.iter().filter_map(|m| m.client_id.as_ref().map(|c| c.as_str())).collect();
        for message in sql.earlier_copies(&conversations, &client_ids).await? {
            let (role, key) = author_columns(&message.author);
            if let Some(c) = &message.client_id {
                stored.insert((message.conversation.0, role, key, c.as_str().to_owned()), message);
            }
        }
    }
    // What each message of the batch is: a copy of one stored before or earlier in this
    // batch, or new (numbered per conversation in batch order).
    enum Slot {
        Stored(StoredMessage),
        SameAs(usize),
        New,
    }
    let mut slots = Vec::with_capacity(batch.len());
    let mut first_in_batch: HashMap<DedupeKey, usize> = HashMap::new();
    // Per conversation: new messages, newest time.
    let mut per_conversation: HashMap<u64, (u64, u64)> = HashMap::new();
    for (i, m) in batch.iter().enumerate() {
        let key = dedupe_key(m);
        if let Some(earlier) = key.as_ref().and_then(|k| stored.get(k)) {
            slots.push(Slot::Stored(earlier.clone()));
            continue;
        }
        if let Some(&first) = key.as_ref().and_then(|k| first_in_batch.get(k)) {
            slots.push(Slot::SameAs(first));
            continue;
        }
        if let Some(k) = key {
            first_in_batch.insert(k, i);
        }
        let entry = per_conversation.entry(m.conversation.0).or_insert((0, 0));
        entry.0 += 1;
        entry.1 = entry.1.max(m.ts);
        slots.push(Slot::New);
    }
    // Reserve the sequence numbers.
    let mut next_seq: HashMap<u64, u64> = HashMap::new();
    if !per_conversation.is_empty() {
        let counts: Vec<(i64, i64, i64)> =
            per_conversation.iter().map(|(id, (n, ts))| (int(*id), int(*n), int(*ts))).collect();
        for (id, last) in sql.reserve(&counts).await? {
            let n = per_conversation.get(&uint(id)).map_or(0, |(n, _)| *n);
            next_seq.insert(uint(id), uint(last) + 1 - n);
        }
        if let Some(missing) = per_conversation.keys().find(|id| !next_seq.contains_key(id)) {
            return Err(StoreError::NotFound(format!("conversation {missing}")));
        }
    }
    // Number the new messages and insert them together.
    let mut seqs = vec![0u64; batch.len()];
    let mut rows = Vec::new();
    let mut joins = Vec::new();
    for (i, m) in batch.iter().enumerate() {
        if !matches!(slots[i], Slot::New) {
            continue;
        }
        let next =
            next_seq.get_mut(&m.conversation.0).ok_or_else(|| invalid("sequence not reserved"))?;
        seqs[i] = *next;
        *next += 1;
        let (role, key) = author_columns(&m.author);
        rows.push(MessageRow {
            conversation: int(m.conversation.0),
            seq: int(seqs[i]),
            role,
            key,
            message: m,
        });
        if let Some(agent) = &m.joins {
            joins.push((int(m.conversation.0), agent.as_str()));
        }
    }
    let mut ids: HashMap<(u64, u64), u64> = HashMap::new();
    if !rows.is_empty() {
        for (id, conversation, seq) in sql.insert(&rows).await? {
            ids.insert((uint(conversation), uint(seq)), uint(id));
        }
    }
    if !joins.is_empty() {
        sql.join(&joins).await?;
    }
    let mut results: Vec<Appended> = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        let appended = match &slots[i] {
            Slot::Stored(message) => Appended { message: message.clone(), duplicate: true },
            Slot::SameAs(first) => {
                Appended { message: results[*first].message.clone(), duplicate: true }
            }
            Slot::New => {
                let id = ids
                    .get(&(m.conversation.0, seqs[i]))
                    .copied()
                    .ok_or_else(|| invalid("an inserted message has no id"))?;
                Appended { message: m.stored(MessageId(id), seqs[i]), duplicate: false }
            }
        };
        results.push(appended);
    }
    Ok(results)
}

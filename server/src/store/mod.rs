//! Everything that outlives the process.
//!
//! Owns: the [`Store`] trait the rest of the server talks to, and its implementations:
//! SQLite (the embedded default, a file under `./data/`) and PostgreSQL (several server
//! nodes on one database), chosen by the scheme of the database URL ([`open`]).
//! Must not: leak `sqlx` types or errors ([`StoreError`] is all callers see), or decide
//! domain rules (the hub does).

mod blobs;
mod postgres;
mod profiles;
mod ratings;
mod reports;
mod rows;
mod search;
mod sql;
mod sqlite;
mod sqlite_indexer;
mod sqlite_writer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tokens;
mod webhooks;

pub use blobs::{Blobs, DirBlobs, MemoryBlobs, PgBlobs};
pub use postgres::PgStore;
pub use profiles::ProfileRecord;
pub use reports::ReportRows;
pub use sqlite::SqliteStore;
pub use webhooks::{Attempt, Due};

/// A database URL as it may be shown (in errors, logs): without its password.
pub fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) if rest.contains('@') => {
            let (user_info, host) = rest.rsplit_once('@').unwrap_or(("", rest));
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        _ => url.to_owned(),
    }
}

/// How the embedded SQLite database is opened (PostgreSQL has its own settings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Refuse writes that would grow the database past this many bytes (as a full disk
    /// would: SQLite's "database or disk is full"). None: no cap.
    pub max_bytes: Option<u64>,
    /// What a commit waits for before anyone is told it happened.
    pub sync: SqliteSync,
}

/// SQLite's `synchronous` setting, as `SQLITE_SYNC` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    /// Every commit is on the disk (fsync) before it is acknowledged: an acknowledged
    /// message survives `kill -9`, an OS crash and power loss.
    #[default]
    Full,
    /// Commits are written to the file but not fsynced (WAL, `synchronous = NORMAL`): an
    /// acknowledged message survives `kill -9`, not an OS crash or power loss, which may
    /// undo the last moments' messages (the database itself stays intact). Opt-in.
    Normal,
}

impl SqliteSync {
    /// Its value of SQLite's `PRAGMA synchronous` (set, and read back).
    pub(crate) fn level(self) -> i64 {
        match self {
            Self::Full => 2,
            Self::Normal => 1,
        }
    }
}

/// Opens the store a database URL names: `postgres://…` (or `postgresql://…`) for
/// PostgreSQL, anything else for SQLite (with `sqlite`, see [`SqliteOptions`]).
pub async fn open(
    url: &str,
    sqlite: SqliteOptions,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PgStore::open(url).await?))
    } else {
        Ok(std::sync::Arc::new(SqliteStore::open_with(url, sqlite).await?))
    }
}

use app::protocol::{
    AgentInfo, AttachmentId, CannedReply, ConversationId, MessageText, Note, UserName,
};

use crate::model::{
    AgentKey, Appended, AttachmentRecord, ConversationMeta, CustomerId, NewMessage, StoredMessage,
};

/// A storage failure, without the backend's types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} does not exist")]
    NotFound(String),
    /// The database (or its file) failed: the backend's error, kept as the source.
    #[error("storage backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// What is stored is not what it should be (a stored value that does not read as the
    /// model, a row that should be there and is not).
    #[error("stored data: {0}")]
    Invalid(String),
}

/// What went with an agent account ([`Store::remove_agent`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemovedAgent {
    /// The REST API tokens it made.
    pub tokens: u64,
    /// The webhooks it registered.
    pub webhooks: u64,
}

/// One agent account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    pub name: UserName,
    /// argon2id PHC string; never leaves the server.
    pub password_hash: String,
    /// Sees every conversation and manages the team.
    pub admin: bool,
}

/// Who a valid session token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOwner {
    Customer { id: CustomerId, name: UserName, conversation: ConversationMeta },
    Agent(AgentRecord),
}

/// How long a session may go unused, by whose it is: an agent's lapses long before a
/// customer's, and a lapsed one is never renewed, whoever presents it and however.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleLimits {
    pub customer_ms: u64,
    pub agent_ms: u64,
}

impl IdleLimits {
    /// The same limit for both kinds.
    pub const fn both(ms: u64) -> Self {
        Self { customer_ms: ms, agent_ms: ms }
    }
}

/// What a search found ([`Store::search`]), before the hub judges each conversation.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Conversations named by their customer or number, most recently active first.
    pub conversations: Vec<FoundConversation>,
    /// Messages that contain every word, newest first, each with its conversation.
    pub messages: Vec<(ConversationMeta, StoredMessage)>,
    /// More messages were found than the page holds: the next page is before this one.
    pub next: Option<app::protocol::MessageId>,
}

/// A conversation a search named by its customer or number.
#[derive(Debug, Clone)]
pub struct FoundConversation {
    pub meta: ConversationMeta,
    /// The host site's user id, when that is what matched.
    pub external: Option<String>,
    /// Its last activity (ms since the epoch).
    pub updated_at: u64,
}

/// A page of a conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<StoredMessage>,
    /// Older messages exist before the first one.
    pub more: bool,
}

/// A customer to create: the name they chose, the hash of their first session's token, and
/// the host site's user id when the site vouched for them.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub name: UserName,
    pub token_hash: String,
    pub external: Option<String>,
}

/// Persistent state. Implementations must be cheap to share (`Arc`) across tasks.
///
/// Session tokens arrive here already hashed: the store never sees one in clear.
/// Times are milliseconds since the Unix epoch, given by the caller.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds an agent account; a name that exists (case-insensitively) is `Duplicate`.
    async fn add_agent(
        &self,
        name: &UserName,
        password_hash: &str,
        admin: bool,
    ) -> Result<(), StoreError>;
    /// The agent account of that name (case-insensitively), if any.
    async fn agent(&self, name: &UserName) -> Result<Option<AgentRecord>, StoreError>;
    /// Every agent account, sorted by name.
    async fn agents(&self) -> Result<Vec<AgentInfo>, StoreError>;
    /// Removes an agent account with its sessions and the REST API tokens and webhooks it
    /// made (a colleague who leaves the team keeps no token they copied, and no webhook
    /// streaming the desk's events to an address they chose), in one transaction; an unknown
    /// name is `NotFound`.
    async fn remove_agent(&self, name: &UserName) -> Result<RemovedAgent, StoreError>;

    /// Creates customers, each with their conversation and first session, in one
    /// transaction (a login storm pays one commit, not one per customer), linked to their
    /// host site's user id if given (the first customer linked to an id stays its customer).
    /// A name that belongs to an agent account (case-insensitively) is refused: `None` in its
    /// place.
    async fn create_customers(
        &self,
        new: &[NewCustomer],
        now: u64,
    ) -> Result<Vec<Option<ConversationMeta>>, StoreError>;
    /// [`Store::create_customers`] for one customer; an agent's name is `Duplicate`.
    async fn create_customer(
        &self,
        name: &UserName,
        token_hash: &str,
        now: u64,
    ) -> Result<ConversationMeta, StoreError> {
        let new =
            NewCustomer { name: name.clone(), token_hash: token_hash.to_owned(), external: None };
        match self.create_customers(std::slice::from_ref(&new), now).await?.pop().flatten() {
            Some(meta) => Ok(meta),
            None => Err(StoreError::Duplicate(name.to_string())),
        }
    }
    /// Ids for `n` new customers and their conversations, never given before. Nothing is
    /// stored: an anonymous customer's rows wait for the first write
    /// ([`Store::save_customer`]).
    async fn reserve_ids(&self, n: usize) -> Result<Vec<(CustomerId, ConversationId)>, StoreError>;
    /// Stores a customer the hub knows but storage does not yet (`meta.unsaved`, with ids
    /// from [`Store::reserve_ids`]): the customer, their conversation as `meta` has it, and
    /// the session of the token they were given at login and what their browser said then
    /// (their profile), in one transaction. One already stored is left as it is (several
    /// first writes may race).
    async fn save_customer(&self, meta: &ConversationMeta, now: u64) -> Result<(), StoreError>;
    /// Anonymous customers (no host site vouched for them, no agent's note on them, no
    /// rating of theirs) who never wrote, created before
    /// `cutoff`, with no session used since, whose conversation is new or resolved: with
    /// ids above `after`, smallest first, at most `limit`.
    async fn silent_anonymous(
        &self,
        cutoff: u64,
        after: CustomerId,
        limit: u32,
    ) -> Result<Vec<(CustomerId, ConversationId)>, StoreError>;
    /// Deletes each of `customers` that is still one [`Store::silent_anonymous`] would list,
    /// with their conversation, its messages and notes, their sessions and their profile;
    /// returns how many.
    async fn delete_silent_anonymous(
        &self,
        customers: &[CustomerId],
        cutoff: u64,
    ) -> Result<u64, StoreError>;
    /// Starts a session for an agent account.
    async fn create_agent_session(
        &self,
        agent: &AgentKey,
        token_hash: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// The owner of a session used within its kind's idle limit of `now` (which renews it);
    /// an older session is deleted and, like an unknown one, gives `None`.
    async fn resume(
        &self,
        token_hash: &str,
        now: u64,
        idle: IdleLimits,
    ) -> Result<Option<SessionOwner>, StoreError>;
    /// The customer a host site's user id stands for, once linked.
    async fn external_customer(&self, external_id: &str) -> Result<Option<CustomerId>, StoreError>;
    /// A new session for an existing customer (one the host site vouched for).
    async fn create_customer_session(
        &self,
        customer: CustomerId,
        token_hash: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Ends a session (logout); says whether there was one (unknown tokens are ignored).
    async fn revoke(&self, token_hash: &str) -> Result<bool, StoreError>;

    /// The conversations an agent sees at login: their open ones first, then the ones
    /// assigned to them, waiting in the queue or that they took part in (`all`: any, for
    /// admins), most recently active first; at most `limit`.
    async fn agent_conversations(
        &self,
        agent: &AgentKey,
        all: bool,
        limit: u32,
    ) -> Result<Vec<ConversationMeta>, StoreError>;
    /// The conversations an agent's console lists after those sent at login (see
    /// [`Store::agent_conversations`]): most recently active first, after `before` (last
    /// activity and id: where the previous page ended), at most `limit`; each with its last
    /// activity. Never their open ones (a login lists them first).
    async fn agent_conversations_after(
        &self,
        agent: &AgentKey,
        all: bool,
        before: Option<(u64, ConversationId)>,
        limit: u32,
    ) -> Result<Vec<(ConversationMeta, u64)>, StoreError>;
    /// A conversation's last activity (ms since the epoch), if it exists.
    async fn last_activity(&self, id: ConversationId) -> Result<Option<u64>, StoreError>;
    /// Searches the conversations `agent` sees (`admin`: every one): the messages that
    /// contain every word of `query`, newest first, with ids below `before`, at most
    /// `limit`; and on the first page (`before` is `None`) the conversations `query` names by
    /// their customer's name, the host site's user id or number.
    async fn search(
        &self,
        query: &app::protocol::SearchQuery,
        agent: &AgentKey,
        admin: bool,
        before: Option<app::protocol::MessageId>,
        limit: u32,
    ) -> Result<Found, StoreError>;
    /// Puts every message stored so far in the search index now, where it is kept behind
    /// the messages (SQLite's, by a background indexer: see `sqlite_indexer`); searches are
    /// complete either way. For tests and benchmarks of the index itself.
    async fn index_now(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records what a customer's browser said at a login (and what the host site signed
    /// about them): what was said replaces what was stored, what was not stays; but an
    /// e-mail address replaces none (the one the customer gave first, or an agent's
    /// correction, stays). Writes nothing when it all was stored already. For stored
    /// customers (a new anonymous one's is stored with them: [`Store::save_customer`]).
    async fn record_visit(
        &self,
        customer: CustomerId,
        visit: &app::protocol::VisitFacts,
        attributes: Option<&std::collections::BTreeMap<String, String>>,
        now: u64,
    ) -> Result<(), StoreError>;
    /// What is kept of a customer besides their name (empty for one nobody said anything of).
    async fn profile(&self, customer: CustomerId) -> Result<ProfileRecord, StoreError>;
    /// An agent (`by`) changes a customer's e-mail address or the note on them.
    async fn change_profile(
        &self,
        customer: CustomerId,
        change: &app::protocol::ProfileChange,
        by: &UserName,
        now: u64,
    ) -> Result<(), StoreError>;
    /// The conversations of other customers with the same e-mail address (compared
    /// case-insensitively), most recently active first, at most `limit`, each with its last
    /// activity.
    async fn same_email(
        &self,
        customer: CustomerId,
        email: &app::protocol::Email,
        limit: u32,
    ) -> Result<Vec<(ConversationMeta, u64)>, StoreError>;
    /// Stores a customer's rating of a resolution of their conversation; one rated already
    /// is `Duplicate`.
    async fn add_rating(&self, rating: &app::protocol::Rating) -> Result<(), StoreError>;
    /// The newest `limit` ratings of a conversation, oldest first.
    async fn ratings(
        &self,
        id: ConversationId,
        limit: u32,
    ) -> Result<Vec<app::protocol::Rating>, StoreError>;
    /// The figures of a report on `[from_ms, to_ms)`, by days of a reader `offset_ms` east
    /// of UTC (see [`reports`]).
    async fn report(
        &self,
        from_ms: u64,
        to_ms: u64,
        offset_ms: i64,
    ) -> Result<ReportRows, StoreError>;
    /// Registers a webhook (`events`: its column, see [`crate::webhooks::events_column`]).
    async fn add_webhook(
        &self,
        url: &str,
        events: &str,
        secret: &str,
        by: &UserName,
        now: u64,
    ) -> Result<app::protocol::WebhookInfo, StoreError>;
    /// Every webhook, oldest first, each with its latest `shown` deliveries, newest first.
    async fn webhooks(&self, shown: u32) -> Result<Vec<app::protocol::WebhookInfo>, StoreError>;
    /// Removes a webhook and its deliveries (`NotFound` if there is none of that id).
    async fn remove_webhook(&self, id: u64) -> Result<(), StoreError>;
    /// Claims, until `until`, at most `limit` deliveries due at `now`, the longest due first,
    /// and at most `per_webhook` for a webhook with `busy[webhook]` under way already (one
    /// another node claimed meanwhile is left to it).
    async fn due_deliveries(
        &self,
        now: u64,
        until: u64,
        limit: u32,
        busy: &std::collections::HashMap<u64, usize>,
        per_webhook: usize,
    ) -> Result<Vec<Due>, StoreError>;
    /// Writes what came of an attempt at a delivery, if it is still claimed as it was.
    async fn attempted(&self, due: &Due, attempt: &Attempt) -> Result<(), StoreError>;
    /// Forgets the deliveries done (delivered or given up) of events before `before`.
    async fn prune_deliveries(&self, before: u64) -> Result<u64, StoreError>;
    /// Keeps a new REST API token (`hash`: the SHA-256 of its secret) that `by` made.
    async fn add_api_token(
        &self,
        name: &str,
        hash: &str,
        write: bool,
        by: &UserName,
        now: u64,
    ) -> Result<app::protocol::ApiTokenInfo, StoreError>;
    /// Every REST API token, oldest first.
    async fn api_tokens(&self) -> Result<Vec<app::protocol::ApiTokenInfo>, StoreError>;
    /// Revokes a REST API token (`NotFound` if there is none of that id).
    async fn revoke_api_token(&self, id: u64) -> Result<(), StoreError>;
    /// The REST API token whose secret hashes to `hash`, if it exists; its last use is now.
    async fn use_api_token(
        &self,
        hash: &str,
        now: u64,
    ) -> Result<Option<app::protocol::ApiTokenInfo>, StoreError>;
    /// The desk's settings (their defaults until an admin changes them).
    async fn desk_settings(&self) -> Result<app::protocol::DeskSettings, StoreError>;
    /// Keeps the desk's settings.
    async fn set_desk_settings(
        &self,
        settings: app::protocol::DeskSettings,
    ) -> Result<(), StoreError>;
    /// Every conversation waiting for an agent, oldest in the queue first.
    async fn queued(&self) -> Result<Vec<ConversationMeta>, StoreError>;
    /// Records where a conversation stands: status, assignee, queue time, note — unless
    /// a newer version is stored already (changes may arrive out of order); an unknown
    /// conversation is `NotFound`. A change of status or assignee is kept as an event made
    /// at `at` (ms since the epoch), which the reports measure times with.
    async fn set_state(&self, meta: &ConversationMeta, at: u64) -> Result<(), StoreError>;
    /// One conversation's metadata.
    async fn conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationMeta>, StoreError>;

    /// Stores messages in one transaction, each with the next sequence number of its
    /// conversation; a message whose sender already sent its client id is not stored
    /// again (`duplicate`). One message failing does not fail the others; the whole
    /// batch fails only if the transaction cannot commit.
    async fn append(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError>;
    /// Adds or replaces a canned reply.
    async fn set_canned(&self, reply: &CannedReply) -> Result<(), StoreError>;
    /// Removes a canned reply; an unknown shortcut is `NotFound`.
    async fn remove_canned(&self, shortcut: &str) -> Result<(), StoreError>;
    /// Every canned reply, by shortcut.
    async fn canned(&self) -> Result<Vec<CannedReply>, StoreError>;
    /// Stores an internal note.
    async fn add_note(
        &self,
        id: ConversationId,
        author: &AgentKey,
        name: &UserName,
        text: &MessageText,
        ts: u64,
    ) -> Result<Note, StoreError>;
    /// The newest `limit` notes of a conversation, oldest first.
    async fn notes(&self, id: ConversationId, limit: u32) -> Result<Vec<Note>, StoreError>;
    /// The messages after sequence number `after`, oldest first, at most `limit`.
    async fn messages_after(
        &self,
        id: ConversationId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// The `limit` messages just before sequence number `before` (all of the newest when
    /// `before` is `None`), oldest first.
    async fn messages_before(
        &self,
        id: ConversationId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, StoreError>;

    /// Where uploaded files' bytes are kept: a directory beside the SQLite file, or the
    /// PostgreSQL database.
    fn blobs(&self) -> std::sync::Arc<dyn Blobs>;
    /// Records an uploaded file, whose bytes are in [`Store::blobs`] already (its
    /// conversation must be stored: an unknown one is `NotFound`).
    async fn add_attachment(&self, record: &AttachmentRecord) -> Result<(), StoreError>;
    /// The uploaded files of these ids (those that exist, in no particular order).
    async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<AttachmentRecord>, StoreError>;
    /// Up to `limit` files uploaded before `cutoff` that no message carries (uploaded and
    /// never sent), oldest first.
    async fn unsent_attachments(
        &self,
        cutoff: u64,
        limit: u32,
    ) -> Result<Vec<AttachmentId>, StoreError>;
    /// Deletes the record of each of `ids` that [`Store::unsent_attachments`] would still
    /// list; returns those deleted (their bytes in [`Store::blobs`] are the caller's to delete).
    async fn delete_unsent_attachments(
        &self,
        ids: &[AttachmentId],
        cutoff: u64,
    ) -> Result<Vec<AttachmentId>, StoreError>;

    /// Who wrote each message since `since`, and when, in the `conversations` most
    /// recently active ones that have messages (the newest `per_conversation` messages of
    /// each): each conversation's in order, the most recently active first, at most `limit`
    /// in all (for [`crate::replies`]).
    async fn recent_turns(
        &self,
        since: u64,
        conversations: u32,
        per_conversation: u32,
        limit: u32,
    ) -> Result<Vec<crate::replies::Turn>, StoreError>;
}

/// The lookup key of a name: the same case-folding the hub uses.
pub(crate) fn name_key(name: &UserName) -> String {
    crate::model::name_key(name.as_str())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod url_tests {
    #[test]
    fn a_shown_url_has_no_password() {
        assert_eq!(
            super::shown("postgres://chat:s3cret@db.example:5432/chat"),
            "postgres://chat@db.example:5432/chat"
        );
        assert_eq!(
            super::shown("postgres://chat@127.0.0.1/chat"),
            "postgres://chat@127.0.0.1/chat"
        );
        assert_eq!(super::shown("sqlite://data/chat.db"), "sqlite://data/chat.db");
    }
}

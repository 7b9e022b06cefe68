//! The domain's nouns, shared by the hub (which decides with them) and the store (which
//! keeps them).
//!
//! Owns: identities (who a participant is, beyond one connection), conversation metadata
//! and the message records that go into and come out of storage.
//! Must not: do anything; these are plain data.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use app::protocol::{
    with_links, Attachment, ChatMessage, ClientMsgId, ConversationId, ConversationSummary,
    MessageId, MessageText, Role, Status, UserName,
};

/// A customer's stored identity; it outlives connections and restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CustomerId(pub u64);

/// A name as names are compared (see [`name_key`]): the hub keys its lists of who is
/// online by it, so that they come out sorted and "Ann" cannot log in beside "ann".
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NameKey(String);

impl NameKey {
    /// The key of a valid name.
    pub fn of(name: &UserName) -> Self {
        Self::of_str(name.as_str())
    }

    /// The key of text that may not be a valid name, e.g. a recipient as a client typed it.
    pub fn of_str(text: &str) -> Self {
        Self(name_key(text))
    }

    /// Whether the text held no name at all (nothing, or only spaces).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The case-folded name of an agent account: how agents are keyed everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentKey(String);

impl AgentKey {
    /// The key of the agent account called `name`.
    pub fn of(name: &UserName) -> Self {
        Self::from_key(NameKey::of(name))
    }

    /// The key of the agent account whose name has the key `key`.
    pub fn from_key(key: NameKey) -> Self {
        Self(key.0)
    }

    /// The key a bot writes under (a message sent through the REST API as a named bot, with
    /// token `token`): ` bot`, the token's id and the name's key. No account's key begins
    /// with a space (names are trimmed), so a bot never writes as an agent, nor an agent as a
    /// bot; and two programs' bots of one name do not share their messages' client ids.
    pub fn bot(token: u64, name: &UserName) -> Self {
        Self(format!(" bot {token} {}", NameKey::of(name).0))
    }

    /// Who acts with REST API token `id` (reads, resolves, transfers): a key no account has,
    /// like a bot's.
    pub fn token(id: u64) -> Self {
        Self(format!(" token {id}"))
    }

    /// Whether this is an agent account's key (not a bot's nor a token's).
    pub fn is_account(&self) -> bool {
        !self.0.starts_with(' ')
    }

    /// A key read back from storage, which only ever stores keys made by [`AgentKey::of`]
    /// and [`AgentKey::bot`].
    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names compare case-insensitively: "Ann" and "ann" are the same person.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// What a name looks like: the Unicode TR39 skeleton of its lower case, lower-cased again
/// (the skeleton maps `0` to `O`, say). Names that look alike share one: `аmy` with a
/// Cyrillic `а`, `AMY`, `arny` and `amy`.
pub fn skeleton(name: &str) -> String {
    unicode_security::confusable_detection::skeleton(&name_key(name))
        .collect::<String>()
        .to_lowercase()
}

/// Who a logged-in participant is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Identity {
    Customer(CustomerId),
    Agent(AgentKey),
}

impl Identity {
    pub fn role(&self) -> Role {
        match self {
            Identity::Customer(_) => Role::Customer,
            Identity::Agent(_) => Role::Agent,
        }
    }
}

/// The agent a conversation is assigned to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    pub key: AgentKey,
    pub name: UserName,
}

/// What the hub needs to know of a conversation to route its messages and run the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationMeta {
    pub id: ConversationId,
    pub customer: CustomerId,
    pub customer_name: UserName,
    /// The agents who took part (wrote in it, or were written to): it is in their list.
    pub agents: BTreeSet<AgentKey>,
    pub status: Status,
    /// Who has it (while open), or had it (resolved: the first choice when it reopens).
    pub assignee: Option<Assignee>,
    /// When it entered the queue: the oldest waiting conversation is assigned first.
    pub queued_at: u64,
    /// The note of the last transfer, for the agent who received it.
    pub note: Option<String>,
    /// How far the support side has read the customer's messages.
    pub read_seq: u64,
    /// The newest message's sequence number: nobody has read beyond it.
    pub last_seq: u64,
    /// The sequence numbers of the customer's messages after `read_seq`, in order: the
    /// unread count, kept as messages arrive and reads move (never recounted).
    pub unread: Vec<u64>,
    /// Raised with every change of the above (see `Store::set_state`).
    pub version: u64,
    /// Nothing of this conversation, nor of its customer, is stored yet: an anonymous
    /// customer costs no row until someone writes (see [`Unsaved`]). Boxed: most
    /// conversations the hub holds are stored, and pay a pointer for this.
    #[serde(default)]
    pub unsaved: Option<Box<Unsaved>>,
}

/// What storage will need of a new anonymous customer once they (or an agent) write: the
/// rows are created then ([`Store::save_customer`](crate::store::Store::save_customer)),
/// and their session token, handed out at login, becomes resumable from storage. Until
/// then the hub resumes it ([`Hub::unsaved_login`](crate::hub::Hub::unsaved_login)).
///
/// Holds the hash of the token, never the token: like every hub state it travels through
/// a cluster's stream and snapshots (which carry the messages themselves as well).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsaved {
    /// `None` once that session ended (a logout): the customer is then stored without it.
    pub token_hash: Option<String>,
    /// When they logged in.
    pub since: u64,
    /// What their browser said at that login (their e-mail address, page, language and
    /// time zone), stored with them as their profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<Box<app::protocol::VisitFacts>>,
}

impl ConversationMeta {
    /// A conversation nobody has written in yet.
    pub fn new(id: ConversationId, customer: CustomerId, customer_name: UserName) -> Self {
        Self {
            id,
            customer,
            customer_name,
            agents: BTreeSet::new(),
            status: Status::New,
            assignee: None,
            queued_at: 0,
            note: None,
            read_seq: 0,
            last_seq: 0,
            unread: Vec::new(),
            version: 0,
            unsaved: None,
        }
    }

    /// The conversation of a customer who just logged in, nothing of whom is stored yet
    /// (see [`Unsaved`]): `token_hash` is their session's, `since` when they came.
    pub fn new_unsaved(
        id: ConversationId,
        customer: CustomerId,
        customer_name: UserName,
        token_hash: String,
        since: u64,
    ) -> Self {
        let unsaved = Unsaved { token_hash: Some(token_hash), since, visit: None };
        Self { unsaved: Some(Box::new(unsaved)), ..Self::new(id, customer, customer_name) }
    }

    /// How an agent's console shows it.
    pub fn summary(&self) -> ConversationSummary {
        ConversationSummary {
            id: self.id,
            customer: self.customer_name.clone(),
            status: self.status,
            assignee: self.assignee.as_ref().map(|a| a.name.clone()),
            note: self.note.clone(),
            unread: self.unread.len() as u64,
        }
    }
}

/// A message the hub accepted, to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub author: Identity,
    pub from: UserName,
    pub to: Option<UserName>,
    /// An agent who takes part from now on (the author, or the agent a customer wrote to).
    pub joins: Option<AgentKey>,
    /// What the author wrote (empty only when there are files).
    pub text: MessageText,
    pub client_id: Option<ClientMsgId>,
    pub ts: u64,
    /// Files the author uploaded for this conversation.
    pub attachments: Vec<Attachment>,
}

impl NewMessage {
    /// The message as stored with `id` and `seq`.
    pub fn stored(&self, id: MessageId, seq: u64) -> StoredMessage {
        StoredMessage {
            id,
            conversation: self.conversation,
            seq,
            author: self.author.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            text: self.text.as_str().to_owned(),
            client_id: self.client_id.clone(),
            ts: self.ts,
            attachments: self.attachments.clone(),
        }
    }
}

/// A message as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub seq: u64,
    pub author: Identity,
    pub from: UserName,
    pub to: Option<UserName>,
    pub text: String,
    pub client_id: Option<ClientMsgId>,
    pub ts: u64,
    pub attachments: Vec<Attachment>,
}

impl StoredMessage {
    /// The wire form, as seen by `viewer`.
    pub fn to_wire(&self, customer: &UserName, viewer: &Identity) -> ChatMessage {
        ChatMessage {
            id: self.id,
            conversation: self.conversation,
            seq: self.seq,
            from: self.from.clone(),
            to: self.to.clone(),
            customer: customer.clone(),
            message: with_links(&self.text, &self.attachments),
            is_self: &self.author == viewer,
            ts: self.ts,
            client_id: self.client_id.clone(),
            attachments: self.attachments.clone(),
        }
    }
}

/// An uploaded file as stored: for whom it was uploaded, and by whom. Only its uploader
/// may send it, and only in that conversation; whoever sees the conversation may fetch it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub attachment: Attachment,
    pub conversation: ConversationId,
    pub uploader: Identity,
    pub ts: u64,
}

/// The result of storing one [`NewMessage`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    pub message: StoredMessage,
    /// The same sender had already sent this client id: nothing new was stored, and
    /// `message` is the one stored the first time.
    pub duplicate: bool,
}

#[cfg(test)]
mod skeleton_tests {
    use super::skeleton;

    #[test]
    fn names_that_look_alike_share_a_skeleton() {
        for lookalike in ["amy", "AMY", "\u{430}my", "arny", "Amy "] {
            assert_eq!(skeleton(lookalike), skeleton("amy"), "{lookalike}");
        }
        assert_eq!(skeleton("b0b"), skeleton("bob"), "a zero for an o");
        assert_eq!(skeleton("\u{1d41b}ob"), skeleton("bob"), "a mathematical bold b");
        assert_ne!(skeleton("ann"), skeleton("amy"));
        assert_ne!(skeleton("李"), skeleton("王"));
    }
}

//! The payloads of the support desk: messages, conversations, presence, the team, notes,
//! typing, receipts, canned replies and history.

use serde::{Deserialize, Serialize};

use super::*;

/// The `private_message` payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateMessage {
    /// The person written to. A customer may leave it empty to write to the support team;
    /// an agent may leave it empty when `conversation` is given.
    #[serde(default)]
    pub to: String,
    pub message: String,
    /// The sender's own id for this message: a retry with the same id is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientMsgId>,
    /// The conversation to write in (agents); a customer always writes in their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
    /// Files uploaded for this conversation by the sender (at most
    /// [`ATTACHMENTS_PER_MESSAGE`]); with at least one, `message` may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentId>,
}

/// The `message` payload: one copy to the sender (`self: true`), one to each other
/// participant of the conversation who is online.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub conversation: ConversationId,
    /// Position in the conversation: 1, 2, 3, … without gaps.
    pub seq: u64,
    pub from: UserName,
    /// The person addressed; absent when a customer wrote to the support team at large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<UserName>,
    /// The customer of the conversation.
    pub customer: UserName,
    pub message: String,
    /// True on the sender's own copy.
    #[serde(rename = "self")]
    pub is_self: bool,
    /// Milliseconds since the Unix epoch, set by the server when it stored the message.
    pub ts: u64,
    /// The sender's id for the message, on every copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientMsgId>,
    /// The files it carries; `message` then ends with a link to each ([`with_links`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl ChatMessage {
    /// What its author wrote, without the links to its files.
    pub fn text(&self) -> &str {
        without_links(&self.message, &self.attachments)
    }
}

/// Where a conversation stands on the desk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The customer has not written yet.
    #[default]
    New,
    /// Waiting for an agent.
    Queued,
    /// An agent has it.
    Open,
    /// Done; the customer writing again reopens it.
    Resolved,
}

/// A conversation as an agent's console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub customer: UserName,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserName>,
    /// The last transfer's note, for the agent who received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The customer's messages the support side has not read yet, as of this summary: an
    /// agent who then receives more of the customer's messages adds them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
}

/// Where a page of an agent's conversations ends: the last one's last activity and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationsCursor {
    pub active: u64,
    pub id: ConversationId,
}

/// The `conversations` payload from an agent: the next page of their conversations, after
/// `before` (from the last page's `next`), or without it the first page after those sent at
/// login ([`CONVERSATIONS_AT_LOGIN`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<ConversationsCursor>,
}

/// The `conversations_page` payload: a page of an agent's conversations, most recently
/// active first, and where the next one starts (none after the last).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationsPage {
    pub conversations: Vec<ConversationSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ConversationsCursor>,
}

/// Conversations an agent is sent at login (their open ones first, then by last activity);
/// the console asks for the others a page at a time.
pub const CONVERSATIONS_AT_LOGIN: u32 = 100;
/// Conversations in a page asked for.
pub const CONVERSATIONS_PAGE: u32 = 50;

/// The desk's office hours, as a customer is told at login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeStatus {
    pub open: bool,
    /// The hours as configured, e.g. `Mon-Fri 09:00-18:00; UTC+08:00`.
    pub hours: String,
}

/// A change to an agent's list of who is online: the `offline` names leave the list,
/// then the `online` ones join it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub online: Vec<UserName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offline: Vec<UserName>,
}

impl Presence {
    /// Applies this change to a list kept sorted as the server sorts it (by lower-cased name).
    pub fn apply_to(&self, users: &mut Vec<UserName>) {
        users.retain(|u| !self.offline.contains(u));
        for name in &self.online {
            if !users.contains(name) {
                let key = name.as_str().to_lowercase();
                let at = users.partition_point(|u| u.as_str().to_lowercase() < key);
                users.insert(at, name.clone());
            }
        }
    }

    /// One change that does what applying `changes` in order does: each name ends up
    /// where its last change put it.
    pub fn merged(changes: impl IntoIterator<Item = Presence>) -> Presence {
        let mut last: std::collections::HashMap<UserName, bool> = std::collections::HashMap::new();
        let mut order = Vec::new();
        for change in changes {
            let offline = change.offline.into_iter().map(|n| (n, false));
            for (name, online) in offline.chain(change.online.into_iter().map(|n| (n, true))) {
                if last.insert(name.clone(), online).is_none() {
                    order.push(name);
                }
            }
        }
        let (online, offline) = order.into_iter().partition(|n| last.get(n) == Some(&true));
        Presence { online, offline }
    }
}

/// An agent account, as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: UserName,
    #[serde(default)]
    pub admin: bool,
}

/// The `agent_add` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgent {
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

/// Names an agent account (`agent_remove`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRef {
    pub name: String,
}

/// Names a canned reply (`canned_remove`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedRef {
    pub shortcut: String,
}

/// What an agent says of themselves (`status`): at the desk, away, or busy. Away and busy
/// agents are given nothing new by the queue; customers see which they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// At the desk (away all the same while every tab of theirs is hidden a while).
    #[default]
    Online,
    Away,
    Busy,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 3] = [AgentStatus::Online, AgentStatus::Away, AgentStatus::Busy];

    /// Its name on the wire (`online`, `away`, `busy`).
    pub fn tag(self) -> &'static str {
        match self {
            AgentStatus::Online => "online",
            AgentStatus::Away => "away",
            AgentStatus::Busy => "busy",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.tag() == tag)
    }
}

/// The `status` payload from an agent's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    pub status: AgentStatus,
}

/// The `away` payload from an agent's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwayRequest {
    pub away: bool,
}

/// Names a conversation (`take`, `resolve`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRef {
    pub conversation: ConversationId,
}

/// The `transfer` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub conversation: ConversationId,
    /// The agent who takes over.
    pub to: String,
    #[serde(default)]
    pub note: String,
}

/// The `typing` payload from a client: an agent names the conversation; a customer types
/// in their own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
}

/// Someone on the other side of a conversation is typing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typing {
    pub conversation: ConversationId,
    pub from: UserName,
}

/// A reply an agent inserts by typing `/` and its shortcut.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CannedReply {
    pub shortcut: String,
    pub text: String,
}

impl CannedReply {
    /// A shortcut is 1–32 lower-case letters, digits, `-` or `_`.
    pub fn valid_shortcut(shortcut: &str) -> bool {
        (1..=32).contains(&shortcut.len())
            && shortcut
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    }
}

/// A read position in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadUpTo {
    pub conversation: ConversationId,
    pub seq: u64,
}

/// The `note` payload from an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRequest {
    pub conversation: ConversationId,
    pub text: String,
}

/// An internal note: agents only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: u64,
    pub conversation: ConversationId,
    pub from: UserName,
    pub text: String,
    pub ts: u64,
}

/// A page of one conversation, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub conversation: ConversationId,
    pub customer: UserName,
    pub messages: Vec<ChatMessage>,
    /// Older messages exist before the first one of this page.
    pub more: bool,
    /// For agents, with the page sent at login: the conversation's internal notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// For agents, with the page sent at login: the customer's ratings of the conversation
    /// (the newest [`RATINGS_SENT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<Rating>,
    /// For the customer: how far the support side has read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read: u64,
    /// Newer messages may exist after the last one of this page (it is full): a catch-up
    /// sends a few pages at most ([`CATCH_UP_PAGES`] of [`CATCH_UP_PAGE`]), and the client
    /// asks for the rest with `history {conversation, after}`, a page at a time, until a page
    /// says no more (it may come empty). A page asked for may repeat a message the client
    /// already received live: clients keep each `seq` once.
    #[serde(default, skip_serializing_if = "is_false")]
    pub newer: bool,
}

/// Messages in one page of a catch-up (everything after a client's cursor).
pub const CATCH_UP_PAGE: u32 = 200;
/// Pages of a catch-up sent at a login, per conversation; the client asks for the rest.
pub const CATCH_UP_PAGES: usize = 2;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Asks for a page of a conversation: the messages just before sequence number `before`
/// (older ones, [`HISTORY_PAGE`] at most), or just after `after` (the rest of a catch-up,
/// [`CATCH_UP_PAGE`] at most). One of the two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    pub conversation: ConversationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

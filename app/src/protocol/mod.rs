//! The wire contract between browsers (and tutorial-era JS clients) and the server.
//!
//! Owns: the Socket.IO event names, one serde type per payload, the validation rules for
//! names and message text, and the `ClientEvent` / `ServerEvent` enums. The server, the WASM
//! client, the tests and the benchmarks all use these; nothing else may spell an event name.
//! Must not: do I/O or know about sockets (see [`wire`] for the frame codec).
//!
//! Compatibility: the tutorial's events and payload shapes (`login` with a bare string,
//! `user_list` as an array of names, `private_message {to, message}`, `message {from, to,
//! message, self}`, `error` as a string) are kept exactly; new fields are only ever added.

pub mod wire;

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::text::{Problem, Refusal};

/// client → server: log in (a bare string, or a [`LoginRequest`]).
pub const LOGIN: &str = "login";
/// server → client: the login was accepted; carries [`LoginSuccess`].
pub const LOGIN_SUCCESS: &str = "login_success";
/// server → client: the login was refused; carries a human-readable string.
pub const LOGIN_ERROR: &str = "login_error";
/// server → client: the names this participant may write to, its own included.
pub const USER_LIST: &str = "user_list";
/// client → server: send a message; carries [`PrivateMessage`].
pub const PRIVATE_MESSAGE: &str = "private_message";
/// server → client: a message sent or received; carries [`ChatMessage`].
pub const MESSAGE: &str = "message";
/// server → client: something the client asked for failed; carries a human-readable string.
pub const ERROR: &str = "error";
/// client → server: a page of older messages ([`HistoryRequest`]);
/// server → client: a page of one conversation ([`History`]), after a login and on request.
pub const HISTORY: &str = "history";
/// client → server: end this session on purpose; its resume token stops working.
pub const LOGOUT: &str = "logout";
/// server → agent: where a conversation stands ([`ConversationSummary`]), whenever that changes.
pub const CONVERSATION: &str = "conversation";
/// agent → server: take a waiting conversation ([`ConversationRef`]).
pub const TAKE: &str = "take";
/// agent → server: mark a conversation resolved ([`ConversationRef`]).
pub const RESOLVE: &str = "resolve";
/// agent → server: hand a conversation to another agent, with a note ([`Transfer`]).
pub const TRANSFER: &str = "transfer";
/// client → server: this person is typing ([`TypingRequest`]); server → the other side of
/// the conversation: [`Typing`]. Clients send it at most every [`TYPING_EVERY_MS`].
pub const TYPING: &str = "typing";
/// How often a client says it is still typing, and how much more often the server passes on.
pub const TYPING_EVERY_MS: u64 = 2000;
/// agent → server: an internal note in a conversation ([`NoteRequest`]); server → agents:
/// [`Note`]. Customers never receive notes.
pub const NOTE: &str = "note";
/// agent → server: read up to a sequence number ([`ReadUpTo`]); server → customer: the
/// support side has read their messages up to it ([`ReadUpTo`]).
pub const READ: &str = "read";
/// server → agent, at login: the team's canned replies (a list of [`CannedReply`]).
pub const CANNED: &str = "canned";
/// How long a typing indicator stays without news.
pub const TYPING_SHOWN_MS: u64 = 4000;
/// client → server `{away}`: an agent whose tab has been hidden for [`AWAY_AFTER_MS`] is
/// away (the queue passes them by), and back when it shows again. server → everyone: the
/// names of the agents who are away, whenever that changes.
pub const AWAY: &str = "away";
/// How long an agent's tab stays hidden before they count as away, unless the server
/// says otherwise ([`LoginSuccess::away_after_ms`]).
pub const AWAY_AFTER_MS: u64 = 60_000;
/// server → agent: who came online or left since the last `user_list` or `presence`
/// ([`Presence`]). Agents see everyone: a full list per change would not scale.
pub const PRESENCE: &str = "presence";
/// Server → customer, after login when office hours are set: whether the desk is open.
pub const OFFICE: &str = "office";
/// server → admin: the agent accounts ([`AgentInfo`]), at login and after each change.
pub const AGENTS: &str = "agents";
/// admin → server: add an agent account ([`NewAgent`]).
pub const AGENT_ADD: &str = "agent_add";
/// admin → server: remove an agent account ([`AgentRef`]); they are logged out.
pub const AGENT_REMOVE: &str = "agent_remove";
/// admin → server: add or replace a canned reply ([`CannedReply`]).
pub const CANNED_SET: &str = "canned_set";
/// admin → server: remove a canned reply ([`CannedRef`]).
pub const CANNED_REMOVE: &str = "canned_remove";
/// HTTP: `POST` an [`AgentCredentials`] to log an agent in (the answer is an
/// [`AgentSession`] and the session cookie), `DELETE` to log out. Browsers log agents in
/// here, so that the session token lives in an `HttpOnly` cookie that scripts cannot read;
/// a Socket.IO `login` with `role: "agent"` and no password then uses the cookie the
/// handshake carried.
pub const SESSION_PATH: &str = "/session";
/// The page `widget.js` embeds in host sites' pages: the customer view, the one page any
/// site may frame. (The router's `path!` needs it spelled out as well.)
pub const WIDGET_PATH: &str = "/widget";
/// The agent session cookie (`HttpOnly; SameSite=Strict`).
pub const SESSION_COOKIE: &str = "chat_agent";

/// The value of the cookie `name` in a request's `Cookie` headers, if set and not empty.
#[cfg(feature = "ssr")]
pub fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}
/// Shortest accepted agent password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;

/// Longest accepted display name, in characters, after trimming.
pub const NAME_MAX_CHARS: usize = 32;
/// Longest accepted message, in characters, after trimming.
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Longest accepted client message id, in bytes.
pub const CLIENT_ID_MAX_LEN: usize = 64;
/// Messages in one page of history.
pub const HISTORY_PAGE: u32 = 50;

/// Who a participant is on the support desk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Someone asking for help. Sees only the support agents.
    #[default]
    Customer,
    /// Support staff. Sees everyone online; needs an account and its password.
    Agent,
}

/// A participant's display name: trimmed, 1–[`NAME_MAX_CHARS`] characters, no control
/// characters. Constructed only through [`UserName::parse`], so holding one proves it valid.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    /// Validates and normalises (trims) a name typed by a person.
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let name = trimmed_within(raw, NAME_MAX_CHARS, Problem::NameEmpty, Problem::NameTooLong)?;
        if name.chars().any(char::is_control) {
            return Err(Problem::NameControlChars);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        UserName::parse(&raw).map_err(|p| serde::de::Error::custom(p.to_string()))
    }
}

/// `raw` trimmed, if it has 1 to `max` characters.
fn trimmed_within(raw: &str, max: usize, empty: Problem, too_long: Problem) -> Result<&str, Problem> {
    let text = raw.trim();
    match text.chars().count() {
        0 => Err(empty),
        n if n > max => Err(too_long),
        _ => Ok(text),
    }
}

/// The text of a message: trimmed, 1–[`MESSAGE_MAX_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        trimmed_within(raw, MESSAGE_MAX_CHARS, Problem::MessageEmpty, Problem::MessageTooLong)
            .map(|text| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `login` payload. Tutorial clients send a bare name (a customer login); this client
/// sends the object form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LoginPayload {
    Bare(String),
    Full(LoginRequest),
}

/// The object form of `login`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The display name; may be left out when `resume` is given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The token of an earlier [`LoginSuccess`]: the same identity and conversations come
    /// back, without a password for agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// The last sequence number the client holds, per conversation: the server sends
    /// every message after it instead of the latest page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub since: Vec<Cursor>,
    /// A customer the host site vouches for (the widget's `data-user-id`): their id there,
    /// signed with the secret the site shares with this server. `name` is theirs too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<HostIdentity>,
}

/// A host site's user, as the site signed it: `sig` is the hex HMAC-SHA256, under the
/// widget secret, of `id`, a newline, and the name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentity {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// The longest user id a host site may give.
pub const HOST_ID_MAX_CHARS: usize = 128;

/// A position in one conversation: the client holds every message up to `seq`, and the
/// ones in `held` after it (received live across a gap, which the server then fills
/// without sending those again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub conversation: ConversationId,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<u64>,
}

impl Cursor {
    /// `held` lists at most [`CURSOR_HELD_MAX`] numbers after `seq`, ascending.
    pub fn is_valid(&self) -> bool {
        let mut last = self.seq;
        self.held.len() <= CURSOR_HELD_MAX && self.held.iter().all(|&s| std::mem::replace(&mut last, s) < s)
    }
}

/// Most sequence numbers one cursor may list in `held` (a client holding more after a gap
/// sends the first ones: the rest come again, and it keeps each message once).
pub const CURSOR_HELD_MAX: usize = 256;

/// A `login`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginIntent {
    /// Required unless `resume` is given.
    pub name: Option<UserName>,
    pub role: Role,
    pub password: Option<String>,
    pub resume: Option<String>,
    pub since: Vec<Cursor>,
    pub identity: Option<HostIdentity>,
}

impl LoginPayload {
    /// Normalises both forms. A login names someone or resumes a session, or both: the
    /// name is then used if the session has expired.
    pub fn into_intent(self) -> Result<LoginIntent, Problem> {
        let request = match self {
            LoginPayload::Bare(name) => LoginRequest { name, ..LoginRequest::default() },
            LoginPayload::Full(request) => request,
        };
        let resume = request.resume.filter(|t| !t.is_empty());
        let name = match (request.name.trim().is_empty(), &resume) {
            (true, Some(_)) => None,
            _ => Some(UserName::parse(&request.name)?),
        };
        if let Some(identity) = &request.identity {
            let id = identity.id.as_str();
            if id.is_empty() || id.chars().count() > HOST_ID_MAX_CHARS || id.chars().any(char::is_control) || name.is_none() {
                return Err(Problem::IdentityInvalid);
            }
        }
        if !request.since.iter().all(Cursor::is_valid) {
            return Err(Problem::Malformed(LOGIN.into()));
        }
        Ok(LoginIntent { name, role: request.role, password: request.password, resume, since: request.since, identity: request.identity })
    }
}

/// The `login_success` payload. Tutorial clients ignore it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSuccess {
    pub name: UserName,
    pub role: Role,
    /// Keep this to come back as the same person (`login` with `resume`): after a reload,
    /// or days later for a customer. Unguessable; it stops working at logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// A customer's conversation with the support team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationId>,
    /// An agent who sees every conversation and manages the team.
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin: bool,
    /// For agents: after how long a hidden tab counts as away (`away`), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_after_ms: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

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
}

/// Server-assigned message id, unique across the whole database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub u64);

/// One customer's conversation with the support team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(pub u64);

/// A message id chosen by the sending client (an idempotency key): 1–[`CLIENT_ID_MAX_LEN`]
/// bytes of ASCII letters, digits, `-`, `_`, `.` and `:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        if raw.is_empty() || raw.len() > CLIENT_ID_MAX_LEN || !raw.chars().all(ok_char) {
            return Err(Problem::BadClientId);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClientMsgId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        ClientMsgId::parse(&raw).map_err(|p| serde::de::Error::custom(p.to_string()))
    }
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

/// The body of `POST /session`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCredentials {
    pub name: String,
    pub password: String,
}

/// The answer to `POST /session`: who is logged in, or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AgentSession {
    LoggedIn { name: UserName, admin: bool },
    Refused {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
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
            && shortcut.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
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
    /// For the customer: how far the support side has read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Asks for the page of messages just before sequence number `before` in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    pub conversation: ConversationId,
    pub before: u64,
}

/// The reply to a `private_message` that was sent with a Socket.IO acknowledgement: sent
/// only once the message is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SendAck {
    Sent {
        ok: bool,
        id: MessageId,
        conversation: ConversationId,
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<ClientMsgId>,
    },
    Failed {
        ok: bool,
        error: String,
        /// What `error` says, for clients that word it in their reader's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
}

impl SendAck {
    /// The failed acknowledgement for `problem`.
    pub fn failed(problem: Problem) -> Self {
        SendAck::Failed { ok: false, error: problem.to_string(), problem: Some(problem) }
    }
}

/// Everything the server sends, with its event name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ServerEvent {
    LoginSuccess(LoginSuccess),
    LoginError(Refusal),
    UserList(Vec<UserName>),
    Message(ChatMessage),
    Error(Refusal),
    History(History),
    Conversation(ConversationSummary),
    Typing(Typing),
    Note(Note),
    Read(ReadUpTo),
    Canned(Vec<CannedReply>),
    Away(Vec<UserName>),
    Agents(Vec<AgentInfo>),
    Presence(Presence),
    Office(OfficeStatus),
}

impl ServerEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::LoginSuccess(_) => LOGIN_SUCCESS,
            ServerEvent::LoginError(_) => LOGIN_ERROR,
            ServerEvent::UserList(_) => USER_LIST,
            ServerEvent::Message(_) => MESSAGE,
            ServerEvent::Error(_) => ERROR,
            ServerEvent::History(_) => HISTORY,
            ServerEvent::Conversation(_) => CONVERSATION,
            ServerEvent::Typing(_) => TYPING,
            ServerEvent::Note(_) => NOTE,
            ServerEvent::Read(_) => READ,
            ServerEvent::Canned(_) => CANNED,
            ServerEvent::Away(_) => AWAY,
            ServerEvent::Agents(_) => AGENTS,
            ServerEvent::Presence(_) => PRESENCE,
            ServerEvent::Office(_) => OFFICE,
        }
    }

    /// Decodes an event received from the server (the inverse of `name` + serialising).
    pub fn decode(name: &str, data: serde_json::Value) -> Result<Self, wire::WireError> {
        fn de<T: serde::de::DeserializeOwned>(data: serde_json::Value) -> Result<T, wire::WireError> {
            serde_json::from_value(data).map_err(|e| wire::WireError::Payload(e.to_string()))
        }
        Ok(match name {
            LOGIN_SUCCESS => ServerEvent::LoginSuccess(de(data)?),
            LOGIN_ERROR => ServerEvent::LoginError(de(data)?),
            USER_LIST => ServerEvent::UserList(de(data)?),
            MESSAGE => ServerEvent::Message(de(data)?),
            ERROR => ServerEvent::Error(de(data)?),
            HISTORY => ServerEvent::History(de(data)?),
            CONVERSATION => ServerEvent::Conversation(de(data)?),
            TYPING => ServerEvent::Typing(de(data)?),
            NOTE => ServerEvent::Note(de(data)?),
            READ => ServerEvent::Read(de(data)?),
            CANNED => ServerEvent::Canned(de(data)?),
            AWAY => ServerEvent::Away(de(data)?),
            AGENTS => ServerEvent::Agents(de(data)?),
            PRESENCE => ServerEvent::Presence(de(data)?),
            OFFICE => ServerEvent::Office(de(data)?),
            other => return Err(wire::WireError::UnknownEvent(other.to_owned())),
        })
    }
}

/// Everything a client sends, with its event name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ClientEvent {
    Login(LoginPayload),
    PrivateMessage(PrivateMessage),
    History(HistoryRequest),
    /// Carries no data (serialised as `null`).
    Logout,
    Take(ConversationRef),
    Resolve(ConversationRef),
    Transfer(Transfer),
    Typing(TypingRequest),
    Note(NoteRequest),
    Read(ReadUpTo),
    Away(AwayRequest),
    AgentAdd(NewAgent),
    AgentRemove(AgentRef),
    CannedSet(CannedReply),
    CannedRemove(CannedRef),
}

impl ClientEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ClientEvent::Login(_) => LOGIN,
            ClientEvent::PrivateMessage(_) => PRIVATE_MESSAGE,
            ClientEvent::History(_) => HISTORY,
            ClientEvent::Logout => LOGOUT,
            ClientEvent::Take(_) => TAKE,
            ClientEvent::Resolve(_) => RESOLVE,
            ClientEvent::Transfer(_) => TRANSFER,
            ClientEvent::Typing(_) => TYPING,
            ClientEvent::Note(_) => NOTE,
            ClientEvent::Read(_) => READ,
            ClientEvent::Away(_) => AWAY,
            ClientEvent::AgentAdd(_) => AGENT_ADD,
            ClientEvent::AgentRemove(_) => AGENT_REMOVE,
            ClientEvent::CannedSet(_) => CANNED_SET,
            ClientEvent::CannedRemove(_) => CANNED_REMOVE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(UserName::parse("  ada ").unwrap().as_str(), "ada");
        assert_eq!(UserName::parse("   "), Err(Problem::NameEmpty));
        assert_eq!(UserName::parse(&"é".repeat(32)).unwrap().as_str().chars().count(), 32);
        assert_eq!(UserName::parse(&"é".repeat(33)), Err(Problem::NameTooLong));
        assert_eq!(UserName::parse("a\u{0}b"), Err(Problem::NameControlChars));
        assert_eq!(UserName::parse("a\nb"), Err(Problem::NameControlChars));
        assert_eq!(UserName::parse("李雷").unwrap().as_str(), "李雷");
    }

    #[test]
    fn message_text_is_trimmed_and_bounded() {
        assert_eq!(MessageText::parse(" hi \n").unwrap().as_str(), "hi");
        assert_eq!(MessageText::parse(" \n\t"), Err(Problem::MessageEmpty));
        assert!(MessageText::parse(&"x".repeat(4000)).is_ok());
        assert_eq!(MessageText::parse(&"x".repeat(4001)), Err(Problem::MessageTooLong));
    }

    #[test]
    fn login_accepts_the_tutorial_bare_string_and_the_object_form() {
        let intent = |v: serde_json::Value| serde_json::from_value::<LoginPayload>(v).map_err(|e| e.to_string())?.into_intent().map_err(|p| p.to_string());
        let bare = intent(json!("bob")).unwrap();
        assert_eq!((bare.name.unwrap().as_str(), bare.role, bare.password), ("bob", Role::Customer, None));

        let full = intent(json!({"name": "ann", "role": "agent", "password": "pw"})).unwrap();
        assert_eq!((full.name.unwrap().as_str(), full.role, full.password.as_deref()), ("ann", Role::Agent, Some("pw")));
        assert_eq!(intent(json!({"name": "cy"})).unwrap().role, Role::Customer);

        // A resume needs no name; a name given with it is still checked.
        let resume = intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9}]})).unwrap();
        assert_eq!((resume.name, resume.resume.as_deref()), (None, Some("tok")));
        assert_eq!(resume.since, vec![Cursor { conversation: ConversationId(3), seq: 9, held: vec![] }]);
        // What a client holds after a gap; nothing at or below the cursor, and not without end.
        let gap = intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": [11, 12]}]})).unwrap();
        assert_eq!(gap.since[0].held, vec![11, 12]);
        let malformed = Err(Problem::Malformed(LOGIN.into()).to_string());
        assert_eq!(intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": [9]}]})), malformed);
        assert_eq!(intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": [12, 11]}]})), malformed);
        let endless: Vec<u64> = (11..11 + CURSOR_HELD_MAX as u64 + 1).collect();
        assert_eq!(intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": endless}]})), malformed);
        assert_eq!(intent(json!({"resume": "tok", "name": "x".repeat(40)})), Err(Problem::NameTooLong.to_string()));

        assert!(intent(json!(42)).is_err());
        assert_eq!(intent(json!({"role": "agent"})), Err(Problem::NameEmpty.to_string()));
        assert_eq!(intent(json!({"resume": "", "name": ""})), Err(Problem::NameEmpty.to_string()));
        assert!(intent(json!({"name": "x", "role": "admin"})).is_err());
    }

    #[test]
    fn merged_presence_changes_do_what_the_changes_do_one_by_one() {
        let n = |s: &str| UserName::parse(s).unwrap();
        let on = |s: &str| Presence { online: vec![n(s)], offline: vec![] };
        let off = |s: &str| Presence { online: vec![], offline: vec![n(s)] };
        let start = vec![n("amy"), n("Bob"), n("cat")];
        let cases = [
            vec![on("dan"), on("eve"), off("Bob")],
            vec![off("amy"), on("amy")],
            vec![on("zed"), off("zed")],
            vec![on("ann"), off("ann"), on("ann"), on("ann")],
            vec![off("nobody"), on("Bob")],
            vec![],
        ];
        for changes in cases {
            let mut one_by_one = start.clone();
            for change in &changes {
                change.apply_to(&mut one_by_one);
            }
            let mut at_once = start.clone();
            Presence::merged(changes.clone()).apply_to(&mut at_once);
            assert_eq!(at_once, one_by_one, "{changes:?}");
        }
        assert_eq!(Presence::merged([on("a"), on("b"), off("c")]), Presence { online: vec![n("a"), n("b")], offline: vec![n("c")] });
    }

    #[test]
    fn client_ids_are_short_plain_ascii() {
        assert!(ClientMsgId::parse("c-1700000000000-abc_1.2:3").is_ok());
        assert_eq!(ClientMsgId::parse(""), Err(Problem::BadClientId));
        assert_eq!(ClientMsgId::parse(&"a".repeat(65)), Err(Problem::BadClientId));
        assert_eq!(ClientMsgId::parse("a b"), Err(Problem::BadClientId));
        assert_eq!(ClientMsgId::parse("é"), Err(Problem::BadClientId));
        let bad = serde_json::from_value::<PrivateMessage>(json!({"to": "a", "message": "m", "client_id": "no spaces"}));
        assert!(bad.is_err());
        let tutorial = serde_json::from_value::<PrivateMessage>(json!({"to": "a", "message": "m"})).unwrap();
        assert_eq!((tutorial.client_id, tutorial.conversation), (None, None));
    }

    #[test]
    fn message_payload_keeps_the_tutorial_field_names() {
        let m = ChatMessage {
            id: MessageId(7),
            conversation: ConversationId(2),
            seq: 5,
            from: UserName::parse("a").unwrap(),
            to: Some(UserName::parse("b").unwrap()),
            customer: UserName::parse("a").unwrap(),
            message: "hi".into(),
            is_self: true,
            ts: 1,
            client_id: None,
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"id": 7, "conversation": 2, "seq": 5, "from": "a", "to": "b", "customer": "a", "message": "hi", "self": true, "ts": 1})
        );
    }

    #[test]
    fn server_events_round_trip_through_name_and_payload() {
        let events = vec![
            ServerEvent::LoginSuccess(LoginSuccess {
                name: UserName::parse("a").unwrap(),
                role: Role::Agent,
                resume: Some("t".into()),
                conversation: None,
                admin: true,
                away_after_ms: Some(60_000),
            }),
            ServerEvent::Away(vec![UserName::parse("a").unwrap()]),
            ServerEvent::Agents(vec![AgentInfo { name: UserName::parse("a").unwrap(), admin: false }]),
            ServerEvent::Presence(Presence { online: vec![UserName::parse("b").unwrap()], offline: vec![] }),
            ServerEvent::LoginError("taken".into()),
            ServerEvent::UserList(vec![UserName::parse("a").unwrap(), UserName::parse("b").unwrap()]),
            ServerEvent::Error("nope".into()),
        ];
        for ev in events {
            let data = serde_json::to_value(&ev).unwrap();
            assert_eq!(ServerEvent::decode(ev.name(), data).unwrap(), ev);
        }
        assert_eq!(serde_json::to_value(ServerEvent::UserList(vec![])).unwrap(), json!([]));
        assert!(ServerEvent::decode("bogus", json!(1)).is_err());
    }
}

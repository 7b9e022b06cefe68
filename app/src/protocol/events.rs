//! The event names, and [`ServerEvent`] / [`ClientEvent`]: every event with its payload.

use serde::Serialize;

use super::*;

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
/// server → agent: a conversation this agent saw is no longer one they see (a waiting one a
/// colleague took); carries [`ConversationRef`] and nothing about where it went.
pub const CONVERSATION_GONE: &str = "conversation_gone";
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
/// agent → server [`StatusRequest`]: the agent says they are online, away or busy (for all
/// their tabs, until they say otherwise or log out; a `login` may carry it too). server →
/// the agent's tabs: the status they chose, whenever one of them changes it.
pub const STATUS: &str = "status";
/// server → everyone: the names of the agents who said they are busy, whenever that
/// changes (the away ones, chosen or not, come in `away`).
pub const BUSY: &str = "busy";
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

/// agent → server: the next page of the agent's conversations ([`ConversationsRequest`]).
pub const CONVERSATIONS: &str = "conversations";
/// server → agent: a page of their conversations ([`ConversationsPage`]).
pub const CONVERSATIONS_PAGE_EVENT: &str = "conversations_page";
/// agent → server: search the conversations the agent sees ([`SearchRequest`]).
pub const SEARCH: &str = "search";
/// server → agent: a page of what a search found ([`SearchResults`]).
pub const SEARCH_RESULTS: &str = "search_results";

/// agent → server: the profile of a conversation's customer ([`ConversationRef`]);
/// server → agent: it ([`CustomerProfile`]), as asked and after a change the agent made.
pub const PROFILE: &str = "profile";
/// agent → server: change the e-mail address of, or the note on, a conversation's
/// customer ([`ProfileUpdate`]); answered with the new `profile`.
pub const PROFILE_SET: &str = "profile_set";

/// server → customer: their conversation was resolved ([`ResolvedAt`]); at login too, while
/// that resolution is not rated.
pub const RESOLVED: &str = "resolved";
/// customer → server: rate a resolution of their conversation ([`RateRequest`]).
pub const RATE: &str = "rate";
/// server → the agents who see the conversation and its customer: a rating given
/// ([`Rating`]).
pub const RATING: &str = "rating";
/// server → customers and admins, at login and whenever it changes; admin → server: the
/// desk's settings ([`DeskSettings`]).
pub const DESK_SETTINGS: &str = "desk_settings";

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
    ConversationGone(ConversationRef),
    Typing(Typing),
    Note(Note),
    Read(ReadUpTo),
    Canned(Vec<CannedReply>),
    Away(Vec<UserName>),
    Busy(Vec<UserName>),
    Status(StatusRequest),
    Agents(Vec<AgentInfo>),
    Presence(Presence),
    Office(OfficeStatus),
    SearchResults(SearchResults),
    ConversationsPage(ConversationsPage),
    Profile(Box<CustomerProfile>),
    Resolved(ResolvedAt),
    Rating(Rating),
    DeskSettings(DeskSettings),
}

impl ServerEvent {
    /// The Socket.IO event name this event is sent under.
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::LoginSuccess(_) => LOGIN_SUCCESS,
            ServerEvent::LoginError(_) => LOGIN_ERROR,
            ServerEvent::UserList(_) => USER_LIST,
            ServerEvent::Message(_) => MESSAGE,
            ServerEvent::Error(_) => ERROR,
            ServerEvent::History(_) => HISTORY,
            ServerEvent::Conversation(_) => CONVERSATION,
            ServerEvent::ConversationGone(_) => CONVERSATION_GONE,
            ServerEvent::Typing(_) => TYPING,
            ServerEvent::Note(_) => NOTE,
            ServerEvent::Read(_) => READ,
            ServerEvent::Canned(_) => CANNED,
            ServerEvent::Away(_) => AWAY,
            ServerEvent::Busy(_) => BUSY,
            ServerEvent::Status(_) => STATUS,
            ServerEvent::Agents(_) => AGENTS,
            ServerEvent::Presence(_) => PRESENCE,
            ServerEvent::Office(_) => OFFICE,
            ServerEvent::SearchResults(_) => SEARCH_RESULTS,
            ServerEvent::ConversationsPage(_) => CONVERSATIONS_PAGE_EVENT,
            ServerEvent::Profile(_) => PROFILE,
            ServerEvent::Resolved(_) => RESOLVED,
            ServerEvent::Rating(_) => RATING,
            ServerEvent::DeskSettings(_) => DESK_SETTINGS,
        }
    }

    /// Whether only agents are ever sent this event ([`AGENTS_ONLY`]).
    pub fn agents_only(&self) -> bool {
        AGENTS_ONLY.contains(&self.name())
    }

    /// Decodes an event received from the server (the inverse of `name` + serialising).
    ///
    /// Without the feature `console` (the customers' bundle), the events only agents are
    /// sent ([`AGENTS_ONLY`]) are unknown events: their payloads' decoders would be code that
    /// customers download for nothing.
    pub fn decode(name: &str, data: serde_json::Value) -> Result<Self, wire::WireError> {
        Ok(match name {
            LOGIN_SUCCESS => ServerEvent::LoginSuccess(payload(data)?),
            LOGIN_ERROR => ServerEvent::LoginError(payload(data)?),
            USER_LIST => ServerEvent::UserList(payload(data)?),
            MESSAGE => ServerEvent::Message(payload(data)?),
            ERROR => ServerEvent::Error(payload(data)?),
            HISTORY => ServerEvent::History(payload(data)?),
            TYPING => ServerEvent::Typing(payload(data)?),
            READ => ServerEvent::Read(payload(data)?),
            AWAY => ServerEvent::Away(payload(data)?),
            BUSY => ServerEvent::Busy(payload(data)?),
            OFFICE => ServerEvent::Office(payload(data)?),
            RESOLVED => ServerEvent::Resolved(payload(data)?),
            RATING => ServerEvent::Rating(payload(data)?),
            DESK_SETTINGS => ServerEvent::DeskSettings(payload(data)?),
            #[cfg(feature = "console")]
            other => return Self::decode_agents(other, data),
            #[cfg(not(feature = "console"))]
            other => return Err(wire::WireError::UnknownEvent(other.to_owned())),
        })
    }

    /// Decodes one of the events only agents are sent ([`AGENTS_ONLY`]; the protocol's tests
    /// check that this decodes exactly those).
    #[cfg(feature = "console")]
    pub(crate) fn decode_agents(
        name: &str,
        data: serde_json::Value,
    ) -> Result<Self, wire::WireError> {
        Ok(match name {
            CONVERSATION => ServerEvent::Conversation(payload(data)?),
            CONVERSATION_GONE => ServerEvent::ConversationGone(payload(data)?),
            NOTE => ServerEvent::Note(payload(data)?),
            CANNED => ServerEvent::Canned(payload(data)?),
            STATUS => ServerEvent::Status(payload(data)?),
            AGENTS => ServerEvent::Agents(payload(data)?),
            PRESENCE => ServerEvent::Presence(payload(data)?),
            SEARCH_RESULTS => ServerEvent::SearchResults(payload(data)?),
            CONVERSATIONS_PAGE_EVENT => ServerEvent::ConversationsPage(payload(data)?),
            PROFILE => ServerEvent::Profile(payload(data)?),
            other => return Err(wire::WireError::UnknownEvent(other.to_owned())),
        })
    }
}

/// The events only agents are sent. The customers' bundle does not decode them
/// ([`ServerEvent::decode`]); the hub's tests check that no customer is sent one.
pub const AGENTS_ONLY: [&str; 10] = [
    CONVERSATION,
    CONVERSATION_GONE,
    NOTE,
    CANNED,
    STATUS,
    AGENTS,
    PRESENCE,
    SEARCH_RESULTS,
    CONVERSATIONS_PAGE_EVENT,
    PROFILE,
];

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
    Status(StatusRequest),
    AgentAdd(NewAgent),
    AgentRemove(AgentRef),
    CannedSet(CannedReply),
    CannedRemove(CannedRef),
    Search(SearchRequest),
    Conversations(ConversationsRequest),
    Profile(ConversationRef),
    ProfileSet(ProfileUpdate),
    Rate(RateRequest),
    DeskSettings(DeskSettings),
}

impl ClientEvent {
    /// The Socket.IO event name this event is sent under.
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
            ClientEvent::Status(_) => STATUS,
            ClientEvent::AgentAdd(_) => AGENT_ADD,
            ClientEvent::AgentRemove(_) => AGENT_REMOVE,
            ClientEvent::CannedSet(_) => CANNED_SET,
            ClientEvent::CannedRemove(_) => CANNED_REMOVE,
            ClientEvent::Search(_) => SEARCH,
            ClientEvent::Conversations(_) => CONVERSATIONS,
            ClientEvent::Profile(_) => PROFILE,
            ClientEvent::ProfileSet(_) => PROFILE_SET,
            ClientEvent::Rate(_) => RATE,
            ClientEvent::DeskSettings(_) => DESK_SETTINGS,
        }
    }

    /// Decodes an event received from a client (the inverse of `name` + serialising).
    pub fn decode(name: &str, data: serde_json::Value) -> Result<Self, wire::WireError> {
        Ok(match name {
            LOGIN => ClientEvent::Login(payload(data)?),
            PRIVATE_MESSAGE => ClientEvent::PrivateMessage(payload(data)?),
            HISTORY => ClientEvent::History(payload(data)?),
            LOGOUT => ClientEvent::Logout,
            TAKE => ClientEvent::Take(payload(data)?),
            RESOLVE => ClientEvent::Resolve(payload(data)?),
            TRANSFER => ClientEvent::Transfer(payload(data)?),
            TYPING => ClientEvent::Typing(payload(data)?),
            NOTE => ClientEvent::Note(payload(data)?),
            READ => ClientEvent::Read(payload(data)?),
            AWAY => ClientEvent::Away(payload(data)?),
            STATUS => ClientEvent::Status(payload(data)?),
            AGENT_ADD => ClientEvent::AgentAdd(payload(data)?),
            AGENT_REMOVE => ClientEvent::AgentRemove(payload(data)?),
            CANNED_SET => ClientEvent::CannedSet(payload(data)?),
            CANNED_REMOVE => ClientEvent::CannedRemove(payload(data)?),
            SEARCH => ClientEvent::Search(payload(data)?),
            CONVERSATIONS => ClientEvent::Conversations(payload(data)?),
            PROFILE => ClientEvent::Profile(payload(data)?),
            PROFILE_SET => ClientEvent::ProfileSet(payload(data)?),
            RATE => ClientEvent::Rate(payload(data)?),
            DESK_SETTINGS => ClientEvent::DeskSettings(payload(data)?),
            other => return Err(wire::WireError::UnknownEvent(other.to_owned())),
        })
    }
}

/// One event's payload, read from its JSON.
fn payload<T: serde::de::DeserializeOwned>(data: serde_json::Value) -> Result<T, wire::WireError> {
    serde_json::from_value(data).map_err(|e| wire::WireError::Payload(e.to_string()))
}

//! The REST API's contract (`/api/v1`, JSON): for programs a desk connects to it (a CRM, a
//! bot, a script), with a token an admin made in the console, sent as
//! `Authorization: Bearer <token>`. The OpenAPI document the server serves at
//! [`API_OPENAPI_PATH`] is generated from these types and the server's handlers.
//!
//! A contract of its own rather than the socket's payloads: those change with the console,
//! this is versioned. Errors are [`ApiError`]: the English sentence and the same
//! [`Problem`] code the socket sends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Problem, Status};

/// The API's OpenAPI document (JSON), open to anyone (it describes, it gives nothing away).
pub const API_OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// The console's management of tokens (an admin's cookie session, not a token): `GET` lists
/// them, `POST` a [`NewApiToken`] makes one, `DELETE …/{id}` revokes one.
pub const API_TOKENS_PATH: &str = "/api-tokens";
/// Every token begins so: a token found in a log or a repository is recognisably ours.
pub const API_TOKEN_PREFIX: &str = "lct_";
/// The most items one page of a list holds (and the default).
pub const API_PAGE_MAX: u32 = 100;

/// A token as admins see it: never its secret, which is shown once, when it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiTokenInfo {
    pub id: u64,
    /// What it is for, as the admin named it ("CRM", "billing bot").
    pub name: String,
    /// It may change things (send, resolve, transfer, update customers); otherwise it only
    /// reads.
    pub write: bool,
    /// The admin who made it.
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub created_at: u64,
    /// When it was last used (to the minute), if ever.
    pub last_used_at: Option<u64>,
}

/// An admin makes a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub name: String,
    #[serde(default)]
    pub write: bool,
}

/// A token just made: the secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiToken {
    pub token: String,
    pub info: ApiTokenInfo,
}

/// What the API answers when it cannot do what was asked: the sentence in English and the
/// problem's code (the socket's), for programs to branch on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub error: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object, example = json!({"code": "unknown_conversation"})))]
    pub problem: Problem,
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self { error: problem.to_string(), problem }
    }
}

/// A conversation, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiConversation {
    pub id: u64,
    pub customer: ApiCustomerRef,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "open"))]
    pub status: Status,
    /// The agent who has it (open), or had it last (resolved).
    pub assignee: Option<String>,
    /// The newest message's number in it (0: none yet).
    pub last_seq: u64,
    /// The customer's messages nobody on the desk has read.
    pub unread: u64,
    /// Its last activity, in milliseconds since the epoch (in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<u64>,
}

/// Who a conversation is with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiCustomerRef {
    pub id: u64,
    pub name: String,
}

/// A page of conversations, most recently active first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiConversations {
    pub conversations: Vec<ApiConversation>,
    /// Pass as `after` for the next page; absent on the last one. (A page filtered by
    /// status may hold fewer than asked for and still have a next.)
    pub next: Option<String>,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ApiAuthor {
    Customer,
    Agent,
    Bot,
}

/// A message, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiMessage {
    pub id: u64,
    pub conversation: u64,
    /// Its number in the conversation, from 1.
    pub seq: u64,
    pub author: ApiAuthor,
    /// The name it was sent under.
    pub from: String,
    pub text: String,
    /// Milliseconds since the epoch.
    pub ts: u64,
    /// What the sender named it (an API request's `client_id`), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ApiAttachment>,
}

/// A file a message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiAttachment {
    pub name: String,
    #[serde(rename = "type")]
    pub mime: String,
    pub size: u64,
    /// Where it is fetched (with the same token).
    pub url: String,
}

/// A page of a conversation's messages, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiMessages {
    pub messages: Vec<ApiMessage>,
    /// Older messages exist: ask with `before` set to the first one's `seq`.
    pub more: bool,
}

/// A message to send: as an agent account (`agent`, its name) or as a bot (`bot`, a name of
/// its own that no agent account has), one of the two.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiNewMessage {
    pub text: String,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub bot: Option<String>,
    /// Your name for this message (1–64 of `A-Z a-z 0-9 - _ . :`): sent again with the same
    /// one (a retry after a timeout), it is stored once and answered as the first time.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A conversation handed to an agent account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiTransfer {
    /// The agent account's name.
    pub agent: String,
    /// For them, shown with the conversation.
    #[serde(default)]
    pub note: Option<String>,
}

/// A conversation's customer: what is known of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiCustomer {
    pub id: u64,
    pub name: String,
    pub email: Option<String>,
    /// The agents' note on them.
    pub note: Option<String>,
    /// The page they wrote from, their browser's language and time zone.
    pub page: Option<String>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
    /// Their id on the host site, when the site signed who they are.
    pub user_id: Option<String>,
    /// What the host site signed about them.
    pub attributes: BTreeMap<String, String>,
    /// Milliseconds since the epoch.
    pub first_seen: Option<u64>,
}

/// A change to a customer: a field left out stays, an empty one is cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiCustomerUpdate {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// What a search found: conversations by their customer's name, id or number, and messages
/// that hold every word, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiSearch {
    pub conversations: Vec<ApiConversation>,
    pub messages: Vec<ApiMessage>,
    /// Pass as `before` for more messages; absent when there are none.
    pub next: Option<u64>,
}

/// The console's management of webhooks (an admin's cookie session): `GET` lists them with
/// their latest deliveries, `POST` a [`NewWebhook`] registers one and answers with its
/// signing secret, shown this once, `DELETE …/{id}` removes one.
pub const WEBHOOKS_PATH: &str = "/webhooks";
/// A conversation's first message was stored (the customer's question, or an agent's
/// greeting).
pub const WEBHOOK_CONVERSATION_CREATED: &str = "conversation.created";
/// A message was stored (a customer's, an agent's, a bot's).
pub const WEBHOOK_MESSAGE_CREATED: &str = "message.created";
/// A conversation was resolved.
pub const WEBHOOK_CONVERSATION_RESOLVED: &str = "conversation.resolved";
/// A customer rated a resolved conversation.
pub const WEBHOOK_RATING_GIVEN: &str = "rating.given";
/// Every event a webhook may be sent, in the order the console lists them.
pub const WEBHOOK_EVENTS: [&str; 4] = [
    WEBHOOK_CONVERSATION_CREATED,
    WEBHOOK_MESSAGE_CREATED,
    WEBHOOK_CONVERSATION_RESOLVED,
    WEBHOOK_RATING_GIVEN,
];
/// The longest URL a webhook may have.
pub const WEBHOOK_URL_MAX_CHARS: usize = 2048;
/// The deliveries of each webhook the console shows, newest first.
pub const WEBHOOK_DELIVERIES_SHOWN: u32 = 10;

/// An admin registers a webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    /// `http://` or `https://`.
    pub url: String,
    /// Some of [`WEBHOOK_EVENTS`].
    pub events: Vec<String>,
}

/// A webhook as admins see it: never its secret, shown once when it is registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub id: u64,
    pub url: String,
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: u64,
    /// The latest, newest first (at most [`WEBHOOK_DELIVERIES_SHOWN`]).
    #[serde(default)]
    pub deliveries: Vec<DeliveryInfo>,
}

/// One event sent (or being sent) to a webhook, and how its attempts went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryInfo {
    /// The `X-Chat-Delivery` header: the same on every attempt.
    pub id: u64,
    pub event: String,
    pub created_at: u64,
    pub attempts: u32,
    pub last_attempt_at: Option<u64>,
    /// The receiver's HTTP status at the last attempt, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub delivered_at: Option<u64>,
    /// When it is tried next; `None` once delivered or given up.
    pub next_attempt_at: Option<u64>,
}

/// A webhook just registered: the secret its deliveries are signed with, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    pub secret: String,
    pub info: WebhookInfo,
}

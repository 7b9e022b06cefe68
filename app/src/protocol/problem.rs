//! What a person did that cannot be done, as a code on the wire ([`Problem`]), and an error as
//! sent to a client ([`Refusal`]). The sentences that word them, in each language, are in
//! `app/src/text/problem.rs`.

use serde::{Deserialize, Serialize};

/// Something a person did that cannot be done, as told to them. On the wire (beside the
/// English sentence) as `{"code": "name_taken"}`, with `"arg"` for the variants that carry
/// one.
///
/// Serde's derived code is reached through [`Problem::deserialize`] from a JSON value only
/// (`remote = "Self"` makes it inherent; the trait impls below call it): derived for every
/// reader that meets a problem (a packet's value, a response body, the buffers of the
/// untagged replies that carry one), it was six copies of a decoder for 66 variants: 27 KB of
/// the customers' WebAssembly (2.4 KB brotli).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", tag = "code", content = "arg", rename_all = "snake_case")]
pub enum Problem {
    NameEmpty,
    NameTooLong,
    NameControlChars,
    /// A name with invisible characters (zero-width, direction overrides).
    NameInvisibleChars,
    NameTaken,
    /// The name belongs to an agent account; customers may not use it.
    NameReserved,
    WrongPassword,
    AgentPasswordMissing,
    AlreadyLoggedIn(String),
    NotLoggedIn,
    MessageEmpty,
    MessageTooLong,
    UnknownRecipient(String),
    RecipientNotAllowed(String),
    MessageToSelf,
    /// A message with neither a recipient nor a conversation.
    NoRecipient,
    /// Only agents manage conversations.
    AgentsOnly,
    /// Taking a conversation a colleague has open (who, is not said).
    AlreadyAssigned,
    /// Resolving or transferring a conversation that is not this agent's.
    NotYours,
    UnknownAgent(String),
    /// Only admins manage the team and the canned replies.
    AdminsOnly,
    PasswordTooShort,
    AgentExists(String),
    /// An admin removing their own account (they would lock themselves out mid-session).
    RemoveSelf,
    BadShortcut,
    /// A payload the server could not read (the event's name).
    Malformed(String),
    /// A `client_id` that is not 1–64 plain ASCII characters.
    BadClientId,
    /// Agents talk to customers, in the customer's conversation.
    AgentToAgent,
    UnknownConversation,
    /// A resume token that is unknown, expired or revoked, for someone who must then
    /// log in again (an agent, with their password).
    SessionExpired,
    /// The message could not be stored, so it was not sent; the client may retry.
    NotSaved,
    /// Too many requests (or messages) in a short time; the client may retry after the
    /// given number of seconds.
    SlowDown(u64),
    /// Too many failed agent passwords from this address for this name; retry after the
    /// given number of seconds.
    TooManyAttempts(u64),
    /// Too many connections from one address.
    TooManyConnections,
    /// An event the server does not know.
    UnknownEvent(String),
    /// A host site's identity (the widget's signed user) that is unsigned, wrongly signed
    /// or malformed.
    IdentityInvalid,
    /// A host site's identity whose signature has expired (an old page, or one replayed).
    IdentityExpired,
    /// A host site's identity signed to expire further ahead than this server accepts.
    IdentityExpiresTooLate,
    /// A host site's identity, but this server takes none (no widget secret is set).
    IdentityNotAccepted,
    /// An e-mail address (the widget's pre-chat form) that cannot be one.
    EmailInvalid,
    /// A file larger than the server takes (its limit in MB).
    AttachmentTooLarge(u64),
    /// A file of a type the server does not take (as found from its bytes).
    AttachmentType,
    /// An empty file.
    AttachmentEmpty,
    /// A file that claims to be an image and cannot be read as one.
    ImageUnreadable,
    /// More files in one message than [`crate::protocol::ATTACHMENTS_PER_MESSAGE`].
    TooManyAttachments,
    /// A file id that is not one of the sender's uploads for this conversation.
    UnknownAttachment,
    /// A search for nothing (only white space).
    SearchEmpty,
    /// A search longer than [`crate::protocol::SEARCH_MAX_CHARS`].
    SearchTooLong,
    /// A search of more than [`crate::protocol::SEARCH_MAX_WORDS`] different words.
    SearchTooManyWords,
    /// A search whose every word is one character (it would read every message).
    SearchTooShort,
    /// An agents' note on a customer longer than
    /// [`crate::protocol::CUSTOMER_NOTE_MAX_CHARS`].
    CustomerNoteTooLong,
    /// A rating's score out of 1–5.
    RatingScore,
    /// A rating's comment longer than [`crate::protocol::RATING_COMMENT_MAX_CHARS`].
    RatingCommentTooLong,
    /// This resolution of the conversation was rated already.
    AlreadyRated,
    /// The desk does not ask for ratings (an admin turned them off).
    RatingsOff,
    /// The conversation is not resolved, or not at the resolution rated (the customer wrote
    /// since).
    NotRateable,
    /// Only the customer of a conversation may do that (rate it).
    CustomersOnly,
    /// A first-run setup link that is wrong, was used already, or belongs to an earlier
    /// start of the server (an agent account exists, or the server restarted).
    SetupLinkInvalid,
    /// The first-run setup link opened from another machine (it works only on the server's
    /// own, unless `SETUP_REMOTE` is set).
    SetupOnlyLocal,
    /// A report's period that is not two dates (`YYYY-MM-DD`), the first not after the
    /// second, at most [`crate::protocol::REPORT_MAX_DAYS`] days apart.
    ReportPeriodInvalid,
    /// A REST API request without a token, or with one that is unknown or revoked.
    ApiTokenInvalid,
    /// A REST API request that changes something, with a token that may only read.
    ApiReadOnly,
    /// A message sent through the REST API that names neither an agent nor a bot to send
    /// it as, or both.
    ApiWriter,
    /// A webhook's URL that is not an `http://` or `https://` URL (or is too long).
    WebhookUrlInvalid,
    /// A webhook that names none of the events it may be sent.
    WebhookNoEvents,
    /// The server could not do it; details are in its log, not on the wire.
    Internal,
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The inherent function `remote = "Self"` derives (it comes before the trait's).
        Problem::serialize(self, s)
    }
}

/// Through a JSON value (so a self-describing format only: never postcard, the hub's
/// snapshots, which hold no problem).
impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        // The inherent function `remote = "Self"` derives, on the value's deserializer only.
        Problem::deserialize(value).map_err(serde::de::Error::custom)
    }
}

/// An error as sent to a client: the English sentence every client can show (the tutorial's
/// clients show just that), and the [`Problem`] it words, which clients of ours show in their
/// reader's language. `login_error` and `error` carry the two as two arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub text: String,
    pub problem: Option<Problem>,
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        Self { text: problem.to_string(), problem: Some(problem) }
    }
}

impl From<String> for Refusal {
    fn from(text: String) -> Self {
        Self { text, problem: None }
    }
}

impl From<&str> for Refusal {
    fn from(text: &str) -> Self {
        text.to_owned().into()
    }
}

impl Serialize for Refusal {
    /// Two arguments (a tuple; Socket.IO servers send a tuple as that many arguments): the
    /// sentence first, so that clients reading one argument get the sentence.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.problem {
            Some(problem) => (&self.text, problem).serialize(s),
            None => self.text.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Refusal {
    /// Either form [`Refusal::serialize`] writes: the sentence alone (what the tutorial's
    /// server sent), or the sentence and its [`Problem`] (both arguments, read as one array).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Sentence(String),
            Worded(String, Problem),
        }
        Ok(match Form::deserialize(d)? {
            Form::Sentence(text) => Self { text, problem: None },
            Form::Worded(text, problem) => Self { text, problem: Some(problem) },
        })
    }
}

//! Logging in: the `login` payload in both forms, its answer, and the agent session over HTTP.

use serde::{Deserialize, Serialize};

use super::*;

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
    /// An agent's status, kept across reconnects: the client says it again as it logs in,
    /// so that a busy agent is never handed a conversation in between.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgentStatus>,
    /// A customer's e-mail address (the widget's pre-chat form), the page, language and
    /// time zone of their browser: shown to agents on their profile.
    /// (Boxed: it is large, and a login is passed around by value.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<Box<Visit>>,
}

/// A host site's user, as the site signed it: `sig` is the hex HMAC-SHA256, under the
/// widget secret, of `id`, a newline, the name, a newline, and `expires` (seconds since
/// the epoch, in decimal): a signature is good until then, and for at most
/// [`HOST_IDENTITY_MAX_SECS`] from now.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIdentity {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// What the site says about its user besides (e.g. `{"plan": "pro"}`): a JSON object
    /// of short strings, signed too (see [`parse_attributes`]), as the exact text signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<String>,
}

/// How far ahead a host site's signature may expire: a signature copied out of a page
/// (a shared link, a log, a cached page) is worth nothing after that.
pub const HOST_IDENTITY_MAX_SECS: u64 = 24 * 60 * 60;

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
        self.held.len() <= CURSOR_HELD_MAX
            && self.held.iter().all(|&s| std::mem::replace(&mut last, s) < s)
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
    pub status: Option<AgentStatus>,
    /// What the customer's browser said ([`Visit`]), checked; empty for agents.
    pub visit: VisitFacts,
    /// What the host site says about its user besides ([`HostIdentity::attributes`]), read;
    /// to be believed only once the identity's signature is checked.
    pub attributes: Option<std::collections::BTreeMap<String, String>>,
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
            if id.is_empty()
                || id.chars().count() > HOST_ID_MAX_CHARS
                || id.chars().any(char::is_control)
                || identity.expires.is_none()
                || name.is_none()
            {
                return Err(Problem::IdentityInvalid);
            }
        }
        let attributes = request
            .identity
            .as_ref()
            .and_then(|i| i.attributes.as_deref())
            .map(parse_attributes)
            .transpose()?;
        let visit = match (&request.visit, request.role) {
            (Some(visit), Role::Customer) => visit.check()?,
            _ => VisitFacts::default(),
        };
        if !request.since.iter().all(Cursor::is_valid) {
            return Err(Problem::Malformed(LOGIN.into()));
        }
        Ok(LoginIntent {
            name,
            role: request.role,
            password: request.password,
            resume,
            since: request.since,
            identity: request.identity,
            status: request.status,
            visit,
            attributes,
        })
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
    /// For agents: the status they chose (`status`), kept from their other tabs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgentStatus>,
    /// The largest file the server takes, in bytes (`ATTACHMENT_MAX_MB`): a client can
    /// refuse a larger one before uploading it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_max_bytes: Option<u64>,
    /// For customers: how long the team usually takes to answer a new question, in
    /// milliseconds (the median of the last week's first answers); absent when there are
    /// too few to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_time_ms: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The body of `POST /session`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCredentials {
    pub name: String,
    pub password: String,
}

/// The body of `POST /setup/admin` ([`crate::protocol::SETUP_ADMIN_PATH`]): the first admin,
/// with the token of the setup link the server printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstAdmin {
    pub token: String,
    pub name: String,
    pub password: String,
}

/// The answer to `POST /session` (and to `POST /setup/admin`): who is logged in (who was
/// created), or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AgentSession {
    LoggedIn {
        name: UserName,
        admin: bool,
    },
    Refused {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
}

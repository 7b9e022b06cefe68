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

use crate::text::Problem;

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

/// Longest accepted display name, in characters, after trimming.
pub const NAME_MAX_CHARS: usize = 32;
/// Longest accepted message, in characters, after trimming.
pub const MESSAGE_MAX_CHARS: usize = 4000;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub name: String,
    #[serde(default)]
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl LoginPayload {
    /// Normalises both forms into (validated name, role, password).
    pub fn into_parts(self) -> Result<(UserName, Role, Option<String>), Problem> {
        let request = match self {
            LoginPayload::Bare(name) => LoginRequest { name, role: Role::Customer, password: None },
            LoginPayload::Full(request) => request,
        };
        let name = UserName::parse(&request.name)?;
        Ok((name, request.role, request.password))
    }
}

/// The `login_success` payload. Tutorial clients ignore it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSuccess {
    pub name: UserName,
    pub role: Role,
}

/// The `private_message` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateMessage {
    pub to: String,
    pub message: String,
}

/// Server-assigned message id, unique for the lifetime of the server process (durable ids
/// arrive with storage).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub u64);

/// The `message` payload: one copy to the sender (`self: true`), one to the recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: MessageId,
    pub from: UserName,
    pub to: UserName,
    pub message: String,
    /// True on the sender's own copy.
    #[serde(rename = "self")]
    pub is_self: bool,
    /// Milliseconds since the Unix epoch, set by the server.
    pub ts: u64,
}

/// The reply to a `private_message` that was sent with a Socket.IO acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SendAck {
    Sent { ok: bool, id: MessageId },
    Failed { ok: bool, error: String },
}

/// Everything the server sends, with its event name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ServerEvent {
    LoginSuccess(LoginSuccess),
    LoginError(String),
    UserList(Vec<UserName>),
    Message(ChatMessage),
    Error(String),
}

impl ServerEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ServerEvent::LoginSuccess(_) => LOGIN_SUCCESS,
            ServerEvent::LoginError(_) => LOGIN_ERROR,
            ServerEvent::UserList(_) => USER_LIST,
            ServerEvent::Message(_) => MESSAGE,
            ServerEvent::Error(_) => ERROR,
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
}

impl ClientEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ClientEvent::Login(_) => LOGIN,
            ClientEvent::PrivateMessage(_) => PRIVATE_MESSAGE,
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
        let bare: LoginPayload = serde_json::from_value(json!("bob")).unwrap();
        let (name, role, pw) = bare.into_parts().unwrap();
        assert_eq!((name.as_str(), role, pw), ("bob", Role::Customer, None));

        let full: LoginPayload =
            serde_json::from_value(json!({"name": "ann", "role": "agent", "password": "pw"})).unwrap();
        let (name, role, pw) = full.into_parts().unwrap();
        assert_eq!((name.as_str(), role, pw.as_deref()), ("ann", Role::Agent, Some("pw")));

        let no_role: LoginPayload = serde_json::from_value(json!({"name": "cy"})).unwrap();
        assert_eq!(no_role.into_parts().unwrap().1, Role::Customer);

        assert!(serde_json::from_value::<LoginPayload>(json!(42)).is_err());
        assert!(serde_json::from_value::<LoginPayload>(json!({"role": "agent"})).is_err());
        assert!(serde_json::from_value::<LoginPayload>(json!({"name": "x", "role": "admin"})).is_err());
    }

    #[test]
    fn message_payload_keeps_the_tutorial_field_names() {
        let m = ChatMessage {
            id: MessageId(7),
            from: UserName::parse("a").unwrap(),
            to: UserName::parse("b").unwrap(),
            message: "hi".into(),
            is_self: true,
            ts: 1,
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"id": 7, "from": "a", "to": "b", "message": "hi", "self": true, "ts": 1})
        );
    }

    #[test]
    fn server_events_round_trip_through_name_and_payload() {
        let events = vec![
            ServerEvent::LoginSuccess(LoginSuccess { name: UserName::parse("a").unwrap(), role: Role::Agent }),
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

//! Who a customer is, beyond a name: what they and their browser said at login ([`Visit`]),
//! what the host site signed about them (attributes), what the agents noted, and their
//! other conversations ([`CustomerProfile`]); and what agents may change of it
//! ([`ProfileUpdate`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

/// The longest e-mail address taken (RFC 5321's limit on a path).
pub const EMAIL_MAX_CHARS: usize = 254;
/// The longest page address kept, in bytes; a longer one is cut (it is only shown to agents).
pub const PAGE_MAX_BYTES: usize = 1024;
/// The longest agents' note on a customer.
pub const CUSTOMER_NOTE_MAX_CHARS: usize = 2000;
/// Attributes a host site may sign into the widget, at most.
pub const ATTRIBUTES_MAX: usize = 20;
/// The longest attribute name.
pub const ATTRIBUTE_NAME_MAX_CHARS: usize = 40;
/// The longest attribute value.
pub const ATTRIBUTE_VALUE_MAX_CHARS: usize = 200;
/// Other conversations with the same e-mail address a profile lists, at most.
pub const OTHER_CONVERSATIONS_MAX: u32 = 20;

/// An e-mail address as a person gave it: one `@` with something on both sides, a dot in
/// the domain, no spaces and nothing invisible (that could make it pass for another). Enough to catch a slip of the finger: the address is only shown to
/// agents, never written to. (A crate checking RFC 5322 would take `ann@localhost`, which
/// here is almost always a typo.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// The address, trimmed; `EmailInvalid` if it cannot be one.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let email = text.trim();
        let Some((local, domain)) = email.split_once('@') else {
            return Err(Problem::EmailInvalid);
        };
        let fine = email.chars().count() <= EMAIL_MAX_CHARS
            && !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || super::values::invisible(c))
            && !domain.contains('@');
        if fine {
            Ok(Self(email.to_owned()))
        } else {
            Err(Problem::EmailInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How addresses are compared: the same person's other conversations are found by it.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// What a customer's browser says as they log in (the `visit` of a [`LoginRequest`]): the
/// e-mail address they gave (the widget's pre-chat form), the page they opened the chat on
/// (its address without query or fragment, which may hold secrets), their language and time
/// zone. Shown to agents; nothing here is verified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// A BCP 47 tag, e.g. `zh-CN` (the browser's `navigator.language`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// An IANA zone, e.g. `Asia/Shanghai`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A [`Visit`], checked: the e-mail address valid (or refused), the rest kept only when it
/// looks like what it claims to be (an `http(s)` address, a language tag, a zone name), and
/// cut to its limit. (Serialisable: a new anonymous customer's travels with their
/// conversation in the hub until they are stored.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitFacts {
    pub email: Option<Email>,
    pub page: Option<String>,
    pub language: Option<String>,
    pub time_zone: Option<String>,
}

impl Visit {
    /// The facts worth keeping; an e-mail address that cannot be one is `EmailInvalid`
    /// (the person typed it, and should hear so). The rest is what a browser says by
    /// itself: what does not look right is left out.
    pub fn check(&self) -> Result<VisitFacts, Problem> {
        let email = match self.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Email::parse(text)?),
        };
        let page = self
            .page
            .as_deref()
            .map(|p| p.trim().split(['?', '#']).next().unwrap_or_default())
            .filter(|p| p.starts_with("https://") || p.starts_with("http://"))
            .filter(|p| {
                !p.chars()
                    .any(|c| c.is_control() || c.is_whitespace() || super::values::invisible(c))
            })
            .map(|p| cut(p, PAGE_MAX_BYTES).to_owned());
        let language = self.language.as_deref().map(str::trim).filter(|l| {
            (2..=35).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        let time_zone = self.time_zone.as_deref().map(str::trim).filter(|z| {
            (1..=64).contains(&z.len())
                && z.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
        });
        Ok(VisitFacts {
            email,
            page,
            language: language.map(str::to_owned),
            time_zone: time_zone.map(str::to_owned),
        })
    }
}

/// The longest start of `text` of at most `max` bytes that ends between two characters.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl VisitFacts {
    /// Nothing was said.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a host site signs about its user besides id and name (the widget's
/// `data-user-attributes`, a JSON object of short strings, e.g. `{"plan": "pro"}`), read
/// from the exact text that was signed.
pub fn parse_attributes(json: &str) -> Result<BTreeMap<String, String>, Problem> {
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|_| Problem::IdentityInvalid)?;
    if map.len() > ATTRIBUTES_MAX {
        return Err(Problem::IdentityInvalid);
    }
    map.into_iter()
        .map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return Err(Problem::IdentityInvalid),
            };
            let fits = |s: &str, max: usize| {
                !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
            };
            if fits(&name, ATTRIBUTE_NAME_MAX_CHARS) && fits(&value, ATTRIBUTE_VALUE_MAX_CHARS) {
                Ok((name, value))
            } else {
                Err(Problem::IdentityInvalid)
            }
        })
        .collect()
}

/// The agents' note on a customer, with who wrote it last and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerNote {
    pub text: String,
    pub by: UserName,
    pub ts: u64,
}

/// Another conversation with the same e-mail address (given by a customer, so not proof of
/// the same person), as a profile lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherConversation {
    pub summary: ConversationSummary,
    /// Its last activity (ms since the epoch).
    pub ts: u64,
}

/// The `profile` payload, server → agent: who the customer of a conversation is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub conversation: ConversationId,
    pub customer: UserName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The host site's user id, when the site vouched for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// What the host site signed about them, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The page they last opened the chat on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// When they first came (ms since the epoch), when known (a tutorial client that never
    /// wrote left no trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<CustomerNote>,
    /// The other conversations with the same e-mail address that this agent sees, most
    /// recently active first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<OtherConversation>,
}

/// The `profile_set` payload, agent → server: a change to the customer of a conversation.
/// A field left out stays as it is; an empty one clears it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdate {
    pub conversation: ConversationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A [`ProfileUpdate`], checked: `Some(None)` clears a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub email: Option<Option<Email>>,
    pub note: Option<Option<String>>,
}

impl ProfileUpdate {
    /// What it changes; an address that cannot be one is `EmailInvalid`, a note over
    /// [`CUSTOMER_NOTE_MAX_CHARS`] `CustomerNoteTooLong`.
    pub fn check(&self) -> Result<ProfileChange, Problem> {
        let email = match self.email.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(text) => Some(Some(Email::parse(text)?)),
        };
        let note = match self.note.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(text) if text.chars().count() > CUSTOMER_NOTE_MAX_CHARS => {
                return Err(Problem::CustomerNoteTooLong)
            }
            Some(text) => Some(Some(text.to_owned())),
        };
        Ok(ProfileChange { email, note })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_address_needs_a_user_and_a_domain() {
        for ok in ["ann@example.com", "a.b+c@shop.example.cn", "  Ann@Example.com "] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Email::parse(" Ann@Example.com ").unwrap().key(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann @example.com",
            "a@b@c.com",
            "ann@.com",
            "ann@example.com.",
            "ann\u{200B}@example.com",
            "ann@exa\u{202E}mple.com",
        ] {
            assert_eq!(Email::parse(bad), Err(Problem::EmailInvalid), "{bad}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn a_visit_keeps_what_looks_right_and_refuses_a_bad_address() {
        let visit = Visit {
            email: Some(" ann@example.com ".into()),
            page: Some("https://shop.example/cart?reset=s3cret#top".into()),
            language: Some("zh-CN".into()),
            time_zone: Some("Asia/Shanghai".into()),
        };
        let facts = visit.check().unwrap();
        assert_eq!(facts.email.unwrap().as_str(), "ann@example.com");
        assert_eq!(
            facts.page.as_deref(),
            Some("https://shop.example/cart"),
            "no query, no fragment"
        );
        assert_eq!(facts.language.as_deref(), Some("zh-CN"));
        assert_eq!(facts.time_zone.as_deref(), Some("Asia/Shanghai"));
        let odd = Visit {
            email: Some("".into()),
            page: Some("javascript:alert(1)".into()),
            language: Some("<b>".into()),
            time_zone: Some("Europe/Paris\n".repeat(9)),
        };
        assert!(odd.check().unwrap().is_empty());
        let long = Visit {
            page: Some(format!("https://x.example/{}", "页".repeat(5000))),
            ..Visit::default()
        };
        let cut = long.check().unwrap().page.unwrap();
        assert!(cut.len() <= PAGE_MAX_BYTES && cut.len() > PAGE_MAX_BYTES - 3, "{}", cut.len());
        let bad = Visit { email: Some("ann@".into()), ..Visit::default() };
        assert_eq!(bad.check(), Err(Problem::EmailInvalid));
    }

    #[test]
    fn a_login_carries_a_customers_visit_and_refuses_a_bad_address_or_attributes() {
        let login = |json: serde_json::Value| {
            serde_json::from_value::<LoginPayload>(json).unwrap().into_intent()
        };
        let intent = login(serde_json::json!({"name": "Ann", "visit": {"email": "ann@example.com", "time_zone": "UTC"}}))
            .unwrap();
        assert_eq!(intent.visit.email.unwrap().as_str(), "ann@example.com");
        assert_eq!(intent.visit.time_zone.as_deref(), Some("UTC"));
        // An agent's browser says nothing that is kept.
        let agent =
            login(serde_json::json!({"name": "amy", "role": "agent", "visit": {"email": "x"}}));
        assert!(agent.unwrap().visit.is_empty());
        let bad = login(serde_json::json!({"name": "Ann", "visit": {"email": "ann@example"}}));
        assert_eq!(bad, Err(Problem::EmailInvalid));
        let identity = |attributes: &str| serde_json::json!({"name": "Lin", "identity": {"id": "7", "expires": 1, "sig": "00", "attributes": attributes}});
        assert_eq!(
            login(identity(r#"{"plan":"pro"}"#)).unwrap().attributes.unwrap()["plan"],
            "pro"
        );
        assert_eq!(login(identity("[1]")), Err(Problem::IdentityInvalid));
    }

    #[test]
    fn attributes_are_a_small_object_of_short_values() {
        let map = parse_attributes(r#"{"plan":"pro","orders":3,"vip":true}"#).unwrap();
        assert_eq!(map["plan"], "pro");
        assert_eq!(map["orders"], "3");
        assert_eq!(map["vip"], "true");
        for bad in [
            "[]",
            "not json",
            r#"{"plan":{"a":1}}"#,
            r#"{"plan":null}"#,
            r#"{"":"x"}"#,
            r#"{"a":"line\nbreak"}"#,
        ] {
            assert_eq!(parse_attributes(bad), Err(Problem::IdentityInvalid), "{bad}");
        }
        let many: BTreeMap<String, String> =
            (0..=ATTRIBUTES_MAX).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        let json = serde_json::to_string(&many).unwrap();
        assert_eq!(parse_attributes(&json), Err(Problem::IdentityInvalid));
    }

    #[test]
    fn an_update_clears_with_empty_and_keeps_what_it_leaves_out() {
        let id = ConversationId(7);
        let keep = ProfileUpdate { conversation: id, email: None, note: None };
        assert_eq!(keep.check().unwrap(), ProfileChange::default());
        let clear =
            ProfileUpdate { conversation: id, email: Some(" ".into()), note: Some("".into()) };
        assert_eq!(clear.check().unwrap(), ProfileChange { email: Some(None), note: Some(None) });
        let long = ProfileUpdate {
            conversation: id,
            email: None,
            note: Some("字".repeat(CUSTOMER_NOTE_MAX_CHARS + 1)),
        };
        assert_eq!(long.check(), Err(Problem::CustomerNoteTooLong));
        let bad = ProfileUpdate { conversation: id, email: Some("x".into()), note: None };
        assert_eq!(bad.check(), Err(Problem::EmailInvalid));
    }
}

//! Validated values: names, message text, ids, and the limits they are checked against.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Problem;

/// Shortest accepted agent password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;

/// Longest accepted display name, in characters, after trimming.
pub const NAME_MAX_CHARS: usize = 32;
/// Longest name as typed, in bytes, spaces around it included: refused before it is
/// normalised (which may grow it).
const NAME_MAX_RAW_BYTES: usize = 1024;
/// Longest accepted message, in characters, after trimming.
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Longest accepted client message id, in bytes.
pub const CLIENT_ID_MAX_LEN: usize = 64;
/// Messages in one page of history.
pub const HISTORY_PAGE: u32 = 50;

/// Who a participant is on the support desk.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Someone asking for help. Sees only the support agents.
    #[default]
    Customer,
    /// Support staff. Sees everyone online; needs an account and its password.
    Agent,
}

/// A participant's display name: trimmed, 1–[`NAME_MAX_CHARS`] characters, no control
/// characters and no invisible ones (format characters: zero-width spaces and joiners,
/// direction overrides), and on the server in Unicode NFKC form (so that `ｆｕｌｌ` and `full`
/// are one name). Constructed only through [`UserName::parse`] (or, for names stored when
/// they were valid, [`UserName::stored`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    /// Validates and normalises (NFKC on the server, one space for a run of them, then trims)
    /// a name typed by a person.
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        // Far too long before anything else: NFKC may grow a text up to 18 times.
        if raw.len() > NAME_MAX_RAW_BYTES {
            return Err(Problem::NameTooLong);
        }
        let normalised = normalise(raw);
        let name =
            trimmed_within(&normalised, NAME_MAX_CHARS, Problem::NameEmpty, Problem::NameTooLong)?;
        if name.chars().any(char::is_control) {
            return Err(Problem::NameControlChars);
        }
        if name.chars().any(invisible) {
            return Err(Problem::NameInvisibleChars);
        }
        Ok(Self(name.to_owned()))
    }

    /// A name as storage kept it: valid by the rules of the day it was stored (the rules
    /// may have grown since), so taken as it is rather than refused on the way out.
    pub fn stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name as the rules compare it: in Unicode NFKC form (on the server, see [`nfkc`]), and
/// with runs of spaces made one (`Amy  Lee` is `Amy Lee`; everywhere).
fn normalise(raw: &str) -> std::borrow::Cow<'_, str> {
    let normal = nfkc(raw);
    if !normal.contains("  ") {
        return normal;
    }
    let mut out = String::with_capacity(normal.len());
    for c in normal.chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `raw` in Unicode NFKC form. The browser leaves this to the server (which normalises
/// every name it takes), rather than ship the tables in every page.
#[cfg(feature = "ssr")]
fn nfkc(raw: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
    match is_nfkc_quick(raw.chars()) {
        IsNormalized::Yes => std::borrow::Cow::Borrowed(raw),
        _ => std::borrow::Cow::Owned(raw.nfkc().collect()),
    }
}

#[cfg(not(feature = "ssr"))]
fn nfkc(raw: &str) -> std::borrow::Cow<'_, str> {
    std::borrow::Cow::Borrowed(raw)
}

/// An invisible character that could make one name look like another: a format character
/// (zero-width space, joiners, direction marks and overrides, the byte-order mark), or one
/// of the few others that draw nothing: fillers and blanks that are letters or symbols to
/// Unicode, and variation selectors. Checked on the server; the browser leaves it to the
/// server, as for [`nfkc`]. (The second group is listed here: unicode-properties has no
/// Default_Ignorable_Code_Point, and U+2800 is not one anyway.)
#[cfg(feature = "ssr")]
pub(super) fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
        || matches!(c,
            '\u{034F}' // combining grapheme joiner
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}' // Mongolian variation selectors
            | '\u{2800}' // braille blank
            | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' // variation selectors
        )
}

#[cfg(not(feature = "ssr"))]
pub(super) fn invisible(_: char) -> bool {
    false
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
fn trimmed_within(
    raw: &str,
    max: usize,
    empty: Problem,
    too_long: Problem,
) -> Result<&str, Problem> {
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

    /// The text of a message that carries files: it may be empty.
    pub fn parse_or_empty(raw: &str) -> Result<Self, Problem> {
        if raw.trim().is_empty() {
            Ok(Self(String::new()))
        } else {
            Self::parse(raw)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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

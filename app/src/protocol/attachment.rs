//! Files sent in a conversation: what a message carries of each, the limits, and where the
//! files are uploaded and fetched.
//!
//! A file is uploaded first (`POST` [`ATTACHMENTS_PATH`], the file's bytes as the body; the
//! answer is its [`Attachment`]), then sent by naming its id in a `private_message`
//! (`attachments`). Tutorial-era clients, which know nothing of attachments, read a link
//! per file at the end of the message's text ([`with_links`]).

use serde::{Deserialize, Serialize};

use super::Problem;

/// `POST` a file here (`?name=` its name, and for agents `&conversation=` the conversation
/// it is for); `GET {ATTACHMENTS_PATH}/{id}` fetches it, `…/{id}/thumb` an image's
/// thumbnail. Both need the session: the agent's cookie, or the customer's session token as
/// `Authorization: Bearer …`.
pub const ATTACHMENTS_PATH: &str = "/attachments";
/// Most files in one message.
pub const ATTACHMENTS_PER_MESSAGE: usize = 10;
/// Longest file name kept (longer ones are cut).
pub const ATTACHMENT_NAME_MAX_CHARS: usize = 200;
/// The size limit of a file unless the server is told otherwise (`ATTACHMENT_MAX_MB`).
pub const ATTACHMENT_MAX_MB: u64 = 10;
/// The megabyte the limit is given in.
pub const MB: u64 = 1024 * 1024;
/// [`ATTACHMENT_MAX_MB`] in bytes.
pub const ATTACHMENT_MAX_BYTES: u64 = ATTACHMENT_MAX_MB * MB;

/// The refusal of a file larger than `max_bytes`, which says the limit in megabytes.
pub fn file_too_large(max_bytes: u64) -> Problem {
    Problem::AttachmentTooLarge(max_bytes / MB)
}
/// The longest side of an image's thumbnail, in pixels.
pub const THUMB_MAX_PX: u32 = 320;

/// A file's id: 32 lowercase hexadecimal digits, random (not guessable, though knowing one
/// gives nobody the file: fetching it needs a session that may see its conversation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AttachmentId(String);

impl AttachmentId {
    /// Digits in an id.
    pub const LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if raw.len() == Self::LEN && raw.chars().all(hex) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Problem::UnknownAttachment)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AttachmentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|_| serde::de::Error::custom("not an attachment id"))
    }
}

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// A file as a message carries it (and as its upload is answered).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: AttachmentId,
    /// The name it was uploaded with, made safe ([`file_name`]).
    pub name: String,
    /// Its type, as the server found it from its bytes (never from the name or the
    /// browser): `image/png`, `application/pdf`, …
    #[serde(rename = "type")]
    pub mime: String,
    /// Bytes, as stored (an image after it was re-encoded).
    pub size: u64,
    /// An image's size; its thumbnail's. Files that are not images have neither and are
    /// only ever downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumb: Option<Size>,
}

impl Attachment {
    /// Where it is fetched.
    pub fn url(&self) -> String {
        format!("{ATTACHMENTS_PATH}/{}", self.id)
    }

    /// Where its thumbnail is fetched (images only).
    pub fn thumb_url(&self) -> Option<String> {
        self.thumb.map(|_| format!("{ATTACHMENTS_PATH}/{}/thumb", self.id))
    }

    /// The line a tutorial-era client reads for it at the end of the message's text.
    pub fn link_line(&self) -> String {
        format!("[{}] {}", self.name, self.url())
    }
}

/// A refused upload, as the server answers it (with a 4xx or 5xx status): the English
/// sentence any program can show, and the problem our clients word in their reader's
/// language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRefused {
    pub error: String,
    pub problem: Problem,
}

impl From<Problem> for UploadRefused {
    fn from(problem: Problem) -> Self {
        Self { error: problem.to_string(), problem }
    }
}

/// The text a message is sent with: what its author wrote, then a line per file
/// ([`Attachment::link_line`]), so that a client that knows nothing of attachments still
/// shows where each file is.
pub fn with_links(text: &str, attachments: &[Attachment]) -> String {
    let links: Vec<String> = attachments.iter().map(Attachment::link_line).collect();
    match (text.is_empty(), links.is_empty()) {
        (_, true) => text.to_owned(),
        (true, false) => links.join("\n"),
        (false, false) => format!("{text}\n{}", links.join("\n")),
    }
}

/// What the author wrote of a message's text made by [`with_links`] (the whole text when it
/// does not end with those links).
pub fn without_links<'a>(message: &'a str, attachments: &[Attachment]) -> &'a str {
    if attachments.is_empty() {
        return message;
    }
    let links = with_links("", attachments);
    match message.strip_suffix(links.as_str()) {
        Some(rest) => rest.strip_suffix('\n').unwrap_or(rest),
        None => message,
    }
}

/// A file name as kept: no path, no control or invisible-formatting characters, at most
/// [`ATTACHMENT_NAME_MAX_CHARS`] characters, `file` when nothing is left.
pub fn file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'))
        .take(ATTACHMENT_NAME_MAX_CHARS)
        .collect();
    let kept = kept.trim();
    if kept.is_empty() || kept == "." || kept == ".." {
        "file".to_owned()
    } else {
        kept.to_owned()
    }
}

/// The file types the server takes, as sniffed from the bytes: images it re-encodes and
/// shows, and documents it only ever offers as downloads.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];
/// See [`IMAGE_TYPES`]; plain text is what has no other type and reads as UTF-8.
pub const DOCUMENT_TYPES: [&str; 8] = [
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "text/plain",
];

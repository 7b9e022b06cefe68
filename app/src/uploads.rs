//! Files on their way up: what the composer shows of each upload until its file is sent.
//!
//! Owns: [`Upload`] (one file being uploaded, or refused, for one conversation) and the
//! wording of sizes. An upload that arrives leaves this list and becomes a message in the
//! outbox ([`crate::inbox::Outgoing`] with its attachment), which the session sends and
//! resends like any other until the server has stored it.
//! Must not: touch the browser (`client::files` uploads; `components::files` shows).

use crate::inbox::Target;

/// One file being uploaded, or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// Unique on this page: the browser keeps the file and its request under it.
    pub key: u64,
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Where the file goes once uploaded (the conversation open when it was chosen).
    pub target: Target,
    pub phase: Phase,
}

/// Where an upload stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// On its way: this many bytes sent so far.
    Sending(u64),
    /// Refused or broken off, with the reason in the reader's language; it can be tried
    /// again (unless `retry` is false: a file too large or of a refused type stays so).
    Failed { reason: String, retry: bool },
}

impl Upload {
    /// How far it is, in percent (0 to 100).
    pub fn percent(&self) -> u64 {
        match self.phase {
            Phase::Sending(sent) if self.size > 0 => (sent.min(self.size) * 100) / self.size,
            Phase::Sending(_) => 0,
            Phase::Failed { .. } => 0,
        }
    }
}

/// A size as people read it: "820 B", "14 KB", "3.4 MB" (Chinese writes them the same).
pub fn human_size(bytes: u64) -> String {
    use crate::protocol::MB;
    const KB: u64 = 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < MB {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        let tenths = (bytes * 10 + MB / 2) / MB;
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ConversationId;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1 KB");
        assert_eq!(human_size(14 * 1024 + 600), "15 KB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MB");
        assert_eq!(human_size(3_565_158), "3.4 MB");
    }

    #[test]
    fn progress_is_a_percentage_that_never_passes_100() {
        let mut upload = Upload {
            key: 1,
            name: "a.png".into(),
            size: 200,
            target: Target::Conversation(ConversationId(1)),
            phase: Phase::Sending(50),
        };
        assert_eq!(upload.percent(), 25);
        upload.phase = Phase::Sending(400);
        assert_eq!(upload.percent(), 100);
        upload.size = 0;
        assert_eq!(upload.percent(), 0);
    }
}

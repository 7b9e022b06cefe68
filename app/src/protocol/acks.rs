//! Acknowledgements: the replies to the events a client sends with an acknowledgement id.

use serde::{Deserialize, Serialize};

use super::*;

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

/// The reply to a `note` sent with an acknowledgement: the stored note's id, or why it was
/// not stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NoteAck {
    Stored {
        ok: bool,
        /// The note's id ([`Note::id`]).
        id: u64,
    },
    Failed {
        ok: bool,
        error: String,
        /// What `error` says, for clients that word it in their reader's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
}

impl NoteAck {
    /// The acknowledgement of a stored note.
    pub fn stored(id: u64) -> Self {
        NoteAck::Stored { ok: true, id }
    }

    /// The failed acknowledgement for `problem`.
    pub fn failed(problem: Problem) -> Self {
        NoteAck::Failed { ok: false, error: problem.to_string(), problem: Some(problem) }
    }
}

/// The reply to an admin request (`agent_add`, `agent_remove`, `canned_set`,
/// `canned_remove`) sent with an acknowledgement. `Failed` comes first: a failure also has
/// an `ok` field, and the first variant that reads a reply is the one it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AdminAck {
    Failed {
        ok: bool,
        error: String,
        /// What `error` says, for clients that word it in their reader's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<Problem>,
    },
    Done {
        ok: bool,
    },
}

impl AdminAck {
    /// The acknowledgement of a request that was carried out.
    pub fn done() -> Self {
        AdminAck::Done { ok: true }
    }

    /// The failed acknowledgement for `problem`.
    pub fn failed(problem: Problem) -> Self {
        AdminAck::Failed { ok: false, error: problem.to_string(), problem: Some(problem) }
    }
}

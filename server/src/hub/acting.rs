//! What the desk's integrations do through the REST API, without a connection of their own:
//! write in a conversation as an agent account or as a bot, resolve it, hand it to an agent.
//!
//! Owns: the message such a request stores ([`Hub::plan_written`]) and [`Settle`]. An API
//! token sees every conversation, as an admin does: the transport asks [`Hub::seen_by`] (the
//! one rule) before it comes here, with the conversation learnt from storage first.
//! Must not: deliver anything (a planned message is stored, then delivered like any other:
//! whoever sees the conversation live gets it).

use serde::{Deserialize, Serialize};

use app::protocol::{ClientMsgId, ConversationId, MessageText, Problem, Status, UserName};

use crate::model::{AgentKey, Assignee, Identity, NewMessage};

use super::{Hub, Outcome, Step};

/// Who writes through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// An agent account (which the transport found in storage): they take part from now on,
    /// and an online one who writes in a conversation nobody has takes it.
    Agent(Assignee),
    /// A bot, by a name of its own (that looks like no agent's and not like the customer's),
    /// for the token that sends as it: it takes part in nothing.
    Bot { name: UserName, token: u64 },
}

/// A change of where a conversation stands, made through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settle {
    /// Resolved, whoever had it (already resolved: nothing changes).
    Resolve,
    /// Given to an agent account, with an optional note for them.
    Transfer { to: Assignee, note: String },
}

impl Hub {
    /// What a message `writer` sends in conversation `id` stores, or why not. Changes
    /// nothing, like [`Hub::plan`].
    pub fn plan_written(
        &self,
        writer: &Writer,
        id: ConversationId,
        text: MessageText,
        client_id: Option<ClientMsgId>,
        now_ms: u64,
    ) -> Result<NewMessage, Problem> {
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        let (author, from, joins) = match writer {
            Writer::Agent(a) => {
                (Identity::Agent(a.key.clone()), a.name.clone(), Some(a.key.clone()))
            }
            Writer::Bot { name, token } => {
                (Identity::Agent(AgentKey::bot(*token, name)), name.clone(), None)
            }
        };
        Ok(NewMessage {
            conversation: id,
            author,
            from,
            to: Some(meta.customer_name.clone()),
            joins,
            text,
            client_id,
            ts: now_ms,
            attachments: vec![],
        })
    }

    /// Resolves or transfers conversation `id` for the API.
    pub(super) fn settle(&mut self, id: ConversationId, settle: Settle) -> Step {
        let Some(meta) = self.conversations.get(&id) else {
            return Step::new(Err(Problem::UnknownConversation), vec![]);
        };
        match settle {
            Settle::Resolve if meta.status == Status::Resolved => {
                self.step(Ok(Outcome::Changed), vec![])
            }
            Settle::Resolve => self.close(id),
            Settle::Transfer { to, note } => {
                self.hand(id, to, note).unwrap_or_else(|problem| Step::new(Err(problem), vec![]))
            }
        }
    }
}

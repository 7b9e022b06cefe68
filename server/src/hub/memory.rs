//! What the hub remembers of conversations nobody is in, and for how long.
//!
//! Owns: customers who logged in but of whom nothing is stored yet (an anonymous customer
//! costs no row until someone writes: their token resumes from here meanwhile), and
//! forgetting idle conversations, so that the hub's memory follows who is online and what
//! is open, not how many ever logged in.
//! Must not: decide who sees a conversation (`access.rs`) or move one (`queue.rs`).

use std::collections::HashMap;

use app::protocol::{ConversationId, Status};

use crate::model::{ConversationMeta, Identity};

use super::{Hub, Outcome, Step};

impl Hub {
    /// The conversation of a customer nothing is stored of yet, whose session token has
    /// the hash `token_hash`: they resume it (another tab, a reconnect) as if it were stored.
    pub fn unsaved_login(&self, token_hash: &str) -> Option<ConversationMeta> {
        let id = self.unsaved_tokens.get(token_hash)?;
        self.conversations.get(id).filter(|m| m.unsaved.is_some()).cloned()
    }

    /// Conversation `id` as it stands, if nothing of it is stored yet: what storage needs
    /// before its first message or note ([`Store::save_customer`](crate::store::Store::save_customer)).
    pub fn unsaved(&self, id: ConversationId) -> Option<ConversationMeta> {
        self.conversations.get(&id).filter(|m| m.unsaved.is_some()).cloned()
    }

    /// Whether nothing of conversation `id` is stored yet.
    pub fn is_unsaved(&self, id: ConversationId) -> bool {
        self.conversations.get(&id).is_some_and(|m| m.unsaved.is_some())
    }

    /// A session ended (a logout): if it was a customer's nothing is stored of, their token
    /// resumes nothing from now on, and is not stored when they are.
    pub fn end_unsaved(&mut self, token_hash: &str) {
        let Some(id) = self.unsaved_tokens.remove(token_hash) else { return };
        if let Some(unsaved) = self.conversations.get_mut(&id).and_then(|m| m.unsaved.as_mut()) {
            unsaved.token_hash = None;
        }
    }

    /// Conversation `id` was stored as it stood at `version`: a change made since is handed
    /// on to be stored too (storage had no row to keep it in).
    pub(super) fn saved(&mut self, id: ConversationId, version: u64) -> Step {
        let Some(meta) = self.conversations.get_mut(&id) else {
            return Step::new(Ok(Outcome::Stale), vec![]);
        };
        let mut step = Step::new(Ok(Outcome::Changed), vec![]);
        if let Some(unsaved) = meta.unsaved.take() {
            if let Some(token_hash) = unsaved.token_hash {
                self.unsaved_tokens.remove(&token_hash);
            }
            if meta.version > version {
                step.changed.push(meta.clone());
            }
        }
        step
    }

    /// Forgets the conversations found idle at this sweep and the one before, unchanged in
    /// between (storage has caught up with them by then); notes the idle ones for the next.
    pub(super) fn sweep(&mut self) -> Step {
        let mut idle = HashMap::new();
        let mut forget = vec![];
        for (id, meta) in &self.conversations {
            if !self.is_idle(meta) {
                continue;
            }
            let mark = (meta.version, meta.last_seq);
            if self.idle.get(id) == Some(&mark) {
                forget.push(*id);
            } else {
                idle.insert(*id, mark);
            }
        }
        self.idle = idle;
        for id in forget {
            self.forget(id);
        }
        Step::new(Ok(Outcome::Changed), vec![])
    }

    /// Nobody needs it here: its customer is offline, it neither waits nor is open, and no
    /// delivery of it was missed.
    fn is_idle(&self, meta: &ConversationMeta) -> bool {
        matches!(meta.status, Status::New | Status::Resolved)
            && !self.present.contains_key(&Identity::Customer(meta.customer))
            && !self.missed.contains_key(&meta.id)
    }

    fn forget(&mut self, id: ConversationId) {
        let Some(meta) = self.conversations.remove(&id) else { return };
        if self.by_customer.get(&meta.customer) == Some(&id) {
            self.by_customer.remove(&meta.customer);
        }
        if let Some(token_hash) = meta.unsaved.and_then(|u| u.token_hash) {
            self.unsaved_tokens.remove(&token_hash);
        }
        self.typing.retain(|(_, conversation), _| *conversation != id);
    }
}

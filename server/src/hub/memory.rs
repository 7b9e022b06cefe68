//! What the hub remembers of conversations nobody is in, and for how long.
//!
//! Owns: customers who logged in but of whom nothing is stored yet (an anonymous customer
//! costs no row until someone writes: their token resumes from here meanwhile), and
//! forgetting idle conversations, so that the hub's memory follows who is online and what
//! is open, not how many ever logged in; and the sessions that ended lately (a login checked
//! against storage before a logout, applied after it, is refused: [`EndedSessions`]).
//! Must not: decide who sees a conversation (`access.rs`) or move one (`queue.rs`).

use foldhash::{HashMap, HashMapExt, HashSet};
use serde::{Deserialize, Serialize};

use app::protocol::{ConversationId, Problem, Status};

use crate::model::{ConversationMeta, Identity};

use super::{ConnId, Hub, Outcome, Step};

/// How long a conversation stays idle (its customer offline, nothing waiting or open, no
/// change) before the hub forgets it: long enough for storage to have caught up with its
/// last change, and for a customer who never wrote to reconnect after a blip.
pub const FORGET_AFTER_MS: u64 = 60_000;

/// How long (by the sweeps' clock) the hub remembers an ended session, at least. A login is
/// checked against storage and then applied to the hub: a logout in between (milliseconds; a
/// second under load) must still refuse it. Later logins storage refuses by itself.
pub const ENDED_SESSIONS_KEPT_MS: u64 = 60_000;

/// The sessions that ended lately (logouts): each is kept from one [`Command::Sweep`] turn of
/// at least [`ENDED_SESSIONS_KEPT_MS`] to the end of the next. Not a list bounded by its
/// length: logging out sessions made up or made for it would push a real one out.
/// Only a real session's logout adds one (a login, rate-limited, made each).
///
/// [`Command::Sweep`]: super::Command::Sweep
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct EndedSessions {
    /// Ended since `since_ms`.
    current: HashSet<String>,
    /// Ended in the turn before.
    previous: HashSet<String>,
    /// When this turn started, by the sweeps' clock.
    since_ms: u64,
}

impl EndedSessions {
    fn insert(&mut self, token_hash: &str) {
        self.current.insert(token_hash.to_owned());
    }

    fn contains(&self, token_hash: &str) -> bool {
        self.current.contains(token_hash) || self.previous.contains(token_hash)
    }

    /// A sweep at `now_ms`: a turn of [`ENDED_SESSIONS_KEPT_MS`] over, the turn before is
    /// forgotten.
    fn sweep(&mut self, now_ms: u64) {
        if now_ms >= self.since_ms.saturating_add(ENDED_SESSIONS_KEPT_MS) {
            self.previous = std::mem::take(&mut self.current);
            self.since_ms = now_ms;
        }
    }
}

impl Hub {
    /// Whether the session with the token hash `token_hash` ended lately (a logout).
    pub(super) fn session_has_ended(&self, token_hash: &str) -> bool {
        self.ended.contains(token_hash)
    }

    /// The conversation of a customer nothing is stored of yet, whose session token has
    /// the hash `token_hash`: they resume it (another tab, a reconnect) as if it were stored.
    pub fn unsaved_login(&self, token_hash: &str) -> Option<ConversationMeta> {
        self.unsaved(*self.unsaved_tokens.get(token_hash)?).cloned()
    }

    /// Conversation `id` as it stands, if nothing of it is stored yet: what storage needs
    /// before its first message or note ([`Store::save_customer`](crate::store::Store::save_customer)).
    pub fn unsaved_meta(&self, id: ConversationId) -> Option<ConversationMeta> {
        self.unsaved(id).cloned()
    }

    /// The customer on `conn`, if they are stored (one numbered at login who has not
    /// written yet is not).
    pub fn stored_customer(&self, conn: ConnId) -> Option<crate::model::CustomerId> {
        let Some(Identity::Customer(customer)) = self.identity(conn) else { return None };
        let id = self.by_customer.get(customer)?;
        (!self.is_unsaved(*id)).then_some(*customer)
    }

    /// Whether nothing of conversation `id` is stored yet.
    pub fn is_unsaved(&self, id: ConversationId) -> bool {
        self.unsaved(id).is_some()
    }

    /// Conversation `id`, if nothing of it is stored yet.
    fn unsaved(&self, id: ConversationId) -> Option<&ConversationMeta> {
        self.conversations.get(&id).filter(|m| m.unsaved.is_some())
    }

    /// A session ended (a logout): if it was a customer's nothing is stored of, their token
    /// resumes nothing from now on, and is not stored when they are.
    pub(super) fn session_ended(&mut self, token_hash: &str) -> Step {
        self.ended.insert(token_hash);
        if let Some(id) = self.unsaved_tokens.remove(token_hash) {
            if let Some(u) = self.conversations.get_mut(&id).and_then(|m| m.unsaved.as_mut()) {
                u.token_hash = None;
            }
        }
        Step::new(Ok(Outcome::Changed), vec![])
    }

    /// Conversation `id` was stored as it stood at `version`, with the session of its
    /// token if `with_session`: a change made since is handed on to be stored too (storage
    /// had no row to keep it in). If that session ended meanwhile (a logout raced the first
    /// write), the outcome is `Err(SessionExpired)`: the caller revokes what it stored.
    pub(super) fn saved(&mut self, id: ConversationId, version: u64, with_session: bool) -> Step {
        let Some(meta) = self.conversations.get_mut(&id) else {
            return Step::new(Ok(Outcome::Stale), vec![]);
        };
        let Some(unsaved) = meta.unsaved.take() else {
            return Step::new(Ok(Outcome::Changed), vec![]);
        };
        let ended = with_session && unsaved.token_hash.is_none();
        let mut step = Step::new(
            if ended { Err(Problem::SessionExpired) } else { Ok(Outcome::Changed) },
            vec![],
        );
        if meta.version > version {
            step.changed.push(meta.clone());
        }
        if let Some(token_hash) = unsaved.token_hash {
            self.unsaved_tokens.remove(&token_hash);
        }
        step
    }

    /// Forgets the conversations idle for [`FORGET_AFTER_MS`] at least, unchanged all that
    /// while (by the clocks of the sweeps: every node of a cluster sweeps, so sweeps may come
    /// close together, but nothing is forgotten sooner); notes since when the others are idle.
    pub(super) fn sweep(&mut self, now_ms: u64) -> Step {
        self.ended.sweep(now_ms);
        let mut idle = HashMap::new();
        let mut forget = vec![];
        for (id, meta) in &self.conversations {
            if !self.is_idle(meta) {
                continue;
            }
            let since = match self.idle.get(id) {
                Some(&(version, seq, since)) if (version, seq) == (meta.version, meta.last_seq) => {
                    since
                }
                _ => now_ms,
            };
            if now_ms.saturating_sub(since) >= FORGET_AFTER_MS {
                forget.push(*id);
            } else {
                idle.insert(*id, (meta.version, meta.last_seq, since));
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

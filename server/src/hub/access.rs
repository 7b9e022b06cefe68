//! Who may see, read or act on a conversation.
//!
//! Owns: the one rule for agents ([`Hub::viewing_agent`]): every request an agent makes
//! about a conversation (a message to it by id or by the customer's name, its history, a
//! read receipt, typing, a note, its customer's profile, take, resolve, transfer) asks it
//! first, and a conversation
//! the agent may not see is answered exactly as one that does not exist
//! (`UnknownConversation`, or `UnknownRecipient` for a name). Also who sees a conversation
//! at all ([`Hub::sees`]), which decides who is sent its notes and summaries and whom the
//! catch-up at a login covers. (Live messages and typing go to fewer: the customer, the agent
//! who has it, every agent while it waits, the admins; see `messages.rs`.)
//! Must not: change anything; these are questions about the hub's state.

use app::protocol::Problem;
use app::protocol::{ConversationId, Status, UserName};

use crate::model::{AgentKey, Assignee, ConversationMeta, Identity};

use super::{ConnId, Hub};

impl Hub {
    /// The conversation `conn` may read, with its customer's name: a customer their own,
    /// an agent one they see.
    pub fn readable(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(Identity, UserName), Problem> {
        match self.identity(conn).ok_or(Problem::NotLoggedIn)? {
            Identity::Agent(_) => {
                let (me, meta) = self.viewing_agent(conn, id)?;
                Ok((Identity::Agent(me.key), meta.customer_name.clone()))
            }
            who @ Identity::Customer(_) => {
                let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
                if !self.sees(who, meta) {
                    return Err(Problem::UnknownConversation);
                }
                Ok((who.clone(), meta.customer_name.clone()))
            }
        }
    }

    /// Who may write an internal note in `id` from `conn`: an agent who sees it.
    pub fn note_author(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(AgentKey, UserName), Problem> {
        let (me, _) = self.viewing_agent(conn, id)?;
        Ok((me.key, me.name))
    }

    /// Whether the agent on `conn` may read or change the profile of conversation `id`'s
    /// customer: one who sees the conversation (their name, and the conversation), by
    /// [`Hub::viewing_agent`].
    pub fn customer_for_agent(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(UserName, &ConversationMeta), Problem> {
        let (me, meta) = self.viewing_agent(conn, id)?;
        Ok((me.name, meta))
    }

    /// Whether the customer on `conn` may rate resolution `seq` of conversation `id`: it is
    /// theirs (else `UnknownConversation`, as for one that does not exist), resolved, and
    /// nothing was written since (`NotRateable`). Agents are refused (`CustomersOnly`).
    pub fn rater(&self, conn: ConnId, id: ConversationId, seq: u64) -> Result<(), Problem> {
        let who = match self.identity(conn) {
            Some(who @ Identity::Customer(_)) => who,
            Some(Identity::Agent(_)) => return Err(Problem::CustomersOnly),
            None => return Err(Problem::NotLoggedIn),
        };
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        if !self.sees(who, meta) {
            return Err(Problem::UnknownConversation);
        }
        // Something must have been said (a conversation taken and resolved before anyone
        // wrote has nothing to rate, and is not stored).
        if Self::rateable(meta) && meta.last_seq == seq {
            Ok(())
        } else {
            Err(Problem::NotRateable)
        }
    }

    /// The resolution the customer on `conn` may rate: their conversation's, while it is
    /// resolved (whether it was rated already is storage's to say). `None` for anyone else.
    pub fn resolution(&self, conn: ConnId) -> Option<app::protocol::ResolvedAt> {
        let Some(Identity::Customer(customer)) = self.identity(conn) else { return None };
        let meta = self.conversations.get(self.by_customer.get(customer)?)?;
        Self::rateable(meta)
            .then_some(app::protocol::ResolvedAt { conversation: meta.id, seq: meta.last_seq })
    }

    /// Whether a conversation waits for its customer's rating: resolved, with something said
    /// in it (and so stored).
    pub(super) fn rateable(meta: &ConversationMeta) -> bool {
        meta.status == Status::Resolved && meta.last_seq > 0 && meta.unsaved.is_none()
    }

    /// Whether a (non-admin) agent sees a conversation: while it is new (the customer has
    /// not written: there is nothing in it to read, and any agent may greet them) or waits
    /// (anyone may take it), when it is theirs, and when they took part in it. Admins see
    /// every one.
    pub(super) fn involves(agent: &AgentKey, meta: &ConversationMeta) -> bool {
        matches!(meta.status, Status::New | Status::Queued)
            || meta.assignee.as_ref().is_some_and(|a| &a.key == agent)
            || meta.agents.contains(agent)
    }

    /// Whether `who` sees the conversation: a customer their own, an admin every one, an agent
    /// as [`Hub::involves`] says.
    pub(super) fn sees(&self, who: &Identity, meta: &ConversationMeta) -> bool {
        Self::visible(who, self.present.get(who).is_some_and(|p| p.admin), meta)
    }

    /// The rule [`Hub::sees`] applies, for someone who is an admin or not.
    fn visible(who: &Identity, admin: bool, meta: &ConversationMeta) -> bool {
        match who {
            Identity::Agent(key) => admin || Self::involves(key, meta),
            Identity::Customer(c) => *c == meta.customer,
        }
    }

    /// The conversation `id`, if `who` (an admin when `admin` says so) sees it: for
    /// requests that come with a session rather than over a connection (files, uploaded and
    /// fetched over HTTP), by the same rule as every other. One the hub does not know (the
    /// caller has it learnt from storage first) or that `who` may not see is
    /// `UnknownConversation` alike.
    pub fn seen_by(
        &self,
        who: &Identity,
        admin: bool,
        id: ConversationId,
    ) -> Result<&ConversationMeta, Problem> {
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        if Self::visible(who, admin, meta) {
            Ok(meta)
        } else {
            Err(Problem::UnknownConversation)
        }
    }

    /// The agent on `conn` and whether they are an admin, for a search (which asks storage
    /// first, then [`Hub::found`] of every conversation it found). Refused as [`Hub::agent`].
    pub fn searcher(&self, conn: ConnId) -> Result<(AgentKey, bool), Problem> {
        let key = self.agent(conn)?;
        let admin = self.present.get(&Identity::Agent(key.clone())).is_some_and(|p| p.admin);
        Ok((key, admin))
    }

    /// A conversation storage found for the agent on `conn` (a search), if they see it: as
    /// the hub has it when it knows it (storage may lag behind), as `stored` otherwise; by
    /// the same rule as every other request. `None` for anyone else.
    pub fn found<'a>(
        &'a self,
        conn: ConnId,
        stored: &'a ConversationMeta,
    ) -> Option<&'a ConversationMeta> {
        let who = self.identity(conn).filter(|who| matches!(who, Identity::Agent(_)))?;
        let admin = self.present.get(who).is_some_and(|p| p.admin);
        self.found_by(who, admin, stored)
    }

    /// [`Hub::found`], for a request that comes with a session or a token rather than over a
    /// connection (the REST API's lists): `who`, an admin when `admin` says so.
    pub fn found_by<'a>(
        &'a self,
        who: &Identity,
        admin: bool,
        stored: &'a ConversationMeta,
    ) -> Option<&'a ConversationMeta> {
        let meta = self.conversations.get(&stored.id).unwrap_or(stored);
        Self::visible(who, admin, meta).then_some(meta)
    }

    /// The one check before an agent acts on a conversation: the agent on `conn`, and the
    /// conversation if they see it. Refused for a customer (`AgentsOnly`) or nobody
    /// (`NotLoggedIn`) before anything is looked up; a conversation this agent may not see
    /// is `UnknownConversation`, as one that does not exist.
    pub(super) fn viewing_agent(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(Assignee, &ConversationMeta), Problem> {
        let key = self.agent(conn)?;
        let who = Identity::Agent(key.clone());
        let name = self.present.get(&who).map(|p| p.name.clone()).ok_or(Problem::NotLoggedIn)?;
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        if !self.sees(&who, meta) {
            return Err(Problem::UnknownConversation);
        }
        Ok((Assignee { key, name }, meta))
    }

    /// The agent account behind `conn`: refused, as every agent-only request is, for a
    /// customer or a connection not logged in (asked before anything about the request is
    /// looked up, so that it tells them nothing).
    pub fn agent(&self, conn: ConnId) -> Result<AgentKey, Problem> {
        match self.identity(conn) {
            Some(Identity::Agent(key)) => Ok(key.clone()),
            Some(Identity::Customer(_)) => Err(Problem::AgentsOnly),
            None => Err(Problem::NotLoggedIn),
        }
    }

    /// The agent behind `conn`, if they hold conversation `id` open (who may resolve or
    /// transfer it); `NotYours` when they see it but someone else holds it or it is not open.
    pub(super) fn holding_agent(&self, conn: ConnId, id: ConversationId) -> Result<(), Problem> {
        let (me, meta) = self.viewing_agent(conn, id)?;
        let mine = meta.assignee.as_ref().is_some_and(|a| a.key == me.key);
        if meta.status == Status::Open && mine {
            Ok(())
        } else {
            Err(Problem::NotYours)
        }
    }
}

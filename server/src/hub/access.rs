//! Who may see, read or act on a conversation.
//!
//! Owns: the questions the handlers ask before reading or acting on a conversation (who
//! sees it, who may read its history, write a note, take, resolve or transfer it), so that
//! they stay in one place and agree. Not yet every such decision: who a message may go to
//! (`Hub::plan`) and who hears typing are still decided in `messages.rs`, and whether
//! someone is an admin in `presence.rs`.
//! Must not: change anything; these are questions about the hub's state.

use app::protocol::Problem;
use app::protocol::{ConversationId, Status, UserName};

use crate::model::{AgentKey, Assignee, ConversationMeta, Identity};

use super::{ConnId, Hub};

impl Hub {
    /// The conversation `conn` may read, with its customer's name.
    pub fn readable(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(Identity, UserName), Problem> {
        let who = self.identity(conn).ok_or(Problem::NotLoggedIn)?;
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        if !self.sees(who, meta) {
            return Err(Problem::UnknownConversation);
        }
        Ok((who.clone(), meta.customer_name.clone()))
    }

    /// Who may write an internal note in `id` from `conn`: an agent, in a conversation
    /// the hub knows.
    pub fn note_author(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(AgentKey, UserName), Problem> {
        let (me, _) = self.viewing_agent(conn, id)?;
        Ok((me.key, me.name))
    }

    /// Whether a (non-admin) agent sees a conversation: while it waits (anyone may take
    /// it), when it is theirs, and when they took part in it. Admins see every one.
    pub(super) fn involves(agent: &AgentKey, meta: &ConversationMeta) -> bool {
        meta.status == Status::Queued
            || meta.assignee.as_ref().is_some_and(|a| &a.key == agent)
            || meta.agents.contains(agent)
    }

    /// Whether the agent `who` sees the conversation.
    pub(super) fn sees(&self, who: &Identity, meta: &ConversationMeta) -> bool {
        match who {
            Identity::Agent(key) => {
                self.present.get(who).is_some_and(|p| p.admin) || Self::involves(key, meta)
            }
            Identity::Customer(c) => *c == meta.customer,
        }
    }

    /// [`Hub::acting_agent`], for a conversation the agent sees.
    pub(super) fn viewing_agent(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(Assignee, &ConversationMeta), Problem> {
        let (me, meta) = self.acting_agent(conn, id)?;
        if !self.sees(&Identity::Agent(me.key.clone()), meta) {
            return Err(Problem::UnknownConversation);
        }
        Ok((me, meta))
    }

    /// The agent on `conn` and the conversation they act on.
    pub(super) fn acting_agent(
        &self,
        conn: ConnId,
        id: ConversationId,
    ) -> Result<(Assignee, &ConversationMeta), Problem> {
        let key = self.agent(conn)?;
        let name = self
            .present
            .get(&Identity::Agent(key.clone()))
            .map(|p| p.name.clone())
            .ok_or(Problem::NotLoggedIn)?;
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
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
    /// transfer it); `NotYours` when someone else holds it or it is not open.
    pub(super) fn holding_agent(&self, conn: ConnId, id: ConversationId) -> Result<(), Problem> {
        let (me, meta) = self.acting_agent(conn, id)?;
        let mine = meta.assignee.as_ref().is_some_and(|a| a.key == me.key);
        if meta.status == Status::Open && mine {
            Ok(())
        } else {
            Err(Problem::NotYours)
        }
    }
}

//! Where each conversation stands: the queue of waiting ones, the open count per agent,
//! and the moves between them (take, resolve, transfer, and the queue handing work out).
//!
//! Owns: every change of a conversation's status or assignee, through [`Hub::update`],
//! which keeps the queue and counts right, raises the version and tells the agents.
//! Must not: decide who may act on a conversation (`access.rs`) or what a message stores
//! (`messages.rs`).

use app::protocol::Problem;
use app::protocol::{ConversationId, MessageText, ServerEvent, Status};

use crate::model::{Assignee, ConversationMeta, Identity};

use super::{ConnId, Hub, Outbound, Outcome, Step};

impl Hub {
    /// The conversations waiting for an agent, oldest first.
    pub fn waiting(&self) -> Vec<ConversationMeta> {
        self.queue.iter().filter_map(|(_, id)| self.conversations.get(id).cloned()).collect()
    }

    /// Whether the hub knows the conversation (it learns them at logins).
    pub fn knows(&self, id: ConversationId) -> bool {
        self.conversations.contains_key(&id)
    }

    /// Learns a conversation read from storage, unless already known: what the hub holds
    /// is never older than storage, since every change to a known conversation passes
    /// through the hub.
    pub fn learn(&mut self, meta: ConversationMeta) {
        if !self.conversations.contains_key(&meta.id) {
            self.by_customer.insert(meta.customer, meta.id);
            self.revision = self.revision.max(meta.version);
            self.count(&meta, true);
            self.conversations.insert(meta.id, meta);
        }
    }

    /// An agent takes a conversation they see, unless another agent has it open.
    pub(super) fn take(&mut self, conn: ConnId, id: ConversationId) -> Step {
        let me = match self.acting_agent(conn, id) {
            Ok((me, meta)) => match (&meta.status, &meta.assignee) {
                (Status::Open, Some(a)) if a.key == me.key => {
                    return self.step(Ok(Outcome::Changed), vec![])
                }
                (Status::Open, Some(a)) => {
                    return Self::refuse(conn, Problem::AlreadyAssigned(a.name.to_string()))
                }
                _ if !self.sees(&Identity::Agent(me.key.clone()), meta) => {
                    return Self::refuse(conn, Problem::UnknownConversation)
                }
                _ => me,
            },
            Err(problem) => return Self::refuse(conn, problem),
        };
        let mut out = vec![];
        self.assign(id, me, None, &mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    /// The agent who has a conversation open resolves it; the queue may fill their room.
    pub(super) fn resolve(&mut self, conn: ConnId, id: ConversationId) -> Step {
        if let Err(problem) = self.holding_agent(conn, id) {
            return Self::refuse(conn, problem);
        }
        let mut out = vec![];
        self.update(id, &mut out, |m| {
            m.status = Status::Resolved;
            m.note = None;
        });
        // Room for the next one in the queue.
        self.assign_waiting(&mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    /// The agent who has a conversation open hands it, with an optional note, to `to`.
    pub(super) fn transfer(
        &mut self,
        conn: ConnId,
        id: ConversationId,
        to: Assignee,
        note: String,
    ) -> Step {
        if let Err(problem) = self.holding_agent(conn, id) {
            return Self::refuse(conn, problem);
        }
        // A note is a message to a colleague: none, or one within the message limit.
        let note = match note.trim() {
            "" => None,
            text => match MessageText::parse(text) {
                Ok(text) => Some(text.as_str().to_owned()),
                Err(problem) => return Self::refuse(conn, problem),
            },
        };
        let mut out = vec![];
        self.assign(id, to, note, &mut out);
        self.assign_waiting(&mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    /// Adds (or removes) a conversation to the queue and open counts, by its state.
    fn count(&mut self, meta: &ConversationMeta, add: bool) {
        match (meta.status, &meta.assignee) {
            (Status::Queued, _) => {
                if add {
                    self.queue.insert((meta.queued_at, meta.id));
                } else {
                    self.queue.remove(&(meta.queued_at, meta.id));
                }
            }
            (Status::Open, Some(a)) => {
                let n = self.open_by.entry(a.key.clone()).or_default();
                *n = if add { *n + 1 } else { n.saturating_sub(1) };
            }
            _ => {}
        }
    }

    /// Changes where a conversation stands, keeping the queue and counts right, and tells
    /// every online agent.
    pub(super) fn update(
        &mut self,
        id: ConversationId,
        out: &mut Vec<Outbound>,
        change: impl FnOnce(&mut ConversationMeta),
    ) {
        let Some(mut meta) = self.conversations.remove(&id) else { return };
        self.count(&meta, false);
        let before = meta.clone();
        change(&mut meta);
        self.revision += 1;
        meta.version = self.revision;
        self.count(&meta, true);
        // Whoever saw it before (the agent it leaves, say) learns where it went.
        let summary = ServerEvent::Conversation(meta.summary());
        for (key, p) in self.online_agents() {
            if p.admin || Self::involves(key, &before) || Self::involves(key, &meta) {
                out.extend(p.conns.iter().map(|&to| Outbound { to, event: summary.clone() }));
            }
        }
        self.changed.retain(|m| m.id != id);
        self.changed.push(meta.clone());
        self.conversations.insert(id, meta);
    }

    /// Gives `agent` the conversation.
    pub(super) fn assign(
        &mut self,
        id: ConversationId,
        agent: Assignee,
        note: Option<String>,
        out: &mut Vec<Outbound>,
    ) {
        self.ticks += 1;
        self.last_given.insert(agent.key.clone(), self.ticks);
        self.update(id, out, |m| {
            m.status = Status::Open;
            m.agents.insert(agent.key.clone());
            m.assignee = Some(agent);
            m.note = note;
        });
    }

    /// The online agent the queue gives the next conversation to: one with room who is
    /// not away, the fewest open conversations, then the one given one longest ago.
    fn next_agent(&self) -> Option<Assignee> {
        self.online_agents()
            .filter(|(_, p)| !p.is_away())
            .map(|(key, p)| {
                (
                    self.open_by.get(key).copied().unwrap_or(0),
                    self.last_given.get(key).copied().unwrap_or(0),
                    key,
                    p,
                )
            })
            .filter(|(open, ..)| *open < self.capacity)
            .min_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)))
            .map(|(_, _, key, p)| Assignee { key: key.clone(), name: p.name.clone() })
    }

    /// Hands waiting conversations, oldest first, to agents with room.
    pub(super) fn assign_waiting(&mut self, out: &mut Vec<Outbound>) {
        while let Some(&(_, id)) = self.queue.iter().next() {
            let Some(agent) = self.next_agent() else { break };
            self.assign(id, agent, None, out);
        }
    }
}

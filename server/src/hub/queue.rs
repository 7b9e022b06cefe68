//! Where each conversation stands: the queue of waiting ones, the open count per agent,
//! and the moves between them (take, resolve, transfer, and the queue handing work out).
//!
//! Owns: every change of a conversation's status or assignee, through [`Hub::update`],
//! which keeps the queue and counts right and raises the version; and telling the agents,
//! once per command, where the changed conversations ended up ([`Hub::tell_changes`], run
//! by `Hub::step`: a handler that changes a conversation ends with `self.step`).
//! Must not: decide who may act on a conversation (`access.rs`) or what a message stores
//! (`messages.rs`).

use app::protocol::Problem;
use app::protocol::{
    ConversationId, ConversationRef, MessageText, ResolvedAt, ServerEvent, Status,
};

use crate::model::{Assignee, ConversationMeta, Identity};

use super::{ConnId, Hub, Outbound, Outcome, Step, QUEUE_WAITS_KEPT};

impl Hub {
    /// The conversations waiting for an agent, oldest first.
    pub fn waiting(&self) -> Vec<ConversationMeta> {
        self.queue.iter().filter_map(|(_, id)| self.conversations.get(id).cloned()).collect()
    }

    /// How many conversations wait for an agent, and since when the oldest waits.
    pub fn queue_census(&self) -> (usize, Option<u64>) {
        (self.queue.len(), self.queue.first().map(|(at, _)| *at))
    }

    /// When each conversation given to an agent since the last call had entered the queue.
    pub fn take_queue_waits(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.queue_waits)
    }

    /// Whether the hub knows the conversation (it learns them at logins, and forgets the
    /// idle).
    pub fn knows(&self, id: ConversationId) -> bool {
        self.conversations.contains_key(&id)
    }

    /// Learns a conversation read from storage, unless already known: what the hub holds
    /// is never older than storage, since every change to a known conversation passes
    /// through the hub.
    pub fn learn(&mut self, meta: ConversationMeta) {
        if !self.conversations.contains_key(&meta.id) {
            self.by_customer.insert(meta.customer, meta.id);
            if let Some(token_hash) = meta.unsaved.as_ref().and_then(|u| u.token_hash.clone()) {
                self.unsaved_tokens.insert(token_hash, meta.id);
            }
            self.revision = self.revision.max(meta.version);
            self.count(&meta, true);
            self.conversations.insert(meta.id, meta);
        }
    }

    /// An agent takes a conversation they see, unless another agent has it open.
    pub(super) fn take(&mut self, conn: ConnId, id: ConversationId) -> Step {
        let me = match self.viewing_agent(conn, id) {
            Ok((me, meta)) => match &meta.assignee {
                Some(a) if meta.status == Status::Open && a.key == me.key => {
                    return self.step(Ok(Outcome::Changed), vec![])
                }
                // Whoever has it is not named: a refusal tells no more than the summaries
                // this agent is sent.
                Some(_) if meta.status == Status::Open => {
                    return Self::refuse(conn, Problem::AlreadyAssigned)
                }
                _ => me,
            },
            Err(problem) => return Self::refuse(conn, problem),
        };
        self.assign(id, me, None);
        self.step(Ok(Outcome::Changed), vec![])
    }

    /// The agent who has a conversation open resolves it; the queue may fill their room.
    pub(super) fn resolve(&mut self, conn: ConnId, id: ConversationId) -> Step {
        if let Err(problem) = self.holding_agent(conn, id) {
            return Self::refuse(conn, problem);
        }
        self.close(id)
    }

    /// Marks a conversation resolved and tells its customer; its agent's room goes to the
    /// queue.
    pub(super) fn close(&mut self, id: ConversationId) -> Step {
        self.update(id, |m| {
            m.status = Status::Resolved;
            m.note = None;
        });
        // The customer is told (they may rate it): this resolution is named by the newest
        // message.
        // (Resolved again with nothing said since is the same resolution: told again, it is
        // rated once; the page thanks whoever answers twice.)
        let told = self.conversations.get(&id).filter(|m| Self::rateable(m)).map(|meta| {
            let event = ServerEvent::Resolved(ResolvedAt { conversation: id, seq: meta.last_seq });
            let customer = Identity::Customer(meta.customer);
            self.conns_of(&customer)
                .map(|to| Outbound { to, event: event.clone() })
                .collect::<Vec<_>>()
        });
        // Room for the next one in the queue.
        self.assign_waiting();
        self.step(Ok(Outcome::Changed), told.unwrap_or_default())
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
        self.hand(id, to, note).unwrap_or_else(|problem| Self::refuse(conn, problem))
    }

    /// Hands a conversation, with an optional note (none, or one within the message limit),
    /// to `to`; the queue may fill the room it leaves.
    pub(super) fn hand(
        &mut self,
        id: ConversationId,
        to: Assignee,
        note: String,
    ) -> Result<Step, Problem> {
        let note = match note.trim() {
            "" => None,
            text => Some(MessageText::parse(text)?.as_str().to_owned()),
        };
        self.assign(id, to, note);
        self.assign_waiting();
        Ok(self.step(Ok(Outcome::Changed), vec![]))
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

    /// Changes where a conversation stands, keeping the queue and counts right. The agents
    /// are told when the command's step is made ([`Hub::tell_changes`]), once, of where it
    /// ended up.
    pub(super) fn update(
        &mut self,
        id: ConversationId,
        change: impl FnOnce(&mut ConversationMeta),
    ) {
        let Some(before) = self.conversations.get(&id) else { return };
        // Who saw it before its first change in this command: told where it went, or that
        // it is gone for them.
        if !self.seen_before.contains_key(&id) {
            // A new one (the customer has not written) is in nobody's console yet: agents may
            // open it by id or name (to greet the customer), but it is never pushed to them.
            let seen =
                if before.status == Status::New { vec![] } else { self.agent_viewers(before) };
            self.seen_before.insert(id, seen);
        }
        let Some(mut meta) = self.conversations.remove(&id) else { return };
        self.count(&meta, false);
        change(&mut meta);
        self.revision += 1;
        meta.version = self.revision;
        self.count(&meta, true);
        self.changed.retain(|m| m.id != id);
        self.changed.push(meta.clone());
        self.conversations.insert(id, meta);
    }

    /// Tells the agents where the conversations changed by this command now stand: those
    /// who see one get its summary; those who saw it before and no longer do (a waiting one
    /// a colleague took) only that it is gone, never who has it.
    pub(super) fn tell_changes(&mut self, out: &mut Vec<Outbound>) {
        let mut seen_before = std::mem::take(&mut self.seen_before);
        for meta in &self.changed {
            let now = self.agent_viewers(meta);
            let summary = ServerEvent::Conversation(meta.summary());
            let gone = ServerEvent::ConversationGone(ConversationRef { conversation: meta.id });
            let before = seen_before.remove(&meta.id).unwrap_or_default();
            out.extend(
                before
                    .into_iter()
                    .filter(|conn| !now.contains(conn))
                    .map(|to| Outbound { to, event: gone.clone() }),
            );
            out.extend(now.into_iter().map(|to| Outbound { to, event: summary.clone() }));
        }
    }

    /// Gives `agent` the conversation.
    pub(super) fn assign(&mut self, id: ConversationId, agent: Assignee, note: Option<String>) {
        if let Some(m) = self.conversations.get(&id).filter(|m| m.status == Status::Queued) {
            if self.queue_waits.len() < QUEUE_WAITS_KEPT {
                self.queue_waits.push(m.queued_at);
            }
        }
        self.ticks += 1;
        self.last_given.insert(agent.key.clone(), self.ticks);
        self.update(id, |m| {
            m.status = Status::Open;
            m.agents.insert(agent.key.clone());
            m.assignee = Some(agent);
            m.note = note;
        });
    }

    /// The online agent the queue gives the next conversation to: one with room who is
    /// neither away nor busy, the fewest open conversations, then the one given one longest
    /// ago.
    fn next_agent(&self) -> Option<Assignee> {
        self.online_agents()
            .filter(|(_, p)| p.takes_new())
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
    pub(super) fn assign_waiting(&mut self) {
        while let Some(&(_, id)) = self.queue.iter().next() {
            let Some(agent) = self.next_agent() else { break };
            self.assign(id, agent, None);
        }
    }
}

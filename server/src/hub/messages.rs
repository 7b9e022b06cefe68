//! What a message stores and who receives it once stored; internal notes, read
//! receipts and typing, which travel the same ways.
//!
//! Owns: [`Hub::plan`] (whether a message may be sent, and to which conversation) and
//! delivery, including messages whose first delivery was missed.
//! Must not: deliver anything that was not stored: [`Hub::plan`] changes nothing.

use std::collections::BTreeSet;

use app::protocol::Problem;
use app::protocol::{
    ConversationId, MessageText, Note, PrivateMessage, Rating, ReadUpTo, ServerEvent, Status,
    Typing, UserName, ATTACHMENTS_PER_MESSAGE, TYPING_EVERY_MS,
};

use crate::model::{AgentKey, Appended, Assignee, Identity, NameKey, NewMessage};

use super::presence::Present;
use super::{ConnId, Hub, Outbound, Outcome, Step};

/// Most missed sequence numbers remembered per conversation (the oldest are forgotten:
/// they are in every catch-up).
const MISSED_KEPT: usize = 256;

impl Hub {
    /// Decides what a `private_message` from `conn` stores, or why it is refused.
    /// Changes nothing: the message exists once stored and [`Command::Deliver`](super::Command::Deliver)ed.
    pub fn plan(
        &self,
        conn: ConnId,
        request: PrivateMessage,
        now_ms: u64,
    ) -> Result<NewMessage, Problem> {
        let who = self.identity(conn).ok_or(Problem::NotLoggedIn)?;
        let from = self.present.get(who).map(|p| p.name.clone()).ok_or(Problem::NotLoggedIn)?;
        let text = if request.attachments.is_empty() {
            MessageText::parse(&request.message)?
        } else if request.attachments.len() > ATTACHMENTS_PER_MESSAGE {
            return Err(Problem::TooManyAttachments);
        } else {
            // Files may go without a word.
            MessageText::parse_or_empty(&request.message)?
        };
        let to_raw = request.to.trim();
        let to_key = NameKey::of_str(to_raw);
        if !to_key.is_empty() && to_key == NameKey::of(&from) {
            return Err(Problem::MessageToSelf);
        }
        let (conversation, to, joins) = match who {
            Identity::Customer(customer) => {
                let own = *self.by_customer.get(customer).ok_or(Problem::Internal)?;
                if request.conversation.is_some_and(|c| c != own) {
                    return Err(Problem::UnknownConversation);
                }
                if to_key.is_empty() {
                    (own, None, None)
                } else {
                    // An online agent, or an agent of this conversation who is away. A
                    // customer learns nothing about other customers, not even whether
                    // one is online.
                    let agent = AgentKey::from_key(to_key.clone());
                    let online = self
                        .agents
                        .get(&to_key)
                        .and_then(|w| self.present.get(w))
                        .map(|p| p.name.clone());
                    let name = match online {
                        Some(name) => name,
                        None if self
                            .conversations
                            .get(&own)
                            .is_some_and(|m| m.agents.contains(&agent)) =>
                        {
                            UserName::parse(to_raw)?
                        }
                        None => return Err(Problem::RecipientNotAllowed(to_raw.to_owned())),
                    };
                    // Naming an agent brings them in only while no colleague has the
                    // conversation: a customer does not hand someone else's conversation
                    // (its history and notes) to another agent. It goes to the one who has it,
                    // addressed to the team (no copy names an agent who never got it).
                    let held_by_other = self.conversations.get(&own).is_some_and(|m| {
                        m.status == Status::Open
                            && m.assignee.as_ref().is_some_and(|a| a.key != agent)
                    });
                    if held_by_other {
                        (own, None, None)
                    } else {
                        (own, Some(name), Some(agent))
                    }
                }
            }
            Identity::Agent(me) => {
                let id = match request.conversation {
                    Some(id) => id,
                    None if to_key.is_empty() => return Err(Problem::NoRecipient),
                    None => self.conversation_named(&to_key).ok_or_else(|| {
                        if self.agents.contains_key(&to_key) {
                            Problem::AgentToAgent
                        } else {
                            Problem::UnknownRecipient(to_raw.to_owned())
                        }
                    })?,
                };
                // A conversation this agent may not see is answered as one that does not
                // exist, by id or by name.
                let customer = match self.viewing_agent(conn, id) {
                    Ok((_, meta)) => meta.customer_name.clone(),
                    Err(Problem::UnknownConversation) if request.conversation.is_none() => {
                        return Err(Problem::UnknownRecipient(to_raw.to_owned()))
                    }
                    Err(problem) => return Err(problem),
                };
                (id, Some(customer), Some(me.clone()))
            }
        };
        Ok(NewMessage {
            conversation,
            author: who.clone(),
            from,
            to,
            joins,
            text,
            client_id: request.client_id,
            ts: now_ms,
            // The ids the request names are the transport's to look up (the files are in
            // storage; see `transport::files`).
            attachments: vec![],
        })
    }

    /// The conversation of the customer called `key`: the one online, else the newest
    /// known one of that name.
    fn conversation_named(&self, key: &NameKey) -> Option<ConversationId> {
        if let Some(Identity::Customer(c)) = self.customers.get(key) {
            return self.by_customer.get(c).copied();
        }
        self.conversations
            .values()
            .filter(|m| NameKey::of(&m.customer_name) == *key)
            .map(|m| m.id)
            .max()
    }

    /// Sends a stored message to whoever sees its conversation, after moving a conversation
    /// that is not open: an agent writing takes it; a customer's goes to an agent or the queue.
    pub(super) fn deliver(&mut self, appended: Appended, joins: Option<AgentKey>) -> Step {
        // A duplicate was stored (and delivered) the first time it was sent, unless its
        // delivery was missed.
        if !self.first_delivery(&appended) {
            return self.step(Ok(Outcome::Delivered), vec![]);
        }
        let message = appended.message;
        let id = message.conversation;
        let Some(meta) = self.conversations.get_mut(&id) else {
            return self.step(Err(Problem::UnknownConversation), vec![]);
        };
        meta.last_seq = meta.last_seq.max(message.seq);
        // One more unread message: counted here, once, as it arrives.
        let counted =
            matches!(message.author, Identity::Customer(_)) && message.seq > meta.read_seq;
        if counted {
            meta.unread.push(message.seq);
        }
        let meta = &self.conversations[&id];
        let mut out = vec![];
        // Where the conversation goes now.
        let online_agent = |hub: &Hub, key: &AgentKey| {
            hub.present
                .get(&Identity::Agent(key.clone()))
                .map(|p| Assignee { key: key.clone(), name: p.name.clone() })
        };
        let open = meta.status == Status::Open;
        match &message.author {
            // An agent who writes in a conversation nobody has takes it.
            Identity::Agent(me) if !open => {
                if let Some(me) = online_agent(self, me) {
                    self.assign(id, me, None);
                }
            }
            Identity::Customer(_) if !open => {
                // A customer who writes to an agent by name reaches that agent (the
                // tutorial's way); one who had an agent before gets them back if they have
                // room; anyone else waits in the queue.
                let named = joins.as_ref().and_then(|k| online_agent(self, k));
                let previous = (meta.status == Status::Resolved)
                    .then_some(meta.assignee.as_ref())
                    .flatten()
                    .and_then(|a| online_agent(self, &a.key))
                    .filter(|a| {
                        self.present
                            .get(&Identity::Agent(a.key.clone()))
                            .is_some_and(Present::takes_new)
                    })
                    .filter(|a| self.open_by.get(&a.key).copied().unwrap_or(0) < self.capacity);
                match named.or(previous) {
                    Some(agent) => self.assign(id, agent, None),
                    None if meta.status != Status::Queued => {
                        let at = message.ts;
                        self.update(id, |m| {
                            m.status = Status::Queued;
                            m.queued_at = at;
                        });
                    }
                    None => {}
                }
            }
            _ => {}
        }
        let Some(meta) = self.conversations.get_mut(&id) else {
            return self.step(Err(Problem::UnknownConversation), out);
        };
        if let Some(agent) = joins {
            meta.agents.insert(agent);
        }
        // Whatever waits goes to agents with room now, so that the message goes where the
        // conversation ends up (not to every agent, for one an agent takes at once).
        self.assign_waiting();
        // Borrowed, not cloned: a message must not cost a copy of its conversation.
        let meta = &self.conversations[&id];
        // The customer and the agent who has it; while it waits, every agent (so that
        // whoever takes it has it already); admins always. The author's other tabs too.
        let customer = Identity::Customer(meta.customer);
        let mut viewers: Vec<Identity> = vec![customer];
        match (&meta.status, &meta.assignee) {
            (Status::Open, Some(a)) => viewers.push(Identity::Agent(a.key.clone())),
            (Status::Queued, _) => viewers.extend(self.agents.values().cloned()),
            _ => {}
        }
        for (key, p) in self.online_agents() {
            let who = Identity::Agent(key.clone());
            if p.admin && !viewers.contains(&who) {
                viewers.push(who);
            }
        }
        if !viewers.contains(&message.author) {
            viewers.push(message.author.clone());
        }
        let mut reached = BTreeSet::new();
        for viewer in &viewers {
            let Some(present) = self.present.get(viewer) else { continue };
            let event = ServerEvent::Message(message.to_wire(&meta.customer_name, viewer));
            for conn in &present.conns {
                out.push(Outbound { to: *conn, event: event.clone() });
                reached.insert(*conn);
            }
        }
        if counted && !self.changed.iter().any(|m| m.id == id) {
            // One more unread: an agent who got the message counts it (the count in the
            // last summary, plus the customer's messages since); the others who see the
            // conversation get its new count. (A status change is told by `tell_changes`, at
            // the end of the step.)
            let summary = ServerEvent::Conversation(meta.summary());
            let others: Vec<ConnId> =
                self.agent_viewers(meta).into_iter().filter(|c| !reached.contains(c)).collect();
            out.extend(others.into_iter().map(|to| Outbound { to, event: summary.clone() }));
        }
        self.step(Ok(Outcome::Delivered), out)
    }

    /// Whether a stored message is to be delivered now: a new one always; a duplicate (a
    /// retry) only when the first one's delivery was missed. Notes the messages a new one
    /// shows were skipped.
    fn first_delivery(&mut self, appended: &Appended) -> bool {
        let (id, seq) = (appended.message.conversation, appended.message.seq);
        let Some(last_seq) = self.conversations.get(&id).map(|m| m.last_seq) else { return true };
        let was_missed = self.missed.get_mut(&id).is_some_and(|missed| missed.remove(&seq));
        if seq > last_seq + 1 {
            // Whatever lies between was stored (numbers are taken in order) but not delivered.
            let missed = self.missed.entry(id).or_default();
            missed.extend((last_seq + 1).max(seq.saturating_sub(MISSED_KEPT as u64))..seq);
            while missed.len() > MISSED_KEPT {
                missed.pop_first();
            }
        }
        if self.missed.get(&id).is_some_and(BTreeSet::is_empty) {
            self.missed.remove(&id);
        }
        !appended.duplicate || was_missed || seq > last_seq
    }

    /// Passes a stored internal note to the agents who see its conversation; customers never.
    pub(super) fn noted(&self, note: Note) -> Step {
        let Some(meta) = self.conversations.get(&note.conversation) else {
            return Step::new(Err(Problem::UnknownConversation), vec![]);
        };
        let event = ServerEvent::Note(note);
        let outbound = self
            .agent_viewers(meta)
            .into_iter()
            .map(|to| Outbound { to, event: event.clone() })
            .collect();
        Step::new(Ok(Outcome::Delivered), outbound)
    }

    /// Passes a stored rating to the agents who see its conversation and to its customer
    /// (every tab of theirs stops asking).
    pub(super) fn rated(&self, rating: Rating) -> Step {
        let Some(meta) = self.conversations.get(&rating.conversation) else {
            return Step::new(Err(Problem::UnknownConversation), vec![]);
        };
        let event = ServerEvent::Rating(rating);
        let customer = Identity::Customer(meta.customer);
        let outbound = self
            .agent_viewers(meta)
            .into_iter()
            .chain(self.conns_of(&customer))
            .map(|to| Outbound { to, event: event.clone() })
            .collect();
        Step::new(Ok(Outcome::Delivered), outbound)
    }

    /// Moves the support side's read position forward and tells the customer (only them:
    /// read receipts are for the customer).
    pub(super) fn read(&mut self, conn: ConnId, id: ConversationId, seq: u64) -> Step {
        let (read_seq, last_seq) = match self.viewing_agent(conn, id) {
            Ok((_, meta)) => (meta.read_seq, meta.last_seq),
            Err(problem) => return Self::refuse(conn, problem),
        };
        if seq > last_seq {
            // Beyond the newest message: the customer's next messages would count as read
            // before anyone saw them.
            return Self::refuse(conn, Problem::Malformed(app::protocol::READ.into()));
        }
        if seq <= read_seq {
            return Step::new(Ok(Outcome::Delivered), vec![]);
        }
        let Some(meta) = self.conversations.get_mut(&id) else {
            return Self::refuse(conn, Problem::UnknownConversation);
        };
        meta.read_seq = seq;
        let was_unread = meta.unread.len();
        meta.unread.retain(|&s| s > seq);
        self.revision += 1;
        meta.version = self.revision;
        let meta = meta.clone();
        let event = ServerEvent::Read(ReadUpTo { conversation: id, seq });
        let mut outbound: Vec<Outbound> = self
            .conns_of(&Identity::Customer(meta.customer))
            .map(|to| Outbound { to, event: event.clone() })
            .collect();
        if meta.unread.len() != was_unread {
            // The unread count of this one conversation, to every agent who sees it.
            let summary = ServerEvent::Conversation(meta.summary());
            outbound.extend(
                self.agent_viewers(&meta)
                    .into_iter()
                    .map(|to| Outbound { to, event: summary.clone() }),
            );
        }
        Step { outcome: Ok(Outcome::Delivered), outbound, changed: vec![meta] }
    }

    /// Passes "typing" to the other side of the conversation only: the customer, or the
    /// agent who has it (every agent while it waits). At most once per
    /// [`TYPING_EVERY_MS`] per person and conversation, whatever clients send.
    pub(super) fn typing(
        &mut self,
        conn: ConnId,
        conversation: Option<ConversationId>,
        now_ms: u64,
    ) -> Step {
        let Some(who) = self.identity(conn).cloned() else {
            return Self::refuse(conn, Problem::NotLoggedIn);
        };
        let id = match (&who, conversation) {
            (Identity::Customer(c), _) => self.by_customer.get(c).copied(),
            // Into a conversation this agent may not see, typing reaches nobody.
            (Identity::Agent(_), Some(id)) => self.viewing_agent(conn, id).ok().map(|_| id),
            (Identity::Agent(_), None) => None,
        };
        let (Some(id), Some(from)) = (id, self.present.get(&who).map(|p| p.name.clone())) else {
            return Self::refuse(conn, Problem::UnknownConversation);
        };
        let last = self.typing.entry((who.clone(), id)).or_insert(0);
        if *last != 0 && now_ms < *last + TYPING_EVERY_MS / 2 {
            return Step::new(Ok(Outcome::Delivered), vec![]);
        }
        *last = now_ms;
        let meta = &self.conversations[&id];
        let viewers: Vec<Identity> = match &who {
            Identity::Agent(_) => vec![Identity::Customer(meta.customer)],
            Identity::Customer(_) => match (&meta.status, &meta.assignee) {
                (Status::Open, Some(a)) => vec![Identity::Agent(a.key.clone())],
                (Status::Queued, _) => self.agents.values().cloned().collect(),
                _ => vec![],
            },
        };
        let event = ServerEvent::Typing(Typing { conversation: id, from });
        let outbound = viewers
            .iter()
            .filter(|v| **v != who)
            .flat_map(|v| self.conns_of(v))
            .map(|to| Outbound { to, event: event.clone() })
            .collect();
        Step::new(Ok(Outcome::Delivered), outbound)
    }
}

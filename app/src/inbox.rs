//! What a participant holds of their conversations: the stored messages received so far and
//! the messages written here that the server has not confirmed yet.
//!
//! Owns: ordering and de-duplication of received messages (by conversation and sequence
//! number), the outbox (pending → stored, or failed with a reason and a retry), unread
//! counts, and the cursors a reconnecting client sends so that the server resends exactly
//! what is missing. Plain data, no signals and no I/O, so it is tested natively; the
//! browser keeps one inside a signal ([`crate::state::ChatState`]).
//! Must not: talk to the server or render anything.

use std::collections::BTreeMap;

use crate::protocol::{
    Attachment, ChatMessage, ClientMsgId, ConversationId, Cursor, History, Note, PrivateMessage,
    Rating, UserName, CURSOR_HELD_MAX,
};

/// Where a message written here goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An existing conversation.
    Conversation(ConversationId),
    /// An online customer whose conversation this agent has not seen yet.
    Person(UserName),
}

/// One conversation as this participant knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub customer: UserName,
    /// Stored messages by sequence number.
    pub messages: BTreeMap<u64, ChatMessage>,
    /// The server has older messages than the first one held.
    pub more: bool,
    /// Messages from others received while the thread was not open.
    pub unread: usize,
    /// Internal notes (agents only), by id.
    pub notes: BTreeMap<u64, Note>,
    /// The customer's ratings (agents only), by the resolution rated.
    pub ratings: BTreeMap<u64, Rating>,
}

impl Thread {
    fn new(customer: UserName) -> Self {
        Self {
            customer,
            messages: BTreeMap::new(),
            more: false,
            unread: 0,
            notes: BTreeMap::new(),
            ratings: BTreeMap::new(),
        }
    }

    /// The highest sequence number up to which nothing is missing, counting from the
    /// first message held.
    pub fn contiguous(&self) -> Option<u64> {
        let mut seqs = self.messages.keys();
        let mut last = *seqs.next()?;
        for &seq in seqs {
            if seq != last + 1 {
                break;
            }
            last = seq;
        }
        Some(last)
    }
}

/// Where a message written here stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Waiting to be sent, or sent and not confirmed yet.
    Pending,
    /// Refused by the server, with its reason; the person may retry.
    Failed(String),
}

/// A message written here that the server has not confirmed as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub client_id: ClientMsgId,
    pub target: Target,
    pub text: String,
    /// Files uploaded for it (sent by id).
    pub attachments: Vec<Attachment>,
    pub status: Delivery,
}

impl Outgoing {
    /// The wire form; sent again unchanged on retry, so the server stores it once.
    pub fn request(&self) -> PrivateMessage {
        // In a conversation, to whoever answers it (a customer's: the team).
        let (to, conversation) = match &self.target {
            Target::Conversation(id) => (String::new(), Some(*id)),
            Target::Person(name) => (name.to_string(), None),
        };
        PrivateMessage {
            to,
            message: self.text.clone(),
            client_id: Some(self.client_id.clone()),
            conversation,
            attachments: self.attachments.iter().map(|a| a.id.clone()).collect(),
        }
    }

    fn is_for(&self, id: ConversationId, customer: &UserName) -> bool {
        match &self.target {
            Target::Conversation(c) => *c == id,
            Target::Person(name) => name == customer,
        }
    }
}

/// Every conversation and the outbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inbox {
    pub threads: BTreeMap<ConversationId, Thread>,
    pub outbox: Vec<Outgoing>,
}

impl Inbox {
    /// Takes one message; returns false when it was already held (a duplicate).
    /// `open` is the conversation on screen: messages there are not counted unread.
    pub fn receive(&mut self, message: ChatMessage, open: Option<ConversationId>) -> bool {
        self.confirm(&message);
        let id = message.conversation;
        let thread =
            self.threads.entry(id).or_insert_with(|| Thread::new(message.customer.clone()));
        if thread.messages.contains_key(&message.seq) {
            return false;
        }
        if !message.is_self && open != Some(id) {
            thread.unread += 1;
        }
        thread.messages.insert(message.seq, message);
        true
    }

    /// Takes a page of history (never counted unread: it was there before).
    pub fn history(&mut self, page: History) {
        // The copy may have been lost with a connection: the page confirms it as well.
        for message in &page.messages {
            self.confirm(message);
        }
        let thread = self
            .threads
            .entry(page.conversation)
            .or_insert_with(|| Thread::new(page.customer.clone()));
        let first_held = thread.messages.keys().next().copied();
        let first_new = page.messages.first().map(|m| m.seq);
        // `more` describes the page's start: it matters only if the page reaches further
        // back than what is held (or nothing is held).
        if first_held.is_none() || first_new.is_some_and(|s| Some(s) <= first_held) {
            thread.more = page.more;
        }
        for note in page.notes {
            thread.notes.insert(note.id, note);
        }
        for rating in page.ratings {
            thread.ratings.insert(rating.seq, rating);
        }
        for message in page.messages {
            thread.messages.entry(message.seq).or_insert(message);
        }
    }

    /// The own stored copy of a message written here: it leaves the outbox.
    fn confirm(&mut self, message: &ChatMessage) {
        if let Some(client_id) = message.is_self.then_some(message.client_id.as_ref()).flatten() {
            self.outbox.retain(|o| &o.client_id != client_id);
        }
    }

    /// Takes an internal note (agents only).
    pub fn note(&mut self, note: Note, customer: Option<UserName>) {
        let Some(thread) = self.threads.get_mut(&note.conversation) else {
            if let Some(customer) = customer {
                let mut thread = Thread::new(customer);
                thread.notes.insert(note.id, note.clone());
                self.threads.insert(note.conversation, thread);
            }
            return;
        };
        thread.notes.insert(note.id, note);
    }

    /// Takes a customer's rating of a conversation held (agents only; one not held comes
    /// with its history when opened).
    pub fn rating(&mut self, rating: Rating) {
        if let Some(thread) = self.threads.get_mut(&rating.conversation) {
            thread.ratings.insert(rating.seq, rating);
        }
    }

    /// What the server should resend after a reconnect: per conversation, everything
    /// after the last message held without a gap, except what is held after the gap.
    pub fn cursors(&self) -> Vec<Cursor> {
        self.threads
            .iter()
            .filter_map(|(id, t)| {
                let seq = t.contiguous()?;
                let held =
                    t.messages.range(seq + 1..).map(|(&s, _)| s).take(CURSOR_HELD_MAX).collect();
                Some(Cursor { conversation: *id, seq, held })
            })
            .collect()
    }

    /// The conversation of `customer`, if known.
    pub fn conversation_of(&self, customer: &UserName) -> Option<ConversationId> {
        self.threads.iter().find(|(_, t)| &t.customer == customer).map(|(id, _)| *id)
    }

    /// Makes `own` the only conversation (a customer's): others are forgotten, and what
    /// waits in the outbox is sent there.
    pub fn adopt(&mut self, own: ConversationId) {
        self.threads.retain(|id, _| *id == own);
        for o in &mut self.outbox {
            o.target = Target::Conversation(own);
        }
    }

    pub fn mark_read(&mut self, id: ConversationId) {
        if let Some(t) = self.threads.get_mut(&id) {
            t.unread = 0;
        }
    }

    pub fn queue(&mut self, outgoing: Outgoing) {
        self.outbox.push(outgoing);
    }

    pub fn fail(&mut self, client_id: &ClientMsgId, reason: String) {
        if let Some(o) = self.outbox.iter_mut().find(|o| &o.client_id == client_id) {
            o.status = Delivery::Failed(reason);
        }
    }

    /// Puts a failed message back in line; returns it, to be sent now.
    pub fn retry(&mut self, client_id: &ClientMsgId) -> Option<&Outgoing> {
        let o = self.outbox.iter_mut().find(|o| &o.client_id == client_id)?;
        o.status = Delivery::Pending;
        Some(o)
    }

    /// Messages waiting to be (re)sent, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Outgoing> {
        self.outbox.iter().filter(|o| o.status == Delivery::Pending)
    }

    /// Unconfirmed messages for one conversation (or one customer not yet in a
    /// conversation), oldest first.
    pub fn outgoing_for<'a>(
        &'a self,
        target: &'a Target,
    ) -> impl Iterator<Item = &'a Outgoing> + 'a {
        self.outbox.iter().filter(move |o| match target {
            Target::Conversation(id) => self
                .threads
                .get(id)
                .map(|t| o.is_for(*id, &t.customer))
                .unwrap_or(o.target == *target),
            Target::Person(_) => o.target == *target,
        })
    }

    /// Unread messages in every conversation.
    pub fn unread_total(&self) -> usize {
        self.threads.values().map(|t| t.unread).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MessageId;

    fn name(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    fn msg(conv: u64, seq: u64, mine: bool, client_id: Option<&str>) -> ChatMessage {
        ChatMessage {
            id: MessageId(conv * 1000 + seq),
            conversation: ConversationId(conv),
            seq,
            from: name(if mine { "me" } else { "them" }),
            to: None,
            customer: name("cust"),
            message: format!("m{seq}"),
            is_self: mine,
            ts: seq,
            client_id: client_id.map(|c| ClientMsgId::parse(c).unwrap()),
            attachments: vec![],
        }
    }

    fn outgoing(id: &str, conv: u64) -> Outgoing {
        Outgoing {
            client_id: ClientMsgId::parse(id).unwrap(),
            target: Target::Conversation(ConversationId(conv)),
            text: "hello".into(),
            attachments: vec![],
            status: Delivery::Pending,
        }
    }

    #[test]
    fn duplicates_are_dropped_and_order_follows_the_sequence() {
        let mut inbox = Inbox::default();
        assert!(inbox.receive(msg(1, 2, false, None), None));
        assert!(inbox.receive(msg(1, 1, false, None), None));
        assert!(!inbox.receive(msg(1, 2, false, None), None));
        let seqs: Vec<_> = inbox.threads[&ConversationId(1)].messages.keys().copied().collect();
        assert_eq!(seqs, vec![1, 2]);
        assert_eq!(inbox.threads[&ConversationId(1)].unread, 2);
    }

    #[test]
    fn the_cursor_stops_at_the_first_gap_and_lists_what_is_held_after_it() {
        let mut inbox = Inbox::default();
        for seq in [5, 6, 7, 9, 10, 12] {
            inbox.receive(msg(3, seq, false, None), Some(ConversationId(3)));
        }
        inbox.receive(msg(4, 1, false, None), None);
        assert_eq!(
            inbox.cursors(),
            vec![
                Cursor { conversation: ConversationId(3), seq: 7, held: vec![9, 10, 12] },
                Cursor { conversation: ConversationId(4), seq: 1, held: vec![] }
            ]
        );
        assert_eq!(inbox.threads[&ConversationId(3)].unread, 0, "open conversations are read");
    }

    #[test]
    fn the_own_copy_confirms_a_pending_message() {
        let mut inbox = Inbox::default();
        inbox.queue(outgoing("a1", 1));
        inbox.queue(outgoing("a2", 1));
        assert_eq!(inbox.pending().count(), 2);
        inbox.receive(msg(1, 1, true, Some("a1")), None);
        let left: Vec<_> = inbox.pending().map(|o| o.client_id.as_str().to_owned()).collect();
        assert_eq!(left, vec!["a2"]);
        // A page of history confirms as well (the copy may have been lost with a connection).
        inbox.history(History {
            conversation: ConversationId(1),
            customer: name("cust"),
            messages: vec![msg(1, 2, true, Some("a2"))],
            more: false,
            notes: vec![],
            ratings: vec![],
            read: 0,
            newer: false,
        });
        assert_eq!(inbox.outbox, vec![]);
    }

    #[test]
    fn a_failed_message_waits_for_a_retry() {
        let mut inbox = Inbox::default();
        inbox.queue(outgoing("b1", 1));
        let id = ClientMsgId::parse("b1").unwrap();
        inbox.fail(&id, "too long".into());
        assert_eq!(inbox.pending().count(), 0);
        assert_eq!(inbox.outbox[0].status, Delivery::Failed("too long".into()));
        let again = inbox.retry(&id).unwrap().request();
        assert_eq!(again.client_id, Some(id));
        assert_eq!(again.conversation, Some(ConversationId(1)));
        assert_eq!(inbox.pending().count(), 1);
    }

    #[test]
    fn a_new_conversation_takes_over_the_outbox() {
        let mut inbox = Inbox::default();
        inbox.receive(msg(1, 1, false, None), None);
        inbox.queue(outgoing("c1", 1));
        inbox.adopt(ConversationId(2));
        assert!(inbox.threads.is_empty());
        assert_eq!(inbox.outbox[0].request().conversation, Some(ConversationId(2)));
        // Adopting the conversation already held changes nothing.
        inbox.receive(msg(2, 1, false, None), None);
        inbox.adopt(ConversationId(2));
        assert_eq!(inbox.threads.len(), 1);
    }

    #[test]
    fn older_pages_keep_the_more_flag_of_the_oldest_page() {
        let mut inbox = Inbox::default();
        let page = |seqs: std::ops::RangeInclusive<u64>, more| History {
            conversation: ConversationId(1),
            customer: name("cust"),
            messages: seqs.map(|s| msg(1, s, false, None)).collect(),
            more,
            notes: vec![],
            ratings: vec![],
            read: 0,
            newer: false,
        };
        inbox.history(page(51..=100, true));
        assert!(inbox.threads[&ConversationId(1)].more);
        // A resend of newer messages does not say anything about older ones.
        inbox.history(page(101..=102, false));
        assert!(inbox.threads[&ConversationId(1)].more);
        inbox.history(page(1..=50, false));
        let t = &inbox.threads[&ConversationId(1)];
        assert!(!t.more);
        assert_eq!((t.messages.len(), t.unread, t.contiguous()), (102, 0, Some(102)));
    }
}

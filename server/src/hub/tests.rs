//! The hub's rules, driven without a runtime: what each participant would see.

use super::*;
use crate::model::{name_key, StoredMessage};
use app::protocol::{
    ChatMessage, ClientMsgId, ConversationRef, ConversationSummary, LoginSuccess, MessageId,
    MessageText, PrivateMessage, Role, Status, StatusRequest, MESSAGE_MAX_CHARS,
};

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

/// A hub with helpers that connect and log in participants, and a stand-in for the store
/// (sequence numbers per conversation, ids, client-id dedupe) so that sends run end to end.
struct World {
    hub: Hub,
    next: u64,
    /// Conversations "stored" so far, by customer name key.
    metas: BTreeMap<String, ConversationMeta>,
    stored: Vec<StoredMessage>,
    /// The agents (name keys) who log in as admins.
    admins: BTreeSet<String>,
}

impl World {
    fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            hub: Hub::with_capacity(capacity),
            next: 0,
            metas: BTreeMap::new(),
            stored: vec![],
            admins: BTreeSet::new(),
        }
    }

    fn connect(&mut self) -> ConnId {
        self.next += 1;
        let c = ConnId(self.next);
        assert_eq!(self.hub.handle(Command::Connect(c)).outcome, Ok(Outcome::Connected));
        c
    }

    /// The identity and conversations a login of `n` brings, as the transport would
    /// establish them: a customer's stored conversation (made on first login), or every
    /// conversation for an agent.
    fn login_of(&mut self, conn: ConnId, n: &str, role: Role) -> Login {
        match role {
            Role::Customer => {
                let next = self.metas.len() as u64 + 1;
                let meta = self.metas.entry(name_key(n)).or_insert_with(|| {
                    ConversationMeta::new(ConversationId(next * 10), CustomerId(next), name(n))
                });
                let who = Identity::Customer(meta.customer);
                Login {
                    conn,
                    who,
                    name: name(n),
                    resume: Some(format!("token-{n}")),
                    conversations: vec![meta.clone()],
                    admin: false,
                    status: None,
                    token_hash: None,
                }
            }
            Role::Agent => Login {
                conn,
                who: Identity::Agent(AgentKey::of(&name(n))),
                name: name(n),
                resume: None,
                conversations: self.metas.values().cloned().collect(),
                admin: self.admins.contains(&name_key(n)),
                status: None,
                token_hash: None,
            },
        }
    }

    fn login(&mut self, n: &str, role: Role) -> (ConnId, Step) {
        let c = self.connect();
        let login = self.login_of(c, n, role);
        let step = self.run(Command::Login(login));
        (c, step)
    }

    /// Runs a command and "stores" the conversations it changed, as the transport does.
    fn run(&mut self, command: Command) -> Step {
        let step = self.hub.handle(command);
        for meta in &step.changed {
            if let Some(stored) = self.metas.values_mut().find(|m| m.id == meta.id) {
                *stored = meta.clone();
            }
        }
        step
    }

    /// Reads a conversation the hub forgot back from the "store", as the transport does
    /// before an agent's request about one.
    fn recall(&mut self, id: ConversationId) {
        if self.hub.knows(id) {
            return;
        }
        let Some(mut meta) = self.metas.values().find(|m| m.id == id).cloned() else { return };
        let stored: Vec<&StoredMessage> =
            self.stored.iter().filter(|s| s.conversation == id).collect();
        meta.last_seq = stored.iter().map(|s| s.seq).max().unwrap_or(0);
        meta.unread = stored
            .iter()
            .filter(|s| matches!(s.author, Identity::Customer(_)) && s.seq > meta.read_seq)
            .map(|s| s.seq)
            .collect();
        self.hub.learn(meta);
    }

    fn meta(&self, customer: &str) -> &ConversationMeta {
        &self.metas[&name_key(customer)]
    }

    fn customer(&mut self, n: &str) -> ConnId {
        let (c, step) = self.login(n, Role::Customer);
        assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
        c
    }

    fn agent(&mut self, n: &str) -> ConnId {
        let (c, step) = self.login(n, Role::Agent);
        assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
        c
    }

    fn send(&mut self, from: ConnId, to: &str, text: &str) -> Step {
        self.write(
            from,
            PrivateMessage { to: to.into(), message: text.into(), ..PrivateMessage::default() },
        )
    }

    /// Plans, "stores" and delivers one message, as the transport does.
    fn write(&mut self, from: ConnId, request: PrivateMessage) -> Step {
        match self.store(from, request) {
            Ok(deliver) => self.run(deliver),
            Err(refused) => refused,
        }
    }

    /// Plans and "stores" one message: the delivery, or the refusal.
    fn store(&mut self, from: ConnId, request: PrivateMessage) -> Result<Command, Step> {
        let now = 42 + self.stored.len() as u64;
        let planned =
            self.hub.plan(from, request, now).map_err(|problem| Hub::refuse(from, problem))?;
        Ok(self.stored(planned))
    }

    /// "Stores" a planned message: its delivery.
    fn stored(&mut self, planned: crate::model::NewMessage) -> Command {
        let earlier = self.stored.iter().find(|s| {
            s.conversation == planned.conversation
                && s.author == planned.author
                && planned.client_id.is_some()
                && s.client_id == planned.client_id
        });
        let appended = match earlier {
            Some(s) => Appended { message: s.clone(), duplicate: true },
            None => {
                let seq =
                    self.stored.iter().filter(|s| s.conversation == planned.conversation).count()
                        as u64
                        + 1;
                let message = planned.stored(MessageId(self.stored.len() as u64 + 1), seq);
                self.stored.push(message.clone());
                Appended { message, duplicate: false }
            }
        };
        if let (Some(agent), Some(meta)) =
            (&planned.joins, self.metas.values_mut().find(|m| m.id == planned.conversation))
        {
            meta.agents.insert(agent.clone());
        }
        Command::Deliver { appended, joins: planned.joins }
    }
}

/// What `step` sends to `conn`, of the kind `pick` takes.
fn picked<T>(step: &Step, conn: ConnId, pick: impl Fn(&ServerEvent) -> Option<T>) -> Vec<T> {
    step.outbound.iter().filter(|o| o.to == conn).filter_map(|o| pick(&o.event)).collect()
}

fn messages_for(step: &Step, conn: ConnId) -> Vec<ChatMessage> {
    picked(step, conn, |e| match e {
        ServerEvent::Message(m) => Some(m.clone()),
        _ => None,
    })
}

/// The lists `step` pushes to `conn`, as plain strings.
fn lists_for(step: &Step, conn: ConnId) -> Vec<Vec<String>> {
    step.outbound
        .iter()
        .filter(|o| o.to == conn)
        .filter_map(|o| match &o.event {
            ServerEvent::UserList(l) => Some(l.iter().map(|n| n.to_string()).collect()),
            _ => None,
        })
        .collect()
}

/// The presence changes `step` pushes to `conn`: (came online, left).
fn presence_for(step: &Step, conn: ConnId) -> Vec<(Vec<String>, Vec<String>)> {
    picked(step, conn, |e| match e {
        ServerEvent::Presence(p) => Some((
            p.online.iter().map(|n| n.to_string()).collect(),
            p.offline.iter().map(|n| n.to_string()).collect(),
        )),
        _ => None,
    })
}

fn came(name: &str) -> (Vec<String>, Vec<String>) {
    (vec![name.to_owned()], vec![])
}

fn left(name: &str) -> (Vec<String>, Vec<String>) {
    (vec![], vec![name.to_owned()])
}

fn events_for(step: &Step, conn: ConnId) -> Vec<&ServerEvent> {
    step.outbound.iter().filter(|o| o.to == conn).map(|o| &o.event).collect()
}

fn errors_for(step: &Step, conn: ConnId) -> Vec<String> {
    step.outbound
        .iter()
        .filter(|o| o.to == conn)
        .filter_map(|o| match &o.event {
            ServerEvent::Error(e) | ServerEvent::LoginError(e) => Some(e.text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn login_succeeds_then_lists_the_participant() {
    let mut w = World::new();
    let (c, step) = w.login("ann", Role::Customer);
    let events = events_for(&step, c);
    assert_eq!(
        events[0],
        &ServerEvent::LoginSuccess(LoginSuccess {
            name: name("ann"),
            role: Role::Customer,
            resume: Some("token-ann".into()),
            conversation: Some(ConversationId(10)),
            admin: false,
            away_after_ms: None,
            status: None,
            attachment_max_bytes: Some(app::protocol::ATTACHMENT_MAX_MB * 1024 * 1024),
            reply_time_ms: None,
        })
    );
    assert_eq!(lists_for(&step, c), vec![vec!["ann"]]);
    assert_eq!(w.hub.online(), 1);
}

#[test]
fn customers_are_told_at_login_how_soon_the_team_usually_answers_and_agents_are_not() {
    let mut w = World::new();
    let told = |step: &Step, c: ConnId| {
        events_for(step, c).into_iter().find_map(|e| match e {
            ServerEvent::LoginSuccess(ok) => Some(ok.reply_time_ms),
            _ => None,
        })
    };
    let (c, step) = w.login("ann", Role::Customer);
    assert_eq!(told(&step, c), Some(None), "nothing known yet");
    w.run(Command::ReplyTime { ms: Some(180_000) });
    let (c, step) = w.login("bob", Role::Customer);
    assert_eq!(told(&step, c), Some(Some(180_000)));
    let (c, step) = w.login("amy", Role::Agent);
    assert_eq!(told(&step, c), Some(None), "agents see the desk itself");
    w.run(Command::ReplyTime { ms: None });
    let (c, step) = w.login("cat", Role::Customer);
    assert_eq!(told(&step, c), Some(None), "too few answers lately: nothing said");
}

#[test]
fn a_taken_name_is_refused_case_insensitively_and_changes_nothing() {
    let mut w = World::new();
    let bea = w.customer("bea");
    let (c, step) = w.login("Bea", Role::Agent);
    assert_eq!(step.outcome, Err(Problem::NameTaken));
    assert_eq!(errors_for(&step, c), vec![Problem::NameTaken.to_string()]);
    assert!(lists_for(&step, bea).is_empty(), "nobody's list changes");
    // The refused connection may try again with another name.
    let login = w.login_of(c, "bea2", Role::Agent);
    let step = w.hub.handle(Command::Login(login));
    assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
}

/// Issue 19: a customer who comes back (the transport established who they are: their
/// token, or their site) while someone else holds their name is told apart, not refused.
#[test]
fn a_returning_customer_whose_name_is_held_gets_in_told_apart() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let other = w.customer("ann");
    // Another customer record called "Ann" (as a resumed session brings it).
    let c = w.connect();
    let login = Login {
        conn: c,
        who: Identity::Customer(CustomerId(77)),
        name: name("Ann"),
        resume: Some("token".into()),
        conversations: vec![ConversationMeta::new(
            ConversationId(770),
            CustomerId(77),
            name("Ann"),
        )],
        admin: false,
        status: None,
        token_hash: None,
    };
    let step = w.run(Command::Login(login.clone()));
    assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
    let welcome = picked(&step, c, |e| match e {
        ServerEvent::LoginSuccess(ok) => Some(ok.name.to_string()),
        _ => None,
    });
    assert_eq!(welcome, vec!["Ann (2)".to_string()]);
    assert_eq!(presence_for(&step, amy), vec![came("Ann (2)")]);
    assert!(events_for(&step, other).is_empty(), "the other Ann learns nothing");
    // Her second tab is her, under the same name.
    let c2 = w.connect();
    let step = w.run(Command::Login(Login { conn: c2, ..login }));
    assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
    assert!(presence_for(&step, amy).is_empty(), "no one new came");
}

#[test]
fn logging_in_twice_on_one_connection_is_refused() {
    let mut w = World::new();
    let (c, _) = w.login("ann", Role::Customer);
    let login = w.login_of(c, "other", Role::Customer);
    let step = w.hub.handle(Command::Login(login));
    assert_eq!(step.outcome, Err(Problem::AlreadyLoggedIn("ann".into())));
    assert_eq!(w.hub.online(), 1);
}

#[test]
fn customers_see_agents_only_and_agents_see_everyone() {
    let mut w = World::new();
    let agent = w.agent("zed");
    let (c1, step1) = w.login("cat", Role::Customer);
    assert_eq!(lists_for(&step1, c1), vec![vec!["cat", "zed"]]);
    assert_eq!(
        presence_for(&step1, agent),
        vec![came("cat")],
        "agents get the change, not the whole list"
    );
    assert!(lists_for(&step1, agent).is_empty());

    let (c2, step2) = w.login("ann", Role::Customer);
    assert_eq!(lists_for(&step2, c2), vec![vec!["ann", "zed"]], "ann does not see cat");
    assert_eq!(presence_for(&step2, agent), vec![came("ann")]);
    assert!(lists_for(&step2, c1).is_empty(), "cat's list did not change, so nothing is pushed");
}

#[test]
fn a_batch_of_logins_tells_each_agent_once_and_keeps_everything_else_in_order() {
    let mut w = World::new();
    let zed = w.agent("zed");
    let amy = w.agent("amy");
    let bob = w.customer("bob");
    let mut outbound = vec![];
    let mut customers = vec![];
    for n in ["cat", "dan"] {
        let (c, step) = w.login(n, Role::Customer);
        customers.push(c);
        outbound.extend(step.outbound);
    }
    outbound.extend(w.run(Command::Disconnect(bob)).outbound);
    // Something else for zed in between ends zed's run of changes there.
    outbound.push(Outbound { to: zed, event: ServerEvent::Error("between".into()) });
    let (eve, step) = w.login("eve", Role::Customer);
    outbound.extend(step.outbound);

    let before = outbound.clone();
    let merged =
        Step { outcome: Ok(Outcome::LoggedIn), outbound: coalesce(outbound), changed: vec![] };
    let all = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(presence_for(&merged, amy), vec![(all(&["cat", "dan", "eve"]), all(&["bob"]))]);
    assert_eq!(
        presence_for(&merged, zed),
        vec![(all(&["cat", "dan"]), all(&["bob"])), came("eve")]
    );
    assert_eq!(errors_for(&merged, zed), vec!["between"]);
    assert_eq!(events_for(&merged, zed).len(), 3, "change, error, change");
    // The customers' own events are untouched.
    let original = Step { outcome: Ok(Outcome::LoggedIn), outbound: before, changed: vec![] };
    for c in customers.into_iter().chain([eve]) {
        assert_eq!(events_for(&merged, c), events_for(&original, c));
        assert!(!events_for(&merged, c).is_empty());
    }
}

#[test]
fn an_agent_arriving_updates_every_customer() {
    let mut w = World::new();
    let c1 = w.customer("cat");
    let c2 = w.customer("dan");
    let (a, step) = w.login("amy", Role::Agent);
    assert_eq!(lists_for(&step, c1), vec![vec!["amy", "cat"]]);
    assert_eq!(lists_for(&step, c2), vec![vec!["amy", "dan"]]);
    assert_eq!(lists_for(&step, a), vec![vec!["amy", "cat", "dan"]]);
}

#[test]
fn disconnect_updates_exactly_those_who_saw_the_participant() {
    let mut w = World::new();
    let a1 = w.agent("amy");
    let a2 = w.agent("bob");
    let c1 = w.customer("cat");
    let c2 = w.customer("dan");

    let step = w.hub.handle(Command::Disconnect(c1));
    assert_eq!(step.outcome, Ok(Outcome::Disconnected));
    assert_eq!(presence_for(&step, a1), vec![left("cat")]);
    assert_eq!(presence_for(&step, a2), vec![left("cat")]);
    assert!(lists_for(&step, c2).is_empty() && presence_for(&step, c2).is_empty());

    let step = w.hub.handle(Command::Disconnect(a1));
    assert_eq!(lists_for(&step, c2), vec![vec!["bob", "dan"]]);
    assert_eq!(presence_for(&step, a2), vec![left("amy")]);

    // The name is free again.
    let again = w.customer("cat");
    assert_ne!(again, c1);
}

#[test]
fn a_connection_that_never_logged_in_leaves_silently() {
    let mut w = World::new();
    let a = w.agent("amy");
    let c = w.connect();
    let step = w.hub.handle(Command::Disconnect(c));
    assert!(step.outbound.is_empty());
    assert_eq!(w.hub.online(), 1);
    let _ = a;
}

#[test]
fn a_login_for_a_connection_that_already_left_is_stale() {
    let mut w = World::new();
    let c = w.connect();
    w.hub.handle(Command::Disconnect(c));
    let login = w.login_of(c, "ann", Role::Customer);
    let step = w.hub.handle(Command::Login(login));
    assert_eq!(step.outcome, Ok(Outcome::Stale));
    assert!(step.outbound.is_empty());
    assert_eq!(w.hub.online(), 0, "no ghost is left online");
}

#[test]
fn a_message_reaches_the_recipient_and_echoes_to_the_sender() {
    let mut w = World::new();
    let a = w.agent("amy");
    let c = w.customer("cat");
    let step = w.send(c, " AMY ", "  hello <b>  ");
    assert_eq!(step.outcome, Ok(Outcome::Delivered));
    let expected = ChatMessage {
        id: MessageId(1),
        conversation: ConversationId(10),
        seq: 1,
        from: name("cat"),
        to: Some(name("amy")),
        customer: name("cat"),
        message: "hello <b>".into(),
        is_self: false,
        ts: 42,
        client_id: None,
        attachments: vec![],
    };
    assert_eq!(messages_for(&step, a), vec![expected.clone()]);
    assert_eq!(messages_for(&step, c), vec![ChatMessage { is_self: true, ..expected }]);

    // And back, in the same conversation.
    let step = w.send(a, "cat", "hi cat");
    let back = messages_for(&step, c);
    assert_eq!(
        (back[0].seq, back[0].conversation, back[0].from.as_str()),
        (2, ConversationId(10), "amy")
    );
    assert_eq!(step.outbound.len(), 2);
}

#[test]
fn agents_write_to_customers_only() {
    let mut w = World::new();
    let a = w.agent("amy");
    let b = w.agent("bob");
    let step = w.send(a, "bob", "hand over?");
    assert_eq!(step.outcome, Err(Problem::AgentToAgent));
    assert!(events_for(&step, b).is_empty());
}

#[test]
fn a_customer_cannot_write_to_a_customer_nor_learn_they_are_online() {
    let mut w = World::new();
    let c1 = w.customer("cat");
    let c2 = w.customer("dan");
    let online = w.send(c1, "dan", "psst");
    let nobody = w.send(c1, "ghost", "psst");
    assert_eq!(online.outcome, Err(Problem::RecipientNotAllowed("dan".into())));
    assert_eq!(nobody.outcome, Err(Problem::RecipientNotAllowed("ghost".into())));
    assert!(events_for(&online, c2).is_empty());
    assert_eq!(errors_for(&online, c1).len(), 1);
}

#[test]
fn errors_go_to_the_sender_only() {
    let mut w = World::new();
    let a = w.agent("amy");
    let c = w.customer("cat");
    for (to, text, problem) in [
        ("nobody", "hi", Problem::UnknownRecipient("nobody".into())),
        ("cat", "   ", Problem::MessageEmpty),
        ("cat", &"x".repeat(4001), Problem::MessageTooLong),
        ("amy", "me", Problem::MessageToSelf),
    ] {
        let step = w.send(a, to, text);
        assert_eq!(step.outcome, Err(problem.clone()));
        assert_eq!(
            step.outbound,
            vec![Outbound { to: a, event: ServerEvent::Error(problem.clone().into()) }]
        );
    }
    assert_eq!(w.hub.online(), 2, "errors leave everyone online");
    let _ = c;
}

#[test]
fn sending_before_login_is_an_error() {
    let mut w = World::new();
    let c = w.connect();
    let step = w.send(c, "x", "hi");
    assert_eq!(step.outcome, Err(Problem::NotLoggedIn));
    assert_eq!(errors_for(&step, c), vec![Problem::NotLoggedIn.to_string()]);
}

#[test]
fn a_message_to_someone_who_just_left_is_refused() {
    let mut w = World::new();
    let a = w.agent("amy");
    let c = w.customer("cat");
    w.hub.handle(Command::Disconnect(a));
    let step = w.send(c, "amy", "still there?");
    assert_eq!(
        step.outcome,
        Err(Problem::RecipientNotAllowed("amy".into())),
        "amy never took part"
    );
}

#[test]
fn a_customer_writing_to_the_team_waits_in_the_queue_until_an_agent_has_it() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    let step = w.send(cat, "", "anyone there?");
    // The queue gives it to one of them at once: the message goes where the conversation
    // ends up, not to every agent.
    assert_eq!(messages_for(&step, amy).len(), 1);
    assert!(events_for(&step, bob).is_empty(), "bob learns nothing of it");
    assert_eq!(messages_for(&step, amy)[0].to, None, "addressed to the team");
    let meta = w.meta("cat");
    assert_eq!(
        (meta.status, meta.assignee.as_ref().map(|a| a.name.as_str())),
        (Status::Open, Some("amy"))
    );
    assert_eq!(
        step.changed.last().map(|m| m.status),
        Some(Status::Open),
        "the change is handed over for storage"
    );

    // From now on only Amy gets Cat's messages.
    let step = w.send(cat, "", "thanks");
    assert_eq!(messages_for(&step, amy).len(), 1);
    assert!(messages_for(&step, bob).is_empty());
}

#[test]
fn a_message_for_an_offline_participant_is_accepted_and_kept() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "amy", "hello");
    // The customer leaves; the agent still writes to them in their conversation.
    w.hub.handle(Command::Disconnect(cat));
    let step = w.send(amy, "cat", "are you there?");
    assert_eq!(step.outcome, Ok(Outcome::Delivered));
    assert_eq!(messages_for(&step, amy).len(), 1, "only the sender's own copy goes out now");
    assert_eq!(w.stored.len(), 2, "the message is kept for the customer");
    // The agent leaves; the customer comes back and writes to them by name: kept too.
    w.hub.handle(Command::Disconnect(amy));
    let cat = w.customer("cat");
    let step = w.send(cat, "Amy", "yes, back now");
    assert_eq!(step.outcome, Ok(Outcome::Delivered));
    assert_eq!(w.stored.last().map(|m| m.seq), Some(3));
    // An unknown name is still an error, for both.
    assert_eq!(w.send(cat, "zed", "hi").outcome, Err(Problem::RecipientNotAllowed("zed".into())));
}

#[test]
fn one_identity_may_have_several_connections() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat1 = w.customer("cat");
    // A reload (or a second tab) resumes the same customer while the first socket lives.
    let (cat2, step) = w.login("cat", Role::Customer);
    assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
    assert!(
        lists_for(&step, amy).is_empty() && presence_for(&step, amy).is_empty(),
        "the agent's list did not change"
    );
    assert_eq!(lists_for(&step, cat2), vec![vec!["amy", "cat"]]);
    assert_eq!(w.hub.online(), 2);

    // Both tabs get both copies of everything.
    let step = w.send(amy, "cat", "hi");
    assert_eq!((messages_for(&step, cat1).len(), messages_for(&step, cat2).len()), (1, 1));
    let step = w.send(cat2, "amy", "hello");
    assert!(messages_for(&step, cat1)[0].is_self && messages_for(&step, cat2)[0].is_self);

    // Closing one tab changes nobody's list; closing the last one does.
    let step = w.hub.handle(Command::Disconnect(cat1));
    assert!(lists_for(&step, amy).is_empty() && presence_for(&step, amy).is_empty());
    let step = w.hub.handle(Command::Disconnect(cat2));
    assert_eq!(presence_for(&step, amy), vec![left("cat")]);
}

#[test]
fn a_resent_client_id_is_delivered_once() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    let request = PrivateMessage {
        to: "amy".into(),
        message: "only once".into(),
        client_id: Some(ClientMsgId::parse("c-1").unwrap()),
        conversation: None,
        attachments: vec![],
    };
    let first = w.write(cat, request.clone());
    let again = w.write(cat, request);
    assert_eq!(messages_for(&first, amy).len(), 1);
    assert_eq!((again.outcome, again.outbound), (Ok(Outcome::Delivered), vec![]));
    assert_eq!(w.stored.len(), 1);
}

/// With several nodes, a node may store a message and stop before passing it on: the
/// next message shows the gap, and the sender's retry (a duplicate) is delivered then.
#[test]
fn a_message_stored_but_never_delivered_is_delivered_at_its_retry_once() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    assert_eq!(messages_for(&w.send(cat, "", "hello"), amy).len(), 1);
    let lost = PrivateMessage {
        message: "stored, node gone".into(),
        client_id: Some(ClientMsgId::parse("c-2").unwrap()),
        ..PrivateMessage::default()
    };
    // Stored as seq 2; its delivery never happens.
    w.store(cat, lost.clone()).unwrap();
    let reply = w.write(
        amy,
        PrivateMessage {
            to: "cat".into(),
            message: "still there?".into(),
            ..PrivateMessage::default()
        },
    );
    assert_eq!(messages_for(&reply, cat).iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3]);
    // The customer's client resends what was never acknowledged: both sides get it now.
    let retry = w.write(cat, lost.clone());
    assert_eq!(
        messages_for(&retry, amy).iter().map(|m| (m.seq, m.message.as_str())).collect::<Vec<_>>(),
        vec![(2, "stored, node gone")]
    );
    assert_eq!(messages_for(&retry, cat).len(), 1);
    // Once only; and a duplicate of a delivered message stays silent.
    assert_eq!(w.write(cat, lost).outbound, vec![]);
    assert_eq!(w.stored.len(), 3);
    assert!(w.hub.missed.is_empty());
}

/// A retry of the newest message that was never delivered (nothing came after it).
#[test]
fn a_retry_of_an_undelivered_newest_message_is_delivered() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    let lost = PrivateMessage {
        message: "first".into(),
        client_id: Some(ClientMsgId::parse("c-1").unwrap()),
        ..PrivateMessage::default()
    };
    w.store(cat, lost.clone()).unwrap();
    assert_eq!(messages_for(&w.write(cat, lost.clone()), amy).len(), 1);
    assert_eq!(w.write(cat, lost).outbound, vec![]);
}

#[test]
fn conversations_are_private_to_their_customer() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    let dan = w.customer("dan");
    w.send(cat, "amy", "my card number is …");
    let cats = ConversationId(10);
    // Dan cannot write into, nor read, Cat's conversation.
    let sneaky = PrivateMessage {
        to: String::new(),
        message: "hi".into(),
        client_id: None,
        conversation: Some(cats),
        attachments: vec![],
    };
    assert_eq!(w.write(dan, sneaky).outcome, Err(Problem::UnknownConversation));
    assert_eq!(w.hub.readable(dan, cats), Err(Problem::UnknownConversation));
    assert_eq!(w.hub.readable(cat, cats).map(|(_, n)| n), Ok(name("cat")));
    assert!(w.hub.readable(amy, cats).is_ok(), "agents read every conversation");
    // And Dan received nothing of it.
    let step = w.send(amy, "cat", "thanks");
    assert!(messages_for(&step, dan).is_empty());
}

#[test]
fn an_agent_reaches_an_offline_customer_by_conversation_after_a_restart() {
    let mut w = World::new();
    let cat = w.customer("cat");
    w.send(cat, "", "help please");
    // A restart: a new hub; the agent's login brings the stored conversations.
    w.hub = Hub::new();
    let amy = w.agent("amy");
    let by_id = PrivateMessage {
        to: String::new(),
        message: "here".into(),
        client_id: None,
        conversation: Some(ConversationId(10)),
        attachments: vec![],
    };
    let step = w.write(amy, by_id);
    assert_eq!(step.outcome, Ok(Outcome::Delivered));
    assert_eq!(w.stored.last().map(|m| (m.seq, m.to.clone())), Some((2, Some(name("cat")))));
    let unknown = PrivateMessage {
        to: String::new(),
        message: "x".into(),
        client_id: None,
        conversation: Some(ConversationId(99)),
        attachments: vec![],
    };
    assert_eq!(w.write(amy, unknown).outcome, Err(Problem::UnknownConversation));
}

/// Every `conversation` summary pushed to `conn`.
fn summaries_for(step: &Step, conn: ConnId) -> Vec<ConversationSummary> {
    picked(step, conn, |e| match e {
        ServerEvent::Conversation(c) => Some(c.clone()),
        _ => None,
    })
}

impl World {
    fn assignee(&self, customer: &str) -> Option<String> {
        self.meta(customer).assignee.as_ref().map(|a| a.name.to_string())
    }

    fn take(&mut self, conn: ConnId, customer: &str) -> Step {
        let conversation = self.meta(customer).id;
        self.run(Command::Take { conn, conversation })
    }

    fn resolve(&mut self, conn: ConnId, customer: &str) -> Step {
        let conversation = self.meta(customer).id;
        self.run(Command::Resolve { conn, conversation })
    }

    fn transfer(&mut self, conn: ConnId, customer: &str, to: &str, note: &str) -> Step {
        let conversation = self.meta(customer).id;
        let to = Assignee { key: AgentKey::of(&name(to)), name: name(to) };
        self.run(Command::Transfer { conn, conversation, to, note: note.into() })
    }
}

#[test]
fn the_queue_spreads_new_conversations_evenly() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let customers: Vec<_> =
        (0..6).map(|i| (format!("c{i}"), w.customer(&format!("c{i}")))).collect();
    for (n, c) in &customers {
        let step = w.send(*c, "", "hello");
        assert!(summaries_for(&step, *c).is_empty(), "customers never see the desk's workings");
        assert!(w.assignee(n).is_some());
    }
    let mut counts = BTreeMap::new();
    for (n, _) in &customers {
        *counts.entry(w.assignee(n).unwrap()).or_insert(0) += 1;
    }
    assert_eq!(counts, BTreeMap::from([("amy".to_owned(), 3), ("bob".to_owned(), 3)]));
    let _ = (amy, bob);
}

#[test]
fn capacity_holds_and_a_freed_agent_pulls_the_oldest_waiting() {
    let mut w = World::with_capacity(2);
    let amy = w.agent("amy");
    for n in ["c1", "c2", "c3", "c4"] {
        let c = w.customer(n);
        w.send(c, "", "hi");
    }
    assert_eq!((w.assignee("c1"), w.assignee("c2")), (Some("amy".into()), Some("amy".into())));
    assert_eq!((w.meta("c3").status, w.meta("c4").status), (Status::Queued, Status::Queued));

    let step = w.resolve(amy, "c1");
    assert_eq!(step.outcome, Ok(Outcome::Changed));
    assert_eq!(w.meta("c1").status, Status::Resolved);
    assert_eq!(w.assignee("c3"), Some("amy".into()), "the oldest waiting one comes next");
    assert_eq!(w.meta("c4").status, Status::Queued);
    let pushed: Vec<_> =
        summaries_for(&step, amy).into_iter().map(|s| (s.customer.to_string(), s.status)).collect();
    assert_eq!(pushed, vec![("c1".into(), Status::Resolved), ("c3".into(), Status::Open)]);
}

#[test]
fn an_agent_who_comes_online_takes_the_backlog_oldest_first() {
    let mut w = World::with_capacity(2);
    for n in ["c1", "c2", "c3"] {
        let c = w.customer(n);
        w.send(c, "", "anyone?");
    }
    assert!(["c1", "c2", "c3"].iter().all(|n| w.meta(n).status == Status::Queued));
    let (amy, step) = w.login("amy", Role::Agent);
    assert_eq!(
        (w.assignee("c1"), w.assignee("c2"), w.meta("c3").status),
        (Some("amy".into()), Some("amy".into()), Status::Queued)
    );
    // Amy's console lists the queue as it stands once she has taken her share, then the
    // changes.
    let seen: Vec<_> =
        summaries_for(&step, amy).into_iter().map(|s| (s.customer.to_string(), s.status)).collect();
    assert_eq!(
        &seen[..3],
        &[("c1".into(), Status::Open), ("c2".into(), Status::Open), ("c3".into(), Status::Queued)]
    );
    assert_eq!(&seen[3..], &[("c1".into(), Status::Open), ("c2".into(), Status::Open)]);
    // Bob arrives and gets the last one.
    w.agent("bob");
    assert_eq!(w.assignee("c3"), Some("bob".into()));
}

#[test]
fn taking_from_the_queue_and_what_cannot_be_taken() {
    let mut w = World::with_capacity(0);
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    w.send(cat, "", "hi");
    assert_eq!(w.meta("cat").status, Status::Queued, "nobody has room");
    assert_eq!(w.take(amy, "cat").outcome, Ok(Outcome::Changed));
    assert_eq!(w.assignee("cat"), Some("amy".into()));
    // Amy has it now: bob, who took no part, is answered as if it did not exist.
    assert_eq!(w.take(bob, "cat").outcome, Err(Problem::UnknownConversation));
    assert_eq!(w.take(cat, "cat").outcome, Err(Problem::AgentsOnly));
    assert_eq!(w.resolve(bob, "cat").outcome, Err(Problem::UnknownConversation));
}

#[test]
fn a_transfer_note_has_the_message_limit() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "amy", "my router is broken");
    let bob = w.agent("bob");
    let too_long = "n".repeat(MESSAGE_MAX_CHARS + 1);
    let step = w.transfer(amy, "cat", "bob", &too_long);
    assert_eq!(step.outcome, Err(Problem::MessageTooLong));
    assert!(summaries_for(&step, bob).is_empty(), "nothing moved");
    assert_eq!(w.assignee("cat").as_deref(), Some("amy"));
    let step = w.transfer(amy, "cat", "bob", &"n".repeat(MESSAGE_MAX_CHARS));
    assert_eq!(step.outcome, Ok(Outcome::Changed));
}

#[test]
fn a_transfer_moves_the_conversation_with_a_note_for_the_next_agent_only() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "amy", "my router is broken");
    let bob = w.agent("bob");
    let step = w.transfer(amy, "cat", "bob", "Needs a replacement, warranty OK");
    assert_eq!(step.outcome, Ok(Outcome::Changed));
    let to_bob = summaries_for(&step, bob);
    assert_eq!(to_bob[0].assignee.as_ref().map(|n| n.as_str()), Some("bob"));
    assert_eq!(to_bob[0].note.as_deref(), Some("Needs a replacement, warranty OK"));
    assert!(events_for(&step, cat).is_empty(), "the customer is told nothing of it");
    // Cat's next message goes to Bob only; Amy may no longer resolve it.
    let step = w.send(cat, "", "hello?");
    assert_eq!((messages_for(&step, bob).len(), messages_for(&step, amy).len()), (1, 0));
    assert_eq!(w.resolve(amy, "cat").outcome, Err(Problem::NotYours));
    assert_eq!(w.resolve(bob, "cat").outcome, Ok(Outcome::Changed));
}

#[test]
fn a_resolved_conversation_reopens_when_the_customer_writes_again() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "", "question");
    w.resolve(amy, "cat");
    assert_eq!(w.meta("cat").status, Status::Resolved);
    let step = w.send(cat, "", "one more thing");
    assert_eq!(
        (w.meta("cat").status, w.assignee("cat")),
        (Status::Open, Some("amy".into())),
        "back to the same agent"
    );
    assert_eq!(messages_for(&step, amy).len(), 1);
    // With that agent gone, it waits in the queue instead.
    w.resolve(amy, "cat");
    w.hub.handle(Command::Disconnect(amy));
    w.send(cat, "", "and another");
    assert_eq!(w.meta("cat").status, Status::Queued);
}

fn typing_for(step: &Step, conn: ConnId) -> Vec<String> {
    picked(step, conn, |e| match e {
        ServerEvent::Typing(t) => Some(t.from.to_string()),
        _ => None,
    })
}

#[test]
fn typing_reaches_the_other_side_of_that_conversation_only_and_is_throttled() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    let dan = w.customer("dan");
    w.send(cat, "amy", "hi");
    let cats = w.meta("cat").id;

    let step = w.run(Command::Typing { conn: cat, conversation: None, now_ms: 1_000 });
    assert_eq!(typing_for(&step, amy), vec!["cat"], "the agent who has it");
    assert!(
        typing_for(&step, bob).is_empty()
            && typing_for(&step, dan).is_empty()
            && typing_for(&step, cat).is_empty()
    );
    // Again at once: dropped; a while later: passed on.
    assert!(w
        .run(Command::Typing { conn: cat, conversation: None, now_ms: 1_200 })
        .outbound
        .is_empty());
    assert_eq!(
        typing_for(&w.run(Command::Typing { conn: cat, conversation: None, now_ms: 2_500 }), amy),
        vec!["cat"]
    );

    let step = w.run(Command::Typing { conn: amy, conversation: Some(cats), now_ms: 3_000 });
    assert_eq!(typing_for(&step, cat), vec!["amy"]);
    assert!(typing_for(&step, dan).is_empty(), "another customer learns nothing");
    // A customer cannot aim at someone else's conversation: theirs is used.
    let step = w.run(Command::Typing { conn: dan, conversation: Some(cats), now_ms: 3_000 });
    assert!(typing_for(&step, amy).is_empty() && typing_for(&step, cat).is_empty());
}

#[test]
fn read_receipts_go_to_that_conversations_customer_only() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    let dan = w.customer("dan");
    w.send(cat, "amy", "one");
    w.send(cat, "amy", "two");
    let cats = w.meta("cat").id;
    let step = w.run(Command::Read { conn: amy, conversation: cats, seq: 2 });
    let reads: Vec<_> =
        step.outbound.iter().filter(|o| o.to != amy).map(|o| (o.to, o.event.clone())).collect();
    assert_eq!(
        reads,
        vec![(cat, ServerEvent::Read(app::protocol::ReadUpTo { conversation: cats, seq: 2 }))]
    );
    assert!(events_for(&step, dan).is_empty() && events_for(&step, bob).is_empty());
    assert_eq!(unread_for(&step, amy), vec![0], "the agent's unread count clears");
    assert_eq!(w.meta("cat").read_seq, 2, "kept with the conversation");
    // Going back is nothing new; customers do not send read receipts.
    assert!(w.run(Command::Read { conn: amy, conversation: cats, seq: 1 }).outbound.is_empty());
    assert_eq!(
        w.run(Command::Read { conn: dan, conversation: cats, seq: 5 }).outcome,
        Err(Problem::AgentsOnly)
    );
    // Beyond the newest message: refused, or cat's next messages would count as read
    // before anyone saw them.
    let step = w.run(Command::Read { conn: amy, conversation: cats, seq: 1000 });
    assert_eq!(step.outcome, Err(Problem::Malformed(app::protocol::READ.into())));
    assert!(events_for(&step, cat).is_empty());
    assert_eq!(w.meta("cat").read_seq, 2);
    w.send(cat, "amy", "three");
    assert_eq!(
        unread_for(&w.run(Command::Read { conn: amy, conversation: cats, seq: 3 }), amy),
        vec![0]
    );
}

/// The unread counts `step` gives `conn`, in order.
fn unread_for(step: &Step, conn: ConnId) -> Vec<u64> {
    summaries_for(step, conn).iter().map(|s| s.unread).collect()
}

fn away_for(step: &Step, conn: ConnId) -> Vec<Vec<String>> {
    picked(step, conn, |e| match e {
        ServerEvent::Away(names) => Some(names.iter().map(|n| n.to_string()).collect()),
        _ => None,
    })
}

impl World {
    fn login_admin(&mut self, n: &str) -> (ConnId, Step) {
        self.admins.insert(name_key(n));
        self.login(n, Role::Agent)
    }
}

#[test]
fn unread_counts_rise_with_each_customer_message_and_clear_as_read() {
    let mut w = World::new();
    let ada = {
        w.admins.insert("ada".into());
        w.agent("ada")
    };
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    // Ada (an admin) has the first; amy gets cat's.
    let dan = w.customer("dan");
    w.send(dan, "", "first");
    let step = w.send(cat, "", "one");
    assert_eq!(w.assignee("cat"), Some("amy".into()));
    assert_eq!(unread_for(&step, amy).last(), Some(&1), "assigned with its count");
    // Then each message counts once: amy and ada get the message itself (their clients
    // add it to the count), nobody gets a recount.
    let step = w.send(cat, "", "two");
    assert_eq!((messages_for(&step, amy).len(), summaries_for(&step, amy).len()), (1, 0));
    assert_eq!((messages_for(&step, ada).len(), summaries_for(&step, ada).len()), (1, 0));
    assert!(events_for(&step, bob).is_empty(), "not bob's");
    w.send(cat, "", "three");
    assert!(
        summaries_for(&w.send(amy, "cat", "hello"), amy).is_empty(),
        "the agent's own words are not unread"
    );
    let cats = w.meta("cat").id;
    // Read up to "two": "three" is left (seq 4 is amy's own).
    let step = w.run(Command::Read { conn: amy, conversation: cats, seq: 2 });
    assert_eq!(
        (unread_for(&step, amy), unread_for(&step, ada)),
        (vec![1], vec![1]),
        "a read is told to whoever sees it"
    );
    assert_eq!(
        unread_for(&w.run(Command::Read { conn: amy, conversation: cats, seq: 4 }), amy),
        vec![0]
    );
    // Handed to bob: amy still sees it (she took part) but no longer gets its messages,
    // so she is sent the new count instead.
    w.transfer(amy, "cat", "bob", "");
    let step = w.send(cat, "", "five");
    assert_eq!((messages_for(&step, amy).len(), unread_for(&step, amy)), (0, vec![1]));
    // A login gives the stored count (the store keeps the unread sequence numbers).
    let (amy2, step) = w.login("amy", Role::Agent);
    assert_eq!(summaries_for(&step, amy2).iter().find(|s| s.id == cats).map(|s| s.unread), Some(1));
}

#[test]
fn agents_see_their_own_conversations_and_the_queue_admins_see_all() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "", "hi");
    assert_eq!(w.assignee("cat"), Some("amy".into()));
    let cats = w.meta("cat").id;
    let (bob, step) = w.login("bob", Role::Agent);
    assert!(summaries_for(&step, bob).is_empty(), "amy's conversation is not in bob's console");
    let (ada, step) = w.login_admin("ada");
    assert_eq!(summaries_for(&step, ada).iter().map(|s| s.id).collect::<Vec<_>>(), vec![cats]);
    assert!(w.meta("cat").assignee.as_ref().is_some_and(|a| a.name.as_str() == "amy"));

    let step = w.send(cat, "", "still there?");
    assert_eq!(
        messages_for(&step, amy).len() + messages_for(&step, ada).len(),
        2,
        "the agent who has it and the admin"
    );
    assert!(events_for(&step, bob).is_empty(), "bob learns nothing of it");

    assert_eq!(w.hub.readable(bob, cats), Err(Problem::UnknownConversation));
    assert!(w.hub.readable(ada, cats).is_ok());
    assert_eq!(w.hub.note_author(bob, cats), Err(Problem::UnknownConversation));
    assert_eq!(w.take(bob, "cat").outcome, Err(Problem::UnknownConversation));
    let note = Note { id: 1, conversation: cats, from: name("amy"), text: "vip".into(), ts: 1 };
    let step = w.run(Command::Noted(note));
    assert!(events_for(&step, bob).is_empty() && events_for(&step, cat).is_empty());
    assert_eq!(events_for(&step, amy).len() + events_for(&step, ada).len(), 2);

    // Handed to bob: he sees it from now on, with its history readable.
    let step = w.transfer(amy, "cat", "bob", "");
    assert_eq!(summaries_for(&step, bob).len(), 1);
    assert_eq!(summaries_for(&step, amy).len(), 1, "amy learns where it went");
    assert!(w.hub.readable(bob, cats).is_ok());
}

/// Everything `step` sends `conn` that concerns conversation `id`.
fn about(step: &Step, conn: ConnId, id: ConversationId) -> Vec<ServerEvent> {
    picked(step, conn, |e| (conversation_of_event(e) == Some(id)).then(|| e.clone()))
}

/// The conversation an event is about, if it is about one.
fn conversation_of_event(event: &ServerEvent) -> Option<ConversationId> {
    match event {
        ServerEvent::Message(m) => Some(m.conversation),
        ServerEvent::History(h) => Some(h.conversation),
        ServerEvent::Conversation(s) => Some(s.id),
        ServerEvent::ConversationGone(r) => Some(r.conversation),
        ServerEvent::Typing(t) => Some(t.conversation),
        ServerEvent::Note(n) => Some(n.conversation),
        ServerEvent::Read(r) => Some(r.conversation),
        _ => None,
    }
}

/// Issue 19: a colleague wrote into any conversation by its id or its customer's name, was
/// then one of its agents (its history, notes and summaries followed), and took over one
/// that was resolved. Every request about a conversation an agent may not see is now
/// answered as for one that does not exist, and changes nothing.
#[test]
fn an_agent_cannot_reach_a_colleagues_conversation_by_any_request() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "", "my card number is 4111");
    assert_eq!(w.assignee("cat"), Some("amy".into()));
    let cats = w.meta("cat").id;
    let bob = w.agent("bob");
    let nowhere = ConversationId(999_999);
    let stored = w.stored.len();

    // Every request about amy's conversation gets exactly what one about no conversation
    // gets.
    let by_id = |id| PrivateMessage {
        to: String::new(),
        message: "hello from bob".into(),
        conversation: Some(id),
        ..PrivateMessage::default()
    };
    for id in [cats, nowhere] {
        let step = w.write(bob, by_id(id));
        assert_eq!(step.outcome, Err(Problem::UnknownConversation), "writing into {id:?}");
        assert_eq!(w.hub.readable(bob, id), Err(Problem::UnknownConversation));
        assert_eq!(w.hub.note_author(bob, id), Err(Problem::UnknownConversation));
        assert_eq!(
            w.run(Command::Take { conn: bob, conversation: id }).outcome,
            Err(Problem::UnknownConversation)
        );
        let step = w.run(Command::Resolve { conn: bob, conversation: id });
        assert_eq!(step.outcome, Err(Problem::UnknownConversation), "resolve");
        let to = Assignee { key: AgentKey::of(&name("bob")), name: name("bob") };
        let step =
            w.run(Command::Transfer { conn: bob, conversation: id, to, note: String::new() });
        assert_eq!(step.outcome, Err(Problem::UnknownConversation), "transfer");
        let step = w.run(Command::Read { conn: bob, conversation: id, seq: 1 });
        assert_eq!(step.outcome, Err(Problem::UnknownConversation), "read");
        let step = w.run(Command::Typing { conn: bob, conversation: Some(id), now_ms: 10_000 });
        assert_eq!(step.outcome, Err(Problem::UnknownConversation), "typing");
        assert!(events_for(&step, cat).is_empty(), "typing reaches nobody");
    }
    // By the customer's name: as for a name nobody has.
    assert_eq!(w.send(bob, "cat", "hello").outcome, Err(Problem::UnknownRecipient("cat".into())));
    assert_eq!(
        w.send(bob, "nobody", "hello").outcome,
        Err(Problem::UnknownRecipient("nobody".into()))
    );
    assert_eq!(w.stored.len(), stored, "nothing bob tried was stored");
    assert!(!w.meta("cat").agents.contains(&AgentKey::of(&name("bob"))), "bob did not join");

    // Resolved, it stays amy's: bob cannot reopen it by writing either.
    assert_eq!(w.resolve(amy, "cat").outcome, Ok(Outcome::Changed));
    assert_eq!(w.write(bob, by_id(cats)).outcome, Err(Problem::UnknownConversation));
    assert_eq!(w.take(bob, "cat").outcome, Err(Problem::UnknownConversation));
    assert_eq!(w.meta("cat").status, Status::Resolved);
    let step = w.send(cat, "", "one more thing");
    assert!(about(&step, bob, cats).is_empty(), "it went back to amy, not to bob");
    assert_eq!(w.assignee("cat"), Some("amy".into()));
}

/// Review of issue 19: a customer writing `to` a second agent while the first one has the
/// conversation made the second one of its agents (its history and notes for good).
#[test]
fn a_customer_naming_another_agent_does_not_hand_them_the_conversation() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "amy", "hello amy");
    let bob = w.agent("bob");
    let cats = w.meta("cat").id;
    let step = w.send(cat, "bob", "bob, are you there?");
    assert_eq!(step.outcome, Ok(Outcome::Delivered));
    assert_eq!(messages_for(&step, amy).len(), 1, "it goes to the agent who has it");
    assert!(events_for(&step, bob).is_empty());
    assert!(!w.meta("cat").agents.contains(&AgentKey::of(&name("bob"))));
    assert_eq!(w.hub.readable(bob, cats), Err(Problem::UnknownConversation));
    // Once nobody has it, naming an agent reaches them, as the tutorial's way always did.
    w.resolve(amy, "cat");
    let step = w.send(cat, "bob", "bob?");
    assert_eq!(messages_for(&step, bob).len(), 1);
    assert_eq!(w.assignee("cat"), Some("bob".into()));
}

/// A waiting conversation is every agent's to see; once a colleague has it, the others are
/// told only that it is gone from their console (not who has it), and a late `take` says
/// no more than that.
#[test]
fn a_waiting_conversation_a_colleague_takes_is_gone_for_the_others() {
    let mut w = World::with_capacity(0);
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    let step = w.send(cat, "", "hi");
    let cats = w.meta("cat").id;
    assert_eq!(messages_for(&step, bob).len(), 1, "waiting: every agent has it");
    let step = w.take(amy, "cat");
    assert_eq!(
        about(&step, bob, cats),
        vec![ServerEvent::ConversationGone(ConversationRef { conversation: cats })]
    );
    assert_eq!(summaries_for(&step, amy).len(), 1, "amy has it");
    assert_eq!(w.take(bob, "cat").outcome, Err(Problem::UnknownConversation));
    assert!(about(&w.send(cat, "", "still there?"), bob, cats).is_empty());

    // One bob took part in, a colleague then holds: he sees it, and may not take it (not
    // told who has it).
    w.transfer(amy, "cat", "bob", "");
    w.transfer(bob, "cat", "amy", "");
    let step = w.take(bob, "cat");
    assert_eq!(step.outcome, Err(Problem::AlreadyAssigned));
    assert!(!errors_for(&step, bob)[0].contains("amy"));
}

#[test]
fn an_away_agent_is_passed_by_until_back() {
    let mut w = World::with_capacity(1);
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    let step = w.run(Command::Away { conn: amy, away: true });
    for conn in [amy, bob, cat] {
        assert_eq!(away_for(&step, conn), vec![vec!["amy".to_string()]], "everyone is told");
    }
    w.send(cat, "", "hi");
    assert_eq!(w.assignee("cat"), Some("bob".into()), "amy would be first, but is away");
    let dan = w.customer("dan");
    let step = w.send(dan, "", "hello");
    assert_eq!(w.meta("dan").status, Status::Queued, "bob is full, amy away");
    assert!(away_for(&step, dan).is_empty());
    let (_, step) = w.login("eve", Role::Customer);
    assert!(
        step.outbound.iter().any(|o| o.event == ServerEvent::Away(vec![name("amy")])),
        "a newcomer is told who is away"
    );
    let step = w.run(Command::Away { conn: amy, away: false });
    assert_eq!(away_for(&step, bob), vec![Vec::<String>::new()]);
    assert_eq!(w.assignee("dan"), Some("amy".into()), "back: the backlog comes to her");

    // Away counts per person: one hidden tab of two is not away.
    let amy2 = w.connect();
    let login = w.login_of(amy2, "amy", Role::Agent);
    w.run(Command::Login(login));
    assert!(away_for(&w.run(Command::Away { conn: amy, away: true }), bob).is_empty());
    let step = w.run(Command::Away { conn: amy2, away: true });
    assert_eq!(away_for(&step, bob), vec![vec!["amy".to_string()]]);
    assert!(
        away_for(&w.run(Command::Disconnect(amy2)), bob).is_empty(),
        "her other tab is hidden too: still away"
    );
    let amy3 = w.connect();
    let login = w.login_of(amy3, "amy", Role::Agent);
    assert_eq!(
        away_for(&w.run(Command::Login(login)), bob),
        vec![Vec::<String>::new()],
        "a new tab: back"
    );
    assert_eq!(w.run(Command::Away { conn: cat, away: true }).outcome, Err(Problem::AgentsOnly));
}

fn busy_for(step: &Step, conn: ConnId) -> Vec<Vec<String>> {
    picked(step, conn, |e| match e {
        ServerEvent::Busy(names) => Some(names.iter().map(|n| n.to_string()).collect()),
        _ => None,
    })
}

fn chosen_for(step: &Step, conn: ConnId) -> Vec<AgentStatus> {
    picked(step, conn, |e| match e {
        ServerEvent::Status(StatusRequest { status }) => Some(*status),
        _ => None,
    })
}

#[test]
fn a_busy_or_away_agent_gets_nothing_new_from_the_queue_and_everyone_sees_which() {
    let mut w = World::with_capacity(2);
    let amy = w.agent("amy");
    let bob = w.agent("bob");
    let cat = w.customer("cat");
    // Amy has a second tab: both are told what she chose, everyone else who is busy.
    let amy2 = w.connect();
    let login = w.login_of(amy2, "amy", Role::Agent);
    w.run(Command::Login(login));
    let step = w.run(Command::SetStatus { conn: amy, status: AgentStatus::Busy });
    assert_eq!(step.outcome, Ok(Outcome::Changed));
    for tab in [amy, amy2] {
        assert_eq!(chosen_for(&step, tab), vec![AgentStatus::Busy], "each of her tabs");
    }
    assert!(chosen_for(&step, bob).is_empty(), "her choice is hers");
    for conn in [amy, bob, cat] {
        assert_eq!(busy_for(&step, conn), vec![vec!["amy".to_string()]], "everyone is told");
        assert!(away_for(&step, conn).is_empty(), "busy is not away");
    }
    // The queue passes her by.
    w.send(cat, "", "hi");
    assert_eq!(w.assignee("cat"), Some("bob".into()), "amy would be first, but is busy");
    w.run(Command::SetStatus { conn: bob, status: AgentStatus::Away });
    let dan = w.customer("dan");
    w.send(dan, "", "hello");
    assert_eq!(w.meta("dan").status, Status::Queued, "amy busy, bob away: it waits");
    let (eve, step) = w.login("eve", Role::Customer);
    assert_eq!(busy_for(&step, eve), vec![vec!["amy".to_string()]], "a newcomer is told");
    assert_eq!(away_for(&step, eve), vec![vec!["bob".to_string()]]);
    // A chosen away outlasts the tab hiding and showing again.
    assert!(away_for(&w.run(Command::Away { conn: bob, away: true }), amy).is_empty());
    assert!(away_for(&w.run(Command::Away { conn: bob, away: false }), amy).is_empty());
    assert_eq!(w.meta("dan").status, Status::Queued);
    // A customer who names her still reaches her (the tutorial's direct message).
    let fay = w.customer("fay");
    w.send(fay, "amy", "for amy");
    assert_eq!(w.assignee("fay"), Some("amy".into()));
    // Back online: the backlog comes to her.
    let step = w.run(Command::SetStatus { conn: amy2, status: AgentStatus::Online });
    assert_eq!(busy_for(&step, bob), vec![Vec::<String>::new()]);
    assert_eq!(w.assignee("dan"), Some("amy".into()));
    // A customer of hers who comes back while she is busy waits for the queue; once she is
    // online again, they are hers again.
    w.resolve(amy, "dan");
    w.run(Command::SetStatus { conn: amy, status: AgentStatus::Busy });
    w.send(dan, "", "me again");
    assert_eq!(w.meta("dan").status, Status::Queued, "not back to busy amy");
    w.run(Command::SetStatus { conn: amy, status: AgentStatus::Online });
    assert_eq!(w.assignee("dan"), Some("amy".into()));

    // A reconnect that says the status keeps it, with no moment at the desk: she is busy
    // again, logs out everywhere and comes back saying so.
    w.run(Command::SetStatus { conn: amy, status: AgentStatus::Busy });
    w.run(Command::Disconnect(amy));
    assert_eq!(busy_for(&w.run(Command::Disconnect(amy2)), bob), vec![Vec::<String>::new()]);
    let amy3 = w.connect();
    let mut login = w.login_of(amy3, "amy", Role::Agent);
    login.status = Some(AgentStatus::Busy);
    let step = w.run(Command::Login(login));
    assert_eq!(busy_for(&step, bob), vec![vec!["amy".to_string()]]);
    assert!(step.outbound.iter().any(|o| o.to == amy3
        && matches!(&o.event, ServerEvent::LoginSuccess(s) if s.status == Some(AgentStatus::Busy))));
    let gus = w.customer("gus");
    w.send(gus, "", "anyone?");
    assert_ne!(w.assignee("gus"), Some("amy".into()), "never handed one in between");
    // A fresh tab that says nothing takes the status her other tab has; so does a tab that
    // reconnects saying what it knew before the other tab changed it.
    for said in [None, Some(AgentStatus::Online)] {
        let tab = w.connect();
        let mut login = w.login_of(tab, "amy", Role::Agent);
        login.status = said;
        let step = w.run(Command::Login(login));
        assert!(step.outbound.iter().any(|o| o.to == tab
            && matches!(&o.event, ServerEvent::LoginSuccess(s) if s.status == Some(AgentStatus::Busy))));
        assert!(busy_for(&step, bob).is_empty(), "{said:?}: nothing changed");
    }
    let hal = w.customer("hal");
    w.send(hal, "", "still busy?");
    assert_ne!(w.assignee("hal"), Some("amy".into()));
    // Saying the status she has changes nothing.
    assert!(w
        .run(Command::SetStatus { conn: amy3, status: AgentStatus::Busy })
        .outbound
        .is_empty());

    // Only agents have a status.
    assert_eq!(
        w.run(Command::SetStatus { conn: cat, status: AgentStatus::Busy }).outcome,
        Err(Problem::AgentsOnly)
    );
    let nobody = w.connect();
    assert_eq!(
        w.run(Command::SetStatus { conn: nobody, status: AgentStatus::Busy }).outcome,
        Err(Problem::NotLoggedIn)
    );
}

#[test]
fn a_removed_agent_is_logged_out_and_their_conversations_requeued() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let cat = w.customer("cat");
    w.send(cat, "", "hi");
    assert_eq!(w.assignee("cat"), Some("amy".into()));
    let step = w.run(Command::Retire { agent: AgentKey::of(&name("amy")), now_ms: 99 });
    assert_eq!(lists_for(&step, cat), vec![vec!["cat".to_string()]], "amy left every list");
    assert_eq!(w.hub.identity(amy), None);
    assert_eq!((w.meta("cat").status, w.meta("cat").queued_at), (Status::Queued, 99));
    w.agent("bob");
    assert_eq!(w.assignee("cat"), Some("bob".into()));
    assert_eq!(w.send(amy, "cat", "still here?").outcome, Err(Problem::NotLoggedIn));
}

/// Random sequences of everything participants do, against the invariants a customer
/// relies on: no customer ever receives another customer's message or name, and every
/// accepted message is stored exactly once (a retry with the same client id included).
mod properties {
    use super::*;
    use proptest::prelude::*;

    const CUSTOMERS: [&str; 4] = ["Cu0", "Cu1", "Cu2", "Cu3"];
    /// Two agents, and an admin (who sees every conversation).
    const AGENTS: [&str; 3] = ["Ag0", "Ag1", "Ad0"];

    fn new_run() -> Run {
        let mut w = World::new();
        w.admins.insert(name_key("Ad0"));
        Run { w, open: vec![], last_id: HashMap::default(), next_id: 0, accepted_new: 0, clock: 0 }
    }

    /// Whether the agent `agent` sees conversation `id` in `metas`: the rule of the README,
    /// written here from the outside (admins all; others the new and waiting ones, their
    /// own and those they took part in).
    fn agent_sees(
        metas: &BTreeMap<String, ConversationMeta>,
        agent: &AgentKey,
        id: ConversationId,
    ) -> bool {
        if *agent == AgentKey::of(&name("Ad0")) {
            return true;
        }
        metas.values().find(|m| m.id == id).is_some_and(|m| {
            matches!(m.status, Status::New | Status::Queued)
                || m.assignee.as_ref().is_some_and(|a| &a.key == agent)
                || m.agents.contains(agent)
        })
    }

    #[derive(Debug, Clone)]
    enum Action {
        Login {
            agent: bool,
            who: usize,
        },
        Disconnect {
            slot: usize,
        },
        /// `to` indexes customers then agents then "nobody"; `retry` resends the slot's
        /// last client id.
        Send {
            slot: usize,
            to: usize,
            retry: bool,
            in_conversation: Option<usize>,
        },
        Take {
            slot: usize,
            customer: usize,
        },
        Resolve {
            slot: usize,
            customer: usize,
        },
        Transfer {
            slot: usize,
            customer: usize,
            to: usize,
        },
        /// The hub forgets what is idle (the transport sweeps every minute).
        Sweep,
        Read {
            slot: usize,
            customer: usize,
            seq: u64,
        },
        Typing {
            slot: usize,
            customer: Option<usize>,
        },
        Away {
            slot: usize,
            away: bool,
        },
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            3 => (any::<bool>(), 0..4usize).prop_map(|(agent, who)| Action::Login { agent, who: if agent { who % 3 } else { who } }),
            1 => (0..8usize).prop_map(|slot| Action::Disconnect { slot }),
            6 => (0..8usize, 0..8usize, any::<bool>(), proptest::option::of(0..4usize))
                .prop_map(|(slot, to, retry, in_conversation)| Action::Send { slot, to, retry, in_conversation }),
            1 => (0..8usize, 0..4usize).prop_map(|(slot, customer)| Action::Take { slot, customer }),
            1 => (0..8usize, 0..4usize).prop_map(|(slot, customer)| Action::Resolve { slot, customer }),
            1 => (0..8usize, 0..4usize, 0..3usize).prop_map(|(slot, customer, to)| Action::Transfer { slot, customer, to }),
            1 => (0..8usize, 0..4usize, 0..6u64).prop_map(|(slot, customer, seq)| Action::Read { slot, customer, seq }),
            1 => (0..8usize, proptest::option::of(0..4usize)).prop_map(|(slot, customer)| Action::Typing { slot, customer }),
            1 => (0..8usize, any::<bool>()).prop_map(|(slot, away)| Action::Away { slot, away }),
            1 => Just(Action::Sweep),
        ]
    }

    /// What one run holds besides the world: open connections, and per connection the
    /// last client id it used.
    struct Run {
        w: World,
        open: Vec<ConnId>,
        last_id: HashMap<ConnId, String>,
        next_id: u64,
        /// Sends the hub accepted that were not retries of a stored message.
        accepted_new: usize,
        /// The time of the last sweep.
        clock: u64,
    }

    impl Run {
        fn slot(&self, slot: usize) -> Option<ConnId> {
            (!self.open.is_empty()).then(|| self.open[slot % self.open.len()])
        }

        fn conversation_of(&self, customer: usize) -> Option<ConversationId> {
            self.w.metas.get(&name_key(CUSTOMERS[customer])).map(|m| m.id)
        }

        fn step(&mut self, action: &Action) -> Option<Step> {
            Some(match *action {
                Action::Login { agent, who } => {
                    let (n, role) = if agent {
                        (AGENTS[who], Role::Agent)
                    } else {
                        (CUSTOMERS[who], Role::Customer)
                    };
                    let (c, step) = self.w.login(n, role);
                    if step.outcome == Ok(Outcome::LoggedIn) {
                        self.open.push(c);
                    }
                    step
                }
                Action::Disconnect { slot } => {
                    let c = self.slot(slot)?;
                    self.open.retain(|o| *o != c);
                    self.w.run(Command::Disconnect(c))
                }
                Action::Send { slot, to, retry, in_conversation } => {
                    let c = self.slot(slot)?;
                    let to = match to {
                        0..4 => CUSTOMERS[to].to_owned(),
                        4..7 => AGENTS[to - 4].to_owned(),
                        _ => "nobody".to_owned(),
                    };
                    let id = match (retry, self.last_id.get(&c)) {
                        (true, Some(id)) => id.clone(),
                        _ => {
                            self.next_id += 1;
                            format!("id-{}", self.next_id)
                        }
                    };
                    self.last_id.insert(c, id.clone());
                    let conversation = in_conversation.and_then(|i| self.conversation_of(i));
                    if let Some(id) = conversation {
                        self.w.recall(id);
                    }
                    let request = PrivateMessage {
                        to,
                        message: "hello".into(),
                        client_id: Some(ClientMsgId::parse(&id).unwrap()),
                        conversation,
                        attachments: vec![],
                    };
                    let before = self.w.stored.len();
                    let step = self.w.write(c, request);
                    if self.w.stored.len() > before {
                        self.accepted_new += 1;
                    }
                    step
                }
                Action::Take { slot, customer } => {
                    let (c, conversation) = (self.slot(slot)?, self.conversation_of(customer)?);
                    self.w.recall(conversation);
                    self.w.run(Command::Take { conn: c, conversation })
                }
                Action::Resolve { slot, customer } => {
                    let (c, conversation) = (self.slot(slot)?, self.conversation_of(customer)?);
                    self.w.recall(conversation);
                    self.w.run(Command::Resolve { conn: c, conversation })
                }
                Action::Transfer { slot, customer, to } => {
                    let (c, conversation) = (self.slot(slot)?, self.conversation_of(customer)?);
                    self.w.recall(conversation);
                    let to =
                        Assignee { key: AgentKey::of(&name(AGENTS[to])), name: name(AGENTS[to]) };
                    self.w.run(Command::Transfer {
                        conn: c,
                        conversation,
                        to,
                        note: "over to you".into(),
                    })
                }
                Action::Read { slot, customer, seq } => {
                    let (c, conversation) = (self.slot(slot)?, self.conversation_of(customer)?);
                    self.w.recall(conversation);
                    self.w.run(Command::Read { conn: c, conversation, seq })
                }
                Action::Typing { slot, customer } => {
                    let c = self.slot(slot)?;
                    let conversation = customer.and_then(|i| self.conversation_of(i));
                    self.w.run(Command::Typing {
                        conn: c,
                        conversation,
                        now_ms: 1_000 + self.next_id * 5_000,
                    })
                }
                Action::Away { slot, away } => {
                    let c = self.slot(slot)?;
                    self.w.run(Command::Away { conn: c, away })
                }
                Action::Sweep => {
                    // Sweeps some forty seconds apart: one in two finds something idle long
                    // enough to forget.
                    self.clock += 40_000;
                    self.w.run(Command::Sweep { now_ms: self.clock })
                }
            })
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn no_customer_sees_another_and_every_accepted_message_is_stored_once(actions in proptest::collection::vec(action(), 1..60)) {
            let mut run = new_run();
            for action in &actions {
                // Who each connection is, before and after the step (a login names it, a
                // disconnect forgets it).
                let before: HashMap<ConnId, Identity> =
                    run.open.iter().filter_map(|c| run.w.hub.identity(*c).map(|i| (*c, i.clone()))).collect();
                let actor = match action {
                    Action::Send { slot, .. } => run.slot(*slot),
                    _ => None,
                };
                let Some(step) = run.step(action) else { continue };
                for out in &step.outbound {
                    let who = run.w.hub.identity(out.to).cloned().or_else(|| before.get(&out.to).cloned());
                    let Some(Identity::Customer(id)) = who else { continue };
                    let mine = run.w.metas.values().find(|m| m.customer == id).expect("a customer has a conversation").clone();
                    let wire = serde_json::to_string(&out.event).unwrap();
                    if let (Some(actor), ServerEvent::Error(text)) = (actor, &out.event) {
                        if out.to == actor && CUSTOMERS.iter().any(|n| text.text.starts_with(n)) {
                            // The name the customer typed, echoed back: worded as for any
                            // name that is not an agent's, so it tells nothing about who
                            // else is online.
                            let typed = text.text.split(' ').next().unwrap_or_default();
                            prop_assert_eq!(&text.text, &Problem::RecipientNotAllowed(typed.into()).to_string());
                            continue;
                        }
                    }
                    for other in CUSTOMERS.iter().filter(|n| **n != mine.customer_name.as_str()) {
                        prop_assert!(!wire.contains(other), "{} got {other}'s name: {wire} after {action:?}", mine.customer_name);
                    }
                    let conversation = match &out.event {
                        ServerEvent::Message(m) => Some(m.conversation),
                        ServerEvent::History(h) => Some(h.conversation),
                        _ => None,
                    };
                    if let Some(c) = conversation {
                        prop_assert_eq!(c, mine.id, "{} got another conversation: {} after {:?}", mine.customer_name, wire, action);
                    }
                    // The customers' bundle does not even decode these (`AGENTS_ONLY`).
                    prop_assert!(!out.event.agents_only(), "{} got an agents-only event: {}", mine.customer_name, wire);
                }
            }
            // Exactly once: one stored message per accepted new send, none twice.
            prop_assert_eq!(run.w.stored.len(), run.accepted_new);
            let mut keys: Vec<_> = run.w.stored.iter().map(|m| (m.conversation, m.author.clone(), m.client_id.clone())).collect();
            keys.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            let total = keys.len();
            keys.dedup();
            prop_assert_eq!(keys.len(), total, "a client id stored twice in one conversation");
        }

        /// Issue 19: with two agents and an admin, no agent is ever sent a message, note,
        /// typing, summary or history of a conversation they do not see (at the end of the
        /// step; one that left their view is told as gone, and only that); and whatever an
        /// agent asks about a conversation they do not see is answered as for one that does
        /// not exist.
        #[test]
        fn no_agent_gets_a_conversation_they_do_not_see(actions in proptest::collection::vec(action(), 1..60)) {
            let mut run = new_run();
            for action in &actions {
                let before = run.w.metas.clone();
                let actor = match *action {
                    Action::Send { slot, .. } | Action::Take { slot, .. } | Action::Resolve { slot, .. }
                    | Action::Transfer { slot, .. } | Action::Read { slot, .. } | Action::Typing { slot, .. } => run.slot(slot),
                    _ => None,
                };
                let actor_agent = match actor.and_then(|c| run.w.hub.identity(c)) {
                    Some(Identity::Agent(key)) => Some(key.clone()),
                    _ => None,
                };
                // The conversation the actor names (by id, or a message by the customer's name).
                let (named, by_name) = match *action {
                    Action::Send { in_conversation: Some(i), .. } => (run.conversation_of(i), false),
                    Action::Send { to: to @ 0..4, in_conversation: None, .. } => (run.conversation_of(to), true),
                    Action::Take { customer, .. } | Action::Resolve { customer, .. }
                    | Action::Transfer { customer, .. } | Action::Read { customer, .. } => (run.conversation_of(customer), false),
                    Action::Typing { customer: Some(i), .. } => (run.conversation_of(i), false),
                    _ => (None, false),
                };
                // A message to oneself is refused for that, whatever it names.
                let to_self = match (action, &actor_agent) {
                    (Action::Send { to: to @ 4..7, .. }, Some(me)) => AgentKey::of(&name(AGENTS[to - 4])) == *me,
                    _ => false,
                };
                let Some(step) = run.step(action) else { continue };
                for out in &step.outbound {
                    let Some(Identity::Agent(agent)) = run.w.hub.identity(out.to).cloned() else { continue };
                    let Some(id) = conversation_of_event(&out.event) else { continue };
                    let wire = serde_json::to_string(&out.event).unwrap();
                    if matches!(out.event, ServerEvent::ConversationGone(_)) {
                        prop_assert!(agent_sees(&before, &agent, id) && !agent_sees(&run.w.metas, &agent, id),
                            "{agent:?} told {wire} after {action:?}");
                    } else {
                        prop_assert!(agent_sees(&run.w.metas, &agent, id),
                            "{agent:?} got {wire} of a conversation they do not see, after {action:?}");
                    }
                }
                if let (Some(agent), Some(id)) = (actor_agent, named) {
                    if !agent_sees(&before, &agent, id) && !to_self {
                        let expected = match action {
                            Action::Send { to, .. } if by_name => Problem::UnknownRecipient(CUSTOMERS[*to].into()),
                            _ => Problem::UnknownConversation,
                        };
                        prop_assert_eq!(&step.outcome, &Err(expected), "after {:?}", action);
                        prop_assert!(step.changed.is_empty(), "a refused request changed something: {:?}", action);
                    }
                }
            }
        }

        /// Several server nodes share one desk by each running its own hub on the
        /// same commands in the same order (docs/cluster.md): that needs the hub to be a
        /// deterministic function of its commands. Two hubs (each with its own hash-map
        /// seeds) fed the same commands must decide and change the same, and tell each
        /// connection the same things in the same order (the order between two different
        /// connections means nothing: each node sends only to its own).
        #[test]
        fn two_hubs_fed_the_same_commands_decide_the_same(actions in proptest::collection::vec(action(), 1..60)) {
            let per_connection = |step: &Step| {
                let mut told: BTreeMap<ConnId, Vec<ServerEvent>> = BTreeMap::new();
                for out in &step.outbound {
                    told.entry(out.to).or_default().push(out.event.clone());
                }
                told
            };
            let (mut a, mut b) = (new_run(), new_run());
            for action in &actions {
                let (step_a, step_b) = (a.step(action), b.step(action));
                prop_assert_eq!(step_a.is_some(), step_b.is_some(), "after {:?}", action);
                let (Some(step_a), Some(step_b)) = (step_a, step_b) else { continue };
                prop_assert_eq!(&step_a.outcome, &step_b.outcome, "after {:?}", action);
                prop_assert_eq!(&step_a.changed, &step_b.changed, "after {:?}", action);
                prop_assert_eq!(per_connection(&step_a), per_connection(&step_b), "after {:?}", action);
            }
            prop_assert_eq!(&a.w.stored, &b.w.stored);
            prop_assert_eq!(a.w.hub.waiting(), b.w.hub.waiting());
        }
    }
}

/// A customer who logged in and has not written: numbered, nothing stored (the transport
/// stores them at the first message or note).
fn unsaved_login(conn: ConnId, n: u64, token_hash: &str) -> Login {
    let name = name(&format!("visitor {n}"));
    let meta =
        ConversationMeta::new_unsaved(ConversationId(n), CustomerId(n), name, token_hash.into(), n);
    Login::customer(conn, meta, format!("token {n}"))
}

#[test]
fn a_customer_not_stored_yet_resumes_from_the_hub_until_stored_or_forgotten() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let c = w.connect();
    assert_eq!(w.run(Command::Login(unsaved_login(c, 7, "hash-7"))).outcome, Ok(Outcome::LoggedIn));
    let id = ConversationId(7);
    let resumed = w.hub.unsaved_login("hash-7").expect("resumable from the hub");
    assert_eq!((resumed.id, resumed.customer), (id, CustomerId(7)));
    assert!(w.hub.unsaved_login("hash-8").is_none());
    assert!(w.hub.unsaved_meta(id).is_some(), "the first write must store them");

    // An agent takes it before anyone wrote; it is stored as it stood before the take.
    let before = w.hub.unsaved_meta(id).unwrap().version;
    assert_eq!(w.run(Command::Take { conn: amy, conversation: id }).outcome, Ok(Outcome::Changed));
    let step = w.run(Command::Saved { conversation: id, version: before, with_session: true });
    assert_eq!(step.outcome, Ok(Outcome::Changed));
    let kept: Vec<_> = step.changed.iter().map(|m| (m.id, m.status, m.unsaved.is_none())).collect();
    assert_eq!(kept, vec![(id, Status::Open, true)], "the take is handed on to be stored");
    assert!(w.hub.unsaved_meta(id).is_none());
    assert!(w.hub.unsaved_login("hash-7").is_none(), "storage resumes them from now on");
    // Stored already: a second report changes nothing.
    let again = w.run(Command::Saved { conversation: id, version: 0, with_session: true });
    assert!(again.changed.is_empty());

    // Another one logs out before writing: their token resumes nothing, and is not stored.
    let d = w.connect();
    w.run(Command::Login(unsaved_login(d, 8, "hash-8")));
    w.run(Command::SessionEnded("hash-8".into()));
    assert!(w.hub.unsaved_login("hash-8").is_none());
    assert_eq!(w.hub.unsaved_meta(ConversationId(8)).unwrap().unsaved.unwrap().token_hash, None);
    // A logout that raced the first write, which stored the session: told to revoke it.
    let e = w.connect();
    w.run(Command::Login(unsaved_login(e, 9, "hash-9")));
    w.run(Command::SessionEnded("hash-9".into()));
    let step =
        w.run(Command::Saved { conversation: ConversationId(9), version: 0, with_session: true });
    assert_eq!(step.outcome, Err(Problem::SessionExpired));
}

/// Issue 19's logout closes every tab: a tab whose session storage found valid, but which
/// the hub logs in only after a logout of that session, is refused, not left connected with
/// a revoked session. The hub remembers a bounded number of ended sessions, snapshot too.
#[test]
fn a_login_with_a_session_that_ended_meanwhile_is_refused() {
    let mut w = World::new();
    let c = w.connect();
    let agent = |conn, hash: &str| Login {
        conn,
        who: Identity::Agent(AgentKey::of(&name("Ann"))),
        name: name("Ann"),
        resume: None,
        conversations: vec![],
        admin: false,
        status: None,
        token_hash: Some(hash.into()),
    };
    w.run(Command::SessionEnded("hash-ann".into()));
    let step = w.run(Command::Login(agent(c, "hash-ann")));
    assert_eq!(step.outcome, Err(Problem::SessionExpired));
    let told = picked(&step, c, |e| matches!(e, ServerEvent::LoginError(_)).then_some(()));
    assert_eq!(told.len(), 1, "told why");
    assert_eq!(w.hub.identity(c), None, "not logged in");
    // Another session of hers is not concerned.
    assert_eq!(w.run(Command::Login(agent(c, "hash-new"))).outcome, Ok(Outcome::LoggedIn));

    // A node that joins later learns the ended sessions with the snapshot.
    let copy: Hub = postcard::from_bytes(&postcard::to_allocvec(&w.hub).unwrap()).unwrap();
    let mut joined = World { hub: copy, next: w.next, ..World::new() };
    let d = joined.connect();
    assert_eq!(
        joined.run(Command::Login(agent(d, "hash-ann"))).outcome,
        Err(Problem::SessionExpired)
    );

    // Remembered through one turn of sweeps and the next, then forgotten (storage refuses
    // such a login by then); logouts in any number do not push it out before.
    for n in 0..10_000 {
        w.run(Command::SessionEnded(format!("later-{n}")));
    }
    w.run(Command::Disconnect(c));
    for (now_ms, refused) in [(30_000, true), (60_000, true), (100_000, true), (120_000, false)] {
        w.run(Command::Sweep { now_ms });
        let e = w.connect();
        let outcome = w.run(Command::Login(agent(e, "hash-ann"))).outcome;
        let expected = if refused { Err(Problem::SessionExpired) } else { Ok(Outcome::LoggedIn) };
        assert_eq!(outcome, expected, "after the sweep at {now_ms} ms");
    }
}

#[test]
fn idle_conversations_are_forgotten_at_the_second_sweep_and_read_back_when_asked() {
    // Amy takes none from the queue: one conversation waits.
    let mut w = World::with_capacity(0);
    let amy = w.agent("amy");
    let quiet = w.customer("quiet");
    let waiting = w.customer("waiting");
    w.customer("online");
    let helped = w.customer("helped");
    w.send(waiting, "", "is anyone there?");
    w.send(helped, "amy", "help");
    for c in [quiet, waiting, helped] {
        w.run(Command::Disconnect(c));
    }
    let known = |w: &World| {
        ["quiet", "waiting", "online", "helped"]
            .into_iter()
            .filter(|n| w.hub.knows(w.meta(n).id))
            .collect::<Vec<_>>()
    };
    let sweep = |w: &mut World, s: u64| w.run(Command::Sweep { now_ms: s * 1000 });
    sweep(&mut w, 0);
    assert_eq!(known(&w), ["quiet", "waiting", "online", "helped"], "one sweep forgets nothing");
    // Sweeps close together (every node of a cluster sweeps) forget nothing sooner.
    sweep(&mut w, 30);
    sweep(&mut w, 59);
    assert_eq!(known(&w), ["quiet", "waiting", "online", "helped"]);
    // Resolved meanwhile: changed, so idle only from now.
    let id = w.meta("helped").id;
    w.run(Command::Resolve { conn: amy, conversation: id });
    sweep(&mut w, 60);
    assert_eq!(known(&w), ["waiting", "online", "helped"], "the quiet one is forgotten");
    sweep(&mut w, 119);
    assert_eq!(known(&w), ["waiting", "online", "helped"]);
    sweep(&mut w, 120);
    assert_eq!(known(&w), ["waiting", "online"], "waiting or online: kept");
    assert!(w.hub.waiting().iter().any(|m| m.customer_name.as_str() == "waiting"));

    // An agent who asks reads it back, as it was stored.
    w.recall(id);
    assert!(w.hub.readable(amy, id).is_ok(), "amy took part");
    assert_eq!(w.hub.waiting().len(), 1, "only the waiting one waits");
    // And its customer who comes back finds it too.
    let back = w.customer("quiet");
    assert!(w.hub.knows(w.meta("quiet").id));
    assert!(w.hub.identity(back).is_some());
}

/// Issue 19's measure: the hub's memory after 100,000 logins that never write does not
/// grow with them. The hub is measured as its snapshot (what a joining node is sent: every
/// map it holds) and by the room its conversation map ever needed.
#[test]
fn a_hundred_thousand_logins_that_never_write_leave_the_hub_as_it_was() {
    const LOGINS: u64 = 100_000;
    /// Logins between two sweeps: a minute's worth at a busy desk's peak.
    const PER_SWEEP: u64 = 1_000;
    let mut w = World::new();
    w.agent("amy");
    let size = |hub: &Hub| postcard::to_allocvec(hub).unwrap().len();
    let visit = |w: &mut World, n: u64| {
        let c = w.connect();
        let step = w.run(Command::Login(unsaved_login(c, n, &format!("hash-{n}"))));
        assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
        w.run(Command::Disconnect(c));
        // A login every 60 ms; a sweep every minute.
        if n.is_multiple_of(PER_SWEEP) {
            w.run(Command::Sweep { now_ms: n * 60 });
        }
    };
    // The baseline: after ten sweeps' worth, every map has grown to what a sweep's worth
    // of logins needs.
    const FIRST: u64 = 10 * PER_SWEEP;
    for n in 1..=FIRST {
        visit(&mut w, n);
    }
    w.run(Command::Sweep { now_ms: FIRST * 60 + 60_000 });
    let baseline = size(&w.hub);
    let room = w.hub.conversations.capacity();
    for n in FIRST + 1..=LOGINS {
        visit(&mut w, n);
    }
    w.run(Command::Sweep { now_ms: LOGINS * 60 + 60_000 });
    let after = size(&w.hub);
    eprintln!(
        "hub snapshot: {baseline} bytes after {FIRST} logins, {after} after {LOGINS}; \
         room for {room} then {} conversations",
        w.hub.conversations.capacity()
    );
    assert_eq!(w.hub.conversations.len(), 0);
    assert!(w.hub.unsaved_tokens.is_empty() && w.hub.by_customer.is_empty());
    // The same maps, empty again: only counters may have gained a digit.
    assert!(after <= baseline + 16, "{baseline} -> {after}");
    // A hash map keeps the room of its peak: the logins of two sweeps, whatever the total.
    assert!(
        w.hub.conversations.capacity() < 8 * PER_SWEEP as usize,
        "room for {} conversations after {LOGINS} logins",
        w.hub.conversations.capacity()
    );
}

#[test]
fn the_queue_is_counted_and_each_conversation_leaving_it_says_when_it_entered() {
    let mut w = World::new();
    let cat = w.customer("cat");
    w.send(cat, "", "anyone there?");
    let queued_at = w.meta("cat").queued_at;
    assert_eq!(w.hub.queue_census(), (1, Some(queued_at)));
    assert!(w.hub.take_queue_waits().is_empty(), "nobody has it yet");
    // An agent comes: the queue gives it to her, and says since when it waited, once.
    w.agent("amy");
    assert_eq!(w.hub.queue_census(), (0, None));
    assert_eq!(w.hub.take_queue_waits(), vec![queued_at]);
    assert!(w.hub.take_queue_waits().is_empty());
    // Another agent coming takes nothing from an empty queue.
    w.agent("bob");
    assert!(w.hub.take_queue_waits().is_empty());
}

#[test]
fn a_bot_writes_through_the_api_to_the_customer_and_takes_nothing() {
    let mut w = World::new();
    let ann = w.customer("Ann");
    w.send(ann, "", "Where is my parcel?");
    let id = w.meta("Ann").id;
    assert_eq!(w.hub.conversations[&id].status, Status::Queued);
    let bot = Writer::Bot { name: name("Parcel bot"), token: 7 };
    let text = MessageText::parse("It left the depot today.").unwrap();
    let planned = w.hub.plan_written(&bot, id, text, None, 50).unwrap();
    assert!(
        !matches!(&planned.author, Identity::Agent(k) if k.is_account()),
        "a bot is no account"
    );
    assert_eq!((planned.joins.clone(), planned.to.clone()), (None, Some(name("Ann"))));
    let deliver = w.stored(planned);
    let step = w.run(deliver);
    let told = messages_for(&step, ann);
    assert_eq!(told.len(), 1);
    assert_eq!((told[0].from.as_str(), told[0].is_self), ("Parcel bot", false));
    // Nobody took it: it still waits for an agent, who takes part alone.
    let meta = &w.hub.conversations[&id];
    assert_eq!((meta.status, meta.assignee.clone(), meta.agents.len()), (Status::Queued, None, 0));
    // A conversation the hub does not know (the transport learns it first): none such.
    let unknown =
        w.hub.plan_written(&bot, ConversationId(999), MessageText::parse("x").unwrap(), None, 51);
    assert_eq!(unknown.unwrap_err(), Problem::UnknownConversation);
}

#[test]
fn the_api_resolves_whoever_has_it_once_and_transfers_to_an_offline_agent() {
    let mut w = World::new();
    let amy = w.agent("amy");
    let ann = w.customer("Ann");
    w.send(ann, "", "Hello");
    let id = w.meta("Ann").id;
    assert_eq!(
        w.hub.conversations[&id].assignee.as_ref().map(|a| a.name.to_string()),
        Some("amy".into())
    );
    // Handed to Bob, who is not online: his, and Amy's room is free again.
    let bob = Assignee { key: AgentKey::of(&name("bob")), name: name("bob") };
    let to_bob = Settle::Transfer { to: bob.clone(), note: "VIP".into() };
    let step = w.run(Command::Settle { conversation: id, settle: to_bob });
    assert_eq!(step.outcome, Ok(Outcome::Changed));
    let meta = w.hub.conversations[&id].clone();
    assert_eq!(
        (meta.status, meta.assignee, meta.note.as_deref()),
        (Status::Open, Some(bob), Some("VIP"))
    );
    assert!(!events_for(&step, amy).is_empty(), "amy is told it left her");
    // Resolved: the customer is told once; resolved again, nothing changes.
    let step = w.run(Command::Settle { conversation: id, settle: Settle::Resolve });
    assert_eq!(w.hub.conversations[&id].status, Status::Resolved);
    assert!(events_for(&step, ann).iter().any(|e| matches!(e, ServerEvent::Resolved(_))));
    let again = w.run(Command::Settle { conversation: id, settle: Settle::Resolve });
    assert_eq!(again.outcome, Ok(Outcome::Changed));
    assert!(again.changed.is_empty() && again.outbound.is_empty(), "{again:?}");
    // A note over the message limit is refused, and nothing moves.
    let long = "x".repeat(MESSAGE_MAX_CHARS + 1);
    let amy_key = Assignee { key: AgentKey::of(&name("amy")), name: name("amy") };
    let refused = w.run(Command::Settle {
        conversation: id,
        settle: Settle::Transfer { to: amy_key, note: long },
    });
    assert_eq!(refused.outcome, Err(Problem::MessageTooLong));
    assert_eq!(w.hub.conversations[&id].status, Status::Resolved);
    let unknown =
        w.run(Command::Settle { conversation: ConversationId(999), settle: Settle::Resolve });
    assert_eq!(unknown.outcome, Err(Problem::UnknownConversation));
}

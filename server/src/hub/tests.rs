//! The hub's rules, driven without a runtime: what each participant would see.

use super::*;

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

/// A hub with helpers that connect and log in participants.
struct World {
    hub: Hub,
    next: u64,
}

impl World {
    fn new() -> Self {
        Self { hub: Hub::new(), next: 0 }
    }

    fn connect(&mut self) -> ConnId {
        self.next += 1;
        let c = ConnId(self.next);
        assert_eq!(self.hub.handle(Command::Connect(c)).outcome, Ok(Outcome::Connected));
        c
    }

    fn login(&mut self, n: &str, role: Role) -> (ConnId, Step) {
        let c = self.connect();
        let step = self.hub.handle(Command::Login { conn: c, name: name(n), role });
        (c, step)
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
        self.hub.handle(Command::Send { conn: from, to: to.into(), text: text.into(), now_ms: 42 })
    }
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

fn events_for(step: &Step, conn: ConnId) -> Vec<&ServerEvent> {
    step.outbound.iter().filter(|o| o.to == conn).map(|o| &o.event).collect()
}

fn errors_for(step: &Step, conn: ConnId) -> Vec<String> {
    step.outbound
        .iter()
        .filter(|o| o.to == conn)
        .filter_map(|o| match &o.event {
            ServerEvent::Error(e) | ServerEvent::LoginError(e) => Some(e.clone()),
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
        &ServerEvent::LoginSuccess(LoginSuccess { name: name("ann"), role: Role::Customer })
    );
    assert_eq!(lists_for(&step, c), vec![vec!["ann"]]);
    assert_eq!(w.hub.online(), 1);
}

#[test]
fn a_taken_name_is_refused_case_insensitively_and_changes_nothing() {
    let mut w = World::new();
    let agent = w.agent("Bea");
    let (c, step) = w.login("bea", Role::Customer);
    assert_eq!(step.outcome, Err(Problem::NameTaken));
    assert_eq!(errors_for(&step, c), vec![Problem::NameTaken.to_string()]);
    assert!(lists_for(&step, agent).is_empty(), "nobody's list changes");
    // The refused connection may try again with another name.
    let step = w.hub.handle(Command::Login { conn: c, name: name("bea2"), role: Role::Customer });
    assert_eq!(step.outcome, Ok(Outcome::LoggedIn));
}

#[test]
fn logging_in_twice_on_one_connection_is_refused() {
    let mut w = World::new();
    let (c, _) = w.login("ann", Role::Customer);
    let step = w.hub.handle(Command::Login { conn: c, name: name("other"), role: Role::Customer });
    assert_eq!(step.outcome, Err(Problem::AlreadyLoggedIn("ann".into())));
    assert_eq!(w.hub.online(), 1);
}

#[test]
fn customers_see_agents_only_and_agents_see_everyone() {
    let mut w = World::new();
    let agent = w.agent("zed");
    let (c1, step1) = w.login("cat", Role::Customer);
    assert_eq!(lists_for(&step1, c1), vec![vec!["cat", "zed"]]);
    assert_eq!(lists_for(&step1, agent), vec![vec!["cat", "zed"]]);

    let (c2, step2) = w.login("ann", Role::Customer);
    assert_eq!(lists_for(&step2, c2), vec![vec!["ann", "zed"]], "ann does not see cat");
    assert_eq!(lists_for(&step2, agent), vec![vec!["ann", "cat", "zed"]]);
    assert!(lists_for(&step2, c1).is_empty(), "cat's list did not change, so nothing is pushed");
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
    assert_eq!(lists_for(&step, a1), vec![vec!["amy", "bob", "dan"]]);
    assert_eq!(lists_for(&step, a2), vec![vec!["amy", "bob", "dan"]]);
    assert!(lists_for(&step, c2).is_empty());

    let step = w.hub.handle(Command::Disconnect(a1));
    assert_eq!(lists_for(&step, c2), vec![vec!["bob", "dan"]]);
    assert_eq!(lists_for(&step, a2), vec![vec!["bob", "dan"]]);

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
    let step = w.hub.handle(Command::Login { conn: c, name: name("ann"), role: Role::Customer });
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
    let Ok(Outcome::Sent(id)) = step.outcome else { panic!("{:?}", step.outcome) };
    let expected = ChatMessage {
        id,
        from: name("cat"),
        to: name("amy"),
        message: "hello <b>".into(),
        is_self: false,
        ts: 42,
    };
    assert_eq!(events_for(&step, a), vec![&ServerEvent::Message(expected.clone())]);
    assert_eq!(events_for(&step, c), vec![&ServerEvent::Message(ChatMessage { is_self: true, ..expected })]);

    // And back.
    let step = w.send(a, "cat", "hi cat");
    assert!(matches!(step.outcome, Ok(Outcome::Sent(next)) if next > id));
    assert_eq!(step.outbound.len(), 2);
}

#[test]
fn agents_may_write_to_agents() {
    let mut w = World::new();
    let a = w.agent("amy");
    let b = w.agent("bob");
    let step = w.send(a, "bob", "hand over?");
    assert!(matches!(step.outcome, Ok(Outcome::Sent(_))));
    assert_eq!(events_for(&step, b).len(), 1);
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
        assert_eq!(step.outbound, vec![Outbound { to: a, event: ServerEvent::Error(problem.to_string()) }]);
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
    assert_eq!(step.outcome, Err(Problem::RecipientNotAllowed("amy".into())));
}

//! The chat domain: who is online, who may see and write to whom, and what each
//! connection must be sent as a result.
//!
//! Owns: the rules of login (unique names, case-insensitively), visibility (customers see
//! the agents only; agents see everyone), routing of private messages and presence
//! updates on disconnect.
//! Must not: do I/O. No sockets, no clock, no storage: the transport feeds it
//! [`Command`]s (with the time and, for agents, the already checked password) and sends
//! the [`Outbound`] list it returns, in order.

use std::collections::{BTreeMap, HashMap};

use app::protocol::{ChatMessage, LoginSuccess, MessageId, MessageText, Role, ServerEvent, UserName};
use app::text::Problem;

/// One client connection, as numbered by the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What happened at the edge.
#[derive(Debug, Clone)]
pub enum Command {
    /// A connection joined the namespace; it is not logged in yet.
    Connect(ConnId),
    /// A login whose name is valid and, for an agent, whose password was checked.
    Login { conn: ConnId, name: UserName, role: Role },
    /// A `private_message`, as received.
    Send { conn: ConnId, to: String, text: String, now_ms: u64 },
    /// The connection is gone.
    Disconnect(ConnId),
}

/// An event for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub to: ConnId,
    pub event: ServerEvent,
}

/// What a command did, for acknowledgements and logs. The participant is told through
/// `outbound` either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Connected,
    LoggedIn,
    Sent(MessageId),
    Disconnected,
    /// The command was for a connection that is already gone; nothing to do.
    Stale,
}

/// The result of one [`Hub::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub outcome: Result<Outcome, Problem>,
    pub outbound: Vec<Outbound>,
}

#[derive(Debug, Clone)]
struct Participant {
    name: UserName,
    role: Role,
}

/// Names compare case-insensitively: "Ann" and "ann" are the same person.
fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The live state of the chat.
#[derive(Debug, Default)]
pub struct Hub {
    /// Every connection in the namespace; `Some` once logged in.
    conns: HashMap<ConnId, Option<Participant>>,
    /// Logged-in agents and customers by name key, so lists come out sorted.
    agents: BTreeMap<String, (UserName, ConnId)>,
    customers: BTreeMap<String, (UserName, ConnId)>,
    next_message: u64,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many connections are logged in.
    pub fn online(&self) -> usize {
        self.agents.len() + self.customers.len()
    }

    /// A refusal the edge decided (bad payload, wrong password): worded like the hub's own.
    pub fn refuse_login(conn: ConnId, problem: Problem) -> Step {
        let outbound = vec![Outbound { to: conn, event: ServerEvent::LoginError(problem.to_string()) }];
        Step { outcome: Err(problem), outbound }
    }

    /// An error the edge decided for a connection (a malformed payload, say).
    pub fn refuse(conn: ConnId, problem: Problem) -> Step {
        let outbound = vec![Outbound { to: conn, event: ServerEvent::Error(problem.to_string()) }];
        Step { outcome: Err(problem), outbound }
    }

    pub fn handle(&mut self, command: Command) -> Step {
        match command {
            Command::Connect(conn) => {
                self.conns.insert(conn, None);
                Step { outcome: Ok(Outcome::Connected), outbound: vec![] }
            }
            Command::Login { conn, name, role } => self.login(conn, name, role),
            Command::Send { conn, to, text, now_ms } => self.send(conn, &to, &text, now_ms),
            Command::Disconnect(conn) => self.disconnect(conn),
        }
    }

    fn login(&mut self, conn: ConnId, name: UserName, role: Role) -> Step {
        let Some(slot) = self.conns.get(&conn) else {
            return Step { outcome: Ok(Outcome::Stale), outbound: vec![] };
        };
        if let Some(me) = slot {
            return Self::refuse_login(conn, Problem::AlreadyLoggedIn(me.name.to_string()));
        }
        let k = key(name.as_str());
        if self.agents.contains_key(&k) || self.customers.contains_key(&k) {
            return Self::refuse_login(conn, Problem::NameTaken);
        }
        match role {
            Role::Agent => self.agents.insert(k, (name.clone(), conn)),
            Role::Customer => self.customers.insert(k, (name.clone(), conn)),
        };
        self.conns.insert(conn, Some(Participant { name: name.clone(), role }));

        let mut outbound = vec![Outbound { to: conn, event: ServerEvent::LoginSuccess(LoginSuccess { name, role }) }];
        self.push_lists_after_change(role, Some(conn), &mut outbound);
        Step { outcome: Ok(Outcome::LoggedIn), outbound }
    }

    fn send(&mut self, conn: ConnId, to: &str, text: &str, now_ms: u64) -> Step {
        let sender = match self.conns.get(&conn) {
            None => return Step { outcome: Ok(Outcome::Stale), outbound: vec![] },
            Some(None) => return Self::refuse(conn, Problem::NotLoggedIn),
            Some(Some(p)) => p.clone(),
        };
        let text = match MessageText::parse(text) {
            Ok(t) => t,
            Err(problem) => return Self::refuse(conn, problem),
        };
        let k = key(to);
        if k == key(sender.name.as_str()) {
            return Self::refuse(conn, Problem::MessageToSelf);
        }
        let recipient = match sender.role {
            // A customer learns nothing about other customers, not even whether one is online.
            Role::Customer => self.agents.get(&k).ok_or_else(|| Problem::RecipientNotAllowed(to.trim().to_owned())),
            Role::Agent => self
                .agents
                .get(&k)
                .or_else(|| self.customers.get(&k))
                .ok_or_else(|| Problem::UnknownRecipient(to.trim().to_owned())),
        };
        let (recipient_name, recipient_conn) = match recipient {
            Ok((n, c)) => (n.clone(), *c),
            Err(problem) => return Self::refuse(conn, problem),
        };

        self.next_message += 1;
        let id = MessageId(self.next_message);
        let message = ChatMessage {
            id,
            from: sender.name,
            to: recipient_name,
            message: text.as_str().to_owned(),
            is_self: false,
            ts: now_ms,
        };
        let outbound = vec![
            Outbound { to: recipient_conn, event: ServerEvent::Message(message.clone()) },
            Outbound { to: conn, event: ServerEvent::Message(ChatMessage { is_self: true, ..message }) },
        ];
        Step { outcome: Ok(Outcome::Sent(id)), outbound }
    }

    fn disconnect(&mut self, conn: ConnId) -> Step {
        let Some(slot) = self.conns.remove(&conn) else {
            return Step { outcome: Ok(Outcome::Stale), outbound: vec![] };
        };
        let mut outbound = vec![];
        if let Some(p) = slot {
            let k = key(p.name.as_str());
            match p.role {
                Role::Agent => self.agents.remove(&k),
                Role::Customer => self.customers.remove(&k),
            };
            self.push_lists_after_change(p.role, None, &mut outbound);
        }
        Step { outcome: Ok(Outcome::Disconnected), outbound }
    }

    /// Pushes `user_list` to everyone whose list changed when a participant of `role`
    /// came or went: agents always (they see everyone), customers only when an agent did,
    /// and a customer who just `arrived` (nobody else's list shows them).
    fn push_lists_after_change(&self, role: Role, arrived: Option<ConnId>, outbound: &mut Vec<Outbound>) {
        let everyone = self.everyone();
        for (_, conn) in self.agents.values() {
            outbound.push(Outbound { to: *conn, event: ServerEvent::UserList(everyone.clone()) });
        }
        if role == Role::Agent {
            for (k, (_, conn)) in &self.customers {
                outbound.push(Outbound { to: *conn, event: ServerEvent::UserList(self.customer_view(k)) });
            }
        } else if let Some(conn) = arrived {
            if let Some(Some(p)) = self.conns.get(&conn) {
                let view = self.customer_view(&key(p.name.as_str()));
                outbound.push(Outbound { to: conn, event: ServerEvent::UserList(view) });
            }
        }
    }

    /// Every online name, sorted case-insensitively.
    fn everyone(&self) -> Vec<UserName> {
        sorted_names(self.agents.iter().chain(self.customers.iter()))
    }

    /// What the customer with name key `me` sees: the online agents and themself.
    fn customer_view(&self, me: &str) -> Vec<UserName> {
        sorted_names(self.agents.iter().chain(self.customers.get_key_value(me)))
    }
}

/// The names of `entries`, in the order of their keys.
fn sorted_names<'a>(entries: impl Iterator<Item = (&'a String, &'a (UserName, ConnId))>) -> Vec<UserName> {
    let mut list: Vec<_> = entries.collect();
    list.sort_by(|a, b| a.0.cmp(b.0));
    list.into_iter().map(|(_, (name, _))| name.clone()).collect()
}

#[cfg(test)]
mod tests;

//! The chat domain: who is online, who may see and write to whom, and what each
//! connection must be sent as a result.
//!
//! Owns: the rules of login (a name is held by one identity at a time, case-insensitively;
//! one identity may have several connections, e.g. tabs or a reload racing the old
//! socket), visibility (customers see the agents only; agents see everyone), who a
//! message may go to and which conversation it belongs in, and who receives it once
//! stored.
//! Must not: do I/O. No sockets, no clock, no storage: the transport feeds it
//! [`Command`]s (with identities already established and messages already stored) and
//! sends the [`Outbound`] list it returns, in order. Sending is two steps: [`Hub::plan`]
//! decides what to store, the transport stores it, and [`Command::Deliver`] decides who
//! receives it: nothing is delivered that is not stored.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use app::protocol::{
    ConversationId, LoginSuccess, MessageText, Note, Presence, PrivateMessage, ReadUpTo, Role, ServerEvent, Status, Typing, UserName,
    AWAY_AFTER_MS, TYPING_EVERY_MS,
};
use app::protocol::Problem;

use crate::model::{name_key, AgentKey, Appended, Assignee, ConversationMeta, CustomerId, Identity, NewMessage};

/// Open conversations an agent is given at most by the queue (taking one by hand, a
/// customer writing to them by name, or a transfer may go beyond).
pub const DEFAULT_CAPACITY: usize = 5;

/// One client connection, as numbered by the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnId(pub u64);

/// What happened at the edge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// A connection joined the namespace; it is not logged in yet.
    Connect(ConnId),
    /// A login whose identity the transport has established (password checked, session
    /// resumed or customer created), with the conversations it takes part in.
    Login(Login),
    /// A message the transport stored after [`Hub::plan`] accepted it.
    Deliver { appended: Appended, joins: Option<AgentKey> },
    /// The connection is gone.
    Disconnect(ConnId),
    /// An agent takes a conversation (from the queue, usually).
    Take { conn: ConnId, conversation: ConversationId },
    /// The agent who has a conversation marks it resolved.
    Resolve { conn: ConnId, conversation: ConversationId },
    /// The agent who has a conversation hands it to another agent account.
    Transfer { conn: ConnId, conversation: ConversationId, to: Assignee, note: String },
    /// Someone is typing (an agent in `conversation`; a customer in their own).
    Typing { conn: ConnId, conversation: Option<ConversationId>, now_ms: u64 },
    /// A stored internal note, for the agents.
    Noted(Note),
    /// An agent has read a conversation up to `seq`.
    Read { conn: ConnId, conversation: ConversationId, seq: u64 },
    /// An agent's tab on `conn` was hidden a while (`away`), or shows again.
    Away { conn: ConnId, away: bool },
    /// An agent account was removed: they are logged out at once, and their open
    /// conversations go back to the queue (at `now_ms`). The transport closes the
    /// connections [`Hub::connections`] gave for them before.
    Retire { agent: AgentKey, now_ms: u64 },
}

/// An established login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    pub conn: ConnId,
    pub who: Identity,
    pub name: UserName,
    /// The session token to hand to the client (new, or the one it resumed with). A
    /// secret: it never leaves this process (not sent to other nodes, not in snapshots).
    #[serde(skip)]
    pub resume: Option<String>,
    /// A customer's own conversation first; for agents, the ones they see.
    pub conversations: Vec<ConversationMeta>,
    /// An agent who sees every conversation and manages the team.
    pub admin: bool,
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
    Delivered,
    Disconnected,
    /// A take, resolve or transfer was done.
    Changed,
    /// The command was for a connection that is already gone; nothing to do.
    Stale,
}

/// The result of one [`Hub::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub outcome: Result<Outcome, Problem>,
    pub outbound: Vec<Outbound>,
    /// Conversations whose status or assignee changed: the transport stores them, and
    /// sends a newly assigned agent the conversation's latest page.
    pub changed: Vec<ConversationMeta>,
}

impl Step {
    fn new(outcome: Result<Outcome, Problem>, outbound: Vec<Outbound>) -> Self {
        Self { outcome, outbound, changed: vec![] }
    }
}

/// Merges the `presence` changes a connection would get one after another, with nothing
/// else for it in between, into one: a batch of logins tells each agent once, not once
/// per login. Every other event keeps its place.
pub fn coalesce(outbound: Vec<Outbound>) -> Vec<Outbound> {
    let mut out: Vec<Outbound> = Vec::with_capacity(outbound.len());
    // Per connection: where its current run of changes goes in `out`, and the changes.
    let mut runs: HashMap<ConnId, (usize, Vec<Presence>)> = HashMap::new();
    let close = |out: &mut Vec<Outbound>, (at, changes): (usize, Vec<Presence>)| {
        out[at].event = ServerEvent::Presence(Presence::merged(changes));
    };
    for Outbound { to, event } in outbound {
        match event {
            ServerEvent::Presence(change) => match runs.get_mut(&to) {
                Some((_, changes)) => changes.push(change),
                None => {
                    runs.insert(to, (out.len(), vec![change]));
                    out.push(Outbound { to, event: ServerEvent::Presence(Presence::default()) });
                }
            },
            event => {
                if let Some(run) = runs.remove(&to) {
                    close(&mut out, run);
                }
                out.push(Outbound { to, event });
            }
        }
    }
    for run in runs.into_values() {
        close(&mut out, run);
    }
    out
}

/// An identity that is online, with its connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Present {
    name: UserName,
    conns: BTreeSet<ConnId>,
    admin: bool,
    /// The connections whose tab has been hidden a while: the identity is away when all
    /// of its connections are.
    away: BTreeSet<ConnId>,
}

impl Present {
    fn is_away(&self) -> bool {
        !self.conns.is_empty() && self.conns.iter().all(|c| self.away.contains(c))
    }
}

/// The live state of the chat.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Hub {
    /// Every connection in the namespace; `Some` once logged in.
    conns: HashMap<ConnId, Option<Identity>>,
    present: HashMap<Identity, Present>,
    /// Online agents and customers by name key, so that lists come out sorted.
    agents: BTreeMap<String, Identity>,
    customers: BTreeMap<String, Identity>,
    /// The conversations of everyone who logged in since the start: enough to route
    /// every message an online participant can send.
    conversations: HashMap<ConversationId, ConversationMeta>,
    by_customer: HashMap<CustomerId, ConversationId>,
    /// Conversations waiting for an agent, by the time they started waiting.
    queue: BTreeSet<(u64, ConversationId)>,
    /// Open conversations per agent (online or not).
    open_by: HashMap<AgentKey, usize>,
    /// When each agent was last given a conversation, to break ties fairly.
    last_given: HashMap<AgentKey, u64>,
    ticks: u64,
    /// The newest conversation version: every change gets a higher one.
    revision: u64,
    capacity: usize,
    /// Conversations changed by the command being handled (see [`Step::changed`]).
    #[serde(skip)]
    changed: Vec<ConversationMeta>,
    /// When each identity's typing was last passed on, per conversation.
    typing: HashMap<(Identity, ConversationId), u64>,
    /// Told to agents at login: after how long a hidden tab counts as away.
    away_after_ms: u64,
    /// Per conversation, the stored messages below its newest one that were never
    /// delivered live (with several nodes: the node that stored one stopped before passing
    /// it on, or has not yet). Delivered when they come (again: a retry of the same message
    /// counts).
    missed: HashMap<ConversationId, BTreeSet<u64>>,
}

/// Most missed sequence numbers remembered per conversation (the oldest are forgotten:
/// they are in every catch-up).
const MISSED_KEPT: usize = 256;

impl Hub {
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A hub whose queue gives each agent at most `capacity` open conversations.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { capacity, away_after_ms: AWAY_AFTER_MS, ..Self::default() }
    }

    /// Agents are told that a tab hidden `ms` milliseconds counts as away.
    pub fn set_away_after(&mut self, ms: u64) {
        self.away_after_ms = ms;
    }

    /// Every connection, logged in or not, in order.
    pub fn all_connections(&self) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self.conns.keys().copied().collect();
        conns.sort_unstable();
        conns
    }

    /// How many identities are logged in.
    pub fn online(&self) -> usize {
        self.present.len()
    }

    /// A refusal the edge decided (bad payload, wrong password): worded like the hub's own.
    pub fn refuse_login(conn: ConnId, problem: Problem) -> Step {
        let outbound = vec![Outbound { to: conn, event: ServerEvent::LoginError(problem.clone().into()) }];
        Step::new(Err(problem), outbound)
    }

    /// An error the edge decided for a connection (a malformed payload, say).
    pub fn refuse(conn: ConnId, problem: Problem) -> Step {
        let outbound = vec![Outbound { to: conn, event: ServerEvent::Error(problem.clone().into()) }];
        Step::new(Err(problem), outbound)
    }

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
    fn update(&mut self, id: ConversationId, out: &mut Vec<Outbound>, change: impl FnOnce(&mut ConversationMeta)) {
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
    fn assign(&mut self, id: ConversationId, agent: Assignee, note: Option<String>, out: &mut Vec<Outbound>) {
        self.ticks += 1;
        self.last_given.insert(agent.key.clone(), self.ticks);
        self.update(id, out, |m| {
            m.status = Status::Open;
            m.agents.insert(agent.key.clone());
            m.assignee = Some(agent);
            m.note = note;
        });
    }

    /// Every online agent.
    fn online_agents(&self) -> impl Iterator<Item = (&AgentKey, &Present)> + '_ {
        self.agents.values().filter_map(|who| match who {
            Identity::Agent(key) => Some((key, self.present.get(who)?)),
            Identity::Customer(_) => None,
        })
    }

    /// Whether a (non-admin) agent sees a conversation: while it waits (anyone may take
    /// it), when it is theirs, and when they took part in it. Admins see every one.
    fn involves(agent: &AgentKey, meta: &ConversationMeta) -> bool {
        meta.status == Status::Queued || meta.assignee.as_ref().is_some_and(|a| &a.key == agent) || meta.agents.contains(agent)
    }

    /// Whether the agent `who` sees the conversation.
    fn sees(&self, who: &Identity, meta: &ConversationMeta) -> bool {
        match who {
            Identity::Agent(key) => self.present.get(who).is_some_and(|p| p.admin) || Self::involves(key, meta),
            Identity::Customer(c) => *c == meta.customer,
        }
    }

    /// The connections of the online agents who see the conversation.
    fn agent_viewers(&self, meta: &ConversationMeta) -> Vec<ConnId> {
        self.online_agents()
            .filter(|(key, p)| p.admin || Self::involves(key, meta))
            .flat_map(|(_, p)| p.conns.iter().copied())
            .collect()
    }

    /// The connections of online admins.
    pub fn admin_connections(&self) -> Vec<ConnId> {
        self.online_agents().filter(|(_, p)| p.admin).flat_map(|(_, p)| p.conns.iter().copied()).collect()
    }

    /// The connections of every online agent.
    pub fn agent_connections(&self) -> Vec<ConnId> {
        self.online_agents().flat_map(|(_, p)| p.conns.iter().copied()).collect()
    }

    /// The admin logged in on `conn`, or why not.
    pub fn admin(&self, conn: ConnId) -> Result<AgentKey, Problem> {
        match self.identity(conn) {
            Some(who @ Identity::Agent(key)) if self.present.get(who).is_some_and(|p| p.admin) => Ok(key.clone()),
            Some(_) => Err(Problem::AdminsOnly),
            None => Err(Problem::NotLoggedIn),
        }
    }

    /// The names of the agents who are away, sorted.
    fn away_names(&self) -> Vec<UserName> {
        self.online_agents().filter(|(_, p)| p.is_away()).map(|(_, p)| p.name.clone()).collect()
    }

    /// Tells everyone logged in who is away, if that changed from `before`.
    fn push_away_if_changed(&self, before: Vec<UserName>, out: &mut Vec<Outbound>) {
        let now = self.away_names();
        if now != before {
            self.push_away(now, out);
        }
    }

    /// Tells everyone logged in that `names` are away.
    fn push_away(&self, names: Vec<UserName>, out: &mut Vec<Outbound>) {
        let event = ServerEvent::Away(names);
        out.extend(self.present.values().flat_map(|p| p.conns.iter()).map(|&to| Outbound { to, event: event.clone() }));
    }

    /// The online agent the queue gives the next conversation to: one with room who is
    /// not away, the fewest open conversations, then the one given one longest ago.
    fn next_agent(&self) -> Option<Assignee> {
        self.online_agents()
            .filter(|(_, p)| !p.is_away())
            .map(|(key, p)| (self.open_by.get(key).copied().unwrap_or(0), self.last_given.get(key).copied().unwrap_or(0), key, p))
            .filter(|(open, ..)| *open < self.capacity)
            .min_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)))
            .map(|(_, _, key, p)| Assignee { key: key.clone(), name: p.name.clone() })
    }

    /// Hands waiting conversations, oldest first, to agents with room.
    fn assign_waiting(&mut self, out: &mut Vec<Outbound>) {
        while let Some(&(_, id)) = self.queue.iter().next() {
            let Some(agent) = self.next_agent() else { break };
            self.assign(id, agent, None, out);
        }
    }

    /// A step with the conversations this command changed.
    fn step(&mut self, outcome: Result<Outcome, Problem>, outbound: Vec<Outbound>) -> Step {
        Step { outcome, outbound, changed: std::mem::take(&mut self.changed) }
    }

    /// Who is logged in on `conn`, if anyone.
    pub fn identity(&self, conn: ConnId) -> Option<&Identity> {
        self.conns.get(&conn)?.as_ref()
    }

    /// Whether `name` could be taken now by someone who is not `who`.
    pub fn name_free(&self, name: &UserName, who: Option<&Identity>) -> bool {
        let k = name_key(name.as_str());
        match self.agents.get(&k).or_else(|| self.customers.get(&k)) {
            None => true,
            Some(holder) => Some(holder) == who,
        }
    }

    /// The conversation `conn` may read, with its customer's name.
    pub fn readable(&self, conn: ConnId, id: ConversationId) -> Result<(Identity, UserName), Problem> {
        let who = self.identity(conn).ok_or(Problem::NotLoggedIn)?;
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        if !self.sees(who, meta) {
            return Err(Problem::UnknownConversation);
        }
        Ok((who.clone(), meta.customer_name.clone()))
    }

    pub fn handle(&mut self, command: Command) -> Step {
        match command {
            Command::Connect(conn) => {
                self.conns.insert(conn, None);
                Step::new(Ok(Outcome::Connected), vec![])
            }
            Command::Login(login) => self.login(login),
            Command::Deliver { appended, joins } => self.deliver(appended, joins),
            Command::Disconnect(conn) => self.disconnect(conn),
            Command::Take { conn, conversation } => self.take(conn, conversation),
            Command::Resolve { conn, conversation } => self.resolve(conn, conversation),
            Command::Transfer { conn, conversation, to, note } => self.transfer(conn, conversation, to, note),
            Command::Typing { conn, conversation, now_ms } => self.typing(conn, conversation, now_ms),
            Command::Read { conn, conversation, seq } => self.read(conn, conversation, seq),
            Command::Away { conn, away } => self.away(conn, away),
            Command::Retire { agent, now_ms } => self.retire(agent, now_ms),
            Command::Noted(note) => {
                // The agents who see the conversation; customers never.
                let Some(meta) = self.conversations.get(&note.conversation) else {
                    return Step::new(Err(Problem::UnknownConversation), vec![]);
                };
                let event = ServerEvent::Note(note);
                let outbound = self.agent_viewers(meta).into_iter().map(|to| Outbound { to, event: event.clone() }).collect();
                Step::new(Ok(Outcome::Delivered), outbound)
            }
        }
    }

    fn away(&mut self, conn: ConnId, away: bool) -> Step {
        let who = match self.identity(conn) {
            Some(who @ Identity::Agent(_)) => who.clone(),
            Some(Identity::Customer(_)) => return Self::refuse(conn, Problem::AgentsOnly),
            None => return Self::refuse(conn, Problem::NotLoggedIn),
        };
        let before = self.away_names();
        if let Some(p) = self.present.get_mut(&who) {
            if away {
                p.away.insert(conn);
            } else {
                p.away.remove(&conn);
            }
        }
        let mut out = vec![];
        self.push_away_if_changed(before, &mut out);
        // Back at the desk: room for whatever waits.
        self.assign_waiting(&mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    fn retire(&mut self, agent: AgentKey, now_ms: u64) -> Step {
        let who = Identity::Agent(agent.clone());
        let mut out = vec![];
        for conn in self.connections(&who) {
            self.conns.insert(conn, None);
            self.leave(conn, &who, &mut out);
        }
        let theirs: Vec<ConversationId> = self
            .conversations
            .values()
            .filter(|m| m.status == Status::Open && m.assignee.as_ref().is_some_and(|a| a.key == agent))
            .map(|m| m.id)
            .collect();
        for id in theirs {
            self.update(id, &mut out, |m| {
                m.status = Status::Queued;
                m.queued_at = now_ms;
                m.note = None;
            });
        }
        self.assign_waiting(&mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    /// Moves the support side's read position forward and tells the customer (only them:
    /// read receipts are for the customer).
    fn read(&mut self, conn: ConnId, id: ConversationId, seq: u64) -> Step {
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
        let mut outbound: Vec<Outbound> =
            self.conns_of(&Identity::Customer(meta.customer)).map(|to| Outbound { to, event: event.clone() }).collect();
        if meta.unread.len() != was_unread {
            // The unread count of this one conversation, to every agent who sees it.
            let summary = ServerEvent::Conversation(meta.summary());
            outbound.extend(self.agent_viewers(&meta).into_iter().map(|to| Outbound { to, event: summary.clone() }));
        }
        Step { outcome: Ok(Outcome::Delivered), outbound, changed: vec![meta] }
    }

    /// Who may write an internal note in `id` from `conn`: an agent, in a conversation
    /// the hub knows.
    pub fn note_author(&self, conn: ConnId, id: ConversationId) -> Result<(AgentKey, UserName), Problem> {
        let (me, _) = self.viewing_agent(conn, id)?;
        Ok((me.key, me.name))
    }

    /// Passes "typing" to the other side of the conversation only: the customer, or the
    /// agent who has it (every agent while it waits). At most once per
    /// [`TYPING_EVERY_MS`] per person and conversation, whatever clients send.
    fn typing(&mut self, conn: ConnId, conversation: Option<ConversationId>, now_ms: u64) -> Step {
        let Some(who) = self.identity(conn).cloned() else { return Self::refuse(conn, Problem::NotLoggedIn) };
        let id = match (&who, conversation) {
            (Identity::Customer(c), _) => self.by_customer.get(c).copied(),
            (Identity::Agent(_), id) => id.filter(|id| self.conversations.contains_key(id)),
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

    /// [`Hub::acting_agent`], for a conversation the agent sees.
    fn viewing_agent(&self, conn: ConnId, id: ConversationId) -> Result<(Assignee, &ConversationMeta), Problem> {
        let (me, meta) = self.acting_agent(conn, id)?;
        if !self.sees(&Identity::Agent(me.key.clone()), meta) {
            return Err(Problem::UnknownConversation);
        }
        Ok((me, meta))
    }

    /// The agent on `conn` and the conversation they act on.
    fn acting_agent(&self, conn: ConnId, id: ConversationId) -> Result<(Assignee, &ConversationMeta), Problem> {
        let key = match self.identity(conn) {
            Some(Identity::Agent(key)) => key.clone(),
            Some(Identity::Customer(_)) => return Err(Problem::AgentsOnly),
            None => return Err(Problem::NotLoggedIn),
        };
        let name = self.present.get(&Identity::Agent(key.clone())).map(|p| p.name.clone()).ok_or(Problem::NotLoggedIn)?;
        let meta = self.conversations.get(&id).ok_or(Problem::UnknownConversation)?;
        Ok((Assignee { key, name }, meta))
    }

    fn take(&mut self, conn: ConnId, id: ConversationId) -> Step {
        let me = match self.acting_agent(conn, id) {
            Ok((me, meta)) => match (&meta.status, &meta.assignee) {
                (Status::Open, Some(a)) if a.key == me.key => return self.step(Ok(Outcome::Changed), vec![]),
                (Status::Open, Some(a)) => return Self::refuse(conn, Problem::AlreadyAssigned(a.name.to_string())),
                _ if !self.sees(&Identity::Agent(me.key.clone()), meta) => return Self::refuse(conn, Problem::UnknownConversation),
                _ => me,
            },
            Err(problem) => return Self::refuse(conn, problem),
        };
        let mut out = vec![];
        self.assign(id, me, None, &mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    fn resolve(&mut self, conn: ConnId, id: ConversationId) -> Step {
        match self.acting_agent(conn, id) {
            Ok((me, meta)) if meta.status == Status::Open && meta.assignee.as_ref().is_some_and(|a| a.key == me.key) => {}
            Ok(_) => return Self::refuse(conn, Problem::NotYours),
            Err(problem) => return Self::refuse(conn, problem),
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

    fn transfer(&mut self, conn: ConnId, id: ConversationId, to: Assignee, note: String) -> Step {
        match self.acting_agent(conn, id) {
            Ok((me, meta)) if meta.status == Status::Open && meta.assignee.as_ref().is_some_and(|a| a.key == me.key) => {}
            Ok(_) => return Self::refuse(conn, Problem::NotYours),
            Err(problem) => return Self::refuse(conn, problem),
        }
        let note = Some(note.trim().to_owned()).filter(|n| !n.is_empty());
        let mut out = vec![];
        self.assign(id, to, note, &mut out);
        self.assign_waiting(&mut out);
        self.step(Ok(Outcome::Changed), out)
    }

    fn login(&mut self, login: Login) -> Step {
        let Login { conn, who, name, resume, conversations, admin } = login;
        let Some(slot) = self.conns.get(&conn) else {
            return Step::new(Ok(Outcome::Stale), vec![]);
        };
        if slot.is_some() {
            let me = self.identity(conn).and_then(|w| self.present.get(w)).map(|p| p.name.to_string()).unwrap_or_default();
            return Self::refuse_login(conn, Problem::AlreadyLoggedIn(me));
        }
        if !self.name_free(&name, Some(&who)) {
            return Self::refuse_login(conn, Problem::NameTaken);
        }
        let role = who.role();
        let own = match who {
            Identity::Customer(_) => conversations.first().map(|m| m.id),
            Identity::Agent(_) => None,
        };
        let listed: Vec<ConversationId> = conversations.iter().map(|m| m.id).collect();
        for meta in conversations {
            self.learn(meta);
        }
        self.conns.insert(conn, Some(who.clone()));
        let away_before = self.away_names();
        let arrived = !self.present.contains_key(&who);
        let present = self.present.entry(who.clone()).or_insert_with(|| Present {
            name: name.clone(),
            conns: BTreeSet::new(),
            admin,
            away: BTreeSet::new(),
        });
        present.conns.insert(conn);
        present.admin = admin;
        let name = present.name.clone();

        let agent = role == Role::Agent;
        let success = LoginSuccess {
            name: name.clone(),
            role,
            resume,
            conversation: own,
            admin: admin && agent,
            away_after_ms: agent.then_some(self.away_after_ms),
        };
        let mut outbound = vec![Outbound { to: conn, event: ServerEvent::LoginSuccess(success) }];
        if arrived {
            let k = name_key(name.as_str());
            match role {
                Role::Agent => self.agents.insert(k, who.clone()),
                Role::Customer => self.customers.insert(k, who.clone()),
            };
            self.push_lists_after_change(role, &name, Some(&who), &mut outbound);
        } else {
            // Another tab of someone already online: only it needs a list.
            let list = self.view_of(&who);
            outbound.push(Outbound { to: conn, event: ServerEvent::UserList(list) });
        }
        let away = self.away_names();
        if away != away_before {
            self.push_away(away, &mut outbound);
        } else if !away.is_empty() {
            outbound.push(Outbound { to: conn, event: ServerEvent::Away(away) });
        }
        if role == Role::Agent {
            // The console: the queue and this agent's conversations, then whatever waits
            // that this agent has room for.
            let mut listed: Vec<&ConversationMeta> = listed
                .iter()
                .filter_map(|id| self.conversations.get(id))
                .filter(|m| self.sees(&who, m))
                .chain(self.queue.iter().filter_map(|(_, id)| self.conversations.get(id)))
                .collect();
            listed.sort_by_key(|m| m.id);
            listed.dedup_by_key(|m| m.id);
            for meta in listed {
                outbound.push(Outbound { to: conn, event: ServerEvent::Conversation(meta.summary()) });
            }
            self.assign_waiting(&mut outbound);
        }
        self.step(Ok(Outcome::LoggedIn), outbound)
    }

    /// Decides what a `private_message` from `conn` stores, or why it is refused.
    /// Changes nothing: the message exists once stored and [`Command::Deliver`]ed.
    pub fn plan(&self, conn: ConnId, request: PrivateMessage, now_ms: u64) -> Result<NewMessage, Problem> {
        let who = self.identity(conn).ok_or(Problem::NotLoggedIn)?;
        let from = self.present.get(who).map(|p| p.name.clone()).ok_or(Problem::NotLoggedIn)?;
        let text = MessageText::parse(&request.message)?;
        let to_raw = request.to.trim();
        let to_key = name_key(to_raw);
        if !to_key.is_empty() && to_key == name_key(from.as_str()) {
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
                    let agent = AgentKey::from_stored(to_key.clone());
                    let online = self.agents.get(&to_key).and_then(|w| self.present.get(w)).map(|p| p.name.clone());
                    let name = match online {
                        Some(name) => name,
                        None if self.conversations.get(&own).is_some_and(|m| m.agents.contains(&agent)) => {
                            UserName::parse(to_raw)?
                        }
                        None => return Err(Problem::RecipientNotAllowed(to_raw.to_owned())),
                    };
                    (own, Some(name), Some(agent))
                }
            }
            Identity::Agent(me) => {
                let id = match request.conversation {
                    Some(id) => self.conversations.get(&id).map(|m| m.id).ok_or(Problem::UnknownConversation)?,
                    None if to_key.is_empty() => return Err(Problem::NoRecipient),
                    None => self.conversation_named(&to_key).ok_or_else(|| {
                        if self.agents.contains_key(&to_key) {
                            Problem::AgentToAgent
                        } else {
                            Problem::UnknownRecipient(to_raw.to_owned())
                        }
                    })?,
                };
                let customer = self.conversations.get(&id).map(|m| m.customer_name.clone()).ok_or(Problem::Internal)?;
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
        })
    }

    /// The conversation of the customer called `key`: the one online, else the newest
    /// known one of that name.
    fn conversation_named(&self, key: &str) -> Option<ConversationId> {
        if let Some(Identity::Customer(c)) = self.customers.get(key) {
            return self.by_customer.get(c).copied();
        }
        self.conversations.values().filter(|m| name_key(m.customer_name.as_str()) == key).map(|m| m.id).max()
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

    fn deliver(&mut self, appended: Appended, joins: Option<AgentKey>) -> Step {
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
        let counted = matches!(message.author, Identity::Customer(_)) && message.seq > meta.read_seq;
        if counted {
            meta.unread.push(message.seq);
        }
        let meta = &self.conversations[&id];
        let mut out = vec![];
        // Where the conversation goes now.
        let online_agent = |hub: &Hub, key: &AgentKey| {
            hub.present.get(&Identity::Agent(key.clone())).map(|p| Assignee { key: key.clone(), name: p.name.clone() })
        };
        let open = meta.status == Status::Open;
        match &message.author {
            // An agent who writes in a conversation nobody has takes it.
            Identity::Agent(me) if !open => {
                if let Some(me) = online_agent(self, me) {
                    self.assign(id, me, None, &mut out);
                }
            }
            Identity::Customer(_) if !open => {
                // A customer who writes to an agent by name reaches that agent (the
                // tutorial's way); one who had an agent before gets them back if they have
                // room; anyone else waits in the queue.
                let named = joins.as_ref().and_then(|k| online_agent(self, k));
                let previous = (meta.status == Status::Resolved)
                    .then(|| meta.assignee.as_ref())
                    .flatten()
                    .and_then(|a| online_agent(self, &a.key))
                    .filter(|a| !self.present.get(&Identity::Agent(a.key.clone())).is_some_and(Present::is_away))
                    .filter(|a| self.open_by.get(&a.key).copied().unwrap_or(0) < self.capacity);
                match named.or(previous) {
                    Some(agent) => self.assign(id, agent, None, &mut out),
                    None if meta.status != Status::Queued => {
                        let at = message.ts;
                        self.update(id, &mut out, |m| {
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
            // conversation get its new count. (A status change above told everyone.)
            let summary = ServerEvent::Conversation(meta.summary());
            let others: Vec<ConnId> = self.agent_viewers(meta).into_iter().filter(|c| !reached.contains(c)).collect();
            out.extend(others.into_iter().map(|to| Outbound { to, event: summary.clone() }));
        }
        self.assign_waiting(&mut out);
        self.step(Ok(Outcome::Delivered), out)
    }

    fn disconnect(&mut self, conn: ConnId) -> Step {
        let Some(slot) = self.conns.remove(&conn) else {
            return Step::new(Ok(Outcome::Stale), vec![]);
        };
        let mut outbound = vec![];
        if let Some(who) = slot {
            self.leave(conn, &who, &mut outbound);
        }
        Step::new(Ok(Outcome::Disconnected), outbound)
    }

    /// `who` is no longer on `conn`; when that was their last connection, they are gone.
    fn leave(&mut self, conn: ConnId, who: &Identity, outbound: &mut Vec<Outbound>) {
        let away_before = self.away_names();
        let gone = match self.present.get_mut(who) {
            Some(p) => {
                p.conns.remove(&conn);
                p.away.remove(&conn);
                p.conns.is_empty()
            }
            None => false,
        };
        if gone {
            self.typing.retain(|(typist, _), _| typist != who);
            if let Some(p) = self.present.remove(who) {
                let k = name_key(p.name.as_str());
                match who.role() {
                    Role::Agent => self.agents.remove(&k),
                    Role::Customer => self.customers.remove(&k),
                };
                self.push_lists_after_change(who.role(), &p.name, None, outbound);
            }
        }
        self.push_away_if_changed(away_before, outbound);
    }

    /// Every connection of `who`, if online.
    pub fn connections(&self, who: &Identity) -> Vec<ConnId> {
        self.conns_of(who).collect()
    }

    /// Every connection of an online identity.
    fn conns_of<'a>(&'a self, who: &Identity) -> impl Iterator<Item = ConnId> + 'a {
        self.present.get(who).into_iter().flat_map(|p| p.conns.iter().copied())
    }

    /// Pushes `user_list` to everyone whose list changed when a participant of `role`
    /// came or went: agents always (they see everyone), customers only when an agent did,
    /// and a customer who just `arrived` (nobody else's list shows them).
    ///
    /// Agents, who see everyone, get only the change (`presence`): a full list per login
    /// would cost every agent the whole list of a busy desk, over and over. The agent who
    /// just arrived gets the full list.
    fn push_lists_after_change(&self, role: Role, name: &UserName, arrived: Option<&Identity>, outbound: &mut Vec<Outbound>) {
        let change = match arrived {
            Some(_) => Presence { online: vec![name.clone()], offline: vec![] },
            None => Presence { online: vec![], offline: vec![name.clone()] },
        };
        let change = ServerEvent::Presence(change);
        for who in self.agents.values() {
            let event = if Some(who) == arrived { ServerEvent::UserList(self.everyone()) } else { change.clone() };
            for conn in self.conns_of(who) {
                outbound.push(Outbound { to: conn, event: event.clone() });
            }
        }
        let customers: Vec<&Identity> = match (role, arrived) {
            (Role::Agent, _) => self.customers.values().collect(),
            (Role::Customer, Some(who)) => vec![who],
            (Role::Customer, None) => vec![],
        };
        for who in customers {
            let view = self.view_of(who);
            for conn in self.conns_of(who) {
                outbound.push(Outbound { to: conn, event: ServerEvent::UserList(view.clone()) });
            }
        }
    }

    /// The list `who` sees: everyone for an agent; the agents and themself for a customer.
    fn view_of(&self, who: &Identity) -> Vec<UserName> {
        match who {
            Identity::Agent(_) => self.everyone(),
            Identity::Customer(_) => {
                let me = self.present.get(who).map(|p| name_key(p.name.as_str()));
                let mine = me.as_deref().and_then(|k| self.customers.get_key_value(k));
                self.sorted_names(self.agents.iter().chain(mine))
            }
        }
    }

    /// Every online name, sorted case-insensitively.
    fn everyone(&self) -> Vec<UserName> {
        self.sorted_names(self.agents.iter().chain(self.customers.iter()))
    }

    /// The names of `entries`, in the order of their keys.
    fn sorted_names<'a>(&self, entries: impl Iterator<Item = (&'a String, &'a Identity)>) -> Vec<UserName> {
        let mut list: Vec<_> = entries.collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        list.into_iter().filter_map(|(_, who)| self.present.get(who).map(|p| p.name.clone())).collect()
    }
}

#[cfg(test)]
mod tests;

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
//!
//! # Layout
//! - `mod.rs`: the types that cross the edge ([`Command`] in, [`Step`] out), the [`Hub`]'s
//!   state, and [`Hub::handle`], which hands each command to the file that owns it.
//! - `presence.rs`: who is online on which connections: login, leaving, away, retiring.
//! - `messages.rs`: what a message stores and who receives it; notes, read receipts, typing.
//! - `queue.rs`: where a conversation stands: the queue, assignment, take, resolve, transfer.
//! - `access.rs`: who may see, read or act on a conversation.
//! - `acting.rs`: what the REST API does without a connection: messages as an agent or a
//!   bot, resolving, transferring.
//! - `memory.rs`: what the hub remembers of conversations nobody is in: customers not yet
//!   stored, and forgetting the idle.
//! - `outbound.rs`: who is sent what: connections per audience, user and away lists.
//! - `tests.rs`: the rules driven without a runtime, as each participant would see them.

mod access;
mod acting;
pub mod memory;
mod messages;
mod outbound;
mod presence;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use app::protocol::Problem;
use app::protocol::{
    AgentStatus, ConversationId, Note, Rating, ServerEvent, UserName, AWAY_AFTER_MS,
};

use crate::model::{AgentKey, Appended, Assignee, ConversationMeta, CustomerId, Identity, NameKey};

use presence::Present;

pub use acting::{Settle, Writer};
pub use outbound::coalesce;

/// Open conversations an agent is given at most by the queue (taking one by hand, a
/// customer writing to them by name, or a transfer may go beyond).
pub const DEFAULT_CAPACITY: usize = 5;

/// The queue waits a hub keeps for [`Hub::take_queue_waits`] (a hub nobody asks, as in the
/// benchmarks, must not grow).
const QUEUE_WAITS_KEPT: usize = 10_000;

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
    /// The REST API resolves or transfers a conversation (its token sees every one).
    Settle { conversation: ConversationId, settle: Settle },
    /// Someone is typing (an agent in `conversation`; a customer in their own).
    Typing { conn: ConnId, conversation: Option<ConversationId>, now_ms: u64 },
    /// A stored internal note, for the agents.
    Noted(Note),
    /// A stored rating, for the agents who see the conversation and its customer.
    Rated(Rating),
    /// An agent has read a conversation up to `seq`.
    Read { conn: ConnId, conversation: ConversationId, seq: u64 },
    /// An agent's tab on `conn` was hidden a while (`away`), or shows again.
    Away { conn: ConnId, away: bool },
    /// An agent says they are online, away or busy.
    SetStatus { conn: ConnId, status: AgentStatus },
    /// An agent account was removed: they are logged out at once, and their open
    /// conversations go back to the queue (at `now_ms`). The transport closes the
    /// connections [`Hub::connections`] gave for them before.
    Retire { agent: AgentKey, now_ms: u64 },
    /// A customer nothing was stored of ([`Hub::unsaved_meta`]) is stored now, as their
    /// conversation stood at `version`, with the session of their token if `with_session`.
    Saved { conversation: ConversationId, version: u64, with_session: bool },
    /// A session ended on purpose (a logout; the hash of its token): a customer's nothing
    /// was stored of no longer resumes with it, and a login with it that was checked before
    /// it ended, but comes after, is refused.
    SessionEnded(String),
    /// Time to forget what nobody needs: a conversation idle (its customer offline, nothing
    /// waiting or open) and unchanged for a minute ([`memory::FORGET_AFTER_MS`]) by the
    /// sweeps' clock is forgotten (storage has it, or never needed it; an agent who asks
    /// reads it back).
    Sweep { now_ms: u64 },
    /// How long the team usually takes to answer a new question (see [`crate::replies`]),
    /// told to customers at login from now on.
    ReplyTime { ms: Option<u64> },
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
    /// The status an agent's client asks for as it logs in (kept across reconnects).
    #[serde(default)]
    pub status: Option<AgentStatus>,
    /// The hash of the session token it logs in with. The session was valid when storage
    /// was asked, but a logout may have ended it since: the hub refuses a login whose
    /// session it saw end ([`Command::SessionEnded`]).
    #[serde(default)]
    pub token_hash: Option<String>,
}

impl Login {
    /// A customer's login on `conn`, in their conversation `meta`, resuming with `token`.
    pub fn customer(conn: ConnId, meta: ConversationMeta, token: String) -> Self {
        Self {
            conn,
            who: Identity::Customer(meta.customer),
            name: meta.customer_name.clone(),
            resume: Some(token),
            conversations: vec![meta],
            admin: false,
            status: None,
            token_hash: None,
        }
    }
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
    /// A message, note, typing or read receipt was passed on.
    Delivered,
    Disconnected,
    /// The desk changed: a take, resolve or transfer, someone away or back, an agent
    /// retired, a conversation learnt or told.
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

/// The live state of the chat.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Hub {
    /// Every connection in the namespace; `Some` once logged in.
    conns: HashMap<ConnId, Option<Identity>>,
    present: HashMap<Identity, Present>,
    /// Online agents and customers by name key, so that lists come out sorted.
    agents: BTreeMap<NameKey, Identity>,
    customers: BTreeMap<NameKey, Identity>,
    /// The conversations of everyone online, of the queue, the open ones, and those agents
    /// looked at lately: enough to route every message an online participant can send.
    /// The idle are forgotten ([`Command::Sweep`]); storage has them.
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
    /// The agent connections that saw each of those before its first change (see
    /// [`Hub::tell_changes`]).
    #[serde(skip)]
    seen_before: HashMap<ConversationId, Vec<ConnId>>,
    /// When each identity's typing was last passed on, per conversation.
    typing: HashMap<(Identity, ConversationId), u64>,
    /// Told to agents at login: after how long a hidden tab counts as away.
    away_after_ms: u64,
    /// Told to everyone at login: the largest file the server takes.
    attachment_max_bytes: u64,
    /// Told to customers at login: how long the team usually takes to answer.
    #[serde(default)]
    reply_time_ms: Option<u64>,
    /// The conversations of customers nothing was stored of yet, by their token's hash:
    /// they resume from here until they write or are forgotten.
    unsaved_tokens: HashMap<String, ConversationId>,
    /// The sessions that ended lately, by their token's hash (see [`memory::EndedSessions`]).
    ended: memory::EndedSessions,
    /// The conversations idle at the last [`Command::Sweep`]: their version and newest `seq`
    /// then, and since when they are idle unchanged.
    idle: HashMap<ConversationId, (u64, u64, u64)>,
    /// When each conversation given to an agent since [`Hub::take_queue_waits`] had entered
    /// the queue (for the metrics; at most [`QUEUE_WAITS_KEPT`]).
    #[serde(skip)]
    queue_waits: Vec<u64>,
    /// Per conversation, the stored messages below its newest one that were never
    /// delivered live (with several nodes: the node that stored one stopped before passing
    /// it on, or has not yet). Delivered when they come (again: a retry of the same message
    /// counts).
    missed: HashMap<ConversationId, BTreeSet<u64>>,
}

impl Hub {
    /// A hub whose queue gives each agent at most [`DEFAULT_CAPACITY`] open conversations.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A hub whose queue gives each agent at most `capacity` open conversations.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            away_after_ms: AWAY_AFTER_MS,
            attachment_max_bytes: app::protocol::ATTACHMENT_MAX_BYTES,
            ..Self::default()
        }
    }

    /// Everyone is told at login that files may have at most `bytes` bytes.
    pub fn set_attachment_max(&mut self, bytes: u64) {
        self.attachment_max_bytes = bytes;
    }

    /// Agents are told that a tab hidden `ms` milliseconds counts as away.
    pub fn set_away_after(&mut self, ms: u64) {
        self.away_after_ms = ms;
    }

    /// Applies one command and says what came of it: the outcome, the events to send,
    /// each for one connection and in the order they must be sent, and the conversations to
    /// store. Never delivers a message that was not stored first (see [`Hub::plan`]).
    pub fn handle(&mut self, command: Command) -> Step {
        // Every handler that changes a conversation ends with `self.step`, which tells the
        // agents and hands the changes over: none may carry into the next command.
        debug_assert!(
            self.changed.is_empty() && self.seen_before.is_empty(),
            "a command's changes were left for the next one"
        );
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
            Command::Transfer { conn, conversation, to, note } => {
                self.transfer(conn, conversation, to, note)
            }
            Command::Settle { conversation, settle } => self.settle(conversation, settle),
            Command::Typing { conn, conversation, now_ms } => {
                self.typing(conn, conversation, now_ms)
            }
            Command::Read { conn, conversation, seq } => self.read(conn, conversation, seq),
            Command::Away { conn, away } => self.away(conn, away),
            Command::SetStatus { conn, status } => self.set_status(conn, status),
            Command::Retire { agent, now_ms } => self.retire(agent, now_ms),
            Command::Noted(note) => self.noted(note),
            Command::Rated(rating) => self.rated(rating),
            Command::Saved { conversation, version, with_session } => {
                self.saved(conversation, version, with_session)
            }
            Command::SessionEnded(token_hash) => self.session_ended(&token_hash),
            Command::Sweep { now_ms } => self.sweep(now_ms),
            Command::ReplyTime { ms } => {
                self.reply_time_ms = ms;
                Step::new(Ok(Outcome::Changed), vec![])
            }
        }
    }

    /// A step with the conversations this command changed, and the agents told of them
    /// after everything else the command sends.
    fn step(&mut self, outcome: Result<Outcome, Problem>, mut outbound: Vec<Outbound>) -> Step {
        self.tell_changes(&mut outbound);
        Step { outcome, outbound, changed: std::mem::take(&mut self.changed) }
    }

    /// An error the edge decided for a connection (a malformed payload, say).
    pub fn refuse(conn: ConnId, problem: Problem) -> Step {
        let outbound =
            vec![Outbound { to: conn, event: ServerEvent::Error(problem.clone().into()) }];
        Step::new(Err(problem), outbound)
    }

    /// A login refusal the edge decided (bad payload, wrong password), sent as the hub's own
    /// refusals are (`login_error`).
    pub fn refuse_login(conn: ConnId, problem: Problem) -> Step {
        let outbound =
            vec![Outbound { to: conn, event: ServerEvent::LoginError(problem.clone().into()) }];
        Step::new(Err(problem), outbound)
    }
}

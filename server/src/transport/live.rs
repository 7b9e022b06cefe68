//! The live state of this node: the hub, and the sockets its [`ConnId`]s stand for.
//!
//! Everything that changes the hub is an [`Item`], applied by [`Live::apply`]: directly on a
//! single node, or (with several nodes) by every node in the order of one shared stream (see
//! [`cluster`](super::cluster)), so that every node's hub decides the same. A node sends
//! only to the sockets it holds; the events for other nodes' connections are theirs to send.
//! Must not: await (it runs under the lock), or decide chat rules (the hub does).

use foldhash::{HashMap, HashMapExt};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;
use socketioxide::TransportType;

use super::login::SessionHash;
use crate::hub::{coalesce, Command, ConnId, Hub, Outbound, Outcome, Step};
use crate::metrics;
use crate::model::{ConversationMeta, Identity};
use app::protocol::Problem;
use app::protocol::{self, AgentInfo, CannedReply, ChatMessage, ConversationId, Role, ServerEvent};

/// Bits of a [`ConnId`] below the node's number: each node numbers its own connections.
pub const CONN_BITS: u32 = 40;

/// The node a connection belongs to.
pub fn node_of(conn: ConnId) -> u64 {
    conn.0 >> CONN_BITS
}

/// One change of the live state, the same on every node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Item {
    /// A hub command.
    Hub(Command),
    /// A conversation read from storage (the hub ignores one it knows).
    Learn(ConversationMeta),
    /// News for every agent, or every admin, online.
    Tell(Told),
    /// A node stopped or died: its connections are gone.
    NodeGone(u64),
    /// An agent's password was checked: every node counts it, so that guesses spread over
    /// the nodes meet one backoff.
    PasswordChecked(PasswordCheck),
    /// A session ended on purpose (a logout, on a socket or `DELETE /session`): every socket
    /// logged in with it, on every node, is told so and closed. Carries the token's hash.
    EndSession(String),
    /// What the clients of each address did on node `node` in the last second or so: the
    /// other nodes count it against the same limits per address.
    AddressUse { node: u64, uses: Vec<AddressUse> },
}

/// What the clients of one address (an IPv6 client's /64) did on one node since it last
/// told the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressUse {
    pub ip: std::net::IpAddr,
    pub logins: u32,
    /// Customers' messages.
    pub messages: u32,
    /// The connections open from it on that node now, when that changed.
    pub connections: Option<u32>,
}

impl AddressUse {
    /// Nothing used yet.
    pub fn new(ip: std::net::IpAddr) -> Self {
        Self { ip, logins: 0, messages: 0, connections: None }
    }
}

/// An agent's password checked from a client address: right or wrong, for the agent name
/// `key`, at `at_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordCheck {
    pub ip: std::net::IpAddr,
    pub key: String,
    pub ok: bool,
    pub at_ms: u64,
}

/// What the admins' work changed, told to the agents on every node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Told {
    /// The agent accounts changed: for the admins.
    Team(Vec<AgentInfo>),
    /// The canned replies changed: for every agent.
    Canned(Vec<CannedReply>),
    /// The desk's settings changed: for the customers (asked to rate, or no longer) and the
    /// admins online.
    Settings(app::protocol::DeskSettings),
}

/// What one item did: the outcome, and the conversations it changed (for the node that
/// asked for it to store).
pub type Applied = (Result<Outcome, Problem>, Vec<ConversationMeta>);

/// Work an item leaves for afterwards, outside the lock.
pub enum Effect {
    /// Sockets whose session ended (an agent account removed, a logout): told so, then
    /// closed.
    Close(Vec<SocketRef>),
    /// A conversation transferred to an agent: their tabs here get its newest page.
    HandOver(ConversationMeta),
    /// This node was declared gone by the others: its connections no longer count.
    Fenced,
    /// A password checked (on this node or another): counted here.
    PasswordChecked(PasswordCheck),
    /// What the clients of some addresses used on another node: counted here too.
    UsedElsewhere(u64, Vec<AddressUse>),
    /// Another node is gone: its connections no longer count against their addresses.
    NodeGone(u64),
}

/// The hub with this node's sockets: what the hub decides is sent from here.
pub struct Live {
    pub hub: Hub,
    sockets: HashMap<ConnId, SocketRef>,
    /// Connections logging in whose catch-up is being read: live messages for them wait
    /// here, so that they come after the catch-up and never twice (see [`Live::caught_up`]).
    catching_up: HashMap<ConnId, Vec<ChatMessage>>,
    /// Per connection, up to which `seq` of each conversation it was sent a page (or its
    /// cursor said it holds): a live message at or below it is not sent again. (With several
    /// nodes, a message stored before a catch-up was read may be passed on after it.)
    covered: HashMap<ConnId, HashMap<ConversationId, u64>>,
    node: u64,
    /// The desk's settings, once read from storage (see [`Desk::settings`]); kept current
    /// by [`Told::Settings`], which reaches every node.
    pub(super) settings: Option<app::protocol::DeskSettings>,
    /// When the items being applied were written to the cluster's stream (the follower says
    /// so): the queue waits they end are timed by it, not by the clock, since a node that
    /// joins or lags applies them late.
    pub(super) written_ms: Option<u64>,
}

impl Live {
    /// The live state of node `node`, around `hub`, with no sockets yet.
    pub fn new(hub: Hub, node: u64) -> Self {
        Self {
            hub,
            sockets: HashMap::new(),
            catching_up: HashMap::new(),
            covered: HashMap::new(),
            node,
            settings: None,
            written_ms: None,
        }
    }

    /// Applies `items` in order and sends what they produce to this node's sockets.
    pub fn apply(&mut self, items: Vec<Item>) -> (Vec<Applied>, Vec<Effect>) {
        let mut applied = Vec::with_capacity(items.len());
        let mut effects = vec![];
        let mut outbound = vec![];
        for item in items {
            match item {
                Item::Hub(command) => {
                    // A removed agent's sockets here: found before the hub forgets them.
                    let retired = match &command {
                        Command::Retire { agent, .. } => {
                            Some(self.sockets_of(&Identity::Agent(agent.clone())))
                        }
                        _ => None,
                    };
                    // A login's session: its sockets here carry it, found by `EndSession`.
                    let session = match &command {
                        Command::Login(login) => {
                            login.token_hash.clone().map(|hash| (login.conn, hash))
                        }
                        _ => None,
                    };
                    let transfer = match &command {
                        Command::Transfer { conversation, .. }
                        | Command::Settle {
                            conversation,
                            settle: crate::hub::Settle::Transfer { .. },
                        } => Some(*conversation),
                        _ => None,
                    };
                    let mut step = self.hub.handle(command);
                    let changed = std::mem::take(&mut step.changed);
                    outbound.append(&mut step.outbound);
                    if let (Some((conn, hash)), Ok(Outcome::LoggedIn)) = (session, &step.outcome) {
                        // Marked as the hub logs it in, in the stream's order: a logout
                        // applied after this finds it, one applied before refused the login.
                        if let Some(socket) = self.sockets.get(&conn) {
                            socket.extensions.insert(SessionHash(hash));
                        }
                    }
                    if let Some(sockets) = retired.filter(|s| !s.is_empty()) {
                        effects.push(Effect::Close(sockets));
                    }
                    if let (Some(id), Ok(_)) = (transfer, &step.outcome) {
                        effects.extend(
                            changed.iter().filter(|m| m.id == id).cloned().map(Effect::HandOver),
                        );
                    }
                    applied.push((step.outcome, changed));
                }
                Item::Learn(meta) => {
                    self.hub.learn(meta);
                    applied.push((Ok(Outcome::Changed), vec![]));
                }
                Item::Tell(told) => {
                    let (conns, event) = match told {
                        Told::Canned(replies) => {
                            (self.hub.agent_connections(), ServerEvent::Canned(replies))
                        }
                        Told::Team(agents) => {
                            (self.hub.admin_connections(), ServerEvent::Agents(agents))
                        }
                        Told::Settings(settings) => {
                            self.settings = Some(settings);
                            (
                                self.hub.customer_and_admin_connections(),
                                ServerEvent::DeskSettings(settings),
                            )
                        }
                    };
                    outbound
                        .extend(conns.into_iter().map(|to| Outbound { to, event: event.clone() }));
                    applied.push((Ok(Outcome::Changed), vec![]));
                }
                Item::PasswordChecked(check) => {
                    effects.push(Effect::PasswordChecked(check));
                    applied.push((Ok(Outcome::Changed), vec![]));
                }
                Item::EndSession(hash) => {
                    // A login checked against storage before the session ended but not yet
                    // applied is refused when it comes.
                    let ended = self.hub.handle(Command::SessionEnded(hash.clone()));
                    outbound.extend(ended.outbound);
                    let sockets: Vec<SocketRef> = self
                        .sockets
                        .values()
                        .filter(|s| {
                            s.extensions
                                .get::<SessionHash>()
                                .is_some_and(|SessionHash(h)| h == hash)
                        })
                        .cloned()
                        .collect();
                    if !sockets.is_empty() {
                        effects.push(Effect::Close(sockets));
                    }
                    applied.push((Ok(Outcome::Changed), vec![]));
                }
                Item::AddressUse { node, uses } => {
                    // This node counted its own as they happened.
                    if node != self.node {
                        effects.push(Effect::UsedElsewhere(node, uses));
                    }
                    applied.push((Ok(Outcome::Changed), vec![]));
                }
                Item::NodeGone(node) => {
                    if node == self.node {
                        effects.push(Effect::Fenced);
                    } else {
                        effects.push(Effect::NodeGone(node));
                    }
                    let mut changed = vec![];
                    for conn in
                        self.hub.all_connections().into_iter().filter(|&c| node_of(c) == node)
                    {
                        let mut step = self.hub.handle(Command::Disconnect(conn));
                        outbound.append(&mut step.outbound);
                        changed.append(&mut step.changed);
                    }
                    applied.push((Ok(Outcome::Disconnected), changed));
                }
            }
        }
        // A batch of logins tells each agent once.
        self.send(&coalesce(outbound));
        let waits = self.hub.take_queue_waits();
        if !waits.is_empty() {
            let at = self.written_ms.unwrap_or_else(crate::clock::now_ms);
            waits.into_iter().for_each(|queued_at| metrics::left_queue(queued_at, at));
        }
        (applied, effects)
    }

    /// The numbers of the live state `/metrics` shows: this node's connections by transport
    /// and role, and the desk's queue.
    pub fn census(&self) -> metrics::Census {
        // Six kinds at most (`TransportType` is not `Hash`).
        let mut connections: Vec<((TransportType, Option<Role>), u64)> = vec![];
        for (conn, socket) in &self.sockets {
            let role = match self.hub.identity(*conn) {
                Some(Identity::Customer(_)) => Some(Role::Customer),
                Some(Identity::Agent(_)) => Some(Role::Agent),
                None => None,
            };
            let kind = (socket.transport_type(), role);
            match connections.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => connections.push((kind, 1)),
            }
        }
        let (queue_length, oldest_queued_at_ms) = self.hub.queue_census();
        metrics::Census { connections, queue_length, oldest_queued_at_ms }
    }

    /// Sends a step decided outside the hub (a refusal at the edge).
    pub fn deliver(&mut self, step: Step) -> Result<Outcome, Problem> {
        self.send(&step.outbound);
        step.outcome
    }

    /// Sends each event to its connection, in order (those of this node's sockets). An event
    /// is encoded once for the run of connections that get it: a person's tabs, and the agents
    /// and admins whose copies are alike (the hub lists each viewer's connections together).
    pub fn send(&mut self, outbound: &[Outbound]) {
        let mut encoded = Encoded::default();
        for out in outbound {
            if let Some(socket) = self.socket_for(out.to, &out.event) {
                encoded.emit(socket, out.to, &out.event);
            }
        }
        metrics::delivered(encoded.messages);
    }

    /// Sends `event` to `conn` if it is a socket of this node (others' are theirs to send).
    pub fn emit(&mut self, conn: ConnId, event: &ServerEvent) {
        if let Some(socket) = self.socket_for(conn, event) {
            let mut encoded = Encoded::default();
            encoded.emit(socket, conn, event);
            metrics::delivered(encoded.messages);
        }
    }

    /// `conn`'s socket, if `event` is to be written to it now and it is one of this node's.
    fn socket_for(&mut self, conn: ConnId, event: &ServerEvent) -> Option<&SocketRef> {
        if !self.deliverable(conn, event) {
            return None;
        }
        let socket = self.sockets.get(&conn);
        if socket.is_none() && node_of(conn) == self.node {
            tracing::debug!(
                conn = conn.0,
                event = event.name(),
                "no socket for an outbound event (gone)"
            );
        }
        socket
    }

    /// Whether `event` is to be written to `conn` now: a message is held back while the
    /// connection catches up, and not sent again when its catch-up covered it.
    fn deliverable(&mut self, conn: ConnId, event: &ServerEvent) -> bool {
        let ServerEvent::Message(message) = event else { return true };
        if let Some(waiting) = self.catching_up.get_mut(&conn) {
            waiting.push(message.clone());
            return false;
        }
        self.covered
            .get(&conn)
            .and_then(|c| c.get(&message.conversation))
            .is_none_or(|&seq| message.seq > seq)
    }

    fn sockets_of(&self, who: &Identity) -> Vec<SocketRef> {
        self.hub.connections(who).iter().filter_map(|c| self.sockets.get(c).cloned()).collect()
    }

    /// From now on, live messages for `conn` wait until [`Live::caught_up`].
    pub fn catching_up(&mut self, conn: ConnId) {
        self.catching_up.insert(conn, vec![]);
    }

    /// Sends `conn` its catch-up pages, then the live messages that waited meanwhile and are
    /// not in them: `covered` says, per conversation, up to which `seq` the pages (or the
    /// client's own cursor) went.
    pub fn caught_up(
        &mut self,
        conn: ConnId,
        pages: Vec<protocol::History>,
        covered: std::collections::HashMap<ConversationId, u64>,
    ) {
        let waiting = self.catching_up.remove(&conn).unwrap_or_default();
        for page in pages {
            self.emit(conn, &ServerEvent::History(page));
        }
        if !covered.is_empty() && self.sockets.contains_key(&conn) {
            self.covered.entry(conn).or_default().extend(covered);
        }
        for message in waiting {
            self.emit(conn, &ServerEvent::Message(message));
        }
    }

    /// `conn` was sent conversation `id` up to `seq` (a page outside a login).
    pub fn cover(&mut self, conn: ConnId, id: ConversationId, seq: u64) {
        if self.sockets.contains_key(&conn) {
            let upto = self.covered.entry(conn).or_default().entry(id).or_default();
            *upto = (*upto).max(seq);
        }
    }

    /// Adds a socket of this node.
    pub fn attach(&mut self, conn: ConnId, socket: SocketRef) {
        self.sockets.insert(conn, socket);
    }

    /// The socket of `conn` is gone: nothing more is sent to it.
    pub fn detach(&mut self, conn: ConnId) {
        self.sockets.remove(&conn);
        self.catching_up.remove(&conn);
        self.covered.remove(&conn);
    }
}

/// The JSON of the last message or conversation summary written, kept for the next
/// connection that gets the same one (issue 20: a message went through serde once per
/// recipient). socketioxide writes a [`RawValue`] as it is, so the frame is the one `emit`
/// would have encoded from the event.
#[derive(Default)]
struct Encoded<'a> {
    last: Option<(&'a ServerEvent, Box<RawValue>)>,
    /// Message frames written (for the metrics).
    messages: u64,
}

impl<'a> Encoded<'a> {
    /// Writes `event` to `conn`'s socket; a message or a summary is encoded unless it equals
    /// the last one written. (Only those, each one JSON object: socketioxide spreads an event
    /// that serializes as a tuple, such as a refusal's text and code, into several arguments,
    /// which a [`RawValue`] would hide.)
    fn emit(&mut self, socket: &SocketRef, conn: ConnId, event: &'a ServerEvent) {
        let sent = if matches!(event, ServerEvent::Message(_) | ServerEvent::Conversation(_)) {
            let Some(json) = self.json(conn, event) else { return };
            socket.emit(event.name(), json)
        } else {
            socket.emit(event.name(), event)
        };
        match sent {
            Ok(()) if matches!(event, ServerEvent::Message(_)) => self.messages += 1,
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(conn = conn.0, sid = %socket.id, event = event.name(), error = %e, "emit failed")
            }
        }
    }

    fn json(&mut self, conn: ConnId, event: &'a ServerEvent) -> Option<&RawValue> {
        let same = self
            .last
            .as_ref()
            .is_some_and(|(last, _)| std::ptr::eq(*last, event) || *last == event);
        if !same {
            match serde_json::value::to_raw_value(event) {
                Ok(json) => self.last = Some((event, json)),
                Err(e) => {
                    tracing::error!(conn = conn.0, event = event.name(), error = %e, "an outbound event could not be encoded");
                    self.last = None;
                }
            }
        }
        self.last.as_ref().map(|(_, json)| &**json)
    }
}

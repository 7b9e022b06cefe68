//! The desk: the live state (the hub and this node's sockets), the cluster it is shared
//! through, and the store behind it.
//!
//! Owns: applying items to the live state (here, or in the cluster's order on every node),
//! what applying leaves for afterwards (closing sockets, handing a conversation over),
//! storing what changed, and the refusals sent at the edge (a refused login gets
//! `login_error`, anything else `error`). The pipeline, the registrar and the cluster's
//! follower all go through it. Must not: decide chat rules (the hub does), check who
//! someone is or how often they may ask (see [`super::login`], [`super::gate`]), or hold the
//! live state's lock across an `await`.

use std::sync::{Arc, Mutex, MutexGuard};

use super::cluster::Cluster;
use super::gate::Gate;
use super::live::{Applied, Effect, Item, Live, Told};
use crate::hub::{Command, ConnId, Hub, Outcome, Step};
use crate::model::{Assignee, ConversationMeta, Identity};
use crate::store::Store;
use app::protocol::{self, ConversationId, History, ServerEvent};
use app::protocol::{Problem, Refusal, UserName};

/// Internal notes sent with a conversation to an agent (the newest).
pub(super) const NOTES_SENT: u32 = 100;

/// The live state, the cluster and the store.
pub struct Desk {
    live: Mutex<Live>,
    /// The other nodes, when there are (see [`super::cluster`]).
    cluster: Option<Arc<Cluster>>,
    pub(super) store: Arc<dyn Store>,
    /// What is remembered per client address: a password checked on any node is counted
    /// on every node (see [`Item::PasswordChecked`]).
    gate: Arc<Gate>,
}

impl Desk {
    /// A desk over `hub`, shared through `cluster` when there is one, storing in `store`.
    pub fn new(
        hub: Hub,
        cluster: Option<Arc<Cluster>>,
        store: Arc<dyn Store>,
        gate: Arc<Gate>,
    ) -> Self {
        let node = cluster.as_ref().map_or(0, |c| c.node());
        Self { live: Mutex::new(Live::new(hub, node)), cluster, store, gate }
    }

    /// The live state, locked (never across an `await`).
    pub(super) fn live(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock leaves the hub as consistent as any single
        // command leaves it (commands mutate, then return), so keep serving.
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The other nodes, when there are.
    pub(super) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Applies items to the live state: here, or (in a cluster) on every node in the
    /// order of the cluster's stream. Returns what each did here.
    pub(super) async fn apply(&self, items: Vec<Item>) -> Vec<Applied> {
        match &self.cluster {
            Some(cluster) => {
                // Logins that could not go through the cluster are told so here (the hub
                // tells those it refuses).
                let logins: Vec<ConnId> = items
                    .iter()
                    .filter_map(|item| match item {
                        Item::Hub(Command::Login(login)) => Some(login.conn),
                        _ => None,
                    })
                    .collect();
                let n = items.len();
                cluster.publish(items).await.unwrap_or_else(|problem| {
                    let mut live = self.live();
                    for conn in logins {
                        // The refusal is what the client is told; there is nothing else to do.
                        let _refused = live.deliver(Hub::refuse_login(conn, problem.clone()));
                    }
                    (0..n).map(|_| (Err(problem.clone()), vec![])).collect()
                })
            }
            None => {
                let (applied, effects) = self.live().apply(items);
                self.follow_up(effects).await;
                applied
            }
        }
    }

    /// Applies one item (see [`Desk::apply`]).
    pub(super) async fn apply_one(&self, item: Item) -> Applied {
        self.apply(vec![item]).await.pop().unwrap_or((Err(Problem::Internal), vec![]))
    }

    /// Applies one item whose outcome the caller has no use for: a refusal was sent to
    /// whoever it concerns, a failure was logged where it happened.
    pub(super) async fn apply_quietly(&self, item: Item) {
        let (outcome, _) = self.apply_one(item).await;
        tracing::trace!(?outcome, "applied");
    }

    /// Does what applying items left for afterwards.
    pub(super) async fn follow_up(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Close(sockets) => {
                    for socket in sockets {
                        if let Err(e) =
                            socket.emit(protocol::ERROR, &Refusal::from(Problem::SessionExpired))
                        {
                            tracing::debug!(error = %e, "telling a socket whose session ended why it closes");
                        }
                        if let Err(e) = socket.disconnect() {
                            tracing::debug!(error = %e, "closing a socket whose session ended");
                        }
                    }
                }
                Effect::HandOver(meta) => self.hand_over(&meta).await,
                Effect::PasswordChecked(check) => self.gate.password_checked(&check),
                Effect::UsedElsewhere(node, uses) => self.gate.used_elsewhere(node, &uses),
                Effect::NodeGone(node) => self.gate.node_gone(node),
                Effect::Fenced => {
                    // Its connections no longer count anywhere: the honest way out is to
                    // stop, so that its clients reconnect to a node that counts them.
                    tracing::error!("the other nodes declared this node gone (it did not answer in time): exiting");
                    std::process::exit(70);
                }
            }
        }
    }

    /// Tells the other nodes of a cluster what this node's clients used per address since
    /// the last time (they count it against the same limits).
    pub(super) async fn share_use(&self) {
        let uses = self.gate.take_use();
        if let (Some(cluster), false) = (&self.cluster, uses.is_empty()) {
            self.apply_quietly(Item::AddressUse { node: cluster.node(), uses }).await;
        }
    }

    /// At a graceful shutdown, tells the other nodes of a cluster that this one leaves.
    pub async fn leave_cluster(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
    }

    /// Sends a step decided outside the hub (a refusal at the edge).
    pub(super) fn deliver(&self, step: Step) -> Result<Outcome, Problem> {
        self.live().deliver(step)
    }

    /// Tells `conn` that what it asked cannot be done (an `error` event).
    pub(super) fn refuse(&self, conn: ConnId, problem: Problem) {
        tracing::debug!(conn = conn.0, ?problem, "refused");
        // The outcome is the refusal itself.
        let _refused = self.deliver(Hub::refuse(conn, problem));
    }

    /// Tells `conn` that its login failed (a `login_error` event).
    pub(super) fn refuse_login(&self, conn: ConnId, problem: Problem) -> Result<Outcome, Problem> {
        self.deliver(Hub::refuse_login(conn, problem))
    }

    /// Makes sure the hub knows conversation `id` if it exists, when an agent asks for it:
    /// an agent may open one that was not among those sent at login (only the most recent
    /// are). Customers only ever have their own, known since their login.
    pub(super) async fn recall(&self, conn: ConnId, id: ConversationId) {
        if matches!(self.live().hub.identity(conn), Some(Identity::Agent(_))) {
            self.learn(id).await;
        }
    }

    /// Makes sure the hub knows conversation `id` if it exists (see [`Desk::recall`]).
    pub(super) async fn learn(&self, id: ConversationId) {
        if self.live().hub.knows(id) {
            return;
        }
        match self.store.conversation(id).await {
            // A failure was logged; the request then finds the conversation unknown.
            Ok(Some(meta)) => self.apply_quietly(Item::Learn(meta)).await,
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, conversation = id.0, "reading a conversation failed")
            }
        }
    }

    /// Stores the customer of conversation `id` if nothing of them is stored yet, before
    /// its first message or note is: an anonymous customer costs no row until then.
    pub(super) async fn save_unsaved(&self, id: ConversationId) -> Result<(), Problem> {
        let Some(meta) = self.live().hub.unsaved_meta(id) else { return Ok(()) };
        self.store.save_customer(&meta, crate::clock::now_ms()).await.map_err(|e| {
            tracing::error!(error = %e, conversation = id.0, "storing a new customer failed");
            Problem::NotSaved
        })?;
        let token_hash = meta.unsaved.and_then(|u| u.token_hash);
        let with_session = token_hash.is_some();
        let saved = Command::Saved { conversation: id, version: meta.version, with_session };
        let (outcome, changed) = self.apply_one(Item::Hub(saved)).await;
        match (outcome, token_hash) {
            // The customer logged out while they were being stored: their session goes too.
            (Err(Problem::SessionExpired), Some(hash)) => {
                if let Err(e) = self.store.revoke(&hash).await {
                    tracing::error!(error = %e, "revoking a session that ended failed");
                }
            }
            (Err(problem), _) => {
                tracing::error!(
                    ?problem,
                    conversation = id.0,
                    "telling the desk a customer is stored failed"
                )
            }
            (Ok(_), _) => {}
        }
        self.keep(changed).await;
        Ok(())
    }

    /// Stores the conversations a step changed. Changes may be stored out of order: the
    /// store keeps the newest version. One not stored yet waits for its customer's rows
    /// ([`Desk::save_unsaved`] hands on what changed meanwhile).
    pub(super) async fn keep(&self, changed: Vec<ConversationMeta>) {
        for meta in changed.into_iter().filter(|m| m.unsaved.is_none()) {
            if let Err(e) = self.store.set_state(&meta, crate::clock::now_ms()).await {
                tracing::error!(error = %e, conversation = meta.id.0, "storing a conversation's state failed");
            }
        }
    }

    /// Sends `agent` (every tab) the newest page of a conversation handed to them: after a
    /// transfer they may never have seen it. (The queue and a take only give agents
    /// conversations they hold already: waiting conversations go to every agent.)
    async fn hand_over(&self, meta: &ConversationMeta) {
        let Some(assignee) = meta.assignee.as_ref() else { return };
        let agent = Identity::Agent(assignee.key.clone());
        if self.live().hub.connections(&agent).is_empty() {
            return;
        }
        match self.store.messages_before(meta.id, None, protocol::HISTORY_PAGE).await {
            Ok(page) => {
                let messages =
                    page.messages.iter().map(|m| m.to_wire(&meta.customer_name, &agent)).collect();
                let (notes, ratings) = self.for_agents(meta.id).await;
                let history = ServerEvent::History(History {
                    conversation: meta.id,
                    customer: meta.customer_name.clone(),
                    messages,
                    more: page.more,
                    notes,
                    ratings,
                    read: 0,
                    newer: false,
                });
                let upto = page.messages.last().map(|m| m.seq);
                let mut live = self.live();
                for conn in live.hub.connections(&agent) {
                    live.emit(conn, &history);
                    if let Some(seq) = upto {
                        live.cover(conn, meta.id, seq);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, conversation = meta.id.0, "reading history failed")
            }
        }
    }

    /// What agents are sent with a conversation's first page besides its messages: its
    /// internal notes and the customer's ratings (the newest of each). A failure is logged,
    /// and the page goes without them.
    pub(super) async fn for_agents(
        &self,
        id: ConversationId,
    ) -> (Vec<protocol::Note>, Vec<protocol::Rating>) {
        let notes = self.store.notes(id, NOTES_SENT).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, conversation = id.0, "reading notes failed");
            vec![]
        });
        let ratings = self.store.ratings(id, protocol::RATINGS_SENT).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, conversation = id.0, "reading ratings failed");
            vec![]
        });
        (notes, ratings)
    }

    /// The agent account called `name` (online or not), as the hub names assignees; any
    /// other name is `UnknownAgent`.
    pub(super) async fn account(&self, name: &str) -> Result<Assignee, Problem> {
        let unknown = || Problem::UnknownAgent(name.trim().to_owned());
        let parsed = UserName::parse(name).map_err(|_| unknown())?;
        let record = self.store.agent(&parsed).await.map_err(internal("looking up an agent"))?;
        let record = record.ok_or_else(unknown)?;
        Ok(Assignee { key: crate::model::AgentKey::of(&record.name), name: record.name })
    }

    /// The desk's settings: read from storage once, then kept by the live state (an admin's
    /// change reaches every node), so that a login or a rating costs no read.
    pub(super) async fn settings(&self) -> Result<protocol::DeskSettings, Problem> {
        if let Some(settings) = self.live().settings {
            return Ok(settings);
        }
        let settings =
            self.store.desk_settings().await.map_err(internal("reading the desk's settings"))?;
        // A change told meanwhile is newer than what was read.
        Ok(*self.live().settings.get_or_insert(settings))
    }

    /// Sends the agent accounts to one admin connection, or to every admin online.
    pub(super) async fn send_team(&self, only: Option<ConnId>) {
        match self.store.agents().await {
            Ok(agents) => match only {
                Some(conn) => self.live().emit(conn, &ServerEvent::Agents(agents)),
                None => self.apply_quietly(Item::Tell(Told::Team(agents))).await,
            },
            Err(e) => tracing::error!(error = %e, "listing agents failed"),
        }
    }

    /// Sends the canned replies to one agent connection, or to every agent online.
    pub(super) async fn send_canned(&self, only: Option<ConnId>) {
        match self.store.canned().await {
            Ok(replies) => match only {
                Some(conn) => self.live().emit(conn, &ServerEvent::Canned(replies)),
                None => self.apply_quietly(Item::Tell(Told::Canned(replies))).await,
            },
            Err(e) => tracing::error!(error = %e, "reading canned replies failed"),
        }
    }
}

/// Logs a storage failure and turns it into the error a participant sees.
pub(super) fn internal(doing: &'static str) -> impl Fn(crate::store::StoreError) -> Problem {
    move |e| {
        tracing::error!(error = %e, "{doing} failed");
        Problem::Internal
    }
}

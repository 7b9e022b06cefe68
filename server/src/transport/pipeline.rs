//! The pipeline that writes messages: it stores them in batches (one transaction for
//! whatever is waiting, so a busy desk pays one commit for many messages), then has the
//! hub deliver each stored message, in sequence order. Storing and delivering are two
//! tasks (see [`run`]): the next batch is stored while the last one is delivered.
//!
//! Logins pass through the same pipeline: a participant's catch-up (the newest page, or
//! what is after the client's cursors: two pages at most per conversation, the last marked
//! `newer` when more follow) is read after every message taken in before the login was
//! stored and delivered, and after the participant was registered with the hub. So every
//! message is either in the catch-up, delivered live afterwards (a message stored while the
//! catch-up was read is delivered after it, and not again if the catch-up had it: `Live`
//! keeps what each connection was sent), or in the pages the client asks for after it
//! (`history {after}`, read in `socket.rs`, outside the pipeline: such a page may repeat a
//! message already delivered live; clients keep each `seq` once) — never none.
//! Must not: decide anything the hub decides, or hold the hub's lock across an `await`.

use std::collections::HashMap;
use std::sync::Weak;

use socketioxide::extract::AckSender;
use tokio::sync::{mpsc, oneshot};

use super::desk::Desk;
use super::drain::Sending;
use super::live::Item;
use crate::hub::{Command, ConnId, Login, Outcome};
use crate::metrics;
use crate::model::{AgentKey, Appended, NewMessage};
use crate::store::StoreError;
use app::protocol::{
    ConversationId, Cursor, History, Problem, SendAck, CATCH_UP_PAGE, CATCH_UP_PAGES, HISTORY_PAGE,
};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting before senders are made to wait too.
pub const QUEUE: usize = 8192;

/// Work for the pipeline.
pub enum Job {
    /// Store a message the hub planned, deliver it, and answer its sender.
    Send { message: NewMessage, joins: Option<AgentKey>, answer: Answer },
    /// Register a login with the hub and send its catch-up.
    Join { login: Login, since: Vec<Cursor>, reply: oneshot::Sender<Result<Outcome, Problem>> },
    /// Store and deliver everything queued before this, then answer (at shutdown).
    Flush { reply: oneshot::Sender<Result<(), Problem>> },
}

/// A message waiting for the next commit, with who is waiting for its answer.
type Waiting = (NewMessage, Option<AgentKey>, Answer);

/// How a message's sender hears what became of it: over the socket, the acknowledgement (if
/// their client asked for one) and on failure an `error` event too; over HTTP (the REST API),
/// the stored message or the refusal, to the request waiting for it. Sent from here, once
/// stored, so that the event's handler task need not stay to wait for it; the message counts
/// for the graceful shutdown until this is dropped. One dropped without an answer (the
/// pipeline gone at shutdown, or a panic) answers "internal error": the client sends again,
/// and a copy of a message that was stored after all is recognised by its client id.
pub struct Answer {
    to: Reply,
    _sending: Sending,
}

/// Who waits for an [`Answer`].
enum Reply {
    Socket { conn: ConnId, ack: Option<AckSender> },
    Http(Option<oneshot::Sender<Result<Appended, Problem>>>),
}

impl Answer {
    pub fn new(conn: ConnId, ack: AckSender, sending: Sending) -> Self {
        Self { to: Reply::Socket { conn, ack: Some(ack) }, _sending: sending }
    }

    /// An answer for an HTTP request, which waits on the receiver.
    pub fn http(sending: Sending) -> (Self, oneshot::Receiver<Result<Appended, Problem>>) {
        let (tx, rx) = oneshot::channel();
        (Self { to: Reply::Http(Some(tx)), _sending: sending }, rx)
    }

    /// Tells the sender.
    pub fn give(mut self, desk: &Desk, stored: Result<&Appended, Problem>) {
        match &mut self.to {
            Reply::Socket { conn, ack } => {
                let reply = match stored {
                    Ok(appended) => {
                        let m = &appended.message;
                        SendAck::Sent {
                            ok: true,
                            id: m.id,
                            conversation: m.conversation,
                            seq: m.seq,
                            client_id: m.client_id.clone(),
                        }
                    }
                    Err(problem) => {
                        desk.refuse(*conn, problem.clone());
                        SendAck::failed(problem)
                    }
                };
                send(*conn, ack, &reply);
            }
            Reply::Http(waiting) => {
                if let Some(waiting) = waiting.take() {
                    // The request may have gone (its client hung up): the message stands.
                    let _gone = waiting.send(stored.cloned());
                }
            }
        }
    }
}

/// Acknowledges a message over the socket, once.
fn send(conn: ConnId, ack: &mut Option<AckSender>, reply: &SendAck) {
    if let Some(ack) = ack.take() {
        if let Err(e) = ack.send(reply) {
            tracing::warn!(conn = conn.0, error = %e, "ack failed");
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        match &mut self.to {
            Reply::Socket { conn, ack } if ack.is_some() => {
                tracing::error!(conn = conn.0, "a message was dropped without an answer");
                send(*conn, ack, &SendAck::failed(Problem::Internal));
            }
            Reply::Socket { .. } => {}
            Reply::Http(waiting) => {
                if let Some(waiting) = waiting.take() {
                    tracing::error!("a message sent over HTTP was dropped without an answer");
                    let _gone = waiting.send(Err(Problem::Internal));
                }
            }
        }
    }
}

/// Batches stored and not yet delivered: storing the next batch overlaps delivering this
/// many (the store takes them one at a time, in order, so numbering is never reordered).
const STORED_AHEAD: usize = 2;

/// What the storing half hands the delivering half, in the order it was taken in.
enum Stored {
    /// A batch as stored: each message with what became of it.
    Batch(Vec<(Waiting, Result<Appended, StoreError>)>),
    /// A login, after everything before it was stored.
    Join { login: Login, since: Vec<Cursor>, reply: oneshot::Sender<Result<Outcome, Problem>> },
    /// Answered once everything before it was delivered.
    Flush { reply: oneshot::Sender<Result<(), Problem>> },
}

/// Runs until the desk is gone (or the shared state, which holds the only sender).
///
/// Two halves, each a task: one stores batches, the other delivers what was stored and
/// registers logins. While batch N is delivered, batch N+1 is already being stored (the
/// commit's fsync and the delivery's encoding and writes take turns on the two halves
/// instead of following each other). Order holds as before: the delivering half takes
/// batches, logins and flushes in the order they were taken in.
pub async fn run(desk: Weak<Desk>, jobs: mpsc::Receiver<Job>) {
    let (stored, delivering) = mpsc::channel(STORED_AHEAD);
    let deliver = tokio::spawn(deliver(desk.clone(), delivering));
    store(desk, jobs, stored).await;
    if let Err(e) = deliver.await {
        tracing::error!(error = %e, "the delivering half of the pipeline failed");
    }
}

/// The storing half: takes what is waiting as one batch (up to [`MAX_BATCH`]), stores it,
/// hands it on; a login or a flush first hands on the batch before it.
async fn store(desk: Weak<Desk>, mut jobs: mpsc::Receiver<Job>, stored: mpsc::Sender<Stored>) {
    let mut batch: Vec<Waiting> = Vec::new();
    while let Some(job) = jobs.recv().await {
        let Some(desk) = desk.upgrade() else { break };
        let mut next = Some(job);
        while let Some(job) = next.take() {
            let after = match job {
                Job::Send { message, joins, answer } => {
                    batch.push((message, joins, answer));
                    if batch.len() < MAX_BATCH {
                        next = jobs.try_recv().ok();
                    }
                    continue;
                }
                // Whatever was accepted before this login is stored and delivered first.
                Job::Join { login, since, reply } => Stored::Join { login, since, reply },
                Job::Flush { reply } => Stored::Flush { reply },
            };
            hand_on(&stored, commit(&desk, &mut batch).await).await;
            hand_on(&stored, Some(after)).await;
            next = jobs.try_recv().ok();
        }
        hand_on(&stored, commit(&desk, &mut batch).await).await;
    }
}

async fn hand_on(stored: &mpsc::Sender<Stored>, item: Option<Stored>) {
    if let Some(item) = item {
        if stored.send(item).await.is_err() {
            // Only when the desk is going away: the senders' clients send again.
            tracing::warn!("the delivering half of the pipeline is gone; stored messages wait for the next login");
        }
    }
}

/// The delivering half: delivers each stored batch and answers its senders; registers
/// logins; answers flushes.
async fn deliver(desk: Weak<Desk>, mut stored: mpsc::Receiver<Stored>) {
    while let Some(item) = stored.recv().await {
        let Some(desk) = desk.upgrade() else { break };
        match item {
            Stored::Batch(batch) => delivered(&desk, batch).await,
            Stored::Join { login, since, reply } => {
                let outcome = join(&desk, login, since).await;
                if reply.send(outcome).is_err() {
                    tracing::debug!("a login finished after its connection went away");
                }
            }
            Stored::Flush { reply } => {
                let _ = reply.send(Ok(()));
            }
        }
    }
}

/// Stores `batch`; what was stored goes on to be delivered. Senders whose messages were not
/// stored get their answer here.
async fn commit(desk: &Desk, batch: &mut Vec<Waiting>) -> Option<Stored> {
    if batch.is_empty() {
        return None;
    }
    let mut jobs = std::mem::take(batch);
    // A customer nothing was stored of yet (an anonymous one's first message, or an agent's
    // greeting) is stored first, with their session. Should that fail, their messages are
    // refused as not saved (without waiting for the database a second time); the others go in.
    let mut first: Vec<ConversationId> = {
        let live = desk.live();
        jobs.iter().map(|(m, ..)| m.conversation).filter(|id| live.hub.is_unsaved(*id)).collect()
    };
    first.sort_unstable();
    first.dedup();
    let mut unsaved = vec![];
    for id in first {
        if desk.save_unsaved(id).await.is_err() {
            unsaved.push(id);
        }
    }
    if !unsaved.is_empty() {
        let refused;
        (refused, jobs) = jobs.into_iter().partition(|(m, ..)| unsaved.contains(&m.conversation));
        for (_, _, answer) in refused {
            // The failure was logged by save_unsaved.
            answer.give(desk, Err(Problem::NotSaved));
        }
    }
    let messages: Vec<NewMessage> = jobs.iter().map(|(m, _, _)| m.clone()).collect();
    let started = std::time::Instant::now();
    match desk.store.append(&messages).await {
        Ok(results) => {
            // A retry of a stored message is answered from storage: not stored again.
            let stored = results.iter().filter(|r| matches!(r, Ok(a) if !a.duplicate)).count();
            metrics::committed(stored, started.elapsed());
            Some(Stored::Batch(jobs.into_iter().zip(results).collect()))
        }
        Err(e) => {
            tracing::error!(error = %e, messages = jobs.len(), "storing a batch failed; nothing of it was sent");
            for (_, _, answer) in jobs {
                answer.give(desk, Err(Problem::NotSaved));
            }
            None
        }
    }
}

/// Delivers every stored message of a batch (in one apply, in order); each sender then gets
/// its answer. The sender may have gone meanwhile: what was stored reaches them at their
/// next login.
async fn delivered(desk: &Desk, batch: Vec<(Waiting, Result<Appended, StoreError>)>) {
    let items: Vec<Item> = batch
        .iter()
        .filter_map(|((_, joins, _), result)| {
            let appended = result.as_ref().ok()?.clone();
            Some(Item::Hub(Command::Deliver { appended, joins: joins.clone() }))
        })
        .collect();
    let mut applied = desk.apply(items).await.into_iter();
    let mut changed = vec![];
    for ((_, _, answer), result) in batch {
        let stored = match result {
            Ok(appended) => {
                let (outcome, mut more) =
                    applied.next().unwrap_or((Err(Problem::Internal), vec![]));
                changed.append(&mut more);
                if let Err(problem) = outcome {
                    // Stored all the same: it reaches everyone at their next catch-up.
                    tracing::error!(
                        ?problem,
                        id = appended.message.id.0,
                        "a stored message could not be delivered"
                    );
                }
                Ok(appended)
            }
            Err(e) => {
                tracing::error!(error = %e, "storing a message failed");
                Err(Problem::NotSaved)
            }
        };
        answer.give(desk, stored.as_ref().map_err(Problem::clone));
    }
    // Assignments the messages caused (a conversation entering the queue, say).
    desk.keep(changed).await;
}

/// Registers a login and sends its catch-up: per conversation the agent (or customer) sees,
/// what is after the client's cursor (two pages at most), or else the newest page.
async fn join(desk: &Desk, login: Login, since: Vec<Cursor>) -> Result<Outcome, Problem> {
    let conn = login.conn;
    let who = login.who.clone();
    // Where an agent's listing ends, when it is full: the console asks for the rest from there.
    let listing_end = (login.conversations.len() == app::protocol::CONVERSATIONS_AT_LOGIN as usize)
        .then(|| login.conversations.last().map(|m| m.id))
        .flatten();
    let mut conversations: Vec<_> =
        login.conversations.iter().map(|m| (m.id, m.customer_name.clone(), m.read_seq)).collect();
    let agent = matches!(who, crate::model::Identity::Agent(_));
    // Live messages for this connection wait from here until its catch-up is sent (other
    // nodes deliver while the catch-up is read).
    desk.live().catching_up(conn);
    let (outcome, changed) = desk.apply_one(Item::Hub(Command::Login(login))).await;
    let read = async {
        let outcome = outcome?;
        if outcome != Outcome::LoggedIn {
            return Ok((outcome, vec![], HashMap::new()));
        }
        if agent {
            // The storage read for the login may lag behind the hub (a conversation that
            // just entered the queue is stored a moment later): the catch-up also covers
            // everything waiting and everything the login gave this agent.
            let waiting = desk.live().hub.waiting();
            for meta in waiting.iter().chain(&changed) {
                if !conversations.iter().any(|(id, ..)| *id == meta.id) {
                    conversations.push((meta.id, meta.customer_name.clone(), meta.read_seq));
                }
            }
            // Only what this agent sees now, by the hub's one rule: storage may lag behind
            // it (a conversation a colleague took whose new state is not stored yet still
            // reads as waiting), and the login may have handed one to someone else.
            let live = desk.live();
            conversations.retain(|(id, ..)| live.hub.readable(conn, *id).is_ok());
        }
        let mut sent = vec![];
        let mut covered = HashMap::new();
        for (id, customer, read_seq) in conversations {
            let (pages, upto) = catch_up_of(desk, &who, id, customer, read_seq, &since).await?;
            sent.extend(pages);
            covered.insert(id, upto);
        }
        Ok((outcome, sent, covered))
    };
    let (outcome, pages, covered) = match read.await {
        Ok((outcome, pages, covered)) => (Ok(outcome), pages, covered),
        Err(problem) => (Err(problem), vec![], HashMap::new()),
    };
    let logged_in = outcome.as_ref().is_ok_and(|o| *o == Outcome::LoggedIn);
    // Sent after the login's own events; then the live messages that waited.
    desk.live().caught_up(conn, pages, covered);
    if logged_in && matches!(who, crate::model::Identity::Agent(_)) {
        // Where the console's next page starts (none: it lists every one already).
        let next = match listing_end {
            Some(id) => match desk.store.last_activity(id).await {
                Ok(active) => {
                    active.map(|active| app::protocol::ConversationsCursor { active, id })
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading where an agent's listing ends failed");
                    None
                }
            },
            None => None,
        };
        let page = app::protocol::ConversationsPage { conversations: vec![], next };
        desk.live().emit(conn, &app::protocol::ServerEvent::ConversationsPage(page));
    }
    // What the login pulled from the queue.
    desk.keep(changed).await;
    outcome
}

/// The catch-up of one conversation for a login: what is after the client's cursor (two
/// pages at most, see [`catch_up`]), or else the newest page; and up to which `seq` it goes.
async fn catch_up_of(
    desk: &Desk,
    who: &crate::model::Identity,
    id: app::protocol::ConversationId,
    customer: app::protocol::UserName,
    read_seq: u64,
    since: &[Cursor],
) -> Result<(Vec<History>, u64), Problem> {
    let agent = matches!(who, crate::model::Identity::Agent(_));
    // The customer sees how far the support side has read.
    let read = if agent { 0 } else { read_seq };
    let cursor = since.iter().find(|c| c.conversation == id);
    let pages = match cursor {
        Some(cursor) => catch_up(desk, id, cursor.seq).await,
        None => desk
            .store
            .messages_before(id, None, HISTORY_PAGE)
            .await
            .map(|page| vec![Page::from(page)]),
    };
    let mut pages = pages.map_err(|e| {
        tracing::error!(error = %e, conversation = id.0, "reading history failed");
        Problem::Internal
    })?;
    let upto = pages
        .iter()
        .flat_map(|page| page.messages.last())
        .map(|m| m.seq)
        .max()
        .unwrap_or(0)
        .max(cursor.map_or(0, |c| c.seq));
    if let Some(held) = cursor.map(|c| &c.held).filter(|held| !held.is_empty()) {
        // Received live across a gap: only the gap is sent.
        for page in &mut pages {
            // A page that newer ones follow keeps its last message: the client asks for
            // what is after it.
            let last = page.messages.last().map(|m| m.seq).filter(|_| page.newer);
            page.messages.retain(|m| Some(m.seq) == last || held.binary_search(&m.seq).is_err());
        }
        pages.retain(|page| !page.messages.is_empty());
    }
    // Agents get the internal notes and the customer's ratings with the first page.
    let (mut notes, mut ratings) = if agent { desk.for_agents(id).await } else { (vec![], vec![]) };
    if pages.is_empty() {
        if !notes.is_empty() || !ratings.is_empty() || read > 0 {
            return Ok((
                vec![History {
                    conversation: id,
                    customer,
                    messages: vec![],
                    more: false,
                    notes,
                    ratings,
                    read,
                    newer: false,
                }],
                upto,
            ));
        }
        return Ok((vec![], upto));
    }
    let pages = pages
        .into_iter()
        .map(|page| {
            let messages = page.messages.iter().map(|m| m.to_wire(&customer, who)).collect();
            History {
                conversation: id,
                customer: customer.clone(),
                messages,
                more: page.more,
                notes: std::mem::take(&mut notes),
                ratings: std::mem::take(&mut ratings),
                read,
                newer: page.newer,
            }
        })
        .collect();
    Ok((pages, upto))
}

/// Stored messages of one conversation, in order, as one `history` page will carry them.
pub(super) struct Page {
    pub messages: Vec<crate::model::StoredMessage>,
    /// Older messages exist before the first one.
    pub more: bool,
    /// Newer messages may exist after the last one (the page is full): the client asks.
    pub newer: bool,
}

impl From<crate::store::Page> for Page {
    /// A page read backwards (the newest, or one before a `seq`): nothing said of newer ones.
    fn from(page: crate::store::Page) -> Self {
        Self { messages: page.messages, more: page.more, newer: false }
    }
}

/// What is after `after`: [`CATCH_UP_PAGES`] pages at most, the last one saying whether
/// newer messages may follow (the client asks for them, a page at a time): a client far
/// behind costs the server a few pages, not the whole conversation at once.
async fn catch_up(
    desk: &Desk,
    id: app::protocol::ConversationId,
    mut after: u64,
) -> Result<Vec<Page>, crate::store::StoreError> {
    let mut pages: Vec<Page> = Vec::new();
    while pages.len() < CATCH_UP_PAGES {
        let page = page_after(desk, id, after).await?;
        let Some(last) = page.messages.last() else { break };
        after = last.seq;
        // Only the last page sent says that newer ones follow: the next one is here.
        if let Some(previous) = pages.last_mut() {
            previous.newer = false;
        }
        let newer = page.newer;
        pages.push(page);
        if !newer {
            break;
        }
    }
    Ok(pages)
}

/// The page after `after` ([`CATCH_UP_PAGE`] messages at most).
pub(super) async fn page_after(
    desk: &Desk,
    id: app::protocol::ConversationId,
    after: u64,
) -> Result<Page, crate::store::StoreError> {
    let messages = desk.store.messages_after(id, after, CATCH_UP_PAGE).await?;
    let newer = messages.len() == CATCH_UP_PAGE as usize;
    // Older messages exist (the client holds them) whenever the page does not start at 1.
    let more = messages.first().is_some_and(|m| m.seq > 1);
    Ok(Page { messages, more, newer })
}

//! The one task that creates new customers: whatever logins are waiting are numbered (an
//! anonymous customer is stored only once someone writes; one a host site vouched for is
//! stored at once, in one transaction for the batch) and registered with the hub in one
//! apply, and the agents hear of them in one `presence` change per batch. A login storm
//! pays one change per agent for many customers, not one for each.
//!
//! A new customer skips the [`pipeline`](super::pipeline): their conversation is new, so
//! there is nothing to catch up on and no message to order against.
//! It refuses a name someone holds online (the tutorial's rule), and one that is or looks
//! like an agent account's (it reads the accounts once per batch; for a vouched customer
//! storage refuses the same name again; an account added while the batch runs is not seen
//! by it).
//! Must not: decide anything the hub decides, or hold the hub's lock across an `await`.

use std::collections::HashSet;
use std::sync::Weak;

use tokio::sync::{mpsc, oneshot};

use super::desk::Desk;
use super::live::Item;
use crate::hub::{Command, ConnId, Login, Outcome};
use crate::model::{name_key, skeleton, ConversationMeta};
use crate::store::{NewCustomer, StoreError};
use app::protocol::Problem;
use app::protocol::{History, UserName};

/// Most customers created in one transaction.
const MAX_BATCH: usize = 512;
/// Registrations waiting before logins are made to wait too.
pub const QUEUE: usize = 4096;

/// A customer logging in for the first time, with their new session token.
pub struct Registration {
    pub conn: ConnId,
    pub name: UserName,
    pub token: String,
    pub token_hash: String,
    /// The host site's user id, when the site vouched for this customer: linked to them.
    pub external: Option<String>,
    /// What their browser said (kept with an anonymous customer until they are stored).
    pub visit: app::protocol::VisitFacts,
    /// The login's outcome; a refusal has been sent to the client already.
    pub reply: oneshot::Sender<Result<Outcome, Problem>>,
}

/// Runs until the desk is gone (or the shared state, which holds the only sender).
pub async fn run(desk: Weak<Desk>, mut jobs: mpsc::Receiver<Registration>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some(desk) = desk.upgrade() else { break };
        register(&desk, std::mem::take(&mut batch)).await;
    }
}

/// Creates and logs in one batch; every registration gets its answer.
async fn register(desk: &Desk, batch: Vec<Registration>) {
    // A name someone online has, or that comes twice in the batch, is refused before
    // anything is created (the hub checks again at login).
    let mut taken = HashSet::new();
    let (accepted, refused): (Vec<_>, Vec<_>) = {
        let live = desk.live();
        batch.into_iter().partition(|r| {
            live.hub.name_free(&r.name, None) && taken.insert(name_key(r.name.as_str()))
        })
    };
    for r in refused {
        refuse(desk, r, Problem::NameTaken);
    }
    if accepted.is_empty() {
        return;
    }
    // Nor may a customer take a name that looks like an agent account's (storage refuses
    // the same name; this, one that only looks the same).
    let agents = match desk.store.agents().await {
        Ok(agents) => agents.iter().map(|a| skeleton(a.name.as_str())).collect::<HashSet<_>>(),
        Err(e) => {
            tracing::error!(error = %e, "listing agents failed");
            for r in accepted {
                refuse(desk, r, Problem::Internal);
            }
            return;
        }
    };
    let (accepted, lookalikes): (Vec<_>, Vec<_>) =
        accepted.into_iter().partition(|r| !agents.contains(&skeleton(r.name.as_str())));
    for r in lookalikes {
        refuse(desk, r, Problem::NameReserved);
    }
    if accepted.is_empty() {
        return;
    }
    let created = match create(desk, &accepted).await {
        Ok(created) => created,
        Err(e) => {
            tracing::error!(error = %e, customers = accepted.len(), "creating customers failed");
            for r in accepted {
                refuse(desk, r, Problem::Internal);
            }
            return;
        }
    };
    let mut logins = vec![];
    // Per login: who waits for the answer, the connection, and its (empty) history.
    let mut pending = Vec::with_capacity(accepted.len());
    for (r, meta) in accepted.into_iter().zip(created) {
        let Some(meta) = meta else {
            // A customer may not take the name of an agent account, online or not (storage
            // said so, for one the host site vouched for).
            refuse(desk, r, Problem::NameReserved);
            continue;
        };
        // The history of the new conversation: empty, but the client learns it is.
        let history = History {
            conversation: meta.id,
            customer: meta.customer_name.clone(),
            messages: vec![],
            more: false,
            notes: vec![],
            ratings: vec![],
            read: 0,
            newer: false,
        };
        let login = Login {
            token_hash: Some(r.token_hash.clone()),
            ..Login::customer(r.conn, meta, r.token)
        };
        logins.push(Item::Hub(Command::Login(login)));
        pending.push((r.reply, r.conn, history));
    }
    {
        let mut live = desk.live();
        for (_, conn, ..) in &pending {
            live.catching_up(*conn);
        }
    }
    // One result per login, in order.
    let applied = desk.apply(logins).await;
    let mut changed = vec![];
    let mut answers = Vec::with_capacity(pending.len());
    {
        let mut live = desk.live();
        for ((reply, conn, history), (outcome, mut more)) in pending.into_iter().zip(applied) {
            changed.append(&mut more);
            let pages = if outcome == Ok(Outcome::LoggedIn) { vec![history] } else { vec![] };
            live.caught_up(conn, pages, Default::default());
            answers.push((reply, outcome));
        }
    }
    for (reply, outcome) in answers {
        // The connection may have gone meanwhile; the customer can resume (from storage, or
        // from the hub until it forgets them).
        let _ = reply.send(outcome);
    }
    desk.keep(changed).await;
}

/// Each registration's conversation, in order (`None`: the name is an agent account's).
/// A customer the host site vouched for is stored at once (the site links them to one
/// record from any device); an anonymous one is only numbered: nothing of them is stored
/// until someone writes ([`Desk::save_unsaved`]), so a login that never writes costs no row.
async fn create(
    desk: &Desk,
    accepted: &[Registration],
) -> Result<Vec<Option<ConversationMeta>>, StoreError> {
    let now = crate::clock::now_ms();
    let vouched: Vec<NewCustomer> = accepted
        .iter()
        .filter(|r| r.external.is_some())
        .map(|r| NewCustomer {
            name: r.name.clone(),
            token_hash: r.token_hash.clone(),
            external: r.external.clone(),
        })
        .collect();
    let mut stored = desk.store.create_customers(&vouched, now).await?.into_iter();
    let anonymous = accepted.len() - vouched.len();
    let ids = if anonymous > 0 { desk.store.reserve_ids(anonymous).await? } else { vec![] };
    let mut ids = ids.into_iter();
    Ok(accepted
        .iter()
        .map(|r| match r.external {
            Some(_) => stored.next().flatten(),
            None => ids.next().map(|(customer, conversation)| {
                let (name, token_hash) = (r.name.clone(), r.token_hash.clone());
                let mut meta =
                    ConversationMeta::new_unsaved(conversation, customer, name, token_hash, now);
                if let (Some(unsaved), false) = (meta.unsaved.as_mut(), r.visit.is_empty()) {
                    unsaved.visit = Some(Box::new(r.visit.clone()));
                }
                meta
            }),
        })
        .collect())
}

fn refuse(desk: &Desk, r: Registration, problem: Problem) {
    // The connection may have gone meanwhile; it was told if it is still there.
    let _ = r.reply.send(desk.refuse_login(r.conn, problem));
}

//! The periodic work: the hub forgets idle conversations (every [`SWEEP_EVERY`]), and
//! storage deletes the anonymous customers who never wrote once the retention has passed
//! (`ANON_RETENTION`, checked every [`RETENTION_EVERY`]), and the files uploaded and never
//! sent, bytes included, [`UNSENT_KEPT`] after their upload; how soon the team answers is
//! worked out again every [`REPLY_TIME_EVERY`] (and at start).
//!
//! Owns: when each runs, and leaving alone what the hub still holds. Must not: decide what
//! is idle (the hub's sweep and the store's rule do) or what a first answer is
//! ([`crate::replies`]).

use std::sync::Weak;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::desk::Desk;
use super::live::Item;
use crate::hours::OfficeHours;
use crate::hub::Command;
use crate::model::CustomerId;

/// How often the hub looks for idle conversations: one idle and unchanged for a minute
/// ([`FORGET_AFTER_MS`](crate::hub::memory::FORGET_AFTER_MS)) is forgotten, so a customer
/// who left is forgotten one to two minutes later.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How often storage is cleared of anonymous customers past the retention.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Customers looked at per round trip, and deleted per transaction (a SQLite write holds
/// every other write back while it runs).
const RETENTION_BATCH: u32 = 100;
/// The pause between two batches: messages are stored in between.
const RETENTION_PAUSE: Duration = Duration::from_millis(50);
/// How long a file uploaded and not sent is kept (an upload whose message is still in a
/// page's outbox, waiting for a connection, is sent long before).
pub const UNSENT_KEPT: Duration = Duration::from_secs(24 * 3600);
/// How often customers' "usually answers in" is worked out again from the history.
const REPLY_TIME_EVERY: Duration = Duration::from_secs(300);

/// Runs until the desk is gone. Every node of a cluster runs one: sweeps pass through the
/// cluster's stream like any change, and deleting what another node deleted is harmless.
pub async fn run(desk: Weak<Desk>, retention: Duration, hours: Option<OfficeHours>) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut retain = tokio::time::interval(RETENTION_EVERY);
    retain.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut replies = tokio::time::interval(REPLY_TIME_EVERY);
    replies.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                let Some(desk) = desk.upgrade() else { break };
                let now_ms = crate::clock::now_ms();
                desk.apply_quietly(Item::Hub(Command::Sweep { now_ms })).await;
            }
            _ = retain.tick() => {
                let Some(desk) = desk.upgrade() else { break };
                delete_unsent_files(&desk, UNSENT_KEPT).await;
                delete_silent_anonymous(&desk, retention).await;
            }
            _ = replies.tick() => {
                let Some(desk) = desk.upgrade() else { break };
                if let Some(ms) = reply_time(&desk, hours.as_ref()).await {
                    desk.apply_quietly(Item::Hub(Command::ReplyTime { ms })).await;
                }
            }
        }
    }
}

/// How long the team usually takes to answer a new question, from the last week's
/// history (`Some(None)`: too few answers to say); `None` if the history could not be read
/// (what customers are told stays as it was). With office hours, only the questions asked
/// while the desk was open count: customers are told only then.
pub async fn reply_time(desk: &Desk, hours: Option<&OfficeHours>) -> Option<Option<u64>> {
    use crate::replies::{
        first_answers, typical, CONVERSATIONS_READ, MESSAGES_PER_CONVERSATION, TURNS_READ,
        WINDOW_MS,
    };
    let since = crate::clock::now_ms().saturating_sub(WINDOW_MS);
    let read =
        desk.store.recent_turns(since, CONVERSATIONS_READ, MESSAGES_PER_CONVERSATION, TURNS_READ);
    match read.await {
        Ok(turns) => {
            let waits: Vec<u64> = first_answers(&turns)
                .into_iter()
                .filter(|a| hours.is_none_or(|h| h.is_open(a.asked)))
                .map(|a| a.wait)
                .collect();
            let answered = waits.len();
            let ms = typical(waits);
            tracing::debug!(answered, ?ms, "how soon the team answers");
            Some(ms)
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the history for the reply time failed");
            None
        }
    }
}

/// Deletes the anonymous customers who never wrote and were last seen more than
/// `retention` ago (their conversation, any greeting an agent left in it, their sessions,
/// their profile), except those the hub holds (an agent has it open, say); returns how many.
async fn delete_silent_anonymous(desk: &Desk, retention: Duration) -> u64 {
    let cutoff = crate::clock::now_ms().saturating_sub(retention.as_millis() as u64);
    let mut after = CustomerId(0);
    let mut deleted = 0;
    loop {
        let silent = match desk.store.silent_anonymous(cutoff, after, RETENTION_BATCH).await {
            Ok(silent) => silent,
            Err(e) => {
                tracing::error!(error = %e, "listing anonymous customers to delete failed");
                break;
            }
        };
        let Some(&(last, _)) = silent.last() else { break };
        after = last;
        let gone: Vec<CustomerId> = {
            let live = desk.live();
            silent
                .iter()
                .filter(|(_, c)| !live.hub.knows(*c))
                .map(|(customer, _)| *customer)
                .collect()
        };
        match desk.store.delete_silent_anonymous(&gone, cutoff).await {
            Ok(n) => deleted += n,
            Err(e) => {
                tracing::error!(error = %e, "deleting anonymous customers failed");
                break;
            }
        }
        if silent.len() < RETENTION_BATCH as usize {
            break;
        }
        tokio::time::sleep(RETENTION_PAUSE).await;
    }
    if deleted > 0 {
        tracing::info!(deleted, ?retention, "deleted anonymous customers who never wrote");
    }
    deleted
}

/// Deletes the files uploaded more than `kept` ago that no message carries: their records,
/// then their bytes (a file whose bytes could not be deleted is logged: it is unreachable,
/// as its record is gone); returns how many.
pub async fn delete_unsent_files(desk: &Desk, kept: Duration) -> usize {
    let cutoff = crate::clock::now_ms().saturating_sub(kept.as_millis() as u64);
    let blobs = desk.store.blobs();
    let mut deleted = 0;
    loop {
        let unsent = match desk.store.unsent_attachments(cutoff, RETENTION_BATCH).await {
            Ok(unsent) => unsent,
            Err(e) => {
                tracing::error!(error = %e, "listing unsent files failed");
                break;
            }
        };
        let gone = match desk.store.delete_unsent_attachments(&unsent, cutoff).await {
            Ok(gone) => gone,
            Err(e) => {
                tracing::error!(error = %e, "deleting unsent files failed");
                break;
            }
        };
        for id in &gone {
            for key in [id.to_string(), super::files::thumb_key(id)] {
                if let Err(e) = blobs.delete(&key).await {
                    tracing::error!(error = %e, key, "deleting an unsent file's bytes failed");
                }
            }
        }
        deleted += gone.len();
        if unsent.len() < RETENTION_BATCH as usize || gone.is_empty() {
            break;
        }
        tokio::time::sleep(RETENTION_PAUSE).await;
    }
    if deleted > 0 {
        tracing::info!(deleted, "deleted files uploaded and never sent");
    }
    deleted
}

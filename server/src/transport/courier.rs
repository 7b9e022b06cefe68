//! The courier: sends webhooks' deliveries from the outbox, and tries failed ones again.
//!
//! Owns: claiming what is due (for [`LEASE`], so that another node, or this one's next
//! round, does not send it at the same time), the `POST` of each with its headers and
//! signature ([`crate::webhooks`]), and writing what came of it: delivered (a 2xx), or
//! when it is tried again ([`crate::webhooks::retry_at`]), or given up after 24 hours. A
//! delivery claimed by a node that then stopped is due again once its claim lapses, so every
//! event is delivered at least once, its `X-Chat-Delivery` the same on every attempt.
//! Must not: decide what an event says, or hold the desk (it ends with it).

use std::sync::Weak;
use std::time::Duration;

use std::collections::HashMap;

use super::desk::Desk;
use crate::clock::now_ms;
use crate::store::{Attempt, Due};
use crate::webhooks;

/// How long a claimed delivery is left to the node that claimed it: longer than an attempt
/// can take ([`TIMEOUT`]).
const LEASE: Duration = Duration::from_secs(60);
/// The longest an attempt waits for the receiver's answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries claimed at once, and attempted side by side.
/// Deliveries attempted at once; each is claimed only when a place for it is free (a claim
/// runs while its attempt waits).
const AT_ONCE: usize = 8;
/// Of those, at most this many for one webhook: a receiver that hangs holds two places
/// while the others' deliveries go on through the rest.
const PER_WEBHOOK: usize = 2;
/// How much of a failure's text is kept for admins to read.
const ERROR_MAX_CHARS: usize = 300;
/// Deliveries done are kept this long (for admins to see), then forgotten.
const KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often the deliveries done long ago are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How the courier runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// How often it looks for what is due when nothing was.
    pub poll: Duration,
    /// The first wait after a failure.
    pub first_retry: Duration,
}

/// Runs until the desk is gone.
pub(super) async fn run(desk: Weak<Desk>, pace: Pace) {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT / 2)
        // A receiver that moved says so in its answer: followed, a redirect could send the
        // body somewhere the admin never named.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("live-chat-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "the webhook courier could not start: no webhook will be sent");
            return;
        }
    };
    let mut pruned = std::time::Instant::now();
    // The attempts under way, with the webhook of each; and how many each webhook has.
    let mut running = tokio::task::JoinSet::new();
    let mut webhook_of: HashMap<tokio::task::Id, u64> = HashMap::new();
    let mut busy: HashMap<u64, usize> = HashMap::new();
    loop {
        let Some(store) = desk.upgrade().map(|d| d.store.clone()) else { return };
        let free = AT_ONCE - running.len();
        let mut started = 0;
        if free > 0 {
            let now = now_ms();
            let until = now + LEASE.as_millis() as u64;
            let claimed = store.due_deliveries(now, until, free as u32, &busy, PER_WEBHOOK).await;
            let due = claimed.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading the webhooks' due deliveries failed");
                vec![]
            });
            started = due.len();
            for due in due {
                let webhook = due.webhook;
                *busy.entry(webhook).or_default() += 1;
                let (client, store) = (client.clone(), store.clone());
                let task = running.spawn(async move {
                    let attempt = attempt(&client, &due, pace.first_retry).await;
                    if let Err(e) = store.attempted(&due, &attempt).await {
                        // Its claim lapses: it is tried again (the receiver may get it twice,
                        // with the same delivery id).
                        tracing::error!(error = %e, delivery = due.id, "recording a webhook delivery failed");
                    }
                });
                webhook_of.insert(task.id(), webhook);
            }
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = std::time::Instant::now();
            let before = now_ms().saturating_sub(KEPT.as_millis() as u64);
            if let Err(e) = store.prune_deliveries(before).await {
                tracing::error!(error = %e, "forgetting old webhook deliveries failed");
            }
        }
        drop(store);
        // Something was claimed and places are still free: more may be due (a webhook that
        // reached its share is left out of the next look). Otherwise wait until an attempt
        // ends or the poll comes round.
        if started > 0 && running.len() < AT_ONCE {
            continue;
        }
        tokio::select! {
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    // A panicked attempt: its claim lapses and it is tried again.
                    Err(e) => {
                        tracing::error!(error = %e, "a webhook delivery's attempt failed to finish");
                        e.id()
                    }
                };
                if let Some(webhook) = webhook_of.remove(&id) {
                    if let Some(n) = busy.get_mut(&webhook) {
                        *n -= 1;
                        if *n == 0 {
                            busy.remove(&webhook);
                        }
                    }
                }
            }
            () = tokio::time::sleep(pace.poll) => {}
        }
    }
}

/// One attempt at a delivery, and what comes of it.
async fn attempt(client: &reqwest::Client, due: &Due, first_retry: Duration) -> Attempt {
    let timestamp = now_ms() / 1000;
    let signature = webhooks::sign(&due.secret, timestamp, due.body.as_bytes());
    let sent = client
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Chat-Event", &due.event)
        .header("X-Chat-Delivery", due.id.to_string())
        .header("X-Chat-Timestamp", timestamp.to_string())
        .header("X-Chat-Signature", signature)
        .body(due.body.clone())
        .send()
        .await;
    let at = now_ms();
    let (status, error) = match sent {
        Ok(answer) if answer.status().is_success() => (Some(answer.status().as_u16()), None),
        Ok(answer) => (Some(answer.status().as_u16()), Some(format!("HTTP {}", answer.status()))),
        Err(e) => (None, Some(error_text(e))),
    };
    let next_at = match &error {
        None => None,
        Some(_) => {
            webhooks::retry_at(due.created_at, due.attempts + 1, at, first_retry.as_millis() as u64)
        }
    };
    match (&error, next_at) {
        // The webhook by its id: its URL may hold the receiver's secret.
        (None, _) => tracing::debug!(delivery = due.id, event = %due.event, "webhook delivered"),
        (Some(e), Some(_)) => {
            tracing::info!(delivery = due.id, webhook = due.webhook, error = %e, "a webhook delivery failed; it will be tried again")
        }
        (Some(e), None) => {
            tracing::warn!(delivery = due.id, webhook = due.webhook, error = %e, "a webhook delivery failed for 24 hours; given up")
        }
    }
    Attempt { at, status, error, next_at }
}

/// A failure as admins read it: the error and its causes, shortened, without the URL (which
/// they know, and which may hold the receiver's secret).
fn error_text(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(ERROR_MAX_CHARS).collect()
}

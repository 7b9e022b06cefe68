//! Webhooks: what an admin's URL is sent when something happens on the desk.
//!
//! Owns: the events ([`EVENTS`]) and their bodies ([`Event`]), the signature every delivery
//! carries ([`sign`]), and when a failed delivery is tried again ([`retry_at`]). The store
//! writes an event's deliveries in the same transaction as the event itself (a message, a
//! resolution, a rating), so that none is lost to a crash between the two; the courier
//! (`transport::courier`) sends them. Must not: do I/O.
//!
//! A delivery is a `POST` of the event as JSON, with the headers
//! - `X-Chat-Event`: the event's name;
//! - `X-Chat-Delivery`: the delivery's id, the same on every attempt (at least once: a
//!   receiver that must act once keeps the ids it has seen);
//! - `X-Chat-Timestamp`: seconds since the epoch, when this attempt was signed;
//! - `X-Chat-Signature`: `sha256=` and the hex HMAC-SHA256, under the webhook's secret, of
//!   the timestamp, a `.`, and the body's bytes.

use hmac::Mac;
use serde_json::json;

use crate::model::{Appended, ConversationMeta, Identity};
use crate::resources::{conversation, message};

pub use app::protocol::{
    WEBHOOK_CONVERSATION_CREATED as CONVERSATION_CREATED,
    WEBHOOK_CONVERSATION_RESOLVED as CONVERSATION_RESOLVED, WEBHOOK_EVENTS as EVENTS,
    WEBHOOK_MESSAGE_CREATED as MESSAGE_CREATED, WEBHOOK_RATING_GIVEN as RATING_GIVEN,
};

/// A failed delivery is tried again for this long after its event, then given up.
pub const RETRY_FOR_MS: u64 = 24 * 3600 * 1000;
/// The longest wait between two attempts.
pub const RETRY_MAX_WAIT_MS: u64 = 3600 * 1000;
/// The first wait after a failure, by default (each later one twice the one before).
pub const RETRY_FIRST_WAIT_MS: u64 = 10_000;

/// One event, as every webhook that wants it is sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: &'static str,
    /// When it happened (ms): its deliveries are tried for [`RETRY_FOR_MS`] from then.
    pub at: u64,
    /// The JSON sent: `{"event", "created_at", "data"}`.
    pub body: String,
}

impl Event {
    fn new(name: &'static str, at: u64, data: serde_json::Value) -> Self {
        let body = json!({"event": name, "created_at": at, "data": data}).to_string();
        Self { name, at, body }
    }

    /// The pattern a webhook's `events` column matches when it wants this event (the
    /// column holds its events between commas: `,message.created,rating.given,`).
    pub fn pattern(&self) -> String {
        format!("%,{},%", self.name)
    }
}

/// A webhook's events as its column keeps them: each known one between commas; `None` when
/// none is known.
pub fn events_column(events: &[String]) -> Option<String> {
    let known: Vec<&str> = EVENTS.into_iter().filter(|e| events.iter().any(|x| x == e)).collect();
    (!known.is_empty()).then(|| format!(",{},", known.join(",")))
}

/// The events of messages just stored: for each new one (a copy of one stored before is
/// nothing new), `conversation.created` if it is its conversation's first, then
/// `message.created`.
pub fn stored(appended: &[&Appended]) -> Vec<Event> {
    let mut events = vec![];
    for a in appended.iter().filter(|a| !a.duplicate) {
        let m = &a.message;
        let data = json!({"message": message(m)});
        if m.seq == 1 {
            let customer = match &m.author {
                Identity::Customer(_) => Some(&m.from),
                Identity::Agent(_) => m.to.as_ref(),
            };
            let created = json!({
                "conversation": {"id": m.conversation.0, "customer": {"name": customer}},
                "message": message(m),
            });
            events.push(Event::new(CONVERSATION_CREATED, m.ts, created));
        }
        events.push(Event::new(MESSAGE_CREATED, m.ts, data));
    }
    events
}

/// The event of a conversation resolved at `at`, as it now stands.
pub fn resolved(meta: &ConversationMeta, at: u64) -> Event {
    Event::new(CONVERSATION_RESOLVED, at, json!({"conversation": conversation(meta, None)}))
}

/// The event of a rating.
pub fn rated(rating: &app::protocol::Rating) -> Event {
    let data = json!({"rating": {
        "conversation": rating.conversation.0,
        "seq": rating.seq,
        "score": rating.score,
        "comment": rating.comment,
        "ts": rating.ts,
    }});
    Event::new(RATING_GIVEN, rating.ts, data)
}

/// The `X-Chat-Signature` of `body` sent at `timestamp` (seconds) under `secret`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// When a delivery of an event made at `created_at` that failed `attempts` times (this one
/// included) is tried again, after failing at `now`: `first_wait` the first time, twice as
/// long each time after, at most [`RETRY_MAX_WAIT_MS`]; `None` once that would be more than
/// [`RETRY_FOR_MS`] after the event (given up).
pub fn retry_at(created_at: u64, attempts: u32, now: u64, first_wait: u64) -> Option<u64> {
    let doubled = first_wait.saturating_mul(1u64 << attempts.saturating_sub(1).min(40));
    let at = now.saturating_add(doubled.min(RETRY_MAX_WAIT_MS));
    (at <= created_at.saturating_add(RETRY_FOR_MS)).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_the_timestamp_a_dot_and_the_body() {
        // Worked out with `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret`.
        assert_eq!(
            sign("secret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
        assert_ne!(
            sign("other", 1_700_000_000, br#"{"a":1}"#),
            sign("secret", 1_700_000_000, br#"{"a":1}"#)
        );
        assert_ne!(
            sign("secret", 1_700_000_001, br#"{"a":1}"#),
            sign("secret", 1_700_000_000, br#"{"a":1}"#)
        );
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_an_hour_and_stop_after_a_day() {
        let first = RETRY_FIRST_WAIT_MS;
        assert_eq!(retry_at(0, 1, 1_000, first), Some(11_000));
        assert_eq!(retry_at(0, 2, 1_000, first), Some(21_000));
        assert_eq!(retry_at(0, 3, 1_000, first), Some(41_000));
        assert_eq!(retry_at(0, 12, 1_000, first), Some(1_000 + RETRY_MAX_WAIT_MS));
        assert_eq!(retry_at(0, 64, 1_000, first), Some(1_000 + RETRY_MAX_WAIT_MS), "no overflow");
        assert_eq!(retry_at(0, 12, RETRY_FOR_MS - RETRY_MAX_WAIT_MS, first), Some(RETRY_FOR_MS));
        assert_eq!(retry_at(0, 12, RETRY_FOR_MS - RETRY_MAX_WAIT_MS + 1, first), None);
    }

    #[test]
    fn a_webhooks_events_are_kept_between_commas_and_unknown_ones_dropped() {
        let column =
            events_column(&["rating.given".into(), "nope".into(), "message.created".into()]);
        assert_eq!(column.as_deref(), Some(",message.created,rating.given,"));
        assert_eq!(events_column(&["nope".into()]), None);
        let event = Event::new(MESSAGE_CREATED, 1, json!({}));
        assert_eq!(event.pattern(), "%,message.created,%");
    }
}

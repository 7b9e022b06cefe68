//! The payload of an event, read in one place for every handler.
//!
//! Owns: turning an event's arguments into its request type, and a payload that does not
//! read as one into the [`Problem::Malformed`] refusal named after the event. Must not:
//! send anything (the handler, holding its connection's turn, tells the client).

use std::convert::Infallible;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Event, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;

use app::protocol::Problem;

/// An event's request, or the refusal for a payload that is not one.
pub struct Payload<T>(pub Result<T, Problem>);

impl<T: DeserializeOwned, A: Adapter> FromMessageParts<A> for Payload<T> {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let Ok(TryData(data)) = TryData::<T>::from_message_parts(s, v, ack);
        Ok(Payload(data.map_err(|e| {
            // Only events with a handler get here, so the name is one of ours. (Reading
            // the payload leaves a text packet's value as it was; a binary one is refused
            // by the parser before any handler.)
            let event =
                Event::from_message_parts(s, v, ack).map(|Event(name)| name).unwrap_or_default();
            tracing::debug!(event, error = %e, "a malformed payload");
            Problem::Malformed(event)
        })))
    }
}

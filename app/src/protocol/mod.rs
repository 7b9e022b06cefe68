//! The wire contract between browsers (and tutorial-era JS clients) and the server.
//!
//! Owns: the Socket.IO event names, one serde type per payload, the validation rules for
//! names and message text, the codes of what cannot be done ([`Problem`]), and the
//! `ClientEvent` / `ServerEvent` enums. The server, the WASM client, the tests and the
//! benchmarks all use these; nothing else may spell an event name.
//! Must not: do I/O or know about sockets (see [`wire`] for the frame codec), or word
//! anything for a reader ([`crate::text`] does that).
//!
//! Compatibility: the tutorial's events and payload shapes (`login` with a bare string,
//! `user_list` as an array of names, `private_message {to, message}`, `message {from, to,
//! message, self}`, `error` as a string) are kept exactly; new fields are only ever added.
//!
//! The files:
//! - `events`: the event names and the two enums of every event with its payload;
//! - `login`: the `login` payload in both forms, its answer, the agent session over HTTP;
//! - `desk`: the payloads of the support desk (messages, conversations, presence, team,
//!   notes, typing, receipts, canned replies, history);
//! - `attachment`: files in messages, their limits and where they are fetched;
//! - `acks`: the replies to events sent with an acknowledgement;
//! - `api`: the REST API's resources and errors, and its tokens as the console manages them;
//! - `search`: what an agent searches for, what is found, and the marked snippets;
//! - `rating`: satisfaction ratings of resolved conversations, and the desk's settings;
//! - `report`: what admins' reports count, and how they are asked for;
//! - `profile`: who a customer is (their visit, the host site's attributes, the agents'
//!   note, their other conversations) and what agents may change of it;
//! - `problem`: [`Problem`] and [`Refusal`], what cannot be done, as codes;
//! - `values`: validated names, text and ids, and their limits;
//! - `http`: the paths and cookie the page and the server share;
//! - `wire`: the Engine.IO / Socket.IO frame codec.

mod acks;
mod api;
mod attachment;
mod desk;
mod events;
mod http;
mod login;
mod problem;
mod profile;
mod rating;
mod report;
mod search;
mod values;
pub mod wire;

pub use acks::*;
pub use api::*;
pub use attachment::*;
pub use desk::*;
pub use events::*;
pub use http::*;
pub use login::*;
pub use problem::*;
pub use profile::*;
pub use rating::*;
pub use report::*;
pub use search::*;
pub use values::*;

#[cfg(test)]
mod tests;

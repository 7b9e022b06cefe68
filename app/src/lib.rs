//! The parts of the live chat shared by the browser and the server.
//!
//! # Layout
//! - [`protocol`]: the Socket.IO wire contract (event names, payloads, validation) and,
//!   in [`protocol::wire`], the Engine.IO / Socket.IO frame codec.
//! - [`text`]: every sentence a person reads.
//! - [`inbox`]: the conversations and outbox a participant holds (plain data, tested natively).
//! - [`state`]: the signals the views read and the commands they give.
//! - [`colour`]: the widget's host colour and the readable inks derived from it.
//! - [`components`]: the Leptos views (login, user list, chat), rendered on the server
//!   and, in the browser, hydrated (the agents' bundle) or drawn again (the customers').
//! - `client` (browser only): the Socket.IO connection with reconnect and re-login,
//!   exposed to the views as signals.

// Leptos views are deeply nested types: a component's view (the customer's header, say)
// can need more than the default limit, as in the server and frontend crates.
#![recursion_limit = "256"]
// The customers' bundle (without the feature `console`) leaves the agents' views out: what
// only they use is unused there. The lints check the agents' build, where it is used.
#![cfg_attr(not(feature = "console"), allow(dead_code, unused_imports))]

pub mod colour;
pub mod components;
pub mod inbox;
pub mod protocol;
pub mod state;
pub mod text;
pub mod uploads;

#[cfg(feature = "browser")]
pub mod client;

pub use components::{shell, App, CustomerBundle};

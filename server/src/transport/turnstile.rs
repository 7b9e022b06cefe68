//! Handles one connection's events in the order they arrived.
//!
//! socketioxide runs every event handler as its own tokio task, so two events from one
//! client (a `login` and the `private_message` right after it, or two messages) may run in
//! either order, and a `login` that waits on a password check would lose the race against
//! the message behind it. Its extractors, however, run synchronously in arrival order.
//! [`Turn`] is an extractor that takes a ticket there; the handler then waits for its
//! ticket to be served and releases it when done (also when it panics or is dropped).
//! The extractor also enforces the connection's event rate, in arrival order.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;
use socketioxide::handler::{FromDisconnectParts, FromMessageParts};
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide_core::Value;
use tokio::sync::watch;

use crate::hub::ConnId;
use crate::limits::{Bucket, Rate};
use app::protocol::Problem;
use app::protocol::SendAck;

/// Per-connection ordering state, kept in the socket's extensions.
#[derive(Debug)]
pub struct Turnstile {
    issued: AtomicU64,
    serving: watch::Sender<u64>,
}

impl Turnstile {
    /// A turnstile with no ticket handed out yet.
    pub fn new() -> Self {
        Self { issued: AtomicU64::new(0), serving: watch::Sender::new(0) }
    }

    fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket { number: self.issued.fetch_add(1, Ordering::SeqCst), turnstile: self.clone() }
    }
}

impl Default for Turnstile {
    fn default() -> Self {
        Self::new()
    }
}

/// A place in the line.
#[derive(Debug)]
pub struct Ticket {
    number: u64,
    turnstile: Arc<Turnstile>,
}

impl Ticket {
    /// Waits until every earlier event of the connection has been handled.
    pub async fn wait(self) -> Served {
        let mut rx = self.turnstile.serving.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|serving| *serving == self.number).await;
        Served { turnstile: self.turnstile }
    }
}

/// Holds the turn; the next event's handler runs once this is dropped.
#[derive(Debug)]
pub struct Served {
    turnstile: Arc<Turnstile>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.turnstile.serving.send_modify(|serving| *serving += 1);
    }
}

/// What the transport keeps on each socket.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub conn: ConnId,
    pub turnstile: Arc<Turnstile>,
    /// The client's address, when known (for the limits per address).
    pub ip: Option<IpAddr>,
    /// How fast this connection may send events.
    pub events: Rate,
    pub budget: Arc<Mutex<Budget>>,
}

/// A connection's token buckets.
#[derive(Debug, Default)]
pub struct Budget {
    pub events: Bucket,
    pub messages: Bucket,
}

impl ConnInfo {
    /// A connection's number, address and event rate, with its own turnstile.
    pub fn new(conn: ConnId, ip: Option<IpAddr>, events: Rate) -> Self {
        Self { conn, turnstile: Arc::new(Turnstile::new()), ip, events, budget: Arc::default() }
    }

    /// Takes a token from one of the connection's buckets; `Err` gives the seconds to wait.
    pub fn take(
        &self,
        pick: impl FnOnce(&mut Budget) -> &mut Bucket,
        rate: Rate,
    ) -> Result<(), u64> {
        let mut budget = self.budget.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pick(&mut budget).take(rate, crate::clock::now_ms())
    }

    /// A place in the connection's line.
    fn turn(self) -> Turn {
        Turn { ticket: self.turnstile.ticket(), info: self }
    }
}

/// Extractor: the connection's id and its ticket, taken in arrival order.
#[derive(Debug)]
pub struct Turn {
    pub ticket: Ticket,
    pub info: ConnInfo,
}

/// Why an event's handler does not run.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The socket was not registered by the connect middleware (cannot happen: every
    /// socket of the namespace passes through it).
    #[error("socket has no connection info")]
    Unregistered,
    /// The connection sent more events than its rate allows; it was told so.
    #[error("event rate exceeded")]
    TooFast,
}

fn conn_info<A: Adapter>(s: &Arc<Socket<A>>) -> Result<ConnInfo, Refused> {
    s.extensions.get::<ConnInfo>().ok_or(Refused::Unregistered)
}

impl<A: Adapter> FromMessageParts<A> for Turn {
    type Error = Refused;
    /// Runs in arrival order, before the handler is spawned: an event over the
    /// connection's rate is answered here (an `error`, and a failed ack if one is
    /// awaited) and its handler never runs.
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Refused> {
        let info = conn_info(s)?;
        // Checked before a ticket is taken: a ticket never served would hold up every
        // later event of the connection.
        if let Err(wait_s) = info.take(|b| &mut b.events, info.events) {
            let problem = Problem::SlowDown(wait_s);
            tracing::debug!(conn = info.conn.0, "event rate exceeded");
            crate::metrics::limited(crate::metrics::Limit::Events);
            if let Err(e) =
                s.emit(app::protocol::ERROR, &app::protocol::Refusal::from(problem.clone()))
            {
                tracing::debug!(conn = info.conn.0, error = %e, "telling a connection it is too fast");
            }
            if ack_id.is_some() {
                let Ok(ack) = AckSender::from_message_parts(s, v, ack_id);
                if let Err(e) = ack.send(&SendAck::failed(problem)) {
                    tracing::debug!(conn = info.conn.0, error = %e, "failed ack to a connection that is too fast");
                }
            }
            return Err(Refused::TooFast);
        }
        Ok(info.turn())
    }
}

impl<A: Adapter> FromDisconnectParts<A> for Turn {
    type Error = Refused;
    fn from_disconnect_parts(s: &Arc<Socket<A>>, _: DisconnectReason) -> Result<Self, Refused> {
        conn_info(s).map(ConnInfo::turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handlers_run_in_ticket_order_whatever_order_they_start() {
        let t = Arc::new(Turnstile::new());
        let tickets: Vec<Ticket> = (0..50).map(|_| t.ticket()).collect();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Start them in reverse; the first ticket's handler also sleeps.
        for (i, ticket) in tickets.into_iter().enumerate().rev() {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let _turn = ticket.wait().await;
                if i == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                log.lock().unwrap().push(i);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), (0..50).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_panicking_handler_releases_its_turn() {
        let t = Arc::new(Turnstile::new());
        let (first, second) = (t.ticket(), t.ticket());
        let crashed = tokio::spawn(async move {
            let _turn = first.wait().await;
            panic!("handler failed");
        });
        assert!(crashed.await.is_err());
        tokio::time::timeout(std::time::Duration::from_secs(1), second.wait())
            .await
            .expect("second turn served");
    }
}

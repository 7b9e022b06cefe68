//! The graceful shutdown's count: messages taken in whose sender has not been answered.
//!
//! Owns: counting each message from its arrival to its acknowledgement ([`Sending`]), and
//! waiting at shutdown until that count is zero. Must not: know how messages are stored
//! (the caller flushes the pipeline first, see [`super::shared::Shared::drain`]).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// Messages in flight, and whether the shutdown has begun.
#[derive(Default)]
pub struct Drain {
    /// Messages taken in before the shutdown began whose sender has not been answered yet.
    sending: AtomicUsize,
    /// Signalled whenever `sending` goes down.
    answered: Notify,
    /// Set when the shutdown begins: later messages are not waited for.
    draining: AtomicBool,
}

/// Counts one message as being sent until it is dropped (after its acknowledgement, which
/// the pipeline sends: the count travels with the message).
pub struct Sending(Option<Arc<Drain>>);

impl Drain {
    /// Starts counting a message that just arrived (not counted once the shutdown began).
    pub fn sending(self: &Arc<Self>) -> Sending {
        if self.draining.load(Ordering::SeqCst) {
            return Sending(None);
        }
        self.sending.fetch_add(1, Ordering::SeqCst);
        Sending(Some(self.clone()))
    }

    /// Begins the shutdown: runs `flush` (which stores and delivers what was taken in),
    /// then waits, up to `within` in all, until every counted sender has its answer.
    pub async fn settle(&self, within: Duration, flush: impl Future<Output = ()>) {
        self.draining.store(true, Ordering::SeqCst);
        let settled = async {
            flush.await;
            loop {
                let answered = self.answered.notified();
                if self.sending.load(Ordering::SeqCst) == 0 {
                    break;
                }
                answered.await;
            }
        };
        if tokio::time::timeout(within, settled).await.is_err() {
            let left = self.sending.load(Ordering::SeqCst);
            tracing::warn!(
                left,
                "shutdown: some senders were not answered in time; their clients will send again"
            );
        }
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let Some(drain) = &self.0 {
            drain.sending.fetch_sub(1, Ordering::SeqCst);
            // Only a shutdown waits. Both sides use SeqCst: either this sees `draining`, or
            // `settle` (which sets it, then reads the count) sees this message answered.
            if drain.draining.load(Ordering::SeqCst) {
                drain.answered.notify_waiters();
            }
        }
    }
}

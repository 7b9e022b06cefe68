//! An event handler run in place, by the socket's reader, unless it has to wait.
//!
//! socketioxide runs every event's handler as a task of its own (`tokio::spawn` in its
//! `handler/message.rs`, with no option not to): an allocation, a trip through the
//! scheduler and a wake-up for every event. A chat message usually waits for nothing (its
//! connection's turn is free, the hub plans it, the pipeline's queue has room), so
//! [`InPlace`] polls the handler's future once, right where the event was read, and spawns
//! a task only if that poll says it has to wait: the task then polls it again, with a
//! waker of its own (a future may be polled again at any time, and only the waker of the
//! latest poll is woken, so nothing is missed).
//!
//! Why ours: no crate does this for socketioxide; its `MessageHandler` trait is public and
//! this is one implementation of it, for handlers of four arguments (the last one the
//! payload), as `private_message`'s.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use socketioxide::adapter::Adapter;
use socketioxide::handler::{FromMessage, FromMessageParts, MessageHandler};
use socketioxide::socket::Socket;
use socketioxide_core::Value;

/// A handler that runs in place (see the module's documentation).
#[derive(Clone)]
pub struct InPlace<F>(pub F);

/// Tells this implementation of `MessageHandler` apart from socketioxide's own.
pub struct Marker;

impl<A, F, Fut, M, T1, T2, T3, T4> MessageHandler<A, (Marker, M, fn(T1, T2, T3, T4))> for InPlace<F>
where
    A: Adapter,
    F: Fn(T1, T2, T3, T4) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T1: FromMessageParts<A> + Send + 'static,
    T2: FromMessageParts<A> + Send + 'static,
    T3: FromMessageParts<A> + Send + 'static,
    T4: FromMessage<A, M> + Send + 'static,
    M: 'static,
{
    fn call(&self, s: Arc<Socket<A>>, mut v: Value, ack_id: Option<i64>) {
        // The extractors run in arrival order, as socketioxide runs them; one that refuses
        // has answered the client itself (the turnstile's rate) or cannot fail.
        let (Some(t1), Some(t2), Some(t3)) = (
            extracted(T1::from_message_parts(&s, &mut v, &ack_id)),
            extracted(T2::from_message_parts(&s, &mut v, &ack_id)),
            extracted(T3::from_message_parts(&s, &mut v, &ack_id)),
        ) else {
            return;
        };
        let Some(t4) = extracted(T4::from_message(s, v, ack_id)) else { return };
        run((self.0)(t1, t2, t3, t4));
    }
}

fn extracted<T, E: std::error::Error>(result: Result<T, E>) -> Option<T> {
    result.map_err(|e| tracing::debug!(error = %e, "an event's handler does not run")).ok()
}

/// Polls `handler` once here; spawns it if it has to wait.
fn run(handler: impl Future<Output = ()> + Send + 'static) {
    let mut handler = Box::pin(handler);
    let mut cx = Context::from_waker(Waker::noop());
    // A panic ends the handler, not the socket's reader (as it would in a task of its
    // own); what the handler held is dropped on the way (its turn released, its message
    // answered "internal error").
    match std::panic::catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            tokio::spawn(handler);
        }
        Err(_) => tracing::error!("an event's handler panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_handler_that_waits_for_nothing_is_done_before_run_returns() {
        let done = Arc::new(AtomicUsize::new(0));
        let counted = done.clone();
        run(async move {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_handler_that_waits_finishes_in_a_task_once_woken() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (out, got) = tokio::sync::oneshot::channel();
        run(async move {
            let value = rx.await.expect("sent");
            out.send(value + 1).expect("the test waits");
        });
        // The handler registered the no-op waker first: the task's own poll must have
        // replaced it, or this send would wake nobody.
        tokio::task::yield_now().await;
        tx.send(41).expect("the handler waits");
        let value = tokio::time::timeout(std::time::Duration::from_secs(5), got)
            .await
            .expect("woken")
            .expect("answered");
        assert_eq!(value, 42);
    }

    #[tokio::test]
    async fn a_handler_woken_before_its_task_runs_still_finishes() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (out, got) = tokio::sync::oneshot::channel();
        run(async move {
            let value = rx.await.expect("sent");
            out.send(value).expect("the test waits");
        });
        // Sent before the spawned task was polled even once: only the no-op waker was
        // registered when this happened.
        tx.send(7).expect("the handler waits");
        let value = tokio::time::timeout(std::time::Duration::from_secs(5), got)
            .await
            .expect("finished")
            .expect("answered");
        assert_eq!(value, 7);
    }

    #[tokio::test]
    async fn a_handler_that_panics_in_place_is_caught_and_drops_what_it_held() {
        struct Held(Arc<AtomicUsize>);
        impl Drop for Held {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let held = Held(dropped.clone());
        run(async move {
            let _held = held;
            panic!("the handler failed");
        });
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
    }
}

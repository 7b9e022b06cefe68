//! The state every handler shares, put together: the desk, the gate, the shutdown's count,
//! the channels of the two storage tasks (and the sweeper beside them), and the settings the
//! handlers read.
//!
//! Owns: starting the storage tasks (the [`pipeline`](super::pipeline) and the
//! [`registrar`](super::registrar)) and the [`sweeper`](super::sweeper) with the desk, handing them jobs, the connection ids of
//! this node, and the graceful shutdown. Must not: hold logic of its own beyond putting
//! those together (each part has its file).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::cluster::Cluster;
use super::desk::Desk;
use super::drain::Drain;
use super::gate::Gate;
use super::live::CONN_BITS;
use super::pipeline::{self, Job};
use super::registrar::{self, Registration};
use crate::hours::OfficeHours;
use crate::hub::{ConnId, Hub};
use crate::model::ConversationMeta;
use crate::store::Store;
use app::protocol::Problem;

/// See [`Shared::preparing`].
const PREPARING_AT_ONCE: usize = 2;
/// See [`Shared::receiving`].
const RECEIVING_AT_ONCE: usize = 32;

/// The state every handler shares.
pub struct Shared {
    pub(super) desk: Arc<Desk>,
    pub(super) gate: Arc<Gate>,
    pub(super) drain: Arc<Drain>,
    pipeline: mpsc::Sender<Job>,
    registrar: mpsc::Sender<Registration>,
    next_conn: AtomicU64,
    /// See [`crate::Settings::agent_grace`].
    pub(super) agent_grace: Duration,
    /// See [`crate::Settings::widget_secret`].
    pub(super) widget_secret: Option<Vec<u8>>,
    /// See [`crate::Settings::office_hours`].
    pub(super) office_hours: Option<OfficeHours>,
    /// See [`crate::Settings::attachment_max_bytes`].
    pub(super) attachment_max_bytes: u64,
    /// Uploads being decoded and re-encoded at once (CPU-bound: an image of 40 megapixels
    /// takes a core for a second or two); the rest wait their turn.
    pub(super) preparing: tokio::sync::Semaphore,
    /// Uploads being received at once: each is held in memory whole (at most
    /// `ATTACHMENT_MAX_MB`) until it is prepared; past this many, an upload is told to try
    /// again in a moment rather than waiting with its bytes.
    pub(super) receiving: tokio::sync::Semaphore,
    /// The first run's setup link, while nobody has an account.
    pub(super) first_run: super::first_run::FirstRun,
}

impl Shared {
    /// The shared state (with the conversations waiting in `queue`), and the storage tasks
    /// that run with it. In a cluster, the hub starts as the others' (`hub`, from their
    /// snapshot), and the queue is learnt through the cluster once it is joined (`queue` is
    /// empty then).
    pub fn new(
        store: Arc<dyn Store>,
        settings: &crate::Settings,
        queue: Vec<ConversationMeta>,
        cluster: Option<(Arc<Cluster>, Option<Hub>)>,
    ) -> Arc<Self> {
        let (pipeline_tx, pipeline_rx) = mpsc::channel(pipeline::QUEUE);
        let (registrar_tx, registrar_rx) = mpsc::channel(registrar::QUEUE);
        let (cluster, hub) = match cluster {
            Some((cluster, hub)) => (Some(cluster), hub),
            None => (None, None),
        };
        let mut hub = hub.unwrap_or_else(|| Hub::with_capacity(settings.capacity));
        hub.set_away_after(settings.away_after.as_millis() as u64);
        hub.set_attachment_max(settings.attachment_max_bytes);
        for meta in queue {
            hub.learn(meta);
        }
        let node = cluster.as_ref().map_or(0, |c| c.node());
        let gate = Arc::new(Gate::new(
            settings.limits.clone(),
            settings.trust_forwarded_for,
            cluster.is_some(),
        ));
        let desk = Arc::new(Desk::new(hub, cluster, store, gate.clone()));
        // The tasks hold the desk weakly: each ends when the desk (and with it, the
        // shared state that holds the channel's sender) is dropped.
        tokio::spawn(pipeline::run(Arc::downgrade(&desk), pipeline_rx));
        tokio::spawn(registrar::run(Arc::downgrade(&desk), registrar_rx));
        tokio::spawn(super::courier::run(
            Arc::downgrade(&desk),
            super::courier::Pace {
                poll: settings.webhook_poll,
                first_retry: settings.webhook_retry_first,
            },
        ));
        tokio::spawn(super::sweeper::run(
            Arc::downgrade(&desk),
            settings.anon_retention,
            settings.office_hours.clone(),
        ));
        Arc::new(Self {
            desk,
            gate,
            drain: Arc::default(),
            pipeline: pipeline_tx,
            registrar: registrar_tx,
            next_conn: AtomicU64::new((node << CONN_BITS) | 1),
            agent_grace: settings.agent_grace,
            widget_secret: settings.widget_secret.as_ref().map(|s| s.as_bytes().to_vec()),
            office_hours: settings.office_hours.clone(),
            attachment_max_bytes: settings.attachment_max_bytes,
            preparing: tokio::sync::Semaphore::new(PREPARING_AT_ONCE),
            receiving: tokio::sync::Semaphore::new(RECEIVING_AT_ONCE),
            first_run: super::first_run::FirstRun::new(settings.setup_remote),
        })
    }

    /// A connection id no other connection of the cluster has.
    pub(super) fn new_conn(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Hands a job to the pipeline and waits for its answer.
    pub(super) async fn pipeline<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, Problem>>) -> Job,
    ) -> Result<T, Problem> {
        through(&self.pipeline, job).await
    }

    /// Queues a job for the pipeline without waiting for its answer (the job carries how it
    /// is answered); gives the job back if the pipeline has stopped.
    pub(super) async fn queue(&self, job: Job) -> Result<(), Job> {
        self.pipeline.send(job).await.map_err(|refused| {
            tracing::error!("the pipeline has stopped");
            refused.0
        })
    }

    /// Hands a new customer to the registrar and waits for the login's outcome.
    pub(super) async fn register<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, Problem>>) -> Registration,
    ) -> Result<T, Problem> {
        through(&self.registrar, job).await
    }

    /// At shutdown, before the connections close: stores and delivers every message
    /// already taken in, and waits (up to `within`) until each of their senders has the
    /// acknowledgement, so that nobody is left wondering whether a message went through.
    /// Messages that arrive meanwhile are stored as usual but not waited for.
    pub async fn drain(&self, within: Duration) {
        let flush = async {
            if let Err(problem) = self.pipeline(|reply| Job::Flush { reply }).await {
                tracing::error!(?problem, "flushing the pipeline at shutdown failed");
            }
        };
        self.drain.settle(within, flush).await;
    }

    /// At a graceful shutdown, tells the other nodes of a cluster that this one leaves.
    pub async fn leave_cluster(&self) {
        self.desk.leave_cluster().await;
    }
}

/// Hands a job to one of the storage tasks and waits for its answer.
async fn through<J, T>(
    task: &mpsc::Sender<J>,
    job: impl FnOnce(oneshot::Sender<Result<T, Problem>>) -> J,
) -> Result<T, Problem> {
    let (tx, rx) = oneshot::channel();
    if task.send(job(tx)).await.is_err() {
        tracing::error!("a storage task has stopped");
        return Err(Problem::Internal);
    }
    rx.await.unwrap_or_else(|_| {
        tracing::error!("a storage task dropped a job");
        Err(Problem::Internal)
    })
}

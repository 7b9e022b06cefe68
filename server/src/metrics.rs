//! What the server counts for its operators, in Prometheus's text format at `/metrics`
//! (served behind a token: see `transport::scrape`).
//!
//! Counters and histograms are recorded where things happen, through the `metrics` crate's
//! facade and the functions below (every name is here, once). Gauges of the live state
//! (connections, the queue) are read from it when scraped ([`Census`]). The recorder is the
//! process's: every server one process runs (the tests run several) counts into it.
//! Must not: decide anything; a failed recording never fails what it records.

use std::sync::OnceLock;
use std::time::Duration;

// `::metrics`: the crate (this module has its name).
use ::metrics::{counter, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use socketioxide::TransportType;

use app::protocol::{Problem, Role};

const LOGINS: &str = "chat_logins_total";
const LOGIN_REFUSALS: &str = "chat_login_refusals_total";
const RATE_LIMITED: &str = "chat_rate_limited_total";
const MESSAGES_STORED: &str = "chat_messages_stored_total";
const MESSAGES_DELIVERED: &str = "chat_messages_delivered_total";
const COMMIT_SECONDS: &str = "chat_commit_seconds";
const DATABASE_ERRORS: &str = "chat_database_errors_total";
const QUEUE_WAIT_SECONDS: &str = "chat_queue_wait_seconds";
const CONNECTIONS: &str = "chat_connections";
const QUEUE_LENGTH: &str = "chat_queue_length";
const QUEUE_OLDEST_SECONDS: &str = "chat_queue_oldest_wait_seconds";
const STREAM_LAG_SECONDS: &str = "chat_cluster_stream_lag_seconds";

/// The histograms' buckets, in seconds: a commit takes a millisecond or so (fsync), a wait
/// in the queue seconds to minutes.
const COMMIT_BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0];
const WAIT_BUCKETS: [f64; 10] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

/// How often the recorder's histograms are drained into their buckets between scrapes (it
/// keeps every sample until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same one), and its upkeep
/// on the current tokio runtime. `None` if another recorder was installed first: the
/// server runs, and `/metrics` says it has nothing to show.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(COMMIT_SECONDS.into()), &COMMIT_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(QUEUE_WAIT_SECONDS.into()),
                        &WAIT_BUCKETS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    let upkept = handle.clone();
                    tokio::spawn(async move {
                        let mut every = tokio::time::interval(UPKEEP_EVERY);
                        loop {
                            every.tick().await;
                            upkept.run_upkeep();
                        }
                    });
                    Some(handle)
                }
                Err(e) => {
                    tracing::error!(error = %e, "metrics are not recorded: the recorder could not be installed");
                    None
                }
            }
        })
        .as_ref()
}

/// What each metric is, for the `# HELP` lines.
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        LOGINS,
        "Socket.IO logins that succeeded (every tab and reconnection), by role (customer, agent)."
    );
    describe_counter!(LOGIN_REFUSALS, "Logins refused (over Socket.IO, and agents' at /session), by the problem's code (wrong_password, name_taken, slow_down, ...).");
    describe_counter!(RATE_LIMITED, "Requests refused by an abuse limit, by limit (events, messages, logins, connections, uploads, passwords).");
    describe_counter!(
        MESSAGES_STORED,
        "Messages committed to the database (a retry of a stored one is not stored again)."
    );
    describe_counter!(MESSAGES_DELIVERED, "Message frames written to this node's connections (one per connection reached, the author's own tabs included).");
    describe_histogram!(COMMIT_SECONDS, Unit::Seconds, "Time to commit one group of messages (one transaction, one fsync), as the message path waited for it.");
    describe_counter!(DATABASE_ERRORS, "Failures of the database (or of the attachments' directory), as the storage layer met them.");
    describe_histogram!(QUEUE_WAIT_SECONDS, Unit::Seconds, "How long a conversation waited in the queue before an agent had it (the whole desk's, on every node).");
    describe_gauge!(CONNECTIONS, "Open Socket.IO connections of this node, by transport (websocket, polling) and role (customer, agent, none: not logged in).");
    describe_gauge!(QUEUE_LENGTH, "Conversations waiting for an agent (the whole desk's).");
    describe_gauge!(
        QUEUE_OLDEST_SECONDS,
        Unit::Seconds,
        "How long the oldest waiting conversation has waited; 0 when none waits."
    );
    describe_gauge!(STREAM_LAG_SECONDS, Unit::Seconds, "In a cluster: how far behind the shared stream this node applied its last entries (Redis's clock against this node's).");
    // Shown from the start, at 0, so that a rate over the first minutes has a start.
    for name in [MESSAGES_STORED, MESSAGES_DELIVERED, DATABASE_ERRORS] {
        counter!(name).increment(0);
    }
}

fn role_label(role: Option<Role>) -> &'static str {
    match role {
        Some(Role::Customer) => "customer",
        Some(Role::Agent) => "agent",
        None => "none",
    }
}

fn transport_label(transport: TransportType) -> &'static str {
    match transport {
        TransportType::Websocket => "websocket",
        TransportType::Polling => "polling",
    }
}

/// Someone logged in.
pub fn logged_in(role: Role) {
    counter!(LOGINS, "role" => role_label(Some(role))).increment(1);
}

/// A login was refused with `problem`.
pub fn login_refused(problem: &Problem) {
    // Its code is found through serde: not for nothing while nobody records.
    if recording() {
        counter!(LOGIN_REFUSALS, "reason" => code(problem)).increment(1);
    }
}

/// Whether this process records metrics (a server with a `METRICS_TOKEN` installed them).
fn recording() -> bool {
    HANDLE.get().is_some_and(Option::is_some)
}

/// A problem's code as the wire names it (`wrong_password`): a fixed set, so a label.
fn code(problem: &Problem) -> String {
    match serde_json::to_value(problem) {
        Ok(value) => value["code"].as_str().unwrap_or("unknown").to_owned(),
        Err(_) => "unknown".to_owned(),
    }
}

/// Which abuse limit refused something (see `limits::Limits`).
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    Events,
    Messages,
    Logins,
    Connections,
    Uploads,
    Passwords,
    /// REST API requests of one token.
    Api,
}

/// An abuse limit refused something.
pub fn limited(limit: Limit) {
    let label = match limit {
        Limit::Events => "events",
        Limit::Messages => "messages",
        Limit::Logins => "logins",
        Limit::Connections => "connections",
        Limit::Uploads => "uploads",
        Limit::Passwords => "passwords",
        Limit::Api => "api",
    };
    counter!(RATE_LIMITED, "limit" => label).increment(1);
}

/// A group of messages was committed (`stored` of them) in `took`.
pub fn committed(stored: usize, took: Duration) {
    histogram!(COMMIT_SECONDS).record(took.as_secs_f64());
    counter!(MESSAGES_STORED).increment(stored as u64);
}

/// `frames` message frames were written to connections.
pub fn delivered(frames: u64) {
    if frames > 0 {
        counter!(MESSAGES_DELIVERED).increment(frames);
    }
}

/// The database failed.
pub fn database_error() {
    counter!(DATABASE_ERRORS).increment(1);
}

/// A conversation that entered the queue at `queued_at_ms` was given to an agent at `at_ms`.
pub fn left_queue(queued_at_ms: u64, at_ms: u64) {
    histogram!(QUEUE_WAIT_SECONDS).record(at_ms.saturating_sub(queued_at_ms) as f64 / 1000.0);
}

/// This node applied the cluster's stream up to an entry Redis wrote at `entry_ms`;
/// `None` when it has read everything there is.
pub fn stream_applied(entry_ms: Option<u64>, now_ms: u64) {
    let lag = entry_ms.map_or(0.0, |ms| now_ms.saturating_sub(ms) as f64 / 1000.0);
    gauge!(STREAM_LAG_SECONDS).set(lag);
}

/// The live state's numbers, read when scraped.
#[derive(Debug, Default)]
pub struct Census {
    /// Open connections by transport and role (none: not logged in yet).
    pub connections: Vec<((TransportType, Option<Role>), u64)>,
    pub queue_length: usize,
    /// When the oldest waiting conversation entered the queue.
    pub oldest_queued_at_ms: Option<u64>,
}

/// The transports and roles every connection gauge is written for (a combination with no
/// connection left reads 0, not its last value).
const TRANSPORTS: [TransportType; 2] = [TransportType::Websocket, TransportType::Polling];
const ROLES: [Option<Role>; 3] = [Some(Role::Customer), Some(Role::Agent), None];

/// The page `/metrics` serves: `census`'s gauges, then everything recorded.
pub fn render(handle: &PrometheusHandle, census: &Census, now_ms: u64) -> String {
    for transport in TRANSPORTS {
        for role in ROLES {
            let n = census
                .connections
                .iter()
                .find(|((t, r), _)| *t == transport && *r == role)
                .map_or(0, |(_, n)| *n);
            let (transport, role) = (transport_label(transport), role_label(role));
            gauge!(CONNECTIONS, "transport" => transport, "role" => role).set(n as f64);
        }
    }
    gauge!(QUEUE_LENGTH).set(census.queue_length as f64);
    let oldest =
        census.oldest_queued_at_ms.map_or(0.0, |at| now_ms.saturating_sub(at) as f64 / 1000.0);
    gauge!(QUEUE_OLDEST_SECONDS).set(oldest);
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_labelled_with_its_wire_code() {
        assert_eq!(code(&Problem::WrongPassword), "wrong_password");
        assert_eq!(code(&Problem::SlowDown(3)), "slow_down");
        assert_eq!(code(&Problem::NameTaken), "name_taken");
    }
}

//! Who may come in, and how fast: client addresses, the per-address limits, and the
//! password-hashing queue.
//!
//! Owns: finding a client's address (the peer's, or a trusted proxy's `X-Forwarded-For`),
//! what is remembered per address (connections, logins, messages, wrong passwords; swept
//! when idle; in a cluster, also what the other nodes said their clients used, so that
//! each limit holds for the whole cluster), and running password hashes a few at a time. Must not: decide chat rules
//! (the hub does) or know what a login is (see [`super::login`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use super::live::{AddressUse, PasswordCheck};
use super::turnstile::ConnInfo;
use crate::clock::now_ms;
use crate::limits::{Address, Limits};
use crate::metrics::{self, Limit};
use app::protocol::Problem;

/// Password hashes and checks that may run at once.
pub(super) const HASHING_AT_ONCE: usize = 4;

/// Addresses remembered before the first sweep.
const ADDRESSES_SWEPT_AT: usize = 4096;

/// The limits, and what is remembered per client address.
pub struct Gate {
    limits: Limits,
    addresses: Mutex<Addresses>,
    trust_forwarded_for: bool,
    /// Password hashes and checks running now (see [`Gate::hashing`]).
    hashing: tokio::sync::Semaphore,
    /// In a cluster: what this node's clients used per address since the other nodes were
    /// last told ([`Gate::take_use`]); `None` on a single node.
    unshared: Option<Mutex<HashMap<IpAddr, AddressUse>>>,
    /// Each REST API token's requests (as many as there are tokens; counted on this node).
    api: Mutex<HashMap<u64, crate::limits::Bucket>>,
}

/// What is remembered per client address; forgotten once there is nothing to remember.
struct Addresses {
    known: HashMap<IpAddr, Address>,
    /// How many addresses may be known before the idle ones are swept out.
    sweep_at: usize,
}

/// Tokens whose rates are remembered before the full buckets are forgotten.
const API_TOKENS_REMEMBERED: usize = 256;

impl Gate {
    /// A gate with these limits; `trust_forwarded_for` takes a client's address from
    /// `X-Forwarded-For` (behind a reverse proxy) rather than from the socket. In a
    /// `cluster`, what each address uses is told to the other nodes, which count it too.
    pub fn new(limits: Limits, trust_forwarded_for: bool, cluster: bool) -> Self {
        Self {
            unshared: cluster.then(|| Mutex::new(HashMap::new())),
            limits,
            addresses: Mutex::new(Addresses {
                known: HashMap::new(),
                sweep_at: ADDRESSES_SWEPT_AT,
            }),
            trust_forwarded_for,
            hashing: tokio::sync::Semaphore::new(HASHING_AT_ONCE),
            api: Mutex::new(HashMap::new()),
        }
    }

    /// Whether one more REST API request with token `id` is over its rate: the seconds to
    /// wait, if so; counted if not.
    pub fn api_limited(&self, id: u64) -> Option<u64> {
        let now = crate::clock::now_ms();
        let rate = self.limits.api_per_token;
        let mut buckets = self.api.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > API_TOKENS_REMEMBERED {
            // Full buckets (revoked tokens' among them) are nothing to remember.
            buckets.retain(|_, b| !b.is_full(rate, now));
        }
        let limited = buckets.entry(id).or_default().take(rate, now).err();
        if limited.is_some() {
            metrics::limited(Limit::Api);
        }
        limited
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the `X-Forwarded-For` and `X-Forwarded-Proto` of a proxy are believed.
    pub fn trusts_proxy(&self) -> bool {
        self.trust_forwarded_for
    }

    /// The client's address: the TCP peer's, or behind a trusted proxy the last value of
    /// `X-Forwarded-For` over all its header lines (the address the proxy saw; a proxy may
    /// add its own line rather than extend the client's, and what comes before is the
    /// client's word).
    pub fn client_ip(
        &self,
        headers: &axum::http::HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> Option<IpAddr> {
        let forwarded = || {
            // Strictly the last value: anything unreadable there means no forwarded address
            // (the peer's is used), never a value further left, which the client wrote.
            let last_line = headers.get_all("x-forwarded-for").iter().next_back()?;
            last_line.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
        };
        if self.trust_forwarded_for {
            if let Some(ip) = forwarded() {
                return Some(ip);
            }
        }
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
    }

    /// Runs `f` on what is remembered about the client address `ip` (an IPv6 client's
    /// whole /64, see [`counted_as`]), at the current time; `None` when the address is
    /// unknown (no limits per address then).
    pub fn at_address<T>(
        &self,
        ip: Option<IpAddr>,
        f: impl FnOnce(&mut Address, &Limits, u64) -> T,
    ) -> Option<T> {
        let ip = counted_as(ip?);
        let now = now_ms();
        let mut addresses = self.addresses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if addresses.known.len() >= addresses.sweep_at && !addresses.known.contains_key(&ip) {
            addresses.known.retain(|_, a| !a.is_idle(&self.limits, now));
            addresses.sweep_at = (addresses.known.len() * 2).max(ADDRESSES_SWEPT_AT);
        }
        Some(f(addresses.known.entry(ip).or_default(), &self.limits, now))
    }

    /// Whether another connection from `ip` may open now (counted if so).
    pub fn may_connect(&self, ip: Option<IpAddr>) -> Result<(), Problem> {
        match self.at_address(ip, |a, limits, _| a.connect(limits).then_some(a.connections)) {
            Some(None) => {
                tracing::warn!(?ip, "refused a connection: too many from one address");
                metrics::limited(Limit::Connections);
                Err(Problem::TooManyConnections)
            }
            Some(Some(open)) => {
                self.unshared(ip, |u| u.connections = Some(open as u32));
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A connection from `ip` closed.
    pub fn disconnected(&self, ip: Option<IpAddr>) {
        if let Some(open) = self.at_address(ip, |a, _, _| {
            a.disconnect();
            a.connections
        }) {
            self.unshared(ip, |u| u.connections = Some(open as u32));
        }
    }

    /// In a cluster, notes what a client at `ip` used, for the other nodes.
    fn unshared(&self, ip: Option<IpAddr>, used: impl FnOnce(&mut AddressUse)) {
        let (Some(unshared), Some(ip)) = (&self.unshared, ip) else { return };
        let ip = counted_as(ip);
        let mut unshared = unshared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        used(unshared.entry(ip).or_insert_with(|| AddressUse::new(ip)));
    }

    /// What this node's clients used since the last call, per address, for the other nodes
    /// (empty on a single node).
    pub fn take_use(&self) -> Vec<AddressUse> {
        let Some(unshared) = &self.unshared else { return vec![] };
        let mut unshared = unshared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        unshared.drain().map(|(_, used)| used).collect()
    }

    /// Counts what the clients of each address used on node `node` of the cluster: the
    /// limits per address hold for the whole cluster, not per node.
    pub fn used_elsewhere(&self, node: u64, uses: &[AddressUse]) {
        for used in uses {
            self.at_address(Some(used.ip), |a, limits, now| {
                a.used_elsewhere(limits, used.logins, used.messages, now);
                if let Some(open) = used.connections {
                    a.connections_on(node, open as usize);
                }
            });
        }
    }

    /// Node `node` is gone, and its connections with it.
    pub fn node_gone(&self, node: u64) {
        let mut addresses = self.addresses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for a in addresses.known.values_mut() {
            a.connections_on(node, 0);
        }
    }

    /// Whether another login (over the socket or HTTP) may be tried from `ip` now.
    pub fn may_log_in(&self, ip: Option<IpAddr>) -> Result<(), Problem> {
        match self.at_address(ip, |a, limits, now| a.login(limits, now)) {
            Some(Err(wait_s)) => {
                tracing::warn!(?ip, "login refused: too many from one address");
                metrics::limited(Limit::Logins);
                Err(Problem::SlowDown(wait_s))
            }
            Some(Ok(())) => {
                self.unshared(ip, |u| u.logins += 1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether a message from this connection is over its rate (its own; for customers,
    /// also their address's): the seconds to wait, if so.
    pub fn message_limited(&self, info: &ConnInfo, agent: bool) -> Option<u64> {
        let rate = if agent { self.limits.agent_messages } else { self.limits.customer_messages };
        let limited = match info.take(|b| &mut b.messages, rate) {
            Err(wait_s) => Some(wait_s),
            Ok(()) if agent => None,
            Ok(()) => self.address_limited(info.ip),
        };
        if limited.is_some() {
            metrics::limited(Limit::Messages);
        }
        limited
    }

    /// Whether an upload from `ip` is over the address's rate of uploads (anyone's) or, for
    /// a customer's, of messages (each upload counts as one too): the seconds to wait, if so.
    /// Counted only on this node (unlike messages, not shared across a cluster).
    pub fn upload_limited(&self, ip: Option<IpAddr>, agent: bool) -> Option<u64> {
        let limited = match self.at_address(ip, |a, limits, now| a.upload(limits, now)) {
            Some(Err(wait_s)) => Some(wait_s),
            _ if agent => None,
            _ => self.address_limited(ip),
        };
        if limited.is_some() {
            metrics::limited(Limit::Uploads);
        }
        limited
    }

    /// Whether one more customer message (or upload) from `ip` is over the address's rate:
    /// the seconds to wait, if so; counted if not.
    fn address_limited(&self, ip: Option<IpAddr>) -> Option<u64> {
        match self.at_address(ip, |a, limits, now| a.message(limits, now))? {
            Ok(()) => {
                self.unshared(ip, |u| u.messages += 1);
                None
            }
            Err(wait_s) => Some(wait_s),
        }
    }

    /// Whether a password for the agent name `key` may be tried from `ip` now: after a few
    /// wrong ones, each further try waits longer.
    pub fn may_try_password(&self, ip: Option<IpAddr>, key: &str) -> Result<(), Problem> {
        if let Some(Err(wait_s)) = self.at_address(ip, |a, _, now| a.may_try_password(key, now)) {
            tracing::warn!(?ip, "agent login refused: too many wrong passwords");
            metrics::limited(Limit::Passwords);
            return Err(Problem::TooManyAttempts(wait_s));
        }
        Ok(())
    }

    /// Remembers a password check (made on this node or another: the desk applies each on
    /// every node, see `Item::PasswordChecked`).
    pub fn password_checked(&self, check: &PasswordCheck) {
        let PasswordCheck { ip, key, ok, at_ms } = check;
        self.at_address(Some(*ip), |a, limits, _| a.password_checked(limits, key, *ok, *at_ms));
    }

    /// Runs a password hash or check: on a blocking thread (it is deliberately slow), and
    /// only a few at once (each takes argon2id's 19 MiB of memory: a flood of logins from
    /// many addresses must not take the server's memory with it).
    pub async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let _permit = self.hashing.acquire().await.map_err(|_| Problem::Internal)?;
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            tracing::error!(error = %e, "password hashing panicked");
            Problem::Internal
        })
    }
}

/// The address a client's limits are counted under: an IPv4 address as it is (also when
/// written as IPv6, `::ffff:a.b.c.d`), an IPv6 address as its /64. One IPv6 subscriber
/// usually holds a whole /64 and may use any of its 2^64 addresses, so counting each one
/// apart would give them a new budget per request.
fn counted_as(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_a_few_password_hashes_run_at_once() {
        let gate = Arc::new(Gate::new(Limits::default(), false, false));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..16)
            .map(|_| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    gate.hashing(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!((2..=HASHING_AT_ONCE).contains(&most), "{most} at once");
    }

    fn headers(lines: &[&str]) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        headers
    }

    #[test]
    fn behind_a_proxy_the_last_forwarded_address_counts_over_every_header_line() {
        let gate = Gate::new(Limits::default(), true, false);
        let none = axum::http::Extensions::new();
        let ip = |lines: &[&str]| gate.client_ip(&headers(lines), &none);
        assert_eq!(ip(&["203.0.113.7"]), Some("203.0.113.7".parse().unwrap()));
        // A client's own value first, then what each proxy added: the last one is the
        // address the trusted proxy saw, whichever line it is on.
        assert_eq!(
            ip(&["10.0.0.1, 198.51.100.2", "203.0.113.7"]),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            ip(&["10.0.0.1", "198.51.100.2, 203.0.113.7 "]),
            Some("203.0.113.7".parse().unwrap())
        );
        // Nothing readable last: no forwarded address (never one further left).
        assert_eq!(ip(&["198.51.100.2", "203.0.113.7, "]), None);
        assert_eq!(ip(&["198.51.100.2", "unknown"]), None);
        // Not trusted: the header is a client's word, and there is no peer here.
        let untrusting = Gate::new(Limits::default(), false, false);
        assert_eq!(untrusting.client_ip(&headers(&["203.0.113.7"]), &none), None);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_for_every_per_address_limit() {
        let limits = Limits { connections_per_address: 2, ..Limits::default() };
        let gate = Gate::new(limits, false, false);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(gate.may_connect(ip("2001:db8:1:2::1")), Ok(()));
        assert_eq!(gate.may_connect(ip("2001:db8:1:2:ffff::9")), Ok(()));
        // A third address of the same /64 (anyone there can pick any of 2^64) shares them.
        assert_eq!(gate.may_connect(ip("2001:db8:1:2::3")), Err(Problem::TooManyConnections));
        // Another /64 has its own; IPv4 addresses stay one each.
        assert_eq!(gate.may_connect(ip("2001:db8:1:3::1")), Ok(()));
        assert_eq!(gate.may_connect(ip("192.0.2.1")), Ok(()));
        assert_eq!(gate.may_connect(ip("192.0.2.2")), Ok(()));
        // An IPv4 address written as IPv6 is that IPv4 address.
        assert_eq!(gate.may_connect(ip("::ffff:192.0.2.1")), Ok(()));
        assert_eq!(gate.may_connect(ip("192.0.2.1")), Err(Problem::TooManyConnections));
        gate.disconnected(ip("2001:db8:1:2::1"));
        assert_eq!(gate.may_connect(ip("2001:db8:1:2::42")), Ok(()));
    }
}

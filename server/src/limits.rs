//! Abuse limits as pure policy: token buckets and password backoff, with the time
//! passed in. The transport keeps one [`Bucket`] per connection and one [`Address`] per
//! client address, and asks them before it does the work.
//! Must not: read the clock or do I/O (tests drive time by hand).

use std::collections::{BTreeMap, HashMap};

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_s: f64,
    /// Most tokens held (the burst).
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_s: f64, burst: f64) -> Self {
        Self { per_s, burst }
    }

    /// A rate so high it never limits (benchmarks).
    pub const UNLIMITED: Rate = Rate::new(1e12, 1e12);
}

/// What may be done how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Events of any kind from one connection.
    pub events: Rate,
    /// Messages from one customer connection.
    pub customer_messages: Rate,
    /// Messages from one agent connection (agents answer many customers at once).
    pub agent_messages: Rate,
    /// Messages from all customers at one address together.
    pub messages_per_address: Rate,
    /// Files uploaded from one address (anyone's: each holds up to `ATTACHMENT_MAX_MB` of
    /// memory while it arrives, and CPU while an image is re-encoded).
    pub uploads_per_address: Rate,
    /// Logins from one address (any role).
    pub logins_per_address: Rate,
    /// Open Socket.IO connections from one address.
    pub connections_per_address: usize,
    /// REST API requests with one token (a program's: a leaked token cannot flood the
    /// desk, nor fan out into webhook deliveries, faster than this).
    pub api_per_token: Rate,
    /// Failed passwords for one agent name from one address before each further
    /// attempt must wait (1 s, then doubling up to [`MAX_LOCKOUT_S`]).
    pub free_password_failures: u32,
}

impl Default for Limits {
    /// Generous for people (typing is slow; an office may share one address), tight for
    /// scripts.
    fn default() -> Self {
        Self {
            events: Rate::new(20.0, 60.0),
            customer_messages: Rate::new(3.0, 20.0),
            agent_messages: Rate::new(20.0, 60.0),
            messages_per_address: Rate::new(50.0, 200.0),
            // Thirty files dropped at once, then one a second.
            uploads_per_address: Rate::new(1.0, 30.0),
            logins_per_address: Rate::new(2.0, 60.0),
            connections_per_address: 500,
            api_per_token: Rate::new(20.0, 100.0),
            free_password_failures: 3,
        }
    }
}

impl Limits {
    /// No limits at all (benchmarks, which measure the server and not the limiter).
    pub fn unlimited() -> Self {
        Self {
            events: Rate::UNLIMITED,
            customer_messages: Rate::UNLIMITED,
            agent_messages: Rate::UNLIMITED,
            messages_per_address: Rate::UNLIMITED,
            uploads_per_address: Rate::UNLIMITED,
            logins_per_address: Rate::UNLIMITED,
            connections_per_address: usize::MAX,
            api_per_token: Rate::UNLIMITED,
            free_password_failures: u32::MAX,
        }
    }
}

/// The longest a name is locked after failed passwords.
pub const MAX_LOCKOUT_S: u64 = 300;

/// A token bucket: starts full.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Tokens used, as of `at_ms` (so that a fresh bucket is full at any time).
    used: f64,
    at_ms: u64,
}

impl Bucket {
    /// Lets the tokens come back that came back by `now_ms`.
    fn refill(&mut self, rate: Rate, now_ms: u64) {
        let elapsed_s = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        self.used = (self.used - elapsed_s * rate.per_s).max(0.0);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Takes one token, or says after how many whole seconds one will be there.
    pub fn take(&mut self, rate: Rate, now_ms: u64) -> Result<(), u64> {
        self.refill(rate, now_ms);
        if self.used + 1.0 <= rate.burst {
            self.used += 1.0;
            Ok(())
        } else {
            let wait_s = (self.used + 1.0 - rate.burst) / rate.per_s;
            Err(wait_s.ceil().max(1.0) as u64)
        }
    }

    /// Counts `n` tokens taken elsewhere (on another node), whether or not there were
    /// that many: past the burst, the next [`Bucket::take`] waits until they came back.
    pub fn spend(&mut self, n: u32, rate: Rate, now_ms: u64) {
        self.refill(rate, now_ms);
        self.used += f64::from(n);
    }

    /// Whether the bucket is full again by `now_ms` (nothing to remember).
    pub fn is_full(&self, rate: Rate, now_ms: u64) -> bool {
        let elapsed_s = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        self.used - elapsed_s * rate.per_s <= 0.0
    }
}

/// Failed passwords for one name.
#[derive(Debug, Clone, Default)]
struct Failures {
    count: u32,
    locked_until_ms: u64,
}

/// Everything remembered about one client address.
#[derive(Debug, Clone, Default)]
pub struct Address {
    pub connections: usize,
    /// Its connections open on the other nodes of a cluster, by node (as they last said).
    elsewhere: BTreeMap<u64, usize>,
    logins: Bucket,
    messages: Bucket,
    uploads: Bucket,
    /// By agent name key.
    failures: HashMap<String, Failures>,
}

impl Address {
    /// Counts a new connection and says `true`, unless the address has too many open
    /// (then `false`, and nothing is counted).
    pub fn connect(&mut self, limits: &Limits) -> bool {
        if self.connections + self.elsewhere.values().sum::<usize>()
            >= limits.connections_per_address
        {
            return false;
        }
        self.connections += 1;
        true
    }

    pub fn disconnect(&mut self) {
        self.connections = self.connections.saturating_sub(1);
    }

    /// A login attempt; `Err` gives the seconds to wait.
    pub fn login(&mut self, limits: &Limits, now_ms: u64) -> Result<(), u64> {
        self.logins.take(limits.logins_per_address, now_ms)
    }

    /// A customer's message; `Err` gives the seconds to wait.
    pub fn message(&mut self, limits: &Limits, now_ms: u64) -> Result<(), u64> {
        self.messages.take(limits.messages_per_address, now_ms)
    }

    /// An upload (anyone's); `Err` gives the seconds to wait.
    pub fn upload(&mut self, limits: &Limits, now_ms: u64) -> Result<(), u64> {
        self.uploads.take(limits.uploads_per_address, now_ms)
    }

    /// What this address's clients did on another node of a cluster: `logins` logins and
    /// `messages` customers' messages, spent from the same buckets.
    pub fn used_elsewhere(&mut self, limits: &Limits, logins: u32, messages: u32, now_ms: u64) {
        self.logins.spend(logins, limits.logins_per_address, now_ms);
        self.messages.spend(messages, limits.messages_per_address, now_ms);
    }

    /// Node `node` holds `open` connections from this address now (0: none, or it is gone).
    pub fn connections_on(&mut self, node: u64, open: usize) {
        if open == 0 {
            self.elsewhere.remove(&node);
        } else {
            self.elsewhere.insert(node, open);
        }
    }

    /// Whether a password may be tried for `name_key` now; `Err` gives the seconds left.
    pub fn may_try_password(&self, name_key: &str, now_ms: u64) -> Result<(), u64> {
        match self.failures.get(name_key) {
            Some(f) if f.locked_until_ms > now_ms => {
                Err((f.locked_until_ms - now_ms).div_ceil(1000))
            }
            _ => Ok(()),
        }
    }

    /// Records a password check: a success forgets the failures, a failure past the
    /// free ones locks the name for 1 s, 2 s, 4 s, … up to [`MAX_LOCKOUT_S`].
    pub fn password_checked(&mut self, limits: &Limits, name_key: &str, ok: bool, now_ms: u64) {
        if ok {
            self.failures.remove(name_key);
            return;
        }
        let f = self.failures.entry(name_key.to_owned()).or_default();
        f.count = f.count.saturating_add(1);
        if f.count > limits.free_password_failures {
            let doublings = (f.count - limits.free_password_failures - 1).min(16);
            let lock_s = (1u64 << doublings).min(MAX_LOCKOUT_S);
            f.locked_until_ms = now_ms + lock_s * 1000;
        }
    }

    /// Whether nothing here is worth remembering any more.
    pub fn is_idle(&self, limits: &Limits, now_ms: u64) -> bool {
        self.connections == 0
            && self.elsewhere.is_empty()
            && self.logins.is_full(limits.logins_per_address, now_ms)
            && self.messages.is_full(limits.messages_per_address, now_ms)
            && self.uploads.is_full(limits.uploads_per_address, now_ms)
            && self.failures.values().all(|f| f.locked_until_ms + MAX_LOCKOUT_S * 1000 <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let rate = Rate::new(2.0, 5.0);
        let mut b = Bucket::default();
        let t0 = 1_000_000;
        for _ in 0..5 {
            assert_eq!(b.take(rate, t0), Ok(()));
        }
        assert_eq!(b.take(rate, t0), Err(1), "the burst is spent; one token comes in 0.5 s");
        assert_eq!(b.take(rate, t0 + 400), Err(1));
        assert_eq!(b.take(rate, t0 + 500), Ok(()));
        assert_eq!(b.take(rate, t0 + 500), Err(1));
        // Ten seconds later it is full again, and no fuller than the burst.
        assert!(b.is_full(rate, t0 + 10_000));
        for _ in 0..5 {
            assert_eq!(b.take(rate, t0 + 10_000), Ok(()));
        }
        assert!(b.take(rate, t0 + 10_000).is_err());
        // A slow rate says how long to wait.
        let mut slow = Bucket::default();
        let rate = Rate::new(0.1, 1.0);
        assert_eq!(slow.take(rate, t0), Ok(()));
        assert_eq!(slow.take(rate, t0), Err(10));
    }

    #[test]
    fn an_address_uploads_thirty_files_at_once_then_one_a_second() {
        let limits = Limits::default();
        let mut a = Address::default();
        let t0 = 1_000_000;
        for _ in 0..30 {
            assert_eq!(a.upload(&limits, t0), Ok(()));
        }
        assert_eq!(a.upload(&limits, t0), Err(1));
        assert!(!a.is_idle(&limits, t0 + 10_000), "it remembers the uploads until they are back");
        assert_eq!(a.upload(&limits, t0 + 1_000), Ok(()));
        assert_eq!(a.upload(&limits, t0 + 1_000), Err(1));
        // Messages are another budget.
        assert_eq!(a.message(&limits, t0 + 1_000), Ok(()));
    }

    #[test]
    fn a_clock_going_back_does_not_refill_or_panic() {
        let rate = Rate::new(1.0, 1.0);
        let mut b = Bucket::default();
        assert_eq!(b.take(rate, 10_000), Ok(()));
        assert!(b.take(rate, 5_000).is_err());
    }

    #[test]
    fn failed_passwords_lock_a_name_for_longer_and_longer() {
        let limits = Limits::default();
        let mut a = Address::default();
        let t = 1_000_000;
        for _ in 0..3 {
            assert_eq!(a.may_try_password("amy", t), Ok(()));
            a.password_checked(&limits, "amy", false, t);
        }
        assert_eq!(a.may_try_password("amy", t), Ok(()), "three failures are free");
        a.password_checked(&limits, "amy", false, t);
        assert_eq!(a.may_try_password("amy", t), Err(1));
        assert_eq!(a.may_try_password("bob", t), Ok(()), "other names are not locked");
        a.password_checked(&limits, "amy", false, t + 1_000);
        assert_eq!(a.may_try_password("amy", t + 1_000), Err(2));
        for _ in 0..20 {
            a.password_checked(&limits, "amy", false, t + 1_000);
        }
        assert_eq!(a.may_try_password("amy", t + 1_000), Err(MAX_LOCKOUT_S), "capped");
        assert!(!a.is_idle(&limits, t + 1_000));
        // A success forgets it all.
        a.password_checked(&limits, "amy", true, t + 400_000);
        assert_eq!(a.may_try_password("amy", t + 400_000), Ok(()));
    }

    #[test]
    fn what_other_nodes_used_counts_against_the_same_limits() {
        let limits = Limits {
            connections_per_address: 3,
            logins_per_address: Rate::new(1.0, 4.0),
            messages_per_address: Rate::new(1.0, 2.0),
            ..Limits::default()
        };
        let mut a = Address::default();
        let t = 1_000_000;
        // Three logins and two messages on another node: one login is left here, no message.
        a.used_elsewhere(&limits, 3, 2, t);
        assert_eq!(a.login(&limits, t), Ok(()));
        assert_eq!(a.login(&limits, t), Err(1));
        assert_eq!(a.message(&limits, t), Err(1));
        // More than the burst elsewhere: it takes longer to come back.
        a.used_elsewhere(&limits, 5, 0, t);
        assert_eq!(a.login(&limits, t), Err(6));
        // Two connections on node 2: one more here, then none; node 2 gone, room again.
        a.connections_on(2, 2);
        assert!(a.connect(&limits));
        assert!(!a.connect(&limits));
        assert!(!a.is_idle(&limits, t + 100_000));
        a.disconnect();
        a.connections_on(2, 0);
        assert!(a.is_idle(&limits, t + 100_000));
    }

    #[test]
    fn an_address_counts_its_connections() {
        let limits = Limits { connections_per_address: 2, ..Limits::default() };
        let mut a = Address::default();
        assert!(a.connect(&limits));
        assert!(a.connect(&limits));
        assert!(!a.connect(&limits));
        a.disconnect();
        assert!(a.connect(&limits));
        a.disconnect();
        a.disconnect();
        assert!(a.is_idle(&limits, 0));
        assert_eq!(a.login(&limits, 0), Ok(()));
        assert!(!a.is_idle(&limits, 0), "the login is remembered until the bucket refills");
        assert!(a.is_idle(&limits, 60_000));
    }
}

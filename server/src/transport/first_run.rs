//! The first run's setup link, as state: the hash of its token while it works, and whether a
//! request may use it from where it came (see [`super::setup`], which serves and prints it).
//!
//! Owns: the token's hash and the rule "from this machine". Must not: create accounts.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{header, Extensions, HeaderMap};

/// The setup link's state.
#[derive(Default)]
pub(super) struct FirstRun {
    /// The hash of the link's token, while it works (held across the whole creation of the
    /// admin: of two uses at once, the second finds it gone).
    pub(super) token_hash: tokio::sync::Mutex<Option<String>>,
    /// Whether the link works from other machines too (`SETUP_REMOTE`).
    pub(super) remote: bool,
}

impl FirstRun {
    pub(super) fn new(remote: bool) -> Self {
        Self { token_hash: Default::default(), remote }
    }

    /// Whether a request may use the link from where it came: from anywhere with
    /// `SETUP_REMOTE`, otherwise only from this machine.
    pub(super) fn may_use(&self, headers: &HeaderMap, extensions: &Extensions) -> bool {
        self.remote || from_this_machine(headers, extensions)
    }
}

/// The headers forwarding proxies add: a request carrying any came through one (a proxy on
/// this machine connects from loopback, for anyone).
const FORWARDED: [&str; 9] = [
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "forwarded",
    "via",
    "cf-connecting-ip",
    "true-client-ip",
    "x-envoy-external-address",
];

/// Whether a request came from a browser on this machine: from a loopback address, to a
/// loopback name (`Host`, and the page's `Origin` when it sends one: a page of another site
/// whose name was rebound to 127.0.0.1 still says its own name), and not through a proxy
/// that says so. (A forwarder that adds no header and rewrites `Host` to this server's
/// loopback address is indistinguishable from this machine: the token is what stops those.)
pub(super) fn from_this_machine(headers: &HeaderMap, extensions: &Extensions) -> bool {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical());
    let proxied = FORWARDED.iter().any(|h| headers.contains_key(*h));
    let named = |name: header::HeaderName, strip_scheme: bool| {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        value.map(|v| {
            let authority = if strip_scheme {
                v.trim().strip_prefix("http://").or_else(|| v.trim().strip_prefix("https://"))
            } else {
                Some(v.trim())
            };
            authority.is_some_and(loopback_name)
        })
    };
    peer.is_some_and(|ip| ip.is_loopback())
        && !proxied
        && named(header::HOST, false) == Some(true)
        && named(header::ORIGIN, true) != Some(false)
}

/// Whether `authority` (`host[:port]`) names this machine: `localhost`, or a loopback
/// address.
fn loopback_name(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn from(peer: &str, headers: &[(&'static str, &'static str)]) -> bool {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(peer.parse::<SocketAddr>().expect("address")));
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        from_this_machine(&map, &extensions)
    }

    #[test]
    fn only_a_browser_on_this_machine_without_a_proxy_is_this_machine() {
        let host = ("host", "127.0.0.1:3000");
        assert!(from("127.0.0.1:5000", &[host]));
        assert!(from("127.0.0.1:5000", &[("host", "localhost:3000")]));
        assert!(from("[::1]:5000", &[("host", "[::1]:3000")]));
        assert!(from("[::ffff:127.0.0.1]:5000", &[host]), "IPv4 on an IPv6 socket");
        assert!(from("127.0.0.1:5000", &[host, ("origin", "http://127.0.0.1:3000")]));
        assert!(!from("192.0.2.7:5000", &[host]), "another machine");
        assert!(!from("[2001:db8::1]:5000", &[host]));
        for proxy in FORWARDED {
            let mut map = HeaderMap::new();
            map.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
            map.insert(proxy, HeaderValue::from_static("203.0.113.9"));
            let mut extensions = Extensions::new();
            extensions.insert(ConnectInfo("127.0.0.1:5000".parse::<SocketAddr>().unwrap()));
            assert!(!from_this_machine(&map, &extensions), "through a proxy that adds {proxy}");
        }
        // A proxy that passes the public name on, and a page of another site whose name was
        // rebound to 127.0.0.1.
        assert!(!from("127.0.0.1:5000", &[("host", "chat.example.com")]));
        assert!(!from("127.0.0.1:5000", &[host, ("origin", "https://chat.example.com")]));
        assert!(!from("127.0.0.1:5000", &[("host", "evil.example:3000")]));
        assert!(!from("127.0.0.1:5000", &[]), "no Host at all");
        assert!(!from_this_machine(&HeaderMap::new(), &Extensions::new()), "no peer known");
    }
}

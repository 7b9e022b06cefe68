//! The first run: a server that starts with no agent account prints a one-time link
//! (`/setup#TOKEN`, 256 random bits) with which the first admin is created in the browser.
//! The link works once, until the server stops, and only from the server's own machine
//! (loopback, not through a proxy) unless `SETUP_REMOTE` says otherwise; once anyone has an
//! account (made here or with `server agent add`), it no longer works.
//!
//! Owns: the token (only its hash is kept), `POST /setup/admin`, and the line in the log.
//! Must not: decide who logs in afterwards (the new admin then logs in as any agent does,
//! at `/session`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::cookie::refused;
use super::desk::internal;
use super::shared::Shared;
use crate::auth;
use app::protocol::{self, AgentSession, FirstAdmin, Problem, UserName};

/// The setup link's state: the hash of its token while it works.
#[derive(Default)]
pub(super) struct FirstRun {
    token_hash: tokio::sync::Mutex<Option<String>>,
    /// Whether the link works from other machines too (`SETUP_REMOTE`).
    remote: bool,
}

impl FirstRun {
    pub(super) fn new(remote: bool) -> Self {
        Self { token_hash: Default::default(), remote }
    }
}

/// The route at [`protocol::SETUP_ADMIN_PATH`].
pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new().route(protocol::SETUP_ADMIN_PATH, post(create_admin)).with_state(shared)
}

/// At the start of a server listening on `addr`: if nobody has an account, a new setup
/// link, written to the log for whoever started it. Returns the link.
pub async fn offer(shared: &Shared, addr: SocketAddr) -> std::io::Result<Option<String>> {
    let agents = shared.desk.store.agents().await;
    if !agents.map_err(|e| std::io::Error::other(format!("listing the agents: {e}")))?.is_empty() {
        return Ok(None);
    }
    let (token, hash) = auth::new_token().map_err(|e| std::io::Error::other(e.to_string()))?;
    *shared.first_run.token_hash.lock().await = Some(hash);
    // A server listening on every address is reached on this machine through loopback.
    let host = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    };
    let link =
        format!("http://{}{}#{token}", SocketAddr::new(host, addr.port()), protocol::SETUP_PATH);
    let from = if shared.first_run.remote { "" } else { " in a browser on this machine" };
    tracing::warn!(
        "nobody has an account yet: open {link}{from} to create the first admin (the link works once; the command `agent add --admin NAME` works too)"
    );
    Ok(Some(link))
}

/// Whether a request came from this machine itself: from a loopback address, and not
/// through a proxy (a proxy on this machine connects from loopback for anyone; the
/// headers proxies add give it away).
fn from_this_machine(headers: &HeaderMap, extensions: &Extensions) -> bool {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical());
    let proxied = ["x-forwarded-for", "x-real-ip", "forwarded", "x-forwarded-host"]
        .iter()
        .any(|h| headers.contains_key(*h));
    peer.is_some_and(|ip| ip.is_loopback()) && !proxied
}

async fn create_admin(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ip = shared.gate.client_ip(&headers, &extensions);
    match first_admin(&shared, &headers, &extensions, &body).await {
        Ok(name) => {
            let created = AgentSession::LoggedIn { name, admin: true };
            (StatusCode::OK, Json(created)).into_response()
        }
        Err(problem) => {
            tracing::info!(?ip, %problem, "first-run setup refused");
            refused(problem)
        }
    }
}

async fn first_admin(
    shared: &Shared,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: &[u8],
) -> Result<UserName, Problem> {
    if !shared.first_run.remote && !from_this_machine(headers, extensions) {
        return Err(Problem::SetupOnlyLocal);
    }
    // JSON only: a form or `text/plain` post is what another page can send without asking.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    let malformed = || Problem::Malformed("setup".into());
    if !json {
        return Err(malformed());
    }
    shared.gate.may_log_in(shared.gate.client_ip(headers, extensions))?;
    let FirstAdmin { token, name, password } =
        serde_json::from_slice(body).map_err(|_| malformed())?;
    // One at a time: of two uses of the link, the second finds it gone.
    let mut held = shared.first_run.token_hash.lock().await;
    let presented = auth::token_hash(&token);
    if held.is_none() || *held != presented {
        return Err(Problem::SetupLinkInvalid);
    }
    let name = UserName::parse(&name)?;
    if password.chars().count() < auth::MIN_PASSWORD_CHARS {
        return Err(Problem::PasswordTooShort);
    }
    // An account made meanwhile some other way (`server agent add`) ends the first run.
    if !shared.desk.store.agents().await.map_err(internal("listing the agents"))?.is_empty() {
        *held = None;
        return Err(Problem::SetupLinkInvalid);
    }
    let hash = shared.gate.hashing(move || auth::hash_password(&password)).await?.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        Problem::Internal
    })?;
    shared
        .desk
        .store
        .add_agent(&name, &hash, true)
        .await
        .map_err(internal("adding the first admin"))?;
    *held = None;
    tracing::info!(agent = %name, "the first admin was created with the setup link, which no longer works");
    shared.desk.send_team(None).await;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn from(peer: &str, header: Option<(&'static str, &'static str)>) -> bool {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(peer.parse::<SocketAddr>().expect("address")));
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = header {
            headers.insert(name, HeaderValue::from_static(value));
        }
        from_this_machine(&headers, &extensions)
    }

    #[test]
    fn only_this_machine_without_a_proxy_is_this_machine() {
        assert!(from("127.0.0.1:5000", None));
        assert!(from("[::1]:5000", None));
        assert!(from("[::ffff:127.0.0.1]:5000", None), "IPv4 on an IPv6 socket");
        assert!(!from("192.0.2.7:5000", None));
        assert!(!from("[2001:db8::1]:5000", None));
        assert!(!from("127.0.0.1:5000", Some(("x-forwarded-for", "203.0.113.9"))), "a proxy");
        assert!(!from("127.0.0.1:5000", Some(("forwarded", "for=203.0.113.9"))));
        assert!(!from("127.0.0.1:5000", Some(("x-real-ip", "203.0.113.9"))));
        assert!(!from_this_machine(&HeaderMap::new(), &Extensions::new()), "no peer known");
    }
}

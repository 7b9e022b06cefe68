//! The first run: a server that starts with no agent account prints a one-time link
//! (`/setup#TOKEN`, 256 random bits) with which the first admin is created in the browser.
//! The link works once, until the server stops, and only from a browser on the server's own
//! machine (see [`super::first_run`]) unless `SETUP_REMOTE` says otherwise; once anyone has
//! an account (made here or with the command line's `agent add`), it no longer works.
//!
//! Owns: making the token, `POST /setup/admin`, and the line in the log.
//! Must not: decide who logs in afterwards (the new admin then logs in as any agent does,
//! at `/session`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::desk::internal;
use super::http::{is_json, refused};
use super::shared::Shared;
use crate::auth;
use app::protocol::{self, AgentSession, FirstAdmin, Problem, UserName};

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
    if !shared.first_run.remote && !host.is_loopback() {
        tracing::warn!(
            "this server listens on {host} only, not on loopback: the setup link below works only with SETUP_REMOTE=true (or create the first admin with the command line's `agent add --admin NAME`)"
        );
    }
    tracing::warn!(
        "nobody has an account yet: open {link}{from} to create the first admin (the link works once; the command `agent add --admin NAME` works too)"
    );
    Ok(Some(link))
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
        // Anyone can knock from elsewhere: that is not worth a line at the default level.
        Err(Problem::SetupOnlyLocal) => {
            tracing::debug!(?ip, "first-run setup refused: not from this machine");
            refused(Problem::SetupOnlyLocal)
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
    if !shared.first_run.may_use(headers, extensions) {
        return Err(Problem::SetupOnlyLocal);
    }
    let malformed = || Problem::Malformed("setup".into());
    if !is_json(headers) {
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
    auth::check_new_password(&password)?;
    // An account made meanwhile some other way (the command line's `agent add`) ends the first run.
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

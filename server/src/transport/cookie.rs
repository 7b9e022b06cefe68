//! Agent sessions in a cookie, for browsers.
//!
//! Owns: `POST /session` (an agent's name and password in, an `HttpOnly; SameSite=Strict`
//! cookie with a new session token out; any session the request already carried is
//! revoked, so a login always rotates it), `DELETE /session` (revokes the session and
//! clears the cookie), and reading the cookie a Socket.IO handshake carried. Scripts in the
//! page never see the token, so an injected script cannot carry it off; a page of another
//! site can neither send it (SameSite) nor open a socket with it (the origin check).
//! Must not: decide who may log in (the password check is [`super::login`]'s, shared with
//! the Socket.IO `login` that programs use).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cookie::{Cookie, SameSite};

use super::desk::internal;
use super::login::{check_agent, open_agent_session};
use super::shared::Shared;
use crate::auth;
use app::protocol::Problem;
use app::protocol::{self, AgentCredentials, AgentSession, UserName};

/// The routes at [`protocol::SESSION_PATH`].
pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new().route(protocol::SESSION_PATH, post(log_in).delete(log_out)).with_state(shared)
}

/// The session token in a request's `Cookie` headers, if there is one.
pub(super) fn token_in(headers: &HeaderMap) -> Option<String> {
    protocol::cookie_in(headers, protocol::SESSION_COOKIE)
}

/// The `Set-Cookie` value for `token` (or, with `None`, the one that clears the cookie).
/// A session cookie (no expiry): it goes when the browser closes, and the server forgets
/// the session after [`auth::AGENT_SESSION_IDLE_MS`] unused anyway.
fn set_cookie(token: Option<String>, secure: bool) -> Option<HeaderValue> {
    let clearing = token.is_none();
    let mut cookie = Cookie::build((protocol::SESSION_COOKIE, token.unwrap_or_default()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure);
    if clearing {
        cookie = cookie.max_age(cookie::time::Duration::ZERO);
    }
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}

/// Whether the page asking was served over HTTPS (directly, or behind a trusted proxy
/// that says so): the cookie is then sent over HTTPS only.
fn over_https(headers: &HeaderMap, trust_forwarded_for: bool) -> bool {
    let says = |name: header::HeaderName, prefix: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(prefix))
    };
    says(header::ORIGIN, "https://")
        || (trust_forwarded_for
            && says(header::HeaderName::from_static("x-forwarded-proto"), "https"))
}

/// A refusal: the status that fits the problem, and its text for the person.
fn refused(problem: Problem) -> Response {
    let status = match problem {
        Problem::SlowDown(_) | Problem::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
        Problem::WrongPassword | Problem::AgentPasswordMissing => StatusCode::UNAUTHORIZED,
        Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = (
        status,
        Json(AgentSession::Refused { error: problem.to_string(), problem: Some(problem.clone()) }),
    )
        .into_response();
    if let Problem::SlowDown(s) | Problem::TooManyAttempts(s) = problem {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    response
}

async fn log_in(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ip = shared.gate.client_ip(&headers, &extensions);
    match start_session(&shared, &headers, ip, &body).await {
        Ok(response) => response,
        Err(problem) => {
            tracing::info!(?ip, %problem, "agent login over HTTP refused");
            refused(problem)
        }
    }
}

async fn start_session(
    shared: &Shared,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    body: &[u8],
) -> Result<Response, Problem> {
    shared.gate.may_log_in(ip)?;
    let AgentCredentials { name, password } =
        serde_json::from_slice(body).map_err(|_| Problem::Malformed(protocol::LOGIN.into()))?;
    let record = check_agent(shared, ip, UserName::parse(&name)?, Some(password)).await?;
    // Rotation: the session this browser had (if any) ends with the new one's start.
    end_session(shared, headers).await?;
    let (token, _) = open_agent_session(shared, &record).await?;
    let cookie = set_cookie(Some(token), over_https(headers, shared.gate.trusts_proxy()))
        .ok_or(Problem::Internal)?;
    tracing::info!(?ip, "agent logged in over HTTP");
    let session = AgentSession::LoggedIn { name: record.name, admin: record.admin };
    Ok((StatusCode::OK, [(header::SET_COOKIE, cookie)], Json(session)).into_response())
}

/// Revokes the session of the cookie the request carried, if any.
async fn end_session(shared: &Shared, headers: &HeaderMap) -> Result<(), Problem> {
    if let Some(hash) = token_in(headers).and_then(|t| auth::token_hash(&t)) {
        shared.desk.store.revoke(&hash).await.map_err(internal("revoking a session"))?;
    }
    Ok(())
}

/// Logs out: the session stops working (on every connection that resumes with it) and the
/// browser forgets the cookie. Answers the same whether or not there was a session.
async fn log_out(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(problem) = end_session(&shared, &headers).await {
        return refused(problem);
    }
    let cleared = set_cookie(None, over_https(&headers, shared.gate.trusts_proxy()));
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cleared) = cleared {
        response.headers_mut().insert(header::SET_COOKIE, cleared);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_out_of_scripts_reach_and_stays_on_this_site() {
        let set = set_cookie(Some("tok".into()), false).unwrap();
        let set = set.to_str().unwrap();
        for part in ["chat_agent=tok", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        assert!(!set.contains("Secure") && !set.contains("Max-Age"), "{set}");
        assert!(set_cookie(Some("tok".into()), true).unwrap().to_str().unwrap().contains("Secure"));
        let cleared = set_cookie(None, false).unwrap();
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"), "{cleared:?}");
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; chat_agent=abc"));
        headers.append(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(token_in(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("chat_agent=; x=y"));
        assert_eq!(token_in(&headers), None);
        assert_eq!(token_in(&HeaderMap::new()), None);
    }

    #[test]
    fn https_is_told_by_the_origin_or_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        assert!(!over_https(&headers, true));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(!over_https(&headers, false));
        assert!(over_https(&headers, true));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://chat.example.com"));
        assert!(over_https(&headers, false));
    }
}

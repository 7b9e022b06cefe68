//! Agent sessions in a cookie, for browsers.
//!
//! Owns: `POST /session` (an agent's name and password in, an `HttpOnly; SameSite=Strict`
//! cookie with a new session token out, named `__Host-chat_agent` over HTTPS; any session
//! the request already carried is revoked, so a login always rotates it), `DELETE /session`
//! (revokes the session, closes every socket logged in with it, and clears the cookie), and
//! reading the cookie a Socket.IO handshake carried, only from the chat's own pages. Scripts
//! in the page never see the token, so an injected script cannot carry it off; a page of
//! another site can neither send it (SameSite) nor log in with it: not even a listed widget
//! host on a sibling subdomain, which `SameSite` counts as the same site.
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
use super::http::{is_json, refused};
use super::live::Item;
use super::login::{check_agent, open_agent_session};
use super::shared::Shared;
use crate::auth;
use app::protocol::Problem;
use app::protocol::{self, AgentCredentials, AgentSession, UserName};

/// The routes at [`protocol::SESSION_PATH`].
pub(super) fn routes(shared: Arc<Shared>) -> Router {
    Router::new().route(protocol::SESSION_PATH, post(log_in).delete(log_out)).with_state(shared)
}

/// The session token in a request's `Cookie` headers, if there is one: the `__Host-`
/// cookie (only ever set by this host over HTTPS), or over plain HTTP the plain one. Over
/// HTTPS the plain one is ignored: a sibling subdomain could have set it. ("Over HTTPS" as
/// [`over_https`] can tell: an `https` Origin or, without one, Referer, or a trusted
/// proxy's `X-Forwarded-Proto`. Behind a TLS proxy without `TRUST_FORWARDED_FOR`, a
/// request with neither is taken for plain HTTP.)
fn token_in(headers: &HeaderMap, https: bool) -> Option<String> {
    protocol::cookie_in(headers, protocol::SESSION_COOKIE_HTTPS)
        .or_else(|| (!https).then(|| protocol::cookie_in(headers, protocol::SESSION_COOKIE))?)
}

/// The session token a Socket.IO handshake carried, if it came from the chat's own pages:
/// with no `Origin` (a same-origin polling request, or a program) or this host's, and
/// without one, a `Referer` (if any) of this host's. A page of
/// a listed widget host gets no agent session, even on a sibling subdomain, where the
/// browser would send the cookie (`SameSite` counts subdomains as one site).
pub(super) fn socket_token(headers: &HeaderMap, trust_proxy: bool) -> Option<String> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !origin.to_str().is_ok_and(|o| super::http::own(o, host)) {
            return None;
        }
    } else if let Some(referer) = headers.get(header::REFERER) {
        // No Origin (a same-origin GET, or an image another page asks for): the page
        // that asked must be one of the chat's own too.
        let page = referer.to_str().ok().map(|r| {
            let authority_at = r.find("://").map_or(0, |i| i + 3);
            let end = r[authority_at..].find(['/', '?', '#']).map_or(r.len(), |i| authority_at + i);
            &r[..end]
        });
        if !page.is_some_and(|p| super::http::own(p, host)) {
            return None;
        }
    }
    token_in(headers, over_https(headers, trust_proxy))
}

/// The `Set-Cookie` value for `token` (or, with `None`, the one that clears the cookie).
/// A session cookie (no expiry): it goes when the browser closes, and the server forgets
/// the session after [`auth::AGENT_SESSION_IDLE_MS`] unused anyway.
fn set_cookie(token: Option<String>, secure: bool) -> Option<HeaderValue> {
    let clearing = token.is_none();
    let name = if secure { protocol::SESSION_COOKIE_HTTPS } else { protocol::SESSION_COOKIE };
    let mut cookie = Cookie::build((name, token.unwrap_or_default()))
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
/// that says so): the cookie is then sent over HTTPS only. The page's `Origin` says so,
/// or where a request carries none (a same-origin `GET`: the browser's long-polling), its
/// `Referer` (the chat's pages send their own address to themselves).
fn over_https(headers: &HeaderMap, trust_forwarded_for: bool) -> bool {
    let says = |name: header::HeaderName, prefix: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(prefix))
    };
    says(header::ORIGIN, "https://")
        || (!headers.contains_key(header::ORIGIN) && says(header::REFERER, "https://"))
        || (trust_forwarded_for
            && says(header::HeaderName::from_static("x-forwarded-proto"), "https"))
}

async fn log_in(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ip = shared.gate.client_ip(&headers, &extensions);
    if !is_json(&headers) {
        return refused(Problem::Malformed(protocol::LOGIN.into()));
    }
    match start_session(&shared, &headers, ip, &body).await {
        Ok(response) => response,
        Err(problem) => {
            tracing::info!(?ip, %problem, "agent login over HTTP refused");
            crate::metrics::login_refused(&problem);
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
    // Rotation: the session this browser had (if any) ends with the new one's start. Its
    // sockets are told and closed, as at a logout: whoever else holds that cookie (a stolen
    // one) is out when its owner logs in again; this browser's other tabs reconnect with the
    // new cookie.
    if let Some(old) = end_session(shared, headers).await? {
        shared.desk.apply_quietly(Item::EndSession(old)).await;
    }
    let (token, _) = open_agent_session(shared, &record).await?;
    let cookie = set_cookie(Some(token), over_https(headers, shared.gate.trusts_proxy()))
        .ok_or(Problem::Internal)?;
    tracing::info!(?ip, "agent logged in over HTTP");
    let session = AgentSession::LoggedIn { name: record.name, admin: record.admin };
    Ok((StatusCode::OK, [(header::SET_COOKIE, cookie)], Json(session)).into_response())
}

/// Revokes the session of the cookie the request carried, if any; returns its hash if there
/// was such a session. (Only then is a logout news for every node: a cookie made up for it
/// is not, nor is it an ended session for the hub to remember.)
async fn end_session(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let https = over_https(headers, shared.gate.trusts_proxy());
    let Some(hash) = token_in(headers, https).and_then(|t| auth::token_hash(&t)) else {
        return Ok(None);
    };
    let revoked = shared.desk.store.revoke(&hash).await.map_err(internal("revoking a session"))?;
    Ok(revoked.then_some(hash))
}

/// Logs out: the session stops working, every socket logged in with it closes (on every
/// node, told why), and the browser forgets the cookie. Answers the same whether or not
/// there was a session.
async fn log_out(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match end_session(&shared, &headers).await {
        Ok(Some(hash)) => shared.desk.apply_quietly(Item::EndSession(hash)).await,
        Ok(None) => {}
        Err(problem) => return refused(problem),
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
        // Over HTTPS: the __Host- prefix, which browsers take only with Secure and Path=/
        // and no Domain.
        let secure = set_cookie(Some("tok".into()), true).unwrap();
        let secure = secure.to_str().unwrap();
        assert!(secure.starts_with("__Host-chat_agent=tok"), "{secure}");
        assert!(secure.contains("Secure") && secure.contains("Path=/"), "{secure}");
        assert!(!secure.contains("Domain"), "{secure}");
        let cleared = set_cookie(None, false).unwrap();
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"), "{cleared:?}");
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; chat_agent=abc"));
        headers.append(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(token_in(&headers, false).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("chat_agent=; x=y"));
        assert_eq!(token_in(&headers, false), None);
        assert_eq!(token_in(&HeaderMap::new(), false), None);
    }

    /// Issue 19: over HTTPS only the __Host- cookie counts (a sibling subdomain can set a
    /// plain one for the whole domain: a session of the attacker's, fixed on the agent).
    #[test]
    fn over_https_only_the_host_prefixed_cookie_counts() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("chat_agent=tossed"));
        assert_eq!(token_in(&headers, true), None);
        headers.append(header::COOKIE, HeaderValue::from_static("__Host-chat_agent=mine"));
        assert_eq!(token_in(&headers, true).as_deref(), Some("mine"));
        assert_eq!(token_in(&headers, false).as_deref(), Some("mine"), "trusted over HTTP too");
    }

    /// A same-origin long-poll sends no `Origin`: its `Referer` (the page's own, by the
    /// page's referrer policy) still says HTTPS, where a plain cookie (a sibling
    /// subdomain's) must not log it in, even behind a TLS proxy that is not trusted.
    #[test]
    fn a_polling_handshake_from_an_https_page_takes_only_the_host_prefixed_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("chat.example.com"));
        headers.insert(header::REFERER, HeaderValue::from_static("https://chat.example.com/"));
        headers.insert(header::COOKIE, HeaderValue::from_static("chat_agent=tossed"));
        assert_eq!(socket_token(&headers, false), None, "a tossed plain cookie");
        headers.append(header::COOKIE, HeaderValue::from_static("__Host-chat_agent=mine"));
        assert_eq!(socket_token(&headers, false).as_deref(), Some("mine"));
        // Over plain HTTP (a page served so), the plain cookie is the one there is.
        headers.insert(header::REFERER, HeaderValue::from_static("http://chat.example.com/"));
        headers.insert(header::COOKIE, HeaderValue::from_static("chat_agent=plain"));
        assert_eq!(socket_token(&headers, false).as_deref(), Some("plain"));
        // Asked for by another site's page (an image, say): no session, whatever it sends.
        headers.insert(header::REFERER, HeaderValue::from_static("https://shop.example.com/x?a=1"));
        assert_eq!(socket_token(&headers, false), None);
        headers.insert(
            header::REFERER,
            HeaderValue::from_static("https://chat.example.com.evil.test/"),
        );
        assert_eq!(socket_token(&headers, false), None);
    }

    /// Issue 19: a socket from a listed widget host (a sibling subdomain, to which the
    /// browser sends the cookie) gets no agent session; the chat's own pages do.
    #[test]
    fn only_the_chats_own_pages_log_a_socket_in_with_the_cookie() {
        let handshake = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("chat.example.com"));
            headers.insert(header::COOKIE, HeaderValue::from_static("__Host-chat_agent=tok"));
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            headers
        };
        let token = |origin| socket_token(&handshake(origin), false);
        assert_eq!(token(Some("https://chat.example.com")).as_deref(), Some("tok"));
        assert_eq!(token(None).as_deref(), Some("tok"), "same-origin polling sends no Origin");
        assert_eq!(token(Some("https://shop.example.com")), None, "a widget host");
        assert_eq!(token(Some("https://chat.example.com.evil.test")), None);
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

//! HTTP middleware in front of everything: which sites may open a Socket.IO connection,
//! the security headers of every response, and the handshake copy that keeps idle
//! connections small.
//! Must not: look into Socket.IO packets (socketioxide and the namespace handlers do).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether a request's body is declared JSON. The HTTP endpoints that change state take JSON
/// only: a form or `text/plain` post is what another site's page can send without asking
/// (a JSON one needs the browser's preflight, which this server does not answer).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"))
}

/// A refusal over HTTP: the status that fits the problem, and its text for the person (an
/// [`app::protocol::AgentSession::Refused`], which the pages word in their reader's language).
pub fn refused(problem: app::protocol::Problem) -> Response {
    use app::protocol::{AgentSession, Problem};
    let status = match problem {
        Problem::SetupLinkInvalid | Problem::SetupOnlyLocal => StatusCode::FORBIDDEN,
        Problem::SlowDown(_) | Problem::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
        Problem::WrongPassword | Problem::AgentPasswordMissing => StatusCode::UNAUTHORIZED,
        Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = (
        status,
        axum::Json(AgentSession::Refused {
            error: problem.to_string(),
            problem: Some(problem.clone()),
        }),
    )
        .into_response();
    if let Problem::SlowDown(s) | Problem::TooManyAttempts(s) = problem {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    response
}

/// Where Socket.IO lives.
const SOCKET_PATH: &str = "/socket.io";

/// The sites (besides this one) whose pages may open a Socket.IO connection, as
/// `scheme://host[:port]`.
#[derive(Debug, Clone, Default)]
pub struct Origins(Arc<Vec<String>>);

impl Origins {
    /// The other sites' origins that may connect, as configured (`ALLOWED_ORIGINS`).
    pub fn new(allowed: &[String]) -> Self {
        Self(Arc::new(
            allowed.iter().map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()).collect(),
        ))
    }

    /// Whether a page from `origin` may connect to the server that `host` names: its own
    /// pages always, other sites only when listed.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        own(origin, host) || self.0.contains(&origin.trim().to_ascii_lowercase())
    }
}

/// Whether a page from `origin` is one of the chat's own: the server `host` names.
pub fn own(origin: &str, host: Option<&str>) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    matches!((authority, host), (Some(a), Some(h)) if a == h.trim().to_ascii_lowercase())
}

/// Refuses a Socket.IO request, or an agent login or logout, that a browser sent from
/// another site's page (cross-site WebSocket hijacking: the browser would attach this
/// site's cookies; login forgery). Agent logins and logouts only from the chat's own pages:
/// not even a listed widget host, which on a sibling subdomain the browser would send the
/// agent's cookie. Requests without an `Origin` come from programs, not from pages, and pass.
pub async fn check_origin(State(origins): State<Origins>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // An upload, like a login, comes only from the chat's own pages (the widget's included:
    // it is one of them, framed); so do an admin's changes to the API's tokens and webhooks.
    let console = path.starts_with(app::protocol::API_TOKENS_PATH)
        || path.starts_with(app::protocol::WEBHOOKS_PATH);
    let session = path == app::protocol::SESSION_PATH
        || (path == app::protocol::ATTACHMENTS_PATH && req.method() == axum::http::Method::POST)
        || (console && req.method() != axum::http::Method::GET);
    if path.starts_with(SOCKET_PATH) || session {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
            let allowed = origin.to_str().is_ok_and(|o| {
                if session {
                    own(o, host)
                } else {
                    origins.allows(o, host)
                }
            });
            if !allowed {
                tracing::warn!(origin = ?origin, host = ?host, path, "refused a request from another site");
                return (StatusCode::FORBIDDEN, "This site may not connect to the chat.")
                    .into_response();
            }
        }
    }
    next.run(req).await
}

/// The headers every response carries, unless a route set its own: no MIME sniffing, no
/// framing by other sites, no plugins, and no referrer sent elsewhere. The page's own
/// script policy (with the nonce of its inline scripts) is in its `<head>`.
/// The widget's page (`/widget`) is the one page any site may frame: `widget.js` puts it
/// in an iframe on the host site's pages. It is the customer view only.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let widget = req.uri().path() == app::protocol::WIDGET_PATH;
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let framing = if widget {
        "frame-ancestors *; object-src 'none'; base-uri 'self'"
    } else {
        "frame-ancestors 'self'; object-src 'none'; base-uri 'self'"
    };
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(framing));
    if !widget {
        headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("SAMEORIGIN"));
    }
    let defaults: [(HeaderName, &str); 2] =
        [(header::X_CONTENT_TYPE_OPTIONS, "nosniff"), (header::REFERRER_POLICY, "same-origin")];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    // A page is this browser's alone: which bundle it loads depends on its cookies
    // (app::components, `shell`), and its scripts' nonce is new each time. No shared cache
    // keeps it, and a browser asks again.
    let page = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if page {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("private, no-cache"));
        headers.append(header::VARY, HeaderValue::from_static("cookie"));
    }
    response
}

/// Gives a Socket.IO request its own copy of its URI and headers.
///
/// hyper parses them as slices of the connection's read buffer (16 KiB), and
/// socketioxide keeps the handshake request for as long as the connection lives: a slice
/// kept alive keeps the whole buffer alive. Found with heaptrack on 2,000 idle
/// connections: 16 KiB of the ~30 KiB each one cost.
pub async fn unshare_head(mut req: Request) -> Request {
    use axum::http::{HeaderMap, Uri};
    if !req.uri().path().starts_with(SOCKET_PATH) {
        return req;
    }
    if let Ok(uri) = req.uri().to_string().parse::<Uri>() {
        // axum's router keeps a copy of the URI as it came, too.
        req.extensions_mut().insert(axum::extract::OriginalUri(uri.clone()));
        *req.uri_mut() = uri;
    }
    let shared = std::mem::take(req.headers_mut());
    let mut owned = HeaderMap::with_capacity(shared.len());
    for (name, value) in &shared {
        // `from_bytes` copies; a value it refuses (hyper accepted it) is kept as it was.
        owned.append(
            name.clone(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone()),
        );
    }
    *req.headers_mut() = owned;
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_this_site_and_listed_sites_may_connect() {
        let none = Origins::new(&[]);
        assert!(none.allows("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(none.allows("https://Chat.Example.com", Some("chat.example.com")));
        assert!(!none.allows("https://evil.example", Some("chat.example.com")));
        assert!(
            !none.allows("http://127.0.0.1:3001", Some("127.0.0.1:3000")),
            "another port is another site"
        );
        assert!(!none.allows("null", Some("chat.example.com")));
        assert!(!none.allows("https://chat.example.com", None));

        let listed = Origins::new(&["https://shop.example.com/".into()]);
        assert!(listed.allows("https://shop.example.com", Some("chat.example.com")));
        assert!(
            !listed.allows("http://shop.example.com", Some("chat.example.com")),
            "the scheme counts"
        );
        assert!(!listed.allows("https://shop.example.com.evil", Some("chat.example.com")));
    }
}

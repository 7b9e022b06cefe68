//! `GET /metrics`: what the server counts ([`crate::metrics`]), in Prometheus's text format,
//! for whoever holds the token an operator configured (`METRICS_TOKEN`, sent as
//! `Authorization: Bearer`). Without a configured token the route does not exist (404); a
//! request without the right token gets 401.
//! Must not: record anything (the metrics are recorded where things happen).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use sha2::{Digest, Sha256};

use super::shared::Shared;
use crate::clock::now_ms;
use crate::metrics;

/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";

/// Prometheus's text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Scrape {
    shared: Arc<Shared>,
    /// The process's recorder; none if another was installed first.
    handle: Option<&'static PrometheusHandle>,
    /// The token's SHA-256: a guess is compared with it in time that does not depend on
    /// how much of the token it got right.
    token: [u8; 32],
}

/// The route, when `token` is set (and not empty); no route otherwise.
pub(super) fn routes(shared: Arc<Shared>, token: Option<&str>) -> Router {
    let Some(token) = token.filter(|t| !t.is_empty()) else { return Router::new() };
    let handle = metrics::install();
    let scrape =
        Arc::new(Scrape { shared, handle, token: Sha256::digest(token.as_bytes()).into() });
    Router::new().route(METRICS_PATH, get(serve)).with_state(scrape)
}

async fn serve(State(scrape): State<Arc<Scrape>>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| <[u8; 32]>::from(Sha256::digest(t.trim().as_bytes())));
    if presented != Some(scrape.token) {
        let mut refused = StatusCode::UNAUTHORIZED.into_response();
        refused.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return refused;
    }
    let Some(handle) = scrape.handle else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are not recorded in this process\n")
            .into_response();
    };
    let census = scrape.shared.desk.live().census();
    let page = metrics::render(handle, &census, now_ms());
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], page).into_response()
}

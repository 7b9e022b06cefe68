//! The edges of the server: HTTP routes and the Socket.IO namespace.
//!
//! Owns: turning HTTP requests and Socket.IO events into hub commands (after the checks
//! that need I/O: agent passwords, reserved names), and sending what the hub returns.
//! Must not: decide chat rules (the hub does) or talk SQL (the store does).

mod pipeline;
mod registrar;
mod socket;
pub mod turnstile;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use socketioxide::SocketIo;
use tower_http::trace::TraceLayer;

use crate::model::ConversationMeta;
use crate::store::Store;
use crate::Settings;
use app::{shell, App};

pub use socket::Shared;

/// Bytes of each connection's websocket read buffer (socketioxide's default is 4096;
/// measured with `bench idle`: 1024 saves about 3 KiB per idle connection).
const WS_READ_BUFFER: usize = 1024;

/// The whole HTTP surface: pages, assets, `/healthz` and Socket.IO at `/socket.io/`.
/// Returns the [`SocketIo`] handle too, so that shutdown can close the sockets.
/// `queue` is what waits for an agent when the server starts.

pub fn router(
    leptos_options: LeptosOptions,
    store: Arc<dyn Store>,
    settings: Settings,
    queue: Vec<ConversationMeta>,
) -> (Router, SocketIo) {
    let shared = Shared::new(store, &settings, queue);
    // Each connection's websocket read buffer is allocated for as long as it is open:
    // chat frames are small, and a bigger frame still arrives (in several reads).
    let (layer, io) = SocketIo::builder()
        .ws_read_buffer_size(WS_READ_BUFFER)
        .with_state(shared)
        .build_layer();
    socket::register(&io);

    let routes = generate_route_list(App);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .leptos_routes(&leptos_options, routes, {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(leptos_options)
        .layer(layer)
        .layer(axum::middleware::map_request(unshare_head))
        .layer(TraceLayer::new_for_http());
    (router, io)
}

/// Gives a Socket.IO request its own copy of its URI and headers.
///
/// hyper parses them as slices of the connection's read buffer (16 KiB), and
/// socketioxide keeps the handshake request for as long as the connection lives: a slice
/// kept alive keeps the whole buffer alive. Found with heaptrack on 2,000 idle
/// connections: 16 KiB of the ~30 KiB each one cost.
async fn unshare_head(mut req: axum::extract::Request) -> axum::extract::Request {
    use axum::http::{HeaderMap, HeaderValue, Uri};
    if !req.uri().path().starts_with("/socket.io") {
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
        owned.append(name.clone(), HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone()));
    }
    *req.headers_mut() = owned;
    req
}

/// Liveness: the process serves HTTP.
async fn healthz() -> &'static str {
    "ok"
}

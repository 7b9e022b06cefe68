//! The edges of the server: HTTP routes and the Socket.IO namespace.
//!
//! Owns: turning HTTP requests and Socket.IO events into hub commands (after the checks
//! that need I/O: agent passwords, reserved names), and sending what the hub returns.
//! Must not: decide chat rules (the hub does) or talk SQL (the store does).
//!
//! The files, top-down (each uses only those below it):
//! - [`socket`]: the Socket.IO registration table and one thin handler per event;
//!   [`cookie`]: agent sessions over HTTP (`/session`); [`setup`]: the first run's link,
//!   which creates the first admin; [`http`]: origins, headers, and HTTP refusals.
//! - [`login`]: who a connection is; [`admin`]: the team and canned replies; [`search`]:
//!   an agent's search; [`conversations`]: the pages of an agent's console after the
//!   login's; [`profile`]: who a conversation's customer is; [`rating`]: customers' ratings
//!   of resolved conversations, and the desk's settings; [`transcript`]: a conversation
//!   downloaded as a file; [`reports`]: admins' reports; [`api`]: the REST API, for
//!   programs with a token; [`tokens`]: the tokens, as admins manage them; [`webhooks`]:
//!   the webhooks, as admins manage them; [`requester`]: who sent an HTTP request, and whether they see a
//!   conversation; [`scrape`]: `/metrics`, for the operator's token; [`files`]: uploads,
//!   downloads and the attachments a message names; [`assets`]: the site's files (on disk,
//!   or built into the `chat` binary) sent compressed.
//! - [`shared`]: the state the handlers share, put together from the parts below.
//! - [`pipeline`]: stores and delivers messages in batches, and sends logins' catch-up;
//!   [`registrar`]: creates new customers in batches; [`follower`]: applies the cluster's
//!   stream; [`sweeper`]: forgets idle conversations and anonymous customers who never wrote;
//!   [`courier`]: sends webhooks' deliveries, and tries failed ones again.
//! - [`desk`]: the live state, the cluster and the store, and applying items to them;
//!   [`gate`]: addresses and the limits per address; [`drain`]: the graceful shutdown's
//!   count; [`payload`]: reading an event's request.
//! - [`live`]: the hub with this node's sockets; [`cluster`]: the link to Redis;
//!   [`turnstile`]: each connection's events served in order, and its rate; [`first_run`]:
//!   the setup link's token and who may use it; [`in_place`]:
//!   the message handler run by the socket's reader unless it has to wait.

mod admin;
mod api;
mod assets;
mod cluster;
mod conversations;
mod cookie;
mod courier;
mod desk;
mod drain;
mod files;
mod first_run;
mod follower;
mod gate;
mod http;
mod in_place;
mod live;
mod login;
mod payload;
mod pipeline;
mod profile;
mod rating;
mod registrar;
mod reports;
mod requester;
mod scrape;
mod search;
mod setup;
mod shared;
mod socket;
mod sweeper;
mod tokens;
mod transcript;
pub mod turnstile;
mod webhooks;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use socketioxide::{ParserConfig, SocketIo};
use tower_http::trace::TraceLayer;

use crate::model::ConversationMeta;
use crate::store::Store;
use crate::Settings;
use app::protocol::{SETUP_PATH, WIDGET_PATH};
use app::shell;

pub use assets::Site;
pub use cluster::{Cluster, ClusterError, SNAPSHOT_EVERY};
pub use setup::offer as offer_setup;
pub use shared::Shared;

/// Bytes of each connection's websocket read buffer (socketioxide's default is 4096;
/// measured with `bench idle`: 1024 saves about 3 KiB per idle connection).
const WS_READ_BUFFER: usize = 1024;

/// The name of the customers' bundle among the site's files (`pkg/customer.js`,
/// `pkg/customer.wasm`: `bundle/build.rs` puts it there).
const CUSTOMER_BUNDLE: &str = "customer";

use app::protocol::wire::MAX_PAYLOAD;

/// The whole HTTP surface: pages, assets, `/healthz`, agent sessions at `/session`,
/// Socket.IO at `/socket.io/` and, with a token set, `/metrics`.
/// Returns the [`SocketIo`] handle and the shared state too, so that shutdown can drain
/// the pipeline and then close the sockets.
/// `queue` is what waits for an agent when the server starts.
pub fn router(
    leptos_options: LeptosOptions,
    store: Arc<dyn Store>,
    settings: Settings,
    queue: Vec<ConversationMeta>,
    cluster: Option<(Arc<Cluster>, Option<crate::hub::Hub>)>,
) -> (Router, SocketIo, Arc<Shared>) {
    let origins = http::Origins::new(&settings.allowed_origins);
    let shared = Shared::new(store, &settings, queue, cluster);
    let sessions = cookie::routes(shared.clone());
    let files = files::routes(shared.clone());
    let transcripts = transcript::routes(shared.clone());
    let reports = reports::routes(shared.clone());
    let api = api::routes(shared.clone());
    let tokens = tokens::routes(shared.clone());
    let webhooks = webhooks::routes(shared.clone());
    let scrape = scrape::routes(shared.clone(), settings.metrics_token.as_deref());
    let setup = setup::routes(shared.clone());
    // Each connection's websocket read buffer is allocated for as long as it is open:
    // chat frames are small, and a bigger frame still arrives (in several reads).
    let (layer, io) = SocketIo::builder()
        .ws_read_buffer_size(WS_READ_BUFFER)
        // Nothing this chat sends is larger than a page of history: a bigger frame or
        // polling payload closes its connection before it is buffered whole.
        .max_payload(MAX_PAYLOAD as u64)
        .ws_max_message_size(MAX_PAYLOAD)
        .ws_max_frame_size(MAX_PAYLOAD)
        // The protocol has no binary attachments: a packet that announces any closes
        // its connection (the attachment floods of socket.io-parser's advisories).
        .with_parser(
            ParserConfig::common().max_incoming_binaries(0).max_incoming_binary_buf_size(0),
        )
        .ping_interval(settings.ping_interval)
        .ping_timeout(settings.ping_timeout)
        .with_state(shared.clone())
        .build_layer();
    socket::register(&io);

    // The site's files: built into the binary, or (`LEPTOS_SITE_ROOT`) on disk. Built in,
    // the pages load the app under its versioned name (cached as immutable); on disk the
    // files change under `make watch`, and keep their plain names.
    // The customers' pages load their own, smaller bundle, where the site has one
    // (app::components, `shell`).
    let mut leptos_options = leptos_options;
    let mut customer_bundle = None;
    if let Some(site) = &settings.site {
        if let Some(version) = site.versioned(&leptos_options.output_name) {
            leptos_options.output_name = version.into();
        }
        customer_bundle =
            site.versioned(CUSTOMER_BUNDLE).map(|name| app::CustomerBundle(name.into()));
    }
    let assets = match &settings.site {
        Some(site) => assets::Assets::built_in(site.clone()),
        None => assets::Assets::on_disk(&*leptos_options.site_root),
    };
    let with_bundle = move || {
        if let Some(bundle) = customer_bundle.clone() {
            leptos::prelude::provide_context(bundle);
        }
    };
    // The app's pages: the customers' (`/`), the widget's and the first run's (the app
    // tells them apart by the path; any other address it is not a file for gets the
    // customers' page, below).
    let page = {
        let options = leptos_options.clone();
        leptos_axum::render_app_to_stream_with_context(with_bundle, move || shell(options.clone()))
    };
    // Rendering spawns on Leptos's executor: tokio's. Already set when another server was
    // made in this process (the tests make many), which is as good.
    if any_spawner::Executor::init_tokio().is_err() {
        tracing::trace!("Leptos's executor was set already");
    }
    let mut router = Router::new().route("/healthz", get(healthz));
    for path in ["/", WIDGET_PATH, SETUP_PATH] {
        router = router.route(path, get(page.clone()));
    }
    // Whatever no route takes: a file of the site on disk, or else the customers' page
    // (with the site on disk, answered 404). With the site built in, nothing is read from
    // disk at all (an empty or stray `site_root` would otherwise serve the working
    // directory: the database with it).
    let router = if settings.site.is_some() {
        router.fallback(page)
    } else {
        router.fallback(leptos_axum::file_and_error_handler(shell))
    };
    let router = router
        .with_state(leptos_options)
        .merge(sessions)
        .merge(files)
        .merge(transcripts)
        .merge(reports)
        .merge(api)
        .merge(tokens)
        .merge(webhooks)
        .merge(scrape)
        .merge(setup)
        .layer(layer)
        .layer(axum::middleware::from_fn_with_state(assets, assets::serve))
        .layer(axum::middleware::map_request(http::unshare_head))
        .layer(axum::middleware::from_fn_with_state(origins, http::check_origin))
        .layer(axum::middleware::from_fn(http::security_headers))
        .layer(TraceLayer::new_for_http());
    (router, io, shared)
}

/// Catches up with the cluster's stream from `from`, starts following it, and tells the
/// cluster about the conversations waiting in storage (a hub ignores those it knows).
pub async fn join_cluster(
    shared: &Arc<Shared>,
    from: String,
    queue: Vec<ConversationMeta>,
) -> Result<(), ClusterError> {
    let Some(cluster) = shared.desk.cluster().cloned() else { return Ok(()) };
    follower::start(&shared.desk, cluster, from).await?;
    if !queue.is_empty() {
        shared.desk.apply(queue.into_iter().map(live::Item::Learn).collect()).await;
    }
    Ok(())
}

/// Liveness: the process serves HTTP.
async fn healthz() -> &'static str {
    "ok"
}

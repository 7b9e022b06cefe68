//! How Engine.IO packets travel between this page and the server: a websocket, or, where
//! none gets through (a proxy or firewall that blocks them), HTTP long-polling, upgraded
//! to a websocket as soon as one does.
//!
//! Owns: opening one connection's [`Link`] (a websocket first; long-polling when the
//! websocket fails before the server's first packet and polling reaches the server), the
//! polling requests (one long-poll `GET` at a time; writes batched, one `POST` at a time,
//! in order), the Engine.IO upgrade (probe, pause polling, switch), and what this page has
//! learnt about websockets (so that a reconnect does not wait for one that is blocked).
//! Must not: read packets (the session does) or wait between connections (`client/mod.rs`).
//!
//! Why our own: the npm `socket.io-client` does this in JS, and no Rust client compiles
//! to wasm32 (see `client/mod.rs`); the protocol's pieces are in `protocol::wire`.

use std::cell::Cell;
use std::rc::Rc;

use futures::channel::mpsc;
use futures::future::{self, Either};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::protocol::wire::{self, EnginePacket, MAX_PAYLOAD};
use crate::state::Transport;

/// How long a new websocket may take to bring the server's first packet before the
/// connection goes by long-polling instead (a proxy that holds websockets open unanswered).
const WEBSOCKET_OPEN_MS: u32 = 5_000;

/// How long after a polling connection opens it tries the first upgrade, and how long the
/// websocket's probe may take.
const PROBE_AFTER_MS: f64 = 1_000.0;
const PROBE_TIMEOUT_MS: u32 = 10_000;

/// After a failed probe, the next waits this long: a blocked websocket stays blocked.
const PROBE_AGAIN_MS: f64 = 5.0 * 60_000.0;

/// A polling request's body stays under this, so that a batch never meets the server's
/// limit ([`MAX_PAYLOAD`]); a packet bigger on its own goes alone.
const BATCH_BYTES: usize = MAX_PAYLOAD / 4;

/// Answers of a poll with nothing but "noop" in a row, outside an upgrade of ours, after
/// which the session counts as lost: the server is upgrading it to a websocket that is
/// not ours (or failed to), and it would answer every poll the same way.
const NOOPS_LOST_AFTER: u32 = 3;

/// What this page knows about websockets to the server.
#[derive(Clone, Copy)]
enum Websockets {
    /// Working, or not tried yet: each connection starts with one.
    Open,
    /// Blocked the last time: connections go by polling, and try an upgrade from `at` on.
    Blocked { probe_at: f64 },
}

thread_local! {
    static WEBSOCKETS: Cell<Websockets> = const { Cell::new(Websockets::Open) };
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// What the server sent, packet by packet; an `Err` (why, for the log) when the link
/// failed. The link is over once one came.
pub(crate) type Incoming = mpsc::UnboundedReceiver<Result<String, String>>;

/// One connection's way to the server. Dropping it (or [`Link::close`]) ends the
/// connection, after the packets already sent.
pub(crate) struct Link {
    out: mpsc::UnboundedSender<String>,
}

impl Link {
    /// Sends one packet (in order after those before it).
    pub(crate) fn send(&self, packet: String) -> Result<(), String> {
        self.out.unbounded_send(packet).map_err(|_| "the connection has ended".to_owned())
    }

    /// Ends the connection once what was sent has gone.
    pub(crate) fn close(&self) {
        self.out.close_channel();
    }
}

/// The websocket URL of the Socket.IO endpoint on this page's host; with `sid`, the
/// upgrade of that polling session.
fn websocket_url(sid: Option<&str>) -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).as_deref() == Some("https:");
    let scheme = if secure { "wss" } else { "ws" };
    let sid = sid.map(|s| format!("&sid={s}")).unwrap_or_default();
    format!("{scheme}://{host}/socket.io/?EIO=4&transport=websocket{sid}")
}

/// The long-polling URL (relative to this page's origin); with `sid`, that session's.
fn polling_url(sid: Option<&str>) -> String {
    let sid = sid.map(|s| format!("&sid={s}")).unwrap_or_default();
    // A fresh `t` on every request: no cache on the way answers a poll with an old one.
    let t = format!("{:x}", (js_sys::Math::random() * 4_294_967_296.0) as u64);
    format!("/socket.io/?EIO=4&transport=polling{sid}&t={t}")
}

/// A websocket to `url`, with the web_sys handle kept to close it (a split gloo socket
/// cannot be closed from its halves) and to see whether it ever opened.
fn new_websocket(url: &str) -> Result<(web_sys::WebSocket, WebSocket), String> {
    let raw = web_sys::WebSocket::new(url).map_err(|e| format!("{e:?}"))?;
    let ws = WebSocket::try_from(raw.clone()).map_err(|e| e.to_string())?;
    Ok((raw, ws))
}

/// Closes a websocket; it is being left either way.
fn close_websocket(raw: &web_sys::WebSocket) {
    if let Err(e) = raw.close() {
        leptos::logging::warn!("could not close a websocket: {e:?}");
    }
}

/// Opens the next connection: a websocket unless websockets were blocked last time, and
/// long-polling when the websocket brings nothing. `transport` shows which is in use.
pub(crate) async fn open(
    transport: RwSignal<Option<Transport>>,
) -> Result<(Link, Incoming), String> {
    transport.set(None);
    if matches!(WEBSOCKETS.get(), Websockets::Open) {
        match first_websocket_packet().await {
            Ok((raw, ws, first)) => {
                transport.set(Some(Transport::WebSocket));
                return Ok(over_websocket(raw, ws, Some(first)));
            }
            Err(e) => leptos::logging::warn!("no websocket ({e}); trying long-polling"),
        }
        let link = over_polling(transport).await?;
        // Polling got through where the websocket did not: polling from now on, with an
        // upgrade tried soon (the websocket may have failed for a passing reason).
        WEBSOCKETS.set(Websockets::Blocked { probe_at: now_ms() + PROBE_AFTER_MS });
        return Ok(link);
    }
    over_polling(transport).await
}

/// A new websocket and the server's first packet on it.
async fn first_websocket_packet() -> Result<(web_sys::WebSocket, WebSocket, String), String> {
    let (raw, mut ws) = new_websocket(&websocket_url(None))?;
    let first = future::select(ws.next(), TimeoutFuture::new(WEBSOCKET_OPEN_MS)).await;
    match first {
        Either::Left((Some(Ok(Message::Text(text))), _)) => Ok((raw, ws, text)),
        Either::Left((other, _)) => {
            close_websocket(&raw);
            Err(match other {
                Some(Err(e)) => e.to_string(),
                Some(Ok(Message::Bytes(_))) => "a binary first frame".to_owned(),
                _ => "closed before the first packet".to_owned(),
            })
        }
        Either::Right(_) => {
            close_websocket(&raw);
            Err(format!("nothing in {WEBSOCKET_OPEN_MS} ms"))
        }
    }
}

/// A link over an open websocket (`first`: a packet already read from it).
fn over_websocket(
    raw: web_sys::WebSocket,
    ws: WebSocket,
    first: Option<String>,
) -> (Link, Incoming) {
    let (in_tx, incoming) = mpsc::unbounded();
    let (out, out_rx) = mpsc::unbounded();
    if let Some(first) = first {
        // The receiver is right here: this cannot fail.
        let _ = in_tx.unbounded_send(Ok(first));
    }
    let (sink, stream) = ws.split();
    spawn_local(write_websocket(raw, sink, out_rx, in_tx.clone()));
    spawn_local(read_websocket(stream, in_tx));
    (Link { out }, incoming)
}

/// Forwards what the websocket brings until it ends (then says so).
async fn read_websocket(
    mut stream: SplitStream<WebSocket>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    let end = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                if in_tx.unbounded_send(Ok(text)).is_err() {
                    return;
                }
            }
            Some(Ok(Message::Bytes(_))) => {
                leptos::logging::warn!(
                    "ignoring a binary frame: this client expects text frames only"
                );
            }
            Some(Err(e)) => break e.to_string(),
            None => break "the websocket closed".to_owned(),
        }
    };
    // The session may be gone already; then nobody needs to hear it.
    let _ = in_tx.unbounded_send(Err(end));
}

/// Writes the link's packets to the websocket, in order; closes it when the link ends.
async fn write_websocket(
    raw: web_sys::WebSocket,
    mut sink: SplitSink<WebSocket, Message>,
    mut out_rx: mpsc::UnboundedReceiver<String>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    while let Some(packet) = out_rx.next().await {
        if let Err(e) = sink.send(Message::Text(packet)).await {
            let _ = in_tx.unbounded_send(Err(format!("send failed: {e}")));
            break;
        }
    }
    close_websocket(&raw);
}

// ---- Long-polling ----

/// Where an upgrade of a polling link stands (shared by its tasks).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    /// Polling; no probe under way.
    Polling,
    /// A websocket is being probed: the server answers polls with "noop" meanwhile.
    Probing,
    /// The websocket carries the session: polling stops.
    Done,
}

/// What the tasks of one polling link share.
struct Polling {
    sid: String,
    upgrade: Cell<Upgrade>,
    /// The link was dropped: every task stops.
    ended: Cell<bool>,
    /// Aborts the poll under way when the link ends.
    abort: Option<web_sys::AbortController>,
}

/// The writing half of a websocket that answered the probe, handed from the prober to
/// the writer (the reading half goes to the poller).
struct Upgraded {
    raw: web_sys::WebSocket,
    sink: SplitSink<WebSocket, Message>,
}

/// Opens a long-polling session (its handshake is the link's first packet) and starts
/// its poller, writer and upgrade prober.
async fn over_polling(transport: RwSignal<Option<Transport>>) -> Result<(Link, Incoming), String> {
    let body = http_text(gloo_net::http::Request::get(&polling_url(None)), None).await?;
    let open = wire::packets(&body).next().unwrap_or_default().to_owned();
    let sid = match EnginePacket::decode(&open) {
        Ok(EnginePacket::Open(handshake)) => handshake.sid,
        _ => return Err(format!("the polling handshake was not an open packet: {body}")),
    };
    let polling = Rc::new(Polling {
        sid,
        upgrade: Cell::new(Upgrade::Polling),
        ended: Cell::new(false),
        abort: web_sys::AbortController::new().ok(),
    });
    let (in_tx, incoming) = mpsc::unbounded();
    let (out, out_rx) = mpsc::unbounded();
    let (upgraded_tx, upgraded_rx) = mpsc::unbounded::<Upgraded>();
    let (stream_tx, stream_rx) = futures::channel::oneshot::channel();
    let _ = in_tx.unbounded_send(Ok(open));
    transport.set(Some(Transport::Polling));
    spawn_local(poll(polling.clone(), in_tx.clone(), stream_rx));
    spawn_local(write_polling(polling.clone(), out_rx, upgraded_rx, in_tx.clone()));
    spawn_local(probe(polling, transport, upgraded_tx, stream_tx, in_tx));
    Ok((Link { out }, incoming))
}

/// Sends a request and returns its body; anything but 200 is an error.
async fn http_text(
    request: gloo_net::http::RequestBuilder,
    abort: Option<&web_sys::AbortSignal>,
) -> Result<String, String> {
    let response = request
        .cache(web_sys::RequestCache::NoStore)
        .abort_signal(abort)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.ok() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!("HTTP {status}: {text}"));
    }
    response.text().await.map_err(|e| e.to_string())
}

/// Polls for the server's packets, one request at a time, until the link ends or is
/// upgraded; then reads the websocket instead (so that nothing is reordered: its packets
/// wait until the last poll's are through).
async fn poll(
    polling: Rc<Polling>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
    upgraded: futures::channel::oneshot::Receiver<SplitStream<WebSocket>>,
) {
    let signal = polling.abort.as_ref().map(|a| a.signal());
    let mut noops = 0;
    loop {
        if polling.ended.get() || in_tx.is_closed() {
            return;
        }
        if polling.upgrade.get() == Upgrade::Done {
            break;
        }
        let url = polling_url(Some(&polling.sid));
        let body = match http_text(gloo_net::http::Request::get(&url), signal.as_ref()).await {
            Ok(body) if body.is_empty() => Err("the server ended the session".to_owned()),
            other => other,
        };
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                if !polling.ended.get() {
                    let _ = in_tx.unbounded_send(Err(format!("poll failed: {e}")));
                }
                return;
            }
        };
        let mut only_noops = true;
        for packet in wire::packets(&body) {
            if packet == EnginePacket::Noop.encode() {
                continue;
            }
            only_noops = false;
            if in_tx.unbounded_send(Ok(packet.to_owned())).is_err() {
                return;
            }
        }
        if !only_noops {
            noops = 0;
            continue;
        }
        // "noop": the server is switching this session to a websocket. Ours: wait for
        // the probe's outcome. Not ours (or a probe that failed): the session is lost.
        while polling.upgrade.get() == Upgrade::Probing && !polling.ended.get() {
            TimeoutFuture::new(50).await;
        }
        if polling.upgrade.get() == Upgrade::Polling {
            noops += 1;
            if noops >= NOOPS_LOST_AFTER {
                let _ = in_tx.unbounded_send(Err("the server is upgrading the session".into()));
                return;
            }
            TimeoutFuture::new(200).await;
        }
    }
    match upgraded.await {
        Ok(stream) => read_websocket(stream, in_tx).await,
        Err(_) => {
            let _ = in_tx.unbounded_send(Err("the upgrade was lost".to_owned()));
        }
    }
}

/// Writes the link's packets by `POST`, batched, one request at a time and in order;
/// switches to the websocket once the probe has succeeded (between two requests, so that
/// nothing sent by polling arrives after what the websocket carries).
async fn write_polling(
    polling: Rc<Polling>,
    mut out_rx: mpsc::UnboundedReceiver<String>,
    mut upgraded: mpsc::UnboundedReceiver<Upgraded>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    let mut held: Option<String> = None;
    loop {
        let first = match held.take() {
            Some(packet) => Some(packet),
            None => match future::select(out_rx.next(), upgraded.next()).await {
                Either::Left((packet, _)) => packet,
                Either::Right((Some(upgrade), _)) => {
                    return switch_writer(upgrade, out_rx, in_tx).await;
                }
                // The prober has given up for good: only the link's own packets are left.
                Either::Right((None, _)) => out_rx.next().await,
            },
        };
        let Some(first) = first else { break };
        let mut size = first.len();
        let mut batch = vec![first];
        while let Ok(packet) = out_rx.try_recv() {
            if size + packet.len() + 1 > BATCH_BYTES {
                held = Some(packet);
                break;
            }
            size += packet.len() + 1;
            batch.push(packet);
        }
        let request = gloo_net::http::Request::post(&polling_url(Some(&polling.sid)))
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(wire::payload(&batch));
        let sent = match request {
            Ok(request) => match request.send().await {
                Ok(response) if response.ok() => Ok(()),
                Ok(response) => Err(format!("HTTP {}", response.status())),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            let _ = in_tx.unbounded_send(Err(format!("send failed: {e}")));
            break;
        }
    }
    end_polling(&polling).await;
}

/// Ends a polling session: the other tasks stop, the poll under way is aborted, and the
/// server hears "close" (so that the person is offline at once, not after a timeout).
async fn end_polling(polling: &Polling) {
    polling.ended.set(true);
    if let Some(abort) = &polling.abort {
        abort.abort();
    }
    if polling.upgrade.get() == Upgrade::Done {
        return;
    }
    let close = gloo_net::http::Request::post(&polling_url(Some(&polling.sid)))
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(EnginePacket::Close.encode());
    if let Ok(request) = close {
        // Best effort: a server that is gone has closed the session anyway.
        if let Err(e) = request.send().await {
            leptos::logging::warn!("could not close the polling session: {e}");
        }
    }
}

/// The upgrade's last step: "upgrade" on the websocket, which carries every packet after.
async fn switch_writer(
    upgrade: Upgraded,
    out_rx: mpsc::UnboundedReceiver<String>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    let Upgraded { raw, mut sink, .. } = upgrade;
    if let Err(e) = sink.send(Message::Text(wire::UPGRADE.to_owned())).await {
        let _ = in_tx.unbounded_send(Err(format!("upgrade failed: {e}")));
        close_websocket(&raw);
        return;
    }
    write_websocket(raw, sink, out_rx, in_tx).await;
}

/// Tries the upgrade to a websocket when this page may (soon after websockets failed, then
/// every few minutes), as long as the link lasts: probes a websocket for the session and,
/// when the server answers, hands it to the writer and the poller.
async fn probe(
    polling: Rc<Polling>,
    transport: RwSignal<Option<Transport>>,
    upgraded: mpsc::UnboundedSender<Upgraded>,
    stream_tx: futures::channel::oneshot::Sender<SplitStream<WebSocket>>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    loop {
        // Wait for the page's next turn to try, while the link lasts.
        loop {
            if polling.ended.get() || in_tx.is_closed() {
                return;
            }
            let wait = match WEBSOCKETS.get() {
                Websockets::Blocked { probe_at } => probe_at - now_ms(),
                Websockets::Open => 0.0,
            };
            if wait <= 0.0 {
                break;
            }
            TimeoutFuture::new(wait.min(1_000.0) as u32).await;
        }
        polling.upgrade.set(Upgrade::Probing);
        match probe_websocket(&polling.sid).await {
            Ok((raw, ws)) if !polling.ended.get() => {
                let (sink, stream) = ws.split();
                polling.upgrade.set(Upgrade::Done);
                WEBSOCKETS.set(Websockets::Open);
                transport.set(Some(Transport::WebSocket));
                // The poller reads the websocket once its last poll is through; the
                // writer says "upgrade" once its last request is.
                // Either may have ended with the link; then the websocket goes with them.
                let _ = stream_tx.send(stream);
                let _ = upgraded.unbounded_send(Upgraded { raw, sink });
                return;
            }
            Ok((raw, _)) => {
                close_websocket(&raw);
                return;
            }
            Err(e) => {
                leptos::logging::warn!("no upgrade to a websocket ({e}); polling on");
                WEBSOCKETS.set(Websockets::Blocked { probe_at: now_ms() + PROBE_AGAIN_MS });
                polling.upgrade.set(Upgrade::Polling);
            }
        }
    }
}

/// A websocket for the polling session `sid` that has answered the probe.
async fn probe_websocket(sid: &str) -> Result<(web_sys::WebSocket, WebSocket), String> {
    let (raw, mut ws) = new_websocket(&websocket_url(Some(sid)))?;
    let answered = async {
        ws.send(Message::Text(wire::PROBE.to_owned())).await.map_err(|e| e.to_string())?;
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text == wire::PROBE_ANSWER => Ok(()),
            Some(Ok(other)) => Err(format!("unexpected answer to the probe: {other:?}")),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("closed during the probe".to_owned()),
        }
    };
    let outcome =
        match future::select(Box::pin(answered), TimeoutFuture::new(PROBE_TIMEOUT_MS)).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(_) => Err(format!("no answer in {PROBE_TIMEOUT_MS} ms")),
        };
    match outcome {
        Ok(()) => Ok((raw, ws)),
        Err(e) => {
            close_websocket(&raw);
            Err(e)
        }
    }
}

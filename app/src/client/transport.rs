//! How Engine.IO packets travel between this page and the server: a websocket, or, where
//! none gets through (a proxy or firewall that blocks them), HTTP long-polling, upgraded
//! to a websocket as soon as one does.
//!
//! Owns: opening one connection's [`Link`] (a websocket first; long-polling when the
//! websocket fails before the server's first packet and polling reaches the server), the
//! polling requests (one long-poll `GET` at a time; writes batched, one `POST` at a time,
//! in order; each with a time limit, and nothing left running once the link is gone), the
//! Engine.IO upgrade (probe, wait for the poll under way, switch), and what this page has
//! learnt about websockets (so that a reconnect does not wait for one that is blocked).
//! Must not: read packets (the session does) or wait between connections (`client/mod.rs`).
//!
//! Why our own: the npm `socket.io-client` does this in JS, and no Rust client compiles
//! to wasm32 (see `client/mod.rs`); the protocol's pieces are in `protocol::wire`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::{self, Either};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use gloo_net::http::{Request, RequestBuilder};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::protocol::wire::{self, EnginePacket, MAX_PAYLOAD};
use crate::state::Transport;

/// How long a new websocket may take to bring the server's first packet before the
/// connection goes by long-polling instead (a proxy that holds websockets open unanswered).
const WEBSOCKET_OPEN_MS: u32 = 5_000;

/// The first upgrade is tried this long after websockets failed (they may have failed for
/// a passing reason), and the probe's websocket may take this long to answer.
const PROBE_AFTER_MS: f64 = 1_000.0;
const PROBE_TIMEOUT_MS: u32 = 10_000;

/// After a failed probe, the next waits this long: a blocked websocket stays blocked.
const PROBE_AGAIN_MS: f64 = 5.0 * 60_000.0;

/// An upgrade is tried only once the server has sent nothing by polling for this long:
/// what it holds back for the next poll is lost if the session upgrades meanwhile (see
/// [`poll`]).
const QUIET_MS: f64 = 1_000.0;

/// A polling request's body stays under this, so that a batch never meets the server's
/// limit ([`MAX_PAYLOAD`]); a packet bigger on its own goes alone.
const BATCH_BYTES: usize = MAX_PAYLOAD / 4;

/// How long the polling handshake may take.
const HANDSHAKE_TIMEOUT_MS: u32 = 10_000;

/// How long a `POST` may take (the server answers at once), and the last one, "close".
const POST_TIMEOUT_MS: u32 = 10_000;
const CLOSE_TIMEOUT_MS: u32 = 2_000;

/// Answers of a poll with nothing but "noop" in a row, outside an upgrade of ours, after
/// which the session counts as lost: the server is upgrading it to a websocket that is
/// not ours (or failed to), and it would answer every poll the same way.
const NOOPS_LOST_AFTER: u32 = 3;

/// What this page knows about websockets to the server.
#[derive(Clone, Copy)]
enum Websockets {
    /// Working, or not tried yet: each connection starts with one.
    Open,
    /// Blocked the last time: connections go by polling, and try an upgrade from
    /// `probe_at` on.
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
    /// A polling link's shared state: its poll stops when the link goes.
    polling: Option<Rc<Polling>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(polling) = &self.polling {
            polling.end();
        }
    }
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
/// long-polling when the websocket brings nothing (or the other way round while they are
/// blocked). `transport` shows which is in use.
pub(crate) async fn open(
    transport: RwSignal<Option<Transport>>,
) -> Result<(Link, Incoming), String> {
    transport.set(None);
    if let Websockets::Blocked { .. } = WEBSOCKETS.get() {
        match over_polling(transport).await {
            Ok(link) => return Ok(link),
            Err(e) => leptos::logging::warn!("no polling ({e}); trying a websocket"),
        }
        let (raw, ws, first) = first_websocket_packet().await?;
        WEBSOCKETS.set(Websockets::Open);
        transport.set(Some(Transport::WebSocket));
        return Ok(over_websocket(raw, ws, first));
    }
    match first_websocket_packet().await {
        Ok((raw, ws, first)) => {
            transport.set(Some(Transport::WebSocket));
            return Ok(over_websocket(raw, ws, first));
        }
        Err(e) => leptos::logging::warn!("no websocket ({e}); trying long-polling"),
    }
    let link = over_polling(transport).await?;
    // Polling got through where the websocket did not: polling from now on, with an
    // upgrade tried soon (the websocket may have failed for a passing reason).
    WEBSOCKETS.set(Websockets::Blocked { probe_at: now_ms() + PROBE_AFTER_MS });
    Ok(link)
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

/// A link over an open websocket (`first`: the packet already read from it).
fn over_websocket(raw: web_sys::WebSocket, ws: WebSocket, first: String) -> (Link, Incoming) {
    let (in_tx, incoming) = mpsc::unbounded();
    let (out, out_rx) = mpsc::unbounded();
    // The receiver is right here: this cannot fail.
    let _ = in_tx.unbounded_send(Ok(first));
    let (sink, stream) = ws.split();
    spawn_local(write_websocket(raw, sink, out_rx, in_tx.clone()));
    spawn_local(read_websocket(stream, in_tx));
    (Link { out, polling: None }, incoming)
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
    /// The probe succeeded: no new poll starts, and the websocket takes over once the poll
    /// under way is through.
    Done,
}

/// What the tasks of one polling link share.
struct Polling {
    sid: String,
    /// How long one poll may last: the server answers within its ping interval.
    poll_timeout_ms: u32,
    upgrade: Cell<Upgrade>,
    /// The link was dropped: every task stops (what was sent before still goes).
    ended: Cell<bool>,
    /// The poll under way, aborted when the link ends.
    poll: RefCell<Option<web_sys::AbortController>>,
    /// When a poll last brought packets.
    last_data_at: Cell<f64>,
}

impl Polling {
    fn end(&self) {
        self.ended.set(true);
        if let Some(poll) = self.poll.borrow_mut().take() {
            poll.abort();
        }
    }

    /// Gone, or nobody reads what it would bring.
    fn over(&self, in_tx: &mpsc::UnboundedSender<Result<String, String>>) -> bool {
        self.ended.get() || in_tx.is_closed()
    }
}

/// A websocket that answered the probe, from the prober to the poller.
struct Probed {
    raw: web_sys::WebSocket,
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
}

/// The writing half of that websocket, from the poller (once its last poll is through)
/// to the writer, which says "upgrade" on it and writes there from then on.
struct Upgraded {
    raw: web_sys::WebSocket,
    sink: SplitSink<WebSocket, Message>,
}

/// Opens a long-polling session (its handshake is the link's first packet) and starts
/// its poller, writer and upgrade prober.
async fn over_polling(transport: RwSignal<Option<Transport>>) -> Result<(Link, Incoming), String> {
    let body =
        fetch_text(Request::get(&polling_url(None)), None, HANDSHAKE_TIMEOUT_MS, None).await?;
    let open = wire::packets(&body).next().unwrap_or_default().to_owned();
    let handshake = match EnginePacket::decode(&open) {
        Ok(EnginePacket::Open(handshake)) => handshake,
        _ => return Err("the polling handshake was not an open packet".to_owned()),
    };
    let polling = Rc::new(Polling {
        sid: handshake.sid,
        // Within reason whatever the handshake says.
        poll_timeout_ms: handshake
            .ping_interval
            .saturating_add(handshake.ping_timeout)
            .clamp(5_000, 120_000) as u32,
        upgrade: Cell::new(Upgrade::Polling),
        ended: Cell::new(false),
        poll: RefCell::new(None),
        last_data_at: Cell::new(now_ms()),
    });
    let (in_tx, incoming) = mpsc::unbounded();
    let (out, out_rx) = mpsc::unbounded();
    let (upgraded_tx, upgraded_rx) = mpsc::unbounded::<Upgraded>();
    let (probed_tx, probed_rx) = oneshot::channel();
    let _ = in_tx.unbounded_send(Ok(open));
    transport.set(Some(Transport::Polling));
    spawn_local(poll(polling.clone(), in_tx.clone(), probed_rx, upgraded_tx, transport));
    spawn_local(write_polling(polling.clone(), out_rx, upgraded_rx, in_tx.clone()));
    spawn_local(probe(polling.clone(), probed_tx, in_tx));
    Ok((Link { out, polling: Some(polling) }, incoming))
}

/// Sends a request (with `body`, a `POST`) and returns the answer's body; anything but
/// 200 is an error, and so is no answer within `timeout_ms` (the request is aborted).
/// `slot` holds the request's abort while it runs, for the link's end.
async fn fetch_text(
    builder: RequestBuilder,
    body: Option<String>,
    timeout_ms: u32,
    slot: Option<&RefCell<Option<web_sys::AbortController>>>,
) -> Result<String, String> {
    let abort = web_sys::AbortController::new().map_err(|e| format!("{e:?}"))?;
    let builder = builder.cache(web_sys::RequestCache::NoStore).abort_signal(Some(&abort.signal()));
    let request = match body {
        Some(body) => builder.header("Content-Type", "text/plain;charset=UTF-8").body(body),
        None => builder.build(),
    }
    .map_err(|e| e.to_string())?;
    if let Some(slot) = slot {
        *slot.borrow_mut() = Some(abort.clone());
    }
    let answer = async {
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.ok() {
            return Err(format!("HTTP {}", response.status()));
        }
        response.text().await.map_err(|e| e.to_string())
    };
    let outcome = match future::select(Box::pin(answer), TimeoutFuture::new(timeout_ms)).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(_) => {
            abort.abort();
            Err(format!("no answer in {timeout_ms} ms"))
        }
    };
    if let Some(slot) = slot {
        slot.borrow_mut().take();
    }
    outcome
}

/// Whether a packet is Engine.IO's at all (a captive portal's page is not).
fn engine_packet(packet: &str) -> bool {
    matches!(packet.as_bytes().first(), Some(b'0'..=b'6'))
}

/// Polls for the server's packets, one request at a time, until the link ends or is
/// upgraded; then, with no poll under way, hands the websocket's writing half to the
/// writer and reads the websocket (so that nothing is reordered: its packets wait until
/// the last poll's are through).
///
/// engineioxide (0.17) forgets, on upgrade, a packet it held back because it did not fit
/// in a poll's answer: after any answer with packets during the probe, the websocket is
/// not taken, and the link ends (the next connection's login catches up from the page's
/// cursors). The prober waits for a quiet link, so this is rare.
async fn poll(
    polling: Rc<Polling>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
    probed: oneshot::Receiver<Probed>,
    writer: mpsc::UnboundedSender<Upgraded>,
    transport: RwSignal<Option<Transport>>,
) {
    let mut noops = 0;
    let mut full_while_probing = false;
    loop {
        if polling.over(&in_tx) {
            return;
        }
        if polling.upgrade.get() == Upgrade::Done {
            break;
        }
        let url = polling_url(Some(&polling.sid));
        let body = match fetch_text(
            Request::get(&url),
            None,
            polling.poll_timeout_ms,
            Some(&polling.poll),
        )
        .await
        {
            Ok(body) if body.is_empty() => Err("the server ended the session".to_owned()),
            Ok(body) if !wire::packets(&body).any(engine_packet) => {
                Err("the answer was not Engine.IO".to_owned())
            }
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
        let probing = polling.upgrade.get() != Upgrade::Polling;
        // A probe that failed leaves nothing behind to worry about for the next one.
        full_while_probing &= probing;
        let noop = EnginePacket::Noop.encode();
        let mut only_noops = true;
        for packet in wire::packets(&body).filter(|p| engine_packet(p) && *p != noop) {
            only_noops = false;
            if in_tx.unbounded_send(Ok(packet.to_owned())).is_err() {
                return;
            }
        }
        if !only_noops {
            polling.last_data_at.set(now_ms());
            // The server may have held a packet back for the next poll (when the next
            // did not fit in this answer), which the upgrade would forget.
            full_while_probing |= probing;
            noops = 0;
            continue;
        }
        // "noop": the server is switching this session to a websocket. Ours: wait for
        // the probe's outcome. Not ours (or a probe that failed): the session is lost.
        while polling.upgrade.get() == Upgrade::Probing && !polling.over(&in_tx) {
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
    let Ok(Probed { raw, sink, stream }) = probed.await else {
        let _ = in_tx.unbounded_send(Err("the upgrade was lost".to_owned()));
        return;
    };
    if full_while_probing {
        close_websocket(&raw);
        let _ = in_tx.unbounded_send(Err("a packet may be lost in the upgrade".to_owned()));
        return;
    }
    if polling.over(&in_tx) || writer.unbounded_send(Upgraded { raw: raw.clone(), sink }).is_err() {
        close_websocket(&raw);
        return;
    }
    transport.set(Some(Transport::WebSocket));
    read_websocket(stream, in_tx).await;
}

/// Writes the link's packets by `POST`, batched, one request at a time and in order;
/// switches to the websocket as soon as the poller hands it over (between two requests,
/// so that nothing sent by polling arrives after what the websocket carries).
async fn write_polling(
    polling: Rc<Polling>,
    mut out_rx: mpsc::UnboundedReceiver<String>,
    mut upgraded: mpsc::UnboundedReceiver<Upgraded>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    let mut held: Option<String> = None;
    loop {
        // The upgrade first: what waits goes by the websocket, after "upgrade".
        if let Ok(upgrade) = upgraded.try_recv() {
            return switch_writer(upgrade, held, out_rx, in_tx).await;
        }
        let first = match held.take() {
            Some(packet) => Some(packet),
            None => match future::select(upgraded.next(), out_rx.next()).await {
                Either::Left((Some(upgrade), _)) => {
                    return switch_writer(upgrade, None, out_rx, in_tx).await;
                }
                // No upgrade will come: only the link's own packets are left.
                Either::Left((None, _)) => out_rx.next().await,
                Either::Right((packet, _)) => packet,
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
        let url = polling_url(Some(&polling.sid));
        let body = Some(wire::payload(&batch));
        if let Err(e) = fetch_text(Request::post(&url), body, POST_TIMEOUT_MS, None).await {
            let _ = in_tx.unbounded_send(Err(format!("send failed: {e}")));
            break;
        }
    }
    polling.end();
    // The server hears "close" (the person is offline at once, not after a timeout); the
    // session is still a polling one (this writer never switched to the websocket).
    let url = polling_url(Some(&polling.sid));
    let close = Some(EnginePacket::Close.encode());
    if let Err(e) = fetch_text(Request::post(&url), close, CLOSE_TIMEOUT_MS, None).await {
        // A server that is gone has closed the session anyway.
        leptos::logging::warn!("could not close the polling session: {e}");
    }
}

/// The upgrade's last step: "upgrade" on the websocket, which carries every packet after
/// (`held` first).
async fn switch_writer(
    upgrade: Upgraded,
    held: Option<String>,
    out_rx: mpsc::UnboundedReceiver<String>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    let Upgraded { raw, mut sink } = upgrade;
    for packet in std::iter::once(wire::UPGRADE.to_owned()).chain(held) {
        if let Err(e) = sink.send(Message::Text(packet)).await {
            let _ = in_tx.unbounded_send(Err(format!("upgrade failed: {e}")));
            close_websocket(&raw);
            return;
        }
    }
    write_websocket(raw, sink, out_rx, in_tx).await;
}

/// Tries the upgrade to a websocket when this page may (soon after websockets failed, then
/// every few minutes) and the link is quiet, as long as the link lasts; hands a websocket
/// that answered to the poller.
async fn probe(
    polling: Rc<Polling>,
    probed: oneshot::Sender<Probed>,
    in_tx: mpsc::UnboundedSender<Result<String, String>>,
) {
    loop {
        loop {
            if polling.over(&in_tx) {
                return;
            }
            let turn_in = match WEBSOCKETS.get() {
                Websockets::Blocked { probe_at } => probe_at - now_ms(),
                Websockets::Open => 0.0,
            };
            let quiet_in = polling.last_data_at.get() + QUIET_MS - now_ms();
            let wait = turn_in.max(quiet_in);
            if wait <= 0.0 {
                break;
            }
            TimeoutFuture::new(wait.clamp(50.0, 1_000.0) as u32).await;
        }
        polling.upgrade.set(Upgrade::Probing);
        match probe_websocket(&polling.sid).await {
            Ok((raw, ws)) if !polling.over(&in_tx) => {
                let (sink, stream) = ws.split();
                WEBSOCKETS.set(Websockets::Open);
                polling.upgrade.set(Upgrade::Done);
                // The poller may be gone with the link: the websocket is closed then.
                if let Err(Probed { raw, .. }) = probed.send(Probed { raw, sink, stream }) {
                    close_websocket(&raw);
                }
                return;
            }
            Ok((raw, _)) => {
                close_websocket(&raw);
                return;
            }
            Err(e) => {
                // engineioxide closes a session whose upgrade reached it and failed: the
                // poller then hears so, and the link ends.
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
            Some(Ok(_)) => Err("an unexpected answer to the probe".to_owned()),
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

//! Webhooks with a real receiver on loopback: an admin registers one in the console's way;
//! a conversation's life (the question, the answer, the resolution, the rating) reaches it
//! signed, each event under a delivery id of its own; a receiver that fails three times
//! gets the event again with the same id until it takes it, and takes it once; admins see
//! the attempts. A server killed (SIGKILL) after an event was committed and before it was
//! delivered delivers it once started again.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{fetch, http_bytes, http_to, log_in, TestClient, TestServer, Transport};
use serde_json::{json, Value};

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    event: String,
    delivery: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    /// What the receiver answered.
    accepted: bool,
}

/// A receiver that fails each delivery's first `fail_first` attempts (HTTP 500), then
/// takes it.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    fail_first: u32,
}

impl Receiver {
    /// Serves on `listener` until the test ends.
    fn start(listener: tokio::net::TcpListener, fail_first: u32) -> Self {
        let receiver = Self { got: Arc::default(), fail_first };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(take))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until the receiver took `n` deliveries of `event`.
    async fn taken(&self, event: &str, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let taken: Vec<Received> =
                self.got().into_iter().filter(|r| r.accepted && r.event == event).collect();
            if taken.len() >= n {
                return taken;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{event} not taken {n} times: {:?}", self.got());
    }
}

async fn take(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let mut got = receiver.got.lock().unwrap();
    let delivery = header("x-chat-delivery");
    let before = got.iter().filter(|r| r.delivery == delivery).count();
    let accepted = before >= receiver.fail_first as usize;
    got.push(Received {
        event: header("x-chat-event"),
        delivery,
        timestamp: header("x-chat-timestamp"),
        signature: header("x-chat-signature"),
        body: body.to_vec(),
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// What a receiver computes to check a delivery: HMAC-SHA256 of the timestamp, a dot and the
/// body, under the secret.
fn signed(secret: &str, r: &Received) -> bool {
    let timestamp: u64 = r.timestamp.parse().expect("a timestamp");
    chat_server::webhooks::sign(secret, timestamp, &r.body) == r.signature
}

/// Registers a webhook for `events` at `url` with an admin's cookie `(name, value)`: its
/// secret.
async fn register(
    addr: std::net::SocketAddr,
    cookie: (&str, &str),
    url: &str,
    events: &[&str],
) -> String {
    let body = json!({"url": url, "events": events}).to_string();
    let (status, head, bytes) = http_to(
        addr,
        "POST",
        app::protocol::WEBHOOKS_PATH,
        &[cookie, ("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    let made: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(status, 201, "{head} {made}");
    let secret = made["secret"].as_str().expect("a secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret
}

fn settings() -> chat_server::Settings {
    chat_server::Settings {
        webhook_retry_first: Duration::from_millis(100),
        webhook_poll: Duration::from_millis(50),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_conversations_life_reaches_a_webhook_signed_once_per_delivery_through_failures() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    // Fails each delivery three times, then takes it.
    let receiver = Receiver::start(listener, 3);
    let server = TestServer::start_with(settings()).await;
    server.add_admin("boss", "password-1").await;
    let (mut boss, boss_session) = log_in(&server, agent("boss")).await;
    let (name, value) = boss_session.header();
    let secret = register(server.addr, (name, &value), &url, &app::protocol::WEBHOOK_EVENTS).await;

    let (mut ann, _) = log_in(&server, json!("Ann")).await;
    ann.emit_acked("private_message", json!({"message": "My order is late"})).await;
    let id = boss.expect("message").await["conversation"].clone();
    boss.emit_acked(
        "private_message",
        json!({"conversation": id, "message": "Sorry, sending now"}),
    )
    .await;
    boss.emit("resolve", json!({"conversation": id})).await;
    let resolved = ann.expect("resolved").await;
    ann.emit("rate", json!({"conversation": id, "seq": resolved["seq"], "score": 5})).await;

    let created = receiver.taken("conversation.created", 1).await;
    let messages = receiver.taken("message.created", 2).await;
    let resolutions = receiver.taken("conversation.resolved", 1).await;
    let ratings = receiver.taken("rating.given", 1).await;
    let body = |r: &Received| serde_json::from_slice::<Value>(&r.body).unwrap();
    assert_eq!(body(&created[0])["data"]["conversation"]["id"], id);
    assert_eq!(body(&created[0])["data"]["conversation"]["customer"]["name"], json!("Ann"));
    let texts: Vec<Value> =
        messages.iter().map(|r| body(r)["data"]["message"]["text"].clone()).collect();
    assert_eq!(texts, vec![json!("My order is late"), json!("Sorry, sending now")]);
    let authors: Vec<Value> =
        messages.iter().map(|r| body(r)["data"]["message"]["author"].clone()).collect();
    assert_eq!(authors, vec![json!("customer"), json!("agent")]);
    assert_eq!(body(&resolutions[0])["data"]["conversation"]["status"], json!("resolved"));
    assert_eq!(body(&ratings[0])["data"]["rating"]["score"], json!(5));
    assert_eq!(body(&ratings[0])["event"], json!("rating.given"));

    // Every request was signed; each delivery was taken once, and each that failed was tried
    // again under the same id.
    let got = receiver.got();
    assert!(got.iter().all(|r| signed(&secret, r)), "{got:?}");
    assert!(got.iter().all(|r| !signed("whsec_other", r)));
    let taken: Vec<&str> = got.iter().filter(|r| r.accepted).map(|r| r.delivery.as_str()).collect();
    let mut distinct = taken.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), taken.len(), "a delivery taken twice: {taken:?}");
    assert_eq!(taken.len(), 5, "{got:?}");
    for id in &taken {
        let tries: Vec<bool> =
            got.iter().filter(|r| r.delivery == *id).map(|r| r.accepted).collect();
        assert_eq!(tries, vec![false, false, false, true], "delivery {id}");
    }

    // The admin sees each delivery's attempts: four each, the last taken.
    let (status, _, listed) =
        fetch(&server, Some(&boss_session), app::protocol::WEBHOOKS_PATH).await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    let deliveries = listed[0]["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 5, "{listed}");
    assert_eq!(deliveries.last().unwrap()["event"], json!("conversation.created"), "{listed}");
    for d in deliveries {
        assert_eq!((&d["attempts"], &d["last_status"]), (&json!(4), &json!(204)), "{listed}");
        assert!(d["delivered_at"].is_u64() && d["next_attempt_at"].is_null(), "{listed}");
    }
    assert!(listed.to_string().find(&secret).is_none(), "the secret is shown once");
    server.stop().await;
}

#[tokio::test]
async fn only_admins_register_webhooks_and_what_cannot_be_one_is_told() {
    let server = TestServer::start_with(settings()).await;
    server.add_admin("boss", "password-1").await;
    server.add_agent("amy", "password-1").await;
    let (_boss, boss_session) = log_in(&server, agent("boss")).await;
    let (_amy, amy_session) = log_in(&server, agent("amy")).await;
    let (name, value) = boss_session.header();
    for (body, code) in [
        (json!({"url": "ftp://example.com", "events": ["message.created"]}), "webhook_url_invalid"),
        (json!({"url": "example.com/hook", "events": ["message.created"]}), "webhook_url_invalid"),
        (json!({"url": "https://example.com/hook", "events": []}), "webhook_no_events"),
        (json!({"url": "https://example.com/hook", "events": ["nope"]}), "webhook_no_events"),
    ] {
        let (status, _, bytes) = http_bytes(
            &server,
            "POST",
            "/webhooks",
            &[(name, &value), ("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await;
        let refused: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((status, &refused["problem"]["code"]), (400, &json!(code)), "{body}");
    }
    // An agent, a customer's page, nobody: the 404 of a path that does not exist.
    let (amy_name, amy_value) = amy_session.header();
    for headers in [vec![(amy_name, amy_value.as_str())], vec![]] {
        let mut with_json = headers.clone();
        with_json.push(("Content-Type", "application/json"));
        let body = json!({"url": "https://example.com/hook", "events": ["message.created"]});
        let (status, _, _) =
            http_bytes(&server, "POST", "/webhooks", &with_json, body.to_string().as_bytes()).await;
        assert_eq!(status, 404);
        let (status, _, _) = http_bytes(&server, "GET", "/webhooks", &headers, b"").await;
        assert_eq!(status, 404);
    }
    // Not from another site's page, even with the admin's cookie.
    let (status, _, _) = http_bytes(
        &server,
        "POST",
        "/webhooks",
        &[(name, &value), ("Content-Type", "application/json"), ("Origin", "https://evil.example")],
        json!({"url": "https://evil.example/hook", "events": ["message.created"]})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(status, 403);
    // An id that is not one: for a non-admin, the same 404 as any.
    let (status, _, _) =
        http_bytes(&server, "DELETE", "/webhooks/abc", &[(amy_name, &amy_value)], b"").await;
    assert_eq!(status, 404);
    let secret =
        register(server.addr, (name, &value), "https://example.com/hook", &["message.created"])
            .await;
    let (_, _, listed) = fetch(&server, Some(&boss_session), "/webhooks").await;
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    let id = listed[0]["id"].as_u64().unwrap();
    assert_eq!(listed[0]["events"], json!(["message.created"]));
    assert!(!listed.to_string().contains(&secret));
    let (status, _, _) =
        http_bytes(&server, "DELETE", &format!("/webhooks/{id}"), &[(amy_name, &amy_value)], b"")
            .await;
    assert_eq!(status, 404);
    let (status, _, _) =
        http_bytes(&server, "DELETE", &format!("/webhooks/{id}"), &[(name, &value)], b"").await;
    assert_eq!(status, 204);
    let (_, _, listed) = fetch(&server, Some(&boss_session), "/webhooks").await;
    assert_eq!(serde_json::from_slice::<Value>(&listed).unwrap(), json!([]));
    server.stop().await;
}

/// The server binary on `port` with `db`, looking for due deliveries every `poll`.
fn spawn(port: u16, db: &str, poll: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", db)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("WEBHOOK_POLL", poll)
        .env("WEBHOOK_RETRY_FIRST", "100ms")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server")
}

async fn ready(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up on port {port}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn an_event_committed_before_a_kill_is_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let mut add = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["agent", "add", "--admin", "boss"])
        .env("DATABASE_URL", &db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "password-1").unwrap();
    assert!(add.wait().unwrap().success());
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", hook.local_addr().unwrap());
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // The first run looks for due deliveries only as it starts (then in an hour): whatever
    // is committed after that waits in the outbox.
    let mut child = spawn(port, &db, "1h");
    ready(port).await;
    let login = json!({"name": "boss", "password": "password-1"}).to_string();
    let (status, head, _) = http_to(
        addr,
        "POST",
        app::protocol::SESSION_PATH,
        &[("Content-Type", "application/json")],
        login.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    register(addr, ("Cookie", &cookie), &url, &["message.created"]).await;
    let ann = TestClient::connect_to(
        &format!("http://127.0.0.1:{port}"),
        Transport::Websocket,
        Some(json!("Ann")),
    )
    .await;
    let ack = ann.emit_acked("private_message", json!({"message": "Still there?"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    // Committed, not delivered: the receiver is not even listening yet.
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let receiver = Receiver::start(hook, 0);
    let mut child = spawn(port, &db, "50ms");
    ready(port).await;
    let taken = receiver.taken("message.created", 1).await;
    let body: Value = serde_json::from_slice(&taken[0].body).unwrap();
    assert_eq!(body["data"]["message"]["text"], json!("Still there?"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 1, "delivered once: {:?}", receiver.got());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_receiver_that_hangs_does_not_hold_up_the_others() {
    // One that takes the connection and never answers (each attempt waits 10 s for it).
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/hook", hanging.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::start(listener, 0);
    let server = TestServer::start_with(settings()).await;
    server.add_admin("boss", "password-1").await;
    let (_boss, boss_session) = log_in(&server, agent("boss")).await;
    let (name, value) = boss_session.header();
    register(server.addr, (name, &value), &hanging_url, &["message.created"]).await;
    register(server.addr, (name, &value), &url, &["message.created"]).await;
    let (ann, _) = log_in(&server, json!("Ann")).await;
    let started = std::time::Instant::now();
    for n in 0..10 {
        ann.emit_acked("private_message", json!({"message": format!("question {n}")})).await;
    }
    receiver.taken("message.created", 10).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the healthy receiver waited for the hanging one: {:?}",
        started.elapsed()
    );
    server.stop().await;
}

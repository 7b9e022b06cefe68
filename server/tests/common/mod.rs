//! A real server on a free port and a real Socket.IO client (rust_socketio, independent of
//! this project's own codec) that records every event it receives.

#![allow(dead_code)] // each test binary uses a different part of this

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rust_socketio::asynchronous::{Client as SioClient, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use chat_server::store::Store;

/// How long a test waits for an event that should come.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub store: Arc<dyn Store>,
    /// The database the server uses.
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(chat_server::Settings::default()).await
    }

    /// A server without abuse limits, for tests that send faster than people do on
    /// purpose (the limits have their own tests in hardening.rs).
    pub async fn start_unlimited() -> Self {
        Self::start_with(chat_server::Settings {
            limits: chat_server::limits::Limits::unlimited(),
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(settings: chat_server::Settings) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), settings, None, None).await
    }

    /// A server on a fresh PostgreSQL database (the test server of `scripts/postgres.sh`).
    pub async fn start_postgres() -> Self {
        let url = chat_server::store::testing::postgres_database().await;
        Self::start_in(
            tempfile::tempdir().expect("temp dir"),
            chat_server::Settings::default(),
            None,
            Some(url),
        )
        .await
    }

    /// One node of a cluster: the PostgreSQL database `database_url` and the Redis
    /// `redis_url` are shared with the other nodes.
    pub async fn start_node(database_url: &str, redis_url: &str) -> Self {
        Self::start_node_with(database_url, redis_url, chat_server::Settings::default()).await
    }

    pub async fn start_node_with(
        database_url: &str,
        redis_url: &str,
        settings: chat_server::Settings,
    ) -> Self {
        let settings = chat_server::Settings { redis_url: Some(redis_url.to_owned()), ..settings };
        Self::start_in(
            tempfile::tempdir().expect("temp dir"),
            settings,
            None,
            Some(database_url.to_owned()),
        )
        .await
    }

    /// A server whose database may grow to `max_bytes` only (as if the disk were that
    /// small).
    pub async fn start_capped(settings: chat_server::Settings, max_bytes: u64) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), settings, Some(max_bytes), None)
            .await
    }

    /// Where the server reads the site's files from disk (an empty directory's path, not made).
    pub fn site_root(&self) -> std::path::PathBuf {
        self._dir.path().join("site")
    }

    /// The database file's path.
    pub fn database_path(&self) -> std::path::PathBuf {
        self.database_url.trim_start_matches("sqlite://").into()
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(mut self) -> Self {
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        let url = self.database_url.clone();
        self.stop().await;
        Self::start_in(dir, chat_server::Settings::default(), None, Some(url)).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        settings: chat_server::Settings,
        max_bytes: Option<u64>,
        url: Option<String>,
    ) -> Self {
        let url =
            url.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("chat.db").display()));
        let store = chat_server::store::open(
            &url,
            chat_server::store::SqliteOptions { max_bytes, ..Default::default() },
        )
        .await
        .expect("open store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        // The site's files on disk, if a test puts any there (none by default).
        let site_root = dir.path().join("site");
        let options = leptos::config::LeptosOptions::builder()
            .output_name("chat")
            .site_root(site_root.to_string_lossy().into_owned())
            .site_addr(addr)
            .build();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(chat_server::run_with(
            listener,
            options,
            store.clone(),
            settings,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            url: format!("http://{addr}"),
            store,
            database_url: url.clone(),
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub async fn add_agent(&self, name: &str, password: &str) {
        self.add_account(name, password, false).await;
    }

    /// Adds an agent account who is an admin.
    pub async fn add_admin(&self, name: &str, password: &str) {
        self.add_account(name, password, true).await;
    }

    async fn add_account(&self, name: &str, password: &str, admin: bool) {
        let hash = chat_server::auth::hash_password(password).expect("hash");
        let name = app::protocol::UserName::parse(name).expect("valid name");
        self.store.add_agent(&name, &hash, admin).await.expect("add agent");
    }

    /// Shuts the server down gracefully and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("server stops within the wait")
                .expect("server task")
                .expect("server result");
        }
    }
}

/// Sends one raw HTTP/1.1 request (with `extra` header lines) and returns the status and
/// the whole response, head and body.
pub async fn http(
    server: &TestServer,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, head, body) = http_bytes(server, method, path, extra, body.as_bytes()).await;
    (status, format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&body)))
}

/// [`http`] with a body of bytes: the status, the response's head (status line and
/// headers) and its body's bytes.
pub async fn http_bytes(
    server: &TestServer,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    http_to(server.addr, method, path, extra, body).await
}

/// [`http_bytes`] to a server at `addr` (one not started by the test itself).
pub async fn http_to(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    // A server that refuses early may close before the whole body is written.
    let _ = stream.write_all(&bytes).await;
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, head, body)
}

/// The Engine.IO handshake by long-polling.
pub const POLLING_HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

/// Opens an Engine.IO session by long-polling and asks to join the namespace; returns
/// the server's answer (`40…` joined, `44…` refused).
pub async fn join_by_polling(server: &TestServer) -> String {
    let (status, open) = http(server, "GET", POLLING_HANDSHAKE, &[], "").await;
    assert_eq!(status, 200, "{open}");
    let sid =
        open.split("\"sid\":\"").nth(1).and_then(|r| r.split('"').next()).expect("a session id");
    let path = format!("{POLLING_HANDSHAKE}&sid={sid}");
    let (status, _) = http(server, "POST", &path, &[("Content-Type", "text/plain")], "40").await;
    assert_eq!(status, 200);
    // The answer may be slow (a node waiting on its cluster): heartbeat pings that come
    // before it are answered and skipped.
    let mut body = String::new();
    for _ in 0..5 {
        let (_, response) = http(server, "GET", &path, &[], "").await;
        body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
        let packets: Vec<&str> = body.split('\u{1e}').collect();
        if packets.iter().any(|p| p.starts_with('4')) {
            break;
        }
        if packets.contains(&"2") {
            http(server, "POST", &path, &[("Content-Type", "text/plain")], "3").await;
        }
    }
    body
}

/// One received event: its name and first argument.
pub type Received = (String, Value);

pub struct TestClient {
    pub client: SioClient,
    events: mpsc::UnboundedReceiver<Received>,
    seen: VecDeque<Received>,
    /// Who is online as the lists received so far say (`user_list`, then `presence`).
    users: Option<Vec<String>>,
}

fn first_arg(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        Payload::Text(_) => Value::Null,
        #[allow(deprecated)]
        Payload::String(s) => Value::String(s),
        Payload::Binary(_) => Value::String("<binary>".into()),
    }
}

impl TestClient {
    /// Connects; when `login` is given it is emitted from inside the client's connect
    /// callback, the instant the namespace is joined (as the tutorial's client does).
    pub async fn connect(server: &TestServer, transport: Transport, login: Option<Value>) -> Self {
        Self::connect_to(&server.url, transport, login).await
    }

    /// [`TestClient::connect`] to a server at `url` (one this test did not start in-process).
    pub async fn connect_to(url: &str, transport: Transport, login: Option<Value>) -> Self {
        Self::connect_with_headers(url, transport, login, &[]).await
    }

    /// [`TestClient::connect_to`] with extra handshake headers (`Cookie`, `Origin`).
    pub async fn connect_with_headers(
        url: &str,
        transport: Transport,
        login: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel::<Received>();
        let on_any = {
            let tx = tx.clone();
            move |event: Event, payload: Payload, _c: SioClient| {
                let _ = tx.send((event.as_str().to_owned(), first_arg(payload)));
                async {}.boxed()
            }
        };
        let on_error = {
            let tx = tx.clone();
            move |payload: Payload, _c: SioClient| {
                let _ = tx.send(("error".to_owned(), first_arg(payload)));
                async {}.boxed()
            }
        };
        let on_connect = {
            let tx = tx.clone();
            move |_p: Payload, c: SioClient| {
                let _ = tx.send(("connect".to_owned(), Value::Null));
                let login = login.clone();
                async move {
                    if let Some(login) = login {
                        c.emit("login", login).await.expect("emit login");
                    }
                }
                .boxed()
            }
        };
        let mut builder = ClientBuilder::new(url.to_owned());
        for (name, value) in headers {
            builder = builder.opening_header(*name, *value);
        }
        let client = builder
            .transport_type(transport.to_client())
            .reconnect(false)
            .on_any(on_any)
            .on(Event::Error, on_error)
            .on(Event::Connect, on_connect)
            .connect()
            .await
            .expect("socket.io connect");
        let mut me = Self { client, events, seen: VecDeque::new(), users: None };
        me.expect("connect").await;
        me
    }

    /// Connects and logs in with `login`, waiting for `login_success`.
    pub async fn login(server: &TestServer, transport: Transport, login: Value) -> Self {
        let mut me = Self::connect(server, transport, Some(login.clone())).await;
        let ok = me.expect("login_success").await;
        assert!(ok.is_object(), "login {login} answered {ok}");
        me
    }

    pub async fn emit(&self, event: &str, data: Value) {
        self.client.emit(event, data).await.expect("emit");
    }

    /// Emits `event` asking for an acknowledgement, and returns it (its first argument).
    pub async fn emit_acked(&self, event: &str, data: Value) -> Value {
        let (tx, rx) = oneshot::channel::<Value>();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, data, WAIT, move |payload: Payload, _| {
                if let Some(tx) = tx.lock().expect("ack lock").take() {
                    let _ = tx.send(first_arg(payload));
                }
                async {}.boxed()
            })
            .await
            .expect("emit");
        let ack = tokio::time::timeout(WAIT, rx).await.expect("ack arrives").expect("ack");
        // rust_socketio hands an ack over as the array of its arguments.
        match ack {
            Value::Array(mut args) if !args.is_empty() => args.swap_remove(0),
            other => other,
        }
    }

    /// Every `history` page received so far for `conversation`, waiting for the first.
    pub async fn expect_history(&mut self, conversation: &Value) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let page = tokio::time::timeout_at(deadline, self.expect("history"))
                .await
                .unwrap_or_else(|_| panic!("no history of {conversation}"));
            if &page["conversation"] == conversation {
                return page;
            }
        }
    }

    /// Waits for the next event named `event`; events before it stay available.
    pub async fn expect(&mut self, event: &str) -> Value {
        if let Some(i) = self.seen.iter().position(|(e, _)| e == event) {
            return self.seen.remove(i).map(|(_, v)| v).expect("present");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((e, v))) if e == event => return v,
                Ok(Some(other)) => self.seen.push_back(other),
                Ok(None) => panic!("client closed while waiting for {event}"),
                Err(_) => panic!("no {event} within {WAIT:?}; got {:?}", self.seen),
            }
        }
    }

    /// The next event, whatever it is.
    pub async fn next_event(&mut self) -> Received {
        if let Some(item) = self.seen.pop_front() {
            return item;
        }
        match tokio::time::timeout(WAIT, self.events.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => panic!("client closed while waiting for an event"),
            Err(_) => panic!("no event within {WAIT:?}"),
        }
    }

    /// Waits for an event named `event` that satisfies `check`, dropping those that do not.
    pub async fn expect_where(&mut self, event: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = tokio::time::timeout_at(deadline, self.expect(event))
                .await
                .unwrap_or_else(|_| panic!("no matching {event}"));
            if check(&v) {
                return v;
            }
        }
    }

    /// Applies a `user_list` (the whole list) or `presence` (a change) event.
    fn apply_list(&mut self, event: &str, data: Value) {
        match event {
            "user_list" => {
                self.users =
                    Some(serde_json::from_value(data).expect("user_list is an array of names"))
            }
            _ => {
                let change: app::protocol::Presence =
                    serde_json::from_value(data).expect("presence is {online, offline}");
                let users = self.users.get_or_insert_with(Vec::new);
                let mut names = users
                    .iter()
                    .map(|u| app::protocol::UserName::parse(u).expect("listed names are valid"))
                    .collect();
                change.apply_to(&mut names);
                *users = names.into_iter().map(|n| n.as_str().to_owned()).collect();
            }
        }
    }

    /// Takes every list event already received, in order.
    fn drain_lists(&mut self) -> bool {
        while let Ok(item) = self.events.try_recv() {
            self.seen.push_back(item);
        }
        let mut any = false;
        let mut rest = VecDeque::new();
        while let Some((e, v)) = self.seen.pop_front() {
            if e == "user_list" || e == "presence" {
                self.apply_list(&e, v);
                any = true;
            } else {
                rest.push_back((e, v));
            }
        }
        self.seen = rest;
        any
    }

    /// Waits for the next list event and applies it.
    async fn next_list_event(&mut self) {
        if self.drain_lists() {
            return;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((e, v))) if e == "user_list" || e == "presence" => {
                    return self.apply_list(&e, v)
                }
                Ok(Some(other)) => self.seen.push_back(other),
                Ok(None) => panic!("client closed while waiting for a list"),
                Err(_) => panic!("no user_list or presence within {WAIT:?}; got {:?}", self.seen),
            }
        }
    }

    /// Who is online as of every list event received so far (waiting for one if none yet).
    pub async fn latest_list(&mut self) -> Vec<String> {
        if !self.drain_lists() && self.users.is_none() {
            self.next_list_event().await;
        }
        self.users.clone().unwrap_or_default()
    }

    /// Waits until the list (the last `user_list` with the `presence` changes since) is
    /// `expected`.
    pub async fn expect_list(&mut self, expected: &[&str]) {
        let deadline = tokio::time::Instant::now() + WAIT;
        self.drain_lists();
        while self.users.as_deref().is_none_or(|u| u != expected) {
            tokio::time::timeout_at(deadline, self.next_list_event())
                .await
                .unwrap_or_else(|_| panic!("no list {expected:?}; have {:?}", self.users));
        }
    }

    /// Asserts that no event named `event` arrives within `ms`.
    /// Waits until this agent is told `customer`'s conversation is open; returns its
    /// summary.
    pub async fn expect_opened(&mut self, customer: &str) -> Value {
        self.expect_where("conversation", |s| {
            s["customer"] == serde_json::json!(customer) && s["status"] == serde_json::json!("open")
        })
        .await
    }

    pub async fn expect_none(&mut self, event: &str, ms: u64) {
        let _ = tokio::time::timeout(Duration::from_millis(ms), async {
            while let Some(item) = self.events.recv().await {
                self.seen.push_back(item);
            }
        })
        .await;
        let got: Vec<_> = self.seen.iter().filter(|(e, _)| e == event).collect();
        assert!(got.is_empty(), "unexpected {event}: {got:?}");
    }

    pub async fn disconnect(self) {
        self.client.disconnect().await.expect("disconnect");
    }
}

/// The Engine.IO transports a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Websocket,
    Polling,
}

impl Transport {
    fn to_client(self) -> TransportType {
        match self {
            Transport::Websocket => TransportType::Websocket,
            Transport::Polling => TransportType::Polling,
        }
    }
}

/// Both transports a tutorial client may use.
pub const TRANSPORTS: [Transport; 2] = [Transport::Websocket, Transport::Polling];

/// The texts of a `history` page, oldest first.
pub fn texts(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect()
}

/// A logged-in client's session token, presented over HTTP as its browser does: a
/// customer's page sends it as `Authorization: Bearer`, an agent's browser in the cookie.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    pub agent: bool,
}

impl Session {
    pub fn customer(token: &str) -> Self {
        Self { token: token.to_owned(), agent: false }
    }

    pub fn agent(token: &str) -> Self {
        Self { token: token.to_owned(), agent: true }
    }

    /// The same token presented the other kind's way.
    pub fn swapped(&self) -> Self {
        Self { token: self.token.clone(), agent: !self.agent }
    }

    pub fn header(&self) -> (&'static str, String) {
        if self.agent {
            ("Cookie", format!("{}={}", app::protocol::SESSION_COOKIE, self.token))
        } else {
            ("Authorization", format!("Bearer {}", self.token))
        }
    }
}

/// Logs in and returns the client with its session.
pub async fn log_in(server: &TestServer, login: Value) -> (TestClient, Session) {
    let mut client = TestClient::connect(server, Transport::Websocket, Some(login.clone())).await;
    let ok = client.expect("login_success").await;
    let token = ok["resume"].as_str().unwrap_or_else(|| panic!("{login} got {ok}"));
    let session = if login["role"] == serde_json::json!("agent") {
        Session::agent(token)
    } else {
        Session::customer(token)
    };
    (client, session)
}

/// Fetches a path with a session (or none) and extra headers: status, head and body.
pub async fn fetch_with(
    server: &TestServer,
    session: Option<&Session>,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, String, Vec<u8>) {
    let credential = session.map(Session::header);
    let mut headers: Vec<(&str, &str)> =
        credential.iter().map(|(name, value)| (*name, value.as_str())).collect();
    headers.extend_from_slice(extra);
    http_bytes(server, "GET", path, &headers, b"").await
}

pub async fn fetch(
    server: &TestServer,
    session: Option<&Session>,
    path: &str,
) -> (u16, String, Vec<u8>) {
    fetch_with(server, session, path, &[]).await
}

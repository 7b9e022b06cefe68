//! The first run, as a new user meets it: the `server` binary started on an empty database
//! prints a one-time link; with it, and only from this machine, the first admin is created,
//! once.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

/// A `server` process and the lines of its log.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    log: Vec<String>,
}

impl Running {
    fn start(db: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("DATABASE_URL", db)
            .env("RUST_LOG", "info")
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run server");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, log: vec![] }
    }

    /// The first line of the log that contains `needle` (waiting up to a minute).
    fn line_with(&mut self, needle: &str) -> String {
        if let Some(line) = self.log.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
                panic!("no line with {needle:?} in the log:\n{}", self.log.join("\n"))
            });
            self.log.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The address it listens on.
    fn addr(&mut self) -> SocketAddr {
        let line = self.line_with("listening on http://");
        let at = line.find("http://").expect("address") + "http://".len();
        line[at..].split_whitespace().next().expect("address").parse().expect("an address")
    }

    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.extend(self.lines.try_iter());
        self.log
    }
}

/// `POST /setup/admin` with `body`, and `extra` headers; the status and the JSON answer.
async fn set_up(addr: SocketAddr, body: &Value, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    let body = body.to_string();
    let (status, _, answer) =
        common::http_to(addr, "POST", "/setup/admin", &headers, body.as_bytes()).await;
    (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
}

fn problem(answer: &Value) -> &str {
    answer["problem"]["code"].as_str().unwrap_or("(none)")
}

#[tokio::test]
async fn the_first_admin_is_created_once_with_the_link_the_server_printed_and_only_here() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let mut server = Running::start(&db, &[]);
    let addr = server.addr();
    let line = server.line_with("/setup#");
    assert!(line.contains("create the first admin"), "{line}");
    let link = line[line.find("http://").expect("a link")..].split_whitespace().next().unwrap();
    assert!(link.starts_with(&format!("http://{addr}/setup#")), "{link} for {addr}");
    let token = link.rsplit('#').next().unwrap();
    assert!(token.len() >= 40, "a token of 256 random bits: {token}");
    let admin = |token: &str, password: &str| json!({ "token": token, "name": "Ada", "password": password });

    // A wrong token, and the right one through a proxy (from anywhere): refused.
    let (status, answer) = set_up(addr, &admin("not-the-token", "ada-password"), &[]).await;
    assert_eq!((status, problem(&answer)), (403, "setup_link_invalid"), "{answer}");
    for proxied in [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9")] {
        let (status, answer) = set_up(addr, &admin(token, "ada-password"), &[proxied]).await;
        assert_eq!((status, problem(&answer)), (403, "setup_only_local"), "{proxied:?}: {answer}");
    }
    // A form post (what another site's page could send) is not taken.
    let (status, _, _) = common::http_to(
        addr,
        "POST",
        "/setup/admin",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={token}&name=Eve&password=eve-password").as_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    // Bad input is told, and leaves the link working.
    let (status, answer) = set_up(addr, &admin(token, "short"), &[]).await;
    assert_eq!((status, problem(&answer)), (400, "password_too_short"), "{answer}");
    let nameless = json!({ "token": token, "name": "  ", "password": "ada-password" });
    assert_eq!(problem(&set_up(addr, &nameless, &[]).await.1), "name_empty");

    // Used twice at once: one admin.
    let (ada, bob) = (
        admin(token, "ada-password"),
        json!({ "token": token, "name": "Bob", "password": "bob-password" }),
    );
    let (first, second) = tokio::join!(set_up(addr, &ada, &[]), set_up(addr, &bob, &[]));
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [200, 403], "{first:?} {second:?}");
    let created = if first.0 == 200 { &first.1 } else { &second.1 };
    assert_eq!(created["admin"], true, "{created}");
    let name = created["name"].as_str().expect("a name").to_owned();
    let password = if name == "Ada" { "ada-password" } else { "bob-password" };
    // The link is spent.
    let (status, answer) = set_up(addr, &admin(token, "ada-password"), &[]).await;
    assert_eq!((status, problem(&answer)), (403, "setup_link_invalid"), "{answer}");
    // The admin logs in as any agent does.
    let credentials = json!({ "name": name, "password": password }).to_string();
    let (status, _, body) = common::http_to(
        addr,
        "POST",
        "/session",
        &[("Content-Type", "application/json")],
        credentials.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    server.stop();

    // Started again with an account: no link.
    let mut again = Running::start(&db, &[]);
    let addr = again.addr();
    let (status, _, _) = common::http_to(addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(status, 200);
    let (status, answer) = set_up(addr, &admin(token, "ada-password"), &[]).await;
    assert_eq!((status, problem(&answer)), (403, "setup_link_invalid"), "{answer}");
    let log = again.stop();
    assert!(!log.iter().any(|l| l.contains("/setup#")), "{}", log.join("\n"));
}

/// With `SETUP_REMOTE`, the link works from another machine (here: through a proxy); an
/// account added with the command line meanwhile ends the first run all the same.
#[tokio::test]
async fn setup_remote_lets_the_link_work_from_elsewhere_until_anyone_has_an_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let mut server = Running::start(&db, &[("SETUP_REMOTE", "true")]);
    let addr = server.addr();
    let line = server.line_with("/setup#");
    assert!(!line.contains("on this machine"), "{line}");
    let token = line.split_whitespace().find(|w| w.contains("/setup#")).unwrap();
    let token = token.rsplit('#').next().unwrap().to_owned();
    let proxied = [("X-Forwarded-For", "203.0.113.9")];
    let short = json!({ "token": token, "name": "Ada", "password": "short" });
    assert_eq!(problem(&set_up(addr, &short, &proxied).await.1), "password_too_short");

    let added = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["agent", "add", "--admin", "Zoe"])
        .env("DATABASE_URL", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(b"zoe-password\n")?;
            child.wait()
        })
        .expect("agent add");
    assert!(added.success());
    let ada = json!({ "token": token, "name": "Ada", "password": "ada-password" });
    let (status, answer) = set_up(addr, &ada, &proxied).await;
    assert_eq!((status, problem(&answer)), (403, "setup_link_invalid"), "{answer}");
    server.stop();
}

//! The server's log never holds what would hurt if the log leaked: passwords, session
//! tokens, message texts. Runs the real binary with its default log level and with this
//! crate's most verbose one, does everything that handles a secret, and reads the log.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{TestClient, Transport};
use serde_json::{json, Value};

const PASSWORD: &str = "sekret-Pa55word";
const WRONG: &str = "wrong-Pa55guess";
const TEXT: &str = "my card number is 4111-1111";
const NOTE: &str = "internal: refund the card";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Runs the server with `rust_log` (`None`: the default), does every secret-bearing thing
/// once, stops the server, and returns its log and the secrets it handled.
async fn run_and_log(rust_log: Option<&str>) -> (String, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("chat.db").display());
    let log_path = dir.path().join("server.log");
    let add = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["agent", "add", "amy"])
        .env("DATABASE_URL", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("add.log")).expect("log file"))
        .spawn()
        .expect("agent add");
    use std::io::Write;
    let mut add = add;
    writeln!(add.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
    assert!(add.wait().expect("agent add ends").success());

    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"));
    server
        .env("DATABASE_URL", &db)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("AGENT_GRACE_MS", "0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"));
    match rust_log {
        Some(level) => server.env("RUST_LOG", level),
        None => server.env_remove("RUST_LOG"),
    };
    let mut child = server.spawn().expect("start the server");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://127.0.0.1:{port}");
    let ws = Transport::Websocket;

    let mut wrong = TestClient::connect_to(
        &url,
        ws,
        Some(json!({"name": "amy", "role": "agent", "password": WRONG})),
    )
    .await;
    wrong.expect("login_error").await;
    let mut amy = TestClient::connect_to(
        &url,
        ws,
        Some(json!({"name": "amy", "role": "agent", "password": PASSWORD})),
    )
    .await;
    let agent_token =
        amy.expect("login_success").await["resume"].as_str().expect("agent token").to_owned();
    let mut cat = TestClient::connect_to(&url, ws, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let token = ok["resume"].as_str().expect("token").to_owned();
    let ack = cat.emit_acked("private_message", json!({"to": "amy", "message": TEXT})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    amy.expect("message").await;
    let ack =
        amy.emit_acked("note", json!({"conversation": ok["conversation"], "text": NOTE})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let mut back = TestClient::connect_to(&url, ws, Some(json!({"resume": token}))).await;
    back.expect("login_success").await;
    let mut forged =
        TestClient::connect_to(&url, ws, Some(json!({"resume": format!("{token}x")}))).await;
    forged.expect("login_error").await;
    back.emit("logout", Value::Null).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // SIGTERM, so that everything buffered is written.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).expect("read the log");
    (log, vec![PASSWORD.into(), WRONG.into(), TEXT.into(), NOTE.into(), token, agent_token])
}

#[tokio::test]
async fn no_password_token_or_text_reaches_the_log() {
    for level in [None, Some("info,chat_server=trace")] {
        let (log, secrets) = run_and_log(level).await;
        assert!(log.contains("login"), "{level:?}: the log is written at all:\n{log}");
        for secret in &secrets {
            assert!(!log.contains(secret.as_str()), "{level:?}: {secret:?} is in the log:\n{log}");
        }
    }
}

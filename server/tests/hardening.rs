//! Bad input and abuse through the real server: other sites' pages, unknown and malformed
//! events, oversized payloads, clients that send too fast, too many logins or
//! connections from one address, and guessed agent passwords. Each time the offender is
//! told (or cut off) and everyone else carries on; nothing accepted is lost.

mod common;

use std::time::Duration;

use chat_server::limits::{Limits, Rate};
use chat_server::Settings;
use common::{http, TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;
use common::{join_by_polling, POLLING_HANDSHAKE as HANDSHAKE};

fn agent(name: &str, password: &str) -> Value {
    json!({"name": name, "role": "agent", "password": password})
}

fn with_limits(limits: Limits) -> Settings {
    Settings { limits, ..Settings::default() }
}

#[tokio::test]
async fn pages_of_other_sites_cannot_open_a_socket() {
    let server = TestServer::start().await;
    let own = format!("http://{}", server.addr);
    for (origin, expected) in [
        (Some("https://evil.example"), 403),
        (Some("null"), 403),
        (Some(own.as_str()), 200),
        (None, 200),
    ] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
        let (status, response) = http(&server, "GET", HANDSHAKE, &headers, "").await;
        assert_eq!(status, expected, "origin {origin:?}: {response}");
    }
    // The websocket upgrade itself (the hijacking vector) is refused before it happens.
    let upgrade = [
        ("Origin", "https://evil.example"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let (status, _) =
        http(&server, "GET", "/socket.io/?EIO=4&transport=websocket", &upgrade, "").await;
    assert_eq!(status, 403);
    // Pages still load from anywhere (a link is not an attack).
    let (status, _) = http(&server, "GET", "/", &[("Origin", "https://evil.example")], "").await;
    assert_eq!(status, 200);
    server.stop().await;

    // A site the operator lists may connect.
    let settings =
        Settings { allowed_origins: vec!["https://shop.example".into()], ..Settings::default() };
    let server = TestServer::start_with(settings).await;
    let (status, _) =
        http(&server, "GET", HANDSHAKE, &[("Origin", "https://shop.example")], "").await;
    assert_eq!(status, 200);
    let (status, _) =
        http(&server, "GET", HANDSHAKE, &[("Origin", "https://evil.example")], "").await;
    assert_eq!(status, 403);
    server.stop().await;
}

/// The value of `'nonce-…'` in a page's policy.
fn nonce_of(page: &str) -> String {
    page.split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in the policy")
        .to_owned()
}

#[tokio::test]
async fn pages_carry_security_headers_and_run_only_their_own_scripts() {
    let server = TestServer::start().await;
    let (status, page) = http(&server, "GET", "/", &[], "").await;
    assert_eq!(status, 200);
    let head = page.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("content-security-policy: frame-ancestors 'self'"), "{head}");
    assert!(head.contains("x-frame-options: sameorigin"), "{head}");
    // The page's script policy names a nonce, and its inline scripts carry it.
    assert!(page.contains("http-equiv=\"Content-Security-Policy\""), "{page}");
    assert!(page.contains("script-src 'self' 'nonce-"), "{page}");
    let nonce = nonce_of(&page);
    assert!(nonce.len() >= 16);
    assert!(
        page.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script has the nonce: {page}"
    );
    let (_, again) = http(&server, "GET", "/", &[], "").await;
    assert_ne!(nonce_of(&again), nonce, "a new nonce per response");
    // Assets and Socket.IO answers carry the headers too.
    let (_, health) = http(&server, "GET", "/healthz", &[], "").await;
    assert!(health.to_ascii_lowercase().contains("x-content-type-options: nosniff"));
    server.stop().await;
}

#[tokio::test]
async fn unknown_malformed_and_oversized_events_hurt_only_their_sender() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    let dan = TestClient::login(&server, WS, json!("dan")).await;
    amy.expect_list(&["amy", "cat", "dan"]).await;

    cat.emit("hack", json!({"x": 1})).await;
    assert!(cat
        .expect("error")
        .await
        .as_str()
        .unwrap()
        .contains("does not know the event \"hack\""));
    for bad in
        [json!(42), json!({"to": ["amy"]}), json!({"message": {"nested": true}}), Value::Null]
    {
        let ack = cat.emit_acked("private_message", bad.clone()).await;
        assert_eq!(ack["ok"], json!(false), "{bad}: {ack}");
    }
    cat.emit("history", json!("nonsense")).await;
    cat.expect_where("error", |e| {
        e.as_str().is_some_and(|e| e.contains("could not read that history"))
    })
    .await;
    let ack =
        cat.emit_acked("private_message", json!({"to": "amy", "message": "x".repeat(5000)})).await;
    assert!(ack["error"].as_str().unwrap().contains("at most 4000 characters"), "{ack}");
    // Still connected and heard.
    cat.emit_acked("private_message", json!({"to": "amy", "message": "still here"})).await;
    assert_eq!(amy.expect("message").await["message"], json!("still here"));

    // A frame past the transport's limit closes that connection only.
    dan.emit("private_message", json!({"to": "amy", "message": "y".repeat(300_000)})).await;
    amy.expect_list(&["amy", "cat"]).await;
    cat.emit_acked("private_message", json!({"to": "amy", "message": "after"})).await;
    assert_eq!(amy.expect("message").await["message"], json!("after"));
    amy.expect_none("error", 200).await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_sending_too_fast_is_told_to_slow_down_and_nothing_accepted_is_lost() {
    let limits = Limits {
        customer_messages: Rate::new(1.0, 5.0),
        events: Rate::new(5.0, 30.0),
        ..Limits::default()
    };
    let server = TestServer::start_with(with_limits(limits)).await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let cat = TestClient::login(&server, WS, json!("cat")).await;
    let dan = TestClient::login(&server, WS, json!("dan")).await;

    let mut accepted = vec![];
    let mut refused = 0;
    for i in 0..12 {
        let text = format!("m{i}");
        let ack = cat.emit_acked("private_message", json!({"to": "amy", "message": text})).await;
        if ack["ok"] == json!(true) {
            accepted.push(text);
        } else {
            assert!(ack["error"].as_str().unwrap().contains("sending too fast"), "{ack}");
            refused += 1;
        }
    }
    assert!(accepted.len() >= 5 && refused >= 5, "{} accepted, {refused} refused", accepted.len());
    // Everything accepted arrives, in order, and nothing else.
    for text in &accepted {
        assert_eq!(amy.expect("message").await["message"], json!(text));
    }
    amy.expect_none("message", 300).await;
    // Another customer is not slowed down by cat.
    let ack = dan.emit_acked("private_message", json!({"to": "amy", "message": "dan here"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    // Agents answer many customers: their rate is higher.
    for i in 0..10 {
        let ack = amy
            .emit_acked("private_message", json!({"to": "cat", "message": format!("a{i}")}))
            .await;
        assert_eq!(ack["ok"], json!(true), "agent message {i}: {ack}");
    }

    // Any event counts against the connection's event rate; past it, the events are
    // refused with an error and the connection stays.
    for _ in 0..60 {
        dan.emit("typing", json!({})).await;
    }
    let mut dan = dan;
    dan.expect_where("error", |e| e.as_str().is_some_and(|e| e.contains("sending too fast"))).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ack = dan.emit_acked("private_message", json!({"to": "amy", "message": "later"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    server.stop().await;
}

#[tokio::test]
async fn logins_and_connections_per_address_are_capped() {
    let limits = Limits {
        logins_per_address: Rate::new(0.01, 3.0),
        connections_per_address: 4,
        ..Limits::default()
    };
    let server = TestServer::start_with(with_limits(limits)).await;
    let mut open = vec![];
    for i in 0..3 {
        open.push(TestClient::login(&server, WS, json!(format!("c{i}"))).await);
    }
    let mut fourth = TestClient::connect(&server, WS, Some(json!("c3"))).await;
    assert!(fourth.expect("login_error").await.as_str().unwrap().contains("sending too fast"));
    // Four connections are open: a fifth may not join the namespace.
    let answer = join_by_polling(&server).await;
    assert!(answer.contains("44{") && answer.contains("Too many connections"), "{answer}");
    // One leaves; another may come.
    open.pop().unwrap().disconnect().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = join_by_polling(&server).await;
    assert!(answer.contains("40{") && !answer.contains("44{"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn wrong_agent_passwords_lock_the_name_for_a_while() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    server.add_agent("bob", "password-2").await;
    async fn try_login(server: &TestServer, login: Value) -> Value {
        let mut c = TestClient::connect(server, WS, Some(login)).await;
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let (e, v) = c.next_event().await;
                if e == "login_success" || e == "login_error" {
                    return json!({"event": e, "data": v});
                }
            }
        })
        .await
        .expect("an answer to the login")
    }
    for _ in 0..4 {
        let answer = try_login(&server, agent("amy", "guess")).await;
        assert_eq!(answer["event"], json!("login_error"));
        assert!(
            answer["data"].as_str().unwrap().contains("Wrong agent name or password"),
            "{answer}"
        );
    }
    // Locked now, even with the right password; other names are not.
    let answer = try_login(&server, agent("amy", "password-1")).await;
    assert!(answer["data"].as_str().unwrap().contains("Too many failed logins"), "{answer}");
    assert_eq!(
        try_login(&server, agent("bob", "password-2")).await["event"],
        json!("login_success")
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        try_login(&server, agent("amy", "password-1")).await["event"],
        json!("login_success")
    );
    server.stop().await;
}

/// Issue 19: a customer could call themself "аmy" (a Cyrillic а) beside the agent amy, or
/// hide characters in a name; and a customer who came back with their token was locked out
/// when someone had taken their name meanwhile.
#[tokio::test]
async fn names_that_pass_for_an_agents_are_refused_and_a_returning_customer_gets_in() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    for (name, problem) in [
        ("\u{430}my", app::protocol::Problem::NameReserved),
        ("AMY", app::protocol::Problem::NameReserved),
        ("arny", app::protocol::Problem::NameReserved),
        ("\u{202E}yma", app::protocol::Problem::NameInvisibleChars),
        ("am\u{200B}y", app::protocol::Problem::NameInvisibleChars),
    ] {
        let mut c = TestClient::connect(&server, WS, Some(json!(name))).await;
        assert_eq!(c.expect("login_error").await, json!(problem.to_string()), "{name:?}");
    }
    // NFKC: the full-width name is the plain one.
    let mut wide = TestClient::connect(&server, WS, Some(json!("ｃａｔ"))).await;
    assert_eq!(wide.expect("login_success").await["name"], json!("cat"));
    wide.disconnect().await;

    // Ann leaves; someone else takes "Ann"; Ann comes back with her token: she gets in, and
    // while both are online the one who came back second is "Ann (2)".
    let mut ann = TestClient::connect(&server, WS, Some(json!("Ann"))).await;
    let ok = ann.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    ann.disconnect().await;
    let mut other = TestClient::login(&server, WS, json!("ann")).await;
    let mut back = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    let ok = back.expect("login_success").await;
    assert_eq!((ok["name"].clone(), ok["conversation"].clone()), (json!("Ann (2)"), conversation));
    let mut amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    amy.expect_list(&["amy", "ann", "Ann (2)"]).await;
    // A new customer still may not take a name someone holds (the tutorial's rule).
    let mut third = TestClient::connect(&server, WS, Some(json!("ANN"))).await;
    assert_eq!(
        third.expect("login_error").await,
        json!(app::protocol::Problem::NameTaken.to_string())
    );
    other.expect_list(&["amy", "ann"]).await;
    server.stop().await;
}

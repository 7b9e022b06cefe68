//! The real server driven by a real Socket.IO client, over websocket and long-polling.

mod common;

use common::{TestClient, TestServer, Transport, TRANSPORTS};
use serde_json::{json, Value};

fn agent(name: &str, password: &str) -> Value {
    json!({"name": name, "role": "agent", "password": password})
}

/// The tutorial's client, step by step, with bare-string logins; an agent is there to talk to.
#[tokio::test]
async fn the_tutorial_client_flow_works_unchanged_on_both_transports() {
    for transport in TRANSPORTS {
        let server = TestServer::start().await;
        server.add_agent("Support", "s3cret-pass").await;
        let mut support =
            TestClient::login(&server, transport, agent("support", "s3cret-pass")).await;
        support.expect_list(&["Support"]).await;

        // login: a bare string, emitted inside the connect callback.
        let mut alice = TestClient::connect(&server, transport, Some(json!("alice"))).await;
        let ok = alice.expect("login_success").await;
        assert_eq!(
            (&ok["name"], &ok["role"]),
            (&json!("alice"), &json!("customer")),
            "{transport:?}"
        );
        alice.expect_list(&["alice", "Support"]).await;
        support.expect_list(&["alice", "Support"]).await;

        // A taken name is refused with a readable string.
        let mut dup = TestClient::connect(&server, transport, Some(json!("alice"))).await;
        let err = dup.expect("login_error").await;
        assert!(err.as_str().unwrap().contains("taken"), "{err}");

        // private_message -> message to both sides, with `self`.
        alice
            .emit("private_message", json!({"to": "Support", "message": "my order is late"}))
            .await;
        let mine = alice.expect("message").await;
        assert_eq!(
            (
                mine["from"].as_str(),
                mine["to"].as_str(),
                mine["message"].as_str(),
                mine["self"].as_bool()
            ),
            (Some("alice"), Some("Support"), Some("my order is late"), Some(true))
        );
        let theirs = support.expect("message").await;
        assert_eq!(theirs["self"], json!(false));
        assert_eq!(theirs["from"], json!("alice"));
        assert_eq!(theirs["id"], mine["id"], "both copies carry the same id");

        support.emit("private_message", json!({"to": "alice", "message": "Looking into it"})).await;
        assert_eq!(alice.expect("message").await["message"], json!("Looking into it"));
        let echo = support.expect("message").await;
        assert_eq!(
            (echo["message"].as_str(), echo["self"].as_bool()),
            (Some("Looking into it"), Some(true))
        );

        // An unknown recipient gets `error`, and the connection stays usable.
        alice.emit("private_message", json!({"to": "nobody", "message": "hello?"})).await;
        assert!(alice.expect("error").await.is_string());
        alice.emit("private_message", json!({"to": "Support", "message": "still here"})).await;
        assert_eq!(support.expect("message").await["message"], json!("still here"));

        // Presence: alice leaves, the agent's list updates.
        alice.disconnect().await;
        support.expect_list(&["Support"]).await;
        dup.disconnect().await;
        support.disconnect().await;
        server.stop().await;
    }
}

#[tokio::test]
async fn customers_see_only_agents_and_cannot_write_to_each_other() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut a = TestClient::login(&server, Transport::Websocket, agent("amy", "password-1")).await;
    let mut c1 = TestClient::login(&server, Transport::Websocket, json!("cat")).await;
    let mut c2 = TestClient::login(&server, Transport::Polling, json!("dan")).await;

    a.expect_list(&["amy", "cat", "dan"]).await;
    assert_eq!(c1.latest_list().await, vec!["amy", "cat"]);
    assert_eq!(c2.latest_list().await, vec!["amy", "dan"]);

    c1.emit("private_message", json!({"to": "dan", "message": "hi dan"})).await;
    let err = c1.expect("error").await;
    assert!(err.as_str().unwrap().contains("dan"), "{err}");
    c2.expect_none("message", 300).await;

    // The agent may write to either.
    a.emit("private_message", json!({"to": "dan", "message": "hello dan"})).await;
    assert_eq!(c2.expect("message").await["from"], json!("amy"));
    server.stop().await;
}

#[tokio::test]
async fn agents_need_their_password_and_customers_cannot_take_an_agent_name() {
    let server = TestServer::start().await;
    server.add_agent("Amy", "right-password").await;

    for (login, needle) in [
        (agent("amy", "wrong-password"), "password"),
        (json!({"name": "amy", "role": "agent"}), "password"),
        (agent("ghost", "right-password"), "password"),
        (json!("amy"), "agent"),
        (json!({"name": "AMY"}), "agent"),
        (json!("   "), "name"),
        (json!("x".repeat(33)), "32"),
        (json!("bad\u{7}name"), "control"),
    ] {
        let mut c = TestClient::connect(&server, Transport::Websocket, Some(login.clone())).await;
        let err = c.expect("login_error").await;
        assert!(err.as_str().unwrap().contains(needle), "{login} -> {err}");
        c.disconnect().await;
    }

    // The right password logs in, with the account's spelling of the name.
    let mut a =
        TestClient::connect(&server, Transport::Websocket, Some(agent(" amy ", "right-password")))
            .await;
    let ok = a.expect("login_success").await;
    assert_eq!((&ok["name"], &ok["role"]), (&json!("Amy"), &json!("agent")));
    server.stop().await;
}

#[tokio::test]
async fn malformed_payloads_get_an_error_and_the_connection_stays_up() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut a = TestClient::login(&server, Transport::Websocket, agent("amy", "password-1")).await;

    let mut c = TestClient::connect(&server, Transport::Websocket, Some(json!(42))).await;
    assert!(c.expect("login_error").await.as_str().unwrap().contains("login"));
    c.emit("login", json!({"name": "cat", "role": "boss"})).await;
    c.expect("login_error").await;
    c.emit("private_message", json!({"to": "amy", "message": "before login"})).await;
    assert!(c.expect("error").await.as_str().unwrap().contains("log in"));

    c.emit("login", json!("cat")).await;
    c.expect("login_success").await;
    for bad in [
        json!("just a string"),
        json!({"to": "amy"}),
        json!({"to": 5, "message": "hi"}),
        json!([1, 2]),
    ] {
        c.emit("private_message", bad.clone()).await;
        let err = c.expect("error").await;
        assert!(err.as_str().unwrap().contains("private_message"), "{bad} -> {err}");
    }
    c.emit("private_message", json!({"to": "amy", "message": "   "})).await;
    assert!(c.expect("error").await.as_str().unwrap().contains("empty"));
    c.emit("private_message", json!({"to": "amy", "message": "y".repeat(4001)})).await;
    assert!(c.expect("error").await.as_str().unwrap().contains("4000"));
    c.emit("login", json!("again")).await;
    assert!(c.expect("login_error").await.as_str().unwrap().contains("already"));

    // Nothing of that reached the agent, and the customer can still talk.
    c.emit("private_message", json!({"to": "amy", "message": "ok now"})).await;
    assert_eq!(a.expect("message").await["message"], json!("ok now"));
    a.expect_none("error", 200).await;
    server.stop().await;
}

#[tokio::test]
async fn a_message_sent_with_an_ack_is_acknowledged_with_its_id_or_the_error() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let _a = TestClient::login(&server, Transport::Websocket, agent("amy", "password-1")).await;
    let mut c = TestClient::login(&server, Transport::Websocket, json!("cat")).await;

    for (to, ok) in [("amy", true), ("nobody", false)] {
        let ack = c.emit_acked("private_message", json!({"to": to, "message": "acked"})).await;
        assert_eq!(ack["ok"], json!(ok), "{ack}");
        if ok {
            let echoed = c.expect("message").await;
            assert_eq!(ack["id"], echoed["id"]);
        } else {
            assert!(ack["error"].as_str().unwrap().contains("nobody"));
        }
    }
    server.stop().await;
}

/// socketioxide runs each event handler as its own task; the server must still handle
/// one client's events in the order they were sent.
#[tokio::test]
async fn one_clients_messages_arrive_in_the_order_sent() {
    for transport in TRANSPORTS {
        // Sixty messages at once: past a customer's rate, on purpose.
        let server = TestServer::start_unlimited().await;
        server.add_agent("amy", "password-1").await;
        let mut a =
            TestClient::login(&server, Transport::Websocket, agent("amy", "password-1")).await;
        // Log in and write at once, without waiting for login_success in between.
        let c = TestClient::connect(&server, transport, None).await;
        c.emit("login", json!("cat")).await;
        for i in 0..60 {
            c.emit("private_message", json!({"to": "amy", "message": format!("m{i}")})).await;
        }
        for i in 0..60 {
            assert_eq!(
                a.expect("message").await["message"],
                json!(format!("m{i}")),
                "{transport:?}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn shutdown_completes_with_clients_still_connected() {
    let server = TestServer::start().await;
    let _c1 = TestClient::login(&server, Transport::Websocket, json!("cat")).await;
    let _c2 = TestClient::login(&server, Transport::Polling, json!("dan")).await;
    server.stop().await; // panics if it does not finish within the wait
}

/// A message reaches every tab of the agent who has it and every admin, once each, and its
/// author's tabs say it is theirs (`self`) while nobody else's do. The server encodes a copy
/// once for the connections that get it alike (issue 20), so this is what would show a copy
/// encoded for one reader reaching another.
#[tokio::test]
async fn every_tab_gets_each_message_once_and_only_its_authors_tabs_are_told_it_is_theirs() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    server.add_admin("ada", "password-2").await;
    let ws = Transport::Websocket;
    let mut amy1 = TestClient::login(&server, ws, agent("amy", "password-1")).await;
    let mut amy2 = TestClient::login(&server, ws, agent("amy", "password-1")).await;
    let mut cat = TestClient::login(&server, ws, json!("cat")).await;

    let ack = cat.emit_acked("private_message", json!({"message": "my order is late"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let from_cat = |m: &Value| m["message"] == json!("my order is late");
    let cats = cat.expect_where("message", from_cat).await;
    assert_eq!(cats["self"], json!(true), "{cats}");
    for tab in [&mut amy1, &mut amy2] {
        let m = tab.expect_where("message", from_cat).await;
        assert_eq!(
            (&m["self"], &m["seq"], &m["customer"]),
            (&json!(false), &cats["seq"], &json!("cat")),
            "{m}"
        );
    }
    // An admin who comes now sees the conversation Amy has.
    let mut ada = TestClient::login(
        &server,
        ws,
        json!({"name": "ada", "role": "agent", "password": "password-2"}),
    )
    .await;

    let conversation = cats["conversation"].clone();
    let ack = amy1
        .emit_acked(
            "private_message",
            json!({"conversation": conversation, "message": "sorry, looking now"}),
        )
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let from_amy = |m: &Value| m["message"] == json!("sorry, looking now");
    for (who, tab, mine) in [
        ("amy1", &mut amy1, true),
        ("amy2", &mut amy2, true),
        ("ada", &mut ada, false),
        ("cat", &mut cat, false),
    ] {
        let m = tab.expect_where("message", from_amy).await;
        assert_eq!(m["self"], json!(mine), "{who}: {m}");
        tab.expect_none("message", 0).await;
    }
    server.stop().await;
}

//! `/metrics`: Prometheus's text format for the bearer of the operator's token, with the
//! counters moving as the desk works. The recorder is the process's, so this file holds one
//! test: nothing else in this process counts meanwhile.

mod common;

use std::collections::BTreeMap;

use chat_server::store::testing::{postgres_database, redis_database};
use common::{http, TestClient, TestServer, Transport};
use serde_json::json;

const TOKEN: &str = "a-metrics-token-for-the-tests-0123";

/// One sample of the page: its name, its labels and its value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn samples(page: &str) -> Vec<Sample> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split(',')
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{line}"));
                            (k.to_owned(), v.trim_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            let value = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
            Sample { name: name.to_owned(), labels, value }
        })
        .collect()
}

/// The value of `name` with (at least) these labels, summed over the rest; 0 if absent.
fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(page)
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

async fn scrape(server: &TestServer) -> String {
    let bearer = format!("Bearer {TOKEN}");
    let (status, response) =
        http(server, "GET", "/metrics", &[("Authorization", &bearer)], "").await;
    assert_eq!(status, 200, "{response}");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

fn with_token(settings: chat_server::Settings) -> chat_server::Settings {
    chat_server::Settings { metrics_token: Some(TOKEN.into()), ..settings }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_scrapes_what_the_desk_did_and_nobody_else_can() {
    // Without a token configured there is no such page.
    let plain = TestServer::start().await;
    let (status, _) = http(&plain, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 404);
    let (status, _) =
        http(&plain, "GET", "/metrics", &[("Authorization", &format!("Bearer {TOKEN}"))], "").await;
    assert_eq!(status, 404);
    plain.stop().await;

    // A customer may send three messages, then one every ten seconds.
    let limits = chat_server::limits::Limits {
        customer_messages: chat_server::limits::Rate::new(0.1, 3.0),
        ..Default::default()
    };
    let server =
        TestServer::start_with(with_token(chat_server::Settings { limits, ..Default::default() }))
            .await;
    // Without the token, or with another, nothing is shown.
    for auth in [None, Some("Bearer not-the-token-at-all-0123456"), Some(TOKEN)] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let (status, response) = http(&server, "GET", "/metrics", &headers, "").await;
        assert_eq!(status, 401, "{auth:?}: {response}");
        assert!(response.to_ascii_lowercase().contains("www-authenticate: bearer"), "{response}");
        assert!(!response.contains("chat_"), "{response}");
    }
    let before = scrape(&server).await;
    assert!(before.contains("# HELP chat_connections"), "{before}");

    // A customer writes while no agent is online: the conversation waits.
    let cat = TestClient::login(&server, Transport::Polling, json!("cat")).await;
    let ack = cat.emit_acked("private_message", json!({"message": "is anyone there?"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let waiting = scrape(&server).await;
    assert_eq!(value(&waiting, "chat_queue_length", &[]), 1.0, "{waiting}");
    let oldest = value(&waiting, "chat_queue_oldest_wait_seconds", &[]);
    assert!(waiting.contains("\nchat_queue_oldest_wait_seconds ") && oldest < 60.0, "{waiting}");
    let polling_customer = [("transport", "polling"), ("role", "customer")];
    assert_eq!(value(&waiting, "chat_connections", &polling_customer), 1.0, "{waiting}");

    // An agent mistypes their password, then logs in and is given the waiting conversation.
    server.add_agent("amy", "password-1").await;
    let mut wrong = TestClient::connect(
        &server,
        Transport::Websocket,
        Some(json!({"name": "amy", "role": "agent", "password": "password-2"})),
    )
    .await;
    wrong.expect("login_error").await;
    wrong.disconnect().await;
    // And in the console's login form (`POST /session`).
    let body = json!({"name": "amy", "password": "password-3"}).to_string();
    let json_body = [("Content-Type", "application/json")];
    let (status, response) = http(&server, "POST", "/session", &json_body, &body).await;
    assert_eq!(status, 401, "{response}");
    let mut amy = TestClient::login(
        &server,
        Transport::Websocket,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
    amy.expect_opened("cat").await;

    // The customer writes faster than they may: the fourth is refused.
    let mut accepted = 1;
    let refused = loop {
        assert!(accepted < 10, "no message was refused");
        let ack =
            cat.emit_acked("private_message", json!({"message": format!("m{accepted}")})).await;
        if ack["ok"] != json!(true) {
            break ack;
        }
        accepted += 1;
    };
    assert!(refused["error"].as_str().unwrap_or_default().contains("fast"), "{refused}");

    let after = scrape(&server).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(moved("chat_logins_total", &[("role", "customer")]) >= 1.0, "{after}");
    assert!(moved("chat_logins_total", &[("role", "agent")]) >= 1.0, "{after}");
    assert_eq!(moved("chat_login_refusals_total", &[("reason", "wrong_password")]), 2.0, "{after}");
    assert!(moved("chat_rate_limited_total", &[("limit", "messages")]) >= 1.0, "{after}");
    let stored = moved("chat_messages_stored_total", &[]);
    assert_eq!(stored, accepted as f64, "{accepted} accepted: {after}");
    // The first reached the customer alone; each after Amy came, her and the customer.
    let delivered = moved("chat_messages_delivered_total", &[]);
    assert_eq!(delivered, (1 + 2 * (accepted - 1)) as f64, "{accepted} accepted: {after}");
    let commits = moved("chat_commit_seconds_count", &[]);
    assert!(commits >= 1.0, "{after}");
    assert_eq!(
        value(&after, "chat_commit_seconds_bucket", &[("le", "+Inf")]),
        value(&after, "chat_commit_seconds_count", &[])
    );
    assert!(moved("chat_commit_seconds_sum", &[]) > 0.0, "{after}");
    assert_eq!(moved("chat_queue_wait_seconds_count", &[]), 1.0, "{after}");
    let waited = moved("chat_queue_wait_seconds_sum", &[]);
    assert!((0.0..60.0).contains(&waited), "waited {waited} s: {after}");
    assert_eq!(value(&after, "chat_queue_length", &[]), 0.0, "{after}");
    assert_eq!(value(&after, "chat_connections", &polling_customer), 1.0, "{after}");
    let websocket_agent = [("transport", "websocket"), ("role", "agent")];
    assert_eq!(value(&after, "chat_connections", &websocket_agent), 1.0, "{after}");
    server.stop().await;

    // The database fails (full): counted.
    let settings = chat_server::Settings {
        limits: chat_server::limits::Limits::unlimited(),
        ..with_token(Default::default())
    };
    let full = TestServer::start_capped(settings, 512 * 1024).await;
    let before = scrape(&full).await;
    let dog = TestClient::login(&full, Transport::Websocket, json!("dog")).await;
    let big = "x".repeat(3000);
    for i in 0.. {
        assert!(i < 1000, "the database never filled up");
        let ack = dog.emit_acked("private_message", json!({"message": format!("{i} {big}")})).await;
        if ack["ok"] != json!(true) {
            break;
        }
    }
    let after = scrape(&full).await;
    let failed = value(&after, "chat_database_errors_total", &[])
        - value(&before, "chat_database_errors_total", &[]);
    assert!(failed >= 1.0, "{after}");
    full.stop().await;

    // Two nodes: the one whose customer wrote stored it; the other applied the stream and
    // says how far behind it was.
    let (db, redis) = (postgres_database().await, redis_database().await);
    let a = TestServer::start_node_with(&db, &redis, with_token(Default::default())).await;
    let b = TestServer::start_node_with(&db, &redis, with_token(Default::default())).await;
    a.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(
        &b,
        Transport::Websocket,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
    let ann = TestClient::login(&a, Transport::Websocket, json!("ann")).await;
    let ack = ann.emit_acked("private_message", json!({"message": "across the nodes"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    amy.expect_where("message", |m| m["message"] == json!("across the nodes")).await;
    let on_b = scrape(&b).await;
    let lag = value(&on_b, "chat_cluster_stream_lag_seconds", &[]);
    assert!(on_b.contains("\nchat_cluster_stream_lag_seconds "), "{on_b}");
    assert!((0.0..30.0).contains(&lag), "lag {lag} s: {on_b}");
    // Each node counts its own connections.
    let websocket_agent = [("transport", "websocket"), ("role", "agent")];
    assert_eq!(value(&on_b, "chat_connections", &websocket_agent), 1.0, "{on_b}");
    let websocket_customer = [("transport", "websocket"), ("role", "customer")];
    assert_eq!(value(&on_b, "chat_connections", &websocket_customer), 0.0, "{on_b}");
    b.stop().await;
    a.stop().await;
}

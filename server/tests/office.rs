//! Office hours: outside them, a customer is told so at login, and what they write still
//! reaches the agents.

mod common;

use chat_server::hours::OfficeHours;
use common::{TestClient, TestServer, Transport};
use serde_json::json;

const WS: Transport = Transport::Websocket;

/// Hours that are never now: one hour, two days from today.
fn closed_now() -> OfficeHours {
    let now_days =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            / 86_400;
    // 1970-01-01 was a Thursday (index 3, Monday first).
    let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][((now_days + 3 + 2) % 7) as usize];
    OfficeHours::parse(&format!("{day} 09:00-10:00; UTC+00:00")).unwrap()
}

#[tokio::test]
async fn outside_office_hours_customers_are_told_and_their_messages_wait() {
    let hours = closed_now();
    let text = hours.to_string();
    let server = TestServer::start_with(chat_server::Settings {
        office_hours: Some(hours),
        ..Default::default()
    })
    .await;
    server.add_agent("amy", "password-1").await;
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    assert_eq!(cat.expect("office").await, json!({"open": false, "hours": text}));
    let ack = cat.emit_acked("private_message", json!({"message": "are you there?"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    // Agents are not told (they are the desk); the message is waiting for them.
    let mut amy = TestClient::login(
        &server,
        WS,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
    let page = amy.expect_history(&ack["conversation"]).await;
    assert_eq!(page["messages"][0]["message"], json!("are you there?"), "{page}");
    amy.expect_none("office", 300).await;
    server.stop().await;
}

#[tokio::test]
async fn within_office_hours_customers_are_told_the_desk_is_open() {
    let hours = OfficeHours::parse("Mon-Sun 00:00-24:00").unwrap();
    let server = TestServer::start_with(chat_server::Settings {
        office_hours: Some(hours),
        ..Default::default()
    })
    .await;
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    assert_eq!(cat.expect("office").await["open"], json!(true));
    server.stop().await;
}

#[tokio::test]
async fn without_office_hours_nothing_is_said() {
    let server = TestServer::start().await;
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    cat.expect_none("office", 300).await;
    server.stop().await;
}

//! Storage failing under the chat: the sender is told clearly, nothing unsaved is
//! delivered or acknowledged, and the message goes through once when it is sent again.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use chat_server::store::Store;
use common::{TestClient, TestServer, Transport};
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, SqliteConnection};

const WS: Transport = Transport::Websocket;

#[tokio::test]
async fn a_locked_database_refuses_the_message_and_a_retry_stores_it_once() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, json!({"name": "amy", "role": "agent", "password": "password-1"})).await;
    let cat = TestClient::login(&server, WS, json!("cat")).await;
    let message = json!({"to": "amy", "message": "are you there?", "client_id": "cat-1"});

    // Another process holds the database's write lock longer than the server waits for it.
    let options = SqliteConnectOptions::from_str(&server.database_url).expect("url");
    let mut other = SqliteConnection::connect_with(&options).await.expect("second connection");
    other.execute("BEGIN EXCLUSIVE").await.expect("lock");
    let started = Instant::now();
    let ack = cat.emit_acked("private_message", message.clone()).await;
    assert_eq!(ack["ok"], json!(false), "{ack}");
    assert!(ack["error"].as_str().unwrap().contains("could not be saved"), "{ack}");
    println!("refused after {:?} with the database locked", started.elapsed());
    amy.expect_none("message", 300).await;

    // The lock goes; the same message (same client id) is sent again and arrives once.
    other.execute("ROLLBACK").await.expect("unlock");
    let ack = cat.emit_acked("private_message", message.clone()).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(amy.expect("message").await["message"], json!("are you there?"));
    let again = cat.emit_acked("private_message", message).await;
    assert_eq!((again["ok"].clone(), again["seq"].clone()), (json!(true), ack["seq"].clone()), "a resend is the same message");
    amy.expect_none("message", 300).await;
    let stored = server.store.messages_after(app::protocol::ConversationId(ack["conversation"].as_u64().unwrap()), 0, 10).await.unwrap();
    assert_eq!(stored.len(), 1, "stored once");
    tokio::time::timeout(Duration::from_secs(5), server.stop()).await.expect("stops");
}

/// An agent whose client stops reading (a frozen tab, a dead network that TCP has not
/// noticed): what the server holds for it is bounded, and it is cut off — the heartbeat
/// cannot get through a full buffer — so it reconnects and catches up from storage, while
/// the customer writing to it carries on.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_the_sender_carries_on() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let settings = chat_server::Settings {
        limits: chat_server::limits::Limits::unlimited(),
        ping_interval: Duration::from_secs(2),
        ping_timeout: Duration::from_secs(2),
        agent_grace: Duration::ZERO,
        ..Default::default()
    };
    let server = TestServer::start_with(settings).await;
    server.add_agent("amy", "password-1").await;
    // A raw websocket client with a tiny receive buffer, so that the server's buffers fill.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small receive buffer");
    let stream = socket.connect(server.addr).await.expect("connect");
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.expect("websocket");
    // The next frame that is not a heartbeat (answered while amy still reads).
    let next_text = async |ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>| loop {
        match ws.next().await.expect("open").expect("frame") {
            Message::Text(t) if t.as_str() == "2" => ws.send(Message::text("3")).await.expect("pong"),
            Message::Text(t) => return t.to_string(),
            _ => continue,
        }
    };
    assert!(next_text(&mut ws).await.starts_with('0'), "engine.io open");
    ws.send(Message::text("40")).await.expect("join");
    assert!(next_text(&mut ws).await.starts_with("40"), "joined");
    ws.send(Message::text(r#"42["login",{"name":"amy","role":"agent","password":"password-1"}]"#)).await.expect("login");
    while !next_text(&mut ws).await.contains("login_success") {}
    // From here on amy reads nothing.

    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    cat.expect_list(&["amy", "cat"]).await;
    let started = Instant::now();
    let big = "x".repeat(3000);
    let mut sent = 0;
    let gone = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "amy was never cut off ({sent} messages sent)");
        for _ in 0..20 {
            cat.emit("private_message", json!({"to": "amy", "message": big})).await;
            sent += 1;
        }
        // Every message is still accepted while amy is stuck.
        let ack = cat.emit_acked("private_message", json!({"to": "amy", "message": "still accepted?"})).await;
        assert_eq!(ack["ok"], json!(true), "{ack}");
        sent += 1;
        if !cat.latest_list().await.contains(&"amy".to_owned()) {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("the stuck agent was cut off after {gone:?} and {sent} messages");
    cat.expect_list(&["cat"]).await;
    drop(ws);
    server.stop().await;
}

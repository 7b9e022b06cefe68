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

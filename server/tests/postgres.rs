//! The whole server on PostgreSQL (`DATABASE_URL=postgres://…`): logins, the queue, a
//! conversation both ways, a restart, and the customer's return with their history.

mod common;

use common::{texts, TestClient, TestServer, Transport};
use serde_json::json;

const WS: Transport = Transport::Websocket;

#[tokio::test]
async fn a_conversation_on_postgres_survives_a_restart() {
    let server = TestServer::start_postgres().await;
    assert!(server.database_url.starts_with("postgres://"));
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(
        &server,
        WS,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    let ack = cat
        .emit_acked("private_message", json!({"message": "my order is late", "client_id": "c1"}))
        .await;
    assert_eq!((ack["ok"].clone(), ack["seq"].clone()), (json!(true), json!(1)), "{ack}");
    assert_eq!(amy.expect("message").await["message"], json!("my order is late"));
    let taken = amy.expect_where("conversation", |c| c["status"] == json!("open")).await;
    assert_eq!(taken["assignee"], json!("amy"), "the queue gave it to the only agent: {taken}");
    amy.emit("private_message", json!({"conversation": conversation, "message": "let me look"}))
        .await;
    cat.expect_where("message", |m| m["message"] == json!("let me look")).await;
    // A resend is the same message.
    let again = cat
        .emit_acked("private_message", json!({"message": "my order is late", "client_id": "c1"}))
        .await;
    assert_eq!(again["id"], ack["id"]);
    drop((amy, cat));

    let server = server.restart().await;
    let mut cat = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    let back = cat.expect("login_success").await;
    assert_eq!(back["conversation"], conversation);
    assert_eq!(
        texts(&cat.expect_history(&conversation).await),
        vec!["my order is late", "let me look"]
    );
    server.stop().await;
}

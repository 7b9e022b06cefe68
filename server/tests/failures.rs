//! Storage failing under the chat: the sender is told clearly, nothing unsaved is
//! delivered or acknowledged, and the message goes through once when it is sent again.

mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{TestClient, TestServer, Transport};
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, SqliteConnection};

const WS: Transport = Transport::Websocket;

#[tokio::test]
async fn a_locked_database_refuses_the_message_and_a_retry_stores_it_once() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(
        &server,
        WS,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
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
    assert_eq!(
        (again["ok"].clone(), again["seq"].clone()),
        (json!(true), ack["seq"].clone()),
        "a resend is the same message"
    );
    amy.expect_none("message", 300).await;
    let stored = server
        .store
        .messages_after(app::protocol::ConversationId(ack["conversation"].as_u64().unwrap()), 0, 10)
        .await
        .unwrap();
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
            Message::Text(t) if t.as_str() == "2" => {
                ws.send(Message::text("3")).await.expect("pong")
            }
            Message::Text(t) => return t.to_string(),
            _ => continue,
        }
    };
    assert!(next_text(&mut ws).await.starts_with('0'), "engine.io open");
    ws.send(Message::text("40")).await.expect("join");
    assert!(next_text(&mut ws).await.starts_with("40"), "joined");
    ws.send(Message::text(r#"42["login",{"name":"amy","role":"agent","password":"password-1"}]"#))
        .await
        .expect("login");
    while !next_text(&mut ws).await.contains("login_success") {}
    // From here on amy reads nothing.

    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    cat.expect_list(&["amy", "cat"]).await;
    let started = Instant::now();
    let big = "x".repeat(3000);
    let mut sent = 0;
    let gone = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "amy was never cut off ({sent} messages sent)"
        );
        for _ in 0..20 {
            cat.emit("private_message", json!({"to": "amy", "message": big})).await;
            sent += 1;
        }
        // Every message is still accepted while amy is stuck.
        let ack = cat
            .emit_acked("private_message", json!({"to": "amy", "message": "still accepted?"}))
            .await;
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

/// The disk fills up (here: the database reaches its size cap, which SQLite reports as a
/// full disk). Every message acknowledged before is stored and delivered; each one after
/// is refused with a clear error and delivered to nobody; once there is room again (a
/// restart without the cap), the refused message sent again is stored once.
#[tokio::test]
async fn a_full_disk_refuses_messages_clearly_and_loses_none_accepted() {
    let settings = chat_server::Settings {
        limits: chat_server::limits::Limits::unlimited(),
        ..Default::default()
    };
    let server = TestServer::start_capped(settings, 512 * 1024).await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(
        &server,
        WS,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let (resume, conversation) =
        (ok["resume"].clone(), ok["conversation"].as_u64().expect("a conversation"));
    let big = "x".repeat(3000);
    let mut accepted = vec![];
    let refused = loop {
        assert!(accepted.len() < 1000, "the database never filled up");
        let id = format!("cat-{}", accepted.len());
        let ack = cat
            .emit_acked(
                "private_message",
                json!({"message": format!("{id} {big}"), "client_id": id}),
            )
            .await;
        if ack["ok"] == json!(true) {
            accepted.push(ack["seq"].as_u64().expect("a sequence number"));
            continue;
        }
        assert!(ack["error"].as_str().unwrap().contains("could not be saved"), "{ack}");
        break (id, ack);
    };
    println!("the database filled up after {} messages; then: {}", accepted.len(), refused.1);
    // Sent again while the disk is still full, it is refused again.
    let (id, _) = &refused;
    let again = cat
        .emit_acked("private_message", json!({"message": format!("{id} {big}"), "client_id": id}))
        .await;
    assert_eq!(again["ok"], json!(false), "{again}");

    // The agent got exactly the accepted ones, in order, and nothing refused.
    let mut delivered = vec![];
    while delivered.len() < accepted.len() {
        let m = amy.expect("message").await;
        delivered.push(m["seq"].as_u64().unwrap());
    }
    assert_eq!(delivered, accepted);
    amy.expect_none("message", 300).await;
    let stored = server
        .store
        .messages_after(app::protocol::ConversationId(conversation), 0, 2000)
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        accepted,
        "stored: the accepted ones only"
    );
    drop(cat);

    // Room again: the refused message, sent once more, is stored after the others.
    let server = server.restart().await;
    let mut cat = TestClient::login(&server, WS, json!({"resume": resume})).await;
    let (id, _) = refused;
    let ack = cat
        .emit_acked("private_message", json!({"message": format!("{id} {big}"), "client_id": id}))
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(ack["seq"].as_u64(), Some(accepted.len() as u64 + 1));
    let _ = cat.expect("history").await;
    server.stop().await;
}

/// The database file is deleted under the running server (a slip at the shell, a deploy
/// script wiping the data directory). SQLite would go on writing to the unlinked file and
/// lose it all at the next start; instead every write after it is refused: the sender is
/// told, nobody receives the message, and a new customer cannot start a conversation that
/// would vanish.
#[tokio::test]
async fn a_deleted_database_refuses_writes_instead_of_losing_them() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(
        &server,
        WS,
        json!({"name": "amy", "role": "agent", "password": "password-1"}),
    )
    .await;
    let cat = TestClient::login(&server, WS, json!("cat")).await;
    let ack =
        cat.emit_acked("private_message", json!({"message": "before", "client_id": "cat-1"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(amy.expect("message").await["message"], json!("before"));

    let path = server.database_path();
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        std::fs::remove_file(&file).unwrap_or_else(|e| panic!("removing {file:?}: {e}"));
    }
    let ack =
        cat.emit_acked("private_message", json!({"message": "after", "client_id": "cat-2"})).await;
    assert_eq!(ack["ok"], json!(false), "{ack}");
    assert!(ack["error"].as_str().unwrap().contains("could not be saved"), "{ack}");
    amy.expect_none("message", 300).await;
    // A new customer's login stores nothing; their first message is refused the same way.
    let dan = TestClient::login(&server, WS, json!("dan")).await;
    let ack = dan.emit_acked("private_message", json!({"message": "hello?"})).await;
    assert_eq!(ack["ok"], json!(false), "{ack}");
    assert!(ack["error"].as_str().unwrap().contains("could not be saved"), "{ack}");
    tokio::time::timeout(Duration::from_secs(5), server.stop()).await.expect("stops");
}

/// A shutdown (SIGTERM, a deploy) while messages are still being stored: each one taken
/// in is stored and acknowledged before the connections close, and they close as a
/// transport closes (Engine.IO `close`), which makes Socket.IO clients reconnect, not as a
/// Socket.IO disconnect, after which the tutorial's client would stay away.
#[tokio::test]
async fn a_shutdown_answers_every_message_taken_in_then_tells_clients_to_reconnect() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start_unlimited().await;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
    let mut frames = vec![];
    // The next frame that is not a heartbeat (answered).
    async fn text(
        ws: &mut tokio_tungstenite::WebSocketStream<
            impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        >,
    ) -> Option<String> {
        loop {
            match ws.next().await? {
                Ok(Message::Text(t)) if t.as_str() == "2" => {
                    ws.send(Message::text("3")).await.ok()?
                }
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
    let open = text(&mut ws).await.unwrap();
    assert!(open.starts_with('0'), "engine.io open: {open}");
    ws.send(Message::text("40")).await.unwrap();
    let joined = text(&mut ws).await.unwrap();
    assert!(joined.starts_with("40"), "joined: {joined}");
    ws.send(Message::text(r#"42["login","cat"]"#)).await.unwrap();
    while !text(&mut ws).await.unwrap().contains("login_success") {}

    // The database is busy (another process holds the write lock for a second): the
    // messages wait in the pipeline while the shutdown begins.
    let options = SqliteConnectOptions::from_str(&server.database_url).expect("url");
    let mut other = SqliteConnection::connect_with(&options).await.expect("second connection");
    other.execute("BEGIN EXCLUSIVE").await.expect("lock");
    const SENT: u64 = 20;
    for i in 1..=SENT {
        let event = json!(["private_message", {"message": format!("message {i}"), "client_id": format!("cat-{i}")}]);
        ws.send(Message::text(format!("42{i}{event}"))).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let unlock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        other.execute("ROLLBACK").await.expect("unlock");
    });
    let store = server.store.clone();
    let stopping = tokio::spawn(server.stop());
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(15), text(&mut ws))
        .await
        .expect("the server closes")
    {
        frames.push(frame);
    }
    stopping.await.expect("stopped");
    unlock.await.expect("unlocked");

    let acked: Vec<u64> = frames
        .iter()
        .filter_map(|f| f.strip_prefix("43"))
        .filter(|rest| rest.contains(r#""ok":true"#))
        .filter_map(|rest| rest.split('[').next()?.parse().ok())
        .collect();
    assert_eq!(
        acked,
        (1..=SENT).collect::<Vec<_>>(),
        "every message answered, in order: {frames:?}"
    );
    assert_eq!(
        frames.last().map(String::as_str),
        Some("1"),
        "an Engine.IO close ends it: {frames:?}"
    );
    assert!(!frames.iter().any(|f| f.starts_with("41")), "no Socket.IO disconnect: {frames:?}");
    let stored = store.messages_after(app::protocol::ConversationId(1), 0, 100).await.unwrap();
    assert_eq!(stored.len() as u64, SENT);
}

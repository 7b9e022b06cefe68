//! Transcripts through the real server: a customer downloads their own conversation, an
//! agent any they see, as text or a web page, in the reader's language and time zone;
//! everyone else gets the same 404 as for a conversation that does not exist.

mod common;

use common::{fetch, log_in, Session, TestServer};
use serde_json::{json, Value};

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

fn path(id: &Value, query: &str) -> String {
    format!("/conversations/{id}/transcript?{query}")
}

#[tokio::test]
async fn a_conversation_is_downloaded_by_its_customer_and_its_agents_only() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    server.add_agent("bob", "password-1").await;
    let (mut amy, amy_session) = log_in(&server, agent("amy")).await;
    let (lea, lea_session) = log_in(&server, json!("Léa")).await;
    lea.emit_acked("private_message", json!({"message": "Where is my <parcel>?"})).await;
    let open = amy
        .expect_where("conversation", |s| {
            s["customer"] == json!("Léa") && s["status"] == json!("open")
        })
        .await;
    let id = open["id"].clone();
    amy.emit_acked(
        "private_message",
        json!({"conversation": id, "message": "On its way\nTomorrow"}),
    )
    .await;

    // The customer, as text in English, times in their zone (UTC+08:00).
    let (status, head, body) =
        fetch(&server, Some(&lea_session), &path(&id, "format=text&lang=en&offset=480")).await;
    assert_eq!(status, 200, "{head}");
    let head = head.to_lowercase();
    assert!(head.contains("content-type: text/plain; charset=utf-8"), "{head}");
    assert!(
        head.contains(&format!(
            "content-disposition: attachment; filename=\"conversation-{id}.txt\""
        )),
        "{head}"
    );
    assert!(head.contains("cache-control: private, no-store"), "{head}");
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with(&format!("Conversation #{id} with Léa\n")), "{text}");
    assert!(text.contains("(times in UTC+08:00). Status: open."), "{text}");
    assert!(text.contains("] Léa: Where is my <parcel>?\n"), "{text}");
    assert!(text.contains("] amy: On its way\n    Tomorrow\n"), "{text}");

    // The agent who has it, as a web page in Chinese, with what was written escaped.
    let (status, head, body) =
        fetch(&server, Some(&amy_session), &path(&id, "format=html&lang=zh-CN&offset=-300")).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.to_lowercase().contains("content-type: text/html; charset=utf-8"), "{head}");
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
    assert!(html.contains(&format!("与 Léa 的会话 #{id}")), "{html}");
    assert!(html.contains("UTC-05:00"), "{html}");
    assert!(html.contains("Where is my &lt;parcel&gt;?"), "{html}");

    // Nobody else: another customer, an agent who does not see it, no session, a token
    // presented the other kind's way, a conversation that does not exist, all alike.
    let (_other, other_session) = log_in(&server, json!("Max")).await;
    let (_bob, bob_session) = log_in(&server, agent("bob")).await;
    let refused: Vec<(Option<Session>, String)> = vec![
        (Some(other_session), path(&id, "format=text")),
        (Some(bob_session), path(&id, "format=text")),
        (None, path(&id, "format=text")),
        (Some(lea_session.swapped()), path(&id, "format=text")),
        (Some(amy_session.swapped()), path(&id, "format=text")),
        (Some(amy_session.clone()), path(&json!(9999), "format=text")),
    ];
    for (session, path) in refused {
        let (status, head, body) = fetch(&server, session.as_ref(), &path).await;
        assert_eq!(status, 404, "{path}: {head}");
        assert!(body.is_empty(), "{path}: says nothing");
    }
    // A format it does not have is refused as a bad request.
    let (status, ..) = fetch(&server, Some(&amy_session), &path(&id, "format=pdf")).await;
    assert_eq!(status, 400);
}

/// A conversation longer than a transcript holds: its first messages, and a line saying it
/// goes on.
#[tokio::test]
async fn a_very_long_conversation_is_downloaded_up_to_its_first_ten_thousand_messages() {
    let server = TestServer::start().await;
    server.add_admin("ada", "password-1").await;
    let (_ada, ada_session) = log_in(&server, agent("ada")).await;
    let now = chat_server::clock::now_ms();
    let name = app::protocol::UserName::parse("Long").unwrap();
    let meta = server.store.create_customer(&name, "token-long", now).await.unwrap();
    let batch: Vec<_> = (0..10_001u64)
        .map(|i| chat_server::model::NewMessage {
            conversation: meta.id,
            author: chat_server::model::Identity::Customer(meta.customer),
            from: name.clone(),
            to: None,
            joins: None,
            text: app::protocol::MessageText::parse(&format!("line {i}")).unwrap(),
            client_id: None,
            ts: now + i,
            attachments: vec![],
        })
        .collect();
    for chunk in batch.chunks(2000) {
        server.store.append(chunk).await.unwrap();
    }
    let id = json!(meta.id.0);
    let (status, head, body) = fetch(&server, Some(&ada_session), &path(&id, "format=text")).await;
    assert_eq!(status, 200, "{head}");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("Long: line 9999\n"), "the ten thousandth");
    assert!(!text.contains("line 10000"), "not the one after");
    assert!(
        text.ends_with("\nThe conversation goes on; this file holds its first 10000 messages.\n"),
        "{}",
        &text[text.len() - 200..]
    );
}

//! Files in conversations, through the real server: uploads, what a message carries of
//! them, who may fetch them, and the limits.

mod common;

use std::io::Cursor;

use common::{fetch, fetch_with, http_bytes, log_in, Session, TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

/// A `w`×`h` PNG.
fn png(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 200]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

/// Uploads `bytes` with a session: the status and the JSON answer.
async fn upload(server: &TestServer, session: &Session, query: &str, bytes: &[u8]) -> (u16, Value) {
    let (name, value) = session.header();
    let path = format!("/attachments?{query}");
    let (status, _, body) = http_bytes(server, "POST", &path, &[(name, &value)], bytes).await;
    let json =
        serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    (status, json)
}

#[tokio::test]
async fn a_customers_screenshot_reaches_the_agent_who_alone_with_the_customer_may_fetch_it() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    server.add_agent("bob", "password-1").await;
    let (mut amy, amy_token) = log_in(&server, agent("amy")).await;
    let (cat, cat_token) = log_in(&server, json!("cat")).await;

    let (status, uploaded) =
        upload(&server, &cat_token, "name=screen%20shot.png", &png(800, 400)).await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["type"], json!("image/png"));
    assert_eq!(uploaded["name"], json!("screen shot.png"));
    assert_eq!(uploaded["image"], json!({"width": 800, "height": 400}));
    assert_eq!(uploaded["thumb"], json!({"width": 320, "height": 160}));
    let id = uploaded["id"].as_str().expect("id").to_owned();

    let ack = cat
        .emit_acked(
            "private_message",
            json!({"message": "here is what I see", "attachments": [id]}),
        )
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let message = amy.expect_where("message", |m| m["from"] == json!("cat")).await;
    assert_eq!(message["attachments"][0]["id"], json!(id));
    // A client that knows nothing of attachments reads the text and a link.
    assert_eq!(
        message["message"],
        json!(format!("here is what I see\n[screen shot.png] /attachments/{id}"))
    );

    // The customer and the agent who has the conversation fetch it; nobody else does.
    let full = format!("/attachments/{id}");
    let thumb = format!("/attachments/{id}/thumb");
    for token in [&cat_token, &amy_token] {
        let (status, head, body) = fetch(&server, Some(token), &full).await;
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("content-type: image/png"), "{head}");
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(head.contains("cache-control: private, no-store"), "{head}");
        let image = image::load_from_memory(&body).expect("an image");
        assert_eq!((image.width(), image.height()), (800, 400));
        let (status, _, body) = fetch(&server, Some(token), &thumb).await;
        assert_eq!(status, 200);
        let image = image::load_from_memory(&body).expect("a thumbnail");
        assert_eq!((image.width(), image.height()), (320, 160));
    }
    let (_, dan_token) = log_in(&server, json!("dan")).await;
    let (_, bob_token) = log_in(&server, agent("bob")).await;
    for (who, token) in [
        ("nobody", None),
        ("another customer", Some(&dan_token)),
        ("an agent the conversation is not for", Some(&bob_token)),
        ("a made-up token", Some(&Session::customer("not-a-session"))),
    ] {
        for path in [&full, &thumb] {
            let (status, head, _) = fetch(&server, token, path).await;
            assert_eq!(status, 404, "{who} fetching {path}: {head}");
        }
    }
    // An id that does not exist is the same 404.
    let (status, _, _) =
        fetch(&server, Some(&cat_token), "/attachments/0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn only_its_uploader_may_send_a_file_and_only_in_its_conversation() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let (mut amy, amy_token) = log_in(&server, agent("amy")).await;
    let (cat, cat_token) = log_in(&server, json!("cat")).await;
    let (dan, _) = log_in(&server, json!("dan")).await;
    let (_, uploaded) = upload(&server, &cat_token, "name=a.pdf", PDF).await;
    let id = uploaded["id"].as_str().expect("id").to_owned();

    // Another customer naming it: as if it did not exist.
    let ack =
        dan.emit_acked("private_message", json!({"message": "look", "attachments": [id]})).await;
    assert_eq!(ack["ok"], json!(false), "{ack}");
    assert_eq!(ack["problem"], json!({"code": "unknown_attachment"}));
    // The agent, in the customer's conversation: not their upload.
    let ack = cat.emit_acked("private_message", json!({"message": "hi"})).await;
    assert_eq!(ack["ok"], json!(true));
    let conversation = ack["conversation"].clone();
    amy.expect_where("message", |m| m["from"] == json!("cat")).await;
    let ack = amy
        .emit_acked(
            "private_message",
            json!({"conversation": conversation, "message": "", "attachments": [id]}),
        )
        .await;
    assert_eq!(ack["problem"], json!({"code": "unknown_attachment"}), "{ack}");
    // The agent's own upload for that conversation goes, without a word.
    let (status, mine) =
        upload(&server, &amy_token, &format!("name=guide.pdf&conversation={conversation}"), PDF)
            .await;
    assert_eq!(status, 200, "{mine}");
    let ack = amy
        .emit_acked(
            "private_message",
            json!({"conversation": conversation, "message": " ", "attachments": [mine["id"]]}),
        )
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    // Without a file, an empty message is still refused; too many files are too.
    let ack = cat.emit_acked("private_message", json!({"message": " "})).await;
    assert_eq!(ack["problem"], json!({"code": "message_empty"}));
    let eleven: Vec<&str> = std::iter::repeat_n(id.as_str(), 11).collect();
    let ack =
        cat.emit_acked("private_message", json!({"message": "x", "attachments": eleven})).await;
    assert_eq!(ack["problem"], json!({"code": "too_many_attachments"}));

    // The PDF is offered as a download, never shown.
    let (status, head, body) =
        fetch(&server, Some(&cat_token), &format!("/attachments/{}", mine["id"].as_str().unwrap()))
            .await;
    assert_eq!(status, 200);
    assert_eq!(body, PDF);
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains("content-disposition: attachment; filename*=UTF-8''guide.pdf"), "{head}");
    server.stop().await;
}

#[tokio::test]
async fn uploads_are_refused_with_the_reason_when_too_large_of_a_wrong_type_or_unauthorised() {
    let server = TestServer::start_with(chat_server::Settings {
        attachment_max_bytes: 1024 * 1024,
        ..Default::default()
    })
    .await;
    server.add_agent("amy", "password-1").await;
    let (_, cat_token) = log_in(&server, json!("cat")).await;
    let (_, amy_token) = log_in(&server, agent("amy")).await;

    let big = vec![b'a'; 1024 * 1024 + 1];
    let (status, refused) = upload(&server, &cat_token, "name=big.txt", &big).await;
    assert_eq!(status, 413);
    assert_eq!(refused["problem"], json!({"code": "attachment_too_large", "arg": 1}));
    assert_eq!(refused["error"], json!("That file is too large: files can be at most 1 MB."));

    // HTML, named as a picture: refused (the type comes from the bytes).
    let html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>";
    let (status, refused) = upload(&server, &cat_token, "name=cat.png", html).await;
    assert_eq!((status, &refused["problem"]), (415, &json!({"code": "attachment_type"})));
    // A PNG signature on something else: no image.
    let fake = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 100][..]].concat();
    let (status, refused) = upload(&server, &cat_token, "name=x.png", &fake).await;
    assert_eq!((status, &refused["problem"]), (422, &json!({"code": "image_unreadable"})));
    let (status, refused) = upload(&server, &cat_token, "name=empty.txt", b"").await;
    assert_eq!((status, &refused["problem"]), (422, &json!({"code": "attachment_empty"})));

    // Nobody, or an agent naming no conversation or one that does not exist.
    let (status, _) =
        upload(&server, &Session::customer("not-a-session"), "name=a.txt", b"hello").await;
    assert_eq!(status, 401);
    let (status, _) = upload(&server, &amy_token, "name=a.txt", b"hello").await;
    assert_eq!(status, 404);
    let (status, _) = upload(&server, &amy_token, "name=a.txt&conversation=999999", b"hello").await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn an_agent_may_neither_upload_to_nor_fetch_from_a_conversation_a_colleague_has() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    server.add_agent("bob", "password-1").await;
    let (mut amy, _) = log_in(&server, agent("amy")).await;
    let (cat, cat_token) = log_in(&server, json!("cat")).await;
    let (_, uploaded) = upload(&server, &cat_token, "name=a.png", &png(10, 10)).await;
    let ack = cat
        .emit_acked("private_message", json!({"message": "help", "attachments": [uploaded["id"]]}))
        .await;
    let conversation = ack["conversation"].clone();
    // Amy, the only agent online, is given it; then Bob logs in.
    amy.expect_where("conversation", |c| c["status"] == json!("open")).await;
    let (_, bob_token) = log_in(&server, agent("bob")).await;
    let path = format!("/attachments/{}", uploaded["id"].as_str().unwrap());
    let (status, _, _) = fetch(&server, Some(&bob_token), &path).await;
    assert_eq!(status, 404, "Bob may not fetch Amy's conversation's file");
    let (status, refused) =
        upload(&server, &bob_token, &format!("name=a.txt&conversation={conversation}"), b"hi")
            .await;
    assert_eq!((status, &refused["problem"]), (404, &json!({"code": "unknown_conversation"})));
    server.stop().await;
}

#[tokio::test]
async fn on_postgresql_the_files_are_in_the_database_and_survive_a_restart() {
    let server = TestServer::start_postgres().await;
    let (cat, cat_token) = log_in(&server, json!("cat")).await;
    let (status, uploaded) =
        upload(&server, &cat_token, "name=notes.txt", "第一行\nline 2".as_bytes()).await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["type"], json!("text/plain"));
    let ack = cat
        .emit_acked("private_message", json!({"message": "", "attachments": [uploaded["id"]]}))
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    cat.disconnect().await;
    let server = server.restart().await;
    let path = format!("/attachments/{}", uploaded["id"].as_str().unwrap());
    let (status, head, body) = fetch(&server, Some(&cat_token), &path).await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, "第一行\nline 2".as_bytes());
    assert!(head.contains("content-disposition: attachment"), "{head}");
    // The history carries the file too.
    let mut cat =
        TestClient::connect(&server, WS, Some(json!({"name": "cat", "resume": cat_token.token})))
            .await;
    cat.expect("login_success").await;
    let history = cat.expect("history").await;
    assert_eq!(history["messages"][0]["attachments"][0]["id"], uploaded["id"]);
    server.stop().await;
}

/// An agent's session lapses after 12 hours unused, a customer's after 90 days; a file is
/// fetched only with a session presented its own kind's way (a customer's as a bearer, an
/// agent's in the cookie), and checked against its own kind's limit: presenting a lapsed
/// agent session as a bearer does not bring it back for 90 days. The browser keeps no copy
/// (`no-store`); a conditional request gets a 304 only while the session may see the file.
#[tokio::test]
async fn a_session_fetches_files_only_as_its_own_kind_and_within_its_own_idle_limit() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let (mut amy, amy_session) = log_in(&server, agent("amy")).await;
    let (cat, cat_session) = log_in(&server, json!("cat")).await;
    let (_, uploaded) = upload(&server, &cat_session, "name=a.png", &png(10, 10)).await;
    let ack = cat
        .emit_acked("private_message", json!({"message": "help", "attachments": [uploaded["id"]]}))
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    amy.expect_where("message", |m| m["from"] == json!("cat")).await;
    let path = format!("/attachments/{}", uploaded["id"].as_str().unwrap());

    let (status, head, _) = fetch(&server, Some(&amy_session), &path).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("cache-control: private, no-store"), "{head}");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("an ETag in {head}"))
        .to_owned();
    let (status, head, body) =
        fetch_with(&server, Some(&amy_session), &path, &[("If-None-Match", &etag)]).await;
    assert_eq!((status, body.len()), (304, 0), "{head}");
    // The same ETag from someone who may not see it: no "not modified", a 404.
    let (_, dan_session) = log_in(&server, json!("dan")).await;
    let (status, _, _) =
        fetch_with(&server, Some(&dan_session), &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 404);

    for (who, session) in [
        ("the agent's token as a bearer", amy_session.swapped()),
        ("the customer's token as a cookie", cat_session.swapped()),
    ] {
        let (status, head, _) = fetch(&server, Some(&session), &path).await;
        assert_eq!(status, 404, "{who}: {head}");
        let (status, refused) = upload(&server, &session, "name=b.txt", b"hello").await;
        assert_eq!(status, 401, "{who}: {refused}");
    }

    // Amy's session goes unused for 13 hours (her socket stays open: it does not renew it).
    let hours_13 = 13 * 3600 * 1000;
    let pool = sqlx::SqlitePool::connect(&server.database_url).await.expect("open the file");
    let aged = sqlx::query(
        "UPDATE sessions SET last_used_at = last_used_at - $1 WHERE agent_key IS NOT NULL",
    )
    .bind(hours_13)
    .execute(&pool)
    .await
    .expect("age the agent's session");
    assert_eq!(aged.rows_affected(), 1);
    sqlx::query(
        "UPDATE sessions SET last_used_at = last_used_at - $1 WHERE customer_id IS NOT NULL",
    )
    .bind(hours_13)
    .execute(&pool)
    .await
    .expect("age the customer's session");
    pool.close().await;
    for (who, session) in
        [("in the cookie", amy_session.clone()), ("as a bearer", amy_session.swapped())]
    {
        let (status, head, _) = fetch(&server, Some(&session), &path).await;
        assert_eq!(status, 404, "Amy's lapsed session {who}: {head}");
    }
    // Thirteen hours are nothing to a customer.
    let (status, head, _) = fetch(&server, Some(&cat_session), &path).await;
    assert_eq!(status, 200, "{head}");
    server.stop().await;
}

/// Uploads are held in memory whole while they arrive: past 32 arriving at once (slow
/// clients, or someone trying to fill the memory), the next is told to try again shortly.
#[tokio::test]
async fn uploads_arriving_at_once_are_capped_and_the_next_is_told_to_wait() {
    use tokio::io::AsyncWriteExt;
    // Without the rate limits: this is about the bodies in memory, not the rate.
    let server = TestServer::start_unlimited().await;
    let (_cat, cat) = log_in(&server, json!("cat")).await;
    let (name, value) = cat.header();
    let mut slow = Vec::new();
    for _ in 0..32 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
        let head = format!(
            "POST /attachments?name=a.txt HTTP/1.1\r\nHost: {}\r\n{name}: {value}\r\nContent-Length: 1000\r\n\r\nsome",
            server.addr
        );
        stream.write_all(head.as_bytes()).await.expect("send the head");
        slow.push(stream);
    }
    // Until they are all being received.
    let mut waited = 0;
    let refused = loop {
        let (status, refused) = upload(&server, &cat, "name=b.txt", b"hello").await;
        if status == 429 || waited > 50 {
            break (status, refused);
        }
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!((refused.0, &refused.1["problem"]), (429, &json!({"code": "slow_down", "arg": 1})));
    // Once they are gone, uploads go again.
    drop(slow);
    let mut waited = 0;
    loop {
        let (status, answer) = upload(&server, &cat, "name=b.txt", b"hello").await;
        if status == 200 {
            break;
        }
        assert!(waited < 50, "still refused: {status} {answer}");
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// Thirty files at once from one address, then one a second: the 31st is told how long to
/// wait, whoever sends it (a customer here; an agent counts the same).
#[tokio::test]
async fn an_address_sending_files_too_fast_is_told_to_slow_down() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let (cat_client, cat) = log_in(&server, json!("cat")).await;
    let ack = cat_client.emit_acked("private_message", json!({"message": "hi"})).await;
    let conversation = ack["conversation"].clone();
    for i in 0..30 {
        let (status, answer) = upload(&server, &cat, &format!("name={i}.txt"), b"hello").await;
        assert_eq!(status, 200, "upload {i}: {answer}");
    }
    let (status, refused) = upload(&server, &cat, "name=31.txt", b"hello").await;
    assert_eq!((status, &refused["problem"]), (429, &json!({"code": "slow_down", "arg": 1})));
    assert_eq!(refused["error"], json!("You are sending too fast. Please wait 1 s and try again."));
    // An agent at the same address shares it.
    let (_amy, amy) = log_in(&server, agent("amy")).await;
    let (status, refused) =
        upload(&server, &amy, &format!("name=a.txt&conversation={conversation}"), b"hello").await;
    assert_eq!((status, &refused["problem"]), (429, &json!({"code": "slow_down", "arg": 1})));
    server.stop().await;
}

//! The REST API through the real server: an admin makes tokens in the console's way (their
//! cookie, JSON); a program with a token lists, reads and searches conversations, sends
//! messages as a bot or an agent (which reach the customer's browser live, once per
//! `client_id`), changes the customer, transfers and resolves; a read-only token only reads;
//! a revoked or missing token, an agent who is no admin and a customer get nothing.

mod common;

use common::{fetch, http_bytes, log_in, Session, TestServer};
use serde_json::{json, Value};

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

/// A request with a token (or none) and a JSON body (or none): the status, head and the body
/// as JSON (`Null` if it is none).
async fn api(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    let (status, head, bytes) = http_bytes(server, method, path, &headers, body.as_bytes()).await;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, head, json)
}

/// A console's `POST` of JSON to `path` with `session`'s cookie: the status and the answer
/// as JSON (`Null` if it is none).
async fn console_post(
    server: &TestServer,
    session: &Session,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let (header, value) = session.header();
    let (status, _, bytes) = http_bytes(
        server,
        "POST",
        path,
        &[(header, &value), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The console's request to make a token, with `session`'s cookie.
async fn make_token(
    server: &TestServer,
    session: &Session,
    name: &str,
    write: bool,
) -> (u16, Value) {
    let body = json!({"name": name, "write": write});
    console_post(server, session, app::protocol::API_TOKENS_PATH, body).await
}

fn code(answer: &Value) -> &Value {
    &answer["problem"]["code"]
}

#[tokio::test]
async fn a_program_with_a_token_serves_the_desk_and_its_messages_reach_browsers_live() {
    let server = TestServer::start().await;
    server.add_admin("boss", "password-1").await;
    server.add_agent("amy", "password-1").await;
    let (mut boss, boss_session) = log_in(&server, agent("boss")).await;
    let (status, made) = make_token(&server, &boss_session, "CRM", true).await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lct_") && token.len() > 40, "{token}");
    assert_eq!((&made["info"]["name"], &made["info"]["write"]), (&json!("CRM"), &json!(true)));
    assert_eq!(made["info"]["created_by"], json!("boss"));
    let (_, reader) = make_token(&server, &boss_session, "Reports", false).await;
    let reader = reader["token"].as_str().unwrap().to_owned();
    // The list never shows a secret.
    let (status, _, listed) = fetch(&server, Some(&boss_session), "/api-tokens").await;
    assert_eq!(status, 200);
    let listed = String::from_utf8(listed).unwrap();
    assert!(listed.contains("\"CRM\"") && listed.contains("\"Reports\""), "{listed}");
    assert!(!listed.contains(&token) && !listed.contains(&reader), "{listed}");

    let (mut lea, _) = log_in(&server, json!("Léa")).await;
    lea.emit_acked("private_message", json!({"message": "Where is my parcel?"})).await;
    let id = boss.expect("message").await["conversation"].as_u64().unwrap();

    // Listed, read, found.
    let (status, _, list) = api(&server, Some(&reader), "GET", "/api/v1/conversations", None).await;
    assert_eq!(status, 200, "{list}");
    let listed = list["conversations"].as_array().unwrap();
    let lea_listed = listed.iter().find(|c| c["id"] == json!(id)).expect("listed");
    assert_eq!(lea_listed["customer"]["name"], json!("Léa"), "{list}");
    assert_eq!(list["next"], Value::Null, "{list}");
    let (status, _, page) =
        api(&server, Some(&reader), "GET", &format!("/api/v1/conversations/{id}/messages"), None)
            .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["messages"][0]["text"], json!("Where is my parcel?"), "{page}");
    assert_eq!(page["messages"][0]["author"], json!("customer"), "{page}");
    let (status, _, found) =
        api(&server, Some(&reader), "GET", "/api/v1/search?q=parcel", None).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["messages"][0]["conversation"], json!(id), "{found}");

    // A bot answers: the customer sees it at once; sent again with its client id, it is
    // the same message, and she does not get it twice.
    let path = format!("/api/v1/conversations/{id}/messages");
    let bot =
        json!({"text": "It left the depot today.", "bot": "Parcel bot", "client_id": "crm-1"});
    let (status, _, sent) = api(&server, Some(&token), "POST", &path, Some(bot.clone())).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        (&sent["author"], &sent["from"], &sent["seq"]),
        (&json!("bot"), &json!("Parcel bot"), &json!(2))
    );
    let live = lea.expect_where("message", |m| m["seq"] == json!(2)).await;
    assert_eq!(
        (&live["from"], &live["message"]),
        (&json!("Parcel bot"), &json!("It left the depot today."))
    );
    let (status, _, again) = api(&server, Some(&token), "POST", &path, Some(bot)).await;
    assert_eq!((status, &again["id"]), (200, &sent["id"]), "{again}");
    lea.expect_none("message", 300).await;

    // An agent account answers through the API.
    let (status, _, sent) = api(
        &server,
        Some(&token),
        "POST",
        &path,
        Some(json!({"text": "Amy here.", "agent": "AMY"})),
    )
    .await;
    assert_eq!(
        (status, &sent["author"], &sent["from"]),
        (201, &json!("agent"), &json!("amy")),
        "{sent}"
    );
    assert_eq!(lea.expect("message").await["from"], json!("amy"));

    // What cannot be sent is told, with the socket's codes.
    for (body, expected) in [
        (json!({"text": "x", "agent": "amy", "bot": "b"}), "api_writer"),
        (json!({"text": "x"}), "api_writer"),
        (json!({"text": "x", "bot": "Amy"}), "name_reserved"),
        // Looks like Amy (a Cyrillic А), or like the customer herself.
        (json!({"text": "x", "bot": "\u{0410}MY"}), "name_reserved"),
        (json!({"text": "x", "bot": "LÉA"}), "name_reserved"),
        (json!({"text": "x", "agent": "nobody"}), "unknown_agent"),
        (json!({"text": "   ", "bot": "b"}), "message_empty"),
        (json!({"text": "x", "bot": "b", "client_id": "not ok!"}), "bad_client_id"),
        (json!({"words": 1}), "malformed"),
    ] {
        let (status, _, refused) =
            api(&server, Some(&token), "POST", &path, Some(body.clone())).await;
        assert_eq!((status, code(&refused)), (422, &json!(expected)), "{body}: {refused}");
        assert!(refused["error"].as_str().is_some_and(|e| !e.is_empty()), "{refused}");
    }

    // The customer: changed, then read back.
    let customer = format!("/api/v1/conversations/{id}/customer");
    let change = json!({"email": "lea@example.com", "note": "Ordered twice"});
    let (status, _, changed) = api(&server, Some(&token), "PATCH", &customer, Some(change)).await;
    assert_eq!(status, 200, "{changed}");
    let (_, _, read) = api(&server, Some(&reader), "GET", &customer, None).await;
    assert_eq!(
        (&read["email"], &read["note"], &read["name"]),
        (&json!("lea@example.com"), &json!("Ordered twice"), &json!("Léa")),
        "{read}"
    );
    let (status, _, refused) =
        api(&server, Some(&token), "PATCH", &customer, Some(json!({"email": "not an address"})))
            .await;
    assert_eq!((status, code(&refused)), (422, &json!("email_invalid")), "{refused}");

    // Handed to boss, then resolved: the customer is told.
    let transfer = json!({"agent": "boss", "note": "VIP"});
    let (status, _, moved) = api(
        &server,
        Some(&token),
        "POST",
        &format!("/api/v1/conversations/{id}/transfer"),
        Some(transfer),
    )
    .await;
    assert_eq!(
        (status, &moved["assignee"], &moved["status"]),
        (200, &json!("boss"), &json!("open")),
        "{moved}"
    );
    let (status, _, done) =
        api(&server, Some(&token), "POST", &format!("/api/v1/conversations/{id}/resolve"), None)
            .await;
    assert_eq!((status, &done["status"]), (200, &json!("resolved")), "{done}");
    assert_eq!(lea.expect("resolved").await["conversation"], json!(id));
    // Page by page: one at a time, then the next after it; by status.
    let (mut zed, _) = log_in(&server, json!("Zed")).await;
    zed.emit_acked("private_message", json!({"message": "Me too"})).await;
    let zed_id = zed.expect("message").await["conversation"].clone();
    let (_, _, first) =
        api(&server, Some(&reader), "GET", "/api/v1/conversations?limit=1", None).await;
    assert_eq!(first["conversations"][0]["id"], zed_id, "the most recently active first: {first}");
    let after = first["next"].as_str().expect("a next page").to_owned();
    let (_, _, second) = api(
        &server,
        Some(&reader),
        "GET",
        &format!("/api/v1/conversations?limit=1&after={after}"),
        None,
    )
    .await;
    assert_eq!(second["conversations"][0]["id"], json!(id), "{second}");
    let (_, _, resolved) =
        api(&server, Some(&reader), "GET", "/api/v1/conversations?status=resolved", None).await;
    let resolved: Vec<&Value> = resolved["conversations"].as_array().unwrap().iter().collect();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    let (_, _, older) = api(
        &server,
        Some(&reader),
        "GET",
        &format!("/api/v1/conversations/{id}/messages?before=3&limit=1"),
        None,
    )
    .await;
    assert_eq!(
        (&older["messages"][0]["seq"], &older["more"]),
        (&json!(2), &json!(true)),
        "{older}"
    );
    let (_, _, one) =
        api(&server, Some(&reader), "GET", &format!("/api/v1/conversations/{id}"), None).await;
    assert_eq!(one["status"], json!("resolved"), "{one}");

    // The read-only token reads files and transcripts too, and changes nothing.
    let (status, _, _) = fetch(
        &server,
        Some(&Session::customer(&reader)),
        &format!("/conversations/{id}/transcript?format=text"),
    )
    .await;
    assert_eq!(status, 200);
    for (method, path, body) in [
        ("POST", path.clone(), Some(json!({"text": "x", "bot": "b"}))),
        ("POST", format!("/api/v1/conversations/{id}/resolve"), None),
        ("POST", format!("/api/v1/conversations/{id}/transfer"), Some(json!({"agent": "amy"}))),
        ("PATCH", customer.clone(), Some(json!({"note": "x"}))),
    ] {
        let (status, _, refused) = api(&server, Some(&reader), method, &path, body).await;
        assert_eq!(
            (status, code(&refused)),
            (403, &json!("api_read_only")),
            "{method} {path}: {refused}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn without_a_working_token_the_api_gives_nothing_and_only_admins_manage_tokens() {
    let server = TestServer::start().await;
    server.add_admin("boss", "password-1").await;
    server.add_agent("amy", "password-1").await;
    let (_boss, boss_session) = log_in(&server, agent("boss")).await;
    let (_amy, amy_session) = log_in(&server, agent("amy")).await;
    let (lea, lea_session) = log_in(&server, json!("Léa")).await;
    lea.emit_acked("private_message", json!({"message": "Hello"})).await;
    let (_, made) = make_token(&server, &boss_session, "CRM", true).await;
    let token = made["token"].as_str().unwrap().to_owned();
    let token_id = made["info"]["id"].as_u64().unwrap();

    // No token, a made-up one, a customer's or an agent's session token: 401, and the
    // header that says how to authenticate.
    let bogus = format!("{}{}", app::protocol::API_TOKEN_PREFIX, "x".repeat(43));
    for t in [
        None,
        Some(bogus.as_str()),
        Some(lea_session.token.as_str()),
        Some(boss_session.token.as_str()),
    ] {
        let (status, head, refused) = api(&server, t, "GET", "/api/v1/conversations", None).await;
        assert_eq!(
            (status, code(&refused)),
            (401, &json!("api_token_invalid")),
            "{t:?}: {refused}"
        );
        assert!(head.to_lowercase().contains("www-authenticate: bearer"), "{head}");
    }
    // A conversation that does not exist, or a path that cannot name one: the same 404.
    for path in ["/api/v1/conversations/999999", "/api/v1/conversations/abc/messages"] {
        let (status, _, refused) = api(&server, Some(&token), "GET", path, None).await;
        assert_eq!(
            (status, code(&refused)),
            (404, &json!("unknown_conversation")),
            "{path}: {refused}"
        );
    }

    // Only an admin's cookie manages tokens: an agent, a customer, nobody, and a token
    // itself get the 404 of a path that does not exist.
    let as_token = Session::customer(&token);
    for session in [Some(&amy_session), Some(&lea_session), None, Some(&as_token)] {
        let (status, _, _) = fetch(&server, session, "/api-tokens").await;
        assert_eq!(status, 404);
        if let Some(session) = session {
            let (status, _) = make_token(&server, session, "mine", true).await;
            assert_eq!(status, 404);
        }
        let headers: Vec<(&str, String)> = session.map(Session::header).into_iter().collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (status, _, _) =
            http_bytes(&server, "DELETE", &format!("/api-tokens/{token_id}"), &headers, b"").await;
        assert_eq!(status, 404);
    }
    // The token still works; revoked by the admin, it no longer does.
    let (status, _, _) = api(&server, Some(&token), "GET", "/api/v1/conversations", None).await;
    assert_eq!(status, 200);
    let (header, value) = boss_session.header();
    let (status, _, _) =
        http_bytes(&server, "DELETE", &format!("/api-tokens/{token_id}"), &[(header, &value)], b"")
            .await;
    assert_eq!(status, 204);
    let (status, _, refused) =
        api(&server, Some(&token), "GET", "/api/v1/conversations", None).await;
    assert_eq!((status, code(&refused)), (401, &json!("api_token_invalid")), "{refused}");
    // A form post from another site's page cannot make one.
    let (status, _, _) = http_bytes(
        &server,
        "POST",
        "/api-tokens",
        &[(header, &value), ("Content-Type", "application/x-www-form-urlencoded")],
        b"name=evil&write=true",
    )
    .await;
    assert_ne!(status, 201);
    let (status, _, _) = http_bytes(
        &server,
        "POST",
        "/api-tokens",
        &[
            (header, &value),
            ("Content-Type", "application/json"),
            ("Origin", "https://evil.example"),
        ],
        br#"{"name": "evil", "write": true}"#,
    )
    .await;
    assert_eq!(status, 403);
    server.stop().await;
}

/// Registers a webhook for new messages at `url` with `session`'s cookie.
async fn make_webhook(server: &TestServer, session: &Session, url: &str) {
    let body = json!({"url": url, "events": ["message.created"]});
    let (status, made) = console_post(server, session, app::protocol::WEBHOOKS_PATH, body).await;
    assert_eq!(status, 201, "{made}");
}

/// An admin removed from the team keeps no way in through a token they made (and may have
/// copied), and no webhook of theirs goes on sending the desk's events to an address they
/// chose; a colleague's tokens and webhooks stay.
#[tokio::test]
async fn a_removed_admins_tokens_and_webhooks_go_with_their_account() {
    let server = TestServer::start().await;
    server.add_admin("boss", "password-1").await;
    server.add_admin("ann", "password-1").await;
    let (boss, boss_session) = log_in(&server, agent("boss")).await;
    let (_ann, ann_session) = log_in(&server, agent("ann")).await;
    let (_, made) = make_token(&server, &ann_session, "ann's script", true).await;
    let anns = made["token"].as_str().unwrap().to_owned();
    let (_, made) = make_token(&server, &boss_session, "CRM", true).await;
    let boss_token = made["token"].as_str().unwrap().to_owned();
    make_webhook(&server, &ann_session, "https://ann.example/hook").await;
    make_webhook(&server, &boss_session, "https://crm.example/hook").await;
    let (status, _, _) = api(&server, Some(&anns), "GET", "/api/v1/conversations", None).await;
    assert_eq!(status, 200);

    assert_eq!(boss.emit_acked("agent_remove", json!({"name": "ann"})).await, json!({"ok": true}));
    let (status, _, refused) =
        api(&server, Some(&anns), "GET", "/api/v1/conversations", None).await;
    assert_eq!((status, code(&refused)), (401, &json!("api_token_invalid")), "{refused}");
    let (status, _, _) =
        api(&server, Some(&boss_token), "GET", "/api/v1/conversations", None).await;
    assert_eq!(status, 200);
    let (_, _, tokens) = fetch(&server, Some(&boss_session), "/api-tokens").await;
    let tokens: Value = serde_json::from_slice(&tokens).unwrap();
    let names: Vec<&str> =
        tokens.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, vec!["CRM"], "{tokens}");
    let (_, _, hooks) = fetch(&server, Some(&boss_session), app::protocol::WEBHOOKS_PATH).await;
    let hooks: Value = serde_json::from_slice(&hooks).unwrap();
    let urls: Vec<&str> =
        hooks.as_array().unwrap().iter().filter_map(|h| h["url"].as_str()).collect();
    assert_eq!(urls, vec!["https://crm.example/hook"], "{hooks}");
    server.stop().await;
}

#[tokio::test]
async fn a_token_that_asks_too_fast_is_told_when_to_come_back() {
    use chat_server::limits::{Limits, Rate};
    let limits = Limits { api_per_token: Rate::new(0.01, 3.0), ..Limits::default() };
    let server =
        TestServer::start_with(chat_server::Settings { limits, ..Default::default() }).await;
    server.add_admin("boss", "password-1").await;
    let (_boss, boss_session) = log_in(&server, agent("boss")).await;
    let (_, made) = make_token(&server, &boss_session, "CRM", false).await;
    let token = made["token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let (status, _, _) = api(&server, Some(&token), "GET", "/api/v1/conversations", None).await;
        assert_eq!(status, 200);
    }
    let (status, head, refused) =
        api(&server, Some(&token), "GET", "/api/v1/conversations", None).await;
    assert_eq!((status, code(&refused)), (429, &json!("slow_down")), "{refused}");
    assert!(head.to_lowercase().contains("retry-after: "), "{head}");
    // Its files and transcripts say so too, rather than that nothing is there.
    let as_bearer = Session::customer(&token);
    for path in
        ["/conversations/1/transcript?format=text", "/attachments/00000000000000000000000000000000"]
    {
        let (status, head, _) = fetch(&server, Some(&as_bearer), path).await;
        assert_eq!(status, 429, "{path}: {head}");
    }
    // Another token has its own rate.
    let (_, other) = make_token(&server, &boss_session, "Other", false).await;
    let (status, _, _) =
        api(&server, other["token"].as_str(), "GET", "/api/v1/conversations", None).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_operation() {
    let server = TestServer::start().await;
    let (status, _, doc) = api(&server, None, "GET", app::protocol::API_OPENAPI_PATH, None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/v1/conversations", "get"),
        ("/api/v1/conversations/{id}", "get"),
        ("/api/v1/conversations/{id}/messages", "get"),
        ("/api/v1/conversations/{id}/messages", "post"),
        ("/api/v1/conversations/{id}/resolve", "post"),
        ("/api/v1/conversations/{id}/transfer", "post"),
        ("/api/v1/conversations/{id}/customer", "get"),
        ("/api/v1/conversations/{id}/customer", "patch"),
        ("/api/v1/search", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    for schema in ["ApiConversation", "ApiMessage", "ApiNewMessage", "ApiCustomer", "ApiError"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} missing");
    }
    assert_eq!(doc["components"]["securitySchemes"]["token"]["scheme"], json!("bearer"));
    server.stop().await;
}

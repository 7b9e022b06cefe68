//! Durable conversations through the real server: resume, history paging, dedupe by client
//! id, messages kept for someone offline, cursors on reconnect, logout.

mod common;

use common::{texts, TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

fn agent(name: &str, password: &str) -> Value {
    json!({"name": name, "role": "agent", "password": password})
}

fn seqs(page: &Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_resume_token_brings_back_the_same_customer_even_while_the_old_socket_lives() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let mut first = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = first.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    assert!(token.as_str().is_some_and(|t| t.len() >= 40), "an unguessable token: {token}");
    assert!(
        first.emit_acked("private_message", json!({"to": "amy", "message": "before reload"})).await
            ["ok"]
            == json!(true)
    );
    assert_eq!(first.expect("message").await["self"], json!(true), "the own copy");
    amy.expect("message").await;
    amy.expect_list(&["amy", "cat"]).await;

    // A reload: a new socket with the token while the old one is still connected.
    let mut second = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    let back = second.expect("login_success").await;
    assert_eq!(
        (&back["name"], &back["conversation"], &back["resume"]),
        (&json!("cat"), &conversation, &token)
    );
    assert_eq!(texts(&second.expect_history(&conversation).await), vec!["before reload"]);
    // Nobody saw cat leave or arrive twice.
    amy.expect_none("presence", 300).await;
    amy.expect_none("user_list", 0).await;

    // Both sockets get what the agent writes; the old one then goes quietly.
    amy.emit("private_message", json!({"to": "cat", "message": "welcome back"})).await;
    assert_eq!(first.expect("message").await["message"], json!("welcome back"));
    assert_eq!(second.expect("message").await["message"], json!("welcome back"));
    first.disconnect().await;
    amy.expect_none("presence", 300).await;

    // A token that is not ours is refused when there is no name to start afresh with.
    let mut stranger =
        TestClient::connect(&server, WS, Some(json!({"resume": "forged-token"}))).await;
    assert!(stranger.expect("login_error").await.as_str().unwrap().contains("log in again"));
    // With a name, an unknown token starts a new customer: nothing of cat's.
    let mut fresh =
        TestClient::connect(&server, WS, Some(json!({"resume": "forged-token", "name": "dan"})))
            .await;
    let ok = fresh.expect("login_success").await;
    assert_ne!(ok["conversation"], conversation);
    assert_eq!(texts(&fresh.expect_history(&ok["conversation"]).await), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn an_agent_session_survives_a_reload_without_the_password_and_ends_at_logout() {
    let server = TestServer::start().await;
    server.add_agent("Amy", "password-1").await;
    let cat = TestClient::login(&server, WS, json!("cat")).await;
    let mut amy = TestClient::connect(&server, WS, Some(agent("amy", "password-1"))).await;
    let token = amy.expect("login_success").await["resume"].clone();
    cat.emit_acked("private_message", json!({"to": "Amy", "message": "hi Amy"})).await;
    let conversation = amy.expect("message").await["conversation"].clone();
    amy.disconnect().await;

    let mut again =
        TestClient::connect(&server, WS, Some(json!({"resume": token, "role": "agent"}))).await;
    let ok = again.expect("login_success").await;
    assert_eq!((&ok["name"], &ok["role"]), (&json!("Amy"), &json!("agent")));
    assert_eq!(texts(&again.expect_history(&conversation).await), vec!["hi Amy"]);
    // A customer cannot use an agent's token.
    let mut thief = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    thief.expect("login_error").await;

    // Logout revokes the token.
    again.emit("logout", Value::Null).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut after =
        TestClient::connect(&server, WS, Some(json!({"resume": token, "role": "agent"}))).await;
    assert!(after.expect("login_error").await.as_str().unwrap().contains("log in again"));
    server.stop().await;
}

#[tokio::test]
async fn history_comes_newest_page_first_and_older_pages_on_request() {
    // 120 messages at once to fill the history: past a customer's rate, on purpose.
    let server = TestServer::start_unlimited().await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let conversation = ok["conversation"].clone();
    for i in 1..=120 {
        let ack = cat.emit_acked("private_message", json!({"message": format!("m{i}")})).await;
        assert_eq!((ack["ok"].clone(), ack["seq"].as_u64()), (json!(true), Some(i)), "{ack}");
    }
    let mut back = TestClient::connect(&server, WS, Some(json!({"resume": ok["resume"]}))).await;
    back.expect("login_success").await;
    let newest = back.expect_history(&conversation).await;
    assert_eq!(
        (seqs(&newest), newest["more"].clone()),
        ((71..=120).collect::<Vec<_>>(), json!(true))
    );
    assert!(
        newest["messages"][0]["self"].as_bool().unwrap(),
        "the customer's own messages are marked self"
    );

    back.emit("history", json!({"conversation": conversation, "before": 71})).await;
    let older = back.expect_history(&conversation).await;
    assert_eq!((seqs(&older), older["more"].clone()), ((21..=70).collect::<Vec<_>>(), json!(true)));
    back.emit("history", json!({"conversation": conversation, "before": 21})).await;
    let oldest = back.expect_history(&conversation).await;
    assert_eq!(
        (seqs(&oldest), oldest["more"].clone()),
        ((1..=20).collect::<Vec<_>>(), json!(false))
    );

    // Someone else's conversation, or a malformed request, is an error.
    let mut dan = TestClient::login(&server, WS, json!("dan")).await;
    dan.emit("history", json!({"conversation": conversation, "before": 50})).await;
    assert!(dan.expect("error").await.as_str().unwrap().contains("no such conversation"));
    dan.emit("history", json!({"before": "yesterday"})).await;
    assert!(dan.expect("error").await.as_str().unwrap().contains("history"));
    server.stop().await;
}

#[tokio::test]
async fn a_retried_client_id_is_stored_and_delivered_once() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let cat = TestClient::login(&server, WS, json!("cat")).await;
    let send = json!({"to": "amy", "message": "once", "client_id": "cat-1"});
    let first = cat.emit_acked("private_message", send.clone()).await;
    let retry = cat.emit_acked("private_message", send).await;
    assert_eq!(first["ok"], json!(true));
    assert_eq!(
        (&retry["id"], &retry["seq"], &retry["client_id"]),
        (&first["id"], &first["seq"], &json!("cat-1"))
    );
    let got = amy.expect("message").await;
    assert_eq!((&got["message"], &got["client_id"]), (&json!("once"), &json!("cat-1")));
    amy.expect_none("message", 300).await;
    // A bad client id is refused, and says why.
    let bad = cat
        .emit_acked(
            "private_message",
            json!({"to": "amy", "message": "x", "client_id": "has space"}),
        )
        .await;
    assert_eq!(bad["ok"], json!(false));
    server.stop().await;
}

#[tokio::test]
async fn a_message_to_someone_offline_waits_for_them() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;

    // No agent online: the customer writes to the team, and is acknowledged.
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    let ack =
        cat.emit_acked("private_message", json!({"to": "", "message": "is anyone there?"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    cat.disconnect().await;

    // The agent logs in later and finds it; answers the customer, who is offline now.
    let mut amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    assert_eq!(texts(&amy.expect_history(&conversation).await), vec!["is anyone there?"]);
    let ack = amy
        .emit_acked(
            "private_message",
            json!({"conversation": conversation, "message": "I am here now"}),
        )
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let by_name =
        amy.emit_acked("private_message", json!({"to": "cat", "message": "and by name"})).await;
    assert_eq!(by_name["ok"], json!(true), "{by_name}");
    // Writing to a name nobody has is still an error.
    let unknown = amy.emit_acked("private_message", json!({"to": "nobody", "message": "hi"})).await;
    assert!(unknown["error"].as_str().unwrap().contains("nobody"));

    // The customer comes back holding seq 1, and receives exactly what is after it.
    let resume = json!({"resume": token, "since": [{"conversation": conversation, "seq": 1}]});
    let mut back = TestClient::connect(&server, WS, Some(resume)).await;
    back.expect("login_success").await;
    let page = back.expect_history(&conversation).await;
    assert_eq!(
        (seqs(&page), texts(&page)),
        (vec![2, 3], vec!["I am here now".to_owned(), "and by name".to_owned()])
    );
    back.expect_none("history", 300).await;
    server.stop().await;
}

#[tokio::test]
async fn messages_survive_a_restart_of_the_server() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    cat.emit_acked("private_message", json!({"message": "kept across restarts"})).await;
    let restarted = server.restart().await;
    let mut back = TestClient::connect(&restarted, WS, Some(json!({"resume": ok["resume"]}))).await;
    assert_eq!(back.expect("login_success").await["conversation"], ok["conversation"]);
    assert_eq!(
        texts(&back.expect_history(&ok["conversation"]).await),
        vec!["kept across restarts"]
    );
    restarted.stop().await;
}

#[tokio::test]
async fn an_agent_reaches_any_stored_conversation_by_its_id() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    // A customer who never wrote, with a note an agent left (which stored them): their
    // conversation is new, so not among those sent at login.
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let earlier = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let note = earlier
        .emit_acked(
            "note",
            json!({"conversation": ok["conversation"], "text": "asked about prices"}),
        )
        .await;
    assert_eq!(note["ok"], json!(true), "{note}");
    earlier.disconnect().await;
    cat.disconnect().await;
    let server = server.restart().await;
    let amy = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let ack = amy
        .emit_acked(
            "private_message",
            json!({"conversation": ok["conversation"], "message": "Following up"}),
        )
        .await;
    assert_eq!((&ack["ok"], &ack["seq"]), (&json!(true), &json!(1)), "{ack}");
    let missing =
        amy.emit_acked("private_message", json!({"conversation": 4242, "message": "x"})).await;
    assert!(missing["error"].as_str().unwrap().contains("no such conversation"), "{missing}");
    let mut back = TestClient::connect(&server, WS, Some(json!({"resume": ok["resume"]}))).await;
    back.expect("login_success").await;
    assert_eq!(texts(&back.expect_history(&ok["conversation"]).await), vec!["Following up"]);
    server.stop().await;
}

/// With several nodes, a node may store a message and stop before passing it on (killed
/// between its commit and its Redis append). Here the message is stored behind the
/// server's back, which is what the others see of such a node: the agent's client then
/// holds a gap. A reconnect with a cursor that lists what is held after the gap gets only
/// the gap; the sender's retry reaches whoever never had it, and nobody twice.
#[tokio::test]
async fn a_message_stored_but_never_passed_on_fills_the_gap_once() {
    use app::protocol::{ClientMsgId, ConversationId, MessageText, UserName};
    use chat_server::model::{Identity, NewMessage};

    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut desk = TestClient::login(&server, WS, agent("amy", "password-1")).await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let conversation = cat.expect("login_success").await["conversation"].clone();
    assert_eq!(
        cat.emit_acked("private_message", json!({"message": "hello"})).await["seq"],
        json!(1)
    );
    assert_eq!(desk.expect("message").await["seq"], json!(1));
    assert_eq!(cat.expect("message").await["self"], json!(true), "the own copy");

    // Stored as seq 2, and never passed on.
    let id = ConversationId(conversation.as_u64().unwrap());
    let meta = server.store.conversation(id).await.unwrap().expect("stored conversation");
    let lost = NewMessage {
        conversation: id,
        author: Identity::Customer(meta.customer),
        from: UserName::parse("cat").unwrap(),
        to: None,
        joins: None,
        text: MessageText::parse("sent as the node died").unwrap(),
        client_id: Some(ClientMsgId::parse("lost-1").unwrap()),
        ts: 1,
        attachments: vec![],
    };
    let stored = server.store.append(&[lost]).await.unwrap().pop().unwrap().unwrap();
    assert_eq!((stored.message.seq, stored.duplicate), (2, false));

    // The agent answers: both sides hold 1 and 3.
    assert_eq!(
        desk.emit_acked(
            "private_message",
            json!({"conversation": conversation, "message": "still there?"})
        )
        .await["seq"],
        json!(3)
    );
    assert_eq!(desk.expect("message").await["seq"], json!(3));
    assert_eq!(cat.expect("message").await["seq"], json!(3));

    // A second tab of the agent holding 1 and 3 (its cursor says so) is sent only the gap.
    let cursor = json!([{"conversation": conversation, "seq": 1, "held": [3]}]);
    let mut tab = TestClient::login(
        &server,
        WS,
        json!({"name": "amy", "role": "agent", "password": "password-1", "since": cursor}),
    )
    .await;
    let page = tab.expect_history(&conversation).await;
    assert_eq!((seqs(&page), texts(&page)), (vec![2], vec!["sent as the node died".to_owned()]));

    // The customer's client resends what was never acknowledged: it is the stored message,
    // and it reaches the tab that never had it, and the customer; not the one that has it.
    let ack = cat
        .emit_acked(
            "private_message",
            json!({"message": "sent as the node died", "client_id": "lost-1"}),
        )
        .await;
    assert_eq!((&ack["ok"], &ack["seq"]), (&json!(true), &json!(2)), "{ack}");
    assert_eq!(desk.expect("message").await["seq"], json!(2));
    assert_eq!(cat.expect("message").await["seq"], json!(2));
    tab.expect_none("message", 500).await;
    // Once: a second retry is silent.
    assert_eq!(
        cat.emit_acked(
            "private_message",
            json!({"message": "sent as the node died", "client_id": "lost-1"})
        )
        .await["seq"],
        json!(2)
    );
    desk.expect_none("message", 500).await;
    cat.expect_none("message", 0).await;
    // And a cursor that is not ascending is refused in words.
    let mut odd = TestClient::connect(
        &server,
        WS,
        Some(json!({"name": "dan", "since": [{"conversation": 1, "seq": 3, "held": [2]}]})),
    )
    .await;
    assert!(odd
        .expect("login_error")
        .await
        .as_str()
        .unwrap()
        .contains("could not read that login"));
    server.stop().await;
}

/// Issue 19: a resume with `since` far behind read and sent the whole rest of the
/// conversation at once (every page held in memory, then sent). It now sends a few pages,
/// the last marked `newer`, and the client asks for the rest a page at a time: all 5,000
/// messages arrive, in order, once.
#[tokio::test]
async fn a_resume_far_behind_is_sent_a_few_pages_and_pages_on() {
    use app::protocol::{MessageText, UserName, CATCH_UP_PAGE, CATCH_UP_PAGES};
    use chat_server::model::{Identity, NewMessage};
    const TOTAL: u64 = 5_000;
    let server = TestServer::start().await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    // The first message stores the customer; the rest are stored directly.
    let first = cat.emit_acked("private_message", json!({"message": "message 1"})).await;
    assert_eq!(first["seq"], json!(1), "{first}");
    cat.disconnect().await;
    let id = app::protocol::ConversationId(conversation.as_u64().unwrap());
    let meta = server.store.conversation(id).await.unwrap().expect("stored conversation");
    for chunk in 0..TOTAL / 500 {
        let batch: Vec<NewMessage> = (0..500)
            .filter(|i| chunk * 500 + i + 1 > 1)
            .map(|i| NewMessage {
                conversation: id,
                author: Identity::Customer(meta.customer),
                from: UserName::parse("cat").unwrap(),
                to: None,
                joins: None,
                text: MessageText::parse(&format!("message {}", chunk * 500 + i + 1)).unwrap(),
                client_id: None,
                ts: 1,
                attachments: vec![],
            })
            .collect();
        for stored in server.store.append(&batch).await.unwrap() {
            stored.expect("stored");
        }
    }

    // Back from far behind: a few pages, the last one saying newer ones follow.
    let since = json!([{"conversation": conversation, "seq": 0}]);
    let mut back =
        TestClient::connect(&server, WS, Some(json!({"resume": token, "since": since}))).await;
    back.expect("login_success").await;
    let mut got = vec![];
    let mut pages = vec![];
    loop {
        let page = back.expect_history(&conversation).await;
        got.extend(seqs(&page));
        let newer = page["newer"] == json!(true);
        pages.push(page);
        if newer || got.len() as u64 >= TOTAL {
            break;
        }
    }
    assert_eq!(pages.len(), CATCH_UP_PAGES, "a few pages at a login, not all of them");
    assert_eq!(got.len(), CATCH_UP_PAGES * CATCH_UP_PAGE as usize);
    back.expect_none("history", 300).await;

    // The client pages on, a page at a time, until the last.
    loop {
        let after = *got.last().unwrap();
        back.emit("history", json!({"conversation": conversation, "after": after})).await;
        let page = back.expect_history(&conversation).await;
        assert!(seqs(&page).len() <= CATCH_UP_PAGE as usize);
        got.extend(seqs(&page));
        if page["newer"] != json!(true) {
            break;
        }
    }
    assert_eq!(got, (1..=TOTAL).collect::<Vec<_>>(), "every message, in order, once");
    // Neither both nor none of `before` and `after`.
    back.emit("history", json!({"conversation": conversation, "before": 9, "after": 3})).await;
    assert!(back.expect("error").await.as_str().unwrap().contains("history"));
    server.stop().await;
}

/// The customers, conversations and sessions stored in a server's SQLite database.
async fn rows(server: &TestServer) -> (i64, i64, i64) {
    let pool = sqlx::SqlitePool::connect(&server.database_url).await.expect("open the database");
    let (customers, conversations, sessions): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM conversations), \
         (SELECT count(*) FROM sessions WHERE customer_id IS NOT NULL)",
    )
    .fetch_one(&pool)
    .await
    .expect("count rows");
    pool.close().await;
    (customers, conversations, sessions)
}

/// Issue 19 (item 4): an anonymous customer costs no row until someone writes. A login that
/// never writes stores nothing, nor does one refused; meanwhile the token resumes from the
/// live state (a reload, another tab); the first message stores the customer with their
/// session, so the same token resumes after a restart.
#[tokio::test]
async fn a_customer_is_stored_at_their_first_message_not_at_their_login() {
    let server = TestServer::start().await;
    let mut cat = TestClient::connect(&server, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    assert_eq!(rows(&server).await, (0, 0, 0), "a login stores nothing");
    let mut taken = TestClient::connect(&server, WS, Some(json!("CAT"))).await;
    taken.expect("login_error").await;
    assert_eq!(rows(&server).await, (0, 0, 0), "nor does a refused one");

    // A reload before writing: the token resumes the same conversation.
    let mut second = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    let back = second.expect("login_success").await;
    assert_eq!((&back["name"], &back["conversation"]), (&json!("cat"), &conversation));
    assert_eq!(rows(&server).await, (0, 0, 0));

    let ack = second.emit_acked("private_message", json!({"message": "hello"})).await;
    assert_eq!(
        (&ack["ok"], &ack["seq"], &ack["conversation"]),
        (&json!(true), &json!(1), &conversation)
    );
    assert_eq!(rows(&server).await, (1, 1, 1), "the first message stores them");
    cat.expect_where("message", |m| m["message"] == json!("hello")).await;

    let server = server.restart().await;
    let mut again = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    assert_eq!(again.expect("login_success").await["conversation"], conversation);
    assert_eq!(texts(&again.expect_history(&conversation).await), vec!["hello"]);
    assert_eq!(rows(&server).await, (1, 1, 1));
    server.stop().await;
}

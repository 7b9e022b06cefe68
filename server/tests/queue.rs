//! The support workflow through the real server: the queue, fair assignment, backlog pull,
//! take, resolve and reopen, transfer with a note.

mod common;

use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

/// The newest summary of each conversation an agent was sent, by customer name.
#[derive(Default)]
struct Board(std::collections::HashMap<String, Value>);

impl Board {
    /// Waits until the summary of `customer`'s conversation satisfies `check`.
    async fn wait(
        &mut self,
        client: &mut TestClient,
        customer: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + common::WAIT;
        loop {
            if let Some(summary) = self.0.get(customer).filter(|s| check(s)) {
                return summary.clone();
            }
            let summary = tokio::time::timeout_at(deadline, client.expect("conversation"))
                .await
                .unwrap_or_else(|_| {
                    panic!("no matching summary of {customer}'s conversation; have {:?}", self.0)
                });
            self.0.insert(summary["customer"].as_str().expect("customer").to_owned(), summary);
        }
    }
}

#[tokio::test]
async fn the_queue_waits_for_agents_then_spreads_the_work_and_survives_a_restart() {
    let server = TestServer::start().await;
    for name in ["amy", "bob"] {
        server.add_agent(name, "password-1").await;
    }
    // Three customers write while no agent is online: they wait, in order.
    for name in ["c1", "c2", "c3"] {
        let c = TestClient::login(&server, WS, json!(name)).await;
        let ack =
            c.emit_acked("private_message", json!({"message": format!("{name} needs help")})).await;
        assert_eq!(ack["ok"], json!(true), "{ack}");
    }
    let server = server.restart().await;

    // Amy comes online: the backlog is hers, oldest first.
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;
    let mut amys = Board::default();
    for name in ["c1", "c2", "c3"] {
        amys.wait(&mut amy, name, |s| {
            s["status"] == json!("open") && s["assignee"] == json!("amy")
        })
        .await;
    }
    // Bob arrives: new customers go to whoever has fewer open, then alternate.
    let mut bob = TestClient::login(&server, WS, agent("bob")).await;
    let mut bobs = Board::default();
    let mut assigned = vec![];
    for name in ["d1", "d2", "d3", "d4", "d5"] {
        let d = TestClient::login(&server, WS, json!(name)).await;
        d.emit_acked("private_message", json!({"message": "hello"})).await;
        // Only the agent who gets it is told (the other never saw it).
        let open = |s: &Value| s["status"] == json!("open");
        let (told, s) = tokio::select! {
            s = bobs.wait(&mut bob, name, open) => ("bob", s),
            s = amys.wait(&mut amy, name, open) => ("amy", s),
        };
        assert_eq!(s["assignee"], json!(told), "{name}");
        assigned.push(told.to_owned());
    }
    assert_eq!(
        assigned,
        vec!["bob", "bob", "bob", "amy", "bob"],
        "3 open each, then the one given one longest ago"
    );
    server.stop().await;
}

#[tokio::test]
async fn take_resolve_reopen_and_transfer_with_a_note() {
    let server = TestServer::start().await;
    for name in ["amy", "bob"] {
        server.add_agent(name, "password-1").await;
    }
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    cat.emit_acked("private_message", json!({"message": "my router is broken"})).await;
    let (mut amys, mut bobs) = (Board::default(), Board::default());
    let open = amys.wait(&mut amy, "cat", |s| s["status"] == json!("open")).await;
    let conversation = open["id"].clone();
    assert_eq!(open["assignee"], json!("amy"));

    // Customers cannot run the desk, and learn nothing of it.
    cat.emit("take", json!({"conversation": conversation})).await;
    assert!(cat.expect("error").await.as_str().unwrap().contains("Only support agents"));
    cat.expect_none("conversation", 200).await;
    // Nor which agent accounts exist: a transfer to one and to nobody are refused alike.
    for to in ["nobody", "Bob"] {
        cat.emit("transfer", json!({"conversation": conversation, "to": to, "note": ""})).await;
        let refusal = cat.expect("error").await;
        assert!(refusal.as_str().unwrap().contains("Only support agents"), "{to}: {refusal}");
    }

    // Bob comes online; Amy hands the conversation over with a note.
    let mut bob = TestClient::login(&server, WS, agent("bob")).await;
    // Amy's: to Bob, who took no part in it, it does not exist.
    bob.emit("take", json!({"conversation": conversation})).await;
    assert_eq!(bob.expect("error").await, json!("There is no such conversation."));
    amy.emit("transfer", json!({"conversation": conversation, "to": "nobody", "note": "x"})).await;
    assert!(amy.expect("error").await.as_str().unwrap().contains("no agent called nobody"));
    amy.emit(
        "transfer",
        json!({"conversation": conversation, "to": "Bob", "note": "Warranty OK, send a new one"}),
    )
    .await;
    let moved = bobs.wait(&mut bob, "cat", |s| s["assignee"] == json!("bob")).await;
    assert_eq!(moved["note"], json!("Warranty OK, send a new one"));
    let page = bob.expect_history(&conversation).await;
    assert_eq!(
        page["messages"][0]["message"],
        json!("my router is broken"),
        "Bob gets the conversation so far"
    );
    cat.expect_none("conversation", 200).await;

    // Cat's next message reaches Bob, not Amy; Amy may not resolve it any more.
    amy.expect("message").await; // the first one, from before the transfer
    cat.emit_acked("private_message", json!({"message": "hello?"})).await;
    assert_eq!(bob.expect("message").await["message"], json!("hello?"));
    amy.expect_none("message", 200).await;
    amy.emit("resolve", json!({"conversation": conversation})).await;
    assert!(amy.expect("error").await.as_str().unwrap().contains("not assigned to you"));

    // Bob resolves; Cat writes again and the conversation reopens with Bob.
    bob.emit("resolve", json!({"conversation": conversation})).await;
    bobs.wait(&mut bob, "cat", |s| s["status"] == json!("resolved")).await;
    cat.emit_acked("private_message", json!({"message": "it works now, thanks"})).await;
    bobs.wait(&mut bob, "cat", |s| s["status"] == json!("open") && s["assignee"] == json!("bob"))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn internal_notes_reach_agents_only_and_come_back_after_a_reload() {
    let server = TestServer::start().await;
    for name in ["amy", "bob"] {
        server.add_agent(name, "password-1").await;
    }
    let mut amy = TestClient::connect(&server, WS, Some(agent("amy"))).await;
    let token = amy.expect("login_success").await["resume"].clone();
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    cat.emit_acked("private_message", json!({"message": "hello"})).await;
    let conversation = amy.expect("message").await["conversation"].clone();
    // Bob, another agent, does not have it; Ada, an admin, sees every conversation.
    let mut bob = TestClient::login(&server, WS, agent("bob")).await;
    server.add_admin("ada", "password-1").await;
    let mut ada = TestClient::login(&server, WS, agent("ada")).await;

    let ack = amy
        .emit_acked(
            "note",
            json!({"conversation": conversation, "text": "Known fraud pattern, check ID"}),
        )
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let note = ada.expect("note").await;
    assert_eq!(
        (&note["from"], &note["text"]),
        (&json!("amy"), &json!("Known fraud pattern, check ID"))
    );
    cat.expect_none("note", 300).await;
    bob.expect_none("note", 0).await;
    // A customer cannot write one.
    let refused =
        cat.emit_acked("note", json!({"conversation": conversation, "text": "sneaky"})).await;
    assert!(refused["error"].as_str().unwrap().contains("Only support agents"), "{refused}");

    // Amy reloads: the note comes with the conversation.
    amy.disconnect().await;
    let mut again =
        TestClient::connect(&server, WS, Some(json!({"resume": token, "role": "agent"}))).await;
    again.expect("login_success").await;
    let page = again.expect_history(&conversation).await;
    assert_eq!(page["notes"][0]["text"], json!("Known fraud pattern, check ID"), "{page}");
    cat.expect_none("note", 200).await;
    server.stop().await;
}

#[tokio::test]
async fn an_agents_reload_does_not_flap_but_leaving_does_show() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::connect(&server, WS, Some(agent("amy"))).await;
    let token = amy.expect("login_success").await["resume"].clone();
    let mut cat = TestClient::login(&server, WS, json!("cat")).await;
    cat.expect_list(&["amy", "cat"]).await;

    // A reload: the old socket closes, a new one resumes a moment later.
    amy.disconnect().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut again =
        TestClient::connect(&server, WS, Some(json!({"resume": token, "role": "agent"}))).await;
    again.expect("login_success").await;
    cat.expect_none("user_list", 5_000).await;

    // Leaving for good shows, after the grace period.
    let left = std::time::Instant::now();
    again.disconnect().await;
    cat.expect_list(&["cat"]).await;
    let took = left.elapsed();
    assert!(took >= std::time::Duration::from_secs(3), "the list changed after {took:?}");
    server.stop().await;
}

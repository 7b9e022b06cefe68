//! Customers are told how soon the team usually answers a new question, worked out from
//! the last week's history when the server starts (and every few minutes after). (Too few
//! answers to say anything: `replies::tests`, where the computation's outcome is seen.)

mod common;

use app::protocol::{MessageText, UserName};
use chat_server::model::{AgentKey, Identity, NewMessage};
use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const MIN: u64 = 60_000;

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

/// What `login_success` says to whoever logs in with `login`, once the server has worked
/// the reply time out (it does so as it starts: a login just before may hear nothing).
async fn reply_time_told(server: &TestServer, login: Value, expected: Value) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut client =
            TestClient::connect(server, Transport::Websocket, Some(login.clone())).await;
        let ok = client.expect("login_success").await;
        client.disconnect().await;
        let told = ok.get("reply_time_ms").cloned().unwrap_or(Value::Null);
        if told == expected || std::time::Instant::now() > deadline {
            return told;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn customers_hear_the_median_first_answer_of_the_last_week_and_agents_do_not() {
    let server = TestServer::start().await;
    server.add_agent("amy", "password-1").await;
    let amy = Identity::Agent(AgentKey::of(&name("amy")));
    let now = chat_server::clock::now_ms();
    // The customers are created (seen) now: the running server's clean-up deletes one who
    // never wrote and was last seen past the retention, before its history is written.
    // Six questions in the last days, answered after 1, 2, 3, 4, 30 and 240 minutes; the
    // quick exchanges after each answer are not first answers. One question from last
    // month, answered after a second, is too old to count; one is still waiting.
    let mut batch = Vec::new();
    let waits = [1, 2, 3, 4, 30, 240];
    for (i, wait) in waits.iter().enumerate() {
        let asked = now - (i as u64 + 1) * 24 * 60 * MIN;
        let meta = server
            .store
            .create_customer(&name(&format!("c{i}")), &format!("t{i}"), now)
            .await
            .unwrap();
        let message = |author: Identity, text: &str, ts: u64| NewMessage {
            conversation: meta.id,
            from: match &author {
                Identity::Customer(_) => meta.customer_name.clone(),
                Identity::Agent(_) => name("amy"),
            },
            joins: matches!(author, Identity::Agent(_)).then(|| AgentKey::of(&name("amy"))),
            author,
            to: None,
            text: MessageText::parse(text).unwrap(),
            client_id: None,
            ts,
            attachments: vec![],
        };
        let answered = asked + wait * MIN;
        batch.push(message(Identity::Customer(meta.customer), "my order?", asked));
        batch.push(message(amy.clone(), "on its way", answered));
        batch.push(message(Identity::Customer(meta.customer), "thanks", answered + 5_000));
        batch.push(message(amy.clone(), "you're welcome", answered + 6_000));
    }
    let old = server.store.create_customer(&name("old"), "t-old", now).await.unwrap();
    let waiting = server.store.create_customer(&name("late"), "t-late", now - MIN).await.unwrap();
    for (meta, author, ts) in [
        (&old, Identity::Customer(old.customer), now - 40 * 24 * 60 * MIN),
        (&old, amy.clone(), now - 40 * 24 * 60 * MIN + 1_000),
        (&waiting, Identity::Customer(waiting.customer), now - MIN),
    ] {
        batch.push(NewMessage {
            conversation: meta.id,
            from: if matches!(author, Identity::Agent(_)) {
                name("amy")
            } else {
                meta.customer_name.clone()
            },
            joins: None,
            author,
            to: None,
            text: MessageText::parse("hello").unwrap(),
            client_id: None,
            ts,
            attachments: vec![],
        });
    }
    for result in server.store.append(&batch).await.unwrap() {
        result.unwrap();
    }

    // The server that starts on this history works it out.
    let server = server.restart().await;
    // The median of 1, 2, 3, 4, 30, 240 minutes (the upper middle one).
    let told = reply_time_told(&server, json!("dana"), json!(4 * MIN)).await;
    assert_eq!(told, json!(4 * MIN));
    let agent = json!({"name": "amy", "role": "agent", "password": "password-1"});
    let told = reply_time_told(&server, agent, Value::Null).await;
    assert_eq!(told, Value::Null, "agents are not told");
    server.stop().await;
}

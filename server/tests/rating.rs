//! Satisfaction ratings through the real server: a customer whose conversation is resolved
//! is told so and rates it once per resolution; the agents who see the conversation get the
//! rating (and its comment), with the history at their next login; an admin turns ratings
//! off and on for everyone. Anyone else is refused: another customer as for a conversation
//! that does not exist, an agent as not the customer. On SQLite and PostgreSQL.

mod common;

use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

async fn a_resolution_is_rated_once_and_the_agents_see_it(server: TestServer) {
    for name in ["amy", "ben"] {
        server.add_agent(name, "password-1").await;
    }
    server.add_admin("ada", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;

    // Taken and resolved before anyone wrote: nothing to rate, and the customer is not asked.
    let mut zed = TestClient::connect(&server, WS, Some(json!("Zed"))).await;
    let silent = zed.expect("login_success").await["conversation"].clone();
    amy.emit("take", json!({"conversation": silent})).await;
    amy.expect_opened("Zed").await;
    amy.emit("resolve", json!({"conversation": silent})).await;
    amy.expect_where("conversation", |s| s["id"] == silent && s["status"] == json!("resolved"))
        .await;
    zed.emit("rate", json!({"conversation": silent, "seq": 0, "score": 5})).await;
    assert_eq!(zed.expect("error").await, json!("This conversation is not waiting for a rating."));
    zed.expect_none("resolved", 200).await;
    zed.disconnect().await;
    let mut ann = TestClient::connect(&server, WS, Some(json!("Ann"))).await;
    let welcome = ann.expect("login_success").await;
    let token = welcome["resume"].clone();
    assert_eq!(ann.expect("desk_settings").await, json!({"csat": true}));
    ann.emit_acked("private_message", json!({"message": "My parcel is late"})).await;
    let id = amy.expect_opened("Ann").await["id"].clone();
    amy.emit_acked("private_message", json!({"conversation": id, "message": "It arrives today."}))
        .await;

    // Not resolved yet: nothing to rate.
    ann.emit("rate", json!({"conversation": id, "seq": 2, "score": 5})).await;
    assert_eq!(ann.expect("error").await, json!("This conversation is not waiting for a rating."));
    amy.emit("resolve", json!({"conversation": id})).await;
    let resolved = ann.expect("resolved").await;
    assert_eq!(resolved, json!({"conversation": id, "seq": 2}));

    // Bad scores and comments are told plainly; a stranger and an agent are refused.
    ann.emit("rate", json!({"conversation": id, "seq": 2, "score": 6})).await;
    assert_eq!(ann.expect("error").await, json!("Please pick from 1 to 5 stars."));
    let long = "x".repeat(app::protocol::RATING_COMMENT_MAX_CHARS + 1);
    ann.emit("rate", json!({"conversation": id, "seq": 2, "score": 4, "comment": long})).await;
    assert_eq!(ann.expect("error").await, json!("A comment can be at most 1000 characters."));
    let mut bob = TestClient::login(&server, WS, json!("Bob")).await;
    // Ben, an agent not in Ann's conversation, is not told of her rating.
    let mut ben = TestClient::login(&server, WS, agent("ben")).await;
    for asked in [id.clone(), json!(999_999)] {
        bob.emit("rate", json!({"conversation": asked, "seq": 2, "score": 1})).await;
        assert_eq!(bob.expect("error").await, json!("There is no such conversation."), "{asked}");
    }
    amy.emit("rate", json!({"conversation": id, "seq": 2, "score": 5})).await;
    assert_eq!(amy.expect("error").await, json!("Only the customer can do that."));

    // Rated: Amy sees it with the comment, and so does Ann's tab; once only.
    ann.emit(
        "rate",
        json!({"conversation": id, "seq": 2, "score": 4, "comment": " Quick, thanks "}),
    )
    .await;
    let seen = amy.expect("rating").await;
    assert_eq!(
        (&seen["score"], &seen["comment"], &seen["seq"]),
        (&json!(4), &json!("Quick, thanks"), &json!(2)),
        "{seen}"
    );
    assert_eq!(ann.expect("rating").await["score"], json!(4));
    ann.emit("rate", json!({"conversation": id, "seq": 2, "score": 1})).await;
    assert_eq!(
        ann.expect("error").await,
        json!("You have rated this conversation already. Thank you!")
    );
    bob.expect_none("rating", 200).await;
    ben.expect_none("rating", 200).await;

    // Back later: not asked again for this resolution.
    ann.disconnect().await;
    let mut ann = TestClient::connect(&server, WS, Some(json!({"resume": token}))).await;
    ann.expect("login_success").await;
    ann.expect("desk_settings").await;
    ann.expect_none("resolved", 300).await;

    // She writes again; resolved again, it is another resolution, rated afresh.
    ann.emit_acked("private_message", json!({"message": "One more question"})).await;
    amy.emit("take", json!({"conversation": id})).await;
    amy.expect_opened("Ann").await;
    amy.emit("resolve", json!({"conversation": id})).await;
    assert_eq!(ann.expect("resolved").await["seq"], json!(3));
    // The earlier resolution is past.
    ann.emit("rate", json!({"conversation": id, "seq": 2, "score": 5})).await;
    assert_eq!(ann.expect("error").await, json!("This conversation is not waiting for a rating."));

    // An admin turns ratings off: everyone is told, and a rating is refused; a plain agent
    // may not change it.
    amy.emit("desk_settings", json!({"csat": true})).await;
    assert_eq!(amy.expect("error").await, json!("Only admins can do that."));
    let mut ada = TestClient::login(&server, WS, agent("ada")).await;
    ada.expect("desk_settings").await;
    ada.emit("desk_settings", json!({"csat": false})).await;
    assert_eq!(ann.expect("desk_settings").await, json!({"csat": false}));
    ann.emit("rate", json!({"conversation": id, "seq": 3, "score": 5})).await;
    assert_eq!(ann.expect("error").await, json!("This support desk does not take ratings."));
    ada.emit("desk_settings", json!({"csat": true})).await;
    assert_eq!(ann.expect("desk_settings").await, json!({"csat": true}));
    ann.emit("rate", json!({"conversation": id, "seq": 3, "score": 2})).await;
    assert_eq!(amy.expect("rating").await["seq"], json!(3));

    // An agent logging in later gets both ratings with the conversation.
    let mut later = TestClient::login(&server, WS, agent("ada")).await;
    let page = later.expect_history(&id).await;
    let scores: Vec<&Value> =
        page["ratings"].as_array().unwrap().iter().map(|r| &r["score"]).collect();
    assert_eq!(scores, vec![&json!(4), &json!(2)], "{page}");
}

#[tokio::test]
async fn a_resolution_is_rated_once_and_the_agents_see_it_on_sqlite() {
    a_resolution_is_rated_once_and_the_agents_see_it(TestServer::start().await).await;
}

#[tokio::test]
async fn a_resolution_is_rated_once_and_the_agents_see_it_on_postgres() {
    a_resolution_is_rated_once_and_the_agents_see_it(TestServer::start_postgres().await).await;
}

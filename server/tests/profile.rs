//! Customer profiles through the real server: what a customer's browser said at login and
//! what their host site signed reach the agents who see the conversation, with the
//! customer's other conversations (by e-mail address) that each agent sees; agents correct
//! the address and keep a note. Customers, and agents who do not see the conversation, are
//! refused exactly as for a conversation that does not exist. On SQLite and PostgreSQL.

mod common;

use chat_server::auth::{sign_host_identity, HostUser};
use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;
const SECRET: &str = "a secret the shop shares with the chat";

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

/// Asks for the profile of `conversation` and waits for it.
async fn profile(client: &mut TestClient, conversation: &Value) -> Value {
    client.emit("profile", json!({"conversation": conversation})).await;
    client.expect_where("profile", |p| p["conversation"] == *conversation).await
}

async fn agents_read_and_keep_what_is_known_of_a_customer(server: TestServer) {
    for name in ["amy", "bob"] {
        server.add_agent(name, "password-1").await;
    }
    server.add_admin("ada", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;
    // Ann, from the widget on the shop's cart page, with her address and her browser's say.
    let visit = json!({
        "email": "Ann@Example.com", "page": "https://shop.example/cart",
        "language": "zh-CN", "time_zone": "Asia/Shanghai",
    });
    let ann = TestClient::login(&server, WS, json!({"name": "Ann", "visit": visit})).await;
    ann.emit_acked("private_message", json!({"message": "Where is my order?"})).await;
    let conversation = amy.expect_opened("Ann").await["id"].clone();
    let seen = profile(&mut amy, &conversation).await;
    assert_eq!(seen["customer"], json!("Ann"), "{seen}");
    assert_eq!(seen["email"], json!("Ann@Example.com"), "{seen}");
    assert_eq!(seen["page"], json!("https://shop.example/cart"), "{seen}");
    assert_eq!(seen["language"], json!("zh-CN"), "{seen}");
    assert_eq!(seen["time_zone"], json!("Asia/Shanghai"), "{seen}");
    let now = chat_server::clock::now_ms();
    let first_seen = seen["first_seen"].as_u64().unwrap();
    assert!(now - first_seen < 60_000, "{seen}");
    assert_eq!(seen.get("others"), None, "{seen}");

    // Amy corrects the address and notes something; a bad address or an overlong note is
    // refused in words, and changes nothing.
    amy.emit("profile_set", json!({"conversation": conversation, "email": "ann@"})).await;
    assert_eq!(amy.expect("error").await, json!("That does not look like an e-mail address."));
    let long = "x".repeat(app::protocol::CUSTOMER_NOTE_MAX_CHARS + 1);
    amy.emit("profile_set", json!({"conversation": conversation, "note": long})).await;
    assert_eq!(
        amy.expect("error").await,
        json!("A note on a customer can be at most 2000 characters.")
    );
    let change = json!({"conversation": conversation, "email": "ann@example.org", "note": "VIP; prefers e-mail"});
    amy.emit("profile_set", change).await;
    let changed = amy.expect_where("profile", |p| p["conversation"] == conversation).await;
    assert_eq!(changed["email"], json!("ann@example.org"), "{changed}");
    assert_eq!(changed["note"]["text"], json!("VIP; prefers e-mail"), "{changed}");
    assert_eq!(changed["note"]["by"], json!("amy"), "{changed}");

    // Ann again from another device, anonymous, with the corrected address: a conversation
    // Bob takes. Amy's profile of Ann lists it only once she may see it; an admin sees it.
    let mut bob = TestClient::login(&server, WS, agent("bob")).await;
    let visit = json!({"email": "ANN@example.org"});
    let again = TestClient::login(&server, WS, json!({"name": "Ann W", "visit": visit})).await;
    again.emit_acked("private_message", json!({"message": "It's me again"})).await;
    let second = bob.expect_opened("Ann W").await["id"].clone();
    assert_eq!(
        profile(&mut amy, &conversation).await.get("others"),
        None,
        "Bob's conversation is not Amy's to see"
    );
    let mut ada = TestClient::login(&server, WS, agent("ada")).await;
    let all = profile(&mut ada, &conversation).await;
    assert_eq!(all["others"][0]["summary"]["id"], second, "{all}");
    assert_eq!(all["others"][0]["summary"]["customer"], json!("Ann W"), "{all}");
    assert_eq!(all["others"][0]["summary"]["assignee"], json!("bob"), "{all}");
    let back = profile(&mut bob, &second).await;
    assert_eq!(back.get("others"), None, "Amy's conversation is not Bob's: {back}");

    // Refusals: Amy may not see Bob's conversation, and a conversation that does not exist
    // reads the same; a customer is refused before anything is looked up.
    for asked in [second.clone(), json!(999_999)] {
        amy.emit("profile", json!({"conversation": asked})).await;
        assert_eq!(amy.expect("error").await, json!("There is no such conversation."), "{asked}");
        amy.emit("profile_set", json!({"conversation": asked, "note": "x", "email": "x"})).await;
        assert_eq!(amy.expect("error").await, json!("There is no such conversation."), "{asked}");
    }
    amy.expect_none("profile", 200).await;
    let mut customer = again;
    for event in ["profile", "profile_set"] {
        customer.emit(event, json!({"conversation": second, "note": "mine"})).await;
        assert_eq!(customer.expect("error").await, json!("Only support agents can do that."));
    }
    customer.expect_none("profile", 200).await;
    // The refused changes left Bob's customer as she was.
    assert_eq!(profile(&mut bob, &second).await.get("note"), None);

    // A customer who has not written costs no row: what their browser said waits with their
    // conversation, and an agent's note stores them (with it).
    let visit = json!({"email": "neo@example.com", "time_zone": "Europe/Paris"});
    let mut neo =
        TestClient::connect(&server, WS, Some(json!({"name": "Neo", "visit": visit}))).await;
    let new = neo.expect("login_success").await["conversation"].clone();
    let id = app::protocol::ConversationId(new.as_u64().unwrap());
    assert!(server.store.conversation(id).await.unwrap().is_none(), "not stored yet");
    let waiting = profile(&mut ada, &new).await;
    assert_eq!(waiting["email"], json!("neo@example.com"), "{waiting}");
    assert_eq!(waiting["time_zone"], json!("Europe/Paris"), "{waiting}");
    ada.emit("profile_set", json!({"conversation": new, "note": "Asked about bulk orders"})).await;
    let noted = ada.expect_where("profile", |p| p["conversation"] == new).await;
    assert_eq!(noted["note"]["text"], json!("Asked about bulk orders"), "{noted}");
    assert_eq!(noted["email"], json!("neo@example.com"), "stored with them: {noted}");
    assert!(server.store.conversation(id).await.unwrap().is_some(), "stored now");
}

#[tokio::test]
async fn agents_read_and_keep_what_is_known_of_a_customer_on_sqlite() {
    agents_read_and_keep_what_is_known_of_a_customer(TestServer::start().await).await;
}

#[tokio::test]
async fn agents_read_and_keep_what_is_known_of_a_customer_on_postgres() {
    agents_read_and_keep_what_is_known_of_a_customer(TestServer::start_postgres().await).await;
}

/// What a host site signs about its user reaches the agents; the same attributes changed
/// after signing refuse the login.
#[tokio::test]
async fn a_host_sites_signed_attributes_are_shown_and_cannot_be_forged() {
    let settings =
        chat_server::Settings { widget_secret: Some(SECRET.into()), ..Default::default() };
    let server = TestServer::start_with(settings).await;
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;
    let expires = chat_server::clock::now_ms() / 1000 + 3600;
    let attributes = r#"{"plan":"pro","order":"A-1001"}"#;
    let user = HostUser { id: "shop-7", name: "Lin", expires, attributes: Some(attributes) };
    let sig = sign_host_identity(SECRET.as_bytes(), user);
    let identity = |attributes: &str| json!({"name": "Lin", "identity": {"id": "shop-7", "expires": expires, "sig": sig, "attributes": attributes}});
    // Changed by the reader (a plan they do not have): not signed, refused.
    let mut forged =
        TestClient::connect(&server, WS, Some(identity(r#"{"plan":"max","order":"A-1001"}"#)))
            .await;
    assert_eq!(
        forged.expect("login_error").await,
        json!(app::protocol::Problem::IdentityInvalid.to_string())
    );
    let lin = TestClient::login(&server, WS, identity(attributes)).await;
    lin.emit_acked("private_message", json!({"message": "Upgrade question"})).await;
    let conversation = amy.expect_opened("Lin").await["id"].clone();
    let seen = profile(&mut amy, &conversation).await;
    assert_eq!(seen["user_id"], json!("shop-7"), "{seen}");
    assert_eq!(seen["attributes"], json!({"order": "A-1001", "plan": "pro"}), "{seen}");

    // From another device, after an upgrade the site signs: the same customer and
    // conversation, one profile, with what the site says now.
    let upgraded = r#"{"plan":"max"}"#;
    let user = HostUser { attributes: Some(upgraded), ..user };
    let sig = sign_host_identity(SECRET.as_bytes(), user);
    let login = json!({"name": "Lin", "identity": {"id": "shop-7", "expires": expires, "sig": sig, "attributes": upgraded}});
    let mut laptop = TestClient::connect(&server, WS, Some(login)).await;
    assert_eq!(laptop.expect("login_success").await["conversation"], conversation);
    // Served after her login is (with what it recorded).
    laptop.emit_acked("private_message", json!({"message": "From my laptop"})).await;
    let seen = profile(&mut amy, &conversation).await;
    assert_eq!(seen["attributes"], json!({"plan": "max"}), "{seen}");
    assert_eq!(seen["user_id"], json!("shop-7"), "{seen}");
}

//! Customers a host site vouches for (the widget's signed identity): the same customer on
//! every device, and refused when the signature is missing or wrong, or when no secret is
//! configured.

mod common;

use chat_server::auth::sign_host_identity;
use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;
const SECRET: &str = "a secret the shop shares with the chat";

fn vouched(id: &str, name: &str, sig: Option<String>) -> Value {
    let mut identity = json!({"id": id});
    if let Some(sig) = sig {
        identity["sig"] = json!(sig);
    }
    json!({"name": name, "identity": identity})
}

fn signed(id: &str, name: &str) -> Value {
    vouched(id, name, Some(sign_host_identity(SECRET.as_bytes(), id, name)))
}

#[tokio::test]
async fn a_signed_customer_is_the_same_customer_on_every_device() {
    let settings =
        chat_server::Settings { widget_secret: Some(SECRET.into()), ..Default::default() };
    let server = TestServer::start_with(settings).await;
    let mut phone = TestClient::connect(&server, WS, Some(signed("shop-user-42", "Ann"))).await;
    let ok = phone.expect("login_success").await;
    let conversation = ok["conversation"].clone();
    let ack = phone.emit_acked("private_message", json!({"message": "sent from my phone"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    phone.disconnect().await;

    // Another device, no resume token: the site vouches again, and the history is hers.
    let mut laptop = TestClient::connect(&server, WS, Some(signed("shop-user-42", "Ann"))).await;
    let ok = laptop.expect("login_success").await;
    assert_eq!(ok["conversation"], conversation, "the same conversation");
    let page = laptop.expect_history(&conversation).await;
    assert_eq!(page["messages"][0]["message"], json!("sent from my phone"), "{page}");

    // Another user of the site is another customer.
    let mut ben = TestClient::connect(&server, WS, Some(signed("shop-user-7", "Ben"))).await;
    let ok = ben.expect("login_success").await;
    assert_ne!(ok["conversation"], conversation);
    server.stop().await;
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_identities_are_refused() {
    let settings =
        chat_server::Settings { widget_secret: Some(SECRET.into()), ..Default::default() };
    let server = TestServer::start_with(settings).await;
    let invalid = json!(app::protocol::Problem::IdentityInvalid.to_string());
    let wrong_key = sign_host_identity(b"a guess", "shop-user-42", "Ann");
    let other_name = sign_host_identity(SECRET.as_bytes(), "shop-user-42", "Ann");
    for (login, why) in [
        (vouched("shop-user-42", "Ann", None), "unsigned"),
        (vouched("shop-user-42", "Ann", Some(wrong_key)), "signed with another key"),
        (
            vouched("shop-user-42", "Mallory", Some(other_name.clone())),
            "Ann's signature on another name",
        ),
        (vouched("shop-user-43", "Ann", Some(other_name)), "Ann's signature on another id"),
        (vouched("shop-user-42", "Ann", Some("not hex".into())), "not a signature"),
        (vouched("", "Ann", Some(sign_host_identity(SECRET.as_bytes(), "", "Ann"))), "an empty id"),
    ] {
        let mut client = TestClient::connect(&server, WS, Some(login)).await;
        assert_eq!(client.expect("login_error").await, invalid, "{why}");
    }
    // Agents log in with their password, never through a host site.
    server.add_agent("amy", "password-1").await;
    let mut agent = TestClient::connect(&server, WS, Some(json!({
        "name": "amy", "role": "agent", "identity": {"id": "x", "sig": sign_host_identity(SECRET.as_bytes(), "x", "amy")}
    }))).await;
    assert_eq!(agent.expect("login_error").await, invalid);
    // Without an identity, customers are anonymous as ever.
    TestClient::login(&server, WS, json!("Anonymous Ann")).await;
    server.stop().await;
}

#[tokio::test]
async fn without_a_secret_no_identity_is_taken() {
    let server = TestServer::start().await;
    let mut client = TestClient::connect(&server, WS, Some(signed("shop-user-42", "Ann"))).await;
    assert_eq!(
        client.expect("login_error").await,
        json!(app::protocol::Problem::IdentityNotAccepted.to_string())
    );
    TestClient::login(&server, WS, json!("Ann")).await;
    server.stop().await;
}

//! Customers a host site vouches for (the widget's signed identity): the same customer on
//! every device, and refused when the signature is missing or wrong, expired or too long
//! lived, or when no secret is configured.

mod common;

use chat_server::auth::{sign_host_identity, HostUser};
use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;
const SECRET: &str = "a secret the shop shares with the chat";

/// Seconds since the epoch.
fn now() -> u64 {
    chat_server::clock::now_ms() / 1000
}

/// An hour from now: what a site would sign a page for.
fn soon() -> u64 {
    now() + 3600
}

fn vouched(id: &str, name: &str, expires: u64, sig: Option<String>) -> Value {
    let mut identity = json!({"id": id, "expires": expires});
    if let Some(sig) = sig {
        identity["sig"] = json!(sig);
    }
    json!({"name": name, "identity": identity})
}

fn signed_until(id: &str, name: &str, expires: u64) -> Value {
    vouched(
        id,
        name,
        expires,
        Some(sign_host_identity(
            SECRET.as_bytes(),
            HostUser { id, name, expires, attributes: None },
        )),
    )
}

fn signed(id: &str, name: &str) -> Value {
    signed_until(id, name, soon())
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
    let t = soon();
    let wrong_key = sign_host_identity(
        b"a guess",
        HostUser { id: "shop-user-42", name: "Ann", expires: t, attributes: None },
    );
    let other_name = sign_host_identity(
        SECRET.as_bytes(),
        HostUser { id: "shop-user-42", name: "Ann", expires: t, attributes: None },
    );
    let mut unexpiring = signed("shop-user-42", "Ann");
    unexpiring["identity"].as_object_mut().unwrap().remove("expires");
    for (login, why) in [
        (vouched("shop-user-42", "Ann", t, None), "unsigned"),
        (vouched("shop-user-42", "Ann", t, Some(wrong_key)), "signed with another key"),
        (
            vouched("shop-user-42", "Mallory", t, Some(other_name.clone())),
            "Ann's signature on another name",
        ),
        (
            vouched("shop-user-43", "Ann", t, Some(other_name.clone())),
            "Ann's signature on another id",
        ),
        (
            vouched("shop-user-42", "Ann", t + 3600, Some(other_name)),
            "Ann's signature, a later expiry",
        ),
        (vouched("shop-user-42", "Ann", t, Some("not hex".into())), "not a signature"),
        (
            vouched(
                "",
                "Ann",
                t,
                Some(sign_host_identity(
                    SECRET.as_bytes(),
                    HostUser { id: "", name: "Ann", expires: t, attributes: None },
                )),
            ),
            "an empty id",
        ),
        (unexpiring, "no expiry"),
    ] {
        let mut client = TestClient::connect(&server, WS, Some(login)).await;
        assert_eq!(client.expect("login_error").await, invalid, "{why}");
    }
    // Agents log in with their password, never through a host site.
    server.add_agent("amy", "password-1").await;
    let mut agent = TestClient::connect(&server, WS, Some(json!({
        "name": "amy", "role": "agent", "identity": {"id": "x", "expires": t, "sig": sign_host_identity(SECRET.as_bytes(), HostUser { id: "x", name: "amy", expires: t, attributes: None })}
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

/// Issue 19: a signature was good forever, so one copied out of a page (a shared link, a
/// log, a cached page) signed its user in for good. It now carries its expiry: an old one
/// replayed is refused, and so is one signed for longer than a day, each in words.
#[tokio::test]
async fn an_expired_or_too_long_signature_is_refused_in_words() {
    let settings =
        chat_server::Settings { widget_secret: Some(SECRET.into()), ..Default::default() };
    let server = TestServer::start_with(settings).await;
    // Signed yesterday for an hour: a page's identity replayed the next day.
    let old = signed_until("shop-user-42", "Ann", now() - 23 * 3600);
    let mut replay = TestClient::connect(&server, WS, Some(old)).await;
    assert_eq!(
        replay.expect("login_error").await,
        json!("Your sign-in from the site you came from has expired. Please reload the page.")
    );
    let max = app::protocol::HOST_IDENTITY_MAX_SECS;
    let far = signed_until("shop-user-42", "Ann", now() + max + 3600);
    let mut too_long = TestClient::connect(&server, WS, Some(far)).await;
    assert_eq!(
        too_long.expect("login_error").await,
        json!("The site you came from signed you in for too long (at most 24 hours ahead). Please tell the site.")
    );
    // Signed for the day: taken.
    let day = signed_until("shop-user-42", "Ann", now() + max - 60);
    TestClient::connect(&server, WS, Some(day)).await.expect("login_success").await;
    server.stop().await;
}

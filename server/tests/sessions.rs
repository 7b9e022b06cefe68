//! Agent sessions in an `HttpOnly; SameSite=Strict` cookie: logging in over HTTP, the
//! socket that uses the cookie, rotation at every login, and revocation by logout (over
//! HTTP and over the socket). Pages of other sites may not log anyone in or out.

mod common;

use common::{http, TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

/// `POST /session` as the agent's browser would: returns the status, the JSON body, and
/// the cookie's `name=value` if one was set.
async fn log_in(
    server: &TestServer,
    name: &str,
    password: &str,
    cookie: Option<&str>,
) -> (u16, Value, Option<String>) {
    let body = json!({"name": name, "password": password}).to_string();
    let origin = format!("http://{}", server.addr);
    let mut headers = vec![("Content-Type", "application/json"), ("Origin", origin.as_str())];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    let (status, response) = http(server, "POST", "/session", &headers, &body).await;
    (status, body_of(&response), set_cookie(&response))
}

fn body_of(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// The whole `Set-Cookie` line of a raw response, if any.
fn set_cookie_line(response: &str) -> Option<String> {
    response
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .map(|l| l.split_once(':').map(|(_, v)| v.trim().to_owned()).unwrap_or_default())
}

fn set_cookie(response: &str) -> Option<String> {
    set_cookie_line(response).map(|l| l.split(';').next().unwrap_or_default().to_owned())
}

/// Connects with `cookie` on the handshake and logs in as an agent without a password.
async fn by_cookie(server: &TestServer, cookie: &str) -> TestClient {
    let login = json!({"name": "Ann", "role": "agent"});
    TestClient::connect_with_headers(&server.url, WS, Some(login), &[("Cookie", cookie)]).await
}

#[tokio::test]
async fn a_browser_agent_session_lives_in_an_http_only_cookie() {
    let server = TestServer::start().await;
    server.add_agent("Ann", "correct horse").await;

    // A wrong password: refused with the same words as the socket's, and no cookie.
    let (status, body, cookie) = log_in(&server, "ann", "wrong horse", None).await;
    assert_eq!((status, cookie), (401, None));
    assert_eq!(body["error"], "Wrong agent name or password.");
    let (status, body, _) = log_in(&server, "", "x", None).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("Please enter a name.")));

    // The right one: the account's spelling of the name, and the cookie's attributes.
    let origin = format!("http://{}", server.addr);
    let body = json!({"name": "ann", "password": "correct horse"}).to_string();
    let headers = [("Content-Type", "application/json"), ("Origin", origin.as_str())];
    let (status, response) = http(&server, "POST", "/session", &headers, &body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(body_of(&response), json!({"name": "Ann", "admin": false}));
    let line = set_cookie_line(&response).expect("a cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(attribute), "{line} lacks {attribute}");
    }
    let cookie = set_cookie(&response).expect("a cookie");
    assert!(cookie.starts_with("chat_agent=") && cookie.len() > 40, "{cookie}");

    // The socket logs in by the cookie, and the token is not handed to the page.
    let mut ann = by_cookie(&server, &cookie).await;
    let ok = ann.expect("login_success").await;
    assert_eq!((ok["name"].as_str(), ok["role"].as_str()), (Some("Ann"), Some("agent")));
    assert!(ok.get("resume").is_none(), "the token stays in the cookie: {ok}");

    // Without a cookie (or with a made-up one) an agent needs a password.
    let mut nobody =
        TestClient::connect(&server, WS, Some(json!({"name": "Ann", "role": "agent"}))).await;
    assert_eq!(nobody.expect("login_error").await, "Agents must enter their password.");
    let mut forged =
        by_cookie(&server, "chat_agent=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(forged.expect("login_error").await, "Your session has ended. Please log in again.");

    // A customer's login is not changed by an agent's cookie on the same browser.
    let mut customer = TestClient::connect_with_headers(
        &server.url,
        WS,
        Some(json!("Kim")),
        &[("Cookie", &cookie)],
    )
    .await;
    let ok = customer.expect("login_success").await;
    assert_eq!((ok["name"].as_str(), ok["role"].as_str()), (Some("Kim"), Some("customer")));

    // Guessing over HTTP meets the same backoff as over the socket.
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(log_in(&server, "Ann", "wrong horse", None).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    let origin = format!("http://{}", server.addr);
    let body = json!({"name": "Ann", "password": "correct horse"}).to_string();
    let headers = [("Content-Type", "application/json"), ("Origin", origin.as_str())];
    let (status, response) = http(&server, "POST", "/session", &headers, &body).await;
    assert_eq!(status, 429, "locked even with the right password: {response}");
    assert!(response.to_ascii_lowercase().contains("retry-after: "), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn a_login_rotates_the_session_and_logout_revokes_it() {
    let server = TestServer::start().await;
    server.add_agent("Ann", "correct horse").await;
    let (_, _, first) = log_in(&server, "Ann", "correct horse", None).await;
    let first = first.expect("a cookie");
    // A tab on that session (or whoever stole the cookie).
    let mut tab = by_cookie(&server, &first).await;
    tab.expect("login_success").await;

    // Logging in again from the same browser: a new token, and the old one is dead; its
    // sockets are told and closed, as at a logout.
    let (status, _, second) = log_in(&server, "Ann", "correct horse", Some(&first)).await;
    assert_eq!(tab.expect("error").await, "Your session has ended. Please log in again.");
    let second = second.expect("a cookie");
    assert_eq!(status, 200);
    assert_ne!(first, second);
    let mut old = by_cookie(&server, &first).await;
    assert_eq!(old.expect("login_error").await, "Your session has ended. Please log in again.");
    by_cookie(&server, &second).await.expect("login_success").await;

    // Logout over HTTP: the cookie is cleared in the browser and dead on the server.
    let (status, response) = http(&server, "DELETE", "/session", &[("Cookie", &second)], "").await;
    assert_eq!(status, 204, "{response}");
    let cleared = set_cookie_line(&response).expect("the cookie is cleared");
    assert!(cleared.starts_with("chat_agent=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let mut after = by_cookie(&server, &second).await;
    assert_eq!(after.expect("login_error").await, "Your session has ended. Please log in again.");

    // Logout over the socket ends the cookie's session too.
    let (_, _, third) = log_in(&server, "Ann", "correct horse", None).await;
    let third = third.expect("a cookie");
    let mut ann = by_cookie(&server, &third).await;
    ann.expect("login_success").await;
    ann.emit("logout", Value::Null).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut after = by_cookie(&server, &third).await;
    assert_eq!(after.expect("login_error").await, "Your session has ended. Please log in again.");
    server.stop().await;
}

#[tokio::test]
async fn other_sites_cannot_log_an_agent_in_or_out() {
    let server = TestServer::start().await;
    server.add_agent("Ann", "correct horse").await;
    let body = json!({"name": "Ann", "password": "correct horse"}).to_string();
    let foreign = [("Content-Type", "text/plain"), ("Origin", "https://evil.example")];
    let (status, response) = http(&server, "POST", "/session", &foreign, &body).await;
    assert_eq!(status, 403, "{response}");
    assert_eq!(set_cookie_line(&response), None);
    let (_, _, cookie) = log_in(&server, "Ann", "correct horse", None).await;
    let cookie = cookie.expect("a cookie");
    let (status, _) = http(
        &server,
        "DELETE",
        "/session",
        &[("Origin", "https://evil.example"), ("Cookie", &cookie)],
        "",
    )
    .await;
    assert_eq!(status, 403);
    by_cookie(&server, &cookie).await.expect("login_success").await;
    // Not JSON: a clear refusal.
    let own = format!("http://{}", server.addr);
    let (status, response) =
        http(&server, "POST", "/session", &[("Origin", own.as_str())], "name=Ann").await;
    assert_eq!(
        (status, body_of(&response)["error"].as_str()),
        (400, Some("The server could not read that login request."))
    );
    server.stop().await;
}

/// Issue 19: a page of a listed widget host on a sibling subdomain is the same *site* for
/// `SameSite`, so the browser sends it the agent's cookie: it must not log a socket in with
/// it. And logging out ended the session but left the agent's other tabs connected and
/// receiving everything until they reconnected.
#[tokio::test]
async fn only_the_chats_own_pages_use_the_cookie_and_logout_closes_every_tab() {
    let shop = "http://shop.example.test";
    let settings =
        chat_server::Settings { allowed_origins: vec![shop.into()], ..Default::default() };
    let server = TestServer::start_with(settings).await;
    server.add_agent("Ann", "correct horse").await;
    let (_, _, cookie) = log_in(&server, "Ann", "correct horse", None).await;
    let cookie = cookie.expect("a cookie");
    let login = json!({"name": "Ann", "role": "agent"});
    let from = |origin: &str| [("Cookie", cookie.clone()), ("Origin", origin.to_owned())];
    let connect = |origin: String| {
        let (url, login, headers) = (server.url.clone(), login.clone(), from(&origin));
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            TestClient::connect_with_headers(&url, WS, Some(login), &headers).await
        }
    };
    let mut widget_host = connect(shop.into()).await;
    assert_eq!(widget_host.expect("login_error").await, "Agents must enter their password.");
    // Nor may such a page log the browser in as someone else (a `text/plain` post needs no
    // preflight, and the browser would keep the cookie it sets): only the chat's own pages,
    // and only JSON.
    let body = json!({"name": "Ann", "password": "correct horse"}).to_string();
    for (origin, kind, status) in [
        (shop, "application/json", 403),
        (shop, "text/plain", 403),
        (&*format!("http://{}", server.addr), "text/plain", 400),
    ] {
        let headers = [("Content-Type", kind), ("Origin", origin)];
        let (got, response) = http(&server, "POST", "/session", &headers, &body).await;
        assert_eq!(got, status, "{origin} {kind}: {response}");
        assert_eq!(set_cookie_line(&response), None);
    }
    let own = format!("http://{}", server.addr);
    let mut tab1 = connect(own.clone()).await;
    tab1.expect("login_success").await;
    let mut tab2 = connect(own.clone()).await;
    tab2.expect("login_success").await;

    // Logout over HTTP: both tabs are told, and closed.
    let (status, _) = http(&server, "DELETE", "/session", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 204);
    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(tab.expect("error").await, "Your session has ended. Please log in again.");
    }

    // Logout on one socket: the other tabs of that session are told and closed; the one
    // that logged out closes quietly.
    let (_, _, cookie) = log_in(&server, "Ann", "correct horse", None).await;
    let cookie = cookie.expect("a cookie");
    let headers = [("Cookie", cookie.as_str()), ("Origin", own.as_str())];
    let mut tab3 =
        TestClient::connect_with_headers(&server.url, WS, Some(login.clone()), &headers).await;
    tab3.expect("login_success").await;
    let mut tab4 = TestClient::connect_with_headers(&server.url, WS, Some(login), &headers).await;
    tab4.expect("login_success").await;
    tab3.emit("logout", Value::Null).await;
    assert_eq!(tab4.expect("error").await, "Your session has ended. Please log in again.");
    tab3.expect_none("error", 300).await;
    server.stop().await;
}

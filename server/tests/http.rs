//! The HTTP side: health check and the server-rendered first page.

mod common;

use common::{http, TestServer};

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    http(server, "GET", path, &[], "").await
}

#[tokio::test]
async fn healthz_answers_200() {
    let server = TestServer::start().await;
    let (status, body) = get(&server, "/healthz").await;
    assert_eq!(status, 200);
    assert!(body.ends_with("ok"));
    server.stop().await;
}

#[tokio::test]
async fn the_first_page_is_rendered_on_the_server_with_the_login_form() {
    let server = TestServer::start().await;
    let (status, body) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("data-testid=\"login-form\""), "{body}");
    assert!(
        body.contains("/pkg/chat.js") || body.contains("/pkg/chat"),
        "hydration script is linked"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_page_is_404() {
    let server = TestServer::start().await;
    let (status, _) = get(&server, "/no/such/page").await;
    assert_eq!(status, 404);
    server.stop().await;
}

/// The `chat` binary's site is served from memory and nothing from disk, even where the site
/// root holds files: an empty `LEPTOS_SITE_ROOT` once meant the working directory, the
/// database in it. Served from disk (the `server` binary), the same file is.
#[tokio::test]
async fn a_built_in_site_is_served_from_memory_and_nothing_from_disk() {
    use std::borrow::Cow;
    let secret = "rows of the database";
    let site = chat_server::transport::Site::new([(
        "pkg/chat.wasm".to_owned(),
        Cow::Borrowed(&b"\0asm built in"[..]),
    )]);
    let built_in = TestServer::start_with(chat_server::Settings {
        site: Some(std::sync::Arc::new(site)),
        ..Default::default()
    })
    .await;
    let on_disk = TestServer::start().await;
    for server in [&built_in, &on_disk] {
        std::fs::create_dir_all(server.site_root()).expect("site root");
        std::fs::write(server.site_root().join("chat.db"), secret).expect("a file");
    }
    let (status, body) = get(&built_in, "/chat.db").await;
    assert!(!body.contains(secret), "{status}: {body}");
    let (status, body) = get(&built_in, "/pkg/chat.wasm").await;
    assert_eq!(status, 200);
    assert!(body.ends_with("\0asm built in"), "{body}");
    // The app answers what it has no file for, as it does everywhere.
    let (status, body) = get(&built_in, "/no-such-page").await;
    assert!(body.contains("<!DOCTYPE html>"), "{status}: {body}");

    let (status, body) = get(&on_disk, "/chat.db").await;
    assert_eq!(status, 200, "a site on disk serves its directory: {body}");
    assert!(body.ends_with(secret));
    built_in.stop().await;
    on_disk.stop().await;
}

/// The `chat` binary's pages load the app under versioned names: a customer's (no agent's
/// session cookie, not the first run's page) the customers' smaller bundle, everyone else the
/// agents'; the styles are the agents' build's either way.
#[tokio::test]
async fn a_customer_s_page_loads_the_customers_bundle_and_an_agent_s_the_agents() {
    use std::borrow::Cow;
    let file = |path: &str, body: &'static str| (path.to_owned(), Cow::Borrowed(body.as_bytes()));
    let site = chat_server::transport::Site::new([
        file("pkg/chat.js", "agents' script"),
        file("pkg/chat.wasm", "\0asm agents'"),
        file("pkg/chat.css", "body {}"),
        file("pkg/customer.js", "customers' script"),
        file("pkg/customer.wasm", "\0asm customers'"),
    ]);
    let (agents, customers) = (
        site.versioned("chat").expect("the agents' bundle").to_owned(),
        site.versioned("customer").expect("the customers' bundle").to_owned(),
    );
    let server = TestServer::start_with(chat_server::Settings {
        site: Some(std::sync::Arc::new(site)),
        ..Default::default()
    })
    .await;
    let page = |path: &'static str, cookie: Option<&'static str>| {
        let server = &server;
        async move {
            let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
            let (status, body) = http(server, "GET", path, &headers, "").await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    for (path, cookie, bundle) in [
        ("/", None, &customers),
        ("/widget", None, &customers),
        ("/", Some("lang=en"), &customers),
        ("/", Some("chat_agent=anything"), &agents),
        ("/", Some("lang=en; __Host-chat_agent=anything"), &agents),
        ("/setup", None, &agents),
        ("/setup/", None, &agents),
    ] {
        let body = page(path, cookie).await;
        for ext in ["js", "wasm"] {
            assert!(body.contains(&format!("/pkg/{bundle}.{ext}")), "{path} {cookie:?}: {body}");
        }
        let other = if bundle == &agents { &customers } else { &agents };
        assert!(!body.contains(&format!("/pkg/{other}.js")), "{path} {cookie:?}: {body}");
        assert!(body.contains(&format!("/pkg/{agents}.css")), "{path} {cookie:?}: {body}");
        // Which bundle depends on the cookie: no shared cache may keep the page.
        let head = body.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
        assert!(head.contains("cache-control: private, no-cache"), "{path}: {head}");
        assert!(head.contains("vary: cookie"), "{path}: {head}");
    }
    // A name this build does not have (another build's) is not found, not a page.
    let (status, body) = get(&server, "/pkg/customer.0000000000000000.wasm").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_ascii_lowercase().contains("cache-control: no-store"), "{body}");
    // What the pages name is there, compressed or not.
    for path in [format!("/pkg/{customers}.wasm"), format!("/pkg/{agents}.js")] {
        assert_eq!(get(&server, &path).await.0, 200, "{path}");
    }
    server.stop().await;
}

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

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

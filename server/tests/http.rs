//! The HTTP side: health check and the server-rendered first page.

mod common;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, response)
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
    assert!(body.contains("/pkg/chat.js") || body.contains("/pkg/chat"), "hydration script is linked");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_page_is_404() {
    let server = TestServer::start().await;
    let (status, _) = get(&server, "/no/such/page").await;
    assert_eq!(status, 404);
    server.stop().await;
}

//! Hundreds of clients that log in the instant the namespace is joined: every one of them
//! must be answered (socketioxide's usual handler pattern loses some; docs/traps.md).

mod common;

use common::{TestClient, TestServer, Transport};
use serde_json::json;

async fn burst(transport: Transport, clients: usize) {
    // Hundreds of logins from one address at once: past its login limit, on purpose.
    let server = TestServer::start_unlimited().await;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let url_server = &server;
            let name = format!("c{i}");
            async move {
                let mut c = TestClient::connect(url_server, transport, Some(json!(name))).await;
                let answer = c.expect("login_success").await;
                assert_eq!(answer["name"], json!(format!("c{i}")));
                c
            }
        })
        .collect();
    let connected = futures::future::join_all(tasks).await;
    assert_eq!(connected.len(), clients);
    println!("{transport:?}: {clients} of {clients} instant logins answered");
    for c in connected {
        c.disconnect().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instant_login_is_answered_over_websocket() {
    burst(Transport::Websocket, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instant_login_is_answered_over_polling() {
    burst(Transport::Polling, 100).await;
}

//! Search through the real server: an agent finds messages in English and Chinese and
//! conversations by their customer, only among the conversations they see; customers and
//! bad queries are refused plainly. On SQLite and on PostgreSQL.

mod common;

use common::{TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

/// The texts of the messages a page of results found, in order.
fn found_texts(results: &Value) -> Vec<String> {
    results["messages"]
        .as_array()
        .map(|found| {
            found.iter().map(|m| m["snippet"]["text"].as_str().unwrap().to_owned()).collect()
        })
        .unwrap_or_default()
}

/// Searches and waits for the answer to this query.
async fn search(client: &mut TestClient, query: &str) -> Value {
    client.emit("search", json!({"query": query})).await;
    client.expect_where("search_results", |r| r["query"] == json!(query)).await
}

async fn agents_find_only_what_they_see(server: TestServer) {
    for name in ["amy", "bob"] {
        server.add_agent(name, "password-1").await;
    }
    server.add_admin("ada", "password-1").await;
    // Wang's conversation goes to Bob, the only agent online; then Léa's to Amy, who has
    // none yet (the queue gives the next one to whoever has fewer).
    let mut bob = TestClient::login(&server, WS, agent("bob")).await;
    let wang = TestClient::login(&server, WS, json!("王小明")).await;
    wang.emit_acked("private_message", json!({"message": "我想申请退款，订单号 4471"})).await;
    assert_eq!(bob.expect_opened("王小明").await["assignee"], json!("bob"));
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;
    let mut lea = TestClient::login(&server, WS, json!("Léa")).await;
    lea.emit_acked("private_message", json!({"message": "Please REFUND my order 4471"})).await;
    assert_eq!(amy.expect_opened("Léa").await["assignee"], json!("amy"));

    // Each agent finds in their own conversation only, with what matched marked.
    let amys = search(&mut amy, "4471").await;
    assert_eq!(found_texts(&amys), vec!["Please REFUND my order 4471"], "{amys}");
    assert_eq!(amys["messages"][0]["snippet"]["marks"], json!([[23, 27]]));
    assert_eq!(amys["messages"][0]["customer"], json!("Léa"));
    assert_eq!(amys["messages"][0]["status"], json!("open"));
    assert_eq!(amys["messages"][0]["assignee"], json!("amy"));
    assert_eq!(amys["messages"][0]["seq"], json!(1));
    let bobs = search(&mut bob, "退款").await;
    assert_eq!(found_texts(&bobs), vec!["我想申请退款，订单号 4471"], "{bobs}");
    assert_eq!(bobs["messages"][0]["snippet"]["marks"], json!([[4, 6]]));
    let nothing = search(&mut amy, "退款").await;
    assert_eq!(found_texts(&nothing), Vec::<String>::new(), "{nothing}");
    assert_eq!(nothing.get("conversations"), None, "{nothing}");
    // By the customer's name (and not someone else's customer).
    let by_name = search(&mut bob, "小明").await;
    assert_eq!(by_name["conversations"][0]["customer"], json!("王小明"), "{by_name}");
    assert_eq!(by_name["conversations"][0]["by"], json!("name"));
    assert_eq!(search(&mut amy, "小明").await.get("conversations"), None);

    // An admin finds everything, newest first.
    let mut ada = TestClient::login(&server, WS, agent("ada")).await;
    let all = search(&mut ada, "4471").await;
    assert_eq!(
        found_texts(&all),
        vec!["Please REFUND my order 4471", "我想申请退款，订单号 4471"],
        "{all}"
    );
    let number = format!("#{}", all["messages"][1]["conversation"]);
    let by_number = search(&mut ada, &number).await;
    assert_eq!(by_number["conversations"][0]["customer"], json!("王小明"), "{by_number}");
    assert_eq!(by_number["conversations"][0]["by"], json!("number"));

    // Customers may not search; bad queries are told plainly.
    lea.emit("search", json!({"query": "4471"})).await;
    assert_eq!(lea.expect("error").await, json!("Only support agents can do that."));
    lea.expect_none("search_results", 200).await;
    ada.emit("search", json!({"query": "   "})).await;
    assert_eq!(ada.expect("error").await, json!("Type something to search for."));
    ada.emit("search", json!({"query": "x".repeat(101)})).await;
    assert_eq!(ada.expect("error").await, json!("Search for at most 100 characters."));
    ada.emit("search", json!({"query": "a b"})).await;
    assert_eq!(ada.expect("error").await, json!("Search for at least two characters."));
    let many: Vec<String> = (0..9).map(|i| format!("w{i}")).collect();
    ada.emit("search", json!({"query": many.join(" ")})).await;
    assert_eq!(ada.expect("error").await, json!("Search for at most 8 words."));
    ada.emit("search", json!({"query": 5})).await;
    assert_eq!(ada.expect("error").await, json!("The server could not read that search request."));
}

#[tokio::test]
async fn agents_find_only_what_they_see_on_sqlite() {
    agents_find_only_what_they_see(TestServer::start().await).await;
}

#[tokio::test]
async fn agents_find_only_what_they_see_on_postgres() {
    agents_find_only_what_they_see(TestServer::start_postgres().await).await;
}

/// The console's later pages: an admin with more conversations than a login sends gets the
/// rest a page at a time, each once; a customer may not ask.
#[tokio::test]
async fn an_agent_pages_through_conversations_beyond_the_login() {
    use app::protocol::{CONVERSATIONS_AT_LOGIN, CONVERSATIONS_PAGE};
    use chat_server::model::Identity;
    let server = TestServer::start().await;
    server.add_admin("ada", "password-1").await;
    // Written to storage directly: more conversations than a login and a page hold.
    let total = CONVERSATIONS_AT_LOGIN + CONVERSATIONS_PAGE + 7;
    let new: Vec<_> = (0..total)
        .map(|i| chat_server::store::NewCustomer {
            name: app::protocol::UserName::parse(&format!("c{i}")).unwrap(),
            token_hash: format!("token-{i}"),
            external: None,
        })
        .collect();
    // Created now: the server forgets customers who never wrote once they are old.
    let now = chat_server::clock::now_ms();
    let metas = server.store.create_customers(&new, now).await.unwrap();
    for (i, meta) in metas.iter().enumerate() {
        let meta = meta.as_ref().unwrap();
        let message = chat_server::model::NewMessage {
            conversation: meta.id,
            author: Identity::Customer(meta.customer),
            from: meta.customer_name.clone(),
            to: None,
            joins: None,
            text: app::protocol::MessageText::parse("hello").unwrap(),
            client_id: None,
            ts: now + i as u64,
            attachments: vec![],
        };
        server.store.append(&[message]).await.unwrap().pop().unwrap().unwrap();
    }
    let mut ada = TestClient::login(&server, WS, agent("ada")).await;
    // The login's listing ends with where the next page starts.
    let end = ada.expect("conversations_page").await;
    assert_eq!(end["conversations"], json!([]), "{end}");
    let mut before = end["next"].clone();
    assert!(before.is_object(), "{end}");
    let mut seen = std::collections::BTreeSet::new();
    let mut pages = 0;
    loop {
        ada.emit("conversations", json!({"before": before})).await;
        let page = ada.expect("conversations_page").await;
        pages += 1;
        for summary in page["conversations"].as_array().unwrap() {
            assert!(seen.insert(summary["id"].as_u64().unwrap()), "listed twice: {summary}");
        }
        match page.get("next") {
            Some(next) => before = next.clone(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len() as u32, total - CONVERSATIONS_AT_LOGIN, "every one after the login's");
    let oldest = metas[0].as_ref().unwrap().id.0;
    assert!(seen.contains(&oldest), "the oldest comes last");

    // An agent with fewer is told there is nothing more.
    server.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&server, WS, agent("amy")).await;
    assert_eq!(amy.expect("conversations_page").await, json!({"conversations": []}));

    let customer = TestClient::login(&server, WS, json!("Zed")).await;
    customer.emit("conversations", json!({})).await;
    let mut customer = customer;
    assert_eq!(customer.expect("error").await, json!("Only support agents can do that."));
}

//! Several nodes sharing one desk through Redis and PostgreSQL: customers on one node and
//! agents on another see one desk, and a node that dies leaves the lists within seconds.
//! (Losing nothing when a node dies under load is in chaos.rs.)

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chat_server::store::testing::{postgres_database, redis_database, secure_redis_database};
use common::{texts, TestClient, TestServer, Transport};
use serde_json::{json, Value};

const WS: Transport = Transport::Websocket;

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_on_one_node_and_agents_on_another_see_one_desk() {
    let (db, redis) = (postgres_database().await, redis_database().await);
    let a = TestServer::start_node(&db, &redis).await;
    let b = TestServer::start_node(&db, &redis).await;
    a.add_agent("amy", "password-1").await;
    a.add_agent("bob", "password-1").await;

    // Lists: each side sees who is on the other node.
    let mut amy = TestClient::login(&b, WS, agent("amy")).await;
    let mut ann = TestClient::login(&a, WS, json!("ann")).await;
    ann.expect_list(&["amy", "ann"]).await;
    amy.expect_list(&["amy", "ann"]).await;

    // A name is held once across the nodes.
    let mut twin = TestClient::connect(&b, WS, Some(json!("ANN"))).await;
    assert_eq!(
        twin.expect("login_error").await,
        json!(app::protocol::Problem::NameTaken.to_string())
    );

    // The queue on node B gives node A's customer to the agent on node B; messages both ways.
    let ack = ann.emit_acked("private_message", json!({"message": "my order is late"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let summary = amy.expect_where("conversation", |s| s["status"] == json!("open")).await;
    assert_eq!(summary["assignee"], json!("amy"), "{summary}");
    let id = summary["id"].clone();
    let m = amy.expect("message").await;
    assert_eq!(
        (m["message"].clone(), m["from"].clone()),
        (json!("my order is late"), json!("ann"))
    );
    let ack = amy
        .emit_acked("private_message", json!({"conversation": id, "message": "let me look"}))
        .await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let m = ann.expect_where("message", |m| m["self"] == json!(false)).await;
    assert_eq!((m["message"].clone(), m["seq"].clone()), (json!("let me look"), json!(2)));

    // Typing and read receipts cross the nodes too.
    amy.emit("typing", json!({"conversation": id})).await;
    assert_eq!(ann.expect("typing").await["from"], json!("amy"));
    ann.emit("typing", json!({})).await;
    assert_eq!(amy.expect("typing").await["from"], json!("ann"));
    amy.emit("read", json!({"conversation": id, "seq": 1})).await;
    let read = ann.expect("read").await;
    assert_eq!((read["conversation"].clone(), read["seq"].clone()), (id.clone(), json!(1)));

    // Two agents on two nodes, new customers on both: each conversation is assigned once,
    // told to the agent who has it (on whichever node), and stored so.
    let mut bob = TestClient::login(&a, WS, agent("bob")).await;
    let mut owners = std::collections::BTreeMap::new();
    let mut customers = vec![];
    for (i, name) in ["cat", "dan", "eve", "fay"].into_iter().enumerate() {
        let node = if i % 2 == 0 { &a } else { &b };
        let c = TestClient::login(node, WS, json!(name)).await;
        assert_eq!(
            c.emit_acked("private_message", json!({"message": "hello"})).await["ok"],
            json!(true)
        );
        let open = |s: &Value| s["customer"] == json!(name) && s["status"] == json!("open");
        let (told, owner) = tokio::select! {
            s = amy.expect_where("conversation", open) => ("amy", s["assignee"].clone()),
            s = bob.expect_where("conversation", open) => ("bob", s["assignee"].clone()),
        };
        assert_eq!(owner, json!(told), "{name}'s conversation is told to the agent who has it");
        owners.insert(name.to_owned(), owner);
        customers.push(c);
    }
    let stored = a.store.queued().await.expect("queue");
    assert!(stored.is_empty(), "nothing waits: {stored:?}");
    // Both nodes store one desk: each conversation with the agent who was told.
    // (A conversation's state is stored just after it is told: waited for, a while.)
    let admin_view =
        chat_server::model::AgentKey::of(&app::protocol::UserName::parse("x").unwrap());
    let stored_owners = || async {
        let all = a.store.agent_conversations(&admin_view, true, 100).await.expect("listing");
        let owner = |name: &str| {
            let meta = all.iter().find(|m| m.customer_name.as_str() == name)?;
            Some(json!(meta.assignee.as_ref().map(|a| a.name.to_string())))
        };
        owners.keys().map(|name| (name.clone(), owner(name).unwrap_or_default())).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stored: std::collections::BTreeMap<String, Value> = stored_owners().await;
    while stored != owners && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stored = stored_owners().await;
    }
    assert_eq!(stored, owners, "stored as told");
    // Bob had none: he gets the next ones until the counts are even (amy has ann's).
    let bobs = owners.values().filter(|o| **o == json!("bob")).count();
    assert!(bobs >= 2, "the work is spread: {owners:?}");

    // Node A stops: its people (ann, bob, cat, eve) leave the other node's lists at once.
    amy.expect_list(&["amy", "ann", "bob", "cat", "dan", "eve", "fay"]).await;
    a.stop().await;
    amy.expect_list(&["amy", "dan", "fay"]).await;
    drop((ann, bob, twin, customers));
    b.stop().await;
}

/// A node process (to be killed with SIGKILL).
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_of_a_node_that_dies_leave_the_lists_within_seconds_and_come_back_on_another() {
    let (db, redis) = (postgres_database().await, redis_database().await);
    let b = TestServer::start_node(&db, &redis).await;
    b.add_agent("amy", "password-1").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let node = Node(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .env("DATABASE_URL", &db)
            .env("REDIS_URL", &redis)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start node A"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "node A did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut amy = TestClient::login(&b, WS, agent("amy")).await;
    let mut ann = TestClient::connect_to(&url, WS, Some(json!({"name": "ann"}))).await;
    let token =
        ann.expect("login_success").await["resume"].as_str().expect("a resume token").to_owned();
    let ack = ann.emit_acked("private_message", json!({"message": "hello from node A"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    amy.expect_list(&["amy", "ann"]).await;
    amy.expect("message").await;

    // SIGKILL: no goodbye. The other node notices the silence and drops its people.
    let killed = Instant::now();
    drop(node);
    amy.expect_list(&["amy"]).await;
    let gone_after = killed.elapsed();
    println!("cluster: a killed node's customer left the other node's list after {gone_after:?}");
    assert!(gone_after < common::WAIT, "{gone_after:?}");

    // Ann reconnects to node B with her token and finds her conversation.
    let mut ann = TestClient::connect(&b, WS, Some(json!({"name": "ann", "resume": token}))).await;
    ann.expect("login_success").await;
    let page = ann.expect("history").await;
    assert_eq!(page["messages"][0]["message"], json!("hello from node A"), "{page}");
    amy.expect_list(&["amy", "ann"]).await;
    let ack = ann.emit_acked("private_message", json!({"message": "still here"})).await;
    assert_eq!(ack["seq"], json!(2), "{ack}");
    assert_eq!(amy.expect("message").await["message"], json!("still here"));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_joins_later_starts_from_the_snapshot_and_knows_everything() {
    let (db, redis) = (postgres_database().await, redis_database().await);
    let fast =
        chat_server::Settings { snapshot_every: Duration::from_millis(200), ..Default::default() };
    let a = TestServer::start_node_with(&db, &redis, fast.clone()).await;
    a.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&a, WS, agent("amy")).await;
    let mut ann = TestClient::login(&a, WS, json!("ann")).await;
    assert_eq!(
        ann.emit_acked("private_message", json!({"message": "hello"})).await["ok"],
        json!(true)
    );
    let id = amy.expect_where("conversation", |s| s["status"] == json!("open")).await["id"].clone();
    // Snapshots are written and the stream is trimmed behind them.
    let client = redis::Client::open(redis.as_str()).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let deadline = Instant::now() + common::WAIT;
    let appended: u64 =
        redis::cmd("XLEN").arg("chat:hub").query_async(&mut conn).await.expect("XLEN");
    assert!(appended >= 5, "connects, logins, the message: {appended} entries");
    loop {
        let snapshot: Option<Vec<u8>> =
            redis::cmd("GET").arg("chat:snapshot").query_async(&mut conn).await.expect("GET");
        let len: u64 =
            redis::cmd("XLEN").arg("chat:hub").query_async(&mut conn).await.expect("XLEN");
        // Everything before the previous snapshot is trimmed: the last entry is left.
        if snapshot.is_some() && len <= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no snapshot and trim within the wait ({len} entries)");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Node B starts from the snapshot: it knows who is online, the conversation and who has it.
    let b = TestServer::start_node_with(&db, &redis, fast).await;
    let mut bea = TestClient::login(&b, WS, json!("bea")).await;
    bea.expect_list(&["amy", "bea"]).await;
    let mut twin = TestClient::connect(&b, WS, Some(json!("Ann"))).await;
    assert_eq!(
        twin.expect("login_error").await,
        json!(app::protocol::Problem::NameTaken.to_string())
    );
    // A second tab of amy's, on node B, answers: B knows the conversation is hers.
    let amy_b = TestClient::login(&b, WS, agent("amy")).await;
    let ack = amy_b
        .emit_acked("private_message", json!({"conversation": id, "message": "hi from B"}))
        .await;
    assert_eq!(ack["ok"], json!(true), "node B knows the conversation is amy's: {ack}");
    assert_eq!(
        ann.expect_where("message", |m| m["self"] == json!(false)).await["message"],
        json!("hi from B")
    );
    amy.expect_where("message", |m| m["message"] == json!("hi from B")).await;
    drop((bea, twin, amy_b));
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_node_refuses_new_connections_clearly_and_keeps_what_it_accepted() {
    // A Redis of this test's own, to stop under the node (and stopped however the test ends).
    let own = OwnRedis::start();
    let db = postgres_database().await;
    let node = TestServer::start_node(&db, &own.url).await;
    let ann = TestClient::login(&node, WS, json!("ann")).await;

    own.run("stop");
    // A new connection cannot be shared with the other nodes: it is refused, in words.
    let answer = common::join_by_polling(&node).await;
    assert!(
        answer.contains("44{") && answer.contains(&app::protocol::Problem::Internal.to_string()),
        "{answer}"
    );
    // A message from someone logged in is stored (and acknowledged), not lost.
    let ack = ann.emit_acked("private_message", json!({"message": "anyone there?"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let id = app::protocol::ConversationId(ack["conversation"].as_u64().expect("conversation"));
    let stored = node.store.messages_after(id, 0, 10).await.expect("read");
    assert_eq!(stored.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["anyone there?"]);
    drop(ann);
    node.stop().await;
}

const REDIS_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/redis.sh");

/// `scripts/redis.sh WHAT` for the Redis on `port`; its output (the URL, for `start`).
fn redis_script(port: &str, what: &str) -> String {
    let out = Command::new(REDIS_SCRIPT)
        .arg(what)
        .env("CHAT_REDIS_PORT", port)
        .output()
        .expect("scripts/redis.sh");
    assert!(out.status.success(), "redis.sh {what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// A Redis server of one test's own (`scripts/redis.sh` on a free port), stopped when dropped,
/// also when the test fails: a test run leaves nothing running.
struct OwnRedis {
    port: String,
    url: String,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
            .to_string();
        let url = redis_script(&port, "start");
        OwnRedis { port, url }
    }

    fn run(&self, what: &str) -> String {
        redis_script(&self.port, what)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Err(e) =
            Command::new(REDIS_SCRIPT).arg("stop").env("CHAT_REDIS_PORT", &self.port).status()
        {
            eprintln!("could not stop the test's own Redis on port {}: {e}", self.port);
        }
    }
}

/// Issue 19: nodes could reach Redis only without a password and in clear text; whoever can
/// write its stream can make themselves an admin. They now take `rediss://` with a password
/// (and a private CA), and a wrong password stops a node at its start, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_a_desk_through_a_redis_with_a_password_over_tls() {
    let (db, (redis, ca)) = (postgres_database().await, secure_redis_database().await);
    let settings = || chat_server::Settings { redis_ca: Some(ca.clone()), ..Default::default() };
    let a = TestServer::start_node_with(&db, &redis, settings()).await;
    let b = TestServer::start_node_with(&db, &redis, settings()).await;
    a.add_agent("amy", "password-1").await;
    let mut amy = TestClient::login(&b, WS, agent("amy")).await;
    let ann = TestClient::login(&a, WS, json!("ann")).await;
    let ack = ann.emit_acked("private_message", json!({"to": "amy", "message": "over TLS"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    assert_eq!(amy.expect("message").await["message"], json!("over TLS"));

    // A wrong password, or no CA for the private one: the node does not start, and says why.
    let store = chat_server::store::open(&db, Default::default()).await.expect("the database");
    for (url, ca, why) in [
        (redis.replace("chat-test-password", "wrong"), Some(ca.clone()), "a wrong password"),
        (redis.clone(), None, "a certificate nobody vouched for"),
    ] {
        let settings =
            chat_server::Settings { redis_url: Some(url), redis_ca: ca, ..Default::default() };
        let serving = chat_server::run_with(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            leptos::config::LeptosOptions::builder().output_name("chat").build(),
            store.clone(),
            settings,
            std::future::pending(),
        );
        let refused = tokio::time::timeout(Duration::from_secs(20), serving).await;
        let error = refused.expect("refused at once").expect_err(why).to_string();
        assert!(error.contains("joining the cluster"), "{why}: {error}");
        assert!(!error.contains("chat-test-password"), "the password is not shown: {error}");
    }
    drop((amy, ann));
    a.stop().await;
    b.stop().await;
}

/// Issue 19 item 9 (the password backoff): each node counted wrong passwords on its own, so
/// a client spreading its guesses over N nodes had N times the free tries. A check on any
/// node is now counted on every node, through the cluster's stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_spread_over_the_nodes_meet_one_backoff() {
    let (db, redis) = (postgres_database().await, redis_database().await);
    let a = TestServer::start_node(&db, &redis).await;
    let b = TestServer::start_node(&db, &redis).await;
    a.add_agent("amy", "password-1").await;
    let guess = json!({"name": "amy", "role": "agent", "password": "a guess"});
    // Four wrong passwords, two on each node: past the three free ones in all.
    for node in [&a, &b, &a, &b] {
        let mut c = TestClient::connect(node, WS, Some(guess.clone())).await;
        let refusal = c.expect("login_error").await;
        assert!(refusal.as_str().unwrap().contains("Wrong agent name or password"), "{refusal}");
        // (Counted on the other node a moment later, through Redis.)
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for node in [&a, &b] {
        let mut c = TestClient::connect(node, WS, Some(agent("amy"))).await;
        let refusal = c.expect("login_error").await;
        assert!(refusal.as_str().unwrap().contains("Too many failed logins"), "{refusal}");
    }
    a.stop().await;
    b.stop().await;
}

/// Issue 19 item 9 (the rest): the limits per address were each node's own, so a client
/// spreading itself over N nodes had N times the logins, messages and connections. Each
/// node now tells the others, every second, what each address used; they count it against
/// the same limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_messages_and_connections_per_address_hold_for_the_whole_cluster() {
    use chat_server::limits::{Limits, Rate};
    let limits = Limits {
        logins_per_address: Rate::new(0.01, 5.0),
        messages_per_address: Rate::new(0.01, 4.0),
        connections_per_address: 8,
        ..Limits::default()
    };
    let settings = chat_server::Settings { limits, ..Default::default() };
    let (db, redis) = (postgres_database().await, redis_database().await);
    let a = TestServer::start_node_with(&db, &redis, settings.clone()).await;
    let b = TestServer::start_node_with(&db, &redis, settings).await;
    let too_fast = |text: &Value| text.as_str().unwrap_or_default().contains("sending too fast");
    // On node A: three logins, three messages, three connections.
    let mut open = vec![];
    for i in 0..3 {
        open.push(TestClient::login(&a, WS, json!(format!("a{i}"))).await);
    }
    for n in 0..3 {
        let ack = open[0].emit_acked("private_message", json!({"message": format!("m{n}")})).await;
        assert_eq!(ack["ok"], json!(true), "{ack}");
    }
    // (Told to node B within a second or so.)
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // On node B: two logins are left of five, and one message of four.
    for i in 0..2 {
        open.push(TestClient::login(&b, WS, json!(format!("b{i}"))).await);
    }
    let mut refused = TestClient::connect(&b, WS, Some(json!("b2"))).await;
    let refusal = refused.expect("login_error").await;
    assert!(too_fast(&refusal), "{refusal}");
    let ack = open[3].emit_acked("private_message", json!({"message": "one"})).await;
    assert_eq!(ack["ok"], json!(true), "{ack}");
    let ack = open[3].emit_acked("private_message", json!({"message": "two"})).await;
    assert!(too_fast(&ack["error"]), "{ack}");
    // Six connections are open (three on each node): two more of eight, on node A.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for _ in 0..2 {
        let answer = common::join_by_polling(&a).await;
        assert!(answer.contains("40{"), "{answer}");
    }
    let answer = common::join_by_polling(&a).await;
    assert!(answer.contains("44{") && answer.contains("Too many connections"), "{answer}");
    a.stop().await;
    b.stop().await;
}

/// Issue 19 item 4 across nodes: an anonymous customer who logged in on one node and has not
/// written is part of the live state every node shares. Their token resumes on another node
/// (one that started from the snapshot), their first message there stores them, and the
/// token then resumes after every node restarted with a fresh live state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_not_stored_yet_resumes_and_writes_first_on_another_node() {
    let (db, redis) = (postgres_database().await, redis_database().await);
    let fast =
        chat_server::Settings { snapshot_every: Duration::from_millis(200), ..Default::default() };
    let a = TestServer::start_node_with(&db, &redis, fast.clone()).await;
    let mut cat = TestClient::connect(&a, WS, Some(json!("cat"))).await;
    let ok = cat.expect("login_success").await;
    let (token, conversation) = (ok["resume"].clone(), ok["conversation"].clone());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let b = TestServer::start_node_with(&db, &redis, fast).await;
    let mut tab = TestClient::connect(&b, WS, Some(json!({"resume": token}))).await;
    let back = tab.expect("login_success").await;
    assert_eq!((&back["name"], &back["conversation"]), (&json!("cat"), &conversation));
    let ack = tab.emit_acked("private_message", json!({"message": "first, on B"})).await;
    assert_eq!((&ack["ok"], &ack["seq"]), (&json!(true), &json!(1)), "{ack}");
    cat.expect_where("message", |m| m["message"] == json!("first, on B")).await;
    drop((cat, tab));
    b.stop().await;
    a.stop().await;

    let fresh = redis_database().await;
    let c = TestServer::start_node(&db, &fresh).await;
    let mut again = TestClient::connect(&c, WS, Some(json!({"resume": token}))).await;
    assert_eq!(again.expect("login_success").await["conversation"], conversation);
    assert_eq!(texts(&again.expect_history(&conversation).await), vec!["first, on B"]);
    c.stop().await;
}

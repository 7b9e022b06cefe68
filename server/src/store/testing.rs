//! For tests (this crate's and the integration tests): a fresh PostgreSQL database, and a
//! fresh Redis database for a cluster.
#![doc(hidden)]

/// The URL of a test server: the one the environment variable `var` names, or else the one
/// `script` (in `scripts/`) starts, from Debian's package on loopback, and prints.
fn test_server(var: &str, script: &str) -> String {
    if let Ok(url) = std::env::var(var) {
        return url;
    }
    run_script(script, &[])
}

/// What one of the project's scripts prints, trimmed.
fn run_script(script: &str, args: &[&str]) -> String {
    let script = format!("{}/../scripts/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("a URL").trim().to_owned()
}

/// The test PostgreSQL server (`CHAT_TEST_POSTGRES_URL`, or `scripts/postgres.sh`).
fn postgres_server() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| test_server("CHAT_TEST_POSTGRES_URL", "postgres.sh"))
}

/// A new, empty database on the test PostgreSQL server.
pub async fn postgres_database() -> String {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let server = postgres_server();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let db = format!("chat_test_{}_{n}_{stamp}", std::process::id());
    let mut admin =
        sqlx::PgConnection::connect(server).await.expect("connecting to the test PostgreSQL");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {db}").as_str())
        .await
        .expect("creating a test database");
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    format!("{base}/{db}")
}

/// A Redis database of its own on the test Redis server (the one `CHAT_TEST_REDIS_URL`
/// names, or else the throwaway one `scripts/redis.sh` starts), emptied: one per cluster.
pub async fn redis_database() -> String {
    static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let server = SERVER.get_or_init(|| test_server("CHAT_TEST_REDIS_URL", "redis.sh"));
    fresh_redis_database(server, |url| redis::Client::open(url).expect("the test Redis URL")).await
}

/// The URL of the next database of the Redis server at `server` (reached by `client`),
/// emptied. Databases 1.. are handed out in turn (0 keeps the counter): the server has 1000.
async fn fresh_redis_database(server: &str, client: impl Fn(&str) -> redis::Client) -> String {
    let connect = |url: &str| {
        let client = client(url);
        async move {
            client.get_multiplexed_async_connection().await.expect("connecting to the test Redis")
        }
    };
    let mut conn = connect(server).await;
    let n: u64 =
        redis::cmd("INCR").arg("chat-test:databases").query_async(&mut conn).await.expect("INCR");
    let url = format!("{}/{}", server.trim_end_matches('/'), 1 + (n - 1) % 999);
    let mut conn = connect(&url).await;
    let () = redis::cmd("FLUSHDB").query_async(&mut conn).await.expect("FLUSHDB");
    url
}

/// A Redis database of its own, emptied, on the test Redis server that takes only TLS and a
/// password (`scripts/redis.sh secure`): its `rediss://` URL, and the file of the CA that
/// signed the server's certificate.
pub async fn secure_redis_database() -> (String, std::path::PathBuf) {
    static SERVER: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (server, ca) = SERVER.get_or_init(|| {
        let out = run_script("redis.sh", &["secure"]);
        let mut lines = out.lines();
        let url = lines.next().expect("a URL").to_owned();
        (url, lines.next().expect("the CA file").to_owned())
    });
    let root_cert = std::fs::read(ca).expect("the test CA");
    let client = |url: &str| {
        let certs = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert.clone()) };
        redis::Client::build_with_tls(url, certs).expect("the test Redis URL")
    };
    (fresh_redis_database(server, client).await, ca.into())
}

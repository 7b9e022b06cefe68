//! Search on a generated desk of 1,000,000 messages (SQLite, the default store), and what
//! keeping the search index costs the message path. `make bench` runs this after the load
//! tests; `SEARCH_MESSAGES=100000` makes a smaller desk for a quick run.
//!
//! 1. Indexing: the same batches of messages (50 a commit, as the pipeline's groups under
//!    load) appended through the store's writer while its background indexer works behind
//!    them, and with the indexer idle, alternating, three rounds, with every commit fsynced
//!    (the default) and without: messages per second, the ratio, and the indexer thread's
//!    share of the process's CPU (what it can take from a saturated server at most).
//! 2. Searches: a desk of 20,000 customers with 50 messages each (English and Chinese, an
//!    order number in some), each conversation taken by one of 20 agents; typical queries
//!    (common and rare words, two-character Chinese words, names, numbers) as an admin and as
//!    an agent, with the newest 1 % not indexed yet: the median and 90th percentile of 30
//!    runs each, and the median of them all.

use std::time::Instant;

use app::protocol::{MessageText, SearchQuery, Status, UserName};
use chat_server::model::{AgentKey, Assignee, ConversationMeta, Identity, NewMessage};
use chat_server::store::{NewCustomer, SqliteOptions, SqliteStore, SqliteSync, Store};

/// A small deterministic generator (xorshift): the same desk every run, without a crate for
/// a few random picks.
struct Picks(u64);

impl Picks {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn of<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const PRODUCTS: [&str; 8] =
    ["router", "printer", "laptop", "headset", "camera", "keyboard", "monitor", "charger"];
const PRODUCTS_ZH: [&str; 8] =
    ["路由器", "打印机", "笔记本电脑", "耳机", "相机", "键盘", "显示器", "充电器"];

/// One message's text: a customer's or an agent's, in English or Chinese.
fn text(picks: &mut Picks, customer: bool) -> String {
    let order = 10_000 + picks.below(90_000);
    let days = 1 + picks.below(30);
    let chinese = picks.below(3) == 0;
    match (customer, chinese, picks.below(4)) {
        (true, false, 0) => format!("Hi, my order {order} has not arrived yet"),
        (true, false, 1) => format!("Can I get a refund for order {order}?"),
        (true, false, 2) => {
            format!("The {} stopped working after {days} days", picks.of(&PRODUCTS))
        }
        (true, false, _) => "Thanks, that solved it!".to_owned(),
        (true, true, 0) => format!("你好，我的订单 {order} 还没有到"),
        (true, true, 1) => format!("我想申请退款，订单号 {order}"),
        (true, true, 2) => format!("{}用了 {days} 天就坏了", picks.of(&PRODUCTS_ZH)),
        (true, true, _) => "谢谢，问题解决了！".to_owned(),
        (false, false, 0) => "Sorry about that, let me check the tracking for you.".to_owned(),
        (false, false, 1) => format!("The refund for order {order} is on its way."),
        (false, false, 2) => {
            format!("Please try resetting the {} first.", picks.of(&PRODUCTS))
        }
        (false, false, _) => "Is there anything else I can help with?".to_owned(),
        (false, true, 0) => "抱歉，我帮您查一下物流信息。".to_owned(),
        (false, true, 1) => format!("订单 {order} 的退款已经处理好了。"),
        (false, true, 2) => format!("请先尝试重置{}。", picks.of(&PRODUCTS_ZH)),
        (false, true, _) => "还有什么可以帮您的吗？".to_owned(),
    }
}

fn name(s: &str) -> UserName {
    UserName::parse(s).expect("a valid name")
}

fn agent(i: u64) -> AgentKey {
    AgentKey::of(&name(&format!("agent-{i}")))
}

/// A fresh store in `dir` with `customers` customers, their conversations each open with one
/// of 20 agents.
async fn desk(
    dir: &std::path::Path,
    sync: SqliteSync,
    customers: u64,
) -> (SqliteStore, Vec<ConversationMeta>) {
    let url = format!("sqlite://{}", dir.join("chat.db").display());
    let store = SqliteStore::open_with(&url, SqliteOptions { max_bytes: None, sync })
        .await
        .expect("the store opens");
    let mut metas = Vec::new();
    for chunk in (0..customers).collect::<Vec<_>>().chunks(1000) {
        let new: Vec<NewCustomer> = chunk
            .iter()
            .map(|i| NewCustomer {
                name: name(&format!("customer-{i}")),
                token_hash: format!("token-{i}"),
                external: (i % 10 == 0).then(|| format!("shop-{i}")),
            })
            .collect();
        let created = store.create_customers(&new, 1).await.expect("customers are created");
        metas.extend(created.into_iter().map(|m| m.expect("a customer")));
    }
    (store, metas)
}

/// Messages `from..to` of the desk: 50 per conversation, customer and agent in turn.
fn messages(metas: &[ConversationMeta], picks: &mut Picks, from: u64, to: u64) -> Vec<NewMessage> {
    (from..to)
        .map(|n| {
            let meta = &metas[(n / 50) as usize % metas.len()];
            let customer = n % 2 == 0;
            let who = agent(meta.id.0 % 20);
            let (author, from, joins) = if customer {
                (Identity::Customer(meta.customer), meta.customer_name.clone(), None)
            } else {
                (Identity::Agent(who.clone()), name(who.as_str()), Some(who))
            };
            NewMessage {
                conversation: meta.id,
                author,
                from,
                to: None,
                joins,
                text: MessageText::parse(&text(picks, customer)).expect("a valid text"),
                client_id: None,
                ts: 1_000 + n,
                attachments: vec![],
            }
        })
        .collect()
}

/// Appends `total` messages in commits of `batch`: messages per second.
async fn append_rate(
    store: &SqliteStore,
    metas: &[ConversationMeta],
    total: u64,
    batch: u64,
) -> f64 {
    let mut picks = Picks(0x9e37_79b9_7f4a_7c15);
    let all = messages(metas, &mut picks, 0, total);
    let started = Instant::now();
    for chunk in all.chunks(batch as usize) {
        for result in store.append(chunk).await.expect("the batch commits") {
            result.expect("each message is stored");
        }
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Moves the search index's position past every message the database in `dir` will ever
/// hold: its indexer then has nothing to do, as before the search index existed.
fn idle_indexer(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("chat.db")).expect("the database opens");
    conn.execute_batch("UPDATE search_index SET indexed_up_to = 9223372036854775807")
        .expect("the position moves");
}

/// CPU seconds this process's thread `name` has used so far (Linux: /proc; 0 elsewhere).
fn thread_cpu_s(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    tasks
        .filter_map(Result::ok)
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .map(|stat| cpu_s(&stat))
        .sum()
}

/// This process's CPU seconds so far.
fn process_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat").map_or(0.0, |stat| cpu_s(&stat))
}

/// The CPU seconds a `/proc/…/stat` line counts: after the command's closing parenthesis
/// come the state, then fields 4…; utime and stime are the 14th and 15th, in ticks of
/// USER_HZ (100 on Linux).
fn cpu_s(stat: &str) -> f64 {
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (at(11) + at(12)) / 100.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() as f64 * p) as usize).min(xs.len() - 1)]
}

async fn indexing_cost() {
    // Long enough for the indexer's rests and batches to reach their steady share.
    const TOTAL: u64 = 300_000;
    const BATCH: u64 = 50;
    println!(
        "\nWhat keeping the search index costs appending messages ({TOTAL} messages, {BATCH} a \
         commit, the indexer working behind them or idle):"
    );
    println!("| commits | indexer working, msg/s | idle, msg/s | ratio (rounds) | indexer's share of the CPU |");
    println!("|---|---|---|---|---|");
    for sync in [SqliteSync::Full, SqliteSync::Normal] {
        let mut ratios = Vec::new();
        let (mut with, mut without, mut shares) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            for indexing in [true, false] {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let (store, metas) = desk(dir.path(), sync, 2_000).await;
                if !indexing {
                    idle_indexer(dir.path());
                }
                let (cpu, indexer) = (process_cpu_s(), thread_cpu_s("sqlite-indexer"));
                let rate = append_rate(&store, &metas, TOTAL, BATCH).await;
                if indexing {
                    let share = (thread_cpu_s("sqlite-indexer") - indexer)
                        / (process_cpu_s() - cpu).max(1e-9);
                    shares.push(share);
                    with.push(rate);
                } else {
                    without.push(rate);
                }
            }
            ratios.push(with.last().unwrap() / without.last().unwrap());
        }
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "| {} | {:.0} | {:.0} | {:.2} ({}) | {:.0} % |",
            match sync {
                SqliteSync::Full => "fsynced (default)",
                SqliteSync::Normal => "not fsynced",
            },
            median(with),
            median(without),
            median(ratios.clone()),
            shown.join(", "),
            median(shares) * 100.0
        );
    }
}

async fn searches() {
    let total: u64 =
        std::env::var("SEARCH_MESSAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let customers = (total / 50).max(1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, metas) = desk(dir.path(), SqliteSync::Normal, customers).await;
    let mut picks = Picks(0x2545_f491_4f6c_dd1d);
    let started = Instant::now();
    let mut n = 0;
    while n < total {
        let to = (n + 2_000).min(total);
        store.append(&messages(&metas, &mut picks, n, to)).await.expect("the batch commits");
        n = to;
    }
    let built = started.elapsed();
    // Everything indexed (the background indexer rests between batches; here it is done at
    // once, to time it), then the newest 10,000 stored after: a search scans those.
    let started = Instant::now();
    store.index_now().await.expect("the index is built");
    let indexed = started.elapsed();
    let tail = (total / 100).min(10_000);
    store
        .append(&messages(&metas, &mut picks, total, total + tail))
        .await
        .expect("the batch commits");
    // Each conversation open with its agent (the agent took part already).
    for meta in &metas {
        let mut open = meta.clone();
        open.status = Status::Open;
        let key = agent(meta.id.0 % 20);
        open.assignee = Some(Assignee { name: name(key.as_str()), key });
        open.version = 2;
        store.set_state(&open, 1).await.expect("the state is stored");
    }
    let bytes = std::fs::metadata(dir.path().join("chat.db")).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.path().join("chat.db-wal")).map(|m| m.len()).unwrap_or(0);
    println!(
        "\nSearch on a desk of {} messages in {customers} conversations (SQLite, {:.0} MB; stored \
         in {:.1} s, {:.0} msg/s; indexed in {:.1} s, {:.0} msg/s; the newest {tail} not indexed):",
        total + tail,
        bytes as f64 / 1e6,
        built.as_secs_f64(),
        total as f64 / built.as_secs_f64(),
        indexed.as_secs_f64(),
        total as f64 / indexed.as_secs_f64()
    );
    println!("| query | as | found (first page) | median ms | p90 ms |");
    println!("|---|---|---|---|---|");
    let admin = agent(0);
    let some_agent = agent(3);
    let number = format!("#{}", metas[metas.len() / 2].id.0);
    let name_query = format!("customer-{}", customers / 3);
    let queries: Vec<(&str, &str)> = vec![
        ("refund", "a common word"),
        ("router", "a product"),
        ("refund 48213", "two words"),
        ("申请退款", "Chinese, four characters"),
        ("退款", "Chinese, two characters"),
        ("耳机", "Chinese, two characters, rarer"),
        ("缺货", "Chinese, two characters, absent"),
        ("zebra", "absent"),
        (&name_query, "a customer's name"),
        ("shop-4710", "a host site's user id"),
        (&number, "a conversation number"),
    ];
    let mut medians = Vec::new();
    for (query, what) in &queries {
        let parsed = SearchQuery::parse(query).expect("a valid query");
        for (who, is_admin, label) in [(&admin, true, "admin"), (&some_agent, false, "agent")] {
            let mut times = Vec::new();
            let mut found = (0, 0);
            for run in 0..31 {
                let started = Instant::now();
                let page = store
                    .search(&parsed, who, is_admin, None, app::protocol::SEARCH_PAGE)
                    .await
                    .expect("the search runs");
                let took = started.elapsed();
                found = (page.messages.len(), page.conversations.len());
                // The first run warms the cache.
                if run > 0 {
                    times.push(took.as_secs_f64() * 1e3);
                }
            }
            let m = median(times.clone());
            medians.push(m);
            println!(
                "| `{query}` ({what}) | {label} | {} messages, {} conversations | {m:.1} | {:.1} |",
                found.0,
                found.1,
                percentile(times, 0.9)
            );
        }
    }
    println!("Median over these queries: {:.1} ms (the goal: under 50 ms).", median(medians));
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    indexing_cost().await;
    searches().await;
}

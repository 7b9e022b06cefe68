//! The hub alone (no I/O): what one message and one login cost it on a busy desk, with
//! 20 agents and 1,000 customers online. `make bench` runs this after the load tests.

use app::protocol::{ConversationId, PrivateMessage, UserName};
use chat_server::hub::{Command, ConnId, Hub, Login};
use chat_server::model::{AgentKey, Appended, ConversationMeta, CustomerId, Identity};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const AGENTS: u64 = 20;
const CUSTOMERS: u64 = 1000;

fn name(s: &str) -> UserName {
    UserName::parse(s).expect("valid name")
}

fn customer_login(conn: u64, i: u64) -> Login {
    let meta = ConversationMeta::new(ConversationId(i), CustomerId(i), name(&format!("c-{i}")));
    Login {
        conn: ConnId(conn),
        who: Identity::Customer(CustomerId(i)),
        name: name(&format!("c-{i}")),
        resume: None,
        conversations: vec![meta],
        admin: false,
        status: None,
        token_hash: None,
    }
}

/// A hub with the agents and customers logged in.
fn busy_desk() -> (Hub, u64) {
    let mut hub = Hub::new();
    let mut conn = 0;
    for a in 0..AGENTS {
        conn += 1;
        hub.handle(Command::Connect(ConnId(conn)));
        let n = name(&format!("agent-{a}"));
        hub.handle(Command::Login(Login {
            conn: ConnId(conn),
            who: Identity::Agent(AgentKey::of(&n)),
            name: n,
            resume: None,
            conversations: vec![],
            admin: false,
            status: None,
            token_hash: None,
        }));
    }
    for i in 1..=CUSTOMERS {
        conn += 1;
        hub.handle(Command::Connect(ConnId(conn)));
        hub.handle(Command::Login(customer_login(conn, i)));
    }
    (hub, conn)
}

fn bench(c: &mut Criterion) {
    let (mut hub, last) = busy_desk();
    let customer = ConnId(AGENTS + 1);
    let mut seq = 0;
    c.bench_function(
        "plan + deliver one customer message (20 agents, 1000 customers online)",
        |b| {
            b.iter(|| {
                let request = PrivateMessage {
                    to: "agent-0".into(),
                    message: "where is my order?".into(),
                    ..Default::default()
                };
                let planned = hub.plan(customer, request, 1).expect("planned");
                seq += 1;
                let message = planned.stored(app::protocol::MessageId(seq), seq);
                let step = hub.handle(Command::Deliver {
                    appended: Appended { message, duplicate: false },
                    joins: planned.joins,
                });
                black_box(step.outbound.len())
            })
        },
    );
    let mut next = last;
    let mut customer_id = CUSTOMERS;
    c.bench_function("a customer logs in and leaves (20 agents, 1000 customers online)", |b| {
        b.iter(|| {
            next += 1;
            customer_id += 1;
            hub.handle(Command::Connect(ConnId(next)));
            let joined = hub.handle(Command::Login(customer_login(next, customer_id)));
            let left = hub.handle(Command::Disconnect(ConnId(next)));
            black_box(joined.outbound.len() + left.outbound.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Reports through the real server: after a customer is answered and the conversation
//! resolved, an admin's report counts it, as JSON and as CSV in the reader's language;
//! a period that cannot be one is told in words; anyone who is not an admin gets the same
//! 404 as a path that does not exist.

mod common;

use common::{fetch, log_in, Session, TestServer};
use serde_json::{json, Value};

fn agent(name: &str) -> Value {
    json!({"name": name, "role": "agent", "password": "password-1"})
}

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

#[tokio::test]
async fn an_admins_report_counts_what_happened_and_nobody_else_may_read_it() {
    let server = TestServer::start().await;
    server.add_admin("boss", "password-1").await;
    server.add_agent("amy", "password-1").await;
    let (_boss, boss_session) = log_in(&server, agent("boss")).await;
    let (mut amy, amy_session) = log_in(&server, agent("amy")).await;
    let (lea, lea_session) = log_in(&server, json!("Léa")).await;
    lea.emit_acked("private_message", json!({"message": "Where is my parcel?"})).await;
    let open = amy
        .expect_where("conversation", |s| {
            s["customer"] == json!("Léa") && s["status"] == json!("open")
        })
        .await;
    let id = open["id"].clone();
    amy.emit_acked("private_message", json!({"conversation": id, "message": "On its way"})).await;
    amy.emit("resolve", json!({"conversation": id})).await;
    amy.expect_where("conversation", |s| s["id"] == id && s["status"] == json!("resolved")).await;

    let day = today();
    let path = |format: &str, lang: &str| {
        app::protocol::report_url(
            &day,
            &day,
            0,
            serde_json::from_value(json!(format)).unwrap(),
            lang,
        )
    };
    // Its state is stored just after it changes: asked until the resolution is in.
    let mut report = Value::Null;
    for _ in 0..50 {
        let (status, head, body) = fetch(&server, Some(&boss_session), &path("json", "en")).await;
        assert_eq!(status, 200, "{head}");
        assert!(head.to_lowercase().contains("cache-control: private, no-store"), "{head}");
        report = serde_json::from_slice(&body).unwrap();
        if report["desk"]["resolved"] == json!(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let desk = &report["desk"];
    assert_eq!(
        (
            &desk["conversations"],
            &desk["resolved"],
            &desk["customer_messages"],
            &desk["agent_messages"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{report}"
    );
    assert_eq!(desk["first_response"]["count"], json!(1), "{report}");
    assert_eq!(desk["resolution"]["count"], json!(1), "{report}");
    assert_eq!(report["days"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report["days"][0]["day"], json!(day), "{report}");
    let amy_figures = &report["agents"][0];
    assert_eq!(
        (&amy_figures["name"], &amy_figures["resolved"]),
        (&json!("amy"), &json!(1)),
        "{report}"
    );

    // As a spreadsheet, in Chinese.
    let (status, head, body) =
        fetch(&server, Some(&boss_session), &path("days.csv", "zh-CN")).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.to_lowercase().contains("content-type: text/csv; charset=utf-8"), "{head}");
    let csv = String::from_utf8(body).unwrap();
    assert_eq!(csv, format!("日期,对话,已解决,顾客消息,客服消息\n{day},1,1,1,1\n"));
    let (_, _, body) = fetch(&server, Some(&boss_session), &path("agents.csv", "en")).await;
    let agents = String::from_utf8(body).unwrap();
    assert!(
        agents.starts_with("Agent,Resolved,Messages,First response, median (s)")
            || agents.starts_with("Agent,Resolved,Messages,\"First response, median (s)\""),
        "{agents}"
    );
    assert!(agents.contains("\namy,1,1,"), "{agents}");

    // A period the wrong way round: told, with its code for the page to word.
    let backwards = format!("/reports?from={day}&to=2000-01-01");
    let (status, _, body) = fetch(&server, Some(&boss_session), &backwards).await;
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, &answer["problem"]["code"]),
        (400, &json!("report_period_invalid")),
        "{answer}"
    );

    // Nobody else: an agent who is not an admin, the customer, no session, the admin's
    // token presented as a customer's.
    for session in [Some(amy_session), Some(lea_session), None, Some(boss_session.swapped())] {
        let who = session.as_ref().map(|s: &Session| s.agent);
        let (status, _, body) = fetch(&server, session.as_ref(), &path("json", "en")).await;
        assert_eq!(status, 404, "{who:?}: {}", String::from_utf8_lossy(&body));
    }
    server.stop().await;
}

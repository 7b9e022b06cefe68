//! One suite for every backend: each test runs against SQLite in memory and on a file.

use super::*;

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

async fn backends() -> Vec<(String, Box<dyn Store>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file_url = format!("sqlite://{}", dir.path().join("nested/chat.db").display());
    vec![
        ("memory".into(), Box::new(SqliteStore::open("sqlite::memory:").await.unwrap()), None),
        (file_url.clone(), Box::new(SqliteStore::open(&file_url).await.unwrap()), Some(dir)),
    ]
}

#[tokio::test]
async fn agents_are_added_listed_found_and_removed() {
    for (label, store, _dir) in backends().await {
        assert!(store.agent_names().await.unwrap().is_empty(), "{label}");
        store.add_agent(&name("Zoe"), "hash-z").await.unwrap();
        store.add_agent(&name("amy"), "hash-a").await.unwrap();
        assert_eq!(store.agent_names().await.unwrap(), vec![name("amy"), name("Zoe")], "{label}");

        let found = store.agent(&name("ZOE")).await.unwrap().expect("case-insensitive lookup");
        assert_eq!(found, AgentRecord { name: name("Zoe"), password_hash: "hash-z".into() });
        assert_eq!(store.agent(&name("nobody")).await.unwrap(), None);

        store.remove_agent(&name("zoe")).await.unwrap();
        assert_eq!(store.agent_names().await.unwrap(), vec![name("amy")], "{label}");
        assert!(matches!(store.remove_agent(&name("zoe")).await, Err(StoreError::NotFound(_))));
    }
}

#[tokio::test]
async fn a_duplicate_agent_is_refused_case_insensitively() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("amy"), "one").await.unwrap();
        let err = store.add_agent(&name("AMY"), "two").await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate(_)), "{label}: {err}");
        assert_eq!(store.agent(&name("amy")).await.unwrap().unwrap().password_hash, "one", "the first one is kept");
    }
}

#[tokio::test]
async fn a_file_database_keeps_agents_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    SqliteStore::open(&url).await.unwrap().add_agent(&name("amy"), "h").await.unwrap();
    let reopened = SqliteStore::open(&url).await.unwrap();
    assert_eq!(reopened.agent_names().await.unwrap(), vec![name("amy")]);
}

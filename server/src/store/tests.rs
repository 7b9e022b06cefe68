//! One suite for every backend: each test runs against SQLite in memory and on a file,
//! and against a fresh PostgreSQL database.

use super::*;

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

async fn backends() -> Vec<(String, Box<dyn Store>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file_url = format!("sqlite://{}", dir.path().join("nested/chat.db").display());
    let postgres = super::testing::postgres_database().await;
    vec![
        ("memory".into(), Box::new(SqliteStore::open("sqlite::memory:").await.unwrap()), None),
        (file_url.clone(), Box::new(SqliteStore::open(&file_url).await.unwrap()), Some(dir)),
        ("postgres".into(), Box::new(PgStore::open(&postgres).await.unwrap()), None),
    ]
}

#[tokio::test]
async fn agents_are_added_listed_found_and_removed() {
    for (label, store, _dir) in backends().await {
        assert!(agent_names(&*store).await.is_empty(), "{label}");
        store.add_agent(&name("Zoe"), "hash-z", false).await.unwrap();
        store.add_agent(&name("amy"), "hash-a", false).await.unwrap();
        assert_eq!(agent_names(&*store).await, vec![name("amy"), name("Zoe")], "{label}");

        let found = store.agent(&name("ZOE")).await.unwrap().expect("case-insensitive lookup");
        assert_eq!(
            found,
            AgentRecord { name: name("Zoe"), password_hash: "hash-z".into(), admin: false }
        );
        assert_eq!(store.agent(&name("nobody")).await.unwrap(), None);

        store.remove_agent(&name("zoe")).await.unwrap();
        assert_eq!(agent_names(&*store).await, vec![name("amy")], "{label}");
        assert!(matches!(store.remove_agent(&name("zoe")).await, Err(StoreError::NotFound(_))));
    }
}

#[tokio::test]
async fn the_tokens_and_webhooks_an_agent_made_go_with_their_account_and_no_one_elses() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("Zoe"), "hash-z", true).await.unwrap();
        store.add_agent(&name("amy"), "hash-a", true).await.unwrap();
        let (zoe, amy) = (name("Zoe"), name("amy"));
        store.add_api_token("zoe's", "hash-1", true, &zoe, 1).await.unwrap();
        store.add_api_token("zoe's too", "hash-2", false, &zoe, 2).await.unwrap();
        let kept = store.add_api_token("amy's", "hash-3", true, &amy, 3).await.unwrap();
        store
            .add_webhook("https://zoe.example/hook", ",message.created,", "s1", &zoe, 4)
            .await
            .unwrap();
        let hook = store
            .add_webhook("https://amy.example/hook", ",message.created,", "s2", &amy, 5)
            .await
            .unwrap();

        // Named as typed (another case): the account and what it made go.
        let gone = store.remove_agent(&name("ZOE")).await.unwrap();
        assert_eq!(gone, RemovedAgent { tokens: 2, webhooks: 1 }, "{label}");
        assert_eq!(store.use_api_token("hash-1", 10).await.unwrap(), None, "{label}");
        assert_eq!(store.use_api_token("hash-2", 10).await.unwrap(), None, "{label}");
        let tokens: Vec<u64> = store.api_tokens().await.unwrap().iter().map(|t| t.id).collect();
        assert_eq!(tokens, vec![kept.id], "{label}");
        let hooks: Vec<u64> = store.webhooks(0).await.unwrap().iter().map(|h| h.id).collect();
        assert_eq!(hooks, vec![hook.id], "{label}");
        // Made for an account removed meanwhile (its admin's request raced the removal):
        // refused, rather than kept for nobody.
        let late = store.add_api_token("late", "hash-4", true, &zoe, 11).await;
        assert!(matches!(late, Err(StoreError::NotFound(_))), "{label}: {late:?}");
        let late = store
            .add_webhook("https://zoe.example/late", ",message.created,", "s3", &zoe, 12)
            .await;
        assert!(matches!(late, Err(StoreError::NotFound(_))), "{label}: {late:?}");
        // amy made nothing else: her removal takes her own.
        let gone = store.remove_agent(&amy).await.unwrap();
        assert_eq!(gone, RemovedAgent { tokens: 1, webhooks: 1 }, "{label}");
    }
}

#[tokio::test]
async fn a_duplicate_agent_is_refused_case_insensitively() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("amy"), "one", false).await.unwrap();
        let err = store.add_agent(&name("AMY"), "two", false).await.unwrap_err();
        assert!(matches!(err, StoreError::Duplicate(_)), "{label}: {err}");
        assert_eq!(
            store.agent(&name("amy")).await.unwrap().unwrap().password_hash,
            "one",
            "the first one is kept"
        );
    }
}

#[tokio::test]
async fn a_file_database_keeps_agents_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    SqliteStore::open(&url).await.unwrap().add_agent(&name("amy"), "h", false).await.unwrap();
    let reopened = SqliteStore::open(&url).await.unwrap();
    assert_eq!(agent_names(&reopened).await, vec![name("amy")]);
}

use crate::model::{AgentKey, Assignee, Identity, NewMessage};
use app::protocol::{ClientMsgId, MessageText, Status};

const DAY: u64 = 24 * 3600 * 1000;

async fn agent_names(store: &dyn Store) -> Vec<UserName> {
    store.agents().await.unwrap().into_iter().map(|a| a.name).collect()
}

pub(super) fn message(
    meta: &ConversationMeta,
    author: Identity,
    text: &str,
    client_id: Option<&str>,
    ts: u64,
) -> NewMessage {
    let (from, joins) = match &author {
        Identity::Customer(_) => (meta.customer_name.clone(), None),
        Identity::Agent(key) => (name(key.as_str()), Some(key.clone())),
    };
    NewMessage {
        conversation: meta.id,
        author,
        from,
        to: None,
        joins,
        text: MessageText::parse(text).unwrap(),
        client_id: client_id.map(|c| ClientMsgId::parse(c).unwrap()),
        ts,
        attachments: vec![],
    }
}

/// Appends one message that must succeed.
async fn append(store: &dyn Store, m: NewMessage) -> Appended {
    let mut results = store.append(&[m]).await.unwrap();
    results.pop().unwrap().unwrap()
}

#[tokio::test]
async fn a_customer_comes_back_with_their_token_until_it_lapses() {
    for (label, store, _dir) in backends().await {
        let meta = store.create_customer(&name("Ann"), "hash-1", 1_000).await.unwrap();
        assert_eq!((meta.customer_name.as_str(), meta.agents.len()), ("Ann", 0), "{label}");
        let back = store.resume("hash-1", 1_000 + DAY, IdleLimits::both(2 * DAY)).await.unwrap();
        match back {
            Some(SessionOwner::Customer { id, name: n, conversation }) => {
                assert_eq!(
                    (id, n, conversation.id),
                    (meta.customer, name("Ann"), meta.id),
                    "{label}"
                );
            }
            other => panic!("{label}: {other:?}"),
        }
        // Using it renewed it: two more days are fine, measured from the last use.
        assert!(
            store
                .resume("hash-1", 1_000 + 3 * DAY, IdleLimits::both(2 * DAY))
                .await
                .unwrap()
                .is_some(),
            "{label}"
        );
        assert!(
            store
                .resume("hash-1", 1_000 + 6 * DAY, IdleLimits::both(2 * DAY))
                .await
                .unwrap()
                .is_none(),
            "{label}: lapsed"
        );
        assert!(
            store
                .resume("hash-1", 1_000 + 6 * DAY, IdleLimits::both(9 * DAY))
                .await
                .unwrap()
                .is_none(),
            "{label}: and deleted"
        );
        assert!(
            store.resume("nope", 1_000, IdleLimits::both(DAY)).await.unwrap().is_none(),
            "{label}"
        );

        // A second customer with the same name is a different person.
        let other = store.create_customer(&name("Ann"), "hash-2", 2_000).await.unwrap();
        assert_ne!((other.id, other.customer), (meta.id, meta.customer), "{label}");
        assert!(store.revoke("hash-2").await.unwrap(), "{label}: there was such a session");
        assert!(!store.revoke("hash-2").await.unwrap(), "{label}: not twice");
        assert!(
            store.resume("hash-2", 2_000, IdleLimits::both(DAY)).await.unwrap().is_none(),
            "{label}: revoked"
        );
    }
}

#[tokio::test]
async fn customers_created_together_each_get_their_own_conversation_and_session() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("Amy"), "pw", false).await.unwrap();
        let first = store.create_customer(&name("early"), "t-0", 1).await.unwrap();
        let batch: Vec<NewCustomer> = ["cat", "AMY", "dan", "cat"]
            .iter()
            .enumerate()
            .map(|(i, n)| NewCustomer {
                name: name(n),
                token_hash: format!("t-{}", i + 1),
                external: None,
            })
            .collect();
        let created = store.create_customers(&batch, 5).await.unwrap();
        assert_eq!(created.len(), 4, "{label}");
        assert!(created[1].is_none(), "{label}: an agent's name is refused, case-insensitively");
        let made: Vec<&ConversationMeta> = created.iter().flatten().collect();
        assert_eq!(
            made.iter().map(|m| m.customer_name.as_str()).collect::<Vec<_>>(),
            ["cat", "dan", "cat"],
            "{label}"
        );
        // Every id is new, and each token resumes its own customer and conversation.
        let mut ids: Vec<_> =
            made.iter().map(|m| (m.id, m.customer)).chain([(first.id, first.customer)]).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4, "{label}: {ids:?}");
        for (i, meta) in created.iter().enumerate() {
            let back =
                store.resume(&format!("t-{}", i + 1), 6, IdleLimits::both(DAY)).await.unwrap();
            match (meta, back) {
                (Some(meta), Some(SessionOwner::Customer { id, name: n, conversation })) => {
                    assert_eq!(
                        (id, n, conversation.id),
                        (meta.customer, meta.customer_name.clone(), meta.id),
                        "{label}"
                    );
                }
                (None, None) => {}
                (meta, back) => panic!("{label}: {meta:?} resumed as {back:?}"),
            }
        }
        assert!(store.create_customers(&[], 7).await.unwrap().is_empty(), "{label}");
        assert!(
            matches!(
                store.create_customer(&name("amy"), "t-9", 8).await,
                Err(StoreError::Duplicate(_))
            ),
            "{label}"
        );
    }
}

#[tokio::test]
async fn agent_sessions_resume_and_end_with_the_account() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("Amy"), "pw-hash", false).await.unwrap();
        let amy = AgentKey::of(&name("amy"));
        store.create_agent_session(&amy, "s-1", 10).await.unwrap();
        match store.resume("s-1", 20, IdleLimits::both(DAY)).await.unwrap() {
            Some(SessionOwner::Agent(record)) => assert_eq!(record.name, name("Amy"), "{label}"),
            other => panic!("{label}: {other:?}"),
        }
        // A session for an account that does not exist cannot be made.
        assert!(
            store.create_agent_session(&AgentKey::of(&name("ghost")), "s-2", 10).await.is_err(),
            "{label}"
        );
        store.remove_agent(&name("amy")).await.unwrap();
        assert!(
            store.resume("s-1", 30, IdleLimits::both(DAY)).await.unwrap().is_none(),
            "{label}: removed with the account"
        );
    }
}

#[tokio::test]
async fn messages_get_gapless_sequence_numbers_per_conversation() {
    for (label, store, _dir) in backends().await {
        let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
        let b = store.create_customer(&name("b"), "tb", 1).await.unwrap();
        let batch = vec![
            message(&a, Identity::Customer(a.customer), "a1", None, 10),
            message(&b, Identity::Customer(b.customer), "b1", None, 11),
            message(&a, Identity::Customer(a.customer), "a2", None, 12),
        ];
        let stored: Vec<_> =
            store.append(&batch).await.unwrap().into_iter().map(Result::unwrap).collect();
        let seqs: Vec<_> =
            stored.iter().map(|s| (s.message.conversation, s.message.seq, s.duplicate)).collect();
        assert_eq!(seqs, vec![(a.id, 1, false), (b.id, 1, false), (a.id, 2, false)], "{label}");
        assert!(stored[0].message.id < stored[2].message.id, "{label}: ids grow");
        let again = store.messages_after(a.id, 0, 10).await.unwrap();
        assert_eq!(
            again,
            vec![stored[0].message.clone(), stored[2].message.clone()],
            "{label}: read back as written"
        );
    }
}

#[tokio::test]
async fn a_retried_client_id_is_stored_once() {
    for (label, store, _dir) in backends().await {
        let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
        let first =
            append(&*store, message(&a, Identity::Customer(a.customer), "hello", Some("c-1"), 10))
                .await;
        // Same id, even with other text (a client bug): the first one stands.
        let retry =
            append(&*store, message(&a, Identity::Customer(a.customer), "hello?", Some("c-1"), 20))
                .await;
        assert!(!first.duplicate && retry.duplicate, "{label}");
        assert_eq!(retry.message, first.message, "{label}");
        // Twice in one batch is caught too.
        let batch = vec![
            message(&a, Identity::Customer(a.customer), "x", Some("c-2"), 30),
            message(&a, Identity::Customer(a.customer), "x", Some("c-2"), 30),
        ];
        let results: Vec<_> =
            store.append(&batch).await.unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!((results[0].duplicate, results[1].duplicate), (false, true), "{label}");
        // The id is the sender's: an agent may use the same one.
        let amy = Identity::Agent(AgentKey::of(&name("amy")));
        assert!(
            !append(&*store, message(&a, amy, "hi", Some("c-1"), 40)).await.duplicate,
            "{label}"
        );
        let seqs: Vec<_> =
            store.messages_after(a.id, 0, 10).await.unwrap().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3], "{label}");
    }
}

#[tokio::test]
async fn one_bad_message_does_not_fail_its_batch() {
    for (label, store, _dir) in backends().await {
        let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
        let mut ghost = message(&a, Identity::Customer(a.customer), "lost?", None, 5);
        ghost.conversation = ConversationId(9_999);
        let results = store
            .append(&[ghost, message(&a, Identity::Customer(a.customer), "kept", None, 6)])
            .await
            .unwrap();
        assert!(matches!(results[0], Err(StoreError::NotFound(_))), "{label}: {:?}", results[0]);
        assert_eq!(results[1].as_ref().unwrap().message.seq, 1, "{label}");
    }
}

#[tokio::test]
async fn history_pages_go_back_from_the_newest() {
    for (label, store, _dir) in backends().await {
        let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
        let batch: Vec<_> = (1..=7)
            .map(|i| message(&a, Identity::Customer(a.customer), &format!("m{i}"), None, i))
            .collect();
        store.append(&batch).await.unwrap();
        let seqs = |p: &Page| p.messages.iter().map(|m| m.seq).collect::<Vec<_>>();
        let newest = store.messages_before(a.id, None, 3).await.unwrap();
        assert_eq!((seqs(&newest), newest.more), (vec![5, 6, 7], true), "{label}");
        let older = store.messages_before(a.id, Some(5), 3).await.unwrap();
        assert_eq!((seqs(&older), older.more), (vec![2, 3, 4], true), "{label}");
        let oldest = store.messages_before(a.id, Some(2), 3).await.unwrap();
        assert_eq!((seqs(&oldest), oldest.more), (vec![1], false), "{label}");
        let after: Vec<_> =
            store.messages_after(a.id, 4, 2).await.unwrap().iter().map(|m| m.seq).collect();
        assert_eq!(after, vec![5, 6], "{label}");
        let empty = store.create_customer(&name("e"), "te", 1).await.unwrap();
        assert_eq!(
            store.messages_before(empty.id, None, 3).await.unwrap(),
            Page { messages: vec![], more: false }
        );
    }
}

#[tokio::test]
async fn agents_see_their_conversations_and_the_queue() {
    for (label, store, _dir) in backends().await {
        let amy = AgentKey::of(&name("amy"));
        let bob = AgentKey::of(&name("bob"));
        let quiet = store.create_customer(&name("quiet"), "t0", 1).await.unwrap();
        let waiting = store.create_customer(&name("waiting"), "t1", 1).await.unwrap();
        let amys = store.create_customer(&name("amys"), "t2", 1).await.unwrap();
        let bobs = store.create_customer(&name("bobs"), "t3", 1).await.unwrap();
        append(
            &*store,
            message(&waiting, Identity::Customer(waiting.customer), "anyone?", None, 10),
        )
        .await;
        let mut queued = waiting.clone();
        queued.status = Status::Queued;
        queued.version = 1;
        queued.queued_at = 10;
        store.set_state(&queued, 1).await.unwrap();
        append(&*store, message(&amys, Identity::Agent(amy.clone()), "hi from amy", None, 20))
            .await;
        append(&*store, message(&bobs, Identity::Agent(bob.clone()), "hi from bob", None, 30))
            .await;

        let ids =
            |metas: Vec<ConversationMeta>| metas.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.agent_conversations(&amy, false, 10).await.unwrap()),
            vec![amys.id, waiting.id],
            "{label}"
        );
        assert_eq!(
            ids(store.agent_conversations(&bob, false, 1).await.unwrap()),
            vec![bobs.id],
            "{label}: newest first"
        );
        let meta = store.conversation(amys.id).await.unwrap().unwrap();
        assert_eq!(meta.agents.into_iter().collect::<Vec<_>>(), vec![amy.clone()], "{label}");
        assert_eq!(store.conversation(ConversationId(777)).await.unwrap(), None, "{label}");
        assert!(
            !ids(store.agent_conversations(&amy, false, 10).await.unwrap()).contains(&quiet.id),
            "{label}: no messages, nothing to see"
        );
        assert_eq!(
            ids(store.agent_conversations(&amy, true, 10).await.unwrap()),
            vec![bobs.id, amys.id, waiting.id],
            "{label}: an admin's"
        );
    }
}

#[tokio::test]
async fn admins_are_marked_and_listed() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("Ada"), "h", true).await.unwrap();
        store.add_agent(&name("bob"), "h", false).await.unwrap();
        let listed: Vec<(String, bool)> = store
            .agents()
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.name.to_string(), a.admin))
            .collect();
        assert_eq!(listed, vec![("Ada".into(), true), ("bob".into(), false)], "{label}");
        assert!(store.agent(&name("ada")).await.unwrap().unwrap().admin, "{label}");
    }
}

#[tokio::test]
async fn the_unread_count_is_the_customer_messages_after_the_read_position() {
    for (label, store, _dir) in backends().await {
        let cat = store.create_customer(&name("cat"), "t", 1).await.unwrap();
        let amy = Identity::Agent(AgentKey::of(&name("amy")));
        for (i, author) in [
            Identity::Customer(cat.customer),
            amy.clone(),
            Identity::Customer(cat.customer),
            Identity::Customer(cat.customer),
        ]
        .into_iter()
        .enumerate()
        {
            append(&*store, message(&cat, author, "m", None, i as u64)).await;
        }
        assert_eq!(
            store.conversation(cat.id).await.unwrap().unwrap().unread,
            vec![1, 3, 4],
            "{label}"
        );
        let mut read = store.conversation(cat.id).await.unwrap().unwrap();
        read.read_seq = 3;
        read.version = 5;
        store.set_state(&read, 1).await.unwrap();
        assert_eq!(store.conversation(cat.id).await.unwrap().unwrap().unread, vec![4], "{label}");
    }
}

#[tokio::test]
async fn acknowledged_messages_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
    append(&store, message(&a, Identity::Customer(a.customer), "durable", Some("k"), 5)).await;
    drop(store);
    let reopened = SqliteStore::open(&url).await.unwrap();
    let back = reopened.messages_after(a.id, 0, 10).await.unwrap();
    assert_eq!(back.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), vec!["durable"]);
    assert!(reopened.resume("ta", 6, IdleLimits::both(DAY)).await.unwrap().is_some());
}

/// Logins, resumes and message batches at once, from many tasks, on one file: SQLite must
/// not answer "database is locked" to any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_all_succeed_on_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(SqliteStore::open(&url).await.unwrap());
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let meta =
                    store.create_customer(&name(&format!("c{i}")), &format!("t{i}"), 1).await?;
                for k in 0..20 {
                    store.resume(&format!("t{i}"), 2 + k, IdleLimits::both(DAY)).await?;
                    let m = message(
                        &meta,
                        Identity::Customer(meta.customer),
                        "hi",
                        Some(&format!("k{k}")),
                        3,
                    );
                    for r in store.append(&[m]).await? {
                        r?;
                    }
                }
                Ok::<_, StoreError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn where_a_conversation_stands_is_kept_and_the_queue_is_oldest_first() {
    for (label, store, _dir) in backends().await {
        let amy = Assignee { key: AgentKey::of(&name("Amy")), name: name("Amy") };
        let mut late = store.create_customer(&name("late"), "t1", 1).await.unwrap();
        let mut early = store.create_customer(&name("early"), "t2", 1).await.unwrap();
        let mut mine = store.create_customer(&name("mine"), "t3", 1).await.unwrap();
        for (meta, at) in [(&mut late, 30), (&mut early, 20)] {
            meta.status = Status::Queued;
            meta.queued_at = at;
            meta.version = 1;
            store.set_state(meta, 1).await.unwrap();
        }
        mine.status = Status::Open;
        mine.assignee = Some(amy.clone());
        mine.note = Some("VIP, be nice".into());
        mine.version = 3;
        store.set_state(&mine, 1).await.unwrap();
        // A change that arrives late (an older version) does not overwrite a newer one.
        let mut stale = mine.clone();
        stale.status = Status::Queued;
        stale.version = 2;
        store.set_state(&stale, 1).await.unwrap();

        let queue: Vec<_> = store.queued().await.unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(queue, vec![early.id, late.id], "{label}");
        assert_eq!(
            store.conversation(mine.id).await.unwrap().unwrap(),
            mine,
            "{label}: read back as set"
        );
        // An agent's open conversations come first, even past the limit of the rest.
        let first = store.agent_conversations(&amy.key, false, 1).await.unwrap();
        assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), vec![mine.id], "{label}");
        let mut ghost = ConversationMeta::new(ConversationId(999), mine.customer, name("x"));
        ghost.version = 9;
        assert!(
            matches!(store.set_state(&ghost, 1).await, Err(StoreError::NotFound(_))),
            "{label}"
        );
    }
}

#[tokio::test]
async fn internal_notes_are_kept_apart_from_the_messages() {
    for (label, store, _dir) in backends().await {
        let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
        let amy = AgentKey::of(&name("Amy"));
        append(&*store, message(&a, Identity::Customer(a.customer), "hi", None, 5)).await;
        for (i, text) in ["VIP", "called them back", "refund approved"].iter().enumerate() {
            store
                .add_note(
                    a.id,
                    &amy,
                    &name("Amy"),
                    &MessageText::parse(text).unwrap(),
                    10 + i as u64,
                )
                .await
                .unwrap();
        }
        let notes = store.notes(a.id, 2).await.unwrap();
        assert_eq!(
            notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
            vec!["called them back", "refund approved"],
            "{label}"
        );
        assert_eq!(notes[0].from, name("Amy"), "{label}");
        // The customer's sequence numbers are untouched.
        let seqs: Vec<_> =
            store.messages_after(a.id, 0, 10).await.unwrap().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1], "{label}");
        let nowhere = store
            .add_note(ConversationId(404), &amy, &name("Amy"), &MessageText::parse("x").unwrap(), 1)
            .await;
        assert!(matches!(nowhere, Err(StoreError::NotFound(_))), "{label}: {nowhere:?}");
    }
}

#[tokio::test]
async fn canned_replies_are_added_replaced_listed_and_removed() {
    for (label, store, _dir) in backends().await {
        let reply =
            |s: &str, t: &str| app::protocol::CannedReply { shortcut: s.into(), text: t.into() };
        store.set_canned(&reply("refund", "Your refund is on its way.")).await.unwrap();
        store.set_canned(&reply("hello", "Hi! How can I help?")).await.unwrap();
        store.set_canned(&reply("refund", "Refunds take 3 to 5 days.")).await.unwrap();
        let all = store.canned().await.unwrap();
        assert_eq!(
            all,
            vec![
                reply("hello", "Hi! How can I help?"),
                reply("refund", "Refunds take 3 to 5 days.")
            ],
            "{label}"
        );
        store.remove_canned("hello").await.unwrap();
        assert!(
            matches!(store.remove_canned("hello").await, Err(StoreError::NotFound(_))),
            "{label}"
        );
        assert_eq!(store.canned().await.unwrap().len(), 1, "{label}");
    }
}

/// Two server nodes (two stores on one database) writing to one conversation at once,
/// each also retrying the other's client ids: the sequence numbers stay gapless and
/// unique, and each client id is stored once — by the database's locks, not by timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_writing_one_conversation_keep_it_gapless_and_store_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let file_url = format!("sqlite://{}", dir.path().join("chat.db").display());
    for url in [file_url, super::testing::postgres_database().await] {
        let nodes: Vec<std::sync::Arc<dyn Store>> = vec![
            super::open(&url, Default::default()).await.unwrap(),
            super::open(&url, Default::default()).await.unwrap(),
        ];
        let meta = nodes[0].create_customer(&name("cat"), "t", 1).await.unwrap();
        const EACH: usize = 30;
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let store = nodes[task % 2].clone();
                let meta = meta.clone();
                tokio::spawn(async move {
                    let mut stored = vec![];
                    for k in 0..EACH {
                        // Tasks 2j and 2j+1 send the same ids, one through each node; some
                        // in batches of three.
                        let id = format!("m{}-{k}", task / 2);
                        let batch: Vec<_> = (0..1 + k % 3)
                            .map(|_| {
                                message(
                                    &meta,
                                    Identity::Customer(meta.customer),
                                    "hi",
                                    Some(&id),
                                    2,
                                )
                            })
                            .collect();
                        for r in store.append(&batch).await.unwrap() {
                            stored.push(r.unwrap().message);
                        }
                    }
                    stored
                })
            })
            .collect();
        let mut by_id = std::collections::HashMap::new();
        for t in tasks {
            for m in t.await.unwrap() {
                let first = by_id.entry(m.client_id.clone()).or_insert(m.seq);
                assert_eq!(*first, m.seq, "{url}: one client id, one message");
            }
        }
        let all = nodes[1].messages_after(meta.id, 0, 1000).await.unwrap();
        assert_eq!(all.len(), 4 * EACH, "{url}: each id once");
        assert_eq!(
            all.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (1..=(4 * EACH) as u64).collect::<Vec<_>>(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_host_sites_user_is_linked_to_one_customer_who_gets_new_sessions() {
    for (label, store, _dir) in backends().await {
        let vouched = |n: &str, token: &str, external: &str| NewCustomer {
            name: name(n),
            token_hash: token.to_owned(),
            external: Some(external.to_owned()),
        };
        assert_eq!(store.external_customer("shop-42").await.unwrap(), None, "{label}");
        // Created with the link, in one transaction; a second first login of the same id
        // (a race between two devices, in one batch or the next) changes nothing.
        let created = store
            .create_customers(
                &[vouched("Ann", "token-1", "shop-42"), vouched("Cy", "token-4", "shop-42")],
                1,
            )
            .await
            .unwrap();
        let ann = created[0].clone().expect("created");
        let bob = store
            .create_customers(&[vouched("Bob", "token-2", "shop-42")], 1)
            .await
            .unwrap()
            .pop()
            .flatten()
            .expect("created");
        assert_ne!(bob.customer, ann.customer);
        assert_eq!(
            store.external_customer("shop-42").await.unwrap(),
            Some(ann.customer),
            "{label}"
        );
        // A session for the linked customer resumes to her conversation.
        store.create_customer_session(ann.customer, "token-3", 5).await.unwrap();
        match store.resume("token-3", 6, IdleLimits::both(1_000)).await.unwrap() {
            Some(SessionOwner::Customer { id, name: n, conversation }) => {
                assert_eq!(
                    (id, n, conversation.id),
                    (ann.customer, name("Ann"), ann.id),
                    "{label}"
                );
            }
            other => panic!("{label}: {other:?}"),
        }
    }
}

/// A customer numbered at login but stored only at the first write.
fn unsaved(
    ids: (CustomerId, ConversationId),
    n: &str,
    token_hash: &str,
    since: u64,
) -> ConversationMeta {
    ConversationMeta::new_unsaved(ids.1, ids.0, name(n), token_hash.into(), since)
}

#[tokio::test]
async fn a_customer_numbered_at_login_is_stored_at_the_first_write_and_then_resumes() {
    for (label, store, _dir) in backends().await {
        let stored = store.create_customer(&name("Bob"), "hash-b", 1_000).await.unwrap();
        let ids = store.reserve_ids(3).await.unwrap();
        // Never an id given before, nor twice, whether stored at once or numbered first.
        let mut customers: Vec<u64> = ids.iter().map(|(cu, _)| cu.0).collect();
        let mut conversations: Vec<u64> = ids.iter().map(|(_, c)| c.0).collect();
        let later = store.create_customer(&name("Cat"), "hash-c", 1_000).await.unwrap();
        customers.extend([stored.customer.0, later.customer.0]);
        conversations.extend([stored.id.0, later.id.0]);
        customers.sort_unstable();
        customers.dedup();
        conversations.sort_unstable();
        conversations.dedup();
        assert_eq!((customers.len(), conversations.len()), (5, 5), "{label}");

        // Nothing of a numbered customer is stored: their token resumes nothing yet.
        let mut ann = unsaved(ids[0], "Ann", "hash-a", 2_000);
        assert_eq!(
            store.resume("hash-a", 2_000, IdleLimits::both(DAY)).await.unwrap(),
            None,
            "{label}"
        );
        assert_eq!(store.conversation(ann.id).await.unwrap(), None, "{label}");

        // An agent took the conversation before anyone wrote: stored as it stands.
        ann.status = Status::Open;
        ann.assignee = Some(Assignee { key: AgentKey::of(&name("amy")), name: name("amy") });
        ann.version = 7;
        // Two first writes race (a message and a note, or two nodes): whichever comes
        // last, the newer state stays.
        let mut newer = ann.clone();
        newer.version = 8;
        newer.note = Some("from the second".into());
        store.save_customer(&newer, 3_000).await.unwrap();
        store.save_customer(&ann, 3_500).await.expect("a second first write changes nothing");
        assert_eq!(store.conversation(ann.id).await.unwrap().unwrap().version, 8, "{label}");
        ann = newer;
        let read = store.conversation(ann.id).await.unwrap().expect("stored");
        assert_eq!(
            (
                read.customer,
                read.status,
                read.assignee.clone(),
                read.version,
                read.note.clone(),
                read.unsaved.clone()
            ),
            (ann.customer, Status::Open, ann.assignee.clone(), 8, ann.note.clone(), None),
            "{label}"
        );
        match store.resume("hash-a", 4_000, IdleLimits::both(DAY)).await.unwrap() {
            Some(SessionOwner::Customer { id, conversation, .. }) => {
                assert_eq!((id, conversation.id), (ann.customer, ann.id), "{label}")
            }
            other => panic!("{label}: {other:?}"),
        }
        let m =
            append(&*store, message(&read, Identity::Customer(ann.customer), "hi", None, 5_000))
                .await;
        assert_eq!(m.message.seq, 1, "{label}");

        // A customer whose session ended before anyone wrote is stored without one.
        let mut dan = unsaved(ids[1], "Dan", "hash-d", 2_000);
        dan.unsaved.as_mut().unwrap().token_hash = None;
        store.save_customer(&dan, 3_000).await.unwrap();
        assert!(store.conversation(dan.id).await.unwrap().is_some(), "{label}");
        assert_eq!(
            store.resume("hash-d", 3_000, IdleLimits::both(DAY)).await.unwrap(),
            None,
            "{label}"
        );

        // One already stored is no customer to save.
        assert!(store.save_customer(&stored, 3_000).await.is_err(), "{label}");
    }
}

#[tokio::test]
async fn anonymous_customers_who_never_wrote_are_forgotten_after_the_retention() {
    for (label, store, _dir) in backends().await {
        let old = 1_000;
        let cutoff = old + 7 * DAY;
        let ids = store.reserve_ids(7).await.unwrap();
        let agent = Identity::Agent(AgentKey::of(&name("amy")));
        let numbered = |i: usize, n: &str| unsaved(ids[i], n, &format!("hash-{n}"), old);
        // Greeted by an agent, never answered, resolved: forgotten with the greeting.
        let mut greeted = numbered(0, "greeted");
        greeted.status = Status::Resolved;
        greeted.version = 2;
        store.save_customer(&greeted, old).await.unwrap();
        append(&*store, message(&greeted, agent.clone(), "hello?", None, old)).await;
        store
            .add_note(
                greeted.id,
                &AgentKey::of(&name("amy")),
                &name("amy"),
                &MessageText::parse("left").unwrap(),
                old,
            )
            .await
            .unwrap();
        // Never wrote and nobody did: forgotten.
        let quiet = numbered(1, "quiet");
        store.save_customer(&quiet, old).await.unwrap();
        // Wrote once: kept.
        let wrote = numbered(2, "wrote");
        store.save_customer(&wrote, old).await.unwrap();
        append(&*store, message(&wrote, Identity::Customer(wrote.customer), "help", None, old))
            .await;
        // Greeted and still open with the agent: kept.
        let mut open = numbered(3, "open");
        open.status = Status::Open;
        open.version = 1;
        store.save_customer(&open, old).await.unwrap();
        // Came back within the retention (their session used since): kept.
        let back = numbered(4, "back");
        store.save_customer(&back, old).await.unwrap();
        assert!(store
            .resume("hash-back", cutoff + 1, IdleLimits::both(30 * DAY))
            .await
            .unwrap()
            .is_some());
        // Newer than the retention: kept.
        let mut new = numbered(5, "new");
        new.unsaved.as_mut().unwrap().since = cutoff + 1;
        store.save_customer(&new, cutoff + 1).await.unwrap();
        // A host site's user: kept.
        let vouched = store
            .create_customers(
                &[NewCustomer {
                    name: name("vouched"),
                    token_hash: "hash-v".into(),
                    external: Some("u-1".into()),
                }],
                old,
            )
            .await
            .unwrap()
            .pop()
            .flatten()
            .unwrap();

        let idle = store.silent_anonymous(cutoff, CustomerId(0), 100).await.unwrap();
        assert_eq!(
            idle,
            vec![(greeted.customer, greeted.id), (quiet.customer, quiet.id)],
            "{label}"
        );
        // Paged by id.
        let rest = store.silent_anonymous(cutoff, greeted.customer, 100).await.unwrap();
        assert_eq!(rest, vec![(quiet.customer, quiet.id)], "{label}");

        // Asked again as it is deleted: one who wrote meanwhile stays.
        append(&*store, message(&quiet, Identity::Customer(quiet.customer), "now", None, cutoff))
            .await;
        let everyone: Vec<CustomerId> = [&greeted, &quiet, &wrote, &open, &back, &new, &vouched]
            .iter()
            .map(|m| m.customer)
            .collect();
        assert_eq!(store.delete_silent_anonymous(&everyone, cutoff).await.unwrap(), 1, "{label}");
        assert_eq!(store.conversation(greeted.id).await.unwrap(), None, "{label}");
        assert!(store.messages_after(greeted.id, 0, 10).await.unwrap().is_empty(), "{label}");
        assert!(store.notes(greeted.id, 10).await.unwrap().is_empty(), "{label}");
        assert_eq!(
            store.resume("hash-greeted", cutoff, IdleLimits::both(30 * DAY)).await.unwrap(),
            None,
            "{label}"
        );
        for kept in [&quiet, &wrote, &open, &back, &new, &vouched] {
            assert!(
                store.conversation(kept.id).await.unwrap().is_some(),
                "{label}: {}",
                kept.customer_name
            );
        }
    }
}

/// A number given to a customer at login, who was never stored, is never given again: a
/// client or an agent may still hold it (an agent's unsent greeting, say), and after a
/// restart it would reach someone else.
#[tokio::test]
async fn numbered_ids_are_never_given_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let first = SqliteStore::open(&url).await.unwrap().reserve_ids(3).await.unwrap();
    let again = SqliteStore::open(&url).await.unwrap().reserve_ids(1).await.unwrap();
    assert!(again[0].0 > first[2].0 && again[0].1 > first[2].1, "{first:?} then {again:?}");
    // Nor does a customer stored at once take one of them.
    let store = SqliteStore::open(&url).await.unwrap();
    let stored = store.create_customer(&name("Ann"), "hash-a", 1).await.unwrap();
    assert!(stored.customer > again[0].0 && stored.id > again[0].1, "{stored:?}");
}

/// A file uploaded and never sent is listed once it is older than the cutoff, and deleted;
/// one a message carries stays, as does one uploaded since.
#[tokio::test]
async fn files_uploaded_and_never_sent_are_found_and_deleted_after_the_cutoff() {
    for (label, store, _dir) in backends().await {
        let meta = store.create_customer(&name("Ann"), "hash-files", 1_000).await.unwrap();
        let attachment = |hex: char| app::protocol::Attachment {
            id: AttachmentId::parse(&hex.to_string().repeat(32)).unwrap(),
            name: format!("{hex}.txt"),
            mime: "text/plain".into(),
            size: 5,
            image: None,
            thumb: None,
        };
        let (sent, unsent, recent) = (attachment('a'), attachment('b'), attachment('c'));
        for (file, ts) in [(&sent, 2_000), (&unsent, 2_000), (&recent, 9_000)] {
            let record = AttachmentRecord {
                attachment: file.clone(),
                conversation: meta.id,
                uploader: Identity::Customer(meta.customer),
                ts,
            };
            store.add_attachment(&record).await.unwrap();
        }
        let mut carrying = message(&meta, Identity::Customer(meta.customer), "see", None, 3_000);
        carrying.attachments = vec![sent.clone()];
        let stored = append(store.as_ref(), carrying).await;
        assert_eq!(stored.message.attachments, vec![sent.clone()], "{label}");
        let back = store.messages_after(meta.id, 0, 10).await.unwrap();
        assert_eq!(back.last().map(|m| m.attachments.clone()), Some(vec![sent.clone()]), "{label}");

        let listed = store.unsent_attachments(5_000, 10).await.unwrap();
        assert_eq!(listed, vec![unsent.id.clone()], "{label}");
        // Asked again at deletion: the sent one, named by mistake, stays.
        let gone = store
            .delete_unsent_attachments(&[sent.id.clone(), unsent.id.clone()], 5_000)
            .await
            .unwrap();
        assert_eq!(gone, vec![unsent.id.clone()], "{label}");
        let left = store
            .attachments(&[sent.id.clone(), unsent.id.clone(), recent.id.clone()])
            .await
            .unwrap();
        let mut left: Vec<String> = left.into_iter().map(|r| r.attachment.id.to_string()).collect();
        left.sort();
        assert_eq!(left, vec![sent.id.to_string(), recent.id.to_string()], "{label}");
        assert!(store.unsent_attachments(5_000, 10).await.unwrap().is_empty(), "{label}");
    }
}

#[tokio::test]
async fn recent_turns_are_each_conversations_messages_in_order_since_a_time() {
    for (label, store, _dir) in backends().await {
        let amy = Identity::Agent(AgentKey::of(&name("amy")));
        let old = store.create_customer(&name("old"), "to", 1).await.unwrap();
        let a = store.create_customer(&name("a"), "ta", 1).await.unwrap();
        let b = store.create_customer(&name("b"), "tb", 1).await.unwrap();
        let customer = |m: &ConversationMeta| Identity::Customer(m.customer);
        let batch = vec![
            // Before the window: left out, and so is its conversation.
            message(&old, customer(&old), "long ago", None, 50),
            message(&b, customer(&b), "b: before", None, 90),
            message(&a, customer(&a), "a: hello", None, 100),
            message(&b, customer(&b), "b: hi", None, 110),
            message(&a, amy.clone(), "a: answer", None, 130),
            message(&b, amy.clone(), "b: answer", None, 140),
        ];
        for result in store.append(&batch).await.unwrap() {
            result.unwrap();
        }
        let turns = store.recent_turns(100, 10, 10, 100).await.unwrap();
        let seen: Vec<(ConversationId, bool, u64)> =
            turns.iter().map(|t| (t.conversation, t.by_agent, t.at)).collect();
        // The most recently active conversation first (b's answer is the newest message),
        // each one's messages in order.
        let expected =
            vec![(b.id, false, 110), (b.id, true, 140), (a.id, false, 100), (a.id, true, 130)];
        assert_eq!(seen, expected, "{label}");
        // At most as many messages as asked for (the most recent conversations' first);
        // at most as many conversations; at most so many of each one's newest.
        let cut = store.recent_turns(100, 10, 10, 3).await.unwrap();
        assert_eq!(
            cut.iter().map(|t| t.conversation).collect::<Vec<_>>(),
            vec![b.id, b.id, a.id],
            "{label}"
        );
        let newest = store.recent_turns(100, 1, 10, 100).await.unwrap();
        assert!(newest.iter().all(|t| t.conversation == b.id), "{label}: {newest:?}");
        let last_one = store.recent_turns(100, 10, 1, 100).await.unwrap();
        assert_eq!(
            last_one.iter().map(|t| (t.conversation, t.at)).collect::<Vec<_>>(),
            vec![(b.id, 140), (a.id, 130)],
            "{label}"
        );
        assert_eq!(newest.len(), 2, "{label}");
    }
}

#[tokio::test]
async fn search_finds_words_in_english_and_chinese_among_the_conversations_an_agent_sees() {
    use app::protocol::SearchQuery;
    for (label, store, _dir) in backends().await {
        let amy = AgentKey::of(&name("amy"));
        let bob = AgentKey::of(&name("bob"));
        let created = store
            .create_customers(
                &[
                    NewCustomer {
                        name: name("Léa Martin"),
                        token_hash: "t1".into(),
                        external: None,
                    },
                    NewCustomer {
                        name: name("王小明"),
                        token_hash: "t2".into(),
                        external: Some("shop-7781".into()),
                    },
                ],
                1,
            )
            .await
            .unwrap();
        let (lea, wang) = (created[0].clone().unwrap(), created[1].clone().unwrap());
        let texts = [
            (&lea, Identity::Customer(lea.customer), "Please REFUND my order #4471", 10),
            (&lea, Identity::Agent(amy.clone()), "The refund is on its way", 11),
            (&wang, Identity::Customer(wang.customer), "我想申请退款，订单号 4471", 12),
            (&wang, Identity::Agent(bob.clone()), "退款已经处理好了 (100%_done)", 13),
        ];
        for (meta, author, text, ts) in texts {
            append(&*store, message(meta, author, text, None, ts)).await;
        }
        // Both are taken: Léa's by amy, Wang's by bob.
        for (meta, agent) in [(&lea, &amy), (&wang, &bob)] {
            let mut open = store.conversation(meta.id).await.unwrap().unwrap();
            open.status = Status::Open;
            open.assignee = Some(Assignee { key: agent.clone(), name: name(agent.as_str()) });
            open.version = 5;
            store.set_state(&open, 1).await.unwrap();
        }
        // Searched before the messages are indexed, after, and with the newest not yet.
        check_search(&*store, &label, &lea, &wang, &amy).await;
        store.index_now().await.unwrap();
        check_search(&*store, &label, &lea, &wang, &amy).await;
        append(
            &*store,
            message(&lea, Identity::Customer(lea.customer), "refund 4471 again", None, 20),
        )
        .await;
        let q = SearchQuery::parse("4471").unwrap();
        let first = store.search(&q, &amy, true, None, 2).await.unwrap();
        let texts: Vec<&str> = first.messages.iter().map(|(_, m)| m.text.as_str()).collect();
        assert_eq!(texts, vec!["refund 4471 again", "我想申请退款，订单号 4471"], "{label}");
        let rest = store.search(&q, &amy, true, first.next, 2).await.unwrap();
        let texts: Vec<&str> = rest.messages.iter().map(|(_, m)| m.text.as_str()).collect();
        assert_eq!(
            texts,
            vec!["Please REFUND my order #4471"],
            "{label}: across the index's position"
        );
    }
}

/// The searches of [`search_finds_words_in_english_and_chinese_among_the_conversations_an_agent_sees`].
async fn check_search(
    store: &dyn Store,
    label: &str,
    lea: &ConversationMeta,
    wang: &ConversationMeta,
    amy: &AgentKey,
) {
    use app::protocol::SearchQuery;
    let q = |text: &str| SearchQuery::parse(text).unwrap();
    {
        let texts_found = |found: &Found| -> Vec<String> {
            found.messages.iter().map(|(_, m)| m.text.clone()).collect()
        };

        // An admin finds across conversations, newest first, ignoring case.
        let found = store.search(&q("refund"), amy, true, None, 20).await.unwrap();
        assert_eq!(
            texts_found(&found),
            vec!["The refund is on its way", "Please REFUND my order #4471"],
            "{label}"
        );
        // Chinese, two characters (shorter than a trigram) and four; both words of a query.
        let found = store.search(&q("退款"), amy, true, None, 20).await.unwrap();
        assert_eq!(found.messages.len(), 2, "{label}: {:?}", texts_found(&found));
        let found = store.search(&q("申请退款"), amy, true, None, 20).await.unwrap();
        assert_eq!(texts_found(&found), vec!["我想申请退款，订单号 4471"], "{label}");
        let found = store.search(&q("4471 订单"), amy, true, None, 20).await.unwrap();
        assert_eq!(texts_found(&found), vec!["我想申请退款，订单号 4471"], "{label}");
        // Wildcards are themselves.
        let found = store.search(&q("100%_"), amy, true, None, 20).await.unwrap();
        assert_eq!(found.messages.len(), 1, "{label}");
        assert!(store.search(&q("0%"), amy, true, None, 20).await.unwrap().messages.len() == 1);
        assert!(store.search(&q("zzz"), amy, true, None, 20).await.unwrap().messages.is_empty());

        // An agent finds only in conversations they see: amy not bob's.
        let found = store.search(&q("4471"), amy, false, None, 20).await.unwrap();
        assert_eq!(texts_found(&found), vec!["Please REFUND my order #4471"], "{label}");
        assert!(found.messages.iter().all(|(meta, _)| meta.id == lea.id), "{label}");
        let found = store.search(&q("退款"), amy, false, None, 20).await.unwrap();
        assert!(found.messages.is_empty() && found.conversations.is_empty(), "{label}");

        // Pages: one at a time, then the rest before the last one.
        let first = store.search(&q("4471"), amy, true, None, 1).await.unwrap();
        assert_eq!(texts_found(&first), vec!["我想申请退款，订单号 4471"], "{label}");
        let next = first.next.expect("more");
        let second = store.search(&q("4471"), amy, true, Some(next), 1).await.unwrap();
        assert_eq!(texts_found(&second), vec!["Please REFUND my order #4471"], "{label}");
        assert_eq!(second.next, None, "{label}");
        assert!(second.conversations.is_empty(), "{label}: conversations come on the first page");

        // Conversations by the customer's name, the host site's user id, or number.
        let by = |found: &Found| -> Vec<(ConversationId, Option<String>)> {
            found.conversations.iter().map(|c| (c.meta.id, c.external.clone())).collect()
        };
        let found = store.search(&q("martin léa"), amy, true, None, 20).await.unwrap();
        assert_eq!(by(&found), vec![(lea.id, None)], "{label}");
        let found = store.search(&q("小明"), amy, true, None, 20).await.unwrap();
        assert_eq!(by(&found), vec![(wang.id, None)], "{label}");
        let found = store.search(&q("shop-7781"), amy, true, None, 20).await.unwrap();
        assert_eq!(by(&found), vec![(wang.id, Some("shop-7781".into()))], "{label}");
        let found = store.search(&q("shop-77"), amy, true, None, 20).await.unwrap();
        assert!(found.conversations.is_empty(), "{label}: a user id matches whole");
        let number = format!("#{}", wang.id.0);
        let found = store.search(&q(&number), amy, true, None, 20).await.unwrap();
        assert_eq!(by(&found), vec![(wang.id, None)], "{label}");
        assert_eq!(found.conversations[0].updated_at, 13, "{label}: its last activity");
        let found = store.search(&q(&number), amy, false, None, 20).await.unwrap();
        assert!(found.conversations.is_empty(), "{label}: not one amy sees");
    }
}

#[tokio::test]
async fn an_agents_conversations_after_the_login_come_a_page_at_a_time_each_once() {
    for (label, store, _dir) in backends().await {
        let amy = AgentKey::of(&name("amy"));
        let mut metas = Vec::new();
        for i in 0..6u64 {
            let meta =
                store.create_customer(&name(&format!("c{i}")), &format!("t{i}"), 1).await.unwrap();
            append(
                &*store,
                message(&meta, Identity::Customer(meta.customer), "hello", None, 10 + i),
            )
            .await;
            metas.push(meta);
        }
        // The oldest is open with amy: first at login, whatever its activity.
        let mut open = store.conversation(metas[0].id).await.unwrap().unwrap();
        open.status = Status::Open;
        open.assignee = Some(Assignee { key: amy.clone(), name: name("amy") });
        open.version = 3;
        store.set_state(&open, 1).await.unwrap();

        let login: Vec<ConversationId> = store
            .agent_conversations(&amy, true, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(login, vec![metas[0].id, metas[5].id, metas[4].id], "{label}");
        // After where the login's listing ended (its last one's activity and id).
        let end = store.last_activity(metas[4].id).await.unwrap().expect("it exists");
        assert_eq!(end, 14, "{label}");
        let page =
            store.agent_conversations_after(&amy, true, Some((end, metas[4].id)), 2).await.unwrap();
        let ids: Vec<ConversationId> = page.iter().map(|(m, _)| m.id).collect();
        assert_eq!(ids, vec![metas[3].id, metas[2].id], "{label}: after the login's");
        let (last, active) = page.last().map(|(m, a)| (m.id, *a)).unwrap();
        assert_eq!(active, 12, "{label}: its last activity");
        let rest =
            store.agent_conversations_after(&amy, true, Some((active, last)), 2).await.unwrap();
        let ids: Vec<ConversationId> = rest.iter().map(|(m, _)| m.id).collect();
        assert_eq!(ids, vec![metas[1].id], "{label}: the open one is not listed again");
        assert_eq!(store.last_activity(ConversationId(9999)).await.unwrap(), None, "{label}");
        // An agent who sees none of them gets none.
        let bob = AgentKey::of(&name("bob"));
        assert!(store.agent_conversations_after(&bob, false, None, 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_customers_profile_keeps_what_their_visits_said_and_what_agents_wrote() {
    use app::protocol::{Email, ProfileChange, VisitFacts};
    for (label, store, _dir) in backends().await {
        let ann = store.create_customer(&name("Ann"), "hash-a", 1_000).await.unwrap();
        // Nothing said yet: only when she came.
        let empty = store.profile(ann.customer).await.unwrap();
        assert_eq!(
            empty,
            ProfileRecord { first_seen: Some(1_000), ..ProfileRecord::default() },
            "{label}"
        );

        let visit = VisitFacts {
            email: Some(Email::parse("Ann@Example.com").unwrap()),
            page: Some("https://shop.example/cart".into()),
            language: Some("zh-CN".into()),
            time_zone: Some("Asia/Shanghai".into()),
        };
        let signed: std::collections::BTreeMap<String, String> =
            [("plan".to_owned(), "pro".to_owned())].into();
        store.record_visit(ann.customer, &visit, Some(&signed), 2_000).await.unwrap();
        // A later visit from another page, with no address: the page changes, the rest stays.
        let later =
            VisitFacts { page: Some("https://shop.example/help".into()), ..VisitFacts::default() };
        store.record_visit(ann.customer, &later, None, 3_000).await.unwrap();
        let profile = store.profile(ann.customer).await.unwrap();
        assert_eq!(profile.email.as_ref().map(Email::as_str), Some("Ann@Example.com"), "{label}");
        assert_eq!(profile.page.as_deref(), Some("https://shop.example/help"), "{label}");
        assert_eq!(profile.language.as_deref(), Some("zh-CN"), "{label}");
        assert_eq!(profile.time_zone.as_deref(), Some("Asia/Shanghai"), "{label}");
        assert_eq!(profile.attributes, signed, "{label}");
        assert_eq!(
            profile.first_seen,
            Some(1_000),
            "{label}: her row is older than her first visit"
        );

        // An agent corrects the address and writes a note; clearing the note removes it.
        let fixed = ProfileChange {
            email: Some(Some(Email::parse("ann@example.org").unwrap())),
            note: Some(Some("Prefers e-mail; VIP since 2024".into())),
        };
        store.change_profile(ann.customer, &fixed, &name("amy"), 4_000).await.unwrap();
        let profile = store.profile(ann.customer).await.unwrap();
        assert_eq!(profile.email.as_ref().map(Email::as_str), Some("ann@example.org"), "{label}");
        let note = profile.note.clone().expect("a note");
        assert_eq!(
            (note.text.as_str(), note.by.as_str(), note.ts),
            ("Prefers e-mail; VIP since 2024", "amy", 4_000),
            "{label}"
        );
        let cleared = ProfileChange { email: None, note: Some(None) };
        store.change_profile(ann.customer, &cleared, &name("bo"), 5_000).await.unwrap();
        let profile = store.profile(ann.customer).await.unwrap();
        assert_eq!(profile.note, None, "{label}");
        assert_eq!(
            profile.email.as_ref().map(Email::as_str),
            Some("ann@example.org"),
            "{label}: left out, kept"
        );
        // Her browser saying the old address again (a reconnect) does not undo the correction.
        store.record_visit(ann.customer, &visit, Some(&signed), 5_500).await.unwrap();
        let kept = store.profile(ann.customer).await.unwrap().email;
        assert_eq!(kept.as_ref().map(Email::as_str), Some("ann@example.org"), "{label}: kept");

        // The same person from another device, anonymous, gave the same address in another
        // case: her conversations find each other; someone else's address finds nothing.
        let again = store.create_customer(&name("Ann W"), "hash-a2", 6_000).await.unwrap();
        let same = VisitFacts {
            email: Some(Email::parse("ANN@example.ORG").unwrap()),
            ..VisitFacts::default()
        };
        store.record_visit(again.customer, &same, None, 6_000).await.unwrap();
        let bob = store.create_customer(&name("Bob"), "hash-b", 6_000).await.unwrap();
        let other = VisitFacts {
            email: Some(Email::parse("bob@example.org").unwrap()),
            ..VisitFacts::default()
        };
        store.record_visit(bob.customer, &other, None, 6_000).await.unwrap();
        let email = Email::parse("ann@example.org").unwrap();
        let found = store.same_email(ann.customer, &email, 20).await.unwrap();
        let ids: Vec<ConversationId> = found.iter().map(|(m, _)| m.id).collect();
        assert_eq!(ids, vec![again.id], "{label}");
        let back = store.same_email(again.customer, &email, 20).await.unwrap();
        assert_eq!(back.iter().map(|(m, _)| m.id).collect::<Vec<_>>(), vec![ann.id], "{label}");

        // A host site's user: their id on the site.
        let vouched = store
            .create_customers(
                &[NewCustomer {
                    name: name("Lin"),
                    token_hash: "hash-l".into(),
                    external: Some("shop-7".into()),
                }],
                7_000,
            )
            .await
            .unwrap()
            .pop()
            .flatten()
            .unwrap();
        assert_eq!(
            store.profile(vouched.customer).await.unwrap().user_id.as_deref(),
            Some("shop-7"),
            "{label}"
        );
    }
}

#[tokio::test]
async fn a_new_customers_visit_is_stored_with_them_and_goes_with_them() {
    use app::protocol::{Email, ProfileChange, VisitFacts};
    for (label, store, _dir) in backends().await {
        let old = 1_000;
        let cutoff = old + 7 * DAY;
        let ids = store.reserve_ids(2).await.unwrap();
        let visit = |at: &str| VisitFacts {
            email: Some(Email::parse(at).unwrap()),
            language: Some("en-GB".into()),
            ..VisitFacts::default()
        };
        // Numbered at login with what her browser said; stored (an agent greeted her, say)
        // with it.
        let mut greeted = unsaved(ids[0], "greeted", "hash-g", old);
        greeted.status = Status::Resolved;
        greeted.version = 2;
        greeted.unsaved.as_mut().unwrap().visit = Some(Box::new(visit("g@example.com")));
        store.save_customer(&greeted, old).await.unwrap();
        let stored = store.profile(greeted.customer).await.unwrap();
        assert_eq!(stored.email.as_ref().map(Email::as_str), Some("g@example.com"), "{label}");
        assert_eq!(stored.language.as_deref(), Some("en-GB"), "{label}");
        assert_eq!(stored.first_seen, Some(old), "{label}");
        // One an agent noted something on is kept, however silent.
        let mut noted = unsaved(ids[1], "noted", "hash-n", old);
        noted.status = Status::Resolved;
        noted.version = 2;
        store.save_customer(&noted, old).await.unwrap();
        let note = ProfileChange { email: None, note: Some(Some("Calls back on Mondays".into())) };
        store.change_profile(noted.customer, &note, &name("amy"), old).await.unwrap();

        let silent = store.silent_anonymous(cutoff, CustomerId(0), 100).await.unwrap();
        assert_eq!(silent, vec![(greeted.customer, greeted.id)], "{label}");
        let both = [greeted.customer, noted.customer];
        assert_eq!(store.delete_silent_anonymous(&both, cutoff).await.unwrap(), 1, "{label}");
        // Her profile went with her.
        assert_eq!(
            store.profile(greeted.customer).await.unwrap(),
            ProfileRecord::default(),
            "{label}"
        );
        assert!(store.profile(noted.customer).await.unwrap().note.is_some(), "{label}");
    }
}

#[tokio::test]
async fn a_rating_is_kept_once_per_resolution_and_the_desk_settings_persist() {
    use app::protocol::{DeskSettings, Rating};
    for (label, store, _dir) in backends().await {
        let ann = store.create_customer(&name("Ann"), "hash-a", 1_000).await.unwrap();
        let rating = |seq, score, comment: Option<&str>| Rating {
            conversation: ann.id,
            seq,
            score,
            comment: comment.map(str::to_owned),
            ts: 2_000 + seq,
        };
        store.add_rating(&rating(3, 5, Some("Quick and kind"))).await.unwrap();
        // The same resolution again: refused, the first one stays.
        assert!(
            matches!(store.add_rating(&rating(3, 1, None)).await, Err(StoreError::Duplicate(_))),
            "{label}"
        );
        // A later resolution (she wrote again) is rated afresh.
        store.add_rating(&rating(7, 2, None)).await.unwrap();
        assert_eq!(
            store.ratings(ann.id, 20).await.unwrap(),
            vec![rating(3, 5, Some("Quick and kind")), rating(7, 2, None)],
            "{label}"
        );
        assert_eq!(store.ratings(ann.id, 1).await.unwrap(), vec![rating(7, 2, None)], "{label}");
        // Her ratings are hers to keep: never written, she is not forgotten as a silent
        // customer (someone else who never wrote is).
        let quiet = store.create_customer(&name("Quiet"), "hash-q", 1_000).await.unwrap();
        let silent = store.silent_anonymous(10 * DAY, CustomerId(0), 100).await.unwrap();
        assert_eq!(silent, vec![(quiet.customer, quiet.id)], "{label}");
        // A conversation that does not exist has nothing to rate.
        let nowhere = Rating { conversation: ConversationId(999_999), ..rating(1, 3, None) };
        assert!(
            matches!(store.add_rating(&nowhere).await, Err(StoreError::NotFound(_))),
            "{label}"
        );

        // Ratings are asked for until an admin says otherwise, and that is kept.
        assert_eq!(store.desk_settings().await.unwrap(), DeskSettings { csat: true }, "{label}");
        store.set_desk_settings(DeskSettings { csat: false }).await.unwrap();
        assert_eq!(store.desk_settings().await.unwrap(), DeskSettings { csat: false }, "{label}");
        store.set_desk_settings(DeskSettings { csat: true }).await.unwrap();
        assert_eq!(store.desk_settings().await.unwrap(), DeskSettings { csat: true }, "{label}");
    }
}

/// The nearest-rank percentile `p` (in percent) of `times`, as the reports define it.
fn nearest_rank(times: &[u64], p: u64) -> Option<u64> {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let n = sorted.len() as u64;
    (n > 0).then(|| sorted[((n * p).div_ceil(100) - 1) as usize])
}

#[tokio::test]
async fn a_reports_figures_are_those_of_a_generated_desk() {
    // Ten customers over three days: customer i writes on day i % 3, waits i s in the queue,
    // is answered after 10·i s by Amy (even i) or Bob (odd i), and resolved after i minutes
    // unless i is a multiple of 5, then rates the resolution (i % 5) + 1. Customer 3 writes
    // again after her resolution (a second conversation, answered by Amy), customer 10
    // started the day before the period, and a message after the period is not counted.
    const BASE: u64 = 100 * DAY;
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("Amy"), "h", false).await.unwrap();
        store.add_agent(&name("Bob"), "h", false).await.unwrap();
        let agent = |i: u64| {
            let n = if i.is_multiple_of(2) { "Amy" } else { "Bob" };
            Assignee { key: AgentKey::of(&name(n)), name: name(n) }
        };
        let mut version = 0;
        let mut change = |meta: &mut ConversationMeta, status, assignee: Option<Assignee>| {
            version += 1;
            meta.status = status;
            meta.assignee = assignee;
            meta.version = version;
        };
        let (mut first, mut resolution, mut waits) = (vec![], vec![], vec![]);
        let (mut started, mut resolved) = ([0u64; 3], [0u64; 3]);
        for i in 1..=10u64 {
            let mut meta =
                store.create_customer(&name(&format!("c{i}")), &format!("t{i}"), 1).await.unwrap();
            let t0 = if i == 10 { BASE - DAY / 2 } else { BASE + (i % 3) * DAY + i * 1000 };
            let who = agent(i);
            append(&*store, message(&meta, Identity::Customer(meta.customer), "hello", None, t0))
                .await;
            change(&mut meta, Status::Queued, None);
            store.set_state(&meta, t0).await.unwrap();
            change(&mut meta, Status::Open, Some(who.clone()));
            store.set_state(&meta, t0 + i * 1000).await.unwrap();
            let reply =
                message(&meta, Identity::Agent(who.key.clone()), "hi", None, t0 + i * 10_000);
            append(&*store, reply).await;
            if i != 10 {
                started[(i % 3) as usize] += 1;
                waits.push(i * 1000);
                first.push((who.key.clone(), i * 10_000));
            }
            if !i.is_multiple_of(5) {
                meta.last_seq = 2;
                change(&mut meta, Status::Resolved, Some(who.clone()));
                store.set_state(&meta, t0 + i * 60_000).await.unwrap();
                resolution.push((who.key.clone(), i * 60_000));
                resolved[(i % 3) as usize] += 1;
                let rating = app::protocol::Rating {
                    conversation: meta.id,
                    seq: 2,
                    score: (i % 5 + 1) as u8,
                    comment: None,
                    ts: t0 + i * 60_000 + 1000,
                };
                store.add_rating(&rating).await.unwrap();
            }
            if i == 3 {
                // Back the next day: a second conversation, straight to Amy, answered in 5 s.
                let t1 = t0 + DAY;
                append(
                    &*store,
                    message(&meta, Identity::Customer(meta.customer), "again", None, t1),
                )
                .await;
                change(&mut meta, Status::Open, Some(agent(2)));
                store.set_state(&meta, t1).await.unwrap();
                let reply = message(&meta, Identity::Agent(agent(2).key), "yes?", None, t1 + 5000);
                append(&*store, reply).await;
                started[1] += 1;
                first.push((agent(2).key, 5000));
            }
        }
        let last = store.create_customer(&name("late"), "tl", 1).await.unwrap();
        append(
            &*store,
            message(&last, Identity::Customer(last.customer), "late", None, BASE + 3 * DAY),
        )
        .await;

        let rows = store.report(BASE, BASE + 3 * DAY, 0).await.unwrap();
        let day0 = (BASE / DAY) as i64;
        let mut got_started = rows.started.clone();
        got_started.sort();
        let want_started: Vec<(i64, u64)> =
            (0..3).filter(|d| started[*d] > 0).map(|d| (day0 + d as i64, started[d])).collect();
        assert_eq!(got_started, want_started, "{label}: conversations started per day");
        let mut by_day = std::collections::BTreeMap::new();
        for (d, _, n) in &rows.resolved {
            *by_day.entry(*d).or_insert(0) += n;
        }
        let want: std::collections::BTreeMap<i64, u64> =
            (0..3).map(|d| (day0 + d as i64, resolved[d])).filter(|(_, n)| *n > 0).collect();
        assert_eq!(by_day, want, "{label}: resolutions per day");
        // Customers wrote 10 times in the period (nine first messages and one "again"; the
        // day-before one and the late one are outside), agents 10 times (nine answers and
        // Amy's "yes?"; customer 10's answer came before the period).
        let customers: u64 = rows.messages.iter().filter(|m| m.1.is_empty()).map(|m| m.2).sum();
        let agents: u64 = rows.messages.iter().filter(|m| !m.1.is_empty()).map(|m| m.2).sum();
        assert_eq!((customers, agents), (10, 10), "{label}: messages");

        let time = |metric: &str, grp: &str| {
            rows.times
                .iter()
                .find(|t| t.0 == metric && t.1 == grp)
                .map(|t| (t.2, t.3, t.4))
                .unwrap_or((0, None, None))
        };
        let expect = |times: Vec<u64>| {
            (times.len() as u64, nearest_rank(&times, 50), nearest_rank(&times, 90))
        };
        let of = |list: &[(AgentKey, u64)], who: Option<&str>| {
            list.iter()
                .filter(|(k, _)| who.is_none_or(|w| k.as_str() == w))
                .map(|(_, t)| *t)
                .collect::<Vec<_>>()
        };
        assert_eq!(time("first_response", ""), expect(of(&first, None)), "{label}");
        assert_eq!(time("first_response", "amy"), expect(of(&first, Some("amy"))), "{label}");
        assert_eq!(time("first_response", "bob"), expect(of(&first, Some("bob"))), "{label}");
        assert_eq!(time("resolution", ""), expect(of(&resolution, None)), "{label}");
        assert_eq!(time("resolution", "bob"), expect(of(&resolution, Some("bob"))), "{label}");
        assert_eq!(time("queue_wait", ""), expect(waits.clone()), "{label}");
        // Worked out by hand for the desk: first responses 5, 10, …, 90 s: the median is
        // the 5th of 10 (40 s), the 90th percentile the 9th (80 s); 8 resolutions of
        // 1, 2, 3, 4, 6, 7, 8, 9 minutes: the 4th (4 min) and the 8th (9 min).
        assert_eq!(time("first_response", ""), (10, Some(40_000), Some(80_000)), "{label}");
        assert_eq!(time("resolution", ""), (8, Some(240_000), Some(540_000)), "{label}");

        let mut ratings = rows.ratings.clone();
        ratings.sort();
        // Amy resolved 2, 4, 6, 8 (scores 3, 5, 2, 4); Bob 1, 3, 7, 9 (2, 4, 3, 5).
        assert_eq!(
            ratings,
            vec![("amy".to_owned(), 4, 14, 2), ("bob".to_owned(), 4, 14, 2)],
            "{label}: ratings by who resolved"
        );
    }
}

#[tokio::test]
async fn api_tokens_are_found_by_their_hash_until_revoked_and_their_use_is_kept_by_the_minute() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("boss"), "hash-b", true).await.unwrap();
        let made =
            store.add_api_token("CRM", "hash-crm", true, &name("boss"), 1_000).await.unwrap();
        let bot =
            store.add_api_token("Bot", "hash-bot", false, &name("boss"), 2_000).await.unwrap();
        assert_ne!(made.id, bot.id, "{label}");
        assert_eq!((made.last_used_at, made.write), (None, true), "{label}");
        let listed = store.api_tokens().await.unwrap();
        assert_eq!(listed, vec![made.clone(), bot.clone()], "{label}");

        let used = store.use_api_token("hash-crm", 10_000).await.unwrap().expect("found");
        assert_eq!((used.id, used.last_used_at), (made.id, Some(10_000)), "{label}");
        // Within the minute, not written again; after it, written.
        store.use_api_token("hash-crm", 30_000).await.unwrap().unwrap();
        assert_eq!(store.api_tokens().await.unwrap()[0].last_used_at, Some(10_000), "{label}");
        store.use_api_token("hash-crm", 70_000).await.unwrap().unwrap();
        assert_eq!(store.api_tokens().await.unwrap()[0].last_used_at, Some(70_000), "{label}");
        assert_eq!(store.use_api_token("hash-nope", 1).await.unwrap(), None, "{label}");

        store.revoke_api_token(made.id).await.unwrap();
        assert_eq!(store.use_api_token("hash-crm", 80_000).await.unwrap(), None, "{label}");
        assert!(matches!(store.revoke_api_token(made.id).await, Err(StoreError::NotFound(_))));
        assert_eq!(store.api_tokens().await.unwrap(), vec![bot], "{label}");
    }
}

#[tokio::test]
async fn an_events_deliveries_are_written_with_it_claimed_once_and_kept_with_their_attempts() {
    for (label, store, _dir) in backends().await {
        store.add_agent(&name("boss"), "hash-b", true).await.unwrap();
        let ann = store.create_customer(&name("Ann"), "hash-a", 1_000).await.unwrap();
        // No webhook: nothing is written.
        append(&*store, message(&ann, Identity::Customer(ann.customer), "before", None, 1_500))
            .await;
        let all = ",conversation.created,message.created,conversation.resolved,rating.given,";
        let hook = store
            .add_webhook("http://127.0.0.1:9/a", all, "s1", &name("boss"), 1_600)
            .await
            .unwrap();
        let only = ",conversation.resolved,";
        store.add_webhook("http://127.0.0.1:9/b", only, "s2", &name("boss"), 1_600).await.unwrap();
        let bob = store.create_customer(&name("Bob"), "hash-b", 1_000).await.unwrap();
        // Bob's first message (the conversation's first: created, then the message), a copy
        // of it (nothing), Ann's second.
        let first = message(&bob, Identity::Customer(bob.customer), "hello", Some("c1"), 2_000);
        store
            .append(&[
                first.clone(),
                message(&ann, Identity::Customer(ann.customer), "again", None, 2_001),
            ])
            .await
            .unwrap();
        store.append(&[first]).await.unwrap();
        let mut resolved = bob.clone();
        resolved.status = Status::Resolved;
        resolved.version = 5;
        resolved.last_seq = 1;
        store.set_state(&resolved, 3_000).await.unwrap();
        // The same state again is no new resolution.
        store.set_state(&resolved, 3_001).await.unwrap();
        let rating = app::protocol::Rating {
            conversation: bob.id,
            seq: 1,
            score: 4,
            comment: None,
            ts: 4_000,
        };
        store.add_rating(&rating).await.unwrap();

        // Webhook a has its share under way: only b's delivery is claimed.
        let busy = std::collections::HashMap::from([(hook.id, 2)]);
        let b = store.due_deliveries(10_000, 70_000, 100, &busy, 2).await.unwrap();
        let seen: Vec<(&str, &str)> =
            b.iter().map(|d| (d.url.as_str(), d.event.as_str())).collect();
        assert_eq!(seen, vec![("http://127.0.0.1:9/b", "conversation.resolved")], "{label}");
        let none = std::collections::HashMap::new();
        let two = store.due_deliveries(10_000, 70_000, 100, &none, 2).await.unwrap();
        assert_eq!(two.len(), 2, "{label}: two for a at most");
        let rest = store.due_deliveries(10_000, 70_000, 100, &none, 100).await.unwrap();
        let due: Vec<Due> = two.into_iter().chain(rest).collect();
        let seen: Vec<(&str, &str)> =
            due.iter().map(|d| (d.url.as_str(), d.event.as_str())).collect();
        assert_eq!(
            seen,
            vec![
                ("http://127.0.0.1:9/a", "conversation.created"),
                ("http://127.0.0.1:9/a", "message.created"),
                ("http://127.0.0.1:9/a", "message.created"),
                ("http://127.0.0.1:9/a", "conversation.resolved"),
                ("http://127.0.0.1:9/a", "rating.given"),
            ],
            "{label}"
        );
        let body: serde_json::Value = serde_json::from_str(&due[0].body).unwrap();
        assert_eq!(body["data"]["conversation"]["customer"]["name"], "Bob", "{label}");
        assert_eq!(body["created_at"], 2_000, "{label}");
        assert_eq!(
            (due[0].secret.as_str(), due[0].attempts, due[0].created_at),
            ("s1", 0, 2_000),
            "{label}"
        );
        // Claimed: not due again until the claim lapses.
        assert!(
            store.due_deliveries(10_000, 70_000, 100, &none, 100).await.unwrap().is_empty(),
            "{label}"
        );
        let failed = Attempt {
            at: 11_000,
            status: Some(500),
            error: Some("HTTP 500".into()),
            next_at: Some(21_000),
        };
        store.attempted(&due[0], &failed).await.unwrap();
        let delivered = Attempt { at: 11_000, status: Some(204), error: None, next_at: None };
        for d in due[1..].iter().chain(&b) {
            store.attempted(d, &delivered).await.unwrap();
        }
        // A claim that lapsed (another node has it now): what came of it is not written.
        let lapsed = Due { claimed_until: 1, ..due[1].clone() };
        store.attempted(&lapsed, &failed).await.unwrap();
        let again = store.due_deliveries(21_000, 81_000, 100, &none, 100).await.unwrap();
        assert_eq!(
            again.iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>(),
            vec![(due[0].id, 1)],
            "{label}"
        );

        let listed = store.webhooks(3).await.unwrap();
        assert_eq!(listed.len(), 2, "{label}");
        assert_eq!(listed[0].id, hook.id, "{label}");
        assert_eq!(listed[0].deliveries.len(), 3, "{label}: the latest three");
        assert_eq!(listed[0].deliveries[0].event, "rating.given", "{label}");
        assert_eq!(listed[1].events, vec!["conversation.resolved".to_owned()], "{label}");
        let first = store.webhooks(10).await.unwrap()[0].deliveries.last().cloned().unwrap();
        assert_eq!(
            (first.attempts, first.last_status, first.last_error.as_deref(), first.next_attempt_at),
            (1, Some(500), Some("HTTP 500"), Some(81_000)),
            "{label}: claimed again until 81000"
        );
        // Done ones before a time are forgotten; the one still being tried is kept.
        assert_eq!(store.prune_deliveries(100_000).await.unwrap(), 5, "{label}");
        store.remove_webhook(hook.id).await.unwrap();
        assert!(
            matches!(store.remove_webhook(hook.id).await, Err(StoreError::NotFound(_))),
            "{label}"
        );
        assert_eq!(store.webhooks(10).await.unwrap().len(), 1, "{label}");
    }
}

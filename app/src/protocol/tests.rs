use super::*;
use serde_json::json;

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(UserName::parse("  ada ").unwrap().as_str(), "ada");
    assert_eq!(UserName::parse("   "), Err(Problem::NameEmpty));
    assert_eq!(UserName::parse(&"é".repeat(32)).unwrap().as_str().chars().count(), 32);
    assert_eq!(UserName::parse(&"é".repeat(33)), Err(Problem::NameTooLong));
    assert_eq!(UserName::parse("a\u{0}b"), Err(Problem::NameControlChars));
    assert_eq!(UserName::parse("a\nb"), Err(Problem::NameControlChars));
    assert_eq!(UserName::parse("李雷").unwrap().as_str(), "李雷");
}

#[test]
fn message_text_is_trimmed_and_bounded() {
    assert_eq!(MessageText::parse(" hi \n").unwrap().as_str(), "hi");
    assert_eq!(MessageText::parse(" \n\t"), Err(Problem::MessageEmpty));
    assert!(MessageText::parse(&"x".repeat(4000)).is_ok());
    assert_eq!(MessageText::parse(&"x".repeat(4001)), Err(Problem::MessageTooLong));
}

#[test]
fn login_accepts_the_tutorial_bare_string_and_the_object_form() {
    let intent = |v: serde_json::Value| {
        serde_json::from_value::<LoginPayload>(v)
            .map_err(|e| e.to_string())?
            .into_intent()
            .map_err(|p| p.to_string())
    };
    let bare = intent(json!("bob")).unwrap();
    assert_eq!(
        (bare.name.unwrap().as_str(), bare.role, bare.password),
        ("bob", Role::Customer, None)
    );

    let full = intent(json!({"name": "ann", "role": "agent", "password": "pw"})).unwrap();
    assert_eq!(
        (full.name.unwrap().as_str(), full.role, full.password.as_deref()),
        ("ann", Role::Agent, Some("pw"))
    );
    assert_eq!(intent(json!({"name": "cy"})).unwrap().role, Role::Customer);

    // A resume needs no name; a name given with it is still checked.
    let resume =
        intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9}]})).unwrap();
    assert_eq!((resume.name, resume.resume.as_deref()), (None, Some("tok")));
    assert_eq!(
        resume.since,
        vec![Cursor { conversation: ConversationId(3), seq: 9, held: vec![] }]
    );
    // What a client holds after a gap; nothing at or below the cursor, and not without end.
    let gap = intent(
        json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": [11, 12]}]}),
    )
    .unwrap();
    assert_eq!(gap.since[0].held, vec![11, 12]);
    let malformed = Err(Problem::Malformed(LOGIN.into()).to_string());
    assert_eq!(
        intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": [9]}]})),
        malformed
    );
    assert_eq!(
        intent(
            json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": [12, 11]}]})
        ),
        malformed
    );
    let endless: Vec<u64> = (11..11 + CURSOR_HELD_MAX as u64 + 1).collect();
    assert_eq!(
        intent(json!({"resume": "tok", "since": [{"conversation": 3, "seq": 9, "held": endless}]})),
        malformed
    );
    assert_eq!(
        intent(json!({"resume": "tok", "name": "x".repeat(40)})),
        Err(Problem::NameTooLong.to_string())
    );

    assert!(intent(json!(42)).is_err());
    assert_eq!(intent(json!({"role": "agent"})), Err(Problem::NameEmpty.to_string()));
    assert_eq!(intent(json!({"resume": "", "name": ""})), Err(Problem::NameEmpty.to_string()));
    assert!(intent(json!({"name": "x", "role": "admin"})).is_err());
}

#[test]
fn merged_presence_changes_do_what_the_changes_do_one_by_one() {
    let n = |s: &str| UserName::parse(s).unwrap();
    let on = |s: &str| Presence { online: vec![n(s)], offline: vec![] };
    let off = |s: &str| Presence { online: vec![], offline: vec![n(s)] };
    let start = vec![n("amy"), n("Bob"), n("cat")];
    let cases = [
        vec![on("dan"), on("eve"), off("Bob")],
        vec![off("amy"), on("amy")],
        vec![on("zed"), off("zed")],
        vec![on("ann"), off("ann"), on("ann"), on("ann")],
        vec![off("nobody"), on("Bob")],
        vec![],
    ];
    for changes in cases {
        let mut one_by_one = start.clone();
        for change in &changes {
            change.apply_to(&mut one_by_one);
        }
        let mut at_once = start.clone();
        Presence::merged(changes.clone()).apply_to(&mut at_once);
        assert_eq!(at_once, one_by_one, "{changes:?}");
    }
    assert_eq!(
        Presence::merged([on("a"), on("b"), off("c")]),
        Presence { online: vec![n("a"), n("b")], offline: vec![n("c")] }
    );
}

#[test]
fn client_ids_are_short_plain_ascii() {
    assert!(ClientMsgId::parse("c-1700000000000-abc_1.2:3").is_ok());
    assert_eq!(ClientMsgId::parse(""), Err(Problem::BadClientId));
    assert_eq!(ClientMsgId::parse(&"a".repeat(65)), Err(Problem::BadClientId));
    assert_eq!(ClientMsgId::parse("a b"), Err(Problem::BadClientId));
    assert_eq!(ClientMsgId::parse("é"), Err(Problem::BadClientId));
    let bad = serde_json::from_value::<PrivateMessage>(
        json!({"to": "a", "message": "m", "client_id": "no spaces"}),
    );
    assert!(bad.is_err());
    let tutorial =
        serde_json::from_value::<PrivateMessage>(json!({"to": "a", "message": "m"})).unwrap();
    assert_eq!((tutorial.client_id, tutorial.conversation), (None, None));
}

#[test]
fn message_payload_keeps_the_tutorial_field_names() {
    let m = ChatMessage {
        id: MessageId(7),
        conversation: ConversationId(2),
        seq: 5,
        from: UserName::parse("a").unwrap(),
        to: Some(UserName::parse("b").unwrap()),
        customer: UserName::parse("a").unwrap(),
        message: "hi".into(),
        is_self: true,
        ts: 1,
        client_id: None,
        attachments: vec![],
    };
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"id": 7, "conversation": 2, "seq": 5, "from": "a", "to": "b", "customer": "a", "message": "hi", "self": true, "ts": 1})
    );
}

fn name(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

fn screenshot() -> Attachment {
    Attachment {
        id: AttachmentId::parse("0123456789abcdef0123456789abcdef").unwrap(),
        name: "screen.png".into(),
        mime: "image/png".into(),
        size: 1234,
        image: Some(Size { width: 800, height: 400 }),
        thumb: Some(Size { width: 320, height: 160 }),
    }
}

#[test]
fn a_message_with_files_ends_with_a_link_to_each_and_our_clients_read_the_text_alone() {
    let pdf = Attachment {
        id: AttachmentId::parse("ffffffffffffffffffffffffffffffff").unwrap(),
        name: "guide.pdf".into(),
        mime: "application/pdf".into(),
        size: 10,
        image: None,
        thumb: None,
    };
    let files = vec![screenshot(), pdf];
    let text = with_links("look\nhere", &files);
    assert_eq!(
        text,
        "look\nhere\n[screen.png] /attachments/0123456789abcdef0123456789abcdef\n[guide.pdf] /attachments/ffffffffffffffffffffffffffffffff"
    );
    assert_eq!(without_links(&text, &files), "look\nhere");
    assert_eq!(without_links(&with_links("", &files), &files), "");
    assert_eq!(without_links("no links", &files), "no links", "text not made here stays whole");
    assert_eq!(with_links("plain", &[]), "plain");
    assert_eq!(
        screenshot().thumb_url().as_deref(),
        Some("/attachments/0123456789abcdef0123456789abcdef/thumb")
    );
    assert_eq!(files[1].thumb_url(), None);
}

#[test]
fn file_names_lose_paths_and_control_characters_and_ids_are_hex() {
    assert_eq!(file_name("C:\\Users\\me\\shot.png"), "shot.png");
    assert_eq!(file_name("../../etc/passwd"), "passwd");
    assert_eq!(file_name("a\u{202e}gnp.exe\n"), "agnp.exe");
    assert_eq!(file_name("  "), "file");
    assert_eq!(file_name(".."), "file");
    assert_eq!(file_name(&"x".repeat(500)).chars().count(), ATTACHMENT_NAME_MAX_CHARS);
    assert_eq!(file_name("截图 1.png"), "截图 1.png");
    assert!(AttachmentId::parse("0123456789abcdef0123456789abcdef").is_ok());
    for bad in ["", "0123456789ABCDEF0123456789ABCDEF", "../0123456789abcdef0123456789ab", "0123"] {
        assert_eq!(AttachmentId::parse(bad), Err(Problem::UnknownAttachment), "{bad:?}");
    }
    let refused: Result<PrivateMessage, _> =
        serde_json::from_value(json!({"message": "m", "attachments": ["../x"]}));
    assert!(refused.is_err(), "an id that is not one does not even parse");
}

/// One event of each kind the server sends. The `match` names every variant, so a new event
/// does not compile here until it has a sample.
fn server_samples() -> Vec<ServerEvent> {
    let message = ChatMessage {
        id: MessageId(7),
        conversation: ConversationId(2),
        seq: 5,
        from: name("a"),
        to: Some(name("b")),
        customer: name("a"),
        message: "hi".into(),
        is_self: false,
        ts: 1,
        client_id: Some(ClientMsgId::parse("c-1").unwrap()),
        attachments: vec![screenshot()],
    };
    let note = Note {
        id: 3,
        conversation: ConversationId(2),
        from: name("ann"),
        text: "vip".into(),
        ts: 9,
    };
    let samples = vec![
        ServerEvent::LoginSuccess(LoginSuccess {
            name: name("a"),
            role: Role::Agent,
            resume: Some("t".into()),
            conversation: Some(ConversationId(4)),
            admin: true,
            away_after_ms: Some(60_000),
            status: Some(AgentStatus::Busy),
            attachment_max_bytes: Some(10 * 1024 * 1024),
            reply_time_ms: None,
        }),
        ServerEvent::LoginError(Problem::NameTaken.into()),
        ServerEvent::UserList(vec![name("a"), name("b")]),
        ServerEvent::Message(message.clone()),
        ServerEvent::Error(Problem::SlowDown(3).into()),
        ServerEvent::History(History {
            conversation: ConversationId(2),
            customer: name("a"),
            messages: vec![message],
            more: true,
            notes: vec![note.clone()],
            ratings: vec![Rating {
                conversation: ConversationId(2),
                seq: 3,
                score: 4,
                comment: Some("快".into()),
                ts: 9,
            }],
            read: 4,
            newer: false,
        }),
        ServerEvent::Conversation(ConversationSummary {
            id: ConversationId(2),
            customer: name("a"),
            status: Status::Open,
            assignee: Some(name("ann")),
            note: Some("from bob".into()),
            unread: 2,
        }),
        ServerEvent::ConversationGone(ConversationRef { conversation: ConversationId(2) }),
        ServerEvent::Typing(Typing { conversation: ConversationId(2), from: name("a") }),
        ServerEvent::Note(note),
        ServerEvent::Read(ReadUpTo { conversation: ConversationId(2), seq: 5 }),
        ServerEvent::Canned(vec![CannedReply { shortcut: "hi".into(), text: "Hello!".into() }]),
        ServerEvent::Away(vec![name("ann")]),
        ServerEvent::Busy(vec![name("bo")]),
        ServerEvent::Status(StatusRequest { status: AgentStatus::Away }),
        ServerEvent::Agents(vec![AgentInfo { name: name("ann"), admin: true }]),
        ServerEvent::Presence(Presence { online: vec![name("b")], offline: vec![name("c")] }),
        ServerEvent::Office(OfficeStatus { open: false, hours: "Mon-Fri 09:00-17:00".into() }),
        ServerEvent::SearchResults(SearchResults {
            query: "退款".into(),
            before: Some(MessageId(90)),
            conversations: vec![FoundConversation {
                conversation: ConversationId(2),
                customer: name("a"),
                status: Status::Resolved,
                assignee: None,
                ts: 5,
                by: FoundBy::UserId,
                snippet: Snippet { text: "u-1".into(), marks: vec![(0, 3)], ..Snippet::default() },
            }],
            messages: vec![FoundMessage {
                id: MessageId(7),
                conversation: ConversationId(2),
                seq: 5,
                customer: name("a"),
                status: Status::Open,
                assignee: Some(name("ann")),
                from: name("a"),
                ts: 1,
                snippet: Snippet {
                    text: "我要退款".into(),
                    marks: vec![(2, 4)],
                    cut_before: true,
                    cut_after: false,
                },
            }],
            next: Some(MessageId(7)),
        }),
        ServerEvent::ConversationsPage(ConversationsPage {
            conversations: vec![ConversationSummary {
                id: ConversationId(9),
                customer: name("a"),
                status: Status::Resolved,
                assignee: None,
                note: None,
                unread: 0,
            }],
            next: Some(ConversationsCursor { active: 5, id: ConversationId(9) }),
        }),
        ServerEvent::Profile(Box::new(CustomerProfile {
            conversation: ConversationId(9),
            customer: name("王小明"),
            email: Some(Email::parse("wang@example.cn").unwrap()),
            user_id: Some("shop-7".into()),
            attributes: [("plan".to_owned(), "pro".to_owned())].into(),
            page: Some("https://shop.example/cart".into()),
            language: Some("zh-CN".into()),
            time_zone: Some("Asia/Shanghai".into()),
            first_seen: Some(1),
            note: Some(CustomerNote { text: "VIP".into(), by: name("ann"), ts: 2 }),
            others: vec![OtherConversation {
                summary: ConversationSummary {
                    id: ConversationId(3),
                    customer: name("Wang"),
                    status: Status::Resolved,
                    assignee: None,
                    note: None,
                    unread: 0,
                },
                ts: 3,
            }],
        })),
        ServerEvent::Resolved(ResolvedAt { conversation: ConversationId(9), seq: 4 }),
        ServerEvent::Rating(Rating {
            conversation: ConversationId(9),
            seq: 4,
            score: 5,
            comment: None,
            ts: 10,
        }),
        ServerEvent::DeskSettings(DeskSettings { csat: false }),
    ];
    for event in &samples {
        match event {
            ServerEvent::LoginSuccess(_)
            | ServerEvent::LoginError(_)
            | ServerEvent::UserList(_)
            | ServerEvent::Message(_)
            | ServerEvent::Error(_)
            | ServerEvent::History(_)
            | ServerEvent::Conversation(_)
            | ServerEvent::ConversationGone(_)
            | ServerEvent::Typing(_)
            | ServerEvent::Note(_)
            | ServerEvent::Read(_)
            | ServerEvent::Canned(_)
            | ServerEvent::Away(_)
            | ServerEvent::Busy(_)
            | ServerEvent::Status(_)
            | ServerEvent::Agents(_)
            | ServerEvent::Presence(_)
            | ServerEvent::Office(_)
            | ServerEvent::SearchResults(_)
            | ServerEvent::ConversationsPage(_)
            | ServerEvent::Profile(_)
            | ServerEvent::Resolved(_)
            | ServerEvent::Rating(_)
            | ServerEvent::DeskSettings(_) => {}
        }
    }
    samples
}

/// One event of each kind a client sends (the `match` as above).
fn client_samples() -> Vec<ClientEvent> {
    let samples = vec![
        ClientEvent::Login(LoginPayload::Bare("bob".into())),
        ClientEvent::Login(LoginPayload::Full(LoginRequest {
            name: "ann".into(),
            role: Role::Agent,
            password: Some("secret-pw".into()),
            ..LoginRequest::default()
        })),
        ClientEvent::Login(LoginPayload::Full(LoginRequest {
            name: "ann".into(),
            role: Role::Agent,
            status: Some(AgentStatus::Busy),
            ..LoginRequest::default()
        })),
        ClientEvent::PrivateMessage(PrivateMessage {
            to: "ann".into(),
            message: "hello".into(),
            client_id: Some(ClientMsgId::parse("c-2").unwrap()),
            conversation: Some(ConversationId(2)),
            attachments: vec![screenshot().id],
        }),
        ClientEvent::History(HistoryRequest {
            conversation: ConversationId(2),
            before: Some(40),
            after: None,
        }),
        ClientEvent::History(HistoryRequest {
            conversation: ConversationId(2),
            before: None,
            after: Some(400),
        }),
        ClientEvent::Logout,
        ClientEvent::Take(ConversationRef { conversation: ConversationId(2) }),
        ClientEvent::Resolve(ConversationRef { conversation: ConversationId(3) }),
        ClientEvent::Transfer(Transfer {
            conversation: ConversationId(2),
            to: "bo".into(),
            note: "billing".into(),
        }),
        ClientEvent::Typing(TypingRequest { conversation: Some(ConversationId(2)) }),
        ClientEvent::Note(NoteRequest { conversation: ConversationId(2), text: "vip".into() }),
        ClientEvent::Read(ReadUpTo { conversation: ConversationId(2), seq: 5 }),
        ClientEvent::Away(AwayRequest { away: true }),
        ClientEvent::Status(StatusRequest { status: AgentStatus::Busy }),
        ClientEvent::AgentAdd(NewAgent {
            name: "cy".into(),
            password: "long-enough".into(),
            admin: false,
        }),
        ClientEvent::AgentRemove(AgentRef { name: "cy".into() }),
        ClientEvent::CannedSet(CannedReply { shortcut: "bye".into(), text: "Goodbye!".into() }),
        ClientEvent::CannedRemove(CannedRef { shortcut: "bye".into() }),
        ClientEvent::Search(SearchRequest { query: "refund".into(), before: None }),
        ClientEvent::Search(SearchRequest { query: "退款".into(), before: Some(MessageId(7)) }),
        ClientEvent::Conversations(ConversationsRequest::default()),
        ClientEvent::Conversations(ConversationsRequest {
            before: Some(ConversationsCursor { active: 5, id: ConversationId(9) }),
        }),
        ClientEvent::Profile(ConversationRef { conversation: ConversationId(9) }),
        ClientEvent::ProfileSet(ProfileUpdate {
            conversation: ConversationId(9),
            email: Some(String::new()),
            note: Some("VIP".into()),
        }),
        ClientEvent::Rate(RateRequest {
            conversation: ConversationId(9),
            seq: 4,
            score: 5,
            comment: Some("谢谢".into()),
        }),
        ClientEvent::DeskSettings(DeskSettings { csat: true }),
    ];
    for event in &samples {
        match event {
            ClientEvent::Login(_)
            | ClientEvent::PrivateMessage(_)
            | ClientEvent::History(_)
            | ClientEvent::Logout
            | ClientEvent::Take(_)
            | ClientEvent::Resolve(_)
            | ClientEvent::Transfer(_)
            | ClientEvent::Typing(_)
            | ClientEvent::Note(_)
            | ClientEvent::Read(_)
            | ClientEvent::Away(_)
            | ClientEvent::Status(_)
            | ClientEvent::AgentAdd(_)
            | ClientEvent::AgentRemove(_)
            | ClientEvent::CannedSet(_)
            | ClientEvent::CannedRemove(_)
            | ClientEvent::Search(_)
            | ClientEvent::Conversations(_)
            | ClientEvent::Profile(_)
            | ClientEvent::ProfileSet(_)
            | ClientEvent::Rate(_)
            | ClientEvent::DeskSettings(_) => {}
        }
    }
    samples
}

#[test]
fn every_server_event_round_trips_through_name_and_payload() {
    let samples = server_samples();
    let names: std::collections::BTreeSet<&str> = samples.iter().map(ServerEvent::name).collect();
    assert_eq!(names.len(), samples.len(), "one sample of each server event: {names:?}");
    for event in samples {
        let data = serde_json::to_value(&event).unwrap();
        assert_eq!(ServerEvent::decode(event.name(), data.clone()).unwrap(), event);
        // The agents-only list and its decoder agree: the customers' bundle decodes every
        // other event.
        #[cfg(feature = "console")]
        assert_eq!(
            ServerEvent::decode_agents(event.name(), data).is_ok(),
            event.agents_only(),
            "{}",
            event.name()
        );
    }
    // The tutorial's shapes: a bare array of names, a bare sentence.
    assert_eq!(serde_json::to_value(ServerEvent::UserList(vec![])).unwrap(), json!([]));
    assert_eq!(serde_json::to_value(ServerEvent::Error("nope".into())).unwrap(), json!("nope"));
    assert_eq!(
        ServerEvent::decode(ERROR, json!("nope")).unwrap(),
        ServerEvent::Error("nope".into())
    );
    assert!(ServerEvent::decode("bogus", json!(1)).is_err());
    assert!(ServerEvent::decode(MESSAGE, json!({"id": "x"})).is_err());
}

#[test]
fn every_client_event_round_trips_through_name_and_payload() {
    let samples = client_samples();
    let names: std::collections::BTreeSet<&str> = samples.iter().map(ClientEvent::name).collect();
    assert_eq!(
        names.len(),
        22,
        "one sample of each client event (three logins, two histories): {names:?}"
    );
    for event in samples {
        let data = serde_json::to_value(&event).unwrap();
        assert_eq!(ClientEvent::decode(event.name(), data).unwrap(), event);
    }
    assert_eq!(serde_json::to_value(ClientEvent::Logout).unwrap(), json!(null));
    assert_eq!(
        ClientEvent::decode(LOGIN, json!("bob")).unwrap(),
        ClientEvent::Login(LoginPayload::Bare("bob".into()))
    );
    assert!(ClientEvent::decode("bogus", json!(1)).is_err());
    assert!(ClientEvent::decode(TAKE, json!({"conversation": "two"})).is_err());
}

#[test]
fn every_acknowledgement_reads_back_as_what_was_sent() {
    let sent = SendAck::Sent {
        ok: true,
        id: MessageId(7),
        conversation: ConversationId(2),
        seq: 5,
        client_id: Some(ClientMsgId::parse("c-1").unwrap()),
    };
    for ack in [sent, SendAck::failed(Problem::NotSaved)] {
        assert_eq!(
            serde_json::from_value::<SendAck>(serde_json::to_value(&ack).unwrap()).unwrap(),
            ack
        );
    }
    for ack in [NoteAck::stored(3), NoteAck::failed(Problem::AgentsOnly)] {
        assert_eq!(
            serde_json::from_value::<NoteAck>(serde_json::to_value(&ack).unwrap()).unwrap(),
            ack
        );
    }
    for ack in [AdminAck::done(), AdminAck::failed(Problem::AdminsOnly)] {
        assert_eq!(
            serde_json::from_value::<AdminAck>(serde_json::to_value(&ack).unwrap()).unwrap(),
            ack
        );
    }
    // What clients read: `ok`, the English `error`, and the code.
    assert_eq!(serde_json::to_value(AdminAck::done()).unwrap(), json!({"ok": true}));
    assert_eq!(serde_json::to_value(NoteAck::stored(3)).unwrap(), json!({"ok": true, "id": 3}));
    assert_eq!(
        serde_json::to_value(AdminAck::failed(Problem::AdminsOnly)).unwrap(),
        json!({"ok": false, "error": Problem::AdminsOnly.to_string(), "problem": {"code": "admins_only"}})
    );
}

/// Issue 19: names that look like someone else's. The server takes every name in NFKC form
/// and refuses invisible characters (the browser leaves both to it).
#[cfg(feature = "ssr")]
#[test]
fn names_are_normalised_and_invisible_characters_refused() {
    let parsed = |raw: &str| UserName::parse(raw).map(|n| n.as_str().to_owned());
    assert_eq!(parsed("ｆｕｌｌ　ｗｉｄｔｈ"), Ok("full width".into()), "NFKC, then trimmed");
    assert_eq!(parsed("  ﬁona "), Ok("fiona".into()), "a ligature is two letters");
    assert_eq!(parsed("Zoë"), Ok("Zoë".into()));
    assert_eq!(parsed("李小龙"), Ok("李小龙".into()));
    assert_eq!(parsed("Amy   Lee"), Ok("Amy Lee".into()), "runs of spaces are one");
    for (raw, what) in [
        ("a\u{200B}my", "a zero-width space"),
        ("a\u{200D}my", "a zero-width joiner"),
        ("\u{202E}nimda", "a right-to-left override"),
        ("amy\u{2066}", "a directional isolate"),
        ("\u{FEFF}amy", "a byte-order mark"),
        ("am\u{00AD}y", "a soft hyphen"),
        ("amy\u{2800}", "a braille blank"),
        ("\u{3164}amy", "a Hangul filler"),
        ("amy\u{FE0F}", "a variation selector"),
        ("a\u{034F}my", "a combining grapheme joiner"),
    ] {
        assert_eq!(UserName::parse(raw), Err(Problem::NameInvisibleChars), "{what}");
    }
    assert_eq!(UserName::parse("a\u{7}b"), Err(Problem::NameControlChars));
    // Refused before it is normalised (NFKC grows some characters 18-fold).
    assert_eq!(UserName::parse(&"\u{FDFA}".repeat(100_000)), Err(Problem::NameTooLong));
}

#[test]
fn an_agent_status_is_named_on_the_wire_as_tag_says_and_nothing_else_is_one() {
    for status in AgentStatus::ALL {
        let json = serde_json::to_value(StatusRequest { status }).unwrap();
        assert_eq!(json, serde_json::json!({ "status": status.tag() }));
        assert_eq!(AgentStatus::from_tag(status.tag()), Some(status));
    }
    for bad in [
        serde_json::json!({ "status": "sleeping" }),
        serde_json::json!({ "status": "Busy" }),
        serde_json::json!({}),
    ] {
        assert!(ClientEvent::decode(STATUS, bad.clone()).is_err(), "{bad}");
    }
    assert_eq!(AgentStatus::from_tag("BUSY"), None);
}

//! Engine.IO v4 / Socket.IO v5 text frames, as they travel in one websocket message or,
//! several together, in one long-polling request.
//!
//! Owns: encoding and decoding of the frames the browser client needs (open, ping/pong,
//! close, noop, the upgrade probe, and the Socket.IO connect / disconnect / event / ack
//! packets of the default namespace), and the long-polling payload that carries several.
//! Binary attachments and other namespaces are not used by this product.
//! Must not: do I/O; the transport that moves frames lives in `crate::client`.

use serde_json::Value;

/// The largest Engine.IO payload or websocket message a client may send (the server closes
/// a connection that sends more): a message of [`crate::protocol::MESSAGE_MAX_CHARS`]
/// characters, escaped, fits several times over.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// What separates the packets of one long-polling payload (Engine.IO v4).
pub const PACKET_SEPARATOR: char = '\u{1e}';

/// The first packet on a websocket that upgrades a long-polling session, and the server's
/// answer; then [`UPGRADE`] switches the session over to the websocket.
pub const PROBE: &str = "2probe";
pub const PROBE_ANSWER: &str = "3probe";
pub const UPGRADE: &str = "5";

/// The packets of a long-polling response, in order.
pub fn packets(payload: &str) -> impl Iterator<Item = &str> {
    payload.split(PACKET_SEPARATOR).filter(|p| !p.is_empty())
}

/// A long-polling request body carrying `packets`, in order.
pub fn payload<S: AsRef<str>>(packets: &[S]) -> String {
    let mut body = String::with_capacity(packets.iter().map(|p| p.as_ref().len() + 1).sum());
    for (i, packet) in packets.iter().enumerate() {
        if i > 0 {
            body.push(PACKET_SEPARATOR);
        }
        body.push_str(packet.as_ref());
    }
    body
}

/// A frame that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("empty frame")]
    Empty,
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    #[error("malformed packet: {0}")]
    Malformed(String),
    #[error("unexpected payload: {0}")]
    Payload(String),
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
}

/// The parameters the server sends in its Engine.IO `open` packet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub sid: String,
    pub ping_interval: u64,
    pub ping_timeout: u64,
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub enum EnginePacket {
    Open(Handshake),
    Close,
    Ping,
    Pong,
    Message(SocketPacket),
    Noop,
}

/// One Socket.IO packet of the default namespace `/`.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketPacket {
    /// client → server: join the namespace; server → client: joined (with `{sid}`).
    Connect(Option<Value>),
    Disconnect,
    /// An event with its arguments; `ack` asks the peer to acknowledge.
    Event {
        ack: Option<u64>,
        name: String,
        args: Vec<Value>,
    },
    /// The acknowledgement of the event whose `ack` was `id`.
    Ack {
        id: u64,
        args: Vec<Value>,
    },
    ConnectError(Value),
}

impl EnginePacket {
    /// Encodes a packet as the text of one websocket message.
    pub fn encode(&self) -> String {
        match self {
            EnginePacket::Open(_) => "0".to_owned(), // only ever sent by servers
            EnginePacket::Close => "1".to_owned(),
            EnginePacket::Ping => "2".to_owned(),
            EnginePacket::Pong => "3".to_owned(),
            EnginePacket::Message(p) => format!("4{}", p.encode()),
            EnginePacket::Noop => "6".to_owned(),
        }
    }

    /// Decodes the text of one websocket message.
    pub fn decode(frame: &str) -> Result<Self, WireError> {
        let mut chars = frame.chars();
        let kind = chars.next().ok_or(WireError::Empty)?;
        let rest = chars.as_str();
        match kind {
            '0' => serde_json::from_str(rest)
                .map(EnginePacket::Open)
                .map_err(|e| WireError::Malformed(e.to_string())),
            '1' => Ok(EnginePacket::Close),
            '2' => Ok(EnginePacket::Ping),
            '3' => Ok(EnginePacket::Pong),
            '4' => SocketPacket::decode(rest).map(EnginePacket::Message),
            '6' => Ok(EnginePacket::Noop),
            other => Err(WireError::UnknownType(other)),
        }
    }
}

impl SocketPacket {
    /// An event without acknowledgement.
    pub fn event(name: &str, data: Value) -> Self {
        SocketPacket::Event { ack: None, name: name.to_owned(), args: vec![data] }
    }

    fn encode(&self) -> String {
        match self {
            SocketPacket::Connect(None) => "0".to_owned(),
            SocketPacket::Connect(Some(v)) => format!("0{v}"),
            SocketPacket::Disconnect => "1".to_owned(),
            SocketPacket::Event { ack, name, args } => {
                let mut array = Vec::with_capacity(args.len() + 1);
                array.push(Value::String(name.clone()));
                array.extend(args.iter().cloned());
                let id = ack.map(|id| id.to_string()).unwrap_or_default();
                format!("2{id}{}", Value::Array(array))
            }
            SocketPacket::Ack { id, args } => format!("3{id}{}", Value::Array(args.clone())),
            SocketPacket::ConnectError(v) => format!("4{v}"),
        }
    }

    fn decode(text: &str) -> Result<Self, WireError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(WireError::Empty)?;
        let mut rest = chars.as_str();
        // A namespace other than "/" starts with '/' and ends at ','; this product uses "/" only.
        if rest.starts_with('/') {
            let (nsp, tail) = rest.split_once(',').unwrap_or((rest, ""));
            if nsp != "/" {
                return Err(WireError::Malformed(format!("namespace {nsp} is not served")));
            }
            rest = tail;
        }
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let id = if digits > 0 {
            Some(rest[..digits].parse::<u64>().map_err(|e| WireError::Malformed(e.to_string()))?)
        } else {
            None
        };
        let body = &rest[digits..];
        let json = |body: &str| -> Result<Value, WireError> {
            serde_json::from_str(body).map_err(|e| WireError::Malformed(e.to_string()))
        };
        match kind {
            '0' if body.is_empty() => Ok(SocketPacket::Connect(None)),
            '0' => Ok(SocketPacket::Connect(Some(json(body)?))),
            '1' => Ok(SocketPacket::Disconnect),
            '2' => match json(body)? {
                Value::Array(mut items) if matches!(items.first(), Some(Value::String(_))) => {
                    let Value::String(name) = items.remove(0) else {
                        unreachable!("checked by the match guard")
                    };
                    Ok(SocketPacket::Event { ack: id, name, args: items })
                }
                other => Err(WireError::Malformed(format!("event is not [name, ...]: {other}"))),
            },
            '3' => match (id, json(body)?) {
                (Some(id), Value::Array(args)) => Ok(SocketPacket::Ack { id, args }),
                _ => Err(WireError::Malformed("ack without id or arguments".into())),
            },
            '4' => Ok(SocketPacket::ConnectError(json(body)?)),
            other => Err(WireError::UnknownType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_polling_payload_carries_packets_in_order_and_splits_back() {
        let sent = [
            "40",
            &EnginePacket::Message(SocketPacket::event("chat", json!("a\u{1f}b"))).encode(),
            "3",
        ];
        let body = payload(&sent);
        assert_eq!(body.matches(PACKET_SEPARATOR).count(), 2);
        assert_eq!(packets(&body).collect::<Vec<_>>(), sent);
        assert_eq!(payload::<&str>(&[]), "");
        assert_eq!(packets("").count(), 0, "an empty response carries no packet");
        // What a server answers a poll during an upgrade, and a ping beside a message.
        let answer = format!("2{PACKET_SEPARATOR}42[\"x\"]{PACKET_SEPARATOR}6");
        let decoded: Vec<_> = packets(&answer).map(|p| EnginePacket::decode(p).unwrap()).collect();
        assert_eq!(decoded[0], EnginePacket::Ping);
        assert_eq!(decoded[2], EnginePacket::Noop);
    }

    #[test]
    fn decodes_the_engine_handshake() {
        let p = EnginePacket::decode(
            r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        )
        .unwrap();
        assert_eq!(
            p,
            EnginePacket::Open(Handshake {
                sid: "abc".into(),
                ping_interval: 25000,
                ping_timeout: 20000
            })
        );
    }

    #[test]
    fn ping_pong_and_close() {
        assert_eq!(EnginePacket::decode("2").unwrap(), EnginePacket::Ping);
        assert_eq!(EnginePacket::Pong.encode(), "3");
        assert_eq!(EnginePacket::decode("1").unwrap(), EnginePacket::Close);
    }

    #[test]
    fn namespace_connect_both_ways() {
        assert_eq!(EnginePacket::Message(SocketPacket::Connect(None)).encode(), "40");
        assert_eq!(
            EnginePacket::decode(r#"40{"sid":"xyz"}"#).unwrap(),
            EnginePacket::Message(SocketPacket::Connect(Some(json!({"sid": "xyz"}))))
        );
    }

    #[test]
    fn events_with_and_without_ack() {
        let ev = EnginePacket::Message(SocketPacket::event("login", json!("bob")));
        assert_eq!(ev.encode(), r#"42["login","bob"]"#);
        assert_eq!(EnginePacket::decode(&ev.encode()).unwrap(), ev);

        let acked = EnginePacket::Message(SocketPacket::Event {
            ack: Some(12),
            name: "private_message".into(),
            args: vec![json!({"to": "a", "message": "hi"})],
        });
        assert_eq!(acked.encode(), r#"4212["private_message",{"message":"hi","to":"a"}]"#);
        assert_eq!(EnginePacket::decode(&acked.encode()).unwrap(), acked);

        assert_eq!(
            EnginePacket::decode(r#"4312[{"ok":true}]"#).unwrap(),
            EnginePacket::Message(SocketPacket::Ack { id: 12, args: vec![json!({"ok": true})] })
        );
        // The explicit default namespace is accepted too.
        assert_eq!(
            EnginePacket::decode(r#"42/,["user_list",["a"]]"#).unwrap(),
            EnginePacket::Message(SocketPacket::event("user_list", json!(["a"])))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(EnginePacket::decode(""), Err(WireError::Empty));
        assert!(matches!(EnginePacket::decode("9"), Err(WireError::UnknownType('9'))));
        assert!(EnginePacket::decode("42{").is_err());
        assert!(EnginePacket::decode("42[1,2]").is_err());
        assert!(EnginePacket::decode(r#"42/admin,["x"]"#).is_err());
        assert!(EnginePacket::decode("43[]").is_err());
    }

    /// Any JSON value, a few levels deep.
    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{0,10}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever arrives on the socket decodes to a packet or an error, never a panic,
        /// and what is encoded decodes back to itself.
        #[test]
        fn any_frame_decodes_or_is_refused(frame in ".{0,200}", name in "[a-z_]{1,20}", data in json(), ack in proptest::option::of(0u64..1000)) {
            let _ = EnginePacket::decode(&frame);
            let _ = EnginePacket::decode(&format!("4{frame}"));
            let _ = EnginePacket::decode(&format!("42{frame}"));
            let packet = EnginePacket::Message(SocketPacket::Event { ack, name, args: vec![data] });
            let decoded = EnginePacket::decode(&packet.encode());
            proptest::prop_assert!(decoded.is_ok(), "{:?}", decoded);
        }

        /// Every client request decodes from any JSON or is refused, never a panic; a
        /// login that decodes carries only valid names.
        #[test]
        fn any_payload_decodes_or_is_refused(v in json()) {
            use crate::protocol::*;
            if let Ok(Ok(intent)) = serde_json::from_value::<LoginPayload>(v.clone()).map(LoginPayload::into_intent) {
                proptest::prop_assert!(intent.name.is_none_or(|n| n.as_str().chars().count() <= NAME_MAX_CHARS));
            }
            let _ = serde_json::from_value::<PrivateMessage>(v.clone());
            let _ = serde_json::from_value::<HistoryRequest>(v.clone());
            let _ = serde_json::from_value::<ConversationRef>(v.clone());
            let _ = serde_json::from_value::<Transfer>(v.clone());
            let _ = serde_json::from_value::<TypingRequest>(v.clone());
            let _ = serde_json::from_value::<NoteRequest>(v.clone());
            let _ = serde_json::from_value::<ReadUpTo>(v.clone());
            let _ = serde_json::from_value::<AwayRequest>(v.clone());
            let _ = serde_json::from_value::<StatusRequest>(v.clone());
            let _ = serde_json::from_value::<NewAgent>(v.clone());
            let _ = serde_json::from_value::<AgentRef>(v.clone());
            let _ = serde_json::from_value::<CannedReply>(v.clone());
            let _ = serde_json::from_value::<CannedRef>(v);
        }
    }
}

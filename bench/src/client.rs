//! A lean Socket.IO v5 / Engine.IO v4 client over one websocket: the generator's only
//! client, for logins, idle connections and the message runs.
//!
//! Why not tungstenite (which the integration tests use): a generator that spends as much
//! per message as the servers it drives measures itself (docs/traps.md). Here a frame is
//! read in place from one buffer per connection (no allocation, no JSON parsing: the hot
//! path looks for a few byte strings), and a message to send is a frame encoded once by
//! the protocol's own codec, with only its text (the send time) written in per message.
//! The websocket framing a client needs is small (RFC 6455 §5.2): text frames, unmasked
//! from the server, and from the client masked with a key of zeros (valid: the key is the
//! client's choice, and zeros leave the payload as it is, so it is copied, never XORed).
//! The cold path (handshake, login) decodes with `app::protocol::wire`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use app::protocol::wire::{EnginePacket, SocketPacket};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;

/// How a participant logs in.
#[derive(Clone, Debug)]
pub enum Login {
    /// The tutorial's bare-string login (a customer).
    Bare(String),
    /// An agent account of ours.
    Agent { name: String, password: String },
    /// No login: the connection joins the namespace and stays anonymous.
    None,
}

impl Login {
    fn payload(&self) -> Value {
        match self {
            Login::Bare(name) => Value::String(name.clone()),
            Login::Agent { name, password } => {
                serde_json::json!({"name": name, "role": "agent", "password": password})
            }
            Login::None => Value::Null,
        }
    }
}

/// Where to connect, and from which local address.
#[derive(Clone, Debug)]
pub struct Target {
    pub server: SocketAddr,
    pub bind: Option<IpAddr>,
}

/// What one frame from the server is, as far as the generator cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Engine.IO ping: answer with [`Writer::pong`].
    Ping,
    /// A `message` event: the sender's own copy (`mine`) or someone else's, with the text.
    Message { mine: bool, text: &'a [u8] },
    /// An `error` event.
    Error,
    /// Anything else (lists, acks, typing, …).
    Other,
}

/// The frames the generator looks for, encoded once from the protocol's names.
struct Prefixes {
    message: Vec<u8>,
    error: Vec<u8>,
}

fn prefixes() -> &'static Prefixes {
    static P: std::sync::OnceLock<Prefixes> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let event = |name: &str| format!("42[{}", Value::String(name.to_owned())).into_bytes();
        Prefixes { message: event(app::protocol::MESSAGE), error: event(app::protocol::ERROR) }
    })
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl<'a> Frame<'a> {
    /// Classifies the payload of one text frame.
    pub fn of(payload: &'a [u8]) -> Self {
        let p = prefixes();
        if payload == b"2" {
            Frame::Ping
        } else if payload.starts_with(&p.message) {
            let rest = &payload[p.message.len()..];
            let mine = find(rest, br#""self":true"#).is_some();
            // The text is the value of the "message" field (the generator's own digits).
            let text = find(rest, br#""message":""#)
                .map(|at| &rest[at + 11..])
                .and_then(|from| from.iter().position(|&b| b == b'"').map(|end| &from[..end]))
                .unwrap_or_default();
            Frame::Message { mine, text }
        } else if payload.starts_with(&p.error) {
            Frame::Error
        } else {
            Frame::Other
        }
    }
}

/// The reading half of a connection: one buffer, frames read in place.
pub struct Reader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// The writing half: frames gather in `out` until [`Writer::flush`].
pub struct Writer {
    half: OwnedWriteHalf,
    out: Vec<u8>,
}

/// A `private_message` frame encoded once, with the place of its text: each message is
/// `head`, the text, `tail`.
#[derive(Clone)]
pub struct MessageFrame {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl MessageFrame {
    /// The frame of a `private_message` to `to`.
    pub fn to(to: &str) -> Self {
        // A marker no name contains, replaced by each message's text.
        const MARK: &str = "\u{1}TEXT\u{1}";
        let data = serde_json::json!({"to": to, "message": MARK});
        let frame =
            EnginePacket::Message(SocketPacket::event(app::protocol::PRIVATE_MESSAGE, data))
                .encode();
        let marker = serde_json::to_string(MARK).expect("a string encodes");
        // The marker as it stands in the frame, less its quotes.
        let marker = &marker[1..marker.len() - 1];
        let at = frame.find(marker).expect("the marker is in the frame");
        Self {
            head: frame.as_bytes()[..at].to_vec(),
            tail: frame.as_bytes()[at + marker.len()..].to_vec(),
        }
    }
}

/// Opens a websocket, joins the namespace and logs in; returns once `login_success` came.
pub async fn login(target: &Target, login: &Login) -> Result<(Writer, Reader)> {
    let socket = match target.server {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(ip) = target.bind {
        socket.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding {ip}"))?;
    }
    let stream = socket
        .connect(target.server)
        .await
        .with_context(|| format!("connecting {}", target.server))?;
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut tx = Writer { half: write, out: Vec::with_capacity(256) };
    let mut rx = Reader { half: read, buf: vec![0; 4096], start: 0, end: 0 };
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        target.server
    );
    tx.half.write_all(request.as_bytes()).await.context("websocket handshake")?;
    rx.handshake().await?;
    // Engine.IO open, then the namespace.
    match rx.packet().await? {
        EnginePacket::Open(_) => {}
        other => bail!("expected the Engine.IO open packet, got {other:?}"),
    }
    tx.text(EnginePacket::Message(SocketPacket::Connect(None)).encode().as_bytes());
    tx.flush().await?;
    loop {
        match rx.packet().await? {
            EnginePacket::Message(SocketPacket::Connect(_)) => break,
            EnginePacket::Ping => tx.pong().await?,
            other => bail!("expected the namespace connect, got {other:?}"),
        }
    }
    if let Login::None = login {
        return Ok((tx, rx));
    }
    let frame = EnginePacket::Message(SocketPacket::event(app::protocol::LOGIN, login.payload()));
    tx.text(frame.encode().as_bytes());
    tx.flush().await?;
    loop {
        match rx.packet().await? {
            EnginePacket::Ping => tx.pong().await?,
            EnginePacket::Message(SocketPacket::Event { name, args, .. }) => match name.as_str() {
                app::protocol::LOGIN_SUCCESS => return Ok((tx, rx)),
                app::protocol::LOGIN_ERROR => bail!("login refused: {args:?}"),
                _ => {}
            },
            EnginePacket::Close | EnginePacket::Message(SocketPacket::Disconnect) => {
                bail!("the server closed the connection")
            }
            _ => {}
        }
    }
}

/// Appends the header of a client text frame of `len` bytes, masked with a key of zeros.
fn header(out: &mut Vec<u8>, len: usize) {
    out.push(0x81); // FIN, text
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
}

/// Appends a message frame whose text is `number` (a send time), without allocating.
fn message_frame(out: &mut Vec<u8>, frame: &MessageFrame, number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = number;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let text = &digits[at..];
    header(out, frame.head.len() + text.len() + frame.tail.len());
    out.extend_from_slice(&frame.head);
    out.extend_from_slice(text);
    out.extend_from_slice(&frame.tail);
}

impl Writer {
    /// Adds one text frame.
    pub fn text(&mut self, payload: &[u8]) {
        header(&mut self.out, payload.len());
        self.out.extend_from_slice(payload);
    }

    /// Adds a message frame whose text is `number`.
    pub fn message(&mut self, frame: &MessageFrame, number: u64) {
        message_frame(&mut self.out, frame, number);
    }

    /// Whether frames wait to be written.
    pub fn pending(&self) -> bool {
        !self.out.is_empty()
    }

    /// Writes every frame added, in one write where the socket takes it.
    pub async fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.half.write_all(&self.out).await.map_err(|e| anyhow!("send: {e}"))?;
        self.out.clear();
        Ok(())
    }

    /// Writes what the socket takes now without waiting; the rest stays for later.
    pub fn try_flush(&mut self) -> Result<()> {
        while !self.out.is_empty() {
            match self.half.try_write(&self.out) {
                Ok(0) => bail!("send: connection closed"),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => bail!("send: {e}"),
            }
        }
        Ok(())
    }

    /// Answers a ping at once.
    pub async fn pong(&mut self) -> Result<()> {
        self.text(b"3");
        self.flush().await
    }
}

impl Reader {
    /// Reads the HTTP answer to the upgrade request; the frames after it stay buffered.
    async fn handshake(&mut self) -> Result<()> {
        loop {
            if let Some(at) = find(&self.buf[..self.end], b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..at]);
                if !head.starts_with("HTTP/1.1 101") {
                    bail!("websocket handshake refused: {}", head.lines().next().unwrap_or(""));
                }
                self.start = at + 4;
                return Ok(());
            }
            self.fill().await.context("websocket handshake")?;
        }
    }

    /// Waits for more bytes from the socket.
    pub async fn fill(&mut self) -> Result<()> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let n =
            self.half.read(&mut self.buf[self.end..]).await.map_err(|e| anyhow!("receive: {e}"))?;
        if n == 0 {
            bail!("connection closed");
        }
        self.end += n;
        Ok(())
    }

    /// The payload of the next complete text frame in the buffer, if one is there.
    pub fn frame(&mut self) -> Result<Option<&[u8]>> {
        loop {
            let have = &self.buf[self.start..self.end];
            if have.len() < 2 {
                return Ok(None);
            }
            let (opcode, fin, masked) = (have[0] & 0x0f, have[0] & 0x80 != 0, have[1] & 0x80 != 0);
            if !fin || masked {
                bail!("unexpected frame from the server (fragmented or masked)");
            }
            let (len, header) = match have[1] & 0x7f {
                126 if have.len() >= 4 => (u16::from_be_bytes([have[2], have[3]]) as usize, 4),
                127 if have.len() >= 10 => {
                    (u64::from_be_bytes(have[2..10].try_into().expect("8 bytes")) as usize, 10)
                }
                126 | 127 => return Ok(None),
                n => (n as usize, 2),
            };
            if have.len() < header + len {
                return Ok(None);
            }
            let from = self.start + header;
            self.start = from + len;
            match opcode {
                0x1 => return Ok(Some(&self.buf[from..from + len])),
                0x8 => bail!("the server closed the connection"),
                // Websocket pings and pongs (servers here ping in Engine.IO): not answered.
                _ => continue,
            }
        }
    }

    /// The next Engine.IO packet, decoded (the cold path: handshake and login).
    async fn packet(&mut self) -> Result<EnginePacket> {
        let wait = Duration::from_secs(120);
        loop {
            if let Some(payload) = self.frame()? {
                let text = std::str::from_utf8(payload).context("a text frame is UTF-8")?;
                return EnginePacket::decode(text).map_err(|e| anyhow!("bad frame {text}: {e}"));
            }
            tokio::time::timeout(wait, self.fill())
                .await
                .map_err(|_| anyhow!("no frame in 120 s"))??;
        }
    }
}

/// Keeps a connection open, answering pings, until it closes.
pub async fn hold(mut tx: Writer, mut rx: Reader) -> Result<()> {
    loop {
        rx.fill().await?;
        while let Some(payload) = rx.frame()? {
            if Frame::of(payload) == Frame::Ping {
                tx.text(b"3");
            }
        }
        tx.flush().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_classified_by_their_bytes() {
        let mine = br#"42["message",{"id":1,"conversation":2,"seq":3,"from":"c-1","to":"agent-0","customer":"c-1","message":"12345","self":true,"ts":1}]"#;
        assert_eq!(Frame::of(mine), Frame::Message { mine: true, text: b"12345" });
        let theirs = br#"42["message",{"id":1,"from":"c-1","to":"agent-0","message":"99","ts":1,"self":false}]"#;
        assert_eq!(Frame::of(theirs), Frame::Message { mine: false, text: b"99" });
        assert_eq!(Frame::of(b"2"), Frame::Ping);
        assert_eq!(Frame::of(br#"42["error","agent-9 is not online."]"#), Frame::Error);
        assert_eq!(Frame::of(br#"42["user_list",["a"]]"#), Frame::Other);
    }

    #[test]
    fn a_message_frame_is_the_codec_frame_with_the_number_written_in() {
        let frame = MessageFrame::to("agent-3");
        for n in [0u64, 7, 1234567890123] {
            let mut out = Vec::new();
            message_frame(&mut out, &frame, n);
            let expected = EnginePacket::Message(SocketPacket::event(
                app::protocol::PRIVATE_MESSAGE,
                serde_json::json!({"to": "agent-3", "message": n.to_string()}),
            ))
            .encode();
            // FIN + text, masked, the length, a mask of zeros, then the payload as it is.
            assert_eq!(out[..2], [0x81, 0x80 | expected.len() as u8]);
            assert_eq!(out[2..6], [0, 0, 0, 0]);
            assert_eq!(String::from_utf8(out[6..].to_vec()).unwrap(), expected);
        }
        let mut long = Vec::new();
        header(&mut long, 300);
        assert_eq!(long, [0x81, 0x80 | 126, 1, 44, 0, 0, 0, 0]);
    }
}

//! A minimal Socket.IO v5 / Engine.IO v4 client over one websocket, with the frame codec
//! and event names from `app::protocol`: enough to log in, send and receive events, and
//! answer the server's pings.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use app::protocol::wire::{EnginePacket, SocketPacket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

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

/// What arrives on a connection.
pub enum Incoming {
    Ping,
    Event(String, Value),
}

/// The sending half of a connection.
pub struct Sender(SplitSink<Ws, Message>);

/// The receiving half.
pub struct Receiver(SplitStream<Ws>);

/// Where to connect, and from which local address.
#[derive(Clone, Debug)]
pub struct Target {
    pub server: SocketAddr,
    pub bind: Option<IpAddr>,
}

/// Opens a websocket, joins the namespace and logs in; returns once `login_success` came.
pub async fn login(target: &Target, login: &Login) -> Result<(Sender, Receiver)> {
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
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", target.server);
    // Small buffers: many connections per process.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .context("websocket handshake")?;
    let (write, read) = ws.split();
    let (mut tx, mut rx) = (Sender(write), Receiver(read));
    // Engine.IO open, then the namespace.
    match rx.next_packet().await? {
        EnginePacket::Open(_) => {}
        other => bail!("expected the Engine.IO open packet, got {other:?}"),
    }
    tx.raw(EnginePacket::Message(SocketPacket::Connect(None)).encode()).await?;
    loop {
        match rx.next_packet().await? {
            EnginePacket::Message(SocketPacket::Connect(_)) => break,
            EnginePacket::Ping => tx.raw(EnginePacket::Pong.encode()).await?,
            other => bail!("expected the namespace connect, got {other:?}"),
        }
    }
    if let Login::None = login {
        return Ok((tx, rx));
    }
    tx.emit(app::protocol::LOGIN, login.payload()).await?;
    loop {
        let (name, data) = rx.event(&mut tx).await?;
        match name.as_str() {
            app::protocol::LOGIN_SUCCESS => return Ok((tx, rx)),
            app::protocol::LOGIN_ERROR => bail!("login refused: {data}"),
            _ => {}
        }
    }
}

impl Sender {
    pub async fn raw(&mut self, frame: String) -> Result<()> {
        self.0.send(Message::text(frame)).await.map_err(|e| anyhow!("send: {e}"))
    }

    pub async fn pong(&mut self) -> Result<()> {
        self.raw(EnginePacket::Pong.encode()).await
    }

    pub async fn emit(&mut self, event: &str, data: Value) -> Result<()> {
        self.raw(EnginePacket::Message(SocketPacket::event(event, data)).encode()).await
    }
}

impl Receiver {
    async fn next_packet(&mut self) -> Result<EnginePacket> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(120), self.0.next())
                .await
                .map_err(|_| anyhow!("no frame in 120 s"))?
                .ok_or_else(|| anyhow!("connection closed"))?
                .map_err(|e| anyhow!("receive: {e}"))?;
            match frame {
                Message::Text(text) => {
                    return EnginePacket::decode(text.as_str())
                        .map_err(|e| anyhow!("bad frame {text}: {e}"))
                }
                Message::Close(_) => bail!("connection closed"),
                _ => continue,
            }
        }
    }

    /// The next event or ping (which the caller answers with [`Sender::pong`]).
    pub async fn recv(&mut self) -> Result<Incoming> {
        loop {
            match self.next_packet().await? {
                EnginePacket::Ping => return Ok(Incoming::Ping),
                EnginePacket::Message(SocketPacket::Event { name, mut args, .. }) => {
                    let data = if args.is_empty() { Value::Null } else { args.swap_remove(0) };
                    return Ok(Incoming::Event(name, data));
                }
                EnginePacket::Close | EnginePacket::Message(SocketPacket::Disconnect) => {
                    bail!("the server closed the connection")
                }
                _ => {}
            }
        }
    }

    /// The next event, answering pings on the way.
    pub async fn event(&mut self, tx: &mut Sender) -> Result<(String, Value)> {
        loop {
            match self.recv().await? {
                Incoming::Ping => tx.pong().await?,
                Incoming::Event(name, data) => return Ok((name, data)),
            }
        }
    }
}

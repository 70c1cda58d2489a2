//! Pinpoint's own TCP framing (pinpoint-rpc), as a 2.x agent speaks it to the collector's port
//! 9994: every packet starts with a big-endian short type; requests, responses and the handshake
//! then carry an int request id, and every packet with a payload an int length (-1: none) and the
//! bytes. The handshake's payload is a map in Pinpoint's control encoding (`control`); a request's
//! is a header and a compact Thrift struct, answered by a response carrying a TResult.
//!
//! `Connection` writes requests and waits for their responses; a reader task routes responses,
//! answers the collector's pings and notes when the collector closes the connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, oneshot};

/// Packet types (PacketType of pinpoint-rpc 2.5).
pub mod packet {
    pub const APPLICATION_SEND: i16 = 1;
    pub const APPLICATION_REQUEST: i16 = 5;
    pub const APPLICATION_RESPONSE: i16 = 6;
    pub const CONTROL_CLIENT_CLOSE: i16 = 100;
    pub const CONTROL_SERVER_CLOSE: i16 = 110;
    pub const CONTROL_HANDSHAKE: i16 = 150;
    pub const CONTROL_HANDSHAKE_RESPONSE: i16 = 151;
    pub const CONTROL_PING: i16 = 200;
    pub const CONTROL_PONG: i16 = 201;
    pub const CONTROL_PING_SIMPLE: i16 = 210;
    pub const CONTROL_PING_PAYLOAD: i16 = 211;
}

/// Pinpoint's control encoding of a handshake map (ControlMessageEncoder): one type character
/// per value, strings with a varint length, ints and longs big-endian, lists `V`..`z`, maps
/// `M`..`z`.
pub mod control {
    use anyhow::{Context as _, bail};

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Int(i32),
        Long(i64),
        Double(f64),
        String(String),
        List(Vec<Value>),
        Map(Vec<(Value, Value)>),
    }

    impl Value {
        pub fn str(s: &str) -> Value {
            Value::String(s.to_string())
        }

        pub fn as_int(&self) -> Option<i32> {
            match self {
                Value::Int(i) => Some(*i),
                _ => None,
            }
        }
    }

    /// `entries` as a control-encoded map.
    pub fn encode_map(entries: &[(&str, Value)]) -> Vec<u8> {
        let map = Value::Map(
            entries
                .iter()
                .map(|(k, v)| (Value::str(k), v.clone()))
                .collect(),
        );
        let mut out = Vec::new();
        encode(&map, &mut out);
        out
    }

    fn encode(value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::Null => out.push(b'N'),
            Value::Bool(true) => out.push(b'T'),
            Value::Bool(false) => out.push(b'F'),
            Value::Int(i) => {
                out.push(b'I');
                out.extend_from_slice(&i.to_be_bytes());
            }
            Value::Long(l) => {
                out.push(b'L');
                out.extend_from_slice(&l.to_be_bytes());
            }
            Value::Double(d) => {
                out.push(b'D');
                out.extend_from_slice(&d.to_bits().to_be_bytes());
            }
            Value::String(s) => {
                out.push(b'S');
                let mut len = s.len() as u32;
                while len >= 0x80 {
                    out.push((len as u8 & 0x7f) | 0x80);
                    len >>= 7;
                }
                out.push(len as u8);
                out.extend_from_slice(s.as_bytes());
            }
            Value::List(items) => {
                out.push(b'V');
                items.iter().for_each(|item| encode(item, out));
                out.push(b'z');
            }
            Value::Map(entries) => {
                out.push(b'M');
                for (k, v) in entries {
                    encode(k, out);
                    encode(v, out);
                }
                out.push(b'z');
            }
        }
    }

    /// One control-encoded value (a handshake response's map).
    pub fn decode(bytes: &[u8]) -> anyhow::Result<Value> {
        let mut at = 0;
        let value = decode_at(bytes, &mut at)?.context("an end marker where a value belongs")?;
        Ok(value)
    }

    /// The value at `at`, or None at an end marker `z`.
    fn decode_at(bytes: &[u8], at: &mut usize) -> anyhow::Result<Option<Value>> {
        let take = |n: usize, at: &mut usize| -> anyhow::Result<&[u8]> {
            let slice = bytes
                .get(*at..*at + n)
                .with_context(|| format!("control message cut short at byte {at}"))?;
            *at += n;
            Ok(slice)
        };
        let tag = take(1, at)?[0];
        Ok(Some(match tag {
            b'z' => return Ok(None),
            b'N' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'I' => Value::Int(i32::from_be_bytes(take(4, at)?.try_into()?)),
            b'L' => Value::Long(i64::from_be_bytes(take(8, at)?.try_into()?)),
            b'D' => Value::Double(f64::from_bits(u64::from_be_bytes(take(8, at)?.try_into()?))),
            b'S' => {
                let (mut len, mut shift) = (0usize, 0);
                loop {
                    let b = take(1, at)?[0];
                    len |= ((b & 0x7f) as usize) << shift;
                    shift += 7;
                    if b & 0x80 == 0 {
                        break;
                    }
                }
                Value::String(String::from_utf8_lossy(take(len, at)?).into_owned())
            }
            b'V' => {
                let mut items = Vec::new();
                while let Some(item) = decode_at(bytes, at)? {
                    items.push(item);
                }
                Value::List(items)
            }
            b'M' => {
                let mut entries = Vec::new();
                while let Some(key) = decode_at(bytes, at)? {
                    let value = decode_at(bytes, at)?.context("a map key without a value")?;
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            other => bail!("unknown control type character 0x{other:02x}"),
        }))
    }

    /// The value of `key` in a decoded map.
    pub fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
        match map {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::String(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// `type`, request id, then the payload's length and bytes.
pub fn frame(packet_type: i16, request_id: Option<i32>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + payload.len());
    out.extend_from_slice(&packet_type.to_be_bytes());
    if let Some(id) = request_id {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// How the collector answered the handshake (HandshakeResponseCode: code 0 is success, sub-code
/// 1 simplex, 2 duplex; 1 already known; 2 property error; 3 protocol error; 4 unknown error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeCode {
    pub code: i32,
    pub sub_code: i32,
}

impl HandshakeCode {
    pub fn accepted(self) -> bool {
        self.code == 0 || self.code == 1
    }
}

impl std::fmt::Display for HandshakeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let meaning = match (self.code, self.sub_code) {
            (0, 0) => "success",
            (0, 1) => "simplex connection established",
            (0, 2) => "duplex connection established",
            (1, _) => "already known",
            (2, _) => "property error",
            (3, _) => "protocol error",
            (4, _) => "unknown error",
            _ => "unknown code",
        };
        write!(
            f,
            "{meaning} (code {}, sub-code {})",
            self.code, self.sub_code
        )
    }
}

const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the connection pings the collector, as agents do (the collector closes a
/// connection that has not pinged for collector.receiver.base.pingwait.timeout, 30 min, and
/// records each ping as the agent RUNNING).
const PING_INTERVAL: Duration = Duration::from_secs(60);
/// SocketStateCode RUN_DUPLEX, the state a ping reports.
const STATE_RUN_DUPLEX: u8 = 12;

type Waiting = Arc<Mutex<HashMap<i32, oneshot::Sender<(i16, Vec<u8>)>>>>;

/// One agent connection to a collector's TCP port.
pub struct Connection {
    peer: SocketAddr,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    waiting: Waiting,
    next_id: AtomicI32,
    reader: tokio::task::JoinHandle<()>,
    pinger: tokio::task::JoinHandle<()>,
    /// Set by the reader when the collector closed the connection or it failed: why.
    closed: Arc<std::sync::Mutex<Option<String>>>,
}

impl Connection {
    pub async fn connect(peer: SocketAddr) -> anyhow::Result<Connection> {
        let stream = tokio::time::timeout(ANSWER_TIMEOUT, TcpStream::connect(peer))
            .await
            .with_context(|| format!("connecting to the collector's {peer} timed out"))?
            .with_context(|| format!("connecting to the collector's {peer}"))?;
        stream.set_nodelay(true).ok();
        let (read, write) = stream.into_split();
        let writer = Arc::new(Mutex::new(write));
        let waiting: Waiting = Arc::default();
        let closed = Arc::new(std::sync::Mutex::new(None));
        let reader = tokio::spawn(read_loop(
            read,
            writer.clone(),
            waiting.clone(),
            closed.clone(),
        ));
        let pinger = tokio::spawn(ping_loop(writer.clone()));
        Ok(Connection {
            peer,
            pinger,
            writer,
            waiting,
            next_id: AtomicI32::new(1),
            reader,
            closed,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Why the connection ended, if it has.
    pub fn closed(&self) -> Option<String> {
        self.closed.lock().unwrap().clone()
    }

    async fn write(&self, bytes: &[u8]) -> anyhow::Result<()> {
        if let Some(why) = self.closed() {
            bail!("the connection to {} is closed: {why}", self.peer);
        }
        let mut writer = self.writer.lock().await;
        writer
            .write_all(bytes)
            .await
            .with_context(|| format!("writing to the collector's {}", self.peer))
    }

    /// Sends a packet with a request id and waits for the packet answering it.
    async fn ask(&self, packet_type: i16, payload: &[u8]) -> anyhow::Result<(i16, Vec<u8>)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().await.insert(id, tx);
        self.write(&frame(packet_type, Some(id), payload)).await?;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => bail!(
                "the collector's {} closed the connection before answering request {id}{}",
                self.peer,
                self.closed().map(|w| format!(" ({w})")).unwrap_or_default()
            ),
            Err(_) => {
                self.waiting.lock().await.remove(&id);
                bail!(
                    "the collector's {} did not answer request {id} within {ANSWER_TIMEOUT:?}",
                    self.peer
                )
            }
        }
    }

    /// The handshake: the agent's properties (HandshakePropertyType: hostName, ip, agentId,
    /// applicationName, serviceType, pid, version, startTimestamp required; supportServer).
    pub async fn handshake(
        &self,
        properties: &[(&str, control::Value)],
    ) -> anyhow::Result<HandshakeCode> {
        let (kind, payload) = self
            .ask(packet::CONTROL_HANDSHAKE, &control::encode_map(properties))
            .await
            .context("handshake")?;
        anyhow::ensure!(
            kind == packet::CONTROL_HANDSHAKE_RESPONSE,
            "the handshake was answered by packet type {kind}"
        );
        let map = control::decode(&payload).context("decoding the handshake response")?;
        let int = |key| control::get(&map, key).and_then(control::Value::as_int);
        Ok(HandshakeCode {
            code: int("code")
                .with_context(|| format!("handshake response without a code: {map:?}"))?,
            sub_code: int("subCode").unwrap_or(-1),
        })
    }

    /// A request (header and Thrift struct) and the payload of its response.
    pub async fn request(&self, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (kind, answer) = self.ask(packet::APPLICATION_REQUEST, payload).await?;
        anyhow::ensure!(
            kind == packet::APPLICATION_RESPONSE,
            "a request was answered by packet type {kind}"
        );
        Ok(answer)
    }

    /// A message without an answer (APPLICATION_SEND).
    pub async fn send(&self, payload: &[u8]) -> anyhow::Result<()> {
        self.write(&frame(packet::APPLICATION_SEND, None, payload))
            .await
    }

    /// Says goodbye (CONTROL_CLIENT_CLOSE, which the collector records as the agent's shutdown)
    /// and closes the connection.
    pub async fn close(self) -> anyhow::Result<()> {
        let said = self
            .write(&frame(packet::CONTROL_CLIENT_CLOSE, None, &[]))
            .await;
        {
            let mut writer = self.writer.lock().await;
            writer.shutdown().await.ok();
        }
        // Give the collector a moment to read the close before the socket goes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.reader.abort();
        self.pinger.abort();
        said
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        self.pinger.abort();
    }
}

/// CONTROL_PING_PAYLOAD every PING_INTERVAL: ping id, state version 0, RUN_DUPLEX.
async fn ping_loop(writer: Arc<Mutex<OwnedWriteHalf>>) {
    let mut ping_id: i32 = 0;
    loop {
        tokio::time::sleep(PING_INTERVAL).await;
        let mut ping = packet::CONTROL_PING_PAYLOAD.to_be_bytes().to_vec();
        ping.extend_from_slice(&ping_id.to_be_bytes());
        ping.extend_from_slice(&[0, STATE_RUN_DUPLEX]);
        if writer.lock().await.write_all(&ping).await.is_err() {
            return; // the reader notes why the connection ended
        }
        ping_id = ping_id.wrapping_add(1);
    }
}

async fn read_loop(
    mut read: OwnedReadHalf,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    waiting: Waiting,
    closed: Arc<std::sync::Mutex<Option<String>>>,
) {
    let why = match read_packets(&mut read, &writer, &waiting).await {
        Ok(why) => why,
        Err(e) => format!("{e:#}"),
    };
    *closed.lock().unwrap() = Some(why);
    waiting.lock().await.clear(); // wakes every waiter with a closed channel
}

/// Reads packets until the collector closes; returns why it ended.
async fn read_packets(
    read: &mut OwnedReadHalf,
    writer: &Mutex<OwnedWriteHalf>,
    waiting: &Waiting,
) -> anyhow::Result<String> {
    loop {
        let kind = match read.read_i16().await {
            Ok(kind) => kind,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok("the collector closed the connection".into());
            }
            Err(e) => return Err(e).context("reading from the collector"),
        };
        match kind {
            packet::APPLICATION_RESPONSE
            | packet::CONTROL_HANDSHAKE_RESPONSE
            | packet::APPLICATION_REQUEST => {
                let id = read.read_i32().await?;
                let payload = read_payload(read).await?;
                if kind == packet::APPLICATION_REQUEST {
                    continue; // a command from the collector: this agent offers none
                }
                if let Some(tx) = waiting.lock().await.remove(&id) {
                    tx.send((kind, payload)).ok();
                }
            }
            packet::APPLICATION_SEND | packet::CONTROL_CLIENT_CLOSE => {
                read_payload(read).await?;
            }
            packet::CONTROL_SERVER_CLOSE => {
                read_payload(read).await?;
                return Ok("the collector sent CONTROL_SERVER_CLOSE".into());
            }
            // The collector's health check sends the bare pings (2 bytes: a legacy CONTROL_PING
            // carries no ping id going that way).
            packet::CONTROL_PING_SIMPLE | packet::CONTROL_PING => {
                let pong = packet::CONTROL_PONG.to_be_bytes();
                writer.lock().await.write_all(&pong).await?;
            }
            packet::CONTROL_PING_PAYLOAD => {
                let mut rest = [0u8; 6]; // ping id, state version, state code
                read.read_exact(&mut rest).await?;
                let pong = packet::CONTROL_PONG.to_be_bytes();
                writer.lock().await.write_all(&pong).await?;
            }
            packet::CONTROL_PONG => {}
            other => bail!("the collector sent packet type {other}, which this agent cannot frame"),
        }
    }
}

async fn read_payload(read: &mut OwnedReadHalf) -> anyhow::Result<Vec<u8>> {
    let len = read.read_i32().await?;
    if len <= 0 {
        return Ok(Vec::new());
    }
    anyhow::ensure!(len <= 16 << 20, "a payload of {len} bytes");
    let mut payload = vec![0; len as usize];
    read.read_exact(&mut payload).await?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::control::Value;
    use super::*;

    #[test]
    fn control_maps_round_trip() {
        let bytes = control::encode_map(&[
            ("code", Value::Int(0)),
            ("subCode", Value::Int(2)),
            ("agentId", Value::str("a")),
            ("startTimestamp", Value::Long(5)),
            ("supportServer", Value::Bool(true)),
            ("supportCommandList", Value::List(vec![])),
        ]);
        assert_eq!(&bytes[..13], b"MS\x04codeI\0\0\0\0S");
        assert_eq!(bytes.last(), Some(&b'z'));
        let map = control::decode(&bytes).unwrap();
        assert_eq!(control::get(&map, "subCode"), Some(&Value::Int(2)));
        assert_eq!(control::get(&map, "startTimestamp"), Some(&Value::Long(5)));
        assert_eq!(
            control::get(&map, "supportCommandList"),
            Some(&Value::List(vec![]))
        );
        assert!(control::decode(b"MS\x04co").is_err());
    }

    #[test]
    fn frames_carry_type_id_and_length() {
        assert_eq!(
            frame(5, Some(7), b"xy"),
            [0, 5, 0, 0, 0, 7, 0, 0, 0, 2, b'x', b'y']
        );
        assert_eq!(frame(100, None, &[]), [0, 100, 0, 0, 0, 0]);
    }
}

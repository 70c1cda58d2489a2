//! A Pinpoint 2.x agent of chaosbed's own speaking the collector's Thrift protocol, as Java agents
//! did before gRPC: it registers over TCP 9994 (pinpoint-rpc handshake, TAgentInfo and API
//! metadata as requests, each answered with a TResult), then sends spans as UDP datagrams to 9996
//! and statistics to 9995, each a Pinpoint header and a compact Thrift struct, with no answer by
//! design: a datagram the network drops is lost without anyone knowing, which is what a scenario
//! needs to show that those UDP ports must be open. `header` is the packet header, `dto` the
//! Thrift structs, `rpc` the TCP framing.

pub mod dto;
pub mod header;
pub mod rpc;

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail, ensure};
use tokio::net::UdpSocket;

use rpc::control::Value;

/// The collector's Thrift ports: agent registration and metadata (TCP), statistics and spans
/// (UDP).
pub const TCP_PORT: u16 = 9994;
pub const STAT_UDP_PORT: u16 = 9995;
pub const SPAN_UDP_PORT: u16 = 9996;
/// Service types the web shows (Pinpoint's ServiceType codes).
pub const TOMCAT: i16 = 1010;
pub const STAND_ALONE: i16 = 1000;
/// The application chaosbed's UDP agents register under (the `pinpoint-udp-spans` workload's).
pub const APPLICATION: &str = "chaosbed-udp";
/// The agent version announced; the collector accepts any.
pub const AGENT_VERSION: &str = "2.5.1";
/// The API id of the entry point the spans name (registered as API metadata).
const ENTRY_API_ID: i32 = 1;
/// A datagram's largest payload over IPv4.
const MAX_DATAGRAM: usize = 65_507;

/// `agentId^agentStartTime^sequence`, as the web names a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    pub agent_id: String,
    pub agent_start_time: i64,
    pub sequence: i64,
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}^{}^{}",
            self.agent_id, self.agent_start_time, self.sequence
        )
    }
}

/// Who the agent says it is.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub agent_id: String,
    pub application: String,
    /// TOMCAT or STAND_ALONE; the application's and its spans' service type.
    pub service_type: i16,
    pub hostname: String,
    /// The address announced (TAgentInfo.ip, the handshake's ip).
    pub ip: String,
    /// The collector's UDP ports, normally STAT_UDP_PORT and SPAN_UDP_PORT on the TCP address.
    pub stat: Option<SocketAddr>,
    pub span: Option<SocketAddr>,
}

impl AgentOptions {
    pub fn new(agent_id: &str, application: &str) -> AgentOptions {
        AgentOptions {
            agent_id: agent_id.to_string(),
            application: application.to_string(),
            service_type: TOMCAT,
            hostname: agent_id.to_string(),
            ip: "127.0.0.1".to_string(),
            stat: None,
            span: None,
        }
    }
}

/// One span to send: one transaction of its own.
#[derive(Debug, Clone)]
pub struct SpanInput {
    /// The entry point's name, a web request's URI (`/hello/<id>`): the web's metadata lists it
    /// as the transaction's `application`.
    pub rpc: String,
    /// When it started, ms since the epoch; None: now minus `elapsed_ms`.
    pub start_ms: Option<i64>,
    pub elapsed_ms: i32,
    pub error: bool,
    /// The server's address as the request reached it, and the client's.
    pub end_point: String,
    pub remote_addr: String,
}

impl SpanInput {
    pub fn request(uri: &str) -> SpanInput {
        SpanInput {
            rpc: uri.to_string(),
            start_ms: None,
            elapsed_ms: 1,
            error: false,
            end_point: "127.0.0.1:8080".into(),
            remote_addr: "127.0.0.1".into(),
        }
    }
}

/// One statistics sample (sent as a TAgentStatBatch of one TAgentStat).
#[derive(Debug, Clone, Copy)]
pub struct StatInput {
    pub jvm_cpu_load: f64,
    pub system_cpu_load: f64,
    pub collect_interval_ms: i64,
}

/// A registered agent: its TCP connection to the collector and one UDP socket for spans and
/// statistics.
pub struct UdpAgent {
    options: AgentOptions,
    start_time: i64,
    /// The registration connection and the collector's answer to its handshake; None for an
    /// agent that never registered (`unregistered`).
    connection: Option<(rpc::Connection, rpc::HandshakeCode)>,
    udp: UdpSocket,
    stat: SocketAddr,
    span: SocketAddr,
    next_sequence: AtomicI64,
}

impl UdpAgent {
    /// Registers a TOMCAT agent with the collector at `collector` (its TCP port, 9994).
    pub async fn register(
        collector: SocketAddr,
        agent_id: &str,
        application: &str,
    ) -> anyhow::Result<UdpAgent> {
        Self::register_with(collector, AgentOptions::new(agent_id, application)).await
    }

    /// Connects, handshakes (the agent's properties; supportServer, so the collector records it
    /// as a duplex agent as it does a Java agent), sends TAgentInfo and the entry point's
    /// TApiMetaData as requests and checks each TResult.
    pub async fn register_with(
        collector: SocketAddr,
        options: AgentOptions,
    ) -> anyhow::Result<UdpAgent> {
        let start_time = now_ms();
        let what = format!(
            "registering agent {} of {} with the collector at {collector}",
            options.agent_id, options.application
        );
        let connection = rpc::Connection::connect(collector)
            .await
            .context(what.clone())?;
        let handshake = connection
            .handshake(&[
                ("hostName", Value::str(&options.hostname)),
                ("ip", Value::str(&options.ip)),
                ("agentId", Value::str(&options.agent_id)),
                ("applicationName", Value::str(&options.application)),
                ("serviceType", Value::Int(options.service_type.into())),
                ("pid", Value::Int(std::process::id() as i32)),
                ("version", Value::str(AGENT_VERSION)),
                ("startTimestamp", Value::Long(start_time)),
                ("supportServer", Value::Bool(true)),
                ("supportCommandList", Value::List(Vec::new())),
                // The collector keys the agent's lifecycle events by it; without one it logs
                // "socketId may not be less than 0" and records no RUNNING/SHUTDOWN state.
                ("socketId", Value::Int(1)),
            ])
            .await
            .context(what.clone())?;
        if !handshake.accepted() {
            bail!("{what}: the handshake was refused: {handshake}");
        }
        let info = dto::TAgentInfo {
            hostname: options.hostname.clone(),
            ip: options.ip.clone(),
            ports: String::new(),
            agent_id: options.agent_id.clone(),
            application_name: options.application.clone(),
            service_type: options.service_type,
            pid: std::process::id() as i32,
            agent_version: AGENT_VERSION.into(),
            vm_version: "chaosbed".into(),
            start_timestamp: start_time,
            container: true,
            agent_name: None,
        };
        request(&connection, &info).await.context(what.clone())?;
        let api = dto::TApiMetaData {
            agent_id: options.agent_id.clone(),
            agent_start_time: start_time,
            api_id: ENTRY_API_ID,
            api_info: "chaosbed UDP agent request".into(),
            line: None,
            kind: Some(100), // a web request (MethodType.WEB_REQUEST)
        };
        request(&connection, &api).await.context(what.clone())?;
        Self::with(
            collector,
            options,
            start_time,
            Some((connection, handshake)),
        )
        .await
    }

    /// An agent that sends spans and statistics to `collector`'s UDP ports without registering
    /// over TCP first (`collector` names the TCP address all the same; its port is not used).
    /// Its spans are stored and found like a registered agent's; its application is only listed
    /// by the web once some agent of it registered.
    pub async fn unregistered(
        collector: SocketAddr,
        options: AgentOptions,
    ) -> anyhow::Result<UdpAgent> {
        Self::with(collector, options, now_ms(), None).await
    }

    async fn with(
        collector: SocketAddr,
        options: AgentOptions,
        start_time: i64,
        connection: Option<(rpc::Connection, rpc::HandshakeCode)>,
    ) -> anyhow::Result<UdpAgent> {
        let collector_ip = collector.ip();
        let unspecified: IpAddr = if collector_ip.is_ipv4() {
            [0, 0, 0, 0].into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        let udp = UdpSocket::bind(SocketAddr::new(unspecified, 0))
            .await
            .context("binding the agent's UDP socket")?;
        Ok(UdpAgent {
            stat: options
                .stat
                .unwrap_or(SocketAddr::new(collector_ip, STAT_UDP_PORT)),
            span: options
                .span
                .unwrap_or(SocketAddr::new(collector_ip, SPAN_UDP_PORT)),
            options,
            start_time,
            connection,
            udp,
            next_sequence: AtomicI64::new(1),
        })
    }

    pub fn agent_id(&self) -> &str {
        &self.options.agent_id
    }

    pub fn application(&self) -> &str {
        &self.options.application
    }

    /// The agent's start time (ms), part of every transaction id.
    pub fn start_time(&self) -> i64 {
        self.start_time
    }

    /// What the collector answered the handshake (None: never registered).
    pub fn handshake(&self) -> Option<rpc::HandshakeCode> {
        self.connection.as_ref().map(|(_, code)| *code)
    }

    /// Why the registration connection ended, if the collector closed it.
    pub fn connection_closed(&self) -> Option<String> {
        self.connection.as_ref().and_then(|(c, _)| c.closed())
    }

    /// Sends one root span (a transaction of its own, the next sequence) to the span port. Ok
    /// means the datagram left this host; nothing says whether the collector got it.
    pub async fn send_span(&self, input: &SpanInput) -> anyhow::Result<TransactionId> {
        let sequence = self.next_sequence.fetch_add(1, Ordering::Relaxed);
        let id = TransactionId {
            agent_id: self.options.agent_id.clone(),
            agent_start_time: self.start_time,
            sequence,
        };
        let span = dto::TSpan {
            agent_id: id.agent_id.clone(),
            application_name: self.options.application.clone(),
            agent_start_time: self.start_time,
            transaction_id: dto::transaction_id_bytes(None, self.start_time, sequence),
            span_id: span_id(&id),
            parent_span_id: -1,
            start_time: input
                .start_ms
                .unwrap_or_else(|| now_ms() - i64::from(input.elapsed_ms)),
            elapsed: input.elapsed_ms,
            rpc: Some(input.rpc.clone()),
            service_type: self.options.service_type,
            end_point: Some(input.end_point.clone()),
            remote_addr: Some(input.remote_addr.clone()),
            annotations: Vec::new(),
            err: i32::from(input.error),
            span_events: Vec::new(),
            acceptor_host: None,
            api_id: Some(ENTRY_API_ID),
            application_service_type: self.options.service_type,
        };
        self.datagram(self.span, &dto::packet(&span)?)
            .await
            .with_context(|| format!("sending the span of transaction {id}"))?;
        Ok(id)
    }

    /// Sends one statistics sample to the stat port (fire and forget, as spans).
    pub async fn send_stat(&self, input: &StatInput) -> anyhow::Result<()> {
        let batch = dto::TAgentStatBatch {
            agent_id: self.options.agent_id.clone(),
            start_timestamp: self.start_time,
            agent_stats: vec![dto::TAgentStat {
                timestamp: now_ms(),
                collect_interval: input.collect_interval_ms,
                cpu_load: Some(dto::TCpuLoad {
                    jvm_cpu_load: input.jvm_cpu_load,
                    system_cpu_load: input.system_cpu_load,
                }),
            }],
        };
        self.datagram(self.stat, &dto::packet(&batch)?)
            .await
            .context("sending a stat batch")
    }

    /// Registers a string the spans may refer to (TStringMetaData, a TCP request).
    pub async fn register_string(&self, string_id: i32, value: &str) -> anyhow::Result<()> {
        let meta = dto::TStringMetaData {
            agent_id: self.options.agent_id.clone(),
            agent_start_time: self.start_time,
            string_id,
            string_value: value.to_string(),
        };
        let Some((connection, _)) = &self.connection else {
            bail!(
                "agent {} never registered: no connection to send metadata on",
                self.options.agent_id
            );
        };
        request(connection, &meta).await
    }

    async fn datagram(&self, to: SocketAddr, bytes: &[u8]) -> anyhow::Result<()> {
        ensure!(
            bytes.len() <= MAX_DATAGRAM,
            "{} bytes do not fit one datagram",
            bytes.len()
        );
        let sent = self
            .udp
            .send_to(bytes, to)
            .await
            .with_context(|| format!("UDP to {to}"))?;
        ensure!(
            sent == bytes.len(),
            "UDP to {to}: {sent} of {} bytes sent",
            bytes.len()
        );
        Ok(())
    }

    /// Says goodbye over TCP (the collector records the agent's shutdown) and closes.
    pub async fn close(self) -> anyhow::Result<()> {
        let Some((connection, _)) = self.connection else {
            return Ok(());
        };
        let peer = connection.peer();
        connection.close().await.with_context(|| {
            format!(
                "closing agent {}'s connection to {peer}",
                self.options.agent_id
            )
        })
    }
}

/// Sends `value` as a request and checks the collector's TResult.
async fn request<T: dto::Tbase>(connection: &rpc::Connection, value: &T) -> anyhow::Result<()> {
    let answer = connection
        .request(&dto::packet(value)?)
        .await
        .with_context(|| format!("sending {}", T::NAME))?;
    let result =
        dto::parse_result(&answer).with_context(|| format!("the answer to {}", T::NAME))?;
    ensure!(
        result.success,
        "the collector refused {}: {}",
        T::NAME,
        result.message.as_deref().unwrap_or("(no message)")
    );
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A span id that differs between transactions (any i64 but -1 will do for a root span).
fn span_id(id: &TransactionId) -> i64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(id.to_string().as_bytes());
    match hasher.finish() as i64 {
        -1 => 1,
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_read_as_the_web_writes_them() {
        let id = TransactionId {
            agent_id: "udp-1".into(),
            agent_start_time: 1_700_000_000_000,
            sequence: 3,
        };
        assert_eq!(id.to_string(), "udp-1^1700000000000^3");
        assert_ne!(span_id(&id), -1);
    }
}

//! The Pinpoint UDP workload: chaosbed itself is the Pinpoint 2.x agent (`system::pinpoint::udp`).
//! Each agent (`udp-agent-1`, ...) registers over TCP with one collector, then sends one root span
//! at a time — its own transaction, named `/hello/<id>` as the traced application's requests
//! are, so the same [`PinpointSource`](super::PinpointSource) finds it through the web — and a
//! statistics sample every STAT_EVERY, both as UDP datagrams nobody answers. A span is recorded
//! as a Trace: invoke, then ok once the datagram left this host (which is all an agent ever
//! learns), fail when the socket refused it. Whether the collector got it only the reader can
//! tell.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};

use super::{pacing, stagger};
use crate::history::{F, OpKind, Recorder};
use crate::scenario::WorkloadSpec;
use crate::system::pinpoint::udp::{self, AgentOptions, SpanInput, StatInput, UdpAgent};
use crate::workload::Deadline;

/// The most spans a second the agents may send together. A collector hands each datagram to a
/// span executor whose queue holds 256; a burst beyond what it drains is dropped silently, with
/// nothing on the wire or in the agent to say so (measured on 2.5.1: 1000 spans sent back to
/// back lost most; 1000 spaced 2 ms apart all arrived). A scenario's losses must come from its
/// faults, so the pace stays well below that.
pub const MAX_RATE: f64 = 500.0;
/// How often each agent sends a statistics sample (a Java agent collects every 5 s).
const STAT_EVERY: Duration = Duration::from_secs(5);
/// How long registering one agent (connect, handshake, agent info, API metadata) may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long saying goodbye over TCP may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the agents report and the reader asks.
#[derive(Debug, Clone)]
pub struct UdpTarget {
    /// The collectors; agent `n` (from 1) registers with collector `n - 1` modulo their number.
    pub collectors: Vec<(String, Ipv4Addr)>,
    /// The webs the reader asks, in turn.
    pub webs: Vec<(String, Ipv4Addr)>,
    /// The application the agents register under (`udp::APPLICATION`).
    pub application: String,
}

impl UdpTarget {
    /// The collector agent `n` (from 1) reports to.
    pub fn collector_of(&self, n: u32) -> Option<&(String, Ipv4Addr)> {
        let count = self.collectors.len();
        (count > 0).then(|| &self.collectors[(n.max(1) as usize - 1) % count])
    }
}

/// An agent's id, its process in the history.
fn agent_id(n: u32) -> String {
    format!("udp-agent-{n}")
}

/// The id span `seq` of agent `n` carries in its URI.
fn span_id(n: u32, seq: u64) -> String {
    format!("u{n}-{seq}")
}

/// One registered agent.
struct Agent {
    n: u32,
    collector: String,
    agent: UdpAgent,
}

/// The agents, registered and ready to send.
pub struct UdpAgents {
    agents: Vec<Agent>,
}

/// What the agents did, as they counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpSummary {
    /// Agents sending.
    pub agents: u32,
    /// Spans sent (Trace invokes).
    pub sent: u64,
    /// Datagrams this host refused to send (Trace fail).
    pub refused: u64,
    /// Statistics samples sent, and refused.
    pub stats: u64,
    pub stats_refused: u64,
    /// Agents whose TCP registration the collector closed while they sent, with why.
    pub closed: Vec<(String, String)>,
}

/// The address this host reaches `peer` from: what the agent announces as its own.
fn local_ip_towards(peer: Ipv4Addr) -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((peer, udp::TCP_PORT)).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// Registers `spec.clients` agents (`udp-agent-1`, ...), each with its collector over TCP
/// (`udp::TCP_PORT`); fails with the first agent the collectors would not take.
pub async fn register(spec: &WorkloadSpec, target: &UdpTarget) -> anyhow::Result<UdpAgents> {
    let mut agents = Vec::new();
    for n in 1..=spec.clients {
        let (collector, address) = target
            .collector_of(n)
            .context("no Pinpoint collector to register the UDP agents with")?;
        let id = agent_id(n);
        let mut options = AgentOptions::new(&id, &target.application);
        if let Some(ip) = local_ip_towards(*address) {
            options.ip = ip.to_string();
        }
        let at = SocketAddr::from((*address, udp::TCP_PORT));
        let agent = tokio::time::timeout(REGISTER_TIMEOUT, UdpAgent::register_with(at, options))
            .await
            .with_context(|| {
                format!("registering {id} with {collector} ({at}) took over {REGISTER_TIMEOUT:?}")
            })?
            .with_context(|| format!("{id} and {collector}"))?;
        agents.push(Agent {
            n,
            collector: collector.clone(),
            agent,
        });
    }
    Ok(UdpAgents { agents })
}

impl UdpAgents {
    /// The collector the first agent reports to: the `agent-collector` target.
    pub fn first_collector(&self) -> Option<&str> {
        self.agents.first().map(|a| a.collector.as_str())
    }

    /// `udp-agent-1 → collector-1, ...`.
    pub fn describe(&self) -> String {
        self.agents
            .iter()
            .map(|a| format!("{} → {}", a.agent.agent_id(), a.collector))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Says goodbye over TCP for each agent; returns the agents that could not.
    pub async fn close(self) -> Vec<String> {
        let mut problems = Vec::new();
        for Agent { agent, .. } in self.agents {
            let id = agent.agent_id().to_string();
            match tokio::time::timeout(CLOSE_TIMEOUT, agent.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(format!("{id}: {e:#}")),
                Err(_) => problems.push(format!("{id}: no goodbye within {CLOSE_TIMEOUT:?}")),
            }
        }
        problems
    }
}

/// Has the agents together send `spec.rate` spans a second (each its share, spread over one
/// period) until `end`, and a statistics sample each every STAT_EVERY.
pub async fn send_spans(
    spec: &WorkloadSpec,
    agents: &UdpAgents,
    recorder: &Recorder,
    end: &Deadline,
) -> UdpSummary {
    let count = agents.agents.len() as u32;
    let Some(period) = pacing(count, spec.rate.min(MAX_RATE)) else {
        tracing::error!(
            "no UDP agents: {count} agents at {} spans/s is no pace",
            spec.rate
        );
        return UdpSummary::default();
    };
    let start = Instant::now();
    let runs = agents.agents.iter().map(|agent| {
        let first = start + stagger(agent.n - 1, count, period);
        run_agent(agent, first, period, recorder, end)
    });
    let mut summary = UdpSummary {
        agents: count,
        ..UdpSummary::default()
    };
    for part in futures_util::future::join_all(runs).await {
        summary.sent += part.sent;
        summary.refused += part.refused;
        summary.stats += part.stats;
        summary.stats_refused += part.stats_refused;
    }
    summary.closed = agents
        .agents
        .iter()
        .filter_map(|a| Some((a.agent.agent_id().to_string(), a.agent.connection_closed()?)))
        .collect();
    summary
}

/// One agent: a span every `period` from `first` until `end`, a statistics sample every
/// STAT_EVERY.
async fn run_agent(
    agent: &Agent,
    first: Instant,
    period: Duration,
    recorder: &Recorder,
    end: &Deadline,
) -> UdpSummary {
    let process = agent.agent.agent_id().to_string();
    let mut spans = tokio::time::interval_at(first, period);
    // Skip: after a stall the agent goes back to its schedule rather than sending the spans it
    // missed in a burst (which the collector's span queue may not hold).
    spans.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut stats = tokio::time::interval_at(first, STAT_EVERY);
    stats.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut summary = UdpSummary::default();
    let mut seq = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = spans.tick() => {
                if end.passed() {
                    break;
                }
                let id = span_id(agent.n, seq);
                let value = json!({
                    "id": id, "agent": process, "seq": seq, "collector": agent.collector,
                });
                recorder.record(&process, F::Trace, OpKind::Invoke, value.clone(), None);
                summary.sent += 1;
                let input = SpanInput::request(&format!("/hello/{id}"));
                match agent.agent.send_span(&input).await {
                    Ok(transaction) => {
                        let mut value = value;
                        value["transaction"] = json!(transaction.to_string());
                        recorder.record(&process, F::Trace, OpKind::Ok, value, None);
                    }
                    Err(e) => {
                        summary.refused += 1;
                        recorder.record(&process, F::Trace, OpKind::Fail, value, Some(format!("{e:#}")));
                    }
                }
                seq += 1;
            }
            _ = stats.tick() => {
                summary.stats += 1;
                let sample = StatInput {
                    jvm_cpu_load: 0.1,
                    system_cpu_load: 0.2,
                    collect_interval_ms: STAT_EVERY.as_millis() as i64,
                };
                if let Err(e) = agent.agent.send_stat(&sample).await {
                    summary.stats_refused += 1;
                    tracing::debug!("{process}: {e:#}");
                }
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn target(collectors: u8) -> UdpTarget {
        UdpTarget {
            collectors: (1..=collectors)
                .map(|i| (format!("collector-{i}"), Ipv4Addr::new(127, 0, 0, i)))
                .collect(),
            webs: Vec::new(),
            application: udp::APPLICATION.into(),
        }
    }

    #[test]
    fn agents_take_the_collectors_in_turn() {
        let target = target(2);
        let names: Vec<&str> = (1..=5)
            .map(|n| target.collector_of(n).unwrap().0.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "collector-1",
                "collector-2",
                "collector-1",
                "collector-2",
                "collector-1"
            ]
        );
        assert!(self::target(0).collector_of(1).is_none());
    }

    #[test]
    fn span_ids_travel_in_the_uri_the_reader_reads() {
        assert_eq!(agent_id(2), "udp-agent-2");
        assert_eq!(span_id(2, 17), "u2-17");
    }

    #[test]
    fn the_agent_announces_the_address_it_reaches_the_collector_from() {
        assert_eq!(
            local_ip_towards(Ipv4Addr::LOCALHOST),
            Some(IpAddr::from(Ipv4Addr::LOCALHOST))
        );
    }

    /// Agents that never registered (nothing listens: the datagrams go nowhere, as with the
    /// ports dropped) still send every span without an error, paced, each recorded ok.
    #[tokio::test]
    async fn spans_to_nobody_are_sent_paced_and_recorded_ok() {
        let recorder = Recorder::new();
        let spec: WorkloadSpec = toml::from_str(
            "kind = \"pinpoint-udp-spans\"\nclients = 2\nrate = 40\nduration = \"1s\"",
        )
        .unwrap();
        // Port 9 (discard) on loopback: nothing listens there.
        let at = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
        let mut agents = Vec::new();
        for n in 1..=2 {
            let mut options = AgentOptions::new(&agent_id(n), udp::APPLICATION);
            options.span = Some(at);
            options.stat = Some(at);
            agents.push(Agent {
                n,
                collector: "collector-1".into(),
                agent: UdpAgent::unregistered(at, options).await.unwrap(),
            });
        }
        let agents = UdpAgents { agents };
        let summary = send_spans(&spec, &agents, &recorder, &Deadline::for_workload(&spec)).await;
        // At most the paced 40 (a loaded host skips missed ticks, so fewer is fine).
        assert!((1..=44).contains(&summary.sent), "{summary:?}");
        assert_eq!(summary.refused, 0, "{summary:?}");
        assert_eq!(
            summary.stats, 2,
            "one sample each at the start: {summary:?}"
        );
        assert!(summary.closed.is_empty());
        let history = recorder.snapshot();
        let oks: BTreeSet<&str> = history
            .with_f(F::Trace)
            .filter(|op| op.kind == OpKind::Ok)
            .map(|op| op.value["id"].as_str().unwrap())
            .collect();
        assert_eq!(oks.len() as u64, summary.sent);
        assert!(oks.contains("u1-0") && oks.contains("u2-0"), "{oks:?}");
        let first = history.with_f(F::Trace).next().unwrap();
        assert_eq!(first.process, "udp-agent-1");
        assert_eq!(first.value["collector"], "collector-1");
        assert!(agents.close().await.is_empty());
    }

    #[tokio::test]
    async fn the_rate_is_held_below_what_a_collector_drains() {
        let recorder = Recorder::new();
        let spec: WorkloadSpec = toml::from_str(
            "kind = \"pinpoint-udp-spans\"\nclients = 1\nrate = 5000\nduration = \"200ms\"",
        )
        .unwrap();
        let at = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
        let mut options = AgentOptions::new(&agent_id(1), udp::APPLICATION);
        options.span = Some(at);
        options.stat = Some(at);
        let agents = UdpAgents {
            agents: vec![Agent {
                n: 1,
                collector: "collector-1".into(),
                agent: UdpAgent::unregistered(at, options).await.unwrap(),
            }],
        };
        let summary = send_spans(&spec, &agents, &recorder, &Deadline::for_workload(&spec)).await;
        // 200 ms at MAX_RATE is 100 spans; at the asked 5000/s it would be 1000. A loaded host
        // skips missed ticks, so fewer is fine; more is not.
        assert!((1..=102).contains(&summary.sent), "{summary:?}");
    }
}

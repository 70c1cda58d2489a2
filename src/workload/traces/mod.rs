//! The trace workload and its emitters: emitters built on the SkyWalking Rust agent send traces
//! to the OAP collector at a steady rate, each hand-over to the agent and its outcome recorded
//! (the agent's plumbing is in `reporter`); a reader polls the GraphQL query API for the traces
//! the OAP can show, and after heal a drain waits for the rest (`reader`). Pinpoint's workloads:
//! requests to the agent-traced application (`pinpoint`), and chaosbed as a Thrift agent sending
//! spans over UDP (`pinpoint_udp`); the same reader finds both through the web.

mod pinpoint;
mod pinpoint_udp;
mod reader;
mod reporter;
mod skywalking_source;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use skywalking::trace::span::HandleSpanObject as _;
use skywalking::trace::tracer::Tracer;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::history::Recorder;
use crate::scenario::WorkloadSpec;
use crate::workload::Deadline;

pub use pinpoint::{PinpointSource, RequestSummary, RequestTarget, request};
pub use pinpoint_udp::{
    MAX_RATE as UDP_MAX_RATE, UdpAgents, UdpSummary, UdpTarget, register as register_udp_agents,
    send_spans,
};
pub use reader::{DrainSummary, Reader, TraceSource, start_reader};
use reporter::{Hooks, Reporter};

/// How long a gRPC connection attempt to the collector may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the reporters get at the end to hand what they hold to the collector.
const FLUSH_DEADLINE: Duration = Duration::from_secs(15);

/// Where the emitters send and the reader asks.
#[derive(Debug, Clone)]
pub struct Target {
    /// The agents' gRPC collector, e.g. `http://172.20.0.9:11800` (the load balancer).
    pub collector: String,
    /// Where GraphQL is asked, in turn: node name and address (usually the load balancer).
    pub query: Vec<(String, Ipv4Addr)>,
    /// The service the emitters report as (`system::skywalking::SERVICE`).
    pub service: String,
}

/// What the emitters did, as they counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmitSummary {
    /// Traces handed to the agent (Trace invokes).
    pub emitted: u64,
    /// Taken for the gRPC stream (Trace ok).
    pub taken: u64,
    /// Refused by the agent (Trace fail).
    pub refused: u64,
    /// Outcome unknown: a reporter did not finish within its deadline (Trace info).
    pub unknown: u64,
    /// gRPC streams to the collector that failed.
    pub stream_errors: u64,
}

/// The per-emitter pace that makes `clients` emitters together send `rate` traces a second;
/// `None` when that is no pace at all.
fn pacing(clients: u32, rate: f64) -> Option<Duration> {
    if clients == 0 || !rate.is_finite() || rate <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(f64::from(clients) / rate)
        .ok()
        .filter(|p| !p.is_zero())
}

/// Emitter `n`'s first tick after the start: the emitters are spread evenly over one period
/// instead of all sending at the same instants.
fn stagger(n: u32, clients: u32, period: Duration) -> Duration {
    period.mul_f64(f64::from(n) / f64::from(clients.max(1)))
}

/// Runs `spec.clients` emitters (`emitter-0`, ...) that together send `spec.rate` traces a
/// second for `spec.duration`, each through an agent reporter of its own; then shuts the
/// reporters down, giving them FLUSH_DEADLINE to hand over what they hold, and returns.
///
/// Each emitter's reporter runs on a thread of its own: the emitters stay on the caller's
/// runtime, and a reporter pausing after a failed stream (see STREAM_BACKOFF_MIN) pauses nothing
/// else.
pub async fn emit(
    spec: &WorkloadSpec,
    target: &Target,
    recorder: &Recorder,
    end: &Deadline,
) -> EmitSummary {
    let pace = Pace {
        clients: spec.clients,
        rate: spec.rate,
        flush: FLUSH_DEADLINE,
    };
    emit_paced(pace, target, recorder, end).await
}

/// How many emitters send how fast, and how long their reporters get to flush.
#[derive(Debug, Clone, Copy)]
struct Pace {
    clients: u32,
    rate: f64,
    flush: Duration,
}

async fn emit_paced(
    pace: Pace,
    target: &Target,
    recorder: &Recorder,
    end: &Deadline,
) -> EmitSummary {
    let Some(period) = pacing(pace.clients, pace.rate) else {
        tracing::error!(
            "no trace emitters: {} clients at {} traces/s is no pace",
            pace.clients,
            pace.rate
        );
        return EmitSummary::default();
    };
    let endpoint = match endpoint(&target.collector) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            tracing::error!("no trace emitters: {e:#}");
            return EmitSummary::default();
        }
    };
    let mut emitters = Vec::new();
    for n in 0..pace.clients {
        let hooks = Arc::new(Hooks::new(n, recorder.clone()));
        match Reporter::start(&endpoint, &target.service, pace.flush, hooks.clone()).await {
            Ok(reporter) => emitters.push((hooks, reporter)),
            Err(e) => tracing::error!("trace emitter {}: {e:#}", hooks.process),
        }
    }
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (n, (hooks, reporter)) in (0u32..).zip(&emitters) {
        let first = start + stagger(n, pace.clients, period);
        tasks.spawn(run_emitter(
            reporter.tracer.clone(),
            hooks.clone(),
            first,
            period,
            end.clone(),
        ));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!("a trace emitter crashed: {e}");
        }
    }
    let stops = emitters.into_iter().map(|(hooks, reporter)| async move {
        let outcome = reporter.stop().await;
        hooks.settle_rest(&outcome);
        hooks.summary()
    });
    let mut summary = EmitSummary::default();
    for part in futures_util::future::join_all(stops).await {
        summary.emitted += part.emitted;
        summary.taken += part.taken;
        summary.refused += part.refused;
        summary.unknown += part.unknown;
        summary.stream_errors += part.stream_errors;
    }
    tracing::debug!("trace emitters done: {summary:?}");
    summary
}

fn endpoint(collector: &str) -> anyhow::Result<tonic::transport::Endpoint> {
    Ok(
        tonic::transport::Endpoint::from_shared(collector.to_string())
            .with_context(|| format!("collector address {collector:?}"))?
            .connect_timeout(CONNECT_TIMEOUT),
    )
}

/// Sends one trace every `period` from `first` until `end`.
async fn run_emitter(
    tracer: Tracer,
    hooks: Arc<Hooks>,
    first: Instant,
    period: Duration,
    end: Deadline,
) {
    let mut tick = tokio::time::interval_at(first, period);
    // Skip: after a stall (a starved runtime) the emitter goes back to its schedule and the
    // traces it could not send are not sent, rather than sent all at once in a burst the scenario
    // did not ask for.
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let operation = format!("/chaos/{}", hooks.emitter);
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        if end.passed() {
            break;
        }
        emit_one(&tracer, &hooks, &operation, seq);
        seq += 1;
    }
}

/// One trace: an entry span and a child exit span, handed to the agent when the context drops.
/// The operation name is the emitter's, not the trace's (the sequence number is a tag): every
/// distinct name is an endpoint the OAP keeps metrics for.
fn emit_one(tracer: &Tracer, hooks: &Hooks, operation: &str, seq: u64) {
    let mut context = tracer.create_trace_context();
    {
        let mut entry = context.create_entry_span(operation);
        entry.add_tag("chaos.seq", seq.to_string());
        let exit = context.create_exit_span("chaos-downstream", "chaos-downstream:80");
        drop(exit);
        drop(entry);
    }
    hooks.invoke(context.trace_id(), seq);
    // Dropping the context converts it to a segment and reports it.
    drop(context);
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;
    use crate::history::{F, History, OpKind};

    #[test]
    fn pacing_splits_the_rate_over_the_emitters() {
        assert_eq!(pacing(3, 20.0), Some(Duration::from_millis(150)));
        assert_eq!(pacing(1, 1000.0), Some(Duration::from_millis(1)));
        assert_eq!(pacing(4, 0.5), Some(Duration::from_secs(8)));
        assert_eq!(pacing(0, 20.0), None);
        assert_eq!(pacing(3, 0.0), None);
        assert_eq!(pacing(3, -1.0), None);
        assert_eq!(pacing(3, f64::NAN), None);
        assert_eq!(pacing(3, f64::INFINITY), None);
        assert_eq!(pacing(1, 1e300), None);
    }

    #[test]
    fn emitters_are_spread_over_one_period() {
        let period = Duration::from_millis(150);
        let offsets: Vec<_> = (0..3).map(|n| stagger(n, 3, period)).collect();
        assert_eq!(
            offsets,
            [0, 50, 100].map(Duration::from_millis).to_vec(),
            "evenly spread"
        );
        assert_eq!(stagger(0, 1, period), Duration::ZERO);
    }

    /// Every Trace invoke with exactly one completion, all by the invoking emitter.
    fn assert_each_invoke_settles_once(history: &History) {
        let mut open: HashMap<String, String> = HashMap::new();
        let mut settled = BTreeSet::new();
        for op in history.with_f(F::Trace) {
            let id = op.value["id"].as_str().unwrap().to_string();
            match op.kind {
                OpKind::Invoke => assert!(open.insert(id, op.process.clone()).is_none()),
                _ => {
                    let process = open
                        .remove(&id)
                        .unwrap_or_else(|| panic!("{id} settled twice"));
                    assert_eq!(process, op.process);
                    settled.insert(id);
                }
            }
        }
        assert!(open.is_empty(), "never settled: {open:?}");
    }

    #[tokio::test]
    async fn with_the_collector_refusing_every_trace_still_settles_and_retries_back_off() {
        let recorder = Recorder::new();
        let target = Target {
            collector: "http://127.0.0.1:1".into(),
            query: vec![],
            service: "chaosbed-test".into(),
        };
        let pace = Pace {
            clients: 2,
            rate: 100.0,
            flush: Duration::from_millis(500),
        };
        let end = Deadline::after(Duration::from_secs(2));
        let summary = emit_paced(pace, &target, &recorder, &end).await;
        eprintln!("{summary:?}");
        let history = recorder.snapshot();
        assert_each_invoke_settles_once(&history);
        assert!((150..=210).contains(&summary.emitted), "{summary:?}");
        assert_eq!(
            summary.emitted,
            summary.taken + summary.refused + summary.unknown,
            "{summary:?}"
        );
        assert!(summary.stream_errors > 0, "{summary:?}");
        // Without the backoff the agent retries a refused connection thousands of times a second.
        assert!(summary.stream_errors < 200, "{summary:?}");
    }
}

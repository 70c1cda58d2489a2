//! `cargo xtask bench skywalking`: the time until a SkyWalking stack (3 ZooKeeper, PostgreSQL,
//! the OAP schema job, 3 OAP, NGINX) is ready, then the trace emitters' sustained rate and the
//! traces' delivery latency without faults, through the load balancer (lb-1) and, as the
//! baseline in the same run, straight to one OAP node (oap-1: agents on 11800, queries on
//! 12800), in alternating order, printed side by side with their ratio: what NGINX costs.
//!
//! Each round runs `--clients` emitters at one of `--rates` for `--duration-secs`, with the
//! trace reader polling the same side's query API, then a drain of up to DRAIN_DEADLINE; every
//! number comes from that round's history. A round reports as a service of its own, so no round
//! sees another's traces. The sustained rate is the traces the agents' reporters took (Trace
//! ok) over the time from the first Trace invoke to the last Trace ok. Delivery latency is a
//! trace's first TraceFound minus its Trace invoke; the reader polls once a second (and a poll
//! takes the listing's own time), so latencies have about one second of resolution and include
//! up to a second of waiting for the next poll.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::MultiProgress;

use super::stack;
use super::stats::{TraceRound, percentile_duration, ratio, secs};
use chaosbed::backend::RunId;
use chaosbed::backend::docker::DockerBackend;
use chaosbed::history::{History, Recorder};
use chaosbed::scenario::{Scenario, WorkloadSpec};
use chaosbed::system::skywalking::{GRPC_PORT, HTTP_PORT};
use chaosbed::workload::Deadline;
use chaosbed::workload::traces::{self, EmitSummary, Target};

#[derive(clap::Args, Clone)]
#[group(id = "skywalking-bench")]
pub struct Args {
    /// Trace rates asked of the emitters together, traces/s, comma separated; each is measured
    /// through the load balancer and straight to oap-1.
    #[arg(long, value_delimiter = ',', default_value = "50,200,800")]
    rates: Vec<f64>,
    /// Trace emitters, each with an agent reporter of its own.
    #[arg(long, default_value_t = 2)]
    clients: u32,
    /// Seconds of traces through the load balancer (at the first rate) before the first
    /// measured round, so neither side meets cold OAP JVMs.
    #[arg(long, default_value_t = 15)]
    skywalking_warmup_secs: u64,
}

const READY_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a round's drain waits for traces not found yet.
const DRAIN_DEADLINE: Duration = Duration::from_secs(60);

const SCENARIO: &str = r#"
name = "bench-skywalking"
description = "cargo xtask bench skywalking: 3 ZooKeeper, PostgreSQL, 3 OAP and NGINX for trace rate and delivery latency"
tier = "full"

[topology.zookeeper]
nodes = 3

[topology.postgres]
nodes = 1

[topology.skywalking]
nodes = 3

[topology.nginx]
nodes = 1

[workload]
kind = "skywalking-traces"
clients = 2
rate = 50
duration = "20s"

# Scenarios must name a check; stand_up runs none.
[[check]]
kind = "traces"
"#;

/// Where a round's emitters report and its reader asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Through NGINX (lb-1).
    Lb,
    /// Straight to oap-1.
    Direct,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Lb => "lb",
            Side::Direct => "direct",
        }
    }
}

/// One round's numbers, from its history.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Sample {
    /// Traces handed to the agents (Trace invokes).
    emitted: u64,
    /// Taken by the reporters for their gRPC streams (Trace ok).
    taken: u64,
    /// Refused by the agents (Trace fail).
    refused: u64,
    /// Outcome unknown (Trace info).
    unknown: u64,
    /// Taken per second, from the first Trace invoke to the last Trace ok.
    sustained: f64,
    /// Traces not refused that the reader found.
    found: u64,
    /// Traces not refused that the reader never found.
    lost: u64,
    /// Delivery latency: first TraceFound minus Trace invoke.
    p50: Option<Duration>,
    p99: Option<Duration>,
    /// How long the reader's answered polls took (every page of the listing): a find waits for
    /// its poll to end, so this is part of the latency.
    poll_p50: Option<Duration>,
    poll_max: Option<Duration>,
    /// Polls that failed or were cut short.
    failed_polls: u64,
}

pub async fn run(args: Args, duration: Duration) -> anyhow::Result<ExitCode> {
    if args.rates.is_empty() || args.rates.iter().any(|r| !r.is_finite() || *r <= 0.0) {
        bail!("--rates must be positive traces/s, got {:?}", args.rates);
    }
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let docker = chaosbed::provision::engine().await?;
    let progress = MultiProgress::new();
    let scenario = chaosbed::scenario::parse("bench-skywalking.toml", SCENARIO)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    stack::ensure_images(
        &docker,
        &[
            chaosbed::system::zookeeper::KIND,
            chaosbed::system::postgres::KIND,
            chaosbed::system::skywalking::KIND,
            chaosbed::system::nginx::KIND,
        ],
        &progress,
    )
    .await?;
    println!(
        "rates {:?} traces/s, {} emitters, {} s per round, drain up to {} s, {} s warm-up",
        args.rates,
        args.clients,
        duration.as_secs(),
        DRAIN_DEADLINE.as_secs(),
        args.skywalking_warmup_secs
    );

    let mut backend = DockerBackend::new(docker.clone(), RunId::new("bench-skywalking"));
    stack::measure_then_remove(&mut backend, async |backend| {
        measure(&args, duration, &scenario, &docker, backend, &progress).await
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn measure(
    args: &Args,
    duration: Duration,
    scenario: &Scenario,
    docker: &bollard::Docker,
    backend: &mut DockerBackend,
    progress: &MultiProgress,
) -> anyhow::Result<()> {
    let begin = Instant::now();
    let (cluster, lines) = chaosbed::runner::stand_up(
        scenario,
        docker,
        backend,
        chaosbed::runner::FaultTools::of(scenario),
        READY_TIMEOUT,
        progress,
    )
    .await
    .context("standing up the SkyWalking stack")?;
    let ready = begin.elapsed();
    println!(
        "stack ready (3 ZooKeeper, PostgreSQL, OAP schema, 3 OAP, NGINX) in {:.1}s: {}",
        ready.as_secs_f64(),
        lines.join("; ")
    );
    let lb = cluster
        .of(chaosbed::system::nginx::KIND)
        .into_iter()
        .next()
        .context("the stack has no load balancer")?;
    let oap = cluster
        .of(chaosbed::system::skywalking::KIND)
        .into_iter()
        .next()
        .context("the stack has no OAP node")?;
    let node = |side: Side| match side {
        Side::Lb => lb.clone(),
        Side::Direct => oap.clone(),
    };

    if args.skywalking_warmup_secs > 0 {
        let (name, address) = node(Side::Lb);
        let target = target(&name, address, "chaosbed-bench-warmup".into());
        let spec = workload(
            args.clients,
            args.rates[0],
            Duration::from_secs(args.skywalking_warmup_secs),
        )?;
        let sent = traces::emit(
            &spec,
            &target,
            &Recorder::new(),
            &Deadline::for_workload(&spec),
        )
        .await;
        println!(
            "warmed up for {} s through {name}: {} traces emitted, {} taken",
            args.skywalking_warmup_secs, sent.emitted, sent.taken
        );
    }

    let mut rows = Vec::new();
    for (i, &rate) in args.rates.iter().enumerate() {
        let order = if i % 2 == 0 {
            [Side::Lb, Side::Direct]
        } else {
            [Side::Direct, Side::Lb]
        };
        let (mut lb_sample, mut direct_sample) = (Sample::default(), Sample::default());
        for side in order {
            let (name, address) = node(side);
            let service = format!("chaosbed-bench-{}-{}-{rate}", i + 1, side.name());
            let sample = round(args.clients, rate, duration, &name, address, service).await?;
            match side {
                Side::Lb => lb_sample = sample,
                Side::Direct => direct_sample = sample,
            }
        }
        rows.push((rate, lb_sample, direct_sample));
    }
    print_table(ready, &rows, args.clients, duration);
    Ok(())
}

fn target(node: &str, address: Ipv4Addr, service: String) -> Target {
    Target {
        collector: format!("http://{address}:{GRPC_PORT}"),
        query: vec![(node.to_string(), address)],
        service,
    }
}

fn workload(clients: u32, rate: f64, duration: Duration) -> anyhow::Result<WorkloadSpec> {
    let mut spec: WorkloadSpec = toml::from_str(&format!(
        "kind = \"skywalking-traces\"\nclients = {clients}\nduration = \"{}ms\"",
        duration.as_millis()
    ))
    .context("a literal workload spec parses")?;
    spec.rate = rate;
    Ok(spec)
}

/// One measured round: the reader polling `node`, the emitters reporting to it, the drain.
async fn round(
    clients: u32,
    rate: f64,
    duration: Duration,
    node: &str,
    address: Ipv4Addr,
    service: String,
) -> anyhow::Result<Sample> {
    let target = target(node, address, service);
    let spec = workload(clients, rate, duration)?;
    let recorder = Recorder::new();
    let reader = traces::start_reader(&target, &recorder);
    let sent: EmitSummary =
        traces::emit(&spec, &target, &recorder, &Deadline::for_workload(&spec)).await;
    let drained = reader.drain(DRAIN_DEADLINE, DRAIN_DEADLINE).await;
    let history = recorder.snapshot();
    let sample = summarize(&history);
    println!(
        "{rate}/s via {node} ({}): emitted {}, taken {} ({:.1}/s), refused {}, unknown {}, \
         stream errors {}; found {}, lost {} (drain {:.1}s); \
         p50 {}, p99 {}; polls p50 {}, max {}, {} failed",
        target.collector,
        sample.emitted,
        sample.taken,
        sample.sustained,
        sample.refused,
        sample.unknown,
        sent.stream_errors,
        sample.found,
        sample.lost,
        drained.elapsed.as_secs_f64(),
        secs(sample.p50),
        secs(sample.p99),
        secs(sample.poll_p50),
        secs(sample.poll_max),
        sample.failed_polls,
    );
    if sample.taken == 0 {
        bail!(
            "no trace was taken by the agents' reporters via {node}: {sent:?}; is {address}:{GRPC_PORT} (queries on {HTTP_PORT}) up?"
        );
    }
    Ok(sample)
}

/// A round's numbers from its history: Trace invoke/ok/fail/info and TraceFound.
fn summarize(history: &History) -> Sample {
    let round = TraceRound::of(history);
    let (latencies, lost) = round.deliveries();
    Sample {
        emitted: round.invoked.len() as u64,
        taken: round.ok.len() as u64,
        refused: round.failed.len() as u64,
        unknown: round.unknown,
        sustained: round.sustained(),
        found: latencies.len() as u64,
        lost,
        p50: percentile_duration(&latencies, 0.50),
        p99: percentile_duration(&latencies, 0.99),
        poll_p50: percentile_duration(&round.polls, 0.50),
        poll_max: round.polls.last().copied().map(Duration::from_nanos),
        failed_polls: round.failed_polls,
    }
}

fn print_table(ready: Duration, rows: &[(f64, Sample, Sample)], clients: u32, duration: Duration) {
    println!();
    println!(
        "stack ready (stand_up: 3 ZooKeeper, PostgreSQL, OAP schema, 3 OAP, NGINX)  {:.1}s",
        ready.as_secs_f64()
    );
    println!(
        "{clients} emitters, {} s per round; lb = through NGINX (lb-1), direct = oap-1:{GRPC_PORT} \
         (queries {HTTP_PORT})",
        duration.as_secs()
    );
    println!(
        "{:>7}  {:<9} {:>8} {:>8} {:>12} {:>8} {:>6} {:>8} {:>8} {:>9}",
        "rate/s",
        "side",
        "emitted",
        "taken",
        "sustained/s",
        "found",
        "lost",
        "p50",
        "p99",
        "poll p50"
    );
    for (rate, lb, direct) in rows {
        for (side, s) in [(Side::Lb, lb), (Side::Direct, direct)] {
            println!(
                "{:>7}  {:<9} {:>8} {:>8} {:>12.1} {:>8} {:>6} {:>8} {:>8} {:>9}",
                rate,
                side.name(),
                s.emitted,
                s.taken,
                s.sustained,
                s.found,
                s.lost,
                secs(s.p50),
                secs(s.p99),
                secs(s.poll_p50)
            );
        }
        let p50 = |s: &Sample| s.p50.map(|d| d.as_secs_f64());
        println!(
            "{:>7}  {:<9} {:>8} {:>8} {:>12} {:>8} {:>6} {:>8}",
            "",
            "lb/direct",
            "",
            "",
            ratio(Some(lb.sustained), Some(direct.sustained)),
            "",
            "",
            ratio(p50(lb), p50(direct)),
        );
    }
    println!(
        "sustained: traces the agents' reporters took / (last taken - first emitted).\n\
         p50, p99: delivery latency, a trace's first find through the same side's query API - its\n\
         hand-over to the agent. The reader polls once a second (plus the listing's own time), so\n\
         latencies have ~1 s resolution and include up to 1 s of waiting for the next poll.\n\
         poll p50: the median time one reader poll took (every page of the service's listing);\n\
         a find is recorded when its poll ends, so this is part of each latency.\n\
         lost: emitted, not refused by the agent, never found within the {} s drain.",
        DRAIN_DEADLINE.as_secs()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::ops::{op, poll};
    use chaosbed::history::{F, OpKind};

    #[test]
    fn a_round_is_summarized_from_its_history() {
        use F::{Trace, TraceFound};
        use OpKind::{Fail, Info, Invoke, Ok};
        let e = "emitter-0";
        let r = "reader";
        let ops = vec![
            op(0, 0, e, Trace, Invoke, "a"),
            op(1, 1, e, Trace, Ok, "a"),
            op(2, 500, e, Trace, Invoke, "b"),
            op(3, 501, e, Trace, Ok, "b"),
            op(4, 1000, e, Trace, Invoke, "c"),
            op(5, 1001, e, Trace, Fail, "c"),
            op(6, 1500, e, Trace, Invoke, "d"),
            op(7, 1501, e, Trace, Info, "d"),
            op(8, 2000, e, Trace, Invoke, "e"),
            op(9, 2001, e, Trace, Ok, "e"),
            // a: found after 1.2 s, then again with more segments (not a new find).
            op(10, 1200, r, TraceFound, Ok, "a"),
            op(11, 2200, r, TraceFound, Ok, "a"),
            op(12, 3500, r, TraceFound, Ok, "b"),
            // e never found; d (outcome unknown) found; a trace of nobody here ignored.
            op(13, 3500, r, TraceFound, Ok, "d"),
            op(14, 3600, r, TraceFound, Ok, "x"),
            // Polls carry no id: one of 300 ms, one failed, one of 100 ms.
            poll(15, 3000, Invoke, "lb-1"),
            poll(16, 3300, Ok, "lb-1"),
            poll(17, 4000, Invoke, "lb-1"),
            poll(18, 4100, Fail, "lb-1"),
            poll(19, 5000, Invoke, "lb-1"),
            poll(20, 5100, Ok, "lb-1"),
        ];
        let s = summarize(&History::new(ops));
        assert_eq!(
            (s.emitted, s.taken, s.refused, s.unknown),
            (5, 3, 1, 1),
            "{s:?}"
        );
        // 3 taken from 0 ms to 2001 ms.
        assert!((s.sustained - 3.0 / 2.001).abs() < 1e-9, "{s:?}");
        // a, b, d found; e lost; c refused is neither.
        assert_eq!((s.found, s.lost), (3, 1), "{s:?}");
        // Latencies 1.2 s (a), 2.0 s (d), 3.0 s (b).
        assert_eq!(s.p50, Some(Duration::from_millis(2000)));
        assert_eq!(s.p99, Some(Duration::from_millis(3000)));
        assert_eq!(s.poll_p50, Some(Duration::from_millis(100)));
        assert_eq!(s.poll_max, Some(Duration::from_millis(300)));
        assert_eq!(s.failed_polls, 1);
    }

    #[test]
    fn a_round_with_nothing_found_has_no_latency() {
        let ops = vec![op(0, 0, "emitter-0", F::Trace, OpKind::Invoke, "a")];
        let s = summarize(&History::new(ops));
        assert_eq!((s.emitted, s.taken, s.found, s.lost), (1, 0, 0, 1));
        assert_eq!((s.p50, s.p99, s.sustained), (None, None, 0.0));
    }

    #[test]
    fn the_scenario_parses() {
        let scenario = chaosbed::scenario::parse("bench-skywalking.toml", SCENARIO).unwrap();
        assert!(scenario.faults.is_empty());
    }

    #[test]
    fn the_round_workload_parses() {
        let spec = workload(2, 800.0, Duration::from_secs(20)).unwrap();
        assert_eq!((spec.clients, spec.rate), (2, 800.0));
        assert_eq!(
            spec.duration.get_ref().as_duration(),
            Duration::from_secs(20)
        );
    }
}

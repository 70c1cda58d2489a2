//! `cargo xtask bench pinpoint`: the time until a Pinpoint stack (3 ZooKeeper, HBase, 3
//! collectors, 3 webs, one application traced by the Pinpoint agent) is ready, then what the
//! agent costs the application and how long a request takes to become a transaction the web API
//! shows, without faults. The baseline, in the same run and on the same network, is a second
//! copy of the application started without the agent (same image, same heap, `java` without
//! `-javaagent`).
//!
//! Each rate of `--pinpoint-rates` is measured on both copies in alternating order: `--pinpoint-
//! clients` requesters send GET /hello/<id> for `--duration-secs`. On the traced copy the trace
//! reader polls the webs during the round, then a drain waits up to DRAIN_DEADLINE for the
//! transactions not found yet. Every number comes from that round's history. Request ids restart
//! with every round, so each round's ids carry a prefix of their own and its reader's window
//! opens just before the round: no round can count another's transactions.
//!
//! Request latency is Trace ok minus Trace invoke (the answered requests). Delivery latency is a
//! request's first TraceFound minus its Trace invoke; the reader polls once a second (and a poll
//! takes the web's own time), so it has about one second of resolution and includes up to a
//! second of waiting for the next poll.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use indicatif::MultiProgress;

use super::stack;
use super::stats::{TraceRound, percentile_duration, ratio, secs};
use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, RunId};
use chaosbed::history::{History, Recorder};
use chaosbed::scenario::{Scenario, WorkloadSpec};
use chaosbed::system::pinpoint::app;
use chaosbed::workload::Deadline;
use chaosbed::workload::traces::{self, PinpointSource, RequestSummary, RequestTarget};

#[derive(clap::Args, Clone)]
#[group(id = "pinpoint-bench")]
pub struct Args {
    /// Request rates asked of the requesters together, requests/s, comma separated; each is
    /// measured on the traced application and on its untraced copy.
    #[arg(long, value_delimiter = ',', default_value = "20,100,400")]
    pinpoint_rates: Vec<f64>,
    /// Requesters sending to the application.
    #[arg(long, default_value_t = 2)]
    pinpoint_clients: u32,
    /// Seconds of requests at the highest rate to each copy of the application (the traced one
    /// with its reader) before the first measured round, so neither side meets a cold JVM.
    #[arg(long, default_value_t = 15)]
    pinpoint_warmup_secs: u64,
}

/// HBase's schema job and six JVMs on a shared machine are slow to start.
const READY_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a round's drain waits for transactions not found yet.
const DRAIN_DEADLINE: Duration = Duration::from_secs(60);
/// How far before a round's start its reader's window opens: room for the clocks of the
/// collectors (this machine's, but read at another instant) without reaching far into the
/// rounds before (their ids differ anyway; the window keeps the polls small).
const WINDOW_LEAD: Duration = Duration::from_secs(5);
/// The node index of the untraced copy (the scenario's application is app-1).
const UNTRACED_INDEX: u32 = 2;
/// The image's application without the agent: the entrypoint runs its arguments as given, and
/// JAVA_OPTS (the same heap as the traced copy) needs a shell to split into flags.
const UNTRACED_CMD: &str = r#"exec java $JAVA_OPTS -cp "/app/classes:/app/lib/*" Hello"#;

const SCENARIO: &str = r#"
name = "bench-pinpoint"
description = "cargo xtask bench pinpoint: 3 ZooKeeper, HBase, 3 collectors, 3 webs and a traced application for the agent's cost and delivery latency"
tier = "full"

[topology.zookeeper]
nodes = 3

[topology.hbase]
nodes = 1

[topology.pinpoint-collector]
nodes = 3

[topology.pinpoint-web]
nodes = 3

[topology.pinpoint-agent-app]
nodes = 1

[workload]
kind = "pinpoint-requests"
clients = 2
rate = 20
duration = "20s"

# Scenarios must name a check; stand_up runs none.
[[check]]
kind = "traces"
"#;

/// Which copy of the application a round sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// app-1, with the Pinpoint agent; its transactions are read back from the webs.
    Traced,
    /// The copy without the agent.
    Untraced,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Traced => "traced",
            Side::Untraced => "untraced",
        }
    }
}

/// One round's numbers, from its history.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Sample {
    /// Requests sent (Trace invokes).
    sent: u64,
    /// Answered 2xx (Trace ok).
    answered: u64,
    /// Answered otherwise (Trace fail).
    failed: u64,
    /// No answer in time (Trace info).
    unknown: u64,
    /// Answered per second, from the first Trace invoke to the last Trace ok.
    sustained: f64,
    /// Request latency of the answered requests: Trace ok minus Trace invoke.
    request_p50: Option<Duration>,
    request_p99: Option<Duration>,
    /// Requests not answered with a failure whose transaction the reader found.
    found: u64,
    /// Requests not answered with a failure whose transaction it never found.
    lost: u64,
    /// Delivery latency: first TraceFound minus Trace invoke.
    delivery_p50: Option<Duration>,
    delivery_p99: Option<Duration>,
    /// How long the reader's answered polls took (scatter plus metadata): a find waits for its
    /// poll to end, so this is part of the delivery latency.
    poll_p50: Option<Duration>,
    /// Polls that failed.
    failed_polls: u64,
}

pub async fn run(args: Args, duration: Duration) -> anyhow::Result<ExitCode> {
    if args.pinpoint_rates.is_empty()
        || args
            .pinpoint_rates
            .iter()
            .any(|r| !r.is_finite() || *r <= 0.0)
    {
        bail!(
            "--pinpoint-rates must be positive requests/s, got {:?}",
            args.pinpoint_rates
        );
    }
    if args.pinpoint_clients == 0 {
        bail!("--pinpoint-clients must be at least 1");
    }
    let docker = chaosbed::provision::engine().await?;
    let progress = MultiProgress::new();
    let scenario = chaosbed::scenario::parse("bench-pinpoint.toml", SCENARIO)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    stack::ensure_images(
        &docker,
        &[
            chaosbed::system::zookeeper::KIND,
            chaosbed::system::hbase::KIND,
            chaosbed::system::pinpoint::collector::KIND,
            chaosbed::system::pinpoint::web::KIND,
            chaosbed::system::pinpoint::app::KIND,
        ],
        &progress,
    )
    .await?;
    println!(
        "rates {:?} requests/s, {} requesters, {} s per round, drain up to {} s, {} s warm-up; \
         load average {} on {} CPUs (shared with other runs)",
        args.pinpoint_rates,
        args.pinpoint_clients,
        duration.as_secs(),
        DRAIN_DEADLINE.as_secs(),
        args.pinpoint_warmup_secs,
        load_average(),
        cpus(),
    );

    let mut backend = DockerBackend::new(docker.clone(), RunId::new("bench-pinpoint"));
    stack::measure_then_remove(&mut backend, async |backend| {
        measure(&args, duration, &scenario, &docker, backend, &progress).await
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The 1, 5 and 15 minute load averages, for reading the numbers on a shared machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
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
    .context("standing up the Pinpoint stack")?;
    let ready = begin.elapsed();
    println!(
        "stack ready (3 ZooKeeper, HBase, 3 collectors, 3 webs, traced app) in {:.1}s",
        ready.as_secs_f64()
    );
    for line in &lines {
        println!("  {line}");
    }
    let traced = RequestTarget {
        apps: cluster.of(chaosbed::system::pinpoint::app::KIND),
        webs: cluster.of(chaosbed::system::pinpoint::web::KIND),
        application: app::APPLICATION.to_string(),
    };
    if traced.apps.is_empty() || traced.webs.is_empty() {
        bail!(
            "the stack has applications {:?} and webs {:?}; it needs one of each",
            traced.apps,
            traced.webs
        );
    }
    let untraced = RequestTarget {
        apps: vec![start_untraced(scenario, &cluster, backend).await?],
        webs: Vec::new(),
        application: app::APPLICATION.to_string(),
    };
    let target = |side: Side| match side {
        Side::Traced => &traced,
        Side::Untraced => &untraced,
    };

    if args.pinpoint_warmup_secs > 0 {
        let rate = args.pinpoint_rates.iter().copied().fold(0.0, f64::max);
        let warmup = Duration::from_secs(args.pinpoint_warmup_secs);
        for side in [Side::Traced, Side::Untraced] {
            let sample = round(
                side,
                target(side),
                workload(args.pinpoint_clients, rate, warmup)?,
                &format!("w-{}-", side.name()),
            )
            .await
            .with_context(|| format!("warming up the {} application", side.name()))?;
            println!(
                "warmed up {} for {} s at {rate}/s: {} sent, {} answered{}",
                side.name(),
                warmup.as_secs(),
                sample.sent,
                sample.answered,
                if side == Side::Traced {
                    format!(
                        ", {} transactions found, {} lost",
                        sample.found, sample.lost
                    )
                } else {
                    String::new()
                }
            );
        }
    }

    let mut rows = Vec::new();
    for (i, &rate) in args.pinpoint_rates.iter().enumerate() {
        let order = if i % 2 == 0 {
            [Side::Traced, Side::Untraced]
        } else {
            [Side::Untraced, Side::Traced]
        };
        let (mut traced_sample, mut untraced_sample) = (Sample::default(), Sample::default());
        for side in order {
            let spec = workload(args.pinpoint_clients, rate, duration)?;
            let sample = round(side, target(side), spec, &format!("k{}-", i + 1)).await?;
            match side {
                Side::Traced => traced_sample = sample,
                Side::Untraced => untraced_sample = sample,
            }
        }
        rows.push((rate, traced_sample, untraced_sample));
    }
    print_table(&Report {
        ready,
        lines: &lines,
        rows: &rows,
        clients: args.pinpoint_clients,
        duration,
    });
    Ok(())
}

/// Creates and starts the copy of the application without the agent on the run's network;
/// returns its name and address once its /health answers.
async fn start_untraced(
    scenario: &Scenario,
    cluster: &chaosbed::runner::Cluster,
    backend: &mut DockerBackend,
) -> anyhow::Result<(String, Ipv4Addr)> {
    let system = chaosbed::system::pinpoint::app::KIND;
    let spec = scenario
        .topology
        .spec(system)
        .context("the bench scenario has no [topology.pinpoint-agent-app]")?;
    let image = cluster
        .images
        .get(system.name())
        .with_context(|| format!("the stand-up recorded no image for {system}"))?;
    let mut container = app::container_spec(spec, image, UNTRACED_INDEX);
    container.cmd = Some(untraced_cmd());
    let node = container.node.clone();
    let begin = Instant::now();
    let address = backend.create(&container).await.with_context(|| {
        format!("creating the untraced application {node} from {image}; is the image still there?")
    })?;
    backend
        .start(&node)
        .await
        .with_context(|| format!("starting the untraced application {node}"))?;
    let nodes = [(node.clone(), address)];
    if let Err(e) = app::wait_ready(&nodes, READY_TIMEOUT).await {
        let logs = backend.logs(&node).await.unwrap_or_default();
        let tail: Vec<&str> = logs.lines().rev().take(20).collect();
        bail!(
            "the untraced application {node} never answered /health on {address}:{}: {e:#}; \
             its last lines:\n{}",
            app::HTTP_PORT,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    println!(
        "untraced copy {node} ({address}, no -javaagent) ready in {:.1}s",
        begin.elapsed().as_secs_f64()
    );
    Ok((node, address))
}

/// The untraced copy's command: the image's entrypoint runs its arguments as given.
fn untraced_cmd() -> Vec<String> {
    vec!["bash".into(), "-c".into(), UNTRACED_CMD.into()]
}

fn workload(clients: u32, rate: f64, duration: Duration) -> anyhow::Result<WorkloadSpec> {
    let mut spec: WorkloadSpec = toml::from_str(&format!(
        "kind = \"pinpoint-requests\"\nclients = {clients}\nduration = \"{}ms\"",
        duration.as_millis()
    ))
    .context("a literal workload spec parses")?;
    spec.rate = rate;
    Ok(spec)
}

/// One round: the requesters sending to `side`'s application, their ids starting with
/// `id_prefix`; on the traced side the reader polling the webs from just before the round on,
/// and its drain.
async fn round(
    side: Side,
    target: &RequestTarget,
    spec: WorkloadSpec,
    id_prefix: &str,
) -> anyhow::Result<Sample> {
    let recorder = Recorder::new();
    let (sent, drain) = match side {
        Side::Traced => {
            let from = SystemTime::now() - WINDOW_LEAD;
            let source = PinpointSource::new(target.application.clone(), from.into());
            let reader = traces::Reader::start(source, target.webs.clone(), &recorder);
            let sent = target
                .request_with_id_prefix(&spec, id_prefix, &recorder, &Deadline::for_workload(&spec))
                .await;
            (
                sent,
                Some(reader.drain(DRAIN_DEADLINE, DRAIN_DEADLINE).await),
            )
        }
        Side::Untraced => (
            target
                .request_with_id_prefix(&spec, id_prefix, &recorder, &Deadline::for_workload(&spec))
                .await,
            None,
        ),
    };
    let sample = summarize(&recorder.snapshot());
    let (app_name, address) = &target.apps[0];
    let delivery = match &drain {
        Some(drain) => format!(
            "; found {}, lost {} (drain {:.1}s); delivery p50 {}, p99 {}; polls p50 {}, {} failed",
            sample.found,
            sample.lost,
            drain.elapsed.as_secs_f64(),
            secs(sample.delivery_p50),
            secs(sample.delivery_p99),
            secs(sample.poll_p50),
            sample.failed_polls
        ),
        None => String::new(),
    };
    println!(
        "{}/s {} {app_name}: sent {}, answered {} ({:.1}/s), failed {}, unknown {}; \
         request p50 {}, p99 {}{delivery}",
        spec.rate,
        side.name(),
        sample.sent,
        sample.answered,
        sample.sustained,
        sample.failed,
        sample.unknown,
        millis(sample.request_p50),
        millis(sample.request_p99),
    );
    if sample.answered == 0 {
        let RequestSummary {
            sent,
            failed,
            unknown,
            ..
        } = sent;
        bail!(
            "{app_name} ({}) answered none of {sent} requests ({failed} failed, {unknown} \
             unanswered); is {address}:{} up? `docker logs` its container",
            side.name(),
            app::HTTP_PORT
        );
    }
    Ok(sample)
}

/// A round's numbers from its history: Trace invoke/ok/fail/info, TraceFound and TraceQuery.
fn summarize(history: &History) -> Sample {
    let round = TraceRound::of(history);
    let mut requests: Vec<u64> = round
        .ok
        .iter()
        .filter_map(|(id, ok)| Some(ok.saturating_sub(*round.invoked.get(id)?)))
        .collect();
    requests.sort_unstable();
    // As the reader expects: every request not answered with a failure (an unanswered one may
    // still have been traced).
    let (deliveries, lost) = round.deliveries();
    Sample {
        sent: round.invoked.len() as u64,
        answered: round.ok.len() as u64,
        failed: round.failed.len() as u64,
        unknown: round.unknown,
        sustained: round.sustained(),
        request_p50: percentile_duration(&requests, 0.50),
        request_p99: percentile_duration(&requests, 0.99),
        found: deliveries.len() as u64,
        lost,
        delivery_p50: percentile_duration(&deliveries, 0.50),
        delivery_p99: percentile_duration(&deliveries, 0.99),
        poll_p50: percentile_duration(&round.polls, 0.50),
        failed_polls: round.failed_polls,
    }
}

fn millis(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_string(),
        |d| format!("{:.2}ms", d.as_secs_f64() * 1000.0),
    )
}

/// Which sides sent under 90% of the `asked` requests, if any.
fn behind(asked: u64, traced: &Sample, untraced: &Sample) -> Option<&'static str> {
    let short = |s: &Sample| (s.sent as f64) < 0.9 * asked as f64;
    match (short(traced), short(untraced)) {
        (true, true) => Some("both sides"),
        (true, false) => Some("the traced side"),
        (false, true) => Some("the untraced side"),
        (false, false) => None,
    }
}

/// Everything the closing table shows.
struct Report<'a> {
    ready: Duration,
    lines: &'a [String],
    rows: &'a [(f64, Sample, Sample)],
    clients: u32,
    duration: Duration,
}

fn print_table(report: &Report) {
    let as_secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    println!();
    println!(
        "{} requesters, {} s per round; traced = app-1 (Pinpoint agent), untraced = app-{UNTRACED_INDEX} \
         (same image and heap, no -javaagent); load average {} on {} CPUs (shared with other runs)",
        report.clients,
        report.duration.as_secs(),
        load_average(),
        cpus()
    );
    println!(
        "{:>7}  {:<16} {:>7} {:>8} {:>11} {:>9} {:>9} {:>7} {:>5} {:>9} {:>9} {:>8}",
        "rate/s",
        "side",
        "sent",
        "answered",
        "sustained/s",
        "req p50",
        "req p99",
        "found",
        "lost",
        "deliv p50",
        "deliv p99",
        "poll p50"
    );
    for (rate, traced, untraced) in report.rows {
        for (side, s) in [(Side::Traced, traced), (Side::Untraced, untraced)] {
            let traced_only = |text: String| {
                if side == Side::Traced {
                    text
                } else {
                    "-".to_string()
                }
            };
            println!(
                "{:>7}  {:<16} {:>7} {:>8} {:>11.1} {:>9} {:>9} {:>7} {:>5} {:>9} {:>9} {:>8}",
                rate,
                side.name(),
                s.sent,
                s.answered,
                s.sustained,
                millis(s.request_p50),
                millis(s.request_p99),
                traced_only(s.found.to_string()),
                traced_only(s.lost.to_string()),
                traced_only(secs(s.delivery_p50)),
                traced_only(secs(s.delivery_p99)),
                traced_only(secs(s.poll_p50)),
            );
        }
        println!(
            "{:>7}  {:<16} {:>7} {:>8} {:>11} {:>9} {:>9}",
            "",
            "traced/untraced",
            "",
            "",
            ratio(Some(traced.sustained), Some(untraced.sustained)),
            ratio(as_secs(traced.request_p50), as_secs(untraced.request_p50)),
            ratio(as_secs(traced.request_p99), as_secs(untraced.request_p99)),
        );
        let asked = (rate * report.duration.as_secs_f64()).round() as u64;
        if let Some(side) = behind(asked, traced, untraced) {
            println!(
                "{:>7}  ({side} sent under 90% of the {asked} asked: its requesters fell behind)",
                ""
            );
        }
    }
    println!(
        "sustained: requests answered 2xx / (last answer - first request).\n\
         req p50, p99: request latency, a request's answer - its sending; traced/untraced is what\n\
         the agent costs the application.\n\
         deliv p50, p99: delivery latency, a request's first find in the web API (scatter, then the\n\
         transaction's metadata, the webs in turn) - its sending. The reader polls once a second\n\
         (plus the poll's own time), so delivery has ~1 s resolution and includes up to 1 s of\n\
         waiting for the next poll. poll p50: the median time one poll took; a find is recorded\n\
         when its poll ends, so this is part of each delivery latency.\n\
         lost: sent, not answered with a failure, never found within the {} s drain.\n\
         sent: requests go out on tasks of their own, without waiting for answers, and a requester\n\
         skips the ticks it missed; sent under rate x duration means the harness itself was\n\
         starved of CPU (on the traced side it shares the machine with the reader, the agent's\n\
         reporting, the collectors and HBase), so compare latencies at the rates actually sent.",
        DRAIN_DEADLINE.as_secs()
    );
    println!(
        "stack ready (stand_up: 3 ZooKeeper, HBase, 3 collectors, 3 webs, traced app)  {:.1}s",
        report.ready.as_secs_f64()
    );
    for line in report.lines {
        println!("  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::ops::{op, poll};
    use chaosbed::history::{F, OpKind};

    #[test]
    fn a_traced_round_is_summarized_from_its_history() {
        use F::{Trace, TraceFound};
        use OpKind::{Fail, Info, Invoke, Ok};
        let q = "requester-0";
        let r = "reader";
        let ops = vec![
            op(0, 0, q, Trace, Invoke, "k1-r0-0"),
            op(1, 4, q, Trace, Ok, "k1-r0-0"),
            op(2, 500, q, Trace, Invoke, "k1-r0-1"),
            op(3, 502, q, Trace, Ok, "k1-r0-1"),
            op(4, 1000, q, Trace, Invoke, "k1-r0-2"),
            op(5, 1010, q, Trace, Fail, "k1-r0-2"),
            op(6, 1500, q, Trace, Invoke, "k1-r0-3"),
            op(7, 1600, q, Trace, Invoke, "k1-r0-4"),
            op(8, 1608, q, Trace, Ok, "k1-r0-4"),
            // Unanswered in time: no request latency, but it may have been traced.
            op(9, 11500, q, Trace, Info, "k1-r0-3"),
            // r0-0 found after 1.2 s, then again (not a new find); r0-3 found after 2 s.
            op(10, 1200, r, TraceFound, Ok, "k1-r0-0"),
            op(11, 2200, r, TraceFound, Ok, "k1-r0-0"),
            op(12, 3500, r, TraceFound, Ok, "k1-r0-3"),
            op(13, 3500, r, TraceFound, Ok, "k1-r0-1"),
            // Another round's transaction carries another prefix: not this round's.
            op(14, 3600, r, TraceFound, Ok, "k2-r0-4"),
            poll(15, 3000, Invoke, "web-1"),
            poll(16, 3300, Ok, "web-1"),
            poll(17, 4000, Invoke, "web-1"),
            poll(18, 4100, Fail, "web-1"),
            poll(19, 5000, Invoke, "web-1"),
            poll(20, 5100, Ok, "web-1"),
        ];
        let s = summarize(&History::new(ops));
        assert_eq!(
            (s.sent, s.answered, s.failed, s.unknown),
            (5, 3, 1, 1),
            "{s:?}"
        );
        // 3 answered from 0 ms to 1608 ms.
        assert!((s.sustained - 3.0 / 1.608).abs() < 1e-9, "{s:?}");
        // Request latencies 2, 4 and 8 ms.
        assert_eq!(s.request_p50, Some(Duration::from_millis(4)));
        assert_eq!(s.request_p99, Some(Duration::from_millis(8)));
        // r0-0, r0-1, r0-3 found; r0-4 lost; r0-2 failed is neither.
        assert_eq!((s.found, s.lost), (3, 1), "{s:?}");
        // Delivery latencies 1.2 s (r0-0), 2.0 s (r0-3), 3.0 s (r0-1).
        assert_eq!(s.delivery_p50, Some(Duration::from_millis(2000)));
        assert_eq!(s.delivery_p99, Some(Duration::from_millis(3000)));
        assert_eq!(s.poll_p50, Some(Duration::from_millis(100)));
        assert_eq!(s.failed_polls, 1);
    }

    #[test]
    fn an_untraced_round_has_request_latency_and_nothing_found() {
        use OpKind::{Invoke, Ok};
        let q = "requester-1";
        let ops = vec![
            op(0, 0, q, F::Trace, Invoke, "k1-r1-0"),
            op(1, 3, q, F::Trace, Ok, "k1-r1-0"),
        ];
        let s = summarize(&History::new(ops));
        assert_eq!((s.sent, s.answered, s.found, s.lost), (1, 1, 0, 1));
        assert_eq!(s.request_p50, Some(Duration::from_millis(3)));
        assert_eq!((s.delivery_p50, s.poll_p50), (None, None));
    }

    #[test]
    fn ratios_need_both_sides() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50x");
        assert_eq!(ratio(Some(3.0), Some(0.0)), "-");
        assert_eq!(ratio(None, Some(2.0)), "-");
        assert_eq!(millis(Some(Duration::from_micros(1500))), "1.50ms");
        assert_eq!(secs(None), "-");
    }

    #[test]
    fn a_side_sending_under_nine_tenths_of_the_asked_is_behind() {
        let sent = |sent| Sample {
            sent,
            ..Sample::default()
        };
        assert_eq!(behind(8000, &sent(7200), &sent(7999)), None);
        assert_eq!(
            behind(8000, &sent(3786), &sent(7200)),
            Some("the traced side")
        );
        assert_eq!(
            behind(8000, &sent(7200), &sent(7104)),
            Some("the untraced side")
        );
        assert_eq!(behind(8000, &sent(3786), &sent(7104)), Some("both sides"));
    }

    #[test]
    fn the_scenario_parses_with_the_whole_stack() {
        let scenario = chaosbed::scenario::parse("bench-pinpoint.toml", SCENARIO).unwrap();
        assert!(scenario.faults.is_empty());
        let nodes: Vec<(&str, u32)> = scenario
            .topology
            .systems()
            .map(|(system, spec)| (system.name(), spec.node_count()))
            .collect();
        assert_eq!(
            nodes,
            [
                ("zookeeper", 3),
                ("hbase", 1),
                ("pinpoint-collector", 3),
                ("pinpoint-web", 3),
                ("pinpoint-agent-app", 1)
            ]
        );
    }

    #[test]
    fn the_untraced_copy_runs_the_app_without_the_agent() {
        let scenario = chaosbed::scenario::parse("bench-pinpoint.toml", SCENARIO).unwrap();
        let spec = scenario.topology.spec(app::KIND).unwrap().clone();
        let mut c = app::container_spec(&spec, "img", UNTRACED_INDEX);
        c.cmd = Some(untraced_cmd());
        assert_eq!(c.node, "app-2");
        assert_eq!(c.env_var("JAVA_OPTS"), Some(app::DEFAULT_JAVA_OPTS));
        let cmd = c.cmd.unwrap();
        assert_eq!(cmd[..2], ["bash", "-c"]);
        assert!(!cmd[2].contains("javaagent"), "{cmd:?}");
        assert!(cmd[2].contains("$JAVA_OPTS") && cmd[2].ends_with(" Hello"));
    }

    #[test]
    fn the_round_workload_parses() {
        let spec = workload(2, 400.0, Duration::from_secs(20)).unwrap();
        assert_eq!((spec.clients, spec.rate), (2, 400.0));
        assert_eq!(
            spec.duration.get_ref().as_duration(),
            Duration::from_secs(20)
        );
    }
}

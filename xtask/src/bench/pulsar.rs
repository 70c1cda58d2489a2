//! `cargo xtask bench pulsar`: the time until a ZooKeeper + BookKeeper + Pulsar cluster is ready,
//! then chaosbed's producer against pulsar-perf (org.apache.pulsar:pulsar-testclient, run in a
//! one-shot container on the run's network) on the same cluster, message size, rate, batching
//! and outstanding-message cap, in alternating order, printed as ratios. Both are measured over
//! the same stretch: after a warm-up, acknowledged messages per second.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::MultiProgress;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, ContainerSpec, RunId};
use chaosbed::history::{F, OpKind, Recorder};
use chaosbed::scenario::WorkloadSpec;
use chaosbed::system::{bookkeeper, pulsar};
use chaosbed::workload::pulsar::{Target, produce};

use super::stack;
use chaosbed::workload::Deadline;

#[derive(clap::Args, Clone)]
#[group(id = "pulsar-bench")]
pub struct Args {
    /// Measured seconds of each producer run: bench's shared `--duration-secs`, set by
    /// `bench::run` (the SkyWalking bench takes the same flag).
    #[arg(skip = 20u64)]
    pub(super) duration_secs: u64,
    /// Seconds of warm-up before each measured run (not counted). pulsar-perf prints its counts
    /// every 10 s, so its warm-up is its first PERF_STATS_INTERVAL_SECS whatever this says.
    #[arg(long, default_value_t = PERF_STATS_INTERVAL_SECS)]
    warmup_secs: u64,
    /// Message sizes in bytes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    sizes: Vec<usize>,
    /// Rate cap in msg/s given to both producers: far above what either reaches, so each sends as
    /// fast as its 500 outstanding messages allow. A side that reaches 90% of it is reported as
    /// capped (its ratio then says nothing).
    #[arg(long, default_value_t = 200_000)]
    rate: u32,
    /// Rounds per message size; the order alternates. The ratio printed is the median of the
    /// rounds' ratios (both sides of a round write the same topic, one after the other).
    #[arg(long, default_value_t = 5)]
    pulsar_rounds: usize,
    /// Seconds of load on a throwaway topic before the first measured round, so neither side
    /// meets cold broker and bookie JVMs.
    #[arg(long, default_value_t = 30)]
    cluster_warmup_secs: u64,
}

/// pulsar-perf's image (pulsar-testclient; 4.0.8 is the release on Maven Central).
const PERF_VERSION: &str = "4.0.8";
/// pulsar-perf's JVM: its HdrHistogram recorders need ~300 MB of heap; nothing more.
const PERF_MEM: &str = "-Xms64m -Xmx512m -XX:MaxDirectMemorySize=128m";
const PERF_CONTAINER_MEMORY: u64 = 900 << 20;
/// chaosbed's producer keeps at most this many sends awaiting receipts (MAX_IN_FLIGHT of
/// chaosbed::workload::pulsar); pulsar-perf gets the same cap with `-o`.
const MAX_OUTSTANDING: usize = 500;
/// The longest wait for the bookies' garbage collection between rounds.
const GC_TIMEOUT: Duration = Duration::from_secs(180);
/// The topic of the cluster's warm-up, before the first round.
const WARMUP_TOPIC: &str = "persistent://public/default/bench-cluster-warmup";
const READY_TIMEOUT: Duration = Duration::from_secs(600);
/// pulsar-perf logs its acknowledged count every 10 s (a fixed sleep in PerformanceProducer);
/// the bench measures it over those intervals, skipping the first (client start and warm-up).
const PERF_STATS_INTERVAL_SECS: u64 = 10;

const SCENARIO: &str = r#"
name = "bench-pulsar"
description = "cargo xtask bench pulsar: a 3+3+3 cluster for producer throughput"
tier = "full"

[topology.zookeeper]
nodes = 3

[topology.bookkeeper]
nodes = 3
version = "4.16"
# chaosbed's default heap without its C1-only flag: the bench measures throughput, so C2 compiles.
heap = "-Xms128m -Xmx256m -XX:MaxDirectMemorySize=256m"

# The bench writes about 100 MB/s to the bookies' volumes: with Pulsar's defaults (five 2 GiB
# journal files kept, entry logs collected every 15 min) a full run filled tens of GB and the
# bookies turned read-only at 95% disk use ("Not enough non-faulty bookies"). Small journals, and
# each round's topic deleted then collected between rounds (delete_round_topic), bound it.
[topology.bookkeeper.config]
journalMaxSizeMB = 256
journalMaxBackups = 1

[topology.pulsar]
nodes = 3
version = "3.0"
heap = "-Xms128m -Xmx384m -XX:MaxDirectMemorySize=256m"

[workload]
kind = "pulsar-produce-consume"
clients = 1
rate = 1000
duration = "20s"

# Scenarios must name a check; stand_up runs none.
[[check]]
kind = "send-latency"
"#;

impl Args {
    /// The measured seconds of each side: `duration_secs` rounded up to whole pulsar-perf
    /// intervals.
    fn measured_secs(&self) -> u64 {
        self.duration_secs.div_ceil(PERF_STATS_INTERVAL_SECS).max(1) * PERF_STATS_INTERVAL_SECS
    }
}

/// One producer run's result.
#[derive(Debug, Clone, Copy)]
struct Sample {
    sent: u64,
    msg_per_sec: f64,
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Sample {
    /// Sends awaiting their receipt on average (Little's law): how much of the outstanding cap a
    /// side kept busy.
    fn mean_in_flight(&self) -> f64 {
        self.msg_per_sec * self.mean_ms / 1e3
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let docker = chaosbed::provision::engine().await?;
    let progress = MultiProgress::new();
    let perf_image =
        chaosbed::image::ensure(&docker, "pulsar-perf", PERF_VERSION, &progress).await?;
    let scenario = chaosbed::scenario::parse("bench-pulsar.toml", SCENARIO)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "pulsar-perf image {perf_image}; sizes {:?} B, {} s measured after {} s warm-up (pulsar-perf: \
         {PERF_STATS_INTERVAL_SECS} s), rate cap {}/s, one producer, no batching, \
         {MAX_OUTSTANDING} outstanding",
        args.sizes,
        args.measured_secs(),
        args.warmup_secs,
        args.rate
    );

    let mut backend = DockerBackend::new(docker.clone(), RunId::new("bench-pulsar"));
    let result = stack::measure_then_remove(&mut backend, async |backend| {
        let begin = Instant::now();
        let (cluster, _lines) =
            chaosbed::runner::stand_up(
                &scenario,
                &docker,
                backend,
                chaosbed::runner::FaultTools::of(&scenario),
                READY_TIMEOUT,
                &progress,
            )
                .await
                .context("standing up the cluster")?;
        let ready = begin.elapsed();
        println!(
            "cluster ready (3 ZooKeeper, 3 bookies, 3 brokers) in {:.1}s",
            ready.as_secs_f64()
        );
        let addresses: Vec<_> = cluster
            .of(chaosbed::system::pulsar::KIND)
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        let bookies: Vec<_> = cluster
            .of(chaosbed::system::bookkeeper::KIND)
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        // A fresh cluster's JVMs are cold: whichever side ran first was measured against a
        // slower broker (seen: the same producer 0.77x when first, 0.88x when second).
        if args.cluster_warmup_secs > 0 {
            let warm = workload(
                &args,
                args.sizes[0],
                Duration::from_secs(args.cluster_warmup_secs),
                WARMUP_TOPIC,
            )?;
            let urls = pulsar::service_urls(&addresses);
            produce(&warm, &Target::new(urls, &warm), &Recorder::new(), &Deadline::for_workload(&warm)).await;
            println!("cluster warmed up for {} s", args.cluster_warmup_secs);
            delete_round_topic(&addresses, &bookies, WARMUP_TOPIC).await;
        }
        let mut rows = Vec::new();
        for (i, &size) in args.sizes.iter().enumerate() {
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            for round in 0..args.pulsar_rounds {
                let chaosbed_first = (i + round) % 2 == 0;
                if !chaosbed_first {
                    theirs.push(
                        perf_round(backend, &perf_image, &addresses, &args, size, round)
                            .await?,
                    );
                }
                ours.push(chaosbed_round(&addresses, &args, size, round).await?);
                if chaosbed_first {
                    theirs.push(
                        perf_round(backend, &perf_image, &addresses, &args, size, round)
                            .await?,
                    );
                }
                delete_round_topic(&addresses, &bookies, &topic(size, round)).await;
                let (o, t) = (ours[round], theirs[round]);
                println!(
                    "{size} B round {}: chaosbed {:.0} msg/s ({} sent, mean {:.2} ms, p50 {:.2} ms, \
                     p99 {:.2} ms, {:.0} in flight); pulsar-perf {:.0} msg/s ({} sent, mean {:.2} ms, \
                     p50 {:.2} ms, p99 {:.2} ms, {:.0} in flight)",
                    round + 1,
                    o.msg_per_sec,
                    o.sent,
                    o.mean_ms,
                    o.p50_ms,
                    o.p99_ms,
                    o.mean_in_flight(),
                    t.msg_per_sec,
                    t.sent,
                    t.mean_ms,
                    t.p50_ms,
                    t.p99_ms,
                    t.mean_in_flight()
                );
            }
            rows.push(Row::new(size, ours, theirs));
        }
        print_table(ready, &rows);
        let cap = 0.9 * f64::from(args.rate);
        for Row {
            size,
            ours: o,
            theirs: t,
            ..
        } in &rows
        {
            for (side, sample) in [("chaosbed", o), ("pulsar-perf", t)] {
                if sample.msg_per_sec >= cap {
                    println!(
                        "{side} at {size} B reached 90% of the rate cap ({}/s): its throughput \
                         is the cap's, not its own; raise --rate",
                        args.rate
                    );
                }
            }
        }
        anyhow::Ok(rows.iter().all(|row| row.ratio() >= 0.9))
    })
    .await;
    Ok(if result? {
        ExitCode::SUCCESS
    } else {
        println!(
            "chaosbed's producer is below 0.9x of pulsar-perf's throughput (median of the rounds' \
             ratios)"
        );
        ExitCode::FAILURE
    })
}

/// One message size's result: each side's median round, and the rounds' throughput ratios.
struct Row {
    size: usize,
    ours: Sample,
    theirs: Sample,
    /// chaosbed's throughput over pulsar-perf's, per round, sorted.
    ratios: Vec<f64>,
}

impl Row {
    /// The rounds of one size, each side's and the other's in the same order.
    fn new(size: usize, mut ours: Vec<Sample>, mut theirs: Vec<Sample>) -> Self {
        let mut ratios: Vec<f64> = ours
            .iter()
            .zip(&theirs)
            .map(|(o, t)| o.msg_per_sec / t.msg_per_sec)
            .collect();
        ratios.sort_by(f64::total_cmp);
        Self {
            size,
            ours: median_sample(&mut ours),
            theirs: median_sample(&mut theirs),
            ratios,
        }
    }

    /// The median round's ratio: the rounds' clusters differ (topic owner, ledger ensemble, JIT
    /// and GC state) more than the two sides of one round do.
    fn ratio(&self) -> f64 {
        self.ratios[self.ratios.len() / 2]
    }
}

/// Deletes a topic the bench is done with, then has the bookies collect its ledgers and waits
/// until they are done, so that the disk use stays bounded and the collection's I/O falls between
/// rounds rather than into the next one. A failure only costs disk space, and is printed.
async fn delete_round_topic(
    brokers: &[std::net::Ipv4Addr],
    bookies: &[std::net::Ipv4Addr],
    topic: &str,
) {
    let begin = Instant::now();
    if let Err(e) = pulsar::delete_topic(brokers[0], topic).await {
        return println!("  could not delete {topic}: {e:#}");
    }
    for &bookie in bookies {
        if let Err(e) = bookkeeper::force_gc(bookie).await {
            return println!("  {e:#}");
        }
    }
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut running = 0;
        for &bookie in bookies {
            match bookkeeper::gc_running(bookie).await {
                Ok(true) => running += 1,
                Ok(false) => {}
                Err(e) => return println!("  {e:#}"),
            }
        }
        if running == 0 {
            break;
        }
        if begin.elapsed() >= GC_TIMEOUT {
            return println!(
                "  {running} bookies still collecting {topic}'s ledgers after {GC_TIMEOUT:?}; \
                 going on"
            );
        }
    }
    println!(
        "  deleted {topic}; bookies collected it in {:.1}s",
        begin.elapsed().as_secs_f64()
    );
}

fn print_table(ready: Duration, rows: &[Row]) {
    println!();
    println!(
        "cluster ready (stand_up)                 {:>8.1}s",
        ready.as_secs_f64()
    );
    println!("measurement (median round)               chaosbed  pulsar-perf   ratio");
    for row in rows {
        let (size, o, t) = (row.size, &row.ours, &row.theirs);
        println!(
            "throughput {:>5} B (msg/s)              {:>9.0}    {:>9.0}   {:>5.2}x",
            size,
            o.msg_per_sec,
            t.msg_per_sec,
            o.msg_per_sec / t.msg_per_sec
        );
        println!(
            "  throughput ratio, median of rounds                           {:>5.2}x  (rounds: {})",
            row.ratio(),
            row.ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "mean in flight {:>5} B (of {MAX_OUTSTANDING})         {:>9.0}    {:>9.0}   {:>5.2}x",
            size,
            o.mean_in_flight(),
            t.mean_in_flight(),
            o.mean_in_flight() / t.mean_in_flight()
        );
        println!(
            "send latency mean {:>5} B (ms)          {:>9.2}    {:>9.2}   {:>5.2}x",
            size,
            o.mean_ms,
            t.mean_ms,
            o.mean_ms / t.mean_ms
        );
        println!(
            "send latency p50 {:>5} B (ms)           {:>9.2}    {:>9.2}   {:>5.2}x",
            size,
            o.p50_ms,
            t.p50_ms,
            o.p50_ms / t.p50_ms
        );
        println!(
            "send latency p99 {:>5} B (ms)           {:>9.2}    {:>9.2}   {:>5.2}x",
            size,
            o.p99_ms,
            t.p99_ms,
            o.p99_ms / t.p99_ms
        );
    }
}

fn median_sample(samples: &mut [Sample]) -> Sample {
    samples.sort_by(|a, b| a.msg_per_sec.total_cmp(&b.msg_per_sec));
    samples[samples.len() / 2]
}

/// The topic both sides write in a round, one after the other, so that its owner broker (which
/// differs from topic to topic) is the same for both sides of a round.
fn topic(size: usize, round: usize) -> String {
    format!("persistent://public/default/bench-{size}-{round}")
}

fn workload(
    args: &Args,
    size: usize,
    duration: Duration,
    topic: &str,
) -> anyhow::Result<WorkloadSpec> {
    let mut spec: WorkloadSpec = toml::from_str(&format!(
        "kind = \"pulsar-produce-consume\"\nclients = 1\nduration = \"{}ms\"\ntopic = \"{topic}\"\nmessage_size = {size}",
        duration.as_millis()
    ))
    .context("a literal workload spec parses")?;
    spec.rate = args.rate as f64;
    Ok(spec)
}

/// chaosbed's producer: a warm-up run, then a measured run into a fresh recorder.
async fn chaosbed_round(
    addresses: &[std::net::Ipv4Addr],
    args: &Args,
    size: usize,
    round: usize,
) -> anyhow::Result<Sample> {
    let topic = topic(size, round);
    let urls = pulsar::service_urls(addresses);
    if args.warmup_secs > 0 {
        let warm = workload(args, size, Duration::from_secs(args.warmup_secs), &topic)?;
        produce(
            &warm,
            &Target::new(urls.clone(), &warm),
            &Recorder::new(),
            &Deadline::for_workload(&warm),
        )
        .await;
    }
    let spec = workload(
        args,
        size,
        Duration::from_secs(args.measured_secs()),
        &topic,
    )?;
    let recorder = Recorder::new();
    produce(
        &spec,
        &Target::new(urls, &spec),
        &recorder,
        &Deadline::for_workload(&spec),
    )
    .await;
    let history = recorder.snapshot();
    let mut latencies = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut failed = 0u64;
    let mut why: BTreeMap<String, u64> = BTreeMap::new();
    for (invoke, done) in history.pairs() {
        if invoke.f != F::Send || invoke.kind != OpKind::Invoke {
            continue;
        }
        match done {
            Some(done) if done.kind == OpKind::Ok => {
                first = first.min(invoke.time);
                last = last.max(done.time);
                latencies.push(done.time - invoke.time);
            }
            _ => {
                failed += 1;
                let error = done.and_then(|done| done.error.clone());
                *why.entry(error.unwrap_or_else(|| "no outcome".into()))
                    .or_default() += 1;
            }
        }
    }
    if latencies.is_empty() {
        bail!("chaosbed's producer got no send acknowledged on {topic}");
    }
    if failed > 0 {
        println!("  chaosbed: {failed} sends on {topic} not acknowledged:");
        for (error, count) in &why {
            println!("    {count} × {error}");
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)] as f64 / 1e6
    };
    let span = Duration::from_nanos(last - first).as_secs_f64();
    let mean_ms = latencies.iter().sum::<u64>() as f64 / latencies.len() as f64 / 1e6;
    Ok(Sample {
        sent: latencies.len() as u64,
        msg_per_sec: latencies.len() as f64 / span,
        mean_ms,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

/// The flags pulsar-perf gets: the same rate, size, single producer, no batching and
/// outstanding cap as chaosbed's producer, for its first stats interval (the warm-up) plus the
/// measured intervals, and a second more so that the last interval's line is logged before the
/// producer stops.
fn perf_command(args: &Args, service_url: &str, size: usize, topic: &str) -> Vec<String> {
    [
        "produce".to_string(),
        "--service-url".into(),
        service_url.into(),
        "--rate".into(),
        args.rate.to_string(),
        "--size".into(),
        size.to_string(),
        "--num-producers".into(),
        "1".into(),
        "--disable-batching".into(),
        "--max-outstanding".into(),
        MAX_OUTSTANDING.to_string(),
        "--warmup-time".into(),
        PERF_STATS_INTERVAL_SECS.to_string(),
        "--test-duration".into(),
        (PERF_STATS_INTERVAL_SECS + args.measured_secs() + 1).to_string(),
        topic.into(),
    ]
    .into()
}

/// pulsar-perf in a one-shot container on the run's network; its final summary parsed.
async fn perf_round(
    backend: &mut DockerBackend,
    image: &str,
    addresses: &[std::net::Ipv4Addr],
    args: &Args,
    size: usize,
    round: usize,
) -> anyhow::Result<Sample> {
    let topic = topic(size, round);
    let cmd = perf_command(args, &pulsar::service_url(addresses), size, &topic);
    if round == 0 && size == args.sizes[0] {
        println!("pulsar-perf {}", cmd.join(" "));
    }
    let spec = ContainerSpec {
        node: format!("pulsar-perf-{size}-{round}"),
        image: image.to_string(),
        env: vec![("PULSAR_MEM".into(), PERF_MEM.into())],
        cmd: Some(cmd),
        memory: Some(PERF_CONTAINER_MEMORY),
        ..Default::default()
    };
    let timeout = Duration::from_secs(PERF_STATS_INTERVAL_SECS * 2 + args.measured_secs() + 120);
    let out = backend.run_once(&spec, timeout).await?;
    if out.exit_code != 0 {
        bail!(
            "pulsar-perf exited with {}:\n{}",
            out.exit_code,
            tail(&out.stdout, 40)
        );
    }
    parse_perf(&out.stdout, args.measured_secs() / PERF_STATS_INTERVAL_SECS).with_context(|| {
        format!(
            "no summary in pulsar-perf's output:\n{}",
            tail(&out.stdout, 40)
        )
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// pulsar-perf's rate over `intervals` stats intervals after its first, and its latency after
/// warm-up, from its lines
/// `Throughput produced: N msg --- X msg/s --- ...` (every 10 s; N counts from the start) and
/// `Aggregated latency stats --- Latency: mean: A ms - med: B - 95pct: C - 99pct: D - ...`.
///
/// Its own `Aggregated throughput stats` line is not used: it divides every message, warm-up
/// included, by the time since before the client was created until after it closed.
fn parse_perf(output: &str, intervals: u64) -> Option<Sample> {
    let rates: Vec<f64> = output
        .lines()
        .filter_map(|l| l.split_once("Throughput produced:"))
        .map(|(_, rest)| number_after(rest, "---"))
        .collect::<Option<_>>()?;
    let measured = rates.get(1..=intervals as usize)?;
    let msg_per_sec = measured.iter().sum::<f64>() / measured.len() as f64;
    let latency = output
        .lines()
        .find(|l| l.contains("Aggregated latency stats"))?;
    Some(Sample {
        sent: (msg_per_sec * (measured.len() as u64 * PERF_STATS_INTERVAL_SECS) as f64).round()
            as u64,
        msg_per_sec,
        mean_ms: number_after(latency, "mean:")?,
        p50_ms: number_after(latency, "med:")?,
        p99_ms: number_after(latency, " 99pct:")?,
    })
}

fn first_number(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
}

fn number_after(text: &str, key: &str) -> Option<f64> {
    first_number(&text[text.find(key)? + key.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_the_median_round_s() {
        let sample = Sample {
            sent: 1,
            msg_per_sec: 1.0,
            mean_ms: 1.0,
            p50_ms: 1.0,
            p99_ms: 1.0,
        };
        let row = Row {
            size: 1024,
            ours: sample,
            theirs: sample,
            ratios: vec![0.7, 0.88, 0.93, 1.01, 1.2],
        };
        assert_eq!(row.ratio(), 0.93);
    }

    const PERF_OUTPUT: &str = "\
08:00:10.000 INFO  PerformanceProducer - Throughput produced:   90000 msg ---   9000.0 msg/s ---     70.3 Mbit/s  --- failure      0.0 msg/s --- Latency: mean:  30.000 ms - med:  25.000 - 95pct:  50.000 - 99pct:  60.000 - 99.9pct:  70.000 - 99.99pct:  80.000 - Max:  90.000
08:00:20.000 INFO  PerformanceProducer - Throughput produced:  290000 msg ---  20000.0 msg/s ---    156.3 Mbit/s  --- failure      0.0 msg/s --- Latency: mean:  12.000 ms - med:  10.000 - 95pct:  20.000 - 99pct:  30.000 - 99.9pct:  40.000 - 99.99pct:  50.000 - Max:  60.000
08:00:30.000 INFO  PerformanceProducer - Throughput produced:  470000 msg ---  18000.0 msg/s ---    140.6 Mbit/s  --- failure      0.0 msg/s --- Latency: mean:  12.000 ms - med:  10.000 - 95pct:  20.000 - 99pct:  30.000 - 99.9pct:  40.000 - 99.99pct:  50.000 - Max:  60.000
08:00:31.500 INFO  PerformanceProducer - Aggregated throughput stats --- 488000 records sent --- 15000.5 msg/s --- 117.2 Mbit/s
08:00:31.501 INFO  PerformanceProducer - Aggregated latency stats --- Latency: mean:  12.345 ms - med:  10.100 - 95pct:  20.000 - 99pct:  31.500 - 99.9pct:  40.000 - 99.99pct:  50.000 - 99.999pct:  60.000 - Max:  70.000
";

    #[test]
    fn pulsar_perf_is_measured_over_the_intervals_after_its_first() {
        let s = parse_perf(PERF_OUTPUT, 2).unwrap();
        assert!((s.msg_per_sec - 19000.0).abs() < 1e-9);
        assert_eq!(s.sent, 380_000);
        assert!((s.mean_ms - 12.345).abs() < 1e-9);
        assert!((s.p50_ms - 10.1).abs() < 1e-9);
        assert!((s.p99_ms - 31.5).abs() < 1e-9);
    }

    #[test]
    fn too_few_pulsar_perf_intervals_are_no_measurement() {
        assert!(parse_perf(PERF_OUTPUT, 3).is_none());
    }

    #[test]
    fn measured_time_is_whole_pulsar_perf_intervals() {
        let mut args = Args {
            duration_secs: 5,
            warmup_secs: 10,
            sizes: vec![100],
            rate: 1000,
            pulsar_rounds: 1,
            cluster_warmup_secs: 0,
        };
        assert_eq!(args.measured_secs(), 10);
        args.duration_secs = 20;
        assert_eq!(args.measured_secs(), 20);
        args.duration_secs = 21;
        assert_eq!(args.measured_secs(), 30);
    }

    #[test]
    fn the_scenario_parses() {
        chaosbed::scenario::parse("bench-pulsar.toml", SCENARIO).unwrap();
    }
}

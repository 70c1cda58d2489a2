//! `cargo xtask bench faults`: chaosbed-proxy on a node-to-node link against the direct link,
//! in one run. Two containers of the nemesis image on a run network; `chaosbed-proxy echo` in
//! b's namespace, `chaosbed-proxy probe` in a's times 64-byte pings and a bulk transfer to it:
//! first direct, then with a latency fault on a towards b (the proxy delays what a sends), then
//! through the proxy with no delay. Targets (issue 19): asked 100 ms, the added delay's p50
//! within ±5 ms and p99 within ±15 ms; throughput through the proxy at least 0.9x the direct.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend as _, ContainerSpec, RunId};
use chaosbed::nemesis::NodeInfo;
use chaosbed::nemesis::effects::{self, Request};
use chaosbed::scenario::{FaultKind, FaultParams};

#[derive(clap::Args, Clone)]
#[group(id = "faults-bench")]
pub struct Args {
    /// The latency asked of the proxy, in milliseconds.
    #[arg(long, default_value_t = 100)]
    faults_delay_ms: u64,
    /// Pings timed per measurement.
    #[arg(long, default_value_t = 300)]
    faults_pings: usize,
    /// Megabytes of each bulk transfer.
    #[arg(long, default_value_t = 1024)]
    faults_megabytes: u64,
    /// Transfers each way, direct and through the proxy alternately; the medians are compared.
    #[arg(long, default_value_t = 5)]
    faults_rounds: usize,
}

const ECHO_PORT: u16 = 7000;
const P50_TOLERANCE_MS: f64 = 5.0;
const P99_TOLERANCE_MS: f64 = 15.0;
const MIN_THROUGHPUT_RATIO: f64 = 0.9;

/// What `chaosbed-proxy probe` prints (the fields the benchmark reads).
#[derive(Debug)]
struct Probe {
    rtt_ms_p50: f64,
    rtt_ms_p99: f64,
    megabytes_per_sec: f64,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let docker = chaosbed::backend::docker::connect().await?;
    let progress = indicatif::MultiProgress::new();
    let image = chaosbed::image::ensure_tool(&docker, "nemesis", &progress).await?;
    let proxy = chaosbed::backend::proxy_binary::locate()?;
    let mut backend = DockerBackend::new(docker.clone(), RunId::new("bench-faults"));
    backend.use_nemesis_image(&image, Some(&proxy));
    let outcome = measure(&mut backend, &image, &args).await;
    let removed = backend.cleanup().await;
    let code = outcome?;
    removed.context("removing the benchmark's containers")?;
    Ok(code)
}

async fn measure(
    backend: &mut DockerBackend,
    image: &str,
    args: &Args,
) -> anyhow::Result<ExitCode> {
    backend.create_network().await?;
    let mut info = BTreeMap::new();
    for node in ["a", "b"] {
        let spec = ContainerSpec {
            node: node.into(),
            image: image.into(),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            ..Default::default()
        };
        let address = backend.create(&spec).await?;
        backend.start(node).await?;
        info.insert(
            node.to_string(),
            NodeInfo {
                address: Some(address),
                ..Default::default()
            },
        );
    }
    let backend: &DockerBackend = backend;
    let b = info["b"].address.context("b has no address")?;
    // Started, then waited for until it listens (5 s at most).
    let echo = format!(
        "nohup {} echo --port {ECHO_PORT} >/tmp/echo.log 2>&1 & \
         i=0; until ss -Hltn 'sport = :{ECHO_PORT}' | grep -q .; do i=$((i+1)); \
         if [ $i -gt 100 ]; then echo 'the echo server did not listen:'; cat /tmp/echo.log; exit 1; fi; \
         sleep 0.05; done",
        effects::PROXY_BINARY
    );
    let started = backend.exec_net("b", &["sh", "-c", &echo]).await?;
    ensure!(
        started.exit_code == 0,
        "starting the echo server in b's namespace: {}{}",
        started.stdout,
        started.stderr
    );

    let bytes = args.faults_megabytes * 1_000_000;
    let direct = probe(backend, b, args.faults_pings, 0)
        .await
        .context("the direct link")?;
    let delay = Duration::from_millis(args.faults_delay_ms);
    let delayed = through_proxy(backend, &info, delay, || {
        probe(backend, b, args.faults_pings, 0)
    })
    .await
    .context("the link with latency")?;
    let plain = through_proxy(backend, &info, Duration::ZERO, || {
        probe(backend, b, args.faults_pings, 0)
    })
    .await
    .context("pings through the proxy without delay")?;
    // Throughput varies from transfer to transfer on a shared machine: alternate the two links
    // and compare medians.
    let (mut direct_rates, mut proxied_rates) = (Vec::new(), Vec::new());
    for round in 1..=args.faults_rounds.max(1) {
        let d = probe(backend, b, 0, bytes)
            .await
            .context("a direct transfer")?;
        let p = through_proxy(backend, &info, Duration::ZERO, || {
            probe(backend, b, 0, bytes)
        })
        .await
        .context("a transfer through the proxy without delay")?;
        println!(
            "round {round}: direct {:.0} MB/s, through chaosbed-proxy {:.0} MB/s",
            d.megabytes_per_sec, p.megabytes_per_sec
        );
        direct_rates.push(d.megabytes_per_sec);
        proxied_rates.push(p.megabytes_per_sec);
    }
    let direct = Probe {
        megabytes_per_sec: median(&mut direct_rates),
        ..direct
    };
    let plain = Probe {
        megabytes_per_sec: median(&mut proxied_rates),
        ..plain
    };

    let asked = args.faults_delay_ms as f64;
    let added_p50 = delayed.rtt_ms_p50 - direct.rtt_ms_p50;
    let added_p99 = delayed.rtt_ms_p99 - direct.rtt_ms_p99;
    let ratio = plain.megabytes_per_sec / direct.megabytes_per_sec;
    println!(
        "a -> b (two containers on one bridge): {} pings each; throughput the median of {} transfers of {} MB",
        args.faults_pings,
        args.faults_rounds.max(1),
        args.faults_megabytes
    );
    println!(
        "{:<34} {:>10} {:>10} {:>12}",
        "link", "rtt p50", "rtt p99", "throughput"
    );
    for (name, p) in [
        ("direct", &direct),
        (&*format!("chaosbed-proxy, {asked} ms asked"), &delayed),
        ("chaosbed-proxy, no delay", &plain),
    ] {
        println!(
            "{name:<34} {:>7.2} ms {:>7.2} ms {:>7.0} MB/s",
            p.rtt_ms_p50, p.rtt_ms_p99, p.megabytes_per_sec
        );
    }
    println!(
        "added delay: p50 {added_p50:.2} ms, p99 {added_p99:.2} ms (asked {asked} ms; targets ±{P50_TOLERANCE_MS} and ±{P99_TOLERANCE_MS} ms)"
    );
    println!(
        "throughput through the proxy: {:.0} MB/s vs {:.0} MB/s direct = {ratio:.2}x (target >= {MIN_THROUGHPUT_RATIO}x)",
        plain.megabytes_per_sec, direct.megabytes_per_sec
    );
    let met = (added_p50 - asked).abs() <= P50_TOLERANCE_MS
        && (added_p99 - asked).abs() <= P99_TOLERANCE_MS
        && ratio >= MIN_THROUGHPUT_RATIO;
    println!("targets {}", if met { "met" } else { "NOT met" });
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// `chaosbed-proxy probe` from a's namespace to b's echo server.
async fn probe(
    backend: &DockerBackend,
    b: std::net::Ipv4Addr,
    pings: usize,
    bytes: u64,
) -> anyhow::Result<Probe> {
    let cmd = format!(
        "{} probe --to {b}:{ECHO_PORT} --pings {pings} --bytes {bytes}",
        effects::PROXY_BINARY
    );
    let out = backend.exec_net("a", &["sh", "-c", &cmd]).await?;
    ensure!(
        out.exit_code == 0,
        "`{cmd}` in a's namespace exited with {}: {}{}",
        out.exit_code,
        out.stdout,
        out.stderr
    );
    let line = out.stdout.lines().last().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(line)
        .with_context(|| format!("reading the probe's answer {line:?}"))?;
    let number = |key: &str| {
        value[key]
            .as_f64()
            .with_context(|| format!("the probe's answer has no {key}: {line}"))
    };
    Ok(Probe {
        rtt_ms_p50: number("rtt_ms_p50")?,
        rtt_ms_p99: number("rtt_ms_p99")?,
        megabytes_per_sec: number("megabytes_per_sec")?,
    })
}

/// Runs `measure` while a's connections to b go through chaosbed-proxy with `delay`.
async fn through_proxy<F, Fut>(
    backend: &DockerBackend,
    info: &BTreeMap<String, NodeInfo>,
    delay: Duration,
    measure: F,
) -> anyhow::Result<Probe>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Probe>>,
{
    let params = FaultParams {
        delay: Some(delay),
        peers: vec!["b".into()],
        ..Default::default()
    };
    let targets = ["a".to_string()];
    let nodes = ["a".to_string(), "b".to_string()];
    let request = Request {
        fault: 1,
        kind: FaultKind::Latency,
        params: &params,
        targets: &targets,
        system_nodes: &nodes,
        all_nodes: &nodes,
        info,
        seed: 1,
    };
    let applied = effects::apply_through_proxy(backend, &request).await;
    if let Some(error) = &applied.error {
        anyhow::bail!("applying the proxy on a: {error}");
    }
    let undo = applied.undo.context("the proxy left nothing to undo")?;
    let measured = measure().await;
    let (healed, error) = effects::heal(backend, &undo).await;
    if let Some(error) = error {
        anyhow::bail!("healing the proxy on a: {error}: {healed}");
    }
    measured
}

//! `cargo xtask bench [zookeeper|pulsar|skywalking|pinpoint|faults|checker|report|all]`: benchmarks against a baseline in the
//! same run.

mod checker;
mod faults;
mod pinpoint;
mod pulsar;
mod report;
mod skywalking;
mod stack;
mod stats;
mod zookeeper;

use std::process::ExitCode;

use anyhow::Context as _;

#[derive(clap::Args)]
pub struct Args {
    /// Which benchmark to run.
    #[arg(value_enum, default_value_t = Which::All)]
    which: Which,
    /// Measured seconds of each producer run (pulsar), of each emitter round (skywalking) and of
    /// each requester round (pinpoint).
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    #[command(flatten)]
    zookeeper: zookeeper::Args,
    #[command(flatten)]
    pulsar: pulsar::Args,
    #[command(flatten)]
    skywalking: skywalking::Args,
    #[command(flatten)]
    pinpoint: pinpoint::Args,
    #[command(flatten)]
    checker: checker::Args,
    #[command(flatten)]
    report: report::Args,
    #[command(flatten)]
    faults: faults::Args,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Time to a ZooKeeper quorum, chaosbed vs a docker CLI baseline.
    Zookeeper,
    /// Pulsar cluster-ready time; chaosbed's producer vs pulsar-perf.
    Pulsar,
    /// SkyWalking stack-ready time; trace rate and delivery latency, through NGINX vs one OAP.
    Skywalking,
    /// Pinpoint stack-ready time; request latency with the agent vs without, delivery latency.
    Pinpoint,
    /// chaosbed-proxy on a node-to-node link vs the direct link: added delay against the asked
    /// latency, and throughput (not part of `all`).
    Faults,
    /// chaosbed's linearizable checker vs Porcupine on generated CAS register histories (no
    /// Docker; not part of `all`).
    Checker,
    /// report.html of generated histories: its size, the time to render it beside the time to
    /// write history.jsonl, and the time until it is ready in Chromium (no Docker; not part of
    /// `all`).
    Report,
    /// The Docker benchmarks: ZooKeeper, Pulsar, SkyWalking, Pinpoint.
    All,
}

/// Set by the release re-run, and by anyone who wants to measure a debug build on purpose.
const IN_RELEASE: &str = "CHAOSBED_BENCH_BUILD_CHECKED";

/// The Cargo profile the benchmarks re-run themselves in (Cargo.toml: release plus fat LTO).
const BENCH_PROFILE: &str = "bench-release";

/// Benchmarks measure an optimized build: a debug build of the harness (and of the pulsar crate)
/// spends a millisecond of CPU per message and would measure the compiler's settings.
fn rerun_in_release() -> anyhow::Result<Option<ExitCode>> {
    if !cfg!(debug_assertions) || std::env::var_os(IN_RELEASE).is_some() {
        return Ok(None);
    }
    println!(
        "re-running as `cargo run --profile {BENCH_PROFILE}` (release, fat LTO) to measure an \
         optimized build (set {IN_RELEASE}=1 to measure this debug build)"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(&cargo)
        .args([
            "run",
            "--quiet",
            "--profile",
            BENCH_PROFILE,
            "--package",
            "xtask",
            "--",
        ])
        .args(std::env::args().skip(1))
        .env(IN_RELEASE, "1")
        .current_dir(crate::root())
        .status()
        .with_context(|| format!("running {cargo} for the {BENCH_PROFILE} build"))?;
    // A child killed by a signal has no code; 2 is what a failed benchmark setup returns.
    Ok(Some(ExitCode::from(status.code().unwrap_or(2) as u8)))
}

pub async fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if let Some(code) = rerun_in_release()? {
        return Ok(code);
    }
    if args.which == Which::Checker {
        println!("== checker");
        return checker::run(args.checker);
    }
    if args.which == Which::Report {
        println!("== report");
        return report::run(args.report);
    }
    if args.which == Which::Faults {
        println!("== faults");
        return faults::run(args.faults).await;
    }
    args.pulsar.duration_secs = args.duration_secs;
    let all = args.which == Which::All;
    let mut code = ExitCode::SUCCESS;
    if matches!(args.which, Which::Zookeeper | Which::All) {
        println!("== zookeeper");
        code = zookeeper::run(args.zookeeper).await?;
    }
    if matches!(args.which, Which::Pulsar | Which::All) {
        if all {
            println!();
        }
        println!("== pulsar");
        let pulsar = pulsar::run(args.pulsar).await?;
        if pulsar != ExitCode::SUCCESS {
            code = pulsar;
        }
    }
    if matches!(args.which, Which::Skywalking | Which::All) {
        if all {
            println!();
        }
        println!("== skywalking");
        let duration = std::time::Duration::from_secs(args.duration_secs);
        let skywalking = skywalking::run(args.skywalking, duration).await?;
        if skywalking != ExitCode::SUCCESS {
            code = skywalking;
        }
    }
    if matches!(args.which, Which::Pinpoint | Which::All) {
        if all {
            println!();
        }
        println!("== pinpoint");
        let duration = std::time::Duration::from_secs(args.duration_secs);
        let pinpoint = pinpoint::run(args.pinpoint, duration).await?;
        if pinpoint != ExitCode::SUCCESS {
            code = pinpoint;
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn the_flags_of_every_benchmark_live_together() {
        // Panics on two benchmarks declaring the same flag.
        Cli::command().debug_assert();
        let all = Cli::try_parse_from(["bench"]).unwrap().args;
        assert!(all.which == Which::All);
        assert_eq!(all.duration_secs, 20);
        let sw = Cli::try_parse_from([
            "bench",
            "skywalking",
            "--duration-secs",
            "5",
            "--rates",
            "10,20",
        ])
        .unwrap()
        .args;
        assert!(sw.which == Which::Skywalking);
        assert_eq!(sw.duration_secs, 5);
        let pp = Cli::try_parse_from([
            "bench",
            "pinpoint",
            "--duration-secs",
            "5",
            "--pinpoint-rates",
            "10,20",
        ])
        .unwrap()
        .args;
        assert!(pp.which == Which::Pinpoint);
        assert_eq!(pp.duration_secs, 5);
        let checker = Cli::try_parse_from([
            "bench",
            "checker",
            "--timeout",
            "5s",
            "--history-sizes",
            "100,200",
            "--history",
            "a.jsonl",
        ])
        .unwrap()
        .args;
        assert!(checker.which == Which::Checker);
    }
}

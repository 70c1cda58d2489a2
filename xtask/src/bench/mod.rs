//! `cargo xtask bench [zookeeper|pulsar|all]`: benchmarks against a baseline in the same run.

mod pulsar;
mod zookeeper;

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Which benchmark to run.
    #[arg(value_enum, default_value_t = Which::All)]
    which: Which,
    #[command(flatten)]
    zookeeper: zookeeper::Args,
    #[command(flatten)]
    pulsar: pulsar::Args,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Time to a ZooKeeper quorum, chaosbed vs a docker CLI baseline.
    Zookeeper,
    /// Pulsar cluster-ready time; chaosbed's producer vs pulsar-perf.
    Pulsar,
    /// Both, ZooKeeper first.
    All,
}

/// Set by the release re-run, and by anyone who wants to measure a debug build on purpose.
const IN_RELEASE: &str = "CHAOSBED_BENCH_BUILD_CHECKED";

/// Benchmarks measure a release build: a debug build of the harness (and of the pulsar crate)
/// spends a millisecond of CPU per message and would measure the compiler's settings.
fn rerun_in_release() -> anyhow::Result<Option<ExitCode>> {
    if !cfg!(debug_assertions) || std::env::var_os(IN_RELEASE).is_some() {
        return Ok(None);
    }
    println!(
        "building xtask in release mode for the benchmarks (set {IN_RELEASE}=1 to measure this debug build)"
    );
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
            .args(std::env::args().skip(1))
            .env(IN_RELEASE, "1")
            .current_dir(crate::root())
            .status()?;
    Ok(Some(ExitCode::from(status.code().unwrap_or(2) as u8)))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(code) = rerun_in_release()? {
        return Ok(code);
    }
    if matches!(args.which, Which::Zookeeper | Which::All) {
        println!("== zookeeper");
        zookeeper::run(args.zookeeper).await?;
    }
    if matches!(args.which, Which::Pulsar | Which::All) {
        if args.which == Which::All {
            println!();
        }
        println!("== pulsar");
        return pulsar::run(args.pulsar).await;
    }
    Ok(ExitCode::SUCCESS)
}

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

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
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

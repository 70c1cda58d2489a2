//! `cargo xtask`: the project's tasks — run the scenario suite, build images, generate compose
//! files, clean up, benchmark, roll upgrades, check the host. One module per task.

mod bench;
mod chaos;
mod compose;
mod doctor;
mod images;
mod random;
mod upgrade;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

chaosbed::use_jemalloc!();

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the scenario suite (every tier), or the named scenarios, building images as needed.
    Chaos(chaos::Args),
    /// Build every local image (base rootfs, JRE, ZooKeeper versions).
    Images,
    /// Make this machine ready: a Docker engine that answers (installing docker.io and starting
    /// dockerd as root on Debian or Ubuntu), and mmdebstrap and Maven for image builds.
    Provision,
    /// Regenerate compose/<scenario>.yml from the scenario files (--check: fail when stale).
    Compose {
        #[arg(long)]
        check: bool,
    },
    /// Remove every container, network and volume chaosbed runs left behind.
    Clean {
        /// Also remove superseded chaosbed image tags (neither a current content-hash tag nor
        /// a current alias, as this checkout's fixtures plan them), printing each and the space
        /// freed. Never forces: an image a container uses stays.
        #[arg(long)]
        images: bool,
    },
    /// Check this host: Docker engine, free disk, images, kernel features, tools.
    Doctor,
    /// Benchmarks against a baseline in the same run.
    Bench(Box<bench::Args>),
    /// A rolling upgrade (and rollback) under load: verdict per phase, rejoin time per node.
    Upgrade(upgrade::Args),
    /// Check a history.jsonl with the linearizable checker and print one JSON line (what
    /// `cargo xtask bench checker` runs as a child, to measure it like Porcupine).
    #[command(hide = true)]
    CheckHistory {
        file: PathBuf,
        #[arg(long, default_value = "linearizable")]
        reads: chaosbed::scenario::ReadModel,
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        time_limit: std::time::Duration,
        #[arg(long, default_value = "1GiB")]
        memory_limit: chaosbed::scenario::ByteSize,
    },
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Builds chaosbed-proxy (which the nemesis helpers run) in this xtask's profile, beside it,
/// where the runner looks for it: `cargo xtask` builds only xtask and the chaosbed library.
fn build_proxy() -> anyhow::Result<()> {
    use anyhow::Context as _;
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let dir = exe.parent().context("the xtask binary has no folder")?;
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--package", "chaosbed", "--bin"])
        .arg(chaosbed::backend::proxy_binary::NAME)
        .args(["--profile", profile])
        .current_dir(root())
        .status()
        .context("running cargo to build chaosbed-proxy")?;
    anyhow::ensure!(
        status.success(),
        "building chaosbed-proxy failed ({status}); see cargo's output above"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let task = Cli::parse().task;
    if matches!(task, Task::Chaos(_) | Task::Bench(_) | Task::Upgrade(_))
        && let Err(e) = build_proxy()
    {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = match task {
        Task::Chaos(args) => chaos::run(args).await,
        Task::Images => images::run().await,
        Task::Provision => provision().await,
        Task::Compose { check } => compose::run(check),
        Task::Clean { images } => clean(images).await,
        Task::Doctor => doctor::run().await,
        Task::Bench(args) => bench::run(*args).await,
        Task::Upgrade(args) => upgrade::run(args).await,
        Task::CheckHistory {
            file,
            reads,
            time_limit,
            memory_limit,
        } => check_history(&file, reads, time_limit, memory_limit),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn provision() -> anyhow::Result<ExitCode> {
    let docker = chaosbed::provision::everything().await?;
    let version = docker.version().await?;
    println!(
        "ready: Docker engine {} (API {}), mmdebstrap and Maven present",
        version.version.unwrap_or_default(),
        version.api_version.unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

async fn clean(images: bool) -> anyhow::Result<ExitCode> {
    let docker = chaosbed::backend::docker::connect().await?;
    let removed = chaosbed::backend::docker::remove_all(&docker).await?;
    println!("removed {removed}");
    if images {
        print!("{}", chaosbed::image::clean_superseded(&docker).await?);
    }
    Ok(ExitCode::SUCCESS)
}

fn check_history(
    file: &std::path::Path,
    reads: chaosbed::scenario::ReadModel,
    time: std::time::Duration,
    memory: chaosbed::scenario::ByteSize,
) -> anyhow::Result<ExitCode> {
    let limits = chaosbed::checker::linearizable::Limits {
        time,
        memory: memory.0,
    };
    let line = chaosbed::checker::linearizable::check_file_line(file, reads, limits)?;
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

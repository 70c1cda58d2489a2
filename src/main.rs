//! The `chaosbed` command: run scenarios, validate scenario files, render a run's report, clean
//! up leftovers (and, with `clean --images`, superseded images).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::MultiProgress;

use chaosbed::runner::{self, RunOptions};
use chaosbed::scenario;

chaosbed::use_jemalloc!();

#[derive(Parser)]
#[command(
    name = "chaosbed",
    version,
    about = "Chaos testbed: real clusters in Docker, faults, verdicts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenario files against Docker; exits non-zero when a check is invalid.
    Run {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Keep a failed run's containers for debugging.
        #[arg(long)]
        keep: bool,
        /// Upper bound on each run, e.g. 15m.
        #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Where run directories go (default target/chaosbed/runs).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check scenario files without Docker.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Render report.html of run directories from their history.jsonl and results.json alone
    /// (runs of older chaosbeds and of other machines too), and the index of the runs beside them.
    Report {
        #[arg(required = true, value_name = "RUN_DIR")]
        dirs: Vec<PathBuf>,
    },
    /// Remove every container, network and volume any chaosbed run left behind.
    Clean {
        /// Also remove superseded chaosbed image tags (neither a current content-hash tag nor
        /// a current alias, as this checkout's fixtures plan them), printing each and the space
        /// freed. Never forces: an image a container uses stays.
        #[arg(long)]
        images: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,zookeeper_client=error,pulsar=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Validate { files } => validate(&files),
        Command::Run {
            files,
            keep,
            timeout,
            out,
        } => {
            let options = RunOptions {
                out_root: out.unwrap_or_else(runner::default_out_root),
                keep,
                timeout,
            };
            run(&files, &options).await
        }
        Command::Report { dirs } => report(&dirs),
        Command::Clean { images } => match clean(images).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut bad = 0;
    for file in files {
        match scenario::load(file) {
            Ok(s) => println!(
                "ok: {} ({}, {} faults, {} checks)",
                file.display(),
                s.name,
                s.faults.len(),
                s.checks.len()
            ),
            Err(e) => {
                bad += 1;
                eprint!("{e}");
            }
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run(files: &[PathBuf], options: &RunOptions) -> ExitCode {
    let mut scenarios = Vec::new();
    for file in files {
        match scenario::load(file) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprint!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let progress = MultiProgress::new();
    let mut worst = 0;
    for s in &scenarios {
        println!("== {}: {}", s.name, s.description);
        match runner::run(s, options, &progress).await {
            Ok(outcome) => {
                if let Some(error) = &outcome.results.error {
                    println!("run error: {error}");
                }
                print!("{}", chaosbed::report::render_table(&outcome.results));
                println!(
                    "{}",
                    chaosbed::report::verdict_line(&outcome.results, &outcome.dir)
                );
                worst = worst.max(outcome.exit_code());
                if outcome.results.error.as_deref() == Some(chaosbed::runner::INTERRUPTED) {
                    return ExitCode::from(130);
                }
            }
            Err(e) => {
                eprintln!("error: {}: {e:#}", s.name);
                worst = worst.max(2);
            }
        }
    }
    ExitCode::from(worst as u8)
}

fn report(dirs: &[PathBuf]) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for dir in dirs {
        match chaosbed::report::html::write(dir) {
            Ok(file) => println!(
                "file://{}",
                std::path::absolute(&file).unwrap_or(file).display()
            ),
            Err(e) => {
                eprintln!("error: rendering the report of {}: {e:#}", dir.display());
                code = ExitCode::from(2);
            }
        }
    }
    code
}

async fn clean(images: bool) -> anyhow::Result<()> {
    let docker = chaosbed::backend::docker::connect().await?;
    let removed = chaosbed::backend::docker::remove_all(&docker).await?;
    println!("removed {removed}");
    if images {
        print!("{}", chaosbed::image::clean_superseded(&docker).await?);
    }
    Ok(())
}

//! `cargo xtask chaos [SCENARIO...]`: runs the suite, or named scenarios, and prints a summary;
//! `--random` and `--replay` go to the `random` module.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::MultiProgress;

use chaosbed::runner::{self, RunOptions};
use chaosbed::scenario::{self, Scenario, Tier};

#[derive(clap::Args)]
pub struct Args {
    /// Scenario names (file stems in scenarios/) or paths; default: every scenario.
    scenarios: Vec<String>,
    /// Only this tier.
    #[arg(long, value_parser = ["smoke", "full"])]
    tier: Option<String>,
    /// Keep a failed run's containers for debugging.
    #[arg(long)]
    keep: bool,
    /// Upper bound on each run.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Run N fault schedules drawn within the scenario's [random] limits; shrink the first that
    /// fails and write a replay manifest. Takes one scenario.
    #[arg(long, value_name = "N", conflicts_with = "tier")]
    random: Option<u64>,
    /// Seed of the first drawn schedule (schedule i uses seed + i); default: the scenario's seed.
    #[arg(long, requires = "random")]
    seed: Option<u64>,
    /// Time the shrinking of a failure may spend on reruns.
    #[arg(long, default_value = "20m", value_parser = humantime::parse_duration, requires = "random")]
    budget: Duration,
    /// Rerun the shrunk schedule of a replay manifest; exit 0 when its verdict is the recorded one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenarios", "tier", "random"])]
    replay: Option<std::path::PathBuf>,
}

/// Every scenario file in scenarios/, sorted by name.
pub fn all_scenarios() -> anyhow::Result<Vec<std::path::PathBuf>> {
    let dir = crate::root().join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The file of a scenario named by its file stem in scenarios/, or by its path.
fn scenario_file(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = std::path::PathBuf::from(name);
    if path.exists() {
        return Ok(path);
    }
    let file = crate::root().join("scenarios").join(format!("{name}.toml"));
    if file.exists() {
        Ok(file)
    } else {
        let known: Vec<String> = all_scenarios()?
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        anyhow::bail!("no scenario `{name}`; scenarios: {}", known.join(", "))
    }
}

fn select(args: &Args) -> anyhow::Result<Vec<Scenario>> {
    let files = if args.scenarios.is_empty() {
        all_scenarios()?
    } else {
        args.scenarios
            .iter()
            .map(|name| scenario_file(name))
            .collect::<anyhow::Result<_>>()?
    };
    let mut scenarios = Vec::new();
    for file in files {
        let s = scenario::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
        let wanted = match args.tier.as_deref() {
            Some("smoke") => s.tier == Tier::Smoke,
            Some("full") => s.tier == Tier::Full,
            _ => true,
        };
        if wanted {
            scenarios.push(s);
        }
    }
    Ok(scenarios)
}

/// A run's check table, error and verdict line.
pub fn print_outcome(outcome: &runner::Outcome) {
    if let Some(error) = &outcome.results.error {
        println!("run error: {error}");
    }
    print!("{}", chaosbed::report::render_table(&outcome.results));
    println!(
        "{}\n",
        chaosbed::report::verdict_line(&outcome.results, &outcome.dir)
    );
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = RunOptions {
        keep: args.keep,
        timeout: args.timeout,
        ..RunOptions::default()
    };
    if let Some(file) = &args.replay {
        return crate::random::run_replay(file, &options).await;
    }
    if let Some(count) = args.random {
        let [name] = args.scenarios.as_slice() else {
            anyhow::bail!(
                "--random takes exactly one scenario (a name in scenarios/ or a path), got {}",
                args.scenarios.len()
            );
        };
        let random = crate::random::Random {
            count,
            seed: args.seed,
            budget: args.budget,
        };
        return crate::random::run_random(&scenario_file(name)?, random, &options).await;
    }
    let scenarios = select(&args)?;
    let progress = MultiProgress::new();
    let mut summary = Vec::new();
    let mut worst = 0;
    for (n, s) in scenarios.iter().enumerate() {
        println!(
            "== [{}/{}] {} ({:?}): {}",
            n + 1,
            scenarios.len(),
            s.name,
            s.tier,
            s.description
        );
        let outcome = runner::run(s, &options, &progress).await?;
        print_outcome(&outcome);
        worst = worst.max(outcome.exit_code());
        summary.push((
            s.name.clone(),
            outcome.results.verdict,
            outcome.results.duration_secs,
        ));
        if outcome.results.error.as_deref() == Some(chaosbed::runner::INTERRUPTED) {
            return Ok(ExitCode::from(130));
        }
    }
    if summary.len() > 1 {
        println!("scenario                         verdict   seconds");
        for (name, verdict, secs) in &summary {
            println!("{name:<32} {:<9} {secs:>7.1}", verdict.to_string());
        }
    }
    let passed = summary
        .iter()
        .filter(|(_, v, _)| *v == chaosbed::checker::Verdict::Valid)
        .count();
    println!("{passed} passed, {} failed", summary.len() - passed);
    Ok(ExitCode::from(worst as u8))
}

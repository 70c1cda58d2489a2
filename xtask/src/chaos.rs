//! `cargo xtask chaos [SCENARIO...]`: runs the suite, or named scenarios, and prints a summary;
//! `--random` and `--replay` go to the `random` module.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::MultiProgress;

use chaosbed::checker::Verdict;
use chaosbed::report::suite::{self, SuiteEntry, SuiteRecord};
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
    /// Stop the suite at the first scenario that is not valid (default: run them all).
    #[arg(long)]
    fail_fast: bool,
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
    // Once for the suite: without an engine every scenario would fail the same way.
    chaosbed::provision::engine().await?;
    run_suite(&scenarios, &options, args.fail_fast).await
}

/// Each scenario in turn, with the time left; a scenario that errors does not stop the suite
/// (`fail_fast`: the first that is not valid does). Ends with the suite table and its directory.
async fn run_suite(
    scenarios: &[Scenario],
    options: &RunOptions,
    fail_fast: bool,
) -> anyhow::Result<ExitCode> {
    let progress = MultiProgress::new();
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let earlier = suite::earlier_durations(&options.out_root, &names);
    // A scenario never run before: its workload plus the typical set-up and checks.
    let fallback = |name: &str| {
        scenarios
            .iter()
            .find(|s| s.name == name)
            .map_or(120.0, |s| {
                s.workload.duration.get_ref().0.as_secs_f64() + 90.0
            })
    };
    let started = Instant::now();
    let started_at = chrono::Local::now();
    let mut record = SuiteRecord {
        started_at: started_at.to_rfc3339(),
        seconds: 0.0,
        selected: names.clone(),
        entries: Vec::new(),
        stopped: None,
    };
    for (n, s) in scenarios.iter().enumerate() {
        let tier = tier_name(s.tier);
        let left = suite::estimate_left(&names[n..], &earlier, fallback);
        println!(
            "== {}: {}",
            suite::progress_line(
                n + 1,
                scenarios.len(),
                &s.name,
                tier,
                started.elapsed(),
                left
            ),
            s.description
        );
        let run_started = Instant::now();
        let entry = match runner::run(s, options, &progress).await {
            Ok(outcome) => {
                print_outcome(&outcome);
                let seconds = run_started.elapsed().as_secs_f64();
                SuiteEntry::from_results(tier, &outcome.results, &outcome.dir, seconds)
            }
            Err(e) => {
                let error = format!("{e:#}");
                println!("run error: {error}\nUNKNOWN {} (could not run)\n", s.name);
                SuiteEntry::errored(&s.name, tier, run_started.elapsed().as_secs_f64(), &error)
            }
        };
        let interrupted = entry.error.as_deref() == Some(runner::INTERRUPTED);
        let failed = entry.verdict != Verdict::Valid;
        record.entries.push(entry);
        if interrupted {
            record.stopped = Some(runner::INTERRUPTED.to_owned());
            break;
        }
        if fail_fast && failed && n + 1 < scenarios.len() {
            record.stopped = Some(format!("--fail-fast: {} was not valid", s.name));
            break;
        }
    }
    record.seconds = started.elapsed().as_secs_f64();
    let stamp = started_at.format("%Y%m%d-%H%M%S").to_string();
    let dir = suite::write(&suite::suites_root(&options.out_root), &stamp, &record)?;
    if scenarios.len() > 1 {
        print!("{}", suite::render_table(&record));
    }
    if let Some(why) = &record.stopped {
        println!(
            "stopped after {} of {} scenarios: {why}",
            record.entries.len(),
            scenarios.len()
        );
    }
    let passed = record.passed();
    println!(
        "{passed} passed, {} failed in {} — {}",
        record.entries.len() - passed,
        suite::clock(started.elapsed()),
        dir.display()
    );
    if record.stopped.as_deref() == Some(runner::INTERRUPTED) {
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::from(record.exit_code()))
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Smoke => "smoke",
        Tier::Full => "full",
    }
}

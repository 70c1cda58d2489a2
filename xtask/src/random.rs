//! `cargo xtask chaos --random N --seed S SCENARIO` (run N drawn fault schedules; shrink the first
//! that fails and write a replay manifest) and `cargo xtask chaos --replay FILE` (rerun one
//! exactly). The shrink loop and the manifest live in `chaosbed::nemesis::{shrink, replay}`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::MultiProgress;

use chaosbed::checker::Verdict;
use chaosbed::nemesis::random::{Schedule, generate};
use chaosbed::nemesis::replay::{ImageRecord, Manifest, ShrinkRecord, scenario_with};
use chaosbed::nemesis::shrink::{Shrinker, Shrunk};
use chaosbed::runner::{self, INTERRUPTED, Outcome, RunOptions};
use chaosbed::scenario::{self, Dur, Scenario};

/// What `--random` asks for.
pub struct Random {
    pub count: u64,
    /// Default: the scenario's own `seed`.
    pub seed: Option<u64>,
    pub budget: Duration,
}

/// Runs `random.count` schedules drawn for the scenario at `path`; shrinks the first that fails.
/// Exit status: 0 all valid, 1 one failed (shrunk, manifest written), 2 one unknown, 130 Ctrl-C.
pub async fn run_random(
    path: &Path,
    random: Random,
    options: &RunOptions,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the scenario {}", path.display()))?;
    let scenario =
        scenario::parse(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(table) = &scenario.random else {
        anyhow::bail!(
            "{} has no [random] table, so there are no limits to draw schedules within; add one (see README.md, \"Random fault schedules\")",
            path.display()
        );
    };
    let limits = table.get_ref().limits(&scenario);
    let seed = random.seed.unwrap_or(scenario.seed);
    let progress = MultiProgress::new();
    println!(
        "== {} --random {} --seed {seed}: up to {} faults of {} on {}, {}..={} each, none in the last {} of {}",
        scenario.name,
        random.count,
        limits.max_faults,
        names(limits.kinds.iter()),
        names(limits.targets.iter()),
        Dur(limits.min_len),
        Dur(limits.max_len),
        Dur(limits.settle),
        Dur(limits.duration),
    );
    let mut verdicts = Vec::new();
    for index in 0..random.count {
        let run_seed = seed.wrapping_add(index);
        let schedule = generate(&limits, run_seed);
        println!(
            "\n== schedule {}/{} (seed {run_seed}): {schedule}",
            index + 1,
            random.count
        );
        let outcome = runner::run(
            &scenario_with(&scenario, &schedule, run_seed),
            options,
            &progress,
        )
        .await?;
        crate::chaos::print_outcome(&outcome);
        if interrupted(&outcome) {
            return Ok(ExitCode::from(130));
        }
        let verdict = outcome.results.verdict;
        verdicts.push((run_seed, verdict, schedule.clone()));
        if verdict == Verdict::Invalid {
            let failure = Failure {
                path,
                text: &text,
                scenario: &scenario,
                seed,
                index,
                schedule,
                outcome: &outcome,
            };
            let left = random.count - index - 1;
            if left > 0 {
                println!("(the {left} schedules after this one are not run: shrinking it first)");
            }
            return shrink_and_record(failure, &limits, random.budget, options, &progress).await;
        }
    }
    println!("\nseed      verdict   schedule");
    for (run_seed, verdict, schedule) in &verdicts {
        println!("{run_seed:<9} {:<9} {schedule}", verdict.to_string());
    }
    let unknown = verdicts
        .iter()
        .filter(|(_, v, _)| *v == Verdict::Unknown)
        .count();
    println!(
        "{} schedules: {} valid, {unknown} unknown, none failed",
        verdicts.len(),
        verdicts.len() - unknown
    );
    Ok(ExitCode::from(if unknown > 0 { 2 } else { 0 }))
}

/// The first failing schedule and what is needed to record it.
struct Failure<'a> {
    path: &'a Path,
    text: &'a str,
    scenario: &'a Scenario,
    seed: u64,
    index: u64,
    schedule: Schedule,
    outcome: &'a Outcome,
}

async fn shrink_and_record(
    failure: Failure<'_>,
    limits: &chaosbed::nemesis::random::Limits,
    budget: Duration,
    options: &RunOptions,
    progress: &MultiProgress,
) -> anyhow::Result<ExitCode> {
    let run_seed = failure.seed.wrapping_add(failure.index);
    println!(
        "\n== shrinking: {} faults, within a budget of {} (only INVALID counts as still failing; unknown does not)",
        failure.schedule.0.len(),
        Dur(budget)
    );
    let started = Instant::now();
    let mut shrinker = Shrinker::new(failure.schedule.clone(), limits, budget);
    let mut exit = ExitCode::from(1);
    while let Some(candidate) = shrinker.next_candidate() {
        let n = shrinker.runs() + 1;
        println!(
            "\n-- shrink run {n} ({} of {} spent; current: {} faults): {candidate}",
            Dur(whole_secs(shrinker.spent())),
            Dur(budget),
            shrinker.current().0.len()
        );
        let took = Instant::now();
        let outcome = runner::run(
            &scenario_with(failure.scenario, &candidate, run_seed),
            options,
            progress,
        )
        .await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                println!("run error: {error:#}; stopping the shrink here");
                shrinker.interrupt();
                exit = ExitCode::from(2);
                break;
            }
        };
        print_brief(&outcome);
        if interrupted(&outcome) {
            shrinker.interrupt();
            exit = ExitCode::from(130);
            break;
        }
        let verdict = outcome.results.verdict;
        shrinker.record(verdict, took.elapsed());
        if verdict == Verdict::Invalid {
            println!("   still fails: adopted ({} faults)", candidate.0.len());
        }
    }
    let shrunk = shrinker.finish();
    let images = images_of(&failure.outcome.results.images).await;
    let manifest = Manifest {
        chaosbed_version: env!("CARGO_PKG_VERSION").to_string(),
        commit: chaosbed::version::git_commit(),
        created_at: chrono_now(),
        scenario: failure.scenario.name.clone(),
        scenario_file: std::path::absolute(failure.path)?,
        scenario_text: failure.text.to_string(),
        seed: failure.seed,
        index: failure.index,
        run_seed,
        original: failure.schedule.clone(),
        original_verdict: failure.outcome.results.verdict,
        schedule: shrunk.schedule.clone(),
        verdict: Verdict::Invalid,
        images,
        shrink: ShrinkRecord::from(&shrunk),
    };
    let file = manifest.write(&options.out_root.join(&failure.scenario.name))?;
    print_summary(&shrunk, started.elapsed(), &file);
    Ok(exit)
}

fn print_summary(shrunk: &Shrunk, wall: Duration, manifest: &Path) {
    println!("\n== shrunk: {}", shrunk.stopped);
    println!(
        "original  ({} faults): {}",
        shrunk.original.0.len(),
        shrunk.original
    );
    println!(
        "shrunk    ({} faults): {}",
        shrunk.schedule.0.len(),
        shrunk.schedule
    );
    println!(
        "runs      {} ({} still failed), {} of runs ({} wall), budget {}",
        shrunk.runs(),
        shrunk.steps(),
        Dur(whole_secs(shrunk.spent)),
        Dur(whole_secs(wall)),
        Dur(shrunk.budget)
    );
    println!("manifest  {}", manifest.display());
    println!(
        "replay    cargo xtask chaos --replay {}",
        manifest.display()
    );
}

/// Reruns the shrunk schedule of the manifest at `file`. Exit status: 0 when its verdict is the
/// recorded one, 1 when not, 130 on Ctrl-C.
pub async fn run_replay(file: &Path, options: &RunOptions) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::read(file)?;
    if let Some(warning) = manifest.scenario_file_changed() {
        println!("warning: {warning}");
    }
    let scenario = manifest.scenario().map_err(|e| {
        anyhow::anyhow!(
            "the scenario text in {} no longer parses:\n{e}",
            file.display()
        )
    })?;
    if let Some(table) = &scenario.random
        && let Err(problem) = table.get_ref().limits(&scenario).admits(&manifest.schedule)
    {
        println!("warning: the schedule is outside the scenario's [random] limits: {problem}");
    }
    for warning in missing_images(&manifest.images).await {
        println!("warning: {warning}");
    }
    println!(
        "== replaying {} (seed {}, schedule {} of --seed {}; recorded by chaosbed {}{}): {}",
        manifest.scenario,
        manifest.run_seed,
        manifest.index,
        manifest.seed,
        manifest.chaosbed_version,
        manifest
            .commit
            .as_deref()
            .map(|c| format!(" at {c}"))
            .unwrap_or_default(),
        manifest.schedule
    );
    let progress = MultiProgress::new();
    let outcome = runner::run(&scenario, options, &progress).await?;
    crate::chaos::print_outcome(&outcome);
    if interrupted(&outcome) {
        return Ok(ExitCode::from(130));
    }
    let now = images_of(&outcome.results.images).await;
    for difference in manifest.image_differences(&now) {
        println!("warning: images differ from the manifest's: {difference}");
    }
    let verdict = outcome.results.verdict;
    if verdict == manifest.verdict {
        println!(
            "replay verdict {verdict}, recorded {}: the same",
            manifest.verdict
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "replay verdict {verdict}, recorded {}: they DIFFER",
            manifest.verdict
        );
        Ok(ExitCode::from(1))
    }
}

/// One line per run while shrinking: verdict, the checks that did not pass, the run directory.
fn print_brief(outcome: &Outcome) {
    let results = &outcome.results;
    println!(
        "   {} in {:.1}s — {}",
        results.verdict,
        results.duration_secs,
        outcome.dir.display()
    );
    if let Some(error) = &results.error {
        println!("   run error: {error}");
    }
    for check in results
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Valid)
    {
        println!("   {} {}: {}", check.name, check.verdict, check.summary);
    }
}

fn interrupted(outcome: &Outcome) -> bool {
    outcome.results.error.as_deref() == Some(INTERRUPTED)
}

/// The images a run used, with the engine's id for each tag (when the engine answers).
async fn images_of(tags: &BTreeMap<String, String>) -> BTreeMap<String, ImageRecord> {
    let docker = chaosbed::backend::docker::connect().await.ok();
    let mut images = BTreeMap::new();
    for (system, tag) in tags {
        let id = match &docker {
            Some(docker) => docker.inspect_image(tag).await.ok().and_then(|i| i.id),
            None => None,
        };
        images.insert(
            system.clone(),
            ImageRecord {
                tag: tag.clone(),
                id,
            },
        );
    }
    images
}

/// Recorded images the engine does not have as recorded (before the replay builds anything).
async fn missing_images(recorded: &BTreeMap<String, ImageRecord>) -> Vec<String> {
    let Ok(docker) = chaosbed::backend::docker::connect().await else {
        return vec!["cannot reach the Docker engine to compare images".into()];
    };
    let mut warnings = Vec::new();
    for (system, image) in recorded {
        match docker.inspect_image(&image.tag).await {
            Err(_) => warnings.push(format!(
                "{system}: the recorded image {} is not here; the run uses the image the current fixtures give",
                image.tag
            )),
            Ok(found) if image.id.is_some() && found.id != image.id => warnings.push(format!(
                "{system}: {} is image {} here, the manifest recorded {}",
                image.tag,
                found.id.unwrap_or_default(),
                image.id.as_deref().unwrap_or_default()
            )),
            Ok(_) => {}
        }
    }
    warnings
}

fn chrono_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn whole_secs(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}

fn names<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join("/")
}

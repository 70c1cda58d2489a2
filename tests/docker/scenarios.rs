//! The smoke-tier scenarios, each run end to end through the runner against real containers;
//! tests are named `<system>::scenario::<name>` after the system the workload drives.

use libtest_mimic::Trial;

use chaosbed::checker::Verdict;
use chaosbed::runner::{self, RunOptions};

use super::support::{block_on, docker, leftovers, scenario};

/// Every smoke-tier scenario file becomes a test; the full tier runs under `cargo xtask chaos`.
pub fn trials() -> Vec<Trial> {
    smoke_scenarios()
        .into_iter()
        .map(|(system, name)| {
            Trial::test(format!("{system}::scenario::{name}"), move || {
                block_on(run_scenario(&name))
            })
        })
        .collect()
}

fn smoke_scenarios() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("the scenarios directory is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "toml"))
        .filter_map(|path| chaosbed::scenario::load(&path).ok())
        .filter(|s| s.tier == chaosbed::scenario::Tier::Smoke)
        .map(|s| (s.workload.system().to_string(), s.name))
        .collect();
    names.sort();
    names
}

async fn run_scenario(name: &str) -> anyhow::Result<()> {
    let docker = docker().await?;
    let scenario = scenario(name)?;
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let outcome = runner::run(&scenario, &RunOptions::default(), &progress).await?;
    let table = chaosbed::report::render_table(&outcome.results);
    println!(
        "{table}{}",
        chaosbed::report::verdict_line(&outcome.results, &outcome.dir)
    );
    for file in [
        "history.jsonl",
        "results.json",
        "junit.xml",
        "report.html",
        "scenario.toml",
        "logs/zk-1.log",
    ] {
        // Every scenario runs ZooKeeper, so zk-1's log is always there.
        anyhow::ensure!(
            outcome.dir.join(file).exists(),
            "the run directory lacks {file}"
        );
    }
    let left = leftovers(&docker, &outcome.results.run_id).await?;
    anyhow::ensure!(left.is_empty(), "the run left behind: {left:?}");
    anyhow::ensure!(
        outcome.results.verdict == Verdict::Valid,
        "{name}: verdict {} (error: {:?})\n{table}",
        outcome.results.verdict,
        outcome.results.error
    );
    Ok(())
}

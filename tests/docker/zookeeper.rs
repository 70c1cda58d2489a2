//! ZooKeeper in Docker: the smoke-tier scenarios, each run end to end through the runner.

use libtest_mimic::Trial;

use chaosbed::checker::Verdict;
use chaosbed::runner::{self, RunOptions};

use super::support::{block_on, docker, leftovers, scenario};

/// The smoke tier; tests/scenarios.rs checks this list against the files' `tier`.
pub const SMOKE: &[&str] = &["zk-leader-kill"];

pub fn trials() -> Vec<Trial> {
    SMOKE
        .iter()
        .map(|name| Trial::test(format!("zookeeper::scenario::{name}"), move || block_on(run_scenario(name))))
        .collect()
}

async fn run_scenario(name: &str) -> anyhow::Result<()> {
    let docker = docker().await?;
    let scenario = scenario(name)?;
    let progress = indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let outcome = runner::run(&scenario, &RunOptions::default(), &progress).await?;
    let table = chaosbed::report::render_table(&outcome.results);
    println!("{table}{}", chaosbed::report::verdict_line(&outcome.results, &outcome.dir));
    for file in ["history.jsonl", "results.json", "junit.xml", "scenario.toml", "logs/zk-1.log"] {
        anyhow::ensure!(outcome.dir.join(file).exists(), "the run directory lacks {file}");
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

//! Nothing survives a run: after a failed check, with `--keep` then `clean`, and after Ctrl-C.

use std::time::{Duration, Instant};

use libtest_mimic::Trial;

use chaosbed::checker::Verdict;
use chaosbed::runner::{self, RunOptions};

use super::support::{block_on, docker, leftovers};

pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("cleanup::a_failed_check_leaves_nothing", || {
            block_on(failed_check_leaves_nothing())
        }),
        Trial::test("cleanup::keep_keeps_a_failed_run_until_clean", || {
            block_on(keep_then_clean())
        }),
        Trial::test("cleanup::ctrl_c_leaves_nothing", || {
            block_on(ctrl_c_leaves_nothing())
        }),
    ]
}

/// A short run whose availability check must fail: it demands an outage and injects none.
fn doomed(name: &str) -> String {
    format!(
        r#"name = "{name}"
description = "cleanup test: a check that cannot pass"
tier = "full"
[topology.zookeeper]
nodes = 3
[workload]
kind = "zk-register"
rate = 10
duration = "{duration}"
[[check]]
kind = "availability"
expect_outage = true
"#,
        duration = if name.contains("ctrl-c") { "5m" } else { "4s" }
    )
}

fn hidden() -> indicatif::MultiProgress {
    indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
}

fn out_root() -> std::path::PathBuf {
    std::env::temp_dir().join("chaosbed-test-runs")
}

async fn failed_check_leaves_nothing() -> anyhow::Result<()> {
    let docker = docker().await?;
    let scenario = chaosbed::scenario::parse("doomed.toml", &doomed("cleanup-failed"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = RunOptions {
        out_root: out_root(),
        ..RunOptions::default()
    };
    let outcome = runner::run(&scenario, &options, &hidden()).await?;
    anyhow::ensure!(
        outcome.results.verdict == Verdict::Invalid,
        "expected the doomed check to fail, got {} ({:?})",
        outcome.results.verdict,
        outcome.results.error
    );
    anyhow::ensure!(outcome.exit_code() != 0, "a failed run must exit non-zero");
    let left = leftovers(&docker, &outcome.results.run_id).await?;
    anyhow::ensure!(left.is_empty(), "a failed run left behind: {left:?}");
    Ok(())
}

async fn keep_then_clean() -> anyhow::Result<()> {
    let docker = docker().await?;
    let scenario = chaosbed::scenario::parse("doomed.toml", &doomed("cleanup-keep"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = RunOptions {
        out_root: out_root(),
        keep: true,
        ..RunOptions::default()
    };
    let outcome = runner::run(&scenario, &options, &hidden()).await?;
    let run = outcome.results.run_id.clone();
    let kept = leftovers(&docker, &run).await?;
    let removed = chaosbed::backend::docker::remove_run(&docker, Some(&run)).await?;
    anyhow::ensure!(outcome.kept, "--keep on a failed run must keep it");
    anyhow::ensure!(
        kept.len() >= 4,
        "expected 3 containers and a network kept, found {kept:?}"
    );
    anyhow::ensure!(removed.containers.len() == 3, "clean removed {removed}");
    let left = leftovers(&docker, &run).await?;
    anyhow::ensure!(left.is_empty(), "clean left behind: {left:?}");
    Ok(())
}

async fn ctrl_c_leaves_nothing() -> anyhow::Result<()> {
    let docker = docker().await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("cleanup-ctrl-c.toml");
    std::fs::write(&file, doomed("cleanup-ctrl-c"))?;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chaosbed"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(out_root())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().expect("a running child has a pid");

    // Wait until the run's three containers exist, then interrupt it like a person would.
    let prefix = "/cb-cleanup-ctrl-c-";
    let begin = Instant::now();
    let run = loop {
        let containers = docker
            .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await?;
        let ours: Vec<_> = containers
            .iter()
            .filter(|c| c.names.iter().flatten().any(|n| n.starts_with(prefix)))
            .filter(|c| c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING))
            .collect();
        if ours.len() == 3 {
            break ours[0]
                .labels
                .as_ref()
                .and_then(|l| l.get("chaosbed.run").cloned())
                .expect("chaosbed containers carry the run label");
        }
        anyhow::ensure!(
            begin.elapsed() < Duration::from_secs(180),
            "the run's containers never started"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let signal = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()?;
    anyhow::ensure!(signal.success(), "could not send SIGINT to chaosbed");
    let status = tokio::time::timeout(Duration::from_secs(90), child.wait()).await??;
    anyhow::ensure!(
        status.code() == Some(130),
        "chaosbed exited with {status} after Ctrl-C, expected 130"
    );
    let left = leftovers(&docker, &run).await?;
    anyhow::ensure!(left.is_empty(), "Ctrl-C left behind: {left:?}");
    Ok(())
}

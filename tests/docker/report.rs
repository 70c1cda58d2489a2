//! The report as a person sees it: a real run of the smoke ZooKeeper scenario, its report.html
//! loaded in headless Chromium (the page's script run), the rendered page checked against the
//! run's results, and a screenshot saved beside it (report.png).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, ensure};
use libtest_mimic::Trial;

use chaosbed::runner::{self, RunOptions};

use super::support::{block_on, docker, scenario};

const SCENARIO: &str = "zk-leader-kill";
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

pub fn trials() -> Vec<Trial> {
    vec![Trial::test("report::zk_leader_kill_in_chromium", || {
        block_on(report_in_chromium())
    })]
}

async fn report_in_chromium() -> anyhow::Result<()> {
    docker().await?;
    chaosbed::provision::tool(&chaosbed::host::tools::CHROMIUM).await?;
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let outcome = runner::run(&scenario(SCENARIO)?, &RunOptions::default(), &progress).await?;
    let page = outcome.dir.join("report.html");
    ensure!(page.exists(), "the run wrote no {}", page.display());

    let dom = chromium(&page, &["--dump-dom"]).await?;
    let screenshot = outcome.dir.join("report.png");
    chromium(
        &page,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1400,1700",
            "--hide-scrollbars",
        ],
    )
    .await?;
    ensure!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000),
        "Chromium saved no screenshot at {}",
        screenshot.display()
    );
    println!("screenshot: {}", screenshot.display());

    ensure!(
        dom.contains("data-rendered=\"1\""),
        "the page's script did not finish"
    );
    ensure!(
        !dom.contains("data-errors="),
        "the page logged errors: {}",
        between(&dom, "data-errors=\"", "\"").unwrap_or_default()
    );
    ensure!(
        dom.contains("<svg id=\"axis\" height=\"22\"><line"),
        "the script drew no time axis"
    );
    let results = &outcome.results;
    ensure!(
        dom.matches("id=\"check-").count() == results.checks.len(),
        "the checks table lacks a row per check"
    );
    ensure!(
        dom.matches("class=\"row node-row\"").count() == 3,
        "not one lane per ZooKeeper node"
    );
    let clients = dom.matches("class=\"row client-row\"").count();
    ensure!(
        clients >= 3,
        "{clients} client lanes, expected one per client at least"
    );

    // The kill's band where the run applied it, and the killed node down on its lane.
    let kill = results
        .faults
        .iter()
        .find(|f| f.action == "apply" && f.fault == "kill")
        .context("the run recorded no kill")?;
    let band_x: f64 = between(&dom, "class=\"band kill\" data-band=\"0\" x=\"", "\"")
        .context("no kill band on the page")?
        .parse()?;
    ensure!(
        (band_x - kill.at_secs).abs() < 1.0,
        "the kill band starts at {band_x} s, the kill was applied at {} s",
        kill.at_secs
    );
    let killed = &kill.targets[0];
    ensure!(
        dom.contains(&format!("<title>{killed}: down from")),
        "{killed}'s lane does not show it down"
    );
    // Another node leads after the kill.
    let new_leader = ["zk-1", "zk-2", "zk-3"]
        .iter()
        .filter(|n| *n != killed)
        .any(|n| {
            dom.match_indices(&format!("<title>{n}: leader from "))
                .any(|(at, _)| {
                    dom[at..]
                        .split("from ")
                        .nth(1)
                        .and_then(|t| t.split(' ').next())
                        .and_then(|t| t.parse::<f64>().ok())
                        .is_some_and(|from| from >= kill.at_secs)
                })
        });
    ensure!(new_leader, "no other node is shown leading after the kill");
    ensure!(dom.contains("write per s"), "no write throughput plot");
    Ok(())
}

/// Runs headless Chromium on `page` with `args`; its standard output.
async fn chromium(page: &Path, args: &[&str]) -> anyhow::Result<String> {
    let profile = tempfile::tempdir()?;
    let mut command = tokio::process::Command::new("chromium");
    command
        .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", std::path::absolute(page)?.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(CHROMIUM_TIMEOUT, command.output())
        .await
        .with_context(|| format!("Chromium did not finish within {CHROMIUM_TIMEOUT:?}"))?
        .context("starting chromium")?;
    ensure!(
        output.status.success(),
        "chromium exited with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

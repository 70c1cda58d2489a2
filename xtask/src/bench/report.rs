//! `cargo xtask bench report`: how fast a large run's report.html is written and opened, beside
//! the time to write the same history.jsonl. No Docker: each history is generated (clients
//! writing and reading, a monitor's role samples, a kill, a partition and a pause with their
//! heals, 1% of operations of unknown outcome and 0.5% failed), written to a run directory with
//! a results.json, rendered by the same code a run uses, and loaded in headless Chromium: once
//! a blank page (Chromium's own start), once the report, whose script stamps how long after
//! navigation it finished (`data-ready-ms`).

use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::json;

use chaosbed::history::{F, History, Op, OpKind};

#[derive(clap::Args, Clone)]
#[group(id = "report-bench")]
pub struct Args {
    /// History sizes, in history entries (an invocation and its completion are two).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    report_ops: Vec<usize>,
}

/// The targets of issue 18, for a 100k-entry history.
const MAX_BYTES: u64 = 10 * 1024 * 1024;
const MAX_RENDER: Duration = Duration::from_secs(1);
const MAX_OPEN: Duration = Duration::from_secs(2);
const CLIENTS: usize = 10;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    chaosbed::host::tools::find("chromium").context(
        "the report bench loads the page in Chromium: install Debian's chromium (apt-get install chromium)",
    )?;
    let root = tempfile::tempdir()?;
    let blank = root.path().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body>blank</body></html>")?;
    let (blank_wall, _) = open_in_chromium(&blank)?;
    println!(
        "{:>8}  {:>9}  {:>10}  {:>9}  {:>9}  {:>11}  {:>12}",
        "entries", "history", "jsonl write", "report", "render", "page ready", "chromium wall"
    );
    let mut missed = Vec::new();
    for &entries in &args.report_ops {
        let dir = root.path().join(format!("run-{entries}"));
        std::fs::create_dir_all(dir.join("logs"))?;
        let history = generate(entries);
        let started = Instant::now();
        std::fs::write(dir.join("history.jsonl"), history.to_jsonl())?;
        let jsonl_write = started.elapsed();
        let jsonl_bytes = std::fs::metadata(dir.join("history.jsonl"))?.len();
        std::fs::write(dir.join("results.json"), results(&history).to_string())?;

        let started = Instant::now();
        let file = chaosbed::report::html::write(&dir)?;
        let render = started.elapsed();
        let bytes = std::fs::metadata(&file)?.len();
        let (wall, ready) = open_in_chromium(&file)?;
        println!(
            "{entries:>8}  {:>9}  {:>10.0} ms  {:>9}  {:>6.0} ms  {:>8.0} ms  {:>9.0} ms",
            megabytes(jsonl_bytes),
            jsonl_write.as_secs_f64() * 1e3,
            megabytes(bytes),
            render.as_secs_f64() * 1e3,
            ready.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3,
        );
        println!(
            "{:>8}  render / jsonl write: {:.1}x; Chromium on the report / on a blank page: {:.0} ms / {:.0} ms = {:.1}x",
            "",
            render.as_secs_f64() / jsonl_write.as_secs_f64().max(1e-6),
            wall.as_secs_f64() * 1e3,
            blank_wall.as_secs_f64() * 1e3,
            wall.as_secs_f64() / blank_wall.as_secs_f64().max(1e-6)
        );
        if entries >= 100_000 {
            if bytes > MAX_BYTES {
                missed.push(format!("{entries}: report {} > 10 MB", megabytes(bytes)));
            }
            if render > MAX_RENDER {
                missed.push(format!("{entries}: rendered in {render:.2?} > 1 s"));
            }
            if ready > MAX_OPEN {
                missed.push(format!("{entries}: page ready after {ready:.2?} > 2 s"));
            }
        }
    }
    println!(
        "targets for 100k entries: report under 10 MB, rendered in under 1 s, ready in Chromium in under 2 s"
    );
    if missed.is_empty() {
        println!("met");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("MISSED: {}", missed.join("; "));
        Ok(ExitCode::FAILURE)
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_048_576.0)
}

/// Loads `page` in headless Chromium (dumping its DOM once the load ends): the wall time of the
/// whole browser, and the page's own `data-ready-ms` (0 for a page without one).
fn open_in_chromium(page: &Path) -> anyhow::Result<(Duration, Duration)> {
    let profile = tempfile::tempdir()?;
    let started = Instant::now();
    let output = std::process::Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("running chromium")?;
    let wall = started.elapsed();
    ensure!(
        output.status.success(),
        "chromium exited with {}",
        output.status
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    ensure!(
        !dom.contains("data-errors="),
        "the report logged script errors"
    );
    let ready = dom
        .split("data-ready-ms=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|ms| ms.parse::<f64>().ok())
        .map_or(Duration::ZERO, |ms| Duration::from_secs_f64(ms / 1e3));
    Ok((wall, ready))
}

/// A history of about `entries` entries over a run of `entries / 200` seconds (at least 60):
/// CLIENTS clients in turn, monitor samples every half second, three faults.
fn generate(entries: usize) -> History {
    let run_secs = (entries as f64 / 200.0).max(60.0);
    let mut ops: Vec<Op> = Vec::with_capacity(entries + 64);
    let push =
        |ops: &mut Vec<Op>, secs: f64, process: &str, f, kind, value, error: Option<&str>| {
            ops.push(Op {
                index: 0,
                time: (secs * 1e9) as u64,
                process: process.to_string(),
                f,
                kind,
                value,
                error: error.map(str::to_string),
            });
        };
    let nodes = ["zk-1", "zk-2", "zk-3"];
    push(
        &mut ops,
        0.5,
        "nemesis",
        F::Topology,
        OpKind::Ok,
        json!({"nodes": nodes, "down": []}),
        None,
    );
    let faults = [
        (0.25, "kill", "zk-3", true),
        (0.5, "partition", "zk-1", false),
        (0.75, "pause", "zk-2", true),
    ];
    for (at, kind, node, down) in faults {
        let start = run_secs * at;
        let targets = [node];
        push(
            &mut ops,
            start,
            "nemesis",
            F::Fault,
            OpKind::Ok,
            json!({"fault": kind, "targets": targets, "down": if down { vec![node] } else { vec![] }, "evidence": {"took_effect": true}}),
            None,
        );
        push(
            &mut ops,
            start + 10.0,
            "nemesis",
            F::Heal,
            OpKind::Ok,
            json!({"fault": kind, "targets": targets, "down": [], "evidence": {"took_effect": true}}),
            None,
        );
    }
    let mut t = 1.0;
    while t < run_secs {
        let leader = if t < run_secs * 0.25 { "zk-3" } else { "zk-1" };
        let roles: serde_json::Map<String, serde_json::Value> = nodes
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    json!(if *n == leader { "leader" } else { "follower" }),
                )
            })
            .collect();
        push(
            &mut ops,
            t,
            "monitor",
            F::Roles,
            OpKind::Ok,
            json!({"roles": roles}),
            None,
        );
        t += 0.5;
    }
    let pairs = entries.saturating_sub(ops.len()) / 2;
    let step = (run_secs - 2.0) / pairs as f64 * CLIENTS as f64;
    for i in 0..pairs {
        let client = i % CLIENTS;
        let start = 1.0 + (i / CLIENTS) as f64 * step + client as f64 * step / CLIENTS as f64;
        let key = format!("/chaosbed/c{client}-{i:07}");
        let (f, value) = if i % 2 == 0 {
            (
                F::Write,
                json!({"key": key, "value": format!("c{client}-{i}")}),
            )
        } else {
            (F::Read, json!({"key": key, "value": null}))
        };
        let process = format!("client-{client}");
        push(
            &mut ops,
            start,
            &process,
            f,
            OpKind::Invoke,
            value.clone(),
            None,
        );
        let (kind, error) = match i % 200 {
            0 | 1 => (OpKind::Info, Some("connection loss")),
            2 => (OpKind::Fail, Some("no node")),
            _ => (OpKind::Ok, None),
        };
        let latency = 0.001 + (i % 97) as f64 * 0.0002;
        push(&mut ops, start + latency, &process, f, kind, value, error);
    }
    ops.sort_by_key(|op| op.time);
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index as u64;
    }
    History::new(ops)
}

/// A results.json with the checks a ZooKeeper run has, the lost writes listed.
fn results(history: &History) -> serde_json::Value {
    let lost: Vec<&str> = history
        .ops
        .iter()
        .filter(|op| op.kind == OpKind::Info && op.f == F::Write)
        .filter_map(|op| op.value["key"].as_str())
        .take(500)
        .collect();
    let end = history.ops.last().map_or(1.0, Op::time_secs);
    json!({
        "scenario": "bench-report", "description": "a generated history", "run_id": "bench",
        "started_at": "now", "duration_secs": end, "verdict": "invalid",
        "checks": [
            {"name": "no-lost-writes", "verdict": "invalid", "summary": format!("{} lost", lost.len()),
             "details": {"lost": {"count": lost.len(), "examples": &lost[..lost.len().min(10)], "ids": lost}}},
            {"name": "availability", "verdict": "valid", "summary": "windows",
             "details": {"windows": [{"start": end * 0.25, "end": end * 0.25 + 5.0}]}}
        ],
        "faults": [], "nodes": {}, "images": {}, "operations": {}, "phases": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_history_has_about_the_size_asked_for_and_pairs() {
        let history = generate(10_000);
        assert!(
            (9_900..=10_100).contains(&history.ops.len()),
            "{}",
            history.ops.len()
        );
        let pairs = history.pairs();
        assert!(pairs.iter().all(|(_, done)| done.is_some()));
        assert!(history.ops.iter().any(|op| op.kind == OpKind::Fail));
    }
}

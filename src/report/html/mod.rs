//! report.html: a run as one self-contained page (inline SVG, CSS and script; nothing fetched),
//! rendered from its run directory alone — history.jsonl, results.json, scenario.toml and logs/
//! — so a run from another machine or an older chaosbed renders the same; `index` is the page of
//! every run and of a suite.

mod details;
pub mod index;
mod page;
mod plots;
mod svg;
mod timeline;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::history::{History, Op};
use crate::report::Results;

/// The file name beside results.json.
pub const REPORT_FILE: &str = "report.html";

/// What a run directory holds, read for its report.
#[derive(Debug)]
pub struct RunFiles {
    pub dir: PathBuf,
    /// None when the run stopped before writing it.
    pub results: Option<Results>,
    pub ops: Vec<Op>,
}

impl RunFiles {
    /// Reads `dir`. A missing results.json is not an error (the page says so); a missing or
    /// unreadable history is.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let history_file = dir.join("history.jsonl");
        let text = std::fs::read_to_string(&history_file).with_context(|| {
            format!(
                "reading {} (is {} a chaosbed run directory? it holds history.jsonl and results.json)",
                history_file.display(),
                dir.display()
            )
        })?;
        let history = History::from_jsonl(&text)
            .with_context(|| format!("parsing {}", history_file.display()))?;
        let results_file = dir.join("results.json");
        let results = match std::fs::read_to_string(&results_file) {
            Ok(text) => Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", results_file.display()))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", results_file.display()));
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            results,
            ops: history.ops,
        })
    }

    /// The scenario's name when results.json is missing: the run directory's parent.
    fn scenario_name(&self) -> String {
        self.dir
            .parent()
            .and_then(Path::file_name)
            .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned())
    }
}

/// The page of a run.
pub fn render(run: &RunFiles) -> String {
    page::render(run)
}

/// Renders `dir`'s report and writes it to `dir/report.html`.
pub fn write(dir: &Path) -> anyhow::Result<PathBuf> {
    let run = RunFiles::read(dir)?;
    let file = dir.join(REPORT_FILE);
    std::fs::write(&file, render(&run)).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// A verdict as its CSS class and lowercase word.
pub fn verdict_css(verdict: crate::checker::Verdict) -> &'static str {
    match verdict {
        crate::checker::Verdict::Valid => "valid",
        crate::checker::Verdict::Invalid => "invalid",
        crate::checker::Verdict::Unknown => "unknown",
    }
}

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HISTORY: &str = r#"{"index":0,"time":1000000000,"process":"nemesis","f":"topology","kind":"ok","value":{"down":[],"nodes":["zk-1","zk-2","zk-3"]}}
{"index":1,"time":1100000000,"process":"monitor","f":"roles","kind":"ok","value":{"epochs":{"zk-1":1,"zk-2":1,"zk-3":1},"roles":{"zk-1":"follower","zk-2":"follower","zk-3":"leader"}}}
{"index":2,"time":2000000000,"process":"client-0","f":"write","kind":"invoke","value":{"key":"/chaosbed/c0-000000","value":"c0-0"}}
{"index":3,"time":2010000000,"process":"client-0","f":"write","kind":"ok","value":{"key":"/chaosbed/c0-000000","value":"c0-0"}}
{"index":4,"time":10000000000,"process":"nemesis","f":"fault","kind":"invoke","value":{"fault":"kill","targets":["zk-3"]}}
{"index":5,"time":10100000000,"process":"nemesis","f":"fault","kind":"ok","value":{"down":["zk-3"],"evidence":{"took_effect":true},"fault":"kill","targets":["zk-3"]}}
{"index":6,"time":11000000000,"process":"client-0","f":"write","kind":"invoke","value":{"key":"/chaosbed/c0-000001","value":"c0-1"}}
{"index":7,"time":14000000000,"process":"client-0","f":"write","kind":"info","value":{"key":"/chaosbed/c0-000001","value":"c0-1"},"error":"connection loss"}
{"index":8,"time":20000000000,"process":"nemesis","f":"heal","kind":"ok","value":{"down":[],"evidence":{"took_effect":true},"fault":"kill","targets":["zk-3"]}}
{"index":9,"time":21000000000,"process":"diagnosis","f":"diagnosis","kind":"ok","value":{"node":"zk-3","cause":"killed","explanation":"zk-3 was <killed>","evidence":["LOOKING for a leader"]}}
"#;

    fn run_dir(with_results: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        // Enough writes after the heal for the plots to be drawn.
        let mut history = HISTORY.to_string();
        for i in 0..12u64 {
            let t = 22_000_000_000 + i * 100_000_000;
            for (n, kind) in [(0, "invoke"), (1, "ok")] {
                history.push_str(&format!(
                    "{{\"index\":{},\"time\":{},\"process\":\"client-1\",\"f\":\"write\",\"kind\":\"{kind}\",\"value\":{{\"key\":\"/chaosbed/c1-{i}\",\"value\":\"x\"}}}}\n",
                    100 + 2 * i + n,
                    t + n * 5_000_000
                ));
            }
        }
        // zk-4 climbs towards its 1 GiB limit until the kernel kills it between samples.
        for (i, mib) in [(1u64, 400u64), (2, 800)] {
            history.push_str(&format!(
                "{{\"index\":{},\"time\":{},\"process\":\"resources\",\"f\":\"resources\",\"kind\":\"ok\",\"value\":{{\"nodes\":{{\"zk-4\":{{\"memory\":{},\"limit\":1073741824,\"cpu_ns\":{}}}}}}}}}\n",
                200 + i,
                i * 1_000_000_000,
                mib << 20,
                i * 500_000_000
            ));
        }
        std::fs::write(dir.path().join("history.jsonl"), history).unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        std::fs::write(
            dir.path().join("logs/zk-3.log"),
            "one\ntwo\nzk-3 is LOOKING for a leader now\nfour\n",
        )
        .unwrap();
        if with_results {
            let results = serde_json::json!({
                "scenario": "zk-leader-kill", "description": "kill the leader", "run_id": "r1",
                "started_at": "2026-12-05T20:00:00Z", "duration_secs": 30.0, "verdict": "invalid",
                "seed": 7, "chaosbed": "0.1.0 (abc1234)",
                "checks": [{"name": "no-lost-writes", "verdict": "invalid", "summary": "1 of 2 writes lost",
                            "details": {"acknowledged": 2, "lost": {"count": 1, "examples": ["/chaosbed/c0-000001"], "ids": ["/chaosbed/c0-000001"]}}},
                           {"name": "availability", "verdict": "valid", "summary": "one window",
                            "details": {"windows": [{"start": 10.0, "end": 15.0}]}}],
                "faults": [], "images": {"zookeeper": "chaosbed/zookeeper:3.8.0-64f2510c4607"},
                "nodes": {"zk-4": {"address": "172.30.0.14", "log": "", "state": {"status": "exited", "exit_code": 137, "oom_killed": true, "started_at": "2026-12-05T20:00:00.5Z", "finished_at": "2026-12-05T20:00:02.5Z"}}},
                "operations": {}, "phases": [{"phase": "setup", "seconds": 1.0}, {"phase": "workload", "seconds": 25.0}]
            });
            std::fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
        }
        dir
    }

    #[test]
    fn the_report_holds_the_verdict_checks_bands_lanes_and_links() {
        let dir = run_dir(true);
        let file = write(dir.path()).unwrap();
        let html = std::fs::read_to_string(file).unwrap();
        assert!(html.contains("<span class=\"verdict invalid\">FAIL</span>"));
        assert!(html.contains("<tr><th>seed</th><td>7</td></tr>"));
        assert!(html.contains("0.1.0 (abc1234)"));
        assert!(html.contains("id=\"check-no-lost-writes\""));
        // The lost write's key links to the op that wrote it.
        assert!(html.contains("href=\"#op-6\""), "lost example not linked");
        // The lost write has a lane of its own, its mark where the write started.
        assert!(
            html.contains("title=\"lost (no-lost-writes)\">lost (no-lost-writes)<small>1 ops"),
            "loss lane"
        );
        assert!(
            html.contains("[6,11.000,11.000,2,"),
            "the lost op in the page's data"
        );
        assert!(html.contains("class=\"band kill\" data-band=\"0\" x=\"10.000\""));
        // zk-4 is only in results.json (as the nodes of a run stopped during setup are).
        for node in ["zk-1", "zk-2", "zk-3", "zk-4"] {
            assert!(
                html.contains(&format!("title=\"{node}\">{node}<small>")),
                "{node} lane"
            );
        }
        assert!(html.contains("<rect class=\"state down\" x=\"10.000\""));
        // The OOM kill at the engine's exit time, the memory drawn on to the limit there.
        assert!(
            html.contains("<path class=\"oom-climb\" d=\"M2.000 11.19L2.500 2.00\">"),
            "climb to the limit"
        );
        assert!(html.contains("<line class=\"oom\" x1=\"2.500\""));
        // zk-4's lane: not started until its container started, down once it was killed.
        assert!(
            html.contains("<rect class=\"state unstarted\" x=\"0.000\" y=\"2\" width=\"0.500\"")
        );
        assert!(html.contains("<rect class=\"state down\" x=\"2.500\""));
        assert!(html.contains("zk-4: exited with code 137 (OOM-killed), down from 2.5 s"));
        assert!(
            html.contains("class=\"unavailable\" x=\"10.000\""),
            "availability window"
        );
        assert!(html.contains("<mark>     3  zk-3 is LOOKING for a leader now</mark>"));
        assert!(html.contains("zk-3 was &lt;killed&gt;"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing fetched"
        );
    }

    #[test]
    fn a_run_without_results_still_renders_its_history() {
        let dir = run_dir(false);
        let html = render(&RunFiles::read(dir.path()).unwrap());
        assert!(html.contains("NO RESULTS"));
        assert!(html.contains("class=\"band kill\""));
    }

    #[test]
    fn a_directory_without_a_history_says_what_it_expected() {
        let dir = tempfile::tempdir().unwrap();
        let e = format!("{:#}", write(dir.path()).unwrap_err());
        assert!(
            e.contains("history.jsonl") && e.contains("run directory"),
            "{e}"
        );
    }
}

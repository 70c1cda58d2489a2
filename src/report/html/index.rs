//! The pages over many runs: `index.html` beside the runs root (every run newest first, each
//! scenario's verdicts over time, the suites) and a suite directory's `index.html` (its table).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use crate::checker::Verdict;
use crate::report::Results;
use crate::report::suite::{self, SuiteRecord};

use super::{REPORT_FILE, escape, verdict_css};

/// How many of a scenario's latest verdicts its row shows.
const HISTORY_WIDTH: usize = 40;

/// One run found under the runs root.
#[derive(Debug, Clone)]
pub struct RunEntry {
    pub dir: PathBuf,
    pub results: Results,
}

/// Every run under `runs_root` with a results.json, newest first (by run directory name, a
/// timestamp).
pub fn runs(runs_root: &Path) -> Vec<RunEntry> {
    let mut found = Vec::new();
    let Ok(scenarios) = std::fs::read_dir(runs_root) else {
        return found;
    };
    for scenario in scenarios.flatten() {
        let Ok(stamps) = std::fs::read_dir(scenario.path()) else {
            continue;
        };
        for stamp in stamps.flatten() {
            if stamp.file_name() == "latest" || !stamp.path().is_dir() {
                continue;
            }
            let file = stamp.path().join("results.json");
            let Some(results) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|text| serde_json::from_str::<Results>(&text).ok())
            else {
                continue;
            };
            found.push(RunEntry {
                dir: stamp.path(),
                results,
            });
        }
    }
    found.sort_by(|a, b| {
        b.dir
            .file_name()
            .cmp(&a.dir.file_name())
            .then_with(|| a.results.scenario.cmp(&b.results.scenario))
    });
    found
}

/// Where the index of `runs_root` goes: beside it (`target/chaosbed/index.html`).
pub fn index_file(runs_root: &Path) -> PathBuf {
    runs_root
        .parent()
        .map_or_else(|| PathBuf::from("index.html"), |p| p.join("index.html"))
}

/// Writes the index of every run under `runs_root` (and every suite beside it).
pub fn write_index(runs_root: &Path) -> anyhow::Result<PathBuf> {
    let file = index_file(runs_root);
    let base = file.parent().unwrap_or(Path::new("."));
    let html = render_index(
        &runs(runs_root),
        &suites(&suite::suites_root(runs_root)),
        base,
    );
    std::fs::write(&file, html).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// Every suite record under `suites_root`, newest first.
fn suites(suites_root: &Path) -> Vec<(PathBuf, SuiteRecord)> {
    let mut found: Vec<(PathBuf, SuiteRecord)> = std::fs::read_dir(suites_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name() != "latest")
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("suite.json")).ok()?;
            Some((e.path(), serde_json::from_str(&text).ok()?))
        })
        .collect();
    found.sort_by(|a, b| b.0.file_name().cmp(&a.0.file_name()));
    found
}

fn page_start(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head><body><h1>{}</h1>",
        escape(title),
        INDEX_CSS,
        escape(title)
    );
}

const INDEX_CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0 24px 48px;color:#222}\
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ddd;margin-top:26px}\
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:3px 10px 3px 0;text-align:left;vertical-align:top}\
.valid{color:#135c13}.invalid{color:#8a0c0c;font-weight:bold}.unknown{color:#7a4b00;font-weight:bold}\
.runs a.sq{display:inline-block;width:10px;height:14px;margin-right:2px;border-radius:2px}\
a.sq.valid{background:#66bb6a}a.sq.invalid{background:#e53935}a.sq.unknown{background:#ffb300}\
small{color:#777}td.num{text-align:right}";

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Valid => "PASS",
        Verdict::Invalid => "FAIL",
        Verdict::Unknown => "UNKNOWN",
    }
}

/// The index page, its links relative to `base` (the directory it is written in).
pub fn render_index(runs: &[RunEntry], suites: &[(PathBuf, SuiteRecord)], base: &Path) -> String {
    let mut out = String::new();
    page_start(&mut out, "chaosbed runs");
    let _ = write!(
        out,
        "<p>{} runs of {} scenarios, {} suites. Newest first; each link opens the run's report.</p>",
        runs.len(),
        runs.iter()
            .map(|r| r.results.scenario.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        suites.len()
    );

    out.push_str("<h2>Scenarios: verdicts over time (oldest left)</h2><table class=\"runs\"><tr><th>scenario</th><th>last</th><th>passed</th><th>runs, newest right</th></tr>");
    let mut by_scenario: BTreeMap<&str, Vec<&RunEntry>> = BTreeMap::new();
    for run in runs {
        by_scenario
            .entry(run.results.scenario.as_str())
            .or_default()
            .push(run);
    }
    for (scenario, mut entries) in by_scenario {
        entries.reverse();
        let passed = entries
            .iter()
            .filter(|r| r.results.verdict == Verdict::Valid)
            .count();
        let last = entries
            .last()
            .expect("a scenario has a run")
            .results
            .verdict;
        let last_css = verdict_css(last);
        let mut squares = String::new();
        for run in entries
            .iter()
            .skip(entries.len().saturating_sub(HISTORY_WIDTH))
        {
            let _ = write!(
                squares,
                "<a class=\"sq {v}\" href=\"{}\" title=\"{} {} {:.0} s: {}\"></a>",
                escape(&link(base, &run.dir.join(REPORT_FILE))),
                escape(&stamp(&run.dir)),
                verdict_word(run.results.verdict),
                run.results.duration_secs,
                escape(&suite::headline(&run.results)),
                v = verdict_css(run.results.verdict),
            );
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"{last_css}\">{}</td><td class=\"num\">{passed} of {}</td><td>{squares}</td></tr>",
            escape(scenario),
            verdict_word(last),
            entries.len()
        );
    }
    out.push_str("</table>");

    if !suites.is_empty() {
        out.push_str(
            "<h2>Suites</h2><table><tr><th>suite</th><th>passed</th><th>time</th><th></th></tr>",
        );
        for (dir, record) in suites {
            let _ = write!(
                out,
                "<tr><td><a href=\"{}\">{}</a></td><td>{} of {}</td><td>{}</td><td><small>{}</small></td></tr>",
                escape(&link(base, &dir.join("index.html"))),
                escape(&stamp(dir)),
                record.passed(),
                record.entries.len(),
                suite::clock(std::time::Duration::from_secs_f64(record.seconds)),
                escape(record.stopped.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>");
    }

    out.push_str("<h2>Every run, newest first</h2><table><tr><th>run</th><th>scenario</th><th>verdict</th><th>seconds</th><th>headline</th></tr>");
    for run in runs {
        let _ = write!(
            out,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"{v}\">{}</td><td class=\"num\">{:.1}</td><td>{}</td></tr>",
            escape(&link(base, &run.dir.join(REPORT_FILE))),
            escape(&stamp(&run.dir)),
            escape(&run.results.scenario),
            verdict_word(run.results.verdict),
            run.results.duration_secs,
            escape(&suite::headline(&run.results)),
            v = verdict_css(run.results.verdict),
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

/// A suite directory's page: its table, each scenario linked to its run's report.
pub fn render_suite(dir: &Path, record: &SuiteRecord) -> String {
    let mut out = String::new();
    page_start(&mut out, &format!("chaosbed suite {}", stamp(dir)));
    let _ = write!(
        out,
        "<p>{} passed of {} in {}, started {}{}. <a href=\"suite.json\">suite.json</a> · <a href=\"junit.xml\">junit.xml</a></p>",
        record.passed(),
        record.entries.len(),
        suite::clock(std::time::Duration::from_secs_f64(record.seconds)),
        escape(&record.started_at),
        record
            .stopped
            .as_deref()
            .map(|s| format!("; stopped: {}", escape(s)))
            .unwrap_or_default()
    );
    out.push_str("<table><tr><th>scenario</th><th>tier</th><th>verdict</th><th>seconds</th><th>headline</th></tr>");
    for entry in &record.entries {
        let name = match &entry.run_dir {
            Some(run) => format!(
                "<a href=\"{}\">{}</a>",
                escape(&link(dir, &run.join(REPORT_FILE))),
                escape(&entry.scenario)
            ),
            None => escape(&entry.scenario),
        };
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{}</td><td class=\"{v}\">{}</td><td class=\"num\">{:.1}</td><td>{}</td></tr>",
            escape(&entry.tier),
            verdict_word(entry.verdict),
            entry.seconds,
            escape(&entry.headline),
            v = verdict_css(entry.verdict),
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

/// Writes `dir/index.html` for the suite recorded there.
pub fn write_suite(dir: &Path, record: &SuiteRecord) -> anyhow::Result<PathBuf> {
    let file = dir.join("index.html");
    std::fs::write(&file, render_suite(dir, record))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

fn stamp(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// `to` relative to the directory `from` when both are absolute or both relative; else `to`.
pub fn link(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    if from.first().map(|c| matches!(c, Component::RootDir))
        != to_parts.first().map(|c| matches!(c, Component::RootDir))
    {
        return to.display().to_string();
    }
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(scenario: &str, verdict: &str) -> String {
        serde_json::json!({
            "scenario": scenario, "description": "", "run_id": "r", "started_at": "now",
            "duration_secs": 42.0, "verdict": verdict, "checks": [], "faults": [], "nodes": {},
            "images": {}, "operations": {}
        })
        .to_string()
    }

    #[test]
    fn links_are_relative_to_the_page() {
        assert_eq!(
            link(
                Path::new("/t/chaosbed"),
                Path::new("/t/chaosbed/runs/a/1/report.html")
            ),
            "runs/a/1/report.html"
        );
        assert_eq!(
            link(
                Path::new("/t/chaosbed/suites/9"),
                Path::new("/t/chaosbed/runs/a/1/report.html")
            ),
            "../../runs/a/1/report.html"
        );
    }

    #[test]
    fn the_index_lists_every_run_newest_first_and_each_scenarios_verdicts() {
        let root = tempfile::tempdir().unwrap();
        let runs_root = root.path().join("runs");
        for (scenario, stamp, verdict) in [
            ("zk-leader-kill", "20261205-100000.000", "valid"),
            ("zk-leader-kill", "20261205-110000.000", "invalid"),
            ("pulsar-broker-kill", "20261205-105000.000", "valid"),
        ] {
            let dir = runs_root.join(scenario).join(stamp);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("results.json"), results(scenario, verdict)).unwrap();
        }
        // A run that stopped before writing results.json is not listed.
        std::fs::create_dir_all(runs_root.join("zk-leader-kill/20261205-120000.000")).unwrap();
        let file = write_index(&runs_root).unwrap();
        assert_eq!(file, root.path().join("index.html"));
        let html = std::fs::read_to_string(file).unwrap();
        let first = html
            .find("runs/zk-leader-kill/20261205-110000.000/report.html\">20261205-110000")
            .unwrap();
        let second = html
            .find("runs/pulsar-broker-kill/20261205-105000.000/report.html\">")
            .unwrap();
        let third = html
            .find("runs/zk-leader-kill/20261205-100000.000/report.html\">")
            .unwrap();
        assert!(first < second && second < third);
        assert!(html.contains("3 runs of 2 scenarios"));
        assert!(
            html.contains("<td class=\"invalid\">FAIL</td><td class=\"num\">1 of 2</td>"),
            "{html}"
        );
    }
}

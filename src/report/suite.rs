//! A whole suite's record (`cargo xtask chaos`): one entry per scenario with its tier, verdict,
//! seconds and headline figure; the progress line with the time left, the final table,
//! suite.json and one junit.xml with a test case per scenario, in
//! `target/chaosbed/suites/<stamp>/` with a `latest` link beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use super::Results;
use crate::checker::{CheckResult, Verdict};

/// One scenario of a suite, as it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteEntry {
    pub scenario: String,
    pub tier: String,
    pub verdict: Verdict,
    /// Wall time the suite spent on it, teardown included.
    pub seconds: f64,
    /// The run's phases (setup, workload, heal, final-read, diagnosis, checks) in seconds.
    #[serde(default)]
    pub phases: Vec<super::PhaseTime>,
    /// The figure a person looks for first, e.g. `0 of 4488 lost, recovered in 0.7 s`.
    pub headline: String,
    /// Its run directory, when the run got far enough to have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
    /// Why the run could not finish, or could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checks: Vec<CheckLine>,
}

/// A check of a scenario in the suite record: its verdict and summary line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckLine {
    pub name: String,
    pub verdict: Verdict,
    pub summary: String,
}

impl SuiteEntry {
    /// The entry of a run that finished (whatever its verdict) after `seconds` of wall time.
    pub fn from_results(tier: &str, results: &Results, run_dir: &Path, seconds: f64) -> Self {
        Self {
            scenario: results.scenario.clone(),
            tier: tier.to_owned(),
            verdict: results.verdict,
            seconds,
            phases: results.phases.clone(),
            headline: headline(results),
            run_dir: Some(run_dir.to_path_buf()),
            error: results.error.clone(),
            checks: results
                .checks
                .iter()
                .map(|c| CheckLine {
                    name: c.name.clone(),
                    verdict: c.verdict,
                    summary: c.summary.clone(),
                })
                .collect(),
        }
    }

    /// The entry of a run that could not start (the runner returned an error).
    pub fn errored(scenario: &str, tier: &str, seconds: f64, error: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            tier: tier.to_owned(),
            verdict: Verdict::Unknown,
            seconds,
            phases: Vec::new(),
            headline: shorten(&format!("error: {error}"), HEADLINE_WIDTH),
            run_dir: None,
            error: Some(error.to_owned()),
            checks: Vec::new(),
        }
    }
}

/// What suite.json holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteRecord {
    pub started_at: String,
    pub seconds: f64,
    /// The scenarios asked for, in order; those after a `--fail-fast` stop or an interrupt have
    /// no entry.
    pub selected: Vec<String>,
    pub entries: Vec<SuiteEntry>,
    /// Why the suite stopped before its last scenario, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl SuiteRecord {
    /// The exit status: the worst verdict (0 valid, 1 invalid, 2 unknown).
    pub fn exit_code(&self) -> u8 {
        self.entries
            .iter()
            .map(|e| match e.verdict {
                Verdict::Valid => 0,
                Verdict::Invalid => 1,
                Verdict::Unknown => 2,
            })
            .max()
            .unwrap_or(0)
    }

    pub fn passed(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.verdict == Verdict::Valid)
            .count()
    }
}

const HEADLINE_WIDTH: usize = 60;

/// The headline figure of a run: what was lost of what was acknowledged (writes, messages,
/// traces) and how fast service came back, else the first failing (or first) check's summary.
pub fn headline(results: &Results) -> String {
    let check = |name: &str| results.checks.iter().find(|c| c.name == name);
    let mut parts = Vec::new();
    for (name, total_key, noun) in [
        ("no-lost-writes", "/acknowledged", "writes"),
        ("delivery", "/acknowledged", "messages"),
        ("traces", "/emitted/total", "traces"),
    ] {
        if let Some(figure) = check(name).and_then(|c| lost_of(c, total_key, noun)) {
            parts.push(figure);
        }
    }
    if let Some(seconds) = check("recovery").and_then(|c| c.details["recovery"].as_f64()) {
        parts.push(format!("recovered in {}", human_seconds(seconds)));
    }
    if parts.is_empty() {
        if let Some(error) = &results.error {
            return shorten(&format!("error: {error}"), HEADLINE_WIDTH);
        }
        let chosen = results
            .checks
            .iter()
            .find(|c| c.verdict != Verdict::Valid)
            .or(results.checks.first());
        return chosen
            .map(|c| shorten(&format!("{}: {}", c.name, c.summary), HEADLINE_WIDTH))
            .unwrap_or_default();
    }
    parts.join(", ")
}

fn lost_of(check: &CheckResult, total_key: &str, noun: &str) -> Option<String> {
    let total = check.details.pointer(total_key)?.as_u64()?;
    let lost = check.details.pointer("/lost/count")?.as_u64()?;
    Some(format!("{lost} of {total} {noun} lost"))
}

fn human_seconds(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1} s")
    }
}

/// `text` cut to `width` characters, with an ellipsis when cut.
fn shorten(text: &str, width: usize) -> String {
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.chars().count() <= width && first_line.len() == text.len() {
        return first_line.to_owned();
    }
    let cut: String = first_line.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `3m05s`, `1h02m`: durations as a person reads them in a progress line.
pub fn clock(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// The time the scenarios not yet finished will take, from earlier runs' durations; a scenario
/// never run before counts as `fallback(name)`. `None` when no scenario has an earlier run.
pub fn estimate_left(
    remaining: &[String],
    earlier: &BTreeMap<String, f64>,
    fallback: impl Fn(&str) -> f64,
) -> Option<Duration> {
    if !remaining.iter().any(|name| earlier.contains_key(name)) {
        return None;
    }
    let seconds: f64 = remaining
        .iter()
        .map(|name| earlier.get(name).copied().unwrap_or_else(|| fallback(name)))
        .sum();
    Some(Duration::from_secs_f64(seconds.max(0.0)))
}

/// The line that opens each scenario of a suite: `[12/39] name (tier) 23m10s elapsed, ~41m00s
/// left`.
pub fn progress_line(
    position: usize,
    total: usize,
    scenario: &str,
    tier: &str,
    elapsed: Duration,
    left: Option<Duration>,
) -> String {
    let left = left.map_or_else(
        || "time left unknown (no earlier runs)".to_owned(),
        |d| format!("~{} left", clock(d)),
    );
    format!(
        "[{position}/{total}] {scenario} ({tier}) — {} elapsed, {left}",
        clock(elapsed)
    )
}

/// The suite's closing table: scenario, tier, verdict, seconds, headline.
pub fn render_table(record: &SuiteRecord) -> String {
    let width = record
        .entries
        .iter()
        .map(|e| e.scenario.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "{:<width$}  {:<5}  {:<7}  {:>7}  headline\n",
        "scenario", "tier", "verdict", "seconds"
    );
    out.push_str(&format!(
        "{}  {}  {}  {}  {}\n",
        "-".repeat(width),
        "-".repeat(5),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(HEADLINE_WIDTH)
    ));
    for entry in &record.entries {
        out.push_str(&format!(
            "{:<width$}  {:<5}  {:<7}  {:>7.1}  {}\n",
            entry.scenario,
            entry.tier,
            entry.verdict.to_string(),
            entry.seconds,
            entry.headline
        ));
    }
    out
}

/// One junit.xml for the suite: a test case per scenario, its checks as properties and its
/// check table as system-out.
pub fn junit_xml(record: &SuiteRecord) -> anyhow::Result<String> {
    let mut report = Report::new("chaosbed");
    let mut suite = TestSuite::new("chaosbed suite");
    for entry in &record.entries {
        let message = entry.error.clone().unwrap_or_else(|| {
            let failing: Vec<String> = entry
                .checks
                .iter()
                .filter(|c| c.verdict != Verdict::Valid)
                .map(|c| format!("{}: {}", c.name, c.summary))
                .collect();
            failing.join("; ")
        });
        let status = match entry.verdict {
            Verdict::Valid => TestCaseStatus::success(),
            Verdict::Invalid => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(message);
                s
            }
            Verdict::Unknown => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(message);
                s
            }
        };
        let mut case = TestCase::new(entry.scenario.as_str(), status);
        case.set_classname(format!("chaosbed.{}", entry.tier));
        case.set_time(Duration::from_secs_f64(entry.seconds.max(0.0)));
        case.add_property(Property::new("headline", entry.headline.as_str()));
        if let Some(dir) = &entry.run_dir {
            case.add_property(Property::new("run_dir", dir.display().to_string()));
        }
        for check in &entry.checks {
            case.add_property(Property::new(
                format!("check.{}", check.name),
                format!("{}: {}", check.verdict, check.summary),
            ));
        }
        let table: Vec<String> = entry
            .checks
            .iter()
            .map(|c| format!("{:<20} {:<8} {}", c.name, c.verdict.to_string(), c.summary))
            .collect();
        case.set_system_out(table.join("\n"));
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

/// `target/chaosbed/suites` beside the runs root `target/chaosbed/runs`.
pub fn suites_root(runs_root: &Path) -> PathBuf {
    runs_root
        .parent()
        .map(|p| p.join("suites"))
        .unwrap_or_else(|| PathBuf::from("suites"))
}

/// Each scenario's duration in its latest earlier run, from `<runs_root>/<name>/latest/results.json`.
pub fn earlier_durations(runs_root: &Path, scenarios: &[String]) -> BTreeMap<String, f64> {
    scenarios
        .iter()
        .filter_map(|name| {
            let file = runs_root.join(name).join("latest").join("results.json");
            let text = std::fs::read_to_string(file).ok()?;
            let results: Results = serde_json::from_str(&text).ok()?;
            results
                .error
                .is_none()
                .then_some((name.clone(), results.duration_secs))
        })
        .collect()
}

/// Writes suite.json, junit.xml and index.html into `<root>/<stamp>/` and points `<root>/latest` at it;
/// returns the directory.
pub fn write(root: &Path, stamp: &str, record: &SuiteRecord) -> anyhow::Result<PathBuf> {
    let dir = root.join(stamp);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the suite directory {}", dir.display()))?;
    let json = serde_json::to_string_pretty(record).context("encoding suite.json")?;
    std::fs::write(dir.join("suite.json"), json)
        .with_context(|| format!("writing {}/suite.json", dir.display()))?;
    std::fs::write(dir.join("junit.xml"), junit_xml(record)?)
        .with_context(|| format!("writing {}/junit.xml", dir.display()))?;
    super::html::index::write_suite(&dir, record)?;
    let latest = root.join("latest");
    let _ = std::fs::remove_file(&latest);
    std::os::unix::fs::symlink(stamp, &latest)
        .with_context(|| format!("linking {} to the new suite", latest.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn results(checks: Vec<CheckResult>) -> Results {
        Results {
            scenario: "zk-leader-kill".into(),
            description: String::new(),
            run_id: "r".into(),
            started_at: "now".into(),
            chaosbed: None,
            seed: None,
            duration_secs: 61.5,
            verdict: Verdict::Valid,
            error: None,
            checks,
            faults: vec![],
            nodes: Default::default(),
            images: Default::default(),
            operations: Default::default(),
            phases: vec![],
        }
    }

    fn record(entries: Vec<SuiteEntry>) -> SuiteRecord {
        SuiteRecord {
            started_at: "now".into(),
            seconds: 100.0,
            selected: entries.iter().map(|e| e.scenario.clone()).collect(),
            entries,
            stopped: None,
        }
    }

    #[test]
    fn headline_counts_loss_and_recovery() {
        let r = results(vec![
            CheckResult::new("no-lost-writes", Verdict::Valid, "all")
                .with_details(json!({"acknowledged": 4488, "lost": {"count": 0}})),
            CheckResult::new("recovery", Verdict::Valid, "ok")
                .with_details(json!({"recovery": 0.702})),
        ]);
        assert_eq!(headline(&r), "0 of 4488 writes lost, recovered in 702 ms");
    }

    #[test]
    fn headline_reads_traces_emitted_total() {
        let r = results(vec![
            CheckResult::new("traces", Verdict::Invalid, "lost")
                .with_details(json!({"emitted": {"total": 1200}, "lost": {"count": 7}})),
        ]);
        assert_eq!(headline(&r), "7 of 1200 traces lost");
    }

    #[test]
    fn headline_falls_back_to_the_failing_check() {
        let r = results(vec![
            CheckResult::new("quorum", Verdict::Valid, "one leader"),
            CheckResult::new(
                "session-expiry",
                Verdict::Invalid,
                "expected a session to expire",
            ),
        ]);
        assert_eq!(headline(&r), "session-expiry: expected a session to expire");
        let long = results(vec![CheckResult::new(
            "quorum",
            Verdict::Valid,
            "x".repeat(200),
        )]);
        assert_eq!(headline(&long).chars().count(), HEADLINE_WIDTH);
        assert!(headline(&long).ends_with('…'));
    }

    #[test]
    fn clock_reads_like_a_person_writes() {
        assert_eq!(clock(Duration::from_secs(9)), "9s");
        assert_eq!(clock(Duration::from_secs(185)), "3m05s");
        assert_eq!(clock(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn estimate_uses_earlier_runs_and_a_fallback() {
        let earlier = BTreeMap::from([("a".to_owned(), 100.0), ("b".to_owned(), 50.0)]);
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let left = estimate_left(&names(&["a", "c"]), &earlier, |_| 30.0).unwrap();
        assert_eq!(left, Duration::from_secs(130));
        assert_eq!(estimate_left(&names(&["c"]), &earlier, |_| 30.0), None);
        let line = progress_line(2, 39, "a", "smoke", Duration::from_secs(65), Some(left));
        assert_eq!(line, "[2/39] a (smoke) — 1m05s elapsed, ~2m10s left");
    }

    #[test]
    fn exit_code_is_the_worst_verdict() {
        let entry = |v| SuiteEntry {
            verdict: v,
            ..SuiteEntry::errored("s", "full", 1.0, "x")
        };
        assert_eq!(record(vec![entry(Verdict::Valid)]).exit_code(), 0);
        assert_eq!(
            record(vec![entry(Verdict::Invalid), entry(Verdict::Valid)]).exit_code(),
            1
        );
        assert_eq!(
            record(vec![entry(Verdict::Invalid), entry(Verdict::Unknown)]).exit_code(),
            2
        );
    }

    #[test]
    fn junit_has_a_case_per_scenario_with_its_checks() {
        let ok = SuiteEntry::from_results(
            "smoke",
            &results(vec![CheckResult::new(
                "quorum",
                Verdict::Valid,
                "one leader",
            )]),
            Path::new("/runs/a"),
            61.5,
        );
        let failed = SuiteEntry {
            scenario: "zk-other".into(),
            verdict: Verdict::Invalid,
            checks: vec![CheckLine {
                name: "no-lost-writes".into(),
                verdict: Verdict::Invalid,
                summary: "3 lost".into(),
            }],
            ..ok.clone()
        };
        let errored = SuiteEntry::errored("zk-third", "full", 2.0, "no engine");
        let xml = junit_xml(&record(vec![ok, failed, errored])).unwrap();
        assert!(xml.contains("tests=\"3\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("errors=\"1\""), "{xml}");
        assert!(xml.contains("name=\"check.quorum\""), "{xml}");
        assert!(xml.contains("no-lost-writes: 3 lost"), "{xml}");
    }

    #[test]
    fn the_table_lists_tier_verdict_seconds_and_headline() {
        let entry = SuiteEntry::from_results(
            "smoke",
            &results(vec![
                CheckResult::new("delivery", Verdict::Valid, "ok")
                    .with_details(json!({"acknowledged": 10, "lost": {"count": 0}})),
            ]),
            Path::new("/runs/a"),
            61.5,
        );
        let table = render_table(&record(vec![entry]));
        let row = table.lines().nth(2).unwrap();
        assert!(row.starts_with("zk-leader-kill  smoke  valid"), "{table}");
        assert!(row.contains("61.5"), "{table}");
        assert!(row.ends_with("0 of 10 messages lost"), "{table}");
    }

    #[test]
    fn write_makes_the_files_and_the_latest_link() {
        let root = tempfile::tempdir().unwrap();
        let dir = write(root.path(), "20261205-1200", &record(vec![])).unwrap();
        assert!(dir.join("suite.json").exists());
        assert!(dir.join("junit.xml").exists());
        assert_eq!(
            std::fs::canonicalize(root.path().join("latest")).unwrap(),
            std::fs::canonicalize(&dir).unwrap()
        );
    }
}

//! The table of checks and verdicts that ends a run's console output.

use super::Results;
use crate::checker::Verdict;

/// A fixed-width table: check, verdict, summary.
pub fn render_table(results: &Results) -> String {
    let width = results
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!("{:<width$}  {:<8}  summary\n", "check", "verdict");
    out.push_str(&format!(
        "{}  {}  {}\n",
        "-".repeat(width),
        "-".repeat(8),
        "-".repeat(40)
    ));
    for check in &results.checks {
        out.push_str(&format!(
            "{:<width$}  {:<8}  {}\n",
            check.name,
            check.verdict.to_string(),
            check.summary
        ));
    }
    out
}

/// The last line: the scenario's verdict and its report (or its directory, without one).
pub fn verdict_line(results: &Results, dir: &std::path::Path) -> String {
    let word = match results.verdict {
        Verdict::Valid => "PASS",
        Verdict::Invalid => "FAIL",
        Verdict::Unknown => "UNKNOWN",
    };
    let report = dir.join(super::html::REPORT_FILE);
    let place = match std::path::absolute(&report) {
        Ok(file) if report.exists() => format!("file://{}", file.display()),
        _ => dir.display().to_string(),
    };
    format!(
        "{word} {} in {:.1}s — {place}",
        results.scenario, results.duration_secs
    )
}

//! Checkers: pure functions from a history to a verdict. A checker that errors or panics yields
//! `Unknown` with the reason; it never crashes the run.

mod availability;
mod bookies;
mod delivery;
mod diagnosis;
pub mod faults_applied;
mod healed;
mod latency;
pub mod linearizable;
mod lost_writes;
#[cfg(test)]
mod mutations;
mod ownership;
mod quorum;
mod recovery;
mod session_expiry;
mod timeline;
mod trace_queries;
mod traces;
pub mod upgrade;

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::scenario::{Check, CheckSpec, Expect};

pub use timeline::DownTimeline;

/// The outcome of one check, or of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

impl Verdict {
    /// Combines verdicts: any Invalid makes the whole Invalid, else any Unknown makes it Unknown.
    pub fn merge(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Valid,
        }
    }

    pub fn merge_all(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        verdicts.into_iter().fold(Verdict::Valid, Verdict::merge)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "INVALID",
            Verdict::Unknown => "unknown",
        })
    }
}

/// What a check found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub verdict: Verdict,
    /// One line a person reads in the console table.
    pub summary: String,
    /// Counts, windows and examples, for results.json.
    #[serde(default)]
    pub details: serde_json::Value,
    /// A negative control's: the verdict the scenario expected of the check (`verdict` is then
    /// whether the check met it) and the verdict the check itself reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Verdict>,
}

impl CheckResult {
    pub fn new(name: &str, verdict: Verdict, summary: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            verdict,
            summary: summary.into(),
            details: serde_json::Value::Null,
            expected: None,
            observed: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// What the checkers know besides the history.
#[derive(Debug, Clone, Default)]
pub struct CheckContext {
    /// The ZooKeeper ensemble whose quorum is judged, e.g. `zk-1`, `zk-2`, `zk-3`.
    pub nodes: Vec<String>,
    /// The configured ZooKeeper tickTime in milliseconds, to explain session expiry.
    pub tick_time_ms: Option<u64>,
    /// Time (ns since the run started) at which the workload stopped.
    pub workload_end: u64,
    /// Whether the Pulsar subscription delivers each producer's messages in order.
    pub ordered_delivery: bool,
    /// Every bookie of the run (empty without BookKeeper).
    pub bookies: Vec<String>,
    /// Every Pulsar broker of the run (empty without Pulsar).
    pub brokers: Vec<String>,
    /// Every system the run declares (`zookeeper`, `pulsar`, ...): each must pass its readiness
    /// probe after the heal.
    pub systems: Vec<String>,
    /// Whether the Pulsar workload reads the whole topic back after the drain (`read_back`).
    pub read_back: bool,
}

/// Runs one `[[check]]` and holds its result against the verdict the scenario expects of it.
pub fn judge(check: &Check, history: &History, ctx: &CheckContext) -> CheckResult {
    against_expectation(check, self::check(&check.spec, history, ctx))
}

/// A negative control (`verdict = "invalid"`) holds when its check reported the violation, and,
/// with `because`, for that reason; it fails when the check found nothing, and stays Unknown when
/// the check could not decide.
fn against_expectation(check: &Check, mut result: CheckResult) -> CheckResult {
    if check.expect == Expect::Valid {
        return result;
    }
    let observed = result.verdict;
    let missing_reason = check
        .because
        .as_ref()
        .filter(|because| !result.summary.contains(because.as_str()));
    let (verdict, verdict_text) = match (observed, missing_reason) {
        (Verdict::Invalid, None) => (
            Verdict::Valid,
            "INVALID, as this negative control expects".to_string(),
        ),
        (Verdict::Invalid, Some(because)) => (
            Verdict::Invalid,
            format!("INVALID as expected, but not because of {because:?}"),
        ),
        (Verdict::Valid, _) => (
            Verdict::Invalid,
            "expected INVALID (a negative control), but the check found nothing wrong".to_string(),
        ),
        (Verdict::Unknown, _) => (
            Verdict::Unknown,
            "expected INVALID (a negative control), but the check could not decide".to_string(),
        ),
    };
    result.summary = format!("{verdict_text}: {}", result.summary);
    result.verdict = verdict;
    result.expected = Some(Verdict::Invalid);
    result.observed = Some(observed);
    result
}

/// Runs one check. Errors and panics inside the checker become `Unknown`.
pub fn check(spec: &CheckSpec, history: &History, ctx: &CheckContext) -> CheckResult {
    let name = spec.name();
    let outcome = catch_unwind(AssertUnwindSafe(|| match spec {
        CheckSpec::Quorum { grace, never_lost } => {
            quorum::check(history, ctx, grace.as_duration(), *never_lost)
        }
        CheckSpec::Availability {
            max_unavailable,
            expect_outage,
        } => availability::check(
            history,
            ctx,
            max_unavailable.map(|d| d.as_duration()),
            *expect_outage,
        ),
        CheckSpec::Recovery { within } => recovery::check(history, ctx, within.as_duration()),
        CheckSpec::NoLostWrites => lost_writes::check(history, ctx),
        CheckSpec::SessionExpiry { expect } => session_expiry::check(history, ctx, *expect),
        CheckSpec::Delivery { max_duplicates } => delivery::check(history, ctx, *max_duplicates),
        CheckSpec::SendLatency { p50_max, p99_max } => latency::check(
            history,
            ctx,
            p50_max.map(|d| d.as_duration()),
            p99_max.map(|d| d.as_duration()),
        ),
        CheckSpec::TopicOwnership => ownership::check(history, ctx),
        CheckSpec::BookiesRegistered { expected } => bookies::check(history, ctx, *expected),
        CheckSpec::Diagnosis { expect, node } => {
            diagnosis::check(history, ctx, expect, node.as_deref())
        }
        CheckSpec::Traces {
            max_lost,
            expect_lost,
            late_after,
            max_late,
            p99_max,
        } => traces::check(
            history,
            ctx,
            traces::Lost {
                max: *max_lost,
                expected: *expect_lost,
            },
            late_after.as_duration(),
            *max_late,
            p99_max.map(|d| d.as_duration()),
        ),
        CheckSpec::TraceQueries {
            expect_outage,
            recover_within,
        } => trace_queries::check(
            history,
            ctx,
            *expect_outage,
            recover_within.map(|d| d.as_duration()),
        ),
        CheckSpec::Upgrade { max_rejoin } => {
            upgrade::check(history, ctx, max_rejoin.map(|d| d.as_duration()))
        }
        CheckSpec::Healed { expect_unhealed } => healed::check(history, ctx, *expect_unhealed),
        CheckSpec::Linearizable {
            reads,
            time_limit,
            memory_limit,
        } => linearizable::check(
            history,
            *reads,
            linearizable::Limits {
                time: time_limit.as_duration(),
                memory: memory_limit.0,
            },
        ),
    }));
    match outcome {
        Ok(Ok(result)) => result,
        Ok(Err(error)) => CheckResult::new(
            name,
            Verdict::Unknown,
            format!("checker could not decide: {error:#}"),
        ),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            CheckResult::new(
                name,
                Verdict::Unknown,
                format!("checker panicked: {reason}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negative_control(because: Option<&str>) -> Check {
        let mut text = "kind = \"no-lost-writes\"\nverdict = \"invalid\"\n".to_string();
        if let Some(because) = because {
            text += &format!("because = \"{because}\"\n");
        }
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn a_negative_control_holds_only_when_its_check_reports_the_violation_for_its_reason() {
        let lost = CheckResult::new(
            "no-lost-writes",
            Verdict::Invalid,
            "3 acknowledged writes lost",
        );
        let held = against_expectation(&negative_control(Some("writes lost")), lost.clone());
        assert_eq!(held.verdict, Verdict::Valid);
        assert_eq!(held.observed, Some(Verdict::Invalid));
        assert!(
            held.summary
                .starts_with("INVALID, as this negative control expects: 3 acknowledged")
        );

        let other_reason = against_expectation(&negative_control(Some("leaders")), lost);
        assert_eq!(other_reason.verdict, Verdict::Invalid);
        assert!(other_reason.summary.contains("not because of \"leaders\""));

        let nothing = CheckResult::new("no-lost-writes", Verdict::Valid, "all 10 acknowledged");
        let missed = against_expectation(&negative_control(None), nothing);
        assert_eq!(missed.verdict, Verdict::Invalid);
        assert!(missed.summary.contains("found nothing wrong"));

        let undecided = CheckResult::new("no-lost-writes", Verdict::Unknown, "no final read");
        assert_eq!(
            against_expectation(&negative_control(None), undecided).verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn an_ordinary_check_is_left_as_it_is() {
        let check: Check = toml::from_str("kind = \"no-lost-writes\"\n").unwrap();
        assert_eq!(check.expect, Expect::Valid);
        let lost = CheckResult::new("no-lost-writes", Verdict::Invalid, "lost");
        assert_eq!(against_expectation(&check, lost).verdict, Verdict::Invalid);
    }

    #[test]
    fn invalid_dominates_unknown_dominates_valid() {
        use Verdict::*;
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Verdict::merge_all([Valid, Valid]), Valid);
        assert_eq!(Verdict::merge_all([]), Valid);
    }
}

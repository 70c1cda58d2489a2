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
use crate::scenario::CheckSpec;

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
}

impl CheckResult {
    pub fn new(name: &str, verdict: Verdict, summary: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            verdict,
            summary: summary.into(),
            details: serde_json::Value::Null,
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
        CheckSpec::Healed { expect_unhealed } => healed::check(history, *expect_unhealed),
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

    #[test]
    fn invalid_dominates_unknown_dominates_valid() {
        use Verdict::*;
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Verdict::merge_all([Valid, Valid]), Valid);
        assert_eq!(Verdict::merge_all([]), Valid);
    }
}

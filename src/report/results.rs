//! results.json: the machine-readable summary of a run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::NodeState;
use crate::checker::{CheckResult, Verdict};

/// Everything a run concluded, as written to results.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub scenario: String,
    pub description: String,
    pub run_id: String,
    pub started_at: String,
    /// The chaosbed that ran it: its version and git commit (`0.1.0 (eed52be)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaosbed: Option<String>,
    /// The seed of the run's random choices (targets, random schedules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub duration_secs: f64,
    pub verdict: Verdict,
    /// Why the run could not finish, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub checks: Vec<CheckResult>,
    pub faults: Vec<FaultRecord>,
    pub nodes: BTreeMap<String, NodeRecord>,
    pub images: BTreeMap<String, String>,
    /// Counts of client operations by outcome.
    pub operations: BTreeMap<String, u64>,
    /// How long each phase of the run took, in order (setup, workload, heal, final-read,
    /// diagnosis, checks); teardown comes after results.json is written.
    #[serde(default)]
    pub phases: Vec<PhaseTime>,
}

/// One phase of a run and its length.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseTime {
    pub phase: String,
    pub seconds: f64,
}

/// The phases of a run as they end, in order.
#[derive(Debug, Clone, Default)]
pub struct PhaseClock {
    phases: Vec<PhaseTime>,
    since: Option<std::time::Instant>,
}

impl PhaseClock {
    /// Starts timing (the first phase begins now).
    pub fn start() -> Self {
        Self {
            phases: Vec::new(),
            since: Some(std::time::Instant::now()),
        }
    }

    /// Ends the phase `name` now; the next one begins.
    pub fn lap(&mut self, name: &str) {
        let now = std::time::Instant::now();
        let since = self.since.replace(now).unwrap_or(now);
        self.phases.push(PhaseTime {
            phase: name.to_owned(),
            seconds: ((now - since).as_secs_f64() * 10.0).round() / 10.0,
        });
    }

    pub fn phases(&self) -> Vec<PhaseTime> {
        self.phases.clone()
    }
}

/// One applied or healed fault, with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRecord {
    pub at_secs: f64,
    pub action: String,
    pub fault: String,
    pub targets: Vec<String>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub evidence: serde_json::Value,
}

/// A node's final state and where its log is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRecord {
    pub address: String,
    pub state: NodeState,
    pub log: String,
}

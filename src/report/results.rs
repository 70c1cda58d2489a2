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

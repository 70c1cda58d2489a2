//! Writing a run's files: node logs, history, results.json, junit.xml, report.html (and the
//! index of runs) — whatever way the run ended.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::Backend;
use crate::checker::{CheckResult, Verdict};
use crate::history::{F, OpKind, Recorder};
use crate::report::{FaultRecord, NodeRecord, Results, RunDir, junit_xml};
use crate::scenario::Scenario;

use super::Cluster;

/// What the run concluded before its files are written.
pub struct Summary {
    pub run_id: String,
    pub started_at: String,
    pub duration: Duration,
    pub verdict: Verdict,
    pub error: Option<String>,
    pub checks: Vec<CheckResult>,
    pub phases: Vec<crate::report::PhaseTime>,
}

/// Writes every file of the run directory. Failures to write are reported, never fatal: the
/// results still reach the console.
pub async fn save(
    scenario: &Scenario,
    backend: &impl Backend,
    cluster: &Cluster,
    recorder: &Recorder,
    dir: &RunDir,
    summary: Summary,
) -> Results {
    let history = recorder.snapshot();
    let mut problems = Vec::new();
    let mut nodes = BTreeMap::new();
    for node in &cluster.nodes {
        let log = match backend.logs(&node.name).await {
            Ok(text) => text,
            Err(e) => format!("(could not read the log: {e:#})\n"),
        };
        let path = match dir.write_log(&node.name, &log) {
            Ok(path) => path.display().to_string(),
            Err(e) => {
                problems.push(format!("{e:#}"));
                String::new()
            }
        };
        let state = backend
            .state(&node.name)
            .await
            .unwrap_or_else(|_| crate::backend::NodeState::missing());
        nodes.insert(
            node.name.clone(),
            NodeRecord {
                address: node.address.to_string(),
                state,
                log: path,
            },
        );
    }

    // A container workload's client runs are kept beside the nodes' logs.
    if scenario.workload.kind == crate::scenario::WorkloadKind::Container {
        for phase in super::client::NODES {
            let node = phase.node();
            let exists = backend
                .state(node)
                .await
                .is_ok_and(|s| s.status != crate::backend::Status::Missing);
            if exists {
                let log = backend
                    .logs(node)
                    .await
                    .unwrap_or_else(|e| format!("(could not read the log: {e:#})\n"));
                if let Err(e) = dir.write_log(node, &log) {
                    problems.push(format!("{e:#}"));
                }
            }
        }
    }

    let faults = history
        .ops
        .iter()
        .filter(|op| matches!(op.f, F::Fault | F::Heal) && op.kind != OpKind::Invoke)
        .map(|op| FaultRecord {
            at_secs: (op.time_secs() * 1000.0).round() / 1000.0,
            action: if op.f == F::Fault { "apply" } else { "heal" }.into(),
            fault: op.value["fault"].as_str().unwrap_or("?").into(),
            targets: serde_json::from_value(op.value["targets"].clone()).unwrap_or_default(),
            ok: op.kind == OpKind::Ok,
            error: op.error.clone(),
            evidence: op.value["evidence"].clone(),
        })
        .collect();

    let mut operations = BTreeMap::new();
    for op in history
        .ops
        .iter()
        .filter(|op| matches!(op.f, F::Write | F::Read))
    {
        if op.kind != OpKind::Invoke {
            let key = format!("{:?}-{:?}", op.f, op.kind).to_lowercase();
            *operations.entry(key).or_insert(0u64) += 1;
        }
    }

    let results = Results {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        run_id: summary.run_id,
        started_at: summary.started_at,
        chaosbed: Some(crate::version::describe()),
        seed: Some(scenario.seed),
        duration_secs: summary.duration.as_secs_f64(),
        verdict: summary.verdict,
        error: summary.error,
        checks: summary.checks,
        faults,
        nodes,
        images: cluster.images.clone(),
        operations,
        phases: summary.phases,
    };

    let scenario_text = toml::to_string_pretty(scenario)
        .unwrap_or_else(|e| format!("# could not serialise: {e}\n"));
    let writes = [
        dir.write("scenario.toml", scenario_text),
        dir.write("history.jsonl", history.to_jsonl()),
        dir.write(
            "results.json",
            serde_json::to_string_pretty(&results).expect("results always serialise"),
        ),
        junit_xml(&results).and_then(|xml| dir.write("junit.xml", xml)),
    ];
    for write in writes {
        if let Err(e) = write {
            problems.push(format!("{e:#}"));
        }
    }
    // The report and the index are read from the files just written, as `chaosbed report` does.
    if let Err(e) = crate::report::html::write(&dir.path) {
        problems.push(format!("writing the run's report: {e:#}"));
    }
    if let Some(runs_root) = dir.path.parent().and_then(std::path::Path::parent)
        && let Err(e) = crate::report::html::index::write_index(runs_root)
    {
        problems.push(format!("writing the index of runs: {e:#}"));
    }
    for problem in problems {
        eprintln!("warning: {problem}");
    }
    results
}

//! After a run, whatever way it ended: why did nodes fail? Each diagnosis goes into the history
//! (and so into results.json) and to the console.

use serde_json::json;

use super::Cluster;
use crate::backend::Backend;
use crate::diagnose::{
    Cause, Diagnosis, NodeFacts, clock_skew_explanation, diagnose, expired_session,
    illegal_advertised_address, running_trouble,
};
use crate::history::{F, History, OpKind, Recorder};
use crate::scenario::Scenario;
use crate::system::{skywalking, zookeeper};

/// Diagnoses every node from its Docker state and log, and records each diagnosis.
pub async fn diagnose_nodes(
    scenario: &Scenario,
    backend: &impl Backend,
    cluster: &Cluster,
    recorder: &Recorder,
) -> Vec<Diagnosis> {
    let tick_time_ms = scenario
        .topology
        .spec(zookeeper::KIND)
        .map(zookeeper::tick_time_ms);
    // A node that only failed readiness because of its advertised address is explained by that.
    let mut found = advertised_addresses(cluster, recorder).await;
    for diagnosis in displaced_traces(&recorder.snapshot()) {
        record(recorder, &diagnosis);
        found.push(diagnosis);
    }
    let explained: Vec<String> = found.iter().map(|d| d.node.clone()).collect();
    for node in &cluster.nodes {
        let Ok(state) = backend.state(&node.name).await else {
            continue;
        };
        let log = backend.logs(&node.name).await.unwrap_or_default();
        let spec = cluster.specs.get(&node.name);
        // Without a memory variable the image's default applies; name it in the explanation.
        let heap = node.system.heap_flags(spec);
        let facts = NodeFacts {
            node: &node.name,
            system: node.system,
            state: &state,
            log: &log,
            memory_limit: spec.and_then(|s| s.memory),
            heap: heap.as_deref(),
            tick_time_ms,
            became_ready: cluster.ready.contains(&node.system),
        };
        if let Some(diagnosis) = diagnose(&facts)
            .or_else(|| expired_session(&facts))
            .or_else(|| running_trouble(&facts))
            && !(diagnosis.cause == Cause::NeverReady && explained.contains(&diagnosis.node))
        {
            record(recorder, &diagnosis);
            found.push(diagnosis);
        }
    }
    found
}

/// OAP nodes configured to advertise an address their peers cannot dial, with what ZooKeeper
/// lists: OAP itself only refuses 127.0.0.1 and localhost, so 0.0.0.0 passes silently.
async fn advertised_addresses(cluster: &Cluster, recorder: &Recorder) -> Vec<Diagnosis> {
    let oaps = cluster.names(skywalking::KIND);
    if oaps.is_empty() {
        return Vec::new();
    }
    let zk = zookeeper::connect_string(&cluster.addresses(zookeeper::KIND));
    let members: Vec<String> = match skywalking::membership::members(&zk).await {
        Ok(members) => members.iter().map(|m| m.to_string()).collect(),
        Err(e) => vec![format!("(could not list the members: {e:#})")],
    };
    let mut found = Vec::new();
    for node in oaps {
        let Some(advertised) = cluster
            .specs
            .get(&node)
            .and_then(|s| s.env_var(skywalking::ADVERTISED_HOST_VARIABLE))
        else {
            continue;
        };
        if let Some(diagnosis) = illegal_advertised_address(&node, advertised, &members) {
            record(recorder, &diagnosis);
            found.push(diagnosis);
        }
    }
    found
}

/// Traces the reader found only far outside the run's time window (filed under a time their
/// collector's clock gave them): clock skew, on each node a clock-skew fault moved, else on
/// whichever collector took them (Pinpoint files a transaction under its collector's clock).
fn displaced_traces(history: &History) -> Vec<Diagnosis> {
    let mut offsets: Vec<(i64, &str)> = history
        .with_f(F::TraceFound)
        .filter(|op| op.kind == OpKind::Ok && op.value["phase"] == "displaced")
        .filter_map(|op| Some((op.value["offset_ms"].as_i64()?, op.value["id"].as_str()?)))
        .collect();
    if offsets.is_empty() {
        return Vec::new();
    }
    offsets.sort_unstable();
    let (median, example) = offsets[(offsets.len() - 1) / 2];
    let evidence = format!(
        "{} traces found filed {median:+} ms (median) from when they were sent, outside the run's \
         time window (e.g. {example})",
        offsets.len()
    );
    let mut skewed: Vec<String> = history
        .with_f(F::Fault)
        .filter(|op| op.kind == OpKind::Ok && op.value["fault"] == "clock-skew")
        .filter_map(|op| op.value["targets"].as_array())
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    skewed.sort();
    skewed.dedup();
    if skewed.is_empty() {
        skewed.push(format!(
            "the collector that took them ({})",
            crate::system::pinpoint::collector::SERVICE
        ));
    }
    skewed
        .iter()
        .map(|node| clock_skew_explanation(node, median, &evidence))
        .collect()
}

pub(super) fn record(recorder: &Recorder, diagnosis: &Diagnosis) {
    recorder.record(
        "diagnosis",
        F::Diagnosis,
        OpKind::Ok,
        json!({
            "node": diagnosis.node,
            "cause": diagnosis.cause.name(),
            "explanation": diagnosis.explanation,
            "evidence": diagnosis.evidence,
        }),
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(recorder: &Recorder, id: &str, offset_ms: i64) {
        let value = json!({"id": id, "segments": 1, "phase": "displaced",
                           "stored_at_ms": 0, "offset_ms": offset_ms});
        recorder.record("reader", F::TraceFound, OpKind::Ok, value, None);
    }

    #[test]
    fn traces_filed_far_away_name_the_skewed_node() {
        let recorder = Recorder::new();
        assert!(displaced_traces(&recorder.snapshot()).is_empty());
        let skew = json!({"fault": "clock-skew", "targets": ["collector-2"], "down": [],
                          "evidence": {}});
        recorder.record("nemesis", F::Fault, OpKind::Ok, skew, None);
        found(&recorder, "r0-1", 3_600_100);
        found(&recorder, "r0-2", 3_599_800);
        found(&recorder, "r1-1", 3_600_300);
        let found = displaced_traces(&recorder.snapshot());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].node, "collector-2");
        assert_eq!(found[0].cause, Cause::ClockSkew);
        assert!(
            found[0].explanation.contains("ahead"),
            "{}",
            found[0].explanation
        );
        let evidence = found[0].evidence.join(" ");
        assert!(
            evidence.contains("3 traces found filed +3600100 ms"),
            "{evidence}"
        );
    }

    #[test]
    fn without_a_skew_fault_the_collectors_are_named() {
        let recorder = Recorder::new();
        found(&recorder, "r0-1", -600_000);
        let found = displaced_traces(&recorder.snapshot());
        assert_eq!(found.len(), 1);
        assert!(
            found[0].node.contains("pinpoint-collector"),
            "{}",
            found[0].node
        );
        assert!(
            found[0].explanation.contains("behind"),
            "{}",
            found[0].explanation
        );
    }
}

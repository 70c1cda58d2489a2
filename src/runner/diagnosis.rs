//! After a run, whatever way it ended: why did nodes fail? Each diagnosis goes into the history
//! (and so into results.json) and to the console.

use serde_json::json;

use super::Cluster;
use crate::backend::Backend;
use crate::diagnose::{
    Cause, Diagnosis, NodeFacts, diagnose, expired_session, illegal_advertised_address,
};
use crate::history::{F, OpKind, Recorder};
use crate::scenario::{Scenario, SystemKind};
use crate::system::{bookkeeper, hbase, pinpoint, pulsar, skywalking, zookeeper};

/// The variables through which a system's image takes its JVM memory flags, first wins.
fn memory_variables(system: SystemKind) -> &'static [&'static str] {
    match system {
        SystemKind::Zookeeper => &["JVMFLAGS"],
        SystemKind::Bookkeeper => &["BOOKIE_MEM", "PULSAR_MEM"],
        SystemKind::Pulsar => &["PULSAR_MEM"],
        SystemKind::Skywalking
        | SystemKind::PinpointCollector
        | SystemKind::PinpointWeb
        | SystemKind::PinpointApp => &["JAVA_OPTS"],
        // HBASE_HEAPSIZE is a size, not flags: see `heap_flags`.
        SystemKind::Hbase | SystemKind::Postgres | SystemKind::Nginx => &[],
    }
}

/// A node's JVM memory flags as configured, else its image's default where chaosbed knows it.
fn heap_flags(system: SystemKind, spec: Option<&crate::backend::ContainerSpec>) -> Option<String> {
    if system == SystemKind::Hbase {
        let heapsize = spec
            .and_then(|s| s.env_var(hbase::HEAP_VARIABLE))
            .unwrap_or(hbase::DEFAULT_HEAP);
        return Some(hbase::heap_flags(heapsize));
    }
    spec.and_then(|s| {
        memory_variables(system)
            .iter()
            .find_map(|var| s.env_var(var))
    })
    .or(match system {
        SystemKind::Pulsar => Some(pulsar::IMAGE_DEFAULT_PULSAR_MEM),
        SystemKind::Bookkeeper => Some(bookkeeper::IMAGE_DEFAULT_BOOKIE_MEM),
        SystemKind::PinpointCollector | SystemKind::PinpointWeb => {
            Some(pinpoint::DEFAULT_JAVA_OPTS)
        }
        SystemKind::PinpointApp => Some(pinpoint::app::DEFAULT_JAVA_OPTS),
        SystemKind::Zookeeper
        | SystemKind::Postgres
        | SystemKind::Skywalking
        | SystemKind::Nginx
        | SystemKind::Hbase => None,
    })
    .map(str::to_string)
}

/// Diagnoses every node from its Docker state and log, and records each diagnosis.
pub async fn diagnose_nodes(
    scenario: &Scenario,
    backend: &impl Backend,
    cluster: &Cluster,
    recorder: &Recorder,
) -> Vec<Diagnosis> {
    let tick_time_ms = scenario
        .topology
        .zookeeper
        .as_ref()
        .map(|zk| zookeeper::tick_time_ms(zk.get_ref()));
    // A node that only failed readiness because of its advertised address is explained by that.
    let mut found = advertised_addresses(cluster, recorder).await;
    let explained: Vec<String> = found.iter().map(|d| d.node.clone()).collect();
    for node in &cluster.nodes {
        let Ok(state) = backend.state(&node.name).await else {
            continue;
        };
        let log = backend.logs(&node.name).await.unwrap_or_default();
        let spec = cluster.specs.get(&node.name);
        // Without a memory variable the image's default applies; name it in the explanation.
        let heap = heap_flags(node.system, spec);
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
        if let Some(diagnosis) = diagnose(&facts).or_else(|| expired_session(&facts))
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
    let oaps = cluster.names(SystemKind::Skywalking);
    if oaps.is_empty() {
        return Vec::new();
    }
    let zk = zookeeper::connect_string(&cluster.addresses(SystemKind::Zookeeper));
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

fn record(recorder: &Recorder, diagnosis: &Diagnosis) {
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

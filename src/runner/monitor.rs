//! The monitor: samples cluster state into the history while the workload runs — ZooKeeper
//! roles a few times a second, Pulsar topic ownership and registered bookies twice a second —
//! and every container's memory and CPU once a second for the whole run.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;

use crate::history::{F, OpKind, Recorder};
use crate::system::{bookkeeper, pulsar, zookeeper};

const ROLES_EVERY: Duration = Duration::from_millis(250);
const PULSAR_EVERY: Duration = Duration::from_millis(500);
const ASK_TIMEOUT: Duration = Duration::from_millis(700);

fn ticker(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

const RESOURCES_EVERY: Duration = Duration::from_secs(1);

/// Samples what each running container of `run` uses until the task is aborted (the runner
/// starts it before the first container and aborts it before the run's files are written).
pub async fn sample_resources(
    docker: bollard::Docker,
    run: crate::backend::RunId,
    recorder: Recorder,
) {
    let host = crate::backend::docker::stats::host_memory(&docker).await;
    let mut tick = ticker(RESOURCES_EVERY);
    loop {
        tick.tick().await;
        match crate::backend::docker::stats::usage(&docker, &run, host).await {
            Ok(nodes) if !nodes.is_empty() => {
                recorder.record(
                    "resources",
                    F::Resources,
                    OpKind::Ok,
                    json!({ "nodes": nodes }),
                    None,
                );
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("sampling resources: {e:#}"),
        }
    }
}

/// Samples ZooKeeper roles, with each answering node's leader epoch (the high 32 bits of its
/// zxid), until the task is aborted.
pub async fn sample_roles(nodes: Vec<(String, Ipv4Addr)>, recorder: Recorder) {
    let mut tick = ticker(ROLES_EVERY);
    loop {
        tick.tick().await;
        let answers = zookeeper::answers(&nodes, ASK_TIMEOUT).await;
        let roles: BTreeMap<&String, zookeeper::Role> =
            answers.iter().map(|(node, a)| (node, a.role)).collect();
        let epochs: BTreeMap<&String, u64> = answers
            .iter()
            .filter_map(|(node, a)| Some((node, a.epoch()?)))
            .collect();
        recorder.record(
            "monitor",
            F::Roles,
            OpKind::Ok,
            json!({ "roles": roles, "epochs": epochs }),
            None,
        );
    }
}

/// Samples which broker owns each namespace bundle until the task is aborted: each broker is
/// asked what it owns, so two brokers owning one bundle (and so its topics) at once shows.
pub async fn sample_ownership(
    brokers: Vec<(String, Ipv4Addr)>,
    cluster: String,
    recorder: Recorder,
) {
    let mut tick = ticker(PULSAR_EVERY);
    loop {
        tick.tick().await;
        let answers = futures_util::future::join_all(
            brokers
                .iter()
                .map(|(_, address)| pulsar::owned_bundles(*address, &cluster, ASK_TIMEOUT)),
        )
        .await;
        let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut unreachable = Vec::new();
        for ((name, _), answer) in brokers.iter().zip(answers) {
            match answer {
                Ok(bundles) => {
                    for bundle in bundles {
                        owners.entry(bundle).or_default().push(name.clone());
                    }
                }
                Err(_) => unreachable.push(name.clone()),
            }
        }
        recorder.record(
            "monitor",
            F::Ownership,
            OpKind::Ok,
            json!({ "owners": owners, "unreachable": unreachable }),
            None,
        );
    }
}

/// Samples the bookies registered (writable) as any reachable bookie reports them.
pub async fn sample_bookies(bookies: Vec<(String, Ipv4Addr)>, recorder: Recorder) {
    let mut tick = ticker(PULSAR_EVERY);
    loop {
        tick.tick().await;
        for (_, address) in &bookies {
            if let Ok(registered) = bookkeeper::list_bookies(*address, ASK_TIMEOUT).await {
                let names: Vec<String> = bookies
                    .iter()
                    .filter(|(_, a)| registered.writable.contains(&bookkeeper::bookie_id(*a)))
                    .map(|(n, _)| n.clone())
                    .collect();
                recorder.record(
                    "monitor",
                    F::Bookies,
                    OpKind::Ok,
                    json!({ "registered": names }),
                    None,
                );
                break;
            }
        }
    }
}

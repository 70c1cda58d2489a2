//! Per-system steps of a run: prepare a system (init job, containers), start its nodes and wait
//! until they serve, and wait again after heal. The runner calls these wave by wave (see
//! `crate::system::start_waves`).

use std::time::Duration;

use super::cluster::Cluster;
use crate::backend::Backend;
use crate::scenario::{SystemKind, SystemSpec};
use crate::system::{self, Node, node_names};

/// Upper bound on a one-shot init job (BookKeeper metaformat, Pulsar cluster metadata).
const INIT_JOB_TIMEOUT: Duration = Duration::from_secs(180);

/// How the systems of one run find each other.
#[derive(Debug, Clone)]
pub struct Wiring {
    pub systems: system::Wiring,
}

/// One system of the topology, as the runner starts it.
pub struct SystemStart<'a> {
    pub system: SystemKind,
    pub spec: &'a SystemSpec,
    pub image: &'a str,
    pub wiring: &'a Wiring,
}

/// Runs the system's one-shot init job, if it has one, then creates its nodes (not started).
/// Returns the nodes to start now.
pub async fn prepare(
    what: SystemStart<'_>,
    backend: &mut impl Backend,
    cluster: &mut Cluster,
) -> anyhow::Result<Vec<String>> {
    let SystemStart {
        system,
        spec,
        image,
        wiring,
    } = what;
    let count = spec.node_count();
    let names = node_names(system, count);
    let mut addresses = Vec::new();
    for name in &names {
        addresses.push(backend.address_for(name)?);
    }
    let deploy = system::protocol::Deploy {
        spec,
        image,
        count,
        wiring: &wiring.systems,
        addresses: &addresses,
    };
    let init = system.init_spec(&deploy);
    if let Some(job) = init {
        cluster.init_jobs.insert(system, job.clone());
        let out = backend.run_once(&job, INIT_JOB_TIMEOUT).await?;
        if out.exit_code != 0 {
            let tail: Vec<&str> = out.stdout.lines().rev().take(15).collect();
            anyhow::bail!(
                "the {system} init job {} exited with {}; its last lines:\n{}",
                job.node,
                out.exit_code,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    let mut to_start = Vec::new();
    for (i, (name, address)) in names.into_iter().zip(addresses.iter().copied()).enumerate() {
        let index = i as u32 + 1;
        let mut container = system.container_spec(&deploy, index, address);
        crate::system::apply_scenario(&mut container, spec);
        let address = backend.create(&container).await?;
        cluster.specs.insert(name.clone(), container);
        cluster.nodes.push(Node {
            name: name.clone(),
            system,
            address,
        });
        if index <= spec.started_count() {
            to_start.push(name);
        } else {
            cluster.not_started.insert(name);
        }
    }
    Ok(to_start)
}

/// Starts a prepared system's nodes together and waits until they serve. Returns a line saying
/// how long that took.
pub async fn start(
    system: SystemKind,
    to_start: &[String],
    backend: &impl Backend,
    cluster: &Cluster,
    timeout: Duration,
) -> anyhow::Result<String> {
    // Start together: an ensemble member that finds no peer backs off its election
    // notifications exponentially, so staggered starts can cost ten seconds of quorum.
    futures_util::future::try_join_all(to_start.iter().map(|name| backend.start(name))).await?;
    ready_unless_exit(system, to_start, backend, cluster, timeout).await
}

/// Waits until `nodes` of `system` serve, unless one of them stops running first: nothing
/// restarts it, so waiting longer could only end in the timeout.
pub async fn ready_unless_exit(
    system: SystemKind,
    nodes: &[String],
    backend: &impl Backend,
    cluster: &Cluster,
    timeout: Duration,
) -> anyhow::Result<String> {
    tokio::select! {
        ready = wait_ready(system, cluster, nodes, timeout) => ready,
        exited = first_exit(backend, nodes) => anyhow::bail!(
            "{exited} while waiting for {system} to become ready; see the diagnosis and its log"
        ),
    }
}

/// Resolves when one of `nodes` has stopped running (crashed, OOM-killed), saying how.
async fn first_exit(backend: &impl Backend, nodes: &[String]) -> String {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for node in nodes {
            if let Ok(state) = backend.state(node).await
                && matches!(
                    state.status,
                    crate::backend::Status::Exited | crate::backend::Status::Dead
                )
            {
                return format!("{node} {}", state.exit_words());
            }
        }
    }
}

/// Waits until `started` nodes of `system` serve; returns a line saying how long that took and
/// what the system saw.
pub async fn wait_ready(
    system: SystemKind,
    cluster: &Cluster,
    started: &[String],
    timeout: Duration,
) -> anyhow::Result<String> {
    let begin = std::time::Instant::now();
    let seen = system
        .wait_ready(system::protocol::Readiness {
            nodes: cluster.of(system),
            started,
            run: &cluster.nodes,
            timeout,
        })
        .await?;
    Ok(ready_line(system, begin.elapsed(), seen.as_deref()))
}

/// "zookeeper ready in 4.2s (leader: zk-2)".
fn ready_line(system: SystemKind, took: Duration, seen: Option<&str>) -> String {
    let seen = seen.map(|s| format!(" ({s})")).unwrap_or_default();
    format!("{system} ready in {:.1}s{seen}", took.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_line_names_the_system_its_time_and_what_it_saw() {
        let zookeeper = crate::system::zookeeper::KIND;
        let took = Duration::from_millis(4_240);
        assert_eq!(
            ready_line(zookeeper, took, Some("leader: zk-2")),
            "zookeeper ready in 4.2s (leader: zk-2)"
        );
        assert_eq!(ready_line(zookeeper, took, None), "zookeeper ready in 4.2s");
    }
}

//! Plumbing the hand-built stack tests share: nodes created at the addresses they were told,
//! their logs on failure, and what memory they use.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bollard::Docker;
use futures_util::StreamExt as _;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, ContainerSpec, RunId};
use chaosbed::scenario::{SystemKind, SystemSpec};
use chaosbed::system::{self, zookeeper};

/// Progress bars nobody sees.
pub fn hidden() -> indicatif::MultiProgress {
    indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
}

/// Creates and starts `count` nodes of `system`, each told its address before it exists.
pub async fn start_nodes(
    backend: &mut DockerBackend,
    system: SystemKind,
    count: u32,
    spec: impl Fn(u32, Ipv4Addr) -> ContainerSpec,
) -> anyhow::Result<Vec<(String, Ipv4Addr)>> {
    let mut nodes = Vec::new();
    for (index, name) in (1..=count).zip(system::node_names(system, count)) {
        let address = backend.address_for(&name)?;
        let container = spec(index, address);
        ensure!(
            container.node == name,
            "{system} node {index} is called {}, expected {name}",
            container.node
        );
        let created = backend.create(&container).await?;
        ensure!(
            created == address,
            "{name} was created at {created}, but was told {address}"
        );
        nodes.push((name, address));
    }
    for (name, _) in &nodes {
        backend.start(name).await?;
    }
    Ok(nodes)
}

/// `docker stats --no-stream`'s memory column for each node, and the total.
pub async fn print_memory(docker: &Docker, run: &RunId, nodes: &[String]) -> anyhow::Result<()> {
    use bollard::query_parameters::StatsOptions;
    let mut total = 0u64;
    for node in nodes {
        let container = run.container_name(node);
        let stats = docker
            .stats(
                &container,
                Some(StatsOptions {
                    stream: false,
                    one_shot: true,
                }),
            )
            .next()
            .await
            .with_context(|| format!("no stats for {node}"))?
            .with_context(|| format!("reading the stats of {node}"))?;
        let memory = stats.memory_stats.unwrap_or_default();
        let usage = memory.usage.unwrap_or_default();
        // As the docker CLI: page cache that can be dropped does not count.
        let cache = memory
            .stats
            .as_ref()
            .and_then(|s| {
                s.get("inactive_file")
                    .or_else(|| s.get("total_inactive_file"))
            })
            .copied()
            .unwrap_or_default();
        let used = usage.saturating_sub(cache);
        total += used;
        println!("  {node:10} {:7.1} MiB", mib(used));
    }
    println!("  {:10} {:7.1} MiB", "total", mib(total));
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The last lines of each node's log, for a failure's context.
pub async fn print_logs(backend: &DockerBackend, nodes: &[(String, Ipv4Addr)]) {
    for (name, _) in nodes {
        let logs = backend
            .logs(name)
            .await
            .unwrap_or_else(|e| format!("(no logs: {e:#})"));
        eprintln!("--- last lines of {name}\n{}", tail(&logs, 40));
    }
}

/// The image of `system` at its default version, built if missing.
pub async fn default_image(
    docker: &Docker,
    system: SystemKind,
    progress: &indicatif::MultiProgress,
) -> anyhow::Result<String> {
    chaosbed::image::ensure(docker, system.name(), system.default_version(), progress).await
}

/// A topology table with `nodes` nodes and nothing else.
pub fn spec(nodes: u32) -> anyhow::Result<SystemSpec> {
    toml::from_str(&format!("nodes = {nodes}")).context("a minimal topology table")
}

/// Starts a 3-node ZooKeeper ensemble from `image` and waits for its quorum; returns the nodes
/// and the client connect string by address.
pub async fn start_ensemble(
    backend: &mut DockerBackend,
    image: &str,
) -> anyhow::Result<(Vec<(String, Ipv4Addr)>, String)> {
    let zk_spec = spec(3)?;
    let zk = start_nodes(backend, chaosbed::system::zookeeper::KIND, 3, |index, _| {
        zookeeper::container_spec(&zk_spec, image, index, 3)
    })
    .await?;
    let names: Vec<String> = zk.iter().map(|(n, _)| n.clone()).collect();
    let ready = zookeeper::wait_ready(&zk, &names, zk.len(), Duration::from_secs(90)).await?;
    println!("zookeeper ready in {:.1?}", ready.elapsed);
    let connect = zookeeper::connect_string(&zk.iter().map(|(_, a)| *a).collect::<Vec<_>>());
    Ok((zk, connect))
}

/// Waits on `ready`; on failure prints the nodes' logs first.
pub async fn or_logs<T>(
    backend: &DockerBackend,
    nodes: &[(String, Ipv4Addr)],
    ready: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match ready.await {
        Ok(value) => Ok(value),
        Err(e) => {
            print_logs(backend, nodes).await;
            Err(e)
        }
    }
}

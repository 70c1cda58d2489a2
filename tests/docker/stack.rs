//! Plumbing the hand-built stack tests share: nodes created at the addresses they were told,
//! their logs on failure, and what memory they use.

use std::net::Ipv4Addr;

use anyhow::{Context as _, ensure};
use bollard::Docker;
use futures_util::StreamExt as _;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, ContainerSpec, RunId};
use chaosbed::scenario::SystemKind;
use chaosbed::system;

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

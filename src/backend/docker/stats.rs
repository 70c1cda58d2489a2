//! What a run's running containers use, as `docker stats` shows it: memory (usage less the
//! inactive file cache, as the CLI reports it), the memory limit, and the CPU time used so far.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, StatsOptions};
use futures_util::StreamExt;

use crate::backend::RunId;
use crate::backend::labels::{LABEL_NODE, LABEL_RUN};

/// One container's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Bytes in use, without the inactive file cache.
    pub memory: u64,
    /// The container's memory limit, None when it has none (Docker then reports the host's).
    pub limit: Option<u64>,
    /// Nanoseconds of CPU the container has used since it started.
    pub cpu_ns: u64,
}

/// The host's memory, which Docker reports as the limit of a container without one.
pub async fn host_memory(docker: &Docker) -> Option<u64> {
    docker
        .info()
        .await
        .ok()
        .and_then(|info| info.mem_total)
        .and_then(|m| u64::try_from(m).ok())
}

/// Each running container of `run` by node name; a container whose stats could not be read is
/// left out.
pub async fn usage(
    docker: &Docker,
    run: &RunId,
    host_memory: Option<u64>,
) -> anyhow::Result<BTreeMap<String, Usage>> {
    let label = format!("{LABEL_RUN}={}", run.as_str());
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: false,
            filters: Some(HashMap::from([("label".to_string(), vec![label.clone()])])),
            ..Default::default()
        }))
        .await
        .with_context(|| format!("listing the running containers labelled {label}"))?;
    let reads = containers.into_iter().filter_map(|container| {
        let id = container.id?;
        let node = container.labels?.get(LABEL_NODE)?.clone();
        Some(async move {
            let mut stream = docker.stats(
                &id,
                Some(StatsOptions {
                    stream: false,
                    one_shot: true,
                }),
            );
            let stats = stream.next().await?.ok()?;
            let memory = stats.memory_stats?;
            let inactive = memory.stats.as_ref().and_then(|s| {
                s.get("total_inactive_file")
                    .or_else(|| s.get("inactive_file"))
                    .copied()
            });
            let used = memory.usage?.saturating_sub(inactive.unwrap_or(0));
            let limit = memory
                .limit
                .filter(|limit| host_memory.is_none_or(|host| *limit < host));
            let cpu_ns = stats
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or(0);
            Some((
                node,
                Usage {
                    memory: used,
                    limit,
                    cpu_ns,
                },
            ))
        })
    });
    Ok(futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect())
}

//! Removing what runs left behind, by label: one run, every run, or runs whose owner died.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions,
    RemoveVolumeOptions,
};

use super::helper::LABEL_HELPER_FOR;
use crate::backend::{LABEL_PID, LABEL_RUN, Removed};

/// Removes the containers, networks and volumes of run `run`, or of every run when `None`.
pub async fn remove_run(docker: &Docker, run: Option<&str>) -> anyhow::Result<Removed> {
    let label = match run {
        Some(id) => format!("{LABEL_RUN}={id}"),
        None => LABEL_RUN.to_string(),
    };
    let filters = HashMap::from([("label".to_string(), vec![label.clone()])]);
    let mut removed = Removed::default();

    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .with_context(|| format!("listing containers labelled {label}"))?;
    // Nemesis helpers first, so no node is removed while a helper holds its network namespace;
    // then the rest all at once: each forced removal waits for its container's processes to
    // die, and one after the other that took seconds per run.
    let (helpers, nodes): (Vec<_>, Vec<_>) = containers.into_iter().partition(|c| {
        c.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(LABEL_HELPER_FOR))
    });
    for batch in [helpers, nodes] {
        removed
            .containers
            .extend(remove_containers(docker, batch).await?);
    }

    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters.clone()),
        }))
        .await
        .with_context(|| format!("listing networks labelled {label}"))?;
    for network in networks {
        let Some(name) = network.name else { continue };
        docker
            .remove_network(&name)
            .await
            .with_context(|| format!("removing network {name}"))?;
        removed.networks.push(name);
    }

    let volumes = docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(filters),
        }))
        .await
        .with_context(|| format!("listing volumes labelled {label}"))?;
    for volume in volumes.volumes.unwrap_or_default() {
        docker
            .remove_volume(&volume.name, Some(RemoveVolumeOptions { force: true }))
            .await
            .with_context(|| format!("removing volume {}", volume.name))?;
        removed.volumes.push(volume.name);
    }
    Ok(removed)
}

/// Removes every run's leftovers.
pub async fn remove_all(docker: &Docker) -> anyhow::Result<Removed> {
    remove_run(docker, None).await
}

/// Removes runs whose owning chaosbed process no longer exists (killed with SIGKILL, say), so a
/// crash never leaves containers behind for long.
pub async fn reap_orphans(docker: &Docker) -> anyhow::Result<Removed> {
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![LABEL_PID.to_string()],
            )])),
            ..Default::default()
        }))
        .await
        .context("listing chaosbed containers to find orphaned runs")?;
    let orphaned: BTreeSet<String> = containers
        .into_iter()
        .filter_map(|c| c.labels)
        .filter(|labels| {
            labels
                .get(LABEL_PID)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        })
        .filter_map(|labels| labels.get(LABEL_RUN).cloned())
        .collect();
    let mut total = Removed::default();
    for run in orphaned {
        let removed = remove_run(docker, Some(&run)).await?;
        total.containers.extend(removed.containers);
        total.networks.extend(removed.networks);
        total.volumes.extend(removed.volumes);
    }
    Ok(total)
}

/// Removes container `name` whatever its state, with its anonymous volumes if `volumes` (a
/// node's named data volume is never among them).
pub(super) async fn force_remove(
    docker: &Docker,
    name: &str,
    volumes: bool,
) -> Result<(), bollard::errors::Error> {
    docker
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                v: volumes,
                ..Default::default()
            }),
        )
        .await
}

/// Removes `containers` at once, with their anonymous volumes; returns their names.
async fn remove_containers(
    docker: &Docker,
    containers: Vec<bollard::models::ContainerSummary>,
) -> anyhow::Result<Vec<String>> {
    let removals = containers.into_iter().filter_map(|container| {
        let id = container.id?;
        let name = container
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_else(|| id.clone());
        Some(async move {
            force_remove(docker, &id, true)
                .await
                .with_context(|| format!("removing container {name}"))?;
            Ok::<_, anyhow::Error>(name.trim_start_matches('/').to_string())
        })
    });
    futures_util::future::join_all(removals)
        .await
        .into_iter()
        .collect()
}

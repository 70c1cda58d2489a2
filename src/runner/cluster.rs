//! Standing up a scenario's topology: images, the run network, one container per node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use anyhow::Context;
use bollard::Docker;
use indicatif::MultiProgress;

use crate::backend::Backend;
use crate::scenario::{Scenario, SystemKind, SystemSpec, systems};
use crate::system::{Node, node_names, zookeeper};

/// The version built when a scenario names neither version nor image.
const DEFAULT_ZOOKEEPER_VERSION: &str = "3.8";

/// What is deployed, filled in as setup proceeds so that teardown sees partial setups too.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// Nodes not started at setup.
    pub not_started: BTreeSet<String>,
    /// Image used per system.
    pub images: BTreeMap<String, String>,
}

impl Cluster {
    pub fn of(&self, system: SystemKind) -> Vec<(String, Ipv4Addr)> {
        self.nodes
            .iter()
            .filter(|n| n.system == system)
            .map(|n| (n.name.clone(), n.address))
            .collect()
    }

    pub fn names(&self, system: SystemKind) -> Vec<String> {
        self.of(system).into_iter().map(|(n, _)| n).collect()
    }

    pub fn addresses(&self, system: SystemKind) -> Vec<Ipv4Addr> {
        self.of(system).into_iter().map(|(_, a)| a).collect()
    }
}

/// The image a system runs: the scenario's `image` as is, or a local build of its version.
pub async fn image_for(
    docker: &Docker,
    system: SystemKind,
    spec: &SystemSpec,
    progress: &MultiProgress,
) -> anyhow::Result<String> {
    if let Some(image) = &spec.image {
        docker.inspect_image(image).await.with_context(|| {
            format!(
                "the scenario names image `{image}` for {system}, but the Docker engine does not have it; `docker pull {image}` it, or use `version` for a local build"
            )
        })?;
        return Ok(image.clone());
    }
    let version = spec.version.as_deref().unwrap_or(match system {
        SystemKind::Zookeeper => DEFAULT_ZOOKEEPER_VERSION,
    });
    crate::image::ensure(docker, system.name(), version, progress)
        .await
        .with_context(|| format!("building the {system} {version} image"))
}

/// Creates the network and every node's container, and starts those the scenario starts.
pub async fn create(
    scenario: &Scenario,
    docker: &Docker,
    backend: &mut impl Backend,
    cluster: &mut Cluster,
    progress: &MultiProgress,
) -> anyhow::Result<()> {
    for (system, spec, _) in systems(scenario) {
        let image = image_for(docker, system, spec, progress).await?;
        cluster.images.insert(system.name().to_string(), image);
    }
    backend.create_network().await?;
    for (system, spec, _) in systems(scenario) {
        let image = cluster.images[system.name()].clone();
        let count = spec.node_count();
        let mut to_start = Vec::new();
        for (i, name) in node_names(system, count).into_iter().enumerate() {
            let container = match system {
                SystemKind::Zookeeper => {
                    zookeeper::container_spec(spec, &image, i as u32 + 1, count)
                }
            };
            let address = backend.create(&container).await?;
            cluster.nodes.push(Node {
                name: name.clone(),
                system,
                address,
            });
            if (i as u32) < spec.started_count() {
                to_start.push(name);
            } else {
                cluster.not_started.insert(name);
            }
        }
        // Start together: an ensemble member that finds no peer backs off its election
        // notifications exponentially, so staggered starts can cost ten seconds of quorum.
        let backend = &*backend;
        futures_util::future::try_join_all(to_start.iter().map(|name| backend.start(name))).await?;
    }
    Ok(())
}

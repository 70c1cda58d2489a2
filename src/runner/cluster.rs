//! Standing up a scenario's topology: images, the run network, one container per node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use anyhow::Context;
use bollard::Docker;
use indicatif::MultiProgress;

use crate::backend::Backend;
use crate::scenario::{Scenario, SystemKind, SystemSpec, systems};
use crate::system::Node;

/// The version built when a scenario names neither version nor image.
/// What is deployed, filled in as setup proceeds so that teardown sees partial setups too.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// Nodes not started at setup.
    pub not_started: BTreeSet<String>,
    /// Image used per system.
    pub images: BTreeMap<String, String>,
    /// Each node's container as created (its memory settings explain failures).
    pub specs: BTreeMap<String, crate::backend::ContainerSpec>,
    /// Systems whose nodes became ready at setup.
    pub ready: BTreeSet<SystemKind>,
    /// The image of every upgrade step's `(system, version)`, built at setup.
    pub upgrade_images: BTreeMap<(SystemKind, String), String>,
    /// Each system's init job as it ran at setup (an upgrade step may run it again).
    pub init_jobs: BTreeMap<SystemKind, crate::backend::ContainerSpec>,
}

impl Cluster {
    /// What the nemesis needs of every node: address, memory limit, data volume.
    pub fn node_info(&self) -> BTreeMap<String, crate::nemesis::NodeInfo> {
        self.nodes
            .iter()
            .map(|node| {
                let spec = self.specs.get(&node.name);
                let info = crate::nemesis::NodeInfo {
                    address: Some(node.address),
                    memory: spec.and_then(|s| s.memory),
                    data_dir: spec.and_then(|s| s.data_dir.clone()),
                };
                (node.name.clone(), info)
            })
            .collect()
    }

    /// The version (or image) each node runs at setup, for the mixed-version record of upgrades.
    pub fn versions(&self, scenario: &Scenario) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (system, spec, _) in systems(scenario) {
            let version = match (&spec.image, &spec.version) {
                (Some(image), _) => image.clone(),
                (None, Some(version)) => version.clone(),
                (None, None) => system.default_version().to_string(),
            };
            for name in self.names(system) {
                out.insert(name, version.clone());
            }
        }
        out
    }

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

/// The image a system runs: the scenario's `image` as is (a contract image built on first
/// use), or a local build of its version.
pub async fn image_for(
    docker: &Docker,
    system: SystemKind,
    spec: &SystemSpec,
    progress: &MultiProgress,
) -> anyhow::Result<String> {
    if let Some(image) = &spec.image {
        return image_named(docker, system, image, progress).await;
    }
    let version = spec.version.as_deref().unwrap_or(system.default_version());
    crate::image::ensure(docker, system.name(), version, progress)
        .await
        .with_context(|| format!("building the {system} {version} image"))
}

/// An image a scenario names for `system`: a contract image, built on first use, or one the
/// engine has.
async fn image_named(
    docker: &Docker,
    system: SystemKind,
    image: &str,
    progress: &MultiProgress,
) -> anyhow::Result<String> {
    if let Some(contract) = crate::image::contract::named(image) {
        return crate::image::contract::ensure(docker, contract, progress).await;
    }
    docker.inspect_image(image).await.with_context(|| {
        format!(
            "the scenario names image `{image}` for {system}, but the Docker engine does not \
             have it; `docker pull {image}` it, or use `version` for a local build"
        )
    })?;
    Ok(image.to_owned())
}

/// Makes every node's clock movable from outside it, after checking that libfaketime works
/// in each image a node will run: a scenario that could not skew a clock fails here, before
/// anything starts, not with an unknown verdict at the fault.
async fn enable_clock(
    backend: &mut impl Backend,
    cluster: &Cluster,
    nemesis: &str,
) -> anyhow::Result<()> {
    backend
        .enable_clock(nemesis)
        .await
        .context("making the clock volume for the clock-skew faults")?;
    let mut checked = std::collections::BTreeSet::new();
    for (what, image) in &cluster.images {
        if what == "nemesis" || !checked.insert(image.clone()) {
            continue;
        }
        crate::nemesis::effects::check_clock_image(&*backend, image)
            .await
            .with_context(|| format!("checking that clock skew works on {what}'s image"))?;
    }
    Ok(())
}

/// What the nodes must be made ready for before they start: network faults (the nemesis
/// helper image and, for latency without netem and the toxics, chaosbed-proxy) and clock faults
/// (libfaketime preloaded into every node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultTools {
    pub network: bool,
    pub proxy: bool,
    pub clock: bool,
}

impl FaultTools {
    /// What `scenario`'s faults need.
    pub fn of(scenario: &Scenario) -> Self {
        Self {
            network: scenario.has_network_faults(),
            proxy: scenario.needs_proxy(),
            clock: scenario.has_clock_faults(),
        }
    }
}

/// Creates the network, then the systems wave by wave: a wave holds the systems whose
/// dependencies serve already; its systems are prepared (init job, containers) one after the
/// other, then started together, and the next wave waits until they all serve. Returns a line
/// per system saying how long it took.
pub async fn create(
    scenario: &Scenario,
    docker: &Docker,
    backend: &mut impl Backend,
    cluster: &mut Cluster,
    tools: FaultTools,
    timeout: std::time::Duration,
    progress: &MultiProgress,
) -> anyhow::Result<Vec<String>> {
    for (system, spec, _) in systems(scenario) {
        let image = image_for(docker, system, spec, progress).await?;
        cluster.images.insert(system.name().to_string(), image);
    }
    // Every upgrade step's image too, before anything starts: a roll must not wait for a build.
    for fault in &scenario.faults {
        if *fault.kind.get_ref() != crate::scenario::FaultKind::Upgrade {
            continue;
        }
        let system = fault.system(scenario.workload.system());
        let params = fault.params();
        let Some(version) = params.upgrade_to().map(str::to_owned) else {
            continue;
        };
        let image = match &params.image {
            Some(image) => image_named(docker, system, image, progress).await?,
            None => crate::image::ensure(docker, system.name(), &version, progress)
                .await
                .with_context(|| format!("building the {system} {version} image to upgrade to"))?,
        };
        cluster
            .images
            .insert(format!("{system}@{version} (upgrade)"), image.clone());
        cluster.upgrade_images.insert((system, version), image);
    }
    // Network faults run from a helper in each target's network namespace; clock faults take
    // libfaketime from the same image.
    let nemesis = if tools.network || tools.clock {
        let image = crate::image::ensure_tool(docker, "nemesis", progress)
            .await
            .context("building chaosbed's nemesis helper image for the network and clock faults")?;
        cluster.images.insert("nemesis".to_string(), image.clone());
        Some(image)
    } else {
        None
    };
    if let Some(image) = nemesis.as_deref().filter(|_| tools.network) {
        let proxy = if tools.proxy {
            Some(crate::backend::proxy_binary::locate()?)
        } else {
            None
        };
        backend.use_nemesis_image(image, proxy.as_deref());
    }
    backend.create_network().await?;
    if let Some(image) = nemesis.as_deref().filter(|_| tools.clock) {
        enable_clock(backend, cluster, image).await?;
    }
    let wiring = super::systems::Wiring {
        systems: crate::system::Wiring::for_scenario(scenario),
    };
    let declared = systems(scenario);
    let kinds: Vec<SystemKind> = declared.iter().map(|(kind, _, _)| *kind).collect();
    let mut lines = Vec::new();
    for wave in crate::system::start_waves(&kinds) {
        let mut prepared = Vec::new();
        for system in &wave {
            let (_, spec, _) = declared
                .iter()
                .find(|(kind, _, _)| kind == system)
                .expect("a wave holds declared systems");
            let image = cluster.images[system.name()].clone();
            let what = super::systems::SystemStart {
                system: *system,
                spec,
                image: &image,
                wiring: &wiring,
            };
            let to_start = super::systems::prepare(what, backend, cluster).await?;
            prepared.push((*system, to_start));
        }
        let shared = &*backend;
        let snapshot = &*cluster;
        let started =
            futures_util::future::try_join_all(prepared.iter().map(|(system, to_start)| {
                super::systems::start(*system, to_start, shared, snapshot, timeout)
            }))
            .await?;
        lines.extend(started);
        cluster.ready.extend(wave);
    }
    Ok(lines)
}

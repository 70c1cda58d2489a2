//! chaosbed from a user's own Rust tests: stand up a scenario's cluster (from a file, scenario
//! text or a builder), read its endpoints, apply and heal faults from code, record the test's own
//! operations into a history and judge it with chaosbed's checkers. Every container, network and
//! volume of the cluster goes on [`TestCluster::stop`], and when the cluster is dropped without
//! it, whatever way the test ended (a failed assertion's panic included).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use chaosbed::api::TestCluster;
//! use chaosbed::scenario::Target;
//! use chaosbed::system::zookeeper;
//!
//! let mut cluster = TestCluster::builder("my-test")
//!     .system(zookeeper::KIND, 3)
//!     .start()
//!     .await?;
//! let connect = cluster.env("CHAOSBED_ZOOKEEPER").unwrap_or_default();
//! // ... run your client against `connect`, recording into cluster.recorder() ...
//! let fault = cluster.kill(Target::Leader).await?;
//! cluster.heal(fault).await;
//! let results = cluster.check("[[check]]\nkind = \"quorum\"\n")?;
//! cluster.stop().await?;
//! # Ok(()) }
//! ```

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bollard::Docker;
use indicatif::MultiProgress;
use serde_spanned::Spanned;

use crate::backend::docker::DockerBackend;
use crate::backend::{Backend as _, RunId};
use crate::checker::CheckResult;
use crate::history::{F, History, OpKind, Recorder};
use crate::nemesis::{Action, Event, Nemesis, Observed};
use crate::runner::{Cluster, FaultTools};
use crate::scenario::{Check, FaultKind, FaultParams, Scenario, SystemKind, Target, WorkloadKind};

/// How long the systems may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// A fault applied from code, to heal by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(usize);

/// A running cluster of a test.
pub struct TestCluster {
    scenario: Scenario,
    docker: Docker,
    backend: DockerBackend,
    cluster: Cluster,
    recorder: Recorder,
    nemesis: Nemesis,
    env: Vec<(String, String)>,
    /// The faults applied from code, by id: what healing one needs again.
    faults: Vec<Event>,
    started: tokio::time::Instant,
    monitor: Option<tokio::task::JoinHandle<()>>,
    stopped: bool,
}

impl TestCluster {
    /// A cluster built from systems and node counts, with chaosbed's default versions.
    pub fn builder(name: &str) -> ClusterBuilder {
        ClusterBuilder {
            name: name.to_owned(),
            systems: Vec::new(),
            tools: FaultTools {
                network: true,
                proxy: false,
                clock: false,
            },
        }
    }

    /// The topology of the scenario file at `path` (its workload, faults and checks are not
    /// run: the test brings its own), ready for network faults.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let scenario = crate::scenario::load(path.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut tools = FaultTools::of(&scenario);
        tools.network = true;
        Self::start(scenario, tools).await
    }

    /// Stands up `scenario`'s topology, ready for the faults `tools` names.
    pub async fn start(scenario: Scenario, tools: FaultTools) -> Result<Self> {
        let docker = crate::provision::engine().await?;
        let progress = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let mut backend = DockerBackend::new(docker.clone(), RunId::new(&scenario.name));
        let stood = crate::runner::stand_up(
            &scenario,
            &docker,
            &mut backend,
            tools,
            READY_TIMEOUT,
            &progress,
        )
        .await;
        let cluster = match stood {
            Ok((cluster, _)) => cluster,
            Err(e) => {
                // Nothing of a cluster that failed to stand up is left behind.
                let _ = backend.cleanup().await;
                return Err(e.context(format!("standing up the cluster of {}", scenario.name)));
            }
        };
        let recorder = Recorder::new();
        let names: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
        let nemesis = Nemesis::new(
            names,
            cluster.not_started.clone(),
            recorder.clone(),
            scenario.seed,
        )
        .with_info(cluster.node_info());
        let nodes: Vec<_> = cluster
            .nodes
            .iter()
            .map(|n| (n.system, n.name.clone(), n.address))
            .collect();
        let env = crate::system::client_env(&nodes);
        // The quorum check reads ZooKeeper's roles as the runner samples them.
        let ensemble = cluster.of(crate::system::zookeeper::KIND);
        let monitor = (!ensemble.is_empty()).then(|| {
            tokio::spawn(crate::system::zookeeper::sample_roles(
                ensemble,
                recorder.clone(),
            ))
        });
        Ok(Self {
            scenario,
            docker,
            backend,
            cluster,
            recorder,
            nemesis,
            env,
            faults: Vec::new(),
            started: tokio::time::Instant::now(),
            monitor,
            stopped: false,
        })
    }

    /// The `CHAOSBED_*` variables a `container` workload's client gets (`CHAOSBED_ZOOKEEPER`,
    /// `CHAOSBED_PULSAR_URL`, ...), with their values.
    pub fn endpoints(&self) -> &[(String, String)] {
        &self.env
    }

    /// One of [`Self::endpoints`].
    pub fn env(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    /// The run id every container, network and volume of the cluster is labelled with
    /// (`chaosbed.run=<id>`).
    pub fn run_id(&self) -> String {
        self.backend.run_id().as_str().to_owned()
    }

    /// The nodes of `system`: name and address on the run's network (reachable from the host).
    pub fn nodes(&self, system: SystemKind) -> Vec<(String, Ipv4Addr)> {
        self.cluster.of(system)
    }

    /// Where the test records its own operations; the checks read it.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The history so far.
    pub fn history(&self) -> History {
        self.recorder.snapshot()
    }

    /// Kills the `target` nodes (SIGKILL); healing starts them again.
    pub async fn kill(&mut self, target: Target) -> Result<FaultId> {
        self.fault(FaultKind::Kill, target, FaultParams::default())
            .await
    }

    /// Pauses the `target` nodes (the cgroup freezer); healing resumes them.
    pub async fn pause(&mut self, target: Target) -> Result<FaultId> {
        self.fault(FaultKind::Pause, target, FaultParams::default())
            .await
    }

    /// Cuts the `target` nodes off from the rest of their system, both ways.
    pub async fn partition(&mut self, target: Target) -> Result<FaultId> {
        self.fault(FaultKind::Partition, target, FaultParams::default())
            .await
    }

    /// Applies a fault of `kind` to `target` in the system of the scenario's workload (or the
    /// node's own, for a node named by name), as a `[[fault]]` of that kind would.
    pub async fn fault(
        &mut self,
        kind: FaultKind,
        target: Target,
        params: FaultParams,
    ) -> Result<FaultId> {
        let system = self.system_of(&target);
        let id = FaultId(self.faults.len());
        let event = Event {
            at: self.started.elapsed(),
            action: Action::Apply,
            fault: id.0,
            kind,
            target,
            system,
            params,
        };
        let before = self.recorder.snapshot().ops.len();
        let observed = self.observe(&event).await;
        self.nemesis
            .run_event(&self.backend, &event, &observed)
            .await;
        self.faults.push(event.clone());
        let history = self.recorder.snapshot();
        let failed = history.ops[before..]
            .iter()
            .find(|op| op.f == F::Fault && op.kind == OpKind::Fail);
        if let Some(op) = failed {
            bail!(
                "the {kind} fault on {} was not applied: {}",
                event.target,
                op.error.as_deref().unwrap_or("no reason given")
            );
        }
        Ok(id)
    }

    /// Heals one fault applied from code.
    pub async fn heal(&mut self, fault: FaultId) {
        let Some(applied) = self.faults.get(fault.0) else {
            return;
        };
        let event = Event {
            at: self.started.elapsed(),
            action: Action::Heal,
            ..applied.clone()
        };
        self.nemesis
            .run_event(&self.backend, &event, &Observed::default())
            .await;
    }

    /// Heals every fault still active.
    pub async fn heal_all(&mut self) {
        self.nemesis.heal_all(&self.backend).await;
    }

    /// Waits until every system is ready again (after healing), or `timeout` passes.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for (kind, _, _) in crate::scenario::systems(&self.scenario) {
            let names = self.cluster.names(kind);
            lines.push(
                crate::runner::ready_unless_exit(
                    kind,
                    &names,
                    &self.backend,
                    &self.cluster,
                    timeout,
                )
                .await?,
            );
        }
        Ok(lines)
    }

    /// Judges the history with the checks of `checks`, one or more `[[check]]` tables as a
    /// scenario file writes them (`[[check]]\nkind = "no-lost-writes"`).
    pub fn check(&self, checks: &str) -> Result<Vec<CheckResult>> {
        #[derive(serde::Deserialize)]
        struct Checks {
            check: Vec<Spanned<Check>>,
        }
        let parsed: Checks =
            toml::from_str(checks).with_context(|| format!("reading the checks {checks:?}"))?;
        let mut scenario = self.scenario.clone();
        scenario.checks = parsed.check;
        scenario.faults.clear();
        let mut results = crate::runner::judge(&scenario, &self.cluster, &self.recorder);
        if !self.faults.is_empty() {
            results.push(crate::checker::faults_applied::check(
                &self.recorder.snapshot(),
            ));
        }
        Ok(results)
    }

    /// Heals what is still faulted and removes every container, network and volume.
    pub async fn stop(mut self) -> Result<()> {
        self.heal_all().await;
        self.stopped = true;
        if let Some(monitor) = self.monitor.take() {
            monitor.abort();
        }
        self.backend
            .cleanup()
            .await
            .map(|_| ())
            .context("removing the test cluster's containers")
    }

    /// The system a fault on `target` acts in: a named node's own, else the workload's.
    fn system_of(&self, target: &Target) -> SystemKind {
        if let Target::Node(name) = target
            && let Some(node) = self.cluster.nodes.iter().find(|n| &n.name == name)
        {
            return node.system;
        }
        self.scenario.workload.system()
    }

    /// What role targets need: ZooKeeper's roles right now.
    async fn observe(&self, event: &Event) -> Observed {
        let mut observed = Observed::default();
        if matches!(
            event.target,
            Target::Leader | Target::Follower | Target::Followers
        ) {
            observed.roles = crate::system::zookeeper::roles(
                &self.cluster.of(crate::system::zookeeper::KIND),
                Duration::from_secs(1),
            )
            .await;
        }
        observed
    }
}

impl Drop for TestCluster {
    /// A test that ended without `stop` (an error, a failed assertion) still leaves nothing:
    /// the run's containers, networks and volumes are removed here, on a thread of its own.
    fn drop(&mut self) {
        if let Some(monitor) = self.monitor.take() {
            monitor.abort();
        }
        if self.stopped {
            return;
        }
        let docker = self.docker.clone();
        let run = self.backend.run_id().as_str().to_owned();
        let removal = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(crate::backend::docker::remove_run(&docker, Some(&run)))?;
            anyhow::Ok(())
        });
        if let Ok(Err(e)) = removal.join() {
            eprintln!("chaosbed: removing the test cluster failed: {e:#}; run `cargo xtask clean`");
        }
    }
}

/// A cluster described in code: systems with their node counts and versions.
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    name: String,
    systems: Vec<(SystemKind, u32, Option<String>)>,
    tools: FaultTools,
}

impl ClusterBuilder {
    /// `nodes` nodes of `system` (the systems it depends on must be added too: ZooKeeper for
    /// bookies, bookies for brokers).
    pub fn system(mut self, system: SystemKind, nodes: u32) -> Self {
        self.systems.push((system, nodes, None));
        self
    }

    /// The version of a system added before (chaosbed's own, or any release by number).
    pub fn version(mut self, system: SystemKind, version: &str) -> Self {
        if let Some(entry) = self.systems.iter_mut().find(|(s, _, _)| *s == system) {
            entry.2 = Some(version.to_owned());
        }
        self
    }

    /// Make the nodes' clocks movable (clock-skew faults): libfaketime preloaded into each.
    pub fn clock_faults(mut self) -> Self {
        self.tools.clock = true;
        self
    }

    /// The scenario this builder describes: its topology, and a workload and check of the
    /// systems' own that only validation needs (a test runs its own).
    pub fn scenario(&self) -> Result<Scenario> {
        let mut text = format!("name = {:?}\ntier = \"full\"\n", self.name);
        for (system, nodes, version) in &self.systems {
            text.push_str(&format!(
                "\n[topology.{}]\nnodes = {nodes}\n",
                system.name()
            ));
            if let Some(version) = version {
                text.push_str(&format!("version = {version:?}\n"));
            }
        }
        let declared: Vec<SystemKind> = self.systems.iter().map(|(s, _, _)| *s).collect();
        let workload = [
            WorkloadKind::PulsarProduceConsume,
            WorkloadKind::SkywalkingTraces,
            WorkloadKind::PinpointRequests,
            WorkloadKind::ZkRegister,
        ]
        .into_iter()
        .find(|w| w.system().is_some_and(|s| declared.contains(&s)))
        .context("the cluster has no system chaosbed can drive: add at least ZooKeeper")?;
        text.push_str(&format!(
            "\n[workload]\nkind = \"{}\"\nduration = \"1s\"\n\n[[check]]\nkind = \"availability\"\n",
            workload.name()
        ));
        crate::scenario::parse(&format!("builder {}", self.name), &text)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Stands the cluster up.
    pub async fn start(self) -> Result<TestCluster> {
        let scenario = self.scenario()?;
        TestCluster::start(scenario, self.tools).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builder_makes_a_valid_scenario_of_its_systems() {
        let scenario = TestCluster::builder("api-test")
            .system(crate::system::zookeeper::KIND, 3)
            .version(crate::system::zookeeper::KIND, "3.9")
            .scenario()
            .unwrap();
        let zk = scenario
            .topology
            .spec(crate::system::zookeeper::KIND)
            .unwrap();
        assert_eq!(zk.node_count(), 3);
        assert_eq!(zk.version.as_deref(), Some("3.9"));
        assert_eq!(scenario.workload.system(), crate::system::zookeeper::KIND);
        let pulsar = TestCluster::builder("p")
            .system(crate::system::zookeeper::KIND, 3)
            .system(crate::system::bookkeeper::KIND, 3)
            .system(crate::system::pulsar::KIND, 2)
            .scenario()
            .unwrap();
        assert_eq!(pulsar.workload.system(), crate::system::pulsar::KIND);
        let err = TestCluster::builder("bad")
            .system(crate::system::pulsar::KIND, 2)
            .scenario()
            .unwrap_err();
        assert!(format!("{err:#}").contains("bookkeeper"), "{err:#}");
    }
}

//! The system protocol: everything chaosbed must know of a system under test, as one trait with
//! optional capabilities (Jepsen's `db` with its `Primary`, `Kill`, `LogFiles`, ...). Each
//! system implements it in its own folder under `src/system/` and is listed once in
//! `registry::SYSTEMS`; nothing outside its folder matches on which system it is.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::config_keys::KnownKey;
use super::{Node, SystemKind, Wiring};
use crate::backend::ContainerSpec;
use crate::history::Recorder;
use crate::scenario::SystemSpec;

/// What a system is, how it is deployed and watched, and how its failures read.
pub trait System: Send + Sync + 'static {
    // --- Identity and contract ---------------------------------------------------------------

    /// The name scenarios use: a `[topology.<name>]` table, `system = "<name>"`.
    fn name(&self) -> &'static str;

    /// Prefix of its node names: `zk` gives `zk-1`, `zk-2`, ...
    fn node_prefix(&self) -> &'static str;

    /// The version a scenario gets when it names none.
    fn default_version(&self) -> &'static str;

    /// Systems that must serve before this one's init job runs and its nodes start.
    fn needs(&self) -> &'static [SystemKind] {
        &[]
    }

    /// Systems of which the topology must declare at least one, started before this one (the
    /// OAP's storage: PostgreSQL or OpenSearch).
    fn needs_one_of(&self) -> &'static [SystemKind] {
        &[]
    }

    /// The images chaosbed builds for it beyond the catalogue's own (its folder's fixtures).
    fn images(&self) -> &'static [crate::image::ImageSpec] {
        &[]
    }

    /// Config keys whose values chaosbed checks (types, bounds, what they break).
    fn config_keys(&self) -> &'static [KnownKey] {
        &[]
    }

    /// The port other systems dial it on: what it exports to them as a connect string
    /// (`zk-1:2181,zk-2:2181`, see `Wiring::connect`).
    fn client_port(&self) -> Option<u16> {
        None
    }

    /// The most one node writes to the engine's disk in a run (data volume, container log,
    /// writable layer), rounded up: the run's free-disk check adds these up.
    fn disk_per_node(&self) -> u64;

    // --- Deployment --------------------------------------------------------------------------

    /// The one-shot job run before its nodes start (metadata format, schema), if it has one.
    fn init_spec(&self, _deploy: &Deploy) -> Option<ContainerSpec> {
        None
    }

    /// The container of node `index` (1-based) at `address`.
    fn container_spec(&self, deploy: &Deploy, index: u32, address: Ipv4Addr) -> ContainerSpec;

    /// Waits until the started nodes serve; says what was seen, when worth saying (the runner
    /// times it).
    fn wait_ready<'a>(
        &'a self,
        ready: Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>>;

    // --- Optional capabilities ---------------------------------------------------------------

    /// A probe sampling the nodes' roles or membership into the history through the run.
    fn monitor(&self, _nodes: Vec<(String, Ipv4Addr)>, _recorder: Recorder) -> Option<Probe> {
        None
    }

    /// Whether chaosbed knows when a node restarted by an upgrade step is back in its cluster.
    fn rejoins(&self) -> bool {
        false
    }

    /// Whether a node restarted by an upgrade step is back in its cluster: what its own probe
    /// saw as evidence, or why not yet.
    fn rejoined<'a>(
        &'a self,
        rejoining: Rejoining<'a>,
    ) -> BoxFuture<'a, Result<serde_json::Value, String>> {
        let why = format!("no rejoin condition for {}'s system", rejoining.node);
        Box::pin(async move { Err(why) })
    }

    /// Whether an upgrade step runs the new version's init job before it rolls the first node
    /// (a storage schema the new version changes).
    fn init_on_upgrade(&self) -> bool {
        false
    }

    /// Environment a client container gets to reach it (`CHAOSBED_ZOOKEEPER=...`), from its
    /// nodes' addresses.
    fn client_env(&self, _addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    // --- Diagnosis ---------------------------------------------------------------------------

    /// How its JVM memory is set, for OOM and pause explanations.
    fn memory(&self) -> Memory {
        Memory::NONE
    }

    /// A node's JVM memory flags as configured, else its image's default where chaosbed knows it.
    fn heap_flags(&self, container: Option<&ContainerSpec>) -> Option<String> {
        let memory = self.memory();
        container
            .and_then(|c| memory.variables.iter().find_map(|var| c.env_var(var)))
            .or(memory.image_default)
            .map(str::to_string)
    }

    /// Whether its nodes hold ZooKeeper sessions (whose expiry explains their trouble).
    fn zookeeper_client(&self) -> bool {
        true
    }

    /// Where it is told which ZooKeeper to use, when that is not obvious (`, and that ...`).
    fn zookeeper_setting(&self) -> &'static str {
        ""
    }

    /// Its storage as explanations name it, the log lines saying it could not be reached, and
    /// what to check.
    fn storage_unreachable<'l>(&self, _log: &'l str) -> Option<Unreachable<'l>> {
        None
    }

    /// Data it refuses to start on, read from its log.
    fn refused_data<'l>(&self, _log: &'l str) -> Option<crate::diagnose::DataProblem<'l>> {
        None
    }

    /// Trouble a running node's log shows although the node is up: an index turned read-only, a
    /// cluster gone red.
    fn running_trouble<'l>(&self, _log: &'l str) -> Option<Trouble<'l>> {
        None
    }

    /// Whether its log can say that tables it needs are missing from its storage.
    fn needs_tables(&self) -> bool {
        false
    }
}

/// A background probe future.
pub type Probe = BoxFuture<'static, ()>;

/// What the system's deployment reads: the scenario's table for it, the image, and the rest of
/// the topology.
pub struct Deploy<'a> {
    pub spec: &'a SystemSpec,
    pub image: &'a str,
    /// How many nodes the system has.
    pub count: u32,
    pub wiring: &'a Wiring,
    /// The addresses its nodes will have, in node order.
    pub addresses: &'a [Ipv4Addr],
}

/// What a readiness wait sees: the system's nodes, which of them were started, every node of
/// the run (to reach the systems it depends on), and how long it may take.
pub struct Readiness<'a> {
    pub nodes: Vec<(String, Ipv4Addr)>,
    pub started: &'a [String],
    pub run: &'a [Node],
    pub timeout: Duration,
}

impl Readiness<'_> {
    /// The started nodes with their addresses.
    pub fn started_nodes(&self) -> Vec<(String, Ipv4Addr)> {
        self.nodes
            .iter()
            .filter(|(n, _)| self.started.iter().any(|s| s == n))
            .cloned()
            .collect()
    }

    /// Addresses of another system's nodes in this run.
    pub fn addresses_of(&self, system: SystemKind) -> Vec<Ipv4Addr> {
        addresses_in(self.run, system)
    }
}

/// What a rejoin probe sees: the system's nodes, the node that rolled, every node of the run (to
/// reach the systems it registers in), and the workload's topic for systems judged by it.
#[derive(Clone, Copy)]
pub struct Rejoining<'a> {
    pub nodes: &'a [(String, Ipv4Addr)],
    pub node: &'a str,
    pub run: &'a [Node],
    pub topic: Option<&'a str>,
    /// When the node was taken down for its upgrade (unix ms): a registration older than this
    /// is its old process's, whose session has not expired yet.
    pub since_ms: u64,
}

impl Rejoining<'_> {
    /// Addresses of another system's nodes in this run.
    pub fn addresses_of(&self, system: SystemKind) -> Vec<Ipv4Addr> {
        addresses_in(self.run, system)
    }
}

/// Addresses of `system`'s nodes among a run's.
fn addresses_in(run: &[Node], system: SystemKind) -> Vec<Ipv4Addr> {
    run.iter()
        .filter(|n| n.system == system)
        .map(|n| n.address)
        .collect()
}

/// How a system's JVM memory is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// The variables carrying its JVM memory flags, first wins.
    pub variables: &'static [&'static str],
    /// What an explanation tells the reader to raise.
    pub advice: &'static str,
    /// The image's flags when no variable is set, where chaosbed knows them.
    pub image_default: Option<&'static str>,
}

impl Memory {
    pub const NONE: Memory = Memory {
        variables: &[],
        advice: "its memory settings",
        image_default: None,
    };

    /// Memory set through `variable` (also what to raise), with the image's default flags.
    pub const fn flags(
        variable: &'static [&'static str],
        image_default: Option<&'static str>,
    ) -> Self {
        Memory {
            variables: variable,
            advice: variable[0],
            image_default,
        }
    }
}

/// What a running node's log shows went wrong.
pub struct Trouble<'l> {
    pub cause: crate::diagnose::Cause,
    /// What happened and what to do, without the node's name (the diagnosis puts it first).
    pub explanation: String,
    pub lines: Vec<&'l str>,
}

/// A storage a node could not reach, as its log says it.
pub struct Unreachable<'l> {
    /// The storage as explanations name it: `PostgreSQL`.
    pub storage: &'static str,
    pub lines: Vec<&'l str>,
    /// What to check.
    pub advice: &'static str,
}

//! The typed form of a scenario file. Pure data: parsing is in `parse`, checks in `validate`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use super::fault::FaultSpec;
use super::units::{ByteSize, Dur};

/// One scenario: a topology, a workload, faults on a schedule, and the checks that judge the run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `smoke` runs in `cargo test`; `full` only under `cargo xtask chaos`.
    pub tier: Tier,
    /// Seeds every random choice (target picks, client jitter) so a run can be replayed.
    #[serde(default)]
    pub seed: u64,
    pub topology: Topology,
    pub workload: WorkloadSpec,
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultSpec>,
    #[serde(default, rename = "check")]
    pub checks: Vec<Spanned<Check>>,
    /// Limits for `cargo xtask chaos --random`, which replaces `faults` with drawn schedules.
    #[serde(default)]
    pub random: Option<Spanned<super::random::RandomSpec>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Smoke,
    Full,
}

impl Scenario {
    /// Whether a fault changes a node's network (iptables, tc from the nemesis helper).
    pub fn has_network_faults(&self) -> bool {
        self.faults.iter().any(|f| f.kind.get_ref().is_network())
    }

    /// Whether a fault may run chaosbed-proxy in a nemesis helper: latency (where the kernel
    /// has no netem) and the toxics.
    pub fn needs_proxy(&self) -> bool {
        self.faults.iter().any(|f| {
            let kind = *f.kind.get_ref();
            kind == super::FaultKind::Latency || kind.is_toxic()
        })
    }

    /// Whether a fault moves a node's clock (libfaketime preloaded from the clock volume).
    pub fn has_clock_faults(&self) -> bool {
        self.faults
            .iter()
            .any(|f| *f.kind.get_ref() == super::FaultKind::ClockSkew)
    }
}

/// The systems a scenario stands up, one `[topology.<system>]` table each.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Topology {
    systems: BTreeMap<SystemKind, Spanned<SystemSpec>>,
}

impl Topology {
    /// The table of `system`, with its span in the scenario file.
    pub fn get(&self, system: SystemKind) -> Option<&Spanned<SystemSpec>> {
        self.systems.get(&system)
    }

    /// How `system` is deployed, if the topology has it.
    pub fn spec(&self, system: SystemKind) -> Option<&SystemSpec> {
        self.get(system).map(Spanned::get_ref)
    }

    pub fn has(&self, system: SystemKind) -> bool {
        self.systems.contains_key(&system)
    }

    pub fn spec_mut(&mut self, system: SystemKind) -> Option<&mut SystemSpec> {
        self.systems.get_mut(&system).map(Spanned::get_mut)
    }

    /// Declares `system` (replacing its table) as code builds a scenario.
    pub fn set(&mut self, system: SystemKind, spec: SystemSpec) {
        self.systems.insert(system, Spanned::new(0..0, spec));
    }

    /// The declared systems in start order.
    pub fn systems(&self) -> impl Iterator<Item = (SystemKind, &SystemSpec)> {
        self.systems.iter().map(|(k, s)| (*k, s.get_ref()))
    }

    /// The declared systems in start order, with the spans of their tables.
    pub fn spanned(&self) -> impl Iterator<Item = (SystemKind, &Spanned<SystemSpec>)> {
        self.systems.iter().map(|(k, s)| (*k, s))
    }
}

pub use crate::system::SystemKind;

/// How one system is deployed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    /// Number of nodes (default 3).
    #[serde(default = "default_nodes")]
    pub nodes: Spanned<u32>,
    /// How many nodes start at setup (default: all). The rest are created stopped and can be
    /// started by a `start` fault.
    pub start: Option<Spanned<u32>>,
    /// A locally built version (`3.8`, `3.9`), see `cargo xtask images`.
    pub version: Option<String>,
    /// An image reference used as is instead of a local build, e.g. the official `zookeeper:3.9`.
    pub image: Option<String>,
    /// Memory limit per node, e.g. `1GiB`.
    pub memory: Option<ByteSize>,
    /// Size of each node's data volume, e.g. `256MiB` (a tmpfs of that size, so a disk-full
    /// fault can fill it; its data does not survive a restart of the container).
    pub disk: Option<ByteSize>,
    /// JVM heap flags passed through the image's own variable (JVMFLAGS for ZooKeeper).
    pub heap: Option<String>,
    /// Configuration overrides by the system's own key names, e.g. `tickTime = 100`.
    #[serde(default)]
    pub config: BTreeMap<String, Spanned<toml::Value>>,
    /// Extra environment variables for every node, set last (they override chaosbed's own),
    /// e.g. `PULSAR_EXTRA_OPTS`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Single nodes configured unlike the others, by name: `[topology.zookeeper.node.zk-3]`
    /// with an `env` of its own, set after the system's (a node with a server list of its own,
    /// as an operator who copied the wrong file would leave it).
    #[serde(default)]
    pub node: BTreeMap<String, NodeSpec>,
}

/// What one node of a system sets beyond the system's own settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Environment variables for this node only, set last.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// How the ledgers of a namespace's topics are replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Persistence {
    /// Bookies each ledger is spread over.
    pub ensemble: u32,
    /// Bookies each entry is written to.
    pub write_quorum: u32,
    /// Bookies that must have an entry before it is acknowledged.
    pub ack_quorum: u32,
}

fn default_nodes() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}

impl SystemSpec {
    pub fn node_count(&self) -> u32 {
        *self.nodes.get_ref()
    }

    pub fn started_count(&self) -> u32 {
        self.start
            .as_ref()
            .map(|s| *s.get_ref())
            .unwrap_or(self.node_count())
    }
}

/// The client workload that runs while faults are injected.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub kind: WorkloadKind,
    /// Concurrent client sessions (default 3).
    #[serde(default = "default_clients")]
    pub clients: u32,
    /// Total operations per second across clients (default 20).
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// How long the workload runs; every fault must start and heal within it.
    pub duration: Spanned<Dur>,
    /// Ends the workload this long after the nemesis finished its schedule (the last heal, the
    /// last roll's last node rejoined), when that comes before `duration`: the time after it
    /// is long enough to see the cluster recover, and the rest would only repeat it. Must be at
    /// least every check's own bound after the heal (recovery `within`, trace-queries
    /// `recover_within`). Default: the workload runs its whole `duration`.
    #[serde(default)]
    pub after_faults: Option<Spanned<Dur>>,
    /// Session timeout each client asks for (the server may negotiate it down).
    pub session_timeout: Option<Dur>,
    /// Fraction of operations that are reads (default 0.5; zk-register and zk-cas-register).
    #[serde(default = "default_read_ratio")]
    pub read_ratio: f64,
    /// Pulsar: the topic, e.g. `persistent://public/default/chaos` (the default).
    pub topic: Option<String>,
    /// Pulsar: partitions of the topic (0: not partitioned).
    #[serde(default)]
    pub partitions: u32,
    /// Pulsar: the subscription type consumers use.
    #[serde(default)]
    pub subscription: SubscriptionKind,
    /// Pulsar: consumers on the subscription (default 1).
    #[serde(default = "default_consumers")]
    pub consumers: u32,
    /// Pulsar: payload size in bytes (default 100).
    #[serde(default = "default_message_size")]
    pub message_size: usize,
    /// Pulsar: keep a second subscription untouched through the run and, after the drain, read
    /// the whole topic back from it (from the earliest message), so that the delivery check also
    /// proves every acknowledged message is still readable at the end (default false).
    #[serde(default)]
    pub read_back: bool,
    /// Pulsar: the persistence policy of the topic's namespace, set before the first client
    /// connects (as `pulsar-admin namespaces set-persistence` does): the ledgers of the
    /// workload's topic only, while the brokers' own topics keep the brokers' defaults.
    pub persistence: Option<Persistence>,
    /// zk-cas-register: how many registers (znodes) the clients share (default 3).
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// zk-cas-register: `plain` reads (served by the session's own server, possibly stale) or
    /// `sync` (a `sync` before each read, so it sees every write committed before it).
    #[serde(default)]
    pub read: ReadMode,
    /// zk-cas-register: how many clients only read (the last ones; clients are bound to the
    /// servers in turn, so with `clients` a multiple of the servers, `readers = servers` puts
    /// one reader on each). A session's operations run in order, so a write stuck on a server
    /// cut off from the leader holds back that session's later reads; a reader's never are.
    #[serde(default)]
    pub readers: u32,
    /// container: the system the client drives, whose nodes the generic checks judge
    /// (`zookeeper`, `pulsar`, ...).
    pub system: Option<Spanned<SystemKind>>,
    /// container: an image the engine has, run as the client.
    pub image: Option<Spanned<String>>,
    /// container: a build context (a directory with a Dockerfile, relative to the scenario
    /// file) chaosbed builds into the client's image; a `pom.xml` or `requirements.txt` in it is
    /// resolved on the host first, into `lib/` or `wheels/`.
    pub build: Option<Spanned<String>>,
    /// container: the command, overriding the image's.
    pub command: Option<Vec<String>>,
    /// container: more environment for the client, besides chaosbed's `CHAOSBED_*`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl WorkloadSpec {
    /// The system the workload drives: its kind's, or a container's `system`.
    pub fn system(&self) -> SystemKind {
        match (self.kind.system(), &self.system) {
            (Some(system), _) => system,
            (None, Some(system)) => *system.get_ref(),
            // Validation refuses a container workload without `system`.
            (None, None) => crate::system::zookeeper::KIND,
        }
    }
}

/// How the compare-and-set register workload reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    #[default]
    Plain,
    Sync,
}

fn default_keys() -> u32 {
    3
}

fn default_consumers() -> u32 {
    1
}
fn default_message_size() -> usize {
    100
}

/// Pulsar subscription types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubscriptionKind {
    #[default]
    Exclusive,
    Shared,
    Failover,
    KeyShared,
}

impl SubscriptionKind {
    /// Whether a producer's messages reach consumers in order.
    pub fn keeps_order(self) -> bool {
        matches!(
            self,
            SubscriptionKind::Exclusive | SubscriptionKind::Failover
        )
    }
}

fn default_clients() -> u32 {
    3
}
fn default_rate() -> f64 {
    20.0
}
fn default_read_ratio() -> f64 {
    0.5
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Sessions that create unique znodes and read them back.
    ZkRegister,
    /// Sessions bound one to a node doing reads, writes and compare-and-sets on a few znodes,
    /// for the linearizability checker.
    ZkCasRegister,
    /// Producers with unique ids and per-producer sequence numbers, consumers on a subscription.
    PulsarProduceConsume,
    /// Trace emitters on the SkyWalking agent reporting through the load balancer, and a reader
    /// that finds each trace through the OAP's GraphQL API.
    SkywalkingTraces,
    /// Requesters sending HTTP requests, each with a unique id, to an application the Pinpoint
    /// agent traces, and a reader that finds each request's transaction through the web's API.
    PinpointRequests,
    /// chaosbed itself as Pinpoint 2.x agents speaking the collector's Thrift protocol: each
    /// registered over TCP to a collector, sending spans (one transaction each, with a unique
    /// id) and statistics as UDP datagrams, and a reader that finds each span's transaction
    /// through the web's API.
    PinpointUdpSpans,
    /// A client of the user's own in a container, printing its operations as JSON lines.
    Container,
}

impl WorkloadKind {
    /// The system a built-in workload drives; None for a container, which names its own.
    pub fn system(self) -> Option<SystemKind> {
        Some(match self {
            WorkloadKind::ZkRegister | WorkloadKind::ZkCasRegister => {
                crate::system::zookeeper::KIND
            }
            WorkloadKind::PulsarProduceConsume => crate::system::pulsar::KIND,
            WorkloadKind::SkywalkingTraces => crate::system::skywalking::KIND,
            WorkloadKind::PinpointRequests => crate::system::pinpoint::app::KIND,
            WorkloadKind::PinpointUdpSpans => crate::system::pinpoint::collector::KIND,
            WorkloadKind::Container => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::ZkRegister => "zk-register",
            WorkloadKind::ZkCasRegister => "zk-cas-register",
            WorkloadKind::PulsarProduceConsume => "pulsar-produce-consume",
            WorkloadKind::SkywalkingTraces => "skywalking-traces",
            WorkloadKind::PinpointRequests => "pinpoint-requests",
            WorkloadKind::PinpointUdpSpans => "pinpoint-udp-spans",
            WorkloadKind::Container => "container",
        }
    }
}

/// A selector resolved to concrete nodes when a fault fires.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// The node named so, e.g. `zk-2`.
    Node(String),
    /// One node picked at random (seeded).
    One,
    /// The largest group that is still a minority: 1 of 3, 2 of 5.
    Minority,
    /// The smallest majority: 2 of 3, 3 of 5.
    Majority,
    All,
    /// The current leader (ZooKeeper).
    Leader,
    /// One current follower (ZooKeeper), picked at random.
    Follower,
    /// Every current follower.
    Followers,
    /// Nodes not running at the moment, e.g. those not started at setup.
    Down,
    /// The Pulsar broker that owns the workload's topic.
    Owner,
    /// A bookie in the ensemble of the topic's current ledger.
    Ensemble,
    /// The Pinpoint collector the traced application's agent sends its spans to now.
    AgentCollector,
}

impl Target {
    pub const KEYWORDS: [&'static str; 11] = [
        "one",
        "minority",
        "majority",
        "all",
        "leader",
        "follower",
        "followers",
        "down",
        "owner",
        "ensemble",
        "agent-collector",
    ];

    pub fn parse(text: &str) -> Self {
        match text {
            "one" => Target::One,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            "leader" => Target::Leader,
            "follower" => Target::Follower,
            "followers" => Target::Followers,
            "down" => Target::Down,
            "owner" => Target::Owner,
            "ensemble" => Target::Ensemble,
            "agent-collector" => Target::AgentCollector,
            name => Target::Node(name.to_string()),
        }
    }

    /// Whether the target names a role resolved from the cluster's current state.
    pub fn is_role(&self) -> bool {
        matches!(
            self,
            Target::Leader
                | Target::Follower
                | Target::Followers
                | Target::Owner
                | Target::Ensemble
                | Target::AgentCollector
        )
    }

    /// The system whose nodes a role target selects (None: any system).
    pub fn role_system(&self) -> Option<SystemKind> {
        match self {
            Target::Leader | Target::Follower | Target::Followers => {
                Some(crate::system::zookeeper::KIND)
            }
            Target::Owner => Some(crate::system::pulsar::KIND),
            Target::Ensemble => Some(crate::system::bookkeeper::KIND),
            Target::AgentCollector => Some(crate::system::pinpoint::collector::KIND),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(name) => f.write_str(name),
            Target::One => f.write_str("one"),
            Target::Minority => f.write_str("minority"),
            Target::Majority => f.write_str("majority"),
            Target::All => f.write_str("all"),
            Target::Leader => f.write_str("leader"),
            Target::Follower => f.write_str("follower"),
            Target::Followers => f.write_str("followers"),
            Target::Down => f.write_str("down"),
            Target::Owner => f.write_str("owner"),
            Target::Ensemble => f.write_str("ensemble"),
            Target::AgentCollector => f.write_str("agent-collector"),
        }
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom(format!(
                "a target cannot be empty; write one of {} or a node name such as \"zk-1\"",
                Target::KEYWORDS.join(", ")
            )));
        }
        Ok(Target::parse(text.trim()))
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One `[[check]]`: what it judges, and the verdict the scenario expects of it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Check {
    /// `verdict = "valid"` (the default), or `"invalid"` for a negative control: the scenario's
    /// faults really break what the check guards, and the scenario passes exactly when the
    /// check says so. (Named `verdict` in the file: some checks have an `expect` of their own.)
    #[serde(default, rename = "verdict")]
    pub expect: Expect,
    /// With `verdict = "invalid"`: words the check's summary must contain, so that it failed for
    /// the reason the scenario states and not another.
    #[serde(default)]
    pub because: Option<String>,
    #[serde(flatten)]
    pub spec: CheckSpec,
}

/// The verdict a scenario expects of one of its checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    #[default]
    Valid,
    Invalid,
}

impl std::ops::Deref for Check {
    type Target = CheckSpec;
    fn deref(&self) -> &CheckSpec {
        &self.spec
    }
}

/// A check and its thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CheckSpec {
    /// Never two leaders at once; a leader whenever a majority is up (after `grace` for an
    /// election); no leader while a majority is down (after `grace` for it to step down).
    Quorum {
        #[serde(default = "default_grace")]
        grace: Dur,
        /// Quorum must never be lost: a majority of the ensemble down at once (killed, stopped,
        /// paused), however briefly, is a violation.
        #[serde(default)]
        never_lost: bool,
    },
    /// Measures the windows in which no write succeeded.
    Availability {
        /// The longest tolerated window without a successful write.
        max_unavailable: Option<Dur>,
        /// Demands that an outage was seen (for scenarios where one must happen).
        #[serde(default)]
        expect_outage: bool,
    },
    /// After the last fault is healed, a write succeeds within `within`.
    Recovery { within: Dur },
    /// Every acknowledged write is readable in the final read.
    NoLostWrites,
    /// Whether client sessions expired; with `expect = true` an expiry must be seen and is
    /// explained from the configured tickTime.
    SessionExpiry {
        #[serde(default)]
        expect: bool,
    },
    /// Pulsar: every acknowledged message consumed after the drain (lost), nothing consumed that
    /// was never sent (unexpected), duplicates within `max_duplicates`, and per-producer order
    /// when the subscription keeps it.
    Delivery {
        /// Default: duplicates are counted and reported, not judged.
        max_duplicates: Option<u64>,
    },
    /// Pulsar: send latency p50/p99 per fault window, with optional ceilings.
    SendLatency {
        p50_max: Option<Dur>,
        p99_max: Option<Dur>,
    },
    /// Pulsar: never two brokers owning the topic in the same sample.
    TopicOwnership,
    /// BookKeeper: bookies registered versus expected at the end (default: every bookie).
    BookiesRegistered { expected: Option<u32> },
    /// A node failure must have been diagnosed with this cause (e.g. `oom-killed`).
    Diagnosis {
        expect: String,
        /// The node it must concern (default: any).
        node: Option<String>,
    },
    /// Traces: every emitted trace queryable by the end of the drain (lost); traces stored twice
    /// (duplicated) and delivery latency p50/p99 per fault window are reported; a trace found
    /// later than `late_after` after its emission is late.
    Traces {
        /// Lost traces tolerated (default 0).
        #[serde(default)]
        max_lost: u64,
        /// The faults are meant to lose traces (a port dropped, spans vanishing silently): the
        /// check holds when it catches losses, and fails when it sees none. `max_lost` then
        /// does not apply.
        #[serde(default)]
        expect_lost: bool,
        /// Default 30 s.
        #[serde(default = "default_late_after")]
        late_after: Dur,
        /// Late traces tolerated (default: counted and reported, not judged).
        max_late: Option<u64>,
        p99_max: Option<Dur>,
    },
    /// Traces: the query API's availability. With `expect_outage`, some queries must fail
    /// during a fault; with `recover_within`, queries must succeed again within that time after
    /// the last heal.
    TraceQueries {
        #[serde(default)]
        expect_outage: bool,
        recover_within: Option<Dur>,
    },
    /// Upgrade steps: every rolled node rejoined (within `max_rejoin` when set); reports the
    /// rejoin time per node and the mixed-version windows.
    Upgrade { max_rejoin: Option<Dur> },
    /// Every system passed its readiness probe again after the heal (a Pinpoint collector also
    /// registered in ZooKeeper again). With `expect_unhealed`, that system must not have: the
    /// finding the scenario reproduces.
    Healed { expect_unhealed: Option<SystemKind> },
    /// Compare-and-set register histories (reads, writes, CAS per key) are linearizable, with
    /// the read model ZooKeeper promises or a stricter one; `time_limit` and `memory_limit`
    /// bound the search (spent: Unknown with how far it got).
    Linearizable {
        #[serde(default)]
        reads: ReadModel,
        #[serde(default = "default_linearizable_time")]
        time_limit: Dur,
        #[serde(default = "default_linearizable_memory")]
        memory_limit: ByteSize,
    },
}

/// What a read promises, for the linearizable check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadModel {
    /// Every ok read is linearizable.
    #[default]
    Linearizable,
    /// ZooKeeper's promise: writes, CAS and reads after a sync are linearizable; a plain read
    /// may be stale, but not older than its session's previous operation.
    Sequential,
}

impl ReadModel {
    pub const NAMES: [&'static str; 2] = ["linearizable", "sequential"];

    pub fn name(self) -> &'static str {
        match self {
            ReadModel::Linearizable => "linearizable",
            ReadModel::Sequential => "sequential",
        }
    }
}

impl fmt::Display for ReadModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ReadModel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "linearizable" => Ok(ReadModel::Linearizable),
            "sequential" => Ok(ReadModel::Sequential),
            other => Err(format!(
                "unknown read model `{other}`, expected one of {}",
                ReadModel::NAMES
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

impl<'de> Deserialize<'de> for ReadModel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ReadModel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

fn default_linearizable_time() -> Dur {
    Dur::secs(60)
}

fn default_linearizable_memory() -> ByteSize {
    ByteSize(1 << 30)
}

fn default_late_after() -> Dur {
    Dur::secs(30)
}

fn default_grace() -> Dur {
    Dur::secs(15)
}

impl CheckSpec {
    pub const KINDS: [&'static str; 15] = [
        "quorum",
        "availability",
        "recovery",
        "no-lost-writes",
        "session-expiry",
        "delivery",
        "send-latency",
        "topic-ownership",
        "bookies-registered",
        "diagnosis",
        "traces",
        "trace-queries",
        "upgrade",
        "healed",
        "linearizable",
    ];

    /// The workloads whose operations this check reads; empty for checks any workload feeds.
    pub fn workloads(&self) -> &'static [WorkloadKind] {
        match self {
            // A user's client feeds these when it reports their operations.
            CheckSpec::Delivery { .. } | CheckSpec::SendLatency { .. } => {
                &[WorkloadKind::PulsarProduceConsume, WorkloadKind::Container]
            }
            CheckSpec::TopicOwnership => &[WorkloadKind::PulsarProduceConsume],
            CheckSpec::NoLostWrites => &[WorkloadKind::ZkRegister, WorkloadKind::Container],
            CheckSpec::Linearizable { .. } => {
                &[WorkloadKind::ZkCasRegister, WorkloadKind::Container]
            }
            CheckSpec::Traces { .. } | CheckSpec::TraceQueries { .. } => &[
                WorkloadKind::SkywalkingTraces,
                WorkloadKind::PinpointRequests,
                WorkloadKind::PinpointUdpSpans,
            ],
            _ => &[],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            CheckSpec::Quorum { .. } => "quorum",
            CheckSpec::Availability { .. } => "availability",
            CheckSpec::Recovery { .. } => "recovery",
            CheckSpec::NoLostWrites => "no-lost-writes",
            CheckSpec::SessionExpiry { .. } => "session-expiry",
            CheckSpec::Delivery { .. } => "delivery",
            CheckSpec::SendLatency { .. } => "send-latency",
            CheckSpec::TopicOwnership => "topic-ownership",
            CheckSpec::BookiesRegistered { .. } => "bookies-registered",
            CheckSpec::Diagnosis { .. } => "diagnosis",
            CheckSpec::Traces { .. } => "traces",
            CheckSpec::TraceQueries { .. } => "trace-queries",
            CheckSpec::Upgrade { .. } => "upgrade",
            CheckSpec::Healed { .. } => "healed",
            CheckSpec::Linearizable { .. } => "linearizable",
        }
    }
}

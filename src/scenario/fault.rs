//! Faults in a scenario file: their kinds, targets, timing and the parameters each kind takes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use super::model::{SystemKind, Target};
use super::units::{ByteSize, Dur};

/// One fault in the schedule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: Spanned<FaultKind>,
    /// Which nodes; resolved when the fault fires.
    pub target: Spanned<Target>,
    /// The system the target is in (default: the system of a role target such as `leader` or
    /// `owner`, else the workload's system).
    pub system: Option<SystemKind>,
    /// When it fires, from the start of the workload.
    pub at: Spanned<Dur>,
    /// How long until it is healed (kill/stop: started again; pause: unpaused; network, clock
    /// and resource faults: undone). Without it the fault is healed when the workload ends.
    pub duration: Option<Spanned<Dur>>,
    /// partition: how the nodes are cut apart (default `isolate`).
    pub shape: Option<Spanned<PartitionShape>>,
    /// Network faults: the other side, as system names or node names (default: every other
    /// node of the run).
    pub peers: Option<Spanned<Vec<String>>>,
    /// packet-loss: percent of incoming packets dropped, e.g. 30.
    pub loss: Option<Spanned<f64>>,
    /// packet-loss: only packets coming in to these destination ports of the target (its
    /// listening ports), e.g. [9995, 9996]. Integers here so 0 or 70000 get a clear error.
    pub ports: Option<Spanned<Vec<i64>>>,
    /// packet-loss: `tcp`, `udp` or `all` (default).
    pub protocol: Option<Spanned<Protocol>>,
    /// bandwidth: a rate as tc writes it, e.g. "1mbit", "512kbit".
    pub rate: Option<Spanned<String>>,
    /// latency: delay added to what the target sends, and its jitter; slow-close: how long a
    /// close waits before it is passed on.
    pub delay: Option<Spanned<Dur>>,
    pub jitter: Option<Spanned<Dur>>,
    /// latency (through the proxy) and the toxics: which of the target's TCP connections, the
    /// ones it opens (`out`), the ones it accepts (`in`) or `both` (default).
    pub direction: Option<Spanned<Direction>>,
    /// reset-peer: how long after a connection is taken it is reset (default at once).
    pub timeout: Option<Spanned<Dur>>,
    /// limit-data: the bytes a connection may carry before it is closed.
    pub bytes: Option<Spanned<ByteSize>>,
    /// clock-skew: how far the node's clock is moved, e.g. "+1h" or "-10m".
    pub offset: Option<Spanned<Offset>>,
    /// clock-skew: `fixed` (default) or `strobe` (back and forth every `period`).
    pub clock: Option<Spanned<ClockMode>>,
    pub period: Option<Spanned<Dur>>,
    /// memory: the container's memory limit while the fault lasts.
    pub memory: Option<Spanned<ByteSize>>,
    /// cpu: CPUs the container may use while the fault lasts, e.g. 0.2.
    pub cpus: Option<Spanned<f64>>,
    /// upgrade: the version the nodes roll to (one the catalogue builds for the system).
    pub version: Option<Spanned<String>>,
    /// upgrade: the image the nodes roll to instead (a contract image, or one the engine has).
    pub image: Option<Spanned<String>>,
    /// upgrade: which node goes first (default `followers-first`: the leader last).
    pub order: Option<Spanned<UpgradeOrder>>,
    /// upgrade: how long each node may take to rejoin after its restart (default 120s).
    pub rejoin: Option<Spanned<Dur>>,
    /// upgrade: how long to wait after a node rejoined before taking the next down (default 0s):
    /// what an operator waits out behind a load balancer that still marks the node failed
    /// (NGINX's `fail_timeout`).
    pub settle: Option<Spanned<Dur>>,
}

impl FaultSpec {
    /// A fault with no kind-specific parameters.
    pub fn new(kind: FaultKind, target: Target, at: Duration, duration: Option<Duration>) -> Self {
        Self {
            kind: Spanned::new(0..0, kind),
            target: Spanned::new(0..0, target),
            system: None,
            at: Spanned::new(0..0, Dur(at)),
            duration: duration.map(|d| Spanned::new(0..0, Dur(d))),
            shape: None,
            peers: None,
            loss: None,
            ports: None,
            protocol: None,
            rate: None,
            delay: None,
            jitter: None,
            direction: None,
            timeout: None,
            bytes: None,
            offset: None,
            clock: None,
            period: None,
            memory: None,
            cpus: None,
            version: None,
            image: None,
            order: None,
            rejoin: None,
            settle: None,
        }
    }

    /// The system whose nodes the fault targets.
    pub fn system(&self, workload: SystemKind) -> SystemKind {
        self.system
            .or_else(|| self.target.get_ref().role_system())
            .unwrap_or(workload)
    }

    /// The kind-specific parameters, without their positions in the file.
    pub fn params(&self) -> FaultParams {
        fn get<T: Clone>(field: &Option<Spanned<T>>) -> Option<T> {
            field.as_ref().map(|f| f.get_ref().clone())
        }
        FaultParams {
            shape: get(&self.shape),
            peers: get(&self.peers).unwrap_or_default(),
            loss: get(&self.loss),
            // Validation keeps every port within 1..=65535.
            ports: get(&self.ports)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| u16::try_from(p).ok())
                .collect(),
            protocol: get(&self.protocol),
            rate: get(&self.rate),
            delay: get(&self.delay).map(Dur::as_duration),
            jitter: get(&self.jitter).map(Dur::as_duration),
            direction: get(&self.direction),
            timeout: get(&self.timeout).map(Dur::as_duration),
            bytes: get(&self.bytes),
            offset: get(&self.offset),
            clock: get(&self.clock),
            period: get(&self.period).map(Dur::as_duration),
            memory: get(&self.memory),
            cpus: get(&self.cpus),
            version: get(&self.version),
            image: get(&self.image),
            order: get(&self.order),
            rejoin: get(&self.rejoin).map(Dur::as_duration),
            settle: get(&self.settle).map(Dur::as_duration),
        }
    }

    /// Sets the kind-specific parameters (for schedules built in code).
    pub fn with_params(mut self, params: &FaultParams) -> Self {
        fn put<T>(value: Option<T>) -> Option<Spanned<T>> {
            value.map(|v| Spanned::new(0..0, v))
        }
        self.shape = put(params.shape);
        self.peers = put((!params.peers.is_empty()).then(|| params.peers.clone()));
        self.loss = put(params.loss);
        self.ports = put((!params.ports.is_empty())
            .then(|| params.ports.iter().map(|&p| i64::from(p)).collect()));
        self.protocol = put(params.protocol);
        self.rate = put(params.rate.clone());
        self.delay = put(params.delay.map(Dur));
        self.jitter = put(params.jitter.map(Dur));
        self.direction = put(params.direction);
        self.timeout = put(params.timeout.map(Dur));
        self.bytes = put(params.bytes);
        self.offset = put(params.offset);
        self.clock = put(params.clock);
        self.period = put(params.period.map(Dur));
        self.memory = put(params.memory);
        self.cpus = put(params.cpus);
        self.version = put(params.version.clone());
        self.image = put(params.image.clone());
        self.order = put(params.order);
        self.rejoin = put(params.rejoin.map(Dur));
        self.settle = put(params.settle.map(Dur));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL the process; healed by starting the container again.
    Kill,
    /// Graceful stop (SIGTERM, then SIGKILL after a grace period); healed by starting it.
    Stop,
    /// Start nodes that are down (for example, not started at setup). Nothing to heal.
    Start,
    /// Stop and start at once. Nothing to heal.
    Restart,
    /// Freeze every process (cgroup freezer); healed by unpausing.
    Pause,
    /// Drop traffic between groups of nodes (iptables); healed by removing chaosbed's rules.
    Partition,
    /// Drop a share of incoming packets (iptables statistic match), optionally only those to
    /// some destination ports or of one protocol.
    PacketLoss,
    /// Cap outgoing bandwidth (tc tbf).
    Bandwidth,
    /// Delay what the target sends (tc netem where the kernel has it, else chaosbed's
    /// transparent proxy in the target's network namespace).
    Latency,
    /// Reset the target's TCP connections as they are made ("connection reset by peer").
    ResetPeer,
    /// Accept the target's TCP connections and never answer on them: the other side times out.
    Blackhole,
    /// Pass a TCP close on only after `delay`.
    SlowClose,
    /// Close a TCP connection once it carried `bytes`.
    LimitData,
    /// Move the node's clock (libfaketime), never the host's.
    ClockSkew,
    /// Change the container's memory limit at run time.
    Memory,
    /// Limit the container's CPU at run time.
    Cpu,
    /// Fill the node's data volume (needs `disk` in the topology).
    DiskFull,
    /// Roll the nodes to another version one at a time: stop, start on the new image with the
    /// same data volume, wait until it has rejoined, then the next. Nothing to heal (a rollback
    /// is another upgrade step toward the older version).
    Upgrade,
}

impl FaultKind {
    pub const ALL: [FaultKind; 18] = [
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::Start,
        FaultKind::Restart,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::PacketLoss,
        FaultKind::Bandwidth,
        FaultKind::Latency,
        FaultKind::ResetPeer,
        FaultKind::Blackhole,
        FaultKind::SlowClose,
        FaultKind::LimitData,
        FaultKind::ClockSkew,
        FaultKind::Memory,
        FaultKind::Cpu,
        FaultKind::DiskFull,
        FaultKind::Upgrade,
    ];

    /// The kinds Toxiproxy calls toxics, done by chaosbed's transparent proxy.
    pub const TOXICS: [FaultKind; 4] = [
        FaultKind::ResetPeer,
        FaultKind::Blackhole,
        FaultKind::SlowClose,
        FaultKind::LimitData,
    ];

    /// The kinds that stop, start or freeze processes.
    pub const PROCESS: [FaultKind; 5] = [
        FaultKind::Kill,
        FaultKind::Stop,
        FaultKind::Start,
        FaultKind::Restart,
        FaultKind::Pause,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Stop => "stop",
            FaultKind::Start => "start",
            FaultKind::Restart => "restart",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::PacketLoss => "packet-loss",
            FaultKind::Bandwidth => "bandwidth",
            FaultKind::Latency => "latency",
            FaultKind::ResetPeer => "reset-peer",
            FaultKind::Blackhole => "blackhole",
            FaultKind::SlowClose => "slow-close",
            FaultKind::LimitData => "limit-data",
            FaultKind::ClockSkew => "clock-skew",
            FaultKind::Memory => "memory",
            FaultKind::Cpu => "cpu",
            FaultKind::DiskFull => "disk-full",
            FaultKind::Upgrade => "upgrade",
        }
    }

    /// Whether the fault leaves something to heal.
    pub fn heals(self) -> bool {
        !matches!(
            self,
            FaultKind::Start | FaultKind::Restart | FaultKind::Upgrade
        )
    }

    /// Whether the fault stops, freezes or starts processes (the node is down while it lasts).
    pub fn is_process(self) -> bool {
        FaultKind::PROCESS.contains(&self)
    }

    /// Whether the fault changes a node's network with iptables, tc or the transparent proxy
    /// (from its nemesis helper).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            FaultKind::Partition
                | FaultKind::PacketLoss
                | FaultKind::Bandwidth
                | FaultKind::Latency
        ) || self.is_toxic()
    }

    /// Whether the fault is a toxic of the transparent proxy.
    pub fn is_toxic(self) -> bool {
        FaultKind::TOXICS.contains(&self)
    }

    /// The parameters this kind takes, required ones first.
    pub fn parameters(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            FaultKind::Partition => (&[], &["shape", "peers"]),
            FaultKind::PacketLoss => (&["loss"], &["peers", "ports", "protocol"]),
            FaultKind::Bandwidth => (&["rate"], &["peers"]),
            FaultKind::Latency => (&["delay"], &["jitter", "peers", "direction"]),
            FaultKind::ResetPeer => (&[], &["timeout", "peers", "direction"]),
            FaultKind::Blackhole => (&[], &["peers", "direction"]),
            FaultKind::SlowClose => (&["delay"], &["peers", "direction"]),
            FaultKind::LimitData => (&["bytes"], &["peers", "direction"]),
            FaultKind::ClockSkew => (&["offset"], &["clock", "period"]),
            FaultKind::Memory => (&["memory"], &[]),
            FaultKind::Cpu => (&["cpus"], &[]),
            // One of `version` and `image`, checked with the values.
            FaultKind::Upgrade => (&[], &["version", "image", "order", "rejoin", "settle"]),
            _ => (&[], &[]),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a partition cuts the nodes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// The targets are cut off from the peers, both ways.
    #[default]
    Isolate,
    /// The targets drop what the peers send; the peers still hear the targets.
    OneWay,
    /// The target system's nodes split into two random halves.
    Halves,
    /// Two sides joined by one node that hears both.
    Bridge,
}

impl PartitionShape {
    pub fn name(self) -> &'static str {
        match self {
            PartitionShape::Isolate => "isolate",
            PartitionShape::OneWay => "one-way",
            PartitionShape::Halves => "halves",
            PartitionShape::Bridge => "bridge",
        }
    }

    /// Whether the shape splits a whole system itself (its target must be `all`).
    pub fn splits_system(self) -> bool {
        matches!(self, PartitionShape::Halves | PartitionShape::Bridge)
    }
}

/// Which packets a packet-loss fault drops, by transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Tcp,
    Udp,
    /// Every packet; with `ports`, TCP and UDP to those ports.
    #[default]
    All,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::All => "all",
        }
    }

    pub fn is_all(self) -> bool {
        self == Protocol::All
    }

    /// The transport protocols it covers, the ones that have ports.
    pub fn transports(self) -> &'static [&'static str] {
        match self {
            Protocol::Tcp => &["tcp"],
            Protocol::Udp => &["udp"],
            Protocol::All => &["tcp", "udp"],
        }
    }
}

/// Which of a node's TCP connections the proxy takes: by who opened them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The connections the node accepts.
    In,
    /// The connections the node opens.
    Out,
    #[default]
    Both,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Both => "both",
        }
    }

    pub fn takes_incoming(self) -> bool {
        self != Direction::Out
    }

    pub fn takes_outgoing(self) -> bool {
        self != Direction::In
    }
}

/// The order an upgrade step rolls its nodes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeOrder {
    /// Followers first, the leader last, from the roles when the step fires (systems without
    /// roles: node-name order).
    #[default]
    FollowersFirst,
    /// Node-name order.
    Listed,
}

impl UpgradeOrder {
    pub fn name(self) -> &'static str {
        match self {
            UpgradeOrder::FollowersFirst => "followers-first",
            UpgradeOrder::Listed => "listed",
        }
    }
}

/// How long an upgrade step waits for each node to rejoin when the scenario does not say.
pub const DEFAULT_REJOIN: Duration = Duration::from_secs(120);

/// How a clock skew moves the clock while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockMode {
    /// Moved by the offset at `at` (a bump), back at heal.
    #[default]
    Fixed,
    /// Flips between the offset and the true time every `period`.
    Strobe,
}

/// A signed clock offset, written `+1h`, `-10m`, `+90s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offset {
    pub behind: bool,
    pub by: Duration,
}

impl Offset {
    pub const ZERO: Offset = Offset {
        behind: false,
        by: Duration::ZERO,
    };

    /// Whole seconds, signed, as libfaketime reads them (`+3600`, `-600`).
    pub fn seconds(self) -> i64 {
        let secs = self.by.as_secs() as i64;
        if self.behind { -secs } else { secs }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.behind { '-' } else { '+' };
        write!(f, "{sign}{}", Dur(self.by))
    }
}

impl std::str::FromStr for Offset {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let (behind, rest) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let by = rest.parse::<Dur>().map_err(|_| {
            format!("`{text}` is not a clock offset; write e.g. \"+1h\", \"-10m\" or \"+90s\"")
        })?;
        if by.0.subsec_nanos() != 0 {
            return Err(format!(
                "`{text}`: clock offsets are whole seconds (libfaketime reads seconds)"
            ));
        }
        Ok(Offset { behind, by: by.0 })
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Offset {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

/// A fault's kind-specific parameters as the nemesis uses them (validated, positions dropped).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<PartitionShape>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dur")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dur")]
    pub jitter: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dur")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<Offset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockMode>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dur")]
    pub period: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<UpgradeOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dur")]
    pub rejoin: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_dur")]
    pub settle: Option<Duration>,
}

// Validation keeps `loss` and `cpus` finite, so equality is total.
impl Eq for FaultParams {}

impl FaultParams {
    /// What an upgrade step rolls to: its `image`, else its `version`.
    pub fn upgrade_to(&self) -> Option<&str> {
        self.image.as_deref().or(self.version.as_deref())
    }

    pub fn is_empty(&self) -> bool {
        *self == FaultParams::default()
    }
}

mod opt_dur {
    use super::Dur;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        value.map(Dur).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Dur>::deserialize(d)?.map(Dur::as_duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("+1h", false, 3600)]
    #[case("-10m", true, 600)]
    #[case("90s", false, 90)]
    fn offsets_parse_with_their_sign(#[case] text: &str, #[case] behind: bool, #[case] secs: u64) {
        let offset: Offset = text.parse().unwrap();
        assert_eq!(offset.behind, behind);
        assert_eq!(offset.by, Duration::from_secs(secs));
        assert_eq!(offset.seconds().unsigned_abs(), secs);
    }

    #[test]
    fn a_bad_offset_says_how_to_write_one() {
        let err = "+1 hour later".parse::<Offset>().unwrap_err();
        assert!(err.contains("\"+1h\""), "{err}");
        assert!("+1500ms".parse::<Offset>().unwrap_err().contains("whole"));
    }

    #[test]
    fn params_round_trip_through_a_fault_spec() {
        let params = FaultParams {
            shape: Some(PartitionShape::OneWay),
            peers: vec!["zookeeper".into()],
            loss: Some(30.0),
            offset: Some("-10m".parse().unwrap()),
            period: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let spec = FaultSpec::new(FaultKind::Partition, Target::One, Duration::ZERO, None)
            .with_params(&params);
        assert_eq!(spec.params(), params);
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(json["period"], "5s");
        assert_eq!(serde_json::from_value::<FaultParams>(json).unwrap(), params);
    }

    #[test]
    fn packet_loss_ports_and_protocol_round_trip() {
        let params = FaultParams {
            loss: Some(100.0),
            ports: vec![9995, 9996],
            protocol: Some(Protocol::Udp),
            ..Default::default()
        };
        let spec = FaultSpec::new(FaultKind::PacketLoss, Target::One, Duration::ZERO, None)
            .with_params(&params);
        assert_eq!(spec.params(), params);
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(json["ports"], serde_json::json!([9995, 9996]));
        assert_eq!(json["protocol"], "udp");
        assert_eq!(serde_json::from_value::<FaultParams>(json).unwrap(), params);
        assert_eq!(Protocol::All.transports(), ["tcp", "udp"]);
    }

    #[test]
    fn upgrade_params_round_trip_and_nothing_heals() {
        let params = FaultParams {
            version: Some("3.9".into()),
            order: Some(UpgradeOrder::Listed),
            rejoin: Some(Duration::from_secs(45)),
            ..Default::default()
        };
        let spec = FaultSpec::new(FaultKind::Upgrade, Target::All, Duration::ZERO, None)
            .with_params(&params);
        assert_eq!(spec.params(), params);
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(json["order"], "listed");
        assert_eq!(json["rejoin"], "45s");
        assert!(!FaultKind::Upgrade.heals());
        assert!(!FaultKind::Upgrade.is_process());
    }
}

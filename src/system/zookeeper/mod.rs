//! ZooKeeper: the official image's environment contract, ensemble config, four-letter-word
//! readiness and role discovery.

mod ask;
mod four_letter;
mod probe;
mod ready;

use std::net::Ipv4Addr;

use futures_util::future::BoxFuture;

use super::config_keys::{KnownKey, flag, one_of, whole};
use super::protocol::{self, Deploy, Memory, Probe, System};
use crate::backend::ContainerSpec;
use crate::history::Recorder;
use crate::scenario::{SystemKind, SystemSpec};

pub use ask::ask;
pub use four_letter::{Role, Srvr, answers, four_letter, roles, srvr};
pub use probe::sample_roles;
pub use ready::{Readiness, Rejoined, judge_rejoin, rejoined, wait_ready};

/// ZooKeeper in the registry.
pub const KIND: SystemKind = SystemKind::of(&ZooKeeper);

/// A ZooKeeper ensemble: the official image's contract, `srvr` readiness, leader and follower
/// roles, rejoin under one leader.
pub struct ZooKeeper;

impl System for ZooKeeper {
    fn name(&self) -> &'static str {
        "zookeeper"
    }

    fn node_prefix(&self) -> &'static str {
        "zk"
    }

    fn default_version(&self) -> &'static str {
        "3.8"
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(CLIENT_PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // Transaction logs are preallocated 64 MiB at a time; snapshots stay small.
        256 << 20
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(deploy.spec, deploy.image, index, deploy.count)
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            let all = ready.nodes.len();
            let ready = wait_ready(&ready.nodes, ready.started, all, ready.timeout).await?;
            Ok(Some(format!(
                "leader: {}",
                ready.leader.as_deref().unwrap_or("none")
            )))
        })
    }

    fn monitor(&self, nodes: Vec<(String, Ipv4Addr)>, recorder: Recorder) -> Option<Probe> {
        Some(Box::pin(sample_roles(nodes, recorder)))
    }

    fn rejoins(&self) -> bool {
        true
    }

    fn rejoined<'a>(
        &'a self,
        rejoining: protocol::Rejoining<'a>,
    ) -> BoxFuture<'a, Result<serde_json::Value, String>> {
        let protocol::Rejoining { nodes, node, .. } = rejoining;
        Box::pin(async move {
            let r = rejoined(nodes, node).await?;
            Ok(serde_json::json!({
                "role": r.role,
                "reported_version": r.version,
                "leader": r.leader,
            }))
        })
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        vec![("CHAOSBED_ZOOKEEPER", connect_string(addresses))]
    }

    fn memory(&self) -> Memory {
        Memory::flags(&["JVMFLAGS"], None)
    }

    fn zookeeper_client(&self) -> bool {
        false
    }

    fn refused_data<'l>(&self, log: &'l str) -> Option<crate::diagnose::DataProblem<'l>> {
        crate::diagnose::zookeeper_data(log)
    }
}

pub const CLIENT_PORT: u16 = 2181;
pub const DEFAULT_TICK_TIME_MS: u64 = 2000;
/// The 4lw commands chaosbed speaks; the image must whitelist them.
pub const FOUR_LETTER_WORDS: &str = "srvr, mntr, ruok, conf, stat";
const DEFAULT_HEAP: &str = "-Xmx256m -Xms64m";

/// zoo.cfg keys the official image sets from its own variables; everything else in a
/// scenario's `config` goes through ZOO_CFG_EXTRA.
const CONTRACT_KEYS: [(&str, &str); 6] = [
    ("tickTime", "ZOO_TICK_TIME"),
    ("initLimit", "ZOO_INIT_LIMIT"),
    ("syncLimit", "ZOO_SYNC_LIMIT"),
    ("maxClientCnxns", "ZOO_MAX_CLIENT_CNXNS"),
    ("autopurge.purgeInterval", "ZOO_AUTOPURGE_PURGEINTERVAL"),
    ("autopurge.snapRetainCount", "ZOO_AUTOPURGE_SNAPRETAINCOUNT"),
];

/// zoo.cfg keys whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    whole("tickTime", 1, "milliseconds per tick"),
    whole(
        "initLimit",
        1,
        "ticks a follower may take to connect and sync",
    ),
    whole("syncLimit", 1, "ticks a follower may lag"),
    whole(
        "maxClientCnxns",
        0,
        "connections per client address, 0 for no limit",
    ),
    whole(
        "autopurge.purgeInterval",
        0,
        "hours between purges, 0 for none",
    ),
    whole("autopurge.snapRetainCount", 3, "snapshots kept"),
    whole("minSessionTimeout", 1, "milliseconds"),
    whole("maxSessionTimeout", 1, "milliseconds"),
    whole("snapCount", 2, "transactions between snapshots"),
    whole("globalOutstandingLimit", 1, "queued requests"),
    whole("preAllocSize", 1, "kilobytes the log grows by"),
    whole("electionPortBindRetry", 0, "retries, 0 for ever"),
    flag("standaloneEnabled", "whether one server may run alone"),
    flag("reconfigEnabled", "dynamic reconfiguration"),
    flag(
        "quorumListenOnAllIPs",
        "election and quorum ports on every address",
    ),
    one_of(
        "forceSync",
        &["yes", "no"],
        "fsync of the log before a write is acknowledged",
    ),
];

/// Where the nodes write their transaction log: the data volume itself (ZooKeeper keeps it in
/// `version-2/` beside the snapshots, as with no dataLogDir at all). Not a folder below it: the
/// official image's entrypoint runs `chown -R zookeeper` on ZOO_DATA_LOG_DIR before anything
/// creates it, and a missing folder stops the container (`chown: cannot access '/data/log'`).
const DATA_LOG_DIR: &str = "/data";

/// The container of node `index` (1-based) in an ensemble of `count`, in the official image's terms.
pub fn container_spec(spec: &SystemSpec, image: &str, index: u32, count: u32) -> ContainerSpec {
    let names = super::node_names(KIND, count);
    let servers = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("server.{}={name}:2888:3888;{CLIENT_PORT}", i + 1))
        .collect::<Vec<_>>()
        .join(" ");
    let mut env = vec![
        ("ZOO_MY_ID".to_string(), index.to_string()),
        ("ZOO_SERVERS".to_string(), servers),
        (
            "ZOO_4LW_COMMANDS_WHITELIST".to_string(),
            FOUR_LETTER_WORDS.to_string(),
        ),
        ("ZOO_ADMINSERVER_ENABLED".to_string(), "false".to_string()),
        // The transaction log beside the snapshots on the node's one data volume: its `disk` is
        // all its state, so a disk-full fault fills where the log is written and a lost disk
        // loses both, as on a machine with one disk (the image's default /datalog is not on it).
        ("ZOO_DATA_LOG_DIR".to_string(), DATA_LOG_DIR.to_string()),
        (
            "JVMFLAGS".to_string(),
            spec.heap
                .clone()
                .unwrap_or_else(|| DEFAULT_HEAP.to_string()),
        ),
    ];
    if count == 1 {
        env.push(("ZOO_STANDALONE_ENABLED".into(), "true".into()));
    }
    let mut extra = Vec::new();
    for (key, value) in &spec.config {
        let value = crate::system::config_text(value.get_ref());
        match CONTRACT_KEYS.iter().find(|(k, _)| k == key) {
            Some((_, var)) => env.push((var.to_string(), value)),
            None => extra.push(format!("{key}={value}")),
        }
    }
    if !extra.is_empty() {
        env.push(("ZOO_CFG_EXTRA".into(), extra.join(" ")));
    }
    ContainerSpec {
        node: names[(index - 1) as usize].clone(),
        image: image.to_string(),
        env,
        cmd: None,
        memory: spec.memory.map(|m| m.0),
        data_dir: Some("/data".into()),
        data_size: None,
        cap_add: Vec::new(),
        aliases: Vec::new(),
        files: Vec::new(),
    }
}

/// The tickTime the ensemble runs with, in milliseconds.
pub fn tick_time_ms(spec: &SystemSpec) -> u64 {
    spec.config
        .get("tickTime")
        .map(|v| v.get_ref())
        .and_then(|v| {
            v.as_integer()
                .map(|i| i as u64)
                .or_else(|| v.as_str()?.parse().ok())
        })
        .unwrap_or(DEFAULT_TICK_TIME_MS)
}

/// The client connect string by node name, as the other systems of a run use it.
pub fn connect_names(count: u32) -> String {
    super::node_names(KIND, count)
        .iter()
        .map(|n| format!("{n}:{CLIENT_PORT}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The client connect string for the given addresses.
pub fn connect_string(addresses: &[Ipv4Addr]) -> String {
    addresses
        .iter()
        .map(|a| format!("{a}:{CLIENT_PORT}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> SystemSpec {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn one_node_may_be_configured_unlike_the_others() {
        let spec = spec(
            "nodes = 3\n[node.zk-3]\nenv = { ZOO_SERVERS = \"server.3=zk-3:2888:3888;2181\" }",
        );
        let container = |index| {
            let mut c = container_spec(&spec, "zookeeper:3.9", index, 3);
            crate::system::apply_scenario(&mut c, &spec);
            c
        };
        assert_eq!(
            container(3).env_var("ZOO_SERVERS"),
            Some("server.3=zk-3:2888:3888;2181")
        );
        assert!(
            container(1)
                .env_var("ZOO_SERVERS")
                .is_some_and(|servers| servers.contains("server.2=zk-2"))
        );
    }

    #[test]
    fn follows_the_official_image_contract() {
        let c = container_spec(
            &spec("nodes = 3\n[config]\ntickTime = 100\nminSessionTimeout = 200\n"),
            "img",
            2,
            3,
        );
        assert_eq!(c.node, "zk-2");
        assert_eq!(c.env_var("ZOO_MY_ID"), Some("2"));
        assert_eq!(
            c.env_var("ZOO_SERVERS"),
            Some(
                "server.1=zk-1:2888:3888;2181 server.2=zk-2:2888:3888;2181 server.3=zk-3:2888:3888;2181"
            )
        );
        assert_eq!(c.env_var("ZOO_TICK_TIME"), Some("100"));
        assert_eq!(c.env_var("ZOO_DATA_LOG_DIR"), Some("/data"));
        assert_eq!(c.env_var("ZOO_CFG_EXTRA"), Some("minSessionTimeout=200"));
        assert!(
            c.env_var("ZOO_4LW_COMMANDS_WHITELIST")
                .unwrap()
                .contains("srvr")
        );
    }

    #[test]
    fn tick_time_defaults_to_two_seconds() {
        assert_eq!(tick_time_ms(&spec("nodes = 3")), 2000);
        assert_eq!(tick_time_ms(&spec("[config]\ntickTime = 100")), 100);
    }

    #[test]
    fn memory_and_heap_pass_through() {
        let c = container_spec(&spec("memory = \"1GiB\"\nheap = \"-Xmx900m\""), "img", 1, 3);
        assert_eq!(c.memory, Some(1 << 30));
        assert_eq!(c.env_var("JVMFLAGS"), Some("-Xmx900m"));
    }
}

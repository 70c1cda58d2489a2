//! Pulsar brokers: the apachepulsar/pulsar image's contract (`env`), the broker container, the
//! cluster-metadata init job, service URLs, the storage quorum, and (in `admin`) readiness and
//! topic ownership over the admin REST API, and (in `rejoin`) the upgrade rejoin condition. The
//! only place that knows a broker's ports and keys.

mod admin;
pub mod env;
mod probe;
mod rejoin;
mod stats;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use futures_util::future::BoxFuture;

use super::config_keys::{KnownKey, flag, port, whole};
use super::protocol::{self, Deploy, Memory, Probe, System};
use crate::backend::ContainerSpec;
use crate::history::Recorder;
use crate::scenario::{SystemKind, SystemSpec};

pub use admin::{
    Readiness, Topic, current_ledger, delete_topic, ensemble_nodes, health, is_ready, lookup_owner,
    set_namespace_persistence, topic_owner, unload_topic, wait_ready,
};
pub use probe::sample_ownership;
pub use rejoin::rejoined;
pub use stats::owned_bundles;

/// Pulsar in the registry.
pub const KIND: SystemKind = SystemKind::of(&Pulsar);

/// Pulsar brokers: cluster metadata before they start, ready and healthy over the admin API,
/// bundle ownership sampled, rejoined once the workload's topic has a ready owner.
pub struct Pulsar;

impl System for Pulsar {
    fn name(&self) -> &'static str {
        "pulsar"
    }

    fn node_prefix(&self) -> &'static str {
        "broker"
    }

    fn default_version(&self) -> &'static str {
        "3.0"
    }

    fn needs(&self) -> &'static [SystemKind] {
        &[super::zookeeper::KIND, super::bookkeeper::KIND]
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(BROKER_PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // Brokers keep messages in bookies; their log and local metadata stay small.
        512 << 20
    }

    fn init_spec(&self, deploy: &Deploy) -> Option<ContainerSpec> {
        Some(init_metadata_spec(
            deploy.image,
            DEFAULT_CLUSTER,
            &deploy.wiring.connect(super::zookeeper::KIND),
            &service_url(deploy.addresses),
            &web_service_url(deploy.addresses),
        ))
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, address: Ipv4Addr) -> ContainerSpec {
        container_spec(
            deploy.spec,
            deploy.image,
            index,
            deploy.count,
            &deploy.wiring.connect(super::zookeeper::KIND),
            address,
            DEFAULT_CLUSTER,
        )
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            wait_ready(&ready.started_nodes(), ready.timeout).await?;
            Ok(None)
        })
    }

    fn monitor(&self, nodes: Vec<(String, Ipv4Addr)>, recorder: Recorder) -> Option<Probe> {
        Some(Box::pin(sample_ownership(
            nodes,
            DEFAULT_CLUSTER.to_string(),
            recorder,
        )))
    }

    fn rejoins(&self) -> bool {
        true
    }

    fn rejoined<'a>(
        &'a self,
        rejoining: protocol::Rejoining<'a>,
    ) -> BoxFuture<'a, Result<serde_json::Value, String>> {
        let protocol::Rejoining {
            nodes, node, topic, ..
        } = rejoining;
        Box::pin(async move {
            let topic = topic.unwrap_or(crate::workload::pulsar::DEFAULT_TOPIC);
            let r = rejoined(nodes, node, topic, DEFAULT_CLUSTER).await?;
            Ok(serde_json::json!({
                "topic": topic,
                "topic_owner": r.owner,
                "owned_bundles": r.owned_bundles,
                "reported_version": r.version,
            }))
        })
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        vec![
            ("CHAOSBED_PULSAR_URL", service_url(addresses)),
            (
                "CHAOSBED_PULSAR_ADMIN_URL",
                super::client_env::first_url(addresses, HTTP_PORT, ""),
            ),
        ]
    }

    fn memory(&self) -> Memory {
        Memory::flags(&["PULSAR_MEM"], Some(IMAGE_DEFAULT_PULSAR_MEM))
    }
}

/// The binary protocol port clients connect to.
pub const BROKER_PORT: u16 = 6650;
/// The HTTP port: admin REST API, lookups, readiness and health.
pub const HTTP_PORT: u16 = 8080;
/// The cluster name chaosbed gives a Pulsar cluster unless told otherwise.
pub const DEFAULT_CLUSTER: &str = "chaosbed";
/// PULSAR_MEM when none is given, in the official image and ours (its entrypoint says the same).
pub const IMAGE_DEFAULT_PULSAR_MEM: &str = "-Xms2g -Xmx2g -XX:MaxDirectMemorySize=4g";
/// Node name of the one-shot cluster-metadata job.
pub const INIT_NODE: &str = "pulsar-init";

/// Small enough for 3 brokers beside 3 bookies and 3 ZooKeepers on one machine; the managed
/// ledger cache takes a fifth of the direct memory. C1 only (`TieredStopAtLevel=1`): nine JVMs
/// start on two cores in every Pulsar scenario, and C2's compile threads slow their start more
/// than its code speeds a chaos workload (the bench gives the brokers a heap and so keeps C2).
const DEFAULT_PULSAR_MEM: &str =
    "-Xms128m -Xmx384m -XX:MaxDirectMemorySize=256m -XX:TieredStopAtLevel=1";
/// For the init job.
const JOB_MEM: &str = "-Xms64m -Xmx128m -XX:TieredStopAtLevel=1";

/// broker.conf keys whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    whole(ENSEMBLE_KEY, 1, "bookies a ledger is spread over"),
    whole(WRITE_QUORUM_KEY, 1, "bookies each entry is written to"),
    whole(ACK_QUORUM_KEY, 1, "bookies that must have an entry"),
    whole("metadataStoreSessionTimeoutMillis", 1, "milliseconds"),
    whole("zooKeeperSessionTimeoutMillis", 1, "milliseconds"),
    whole("brokerShutdownTimeoutMs", 0, "milliseconds"),
    whole(
        "managedLedgerMaxEntriesPerLedger",
        1,
        "entries before a ledger rolls over",
    ),
    whole(
        "maxUnackedMessagesPerConsumer",
        0,
        "messages, 0 for no limit",
    ),
    whole("dispatcherMaxReadBatchSize", 1, "entries read at once"),
    flag(
        "brokerDeleteInactiveTopicsEnabled",
        "deleting topics nobody uses",
    ),
    flag("allowAutoTopicCreation", "creating a topic on first use"),
    flag("loadBalancerEnabled", "moving bundles between brokers"),
    port("brokerServicePort", "the binary protocol's port"),
    port("webServicePort", "the HTTP port"),
];

const ENSEMBLE_KEY: &str = "managedLedgerDefaultEnsembleSize";
const WRITE_QUORUM_KEY: &str = "managedLedgerDefaultWriteQuorum";
const ACK_QUORUM_KEY: &str = "managedLedgerDefaultAckQuorum";

/// How brokers write a topic's ledgers: each entry goes to `write` of the `ensemble` bookies and
/// is acknowledged once `ack` of them have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub ensemble: u32,
    pub write: u32,
    pub ack: u32,
}

impl Default for Quorum {
    /// 3/2/2: every entry on two bookies of three, so one bookie may fail without a new ensemble
    /// losing anything acknowledged.
    fn default() -> Self {
        Self {
            ensemble: 3,
            write: 2,
            ack: 2,
        }
    }
}

impl Quorum {
    /// Why the quorum cannot work with `bookies` bookies, if it can't.
    pub fn check(self, bookies: u32) -> Result<(), String> {
        let Quorum {
            ensemble,
            write,
            ack,
        } = self;
        if ack == 0 || ack > write || write > ensemble {
            return Err(format!(
                "{ENSEMBLE_KEY}={ensemble}, {WRITE_QUORUM_KEY}={write}, {ACK_QUORUM_KEY}={ack}: \
                 need ensemble >= write quorum >= ack quorum >= 1"
            ));
        }
        if ensemble > bookies {
            return Err(format!(
                "{ENSEMBLE_KEY}={ensemble} needs at least {ensemble} bookies, but the topology \
                 has {bookies}; lower the ensemble size or add bookies"
            ));
        }
        Ok(())
    }
}

/// The quorum the brokers of `spec` use: its `config` keys, else 3/2/2.
pub fn quorum(spec: &SystemSpec) -> Result<Quorum, String> {
    let default = Quorum::default();
    let get = |key: &str, default: u32| -> Result<u32, String> {
        match spec.config.get(key) {
            None => Ok(default),
            Some(value) => crate::system::config_keys::whole_number(value.get_ref())
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("{key} must be a whole number, not {}", value.get_ref())),
        }
    };
    Ok(Quorum {
        ensemble: get(ENSEMBLE_KEY, default.ensemble)?,
        write: get(WRITE_QUORUM_KEY, default.write)?,
        ack: get(ACK_QUORUM_KEY, default.ack)?,
    })
}

/// `zk:a:2181,b:2181`: a metadata store URL for a ZooKeeper connect string.
pub fn metadata_store_url(zk_connect: &str) -> String {
    format!("zk:{zk_connect}")
}

/// `pulsar://ip:6650,ip:6650,...`: the service URL a client (the harness) connects to.
pub fn service_url(addresses: &[Ipv4Addr]) -> String {
    format!(
        "pulsar://{}",
        addresses
            .iter()
            .map(|a| format!("{a}:{BROKER_PORT}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// `pulsar://ip:6650` of each broker, for clients that move from one broker to the next.
pub fn service_urls(addresses: &[Ipv4Addr]) -> Vec<String> {
    addresses
        .iter()
        .map(|a| service_url(std::slice::from_ref(a)))
        .collect()
}

/// `http://ip:8080,ip:8080,...`: the web service URL the cluster's metadata records.
pub fn web_service_url(addresses: &[Ipv4Addr]) -> String {
    format!(
        "http://{}",
        addresses
            .iter()
            .map(|a| format!("{a}:{HTTP_PORT}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

/// `http://ip:8080`: one broker's admin REST API.
pub fn http_url(address: Ipv4Addr) -> String {
    format!("http://{address}:{HTTP_PORT}")
}

/// The one-shot job that writes the cluster's metadata (the cluster, the `public` tenant, the
/// `public/default` namespace) in ZooKeeper, for `Backend::run_once` after the BookKeeper init
/// job and before the first broker. Safe to run again: the setup keeps what exists. Exit code 0
/// means the metadata is there.
pub fn init_metadata_spec(
    image: &str,
    cluster: &str,
    zk_connect: &str,
    broker_service_url: &str,
    web_service_url: &str,
) -> ContainerSpec {
    let store = metadata_store_url(zk_connect);
    let args = [
        "bin/pulsar",
        "initialize-cluster-metadata",
        "--cluster",
        cluster,
        "--metadata-store",
        &store,
        "--configuration-metadata-store",
        &store,
        "--web-service-url",
        web_service_url,
        "--broker-service-url",
        broker_service_url,
    ];
    ContainerSpec {
        node: INIT_NODE.to_string(),
        image: image.to_string(),
        env: vec![("PULSAR_MEM".to_string(), JOB_MEM.to_string())],
        cmd: Some(args.iter().map(|a| a.to_string()).collect()),
        memory: None,
        data_dir: None,
        data_size: None,
        cap_add: Vec::new(),
        aliases: Vec::new(),
        files: Vec::new(),
    }
}

/// The container of broker `index` (1-based) of `count` in cluster `cluster`, in the Pulsar
/// image's contract. It advertises `address`, so lookups send clients (the harness on the host)
/// somewhere they can reach; writes with the scenario's quorum (default 3/2/2). The scenario's
/// `config` overrides any key; `heap` sets PULSAR_MEM (empty: the image's 2 GiB default);
/// `memory` is the container's limit.
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    count: u32,
    zk_connect: &str,
    address: Ipv4Addr,
    cluster: &str,
) -> ContainerSpec {
    let names = super::node_names(KIND, count);
    let store = metadata_store_url(zk_connect);
    let default = Quorum::default();
    let settings = BTreeMap::from(
        [
            ("metadataStoreUrl", store.clone()),
            ("configurationMetadataStoreUrl", store),
            ("clusterName", cluster.to_string()),
            ("advertisedAddress", address.to_string()),
            ("brokerServicePort", BROKER_PORT.to_string()),
            ("webServicePort", HTTP_PORT.to_string()),
            (ENSEMBLE_KEY, default.ensemble.to_string()),
            (WRITE_QUORUM_KEY, default.write.to_string()),
            (ACK_QUORUM_KEY, default.ack.to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let mut environment = env::config_env(&env::merged(settings, &spec.config));
    environment.extend(env::memory_env(
        "PULSAR_MEM",
        spec.heap.as_deref(),
        DEFAULT_PULSAR_MEM,
    ));
    ContainerSpec {
        node: names[(index - 1) as usize].clone(),
        image: image.to_string(),
        env: environment,
        // The official image's command form (it has no entrypoint of its own).
        cmd: Some(vec![
            "sh".to_string(),
            "-c".to_string(),
            "bin/apply-config-from-env.py conf/broker.conf && exec bin/pulsar broker".to_string(),
        ]),
        memory: spec.memory.map(|m| m.0),
        data_dir: None,
        data_size: None,
        cap_add: Vec::new(),
        aliases: Vec::new(),
        files: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> SystemSpec {
        toml::from_str(toml_text).unwrap()
    }

    const ZK: &str = "172.18.0.2:2181,172.18.0.3:2181";

    #[test]
    fn a_broker_advertises_its_address_and_writes_3_2_2() {
        let c = container_spec(
            &spec("nodes = 3"),
            "img",
            3,
            3,
            ZK,
            [172, 18, 0, 12].into(),
            "c1",
        );
        assert_eq!(c.node, "broker-3");
        assert_eq!(
            c.env_var("PULSAR_PREFIX_advertisedAddress"),
            Some("172.18.0.12")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_metadataStoreUrl"),
            Some("zk:172.18.0.2:2181,172.18.0.3:2181")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_configurationMetadataStoreUrl"),
            c.env_var("PULSAR_PREFIX_metadataStoreUrl")
        );
        assert_eq!(c.env_var("PULSAR_PREFIX_clusterName"), Some("c1"));
        assert_eq!(
            c.env_var("PULSAR_PREFIX_managedLedgerDefaultEnsembleSize"),
            Some("3")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_managedLedgerDefaultWriteQuorum"),
            Some("2")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_managedLedgerDefaultAckQuorum"),
            Some("2")
        );
        assert_eq!(c.env_var("PULSAR_MEM"), Some(DEFAULT_PULSAR_MEM));
        assert_eq!(c.memory, None);
        let cmd = c.cmd.unwrap().join(" ");
        assert!(cmd.ends_with("exec bin/pulsar broker"), "{cmd}");
    }

    #[test]
    fn scenario_config_overrides_the_quorum_and_adds_keys() {
        let s = spec(
            "memory = \"1GiB\"\nheap = \"-Xms2g -Xmx2g -XX:MaxDirectMemorySize=4g\"\n[config]\n\
             managedLedgerDefaultEnsembleSize = 2\nmanagedLedgerDefaultWriteQuorum = 2\n\
             managedLedgerDefaultAckQuorum = 1\nbrokerDeduplicationEnabled = true\n",
        );
        let c = container_spec(&s, "img", 1, 1, ZK, [10, 0, 0, 1].into(), "c");
        assert_eq!(
            c.env_var("PULSAR_PREFIX_managedLedgerDefaultEnsembleSize"),
            Some("2")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_managedLedgerDefaultAckQuorum"),
            Some("1")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_brokerDeduplicationEnabled"),
            Some("true")
        );
        assert_eq!(
            c.env_var("PULSAR_MEM"),
            Some("-Xms2g -Xmx2g -XX:MaxDirectMemorySize=4g")
        );
        assert_eq!(c.memory, Some(1 << 30));
        assert_eq!(
            quorum(&s).unwrap(),
            Quorum {
                ensemble: 2,
                write: 2,
                ack: 1
            }
        );
    }

    #[test]
    fn the_quorum_defaults_to_3_2_2_and_is_checked() {
        assert_eq!(quorum(&spec("nodes = 3")).unwrap(), Quorum::default());
        assert!(Quorum::default().check(3).is_ok());
        let err = Quorum::default().check(2).unwrap_err();
        assert!(err.contains("at least 3 bookies"), "{err}");
        let bad = Quorum {
            ensemble: 3,
            write: 2,
            ack: 3,
        };
        assert!(bad.check(3).unwrap_err().contains("ack quorum"));
        let text = spec("[config]\nmanagedLedgerDefaultAckQuorum = \"two\"\n");
        assert!(quorum(&text).unwrap_err().contains("whole number"));
        let as_string = spec("[config]\nmanagedLedgerDefaultAckQuorum = \"1\"\n");
        assert_eq!(quorum(&as_string).unwrap().ack, 1);
    }

    #[test]
    fn urls() {
        let a: Vec<Ipv4Addr> = vec![[10, 0, 0, 1].into(), [10, 0, 0, 2].into()];
        assert_eq!(service_url(&a), "pulsar://10.0.0.1:6650,10.0.0.2:6650");
        assert_eq!(
            service_urls(&a),
            ["pulsar://10.0.0.1:6650", "pulsar://10.0.0.2:6650"]
        );
        assert_eq!(web_service_url(&a), "http://10.0.0.1:8080,10.0.0.2:8080");
        assert_eq!(http_url(a[0]), "http://10.0.0.1:8080");
        assert_eq!(metadata_store_url("a:2181"), "zk:a:2181");
    }

    #[test]
    fn the_init_job_names_the_cluster_and_both_stores() {
        let c = init_metadata_spec("img", "c1", ZK, "pulsar://x:6650", "http://x:8080");
        assert_eq!(c.node, INIT_NODE);
        let cmd = c.cmd.unwrap();
        assert_eq!(&cmd[..2], ["bin/pulsar", "initialize-cluster-metadata"]);
        let arg = |flag: &str| {
            let i = cmd.iter().position(|a| a == flag).unwrap();
            cmd[i + 1].clone()
        };
        assert_eq!(arg("--cluster"), "c1");
        assert_eq!(
            arg("--metadata-store"),
            "zk:172.18.0.2:2181,172.18.0.3:2181"
        );
        assert_eq!(
            arg("--configuration-metadata-store"),
            arg("--metadata-store")
        );
        assert_eq!(arg("--broker-service-url"), "pulsar://x:6650");
        assert_eq!(arg("--web-service-url"), "http://x:8080");
        assert_eq!(
            ContainerSpec { cmd: None, ..c }.env_var("PULSAR_MEM"),
            Some(JOB_MEM)
        );
    }
}

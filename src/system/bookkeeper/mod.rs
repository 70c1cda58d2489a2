//! BookKeeper bookies, run from the Pulsar image as apachepulsar/pulsar runs them: the container
//! of a bookie, the cluster-metadata init job, and (in `admin`) readiness, registration and
//! ledger ensembles over the bookie's HTTP admin API, and (in `rejoin`) the upgrade rejoin
//! condition. The only place that knows a bookie's ports and config keys.

mod admin;
mod probe;
mod rejoin;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use futures_util::future::BoxFuture;

use super::protocol::{self, Deploy, Memory, Probe, System};
use crate::backend::ContainerSpec;
use crate::history::Recorder;
use crate::scenario::{SystemKind, SystemSpec};

use super::config_keys::{KnownKey, flag, fraction, port, whole};
use super::pulsar::env;

pub use admin::{
    Readiness, Registered, Registration, force_gc, gc_running, is_ready, ledger_ensemble,
    list_bookies, registration, wait_ready,
};
pub use probe::sample_bookies;
pub use rejoin::rejoined;

/// BookKeeper in the registry.
pub const KIND: SystemKind = SystemKind::of(&BookKeeper);

/// BookKeeper bookies: metaformat before they start, ready once registered writable, rejoined
/// when registered again after an upgrade step.
pub struct BookKeeper;

impl System for BookKeeper {
    fn name(&self) -> &'static str {
        "bookkeeper"
    }

    fn node_prefix(&self) -> &'static str {
        "bookie"
    }

    fn default_version(&self) -> &'static str {
        "4.16"
    }

    fn needs(&self) -> &'static [SystemKind] {
        &[super::zookeeper::KIND]
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(BOOKIE_PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // Journal files (preallocated 16 MiB each), entry logs and the RocksDB index: every
        // message lands on each bookie of its write quorum.
        2 << 30
    }

    fn init_spec(&self, deploy: &Deploy) -> Option<ContainerSpec> {
        Some(init_spec(
            deploy.image,
            &deploy.wiring.connect(super::zookeeper::KIND),
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
        )
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            let ready = wait_ready(&ready.started_nodes(), ready.timeout).await?;
            Ok(Some(format!(
                "{} bookies registered writable",
                ready.registered.writable.len()
            )))
        })
    }

    fn monitor(&self, nodes: Vec<(String, Ipv4Addr)>, recorder: Recorder) -> Option<Probe> {
        Some(Box::pin(sample_bookies(nodes, recorder)))
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
            Ok(serde_json::json!({ "bookie_id": r.id, "writable": r.writable }))
        })
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        vec![(
            "CHAOSBED_BOOKIES",
            super::client_env::each(addresses, BOOKIE_PORT),
        )]
    }

    fn memory(&self) -> Memory {
        Memory::flags(
            &["BOOKIE_MEM", "PULSAR_MEM"],
            Some(IMAGE_DEFAULT_BOOKIE_MEM),
        )
    }

    fn refused_data<'l>(&self, log: &'l str) -> Option<crate::diagnose::DataProblem<'l>> {
        crate::diagnose::bookie_data(log)
    }
}

/// The bookie protocol port; a bookie's id is `address:BOOKIE_PORT`.
pub const BOOKIE_PORT: u16 = 3181;
/// bookkeeper.conf keys whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    fraction(
        "diskUsageThreshold",
        "the share of a disk at which the bookie turns read-only",
    ),
    fraction(
        "diskUsageWarnThreshold",
        "the share of a disk at which the bookie warns",
    ),
    flag(
        "journalSyncData",
        "fsync of the journal before an entry is acknowledged",
    ),
    flag("journalWriteData", "writing entries to the journal at all"),
    flag("autoRecoveryDaemonEnabled", "re-replication by the bookies"),
    flag(
        "readOnlyModeEnabled",
        "turning read-only instead of stopping when a disk fills",
    ),
    whole(
        "zkTimeout",
        1,
        "milliseconds of the bookie's ZooKeeper session",
    ),
    whole("gcWaitTime", 1, "milliseconds between garbage collections"),
    whole(
        "journalMaxGroupWaitMSec",
        0,
        "milliseconds an entry waits to be grouped",
    ),
    whole("flushInterval", 1, "milliseconds between ledger flushes"),
    port("bookiePort", "the bookie's port"),
];
/// The bookie's HTTP admin API (`/api/v1/...`), which also serves `/metrics`.
pub const HTTP_PORT: u16 = 8000;
/// The data volume: journal in `bookkeeper/journal`, ledgers in `bookkeeper/ledgers` under it
/// (the image's config file, and the official image's, name them relative to /pulsar).
pub const DATA_DIR: &str = "/pulsar/data";
/// The ZooKeeper path under which bookies register and ledgers live.
pub const LEDGERS_ROOT: &str = "/ledgers";
/// Node name of the one-shot init job.
pub const INIT_NODE: &str = "bookie-init";
/// BOOKIE_MEM when neither it nor PULSAR_MEM is given, in the official image and ours.
pub const IMAGE_DEFAULT_BOOKIE_MEM: &str = "-Xms2g -Xmx2g -XX:MaxDirectMemorySize=2g";

/// Small enough for 3 bookies beside 3 brokers and 3 ZooKeepers on one machine; DbLedgerStorage
/// sizes its write and read-ahead caches at a quarter of the direct memory each. C1 only, as
/// the brokers' default (see there).
const DEFAULT_BOOKIE_MEM: &str =
    "-Xms128m -Xmx256m -XX:MaxDirectMemorySize=256m -XX:TieredStopAtLevel=1";
/// For the init job's BookKeeper shell.
const JOB_MEM: &str = "-Xms64m -Xmx128m -XX:TieredStopAtLevel=1";

/// `zk+hierarchical://a:2181;b:2181/ledgers` for a ZooKeeper connect string `a:2181,b:2181`.
pub fn metadata_service_uri(zk_connect: &str) -> String {
    format!(
        "zk+hierarchical://{}{LEDGERS_ROOT}",
        zk_connect.replace(',', ";")
    )
}

/// The id a bookie at `address` registers under (it advertises its address, not its name).
pub fn bookie_id(address: Ipv4Addr) -> String {
    format!("{address}:{BOOKIE_PORT}")
}

/// Where the bookies find their metadata, as config keys.
fn metadata_settings(zk_connect: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "metadataServiceUri".to_string(),
            metadata_service_uri(zk_connect),
        ),
        ("zkServers".to_string(), zk_connect.to_string()),
        ("zkLedgersRootPath".to_string(), LEDGERS_ROOT.to_string()),
    ])
}

/// The container of bookie `index` (1-based) of `count`, in the Pulsar image's contract: it
/// advertises `address` (its id is `address:3181`, reachable by brokers and the harness), keeps
/// journal and ledgers on the data volume, and serves its HTTP admin API on [`HTTP_PORT`].
/// The scenario's `config` overrides any key; `heap` sets BOOKIE_MEM (empty: the image default);
/// `memory` is the container's limit.
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    count: u32,
    zk_connect: &str,
    address: Ipv4Addr,
) -> ContainerSpec {
    let names = super::node_names(KIND, count);
    let mut settings = metadata_settings(zk_connect);
    settings.extend([
        ("advertisedAddress".to_string(), address.to_string()),
        ("bookiePort".to_string(), BOOKIE_PORT.to_string()),
        ("httpServerEnabled".to_string(), "true".to_string()),
        ("httpServerPort".to_string(), HTTP_PORT.to_string()),
    ]);
    let mut environment = env::config_env(&env::merged(settings, &spec.config));
    environment.extend(env::memory_env(
        "BOOKIE_MEM",
        spec.heap.as_deref(),
        DEFAULT_BOOKIE_MEM,
    ));
    ContainerSpec {
        node: names[(index - 1) as usize].clone(),
        image: image.to_string(),
        env: environment,
        // The official image's command form (it has no entrypoint of its own).
        cmd: Some(shell(
            "bin/apply-config-from-env.py conf/bookkeeper.conf && exec bin/pulsar bookie",
        )),
        memory: spec.memory.map(|m| m.0),
        data_dir: Some(DATA_DIR.to_string()),
        data_size: None,
        cap_add: Vec::new(),
        aliases: Vec::new(),
        files: Vec::new(),
    }
}

/// The one-shot job that creates the BookKeeper cluster's metadata in ZooKeeper, for
/// `Backend::run_once` before the first bookie starts. Safe to run again: when the cluster
/// already has an instance id it changes nothing (`whatisinstanceid`, else `initnewcluster`,
/// which refuses to overwrite). Exit code 0 means the metadata is there.
pub fn init_spec(image: &str, zk_connect: &str) -> ContainerSpec {
    let mut environment = env::config_env(&metadata_settings(zk_connect));
    environment.push(("BOOKIE_MEM".to_string(), JOB_MEM.to_string()));
    environment.push(("PULSAR_MEM".to_string(), JOB_MEM.to_string()));
    ContainerSpec {
        node: INIT_NODE.to_string(),
        image: image.to_string(),
        env: environment,
        cmd: Some(shell(
            "bin/apply-config-from-env.py conf/bookkeeper.conf \
             && if bin/bookkeeper shell whatisinstanceid; then \
                  echo 'BookKeeper cluster metadata already initialised'; \
                else exec bin/bookkeeper shell initnewcluster; fi",
        )),
        memory: None,
        data_dir: None,
        data_size: None,
        cap_add: Vec::new(),
        aliases: Vec::new(),
        files: Vec::new(),
    }
}

fn shell(script: &str) -> Vec<String> {
    vec!["sh".to_string(), "-c".to_string(), script.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_text: &str) -> SystemSpec {
        toml::from_str(toml_text).unwrap()
    }

    const ZK: &str = "172.18.0.2:2181,172.18.0.3:2181,172.18.0.4:2181";

    #[test]
    fn a_bookie_advertises_its_address_and_finds_zookeeper() {
        let c = container_spec(&spec("nodes = 3"), "img", 2, 3, ZK, [172, 18, 0, 6].into());
        assert_eq!(c.node, "bookie-2");
        assert_eq!(c.image, "img");
        assert_eq!(
            c.env_var("PULSAR_PREFIX_advertisedAddress"),
            Some("172.18.0.6")
        );
        assert_eq!(
            c.env_var("PULSAR_PREFIX_metadataServiceUri"),
            Some("zk+hierarchical://172.18.0.2:2181;172.18.0.3:2181;172.18.0.4:2181/ledgers")
        );
        assert_eq!(c.env_var("PULSAR_PREFIX_zkServers"), Some(ZK));
        assert_eq!(c.env_var("PULSAR_PREFIX_httpServerEnabled"), Some("true"));
        assert_eq!(c.env_var("PULSAR_PREFIX_httpServerPort"), Some("8000"));
        assert_eq!(c.env_var("BOOKIE_MEM"), Some(DEFAULT_BOOKIE_MEM));
        assert_eq!(c.data_dir.as_deref(), Some("/pulsar/data"));
        let cmd = c.cmd.unwrap().join(" ");
        assert!(cmd.contains("exec bin/pulsar bookie"), "{cmd}");
        assert!(
            cmd.contains("apply-config-from-env.py conf/bookkeeper.conf"),
            "{cmd}"
        );
    }

    #[test]
    fn scenario_config_heap_and_memory_pass_through() {
        let c = container_spec(
            &spec(
                "memory = \"1GiB\"\nheap = \"-Xmx2g\"\n[config]\ndiskUsageThreshold = 0.99\n\
                 httpServerPort = 8001\n",
            ),
            "img",
            1,
            3,
            ZK,
            [172, 18, 0, 5].into(),
        );
        assert_eq!(c.memory, Some(1 << 30));
        assert_eq!(c.env_var("BOOKIE_MEM"), Some("-Xmx2g"));
        assert_eq!(c.env_var("PULSAR_PREFIX_diskUsageThreshold"), Some("0.99"));
        assert_eq!(c.env_var("PULSAR_PREFIX_httpServerPort"), Some("8001"));
        // Every key once.
        let keys: std::collections::BTreeSet<_> = c.env.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), c.env.len());
    }

    #[test]
    fn an_empty_heap_keeps_the_image_default() {
        let c = container_spec(&spec("heap = \"\""), "img", 1, 1, ZK, [10, 0, 0, 1].into());
        assert_eq!(c.env_var("BOOKIE_MEM"), None);
    }

    #[test]
    fn the_init_job_never_overwrites_an_existing_cluster() {
        let c = init_spec("img", ZK);
        assert_eq!(c.node, INIT_NODE);
        assert_eq!(c.data_dir, None);
        let script = c.cmd.clone().unwrap().join(" ");
        let check = script.find("whatisinstanceid").unwrap();
        let init = script.find("initnewcluster").unwrap();
        assert!(check < init, "{script}");
        assert!(!script.contains("metaformat"), "{script}");
        assert!(c.env_var("PULSAR_PREFIX_metadataServiceUri").is_some());
    }

    #[test]
    fn ids_and_uris() {
        assert_eq!(bookie_id([172, 18, 0, 9].into()), "172.18.0.9:3181");
        assert_eq!(
            metadata_service_uri("a:2181"),
            "zk+hierarchical://a:2181/ledgers"
        );
    }
}

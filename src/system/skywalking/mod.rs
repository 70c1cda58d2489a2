//! SkyWalking OAP: the official image's SW_* contract, cluster membership in ZooKeeper,
//! readiness and the GraphQL query API.

pub mod graphql;
pub mod membership;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::future::BoxFuture;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};

use super::config_keys::{KnownKey, flag, one_of, port, whole};
use super::protocol::{self, Deploy, Memory, System, Trouble, Unreachable};
use super::{Wiring, opensearch, postgres, zookeeper};

/// SkyWalking in the registry.
pub const KIND: SystemKind = SystemKind::of(&Skywalking);

/// SkyWalking OAP nodes: a schema job before they start, clustered over ZooKeeper, ready once
/// GraphQL answers and ZooKeeper lists them with dialable addresses.
pub struct Skywalking;

impl System for Skywalking {
    fn name(&self) -> &'static str {
        "skywalking"
    }

    fn node_prefix(&self) -> &'static str {
        "oap"
    }

    fn default_version(&self) -> &'static str {
        "9.6"
    }

    fn needs(&self) -> &'static [SystemKind] {
        &[zookeeper::KIND]
    }

    fn needs_one_of(&self) -> &'static [SystemKind] {
        &[postgres::KIND, opensearch::KIND]
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(GRPC_PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // An OAP stores nothing locally: its log.
        256 << 20
    }

    fn init_spec(&self, deploy: &Deploy) -> Option<ContainerSpec> {
        Some(init_spec(deploy.spec, deploy.image, deploy.wiring))
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(deploy.spec, deploy.image, index, deploy.wiring)
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            let zk = zookeeper::connect_string(&ready.addresses_of(zookeeper::KIND));
            let ready = wait_ready(&ready.started_nodes(), &zk, ready.timeout).await?;
            let members: Vec<String> = ready.members.iter().map(|m| m.to_string()).collect();
            Ok(Some(format!(
                "members in ZooKeeper: {}",
                members.join(", ")
            )))
        })
    }

    fn rejoins(&self) -> bool {
        true
    }

    // A newer OAP may add tables or columns; its nodes run `-Dmode=no-init`, so its schema job
    // runs before the first node rolls.
    fn init_on_upgrade(&self) -> bool {
        true
    }

    fn rejoined<'a>(
        &'a self,
        rejoining: protocol::Rejoining<'a>,
    ) -> BoxFuture<'a, Result<serde_json::Value, String>> {
        Box::pin(rejoined(rejoining))
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        use super::client_env::{each, first_url};
        vec![
            ("CHAOSBED_SKYWALKING_GRPC", each(addresses, GRPC_PORT)),
            (
                "CHAOSBED_SKYWALKING_GRAPHQL",
                first_url(addresses, HTTP_PORT, "/graphql"),
            ),
        ]
    }

    fn memory(&self) -> Memory {
        Memory::flags(&["JAVA_OPTS"], None)
    }

    fn storage_unreachable<'l>(&self, log: &'l str) -> Option<Unreachable<'l>> {
        let search = search_store_unreachable(log);
        if !search.is_empty() {
            return Some(Unreachable {
                storage: "OpenSearch",
                lines: search,
                advice: "check that the OpenSearch nodes are up and their cluster green, and \
                         that SW_STORAGE_ES_CLUSTER_NODES names them",
            });
        }
        Some(Unreachable {
            storage: "PostgreSQL",
            lines: crate::diagnose::postgres_unreachable(log),
            advice: "check that PostgreSQL is up and SW_JDBC_URL names it",
        })
    }

    // An OAP on the Elasticsearch storage keeps running and answering agents while its store is
    // gone, and drops what its bulk writer cannot flush: worth naming though nothing exited.
    fn running_trouble<'l>(&self, log: &'l str) -> Option<Trouble<'l>> {
        let lines = search_store_unreachable(log);
        let last = *lines.last()?;
        Some(Trouble {
            cause: crate::diagnose::Cause::StorageUnreachable,
            explanation: format!(
                "kept running and taking traces while it could not reach its storage, OpenSearch \
                 (\"{}\"): what its bulk writer could not flush meanwhile was dropped, while its \
                 agents saw no error",
                crate::diagnose::quote(last)
            ),
            lines,
        })
    }
}

/// What the OAP's Elasticsearch client logs when no node of its store answers: the bulk writer
/// failing, the health-checked endpoint group empty, connections to 9200 refused or timing out.
const SEARCH_STORE_PHRASES: &[&str] = &[
    "flush data to ES failure",
    "Failed to execute requests in bulk",
    "HealthCheckedEndpointGroup{endpoints=[]",
    "Health check fails. reason: No healthy endpoint",
];

/// Lines of an OAP's log saying its Elasticsearch-compatible store could not be reached.
fn search_store_unreachable(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| SEARCH_STORE_PHRASES.iter().any(|p| line.contains(p)))
        .collect()
}

/// Agents report here (gRPC).
pub const GRPC_PORT: u16 = 11800;
/// SW_* variables whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    one_of(
        "SW_CLUSTER",
        &[
            "zookeeper",
            "standalone",
            "kubernetes",
            "consul",
            "etcd",
            "nacos",
        ],
        "the cluster coordinator",
    ),
    one_of(
        "SW_STORAGE",
        &[
            "postgresql",
            "h2",
            "mysql",
            "mysql-sharding",
            "elasticsearch",
            "banyandb",
        ],
        "the storage the OAP writes to",
    ),
    port("SW_CORE_GRPC_PORT", "the agents' gRPC port"),
    port("SW_CORE_REST_PORT", "the HTTP port of GraphQL"),
    whole("SW_CORE_RECORD_DATA_TTL", 1, "days traces are kept"),
    whole("SW_CORE_METRICS_DATA_TTL", 1, "days metrics are kept"),
    whole(
        "SW_CLUSTER_ZK_SLEEP_TIME",
        1,
        "milliseconds between ZooKeeper retries",
    ),
    whole("SW_CLUSTER_ZK_MAX_RETRIES", 0, "ZooKeeper retries"),
    whole(
        "SW_CORE_GRPC_THREAD_POOL_SIZE",
        0,
        "threads, 0 for the default",
    ),
    flag(
        "SW_CORE_ENABLE_DATA_KEEPER_EXECUTOR",
        "deleting expired data",
    ),
];
/// GraphQL queries and health (HTTP).
pub const HTTP_PORT: u16 = 12800;
/// The service name the trace workload reports as.
pub const SERVICE: &str = "chaosbed-traces";
/// The official image's variable for the address a node advertises to its cluster peers.
pub const ADVERTISED_HOST_VARIABLE: &str = "SW_CLUSTER_INTERNAL_COM_HOST";
/// The image's default JVM flags (C1 only: see its Dockerfile).
const DEFAULT_HEAP: &str = "-Xms256m -Xmx512m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1";
/// The init job's name: one OAP in `-Dmode=init` creates the tables, then exits.
pub const INIT_NODE: &str = "oap-init";

/// Receivers and analyzers the trace workload does not use, switched off by default through the
/// official image's variables: with them, one OAP took 51 s to become ready and about 800 MiB;
/// without, 22 s and 540 MiB (the OpenTelemetry rules alone took about 56 s of a cluster's start).
/// A scenario's `config` can switch any of them back on.
const LIGHT: [(&str, &str); 12] = [
    ("SW_OTEL_RECEIVER", "-"),
    ("SW_RECEIVER_AWS_FIREHOSE", "-"),
    ("SW_ENVOY_METRIC", "-"),
    ("SW_SERVICE_MESH", "-"),
    ("SW_RECEIVER_TELEGRAF", "-"),
    ("SW_RECEIVER_EBPF", "-"),
    ("SW_RECEIVER_BROWSER", "-"),
    ("SW_RECEIVER_CLR", "-"),
    ("SW_PROMQL", "-"),
    ("SW_LOGQL", "-"),
    ("SW_METER_ANALYZER_ACTIVE_FILES", ""),
    ("SW_LOG_LAL_FILES", "default"),
];

/// The schema job: the nodes' settings (each enabled module creates its own tables) with
/// `-Dmode=init`. Three OAPs starting together on an empty database race to create the same
/// tables and all but one exit ("relation ... already exists"); so one job creates them and the
/// nodes start with `-Dmode=no-init`.
pub fn init_spec(spec: &SystemSpec, image: &str, wiring: &Wiring) -> ContainerSpec {
    let mut job = node_spec(spec, image, INIT_NODE.to_string(), wiring, "init");
    job.memory = None;
    // Only the storage matters; a clustered job would leave its registration behind.
    job.env.retain(|(k, _)| k != "SW_CLUSTER");
    job.env.push(("SW_CLUSTER".into(), "standalone".into()));
    job
}

/// The container of OAP node `index`: clustered over ZooKeeper, storing in the run's PostgreSQL,
/// and advertising its own node name to its peers. A scenario's `config` keys are SW_* variables
/// of the official image (`SW_CORE_PERSISTENT_PERIOD = 5`).
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    wiring: &Wiring,
) -> ContainerSpec {
    let node = super::node_name(KIND, index);
    node_spec(spec, image, node, wiring, "no-init")
}

/// The storage settings of the official image's contract: OpenSearch through the Elasticsearch
/// storage when the topology has it, else the run's PostgreSQL.
fn storage_env(wiring: &Wiring) -> Vec<(&'static str, String)> {
    if !wiring.names(opensearch::KIND).is_empty() {
        return vec![
            ("SW_STORAGE", "elasticsearch".to_string()),
            (
                "SW_STORAGE_ES_CLUSTER_NODES",
                wiring.connect(opensearch::KIND),
            ),
        ];
    }
    let store = wiring
        .names(postgres::KIND)
        .first()
        .map_or("pg-1", String::as_str);
    vec![
        ("SW_STORAGE", "postgresql".to_string()),
        ("SW_JDBC_URL", postgres::jdbc_url(store)),
        ("SW_DATA_SOURCE_USER", postgres::USER.to_string()),
        ("SW_DATA_SOURCE_PASSWORD", postgres::PASSWORD.to_string()),
    ]
}

fn node_spec(
    spec: &SystemSpec,
    image: &str,
    node: String,
    wiring: &Wiring,
    mode: &str,
) -> ContainerSpec {
    let heap = spec
        .heap
        .clone()
        .unwrap_or_else(|| DEFAULT_HEAP.to_string());
    let mut env: Vec<(String, String)> = [
        ("SW_CLUSTER", "zookeeper".to_string()),
        ("SW_CLUSTER_ZK_HOST_PORT", wiring.connect(zookeeper::KIND)),
        (ADVERTISED_HOST_VARIABLE, node.clone()),
        ("SW_CLUSTER_INTERNAL_COM_PORT", GRPC_PORT.to_string()),
        ("JAVA_OPTS", format!("{heap} -Dmode={mode}")),
    ]
    .into_iter()
    .chain(storage_env(wiring))
    .chain(LIGHT.iter().map(|(k, v)| (*k, v.to_string())))
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (key, value) in &spec.config {
        let value = crate::system::config_text(value.get_ref());
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value));
    }
    ContainerSpec {
        node,
        image: image.to_string(),
        env,
        memory: spec.memory.map(|m| m.0),
        ..Default::default()
    }
}

const POLL: Duration = Duration::from_secs(1);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// An OAP restarted by an upgrade step has rejoined once it answers GraphQL and ZooKeeper lists
/// it under its own name, registered since it was taken down, at an address its peers can dial.
pub async fn rejoined(rejoining: protocol::Rejoining<'_>) -> Result<serde_json::Value, String> {
    let node = rejoining.node;
    let Some((_, address)) = rejoining.nodes.iter().find(|(n, _)| n == node) else {
        return Err(format!("{node} is not an OAP node of this run"));
    };
    let time = graphql::ready(node, *address, ASK_TIMEOUT)
        .await
        .map_err(|e| format!("{node} does not answer GraphQL yet: {e:#}"))?;
    let zk = zookeeper::connect_string(&rejoining.addresses_of(zookeeper::KIND));
    let members = membership::members(&zk)
        .await
        .map_err(|e| format!("listing the OAP members: {e:#}"))?;
    let member = judge_rejoin(node, &members, rejoining.since_ms)?;
    Ok(serde_json::json!({
        "graphql": format!("answers (time zone {})", time.timezone),
        "registered_as": member.to_string(),
        "registered_ms": member.registered_ms,
        "members": members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
    }))
}

/// The registration of `node` made since `since_ms`, or why there is none.
pub fn judge_rejoin<'m>(
    node: &str,
    members: &'m [membership::Member],
    since_ms: u64,
) -> Result<&'m membership::Member, String> {
    let mine: Vec<&membership::Member> = members.iter().filter(|m| m.host == node).collect();
    if let Some(fresh) = mine
        .iter()
        .find(|m| m.registered_ms.is_none_or(|at| at >= since_ms))
    {
        return Ok(fresh);
    }
    let listed: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    Err(if mine.is_empty() {
        format!(
            "ZooKeeper lists no registration of {node} under {} (it lists: {})",
            membership::REMOTE_PATH,
            listed.join(", ")
        )
    } else {
        format!(
            "ZooKeeper lists only {node}'s registration from before it was taken down (its old \
             session has not expired yet)"
        )
    })
}

/// What readiness found.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub elapsed: Duration,
    pub members: Vec<membership::Member>,
}

/// Polls until every node in `nodes` answers GraphQL and ZooKeeper (at `zk_connect`, addresses
/// the harness reaches) lists at least as many members, each with an address its peers can dial.
/// A member advertising the wildcard or the loopback fails at once, naming the address.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    zk_connect: &str,
    timeout: Duration,
) -> anyhow::Result<Readiness> {
    let begin = Instant::now();
    loop {
        let mut waiting = Vec::new();
        for (name, address) in nodes {
            if let Err(e) = graphql::ready(name, *address, ASK_TIMEOUT).await {
                waiting.push(format!("{name}: {e:#}"));
            }
        }
        let members = match membership::members(zk_connect).await {
            Ok(members) => members,
            Err(e) => {
                waiting.push(format!("membership: {e:#}"));
                Vec::new()
            }
        };
        let unusable: Vec<String> = members
            .iter()
            .filter(|m| m.is_unusable())
            .map(|m| m.to_string())
            .collect();
        if waiting.is_empty() && !unusable.is_empty() {
            bail!(
                "OAP nodes registered in ZooKeeper ({}) with {}: an address no peer can dial, so \
                 each node that sends to it talks to itself; set SW_CLUSTER_INTERNAL_COM_HOST \
                 to the node's own reachable address",
                membership::REMOTE_PATH,
                unusable.join(", ")
            );
        }
        if waiting.is_empty() && members.len() >= nodes.len() {
            return Ok(Readiness {
                elapsed: begin.elapsed(),
                members,
            });
        }
        if waiting.is_empty() {
            waiting.push(format!(
                "{} of {} OAP nodes registered in {}",
                members.len(),
                nodes.len(),
                membership::REMOTE_PATH
            ));
        }
        if begin.elapsed() >= timeout {
            bail!(
                "the OAP cluster was not ready after {timeout:?}: {}; see the diagnosis and the \
                 nodes' logs",
                waiting.join("; ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(host: &str, registered_ms: Option<u64>) -> membership::Member {
        membership::Member {
            host: host.into(),
            port: GRPC_PORT,
            registered_ms,
        }
    }

    #[test]
    fn a_rolled_oap_rejoins_only_with_a_registration_made_since_it_went_down() {
        let members = [member("oap-1", Some(900)), member("oap-2", Some(2_000))];
        assert_eq!(
            judge_rejoin("oap-2", &members, 1_000).unwrap().to_string(),
            "oap-2:11800"
        );
        let stale = judge_rejoin("oap-1", &members, 1_000).unwrap_err();
        assert!(stale.contains("from before it was taken down"), "{stale}");
        let missing = judge_rejoin("oap-3", &members, 1_000).unwrap_err();
        assert!(missing.contains("no registration of oap-3"), "{missing}");
    }

    #[test]
    fn opensearch_in_the_topology_is_the_oaps_storage() {
        let es = Wiring::of([(zookeeper::KIND, 3), (opensearch::KIND, 3), (KIND, 3)]);
        let c = container_spec(&toml::from_str("nodes = 3").unwrap(), "img", 1, &es);
        assert_eq!(c.env_var("SW_STORAGE"), Some("elasticsearch"));
        assert_eq!(
            c.env_var("SW_STORAGE_ES_CLUSTER_NODES"),
            Some("os-1:9200,os-2:9200,os-3:9200")
        );
        assert_eq!(c.env_var("SW_JDBC_URL"), None);
    }

    #[test]
    fn an_unreachable_search_store_is_named_from_the_es_clients_lines() {
        let log = "2026-12-06 12:26:31,002 - org.apache.skywalking.library.elasticsearch.bulk.BulkProcessor - 112 [ElasticSearch BulkProcessor] ERROR [] - flush data to ES failure:\n\
                   com.linecorp.armeria.client.endpoint.EndpointSelectionTimeoutException: Failed to select within 3200 ms an endpoint from: HealthCheckedEndpointGroup{endpoints=[], numEndpoints=0}\n";
        let unreachable = Skywalking.storage_unreachable(log).unwrap();
        assert_eq!(unreachable.storage, "OpenSearch");
        assert_eq!(unreachable.lines.len(), 2);
        let trouble = Skywalking.running_trouble(log).unwrap();
        assert_eq!(trouble.cause, crate::diagnose::Cause::StorageUnreachable);
        assert!(Skywalking.running_trouble("started\n").is_none());
        let pg = Skywalking.storage_unreachable("started\n").unwrap();
        assert_eq!(pg.storage, "PostgreSQL");
    }

    fn wiring() -> Wiring {
        Wiring::of([(zookeeper::KIND, 3), (postgres::KIND, 1), (KIND, 3)])
    }

    #[test]
    fn clusters_over_zookeeper_and_advertises_its_own_name() {
        let spec: SystemSpec = toml::from_str("[config]\nSW_CORE_PERSISTENT_PERIOD = 5\n").unwrap();
        let c = container_spec(&spec, "img", 2, &wiring());
        assert_eq!(c.node, "oap-2");
        assert_eq!(c.env_var("SW_CLUSTER"), Some("zookeeper"));
        assert_eq!(c.env_var("SW_CLUSTER_INTERNAL_COM_HOST"), Some("oap-2"));
        assert_eq!(
            c.env_var("SW_JDBC_URL"),
            Some("jdbc:postgresql://pg-1:5432/skywalking")
        );
        assert_eq!(c.env_var("SW_CORE_PERSISTENT_PERIOD"), Some("5"));
    }

    #[test]
    fn one_job_creates_the_schema_and_the_nodes_skip_it() {
        let spec: SystemSpec = toml::from_str("heap = \"-Xmx1g\"").unwrap();
        let job = init_spec(&spec, "img", &wiring());
        assert_eq!(job.node, INIT_NODE);
        assert_eq!(job.env_var("JAVA_OPTS"), Some("-Xmx1g -Dmode=init"));
        assert_eq!(job.env_var("SW_CLUSTER"), Some("standalone"));
        let node = container_spec(&spec, "img", 1, &wiring());
        assert_eq!(node.env_var("JAVA_OPTS"), Some("-Xmx1g -Dmode=no-init"));
        assert_eq!(node.env_var("SW_OTEL_RECEIVER"), Some("-"));
    }

    #[test]
    fn a_config_key_replaces_chaosbeds_own() {
        let spec: SystemSpec =
            toml::from_str("[config]\nSW_CLUSTER_INTERNAL_COM_HOST = \"0.0.0.0\"\n").unwrap();
        let c = container_spec(&spec, "img", 1, &wiring());
        assert_eq!(c.env_var("SW_CLUSTER_INTERNAL_COM_HOST"), Some("0.0.0.0"));
    }
}

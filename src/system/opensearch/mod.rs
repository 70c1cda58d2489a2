//! OpenSearch, the Elasticsearch-compatible storage SkyWalking's OAP can run on: the official
//! opensearchproject/opensearch image's environment contract (settings as dotted variables,
//! OPENSEARCH_JAVA_OPTS), readiness from cluster health, and the log phrases of a node whose disk
//! passed the flood-stage watermark or whose cluster went red.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::config_keys::{KnownKey, one_of, whole};
use super::protocol::{self, Deploy, Memory, System, Trouble};
use super::{client_env, http};
use crate::backend::ContainerSpec;
use crate::diagnose::Cause;
use crate::image::{self, ImageSpec};
use crate::scenario::{SystemKind, SystemSpec};

/// OpenSearch in the registry.
pub const KIND: SystemKind = SystemKind::of(&OpenSearch);

/// The REST port (the OAP's SW_STORAGE_ES_CLUSTER_NODES, cluster health).
pub const HTTP_PORT: u16 = 9200;
/// The cluster name chaosbed gives the nodes.
pub const CLUSTER: &str = "chaosbed";
/// The variable the image takes its JVM flags from, and chaosbed's default: three nodes beside
/// three OAPs and three ZooKeepers on a 2-core host.
pub const HEAP_VARIABLE: &str = "OPENSEARCH_JAVA_OPTS";
pub const DEFAULT_HEAP: &str = "-Xms256m -Xmx256m -XX:TieredStopAtLevel=1";
const DATA_DIR: &str = "/usr/share/opensearch/data";
const POLL: Duration = Duration::from_secs(1);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Settings whose values chaosbed checks at validation (a scenario's `config` keys are
/// opensearch.yml settings, passed as the image's dotted variables).
pub const CONFIG_KEYS: &[KnownKey] = &[
    one_of(
        "cluster.routing.allocation.disk.threshold_enabled",
        &["true", "false"],
        "whether disk watermarks apply at all",
    ),
    whole(
        "cluster.max_shards_per_node",
        1,
        "shards a node may hold before index creation fails",
    ),
    one_of(
        "action.auto_create_index",
        &["true", "false"],
        "whether a write to a missing index creates it",
    ),
];

/// OpenSearch 2.19.x from Maven Central, laid out like opensearchproject/opensearch
/// (fixtures/images/opensearch-2.19): the newest line that runs on Java 17.
const IMAGES: &[ImageSpec] = &[ImageSpec {
    name: "opensearch-2.19",
    system: "opensearch",
    version: "2.19.6",
    repository: "chaosbed/opensearch",
    kind: image::Kind::Dockerfile,
    role: image::Role::System,
    context: Some("opensearch-2.19"),
    shared: &[],
    parent: Some("jre"),
    maven: true,
    release: None,
    pom: None,
}];

/// An OpenSearch cluster: every node cluster-manager eligible and a data node, ready once
/// cluster health is green with every started node joined.
pub struct OpenSearch;

impl System for OpenSearch {
    fn name(&self) -> &'static str {
        "opensearch"
    }

    fn node_prefix(&self) -> &'static str {
        "os"
    }

    fn default_version(&self) -> &'static str {
        "2.19"
    }

    fn images(&self) -> &'static [ImageSpec] {
        IMAGES
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(HTTP_PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // SkyWalking's daily indices, their translog and the node's logs.
        512 << 20
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(deploy.spec, deploy.image, index, deploy.wiring.names(KIND))
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            let started = ready.started_nodes();
            wait_ready(&started, ready.timeout).await?;
            Ok(Some(format!("green, {} nodes", started.len())))
        })
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        vec![(
            "CHAOSBED_OPENSEARCH",
            client_env::first_url(addresses, HTTP_PORT, ""),
        )]
    }

    fn memory(&self) -> Memory {
        Memory::flags(&[HEAP_VARIABLE], Some(DEFAULT_HEAP))
    }

    fn zookeeper_client(&self) -> bool {
        false
    }

    fn running_trouble<'l>(&self, log: &'l str) -> Option<Trouble<'l>> {
        flood_stage(log).or_else(|| red(log))
    }
}

/// The container of node `index` of the cluster whose nodes are `names`: every node seeds from
/// all and may be elected cluster manager (one node is a single-node cluster). A scenario's
/// `config` keys are settings, set as the image's dotted variables; `heap` replaces
/// OPENSEARCH_JAVA_OPTS.
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    names: &[String],
) -> ContainerSpec {
    let node = super::node_name(KIND, index);
    let heap = spec
        .heap
        .clone()
        .unwrap_or_else(|| DEFAULT_HEAP.to_string());
    let mut env: Vec<(String, String)> = vec![
        ("cluster.name".into(), CLUSTER.into()),
        ("node.name".into(), node.clone()),
        ("bootstrap.memory_lock".into(), "false".into()),
        (HEAP_VARIABLE.into(), heap),
        ("DISABLE_SECURITY_PLUGIN".into(), "true".into()),
    ];
    if names.len() <= 1 {
        env.push(("discovery.type".into(), "single-node".into()));
    } else {
        env.push(("discovery.seed_hosts".into(), names.join(",")));
        env.push((
            "cluster.initial_cluster_manager_nodes".into(),
            names.join(","),
        ));
    }
    for (key, value) in &spec.config {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), super::config_text(value.get_ref())));
    }
    ContainerSpec {
        node,
        image: image.to_string(),
        env,
        memory: spec.memory.map(|m| m.0),
        data_dir: Some(DATA_DIR.into()),
        ..Default::default()
    }
}

/// What GET /_cluster/health answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Health {
    pub status: String,
    pub number_of_nodes: u32,
    #[serde(default)]
    pub unassigned_shards: u32,
}

/// The cluster's health as the node at `address` reports it.
pub async fn health(address: Ipv4Addr) -> anyhow::Result<Health> {
    let url = http::url(address, HTTP_PORT, &["_cluster", "health"])?;
    let body = http::get_ok(&url, ASK_TIMEOUT).await?;
    serde_json::from_str(&body).with_context(|| format!("GET {url} answered {body}"))
}

/// Polls until every node in `nodes` answers cluster health green with all of them joined.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let expected = nodes.len() as u32;
    super::poll_ready("the OpenSearch cluster", timeout, POLL, || async move {
        let mut waiting = Vec::new();
        for (name, address) in nodes {
            match health(*address).await {
                Ok(h) if h.status == "green" && h.number_of_nodes >= expected => {}
                Ok(h) => waiting.push(format!(
                    "{name}: {} with {} of {expected} nodes",
                    h.status, h.number_of_nodes
                )),
                Err(e) => waiting.push(format!("{name}: {e:#}")),
            }
        }
        waiting
    })
    .await
}

/// A node that passed the flood-stage disk watermark: OpenSearch put every index with a shard
/// on it under `index.blocks.read_only_allow_delete`, so writes to them are refused.
fn flood_stage(log: &str) -> Option<Trouble<'_>> {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("flood stage disk watermark") && l.contains("exceeded"))
        .collect();
    let last = *lines.last()?;
    // OpenSearch 2.x takes the block off by itself once the node is under the high watermark.
    let released = log
        .lines()
        .any(|l| l.contains("releasing read-only-allow-delete block"));
    let after = if released {
        "; OpenSearch released the block by itself once space returned (\"releasing \
         read-only-allow-delete block\"), and what was refused meanwhile is lost"
    } else {
        ", and its log does not show the block released (the elected cluster manager's log \
         would)"
    };
    Some(Trouble {
        cause: Cause::StorageReadOnly,
        explanation: format!(
            "its data disk passed the flood-stage watermark (\"{}\"), so OpenSearch made every \
             index with a shard on it read-only (index.blocks.read_only_allow_delete): a bulk \
             write still answers 200 but each item is refused with cluster_block_exception (429), \
             so the OAP logs nothing{after}; free space on the data volume, or set \
             cluster.routing.allocation.disk.watermark.* to what it can hold",
            crate::diagnose::quote(last)
        ),
        lines,
    })
}

/// A cluster whose health went red (a primary shard without a copy on any running node) and was
/// last seen so.
fn red(log: &str) -> Option<Trouble<'_>> {
    let changes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Cluster health status changed from"))
        .collect();
    let last = *changes.last()?;
    if !last.contains("to [RED]") {
        return None;
    }
    Some(Trouble {
        cause: Cause::StorageRed,
        explanation: format!(
            "the OpenSearch cluster went red (\"{}\"): a primary shard has no copy on a running \
             node, so writes to its index fail; start the node that held it, or give indices a \
             replica (SW_STORAGE_ES_INDEX_REPLICAS_NUMBER)",
            crate::diagnose::quote(last)
        ),
        lines: changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_nodes_seed_from_each_other_and_one_is_a_single_node_cluster() {
        let spec: SystemSpec =
            toml::from_str("nodes = 3\nconfig = { \"action.auto_create_index\" = \"false\" }")
                .unwrap();
        let names = super::super::node_names(KIND, 3);
        let c = container_spec(&spec, "img", 2, &names);
        assert_eq!(c.node, "os-2");
        assert_eq!(c.env_var("node.name"), Some("os-2"));
        assert_eq!(c.env_var("discovery.seed_hosts"), Some("os-1,os-2,os-3"));
        assert_eq!(
            c.env_var("cluster.initial_cluster_manager_nodes"),
            Some("os-1,os-2,os-3")
        );
        assert_eq!(c.env_var("action.auto_create_index"), Some("false"));
        assert_eq!(c.env_var(HEAP_VARIABLE), Some(DEFAULT_HEAP));
        assert_eq!(c.data_dir.as_deref(), Some(DATA_DIR));
        let one = container_spec(&toml::from_str("nodes = 1").unwrap(), "img", 1, &names[..1]);
        assert_eq!(one.env_var("discovery.type"), Some("single-node"));
        assert_eq!(one.env_var("discovery.seed_hosts"), None);
    }

    #[test]
    fn a_flood_stage_says_whether_the_block_was_released() {
        let flood = "[2026-12-06T12:15:02,001][WARN ][o.o.c.r.a.DiskThresholdMonitor] [os-2] flood stage disk watermark [64mb] exceeded on [ju8BT][os-3][/usr/share/opensearch/data/nodes/0] free: 0b[0%], all indices on this node will be marked read-only\n";
        let held = flood_stage(flood).unwrap();
        assert_eq!(held.cause, Cause::StorageReadOnly);
        assert!(
            held.explanation
                .contains("does not show the block released"),
            "{}",
            held.explanation
        );
        let released = format!(
            "{flood}[INFO ][o.o.c.r.a.DiskThresholdMonitor] [os-2] releasing read-only-allow-delete block on indices: [[sw_segment-20261206]]\n"
        );
        let trouble = flood_stage(&released).unwrap();
        assert!(
            trouble.explanation.contains("released the block"),
            "{}",
            trouble.explanation
        );
        assert!(flood_stage("[INFO ] started\n").is_none());
    }

    #[test]
    fn health_reads_status_and_nodes() {
        let h: Health = serde_json::from_str(
            r#"{"cluster_name":"chaosbed","status":"yellow","timed_out":false,"number_of_nodes":2,"unassigned_shards":4}"#,
        )
        .unwrap();
        assert_eq!(h.status, "yellow");
        assert_eq!(h.number_of_nodes, 2);
        assert_eq!(h.unassigned_shards, 4);
    }

    #[test]
    fn a_red_cluster_is_trouble_only_while_it_stays_red() {
        let red_then_green = "[o.o.c.r.a.AllocationService] Cluster health status changed from [YELLOW] to [RED] (reason: [x]).\n\
                              [o.o.c.r.a.AllocationService] Cluster health status changed from [RED] to [GREEN] (reason: [y]).\n";
        assert!(red(red_then_green).is_none());
        let still_red = "[o.o.c.r.a.AllocationService] Cluster health status changed from [GREEN] to [RED] (reason: [x]).\n";
        let trouble = red(still_red).unwrap();
        assert_eq!(trouble.cause, Cause::StorageRed);
        assert!(
            trouble.explanation.contains("went red"),
            "{}",
            trouble.explanation
        );
    }
}

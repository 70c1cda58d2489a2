//! Pinpoint collectors: agents report over gRPC (9991 agent and metadata, 9992 stats, 9993
//! spans); the collector writes to HBase and registers in ZooKeeper (cluster mode). Ready once
//! its HTTP server answers GET /serverTime, which only happens after startup (a failed start logs
//! "could not launch app." and exits 0).

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};
use crate::system::protocol::System;
use crate::system::{Wiring, zookeeper};

/// The Pinpoint collector in the registry.
pub const KIND: SystemKind = SystemKind::of(&Collector);

/// Pinpoint collectors: ready once /serverTime answers and ZooKeeper lists them.
pub struct Collector;

impl System for Collector {
    fn name(&self) -> &'static str {
        "pinpoint-collector"
    }

    fn node_prefix(&self) -> &'static str {
        "collector"
    }

    fn default_version(&self) -> &'static str {
        "2.5"
    }

    super::server_capabilities!();
}

/// The collector's HTTP server (admin and /serverTime).
pub const HTTP_PORT: u16 = 8081;
/// gRPC ports: agent and metadata, stats, spans.
pub const GRPC_AGENT_PORT: u16 = 9991;
pub const GRPC_STAT_PORT: u16 = 9992;
pub const GRPC_SPAN_PORT: u16 = 9993;
/// The name every collector also answers to on the run's network: agents report to it, and the
/// network's DNS gives them all the collectors (a headless service, as Kubernetes would).
pub const SERVICE: &str = "pinpoint-collector";

/// The container of collector `index`: ZooKeeper and HBase's quorum by node name, cluster mode on.
/// A scenario's `config` keys are Spring properties (`collector.receiver.grpc.span.worker.
/// threadSize`) or the variables relaxed binding reads (`CLUSTER_ENABLE`).
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    wiring: &Wiring,
) -> ContainerSpec {
    let mut container =
        super::server_spec(KIND, spec, image, index, &wiring.connect(zookeeper::KIND));
    container.aliases.push(SERVICE.to_string());
    container
}

/// Polls until every collector answers GET /serverTime and is registered in ZooKeeper (at
/// `zk_connect`, as the harness reaches it) under membership::COLLECTOR_PATH.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    zk_connect: &str,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let registration = super::Registration {
        zk_connect,
        path: super::membership::COLLECTOR_PATH,
        is_registered: |registered, name, _| {
            super::membership::collector_registered(registered, name)
        },
    };
    super::wait_http(
        "the Pinpoint collectors",
        nodes,
        (HTTP_PORT, &["serverTime"]),
        Some(registration),
        timeout,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> Wiring {
        Wiring::of([(crate::system::zookeeper::KIND, 3)])
    }

    #[test]
    fn finds_zookeeper_and_hbase_by_node_name_in_cluster_mode() {
        let spec: SystemSpec =
            toml::from_str("nodes = 2\n[config]\n\"logging.level.root\" = \"WARN\"\n").unwrap();
        let c = container_spec(&spec, "img", 2, &wiring());
        assert_eq!(c.node, "collector-2");
        assert_eq!(
            c.env_var("PINPOINT_ZOOKEEPER_ADDRESS"),
            Some("zk-1,zk-2,zk-3")
        );
        assert_eq!(c.env_var("HBASE_CLIENT_HOST"), Some("zk-1,zk-2,zk-3"));
        assert_eq!(c.env_var("HBASE_CLIENT_PORT"), Some("2181"));
        assert_eq!(c.env_var("CLUSTER_ENABLE"), Some("true"));
        assert_eq!(
            c.env_var("JAVA_OPTS"),
            Some(super::super::DEFAULT_JAVA_OPTS)
        );
        assert_eq!(c.env_var("LOGGING_LEVEL_ROOT"), Some("WARN"));
        assert_eq!(c.data_dir, None);
    }

    #[test]
    fn heap_replaces_the_jvm_flags_and_config_replaces_chaosbeds_own() {
        let spec: SystemSpec =
            toml::from_str("heap = \"-Xmx300m\"\n[config]\nCLUSTER_ENABLE = false\n").unwrap();
        let c = container_spec(&spec, "img", 1, &wiring());
        assert_eq!(c.env_var("JAVA_OPTS"), Some("-Xmx300m"));
        assert_eq!(c.env_var("CLUSTER_ENABLE"), Some("false"));
    }
}

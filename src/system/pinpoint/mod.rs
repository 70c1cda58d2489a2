//! Pinpoint APM: collectors and webs (Spring Boot, configured through relaxed binding from the
//! environment, as pinpointdocker's images are) over the run's ZooKeeper ensemble and HBase, and
//! an application traced by the Pinpoint Java agent reporting to a collector. Each role's
//! container and readiness is in its own module; what they share is here.

pub mod app;
pub mod collector;
pub mod membership;
pub mod udp;
pub mod web;

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};

use super::config_keys::{KnownKey, flag, whole};
use super::http;
use super::protocol::{Memory, Unreachable};
use super::{hbase, zookeeper};

/// What the collector and the web need running first.
const SERVER_NEEDS: &[SystemKind] = &[zookeeper::KIND, hbase::KIND];
/// How the collector's and web's JVM memory is set.
const SERVER_MEMORY: Memory = Memory::flags(&[HEAP_VARIABLE], Some(DEFAULT_JAVA_OPTS));
/// Where the collector and web are told which ZooKeeper HBase registers in.
const SERVER_ZOOKEEPER_SETTING: &str =
    ", and that hbase.zookeeper.quorum (HBASE_CLIENT_HOST) names it";
/// What one collector or web writes in a run: its logs.
const SERVER_DISK: u64 = 256 << 20;

/// What the collector and the web share as systems: their needs, settings, disk, memory, and
/// the diagnosis of their ZooKeeper and HBase trouble. Expands inside each one's `impl System`.
macro_rules! server_capabilities {
    () => {
        fn container_spec(
            &self,
            deploy: &crate::system::protocol::Deploy,
            index: u32,
            _address: std::net::Ipv4Addr,
        ) -> crate::backend::ContainerSpec {
            container_spec(deploy.spec, deploy.image, index, deploy.wiring)
        }

        /// Ready once its HTTP server answers and ZooKeeper lists it.
        fn wait_ready<'a>(
            &'a self,
            ready: crate::system::protocol::Readiness<'a>,
        ) -> futures_util::future::BoxFuture<'a, anyhow::Result<Option<String>>> {
            Box::pin(async move {
                let zookeepers = ready.addresses_of(crate::system::zookeeper::KIND);
                let zk = crate::system::zookeeper::connect_string(&zookeepers);
                wait_ready(&ready.started_nodes(), &zk, ready.timeout).await?;
                Ok(Some("registered in ZooKeeper".to_string()))
            })
        }

        fn needs(&self) -> &'static [crate::scenario::SystemKind] {
            super::SERVER_NEEDS
        }

        fn config_keys(&self) -> &'static [crate::system::config_keys::KnownKey] {
            super::CONFIG_KEYS
        }

        fn disk_per_node(&self) -> u64 {
            super::SERVER_DISK
        }

        fn memory(&self) -> crate::system::protocol::Memory {
            super::SERVER_MEMORY
        }

        fn zookeeper_setting(&self) -> &'static str {
            super::SERVER_ZOOKEEPER_SETTING
        }

        fn storage_unreachable<'l>(
            &self,
            log: &'l str,
        ) -> Option<crate::system::protocol::Unreachable<'l>> {
            super::hbase_unreachable(log)
        }

        fn needs_tables(&self) -> bool {
            true
        }
    };
}
use server_capabilities;

/// HBase, as a collector's or web's log says it could not be reached.
fn hbase_unreachable(log: &str) -> Option<Unreachable<'_>> {
    Some(Unreachable {
        storage: "HBase",
        lines: crate::diagnose::hbase_unreachable(log),
        advice: "check that the HBase node is up and ready (its log says why not), and that \
                 hbase.zookeeper.quorum (HBASE_CLIENT_HOST) names the ZooKeeper ensemble HBase \
                 registers in",
    })
}

/// The image default JVM flags of the collector and the web (setting JAVA_OPTS replaces them).
/// C1 only (`TieredStopAtLevel=1`): see the images' Dockerfiles.
pub const DEFAULT_JAVA_OPTS: &str =
    "-Xms256m -Xmx512m -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1";
/// Settings of the collector and the web whose values chaosbed checks at validation, as a
/// scenario writes them (a Spring property or the variable relaxed binding reads).
pub const CONFIG_KEYS: &[KnownKey] = &[
    flag("CLUSTER_ENABLE", "cluster mode through ZooKeeper"),
    flag("cluster.enable", "cluster mode through ZooKeeper"),
    flag(
        "HBASE_CLIENT_COMPATIBILITY_CHECK",
        "refusing an HBase server of another generation",
    ),
    whole(
        "collector.receiver.grpc.span.worker.threadSize",
        1,
        "threads",
    ),
    whole(
        "collector.receiver.grpc.span.worker.queueSize",
        1,
        "queued span batches",
    ),
    whole(
        "collector.receiver.grpc.stat.worker.threadSize",
        1,
        "threads",
    ),
    whole(
        "collector.receiver.grpc.stat.worker.queueSize",
        1,
        "queued stat batches",
    ),
];

/// The variable every Pinpoint image takes its JVM flags from.
pub const HEAP_VARIABLE: &str = "JAVA_OPTS";
const POLL: Duration = Duration::from_secs(1);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// The ensemble's hosts and client port out of a connect string (`zk-1:2181,zk-2:2181` gives
/// `zk-1,zk-2` and 2181): Pinpoint takes its ZooKeeper address as a host list, the HBase client's
/// quorum as hosts plus one port.
pub fn zookeeper_hosts(zk_connect: &str) -> (String, u16) {
    let mut port = crate::system::zookeeper::CLIENT_PORT;
    let hosts: Vec<&str> = zk_connect
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|entry| match entry.rsplit_once(':') {
            Some((host, p)) => {
                if let Ok(p) = p.parse() {
                    port = p;
                }
                host
            }
            None => entry,
        })
        .collect();
    (hosts.join(","), port)
}

/// The environment variable a Spring property becomes under relaxed binding:
/// `collector.receiver.grpc.span.worker.threadSize` gives
/// `COLLECTOR_RECEIVER_GRPC_SPAN_WORKER_THREADSIZE`; a key already written as a variable stays.
pub fn config_variable(key: &str) -> String {
    key.to_ascii_uppercase().replace(['.', '-'], "_")
}

/// A collector's or web's container: ZooKeeper by node name, the HBase client's quorum the same
/// ensemble, cluster mode on, `heap` as JAVA_OPTS, `config` keys as Spring properties.
fn server_spec(
    system: SystemKind,
    spec: &SystemSpec,
    image: &str,
    index: u32,
    zk_connect: &str,
) -> ContainerSpec {
    let (hosts, port) = zookeeper_hosts(zk_connect);
    let heap = spec
        .heap
        .clone()
        .unwrap_or_else(|| DEFAULT_JAVA_OPTS.to_string());
    let env = [
        ("PINPOINT_ZOOKEEPER_ADDRESS", hosts.clone()),
        ("HBASE_CLIENT_HOST", hosts),
        ("HBASE_CLIENT_PORT", port.to_string()),
        ("CLUSTER_ENABLE", "true".to_string()),
        // Pinpoint 2.5 ships the HBase 1.x client and refuses a 2.x server unless told not
        // to check ("HBase version compatibility violation"); chaosbed's HBase is 2.5, which
        // that client reads and writes. Set here, not in an image: the official images do not.
        ("HBASE_CLIENT_COMPATIBILITY_CHECK", "false".to_string()),
        (HEAP_VARIABLE, heap),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    node_spec(system, spec, image, index, env)
}

fn node_spec(
    system: SystemKind,
    spec: &SystemSpec,
    image: &str,
    index: u32,
    mut env: Vec<(String, String)>,
) -> ContainerSpec {
    for (key, value) in &spec.config {
        let key = config_variable(key);
        env.retain(|(k, _)| *k != key);
        env.push((key, crate::system::config_text(value.get_ref())));
    }
    ContainerSpec {
        node: crate::system::node_name(system, index),
        image: image.to_string(),
        env,
        memory: spec.memory.map(|m| m.0),
        ..Default::default()
    }
}

/// Where the servers of one role register in cluster mode, and how to find a node there.
struct Registration<'a> {
    /// The ensemble as the harness reaches it (`address:port,...`).
    zk_connect: &'a str,
    path: &'static str,
    is_registered: fn(&[String], &str, Ipv4Addr) -> bool,
}

/// Polls until GET `path` on `port` answers 2xx on every node and, with a `registration`, every
/// node is registered in ZooKeeper.
async fn wait_http(
    what: &str,
    nodes: &[(String, Ipv4Addr)],
    (port, path): (u16, &[&str]),
    registration: Option<Registration<'_>>,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::poll_ready(what, timeout, POLL, || async {
        let mut waiting = Vec::new();
        let mut answering = Vec::new();
        for (name, address) in nodes {
            let answer = match http::url(*address, port, path) {
                Ok(url) => http::get_ok(&url, ASK_TIMEOUT).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match answer {
                Ok(()) => answering.push((name, *address)),
                Err(e) => waiting.push(format!("{name}: {e:#}")),
            }
        }
        let Some(registration) = &registration else {
            return waiting;
        };
        if answering.is_empty() {
            return waiting;
        }
        match membership::registered(registration.zk_connect, registration.path).await {
            Ok(registered) => {
                for (name, address) in answering {
                    if !(registration.is_registered)(&registered, name, address) {
                        waiting.push(format!(
                            "{name}: not registered under {} in ZooKeeper yet (there: {})",
                            registration.path,
                            if registered.is_empty() {
                                "nobody".to_string()
                            } else {
                                registered.join(", ")
                            }
                        ));
                    }
                }
            }
            Err(e) => waiting.push(format!("cluster membership: {e:#}")),
        }
        waiting
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_string_becomes_hosts_and_a_port() {
        assert_eq!(
            zookeeper_hosts("zk-1:2181,zk-2:2181,zk-3:2181"),
            ("zk-1,zk-2,zk-3".to_string(), 2181)
        );
        assert_eq!(zookeeper_hosts("a:2182"), ("a".to_string(), 2182));
        assert_eq!(zookeeper_hosts("a,b"), ("a,b".to_string(), 2181));
    }

    #[test]
    fn spring_properties_become_variables() {
        assert_eq!(
            config_variable("collector.receiver.grpc.span.worker.threadSize"),
            "COLLECTOR_RECEIVER_GRPC_SPAN_WORKER_THREADSIZE"
        );
        assert_eq!(config_variable("LOGGING_LEVEL_ROOT"), "LOGGING_LEVEL_ROOT");
    }
}

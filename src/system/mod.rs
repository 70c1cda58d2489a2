//! One module per system under test: its image contract, configuration, readiness and roles.
//! A system module is the only place that knows its system's ports, config keys and environment.

pub mod bookkeeper;
mod client_env;
pub mod config_keys;
pub mod hbase;
mod http;
pub mod nginx;
pub mod pinpoint;
pub mod postgres;
pub mod pulsar;
pub mod skywalking;
pub mod zookeeper;

pub use client_env::client_env;

use std::net::Ipv4Addr;

use crate::backend::ContainerSpec;
use crate::scenario::{Scenario, SystemKind, SystemSpec};

/// The config key `key` of `system` whose value chaosbed checks, if it knows the key.
pub fn known_config_key(system: SystemKind, key: &str) -> Option<&'static config_keys::KnownKey> {
    let keys: &[config_keys::KnownKey] = match system {
        SystemKind::Zookeeper => zookeeper::CONFIG_KEYS,
        SystemKind::Bookkeeper => bookkeeper::CONFIG_KEYS,
        SystemKind::Pulsar => pulsar::CONFIG_KEYS,
        SystemKind::Postgres => postgres::CONFIG_KEYS,
        SystemKind::Skywalking => skywalking::CONFIG_KEYS,
        SystemKind::Nginx => nginx::CONFIG_KEYS,
        SystemKind::PinpointCollector | SystemKind::PinpointWeb => pinpoint::CONFIG_KEYS,
        SystemKind::Hbase | SystemKind::PinpointApp => &[],
    };
    keys.iter().find(|k| k.key == key)
}

/// A scenario's config value as a config file or variable writes it: strings as they are, arrays
/// joined by commas (list-valued keys such as Pulsar's `superUserRoles`), everything else in
/// TOML's spelling.
pub fn config_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(config_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Polls `waiting` every `every` until it names nothing still waiting, or `timeout` passes; then
/// fails with "`what` not ready after ..: <what was still waiting>".
pub(crate) async fn poll_ready<F, Fut>(
    what: &str,
    timeout: std::time::Duration,
    every: std::time::Duration,
    mut waiting: F,
) -> anyhow::Result<std::time::Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let begin = std::time::Instant::now();
    loop {
        let still = waiting().await;
        if still.is_empty() {
            return Ok(begin.elapsed());
        }
        if begin.elapsed() >= timeout {
            anyhow::bail!("{what} not ready after {timeout:?}: {}", still.join("; "));
        }
        tokio::time::sleep(every).await;
    }
}

/// The systems a system needs serving before its init job runs and its nodes start.
pub fn depends_on(system: SystemKind) -> &'static [SystemKind] {
    use SystemKind::*;
    match system {
        Zookeeper | Postgres => &[],
        Bookkeeper | Hbase => &[Zookeeper],
        Pulsar => &[Zookeeper, Bookkeeper],
        Skywalking => &[Zookeeper, Postgres],
        // Its upstreams are the OAP nodes' names, resolved when NGINX starts.
        Nginx => &[Skywalking],
        PinpointCollector | PinpointWeb => &[Zookeeper, Hbase],
        // The agent reports to the collectors from its first request on.
        PinpointApp => &[PinpointCollector],
    }
}

/// `systems` (in start order) grouped into waves: each wave holds the systems whose declared
/// dependencies are all in earlier waves, so a wave's systems can start together.
pub fn start_waves(systems: &[SystemKind]) -> Vec<Vec<SystemKind>> {
    let mut placed: Vec<SystemKind> = Vec::new();
    let mut waves = Vec::new();
    while placed.len() < systems.len() {
        let wave: Vec<SystemKind> = systems
            .iter()
            .filter(|s| !placed.contains(s))
            .filter(|s| {
                depends_on(**s)
                    .iter()
                    .all(|d| placed.contains(d) || !systems.contains(d))
            })
            .copied()
            .collect();
        assert!(
            !wave.is_empty(),
            "system dependencies form a cycle: {systems:?}"
        );
        placed.extend(&wave);
        waves.push(wave);
    }
    waves
}

/// The version a scenario gets when it names none.
pub fn default_version(system: SystemKind) -> &'static str {
    match system {
        SystemKind::Zookeeper => "3.8",
        SystemKind::Bookkeeper => "4.16",
        SystemKind::Pulsar => "3.0",
        SystemKind::Postgres => "15",
        SystemKind::Skywalking => "9.6",
        SystemKind::Nginx => "1.22",
        SystemKind::Hbase => "2.5",
        SystemKind::PinpointCollector | SystemKind::PinpointWeb => "2.5",
        SystemKind::PinpointApp => "3.0.1",
    }
}

/// Where a node restarted by an upgrade step stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejoin {
    /// Back in its cluster; what the system's own probe saw, as evidence.
    Rejoined(serde_json::Value),
    /// Not yet, and why.
    Waiting(String),
}

/// Refuses an upgrade step on a system whose rejoin condition chaosbed does not know yet.
pub fn upgrade_supported(system: SystemKind) -> anyhow::Result<()> {
    match system {
        SystemKind::Zookeeper | SystemKind::Bookkeeper | SystemKind::Pulsar => Ok(()),
        other => anyhow::bail!(
            "upgrade of {other} is not supported yet: chaosbed knows no rejoin condition for it"
        ),
    }
}

/// Whether `node` of `system` has rejoined its cluster after an upgrade step restarted it;
/// `nodes` are the system's nodes and addresses, `topic` the workload's topic (a broker has
/// rejoined once, among the rest, that topic has a ready owner; default: the workload's default
/// topic). ZooKeeper: follower or leader under exactly one leader. BookKeeper: ready and
/// registered writable. Pulsar: ready, healthy, answering lookups, the topic owned.
pub async fn rejoin(
    system: SystemKind,
    nodes: &[(String, Ipv4Addr)],
    node: &str,
    topic: Option<&str>,
) -> anyhow::Result<Rejoin> {
    upgrade_supported(system)?;
    let outcome = match system {
        SystemKind::Zookeeper => zookeeper::rejoined(nodes, node).await.map(|r| {
            serde_json::json!({
                "role": r.role,
                "reported_version": r.version,
                "leader": r.leader,
            })
        }),
        SystemKind::Bookkeeper => bookkeeper::rejoined(nodes, node).await.map(|r| {
            serde_json::json!({
                "bookie_id": r.id,
                "writable": r.writable,
            })
        }),
        SystemKind::Pulsar => {
            let topic = topic.unwrap_or(crate::workload::pulsar::DEFAULT_TOPIC);
            pulsar::rejoined(nodes, node, topic, pulsar::DEFAULT_CLUSTER)
                .await
                .map(|r| {
                    serde_json::json!({
                        "topic": topic,
                        "topic_owner": r.owner,
                        "owned_bundles": r.owned_bundles,
                        "reported_version": r.version,
                    })
                })
        }
        other => anyhow::bail!("no rejoin condition for {other}"),
    };
    Ok(match outcome {
        Ok(evidence) => Rejoin::Rejoined(evidence),
        Err(why) => Rejoin::Waiting(why),
    })
}

/// How the systems of one run find each other, by node name on the run's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiring {
    /// ZooKeeper connect string (`zk-1:2181,...`), as the other systems use it.
    pub zk_connect: String,
    /// The Pulsar cluster name.
    pub cluster: String,
    /// The PostgreSQL node the OAP nodes share, if the topology has one.
    pub postgres: Option<String>,
    /// The OAP nodes the load balancer sends to.
    pub oap_nodes: Vec<String>,
}

impl Wiring {
    pub fn for_scenario(scenario: &Scenario) -> Self {
        let count = |spec: &Option<serde_spanned::Spanned<SystemSpec>>| {
            spec.as_ref().map_or(0, |s| s.get_ref().node_count())
        };
        let topology = &scenario.topology;
        Self {
            zk_connect: zookeeper::connect_names(count(&topology.zookeeper)),
            cluster: pulsar::DEFAULT_CLUSTER.into(),
            postgres: node_names(SystemKind::Postgres, count(&topology.postgres))
                .into_iter()
                .next(),
            oap_nodes: node_names(SystemKind::Skywalking, count(&topology.skywalking)),
        }
    }
}

/// The one-shot job a system runs before its nodes start (BookKeeper metaformat, Pulsar cluster
/// metadata, the OAP's storage schema), given the addresses its nodes will have.
pub fn init_spec(
    system: SystemKind,
    spec: &SystemSpec,
    image: &str,
    wiring: &Wiring,
    addresses: &[Ipv4Addr],
) -> Option<ContainerSpec> {
    match system {
        SystemKind::Bookkeeper => Some(bookkeeper::init_spec(image, &wiring.zk_connect)),
        SystemKind::Pulsar => Some(pulsar::init_metadata_spec(
            image,
            &wiring.cluster,
            &wiring.zk_connect,
            &pulsar::service_url(addresses),
            &pulsar::web_service_url(addresses),
        )),
        SystemKind::Skywalking => Some(skywalking::init_spec(spec, image, wiring)),
        SystemKind::Zookeeper
        | SystemKind::Postgres
        | SystemKind::Nginx
        | SystemKind::Hbase
        | SystemKind::PinpointCollector
        | SystemKind::PinpointWeb
        | SystemKind::PinpointApp => None,
    }
}

/// The container of node `index` (1-based) of `count`, at `address`, in its system's terms.
pub fn container_spec(
    system: SystemKind,
    spec: &SystemSpec,
    image: &str,
    (index, count): (u32, u32),
    wiring: &Wiring,
    address: Ipv4Addr,
) -> ContainerSpec {
    match system {
        SystemKind::Zookeeper => zookeeper::container_spec(spec, image, index, count),
        SystemKind::Bookkeeper => {
            bookkeeper::container_spec(spec, image, index, count, &wiring.zk_connect, address)
        }
        SystemKind::Pulsar => pulsar::container_spec(
            spec,
            image,
            index,
            count,
            &wiring.zk_connect,
            address,
            &wiring.cluster,
        ),
        SystemKind::Postgres => postgres::container_spec(spec, image, index),
        SystemKind::Skywalking => skywalking::container_spec(spec, image, index, wiring),
        SystemKind::Nginx => nginx::container_spec(spec, image, index, &wiring.oap_nodes),
        SystemKind::Hbase => hbase::container_spec(spec, image, index, wiring),
        SystemKind::PinpointCollector => {
            pinpoint::collector::container_spec(spec, image, index, wiring)
        }
        SystemKind::PinpointWeb => pinpoint::web::container_spec(spec, image, index, wiring),
        SystemKind::PinpointApp => pinpoint::app::container_spec(spec, image, index),
    }
}

/// A node as deployed in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub system: SystemKind,
    /// The address the harness reaches the node on.
    pub address: Ipv4Addr,
}

/// The name of a system's node `index` (1-based): `zk-2`.
pub fn node_name(system: SystemKind, index: u32) -> String {
    format!("{}-{index}", system.node_prefix())
}

/// Names of a system's nodes: `zk-1`, `zk-2`, ...
pub fn node_names(system: SystemKind, count: u32) -> Vec<String> {
    (1..=count).map(|i| node_name(system, i)).collect()
}

/// What a scenario adds to a node's container beyond its system's defaults: its extra
/// environment (replacing variables of the same name; the node's own `env` last) and a data
/// volume of the scenario's `disk` size. Never a capability: network faults run from a helper.
pub fn apply_scenario(
    container: &mut crate::backend::ContainerSpec,
    spec: &crate::scenario::SystemSpec,
) {
    let own = spec.node.get(&container.node).map(|node| &node.env);
    for (key, value) in spec.env.iter().chain(own.into_iter().flatten()) {
        container.env.retain(|(k, _)| k != key);
        container.env.push((key.clone(), value.clone()));
    }
    if container.data_dir.is_some() {
        container.data_size = spec.disk.map(|d| d.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_start_what_only_needs_earlier_waves() {
        use SystemKind::*;
        assert_eq!(
            start_waves(&[
                Zookeeper,
                Hbase,
                PinpointCollector,
                PinpointWeb,
                PinpointApp
            ]),
            vec![
                vec![Zookeeper],
                vec![Hbase],
                vec![PinpointCollector, PinpointWeb],
                vec![PinpointApp]
            ]
        );
        assert_eq!(
            start_waves(&[Zookeeper, Postgres, Skywalking, Nginx]),
            vec![vec![Zookeeper, Postgres], vec![Skywalking], vec![Nginx]]
        );
        assert_eq!(
            start_waves(&[Zookeeper, Bookkeeper, Pulsar]),
            vec![vec![Zookeeper], vec![Bookkeeper], vec![Pulsar]]
        );
        // A dependency the topology does not declare is not waited for.
        assert_eq!(
            start_waves(&[Postgres, Skywalking]),
            vec![vec![Postgres], vec![Skywalking]]
        );
    }

    #[test]
    fn values_are_written_as_a_config_file_would() {
        assert_eq!(
            config_text(&toml::Value::String("zk:a:2181".into())),
            "zk:a:2181"
        );
        assert_eq!(config_text(&toml::Value::Integer(3)), "3");
        assert_eq!(config_text(&toml::Value::Boolean(false)), "false");
        assert_eq!(config_text(&toml::Value::Float(0.99)), "0.99");
        let roles = toml::Value::Array(vec!["admin".into(), "proxy".into()]);
        assert_eq!(config_text(&roles), "admin,proxy");
    }

    #[tokio::test]
    async fn polling_stops_when_nothing_waits_and_names_what_still_does() {
        use std::time::Duration;
        let mut left = 3;
        let waited = poll_ready(
            "x",
            Duration::from_secs(60),
            Duration::from_millis(10),
            || {
                left -= 1;
                let still = if left > 0 {
                    vec!["n-1: busy".to_string()]
                } else {
                    Vec::new()
                };
                async move { still }
            },
        )
        .await
        .unwrap();
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        assert_eq!(left, 0);
        let err = poll_ready(
            "x",
            Duration::from_secs(3),
            Duration::from_secs(1),
            || async { vec!["n-2: refused".to_string()] },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("x not ready after 3s: n-2: refused"),
            "{err}"
        );
    }
}

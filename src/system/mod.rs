//! One module per system under test: its image contract, configuration, readiness and roles.
//! A system module is the only place that knows its system's ports, config keys and environment.

pub mod bookkeeper;
mod client_env;
pub mod config_keys;
pub mod hbase;
mod http;
pub mod nginx;
pub mod opensearch;
pub mod pinpoint;
pub mod postgres;
pub mod protocol;
pub mod pulsar;
mod registry;
pub mod skywalking;
pub mod zookeeper;

pub use client_env::client_env;
pub use protocol::System;
pub use registry::{SYSTEMS, SystemKind};

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::scenario::Scenario;

/// The config key `key` of `system` whose value chaosbed checks, if it knows the key.
pub fn known_config_key(system: SystemKind, key: &str) -> Option<&'static config_keys::KnownKey> {
    system.config_keys().iter().find(|k| k.key == key)
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

/// The interval a monitor probe samples on; a slow answer delays the next sample rather than
/// bunching them.
pub(crate) fn probe_ticker(every: std::time::Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
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
                s.needs()
                    .iter()
                    .chain(s.needs_one_of())
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
    if system.rejoins() {
        return Ok(());
    }
    anyhow::bail!(
        "upgrade of {system} is not supported yet: chaosbed knows no rejoin condition for it"
    )
}

/// Whether a node of `system` has rejoined its cluster after an upgrade step restarted it (see
/// `System::rejoined`).
pub async fn rejoin(
    system: SystemKind,
    rejoining: protocol::Rejoining<'_>,
) -> anyhow::Result<Rejoin> {
    upgrade_supported(system)?;
    Ok(match system.rejoined(rejoining).await {
        Ok(evidence) => Rejoin::Rejoined(evidence),
        Err(why) => Rejoin::Waiting(why),
    })
}

/// How the systems of one run find each other: every system's node names on the run's network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wiring {
    nodes: BTreeMap<SystemKind, Vec<String>>,
}

impl Wiring {
    pub fn for_scenario(scenario: &Scenario) -> Self {
        Self::of(
            scenario
                .topology
                .systems()
                .map(|(system, spec)| (system, spec.node_count())),
        )
    }

    /// The wiring of systems with these node counts.
    pub fn of(counts: impl IntoIterator<Item = (SystemKind, u32)>) -> Self {
        Self {
            nodes: counts
                .into_iter()
                .map(|(system, count)| (system, node_names(system, count)))
                .collect(),
        }
    }

    /// The node names of `system` (none when the topology has no such system).
    pub fn names(&self, system: SystemKind) -> &[String] {
        self.nodes.get(&system).map_or(&[], Vec::as_slice)
    }

    /// What `system` exports to the others: its nodes at its client port, comma-separated
    /// (`zk-1:2181,zk-2:2181,zk-3:2181`).
    pub fn connect(&self, system: SystemKind) -> String {
        let port = system.client_port();
        self.names(system)
            .iter()
            .map(|name| match port {
                Some(port) => format!("{name}:{port}"),
                None => name.clone(),
            })
            .collect::<Vec<_>>()
            .join(",")
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
        let [zk, bk, pulsar, pg, sw, lb, hbase, collector, web, app] = [
            zookeeper::KIND,
            bookkeeper::KIND,
            pulsar::KIND,
            postgres::KIND,
            skywalking::KIND,
            nginx::KIND,
            hbase::KIND,
            pinpoint::collector::KIND,
            pinpoint::web::KIND,
            pinpoint::app::KIND,
        ];
        assert_eq!(
            start_waves(&[zk, hbase, collector, web, app]),
            vec![vec![zk], vec![hbase], vec![collector, web], vec![app]]
        );
        assert_eq!(
            start_waves(&[zk, pg, sw, lb]),
            vec![vec![zk, pg], vec![sw], vec![lb]]
        );
        assert_eq!(
            start_waves(&[zk, bk, pulsar]),
            vec![vec![zk], vec![bk], vec![pulsar]]
        );
        // A dependency the topology does not declare is not waited for.
        assert_eq!(start_waves(&[pg, sw]), vec![vec![pg], vec![sw]]);
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

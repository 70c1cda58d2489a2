//! One module per system under test: its image contract, configuration, readiness and roles.
//! A system module is the only place that knows its system's ports, config keys and environment.

pub mod bookkeeper;
mod http;
pub mod pulsar;
pub mod zookeeper;

use std::net::Ipv4Addr;

use crate::scenario::SystemKind;

/// A node as deployed in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub system: SystemKind,
    /// The address the harness reaches the node on.
    pub address: Ipv4Addr,
}

/// Names of a system's nodes: `zk-1`, `zk-2`, ...
pub fn node_names(system: SystemKind, count: u32) -> Vec<String> {
    (1..=count)
        .map(|i| format!("{}-{i}", system.node_prefix()))
        .collect()
}

/// What a scenario adds to a node's container beyond its system's defaults: its extra
/// environment (replacing variables of the same name), a data volume of the scenario's `disk`
/// size, and NET_ADMIN when a network fault targets the system.
pub fn apply_scenario(
    container: &mut crate::backend::ContainerSpec,
    spec: &crate::scenario::SystemSpec,
    net_admin: bool,
) {
    for (key, value) in &spec.env {
        container.env.retain(|(k, _)| k != key);
        container.env.push((key.clone(), value.clone()));
    }
    if container.data_dir.is_some() {
        container.data_size = spec.disk.map(|d| d.0);
    }
    if net_admin && !container.cap_add.iter().any(|c| c == "NET_ADMIN") {
        container.cap_add.push("NET_ADMIN".into());
    }
}

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

/// Sets the scenario's extra environment on a node's container, replacing variables of the
/// same name.
pub fn apply_env(
    container: &mut crate::backend::ContainerSpec,
    spec: &crate::scenario::SystemSpec,
) {
    for (key, value) in &spec.env {
        container.env.retain(|(k, _)| k != key);
        container.env.push((key.clone(), value.clone()));
    }
}

//! Faults beyond process control (network, clock, resources): applying each inside its target
//! nodes, reading back evidence that it took effect, and undoing exactly what was done.
//!
//! Every effect runs through [`Backend::exec`] (iptables, tc, a faketime offset file, df) or
//! [`Backend::update_limits`], so the same code drives Docker and the fake backend in tests.

mod clock;
mod latency;
mod network;
mod resources;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::backend::{Backend, ExecOutput, LimitUpdate};
use crate::proxy::LatencyProxy;
use crate::scenario::{FaultKind, FaultParams};

pub use clock::FAKETIME_FILE;
pub use network::{CHAIN_PREFIX, Cut, cuts};

/// What the nemesis knows of a node beyond its name.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub address: Option<Ipv4Addr>,
    /// The memory limit it was created with.
    pub memory: Option<u64>,
    /// Where its data volume is mounted.
    pub data_dir: Option<String>,
}

/// Everything an effect needs to apply fault number `fault` to its resolved targets.
pub struct Request<'a> {
    pub fault: usize,
    pub kind: FaultKind,
    pub params: &'a FaultParams,
    pub targets: &'a [String],
    /// The nodes of the fault's system, and of the whole run.
    pub system_nodes: &'a [String],
    pub all_nodes: &'a [String],
    pub info: &'a BTreeMap<String, NodeInfo>,
    /// Picks sides of halves and bridges.
    pub seed: u64,
    /// The client's userspace latency proxy, when the run has one (no netem in the kernel).
    pub proxy: Option<&'a LatencyProxy>,
}

/// What must be undone when a fault heals, and on which nodes.
#[derive(Debug, Clone)]
pub enum Undo {
    /// Remove chaosbed's iptables chains of this fault.
    Rules { fault: usize, nodes: Vec<String> },
    /// Remove the root qdisc chaosbed added.
    Qdisc { nodes: Vec<String> },
    /// Set the faketime offset back to zero (and stop a strobe).
    Clock { nodes: Vec<String> },
    /// Restore each node's limits.
    Limits { restore: Vec<(String, LimitUpdate)> },
    /// Delete the files that filled the data volume.
    Fill { nodes: Vec<(String, String)> },
    /// Take the delay off the client's proxy links to these nodes.
    Proxy { nodes: Vec<String> },
}

/// An applied fault: what to undo, the evidence, and the first error.
pub struct Outcome {
    pub undo: Option<Undo>,
    pub evidence: Value,
    pub error: Option<String>,
}

impl Outcome {
    fn failed(error: String) -> Self {
        Self {
            undo: None,
            evidence: json!({ "took_effect": false, "reason": error }),
            error: Some(error),
        }
    }
}

/// Applies a network, clock or resource fault; process faults are the nemesis' own.
pub async fn apply(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    match request.kind {
        FaultKind::Partition | FaultKind::PacketLoss => {
            network::apply_rules(backend, request).await
        }
        FaultKind::Bandwidth => network::apply_qdisc(backend, request).await,
        FaultKind::Latency => latency::apply(backend, request).await,
        FaultKind::ClockSkew => clock::apply(backend, request).await,
        FaultKind::Memory | FaultKind::Cpu => resources::apply_limits(backend, request).await,
        FaultKind::DiskFull => resources::apply_fill(backend, request).await,
        kind => Outcome::failed(format!("{kind} is a process fault, not an effect")),
    }
}

/// Undoes an applied fault and shows that nothing of it is left.
pub async fn heal(
    backend: &impl Backend,
    undo: &Undo,
    proxy: Option<&LatencyProxy>,
) -> (Value, Option<String>) {
    match undo {
        Undo::Proxy { nodes } => latency::heal_proxy(proxy, nodes),
        Undo::Rules { fault, nodes } => network::heal_rules(backend, *fault, nodes).await,
        Undo::Qdisc { nodes } => network::heal_qdisc(backend, nodes).await,
        Undo::Clock { nodes } => clock::heal(backend, nodes).await,
        Undo::Limits { restore } => resources::heal_limits(backend, restore).await,
        Undo::Fill { nodes } => resources::heal_fill(backend, nodes).await,
    }
}

/// The nodes an [`Undo`] touches.
pub fn undo_nodes(undo: &Undo) -> Vec<String> {
    match undo {
        Undo::Rules { nodes, .. }
        | Undo::Qdisc { nodes }
        | Undo::Clock { nodes }
        | Undo::Proxy { nodes } => nodes.clone(),
        Undo::Limits { restore } => restore.iter().map(|(n, _)| n.clone()).collect(),
        Undo::Fill { nodes } => nodes.iter().map(|(n, _)| n.clone()).collect(),
    }
}

/// Runs a shell script in `node`; a non-zero exit is an error carrying its output.
async fn sh(backend: &impl Backend, node: &str, script: &str) -> anyhow::Result<ExecOutput> {
    let out = backend.exec(node, &["sh", "-c", script]).await?;
    if out.exit_code != 0 {
        anyhow::bail!(
            "`{script}` in node {node} exited with {}: {}{}",
            out.exit_code,
            out.stdout.trim(),
            out.stderr.trim()
        );
    }
    Ok(out)
}

/// The first error of several, prefixed with how many there were.
fn first_error(errors: &[String]) -> Option<String> {
    match errors {
        [] => None,
        [one] => Some(one.clone()),
        [first, rest @ ..] => Some(format!("{first} (and {} more)", rest.len())),
    }
}

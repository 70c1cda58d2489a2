//! Faults beyond process control (network, clock, resources): applying each inside its target
//! nodes, reading back evidence that it took effect, and undoing exactly what was done.
//!
//! Network effects (iptables, tc) run through [`Backend::exec_net`], in each target's network
//! namespace from chaosbed's nemesis helper, never inside the node; clock offsets through
//! [`Backend::exec_clock`], written by the clock keeper into files the node only reads; the
//! others through [`Backend::exec`] (df, the fill files) or [`Backend::update_limits`]. The
//! same code drives Docker and the fake backend in tests.

mod clock;
mod latency;
mod network;
mod proxied;
mod resources;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::backend::{Backend, ExecOutput, LimitUpdate};
use crate::scenario::{FaultKind, FaultParams};

pub use clock::check_image as check_clock_image;
pub use network::{CHAIN_PREFIX, Cut, cuts};
pub use proxied::BINARY as PROXY_BINARY;

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
    /// Picks sides of halves and bridges, and seeds the proxy's jitter.
    pub seed: u64,
}

impl Request<'_> {
    /// `node`'s address on the run's network, as rules name it.
    fn address(&self, node: &str) -> Result<String, String> {
        self.info
            .get(node)
            .and_then(|i| i.address)
            .map(|a| a.to_string())
            .ok_or_else(|| format!("no address known for node {node}"))
    }
}

/// What must be undone when a fault heals, and on which nodes.
#[derive(Debug, Clone)]
pub enum Undo {
    /// Remove chaosbed's iptables chains of this fault; `installs` holds the script that put
    /// them on each node, to put them back on a node started anew.
    Rules {
        fault: usize,
        nodes: Vec<String>,
        installs: BTreeMap<String, String>,
    },
    /// Remove the root qdisc chaosbed added; `install` put it there.
    Qdisc { nodes: Vec<String>, install: String },
    /// Remove the redirect chains of this fault and let its proxy pass everything through;
    /// `installs` started the proxy and hooked the chains in on each node.
    Proxied {
        kind: FaultKind,
        fault: usize,
        nodes: Vec<String>,
        installs: BTreeMap<String, String>,
    },
    /// Set the faketime offset back to zero (and stop a strobe).
    Clock { nodes: Vec<String> },
    /// Restore each node's limits.
    Limits { restore: Vec<(String, LimitUpdate)> },
    /// Delete the files that filled the data volume.
    Fill { nodes: Vec<(String, String)> },
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
        kind if kind.is_toxic() => proxied::apply(backend, request).await,
        FaultKind::ClockSkew => clock::apply(backend, request).await,
        FaultKind::Memory | FaultKind::Cpu => resources::apply_limits(backend, request).await,
        FaultKind::DiskFull => resources::apply_fill(backend, request).await,
        kind => Outcome::failed(format!("{kind} is a process fault, not an effect")),
    }
}

/// A latency fault or a toxic through chaosbed-proxy whatever the kernel has: the proxy itself,
/// as `cargo xtask bench faults` measures it.
pub async fn apply_through_proxy(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    proxied::apply(backend, request).await
}

/// Undoes an applied fault and shows that nothing of it is left.
pub async fn heal(backend: &impl Backend, undo: &Undo) -> (Value, Option<String>) {
    match undo {
        Undo::Rules { fault, nodes, .. } => network::heal_rules(backend, *fault, nodes).await,
        Undo::Proxied {
            kind, fault, nodes, ..
        } => proxied::heal(backend, *kind, *fault, nodes).await,
        Undo::Qdisc { nodes, .. } => network::heal_qdisc(backend, nodes).await,
        Undo::Clock { nodes } => clock::heal(backend, nodes).await,
        Undo::Limits { restore } => resources::heal_limits(backend, restore).await,
        Undo::Fill { nodes } => resources::heal_fill(backend, nodes).await,
    }
}

/// Puts back on `node` what an active network fault had installed in its network namespace,
/// after the node started anew (a restart, a start after a kill, an upgrade) and its rules or
/// qdisc went with the old namespace. `None` when the fault holds nothing on that node.
pub async fn reestablish(backend: &impl Backend, undo: &Undo, node: &str) -> Option<Value> {
    let script = match undo {
        Undo::Rules { installs, .. } | Undo::Proxied { installs, .. } => installs.get(node)?,
        Undo::Qdisc { nodes, install } if nodes.iter().any(|n| n == node) => install,
        _ => return None,
    };
    let helper = match backend.net_helper(node).await {
        Ok(helper) => helper,
        Err(e) => return Some(json!({ "took_effect": false, "reason": format!("{e:#}") })),
    };
    Some(match sh_net(backend, node, script).await {
        Ok(_) => json!({ "took_effect": true, "helper": helper }),
        Err(e) => json!({ "took_effect": false, "helper": helper, "reason": format!("{e:#}") }),
    })
}

/// The nodes an [`Undo`] touches.
pub fn undo_nodes(undo: &Undo) -> Vec<String> {
    match undo {
        Undo::Rules { nodes, .. }
        | Undo::Qdisc { nodes, .. }
        | Undo::Proxied { nodes, .. }
        | Undo::Clock { nodes } => nodes.clone(),
        Undo::Limits { restore } => restore.iter().map(|(n, _)| n.clone()).collect(),
        Undo::Fill { nodes } => nodes.iter().map(|(n, _)| n.clone()).collect(),
    }
}

/// Runs a shell script in `node`; a non-zero exit is an error carrying its output.
async fn sh(backend: &impl Backend, node: &str, script: &str) -> anyhow::Result<ExecOutput> {
    let out = backend.exec(node, &["sh", "-c", script]).await?;
    exited_zero(out, script, &format!("in node {node}"))
}

/// Runs a shell script in `node`'s network namespace from its nemesis helper (iptables, tc);
/// a non-zero exit is an error carrying its output.
async fn sh_net(backend: &impl Backend, node: &str, script: &str) -> anyhow::Result<ExecOutput> {
    let out = backend.exec_net(node, &["sh", "-c", script]).await?;
    exited_zero(out, script, &format!("in node {node}'s network namespace"))
}

fn exited_zero(out: ExecOutput, script: &str, place: &str) -> anyhow::Result<ExecOutput> {
    if out.exit_code != 0 {
        anyhow::bail!(
            "`{script}` {place} exited with {}: {}{}",
            out.exit_code,
            out.stdout.trim(),
            out.stderr.trim()
        );
    }
    Ok(out)
}

/// Each node's nemesis helper, made where missing, as evidence: which container changed the
/// node's network and, when it was made now, why (a node started anew needs a new one).
async fn net_helpers(backend: &impl Backend, nodes: &[String], errors: &mut Vec<String>) -> Value {
    let mut helpers = BTreeMap::new();
    for node in nodes {
        match backend.net_helper(node).await {
            Ok(helper) => {
                helpers.insert(node.clone(), json!(helper));
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    json!(helpers)
}

/// The first error of several, prefixed with how many there were.
fn first_error(errors: &[String]) -> Option<String> {
    match errors {
        [] => None,
        [one] => Some(one.clone()),
        [first, rest @ ..] => Some(format!("{first} (and {} more)", rest.len())),
    }
}

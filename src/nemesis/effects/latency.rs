//! Latency: tc netem inside the node where the kernel has it; otherwise, for a fault without
//! `peers`, chaosbed's userspace proxy between the client and the node (the output says which).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Outcome, Request, Undo, first_error, network};
use crate::backend::Backend;
use crate::proxy::LatencyProxy;

pub async fn apply(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let netem = network::apply_qdisc(backend, request).await;
    let no_netem = netem
        .error
        .as_deref()
        .is_some_and(|e| e.contains("no netem qdisc"));
    if !no_netem || !request.params.peers.is_empty() {
        return netem;
    }
    let Some(proxy) = request.proxy else {
        let mut netem = netem;
        netem.error = netem.error.map(|e| {
            format!(
                "{e}; the userspace fallback delays the client's links only, and this run's \
                 client does not go through it (zk-register workloads do)"
            )
        });
        return netem;
    };
    let delay = request.params.delay.unwrap_or_default();
    let jitter = request.params.jitter.unwrap_or(Duration::ZERO);
    let mut errors = Vec::new();
    let mut delayed = Vec::new();
    for node in request.targets {
        match proxy.set_delay(node, delay, jitter) {
            Ok(()) => delayed.push(node.clone()),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let took_effect = !delayed.is_empty() && delayed.len() == request.targets.len();
    Outcome {
        undo: (!delayed.is_empty()).then_some(Undo::Proxy {
            nodes: delayed.clone(),
        }),
        evidence: json!({
            "took_effect": took_effect,
            "mechanism": "userspace TCP proxy between the client and each node (this kernel has no netem)",
            "netem_error": netem.error,
            "delay_ms": delay.as_millis() as u64,
            "jitter_ms": jitter.as_millis() as u64,
            "delayed_links": delayed,
        }),
        error: first_error(&errors),
    }
}

/// Reads what the proxy delayed, then takes the delay off.
pub fn heal_proxy(proxy: Option<&LatencyProxy>, nodes: &[String]) -> (Value, Option<String>) {
    let Some(proxy) = proxy else {
        return (
            json!({ "took_effect": false, "reason": "the latency proxy is gone" }),
            Some("the latency proxy is gone".into()),
        );
    };
    let mut errors = Vec::new();
    let mut stats = BTreeMap::new();
    for node in nodes {
        if let Some(s) = proxy.stats(node) {
            stats.insert(node.clone(), s);
        }
        if let Err(e) = proxy.clear(node) {
            errors.push(format!("{e:#}"));
        }
    }
    let delayed: u64 = stats.values().map(|s| s.bytes_delayed).sum();
    let evidence = json!({
        "took_effect": delayed > 0 && errors.is_empty(),
        "reason": if delayed > 0 { "client traffic was delayed, and the delay is off again" }
                  else { "no client byte went through the delayed links" },
        "proxy_stats": stats,
    });
    (evidence, first_error(&errors))
}

//! Latency: tc netem in the node's network namespace where the kernel has it; otherwise
//! chaosbed's transparent proxy there ([`super::proxied`]), for any link and any peers. The
//! evidence's `mechanism` says which, and keeps netem's refusal.

use serde_json::json;

use super::{Outcome, Request, network, proxied, sh_net};
use crate::backend::Backend;

pub async fn apply(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let netem = network::apply_qdisc(backend, request).await;
    let no_netem = netem
        .error
        .as_deref()
        .is_some_and(|e| e.contains("no netem qdisc"));
    if !no_netem {
        return netem;
    }
    // With peers, the prio qdisc went in before netem was refused: take it out again.
    for node in request.targets {
        let _ = sh_net(
            backend,
            node,
            &format!(
                "tc qdisc del dev {} root 2>/dev/null; true",
                network::DEVICE
            ),
        )
        .await;
    }
    let mut proxied = proxied::apply(backend, request).await;
    proxied.evidence["netem"] = json!(netem.error);
    proxied
}

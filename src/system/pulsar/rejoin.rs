//! A broker's upgrade rejoin condition: after its restart on another image it is ready (holding
//! its metadata session) and healthy (its heartbeat topic written and read through the bookies),
//! it answers a lookup of the workload's topic, and that topic is owned by a ready broker. A
//! broker that owned nothing before its restart need not own anything after it; the bundles it
//! owns are recorded as evidence.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{HTTP_PORT, health, is_ready, lookup_owner, owned_bundles};
use crate::system::http;

const READY_TIMEOUT: Duration = Duration::from_secs(3);
/// The health check produces and consumes through the bookies.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

/// A broker back in its cluster after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejoined {
    /// The broker node that owns the workload's topic now (it may be the restarted one).
    pub owner: String,
    /// The bundles the restarted broker owns, as it believes (empty when it owns none or did not
    /// say).
    pub owned_bundles: Vec<String>,
    /// The version the broker reports (`/admin/v2/brokers/version`), if it said.
    pub version: Option<String>,
}

/// The broker node (of `nodes`) a lookup named by its advertised host; `Err` when none is.
pub fn owner_node(nodes: &[(String, Ipv4Addr)], host: &str) -> Result<(String, Ipv4Addr), String> {
    nodes
        .iter()
        .find(|(_, a)| a.to_string() == host)
        .cloned()
        .ok_or_else(|| format!("the topic is owned by {host}, which is none of the brokers"))
}

/// Asks the restarted broker `node` (of `nodes`) whether it has rejoined: ready, healthy, and
/// answering a lookup of `topic` with a ready owner. `Err` says what is still missing.
pub async fn rejoined(
    nodes: &[(String, Ipv4Addr)],
    node: &str,
    topic: &str,
    cluster: &str,
) -> Result<Rejoined, String> {
    let Some((_, address)) = nodes.iter().find(|(n, _)| n == node) else {
        return Err(format!("{node} is not a broker of this run"));
    };
    let address = *address;
    match is_ready(address, READY_TIMEOUT).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("{node} ({address}) is not ready")),
        Err(e) => return Err(format!("{node} ({address}) ready: {e:#}")),
    }
    match health(address, HEALTH_TIMEOUT).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("{node} is ready but its health check fails")),
        Err(e) => return Err(format!("{node} health: {e:#}")),
    }
    let host = lookup_owner(address, topic)
        .await
        .map_err(|e| format!("{node} does not answer lookups: {e:#}"))?;
    let (owner, owner_address) = owner_node(nodes, &host)?;
    if owner != node {
        match is_ready(owner_address, READY_TIMEOUT).await {
            Ok(true) => {}
            Ok(false) => return Err(format!("{topic} is owned by {owner}, which is not ready")),
            Err(e) => return Err(format!("{topic} is owned by {owner}, unreachable: {e:#}")),
        }
    }
    let owned_bundles = owned_bundles(address, cluster, READY_TIMEOUT)
        .await
        .unwrap_or_default();
    Ok(Rejoined {
        owner,
        owned_bundles,
        version: version(address).await,
    })
}

/// The version the broker at `address` reports, e.g. `4.0.7`.
async fn version(address: Ipv4Addr) -> Option<String> {
    let url = http::url(address, HTTP_PORT, &["admin", "v2", "brokers", "version"]).ok()?;
    let body = http::get_ok(&url, READY_TIMEOUT).await.ok()?;
    let text = body.trim().trim_matches('"').to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_names_a_broker_by_its_advertised_address() {
        let nodes = vec![
            ("broker-1".to_string(), Ipv4Addr::new(10, 0, 0, 7)),
            ("broker-2".to_string(), Ipv4Addr::new(10, 0, 0, 8)),
        ];
        assert_eq!(owner_node(&nodes, "10.0.0.8").unwrap().0, "broker-2");
        let err = owner_node(&nodes, "broker-2").unwrap_err();
        assert!(err.contains("none of the brokers"), "{err}");
    }
}

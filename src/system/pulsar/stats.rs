//! Which namespace bundles a broker owns, as the broker itself believes: the per-broker view
//! that would show two brokers serving one topic's bundle at once.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context;

use super::HTTP_PORT;
use crate::system::http;

/// The bundles (`public/default/0x00000000_0x40000000`) the broker at `address` owns, from its
/// own ownership cache (`/admin/v2/brokers/{cluster}/{broker}/ownedNamespaces`, answered by
/// that broker itself). Broker stats are refreshed only every minute, so they cannot serve here.
pub async fn owned_bundles(
    address: Ipv4Addr,
    cluster: &str,
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let broker = format!("{address}:{HTTP_PORT}");
    let url = http::url(
        address,
        HTTP_PORT,
        &[
            "admin",
            "v2",
            "brokers",
            cluster,
            &broker,
            "ownedNamespaces",
        ],
    )?;
    let body = http::get_ok(&url, timeout).await?;
    let json: serde_json::Value = serde_json::from_str(&body)
        .with_context(|| format!("reading the bundles {address} owns"))?;
    let mut bundles: Vec<String> = json
        .as_object()
        .map(|map| {
            map.iter()
                .filter(|(_, state)| {
                    state
                        .get("is_active")
                        .and_then(|a| a.as_bool())
                        .unwrap_or(true)
                })
                .map(|(bundle, _)| bundle.clone())
                .collect()
        })
        .unwrap_or_default();
    bundles.sort();
    Ok(bundles)
}

//! The monitor probe of Pulsar: which broker owns each namespace bundle, twice a second.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;

use crate::history::{F, OpKind, Recorder};
use crate::system::probe_ticker as ticker;

const PULSAR_EVERY: Duration = Duration::from_millis(500);
const ASK_TIMEOUT: Duration = Duration::from_millis(700);

/// Samples which broker owns each namespace bundle until the task is aborted: each broker is
/// asked what it owns, so two brokers owning one bundle (and so its topics) at once shows.
pub async fn sample_ownership(
    brokers: Vec<(String, Ipv4Addr)>,
    cluster: String,
    recorder: Recorder,
) {
    let mut tick = ticker(PULSAR_EVERY);
    loop {
        tick.tick().await;
        let answers = futures_util::future::join_all(
            brokers
                .iter()
                .map(|(_, address)| super::owned_bundles(*address, &cluster, ASK_TIMEOUT)),
        )
        .await;
        let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut unreachable = Vec::new();
        for ((name, _), answer) in brokers.iter().zip(answers) {
            match answer {
                Ok(bundles) => {
                    for bundle in bundles {
                        owners.entry(bundle).or_default().push(name.clone());
                    }
                }
                Err(_) => unreachable.push(name.clone()),
            }
        }
        recorder.record(
            "monitor",
            F::Ownership,
            OpKind::Ok,
            json!({ "owners": owners, "unreachable": unreachable }),
            None,
        );
    }
}

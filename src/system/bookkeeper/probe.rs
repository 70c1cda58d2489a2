//! The monitor probe of BookKeeper: the bookies registered writable, twice a second.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;

use crate::history::{F, OpKind, Recorder};
use crate::system::probe_ticker as ticker;

const BOOKIES_EVERY: Duration = Duration::from_millis(500);
const ASK_TIMEOUT: Duration = Duration::from_millis(700);

/// Samples the bookies registered (writable) as any reachable bookie reports them.
pub async fn sample_bookies(bookies: Vec<(String, Ipv4Addr)>, recorder: Recorder) {
    let mut tick = ticker(BOOKIES_EVERY);
    loop {
        tick.tick().await;
        for (_, address) in &bookies {
            if let Ok(registered) = super::list_bookies(*address, ASK_TIMEOUT).await {
                let names: Vec<String> = bookies
                    .iter()
                    .filter(|(_, a)| registered.writable.contains(&super::bookie_id(*a)))
                    .map(|(n, _)| n.clone())
                    .collect();
                recorder.record(
                    "monitor",
                    F::Bookies,
                    OpKind::Ok,
                    json!({ "registered": names }),
                    None,
                );
                break;
            }
        }
    }
}

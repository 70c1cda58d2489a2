//! The monitor: samples every ZooKeeper node's role a few times a second into the history.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;

use crate::history::{F, OpKind, Recorder};
use crate::system::zookeeper;

const EVERY: Duration = Duration::from_millis(250);
const ASK_TIMEOUT: Duration = Duration::from_millis(700);

/// Samples roles until the task is aborted.
pub async fn sample_roles(nodes: Vec<(String, Ipv4Addr)>, recorder: Recorder) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let roles = zookeeper::roles(&nodes, ASK_TIMEOUT).await;
        recorder.record(
            "monitor",
            F::Roles,
            OpKind::Ok,
            json!({ "roles": roles }),
            None,
        );
    }
}

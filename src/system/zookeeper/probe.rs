//! The monitor probe of ZooKeeper: every server's role and leader epoch, four times a second.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::json;

use crate::history::{F, OpKind, Recorder};
use crate::system::probe_ticker as ticker;

use super::{Role, answers};

const ROLES_EVERY: Duration = Duration::from_millis(250);
const ASK_TIMEOUT: Duration = Duration::from_millis(700);

/// Samples ZooKeeper roles, with each answering node's leader epoch (the high 32 bits of its
/// zxid), until the task is aborted.
pub async fn sample_roles(nodes: Vec<(String, Ipv4Addr)>, recorder: Recorder) {
    let mut tick = ticker(ROLES_EVERY);
    loop {
        tick.tick().await;
        let answers = answers(&nodes, ASK_TIMEOUT).await;
        let roles: BTreeMap<&String, Role> =
            answers.iter().map(|(node, a)| (node, a.role)).collect();
        let epochs: BTreeMap<&String, u64> = answers
            .iter()
            .filter_map(|(node, a)| Some((node, a.epoch()?)))
            .collect();
        recorder.record(
            "monitor",
            F::Roles,
            OpKind::Ok,
            json!({ "roles": roles, "epochs": epochs }),
            None,
        );
    }
}

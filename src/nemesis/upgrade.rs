//! Upgrade steps: rolling a system's nodes to another image one at a time (stop, start on the new
//! image with the same data volume, wait until the node has rejoined, then the next), recording
//! each node's roll with its rejoin time and the versions the cluster ran after it.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, UpgradeOrder};
use crate::system::Rejoin;
use crate::system::zookeeper::Role;

/// Asks whether a node of a system has rejoined its cluster since it was taken down (unix ms;
/// a registration older than that is its old process's). `Err`: the system has no rejoin
/// condition, so the step cannot go on.
pub type RejoinProbe = Arc<
    dyn Fn(SystemKind, String, u64) -> Pin<Box<dyn Future<Output = anyhow::Result<Rejoin>> + Send>>
        + Send
        + Sync,
>;

/// How often a rolling node is asked whether it has rejoined.
pub const ROLL_POLL: Duration = Duration::from_millis(500);
/// The last lines of a node's log kept in a failed roll's error.
const LOG_TAIL: usize = 15;

/// What the nemesis needs to roll nodes: each node's container as created, the image each
/// upgrade version resolved to at setup, the version each node runs, and the rejoin probe.
#[derive(Clone)]
pub struct Upgrades {
    pub specs: BTreeMap<String, ContainerSpec>,
    /// `(system, version)` of every upgrade step → the image built for it.
    pub images: BTreeMap<(SystemKind, String), String>,
    /// The version (or image) each node runs now; updated as nodes roll.
    pub versions: BTreeMap<String, String>,
    pub probe: RejoinProbe,
    /// The init job of each system whose new version's init job runs before its roll
    /// (`System::init_on_upgrade`), as it ran at setup.
    pub init_jobs: BTreeMap<SystemKind, ContainerSpec>,
}

/// The order nodes roll in: `listed` in node-name order; `followers-first` the nodes with a
/// role other than leader first (by name), the leader last.
pub fn roll_order(
    targets: &[String],
    roles: &BTreeMap<String, Role>,
    order: UpgradeOrder,
) -> Vec<String> {
    let mut nodes: Vec<String> = targets.to_vec();
    nodes.sort();
    if order == UpgradeOrder::FollowersFirst {
        nodes.sort_by_key(|n| roles.get(n) == Some(&Role::Leader));
    }
    nodes
}

/// A step in progress.
pub(super) struct Roll {
    pub fault: usize,
    pub system: SystemKind,
    pub version: String,
    pub image: String,
    pub rejoin: Duration,
    pub queue: VecDeque<String>,
    pub current: Option<Rolling>,
    /// Whether the system's schema job (its init job on the new image) has run for this step,
    /// and what it did, for the first rolled node's evidence.
    pub schema_ran: bool,
    pub schema: Option<serde_json::Value>,
    /// The step's `settle`, and when the next node may go down (after the last rejoin).
    pub settle: Duration,
    pub next_at: Option<Instant>,
}

/// The node rolling now.
pub(super) struct Rolling {
    pub node: String,
    pub from_image: String,
    pub from_version: String,
    /// When it was stopped, and when it ran again on the new image.
    pub down_at: Instant,
    /// `down_at` as unix ms, for probes that compare it with what the cluster recorded.
    pub down_unix_ms: u64,
    pub started_at: Instant,
    pub last_wait: String,
    /// The active network faults put back on the new container.
    pub reestablished: Option<serde_json::Value>,
}

impl Rolling {
    /// The evidence of a node that rejoined: images, times, and the versions of every node now.
    pub fn evidence(
        &self,
        roll: &Roll,
        detail: serde_json::Value,
        versions: &BTreeMap<String, String>,
    ) -> serde_json::Value {
        let mut evidence = json!({
            "took_effect": true,
            "node": self.node,
            "step": roll.fault,
            "from_version": self.from_version,
            "to_version": roll.version,
            "from_image": self.from_image,
            "to_image": roll.image,
            "rejoin_ms": self.started_at.elapsed().as_millis() as u64,
            "down_ms": self.down_at.elapsed().as_millis() as u64,
            "probe": detail,
            "versions": versions,
        });
        if let Some(done) = &self.reestablished {
            evidence["reestablished"] = done.clone();
        }
        evidence
    }
}

/// The last `LOG_TAIL` lines of a log.
pub(super) fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn followers_roll_first_and_the_leader_last() {
        let targets: Vec<String> = ["zk-3", "zk-1", "zk-2"].map(String::from).to_vec();
        let roles = BTreeMap::from([
            ("zk-1".to_string(), Role::Leader),
            ("zk-2".to_string(), Role::Follower),
            ("zk-3".to_string(), Role::Follower),
        ]);
        assert_eq!(
            roll_order(&targets, &roles, UpgradeOrder::FollowersFirst),
            ["zk-2", "zk-3", "zk-1"]
        );
        assert_eq!(
            roll_order(&targets, &roles, UpgradeOrder::Listed),
            ["zk-1", "zk-2", "zk-3"]
        );
        assert_eq!(
            roll_order(&targets, &BTreeMap::new(), UpgradeOrder::FollowersFirst),
            ["zk-1", "zk-2", "zk-3"]
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let log: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let tail = tail(&log);
        assert!(tail.starts_with("line 6\n"), "{tail}");
        assert!(tail.ends_with("line 20"), "{tail}");
    }
}

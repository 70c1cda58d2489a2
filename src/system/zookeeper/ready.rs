//! Waiting until an ensemble is ready: a quorum with one leader, or, when only a minority was
//! started, each started node answering `ruok`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Role, four_letter, roles};

const POLL: Duration = Duration::from_millis(200);
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// What readiness found.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub elapsed: Duration,
    pub leader: Option<String>,
    pub roles: BTreeMap<String, Role>,
}

/// Polls until the started nodes are ready or `timeout` passes. With a started majority, ready
/// means exactly one leader and every started node serving; otherwise every started node answers
/// `ruok` with `imok` (there can be no quorum).
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    started: &[String],
    total: usize,
    timeout: Duration,
) -> anyhow::Result<Readiness> {
    let begin = Instant::now();
    let started_nodes: Vec<(String, Ipv4Addr)> = nodes
        .iter()
        .filter(|(name, _)| started.contains(name))
        .cloned()
        .collect();
    let majority = started.len() > total / 2;
    loop {
        let current = roles(&started_nodes, ASK_TIMEOUT).await;
        let leaders: Vec<&String> = current
            .iter()
            .filter(|(_, r)| matches!(r, Role::Leader | Role::Standalone))
            .map(|(n, _)| n)
            .collect();
        let ready = if majority {
            leaders.len() == 1 && current.values().all(|r| r.is_serving())
        } else {
            answers_ruok(&started_nodes).await
        };
        if ready {
            return Ok(Readiness {
                elapsed: begin.elapsed(),
                leader: leaders.first().map(|n| n.to_string()),
                roles: current,
            });
        }
        if begin.elapsed() >= timeout {
            let seen = current
                .iter()
                .map(|(n, r)| format!("{n} {}", r.name()))
                .collect::<Vec<_>>()
                .join(", ");
            let wanted = if majority {
                "a quorum with one leader"
            } else {
                "every started node to answer ruok"
            };
            bail!(
                "waited {timeout:?} for ZooKeeper: wanted {wanted}; last seen: {seen}. The node logs in the run directory say why"
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn answers_ruok(nodes: &[(String, Ipv4Addr)]) -> bool {
    for (_, address) in nodes {
        match four_letter(*address, "ruok", ASK_TIMEOUT).await {
            Ok(answer) if answer.trim() == "imok" => {}
            _ => return false,
        }
    }
    true
}

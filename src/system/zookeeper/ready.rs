//! Waiting until an ensemble is ready: a quorum with one leader, or, when only a minority was
//! started, each started node answering `ruok`. Two nodes leading for longer than any leader
//! takes to step down end the wait at once: they lead two ensembles, and waiting cannot mend that.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Role, Srvr, answers, four_letter};

const POLL: Duration = Duration::from_millis(200);
/// How long two nodes may both lead before the wait gives up on them: a leader cut off from its
/// followers steps down within syncLimit ticks (4 s with the image's defaults).
const SPLIT_PATIENCE: Duration = Duration::from_secs(15);
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
    let mut split_since: Option<Instant> = None;
    loop {
        let srvr = answers(&started_nodes, ASK_TIMEOUT).await;
        let current: BTreeMap<String, Role> =
            srvr.iter().map(|(n, a)| (n.clone(), a.role)).collect();
        let leaders: Vec<&String> = current
            .iter()
            .filter(|(_, r)| matches!(r, Role::Leader | Role::Standalone))
            .map(|(n, _)| n)
            .collect();
        if leaders.len() > 1 {
            let since = *split_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= SPLIT_PATIENCE {
                bail!(
                    "{} have all been leading for {SPLIT_PATIENCE:?}: {}. Two leaders that long \
                     lead two ensembles; do the nodes' server lists (ZOO_SERVERS, zoo.cfg) agree?",
                    leaders
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    describe_leaders(&srvr)
                );
            }
        } else {
            split_since = None;
        }
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

/// `zk-1 leader (epoch 1), zk-3 standalone (epoch 0)`: each leading node and its epoch.
fn describe_leaders(answers: &BTreeMap<String, Srvr>) -> String {
    answers
        .iter()
        .filter(|(_, a)| matches!(a.role, Role::Leader | Role::Standalone))
        .map(|(n, a)| match a.epoch() {
            Some(epoch) => format!("{n} {} (epoch {epoch})", a.role.name()),
            None => format!("{n} {}", a.role.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
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

/// A node back in the ensemble after a restart (an upgrade step's rejoin condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejoined {
    pub role: Role,
    /// The version the node reports in `srvr`, e.g. `3.9.5-...`.
    pub version: Option<String>,
    pub leader: String,
}

/// Whether `node` has rejoined, from every node's `srvr` answer: it serves as follower or leader
/// (a follower serves only once synced with the leader) and the ensemble has exactly one leader.
/// `Err` says what is still missing.
pub fn judge_rejoin(
    node: &str,
    answers: &BTreeMap<String, super::Srvr>,
) -> Result<Rejoined, String> {
    let leaders: Vec<&String> = answers
        .iter()
        .filter(|(_, a)| a.role == Role::Leader)
        .map(|(n, _)| n)
        .collect();
    let Some(own) = answers.get(node) else {
        return Err(format!("{node} was not asked"));
    };
    if !matches!(own.role, Role::Leader | Role::Follower) {
        return Err(format!("{node} is {}", own.role.name()));
    }
    match leaders.as_slice() {
        [leader] => Ok(Rejoined {
            role: own.role,
            version: own.version.clone(),
            leader: leader.to_string(),
        }),
        _ => Err(format!(
            "the ensemble has {} leaders ({})",
            leaders.len(),
            answers
                .iter()
                .map(|(n, a)| format!("{n} {}", a.role.name()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Asks every node `srvr` once and judges whether `node` has rejoined.
pub async fn rejoined(nodes: &[(String, Ipv4Addr)], node: &str) -> Result<Rejoined, String> {
    let answers = futures_util::future::join_all(
        nodes
            .iter()
            .map(|(_, address)| super::srvr(*address, ASK_TIMEOUT)),
    )
    .await;
    let answers: BTreeMap<String, super::Srvr> =
        nodes.iter().map(|(n, _)| n.clone()).zip(answers).collect();
    judge_rejoin(node, &answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::zookeeper::Srvr;

    fn answers(roles: &[(&str, Role)]) -> BTreeMap<String, Srvr> {
        roles
            .iter()
            .map(|(n, role)| {
                let srvr = Srvr {
                    role: *role,
                    zxid: None,
                    version: Some("3.9.5".into()),
                };
                (n.to_string(), srvr)
            })
            .collect()
    }

    #[test]
    fn a_follower_under_one_leader_has_rejoined() {
        let a = answers(&[
            ("zk-1", Role::Follower),
            ("zk-2", Role::Leader),
            ("zk-3", Role::Follower),
        ]);
        let rejoined = judge_rejoin("zk-1", &a).unwrap();
        assert_eq!(rejoined.leader, "zk-2");
        assert_eq!(rejoined.version.as_deref(), Some("3.9.5"));
    }

    #[test]
    fn a_node_not_serving_or_without_a_leader_has_not() {
        let a = answers(&[
            ("zk-1", Role::NotServing),
            ("zk-2", Role::Leader),
            ("zk-3", Role::Follower),
        ]);
        assert!(
            judge_rejoin("zk-1", &a)
                .unwrap_err()
                .contains("not-serving")
        );
        let a = answers(&[
            ("zk-1", Role::Follower),
            ("zk-2", Role::Unreachable),
            ("zk-3", Role::Follower),
        ]);
        assert!(judge_rejoin("zk-1", &a).unwrap_err().contains("0 leaders"));
    }
}

//! Resolving a target selector to concrete nodes, from what is known when the fault fires.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::scenario::Target;
use crate::system::zookeeper::Role;

/// What the runner observed of the cluster just before a fault fires.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// ZooKeeper roles.
    pub roles: BTreeMap<String, Role>,
    /// The broker owning the workload's topic.
    pub owner: Option<String>,
    /// The bookies of the topic's current ledger.
    pub ensemble: Vec<String>,
    /// The Pinpoint collector the agent sends spans to.
    pub agent_collector: Option<String>,
    /// Why a lookup above failed, to explain a target that then matches nothing.
    pub problems: Vec<String>,
}

/// What target resolution may look at.
#[derive(Debug, Clone, Default)]
pub struct TargetContext {
    /// Every node of the targeted system, in order.
    pub nodes: Vec<String>,
    /// Nodes currently down (killed, stopped, paused or never started).
    pub down: BTreeSet<String>,
    /// Roles as last sampled; needed only for role targets.
    pub roles: BTreeMap<String, Role>,
    /// The broker that owns the workload's topic, when the target system is Pulsar.
    pub owner: Option<String>,
    /// The bookies of the topic's current ledger, when the target system is BookKeeper.
    pub ensemble: Vec<String>,
    /// The collector the Pinpoint agent sends spans to, when the target system is the collectors.
    pub agent_collector: Option<String>,
    /// Why looking up the owner or ensemble failed.
    pub problems: Vec<String>,
}

impl TargetContext {
    fn up(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| !self.down.contains(*n))
            .cloned()
            .collect()
    }
}

/// The nodes `target` selects now. Random choices come from `rng`, so a seed replays them.
pub fn resolve(
    target: &Target,
    ctx: &TargetContext,
    rng: &mut impl Rng,
) -> anyhow::Result<Vec<String>> {
    let n = ctx.nodes.len();
    let up = ctx.up();
    let pick = |count: usize, from: &[String], rng: &mut dyn rand::RngCore| -> Vec<String> {
        let mut chosen: Vec<String> = from
            .choose_multiple(rng, count.min(from.len()))
            .cloned()
            .collect();
        chosen.sort();
        chosen
    };
    let with_role = |role: Role| -> Vec<String> {
        ctx.roles
            .iter()
            .filter(|(node, r)| **r == role && !ctx.down.contains(*node))
            .map(|(node, _)| node.clone())
            .collect()
    };
    let chosen = match target {
        Target::Node(name) => {
            if !ctx.nodes.contains(name) {
                bail!(
                    "target {name} is not a node of this system ({})",
                    ctx.nodes.join(", ")
                );
            }
            vec![name.clone()]
        }
        Target::One => pick(1, &up, rng),
        Target::Minority => pick((n - 1) / 2, &up, rng),
        Target::Majority => pick(n / 2 + 1, &up, rng),
        Target::All => up.clone(),
        Target::Leader => {
            let leaders = with_role(Role::Leader);
            if leaders.len() != 1 {
                bail!(
                    "target leader: expected one leader among the running nodes, found {} ({})",
                    leaders.len(),
                    describe(&ctx.roles)
                );
            }
            leaders
        }
        Target::Follower => pick(1, &with_role(Role::Follower), rng),
        Target::Followers => with_role(Role::Follower),
        Target::Down => ctx.down.iter().cloned().collect(),
        Target::Owner => match &ctx.owner {
            Some(owner) if !ctx.down.contains(owner) => vec![owner.clone()],
            Some(owner) => bail!("target owner: the topic's owner {owner} is already down"),
            None => {
                bail!("target owner: no broker owns the topic now (lookup failed or it is unowned)")
            }
        },
        Target::AgentCollector => match &ctx.agent_collector {
            Some(collector) if !ctx.down.contains(collector) => vec![collector.clone()],
            Some(collector) => {
                bail!("target agent-collector: the agent's collector {collector} is already down")
            }
            None => bail!(
                "target agent-collector: the agent has no span stream to a collector now ({})",
                ctx.problems.join("; ")
            ),
        },
        Target::Ensemble => {
            let live: Vec<String> = ctx
                .ensemble
                .iter()
                .filter(|b| !ctx.down.contains(*b))
                .cloned()
                .collect();
            pick(1, &live, rng)
        }
    };
    if chosen.is_empty() {
        let problems = if ctx.problems.is_empty() {
            String::new()
        } else {
            format!("; {}", ctx.problems.join("; "))
        };
        bail!(
            "target {target} matched no node now (down: {:?}; roles: {}){problems}",
            ctx.down,
            describe(&ctx.roles)
        );
    }
    Ok(chosen)
}

fn describe(roles: &BTreeMap<String, Role>) -> String {
    if roles.is_empty() {
        return "none sampled".into();
    }
    roles
        .iter()
        .map(|(n, r)| format!("{n} {}", r.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ctx(n: usize) -> TargetContext {
        let nodes: Vec<String> = (1..=n).map(|i| format!("zk-{i}")).collect();
        let mut roles = BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            roles.insert(
                node.clone(),
                if i == 1 { Role::Leader } else { Role::Follower },
            );
        }
        TargetContext {
            nodes,
            down: BTreeSet::new(),
            roles,
            ..Default::default()
        }
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn roles_resolve_from_the_sample() {
        let c = ctx(3);
        assert_eq!(
            resolve(&Target::Leader, &c, &mut rng()).unwrap(),
            vec!["zk-2"]
        );
        assert_eq!(
            resolve(&Target::Followers, &c, &mut rng()).unwrap(),
            vec!["zk-1", "zk-3"]
        );
        let follower = resolve(&Target::Follower, &c, &mut rng()).unwrap();
        assert!(follower == vec!["zk-1"] || follower == vec!["zk-3"]);
    }

    #[test]
    fn no_leader_is_an_error_that_says_what_was_seen() {
        let mut c = ctx(3);
        c.roles.insert("zk-2".into(), Role::Unreachable);
        let err = resolve(&Target::Leader, &c, &mut rng())
            .unwrap_err()
            .to_string();
        assert!(err.contains("found 0"), "{err}");
        assert!(err.contains("zk-2 unreachable"), "{err}");
    }

    #[test]
    fn down_selects_nodes_that_are_not_running() {
        let mut c = ctx(3);
        c.down = ["zk-2".to_string(), "zk-3".to_string()].into();
        assert_eq!(
            resolve(&Target::Down, &c, &mut rng()).unwrap(),
            vec!["zk-2", "zk-3"]
        );
        assert_eq!(resolve(&Target::All, &c, &mut rng()).unwrap(), vec!["zk-1"]);
    }

    #[test]
    fn the_agents_collector_comes_from_the_cluster_state() {
        let mut c = TargetContext {
            nodes: vec!["collector-1".into(), "collector-2".into()],
            agent_collector: Some("collector-2".into()),
            ..Default::default()
        };
        assert_eq!(
            resolve(&Target::AgentCollector, &c, &mut rng()).unwrap(),
            vec!["collector-2"]
        );
        c.down.insert("collector-2".into());
        let err = resolve(&Target::AgentCollector, &c, &mut rng()).unwrap_err();
        assert!(err.to_string().contains("already down"), "{err}");
        c.agent_collector = None;
        c.problems = vec!["app-1: no connection to port 9993".into()];
        let err = resolve(&Target::AgentCollector, &c, &mut rng()).unwrap_err();
        assert!(err.to_string().contains("port 9993"), "{err}");
    }

    #[test]
    fn owner_and_ensemble_come_from_the_cluster_state() {
        let c = TargetContext {
            nodes: vec!["broker-1".into(), "broker-2".into()],
            owner: Some("broker-2".into()),
            ensemble: vec!["bookie-3".into()],
            ..Default::default()
        };
        assert_eq!(
            resolve(&Target::Owner, &c, &mut rng()).unwrap(),
            vec!["broker-2"]
        );
        assert_eq!(
            resolve(&Target::Ensemble, &c, &mut rng()).unwrap(),
            vec!["bookie-3"]
        );
        let unowned = TargetContext { owner: None, ..c };
        assert!(resolve(&Target::Owner, &unowned, &mut rng()).is_err());
    }

    #[test]
    fn the_same_seed_picks_the_same_nodes() {
        let c = ctx(5);
        let a = resolve(&Target::Majority, &c, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
        let b = resolve(&Target::Majority, &c, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
        assert_eq!(a, b);
    }

    proptest! {
        #[test]
        fn minority_and_majority_have_the_right_sizes(n in 1usize..=9, seed: u64) {
            let c = ctx(n);
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let majority = resolve(&Target::Majority, &c, &mut r).unwrap();
            prop_assert_eq!(majority.len(), n / 2 + 1);
            if n >= 3 {
                let minority = resolve(&Target::Minority, &c, &mut r).unwrap();
                prop_assert_eq!(minority.len(), (n - 1) / 2);
                prop_assert!(minority.len() * 2 < n);
            }
        }
    }
}

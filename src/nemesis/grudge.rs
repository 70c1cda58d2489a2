//! Network partitions as data (Jepsen's grudges): which node drops whose traffic, built by pure
//! functions over node names and a seeded rng.
//!
//! A [`Grudge`] maps each node to the nodes whose packets it drops: `{a: {b}}` means `a` drops
//! what comes from `b` (one iptables `INPUT -s b -j DROP` rule on `a`). Every node a constructor
//! was given is a key, with an empty set when it drops nothing. Applying a grudge means
//! installing [`Grudge::pairs`]; healing it means removing them all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// For each node, the nodes whose traffic it drops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grudge(pub BTreeMap<String, BTreeSet<String>>);

impl Grudge {
    /// `node` cut off from every other node of `nodes` (both directions). A `node` missing from
    /// `nodes` is still cut off from all of them.
    pub fn isolate(nodes: &[String], node: &str) -> Self {
        let rest: Vec<String> = sorted(nodes).into_iter().filter(|n| n != node).collect();
        Self::complete(&[vec![node.to_string()], rest])
    }

    /// Two random halves that cannot reach each other; with an odd count one side has the
    /// extra node (5 nodes: 2 | 3).
    pub fn halves(nodes: &[String], rng: &mut impl Rng) -> Self {
        let shuffled = shuffled(nodes, rng);
        let (a, b) = shuffled.split_at(shuffled.len() / 2);
        Self::complete(&[a.to_vec(), b.to_vec()])
    }

    /// The largest minority, chosen at random, cut off from the majority: 1 of 3, 2 of 5, 2 of 6
    /// (like the `minority` target). Fewer than 3 nodes have no minority: the grudge is empty.
    pub fn majority_minority(nodes: &[String], rng: &mut impl Rng) -> Self {
        let shuffled = shuffled(nodes, rng);
        let (minority, majority) = shuffled.split_at((shuffled.len().saturating_sub(1)) / 2);
        Self::complete(&[minority.to_vec(), majority.to_vec()])
    }

    /// Jepsen's bridge: random halves that cannot reach each other, except one node of the larger
    /// half (the bridge) that both sides reach and that reaches both (5 nodes: 2 | bridge | 2).
    /// With fewer than 3 nodes one side is empty and the grudge is empty.
    pub fn bridge(nodes: &[String], rng: &mut impl Rng) -> Self {
        let shuffled = shuffled(nodes, rng);
        let (a, b) = shuffled.split_at(shuffled.len() / 2);
        let Some((bridge, b)) = b.split_first() else {
            return Self::default();
        };
        let mut grudge = Self::complete(&[a.to_vec(), b.to_vec()]);
        grudge.0.insert(bridge.clone(), BTreeSet::new());
        grudge
    }

    /// `from` drops the traffic that comes from `to`; `to` still hears `from`. The one grudge
    /// here that is not symmetric.
    pub fn one_way(from: &str, to: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert(to.to_string(), BTreeSet::new());
        map.insert(from.to_string(), BTreeSet::from([to.to_string()]));
        Self(map)
    }

    /// Every node drops every node outside its own component. Components should be disjoint.
    pub fn complete(components: &[Vec<String>]) -> Self {
        let all: BTreeSet<&String> = components.iter().flatten().collect();
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for component in components {
            for node in component {
                let drops = map.entry(node.clone()).or_default();
                drops.extend(
                    all.iter()
                        .filter(|other| !component.contains(other))
                        .map(|other| (*other).clone()),
                );
            }
        }
        Self(map)
    }

    /// Whether `a` drops the traffic that comes from `b`.
    pub fn drops(&self, a: &str, b: &str) -> bool {
        self.0.get(a).is_some_and(|dropped| dropped.contains(b))
    }

    /// Whether every dropped pair is dropped both ways.
    pub fn is_symmetric(&self) -> bool {
        self.pairs().iter().all(|(a, b)| self.drops(b, a))
    }

    /// Whether no node drops anything (a healed network).
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeSet::is_empty)
    }

    /// Every node the grudge mentions, as a key or as a dropped peer.
    pub fn nodes(&self) -> BTreeSet<String> {
        self.0
            .iter()
            .flat_map(|(node, dropped)| std::iter::once(node).chain(dropped))
            .cloned()
            .collect()
    }

    /// Every `(node, peer)` such that `node` drops traffic from `peer`: the rules to install,
    /// in order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .flat_map(|(node, dropped)| {
                dropped.iter().map(move |peer| (node.clone(), peer.clone()))
            })
            .collect()
    }

    /// The groups of nodes connected through pairs that reach each other both ways, each sorted,
    /// in order of their first node. For a symmetric grudge this is its partition (a bridge
    /// joins everything into one group).
    pub fn components(&self) -> Vec<Vec<String>> {
        let nodes = self.nodes();
        let mut seen: BTreeSet<&String> = BTreeSet::new();
        let mut components = Vec::new();
        for start in &nodes {
            if !seen.insert(start) {
                continue;
            }
            let mut component = vec![start.clone()];
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                for other in &nodes {
                    if !seen.contains(other) && !self.drops(node, other) && !self.drops(other, node)
                    {
                        seen.insert(other);
                        component.push(other.clone());
                        stack.push(other);
                    }
                }
            }
            component.sort();
            components.push(component);
        }
        components
    }
}

impl fmt::Display for Grudge {
    /// `zk-1 | zk-2 zk-3` for a symmetric grudge, `zk-1 drops zk-2` pairs otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no partition");
        }
        if self.is_symmetric() {
            let groups: Vec<String> = self.components().iter().map(|c| c.join(" ")).collect();
            return f.write_str(&groups.join(" | "));
        }
        let pairs: Vec<String> = self
            .pairs()
            .iter()
            .map(|(a, b)| format!("{a} drops {b}"))
            .collect();
        f.write_str(&pairs.join(", "))
    }
}

/// The distinct nodes, sorted, so the result depends on the set of names and not their order.
fn sorted(nodes: &[String]) -> Vec<String> {
    nodes
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn shuffled(nodes: &[String], rng: &mut impl Rng) -> Vec<String> {
    let mut nodes = sorted(nodes);
    nodes.shuffle(rng);
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("zk-{i}")).collect()
    }

    fn strings(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn grudge(entries: &[(&str, &[&str])]) -> Grudge {
        Grudge(
            entries
                .iter()
                .map(|(node, dropped)| (node.to_string(), strings(dropped)))
                .collect(),
        )
    }

    fn sizes(g: &Grudge) -> Vec<usize> {
        let mut sizes: Vec<usize> = g.components().iter().map(Vec::len).collect();
        sizes.sort();
        sizes
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// The node that drops nothing and that nobody drops.
    fn bridge_node(g: &Grudge) -> Option<String> {
        g.0.iter()
            .find(|(node, dropped)| dropped.is_empty() && !g.0.values().any(|d| d.contains(*node)))
            .map(|(node, _)| node.clone())
    }

    #[test]
    fn isolating_one_of_three() {
        let g = Grudge::isolate(&nodes(3), "zk-2");
        assert_eq!(
            g,
            grudge(&[
                ("zk-1", &["zk-2"]),
                ("zk-2", &["zk-1", "zk-3"]),
                ("zk-3", &["zk-2"]),
            ])
        );
        assert_eq!(
            g.pairs(),
            vec![
                ("zk-1".to_string(), "zk-2".to_string()),
                ("zk-2".to_string(), "zk-1".to_string()),
                ("zk-2".to_string(), "zk-3".to_string()),
                ("zk-3".to_string(), "zk-2".to_string()),
            ]
        );
        assert_eq!(g.components(), vec![vec!["zk-1", "zk-3"], vec!["zk-2"]]);
        assert!(g.is_symmetric());
        assert_eq!(g.to_string(), "zk-1 zk-3 | zk-2");
    }

    #[test]
    fn complete_grudge_of_five() {
        let g = Grudge::complete(&[
            vec!["zk-1".into(), "zk-4".into()],
            vec!["zk-2".into(), "zk-3".into(), "zk-5".into()],
        ]);
        assert_eq!(
            g,
            grudge(&[
                ("zk-1", &["zk-2", "zk-3", "zk-5"]),
                ("zk-2", &["zk-1", "zk-4"]),
                ("zk-3", &["zk-1", "zk-4"]),
                ("zk-4", &["zk-2", "zk-3", "zk-5"]),
                ("zk-5", &["zk-1", "zk-4"]),
            ])
        );
        assert_eq!(g.pairs().len(), 12);
        assert_eq!(
            g.components(),
            vec![vec!["zk-1", "zk-4"], vec!["zk-2", "zk-3", "zk-5"]]
        );
    }

    #[test]
    fn a_single_component_drops_nothing() {
        let g = Grudge::complete(&[nodes(3)]);
        assert!(g.is_empty());
        assert!(g.pairs().is_empty());
        assert_eq!(g.components(), vec![nodes(3)]);
        assert_eq!(g.to_string(), "no partition");
        assert!(Grudge::default().is_empty());
    }

    #[test]
    fn one_way_drops_in_one_direction_only() {
        let g = Grudge::one_way("zk-1", "zk-3");
        assert_eq!(g, grudge(&[("zk-1", &["zk-3"]), ("zk-3", &[])]));
        assert!(g.drops("zk-1", "zk-3"));
        assert!(!g.drops("zk-3", "zk-1"));
        assert!(!g.is_symmetric());
        assert!(!g.is_empty());
        assert_eq!(g.pairs(), vec![("zk-1".to_string(), "zk-3".to_string())]);
        // Neither reaches the other both ways, so they are not one group.
        assert_eq!(g.components(), vec![vec!["zk-1"], vec!["zk-3"]]);
        assert_eq!(g.to_string(), "zk-1 drops zk-3");
    }

    #[test]
    fn shapes_of_three_nodes() {
        let halves = Grudge::halves(&nodes(3), &mut rng(1));
        assert_eq!(sizes(&halves), vec![1, 2]);
        let mm = Grudge::majority_minority(&nodes(3), &mut rng(1));
        assert_eq!(sizes(&mm), vec![1, 2]);

        let bridge = Grudge::bridge(&nodes(3), &mut rng(1));
        let middle = bridge_node(&bridge).expect("a bridge node");
        let sides: Vec<&String> = bridge.0.keys().filter(|n| **n != middle).collect();
        assert_eq!(sides.len(), 2);
        assert!(bridge.drops(sides[0], sides[1]) && bridge.drops(sides[1], sides[0]));
        assert_eq!(bridge.pairs().len(), 2);
    }

    #[test]
    fn shapes_of_five_nodes() {
        assert_eq!(sizes(&Grudge::halves(&nodes(5), &mut rng(7))), vec![2, 3]);
        assert_eq!(
            sizes(&Grudge::majority_minority(&nodes(5), &mut rng(7))),
            vec![2, 3]
        );
        assert_eq!(
            sizes(&Grudge::majority_minority(&nodes(6), &mut rng(7))),
            vec![2, 4]
        );
        assert_eq!(sizes(&Grudge::halves(&nodes(6), &mut rng(7))), vec![3, 3]);

        let bridge = Grudge::bridge(&nodes(5), &mut rng(7));
        let middle = bridge_node(&bridge).expect("a bridge node");
        // 2 | bridge | 2: each side node drops the two of the other side.
        assert_eq!(bridge.pairs().len(), 8);
        for (node, dropped) in &bridge.0 {
            let expected = if *node == middle { 0 } else { 2 };
            assert_eq!(dropped.len(), expected, "{node} drops {dropped:?}");
        }
        assert_eq!(bridge.components().len(), 1);
    }

    #[test]
    fn too_few_nodes_make_no_partition() {
        assert!(Grudge::majority_minority(&nodes(2), &mut rng(1)).is_empty());
        assert!(Grudge::bridge(&nodes(2), &mut rng(1)).is_empty());
        assert!(Grudge::halves(&nodes(1), &mut rng(1)).is_empty());
        assert!(Grudge::halves(&[], &mut rng(1)).is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_grudge_whatever_the_input_order() {
        let mut reversed = nodes(7);
        reversed.reverse();
        assert_eq!(
            Grudge::halves(&nodes(7), &mut rng(3)),
            Grudge::halves(&reversed, &mut rng(3))
        );
        assert_eq!(
            Grudge::bridge(&nodes(7), &mut rng(3)),
            Grudge::bridge(&nodes(7), &mut rng(3))
        );
    }

    #[test]
    fn serializes_as_a_map_of_node_to_dropped_peers() {
        let g = Grudge::one_way("zk-1", "zk-2");
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, r#"{"zk-1":["zk-2"],"zk-2":[]}"#);
        assert_eq!(serde_json::from_str::<Grudge>(&json).unwrap(), g);
    }

    fn assert_partition(g: &Grudge, all: &[String]) -> Result<(), TestCaseError> {
        prop_assert!(g.is_symmetric(), "{:?}", g);
        let components = g.components();
        let mut covered: Vec<String> = components.iter().flatten().cloned().collect();
        covered.sort();
        let mut expected = all.to_vec();
        expected.sort();
        prop_assert_eq!(covered, expected, "components {:?}", components);
        // Inside a component nobody drops anybody; across components everybody drops everybody.
        prop_assert_eq!(&Grudge::complete(&components), g);
        Ok(())
    }

    fn assert_no_self_drops(g: &Grudge) -> Result<(), TestCaseError> {
        for (node, dropped) in &g.0 {
            prop_assert!(!dropped.contains(node), "{} drops itself", node);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn symmetric_shapes_partition_the_nodes(n in 2usize..=9, seed: u64, pick in 0usize..9) {
            let all = nodes(n);
            let mut r = rng(seed);
            let isolated = &all[pick % n];
            let shapes = [
                Grudge::halves(&all, &mut r),
                Grudge::majority_minority(&all, &mut r),
                Grudge::isolate(&all, isolated),
            ];
            for g in &shapes {
                assert_partition(g, &all)?;
                assert_no_self_drops(g)?;
            }
            let [halves, mm, isolate] = shapes;
            prop_assert_eq!(halves.components().len(), 2);
            let smallest = mm.components().iter().map(Vec::len).min().unwrap();
            if n >= 3 {
                prop_assert_eq!(mm.components().len(), 2);
                prop_assert!(smallest * 2 < n, "minority of {} is {}", n, smallest);
            } else {
                prop_assert!(mm.is_empty());
            }
            prop_assert!(isolate.components().contains(&vec![isolated.clone()]));
        }

        #[test]
        fn the_bridge_reaches_both_sides_that_drop_each_other(n in 3usize..=9, seed: u64) {
            let all = nodes(n);
            let g = Grudge::bridge(&all, &mut rng(seed));
            assert_no_self_drops(&g)?;
            prop_assert!(g.is_symmetric());
            let middle = bridge_node(&g).expect("a bridge node");
            prop_assert!(g.0[&middle].is_empty());
            let others: Vec<String> = all.iter().filter(|n| **n != middle).cloned().collect();
            for a in &others {
                prop_assert!(!g.drops(a, &middle));
            }
            // Without the bridge, two non-empty sides that drop each other completely.
            let mut sides = g.clone();
            sides.0.remove(&middle);
            assert_partition(&sides, &others)?;
            prop_assert_eq!(sides.components().len(), 2);
            prop_assert_eq!(g.pairs().len(), 2 * (n / 2) * (n - n / 2 - 1));
        }

        #[test]
        fn one_way_is_never_symmetric(a in 1usize..=9, b in 1usize..=9) {
            prop_assume!(a != b);
            let (a, b) = (format!("zk-{a}"), format!("zk-{b}"));
            let g = Grudge::one_way(&a, &b);
            prop_assert!(!g.is_symmetric());
            prop_assert!(g.drops(&a, &b));
            prop_assert!(!g.drops(&b, &a));
            assert_no_self_drops(&g)?;
        }
    }
}

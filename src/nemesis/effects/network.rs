//! Network faults inside a node's namespace: partitions and packet loss (optionally only to some
//! ports or of one protocol) as iptables chains named after the fault (so healing removes exactly
//! chaosbed's rules), bandwidth and latency as a root qdisc (tc tbf; tc netem where the kernel
//! has it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::{Outcome, Request, Undo, first_error, net_helpers, sh_net};
use crate::backend::Backend;
use crate::nemesis::grudge::Grudge;
use crate::scenario::{FaultKind, FaultParams, PartitionShape, SystemKind};

/// Every iptables chain chaosbed creates starts so; `iptables -S | grep cb-f` finds leftovers.
pub const CHAIN_PREFIX: &str = "cb-f";
pub(super) const DEVICE: &str = "eth0";
/// tbf's bucket and queue: enough for a 1500-byte MTU at low rates, and a bounded queue.
const TBF_BURST: &str = "32kbit";
const TBF_LATENCY: &str = "400ms";

/// The rules one node gets: drop packets from `from` (INPUT) and to `to` (OUTPUT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub node: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
}

/// The peers of a network fault: named systems and nodes, or every node but the targets.
pub(super) fn peers(params: &FaultParams, targets: &[String], all_nodes: &[String]) -> Vec<String> {
    if params.peers.is_empty() {
        return all_nodes
            .iter()
            .filter(|n| !targets.contains(n))
            .cloned()
            .collect();
    }
    let mut out = BTreeSet::new();
    for peer in &params.peers {
        match SystemKind::named(peer) {
            Some(system) => {
                let prefix = format!("{}-", system.node_prefix());
                out.extend(all_nodes.iter().filter(|n| n.starts_with(&prefix)).cloned());
            }
            None => {
                out.insert(peer.clone());
            }
        }
    }
    out.into_iter().filter(|n| !targets.contains(n)).collect()
}

/// Which node drops whose traffic for a partition: pure, so shapes are tested without Docker.
pub fn cuts(
    params: &FaultParams,
    targets: &[String],
    system_nodes: &[String],
    all_nodes: &[String],
    seed: u64,
) -> Vec<Cut> {
    let shape = params.shape.unwrap_or_default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let grudge = match shape {
        PartitionShape::Halves => Grudge::halves(system_nodes, &mut rng),
        PartitionShape::Bridge => Grudge::bridge(system_nodes, &mut rng),
        PartitionShape::Isolate | PartitionShape::OneWay => {
            let peers = peers(params, targets, all_nodes);
            let both_ways = shape == PartitionShape::Isolate;
            return targets
                .iter()
                .map(|t| Cut {
                    node: t.clone(),
                    from: peers.clone(),
                    to: if both_ways { peers.clone() } else { Vec::new() },
                })
                .collect();
        }
    };
    grudge
        .0
        .iter()
        .filter(|(_, from)| !from.is_empty())
        .map(|(node, from)| Cut {
            node: node.clone(),
            from: from.iter().cloned().collect(),
            to: Vec::new(),
        })
        .collect()
}

fn chain(fault: usize) -> String {
    format!("{CHAIN_PREFIX}{fault}")
}

/// The protocol and destination-port matches of a packet-loss fault's incoming rules: `[""]`
/// (every packet) unless the fault names a protocol or ports. iptables matches a port only
/// with `-p`, so `all` with ports is a tcp and a udp rule for each port.
fn packet_matches(params: &FaultParams) -> Vec<String> {
    let protocol = params.protocol.unwrap_or_default();
    if params.ports.is_empty() {
        if protocol.is_all() {
            return vec![String::new()];
        }
        return protocol
            .transports()
            .iter()
            .map(|p| format!(" -p {p}"))
            .collect();
    }
    protocol
        .transports()
        .iter()
        .flat_map(|p| {
            params
                .ports
                .iter()
                .map(move |port| format!(" -p {p} --dport {port}"))
        })
        .collect()
}

/// The script that creates fault `fault`'s chains on one node and hooks them in first. Incoming
/// packets get one rule per source and match (see [`packet_matches`]); the matches are
/// disjoint, so a packet meets the statistic match at most once and `probability` holds.
fn rules_script(
    fault: usize,
    drops_in: &[String],
    drops_out: &[String],
    matches: &[String],
    probability: Option<f64>,
) -> String {
    let chain = chain(fault);
    let statistic = probability
        .map(|p| format!(" -m statistic --mode random --probability {p:.4}"))
        .unwrap_or_default();
    let sources: Vec<String> = if drops_in.is_empty() {
        vec![String::new()]
    } else {
        drops_in.iter().map(|s| format!(" -s {s}")).collect()
    };
    let mut script = String::from("set -e\n");
    let _ = writeln!(script, "iptables -w -N {chain}");
    for source in &sources {
        for matcher in matches {
            let _ = writeln!(
                script,
                "iptables -w -A {chain}{source}{matcher}{statistic} -j DROP"
            );
        }
    }
    let _ = writeln!(script, "iptables -w -I INPUT 1 -j {chain}");
    if !drops_out.is_empty() {
        let _ = writeln!(script, "iptables -w -N {chain}-o");
        for destination in drops_out {
            let _ = writeln!(script, "iptables -w -A {chain}-o -d {destination} -j DROP");
        }
        let _ = writeln!(script, "iptables -w -I OUTPUT 1 -j {chain}-o");
    }
    let _ = writeln!(script, "iptables -w -S | grep -c -- '-j DROP' || true");
    script
}

/// Partition or packet loss: one chain per fault on each affected node.
pub async fn apply_rules(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let (node_cuts, probability, matches) = match request.kind {
        FaultKind::Partition => (
            cuts(
                request.params,
                request.targets,
                request.system_nodes,
                request.all_nodes,
                request.seed,
            ),
            None,
            vec![String::new()],
        ),
        _ => {
            // Packet loss: from the named peers only, or from everything.
            let from = if request.params.peers.is_empty() {
                Vec::new()
            } else {
                peers(request.params, request.targets, request.all_nodes)
            };
            let cuts = request
                .targets
                .iter()
                .map(|t| Cut {
                    node: t.clone(),
                    from: from.clone(),
                    to: Vec::new(),
                })
                .collect();
            (
                cuts,
                request.params.loss.map(|l| l / 100.0),
                packet_matches(request.params),
            )
        }
    };
    let address = |node: &String| request.address(node);
    let mut errors = Vec::new();
    let cut_nodes: Vec<String> = node_cuts.iter().map(|c| c.node.clone()).collect();
    let helpers = net_helpers(backend, &cut_nodes, &mut errors).await;
    let mut installed = Vec::new();
    let mut installs = BTreeMap::new();
    let mut plan = BTreeMap::new();
    for cut in &node_cuts {
        let ips = |nodes: &[String]| nodes.iter().map(address).collect::<Result<Vec<_>, _>>();
        let (drops_in, drops_out) = match (ips(&cut.from), ips(&cut.to)) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => {
                errors.push(e);
                continue;
            }
        };
        plan.insert(
            cut.node.clone(),
            json!({ "drops_from": cut.from, "drops_to": cut.to }),
        );
        let script = rules_script(request.fault, &drops_in, &drops_out, &matches, probability);
        match sh_net(backend, &cut.node, &script).await {
            Ok(_) => {
                installed.push(cut.node.clone());
                installs.insert(cut.node.clone(), script);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let listed = list_chains(backend, request.fault, &installed).await;
    let took_effect = !installed.is_empty() && installed.len() == node_cuts.len();
    let mut evidence = json!({
        "took_effect": took_effect,
        "mechanism": "iptables",
        "loss_percent": request.params.loss,
        "cuts": plan,
        "rules": listed,
        "helpers": helpers,
    });
    if request.kind == FaultKind::PacketLoss {
        // Empty ports: every destination port.
        evidence["protocol"] = json!(request.params.protocol.unwrap_or_default().name());
        evidence["ports"] = json!(request.params.ports);
    }
    Outcome {
        undo: (!installed.is_empty()).then_some(Undo::Rules {
            fault: request.fault,
            nodes: installed,
            installs,
        }),
        evidence,
        error: first_error(&errors),
    }
}

/// `iptables -S` of the fault's chains on each node, as read back.
async fn list_chains(backend: &impl Backend, fault: usize, nodes: &[String]) -> Value {
    let chain = chain(fault);
    let script = format!("iptables -w -S {chain}; iptables -w -S {chain}-o 2>/dev/null || true");
    read_back(backend, nodes, &script).await
}

/// The lines `script` prints in each node's network namespace (or the error), by node.
pub(super) async fn read_back(backend: &impl Backend, nodes: &[String], script: &str) -> Value {
    let mut out = BTreeMap::new();
    for node in nodes {
        let text = match sh_net(backend, node, script).await {
            Ok(o) => o.stdout,
            Err(e) => format!("{e:#}"),
        };
        out.insert(
            node.clone(),
            text.lines().map(str::to_string).collect::<Vec<_>>(),
        );
    }
    json!(out)
}

/// Packets dropped by rules of `chain` in `iptables -L -v -x` output.
pub fn dropped_packets(listing: &str) -> u64 {
    listing
        .lines()
        .filter(|l| l.contains("DROP"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Reads the drop counters, removes the fault's chains, and shows none of chaosbed's is left.
pub async fn heal_rules(
    backend: &impl Backend,
    fault: usize,
    nodes: &[String],
) -> (Value, Option<String>) {
    let chain = chain(fault);
    let mut errors = Vec::new();
    let helpers = net_helpers(backend, nodes, &mut errors).await;
    let mut dropped = BTreeMap::new();
    let mut left = BTreeMap::new();
    for node in nodes {
        let counters = format!(
            "iptables -w -L {chain} -n -v -x 2>/dev/null; iptables -w -L {chain}-o -n -v -x 2>/dev/null; true"
        );
        match sh_net(backend, node, &counters).await {
            Ok(out) => {
                dropped.insert(node.clone(), dropped_packets(&out.stdout));
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                continue;
            }
        }
        // A restarted container has a fresh namespace: its rules are already gone.
        let remove = format!(
            "for c in {chain} {chain}-o; do \
               iptables -w -D INPUT -j $c 2>/dev/null || true; \
               iptables -w -D OUTPUT -j $c 2>/dev/null || true; \
               iptables -w -F $c 2>/dev/null || true; \
               iptables -w -X $c 2>/dev/null || true; \
             done; iptables -w -S | grep -c -- '{CHAIN_PREFIX}' || true"
        );
        match sh_net(backend, node, &remove).await {
            Ok(out) => {
                let count: u64 = out.stdout.trim().parse().unwrap_or(u64::MAX);
                left.insert(node.clone(), count);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let total: u64 = dropped.values().sum();
    let clean = left.values().all(|&c| c == 0) && left.len() == nodes.len();
    let evidence = json!({
        "took_effect": total > 0 && clean,
        "reason": if total == 0 { "no packet was dropped while the rules were in place" }
                  else if !clean { "some of chaosbed's rules are still in place" }
                  else { "packets were dropped, and no rule of chaosbed's is left" },
        "dropped_packets": dropped,
        "chaosbed_rules_left": left,
        "helpers": helpers,
    });
    (evidence, first_error(&errors))
}

/// The script that installs a qdisc for bandwidth (tbf) or latency (netem), on the whole device
/// or, with peers, only towards them (a prio qdisc whose third band holds the shaping).
fn qdisc_script(kind: FaultKind, params: &FaultParams, peers: &[String]) -> String {
    let shaping = match kind {
        FaultKind::Bandwidth => format!(
            "tbf rate {} burst {TBF_BURST} latency {TBF_LATENCY}",
            params.rate.as_deref().unwrap_or("1mbit")
        ),
        _ => {
            let delay = params.delay.unwrap_or_default().as_millis();
            match params.jitter {
                Some(j) => format!("netem delay {delay}ms {}ms", j.as_millis()),
                None => format!("netem delay {delay}ms"),
            }
        }
    };
    let mut script = String::from("set -e\n");
    if peers.is_empty() {
        let _ = writeln!(script, "tc qdisc add dev {DEVICE} root handle 1: {shaping}");
    } else {
        let _ = writeln!(
            script,
            "tc qdisc add dev {DEVICE} root handle 1: prio bands 3"
        );
        let _ = writeln!(
            script,
            "tc qdisc add dev {DEVICE} parent 1:3 handle 30: {shaping}"
        );
        for peer in peers {
            let _ = writeln!(
                script,
                "tc filter add dev {DEVICE} parent 1: protocol ip prio 1 u32 match ip dst {peer}/32 flowid 1:3"
            );
        }
    }
    script
}

/// Bandwidth or latency on each target.
pub async fn apply_qdisc(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let peer_ips: Vec<String> = if request.params.peers.is_empty() {
        Vec::new()
    } else {
        peers(request.params, request.targets, request.all_nodes)
            .iter()
            .filter_map(|p| request.info.get(p).and_then(|i| i.address))
            .map(|a| a.to_string())
            .collect()
    };
    let script = qdisc_script(request.kind, request.params, &peer_ips);
    let mut errors = Vec::new();
    let helpers = net_helpers(backend, request.targets, &mut errors).await;
    let mut installed = Vec::new();
    let mut shown = BTreeMap::new();
    for node in request.targets {
        match sh_net(backend, node, &script).await {
            Ok(_) => installed.push(node.clone()),
            Err(e) => {
                let text = format!("{e:#}");
                if text.contains("qdisc kind is unknown") && request.kind == FaultKind::Latency {
                    errors.push(format!(
                        "this kernel has no netem qdisc (tc: \"Specified qdisc kind is unknown\"), \
                         so latency cannot be added inside node {node}"
                    ));
                } else {
                    errors.push(text);
                }
                continue;
            }
        }
        if let Ok(out) = sh_net(backend, node, &format!("tc qdisc show dev {DEVICE}")).await {
            shown.insert(node.clone(), out.stdout.trim().to_string());
        }
    }
    let wanted = if request.kind == FaultKind::Bandwidth {
        "tbf"
    } else {
        "netem"
    };
    let took_effect = !installed.is_empty()
        && installed.len() == request.targets.len()
        && shown.values().all(|s| s.contains(wanted));
    Outcome {
        undo: (!installed.is_empty()).then_some(Undo::Qdisc {
            nodes: installed,
            install: script,
        }),
        evidence: json!({
            "took_effect": took_effect,
            "mechanism": format!("tc {wanted}"),
            "qdisc": shown,
            "towards": peer_ips,
            "helpers": helpers,
        }),
        error: first_error(&errors),
    }
}

/// `Sent N bytes M pkt` of the shaping qdisc (tbf or netem) in `tc -s qdisc show` output.
pub fn shaped_packets(listing: &str) -> u64 {
    let mut lines = listing.lines();
    while let Some(line) = lines.next() {
        if (line.contains("qdisc tbf") || line.contains("qdisc netem"))
            && let Some(sent) = lines.next()
        {
            let words: Vec<&str> = sent.split_whitespace().collect();
            if let Some(i) = words.iter().position(|w| *w == "pkt") {
                return words[i - 1].parse().unwrap_or(0);
            }
        }
    }
    0
}

/// Reads how many packets went through the shaping, removes the root qdisc, shows it is gone.
pub async fn heal_qdisc(backend: &impl Backend, nodes: &[String]) -> (Value, Option<String>) {
    let mut errors = Vec::new();
    let helpers = net_helpers(backend, nodes, &mut errors).await;
    let mut shaped = BTreeMap::new();
    let mut after = BTreeMap::new();
    for node in nodes {
        match sh_net(backend, node, &format!("tc -s qdisc show dev {DEVICE}")).await {
            Ok(out) => {
                shaped.insert(node.clone(), shaped_packets(&out.stdout));
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                continue;
            }
        }
        let remove = format!(
            "tc qdisc del dev {DEVICE} root 2>/dev/null || true; tc qdisc show dev {DEVICE}"
        );
        match sh_net(backend, node, &remove).await {
            Ok(out) => {
                after.insert(node.clone(), out.stdout.trim().to_string());
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let clean = after.len() == nodes.len()
        && after
            .values()
            .all(|s| !s.contains("tbf") && !s.contains("netem") && !s.contains("prio"));
    let total: u64 = shaped.values().sum();
    let evidence = json!({
        "took_effect": total > 0 && clean,
        "reason": if total == 0 { "no packet went through the shaping qdisc" }
                  else if !clean { "chaosbed's qdisc is still in place" }
                  else { "packets were shaped, and the qdisc is gone" },
        "shaped_packets": shaped,
        "qdisc_after": after,
        "helpers": helpers,
    });
    (evidence, first_error(&errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("{prefix}-{i}")).collect()
    }

    #[test]
    fn isolating_the_leader_cuts_it_from_every_other_node_both_ways() {
        let zk = names("zk", 3);
        let cuts = cuts(&FaultParams::default(), &["zk-2".into()], &zk, &zk, 1);
        assert_eq!(
            cuts,
            vec![Cut {
                node: "zk-2".into(),
                from: vec!["zk-1".into(), "zk-3".into()],
                to: vec!["zk-1".into(), "zk-3".into()],
            }]
        );
    }

    #[test]
    fn a_broker_cut_from_zookeeper_keeps_its_bookies() {
        let mut all = names("zk", 3);
        all.extend(names("bookie", 3));
        all.extend(names("broker", 3));
        let params = FaultParams {
            peers: vec!["zookeeper".into()],
            shape: Some(PartitionShape::OneWay),
            ..Default::default()
        };
        let cuts = cuts(&params, &["broker-1".into()], &names("broker", 3), &all, 1);
        assert_eq!(cuts[0].from, names("zk", 3));
        assert!(cuts[0].to.is_empty());
    }

    #[test]
    fn halves_are_a_symmetric_grudge_over_the_system() {
        let zk = names("zk", 5);
        let params = FaultParams {
            shape: Some(PartitionShape::Halves),
            ..Default::default()
        };
        let cuts = cuts(&params, &zk, &zk, &zk, 7);
        for cut in &cuts {
            for other in &cut.from {
                let back = cuts.iter().find(|c| &c.node == other).unwrap();
                assert!(back.from.contains(&cut.node));
            }
        }
        assert_eq!(cuts.len(), 5);
    }

    #[test]
    fn rules_live_in_a_chain_named_after_the_fault() {
        let every = [String::new()];
        let script = rules_script(3, &["10.0.0.2".into()], &["10.0.0.2".into()], &every, None);
        assert!(script.contains("iptables -w -N cb-f3\n"));
        assert!(script.contains("-A cb-f3 -s 10.0.0.2 -j DROP"));
        assert!(script.contains("-I OUTPUT 1 -j cb-f3-o"));
        let loss = rules_script(4, &[], &[], &every, Some(0.3));
        assert!(loss.contains("-A cb-f4 -m statistic --mode random --probability 0.3000 -j DROP"));
    }

    fn loss_params(extra: Value) -> FaultParams {
        let mut params = json!({ "loss": 100.0 });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(params).unwrap()
    }

    /// The `-A` lines of a rules script, without `iptables -w`.
    fn appended(script: &str) -> Vec<&str> {
        script
            .lines()
            .filter_map(|l| l.strip_prefix("iptables -w "))
            .filter(|l| l.starts_with("-A "))
            .collect()
    }

    #[test]
    fn udp_ports_get_one_rule_each_in_the_faults_chain() {
        let params = loss_params(json!({ "protocol": "udp", "ports": [9995, 9996] }));
        let script = rules_script(5, &[], &[], &packet_matches(&params), Some(1.0));
        assert_eq!(
            appended(&script),
            [
                "-A cb-f5 -p udp --dport 9995 -m statistic --mode random --probability 1.0000 -j DROP",
                "-A cb-f5 -p udp --dport 9996 -m statistic --mode random --probability 1.0000 -j DROP",
            ]
        );
        // Hooked into INPUT only: packets the node sends from these ports are left alone.
        assert!(script.contains("iptables -w -I INPUT 1 -j cb-f5\n"));
        assert!(!script.contains("OUTPUT"));
    }

    #[test]
    fn all_protocols_with_ports_is_a_tcp_and_a_udp_rule_per_port_and_peer() {
        let params = loss_params(json!({ "ports": [9993] }));
        let script = rules_script(
            2,
            &["10.0.0.3".into(), "10.0.0.4".into()],
            &[],
            &packet_matches(&params),
            None,
        );
        assert_eq!(
            appended(&script),
            [
                "-A cb-f2 -s 10.0.0.3 -p tcp --dport 9993 -j DROP",
                "-A cb-f2 -s 10.0.0.3 -p udp --dport 9993 -j DROP",
                "-A cb-f2 -s 10.0.0.4 -p tcp --dport 9993 -j DROP",
                "-A cb-f2 -s 10.0.0.4 -p udp --dport 9993 -j DROP",
            ]
        );
    }

    #[test]
    fn a_protocol_without_ports_matches_every_port_of_it() {
        let tcp = loss_params(json!({ "protocol": "tcp" }));
        assert_eq!(packet_matches(&tcp), [" -p tcp"]);
        assert_eq!(packet_matches(&loss_params(json!({}))), [""]);
        let all = loss_params(json!({ "protocol": "all" }));
        assert_eq!(packet_matches(&all), [""]);
    }

    #[test]
    fn counters_and_qdisc_statistics_are_read_back() {
        let listing = "Chain cb-f0 (1 references)\n    pkts      bytes target     prot opt in     out     source               destination\n      12      720 DROP       0    --  *      *       10.0.0.2             0.0.0.0/0\n       3      180 DROP       0    --  *      *       10.0.0.3             0.0.0.0/0\n";
        assert_eq!(dropped_packets(listing), 15);
        let tc = "qdisc tbf 1: root refcnt 2 rate 1Mbit burst 4Kb lat 400ms\n Sent 52340 bytes 311 pkt (dropped 0, overlimits 20 requeues 0)\n backlog 0b 0p requeues 0\n";
        assert_eq!(shaped_packets(tc), 311);
    }

    #[test]
    fn bandwidth_towards_peers_uses_a_prio_band_with_filters() {
        let params = FaultParams {
            rate: Some("512kbit".into()),
            ..Default::default()
        };
        let script = qdisc_script(FaultKind::Bandwidth, &params, &["10.0.0.3".into()]);
        assert!(script.contains("parent 1:3 handle 30: tbf rate 512kbit"));
        assert!(script.contains("match ip dst 10.0.0.3/32 flowid 1:3"));
    }
}

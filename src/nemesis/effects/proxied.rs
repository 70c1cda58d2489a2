//! Latency without netem, and the toxics (reset-peer, blackhole, slow-close, limit-data), on
//! any TCP link: chaosbed-proxy runs in each target's network namespace from its nemesis
//! helper, and iptables `nat` rules in chains `cb-f<N>` (the node's outgoing connections, in
//! OUTPUT) and `cb-f<N>-i` (incoming, in PREROUTING) redirect the target's TCP connections with
//! its peers to it. The proxy's own connections carry a firewall mark the chains let pass.
//!
//! A redirect takes only connections made after it, so the target's open connections with its
//! peers are reset once (`ss -K`) and reconnect through the proxy; the evidence counts them.
//! Healing removes the chains and tells the proxy to pass everything through untouched: open
//! connections keep going (conntrack still sends them to it) and the proxy ends with the last.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Outcome, Request, Undo, first_error, net_helpers, network, sh_net};
use crate::backend::Backend;
use crate::scenario::{Direction, FaultKind, FaultParams};

/// The mark of the proxy's own connections (`--mark`), which the redirect chains return early.
pub const MARK: &str = "0xcb0b";
/// Where the helper has the proxy (copied in when the helper is made).
pub const BINARY: &str = "/usr/local/bin/chaosbed-proxy";
/// How long a start may take before the proxy is given up on.
const START_POLLS: u32 = 100;
/// How many 50 ms polls heal waits for the proxy to write its healed statistics (it does so
/// as soon as it takes SIGUSR1).
const HEAL_POLLS: u32 = 40;

fn chain(fault: usize) -> String {
    format!("{}{fault}", network::CHAIN_PREFIX)
}

/// Names the folder of the fault's current proxy in the helper. Each start gets a folder of
/// its own: a proxy of an earlier application of the same fault may still pass its last
/// connections through, and must not write over the new one's statistics.
fn pointer(fault: usize) -> String {
    format!("/tmp/chaosbed-proxy-f{fault}")
}

/// A file of the fault's current proxy (port, stats.json, log, pid), as a shell expression.
fn file(fault: usize, what: &str) -> String {
    format!("\"$(cat {} 2>/dev/null)/{what}\"", pointer(fault))
}

/// The proxy's arguments for the fault's kind.
fn proxy_args(kind: FaultKind, params: &FaultParams, seed: u64) -> String {
    let ms = |d: Option<Duration>| d.unwrap_or_default().as_secs_f64() * 1000.0;
    let mut args = format!("--seed {seed}");
    match kind {
        FaultKind::Latency => {
            let _ = write!(
                args,
                " --delay-ms {} --jitter-ms {}",
                ms(params.delay),
                ms(params.jitter)
            );
        }
        FaultKind::ResetPeer => {
            let _ = write!(
                args,
                " --toxic reset-peer --toxic-ms {}",
                ms(params.timeout)
            );
        }
        FaultKind::Blackhole => args.push_str(" --toxic blackhole"),
        FaultKind::SlowClose => {
            let _ = write!(args, " --toxic slow-close --toxic-ms {}", ms(params.delay));
        }
        FaultKind::LimitData => {
            let bytes = params.bytes.map_or(0, |b| b.0);
            let _ = write!(args, " --toxic limit-data --limit-bytes {bytes}");
        }
        _ => {}
    }
    args
}

/// The script that starts the fault's proxy in a node's namespace, hooks the redirect chains
/// in, and resets the open connections with the peers so they reconnect through it. Run again
/// as is in a new helper when the node started anew. Prints the number of reset connections.
fn install_script(
    fault: usize,
    node_ip: &str,
    peer_ips: &[String],
    direction: Direction,
    args: &str,
) -> String {
    let chain = chain(fault);
    let (port, stats, log, pid) = (
        "\"$dir/port\"",
        "\"$dir/stats.json\"",
        "\"$dir/log\"",
        "\"$dir/pid\"",
    );
    let mut s = String::from("set -e\n");
    let _ = writeln!(
        s,
        "test -x {BINARY} || {{ echo 'the nemesis helper has no {BINARY}'; exit 1; }}"
    );
    let _ = writeln!(
        s,
        "dir={}-$$; mkdir -p \"$dir\"; echo \"$dir\" > {}",
        pointer(fault),
        pointer(fault)
    );
    let _ = writeln!(
        s,
        "nohup {BINARY} --node {node_ip} --mark {MARK} --port-file {port} --stats-file {stats} {args} >{log} 2>&1 &"
    );
    let _ = writeln!(s, "echo $! > {pid}");
    let _ = writeln!(
        s,
        "i=0; while [ ! -s {port} ]; do i=$((i+1)); if [ $i -gt {START_POLLS} ] || ! kill -0 $(cat {pid}) 2>/dev/null; then echo 'chaosbed-proxy did not start:'; cat {log}; exit 1; fi; sleep 0.05; done"
    );
    let _ = writeln!(s, "port=$(cat {port})");
    // Each hook: its chain, the built-in chain it hooks into, whether the proxy's own marked
    // connections pass it, and what it redirects.
    let per_peer = |rule: &dyn Fn(&String) -> String| peer_ips.iter().map(rule).collect();
    let mut hooks: Vec<(String, &str, bool, Vec<String>)> = Vec::new();
    // Outgoing: what the node opens, to the peers (or anywhere off the node: not over lo).
    if direction.takes_outgoing() {
        let takes = if peer_ips.is_empty() {
            vec!["! -o lo".to_string()]
        } else {
            per_peer(&|peer| format!("-d {peer}"))
        };
        hooks.push((chain.clone(), "OUTPUT", true, takes));
    }
    // Incoming: what the peers (or anyone) open to the node.
    if direction.takes_incoming() {
        let takes = if peer_ips.is_empty() {
            vec![format!("-d {node_ip}")]
        } else {
            per_peer(&|peer| format!("-s {peer} -d {node_ip}"))
        };
        hooks.push((format!("{chain}-i"), "PREROUTING", false, takes));
    }
    for (name, builtin, lets_marked_pass, takes) in hooks {
        let _ = writeln!(s, "iptables -w -t nat -N {name}");
        if lets_marked_pass {
            let _ = writeln!(
                s,
                "iptables -w -t nat -A {name} -m mark --mark {MARK} -j RETURN"
            );
        }
        for take in takes {
            let _ = writeln!(
                s,
                "iptables -w -t nat -A {name} -p tcp {take} -j REDIRECT --to-ports $port"
            );
        }
        let _ = writeln!(s, "iptables -w -t nat -I {builtin} 1 -j {name}");
    }
    // Reset what is open now, so it reconnects through the proxy (ss -K needs the kernel's
    // INET_DIAG_DESTROY; without it nothing is reset and the count says 0).
    let filter = if peer_ips.is_empty() {
        "'( ! dst 127.0.0.0/8 )'".to_string()
    } else {
        let dsts: Vec<String> = peer_ips.iter().map(|p| format!("dst {p}")).collect();
        format!("'( {} )'", dsts.join(" or "))
    };
    let _ = writeln!(
        s,
        "ss -K -t -n -H state established {filter} 2>/dev/null | wc -l"
    );
    s
}

/// The script that unhooks and removes the fault's chains and tells its proxy to pass
/// everything through (SIGUSR1), or with `stop` to end (after a failed install).
fn remove_script(fault: usize, stop: bool) -> String {
    let chain = chain(fault);
    let signal = if stop { "TERM" } else { "USR1" };
    format!(
        "iptables -w -t nat -D OUTPUT -j {chain} 2>/dev/null || true; \
         iptables -w -t nat -D PREROUTING -j {chain}-i 2>/dev/null || true; \
         for c in {chain} {chain}-i; do iptables -w -t nat -F $c 2>/dev/null || true; \
         iptables -w -t nat -X $c 2>/dev/null || true; done; \
         kill -{signal} $(cat {pid} 2>/dev/null) 2>/dev/null || true",
        pid = file(fault, "pid"),
    )
}

/// Latency through the proxy (where the kernel has no netem) or a toxic, on each target.
pub async fn apply(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let address = |node: &String| request.address(node);
    let peers = if request.params.peers.is_empty() {
        Vec::new()
    } else {
        network::peers(request.params, request.targets, request.all_nodes)
    };
    let mut errors = Vec::new();
    let peer_ips: Vec<String> = peers
        .iter()
        .filter_map(|p| address(p).map_err(|e| errors.push(e)).ok())
        .collect();
    let direction = request.params.direction.unwrap_or_default();
    let args = proxy_args(request.kind, request.params, request.seed);
    let helpers = net_helpers(backend, request.targets, &mut errors).await;
    let mut installed = Vec::new();
    let mut installs = BTreeMap::new();
    let mut reset = BTreeMap::new();
    for node in request.targets {
        let node_ip = match address(node) {
            Ok(ip) => ip,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let script = install_script(request.fault, &node_ip, &peer_ips, direction, &args);
        match sh_net(backend, node, &script).await {
            Ok(out) => {
                let count = out
                    .stdout
                    .trim()
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse::<u64>().ok());
                reset.insert(node.clone(), count);
                installed.push(node.clone());
                installs.insert(node.clone(), script);
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                // Whatever the script got to before it failed goes again.
                let _ = sh_net(backend, node, &remove_script(request.fault, true)).await;
            }
        }
    }
    let listed = list_chains(backend, request.fault, &installed).await;
    let took_effect = !installed.is_empty() && installed.len() == request.targets.len();
    Outcome {
        undo: (!installed.is_empty()).then_some(Undo::Proxied {
            kind: request.kind,
            fault: request.fault,
            nodes: installed,
            installs,
        }),
        evidence: json!({
            "took_effect": took_effect,
            "mechanism": "chaosbed-proxy (transparent TCP proxy in the node's network namespace, iptables REDIRECT)",
            "direction": direction.name(),
            "peers": if peers.is_empty() { json!("every address") } else { json!(peers) },
            "proxy": args,
            "rules": listed,
            "connections_reset_to_reconnect_through_the_proxy": reset,
            "helpers": helpers,
        }),
        error: first_error(&errors),
    }
}

/// `iptables -t nat -S` of the fault's chains on each node, as read back.
async fn list_chains(backend: &impl Backend, fault: usize, nodes: &[String]) -> Value {
    let chain = chain(fault);
    let script = format!(
        "iptables -w -t nat -S {chain} 2>/dev/null; iptables -w -t nat -S {chain}-i 2>/dev/null; true"
    );
    network::read_back(backend, nodes, &script).await
}

/// Whether the proxy's statistics show the fault did anything: delayed bytes for latency, the
/// toxic's own count otherwise.
fn acted(kind: FaultKind, stats: &Value) -> bool {
    let field = match kind {
        FaultKind::ResetPeer => "resets",
        FaultKind::Blackhole => "held",
        FaultKind::SlowClose => "slow_closes",
        FaultKind::LimitData => "limited",
        _ => "bytes_delayed",
    };
    stats["links"]
        .as_object()
        .is_some_and(|links| links.values().any(|l| l[field].as_u64().unwrap_or(0) > 0))
}

/// Removes the redirect chains, lets the proxy pass everything through, reads its statistics
/// and shows no chain of chaosbed's is left in the nat table.
pub async fn heal(
    backend: &impl Backend,
    kind: FaultKind,
    fault: usize,
    nodes: &[String],
) -> (Value, Option<String>) {
    let mut errors = Vec::new();
    let helpers = net_helpers(backend, nodes, &mut errors).await;
    let mut stats = BTreeMap::new();
    let mut left = BTreeMap::new();
    for node in nodes {
        // The proxy writes its statistics the moment it heals; one that already ended wrote
        // its last figures before it did.
        let script = format!(
            "{remove}; i=0; while ! grep -q '\"healed\": true' {json} 2>/dev/null \
             && kill -0 $(cat {pid} 2>/dev/null) 2>/dev/null && [ $i -lt {HEAL_POLLS} ]; \
             do i=$((i+1)); sleep 0.05; done; \
             iptables -w -t nat -S | grep -c -- '{prefix}' || true; cat {json} 2>/dev/null || echo null",
            remove = remove_script(fault, false),
            json = file(fault, "stats.json"),
            pid = file(fault, "pid"),
            prefix = network::CHAIN_PREFIX,
        );
        match sh_net(backend, node, &script).await {
            Ok(out) => {
                let (count, json) = out.stdout.split_once('\n').unwrap_or((&out.stdout, "null"));
                left.insert(
                    node.clone(),
                    count.trim().parse::<u64>().unwrap_or(u64::MAX),
                );
                let parsed: Value = serde_json::from_str(json.trim())
                    .unwrap_or_else(|e| json!({ "unreadable": format!("{e}: {}", json.trim()) }));
                stats.insert(node.clone(), parsed);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let clean = left.len() == nodes.len() && left.values().all(|&c| c == 0);
    let did = stats.values().any(|s| acted(kind, s));
    let evidence = json!({
        "took_effect": did && clean,
        "reason": if !clean { "some of chaosbed's redirect rules are still in place" }
                  else if !did { "no connection came through the proxy while the fault held" }
                  else { "the proxy acted on the node's connections, and no rule of chaosbed's is left (open connections pass through it untouched until they close)" },
        "proxy_stats": stats,
        "chaosbed_rules_left": left,
        "helpers": helpers,
    });
    (evidence, first_error(&errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_redirects_both_ways_to_the_named_peers_and_passes_the_proxy_by_its_mark() {
        let s = install_script(
            3,
            "10.0.0.11",
            &["10.0.0.12".into()],
            Direction::Both,
            &proxy_args(
                FaultKind::Latency,
                &FaultParams {
                    delay: Some(Duration::from_millis(250)),
                    ..Default::default()
                },
                7,
            ),
        );
        assert!(s.contains("--node 10.0.0.11 --mark 0xcb0b"));
        assert!(s.contains("--delay-ms 250 --jitter-ms 0"));
        assert!(s.contains("iptables -w -t nat -A cb-f3 -m mark --mark 0xcb0b -j RETURN"));
        assert!(s.contains("-A cb-f3 -p tcp -d 10.0.0.12 -j REDIRECT --to-ports $port"));
        assert!(s.contains("-A cb-f3-i -p tcp -s 10.0.0.12 -d 10.0.0.11 -j REDIRECT"));
        assert!(s.contains("-I OUTPUT 1 -j cb-f3\n"));
        assert!(s.contains("-I PREROUTING 1 -j cb-f3-i"));
        assert!(s.contains("ss -K -t -n -H state established '( dst 10.0.0.12 )'"));
    }

    #[test]
    fn one_direction_hooks_one_chain_and_no_peers_means_every_address() {
        let out = install_script(1, "10.0.0.11", &[], Direction::Out, "--toxic blackhole");
        assert!(out.contains("-A cb-f1 -p tcp ! -o lo -j REDIRECT"));
        assert!(!out.contains("PREROUTING"));
        let incoming = install_script(1, "10.0.0.11", &[], Direction::In, "--toxic blackhole");
        assert!(incoming.contains("-A cb-f1-i -p tcp -d 10.0.0.11 -j REDIRECT"));
        assert!(!incoming.contains("-I OUTPUT"));
    }

    #[test]
    fn each_toxic_becomes_its_proxy_arguments() {
        let params = FaultParams {
            delay: Some(Duration::from_secs(2)),
            timeout: Some(Duration::from_millis(500)),
            bytes: Some(crate::scenario::ByteSize(1024)),
            ..Default::default()
        };
        assert_eq!(
            proxy_args(FaultKind::ResetPeer, &params, 1),
            "--seed 1 --toxic reset-peer --toxic-ms 500"
        );
        assert_eq!(
            proxy_args(FaultKind::Blackhole, &params, 1),
            "--seed 1 --toxic blackhole"
        );
        assert_eq!(
            proxy_args(FaultKind::SlowClose, &params, 1),
            "--seed 1 --toxic slow-close --toxic-ms 2000"
        );
        assert_eq!(
            proxy_args(FaultKind::LimitData, &params, 1),
            "--seed 1 --toxic limit-data --limit-bytes 1024"
        );
    }

    #[test]
    fn a_fault_acted_when_its_own_counter_moved() {
        let stats = json!({"links": {"10.0.0.12": {"bytes_delayed": 0, "resets": 2}}});
        assert!(acted(FaultKind::ResetPeer, &stats));
        assert!(!acted(FaultKind::Latency, &stats));
        assert!(!acted(FaultKind::Blackhole, &json!(null)));
    }
}

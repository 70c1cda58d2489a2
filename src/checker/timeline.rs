//! The fault timeline shared by the checkers: which nodes are down when, fault windows, and the
//! time and value helpers (rounding to milliseconds, human durations) their reports use.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::history::{F, History, Op, OpKind};
use crate::scenario::FaultKind;

/// Which nodes are down over a run, from the topology op and the `down` list every applied fault
/// and heal carries (the nodes down after it). A network fault counts as a change too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownTimeline {
    nodes: Vec<String>,
    initial: BTreeSet<String>,
    /// Each time the down set changed, with the set from then on; times ascending.
    changes: Vec<(u64, BTreeSet<String>)>,
}

impl DownTimeline {
    /// Reads the topology op (nodes not started at setup are down from time 0) and every `Ok`
    /// fault or heal that carries a `down` list. Failed faults changed nothing and are skipped.
    pub fn from_history(history: &History) -> Self {
        let mut timeline = Self::default();
        let mut current = BTreeSet::new();
        let mut before_invoke: Option<BTreeSet<String>> = None;
        for op in &history.ops {
            match (op.f, op.kind) {
                (F::Topology, OpKind::Ok) if timeline.nodes.is_empty() => {
                    timeline.nodes = str_list(&op.value["nodes"]).unwrap_or_default();
                    if let Some(down) = str_list(&op.value["down"]) {
                        current = down.into_iter().collect();
                        timeline.initial = current.clone();
                    }
                }
                // A process fault on its way: its targets count as down from the moment it was
                // sent; its Ok then says which really went.
                (F::Fault, OpKind::Invoke) => {
                    let Some(targets) = str_list(&op.value["targets"]) else {
                        continue;
                    };
                    let mut down = current.clone();
                    down.extend(targets);
                    before_invoke = Some(current.clone());
                    if down != current {
                        current = down.clone();
                        timeline.changes.push((op.time, down));
                    }
                }
                // A failed fault changed nothing: undo what its invoke assumed.
                (F::Fault, OpKind::Fail) => {
                    if let Some(before) = before_invoke.take()
                        && before != current
                    {
                        current = before.clone();
                        timeline.changes.push((op.time, before));
                    }
                }
                (F::Fault | F::Heal, OpKind::Ok) => {
                    before_invoke = None;
                    let Some(down) = str_list(&op.value["down"]) else {
                        continue;
                    };
                    let down: BTreeSet<String> = down.into_iter().collect();
                    // A partition (or other network fault) moves no node down, but it changes
                    // who can reach whom: the cluster has to settle again from that moment.
                    let fault = op.value["fault"].as_str().unwrap_or("");
                    let reshapes = FaultKind::ALL
                        .iter()
                        .any(|k| k.is_network() && k.name() == fault);
                    if down != current || reshapes {
                        current = down.clone();
                        timeline.changes.push((op.time, down));
                    }
                }
                _ => {}
            }
        }
        timeline
    }

    /// The nodes the topology op named (empty without one).
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The nodes down from time 0 (not started at setup).
    pub fn initial(&self) -> &BTreeSet<String> {
        &self.initial
    }

    /// Each change of the down set: its time and the set from then on, in time order.
    pub fn changes(&self) -> impl Iterator<Item = (u64, &BTreeSet<String>)> {
        self.changes.iter().map(|(time, down)| (*time, down))
    }

    /// The nodes down at time `t` (a change at exactly `t` is already in effect).
    pub fn down_at(&self, t: u64) -> &BTreeSet<String> {
        let after = self.changes.partition_point(|(time, _)| *time <= t);
        match after {
            0 => &self.initial,
            n => &self.changes[n - 1].1,
        }
    }

    /// When the down set last changed at or before `t`; 0 if it never did.
    pub fn last_change_at_or_before(&self, t: u64) -> u64 {
        let after = self.changes.partition_point(|(time, _)| *time <= t);
        match after {
            0 => 0,
            n => self.changes[n - 1].0,
        }
    }

    /// How long (ns) the down set at `t` has held by then.
    pub fn stable_for(&self, t: u64) -> u64 {
        t.saturating_sub(self.last_change_at_or_before(t))
    }

    /// The smallest majority of `n` nodes: 2 of 3, 3 of 4, 3 of 5.
    pub fn majority(n: usize) -> usize {
        n / 2 + 1
    }

    /// How many of `nodes` are up at `t`.
    pub fn up_count_at(&self, t: u64, nodes: &[String]) -> usize {
        let down = self.down_at(t);
        nodes.iter().filter(|node| !down.contains(*node)).count()
    }

    /// Whether a majority of `nodes` is up at `t` (a quorum can form).
    pub fn majority_up_at(&self, t: u64, nodes: &[String]) -> bool {
        self.up_count_at(t, nodes) >= Self::majority(nodes.len())
    }
}

/// One applied fault that leaves something to heal (kill, stop, pause, ...), from the fault op to
/// the heal op with the same targets; `end` is `None` if it was never healed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FaultWindow {
    pub fault: String,
    /// Sorted.
    pub targets: Vec<String>,
    pub start: u64,
    pub end: Option<u64>,
}

impl FaultWindow {
    /// Its length in ns, taking `until` as the end of a fault never healed.
    pub fn duration(&self, until: u64) -> u64 {
        self.end.unwrap_or(until).saturating_sub(self.start)
    }
}

/// Faults that act once and need no heal, so they never open a window: starting or restarting
/// nodes, and upgrade steps (each node's roll is an invoke, then its Ok once it has rejoined).
pub(super) const ONE_SHOT_FAULTS: [&str; 3] = ["start", "restart", "upgrade"];

/// Pairs every applied fault with the first later `Ok` heal of the same targets (and the same
/// fault kind when the heal names one), in the order the faults were applied. A fault recorded
/// as an invoke when it was sent (kill, stop, pause) starts there, not when it completed: a
/// graceful stop acts from its SIGTERM on, seconds before the node is down.
pub(super) fn fault_windows(history: &History) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    // (fault, sorted targets) → when its invoke was recorded, until its completion.
    let mut sent: Vec<((String, Vec<String>), u64)> = Vec::new();
    for op in &history.ops {
        let fault = op.value["fault"].as_str();
        let Some(mut targets) = str_list(&op.value["targets"]) else {
            continue;
        };
        targets.sort();
        match (op.f, op.kind) {
            (F::Fault, OpKind::Invoke) => {
                sent.push(((fault.unwrap_or("fault").to_string(), targets), op.time));
            }
            (F::Fault, OpKind::Ok) => {
                let fault = fault.unwrap_or("fault");
                let key = (fault.to_string(), targets);
                let start = match sent.iter().position(|(k, _)| *k == key) {
                    Some(at) => sent.remove(at).1,
                    None => op.time,
                };
                if !ONE_SHOT_FAULTS.contains(&fault) {
                    windows.push(FaultWindow {
                        fault: key.0,
                        targets: key.1,
                        start,
                        end: None,
                    });
                }
            }
            (F::Fault, _) => {
                let key = (fault.unwrap_or("fault").to_string(), targets);
                sent.retain(|(k, _)| *k != key);
            }
            (F::Heal, OpKind::Ok) => {
                let open = windows.iter_mut().find(|w| {
                    w.end.is_none() && w.targets == targets && fault.is_none_or(|f| f == w.fault)
                });
                if let Some(window) = open {
                    window.end = Some(op.time);
                }
            }
            _ => {}
        }
    }
    windows
}

/// A list of strings, or `None` if `value` is not an array of strings.
pub(super) fn str_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect()
}

/// Nanoseconds as seconds rounded to the millisecond, for `details`.
pub(super) fn secs(ns: u64) -> f64 {
    (ns as f64 / 1e6).round() / 1e3
}

/// A window `[start, end]` in ns as `details` JSON: start, end and duration in seconds.
pub(super) fn window_json(start: u64, end: u64) -> Value {
    json!({
        "start": secs(start),
        "end": secs(end),
        "duration": secs(end.saturating_sub(start)),
    })
}

/// Nanoseconds for a person: `850 ms`, `2.3 s`, `3 s`, `90 s` (tenths of a second from 1 s on).
pub(super) fn human(ns: u64) -> String {
    if ns < 1_000_000_000 {
        return format!("{} ms", (ns as f64 / 1e6).round());
    }
    let tenths = (ns as f64 / 1e8).round() as u64;
    if tenths % 10 == 0 {
        format!("{} s", tenths / 10)
    } else {
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

/// A `Duration` in ns, saturating.
pub(super) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The end of the workload, or of the history when the context does not say.
pub(super) fn workload_end(history: &History, workload_end: u64) -> u64 {
    if workload_end > 0 {
        workload_end
    } else {
        history.ops.iter().map(|op| op.time).max().unwrap_or(0)
    }
}

/// Every invocation of `f`, paired with its completion (`None` if it never completed).
pub(super) fn pairs_of(history: &History, f: F) -> Vec<(&Op, Option<&Op>)> {
    history
        .pairs()
        .into_iter()
        .filter(|(invoke, _)| invoke.f == f)
        .collect()
}

/// Builds literal histories for the checker tests. Times are milliseconds since the run start.
#[cfg(test)]
pub(super) mod script {
    use serde_json::{Value, json};

    use crate::history::{F, History, Op, OpKind};

    pub const MS: u64 = 1_000_000;

    #[derive(Default)]
    pub struct Script {
        ops: Vec<Op>,
    }

    impl Script {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn op(mut self, ms: u64, process: &str, f: F, kind: OpKind, value: Value) -> Self {
            self.ops.push(Op {
                index: 0,
                time: ms * MS,
                process: process.to_string(),
                f,
                kind,
                value,
                error: (kind != OpKind::Ok && kind != OpKind::Invoke)
                    .then(|| "connection lost".to_string()),
            });
            self
        }

        pub fn topology(self, nodes: &[&str], down: &[&str]) -> Self {
            self.op(
                0,
                "nemesis",
                F::Topology,
                OpKind::Ok,
                json!({"nodes": nodes, "down": down}),
            )
        }

        fn nemesis(
            self,
            ms: u64,
            f: F,
            kind: OpKind,
            fault: &str,
            targets: &[&str],
            down: &[&str],
        ) -> Self {
            self.op(
                ms,
                "nemesis",
                f,
                kind,
                json!({"fault": fault, "targets": targets, "down": down, "evidence": {}}),
            )
        }

        /// An applied fault; `down` is every node down after it.
        pub fn fault(self, ms: u64, fault: &str, targets: &[&str], down: &[&str]) -> Self {
            self.nemesis(ms, F::Fault, OpKind::Ok, fault, targets, down)
        }

        /// A fault the nemesis could not apply.
        pub fn failed_fault(self, ms: u64, fault: &str, targets: &[&str], down: &[&str]) -> Self {
            self.nemesis(ms, F::Fault, OpKind::Fail, fault, targets, down)
        }

        pub fn heal(self, ms: u64, fault: &str, targets: &[&str], down: &[&str]) -> Self {
            self.nemesis(ms, F::Heal, OpKind::Ok, fault, targets, down)
        }

        /// A kill, stop or pause as the nemesis records it when sent, before its `Ok`.
        pub fn fault_sent(self, ms: u64, fault: &str, targets: &[&str]) -> Self {
            let value = json!({"fault": fault, "targets": targets});
            self.op(ms, "nemesis", F::Fault, OpKind::Invoke, value)
        }

        /// One node's roll by an upgrade step: the invoke when it goes down at `invoke`, its
        /// `Ok` once it rejoined at `done` (a restart of 1 s, then the rejoin), with the version
        /// every node runs from then on.
        pub fn roll(self, invoke: u64, done: u64, node: &str, versions: Value) -> Self {
            self.op(
                invoke,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "upgrade", "targets": [node]}),
            )
            .op(
                done,
                "nemesis",
                F::Fault,
                OpKind::Ok,
                json!({"fault": "upgrade", "targets": [node], "down": [], "evidence": {
                    "took_effect": true, "node": node, "from_image": "zk:3.8", "to_image": "zk:3.9",
                    "rejoin_ms": done - invoke - 1_000, "versions": versions}}),
            )
        }

        /// The runner's readiness probe of `system` once every fault was healed: ready, or not
        /// ready with `error`.
        pub fn healed(mut self, ms: u64, system: &str, error: Option<&str>) -> Self {
            let kind = if error.is_some() {
                OpKind::Fail
            } else {
                OpKind::Ok
            };
            self = self.op(ms, "runner", F::Healed, kind, json!({"system": system}));
            if let Some(op) = self.ops.last_mut() {
                op.error = error.map(str::to_string);
            }
            self
        }

        /// A monitor sample; roles as `(node, role)`.
        pub fn roles(self, ms: u64, roles: &[(&str, &str)]) -> Self {
            let roles: serde_json::Map<String, Value> = roles
                .iter()
                .map(|(node, role)| (node.to_string(), json!(role)))
                .collect();
            self.op(ms, "monitor", F::Roles, OpKind::Ok, json!({"roles": roles}))
        }

        /// A monitor sample with each node's leader epoch as `(node, epoch)`.
        pub fn roles_with_epochs(
            self,
            ms: u64,
            roles: &[(&str, &str)],
            epochs: &[(&str, u64)],
        ) -> Self {
            let roles: serde_json::Map<String, Value> = roles
                .iter()
                .map(|(node, role)| (node.to_string(), json!(role)))
                .collect();
            let epochs: serde_json::Map<String, Value> = epochs
                .iter()
                .map(|(node, epoch)| (node.to_string(), json!(epoch)))
                .collect();
            self.op(
                ms,
                "monitor",
                F::Roles,
                OpKind::Ok,
                json!({"roles": roles, "epochs": epochs}),
            )
        }

        /// Samples every `every` ms from `from` to `to` inclusive, all with the same roles.
        pub fn roles_every(
            mut self,
            from: u64,
            to: u64,
            every: u64,
            roles: &[(&str, &str)],
        ) -> Self {
            let mut ms = from;
            while ms <= to {
                self = self.roles(ms, roles);
                ms += every;
            }
            self
        }

        /// Client `client`'s `n`th write, invoked at `invoke` and completed with `outcome` at
        /// `done`, or never completed when `outcome` is `None`.
        pub fn write(
            mut self,
            client: u32,
            n: u32,
            invoke: u64,
            outcome: Option<(OpKind, u64)>,
        ) -> Self {
            let process = format!("client-{client}");
            let value = json!({"key": key(client, n), "value": format!("c{client}-{n}")});
            self = self.op(invoke, &process, F::Write, OpKind::Invoke, value.clone());
            match outcome {
                Some((kind, done)) => self.op(done, &process, F::Write, kind, value),
                None => self,
            }
        }

        pub fn ok_write(self, client: u32, n: u32, invoke: u64, done: u64) -> Self {
            self.write(client, n, invoke, Some((OpKind::Ok, done)))
        }

        pub fn session(self, ms: u64, client: u32, event: &str, timeout_ms: Option<u64>) -> Self {
            let mut value = json!({"event": event});
            if let Some(timeout) = timeout_ms {
                value["negotiated_timeout_ms"] = json!(timeout);
            }
            self.op(
                ms,
                &format!("client-{client}/session"),
                F::Session,
                OpKind::Info,
                value,
            )
        }

        /// The final read, invoked at `ms` and completed 10 ms later with `kind`; on `Ok` it
        /// returns `keys` as `(key, value)`.
        pub fn final_read(self, ms: u64, kind: OpKind, keys: &[(&str, &str)]) -> Self {
            let value = if kind == OpKind::Ok {
                let keys: serde_json::Map<String, Value> = keys
                    .iter()
                    .map(|(key, value)| (key.to_string(), json!(value)))
                    .collect();
                json!({"keys": keys})
            } else {
                Value::Null
            };
            self.op(ms, "final", F::FinalRead, OpKind::Invoke, Value::Null)
                .op(ms + 10, "final", F::FinalRead, kind, value)
        }

        /// Sorts by time (stable: a completion written after its invoke stays after it) and
        /// numbers the ops.
        pub fn build(mut self) -> History {
            self.ops.sort_by_key(|op| op.time);
            for (index, op) in self.ops.iter_mut().enumerate() {
                op.index = index as u64;
            }
            History::new(self.ops)
        }
    }

    pub fn key(client: u32, n: u32) -> String {
        format!("/chaosbed/c{client}-{n:06}")
    }

    pub fn nodes3() -> Vec<String> {
        ["zk-1", "zk-2", "zk-3"].map(String::from).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::script::{MS, Script};
    use super::*;

    fn set(nodes: &[&str]) -> BTreeSet<String> {
        nodes.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_process_fault_counts_from_its_invoke_and_a_failed_one_is_undone() {
        let history = Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .op(
                1_000,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "kill", "targets": ["zk-1"]}),
            )
            .fault(1_600, "kill", &["zk-1"], &["zk-1"])
            .op(
                3_000,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "pause", "targets": ["zk-2"]}),
            )
            .failed_fault(3_200, "pause", &["zk-2"], &["zk-1"])
            .build();
        let timeline = DownTimeline::from_history(&history);
        assert_eq!(timeline.down_at(1_200 * MS), &set(&["zk-1"]));
        assert_eq!(timeline.down_at(3_100 * MS), &set(&["zk-1", "zk-2"]));
        assert_eq!(timeline.down_at(3_300 * MS), &set(&["zk-1"]));
    }

    #[test]
    fn down_set_follows_topology_faults_and_heals() {
        let history = Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &["zk-3"])
            .fault(1_000, "start", &["zk-3"], &[])
            .fault(5_000, "kill", &["zk-1"], &["zk-1"])
            .failed_fault(6_000, "kill", &["zk-2"], &["zk-1", "zk-2"])
            .heal(9_000, "kill", &["zk-1"], &[])
            .build();
        let timeline = DownTimeline::from_history(&history);

        assert_eq!(timeline.nodes(), ["zk-1", "zk-2", "zk-3"]);
        assert_eq!(timeline.initial(), &set(&["zk-3"]));
        assert_eq!(timeline.down_at(0), &set(&["zk-3"]));
        assert_eq!(timeline.down_at(999 * MS), &set(&["zk-3"]));
        assert_eq!(timeline.down_at(1_000 * MS), &set(&[]));
        assert_eq!(
            timeline.down_at(7_000 * MS),
            &set(&["zk-1"]),
            "a failed fault changes nothing"
        );
        assert_eq!(timeline.down_at(20_000 * MS), &set(&[]));
        assert_eq!(timeline.last_change_at_or_before(500 * MS), 0);
        assert_eq!(timeline.last_change_at_or_before(6_000 * MS), 5_000 * MS);
        assert_eq!(timeline.stable_for(6_000 * MS), 1_000 * MS);
        let times: Vec<u64> = timeline.changes().map(|(t, _)| t / MS).collect();
        assert_eq!(times, [1_000, 5_000, 9_000]);
    }

    #[test]
    fn an_op_that_leaves_the_down_set_unchanged_is_no_change() {
        let history = Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .fault(1_000, "pause", &["zk-1"], &[])
            .heal(2_000, "pause", &["zk-1"], &[])
            .build();
        let timeline = DownTimeline::from_history(&history);
        assert_eq!(timeline.changes().count(), 0);
        assert_eq!(timeline.last_change_at_or_before(5_000 * MS), 0);
    }

    #[test]
    fn a_partition_takes_no_node_down_but_the_cluster_must_settle_again() {
        let history = Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .fault(10_000, "partition", &["zk-1"], &[])
            .fault(12_000, "clock-skew", &["zk-2"], &[])
            .heal(30_000, "partition", &["zk-1"], &[])
            .build();
        let timeline = DownTimeline::from_history(&history);
        let times: Vec<u64> = timeline.changes().map(|(t, _)| t / MS).collect();
        assert_eq!(
            times,
            [10_000, 30_000],
            "a clock skew does not reshape the cluster"
        );
        assert_eq!(timeline.stable_for(14_000 * MS), 4_000 * MS);
        assert!(timeline.down_at(20_000 * MS).is_empty());
    }

    #[test]
    fn without_topology_everything_is_up() {
        let timeline = DownTimeline::from_history(&History::default());
        assert!(timeline.nodes().is_empty());
        assert!(timeline.down_at(123).is_empty());
    }

    #[rstest]
    #[case(1, 1)]
    #[case(2, 2)]
    #[case(3, 2)]
    #[case(4, 3)]
    #[case(5, 3)]
    fn majority_of(#[case] n: usize, #[case] majority: usize) {
        assert_eq!(DownTimeline::majority(n), majority);
    }

    #[rstest]
    #[case(&[], true)]
    #[case(&["zk-1"], true)]
    #[case(&["zk-1", "zk-2"], false)]
    #[case(&["zk-1", "zk-2", "zk-3"], false)]
    fn majority_up_of_three(#[case] down: &[&str], #[case] up: bool) {
        let history = Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .fault(1_000, "kill", down, down)
            .build();
        let timeline = DownTimeline::from_history(&history);
        assert_eq!(timeline.majority_up_at(2_000 * MS, &script::nodes3()), up);
        assert!(timeline.majority_up_at(0, &script::nodes3()));
    }

    #[test]
    fn fault_windows_pair_faults_with_heals_of_the_same_targets() {
        let history = Script::new()
            .fault(1_000, "pause", &["zk-2"], &["zk-2"])
            .fault(1_500, "kill", &["zk-3", "zk-1"], &["zk-1", "zk-2", "zk-3"])
            .fault(2_000, "restart", &["zk-2"], &["zk-1", "zk-2", "zk-3"])
            .heal(4_000, "kill", &["zk-1", "zk-3"], &["zk-2"])
            .heal(4_500, "pause", &["zk-2"], &[])
            .fault(6_000, "stop", &["zk-1"], &["zk-1"])
            .build();
        let windows = fault_windows(&history);
        assert_eq!(
            spans_ms(&windows),
            [
                ("pause", 1_000, Some(4_500)),
                ("kill", 1_500, Some(4_000)),
                ("stop", 6_000, None)
            ]
        );
        assert_eq!(windows[1].targets, ["zk-1", "zk-3"]);
        assert_eq!(windows[2].duration(7_000 * MS), 1_000 * MS);
    }

    #[test]
    fn a_fault_sent_before_it_completed_opens_its_window_when_sent() {
        let sent = |script: Script, ms: u64, fault: &str, node: &str| {
            let value = json!({"fault": fault, "targets": [node]});
            script.op(ms, "nemesis", F::Fault, OpKind::Invoke, value)
        };
        let script = sent(Script::new(), 1_000, "stop", "hbase-1")
            .fault(7_500, "stop", &["hbase-1"], &["hbase-1"])
            .heal(20_000, "stop", &["hbase-1"], &[]);
        let script =
            sent(script, 21_000, "kill", "zk-1").failed_fault(21_100, "kill", &["zk-1"], &[]);
        let script =
            sent(script, 22_000, "kill", "zk-2").fault(22_300, "kill", &["zk-2"], &["zk-2"]);
        assert_eq!(
            spans_ms(&fault_windows(&script.build())),
            [("stop", 1_000, Some(20_000)), ("kill", 22_000, None)]
        );
    }

    /// Each window's fault, start and end in ms.
    fn spans_ms(windows: &[FaultWindow]) -> Vec<(&str, u64, Option<u64>)> {
        windows
            .iter()
            .map(|w| (w.fault.as_str(), w.start / MS, w.end.map(|e| e / MS)))
            .collect()
    }

    #[rstest]
    #[case(0, "0 ms")]
    #[case(850 * MS, "850 ms")]
    #[case(1_000 * MS, "1 s")]
    #[case(2_340 * MS, "2.3 s")]
    #[case(2_960 * MS, "3 s")]
    #[case(90_000 * MS, "90 s")]
    fn human_durations(#[case] ns: u64, #[case] text: &str) {
        assert_eq!(human(ns), text);
    }

    #[test]
    fn seconds_are_rounded_to_the_millisecond() {
        assert_eq!(secs(2_345_678_901), 2.346);
        assert_eq!(
            window_json(1_000 * MS, 3_500 * MS),
            json!({"start": 1.0, "end": 3.5, "duration": 2.5})
        );
    }
}

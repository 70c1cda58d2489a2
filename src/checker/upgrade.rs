//! The upgrade check: every node an upgrade step rolled rejoined (within `max_rejoin` when set),
//! with the rejoin time per node and the mixed-version windows (which versions ran when).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::timeline::{nanos, secs, str_list, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "upgrade";

/// One node's roll as the history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRoll {
    pub node: String,
    /// When it went down (the invoke), ns since the run started.
    pub down_at: u64,
    /// When it had rejoined; `None` if it never did.
    pub rejoined_at: Option<u64>,
    /// From its restart on the new image to its rejoin, as the nemesis measured it.
    pub rejoin_ms: Option<u64>,
    pub from_image: Option<String>,
    pub to_image: Option<String>,
    /// The version of every node once it had rejoined.
    pub versions: BTreeMap<String, String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Every node roll of every upgrade step, in order.
pub fn rolls(history: &History) -> Vec<NodeRoll> {
    let is_upgrade = |op: &&Op| op.f == F::Fault && op.value["fault"] == "upgrade";
    let mut out: Vec<NodeRoll> = Vec::new();
    for op in history.ops.iter().filter(is_upgrade) {
        let evidence = &op.value["evidence"];
        let node = str_list(&op.value["targets"])
            .and_then(|t| t.first().cloned())
            .unwrap_or_default();
        match op.kind {
            OpKind::Invoke => out.push(NodeRoll {
                node,
                down_at: op.time,
                rejoined_at: None,
                rejoin_ms: None,
                from_image: None,
                to_image: None,
                versions: BTreeMap::new(),
                error: None,
            }),
            kind => {
                let open = out
                    .iter_mut()
                    .rev()
                    .find(|r| r.node == node && r.rejoined_at.is_none() && r.error.is_none());
                let Some(roll) = open else {
                    // Refused before any node went down (no image, unsupported system).
                    out.push(NodeRoll {
                        node,
                        down_at: op.time,
                        rejoined_at: None,
                        rejoin_ms: None,
                        from_image: None,
                        to_image: None,
                        versions: BTreeMap::new(),
                        error: Some(op.error.clone().unwrap_or_else(|| "refused".into())),
                    });
                    continue;
                };
                roll.from_image = evidence["from_image"].as_str().map(String::from);
                roll.to_image = evidence["to_image"].as_str().map(String::from);
                if kind == OpKind::Ok {
                    roll.rejoined_at = Some(op.time);
                    roll.rejoin_ms = evidence["rejoin_ms"].as_u64();
                    roll.versions =
                        serde_json::from_value(evidence["versions"].clone()).unwrap_or_default();
                } else {
                    roll.error = Some(op.error.clone().unwrap_or_else(|| "failed".into()));
                }
            }
        }
    }
    out
}

/// Whether some system (the nodes sharing a name prefix: `broker-`, `bookie-`, `zk-`) runs more
/// than one version; different systems running different versions is no mix.
fn is_mixed(versions: &BTreeMap<String, String>) -> bool {
    let mut by_system: BTreeMap<&str, BTreeSet<&String>> = BTreeMap::new();
    for (node, version) in versions {
        let system = node
            .rsplit_once('-')
            .map_or(node.as_str(), |(prefix, _)| prefix);
        by_system.entry(system).or_default().insert(version);
    }
    by_system.values().any(|v| v.len() > 1)
}

/// The stretches between rolls during which a system ran more than one version.
fn mixed_windows(rolls: &[NodeRoll], end: u64) -> Vec<Value> {
    let done: Vec<&NodeRoll> = rolls.iter().filter(|r| r.rejoined_at.is_some()).collect();
    let mut windows = Vec::new();
    for (i, roll) in done.iter().enumerate() {
        if !is_mixed(&roll.versions) {
            continue;
        }
        let start = roll.rejoined_at.unwrap_or_default();
        let until = done
            .get(i + 1)
            .map_or(end, |next| next.rejoined_at.unwrap_or(end));
        windows.push(json!({
            "start": secs(start),
            "end": secs(until),
            "duration": secs(until.saturating_sub(start)),
            "versions": roll.versions,
        }));
    }
    windows
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    max_rejoin: Option<Duration>,
) -> anyhow::Result<CheckResult> {
    let rolls = rolls(history);
    if rolls.is_empty() {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no node was rolled: the run has no upgrade step, or it never fired",
        ));
    }
    let end = workload_end(history, ctx.workload_end)
        .max(history.ops.iter().map(|op| op.time).max().unwrap_or(0));
    let mut problems = Vec::new();
    let per_node: Vec<Value> = rolls
        .iter()
        .map(|r| {
            match (&r.error, r.rejoined_at) {
                (Some(error), _) => problems.push(format!("{}: {error}", r.node)),
                (None, None) => problems.push(format!("{} never rejoined", r.node)),
                (None, Some(_)) => {}
            }
            if let (Some(max), Some(ms)) = (max_rejoin, r.rejoin_ms)
                && u128::from(ms) > max.as_millis()
            {
                problems.push(format!(
                    "{} took {ms} ms to rejoin, more than {max:?}",
                    r.node
                ));
            }
            json!({
                "node": r.node,
                "down_at": secs(r.down_at),
                "rejoined_at": r.rejoined_at.map(secs),
                "down_for": r.rejoined_at.map(|t| secs(t.saturating_sub(r.down_at))),
                "rejoin_ms": r.rejoin_ms,
                "from_image": r.from_image,
                "to_image": r.to_image,
                "versions": r.versions,
                "error": r.error,
            })
        })
        .collect();
    let windows = mixed_windows(&rolls, end);
    let times = rolls
        .iter()
        .map(|r| match r.rejoin_ms {
            Some(ms) => format!("{} {:.1} s", r.node, ms as f64 / 1e3),
            None => format!("{} never", r.node),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let details = json!({
        "nodes": per_node,
        "mixed_version_windows": windows,
        "max_rejoin_ms": max_rejoin.map(|d| nanos(d) / 1_000_000),
        "problems": problems,
    });
    let result = if problems.is_empty() {
        CheckResult::new(
            NAME,
            Verdict::Valid,
            format!(
                "{} node rolls, each rejoined (rejoin: {times}); {} mixed-version windows",
                rolls.len(),
                windows.len()
            ),
        )
    } else {
        CheckResult::new(
            NAME,
            Verdict::Invalid,
            format!(
                "{}; rejoin: {times}",
                problems[0].lines().next().unwrap_or("")
            ),
        )
    };
    Ok(result.with_details(details))
}

/// A stretch of the run as `cargo xtask upgrade` reports it: before the first roll, each node's
/// restart (from its stop to its rejoin), the steady stretches between rolls, after the last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Phase {
    pub name: String,
    /// ns since the run started.
    pub start: u64,
    pub end: u64,
    /// Writes (Pulsar: sends; traces: emitted) invoked in the phase, by outcome.
    pub writes_ok: u64,
    pub writes_failed: u64,
    pub writes_unknown: u64,
    /// Writes acknowledged in the phase that the final read does not have (None: no final read);
    /// for Pulsar, sends acknowledged in the phase that no consumer received; for traces, traces
    /// the agent took in the phase that the reader never found.
    pub lost: Option<u64>,
    /// Pulsar with `read_back`: sends acknowledged in the phase missing from the read-back after
    /// the drain (None: no read-back).
    pub not_read_back: Option<u64>,
    /// Monitor samples in the phase, those with exactly one leader, those with two or more.
    pub samples: u64,
    pub one_leader: u64,
    pub two_leaders: u64,
    /// The node rolling in a restart phase, and its rejoin time.
    pub node: Option<String>,
    pub rejoin_ms: Option<u64>,
}

impl Phase {
    /// `ok` (every write succeeded, a leader in every sample), `degraded` (some write failed or
    /// a sample without a leader), `unavailable` (no write succeeded), `INVALID` (a write lost,
    /// a message not read back, or two leaders at once).
    pub fn verdict(&self) -> &'static str {
        if self.two_leaders > 0 || self.lost.unwrap_or(0) > 0 || self.not_read_back.unwrap_or(0) > 0
        {
            "INVALID"
        } else if self.writes_ok == 0 && self.writes_failed + self.writes_unknown > 0 {
            "unavailable"
        } else if self.writes_failed + self.writes_unknown > 0 || self.one_leader < self.samples {
            "degraded"
        } else {
            "ok"
        }
    }
}

/// Splits the run at every node roll and counts what happened in each phase.
pub fn phases(history: &History) -> Vec<Phase> {
    let rolls = rolls(history);
    let end = history.ops.iter().map(|op| op.time).max().unwrap_or(0);
    let mut bounds: Vec<(String, u64, u64, Option<&NodeRoll>)> = Vec::new();
    let mut cursor = 0;
    let mut versions_now = String::from("before the roll");
    for roll in &rolls {
        let label = if bounds.is_empty() {
            "before".to_string()
        } else {
            format!("between ({versions_now})")
        };
        if roll.down_at > cursor {
            bounds.push((label, cursor, roll.down_at, None));
        }
        let to = roll
            .versions
            .get(&roll.node)
            .map(|v| format!(" -> {v}"))
            .unwrap_or_default();
        let until = roll.rejoined_at.unwrap_or(end);
        bounds.push((
            format!("restart {}{to}", roll.node),
            roll.down_at,
            until,
            Some(roll),
        ));
        cursor = until;
        versions_now = summarize(&roll.versions);
    }
    let last = if rolls.is_empty() {
        "whole run".to_string()
    } else {
        format!("after ({versions_now})")
    };
    bounds.push((last, cursor, end + 1, None));

    let final_keys: Option<BTreeSet<String>> = history
        .with_f(F::FinalRead)
        .filter(|op| op.kind == OpKind::Ok)
        .last()
        .and_then(|op| op.value["keys"].as_object())
        .map(|keys| keys.keys().cloned().collect());
    // Pulsar: the message ids the consumers received, and those the read-back returned.
    let read_back_phase = crate::workload::pulsar::READ_BACK_PHASE;
    let mut received: BTreeSet<&str> = BTreeSet::new();
    let mut read_back: Option<BTreeSet<&str>> = None;
    for op in history
        .with_f(F::Receive)
        .filter(|op| op.kind == OpKind::Ok)
    {
        let Some(id) = op.value["id"].as_str() else {
            continue;
        };
        if op.value["phase"].as_str() == Some(read_back_phase) {
            read_back.get_or_insert_with(BTreeSet::new).insert(id);
        } else {
            received.insert(id);
        }
    }
    let pulsar = history.with_f(F::Send).next().is_some();
    // Traces: the ids the reader found in the run's window (one found only outside it, filed
    // under a wrong clock, is lost as the traces check counts it).
    let found: BTreeSet<&str> = history
        .with_f(F::TraceFound)
        .filter(|op| op.kind == OpKind::Ok)
        .filter(|op| op.value["phase"].as_str() != Some(super::traces::DISPLACED))
        .filter_map(|op| op.value["id"].as_str())
        .collect();
    let traces = history.with_f(F::Trace).next().is_some();
    let writes = history.pairs();
    bounds
        .into_iter()
        .map(|(name, start, end, roll)| {
            let within = |t: u64| t >= start && t < end;
            let mut phase = Phase {
                name,
                start,
                end,
                writes_ok: 0,
                writes_failed: 0,
                writes_unknown: 0,
                lost: (final_keys.is_some() || pulsar || traces).then_some(0),
                not_read_back: read_back.as_ref().map(|_| 0),
                samples: 0,
                one_leader: 0,
                two_leaders: 0,
                node: roll.map(|r| r.node.clone()),
                rejoin_ms: roll.and_then(|r| r.rejoin_ms),
            };
            // Keys written (ZooKeeper), messages sent (Pulsar) and traces emitted, each lost
            // when acknowledged but never seen where it should have arrived.
            for (invoke, done) in writes
                .iter()
                .filter(|(i, _)| matches!(i.f, F::Write | F::Send | F::Trace) && within(i.time))
            {
                match done.map(|d| d.kind) {
                    Some(OpKind::Ok) => {
                        phase.writes_ok += 1;
                        let field = |name: &str| invoke.value[name].as_str().unwrap_or_default();
                        let arrived = match invoke.f {
                            F::Write => final_keys.as_ref().map(|keys| keys.contains(field("key"))),
                            F::Send => Some(received.contains(field("id"))),
                            _ => Some(found.contains(field("id"))),
                        };
                        if let (Some(false), Some(lost)) = (arrived, phase.lost.as_mut()) {
                            *lost += 1;
                        }
                        if invoke.f == F::Send
                            && let (Some(read), Some(missing)) =
                                (&read_back, phase.not_read_back.as_mut())
                            && !read.contains(field("id"))
                        {
                            *missing += 1;
                        }
                    }
                    Some(OpKind::Fail) => phase.writes_failed += 1,
                    _ => phase.writes_unknown += 1,
                }
            }
            for sample in history.with_f(F::Roles).filter(|op| within(op.time)) {
                let leaders = sample.value["roles"]
                    .as_object()
                    .map_or(0, |roles| roles.values().filter(|r| *r == "leader").count());
                phase.samples += 1;
                match leaders {
                    1 => phase.one_leader += 1,
                    0 => {}
                    _ => phase.two_leaders += 1,
                }
            }
            phase
        })
        .collect()
}

/// `zk-1 3.9, zk-2 3.9, zk-3 3.8`
fn summarize(versions: &BTreeMap<String, String>) -> String {
    versions
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::timeline::script::{MS, Script, key};

    fn three_rolls() -> Script {
        Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roll(
                10_000,
                16_000,
                "zk-2",
                json!({"zk-1": "3.8", "zk-2": "3.9", "zk-3": "3.8"}),
            )
            .roll(
                16_100,
                22_000,
                "zk-3",
                json!({"zk-1": "3.8", "zk-2": "3.9", "zk-3": "3.9"}),
            )
            .roll(
                22_100,
                30_000,
                "zk-1",
                json!({"zk-1": "3.9", "zk-2": "3.9", "zk-3": "3.9"}),
            )
    }

    #[test]
    fn every_node_rejoined_is_valid_with_times_and_mixed_windows() {
        let history = three_rolls().build();
        let ctx = CheckContext {
            workload_end: 40_000 * MS,
            ..Default::default()
        };
        let result = check(&history, &ctx, None).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert!(result.summary.contains("zk-2 5.0 s"), "{}", result.summary);
        let windows = result.details["mixed_version_windows"].as_array().unwrap();
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0]["start"], 16.0);
        assert_eq!(windows[0]["end"], 22.0);
        assert_eq!(result.details["nodes"][2]["down_for"], 7.9);
    }

    #[test]
    fn a_node_that_did_not_rejoin_is_invalid() {
        let history = three_rolls()
            .op(
                31_000,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "upgrade", "targets": ["zk-1"]}),
            )
            .op(
                40_000,
                "nemesis",
                F::Fault,
                OpKind::Fail,
                json!({"fault": "upgrade", "targets": ["zk-1"], "down": [], "evidence": {"took_effect": false}}),
            )
            .build();
        let result = check(&history, &CheckContext::default(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert!(result.summary.starts_with("zk-1:"), "{}", result.summary);
    }

    #[test]
    fn a_slow_rejoin_and_no_roll_at_all() {
        let slow = check(
            &three_rolls().build(),
            &CheckContext::default(),
            Some(Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(slow.verdict, Verdict::Invalid, "{}", slow.summary);
        assert!(
            slow.summary.contains("zk-1 took 6900 ms"),
            "{}",
            slow.summary
        );
        let none = check(&Script::new().build(), &CheckContext::default(), None).unwrap();
        assert_eq!(none.verdict, Verdict::Unknown);
    }

    #[test]
    fn phases_split_the_run_at_each_roll_and_count_writes() {
        let history = three_rolls()
            .ok_write(1, 1, 1_000, 1_010)
            .write(1, 2, 12_000, Some((OpKind::Fail, 12_500)))
            .ok_write(2, 1, 13_000, 13_010)
            .ok_write(2, 2, 35_000, 35_010)
            .roles(
                5_000,
                &[
                    ("zk-1", "leader"),
                    ("zk-2", "follower"),
                    ("zk-3", "follower"),
                ],
            )
            .roles(
                25_000,
                &[
                    ("zk-1", "not-serving"),
                    ("zk-2", "follower"),
                    ("zk-3", "follower"),
                ],
            )
            .final_read(
                50_000,
                OpKind::Ok,
                &[(&key(1, 1), "c1-1"), (&key(2, 2), "c2-2")],
            )
            .build();
        let phases = phases(&history);
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names[0], "before");
        assert_eq!(names[1], "restart zk-2 -> 3.9");
        assert!(names[2].starts_with("between"), "{names:?}");
        assert!(
            names.last().unwrap().starts_with("after (zk-1 3.9"),
            "{names:?}"
        );
        assert_eq!(phases[0].verdict(), "ok");
        assert_eq!((phases[1].writes_ok, phases[1].writes_failed), (1, 1));
        assert_eq!(phases[1].rejoin_ms, Some(5_000));
        let lost: Vec<Option<u64>> = phases.iter().map(|p| p.lost).collect();
        assert_eq!(lost[0], Some(0));
        assert_eq!(lost[1], Some(1), "c2-1 is not in the final read");
        assert_eq!(phases[1].verdict(), "INVALID");
        let leader_roll = phases
            .iter()
            .find(|p| p.name == "restart zk-1 -> 3.9")
            .unwrap();
        assert_eq!((leader_roll.samples, leader_roll.one_leader), (1, 0));
    }

    #[test]
    fn phases_count_pulsar_sends_lost_and_not_read_back() {
        use super::super::delivery::script::Pulsar;
        let read_back = crate::workload::pulsar::READ_BACK_PHASE;
        let history = three_rolls()
            .ok_send(0, 1, 1_000, 1_010)
            .receive(1_020, 0, 1, 0, "run")
            .ok_send(0, 2, 12_000, 12_010)
            .send(0, 3, 13_000, Some((OpKind::Info, 14_000)))
            .ok_send(0, 4, 35_000, 35_010)
            .receive(35_020, 0, 4, 0, "run")
            .receive(50_000, 0, 1, 0, read_back)
            .build();
        let phases = phases(&history);
        assert_eq!(phases[0].name, "before");
        assert_eq!(
            (phases[0].writes_ok, phases[0].lost, phases[0].not_read_back),
            (1, Some(0), Some(0))
        );
        assert_eq!(phases[0].verdict(), "ok");
        assert_eq!(phases[1].name, "restart zk-2 -> 3.9");
        assert_eq!(
            (phases[1].writes_ok, phases[1].writes_unknown),
            (1, 1),
            "{phases:?}"
        );
        assert_eq!(phases[1].lost, Some(1), "p0 seq 2 was never received");
        assert_eq!(phases[1].verdict(), "INVALID");
        let last = phases.last().unwrap();
        assert_eq!((last.lost, last.not_read_back), (Some(0), Some(1)));
        assert_eq!(last.verdict(), "INVALID", "seq 4 was not read back");
    }

    #[test]
    fn phases_count_traces_emitted_and_never_found_in_the_window() {
        use crate::checker::traces::script::Traces as _;
        let displaced = crate::checker::traces::DISPLACED;
        let history = three_rolls()
            .ok_emit(0, 1, 1_000)
            .found(2_000, 0, 1, 1, "run")
            .ok_emit(0, 2, 12_000)
            .emit(0, 3, 13_000, Some((OpKind::Fail, 13_500)))
            .ok_emit(0, 4, 35_000)
            .found(36_000, 0, 4, 1, "run")
            .ok_emit(0, 5, 35_100)
            .found(50_000, 0, 5, 1, displaced)
            .build();
        let phases = phases(&history);
        assert_eq!((phases[0].writes_ok, phases[0].lost), (1, Some(0)));
        assert_eq!(phases[1].name, "restart zk-2 -> 3.9");
        assert_eq!(
            (phases[1].writes_ok, phases[1].writes_failed, phases[1].lost),
            (1, 1, Some(1)),
            "seq 2 was taken and never found: {phases:?}"
        );
        let last = phases.last().unwrap();
        assert_eq!(
            (last.writes_ok, last.lost),
            (2, Some(1)),
            "seq 5 was found only outside the run's window"
        );
        assert_eq!(last.not_read_back, None, "traces have no read-back");
    }

    #[test]
    fn only_two_versions_of_one_system_are_a_mix() {
        let versions = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        assert!(!is_mixed(&versions(&[
            ("zk-1", "3.9"),
            ("broker-1", "4.0"),
            ("broker-2", "4.0"),
            ("bookie-1", "4.16"),
        ])));
        assert!(is_mixed(&versions(&[
            ("zk-1", "3.9"),
            ("broker-1", "4.0"),
            ("broker-2", "3.0"),
        ])));
    }
}

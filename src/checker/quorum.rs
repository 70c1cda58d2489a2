//! The quorum check: from the monitor's role samples, at most one leader per epoch, a leader
//! whenever a majority has been up for `grace`, and no leader once a majority has been down for
//! `grace`. With `never_lost`, from the fault timeline: a majority is never down at once.
//!
//! ZooKeeper promises one leader per epoch (the high 32 bits of a zxid), not one node answering
//! `leader` at a time: a leader cut off from its followers keeps answering `Mode: leader` until
//! it notices, within syncLimit ticks, that it lost its quorum, while the majority has already
//! elected a leader of a newer epoch. The older leader can commit nothing then, so that overlap is
//! reported as a measured finding (`stale_leader`), and only two leaders of one epoch — or of
//! epochs the sample does not show — are a violation. An overlap that lasts longer than `grace`
//! is one too: no leader takes that long to notice it lost its followers, so the older one leads
//! an ensemble of its own (a node configured with a server list of its own, say) and commits
//! writes the other never sees — a split brain.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::timeline::{DownTimeline, human, nanos, secs, window_json, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, OpKind};

const NAME: &str = "quorum";
const EXAMPLES: usize = 10;

/// Roles that serve as the leader: a `standalone` node accepts writes on its own.
const LEADING: [&str; 2] = ["leader", "standalone"];

/// One monitor sample: when, and which nodes reported leading.
struct Sample {
    time: u64,
    leaders: Vec<String>,
    /// Each answering node's leader epoch, where the sample recorded it.
    epochs: BTreeMap<String, u64>,
    /// No node led, but one did not answer while another still followed: the leader may only
    /// have been slow to answer, so the sample says nothing about leadership.
    inconclusive: bool,
}

/// The samples that broke one rule.
#[derive(Default)]
struct Breaches {
    count: usize,
    examples: Vec<Value>,
    first: Option<(u64, Vec<String>)>,
}

impl Breaches {
    fn add(&mut self, sample: &Sample, example: Value) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(example);
        }
        self.first
            .get_or_insert_with(|| (sample.time, sample.leaders.clone()));
    }

    fn json(&self) -> Value {
        json!({"samples": self.count, "examples": self.examples})
    }
}

/// Windows `(start, end, down)` in which a majority of `nodes` was down at once, from the fault
/// timeline; `end` is `None` when it lasted until the end of the history.
fn quorum_lost(timeline: &DownTimeline, nodes: &[String]) -> Vec<(u64, Option<u64>, Vec<String>)> {
    let lost = |down: &BTreeSet<String>| {
        let up = nodes.iter().filter(|n| !down.contains(*n)).count();
        up < DownTimeline::majority(nodes.len())
    };
    let in_nodes = |down: &BTreeSet<String>| -> Vec<String> {
        nodes
            .iter()
            .filter(|n| down.contains(*n))
            .cloned()
            .collect()
    };
    let mut windows = Vec::new();
    let mut open: Option<(u64, Vec<String>)> =
        lost(timeline.initial()).then(|| (0, in_nodes(timeline.initial())));
    for (time, down) in timeline.changes() {
        match (&mut open, lost(down)) {
            (None, true) => open = Some((time, in_nodes(down))),
            (Some((_, seen)), true) => {
                for node in in_nodes(down) {
                    if !seen.contains(&node) {
                        seen.push(node);
                    }
                }
            }
            (Some(_), false) => {
                let (start, seen) = open.take().expect("matched Some");
                windows.push((start, Some(time), seen));
            }
            (None, false) => {}
        }
    }
    if let Some((start, seen)) = open {
        windows.push((start, None, seen));
    }
    for (_, _, seen) in &mut windows {
        seen.sort();
    }
    windows
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    grace: Duration,
    never_lost: bool,
) -> anyhow::Result<CheckResult> {
    let mut malformed = 0;
    let mut seen_nodes = BTreeSet::new();
    let mut samples = Vec::new();
    for op in history.with_f(F::Roles).filter(|op| op.kind == OpKind::Ok) {
        let Some(roles) = op.value["roles"].as_object() else {
            malformed += 1;
            continue;
        };
        seen_nodes.extend(roles.keys().cloned());
        let leaders = roles
            .iter()
            .filter(|(_, role)| role.as_str().is_some_and(|role| LEADING.contains(&role)))
            .map(|(node, _)| node.clone())
            .collect::<Vec<String>>();
        let epochs = op.value["epochs"]
            .as_object()
            .map(|epochs| {
                epochs
                    .iter()
                    .filter_map(|(node, epoch)| Some((node.clone(), epoch.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let answered = |wanted: &str| roles.values().any(|role| role.as_str() == Some(wanted));
        let inconclusive = leaders.is_empty() && answered("unreachable") && answered("follower");
        samples.push(Sample {
            inconclusive,
            time: op.time,
            leaders,
            epochs,
        });
    }
    let timeline = DownTimeline::from_history(history);
    let nodes: Vec<String> = if !ctx.nodes.is_empty() {
        ctx.nodes.clone()
    } else if !timeline.nodes().is_empty() {
        timeline.nodes().to_vec()
    } else {
        seen_nodes.into_iter().collect()
    };
    let lost = if never_lost {
        quorum_lost(&timeline, &nodes)
    } else {
        Vec::new()
    };
    let lost_end = workload_end(history, ctx.workload_end);
    let lost_json: Vec<Value> = lost
        .iter()
        .take(EXAMPLES)
        .map(|(start, end, down)| {
            let mut window = window_json(*start, end.unwrap_or(lost_end).max(*start));
            window["down"] = json!(down);
            window["open_at_end"] = json!(end.is_none());
            window
        })
        .collect();
    let lost_breach = lost.first().map(|(start, end, down)| {
        let length = end.unwrap_or(lost_end).saturating_sub(*start);
        format!(
            "quorum lost in {} {}: a majority of {} nodes down at once (first at {} for {}: {})",
            lost.len(),
            plural(lost.len(), "window"),
            nodes.len(),
            human(*start),
            human(length),
            down.join(", ")
        )
    });

    let Some(last) = samples.last() else {
        let details =
            json!({"samples": 0, "malformed_samples": malformed, "quorum_lost": lost_json});
        if let Some(breach) = lost_breach {
            return Ok(CheckResult::new(NAME, Verdict::Invalid, breach).with_details(details));
        }
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no role samples from the monitor, so leadership cannot be judged",
        )
        .with_details(details));
    };
    let last_time = last.time;
    let grace_ns = nanos(grace);

    let mut two_leaders = Breaches::default();
    let mut stale_leader = Breaches::default();
    let mut stale_windows: Vec<(u64, u64)> = Vec::new();
    let mut stale_since: Option<(u64, u64)> = None;
    let mut no_leader = Breaches::default();
    let mut leader_without_quorum = Breaches::default();
    let mut elected: Vec<(u64, String)> = Vec::new();
    let mut leaderless: Vec<(u64, u64, bool)> = Vec::new();
    let mut leaderless_since: Option<u64> = None;

    for sample in samples.iter().filter(|s| !s.inconclusive) {
        let t = sample.time;
        let quorum = timeline.majority_up_at(t, &nodes);
        let settled = timeline.stable_for(t) >= grace_ns;
        let down = timeline.down_at(t);
        match sample.leaders.as_slice() {
            [] => {
                stale_windows.extend(stale_since.take());
                leaderless_since.get_or_insert(t);
                if quorum && settled {
                    no_leader.add(
                        sample,
                        json!({"at": secs(t), "down": down, "up_for": secs(timeline.stable_for(t))}),
                    );
                }
            }
            leaders => {
                if let Some(start) = leaderless_since.take() {
                    leaderless.push((start, t, false));
                }
                let current = newest_epoch_leaders(sample);
                if let [leader] = current.as_slice() {
                    if elected.last().is_none_or(|(_, last)| last != leader) {
                        elected.push((t, leader.clone()));
                    }
                }
                let epochs_json = json!(
                    leaders
                        .iter()
                        .map(|l| (l.clone(), json!(sample.epochs.get(l))))
                        .collect::<serde_json::Map<String, Value>>()
                );
                if current.len() > 1 {
                    two_leaders.add(
                        sample,
                        json!({"at": secs(t), "leaders": leaders, "epochs": epochs_json}),
                    );
                } else if leaders.len() > 1 {
                    stale_leader.add(
                        sample,
                        json!({"at": secs(t), "leader": current, "stale": leaders
                            .iter()
                            .filter(|l| !current.contains(l))
                            .collect::<Vec<_>>(), "epochs": epochs_json}),
                    );
                    let (start, _) = stale_since.get_or_insert((t, t));
                    stale_since = Some((*start, t));
                }
                if leaders.len() == 1 || current.len() > 1 {
                    stale_windows.extend(stale_since.take());
                }
                if !quorum && settled {
                    leader_without_quorum.add(
                        sample,
                        json!({"at": secs(t), "leaders": leaders, "down": down,
                               "down_for": secs(timeline.stable_for(t))}),
                    );
                }
            }
        }
    }
    if let Some(start) = leaderless_since {
        leaderless.push((start, last_time, true));
    }
    stale_windows.extend(stale_since.take());
    let longest_stale = stale_windows.iter().map(|(start, end)| end - start).max();
    let split_brain: Vec<(u64, u64)> = stale_windows
        .iter()
        .copied()
        .filter(|(start, end)| end - start > grace_ns)
        .collect();

    let longest = leaderless
        .iter()
        .copied()
        .max_by_key(|(start, end, _)| end - start);
    let window = |(start, end, open): (u64, u64, bool)| {
        let mut window = window_json(start, end);
        window["open_at_end"] = json!(open);
        window
    };
    let details = json!({
        "samples": samples.len(),
        "malformed_samples": malformed,
        "nodes": nodes,
        "grace": secs(grace_ns),
        "leaders": elected.iter().take(EXAMPLES)
            .map(|(t, leader)| json!({"at": secs(*t), "leader": leader}))
            .collect::<Vec<_>>(),
        "leader_changes": elected.len().saturating_sub(1),
        "leaderless_windows": leaderless.iter().copied().take(EXAMPLES).map(window).collect::<Vec<_>>(),
        "leaderless_count": leaderless.len(),
        "longest_leaderless": longest.map(window),
        "never_lost": never_lost,
        "quorum_lost": lost_json,
        "stale_leader": {
            "samples": stale_leader.count,
            "windows": stale_windows.len(),
            "longest": longest_stale.map(secs),
            "examples": stale_leader.examples,
            "longer_than_grace": split_brain.iter().take(EXAMPLES)
                .map(|(start, end)| window_json(*start, *end))
                .collect::<Vec<_>>(),
        },
        "violations": {
            "two_leaders": two_leaders.json(),
            "no_leader_with_majority_up": no_leader.json(),
            "leader_with_majority_down": leader_without_quorum.json(),
        },
    });

    let mut breaches: Vec<String> = lost_breach.into_iter().collect();
    if let Some((t, leaders)) = &two_leaders.first {
        breaches.push(format!(
            "{} leaders of one epoch (or of unknown epochs) at once in {} {} (first at {}: {})",
            leaders.len(),
            two_leaders.count,
            plural(two_leaders.count, "sample"),
            human(*t),
            leaders.join(", ")
        ));
    }
    if let Some((start, end)) = split_brain.first() {
        breaches.push(format!(
            "a leader of an older epoch kept answering `leader` beside the newer one for {} \
             (first from {}), longer than the {} grace a leader needs to notice it lost its \
             followers: a split brain, two ensembles",
            human(end - start),
            human(*start),
            human(grace_ns)
        ));
    }
    if let Some((t, _)) = &no_leader.first {
        breaches.push(format!(
            "no leader in {} {} although a majority of {} nodes had been up for {} (first at {})",
            no_leader.count,
            plural(no_leader.count, "sample"),
            nodes.len(),
            human(grace_ns),
            human(*t)
        ));
    }
    if let Some((t, leaders)) = &leader_without_quorum.first {
        breaches.push(format!(
            "{} still leading in {} {} although a majority of {} nodes had been down for {} (first at {})",
            leaders.join(", "),
            leader_without_quorum.count,
            plural(leader_without_quorum.count, "sample"),
            nodes.len(),
            human(grace_ns),
            human(*t)
        ));
    }
    if !breaches.is_empty() {
        return Ok(
            CheckResult::new(NAME, Verdict::Invalid, breaches.join("; ")).with_details(details),
        );
    }

    let changes = elected.len().saturating_sub(1);
    let without = match longest {
        Some((start, end, _)) => format!("longest without a leader {}", human(end - start)),
        None => "never without a leader".to_string(),
    };
    let mut summary = format!(
        "one leader per epoch in {} {}; {changes} leader {}; {without}",
        samples.len(),
        plural(samples.len(), "sample"),
        plural(changes, "change"),
    );
    if let Some(longest) = longest_stale {
        summary.push_str(&format!(
            "; a leader of an older epoch still answered `leader` beside the new one in {} {} \
             (longest overlap {}: its step-down delay)",
            stale_leader.count,
            plural(stale_leader.count, "sample"),
            human(longest)
        ));
    }
    Ok(CheckResult::new(NAME, Verdict::Valid, summary).with_details(details))
}

/// The sample's leaders of its newest epoch; every leader when one of them has no known epoch
/// (then the sample cannot tell a stale leader from a second one).
fn newest_epoch_leaders(sample: &Sample) -> Vec<String> {
    let epochs: Option<Vec<u64>> = sample
        .leaders
        .iter()
        .map(|l| sample.epochs.get(l).copied())
        .collect();
    let Some(newest) = epochs.as_ref().and_then(|e| e.iter().max().copied()) else {
        return sample.leaders.clone();
    };
    sample
        .leaders
        .iter()
        .filter(|l| sample.epochs.get(*l) == Some(&newest))
        .cloned()
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::super::timeline::script::{Script, nodes3};
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    fn ctx() -> CheckContext {
        CheckContext {
            nodes: nodes3(),
            tick_time_ms: Some(2000),
            workload_end: 60_000 * 1_000_000,
            ..CheckContext::default()
        }
    }

    const HEALTHY: [(&str, &str); 3] = [
        ("zk-1", "leader"),
        ("zk-2", "follower"),
        ("zk-3", "follower"),
    ];
    const NONE: [(&str, &str); 3] = [
        ("zk-1", "not-serving"),
        ("zk-2", "not-serving"),
        ("zk-3", "not-serving"),
    ];

    fn run(script: Script) -> CheckResult {
        check(&script.build(), &ctx(), GRACE, false).unwrap()
    }

    #[test]
    fn no_samples_is_unknown() {
        let result = run(Script::new().topology(&["zk-1", "zk-2", "zk-3"], &[]));
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("no role samples"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn a_steady_leader_is_valid() {
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roles_every(0, 9_750, 250, &HEALTHY));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "one leader per epoch in 40 samples; 0 leader changes; never without a leader"
        );
        assert_eq!(
            result.details["leaders"],
            json!([{"at": 0.0, "leader": "zk-1"}])
        );
    }

    #[test]
    fn a_re_election_within_grace_is_valid_and_measured() {
        let after = [
            ("zk-1", "unreachable"),
            ("zk-2", "leader"),
            ("zk-3", "follower"),
        ];
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roles_every(0, 10_000, 250, &HEALTHY)
            .fault(10_100, "kill", &["zk-1"], &["zk-1"])
            .roles_every(10_250, 12_250, 250, &NONE)
            .roles_every(12_500, 20_000, 250, &after));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "one leader per epoch in 81 samples; 1 leader change; longest without a leader 2.3 s"
        );
        assert_eq!(result.details["leader_changes"], 1);
        assert_eq!(
            result.details["longest_leaderless"],
            json!({"start": 10.25, "end": 12.5, "duration": 2.25, "open_at_end": false})
        );
    }

    #[test]
    fn a_leader_slow_to_answer_while_the_others_follow_is_not_leaderless() {
        let slow = [
            ("zk-1", "unreachable"),
            ("zk-2", "follower"),
            ("zk-3", "follower"),
        ];
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roles_every(0, 20_000, 250, &HEALTHY)
            .roles(20_100, &slow)
            .roles_every(20_250, 25_000, 250, &HEALTHY));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    }

    #[test]
    fn two_leaders_in_one_sample_is_invalid() {
        let split = [("zk-1", "leader"), ("zk-2", "follower"), ("zk-3", "leader")];
        let result = run(Script::new()
            .roles_every(0, 1_000, 250, &HEALTHY)
            .roles(1_250, &split)
            .roles(1_500, &HEALTHY));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "2 leaders of one epoch (or of unknown epochs) at once in 1 sample (first at 1.3 s: zk-1, zk-3)"
        );
        assert_eq!(
            result.details["violations"]["two_leaders"]["examples"],
            json!([{"at": 1.25, "leaders": ["zk-1", "zk-3"], "epochs": {"zk-1": null, "zk-3": null}}])
        );
    }

    #[test]
    fn two_leaders_of_one_epoch_are_invalid() {
        let split = [("zk-1", "leader"), ("zk-2", "follower"), ("zk-3", "leader")];
        let epochs = [("zk-1", 4), ("zk-2", 4), ("zk-3", 4)];
        let result = run(Script::new()
            .roles_every(0, 1_000, 250, &HEALTHY)
            .roles_with_epochs(1_250, &split, &epochs)
            .roles(1_500, &HEALTHY));
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(result.details["violations"]["two_leaders"]["samples"], 1);
    }

    #[test]
    fn an_older_epochs_leader_beside_the_new_one_is_a_finding_not_a_violation() {
        // zk-1 led epoch 4 and was cut off; zk-3 leads epoch 5 while zk-1 still says `leader`
        // for 750 ms, as zk-partition-leader-isolated measured.
        let old = [
            ("zk-1", "leader"),
            ("zk-2", "follower"),
            ("zk-3", "follower"),
        ];
        let overlap = [("zk-1", "leader"), ("zk-2", "follower"), ("zk-3", "leader")];
        let new = [
            ("zk-1", "unreachable"),
            ("zk-2", "follower"),
            ("zk-3", "leader"),
        ];
        let mut script = Script::new().topology(&["zk-1", "zk-2", "zk-3"], &[]);
        for ms in (0..=1_000).step_by(250) {
            script = script.roles_with_epochs(ms, &old, &[("zk-1", 4), ("zk-2", 4), ("zk-3", 4)]);
        }
        for ms in (1_250..=2_000).step_by(250) {
            script =
                script.roles_with_epochs(ms, &overlap, &[("zk-1", 4), ("zk-2", 5), ("zk-3", 5)]);
        }
        for ms in (2_250..=4_000).step_by(250) {
            script = script.roles_with_epochs(ms, &new, &[("zk-2", 5), ("zk-3", 5)]);
        }
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["stale_leader"]["samples"], 4);
        assert_eq!(result.details["stale_leader"]["longest"], 0.75);
        assert_eq!(result.details["leader_changes"], 1);
        assert!(
            result.summary.contains("older epoch still answered `leader` beside the new one in 4 samples (longest overlap 750 ms"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn an_older_epochs_leader_that_never_steps_down_is_a_split_brain() {
        // zk-3 runs standalone (a server list of its own, epoch 0) beside the ensemble of zk-1
        // and zk-2 (epoch 1) for 8 s, longer than the 5 s grace.
        let split = [
            ("zk-1", "leader"),
            ("zk-2", "follower"),
            ("zk-3", "standalone"),
        ];
        let epochs = [("zk-1", 1), ("zk-2", 1), ("zk-3", 0)];
        let mut script = Script::new().topology(&["zk-1", "zk-2", "zk-3"], &[]);
        for ms in (0..=8_000).step_by(250) {
            script = script.roles_with_epochs(ms, &split, &epochs);
        }
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert!(
            result
                .summary
                .starts_with("a leader of an older epoch kept answering `leader` beside the newer one for 8 s (first from 0 ms)"),
            "{}",
            result.summary
        );
        assert_eq!(
            result.details["stale_leader"]["longer_than_grace"][0]["duration"],
            8.0
        );
    }

    #[test]
    fn standalone_counts_as_leading() {
        let split = [
            ("zk-1", "leader"),
            ("zk-2", "standalone"),
            ("zk-3", "follower"),
        ];
        let result = run(Script::new().roles(0, &split));
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    }

    #[test]
    fn no_leader_after_grace_with_a_majority_up_is_invalid() {
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roles_every(0, 1_000, 250, &HEALTHY)
            .fault(2_000, "kill", &["zk-1"], &["zk-1"])
            .roles_every(2_250, 8_000, 250, &NONE));
        assert_eq!(result.verdict, Verdict::Invalid);
        // 7 s, 7.25 s, ..., 8 s: five samples at least 5 s after the kill.
        assert_eq!(
            result.summary,
            "no leader in 5 samples although a majority of 3 nodes had been up for 5 s (first at 7 s)"
        );
        assert_eq!(result.details["longest_leaderless"]["open_at_end"], true);
    }

    #[test]
    fn no_leader_while_a_majority_is_down_is_expected() {
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roles_every(0, 1_000, 250, &HEALTHY)
            .fault(2_000, "kill", &["zk-1", "zk-2"], &["zk-1", "zk-2"])
            .roles_every(2_250, 20_000, 250, &NONE));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    }

    #[test]
    fn a_leader_after_grace_with_a_majority_down_is_invalid() {
        let stale = [
            ("zk-1", "unreachable"),
            ("zk-2", "unreachable"),
            ("zk-3", "leader"),
        ];
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .roles_every(0, 1_000, 250, &HEALTHY)
            .fault(2_000, "stop", &["zk-1", "zk-2"], &["zk-1", "zk-2"])
            .roles_every(2_250, 7_500, 250, &stale));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "zk-3 still leading in 3 samples although a majority of 3 nodes had been down for 5 s (first at 7 s)"
        );
    }

    #[test]
    fn nodes_not_started_at_setup_count_as_down() {
        // Only zk-1 started: no quorum can form, so no leader is correct even after grace.
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &["zk-2", "zk-3"])
            .roles_every(0, 10_000, 500, &NONE));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    }

    fn never_lost(script: Script) -> CheckResult {
        check(&script.build(), &ctx(), GRACE, true).unwrap()
    }

    #[test]
    fn two_overlapping_faults_lose_quorum_when_it_must_never_be_lost() {
        let script = || {
            Script::new()
                .topology(&["zk-1", "zk-2", "zk-3"], &[])
                .roles_every(0, 2_000, 250, &HEALTHY)
                .fault(2_000, "kill", &["zk-2"], &["zk-2"])
                .fault(3_000, "pause", &["zk-3"], &["zk-2", "zk-3"])
                .heal(4_500, "kill", &["zk-2"], &["zk-3"])
                .heal(6_000, "pause", &["zk-3"], &[])
                .roles_every(6_250, 20_000, 250, &HEALTHY)
        };
        // Without never_lost, no leader while a majority is down is correct.
        assert_eq!(run(script()).verdict, Verdict::Valid);
        let result = never_lost(script());
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "quorum lost in 1 window: a majority of 3 nodes down at once (first at 3 s for 1.5 s: zk-2, zk-3)"
        );
        assert_eq!(
            result.details["quorum_lost"],
            json!([{"start": 3.0, "end": 4.5, "duration": 1.5, "down": ["zk-2", "zk-3"], "open_at_end": false}])
        );
    }

    #[test]
    fn faults_one_after_another_keep_quorum() {
        let result = never_lost(
            Script::new()
                .topology(&["zk-1", "zk-2", "zk-3"], &[])
                .roles_every(0, 2_000, 250, &HEALTHY)
                .fault(2_000, "kill", &["zk-2"], &["zk-2"])
                .heal(4_000, "kill", &["zk-2"], &[])
                .fault(4_000, "pause", &["zk-3"], &["zk-3"])
                .heal(6_000, "pause", &["zk-3"], &[])
                .roles_every(6_250, 10_000, 250, &HEALTHY),
        );
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["quorum_lost"], json!([]));
    }

    #[test]
    fn quorum_lost_until_the_end_is_judged_without_samples() {
        let result = never_lost(
            Script::new()
                .topology(&["zk-1", "zk-2", "zk-3"], &["zk-2", "zk-3"])
                .write(1, 1, 9_000, Some((OpKind::Fail, 9_500))),
        );
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(result.details["quorum_lost"][0]["open_at_end"], true);
    }
}

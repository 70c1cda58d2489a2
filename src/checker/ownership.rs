//! The topic-ownership check (Pulsar): from the monitor's samples of which brokers serve each
//! topic, never two owners of a topic in one sample. Reports owner changes and the longest time
//! each topic went without an owner.
//!
//! A topic missing from a sample counts as owned by none. Time without an owner is counted only
//! after the topic was first seen owned, and runs from the first sample without an owner to the
//! next sample with one.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::delivery::Found;
use super::timeline::{human, secs, str_list, window_json};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, OpKind};

const NAME: &str = "topic-ownership";
const EXAMPLES: usize = 10;

/// What the samples showed for one topic.
#[derive(Default)]
struct Topic {
    /// The owners in the last sample, once seen.
    current: Option<Vec<String>>,
    /// Each change of the owner set: when, and the owners from then on.
    changes: Vec<(u64, Vec<String>)>,
    /// The distinct owners in the order they took over (a return counts again).
    owners: Vec<String>,
    ever_owned: bool,
    ownerless_since: Option<u64>,
    /// (start, end, still open at the last sample).
    ownerless: Vec<(u64, u64, bool)>,
}

impl Topic {
    fn longest_ownerless(&self) -> Option<(u64, u64, bool)> {
        self.ownerless
            .iter()
            .copied()
            .max_by_key(|(start, end, _)| end - start)
    }
}

/// `chaos` for `persistent://public/default/chaos`.
fn short(topic: &str) -> &str {
    topic.rsplit('/').next().unwrap_or(topic)
}

/// `1 sample`, `2 samples`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn ownerless_json((start, end, open): (u64, u64, bool)) -> Value {
    let mut window = window_json(start, end);
    window["open_at_end"] = json!(open);
    window
}

pub(super) fn check(history: &History, _ctx: &CheckContext) -> anyhow::Result<CheckResult> {
    let mut topics: BTreeMap<String, Topic> = BTreeMap::new();
    let mut split = Found::default();
    let mut split_samples = 0;
    let mut first_split: Option<(u64, String, Vec<String>)> = None;
    let (mut samples, mut malformed) = (0, 0);
    let mut last_time = 0;
    for op in history
        .with_f(F::Ownership)
        .filter(|op| op.kind == OpKind::Ok)
    {
        let Some(owners) = op.value["owners"].as_object() else {
            malformed += 1;
            continue;
        };
        samples += 1;
        last_time = op.time;
        let unreachable = str_list(&op.value["unreachable"]).unwrap_or_default();
        for topic in owners.keys() {
            topics.entry(topic.clone()).or_default();
        }
        let mut split_here = false;
        for (name, topic) in topics.iter_mut() {
            let mut brokers = owners.get(name).and_then(str_list).unwrap_or_default();
            brokers.sort();
            brokers.dedup();
            if brokers.len() >= 2 {
                split_here = true;
                first_split.get_or_insert_with(|| (op.time, name.clone(), brokers.clone()));
                split.add(|| {
                    json!({"at": secs(op.time), "topic": name, "owners": brokers,
                           "unreachable": unreachable})
                });
            }
            if topic.current.as_ref() != Some(&brokers) {
                topic.changes.push((op.time, brokers.clone()));
                if let [owner] = brokers.as_slice() {
                    topic.owners.push(owner.clone());
                }
                topic.current = Some(brokers.clone());
            }
            if brokers.is_empty() {
                if topic.ever_owned {
                    topic.ownerless_since.get_or_insert(op.time);
                }
            } else {
                topic.ever_owned = true;
                if let Some(start) = topic.ownerless_since.take() {
                    topic.ownerless.push((start, op.time, false));
                }
            }
        }
        if split_here {
            split_samples += 1;
        }
    }
    for topic in topics.values_mut() {
        if let Some(start) = topic.ownerless_since.take() {
            topic.ownerless.push((start, last_time, true));
        }
    }

    let per_topic: serde_json::Map<String, Value> = topics
        .iter()
        .map(|(name, topic)| {
            let changes: Vec<Value> = topic
                .changes
                .iter()
                .take(EXAMPLES * 5)
                .map(|(at, owners)| json!({"at": secs(*at), "owners": owners}))
                .collect();
            let value = json!({
                "changes": changes,
                "change_count": topic.changes.len().saturating_sub(1),
                "owners": topic.owners,
                "ownerless_windows": topic.ownerless.len(),
                "longest_without_owner": topic.longest_ownerless().map(ownerless_json),
            });
            (name.clone(), value)
        })
        .collect();
    let longest = topics
        .iter()
        .filter_map(|(name, topic)| topic.longest_ownerless().map(|w| (name, w)))
        .max_by_key(|(_, (start, end, _))| end - start);
    let details = json!({
        "samples": samples,
        "malformed_samples": malformed,
        "topics": per_topic,
        "two_owners": {"samples": split_samples, "examples": split.examples},
        "longest_without_owner": longest.map(|(name, window)| {
            let mut value = ownerless_json(window);
            value["topic"] = json!(name);
            value
        }),
    });

    if samples == 0 {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no ownership samples from the monitor, so topic ownership cannot be judged",
        )
        .with_details(details));
    }
    if let Some((at, topic, owners)) = first_split {
        let summary = format!(
            "{split_samples} of {} showed a topic with two or more owners: {topic} owned by {} \
             at {}",
            plural(samples, "sample"),
            owners.join(" and "),
            human(at)
        );
        return Ok(CheckResult::new(NAME, Verdict::Invalid, summary).with_details(details));
    }
    if !topics.values().any(|topic| topic.ever_owned) {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            format!(
                "no broker reported owning a topic in {samples} samples, so ownership cannot be \
                 judged"
            ),
        )
        .with_details(details));
    }

    let owned = match topics.iter().collect::<Vec<_>>().as_slice() {
        [(name, topic)] => format!("{} owned by {}", short(name), topic.owners.join(", then ")),
        many => {
            let changes: usize = many
                .iter()
                .map(|(_, topic)| topic.changes.len().saturating_sub(1))
                .sum();
            format!("{} topics, {}", many.len(), plural(changes, "owner change"))
        }
    };
    let without = match longest {
        None => "never without an owner".to_string(),
        Some((name, (start, end, open))) => format!(
            "longest without an owner {} ({}from {}{})",
            human(end - start),
            if topics.len() > 1 {
                format!("{} ", short(name))
            } else {
                String::new()
            },
            human(start),
            if open { " to the last sample" } else { "" }
        ),
    };
    let summary = format!(
        "{}, never two owners; {owned}; {without}",
        plural(samples, "sample")
    );
    Ok(CheckResult::new(NAME, Verdict::Valid, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use super::super::delivery::script::{Pulsar, TOPIC};
    use super::super::timeline::script::Script;
    use super::*;

    const OTHER: &str = "persistent://public/default/other";

    fn run(script: Script) -> CheckResult {
        check(&script.build(), &CheckContext::default()).unwrap()
    }

    /// broker-2 owns the topic until 2 s, nobody from 2.5 s to 4 s, broker-1 from 4.5 s.
    fn handover() -> Script {
        let mut script = Script::new();
        for ms in (0..=2_000).step_by(500) {
            script = script.owners(ms, &[(TOPIC, &["broker-2"])], &[]);
        }
        for ms in (2_500..=4_000).step_by(500) {
            script = script.owners(ms, &[(TOPIC, &[])], &["broker-2"]);
        }
        for ms in (4_500..=6_000).step_by(500) {
            script = script.owners(ms, &[(TOPIC, &["broker-1"])], &["broker-2"]);
        }
        script
    }

    #[test]
    fn a_clean_handover_is_valid() {
        let result = run(handover());
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "13 samples, never two owners; chaos owned by broker-2, then broker-1; longest \
             without an owner 2 s (from 2.5 s)"
        );
        let topic = &result.details["topics"][TOPIC];
        assert_eq!(topic["change_count"], 2);
        assert_eq!(
            topic["changes"],
            json!([{"at": 0.0, "owners": ["broker-2"]}, {"at": 2.5, "owners": []},
                   {"at": 4.5, "owners": ["broker-1"]}])
        );
        assert_eq!(
            result.details["longest_without_owner"],
            json!({"start": 2.5, "end": 4.5, "duration": 2.0, "open_at_end": false,
                   "topic": TOPIC})
        );
    }

    #[test]
    fn two_owners_in_one_sample_is_invalid() {
        let result = run(handover()
            .owners(6_500, &[(TOPIC, &["broker-1", "broker-2"])], &[])
            .owners(7_000, &[(TOPIC, &["broker-2", "broker-1"])], &[]));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "2 of 15 samples showed a topic with two or more owners: \
             persistent://public/default/chaos owned by broker-1 and broker-2 at 6.5 s"
        );
        assert_eq!(result.details["two_owners"]["samples"], 2);
    }

    #[test]
    fn several_topics_and_an_owner_lost_at_the_end() {
        let result = run(Script::new()
            .owners(0, &[(TOPIC, &["broker-1"]), (OTHER, &["broker-2"])], &[])
            .owners(500, &[(TOPIC, &["broker-1"])], &["broker-2"])
            .owners(1_500, &[(TOPIC, &["broker-1"])], &["broker-2"]));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "3 samples, never two owners; 2 topics, 1 owner change; longest without an owner \
             1 s (other from 500 ms to the last sample)"
        );
    }

    #[test]
    fn never_without_an_owner() {
        let result = run(Script::new().owners(0, &[(TOPIC, &["broker-3"])], &[]));
        assert_eq!(
            result.summary,
            "1 sample, never two owners; chaos owned by broker-3; never without an owner"
        );
    }

    #[test]
    fn no_samples_or_no_owner_ever_is_unknown() {
        let result = run(Script::new());
        assert_eq!(result.verdict, Verdict::Unknown);
        let result =
            run(Script::new()
                .owners(0, &[], &["broker-1"])
                .owners(500, &[(TOPIC, &[])], &[]));
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(
            result.summary,
            "no broker reported owning a topic in 2 samples, so ownership cannot be judged"
        );
    }
}

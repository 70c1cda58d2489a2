//! Literal histories with a known verdict, and generated ones: a simulated linearizable
//! register is always linearizable, and one injected violation is found and named.

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::generate::{self, Spec};
use super::*;
use crate::history::{F, History, Op, OpKind};

/// One history entry: process, f, kind, value.
type E = (&'static str, F, OpKind, Json);

fn history(entries: &[E]) -> History {
    History::new(
        entries
            .iter()
            .enumerate()
            .map(|(i, (process, f, kind, value))| Op {
                index: i as u64,
                time: i as u64 * 1_000_000,
                process: process.to_string(),
                f: *f,
                kind: *kind,
                value: value.clone(),
                error: None,
            })
            .collect(),
    )
}

fn run(entries: &[E], reads: ReadModel) -> CheckResult {
    check(&history(entries), reads, Limits::default()).unwrap()
}

use F::{Cas, Read, Write};
use OpKind::{Fail, Info, Invoke, Ok};

fn w(key: &str, v: i64) -> Json {
    json!({"key": key, "value": v})
}

fn r(key: &str, v: Option<i64>) -> Json {
    json!({"key": key, "value": v})
}

fn sync_r(key: &str, v: Option<i64>) -> Json {
    json!({"key": key, "value": v, "sync": true})
}

fn cas(key: &str, expect: i64, v: i64) -> Json {
    json!({"key": key, "expect": expect, "value": v})
}

#[test]
fn concurrent_writes_and_reads_that_fit_are_valid() {
    let result = run(
        &[
            ("client-0", Write, Invoke, w("/k", 1)),
            ("client-1", Write, Invoke, w("/k", 2)),
            ("client-2", Read, Invoke, r("/k", None)),
            ("client-2", Read, Ok, r("/k", Some(2))),
            ("client-1", Write, Ok, w("/k", 2)),
            ("client-0", Write, Ok, w("/k", 1)),
            ("client-2", Read, Invoke, r("/k", None)),
            ("client-2", Read, Ok, r("/k", Some(1))),
            ("client-1", Cas, Invoke, cas("/k", 1, 3)),
            ("client-1", Cas, Ok, cas("/k", 1, 3)),
            ("client-0", Cas, Invoke, cas("/k", 1, 4)),
            ("client-0", Cas, Fail, cas("/k", 1, 4)),
            ("client-2", Read, Invoke, r("/k", None)),
            ("client-2", Read, Ok, r("/k", Some(3))),
        ],
        ReadModel::Linearizable,
    );
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
}

#[test]
fn an_empty_history_is_valid() {
    let result = run(&[], ReadModel::Linearizable);
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
}

/// client-0 writes 1 then 2; afterwards client-1 reads 1.
fn stale(read: Json) -> Vec<E> {
    vec![
        ("client-0", Write, Invoke, w("/k", 1)),
        ("client-0", Write, Ok, w("/k", 1)),
        ("client-0", Write, Invoke, w("/k", 2)),
        ("client-0", Write, Ok, w("/k", 2)),
        ("client-1", Read, Invoke, read.clone()),
        ("client-1", Read, Ok, read),
    ]
}

#[test]
fn a_stale_read_is_invalid_when_reads_are_linearizable() {
    let result = run(&stale(r("/k", Some(1))), ReadModel::Linearizable);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    let text = result.details["counterexample"]["text"].as_str().unwrap();
    assert!(text.contains("#4..#5 client-1 read -> 1"), "{text}");
    assert!(text.contains("register then holds 2"), "{text}");
}

#[test]
fn a_stale_plain_read_is_valid_under_the_sequential_model_a_synced_one_is_not() {
    let result = run(&stale(r("/k", Some(1))), ReadModel::Sequential);
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    let result = run(&stale(sync_r("/k", Some(1))), ReadModel::Sequential);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
}

#[test]
fn a_plain_read_is_not_older_than_its_sessions_previous_operation() {
    // client-1 itself wrote 2 (same session): its later read cannot see 1.
    let entries = vec![
        ("client-0", Write, Invoke, w("/k", 1)),
        ("client-0", Write, Ok, w("/k", 1)),
        ("client-1", Write, Invoke, w("/k", 2)),
        ("client-1", Write, Ok, w("/k", 2)),
        ("client-1", Read, Invoke, r("/k", None)),
        ("client-1", Read, Ok, r("/k", Some(1))),
    ];
    let result = run(&entries, ReadModel::Sequential);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    // The same through a session id shared by two processes.
    let session = |mut v: Json| {
        v["session"] = json!("1a2b");
        v
    };
    let entries = vec![
        ("client-0", Write, Invoke, session(w("/k", 1))),
        ("client-0", Write, Ok, session(w("/k", 1))),
        ("client-0", Write, Invoke, session(w("/k", 2))),
        ("client-0", Write, Ok, session(w("/k", 2))),
        ("client-1", Read, Invoke, session(r("/k", None))),
        ("client-1", Read, Ok, session(r("/k", Some(1)))),
    ];
    let result = run(&entries, ReadModel::Sequential);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
}

#[test]
fn a_session_predecessor_on_another_key_bounds_a_plain_read() {
    // client-1 wrote /j after client-0's write of 2 to /k completed: its read of /k cannot
    // return 1.
    let entries = vec![
        ("client-0", Write, Invoke, w("/k", 1)),
        ("client-0", Write, Ok, w("/k", 1)),
        ("client-0", Write, Invoke, w("/k", 2)),
        ("client-0", Write, Ok, w("/k", 2)),
        ("client-1", Write, Invoke, w("/j", 5)),
        ("client-1", Write, Ok, w("/j", 5)),
        ("client-1", Read, Invoke, r("/k", None)),
        ("client-1", Read, Ok, r("/k", Some(1))),
    ];
    let result = run(&entries, ReadModel::Sequential);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
}

#[test]
fn a_read_of_a_value_never_written_is_invalid_and_named() {
    let result = run(
        &[
            ("client-0", Write, Invoke, w("/a", 1)),
            ("client-0", Write, Ok, w("/a", 1)),
            ("client-1", Write, Invoke, w("/k", 1)),
            ("client-1", Write, Ok, w("/k", 1)),
            ("client-2", Read, Invoke, r("/k", None)),
            ("client-2", Read, Ok, r("/k", Some(9))),
        ],
        ReadModel::Sequential,
    );
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    assert!(result.summary.starts_with("key /k:"), "{}", result.summary);
    let cex = &result.details["counterexample"];
    assert_eq!(cex["stuck"][0]["index"], 4);
    assert_eq!(cex["stuck"][0]["value"], 9);
    assert_eq!(cex["stuck"][0]["fits_state"], false);
    assert_eq!(cex["key"], "/k");
}

#[test]
fn a_lost_acknowledged_write_is_invalid() {
    let result = run(
        &[
            ("client-0", Write, Invoke, w("/k", 1)),
            ("client-0", Write, Ok, w("/k", 1)),
            ("client-1", Read, Invoke, r("/k", None)),
            ("client-1", Read, Ok, r("/k", None)),
        ],
        ReadModel::Linearizable,
    );
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    let text = result.details["counterexample"]["text"].as_str().unwrap();
    assert!(text.contains("client-0 write 1 ok"), "{text}");
    assert!(text.contains("client-1 read -> null"), "{text}");
}

#[test]
fn a_cas_that_succeeded_against_the_wrong_value_is_invalid() {
    let result = run(
        &[
            ("client-0", Write, Invoke, w("/k", 1)),
            ("client-0", Write, Ok, w("/k", 1)),
            ("client-1", Cas, Invoke, cas("/k", 2, 3)),
            ("client-1", Cas, Ok, cas("/k", 2, 3)),
        ],
        ReadModel::Linearizable,
    );
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    let text = result.details["counterexample"]["text"].as_str().unwrap();
    assert!(
        text.contains("it observes 2, which no operation writes"),
        "{text}"
    );
    // Against a value the register held, but no longer.
    let result = run(
        &[
            ("client-0", Write, Invoke, w("/k", 1)),
            ("client-0", Write, Ok, w("/k", 1)),
            ("client-0", Write, Invoke, w("/k", 2)),
            ("client-0", Write, Ok, w("/k", 2)),
            ("client-1", Cas, Invoke, cas("/k", 1, 3)),
            ("client-1", Cas, Ok, cas("/k", 1, 3)),
        ],
        ReadModel::Linearizable,
    );
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    let text = result.details["counterexample"]["text"].as_str().unwrap();
    assert!(text.contains("it expected 1, not 2"), "{text}");
}

#[test]
fn failed_writes_and_reads_are_dropped() {
    let result = run(
        &[
            ("client-0", Write, Invoke, w("/k", 1)),
            ("client-0", Write, Fail, w("/k", 1)),
            ("client-1", Read, Invoke, r("/k", None)),
            ("client-1", Read, Fail, r("/k", Some(7))),
            ("client-1", Read, Invoke, r("/k", None)),
            ("client-1", Read, Info, r("/k", Some(8))),
            ("client-1", Read, Invoke, r("/k", None)),
            ("client-1", Read, Ok, r("/k", None)),
        ],
        ReadModel::Linearizable,
    );
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    assert_eq!(result.details["operations"]["dropped_reads"], 2);
    assert_eq!(result.details["operations"]["dropped_failed"], 1);
}

#[test]
fn writes_of_unknown_outcome_explain_later_reads_once() {
    let info_write = [
        ("client-0", Write, Invoke, w("/k", 1)),
        ("client-0", Write, Info, w("/k", 1)),
        ("client-1", Write, Invoke, w("/k", 2)),
        ("client-1", Write, Ok, w("/k", 2)),
        // Still open when the history ends: unknown too.
        ("client-2", Cas, Invoke, cas("/k", 1, 3)),
        ("client-1", Read, Invoke, r("/k", None)),
        ("client-1", Read, Ok, r("/k", Some(1))),
    ];
    let result = run(&info_write, ReadModel::Linearizable);
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    // The unknown CAS may then have applied too.
    let mut then_3 = info_write.to_vec();
    then_3.push(("client-1", Read, Invoke, r("/k", None)));
    then_3.push(("client-1", Read, Ok, r("/k", Some(3))));
    let result = run(&then_3, ReadModel::Linearizable);
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    // But the unknown write happens once: 1, then 2 again (nobody wrote 2 twice), then 1.
    let mut twice = info_write.to_vec();
    twice.push(("client-1", Write, Invoke, w("/k", 4)));
    twice.push(("client-1", Write, Ok, w("/k", 4)));
    twice.push(("client-1", Read, Invoke, r("/k", None)));
    twice.push(("client-1", Read, Ok, r("/k", Some(1))));
    let result = run(&twice, ReadModel::Linearizable);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
}

#[test]
fn an_unknown_write_does_not_take_effect_before_its_invocation() {
    let result = run(
        &[
            ("client-1", Read, Invoke, r("/k", None)),
            ("client-1", Read, Ok, r("/k", Some(1))),
            ("client-0", Write, Invoke, w("/k", 1)),
            ("client-0", Write, Info, w("/k", 1)),
        ],
        ReadModel::Sequential,
    );
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
}

/// Many overlapping writes and, after them all, reads that no order of them explains:
/// refuting it means trying every subset of the writes.
fn hard() -> History {
    let mut entries: Vec<E> = Vec::new();
    let names: Vec<&'static str> = (0..40)
        .map(|i| &*Box::leak(format!("client-{i}").into_boxed_str()))
        .collect();
    for (i, name) in names.iter().enumerate() {
        entries.push((name, Write, Invoke, w("/k", i as i64)));
    }
    for (i, name) in names.iter().enumerate() {
        entries.push((name, Write, Ok, w("/k", i as i64)));
    }
    // After them all the register cannot hold 0 and then 1.
    entries.push(("reader", Read, Invoke, r("/k", None)));
    entries.push(("reader", Read, Ok, r("/k", Some(0))));
    entries.push(("reader", Read, Invoke, r("/k", None)));
    entries.push(("reader", Read, Ok, r("/k", Some(1))));
    history(&entries)
}

#[test]
fn a_spent_time_budget_is_unknown_with_how_far_it_got() {
    let limits = Limits {
        time: Duration::from_millis(200),
        memory: 1 << 30,
    };
    let result = check(&hard(), ReadModel::Linearizable, limits).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown, "{}", result.summary);
    assert!(result.summary.contains("time limit"), "{}", result.summary);
    assert_eq!(result.details["gave_up"]["key"], "/k");
}

#[test]
fn a_spent_memory_budget_is_unknown_never_an_oom() {
    let limits = Limits {
        time: Duration::from_secs(30),
        memory: 256 << 10,
    };
    let result = check(&hard(), ReadModel::Linearizable, limits).unwrap();
    assert_eq!(result.verdict, Verdict::Unknown, "{}", result.summary);
    assert!(
        result.summary.contains("memory limit"),
        "{}",
        result.summary
    );
}

#[test]
fn a_long_sequential_history_needs_no_deep_recursion() {
    // 200k operations one after another on one key: the search's stack is as deep as the
    // history.
    let (h, _) = generate::generate(&Spec {
        ops: 200_000,
        processes: 1,
        keys: 1,
        ..Spec::default()
    });
    let result = check(&h, ReadModel::Linearizable, Limits::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
}

#[test]
fn the_generator_is_deterministic_and_round_trips_through_jsonl() {
    let spec = Spec {
        ops: 300,
        processes: 4,
        keys: 2,
        info: 0.1,
        violation: true,
        stale: false,
        seed: 7,
        values: None,
    };
    let (a, ia) = generate::generate(&spec);
    let (b, ib) = generate::generate(&spec);
    assert_eq!(a.to_jsonl(), b.to_jsonl());
    assert_eq!(ia, ib);
    let mut text = Vec::new();
    let ic = generate::write_jsonl(&spec, &mut text).unwrap();
    assert_eq!(String::from_utf8(text).unwrap(), a.to_jsonl());
    assert_eq!(ia, ic);
    assert_eq!(a.ops.len(), 600);
    assert!(a.pairs().iter().all(|(_, done)| done.is_some()));
}

#[test]
fn a_file_is_checked_like_the_history() {
    let spec = Spec {
        ops: 2000,
        processes: 5,
        keys: 3,
        info: 0.05,
        violation: true,
        stale: false,
        seed: 3,
        values: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    let injected = generate::write_jsonl(&spec, &mut file).unwrap().unwrap();
    drop(file);
    let (result, _) = check_file(&path, ReadModel::Linearizable, Limits::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
    assert_eq!(result.details["counterexample"]["key"], injected.key);
}

fn stuck_indices(result: &CheckResult) -> Vec<u64> {
    result.details["counterexample"]["stuck"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["index"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn an_injected_stale_read_is_found_by_the_search() {
    for seed in 0..8 {
        let spec = Spec {
            ops: 3000,
            processes: 8,
            keys: 2,
            info: 0.05,
            violation: true,
            stale: true,
            seed,
            values: None,
        };
        let (h, injected) = generate::generate(&spec);
        let injected = injected.unwrap();
        let result = check(&h, ReadModel::Linearizable, Limits::default()).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(
            result.details["counterexample"]["key"],
            injected.key.as_str()
        );
        let stuck = stuck_indices(&result);
        assert!(
            stuck.contains(&injected.invoke_index),
            "injected #{} not among {stuck:?}: {}",
            injected.invoke_index,
            result.details["counterexample"]["text"]
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn a_simulated_register_is_linearizable_and_one_injected_violation_is_found(
        seed in 0u64..u64::MAX,
        ops in 20usize..600,
        processes in 1usize..12,
        keys in 1usize..4,
        info in proptest::sample::select(vec![0.0, 0.05, 0.3]),
        values in proptest::sample::select(vec![None, Some(3u32)]),
    ) {
        let spec = Spec { ops, processes, keys, info, violation: false, stale: false, seed, values };
        let (h, _) = generate::generate(&spec);
        for reads in [ReadModel::Linearizable, ReadModel::Sequential] {
            let result = check(&h, reads, Limits::default()).unwrap();
            proptest::prop_assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        }
        let (h, injected) = generate::generate(&Spec { violation: true, ..spec });
        if let Some(injected) = injected {
            for reads in [ReadModel::Linearizable, ReadModel::Sequential] {
                let result = check(&h, reads, Limits::default()).unwrap();
                proptest::prop_assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
                proptest::prop_assert_eq!(
                    result.details["counterexample"]["key"].as_str(),
                    Some(injected.key.as_str())
                );
                let stuck = stuck_indices(&result);
                proptest::prop_assert!(
                    stuck.contains(&injected.invoke_index),
                    "injected #{} not among {:?}: {}",
                    injected.invoke_index,
                    stuck,
                    result.details["counterexample"]["text"]
                );
            }
        }
    }
}

#[test]
fn a_plain_read_on_another_key_does_not_bound_a_plain_read() {
    // Seen on a real cluster (zk-cas-stale-read): client-1's session read /j's newest value
    // through a follower, then /k from before a later write to /k. ZooKeeper allows it: the
    // follower's state was a prefix of the log that held /j = 2 but not yet /k = 2.
    let entries = vec![
        ("client-0", Write, Invoke, w("/k", 4)),
        ("client-0", Write, Ok, w("/k", 4)),
        ("client-0", Write, Invoke, w("/j", 2)),
        ("client-0", Write, Ok, w("/j", 2)),
        ("client-2", Write, Invoke, w("/k", 2)),
        ("client-2", Write, Ok, w("/k", 2)),
        ("client-1", Read, Invoke, r("/j", None)),
        ("client-1", Read, Ok, r("/j", Some(2))),
        ("client-1", Read, Invoke, r("/k", None)),
        ("client-1", Read, Ok, r("/k", Some(4))),
    ];
    let result = run(&entries, ReadModel::Sequential);
    assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    let result = run(&entries, ReadModel::Linearizable);
    assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
}

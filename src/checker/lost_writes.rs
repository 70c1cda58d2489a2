//! The no-lost-writes check: every acknowledged write is in the final read with its value, and the
//! final read holds nothing no write put there.
//!
//! Each write creates its own key, so a key maps to one written value. Writes whose outcome is
//! unknown (`Info`, or never completed) may or may not be there; neither is an error. A write that
//! failed (`Fail`, certainly not applied) but shows up is an error, like Elle's aborted read.

use std::collections::HashMap;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::delivery::Found;
use super::timeline::{pairs_of, secs};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, OpKind};

const NAME: &str = "no-lost-writes";
pub(super) fn check(history: &History, _ctx: &CheckContext) -> anyhow::Result<CheckResult> {
    let unknown = |summary: String| Ok(CheckResult::new(NAME, Verdict::Unknown, summary));
    let final_read = match pairs_of(history, F::FinalRead).pop() {
        None => {
            return unknown(
                "the history has no final read, so lost writes cannot be judged".into(),
            );
        }
        Some((_, None)) => {
            return unknown(
                "the final read never completed, so lost writes cannot be judged".into(),
            );
        }
        Some((_, Some(done))) if done.kind != OpKind::Ok => {
            let error = done.error.as_deref().unwrap_or("no reason given");
            let how = if done.kind == OpKind::Fail {
                "failed"
            } else {
                "ended with an unknown outcome"
            };
            return unknown(format!(
                "the final read {how} ({error}), so lost writes cannot be judged"
            ));
        }
        Some((_, Some(done))) => done,
    };
    let keys = final_read.value["keys"]
        .as_object()
        .context("the final read succeeded but returned no `keys` map")?;

    let mut acknowledged = 0;
    let mut present = 0;
    let mut malformed = 0;
    let mut lost = Found::default();
    let mut failed_applied = Found::default();
    let (mut applied, mut not_applied) = (0, 0);
    let mut written: HashMap<&str, Vec<&Value>> = HashMap::new();

    for (invoke, done) in pairs_of(history, F::Write) {
        let Some(key) = invoke.value["key"].as_str() else {
            malformed += 1;
            continue;
        };
        let value = &invoke.value["value"];
        written.entry(key).or_default().push(value);
        let found = keys.get(key);
        let there = found == Some(value);
        match done.map(|op| op.kind) {
            Some(OpKind::Ok) => {
                acknowledged += 1;
                if there {
                    present += 1;
                } else {
                    let at = done.map(|op| secs(op.time));
                    lost.add_with_id(
                        key,
                        || json!({"key": key, "value": value, "acked_at": at, "found": found}),
                    );
                }
            }
            Some(OpKind::Fail) if there => {
                let at = done.map(|op| secs(op.time));
                failed_applied.add(|| json!({"key": key, "value": value, "failed_at": at}));
            }
            Some(OpKind::Fail) => {}
            Some(OpKind::Info | OpKind::Invoke) | None if there => applied += 1,
            Some(OpKind::Info | OpKind::Invoke) | None => not_applied += 1,
        }
    }

    let mut unexpected = Found::default();
    for (key, value) in keys {
        let expected = written
            .get(key.as_str())
            .is_some_and(|values| values.contains(&value));
        if !expected {
            let why = if written.contains_key(key.as_str()) {
                "a value no write wrote"
            } else {
                "a key no write created"
            };
            unexpected.add(|| json!({"key": key, "value": value, "why": why}));
        }
    }

    let details = json!({
        "acknowledged": acknowledged,
        "present": present,
        "final_keys": keys.len(),
        "lost": lost.json(),
        "unexpected": unexpected.json(),
        "failed_but_applied": failed_applied.json(),
        "indeterminate_applied": applied,
        "indeterminate_not_applied": not_applied,
        "malformed_writes": malformed,
    });

    let mut errors = Vec::new();
    if lost.count > 0 {
        errors.push(format!(
            "{} of {acknowledged} acknowledged writes lost (e.g. {})",
            lost.count,
            lost.first("key")
        ));
    }
    if unexpected.count > 0 {
        errors.push(format!(
            "{} unexpected {} in the final read (e.g. {})",
            unexpected.count,
            if unexpected.count == 1 { "key" } else { "keys" },
            unexpected.first("key")
        ));
    }
    if failed_applied.count > 0 {
        errors.push(format!(
            "{} failed {} applied anyway (e.g. {})",
            failed_applied.count,
            if failed_applied.count == 1 {
                "write"
            } else {
                "writes"
            },
            failed_applied.first("key")
        ));
    }
    if !errors.is_empty() {
        return Ok(
            CheckResult::new(NAME, Verdict::Invalid, errors.join("; ")).with_details(details)
        );
    }

    let indeterminate = applied + not_applied;
    let mut summary = if acknowledged == 0 {
        format!(
            "no write was acknowledged, so none could be lost ({} keys in the final read)",
            keys.len()
        )
    } else {
        format!("all {acknowledged} acknowledged writes are in the final read")
    };
    if indeterminate > 0 {
        summary.push_str(&format!(
            "; {indeterminate} indeterminate ({applied} applied, {not_applied} not)"
        ));
    }
    Ok(CheckResult::new(NAME, Verdict::Valid, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::timeline::script::{Script, key, nodes3};
    use super::*;
    use crate::scenario::CheckSpec;

    fn ctx() -> CheckContext {
        CheckContext {
            nodes: nodes3(),
            tick_time_ms: None,
            workload_end: 0,
            ..CheckContext::default()
        }
    }

    fn run(script: Script) -> CheckResult {
        check(&script.build(), &ctx()).unwrap()
    }

    /// Two acknowledged writes, one `Info` write, one that never completed, and one that failed.
    fn writes() -> Script {
        Script::new()
            .ok_write(1, 1, 100, 110)
            .ok_write(2, 1, 120, 130)
            .write(1, 2, 200, Some((OpKind::Info, 300)))
            .write(2, 2, 400, None)
            .write(3, 1, 500, Some((OpKind::Fail, 510)))
    }

    #[test]
    fn every_acknowledged_write_present_is_valid() {
        let (k11, k21, k12) = (key(1, 1), key(2, 1), key(1, 2));
        let result = run(writes().final_read(
            1_000,
            OpKind::Ok,
            &[(&k11, "c1-1"), (&k21, "c2-1"), (&k12, "c1-2")],
        ));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "all 2 acknowledged writes are in the final read; 2 indeterminate (1 applied, 1 not)"
        );
        assert_eq!(result.details["indeterminate_applied"], 1);
        assert_eq!(result.details["indeterminate_not_applied"], 1);
    }

    #[test]
    fn a_missing_acknowledged_write_is_lost() {
        let k21 = key(2, 1);
        let result = run(writes().final_read(1_000, OpKind::Ok, &[(&k21, "c2-1")]));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "1 of 2 acknowledged writes lost (e.g. /chaosbed/c1-000001)"
        );
        assert_eq!(
            result.details["lost"]["examples"],
            json!([{"key": "/chaosbed/c1-000001", "value": "c1-1", "acked_at": 0.11, "found": null}])
        );
    }

    #[test]
    fn an_acknowledged_write_with_another_value_is_lost() {
        let (k11, k21) = (key(1, 1), key(2, 1));
        let result =
            run(writes().final_read(1_000, OpKind::Ok, &[(&k11, "c1-1"), (&k21, "garbage")]));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(result.details["lost"]["examples"][0]["found"], "garbage");
        assert_eq!(
            result.details["unexpected"]["examples"][0]["why"],
            "a value no write wrote"
        );
    }

    #[test]
    fn a_key_no_write_created_is_unexpected() {
        let (k11, k21) = (key(1, 1), key(2, 1));
        let result = run(writes().final_read(
            1_000,
            OpKind::Ok,
            &[(&k11, "c1-1"), (&k21, "c2-1"), ("/chaosbed/ghost", "boo")],
        ));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "1 unexpected key in the final read (e.g. /chaosbed/ghost)"
        );
    }

    #[test]
    fn a_failed_write_that_was_applied_is_invalid() {
        let (k11, k21, k31) = (key(1, 1), key(2, 1), key(3, 1));
        let result = run(writes().final_read(
            1_000,
            OpKind::Ok,
            &[(&k11, "c1-1"), (&k21, "c2-1"), (&k31, "c3-1")],
        ));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "1 failed write applied anyway (e.g. /chaosbed/c3-000001)"
        );
    }

    #[rstest]
    #[case(
        Some(OpKind::Fail),
        "the final read failed (connection lost), so lost writes cannot be judged"
    )]
    #[case(
        Some(OpKind::Info),
        "the final read ended with an unknown outcome (connection lost), so lost writes cannot be judged"
    )]
    #[case(None, "the history has no final read, so lost writes cannot be judged")]
    fn without_a_successful_final_read_it_is_unknown(
        #[case] kind: Option<OpKind>,
        #[case] summary: &str,
    ) {
        let script = match kind {
            Some(kind) => writes().final_read(1_000, kind, &[]),
            None => writes(),
        };
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(result.summary, summary);
    }

    #[test]
    fn a_final_read_never_completed_is_unknown() {
        let history = writes()
            .op(1_000, "final", F::FinalRead, OpKind::Invoke, Value::Null)
            .build();
        let result = check(&history, &ctx()).unwrap();
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("never completed"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn checker_errors_become_unknown_through_the_dispatch() {
        // An Ok final read without a keys map: the checker errs, `checker::check` reports Unknown.
        let history = writes()
            .op(1_000, "final", F::FinalRead, OpKind::Invoke, Value::Null)
            .op(
                1_010,
                "final",
                F::FinalRead,
                OpKind::Ok,
                json!({"nodes": 3}),
            )
            .build();
        assert!(check(&history, &ctx()).is_err());
        let result = super::super::check(&CheckSpec::NoLostWrites, &history, &ctx());
        assert_eq!(result.name, NAME);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(
            result.summary,
            "checker could not decide: the final read succeeded but returned no `keys` map"
        );
    }
}

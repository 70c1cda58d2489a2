//! The recovery check: after the last fault is healed (or the last node started or restarted), a
//! write succeeds within `within`. A message send (Pulsar) is a write.

use std::time::Duration;

use serde_json::json;

use super::availability::{WRITES, pairs_among, write_noun};
use super::timeline::{human, nanos, secs, str_list, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "recovery";

/// The op the system counts as recovered from: the last heal, or without one the last applied
/// start or restart.
pub(super) fn recovery_point(history: &History) -> Option<&Op> {
    history
        .with_f(F::Heal)
        .filter(|op| op.kind != OpKind::Invoke)
        .last()
        .or_else(|| {
            history
                .with_f(F::Fault)
                .filter(|op| {
                    op.kind == OpKind::Ok
                        && op.value["fault"]
                            .as_str()
                            .is_some_and(|fault| super::timeline::ONE_SHOT_FAULTS.contains(&fault))
                })
                .last()
        })
}

/// The point for a person: `heal (pause of zk-1)`, `start of zk-3`.
pub(super) fn describe(op: &Op) -> String {
    let fault = op.value["fault"].as_str().unwrap_or("fault");
    let targets = str_list(&op.value["targets"])
        .filter(|targets| !targets.is_empty())
        .map(|targets| targets.join(", "))
        .unwrap_or_else(|| "?".to_string());
    match (op.f, op.kind) {
        (F::Heal, OpKind::Ok) => format!("heal ({fault} of {targets})"),
        (F::Heal, _) => format!("failed heal ({fault} of {targets})"),
        _ => format!("{fault} of {targets}"),
    }
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    within: Duration,
) -> anyhow::Result<CheckResult> {
    let within_ns = nanos(within);
    let Some(point) = recovery_point(history) else {
        let applied = history
            .with_f(F::Fault)
            .filter(|op| op.kind == OpKind::Ok)
            .last();
        return Ok(match applied {
            None => CheckResult::new(
                NAME,
                Verdict::Valid,
                "no fault was applied, so there was nothing to recover from",
            )
            .with_details(json!({"faults": 0})),
            Some(last) => CheckResult::new(
                NAME,
                Verdict::Unknown,
                format!(
                    "faults were applied but never healed (the last: {} at {}), so recovery cannot be measured",
                    describe(last),
                    human(last.time)
                ),
            ),
        });
    };

    let noun = write_noun(history);
    let after: Vec<(&Op, Option<&Op>)> = pairs_among(history, &WRITES)
        .into_iter()
        .filter(|(invoke, _)| invoke.time >= point.time)
        .collect();
    let first_ok = after
        .iter()
        .filter_map(|(_, done)| done.filter(|op| op.kind == OpKind::Ok))
        .min_by_key(|op| op.time);
    let what = describe(point);
    let mut details = json!({
        "point": {
            "at": secs(point.time),
            "op": point.f,
            "kind": point.kind,
            "fault": point.value["fault"],
            "targets": point.value["targets"],
        },
        "within": secs(within_ns),
        "writes_after": after.len(),
        "recovered_at": first_ok.map(|op| secs(op.time)),
        "recovery": first_ok.map(|op| secs(op.time.saturating_sub(point.time))),
    });

    let Some(first_ok) = first_ok else {
        if after.is_empty() {
            return Ok(CheckResult::new(
                NAME,
                Verdict::Unknown,
                format!(
                    "no {noun} was attempted after the {what} at {} (the workload ended at {})",
                    human(point.time),
                    human(workload_end(history, ctx.workload_end))
                ),
            )
            .with_details(details));
        }
        return Ok(CheckResult::new(
            NAME,
            Verdict::Invalid,
            format!(
                "no {noun} succeeded after the {what} at {} ({} attempted)",
                human(point.time),
                after.len()
            ),
        )
        .with_details(details));
    };

    let recovery = first_ok.time.saturating_sub(point.time);
    details["failed_before_recovery"] = json!(
        after
            .iter()
            .filter(|(invoke, done)| invoke.time < first_ok.time
                && done.is_none_or(|op| op.kind != OpKind::Ok))
            .count()
    );
    let (verdict, limit) = if recovery > within_ns {
        (
            Verdict::Invalid,
            format!("over the {} allowed", human(within_ns)),
        )
    } else {
        (Verdict::Valid, format!("within {}", human(within_ns)))
    };
    let summary = format!(
        "a {noun} succeeded {} after the {what} at {}, {limit}",
        human(recovery),
        human(point.time)
    );
    Ok(CheckResult::new(NAME, verdict, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use super::super::delivery::script::Pulsar;
    use super::super::timeline::script::{MS, Script};
    use super::*;

    const WITHIN: Duration = Duration::from_secs(5);

    fn ctx() -> CheckContext {
        CheckContext {
            workload_end: 30_000 * MS,
            ..CheckContext::default()
        }
    }

    fn run(script: Script) -> CheckResult {
        check(&script.build(), &ctx(), WITHIN).unwrap()
    }

    /// A kill of zk-1 from 5 s healed at 10 s; writes fail until `recovered` ms.
    fn kill_and_heal(recovered: u64) -> Script {
        Script::new()
            .ok_write(1, 0, 1_000, 1_010)
            .fault(5_000, "kill", &["zk-1"], &["zk-1"])
            .write(1, 1, 9_000, Some((OpKind::Info, 9_900)))
            .write(1, 2, 10_000, Some((OpKind::Fail, 10_100)))
            .ok_write(2, 1, 10_500, recovered)
            .heal(10_000, "kill", &["zk-1"], &[])
    }

    #[test]
    fn no_fault_is_valid_with_a_note() {
        let result = run(Script::new().ok_write(1, 0, 0, 10));
        assert_eq!(result.verdict, Verdict::Valid);
        assert_eq!(
            result.summary,
            "no fault was applied, so there was nothing to recover from"
        );
    }

    #[test]
    fn a_write_soon_after_the_heal_is_valid() {
        let result = run(kill_and_heal(12_345));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "a write succeeded 2.3 s after the heal (kill of zk-1) at 10 s, within 5 s"
        );
        assert_eq!(result.details["recovery"], 2.345);
        assert_eq!(result.details["failed_before_recovery"], 1);
    }

    #[test]
    fn a_slow_recovery_is_invalid() {
        let result = run(kill_and_heal(16_000));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.summary.ends_with("over the 5 s allowed"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn the_earliest_completion_counts() {
        // Invoked later but completed first.
        let result = run(kill_and_heal(16_000).ok_write(3, 1, 11_000, 11_500));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["recovery"], 1.5);
    }

    #[test]
    fn no_successful_write_after_the_heal_is_invalid() {
        let result = run(Script::new()
            .fault(5_000, "pause", &["zk-1", "zk-2"], &[])
            .heal(10_000, "pause", &["zk-1", "zk-2"], &[])
            .write(1, 1, 10_500, Some((OpKind::Fail, 10_600)))
            .write(1, 2, 11_000, None));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "no write succeeded after the heal (pause of zk-1, zk-2) at 10 s (2 attempted)"
        );
    }

    #[test]
    fn no_write_after_the_heal_is_unknown() {
        let result = run(Script::new()
            .ok_write(1, 0, 1_000, 1_010)
            .fault(5_000, "kill", &["zk-1"], &["zk-1"])
            .heal(10_000, "kill", &["zk-1"], &[]));
        assert_eq!(result.verdict, Verdict::Unknown, "{}", result.summary);
    }

    #[test]
    fn without_a_heal_the_last_start_is_the_point() {
        let result = run(Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &["zk-2", "zk-3"])
            .write(1, 0, 1_000, Some((OpKind::Info, 3_000)))
            .fault(4_000, "start", &["zk-2", "zk-3"], &[])
            .ok_write(1, 1, 4_100, 8_000));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "a write succeeded 4 s after the start of zk-2, zk-3 at 4 s, within 5 s"
        );
    }

    #[test]
    fn a_fault_never_healed_is_unknown() {
        let result = run(Script::new()
            .fault(5_000, "kill", &["zk-1"], &["zk-1"])
            .ok_write(1, 1, 6_000, 6_100));
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("never healed"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn a_send_is_a_write() {
        let result = run(Script::new()
            .ok_send(0, 0, 1_000, 1_010)
            .fault(5_000, "kill", &["broker-1"], &["broker-1"])
            .heal(10_000, "kill", &["broker-1"], &[])
            .send(0, 1, 10_100, Some((OpKind::Fail, 10_200)))
            .ok_send(0, 2, 11_000, 11_500));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "a send succeeded 1.5 s after the heal (kill of broker-1) at 10 s, within 5 s"
        );
        assert_eq!(result.details["failed_before_recovery"], 1);
    }
}

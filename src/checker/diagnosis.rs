//! The diagnosis check: a node failure was diagnosed with the expected cause (on the expected
//! node, when one is named), e.g. a broker `oom-killed` in a container too small for its heap.

use serde_json::{Value, json};

use super::timeline::secs;
use super::{CheckContext, CheckResult, Verdict};
use crate::diagnose::Cause;
use crate::history::{F, History, OpKind};

const NAME: &str = "diagnosis";

pub(super) fn check(
    history: &History,
    _ctx: &CheckContext,
    expect: &str,
    node: Option<&str>,
) -> anyhow::Result<CheckResult> {
    let made: Vec<Value> = history
        .with_f(F::Diagnosis)
        .filter(|op| op.kind == OpKind::Ok)
        .map(|op| {
            json!({
                "at": secs(op.time),
                "node": op.value["node"],
                "cause": op.value["cause"],
                "explanation": op.value["explanation"],
                "evidence": op.value["evidence"],
            })
        })
        .collect();
    let wanted = |d: &Value| {
        d["cause"].as_str() == Some(expect) && node.is_none_or(|n| d["node"].as_str() == Some(n))
    };
    let matched = made.iter().position(wanted);
    let known = Cause::from_name(expect).is_some();
    let details = json!({
        "expect": expect,
        "node": node,
        "known_cause": known,
        "diagnoses": made,
        "matched": matched,
    });
    let target = node.map(|n| format!(" on {n}")).unwrap_or_default();

    if let Some(at) = matched {
        let found = &made[at];
        let summary = format!(
            "diagnosed {expect} on {}: {}",
            found["node"].as_str().unwrap_or("?"),
            found["explanation"].as_str().unwrap_or("(no explanation)")
        );
        return Ok(CheckResult::new(NAME, Verdict::Valid, summary).with_details(details));
    }

    let unknown_cause = if known {
        String::new()
    } else {
        format!(
            " ({expect} is not a cause the diagnosis knows: {})",
            Cause::ALL.map(Cause::name).join(", ")
        )
    };
    let what_was = if made.is_empty() {
        "no node failure was diagnosed".to_string()
    } else {
        let each: Vec<String> = made
            .iter()
            .map(|d| {
                format!(
                    "{} {}",
                    d["node"].as_str().unwrap_or("?"),
                    d["cause"].as_str().unwrap_or("?")
                )
            })
            .collect();
        format!("diagnosed instead: {}", each.join(", "))
    };
    let summary = format!("expected {expect}{target}{unknown_cause}, but {what_was}");
    Ok(CheckResult::new(NAME, Verdict::Invalid, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::delivery::script::Pulsar;
    use super::super::timeline::script::Script;
    use super::*;

    const OOM: &str = "broker-1 was OOM-killed: its heap and direct memory (-Xmx2g + \
                       MaxDirectMemorySize=4g = 6 GiB) cannot fit in the 1 GiB container limit; \
                       size PULSAR_MEM for the limit";

    fn diagnosed() -> History {
        Script::new()
            .diagnosis(3_000, "bookie-2", "exited", "bookie-2 exited with code 1")
            .diagnosis(4_000, "broker-1", "oom-killed", OOM)
            .build()
    }

    fn run(history: &History, expect: &str, node: Option<&str>) -> CheckResult {
        check(history, &CheckContext::default(), expect, node).unwrap()
    }

    #[rstest]
    #[case(None)]
    #[case(Some("broker-1"))]
    fn the_expected_cause_is_valid_and_quoted(#[case] node: Option<&str>) {
        let result = run(&diagnosed(), "oom-killed", node);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            format!("diagnosed oom-killed on broker-1: {OOM}")
        );
        assert_eq!(result.details["matched"], 1);
    }

    #[test]
    fn the_cause_on_another_node_is_invalid() {
        let result = run(&diagnosed(), "oom-killed", Some("broker-2"));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "expected oom-killed on broker-2, but diagnosed instead: bookie-2 exited, broker-1 \
             oom-killed"
        );
    }

    #[test]
    fn no_diagnosis_is_invalid() {
        let result = run(&Script::new().build(), "session-expired", None);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "expected session-expired, but no node failure was diagnosed"
        );
    }

    #[test]
    fn an_unknown_cause_is_pointed_out() {
        let result = run(&diagnosed(), "oom", None);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.summary.starts_with(
                "expected oom (oom is not a cause the diagnosis knows: oom-killed, \
                 heap-exceeds-limit, "
            ),
            "{}",
            result.summary
        );
    }
}

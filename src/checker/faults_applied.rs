//! Whether every scheduled fault was applied and took effect. A fault that could not be applied
//! (its target matched nothing, the engine refused) or whose evidence does not show its effect
//! leaves the run unproven: the verdict is Unknown, with the reason, never a silent pass.

use serde_json::json;

use super::{CheckResult, Verdict};
use crate::history::{F, History, OpKind};

pub const NAME: &str = "faults-applied";

pub fn check(history: &History) -> CheckResult {
    let mut applied = 0;
    let mut problems = Vec::new();
    for op in history
        .ops
        .iter()
        .filter(|op| matches!(op.f, F::Fault | F::Heal) && op.kind != OpKind::Invoke)
    {
        let what = format!(
            "{} {} of {} at {:.1} s",
            if op.f == F::Fault { "apply" } else { "heal" },
            op.value["fault"].as_str().unwrap_or("?"),
            op.value["targets"],
            op.time_secs()
        );
        if op.kind != OpKind::Ok {
            problems.push(format!(
                "{what} failed: {}",
                op.error.as_deref().unwrap_or("no reason given")
            ));
        } else if op.value["evidence"]["took_effect"] == json!(false) {
            let evidence = &op.value["evidence"];
            let why = match evidence["reason"].as_str() {
                Some(reason) => reason.to_string(),
                None => evidence["states"].to_string(),
            };
            problems.push(format!("{what} shows no effect: {why}"));
        } else if op.f == F::Fault {
            applied += 1;
        }
    }
    if problems.is_empty() {
        CheckResult::new(
            NAME,
            Verdict::Valid,
            format!("{applied} faults applied, each with evidence that it took effect"),
        )
    } else {
        CheckResult::new(
            NAME,
            Verdict::Unknown,
            format!("{}; the run proves nothing about that fault", problems[0]),
        )
        .with_details(json!({ "applied": applied, "problems": problems }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Recorder;

    #[test]
    fn an_effect_without_evidence_says_why() {
        let r = Recorder::new();
        r.record(
            "nemesis",
            F::Heal,
            OpKind::Ok,
            json!({"fault": "partition", "targets": ["zk-1"], "evidence": {"took_effect": false,
                   "reason": "no packet was dropped while the rules were in place"}}),
            None,
        );
        let result = check(&r.snapshot());
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("no packet was dropped"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn a_fault_that_matched_nothing_makes_the_run_unknown() {
        let r = Recorder::new();
        r.record(
            "nemesis",
            F::Fault,
            OpKind::Fail,
            json!({"fault": "kill", "targets": []}),
            Some("target ensemble matched no node".into()),
        );
        let result = check(&r.snapshot());
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("matched no node"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn faults_with_evidence_are_valid() {
        let r = Recorder::new();
        let evidence = json!({"took_effect": true});
        r.record(
            "nemesis",
            F::Fault,
            OpKind::Ok,
            json!({"fault": "kill", "targets": ["zk-1"], "evidence": evidence}),
            None,
        );
        r.record(
            "nemesis",
            F::Heal,
            OpKind::Ok,
            json!({"fault": "kill", "targets": ["zk-1"], "evidence": evidence}),
            None,
        );
        assert_eq!(check(&r.snapshot()).verdict, Verdict::Valid);
    }

    #[test]
    fn a_fault_without_effect_is_unknown() {
        let r = Recorder::new();
        r.record("nemesis", F::Fault, OpKind::Ok, json!({"fault": "pause", "targets": ["zk-1"], "evidence": {"took_effect": false, "states": {}}}), None);
        assert_eq!(check(&r.snapshot()).verdict, Verdict::Unknown);
    }
}

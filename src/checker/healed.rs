//! The healed check: once every fault was healed, each system passed the runner's readiness
//! probe again (the probes that gate the run's start: a ZooKeeper quorum, registered bookies, a
//! Pinpoint collector registered in ZooKeeper, ...). With `expect_unhealed`, that system must
//! have failed its probe: the scenario reproduces a system that does not come back by itself.

use serde_json::{Value, json};

use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, OpKind};
use crate::scenario::SystemKind;

const NAME: &str = "healed";

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    expect_unhealed: Option<SystemKind>,
) -> anyhow::Result<CheckResult> {
    let mut probes: Vec<(&str, bool, Option<&str>)> = history
        .with_f(F::Healed)
        .filter_map(|op| {
            let system = op.value["system"].as_str()?;
            Some((system, op.kind == OpKind::Ok, op.error.as_deref()))
        })
        .collect();
    // A system the run declares but never probed after the heal was not seen ready: once the
    // runner probed anything, it probed every system, so a missing one is no pass.
    if !probes.is_empty() {
        for system in &ctx.systems {
            if !probes.iter().any(|(probed, _, _)| probed == system) {
                probes.push((system, false, Some("never probed after the heal")));
            }
        }
    }
    let details = json!({
        "systems": probes.iter().map(|(system, ok, error)| {
            json!({"system": system, "ready": ok, "error": error})
        }).collect::<Vec<Value>>(),
        "expect_unhealed": expect_unhealed.map(|system| system.name()),
    });
    if probes.is_empty() {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no readiness probe after the heal was recorded: the run ended before it",
        )
        .with_details(details));
    }
    let unhealed: Vec<String> = probes
        .iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(system, _, error)| format!("{system} ({})", error.unwrap_or("no reason given")))
        .collect();
    let (verdict, summary) = match expect_unhealed {
        None if unhealed.is_empty() => (
            Verdict::Valid,
            format!("all {} systems ready again after the heal", probes.len()),
        ),
        None => (
            Verdict::Invalid,
            format!("not ready again after the heal: {}", unhealed.join("; ")),
        ),
        Some(expected) => {
            let failed = probes
                .iter()
                .any(|(system, ok, _)| *system == expected.name() && !ok);
            if failed {
                (
                    Verdict::Valid,
                    format!(
                        "{expected} did not come back by itself, as expected: {}",
                        unhealed.join("; ")
                    ),
                )
            } else {
                (
                    Verdict::Invalid,
                    format!(
                        "{expected} was expected not to come back after the heal, but it did{}",
                        if unhealed.is_empty() {
                            String::new()
                        } else {
                            format!(" (not ready: {})", unhealed.join("; "))
                        }
                    ),
                )
            }
        }
    };
    Ok(CheckResult::new(NAME, verdict, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Recorder;

    fn probe(recorder: &Recorder, system: &str, error: Option<&str>) {
        let kind = if error.is_some() {
            OpKind::Fail
        } else {
            OpKind::Ok
        };
        let value = json!({ "system": system });
        recorder.record("runner", F::Healed, kind, value, error.map(str::to_string));
    }

    #[test]
    fn every_system_must_be_ready_again() {
        let recorder = Recorder::new();
        assert_eq!(
            check(&recorder.snapshot(), &CheckContext::default(), None)
                .unwrap()
                .verdict,
            Verdict::Unknown
        );
        probe(&recorder, "zookeeper", None);
        probe(&recorder, "pinpoint-collector", None);
        let result = check(&recorder.snapshot(), &CheckContext::default(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        probe(
            &recorder,
            "pinpoint-web",
            Some("web-2: not registered under /pinpoint-cluster/web"),
        );
        let result = check(&recorder.snapshot(), &CheckContext::default(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result
                .summary
                .contains("pinpoint-web (web-2: not registered"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn an_expected_unhealed_system_must_fail_its_probe() {
        let recorder = Recorder::new();
        probe(&recorder, "zookeeper", None);
        probe(&recorder, "pinpoint-collector", None);
        let expect = Some(crate::system::pinpoint::collector::KIND);
        let result = check(&recorder.snapshot(), &CheckContext::default(), expect).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert!(result.summary.contains("but it did"), "{}", result.summary);
        probe(
            &recorder,
            "pinpoint-collector",
            Some("collector-3: not registered"),
        );
        let result = check(&recorder.snapshot(), &CheckContext::default(), expect).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
    }
}

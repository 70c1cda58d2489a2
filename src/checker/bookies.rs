//! The bookies-registered check (BookKeeper): the monitor's last sample of registered bookies
//! holds as many as expected (default: every bookie of the run). Reports when the count changed.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::timeline::{human, secs, str_list};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, OpKind};

const NAME: &str = "bookies-registered";
/// Changes listed in details, at most.
const CHANGES: usize = 50;

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    expected: Option<u32>,
) -> anyhow::Result<CheckResult> {
    let (mut samples, mut malformed) = (0, 0);
    let mut current: Option<BTreeSet<String>> = None;
    let mut changes: Vec<Value> = Vec::new();
    let mut change_count = 0;
    // When each bookie last left the registered set (`None` while registered).
    let mut left_at: std::collections::BTreeMap<String, Option<u64>> = Default::default();
    let mut fewest: Option<(usize, u64)> = None;
    let mut last_time = 0;
    for op in history
        .with_f(F::Bookies)
        .filter(|op| op.kind == OpKind::Ok)
    {
        let Some(registered) = str_list(&op.value["registered"]) else {
            malformed += 1;
            continue;
        };
        samples += 1;
        last_time = op.time;
        let registered: BTreeSet<String> = registered.into_iter().collect();
        if fewest.is_none_or(|(count, _)| registered.len() < count) {
            fewest = Some((registered.len(), op.time));
        }
        if current.as_ref() != Some(&registered) {
            let before = current.clone().unwrap_or_default();
            let joined: Vec<&String> = registered.difference(&before).collect();
            let left: Vec<&String> = before.difference(&registered).collect();
            for bookie in &joined {
                left_at.insert((*bookie).clone(), None);
            }
            for bookie in &left {
                left_at.insert((*bookie).clone(), Some(op.time));
            }
            if current.is_some() {
                change_count += 1;
            }
            if changes.len() < CHANGES {
                changes.push(json!({"at": secs(op.time), "count": registered.len(),
                                    "registered": registered, "joined": joined, "left": left}));
            }
            current = Some(registered);
        }
    }

    let expected_count = expected.map_or(ctx.bookies.len(), |n| n as usize);
    let registered = current.unwrap_or_default();
    let missing: Vec<(String, Option<u64>)> = ctx
        .bookies
        .iter()
        .filter(|bookie| !registered.contains(*bookie))
        .map(|bookie| (bookie.clone(), left_at.get(bookie).copied().flatten()))
        .collect();
    let details = json!({
        "samples": samples,
        "malformed_samples": malformed,
        "expected": expected_count,
        "last": (samples > 0).then(|| json!({"at": secs(last_time), "count": registered.len(),
                                            "registered": registered})),
        "changes": changes,
        "change_count": change_count,
        "fewest": fewest.map(|(count, at)| json!({"count": count, "at": secs(at)})),
        "missing": missing.iter().map(|(bookie, since)| json!({
            "bookie": bookie,
            "left_at": since.map(secs),
        })).collect::<Vec<_>>(),
    });

    if samples == 0 {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no bookie samples from the monitor, so registration cannot be judged",
        )
        .with_details(details));
    }
    if expected_count == 0 {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            format!(
                "the run names no bookies and the check sets no `expected`, so {} registered \
                 cannot be judged",
                registered.len()
            ),
        )
        .with_details(details));
    }

    let names = if registered.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            registered.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    let history_note = match fewest {
        Some((count, at)) if count < registered.len() => {
            format!("; as few as {count} at {}", human(at))
        }
        _ => String::new(),
    };
    if registered.len() < expected_count {
        let missing_text = if missing.is_empty() {
            String::new()
        } else {
            let each: Vec<String> = missing
                .iter()
                .map(|(bookie, since)| match since {
                    Some(at) => format!("{bookie} gone since {}", human(*at)),
                    None => format!("{bookie} never registered"),
                })
                .collect();
            format!("; {}", each.join(", "))
        };
        let summary = format!(
            "{} of {expected_count} bookies registered at the end{names}{missing_text}",
            registered.len()
        );
        return Ok(CheckResult::new(NAME, Verdict::Invalid, summary).with_details(details));
    }
    let summary = if registered.len() == expected_count {
        format!(
            "{} of {expected_count} bookies registered at the end{names}{history_note}",
            registered.len()
        )
    } else {
        format!(
            "{} bookies registered at the end, {expected_count} expected{names}{history_note}",
            registered.len()
        )
    };
    Ok(CheckResult::new(NAME, Verdict::Valid, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::delivery::script::Pulsar;
    use super::super::timeline::script::Script;
    use super::*;

    const ALL: [&str; 3] = ["bookie-1", "bookie-2", "bookie-3"];

    fn ctx() -> CheckContext {
        CheckContext {
            bookies: ALL.map(String::from).to_vec(),
            ..CheckContext::default()
        }
    }

    /// All three registered, bookie-2 gone from 5 s, back at 12 s unless `stays_gone`.
    fn bounce(stays_gone: bool) -> Script {
        let script = Script::new()
            .bookies(0, &ALL)
            .bookies(5_000, &["bookie-1", "bookie-3"])
            .bookies(8_000, &["bookie-3", "bookie-1"]);
        if stays_gone {
            script
        } else {
            script.bookies(12_000, &["bookie-2", "bookie-1", "bookie-3"])
        }
    }

    #[test]
    fn every_bookie_back_at_the_end_is_valid() {
        let result = check(&bounce(false).build(), &ctx(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "3 of 3 bookies registered at the end (bookie-1, bookie-2, bookie-3); as few as 2 at 5 s"
        );
        assert_eq!(result.details["change_count"], 2);
        assert_eq!(
            result.details["changes"][1],
            json!({"at": 5.0, "count": 2, "registered": ["bookie-1", "bookie-3"],
                   "joined": [], "left": ["bookie-2"]})
        );
    }

    #[test]
    fn a_bookie_missing_at_the_end_is_invalid() {
        let result = check(&bounce(true).build(), &ctx(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "2 of 3 bookies registered at the end (bookie-1, bookie-3); bookie-2 gone since 5 s"
        );
        assert_eq!(
            result.details["missing"],
            json!([{"bookie": "bookie-2", "left_at": 5.0}])
        );
    }

    #[rstest]
    #[case(Some(2), Verdict::Valid)]
    #[case(Some(3), Verdict::Invalid)]
    fn an_explicit_expectation_overrides_the_bookie_count(
        #[case] expected: Option<u32>,
        #[case] verdict: Verdict,
    ) {
        let result = check(&bounce(true).build(), &ctx(), expected).unwrap();
        assert_eq!(result.verdict, verdict, "{}", result.summary);
    }

    #[test]
    fn more_than_expected_is_valid_and_a_bookie_never_seen_is_named() {
        let result = check(&bounce(false).build(), &ctx(), Some(1)).unwrap();
        assert_eq!(
            result.summary,
            "3 bookies registered at the end, 1 expected (bookie-1, bookie-2, bookie-3); as few \
             as 2 at 5 s"
        );
        let script = Script::new().bookies(0, &["bookie-1"]);
        let result = check(&script.build(), &ctx(), None).unwrap();
        assert_eq!(
            result.summary,
            "1 of 3 bookies registered at the end (bookie-1); bookie-2 never registered, \
             bookie-3 never registered"
        );
    }

    #[test]
    fn no_samples_or_no_expectation_is_unknown() {
        let result = check(&Script::new().build(), &ctx(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Unknown);
        let result = check(&bounce(false).build(), &CheckContext::default(), None).unwrap();
        assert_eq!(result.verdict, Verdict::Unknown);
    }
}

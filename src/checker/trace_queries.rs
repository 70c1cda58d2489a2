//! The trace-queries check (SkyWalking, Pinpoint): the availability of the trace query API, from
//! the reader's polls. Queries in all, succeeded and failed (a query fails when it ends `Fail`,
//! `Info`, or never completes), failures per window (the send-latency check's windows), the
//! longest stretch without a successful query, and the first error. With `expect_outage`, some
//! query must fail while a fault is active; with `recover_within`, a query must succeed within
//! that time after the last heal.
//!
//! A fault is active from its apply to its heal. A fault that needs no heal (`start`, `restart`)
//! is active from its apply until the next successful query: the node is coming back meanwhile.
//! A query counts as failing during a fault when the time from its invoke to its completion (or
//! the end of the workload) meets a fault's active time.

use std::time::Duration;

use serde_json::{Value, json};

use super::availability;
use super::latency::{Span, spans};
use super::timeline::{fault_windows, human, nanos, pairs_of, secs, window_json, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "trace-queries";
const EXAMPLES: usize = 10;

/// The longest error text quoted in the summary, in characters.
const ERROR_CHARS: usize = 120;

/// Windows named in the summary's account of where queries failed.
const SUMMARY_WINDOWS: usize = 3;

/// One window of the run and the queries invoked in it (`span.attempted`).
struct Window {
    span: Span,
    ok: usize,
    failed: usize,
}

impl Window {
    fn json(&self, until: u64) -> Value {
        let span = &self.span;
        let end = span.end.unwrap_or(until.max(span.start));
        let mut value = window_json(span.start, end);
        value["window"] = json!(span.label);
        value["fault"] = json!(span.fault);
        value["queries"] = json!(span.attempted);
        value["ok"] = json!(self.ok);
        value["failed"] = json!(self.failed);
        value
    }

    /// `10 during kill oap-2 (at 20 s)`, `2 after heal`.
    fn failed_text(&self) -> String {
        let during = if self.span.fault { "during " } else { "" };
        format!("{} {during}{}", self.failed, self.span.label)
    }
}

/// A stretch in which a fault was active: `[start, end]` in ns.
struct Active {
    label: String,
    start: u64,
    end: u64,
}

/// Every stretch a fault was active, in the order applied.
fn active_faults(history: &History, ok_times: &[u64], until: u64) -> Vec<Active> {
    let mut active: Vec<Active> = fault_windows(history)
        .into_iter()
        .map(|w| Active {
            label: format!("{} {}", w.fault, w.targets.join(", ")),
            start: w.start,
            end: w.end.unwrap_or(until),
        })
        .collect();
    for op in history.with_f(F::Fault).filter(|op| op.kind == OpKind::Ok) {
        let fault = op.value["fault"].as_str().unwrap_or("fault");
        if super::timeline::ONE_SHOT_FAULTS.contains(&fault) {
            let back = ok_times.iter().copied().find(|t| *t > op.time);
            active.push(Active {
                label: super::recovery::describe(op),
                start: op.time,
                end: back.unwrap_or(until).max(op.time),
            });
        }
    }
    active.sort_by_key(|a| a.start);
    active
}

/// At most `ERROR_CHARS` characters of an error, on one line.
fn shorten(error: &str) -> String {
    let line = error.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(ERROR_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// What the recovery after the last heal showed: a sentence to report, or the verdict it forces.
enum Recovery {
    /// Nothing to measure and nothing wrong (no fault, or no limit and nothing to say).
    None,
    Measured(String),
    Invalid(String),
    Unknown(String),
}

fn recovery(
    history: &History,
    pairs: &[(&Op, Option<&Op>)],
    recover_within: Option<Duration>,
    until: u64,
    details: &mut Value,
) -> Recovery {
    let within = recover_within.map(nanos);
    let Some(point) = super::recovery::recovery_point(history) else {
        let applied = history
            .with_f(F::Fault)
            .filter(|op| op.kind == OpKind::Ok)
            .last();
        return match (applied, within) {
            (Some(last), Some(_)) => Recovery::Unknown(format!(
                "faults were applied but never healed (the last: {} at {}), so recovery cannot \
                 be measured",
                super::recovery::describe(last),
                human(last.time)
            )),
            _ => Recovery::None,
        };
    };
    let after: Vec<&(&Op, Option<&Op>)> = pairs
        .iter()
        .filter(|(invoke, _)| invoke.time >= point.time)
        .collect();
    let first_ok = after
        .iter()
        .filter_map(|(_, done)| done.filter(|op| op.kind == OpKind::Ok))
        .min_by_key(|op| op.time);
    let what = super::recovery::describe(point);
    let took = first_ok.map(|op| op.time.saturating_sub(point.time));
    details["recovery"] = json!({
        "point": {"at": secs(point.time), "op": point.f, "kind": point.kind,
                  "fault": point.value["fault"], "targets": point.value["targets"]},
        "within": within.map(secs),
        "queries_after": after.len(),
        "recovered_at": first_ok.map(|op| secs(op.time)),
        "recovery": took.map(secs),
    });
    let Some(took) = took else {
        let text = if after.is_empty() {
            format!(
                "no query was made after the {what} at {} (the workload ended at {})",
                human(point.time),
                human(until)
            )
        } else {
            format!(
                "no query succeeded after the {what} at {} ({} attempted)",
                human(point.time),
                after.len()
            )
        };
        return match within {
            None => Recovery::Measured(text),
            Some(_) if after.is_empty() => Recovery::Unknown(text),
            Some(_) => Recovery::Invalid(text),
        };
    };
    let measured = format!(
        "a query succeeded {} after the {what} at {}",
        human(took),
        human(point.time)
    );
    match within {
        None => Recovery::Measured(measured),
        Some(max) if took > max => {
            Recovery::Invalid(format!("{measured}, over the {} allowed", human(max)))
        }
        Some(max) => Recovery::Measured(format!("{measured}, within {}", human(max))),
    }
}

pub fn check(
    history: &History,
    ctx: &CheckContext,
    expect_outage: bool,
    recover_within: Option<Duration>,
) -> anyhow::Result<CheckResult> {
    let until = workload_end(history, ctx.workload_end);
    let pairs = pairs_of(history, F::TraceQuery);
    let (outages, counts) = availability::windows(history, &[F::TraceQuery], until);
    if pairs.is_empty() {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no trace query was made, so the query API's availability cannot be measured",
        )
        .with_details(json!({"queries": counts})));
    }

    let succeeded = |done: Option<&Op>| done.is_some_and(|op| op.kind == OpKind::Ok);
    let mut ok_times: Vec<u64> = pairs
        .iter()
        .filter_map(|(_, done)| done.filter(|op| op.kind == OpKind::Ok).map(|op| op.time))
        .collect();
    ok_times.sort_unstable();
    let active = active_faults(history, &ok_times, until);

    let mut windows: Vec<Window> = spans(history)
        .into_iter()
        .map(|span| Window {
            span,
            ok: 0,
            failed: 0,
        })
        .collect();
    let mut failed_during_faults = 0;
    let mut first_during_fault: Option<(&Op, &str)> = None;
    for (invoke, done) in &pairs {
        let ok = succeeded(*done);
        for window in windows.iter_mut().filter(|w| w.span.contains(invoke.time)) {
            window.span.attempted += 1;
            window.ok += usize::from(ok);
            window.failed += usize::from(!ok);
        }
        if ok {
            continue;
        }
        let end = done.map_or(until, |op| op.time).max(invoke.time);
        if let Some(fault) = active
            .iter()
            .find(|a| invoke.time < a.end && end >= a.start)
        {
            failed_during_faults += 1;
            first_during_fault.get_or_insert((invoke, fault.label.as_str()));
        }
    }

    let first_error = history
        .with_f(F::TraceQuery)
        .find(|op| matches!(op.kind, OpKind::Fail | OpKind::Info));
    let total: u64 = outages.iter().map(availability::Window::duration).sum();
    let longest = outages.iter().max_by_key(|w| w.duration()).copied();
    let outage_json = |w: &availability::Window| {
        let mut value = window_json(w.start, w.end);
        value["failed_queries"] = json!(w.failed);
        value["open_at_end"] = json!(w.open_at_end);
        value
    };
    let mut details = json!({
        "queries": counts,
        "failed_during_faults": failed_during_faults,
        "windows": windows.iter().map(|w| w.json(until)).collect::<Vec<_>>(),
        "without_success": {
            "count": outages.len(),
            "total": secs(total),
            "longest": longest.as_ref().map(outage_json),
            "examples": outages.iter().take(EXAMPLES).map(outage_json).collect::<Vec<_>>(),
        },
        "first_error": first_error.map(|op| json!({
            "at": secs(op.time),
            "error": op.error.as_deref().unwrap_or("(no error text)"),
        })),
        "expect_outage": expect_outage,
        "recovery": null,
    });

    let mut invalid: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    if expect_outage && failed_during_faults == 0 {
        invalid.push(if active.is_empty() {
            "expected queries to fail during a fault, but no fault was applied".to_string()
        } else {
            "expected queries to fail during a fault, but none did".to_string()
        });
    }

    // What was measured.
    let ok = ok_times.len();
    let failed = pairs.len() - ok;
    let mut measured: Vec<String> = Vec::new();
    if failed == 0 {
        measured.push(format!("{} queries, all ok", pairs.len()));
    } else {
        let failing: Vec<&Window> = windows.iter().filter(|w| w.failed > 0).collect();
        let mut places: Vec<String> = failing
            .iter()
            .take(SUMMARY_WINDOWS)
            .map(|w| w.failed_text())
            .collect();
        if failing.len() > SUMMARY_WINDOWS {
            let more = failing.len() - SUMMARY_WINDOWS;
            let noun = if more == 1 { "window" } else { "windows" };
            places.push(format!("more in {more} other {noun}"));
        }
        let places = if windows.len() > 1 {
            format!(" ({})", places.join(", "))
        } else {
            String::new()
        };
        measured.push(format!(
            "{} queries: {ok} ok, {failed} failed{places}",
            pairs.len()
        ));
    }
    if let Some(longest) = longest {
        measured.push(format!(
            "longest {} without a successful query from {}{}",
            human(longest.duration()),
            human(longest.start),
            if longest.open_at_end {
                " to the end of the workload"
            } else {
                ""
            }
        ));
    }
    if let Some(op) = first_error {
        let text = op
            .error
            .as_deref()
            .map_or("(no error text)".to_string(), shorten);
        measured.push(format!("first error at {}: {text}", human(op.time)));
    }
    if expect_outage && let Some((invoke, fault)) = first_during_fault {
        measured.push(format!(
            "outage seen during {fault} (first failed query at {})",
            human(invoke.time)
        ));
    }
    match recovery(history, &pairs, recover_within, until, &mut details) {
        Recovery::None => {}
        Recovery::Measured(text) => measured.push(text),
        Recovery::Invalid(text) => invalid.push(text),
        Recovery::Unknown(text) => unknown.push(text),
    }

    let (verdict, mut parts) = if !invalid.is_empty() {
        (Verdict::Invalid, invalid)
    } else if !unknown.is_empty() {
        (Verdict::Unknown, unknown)
    } else {
        (Verdict::Valid, Vec::new())
    };
    parts.extend(measured);
    Ok(CheckResult::new(NAME, verdict, parts.join("; ")).with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::timeline::script::{MS, Script};
    use super::super::traces::script::Traces;
    use super::*;

    const WITHIN: Duration = Duration::from_secs(5);

    fn ctx() -> CheckContext {
        CheckContext {
            workload_end: 60_000 * MS,
            ..CheckContext::default()
        }
    }

    fn run(script: Script, expect_outage: bool, within: Option<Duration>) -> CheckResult {
        check(&script.build(), &ctx(), expect_outage, within).unwrap()
    }

    /// A query every second from `from` to `to` inclusive, ok unless `fails` says otherwise.
    fn poll(mut script: Script, from: u64, to: u64, fails: impl Fn(u64) -> bool) -> Script {
        let mut ms = from;
        while ms <= to {
            script = if fails(ms) {
                script.failed_query(ms)
            } else {
                script.ok_query(ms)
            };
            ms += 1_000;
        }
        script
    }

    /// A kill of oap-2 from 20 s healed at 30 s; queries every second from 0 to 45 s fail from
    /// 21 s until `back` ms.
    fn killed(back: u64) -> Script {
        let script = Script::new()
            .fault(20_000, "kill", &["oap-2"], &["oap-2"])
            .heal(30_000, "kill", &["oap-2"], &[]);
        poll(script, 0, 45_000, |ms| (21_000..back).contains(&ms))
    }

    #[test]
    fn without_a_query_unknown() {
        let result = run(Script::new().ok_emit(0, 0, 0), false, None);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(
            result.summary,
            "no trace query was made, so the query API's availability cannot be measured"
        );
    }

    #[test]
    fn every_query_ok_without_faults_is_valid() {
        let result = run(
            poll(Script::new(), 0, 9_000, |_| false),
            false,
            Some(WITHIN),
        );
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.summary, "10 queries, all ok");
        assert_eq!(
            result.details["queries"],
            json!({"ok": 10, "fail": 0, "info": 0, "incomplete": 0, "total": 10})
        );
        assert_eq!(result.details["first_error"], Value::Null);
    }

    #[test]
    fn an_outage_during_a_fault_is_measured_and_attributed() {
        let result = run(killed(33_000), true, Some(WITHIN));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "46 queries: 34 ok, 12 failed (9 during kill oap-2 (at 20 s), 3 after heal); longest \
             12.1 s without a successful query from 21 s; first error at 21.1 s: connection \
             lost; outage seen during kill oap-2 (first failed query at 21 s); a query \
             succeeded 3.1 s after the heal (kill of oap-2) at 30 s, within 5 s"
        );
        assert_eq!(result.details["failed_during_faults"], 9);
        let windows: Vec<(&str, u64, u64)> = result.details["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["window"].as_str().unwrap(),
                    w["queries"].as_u64().unwrap(),
                    w["failed"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            windows,
            [
                ("before faults", 20, 0),
                ("kill oap-2 (at 20 s)", 10, 9),
                ("after heal", 16, 3),
            ]
        );
        assert_eq!(
            result.details["without_success"]["longest"],
            json!({"start": 21.0, "end": 33.05, "duration": 12.05, "failed_queries": 12,
                   "open_at_end": false})
        );
        assert_eq!(result.details["recovery"]["recovery"], 3.05);
    }

    #[rstest]
    #[case(31_000, Verdict::Valid)]
    #[case(34_000, Verdict::Valid)]
    #[case(35_000, Verdict::Invalid)]
    fn recovery_after_the_last_heal_is_timed(#[case] back: u64, #[case] verdict: Verdict) {
        let result = run(killed(back), false, Some(WITHIN));
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        let took = human((back + 50 - 30_000) * MS);
        let expected = match verdict {
            Verdict::Invalid => format!(
                "a query succeeded {took} after the heal (kill of oap-2) at 30 s, over the 5 s \
                 allowed; "
            ),
            _ => String::new(),
        };
        assert!(result.summary.starts_with(&expected), "{}", result.summary);
    }

    #[test]
    fn no_success_after_the_heal_is_invalid() {
        let result = run(killed(u64::MAX), false, Some(WITHIN));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.summary.starts_with(
                "no query succeeded after the heal (kill of oap-2) at 30 s (16 attempted); "
            ),
            "{}",
            result.summary
        );
        assert!(
            result
                .summary
                .contains("from 21 s to the end of the workload"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn no_query_after_the_heal_is_unknown() {
        let script = Script::new()
            .fault(5_000, "kill", &["oap-1"], &["oap-1"])
            .heal(10_000, "kill", &["oap-1"], &[]);
        let result = run(poll(script, 0, 9_000, |_| false), false, Some(WITHIN));
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result
                .summary
                .starts_with("no query was made after the heal (kill of oap-1) at 10 s"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn a_fault_never_healed_cannot_be_recovered_from() {
        let script = Script::new().fault(5_000, "pause", &["oap-1"], &["oap-1"]);
        let result = run(poll(script, 0, 9_000, |_| false), false, Some(WITHIN));
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("never healed"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn without_a_limit_recovery_is_reported_not_judged() {
        let result = run(killed(45_000), false, None);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert!(
            result
                .summary
                .ends_with("a query succeeded 15.1 s after the heal (kill of oap-2) at 30 s"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn an_expected_outage_that_never_came_is_invalid() {
        let result = run(killed(0), true, None);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.summary.starts_with(
                "expected queries to fail during a fault, but none did; 46 queries, all ok"
            ),
            "{}",
            result.summary
        );
    }

    #[test]
    fn an_expected_outage_without_a_fault_is_invalid() {
        let result = run(poll(Script::new(), 0, 5_000, |ms| ms == 2_000), true, None);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result
                .summary
                .starts_with("expected queries to fail during a fault, but no fault was applied"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn failures_outside_every_fault_are_no_outage_during_one() {
        let script = Script::new()
            .fault(20_000, "kill", &["oap-2"], &["oap-2"])
            .heal(30_000, "kill", &["oap-2"], &[]);
        let script = poll(script, 0, 40_000, |ms| ms == 5_000 || ms == 35_000);
        let result = run(script, true, None);
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(result.details["failed_during_faults"], 0);
    }

    #[test]
    fn a_query_begun_before_the_fault_and_failing_in_it_counts() {
        let script = Script::new()
            .ok_query(0)
            .query(9_000, Some((OpKind::Info, 12_000)), 0)
            .fault(10_000, "partition", &["oap-1"], &[])
            .heal(15_000, "partition", &["oap-1"], &[])
            .ok_query(16_000);
        let result = run(script, true, None);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["failed_during_faults"], 1);
        assert_eq!(result.details["queries"]["info"], 1);
    }

    #[test]
    fn failures_after_a_restart_until_a_query_succeeds_count_as_during_it() {
        let script = Script::new()
            .ok_query(0)
            .fault(10_000, "restart", &["oap-1"], &[])
            .failed_query(11_000)
            .failed_query(12_000)
            .ok_query(13_000)
            .failed_query(20_000);
        let result = run(script, true, Some(WITHIN));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["failed_during_faults"], 2);
        assert!(
            result.summary.contains(
                "outage seen during restart of oap-1 (first failed query at 11 s); a query \
                 succeeded 3.1 s after the restart of oap-1 at 10 s, within 5 s"
            ),
            "{}",
            result.summary
        );
    }

    #[test]
    fn the_first_error_is_quoted_on_one_short_line() {
        let mut history = killed(33_000).build();
        let long = format!("{}\ncaused by: more", "x".repeat(200));
        for op in history
            .ops
            .iter_mut()
            .filter(|op| op.f == F::TraceQuery && op.kind == OpKind::Fail)
        {
            op.error = Some(long.clone());
        }
        let result = check(&history, &ctx(), false, None).unwrap();
        let quoted = format!("first error at 21.1 s: {}…;", "x".repeat(ERROR_CHARS));
        assert!(result.summary.contains(&quoted), "{}", result.summary);
        assert_eq!(result.details["first_error"]["error"], json!(long));
    }

    #[test]
    fn a_query_never_answered_opens_a_window_to_the_end() {
        let script = poll(Script::new(), 0, 3_000, |_| false).query(4_000, None, 0);
        let result = run(script, false, None);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "5 queries: 4 ok, 1 failed; longest 56 s without a successful query from 4 s to the \
             end of the workload"
        );
        assert_eq!(result.details["queries"]["incomplete"], 1);
    }
}

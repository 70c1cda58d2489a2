//! The traces check (SkyWalking, Pinpoint): every emitted trace found through the query API by
//! the end of the drain (none lost), nothing found that was never emitted (none unexpected),
//! traces stored twice (duplicated) and found late counted, and delivery latency (first found
//! minus emitted) p50/p99 overall and per fault window.
//!
//! A trace is emitted when its `Trace` op is invoked. The reporter then takes it (`Ok`), refuses
//! it (`Fail`), or neither before the run ends (still queued; an `Info` counts here too). Every
//! emitted trace the reader never found is lost, whatever the reporter said: refused and queued
//! traces are lost from the user's view, and are reported as categories of their own. Windows
//! are the send-latency check's (before faults, each fault, between faults, after heal); a trace
//! belongs to every window it was emitted in. A trace the reader found only outside the run's
//! time window (phase `displaced`: filed under a time far from when it happened, as a skewed
//! clock files it) stays lost, and the summary says how far off it was filed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::delivery::Found;
use super::latency::{Span, spans};
use super::timeline::{human, nanos, pairs_of, secs, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "traces";

/// Windows named in the summary's account of where the lost traces were emitted.
const SUMMARY_WINDOWS: usize = 3;
/// The reader's phase for traces found only outside the run's window.
pub(crate) const DISPLACED: &str = "displaced";

/// What the agent's reporter did with an emitted trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Taken for its stream (`Ok`).
    Accepted,
    /// Refused (`Fail`).
    Refused,
    /// Neither taken nor refused when the run ended (no completion, or `Info`).
    Queued,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
            Outcome::Queued => "queued",
        }
    }
}

/// One emitted trace: its first emission.
struct Emitted<'h> {
    id: &'h str,
    invoke: &'h Op,
    outcome: Outcome,
}

/// What the reader found of one trace id.
struct Seen<'h> {
    first: &'h Op,
    segments: u64,
}

/// One window of the run: the emitted traces (`span.attempted`), the delivery latencies of those
/// found (`span.latencies`), and what became of the others.
struct Window {
    span: Span,
    lost: usize,
    refused: usize,
    late: usize,
}

impl Window {
    fn new(span: Span) -> Self {
        Self {
            span,
            lost: 0,
            refused: 0,
            late: 0,
        }
    }

    fn json(&self, until: u64) -> Value {
        let span = &self.span;
        let end = span.end.unwrap_or(until.max(span.start));
        json!({
            "window": span.label,
            "fault": span.fault,
            "start": secs(span.start),
            "end": secs(end),
            "duration": secs(end.saturating_sub(span.start)),
            "emitted": span.attempted,
            "found": span.latencies.len(),
            "lost": self.lost,
            "refused": self.refused,
            "late": self.late,
            "p50": span.percentile(50).map(secs),
            "p99": span.percentile(99).map(secs),
            "max": span.latencies.last().copied().map(secs),
        })
    }

    /// `9 emitted during kill oap-2 (at 20 s)`, `4 emitted after heal`.
    fn lost_text(&self) -> String {
        let during = if self.span.fault { "during " } else { "" };
        format!("{} emitted {during}{}", self.lost, self.span.label)
    }
}

/// Every emitted trace by id, in the order first emitted, and counts of what did not fit.
struct Emissions<'h> {
    order: Vec<Emitted<'h>>,
    /// Ids emitted more than once (only the first emission counts).
    repeated: usize,
    /// `Trace` invokes without an id.
    malformed: usize,
    /// `Trace` completions that paired with no invoke (e.g. recorded without the id).
    unpaired: usize,
}

fn emissions(history: &History) -> Emissions<'_> {
    let pairs = pairs_of(history, F::Trace);
    let completions = history
        .with_f(F::Trace)
        .filter(|op| op.kind != OpKind::Invoke)
        .count();
    let paired = pairs.iter().filter(|(_, done)| done.is_some()).count();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut emissions = Emissions {
        order: Vec::new(),
        repeated: 0,
        malformed: 0,
        unpaired: completions.saturating_sub(paired),
    };
    for (invoke, done) in pairs {
        let Some(id) = invoke.value["id"].as_str() else {
            emissions.malformed += 1;
            continue;
        };
        if !seen.insert(id) {
            emissions.repeated += 1;
            continue;
        }
        let outcome = match done.map(|op| op.kind) {
            Some(OpKind::Ok) => Outcome::Accepted,
            Some(OpKind::Fail) => Outcome::Refused,
            _ => Outcome::Queued,
        };
        emissions.order.push(Emitted {
            id,
            invoke,
            outcome,
        });
    }
    emissions
}

/// How lost traces are judged: at most `max`, or, when `expected`, at least one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lost {
    pub max: u64,
    pub expected: bool,
}

pub fn check(
    history: &History,
    ctx: &CheckContext,
    lost_limit: Lost,
    late_after: Duration,
    max_late: Option<u64>,
    p99_max: Option<Duration>,
) -> anyhow::Result<CheckResult> {
    let until = workload_end(history, ctx.workload_end);
    let late_after_ns = nanos(late_after);
    let emissions = emissions(history);
    let emitted_ids: HashSet<&str> = emissions.order.iter().map(|e| e.id).collect();

    // What the reader found, by id, in the order first found.
    let mut found: HashMap<&str, Seen> = HashMap::new();
    let mut found_order: Vec<&str> = Vec::new();
    let mut malformed_found = 0;
    // Id → how far from its emission it was filed (ms), for traces found only out of the window.
    let mut displaced: HashMap<&str, i64> = HashMap::new();
    for op in history
        .with_f(F::TraceFound)
        .filter(|op| op.kind == OpKind::Ok)
    {
        let Some(id) = op.value["id"].as_str() else {
            malformed_found += 1;
            continue;
        };
        if op.value["phase"].as_str() == Some(DISPLACED) {
            displaced.insert(id, op.value["offset_ms"].as_i64().unwrap_or(0));
            continue;
        }
        let segments = op.value["segments"].as_u64().unwrap_or(1);
        match found.get_mut(id) {
            Some(seen) => seen.segments = seen.segments.max(segments),
            None => {
                found_order.push(id);
                found.insert(
                    id,
                    Seen {
                        first: op,
                        segments,
                    },
                );
            }
        }
    }
    let queries = history
        .with_f(F::TraceQuery)
        .filter(|op| op.kind == OpKind::Invoke)
        .count();
    let ok_queries = history
        .with_f(F::TraceQuery)
        .filter(|op| op.kind == OpKind::Ok)
        .count();

    let mut windows: Vec<Window> = spans(history).into_iter().map(Window::new).collect();
    let mut overall = Window::new(Span::new("overall".to_string(), 0, None));
    let (mut accepted, mut refused, mut queued) = (0, 0, 0);
    let (mut lost_refused, mut lost_queued, mut lost_accepted) = (0, 0, 0);
    let mut found_in_drain = 0;
    let mut lost = Found::default();
    let mut late = Found::default();
    let mut duplicated = Found::default();
    let mut refused_found = Found::default();
    for emitted in &emissions.order {
        let invoke = emitted.invoke;
        match emitted.outcome {
            Outcome::Accepted => accepted += 1,
            Outcome::Refused => refused += 1,
            Outcome::Queued => queued += 1,
        }
        let seen = found.get(emitted.id);
        let latency = seen.map(|seen| seen.first.time.saturating_sub(invoke.time));
        let is_late = latency.is_some_and(|latency| latency > late_after_ns);
        for window in windows
            .iter_mut()
            .chain(std::iter::once(&mut overall))
            .filter(|w| w.span.contains(invoke.time))
        {
            window.span.attempted += 1;
            window.span.latencies.extend(latency);
            window.lost += usize::from(seen.is_none());
            window.refused += usize::from(emitted.outcome == Outcome::Refused);
            window.late += usize::from(is_late);
        }
        let containing = || {
            windows
                .iter()
                .filter(|w| w.span.contains(invoke.time))
                .map(|w| w.span.label.clone())
                .collect::<Vec<_>>()
        };
        let Some(seen) = seen else {
            match emitted.outcome {
                Outcome::Accepted => lost_accepted += 1,
                Outcome::Refused => lost_refused += 1,
                Outcome::Queued => lost_queued += 1,
            }
            lost.add_with_id(emitted.id, || {
                let mut example = json!({"id": emitted.id, "emitter": invoke.value["emitter"],
                       "seq": invoke.value["seq"], "emitted_at": secs(invoke.time),
                       "reporter": emitted.outcome.name(), "windows": containing()});
                if let Some(offset) = displaced.get(emitted.id) {
                    example["filed_off_by_ms"] = json!(offset);
                }
                example
            });
            continue;
        };
        if seen.first.value["phase"].as_str() == Some("drain") {
            found_in_drain += 1;
        }
        if let Some(latency) = latency.filter(|_| is_late) {
            late.add(|| {
                json!({"id": emitted.id, "emitter": invoke.value["emitter"],
                       "seq": invoke.value["seq"], "emitted_at": secs(invoke.time),
                       "found_at": secs(seen.first.time), "latency": secs(latency),
                       "windows": containing()})
            });
        }
        if seen.segments > 1 {
            duplicated.add(|| json!({"id": emitted.id, "segments": seen.segments}));
        }
        if emitted.outcome == Outcome::Refused {
            refused_found.add(|| {
                json!({"id": emitted.id, "emitted_at": secs(invoke.time),
                       "found_at": secs(seen.first.time)})
            });
        }
    }
    for window in windows.iter_mut().chain(std::iter::once(&mut overall)) {
        window.span.latencies.sort_unstable();
    }

    let mut unexpected = Found::default();
    for id in found_order.iter().filter(|id| !emitted_ids.contains(*id)) {
        let op = found[id].first;
        unexpected.add(|| json!({"id": id, "at": secs(op.time), "phase": op.value["phase"]}));
    }

    let emitted = emissions.order.len();
    let found_count = emitted - lost.count;
    let p50 = overall.span.percentile(50);
    let p99 = overall.span.percentile(99);
    let lost_json = {
        let mut value = lost.json();
        value["refused"] = json!(lost_refused);
        value["queued"] = json!(lost_queued);
        value["accepted"] = json!(lost_accepted);
        value
    };
    let late_json = {
        let mut value = late.json();
        value["after"] = json!(secs(late_after_ns));
        value
    };
    let details = json!({
        "emitted": {"total": emitted, "accepted": accepted, "refused": refused,
                    "queued": queued},
        "found": found_count,
        "found_in_drain": found_in_drain,
        "lost": lost_json,
        "displaced": {
            "count": displaced.len(),
            "median_offset_ms": median(displaced.values().copied()),
        },
        "late": late_json,
        "duplicated": duplicated.json(),
        "unexpected": unexpected.json(),
        "refused_but_found": refused_found.json(),
        "latency": {
            "p50": p50.map(secs),
            "p99": p99.map(secs),
            "max": overall.span.latencies.last().copied().map(secs),
        },
        "windows": windows.iter().map(|w| w.json(until)).collect::<Vec<_>>(),
        "queries": {"total": queries, "ok": ok_queries},
        "max_lost": lost_limit.max,
        "expect_lost": lost_limit.expected,
        "max_late": max_late,
        "p99_max": p99_max.map(|d| secs(nanos(d))),
        "repeated_ids": emissions.repeated,
        "malformed": {"traces": emissions.malformed, "found": malformed_found},
        "unpaired_completions": emissions.unpaired,
    });

    let unknown = |summary: String| {
        Ok(CheckResult::new(NAME, Verdict::Unknown, summary).with_details(details.clone()))
    };
    if emitted == 0 && unexpected.count == 0 {
        return unknown(format!(
            "no trace was emitted ({} found), so completeness cannot be judged: the workload \
             never ran",
            found_order.len()
        ));
    }
    if queries == 0 {
        return unknown(format!(
            "{emitted} emitted but the query API was never asked: nobody looked for them"
        ));
    }
    if ok_queries == 0 && found_order.is_empty() {
        return unknown(format!(
            "{emitted} emitted but none of the {queries} queries succeeded: losses cannot be \
             told from a query API that never answered"
        ));
    }

    // The summary, and why it is invalid.
    let max_lost = lost_limit.max;
    let too_many_lost = !lost_limit.expected && lost.count as u64 > max_lost;
    let none_lost_though_expected = lost_limit.expected && lost.count == 0;
    let too_many_late = max_late.is_some_and(|max| late.count as u64 > max);
    let too_slow = match (p99, p99_max.map(nanos)) {
        (Some(p99), Some(max)) => p99 > max,
        _ => false,
    };
    let mut lost_notes: Vec<String> = Vec::new();
    if lost.count > 0 {
        if lost_limit.expected {
            lost_notes.push("caught, as the faults should lose some".to_string());
        } else if max_lost > 0 {
            let judged = if too_many_lost { "over" } else { "within" };
            lost_notes.push(format!("{judged} the {max_lost} allowed"));
        }
        lost_notes.push(format!("e.g. {}", lost.first("id")));
        if lost_refused > 0 {
            lost_notes.push(format!("{lost_refused} refused by the reporter"));
        }
        if lost_queued > 0 {
            lost_notes.push(format!("{lost_queued} still queued at the end"));
        }
        if let Some(text) = displaced_text(&displaced) {
            lost_notes.push(text);
        }
        let losing: Vec<&Window> = windows.iter().filter(|w| w.lost > 0).collect();
        if windows.len() > 1 && !losing.is_empty() {
            let mut text: Vec<String> = losing
                .iter()
                .take(SUMMARY_WINDOWS)
                .map(|w| w.lost_text())
                .collect();
            if losing.len() > SUMMARY_WINDOWS {
                let more = losing.len() - SUMMARY_WINDOWS;
                let noun = if more == 1 { "window" } else { "windows" };
                text.push(format!("more in {more} other {noun}"));
            }
            lost_notes.push(text.join(", "));
        }
    }
    let lost_text = if lost_notes.is_empty() {
        format!("{} lost", lost.count)
    } else {
        format!("{} lost ({})", lost.count, lost_notes.join("; "))
    };
    let late_text = match max_late {
        Some(max) if too_many_late => format!(
            "{} late (> {}, over the {max} allowed)",
            late.count,
            human(late_after_ns)
        ),
        _ => format!("{} late (> {})", late.count, human(late_after_ns)),
    };
    let latency_text = match (p50, p99) {
        (Some(p50), Some(p99)) => {
            let over = match p99_max.map(nanos) {
                Some(max) if too_slow => format!(", over the {} allowed", human(max)),
                _ => String::new(),
            };
            format!("latency p50 {} p99 {}{over}", human(p50), human(p99))
        }
        _ => "no latency (nothing found)".to_string(),
    };
    let mut summary = format!(
        "{emitted} emitted, {found_count} found, {lost_text}, {} duplicated, {late_text}; \
         {latency_text}",
        duplicated.count
    );
    if unexpected.count > 0 {
        summary.push_str(&format!(
            "; {} unexpected (e.g. {}): found but never emitted",
            unexpected.count,
            unexpected.first("id")
        ));
    }
    if refused_found.count > 0 {
        summary.push_str(&format!(
            "; {} refused by the reporter yet found",
            refused_found.count
        ));
    }

    if none_lost_though_expected {
        summary.push_str(
            "; the faults were expected to lose traces and none was lost: the fault did not act, \
             or the system kept everything after all",
        );
    }
    let invalid = too_many_lost
        || none_lost_though_expected
        || too_many_late
        || too_slow
        || unexpected.count > 0;
    let verdict = if invalid {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };
    Ok(CheckResult::new(NAME, verdict, summary).with_details(details))
}

/// The middle of `values` (the lower one of an even count), if any.
fn median(values: impl Iterator<Item = i64>) -> Option<i64> {
    let mut values: Vec<i64> = values.collect();
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

/// `12 found filed 3600 s ahead of when they were sent (median): a clock is off`.
fn displaced_text(displaced: &HashMap<&str, i64>) -> Option<String> {
    let offset = median(displaced.values().copied())?;
    let direction = if offset >= 0 { "ahead of" } else { "behind" };
    Some(format!(
        "{} found filed {:.0} s {direction} when they were sent (median), outside the run's \
         time window: a clock is off",
        displaced.len(),
        offset.unsigned_abs() as f64 / 1000.0
    ))
}

/// Builds trace histories for the checker tests, on top of [`Script`](super::timeline::script).
#[cfg(test)]
pub(super) mod script {
    use serde_json::json;

    use super::super::timeline::script::Script;
    use crate::history::{F, OpKind};

    /// The id emitter `emitter` gives its trace `seq`.
    pub fn id(emitter: u32, seq: u64) -> String {
        format!("e{emitter}-{seq:06}")
    }

    pub trait Traces: Sized {
        /// Emitter `emitter` hands trace `seq` to its reporter at `invoke`; the reporter answers
        /// with `outcome` at its time, or never when `outcome` is `None`.
        fn emit(self, emitter: u32, seq: u64, invoke: u64, outcome: Option<(OpKind, u64)>) -> Self;

        /// Emitted at `invoke`, taken by the reporter 1 ms later.
        fn ok_emit(self, emitter: u32, seq: u64, invoke: u64) -> Self {
            self.emit(emitter, seq, invoke, Some((OpKind::Ok, invoke + 1)))
        }

        /// The reader finds `emitter`'s trace `seq` at `ms` with `segments` segments.
        fn found(self, ms: u64, emitter: u32, seq: u64, segments: u64, phase: &str) -> Self;

        /// The reader finds the trace with id `id` at `ms`, one segment, in the run.
        fn found_id(self, ms: u64, id: &str) -> Self;

        /// One query invoked at `invoke`, completed with `outcome` at its time (on `Ok` via
        /// oap-1, finding `traces`), or never when `outcome` is `None`.
        fn query(self, invoke: u64, outcome: Option<(OpKind, u64)>, traces: u64) -> Self;

        /// A successful query from `invoke` to 50 ms later.
        fn ok_query(self, invoke: u64) -> Self {
            self.query(invoke, Some((OpKind::Ok, invoke + 50)), 1)
        }

        /// A failed query from `invoke` to 50 ms later.
        fn failed_query(self, invoke: u64) -> Self {
            self.query(invoke, Some((OpKind::Fail, invoke + 50)), 0)
        }
    }

    impl Traces for Script {
        fn emit(self, emitter: u32, seq: u64, invoke: u64, outcome: Option<(OpKind, u64)>) -> Self {
            let process = format!("emitter-{emitter}");
            let value = json!({"id": id(emitter, seq), "emitter": format!("e{emitter}"),
                               "seq": seq});
            let script = self.op(invoke, &process, F::Trace, OpKind::Invoke, value.clone());
            match outcome {
                Some((kind, done)) => script.op(done, &process, F::Trace, kind, value),
                None => script,
            }
        }

        fn found(self, ms: u64, emitter: u32, seq: u64, segments: u64, phase: &str) -> Self {
            let value = json!({"id": id(emitter, seq), "segments": segments, "phase": phase});
            self.op(ms, "reader", F::TraceFound, OpKind::Ok, value)
        }

        fn found_id(self, ms: u64, id: &str) -> Self {
            let value = json!({"id": id, "segments": 1, "phase": "run"});
            self.op(ms, "reader", F::TraceFound, OpKind::Ok, value)
        }

        fn query(self, invoke: u64, outcome: Option<(OpKind, u64)>, traces: u64) -> Self {
            let script = self.op(
                invoke,
                "reader",
                F::TraceQuery,
                OpKind::Invoke,
                serde_json::Value::Null,
            );
            match outcome {
                Some((OpKind::Ok, done)) => script.op(
                    done,
                    "reader",
                    F::TraceQuery,
                    OpKind::Ok,
                    json!({"via": "oap-1", "traces": traces}),
                ),
                Some((kind, done)) => {
                    script.op(done, "reader", F::TraceQuery, kind, serde_json::Value::Null)
                }
                None => script,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::super::timeline::script::{MS, Script};
    use super::script::{Traces, id};
    use super::*;

    const LATE_AFTER: Duration = Duration::from_secs(30);

    fn ctx() -> CheckContext {
        CheckContext {
            workload_end: 60_000 * MS,
            ..CheckContext::default()
        }
    }

    /// Emitter 0 emits a trace every second from 0 to 9 s, each taken by the reporter and found
    /// 2 s later; the reader queries every second from 0 to 15 s.
    fn clean() -> Script {
        let mut script = Script::new();
        for seq in 0..10 {
            script =
                script
                    .ok_emit(0, seq, seq * 1_000)
                    .found(seq * 1_000 + 2_000, 0, seq, 1, "run");
        }
        queries(script, 0, 15_000)
    }

    /// A successful query every second from `from` to `to` inclusive.
    fn queries(mut script: Script, from: u64, to: u64) -> Script {
        let mut ms = from;
        while ms <= to {
            script = script.ok_query(ms);
            ms += 1_000;
        }
        script
    }

    fn run(script: Script) -> CheckResult {
        judge(script, 0, None, None)
    }

    fn judge(
        script: Script,
        max_lost: u64,
        max_late: Option<u64>,
        p99_max: Option<u64>,
    ) -> CheckResult {
        judge_lost(
            script,
            Lost {
                max: max_lost,
                expected: false,
            },
            max_late,
            p99_max,
        )
    }

    fn judge_lost(
        script: Script,
        lost: Lost,
        max_late: Option<u64>,
        p99_max: Option<u64>,
    ) -> CheckResult {
        check(
            &script.build(),
            &ctx(),
            lost,
            LATE_AFTER,
            max_late,
            p99_max.map(Duration::from_millis),
        )
        .unwrap()
    }

    #[test]
    fn every_trace_found_once_and_soon_is_valid() {
        let result = run(clean());
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "10 emitted, 10 found, 0 lost, 0 duplicated, 0 late (> 30 s); latency p50 2 s p99 2 s"
        );
        assert_eq!(
            result.details["emitted"],
            json!({"total": 10, "accepted": 10, "refused": 0, "queued": 0})
        );
        assert_eq!(result.details["windows"][0]["window"], "no faults");
        assert_eq!(result.details["queries"], json!({"total": 16, "ok": 16}));
    }

    #[test]
    fn one_lost_trace_is_invalid_and_named() {
        let result = run(clean().ok_emit(1, 7, 12_000));
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "11 emitted, 10 found, 1 lost (e.g. e1-000007), 0 duplicated, 0 late (> 30 s); \
             latency p50 2 s p99 2 s"
        );
        assert_eq!(
            result.details["lost"],
            json!({"count": 1, "refused": 0, "queued": 0, "accepted": 1, "examples": [
                {"id": "e1-000007", "emitter": "e1", "seq": 7, "emitted_at": 12.0,
                 "reporter": "accepted", "windows": ["no faults"]}
            ], "ids": ["e1-000007"]})
        );
    }

    #[rstest]
    #[case(0, Verdict::Invalid)]
    #[case(2, Verdict::Valid)]
    #[case(3, Verdict::Valid)]
    fn losses_are_judged_against_max_lost(#[case] max_lost: u64, #[case] verdict: Verdict) {
        let script = clean().ok_emit(1, 1, 12_000).ok_emit(1, 2, 12_500);
        let result = judge(script, max_lost, None, None);
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        if max_lost > 0 {
            assert!(
                result.summary.contains(&format!(
                    "2 lost (within the {max_lost} allowed; e.g. e1-000001)"
                )),
                "{}",
                result.summary
            );
        }
    }

    #[test]
    fn a_trace_found_only_outside_the_window_stays_lost_and_says_how_far_off() {
        let displaced = |script: Script, ms: u64, seq: u64, offset_ms: i64| {
            let value = json!({"id": id(1, seq), "segments": 1, "phase": "displaced",
                               "stored_at_ms": 0, "offset_ms": offset_ms});
            script.op(ms, "reader", F::TraceFound, OpKind::Ok, value)
        };
        let script = clean().ok_emit(1, 7, 12_000).ok_emit(1, 8, 12_500);
        let script = displaced(script, 40_000, 7, 3_600_400);
        let script = displaced(script, 40_000, 8, 3_599_900);
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert!(
            result.summary.contains(
                "2 lost (e.g. e1-000007; 2 found filed 3600 s ahead of when they were sent \
                 (median), outside the run's time window: a clock is off)"
            ),
            "{}",
            result.summary
        );
        assert_eq!(
            result.details["lost"]["examples"][0]["filed_off_by_ms"],
            3_600_400
        );
        assert_eq!(
            result.details["displaced"],
            json!({"count": 2, "median_offset_ms": 3_599_900})
        );
    }

    #[test]
    fn expected_losses_hold_only_when_caught() {
        let expect = Lost {
            max: 0,
            expected: true,
        };
        let caught = judge_lost(clean().ok_emit(1, 7, 12_000), expect, None, None);
        assert_eq!(caught.verdict, Verdict::Valid, "{}", caught.summary);
        assert!(
            caught
                .summary
                .contains("1 lost (caught, as the faults should lose some"),
            "{}",
            caught.summary
        );
        let missed = judge_lost(clean(), expect, None, None);
        assert_eq!(missed.verdict, Verdict::Invalid, "{}", missed.summary);
        assert!(
            missed
                .summary
                .contains("expected to lose traces and none was lost"),
            "{}",
            missed.summary
        );
    }

    #[test]
    fn refused_and_queued_traces_are_lost_in_categories_of_their_own() {
        let script = clean()
            .emit(1, 0, 3_000, Some((OpKind::Fail, 3_001)))
            .emit(1, 1, 4_000, Some((OpKind::Fail, 4_001)))
            .emit(1, 2, 14_000, None);
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "13 emitted, 10 found, 3 lost (e.g. e1-000000; 2 refused by the reporter; 1 still \
             queued at the end), 0 duplicated, 0 late (> 30 s); latency p50 2 s p99 2 s"
        );
        assert_eq!(
            result.details["emitted"],
            json!({"total": 13, "accepted": 10, "refused": 2, "queued": 1})
        );
        assert_eq!(result.details["lost"]["refused"], 2);
        assert_eq!(result.details["lost"]["queued"], 1);
        assert_eq!(result.details["lost"]["accepted"], 0);
        assert_eq!(result.details["lost"]["examples"][0]["reporter"], "refused");
        assert_eq!(result.details["windows"][0]["refused"], 2);
    }

    #[test]
    fn a_refused_trace_that_is_found_is_reported_not_lost() {
        let script = clean()
            .emit(1, 0, 3_000, Some((OpKind::Fail, 3_001)))
            .found(4_000, 1, 0, 1, "run");
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert!(
            result
                .summary
                .ends_with("; 1 refused by the reporter yet found"),
            "{}",
            result.summary
        );
        assert_eq!(result.details["refused_but_found"]["count"], 1);
    }

    #[test]
    fn more_segments_than_one_is_a_duplicate() {
        let script = clean()
            .found(5_000, 0, 3, 2, "run")
            .found(6_000, 0, 4, 3, "drain")
            .found(7_000, 0, 4, 2, "drain");
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert!(
            result.summary.contains(", 2 duplicated,"),
            "{}",
            result.summary
        );
        assert_eq!(
            result.details["duplicated"],
            json!({"count": 2, "examples": [
                {"id": "e0-000003", "segments": 2},
                {"id": "e0-000004", "segments": 3},
            ]})
        );
        assert_eq!(
            result.details["found_in_drain"], 0,
            "the first sighting's phase counts"
        );
    }

    #[rstest]
    #[case(None, Verdict::Valid)]
    #[case(Some(0), Verdict::Invalid)]
    #[case(Some(1), Verdict::Valid)]
    fn a_trace_found_after_late_after_is_late(
        #[case] max_late: Option<u64>,
        #[case] verdict: Verdict,
    ) {
        let script = clean()
            .ok_emit(1, 0, 10_000)
            .found(40_001, 1, 0, 1, "drain")
            .ok_emit(1, 1, 11_000)
            .found(41_000, 1, 1, 1, "drain");
        let result = judge(script, 0, max_late, None);
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        let late = if verdict == Verdict::Invalid {
            "1 late (> 30 s, over the 0 allowed)"
        } else {
            "1 late (> 30 s)"
        };
        assert!(result.summary.contains(late), "{}", result.summary);
        assert_eq!(result.details["late"]["examples"][0]["id"], "e1-000000");
        assert_eq!(result.details["late"]["examples"][0]["latency"], 30.001);
        assert_eq!(result.details["found_in_drain"], 2);
    }

    #[test]
    fn a_trace_found_but_never_emitted_is_unexpected_and_invalid() {
        let result = run(clean().found_id(9_000, "nobody-emitted-this"));
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert!(
            result
                .summary
                .ends_with("; 1 unexpected (e.g. nobody-emitted-this): found but never emitted"),
            "{}",
            result.summary
        );
        assert_eq!(result.details["unexpected"]["examples"][0]["at"], 9.0);
    }

    #[rstest]
    #[case(2_500, Verdict::Valid)]
    #[case(1_500, Verdict::Invalid)]
    fn the_overall_p99_is_judged_against_p99_max(#[case] p99_max: u64, #[case] verdict: Verdict) {
        let result = judge(clean(), 0, None, Some(p99_max));
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        if verdict == Verdict::Invalid {
            assert!(
                result
                    .summary
                    .ends_with("latency p50 2 s p99 2 s, over the 1.5 s allowed"),
                "{}",
                result.summary
            );
        }
    }

    /// Emitter 0 emits every second from 0 to 39 s. A kill of oap-2 from 10 s to 20 s loses the
    /// traces emitted at 12 s and 13 s (refused at 15 s); the others are found 1 s after
    /// emission, except those emitted during the kill, found 5 s after. A restart of oap-1 at
    /// 30 s loses the trace emitted at 31 s.
    fn killed() -> Script {
        let mut script = Script::new()
            .fault(10_000, "kill", &["oap-2"], &["oap-2"])
            .heal(20_000, "kill", &["oap-2"], &[])
            .fault(30_000, "restart", &["oap-1"], &[]);
        for seq in 0..40u64 {
            let at = seq * 1_000;
            script = match seq {
                12 => script.emit(0, seq, at, Some((OpKind::Fail, 15_000))),
                13 | 31 => script.ok_emit(0, seq, at),
                10..20 => script
                    .ok_emit(0, seq, at)
                    .found(at + 5_000, 0, seq, 1, "run"),
                _ => script
                    .ok_emit(0, seq, at)
                    .found(at + 1_000, 0, seq, 1, "run"),
            };
        }
        queries(script, 0, 45_000)
    }

    #[test]
    fn losses_are_attributed_to_the_window_they_were_emitted_in() {
        let result = run(killed());
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "40 emitted, 37 found, 3 lost (e.g. e0-000012; 1 refused by the reporter; 2 emitted \
             during kill oap-2 (at 10 s), 1 emitted after restart of oap-1), 0 duplicated, 0 \
             late (> 30 s); latency p50 1 s p99 5 s"
        );
        let windows: Vec<Value> = result.details["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                json!([
                    w["window"],
                    w["emitted"],
                    w["found"],
                    w["lost"],
                    w["refused"],
                    w["p99"]
                ])
            })
            .collect();
        assert_eq!(
            windows,
            [
                json!(["before faults", 10, 10, 0, 0, 1.0]),
                json!(["kill oap-2 (at 10 s)", 10, 8, 2, 1, 5.0]),
                json!(["between faults (20 s to 30 s)", 10, 10, 0, 0, 1.0]),
                json!(["after restart of oap-1", 10, 9, 1, 0, 1.0]),
            ]
        );
        assert_eq!(
            result.details["lost"]["examples"][1],
            json!({"id": "e0-000013", "emitter": "e0", "seq": 13, "emitted_at": 13.0,
                   "reporter": "accepted", "windows": ["kill oap-2 (at 10 s)"]})
        );
        assert_eq!(result.details["windows"][1]["fault"], true);
        assert_eq!(result.details["windows"][1]["end"], 20.0);
    }

    #[test]
    fn the_summary_names_at_most_three_losing_windows() {
        let mut script = Script::new();
        for (n, at) in [10_000, 20_000, 30_000, 40_000].into_iter().enumerate() {
            script = script
                .fault(at, "pause", &["oap-1"], &["oap-1"])
                .heal(at + 5_000, "pause", &["oap-1"], &[])
                .ok_emit(0, n as u64, at + 1_000);
        }
        let result = run(queries(script, 0, 50_000));
        assert!(
            result.summary.contains(
                "4 lost (e.g. e0-000000; 1 emitted during pause oap-1 (at 10 s), 1 emitted \
                 during pause oap-1 (at 20 s), 1 emitted during pause oap-1 (at 30 s), more in \
                 1 other window)"
            ),
            "{}",
            result.summary
        );
    }

    #[test]
    fn without_a_query_nobody_looked() {
        let script = Script::new().ok_emit(0, 0, 0).ok_emit(0, 1, 1_000);
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(
            result.summary,
            "2 emitted but the query API was never asked: nobody looked for them"
        );
    }

    #[test]
    fn without_a_successful_query_losses_cannot_be_told() {
        let script = Script::new()
            .ok_emit(0, 0, 0)
            .failed_query(1_000)
            .query(2_000, None, 0);
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.contains("none of the 2 queries succeeded"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn without_an_emitted_trace_the_workload_never_ran() {
        let result = run(queries(Script::new(), 0, 3_000));
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(
            result.summary.starts_with("no trace was emitted (0 found)"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn an_emission_completed_without_its_id_is_counted_unpaired() {
        let script = clean()
            .op(
                20_000,
                "emitter-3",
                F::Trace,
                OpKind::Invoke,
                json!({"id": "e3-000000", "emitter": "e3", "seq": 0}),
            )
            .op(20_001, "emitter-3", F::Trace, OpKind::Ok, json!({}))
            .found_id(21_000, "e3-000000");
        let result = run(script);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["unpaired_completions"], 1);
        assert_eq!(result.details["emitted"]["queued"], 1);
    }

    #[test]
    fn an_id_emitted_twice_counts_once() {
        let result = run(clean().ok_emit(0, 3, 20_000));
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["emitted"]["total"], 10);
        assert_eq!(result.details["repeated_ids"], 1);
    }

    #[test]
    fn lost_examples_are_bounded() {
        let mut script = clean();
        for seq in 0..25 {
            script = script.ok_emit(2, seq, 20_000 + seq);
        }
        let result = run(script);
        assert_eq!(result.details["lost"]["count"], 25);
        assert_eq!(
            result.details["lost"]["examples"].as_array().unwrap().len(),
            10
        );
    }

    proptest! {
        /// Whatever subset is found, emitted = found + lost overall and in every window, and the
        /// verdict is Invalid exactly when something is lost.
        #[test]
        fn found_plus_lost_is_emitted(found in proptest::collection::vec(any::<bool>(), 1..40)) {
            let mut script = Script::new()
                .fault(5_000, "kill", &["oap-1"], &["oap-1"])
                .heal(15_000, "kill", &["oap-1"], &[]);
            for (seq, found) in found.iter().enumerate() {
                let at = seq as u64 * 500;
                script = script.ok_emit(0, seq as u64, at);
                if *found {
                    script = script.found(at + 700, 0, seq as u64, 1, "run");
                }
            }
            let result = run(queries(script, 0, 25_000));
            let lost = found.iter().filter(|f| !**f).count() as u64;
            prop_assert_eq!(result.details["lost"]["count"].as_u64(), Some(lost));
            prop_assert_eq!(
                result.details["found"].as_u64(),
                Some(found.len() as u64 - lost)
            );
            for window in result.details["windows"].as_array().unwrap() {
                prop_assert_eq!(
                    window["emitted"].as_u64().unwrap(),
                    window["found"].as_u64().unwrap() + window["lost"].as_u64().unwrap()
                );
            }
            let expected = if lost > 0 { Verdict::Invalid } else { Verdict::Valid };
            prop_assert_eq!(result.verdict, expected);
            if lost > 0 {
                let first = found.iter().position(|f| !*f).unwrap() as u64;
                let named = format!("e.g. {}", id(0, first));
                prop_assert!(result.summary.contains(&named));
            }
        }
    }
}

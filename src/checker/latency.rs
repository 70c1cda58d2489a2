//! The send-latency check (Pulsar): how long acknowledged sends took (completion minus invoke),
//! p50, p99 and max per fault window, judged against optional p50/p99 ceilings.
//!
//! Windows: `before faults` (start to the first fault), one per fault from its apply to its heal
//! (`kill broker-2 (at 20.1 s)`), `between faults` for healthy stretches in between, and `after
//! heal` (the last heal to the end). A send belongs to every window it was invoked in (fault
//! windows may overlap). Windows without an acknowledged send are reported, not judged: the
//! availability figures (from the availability check's sweep) show those.

use std::time::Duration;

use serde_json::{Value, json};

use super::availability;
use super::timeline::{
    FaultWindow, fault_windows, human, nanos, pairs_of, secs, str_list, workload_end,
};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "send-latency";

/// One stretch of the run and the operations invoked in it (sends here; the traces check counts
/// emitted traces in the same windows).
pub(super) struct Span {
    pub label: String,
    pub start: u64,
    /// `None`: open to the end of the run.
    pub end: Option<u64>,
    /// The window of a fault, from its apply to its heal (not a healthy stretch).
    pub fault: bool,
    pub attempted: usize,
    /// Latencies (ns) of the acknowledged sends, sorted once filled.
    pub latencies: Vec<u64>,
}

impl Span {
    pub fn new(label: String, start: u64, end: Option<u64>) -> Self {
        Self {
            label,
            start,
            end,
            fault: false,
            attempted: 0,
            latencies: Vec::new(),
        }
    }

    pub fn contains(&self, t: u64) -> bool {
        self.start <= t && self.end.is_none_or(|end| t < end)
    }

    /// The nearest-rank percentile `p` (0..=100) of the sorted latencies.
    pub fn percentile(&self, p: u64) -> Option<u64> {
        let n = self.latencies.len() as u64;
        if n == 0 {
            return None;
        }
        let rank = (p * n).div_ceil(100).max(1);
        Some(self.latencies[(rank - 1) as usize])
    }

    fn json(&self, until: u64) -> Value {
        let end = self.end.unwrap_or(until.max(self.start));
        json!({
            "window": self.label,
            "start": secs(self.start),
            "end": secs(end),
            "duration": secs(end.saturating_sub(self.start)),
            "attempted": self.attempted,
            "acknowledged": self.latencies.len(),
            "p50": self.percentile(50).map(secs),
            "p99": self.percentile(99).map(secs),
            "max": self.latencies.last().copied().map(secs),
        })
    }
}

/// `kill broker-2 (at 20.1 s)`.
fn fault_label(fault: &str, targets: &[String], at: u64) -> String {
    format!("{fault} {} (at {})", targets.join(", "), human(at))
}

/// The windows of the run, in time order: before faults, each fault, healthy stretches between
/// faults, after the last heal.
pub(super) fn spans(history: &History) -> Vec<Span> {
    let faults: Vec<FaultWindow> = fault_windows(history);
    // Every stretch something was faulty, with what ended it: (start, end, ended by).
    let mut busy: Vec<(u64, Option<u64>, String)> = faults
        .iter()
        .map(|w| (w.start, w.end, "after heal".to_string()))
        .collect();
    for op in history.with_f(F::Fault).filter(|op| op.kind == OpKind::Ok) {
        let fault = op.value["fault"].as_str().unwrap_or("fault");
        if super::timeline::ONE_SHOT_FAULTS.contains(&fault) {
            let targets = str_list(&op.value["targets"])
                .unwrap_or_default()
                .join(", ");
            busy.push((
                op.time,
                Some(op.time),
                format!("after {fault} of {targets}"),
            ));
        }
    }
    busy.sort_by_key(|(start, _, _)| *start);

    let Some(first) = busy.first().map(|(start, _, _)| *start) else {
        return vec![Span::new("no faults".to_string(), 0, None)];
    };
    let mut spans = Vec::new();
    if first > 0 {
        spans.push(Span::new("before faults".to_string(), 0, Some(first)));
    }
    for window in &faults {
        let label = fault_label(&window.fault, &window.targets, window.start);
        let mut span = Span::new(label, window.start, window.end);
        span.fault = true;
        spans.push(span);
    }
    // Healthy stretches: gaps in the union of the busy stretches.
    let mut merged: Vec<(u64, Option<u64>, String)> = Vec::new();
    for (start, end, ended_by) in busy {
        match merged.last_mut() {
            Some(last) if last.1.is_none_or(|last_end| start <= last_end) => {
                let later = match (last.1, end) {
                    (Some(a), Some(b)) => b >= a,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if later {
                    last.1 = end;
                    last.2 = ended_by;
                }
            }
            _ => merged.push((start, end, ended_by)),
        }
    }
    for pair in merged.windows(2) {
        if let (Some(healthy_from), next) = (pair[0].1, pair[1].0) {
            if next > healthy_from {
                let label = format!(
                    "between faults ({} to {})",
                    human(healthy_from),
                    human(next)
                );
                spans.push(Span::new(label, healthy_from, Some(next)));
            }
        }
    }
    if let Some((_, Some(last_end), ended_by)) = merged.last() {
        spans.push(Span::new(ended_by.clone(), *last_end, None));
    }
    spans.sort_by_key(|span| span.start);
    spans
}

/// A p50 or p99 over its ceiling in one window.
struct Breach {
    label: String,
    which: &'static str,
    value: u64,
    max: u64,
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    p50_max: Option<Duration>,
    p99_max: Option<Duration>,
) -> anyhow::Result<CheckResult> {
    let until = workload_end(history, ctx.workload_end);
    let mut spans = spans(history);
    let mut all = Span::new("overall".to_string(), 0, None);
    for (invoke, done) in pairs_of(history, F::Send) {
        let latency = done
            .filter(|op| op.kind == OpKind::Ok)
            .map(|op: &Op| op.time.saturating_sub(invoke.time));
        for span in spans
            .iter_mut()
            .chain(std::iter::once(&mut all))
            .filter(|span| span.contains(invoke.time))
        {
            span.attempted += 1;
            span.latencies.extend(latency);
        }
    }
    for span in spans.iter_mut().chain(std::iter::once(&mut all)) {
        span.latencies.sort_unstable();
    }

    let (outages, sends) = availability::windows(history, &[F::Send], until);
    let outage_total: u64 = outages.iter().map(|w| w.duration()).sum();
    let longest_outage = outages.iter().max_by_key(|w| w.duration());
    let details = json!({
        "overall": all.json(until),
        "windows": spans.iter().map(|span| span.json(until)).collect::<Vec<_>>(),
        "p50_max": p50_max.map(|d| secs(nanos(d))),
        "p99_max": p99_max.map(|d| secs(nanos(d))),
        "availability": {
            "sends": sends,
            "acknowledged_ratio": if all.attempted > 0 {
                Some((all.latencies.len() as f64 / all.attempted as f64 * 1e4).round() / 1e4)
            } else {
                None
            },
            "windows_without_success": outages.len(),
            "total": secs(outage_total),
            "longest": longest_outage.map(|w| w.json()),
        },
    });

    let (Some(p50), Some(p99)) = (all.percentile(50), all.percentile(99)) else {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            format!(
                "no send was acknowledged ({} attempted), so send latency cannot be measured",
                all.attempted
            ),
        )
        .with_details(details));
    };

    let mut breaches = Vec::new();
    for span in &spans {
        let limits = [("p50", 50, p50_max), ("p99", 99, p99_max)];
        for (which, p, max) in limits {
            let (Some(value), Some(max)) = (span.percentile(p), max.map(nanos)) else {
                continue;
            };
            if value > max {
                breaches.push(Breach {
                    label: span.label.clone(),
                    which,
                    value,
                    max,
                });
            }
        }
    }

    let availability_text = match longest_outage {
        None => "every send succeeded".to_string(),
        Some(longest) => format!(
            "{} {} without a successful send, longest {}",
            outages.len(),
            if outages.len() == 1 {
                "window"
            } else {
                "windows"
            },
            human(longest.duration())
        ),
    };
    if let Some(first) = breaches.first() {
        let more = match breaches.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        let summary = format!(
            "{}: {} {} over the {} allowed{more}; {availability_text}",
            first.label,
            first.which,
            human(first.value),
            human(first.max)
        );
        return Ok(CheckResult::new(NAME, Verdict::Invalid, summary).with_details(details));
    }

    let mut summary = format!(
        "{} acknowledged sends: p50 {}, p99 {}",
        all.latencies.len(),
        human(p50),
        human(p99)
    );
    let worst = spans
        .iter()
        .filter_map(|span| span.percentile(99).map(|p99| (span, p99)))
        .max_by_key(|(_, p99)| *p99);
    if let Some((span, worst_p99)) = worst.filter(|_| spans.len() > 1) {
        summary.push_str(&format!(
            "; worst window {} (p50 {}, p99 {})",
            span.label,
            human(span.percentile(50).unwrap_or(0)),
            human(worst_p99)
        ));
    }
    summary.push_str(&format!("; {availability_text}"));
    Ok(CheckResult::new(NAME, Verdict::Valid, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::delivery::script::Pulsar;
    use super::super::timeline::script::{MS, Script};
    use super::*;

    fn ctx() -> CheckContext {
        CheckContext {
            workload_end: 40_000 * MS,
            ..CheckContext::default()
        }
    }

    /// Producer 0 sends every second (one send at a time) taking 10 ms, except during a kill of
    /// broker-2 from 10 s to 20 s where they take 800 ms, one timing out; a restart of broker-1
    /// at 30 s.
    fn killed() -> Script {
        let mut script = Script::new()
            .fault(10_000, "kill", &["broker-2"], &["broker-2"])
            .heal(20_000, "kill", &["broker-2"], &[])
            .fault(30_000, "restart", &["broker-1"], &[]);
        for s in 0..40u64 {
            let at = s * 1_000;
            script = match s {
                12 => script.send(0, s, at, Some((OpKind::Info, at + 900))),
                10..20 => script.ok_send(0, s, at, at + 800),
                _ => script.ok_send(0, s, at, at + 10),
            };
        }
        script
    }

    fn run(script: Script, p50: Option<u64>, p99: Option<u64>) -> CheckResult {
        check(
            &script.build(),
            &ctx(),
            p50.map(Duration::from_millis),
            p99.map(Duration::from_millis),
        )
        .unwrap()
    }

    #[test]
    fn windows_follow_faults_heals_and_restarts() {
        let result = run(killed(), None, None);
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        let windows: Vec<(&str, u64, u64)> = result.details["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["window"].as_str().unwrap(),
                    w["attempted"].as_u64().unwrap(),
                    w["acknowledged"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            windows,
            [
                ("before faults", 10, 10),
                ("kill broker-2 (at 10 s)", 10, 9),
                ("between faults (20 s to 30 s)", 10, 10),
                ("after restart of broker-1", 10, 10),
            ]
        );
        assert_eq!(result.details["windows"][1]["p99"], 0.8);
        assert_eq!(result.details["windows"][0]["p50"], 0.01);
        assert_eq!(
            result.summary,
            "39 acknowledged sends: p50 10 ms, p99 800 ms; worst window kill broker-2 (at 10 s) \
             (p50 800 ms, p99 800 ms); 1 window without a successful send, longest 1.8 s"
        );
        assert_eq!(
            result.details["availability"]["longest"]["start"], 12.0,
            "the timed-out send opens the window"
        );
    }

    #[rstest]
    #[case(Some(50), None, Verdict::Invalid)]
    #[case(None, Some(500), Verdict::Invalid)]
    #[case(Some(800), Some(800), Verdict::Valid)]
    fn ceilings_are_judged_per_window(
        #[case] p50: Option<u64>,
        #[case] p99: Option<u64>,
        #[case] verdict: Verdict,
    ) {
        let result = run(killed(), p50, p99);
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        if let Some(p50) = p50.filter(|_| verdict == Verdict::Invalid) {
            assert_eq!(
                result.summary,
                format!(
                    "kill broker-2 (at 10 s): p50 800 ms over the {p50} ms allowed; 1 window \
                     without a successful send, longest 1.8 s"
                )
            );
        }
    }

    #[test]
    fn a_fault_never_healed_runs_to_the_end_and_has_no_after_window() {
        let script = Script::new()
            .ok_send(0, 0, 1_000, 1_100)
            .fault(5_000, "pause", &["broker-1"], &["broker-1"])
            .ok_send(0, 1, 6_000, 9_000);
        let result = run(script, None, Some(2_000));
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "pause broker-1 (at 5 s): p99 3 s over the 2 s allowed; every send succeeded"
        );
        assert_eq!(result.details["windows"].as_array().unwrap().len(), 2);
        assert_eq!(result.details["windows"][1]["end"], 40.0);
    }

    #[test]
    fn without_faults_one_window() {
        let script = Script::new()
            .ok_send(0, 0, 0, 10)
            .ok_send(0, 1, 100, 130)
            .ok_send(0, 2, 200, 220);
        let result = run(script, Some(100), Some(100));
        assert_eq!(result.verdict, Verdict::Valid);
        assert_eq!(
            result.summary,
            "3 acknowledged sends: p50 20 ms, p99 30 ms; every send succeeded"
        );
        assert_eq!(result.details["windows"][0]["window"], "no faults");
    }

    #[test]
    fn without_an_acknowledged_send_unknown() {
        let script = Script::new().send(0, 0, 0, Some((OpKind::Fail, 10)));
        let result = run(script, Some(100), None);
        assert_eq!(result.verdict, Verdict::Unknown);
        assert_eq!(
            result.summary,
            "no send was acknowledged (1 attempted), so send latency cannot be measured"
        );
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut span = Span::new("x".into(), 0, None);
        span.latencies = (1..=100).collect();
        assert_eq!(span.percentile(50), Some(50));
        assert_eq!(span.percentile(99), Some(99));
        span.latencies = vec![7];
        assert_eq!(span.percentile(99), Some(7));
        assert_eq!(span.percentile(50), Some(7));
    }
}

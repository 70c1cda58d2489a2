//! What the benches share to turn a round's history into numbers and print them: a trace round's
//! ops gathered (`TraceRound`), nearest-rank percentiles, durations and ratios as table cells, a
//! panic's message; and, for their tests, history ops built by hand.

use std::collections::HashMap;
use std::time::Duration;

use chaosbed::history::{F, History, OpKind};

/// A trace round's history gathered: Trace invoke/ok/fail/info (emitted or requested, then
/// taken or answered, refused or failed, unknown), the reader's finds and its polls.
#[derive(Debug, Default)]
pub struct TraceRound<'h> {
    /// Trace id → its invoke's time.
    pub invoked: HashMap<&'h str, u64>,
    /// (id, time) of each Trace ok.
    pub ok: Vec<(&'h str, u64)>,
    /// Ids whose Trace failed.
    pub failed: Vec<&'h str>,
    pub unknown: u64,
    /// Trace id → when the reader first found it.
    pub found: HashMap<&'h str, u64>,
    /// How long each answered poll took, sorted.
    pub polls: Vec<u64>,
    pub failed_polls: u64,
}

impl<'h> TraceRound<'h> {
    pub fn of(history: &'h History) -> Self {
        let mut round = TraceRound::default();
        // The reader has one poll open at a time.
        let mut poll_start = None;
        for op in &history.ops {
            if op.f == F::TraceQuery {
                match op.kind {
                    OpKind::Invoke => poll_start = Some(op.time),
                    OpKind::Ok => {
                        if let Some(start) = poll_start.take() {
                            round.polls.push(op.time.saturating_sub(start));
                        }
                    }
                    OpKind::Fail | OpKind::Info => {
                        poll_start = None;
                        round.failed_polls += 1;
                    }
                }
                continue;
            }
            let Some(id) = op.value.get("id").and_then(|v| v.as_str()) else {
                continue;
            };
            match (op.f, op.kind) {
                (F::Trace, OpKind::Invoke) => {
                    round.invoked.insert(id, op.time);
                }
                (F::Trace, OpKind::Ok) => round.ok.push((id, op.time)),
                (F::Trace, OpKind::Fail) => round.failed.push(id),
                (F::Trace, OpKind::Info) => round.unknown += 1,
                (F::TraceFound, _) => {
                    let first = round.found.entry(id).or_insert(op.time);
                    *first = (*first).min(op.time);
                }
                _ => {}
            }
        }
        round.polls.sort_unstable();
        round
    }

    /// Oks per second from the first invoke to the last ok.
    pub fn sustained(&self) -> f64 {
        let first = self.invoked.values().copied().min();
        let last = self.ok.iter().map(|(_, t)| *t).max();
        match (first, last) {
            (Some(first), Some(last)) if last > first => {
                self.ok.len() as f64 / Duration::from_nanos(last - first).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Delivery latencies (first find minus invoke, sorted) of the traces not failed, and how
    /// many of those were never found.
    pub fn deliveries(&self) -> (Vec<u64>, u64) {
        let mut latencies = Vec::new();
        let mut lost = 0;
        for (id, invoke) in &self.invoked {
            if self.failed.contains(id) {
                continue;
            }
            match self.found.get(id) {
                Some(seen) => latencies.push(seen.saturating_sub(*invoke)),
                None => lost += 1,
            }
        }
        latencies.sort_unstable();
        (latencies, lost)
    }
}

/// The `p` percentile of sorted nanoseconds as a duration.
pub fn percentile_duration(sorted: &[u64], p: f64) -> Option<Duration> {
    percentile(sorted, p).map(Duration::from_nanos)
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p` of all
/// values at or below it.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `0.57s`, or `-` for nothing measured.
pub fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("{:.2}s", d.as_secs_f64()))
}

/// `a / b` as `1.50x`, or `-` when either is missing or the ratio means nothing.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.2}x", a / b),
        _ => "-".to_string(),
    }
}

/// What a caught panic said.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// History ops for the benches' summary tests.
#[cfg(test)]
pub mod ops {
    use chaosbed::history::{F, Op, OpKind};
    use serde_json::json;

    /// Op `index` at `time_ms`: `process`'s `f` of `kind` on trace `id`.
    pub fn op(index: u64, time_ms: u64, process: &str, f: F, kind: OpKind, id: &str) -> Op {
        Op {
            index,
            time: time_ms * 1_000_000,
            process: process.into(),
            f,
            kind,
            value: json!({ "id": id }),
            error: None,
        }
    }

    /// The reader's query `index` at `time_ms` through `via`.
    pub fn poll(index: u64, time_ms: u64, kind: OpKind, via: &str) -> Op {
        Op {
            index,
            time: time_ms * 1_000_000,
            process: "reader".into(),
            f: F::TraceQuery,
            kind,
            value: json!({ "via": via }),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.50), Some(50));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&values, 1.0), Some(100));
        assert_eq!(percentile(&values, 0.0), Some(1));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn ratios_and_cells() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50x");
        assert_eq!(ratio(Some(3.0), Some(0.0)), "-");
        assert_eq!(ratio(None, Some(2.0)), "-");
        assert_eq!(ratio(Some(f64::NAN), Some(2.0)), "-");
        assert_eq!(secs(Some(Duration::from_millis(570))), "0.57s");
        assert_eq!(secs(None), "-");
    }
}

//! The availability check: windows in which no write succeeded, measured from the client writes,
//! judged against `max_unavailable` and, with `expect_outage`, required to exist.
//!
//! A message send (Pulsar) is a write: both count alike, and a run with sends only speaks of sends.

use std::time::Duration;

use serde_json::{Value, json};

use super::timeline::{human, nanos, secs, window_json, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History, Op, OpKind};

const NAME: &str = "availability";
const EXAMPLES: usize = 10;

/// The operations that write: a ZooKeeper write and a Pulsar message send.
pub(super) const WRITES: [F; 2] = [F::Write, F::Send];

/// Every invocation of one of `fs`, paired with its completion (`None` if it never completed).
pub(super) fn pairs_among<'h>(history: &'h History, fs: &[F]) -> Vec<(&'h Op, Option<&'h Op>)> {
    history
        .pairs()
        .into_iter()
        .filter(|(invoke, _)| fs.contains(&invoke.f))
        .collect()
}

/// What to call the writes in a summary: `send` when the history has sends and no writes.
pub(super) fn write_noun(history: &History) -> &'static str {
    let invoked = |f: F| history.with_f(f).any(|op| op.kind == OpKind::Invoke);
    if invoked(F::Send) && !invoked(F::Write) {
        "send"
    } else {
        "write"
    }
}

/// A stretch without a successful write: from the invoke of the first write that did not succeed
/// to the completion of the next write that did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub start: u64,
    pub end: u64,
    /// Writes invoked in it that did not succeed.
    pub failed: usize,
    /// Still open when the workload ended.
    pub open_at_end: bool,
}

impl Window {
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn json(&self) -> Value {
        let mut value = window_json(self.start, self.end);
        value["failed_writes"] = json!(self.failed);
        value["open_at_end"] = json!(self.open_at_end);
        value
    }
}

/// Sweeps the writes in time order: a write that did not succeed (`Fail`, `Info`, or never
/// completed) opens a window at its invoke unless one is open; the next `Ok` completion closes it.
/// A completion at the same instant as a failing invoke is taken first. Only invocations of `fs`
/// count; the second value counts them by outcome.
pub(super) fn windows(history: &History, fs: &[F], end_of_workload: u64) -> (Vec<Window>, Value) {
    // (time, opens): `false` (a success) sorts before `true` at the same time.
    let mut events: Vec<(u64, bool)> = Vec::new();
    let (mut ok, mut fail, mut info, mut incomplete) = (0, 0, 0, 0);
    for (invoke, completion) in pairs_among(history, fs) {
        match completion.map(|op| (op.kind, op.time)) {
            Some((OpKind::Ok, done)) => {
                ok += 1;
                events.push((done, false));
                continue;
            }
            Some((OpKind::Fail, _)) => fail += 1,
            Some(_) => info += 1,
            None => incomplete += 1,
        }
        events.push((invoke.time, true));
    }
    events.sort_unstable();

    let mut windows = Vec::new();
    let mut open: Option<Window> = None;
    for (time, opens) in events {
        match (opens, open.as_mut()) {
            (true, Some(window)) => window.failed += 1,
            (true, None) => {
                open = Some(Window {
                    start: time,
                    end: time,
                    failed: 1,
                    open_at_end: false,
                });
            }
            (false, Some(_)) => {
                if let Some(mut window) = open.take() {
                    window.end = time;
                    windows.push(window);
                }
            }
            (false, None) => {}
        }
    }
    if let Some(mut window) = open {
        window.end = end_of_workload.max(window.start);
        window.open_at_end = true;
        windows.push(window);
    }
    let counts = json!({"ok": ok, "fail": fail, "info": info, "incomplete": incomplete,
                        "total": ok + fail + info + incomplete});
    (windows, counts)
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    max_unavailable: Option<Duration>,
    expect_outage: bool,
) -> anyhow::Result<CheckResult> {
    let (windows, writes) = windows(history, &WRITES, workload_end(history, ctx.workload_end));
    let attempted = writes["total"].as_u64().unwrap_or(0);
    let noun = write_noun(history);
    let counted = format!(
        "{attempted} {noun}{}",
        if attempted == 1 { "" } else { "s" }
    );
    if attempted == 0 {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no write was attempted, so availability cannot be measured",
        )
        .with_details(json!({"writes": writes})));
    }

    let total: u64 = windows.iter().map(Window::duration).sum();
    let longest = windows.iter().max_by_key(|w| w.duration()).copied();
    let details = json!({
        "writes": writes,
        "windows": windows.iter().take(EXAMPLES).map(Window::json).collect::<Vec<_>>(),
        "count": windows.len(),
        "total": secs(total),
        "longest": longest.map(|w| w.json()),
        "max_unavailable": max_unavailable.map(|m| secs(nanos(m))),
        "expect_outage": expect_outage,
    });

    let Some(longest) = longest else {
        let (verdict, summary) = if expect_outage {
            (
                Verdict::Invalid,
                format!("expected an outage, but every {noun} succeeded ({counted})"),
            )
        } else {
            (
                Verdict::Valid,
                format!("every {noun} succeeded ({counted})"),
            )
        };
        return Ok(CheckResult::new(NAME, verdict, summary).with_details(details));
    };

    let measured = format!(
        "{} {} without a successful {noun}, {} in all; longest {} from {}{}",
        windows.len(),
        if windows.len() == 1 {
            "window"
        } else {
            "windows"
        },
        human(total),
        human(longest.duration()),
        human(longest.start),
        if longest.open_at_end {
            " to the end of the workload"
        } else {
            ""
        },
    );
    let result = match max_unavailable.map(nanos) {
        Some(max) if longest.duration() > max => CheckResult::new(
            NAME,
            Verdict::Invalid,
            format!("{measured}, over the {} allowed", human(max)),
        ),
        Some(max) => CheckResult::new(
            NAME,
            Verdict::Valid,
            format!("{measured} (at most {} allowed)", human(max)),
        ),
        None => CheckResult::new(NAME, Verdict::Valid, measured),
    };
    Ok(result.with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::delivery::script::Pulsar;
    use super::super::timeline::script::{MS, Script};
    use super::*;

    fn ctx() -> CheckContext {
        CheckContext {
            workload_end: 20_000 * MS,
            ..CheckContext::default()
        }
    }

    /// Client 1 writes every second from 0 to 4 s, fails from 5 s to 8 s, and succeeds again from
    /// 9 s; client 2 writes once, successfully, at 6.5 s .. 7 s only when `overlap` is set.
    fn outage(overlap: bool) -> History {
        let mut script = Script::new();
        for n in 0..5 {
            script = script.ok_write(1, n, n as u64 * 1_000, n as u64 * 1_000 + 50);
        }
        script = script
            .write(1, 5, 5_000, Some((OpKind::Fail, 5_100)))
            .write(1, 6, 6_000, Some((OpKind::Info, 6_500)))
            .write(1, 7, 7_000, None)
            .write(3, 8, 8_000, Some((OpKind::Fail, 8_100)))
            .ok_write(1, 9, 9_000, 9_200)
            .ok_write(1, 10, 10_000, 10_050);
        if overlap {
            script = script.ok_write(2, 1, 6_500, 7_000);
        }
        script.build()
    }

    #[test]
    fn no_write_is_unknown() {
        let history = Script::new().topology(&["zk-1"], &[]).build();
        let result = check(&history, &ctx(), None, false).unwrap();
        assert_eq!(result.verdict, Verdict::Unknown);
    }

    #[rstest]
    #[case(None, false, Verdict::Valid)]
    #[case(None, true, Verdict::Invalid)]
    #[case(Some(1), false, Verdict::Valid)]
    fn every_write_succeeded(
        #[case] max_secs: Option<u64>,
        #[case] expect_outage: bool,
        #[case] verdict: Verdict,
    ) {
        let history = Script::new()
            .ok_write(1, 0, 0, 10)
            .ok_write(2, 0, 5, 30)
            .build();
        let max = max_secs.map(Duration::from_secs);
        let result = check(&history, &ctx(), max, expect_outage).unwrap();
        assert_eq!(result.verdict, verdict, "{}", result.summary);
        assert_eq!(result.details["count"], 0);
        if expect_outage {
            assert_eq!(
                result.summary,
                "expected an outage, but every write succeeded (2 writes)"
            );
        }
    }

    #[test]
    fn a_window_runs_from_the_first_failed_invoke_to_the_next_ok_completion() {
        let result = check(&outage(false), &ctx(), Some(Duration::from_secs(5)), true).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "1 window without a successful write, 4.2 s in all; longest 4.2 s from 5 s (at most 5 s allowed)"
        );
        assert_eq!(
            result.details["longest"],
            json!({"start": 5.0, "end": 9.2, "duration": 4.2, "failed_writes": 4, "open_at_end": false})
        );
        assert_eq!(
            result.details["writes"],
            json!({"ok": 7, "fail": 2, "info": 1, "incomplete": 1, "total": 11})
        );
    }

    #[test]
    fn a_window_longer_than_allowed_is_invalid() {
        let result = check(&outage(false), &ctx(), Some(Duration::from_secs(3)), false).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        assert!(
            result.summary.ends_with("over the 3 s allowed"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn another_clients_success_splits_the_window() {
        let result = check(&outage(true), &ctx(), Some(Duration::from_secs(3)), false).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(result.details["count"], 2);
        let windows: Vec<(f64, f64)> = result.details["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap()))
            .collect();
        assert_eq!(windows, [(5.0, 7.0), (7.0, 9.2)]);
    }

    #[test]
    fn a_window_never_closed_ends_with_the_workload() {
        let history = Script::new()
            .ok_write(1, 0, 0, 10)
            .write(1, 1, 12_000, Some((OpKind::Info, 14_000)))
            .build();
        let result = check(&history, &ctx(), Some(Duration::from_secs(5)), false).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid, "{}", result.summary);
        assert_eq!(
            result.details["longest"],
            json!({"start": 12.0, "end": 20.0, "duration": 8.0, "failed_writes": 1, "open_at_end": true})
        );
        assert!(
            result.summary.contains("to the end of the workload"),
            "{}",
            result.summary
        );
    }

    #[test]
    fn message_sends_count_as_writes() {
        let history = Script::new()
            .ok_send(0, 0, 0, 10)
            .send(0, 1, 1_000, Some((OpKind::Info, 3_000)))
            .ok_send(0, 2, 4_000, 4_500)
            .build();
        let result = check(&history, &ctx(), Some(Duration::from_secs(5)), true).unwrap();
        assert_eq!(result.verdict, Verdict::Valid, "{}", result.summary);
        assert_eq!(
            result.summary,
            "1 window without a successful send, 3.5 s in all; longest 3.5 s from 1 s (at most 5 s allowed)"
        );
        assert_eq!(
            result.details["writes"],
            json!({"ok": 2, "fail": 0, "info": 1, "incomplete": 0, "total": 3})
        );
        let every = Script::new().ok_send(0, 0, 0, 10).build();
        let result = check(&every, &ctx(), None, false).unwrap();
        assert_eq!(result.summary, "every send succeeded (1 send)");
    }
}

//! The session-expiry check: counts client sessions that expired and explains why from the
//! configured tickTime, the negotiated session timeout and the longest kill, stop, pause, partition or packet loss.
//!
//! ZooKeeper bounds every session timeout to [2 x tickTime, 20 x tickTime] by default, so
//! tickTime=100 caps every session at 2 s: any fault that silences the ensemble longer expires them.

use serde_json::{Value, json};

use super::timeline::{FaultWindow, fault_windows, human, secs, workload_end};
use super::{CheckContext, CheckResult, Verdict};
use crate::history::{F, History};

const NAME: &str = "session-expiry";
const EXAMPLES: usize = 10;

/// Faults that silence a node (or its clients' traffic) long enough to matter for sessions.
const SILENCING: [&str; 5] = ["pause", "stop", "kill", "partition", "packet-loss"];

/// What explains an expiry (or its absence).
struct Cause {
    tick_ms: Option<u64>,
    /// The longest session timeout a server negotiated, from the session events.
    negotiated_ms: Option<u64>,
    /// The longest silencing fault and its length in ns.
    longest_fault: Option<(FaultWindow, u64)>,
}

impl Cause {
    /// The timeout sessions had: as negotiated, else the cap tickTime sets.
    fn timeout_ms(&self) -> Option<u64> {
        self.negotiated_ms.or(self.tick_ms.map(|tick| 20 * tick))
    }

    /// One clause a person reads, e.g. `tickTime=100ms caps sessions at 2000ms (20 x tickTime)
    /// and the 3 s pause exceeded it`.
    fn text(&self) -> String {
        let timeout = match (self.tick_ms, self.negotiated_ms) {
            (Some(tick), None) => format!(
                "tickTime={tick}ms caps sessions at {}ms (20 x tickTime)",
                20 * tick
            ),
            (Some(tick), Some(n)) if n == 20 * tick => {
                format!("tickTime={tick}ms caps sessions at {n}ms (20 x tickTime)")
            }
            (Some(tick), Some(n)) => format!(
                "sessions negotiated {n}ms (tickTime={tick}ms allows {}..{}ms)",
                2 * tick,
                20 * tick
            ),
            (None, Some(n)) => format!("sessions negotiated {n}ms"),
            (None, None) => "the session timeout is unknown".to_string(),
        };
        let fault = match (&self.longest_fault, self.timeout_ms()) {
            (None, _) => "; no kill, stop, pause, partition or packet-loss fault ran".to_string(),
            (Some((window, ns)), Some(timeout)) if *ns > timeout * 1_000_000 => {
                format!(" and the {} {} exceeded it", human(*ns), window.fault)
            }
            (Some((window, ns)), Some(_)) => {
                format!(
                    "; the longest fault, a {} {}, was within it",
                    human(*ns),
                    window.fault
                )
            }
            (Some((window, ns)), None) => {
                format!("; the longest fault was a {} {}", human(*ns), window.fault)
            }
        };
        format!("{timeout}{fault}")
    }

    fn json(&self) -> Value {
        json!({
            "tick_time_ms": self.tick_ms,
            "min_session_timeout_ms": self.tick_ms.map(|tick| 2 * tick),
            "max_session_timeout_ms": self.tick_ms.map(|tick| 20 * tick),
            "negotiated_timeout_ms": self.negotiated_ms,
            "longest_fault": self.longest_fault.as_ref().map(|(window, ns)| json!({
                "fault": window.fault,
                "targets": window.targets,
                "start": secs(window.start),
                "end": window.end.map(secs),
                "duration": secs(*ns),
            })),
        })
    }
}

pub(super) fn check(
    history: &History,
    ctx: &CheckContext,
    expect: bool,
) -> anyhow::Result<CheckResult> {
    let mut events = 0;
    let mut negotiated_ms: Option<u64> = None;
    let mut expired: Vec<(String, u64)> = Vec::new();
    for op in history.with_f(F::Session) {
        events += 1;
        if let Some(timeout) = op.value["negotiated_timeout_ms"].as_u64() {
            negotiated_ms = negotiated_ms.max(Some(timeout));
        }
        if op.value["event"].as_str() == Some("expired") {
            let client = op.process.strip_suffix("/session").unwrap_or(&op.process);
            expired.push((client.to_string(), op.time));
        }
    }
    let client_ops = history
        .ops
        .iter()
        .filter(|op| matches!(op.f, F::Write | F::Read))
        .count();
    if events == 0 && client_ops == 0 {
        return Ok(CheckResult::new(
            NAME,
            Verdict::Unknown,
            "no client sessions in the history, so session expiry cannot be judged",
        ));
    }

    let until = workload_end(history, ctx.workload_end);
    let cause = Cause {
        tick_ms: ctx.tick_time_ms,
        negotiated_ms,
        longest_fault: fault_windows(history)
            .into_iter()
            .filter(|window| SILENCING.contains(&window.fault.as_str()))
            .map(|window| {
                let ns = window.duration(until);
                (window, ns)
            })
            .max_by_key(|(_, ns)| *ns),
    };
    let mut clients: Vec<&str> = expired.iter().map(|(client, _)| client.as_str()).collect();
    clients.sort_unstable();
    clients.dedup();
    let details = json!({
        "expected": expect,
        "expired": expired.len(),
        "clients": clients,
        "examples": expired.iter().take(EXAMPLES)
            .map(|(client, at)| json!({"client": client, "at": secs(*at)}))
            .collect::<Vec<_>>(),
        "session_events": events,
        "cause": cause.json(),
    });

    let (verdict, summary) = match (expired.first(), expect) {
        (Some((client, at)), _) => {
            let count = if expired.len() == 1 {
                format!("1 session expired ({client} at {})", human(*at))
            } else {
                format!(
                    "{} sessions expired (first {client} at {})",
                    expired.len(),
                    human(*at)
                )
            };
            let verdict = if expect {
                Verdict::Valid
            } else {
                Verdict::Invalid
            };
            (verdict, format!("{count}: {}", cause.text()))
        }
        (None, true) => (
            Verdict::Invalid,
            format!(
                "expected a session to expire, but none did; {}",
                cause.text()
            ),
        ),
        (None, false) => {
            let timeout = cause
                .timeout_ms()
                .map(|ms| format!(" (session timeout {ms}ms)"))
                .unwrap_or_default();
            (Verdict::Valid, format!("no session expired{timeout}"))
        }
    };
    Ok(CheckResult::new(NAME, verdict, summary).with_details(details))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::super::timeline::script::{MS, Script, nodes3};
    use super::*;

    fn ctx(tick_time_ms: Option<u64>) -> CheckContext {
        CheckContext {
            nodes: nodes3(),
            tick_time_ms,
            workload_end: 20_000 * MS,
            ..CheckContext::default()
        }
    }

    /// Three clients connect with a `timeout_ms` session; zk-1 is paused from 5 s to 8 s;
    /// `expired` of them see their session expire.
    fn paused(timeout_ms: u64, expired: u32) -> Script {
        let mut script = Script::new()
            .topology(&["zk-1", "zk-2", "zk-3"], &[])
            .fault(5_000, "pause", &["zk-1"], &[])
            .heal(8_000, "pause", &["zk-1"], &[]);
        for client in 1..=3 {
            script = script
                .session(100, client, "connected", Some(timeout_ms))
                .ok_write(client, 1, 200, 210)
                .session(5_100, client, "disconnected", None);
        }
        for client in 1..=expired {
            script = script.session(7_100 + u64::from(client), client, "expired", None);
        }
        script
    }

    #[rstest]
    #[case(true, 2, Verdict::Valid)]
    #[case(false, 2, Verdict::Invalid)]
    fn expiries_are_counted_and_explained(
        #[case] expect: bool,
        #[case] expired: u32,
        #[case] verdict: Verdict,
    ) {
        let result = check(&paused(2_000, expired).build(), &ctx(Some(100)), expect).unwrap();
        assert_eq!(result.verdict, verdict);
        assert_eq!(
            result.summary,
            "2 sessions expired (first client-1 at 7.1 s): tickTime=100ms caps sessions at 2000ms \
             (20 x tickTime) and the 3 s pause exceeded it"
        );
        assert_eq!(result.details["clients"], json!(["client-1", "client-2"]));
        assert_eq!(result.details["cause"]["longest_fault"]["duration"], 3.0);
    }

    #[test]
    fn no_expiry_when_expected_is_invalid() {
        let result = check(&paused(4_000, 0).build(), &ctx(Some(2_000)), true).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "expected a session to expire, but none did; sessions negotiated 4000ms \
             (tickTime=2000ms allows 4000..40000ms); the longest fault, a 3 s pause, was within it"
        );
    }

    #[test]
    fn no_expiry_when_not_expected_is_valid() {
        let result = check(&paused(2_000, 0).build(), &ctx(None), false).unwrap();
        assert_eq!(result.verdict, Verdict::Valid);
        assert_eq!(
            result.summary,
            "no session expired (session timeout 2000ms)"
        );
    }

    #[test]
    fn the_longest_silencing_fault_is_the_suspect_and_unhealed_faults_run_to_the_end() {
        let history = Script::new()
            .session(100, 1, "connected", None)
            .fault(1_000, "pause", &["zk-2"], &[])
            .heal(2_000, "pause", &["zk-2"], &[])
            .fault(3_000, "restart", &["zk-3"], &[])
            .fault(12_000, "kill", &["zk-1"], &["zk-1"])
            .session(15_000, 1, "expired", None)
            .build();
        let result = check(&history, &ctx(Some(200)), true).unwrap();
        assert_eq!(result.verdict, Verdict::Valid);
        assert_eq!(
            result.summary,
            "1 session expired (client-1 at 15 s): tickTime=200ms caps sessions at 4000ms \
             (20 x tickTime) and the 8 s kill exceeded it"
        );
    }

    #[test]
    fn an_expiry_without_a_fault_or_timeout_says_so() {
        let history = Script::new().session(15_000, 1, "expired", None).build();
        let result = check(&history, &ctx(None), false).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        assert_eq!(
            result.summary,
            "1 session expired (client-1 at 15 s): the session timeout is unknown; no kill, stop, pause, partition or packet-loss fault ran"
        );
    }

    #[test]
    fn no_client_activity_is_unknown() {
        let history = Script::new().topology(&["zk-1"], &[]).build();
        let result = check(&history, &ctx(Some(100)), true).unwrap();
        assert_eq!(result.verdict, Verdict::Unknown);
    }
}

//! Clock skew through libfaketime: chaosbed's images preload it for every process and point it
//! at an offset file holding `+0`; a fault writes another offset there (the JVM re-reads it
//! within a second), a strobe is a loop inside the node flipping it, healing writes `+0` back.
//! The host clock is never touched.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Outcome, Request, Undo, first_error, sh};
use crate::backend::Backend;
use crate::scenario::{ClockMode, Offset};

/// The offset file chaosbed's images name in FAKETIME_TIMESTAMP_FILE.
pub const FAKETIME_FILE: &str = "/etc/chaosbed/faketime";
/// Marks the strobe loop so that healing finds and ends it.
const STROBE_MARK: &str = "chaosbed-clock-strobe";
/// How far a clock read may be from the expected offset: libfaketime caches the file for a
/// second, and the read and the host's clock are not taken at the same instant.
const TOLERANCE_SECS: i64 = 3;

fn write_offset(seconds: i64) -> String {
    format!("printf '%+d\\n' {seconds} > {FAKETIME_FILE}")
}

/// The script a node runs for the fault: one write, or a detached loop for a strobe.
fn script(offset: Offset, mode: ClockMode, period_secs: f64) -> String {
    let seconds = offset.seconds();
    match mode {
        ClockMode::Fixed => write_offset(seconds),
        ClockMode::Strobe => format!(
            "{first}; nohup sh -c 'while :; do sleep {period_secs}; {zero}; sleep {period_secs}; {on}; done # {STROBE_MARK}' >/dev/null 2>&1 &",
            first = write_offset(seconds),
            zero = write_offset(0).replace('\'', "'\\''"),
            on = write_offset(seconds).replace('\'', "'\\''"),
        ),
    }
}

/// The node's clock as its processes see it, minus the harness' clock, in seconds.
async fn measured_offset(backend: &impl Backend, node: &str) -> anyhow::Result<i64> {
    let out = sh(backend, node, "date +%s").await?;
    let inside: i64 = out
        .stdout
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("`date +%s` in node {node} printed {:?}", out.stdout))?;
    Ok(inside - chrono::Utc::now().timestamp())
}

pub async fn apply(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let offset = request.params.offset.unwrap_or(Offset::ZERO);
    let mode = request.params.clock.unwrap_or_default();
    let period = request.params.period.map_or(1.0, |p| p.as_secs_f64());
    let script = script(offset, mode, period);
    let mut errors = Vec::new();
    let mut applied = Vec::new();
    let mut measured = BTreeMap::new();
    for node in request.targets {
        if let Err(e) = sh(backend, node, &script).await {
            errors.push(format!(
                "{e:#} (is libfaketime preloaded with FAKETIME_TIMESTAMP_FILE={FAKETIME_FILE}? \
                 chaosbed's images do; other images do not)"
            ));
            continue;
        }
        applied.push(node.clone());
        match measured_offset(backend, node).await {
            Ok(secs) => {
                measured.insert(node.clone(), secs);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let expected = offset.seconds();
    let took_effect = !applied.is_empty()
        && measured.len() == request.targets.len()
        && measured
            .values()
            .all(|m| (m - expected).abs() <= TOLERANCE_SECS);
    Outcome {
        undo: (!applied.is_empty()).then_some(Undo::Clock { nodes: applied }),
        evidence: json!({
            "took_effect": took_effect,
            "mechanism": "libfaketime",
            "mode": mode,
            "expected_offset_secs": expected,
            "measured_offset_secs": measured,
            "reason": if took_effect { "the clock read inside each node is off by the offset" }
                      else { "the clock read inside a node is not off by the offset (libfaketime not preloaded?)" },
        }),
        error: first_error(&errors),
    }
}

pub async fn heal(backend: &impl Backend, nodes: &[String]) -> (Value, Option<String>) {
    let reset = format!(
        // The bracket keeps pkill from matching this very script's command line.
        "pkill -f '{}[{}]' || true; {}; cat {FAKETIME_FILE}",
        &STROBE_MARK[..STROBE_MARK.len() - 1],
        &STROBE_MARK[STROBE_MARK.len() - 1..],
        write_offset(0)
    );
    let mut errors = Vec::new();
    let mut measured = BTreeMap::new();
    for node in nodes {
        if let Err(e) = sh(backend, node, &reset).await {
            errors.push(format!("{e:#}"));
            continue;
        }
        match measured_offset(backend, node).await {
            Ok(secs) => {
                measured.insert(node.clone(), secs);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let clean =
        measured.len() == nodes.len() && measured.values().all(|m| m.abs() <= TOLERANCE_SECS);
    let evidence = json!({
        "took_effect": clean,
        "measured_offset_secs": measured,
        "reason": if clean { "every clock is back to the true time" }
                  else { "a clock is still off after the heal" },
    });
    (evidence, first_error(&errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_skew_writes_the_signed_seconds() {
        let s = script("-10m".parse().unwrap(), ClockMode::Fixed, 1.0);
        assert_eq!(s, "printf '%+d\\n' -600 > /etc/chaosbed/faketime");
    }

    #[test]
    fn a_strobe_is_a_detached_marked_loop() {
        let s = script("+1h".parse().unwrap(), ClockMode::Strobe, 2.0);
        assert!(s.starts_with("printf '%+d\\n' 3600 > /etc/chaosbed/faketime; nohup sh -c"));
        assert!(s.contains("sleep 2;"));
        assert!(s.contains(STROBE_MARK));
        assert!(s.ends_with('&'));
    }
}

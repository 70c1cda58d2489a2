//! Clock skew through libfaketime on any image: every node preloads it from the run's clock
//! volume (mounted read-only, see [`crate::backend::clock`]) and reads its offset from its own
//! file there, `+0` until a fault. The fault writes another offset into that file from the
//! clock keeper, outside the node (the JVM re-reads it within a second); a strobe is a loop in
//! the keeper flipping it; healing writes `+0` back. The host clock is never touched, and an
//! image where the preload cannot work is refused before the run starts ([`check_image`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Outcome, Request, Undo, exited_zero, first_error, sh};
use crate::backend::{Backend, clock};
use crate::scenario::{ClockMode, Offset};

/// Marks a node's strobe loop in the keeper so that healing finds and ends it.
const STROBE_MARK: &str = "chaosbed-clock-strobe";
/// How far a clock read may be from the expected offset: libfaketime caches the file for a
/// second, and the read and the host's clock are not taken at the same instant.
const TOLERANCE_SECS: i64 = 3;
/// The offset an image is probed with: a day, far beyond any tolerance.
const PROBE_OFFSET_SECS: i64 = 86_400;

fn write_offset(node: &str, seconds: i64) -> String {
    format!("printf '%+d\\n' {seconds} > {}", clock::offset_file(node))
}

/// The mark of `node`'s strobe loop; it ends in a colon so that zk-1's never matches zk-10's.
fn strobe_mark(node: &str) -> String {
    format!("{STROBE_MARK}:{node}:")
}

/// The keeper's script for the fault on `node`: one write, or a detached loop for a strobe.
fn script(node: &str, offset: Offset, mode: ClockMode, period_secs: f64) -> String {
    let seconds = offset.seconds();
    match mode {
        ClockMode::Fixed => write_offset(node, seconds),
        ClockMode::Strobe => format!(
            "{first}; nohup sh -c 'while :; do sleep {period_secs}; {zero}; sleep {period_secs}; {on}; done # {mark}' >/dev/null 2>&1 &",
            first = write_offset(node, seconds),
            zero = write_offset(node, 0).replace('\'', "'\\''"),
            on = write_offset(node, seconds).replace('\'', "'\\''"),
            mark = strobe_mark(node),
        ),
    }
}

/// The keeper's script that ends `node`'s strobe (if any) and sets its offset back to zero.
fn reset_script(node: &str) -> String {
    let mark = strobe_mark(node);
    // The bracket keeps pkill from matching this very script's command line.
    let (body, last) = mark.split_at(mark.len() - 1);
    format!(
        "pkill -f '{body}[{last}]' || true; {}; cat {}",
        write_offset(node, 0),
        clock::offset_file(node)
    )
}

/// Runs a shell script in the clock keeper; a non-zero exit is an error carrying its output.
async fn sh_clock(backend: &impl Backend, script: &str) -> anyhow::Result<()> {
    let out = backend.exec_clock(&["sh", "-c", script]).await?;
    exited_zero(out, script, "in the clock keeper").map(|_| ())
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

/// Whether libfaketime preloaded from the clock volume moves the clock in `image`: a
/// throwaway container of it prints the date a day ahead. Refuses, with the reason, an image
/// where it cannot (musl, static binaries, a glibc too old, no shell to measure with).
pub async fn check_image(backend: &impl Backend, image: &str) -> anyhow::Result<()> {
    let refused = |why: String| {
        anyhow::anyhow!(
            "clock skew cannot work on image {image}: {why}. chaosbed preloads libfaketime \
             (built against chaosbed's Debian base image: glibc 2.36 on bookworm) into every node with LD_PRELOAD and reads \
             each node's clock with `sh -c 'date +%s'`; an image on musl (Alpine), of static \
             binaries, or with a glibc older than the library needs ignores or rejects it. Use \
             an image on glibc, or leave the clock-skew fault out of this scenario"
        )
    };
    let out = backend
        .probe_clock(image, "date +%s", PROBE_OFFSET_SECS)
        .await
        .map_err(|e| refused(format!("a shell could not be started in it ({e:#})")))?;
    let printed = out.stdout.trim();
    let Some(inside) = printed
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<i64>().ok())
    else {
        return Err(refused(format!(
            "`date +%s` there exited with {} and printed {printed:?}",
            out.exit_code
        )));
    };
    let off = inside - chrono::Utc::now().timestamp();
    if (off - PROBE_OFFSET_SECS).abs() > 60 {
        let also = printed
            .lines()
            .filter(|l| l.trim().parse::<i64>().is_err())
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(refused(format!(
            "with the clock set a day ahead, `date` there was {off} s off the true time{}",
            if also.is_empty() {
                String::new()
            } else {
                format!(" and printed {also:?}")
            }
        )));
    }
    Ok(())
}

pub async fn apply(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let offset = request.params.offset.unwrap_or(Offset::ZERO);
    let mode = request.params.clock.unwrap_or_default();
    let period = request.params.period.map_or(1.0, |p| p.as_secs_f64());
    let mut errors = Vec::new();
    let mut applied = Vec::new();
    let mut measured = BTreeMap::new();
    let mut files = BTreeMap::new();
    for node in request.targets {
        if let Err(e) = sh_clock(backend, &script(node, offset, mode, period)).await {
            errors.push(format!("{e:#}"));
            continue;
        }
        applied.push(node.clone());
        files.insert(node.clone(), clock::offset_file(node));
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
            "written_by": "the clock keeper, outside the node",
            "offset_files": files,
            "mode": mode,
            "expected_offset_secs": expected,
            "measured_offset_secs": measured,
            "reason": if took_effect { "the clock read inside each node is off by the offset" }
                      else { "the clock read inside a node is not off by the offset" },
        }),
        error: first_error(&errors),
    }
}

pub async fn heal(backend: &impl Backend, nodes: &[String]) -> (Value, Option<String>) {
    let mut errors = Vec::new();
    let mut measured = BTreeMap::new();
    for node in nodes {
        if let Err(e) = sh_clock(backend, &reset_script(node)).await {
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
    use crate::backend::fake::FakeBackend;

    #[test]
    fn a_fixed_skew_writes_the_signed_seconds_into_the_nodes_file() {
        let s = script("zk-2", "-10m".parse().unwrap(), ClockMode::Fixed, 1.0);
        assert_eq!(
            s,
            "printf '%+d\\n' -600 > /opt/chaosbed/faketime/clock/zk-2"
        );
    }

    #[test]
    fn a_strobe_is_a_detached_loop_marked_with_its_node() {
        let s = script("zk-1", "+1h".parse().unwrap(), ClockMode::Strobe, 2.0);
        assert!(
            s.starts_with("printf '%+d\\n' 3600 > /opt/chaosbed/faketime/clock/zk-1; nohup sh -c")
        );
        assert!(s.contains("sleep 2;"));
        assert!(s.contains("chaosbed-clock-strobe:zk-1:"));
        assert!(s.ends_with('&'));
    }

    #[test]
    fn a_reset_ends_only_its_own_nodes_strobe() {
        let s = reset_script("zk-1");
        assert!(s.starts_with("pkill -f 'chaosbed-clock-strobe:zk-1[:]' || true;"));
        assert!(s.contains("printf '%+d\\n' 0 > /opt/chaosbed/faketime/clock/zk-1"));
    }

    #[tokio::test]
    async fn an_image_that_ignores_the_preload_is_refused_with_the_reason() {
        let backend = FakeBackend::new();
        check_image(&backend, "chaosbed/zookeeper:3.9")
            .await
            .unwrap();
        let e = check_image(&backend, "busybox-static").await.unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("clock skew cannot work on image busybox-static"),
            "{text}"
        );
        assert!(text.contains("musl"), "{text}");
        assert_eq!(
            backend.calls(),
            [
                "probe-clock chaosbed/zookeeper:3.9",
                "probe-clock busybox-static"
            ]
        );
    }

    #[tokio::test]
    async fn the_fault_is_written_from_the_keeper_never_inside_the_node() {
        let backend = FakeBackend::new();
        let params = crate::scenario::FaultParams {
            offset: Some("+1h".parse().unwrap()),
            ..Default::default()
        };
        let targets = ["zk-1".to_string()];
        let request = Request {
            fault: 0,
            kind: crate::scenario::FaultKind::ClockSkew,
            params: &params,
            targets: &targets,
            system_nodes: &targets,
            all_nodes: &targets,
            info: &BTreeMap::new(),
            seed: 0,
        };
        let outcome = apply(&backend, &request).await;
        assert!(matches!(outcome.undo, Some(Undo::Clock { .. })));
        let calls = backend.calls();
        assert!(calls[0].starts_with(
            "exec-clock sh -c printf '%+d\\n' 3600 > /opt/chaosbed/faketime/clock/zk-1"
        ));
        assert!(
            calls
                .iter()
                .filter(|c| c.starts_with("exec zk-1"))
                .all(|c| c.ends_with("date +%s"))
        );
        heal(&backend, &targets).await;
        assert!(
            backend
                .calls()
                .iter()
                .any(|c| c.starts_with("exec-clock sh -c pkill"))
        );
    }
}

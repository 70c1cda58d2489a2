//! Resource faults: a node's memory or CPU limit changed at run time (read back from its cgroup),
//! and its data volume filled until no byte is left (read back with df).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Outcome, Request, Undo, first_error, sh};
use crate::backend::{Backend, CPU_PERIOD_US, LimitUpdate};
use crate::scenario::FaultKind;

/// cgroup v1 first, then v2.
const READ_MEMORY_LIMIT: &str = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null \
     || cat /sys/fs/cgroup/memory.max";
const READ_CPU_QUOTA: &str = "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null \
     || cut -d' ' -f1 /sys/fs/cgroup/cpu.max";
const FILL_FILE: &str = ".chaosbed-fill";
/// Below this many free bytes a volume counts as full (file systems keep a few blocks).
const FULL_BELOW: u64 = 64 << 10;

/// The host's memory: a node created without a limit gets this back when a memory fault heals,
/// because Docker cannot remove a memory limit from a running container.
fn host_memory() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(i64::MAX / 2)
}

/// The value a cgroup file holds, `max` (v2, unlimited) read as -1.
fn parse_limit(text: &str) -> Option<i64> {
    match text.trim() {
        "max" => Some(-1),
        other => other.parse().ok(),
    }
}

async fn read_limit(backend: &impl Backend, node: &str, kind: FaultKind) -> anyhow::Result<i64> {
    let script = if kind == FaultKind::Memory {
        READ_MEMORY_LIMIT
    } else {
        READ_CPU_QUOTA
    };
    let out = sh(backend, node, script).await?;
    parse_limit(&out.stdout)
        .ok_or_else(|| anyhow::anyhow!("node {node}'s cgroup limit reads {:?}", out.stdout))
}

/// What the cgroup must read for `update` (memory in bytes, CPU quota in microseconds).
fn wanted(kind: FaultKind, update: &LimitUpdate) -> i64 {
    match kind {
        FaultKind::Memory => update.memory.unwrap_or(-1),
        _ => update.cpu_quota.unwrap_or(-1),
    }
}

fn fault_update(request: &Request<'_>) -> LimitUpdate {
    match request.kind {
        FaultKind::Memory => LimitUpdate {
            memory: request.params.memory.map(|m| m.0 as i64),
            cpu_quota: None,
        },
        _ => LimitUpdate {
            memory: None,
            cpu_quota: request
                .params
                .cpus
                .map(|c| (c * CPU_PERIOD_US as f64).round().max(1000.0) as i64),
        },
    }
}

/// A memory limit is restored to the one the node was created with (or the host's memory);
/// a CPU quota is removed.
fn restore_update(kind: FaultKind, created_with: Option<u64>) -> LimitUpdate {
    match kind {
        FaultKind::Memory => LimitUpdate {
            memory: Some(created_with.map_or_else(host_memory, |m| m as i64)),
            cpu_quota: None,
        },
        _ => LimitUpdate {
            memory: None,
            cpu_quota: Some(-1),
        },
    }
}

pub async fn apply_limits(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let update = fault_update(request);
    let mut errors = Vec::new();
    let mut restore = Vec::new();
    let mut read_back = BTreeMap::new();
    for node in request.targets {
        if let Err(e) = backend.update_limits(node, &update).await {
            errors.push(format!("{e:#}"));
            continue;
        }
        let created_with = request.info.get(node).and_then(|i| i.memory);
        restore.push((node.clone(), restore_update(request.kind, created_with)));
        match read_limit(backend, node, request.kind).await {
            Ok(value) => {
                read_back.insert(node.clone(), value);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let expected = wanted(request.kind, &update);
    let took_effect = !restore.is_empty()
        && read_back.len() == request.targets.len()
        && read_back.values().all(|v| *v == expected);
    Outcome {
        undo: (!restore.is_empty()).then_some(Undo::Limits {
            restore: restore.clone(),
        }),
        evidence: json!({
            "took_effect": took_effect,
            "mechanism": "cgroup",
            "expected": expected,
            "cgroup_read_back": read_back,
            "unit": if request.kind == FaultKind::Memory { "bytes" } else { "microseconds of CPU per 100 ms" },
        }),
        error: first_error(&errors),
    }
}

pub async fn heal_limits(
    backend: &impl Backend,
    restore: &[(String, LimitUpdate)],
) -> (Value, Option<String>) {
    let mut errors = Vec::new();
    let mut read_back = BTreeMap::new();
    let mut matches = true;
    for (node, update) in restore {
        if let Err(e) = backend.update_limits(node, update).await {
            errors.push(format!("{e:#}"));
            matches = false;
            continue;
        }
        let kind = if update.memory.is_some() {
            FaultKind::Memory
        } else {
            FaultKind::Cpu
        };
        match read_limit(backend, node, kind).await {
            Ok(value) => {
                // The kernel rounds a memory limit down to whole pages.
                let expected = wanted(kind, update);
                matches &= value == expected
                    || (kind == FaultKind::Memory && (expected - value).abs() < 4096);
                read_back.insert(node.clone(), value);
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                matches = false;
            }
        }
    }
    let evidence = json!({
        "took_effect": matches,
        "restored": restore.iter().map(|(n, u)| (n.clone(), *u)).collect::<BTreeMap<_, _>>(),
        "cgroup_read_back": read_back,
        "reason": if matches { "every limit reads back as before the fault" }
                  else { "a limit does not read back as before the fault" },
    });
    (evidence, first_error(&errors))
}

/// Free bytes of the file system holding `dir`, as df sees it.
async fn free_bytes(backend: &impl Backend, node: &str, dir: &str) -> anyhow::Result<u64> {
    let out = sh(
        backend,
        node,
        &format!("df -B1 --output=avail {dir} | tail -n 1"),
    )
    .await?;
    out.stdout
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("df in node {node} printed {:?}", out.stdout))
}

pub async fn apply_fill(backend: &impl Backend, request: &Request<'_>) -> Outcome {
    let mut errors = Vec::new();
    let mut filled = Vec::new();
    let mut free_after = BTreeMap::new();
    for node in request.targets {
        let Some(dir) = request.info.get(node).and_then(|i| i.data_dir.clone()) else {
            errors.push(format!("node {node} has no data volume to fill"));
            continue;
        };
        // fallocate takes the bulk at once; dd takes what rounding left, until ENOSPC.
        let fill = format!(
            "free=$(df -B1 --output=avail {dir} | tail -n 1); \
             fallocate -l \"$free\" {dir}/{FILL_FILE} 2>/dev/null || true; \
             dd if=/dev/zero of={dir}/{FILL_FILE}.tail bs=4k 2>/dev/null; true"
        );
        if let Err(e) = sh(backend, node, &fill).await {
            errors.push(format!("{e:#}"));
            continue;
        }
        filled.push((node.clone(), dir.clone()));
        match free_bytes(backend, node, &dir).await {
            Ok(free) => {
                free_after.insert(node.clone(), free);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let took_effect = !filled.is_empty()
        && free_after.len() == request.targets.len()
        && free_after.values().all(|f| *f < FULL_BELOW);
    Outcome {
        undo: (!filled.is_empty()).then_some(Undo::Fill {
            nodes: filled.clone(),
        }),
        evidence: json!({
            "took_effect": took_effect,
            "mechanism": "fallocate + dd into the data volume",
            "free_bytes_after": free_after,
        }),
        error: first_error(&errors),
    }
}

pub async fn heal_fill(
    backend: &impl Backend,
    nodes: &[(String, String)],
) -> (Value, Option<String>) {
    let mut errors = Vec::new();
    let mut free = BTreeMap::new();
    let mut left = BTreeMap::new();
    for (node, dir) in nodes {
        let remove = format!(
            "rm -f {dir}/{FILL_FILE} {dir}/{FILL_FILE}.tail; ls -a {dir} | grep -c {FILL_FILE} || true"
        );
        match sh(backend, node, &remove).await {
            Ok(out) => {
                left.insert(
                    node.clone(),
                    out.stdout.trim().parse::<u64>().unwrap_or(u64::MAX),
                );
            }
            Err(e) => {
                errors.push(format!("{e:#}"));
                continue;
            }
        }
        match free_bytes(backend, node, dir).await {
            Ok(bytes) => {
                free.insert(node.clone(), bytes);
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let clean = left.len() == nodes.len()
        && left.values().all(|c| *c == 0)
        && free.values().all(|f| *f >= FULL_BELOW);
    let evidence = json!({
        "took_effect": clean,
        "free_bytes_after": free,
        "fill_files_left": left,
        "reason": if clean { "the fill files are gone and the volume has room again" }
                  else { "a fill file is left, or the volume is still full" },
    });
    (evidence, first_error(&errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_limits_read_in_both_versions() {
        assert_eq!(parse_limit("268435456\n"), Some(268_435_456));
        assert_eq!(parse_limit("max\n"), Some(-1));
        assert_eq!(parse_limit("-1"), Some(-1));
        assert_eq!(parse_limit("garbage"), None);
    }

    #[test]
    fn a_memory_limit_restores_to_the_one_the_node_was_created_with() {
        let update = restore_update(FaultKind::Memory, Some(1 << 30));
        assert_eq!(update.memory, Some(1 << 30));
        let unlimited = restore_update(FaultKind::Memory, None);
        assert!(unlimited.memory.unwrap() > 1 << 30);
        assert_eq!(restore_update(FaultKind::Cpu, None).cpu_quota, Some(-1));
    }
}

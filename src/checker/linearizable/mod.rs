//! Linearizability of compare-and-set register histories (the ZooKeeper CAS workload): every
//! key is a register holding a JSON value, null at first; `F::Write` sets it, `F::Read` returns
//! it, `F::Cas` sets `value` when it holds `expect`.
//!
//! What each outcome means: an ok read returned `value`; an ok write or CAS took effect; a
//! failed write or CAS certainly did not (dropped), nor does a failed or unknown read tell
//! anything (dropped); a write or CAS of unknown outcome (`info`, or never completed) may have
//! taken effect at any point after its invocation, or never (its response time is +infinity,
//! as in Knossos and Porcupine).
//!
//! Read models (`reads = ...` in the check):
//! - `linearizable`: every operation, reads included, takes effect at one instant between its
//!   invocation and its completion, in one order consistent with the register.
//! - `sequential`: ZooKeeper's own promise. Writes and CAS are linearizable, and so is a read
//!   with `"sync": true`. A plain read may be stale: it takes effect at some point no earlier
//!   than the previous acknowledged operation of its session (`value.session`, else the
//!   process) and no later than its own completion. In the search its lower bound is that
//!   predecessor, not its invocation: every operation that completed before the predecessor was
//!   invoked precedes it, and a predecessor on the same key must be placed before it. (A
//!   predecessor on another key is only known by its invocation time here: keys are checked
//!   one at a time, so that part of the bound is relaxed, never tightened.)
//!
//! The check is P-compositional: each key is checked alone (a history is linearizable iff
//! every key's is), on as many threads as there are cores, largest key first; `search` has the
//! algorithm. A key that is not linearizable yields a counterexample: the longest partial
//! linearization found and the operations that could not follow it. The search has a budget
//! (wall time, memo memory); spent, the verdict is Unknown with how far it got.

mod history;
mod model;
mod search;

pub mod generate;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

pub use crate::scenario::ReadModel;
pub use history::Extractor;
use history::{Extracted, KeyHistory, NONE};
use model::NULL;
use search::{Budget, Counterexample, GaveUp, Outcome, Search};

use super::{CheckResult, Verdict};
use crate::history::{History, Op, OpKind};

const NAME: &str = "linearizable";

/// What a check may spend.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub time: Duration,
    /// Bytes for every key's search structures and memo together.
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(60),
            memory: 1 << 30,
        }
    }
}

/// Checks a history.
pub fn check(history: &History, reads: ReadModel, limits: Limits) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    let mut extractor = Extractor::new(reads);
    for op in &history.ops {
        extractor.push(op)?;
    }
    Ok(check_extracted(extractor.finish()?, reads, limits, started))
}

/// Checks a history.jsonl file, reading it one line at a time. Returns the result and the
/// seconds spent reading the file.
pub fn check_file(
    path: &Path,
    reads: ReadModel,
    limits: Limits,
) -> anyhow::Result<(CheckResult, f64)> {
    use std::io::BufRead as _;
    let started = Instant::now();
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut extractor = Extractor::new(reads);
    for (n, line) in std::io::BufReader::with_capacity(1 << 20, file)
        .lines()
        .enumerate()
    {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let op: Op = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), n + 1))?;
        extractor.push(&op)?;
    }
    let extracted = extractor.finish()?;
    let read_secs = started.elapsed().as_secs_f64();
    Ok((
        check_extracted(extracted, reads, limits, Instant::now()),
        read_secs,
    ))
}

/// `check-history`: checks a history.jsonl file and says so in one JSON line — `verdict`
/// (valid, invalid, unknown), `seconds` (the check, without reading the file), `read_seconds`,
/// `summary`.
pub fn check_file_line(
    path: &Path,
    reads: ReadModel,
    limits: Limits,
) -> anyhow::Result<serde_json::Value> {
    let (result, read_seconds) = check_file(path, reads, limits)?;
    let verdict = match result.verdict {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    };
    Ok(json!({
        "verdict": verdict,
        "seconds": result.details["seconds"],
        "read_seconds": read_seconds,
        "summary": result.summary,
    }))
}

/// How one key ended.
enum KeyOutcome {
    Valid,
    Invalid(Counterexample),
    GaveUp { why: GaveUp, deepest: u32 },
}

/// Searches one key: first for operations that observe a value nobody wrote in time (then the
/// counterexample is a linearization of what came before the first of them), else for a
/// linearization of the whole.
fn check_key(kh: &KeyHistory, budget: &Budget) -> (KeyOutcome, search::Stats) {
    let unwritten = search::unwritten(kh);
    let (part, first) = match unwritten.first() {
        Some(&first) => (
            Some(search::before(kh, kh.defs[first as usize].ret, &unwritten)),
            Some(first),
        ),
        None => (None, None),
    };
    let target = part.as_ref().unwrap_or(kh);
    let mut search = Search::new(target);
    let fixed = search.fixed_bytes();
    let used = budget.memory_used.fetch_add(fixed, Ordering::Relaxed) + fixed;
    let outcome = if used > budget.memory_limit {
        Outcome::GaveUp {
            why: GaveUp::Memory,
            deepest: 0,
        }
    } else {
        search.run(budget)
    };
    budget.memory_used.fetch_sub(fixed, Ordering::Relaxed);
    let outcome = match (outcome, first) {
        (Outcome::Linearizable, None) => KeyOutcome::Valid,
        (Outcome::NotLinearizable(cex), _) => KeyOutcome::Invalid(cex),
        (Outcome::GaveUp { why, deepest }, None) => KeyOutcome::GaveUp { why, deepest },
        // What came before the first unplaceable operation linearizes (or the search for a
        // linearization of it gave up): the counterexample is that operation.
        (other, Some(_)) => {
            let (placed, state, tail) = match other {
                Outcome::Linearizable => {
                    let (placed, state) = search.end();
                    (placed, state, search.tail())
                }
                _ => (0, NULL, Vec::new()),
            };
            KeyOutcome::Invalid(Counterexample {
                placed,
                tail,
                state,
                stuck: unwritten
                    .iter()
                    .take(12)
                    .map(|&pos| kh.defs[pos as usize].meta)
                    .collect(),
                unwritten: true,
            })
        }
    };
    (outcome, search.stats)
}

fn check_extracted(
    ex: Extracted,
    reads: ReadModel,
    limits: Limits,
    started: Instant,
) -> CheckResult {
    let deadline = started + limits.time;
    let memory_used = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let mut order: Vec<usize> = (0..ex.keys.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(ex.keys[k].defs.len() + ex.keys[k].infos.len()));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<(KeyOutcome, search::Stats)>>> =
        Mutex::new((0..ex.keys.len()).map(|_| None).collect());
    // Below this many operations a second thread costs more than it saves.
    const PARALLEL_FROM: u64 = 5_000;
    let threads = if ex.counts.definite + ex.counts.uncertain < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(ex.keys.len())
            .max(1)
    };
    let budget = Budget {
        deadline,
        memory_limit: limits.memory,
        memory_used: &memory_used,
        stop: &stop,
    };
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&k) = order.get(i) else { break };
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let (outcome, stats) = check_key(&ex.keys[k], &budget);
            if matches!(outcome, KeyOutcome::Invalid(_)) {
                stop.store(true, Ordering::Relaxed);
            }
            results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some((outcome, stats));
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    report(&ex, reads, limits, results, started.elapsed())
}

fn report(
    ex: &Extracted,
    reads: ReadModel,
    limits: Limits,
    results: Vec<Option<(KeyOutcome, search::Stats)>>,
    elapsed: Duration,
) -> CheckResult {
    let mut stats = search::Stats::default();
    let (mut valid, mut not_reached) = (0usize, 0usize);
    let mut invalid: Vec<(usize, &Counterexample)> = Vec::new();
    let mut gave_up: Vec<(usize, GaveUp, u32)> = Vec::new();
    for (k, r) in results.iter().enumerate() {
        match r {
            None => not_reached += 1,
            Some((outcome, s)) => {
                stats.configurations += s.configurations;
                stats.memo_entries += s.memo_entries;
                stats.evictions += s.evictions;
                match outcome {
                    KeyOutcome::Valid => valid += 1,
                    KeyOutcome::Invalid(cex) => invalid.push((k, cex)),
                    KeyOutcome::GaveUp {
                        why: GaveUp::Cancelled,
                        ..
                    } => not_reached += 1,
                    KeyOutcome::GaveUp { why, deepest } => gave_up.push((k, *why, *deepest)),
                }
            }
        }
    }
    let c = ex.counts;
    let mut details = json!({
        "reads": reads.name(),
        "keys": ex.keys.len(),
        "keys_valid": valid,
        "keys_not_checked": not_reached,
        "operations": c,
        "seconds": elapsed.as_secs_f64(),
        "search": stats,
        "time_limit_seconds": limits.time.as_secs_f64(),
        "memory_limit_bytes": limits.memory,
    });
    let ops = c.definite + c.uncertain;
    if let Some(&(k, cex)) = invalid.first() {
        let kh = &ex.keys[k];
        let text = counterexample_text(ex, kh, cex, reads);
        let stuck: Vec<_> = cex
            .stuck
            .iter()
            .map(|&meta| op_json(ex, kh, meta, Some(cex.state)))
            .collect();
        let tail: Vec<_> = cex
            .tail
            .iter()
            .map(|p| op_json(ex, kh, p.meta, None))
            .collect();
        details["counterexample"] = json!({
            "key": kh.key,
            "placed": cex.placed,
            "of": kh.defs.len(),
            "state": kh.values.get(cex.state as usize),
            "tail": tail,
            "stuck": stuck,
            "text": text,
        });
        details["invalid_keys"] = json!(
            invalid
                .iter()
                .map(|(k, _)| &ex.keys[*k].key)
                .collect::<Vec<_>>()
        );
        let first = cex
            .stuck
            .iter()
            .map(|&meta| describe(ex, kh, meta))
            .take(3)
            .collect::<Vec<_>>()
            .join("; ");
        let summary = format!(
            "key {}: not linearizable ({} reads): after {} of its {} operations (register = {}), \
             none of these could take effect next: {first}",
            kh.key,
            reads.name(),
            cex.placed,
            kh.defs.len(),
            kh.value(cex.state),
        );
        return CheckResult::new(NAME, Verdict::Invalid, summary).with_details(details);
    }
    if let Some(&(k, why, deepest)) = gave_up.first() {
        let kh = &ex.keys[k];
        let reason = match why {
            GaveUp::Time => format!("time limit {}", humantime::format_duration(limits.time)),
            GaveUp::Memory => format!("memory limit {}", crate::scenario::ByteSize(limits.memory)),
            GaveUp::Cancelled => "cancelled".to_string(),
        };
        details["gave_up"] = json!({
            "key": kh.key,
            "reason": reason,
            "placed": deepest,
            "of": kh.defs.len(),
            "keys": gave_up.iter().map(|(k, _, _)| &ex.keys[*k].key).collect::<Vec<_>>(),
        });
        let summary = format!(
            "undecided: the search of key {} reached its {reason} after placing {deepest} of \
             {} operations; {valid} of {} keys linearizable",
            kh.key,
            kh.defs.len(),
            ex.keys.len()
        );
        return CheckResult::new(NAME, Verdict::Unknown, summary).with_details(details);
    }
    let summary = format!(
        "{ops} operations on {} keys linearizable ({} reads; {} of unknown outcome, {} failed \
         and {} unknown reads dropped) in {:.2}s",
        ex.keys.len(),
        reads.name(),
        c.uncertain,
        c.dropped_failed,
        c.dropped_reads,
        elapsed.as_secs_f64()
    );
    CheckResult::new(NAME, Verdict::Valid, summary).with_details(details)
}

/// The operation (by meta index) as one line: `#12-#15 client-3 cas /k 7->9 ok [1.2s, 1.3s]`.
fn describe(ex: &Extracted, kh: &KeyHistory, meta: u32) -> String {
    let m = &kh.meta[meta as usize];
    let action = action_of(kh, meta);
    let what = match action {
        Some(model::Action::Read(v)) => format!("read -> {}", kh.value(v)),
        Some(model::Action::Write(v)) => format!("write {}", kh.value(v)),
        Some(model::Action::Cas { expect, new }) => {
            format!("cas {} -> {}", kh.value(expect), kh.value(new))
        }
        None => format!("{:?}", m.f),
    };
    let kind = match m.kind {
        OpKind::Ok => "ok",
        OpKind::Info => "info",
        OpKind::Fail => "fail",
        OpKind::Invoke => "open",
    };
    let plain = if m.plain_read { " (plain read)" } else { "" };
    let end = match (m.complete_index, m.complete_time) {
        (Some(i), Some(t)) => (format!("#{i}"), format!("{:.6}s", t as f64 / 1e9)),
        _ => ("never completed".into(), "...".into()),
    };
    format!(
        "#{}..{} {} {}{plain} {kind} [{:.6}s, {}]",
        m.invoke_index,
        end.0,
        ex.processes
            .get(m.process as usize)
            .map(String::as_str)
            .unwrap_or("?"),
        what,
        m.invoke_time as f64 / 1e9,
        end.1
    )
}

fn action_of(kh: &KeyHistory, meta: u32) -> Option<model::Action> {
    kh.defs
        .iter()
        .find(|d| d.meta == meta)
        .map(|d| d.action)
        .or_else(|| kh.infos.iter().find(|u| u.meta == meta).map(|u| u.action))
}

fn op_json(ex: &Extracted, kh: &KeyHistory, meta: u32, state: Option<u32>) -> serde_json::Value {
    let m = &kh.meta[meta as usize];
    let action = action_of(kh, meta);
    let mut v = json!({
        "index": m.invoke_index,
        "completion_index": m.complete_index,
        "process": ex.processes.get(m.process as usize),
        "f": m.f,
        "kind": m.kind,
        "time": m.invoke_time,
        "completion_time": m.complete_time,
        "text": describe(ex, kh, meta),
    });
    match action {
        Some(model::Action::Read(x)) => v["value"] = kh.values[x as usize].clone(),
        Some(model::Action::Write(x)) => v["value"] = kh.values[x as usize].clone(),
        Some(model::Action::Cas { expect, new }) => {
            v["expect"] = kh.values[expect as usize].clone();
            v["value"] = kh.values[new as usize].clone();
        }
        None => {}
    }
    if let (Some(s), Some(a)) = (state, action) {
        v["fits_state"] = json!(a.step(s).is_some());
    }
    v
}

fn counterexample_text(
    ex: &Extracted,
    kh: &KeyHistory,
    cex: &Counterexample,
    reads: ReadModel,
) -> String {
    let mut out = format!(
        "key {} is not linearizable ({} reads).\nThe longest partial linearization found places \
         {} of its {} acknowledged operations",
        kh.key,
        reads.name(),
        cex.placed,
        kh.defs.len()
    );
    if cex.tail.is_empty() {
        out.push_str(".\n");
    } else {
        out.push_str(", ending with:\n");
        for p in &cex.tail {
            let applied = if p.uncertain {
                "  (unknown outcome, taken to have applied)"
            } else {
                ""
            };
            out.push_str(&format!("  {}{applied}\n", describe(ex, kh, p.meta)));
        }
    }
    out.push_str(&format!(
        "The register then holds {}. None of these operations, next in real time, leads to a \
         linearization:\n",
        kh.value(cex.state)
    ));
    for &meta in &cex.stuck {
        let Some(d) = kh.defs.iter().find(|d| d.meta == meta) else {
            continue;
        };
        let why = if cex.unwritten {
            let v = d.action.observes().unwrap_or(NULL);
            let writer = kh
                .defs
                .iter()
                .map(|w| (w.lower, w.action, w.meta))
                .chain(kh.infos.iter().map(|u| (u.call, u.action, u.meta)))
                .filter(|(_, a, _)| a.writes() == Some(v))
                .min_by_key(|(call, _, _)| *call);
            match writer {
                Some((_, _, m)) => format!(
                    "it observes {}, which no operation invoked before it completed writes \
                     (the first write of it: {})",
                    kh.value(v),
                    describe(ex, kh, m)
                ),
                None => format!("it observes {}, which no operation writes", kh.value(v)),
            }
        } else if d.action.step(cex.state).is_none() {
            match d.action {
                model::Action::Read(_) => {
                    format!("it read another value than {}", kh.value(cex.state))
                }
                model::Action::Cas { expect, .. } => format!(
                    "it expected {}, not {}",
                    kh.value(expect),
                    kh.value(cex.state)
                ),
                model::Action::Write(_) => String::new(),
            }
        } else {
            "every order after it fails later".to_string()
        };
        let after = if d.after != NONE {
            format!(
                " (after its session's #{})",
                kh.meta[kh.defs[d.after as usize].meta as usize].invoke_index
            )
        } else {
            String::new()
        };
        out.push_str(&format!("  {}{after}: {why}\n", describe(ex, kh, d.meta)));
    }
    out
}

#[cfg(test)]
mod tests;

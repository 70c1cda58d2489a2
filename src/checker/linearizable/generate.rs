//! Histories of a simulated linearizable compare-and-set register, for the tests and for
//! `cargo xtask bench checker`: `p` processes run operations of random durations on `k` keys,
//! each taking effect at a random instant inside its interval, in the format the CAS workload
//! records. Deterministic from the seed. Optionally one violation is injected: a read
//! returning a value the register could not hold at that time.

use std::collections::BinaryHeap;
use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value as Json, json};

use crate::history::{F, History, Op, OpKind};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Operations (each an invocation and a completion).
    pub ops: usize,
    pub processes: usize,
    pub keys: usize,
    /// The fraction of operations whose outcome is unknown (`info`); half of the writes and
    /// CAS among them took effect.
    pub info: f64,
    /// Inject one violation.
    pub violation: bool,
    /// Make the violation a stale read (values unique): a read returning the value that an
    /// acknowledged write overwrote before the read was invoked, which only a search over the
    /// orders of the operations before it refutes. A violation only when reads are
    /// linearizable. Otherwise (and when no such read exists) the read returns a value first
    /// written after it completed.
    pub stale: bool,
    pub seed: u64,
    /// Values written: unique per key (`None`), or drawn from `0..n`.
    pub values: Option<u32>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            ops: 1000,
            processes: 5,
            keys: 3,
            info: 0.0,
            violation: false,
            stale: false,
            seed: 0,
            values: None,
        }
    }
}

/// The injected violation: a read (by its invocation's and completion's `index`) made to
/// return `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    pub invoke_index: u64,
    pub completion_index: u64,
    pub key: String,
    pub value: Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fail,
    Info,
}

struct SimOp {
    process: u32,
    key: u32,
    kind: Kind,
    invoke: u64,
    ret: u64,
    lin: u64,
    outcome: Outcome,
    sync: bool,
    /// Write's or CAS's new value; read's result.
    value: Option<i64>,
    expect: Option<i64>,
}

/// Everything simulated, and the event order.
struct Simulated {
    ops: Vec<SimOp>,
    /// (time, op, is invocation), in history order with strictly increasing times.
    events: Vec<(u64, u32, bool)>,
    injected: Option<u32>,
}

fn simulate(spec: &Spec) -> Simulated {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let processes = spec.processes.max(1);
    let keys = spec.keys.max(1);
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, u32)>> = (0..processes as u32)
        .map(|p| std::cmp::Reverse((rng.random_range(0..1000u64), p)))
        .collect();
    let mut ops = Vec::with_capacity(spec.ops);
    for _ in 0..spec.ops {
        let Some(std::cmp::Reverse((t, p))) = heap.pop() else {
            break;
        };
        let d = if rng.random_bool(0.05) {
            rng.random_range(2..=200_000u64)
        } else {
            rng.random_range(2..=20_000u64)
        };
        let r: f64 = rng.random();
        let kind = if r < 0.4 {
            Kind::Read
        } else if r < 0.7 {
            Kind::Write
        } else {
            Kind::Cas
        };
        let info = rng.random_bool(spec.info.clamp(0.0, 1.0));
        ops.push(SimOp {
            process: p,
            key: rng.random_range(0..keys as u32),
            kind,
            invoke: t,
            ret: t + d,
            lin: t + 1 + rng.random_range(0..d - 1),
            outcome: if info { Outcome::Info } else { Outcome::Ok },
            sync: kind == Kind::Read && rng.random_bool(0.5),
            value: None,
            expect: None,
        });
        heap.push(std::cmp::Reverse((
            t + d + rng.random_range(1..=3000u64),
            p,
        )));
    }

    // The register: every operation takes effect at its instant, in instant order.
    let mut order: Vec<u32> = (0..ops.len() as u32).collect();
    order.sort_by_key(|&i| ops[i as usize].lin);
    let mut register: Vec<Option<i64>> = vec![None; keys];
    let mut written: Vec<i64> = vec![0; keys];
    for &i in &order {
        let op = &mut ops[i as usize];
        let k = op.key as usize;
        let fresh = |written: &mut Vec<i64>, rng: &mut ChaCha8Rng| match spec.values {
            Some(n) => rng.random_range(0..n.max(1) as i64),
            None => {
                written[k] += 1;
                written[k]
            }
        };
        match op.kind {
            Kind::Read => op.value = register[k],
            Kind::Write => {
                let v = fresh(&mut written, &mut rng);
                op.value = Some(v);
                if op.outcome == Outcome::Ok || rng.random_bool(0.5) {
                    register[k] = Some(v);
                }
            }
            Kind::Cas => {
                let expect = match register[k] {
                    Some(current) if rng.random_bool(0.6) => current,
                    _ => match spec.values {
                        Some(n) => rng.random_range(0..n.max(1) as i64),
                        None => rng.random_range(1..=written[k] + 1),
                    },
                };
                let v = fresh(&mut written, &mut rng);
                op.expect = Some(expect);
                op.value = Some(v);
                let holds = register[k] == Some(expect);
                match op.outcome {
                    Outcome::Info => {
                        if holds && rng.random_bool(0.5) {
                            register[k] = Some(v);
                        }
                    }
                    _ if holds => register[k] = Some(v),
                    _ => op.outcome = Outcome::Fail,
                }
            }
        }
    }

    let injected = if spec.violation {
        inject(spec, &mut ops, &mut rng)
    } else {
        None
    };

    let mut events: Vec<(u64, u32, bool)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoke, i as u32, true));
        events.push((op.ret, i as u32, false));
    }
    events.sort_unstable_by_key(|&(t, i, invoke)| (t, i, !invoke));
    let mut last = 0u64;
    for e in &mut events {
        e.0 = e.0.max(last + 1);
        last = e.0;
    }
    Simulated {
        ops,
        events,
        injected,
    }
}

/// Makes one ok read in the middle of the history return a value the register could not hold
/// then: one first written by an operation invoked after the read completed (values unique),
/// or one never written.
fn inject(spec: &Spec, ops: &mut [SimOp], rng: &mut ChaCha8Rng) -> Option<u32> {
    let n = ops.len();
    let reads: Vec<u32> = (n / 4..(3 * n / 4).max(n / 4 + 1).min(n))
        .filter(|&i| ops[i].kind == Kind::Read && ops[i].outcome == Outcome::Ok)
        .map(|i| i as u32)
        .collect();
    let reads = if reads.is_empty() {
        (0..n)
            .filter(|&i| ops[i].kind == Kind::Read && ops[i].outcome == Outcome::Ok)
            .map(|i| i as u32)
            .collect()
    } else {
        reads
    };
    if reads.is_empty() {
        return None;
    }
    if spec.stale && spec.values.is_none() {
        if let Some(r) = stale(ops, &reads, rng) {
            return Some(r);
        }
    }
    let r = reads[rng.random_range(0..reads.len())];
    let (key, ret) = (ops[r as usize].key, ops[r as usize].ret);
    let future = if spec.values.is_none() {
        ops.iter()
            .filter(|o| o.key == key && o.kind != Kind::Read && o.invoke > ret)
            .min_by_key(|o| o.invoke)
            .and_then(|o| o.value)
    } else {
        None
    };
    ops[r as usize].value = Some(future.unwrap_or(1_000_000_007));
    Some(r)
}

/// Makes a read return the value of an acknowledged write W0 that an acknowledged write W
/// invoked after W0 completed overwrote, W having completed before the read was invoked.
fn stale(ops: &mut [SimOp], reads: &[u32], rng: &mut ChaCha8Rng) -> Option<u32> {
    let applied = |o: &SimOp| o.kind != Kind::Read && o.outcome == Outcome::Ok;
    for _ in 0..32 {
        let r = reads[rng.random_range(0..reads.len())] as usize;
        let (key, invoke) = (ops[r].key, ops[r].invoke);
        // The latest-completing W before the read, then a W0 completed before W was invoked.
        let w = ops
            .iter()
            .filter(|o| o.key == key && applied(o) && o.ret < invoke)
            .max_by_key(|o| o.ret)?;
        let old = ops
            .iter()
            .filter(|o| o.key == key && applied(o) && o.ret < w.invoke)
            .max_by_key(|o| o.ret)
            .and_then(|o| o.value);
        if let Some(old) = old.filter(|&v| Some(v) != ops[r].value) {
            ops[r].value = Some(old);
            return Some(r as u32);
        }
    }
    None
}

fn op_json(op: &SimOp, invoke: bool) -> (Json, Option<String>) {
    let key = format!("/k{}", op.key);
    let session = format!("{:x}", 0x1a2b0 + op.process);
    let mut value = match op.kind {
        Kind::Read => {
            let v = if invoke || op.outcome != Outcome::Ok {
                Json::Null
            } else {
                op.value.map_or(Json::Null, Json::from)
            };
            json!({"key": key, "value": v, "session": session})
        }
        Kind::Write => json!({"key": key, "value": op.value, "session": session}),
        Kind::Cas => {
            json!({"key": key, "expect": op.expect, "value": op.value, "session": session})
        }
    };
    if op.sync {
        value["sync"] = json!(true);
    }
    let error = match (invoke, op.outcome) {
        (false, Outcome::Info) => Some("timeout".to_string()),
        (false, Outcome::Fail) => Some("bad version".to_string()),
        _ => None,
    };
    (value, error)
}

fn to_ops(sim: &Simulated) -> impl Iterator<Item = Op> + '_ {
    sim.events
        .iter()
        .enumerate()
        .map(move |(index, &(time, i, invoke))| {
            let op = &sim.ops[i as usize];
            let (value, error) = op_json(op, invoke);
            Op {
                index: index as u64,
                time,
                process: format!("client-{}", op.process),
                f: match op.kind {
                    Kind::Read => F::Read,
                    Kind::Write => F::Write,
                    Kind::Cas => F::Cas,
                },
                kind: match (invoke, op.outcome) {
                    (true, _) => OpKind::Invoke,
                    (false, Outcome::Ok) => OpKind::Ok,
                    (false, Outcome::Fail) => OpKind::Fail,
                    (false, Outcome::Info) => OpKind::Info,
                },
                value,
                error,
            }
        })
}

fn injected(sim: &Simulated) -> Option<Injected> {
    let r = sim.injected?;
    let mut at = sim
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.1 == r)
        .map(|(i, _)| i as u64);
    let op = &sim.ops[r as usize];
    Some(Injected {
        invoke_index: at.next()?,
        completion_index: at.next()?,
        key: format!("/k{}", op.key),
        value: op.value.map_or(Json::Null, Json::from),
    })
}

/// A history, and the violation injected into it.
pub fn generate(spec: &Spec) -> (History, Option<Injected>) {
    let sim = simulate(spec);
    (History::new(to_ops(&sim).collect()), injected(&sim))
}

/// Writes the history as history.jsonl (one operation per line), without holding it whole.
pub fn write_jsonl(spec: &Spec, out: &mut impl Write) -> io::Result<Option<Injected>> {
    let sim = simulate(spec);
    for op in to_ops(&sim) {
        serde_json::to_writer(&mut *out, &op)?;
        out.write_all(b"\n")?;
    }
    Ok(injected(&sim))
}

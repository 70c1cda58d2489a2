//! One violation, injected into a valid history. Each function returns the mutated history and
//! what it injected — the key, message or trace id, node, system or time the checker must name —
//! or `None` when the history holds nothing to mutate that way. A victim is drawn with a
//! proptest `Index` among the candidates; where a checker lists only its first ten examples, the
//! candidates are those it would list.

use std::collections::{HashMap, HashSet};

use proptest::sample::Index;
use serde_json::{Value, json};

use crate::history::{F, History, Op, OpKind};
use crate::workload::pulsar::READ_BACK_PHASE;

/// Examples a checker lists at most (each checker's `EXAMPLES`).
const EXAMPLES: usize = 10;

/// The error an injected failure carries.
pub const INJECTED: &str = "injected by the mutation test";

/// Sorts by time (stably: a completion stays after its invoke, a copy after its original) and
/// numbers the ops from 0, as the recorder does.
pub fn renumber(mut ops: Vec<Op>) -> History {
    ops.sort_by_key(|op| op.time);
    for (index, op) in ops.iter_mut().enumerate() {
        op.index = index as u64;
    }
    History::new(ops)
}

fn choose<T>(mut candidates: Vec<T>, at: &Index) -> Option<T> {
    if candidates.is_empty() {
        return None;
    }
    let chosen = at.index(candidates.len());
    Some(candidates.swap_remove(chosen))
}

fn id_of(op: &Op) -> Option<&str> {
    op.value["id"].as_str()
}

/// Whether `rank` (how many already-found breaches precede the victim) keeps it among the
/// examples a checker lists.
fn listed(rank: usize) -> bool {
    rank < EXAMPLES
}

/// Positions of `op`s completions, paired with their invokes (`History::pairs` returns
/// references; every history here has `index` equal to its position).
fn pairs_at(history: &History) -> Vec<(usize, Option<usize>)> {
    history
        .pairs()
        .into_iter()
        .map(|(invoke, done)| (invoke.index as usize, done.map(|op| op.index as usize)))
        .collect()
}

// ---- no-lost-writes ------------------------------------------------------------------------

/// Removes an acknowledged write's key from the final read.
pub fn drop_from_final_read(history: &History, at: &Index) -> Option<(History, String)> {
    let final_at = history
        .ops
        .iter()
        .rposition(|op| op.f == F::FinalRead && op.kind == OpKind::Ok)?;
    let keys = history.ops[final_at].value["keys"].as_object()?;
    let candidates: Vec<String> = history
        .pairs()
        .into_iter()
        .filter(|(invoke, done)| {
            invoke.f == F::Write && done.is_some_and(|op| op.kind == OpKind::Ok)
        })
        .filter_map(|(invoke, _)| {
            let key = invoke.value["key"].as_str()?;
            (keys.get(key) == Some(&invoke.value["value"])).then(|| key.to_string())
        })
        .collect();
    let key = choose(candidates, at)?;
    let mut ops = history.ops.clone();
    ops[final_at].value["keys"].as_object_mut()?.remove(&key);
    Some((renumber(ops), key))
}

// ---- availability, recovery, trace-queries -------------------------------------------------

/// Turns every successful `fs` operation invoked or completed within `[from, to]` (ns) into a
/// failure. Returns the mutated history and how many it failed.
pub fn fail_between(history: &History, fs: &[F], from: u64, to: u64) -> (History, usize) {
    let within = |t: u64| t >= from && t <= to;
    let mut ops = history.ops.clone();
    let mut failed = 0;
    for (invoke, done) in pairs_at(history) {
        let Some(done) = done else { continue };
        let (i, d) = (&history.ops[invoke], &history.ops[done]);
        if fs.contains(&i.f) && d.kind == OpKind::Ok && (within(i.time) || within(d.time)) {
            ops[done].kind = OpKind::Fail;
            ops[done].error = Some(INJECTED.to_string());
            failed += 1;
        }
    }
    (renumber(ops), failed)
}

// ---- delivery ------------------------------------------------------------------------------

fn is_delivery(op: &Op) -> bool {
    op.f == F::Receive
        && op.kind == OpKind::Ok
        && op.value["phase"].as_str() != Some(READ_BACK_PHASE)
}

fn is_read_back(op: &Op) -> bool {
    op.f == F::Receive
        && op.kind == OpKind::Ok
        && op.value["phase"].as_str() == Some(READ_BACK_PHASE)
}

/// The ids of acknowledged sends (a send's `Ok` carries its id).
fn acknowledged(history: &History) -> HashSet<&str> {
    history
        .ops
        .iter()
        .filter(|op| op.f == F::Send && op.kind == OpKind::Ok)
        .filter_map(id_of)
        .collect()
}

/// Removes every delivery (not the read-back's) of one acknowledged, delivered message.
pub fn drop_delivery(history: &History, at: &Index) -> Option<(History, String)> {
    let acked = acknowledged(history);
    let mut seen = HashSet::new();
    let candidates: Vec<String> = history
        .ops
        .iter()
        .filter(|op| is_delivery(op))
        .filter_map(id_of)
        .filter(|id| acked.contains(*id) && seen.insert(*id))
        .map(str::to_string)
        .collect();
    let id = choose(candidates, at)?;
    let ops = history
        .ops
        .iter()
        .filter(|op| !(is_delivery(op) && id_of(op) == Some(&id)))
        .cloned()
        .collect();
    Some((renumber(ops), id))
}

/// Delivers one acknowledged message `copies` more times, right after its first delivery, each
/// a redelivery. Only messages the check would list among its duplicated examples are chosen.
pub fn duplicate_delivery(
    history: &History,
    at: &Index,
    copies: usize,
) -> Option<(History, String)> {
    let acked = acknowledged(history);
    let mut deliveries: HashMap<&str, usize> = HashMap::new();
    for op in history.ops.iter().filter(|op| is_delivery(op)) {
        *deliveries.entry(id_of(op).unwrap_or("")).or_default() += 1;
    }
    // First deliveries in order, with how many already-duplicated messages precede each.
    let mut seen = HashSet::new();
    let mut rank = 0;
    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (pos, op) in history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| is_delivery(op))
    {
        let Some(id) = id_of(op) else { continue };
        if !seen.insert(id) {
            continue;
        }
        if deliveries[id] > 1 {
            rank += 1;
        } else if acked.contains(id) && listed(rank) {
            candidates.push((pos, id.to_string()));
        }
    }
    let (pos, id) = choose(candidates, at)?;
    let mut ops = history.ops.clone();
    for n in 1..=copies {
        let mut copy = history.ops[pos].clone();
        copy.value["redelivery_count"] = json!(n);
        ops.insert(pos + n, copy);
    }
    Some((renumber(ops), id))
}

/// Swaps two consecutive first deliveries of one producer, so that the earlier message of the
/// two arrives after the later one. Returns the message now out of order.
pub fn reorder(history: &History, at: &Index) -> Option<(History, String)> {
    let mut seen = HashSet::new();
    let mut last_first: HashMap<&str, usize> = HashMap::new();
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for (pos, op) in history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| is_delivery(op))
    {
        let (Some(id), Some(producer), Some(_)) = (
            id_of(op),
            op.value["producer"].as_str(),
            op.value["seq"].as_u64(),
        ) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        if let Some(previous) = last_first.insert(producer, pos) {
            candidates.push((previous, pos));
        }
    }
    let (first, second) = choose(candidates, at)?;
    let late = id_of(&history.ops[first])?.to_string();
    let mut ops = history.ops.clone();
    let value = std::mem::take(&mut ops[first].value);
    ops[first].value = std::mem::replace(&mut ops[second].value, value);
    Some((renumber(ops), late))
}

/// Removes one acknowledged message from the read-back.
pub fn drop_read_back(history: &History, at: &Index) -> Option<(History, String)> {
    let acked = acknowledged(history);
    let mut seen = HashSet::new();
    let candidates: Vec<String> = history
        .ops
        .iter()
        .filter(|op| is_read_back(op))
        .filter_map(id_of)
        .filter(|id| acked.contains(*id) && seen.insert(*id))
        .map(str::to_string)
        .collect();
    let id = choose(candidates, at)?;
    let ops = history
        .ops
        .iter()
        .filter(|op| !(is_read_back(op) && id_of(op) == Some(&id)))
        .cloned()
        .collect();
    Some((renumber(ops), id))
}

/// Removes every message the read-back read: it subscribed, and nothing came.
pub fn empty_read_back(history: &History) -> Option<(History, usize)> {
    let read = history.ops.iter().filter(|op| is_read_back(op)).count();
    let ops = history
        .ops
        .iter()
        .filter(|op| !is_read_back(op))
        .cloned()
        .collect();
    (read > 0).then(|| (renumber(ops), read))
}

// ---- quorum --------------------------------------------------------------------------------

/// Makes a follower of one role sample answer `leader` in the epoch of the sample's newest
/// leader. Returns the sample's time and the node.
pub fn second_leader(history: &History, at: &Index) -> Option<(History, u64, String)> {
    let leading = |role: &Value| matches!(role.as_str(), Some("leader" | "standalone"));
    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (pos, op) in history.ops.iter().enumerate() {
        if op.f != F::Roles || op.kind != OpKind::Ok {
            continue;
        }
        let Some(roles) = op.value["roles"].as_object() else {
            continue;
        };
        if !roles.values().any(leading) {
            continue;
        }
        for (node, role) in roles {
            if role.as_str() == Some("follower") {
                candidates.push((pos, node.clone()));
            }
        }
    }
    let (pos, node) = choose(candidates, at)?;
    let mut ops = history.ops.clone();
    let sample = &mut ops[pos].value;
    let leaders: Vec<String> = sample["roles"]
        .as_object()?
        .iter()
        .filter(|(_, role)| leading(role))
        .map(|(n, _)| n.clone())
        .collect();
    sample["roles"][&node] = json!("leader");
    if let Some(epochs) = sample["epochs"].as_object_mut() {
        let known: Option<Vec<u64>> = leaders.iter().map(|l| epochs.get(l)?.as_u64()).collect();
        if let Some(newest) = known.and_then(|e| e.into_iter().max()) {
            epochs.insert(node.clone(), json!(newest));
        }
    }
    let time = ops[pos].time;
    Some((renumber(ops), time, node))
}

// ---- traces --------------------------------------------------------------------------------

/// Every emitted trace id with its first emission's time, in emission order.
fn emissions(history: &History) -> Vec<(&str, u64)> {
    let mut seen = HashSet::new();
    history
        .ops
        .iter()
        .filter(|op| op.f == F::Trace && op.kind == OpKind::Invoke)
        .filter_map(|op| Some((id_of(op)?, op.time)))
        .filter(|(id, _)| seen.insert(*id))
        .collect()
}

fn is_found(op: &Op) -> bool {
    op.f == F::TraceFound && op.kind == OpKind::Ok
}

/// When the reader first found each trace in the run's window.
fn first_found(history: &History) -> HashMap<&str, u64> {
    let mut found = HashMap::new();
    for op in history.ops.iter().filter(|op| is_found(op)) {
        if op.value["phase"].as_str() == Some("displaced") {
            continue;
        }
        if let Some(id) = id_of(op) {
            found.entry(id).or_insert(op.time);
        }
    }
    found
}

/// Removes every find of one found trace: it is lost.
pub fn lose_trace(history: &History, at: &Index) -> Option<(History, String)> {
    let found = first_found(history);
    let mut lost_before = 0;
    let mut candidates: Vec<String> = Vec::new();
    for (id, _) in emissions(history) {
        match found.get(id) {
            None => lost_before += 1,
            Some(_) if listed(lost_before) => candidates.push(id.to_string()),
            Some(_) => {}
        }
    }
    let id = choose(candidates, at)?;
    let ops = history
        .ops
        .iter()
        .filter(|op| !(is_found(op) && id_of(op) == Some(&id)))
        .cloned()
        .collect();
    Some((renumber(ops), id))
}

/// Moves every find of one trace found in time so that it is first found `late_after + by` ns
/// after its emission.
pub fn make_late(
    history: &History,
    at: &Index,
    late_after: u64,
    by: u64,
) -> Option<(History, String)> {
    let found = first_found(history);
    let mut late_before = 0;
    let mut candidates: Vec<(String, u64, u64)> = Vec::new();
    for (id, emitted) in emissions(history) {
        let Some(first) = found.get(id).copied() else {
            continue;
        };
        if first.saturating_sub(emitted) > late_after {
            late_before += 1;
        } else if listed(late_before) {
            candidates.push((id.to_string(), emitted, first));
        }
    }
    let (id, emitted, first) = choose(candidates, at)?;
    let shift = (emitted + late_after + by) - first;
    let mut ops = history.ops.clone();
    for op in ops
        .iter_mut()
        .filter(|op| is_found(op) && id_of(op) == Some(&id))
    {
        op.time += shift;
    }
    Some((renumber(ops), id))
}

// ---- session-expiry ------------------------------------------------------------------------

/// Removes every session expiry.
pub fn drop_expiries(history: &History) -> Option<(History, usize)> {
    let expired = |op: &Op| op.f == F::Session && op.value["event"].as_str() == Some("expired");
    let count = history.ops.iter().filter(|op| expired(op)).count();
    let ops = history
        .ops
        .iter()
        .filter(|op| !expired(op))
        .cloned()
        .collect();
    (count > 0).then(|| (renumber(ops), count))
}

/// Adds an expiry of `client`'s session at `time` (ns).
pub fn add_expiry(history: &History, client: &str, time: u64) -> History {
    let mut ops = history.ops.clone();
    ops.push(Op {
        index: 0,
        time,
        process: format!("{client}/session"),
        f: F::Session,
        kind: OpKind::Info,
        value: json!({"event": "expired", "state": "Expired"}),
        error: None,
    });
    renumber(ops)
}

// ---- topic-ownership, bookies-registered ---------------------------------------------------

/// Adds a second owner to a bundle one broker owns in one ownership sample. Returns the sample's
/// time, the bundle and the broker added.
pub fn second_owner(
    history: &History,
    at: &Index,
    brokers: &[String],
) -> Option<(History, u64, String, String)> {
    let mut candidates: Vec<(usize, String, String)> = Vec::new();
    for (pos, op) in history.ops.iter().enumerate() {
        if op.f != F::Ownership || op.kind != OpKind::Ok {
            continue;
        }
        let Some(owners) = op.value["owners"].as_object() else {
            continue;
        };
        for (bundle, owner) in owners {
            if let Some([only]) = owner.as_array().map(Vec::as_slice)
                && let Some(only) = only.as_str()
            {
                candidates.push((pos, bundle.clone(), only.to_string()));
            }
        }
    }
    let (pos, bundle, owner) = choose(candidates, at)?;
    let others: Vec<&String> = brokers.iter().filter(|b| **b != owner).collect();
    let added = choose(others, at)?.clone();
    let mut ops = history.ops.clone();
    ops[pos].value["owners"][&bundle]
        .as_array_mut()?
        .push(json!(added));
    let time = ops[pos].time;
    Some((renumber(ops), time, bundle, added))
}

/// Removes one bookie from the monitor's last sample of registered bookies.
pub fn drop_bookie_at_end(history: &History, at: &Index) -> Option<(History, String)> {
    let last = history
        .ops
        .iter()
        .rposition(|op| op.f == F::Bookies && op.kind == OpKind::Ok)?;
    let registered: Vec<String> =
        super::super::timeline::str_list(&history.ops[last].value["registered"])?;
    let bookie = choose(registered.clone(), at)?;
    let mut ops = history.ops.clone();
    ops[last].value["registered"] = json!(
        registered
            .iter()
            .filter(|b| **b != bookie)
            .collect::<Vec<_>>()
    );
    Some((renumber(ops), bookie))
}

// ---- healed, upgrade -----------------------------------------------------------------------

fn ready_probes(history: &History) -> Vec<(usize, String)> {
    history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.f == F::Healed && op.kind == OpKind::Ok)
        .filter_map(|(pos, op)| Some((pos, op.value["system"].as_str()?.to_string())))
        .collect()
}

/// Removes one system's readiness probe after the heal.
pub fn drop_healed(history: &History, at: &Index) -> Option<(History, String)> {
    let (pos, system) = choose(ready_probes(history), at)?;
    let mut ops = history.ops.clone();
    ops.remove(pos);
    Some((renumber(ops), system))
}

/// Makes one system's readiness probe after the heal fail.
pub fn fail_healed(history: &History, at: &Index) -> Option<(History, String)> {
    let (pos, system) = choose(ready_probes(history), at)?;
    let mut ops = history.ops.clone();
    ops[pos].kind = OpKind::Fail;
    ops[pos].value = json!({"system": system});
    ops[pos].error = Some(INJECTED.to_string());
    Some((renumber(ops), system))
}

/// Removes the completion of one node's roll: the node went down and never rejoined.
pub fn never_rejoined(history: &History, at: &Index) -> Option<(History, String)> {
    let candidates: Vec<(usize, String)> = history
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            op.f == F::Fault && op.kind == OpKind::Ok && op.value["fault"] == "upgrade"
        })
        .filter_map(|(pos, op)| Some((pos, op.value["targets"][0].as_str()?.to_string())))
        .collect();
    let (pos, node) = choose(candidates, at)?;
    let mut ops = history.ops.clone();
    ops.remove(pos);
    Some((renumber(ops), node))
}

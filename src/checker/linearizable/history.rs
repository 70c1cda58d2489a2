//! From a chaosbed history to the per-key operation lists the search runs on: invocations paired
//! with their completions (one open operation per process, as `History::pairs`), failed
//! operations and reads of unknown outcome dropped, values interned, and each operation's
//! real-time bounds set by the read model.
//!
//! Real time is the history's order: an operation's bounds are the positions (ordinals) of its
//! invocation and completion in the history, not their nanosecond times. The recorder numbers
//! events in the order they happened, so this is exact, where equal clock readings would be
//! ambiguous.

use std::collections::HashMap;

use anyhow::{Context as _, bail};
use serde_json::Value as Json;

use super::ReadModel;
use super::model::{Action, NULL, Value};
use crate::history::{F, Op, OpKind};

/// No operation (an `after` that names none).
pub const NONE: u32 = u32::MAX;

/// An operation that certainly took effect — an acknowledged write or CAS, an ok read: every
/// linearization must place it.
#[derive(Debug, Clone)]
pub struct Definite {
    /// Every operation that completed before this ordinal precedes this one. For most
    /// operations their invocation; for a plain read under the sequential model, the invocation
    /// of its session's last acknowledged write, CAS or synced read (0 when it has none).
    pub lower: u64,
    /// The ordinal of its completion: every operation invoked after it follows it.
    pub ret: u64,
    pub action: Action,
    /// The position in [`KeyHistory::defs`] of an operation on the same key that must precede
    /// this one (a plain read's session predecessor under the sequential model), or [`NONE`].
    pub after: u32,
    /// Index into [`KeyHistory::meta`].
    pub meta: u32,
}

/// A write or CAS of unknown outcome (`info`, or never completed): it may take effect at any
/// point after its invocation, or never. Its response time is +infinity.
#[derive(Debug, Clone)]
pub struct Uncertain {
    pub call: u64,
    pub action: Action,
    pub meta: u32,
}

/// What a person needs to find an operation in the history.
#[derive(Debug, Clone)]
pub struct OpMeta {
    /// `index` of the invocation and of the completion (none: never completed).
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    /// Nanoseconds since the run started.
    pub invoke_time: u64,
    pub complete_time: Option<u64>,
    pub process: u32,
    pub f: F,
    pub kind: OpKind,
    /// A read that may be stale under the sequential model (no `"sync": true`).
    pub plain_read: bool,
}

/// One key's operations.
#[derive(Debug, Clone, Default)]
pub struct KeyHistory {
    pub key: String,
    /// Interned values: `values[v]` is the JSON of [`Value`] `v`; `values[0]` is null.
    pub values: Vec<Json>,
    /// Sorted by (`lower`, `ret`).
    pub defs: Vec<Definite>,
    /// Sorted by `call`.
    pub infos: Vec<Uncertain>,
    pub meta: Vec<OpMeta>,
}

impl KeyHistory {
    /// The JSON text of a value.
    pub fn value(&self, v: Value) -> String {
        self.values
            .get(v as usize)
            .map(|j| j.to_string())
            .unwrap_or_else(|| format!("<value {v}>"))
    }
}

/// How many operations went where.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counts {
    /// Acknowledged writes and CAS, ok reads.
    pub definite: u64,
    /// Writes and CAS of unknown outcome.
    pub uncertain: u64,
    /// Reads that failed or whose outcome is unknown: they carry no information.
    pub dropped_reads: u64,
    /// Writes and CAS that certainly did not take effect.
    pub dropped_failed: u64,
}

/// A history split by key.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub keys: Vec<KeyHistory>,
    pub processes: Vec<String>,
    pub counts: Counts,
}

/// An invocation waiting for its completion.
struct Pending {
    ordinal: u64,
    process: u32,
    index: u64,
    time: u64,
    f: F,
    key: u32,
    /// A write's value, a CAS's `(expect, value)` from the invocation.
    write: Option<Value>,
    expect: Option<Value>,
    session: u32,
    plain_read: bool,
    lower: u64,
    /// Raw id (before sorting) of the same-key session predecessor.
    after_raw: u32,
}

#[derive(Hash, PartialEq, Eq)]
enum Interned {
    Int(i64),
    Other(String),
}

#[derive(Default)]
struct KeyBuilder {
    key: String,
    values: Vec<Json>,
    intern: HashMap<Interned, Value>,
    defs: Vec<Definite>,
    infos: Vec<Uncertain>,
    meta: Vec<OpMeta>,
}

impl KeyBuilder {
    fn intern(&mut self, json: &Json) -> anyhow::Result<Value> {
        let id = match json {
            Json::Null => return Ok(NULL),
            Json::Number(n) if n.as_i64().is_some() => Interned::Int(n.as_i64().unwrap_or(0)),
            other => Interned::Other(other.to_string()),
        };
        if let Some(&v) = self.intern.get(&id) {
            return Ok(v);
        }
        let v = Value::try_from(self.values.len()).context("more than 2^32 distinct values")?;
        self.values.push(json.clone());
        self.intern.insert(id, v);
        Ok(v)
    }
}

/// Reads a history one operation at a time (so a file need not be held whole) and splits it.
pub struct Extractor {
    reads: ReadModel,
    ordinal: u64,
    key_ids: HashMap<String, u32>,
    keys: Vec<KeyBuilder>,
    process_ids: HashMap<String, u32>,
    processes: Vec<String>,
    session_ids: HashMap<String, u32>,
    /// Each session's last acknowledged operation that took effect in real time (a write, a
    /// CAS, a synced read): its invocation ordinal.
    last_linear: HashMap<u32, u64>,
    open: HashMap<u32, Pending>,
    last_on_key: HashMap<(u32, u32), u32>,
    counts: Counts,
}

fn key_of(op: &Op) -> anyhow::Result<String> {
    match op.value.get("key") {
        Some(Json::String(s)) => Ok(s.clone()),
        Some(Json::Null) | None => bail!(
            "operation {} ({} {:?}) has no key",
            op.index,
            op.process,
            op.f
        ),
        Some(other) => Ok(other.to_string()),
    }
}

fn field<'a>(op: &'a Op, name: &str) -> anyhow::Result<&'a Json> {
    op.value.get(name).with_context(|| {
        format!(
            "operation {} ({} {:?}) has no \"{name}\"",
            op.index, op.process, op.f
        )
    })
}

impl Extractor {
    pub fn new(reads: ReadModel) -> Self {
        Self {
            reads,
            ordinal: 0,
            key_ids: HashMap::new(),
            keys: Vec::new(),
            process_ids: HashMap::new(),
            processes: Vec::new(),
            session_ids: HashMap::new(),
            last_linear: HashMap::new(),
            open: HashMap::new(),
            last_on_key: HashMap::new(),
            counts: Counts::default(),
        }
    }

    fn process(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.process_ids.get(name) {
            return id;
        }
        let id = self.processes.len() as u32;
        self.processes.push(name.to_string());
        self.process_ids.insert(name.to_string(), id);
        id
    }

    fn key(&mut self, name: String) -> u32 {
        if let Some(&id) = self.key_ids.get(&name) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(KeyBuilder {
            key: name.clone(),
            values: vec![Json::Null],
            ..KeyBuilder::default()
        });
        self.key_ids.insert(name, id);
        id
    }

    fn session(&mut self, op: &Op) -> u32 {
        let name = match op.value.get("session") {
            Some(Json::String(s)) => format!("s:{s}"),
            Some(Json::Null) | None => format!("p:{}", op.process),
            Some(other) => format!("s:{other}"),
        };
        let next = self.session_ids.len() as u32;
        *self.session_ids.entry(name).or_insert(next)
    }

    /// Takes the next operation of the history.
    pub fn push(&mut self, op: &Op) -> anyhow::Result<()> {
        let ordinal = self.ordinal;
        self.ordinal += 1;
        if !matches!(op.f, F::Read | F::Write | F::Cas) {
            return Ok(());
        }
        let process = self.process(&op.process);
        if op.kind == OpKind::Invoke {
            let key_name = key_of(op)?;
            let key = self.key(key_name);
            let session = self.session(op);
            let (mut write, mut expect) = (None, None);
            match op.f {
                F::Write => write = Some(self.keys[key as usize].intern(field(op, "value")?)?),
                F::Cas => {
                    expect = Some(self.keys[key as usize].intern(field(op, "expect")?)?);
                    write = Some(self.keys[key as usize].intern(field(op, "value")?)?);
                }
                _ => {}
            }
            let synced = op.value.get("sync").and_then(Json::as_bool) == Some(true);
            let plain_read = op.f == F::Read && !synced && self.reads == ReadModel::Sequential;
            // A plain read under the sequential model may show any state at least as new as
            // what its session saw before: after its previous operation on this key (`after`),
            // and not before the invocation of its session's last acknowledged write, CAS or
            // synced read on any key (those took effect in real time, and the session's server
            // had applied them before answering). A plain read on another key bounds nothing:
            // it may have been stale itself (a session that read k1's newest value may still
            // read k2 from before it, when k2 changed later in the log).
            let (lower, after_raw) = if plain_read {
                (
                    self.last_linear.get(&session).copied().unwrap_or(0),
                    self.last_on_key
                        .get(&(session, key))
                        .copied()
                        .unwrap_or(NONE),
                )
            } else {
                (ordinal, NONE)
            };
            // A new invocation while one is open: the open one never completed.
            if let Some(stale) = self.open.remove(&process) {
                self.close(stale, None, OpKind::Info, None)?;
            }
            self.open.insert(
                process,
                Pending {
                    ordinal,
                    process,
                    index: op.index,
                    time: op.time,
                    f: op.f,
                    key,
                    write,
                    expect,
                    session,
                    plain_read,
                    lower,
                    after_raw,
                },
            );
            return Ok(());
        }
        let Some(pending) = self.open.remove(&process) else {
            return Ok(());
        };
        if pending.f != op.f {
            bail!(
                "operation {} ({} {:?}) completes an invocation of {:?} (operation {})",
                op.index,
                op.process,
                op.f,
                pending.f,
                pending.index
            );
        }
        let read = if op.f == F::Read && op.kind == OpKind::Ok {
            Some(self.keys[pending.key as usize].intern(field(op, "value")?)?)
        } else {
            None
        };
        self.close(pending, Some((op, ordinal)), op.kind, read)
    }

    fn close(
        &mut self,
        p: Pending,
        completion: Option<(&Op, u64)>,
        kind: OpKind,
        read: Option<Value>,
    ) -> anyhow::Result<()> {
        let action = match (p.f, p.write, p.expect, read) {
            (F::Read, _, _, Some(v)) => Action::Read(v),
            (F::Read, ..) => {
                self.counts.dropped_reads += 1;
                return Ok(());
            }
            (F::Write, Some(v), _, _) => Action::Write(v),
            (F::Cas, Some(new), Some(expect), _) => Action::Cas { expect, new },
            _ => bail!("operation {} ({:?}) is malformed", p.index, p.f),
        };
        if kind == OpKind::Fail {
            self.counts.dropped_failed += 1;
            return Ok(());
        }
        let builder = &mut self.keys[p.key as usize];
        let meta = builder.meta.len() as u32;
        builder.meta.push(OpMeta {
            invoke_index: p.index,
            complete_index: completion.map(|(op, _)| op.index),
            invoke_time: p.time,
            complete_time: completion.map(|(op, _)| op.time),
            process: p.process,
            f: p.f,
            kind: if completion.is_some() {
                kind
            } else {
                OpKind::Info
            },
            plain_read: p.plain_read,
        });
        match (kind, completion) {
            (OpKind::Ok, Some((_, ret))) => {
                let raw = builder.defs.len() as u32;
                builder.defs.push(Definite {
                    lower: p.lower,
                    ret,
                    action,
                    after: p.after_raw,
                    meta,
                });
                self.counts.definite += 1;
                self.last_on_key.insert((p.session, p.key), raw);
                if !p.plain_read {
                    self.last_linear.insert(p.session, p.ordinal);
                }
            }
            _ => {
                builder.infos.push(Uncertain {
                    call: p.ordinal,
                    action,
                    meta,
                });
                self.counts.uncertain += 1;
            }
        }
        Ok(())
    }

    /// Ends the history: operations still open are of unknown outcome.
    pub fn finish(mut self) -> anyhow::Result<Extracted> {
        let mut open: Vec<Pending> = self.open.drain().map(|(_, p)| p).collect();
        open.sort_by_key(|p| p.ordinal);
        for p in open {
            self.close(p, None, OpKind::Info, None)?;
        }
        let mut keys = Vec::with_capacity(self.keys.len());
        for b in self.keys {
            keys.push(finish_key(b));
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Extracted {
            keys,
            processes: self.processes,
            counts: self.counts,
        })
    }
}

fn finish_key(b: KeyBuilder) -> KeyHistory {
    let mut order: Vec<u32> = (0..b.defs.len() as u32).collect();
    order.sort_by_key(|&i| (b.defs[i as usize].lower, b.defs[i as usize].ret));
    let mut position = vec![0u32; b.defs.len()];
    for (pos, &raw) in order.iter().enumerate() {
        position[raw as usize] = pos as u32;
    }
    let defs = order
        .iter()
        .map(|&raw| {
            let mut d = b.defs[raw as usize].clone();
            if d.after != NONE {
                d.after = position[d.after as usize];
            }
            d
        })
        .collect();
    let mut infos = b.infos;
    infos.sort_by_key(|u| u.call);
    KeyHistory {
        key: b.key,
        values: b.values,
        defs,
        infos,
        meta: b.meta,
    }
}

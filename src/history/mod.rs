//! The history of a run: every operation a client, the nemesis or the monitor performed, in order.
//!
//! Modelled on Jepsen's history: each operation is recorded once when invoked and once when it
//! completes (`Ok`, `Fail`, or `Info` when the outcome is unknown). Times are monotonic nanoseconds
//! since the run started.

mod op;
mod recorder;

pub use op::{F, Op, OpKind};
pub use recorder::Recorder;

/// A complete, ordered history.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct History {
    pub ops: Vec<Op>,
}

impl History {
    pub fn new(ops: Vec<Op>) -> Self {
        Self { ops }
    }

    /// Operations with the given function, in history order.
    pub fn with_f(&self, f: F) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(move |op| op.f == f)
    }

    /// The completion (`Ok`, `Fail` or `Info`) of every invocation, paired with the invocation.
    /// Invocations that never completed are paired with `None`.
    ///
    /// A process has one operation open at a time, except operations whose value carries an
    /// `"id"` (pipelined Pulsar sends): those pair by process and id.
    pub fn pairs(&self) -> Vec<(&Op, Option<&Op>)> {
        let key = |op: &Op| {
            (
                op.process.clone(),
                op.value
                    .get("id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            )
        };
        let mut open: std::collections::HashMap<(String, Option<String>), usize> =
            std::collections::HashMap::new();
        let mut pairs: Vec<(&Op, Option<&Op>)> = Vec::new();
        for op in &self.ops {
            if matches!(
                op.f,
                F::Receive
                    | F::Session
                    | F::Topology
                    | F::Fault
                    | F::Heal
                    | F::Roles
                    | F::Ownership
                    | F::Bookies
                    | F::Diagnosis
                    | F::ReadBack
                    | F::Resources
            ) {
                continue;
            }
            match op.kind {
                OpKind::Invoke => {
                    open.insert(key(op), pairs.len());
                    pairs.push((op, None));
                }
                _ => {
                    if let Some(at) = open.remove(&key(op)) {
                        pairs[at].1 = Some(op);
                    }
                }
            }
        }
        pairs
    }

    /// Parses a history.jsonl file's contents.
    pub fn from_jsonl(text: &str) -> anyhow::Result<Self> {
        let ops = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line)
                    .map_err(|e| anyhow::anyhow!("history line {}: {e}", n + 1))
            })
            .collect::<anyhow::Result<Vec<Op>>>()?;
        Ok(Self { ops })
    }

    /// One JSON object per line.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            out.push_str(&serde_json::to_string(op).expect("an Op always serialises"));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pipelined_sends_pair_by_id_and_single_ops_by_process() {
        let r = Recorder::new();
        r.record(
            "producer-0",
            F::Send,
            OpKind::Invoke,
            json!({"id": "a"}),
            None,
        );
        r.record(
            "producer-0",
            F::Send,
            OpKind::Invoke,
            json!({"id": "b"}),
            None,
        );
        r.record(
            "producer-0",
            F::Send,
            OpKind::Info,
            json!({"id": "b"}),
            None,
        );
        r.record("producer-0", F::Send, OpKind::Ok, json!({"id": "a"}), None);
        r.record(
            "client-0",
            F::Write,
            OpKind::Invoke,
            json!({"key": "/k"}),
            None,
        );
        r.record("client-0", F::Write, OpKind::Ok, json!({"key": "/k"}), None);
        let history = r.snapshot();
        let pairs = history.pairs();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[0].1.unwrap().kind, OpKind::Ok);
        assert_eq!(pairs[1].1.unwrap().kind, OpKind::Info);
        assert_eq!(pairs[2].1.unwrap().kind, OpKind::Ok);
    }
}

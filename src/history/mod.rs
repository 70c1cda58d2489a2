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
    pub fn pairs(&self) -> Vec<(&Op, Option<&Op>)> {
        let mut open: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut pairs: Vec<(&Op, Option<&Op>)> = Vec::new();
        for op in &self.ops {
            match op.kind {
                OpKind::Invoke => {
                    open.insert(op.process.as_str(), pairs.len());
                    pairs.push((op, None));
                }
                _ => {
                    if let Some(at) = open.remove(op.process.as_str()) {
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

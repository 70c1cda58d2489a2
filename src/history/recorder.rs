//! A shared, thread-safe recorder that stamps operations with an index and a monotonic time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{F, History, Op, OpKind};

/// Operations per chunk of the recorded history.
const CHUNK: usize = 16 * 1024;

/// Cloneable handle that every client, the nemesis and the monitor record into.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    ops: Arc<Mutex<Chunks>>,
}

/// The history so far, in chunks of CHUNK operations. One growing Vec would copy every operation
/// recorded so far each time it doubles: with a producer recording half a million sends, that
/// is a copy of a hundred megabytes on the recording thread, long enough to stall it for tens
/// of milliseconds (seen in `cargo xtask bench pulsar` as sends not made while receipts waited).
#[derive(Default)]
struct Chunks {
    chunks: Vec<Vec<Op>>,
}

impl Chunks {
    /// Every chunk but the last is full.
    fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    fn push(&mut self, op: Op) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(op),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(op);
                self.chunks.push(chunk);
            }
        }
    }

    fn to_vec(&self) -> Vec<Op> {
        let mut all = Vec::with_capacity(self.len());
        for chunk in &self.chunks {
            all.extend_from_slice(chunk);
        }
        all
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            ops: Arc::new(Mutex::new(Chunks::default())),
        }
    }

    /// The instant time zero of this history refers to.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Nanoseconds since the run started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Appends one operation and returns its index.
    pub fn record(
        &self,
        process: &str,
        f: F,
        kind: OpKind,
        value: serde_json::Value,
        error: Option<String>,
    ) -> u64 {
        let mut ops = self.ops.lock().expect("history lock poisoned");
        // Stamp under the lock so that history order and time order agree.
        let time = self.now();
        let index = ops.len() as u64;
        ops.push(Op {
            index,
            time,
            process: process.to_string(),
            f,
            kind,
            value,
            error,
        });
        index
    }

    pub fn snapshot(&self) -> History {
        History::new(self.ops.lock().expect("history lock poisoned").to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_longer_than_a_chunk_keeps_its_order() {
        let recorder = Recorder::new();
        let count = CHUNK * 2 + 3;
        for i in 0..count {
            let index = recorder.record("p", F::Send, OpKind::Invoke, i.into(), None);
            assert_eq!(index, i as u64);
        }
        let history = recorder.snapshot();
        assert_eq!(history.ops.len(), count);
        for (i, op) in history.ops.iter().enumerate() {
            assert_eq!(op.index, i as u64);
            assert_eq!(op.value, serde_json::json!(i));
        }
        assert!(history.ops.windows(2).all(|w| w[0].time <= w[1].time));
    }
}

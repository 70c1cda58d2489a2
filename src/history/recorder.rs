//! A shared, thread-safe recorder that stamps operations with an index and a monotonic time.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{F, History, Op, OpKind};

/// Cloneable handle that every client, the nemesis and the monitor record into.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    ops: Arc<Mutex<Vec<Op>>>,
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
            ops: Arc::new(Mutex::new(Vec::new())),
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
        History::new(self.ops.lock().expect("history lock poisoned").clone())
    }
}

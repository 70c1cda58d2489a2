//! One operation in a history.

use serde::{Deserialize, Serialize};

/// Whether an operation is starting or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// The operation was started.
    Invoke,
    /// It took effect (for a write: acknowledged).
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// Its outcome is unknown (e.g. the connection was lost mid-request).
    Info,
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum F {
    /// A client write. Value: `{"key": .., "value": ..}`.
    Write,
    /// A client read. Value: `{"key": .., "value": ..}` (value null when absent). A read of the
    /// compare-and-set register workload may also carry `"sync": true` (a `sync` came first) and
    /// `"session"` (the ZooKeeper session id it went through).
    Read,
    /// A compare-and-set of the register workload: set `key` to `value` only if it holds
    /// `expect`. Value: `{"key", "expect", "value"}`, plus `"session"`. `Fail` when the register
    /// held something else (it certainly did not take effect).
    Cas,
    /// The read of every key after heal. Value on Ok: `{"keys": {key: value, ...}}`.
    FinalRead,
    /// A client session event. Value: `{"event": "expired"|"disconnected"|"connected", ...}`.
    Session,
    /// The topology at setup. Value: `{"nodes": [..], "down": [..]}`.
    Topology,
    /// A fault applied by the nemesis. Value: `{"fault": .., "targets": [..], "down": [..], "evidence": {..}}`.
    /// A kill, stop or pause is first recorded as an Invoke (`{"fault", "targets"}`) when it is
    /// sent, so that a sample taken while it acts is not judged against a cluster still whole.
    Fault,
    /// A fault healed. Same value shape as `Fault`.
    Heal,
    /// A monitor sample of each node's role. Value: `{"roles": {node: role}}` where role is
    /// `leader`, `follower`, `observer`, `standalone`, `not-serving` or `unreachable`.
    Roles,
    /// A message sent by a producer. Value: `{"id": "p0-000042", "producer": "p0", "seq": 42,
    /// "topic": ..}`; on Ok also `"message_id"`.
    Send,
    /// A message received by a consumer (one op, kind Ok). Value: `{"id", "producer", "seq",
    /// "message_id", "redelivery_count", "phase": "run"|"drain"}`.
    Receive,
    /// A monitor sample of which brokers own each namespace bundle (and so its topics), each
    /// broker asked for its own view. Value: `{"owners": {bundle: [broker]}, "unreachable": [broker]}`.
    Ownership,
    /// A monitor sample of the bookies registered. Value: `{"registered": [bookie]}`.
    Bookies,
    /// Why a node failed, read from Docker state and its log. Value: `{"node", "cause",
    /// "explanation", "evidence"}`.
    Diagnosis,
    /// A trace emitted by a trace emitter (process `emitter-N`). Invoke when the finished trace
    /// is handed to the agent's reporter; Ok when the reporter took it for its gRPC stream; Fail
    /// when the reporter refused it. Value: `{"id": trace id, "emitter": "e0", "seq": 42}`.
    Trace,
    /// A trace the reader found through the query API (one op, kind Ok), recorded when first
    /// seen and again whenever more segments of it appear. Value: `{"id", "segments": n,
    /// "phase": "run"|"drain"}`.
    TraceFound,
    /// One poll of the query API by the trace reader: Invoke, then Ok (`{"via": node,
    /// "traces": n}`) or Fail with the error.
    TraceQuery,
    /// A system's readiness once every fault was healed, by the runner's own probes (one op per
    /// system): Ok `{"system", "detail"}`, or Fail `{"system"}` with why as the error.
    Healed,
    /// Where the Pulsar read-back (`read_back = true`) read the topic, recorded before it reads:
    /// Ok `{"topics": [..], "unloaded_from": [broker]}` once each topic was unloaded from the
    /// broker that owned it, so that the broker that opens it again has nothing cached and
    /// reads the ledgers from the bookies; Fail with why when a topic could not be unloaded (the
    /// read-back may then be served from a broker's cache).
    ReadBack,
    /// What each node's container used, sampled once a second from the start of setup to the
    /// end of the run (process `resources`): `{"nodes": {node: {"memory": bytes in use,
    /// "limit": bytes or null, "cpu_ns": CPU time used since it started}}}`.
    Resources,
    /// An operation of a user's own client (a `container` workload) whose `f` chaosbed has no
    /// variant for. Value: `{"f": its name, "value": what the client gave}`.
    Custom,
}

/// One entry in a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: u64,
    /// Monotonic nanoseconds since the run started.
    pub time: u64,
    /// Who performed it: `client-N`, `nemesis`, `monitor`, `final`.
    pub process: String,
    pub f: F,
    pub kind: OpKind,
    #[serde(default)]
    pub value: serde_json::Value,
    /// Why it failed or is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    pub fn time_secs(&self) -> f64 {
        self.time as f64 / 1e9
    }
}

//! The report's timeline as data, built from a history: a band per fault, a lane per node
//! (its state, role and version over time) and a lane per client process (its operations).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::backend::Status;
use crate::history::{F, Op, OpKind};
use crate::report::Results;
use crate::scenario::FaultKind;

/// How a fault is drawn, by the family of its kind (Jepsen colours its nemeses the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultClass {
    Kill,
    Pause,
    Partition,
    Packet,
    Clock,
    Resource,
    Upgrade,
}

impl FaultClass {
    pub fn of(kind: &str) -> Self {
        match kind {
            "pause" => Self::Pause,
            "partition" => Self::Partition,
            "packet-loss" | "bandwidth" | "latency" | "reset-peer" | "blackhole" | "slow-close"
            | "limit-data" => Self::Packet,
            "clock-skew" => Self::Clock,
            "memory" | "cpu" | "disk-full" => Self::Resource,
            "upgrade" => Self::Upgrade,
            _ => Self::Kill,
        }
    }

    /// The CSS class (and legend word).
    pub fn css(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::Pause => "pause",
            Self::Partition => "partition",
            Self::Packet => "packet",
            Self::Clock => "clock",
            Self::Resource => "resource",
            Self::Upgrade => "upgrade",
        }
    }

    /// What a node targeted by a fault of this family is, while it lasts.
    fn node_state(self, kind: &str) -> Option<NodeState> {
        match self {
            Self::Pause => Some(NodeState::Paused),
            Self::Partition => Some(NodeState::CutOff),
            Self::Packet => Some(NodeState::Degraded),
            Self::Clock => Some(NodeState::Skewed),
            Self::Resource => Some(NodeState::Limited),
            Self::Upgrade => Some(NodeState::Rolling),
            // A kill, stop or restart shows through the nemesis's `down` set; a start ends one.
            Self::Kill => (kind == "restart").then_some(NodeState::Down),
        }
    }
}

/// One fault from when it was sent (or applied) until it was healed.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub kind: String,
    pub class: FaultClass,
    pub targets: Vec<String>,
    pub start: f64,
    pub end: f64,
    /// False when the nemesis reported that applying it failed.
    pub applied: bool,
    /// False when nothing healed it before the history ended (and it heals).
    pub healed: bool,
    /// The apply's evidence (or error) and the heal's, as compact JSON.
    pub evidence: String,
}

/// Fault bands in the order they started. `end` closes a fault that was never healed.
pub fn bands(ops: &[Op], end: f64) -> Vec<Band> {
    let mut bands: Vec<Band> = Vec::new();
    // Index into `bands` of each fault not yet healed, by kind and targets.
    let mut open: Vec<(String, Vec<String>, usize)> = Vec::new();
    for op in ops.iter().filter(|op| op.process == "nemesis") {
        let kind = op.value["fault"].as_str().unwrap_or("?").to_string();
        let targets: Vec<String> =
            serde_json::from_value(op.value["targets"].clone()).unwrap_or_default();
        let at = op.time_secs();
        let find = |open: &[(String, Vec<String>, usize)]| {
            open.iter()
                .position(|(k, t, _)| *k == kind && *t == targets)
        };
        match (op.f, op.kind) {
            (F::Fault, OpKind::Invoke) => {
                open.push((kind.clone(), targets.clone(), bands.len()));
                bands.push(new_band(&kind, targets, at));
            }
            (F::Fault, _) => {
                let at_band = match find(&open) {
                    Some(pos) if bands[open[pos].2].evidence.is_empty() => open[pos].2,
                    _ => {
                        open.push((kind.clone(), targets.clone(), bands.len()));
                        bands.push(new_band(&kind, targets, at));
                        bands.len() - 1
                    }
                };
                let band = &mut bands[at_band];
                band.applied = op.kind == OpKind::Ok;
                band.evidence = evidence_text("applied", op);
                let heals = kind_heals(&kind);
                if !heals || !band.applied {
                    band.end = at;
                    band.healed = true;
                    if let Some(pos) = open.iter().position(|(_, _, i)| *i == at_band) {
                        open.remove(pos);
                    }
                }
            }
            (F::Heal, OpKind::Ok | OpKind::Fail | OpKind::Info) => {
                if let Some(pos) = find(&open) {
                    let (_, _, i) = open.remove(pos);
                    let band = &mut bands[i];
                    band.end = at;
                    band.healed = op.kind == OpKind::Ok;
                    band.evidence
                        .push_str(&format!("\n{}", evidence_text("healed", op)));
                }
            }
            _ => {}
        }
    }
    for (_, _, i) in open {
        bands[i].end = end.max(bands[i].start);
    }
    bands
}

fn new_band(kind: &str, targets: Vec<String>, at: f64) -> Band {
    Band {
        kind: kind.to_string(),
        class: FaultClass::of(kind),
        targets,
        start: at,
        end: at,
        applied: true,
        healed: false,
        evidence: String::new(),
    }
}

fn kind_heals(kind: &str) -> bool {
    FaultKind::ALL
        .iter()
        .find(|k| k.name() == kind)
        .is_none_or(|k| k.heals())
}

fn evidence_text(what: &str, op: &Op) -> String {
    match &op.error {
        Some(error) => format!("{what} at {:.1} s: failed: {error}", op.time_secs()),
        None => format!(
            "{what} at {:.1} s: {}",
            op.time_secs(),
            serde_json::to_string(&op.value["evidence"]).unwrap_or_default()
        ),
    }
}

/// What a node was doing over an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeState {
    NotStarted,
    Down,
    Paused,
    CutOff,
    Degraded,
    Skewed,
    Limited,
    Rolling,
}

impl NodeState {
    pub fn css(self) -> &'static str {
        match self {
            Self::NotStarted => "unstarted",
            Self::Down => "down",
            Self::Paused => "paused",
            Self::CutOff => "cut-off",
            Self::Degraded => "degraded",
            Self::Skewed => "skewed",
            Self::Limited => "limited",
            Self::Rolling => "rolling",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Self::NotStarted => "not started yet",
            Self::Down => "down",
            Self::Paused => "paused",
            Self::CutOff => "cut off",
            Self::Degraded => "network degraded",
            Self::Skewed => "clock skewed",
            Self::Limited => "resource-limited",
            Self::Rolling => "being upgraded",
        }
    }
}

/// An interval of a lane, with what it shows and the words its hover shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment<T> {
    pub start: f64,
    pub end: f64,
    pub what: T,
    pub note: String,
}

/// One node's lane: the states faults put it in, and its role and version as samples saw them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeLane {
    pub node: String,
    pub states: Vec<Segment<NodeState>>,
    pub roles: Vec<Segment<String>>,
    pub versions: Vec<Segment<String>>,
}

/// A lane per node of the topology (and any node a later op names), in topology order.
pub fn node_lanes(ops: &[Op], bands: &[Band], end: f64) -> Vec<NodeLane> {
    let mut order: Vec<String> = Vec::new();
    let mut lanes: BTreeMap<String, NodeLane> = BTreeMap::new();
    let lane = |node: &str, order: &mut Vec<String>| {
        if !order.iter().any(|n| n == node) {
            order.push(node.to_string());
        }
    };
    for op in ops.iter().filter(|op| op.f == F::Topology) {
        for node in op.value["nodes"].as_array().into_iter().flatten() {
            if let Some(node) = node.as_str() {
                lane(node, &mut order);
            }
        }
    }
    for band in bands {
        for node in &band.targets {
            lane(node, &mut order);
        }
    }
    for node in &order {
        lanes.insert(
            node.clone(),
            NodeLane {
                node: node.clone(),
                ..NodeLane::default()
            },
        );
    }

    // Down: the nemesis's `down` set after each of its events.
    let mut down_since: BTreeMap<String, (f64, bool)> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.process == "nemesis") {
        let Some(down) = op.value["down"].as_array() else {
            continue;
        };
        let now: BTreeSet<&str> = down.iter().filter_map(Value::as_str).collect();
        let at = op.time_secs();
        // A kill is sent at its invoke: the node is going down from then.
        let going: Vec<String> = now
            .iter()
            .filter(|n| !down_since.contains_key(**n))
            .map(|n| n.to_string())
            .collect();
        for node in going {
            // From when the fault that took it down was sent; a paused node shows as paused.
            let cause = bands.iter().rev().find(|b| {
                b.targets.contains(&node)
                    && b.start <= at
                    && matches!(b.class, FaultClass::Kill | FaultClass::Pause)
            });
            let start = cause.map_or(at, |b| b.start);
            let paused = cause.is_some_and(|b| b.class == FaultClass::Pause);
            down_since.insert(node, (start, paused));
        }
        let back: Vec<String> = down_since
            .keys()
            .filter(|n| !now.contains(n.as_str()))
            .cloned()
            .collect();
        for node in back {
            if let Some((start, false)) = down_since.remove(&node) {
                push_state(&mut lanes, &node, start, at, NodeState::Down, "down");
            }
        }
    }
    for (node, (start, paused)) in down_since {
        if !paused {
            push_state(
                &mut lanes,
                &node,
                start,
                end,
                NodeState::Down,
                "down until the end",
            );
        }
    }
    for band in bands.iter().filter(|b| b.applied) {
        if let Some(state) = band.class.node_state(&band.kind) {
            for node in &band.targets {
                let note = format!("{} ({})", state.words(), band.kind);
                push_state(&mut lanes, node, band.start, band.end, state, &note);
            }
        }
    }
    for lane in lanes.values_mut() {
        lane.states
            .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.what.cmp(&b.what)));
    }

    roles(ops, &mut lanes, end);
    versions(ops, &mut lanes, end);
    order
        .into_iter()
        .filter_map(|node| lanes.remove(&node))
        .collect()
}

/// What the engine said of each node at the run's end, where no fault explains it: a node
/// is not started before its container started (setup brings nodes up one system after
/// another), and one that exited by itself (a crash, an OOM kill) is down from when it exited.
/// A node a fault took down or an upgrade replaced is left to the nemesis's account: its
/// container's times are those of its last start.
pub fn engine_states(lanes: &mut [NodeLane], results: &Results, end: f64) {
    let at = |time: &Option<String>| {
        time.as_deref()
            .and_then(|t| seconds_between(&results.started_at, t))
            .map(|s| s.clamp(0.0, end))
    };
    for lane in lanes.iter_mut() {
        let Some(record) = results.nodes.get(&lane.node) else {
            continue;
        };
        if lane
            .states
            .iter()
            .any(|s| matches!(s.what, NodeState::Down | NodeState::Rolling))
        {
            continue;
        }
        let state = &record.state;
        let mut found = BTreeMap::new();
        if let Some(started) = at(&state.started_at).filter(|s| *s > 0.0) {
            push_state(
                &mut found,
                &lane.node,
                0.0,
                started,
                NodeState::NotStarted,
                "not started yet",
            );
        }
        if matches!(state.status, Status::Exited | Status::Dead)
            && let Some(finished) = at(&state.finished_at)
        {
            let note = format!("{}, down", state.exit_words());
            push_state(
                &mut found,
                &lane.node,
                finished,
                end,
                NodeState::Down,
                &note,
            );
        }
        if let Some(found) = found.remove(&lane.node) {
            lane.states.extend(found.states);
            lane.states
                .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.what.cmp(&b.what)));
        }
    }
}

/// Seconds from `start` to `at`, both RFC 3339 wall-clock times.
pub fn seconds_between(start: &str, at: &str) -> Option<f64> {
    let start = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    Some((at - start).num_microseconds()? as f64 / 1e6)
}

fn push_state(
    lanes: &mut BTreeMap<String, NodeLane>,
    node: &str,
    start: f64,
    end: f64,
    state: NodeState,
    note: &str,
) {
    let lane = lanes.entry(node.to_string()).or_insert_with(|| NodeLane {
        node: node.to_string(),
        ..NodeLane::default()
    });
    lane.states.push(Segment {
        start,
        end: end.max(start),
        what: state,
        note: format!(
            "{node}: {note} from {start:.1} s to {:.1} s",
            end.max(start)
        ),
    });
}

/// Each node's role from the monitor's samples: ZooKeeper roles, the brokers that own a bundle
/// of the workload's namespace, the bookies registered. A role lasts until the next sample that
/// differs (or the end).
fn roles(ops: &[Op], lanes: &mut BTreeMap<String, NodeLane>, end: f64) {
    let mut roles = Changes::new(|lane: &mut NodeLane| &mut lane.roles, "");
    for op in ops.iter().filter(|op| op.process == "monitor") {
        let at = op.time_secs();
        match op.f {
            F::Roles => {
                for (node, role) in op.value["roles"].as_object().into_iter().flatten() {
                    let role = role.as_str().unwrap_or("?").to_string();
                    roles.set(lanes, node, role, at);
                }
            }
            F::Ownership => {
                let mut owned: BTreeMap<String, usize> = BTreeMap::new();
                for (bundle, owners) in op.value["owners"].as_object().into_iter().flatten() {
                    if !bundle.starts_with("public/") {
                        continue;
                    }
                    for owner in owners.as_array().into_iter().flatten() {
                        if let Some(owner) = owner.as_str() {
                            *owned.entry(owner.to_string()).or_default() += 1;
                        }
                    }
                }
                let brokers: Vec<String> = lanes
                    .keys()
                    .filter(|n| n.starts_with("broker-"))
                    .cloned()
                    .collect();
                for broker in brokers {
                    let role = match owned.get(&broker) {
                        Some(n) => format!("owner of {n} bundle{}", if *n == 1 { "" } else { "s" }),
                        None => "owns nothing".to_string(),
                    };
                    roles.set(lanes, &broker, role, at);
                }
            }
            F::Bookies => {
                let registered: BTreeSet<&str> = op.value["registered"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let bookies: Vec<String> = lanes
                    .keys()
                    .filter(|n| n.starts_with("bookie-"))
                    .cloned()
                    .collect();
                for bookie in bookies {
                    let role = if registered.contains(bookie.as_str()) {
                        "registered"
                    } else {
                        "not registered"
                    };
                    roles.set(lanes, &bookie, role.to_string(), at);
                }
            }
            _ => {}
        }
    }
    roles.finish(lanes, end);
}

/// A string-valued property of each node (role, version) as segments: each value lasts until a
/// different one is set, or the end.
struct Changes {
    current: BTreeMap<String, (String, f64)>,
    lane_field: fn(&mut NodeLane) -> &mut Vec<Segment<String>>,
    /// Put before the value in the hover text ("version ").
    words: &'static str,
}

impl Changes {
    fn new(
        lane_field: fn(&mut NodeLane) -> &mut Vec<Segment<String>>,
        words: &'static str,
    ) -> Self {
        Self {
            current: BTreeMap::new(),
            lane_field,
            words,
        }
    }

    /// Starts `value` for `node` at `at` unless it already holds it.
    fn set(&mut self, lanes: &mut BTreeMap<String, NodeLane>, node: &str, value: String, at: f64) {
        if let Some((was, since)) = self.current.remove(node) {
            if was == value {
                self.current.insert(node.to_string(), (was, since));
                return;
            }
            self.close(lanes, node, was, since, at);
        }
        self.current.insert(node.to_string(), (value, at));
    }

    fn finish(mut self, lanes: &mut BTreeMap<String, NodeLane>, end: f64) {
        for (node, (value, since)) in std::mem::take(&mut self.current) {
            self.close(lanes, &node, value, since, end);
        }
    }

    fn close(
        &self,
        lanes: &mut BTreeMap<String, NodeLane>,
        node: &str,
        value: String,
        since: f64,
        at: f64,
    ) {
        if let Some(lane) = lanes.get_mut(node) {
            let end = at.max(since);
            (self.lane_field)(lane).push(Segment {
                start: since,
                end,
                note: format!(
                    "{node}: {}{value} from {since:.1} s to {end:.1} s",
                    self.words
                ),
                what: value,
            });
        }
    }
}

/// Versions during a rolling upgrade, from each step's evidence (the version every node runs
/// after it); before a node's first step it runs that step's `from_version`.
fn versions(ops: &[Op], lanes: &mut BTreeMap<String, NodeLane>, end: f64) {
    let steps: Vec<&Op> = ops
        .iter()
        .filter(|op| {
            op.process == "nemesis"
                && op.f == F::Fault
                && op.kind != OpKind::Invoke
                && op.value["fault"] == "upgrade"
        })
        .collect();
    if steps.is_empty() {
        return;
    }
    let mut versions = Changes::new(|lane: &mut NodeLane| &mut lane.versions, "version ");
    // Before a node's first step it runs that step's `from_version`, since the start.
    for step in &steps {
        let evidence = &step.value["evidence"];
        if let (Some(node), Some(from)) =
            (evidence["node"].as_str(), evidence["from_version"].as_str())
        {
            if !versions.current.contains_key(node) {
                versions.set(lanes, node, from.to_string(), 0.0);
            }
        }
    }
    for step in &steps {
        let at = step.time_secs();
        for (node, version) in step.value["evidence"]["versions"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let known = versions.current.contains_key(node.as_str());
            let version = version.as_str().unwrap_or("?").to_string();
            versions.set(lanes, node, version, if known { at } else { 0.0 });
        }
    }
    versions.finish(lanes, end);
}

/// An operation of a client process, from its invocation to its completion.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMark {
    /// The index of its invocation (or of the op itself when it has none), the timeline's anchor.
    pub index: u64,
    pub start: f64,
    /// None: it never completed.
    pub end: Option<f64>,
    pub kind: MarkKind,
    pub f: String,
    /// What it was about, short.
    pub text: String,
}

/// How an operation ended, as the timeline colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkKind {
    Ok,
    Info,
    Fail,
    /// A session or other event that is neither a success nor a failure.
    Event,
}

impl MarkKind {
    pub fn css(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Info => "info",
            Self::Fail => "fail",
            Self::Event => "event",
        }
    }

    pub fn of(kind: OpKind) -> Self {
        match kind {
            OpKind::Ok => Self::Ok,
            OpKind::Fail => Self::Fail,
            OpKind::Info | OpKind::Invoke => Self::Info,
        }
    }
}

/// A client process's lane.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientLane {
    pub process: String,
    pub ops: Vec<OpMark>,
}

/// Processes that are the harness, not a client.
fn is_harness(process: &str) -> bool {
    matches!(
        process,
        "nemesis" | "monitor" | "diagnosis" | "runner" | "resources"
    )
}

/// A lane per client process (in the order each first acted), every operation on it once:
/// invocations paired with their completions, single ops (receives, traces found, session
/// events) as points.
pub fn client_lanes(ops: &[Op]) -> Vec<ClientLane> {
    let mut order: Vec<String> = Vec::new();
    let mut lanes: BTreeMap<String, Vec<OpMark>> = BTreeMap::new();
    // Pairs by process and (for pipelined ops) id, as `History::pairs` does.
    let mut open: std::collections::HashMap<(String, Option<String>), usize> =
        std::collections::HashMap::new();
    for op in ops.iter().filter(|op| !is_harness(&op.process)) {
        let process = op.process.clone();
        if !lanes.contains_key(&process) {
            order.push(process.clone());
        }
        let lane = lanes.entry(process.clone()).or_default();
        let id = op
            .value
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let f = f_name(op.f);
        let single = matches!(
            op.f,
            F::Receive | F::Session | F::TraceFound | F::ReadBack | F::Healed
        );
        match op.kind {
            OpKind::Invoke if !single => {
                open.insert((process.clone(), id), lane.len());
                lane.push(OpMark {
                    index: op.index,
                    start: op.time_secs(),
                    end: None,
                    kind: MarkKind::Info,
                    f,
                    text: op_text(op),
                });
            }
            _ if !single => match open.remove(&(process.clone(), id)) {
                Some(at) => {
                    let mark = &mut lane[at];
                    mark.end = Some(op.time_secs());
                    mark.kind = MarkKind::of(op.kind);
                    if let Some(error) = &op.error {
                        mark.text = format!("{} — {}", mark.text, shorten(error, 160));
                    }
                }
                None => lane.push(point(op)),
            },
            _ => lane.push(point(op)),
        }
    }
    order
        .into_iter()
        .map(|process| ClientLane {
            ops: lanes.remove(&process).unwrap_or_default(),
            process,
        })
        .collect()
}

fn point(op: &Op) -> OpMark {
    let kind = if op.f == F::Session {
        match op.value["event"].as_str() {
            Some("expired") => MarkKind::Fail,
            Some("disconnected") => MarkKind::Info,
            _ => MarkKind::Event,
        }
    } else {
        MarkKind::of(op.kind)
    };
    let mut text = op_text(op);
    if let Some(error) = &op.error {
        text = format!("{text} — {}", shorten(error, 160));
    }
    // The read-back reads the whole topic at the end: its own kind, not a burst of receives.
    let f = if op.f == F::Receive && op.value["phase"] == crate::workload::pulsar::READ_BACK_PHASE {
        "read-back receive".to_string()
    } else {
        f_name(op.f)
    };
    OpMark {
        index: op.index,
        start: op.time_secs(),
        end: Some(op.time_secs()),
        kind,
        f,
        text,
    }
}

/// The op's function as the history names it (`final-read`, `trace-found`).
pub fn f_name(f: F) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{f:?}"))
}

/// The op's value in a line: its id or key and value, else the compact JSON.
fn op_text(op: &Op) -> String {
    let v = &op.value;
    let text = if let Some(id) = v["id"].as_str() {
        id.to_string()
    } else if let Some(key) = v["key"].as_str() {
        match &v["value"] {
            Value::Null => key.to_string(),
            value => format!("{key} = {}", compact(value)),
        }
    } else if let Some(event) = v["event"].as_str() {
        event.to_string()
    } else {
        compact(v)
    };
    shorten(&text, 120)
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

pub fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(index: u64, secs: f64, process: &str, f: F, kind: OpKind, value: Value) -> Op {
        Op {
            index,
            time: (secs * 1e9) as u64,
            process: process.into(),
            f,
            kind,
            value,
            error: None,
        }
    }

    fn leader_kill() -> Vec<Op> {
        vec![
            op(
                0,
                1.0,
                "nemesis",
                F::Topology,
                OpKind::Ok,
                json!({"nodes": ["zk-1", "zk-2", "zk-3"], "down": []}),
            ),
            op(
                1,
                1.5,
                "monitor",
                F::Roles,
                OpKind::Ok,
                json!({"roles": {"zk-1": "follower", "zk-2": "follower", "zk-3": "leader"}}),
            ),
            op(
                2,
                2.0,
                "client-0",
                F::Write,
                OpKind::Invoke,
                json!({"key": "/a", "value": "1"}),
            ),
            op(
                3,
                2.1,
                "client-0",
                F::Write,
                OpKind::Ok,
                json!({"key": "/a", "value": "1"}),
            ),
            op(
                4,
                10.0,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "kill", "targets": ["zk-3"]}),
            ),
            op(
                5,
                10.2,
                "nemesis",
                F::Fault,
                OpKind::Ok,
                json!({"fault": "kill", "targets": ["zk-3"], "down": ["zk-3"], "evidence": {"took_effect": true}}),
            ),
            op(
                6,
                10.5,
                "client-0",
                F::Write,
                OpKind::Invoke,
                json!({"key": "/b", "value": "2"}),
            ),
            op(
                7,
                12.0,
                "monitor",
                F::Roles,
                OpKind::Ok,
                json!({"roles": {"zk-1": "leader", "zk-2": "follower", "zk-3": "unreachable"}}),
            ),
            op(
                8,
                13.0,
                "client-0",
                F::Write,
                OpKind::Info,
                json!({"key": "/b", "value": "2"}),
            ),
            op(
                9,
                20.0,
                "nemesis",
                F::Heal,
                OpKind::Ok,
                json!({"fault": "kill", "targets": ["zk-3"], "down": [], "evidence": {"took_effect": true}}),
            ),
            op(
                10,
                21.0,
                "client-0/session",
                F::Session,
                OpKind::Info,
                json!({"event": "expired"}),
            ),
            op(
                11,
                22.0,
                "client-1",
                F::Read,
                OpKind::Invoke,
                json!({"key": "/a", "value": null}),
            ),
        ]
    }

    #[test]
    fn a_kill_is_one_band_from_when_it_was_sent_until_its_heal() {
        let bands = bands(&leader_kill(), 30.0);
        assert_eq!(bands.len(), 1);
        let band = &bands[0];
        assert_eq!((band.start, band.end), (10.0, 20.0));
        assert_eq!(band.class, FaultClass::Kill);
        assert_eq!(band.targets, vec!["zk-3"]);
        assert!(band.applied && band.healed);
        assert!(
            band.evidence.contains("applied at 10.2 s"),
            "{}",
            band.evidence
        );
        assert!(
            band.evidence.contains("healed at 20.0 s"),
            "{}",
            band.evidence
        );
    }

    #[test]
    fn a_fault_never_healed_lasts_until_the_end_and_says_so() {
        let ops = vec![op(
            0,
            5.0,
            "nemesis",
            F::Fault,
            OpKind::Ok,
            json!({"fault": "partition", "targets": ["zk-1"], "down": []}),
        )];
        let bands = bands(&ops, 30.0);
        assert_eq!(
            (bands[0].start, bands[0].end, bands[0].healed),
            (5.0, 30.0, false)
        );
        assert_eq!(bands[0].class, FaultClass::Partition);
    }

    #[test]
    fn an_upgrade_step_ends_when_the_node_rejoined_and_a_failed_apply_is_marked() {
        let mut failed = op(
            2,
            8.0,
            "nemesis",
            F::Fault,
            OpKind::Fail,
            json!({"fault": "clock-skew", "targets": ["zk-2"]}),
        );
        failed.error = Some("libfaketime missing".into());
        let ops = vec![
            op(
                0,
                3.0,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "upgrade", "targets": ["zk-1"]}),
            ),
            op(
                1,
                7.0,
                "nemesis",
                F::Fault,
                OpKind::Ok,
                json!({"fault": "upgrade", "targets": ["zk-1"], "down": []}),
            ),
            failed,
        ];
        let bands = bands(&ops, 30.0);
        assert_eq!(
            (bands[0].start, bands[0].end, bands[0].class),
            (3.0, 7.0, FaultClass::Upgrade)
        );
        assert!(!bands[1].applied);
        assert_eq!(bands[1].end, 8.0);
        assert!(bands[1].evidence.contains("libfaketime missing"));
    }

    #[test]
    fn the_killed_leader_is_down_from_the_kill_and_the_new_leader_is_seen() {
        let ops = leader_kill();
        let bands = bands(&ops, 30.0);
        let lanes = node_lanes(&ops, &bands, 30.0);
        assert_eq!(
            lanes.iter().map(|l| l.node.as_str()).collect::<Vec<_>>(),
            ["zk-1", "zk-2", "zk-3"]
        );
        let zk3 = &lanes[2];
        assert_eq!(zk3.states.len(), 1);
        assert_eq!((zk3.states[0].start, zk3.states[0].end), (10.0, 20.0));
        assert_eq!(zk3.states[0].what, NodeState::Down);
        assert_eq!(zk3.roles[0].what, "leader");
        assert_eq!((zk3.roles[0].start, zk3.roles[0].end), (1.5, 12.0));
        let zk1_roles: Vec<(&str, f64, f64)> = lanes[0]
            .roles
            .iter()
            .map(|r| (r.what.as_str(), r.start, r.end))
            .collect();
        assert_eq!(zk1_roles, [("follower", 1.5, 12.0), ("leader", 12.0, 30.0)]);
        assert!(lanes[0].states.is_empty());
    }

    #[test]
    fn a_partition_cuts_its_targets_off_and_a_pause_pauses_them() {
        let ops = vec![
            op(
                0,
                1.0,
                "nemesis",
                F::Fault,
                OpKind::Ok,
                json!({"fault": "partition", "targets": ["a", "b"], "down": []}),
            ),
            op(
                1,
                2.0,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "pause", "targets": ["c"]}),
            ),
            op(
                2,
                2.1,
                "nemesis",
                F::Fault,
                OpKind::Ok,
                json!({"fault": "pause", "targets": ["c"], "down": ["c"]}),
            ),
            op(
                3,
                4.0,
                "nemesis",
                F::Heal,
                OpKind::Ok,
                json!({"fault": "pause", "targets": ["c"], "down": []}),
            ),
            op(
                4,
                5.0,
                "nemesis",
                F::Heal,
                OpKind::Ok,
                json!({"fault": "partition", "targets": ["a", "b"], "down": []}),
            ),
        ];
        let bands = bands(&ops, 9.0);
        let lanes = node_lanes(&ops, &bands, 9.0);
        let states = |node: &str| -> Vec<(NodeState, f64, f64)> {
            lanes
                .iter()
                .find(|l| l.node == node)
                .unwrap()
                .states
                .iter()
                .map(|s| (s.what, s.start, s.end))
                .collect()
        };
        assert_eq!(states("a"), [(NodeState::CutOff, 1.0, 5.0)]);
        assert_eq!(states("c"), [(NodeState::Paused, 2.0, 4.0)]);
    }

    #[test]
    fn versions_follow_the_roll_and_brokers_show_what_they_own() {
        let ops = vec![
            op(
                0,
                1.0,
                "nemesis",
                F::Topology,
                OpKind::Ok,
                json!({"nodes": ["broker-1", "broker-2", "bookie-1"], "down": []}),
            ),
            op(
                1,
                2.0,
                "monitor",
                F::Ownership,
                OpKind::Ok,
                json!({"owners": {"public/default/0x0_0x8": ["broker-1"], "public/default/0x8_0xf": ["broker-1"], "pulsar/x/0x0_0xf": ["broker-2"]}}),
            ),
            op(
                2,
                2.0,
                "monitor",
                F::Bookies,
                OpKind::Ok,
                json!({"registered": []}),
            ),
            op(
                3,
                5.0,
                "nemesis",
                F::Fault,
                OpKind::Invoke,
                json!({"fault": "upgrade", "targets": ["broker-1"]}),
            ),
            op(
                4,
                9.0,
                "nemesis",
                F::Fault,
                OpKind::Ok,
                json!({"fault": "upgrade", "targets": ["broker-1"], "down": [],
                "evidence": {"node": "broker-1", "from_version": "3.0", "to_version": "4.0", "versions": {"broker-1": "4.0", "broker-2": "3.0"}}}),
            ),
        ];
        let bands = bands(&ops, 20.0);
        let lanes = node_lanes(&ops, &bands, 20.0);
        let b1 = &lanes[0];
        let versions: Vec<(&str, f64, f64)> = b1
            .versions
            .iter()
            .map(|v| (v.what.as_str(), v.start, v.end))
            .collect();
        assert_eq!(versions, [("3.0", 0.0, 9.0), ("4.0", 9.0, 20.0)]);
        assert_eq!(b1.states[0].what, NodeState::Rolling);
        assert_eq!(b1.roles[0].what, "owner of 2 bundles");
        assert_eq!(lanes[1].roles[0].what, "owns nothing");
        assert_eq!(lanes[2].roles[0].what, "not registered");
    }

    #[test]
    fn client_ops_pair_into_boxes_and_single_ops_are_points() {
        let lanes = client_lanes(&leader_kill());
        let names: Vec<&str> = lanes.iter().map(|l| l.process.as_str()).collect();
        assert_eq!(names, ["client-0", "client-0/session", "client-1"]);
        let c0 = &lanes[0].ops;
        assert_eq!(c0.len(), 2);
        assert_eq!(
            (c0[0].index, c0[0].start, c0[0].end, c0[0].kind),
            (2, 2.0, Some(2.1), MarkKind::Ok)
        );
        assert_eq!(c0[0].text, "/a = 1");
        assert_eq!(
            (c0[1].index, c0[1].end, c0[1].kind),
            (6, Some(13.0), MarkKind::Info)
        );
        assert_eq!(lanes[1].ops[0].kind, MarkKind::Fail, "an expired session");
        assert_eq!(
            (lanes[2].ops[0].end, lanes[2].ops[0].kind),
            (None, MarkKind::Info),
            "never completed"
        );
    }

    #[test]
    fn pipelined_sends_pair_by_id() {
        let ops = vec![
            op(
                0,
                1.0,
                "producer-0",
                F::Send,
                OpKind::Invoke,
                json!({"id": "p0-1"}),
            ),
            op(
                1,
                1.1,
                "producer-0",
                F::Send,
                OpKind::Invoke,
                json!({"id": "p0-2"}),
            ),
            op(
                2,
                1.2,
                "producer-0",
                F::Send,
                OpKind::Fail,
                json!({"id": "p0-2"}),
            ),
            op(
                3,
                1.3,
                "producer-0",
                F::Send,
                OpKind::Ok,
                json!({"id": "p0-1"}),
            ),
            op(
                4,
                1.4,
                "consumer-0",
                F::Receive,
                OpKind::Ok,
                json!({"id": "p0-1"}),
            ),
        ];
        let lanes = client_lanes(&ops);
        let p: Vec<(u64, Option<f64>, MarkKind)> = lanes[0]
            .ops
            .iter()
            .map(|m| (m.index, m.end, m.kind))
            .collect();
        assert_eq!(
            p,
            [(0, Some(1.3), MarkKind::Ok), (1, Some(1.2), MarkKind::Fail)]
        );
        assert_eq!(lanes[1].ops[0].f, "receive");
        assert_eq!(lanes[1].ops[0].end, Some(1.4));
        let read_back = client_lanes(&[op(
            5,
            9.0,
            "read-back",
            F::Receive,
            OpKind::Ok,
            json!({"id": "p0-1", "phase": "read-back"}),
        )]);
        assert_eq!(read_back[0].ops[0].f, "read-back receive");
    }
}

//! The report's plots as data: throughput per time bucket split by outcome, and latency as
//! points (thinned where they would overlap, every failed and unknown one kept) with p50/p99 per
//! bucket — for every kind of operation the clients performed, and traces' delivery latency.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::history::{F, Op, OpKind};

use super::timeline::{ClientLane, MarkKind};

/// How many buckets a plot spans at most; a bucket is at least a second.
const MAX_BUCKETS: f64 = 600.0;
/// Kinds with fewer operations than this get no plot (a final read is one op).
const MIN_OPS_FOR_PLOT: usize = 10;
/// The grid points are thinned on: so many columns across the run, so many rows per decade.
const COLUMNS: f64 = 2000.0;
const ROWS_PER_DECADE: f64 = 40.0;

/// Completions of one kind of operation per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub f: String,
    /// Seconds per bucket.
    pub bucket: f64,
    /// Per bucket (from 0 s): ok, fail, info.
    pub counts: Vec<[u32; 3]>,
}

/// Latencies of one kind of operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub f: String,
    pub bucket: f64,
    /// (start, seconds, how it ended), thinned.
    pub points: Vec<(f64, f64, MarkKind)>,
    /// How many operations the points stand for.
    pub operations: usize,
    /// Per bucket with an acknowledged op: (bucket start, p50, p99) of those.
    pub quantiles: Vec<(f64, f64, f64)>,
}

/// One node's memory and CPU over the run, from the `resources` samples.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResources {
    pub node: String,
    /// (time, bytes of memory in use, the limit if any, CPU cores used since the previous sample).
    pub samples: Vec<(f64, u64, Option<u64>, Option<f64>)>,
}

impl NodeResources {
    pub fn max_memory(&self) -> u64 {
        self.samples.iter().map(|s| s.1).max().unwrap_or(0)
    }

    pub fn limit(&self) -> Option<u64> {
        self.samples.iter().filter_map(|s| s.2).max()
    }

    pub fn max_cpu(&self) -> f64 {
        self.samples.iter().filter_map(|s| s.3).fold(0.0, f64::max)
    }
}

/// Each node's samples, in the order of `nodes` (then any other node sampled).
pub fn resources(ops: &[Op], nodes: &[String]) -> Vec<NodeResources> {
    let mut by_node: BTreeMap<String, NodeResources> = BTreeMap::new();
    let mut last_cpu: HashMap<String, (f64, u64)> = HashMap::new();
    for op in ops.iter().filter(|op| op.f == F::Resources) {
        let at = op.time_secs();
        for (node, usage) in op.value["nodes"].as_object().into_iter().flatten() {
            let Some(memory) = usage["memory"].as_u64() else {
                continue;
            };
            let cpu_ns = usage["cpu_ns"].as_u64().unwrap_or(0);
            // A restarted container starts its CPU time from zero again.
            let cores = last_cpu
                .get(node)
                .filter(|(t, ns)| at > *t && cpu_ns >= *ns)
                .map(|(t, ns)| (cpu_ns - ns) as f64 / 1e9 / (at - t));
            last_cpu.insert(node.clone(), (at, cpu_ns));
            by_node
                .entry(node.clone())
                .or_insert_with(|| NodeResources {
                    node: node.clone(),
                    samples: Vec::new(),
                })
                .samples
                .push((at, memory, usage["limit"].as_u64(), cores));
        }
    }
    let mut out: Vec<NodeResources> = nodes.iter().filter_map(|n| by_node.remove(n)).collect();
    out.extend(by_node.into_values());
    out
}

/// The bucket width for a run of `end` seconds.
pub fn bucket_for(end: f64) -> f64 {
    (end / MAX_BUCKETS).ceil().max(1.0)
}

/// Throughput of every kind of client operation, in the order kinds first appear.
pub fn throughput(lanes: &[ClientLane], end: f64) -> Vec<Throughput> {
    let bucket = bucket_for(end);
    let buckets = (end / bucket).ceil() as usize + 1;
    let mut order: Vec<String> = Vec::new();
    let mut by_f: HashMap<String, Vec<[u32; 3]>> = HashMap::new();
    for mark in lanes
        .iter()
        .flat_map(|l| &l.ops)
        .filter(|m| m.f != "session")
    {
        let (Some(at), column) = (mark.end, outcome_column(mark.kind)) else {
            continue;
        };
        let Some(column) = column else { continue };
        let counts = by_f.entry(mark.f.clone()).or_insert_with(|| {
            order.push(mark.f.clone());
            vec![[0; 3]; buckets]
        });
        let i = ((at / bucket) as usize).min(buckets - 1);
        counts[i][column] += 1;
    }
    order
        .into_iter()
        .map(|f| Throughput {
            counts: by_f.remove(&f).unwrap_or_default(),
            f,
            bucket,
        })
        .filter(|t| {
            t.counts
                .iter()
                .flatten()
                .map(|n| *n as usize)
                .sum::<usize>()
                >= MIN_OPS_FOR_PLOT
        })
        .collect()
}

fn outcome_column(kind: MarkKind) -> Option<usize> {
    match kind {
        MarkKind::Ok => Some(0),
        MarkKind::Fail => Some(1),
        MarkKind::Info => Some(2),
        MarkKind::Event => None,
    }
}

/// Latency of every kind of operation that has an invocation and a completion, plus the
/// delivery latency of traces (first found − emitted) when the history has both.
pub fn latencies(lanes: &[ClientLane], ops: &[Op], end: f64) -> Vec<Latency> {
    let mut order: Vec<String> = Vec::new();
    let mut by_f: HashMap<String, Vec<(f64, f64, MarkKind)>> = HashMap::new();
    for mark in lanes.iter().flat_map(|l| &l.ops) {
        // Never completed, or a single op (a receive, a trace found): no latency of its own.
        let Some(done) = mark.end.filter(|done| *done != mark.start) else {
            continue;
        };
        by_f.entry(mark.f.clone())
            .or_insert_with(|| {
                order.push(mark.f.clone());
                Vec::new()
            })
            .push((mark.start, (done - mark.start).max(0.0), mark.kind));
    }
    let mut out: Vec<Latency> = order
        .into_iter()
        .map(|f| {
            let points = by_f.remove(&f).unwrap_or_default();
            summarise(f, points, end)
        })
        .filter(|l| l.operations >= MIN_OPS_FOR_PLOT)
        .collect();
    let delivery = trace_delivery(ops);
    if delivery.len() >= MIN_OPS_FOR_PLOT {
        out.push(summarise("trace delivery".to_string(), delivery, end));
    }
    out
}

/// (emitted at, seconds until first found) of every trace found.
fn trace_delivery(ops: &[Op]) -> Vec<(f64, f64, MarkKind)> {
    let mut emitted: HashMap<&str, f64> = HashMap::new();
    let mut found: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for op in ops {
        let Some(id) = op.value["id"].as_str() else {
            continue;
        };
        match (op.f, op.kind) {
            (F::Trace, OpKind::Invoke) => {
                emitted.entry(id).or_insert(op.time_secs());
            }
            (F::TraceFound, _) if found.insert(id) => {
                if let Some(at) = emitted.get(id) {
                    out.push((*at, (op.time_secs() - at).max(0.0), MarkKind::Ok));
                }
            }
            _ => {}
        }
    }
    out
}

fn summarise(f: String, points: Vec<(f64, f64, MarkKind)>, end: f64) -> Latency {
    let bucket = bucket_for(end);
    let operations = points.len();
    let mut per_bucket: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for (at, secs, kind) in &points {
        if *kind == MarkKind::Ok {
            per_bucket
                .entry((at / bucket) as usize)
                .or_default()
                .push(*secs);
        }
    }
    let quantiles = per_bucket
        .into_iter()
        .map(|(i, mut v)| {
            v.sort_by(f64::total_cmp);
            (i as f64 * bucket, quantile(&v, 0.5), quantile(&v, 0.99))
        })
        .collect();
    Latency {
        f,
        bucket,
        points: thin(points, end),
        operations,
        quantiles,
    }
}

/// The `q` quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One point per grid cell for acknowledged ops (a log-scaled latency axis); every failed and
/// unknown op kept.
fn thin(points: Vec<(f64, f64, MarkKind)>, end: f64) -> Vec<(f64, f64, MarkKind)> {
    let column = (end / COLUMNS).max(1e-3);
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    points
        .into_iter()
        .filter(|(at, secs, kind)| {
            if *kind != MarkKind::Ok {
                return true;
            }
            let row = (secs.max(1e-6).log10() * ROWS_PER_DECADE).round() as i64;
            seen.insert(((at / column) as i64, row))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::timeline::OpMark;

    fn mark(start: f64, end: Option<f64>, kind: MarkKind, f: &str) -> OpMark {
        OpMark {
            index: 0,
            start,
            end,
            kind,
            f: f.into(),
            text: String::new(),
        }
    }

    fn lane(ops: Vec<OpMark>) -> Vec<ClientLane> {
        vec![ClientLane {
            process: "client-0".into(),
            ops,
        }]
    }

    #[test]
    fn throughput_counts_completions_per_second_by_outcome_and_kind() {
        let mut ops = vec![
            mark(0.1, Some(0.2), MarkKind::Ok, "write"),
            mark(0.3, Some(0.9), MarkKind::Ok, "write"),
            mark(1.0, Some(1.5), MarkKind::Fail, "write"),
            mark(1.6, Some(2.5), MarkKind::Info, "write"),
            mark(1.7, None, MarkKind::Info, "write"),
            mark(2.6, Some(2.7), MarkKind::Ok, "final-read"),
            mark(2.0, Some(2.0), MarkKind::Info, "session"),
        ];
        ops.extend((0..6).map(|_| mark(2.6, Some(2.7), MarkKind::Ok, "write")));
        ops.extend((0..10).map(|_| mark(0.5, Some(0.6), MarkKind::Ok, "read")));
        let t = throughput(&lane(ops), 3.0);
        let kinds: Vec<&str> = t.iter().map(|t| t.f.as_str()).collect();
        assert_eq!(
            kinds,
            ["write", "read"],
            "no plot of one final read or of session events"
        );
        assert_eq!(t[0].bucket, 1.0);
        assert_eq!(&t[0].counts[..3], &[[2, 0, 0], [0, 1, 0], [6, 0, 1]]);
        assert_eq!(t[1].counts[0], [10, 0, 0]);
    }

    #[test]
    fn a_long_run_gets_wider_buckets() {
        assert_eq!(bucket_for(60.0), 1.0);
        assert_eq!(bucket_for(1800.0), 3.0);
    }

    #[test]
    fn latency_keeps_every_failure_and_thins_overlapping_successes() {
        let mut ops: Vec<OpMark> = (0..1000)
            .map(|_| mark(1.0, Some(1.010), MarkKind::Ok, "write"))
            .collect();
        ops.push(mark(1.0, Some(4.0), MarkKind::Info, "write"));
        ops.push(mark(1.0, Some(4.0), MarkKind::Info, "write"));
        ops.push(mark(2.0, Some(2.001), MarkKind::Ok, "write"));
        let l = &latencies(&lane(ops), &[], 10.0)[0];
        assert_eq!(l.operations, 1003);
        assert_eq!(l.points.len(), 4, "{:?}", l.points);
        let (_, p50, p99) = l.quantiles[0];
        assert!((p50 - 0.010).abs() < 1e-9 && (p99 - 0.010).abs() < 1e-9);
        assert_eq!(l.quantiles.len(), 2);
    }

    #[test]
    fn trace_delivery_is_first_found_minus_emitted() {
        use serde_json::json;
        let op = |index, secs: f64, f, kind, id: &str| Op {
            index,
            time: (secs * 1e9) as u64,
            process: "x".into(),
            f,
            kind,
            value: json!({"id": id}),
            error: None,
        };
        let ops = vec![
            op(0, 1.0, F::Trace, OpKind::Invoke, "t1"),
            op(1, 1.0, F::Trace, OpKind::Ok, "t1"),
            op(2, 4.5, F::TraceFound, OpKind::Ok, "t1"),
            op(3, 6.0, F::TraceFound, OpKind::Ok, "t1"),
            op(4, 7.0, F::TraceFound, OpKind::Ok, "unknown"),
        ];
        let d = trace_delivery(&ops);
        assert_eq!(d, [(1.0, 3.5, MarkKind::Ok)]);
    }

    #[test]
    fn resources_give_memory_the_limit_and_cpu_cores_between_samples() {
        use serde_json::json;
        let sample = |index, secs: f64, cpu: u64, memory: u64| Op {
            index,
            time: (secs * 1e9) as u64,
            process: "resources".into(),
            f: F::Resources,
            kind: OpKind::Ok,
            value: json!({"nodes": {"broker-1": {"memory": memory, "limit": 1_073_741_824u64, "cpu_ns": cpu}}}),
            error: None,
        };
        let ops = vec![
            sample(0, 1.0, 1_000_000_000, 100),
            sample(1, 2.0, 2_500_000_000, 900),
            // Restarted: its CPU time starts again.
            sample(2, 3.0, 100_000_000, 50),
        ];
        let r = &resources(&ops, &["zk-1".to_string(), "broker-1".to_string()])[0];
        assert_eq!(r.node, "broker-1");
        let cores: Vec<Option<f64>> = r.samples.iter().map(|s| s.3).collect();
        assert_eq!(cores, [None, Some(1.5), None]);
        assert_eq!((r.max_memory(), r.limit()), (900, Some(1_073_741_824)));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}

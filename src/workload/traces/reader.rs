//! The trace reader: polls a query API (a [`TraceSource`]) for the traces it can show, recording
//! each poll and each find; after heal, the drain waits for the traces not found yet, then asks
//! the source once for any still missing that it stored far from when they were sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::history::{F, History, OpKind, Recorder};

/// The reader polls this often, each poll (all pages) within POLL_TIMEOUT.
const POLL_EVERY: Duration = Duration::from_secs(1);
pub(super) const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// In the drain, once this long has passed without a new trace in the window, the missing ones
/// are looked for outside it: traces filed under a wrong clock are found then, not after the
/// drain's deadline.
const DISPLACED_SEARCH_IDLE: Duration = Duration::from_secs(5);
/// The reader's window reaches this far before the run started and beyond now.
pub(super) const WINDOW_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Where the reader finds traces: a query API asked through one node at a time.
pub trait TraceSource: Send + 'static {
    /// Every trace the API shows in the run's window, by the id the workload gave it, with how
    /// many times it is stored (more than once is a duplicate).
    fn list(
        &mut self,
        node: &str,
        address: Ipv4Addr,
    ) -> impl Future<Output = anyhow::Result<BTreeMap<String, u32>>> + Send;

    /// Of `missing`, those stored outside the run's window, each with when the API says it was
    /// stored (ms since the epoch): a trace filed under a wrong time is lost to a user looking
    /// at when it happened. Sources that cannot search wider find none.
    fn displaced(
        &mut self,
        node: &str,
        address: Ipv4Addr,
        missing: &BTreeSet<String>,
    ) -> impl Future<Output = anyhow::Result<Vec<(String, i64)>>> + Send {
        let _ = (node, address, missing);
        async { Ok(Vec::new()) }
    }
}

/// The start of the window a reader looks in: WINDOW_MARGIN before the run started.
pub(super) fn window_start(recorder: &Recorder) -> DateTime<Utc> {
    run_start(recorder) - WINDOW_MARGIN
}

/// When the run started, by this machine's clock.
fn run_start(recorder: &Recorder) -> DateTime<Utc> {
    Utc::now() - chrono::TimeDelta::from_std(recorder.start().elapsed()).unwrap_or_default()
}

/// The reader's phase, as its finds record it; `Stop` (which only follows the drain) ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Run,
    Drain,
    Stop,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Run => "run",
            Phase::Drain | Phase::Stop => "drain",
        }
    }
}

/// What the drain saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainSummary {
    /// Traces emitted and not refused by the agent (Trace invokes without a Fail).
    pub emitted: u64,
    /// Of those, found through the query API.
    pub found: u64,
    /// Of those, never found.
    pub missing: u64,
    /// Of the missing, found stored outside the run's window.
    pub displaced: u64,
    /// How long the drain took.
    pub elapsed: Duration,
}

/// The trace reader running in the background; `drain` ends it.
pub struct Reader {
    task: tokio::task::JoinHandle<()>,
    control: watch::Sender<Phase>,
    /// Trace id → the most copies seen of it.
    found: Arc<Mutex<HashMap<String, u32>>>,
    /// Missing traces found stored outside the window.
    displaced: Arc<Mutex<BTreeSet<String>>>,
    /// Polls done so far.
    polls: watch::Receiver<u64>,
    recorder: Recorder,
}

/// Starts the SkyWalking reader: the service's traces through GraphQL, `target.query` in turn.
pub fn start_reader(target: &super::Target, recorder: &Recorder) -> Reader {
    let source = super::skywalking_source::SkywalkingSource::new(
        target.service.clone(),
        window_start(recorder),
    );
    Reader::start(source, target.query.clone(), recorder)
}

impl Reader {
    /// Starts a reader: every POLL_EVERY, asks `source` through the next of `query` in turn.
    /// Records each poll (TraceQuery) and each trace the first time it is seen and whenever
    /// more copies of it appear (TraceFound). Needs a Tokio runtime; dropping the reader stops
    /// it.
    pub fn start(
        source: impl TraceSource,
        query: Vec<(String, Ipv4Addr)>,
        recorder: &Recorder,
    ) -> Reader {
        let (control, control_rx) = watch::channel(Phase::Run);
        let (polls_tx, polls) = watch::channel(0u64);
        let found = Arc::new(Mutex::new(HashMap::new()));
        let displaced = Arc::new(Mutex::new(BTreeSet::new()));
        let reader = ReadLoop {
            source,
            query,
            recorder: recorder.clone(),
            found: found.clone(),
            displaced: displaced.clone(),
            control: control_rx,
            polls: polls_tx,
        };
        Reader {
            task: tokio::spawn(reader.run()),
            control,
            found,
            displaced,
            polls,
            recorder: recorder.clone(),
        }
    }

    /// After heal: switches to the drain phase and keeps polling until every trace the emitters
    /// handed to the agent and the agent did not refuse has been found — in the window, or
    /// outside it by the search the reader makes once the window has had nothing new for
    /// DISPLACED_SEARCH_IDLE — or the drain may give up on the rest (see `may_give_up`), or
    /// `deadline` passed; then has the source look for the missing ones outside the window once
    /// more, and stops the reader.
    ///
    /// `late_after` is the traces check's: a trace still missing that long (plus DRAIN_QUIET)
    /// after it was emitted would be late if it were found now.
    pub async fn drain(self, deadline: Duration, late_after: Duration) -> DrainSummary {
        let begin = Instant::now();
        let _ = self.control.send(Phase::Drain);
        let history = self.recorder.snapshot();
        let expected = expected_ids(&history);
        // Each trace's age when the drain began; the drain's own clock adds to it.
        let now = self.recorder.now();
        let age_at_begin: HashMap<&str, Duration> = history
            .with_f(F::Trace)
            .filter(|op| op.kind == OpKind::Invoke)
            .filter_map(|op| Some((op.value.get("id")?.as_str()?, op.time)))
            .map(|(id, emitted)| (id, Duration::from_nanos(now.saturating_sub(emitted))))
            .collect();
        let mut polls = self.polls.clone();
        let missing = |found: &Mutex<HashMap<String, u32>>| {
            let found = found.lock().expect("found lock poisoned");
            expected
                .iter()
                .filter(|id| !found.contains_key(*id))
                .count() as u64
        };
        // How many traces are neither found nor found outside the window, and the age at the
        // drain's start of the youngest of them.
        let unaccounted = || {
            let found = self.found.lock().expect("found lock poisoned");
            let displaced = self.displaced.lock().expect("displaced lock poisoned");
            let missing: Vec<&String> = expected
                .iter()
                .filter(|id| !found.contains_key(*id) && !displaced.contains(*id))
                .collect();
            let youngest = missing
                .iter()
                .filter_map(|id| age_at_begin.get(id.as_str()).copied())
                .min()
                .unwrap_or_default();
            (missing.len(), youngest)
        };
        let mut last_progress = (Instant::now(), unaccounted().0);
        loop {
            let (now_missing, youngest) = unaccounted();
            if now_missing == 0 {
                break;
            }
            if now_missing < last_progress.1 {
                last_progress = (Instant::now(), now_missing);
            }
            let quiet_for = last_progress.0.elapsed();
            let youngest_age = youngest + begin.elapsed();
            if may_give_up(quiet_for, youngest_age, late_after) {
                tracing::info!(
                    missing = now_missing,
                    "nothing new for {quiet_for:?}, and every missing trace emitted at least \
                     {youngest_age:?} ago: the drain stops"
                );
                break;
            }
            let wait = DRAIN_QUIET
                .saturating_sub(quiet_for)
                .max((late_after + DRAIN_QUIET).saturating_sub(youngest_age))
                .max(Duration::from_millis(100));
            let left = deadline.saturating_sub(begin.elapsed()).min(wait);
            match tokio::time::timeout(left, polls.changed()).await {
                Ok(Ok(())) => {}
                // The reader ended (no node to ask).
                Ok(Err(_)) => break,
                // The deadline passed, or the quiet time: the loop's top decides which.
                Err(_) if begin.elapsed() >= deadline => break,
                Err(_) => {}
            }
        }
        let _ = self.control.send(Phase::Stop);
        if let Err(e) = self.task.await {
            tracing::error!("the trace reader crashed: {e}");
        }
        let displaced = self
            .displaced
            .lock()
            .expect("displaced lock poisoned")
            .len() as u64;
        let missing = missing(&self.found);
        DrainSummary {
            emitted: expected.len() as u64,
            found: expected.len() as u64 - missing,
            missing,
            displaced,
            elapsed: begin.elapsed(),
        }
    }
}

/// How long the drain must have found nothing new before it may give up on the missing traces.
pub const DRAIN_QUIET: Duration = Duration::from_secs(15);

/// Whether the drain may stop with traces still missing: nothing new came for DRAIN_QUIET, and
/// even the youngest missing trace was emitted more than `late_after` + DRAIN_QUIET ago, so
/// finding it now would only show it late. The margin covers the time a trace takes to become
/// queryable after its last span is stored.
fn may_give_up(quiet_for: Duration, youngest_missing_age: Duration, late_after: Duration) -> bool {
    quiet_for >= DRAIN_QUIET && youngest_missing_age >= late_after + DRAIN_QUIET
}

/// The traces the emitters handed to the agent that it did not refuse: Trace invokes without a
/// Fail.
fn expected_ids(history: &History) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for op in history.with_f(F::Trace) {
        let Some(id) = op.value.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        match op.kind {
            OpKind::Invoke => {
                ids.insert(id.to_string());
            }
            OpKind::Fail => {
                refused.insert(id.to_string());
            }
            OpKind::Ok | OpKind::Info => {}
        }
    }
    ids.retain(|id| !refused.contains(id));
    ids
}

/// Which traces to record as found after a listing: those new, and those with more segments
/// than before. Updates `found`.
fn news(found: &mut HashMap<String, u32>, listing: &BTreeMap<String, u32>) -> Vec<(String, u32)> {
    let mut news = Vec::new();
    for (id, &segments) in listing {
        match found.get_mut(id) {
            Some(seen) if *seen >= segments => {}
            Some(seen) => {
                *seen = segments;
                news.push((id.clone(), segments));
            }
            None => {
                found.insert(id.clone(), segments);
                news.push((id.clone(), segments));
            }
        }
    }
    news
}

/// How far from when it was emitted each displaced trace was stored, in ms; traces with no
/// emission in the history are left out.
fn offsets(
    history: &History,
    run_start: DateTime<Utc>,
    displaced: &[(String, i64)],
) -> Vec<(String, i64, i64)> {
    let emitted: HashMap<&str, u64> = history
        .with_f(F::Trace)
        .filter(|op| op.kind == OpKind::Invoke)
        .filter_map(|op| Some((op.value.get("id")?.as_str()?, op.time)))
        .collect();
    let start_ms = run_start.timestamp_millis();
    displaced
        .iter()
        .filter_map(|(id, stored_ms)| {
            let at = *emitted.get(id.as_str())?;
            let emitted_ms = start_ms + i64::try_from(at / 1_000_000).ok()?;
            Some((id.clone(), *stored_ms, stored_ms - emitted_ms))
        })
        .collect()
}

const PROCESS: &str = "reader";

struct ReadLoop<S> {
    source: S,
    query: Vec<(String, Ipv4Addr)>,
    recorder: Recorder,
    found: Arc<Mutex<HashMap<String, u32>>>,
    displaced: Arc<Mutex<BTreeSet<String>>>,
    control: watch::Receiver<Phase>,
    polls: watch::Sender<u64>,
}

impl<S: TraceSource> ReadLoop<S> {
    /// Polls until told to stop, searching for displaced traces once the drain's window has
    /// gone quiet and again at the stop.
    async fn run(mut self) {
        if self.query.is_empty() {
            tracing::error!("the trace reader has no node to ask");
            return;
        }
        let mut last_news = Instant::now();
        let mut searched_early = false;
        let mut tick = tokio::time::interval(POLL_EVERY);
        // Delay: a slow poll is followed by a full period before the next, not by a catch-up.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut control = self.control.clone();
        let mut turn = 0usize;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                // A phase change polls at once (the drain need not wait a period).
                changed = control.changed() => if changed.is_err() { break },
            }
            if *control.borrow_and_update() == Phase::Stop {
                break;
            }
            let (node, address) = self.query[turn % self.query.len()].clone();
            turn += 1;
            self.recorder.record(
                PROCESS,
                F::TraceQuery,
                OpKind::Invoke,
                json!({ "via": node }),
                None,
            );
            // A poll in flight when the reader is told to stop finishes (POLL_TIMEOUT bounds
            // it): abandoning it would leave a query that neither failed nor succeeded.
            let outcome = self.source.list(&node, address).await;
            match outcome {
                Ok(listing) => {
                    self.recorder.record(
                        PROCESS,
                        F::TraceQuery,
                        OpKind::Ok,
                        json!({ "via": node, "traces": listing.len() }),
                        None,
                    );
                    let news = news(
                        &mut self.found.lock().expect("found lock poisoned"),
                        &listing,
                    );
                    let phase = self.control.borrow().name();
                    if !news.is_empty() {
                        last_news = Instant::now();
                    }
                    for (id, segments) in news {
                        self.recorder.record(
                            PROCESS,
                            F::TraceFound,
                            OpKind::Ok,
                            json!({ "id": id, "segments": segments, "phase": phase }),
                            None,
                        );
                    }
                }
                Err(e) => {
                    self.recorder.record(
                        PROCESS,
                        F::TraceQuery,
                        OpKind::Fail,
                        json!({ "via": node }),
                        Some(format!("{e:#}")),
                    );
                }
            }
            let draining = *self.control.borrow() == Phase::Drain;
            if draining && !searched_early && last_news.elapsed() >= DISPLACED_SEARCH_IDLE {
                searched_early = true;
                self.search_displaced().await;
            }
            self.polls.send_modify(|n| *n += 1);
        }
        self.search_displaced().await;
    }

    /// Asks for the traces still missing (and not found displaced before) outside the window,
    /// through each node in turn until one answers; records each found as a TraceFound of phase
    /// `displaced` with where it was stored and how far that is from when it was emitted.
    async fn search_displaced(&mut self) {
        let history = self.recorder.snapshot();
        let missing: BTreeSet<String> = {
            let found = self.found.lock().expect("found lock poisoned");
            let displaced = self.displaced.lock().expect("displaced lock poisoned");
            expected_ids(&history)
                .into_iter()
                .filter(|id| !found.contains_key(id) && !displaced.contains(id))
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        for (node, address) in self.query.clone() {
            match self.source.displaced(&node, address, &missing).await {
                Ok(displaced) => {
                    let run_start = run_start(&self.recorder);
                    let offsets = offsets(&history, run_start, &displaced);
                    self.displaced
                        .lock()
                        .expect("displaced lock poisoned")
                        .extend(offsets.iter().map(|(id, _, _)| id.clone()));
                    for (id, stored_ms, offset_ms) in &offsets {
                        self.recorder.record(
                            PROCESS,
                            F::TraceFound,
                            OpKind::Ok,
                            json!({ "id": id, "segments": 1, "phase": "displaced",
                                    "stored_at_ms": stored_ms, "offset_ms": offset_ms }),
                            None,
                        );
                    }
                    return;
                }
                Err(e) => tracing::warn!(
                    "looking for the {} missing traces outside the window through {node}: {e:#}",
                    missing.len()
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::traces::Target;

    #[test]
    fn the_drain_waits_for_every_trace_the_agent_did_not_refuse() {
        let recorder = Recorder::new();
        let e = |id: &str| json!({"id": id, "emitter": "e0", "seq": 0});
        recorder.record("emitter-0", F::Trace, OpKind::Invoke, e("a"), None);
        recorder.record("emitter-0", F::Trace, OpKind::Ok, e("a"), None);
        recorder.record("emitter-0", F::Trace, OpKind::Invoke, e("b"), None);
        recorder.record("emitter-0", F::Trace, OpKind::Fail, e("b"), None);
        recorder.record("emitter-0", F::Trace, OpKind::Invoke, e("c"), None);
        recorder.record("emitter-0", F::Trace, OpKind::Info, e("c"), None);
        recorder.record("emitter-0", F::Trace, OpKind::Invoke, e("d"), None);
        recorder.record(
            "reader",
            F::TraceFound,
            OpKind::Ok,
            json!({"id": "x", "segments": 1, "phase": "run"}),
            None,
        );
        let ids: Vec<_> = expected_ids(&recorder.snapshot()).into_iter().collect();
        assert_eq!(ids, ["a", "c", "d"]);
    }

    #[test]
    fn finds_are_new_traces_and_traces_with_more_segments() {
        let mut found = HashMap::new();
        let listing = |pairs: &[(&str, u32)]| {
            pairs
                .iter()
                .map(|(id, n)| (id.to_string(), *n))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            news(&mut found, &listing(&[("a", 1), ("b", 1)])),
            vec![("a".to_string(), 1), ("b".to_string(), 1)]
        );
        // Seen again, nothing new; a trace missing from one listing is not forgotten.
        assert!(news(&mut found, &listing(&[("a", 1)])).is_empty());
        assert_eq!(
            news(&mut found, &listing(&[("a", 2), ("b", 1), ("c", 1)])),
            vec![("a".to_string(), 2), ("c".to_string(), 1)]
        );
        // Fewer segments than seen before is not news.
        assert!(news(&mut found, &listing(&[("a", 1)])).is_empty());
        assert_eq!(found.len(), 3);
    }

    #[tokio::test]
    async fn a_reader_with_nobody_to_ask_records_failed_polls_and_drains_to_its_deadline() {
        let recorder = Recorder::new();
        let e = json!({"id": "a", "emitter": "e0", "seq": 0});
        recorder.record("emitter-0", F::Trace, OpKind::Invoke, e.clone(), None);
        recorder.record("emitter-0", F::Trace, OpKind::Ok, e, None);
        let target = Target {
            collector: String::new(),
            query: vec![("nobody".into(), Ipv4Addr::LOCALHOST)],
            service: "chaosbed-test".into(),
        };
        let reader = start_reader(&target, &recorder);
        let summary = reader
            .drain(Duration::from_millis(2500), Duration::from_secs(45))
            .await;
        assert_eq!((summary.emitted, summary.found, summary.missing), (1, 0, 1));
        let history = recorder.snapshot();
        let kinds: Vec<OpKind> = history.with_f(F::TraceQuery).map(|op| op.kind).collect();
        assert!(kinds.len() >= 4, "{kinds:?}");
        for pair in kinds.chunks(2) {
            assert_eq!(pair[0], OpKind::Invoke);
            assert!(matches!(
                pair.get(1),
                Some(OpKind::Fail | OpKind::Info) | None
            ));
        }
        let failed = history
            .with_f(F::TraceQuery)
            .find(|op| op.kind == OpKind::Fail)
            .unwrap();
        assert_eq!(failed.value, json!({"via": "nobody"}));
        let error = failed.error.as_deref().unwrap();
        assert!(error.contains("nobody (127.0.0.1)"), "{error}");
    }

    /// A reader on `source` after traces `a` and `b` were emitted and taken by the agent.
    fn emitted_a_and_b(source: impl TraceSource) -> (Recorder, Reader) {
        let recorder = Recorder::new();
        for id in ["a", "b"] {
            let e = json!({"id": id, "emitter": "e0", "seq": 0});
            recorder.record("emitter-0", F::Trace, OpKind::Invoke, e.clone(), None);
            recorder.record("emitter-0", F::Trace, OpKind::Ok, e, None);
        }
        let web = vec![("web-1".into(), Ipv4Addr::LOCALHOST)];
        let reader = Reader::start(source, web, &recorder);
        (recorder, reader)
    }

    /// A source whose window shows `a` and which finds `b` stored an hour later.
    struct SkewedSource;

    impl TraceSource for SkewedSource {
        async fn list(&mut self, _: &str, _: Ipv4Addr) -> anyhow::Result<BTreeMap<String, u32>> {
            Ok(BTreeMap::from([("a".to_string(), 1)]))
        }

        async fn displaced(
            &mut self,
            _: &str,
            _: Ipv4Addr,
            missing: &BTreeSet<String>,
        ) -> anyhow::Result<Vec<(String, i64)>> {
            let hour_later = Utc::now().timestamp_millis() + 3_600_000;
            Ok(missing.iter().map(|id| (id.clone(), hour_later)).collect())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_drain_ends_once_the_missing_are_found_outside_the_window() {
        let (recorder, reader) = emitted_a_and_b(SkewedSource);
        let summary = reader
            .drain(Duration::from_secs(90), Duration::from_secs(30))
            .await;
        assert_eq!(
            (summary.found, summary.missing, summary.displaced),
            (1, 1, 1)
        );
        assert!(
            summary.elapsed < DISPLACED_SEARCH_IDLE + Duration::from_secs(3),
            "{summary:?}"
        );
        let displaced: Vec<_> = recorder
            .snapshot()
            .with_f(F::TraceFound)
            .filter(|op| op.value["phase"] == "displaced")
            .map(|op| op.value["id"].clone())
            .collect();
        assert_eq!(displaced, [json!("b")], "found once, not again at the stop");
    }

    /// A source whose window shows only `a`, and nothing outside it.
    struct LossySource;

    impl TraceSource for LossySource {
        async fn list(&mut self, _: &str, _: Ipv4Addr) -> anyhow::Result<BTreeMap<String, u32>> {
            Ok(BTreeMap::from([("a".to_string(), 1)]))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_drain_gives_up_once_a_trace_found_now_would_be_late() {
        // `b` was emitted just before the drain: it may give up 30 s + DRAIN_QUIET later.
        let (_recorder, reader) = emitted_a_and_b(LossySource);
        let summary = reader
            .drain(Duration::from_secs(90), Duration::from_secs(30))
            .await;
        assert_eq!((summary.found, summary.missing), (1, 1));
        assert!(
            summary.elapsed >= Duration::from_secs(45) && summary.elapsed < Duration::from_secs(48),
            "{summary:?}"
        );
    }

    #[test]
    fn the_drain_waits_for_quiet_and_for_the_youngest_missing_trace_to_be_late() {
        let s = Duration::from_secs;
        // Missing since long before the drain: only the quiet time is left to wait.
        assert!(!may_give_up(s(14), s(120), s(30)));
        assert!(may_give_up(s(15), s(120), s(30)));
        // Emitted 20 s ago: it could still be found in time until 45 s after its emission.
        assert!(!may_give_up(s(40), s(44), s(30)));
        assert!(may_give_up(s(40), s(45), s(30)));
    }
}

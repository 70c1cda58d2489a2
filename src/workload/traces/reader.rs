//! The trace reader: polls the OAP's GraphQL query API for the traces it can show, recording
//! each poll and each find; after heal, the drain waits for the traces not found yet.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::Target;
use crate::history::{F, History, OpKind, Recorder};
use crate::system::skywalking::graphql;

/// The reader polls this often, each poll (all pages) within POLL_TIMEOUT.
const POLL_EVERY: Duration = Duration::from_secs(1);
const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// The reader's window reaches this far before the run started and beyond now.
const WINDOW_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

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
    /// How long the drain took.
    pub elapsed: Duration,
}

/// The trace reader running in the background; `drain` ends it.
pub struct Reader {
    task: tokio::task::JoinHandle<()>,
    control: watch::Sender<Phase>,
    /// Trace id → the most segments seen of it.
    found: Arc<Mutex<HashMap<String, u32>>>,
    /// Polls done so far.
    polls: watch::Receiver<u64>,
    recorder: Recorder,
}

/// Starts the reader: every POLL_EVERY, lists the service's traces in the window from a minute
/// before the run started to a minute from now (every page), through `target.query` in turn.
/// Records each poll (TraceQuery) and each trace the first time it is seen and whenever more of
/// its segments appear (TraceFound). Needs a Tokio runtime; dropping the reader stops it.
pub fn start_reader(target: &Target, recorder: &Recorder) -> Reader {
    let since_start = chrono::TimeDelta::from_std(recorder.start().elapsed()).unwrap_or_default();
    let (control, control_rx) = watch::channel(Phase::Run);
    let (polls_tx, polls) = watch::channel(0u64);
    let found = Arc::new(Mutex::new(HashMap::new()));
    let reader = ReadLoop {
        query: target.query.clone(),
        service: target.service.clone(),
        recorder: recorder.clone(),
        from: Utc::now() - since_start - WINDOW_MARGIN,
        found: found.clone(),
        control: control_rx,
        polls: polls_tx,
        timezone: None,
    };
    Reader {
        task: tokio::spawn(reader.run()),
        control,
        found,
        polls,
        recorder: recorder.clone(),
    }
}

impl Reader {
    /// After heal: switches to the drain phase and keeps polling until every trace the emitters
    /// handed to the agent and the agent did not refuse has been found, or `deadline` passed;
    /// then stops the reader.
    pub async fn drain(self, deadline: Duration) -> DrainSummary {
        let begin = Instant::now();
        let _ = self.control.send(Phase::Drain);
        let expected = expected_ids(&self.recorder.snapshot());
        let mut polls = self.polls.clone();
        let missing = |found: &Mutex<HashMap<String, u32>>| {
            let found = found.lock().expect("found lock poisoned");
            expected
                .iter()
                .filter(|id| !found.contains_key(*id))
                .count() as u64
        };
        loop {
            if missing(&self.found) == 0 {
                break;
            }
            let left = deadline.saturating_sub(begin.elapsed());
            match tokio::time::timeout(left, polls.changed()).await {
                Ok(Ok(())) => {}
                // The reader ended (no node to ask), or the deadline passed.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let _ = self.control.send(Phase::Stop);
        if let Err(e) = self.task.await {
            tracing::error!("the trace reader crashed: {e}");
        }
        let missing = missing(&self.found);
        DrainSummary {
            emitted: expected.len() as u64,
            found: expected.len() as u64 - missing,
            missing,
            elapsed: begin.elapsed(),
        }
    }
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

struct ReadLoop {
    query: Vec<(String, Ipv4Addr)>,
    service: String,
    recorder: Recorder,
    /// The window's start: a minute before the run started.
    from: DateTime<Utc>,
    found: Arc<Mutex<HashMap<String, u32>>>,
    control: watch::Receiver<Phase>,
    polls: watch::Sender<u64>,
    /// The OAP's time zone, once asked.
    timezone: Option<FixedOffset>,
}

impl ReadLoop {
    async fn run(mut self) {
        const PROCESS: &str = "reader";
        if self.query.is_empty() {
            tracing::error!("the trace reader has no node to ask");
            return;
        }
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
            let outcome = self.poll(&node, address).await;
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
            self.polls.send_modify(|n| *n += 1);
        }
    }

    /// One poll: the service's traces in the window, through `node`.
    async fn poll(
        &mut self,
        node: &str,
        address: Ipv4Addr,
    ) -> anyhow::Result<BTreeMap<String, u32>> {
        let timezone = match self.timezone {
            Some(zone) => zone,
            None => {
                let zone = graphql::time_info(node, address, POLL_TIMEOUT)
                    .await?
                    .timezone;
                *self.timezone.insert(zone)
            }
        };
        let window = graphql::Window {
            start: self.from,
            end: Utc::now() + WINDOW_MARGIN,
            timezone,
        };
        graphql::trace_segments(node, address, &self.service, &window, POLL_TIMEOUT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let summary = reader.drain(Duration::from_millis(2500)).await;
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
}

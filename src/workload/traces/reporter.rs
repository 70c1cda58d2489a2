//! The agent reporter plumbing: each emitter's SkyWalking agent reporter on a thread of its own,
//! its producer and consumer sides, the hooks that record every trace handed to it once as
//! invoked and once with its outcome, and the backoff after a failed gRPC stream.

use std::collections::HashMap;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use skywalking::reporter::grpc::GrpcReporter;
use skywalking::reporter::{CollectItem, CollectItemConsume, CollectItemProduce, ConsumeResult};
use skywalking::trace::tracer::Tracer;
use tokio::sync::{mpsc, oneshot};

use super::EmitSummary;
use crate::history::{F, OpKind, Recorder};

/// Segments an emitter's agent holds before its gRPC side takes them; past it, it refuses.
const QUEUE: usize = 10_000;
/// A failed gRPC stream pauses its reporter this long at first, doubling while failures follow
/// each other within STREAM_QUIET, up to STREAM_BACKOFF_MAX: the agent retries a refused
/// connection at once, in a loop that would otherwise spin a core while the collector is down.
const STREAM_BACKOFF_MIN: Duration = Duration::from_millis(20);
const STREAM_BACKOFF_MAX: Duration = Duration::from_secs(1);
const STREAM_QUIET: Duration = Duration::from_secs(5);

/// How a reporter ended.
#[derive(Debug)]
pub(super) enum Stopped {
    /// It handed on everything it held.
    Finished,
    /// It did not finish within FLUSH_DEADLINE, or failed.
    Unfinished(String),
}

/// One emitter's agent reporter, on a thread of its own.
pub(super) struct Reporter {
    pub(super) tracer: Tracer,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Stopped>,
}

impl Reporter {
    pub(super) async fn start(
        endpoint: &tonic::transport::Endpoint,
        service: &str,
        flush: Duration,
        hooks: Arc<Hooks>,
    ) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel();
        let (endpoint, service) = (endpoint.clone(), service.to_string());
        let thread = std::thread::Builder::new()
            .name(format!("reporter-{}", hooks.emitter))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("a runtime for it: {e}")));
                        return Stopped::Unfinished("no runtime".into());
                    }
                };
                // Dropping the runtime at the end ends whatever the reporter left running.
                runtime.block_on(report(endpoint, service, flush, hooks, ready_tx, stop_rx))
            })
            .context("starting a reporter thread")?;
        let tracer = ready_rx
            .await
            .context("the reporter thread ended before it started")??;
        Ok(Self {
            tracer,
            stop,
            thread,
        })
    }

    /// Asks the reporter to hand on what it holds and waits for its thread.
    pub(super) async fn stop(self) -> Stopped {
        let Self {
            tracer,
            stop,
            thread,
        } = self;
        drop(tracer);
        let _ = stop.send(());
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(stopped)) => stopped,
            Ok(Err(_)) => Stopped::Unfinished("the reporter thread panicked".into()),
            Err(e) => Stopped::Unfinished(format!("waiting for the reporter thread: {e}")),
        }
    }
}

/// The reporter thread's life: builds the agent's gRPC reporter over a lazily connected channel
/// (a collector down at the start is no error), hands a tracer back, reports until asked to
/// stop, then shuts down gracefully within `flush`.
async fn report(
    endpoint: tonic::transport::Endpoint,
    service: String,
    flush: Duration,
    hooks: Arc<Hooks>,
    ready: oneshot::Sender<anyhow::Result<Tracer>>,
    stop: oneshot::Receiver<()>,
) -> Stopped {
    let (tx, rx) = mpsc::channel(QUEUE);
    let producer = Producer {
        tx,
        hooks: hooks.clone(),
    };
    let consumer = Consumer {
        rx,
        hooks: hooks.clone(),
        handed: None,
    };
    let on_error = hooks.clone();
    let reporter = GrpcReporter::new_with_pc(endpoint.connect_lazy(), producer, consumer)
        .with_err_handle(move |message, error| on_error.reporter_error(message, error));
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let on_status = hooks.clone();
    let backoff = Mutex::new(Backoff::default());
    let handle = reporter
        .reporting()
        .await
        .with_status_handle(move |message, status| {
            on_status.stream_error(message, status);
            let pause = backoff
                .lock()
                .expect("backoff lock poisoned")
                .next(std::time::Instant::now());
            // This thread is the reporter's alone: the pause holds back only its retries.
            std::thread::sleep(pause);
        })
        .with_graceful_shutdown(async move {
            let _ = shutdown_rx.await;
        })
        .spawn();
    let tracer = Tracer::new(service, hooks.emitter.clone(), reporter);
    if ready.send(Ok(tracer)).is_err() {
        return Stopped::Unfinished("nobody took the tracer".into());
    }
    // Stop when asked, or when the emitter is gone without asking.
    let _ = stop.await;
    let _ = shutdown.send(());
    match tokio::time::timeout(flush, handle).await {
        Ok(Ok(())) => Stopped::Finished,
        Ok(Err(e)) => Stopped::Unfinished(format!("the reporter failed: {e}")),
        Err(_) => Stopped::Unfinished(format!(
            "the reporter did not hand on what it held within {flush:?}"
        )),
    }
}

/// One emitter's bookkeeping, shared by the emitter, its agent's producer and consumer sides and
/// its error handles: every trace handed to the agent is recorded once as invoked and once with
/// its outcome.
pub(super) struct Hooks {
    /// `emitter-N`, the history's process.
    pub(super) process: String,
    /// `eN`, the value's emitter and the agent's service instance.
    pub(super) emitter: String,
    recorder: Recorder,
    /// Traces handed to the agent whose outcome is not recorded yet: trace id → sequence number.
    pending: Mutex<HashMap<String, u64>>,
    /// Set by the agent's error handle when its gRPC queue refused the segment just handed on.
    stream_queue_refused: AtomicBool,
    emitted: AtomicU64,
    taken: AtomicU64,
    refused: AtomicU64,
    unknown: AtomicU64,
    stream_errors: AtomicU64,
    reporter_errors: AtomicU64,
}

impl Hooks {
    pub(super) fn new(n: u32, recorder: Recorder) -> Self {
        Self {
            process: format!("emitter-{n}"),
            emitter: format!("e{n}"),
            recorder,
            pending: Mutex::new(HashMap::new()),
            stream_queue_refused: AtomicBool::new(false),
            emitted: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            stream_errors: AtomicU64::new(0),
            reporter_errors: AtomicU64::new(0),
        }
    }

    fn value(&self, id: &str, seq: u64) -> serde_json::Value {
        json!({ "id": id, "emitter": self.emitter, "seq": seq })
    }

    /// The trace is about to be handed to the agent.
    pub(super) fn invoke(&self, id: &str, seq: u64) {
        self.pending
            .lock()
            .expect("pending lock poisoned")
            .insert(id.to_string(), seq);
        self.emitted.fetch_add(1, Ordering::Relaxed);
        self.recorder.record(
            &self.process,
            F::Trace,
            OpKind::Invoke,
            self.value(id, seq),
            None,
        );
    }

    /// Records how the agent dealt with trace `id`, once; other ids are not this emitter's.
    fn settle(&self, id: &str, kind: OpKind, error: Option<String>) {
        let Some(seq) = self
            .pending
            .lock()
            .expect("pending lock poisoned")
            .remove(id)
        else {
            return;
        };
        let counter = match kind {
            OpKind::Ok => &self.taken,
            OpKind::Fail => &self.refused,
            _ => &self.unknown,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.recorder
            .record(&self.process, F::Trace, kind, self.value(id, seq), error);
    }

    /// After the reporter stopped: what it never handed on. A reporter that finished will not
    /// (it dropped them while closing); one that did not may still have.
    pub(super) fn settle_rest(&self, stopped: &Stopped) {
        let rest: Vec<String> = self
            .pending
            .lock()
            .expect("pending lock poisoned")
            .keys()
            .cloned()
            .collect();
        let (kind, error) = match stopped {
            Stopped::Finished => (
                OpKind::Fail,
                "the agent's reporter closed without taking it".to_string(),
            ),
            Stopped::Unfinished(why) => (OpKind::Info, why.clone()),
        };
        if let Stopped::Unfinished(why) = stopped {
            tracing::debug!("{}: {why}", self.process);
        }
        for id in rest {
            self.settle(&id, kind, Some(error.clone()));
        }
    }

    /// The agent's error handle: its producer side refused an item (recorded where it was
    /// refused), or its gRPC queue refused the segment its consumer side just handed on.
    fn reporter_error(&self, message: &str, error: &dyn Error) {
        if message.contains("trace segment") {
            self.stream_queue_refused.store(true, Ordering::SeqCst);
        }
        let count = self.reporter_errors.fetch_add(1, Ordering::Relaxed) + 1;
        if count.is_power_of_two() {
            tracing::debug!("{}: {message}: {error} ({count} so far)", self.process);
        }
    }

    /// The agent's status handle: a gRPC stream to the collector failed.
    fn stream_error(&self, message: &str, status: &tonic::Status) {
        let count = self.stream_errors.fetch_add(1, Ordering::Relaxed) + 1;
        if count.is_power_of_two() {
            tracing::debug!(
                "{}: {message}: {} {} ({count} so far)",
                self.process,
                status.code(),
                status.message()
            );
        }
    }

    pub(super) fn summary(&self) -> EmitSummary {
        EmitSummary {
            emitted: self.emitted.load(Ordering::Relaxed),
            taken: self.taken.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
            stream_errors: self.stream_errors.load(Ordering::Relaxed),
        }
    }
}

/// The agent's producer side: a bounded queue that refuses (and records Fail) when full.
struct Producer {
    tx: mpsc::Sender<CollectItem>,
    hooks: Arc<Hooks>,
}

impl CollectItemProduce for Producer {
    fn produce(&self, item: CollectItem) -> Result<(), Box<dyn Error>> {
        let (reason, item) = match self.tx.try_send(item) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(item)) => ("the agent's queue is full", item),
            Err(mpsc::error::TrySendError::Closed(item)) => {
                ("the agent's reporter is closed", item)
            }
        };
        if let CollectItem::Trace(segment) = &item {
            self.hooks
                .settle(&segment.trace_id, OpKind::Fail, Some(reason.to_string()));
        }
        Err(reason.into())
    }
}

/// The agent's consumer side: what it hands on goes to the gRPC stream's queue, which takes it
/// or, when full, drops it and says so through the error handle, before the agent asks for the
/// next item. So each segment's outcome is recorded when the next item is asked for (or the
/// consumer is dropped): Ok when taken, Fail when the queue refused it.
struct Consumer {
    rx: mpsc::Receiver<CollectItem>,
    hooks: Arc<Hooks>,
    /// The trace whose segment was handed on last, outcome not recorded yet.
    handed: Option<String>,
}

impl Consumer {
    fn settle_handed(&mut self) {
        if let Some(id) = self.handed.take() {
            if self
                .hooks
                .stream_queue_refused
                .swap(false, Ordering::SeqCst)
            {
                let why = "the agent dropped it: its gRPC stream's queue was full";
                self.hooks.settle(&id, OpKind::Fail, Some(why.to_string()));
            } else {
                self.hooks.settle(&id, OpKind::Ok, None);
            }
        }
    }

    fn hand(&mut self, item: CollectItem) -> CollectItem {
        if let CollectItem::Trace(segment) = &item {
            self.hooks
                .stream_queue_refused
                .store(false, Ordering::SeqCst);
            self.handed = Some(segment.trace_id.clone());
        }
        item
    }
}

type ConsumeFuture<'a> = Pin<Box<dyn Future<Output = ConsumeResult> + Send + 'a>>;

// The trait is declared with `async_trait`; these are the signatures that macro gives it.
impl CollectItemConsume for Consumer {
    fn consume<'life0, 'async_trait>(&'life0 mut self) -> ConsumeFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.settle_handed();
            Ok(self.rx.recv().await.map(|item| self.hand(item)))
        })
    }

    fn try_consume<'life0, 'async_trait>(&'life0 mut self) -> ConsumeFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.settle_handed();
            // Empty or closed: nothing more to flush.
            Ok(self.rx.try_recv().ok().map(|item| self.hand(item)))
        })
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.settle_handed();
    }
}

/// The pause after a failed gRPC stream.
#[derive(Debug, Default)]
struct Backoff {
    last: Option<std::time::Instant>,
    delay: Duration,
}

impl Backoff {
    fn next(&mut self, now: std::time::Instant) -> Duration {
        self.delay = match self.last {
            Some(last) if now.saturating_duration_since(last) < STREAM_QUIET => {
                (self.delay * 2).clamp(STREAM_BACKOFF_MIN, STREAM_BACKOFF_MAX)
            }
            _ => STREAM_BACKOFF_MIN,
        };
        self.last = Some(now);
        self.delay
    }
}

#[cfg(test)]
mod tests {
    use skywalking::proto::v3::SegmentObject;

    use super::*;

    fn segment(trace_id: &str) -> CollectItem {
        CollectItem::Trace(Box::new(SegmentObject {
            trace_id: trace_id.to_string(),
            ..SegmentObject::default()
        }))
    }

    fn trace_ops(recorder: &Recorder) -> Vec<(OpKind, String, Option<String>)> {
        recorder
            .snapshot()
            .with_f(F::Trace)
            .map(|op| {
                (
                    op.kind,
                    op.value["id"].as_str().unwrap().to_string(),
                    op.error.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn a_trace_handed_on_is_ok_once_the_agent_asks_for_the_next() {
        let recorder = Recorder::new();
        let hooks = Arc::new(Hooks::new(0, recorder.clone()));
        let (tx, rx) = mpsc::channel(8);
        let producer = Producer {
            tx,
            hooks: hooks.clone(),
        };
        let mut consumer = Consumer {
            rx,
            hooks: hooks.clone(),
            handed: None,
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                hooks.invoke("t1", 0);
                producer.produce(segment("t1")).unwrap();
                hooks.invoke("t2", 1);
                producer.produce(segment("t2")).unwrap();
                // Handed on, but not yet settled: the agent may still drop it.
                assert!(consumer.consume().await.unwrap().is_some());
                assert_eq!(trace_ops(&recorder).len(), 2);
                // The agent asks for the next: the first was taken.
                assert!(consumer.consume().await.unwrap().is_some());
                // The gRPC queue refuses the second, then the flush finds nothing more.
                hooks.reporter_error("report trace segment failed", &std::fmt::Error);
                assert!(consumer.try_consume().await.unwrap().is_none());
            });
        assert_eq!(
            trace_ops(&recorder),
            vec![
                (OpKind::Invoke, "t1".into(), None),
                (OpKind::Invoke, "t2".into(), None),
                (OpKind::Ok, "t1".into(), None),
                (
                    OpKind::Fail,
                    "t2".into(),
                    Some("the agent dropped it: its gRPC stream's queue was full".into())
                ),
            ]
        );
        let ops = recorder.snapshot();
        let ok = ops.ops.iter().find(|op| op.kind == OpKind::Ok).unwrap();
        assert_eq!(ok.process, "emitter-0");
        assert_eq!(ok.value, json!({"id": "t1", "emitter": "e0", "seq": 0}));
        assert_eq!(
            hooks.summary(),
            EmitSummary {
                emitted: 2,
                taken: 1,
                refused: 1,
                ..EmitSummary::default()
            }
        );
    }

    #[test]
    fn the_last_trace_handed_on_settles_when_the_consumer_is_dropped() {
        let recorder = Recorder::new();
        let hooks = Arc::new(Hooks::new(1, recorder.clone()));
        let (tx, rx) = mpsc::channel(8);
        let mut consumer = Consumer {
            rx,
            hooks: hooks.clone(),
            handed: None,
        };
        hooks.invoke("t1", 7);
        tx.try_send(segment("t1")).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async { consumer.try_consume().await.unwrap().unwrap() });
        drop(consumer);
        assert_eq!(
            trace_ops(&recorder),
            vec![
                (OpKind::Invoke, "t1".into(), None),
                (OpKind::Ok, "t1".into(), None)
            ]
        );
    }

    #[test]
    fn a_full_agent_queue_refuses_and_records_fail() {
        let recorder = Recorder::new();
        let hooks = Arc::new(Hooks::new(0, recorder.clone()));
        let (tx, rx) = mpsc::channel(1);
        let producer = Producer {
            tx,
            hooks: hooks.clone(),
        };
        hooks.invoke("t1", 0);
        producer.produce(segment("t1")).unwrap();
        hooks.invoke("t2", 1);
        assert!(producer.produce(segment("t2")).is_err());
        drop(rx);
        hooks.invoke("t3", 2);
        assert!(producer.produce(segment("t3")).is_err());
        assert_eq!(
            trace_ops(&recorder),
            vec![
                (OpKind::Invoke, "t1".into(), None),
                (OpKind::Invoke, "t2".into(), None),
                (
                    OpKind::Fail,
                    "t2".into(),
                    Some("the agent's queue is full".into())
                ),
                (OpKind::Invoke, "t3".into(), None),
                (
                    OpKind::Fail,
                    "t3".into(),
                    Some("the agent's reporter is closed".into())
                ),
            ]
        );
    }

    #[test]
    fn what_a_reporter_never_took_is_fail_if_it_finished_and_info_if_not() {
        let recorder = Recorder::new();
        let hooks = Hooks::new(0, recorder.clone());
        hooks.invoke("t1", 0);
        hooks.settle_rest(&Stopped::Finished);
        hooks.invoke("t2", 1);
        hooks.settle_rest(&Stopped::Unfinished("late".into()));
        // Settled once only.
        hooks.settle("t2", OpKind::Ok, None);
        let kinds: Vec<_> = trace_ops(&recorder)
            .into_iter()
            .map(|(k, id, _)| (k, id))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (OpKind::Invoke, "t1".into()),
                (OpKind::Fail, "t1".into()),
                (OpKind::Invoke, "t2".into()),
                (OpKind::Info, "t2".into()),
            ]
        );
        assert_eq!(hooks.summary().unknown, 1);
    }

    #[test]
    fn the_stream_backoff_doubles_while_failures_follow_and_resets_after_quiet() {
        let mut backoff = Backoff::default();
        let t0 = std::time::Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(backoff.next(at(0)), STREAM_BACKOFF_MIN);
        assert_eq!(backoff.next(at(30)), STREAM_BACKOFF_MIN * 2);
        assert_eq!(backoff.next(at(100)), STREAM_BACKOFF_MIN * 4);
        let mut last = Duration::ZERO;
        for i in 0..20 {
            last = backoff.next(at(200 + i * 10));
        }
        assert_eq!(last, STREAM_BACKOFF_MAX);
        assert_eq!(backoff.next(at(200 + 190 + 6_000)), STREAM_BACKOFF_MIN);
    }
}

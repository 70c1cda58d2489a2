//! The Pulsar produce/consume workload: producers with unique message ids and per-producer
//! sequence numbers, consumers on a subscription, every send and receive recorded, and a final
//! drain after heal.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use pulsar::consumer::InitialPosition;
use pulsar::{
    Consumer, ConsumerOptions, OperationRetryOptions, ProducerOptions, Pulsar, SubType,
    TokioExecutor,
};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::history::{F, History, OpKind, Recorder};
use crate::scenario::{SubscriptionKind, WorkloadSpec};
use crate::system::pulsar as pulsar_admin;
use crate::workload::Deadline;

/// The topic used when the scenario names none.
pub const DEFAULT_TOPIC: &str = "persistent://public/default/chaosbed";
const SUBSCRIPTION: &str = "chaosbed";
/// The subscription left untouched through the run and read from the earliest message after the
/// drain (`read_back = true`).
const READ_BACK_SUBSCRIPTION: &str = "chaosbed-read-back";
/// Receive phase of the messages the read-back subscription returns.
pub const READ_BACK_PHASE: &str = "read-back";
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Sends awaiting their receipt, per producer.
const MAX_IN_FLIGHT: usize = 500;
/// Consecutive failures after which a producer or consumer starts over on the next broker.
const FAILURES_BEFORE_RECONNECT: u32 = 3;

/// Where the clients connect and what they use.
#[derive(Debug, Clone)]
pub struct Target {
    /// `pulsar://ip:6650`, one per broker; clients move to the next when one fails.
    pub service_urls: Vec<String>,
    pub topic: String,
    pub subscription: SubscriptionKind,
}

impl Target {
    pub fn new(service_urls: Vec<String>, spec: &WorkloadSpec) -> Self {
        Self {
            service_urls,
            topic: spec
                .topic
                .clone()
                .unwrap_or_else(|| DEFAULT_TOPIC.to_string()),
            subscription: spec.subscription,
        }
    }

    fn url(&self, attempt: usize) -> &str {
        &self.service_urls[attempt % self.service_urls.len()]
    }
}

async fn client(url: &str) -> anyhow::Result<Pulsar<TokioExecutor>> {
    let build = Pulsar::builder(url, TokioExecutor)
        .with_operation_retry_options(OperationRetryOptions {
            operation_timeout: Duration::from_secs(10),
            retry_delay: Duration::from_millis(500),
            max_retries: Some(10),
        })
        .build();
    tokio::time::timeout(CONNECT_TIMEOUT, build)
        .await
        .with_context(|| format!("no Pulsar connection to {url} within {CONNECT_TIMEOUT:?}"))?
        .with_context(|| format!("connecting to Pulsar at {url}"))
}

fn sub_type(kind: SubscriptionKind) -> SubType {
    match kind {
        SubscriptionKind::Exclusive => SubType::Exclusive,
        SubscriptionKind::Shared => SubType::Shared,
        SubscriptionKind::Failover => SubType::Failover,
        SubscriptionKind::KeyShared => SubType::KeyShared,
    }
}

/// A message's identity, carried at the front of its payload: `id|producer|seq|` then padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub id: String,
    pub producer: String,
    pub seq: u64,
}

impl Stamp {
    pub fn encode(&self, size: usize) -> Vec<u8> {
        use std::io::Write as _;
        // One allocation of the final size, as this runs for every message sent (the stamp is
        // the names, three separators and at most 20 digits).
        let mut payload = Vec::with_capacity(size.max(self.id.len() + self.producer.len() + 23));
        write!(payload, "{}|{}|{}|", self.id, self.producer, self.seq)
            .expect("writing to a Vec cannot fail");
        if payload.len() < size {
            payload.resize(size, b'.');
        }
        payload
    }

    /// The send's value in the history: id, producer and sequence.
    fn value(self) -> serde_json::Value {
        let mut value = serde_json::Map::new();
        value.insert("id".into(), self.id.into());
        value.insert("producer".into(), self.producer.into());
        value.insert("seq".into(), self.seq.into());
        value.into()
    }

    pub fn decode(payload: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut parts = text.splitn(4, '|');
        let id = parts.next()?.to_string();
        let producer = parts.next()?.to_string();
        let seq = parts.next()?.parse().ok()?;
        parts.next()?;
        Some(Self { id, producer, seq })
    }
}

fn message_id(id: &pulsar::proto::MessageIdData) -> String {
    format!(
        "{}:{}:{}:{}",
        id.ledger_id,
        id.entry_id,
        id.partition.unwrap_or(-1),
        id.batch_index.unwrap_or(-1)
    )
}

/// Consumers running in the background; `drain` ends them.
pub struct Consumers {
    tasks: JoinSet<()>,
    phase: watch::Sender<&'static str>,
    received: Arc<AtomicU64>,
    last_receive: Arc<AtomicU64>,
    recorder: Recorder,
    /// Where to read the topic back from the start after the drain, when the workload asks.
    read_back: Option<ReadBack>,
}

/// The read-back's topic and the brokers to unload it through first.
struct ReadBack {
    target: Target,
    brokers: Vec<(String, Ipv4Addr)>,
    partitions: u32,
}

impl ReadBack {
    /// The topics that hold the messages: each partition of a partitioned topic.
    fn topics(&self) -> Vec<String> {
        if self.partitions == 0 {
            return vec![self.target.topic.clone()];
        }
        (0..self.partitions)
            .map(|i| format!("{}-partition-{i}", self.target.topic))
            .collect()
    }
}

/// Subscribes `count` consumers before any message is sent (and, with `read_back`, creates the
/// read-back subscription at the earliest message, then leaves it alone; `brokers` are where the
/// read-back unloads the topic before it reads).
pub async fn start_consumers(
    spec: &WorkloadSpec,
    target: &Target,
    brokers: &[(String, Ipv4Addr)],
    recorder: &Recorder,
) -> anyhow::Result<Consumers> {
    let (phase, phase_rx) = watch::channel("run");
    let received = Arc::new(AtomicU64::new(0));
    let last_receive = Arc::new(AtomicU64::new(recorder.now()));
    let mut tasks = JoinSet::new();
    if spec.read_back {
        let mut consumer = subscribe_to(target, READ_BACK_SUBSCRIPTION, "chaosbed-rb", 0).await?;
        consumer
            .close()
            .await
            .context("closing the read-back subscription's first consumer")?;
    }
    for n in 0..spec.consumers {
        // Subscribe now, so that the subscription exists before the first send.
        let consumer = subscribe(target, n, 0).await?;
        let lp = ConsumerLoop {
            n,
            target: target.clone(),
            recorder: recorder.clone(),
            phase: phase_rx.clone(),
            received: received.clone(),
            last_receive: last_receive.clone(),
        };
        tasks.spawn(lp.run(consumer));
    }
    Ok(Consumers {
        tasks,
        phase,
        received,
        last_receive,
        recorder: recorder.clone(),
        read_back: spec.read_back.then(|| ReadBack {
            target: target.clone(),
            brokers: brokers.to_vec(),
            partitions: spec.partitions,
        }),
    })
}

async fn subscribe(
    target: &Target,
    n: u32,
    attempt: usize,
) -> anyhow::Result<Consumer<Vec<u8>, TokioExecutor>> {
    let name = format!("chaosbed-c{n}-{attempt}");
    subscribe_to(target, SUBSCRIPTION, &name, attempt + n as usize).await
}

/// A consumer of `subscription` (created at the earliest message if new) through the broker
/// `url_index` names, modulo the brokers.
async fn subscribe_to(
    target: &Target,
    subscription: &str,
    name: &str,
    url_index: usize,
) -> anyhow::Result<Consumer<Vec<u8>, TokioExecutor>> {
    let url = target.url(url_index);
    let pulsar = client(url).await?;
    let build = pulsar
        .consumer()
        .with_topic(&target.topic)
        .with_subscription(subscription)
        .with_subscription_type(sub_type(target.subscription))
        .with_consumer_name(name)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    tokio::time::timeout(CONNECT_TIMEOUT, build)
        .await
        .with_context(|| {
            format!(
                "no subscription on {} within {CONNECT_TIMEOUT:?}",
                target.topic
            )
        })?
        .with_context(|| format!("subscribing to {} through {url}", target.topic))
}

struct ConsumerLoop {
    n: u32,
    target: Target,
    recorder: Recorder,
    phase: watch::Receiver<&'static str>,
    received: Arc<AtomicU64>,
    last_receive: Arc<AtomicU64>,
}

impl ConsumerLoop {
    async fn run(self, first: Consumer<Vec<u8>, TokioExecutor>) {
        let process = format!("consumer-{}", self.n);
        let mut consumer = Some(first);
        let mut attempt = 0usize;
        let mut failures = 0u32;
        loop {
            let Some(current) = consumer.as_mut() else {
                attempt += 1;
                match subscribe(&self.target, self.n, attempt).await {
                    Ok(c) => consumer = Some(c),
                    Err(e) => {
                        tracing::debug!("{process}: {e:#}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(5), current.next()).await {
                Err(_) => continue,
                Ok(None) => consumer = None,
                Ok(Some(Err(e))) => {
                    failures += 1;
                    tracing::debug!("{process}: receive failed: {e}");
                    if failures >= FAILURES_BEFORE_RECONNECT {
                        consumer = None;
                        failures = 0;
                    }
                }
                Ok(Some(Ok(message))) => {
                    failures = 0;
                    let stamp = Stamp::decode(&message.payload.data);
                    let phase = *self.phase.borrow();
                    self.recorder.record(
                        &process,
                        F::Receive,
                        OpKind::Ok,
                        json!({
                            "id": stamp.as_ref().map(|s| s.id.clone()),
                            "producer": stamp.as_ref().map(|s| s.producer.clone()),
                            "seq": stamp.as_ref().map(|s| s.seq),
                            "message_id": message_id(message.message_id()),
                            "phase": phase,
                        }),
                        stamp
                            .is_none()
                            .then(|| "payload without a chaosbed stamp".to_string()),
                    );
                    self.received.fetch_add(1, Ordering::Relaxed);
                    self.last_receive
                        .store(self.recorder.now(), Ordering::Relaxed);
                    if let Err(e) = current.ack(&message).await {
                        tracing::debug!("{process}: ack failed: {e}");
                    }
                }
            }
        }
    }
}

/// Once every message that was sent (acknowledged or not known to have failed) has been
/// received, the drain waits only this long for a late duplicate before it stops.
const IDLE_WHEN_COMPLETE: Duration = Duration::from_secs(2);
/// Once every acknowledged message has been received and only sends of unknown outcome are
/// missing (most never reached a bookie), the drain waits this long for them. Ending earlier
/// than `idle` changes no verdict: a send of unknown outcome may be received or not.
const IDLE_WHEN_ACKNOWLEDGED: Duration = Duration::from_secs(4);

/// How much of what was sent the workload's consumers have received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Received {
    /// An acknowledged message is still missing.
    Partly,
    /// Every acknowledged message; some sends of unknown outcome are missing.
    Acknowledged,
    /// Every send not known to have failed.
    Everything,
}

fn received_of(history: &History) -> Received {
    let mut received = HashSet::new();
    for op in history.with_f(F::Receive) {
        if op.kind == OpKind::Ok && op.value["phase"] != READ_BACK_PHASE {
            if let Some(id) = op.value["id"].as_str() {
                received.insert(id);
            }
        }
    }
    let mut outcome = Received::Everything;
    for op in history
        .with_f(F::Send)
        .filter(|op| matches!(op.kind, OpKind::Ok | OpKind::Info))
    {
        if op.value["id"]
            .as_str()
            .is_some_and(|id| received.contains(id))
        {
            continue;
        }
        if op.kind == OpKind::Ok {
            return Received::Partly;
        }
        outcome = Received::Acknowledged;
    }
    outcome
}

impl Consumers {
    /// After heal: receives until nothing arrived for `idle` (IDLE_WHEN_COMPLETE once every
    /// message sent has arrived, IDLE_WHEN_ACKNOWLEDGED once every acknowledged one has), or
    /// `deadline` passed; then stops the consumers. Returns how many messages were received in all.
    pub async fn drain(mut self, idle: Duration, deadline: Duration) -> u64 {
        let _ = self.phase.send("drain");
        let begin = Instant::now();
        let started = self.recorder.now();
        self.last_receive.store(started, Ordering::Relaxed);
        let mut received = Received::Partly;
        let mut checked_at = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if received != Received::Everything && checked_at.elapsed() >= Duration::from_secs(1) {
                checked_at = Instant::now();
                received = received_of(&self.recorder.snapshot());
            }
            let quiet = self
                .recorder
                .now()
                .saturating_sub(self.last_receive.load(Ordering::Relaxed));
            let idle = match received {
                Received::Everything => IDLE_WHEN_COMPLETE,
                Received::Acknowledged => IDLE_WHEN_ACKNOWLEDGED.min(idle),
                Received::Partly => idle,
            };
            if Duration::from_nanos(quiet) >= idle || begin.elapsed() >= deadline {
                break;
            }
        }
        self.tasks.shutdown().await;
        if let Some(source) = &self.read_back {
            unload_for_read_back(source, &self.recorder).await;
            read_back(&source.target, &self.recorder, idle, deadline).await;
        }
        self.received.load(Ordering::Relaxed)
    }
}

/// How long the read-back waits for its first message: a topic whose first entries are on no
/// bookie any more never delivers one.
const READ_BACK_FIRST_MESSAGE: Duration = Duration::from_secs(30);
/// How often the read-back tries to unload a topic before it reads without doing so.
const UNLOAD_ATTEMPTS: u32 = 3;

/// Unloads each topic the read-back reads from the broker that owns it, so that what the
/// read-back gets comes from the bookies and not from a broker's entry cache, and records where
/// it reads (`read-back`: Ok with the brokers unloaded from, Fail with why a topic stayed loaded).
async fn unload_for_read_back(source: &ReadBack, recorder: &Recorder) {
    let topics = source.topics();
    let mut unloaded_from = Vec::new();
    let mut errors = Vec::new();
    for topic in &topics {
        let mut attempt = 1;
        loop {
            match unload_from_owner(&source.brokers, topic).await {
                Ok(owner) => {
                    unloaded_from.push(owner);
                    break;
                }
                Err(e) if attempt < UNLOAD_ATTEMPTS => {
                    tracing::debug!("read-back: {e:#}");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    errors.push(format!("{e:#}"));
                    break;
                }
            }
        }
    }
    let value = json!({"topics": topics, "unloaded_from": unloaded_from});
    let (kind, error) = if errors.is_empty() {
        (OpKind::Ok, None)
    } else {
        (OpKind::Fail, Some(errors.join("; ")))
    };
    recorder.record("read-back", F::ReadBack, kind, value, error);
}

/// Unloads `topic` through the broker that owns it; returns that broker.
async fn unload_from_owner(brokers: &[(String, Ipv4Addr)], topic: &str) -> anyhow::Result<String> {
    let owner = pulsar_admin::topic_owner(brokers, topic).await?;
    let address = brokers
        .iter()
        .find(|(name, _)| *name == owner)
        .map(|(_, address)| *address)
        .with_context(|| format!("the owner of {topic}, {owner}, is not among the brokers"))?;
    pulsar_admin::unload_topic(address, topic)
        .await
        .with_context(|| format!("unloading {topic} from its owner {owner}"))?;
    Ok(owner)
}

/// Reads the topic back through the read-back subscription, from the earliest message, until
/// nothing arrived for `idle` or `deadline` passed, recording each message as a receive of phase
/// `read-back` (the delivery check judges those apart from the consumers').
async fn read_back(target: &Target, recorder: &Recorder, idle: Duration, deadline: Duration) {
    let process = "read-back";
    let begin = Instant::now();
    let mut attempt = 0usize;
    let mut consumer = loop {
        match subscribe_to(target, READ_BACK_SUBSCRIPTION, "chaosbed-rb", attempt).await {
            Ok(consumer) => break consumer,
            Err(e) if begin.elapsed() < deadline => {
                tracing::debug!("{process}: {e:#}");
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                recorder.record(
                    process,
                    F::Receive,
                    OpKind::Fail,
                    json!({"phase": READ_BACK_PHASE}),
                    Some(format!("the read-back subscription: {e:#}")),
                );
                return;
            }
        }
    };
    let mut received = 0u64;
    while begin.elapsed() < deadline {
        // The first message takes a lookup, the topic's reopening and a cold read from the
        // bookies.
        let wait = if received == 0 {
            deadline
                .saturating_sub(begin.elapsed())
                .min(READ_BACK_FIRST_MESSAGE)
        } else {
            idle
        };
        match tokio::time::timeout(wait, consumer.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(Err(e))) => tracing::debug!("{process}: receive failed: {e}"),
            Ok(Some(Ok(message))) => {
                let stamp = Stamp::decode(&message.payload.data);
                recorder.record(
                    process,
                    F::Receive,
                    OpKind::Ok,
                    json!({
                        "id": stamp.as_ref().map(|s| s.id.clone()),
                        "producer": stamp.as_ref().map(|s| s.producer.clone()),
                        "seq": stamp.as_ref().map(|s| s.seq),
                        "message_id": message_id(message.message_id()),
                        "phase": READ_BACK_PHASE,
                    }),
                    None,
                );
                received += 1;
                if let Err(e) = consumer.ack(&message).await {
                    tracing::debug!("{process}: ack failed: {e}");
                }
            }
        }
    }
    let _ = consumer.close().await;
}

/// Runs `spec.clients` producers until `end`, recording every send.
///
/// The producers run on a runtime of their own, on one thread: each message hops between
/// several tasks (send, the connection's writer and reader, the receipt), and on a machine whose
/// cores the cluster keeps busy, every hop to another worker thread waited for that thread to be
/// scheduled (`cargo xtask bench pulsar` measured a fifth more throughput on a thread of its own
/// than on the shared runtime; two worker threads measured no better). Most of a message's CPU
/// time is spent in the pulsar crate (patched in vendor/pulsar: one flush for every queued
/// command, small boxed commands, one task waiting for all of a producer's receipts) and in recording the history, so
/// the bench's ratio to pulsar-perf follows how much CPU this one thread gets on a busy machine.
pub async fn produce(spec: &WorkloadSpec, target: &Target, recorder: &Recorder, end: &Deadline) {
    let (spec, target, recorder, end) =
        (spec.clone(), target.clone(), recorder.clone(), end.clone());
    let ran = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(produce_here(&spec, &target, &recorder, &end)))
    })
    .await;
    match ran {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("the producers' runtime could not start: {e}"),
        Err(e) => tracing::error!("the producers' thread crashed: {e}"),
    }
}

async fn produce_here(spec: &WorkloadSpec, target: &Target, recorder: &Recorder, end: &Deadline) {
    let interval = Duration::from_secs_f64(spec.clients as f64 / spec.rate);
    let mut tasks = JoinSet::new();
    for n in 0..spec.clients {
        let producer = ProducerLoop {
            n,
            target: target.clone(),
            recorder: recorder.clone(),
            size: spec.message_size,
        };
        tasks.spawn(producer.run(end.clone(), interval));
    }
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result {
            tracing::error!("a producer crashed: {e}");
        }
    }
}

struct ProducerLoop {
    n: u32,
    target: Target,
    recorder: Recorder,
    size: usize,
}

impl ProducerLoop {
    /// Sends on a timer; a separate task harvests receipts, so a send never waits for the
    /// recording of another's outcome. At most MAX_IN_FLIGHT sends await their receipts: the
    /// permit goes back the moment a receipt (or its timeout) arrives.
    async fn run(self, end: Deadline, interval: Duration) {
        let process = format!("producer-{}", self.n);
        let name = format!("p{}", self.n);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let failures = Arc::new(AtomicU32::new(0));
        let (receipts, harvested) = mpsc::unbounded_channel();
        let harvester = tokio::spawn(harvest(
            harvested,
            process.clone(),
            self.recorder.clone(),
            failures.clone(),
        ));
        let mut producer: Option<pulsar::Producer<TokioExecutor>> = None;
        let mut attempt = 0usize;
        let mut seq = 0u64;
        loop {
            tick.tick().await;
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            if end.passed() {
                break;
            }
            let stamp = Stamp {
                id: format!("{name}-{seq:07}"),
                producer: name.clone(),
                seq,
            };
            seq += 1;
            let payload = stamp.encode(self.size);
            let value = stamp.value();
            self.recorder
                .record(&process, F::Send, OpKind::Invoke, value.clone(), None);
            if failures.load(Ordering::Relaxed) >= FAILURES_BEFORE_RECONNECT {
                producer = None;
                failures.store(0, Ordering::Relaxed);
            }
            if producer.is_none() {
                match self.connect(attempt).await {
                    Ok(p) => producer = Some(p),
                    Err(e) => {
                        attempt += 1;
                        self.recorder.record(
                            &process,
                            F::Send,
                            OpKind::Fail,
                            value,
                            Some(format!("no producer: {e:#}")),
                        );
                        continue;
                    }
                }
            }
            let p = producer.as_mut().expect("a producer was just made");
            match p.send_non_blocking(payload).await {
                Ok(receipt) => {
                    let pending = async move {
                        let outcome = tokio::time::timeout(SEND_TIMEOUT, receipt).await;
                        drop(permit);
                        (value, outcome)
                    };
                    let _ = receipts.send(Box::pin(pending) as PendingReceipt);
                }
                Err(e) => {
                    // Handed to the client but refused: whether it reached the broker is unknown.
                    failures.fetch_add(1, Ordering::Relaxed);
                    self.recorder.record(
                        &process,
                        F::Send,
                        OpKind::Info,
                        value,
                        Some(e.to_string()),
                    );
                }
            }
        }
        drop(receipts);
        if let Err(e) = harvester.await {
            tracing::error!("{process}: the receipt harvester crashed: {e}");
        }
    }

    async fn connect(&self, attempt: usize) -> anyhow::Result<pulsar::Producer<TokioExecutor>> {
        let url = self.target.url(attempt + self.n as usize);
        let pulsar = client(url).await?;
        let build = pulsar
            .producer()
            .with_topic(&self.target.topic)
            .with_name(format!(
                "chaosbed-p{}-{attempt}-{}",
                self.n,
                std::process::id()
            ))
            // Wait for room when the client's queue is full (backpressure, as pulsar-perf's
            // max-outstanding does) instead of failing sends, which would look like an outage.
            .with_options(ProducerOptions {
                block_queue_if_full: true,
                ..ProducerOptions::default()
            })
            .build();
        tokio::time::timeout(CONNECT_TIMEOUT, build)
            .await
            .with_context(|| {
                format!(
                    "no producer on {} within {CONNECT_TIMEOUT:?}",
                    self.target.topic
                )
            })?
            .with_context(|| format!("creating a producer through {url}"))
    }
}

type Receipt =
    Result<Result<pulsar::CommandSendReceipt, pulsar::Error>, tokio::time::error::Elapsed>;

/// A send awaiting its receipt, with the value its outcome is recorded under.
type PendingReceipt =
    std::pin::Pin<Box<dyn std::future::Future<Output = (serde_json::Value, Receipt)> + Send>>;

/// Records each send's outcome as its receipt arrives, until the sender is done and every
/// pending receipt has settled; counts consecutive failures for the sender's reconnects.
async fn harvest(
    mut incoming: mpsc::UnboundedReceiver<PendingReceipt>,
    process: String,
    recorder: Recorder,
    failures: Arc<AtomicU32>,
) {
    let mut pending = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = incoming.recv(), if open => match next {
                Some(receipt) => pending.push(receipt),
                None => open = false,
            },
            Some((value, outcome)) = pending.next() => {
                let (kind, value, error) = settle(value, outcome);
                if kind == OpKind::Ok {
                    failures.store(0, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                recorder.record(&process, F::Send, kind, value, error);
            }
            else => break,
        }
    }
}

fn settle(
    mut value: serde_json::Value,
    outcome: Receipt,
) -> (OpKind, serde_json::Value, Option<String>) {
    match outcome {
        Ok(Ok(receipt)) => {
            if let Some(id) = &receipt.message_id {
                value["message_id"] = json!(message_id(id));
            }
            (OpKind::Ok, value, None)
        }
        Ok(Err(e)) => (OpKind::Info, value, Some(e.to_string())),
        Err(_) => (
            OpKind::Info,
            value,
            Some(format!("no receipt within {SEND_TIMEOUT:?}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_received_once_each_sent_message_not_known_failed_arrived() {
        let recorder = Recorder::new();
        let id = |n: &str| json!({"id": n});
        recorder.record("producer-0", F::Send, OpKind::Ok, id("a"), None);
        recorder.record("producer-0", F::Send, OpKind::Info, id("b"), None);
        recorder.record("producer-0", F::Send, OpKind::Fail, id("c"), None);
        let receive = |n: &str, phase: &str| json!({"id": n, "phase": phase});
        assert_eq!(received_of(&recorder.snapshot()), Received::Partly);
        recorder.record(
            "consumer-0",
            F::Receive,
            OpKind::Ok,
            receive("a", "run"),
            None,
        );
        recorder.record(
            "read-back",
            F::Receive,
            OpKind::Ok,
            receive("b", READ_BACK_PHASE),
            None,
        );
        assert_eq!(
            received_of(&recorder.snapshot()),
            Received::Acknowledged,
            "a arrived, b (unknown outcome) only read back"
        );
        recorder.record(
            "consumer-1",
            F::Receive,
            OpKind::Ok,
            receive("b", "drain"),
            None,
        );
        assert_eq!(
            received_of(&recorder.snapshot()),
            Received::Everything,
            "c failed: not awaited"
        );
    }

    #[test]
    fn a_stamp_survives_padding() {
        let stamp = Stamp {
            id: "p1-0000042".into(),
            producer: "p1".into(),
            seq: 42,
        };
        let payload = stamp.encode(100);
        assert_eq!(payload.len(), 100);
        assert_eq!(Stamp::decode(&payload), Some(stamp));
    }

    #[test]
    fn a_send_is_recorded_under_its_id_producer_and_sequence() {
        let stamp = Stamp {
            id: "p0-0000007".into(),
            producer: "p0".into(),
            seq: 7,
        };
        assert_eq!(
            stamp.value(),
            json!({ "id": "p0-0000007", "producer": "p0", "seq": 7 })
        );
    }

    #[test]
    fn foreign_payloads_are_not_stamps() {
        assert_eq!(Stamp::decode(b"hello"), None);
        assert_eq!(Stamp::decode(&[0xff, 0xfe]), None);
    }
}

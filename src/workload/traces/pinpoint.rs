//! The Pinpoint trace workload: requesters send GET /hello/<id> to the application the Pinpoint
//! agent traces, each request recorded as a Trace (invoke, then ok when answered 2xx, fail when
//! answered otherwise, info when no answer came); and the source the reader asks, the web's API:
//! scatter data for the run's window, then each new transaction's metadata, whose URI carries the
//! request's id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::reader::{POLL_TIMEOUT, TraceSource, WINDOW_MARGIN};
use super::{pacing, stagger};
use crate::history::{F, OpKind, Recorder};
use crate::scenario::WorkloadSpec;
use crate::system::pinpoint::{app, web};
use crate::workload::Deadline;

/// How long one request to the application may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Transactions asked about in one /transactionmetadata.pinpoint request.
const METADATA_BATCH: usize = 200;
/// How far before the run's window and beyond now the search for displaced transactions looks.
const DISPLACED_REACH: TimeDelta = TimeDelta::days(1);

/// Where the requesters send and the reader asks.
#[derive(Debug, Clone)]
pub struct RequestTarget {
    /// The traced applications; requester `n` sends to application `n` modulo their number.
    pub apps: Vec<(String, Ipv4Addr)>,
    /// The webs the reader asks, in turn.
    pub webs: Vec<(String, Ipv4Addr)>,
    /// The application name the agents register under (`app::APPLICATION`).
    pub application: String,
}

/// What the requesters did, as they counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSummary {
    /// Requests sent (Trace invokes).
    pub sent: u64,
    /// Answered 2xx (Trace ok).
    pub answered: u64,
    /// Answered otherwise (Trace fail).
    pub failed: u64,
    /// No answer within REQUEST_TIMEOUT (Trace info).
    pub unknown: u64,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
    unknown: AtomicU64,
}

/// The id request `seq` of requester `n` carries.
fn request_id(prefix: &str, n: u32, seq: u64) -> String {
    format!("{prefix}r{n}-{seq}")
}

/// The request id a transaction's URI carries (`/hello/<id>`), if it is one of the workload's.
fn id_of_uri(uri: &str) -> Option<&str> {
    uri.strip_prefix("/hello/").filter(|id| !id.is_empty())
}

/// Runs `spec.clients` requesters (`requester-0`, ...) that together send `spec.rate` requests a
/// second for `spec.duration`; returns once every request has been answered or timed out.
pub async fn request(
    spec: &WorkloadSpec,
    target: &RequestTarget,
    recorder: &Recorder,
    end: &Deadline,
) -> RequestSummary {
    target.request_with_id_prefix(spec, "", recorder, end).await
}

impl RequestTarget {
    /// Runs the requesters as [`request`] does, every request id starting with `id_prefix`
    /// (`k3-` gives `k3-r0-0`, ...): ids restart with each run, so runs that send to the same
    /// application and read the same webs (a benchmark's rounds) keep their transactions apart
    /// this way. A method rather than a field so the struct's literals elsewhere stay valid.
    pub async fn request_with_id_prefix(
        &self,
        spec: &WorkloadSpec,
        id_prefix: &str,
        recorder: &Recorder,
        end: &Deadline,
    ) -> RequestSummary {
        requests(spec, self, id_prefix, recorder, end).await
    }
}

async fn requests(
    spec: &WorkloadSpec,
    target: &RequestTarget,
    id_prefix: &str,
    recorder: &Recorder,
    end: &Deadline,
) -> RequestSummary {
    let Some(period) = pacing(spec.clients, spec.rate) else {
        tracing::error!(
            "no requesters: {} clients at {} requests/s is no pace",
            spec.clients,
            spec.rate
        );
        return RequestSummary::default();
    };
    if target.apps.is_empty() {
        tracing::error!("no requesters: no application to send to");
        return RequestSummary::default();
    }
    let counts = Arc::new(Counts::default());
    let start = Instant::now();
    let mut requesters = JoinSet::new();
    for n in 0..spec.clients {
        let app = target.apps[n as usize % target.apps.len()].clone();
        let first = start + stagger(n, spec.clients, period);
        requesters.spawn(run_requester(
            (n, id_prefix.to_string()),
            app,
            (first, period, end.clone()),
            recorder.clone(),
            counts.clone(),
        ));
    }
    while let Some(joined) = requesters.join_next().await {
        if let Err(e) = joined {
            tracing::error!("a requester crashed: {e}");
        }
    }
    RequestSummary {
        sent: counts.sent.load(Ordering::Relaxed),
        answered: counts.answered.load(Ordering::Relaxed),
        failed: counts.failed.load(Ordering::Relaxed),
        unknown: counts.unknown.load(Ordering::Relaxed),
    }
}

/// Sends one request every `period` from `first` until `end`, each on a task of its own so a
/// slow answer does not hold the pace; waits for them all.
async fn run_requester(
    (n, id_prefix): (u32, String),
    (app_name, address): (String, Ipv4Addr),
    (first, period, end): (Instant, Duration, Deadline),
    recorder: Recorder,
    counts: Arc<Counts>,
) {
    let process = format!("requester-{n}");
    let mut tick = tokio::time::interval_at(first, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut requests = JoinSet::new();
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        if end.passed() {
            break;
        }
        let id = request_id(&id_prefix, n, seq);
        let value = json!({ "id": id, "emitter": n, "seq": seq, "app": app_name });
        recorder.record(&process, F::Trace, OpKind::Invoke, value.clone(), None);
        counts.sent.fetch_add(1, Ordering::Relaxed);
        let (recorder, counts, process) = (recorder.clone(), counts.clone(), process.clone());
        requests.spawn(async move {
            let (kind, error) = match app::hello(address, &id, REQUEST_TIMEOUT).await {
                Ok(answer) if answer.is_success() => (OpKind::Ok, None),
                Ok(answer) => (
                    OpKind::Fail,
                    Some(format!(
                        "answered {}: {}",
                        answer.status,
                        answer.body.trim()
                    )),
                ),
                Err(e) => (OpKind::Info, Some(format!("{e:#}"))),
            };
            let counter = match kind {
                OpKind::Ok => &counts.answered,
                OpKind::Fail => &counts.failed,
                _ => &counts.unknown,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            recorder.record(&process, F::Trace, kind, value, error);
        });
        seq += 1;
    }
    while requests.join_next().await.is_some() {}
}

/// The Pinpoint web as a trace source: which request ids its transactions carry.
pub struct PinpointSource {
    application: String,
    /// The window's start, ms since the epoch.
    from_ms: i64,
    /// Transaction id → the request id its URI carries (None: not one of the workload's).
    resolved: HashMap<String, Option<String>>,
    /// Request id → transactions carrying it.
    copies: BTreeMap<String, u32>,
}

impl PinpointSource {
    /// Reads `application`'s transactions from `from` on.
    pub fn new(application: String, from: DateTime<Utc>) -> Self {
        Self {
            application,
            from_ms: from.timestamp_millis(),
            resolved: HashMap::new(),
            copies: BTreeMap::new(),
        }
    }

    /// A source for a run recorded by `recorder`: the window opens a minute before it started.
    pub fn for_run(application: String, recorder: &Recorder) -> Self {
        Self::new(application, super::reader::window_start(recorder))
    }

    /// Asks for the metadata of the dots not resolved yet, in batches; returns the transactions
    /// the web found (dots it cannot find yet stay unresolved and are asked about again).
    async fn resolve(
        &mut self,
        address: Ipv4Addr,
        dots: &[web::Dot],
    ) -> anyhow::Result<Vec<web::Transaction>> {
        let fresh: Vec<web::Dot> = dots
            .iter()
            .filter(|d| !self.resolved.contains_key(&d.transaction_id))
            .cloned()
            .collect();
        let mut transactions = Vec::new();
        for batch in fresh.chunks(METADATA_BATCH) {
            let answer = match web::transaction_metadata(address, batch, POLL_TIMEOUT).await {
                Ok(answer) => answer,
                // What the earlier batches resolved is kept (the caller counts it); the rest is
                // asked about again next poll.
                Err(e) if !transactions.is_empty() => {
                    tracing::debug!("transaction metadata through {address}: {e:#}");
                    break;
                }
                Err(e) => return Err(e),
            };
            for transaction in answer {
                let id = id_of_uri(&transaction.application).map(str::to_string);
                self.resolved.insert(transaction.trace_id.clone(), id);
                transactions.push(transaction);
            }
        }
        Ok(transactions)
    }
}

impl TraceSource for PinpointSource {
    async fn list(
        &mut self,
        _node: &str,
        address: Ipv4Addr,
    ) -> anyhow::Result<BTreeMap<String, u32>> {
        let to_ms = (Utc::now() + WINDOW_MARGIN).timestamp_millis();
        let dots = web::scatter(
            address,
            &self.application,
            self.from_ms,
            to_ms,
            POLL_TIMEOUT,
        )
        .await?;
        for transaction in self.resolve(address, &dots).await? {
            if let Some(id) = id_of_uri(&transaction.application) {
                *self.copies.entry(id.to_string()).or_default() += 1;
            }
        }
        Ok(self.copies.clone())
    }

    /// The missing requests' transactions a day either side of the window: filed under a time
    /// far from when they happened (a collector's clock off), where the web's view of the run
    /// does not show them.
    async fn displaced(
        &mut self,
        _node: &str,
        address: Ipv4Addr,
        missing: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<(String, i64)>> {
        let from_ms = self.from_ms - DISPLACED_REACH.num_milliseconds();
        let to_ms = (Utc::now() + DISPLACED_REACH).timestamp_millis();
        let dots = web::scatter(address, &self.application, from_ms, to_ms, POLL_TIMEOUT).await?;
        Ok(self
            .resolve(address, &dots)
            .await?
            .into_iter()
            .filter_map(|t| {
                let id = id_of_uri(&t.application)?;
                missing
                    .contains(id)
                    .then(|| (id.to_string(), t.collector_accept_time))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_travel_in_the_uri() {
        let id = request_id("", 2, 17);
        assert_eq!(id, "r2-17");
        assert_eq!(id_of_uri(&format!("/hello/{id}")), Some("r2-17"));
        let id = request_id("k3-", 2, 17);
        assert_eq!(id_of_uri(&format!("/hello/{id}")), Some("k3-r2-17"));
        assert_eq!(id_of_uri("/hello/"), None);
        assert_eq!(id_of_uri("/health"), None);
    }

    #[tokio::test]
    async fn requests_to_nobody_are_recorded_as_unknown() {
        let recorder = Recorder::new();
        let spec: WorkloadSpec = toml::from_str(
            "kind = \"pinpoint-requests\"\nclients = 2\nrate = 20\nduration = \"1s\"",
        )
        .unwrap();
        let target = RequestTarget {
            // Nothing listens on port 8080 of the loopback address here.
            apps: vec![("app-1".into(), Ipv4Addr::LOCALHOST)],
            webs: Vec::new(),
            application: app::APPLICATION.into(),
        };
        let summary = request(&spec, &target, &recorder, &Deadline::for_workload(&spec)).await;
        assert!((15..=22).contains(&summary.sent), "{summary:?}");
        assert_eq!(summary.answered, 0);
        assert_eq!(
            summary.sent,
            summary.failed + summary.unknown,
            "{summary:?}"
        );
        let history = recorder.snapshot();
        let invokes = history
            .with_f(F::Trace)
            .filter(|op| op.kind == OpKind::Invoke)
            .count() as u64;
        assert_eq!(invokes, summary.sent);
        let first = history.with_f(F::Trace).next().unwrap();
        assert_eq!(first.value["id"], "r0-0");
        assert_eq!(first.value["app"], "app-1");
    }

    #[tokio::test]
    async fn an_id_prefix_starts_every_request_id() {
        let recorder = Recorder::new();
        let spec: WorkloadSpec = toml::from_str(
            "kind = \"pinpoint-requests\"\nclients = 2\nrate = 20\nduration = \"300ms\"",
        )
        .unwrap();
        let target = RequestTarget {
            apps: vec![("app-1".into(), Ipv4Addr::LOCALHOST)],
            webs: Vec::new(),
            application: app::APPLICATION.into(),
        };
        let end = Deadline::for_workload(&spec);
        let summary = target
            .request_with_id_prefix(&spec, "k3-", &recorder, &end)
            .await;
        assert!(summary.sent > 0, "{summary:?}");
        let history = recorder.snapshot();
        let ids: BTreeSet<&str> = history
            .with_f(F::Trace)
            .map(|op| op.value["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains("k3-r0-0") && ids.contains("k3-r1-0"),
            "{ids:?}"
        );
        assert!(ids.iter().all(|id| id.starts_with("k3-r")), "{ids:?}");
    }
}

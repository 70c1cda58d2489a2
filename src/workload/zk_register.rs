//! The ZooKeeper register workload: sessions that create unique znodes and read them back, each
//! operation recorded as invoke then ok / fail / info, plus every session event.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tokio::time::Instant;
use zookeeper_client as zk;

use crate::history::{F, OpKind, Recorder};
use crate::scenario::WorkloadSpec;
use crate::workload::Deadline;

/// Parent of every znode the workload writes.
pub const ROOT: &str = "/chaosbed";
const OP_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how the clients connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `ip:2181,ip:2181,...`
    pub connect: String,
    pub session_timeout: Duration,
}

impl Target {
    pub fn new(connect: String, spec: &WorkloadSpec) -> Self {
        Self {
            connect,
            session_timeout: spec
                .session_timeout
                .map(|d| d.as_duration())
                .unwrap_or(DEFAULT_SESSION_TIMEOUT),
        }
    }
}

pub(super) async fn connect(target: &Target) -> anyhow::Result<zk::Client> {
    tokio::time::timeout(
        CONNECT_TIMEOUT * 2,
        zk::Client::connector()
            .with_session_timeout(target.session_timeout)
            .with_connection_timeout(CONNECT_TIMEOUT)
            .connect(&target.connect),
    )
    .await
    .with_context(|| {
        format!(
            "no ZooKeeper session from {} within {:?}",
            target.connect,
            CONNECT_TIMEOUT * 2
        )
    })?
    .with_context(|| format!("opening a ZooKeeper session to {}", target.connect))
}

/// Creates the workload's parent znode, retrying until `deadline` (setup may retry; it says so).
pub async fn prepare(target: &Target, deadline: Duration) -> anyhow::Result<()> {
    create_persistent(target, &[ROOT], deadline).await
}

/// Creates each of `paths` (empty) unless it exists, in order, retrying on a new session until
/// `deadline` while the quorum forms (setup may retry; it says so).
pub(super) async fn create_persistent(
    target: &Target,
    paths: &[&str],
    deadline: Duration,
) -> anyhow::Result<()> {
    let begin = Instant::now();
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    loop {
        let attempt = async {
            let client = connect(target).await?;
            for path in paths {
                match client.create(path, b"", &options).await {
                    Ok(_) | Err(zk::Error::NodeExists) => {}
                    Err(e) => return Err(anyhow::Error::new(e).context(format!("creating {path}"))),
                }
            }
            Ok(())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if begin.elapsed() < deadline => {
                tracing::info!("setup: retrying creation of {}: {e:#}", paths.join(", "));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.context(format!("setup gave up after {deadline:?}"))),
        }
    }
}

/// Runs `spec.clients` sessions until `end`, recording into `recorder`.
pub async fn run(
    spec: &WorkloadSpec,
    target: &Target,
    recorder: &Recorder,
    seed: u64,
    end: &Deadline,
) {
    run_clients(spec, |id, interval| {
        let client = ClientLoop {
            id,
            target: target.clone(),
            recorder: recorder.clone(),
            read_ratio: spec.read_ratio,
            rng: ChaCha8Rng::seed_from_u64(seed.wrapping_add(u64::from(id))),
        };
        client.run(end.clone(), interval)
    })
    .await
}

/// Runs `spec.clients` client loops made by `client` (given its id and the interval between
/// its operations, so that together they keep `spec.rate`) and waits for them all.
pub(super) async fn run_clients<F>(spec: &WorkloadSpec, client: impl Fn(u32, Duration) -> F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let interval = Duration::from_secs_f64(spec.clients as f64 / spec.rate);
    // A JoinSet aborts every client when dropped, so an interrupted run leaves no client behind.
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..spec.clients {
        tasks.spawn(client(id, interval));
    }
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result {
            tracing::error!("a workload client crashed: {e}");
        }
    }
}

/// One client operation before it is performed.
enum Op {
    Read { key: String },
    Write { key: String, value: String },
}

impl Op {
    fn describe(&self) -> (F, serde_json::Value) {
        match self {
            Op::Read { key } => (F::Read, json!({ "key": key, "value": null })),
            Op::Write { key, value } => (F::Write, json!({ "key": key, "value": value })),
        }
    }
}

struct ClientLoop {
    id: u32,
    target: Target,
    recorder: Recorder,
    read_ratio: f64,
    rng: ChaCha8Rng,
}

impl ClientLoop {
    fn process(&self) -> String {
        format!("client-{}", self.id)
    }

    async fn run(mut self, end: Deadline, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut session: Option<zk::Client> = None;
        let mut written: Vec<(String, String)> = Vec::new();
        let mut seq = 0u64;
        while !end.passed() {
            tick.tick().await;
            let read = !written.is_empty() && self.rng.random_bool(self.read_ratio);
            let op = if read {
                let (key, _) = written[self.rng.random_range(0..written.len())].clone();
                Op::Read { key }
            } else {
                let op = Op::Write {
                    key: self.key(seq),
                    value: format!("c{}-{seq}", self.id),
                };
                seq += 1;
                op
            };
            // The operation is invoked before a session is sought, so a slow refusal counts
            // from the moment the client wanted to act.
            self.invoke(&op);
            if session.as_ref().is_none_or(|c| c.state().is_terminated()) {
                match connect(&self.target).await {
                    Ok(client) => {
                        self.watch_session(&client);
                        session = Some(client);
                    }
                    Err(e) => {
                        // Nothing was sent: the operation certainly did not happen.
                        self.complete(
                            &op,
                            OpKind::Fail,
                            json!(null),
                            Some(format!("no session: {e:#}")),
                        );
                        continue;
                    }
                }
            }
            let Some(client) = session.as_ref() else {
                continue;
            };
            match &op {
                Op::Read { key } => self.read(client, key).await,
                Op::Write { key, value } => {
                    if self.write(client, key, value).await {
                        written.push((key.clone(), value.clone()));
                    }
                }
            }
        }
        if let Some(client) = session {
            drop(client);
        }
    }

    fn invoke(&self, op: &Op) {
        let (f, value) = op.describe();
        self.recorder
            .record(&self.process(), f, OpKind::Invoke, value, None);
    }

    fn complete(
        &self,
        op: &Op,
        kind: OpKind,
        read_value: serde_json::Value,
        error: Option<String>,
    ) {
        let (f, mut value) = op.describe();
        if f == F::Read {
            value["value"] = read_value;
        }
        self.recorder.record(&self.process(), f, kind, value, error);
    }

    fn key(&self, seq: u64) -> String {
        format!("{ROOT}/c{}-{seq:06}", self.id)
    }

    /// Records the session's state changes until it ends.
    fn watch_session(&self, client: &zk::Client) {
        let process = format!("{}/session", self.process());
        let negotiated = client.session_timeout().as_millis() as u64;
        self.recorder.record(
            &process,
            F::Session,
            OpKind::Info,
            json!({ "event": "connected", "negotiated_timeout_ms": negotiated, "session": format!("{:x}", client.session_id().0) }),
            None,
        );
        let mut watcher = client.state_watcher();
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            loop {
                let state = watcher.changed().await;
                let event = match state {
                    zk::SessionState::Disconnected => "disconnected",
                    zk::SessionState::SyncConnected => "reconnected",
                    zk::SessionState::Expired => "expired",
                    zk::SessionState::Closed => "closed",
                    _ => "other",
                };
                recorder.record(
                    &process,
                    F::Session,
                    OpKind::Info,
                    json!({ "event": event, "negotiated_timeout_ms": negotiated, "state": format!("{state:?}") }),
                    None,
                );
                if state.is_terminated() {
                    break;
                }
            }
        });
    }

    /// Returns whether the write was acknowledged.
    async fn write(&self, client: &zk::Client, key: &str, value: &str) -> bool {
        let process = self.process();
        let op = json!({ "key": key, "value": value });
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let outcome =
            tokio::time::timeout(OP_TIMEOUT, client.create(key, value.as_bytes(), &options)).await;
        let (kind, error) = match outcome {
            Ok(Ok(_)) => (OpKind::Ok, None),
            // The server answered with a definite refusal: nothing was written.
            Ok(Err(zk::Error::NoNode)) => {
                // The parent is missing (setup could not create it before quorum): create it now.
                let _ = client.create(ROOT, b"", &options).await;
                (OpKind::Fail, Some(format!("{ROOT} did not exist yet")))
            }
            Ok(Err(
                e @ (zk::Error::NodeExists | zk::Error::BadArguments(_) | zk::Error::NoAuth),
            )) => (OpKind::Fail, Some(e.to_string())),
            // Lost connection, expiry or timeout mid-request: it may or may not have happened.
            Ok(Err(e)) => (OpKind::Info, Some(e.to_string())),
            Err(_) => (
                OpKind::Info,
                Some(format!("no answer within {OP_TIMEOUT:?}")),
            ),
        };
        self.recorder.record(&process, F::Write, kind, op, error);
        kind == OpKind::Ok
    }

    async fn read(&self, client: &zk::Client, key: &str) {
        let process = self.process();
        let outcome = tokio::time::timeout(OP_TIMEOUT, client.get_data(key)).await;
        // A read changes nothing, so every failed read is a certain failure.
        let (kind, value, error) = match outcome {
            Ok(Ok((data, _))) => (OpKind::Ok, json!(String::from_utf8_lossy(&data)), None),
            Ok(Err(zk::Error::NoNode)) => (OpKind::Ok, json!(null), None),
            Ok(Err(e)) => (OpKind::Fail, json!(null), Some(e.to_string())),
            Err(_) => (
                OpKind::Fail,
                json!(null),
                Some(format!("no answer within {OP_TIMEOUT:?}")),
            ),
        };
        self.recorder.record(
            &process,
            F::Read,
            kind,
            json!({ "key": key, "value": value }),
            error,
        );
    }
}

/// Reads every znode under the root after heal, retrying until `deadline` while the cluster
/// comes back; records one `final-read` operation.
pub async fn final_read(target: &Target, recorder: &Recorder, deadline: Duration) {
    const PROCESS: &str = "final";
    recorder.record(PROCESS, F::FinalRead, OpKind::Invoke, json!({}), None);
    let begin = Instant::now();
    let mut last_error = String::new();
    while begin.elapsed() < deadline {
        match read_all(target).await {
            Ok(keys) => {
                recorder.record(
                    PROCESS,
                    F::FinalRead,
                    OpKind::Ok,
                    json!({ "keys": keys }),
                    None,
                );
                return;
            }
            Err(e) => {
                last_error = format!("{e:#}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    recorder.record(
        PROCESS,
        F::FinalRead,
        OpKind::Fail,
        json!({}),
        Some(format!(
            "the cluster did not answer the final read within {deadline:?}: {last_error}"
        )),
    );
}

async fn read_all(target: &Target) -> anyhow::Result<BTreeMap<String, String>> {
    let client = connect(target).await?;
    // sync first so that the server we read from has every committed write
    client
        .sync(ROOT)
        .await
        .context("syncing before the final read")?;
    let children = client
        .list_children(ROOT)
        .await
        .context("listing the written znodes")?;
    let mut keys = BTreeMap::new();
    for child in children {
        let path = format!("{ROOT}/{child}");
        let (data, _) = client
            .get_data(&path)
            .await
            .with_context(|| format!("reading {path}"))?;
        keys.insert(path, String::from_utf8_lossy(&data).into_owned());
    }
    Ok(keys)
}

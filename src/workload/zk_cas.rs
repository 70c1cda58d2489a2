//! The ZooKeeper compare-and-set register workload (`zk-cas-register`): sessions bound one to a
//! node do reads, writes and compare-and-sets on a few znodes, each recorded as invoke then
//! ok / fail / info, for the linearizability checker. As in Jepsen's ZooKeeper test, a
//! compare-and-set reads the znode and writes it back with the version it read: the server
//! applies the write only if nothing changed in between.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokio::time::Instant;
use zookeeper_client as zk;

use super::zk_register::{self, connect, create_persistent, run_clients};
use crate::history::{F, OpKind, Recorder};
use crate::scenario::{ReadMode, WorkloadSpec};
use crate::workload::Deadline;

/// Parent of the registers' znodes.
pub const ROOT: &str = "/chaosbed-cas";
const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Values written and compared are drawn from 0..VALUES, so compare-and-sets often succeed.
const VALUES: u64 = 5;

/// Where the clients connect: each client is bound to one server, so a client on a node cut
/// off from the leader stays there, as a client of that node would.
#[derive(Debug, Clone)]
pub struct Target {
    /// `ip:2181` of every server, in node order.
    pub servers: Vec<String>,
    pub session_timeout: Duration,
}

impl Target {
    pub fn new(servers: Vec<String>, spec: &WorkloadSpec) -> Self {
        let everything = zk_register::Target::new(servers.join(","), spec);
        Self {
            servers,
            session_timeout: everything.session_timeout,
        }
    }

    fn bound(&self, client: u32) -> zk_register::Target {
        let server = &self.servers[client as usize % self.servers.len().max(1)];
        zk_register::Target {
            connect: server.clone(),
            session_timeout: self.session_timeout,
        }
    }

    fn any(&self) -> zk_register::Target {
        zk_register::Target {
            connect: self.servers.join(","),
            session_timeout: self.session_timeout,
        }
    }
}

/// The registers' znodes: `/chaosbed-cas/k0`, `/chaosbed-cas/k1`, ...
pub fn keys(spec: &WorkloadSpec) -> Vec<String> {
    (0..spec.keys).map(|k| format!("{ROOT}/k{k}")).collect()
}

/// Creates the root and every register, empty (the initial state every checker assumes: no
/// value), retrying until `deadline` while the quorum forms.
pub async fn prepare(target: &Target, keys: &[String], deadline: Duration) -> anyhow::Result<()> {
    let paths: Vec<&str> = std::iter::once(ROOT)
        .chain(keys.iter().map(String::as_str))
        .collect();
    create_persistent(&target.any(), &paths, deadline).await
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
            target: target.bound(id),
            recorder: recorder.clone(),
            keys: keys(spec),
            read_ratio: if id >= spec.clients.saturating_sub(spec.readers) {
                1.0
            } else {
                spec.read_ratio
            },
            sync_reads: spec.read == ReadMode::Sync,
            rng: ChaCha8Rng::seed_from_u64(seed.wrapping_add(u64::from(id))),
        };
        client.run(end.clone(), interval)
    })
    .await
}

/// One client operation before it is performed.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Read {
        key: String,
        sync: bool,
    },
    Write {
        key: String,
        value: u64,
    },
    Cas {
        key: String,
        expect: u64,
        value: u64,
    },
}

impl Op {
    fn describe(&self, session: &Value) -> (F, Value) {
        match self {
            Op::Read { key, sync } => {
                let mut value = json!({ "key": key, "value": null, "session": session });
                if *sync {
                    value["sync"] = json!(true);
                }
                (F::Read, value)
            }
            Op::Write { key, value } => (
                F::Write,
                json!({ "key": key, "value": value, "session": session }),
            ),
            Op::Cas { key, expect, value } => (
                F::Cas,
                json!({ "key": key, "expect": expect, "value": value, "session": session }),
            ),
        }
    }
}

/// The register's value in a znode's data: empty is no value yet.
fn parse(data: &[u8]) -> Result<Option<u64>, String> {
    if data.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(data);
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| format!("the register holds {text:?}, not a number"))
}

struct ClientLoop {
    id: u32,
    target: zk_register::Target,
    recorder: Recorder,
    keys: Vec<String>,
    read_ratio: f64,
    sync_reads: bool,
    rng: ChaCha8Rng,
}

impl ClientLoop {
    fn process(&self) -> String {
        format!("client-{}", self.id)
    }

    fn next_op(&mut self) -> Op {
        let key = self.keys[self.rng.random_range(0..self.keys.len())].clone();
        if self.rng.random_bool(self.read_ratio) {
            Op::Read {
                key,
                sync: self.sync_reads,
            }
        } else if self.rng.random_bool(0.5) {
            Op::Write {
                key,
                value: self.rng.random_range(0..VALUES),
            }
        } else {
            Op::Cas {
                key,
                expect: self.rng.random_range(0..VALUES),
                value: self.rng.random_range(0..VALUES),
            }
        }
    }

    async fn run(mut self, end: Deadline, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut session: Option<zk::Client> = None;
        while !end.passed() {
            tick.tick().await;
            let op = self.next_op();
            if session.as_ref().is_none_or(|c| c.state().is_terminated()) {
                match connect(&self.target).await {
                    Ok(client) => session = Some(client),
                    Err(e) => {
                        // Nothing was sent: the operation certainly did not happen.
                        let (f, value) = op.describe(&Value::Null);
                        let process = self.process();
                        self.recorder
                            .record(&process, f, OpKind::Invoke, value.clone(), None);
                        self.recorder.record(
                            &process,
                            f,
                            OpKind::Fail,
                            value,
                            Some(format!("no session: {e:#}")),
                        );
                        continue;
                    }
                }
            }
            let Some(client) = session.as_ref() else {
                continue;
            };
            perform(&self.recorder, &self.process(), client, &op).await;
        }
    }
}

/// Performs `op` on `client`'s session, recording its invocation and outcome; returns how it
/// ended.
async fn perform(recorder: &Recorder, process: &str, client: &zk::Client, op: &Op) -> OpKind {
    let session = json!(format!("{:x}", client.session_id().0));
    let (f, mut value) = op.describe(&session);
    recorder.record(process, f, OpKind::Invoke, value.clone(), None);
    let (kind, error) = match op {
        Op::Read { key, sync } => match read(client, key, *sync).await {
            Ok(read) => {
                value["value"] = json!(read);
                (OpKind::Ok, None)
            }
            // A read changes nothing, so a read that did not answer certainly did nothing.
            Err(e) => (OpKind::Fail, Some(e)),
        },
        Op::Write { key, value: new } => {
            let outcome = tokio::time::timeout(
                OP_TIMEOUT,
                client.set_data(key, new.to_string().as_bytes(), None),
            )
            .await;
            write_outcome(outcome)
        }
        Op::Cas { key, expect, value } => cas(client, key, *expect, *value).await,
    };
    recorder.record(process, f, kind, value, error);
    kind
}

async fn read(client: &zk::Client, key: &str, sync: bool) -> Result<Option<u64>, String> {
    let ask = async {
        if sync {
            client.sync(key).await.map_err(|e| format!("sync: {e}"))?;
        }
        let (data, _) = client.get_data(key).await.map_err(|e| e.to_string())?;
        parse(&data)
    };
    tokio::time::timeout(OP_TIMEOUT, ask)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {OP_TIMEOUT:?}")))
}

/// Reads the register and writes `value` back with the version read, when it held `expect`.
async fn cas(client: &zk::Client, key: &str, expect: u64, value: u64) -> (OpKind, Option<String>) {
    let read = tokio::time::timeout(OP_TIMEOUT, client.get_data(key)).await;
    let (data, stat) = match read {
        Ok(Ok(read)) => read,
        // Only the read was sent: nothing was written.
        Ok(Err(e)) => return (OpKind::Fail, Some(format!("reading before the set: {e}"))),
        Err(_) => {
            return (
                OpKind::Fail,
                Some(format!(
                    "reading before the set: no answer within {OP_TIMEOUT:?}"
                )),
            );
        }
    };
    match parse(&data) {
        Ok(Some(held)) if held == expect => {}
        Ok(held) => {
            let held = held.map_or("no value".to_string(), |v| v.to_string());
            return (OpKind::Fail, Some(format!("the register held {held}")));
        }
        Err(e) => return (OpKind::Fail, Some(e)),
    }
    let outcome = tokio::time::timeout(
        OP_TIMEOUT,
        client.set_data(key, value.to_string().as_bytes(), Some(stat.version)),
    )
    .await;
    write_outcome(outcome)
}

fn write_outcome(
    outcome: Result<Result<zk::Stat, zk::Error>, tokio::time::error::Elapsed>,
) -> (OpKind, Option<String>) {
    match outcome {
        Ok(Ok(_)) => (OpKind::Ok, None),
        // Definite refusals: the server did not apply the write.
        Ok(Err(
            e @ (zk::Error::BadVersion
            | zk::Error::NoNode
            | zk::Error::BadArguments(_)
            | zk::Error::NoAuth),
        )) => (OpKind::Fail, Some(e.to_string())),
        // Lost connection, expiry or timeout mid-request: it may or may not have happened.
        Ok(Err(e)) => (OpKind::Info, Some(e.to_string())),
        Err(_) => (
            OpKind::Info,
            Some(format!("no answer within {OP_TIMEOUT:?}")),
        ),
    }
}

/// After the heal: one synced read of every register through any server, as process `final`,
/// retrying each until `deadline` while the cluster comes back. The linearizability checker
/// sees them as the last reads of the history.
pub async fn final_read(target: &Target, keys: &[String], recorder: &Recorder, deadline: Duration) {
    const PROCESS: &str = "final";
    let begin = Instant::now();
    let mut client: Option<zk::Client> = None;
    for key in keys {
        loop {
            if client.as_ref().is_none_or(|c| c.state().is_terminated()) {
                client = connect(&target.any()).await.ok();
            }
            let Some(session) = client.as_ref() else {
                if begin.elapsed() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            };
            let op = Op::Read {
                key: key.clone(),
                sync: true,
            };
            let answered = perform(recorder, PROCESS, session, &op).await == OpKind::Ok;
            if answered || begin.elapsed() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_register_holds_no_value_and_garbage_is_an_error() {
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"3"), Ok(Some(3)));
        assert!(parse(b"x").unwrap_err().contains("\"x\""));
    }

    #[test]
    fn operations_describe_themselves_as_the_checker_reads_them() {
        let session = json!("1a2b");
        let (f, value) = Op::Cas {
            key: "/chaosbed-cas/k1".into(),
            expect: 2,
            value: 4,
        }
        .describe(&session);
        assert_eq!(f, F::Cas);
        assert_eq!(
            value,
            json!({"key": "/chaosbed-cas/k1", "expect": 2, "value": 4, "session": "1a2b"})
        );
        let (f, value) = Op::Read {
            key: "/chaosbed-cas/k0".into(),
            sync: true,
        }
        .describe(&session);
        assert_eq!(f, F::Read);
        assert_eq!(value["sync"], json!(true));
        let (_, plain) = Op::Read {
            key: "/chaosbed-cas/k0".into(),
            sync: false,
        }
        .describe(&session);
        assert!(plain.get("sync").is_none());
    }

    #[test]
    fn each_client_is_bound_to_one_server_in_turn() {
        let target = Target {
            servers: vec!["a:2181".into(), "b:2181".into(), "c:2181".into()],
            session_timeout: Duration::from_secs(10),
        };
        let bound: Vec<String> = (0..4).map(|c| target.bound(c).connect).collect();
        assert_eq!(bound, ["a:2181", "b:2181", "c:2181", "a:2181"]);
        assert_eq!(target.any().connect, "a:2181,b:2181,c:2181");
    }
}

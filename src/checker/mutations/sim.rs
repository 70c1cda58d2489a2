//! Simulated runs: small histories of each workload shape, drawn by proptest, that the checks
//! they are judged by hold as VALID. Built with the checkers' test builders (`Script` and its
//! `Pulsar` and `Traces` extensions); times in milliseconds.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::super::CheckContext;
use super::super::delivery::script::Pulsar;
use super::super::timeline::script::{MS, Script, key};
use super::super::traces::script::Traces;
use crate::history::{F, History, OpKind};
use crate::scenario::{CheckSpec, Dur};
use crate::workload::pulsar::READ_BACK_PHASE;

const ZK: [&str; 3] = ["zk-1", "zk-2", "zk-3"];
const BOOKIES: [&str; 3] = ["bookie-1", "bookie-2", "bookie-3"];
const BROKERS: [&str; 3] = ["broker-1", "broker-2", "broker-3"];
const COLLECTORS: [&str; 3] = ["collector-1", "collector-2", "collector-3"];

/// A fair coin for the `n`th decision of a run drawn with `seed` (splitmix64).
fn coin(seed: u64, n: u64) -> bool {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & 1 == 1
}

fn ms(ms: u64) -> Dur {
    Dur(Duration::from_millis(ms))
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The fault of a ZooKeeper register run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterFault {
    /// The leader killed: no leader until a new one is elected, then the new epoch's.
    KillLeader,
    /// The leader partitioned from the others: it keeps answering `leader` (its old epoch) for
    /// `stale` ms beside the new epoch's leader (a finding, not a violation).
    IsolateLeader,
    /// Every packet to the client port dropped: the ensemble keeps its leader, the clients
    /// fail, and their sessions expire when the stall outlasts the session timeout.
    Stall,
}

/// A ZooKeeper register run (`zk-register`): clients alternate unique-key writes and reads of
/// their last key, the monitor samples roles with epochs, one fault, the heal, a final read.
#[derive(Debug, Clone)]
pub struct RegisterRun {
    pub clients: u32,
    /// Between one client's operations.
    pub every: u64,
    pub leader: usize,
    pub fault: RegisterFault,
    pub fault_at: u64,
    pub fault_for: u64,
    /// Kill or isolate: how long no leader of the new epoch exists.
    pub election: u64,
    /// Isolate: how long the cut-off leader still answers `leader` after the election.
    pub stale: u64,
    pub session_timeout: u64,
    pub sample_every: u64,
    pub seed: u64,
}

impl RegisterRun {
    pub fn strategy() -> impl Strategy<Value = Self> {
        let fault = prop_oneof![
            Just(RegisterFault::KillLeader),
            Just(RegisterFault::IsolateLeader),
            Just(RegisterFault::Stall),
        ];
        (
            1u32..=3,
            100u64..=300,
            0usize..3,
            fault,
            3_000u64..8_000,
            1_000u64..8_000,
            200u64..1_500,
            0u64..3_000,
            prop_oneof![Just(2_000u64), Just(6_000), Just(10_000)],
            200u64..=500,
            any::<u64>(),
        )
            .prop_map(
                |(
                    clients,
                    every,
                    leader,
                    fault,
                    fault_at,
                    fault_for,
                    election,
                    stale,
                    timeout,
                    sample_every,
                    seed,
                )| {
                    // The election ends, and the stale leader steps down, before the heal.
                    let election = election.min(fault_for / 2);
                    let stale = stale.min(fault_for - election - 100);
                    RegisterRun {
                        clients,
                        every,
                        leader,
                        fault,
                        fault_at,
                        fault_for,
                        election,
                        stale,
                        session_timeout: timeout,
                        sample_every,
                        seed,
                    }
                },
            )
    }

    pub fn duration(&self) -> u64 {
        self.fault_at + self.fault_for + 6_000
    }

    pub fn heal_at(&self) -> u64 {
        self.fault_at + self.fault_for
    }

    /// How long writes fail from the fault on.
    pub fn outage(&self) -> u64 {
        match self.fault {
            RegisterFault::Stall => self.fault_for,
            _ => self.election,
        }
    }

    pub fn expires(&self) -> bool {
        self.fault == RegisterFault::Stall && self.fault_for > self.session_timeout
    }

    fn failing(&self, t: u64) -> bool {
        t >= self.fault_at && t < self.fault_at + self.outage()
    }

    pub fn ctx(&self) -> CheckContext {
        CheckContext {
            nodes: strings(&ZK),
            tick_time_ms: Some(2_000),
            workload_end: (self.duration() + 50) * MS,
            systems: strings(&["zookeeper"]),
            ..CheckContext::default()
        }
    }

    /// The checks the run holds: one leader per epoch and quorum never lost, writes back within
    /// `max_unavailable` and after the heal, no lost write, sessions expired only when expected.
    pub fn checks(&self) -> Vec<CheckSpec> {
        vec![
            CheckSpec::Quorum {
                grace: Dur::secs(10),
                never_lost: true,
            },
            self.availability(),
            CheckSpec::Recovery { within: ms(5_000) },
            CheckSpec::NoLostWrites,
            CheckSpec::SessionExpiry {
                expect: self.expires(),
            },
        ]
    }

    /// Writes come every `2 * every` per client, so a window without one is at most the outage
    /// and one such gap.
    pub fn availability(&self) -> CheckSpec {
        CheckSpec::Availability {
            max_unavailable: Some(ms(self.outage() + 2 * self.every + 100)),
            expect_outage: false,
        }
    }

    pub fn history(&self) -> History {
        let leader = ZK[self.leader];
        let next = ZK[(self.leader + 1) % 3];
        let mut s = Script::new().topology(&ZK, &[]);
        let (at, heal) = (self.fault_at, self.heal_at());
        s = match self.fault {
            RegisterFault::KillLeader => s
                .fault_sent(at, "kill", &[leader])
                .fault(at + 60, "kill", &[leader], &[leader])
                .heal(heal, "kill", &[leader], &[]),
            RegisterFault::IsolateLeader => {
                s.fault(at, "partition", &[leader], &[])
                    .heal(heal, "partition", &[leader], &[])
            }
            RegisterFault::Stall => {
                s.fault(at, "packet-loss", &ZK, &[])
                    .heal(heal, "packet-loss", &ZK, &[])
            }
        };

        // Roles with each node's epoch.
        let mut t = 0;
        while t <= self.duration() + 200 {
            let elected = at + self.election;
            let mut roles: Vec<(&str, &str)> = Vec::new();
            let mut epochs: Vec<(&str, u64)> = Vec::new();
            for node in ZK {
                let (role, epoch) = match self.fault {
                    RegisterFault::Stall => {
                        (if node == leader { "leader" } else { "follower" }, Some(1))
                    }
                    _ if t < at => (if node == leader { "leader" } else { "follower" }, Some(1)),
                    RegisterFault::KillLeader if node == leader && t < heal => {
                        ("unreachable", None)
                    }
                    RegisterFault::IsolateLeader if node == leader && t < elected + self.stale => {
                        ("leader", Some(1))
                    }
                    RegisterFault::IsolateLeader if node == leader && t < heal => {
                        ("not-serving", Some(1))
                    }
                    _ if node == leader => ("follower", Some(2)),
                    _ if t < elected => ("not-serving", Some(1)),
                    _ if node == next => ("leader", Some(2)),
                    _ => ("follower", Some(2)),
                };
                roles.push((node, role));
                if let Some(epoch) = epoch {
                    epochs.push((node, epoch));
                }
            }
            s = s.roles_with_epochs(t, &roles, &epochs);
            t += self.sample_every;
        }

        // Sessions.
        for c in 0..self.clients {
            s = s.session(
                10 + u64::from(c),
                c,
                "connected",
                Some(self.session_timeout),
            );
            let on_leader = c as usize % 3 == self.leader;
            match self.fault {
                RegisterFault::Stall => {
                    s = s.session(at + 5, c, "disconnected", None);
                    s = if self.expires() {
                        s.session(at + self.session_timeout, c, "expired", None)
                            .session(heal + 20, c, "connected", Some(self.session_timeout))
                    } else {
                        s.session(heal + 20, c, "reconnected", None)
                    };
                }
                _ if on_leader => {
                    s = s.session(at + 5, c, "disconnected", None).session(
                        at + self.election + 10,
                        c,
                        "reconnected",
                        None,
                    );
                }
                _ => {}
            }
        }

        // Client operations: even slots write a new key, odd slots read the last one back.
        let mut final_keys: Vec<(String, String)> = Vec::new();
        let mut decision = 0;
        for c in 0..self.clients {
            let process = format!("client-{c}");
            let mut last: Option<(u32, bool)> = None;
            let mut slot = 0u64;
            loop {
                let t = 50 + u64::from(c) * 31 + slot * self.every;
                if t >= self.duration() {
                    break;
                }
                let n = (slot / 2) as u32;
                if slot % 2 == 0 {
                    let outcome = if self.failing(t) {
                        decision += 1;
                        if coin(self.seed, decision) {
                            OpKind::Info
                        } else {
                            OpKind::Fail
                        }
                    } else {
                        OpKind::Ok
                    };
                    s = s.write(c, n, t, Some((outcome, t + 10)));
                    decision += 1;
                    let applied = outcome == OpKind::Ok
                        || (outcome == OpKind::Info && coin(self.seed, decision));
                    if applied {
                        final_keys.push((key(c, n), format!("c{c}-{n}")));
                    }
                    last = Some((n, applied));
                } else if let Some((n, applied)) = last {
                    let value = json!({"key": key(c, n), "value": null});
                    s = s.op(t, &process, F::Read, OpKind::Invoke, value);
                    let (kind, read) = if self.failing(t) {
                        (OpKind::Fail, json!(null))
                    } else if applied {
                        (OpKind::Ok, json!(format!("c{c}-{n}")))
                    } else {
                        (OpKind::Ok, json!(null))
                    };
                    s = s.op(
                        t + 8,
                        &process,
                        F::Read,
                        kind,
                        json!({"key": key(c, n), "value": read}),
                    );
                }
                slot += 1;
            }
        }
        let end = self.duration();
        let keys: Vec<(&str, &str)> = final_keys
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        s.healed(end + 100, "zookeeper", None)
            .final_read(end + 300, OpKind::Ok, &keys)
            .build()
    }
}

/// A Pulsar run (`pulsar-produce-consume`): pipelined producers, one consumer, the owner of the
/// topic's bundle killed until the bundles move, redeliveries after the move, a drain, an
/// optional read-back, and the monitor's ownership and bookie samples.
#[derive(Debug, Clone)]
pub struct PulsarRun {
    pub producers: u32,
    pub messages: u64,
    pub every: u64,
    pub owner: usize,
    /// Percent of the run: when the kill is sent, how long until the bundles moved (sends
    /// fail meanwhile), how much longer until the heal.
    pub kill_pct: u64,
    pub moved_pct: u64,
    pub down_pct: u64,
    /// From acknowledgement to delivery.
    pub latency: u64,
    /// Messages of producer 0 delivered a second time after the move.
    pub redelivered: u64,
    /// Duplicates allowed beyond those.
    pub slack: u64,
    pub bundles: usize,
    pub ordered: bool,
    pub read_back: bool,
    /// bookie-2 missing from the registered list for a second mid-run (it comes back).
    pub bookie_gap: bool,
    pub seed: u64,
}

impl PulsarRun {
    pub fn strategy() -> impl Strategy<Value = Self> {
        (
            (1u32..=3, 40u64..=100, 100u64..=250, 0usize..3),
            (20u64..=30, 5u64..=20, 5u64..=20),
            (5u64..=200, 0u64..=3, 0u64..=2, 1usize..=4),
            (any::<bool>(), any::<bool>(), any::<bool>(), any::<u64>()),
        )
            .prop_map(
                |(
                    (producers, messages, every, owner),
                    (kill_pct, moved_pct, down_pct),
                    (latency, redelivered, slack, bundles),
                    (ordered, read_back, bookie_gap, seed),
                )| PulsarRun {
                    producers,
                    messages,
                    every,
                    owner,
                    kill_pct,
                    moved_pct,
                    down_pct,
                    latency,
                    redelivered,
                    slack,
                    bundles,
                    ordered,
                    read_back,
                    bookie_gap,
                    seed,
                },
            )
    }

    pub fn duration(&self) -> u64 {
        self.messages * self.every
    }

    fn kill_at(&self) -> u64 {
        self.duration() * self.kill_pct / 100
    }

    fn moved_at(&self) -> u64 {
        self.kill_at() + self.duration() * self.moved_pct / 100
    }

    fn heal_at(&self) -> u64 {
        self.moved_at() + self.duration() * self.down_pct / 100
    }

    pub fn ctx(&self) -> CheckContext {
        CheckContext {
            nodes: strings(&ZK),
            tick_time_ms: Some(2_000),
            workload_end: (self.duration() + 40) * MS,
            ordered_delivery: self.ordered,
            bookies: strings(&BOOKIES),
            brokers: strings(&BROKERS),
            systems: strings(&["zookeeper", "bookkeeper", "pulsar"]),
            read_back: self.read_back,
        }
    }

    pub fn max_duplicates(&self) -> u64 {
        self.redelivered + self.slack
    }

    pub fn delivery(&self) -> CheckSpec {
        CheckSpec::Delivery {
            max_duplicates: Some(self.max_duplicates()),
        }
    }

    /// A window without an acknowledged send lasts the move and at most one send's gap.
    pub fn availability(&self) -> CheckSpec {
        let moved = self.moved_at() - self.kill_at();
        CheckSpec::Availability {
            max_unavailable: Some(ms(moved + self.every + 100)),
            expect_outage: false,
        }
    }

    pub fn checks(&self) -> Vec<CheckSpec> {
        vec![
            self.delivery(),
            self.availability(),
            CheckSpec::Recovery { within: ms(5_000) },
            CheckSpec::TopicOwnership,
            CheckSpec::BookiesRegistered { expected: None },
            CheckSpec::Healed {
                expect_unhealed: None,
            },
        ]
    }

    fn bundle(b: usize) -> String {
        format!(
            "public/default/0x{:02x}000000_0x{:02x}000000",
            b * 16,
            (b + 1) * 16
        )
    }

    pub fn history(&self) -> History {
        let (kill, moved, heal, end) = (
            self.kill_at(),
            self.moved_at(),
            self.heal_at(),
            self.duration(),
        );
        let victim = BROKERS[self.owner];
        let mut nodes: Vec<&str> = ZK.to_vec();
        nodes.extend(BOOKIES);
        nodes.extend(BROKERS);
        let mut s = Script::new()
            .topology(&nodes, &[])
            .fault_sent(kill, "kill", &[victim])
            .fault(kill + 100, "kill", &[victim], &[victim])
            .heal(heal, "kill", &[victim], &[]);

        // Sends, deliveries in each producer's order, redeliveries after the move.
        let mut decision = 0;
        let mut read_back: Vec<(u32, u64)> = Vec::new();
        let mut early: Vec<u64> = Vec::new();
        for p in 0..self.producers {
            let mut previous = 0;
            for seq in 0..self.messages {
                let t = 30 + u64::from(p) * 7 + seq * self.every;
                let failing = t >= kill && t < moved;
                decision += 1;
                let (kind, done) = match (failing, coin(self.seed, decision)) {
                    (false, _) => (OpKind::Ok, t + 5),
                    (true, true) => (OpKind::Info, t + 50),
                    (true, false) => (OpKind::Fail, t + 10),
                };
                s = s.send(p, seq, t, Some((kind, done)));
                decision += 1;
                let delivered =
                    kind == OpKind::Ok || (kind == OpKind::Info && coin(self.seed, decision));
                if !delivered {
                    continue;
                }
                let mut at = (done + self.latency).max(previous + 1);
                if at >= kill && at < moved {
                    // Nothing is delivered while the topic has no owner.
                    at = (moved + self.latency).max(previous + 1);
                }
                previous = at;
                let phase = if at <= end + 30 { "run" } else { "drain" };
                s = s.receive(at, p, seq, 0, phase);
                read_back.push((p, seq));
                if p == 0 && at < kill {
                    early.push(seq);
                }
            }
        }
        // The last few producer 0 had delivered before the kill come again after the move.
        for seq in early.iter().rev().take(self.redelivered as usize) {
            s = s.receive(moved, 0, *seq, 1, "run");
        }
        if self.read_back {
            for (n, (p, seq)) in read_back.iter().enumerate() {
                let value = json!({"id": super::super::delivery::script::id(*p, *seq),
                                   "producer": format!("p{p}"), "seq": seq,
                                   "message_id": format!("7:{seq}:-1:0"), "phase": READ_BACK_PHASE});
                s = s.op(
                    end + 3_000 + n as u64,
                    "read-back",
                    F::Receive,
                    OpKind::Ok,
                    value,
                );
            }
        }

        // Bundle owners and registered bookies, every 500 ms.
        let mut t = 0;
        while t <= end + 2_000 {
            let mut owners: Vec<(String, Vec<&str>)> = Vec::new();
            for b in 0..self.bundles {
                let first = BROKERS[(self.owner + b) % 3];
                let owner = if first != victim || t < kill {
                    Some(first)
                } else if t < moved {
                    None
                } else {
                    Some(BROKERS[(self.owner + 1) % 3])
                };
                if let Some(owner) = owner {
                    owners.push((Self::bundle(b), vec![owner]));
                }
            }
            let owned: Vec<(&str, &[&str])> = owners
                .iter()
                .map(|(b, o)| (b.as_str(), o.as_slice()))
                .collect();
            let unreachable: &[&str] = if t >= kill && t < heal {
                &[victim]
            } else {
                &[]
            };
            s = s.owners(t, &owned, unreachable);
            let gap = end / 2..end / 2 + 1_000;
            let registered: Vec<&str> = BOOKIES
                .into_iter()
                .filter(|b| !(self.bookie_gap && *b == "bookie-2" && gap.contains(&t)))
                .collect();
            s = s.bookies(t, &registered);
            t += 500;
        }
        s.healed(end + 500, "zookeeper", None)
            .healed(end + 510, "bookkeeper", None)
            .healed(end + 520, "pulsar", None)
            .build()
    }
}

/// A trace run (`skywalking-traces`, `pinpoint-requests`): emitters hand traces to their
/// reporters, a collector is killed and healed, the reader polls the query API and finds each
/// trace; a few emitted during the kill are never found, a few are found late.
#[derive(Debug, Clone)]
pub struct TraceRun {
    pub emitters: u32,
    pub traces: u64,
    pub every: u64,
    pub latency: u64,
    pub kill_pct: u64,
    pub down_pct: u64,
    /// Traces emitted during the kill that are never found (at most).
    pub lose: usize,
    /// Traces found after `late_after`.
    pub late: usize,
    /// Queries fail for this long from the kill (0: none fails).
    pub query_outage: u64,
    /// `recover_within` of the trace-queries check.
    pub within: u64,
    pub pinpoint: bool,
}

/// The traces check's `late_after` in the simulated runs.
pub const LATE_AFTER: u64 = 30_000;

impl TraceRun {
    pub fn strategy() -> impl Strategy<Value = Self> {
        (
            (1u32..=3, 10u64..=40, 300u64..=1_000, 200u64..=4_000),
            (20u64..=30, 10u64..=30, 0usize..=3, 0usize..=2),
            (
                prop_oneof![Just(0u64), 1_000u64..=3_000],
                3_000u64..=20_000,
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (emitters, traces, every, latency),
                    (kill_pct, down_pct, lose, late),
                    (query_outage, within, pinpoint),
                )| TraceRun {
                    emitters,
                    traces,
                    every,
                    latency,
                    kill_pct,
                    down_pct,
                    lose,
                    late,
                    query_outage,
                    within,
                    pinpoint,
                },
            )
    }

    pub fn duration(&self) -> u64 {
        self.traces * self.every
    }

    fn kill_at(&self) -> u64 {
        self.duration() * self.kill_pct / 100
    }

    fn heal_at(&self) -> u64 {
        self.kill_at() + (self.duration() * self.down_pct / 100).max(self.query_outage + 100)
    }

    pub fn ctx(&self) -> CheckContext {
        CheckContext {
            nodes: strings(&ZK),
            tick_time_ms: Some(2_000),
            workload_end: (self.duration() + 100) * MS,
            systems: strings(self.systems()),
            ..CheckContext::default()
        }
    }

    /// The systems the run declares.
    fn systems(&self) -> &'static [&'static str] {
        if self.pinpoint {
            &[
                "zookeeper",
                "hbase",
                "pinpoint-collector",
                "pinpoint-web",
                "pinpoint-agent-app",
            ]
        } else {
            &["zookeeper", "postgres", "skywalking", "nginx"]
        }
    }

    /// Emission times by (emitter, seq), in emission order.
    fn emissions(&self) -> Vec<(u32, u64, u64)> {
        let mut out: Vec<(u32, u64, u64)> = (0..self.emitters)
            .flat_map(|e| (0..self.traces).map(move |seq| (e, seq)))
            .map(|(e, seq)| (e, seq, 20 + u64::from(e) * 13 + seq * self.every))
            .collect();
        out.sort_by_key(|(_, _, t)| *t);
        out
    }

    /// Which emissions are lost and which are late: the first `lose` emitted during the kill
    /// are lost, the first `late` emitted (not lost) are late.
    fn fates(&self) -> Vec<(u32, u64, u64, Fate)> {
        let (kill, heal) = (self.kill_at(), self.heal_at());
        let (mut lost, mut late) = (0, 0);
        self.emissions()
            .into_iter()
            .map(|(e, seq, t)| {
                let fate = if lost < self.lose && t >= kill && t < heal {
                    lost += 1;
                    Fate::Lost
                } else if late < self.late {
                    late += 1;
                    Fate::Late(t + LATE_AFTER + 500 * late as u64)
                } else {
                    Fate::Found(t + self.latency)
                };
                (e, seq, t, fate)
            })
            .collect()
    }

    pub fn lost(&self) -> usize {
        self.fates().iter().filter(|f| f.3 == Fate::Lost).count()
    }

    pub fn traces_spec(&self) -> CheckSpec {
        CheckSpec::Traces {
            max_lost: self.lost() as u64,
            expect_lost: false,
            late_after: ms(LATE_AFTER),
            max_late: Some(self.late as u64),
            p99_max: None,
        }
    }

    pub fn queries_spec(&self) -> CheckSpec {
        CheckSpec::TraceQueries {
            expect_outage: self.query_outage > 0,
            recover_within: Some(ms(self.within)),
        }
    }

    pub fn checks(&self) -> Vec<CheckSpec> {
        vec![
            self.traces_spec(),
            self.queries_spec(),
            CheckSpec::Healed {
                expect_unhealed: None,
            },
        ]
    }

    pub fn history(&self) -> History {
        let (kill, heal, end) = (self.kill_at(), self.heal_at(), self.duration() + 100);
        let mut nodes: Vec<&str> = ZK.to_vec();
        nodes.extend(COLLECTORS);
        let victim = COLLECTORS[0];
        let mut s = Script::new()
            .topology(&nodes, &[])
            .fault_sent(kill, "kill", &[victim])
            .fault(kill + 80, "kill", &[victim], &[victim])
            .heal(heal, "kill", &[victim], &[]);
        let mut last_found = end;
        for (e, seq, t, fate) in self.fates() {
            s = s.ok_emit(e, seq, t);
            let found = match fate {
                Fate::Lost => continue,
                Fate::Late(at) | Fate::Found(at) => at,
            };
            last_found = last_found.max(found);
            let phase = if found <= end { "run" } else { "drain" };
            s = s.found(found, e, seq, 1, phase);
        }
        let mut q = 0;
        while q <= last_found + 1_000 {
            s = if self.query_outage > 0 && q >= kill && q < kill + self.query_outage {
                s.failed_query(q)
            } else {
                s.ok_query(q)
            };
            q += 1_000;
        }
        for (n, system) in self.systems().iter().enumerate() {
            s = s.healed(end + 10 * n as u64, system, None);
        }
        s.build()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Lost,
    Late(u64),
    Found(u64),
}

/// A rolling upgrade: every node of a system rolled one at a time in `order`, each rejoining
/// after its own time, while a client writes; then the final read.
#[derive(Debug, Clone)]
pub struct UpgradeRun {
    pub nodes: Vec<String>,
    pub order: Vec<usize>,
    /// Each roll's rejoin time (ms), in roll order.
    pub rejoin: Vec<u64>,
    pub gap: u64,
    pub slack: u64,
}

impl UpgradeRun {
    pub fn strategy() -> impl Strategy<Value = Self> {
        (
            prop_oneof![Just("zk"), Just("broker"), Just("bookie")],
            3usize..=5,
        )
            .prop_flat_map(|(system, count)| {
                let nodes: Vec<String> = (1..=count).map(|i| format!("{system}-{i}")).collect();
                (
                    Just(nodes),
                    Just((0..count).collect::<Vec<usize>>()).prop_shuffle(),
                    proptest::collection::vec(500u64..=8_000, count),
                    200u64..=3_000,
                    0u64..=2_000,
                )
            })
            .prop_map(|(nodes, order, rejoin, gap, slack)| UpgradeRun {
                nodes,
                order,
                rejoin,
                gap,
                slack,
            })
    }

    pub fn spec(&self) -> CheckSpec {
        let longest = self.rejoin.iter().copied().max().unwrap_or(0);
        CheckSpec::Upgrade {
            max_rejoin: Some(ms(longest + self.slack)),
        }
    }

    fn end(&self) -> u64 {
        let rolls: u64 = self.rejoin.iter().map(|r| r + 1_000 + self.gap).sum();
        5_000 + rolls + 5_000
    }

    pub fn ctx(&self) -> CheckContext {
        CheckContext {
            workload_end: self.end() * MS,
            ..CheckContext::default()
        }
    }

    pub fn history(&self) -> History {
        let names: Vec<&str> = self.nodes.iter().map(String::as_str).collect();
        let mut s = Script::new().topology(&names, &[]);
        let mut versions: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|n| (n.to_string(), json!("old")))
            .collect();
        let mut t = 5_000;
        for (node, rejoin) in self.order.iter().zip(&self.rejoin) {
            let node = names[*node];
            versions.insert(node.to_string(), json!("new"));
            let done = t + 1_000 + rejoin;
            s = s.roll(t, done, node, serde_json::Value::Object(versions.clone()));
            t = done + self.gap;
        }
        let mut keys = Vec::new();
        let mut n = 0;
        let mut w = 100;
        while w < self.end() {
            s = s.ok_write(0, n, w, w + 10);
            keys.push((key(0, n), format!("c0-{n}")));
            n += 1;
            w += 250;
        }
        let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        s.final_read(self.end() + 200, OpKind::Ok, &keys).build()
    }
}

#[cfg(test)]
mod tests {
    //! The simulations show what they claim to simulate.

    use super::*;
    use crate::checker::{Verdict, check};

    fn register(fault: RegisterFault) -> RegisterRun {
        RegisterRun {
            clients: 3,
            every: 150,
            leader: 1,
            fault,
            fault_at: 5_000,
            fault_for: 6_000,
            election: 800,
            stale: 1_500,
            session_timeout: 2_000,
            sample_every: 250,
            seed: 7,
        }
    }

    #[test]
    fn a_cut_off_leader_answers_beside_the_new_one_and_a_long_stall_expires_sessions() {
        let run = register(RegisterFault::IsolateLeader);
        let quorum = check(&run.checks()[0], &run.history(), &run.ctx());
        assert_eq!(quorum.verdict, Verdict::Valid, "{}", quorum.summary);
        assert!(
            quorum.details["stale_leader"]["samples"].as_u64() > Some(3),
            "{}",
            quorum.summary
        );
        assert_eq!(quorum.details["leader_changes"], 1);

        let run = register(RegisterFault::Stall);
        assert!(run.expires());
        let expiry = check(&run.checks()[4], &run.history(), &run.ctx());
        assert_eq!(expiry.verdict, Verdict::Valid, "{}", expiry.summary);
        assert_eq!(expiry.details["expired"], 3);
        let availability = check(&run.checks()[1], &run.history(), &run.ctx());
        assert!(availability.details["longest"]["duration"].as_f64() > Some(5.5));
        let lost = check(&CheckSpec::NoLostWrites, &run.history(), &run.ctx());
        assert!(
            lost.details["indeterminate_applied"].as_u64() > Some(0),
            "{}",
            lost.summary
        );
        assert!(
            lost.details["indeterminate_not_applied"].as_u64() > Some(0),
            "{}",
            lost.summary
        );
    }

    #[test]
    fn a_pulsar_run_redelivers_moves_its_bundles_reads_back_and_loses_a_bookie_for_a_while() {
        let run = PulsarRun {
            producers: 2,
            messages: 100,
            every: 150,
            owner: 2,
            kill_pct: 25,
            moved_pct: 10,
            down_pct: 10,
            latency: 300,
            redelivered: 2,
            slack: 0,
            bundles: 3,
            ordered: true,
            read_back: true,
            bookie_gap: true,
            seed: 3,
        };
        let (history, ctx) = (run.history(), run.ctx());
        let delivery = check(&run.delivery(), &history, &ctx);
        assert_eq!(delivery.verdict, Verdict::Valid, "{}", delivery.summary);
        assert_eq!(delivery.details["duplicated"]["extra_deliveries"], 2);
        assert_eq!(
            delivery.details["read_back"]["read"],
            delivery.details["consumed"]
        );
        assert!(
            delivery.details["sends"]["fail"].as_u64() > Some(0),
            "{}",
            delivery.summary
        );
        let ownership = check(&CheckSpec::TopicOwnership, &history, &ctx);
        let moved = &ownership.details["topics"][PulsarRun::bundle(0)]["owners"];
        assert_eq!(
            moved,
            &json!(["broker-3", "broker-1"]),
            "{}",
            ownership.summary
        );
        let bookies = check(
            &CheckSpec::BookiesRegistered { expected: None },
            &history,
            &ctx,
        );
        assert_eq!(bookies.details["fewest"]["count"], 2, "{}", bookies.summary);
    }

    #[test]
    fn a_trace_run_loses_and_delays_what_it_says() {
        let run = TraceRun {
            emitters: 2,
            traces: 30,
            every: 500,
            latency: 800,
            kill_pct: 30,
            down_pct: 20,
            lose: 2,
            late: 1,
            query_outage: 2_000,
            within: 5_000,
            pinpoint: false,
        };
        let (history, ctx) = (run.history(), run.ctx());
        let traces = check(&run.traces_spec(), &history, &ctx);
        assert_eq!(traces.verdict, Verdict::Valid, "{}", traces.summary);
        assert_eq!(traces.details["lost"]["count"], 2);
        assert_eq!(traces.details["late"]["count"], 1);
        let queries = check(&run.queries_spec(), &history, &ctx);
        assert_eq!(queries.verdict, Verdict::Valid, "{}", queries.summary);
        assert_eq!(
            queries.details["failed_during_faults"], 2,
            "{}",
            queries.summary
        );
    }
}

//! Applying and healing faults through a backend, recording each with evidence that it took effect.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::effects::{self, NodeInfo, Request, Undo};
use super::schedule::Event;
use super::target::{Observed, TargetContext, resolve};
use super::upgrade::{Roll, Rolling, Upgrades, roll_order, tail};
use tokio::time::Instant;

use crate::backend::{Backend, ContainerSpec, Status};
use crate::history::{F, OpKind, Recorder};
use crate::scenario::{FaultKind, SystemKind};

const STOP_GRACE_SECS: i32 = 10;
const PROCESS: &str = "nemesis";

/// The container status a node must show after `kind` is applied (`healed = false`) or healed.
pub fn expected_status(kind: FaultKind, healed: bool) -> Status {
    match (kind, healed) {
        (FaultKind::Kill | FaultKind::Stop, false) => Status::Exited,
        (FaultKind::Pause, false) => Status::Paused,
        _ => Status::Running,
    }
}

/// An applied fault awaiting its heal.
enum Active {
    /// Nodes killed, stopped or paused.
    Process(FaultKind, Vec<String>),
    /// A network, clock or resource effect and how to undo it.
    Effect(FaultKind, Undo),
}

/// The nemesis' state: which nodes are down, and which applied faults await healing.
pub struct Nemesis {
    nodes: Vec<String>,
    down: BTreeSet<String>,
    active: BTreeMap<usize, Active>,
    info: BTreeMap<String, NodeInfo>,
    recorder: Recorder,
    rng: ChaCha8Rng,
    seed: u64,
    upgrades: Option<Upgrades>,
    /// Upgrade steps in progress, first first; only the first rolls.
    rolls: std::collections::VecDeque<Roll>,
}

impl Nemesis {
    /// `down` holds the nodes not started at setup.
    pub fn new(nodes: Vec<String>, down: BTreeSet<String>, recorder: Recorder, seed: u64) -> Self {
        use rand::SeedableRng;
        recorder.record(
            PROCESS,
            F::Topology,
            OpKind::Ok,
            json!({ "nodes": nodes, "down": down }),
            None,
        );
        Self {
            nodes,
            down,
            active: BTreeMap::new(),
            info: BTreeMap::new(),
            recorder,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            upgrades: None,
            rolls: Default::default(),
        }
    }

    /// What upgrade steps need: the nodes' containers, the images of their versions, the probe.
    pub fn with_upgrades(mut self, upgrades: Upgrades) -> Self {
        self.upgrades = Some(upgrades);
        self
    }

    /// Whether an upgrade step is still rolling nodes (call `advance_rolls` until it is not).
    pub fn rolling(&self) -> bool {
        !self.rolls.is_empty()
    }

    /// Addresses, memory limits and data volumes of the nodes, which network, resource and
    /// disk faults need.
    pub fn with_info(mut self, info: BTreeMap<String, NodeInfo>) -> Self {
        self.info = info;
        self
    }

    pub fn down(&self) -> &BTreeSet<String> {
        &self.down
    }

    /// Applies or heals one planned event. A fault that cannot be applied is recorded as `Fail`
    /// with the reason; the run goes on.
    pub async fn run_event(&mut self, backend: &impl Backend, event: &Event, observed: &Observed) {
        match event.action {
            super::Action::Apply => self.apply(backend, event, observed).await,
            super::Action::Heal => self.heal(backend, event.fault).await,
        }
    }

    /// The nodes of one system, by their name prefix.
    fn nodes_of(&self, system: SystemKind) -> Vec<String> {
        let prefix = format!("{}-", system.node_prefix());
        self.nodes
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .cloned()
            .collect()
    }

    async fn apply(&mut self, backend: &impl Backend, event: &Event, state: &Observed) {
        let mut down = self.down.clone();
        if event.kind == FaultKind::Upgrade {
            // A node down only because an earlier step is rolling it is still a target: the
            // step is queued behind that roll and reaches the node once it has rejoined.
            for roll in &self.rolls {
                if let Some(rolling) = &roll.current {
                    down.remove(&rolling.node);
                }
            }
        }
        let ctx = TargetContext {
            nodes: self.nodes_of(event.system),
            down,
            roles: state.roles.clone(),
            owner: state.owner.clone(),
            ensemble: state.ensemble.clone(),
            agent_collector: state.agent_collector.clone(),
            problems: state.problems.clone(),
        };
        let targets = match resolve(&event.target, &ctx, &mut self.rng) {
            Ok(targets) => targets,
            Err(error) => {
                self.record(
                    F::Fault,
                    event.kind,
                    &[],
                    json!({}),
                    Some(format!("{error:#}")),
                );
                return;
            }
        };
        if event.kind == FaultKind::Upgrade {
            return self.start_roll(event, &targets, &ctx.roles);
        }
        if !event.kind.is_process() {
            return self
                .apply_effect(backend, event, &targets, &ctx.nodes)
                .await;
        }
        if event.kind.heals() {
            // The checkers must know a node may be going down from the moment the action is
            // sent: a monitor sample can see the effect before the outcome is recorded.
            self.recorder.record(
                PROCESS,
                F::Fault,
                OpKind::Invoke,
                json!({"fault": event.kind.name(), "targets": targets}),
                None,
            );
        }
        let mut error = None;
        let mut affected = Vec::new();
        let mut started = Vec::new();
        for node in &targets {
            let outcome = match event.kind {
                FaultKind::Kill => backend.kill(node).await,
                FaultKind::Stop => backend.stop(node, STOP_GRACE_SECS).await,
                FaultKind::Start => backend.start(node).await,
                FaultKind::Restart => backend.restart(node, STOP_GRACE_SECS).await,
                FaultKind::Pause => backend.pause(node).await,
                other => Err(anyhow::anyhow!("{other} is not a process fault")),
            };
            // A node the engine refused to touch (e.g. "unable to freeze") is not down.
            if let Err(e) = outcome {
                error = Some(format!("{e:#}"));
                continue;
            }
            if event.kind.heals() {
                self.down.insert(node.clone());
                affected.push(node.clone());
            } else {
                self.down.remove(node);
                started.push(node.clone());
            }
        }
        if event.kind.heals() && !affected.is_empty() {
            self.active
                .insert(event.fault, Active::Process(event.kind, affected));
        }
        let mut evidence = self
            .evidence(backend, &targets, expected_status(event.kind, false))
            .await;
        if let Some(done) = self.reestablish(backend, &started).await {
            evidence["reestablished"] = done;
        }
        self.record(F::Fault, event.kind, &targets, evidence, error);
    }

    /// Puts the active network faults back on `nodes`, which started anew in a new network
    /// namespace; says what happened as fault → node → outcome, `None` when nothing was due.
    async fn reestablish(&self, backend: &impl Backend, nodes: &[String]) -> Option<Value> {
        let mut done = BTreeMap::new();
        for (fault, active) in &self.active {
            let Active::Effect(_, undo) = active else {
                continue;
            };
            let mut on = BTreeMap::new();
            for node in nodes {
                if let Some(outcome) = effects::reestablish(backend, undo, node).await {
                    on.insert(node.clone(), outcome);
                }
            }
            if !on.is_empty() {
                done.insert(fault.to_string(), on);
            }
        }
        (!done.is_empty()).then(|| json!(done))
    }

    async fn apply_effect(
        &mut self,
        backend: &impl Backend,
        event: &Event,
        targets: &[String],
        system_nodes: &[String],
    ) {
        let request = Request {
            fault: event.fault,
            kind: event.kind,
            params: &event.params,
            targets,
            system_nodes,
            all_nodes: &self.nodes,
            info: &self.info,
            seed: self.seed.wrapping_add(event.fault as u64),
        };
        let outcome = effects::apply(backend, &request).await;
        if let Some(undo) = outcome.undo {
            self.active
                .insert(event.fault, Active::Effect(event.kind, undo));
        }
        self.record(
            F::Fault,
            event.kind,
            targets,
            outcome.evidence,
            outcome.error,
        );
    }

    /// Queues an upgrade step's nodes in their order; `advance_rolls` rolls them. A step that
    /// cannot start (a system without a rejoin condition, no image) is a failed fault.
    fn start_roll(
        &mut self,
        event: &Event,
        targets: &[String],
        roles: &BTreeMap<String, crate::system::zookeeper::Role>,
    ) {
        let refuse = |this: &Self, why: String| {
            this.record(
                F::Fault,
                event.kind,
                targets,
                json!({"took_effect": false, "reason": why}),
                Some(why.clone()),
            );
        };
        if let Err(e) = crate::system::upgrade_supported(event.system) {
            return refuse(self, format!("{e:#}"));
        }
        let Some(version) = event.params.upgrade_to().map(str::to_owned) else {
            return refuse(self, "an upgrade step needs `version` or `image`".into());
        };
        let image = self
            .upgrades
            .as_ref()
            .and_then(|u| u.images.get(&(event.system, version.clone())).cloned());
        let Some(image) = image else {
            return refuse(
                self,
                format!("no image was prepared for {} {version}", event.system),
            );
        };
        let order = roll_order(targets, roles, event.params.order.unwrap_or_default());
        self.rolls.push_back(Roll {
            fault: event.fault,
            system: event.system,
            version,
            image,
            rejoin: event
                .params
                .rejoin
                .unwrap_or(crate::scenario::DEFAULT_REJOIN),
            queue: order.into(),
            current: None,
            schema_ran: false,
            schema: None,
            settle: event.params.settle.unwrap_or_default(),
            next_at: None,
        });
    }

    /// One step of the roll in progress: replace the next node, or ask the rolling node whether
    /// it has rejoined. A node that fails to come back within the step's `rejoin` fails the step
    /// (recorded with the reason and the node's last log lines) and the rest of the roll stops.
    pub async fn advance_rolls(&mut self, backend: &impl Backend) {
        let Some(mut roll) = self.rolls.pop_front() else {
            return;
        };
        let Some(upgrades) = self.upgrades.clone() else {
            return;
        };
        if !roll.schema_ran {
            roll.schema_ran = true;
            if let Some(job) = upgrades.init_jobs.get(&roll.system) {
                match run_schema_job(backend, job, &roll.image).await {
                    Ok(evidence) => roll.schema = Some(evidence),
                    Err(why) => {
                        let targets: Vec<String> = roll.queue.iter().cloned().collect();
                        return self.record(
                            F::Fault,
                            FaultKind::Upgrade,
                            &targets,
                            json!({"took_effect": false, "reason": why}),
                            Some(why),
                        );
                    }
                }
            }
        }
        if roll.current.is_none() && roll.next_at.is_some_and(|at| Instant::now() < at) {
            // Settling after the last rejoin before the next node goes down.
            self.rolls.push_front(roll);
            return;
        }
        let Some(rolling) = roll.current.take() else {
            let Some(node) = roll.queue.pop_front() else {
                return; // done: the step leaves the queue
            };
            // Counted down from the moment the stop is sent, as kills and stops are.
            self.recorder.record(
                PROCESS,
                F::Fault,
                OpKind::Invoke,
                json!({"fault": FaultKind::Upgrade.name(), "targets": [node]}),
                None,
            );
            self.down.insert(node.clone());
            let down_at = Instant::now();
            let down_unix_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let Some(spec) = upgrades.specs.get(&node) else {
                self.down.remove(&node);
                let why = format!("{node} has no container spec to upgrade");
                return self.record(
                    F::Fault,
                    FaultKind::Upgrade,
                    &[node],
                    json!({"took_effect": false, "reason": why}),
                    Some(why),
                );
            };
            let from_image = spec.image.clone();
            let new = ContainerSpec {
                image: roll.image.clone(),
                ..spec.clone()
            };
            if let Err(e) = backend.replace(&new, STOP_GRACE_SECS).await {
                self.down.remove(&node);
                let why = format!("replacing {node} with {}: {e:#}", roll.image);
                return self.record(
                    F::Fault,
                    FaultKind::Upgrade,
                    &[node],
                    json!({"took_effect": false, "reason": why}),
                    Some(why),
                );
            }
            if let Some(u) = self.upgrades.as_mut() {
                u.specs.insert(node.clone(), new);
            }
            let reestablished = self.reestablish(backend, std::slice::from_ref(&node)).await;
            roll.current = Some(Rolling {
                reestablished,
                from_version: upgrades.versions.get(&node).cloned().unwrap_or_default(),
                node,
                from_image,
                down_at,
                down_unix_ms,
                started_at: Instant::now(),
                last_wait: "not asked yet".into(),
            });
            self.rolls.push_front(roll);
            return;
        };
        let mut rolling = rolling;
        let node = rolling.node.clone();
        match (upgrades.probe)(roll.system, node.clone(), rolling.down_unix_ms).await {
            Ok(crate::system::Rejoin::Rejoined(detail)) => {
                self.down.remove(&node);
                let versions = match self.upgrades.as_mut() {
                    Some(u) => {
                        u.versions.insert(node.clone(), roll.version.clone());
                        u.versions.clone()
                    }
                    None => BTreeMap::new(),
                };
                let mut evidence = rolling.evidence(&roll, detail, &versions);
                if let Some(schema) = roll.schema.take() {
                    evidence["schema_job"] = schema;
                }
                self.record(
                    F::Fault,
                    FaultKind::Upgrade,
                    std::slice::from_ref(&node),
                    evidence,
                    None,
                );
                if !roll.queue.is_empty() {
                    roll.next_at = Some(Instant::now() + roll.settle);
                    self.rolls.push_front(roll);
                } else if let Some(next) = self.rolls.front_mut() {
                    // A step queued behind this one settles after its last rejoin too.
                    next.next_at = Some(Instant::now() + next.settle);
                }
            }
            Ok(crate::system::Rejoin::Waiting(why))
                if rolling.started_at.elapsed() < roll.rejoin =>
            {
                rolling.last_wait = why;
                roll.current = Some(rolling);
                self.rolls.push_front(roll);
            }
            outcome => {
                let why = match outcome {
                    Err(e) => format!("{e:#}"),
                    Ok(crate::system::Rejoin::Waiting(why)) => why,
                    Ok(crate::system::Rejoin::Rejoined(_)) => unreachable!("handled above"),
                };
                rolling.last_wait = why;
                self.fail_roll(backend, &roll, &rolling).await;
            }
        }
    }

    async fn fail_roll(&mut self, backend: &impl Backend, roll: &Roll, rolling: &Rolling) {
        let node = &rolling.node;
        let log = backend
            .logs(node)
            .await
            .unwrap_or_else(|e| format!("(no log: {e:#})"));
        let last_lines = tail(&log);
        // The container runs, though the node is not back in its cluster.
        self.down.remove(node);
        let why = format!(
            "{node} did not rejoin within {:?} after its restart on {} ({}); the rest of the roll ({}) stopped. Its last log lines:\n{last_lines}",
            roll.rejoin,
            roll.image,
            rolling.last_wait,
            if roll.queue.is_empty() {
                "nothing".to_string()
            } else {
                roll.queue.iter().cloned().collect::<Vec<_>>().join(", ")
            },
        );
        let evidence = json!({
            "took_effect": false,
            "node": node,
            "step": roll.fault,
            "from_image": rolling.from_image,
            "to_image": roll.image,
            "waited_ms": rolling.started_at.elapsed().as_millis() as u64,
            "reason": rolling.last_wait,
            "log_tail": last_lines,
            "not_rolled": roll.queue,
        });
        self.record(
            F::Fault,
            FaultKind::Upgrade,
            std::slice::from_ref(node),
            evidence,
            Some(why),
        );
    }

    /// Heals fault `fault` if it is active.
    pub async fn heal(&mut self, backend: &impl Backend, fault: usize) {
        let (kind, targets) = match self.active.remove(&fault) {
            None => return,
            Some(Active::Effect(kind, undo)) => {
                let (evidence, error) = effects::heal(backend, &undo).await;
                let nodes = effects::undo_nodes(&undo);
                self.record(F::Heal, kind, &nodes, evidence, error);
                return;
            }
            Some(Active::Process(kind, targets)) => (kind, targets),
        };
        let mut error = None;
        for node in &targets {
            let outcome = match kind {
                FaultKind::Pause => backend.unpause(node).await,
                _ => backend.start(node).await,
            };
            if let Err(e) = outcome {
                error = Some(format!("{e:#}"));
            }
            self.down.remove(node);
        }
        let mut evidence = self
            .evidence(backend, &targets, expected_status(kind, true))
            .await;
        // A paused node kept its namespace; a started one has a new one.
        if kind != FaultKind::Pause
            && let Some(done) = self.reestablish(backend, &targets).await
        {
            evidence["reestablished"] = done;
        }
        self.record(F::Heal, kind, &targets, evidence, error);
    }

    /// Heals every active fault and starts every node still down, so final checks see the whole
    /// cluster.
    pub async fn heal_all(&mut self, backend: &impl Backend) {
        let active: Vec<usize> = self.active.keys().copied().collect();
        for fault in active {
            self.heal(backend, fault).await;
        }
        let still_down: Vec<String> = self.down.iter().cloned().collect();
        if still_down.is_empty() {
            return;
        }
        let mut error = None;
        for node in &still_down {
            let state = backend.state(node).await.map(|s| s.status);
            let outcome = match state {
                Ok(Status::Paused) => backend.unpause(node).await,
                Ok(Status::Running) => Ok(()),
                _ => backend.start(node).await,
            };
            if let Err(e) = outcome {
                error = Some(format!("{e:#}"));
            }
            self.down.remove(node);
        }
        let evidence = self.evidence(backend, &still_down, Status::Running).await;
        self.record(F::Heal, FaultKind::Start, &still_down, evidence, error);
    }

    /// Reads every target's container state back and says whether it is what the fault implies.
    async fn evidence(
        &self,
        backend: &impl Backend,
        targets: &[String],
        expected: Status,
    ) -> serde_json::Value {
        let states = backend.states(targets).await;
        let took_effect = states.values().all(|s| s.status == expected);
        json!({
            "expected": expected,
            "took_effect": took_effect,
            "states": states,
        })
    }

    fn record(
        &self,
        f: F,
        kind: FaultKind,
        targets: &[String],
        evidence: serde_json::Value,
        error: Option<String>,
    ) {
        let op_kind = if error.is_some() {
            OpKind::Fail
        } else {
            OpKind::Ok
        };
        self.recorder.record(
            PROCESS,
            f,
            op_kind,
            json!({
                "fault": kind.name(),
                "targets": targets,
                "down": self.down,
                "evidence": evidence,
            }),
            error,
        );
    }
}

/// Upper bound on an upgrade step's schema job.
const SCHEMA_JOB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs a system's init job on the image an upgrade step rolls to, before its first node: the
/// new version's schema step. Evidence on success; the job's exit and last lines otherwise.
async fn run_schema_job(
    backend: &impl Backend,
    job: &ContainerSpec,
    image: &str,
) -> Result<serde_json::Value, String> {
    let job = ContainerSpec {
        image: image.to_owned(),
        ..job.clone()
    };
    let begin = Instant::now();
    let out = backend
        .run_again(&job, SCHEMA_JOB_TIMEOUT)
        .await
        .map_err(|e| format!("the schema job {} on {image}: {e:#}", job.node))?;
    let tail: Vec<&str> = out.stdout.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if out.exit_code != 0 {
        return Err(format!(
            "the schema job {} on {image} exited with {}; its last lines:\n{}",
            job.node,
            out.exit_code,
            tail.join("\n")
        ));
    }
    Ok(json!({
        "job": job.node,
        "image": image,
        "seconds": begin.elapsed().as_secs_f64(),
        "last_lines": tail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fake::FakeBackend;
    use crate::nemesis::{Action, Event};
    use crate::scenario::Target;
    use crate::system::zookeeper::Role;
    use std::time::Duration;

    async fn cluster() -> (FakeBackend, Vec<String>) {
        let mut backend = FakeBackend::new();
        let nodes: Vec<String> = (1..=3).map(|i| format!("zk-{i}")).collect();
        for node in &nodes {
            backend
                .create(&ContainerSpec {
                    node: node.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            backend.start(node).await.unwrap();
        }
        (backend, nodes)
    }

    fn event(action: Action, kind: FaultKind, target: Target) -> Event {
        Event {
            at: Duration::ZERO,
            action,
            fault: 0,
            kind,
            target,
            system: crate::system::zookeeper::KIND,
            params: Default::default(),
        }
    }

    /// The first completed op of `f` (a process fault is first recorded as an invoke).
    fn first(recorder: &Recorder, f: F) -> crate::history::Op {
        recorder
            .snapshot()
            .with_f(f)
            .find(|op| op.kind != OpKind::Invoke)
            .cloned()
            .unwrap()
    }

    #[rstest::rstest]
    #[case::partition(FaultKind::Partition, "-I INPUT 1 -j cb-f0")]
    #[case::blackhole(FaultKind::Blackhole, "-I PREROUTING 1 -j cb-f0-i")]
    #[tokio::test]
    async fn a_network_fault_is_put_back_on_a_node_that_started_anew(
        #[case] kind: FaultKind,
        #[case] hook: &str,
    ) {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let info = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let address = std::net::Ipv4Addr::new(10, 0, 0, i as u8 + 1);
                let info = NodeInfo {
                    address: Some(address),
                    ..Default::default()
                };
                (n.clone(), info)
            })
            .collect();
        let mut nemesis = Nemesis::new(nodes, BTreeSet::new(), recorder.clone(), 1).with_info(info);
        let zk1 = Target::Node("zk-1".into());
        let partition = event(Action::Apply, kind, zk1.clone());
        let mut kill = event(Action::Apply, FaultKind::Kill, zk1.clone());
        kill.fault = 1;
        let mut start = event(Action::Heal, FaultKind::Kill, zk1);
        start.fault = 1;
        for e in [&partition, &kill, &start] {
            nemesis.run_event(&backend, e, &Observed::default()).await;
        }
        let installs: Vec<String> = backend
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("exec-net zk-1") && c.contains(hook))
            .collect();
        assert_eq!(
            installs.len(),
            2,
            "the {kind} rules once at the fault, once after the start"
        );
        let healed = first(&recorder, F::Heal);
        assert_eq!(
            healed.value["evidence"]["reestablished"]["0"]["zk-1"]["took_effect"], true,
            "{}",
            healed.value
        );
        // Only the node that started anew: zk-2 and zk-3 kept their namespace and rules.
        assert!(
            healed.value["evidence"]["reestablished"]["0"]
                .get("zk-2")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_killed_leader_is_recorded_with_evidence_and_healed() {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let mut nemesis = Nemesis::new(nodes, BTreeSet::new(), recorder.clone(), 1);
        let observed = Observed {
            roles: BTreeMap::from([
                ("zk-1".to_string(), Role::Follower),
                ("zk-2".to_string(), Role::Leader),
                ("zk-3".to_string(), Role::Follower),
            ]),
            ..Default::default()
        };
        nemesis
            .run_event(
                &backend,
                &event(Action::Apply, FaultKind::Kill, Target::Leader),
                &observed,
            )
            .await;
        assert_eq!(backend.status("zk-2"), Status::Exited);
        assert!(nemesis.down().contains("zk-2"));
        nemesis.heal_all(&backend).await;
        assert_eq!(backend.status("zk-2"), Status::Running);

        let history = recorder.snapshot();
        let invoke = history.with_f(F::Fault).next().unwrap();
        assert_eq!(invoke.kind, OpKind::Invoke);
        assert_eq!(invoke.value["targets"], json!([invoke.value["targets"][0]]));
        let fault = history
            .with_f(F::Fault)
            .find(|op| op.kind != OpKind::Invoke)
            .unwrap();
        assert_eq!(fault.kind, OpKind::Ok);
        assert_eq!(fault.value["targets"], json!(["zk-2"]));
        assert_eq!(fault.value["evidence"]["took_effect"], json!(true));
        let heal = history.with_f(F::Heal).next().unwrap();
        assert_eq!(heal.value["down"], json!([]));
    }

    #[tokio::test]
    async fn an_unresolvable_target_is_a_failed_fault_not_a_crash() {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let mut nemesis = Nemesis::new(nodes, BTreeSet::new(), recorder.clone(), 1);
        nemesis
            .run_event(
                &backend,
                &event(Action::Apply, FaultKind::Kill, Target::Leader),
                &Observed::default(),
            )
            .await;
        let fault = first(&recorder, F::Fault);
        assert_eq!(fault.kind, OpKind::Fail);
        assert!(fault.error.unwrap().contains("expected one leader"));
        assert!(backend.calls().iter().all(|c| !c.starts_with("kill")));
    }

    #[tokio::test]
    async fn a_node_the_engine_refused_to_pause_is_not_counted_down() {
        let (backend, nodes) = cluster().await;
        backend.stop("zk-3", 0).await.unwrap();
        let recorder = Recorder::new();
        let mut nemesis = Nemesis::new(nodes, BTreeSet::new(), recorder.clone(), 1);
        nemesis
            .run_event(
                &backend,
                &event(Action::Apply, FaultKind::Pause, Target::Node("zk-3".into())),
                &Observed::default(),
            )
            .await;
        assert!(nemesis.down().is_empty(), "{:?}", nemesis.down());
        let fault = first(&recorder, F::Fault);
        assert_eq!(fault.kind, OpKind::Fail);
        assert_eq!(fault.value["down"], json!([]));
    }

    #[tokio::test]
    async fn heal_all_starts_nodes_never_started() {
        let (backend, nodes) = cluster().await;
        backend.stop("zk-3", 0).await.unwrap();
        let recorder = Recorder::new();
        let mut nemesis = Nemesis::new(nodes, BTreeSet::from(["zk-3".to_string()]), recorder, 1);
        nemesis.heal_all(&backend).await;
        assert_eq!(backend.status("zk-3"), Status::Running);
        assert!(nemesis.down().is_empty());
    }

    fn upgrades(nodes: &[String], probe: crate::nemesis::RejoinProbe) -> Upgrades {
        Upgrades {
            specs: nodes
                .iter()
                .map(|n| {
                    let spec = ContainerSpec {
                        node: n.clone(),
                        image: "zk:3.8".into(),
                        data_dir: Some("/data".into()),
                        ..Default::default()
                    };
                    (n.clone(), spec)
                })
                .collect(),
            images: BTreeMap::from([(
                (crate::system::zookeeper::KIND, "3.9".to_string()),
                "zk:3.9".to_string(),
            )]),
            versions: nodes
                .iter()
                .map(|n| (n.clone(), "3.8".to_string()))
                .collect(),
            probe,
            init_jobs: BTreeMap::new(),
        }
    }

    fn upgrade_event(rejoin: Duration) -> Event {
        Event {
            params: crate::scenario::FaultParams {
                version: Some("3.9".into()),
                rejoin: Some(rejoin),
                ..Default::default()
            },
            ..event(Action::Apply, FaultKind::Upgrade, Target::All)
        }
    }

    async fn roll_to_the_end(nemesis: &mut Nemesis, backend: &FakeBackend) {
        for _ in 0..100 {
            if !nemesis.rolling() {
                return;
            }
            nemesis.advance_rolls(backend).await;
        }
        panic!("the roll never ended");
    }

    #[tokio::test]
    async fn an_upgrade_rolls_followers_first_and_records_each_rejoin() {
        let (backend, nodes) = cluster().await;
        for n in &nodes {
            backend
                .images
                .lock()
                .unwrap()
                .insert(n.clone(), "zk:3.8".into());
        }
        let recorder = Recorder::new();
        let probe: crate::nemesis::RejoinProbe = std::sync::Arc::new(|_, node, _| {
            Box::pin(async move { Ok(crate::system::Rejoin::Rejoined(json!({"node": node}))) })
        });
        let mut nemesis = Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 1)
            .with_upgrades(upgrades(&nodes, probe));
        let observed = Observed {
            roles: BTreeMap::from([
                ("zk-1".to_string(), Role::Leader),
                ("zk-2".to_string(), Role::Follower),
                ("zk-3".to_string(), Role::Follower),
            ]),
            ..Default::default()
        };
        nemesis
            .run_event(&backend, &upgrade_event(Duration::from_secs(5)), &observed)
            .await;
        assert!(nemesis.rolling());
        roll_to_the_end(&mut nemesis, &backend).await;
        let replaced: Vec<String> = backend
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("replace"))
            .collect();
        assert_eq!(
            replaced,
            [
                "replace zk-2 zk:3.9",
                "replace zk-3 zk:3.9",
                "replace zk-1 zk:3.9"
            ]
        );
        assert!(nodes.iter().all(|n| backend.image(n) == "zk:3.9"));
        let history = recorder.snapshot();
        let invokes = history
            .with_f(F::Fault)
            .filter(|op| op.kind == OpKind::Invoke)
            .count();
        let oks: Vec<&crate::history::Op> = history
            .with_f(F::Fault)
            .filter(|op| op.kind == OpKind::Ok)
            .collect();
        assert_eq!((invokes, oks.len()), (3, 3));
        assert_eq!(
            oks[0].value["evidence"]["versions"],
            json!({"zk-1": "3.8", "zk-2": "3.9", "zk-3": "3.8"})
        );
        assert_eq!(oks[2].value["evidence"]["from_image"], "zk:3.8");
        assert_eq!(oks[2].value["evidence"]["to_image"], "zk:3.9");
        assert!(oks[2].value["evidence"]["rejoin_ms"].is_u64());
        assert!(nemesis.down().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_node_waits_out_the_settle_after_a_rejoin() {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let probe: crate::nemesis::RejoinProbe = std::sync::Arc::new(|_, node, _| {
            Box::pin(async move { Ok(crate::system::Rejoin::Rejoined(json!({"node": node}))) })
        });
        let mut nemesis = Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 1)
            .with_upgrades(upgrades(&nodes, probe));
        let mut step = upgrade_event(Duration::from_secs(5));
        step.params.settle = Some(Duration::from_secs(15));
        nemesis
            .run_event(&backend, &step, &Observed::default())
            .await;
        let replaced = || {
            backend
                .calls()
                .into_iter()
                .filter(|c| c.starts_with("replace"))
                .count()
        };
        nemesis.advance_rolls(&backend).await; // zk-1 replaced
        nemesis.advance_rolls(&backend).await; // zk-1 rejoined: settle starts
        nemesis.advance_rolls(&backend).await; // still settling
        assert_eq!(replaced(), 1);
        tokio::time::advance(Duration::from_secs(16)).await;
        nemesis.advance_rolls(&backend).await;
        assert_eq!(replaced(), 2);
    }

    #[tokio::test]
    async fn a_schema_job_runs_once_on_the_new_image_before_the_first_node_rolls() {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let probe: crate::nemesis::RejoinProbe = std::sync::Arc::new(|_, node, _| {
            Box::pin(async move { Ok(crate::system::Rejoin::Rejoined(json!({"node": node}))) })
        });
        let mut upgrades = upgrades(&nodes, probe);
        let job = ContainerSpec {
            node: "zk-init".into(),
            image: "zk:3.8".into(),
            ..Default::default()
        };
        upgrades
            .init_jobs
            .insert(crate::system::zookeeper::KIND, job);
        let mut nemesis = Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 1)
            .with_upgrades(upgrades);
        nemesis
            .run_event(
                &backend,
                &upgrade_event(Duration::from_secs(5)),
                &Observed::default(),
            )
            .await;
        roll_to_the_end(&mut nemesis, &backend).await;
        let calls: Vec<String> = backend
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("run-again") || c.starts_with("replace"))
            .collect();
        assert_eq!(
            calls,
            [
                "run-again zk-init zk:3.9",
                "replace zk-1 zk:3.9",
                "replace zk-2 zk:3.9",
                "replace zk-3 zk:3.9"
            ]
        );
        let history = recorder.snapshot();
        let oks: Vec<&crate::history::Op> = history
            .with_f(F::Fault)
            .filter(|op| op.kind == OpKind::Ok)
            .collect();
        assert_eq!(oks[0].value["evidence"]["schema_job"]["image"], "zk:3.9");
        assert!(oks[1].value["evidence"]["schema_job"].is_null());
    }

    #[tokio::test]
    async fn a_node_that_never_rejoins_fails_the_step_and_stops_the_roll() {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let probe: crate::nemesis::RejoinProbe = std::sync::Arc::new(|_, _, _| {
            Box::pin(async { Ok(crate::system::Rejoin::Waiting("zk-1 is not-serving".into())) })
        });
        let mut nemesis = Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 1)
            .with_upgrades(upgrades(&nodes, probe));
        let event = Event {
            params: crate::scenario::FaultParams {
                order: Some(crate::scenario::UpgradeOrder::Listed),
                ..upgrade_event(Duration::ZERO).params
            },
            ..upgrade_event(Duration::ZERO)
        };
        nemesis
            .run_event(&backend, &event, &Observed::default())
            .await;
        roll_to_the_end(&mut nemesis, &backend).await;
        let replaced = backend
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("replace"))
            .count();
        assert_eq!(replaced, 1, "the roll stops at the first node");
        let fail = first(&recorder, F::Fault);
        assert_eq!(fail.kind, OpKind::Fail);
        let error = fail.error.unwrap();
        assert!(error.contains("zk-1 did not rejoin"), "{error}");
        assert!(error.contains("not-serving"), "{error}");
        assert!(error.contains("fake log of zk-1"), "{error}");
        assert_eq!(
            fail.value["evidence"]["not_rolled"],
            json!(["zk-2", "zk-3"])
        );
    }

    #[tokio::test]
    async fn a_step_fired_while_another_rolls_waits_for_it() {
        let mut backend = FakeBackend::new();
        let nodes: Vec<String> = ["broker-1", "broker-2", "bookie-1", "bookie-2"]
            .map(String::from)
            .to_vec();
        for node in &nodes {
            let spec = ContainerSpec {
                node: node.clone(),
                ..Default::default()
            };
            backend.create(&spec).await.unwrap();
            backend.start(node).await.unwrap();
        }
        let recorder = Recorder::new();
        // Each node rejoins on the third question.
        let asked = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<String, u32>::new()));
        let probe: crate::nemesis::RejoinProbe = std::sync::Arc::new(move |_, node, _| {
            let asked = asked.clone();
            Box::pin(async move {
                let mut asked = asked.lock().unwrap();
                let n = asked.entry(node.clone()).or_default();
                *n += 1;
                Ok(if *n >= 3 {
                    crate::system::Rejoin::Rejoined(json!({}))
                } else {
                    crate::system::Rejoin::Waiting(format!("{node} not yet"))
                })
            })
        });
        let mut u = upgrades(&nodes, probe);
        u.images = BTreeMap::from([
            (
                (crate::system::pulsar::KIND, "4.0".into()),
                "pulsar:4.0".into(),
            ),
            (
                (crate::system::bookkeeper::KIND, "4.17".into()),
                "bk:4.17".into(),
            ),
        ]);
        let mut nemesis =
            Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 1).with_upgrades(u);
        let step = |fault: usize, system: SystemKind, version: &str| Event {
            fault,
            system,
            params: crate::scenario::FaultParams {
                version: Some(version.into()),
                order: Some(crate::scenario::UpgradeOrder::FollowersFirst),
                rejoin: Some(Duration::from_secs(5)),
                ..Default::default()
            },
            ..event(Action::Apply, FaultKind::Upgrade, Target::All)
        };
        let brokers = step(0, crate::system::pulsar::KIND, "4.0");
        nemesis
            .run_event(&backend, &brokers, &Observed::default())
            .await;
        nemesis.advance_rolls(&backend).await; // broker-1 goes down
        assert_eq!(nemesis.down(), &BTreeSet::from(["broker-1".to_string()]));
        let bookies = step(1, crate::system::bookkeeper::KIND, "4.17");
        nemesis
            .run_event(&backend, &bookies, &Observed::default())
            .await;
        roll_to_the_end(&mut nemesis, &backend).await;
        let sequence: Vec<(OpKind, String)> = recorder
            .snapshot()
            .with_f(F::Fault)
            .map(|op| {
                (
                    op.kind,
                    op.value["targets"][0].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<(OpKind, String)> = ["broker-1", "broker-2", "bookie-1", "bookie-2"]
            .into_iter()
            .flat_map(|n| [(OpKind::Invoke, n.to_string()), (OpKind::Ok, n.to_string())])
            .collect();
        assert_eq!(
            sequence, expected,
            "one node at a time, brokers then bookies"
        );
        assert_eq!(backend.image("broker-2"), "pulsar:4.0");
        assert_eq!(backend.image("bookie-1"), "bk:4.17");
    }

    #[tokio::test]
    async fn an_upgrade_of_a_system_without_a_rejoin_condition_is_refused() {
        let (backend, nodes) = cluster().await;
        let recorder = Recorder::new();
        let probe: crate::nemesis::RejoinProbe =
            std::sync::Arc::new(|_, _, _| Box::pin(async { anyhow::bail!("unused") }));
        let lbs = vec!["lb-1".to_string()];
        let mut nemesis = Nemesis::new(lbs, BTreeSet::new(), recorder.clone(), 1)
            .with_upgrades(upgrades(&nodes, probe));
        let event = Event {
            system: crate::system::nginx::KIND,
            target: Target::All,
            ..upgrade_event(Duration::from_secs(1))
        };
        nemesis
            .run_event(&backend, &event, &Observed::default())
            .await;
        assert!(!nemesis.rolling());
        let fail = first(&recorder, F::Fault);
        assert_eq!(fail.kind, OpKind::Fail);
        let error = fail.error.unwrap();
        assert!(
            error.contains("upgrade of nginx is not supported yet"),
            "{error}"
        );
    }
}

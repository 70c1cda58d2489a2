//! Recorded histories: real runs' histories from `tests/fixtures/histories`, with the scenario
//! they ran and the context the runner gives the checks (`runner::check_context_for`).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use flate2::read::GzDecoder;

use super::super::{CheckContext, CheckResult, Verdict, check, faults_applied};
use crate::history::{F, History, OpKind};
use crate::scenario::{CheckSpec, Scenario};

/// One recorded run.
pub struct Recorded {
    pub name: &'static str,
    pub scenario: Scenario,
    pub history: History,
    pub ctx: CheckContext,
    /// Each check's name and verdict as the run's results.json has them.
    pub results: Vec<(String, Verdict)>,
    /// What `judged` found, by the check's debug form.
    judged: Mutex<HashMap<String, CheckResult>>,
}

impl Recorded {
    /// The check of kind `kind` (its name in the scenario) the scenario declares.
    pub fn spec(&self, kind: &str) -> Option<CheckSpec> {
        self.scenario
            .checks
            .iter()
            .map(|check| &check.get_ref().spec)
            .find(|spec| spec.name() == kind)
            .cloned()
    }

    /// The unmutated history judged by `spec`, once per spec (the properties draw only the
    /// victim, so every case would judge the same history again).
    pub fn judged(&self, spec: &CheckSpec) -> CheckResult {
        let key = format!("{spec:?}");
        let mut judged = self.judged.lock().unwrap_or_else(|e| e.into_inner());
        judged
            .entry(key)
            .or_insert_with(|| check(spec, &self.history, &self.ctx))
            .clone()
    }
}

fn load(name: &'static str) -> Recorded {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/histories")
        .join(name);
    let scenario = crate::scenario::load(&dir.join("scenario.toml"))
        .unwrap_or_else(|e| panic!("{name}: the scenario does not load: {e}"));
    let file = std::fs::File::open(dir.join("history.jsonl.gz"))
        .unwrap_or_else(|e| panic!("{name}: history.jsonl.gz: {e}"));
    let mut text = String::new();
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{name}: history.jsonl.gz does not unpack: {e}"));
    let history = History::from_jsonl(&text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    for (position, op) in history.ops.iter().enumerate() {
        assert_eq!(op.index, position as u64, "{name}: ops numbered in order");
    }
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("results.json")).expect("results.json"),
    )
    .expect("results.json is JSON");
    let results = results["checks"]
        .as_array()
        .expect("results.json lists its checks")
        .iter()
        .map(|c| {
            let verdict = serde_json::from_value(c["verdict"].clone()).expect("a verdict");
            (c["name"].as_str().unwrap_or("?").to_string(), verdict)
        })
        .collect();
    let ctx = crate::runner::check_context_for(&scenario, workload_end(&history));
    Recorded {
        name,
        scenario,
        history,
        ctx,
        results,
        judged: Mutex::default(),
    }
}

/// When the workload ended. The runner reads its clock once the clients and the scheduled faults
/// are done, then heals what is still applied and probes every system (the `healed` ops); the
/// history does not record the instant itself, so this takes the first op the runner made after
/// it: a heal after the last client invocation, else the first probe. That is a few ms late
/// (3 to 7 ms in these runs, from the windows their results.json reports): every declared
/// check's summary comes out as the run's, and only the last window's end in the latency and
/// trace checks' details moves by those ms.
fn workload_end(history: &History) -> u64 {
    let clients = [F::Write, F::Read, F::Cas, F::Send, F::Trace];
    let last_invoke = history
        .ops
        .iter()
        .filter(|op| op.kind == OpKind::Invoke && clients.contains(&op.f))
        .map(|op| op.time)
        .max()
        .unwrap_or(0);
    let probed = history
        .with_f(F::Healed)
        .map(|op| op.time)
        .min()
        .unwrap_or_else(|| history.ops.last().map_or(0, |op| op.time));
    history
        .with_f(F::Heal)
        .map(|op| op.time)
        .filter(|t| *t > last_invoke && *t <= probed)
        .min()
        .unwrap_or(probed)
}

macro_rules! recorded {
    ($($id:ident = $name:literal),* $(,)?) => {
        $(pub static $id: LazyLock<Recorded> = LazyLock::new(|| load($name));)*

        /// Every recorded run.
        pub fn all() -> Vec<&'static Recorded> {
            vec![$(&*$id),*]
        }
    };
}

recorded! {
    ZK_LEADER_KILL = "zk-leader-kill",
    ZK_TICKTIME_TOO_LOW = "zk-ticktime-too-low",
    ZK_TICKTIME_DEFAULT = "zk-ticktime-default",
    ZK_ROLLING_UPGRADE = "zk-rolling-upgrade",
    PULSAR_BROKER_KILL = "pulsar-broker-kill",
    PULSAR_ROLLING_UPGRADE = "pulsar-rolling-upgrade",
    SW_OAP_KILL_BEHIND_LB = "sw-oap-kill-behind-lb",
    PP_COLLECTOR_KILL = "pp-collector-kill",
}

/// The recorded runs whose scenario declares a check of kind `kind`, with that check.
pub fn declaring(kind: &str) -> Vec<(&'static Recorded, CheckSpec)> {
    all()
        .into_iter()
        .filter_map(|r| Some((r, r.spec(kind)?)))
        .collect()
}

#[test]
fn every_recorded_history_is_valid_for_the_checks_its_scenario_declares() {
    for recorded in all() {
        let mut judged = 0;
        for spec in &recorded.scenario.checks {
            let spec = spec.get_ref();
            let result = recorded.judged(spec);
            assert_eq!(
                result.verdict,
                Verdict::Valid,
                "{}: {}: {}",
                recorded.name,
                result.name,
                result.summary
            );
            let listed = recorded
                .results
                .iter()
                .find(|(name, _)| *name == result.name);
            assert_eq!(
                listed.map(|(_, verdict)| *verdict),
                Some(Verdict::Valid),
                "{}: results.json has {} valid",
                recorded.name,
                result.name
            );
            judged += 1;
        }
        assert!(judged > 0, "{}: no check declared", recorded.name);
        let applied = faults_applied::check(&recorded.history);
        assert_eq!(
            applied.verdict,
            Verdict::Valid,
            "{}: {}",
            recorded.name,
            applied.summary
        );
    }
}

#[test]
fn the_recorded_runs_cover_every_mutated_check() {
    for kind in [
        "quorum",
        "availability",
        "recovery",
        "no-lost-writes",
        "session-expiry",
        "delivery",
        "topic-ownership",
        "bookies-registered",
        "traces",
        "trace-queries",
        "upgrade",
        "healed",
    ] {
        assert!(
            !declaring(kind).is_empty(),
            "no recorded run declares {kind}"
        );
    }
    assert!(
        PULSAR_ROLLING_UPGRADE.history.ops.iter().any(|op| {
            op.f == F::Receive
                && op.value["phase"].as_str() == Some(crate::workload::pulsar::READ_BACK_PHASE)
        }),
        "a recorded run reads the topic back"
    );
}

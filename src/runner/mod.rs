//! The runner: setup -> workload || nemesis -> heal -> final reads -> check -> teardown, with
//! teardown on every exit path (normal end, failed check, error, panic, Ctrl-C, timeout). A run
//! that would not fit on the engine's disk is refused before anything starts (`disk`).

mod client;
mod cluster;
mod diagnosis;
mod disk;
mod monitor;
mod phases;
mod save;
mod systems;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use indicatif::MultiProgress;

use crate::backend::docker::{DockerBackend, reap_orphans};
use crate::backend::{Backend, RunId};
use crate::checker::{CheckResult, Verdict};
use crate::history::Recorder;
use crate::report::{Results, RunDir};
use crate::scenario::{CheckSpec, Scenario};

pub use cluster::{Cluster, FaultTools};
pub use systems::ready_unless_exit;

/// Runs `scenario`'s checks on what `recorder` holds, for a cluster stood up by [`stand_up`]
/// (the history's end is now).
pub fn judge(scenario: &Scenario, cluster: &Cluster, recorder: &Recorder) -> Vec<CheckResult> {
    let ctx = phases::check_context(scenario, cluster, recorder.now());
    phases::run_checks(scenario, recorder, &ctx)
}

/// The context a run of `scenario` gives its checks once every system's nodes were created, as
/// `phases::check_context` builds it from the cluster: for judging a recorded history again.
#[cfg(test)]
pub(crate) fn check_context_for(
    scenario: &Scenario,
    workload_end: u64,
) -> crate::checker::CheckContext {
    let mut cluster = Cluster::default();
    for (system, spec, _) in crate::scenario::systems(scenario) {
        for name in crate::system::node_names(system, spec.node_count()) {
            cluster.nodes.push(crate::system::Node {
                name,
                system,
                address: std::net::Ipv4Addr::UNSPECIFIED,
            });
        }
    }
    phases::check_context(scenario, &cluster, workload_end)
}

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Root of the run directories (default target/chaosbed/runs).
    pub out_root: PathBuf,
    /// Keep a failed run's containers for debugging.
    pub keep: bool,
    /// Upper bound on the whole run; past it the run is stopped and cleaned up.
    pub timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            out_root: default_out_root(),
            keep: false,
            timeout: Duration::from_secs(900),
        }
    }
}

/// `target/chaosbed/runs` of the workspace, or CHAOSBED_RUNS when set.
pub fn default_out_root() -> PathBuf {
    if let Ok(dir) = std::env::var("CHAOSBED_RUNS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/chaosbed/runs")
}

/// Stands up a scenario's topology (images, network, every system ready) without workload or
/// faults, for benchmarks and tools, ready for the faults `tools` names. The caller owns
/// `backend` and must call its `cleanup`.
pub async fn stand_up(
    scenario: &Scenario,
    docker: &bollard::Docker,
    backend: &mut DockerBackend,
    tools: FaultTools,
    timeout: Duration,
    progress: &MultiProgress,
) -> anyhow::Result<(Cluster, Vec<String>)> {
    let mut cluster = Cluster::default();
    let lines = cluster::create(
        scenario,
        docker,
        backend,
        &mut cluster,
        tools,
        timeout,
        progress,
    )
    .await?;
    Ok((cluster, lines))
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    pub results: Results,
    pub dir: PathBuf,
    /// Containers kept for debugging (with `--keep` on a failed run).
    pub kept: bool,
}

impl Outcome {
    /// 0 valid, 1 invalid, 2 unknown or could not run.
    pub fn exit_code(&self) -> i32 {
        match self.results.verdict {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }
}

/// The error text of a run stopped by Ctrl-C.
pub const INTERRUPTED: &str = "interrupted (Ctrl-C or SIGTERM)";

/// Why a run stopped early.
#[derive(Debug)]
enum Stop {
    Error(anyhow::Error),
    Panic(String),
    Interrupted,
    TimedOut(Duration),
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one scenario against the Docker engine and writes its run directory.
pub async fn run(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &MultiProgress,
) -> anyhow::Result<Outcome> {
    let docker = crate::provision::engine().await?;
    let reaped = reap_orphans(&docker).await?;
    if !reaped.is_empty() {
        progress.println(format!("removed leftovers of dead runs: {reaped}"))?;
    }
    disk::check(&docker, scenario).await?;
    let dir = RunDir::create(&options.out_root, &scenario.name)?;
    let run_id = RunId::new(&scenario.name);
    let mut backend = DockerBackend::new(docker.clone(), run_id.clone());
    let recorder = Recorder::new();
    let started = Instant::now();
    let started_at = chrono::Local::now().to_rfc3339();
    let mut cluster = Cluster::default();
    let mut marks = phases::Marks {
        workload_end: None,
        clock: crate::report::PhaseClock::start(),
    };
    // Memory and CPU of every container from the first one created, for the report; aborted
    // below before the files are written, and on drop whatever way this function ends.
    let resources = AbortOnDrop(tokio::spawn(monitor::sample_resources(
        docker.clone(),
        run_id.clone(),
        recorder.clone(),
    )));

    let stop = {
        let body = phases::execute(
            scenario,
            &docker,
            &mut backend,
            &recorder,
            &mut cluster,
            progress,
            &mut marks,
        );
        tokio::select! {
            outcome = AssertUnwindSafe(body).catch_unwind() => match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(Stop::Error(error)),
                Err(panic) => Err(Stop::Panic(panic_message(panic))),
            },
            _ = crate::signal::stop_requested() => Err(Stop::Interrupted),
            _ = tokio::time::sleep(options.timeout) => Err(Stop::TimedOut(options.timeout)),
        }
    };

    let error = match stop {
        Ok(()) => None,
        Err(Stop::Error(e)) => Some(format!("{e:#}")),
        Err(Stop::Panic(m)) => Some(format!("chaosbed panicked: {m}")),
        Err(Stop::Interrupted) => Some(INTERRUPTED.to_string()),
        Err(Stop::TimedOut(t)) => Some(format!("the run exceeded its timeout of {t:?}")),
    };
    let interrupted = error.as_deref() == Some(INTERRUPTED);
    if error.is_some() {
        marks.clock.lap("stopped early");
    }

    resources.0.abort();
    // Whatever way the run ended, say why nodes failed, then judge what the history holds.
    let diagnoses = diagnosis::diagnose_nodes(scenario, &backend, &cluster, &recorder).await;
    for d in &diagnoses {
        progress.println(format!("  diagnosis: {}", d.explanation))?;
        if progress.is_hidden() {
            eprintln!("  diagnosis: {}", d.explanation);
        }
    }
    marks.clock.lap("diagnosis");
    let checks = if interrupted {
        Vec::new()
    } else {
        let end = marks.workload_end.unwrap_or_else(|| recorder.now());
        let ctx = phases::check_context(scenario, &cluster, end);
        phases::run_checks(scenario, &recorder, &ctx)
    };
    marks.clock.lap("checks");
    let verdict = verdict_of(&checks, error.is_some(), scenario);

    let results = save::save(
        scenario,
        &backend,
        &cluster,
        &recorder,
        &dir,
        save::Summary {
            run_id: run_id.to_string(),
            started_at,
            duration: started.elapsed(),
            verdict,
            error,
            checks,
            phases: marks.clock.phases(),
        },
    )
    .await;

    let kept = options.keep && verdict != Verdict::Valid && !interrupted;
    if kept {
        progress.println(format!(
            "kept the containers of run {run_id} for debugging; remove them with `cargo xtask clean` or `docker rm -f $(docker ps -aq --filter label=chaosbed.run={run_id})` and `docker network rm cb-{run_id}`"
        ))?;
    } else {
        let removed = backend.cleanup().await;
        match removed {
            Ok(removed) => tracing::debug!("cleanup of {run_id}: {removed}"),
            Err(e) => progress.println(format!(
                "cleanup of run {run_id} failed: {e:#}; run `cargo xtask clean` to remove what is left"
            ))?,
        }
    }
    Ok(Outcome {
        results,
        dir: dir.path,
        kept,
    })
}

/// The run's verdict. A run that stopped early is Unknown, unless the scenario expected the
/// failure: it has diagnosis checks and every check found what it demands.
fn verdict_of(checks: &[CheckResult], stopped_early: bool, scenario: &Scenario) -> Verdict {
    let merged = Verdict::merge_all(checks.iter().map(|c| c.verdict));
    let expects_failure = scenario
        .checks
        .iter()
        .any(|c| matches!(c.get_ref().spec, CheckSpec::Diagnosis { .. }));
    if stopped_early && !(expects_failure && merged == Verdict::Valid) {
        Verdict::Unknown.merge(merged)
    } else {
        merged
    }
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

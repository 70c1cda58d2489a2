//! The phases of a run between setup and teardown, in order.

use std::time::Duration;

use anyhow::Context;
use bollard::Docker;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::time::Instant;

use super::cluster::{self, Cluster};
use super::monitor;
use crate::backend::Backend;
use crate::checker::{self, CheckContext, CheckResult};
use crate::history::Recorder;
use crate::nemesis::{self, Nemesis};
use crate::scenario::{Scenario, systems};
use crate::system::zookeeper;
use crate::workload::zk_register;

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(90);
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(60);

fn phase(progress: &MultiProgress, message: String) -> ProgressBar {
    let bar = progress.add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed:>3}] {msg}").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(message);
    bar
}

fn done(progress: &MultiProgress, bar: ProgressBar, message: String) {
    bar.finish_and_clear();
    let _ = progress.println(format!("  {message}"));
}

/// Runs the scenario on a fresh cluster and returns the check results.
pub async fn execute(
    scenario: &Scenario,
    docker: &Docker,
    backend: &mut impl Backend,
    recorder: &Recorder,
    cluster: &mut Cluster,
    progress: &MultiProgress,
) -> anyhow::Result<Vec<CheckResult>> {
    let system = scenario.workload.kind.system();
    let (_, spec, _) = systems(scenario)
        .into_iter()
        .find(|(kind, _, _)| *kind == system)
        .context("the workload's system is not in the topology")?;

    let bar = phase(
        progress,
        format!("starting {} {system} nodes", spec.node_count()),
    );
    cluster::create(scenario, docker, backend, cluster, progress).await?;
    let nodes = cluster.of(system);
    let names = cluster.names(system);
    let started: Vec<String> = names
        .iter()
        .filter(|n| !cluster.not_started.contains(*n))
        .cloned()
        .collect();
    bar.set_message(format!(
        "waiting for {system}: {} of {} nodes started",
        started.len(),
        names.len()
    ));
    let ready = zookeeper::wait_ready(&nodes, &started, names.len(), READY_TIMEOUT).await?;
    done(
        progress,
        bar,
        format!(
            "{system} ready in {:.1}s (leader: {})",
            ready.elapsed.as_secs_f64(),
            ready.leader.as_deref().unwrap_or("none")
        ),
    );

    let target = zk_register::Target::new(
        zookeeper::connect_string(&cluster.addresses(system)),
        &scenario.workload,
    );
    if started.len() > names.len() / 2 {
        zk_register::prepare(&target, READY_TIMEOUT).await?;
    }

    let mut background = tokio::task::JoinSet::new();
    background.spawn(monitor::sample_roles(nodes.clone(), recorder.clone()));

    let bar = phase(
        progress,
        format!(
            "workload {} for {}",
            kind_name(scenario),
            scenario.workload.duration.get_ref()
        ),
    );
    let mut nemesis = Nemesis::new(
        names.clone(),
        cluster.not_started.clone(),
        recorder.clone(),
        scenario.seed,
    );
    let events = nemesis::plan(&scenario.faults, system);
    let start = Instant::now();
    let workload = zk_register::run(&scenario.workload, &target, recorder, scenario.seed);
    let faults = async {
        for event in &events {
            tokio::time::sleep_until(start + event.at).await;
            let roles = if event.target.is_role() {
                zookeeper::roles(&nodes, Duration::from_secs(1)).await
            } else {
                Default::default()
            };
            bar.set_message(format!(
                "workload: {} {} at {:?}",
                event.kind, event.target, event.at
            ));
            nemesis.run_event(backend, event, &roles).await;
        }
    };
    tokio::join!(workload, faults);
    let workload_end = recorder.now();
    done(
        progress,
        bar,
        format!(
            "workload ran {:.1}s with {} scheduled fault events",
            start.elapsed().as_secs_f64(),
            events.len()
        ),
    );

    let bar = phase(
        progress,
        "healing every fault and waiting for the cluster".into(),
    );
    nemesis.heal_all(backend).await;
    let recovery = zookeeper::wait_ready(&nodes, &names, names.len(), RECOVERY_TIMEOUT).await;
    match &recovery {
        Ok(r) => done(
            progress,
            bar,
            format!(
                "{system} whole again {:.1}s after heal",
                r.elapsed.as_secs_f64()
            ),
        ),
        Err(e) => done(progress, bar, format!("{system} did not recover: {e:#}")),
    }

    let bar = phase(progress, "final read of every acknowledged write".into());
    zk_register::final_read(&target, recorder, FINAL_READ_TIMEOUT).await;
    background.shutdown().await;
    done(progress, bar, "final read done".into());

    let history = recorder.snapshot();
    let ctx = CheckContext {
        nodes: names,
        tick_time_ms: Some(zookeeper::tick_time_ms(spec)),
        workload_end,
    };
    Ok(scenario
        .checks
        .iter()
        .map(|spec| checker::check(spec.get_ref(), &history, &ctx))
        .collect())
}

fn kind_name(scenario: &Scenario) -> &'static str {
    match scenario.workload.kind {
        crate::scenario::WorkloadKind::ZkRegister => "zk-register",
    }
}

//! The phases of a run between setup and teardown, in order.

use std::time::Duration;

use anyhow::Context as _;
use bollard::Docker;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::time::Instant;

use super::cluster::{self, Cluster};
use super::{client, systems};
use crate::backend::Backend;
use crate::checker::{self, CheckContext, CheckResult};
use crate::history::{F, OpKind, Recorder};
use crate::nemesis::{self, Nemesis, Observed};
use crate::scenario::{Scenario, WorkloadKind, systems as declared};
use crate::system::zookeeper;
use crate::workload::container::{self, Phase};
use crate::workload::{Deadline, pulsar as pulsar_workload, traces, zk_cas, zk_register};

const READY_TIMEOUT: Duration = Duration::from_secs(180);
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(120);
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(60);
const DRAIN_IDLE: Duration = Duration::from_secs(10);
const DRAIN_DEADLINE: Duration = Duration::from_secs(90);
/// How long the trace reader keeps looking for traces after heal.
const TRACE_DRAIN_DEADLINE: Duration = Duration::from_secs(90);
/// The traces check's `late_after` (the longest when several): the trace drain gives up on a
/// trace missing for longer than it (plus the reader's DRAIN_QUIET) since its emission.
fn traces_late_after(scenario: &Scenario) -> Duration {
    scenario
        .checks
        .iter()
        .filter_map(|c| match &c.get_ref().spec {
            crate::scenario::CheckSpec::Traces { late_after, .. } => Some(late_after.0),
            _ => None,
        })
        .max()
        .unwrap_or(Duration::from_secs(30))
}

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
    say(progress, message);
}

/// A line of the run's story: above the spinners on a terminal, plain on stderr otherwise.
fn say(progress: &MultiProgress, message: String) {
    if progress.is_hidden() {
        eprintln!("  {message}");
    } else {
        let _ = progress.println(format!("  {message}"));
    }
}

/// What the body of a run leaves for the checks, however far it got.
#[derive(Debug, Default)]
pub struct Marks {
    /// When the workload ended (history time), once it has.
    pub workload_end: Option<u64>,
    /// The phases done so far.
    pub clock: crate::report::PhaseClock,
}

/// The workload's clients, ready to run against the cluster.
enum Clients {
    Zk(zk_register::Target),
    ZkCas(zk_cas::Target),
    Pulsar(pulsar_workload::Target, pulsar_workload::Consumers),
    Traces(traces::Target, traces::Reader),
    Requests(traces::RequestTarget, traces::Reader),
    UdpSpans(traces::UdpAgents, traces::Reader),
    Container(container::Client),
}

/// `ip:port` of every ZooKeeper server as the clients reach it.
fn zk_servers(cluster: &Cluster) -> Vec<String> {
    cluster
        .addresses(crate::system::zookeeper::KIND)
        .iter()
        .map(|a| format!("{a}:{}", zookeeper::CLIENT_PORT))
        .collect()
}

/// Runs the scenario on a fresh cluster; the checks come after, on the history it leaves.
pub async fn execute(
    scenario: &Scenario,
    docker: &Docker,
    backend: &mut impl Backend,
    recorder: &Recorder,
    cluster: &mut Cluster,
    progress: &MultiProgress,
    marks: &mut Marks,
) -> anyhow::Result<()> {
    let clock = &mut marks.clock;
    let system = scenario.workload.system();
    let total: u32 = declared(scenario)
        .iter()
        .map(|(_, s, _)| s.node_count())
        .sum();
    let bar = phase(progress, format!("starting {total} nodes"));
    let tools = cluster::FaultTools::of(scenario);
    for line in cluster::create(
        scenario,
        docker,
        backend,
        cluster,
        tools,
        READY_TIMEOUT,
        progress,
    )
    .await?
    {
        say(progress, line);
    }
    done(progress, bar, "cluster ready".into());

    let all_nodes: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();
    let clients = match scenario.workload.kind {
        WorkloadKind::ZkCasRegister => {
            let target = zk_cas::Target::new(zk_servers(cluster), &scenario.workload);
            let keys = zk_cas::keys(&scenario.workload);
            zk_cas::prepare(&target, &keys, READY_TIMEOUT).await?;
            Clients::ZkCas(target)
        }
        WorkloadKind::ZkRegister => {
            let connect = zk_servers(cluster).join(",");
            let target = zk_register::Target::new(connect, &scenario.workload);
            let names = cluster.names(crate::system::zookeeper::KIND);
            let started = names
                .iter()
                .filter(|n| !cluster.not_started.contains(*n))
                .count();
            if started > names.len() / 2 {
                zk_register::prepare(&target, READY_TIMEOUT).await?;
            }
            Clients::Zk(target)
        }
        WorkloadKind::PulsarProduceConsume => {
            let target = pulsar_workload::Target::new(
                crate::system::pulsar::service_urls(
                    &cluster.addresses(crate::system::pulsar::KIND),
                ),
                &scenario.workload,
            );
            let brokers = cluster.of(crate::system::pulsar::KIND);
            if let Some(policy) = scenario.workload.persistence {
                crate::system::pulsar::set_namespace_persistence(
                    brokers[0].1,
                    &target.topic,
                    policy.ensemble,
                    policy.write_quorum,
                    policy.ack_quorum,
                )
                .await?;
                say(
                    progress,
                    format!(
                        "the namespace of {} writes to {} of {} bookies, acknowledged by {}",
                        target.topic, policy.write_quorum, policy.ensemble, policy.ack_quorum
                    ),
                );
            }
            let consumers =
                pulsar_workload::start_consumers(&scenario.workload, &target, &brokers, recorder)
                    .await?;
            Clients::Pulsar(target, consumers)
        }
        WorkloadKind::SkywalkingTraces => {
            let target = trace_target(cluster);
            let reader = traces::start_reader(&target, recorder);
            Clients::Traces(target, reader)
        }
        WorkloadKind::PinpointRequests => {
            let target = request_target(cluster);
            let source = traces::PinpointSource::for_run(target.application.clone(), recorder);
            let reader = traces::Reader::start(source, target.webs.clone(), recorder);
            Clients::Requests(target, reader)
        }
        WorkloadKind::PinpointUdpSpans => {
            let target = udp_target(cluster);
            let agents = traces::register_udp_agents(&scenario.workload, &target).await?;
            say(
                progress,
                format!("UDP agents registered over TCP: {}", agents.describe()),
            );
            let source = traces::PinpointSource::for_run(target.application.clone(), recorder);
            let reader = traces::Reader::start(source, target.webs.clone(), recorder);
            Clients::UdpSpans(agents, reader)
        }
        WorkloadKind::Container => {
            Clients::Container(client::prepare(scenario, docker, cluster, progress).await?)
        }
    };

    clock.lap("setup");
    let mut background = tokio::task::JoinSet::new();
    for (system, _) in scenario.topology.systems() {
        if let Some(probe) = system.monitor(cluster.of(system), recorder.clone()) {
            background.spawn(probe);
        }
    }

    let bar = phase(
        progress,
        format!(
            "workload {} for {}",
            scenario.workload.kind.name(),
            scenario.workload.duration.get_ref()
        ),
    );
    let mut nemesis = Nemesis::new(
        all_nodes,
        cluster.not_started.clone(),
        recorder.clone(),
        scenario.seed,
    )
    .with_info(cluster.node_info())
    .with_upgrades(upgrades(scenario, cluster));
    let events = nemesis::plan(&scenario.faults, system);
    if let Clients::Container(client) = &clients {
        let duration = scenario.workload.duration.get_ref().as_duration();
        start_client(backend, &client.spec(Phase::Workload, duration)).await?;
    }
    let start = Instant::now();
    let end = Deadline::for_workload(&scenario.workload);
    let workload = async {
        match &clients {
            Clients::Container(_) => {
                return Some(container::follow(&*backend, Phase::Workload, recorder, &end).await);
            }
            Clients::ZkCas(target) => {
                zk_cas::run(&scenario.workload, target, recorder, scenario.seed, &end).await
            }
            Clients::Zk(target) => {
                zk_register::run(&scenario.workload, target, recorder, scenario.seed, &end).await
            }
            Clients::Pulsar(target, _) => {
                pulsar_workload::produce(&scenario.workload, target, recorder, &end).await
            }
            Clients::Traces(target, _) => {
                let sent = traces::emit(&scenario.workload, target, recorder, &end).await;
                say(
                    progress,
                    format!(
                        "emitted {} traces: {} taken by the agent's reporter, {} refused, {} unknown; {} gRPC stream errors",
                        sent.emitted, sent.taken, sent.refused, sent.unknown, sent.stream_errors
                    ),
                );
            }
            Clients::Requests(target, _) => {
                let sent = traces::request(&scenario.workload, target, recorder, &end).await;
                say(
                    progress,
                    format!(
                        "sent {} requests to the traced application: {} answered, {} failed, {} without an answer",
                        sent.sent, sent.answered, sent.failed, sent.unknown
                    ),
                );
            }
            Clients::UdpSpans(agents, _) => {
                let sent = traces::send_spans(&scenario.workload, agents, recorder, &end).await;
                let closed = if sent.closed.is_empty() {
                    "every agent's TCP registration still open".to_string()
                } else {
                    let closed: Vec<String> = sent
                        .closed
                        .iter()
                        .map(|(a, why)| format!("{a}: {why}"))
                        .collect();
                    format!(
                        "TCP registrations the collectors closed: {}",
                        closed.join("; ")
                    )
                };
                say(
                    progress,
                    format!(
                        "{} UDP agents sent {} spans ({} refused by this host) and {} statistics samples ({} refused); {closed}",
                        sent.agents, sent.sent, sent.refused, sent.stats, sent.stats_refused
                    ),
                );
            }
        }
        None
    };
    let faults = async {
        let mut pending = events.iter().peekable();
        loop {
            // An upgrade step rolls its nodes between the other events, which still fire on time.
            if nemesis.rolling() {
                let due = pending
                    .peek()
                    .is_some_and(|event| Instant::now() >= start + event.at);
                if !due {
                    nemesis.advance_rolls(backend).await;
                    let next = pending.peek().map(|event| start + event.at);
                    let poll = Instant::now() + nemesis::ROLL_POLL;
                    tokio::time::sleep_until(next.map_or(poll, |n| n.min(poll))).await;
                    continue;
                }
            }
            let Some(event) = pending.next() else {
                break;
            };
            tokio::time::sleep_until(start + event.at).await;
            let observed = observe(cluster, &clients, &*backend, event).await;
            bar.set_message(format!(
                "workload: {} {} at {:?}",
                event.kind, event.target, event.at
            ));
            nemesis.run_event(backend, event, &observed).await;
        }
        if let Some(after) = &scenario.workload.after_faults {
            end.shorten_to(Instant::now() + after.get_ref().as_duration());
            bar.set_message(format!(
                "workload: every fault event done; {} more (after_faults)",
                after.get_ref()
            ));
        }
    };
    let (client_run, ()) = tokio::join!(workload, faults);
    if let Some(outcome) = &client_run {
        say(progress, outcome.summary());
        judge_client(&*backend, recorder, outcome).await?;
    }
    let workload_end = recorder.now();
    clock.lap("workload");
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
    let mut whole = Vec::new();
    for (kind, _, _) in declared(scenario) {
        let names = cluster.names(kind);
        let system = serde_json::json!({ "system": kind.name() });
        match systems::ready_unless_exit(kind, &names, backend, cluster, RECOVERY_TIMEOUT).await {
            Ok(line) => {
                let mut value = system;
                value["detail"] = serde_json::json!(line);
                recorder.record("runner", F::Healed, OpKind::Ok, value, None);
                whole.push(line);
            }
            Err(e) => {
                recorder.record(
                    "runner",
                    F::Healed,
                    OpKind::Fail,
                    system,
                    Some(format!("{e:#}")),
                );
                whole.push(format!("{kind} did not recover: {e:#}"));
            }
        }
    }
    done(progress, bar, format!("after heal: {}", whole.join("; ")));
    clock.lap("heal");

    let bar = phase(progress, "final read".into());
    match clients {
        Clients::Zk(target) => zk_register::final_read(&target, recorder, FINAL_READ_TIMEOUT).await,
        Clients::ZkCas(target) => {
            let keys = zk_cas::keys(&scenario.workload);
            zk_cas::final_read(&target, &keys, recorder, FINAL_READ_TIMEOUT).await
        }
        Clients::Pulsar(_, consumers) => {
            let received = consumers.drain(DRAIN_IDLE, DRAIN_DEADLINE).await;
            say(
                progress,
                format!("drained: {received} messages received in all"),
            );
        }
        Clients::Container(client) => {
            start_client(backend, &client.spec(Phase::FinalRead, FINAL_READ_TIMEOUT)).await?;
            let end = Deadline::after(FINAL_READ_TIMEOUT);
            let outcome = container::follow(&*backend, Phase::FinalRead, recorder, &end).await;
            say(progress, outcome.summary());
            judge_client(&*backend, recorder, &outcome).await?;
        }
        Clients::UdpSpans(agents, reader) => {
            for problem in agents.close().await {
                say(progress, format!("closing a UDP agent: {problem}"));
            }
            drain_traces(scenario, reader, progress).await;
        }
        Clients::Traces(_, reader) | Clients::Requests(_, reader) => {
            drain_traces(scenario, reader, progress).await;
        }
    }
    background.shutdown().await;
    done(progress, bar, "final read done".into());
    clock.lap("final-read");

    marks.workload_end = Some(workload_end);
    Ok(())
}

/// The trace reader's drain after heal, and what it found.
async fn drain_traces(scenario: &Scenario, reader: traces::Reader, progress: &MultiProgress) {
    let drained = reader
        .drain(TRACE_DRAIN_DEADLINE, traces_late_after(scenario))
        .await;
    let displaced = if drained.displaced > 0 {
        format!(
            "; {} of the missing found filed outside the run's time window",
            drained.displaced
        )
    } else {
        String::new()
    };
    say(
        progress,
        format!(
            "drained: {} of {} emitted traces found through the query API, {} missing after {:.1}s{displaced}",
            drained.found,
            drained.emitted,
            drained.missing,
            drained.elapsed.as_secs_f64()
        ),
    );
}

/// Creates and starts a container workload's client for one phase.
async fn start_client(
    backend: &mut impl Backend,
    spec: &crate::backend::ContainerSpec,
) -> anyhow::Result<()> {
    backend
        .create(spec)
        .await
        .with_context(|| format!("creating the workload's client container {}", spec.node))?;
    backend
        .start(&spec.node)
        .await
        .with_context(|| format!("starting the workload's client container {}", spec.node))
}

/// Records what a client run did; one that failed ends the run like a node that exited:
/// diagnosed, its last lines quoted.
async fn judge_client(
    backend: &impl Backend,
    recorder: &Recorder,
    outcome: &container::Outcome,
) -> anyhow::Result<()> {
    // What the client printed besides operations stays in the history for the report.
    recorder.record(
        "runner",
        F::Custom,
        OpKind::Info,
        serde_json::json!({"f": "client-run", "value": {
            "phase": outcome.phase.name(),
            "operations": outcome.operations,
            "malformed": outcome.malformed,
            "exit_code": outcome.exit_code,
            "stopped": outcome.stopped,
            "seconds": outcome.ran.as_secs_f64(),
        }}),
        None,
    );
    let Some(failure) = outcome.failure() else {
        return Ok(());
    };
    let log = backend.logs(outcome.phase.node()).await.unwrap_or_default();
    let diagnosis =
        crate::diagnose::client_failed(outcome.phase.node(), &failure, outcome.oom_killed, &log);
    super::diagnosis::record(recorder, &diagnosis);
    anyhow::bail!(
        "{failure}; its last lines: {}",
        diagnosis.evidence.join(" | ")
    )
}

/// Where the trace workload reports and asks: the load balancer when the topology has one,
/// else the first OAP node for reports and every OAP node in turn for queries.
fn trace_target(cluster: &Cluster) -> traces::Target {
    use crate::system::skywalking;
    let lbs = cluster.of(crate::system::nginx::KIND);
    let oaps = cluster.of(crate::system::skywalking::KIND);
    let (collector, query) = match lbs.first() {
        Some((name, address)) => (*address, vec![(name.clone(), *address)]),
        None => (
            oaps.first()
                .map_or(std::net::Ipv4Addr::LOCALHOST, |(_, a)| *a),
            oaps.clone(),
        ),
    };
    traces::Target {
        collector: format!("http://{collector}:{}", skywalking::GRPC_PORT),
        query,
        service: skywalking::SERVICE.to_string(),
    }
}

/// Where the Pinpoint requesters send (the traced applications) and the reader asks (every web
/// in turn).
fn request_target(cluster: &Cluster) -> traces::RequestTarget {
    traces::RequestTarget {
        apps: cluster.of(crate::system::pinpoint::app::KIND),
        webs: cluster.of(crate::system::pinpoint::web::KIND),
        application: crate::system::pinpoint::app::APPLICATION.to_string(),
    }
}

/// Where chaosbed's UDP agents register and send (every collector, in turn) and the reader
/// asks (every web in turn).
fn udp_target(cluster: &Cluster) -> traces::UdpTarget {
    traces::UdpTarget {
        collectors: cluster.of(crate::system::pinpoint::collector::KIND),
        webs: cluster.of(crate::system::pinpoint::web::KIND),
        application: crate::system::pinpoint::udp::APPLICATION.to_string(),
    }
}

/// What the checkers know besides the history.
pub fn check_context(scenario: &Scenario, cluster: &Cluster, workload_end: u64) -> CheckContext {
    CheckContext {
        // The quorum checker judges the ZooKeeper ensemble, whatever the workload drives.
        nodes: if scenario.topology.has(zookeeper::KIND) {
            cluster.names(zookeeper::KIND)
        } else {
            cluster.names(scenario.workload.system())
        },
        tick_time_ms: scenario
            .topology
            .spec(zookeeper::KIND)
            .map(zookeeper::tick_time_ms),
        workload_end,
        ordered_delivery: scenario.workload.subscription.keeps_order(),
        bookies: cluster.names(crate::system::bookkeeper::KIND),
        brokers: cluster.names(crate::system::pulsar::KIND),
        systems: declared(scenario)
            .iter()
            .map(|(kind, _, _)| kind.name().to_string())
            .collect(),
        read_back: scenario.workload.read_back,
    }
}

/// Runs every check of the scenario on the history.
pub fn run_checks(
    scenario: &Scenario,
    recorder: &Recorder,
    ctx: &CheckContext,
) -> Vec<CheckResult> {
    let history = recorder.snapshot();
    let mut results: Vec<CheckResult> = scenario
        .checks
        .iter()
        .map(|check| checker::judge(check.get_ref(), &history, ctx))
        .collect();
    if !scenario.faults.is_empty() {
        results.push(checker::faults_applied::check(&history));
    }
    results
}

/// What upgrade steps need: every node's container as created, the images built for the steps'
/// versions, the version each node runs, and the systems' rejoin probe (a broker's asks about
/// the workload's topic, its first partition when partitioned).
fn upgrades(scenario: &Scenario, cluster: &Cluster) -> nemesis::Upgrades {
    let nodes = cluster.nodes.clone();
    let topic = scenario
        .workload
        .topic
        .clone()
        .unwrap_or_else(|| pulsar_workload::DEFAULT_TOPIC.to_string());
    let topic = if scenario.workload.partitions > 0 {
        format!("{topic}-partition-0")
    } else {
        topic
    };
    let probe: nemesis::RejoinProbe = std::sync::Arc::new(move |system, node, since_ms| {
        let of_system: Vec<(String, std::net::Ipv4Addr)> = nodes
            .iter()
            .filter(|n| n.system == system)
            .map(|n| (n.name.clone(), n.address))
            .collect();
        let topic = topic.clone();
        let run = nodes.clone();
        Box::pin(async move {
            let rejoining = crate::system::protocol::Rejoining {
                nodes: &of_system,
                node: &node,
                run: &run,
                topic: Some(&topic),
                since_ms,
            };
            crate::system::rejoin(system, rejoining).await
        })
    });
    nemesis::Upgrades {
        specs: cluster.specs.clone(),
        images: cluster.upgrade_images.clone(),
        versions: cluster.versions(scenario),
        probe,
        init_jobs: cluster
            .init_jobs
            .iter()
            .filter(|(system, _)| system.init_on_upgrade())
            .map(|(system, job)| (*system, job.clone()))
            .collect(),
    }
}

/// What a fault's target needs to know about the cluster right before it fires.
async fn observe(
    cluster: &Cluster,
    clients: &Clients,
    backend: &impl Backend,
    event: &nemesis::Event,
) -> Observed {
    use crate::scenario::Target;
    use crate::system::{pinpoint, pulsar};
    let mut observed = Observed::default();
    // An upgrade step orders its nodes by role (followers first, the leader last).
    let roles_matter = event.kind == crate::scenario::FaultKind::Upgrade
        && event.system == crate::system::zookeeper::KIND;
    let topic = match clients {
        Clients::Pulsar(target, _) => Some(target.topic.as_str()),
        Clients::Container(client) => client.topic.as_deref(),
        _ => None,
    };
    match (&event.target, clients) {
        (Target::Leader | Target::Follower | Target::Followers, _) => {
            observed.roles = zookeeper::roles(
                &cluster.of(crate::system::zookeeper::KIND),
                Duration::from_secs(1),
            )
            .await;
        }
        _ if roles_matter => {
            observed.roles = zookeeper::roles(
                &cluster.of(crate::system::zookeeper::KIND),
                Duration::from_secs(1),
            )
            .await;
        }
        (Target::Owner, _) if topic.is_some() => {
            let topic = topic.unwrap_or_default();
            match pulsar::topic_owner(&cluster.of(crate::system::pulsar::KIND), topic).await {
                Ok(owner) => observed.owner = Some(owner),
                Err(e) => observed.problems.push(format!("owner lookup: {e:#}")),
            }
        }
        (Target::Ensemble, _) if topic.is_some() => {
            let topic = topic.unwrap_or_default();
            let brokers = cluster.of(crate::system::pulsar::KIND);
            let bookies = cluster.of(crate::system::bookkeeper::KIND);
            match pulsar::ensemble_nodes(&brokers, &bookies, topic).await {
                Ok(ensemble) => observed.ensemble = ensemble,
                Err(e) => observed.problems.push(format!("ensemble lookup: {e:#}")),
            }
        }
        (Target::AgentCollector, Clients::Requests(target, _)) => {
            let collectors = cluster.of(crate::system::pinpoint::collector::KIND);
            for (app, _) in &target.apps {
                match pinpoint::app::span_collector(backend, app, &collectors).await {
                    Ok(collector) => {
                        observed.agent_collector = Some(collector);
                        break;
                    }
                    Err(e) => observed.problems.push(format!("{e:#}")),
                }
            }
        }
        (Target::AgentCollector, Clients::UdpSpans(agents, _)) => {
            observed.agent_collector = agents.first_collector().map(str::to_string);
        }
        (Target::AgentCollector, _) => observed.problems.push(
            "the agent-collector target needs the pinpoint-requests or pinpoint-udp-spans workload"
                .into(),
        ),
        (Target::Owner | Target::Ensemble, _) => observed.problems.push(
            "owner and ensemble targets need a Pulsar topic: the pulsar-produce-consume \
             workload's, or a container workload's `topic`"
                .into(),
        ),
        _ => {}
    }
    observed
}

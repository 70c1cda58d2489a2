//! The Pulsar stack in Docker, per Pulsar release: 3 ZooKeepers, the BookKeeper and Pulsar
//! metadata jobs (each run twice: the second run must change nothing), 3 bookies, 3 brokers,
//! all ready; then a real produce and consume from the host through the brokers' advertised
//! addresses, the topic's owner and ensemble, a bookie killed and back, and the memory the 9
//! JVMs use.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use bollard::Docker;
use futures_util::{FutureExt as _, StreamExt as _};
use libtest_mimic::Trial;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, ContainerSpec, RunId};
use chaosbed::system::{self, bookkeeper, pulsar};

use super::stack::{
    hidden, print_logs, print_memory, spec as stack_spec, start_ensemble, start_nodes, tail,
};
use super::support::{block_on, docker, finish};

/// (Pulsar release, the BookKeeper it bundles), as the catalogue names them.
const RELEASES: [(&str, &str); 2] = [("3.0", "4.16"), ("4.0", "4.17")];
const NODES: u32 = 3;
const MESSAGES: usize = 20;
const TOPIC: &str = "persistent://public/default/chaosbed-stack";

pub fn trials() -> Vec<Trial> {
    RELEASES
        .iter()
        .map(|&(pulsar, bookkeeper)| {
            Trial::test(
                format!("pulsar_stack::produce_consume::pulsar_{pulsar}"),
                move || block_on(stack(pulsar, bookkeeper)),
            )
        })
        .collect()
}

async fn stack(pulsar_version: &str, bookkeeper_version: &str) -> anyhow::Result<()> {
    let docker = docker().await?;
    let progress = hidden();
    let built = Instant::now();
    let images = Images {
        zookeeper: chaosbed::image::ensure(&docker, "zookeeper", "3.9", &progress).await?,
        bookkeeper: chaosbed::image::ensure(&docker, "bookkeeper", bookkeeper_version, &progress)
            .await?,
        pulsar: chaosbed::image::ensure(&docker, "pulsar", pulsar_version, &progress).await?,
    };
    println!(
        "images ready in {:.1?}: {}, {}, {}",
        built.elapsed(),
        images.zookeeper,
        images.bookkeeper,
        images.pulsar
    );
    let run = RunId::new(&format!("pulsar-stack-{pulsar_version}"));
    let mut backend = DockerBackend::new(docker.clone(), run);
    // Whatever happens in the body (error or panic), the run's containers go.
    let outcome = std::panic::AssertUnwindSafe(exercise(&mut backend, &docker, &images))
        .catch_unwind()
        .await;
    finish(&docker, &backend, outcome, "the Pulsar stack").await
}

struct Images {
    zookeeper: String,
    bookkeeper: String,
    pulsar: String,
}

async fn exercise(
    backend: &mut DockerBackend,
    docker: &Docker,
    images: &Images,
) -> anyhow::Result<()> {
    let spec = stack_spec(NODES)?;
    let begin = Instant::now();
    backend.create_network().await?;

    // ZooKeeper.
    let (zk, zk_connect) = start_ensemble(backend, &images.zookeeper).await?;
    println!("zookeeper quorum after {:.1?}", begin.elapsed());

    // BookKeeper metadata, then the bookies.
    run_job(
        backend,
        &bookkeeper::init_spec(&images.bookkeeper, &zk_connect),
        "BookKeeper init",
    )
    .await?;
    let again = run_job(
        backend,
        &bookkeeper::init_spec(&images.bookkeeper, &zk_connect),
        "BookKeeper init (again)",
    )
    .await?;
    ensure!(
        again.contains("already initialised"),
        "the second BookKeeper init should have found the cluster; it said:\n{}",
        tail(&again, 20)
    );
    let bookies = start_nodes(
        backend,
        chaosbed::system::bookkeeper::KIND,
        NODES,
        |index, address| {
            bookkeeper::container_spec(
                &spec,
                &images.bookkeeper,
                index,
                NODES,
                &zk_connect,
                address,
            )
        },
    )
    .await?;

    // Pulsar metadata while the bookies boot, then the brokers.
    let broker_names = system::node_names(chaosbed::system::pulsar::KIND, NODES);
    let mut broker_addresses = Vec::new();
    for name in &broker_names {
        broker_addresses.push(backend.address_for(name)?);
    }
    let init = pulsar::init_metadata_spec(
        &images.pulsar,
        pulsar::DEFAULT_CLUSTER,
        &zk_connect,
        &pulsar::service_url(&broker_addresses),
        &pulsar::web_service_url(&broker_addresses),
    );
    run_job(backend, &init, "Pulsar cluster metadata").await?;
    run_job(backend, &init, "Pulsar cluster metadata (again)").await?;

    let bookie_ready = match bookkeeper::wait_ready(&bookies, Duration::from_secs(180)).await {
        Ok(ready) => ready,
        Err(e) => {
            print_logs(backend, &bookies).await;
            return Err(e);
        }
    };
    let registration = bookkeeper::registration(
        &bookies.iter().map(|(_, a)| *a).collect::<Vec<_>>(),
        &bookie_ready.registered,
    );
    ensure!(
        registration.is_complete(),
        "bookie registration: {registration}"
    );
    println!(
        "bookies ready after {:.1?} ({registration})",
        begin.elapsed()
    );

    let brokers = start_nodes(
        backend,
        chaosbed::system::pulsar::KIND,
        NODES,
        |index, address| {
            pulsar::container_spec(
                &spec,
                &images.pulsar,
                index,
                NODES,
                &zk_connect,
                address,
                pulsar::DEFAULT_CLUSTER,
            )
        },
    )
    .await?;
    ensure!(
        brokers.iter().map(|(_, a)| *a).collect::<Vec<_>>() == broker_addresses,
        "brokers did not get the addresses handed out before they were created"
    );
    if let Err(e) = pulsar::wait_ready(&brokers, Duration::from_secs(240)).await {
        print_logs(backend, &brokers).await;
        return Err(e);
    }
    let ready = begin.elapsed();
    println!("cluster ready (3 ZooKeepers, 3 bookies, 3 brokers healthy) after {ready:.1?}");

    produce_and_consume(&brokers).await?;
    let owner = pulsar::topic_owner(&brokers, TOPIC).await?;
    let ensemble = pulsar::ensemble_nodes(&brokers, &bookies, TOPIC).await?;
    println!("{TOPIC}: owned by {owner}, current ledger on {ensemble:?}");
    ensure!(
        ensemble.len() == 3,
        "the default ensemble is 3 bookies, got {ensemble:?}"
    );

    kill_and_restart_a_bookie(backend, &bookies).await?;

    let all: Vec<String> = zk
        .iter()
        .chain(&bookies)
        .chain(&brokers)
        .map(|(n, _)| n.clone())
        .collect();
    print_memory(docker, backend.run_id(), &all).await?;
    Ok(())
}

/// SIGKILL reaches the bookie's JVM (PID 1), and the bookie comes back on its volume under the
/// same id.
async fn kill_and_restart_a_bookie(
    backend: &DockerBackend,
    bookies: &[(String, Ipv4Addr)],
) -> anyhow::Result<()> {
    let (name, address) = &bookies[0];
    let (witness_name, witness) = &bookies[1];
    backend.kill(name).await?;
    let state = backend.state(name).await?;
    ensure!(
        !state.status.is_up(),
        "{name} still runs after SIGKILL: is java PID 1? ({state:?})"
    );
    // Started while its killed self's registration still exists, a bookie waits for it to
    // expire and came back in about zkTimeout (30 s) here; twice in one CI run it stayed
    // "answers but is not ready" for 120 s instead, cause not found yet. This test is about the
    // kill and the return under the same id, so it starts the bookie once the old registration
    // is gone, as an operator who waits would; the restart at once is the scenario
    // pulsar-bookie-quick-restart's to judge.
    let id = bookkeeper::bookie_id(*address);
    let killed = Instant::now();
    loop {
        match bookkeeper::list_bookies(*witness, Duration::from_secs(3)).await {
            Ok(registered) if !registered.all().any(|b| *b == id) => break,
            answer if killed.elapsed() > Duration::from_secs(90) => anyhow::bail!(
                "{name}'s registration ({id}) was still listed by {witness_name} 90 s after the \
                 kill: {answer:?}"
            ),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    println!(
        "{name}'s registration expired {:.1?} after the kill",
        killed.elapsed()
    );
    let started = Instant::now();
    backend.start(name).await?;
    let ready = match bookkeeper::wait_ready(bookies, Duration::from_secs(120)).await {
        Ok(ready) => ready,
        Err(e) => {
            print_logs(backend, bookies).await;
            print_bookie_lifecycle(backend, name).await;
            return Err(e);
        }
    };
    println!(
        "{name} killed and back (same id, registered writable) in {:.1?}; registered: {:?}",
        started.elapsed(),
        ready.registered.writable
    );
    Ok(())
}

/// The killed bookie's own start-up and registration lines, both runs of its container: the
/// last lines of its log are its autorecovery's complaints about itself, which hide why it did
/// not come back (seen in CI: "answers but is not ready" for 120 s, twice in one run).
async fn print_bookie_lifecycle(backend: &DockerBackend, name: &str) {
    const NOISE: &[&str] = &[
        "ReplicationWorker",
        "Auditor",
        "RackawareEnsemblePlacementPolicyImpl",
        "DefaultBookieAddressResolver",
        "PerChannelBookieClient",
        "LedgerChecker",
        "ZkLedgerUnderreplicationManager",
        "BKNotEnoughBookiesException",
        "BKBookieHandleNotAvailableException",
    ];
    let logs = backend
        .logs(name)
        .await
        .unwrap_or_else(|e| format!("(no logs: {e:#})"));
    let own: Vec<&str> = logs
        .lines()
        .filter(|line| {
            let text = line.trim_start();
            !NOISE.iter().any(|noise| line.contains(noise))
                && !text.contains("\tat ")
                && !text.starts_with("at ")
                && !text.contains("... ")
        })
        .collect();
    let start = own.len().saturating_sub(120);
    eprintln!(
        "--- {name}'s own lines (autorecovery and stack frames left out), the last {}:\n{}",
        own.len() - start,
        own[start..].join("\n")
    );
}

/// Runs a one-shot job; its output when it exits 0, else an error with its last lines.
async fn run_job(
    backend: &mut DockerBackend,
    spec: &ContainerSpec,
    what: &str,
) -> anyhow::Result<String> {
    let started = Instant::now();
    let output = backend
        .run_once(spec, Duration::from_secs(180))
        .await
        .with_context(|| format!("running the {what} job ({})", spec.node))?;
    ensure!(
        output.exit_code == 0,
        "the {what} job ({}) exited {}:\n{}",
        spec.node,
        output.exit_code,
        tail(&output.stdout, 30)
    );
    println!("{what}: done in {:.1?}", started.elapsed());
    Ok(output.stdout)
}

/// Sends MESSAGES through one broker and reads them back on a fresh subscription, from the
/// host: lookups must hand out addresses the host reaches.
async fn produce_and_consume(brokers: &[(String, Ipv4Addr)]) -> anyhow::Result<()> {
    use ::pulsar::consumer::InitialPosition;
    use ::pulsar::{Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor};

    let url = pulsar::service_url(&[brokers[0].1]);
    let client: Pulsar<TokioExecutor> = tokio::time::timeout(
        Duration::from_secs(30),
        Pulsar::builder(url.as_str(), TokioExecutor).build(),
    )
    .await
    .with_context(|| format!("connecting to {url}: no answer within 30s"))?
    .with_context(|| format!("connecting to {url}"))?;
    let mut consumer: Consumer<Vec<u8>, TokioExecutor> = client
        .consumer()
        .with_topic(TOPIC)
        .with_subscription("chaosbed-stack")
        .with_subscription_type(SubType::Exclusive)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build()
        .await
        .with_context(|| format!("subscribing to {TOPIC} through {url}"))?;
    let mut producer = client
        .producer()
        .with_topic(TOPIC)
        .build()
        .await
        .with_context(|| format!("creating a producer on {TOPIC} through {url}"))?;
    let sent_at = Instant::now();
    let mut sent = Vec::new();
    for i in 0..MESSAGES {
        let payload = format!("chaosbed-stack-{i}");
        let receipt = producer
            .send_non_blocking(payload.clone().into_bytes())
            .await
            .with_context(|| format!("sending message {i}"))?;
        tokio::time::timeout(Duration::from_secs(30), receipt)
            .await
            .with_context(|| format!("message {i}: no receipt within 30s"))?
            .with_context(|| format!("message {i} was not acknowledged"))?;
        sent.push(payload);
    }
    let mut received = Vec::new();
    while received.len() < sent.len() {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .with_context(|| {
                format!(
                    "received {} of {} messages, then nothing for 30s",
                    received.len(),
                    sent.len()
                )
            })?
            .context("the consumer's stream ended")?
            .context("receiving a message")?;
        consumer.ack(&message).await.context("acknowledging")?;
        received.push(String::from_utf8_lossy(&message.payload.data).into_owned());
    }
    ensure!(received == sent, "sent {sent:?}\nreceived {received:?}");
    println!(
        "produced and consumed {MESSAGES} messages on {TOPIC} via {url} in {:.1?}",
        sent_at.elapsed()
    );
    Ok(())
}

//! The SkyWalking stack in Docker: 3 ZooKeepers, PostgreSQL, 3 OAP nodes clustered over
//! ZooKeeper and NGINX in front of them; then traces from the Rust agent through NGINX, each found
//! again through GraphQL, the membership ZooKeeper lists, queries through NGINX with one OAP
//! killed, and the memory the stack uses.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use bollard::Docker;
use futures_util::FutureExt as _;
use libtest_mimic::Trial;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, RunId};
use chaosbed::history::Recorder;
use chaosbed::scenario::WorkloadSpec;
use chaosbed::system::{self, nginx, postgres, skywalking, zookeeper};
use chaosbed::workload::traces;

use super::stack::{
    default_image, hidden, or_logs, print_memory, spec, start_ensemble, start_nodes,
};
use super::support::{block_on, docker, finish};
use chaosbed::workload::Deadline;

const OAPS: u32 = 3;

pub fn trials() -> Vec<Trial> {
    vec![Trial::test(
        "skywalking_stack::traces_through_the_load_balancer",
        || block_on(stack()),
    )]
}

struct Images {
    zookeeper: String,
    postgres: String,
    skywalking: String,
    nginx: String,
}

async fn stack() -> anyhow::Result<()> {
    let docker = docker().await?;
    let progress = hidden();
    let built = Instant::now();
    let images = Images {
        zookeeper: chaosbed::image::ensure(&docker, "zookeeper", "3.9", &progress).await?,
        postgres: default_image(&docker, chaosbed::system::postgres::KIND, &progress).await?,
        skywalking: default_image(&docker, chaosbed::system::skywalking::KIND, &progress).await?,
        nginx: default_image(&docker, chaosbed::system::nginx::KIND, &progress).await?,
    };
    println!("images ready in {:.1?}", built.elapsed());
    let run = RunId::new("skywalking-stack");
    let mut backend = DockerBackend::new(docker.clone(), run);
    let outcome = std::panic::AssertUnwindSafe(exercise(&mut backend, &docker, &images))
        .catch_unwind()
        .await;
    finish(&docker, &backend, outcome, "the SkyWalking stack").await
}

async fn exercise(
    backend: &mut DockerBackend,
    docker: &Docker,
    images: &Images,
) -> anyhow::Result<()> {
    let begin = Instant::now();
    backend.create_network().await?;
    let wiring = system::Wiring::of([
        (zookeeper::KIND, 3),
        (postgres::KIND, 1),
        (skywalking::KIND, OAPS),
    ]);

    let (zk, zk_connect) = start_ensemble(backend, &images.zookeeper).await?;

    let pg_spec = spec(1)?;
    let pg = start_nodes(backend, chaosbed::system::postgres::KIND, 1, |index, _| {
        postgres::container_spec(&pg_spec, &images.postgres, index)
    })
    .await?;
    or_logs(
        backend,
        &pg,
        postgres::wait_ready(&pg, Duration::from_secs(90)),
    )
    .await?;
    println!("zookeeper and postgres ready after {:.1?}", begin.elapsed());

    let oap_spec = spec(OAPS)?;
    let job = skywalking::init_spec(&oap_spec, &images.skywalking, &wiring);
    let out = backend.run_once(&job, Duration::from_secs(240)).await?;
    ensure!(
        out.exit_code == 0,
        "the OAP schema job exited with {}:\n{}",
        out.exit_code,
        super::stack::tail(&out.stdout, 30)
    );
    println!("OAP schema created after {:.1?}", begin.elapsed());
    let oaps = start_nodes(
        backend,
        chaosbed::system::skywalking::KIND,
        OAPS,
        |index, _| skywalking::container_spec(&oap_spec, &images.skywalking, index, &wiring),
    )
    .await?;
    let ready = or_logs(
        backend,
        &oaps,
        skywalking::wait_ready(&oaps, &zk_connect, Duration::from_secs(300)),
    )
    .await?;
    let members: Vec<String> = ready.members.iter().map(|m| m.to_string()).collect();
    ensure!(
        members == ["oap-1:11800", "oap-2:11800", "oap-3:11800"],
        "every OAP should register under its own name; ZooKeeper lists {members:?}"
    );
    println!(
        "OAP cluster ready after {:.1?}, members {members:?}",
        begin.elapsed()
    );

    let lb_spec = spec(1)?;
    let lbs = start_nodes(backend, chaosbed::system::nginx::KIND, 1, |index, _| {
        nginx::container_spec(
            &lb_spec,
            &images.nginx,
            index,
            wiring.names(skywalking::KIND),
        )
    })
    .await?;
    or_logs(
        backend,
        &lbs,
        nginx::wait_ready(&lbs, Duration::from_secs(60)),
    )
    .await?;
    println!("stack ready after {:.1?}", begin.elapsed());

    let (lb_name, lb) = lbs[0].clone();
    traces_arrive(&lb_name, lb).await?;
    queries_survive_a_killed_oap(backend, &oaps, &lb_name, lb).await?;

    let all: Vec<String> = zk
        .iter()
        .chain(&pg)
        .chain(&oaps)
        .chain(&lbs)
        .map(|(n, _)| n.clone())
        .collect();
    print_memory(docker, backend.run_id(), &all).await?;
    Ok(())
}

/// Traces emitted through NGINX by the real agent are all found again through GraphQL.
async fn traces_arrive(lb_name: &str, lb: Ipv4Addr) -> anyhow::Result<()> {
    let workload: WorkloadSpec =
        toml::from_str("kind = \"skywalking-traces\"\nclients = 2\nrate = 10\nduration = \"3s\"\n")
            .context("a trace workload table")?;
    let target = traces::Target {
        collector: format!("http://{lb}:{}", skywalking::GRPC_PORT),
        query: vec![(lb_name.to_string(), lb)],
        service: skywalking::SERVICE.to_string(),
    };
    let recorder = Recorder::new();
    let reader = traces::start_reader(&target, &recorder);
    let sent = traces::emit(
        &workload,
        &target,
        &recorder,
        &Deadline::for_workload(&workload),
    )
    .await;
    let drained = reader
        .drain(Duration::from_secs(90), Duration::from_secs(30))
        .await;
    println!("emitted {sent:?}; {drained:?}");
    ensure!(
        sent.emitted >= 20,
        "expected about 30 traces, emitted {sent:?}"
    );
    ensure!(
        sent.taken == sent.emitted,
        "the agent's reporter did not take every trace: {sent:?}"
    );
    ensure!(
        drained.found == sent.emitted && drained.missing == 0,
        "every emitted trace should be found through {lb_name}: {drained:?}"
    );
    Ok(())
}

/// With one OAP killed, NGINX keeps answering queries from the others.
async fn queries_survive_a_killed_oap(
    backend: &DockerBackend,
    oaps: &[(String, Ipv4Addr)],
    lb_name: &str,
    lb: Ipv4Addr,
) -> anyhow::Result<()> {
    let (victim, _) = &oaps[1];
    backend.kill(victim).await?;
    let state = backend.state(victim).await?;
    ensure!(
        !state.status.is_up(),
        "{victim} still runs after SIGKILL: is java PID 1? ({state:?})"
    );
    for attempt in 1..=5 {
        skywalking::graphql::ready(lb_name, lb, Duration::from_secs(5))
            .await
            .with_context(|| format!("query {attempt} through {lb_name} with {victim} killed"))?;
    }
    println!("5 queries through {lb_name} answered with {victim} killed");
    Ok(())
}

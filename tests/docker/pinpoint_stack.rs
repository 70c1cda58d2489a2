//! The Pinpoint stack in Docker: 3 ZooKeepers, HBase (Pinpoint's schema created at start), one
//! collector, one web and one traced application, each ready by its own probe; then requests to
//! the application, until the web lists the application the agent registered. One node of each
//! role is enough to prove the images' env contracts and how the roles find each other (ZooKeeper
//! by node name, the agent's collector by node name); a cluster of each is the runner's business.
//! Prints how long each role took to become ready and the memory the stack uses.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use bollard::Docker;
use futures_util::FutureExt as _;
use libtest_mimic::Trial;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, RunId};
use chaosbed::system::pinpoint::{app, collector, web};
use chaosbed::system::{self, hbase, zookeeper};

use super::stack::{
    default_image, hidden, or_logs, print_logs, print_memory, spec, start_ensemble, start_nodes,
};
use super::support::{block_on, docker, finish};

pub fn trials() -> Vec<Trial> {
    vec![Trial::test(
        "pinpoint_stack::an_application_appears_in_the_web",
        || block_on(stack()),
    )]
}

struct Images {
    zookeeper: String,
    hbase: String,
    collector: String,
    web: String,
    app: String,
}

async fn stack() -> anyhow::Result<()> {
    let docker = docker().await?;
    let progress = hidden();
    let built = Instant::now();
    let images = Images {
        zookeeper: chaosbed::image::ensure(&docker, "zookeeper", "3.9", &progress).await?,
        hbase: default_image(&docker, chaosbed::system::hbase::KIND, &progress).await?,
        collector: default_image(
            &docker,
            chaosbed::system::pinpoint::collector::KIND,
            &progress,
        )
        .await?,
        web: default_image(&docker, chaosbed::system::pinpoint::web::KIND, &progress).await?,
        app: default_image(&docker, chaosbed::system::pinpoint::app::KIND, &progress).await?,
    };
    println!("images ready in {:.1?}", built.elapsed());
    let run = RunId::new("pinpoint-stack");
    let mut backend = DockerBackend::new(docker.clone(), run);
    let outcome = std::panic::AssertUnwindSafe(exercise(&mut backend, &docker, &images))
        .catch_unwind()
        .await;
    finish(&docker, &backend, outcome, "the Pinpoint stack").await
}

async fn exercise(
    backend: &mut DockerBackend,
    docker: &Docker,
    images: &Images,
) -> anyhow::Result<()> {
    let begin = Instant::now();
    backend.create_network().await?;
    let wiring = system::Wiring::of([(zookeeper::KIND, 3)]);

    let (zk, zk_connect) = start_ensemble(backend, &images.zookeeper).await?;

    let one = spec(1)?;
    let hbases = start_nodes(backend, chaosbed::system::hbase::KIND, 1, |index, _| {
        hbase::container_spec(&one, &images.hbase, index, &wiring)
    })
    .await?;
    let elapsed = or_logs(
        backend,
        &hbases,
        hbase::wait_ready(&hbases, Duration::from_secs(240)),
    )
    .await?;
    let schema = hbase::schema(hbases[0].1).await?;
    println!("hbase ready in {elapsed:.1?} ({schema:?})");

    // Collector and web only need ZooKeeper and HBase: start them together.
    let collectors = start_nodes(
        backend,
        chaosbed::system::pinpoint::collector::KIND,
        1,
        |index, _| collector::container_spec(&one, &images.collector, index, &wiring),
    )
    .await?;
    let webs = start_nodes(
        backend,
        chaosbed::system::pinpoint::web::KIND,
        1,
        |index, _| web::container_spec(&one, &images.web, index, &wiring),
    )
    .await?;
    let elapsed = or_logs(
        backend,
        &collectors,
        collector::wait_ready(&collectors, &zk_connect, Duration::from_secs(180)),
    )
    .await?;
    println!("pinpoint-collector ready in {elapsed:.1?}");
    let elapsed = or_logs(
        backend,
        &webs,
        web::wait_ready(&webs, &zk_connect, Duration::from_secs(180)),
    )
    .await?;
    println!("pinpoint-web ready in {elapsed:.1?} (counted from the collector's readiness)");

    let apps = start_nodes(
        backend,
        chaosbed::system::pinpoint::app::KIND,
        1,
        |index, _| app::container_spec(&one, &images.app, index),
    )
    .await?;
    let elapsed = or_logs(
        backend,
        &apps,
        app::wait_ready(&apps, Duration::from_secs(120)),
    )
    .await?;
    println!("pinpoint-agent-app ready in {elapsed:.1?}");
    println!("stack ready after {:.1?}", begin.elapsed());

    let (app_name, app_address) = apps[0].clone();
    for i in 1..=5 {
        let id = format!("pinpoint-stack-{}-{i}", std::process::id());
        let answer = app::hello(app_address, &id, Duration::from_secs(10))
            .await
            .with_context(|| format!("request {i} to {app_name}"))?;
        ensure!(
            answer.is_success() && answer.body.contains(&id),
            "{app_name} answered {answer:?} to /hello/{id}"
        );
    }
    println!("5 traced requests answered by {app_name}");

    let (web_name, web_address) = webs[0].clone();
    let waited = Instant::now();
    let deadline = Duration::from_secs(120);
    loop {
        let listed = web::applications(web_address, Duration::from_secs(10)).await;
        match &listed {
            Ok(apps) if apps.iter().any(|a| a.application_name == app::APPLICATION) => {
                println!("{web_name} lists {:?} after {:.1?}", apps, waited.elapsed());
                break;
            }
            _ if waited.elapsed() >= deadline => {
                let all: Vec<(String, Ipv4Addr)> = collectors
                    .iter()
                    .chain(&webs)
                    .chain(&apps)
                    .cloned()
                    .collect();
                print_logs(backend, &all).await;
                anyhow::bail!(
                    "{web_name} did not list {} within {deadline:?}; last answer: {listed:?}",
                    app::APPLICATION
                );
            }
            _ => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }

    let all: Vec<String> = zk
        .iter()
        .chain(&hbases)
        .chain(&collectors)
        .chain(&webs)
        .chain(&apps)
        .map(|(n, _)| n.clone())
        .collect();
    print_memory(docker, backend.run_id(), &all).await?;
    Ok(())
}

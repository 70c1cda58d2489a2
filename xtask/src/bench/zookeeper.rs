//! `cargo xtask bench zookeeper`: time to a 3-node ZooKeeper quorum through chaosbed and
//! through a plain baseline (docker CLI plus a polling shell loop) in the same run, and the time
//! from a leader kill to chaosbed observing the new leader.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bollard::Docker;
use indicatif::MultiProgress;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, RunId};
use chaosbed::scenario::SystemSpec;
use chaosbed::system::{node_names, zookeeper};

#[derive(clap::Args, Clone)]
#[group(id = "zookeeper-bench")]
pub struct Args {
    /// Rounds of each measurement (medians are printed).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// zookeeper.cnxTimeout for both sides, in milliseconds (ZooKeeper's default is 5000).
    #[arg(long, default_value_t = 500)]
    cnx_timeout_ms: u64,
    /// ZooKeeper version to measure.
    #[arg(long, default_value = "3.8")]
    version: String,
}

const NODES: u32 = 3;
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let docker = chaosbed::provision::engine().await?;
    let image =
        chaosbed::image::ensure(&docker, "zookeeper", &args.version, &MultiProgress::new()).await?;
    // A short connect timeout between peers takes ZooKeeper's own election back-off (a peer
    // that is not up yet costs up to zookeeper.cnxTimeout = 5 s per attempt) out of the
    // comparison, so the ratio measures the harness. Both sides run the same configuration.
    let spec: SystemSpec = toml::from_str(&format!(
        "nodes = 3\nheap = \"-Xmx256m -Dzookeeper.cnxTimeout={}\"",
        args.cnx_timeout_ms
    ))
    .expect("a literal system spec parses");
    println!("image {image}; {} rounds, alternating order", args.rounds);

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    let mut failover = Vec::new();
    for round in 0..args.rounds {
        let chaosbed_first = round % 2 == 0;
        if !chaosbed_first {
            baseline.push(baseline_round(&image, &spec).await?);
        }
        let (quorum, new_leader) = chaosbed_round(&docker, &image, &spec).await?;
        ours.push(quorum);
        failover.push(new_leader);
        if chaosbed_first {
            baseline.push(baseline_round(&image, &spec).await?);
        }
        println!(
            "round {}: chaosbed {:.2}s, baseline {:.2}s, leader kill -> new leader {:.2}s",
            round + 1,
            quorum.as_secs_f64(),
            baseline[round].as_secs_f64(),
            new_leader.as_secs_f64()
        );
    }
    let (ours, base, fail) = (
        median(&mut ours),
        median(&mut baseline),
        median(&mut failover),
    );
    println!();
    println!("measurement                              chaosbed   baseline   ratio");
    println!(
        "time to 3-node quorum (median)           {:>7.2}s   {:>7.2}s   {:>5.2}x",
        ours.as_secs_f64(),
        base.as_secs_f64(),
        ours.as_secs_f64() / base.as_secs_f64()
    );
    println!(
        "leader kill -> new leader seen (median)  {:>7.2}s",
        fail.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Nothing to quorum through chaosbed's backend and readiness poll; then a leader kill.
async fn chaosbed_round(
    docker: &Docker,
    image: &str,
    spec: &SystemSpec,
) -> anyhow::Result<(Duration, Duration)> {
    let mut backend = DockerBackend::new(docker.clone(), RunId::new("bench"));
    let result = async {
        let begin = Instant::now();
        backend.create_network().await?;
        let mut nodes = Vec::new();
        for (i, name) in node_names(chaosbed::system::zookeeper::KIND, NODES)
            .into_iter()
            .enumerate()
        {
            let address = backend
                .create(&zookeeper::container_spec(spec, image, i as u32 + 1, NODES))
                .await?;
            nodes.push((name, address));
        }
        let started = &backend;
        futures_util::future::try_join_all(nodes.iter().map(|(name, _)| started.start(name)))
            .await?;
        let names: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
        let ready = zookeeper::wait_ready(&nodes, &names, names.len(), READY_TIMEOUT).await?;
        let quorum = begin.elapsed();

        let leader = ready.leader.context("a ready ensemble has a leader")?;
        let killed = Instant::now();
        backend.kill(&leader).await?;
        let others: Vec<_> = nodes
            .iter()
            .filter(|(n, _)| *n != leader)
            .cloned()
            .collect();
        loop {
            let roles = zookeeper::roles(&others, Duration::from_millis(500)).await;
            if roles.values().any(|r| *r == zookeeper::Role::Leader) {
                break;
            }
            if killed.elapsed() > READY_TIMEOUT {
                bail!("no new leader within {READY_TIMEOUT:?} after killing {leader}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok((quorum, killed.elapsed()))
    }
    .await;
    backend.cleanup().await?;
    result
}

/// Nothing to quorum with the docker CLI and a shell loop speaking `srvr` over /dev/tcp.
async fn baseline_round(image: &str, spec: &SystemSpec) -> anyhow::Result<Duration> {
    let net = format!("cb-baseline-{}", std::process::id());
    let mut script = String::from("set -e\n");
    script.push_str(&format!(
        "docker network create --label chaosbed.run=bench-baseline {net} >/dev/null\n"
    ));
    for index in 1..=NODES {
        let c = zookeeper::container_spec(spec, image, index, NODES);
        let env: String = c
            .env
            .iter()
            .map(|(k, v)| format!(" -e '{k}={v}'"))
            .collect();
        script.push_str(&format!(
            "docker create --label chaosbed.run=bench-baseline --name {net}-{n} --hostname {n} --network {net} --network-alias {n}{env} {image} >/dev/null\n",
            n = c.node
        ));
    }
    // Started together, as chaosbed does, so both sides pay the same election cost.
    script.push_str(&format!(
        "docker start {net}-zk-1 {net}-zk-2 {net}-zk-3 >/dev/null\n"
    ));
    script.push_str(&format!(
        r#"ips=$(for n in 1 2 3; do docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}{{{{end}}}}' {net}-zk-$n; done)
while true; do
  modes=""
  for ip in $ips; do
    mode=$(timeout 1 bash -c "exec 3<>/dev/tcp/$ip/2181; echo srvr >&3; cat <&3" 2>/dev/null | sed -n 's/^Mode: //p' || true)
    modes="$modes $mode"
  done
  leaders=$(echo "$modes" | tr ' ' '\n' | grep -c '^leader$' || true)
  followers=$(echo "$modes" | tr ' ' '\n' | grep -c '^follower$' || true)
  if [ "$leaders" = 1 ] && [ "$followers" = 2 ]; then break; fi
  sleep 0.2
done
"#
    ));
    let begin = Instant::now();
    let status = tokio::time::timeout(
        READY_TIMEOUT,
        tokio::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .status(),
    )
    .await;
    let elapsed = begin.elapsed();
    let _ = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("docker rm -f -v {net}-zk-1 {net}-zk-2 {net}-zk-3 >/dev/null 2>&1; docker network rm {net} >/dev/null 2>&1"))
        .status()
        .await;
    match status {
        Ok(Ok(s)) if s.success() => Ok(elapsed),
        Ok(Ok(s)) => bail!("the baseline script failed ({s})"),
        Ok(Err(e)) => Err(e).context("running the baseline script with bash"),
        Err(_) => bail!("the baseline did not reach quorum within {READY_TIMEOUT:?}"),
    }
}

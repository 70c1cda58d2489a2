//! Docker test of the local image pipeline: both ZooKeeper images build, start from the
//! official env contract, run java as PID 1, keep myid on a /data volume, and answer ruok.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use indicatif::MultiProgress;
use libtest_mimic::Trial;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::support::{block_on, docker};

const RUN_LABEL: &str = "chaosbed.run";
const RUN_ID: &str = "test-images";

pub fn trials() -> Vec<Trial> {
    vec![Trial::test(
        "images::zookeeper_images_build_and_answer_ruok",
        || block_on(zookeeper_images_build_and_answer_ruok()),
    )]
}

async fn zookeeper_images_build_and_answer_ruok() -> Result<()> {
    let docker = docker().await?;
    remove_labelled(&docker)
        .await
        .context("removing leftovers of an earlier run")?;
    let outcome = exercise(&docker).await;
    // Clean up before judging, so a failed check leaves nothing behind.
    let cleanup = remove_labelled(&docker)
        .await
        .context("removing the test containers and volumes");
    outcome.and(cleanup)
}

async fn exercise(docker: &Docker) -> Result<()> {
    let progress = MultiProgress::new();
    let mut tags = Vec::new();
    for (version, expect) in [("3.8", "3.8.0"), ("3.9", "3.9.5")] {
        let started = Instant::now();
        let tag = chaosbed::image::ensure(docker, "zookeeper", version, &progress).await?;
        println!(
            "ensure zookeeper {version} -> {tag} in {:.1?}",
            started.elapsed()
        );
        tags.push((tag, expect));
    }
    // The second ensure of an existing image only hashes the context and inspects one tag.
    let started = Instant::now();
    let again = chaosbed::image::ensure(docker, "zookeeper", "3.9", &progress).await?;
    println!(
        "warm ensure zookeeper 3.9 -> {again} in {:.1?}",
        started.elapsed()
    );
    if again != tags[1].0 {
        bail!("a second ensure returned {again}, the first {}", tags[1].0);
    }

    for (index, (tag, expect)) in tags.iter().enumerate() {
        let name = format!("chaosbed-{RUN_ID}-{}-{index}", std::process::id());
        let ip = start_zookeeper(docker, &name, tag).await?;
        let deadline = Duration::from_secs(90);
        let (answer, waited) = four_letter_until(&ip, "ruok", deadline, |a| !a.is_empty())
            .await
            .with_context(|| format!("{tag} never answered ruok on {ip}:2181"))?;
        println!("{tag}: ruok -> {answer:?} after {waited:.1?}");
        if answer != "imok" {
            bail!("{tag}: ruok answered {answer:?}, want \"imok\"");
        }
        // imok only says the process is up; srvr answers once the server serves requests.
        let (srvr, waited) = four_letter_until(&ip, "srvr", deadline, |a| a.contains("Mode:"))
            .await
            .with_context(|| format!("{tag} never served srvr on {ip}:2181"))?;
        println!("{tag}: serving after {waited:.1?}");
        let first = srvr.lines().next().unwrap_or_default();
        if !first.contains(&format!("version: {expect}")) || !srvr.contains("Mode: standalone") {
            bail!("{tag}: srvr should report {expect} standalone, got:\n{srvr}");
        }
        let admin = http_get(&ip, 8080, "/commands/ruok").await?;
        if !admin.starts_with("HTTP/1.1 200") {
            bail!("{tag}: the admin server on 8080 answered:\n{admin}");
        }
        let pid1 = exec_output(docker, &name, &["cat", "/proc/1/comm"]).await?;
        if pid1.trim() != "java" {
            bail!("{tag}: PID 1 is {pid1:?}, want java (the entrypoint must exec it)");
        }
        let myid = exec_output(docker, &name, &["cat", "/data/myid"]).await?;
        if myid.trim() != "1" {
            bail!("{tag}: /data/myid on the volume holds {myid:?}, want 1");
        }
        println!("{tag}: {first}; admin server up; PID 1 is java; /data/myid on the volume is 1");
    }
    Ok(())
}

/// Create and start a standalone ZooKeeper with a labelled volume on /data; returns its IP.
async fn start_zookeeper(docker: &Docker, name: &str, tag: &str) -> Result<String> {
    let labels = HashMap::from([(RUN_LABEL.to_owned(), RUN_ID.to_owned())]);
    let volume = format!("{name}-data");
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating volume {volume}"))?;
    let body = ContainerCreateBody {
        image: Some(tag.to_owned()),
        env: Some(vec![
            "ZOO_MY_ID=1".to_owned(),
            "JVMFLAGS=-Xmx128m".to_owned(),
        ]),
        labels: Some(labels),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{volume}:/data")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        )
        .await
        .with_context(|| format!("creating container {name} from {tag}"))?;
    docker
        .start_container(name, None)
        .await
        .with_context(|| format!("starting container {name}"))?;
    let inspect = docker.inspect_container(name, None).await?;
    inspect
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| n.get("bridge").and_then(|e| e.ip_address.clone()))
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| anyhow!("container {name} has no bridge IP"))
}

/// Send a four-letter word to ip:2181 until the answer is `good` or `deadline` passes.
async fn four_letter_until(
    ip: &str,
    word: &str,
    deadline: Duration,
    good: impl Fn(&str) -> bool,
) -> Result<(String, Duration)> {
    let started = Instant::now();
    let mut last_error = anyhow!("no attempt");
    while started.elapsed() < deadline {
        match four_letter(ip, word).await {
            Ok(answer) if good(&answer) => return Ok((answer, started.elapsed())),
            Ok(answer) => last_error = anyhow!("last answer to {word}: {answer:?}"),
            Err(err) => last_error = err,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(last_error.context(format!("waited {deadline:?} for {word} on {ip}:2181")))
}

async fn four_letter(ip: &str, word: &str) -> Result<String> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((ip, 2181)).await?;
        stream.write_all(word.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        anyhow::Ok(answer)
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .map_err(|_| anyhow!("{word} timed out"))?
}

async fn http_get(ip: &str, port: u16, path: &str) -> Result<String> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((ip, port)).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        anyhow::Ok(answer)
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .map_err(|_| anyhow!("GET {path} on {ip}:{port} timed out"))?
        .with_context(|| format!("GET {path} on {ip}:{port}"))
}

async fn exec_output(docker: &Docker, container: &str, cmd: &[&str]) -> Result<String> {
    let exec = docker
        .create_exec(
            container,
            ExecConfig {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await?
    {
        while let Some(chunk) = output.next().await {
            text.push_str(&chunk?.to_string());
        }
    }
    Ok(text)
}

/// Remove every container and volume labelled with this test's run id.
async fn remove_labelled(docker: &Docker) -> Result<()> {
    let filter = HashMap::from([("label", vec![format!("{RUN_LABEL}={RUN_ID}")])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await?;
    for container in containers {
        if let Some(id) = container.id {
            docker
                .remove_container(
                    &id,
                    Some(
                        RemoveContainerOptionsBuilder::default()
                            .force(true)
                            .v(true)
                            .build(),
                    ),
                )
                .await
                .with_context(|| format!("removing container {id}"))?;
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filter)
                .build(),
        ))
        .await?;
    for volume in volumes.volumes.unwrap_or_default() {
        docker
            .remove_volume(
                &volume.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
            .with_context(|| format!("removing volume {}", volume.name))?;
    }
    Ok(())
}

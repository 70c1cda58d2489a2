//! The Docker backend over bollard: one network per run, labelled containers, faults via the engine.

mod cleanup;
mod clock;
mod connect;
mod helper;
mod network;
pub mod stats;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use anyhow::Context;
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, EndpointIpamConfig, EndpointSettings,
    HostConfig, Mount, MountType, NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, LogsOptions, RestartContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;

pub use cleanup::{reap_orphans, remove_all, remove_run};
pub use connect::connect;
use network::RunNetwork;

use super::{
    Backend, CPU_PERIOD_US, ContainerSpec, ExecOutput, LABEL_NODE, LABEL_PID, LABEL_RUN,
    LimitUpdate, NetHelper, NodeState, Removed, RunId, Status,
};

/// A run's view of the Docker engine.
pub struct DockerBackend {
    docker: Docker,
    run: RunId,
    network: Option<RunNetwork>,
    next_host: u8,
    addresses: HashMap<String, Ipv4Addr>,
    helpers: helper::Helpers,
    clock: Option<clock::ClockVolume>,
}

impl DockerBackend {
    pub fn new(docker: Docker, run: RunId) -> Self {
        Self {
            docker,
            run,
            network: None,
            next_host: 10,
            addresses: HashMap::new(),
            helpers: helper::Helpers::default(),
            clock: None,
        }
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn labels(&self, node: Option<&str>) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (LABEL_RUN.to_string(), self.run.to_string()),
            (LABEL_PID.to_string(), std::process::id().to_string()),
        ]);
        if let Some(node) = node {
            labels.insert(LABEL_NODE.to_string(), node.to_string());
        }
        labels
    }

    fn container(&self, node: &str) -> String {
        self.run.container_name(node)
    }
}

impl DockerBackend {
    /// Creates `spec.node`'s container at `address`, mounting its data volume (which must exist).
    async fn create_container(
        &self,
        spec: &ContainerSpec,
        address: Ipv4Addr,
    ) -> anyhow::Result<()> {
        let network = self
            .network
            .as_ref()
            .context("the run's network must be created before its containers")?;
        let name = self.container(&spec.node);
        let mut mounts = Vec::new();
        if let Some(dir) = &spec.data_dir {
            let volume = self.run.volume_name(&spec.node);
            mounts.push(volume_mount(&volume, dir, false));
        }
        let memory = spec.memory.map(|m| m as i64);
        let host_config = HostConfig {
            memory,
            // Equal to the limit: no swap, so a heap too large for the limit is OOM-killed.
            memory_swap: memory,
            cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
            mounts: (!mounts.is_empty()).then_some(mounts),
            ..Default::default()
        };
        let endpoint = EndpointSettings {
            aliases: Some(
                std::iter::once(&spec.node)
                    .chain(&spec.aliases)
                    .cloned()
                    .collect(),
            ),
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: Some(address.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut body = ContainerCreateBody {
            hostname: Some(spec.node.clone()),
            image: Some(spec.image.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: spec.cmd.clone(),
            labels: Some(self.labels(Some(&spec.node))),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(network.name.clone(), endpoint)])),
            }),
            ..Default::default()
        };
        self.add_clock(&spec.node, &mut body).await?;
        self.create_named(&name, body).await.with_context(|| {
            format!(
                "creating container {name} for node {} from image {}; if the image is missing, run `cargo xtask images`",
                spec.node, spec.image
            )
        })?;
        if !spec.files.is_empty() {
            let tar = files_tar(&spec.files)
                .with_context(|| format!("packing the files of node {}", spec.node))?;
            self.docker
                .upload_to_container(
                    &name,
                    Some(bollard::query_parameters::UploadToContainerOptions {
                        path: "/".into(),
                        ..Default::default()
                    }),
                    bollard::body_full(tar.into()),
                )
                .await
                .with_context(|| {
                    let paths: Vec<&str> = spec.files.iter().map(|(p, _)| p.as_str()).collect();
                    format!("putting {} into node {}", paths.join(", "), spec.node)
                })?;
        }
        Ok(())
    }
}

impl DockerBackend {
    /// Creates (does not start) a container named `name`.
    async fn create_named(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<(), bollard::errors::Error> {
        self.docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map(|_| ())
    }
}

impl DockerBackend {
    /// Waits until container `name` stops or `timeout` passes; its exit code.
    async fn wait_exit(&self, name: &str, timeout: std::time::Duration) -> anyhow::Result<i64> {
        use bollard::query_parameters::WaitContainerOptions;
        let mut wait = self.docker.wait_container(
            name,
            Some(WaitContainerOptions {
                condition: "not-running".into(),
            }),
        );
        match tokio::time::timeout(timeout, wait.next()).await {
            Err(_) => anyhow::bail!("{name} did not finish within {timeout:?}"),
            Ok(Some(Ok(response))) => Ok(response.status_code),
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                Ok(code)
            }
            Ok(Some(Err(e))) => Err(e).with_context(|| format!("waiting for {name} to finish")),
            Ok(None) => anyhow::bail!("the engine stopped reporting on {name}"),
        }
    }

    /// Starts the created container `name`, waits until it exits (or `timeout`), takes what it
    /// printed (stdout and stderr in `stdout`, with the engine's timestamps if asked), and
    /// removes it with its anonymous volumes, whatever happened.
    async fn run_to_exit(
        &self,
        name: &str,
        timeout: std::time::Duration,
        timestamps: bool,
    ) -> anyhow::Result<ExecOutput> {
        let outcome = async {
            self.docker
                .start_container(name, None)
                .await
                .with_context(|| format!("starting {name}"))?;
            let exit_code = self.wait_exit(name, timeout).await?;
            Ok(ExecOutput {
                exit_code,
                stdout: self.container_output(name, timestamps).await?,
                stderr: String::new(),
            })
        }
        .await;
        cleanup::force_remove(&self.docker, name, true)
            .await
            .with_context(|| format!("removing {name}"))?;
        outcome
    }

    /// Everything container `name` printed so far, stdout and stderr interleaved.
    async fn container_output(&self, name: &str, timestamps: bool) -> anyhow::Result<String> {
        let mut stream = self.docker.logs(
            name,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                timestamps,
                ..Default::default()
            }),
        );
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading the output of {name}"))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(text)
    }
}

/// A tar of `files` rooted at `/` (absolute paths, parent directories made as needed).
fn files_tar(files: &[(String, String)]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(
            &mut header,
            path.trim_start_matches('/'),
            contents.as_bytes(),
        )?;
    }
    builder.into_inner()
}

/// Volume `source` mounted at `target`.
fn volume_mount(source: &str, target: &str, read_only: bool) -> Mount {
    Mount {
        target: Some(target.to_string()),
        source: Some(source.to_string()),
        typ: Some(MountType::VOLUME),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// A local volume on a tmpfs of `bytes`, so filling it fills a disk of that size.
fn tmpfs_options(bytes: u64) -> std::collections::HashMap<String, String> {
    [
        ("type".to_string(), "tmpfs".to_string()),
        ("device".to_string(), "tmpfs".to_string()),
        ("o".to_string(), format!("size={bytes}")),
    ]
    .into()
}

impl DockerBackend {
    /// Runs `cmd` as root in `container`; `doing` says what for, in errors.
    async fn exec_in(
        &self,
        container: &str,
        cmd: &[&str],
        doing: impl Fn() -> String,
    ) -> anyhow::Result<ExecOutput> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let exec = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    user: Some("root".into()),
                    ..Default::default()
                },
            )
            .await
            .with_context(&doing)?;
        let mut out = ExecOutput::default();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .with_context(&doing)?
        {
            while let Some(chunk) = output.next().await {
                match chunk.with_context(&doing)? {
                    bollard::container::LogOutput::StdErr { message } => {
                        out.stderr.push_str(&String::from_utf8_lossy(&message))
                    }
                    other => out
                        .stdout
                        .push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
        }
        let inspect = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .with_context(&doing)?;
        out.exit_code = inspect.exit_code.unwrap_or(-1);
        Ok(out)
    }
}

impl Backend for DockerBackend {
    fn run_id(&self) -> &RunId {
        &self.run
    }

    async fn create_network(&mut self) -> anyhow::Result<()> {
        let network = RunNetwork::create(&self.docker, &self.run, self.labels(None)).await?;
        self.network = Some(network);
        Ok(())
    }

    async fn create(&mut self, spec: &ContainerSpec) -> anyhow::Result<Ipv4Addr> {
        let address = self.address_for(&spec.node)?;
        if spec.data_dir.is_some() {
            let volume = self.run.volume_name(&spec.node);
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(volume.clone()),
                    labels: Some(self.labels(Some(&spec.node))),
                    driver_opts: spec.data_size.map(tmpfs_options),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("creating data volume {volume} for node {}", spec.node))?;
        }
        self.create_container(spec, address).await?;
        Ok(address)
    }

    fn address_for(&mut self, node: &str) -> anyhow::Result<Ipv4Addr> {
        if let Some(address) = self.addresses.get(node) {
            return Ok(*address);
        }
        let network = self
            .network
            .as_ref()
            .context("the run's network must be created before addresses are handed out")?;
        let address = network.host(self.next_host);
        self.next_host = self
            .next_host
            .checked_add(1)
            .filter(|h| *h < 255)
            .context("too many nodes in one run (at most 244)")?;
        self.addresses.insert(node.to_string(), address);
        Ok(address)
    }

    async fn run_once(
        &mut self,
        spec: &ContainerSpec,
        timeout: std::time::Duration,
    ) -> anyhow::Result<ExecOutput> {
        self.create(spec).await?;
        let name = self.container(&spec.node);
        self.run_to_exit(&name, timeout, true)
            .await
            .with_context(|| format!("running the one-shot {}", spec.node))
    }

    async fn run_again(
        &self,
        spec: &ContainerSpec,
        timeout: std::time::Duration,
    ) -> anyhow::Result<ExecOutput> {
        let address = *self.addresses.get(&spec.node).with_context(|| {
            format!(
                "running the one-shot {} again: it never ran in this run",
                spec.node
            )
        })?;
        self.create_container(spec, address).await?;
        let name = self.container(&spec.node);
        self.run_to_exit(&name, timeout, true)
            .await
            .with_context(|| format!("running the one-shot {} again", spec.node))
    }

    async fn start(&self, node: &str) -> anyhow::Result<()> {
        self.docker
            .start_container(&self.container(node), None)
            .await
            .with_context(|| format!("starting node {node}"))
    }

    async fn replace(&self, spec: &ContainerSpec, grace_secs: i32) -> anyhow::Result<()> {
        let node = &spec.node;
        let address = *self
            .addresses
            .get(node)
            .with_context(|| format!("replacing node {node}: it was never created"))?;
        self.stop(node, grace_secs).await?;
        let name = self.container(node);
        // The named data volume stays: the node must come back with its data.
        cleanup::force_remove(&self.docker, &name, false)
            .await
            .with_context(|| format!("removing the container of node {node} to replace it"))?;
        self.create_container(spec, address).await?;
        self.start(node).await
    }

    async fn stop(&self, node: &str, grace_secs: i32) -> anyhow::Result<()> {
        self.docker
            .stop_container(
                &self.container(node),
                Some(StopContainerOptions {
                    t: Some(grace_secs),
                    signal: None,
                }),
            )
            .await
            .with_context(|| format!("stopping node {node}"))
    }

    async fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.docker
            .kill_container(
                &self.container(node),
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await
            .with_context(|| format!("killing node {node} with SIGKILL"))
    }

    async fn restart(&self, node: &str, grace_secs: i32) -> anyhow::Result<()> {
        self.docker
            .restart_container(
                &self.container(node),
                Some(RestartContainerOptions {
                    t: Some(grace_secs),
                    signal: None,
                }),
            )
            .await
            .with_context(|| format!("restarting node {node}"))
    }

    async fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.docker
            .pause_container(&self.container(node))
            .await
            .with_context(|| format!("pausing node {node} (cgroup freezer)"))
    }

    async fn unpause(&self, node: &str) -> anyhow::Result<()> {
        self.docker
            .unpause_container(&self.container(node))
            .await
            .with_context(|| format!("unpausing node {node}"))
    }

    async fn state(&self, node: &str) -> anyhow::Result<NodeState> {
        let inspect = match self
            .docker
            .inspect_container(&self.container(node), None)
            .await
        {
            Ok(inspect) => inspect,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Ok(NodeState::missing());
            }
            Err(e) => return Err(e).with_context(|| format!("inspecting node {node}")),
        };
        let state = inspect.state.unwrap_or_default();
        let status = match state.status {
            Some(ContainerStateStatusEnum::CREATED) => Status::Created,
            Some(ContainerStateStatusEnum::RUNNING) => Status::Running,
            Some(ContainerStateStatusEnum::PAUSED) => Status::Paused,
            Some(ContainerStateStatusEnum::RESTARTING) => Status::Restarting,
            Some(ContainerStateStatusEnum::DEAD) | Some(ContainerStateStatusEnum::REMOVING) => {
                Status::Dead
            }
            _ => Status::Exited,
        };
        Ok(NodeState {
            status,
            exit_code: (status == Status::Exited)
                .then_some(state.exit_code)
                .flatten(),
            oom_killed: state.oom_killed.unwrap_or(false),
            pid: state.pid.filter(|p| *p > 0),
            started_at: state.started_at,
            // The engine answers a zero time for a container that has not stopped.
            finished_at: matches!(status, Status::Exited | Status::Dead)
                .then_some(state.finished_at)
                .flatten()
                .filter(|at| !at.starts_with("0001-")),
        })
    }

    async fn logs(&self, node: &str) -> anyhow::Result<String> {
        self.container_output(&self.container(node), true)
            .await
            .with_context(|| format!("reading the logs of node {node}"))
    }

    async fn follow_stdout(
        &self,
        node: &str,
        lines: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> anyhow::Result<()> {
        let name = self.container(node);
        let mut stream = self.docker.logs(
            &name,
            Some(LogsOptions {
                stdout: true,
                follow: true,
                ..Default::default()
            }),
        );
        // A chunk is what the engine read at once: part of a line, or several lines.
        let mut partial = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("following the output of node {node}"))?;
            partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            while let Some(end) = partial.find('\n') {
                let line: String = partial.drain(..=end).collect();
                if lines
                    .send(line.trim_end_matches(['\n', '\r']).to_owned())
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        if !partial.is_empty() {
            let _ = lines.send(partial);
        }
        Ok(())
    }

    async fn exec(&self, node: &str, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        let doing = || format!("running `{}` in node {node}", cmd.join(" "));
        self.exec_in(&self.container(node), cmd, doing).await
    }

    fn use_nemesis_image(&mut self, image: &str, proxy: Option<&std::path::Path>) {
        self.helpers.image = Some(image.to_string());
        self.helpers.proxy = proxy.map(std::path::Path::to_path_buf);
    }

    async fn net_helper(&self, node: &str) -> anyhow::Result<NetHelper> {
        self.ensure_helper(node).await
    }

    async fn exec_net(&self, node: &str, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        let helper = self.ensure_helper(node).await?;
        let doing = || {
            format!(
                "running `{}` in node {node}'s network namespace (from {})",
                cmd.join(" "),
                helper.container
            )
        };
        self.exec_in(&helper.container, cmd, doing).await
    }

    async fn enable_clock(&mut self, image: &str) -> anyhow::Result<()> {
        self.create_clock(image).await
    }

    async fn exec_clock(&self, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        self.exec_in_keeper(cmd).await
    }

    async fn probe_clock(
        &self,
        image: &str,
        script: &str,
        offset_secs: i64,
    ) -> anyhow::Result<ExecOutput> {
        self.run_clock_probe(image, script, offset_secs).await
    }

    async fn update_limits(&self, node: &str, limits: &LimitUpdate) -> anyhow::Result<()> {
        let body = bollard::models::ContainerUpdateBody {
            memory: limits.memory,
            memory_swap: limits.memory,
            cpu_period: limits.cpu_quota.map(|_| CPU_PERIOD_US),
            cpu_quota: limits.cpu_quota,
            ..Default::default()
        };
        self.docker
            .update_container(&self.container(node), body)
            .await
            .with_context(|| format!("changing the limits of node {node} to {limits:?}"))
    }

    async fn cleanup(&self) -> anyhow::Result<Removed> {
        remove_run(&self.docker, Some(self.run.as_str())).await
    }
}

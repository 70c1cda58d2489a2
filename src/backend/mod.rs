//! Backends execute what the rest of chaosbed describes: networks, containers, exec, logs, faults.
//!
//! `docker` is the real one (bollard); `fake` keeps state in memory for the harness's own tests.

pub mod clock;
pub mod docker;
pub mod fake;
mod labels;
pub mod proxy_binary;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub use labels::{LABEL_NODE, LABEL_PID, LABEL_RUN, RunId};

/// Everything needed to create one node's container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerSpec {
    /// The node name; also the container's hostname and network alias.
    pub node: String,
    /// More names the container answers to on the run's network, e.g. a service name several
    /// nodes share (the network's DNS then gives all of them).
    pub aliases: Vec<String>,
    pub image: String,
    pub env: Vec<(String, String)>,
    /// Overrides the image's command when set.
    pub cmd: Option<Vec<String>>,
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// Mount point of the node's data volume, which survives restarts of the container.
    pub data_dir: Option<String>,
    /// Size of the data volume: a tmpfs of that size instead of the host's disk.
    pub data_size: Option<u64>,
    /// Linux capabilities to add (only where a fault needs them).
    pub cap_add: Vec<String>,
    /// Files put into the container before it starts: (absolute path, contents), mode 0644.
    /// How chaosbed gives an image that knows nothing of it a config of its own (NGINX's).
    pub files: Vec<(String, String)>,
}

impl ContainerSpec {
    /// The value of environment variable `key`, if set.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A change of a running container's cgroup limits; `None` leaves a limit as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LimitUpdate {
    /// Memory limit in bytes (swap is limited to the same, so the node cannot swap).
    pub memory: Option<i64>,
    /// CPU quota per 100 ms period in microseconds; -1 removes the quota.
    pub cpu_quota: Option<i64>,
}

/// The CFS period chaosbed's CPU quotas are relative to.
pub const CPU_PERIOD_US: i64 = 100_000;

/// A node's container as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Missing,
}

impl Status {
    /// Whether the node's process can serve (running and not frozen).
    pub fn is_up(self) -> bool {
        self == Status::Running
    }
}

/// State of one node's container, read back from the engine as evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeState {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When a stopped container's process ended (RFC 3339), as the engine recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl NodeState {
    /// How a stopped node ended: `exited with code 137 (OOM-killed)`.
    pub fn exit_words(&self) -> String {
        let code = self
            .exit_code
            .map(|c| format!(" with code {c}"))
            .unwrap_or_default();
        let oom = if self.oom_killed { " (OOM-killed)" } else { "" };
        format!("exited{code}{oom}")
    }

    pub fn missing() -> Self {
        Self {
            status: Status::Missing,
            exit_code: None,
            oom_killed: false,
            pid: None,
            started_at: None,
            finished_at: None,
        }
    }
}

/// Output of a command run inside a node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// A node's nemesis helper, as evidence of where a network fault's commands ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetHelper {
    /// The helper's container.
    pub container: String,
    /// Why it was created by this call (`None`: it was there already).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// What cleanup removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} containers, {} networks, {} volumes",
            self.containers.len(),
            self.networks.len(),
            self.volumes.len()
        )
    }
}

/// The operations a run needs from a container engine, addressed by node name.
///
/// The runner drives a backend from a single task, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Backend {
    fn run_id(&self) -> &RunId;

    /// Creates the run's network. Called once, before any container.
    async fn create_network(&mut self) -> anyhow::Result<()>;

    /// The address `node` has (or will have once created) on the run's network; stable across
    /// restarts. Lets a system advertise its own address in its configuration.
    fn address_for(&mut self, node: &str) -> anyhow::Result<Ipv4Addr>;

    /// Creates a node's container (not started) and returns the address the harness reaches it on.
    async fn create(&mut self, spec: &ContainerSpec) -> anyhow::Result<Ipv4Addr>;

    /// Runs a one-shot container (an init job) on the run's network until it exits or `timeout`
    /// passes, then removes it. Returns its exit code and output (stdout and stderr in `stdout`).
    async fn run_once(
        &mut self,
        spec: &ContainerSpec,
        timeout: std::time::Duration,
    ) -> anyhow::Result<ExecOutput>;

    /// Runs a one-shot job again, on the address its first `run_once` was given (a schema job
    /// with a newer image before an upgrade rolls); otherwise as `run_once`.
    async fn run_again(
        &self,
        spec: &ContainerSpec,
        timeout: std::time::Duration,
    ) -> anyhow::Result<ExecOutput>;

    async fn start(&self, node: &str) -> anyhow::Result<()>;
    /// Replaces `spec.node`'s container with one made from `spec` (a new image, typically):
    /// graceful stop (SIGTERM, SIGKILL after `grace_secs`), remove the container but not its data
    /// volume, create it again with the same name, address, labels and volume, and start it.
    async fn replace(&self, spec: &ContainerSpec, grace_secs: i32) -> anyhow::Result<()>;
    /// Graceful stop: SIGTERM, then SIGKILL after `grace_secs`.
    async fn stop(&self, node: &str, grace_secs: i32) -> anyhow::Result<()>;
    /// Sends SIGKILL to the node's main process.
    async fn kill(&self, node: &str) -> anyhow::Result<()>;
    async fn restart(&self, node: &str, grace_secs: i32) -> anyhow::Result<()>;
    async fn pause(&self, node: &str) -> anyhow::Result<()>;
    async fn unpause(&self, node: &str) -> anyhow::Result<()>;

    async fn state(&self, node: &str) -> anyhow::Result<NodeState>;
    /// Everything the node printed so far, stdout and stderr interleaved.
    async fn logs(&self, node: &str) -> anyhow::Result<String>;
    /// Sends each line the node prints on its standard output from now on to `lines`, as it
    /// comes; returns when the node's output ends (it exited) or `lines` is closed.
    async fn follow_stdout(
        &self,
        node: &str,
        lines: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> anyhow::Result<()>;
    /// Runs `cmd` inside the running node as root.
    async fn exec(&self, node: &str, cmd: &[&str]) -> anyhow::Result<ExecOutput>;

    /// The image of the nemesis helpers [`Backend::exec_net`] starts (chaosbed's `nemesis`),
    /// and the chaosbed-proxy binary copied into each (`None`: the run needs no proxy).
    fn use_nemesis_image(&mut self, image: &str, proxy: Option<&std::path::Path>);

    /// Makes sure `node` has a nemesis helper in its current network namespace: created on
    /// first use, and again once the node's container started anew (a kill, a restart or an
    /// upgrade gives it a new namespace, and with it no rules). Says which, and why it was made.
    async fn net_helper(&self, node: &str) -> anyhow::Result<NetHelper>;

    /// Runs `cmd` as root in `node`'s network namespace from its nemesis helper (iptables, tc),
    /// not inside the node: the node's image needs none of the tools and the node no capability.
    async fn exec_net(&self, node: &str, cmd: &[&str]) -> anyhow::Result<ExecOutput>;

    /// Makes clock skew possible on any image: a volume of the run holding libfaketime (copied
    /// out of `image`, chaosbed's nemesis) and one offset file per node, written only by a
    /// clock keeper container of that image. Every node created afterwards mounts the volume
    /// read-only and preloads libfaketime with its offset at zero (see [`clock`]).
    async fn enable_clock(&mut self, image: &str) -> anyhow::Result<()>;

    /// Runs `cmd` as root in the clock keeper, where the offset files are written: a node's
    /// clock changes from outside the node.
    async fn exec_clock(&self, cmd: &[&str]) -> anyhow::Result<ExecOutput>;

    /// Runs `script` with `sh -c` in a throwaway container of `image` (its entrypoint replaced)
    /// that preloads libfaketime with the clock `offset_secs` away: whether clock skew can work
    /// in that image, asked before any node of it starts.
    async fn probe_clock(
        &self,
        image: &str,
        script: &str,
        offset_secs: i64,
    ) -> anyhow::Result<ExecOutput>;

    /// Changes a running node's memory or CPU limits.
    async fn update_limits(&self, node: &str, limits: &LimitUpdate) -> anyhow::Result<()>;

    /// Removes every container, network and volume labelled with this run's id.
    async fn cleanup(&self) -> anyhow::Result<Removed>;

    /// Snapshot of every node's state, for evidence.
    async fn states(&self, nodes: &[String]) -> BTreeMap<String, NodeState> {
        let mut out = BTreeMap::new();
        for node in nodes {
            let state = self
                .state(node)
                .await
                .unwrap_or_else(|_| NodeState::missing());
            out.insert(node.clone(), state);
        }
        out
    }
}

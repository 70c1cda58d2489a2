//! An in-memory backend for testing the harness's own logic (nemesis, runner) without Docker.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use anyhow::bail;

use super::{
    Backend, ContainerSpec, ExecOutput, LimitUpdate, NetHelper, NodeState, Removed, RunId, Status,
};

/// Records calls and keeps each node's status; every node is "reachable" at 10.0.0.N.
pub struct FakeBackend {
    run: RunId,
    nodes: Mutex<BTreeMap<String, Status>>,
    /// The image each node's container was last created from.
    pub(crate) images: Mutex<BTreeMap<String, String>>,
    /// Every call, as `verb node`, in order.
    pub calls: Mutex<Vec<String>>,
    /// What each node prints on its standard output when followed.
    stdout: Mutex<BTreeMap<String, Vec<String>>>,
}

impl FakeBackend {
    pub fn new() -> Self {
        Self {
            run: RunId::from_existing("fake"),
            nodes: Mutex::new(BTreeMap::new()),
            images: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            stdout: Mutex::new(BTreeMap::new()),
        }
    }

    /// Makes `node` print `lines` on its standard output when it is followed.
    pub fn script_stdout(&self, node: &str, lines: &[&str]) {
        self.stdout.lock().unwrap().insert(
            node.to_owned(),
            lines.iter().map(|l| (*l).to_owned()).collect(),
        );
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// The image `node`'s container runs (empty when it has none).
    pub fn image(&self, node: &str) -> String {
        self.images
            .lock()
            .unwrap()
            .get(node)
            .cloned()
            .unwrap_or_default()
    }

    pub fn status(&self, node: &str) -> Status {
        self.nodes
            .lock()
            .unwrap()
            .get(node)
            .copied()
            .unwrap_or(Status::Missing)
    }

    fn transition(
        &self,
        verb: &str,
        node: &str,
        from: &[Status],
        to: Status,
    ) -> anyhow::Result<()> {
        self.calls.lock().unwrap().push(format!("{verb} {node}"));
        let mut nodes = self.nodes.lock().unwrap();
        let Some(status) = nodes.get_mut(node) else {
            bail!("{verb} {node}: no such node");
        };
        if !from.contains(status) {
            bail!("{verb} {node}: node is {status:?}");
        }
        *status = to;
        Ok(())
    }
}

impl Default for FakeBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for FakeBackend {
    fn run_id(&self) -> &RunId {
        &self.run
    }

    async fn create_network(&mut self) -> anyhow::Result<()> {
        self.calls.lock().unwrap().push("network".into());
        Ok(())
    }

    async fn create(&mut self, spec: &ContainerSpec) -> anyhow::Result<Ipv4Addr> {
        let mut nodes = self.nodes.lock().unwrap();
        nodes.insert(spec.node.clone(), Status::Created);
        self.images
            .lock()
            .unwrap()
            .insert(spec.node.clone(), spec.image.clone());
        self.calls
            .lock()
            .unwrap()
            .push(format!("create {}", spec.node));
        Ok(Ipv4Addr::new(10, 0, 0, nodes.len() as u8))
    }

    fn address_for(&mut self, node: &str) -> anyhow::Result<Ipv4Addr> {
        let nodes = self.nodes.lock().unwrap();
        let position = nodes.keys().position(|n| n == node).unwrap_or(nodes.len());
        Ok(Ipv4Addr::new(10, 0, 0, position as u8 + 1))
    }

    async fn run_once(
        &mut self,
        spec: &ContainerSpec,
        _timeout: std::time::Duration,
    ) -> anyhow::Result<ExecOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("run-once {}", spec.node));
        Ok(ExecOutput::default())
    }

    async fn run_again(
        &self,
        spec: &ContainerSpec,
        _timeout: std::time::Duration,
    ) -> anyhow::Result<ExecOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("run-again {} {}", spec.node, spec.image));
        Ok(ExecOutput::default())
    }

    async fn start(&self, node: &str) -> anyhow::Result<()> {
        self.transition(
            "start",
            node,
            &[Status::Created, Status::Exited],
            Status::Running,
        )
    }

    async fn replace(&self, spec: &ContainerSpec, _grace_secs: i32) -> anyhow::Result<()> {
        let node = &spec.node;
        self.calls
            .lock()
            .unwrap()
            .push(format!("replace {node} {}", spec.image));
        let mut nodes = self.nodes.lock().unwrap();
        let Some(status) = nodes.get_mut(node) else {
            bail!("replace {node}: no such node");
        };
        *status = Status::Running;
        self.images
            .lock()
            .unwrap()
            .insert(node.clone(), spec.image.clone());
        Ok(())
    }

    async fn stop(&self, node: &str, _grace_secs: i32) -> anyhow::Result<()> {
        self.transition(
            "stop",
            node,
            &[Status::Running, Status::Exited],
            Status::Exited,
        )
    }

    async fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.transition("kill", node, &[Status::Running], Status::Exited)
    }

    async fn restart(&self, node: &str, _grace_secs: i32) -> anyhow::Result<()> {
        self.transition(
            "restart",
            node,
            &[Status::Running, Status::Exited],
            Status::Running,
        )
    }

    async fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.transition("pause", node, &[Status::Running], Status::Paused)
    }

    async fn unpause(&self, node: &str) -> anyhow::Result<()> {
        self.transition("unpause", node, &[Status::Paused], Status::Running)
    }

    async fn state(&self, node: &str) -> anyhow::Result<NodeState> {
        let status = self.status(node);
        Ok(NodeState {
            status,
            exit_code: (status == Status::Exited).then_some(137),
            ..NodeState::missing()
        })
    }

    async fn logs(&self, node: &str) -> anyhow::Result<String> {
        Ok(format!("fake log of {node}\n"))
    }

    async fn follow_stdout(
        &self,
        node: &str,
        lines: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> anyhow::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("follow-stdout {node}"));
        let script = self.stdout.lock().unwrap().remove(node).unwrap_or_default();
        for line in script {
            if lines.send(line).is_err() {
                break;
            }
        }
        Ok(())
    }

    async fn exec(&self, node: &str, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("exec {node} {}", cmd.join(" ")));
        Ok(ExecOutput::default())
    }

    fn use_nemesis_image(&mut self, image: &str, proxy: Option<&std::path::Path>) {
        let proxy = proxy
            .map(|p| format!(" with {}", p.display()))
            .unwrap_or_default();
        self.calls
            .lock()
            .unwrap()
            .push(format!("nemesis image {image}{proxy}"));
    }

    async fn net_helper(&self, node: &str) -> anyhow::Result<NetHelper> {
        Ok(NetHelper {
            container: format!("fake-{node}-nemesis"),
            created: None,
        })
    }

    async fn exec_net(&self, node: &str, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("exec-net {node} {}", cmd.join(" ")));
        Ok(ExecOutput::default())
    }

    async fn enable_clock(&mut self, image: &str) -> anyhow::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("clock image {image}"));
        Ok(())
    }

    async fn exec_clock(&self, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("exec-clock {}", cmd.join(" ")));
        Ok(ExecOutput::default())
    }

    /// Prints the clock as libfaketime with that offset would show it, except in an image
    /// whose name says `static`: there, as with a static binary, the preload does nothing.
    async fn probe_clock(
        &self,
        image: &str,
        _script: &str,
        offset_secs: i64,
    ) -> anyhow::Result<ExecOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("probe-clock {image}"));
        let offset = if image.contains("static") {
            0
        } else {
            offset_secs
        };
        Ok(ExecOutput {
            stdout: format!("{}\n", chrono::Utc::now().timestamp() + offset),
            ..ExecOutput::default()
        })
    }

    async fn update_limits(&self, node: &str, limits: &LimitUpdate) -> anyhow::Result<()> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("update {node} {limits:?}"));
        Ok(())
    }

    async fn cleanup(&self) -> anyhow::Result<Removed> {
        let mut nodes = self.nodes.lock().unwrap();
        let removed = Removed {
            containers: nodes.keys().cloned().collect(),
            ..Removed::default()
        };
        nodes.clear();
        self.calls.lock().unwrap().push("cleanup".into());
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replaced_node_runs_the_new_image_and_is_still_cleaned_up() {
        let mut backend = FakeBackend::new();
        let spec = ContainerSpec {
            node: "zk-1".into(),
            image: "old".into(),
            data_dir: Some("/data".into()),
            ..Default::default()
        };
        let address = backend.create(&spec).await.unwrap();
        backend.start("zk-1").await.unwrap();
        let new = ContainerSpec {
            image: "new".into(),
            ..spec.clone()
        };
        backend.replace(&new, 10).await.unwrap();
        assert_eq!(backend.image("zk-1"), "new");
        assert_eq!(backend.status("zk-1"), Status::Running);
        assert_eq!(backend.address_for("zk-1").unwrap(), address);
        let missing = ContainerSpec {
            node: "zk-9".into(),
            ..new
        };
        assert!(backend.replace(&missing, 10).await.is_err());
        let removed = backend.cleanup().await.unwrap();
        assert_eq!(removed.containers, ["zk-1"]);
    }
}

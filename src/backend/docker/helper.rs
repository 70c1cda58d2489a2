//! Nemesis helpers: for each node a network fault targets, a container of chaosbed's `nemesis`
//! image in the node's network namespace (`network_mode: container:<node>`) that alone holds
//! NET_ADMIN. iptables, tc and chaosbed-proxy (copied in when the helper is made) run there, so
//! any image can be a target and no node is granted a capability.

use std::collections::HashMap;

use anyhow::{Context, bail};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::UploadToContainerOptions;
use tokio::sync::Mutex;

use super::DockerBackend;
use super::cleanup::force_remove;
use crate::backend::NetHelper;

/// Names the node a helper serves. Helpers carry no node label: they are not nodes, so nothing
/// that lists a run's nodes (the resource sampler, the diagnosis) sees them.
pub const LABEL_HELPER_FOR: &str = "chaosbed.helper-for";

/// The capabilities a helper holds for iptables and tc.
const CAPABILITIES: [&str; 2] = ["NET_ADMIN", "NET_RAW"];

/// The namespace a helper joined: its target's container and when that container last started.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Joined {
    target_id: String,
    started_at: String,
}

/// The run's helpers, the image they run and the proxy copied into each.
#[derive(Default)]
pub struct Helpers {
    pub image: Option<String>,
    pub proxy: Option<std::path::PathBuf>,
    /// The proxy packed for upload, once.
    proxy_tar: std::sync::OnceLock<Result<bytes::Bytes, String>>,
    joined: Mutex<HashMap<String, Joined>>,
}

impl Helpers {
    /// chaosbed-proxy as a tar holding `chaosbed-proxy` (mode 0755), for `/usr/local/bin`.
    fn proxy_tar(&self) -> Option<Result<bytes::Bytes, String>> {
        let path = self.proxy.as_ref()?;
        Some(
            self.proxy_tar
                .get_or_init(|| {
                    let body = std::fs::read(path)
                        .map_err(|e| format!("reading {}: {e}", path.display()))?;
                    let mut header = tar::Header::new_gnu();
                    header.set_size(body.len() as u64);
                    header.set_mode(0o755);
                    header.set_mtime(0);
                    header.set_entry_type(tar::EntryType::Regular);
                    let mut builder = tar::Builder::new(Vec::new());
                    builder
                        .append_data(&mut header, "chaosbed-proxy", body.as_slice())
                        .and_then(|()| builder.into_inner())
                        .map(bytes::Bytes::from)
                        .map_err(|e| format!("packing {}: {e}", path.display()))
                })
                .clone(),
        )
    }
}

/// Why a helper must be made now, or `None` when the one there is in the node's namespace.
fn reason_to_create(node: &str, was: Option<&Joined>, now: &Joined) -> Option<String> {
    match was {
        Some(was) if was == now => None,
        Some(was) if was.target_id != now.target_id => Some(format!(
            "{node}'s container was replaced (an upgrade), so it has a new network namespace"
        )),
        Some(_) => Some(format!(
            "{node} started again at {}, so it has a new network namespace",
            now.started_at
        )),
        None => Some(format!("the first network fault on {node}")),
    }
}

impl DockerBackend {
    fn helper_name(&self, node: &str) -> String {
        format!("{}-nemesis", self.container(node))
    }

    /// The helper in `node`'s current network namespace, created when there is none.
    pub(super) async fn ensure_helper(&self, node: &str) -> anyhow::Result<NetHelper> {
        let image = self.helpers.image.as_deref().with_context(|| {
            format!(
                "no nemesis image to run a network fault on node {node} from (the runner \
                 builds chaosbed/nemesis for a scenario with network faults)"
            )
        })?;
        let target = self
            .docker
            .inspect_container(&self.container(node), None)
            .await
            .with_context(|| format!("inspecting node {node} to join its network namespace"))?;
        let state = target.state.unwrap_or_default();
        if state.running != Some(true) {
            bail!(
                "node {node} is not running, so it has no network namespace for a network \
                 fault to change"
            );
        }
        let now = Joined {
            target_id: target.id.unwrap_or_default(),
            started_at: state.started_at.unwrap_or_default(),
        };
        let name = self.helper_name(node);
        let mut joined = self.helpers.joined.lock().await;
        let Some(created) = reason_to_create(node, joined.get(node), &now) else {
            return Ok(NetHelper {
                container: name,
                created: None,
            });
        };
        // A helper of the namespace the node had before: it holds nothing worth keeping.
        match force_remove(&self.docker, &name, false).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("removing {name}, node {node}'s old nemesis helper"));
            }
        }
        let mut labels = self.labels(None);
        labels.insert(LABEL_HELPER_FOR.to_string(), node.to_string());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{}", now.target_id)),
                cap_add: Some(CAPABILITIES.iter().map(|c| c.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let doing = || format!("starting {name}, node {node}'s nemesis helper from image {image}");
        self.create_named(&name, body).await.with_context(doing)?;
        if let Some(tar) = self.helpers.proxy_tar() {
            let tar = tar
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(doing)?;
            self.docker
                .upload_to_container(
                    &name,
                    Some(UploadToContainerOptions {
                        path: "/usr/local/bin".into(),
                        ..Default::default()
                    }),
                    bollard::body_full(tar),
                )
                .await
                .with_context(|| format!("copying chaosbed-proxy into {name}"))?;
        }
        self.docker
            .start_container(&name, None)
            .await
            .with_context(doing)?;
        joined.insert(node.to_string(), now);
        Ok(NetHelper {
            container: name,
            created: Some(created),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(id: &str, at: &str) -> Joined {
        Joined {
            target_id: id.into(),
            started_at: at.into(),
        }
    }

    #[test]
    fn a_helper_follows_its_node_into_each_new_namespace() {
        let first = joined("a1", "t1");
        assert_eq!(
            reason_to_create("zk-1", None, &first).as_deref(),
            Some("the first network fault on zk-1")
        );
        assert_eq!(reason_to_create("zk-1", Some(&first), &first), None);
        let restarted = joined("a1", "t2");
        assert!(
            reason_to_create("zk-1", Some(&first), &restarted)
                .unwrap()
                .contains("started again at t2")
        );
        let replaced = joined("b2", "t3");
        assert!(
            reason_to_create("zk-1", Some(&restarted), &replaced)
                .unwrap()
                .contains("replaced")
        );
    }
}

//! Shared plumbing of the Docker tests: the engine or a clear error, a runtime per test, and the
//! leak check.

use std::future::Future;

use bollard::Docker;
use libtest_mimic::Failed;

pub const SKIP_VAR: &str = "CHAOSBED_SKIP_DOCKER";

pub fn skip_requested() -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|v| v == "1")
}

/// Runs an async test body on its own runtime, turning errors and panics into failures.
pub fn block_on<F>(body: F) -> Result<(), Failed>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("building a tokio runtime: {e}")))?;
    runtime
        .block_on(body)
        .map_err(|e| Failed::from(format!("{e:#}")))
}

/// The engine, or an error that says how to start one or skip.
pub async fn docker() -> anyhow::Result<Docker> {
    chaosbed::provision::engine().await.map_err(|e| {
        e.context(format!(
            "the Docker tests need an engine: start one (`dockerd &` as root, or `bash .ci/run`), or set {SKIP_VAR}=1 to skip them"
        ))
    })
}

/// Containers and networks still labelled with `run`; empty when nothing leaked.
pub async fn leftovers(docker: &Docker, run: &str) -> anyhow::Result<Vec<String>> {
    use bollard::query_parameters::{
        ListContainersOptions, ListNetworksOptions, ListVolumesOptions,
    };
    use std::collections::HashMap;
    let filters = HashMap::from([("label".to_string(), vec![format!("chaosbed.run={run}")])]);
    let mut found: Vec<String> = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await?
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect();
    found.extend(
        docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters.clone()),
            }))
            .await?
            .into_iter()
            .filter_map(|n| n.name),
    );
    found.extend(
        docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(filters),
            }))
            .await?
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name),
    );
    Ok(found)
}

/// The workspace's scenario file `name`.
pub fn scenario(name: &str) -> anyhow::Result<chaosbed::scenario::Scenario> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    chaosbed::scenario::load(&path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// After a test body ran against `backend` (its outcome caught with `catch_unwind`): removes the
/// run's containers whatever happened, re-raises a panic, returns the body's error, and fails
/// when anything labelled with the run is left.
pub async fn finish(
    docker: &Docker,
    backend: &chaosbed::backend::docker::DockerBackend,
    outcome: std::thread::Result<anyhow::Result<()>>,
    what: &str,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use chaosbed::backend::Backend as _;
    let run = backend.run_id().as_str().to_string();
    let removed = backend.cleanup().await;
    let left = leftovers(docker, &run).await;
    match outcome {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(result) => result?,
    }
    removed.with_context(|| format!("cleaning up {what}"))?;
    let left = left?;
    anyhow::ensure!(left.is_empty(), "{what} left behind: {left:?}");
    Ok(())
}

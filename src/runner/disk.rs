//! The disk check before a run: refuse to start when the filesystem of the engine's data dir
//! has less free space than the scenario needs (`host::need`). Cheap: one `docker info`, one
//! image listing, one statvfs.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use bollard::Docker;

use crate::host::{disk, need};
use crate::scenario::Scenario;

/// Fails with the free and needed space, the directory and what to prune when `scenario` does
/// not fit. Skipped (Ok) when the engine keeps its data where this host cannot look (an engine
/// on another machine or in a VM).
pub async fn check(docker: &Docker, scenario: &Scenario) -> anyhow::Result<()> {
    let info = docker
        .info()
        .await
        .context("asking the Docker engine where it keeps its data (docker info)")?;
    let Some(root) = info.docker_root_dir.map(PathBuf::from) else {
        tracing::debug!("the engine does not say where it keeps its data; disk check skipped");
        return Ok(());
    };
    if !root.exists() {
        tracing::debug!(
            root = %root.display(),
            "the engine's data dir is not on this host; disk check skipped"
        );
        return Ok(());
    }
    let space = disk::space(&root)?;
    let to_build = crate::image::missing(docker, &need::images(scenario))
        .await
        .with_context(|| format!("finding which images scenario {} must build", scenario.name))?;
    let estimate = need::estimate(scenario, &to_build, space.total);
    tracing::debug!(free = space.free, need = %estimate, "disk check");
    if let Some(refusal) = need::refusal(&scenario.name, &space, &estimate) {
        bail!(refusal);
    }
    Ok(())
}

//! Connecting to the Docker engine, with an error that says how to start one.

use anyhow::Context;
use bollard::Docker;

/// Connects to the engine named by DOCKER_HOST (or the local socket) and agrees on an API version.
pub async fn connect() -> anyhow::Result<Docker> {
    let hint = "is a Docker engine running? Start one (`cargo xtask provision` installs and starts docker.io as root on Debian or Ubuntu; elsewhere start Docker yourself), or point DOCKER_HOST at one";
    let docker = Docker::connect_with_defaults()
        .with_context(|| format!("connecting to the Docker engine; {hint}"))?;
    let docker = docker
        .negotiate_version()
        .await
        .with_context(|| format!("asking the Docker engine for its API version; {hint}"))?;
    docker
        .ping()
        .await
        .with_context(|| format!("pinging the Docker engine; {hint}"))?;
    Ok(docker)
}

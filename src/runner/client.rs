//! A `container` workload in a run: its image made ready at setup and the cluster's addresses
//! it is told; which containers it may leave.

use anyhow::{Context as _, Result};
use bollard::Docker;
use indicatif::MultiProgress;

use super::cluster::Cluster;
use crate::scenario::Scenario;
use crate::workload::container::{Client, Phase};

/// The client of `scenario`'s container workload: its image built or found, its environment.
pub async fn prepare(
    scenario: &Scenario,
    docker: &Docker,
    cluster: &Cluster,
    progress: &MultiProgress,
) -> Result<Client> {
    let workload = &scenario.workload;
    let image = match (&workload.build, &workload.image) {
        (Some(dir), _) => {
            let dir = std::path::Path::new(dir.get_ref());
            crate::image::ensure_client(docker, dir, progress)
                .await
                .with_context(|| format!("building the workload's client from {}", dir.display()))?
        }
        (None, Some(image)) => {
            let image = image.get_ref().clone();
            docker.inspect_image(&image).await.with_context(|| {
                format!(
                    "the workload's client image {image} is not in the Docker engine (chaosbed \
                     pulls nothing): build or load it first, or give `build` a directory with \
                     its Dockerfile"
                )
            })?;
            image
        }
        // Validation refuses a container workload with neither.
        (None, None) => anyhow::bail!("the container workload names no `image` and no `build`"),
    };
    let nodes: Vec<_> = cluster
        .nodes
        .iter()
        .map(|n| (n.system, n.name.clone(), n.address))
        .collect();
    let mut env = crate::system::client_env(&nodes);
    env.extend([
        ("CHAOSBED_SEED".to_owned(), scenario.seed.to_string()),
        ("CHAOSBED_CLIENTS".to_owned(), workload.clients.to_string()),
        ("CHAOSBED_RATE".to_owned(), workload.rate.to_string()),
    ]);
    if let Some(topic) = &workload.topic {
        env.push(("CHAOSBED_PULSAR_TOPIC".to_owned(), topic.clone()));
    }
    env.extend(workload.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Client {
        image,
        command: workload.command.clone(),
        env,
        topic: workload.topic.clone(),
    })
}

/// The containers a container workload may leave, whose logs a run keeps.
pub const NODES: [Phase; 2] = [Phase::Workload, Phase::FinalRead];

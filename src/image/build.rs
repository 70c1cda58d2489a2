//! Docker builds through bollard: send a staged context, follow the steps on a spinner,
//! and turn a failed build into an error carrying the last lines of its output.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt as _;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::context::Tail;

/// Label every chaosbed image carries, valued with its catalogue name.
pub const IMAGE_LABEL: &str = "chaosbed.image";

/// A spinner for one image on the caller's MultiProgress.
pub fn spinner(progress: &MultiProgress, image: &str) -> ProgressBar {
    let bar = progress.add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner:.green} {prefix:.bold} [{elapsed:>4}] {wide_msg}")
            .expect("valid progress template"),
    );
    bar.set_prefix(image.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Whether `tag` exists in the local engine.
pub async fn exists(docker: &Docker, tag: &str) -> Result<bool> {
    match docker.inspect_image(tag).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(err) => Err(anyhow!(err).context(format!(
            "inspecting image {tag}; is the Docker engine reachable (DOCKER_HOST)?"
        ))),
    }
}

/// `docker build` of a packed context, tagged `tag` and labelled with the image name.
pub async fn build_context(
    docker: &Docker,
    image: &str,
    tag: &str,
    context_dir: &Path,
    context_tar: Vec<u8>,
    build_args: &BTreeMap<String, String>,
    bar: &ProgressBar,
) -> Result<()> {
    let args: HashMap<String, String> = build_args.clone().into_iter().collect();
    let labels: HashMap<&str, &str> = HashMap::from([(IMAGE_LABEL, image)]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&args)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(bytes::Bytes::from(context_tar))),
    );
    let mut tail = Tail::new(25);
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                let text = info.stream.or(info.status).unwrap_or_default();
                for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                    if line.starts_with("Step ") {
                        bar.set_message(line.to_owned());
                        tracing::debug!(image, "{line}");
                    }
                    tail.push(line);
                }
            }
            Err(err) => {
                return Err(anyhow!(
                    "building image {image} as {tag} failed: {err}\nlast build output:\n{}\n\
                     Fix the failing step in {} (fixtures dir: CHAOSBED_FIXTURES) and rerun \
                     `cargo xtask images`; unchanged layers are reused.",
                    tail.joined(),
                    context_dir.display()
                ));
            }
        }
    }
    if !exists(docker, tag).await? {
        return Err(anyhow!(
            "building image {image}: the build stream ended but {tag} does not exist\n\
             last build output:\n{}",
            tail.joined()
        ));
    }
    Ok(())
}

/// Tag the image `source` as `repository:tag` as well (a stable name besides its hash tag).
pub async fn tag(docker: &Docker, source: &str, repository: &str, tag: &str) -> Result<()> {
    docker
        .tag_image(
            source,
            Some(bollard::query_parameters::TagImageOptions {
                repo: Some(repository.to_owned()),
                tag: Some(tag.to_owned()),
            }),
        )
        .await
        .with_context(|| format!("tagging {source} as {repository}:{tag}"))?;
    Ok(())
}

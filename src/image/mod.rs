//! Local images without a registry: `ensure` builds an image and its parents when their
//! content-hash tags are missing, and returns the tag containers should use.
//!
//! Layers: `base` (mmdebstrap rootfs) -> `jre` -> one image per system version, each a build
//! context under fixtures/images. A tag is `chaosbed/<name>:<version>-<hash12>`, the hash
//! covering every context file, the parent's tag and the build args, so an unchanged image is
//! found by `inspect_image` and never rebuilt.

mod base;
mod build;
mod catalogue;
mod context;
pub mod contract;
mod hash;
mod inventory;
mod maven;
mod versions;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context as _, Result};
use bollard::Docker;
use indicatif::MultiProgress;

pub use build::IMAGE_LABEL;
pub use catalogue::{CATALOGUE, ImageSpec, Kind, ResolveError, Role, available, resolve};
pub use context::fixtures_dir;
pub use inventory::{
    Current, Present, Removal, Superseded, clean_superseded, current, list, missing, missing_from,
    remove_superseded, superseded,
};
pub use versions::{bookkeeper_of_pulsar, refuse_version, resolve_any};

/// One ensure at a time in this process: concurrent tests share builds instead of racing.
static ENSURE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An image with its tag computed (nothing built yet).
#[derive(Debug, Clone)]
pub struct Planned {
    pub spec: &'static ImageSpec,
    pub tag: String,
    pub build_args: BTreeMap<String, String>,
    files: Vec<context::ContextFile>,
}

/// Tags of `spec` and all its parents, root first, computed from the fixtures alone.
pub fn plan(spec: &'static ImageSpec) -> Result<Vec<Planned>> {
    let fixtures = fixtures_dir();
    let mut planned: Vec<Planned> = Vec::new();
    for layer in catalogue::chain(spec) {
        let parent_tag = planned.last().map(|p| p.tag.clone());
        let mut build_args = BTreeMap::new();
        if let Some(parent) = &parent_tag {
            build_args.insert("PARENT".to_owned(), parent.clone());
        }
        let (files, tag_version, recipe) = match layer.kind {
            Kind::Rootfs => {
                let codename = base::host_codename()?;
                let recipe = base::mmdebstrap_args(&codename).join(" ");
                (Vec::new(), codename, recipe)
            }
            Kind::Dockerfile => (
                context::list(layer, &fixtures)?,
                layer.version.to_owned(),
                String::new(),
            ),
        };
        let mut args_for_hash = build_args.clone();
        if !recipe.is_empty() {
            args_for_hash.insert("mmdebstrap".to_owned(), recipe);
        }
        let digest = hash::context_digest(
            layer.name,
            &files,
            |f| std::fs::read(&f.source),
            parent_tag.as_deref(),
            &args_for_hash,
        )
        .with_context(|| format!("image {}: hashing its build context", layer.name))?;
        let tag = format!(
            "{}:{}-{}",
            layer.repository,
            tag_version,
            hash::short(&digest)
        );
        planned.push(Planned {
            spec: layer,
            tag,
            build_args,
            files,
        });
    }
    Ok(planned)
}

/// Build `system` at `version` and any missing parents; returns the local tag.
pub async fn ensure(
    docker: &Docker,
    system: &str,
    version: &str,
    progress: &MultiProgress,
) -> Result<String> {
    let spec = resolve_any(system, version)?;
    ensure_spec(docker, spec, progress).await
}

/// chaosbed's own image `name` run beside the nodes (the `nemesis` helper) and any missing
/// parents; returns its tag.
pub async fn ensure_tool(docker: &Docker, name: &str, progress: &MultiProgress) -> Result<String> {
    let spec = CATALOGUE
        .iter()
        .find(|spec| spec.name == name && spec.role == Role::Tool)
        .with_context(|| format!("chaosbed has no helper image named {name}"))?;
    ensure_spec(docker, spec, progress).await
}

/// An image from a build context outside the catalogue (a test's image made the way an
/// official one is), tagged `<repository>:<hash12>` over its files and build args, and built
/// only when that tag is missing; returns the tag.
pub async fn ensure_dir(
    docker: &Docker,
    repository: &str,
    dir: &std::path::Path,
    build_args: &BTreeMap<String, String>,
    progress: &MultiProgress,
) -> Result<String> {
    let _one_at_a_time = ENSURE_LOCK.lock().await;
    let files = context::list_dir(dir)?;
    let digest = hash::context_digest(
        repository,
        &files,
        |f| std::fs::read(&f.source),
        None,
        build_args,
    )
    .with_context(|| format!("hashing the build context {}", dir.display()))?;
    let tag = format!("{repository}:{}", hash::short(&digest));
    if build::exists(docker, &tag).await? {
        return Ok(tag);
    }
    let bar = build::spinner(progress, repository);
    let plain = progress.is_hidden();
    if plain {
        eprintln!("  building image {tag} from {}", dir.display());
    }
    let started = Instant::now();
    // What the host resolves for the build: jars of a pom.xml, wheels of a requirements.txt.
    let mut files = files;
    let scratch = context::Scratch::new("context")?;
    if files.iter().any(|f| f.path == "pom.xml") {
        crate::provision::tool(&crate::provision::MAVEN).await?;
        let what = format!("the build context {}", dir.display());
        let jars = context::stage_maven(repository, &what, &files, &scratch, |line| {
            bar.set_message(format!("mvn: {line}"));
        })
        .await?;
        files.extend(jars);
    }
    if files.iter().any(|f| f.path == "requirements.txt") {
        let wheels = context::stage_pip(repository, &files, &scratch, |line| {
            bar.set_message(format!("pip: {line}"));
        })
        .await?;
        files.extend(wheels);
    }
    let tar = context::pack(&files)?;
    build::build_context(docker, repository, &tag, dir, tar, build_args, &bar)
        .await
        .with_context(|| format!("building {tag} from {}", dir.display()))?;
    if plain {
        eprintln!("  built {tag} in {:.1?}", started.elapsed());
    }
    bar.finish_with_message(format!("built {tag} in {:.1?}", started.elapsed()));
    Ok(tag)
}

/// A user's build context (a workload's client): built `FROM` chaosbed's own layers, which it
/// names by the build args `CHAOSBED_BASE` (Debian) and `CHAOSBED_JRE` (Debian with Java 17);
/// a pom.xml's jars are staged into `lib/` and a requirements.txt's wheels into `wheels/`.
pub async fn ensure_client(
    docker: &Docker,
    dir: &std::path::Path,
    progress: &MultiProgress,
) -> Result<String> {
    let layer = |name: &str| catalogue::by_name(name).expect("the catalogue has its layers");
    let base = ensure_spec(docker, layer("base"), progress).await?;
    let jre = ensure_spec(docker, layer("jre"), progress).await?;
    let build_args = BTreeMap::from([
        ("CHAOSBED_BASE".to_owned(), base),
        ("CHAOSBED_JRE".to_owned(), jre),
    ]);
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    ensure_dir(
        docker,
        &format!("chaosbed-client/{name}"),
        dir,
        &build_args,
        progress,
    )
    .await
}

/// Every image in the catalogue (`cargo xtask images`); returns their tags in build order.
pub async fn ensure_all(docker: &Docker, progress: &MultiProgress) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    for spec in CATALOGUE.iter() {
        tags.push(ensure_spec(docker, spec, progress).await?);
    }
    Ok(tags)
}

/// Build `spec` and any missing parents; returns its tag.
pub async fn ensure_spec(
    docker: &Docker,
    spec: &'static ImageSpec,
    progress: &MultiProgress,
) -> Result<String> {
    let _one_at_a_time = ENSURE_LOCK.lock().await;
    let planned = plan(spec)?;
    // Walk down from the leaf: everything under the first existing tag is present.
    let mut first_missing = planned.len();
    for (index, layer) in planned.iter().enumerate().rev() {
        if build::exists(docker, &layer.tag).await? {
            break;
        }
        first_missing = index;
    }
    for layer in &planned[first_missing..] {
        build_one(docker, layer, progress).await?;
    }
    let leaf = planned.last().expect("a chain has its leaf");
    if spec.role == Role::System {
        alias(docker, spec, &leaf.tag).await?;
    }
    Ok(leaf.tag.clone())
}

/// The versions a system image is also tagged with: its exact version and its minor
/// (`3.8.0` and `3.8`; one tag when they are the same, as PostgreSQL's `15`). A release built
/// from a template gets its exact version only: the minor names the catalogue's image.
pub fn alias_versions(spec: &ImageSpec) -> Vec<String> {
    if spec.pom.is_some() {
        return vec![spec.version.to_string()];
    }
    let minor: String = spec
        .version
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    let mut versions = vec![spec.version.to_string()];
    if minor != spec.version {
        versions.push(minor);
    }
    versions
}

/// Stable tags a person or a compose file can name: `chaosbed/zookeeper:3.8.0` and `:3.8`.
async fn alias(docker: &Docker, spec: &ImageSpec, tag: &str) -> Result<()> {
    for version in alias_versions(spec) {
        build::tag(docker, tag, spec.repository, &version).await?;
    }
    Ok(())
}

async fn build_one(docker: &Docker, layer: &Planned, progress: &MultiProgress) -> Result<()> {
    let name = layer.spec.name;
    // Before the spinner: installing a missing tool says so on the console.
    match layer.spec.kind {
        Kind::Rootfs => crate::provision::tool(&crate::provision::MMDEBSTRAP).await?,
        Kind::Dockerfile if layer.spec.maven => {
            crate::provision::tool(&crate::provision::MAVEN).await?
        }
        Kind::Dockerfile => {}
    }
    let bar = build::spinner(progress, name);
    // Without a terminal the spinner is hidden: a log still says what is being built.
    let plain = progress.is_hidden();
    if plain {
        eprintln!("  building image {}", layer.tag);
    }
    let started = Instant::now();
    tracing::info!(image = name, tag = %layer.tag, "building image");
    let result = match layer.spec.kind {
        Kind::Rootfs => {
            let codename = base::host_codename()?;
            base::build_rootfs(docker, name, &codename, &layer.tag, &bar).await
        }
        Kind::Dockerfile => build_dockerfile(docker, layer, &bar).await,
    };
    let elapsed = started.elapsed();
    match &result {
        Ok(()) => {
            if plain {
                eprintln!("  built {} in {elapsed:.1?}", layer.tag);
            }
            bar.finish_with_message(format!("built {} in {elapsed:.1?}", layer.tag));
            tracing::info!(image = name, tag = %layer.tag, ?elapsed, "built image");
        }
        Err(_) => bar.abandon_with_message(format!("FAILED after {elapsed:.1?}")),
    }
    result
}

async fn build_dockerfile(
    docker: &Docker,
    layer: &Planned,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let mut files = layer.files.clone();
    let scratch = context::Scratch::new(layer.spec.name)?;
    if layer.spec.maven {
        bar.set_message("mvn dependency:copy-dependencies".to_owned());
        let release = format!("{} {}", layer.spec.system, layer.spec.version);
        let jars = context::stage_maven(layer.spec.name, &release, &files, &scratch, |line| {
            bar.set_message(format!("mvn: {line}"));
        })
        .await?;
        files.extend(jars);
    }
    bar.set_message(format!("sending context ({} files)", files.len()));
    let tar = tokio::task::spawn_blocking(move || context::pack(&files))
        .await
        .context("packing the build context")?
        .with_context(|| format!("image {}: packing its build context", layer.spec.name))?;
    let context_dir = fixtures_dir().join(layer.spec.context.unwrap_or_default());
    build::build_context(
        docker,
        layer.spec.name,
        &layer.tag,
        &context_dir,
        tar,
        &layer.build_args,
        bar,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_tags_every_layer_with_version_and_hash() {
        let spec = resolve("zookeeper", "3.9").unwrap();
        let planned = plan(spec).unwrap();
        let names: Vec<_> = planned.iter().map(|p| p.spec.name).collect();
        assert_eq!(names, ["base", "jre", "zookeeper-3.9"]);
        let leaf = &planned[2];
        assert!(
            leaf.tag.starts_with("chaosbed/zookeeper:3.9.5-"),
            "{}",
            leaf.tag
        );
        assert_eq!(leaf.tag.len(), "chaosbed/zookeeper:3.9.5-".len() + 12);
        assert_eq!(leaf.build_args["PARENT"], planned[1].tag);
        assert!(
            leaf.files
                .iter()
                .any(|f| f.path == "docker-entrypoint.sh" && f.executable)
        );
        // Planning twice gives the same tags: nothing time- or order-dependent goes in.
        let again: Vec<_> = plan(spec).unwrap().into_iter().map(|p| p.tag).collect();
        assert_eq!(
            again,
            planned.iter().map(|p| p.tag.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn aliases_are_the_exact_and_the_minor_version() {
        assert_eq!(
            alias_versions(resolve("zookeeper", "3.8").unwrap()),
            ["3.8.0", "3.8"]
        );
        assert_eq!(alias_versions(resolve("nginx", "1.22").unwrap()), ["1.22"]);
        assert_eq!(alias_versions(resolve("postgres", "15").unwrap()), ["15"]);
    }

    #[test]
    fn both_zookeeper_images_share_their_parents() {
        let a = plan(resolve("zookeeper", "3.8").unwrap()).unwrap();
        let b = plan(resolve("zookeeper", "3.9").unwrap()).unwrap();
        assert_eq!(a[1].tag, b[1].tag);
        assert_ne!(a[2].tag, b[2].tag);
    }
}

//! The doctor's Docker lines: whether an engine answers (within seconds), its version and data
//! dir, or how to start one; which planned images it holds and how many superseded tags.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use chaosbed::host::tools::{self, EngineStart};
use chaosbed::image;
use indicatif::HumanBytes;

use super::report::{Line, Status};

/// How long the engine may take to answer before the doctor says none does.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on every later request (info, image listing), so the doctor never hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the doctor learnt of the engine.
pub struct Engine {
    pub docker: Option<Docker>,
    /// The engine's DockerRootDir.
    pub root_dir: Option<PathBuf>,
    /// The kernel the engine runs on (differs from the host's under a VM).
    pub kernel: Option<String>,
    /// Its chaosbed images, or why they could not be listed; None without an engine.
    pub images: Option<Result<Vec<image::Present>, String>>,
}

impl Engine {
    /// Every tag of its chaosbed images, when it listed them.
    pub fn tags(&self) -> Option<BTreeSet<String>> {
        let images = self.images.as_ref()?.as_ref().ok()?;
        Some(images.iter().flat_map(|i| i.tags.iter().cloned()).collect())
    }
}

/// Where bollard connects: DOCKER_HOST, or the local socket.
fn address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

/// Connects within seconds and asks for version, data dir and images.
pub async fn probe() -> (Engine, Line) {
    let mut engine = Engine {
        docker: None,
        root_dir: None,
        kernel: None,
        images: None,
    };
    let address = address();
    let connected =
        match tokio::time::timeout(CONNECT_TIMEOUT, chaosbed::backend::docker::connect()).await {
            Ok(Ok(docker)) => Ok(docker.with_timeout(REQUEST_TIMEOUT)),
            Ok(Err(e)) => Err(e.root_cause().to_string()),
            Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        };
    let docker = match connected {
        Ok(docker) => docker,
        Err(why) => return (engine, not_answering(&address, &why)),
    };
    let version = docker.version().await;
    let info = docker.info().await;
    let (version, api) = match &version {
        Ok(v) => (
            v.version.clone().unwrap_or_else(|| "?".into()),
            v.api_version.clone().unwrap_or_else(|| "?".into()),
        ),
        Err(_) => ("?".into(), "?".into()),
    };
    if let Ok(info) = info {
        engine.root_dir = info.docker_root_dir.map(PathBuf::from);
        engine.kernel = info.kernel_version;
    }
    engine.images = Some(image::list(&docker).await.map_err(|e| format!("{e:#}")));
    let root = engine
        .root_dir
        .as_ref()
        .map(|r| format!("; data in {}", r.display()))
        .unwrap_or_default();
    let line = Line::ok(
        "engine",
        format!("Docker {version} (API {api}) answers at {address}{root}"),
    );
    engine.docker = Some(docker);
    (engine, line)
}

/// The engine line when none answers: how it could be started here.
fn not_answering(address: &str, why: &str) -> Line {
    let start = tools::engine_start(
        tools::is_root(),
        tools::find("dockerd").is_some(),
        tools::find("apt-get").is_some(),
    );
    let detail = format!("no Docker engine answers at {address} ({why});");
    match start {
        EngineStart::Start => Line::warning(
            Status::Missing,
            "engine",
            format!(
                "{detail} dockerd is installed: `cargo xtask chaos` and `bash .ci/run` start it \
                 (as root), or start it yourself: `sudo dockerd &`"
            ),
            "no Docker engine answers yet (dockerd is installed; `cargo xtask chaos` starts it)",
        ),
        EngineStart::InstallAndStart => Line::warning(
            Status::Missing,
            "engine",
            format!(
                "{detail} `cargo xtask chaos` and `bash .ci/run` install docker.io and start \
                 dockerd on Debian as root (as this host is), or do it yourself: `apt-get \
                 install docker.io && dockerd &`"
            ),
            "no Docker engine answers yet (`cargo xtask chaos` installs and starts one here)",
        ),
        EngineStart::Cannot(reason) => Line::blocker(
            Status::Missing,
            "engine",
            format!("{detail} {reason}"),
            "no Docker engine answers, and none can be started here",
        ),
    }
}

/// The images line and the superseded line, and how many planned images the engine lacks
/// (None when unknown).
pub fn image_lines(engine: &Engine) -> (Vec<Line>, Option<usize>) {
    let current = match image::current() {
        Ok(current) => current,
        Err(e) => {
            return (
                vec![Line::warning(
                    Status::Unknown,
                    "images",
                    format!("cannot plan the image tags: {e:#}"),
                    "image tags cannot be planned",
                )],
                None,
            );
        }
    };
    let planned = current.planned.len();
    let present = match &engine.images {
        None => {
            return (
                vec![Line::quiet(
                    Status::Unknown,
                    "images",
                    format!("{planned} images planned; no engine answers to say which are built"),
                )],
                None,
            );
        }
        Some(Err(e)) => {
            return (
                vec![Line::warning(
                    Status::Unknown,
                    "images",
                    format!("{planned} images planned; the engine did not list its images: {e}"),
                    "the engine did not list its images",
                )],
                None,
            );
        }
        Some(Ok(present)) => present,
    };
    let tags = engine.tags().unwrap_or_default();
    let missing: Vec<&str> = current
        .planned
        .iter()
        .filter(|(_, tag)| !tags.contains(tag))
        .map(|(spec, _)| spec.name)
        .collect();
    let built = planned - missing.len();
    let images = if missing.is_empty() {
        Line::ok(
            "images",
            format!("all {planned} images built at their current content hash"),
        )
    } else {
        let size: u64 = current
            .planned
            .iter()
            .filter(|(spec, _)| missing.contains(&spec.name))
            .map(|(spec, _)| chaosbed::host::need::image_size(spec.name))
            .sum();
        Line::warning(
            Status::Warn,
            "images",
            format!(
                "{built} of {planned} built; missing (about {}): {} — `cargo xtask images` \
                 builds them, or a run builds what it needs",
                HumanBytes(size),
                missing.join(", ")
            ),
            &format!("{} images to build", missing.len()),
        )
    };
    let stale = image::superseded(present, &current.tags());
    let count: usize = stale.iter().map(|s| s.tags.len()).sum();
    let bytes: u64 = stale.iter().map(|s| s.frees).sum();
    let bound = if stale.iter().any(|s| s.upper_bound) {
        "up to"
    } else {
        "about"
    };
    let superseded = if count == 0 {
        Line::ok("superseded", "no superseded chaosbed image tags")
    } else {
        Line::warning(
            Status::Warn,
            "superseded",
            format!(
                "{count} chaosbed image tags no current plan or alias names, {bound} {} \
                 (`cargo xtask clean --images` removes them)",
                HumanBytes(bytes)
            ),
            &format!("{count} superseded image tags"),
        )
    };
    (vec![images, superseded], Some(missing.len()))
}

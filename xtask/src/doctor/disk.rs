//! The doctor's disk lines: free space where Docker keeps its data, against what the suite's
//! largest scenario needs (the runner refuses a run that does not fit), and where target/ is.

use std::path::{Path, PathBuf};

use chaosbed::host::{disk, need};
use chaosbed::scenario::Scenario;
use indicatif::HumanBytes;

use super::engine::Engine;
use super::report::{Line, Status};

/// Where Docker keeps its data when no engine says.
const DEFAULT_DOCKER_ROOT: &str = "/var/lib/docker";

/// Free space a build from scratch needs in target/: a debug build of the workspace with its
/// tests, xtask and clippy's files took 5.1 GiB.
const TARGET_FRESH: u64 = 6 << 30;
/// Below this, even an incremental build or a run's directory may not fit.
const TARGET_MIN: u64 = 2 << 30;

/// The cargo target dir: CARGO_TARGET_DIR, else the workspace's target/.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::absolute(&dir).unwrap_or_else(|_| PathBuf::from(dir)),
        None => crate::root().join("target"),
    }
}

/// The suite's scenario files, parsed; those that do not parse are left to `cargo test`.
fn suite() -> Vec<Scenario> {
    crate::chaos::all_scenarios()
        .unwrap_or_default()
        .iter()
        .filter_map(|file| chaosbed::scenario::load(file).ok())
        .collect()
}

/// The scenario that needs the most on a filesystem of `total` bytes, and its need. Without an
/// engine's listing every image counts as still to build.
fn largest(suite: &[Scenario], engine: &Engine, total: u64) -> Option<(String, need::Need)> {
    let present = engine.tags().unwrap_or_default();
    suite
        .iter()
        .map(|scenario| {
            let to_build = chaosbed::image::missing_from(&present, &need::images(scenario))
                .unwrap_or_default();
            (
                scenario.name.clone(),
                need::estimate(scenario, &to_build, total),
            )
        })
        .max_by_key(|(_, need)| need.total())
}

/// The Docker data line and the target/ line.
pub fn lines(engine: &Engine) -> Vec<Line> {
    let docker_root = engine
        .root_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DOCKER_ROOT));
    let mut out = vec![docker_line(engine, &docker_root)];
    out.push(target_line(&target_dir(), &docker_root));
    out
}

fn docker_line(engine: &Engine, root: &Path) -> Line {
    const ITEM: &str = "disk: docker";
    if engine.docker.is_some() && !root.exists() {
        return Line::quiet(
            Status::Unknown,
            ITEM,
            format!(
                "the engine keeps its data in {}, which is not on this host (an engine in a VM \
                 or on another machine): its free space cannot be measured here",
                root.display()
            ),
        );
    }
    let space = match disk::space(root) {
        Ok(space) => space,
        Err(e) => {
            return Line::warning(
                Status::Unknown,
                ITEM,
                format!("{e:#}"),
                "free disk for Docker unknown",
            );
        }
    };
    let free = HumanBytes(space.free);
    let Some((name, need)) = largest(&suite(), engine, space.total) else {
        return Line::ok(ITEM, format!("{free} free in {}", space.place()));
    };
    let needed = HumanBytes(need.total());
    let assumed = if engine.docker.is_none() {
        " with every image still to build"
    } else {
        ""
    };
    if space.free < need.total() {
        Line::blocker(
            Status::Missing,
            ITEM,
            format!(
                "{free} free in {}, and scenario {name} needs about {needed}{assumed} ({need}): \
                 a run would be refused; `cargo xtask clean --images` and `docker system \
                 prune` free space",
                space.place()
            ),
            &format!("only {free} free for Docker's data, and {name} needs {needed}"),
        )
    } else {
        Line::ok(
            ITEM,
            format!(
                "{free} free in {}; the suite's largest scenario, {name}, needs about \
                 {needed}{assumed}",
                space.place()
            ),
        )
    }
}

fn target_line(target: &Path, docker_root: &Path) -> Line {
    const ITEM: &str = "disk: target";
    let space = match disk::space(target) {
        Ok(space) => space,
        Err(e) => {
            return Line::warning(
                Status::Unknown,
                ITEM,
                format!("{e:#}"),
                "free disk for target/ unknown",
            );
        }
    };
    let shared = if disk::space(docker_root).is_ok_and(|docker| docker.device == space.device) {
        " (the same filesystem as Docker's data)"
    } else {
        ""
    };
    let free = HumanBytes(space.free);
    let fresh = HumanBytes(TARGET_FRESH);
    let place = space.place();
    if space.free < TARGET_MIN {
        Line::blocker(
            Status::Missing,
            ITEM,
            format!(
                "{free} free in {place}{shared}: too little to rebuild chaosbed or write a run's \
                 directory; a build from scratch needs about {fresh} (`cargo clean` drops old \
                 builds)"
            ),
            &format!("only {free} free for target/"),
        )
    } else if space.free < TARGET_FRESH {
        Line::warning(
            Status::Warn,
            ITEM,
            format!(
                "{free} free in {place}{shared}: enough to rebuild, but a build from scratch \
                 needs about {fresh}"
            ),
            &format!("only {free} free for target/"),
        )
    } else {
        Line::ok(
            ITEM,
            format!("{free} free in {place}{shared}; a build from scratch needs about {fresh}"),
        )
    }
}

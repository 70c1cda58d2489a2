//! How much free disk a scenario needs where the Docker engine keeps its data, estimated from
//! its topology: what one node of each system writes in a run (a small table), a floor, the
//! images still to build, and for bookies the headroom below their disk-usage threshold.
//! Pure: the runner and `cargo xtask doctor` measure; this decides.

use std::fmt;

use indicatif::HumanBytes;

use super::disk::Space;
use crate::image::{ImageSpec, resolve_any};
use crate::scenario::{FaultKind, Scenario, SystemKind, SystemSpec, systems};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Needed whatever the topology: container creation, layer unpacking and the engine's own
/// metadata fail on a full disk, and the init jobs' containers write logs too.
pub const FLOOR: u64 = 2 * GIB;

/// What a node whose data volume is a tmpfs (`disk = "..."`) writes to disk: its container log
/// and writable layer only, its data lives in memory.
pub const TMPFS_NODE: u64 = 64 * MIB;

/// The bookies' `diskUsageThreshold` in chaosbed's bookkeeper.conf: above this fraction of
/// their filesystem used, bookies turn read-only and Pulsar stops accepting writes.
pub const BOOKIE_DISK_USAGE_THRESHOLD: f64 = 0.95;

/// The most one node of `system` writes to the engine's disk in a run (its data volume,
/// container log and writable layer), rounded up. Bookies write the most.
pub fn per_node(system: SystemKind) -> u64 {
    system.disk_per_node()
}

/// Roughly what building an image adds to the engine's disk, by catalogue name: its own
/// layers, rounded up (on bookworm `docker images` showed base 164 MB, jre +242 MB, zookeeper
/// +45 MB, hbase +104 MB, the Pinpoint collector +96 MB, web +122 MB and app +66 MB). The Java
/// images are mostly their jars; a Pulsar release's image serves its bookies too, but the
/// BookKeeper-versioned entry is a build of its own.
pub fn image_size(name: &str) -> u64 {
    match name {
        "base" => 192 * MIB,
        "jre" => 256 * MIB,
        "zookeeper-3.8" | "zookeeper-3.9" => 64 * MIB,
        "pulsar-3.0" | "pulsar-4.0" | "bookkeeper-4.16" | "bookkeeper-4.17" => 640 * MIB,
        "pulsar-perf" => 320 * MIB,
        "skywalking-9.6" | "skywalking-10.1" => 512 * MIB,
        "hbase-2.5" | "pinpoint-collector-2.5" | "pinpoint-web-2.5" | "postgres" => 192 * MIB,
        "pinpoint-agent-app" => 128 * MIB,
        "nginx" => 32 * MIB,
        // A new catalogue entry without its own estimate (opensearch-2.19: 452 MB in all).
        _ => 512 * MIB,
    }
}

/// The catalogue images a scenario runs, without their parent layers: each system without an
/// `image` of its own, at its version, and every upgrade step's version. A version the
/// catalogue lacks is left out here; setup reports it.
pub fn images(scenario: &Scenario) -> Vec<&'static ImageSpec> {
    let mut out: Vec<&'static ImageSpec> = Vec::new();
    let mut add = |system: SystemKind, version: &str| {
        if let Ok(spec) = resolve_any(system.name(), version)
            && !out.iter().any(|s| s.name == spec.name)
        {
            out.push(spec);
        }
    };
    for (system, spec, _) in systems(scenario) {
        if spec.image.is_none() {
            let version = spec.version.as_deref().unwrap_or(system.default_version());
            add(system, version);
        }
    }
    for fault in &scenario.faults {
        if *fault.kind.get_ref() == FaultKind::Upgrade
            && let Some(version) = fault.params().version
        {
            add(fault.system(scenario.workload.system()), &version);
        }
    }
    out
}

/// One term of an estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub what: String,
    pub bytes: u64,
}

/// A scenario's estimated need of free disk, term by term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub parts: Vec<Part>,
}

impl Need {
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self
            .parts
            .iter()
            .map(|p| format!("{} {}", p.what, HumanBytes(p.bytes)))
            .collect();
        write!(f, "{}", terms.join(" + "))
    }
}

/// The disk `scenario` needs on a filesystem of `fs_total` bytes, with `to_build` the images
/// setup must still build there.
pub fn estimate(scenario: &Scenario, to_build: &[&ImageSpec], fs_total: u64) -> Need {
    let mut parts = Vec::new();
    for (system, spec, _) in systems(scenario) {
        let nodes = u64::from(spec.node_count());
        let (each, on) = match spec.disk {
            Some(_) => (TMPFS_NODE, " (data on tmpfs)"),
            None => (per_node(system), ""),
        };
        let plural = if nodes == 1 { "" } else { "s" };
        parts.push(Part {
            what: format!("{nodes} {system} node{plural}{on}"),
            bytes: nodes * each,
        });
    }
    if !to_build.is_empty() {
        let names: Vec<&str> = to_build.iter().map(|s| s.name).collect();
        parts.push(Part {
            what: format!("images to build ({})", names.join(", ")),
            bytes: to_build.iter().map(|s| image_size(s.name)).sum(),
        });
    }
    if let Some(bookies) = scenario.topology.spec(crate::system::bookkeeper::KIND)
        && bookies.disk.is_none()
    {
        let threshold = bookie_threshold(bookies);
        parts.push(Part {
            what: format!(
                "bookies' headroom ({:.0}% of the filesystem stays free below their \
                 diskUsageThreshold {threshold})",
                (1.0 - threshold) * 100.0
            ),
            bytes: fraction_free(fs_total, threshold),
        });
    }
    parts.push(Part {
        what: "floor".to_owned(),
        bytes: FLOOR,
    });
    Need { parts }
}

/// The bytes of a `total`-byte filesystem above `threshold` of it used, rounded up (in
/// millionths, so that 0.95 of 200 GiB leaves exactly 10 GiB).
fn fraction_free(total: u64, threshold: f64) -> u64 {
    let free_millionths = (1_000_000.0 - threshold * 1_000_000.0).round() as u128;
    (u128::from(total) * free_millionths).div_ceil(1_000_000) as u64
}

/// The bookies' disk-usage threshold: the scenario's `diskUsageThreshold`, else chaosbed's.
fn bookie_threshold(bookies: &SystemSpec) -> f64 {
    let configured = bookies
        .config
        .get("diskUsageThreshold")
        .and_then(|value| crate::system::config_keys::number(value.get_ref()));
    configured
        .filter(|t| (0.0..=1.0).contains(t))
        .unwrap_or(BOOKIE_DISK_USAGE_THRESHOLD)
}

/// Why `scenario` must not start with `space` free, or None when its `need` fits.
pub fn refusal(scenario: &str, space: &Space, need: &Need) -> Option<String> {
    if space.free >= need.total() {
        return None;
    }
    Some(format!(
        "refusing to start scenario {scenario}: {free} free in {place} (the Docker engine's \
         data), and the run needs about {total} ({need}). Free some space: `cargo xtask clean \
         --images` removes superseded chaosbed images, `docker system prune` removes stopped \
         containers, unused networks, dangling images and the build cache (`docker system df` \
         shows what takes the space)",
        free = HumanBytes(space.free),
        place = space.place(),
        total = HumanBytes(need.total()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(topology: &str, faults: &str) -> Scenario {
        let text = format!(
            "name = \"t\"\ntier = \"full\"\n{topology}\n[workload]\nkind = \"zk-register\"\n\
             duration = \"30s\"\n{faults}\n[[check]]\nkind = \"quorum\"\n"
        );
        crate::scenario::parse("t.toml", &text).unwrap()
    }

    fn space(free: u64, total: u64) -> Space {
        Space::from_blocks(
            Path::new("/var/lib/docker"),
            Path::new("/var/lib/docker"),
            total / 4096,
            free / 4096,
            4096,
            1,
        )
    }

    #[test]
    fn three_zookeeper_nodes_need_their_table_entry_and_the_floor() {
        let s = scenario("[topology.zookeeper]\nnodes = 3\n", "");
        let need = estimate(&s, &[], 100 * GIB);
        assert_eq!(need.total(), 3 * 256 * MIB + FLOOR);
        assert_eq!(
            need.to_string(),
            "3 zookeeper nodes 768.00 MiB + floor 2.00 GiB"
        );
    }

    #[test]
    fn images_still_to_build_add_their_size() {
        let s = scenario("[topology.zookeeper]\nnodes = 1\n", "");
        let leaves = images(&s);
        assert_eq!(
            leaves.iter().map(|i| i.name).collect::<Vec<_>>(),
            ["zookeeper-3.8"]
        );
        let base = crate::image::CATALOGUE
            .iter()
            .find(|i| i.name == "base")
            .unwrap();
        let need = estimate(&s, &[base, leaves[0]], 100 * GIB);
        assert_eq!(need.total(), 256 * MIB + 192 * MIB + 64 * MIB + FLOOR);
        assert!(
            need.to_string()
                .contains("images to build (base, zookeeper-3.8) 256.00 MiB"),
            "{need}"
        );
    }

    #[test]
    fn bookies_keep_their_usage_threshold_free_unless_on_tmpfs() {
        let pulsar = "[topology.zookeeper]\nnodes = 1\n[topology.bookkeeper]\nnodes = 3\n\
                      [topology.pulsar]\nnodes = 1\n";
        let need = estimate(&scenario(pulsar, ""), &[], 200 * GIB);
        // 5% of 200 GiB stays free, on top of what the nodes write.
        assert_eq!(
            need.total(),
            256 * MIB + 3 * 2 * GIB + 512 * MIB + 10 * GIB + FLOOR
        );
        let tuned = format!("{pulsar}[topology.bookkeeper.config]\ndiskUsageThreshold = 0.99\n");
        let need = estimate(&scenario(&tuned, ""), &[], 200 * GIB);
        let headroom = need
            .parts
            .iter()
            .find(|p| p.what.contains("headroom"))
            .unwrap();
        assert_eq!(headroom.bytes, 200 * GIB / 100);

        let tmpfs = pulsar.replace("nodes = 3\n", "nodes = 3\ndisk = \"256MiB\"\n");
        let need = estimate(&scenario(&tmpfs, ""), &[], 200 * GIB);
        assert!(!need.parts.iter().any(|p| p.what.contains("headroom")));
        assert!(
            need.to_string()
                .contains("3 bookkeeper nodes (data on tmpfs) 192.00 MiB")
        );
    }

    #[test]
    fn an_own_image_builds_nothing_and_upgrades_add_their_version() {
        let official = scenario(
            "[topology.zookeeper]\nnodes = 3\nimage = \"zookeeper:3.9\"\n",
            "",
        );
        assert!(images(&official).is_empty());
        let upgrade = scenario(
            "[topology.zookeeper]\nnodes = 3\nversion = \"3.8\"\n",
            "[[fault]]\nkind = \"upgrade\"\ntarget = \"all\"\nat = \"5s\"\nversion = \"3.9\"\n",
        );
        assert_eq!(
            images(&upgrade).iter().map(|i| i.name).collect::<Vec<_>>(),
            ["zookeeper-3.8", "zookeeper-3.9"]
        );
    }

    #[test]
    fn a_run_that_does_not_fit_is_refused_with_the_numbers() {
        let s = scenario("[topology.zookeeper]\nnodes = 3\n", "");
        let need = estimate(&s, &[], 100 * GIB);
        assert_eq!(
            refusal("zk-leader-kill", &space(3 * GIB, 100 * GIB), &need),
            None
        );
        let text = refusal("zk-leader-kill", &space(GIB, 100 * GIB), &need).unwrap();
        assert!(text.contains("scenario zk-leader-kill"), "{text}");
        assert!(text.contains("1.00 GiB free in /var/lib/docker"), "{text}");
        assert!(text.contains("needs about 2.75 GiB"), "{text}");
        assert!(text.contains("cargo xtask clean --images"), "{text}");
        assert!(text.contains("docker system prune"), "{text}");
    }
}

//! The typed image catalogue: which images exist, how they stack, and version resolution.

use std::cmp::Ordering;

use super::maven::Artifact;

/// How an image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Debian rootfs made by mmdebstrap from the host's apt sources, then imported.
    Rootfs,
    /// A `docker build` of a staged context under fixtures/images.
    Dockerfile,
}

/// What an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A layer other images build on (base, jre); never run by a scenario.
    Layer,
    /// An image a scenario can name as (system, version).
    System,
    /// An image chaosbed runs beside the nodes (the nemesis helper); never named by a scenario.
    Tool,
}

/// One image of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Catalogue key and value of the `chaosbed.image` label, e.g. `zookeeper-3.9`.
    pub name: &'static str,
    /// The system as scenarios name it, e.g. `zookeeper`.
    pub system: &'static str,
    /// Exact version of what the image runs, e.g. `3.9.5`.
    pub version: &'static str,
    /// Repository part of the local tag, e.g. `chaosbed/zookeeper`.
    pub repository: &'static str,
    pub kind: Kind,
    pub role: Role,
    /// Build context, relative to the fixtures dir (None for the rootfs).
    pub context: Option<&'static str>,
    /// Files relative to the fixtures dir copied into the context root by file name,
    /// so images can share one copy (the ZooKeeper entrypoint).
    pub shared: &'static [&'static str],
    /// Name of the image this one is built `FROM` (passed as build arg `PARENT`).
    pub parent: Option<&'static str>,
    /// Whether `pom.xml` in the context is resolved on the host into `lib/` before the build.
    pub maven: bool,
    /// How other releases of the system are built from this image's pom (None: only this one).
    pub release: Option<Release>,
    /// A pom.xml used instead of the context's: the template written for another release.
    pub pom: Option<&'static str>,
}

/// The Maven releases a catalogue image's pom can be templated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The artifact whose releases on Maven Central are the system's versions.
    pub artifact: Artifact,
    /// The pom property holding the release's version.
    pub property: &'static str,
    /// Properties the release's own parent pom sets, copied into the template (Pulsar's
    /// `bookkeeper.version`: the bookie a broker release was built against).
    pub from_parent: Option<(Artifact, &'static [&'static str])>,
    /// Artifacts (`group:artifact`, or `group:artifact:classifier`) pinned to the release's
    /// version in the template's dependencyManagement, over what an imported BOM says: the
    /// bookie's jars, which the Pulsar BOM would otherwise keep at its own BookKeeper.
    pub pins: &'static [&'static str],
}

const ZK_ENTRYPOINT: &str = "zookeeper/docker-entrypoint.sh";

/// The files every Pulsar image shares: the entrypoint (bookie, broker, init jobs), the
/// official image's apply-config-from-env contract, and the config files.
const PULSAR_SHARED: &[&str] = &[
    "pulsar/Dockerfile",
    "pulsar/pulsar-entrypoint.sh",
    "pulsar/apply-config-from-env.sh",
    "pulsar/conf/broker.conf",
    "pulsar/conf/bookkeeper.conf",
    "pulsar/conf/log4j2.properties",
];

const ZOOKEEPER_RELEASES: Release = Release {
    artifact: Artifact {
        group: "org.apache.zookeeper",
        artifact: "zookeeper",
    },
    property: "zookeeper.version",
    from_parent: None,
    pins: &[],
};

const PULSAR_RELEASES: Release = Release {
    artifact: Artifact {
        group: "org.apache.pulsar",
        artifact: "pulsar-broker",
    },
    property: "pulsar.version",
    from_parent: Some((
        Artifact {
            group: "org.apache.pulsar",
            artifact: "pulsar",
        },
        &["bookkeeper.version"],
    )),
    pins: &[],
};

const SKYWALKING_RELEASES: Release = Release {
    artifact: Artifact {
        group: "org.apache.skywalking",
        artifact: "server-starter",
    },
    property: "skywalking.version",
    from_parent: None,
    pins: &[],
};

/// A bookie at another BookKeeper release: the Pulsar image's pom with every BookKeeper jar a
/// bookie runs pinned to that release (the jars of chaosbed's 4.16 and 4.17 bookies).
const BOOKKEEPER_RELEASES: Release = Release {
    artifact: Artifact {
        group: "org.apache.bookkeeper",
        artifact: "bookkeeper-server",
    },
    property: "bookkeeper.version",
    from_parent: None,
    pins: &[
        "org.apache.bookkeeper:bookkeeper-common",
        "org.apache.bookkeeper:bookkeeper-common-allocator",
        "org.apache.bookkeeper:bookkeeper-proto",
        "org.apache.bookkeeper:bookkeeper-server",
        "org.apache.bookkeeper:bookkeeper-slogger-api",
        "org.apache.bookkeeper:bookkeeper-slogger-slf4j",
        "org.apache.bookkeeper:bookkeeper-tools-framework",
        "org.apache.bookkeeper:circe-checksum",
        "org.apache.bookkeeper:cpu-affinity",
        "org.apache.bookkeeper:native-io",
        "org.apache.bookkeeper:statelib",
        "org.apache.bookkeeper:stream-storage-api",
        "org.apache.bookkeeper:stream-storage-common",
        "org.apache.bookkeeper:stream-storage-java-client",
        "org.apache.bookkeeper:stream-storage-java-client-base",
        "org.apache.bookkeeper:stream-storage-proto",
        "org.apache.bookkeeper:stream-storage-server",
        "org.apache.bookkeeper:stream-storage-service-api",
        "org.apache.bookkeeper:stream-storage-service-impl",
        "org.apache.bookkeeper.stats:bookkeeper-stats-api",
        "org.apache.bookkeeper.stats:codahale-metrics-provider",
        "org.apache.bookkeeper.stats:prometheus-metrics-provider",
        "org.apache.bookkeeper.http:http-server",
        "org.apache.bookkeeper.http:vertx-http-server",
        "org.apache.distributedlog:distributedlog-common",
        "org.apache.distributedlog:distributedlog-core",
        "org.apache.distributedlog:distributedlog-core:tests",
        "org.apache.distributedlog:distributedlog-protocol",
    ],
};

/// Every image chaosbed builds, parents before children.
const BUILT_IN: &[ImageSpec] = &[
    ImageSpec {
        name: "base",
        system: "base",
        version: "minbase",
        repository: "chaosbed/base",
        kind: Kind::Rootfs,
        role: Role::Layer,
        context: None,
        shared: &[],
        parent: None,
        maven: false,
        release: None,
        pom: None,
    },
    ImageSpec {
        name: "jre",
        system: "jre",
        version: "17",
        repository: "chaosbed/jre",
        kind: Kind::Dockerfile,
        role: Role::Layer,
        context: Some("jre"),
        shared: &[],
        parent: Some("base"),
        maven: false,
        release: None,
        pom: None,
    },
    ImageSpec {
        name: "nemesis",
        system: "nemesis",
        version: "1",
        repository: "chaosbed/nemesis",
        kind: Kind::Dockerfile,
        role: Role::Tool,
        context: Some("nemesis"),
        shared: &[],
        parent: Some("base"),
        maven: false,
        release: None,
        pom: None,
    },
    ImageSpec {
        name: "zookeeper-3.8",
        system: "zookeeper",
        version: "3.8.0",
        repository: "chaosbed/zookeeper",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("zookeeper-3.8"),
        shared: &[ZK_ENTRYPOINT],
        parent: Some("jre"),
        maven: false,
        release: None,
        pom: None,
    },
    ImageSpec {
        name: "zookeeper-3.9",
        system: "zookeeper",
        version: "3.9.5",
        repository: "chaosbed/zookeeper",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("zookeeper-3.9"),
        shared: &[ZK_ENTRYPOINT],
        parent: Some("jre"),
        maven: true,
        release: Some(ZOOKEEPER_RELEASES),
        pom: None,
    },
    // One image per Pulsar release runs bookies, brokers and init jobs, like apachepulsar/pulsar.
    // The bookkeeper entries build the same context under the BookKeeper version that release
    // bundles, so a scenario names its bookies by BookKeeper version (the layers are shared).
    ImageSpec {
        name: "pulsar-3.0",
        system: "pulsar",
        version: "3.0.7",
        repository: "chaosbed/pulsar",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pulsar-3.0"),
        shared: PULSAR_SHARED,
        parent: Some("jre"),
        maven: true,
        release: Some(PULSAR_RELEASES),
        pom: None,
    },
    ImageSpec {
        name: "pulsar-4.0",
        system: "pulsar",
        version: "4.0.7",
        repository: "chaosbed/pulsar",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pulsar-4.0"),
        shared: PULSAR_SHARED,
        parent: Some("jre"),
        maven: true,
        release: Some(PULSAR_RELEASES),
        pom: None,
    },
    ImageSpec {
        name: "bookkeeper-4.16",
        system: "bookkeeper",
        version: "4.16.6",
        repository: "chaosbed/bookkeeper",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pulsar-3.0"),
        shared: PULSAR_SHARED,
        parent: Some("jre"),
        maven: true,
        release: Some(BOOKKEEPER_RELEASES),
        pom: None,
    },
    ImageSpec {
        name: "bookkeeper-4.17",
        system: "bookkeeper",
        version: "4.17.2",
        repository: "chaosbed/bookkeeper",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pulsar-4.0"),
        shared: PULSAR_SHARED,
        parent: Some("jre"),
        maven: true,
        release: Some(BOOKKEEPER_RELEASES),
        pom: None,
    }, // pulsar-perf (org.apache.pulsar:pulsar-testclient) for the producer bench: a client tool,
    // not a cluster system; 4.0.8 is the release whose testclient resolves from Maven Central.
    ImageSpec {
        name: "pulsar-perf",
        system: "pulsar-perf",
        version: "4.0.8",
        repository: "chaosbed/pulsar-perf",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pulsar-perf"),
        shared: &[],
        parent: Some("jre"),
        maven: true,
        release: None,
        pom: None,
    },
    // SkyWalking's OAP server, laid out like apache/skywalking-oap-server: oap-libs/ from
    // server-starter's dependencies, config/ from server-starter's sources jar.
    ImageSpec {
        name: "skywalking-9.6",
        system: "skywalking",
        version: "9.6.0",
        repository: "chaosbed/skywalking-oap",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("skywalking-9.6"),
        shared: &[],
        parent: Some("jre"),
        maven: true,
        release: Some(SKYWALKING_RELEASES),
        pom: None,
    },
    // OAP 10.1.0, the newest release this mirror lists: its jars with 9.6.0's config/ (10.1.0's
    // own is not served; see the context's Dockerfile for what was changed and what is missing).
    ImageSpec {
        name: "skywalking-10.1",
        system: "skywalking",
        version: "10.1.0",
        repository: "chaosbed/skywalking-oap",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("skywalking-10.1"),
        // The 9.6 image's entrypoint (the official image's contract) and logging config.
        shared: &[
            "skywalking-9.6/docker-entrypoint.sh",
            "skywalking-9.6/log4j2.xml",
        ],
        parent: Some("jre"),
        maven: true,
        release: None,
        pom: None,
    },
    // SkyWalking's storage and load balancer, from Debian's packages of the host's release: the
    // versions are those packages' (PostgreSQL by major version, NGINX by major.minor).
    ImageSpec {
        name: "postgres",
        system: "postgres",
        version: "15",
        repository: "chaosbed/postgres",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("postgres"),
        shared: &[],
        parent: Some("base"),
        maven: false,
        release: None,
        pom: None,
    },
    ImageSpec {
        name: "nginx",
        system: "nginx",
        version: "1.22",
        repository: "chaosbed/nginx",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("nginx"),
        shared: &[],
        parent: Some("base"),
        maven: false,
        release: None,
        pom: None,
    },
    // Pinpoint's storage: HBase 2.5 (hbase-server and its dependencies from Maven Central), master
    // and region server in one JVM over an external ZooKeeper ensemble or an embedded one, and
    // Pinpoint 2.5's tables created at start (schema/pinpoint-2.5.schema in the context).
    ImageSpec {
        name: "hbase-2.5",
        system: "hbase",
        version: "2.5.8",
        repository: "chaosbed/hbase",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("hbase-2.5"),
        shared: &[],
        parent: Some("jre"),
        maven: true,
        release: None,
        pom: None,
    },
    // Pinpoint APM from Maven Central, run like pinpointdocker's images: the collector (2.5.1, its
    // only release there) and the web (2.5.0 on the 2.5.1 modules: Central lacks 2.5.0's parent
    // and modules, see its pom.xml).
    ImageSpec {
        name: "pinpoint-collector-2.5",
        system: "pinpoint-collector",
        version: "2.5.1",
        repository: "chaosbed/pinpoint-collector",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pinpoint-collector-2.5"),
        shared: &[],
        parent: Some("jre"),
        maven: true,
        release: None,
        pom: None,
    },
    ImageSpec {
        name: "pinpoint-web-2.5",
        system: "pinpoint-web",
        version: "2.5.0",
        repository: "chaosbed/pinpoint-web",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pinpoint-web-2.5"),
        shared: &[],
        parent: Some("jre"),
        maven: true,
        release: None,
        pom: None,
    },
    // The traced application: embedded Tomcat with the Pinpoint Java agent 3.0.1 (gRPC only), the
    // only agent release on Central; versioned by the agent.
    ImageSpec {
        name: "pinpoint-agent-app",
        system: "pinpoint-agent-app",
        version: "3.0.1",
        repository: "chaosbed/pinpoint-agent-app",
        kind: Kind::Dockerfile,
        role: Role::System,
        context: Some("pinpoint-agent-app"),
        shared: &[],
        parent: Some("jre"),
        maven: true,
        release: None,
        pom: None,
    },
];

/// Every image: the layers, tools and systems above, then each registered system's own images
/// (`System::images`), so a system added in its folder brings its image with it.
pub static CATALOGUE: std::sync::LazyLock<Vec<ImageSpec>> = std::sync::LazyLock::new(|| {
    BUILT_IN
        .iter()
        .cloned()
        .chain(
            crate::system::SYSTEMS
                .iter()
                .flat_map(|system| system.images().iter().cloned()),
        )
        .collect()
});

/// Why a (system, version) pair names no image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no image for system {system:?}; available systems: {available}")]
    UnknownSystem { system: String, available: String },
    #[error(
        "no {system} image for version {version:?}; available versions: {available} \
         (a prefix such as 3.9 picks the newest match)"
    )]
    UnknownVersion {
        system: String,
        version: String,
        available: String,
    },
    #[error("no {system} release {version:?} on Maven Central ({artifact}); it has {released}")]
    NotReleased {
        system: String,
        version: String,
        artifact: String,
        released: String,
    },
    #[error("{system} {version}: {message}")]
    Maven {
        system: String,
        version: String,
        message: String,
    },
}

/// The (system, version) pairs scenarios can name; their layers are built as parents.
pub fn available() -> Vec<(&'static str, &'static str)> {
    CATALOGUE
        .iter()
        .filter(|s| s.role == Role::System)
        .map(|s| (s.system, s.version))
        .collect()
}

/// The catalogue entry called `name`.
pub fn by_name(name: &str) -> Option<&'static ImageSpec> {
    CATALOGUE.iter().find(|s| s.name == name)
}

/// Resolve `version` exactly, or as a dotted prefix (`3.9` -> newest `3.9.*`).
pub fn resolve(system: &str, version: &str) -> Result<&'static ImageSpec, ResolveError> {
    let candidates: Vec<&'static ImageSpec> =
        CATALOGUE.iter().filter(|s| s.system == system).collect();
    if candidates.is_empty() {
        let mut systems: Vec<&str> = CATALOGUE.iter().map(|s| s.system).collect();
        systems.dedup();
        return Err(ResolveError::UnknownSystem {
            system: system.to_owned(),
            available: systems.join(", "),
        });
    }
    let version = version.trim();
    if let Some(exact) = candidates.iter().find(|s| s.version == version) {
        return Ok(exact);
    }
    let prefix = format!("{version}.");
    candidates
        .iter()
        .filter(|s| !version.is_empty() && s.version.starts_with(&prefix))
        .max_by(|a, b| compare_versions(a.version, b.version))
        .copied()
        .ok_or_else(|| ResolveError::UnknownVersion {
            system: system.to_owned(),
            version: version.to_owned(),
            available: candidates
                .iter()
                .map(|s| s.version)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The chain from the root layer down to `spec` (root first).
pub fn chain(spec: &'static ImageSpec) -> Vec<&'static ImageSpec> {
    let mut chain = vec![spec];
    let mut current = spec;
    while let Some(parent) = current.parent {
        // The catalogue is a constant; a dangling parent is a bug caught by the unit tests.
        current = by_name(parent).expect("catalogue parent exists");
        chain.push(current);
    }
    chain.reverse();
    chain
}

/// Compare dotted versions numerically where both parts are numbers.
pub(super) fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_version_resolves_to_the_exact_release() {
        assert_eq!(resolve("zookeeper", "3.8").unwrap().version, "3.8.0");
        assert_eq!(resolve("zookeeper", "3.9").unwrap().version, "3.9.5");
        assert_eq!(resolve("zookeeper", "3.9").unwrap().name, "zookeeper-3.9");
    }

    #[test]
    fn exact_version_resolves() {
        assert_eq!(resolve("zookeeper", "3.8.0").unwrap().name, "zookeeper-3.8");
        assert_eq!(resolve("zookeeper", "3.9.5").unwrap().name, "zookeeper-3.9");
    }

    #[test]
    fn major_prefix_picks_the_newest() {
        assert_eq!(resolve("zookeeper", "3").unwrap().version, "3.9.5");
    }

    #[test]
    fn unknown_version_lists_the_available_ones() {
        let err = resolve("zookeeper", "3.7").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("3.7"), "{text}");
        assert!(text.contains("3.8.0, 3.9.5"), "{text}");
        // "3.9.5x" and "3.8.0.1" are not prefixes of anything we have.
        assert!(resolve("zookeeper", "3.9.5x").is_err());
        assert!(resolve("zookeeper", "").is_err());
    }

    #[test]
    fn unknown_system_lists_the_systems() {
        let text = resolve("kafka", "3.7").unwrap_err().to_string();
        assert!(
            text.contains("kafka") && text.contains("zookeeper"),
            "{text}"
        );
    }

    #[test]
    fn available_lists_only_system_images() {
        assert_eq!(
            available(),
            vec![
                ("zookeeper", "3.8.0"),
                ("zookeeper", "3.9.5"),
                ("pulsar", "3.0.7"),
                ("pulsar", "4.0.7"),
                ("bookkeeper", "4.16.6"),
                ("bookkeeper", "4.17.2"),
                ("pulsar-perf", "4.0.8"),
                ("skywalking", "9.6.0"),
                ("skywalking", "10.1.0"),
                ("postgres", "15"),
                ("nginx", "1.22"),
                ("hbase", "2.5.8"),
                ("pinpoint-collector", "2.5.1"),
                ("pinpoint-web", "2.5.0"),
                ("pinpoint-agent-app", "3.0.1"),
                ("opensearch", "2.19.6"),
            ]
        );
    }

    #[test]
    fn hbase_resolves_by_minor_version_on_the_jvm_layer() {
        assert_eq!(resolve("hbase", "2.5").unwrap().name, "hbase-2.5");
        assert_eq!(resolve("hbase", "2").unwrap().version, "2.5.8");
        assert_eq!(resolve("hbase", "2.5.8").unwrap().name, "hbase-2.5");
        let spec = resolve("hbase", "2.5").unwrap();
        assert!(spec.maven);
        assert_eq!(spec.repository, "chaosbed/hbase");
        let names: Vec<&str> = chain(spec).iter().map(|s| s.name).collect();
        assert_eq!(names, ["base", "jre", "hbase-2.5"]);
        let text = resolve("hbase", "1.2").unwrap_err().to_string();
        assert!(text.contains("2.5.8"), "{text}");
    }

    #[test]
    fn pinpoint_images_resolve_and_run_on_the_jvm_layer() {
        assert_eq!(
            resolve("pinpoint-collector", "2.5").unwrap().name,
            "pinpoint-collector-2.5"
        );
        assert_eq!(resolve("pinpoint-web", "2.5").unwrap().version, "2.5.0");
        assert_eq!(resolve("pinpoint-agent-app", "3").unwrap().version, "3.0.1");
        for (system, version) in [
            ("pinpoint-collector", "2.5.1"),
            ("pinpoint-web", "2.5.0"),
            ("pinpoint-agent-app", "3.0.1"),
        ] {
            let spec = resolve(system, version).unwrap();
            assert!(spec.maven, "{system}");
            let names: Vec<&str> = chain(spec).iter().map(|s| s.name).collect();
            assert_eq!(names, ["base", "jre", spec.name], "{system}");
        }
    }

    #[test]
    fn pulsar_and_bookkeeper_resolve_by_minor_version() {
        assert_eq!(resolve("pulsar", "3.0").unwrap().name, "pulsar-3.0");
        assert_eq!(resolve("pulsar", "4.0").unwrap().name, "pulsar-4.0");
        assert_eq!(resolve("pulsar", "4").unwrap().version, "4.0.7");
        assert_eq!(
            resolve("bookkeeper", "4.16").unwrap().name,
            "bookkeeper-4.16"
        );
        // A bookie image is its Pulsar release's image, built under the bundled BookKeeper.
        assert_eq!(
            resolve("bookkeeper", "4.17").unwrap().context,
            resolve("pulsar", "4.0").unwrap().context
        );
    }

    #[test]
    fn skywalking_and_its_neighbours_resolve() {
        assert_eq!(resolve("skywalking", "9.6").unwrap().name, "skywalking-9.6");
        assert_eq!(resolve("skywalking", "9").unwrap().version, "9.6.0");
        assert_eq!(resolve("postgres", "15").unwrap().name, "postgres");
        assert_eq!(resolve("nginx", "1").unwrap().version, "1.22");
        // The OAP runs on the JVM layer; PostgreSQL and NGINX need no JRE.
        let parents = |system, version| -> Vec<&str> {
            chain(resolve(system, version).unwrap())
                .iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(
            parents("skywalking", "9.6"),
            ["base", "jre", "skywalking-9.6"]
        );
        assert_eq!(parents("postgres", "15"), ["base", "postgres"]);
        assert_eq!(parents("nginx", "1.22"), ["base", "nginx"]);
        assert!(resolve("skywalking", "9.6").unwrap().maven);
    }

    #[test]
    fn every_chain_starts_at_the_rootfs_and_names_existing_parents() {
        for spec in CATALOGUE.iter() {
            let chain = chain(spec);
            assert_eq!(chain[0].kind, Kind::Rootfs, "{}", spec.name);
            assert_eq!(chain.last().unwrap().name, spec.name);
            // Parents come first in the catalogue, so ensure_all builds in order.
            let pos = |n: &str| CATALOGUE.iter().position(|s| s.name == n).unwrap();
            for pair in chain.windows(2) {
                assert!(pos(pair[0].name) < pos(pair[1].name));
            }
        }
    }

    #[test]
    fn dockerfile_images_have_a_context_and_names_are_unique() {
        for spec in CATALOGUE.iter() {
            assert_eq!(spec.kind == Kind::Dockerfile, spec.context.is_some());
            assert_eq!(CATALOGUE.iter().filter(|s| s.name == spec.name).count(), 1);
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("3.9.10", "3.9.5"), Ordering::Greater);
        assert_eq!(compare_versions("3.9", "3.9.0"), Ordering::Less);
    }
}

//! The kernel features faults rely on: the running kernel's build config (/proc/config.gz, or
//! /boot/config-<release>), which options each feature needs, and the cgroup hierarchy.
//! Faults run inside containers, so it is this kernel's qdiscs and netfilter targets they get.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// A kernel's build config: every option set to `y`, `m` or a value. Options reported as
/// `# CONFIG_X is not set` are simply absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    values: BTreeMap<String, String>,
}

impl KernelConfig {
    /// Parses the text of a kernel `.config` (as /proc/config.gz holds it once unpacked).
    pub fn parse(text: &str) -> Self {
        let values = text
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("CONFIG_"))
            .filter_map(|line| line.split_once('='))
            .map(|(option, value)| (option.to_owned(), value.trim_matches('"').to_owned()))
            .collect();
        Self { values }
    }

    /// The option's value (`y`, `m`, a number or a string), or None when it is not set.
    pub fn value(&self, option: &str) -> Option<&str> {
        self.values.get(option).map(String::as_str)
    }

    /// Whether the option is built in (`y`) or a module (`m`: loaded on first use).
    pub fn enabled(&self, option: &str) -> bool {
        matches!(self.value(option), Some("y" | "m"))
    }
}

/// The running kernel's config and the file it came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub config: KernelConfig,
    pub path: PathBuf,
}

/// Where the running kernel's config lives: /proc/config.gz (CONFIG_IKCONFIG_PROC), else
/// Debian's /boot/config-<release>.
pub fn config_paths(release: &str) -> [PathBuf; 2] {
    [
        PathBuf::from("/proc/config.gz"),
        PathBuf::from(format!("/boot/config-{release}")),
    ]
}

/// Reads the running kernel's config; the error names every file tried and how to get one.
pub fn read() -> anyhow::Result<Source> {
    let release = release();
    let paths = config_paths(&release);
    for path in &paths {
        if path.exists() {
            let text = read_config(path)?;
            return Ok(Source {
                config: KernelConfig::parse(&text),
                path: path.clone(),
            });
        }
    }
    bail!(
        "neither {} nor {} exists (the kernel was built without CONFIG_IKCONFIG_PROC, or \
         `modprobe configs` would add /proc/config.gz); faults find out what is missing when applied",
        paths[0].display(),
        paths[1].display()
    )
}

/// `uname -r` of the running kernel.
pub fn release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

/// The text of a config file, unpacking it when its name ends in `.gz`.
fn read_config(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading the kernel config {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        gunzip(&bytes).with_context(|| format!("unpacking the kernel config {}", path.display()))
    } else {
        String::from_utf8(bytes)
            .with_context(|| format!("reading the kernel config {} as text", path.display()))
    }
}

fn gunzip(bytes: &[u8]) -> std::io::Result<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

/// The cgroup hierarchy Docker puts containers in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// The unified hierarchy at the root: freezing is part of its core (`cgroup.freeze`).
    V2,
    /// Per-controller hierarchies, perhaps with a unified one mounted beside them (hybrid).
    V1 { unified: Option<PathBuf> },
}

/// Which hierarchy is mounted at `root` (normally /sys/fs/cgroup).
pub fn cgroups(root: &Path) -> Cgroups {
    if root.join("cgroup.controllers").exists() {
        return Cgroups::V2;
    }
    let unified = root.join("unified");
    Cgroups::V1 {
        unified: unified
            .join("cgroup.controllers")
            .exists()
            .then_some(unified),
    }
}

/// A kernel feature some fault or the engine relies on.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// Short name, e.g. `netem`.
    pub name: &'static str,
    /// What chaosbed uses it for.
    pub purpose: &'static str,
    /// Every inner list needs one of its options (`y` or `m`).
    pub options: &'static [&'static [&'static str]],
    /// Whether cgroup v2 provides it in its core, whatever the options say.
    pub in_cgroup2_core: bool,
    /// What happens without it.
    pub without: &'static str,
    /// The same in a few words, for a summary.
    pub short: &'static str,
}

/// What the kernel has of a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Present, through these settings (`CONFIG_NET_SCH_TBF=y`, or the cgroup v2 core).
    Present(Vec<String>),
    /// Missing: each entry is one requirement not met (`CONFIG_A or CONFIG_B`).
    Missing(Vec<String>),
}

impl Feature {
    /// Whether `config` (on a host whose hierarchy is `cgroups`) has this feature.
    pub fn check(&self, config: &KernelConfig, cgroups: &Cgroups) -> Presence {
        if self.in_cgroup2_core && *cgroups == Cgroups::V2 {
            return Presence::Present(vec!["cgroup v2 core (cgroup.freeze)".to_owned()]);
        }
        let mut present = Vec::new();
        let mut missing = Vec::new();
        for any_of in self.options {
            match any_of.iter().find(|option| config.enabled(option)) {
                Some(option) => present.push(format!(
                    "{option}={}",
                    config.value(option).unwrap_or_default()
                )),
                None => missing.push(any_of.join(" or ")),
            }
        }
        if missing.is_empty() {
            Presence::Present(present)
        } else {
            Presence::Missing(missing)
        }
    }
}

/// Every feature `cargo xtask doctor` looks for, in the order it reports them.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "netem",
        purpose: "latency faults (tc netem inside a node)",
        options: &[&["CONFIG_NET_SCH_NETEM"]],
        in_cgroup2_core: false,
        without: "latency faults on ZooKeeper fall back to chaosbed's userspace proxy between \
                  the zk-register clients and ZooKeeper; latency between nodes or towards \
                  `peers` cannot be added",
        short: "no netem: latency on ZooKeeper goes through chaosbed's proxy",
    },
    Feature {
        name: "tbf",
        purpose: "bandwidth faults (tc tbf inside a node)",
        options: &[&["CONFIG_NET_SCH_TBF"]],
        in_cgroup2_core: false,
        without: "bandwidth faults fail to apply",
        short: "no tbf: no bandwidth faults",
    },
    Feature {
        name: "prio + u32",
        purpose: "bandwidth or latency towards `peers` only (tc prio band, u32 filters)",
        options: &[&["CONFIG_NET_SCH_PRIO"], &["CONFIG_NET_CLS_U32"]],
        in_cgroup2_core: false,
        without: "bandwidth or latency faults with `peers` fail to apply (without `peers` \
                  they shape the whole device and still work)",
        short: "no prio qdisc: no shaping towards `peers`",
    },
    Feature {
        name: "netfilter",
        purpose: "partitions and packet loss (iptables chains inside a node)",
        options: &[
            &["CONFIG_IP_NF_IPTABLES", "CONFIG_NF_TABLES"],
            &["CONFIG_IP_NF_FILTER", "CONFIG_NF_TABLES_IPV4"],
        ],
        in_cgroup2_core: false,
        without: "partition and packet-loss faults fail to apply",
        short: "no iptables: no partitions or packet loss",
    },
    Feature {
        name: "statistic",
        purpose: "packet loss (iptables' statistic match)",
        options: &[&["CONFIG_NETFILTER_XT_MATCH_STATISTIC"]],
        in_cgroup2_core: false,
        without: "packet-loss faults fail to apply",
        short: "no statistic match: no packet loss",
    },
    Feature {
        name: "NAT",
        purpose: "Docker's bridge networks (masquerading, published ports)",
        options: &[&["CONFIG_NF_NAT"], &["CONFIG_IP_NF_NAT", "CONFIG_NFT_NAT"]],
        in_cgroup2_core: false,
        without: "dockerd cannot set up its bridge networks",
        short: "no NAT: no Docker bridge networks",
    },
    Feature {
        name: "REDIRECT",
        purpose: "iptables REDIRECT (sending a node's traffic to a local port, e.g. a proxy)",
        options: &[&[
            "CONFIG_NETFILTER_XT_TARGET_REDIRECT",
            "CONFIG_IP_NF_TARGET_REDIRECT",
            "CONFIG_NFT_REDIR",
        ]],
        in_cgroup2_core: false,
        without: "traffic cannot be steered into a proxy with iptables",
        short: "no REDIRECT target",
    },
    Feature {
        name: "freezer",
        purpose: "pause faults (`docker pause` freezes a node's cgroup)",
        options: &[&["CONFIG_CGROUP_FREEZER"]],
        in_cgroup2_core: true,
        without: "pause faults fail to apply",
        short: "no cgroup freezer: no pause faults",
    },
    Feature {
        name: "memory + CPU",
        purpose: "memory and CPU faults (`docker update` of a node's cgroup limits)",
        options: &[&["CONFIG_MEMCG"], &["CONFIG_CFS_BANDWIDTH"]],
        in_cgroup2_core: false,
        without: "memory or CPU limit faults fail to apply",
        short: "no memory or CPU cgroup limits",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const CONFIG: &str = "\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_CGROUPS=y
CONFIG_CGROUP_FREEZER=y
CONFIG_NET_SCH_HTB=y
# CONFIG_NET_SCH_PRIO is not set
CONFIG_NET_SCH_TBF=m
# CONFIG_NET_SCH_NETEM is not set
CONFIG_NET_CLS_U32=y
CONFIG_NF_TABLES=y
CONFIG_NF_TABLES_IPV4=y
CONFIG_NF_NAT=y
CONFIG_NFT_NAT=y
CONFIG_NFT_REDIR=y
CONFIG_LOCALVERSION=\"-fc\"
CONFIG_HZ=250
";

    fn feature(name: &str) -> &'static Feature {
        FEATURES.iter().find(|f| f.name == name).unwrap()
    }

    #[test]
    fn parse_keeps_set_options_and_drops_unset_ones() {
        let config = KernelConfig::parse(CONFIG);
        assert_eq!(config.value("CONFIG_NET_SCH_TBF"), Some("m"));
        assert_eq!(config.value("CONFIG_LOCALVERSION"), Some("-fc"));
        assert_eq!(config.value("CONFIG_HZ"), Some("250"));
        assert_eq!(config.value("CONFIG_NET_SCH_NETEM"), None);
        assert!(config.enabled("CONFIG_NET_SCH_TBF"), "a module counts");
        assert!(!config.enabled("CONFIG_NET_SCH_PRIO"));
        assert!(!config.enabled("CONFIG_HZ"), "a number is not y or m");
    }

    #[test]
    fn a_module_counts_as_present_and_unset_as_missing() {
        let config = KernelConfig::parse(CONFIG);
        let v1 = Cgroups::V1 { unified: None };
        assert_eq!(
            feature("tbf").check(&config, &v1),
            Presence::Present(vec!["CONFIG_NET_SCH_TBF=m".into()])
        );
        assert_eq!(
            feature("netem").check(&config, &v1),
            Presence::Missing(vec!["CONFIG_NET_SCH_NETEM".into()])
        );
        // Two requirements, one met: only the unmet one is named.
        assert_eq!(
            feature("prio + u32").check(&config, &v1),
            Presence::Missing(vec!["CONFIG_NET_SCH_PRIO".into()])
        );
    }

    #[test]
    fn any_of_a_requirement_is_enough() {
        let config = KernelConfig::parse(CONFIG);
        let v1 = Cgroups::V1 { unified: None };
        // nftables instead of legacy iptables, NFT_REDIR instead of the xt target.
        assert_eq!(
            feature("netfilter").check(&config, &v1),
            Presence::Present(vec![
                "CONFIG_NF_TABLES=y".into(),
                "CONFIG_NF_TABLES_IPV4=y".into()
            ])
        );
        assert!(matches!(
            feature("REDIRECT").check(&config, &v1),
            Presence::Present(_)
        ));
        assert_eq!(
            feature("statistic").check(&config, &v1),
            Presence::Missing(vec!["CONFIG_NETFILTER_XT_MATCH_STATISTIC".into()])
        );
    }

    #[test]
    fn cgroup_v2_freezes_in_its_core() {
        let no_freezer = KernelConfig::parse("CONFIG_CGROUPS=y\n");
        let freezer = feature("freezer");
        assert!(matches!(
            freezer.check(&no_freezer, &Cgroups::V1 { unified: None }),
            Presence::Missing(_)
        ));
        assert!(matches!(
            freezer.check(&no_freezer, &Cgroups::V2),
            Presence::Present(_)
        ));
        // Only the freezer: tbf is not part of cgroups.
        assert!(matches!(
            feature("tbf").check(&no_freezer, &Cgroups::V2),
            Presence::Missing(_)
        ));
    }

    #[test]
    fn a_gzipped_config_unpacks() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(CONFIG.as_bytes()).unwrap();
        let packed = encoder.finish().unwrap();
        assert_eq!(gunzip(&packed).unwrap(), CONFIG);
        assert!(gunzip(b"CONFIG_X=y").is_err(), "plain text is not gzip");
    }

    #[test]
    fn config_paths_try_proc_then_boot() {
        assert_eq!(
            config_paths("6.1.0-18-amd64"),
            [
                PathBuf::from("/proc/config.gz"),
                PathBuf::from("/boot/config-6.1.0-18-amd64")
            ]
        );
    }

    #[test]
    fn cgroup_version_follows_the_controllers_file() {
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(cgroups(v2.path()), Cgroups::V2);

        let hybrid = tempfile::tempdir().unwrap();
        std::fs::create_dir(hybrid.path().join("unified")).unwrap();
        std::fs::write(hybrid.path().join("unified/cgroup.controllers"), "").unwrap();
        assert_eq!(
            cgroups(hybrid.path()),
            Cgroups::V1 {
                unified: Some(hybrid.path().join("unified"))
            }
        );

        let v1 = tempfile::tempdir().unwrap();
        assert_eq!(cgroups(v1.path()), Cgroups::V1 { unified: None });
    }
}

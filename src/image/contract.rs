//! Contract images: each made the way a system's official image is (its entrypoint or lack of
//! one, user, paths, command forms and environment) from Debian packages and the jars of
//! chaosbed's own image, with nothing of chaosbed's inside — no fault tools, no chaosbed
//! entrypoint. No registry is reachable here, so these stand in for the official images to show
//! that a scenario naming `image = "..."` is started, faulted and judged like one of chaosbed's.
//! A scenario names one as `image = "chaosbed-contract/<name>"`; it is built on first use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use bollard::Docker;
use indicatif::MultiProgress;

/// The repository prefix a scenario names a contract image by.
pub const PREFIX: &str = "chaosbed-contract/";

/// One contract image.
#[derive(Debug)]
pub struct ContractImage {
    /// `chaosbed-contract/<name>`.
    pub name: &'static str,
    /// Its build context: fixtures/images/contract/<context>.
    pub context: &'static str,
    /// The official image whose contract it keeps.
    pub official: &'static str,
    /// chaosbed's image (system, version) its jars and config come from (build arg `JARS`).
    pub jars: (&'static str, &'static str),
    /// Build args besides `BASE` and `JARS`.
    pub args: &'static [(&'static str, &'static str)],
}

/// Every contract image.
pub const CONTRACTS: &[ContractImage] = &[
    ContractImage {
        name: "zookeeper",
        context: "zookeeper",
        official: "zookeeper:3.9",
        jars: ("zookeeper", "3.9"),
        args: &[],
    },
    ContractImage {
        name: "pulsar",
        context: "pulsar",
        official: "apachepulsar/pulsar:3.0.7 (also run as its bookies and init jobs)",
        jars: ("pulsar", "3.0"),
        args: &[],
    },
    ContractImage {
        name: "skywalking-oap-server",
        context: "skywalking-oap-server",
        official: "apache/skywalking-oap-server:9.6.0",
        jars: ("skywalking", "9.6"),
        args: &[],
    },
    ContractImage {
        name: "pinpoint-collector",
        context: "pinpoint",
        official: "pinpointdocker/pinpoint-collector:2.5.1",
        jars: ("pinpoint-collector", "2.5"),
        args: &[
            ("ROLE", "collector"),
            ("MAIN", "com.navercorp.pinpoint.collector.CollectorApp"),
        ],
    },
    ContractImage {
        name: "pinpoint-web",
        context: "pinpoint",
        official: "pinpointdocker/pinpoint-web:2.5.0",
        jars: ("pinpoint-web", "2.5"),
        args: &[
            ("ROLE", "web"),
            ("MAIN", "com.navercorp.pinpoint.web.WebApp"),
        ],
    },
];

/// The contract image a scenario's `image` names (with or without a tag), if it names one.
pub fn named(image: &str) -> Option<&'static ContractImage> {
    let rest = image.strip_prefix(PREFIX)?;
    let name = rest.split_once(':').map_or(rest, |(name, _)| name);
    CONTRACTS.iter().find(|c| c.name == name)
}

/// Whether `image` is under the contract prefix but names no contract image: the names that do.
pub fn unknown(image: &str) -> Option<String> {
    (image.starts_with(PREFIX) && named(image).is_none()).then(|| {
        CONTRACTS
            .iter()
            .map(|c| format!("{PREFIX}{}", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Where a contract image's build context is.
pub fn context_dir(contract: &ContractImage) -> PathBuf {
    super::fixtures_dir()
        .join("contract")
        .join(contract.context)
}

/// Builds `contract` (and the images it takes its base and jars from) unless its content-hash
/// tag exists; returns the tag.
pub async fn ensure(
    docker: &Docker,
    contract: &ContractImage,
    progress: &MultiProgress,
) -> Result<String> {
    let base = super::CATALOGUE
        .iter()
        .find(|spec| spec.name == "base")
        .context("the catalogue has no base image")?;
    let base = super::ensure_spec(docker, base, progress).await?;
    let (system, version) = contract.jars;
    let jars = super::ensure(docker, system, version, progress).await?;
    let mut args: BTreeMap<String, String> =
        [("BASE".to_string(), base), ("JARS".to_string(), jars)].into();
    args.extend(
        contract
            .args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let repository = format!("{PREFIX}{}", contract.name);
    let tag = super::ensure_dir(docker, &repository, &context_dir(contract), &args, progress)
        .await
        .with_context(|| {
            format!(
                "building {repository}, made to {}'s contract",
                contract.official
            )
        })?;
    // The untagged name (`:latest`) is what compose/<scenario>.yml names.
    super::build::tag(docker, &tag, &repository, "latest").await?;
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contract_image_is_named_with_or_without_a_tag() {
        assert_eq!(named("chaosbed-contract/pulsar").unwrap().name, "pulsar");
        assert_eq!(
            named("chaosbed-contract/zookeeper:0123abcd").unwrap().name,
            "zookeeper"
        );
        assert!(named("apachepulsar/pulsar:3.0.7").is_none());
        assert!(unknown("apachepulsar/pulsar:3.0.7").is_none());
        let known = unknown("chaosbed-contract/kafka").unwrap();
        assert!(known.contains("chaosbed-contract/pulsar"), "{known}");
    }

    #[test]
    fn every_contract_image_has_a_build_context() {
        for contract in CONTRACTS {
            let dir = context_dir(contract);
            assert!(
                dir.join("Dockerfile").is_file(),
                "{} has no Dockerfile",
                dir.display()
            );
            let dockerfile: String = std::fs::read_to_string(dir.join("Dockerfile"))
                .unwrap()
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .collect();
            for tool in ["iptables", "iproute2", "faketime", "chaosbed-proxy"] {
                assert!(
                    !dockerfile.contains(tool),
                    "{} installs {tool}: a contract image carries nothing of chaosbed's",
                    contract.name
                );
            }
        }
    }
}

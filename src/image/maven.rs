//! Asking Maven which releases of an artifact exist and fetching a release's pom, through the
//! host's own `mvn` (so its mirrors, proxies and local repository apply), and reading what a
//! failed resolution says is missing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};

/// Maven coordinates `group:artifact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    pub group: &'static str,
    pub artifact: &'static str,
}

impl std::fmt::Display for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.group, self.artifact)
    }
}

/// The local repository Maven downloads into: `$CHAOSBED_MAVEN_REPO_LOCAL`, else `~/.m2/repository`.
pub fn local_repository() -> PathBuf {
    match std::env::var_os("CHAOSBED_MAVEN_REPO_LOCAL") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::home_dir()
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(".m2/repository"),
    }
}

fn artifact_dir(artifact: Artifact) -> PathBuf {
    let mut dir = local_repository();
    for part in artifact.group.split('.') {
        dir.push(part);
    }
    dir.push(artifact.artifact);
    dir
}

/// Every release of `artifact` the repositories Maven uses list in their `maven-metadata.xml`,
/// oldest first. Asked once per process; Maven refreshes its copy daily.
pub fn released_versions(artifact: Artifact) -> Result<Vec<String>> {
    static ASKED: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());
    let key = artifact.to_string();
    if let Some(known) = ASKED.lock().expect("not poisoned").get(&key) {
        return Ok(known.clone());
    }
    // Resolving the LATEST pom makes Maven fetch the artifact's metadata into the local
    // repository as maven-metadata-<repository id>.xml.
    let asked = run_mvn(&format!("{artifact}:LATEST:pom"));
    let versions = metadata_versions(artifact)?;
    if versions.is_empty() {
        let why = asked.err().map(|e| format!(": {e:#}")).unwrap_or_default();
        bail!(
            "asking Maven which versions of {artifact} exist gave none{why}; check that Maven \
             Central is reachable from this host (mvn dependency:get -Dartifact={artifact}:LATEST:pom)"
        );
    }
    ASKED
        .lock()
        .expect("not poisoned")
        .insert(key, versions.clone());
    Ok(versions)
}

/// The versions of every `maven-metadata-*.xml` Maven keeps for `artifact`, sorted, deduplicated.
fn metadata_versions(artifact: Artifact) -> Result<Vec<String>> {
    let dir = artifact_dir(artifact);
    let mut versions = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(versions);
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("maven-metadata") && name.ends_with(".xml") {
            let xml = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            versions.extend(parse_versions(&xml));
        }
    }
    versions.sort_by(|a, b| super::catalogue::compare_versions(a, b));
    versions.dedup();
    Ok(versions)
}

/// The `<version>` entries of a `maven-metadata.xml`'s `<versions>` list.
pub fn parse_versions(xml: &str) -> Vec<String> {
    let Some(start) = xml.find("<versions>") else {
        return Vec::new();
    };
    let end = xml[start..]
        .find("</versions>")
        .map_or(xml.len(), |e| start + e);
    xml[start..end]
        .split("<version>")
        .skip(1)
        .filter_map(|part| part.split("</version>").next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The text of `artifact`'s pom at `version`, resolved by Maven into its local repository.
pub fn pom(artifact: Artifact, version: &str) -> Result<String> {
    let path = artifact_dir(artifact)
        .join(version)
        .join(format!("{}-{version}.pom", artifact.artifact));
    if !path.is_file() {
        run_mvn(&format!("{artifact}:{version}:pom"))
            .with_context(|| format!("fetching the pom of {artifact}:{version}"))?;
    }
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} that Maven resolved for {artifact}:{version}",
            path.display()
        )
    })
}

/// The value of `<name>` in a pom's text (its first occurrence: the properties come first).
pub fn property(pom: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = pom.find(&open)? + open.len();
    let end = pom[start..].find(&format!("</{name}>"))? + start;
    Some(pom[start..end].trim().to_owned())
}

/// `mvn dependency:get` of one artifact, without its dependencies.
fn run_mvn(coordinates: &str) -> Result<()> {
    let output = Command::new("mvn")
        .args(["-q", "-B", "-Dstyle.color=never", "dependency:get"])
        .arg(format!("-Dartifact={coordinates}"))
        .arg("-Dtransitive=false")
        .current_dir(std::env::temp_dir())
        .output()
        .context("starting mvn; install Maven (apt-get install maven) and a JDK")?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout);
        let last: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ERROR"))
            .take(3)
            .collect();
        bail!(
            "mvn dependency:get -Dartifact={coordinates} failed ({}): {}",
            output.status,
            last.join(" | ")
        );
    }
    Ok(())
}

/// The artifacts a failed `mvn` run says it could not find or fetch, as
/// `group:artifact:type:version`, one per artifact and version.
pub fn missing_artifacts(output: &str) -> Vec<String> {
    const MARKERS: [&str; 4] = [
        "Could not find artifact ",
        "Failure to find ",
        "Failed to read artifact descriptor for ",
        "Could not transfer artifact ",
    ];
    let mut missing: Vec<String> = Vec::new();
    let mut add = |coordinates: &str| {
        let coordinates = coordinates.trim().trim_end_matches([':', ',']);
        let parts: Vec<&str> = coordinates.split(':').collect();
        if parts.len() < 4 {
            return;
        }
        let same = |other: &String| {
            let o: Vec<&str> = other.split(':').collect();
            o[0] == parts[0] && o[1] == parts[1] && o.last() == parts.last()
        };
        if !missing.iter().any(same) {
            missing.push(coordinates.to_owned());
        }
    };
    for line in output.lines() {
        for marker in MARKERS {
            for (at, _) in line.match_indices(marker) {
                add(line[at + marker.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or(""));
            }
        }
        // "The following artifacts could not be resolved: a:b:jar:1, c:d:jar:2: Could not find"
        if let Some(at) = line.find("could not be resolved: ") {
            let list = line[at + "could not be resolved: ".len()..]
                .split(": ")
                .next()
                .unwrap_or("");
            list.split(", ").for_each(&mut add);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_metadata_list() {
        let xml = "<metadata><versioning><latest>3.9.6</latest><versions>\n\
                   <version>3.8.4</version>\n<version> 3.9.3 </version><version>3.9.6</version>\
                   </versions><lastUpdated>1</lastUpdated></versioning></metadata>";
        assert_eq!(parse_versions(xml), ["3.8.4", "3.9.3", "3.9.6"]);
        assert!(parse_versions("<metadata/>").is_empty());
    }

    #[test]
    fn a_pom_property_is_found_by_name() {
        let pom = "<properties>\n<bookkeeper.version>4.16.3</bookkeeper.version>\n</properties>";
        assert_eq!(
            property(pom, "bookkeeper.version").as_deref(),
            Some("4.16.3")
        );
        assert_eq!(property(pom, "zookeeper.version"), None);
    }

    #[test]
    fn missing_artifacts_are_named_from_mavens_complaint() {
        let output = "[ERROR] Failed to execute goal on project pulsar-3.0: Could not resolve \
            dependencies for project chaosbed.images:pulsar-3.0:pom:3.0.2: The following \
            artifacts could not be resolved: org.apache.pulsar:pulsar-broker:jar:3.0.9, \
            org.apache.pulsar:pulsar-metadata:jar:3.0.9: Could not find artifact \
            org.apache.pulsar:pulsar-broker:jar:3.0.9 in central (https://repo.maven.apache.org/maven2)";
        assert_eq!(
            missing_artifacts(output),
            [
                "org.apache.pulsar:pulsar-broker:jar:3.0.9",
                "org.apache.pulsar:pulsar-metadata:jar:3.0.9"
            ]
        );
        let single = "[ERROR] Failed to execute goal on project x: Could not resolve dependencies \
            for project a:b:pom:1: Failure to find org.apache.pulsar:pulsar-broker:jar:3.0.9 in \
            https://repo.maven.apache.org/maven2 was cached in the local repository";
        assert_eq!(
            missing_artifacts(single),
            ["org.apache.pulsar:pulsar-broker:jar:3.0.9"]
        );
        let descriptor = "[ERROR] Failed to execute goal on project pulsar-4.0: Could not resolve \
            dependencies for project chaosbed.images:pulsar-4.0:pom:4.0.7: Failed to collect \
            dependencies at org.apache.pulsar:pulsar-broker:jar:4.0.6 -> \
            org.apache.pulsar:jetcd-core-shaded:jar:4.0.6: Failed to read artifact descriptor for \
            org.apache.pulsar:jetcd-core-shaded:jar:4.0.6: Could not transfer artifact \
            org.apache.pulsar:jetcd-core-shaded:pom:4.0.6 from/to confluent (https://x)";
        assert_eq!(
            missing_artifacts(descriptor),
            ["org.apache.pulsar:jetcd-core-shaded:jar:4.0.6"]
        );
    }
}

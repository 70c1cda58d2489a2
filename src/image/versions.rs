//! Releases outside the catalogue: any version Maven Central has of a system whose catalogue
//! image is built from a pom (ZooKeeper, Pulsar, SkyWalking) is built from that pom as a
//! template, the release's version written into it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::catalogue::{self, ImageSpec, ResolveError, compare_versions};
use super::maven;

/// `version` of `system`: the catalogue's image when it has one (exactly or as a prefix, as
/// today), else a release Maven lists (exactly, or the newest of a prefix such as `3.8`) built
/// from the nearest catalogue image's pom. Asks Maven only for versions the catalogue lacks.
pub fn resolve_any(system: &str, version: &str) -> Result<&'static ImageSpec, ResolveError> {
    let unknown = match catalogue::resolve(system, version) {
        Ok(spec) => return Ok(spec),
        Err(unknown @ ResolveError::UnknownVersion { .. }) => unknown,
        Err(other) => return Err(other),
    };
    let templates: Vec<&'static ImageSpec> = catalogue::CATALOGUE
        .iter()
        .filter(|s| s.system == system && s.release.is_some())
        .collect();
    let version = version.trim();
    if templates.is_empty() || !is_release_like(version) {
        return Err(unknown);
    }
    let release = templates[0].release.expect("filtered on release");
    let maven_error = |message: String| ResolveError::Maven {
        system: system.to_owned(),
        version: version.to_owned(),
        message,
    };
    let released =
        maven::released_versions(release.artifact).map_err(|e| maven_error(format!("{e:#}")))?;
    let Some(exact) = pick(&released, version) else {
        return Err(ResolveError::NotReleased {
            system: system.to_owned(),
            version: version.to_owned(),
            artifact: release.artifact.to_string(),
            released: summarize(&released),
        });
    };
    derive(template_for(&templates, &exact), &exact).map_err(|e| maven_error(format!("{e:#}")))
}

/// Digits and dots only: a final release, not `3.9.0-rc1` or `latest`.
fn is_release_like(version: &str) -> bool {
    !version.is_empty()
        && version
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// `version` itself when Maven lists it, else the newest final release under the prefix.
fn pick(released: &[String], version: &str) -> Option<String> {
    if released.iter().any(|v| v == version) {
        return Some(version.to_owned());
    }
    let prefix = format!("{version}.");
    released
        .iter()
        .filter(|v| v.starts_with(&prefix) && is_release_like(v))
        .max_by(|a, b| compare_versions(a, b))
        .cloned()
}

/// The template for `version`: the catalogue image of the same major.minor, else the newest
/// older one, else the oldest.
fn template_for(templates: &[&'static ImageSpec], version: &str) -> &'static ImageSpec {
    let minor = |v: &str| v.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    if let Some(same) = templates
        .iter()
        .find(|t| minor(t.version) == minor(version))
    {
        return same;
    }
    templates
        .iter()
        .filter(|t| compare_versions(t.version, version).is_lt())
        .max_by(|a, b| compare_versions(a.version, b.version))
        .or_else(|| {
            templates
                .iter()
                .min_by(|a, b| compare_versions(a.version, b.version))
        })
        .copied()
        .expect("at least one template")
}

/// `3.4.0…3.4.14, 3.5.0…3.5.10, 3.9.0…3.9.6`: the final releases grouped by minor version.
pub fn summarize(released: &[String]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for version in released.iter().filter(|v| is_release_like(v)) {
        let minor: String = version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
        match groups.last_mut() {
            Some((last, members)) if *last == minor => members.push(version),
            _ => groups.push((minor, vec![version])),
        }
    }
    groups
        .iter()
        .map(|(_, members)| match members.as_slice() {
            [one] => (*one).to_owned(),
            [first, .., last] => format!("{first}…{last}"),
            [] => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The image spec of `version` built from `template`'s context with its pom templated; one per
/// (system, version) for the life of the process.
fn derive(template: &'static ImageSpec, version: &str) -> anyhow::Result<&'static ImageSpec> {
    static DERIVED: Mutex<BTreeMap<String, &'static ImageSpec>> = Mutex::new(BTreeMap::new());
    let name = format!("{}-{version}", template.system);
    if let Some(spec) = DERIVED.lock().expect("not poisoned").get(&name) {
        return Ok(spec);
    }
    let release = template.release.expect("a template has a release");
    let context = template.context.expect("a Maven image has a context");
    let source = super::fixtures_dir().join(context).join("pom.xml");
    let text = std::fs::read_to_string(&source)
        .map_err(|e| anyhow::anyhow!("reading the template {}: {e}", source.display()))?;
    let mut values = vec![(release.property, version.to_owned())];
    if let Some((parent, properties)) = release.from_parent {
        let parent_pom = maven::pom(parent, version)?;
        for property in properties {
            let value = maven::property(&parent_pom, property).ok_or_else(|| {
                anyhow::anyhow!("the pom of {parent}:{version} sets no {property}")
            })?;
            values.push((property, value));
        }
    }
    let mut templated = template_pom(&text, template, version, &values)?;
    if !release.pins.is_empty() {
        templated = pin(&templated, template, release.pins)?;
    }
    let dir = std::env::temp_dir().join("chaosbed-poms").join(&name);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("pom.xml");
    std::fs::write(&path, templated)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    let spec: &'static ImageSpec = Box::leak(Box::new(ImageSpec {
        name: Box::leak(name.clone().into_boxed_str()),
        version: Box::leak(version.to_owned().into_boxed_str()),
        pom: Some(Box::leak(path.display().to_string().into_boxed_str())),
        ..template.clone()
    }));
    DERIVED.lock().expect("not poisoned").insert(name, spec);
    Ok(spec)
}

/// The template's pom with each `<property>` set to its value and a first comment saying so.
fn template_pom(
    text: &str,
    template: &ImageSpec,
    version: &str,
    values: &[(&str, String)],
) -> anyhow::Result<String> {
    let mut out = text.to_owned();
    for (property, value) in values {
        let current = maven::property(&out, property).ok_or_else(|| {
            anyhow::anyhow!(
                "the pom of image {} has no <{property}> to template",
                template.name
            )
        })?;
        out = out.replacen(
            &format!("<{property}>{current}</{property}>"),
            &format!("<{property}>{value}</{property}>"),
            1,
        );
    }
    let note = format!(
        "<!-- chaosbed templated this pom for {} {version} from the {} image's: {} -->\n",
        template.system,
        template.name,
        values
            .iter()
            .map(|(p, v)| format!("{p}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let at = out.find("?>\n").map_or(0, |i| i + 3);
    out.insert_str(at, &note);
    Ok(out)
}

/// The pom with each of `pins` managed at `${property}` ahead of any imported BOM.
fn pin(pom: &str, template: &ImageSpec, pins: &[&str]) -> anyhow::Result<String> {
    let release = template.release.expect("a template has a release");
    let anchor = "<dependencyManagement>\n    <dependencies>\n";
    let at = pom.find(anchor).ok_or_else(|| {
        anyhow::anyhow!(
            "the pom of image {} has no dependencyManagement to pin {} in",
            template.name,
            release.property
        )
    })? + anchor.len();
    let mut block = String::from("      <!-- pinned by chaosbed to the release asked for -->\n");
    for pin in pins {
        let mut parts = pin.split(':');
        let (group, artifact, classifier) = (parts.next(), parts.next(), parts.next());
        let (Some(group), Some(artifact)) = (group, artifact) else {
            anyhow::bail!("pin {pin:?} is not group:artifact[:classifier]");
        };
        block.push_str(&format!(
            "      <dependency>\n        <groupId>{group}</groupId>\n        \
             <artifactId>{artifact}</artifactId>\n        <version>${{{}}}</version>\n{}      \
             </dependency>\n",
            release.property,
            classifier
                .map(|c| format!("        <classifier>{c}</classifier>\n"))
                .unwrap_or_default()
        ));
    }
    let mut out = pom.to_owned();
    out.insert_str(at, &block);
    Ok(out)
}

/// The BookKeeper a Pulsar release's image bundles (`bookkeeper.version` of its pom, templated
/// or chaosbed's own): the bookies that belong beside its brokers.
pub fn bookkeeper_of_pulsar(version: &str) -> anyhow::Result<String> {
    let spec = resolve_any("pulsar", version)?;
    let path = match spec.pom {
        Some(pom) => std::path::PathBuf::from(pom),
        None => super::fixtures_dir()
            .join(spec.context.unwrap_or_default())
            .join("pom.xml"),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    maven::property(&text, "bookkeeper.version")
        .ok_or_else(|| anyhow::anyhow!("{} names no bookkeeper.version", path.display()))
}

/// Why `version` of `system` cannot be built, as (message, help) for a scenario's diagnostic;
/// None when it can.
pub fn refuse_version(system: &str, version: &str) -> Option<(String, String)> {
    let builds = || {
        catalogue::available()
            .into_iter()
            .filter(|(s, _)| *s == system)
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from_maven = catalogue::CATALOGUE
        .iter()
        .any(|s| s.system == system && s.release.is_some());
    match resolve_any(system, version).err()? {
        ResolveError::UnknownSystem { available, .. } => Some((
            format!("chaosbed builds no {system} image"),
            format!("systems: {available}"),
        )),
        ResolveError::UnknownVersion { .. } => Some((
            format!("{system} version `{version}` is not one chaosbed builds"),
            if from_maven {
                format!(
                    "versions: {}, or any release of {system} on Maven Central by its number \
                     (e.g. `3.9.3`); or set `image` to an image you have",
                    builds()
                )
            } else {
                format!(
                    "versions: {}; or set `image` to an image you have",
                    builds()
                )
            },
        )),
        ResolveError::NotReleased {
            artifact, released, ..
        } => Some((
            format!("{system} version `{version}` is no release on Maven Central ({artifact})"),
            format!("releases there: {released}; chaosbed's own: {}", builds()),
        )),
        ResolveError::Maven { message, .. } => Some((
            format!("{system} version `{version}` could not be looked up on Maven Central"),
            format!(
                "{message}; or use one of chaosbed's own versions: {}",
                builds()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released() -> Vec<String> {
        [
            "3.8.0",
            "3.8.3",
            "3.8.4",
            "3.9.0",
            "3.9.3",
            "3.9.6",
            "3.10.0-rc1",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn a_prefix_picks_the_newest_final_release() {
        assert_eq!(pick(&released(), "3.8").as_deref(), Some("3.8.4"));
        assert_eq!(pick(&released(), "3.9.3").as_deref(), Some("3.9.3"));
        assert_eq!(pick(&released(), "3.10"), None);
        assert_eq!(pick(&released(), "3.7"), None);
    }

    #[test]
    fn releases_are_summarized_by_minor() {
        assert_eq!(summarize(&released()), "3.8.0…3.8.4, 3.9.0…3.9.6");
        assert_eq!(summarize(&["4.0.7".to_owned()]), "4.0.7");
    }

    #[test]
    fn only_final_releases_are_asked_for() {
        assert!(is_release_like("3.9.3"));
        assert!(is_release_like("3.8"));
        assert!(!is_release_like("3.9.0-rc1"));
        assert!(!is_release_like("latest"));
        assert!(!is_release_like("3..1"));
    }

    #[test]
    fn the_template_is_the_same_minor_or_the_newest_older_one() {
        let pulsar: Vec<&'static ImageSpec> = catalogue::CATALOGUE
            .iter()
            .filter(|s| s.system == "pulsar" && s.release.is_some())
            .collect();
        assert_eq!(template_for(&pulsar, "3.0.2").name, "pulsar-3.0");
        assert_eq!(template_for(&pulsar, "3.3.2").name, "pulsar-3.0");
        assert_eq!(template_for(&pulsar, "4.0.6").name, "pulsar-4.0");
        assert_eq!(template_for(&pulsar, "4.1.0").name, "pulsar-4.0");
        assert_eq!(template_for(&pulsar, "2.11.0").name, "pulsar-3.0");
    }

    #[test]
    fn the_templated_pom_names_the_release_and_says_where_it_came_from() {
        let template = catalogue::by_name("zookeeper-3.9").unwrap();
        let text =
            std::fs::read_to_string(crate::image::fixtures_dir().join("zookeeper-3.9/pom.xml"))
                .unwrap();
        let out = template_pom(
            &text,
            template,
            "3.8.4",
            &[("zookeeper.version", "3.8.4".into())],
        )
        .unwrap();
        assert_eq!(
            maven::property(&out, "zookeeper.version").as_deref(),
            Some("3.8.4")
        );
        assert!(out.contains("templated this pom for zookeeper 3.8.4 from the zookeeper-3.9"));
        assert!(template_pom(&text, template, "3.8.4", &[("pulsar.version", "1".into())]).is_err());
    }

    #[test]
    fn a_derived_release_is_planned_from_its_templated_pom() {
        let template = catalogue::by_name("zookeeper-3.9").unwrap();
        let spec = derive(template, "3.8.4").unwrap();
        assert_eq!((spec.name, spec.version), ("zookeeper-3.8.4", "3.8.4"));
        // The same release is derived once per process.
        assert!(std::ptr::eq(spec, derive(template, "3.8.4").unwrap()));
        let files = super::super::context::list(spec, &crate::image::fixtures_dir()).unwrap();
        let pom = files.iter().find(|f| f.path == "pom.xml").unwrap();
        assert_eq!(pom.source.display().to_string(), spec.pom.unwrap());
        let text = std::fs::read_to_string(&pom.source).unwrap();
        assert_eq!(
            maven::property(&text, "zookeeper.version").as_deref(),
            Some("3.8.4")
        );
        let planned = crate::image::plan(spec).unwrap();
        let leaf = &planned.last().unwrap().tag;
        assert!(leaf.starts_with("chaosbed/zookeeper:3.8.4-"), "{leaf}");
        let catalogue = crate::image::plan(template).unwrap();
        assert_ne!(leaf, &catalogue.last().unwrap().tag);
        // Only the exact version is aliased: `3.8` keeps naming the catalogue's 3.8.0.
        assert_eq!(crate::image::alias_versions(spec), ["3.8.4"]);
    }

    #[test]
    fn a_bookie_release_pins_every_bookkeeper_jar_over_the_pulsar_bom() {
        let template = catalogue::by_name("bookkeeper-4.16").unwrap();
        let spec = derive(template, "4.16.3").unwrap();
        assert_eq!(spec.context, Some("pulsar-3.0"));
        let text = std::fs::read_to_string(spec.pom.unwrap()).unwrap();
        assert_eq!(
            maven::property(&text, "bookkeeper.version").as_deref(),
            Some("4.16.3")
        );
        // Pinned ahead of the BOM import, the tests-classified jar too.
        let pinned = text
            .find("<artifactId>bookkeeper-server</artifactId>")
            .unwrap();
        assert!(pinned < text.find("<type>pom</type>").unwrap(), "{text}");
        assert!(text.contains("<classifier>tests</classifier>"), "{text}");
        assert_eq!(
            text.matches("<version>${bookkeeper.version}</version>")
                .count(),
            template.release.unwrap().pins.len() + 1,
            "every pin and the pom's own vertx-http-server"
        );
    }

    #[test]
    fn catalogue_versions_never_ask_maven() {
        assert_eq!(resolve_any("zookeeper", "3.8").unwrap().version, "3.8.0");
        assert_eq!(resolve_any("pulsar", "4.0.7").unwrap().name, "pulsar-4.0");
        // Not release-like, so refused without Maven.
        assert!(matches!(
            resolve_any("zookeeper", "fast"),
            Err(ResolveError::UnknownVersion { .. })
        ));
        // A system without a template is refused as before.
        assert!(matches!(
            resolve_any("nginx", "1.24"),
            Err(ResolveError::UnknownVersion { .. })
        ));
    }
}

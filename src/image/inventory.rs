//! What the engine holds of chaosbed's images: which planned content-hash tags are present or
//! missing, which tags a newer plan superseded (the pure `superseded`), and removing those.
//! Only tags in a `chaosbed/` repository are ever considered; a current tag or alias is never
//! superseded.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result, anyhow};
use bollard::Docker;
use bollard::query_parameters::{ListImagesOptions, RemoveImageOptions};

use super::{CATALOGUE, ImageSpec, Role, alias_versions, plan};

/// The repository prefix of every image chaosbed builds.
const REPOSITORY_PREFIX: &str = "chaosbed/";

/// Every tag chaosbed builds or aliases today, computed from the fixtures.
#[derive(Debug, Clone)]
pub struct Current {
    /// Each catalogue entry with its planned content-hash tag, in catalogue order.
    pub planned: Vec<(&'static ImageSpec, String)>,
    /// The stable tags of system images (`chaosbed/zookeeper:3.8.0`, `chaosbed/zookeeper:3.8`).
    pub aliases: Vec<String>,
}

impl Current {
    /// Planned tags and aliases together.
    pub fn tags(&self) -> BTreeSet<String> {
        self.planned
            .iter()
            .map(|(_, tag)| tag.clone())
            .chain(self.aliases.iter().cloned())
            .collect()
    }
}

/// Plans every catalogue entry (hashing the fixtures; no Docker).
pub fn current() -> Result<Current> {
    let mut planned = Vec::new();
    let mut aliases = Vec::new();
    for spec in CATALOGUE.iter() {
        let chain =
            plan(spec).with_context(|| format!("planning the tag of image {}", spec.name))?;
        let leaf = chain.last().expect("a chain has its leaf");
        planned.push((spec, leaf.tag.clone()));
        if spec.role == Role::System {
            aliases.extend(
                alias_versions(spec)
                    .into_iter()
                    .map(|version| format!("{}:{version}", spec.repository)),
            );
        }
    }
    Ok(Current { planned, aliases })
}

/// A local image that carries at least one `chaosbed/` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    pub id: String,
    /// All its tags, chaosbed's and any other.
    pub tags: Vec<String>,
    /// Bytes only this image holds (Docker's size less what it shares with other images, as
    /// `docker system df -v` shows): what removing it frees.
    pub size: u64,
    /// Whether `size` is an upper bound: an engine before API 1.42 does not say what images
    /// share, so `size` is then the whole image, its base and jre layers included.
    pub upper_bound: bool,
}

/// Tags of one image that no current plan or alias names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    pub id: String,
    /// The tags to remove.
    pub tags: Vec<String>,
    /// What removing them frees: the image's own bytes when no other tag keeps it, else 0.
    pub frees: u64,
    /// Whether `frees` is an upper bound (see `Present::upper_bound`).
    pub upper_bound: bool,
}

/// The superseded chaosbed tags among `present`: in a `chaosbed/` repository, and neither a
/// current planned tag nor a current alias (`current`). Sorted by tag.
pub fn superseded(present: &[Present], current: &BTreeSet<String>) -> Vec<Superseded> {
    let mut out: Vec<Superseded> = present
        .iter()
        .filter_map(|image| {
            let stale: Vec<String> = image
                .tags
                .iter()
                .filter(|tag| tag.starts_with(REPOSITORY_PREFIX) && !current.contains(*tag))
                .cloned()
                .collect();
            if stale.is_empty() {
                return None;
            }
            let frees = if stale.len() == image.tags.len() {
                image.size
            } else {
                0
            };
            Some(Superseded {
                id: image.id.clone(),
                tags: stale,
                frees,
                upper_bound: image.upper_bound,
            })
        })
        .collect();
    out.sort_by(|a, b| a.tags.cmp(&b.tags));
    out
}

/// The engine's images that carry a `chaosbed/` tag.
pub async fn list(docker: &Docker) -> Result<Vec<Present>> {
    let images = docker
        .list_images(Some(ListImagesOptions {
            shared_size: true,
            ..Default::default()
        }))
        .await
        .context("listing the Docker engine's images; is the engine reachable (DOCKER_HOST)?")?;
    Ok(images
        .into_iter()
        .filter(|image| {
            image
                .repo_tags
                .iter()
                .any(|tag| tag.starts_with(REPOSITORY_PREFIX))
        })
        .map(|image| {
            // SharedSize is -1 where the engine does not compute it (API < 1.42).
            let shared = u64::try_from(image.shared_size).ok();
            let size = u64::try_from(image.size).unwrap_or(0);
            Present {
                id: image.id,
                tags: image
                    .repo_tags
                    .into_iter()
                    .filter(|tag| tag != "<none>:<none>")
                    .collect(),
                size: size.saturating_sub(shared.unwrap_or(0)),
                upper_bound: shared.is_none(),
            }
        })
        .collect())
}

/// The layers among `leaves` and their parents whose planned tag is not in `present_tags`,
/// each once, parents first: what `ensure` would build.
pub fn missing_from(
    present_tags: &BTreeSet<String>,
    leaves: &[&'static ImageSpec],
) -> Result<Vec<&'static ImageSpec>> {
    let mut missing: Vec<&'static ImageSpec> = Vec::new();
    for leaf in leaves {
        let chain =
            plan(leaf).with_context(|| format!("planning the tags of image {}", leaf.name))?;
        for layer in chain {
            let seen = missing.iter().any(|m| m.name == layer.spec.name);
            if !seen && !present_tags.contains(&layer.tag) {
                missing.push(layer.spec);
            }
        }
    }
    Ok(missing)
}

/// The images `ensure` would still have to build for `leaves` on this engine.
pub async fn missing(
    docker: &Docker,
    leaves: &[&'static ImageSpec],
) -> Result<Vec<&'static ImageSpec>> {
    if leaves.is_empty() {
        return Ok(Vec::new());
    }
    let present: BTreeSet<String> = list(docker)
        .await?
        .into_iter()
        .flat_map(|p| p.tags)
        .collect();
    missing_from(&present, leaves)
}

/// What `remove_superseded` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// Tags removed, each with the bytes its removal freed: the image's own size on the tag
    /// whose removal deleted the image, 0 on a tag that only untagged it.
    pub removed: Vec<(String, u64)>,
    /// Tags the engine refused to remove, with its reason (a container still uses the image).
    pub kept: Vec<(String, String)>,
    /// Whether the bytes are upper bounds (see `Present::upper_bound`).
    pub upper_bound: bool,
}

impl Removal {
    /// Bytes freed in all.
    pub fn freed(&self) -> u64 {
        self.removed.iter().map(|(_, bytes)| bytes).sum()
    }
}

impl std::fmt::Display for Removal {
    /// A line per tag, then the total.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self
            .removed
            .iter()
            .map(|(tag, _)| tag.len())
            .chain(self.kept.iter().map(|(tag, _)| tag.len()))
            .max()
            .unwrap_or(0);
        for (tag, bytes) in &self.removed {
            let freed = if *bytes > 0 {
                indicatif::HumanBytes(*bytes).to_string()
            } else {
                "untagged (another tag keeps the image)".to_owned()
            };
            writeln!(f, "removed  {tag:<width$}  {freed}")?;
        }
        for (tag, reason) in &self.kept {
            writeln!(f, "kept     {tag:<width$}  {reason}")?;
        }
        if self.removed.is_empty() && self.kept.is_empty() {
            writeln!(f, "no superseded chaosbed image tags")
        } else {
            let tags = match self.removed.len() {
                1 => "1 tag".to_owned(),
                n => format!("{n} tags"),
            };
            let freed = match (self.freed(), self.upper_bound) {
                (0, _) => "freed nothing".to_owned(),
                (bytes, true) => format!("freed up to {}", indicatif::HumanBytes(bytes)),
                (bytes, false) => format!("freed about {}", indicatif::HumanBytes(bytes)),
            };
            writeln!(
                f,
                "superseded chaosbed images: removed {tags}, {freed}{}",
                if self.kept.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; kept {} in use (`cargo xtask clean` removes chaosbed's containers;                          remove other containers that use them, then rerun)",
                        self.kept.len()
                    )
                }
            )
        }
    }
}

/// Removes every superseded tag; an image goes when its last tag does. Never forces: an image a
/// container uses is kept and reported.
pub async fn remove_superseded(docker: &Docker, stale: &[Superseded]) -> Result<Removal> {
    let mut removal = Removal {
        upper_bound: stale.iter().any(|s| s.upper_bound),
        ..Removal::default()
    };
    for image in stale {
        for tag in &image.tags {
            let result = docker
                .remove_image(
                    tag,
                    Some(RemoveImageOptions {
                        force: false,
                        noprune: false,
                        ..Default::default()
                    }),
                    None,
                )
                .await;
            match result {
                Ok(items) => {
                    let deleted = items.iter().any(|item| item.deleted.is_some());
                    let freed = if deleted { image.frees } else { 0 };
                    removal.removed.push((tag.clone(), freed));
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409,
                    message,
                }) => removal.kept.push((tag.clone(), message)),
                Err(err) => {
                    return Err(anyhow!(err).context(format!(
                        "removing the superseded image tag {tag}; `docker image rm {tag}` \
                         shows the engine's reason"
                    )));
                }
            }
        }
    }
    Ok(removal)
}

/// Plans the current tags, lists the engine's chaosbed images and removes the superseded tags
/// (`cargo xtask clean --images`, `chaosbed clean --images`). Refuses to remove anything when
/// the current tags cannot be planned.
pub async fn clean_superseded(docker: &Docker) -> Result<Removal> {
    let current = current()
        .context("planning the current image tags, so that none of them is removed")?
        .tags();
    let present = list(docker).await?;
    remove_superseded(docker, &superseded(&present, &current)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], size: u64) -> Present {
        Present {
            id: id.to_owned(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            size,
            upper_bound: false,
        }
    }

    fn tags(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn an_old_content_hash_is_superseded_but_current_tags_and_aliases_are_not() {
        let current = tags(&[
            "chaosbed/zookeeper:3.8.0-aaaaaaaaaaaa",
            "chaosbed/zookeeper:3.8.0",
            "chaosbed/zookeeper:3.8",
            "chaosbed/jre:17-cccccccccccc",
        ]);
        let present = [
            image(
                "sha256:new",
                &[
                    "chaosbed/zookeeper:3.8.0-aaaaaaaaaaaa",
                    "chaosbed/zookeeper:3.8.0",
                    "chaosbed/zookeeper:3.8",
                ],
                40 << 20,
            ),
            image(
                "sha256:old",
                &["chaosbed/zookeeper:3.8.0-bbbbbbbbbbbb"],
                35 << 20,
            ),
            image("sha256:jre", &["chaosbed/jre:17-cccccccccccc"], 0),
        ];
        assert_eq!(
            superseded(&present, &current),
            [Superseded {
                id: "sha256:old".into(),
                tags: vec!["chaosbed/zookeeper:3.8.0-bbbbbbbbbbbb".into()],
                frees: 35 << 20,
                upper_bound: false,
            }]
        );
    }

    #[test]
    fn other_repositories_are_never_superseded() {
        let current = tags(&["chaosbed/zookeeper:3.9.5-aaaaaaaaaaaa"]);
        let present = [
            image(
                "sha256:official",
                &["zookeeper:3.9", "zookeeper:latest"],
                1 << 30,
            ),
            image(
                "sha256:mirror",
                &["registry.local/chaosbed/zookeeper:3.9"],
                1 << 30,
            ),
        ];
        assert!(superseded(&present, &current).is_empty());
    }

    #[test]
    fn a_tag_removed_from_an_image_that_keeps_another_frees_nothing() {
        // An old alias of a retired version still on the image a current tag names, and an old
        // image someone retagged under their own name: both tags go, no bytes do.
        let current = tags(&["chaosbed/zookeeper:3.9.5-aaaaaaaaaaaa"]);
        let present = [
            image(
                "sha256:current",
                &[
                    "chaosbed/zookeeper:3.9.5-aaaaaaaaaaaa",
                    "chaosbed/zookeeper:3.9.4",
                ],
                50 << 20,
            ),
            image(
                "sha256:kept",
                &["chaosbed/zookeeper:3.9.4-dddddddddddd", "mine/zk:debug"],
                50 << 20,
            ),
        ];
        let stale = superseded(&present, &current);
        assert_eq!(stale.len(), 2);
        assert_eq!(stale[0].tags, ["chaosbed/zookeeper:3.9.4"]);
        assert_eq!(stale[0].frees, 0);
        assert_eq!(stale[1].tags, ["chaosbed/zookeeper:3.9.4-dddddddddddd"]);
        assert_eq!(stale[1].frees, 0);
    }

    #[test]
    fn every_stale_tag_of_one_image_goes_together_and_frees_it() {
        let current = tags(&["chaosbed/pulsar:4.0.7-aaaaaaaaaaaa"]);
        let present = [image(
            "sha256:old",
            &[
                "chaosbed/pulsar:4.0.6-bbbbbbbbbbbb",
                "chaosbed/pulsar:4.0.6",
            ],
            300 << 20,
        )];
        let stale = superseded(&present, &current);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].tags.len(), 2);
        assert_eq!(stale[0].frees, 300 << 20);
    }

    #[test]
    fn a_removal_lists_each_tag_and_the_total() {
        let removal = Removal {
            removed: vec![
                ("chaosbed/zookeeper:3.8.0-bbbbbbbbbbbb".into(), 35 << 20),
                ("chaosbed/zookeeper:3.9.4".into(), 0),
            ],
            kept: vec![],
            upper_bound: false,
        };
        assert_eq!(removal.freed(), 35 << 20);
        assert_eq!(
            removal.to_string(),
            "removed  chaosbed/zookeeper:3.8.0-bbbbbbbbbbbb  35.00 MiB\n\
             removed  chaosbed/zookeeper:3.9.4               untagged (another tag keeps the image)\n\
             superseded chaosbed images: removed 2 tags, freed about 35.00 MiB\n"
        );
        assert_eq!(
            Removal::default().to_string(),
            "no superseded chaosbed image tags\n"
        );
    }

    #[test]
    fn the_current_plan_names_every_catalogue_entry_and_system_aliases() {
        let current = current().unwrap();
        assert_eq!(current.planned.len(), CATALOGUE.len());
        let all = current.tags();
        assert!(all.contains("chaosbed/zookeeper:3.8.0"));
        assert!(all.contains("chaosbed/zookeeper:3.8"));
        assert!(all.contains("chaosbed/postgres:15"));
        // Layers have no alias.
        assert!(!all.iter().any(|t| t == "chaosbed/jre:17"));
        let (_, jre) = current
            .planned
            .iter()
            .find(|(s, _)| s.name == "jre")
            .unwrap();
        assert!(jre.starts_with("chaosbed/jre:17-"), "{jre}");
    }

    #[test]
    fn missing_layers_come_parents_first_and_once() {
        let zk = super::super::resolve("zookeeper", "3.9").unwrap();
        let pulsar = super::super::resolve("pulsar", "4.0").unwrap();
        let none = BTreeSet::new();
        let names = |specs: Vec<&ImageSpec>| specs.iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(missing_from(&none, &[zk, pulsar]).unwrap()),
            ["base", "jre", "zookeeper-3.9", "pulsar-4.0"]
        );
        // With the layers present only the leaves are left to build.
        let chain = plan(zk).unwrap();
        let present: BTreeSet<String> = chain[..2].iter().map(|p| p.tag.clone()).collect();
        assert_eq!(
            names(missing_from(&present, &[zk, pulsar]).unwrap()),
            ["zookeeper-3.9", "pulsar-4.0"]
        );
    }
}

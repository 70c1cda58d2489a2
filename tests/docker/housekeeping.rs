//! Docker tests of the host checks that ask the engine: the runner refuses a run that does not
//! fit on the engine's disk before creating anything, and removing superseded tags takes a
//! stale `chaosbed/` tag but never a current one. Neither builds a cluster.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use bollard::query_parameters::{ListContainersOptions, TagImageOptions};
use indicatif::MultiProgress;
use libtest_mimic::Trial;

use chaosbed::runner::{self, RunOptions};

use super::support::{block_on, docker, scenario};

pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("housekeeping::a_run_that_does_not_fit_is_refused", || {
            block_on(a_run_that_does_not_fit_is_refused())
        }),
        Trial::test(
            "housekeeping::a_superseded_tag_goes_and_the_current_stays",
            || block_on(a_superseded_tag_goes_and_the_current_stays()),
        ),
    ]
}

/// Bookies told to turn read-only at 0% used need the whole filesystem free, which no engine's
/// disk has: the run must be refused with the numbers, and nothing created.
async fn a_run_that_does_not_fit_is_refused() -> Result<()> {
    let docker = docker().await?;
    let mut s = scenario("pulsar-bookie-kill")?;
    s.name = "housekeeping-too-big".to_owned();
    let bookies = s
        .topology
        .spec_mut(chaosbed::system::bookkeeper::KIND)
        .context("pulsar-bookie-kill has bookies")?;
    bookies.config.insert(
        "diskUsageThreshold".to_owned(),
        toml::Spanned::new(0..0, toml::Value::Float(0.0)),
    );
    let out = tempfile::tempdir()?;
    let options = RunOptions {
        out_root: out.path().to_path_buf(),
        keep: false,
        // Should the check let it through, the run stops at once and cleans up.
        timeout: Duration::from_secs(1),
    };
    let result = runner::run(&s, &options, &MultiProgress::new()).await;
    let Err(error) = result else {
        bail!("the run started although its bookies need the whole disk free");
    };
    let text = format!("{error:#}");
    println!("refused: {text}");
    for wanted in [
        "refusing to start scenario housekeeping-too-big",
        " free in ",
        "needs about",
        "bookies' headroom",
        "cargo xtask clean --images",
    ] {
        ensure!(
            text.contains(wanted),
            "the refusal lacks {wanted:?}: {text}"
        );
    }
    ensure!(
        std::fs::read_dir(out.path())?.next().is_none(),
        "a refused run made a run directory"
    );
    // Run ids start with the scenario's name; Docker's name filter matches a part of it.
    let created = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "name".to_owned(),
                vec!["housekeeping-too-big".to_owned()],
            )])),
            ..Default::default()
        }))
        .await?;
    ensure!(created.is_empty(), "a refused run created {created:?}");
    Ok(())
}

/// A throwaway `chaosbed/` tag on an image that keeps its current tag: listed as superseded
/// (freeing nothing, the image stays), removed, and the current tag still there. Only that tag
/// is removed, so other checkouts' images on a shared engine are left alone.
async fn a_superseded_tag_goes_and_the_current_stays() -> Result<()> {
    let docker = docker().await?;
    let progress = MultiProgress::new();
    let base = chaosbed::image::CATALOGUE
        .iter()
        .find(|s| s.name == "base")
        .expect("the catalogue has its base");
    let current_tag = chaosbed::image::ensure_spec(&docker, base, &progress).await?;
    let stale_tag = "chaosbed/housekeeping-test:0-000000000000";
    let (repo, tag) = stale_tag.split_once(':').expect("a tag has a colon");
    docker
        .tag_image(
            &current_tag,
            Some(TagImageOptions {
                repo: Some(repo.to_owned()),
                tag: Some(tag.to_owned()),
            }),
        )
        .await
        .with_context(|| format!("tagging {current_tag} as {stale_tag}"))?;

    let current = chaosbed::image::current()?.tags();
    let present = chaosbed::image::list(&docker).await?;
    let mut stale: Vec<_> = chaosbed::image::superseded(&present, &current)
        .into_iter()
        .filter(|s| s.tags.iter().any(|t| t == stale_tag))
        .collect();
    ensure!(
        stale.len() == 1,
        "{stale_tag} not listed as superseded: {stale:?}"
    );
    stale[0].tags.retain(|t| t == stale_tag);
    ensure!(
        stale[0].frees == 0,
        "untagging an image that keeps {current_tag} frees nothing, not {}",
        stale[0].frees
    );
    ensure!(
        !current.iter().any(|t| t == stale_tag) && current.contains(&current_tag),
        "the current tags must hold {current_tag} and not {stale_tag}"
    );

    let removal = chaosbed::image::remove_superseded(&docker, &stale).await?;
    print!("{removal}");
    ensure!(
        removal.removed == [(stale_tag.to_owned(), 0)] && removal.kept.is_empty(),
        "removal: {removal:?}"
    );
    ensure!(
        docker.inspect_image(stale_tag).await.is_err(),
        "{stale_tag} is still there"
    );
    docker
        .inspect_image(&current_tag)
        .await
        .with_context(|| format!("the current {current_tag} went with the superseded tag"))?;
    Ok(())
}

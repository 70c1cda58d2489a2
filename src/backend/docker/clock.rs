//! The run's clock volume and its keeper: libfaketime copied out of chaosbed's nemesis image
//! onto a volume, mounted read-only into every node; one offset file per node on it, written
//! only by the keeper (a container of the nemesis image with no network). Any image gets clock
//! skew this way, with nothing of chaosbed's inside it and the offsets out of the node's reach.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, VolumeCreateRequest};
use tokio::sync::Mutex;

use super::helper::LABEL_HELPER_FOR;
use super::{DockerBackend, volume_mount};
use crate::backend::{ExecOutput, clock};

/// How long a clock probe may take: a shell printing the date.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// The clock volume of a run and the keeper that writes it.
pub struct ClockVolume {
    pub volume: String,
    pub keeper: String,
    /// Each node image's own environment, read once per image.
    image_envs: Mutex<HashMap<String, Vec<String>>>,
}

impl DockerBackend {
    pub(super) async fn create_clock(&mut self, image: &str) -> anyhow::Result<()> {
        if self.clock.is_some() {
            return Ok(());
        }
        let volume = format!("cb-{}-clock", self.run);
        let keeper = format!("cb-{}-clock-keeper", self.run);
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(volume.clone()),
                labels: Some(self.labels(None)),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating the clock volume {volume}"))?;
        let mut labels = self.labels(None);
        labels.insert(LABEL_HELPER_FOR.to_string(), "clock".to_string());
        // The volume is empty, so mounting it where the image keeps libfaketime copies the
        // library onto it: that is how it leaves the nemesis image.
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                mounts: Some(vec![self.clock_mount(&volume, false)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let doing = || format!("starting the clock keeper {keeper} from image {image}");
        self.create_named(&keeper, body).await.with_context(doing)?;
        self.docker
            .start_container(&keeper, None)
            .await
            .with_context(doing)?;
        let check = format!("test -s {} && mkdir -p {}", clock::LIBRARY, clock::OFFSETS);
        let out = self.exec_in(&keeper, &["sh", "-c", &check], doing).await?;
        if out.exit_code != 0 {
            bail!(
                "the clock volume {volume} holds no {} after the keeper mounted it (is {image} \
                 chaosbed's nemesis image, with libfaketime there?): {}{}",
                clock::LIBRARY,
                out.stdout.trim(),
                out.stderr.trim()
            );
        }
        self.clock = Some(ClockVolume {
            volume,
            keeper,
            image_envs: Mutex::default(),
        });
        Ok(())
    }

    pub(super) fn clock_mount(&self, volume: &str, read_only: bool) -> Mount {
        volume_mount(volume, clock::MOUNT, read_only)
    }

    /// Runs `cmd` in the clock keeper.
    pub(super) async fn exec_in_keeper(&self, cmd: &[&str]) -> anyhow::Result<ExecOutput> {
        let clock = self.clock.as_ref().context(
            "no clock volume to change a node's clock on (the runner makes one for a \
             scenario with clock-skew faults)",
        )?;
        let doing = || {
            format!(
                "running `{}` in the clock keeper {}",
                cmd.join(" "),
                clock.keeper
            )
        };
        self.exec_in(&clock.keeper, cmd, doing).await
    }

    /// Adds the clock's read-only mount and preload to a node's container before it is created,
    /// with the node's offset file at zero unless a fault holds it elsewhere.
    pub(super) async fn add_clock(
        &self,
        node: &str,
        body: &mut ContainerCreateBody,
    ) -> anyhow::Result<()> {
        let Some(clock) = &self.clock else {
            return Ok(());
        };
        let zero = clock::zero_unless_set(node);
        let out = self.exec_in_keeper(&["sh", "-c", &zero]).await?;
        if out.exit_code != 0 {
            bail!(
                "writing node {node}'s clock offset file: {}{}",
                out.stdout.trim(),
                out.stderr.trim()
            );
        }
        let image = body.image.clone().unwrap_or_default();
        let image_env = self.image_env(clock, &image, node).await?;
        let spec_env: Vec<(String, String)> = body
            .env
            .take()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let merged = clock::merged_env(node, &spec_env, &image_env);
        body.env = Some(merged.iter().map(|(k, v)| format!("{k}={v}")).collect());
        let host = body.host_config.get_or_insert_with(HostConfig::default);
        host.mounts
            .get_or_insert_with(Vec::new)
            .push(self.clock_mount(&clock.volume, true));
        Ok(())
    }

    /// Image `image`'s own environment (which may preload a library of its own).
    async fn image_env(
        &self,
        clock: &ClockVolume,
        image: &str,
        node: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut known = clock.image_envs.lock().await;
        if let Some(env) = known.get(image) {
            return Ok(env.clone());
        }
        let env = self
            .docker
            .inspect_image(image)
            .await
            .with_context(|| format!("reading the environment of image {image} for node {node}"))?
            .config
            .and_then(|c| c.env)
            .unwrap_or_default();
        known.insert(image.to_string(), env.clone());
        Ok(env)
    }

    /// Runs `script` under `sh -c` in a throwaway container of `image` (its entrypoint
    /// replaced, no network) that preloads libfaketime with the clock `offset_secs` away.
    pub(super) async fn run_clock_probe(
        &self,
        image: &str,
        script: &str,
        offset_secs: i64,
    ) -> anyhow::Result<ExecOutput> {
        let clock = self.clock.as_ref().context(
            "no clock volume to probe an image with (the runner makes one for a scenario with \
             clock-skew faults)",
        )?;
        let name = format!("cb-{}-clock-probe", self.run);
        let mut labels = self.labels(None);
        labels.insert(LABEL_HELPER_FOR.to_string(), "clock".to_string());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
            cmd: Some(Vec::new()),
            env: Some(
                clock::probe_env(offset_secs)
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                mounts: Some(vec![self.clock_mount(&clock.volume, true)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let doing = || format!("probing libfaketime in image {image} ({name})");
        self.create_named(&name, body).await.with_context(doing)?;
        self.run_to_exit(&name, PROBE_TIMEOUT, false)
            .await
            .with_context(doing)
    }
}

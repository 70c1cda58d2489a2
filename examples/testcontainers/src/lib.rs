//! testcontainers-rs images of chaosbed's locally built images, so a testcontainers user gets a
//! real ZooKeeper with no registry: [`ZooKeeper::build`] has chaosbed build the image from its
//! Debian rootfs and Maven Central (cached by content hash), and the image's tag is local, so
//! testcontainers starts it without pulling.

use std::borrow::Cow;

use testcontainers::Image;
use testcontainers::core::{ContainerPort, WaitFor};

/// ZooKeeper's client port.
pub const ZOOKEEPER_PORT: ContainerPort = ContainerPort::Tcp(2181);

/// A standalone ZooKeeper server of chaosbed's image, the official image's environment contract
/// (`ZOO_TICK_TIME`, `ZOO_CFG_EXTRA`, `JVMFLAGS`, ... as env vars).
#[derive(Debug, Clone)]
pub struct ZooKeeper {
    tag: String,
    env: Vec<(String, String)>,
}

impl ZooKeeper {
    /// chaosbed's ZooKeeper at `version` (`3.9`, `3.8`, or any release by number, e.g. `3.9.3`),
    /// built now unless the engine has it.
    pub async fn build(version: &str) -> anyhow::Result<Self> {
        let docker = chaosbed::provision::engine().await?;
        let progress =
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let built = chaosbed::image::ensure(&docker, "zookeeper", version, &progress).await?;
        Ok(Self {
            tag: built
                .rsplit_once(':')
                .map(|(_, tag)| tag.to_owned())
                .unwrap_or(built),
            env: Vec::new(),
        })
    }

    /// A setting through the image's environment contract, e.g. `ZOO_TICK_TIME`.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

impl Image for ZooKeeper {
    fn name(&self) -> &str {
        "chaosbed/zookeeper"
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stdout("binding to port")]
    }

    fn env_vars(
        &self,
    ) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[ZOOKEEPER_PORT]
    }
}

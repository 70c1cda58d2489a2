//! The run's bridge network, on a subnet chaosbed picks so that each node keeps its address
//! across restarts.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use anyhow::Context;
use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};

use crate::backend::RunId;

pub(super) struct RunNetwork {
    pub name: String,
    base: [u8; 3],
}

impl RunNetwork {
    /// Creates the run's network on the first free 172.30.X.0/24.
    pub async fn create(
        docker: &Docker,
        run: &RunId,
        labels: HashMap<String, String>,
    ) -> anyhow::Result<Self> {
        let name = run.network_name();
        let in_use = used_subnets(docker).await?;
        let start: u8 = rand::random();
        let mut last_error = None;
        for step in 0..=255u8 {
            let third = start.wrapping_add(step);
            let subnet = format!("172.30.{third}.0/24");
            if in_use.contains(&subnet) {
                continue;
            }
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet.clone()),
                        gateway: Some(format!("172.30.{third}.1")),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            match docker.create_network(request).await {
                Ok(_) => {
                    return Ok(Self {
                        name,
                        base: [172, 30, third],
                    });
                }
                Err(e) if e.to_string().contains("overlap") => last_error = Some(e),
                Err(e) => return Err(e).with_context(|| format!("creating network {name}")),
            }
        }
        Err(anyhow::anyhow!(
            "creating network {name}: no free /24 left in 172.30.0.0/16 ({last_error:?}); remove old networks with `cargo xtask clean`"
        ))
    }

    pub fn host(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.base[0], self.base[1], self.base[2], host)
    }
}

async fn used_subnets(docker: &Docker) -> anyhow::Result<Vec<String>> {
    let networks = docker
        .list_networks(None)
        .await
        .context("listing Docker networks to find a free subnet")?;
    Ok(networks
        .into_iter()
        .filter_map(|n| n.ipam?.config)
        .flatten()
        .filter_map(|c| c.subnet)
        .collect())
}

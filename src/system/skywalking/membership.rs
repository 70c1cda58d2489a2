//! The OAP cluster as ZooKeeper sees it: each OAP registers itself (Curator service discovery)
//! under the cluster's base path with the address it advertises to its peers.

use std::net::Ipv4Addr;

use anyhow::Context as _;
use serde::Deserialize;
use zookeeper_client as zk;

/// Where the OAP nodes register (`/skywalking` plus the `remote` service), with no namespace.
pub const REMOTE_PATH: &str = "/skywalking/remote";

/// One registered OAP: the address its peers will dial.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    pub host: String,
    pub port: u16,
    /// When it registered (Curator's `registrationTimeUTC`, unix ms), if the record says.
    pub registered_ms: Option<u64>,
}

impl Member {
    /// An address no peer can dial: the wildcard or the loopback.
    pub fn is_unusable(&self) -> bool {
        self.host
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| ip.is_unspecified() || ip.is_loopback())
            || self.host == "localhost"
    }
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A Curator service instance as stored in its znode.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    address: String,
    port: Option<u16>,
    #[serde(rename = "registrationTimeUTC")]
    registration_time_utc: Option<u64>,
}

/// Parses one registration znode's data.
pub fn parse_member(data: &[u8]) -> anyhow::Result<Member> {
    let instance: Instance = serde_json::from_slice(data).with_context(|| {
        format!(
            "an OAP registration that is not a Curator instance: {}",
            String::from_utf8_lossy(data)
        )
    })?;
    Ok(Member {
        host: instance.address,
        port: instance.port.unwrap_or(super::GRPC_PORT),
        registered_ms: instance.registration_time_utc,
    })
}

/// The OAP nodes registered in the ensemble at `connect` (`host:port,...`), sorted.
pub async fn members(connect: &str) -> anyhow::Result<Vec<Member>> {
    crate::system::zookeeper::ask(connect, "listing OAP members", async |client| {
        let children = match client.list_children(REMOTE_PATH).await {
            Ok(children) => children,
            Err(zk::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("listing {REMOTE_PATH} in ZooKeeper"));
            }
        };
        let mut members = Vec::new();
        for child in children {
            let path = format!("{REMOTE_PATH}/{child}");
            match client.get_data(&path).await {
                Ok((data, _)) => members.push(parse_member(&data)?),
                // Deregistered between the listing and the read.
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e).with_context(|| format!("reading {path} in ZooKeeper")),
            }
        }
        members.sort();
        Ok(members)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curator_instance_gives_the_advertised_address() {
        let data = br#"{"name":"remote","id":"5b1","address":"oap-2","port":11800,"sslPort":null,"payload":null,"registrationTimeUTC":1,"serviceType":"DYNAMIC","uriSpec":null}"#;
        let member = parse_member(data).unwrap();
        assert_eq!(member.to_string(), "oap-2:11800");
        assert_eq!(member.registered_ms, Some(1));
        assert!(!member.is_unusable());
    }

    #[test]
    fn the_wildcard_and_loopback_are_unusable() {
        for host in ["0.0.0.0", "127.0.0.1", "localhost"] {
            let member = Member {
                host: host.into(),
                port: 11800,
                registered_ms: None,
            };
            assert!(member.is_unusable(), "{host}");
        }
    }
}

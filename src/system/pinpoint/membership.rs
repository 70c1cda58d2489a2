//! The Pinpoint cluster as ZooKeeper sees it (cluster mode): each collector registers as
//! `<hostname>@<pid>` under /pinpoint-cluster/collector, each web as `<address>:9997` (its
//! cluster port) under /pinpoint-cluster/web.

use anyhow::Context as _;
use std::net::Ipv4Addr;
use zookeeper_client as zk;

pub const COLLECTOR_PATH: &str = "/pinpoint-cluster/collector";
pub const WEB_PATH: &str = "/pinpoint-cluster/web";

/// The names registered under `path` in the ensemble at `connect` (`host:port,...`), sorted;
/// none when the path does not exist yet.
pub async fn registered(connect: &str, path: &str) -> anyhow::Result<Vec<String>> {
    let what = format!("listing {path}");
    crate::system::zookeeper::ask(connect, &what, async |client| {
        let mut children = match client.list_children(path).await {
            Ok(children) => children,
            Err(zk::Error::NoNode) => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("{what} in ZooKeeper")),
        };
        children.sort();
        Ok(children)
    })
    .await
}

/// Whether collector `node` is among `registered` (`collector-2@1`: hostname, then its pid).
pub fn collector_registered(registered: &[String], node: &str) -> bool {
    registered
        .iter()
        .any(|entry| entry.split('@').next() == Some(node))
}

/// Whether the web at `address` is among `registered` (`172.20.0.5:9997`).
pub fn web_registered(registered: &[String], address: Ipv4Addr) -> bool {
    registered
        .iter()
        .any(|entry| entry.split(':').next() == Some(address.to_string().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collectors_register_by_hostname_and_webs_by_address() {
        let collectors = vec!["collector-1@1".to_string(), "collector-12@1".to_string()];
        assert!(collector_registered(&collectors, "collector-1"));
        assert!(collector_registered(&collectors, "collector-12"));
        assert!(!collector_registered(&collectors, "collector-2"));
        let webs = vec!["172.20.0.5:9997".to_string()];
        assert!(web_registered(&webs, "172.20.0.5".parse().unwrap()));
        assert!(!web_registered(&webs, "172.20.0.50".parse().unwrap()));
    }
}

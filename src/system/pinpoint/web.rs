//! Pinpoint web: the query UI and API over HBase, clustered with the collectors over ZooKeeper.
//! Ready once GET /serverTime.pinpoint answers (after startup); `applications` lists the
//! applications agents have registered.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};
use crate::system::{Wiring, http};

/// The web's HTTP port (the image's WEB_SERVER_PORT default).
pub const HTTP_PORT: u16 = 8080;

/// The container of web `index`: as a collector, ZooKeeper and HBase's quorum by node name,
/// cluster mode on; `config` keys are Spring properties.
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    wiring: &Wiring,
) -> ContainerSpec {
    super::server_spec(
        SystemKind::PinpointWeb,
        spec,
        image,
        index,
        &wiring.zk_connect,
    )
}

/// Polls until every web answers GET /serverTime.pinpoint.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::wait_http(
        "the Pinpoint webs",
        nodes,
        HTTP_PORT,
        &["serverTime.pinpoint"],
        timeout,
    )
    .await
}

/// One application as /applications.pinpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub application_name: String,
    pub service_type: String,
    pub code: i64,
}

/// The applications list out of a /applications.pinpoint answer.
pub fn parse_applications(body: &str) -> anyhow::Result<Vec<Application>> {
    serde_json::from_str(body).context("/applications.pinpoint answers a JSON list")
}

/// The applications the web knows, bypassing its cache.
pub async fn applications(
    address: Ipv4Addr,
    timeout: Duration,
) -> anyhow::Result<Vec<Application>> {
    let mut url = http::url(address, HTTP_PORT, &["applications.pinpoint"])?;
    url.query_pairs_mut().append_pair("clearCache", "true");
    parse_applications(&http::get_ok(&url, timeout).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_wiring_as_a_collector() {
        let wiring = Wiring {
            zk_connect: "zk-1:2181".into(),
            cluster: String::new(),
            postgres: None,
            oap_nodes: Vec::new(),
            collectors: Vec::new(),
        };
        let c = container_spec(&toml::from_str("nodes = 1").unwrap(), "img", 1, &wiring);
        assert_eq!(c.node, "web-1");
        assert_eq!(c.env_var("PINPOINT_ZOOKEEPER_ADDRESS"), Some("zk-1"));
        assert_eq!(c.env_var("CLUSTER_ENABLE"), Some("true"));
    }

    #[test]
    fn lists_applications() {
        let body = r#"[{"applicationName":"chaosbed-app","serviceType":"TOMCAT","code":1010}]"#;
        assert_eq!(
            parse_applications(body).unwrap(),
            [Application {
                application_name: "chaosbed-app".into(),
                service_type: "TOMCAT".into(),
                code: 1010,
            }]
        );
        assert!(parse_applications("[]").unwrap().is_empty());
    }
}

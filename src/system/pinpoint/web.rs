//! Pinpoint web: the query UI and API over HBase, clustered with the collectors over ZooKeeper.
//! Ready once GET /serverTime.pinpoint answers (after startup); `applications` lists the
//! applications agents have registered, `scatter` the transactions of a time window and
//! `transaction_metadata` what each of them was.

use std::net::Ipv4Addr;
use std::time::Duration;

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::Deserialize;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};
use crate::system::protocol::System;
use crate::system::{Wiring, http, zookeeper};

/// The Pinpoint web in the registry.
pub const KIND: SystemKind = SystemKind::of(&Web);

/// Pinpoint webs: ready once /serverTime.pinpoint answers and ZooKeeper lists them.
pub struct Web;

impl System for Web {
    fn name(&self) -> &'static str {
        "pinpoint-web"
    }

    fn node_prefix(&self) -> &'static str {
        "web"
    }

    fn default_version(&self) -> &'static str {
        "2.5"
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        vec![(
            "CHAOSBED_PINPOINT_WEB_URL",
            crate::system::client_env::first_url(addresses, HTTP_PORT, ""),
        )]
    }

    super::server_capabilities!();
}

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
    super::server_spec(KIND, spec, image, index, &wiring.connect(zookeeper::KIND))
}

/// Polls until every web answers GET /serverTime.pinpoint and is registered in ZooKeeper (at
/// `zk_connect`, as the harness reaches it) under membership::WEB_PATH.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    zk_connect: &str,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let registration = super::Registration {
        zk_connect,
        path: super::membership::WEB_PATH,
        is_registered: |registered, _, address| {
            super::membership::web_registered(registered, address)
        },
    };
    super::wait_http(
        "the Pinpoint webs",
        nodes,
        (HTTP_PORT, &["serverTime.pinpoint"]),
        Some(registration),
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

/// How many dots one scatter request asks for; a window with more is read in pages.
const SCATTER_PAGE: usize = 5000;
/// At most this many pages per scatter read (SCATTER_PAGE dots each).
const SCATTER_PAGES: usize = 20;

/// One transaction as the scatter chart shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dot {
    /// `agentId^agentStartTime^sequence`: the transaction's id.
    pub transaction_id: String,
    /// When its collector accepted it, by the collector's clock (ms since the epoch): the time
    /// the web indexes it under.
    pub accepted_ms: i64,
    pub elapsed_ms: i64,
}

/// What one /getScatterData.pinpoint answer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScatterPage {
    pub dots: Vec<Dot>,
    /// False when the limit cut the window short; the rest is older than `result_from`.
    pub complete: bool,
    pub result_from: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScatterAnswer {
    from: i64,
    scatter: ScatterBody,
    #[serde(default = "complete_by_default")]
    complete: bool,
    #[serde(default)]
    result_from: i64,
}

fn complete_by_default() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScatterBody {
    /// Agent key → [agentId, agentName, agentStartTime].
    #[serde(default)]
    metadata: BTreeMap<String, (String, String, i64)>,
    /// [accept time - from, elapsed, agent key, transaction sequence, ...].
    #[serde(default)]
    dot_list: Vec<Vec<i64>>,
}

/// The dots out of a /getScatterData.pinpoint answer.
pub fn parse_scatter(body: &str) -> anyhow::Result<ScatterPage> {
    let answer: ScatterAnswer =
        serde_json::from_str(body).context("/getScatterData.pinpoint answers scatter JSON")?;
    let mut dots = Vec::with_capacity(answer.scatter.dot_list.len());
    for dot in &answer.scatter.dot_list {
        let [x, y, key, seq, ..] = dot[..] else {
            anyhow::bail!("a scatter dot with fewer than 4 fields: {dot:?}");
        };
        let (agent, _, started) = answer
            .scatter
            .metadata
            .get(&key.to_string())
            .with_context(|| format!("scatter dot {dot:?} names agent key {key}, not listed"))?;
        dots.push(Dot {
            transaction_id: format!("{agent}^{started}^{seq}"),
            accepted_ms: answer.from + x,
            elapsed_ms: y,
        });
    }
    Ok(ScatterPage {
        dots,
        complete: answer.complete,
        result_from: answer.result_from,
    })
}

/// Every transaction of `application` the collectors accepted between `from_ms` and `to_ms`,
/// page by page (newest first) until the window is complete.
pub async fn scatter(
    address: Ipv4Addr,
    application: &str,
    from_ms: i64,
    to_ms: i64,
    timeout: Duration,
) -> anyhow::Result<Vec<Dot>> {
    let mut dots = Vec::new();
    let mut to = to_ms;
    for _ in 0..SCATTER_PAGES {
        let mut url = http::url(address, HTTP_PORT, &["getScatterData.pinpoint"])?;
        url.query_pairs_mut()
            .append_pair("application", application)
            .append_pair("from", &from_ms.to_string())
            .append_pair("to", &to.to_string())
            .append_pair("xGroupUnit", "1")
            .append_pair("yGroupUnit", "1")
            .append_pair("limit", &SCATTER_PAGE.to_string());
        let page = parse_scatter(&http::get_ok(&url, timeout).await?)?;
        dots.extend(page.dots);
        if page.complete || page.result_from <= from_ms || page.result_from >= to {
            break;
        }
        to = page.result_from;
    }
    dots.sort();
    dots.dedup_by(|a, b| a.transaction_id == b.transaction_id);
    Ok(dots)
}

/// What /transactionmetadata.pinpoint says of one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub trace_id: String,
    /// The entry point: for a web request, its URI (`/hello/<id>`).
    pub application: String,
    pub agent_id: String,
    /// When the agent started it, by the agent's clock (ms since the epoch).
    pub start_time: i64,
    pub collector_accept_time: i64,
}

#[derive(Deserialize)]
struct MetadataAnswer {
    metadata: Vec<Transaction>,
}

/// The transactions out of a /transactionmetadata.pinpoint answer.
pub fn parse_transactions(body: &str) -> anyhow::Result<Vec<Transaction>> {
    let answer: MetadataAnswer = serde_json::from_str(body)
        .context("/transactionmetadata.pinpoint answers a metadata list")?;
    Ok(answer.metadata)
}

/// What each of `dots` was; transactions the web cannot find yet are left out.
pub async fn transaction_metadata(
    address: Ipv4Addr,
    dots: &[Dot],
    timeout: Duration,
) -> anyhow::Result<Vec<Transaction>> {
    if dots.is_empty() {
        return Ok(Vec::new());
    }
    let url = http::url(address, HTTP_PORT, &["transactionmetadata.pinpoint"])?;
    let fields: Vec<(String, String)> = dots
        .iter()
        .enumerate()
        .flat_map(|(n, dot)| {
            [
                (format!("I{n}"), dot.transaction_id.clone()),
                (format!("T{n}"), dot.accepted_ms.to_string()),
                (format!("R{n}"), dot.elapsed_ms.to_string()),
            ]
        })
        .collect();
    let pairs = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let answer = http::post_form(&url, pairs, timeout).await?;
    anyhow::ensure!(
        answer.is_success(),
        "POST {url} ({} transactions) answered {}: {}",
        dots.len(),
        answer.status,
        answer.body.trim()
    );
    parse_transactions(&answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_wiring_as_a_collector() {
        let wiring = Wiring::of([(crate::system::zookeeper::KIND, 1)]);
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

    #[test]
    fn scatter_dots_become_transaction_ids_and_accept_times() {
        let body = r#"{"currentServerTime":1795359476549,"from":1795358871000,"to":1795359531000,
            "scatter":{"metadata":{"1":["app-1","app-1",1795359452866]},
            "dotList":[[598904,1,1,2,1,2],[598903,49,1,1,1,1]]},
            "complete":true,"resultFrom":1795359469903,"resultTo":1795359469904}"#;
        let page = parse_scatter(body).unwrap();
        assert!(page.complete);
        assert_eq!(
            page.dots,
            [
                Dot {
                    transaction_id: "app-1^1795359452866^2".into(),
                    accepted_ms: 1_795_359_469_904,
                    elapsed_ms: 1,
                },
                Dot {
                    transaction_id: "app-1^1795359452866^1".into(),
                    accepted_ms: 1_795_359_469_903,
                    elapsed_ms: 49,
                },
            ]
        );
        let empty = r#"{"from":1,"to":2,"scatter":{"metadata":{},"dotList":[]},"complete":true}"#;
        assert!(parse_scatter(empty).unwrap().dots.is_empty());
        let unknown_agent = r#"{"from":1,"scatter":{"metadata":{},"dotList":[[1,1,7,1,1,1]]}}"#;
        let e = parse_scatter(unknown_agent).unwrap_err();
        assert!(format!("{e:#}").contains("agent key 7"), "{e:#}");
    }

    #[test]
    fn transaction_metadata_names_the_uri() {
        let body = r#"{"metadata":[{"exception":0,"startTime":1795359469829,
            "remoteAddr":"172.18.0.1","agentId":"app-1","collectorAcceptTime":1795359469904,
            "elapsed":1,"agentName":"","spanId":"1417315767413926149",
            "application":"/hello/req-2","endpoint":"172.18.0.6:8080",
            "traceId":"app-1^1795359452866^2"}]}"#;
        let transactions = parse_transactions(body).unwrap();
        assert_eq!(transactions.len(), 1);
        assert_eq!(transactions[0].application, "/hello/req-2");
        assert_eq!(transactions[0].trace_id, "app-1^1795359452866^2");
        assert_eq!(transactions[0].collector_accept_time, 1_795_359_469_904);
    }
}

//! HBase, Pinpoint's storage: the chaosbed image's env contract (master and region server in one
//! JVM over the run's ZooKeeper ensemble, data on /data) and readiness from the schema step's JMX
//! bean (`chaosbed:type=Schema`: every table of Pinpoint's schema in place, all regions online).
//! Each node is a standalone HBase; a topology normally has one.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use futures_util::future::BoxFuture;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};

use super::protocol::{self, Deploy, Memory, System};
use super::{Wiring, http};

/// HBase in the registry.
pub const KIND: SystemKind = SystemKind::of(&Hbase);

/// HBase for Pinpoint: master and region server in one JVM, ready once Pinpoint's schema is in
/// place.
pub struct Hbase;

impl System for Hbase {
    fn name(&self) -> &'static str {
        "hbase"
    }

    fn node_prefix(&self) -> &'static str {
        "hbase"
    }

    fn default_version(&self) -> &'static str {
        "2.5"
    }

    fn needs(&self) -> &'static [SystemKind] {
        &[super::zookeeper::KIND]
    }

    fn disk_per_node(&self) -> u64 {
        // Write-ahead logs, HFiles of Pinpoint's tables, the master's and region server's logs.
        1 << 30
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(deploy.spec, deploy.image, index, deploy.wiring)
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            wait_ready(&ready.started_nodes(), ready.timeout).await?;
            Ok(Some("schema in place".to_string()))
        })
    }

    fn memory(&self) -> Memory {
        Memory {
            variables: &[],
            advice: HEAP_VARIABLE,
            image_default: None,
        }
    }

    // HBASE_HEAPSIZE is a size, not flags.
    fn heap_flags(&self, container: Option<&ContainerSpec>) -> Option<String> {
        let heapsize = container
            .and_then(|c| c.env_var(HEAP_VARIABLE))
            .unwrap_or(DEFAULT_HEAP);
        Some(heap_flags(heapsize))
    }

    fn zookeeper_setting(&self) -> &'static str {
        ", and that hbase.zookeeper.quorum (HBASE_ZOOKEEPER_QUORUM) names it"
    }
}

/// The master's info server, which serves `/jmx`.
pub const INFO_PORT: u16 = 16010;
/// The image's heap variable (`-Xmx`, a bare number is MB) and its default.
pub const HEAP_VARIABLE: &str = "HBASE_HEAPSIZE";
pub const DEFAULT_HEAP: &str = "512m";
/// JVM flags the image appends (HBASE_OPTS): C1 only, as the Pinpoint and SkyWalking images
/// default to — master and region server in one JVM start beside six Pinpoint JVMs on two cores.
const DEFAULT_OPTS: &str = "-XX:TieredStopAtLevel=1";
const DATA_DIR: &str = "/data";
const SCHEMA_BEAN: &str = "chaosbed:type=Schema";
const POLL: Duration = Duration::from_secs(1);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// The container of node `index`: the quorum is the run's ensemble by node name, `heap` is
/// HBASE_HEAPSIZE, and a scenario's `config` keys are hbase-site.xml properties (through the
/// image's HBASE_SITE_EXTRA, so they override the image's own).
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    wiring: &Wiring,
) -> ContainerSpec {
    let heap = spec
        .heap
        .clone()
        .unwrap_or_else(|| DEFAULT_HEAP.to_string());
    let mut env = vec![
        (
            "HBASE_ZOOKEEPER_QUORUM".to_string(),
            wiring.connect(super::zookeeper::KIND),
        ),
        (HEAP_VARIABLE.to_string(), heap),
        ("HBASE_OPTS".to_string(), DEFAULT_OPTS.to_string()),
    ];
    if !spec.config.is_empty() {
        let extra: Vec<String> = spec
            .config
            .iter()
            .map(|(key, value)| format!("{key}={}", super::config_text(value.get_ref())))
            .collect();
        env.push(("HBASE_SITE_EXTRA".to_string(), extra.join(" ")));
    }
    ContainerSpec {
        node: super::node_name(KIND, index),
        image: image.to_string(),
        env,
        memory: spec.memory.map(|m| m.0),
        data_dir: Some(DATA_DIR.into()),
        ..Default::default()
    }
}

/// HBASE_HEAPSIZE as the JVM flag the image makes of it (`512m` and `512` give `-Xmx512m`), for
/// the diagnosis of memory failures.
pub fn heap_flags(heapsize: &str) -> String {
    let heapsize = heapsize.trim();
    if heapsize.ends_with(|c: char| c.is_ascii_alphabetic()) {
        format!("-Xmx{heapsize}")
    } else {
        format!("-Xmx{heapsize}m")
    }
}

/// The schema step's status, as the JMX bean reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schema {
    pub ready: bool,
    pub tables: u32,
    pub expected: u32,
    #[serde(default)]
    pub created: u32,
    #[serde(default)]
    pub last_error: String,
}

impl Schema {
    /// Why it is not ready yet, or None when it is.
    pub fn waiting(&self) -> Option<String> {
        if self.ready {
            return None;
        }
        let error = if self.last_error.is_empty() {
            String::new()
        } else {
            format!(" (last error: {})", self.last_error)
        };
        Some(format!(
            "schema not ready: {} of {} tables{error}",
            self.tables, self.expected
        ))
    }
}

/// The Schema bean out of a `/jmx?qry=chaosbed:type=Schema` answer.
pub fn parse_schema(body: &str) -> anyhow::Result<Schema> {
    #[derive(Deserialize)]
    struct Beans {
        beans: Vec<serde_json::Value>,
    }
    let beans: Beans = serde_json::from_str(body).context("a /jmx answer is JSON with beans")?;
    let bean =
        beans.beans.into_iter().next().with_context(|| {
            format!("no {SCHEMA_BEAN} bean yet (the schema step has not started)")
        })?;
    serde_json::from_value(bean).with_context(|| format!("reading the {SCHEMA_BEAN} bean"))
}

/// Asks one node for its schema status.
pub async fn schema(address: Ipv4Addr) -> anyhow::Result<Schema> {
    let mut url = http::url(address, INFO_PORT, &["jmx"])?;
    url.query_pairs_mut().append_pair("qry", SCHEMA_BEAN);
    parse_schema(&http::get_ok(&url, ASK_TIMEOUT).await?)
}

/// Polls until every node's schema is ready (every table in place, its regions online).
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::poll_ready("HBase", timeout, POLL, || async {
        let mut waiting = Vec::new();
        for (name, address) in nodes {
            match schema(*address).await {
                Ok(schema) => waiting.extend(schema.waiting().map(|w| format!("{name}: {w}"))),
                Err(e) => waiting.push(format!("{name}: {e:#}")),
            }
        }
        waiting
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> Wiring {
        Wiring::of([(crate::system::zookeeper::KIND, 3)])
    }

    #[test]
    fn uses_the_runs_ensemble_and_keeps_data_on_the_volume() {
        let spec: SystemSpec = toml::from_str(
            "nodes = 1\nheap = \"768m\"\n[config]\n\"hbase.regionserver.handler.count\" = 10\n",
        )
        .unwrap();
        let c = container_spec(&spec, "img", 1, &wiring());
        assert_eq!(c.node, "hbase-1");
        assert_eq!(
            c.env_var("HBASE_ZOOKEEPER_QUORUM"),
            Some("zk-1:2181,zk-2:2181,zk-3:2181")
        );
        assert_eq!(c.env_var("HBASE_HEAPSIZE"), Some("768m"));
        assert_eq!(
            c.env_var("HBASE_SITE_EXTRA"),
            Some("hbase.regionserver.handler.count=10")
        );
        assert_eq!(c.data_dir.as_deref(), Some("/data"));
        let plain = container_spec(&toml::from_str("nodes = 1").unwrap(), "img", 1, &wiring());
        assert_eq!(plain.env_var("HBASE_HEAPSIZE"), Some(DEFAULT_HEAP));
        assert_eq!(plain.env_var("HBASE_SITE_EXTRA"), None);
    }

    #[test]
    fn heapsize_becomes_the_flag_the_image_passes() {
        assert_eq!(heap_flags("512m"), "-Xmx512m");
        assert_eq!(heap_flags("1G"), "-Xmx1G");
        assert_eq!(heap_flags("300"), "-Xmx300m");
    }

    #[test]
    fn the_schema_bean_says_when_every_table_is_in_place() {
        let ready = r#"{"beans":[{"name":"chaosbed:type=Schema","modelerType":"chaosbed.hbase.SchemaStatus",
            "Name":"pinpoint","Ready":true,"Tables":15,"Expected":15,"Created":15,"LastError":""}]}"#;
        let schema = parse_schema(ready).unwrap();
        assert!(schema.ready);
        assert_eq!(
            (schema.tables, schema.expected, schema.created),
            (15, 15, 15)
        );
        assert_eq!(schema.waiting(), None);

        let partial = r#"{"beans":[{"Ready":false,"Tables":3,"Expected":15,"Created":3,
            "LastError":"region not online"}]}"#;
        assert_eq!(
            parse_schema(partial).unwrap().waiting().as_deref(),
            Some("schema not ready: 3 of 15 tables (last error: region not online)")
        );

        let err = parse_schema(r#"{"beans":[]}"#).unwrap_err().to_string();
        assert!(err.contains("no chaosbed:type=Schema bean"), "{err}");
        assert!(parse_schema("<html>starting</html>").is_err());
    }
}

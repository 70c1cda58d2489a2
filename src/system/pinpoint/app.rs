//! The traced application: embedded Tomcat with the Pinpoint Java agent, reporting over gRPC to
//! one collector. GET /hello?id=<id> is traced; GET /health (excluded from tracing) is readiness.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};
use crate::system::{Wiring, http};

/// The application's HTTP port (the image's APP_PORT default).
pub const HTTP_PORT: u16 = 8080;
/// The application name the agents register under.
pub const APPLICATION: &str = "chaosbed-app";
/// The image's default JVM flags (JAVA_OPTS, after the agent's flags).
pub const DEFAULT_JAVA_OPTS: &str = "-Xms64m -Xmx256m -XX:+ExitOnOutOfMemoryError";

/// The container of application node `index`: its agent id is its node name, it reports to the
/// first collector, `heap` is JAVA_OPTS, `config` keys are the image's variables by their
/// property names (`profiler.sampling.type` gives PROFILER_SAMPLING_TYPE).
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    wiring: &Wiring,
) -> ContainerSpec {
    let node = crate::system::node_name(SystemKind::PinpointApp, index);
    let collector = wiring
        .collectors
        .first()
        .cloned()
        .unwrap_or_else(|| format!("{}-1", SystemKind::PinpointCollector.node_prefix()));
    let heap = spec
        .heap
        .clone()
        .unwrap_or_else(|| DEFAULT_JAVA_OPTS.to_string());
    let env = [
        ("AGENT_ID", node),
        ("APP_NAME", APPLICATION.to_string()),
        ("COLLECTOR_IP", collector),
        (super::HEAP_VARIABLE, heap),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    super::node_spec(SystemKind::PinpointApp, spec, image, index, env)
}

/// Polls until every application answers GET /health.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::wait_http(
        "the Pinpoint applications",
        nodes,
        HTTP_PORT,
        &["health"],
        timeout,
    )
    .await
}

/// GET /hello?id=`id`: one traced request; returns the body ("hello <id>").
pub async fn hello(address: Ipv4Addr, id: &str, timeout: Duration) -> anyhow::Result<String> {
    let mut url = http::url(address, HTTP_PORT, &["hello"])?;
    url.query_pairs_mut().append_pair("id", id);
    http::get_ok(&url, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_to_the_first_collector_under_its_node_name() {
        let wiring = Wiring {
            zk_connect: "zk-1:2181".into(),
            cluster: String::new(),
            postgres: None,
            oap_nodes: Vec::new(),
            collectors: vec!["collector-1".into(), "collector-2".into()],
        };
        let spec: SystemSpec =
            toml::from_str("nodes = 2\n[config]\n\"profiler.sampling.type\" = \"PERCENT\"\n")
                .unwrap();
        let c = container_spec(&spec, "img", 2, &wiring);
        assert_eq!(c.node, "app-2");
        assert_eq!(c.env_var("AGENT_ID"), Some("app-2"));
        assert_eq!(c.env_var("APP_NAME"), Some(APPLICATION));
        assert_eq!(c.env_var("COLLECTOR_IP"), Some("collector-1"));
        assert_eq!(c.env_var("JAVA_OPTS"), Some(DEFAULT_JAVA_OPTS));
        assert_eq!(c.env_var("PROFILER_SAMPLING_TYPE"), Some("PERCENT"));
    }
}

//! The traced application: embedded Tomcat with the Pinpoint Java agent, reporting over gRPC to
//! one collector. GET /hello/<id> is traced; GET /health (excluded from tracing) is readiness.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context as _;

use futures_util::future::BoxFuture;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};
use crate::system::http;
use crate::system::protocol::{self, Deploy, Memory, System};

/// The traced application in the registry.
pub const KIND: SystemKind = SystemKind::of(&App);

/// Applications traced by the Pinpoint agent: ready once GET /health answers.
pub struct App;

impl System for App {
    fn name(&self) -> &'static str {
        "pinpoint-agent-app"
    }

    fn node_prefix(&self) -> &'static str {
        "app"
    }

    fn default_version(&self) -> &'static str {
        "3.0.1"
    }

    // The agent reports to the collectors from its first request on.
    fn needs(&self) -> &'static [SystemKind] {
        &[super::collector::KIND]
    }

    fn disk_per_node(&self) -> u64 {
        128 << 20
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(deploy.spec, deploy.image, index)
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            wait_ready(&ready.started_nodes(), ready.timeout).await?;
            Ok(None)
        })
    }

    fn client_env(&self, addresses: &[Ipv4Addr]) -> Vec<(&'static str, String)> {
        vec![(
            "CHAOSBED_PINPOINT_APP_URL",
            crate::system::client_env::first_url(addresses, HTTP_PORT, ""),
        )]
    }

    fn memory(&self) -> Memory {
        Memory::flags(&[super::HEAP_VARIABLE], Some(DEFAULT_JAVA_OPTS))
    }
}

/// The application's HTTP port (the image's APP_PORT default).
pub const HTTP_PORT: u16 = 8080;
/// The application name the agents register under.
pub const APPLICATION: &str = "chaosbed-app";
/// The image's default JVM flags (JAVA_OPTS, after the agent's flags).
pub const DEFAULT_JAVA_OPTS: &str = "-Xms64m -Xmx256m -XX:+ExitOnOutOfMemoryError";

/// The container of application node `index`: its agent id is its node name, it reports to the
/// collectors' service name (collector::SERVICE, which the network resolves to every collector,
/// so the agent's gRPC channels move to another when theirs goes away), `heap` is JAVA_OPTS,
/// `config` keys are the image's variables by their property names (`profiler.sampling.type`
/// gives PROFILER_SAMPLING_TYPE; `COLLECTOR_IP = "collector-1"` pins one collector).
pub fn container_spec(spec: &SystemSpec, image: &str, index: u32) -> ContainerSpec {
    let node = crate::system::node_name(KIND, index);
    let heap = spec
        .heap
        .clone()
        .unwrap_or_else(|| DEFAULT_JAVA_OPTS.to_string());
    let env = [
        ("AGENT_ID", node),
        ("APP_NAME", APPLICATION.to_string()),
        ("COLLECTOR_IP", super::collector::SERVICE.to_string()),
        (super::HEAP_VARIABLE, heap),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    super::node_spec(KIND, spec, image, index, env)
}

/// Polls until every application answers GET /health.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::wait_http(
        "the Pinpoint applications",
        nodes,
        (HTTP_PORT, &["health"]),
        None,
        timeout,
    )
    .await
}

/// GET /hello/`id`: one traced request, the id in its URI (which Pinpoint records as the
/// transaction's); any status is an answer.
pub async fn hello(address: Ipv4Addr, id: &str, timeout: Duration) -> anyhow::Result<http::Answer> {
    http::get(&http::url(address, HTTP_PORT, &["hello", id])?, timeout).await
}

/// The remote addresses of the established TCP connections to `port` in a /proc/net/tcp or
/// /proc/net/tcp6 listing (IPv4, or IPv4 mapped into IPv6).
pub fn connected_to(listing: &str, port: u16) -> Vec<Ipv4Addr> {
    const ESTABLISHED: &str = "01";
    let mut addresses = Vec::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(remote), Some(state)) = (fields.get(2), fields.get(3)) else {
            continue;
        };
        if *state != ESTABLISHED {
            continue;
        }
        let Some((address, remote_port)) = remote.split_once(':') else {
            continue;
        };
        if u16::from_str_radix(remote_port, 16).ok() != Some(port) {
            continue;
        }
        // The kernel prints each 32-bit word in host (little-endian) order; an IPv4-mapped
        // IPv6 address keeps the IPv4 address in its last word.
        let Some(word) = address.get(address.len().saturating_sub(8)..) else {
            continue;
        };
        if let Ok(raw) = u32::from_str_radix(word, 16) {
            addresses.push(Ipv4Addr::from(raw.swap_bytes()));
        }
    }
    addresses.sort();
    addresses.dedup();
    addresses
}

/// The collector application `app`'s agent sends spans to now: the one its established
/// connection to the span port leads to.
pub async fn span_collector(
    backend: &impl crate::backend::Backend,
    app: &str,
    collectors: &[(String, Ipv4Addr)],
) -> anyhow::Result<String> {
    let port = super::collector::GRPC_SPAN_PORT;
    let out = backend
        .exec(app, &["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        .await
        .with_context(|| format!("listing {app}'s TCP connections"))?;
    let remote = connected_to(&out.stdout, port);
    collectors
        .iter()
        .find(|(_, address)| remote.contains(address))
        .map(|(name, _)| name.clone())
        .with_context(|| {
            format!(
                "{app} has no span stream to a collector (connections to port {port}: {remote:?})"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_collector_a_span_stream_leads_to() {
        let listing = "  sl  local_address rem_address   st tx_queue rx_queue
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000
   1: 060012AC:A1B2 070012AC:2709 01 00000000:00000000 00:00000000 00000000
   2: 060012AC:A1B4 070012AC:2707 01 00000000:00000000 00:00000000 00000000
   3: 060012AC:A1B6 040012AC:2709 06 00000000:00000000 00:00000000 00000000
  sl  local_address                         remote_address                        st
   0: 0000000000000000FFFF0000060012AC:C350 0000000000000000FFFF0000050012AC:2709 01 0
";
        assert_eq!(
            connected_to(listing, 9993),
            ["172.18.0.5", "172.18.0.7"].map(|a| a.parse::<Ipv4Addr>().unwrap())
        );
        assert!(connected_to(listing, 9992).is_empty());
    }

    #[test]
    fn reports_to_the_collectors_service_under_its_node_name() {
        let spec: SystemSpec =
            toml::from_str("nodes = 2\n[config]\n\"profiler.sampling.type\" = \"PERCENT\"\n")
                .unwrap();
        let c = container_spec(&spec, "img", 2);
        assert_eq!(c.node, "app-2");
        assert_eq!(c.env_var("AGENT_ID"), Some("app-2"));
        assert_eq!(c.env_var("APP_NAME"), Some(APPLICATION));
        assert_eq!(c.env_var("COLLECTOR_IP"), Some("pinpoint-collector"));
        assert_eq!(c.env_var("JAVA_OPTS"), Some(DEFAULT_JAVA_OPTS));
        assert_eq!(c.env_var("PROFILER_SAMPLING_TYPE"), Some("PERCENT"));
    }
}

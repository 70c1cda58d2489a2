//! NGINX as the OAP nodes' load balancer: gRPC on 11800 for agents, HTTP on 12800 for queries.
//! chaosbed renders the configuration (oap-lb.conf, its settings from the scenario's `config`)
//! and puts it into the node at /etc/nginx/conf.d/, where the official image reads it too.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};

use super::config_keys::{KnownKey, whole};
use super::protocol::{self, Deploy, System};
use super::skywalking::{self, GRPC_PORT, HTTP_PORT};

/// NGINX in the registry.
pub const KIND: SystemKind = SystemKind::of(&Nginx);

/// NGINX in front of the OAP nodes: its configuration rendered by chaosbed, ready once gRPC
/// connects and GraphQL answers through it.
pub struct Nginx;

impl System for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn node_prefix(&self) -> &'static str {
        "lb"
    }

    fn default_version(&self) -> &'static str {
        "1.22"
    }

    // Its upstreams are the OAP nodes' names, resolved when NGINX starts.
    fn needs(&self) -> &'static [SystemKind] {
        &[skywalking::KIND]
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(GRPC_PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // Access and error logs.
        64 << 20
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(
            deploy.spec,
            deploy.image,
            index,
            deploy.wiring.names(skywalking::KIND),
        )
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
            "CHAOSBED_SKYWALKING_LB_GRPC",
            super::client_env::each(addresses, GRPC_PORT),
        )]
    }
}

/// Template settings whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    whole(
        "http2_max_concurrent_streams",
        1,
        "streams per HTTP/2 connection",
    ),
    whole("worker_connections", 1, "connections per worker"),
];

/// The load balancer's configuration, `${NGINX_*}` placeholders in it.
const TEMPLATE: &str = include_str!("oap-lb.conf");

/// Where the configuration goes in the node.
pub const CONF_PATH: &str = "/etc/nginx/conf.d/oap-lb.conf";

/// Every setting of the template but the upstream servers, with its default; a scenario's
/// `config` key is the setting's name in lower case (`http2_max_concurrent_streams`).
const DEFAULTS: &[(&str, &str)] = &[
    ("GRPC_PORT", "11800"),
    ("HTTP_PORT", "12800"),
    // A backend that failed this many times within fail_timeout is skipped for fail_timeout.
    ("UPSTREAM_MAX_FAILS", "1"),
    ("UPSTREAM_FAIL_TIMEOUT", "10s"),
    ("UPSTREAM_CONNECT_TIMEOUT", "2s"),
    // Idle connections to the backends each worker keeps, and for how long.
    ("UPSTREAM_KEEPALIVE", "16"),
    ("UPSTREAM_KEEPALIVE_TIMEOUT", "60s"),
    ("UPSTREAM_KEEPALIVE_REQUESTS", "1000"),
    // Client side: idle keepalive (HTTP/1.1 and HTTP/2 connections) and requests per connection.
    ("KEEPALIVE_TIMEOUT", "75s"),
    ("KEEPALIVE_REQUESTS", "1000"),
    ("HTTP2_MAX_CONCURRENT_STREAMS", "128"),
    ("GRPC_READ_TIMEOUT", "60s"),
    ("GRPC_SEND_TIMEOUT", "60s"),
    ("PROXY_READ_TIMEOUT", "60s"),
    // When a request moves to the next backend (nginx never resends one a backend already got,
    // unless non_idempotent is listed: gRPC calls and GraphQL requests are POSTs).
    (
        "GRPC_NEXT_UPSTREAM",
        "error timeout http_502 http_503 http_504",
    ),
    (
        "HTTP_NEXT_UPSTREAM",
        "error timeout http_502 http_503 http_504",
    ),
];

/// The variable a scenario's `config` key sets: `http2_max_concurrent_streams` gives
/// `NGINX_HTTP2_MAX_CONCURRENT_STREAMS`.
pub fn config_variable(key: &str) -> String {
    format!(
        "NGINX_{}",
        key.to_ascii_uppercase().replace(['.', '-'], "_")
    )
}

/// oap-lb.conf for `backends` (OAP node names) with the scenario's settings.
pub fn render(spec: &SystemSpec, backends: &[String]) -> String {
    let mut values: BTreeMap<String, String> = DEFAULTS
        .iter()
        .map(|(name, value)| (format!("NGINX_{name}"), (*value).to_owned()))
        .collect();
    for (key, value) in &spec.config {
        values.insert(config_variable(key), super::config_text(value.get_ref()));
    }
    let servers = |port: u16| {
        let max_fails = &values["NGINX_UPSTREAM_MAX_FAILS"];
        let fail_timeout = &values["NGINX_UPSTREAM_FAIL_TIMEOUT"];
        backends
            .iter()
            .map(|b| {
                format!("server {b}:{port} max_fails={max_fails} fail_timeout={fail_timeout};")
            })
            .collect::<Vec<_>>()
            .join("\n    ")
    };
    let grpc = servers(GRPC_PORT);
    let http = servers(HTTP_PORT);
    values.insert("NGINX_GRPC_UPSTREAM_SERVERS".into(), grpc);
    values.insert("NGINX_HTTP_UPSTREAM_SERVERS".into(), http);
    let mut out = TEMPLATE.to_owned();
    for (name, value) in &values {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

/// The container of node `index`, sending to `backends` (OAP node names): its configuration
/// is a file chaosbed puts into it, so the image needs only the official nginx layout.
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    backends: &[String],
) -> ContainerSpec {
    ContainerSpec {
        node: super::node_name(KIND, index),
        image: image.to_string(),
        memory: spec.memory.map(|m| m.0),
        files: vec![(CONF_PATH.to_owned(), render(spec, backends))],
        ..Default::default()
    }
}

const POLL: Duration = Duration::from_secs(1);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Polls until each load balancer accepts gRPC connections and answers a GraphQL query from
/// behind it, or `timeout` passes.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::poll_ready("the load balancer", timeout, POLL, || async {
        let mut waiting = Vec::new();
        for (name, address) in nodes {
            let connect = tokio::time::timeout(
                ASK_TIMEOUT,
                tokio::net::TcpStream::connect((*address, GRPC_PORT)),
            )
            .await;
            if !matches!(connect, Ok(Ok(_))) {
                waiting.push(format!("{name}: no connection on gRPC port {GRPC_PORT}"));
            }
            if let Err(e) = super::skywalking::graphql::ready(name, *address, ASK_TIMEOUT).await {
                waiting.push(format!("{name}: {e:#}"));
            }
        }
        waiting
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_every_oap_and_takes_settings_from_config() {
        let spec: SystemSpec = toml::from_str(
            "nodes = 1\n[config]\nhttp2_max_concurrent_streams = 2\ngrpc_read_timeout = \"10s\"\n",
        )
        .unwrap();
        let c = container_spec(&spec, "img", 1, &["oap-1".into(), "oap-2".into()]);
        assert_eq!(c.node, "lb-1");
        let (path, conf) = &c.files[0];
        assert_eq!(path, CONF_PATH);
        assert!(
            conf.contains(
                "server oap-1:11800 max_fails=1 fail_timeout=10s;\n    \
                 server oap-2:11800 max_fails=1 fail_timeout=10s;"
            ),
            "{conf}"
        );
        assert!(conf.contains("server oap-2:12800 max_fails=1"), "{conf}");
        assert!(conf.contains("http2_max_concurrent_streams 2;"), "{conf}");
        assert!(conf.contains("grpc_read_timeout 10s;"), "{conf}");
        assert!(conf.contains("listen 11800 http2;"), "{conf}");
        // Every placeholder has a value; nginx's own variables stay.
        assert!(!conf.contains("${"), "{conf}");
        assert!(conf.contains("$proxy_add_x_forwarded_for"), "{conf}");
    }
}

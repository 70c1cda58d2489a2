//! NGINX as the OAP nodes' load balancer: gRPC on 11800 for agents, HTTP on 12800 for queries,
//! configured through the image's template variables.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};

use super::config_keys::{KnownKey, whole};
use super::skywalking::{GRPC_PORT, HTTP_PORT};

/// Template settings whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    whole(
        "http2_max_concurrent_streams",
        1,
        "streams per HTTP/2 connection",
    ),
    whole("worker_connections", 1, "connections per worker"),
];

/// The variable a scenario's `config` key sets: `http2_max_concurrent_streams` gives
/// `NGINX_HTTP2_MAX_CONCURRENT_STREAMS`.
pub fn config_variable(key: &str) -> String {
    format!(
        "NGINX_{}",
        key.to_ascii_uppercase().replace(['.', '-'], "_")
    )
}

/// The container of node `index`, sending to `backends` (OAP node names).
pub fn container_spec(
    spec: &SystemSpec,
    image: &str,
    index: u32,
    backends: &[String],
) -> ContainerSpec {
    let upstreams = |port: u16| {
        backends
            .iter()
            .map(|b| format!("{b}:{port}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut env = vec![
        ("NGINX_GRPC_UPSTREAMS".to_string(), upstreams(GRPC_PORT)),
        ("NGINX_HTTP_UPSTREAMS".to_string(), upstreams(HTTP_PORT)),
    ];
    for (key, value) in &spec.config {
        let value = super::config_text(value.get_ref());
        env.push((config_variable(key), value));
    }
    ContainerSpec {
        node: super::node_name(SystemKind::Nginx, index),
        image: image.to_string(),
        env,
        memory: spec.memory.map(|m| m.0),
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
        let spec: SystemSpec =
            toml::from_str("nodes = 1\n[config]\nhttp2_max_concurrent_streams = 2\n").unwrap();
        let c = container_spec(&spec, "img", 1, &["oap-1".into(), "oap-2".into()]);
        assert_eq!(c.node, "lb-1");
        assert_eq!(
            c.env_var("NGINX_GRPC_UPSTREAMS"),
            Some("oap-1:11800 oap-2:11800")
        );
        assert_eq!(
            c.env_var("NGINX_HTTP_UPSTREAMS"),
            Some("oap-1:12800 oap-2:12800")
        );
        assert_eq!(c.env_var("NGINX_HTTP2_MAX_CONCURRENT_STREAMS"), Some("2"));
    }
}

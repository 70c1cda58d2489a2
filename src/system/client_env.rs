//! What a user's own client (a `container` workload) is told of the cluster: one `CHAOSBED_*`
//! variable per way in, with the nodes' addresses on the run's network.

use std::net::Ipv4Addr;

use super::{bookkeeper, pinpoint, pulsar, skywalking, zookeeper};
use crate::scenario::SystemKind;

/// A variable and how its value is made from a system's node addresses.
struct Variable {
    system: SystemKind,
    name: &'static str,
    value: fn(&[Ipv4Addr]) -> String,
}

fn each(addresses: &[Ipv4Addr], port: u16) -> String {
    addresses
        .iter()
        .map(|a| format!("{a}:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn first_url(addresses: &[Ipv4Addr], port: u16, path: &str) -> String {
    addresses
        .first()
        .map(|a| format!("http://{a}:{port}{path}"))
        .unwrap_or_default()
}

const VARIABLES: &[Variable] = &[
    Variable {
        system: SystemKind::Zookeeper,
        name: "CHAOSBED_ZOOKEEPER",
        value: |a| each(a, zookeeper::CLIENT_PORT),
    },
    Variable {
        system: SystemKind::Bookkeeper,
        name: "CHAOSBED_BOOKIES",
        value: |a| each(a, bookkeeper::BOOKIE_PORT),
    },
    Variable {
        system: SystemKind::Pulsar,
        name: "CHAOSBED_PULSAR_URL",
        value: pulsar::service_url,
    },
    Variable {
        system: SystemKind::Pulsar,
        name: "CHAOSBED_PULSAR_ADMIN_URL",
        value: |a| first_url(a, pulsar::HTTP_PORT, ""),
    },
    Variable {
        system: SystemKind::Skywalking,
        name: "CHAOSBED_SKYWALKING_GRPC",
        value: |a| each(a, skywalking::GRPC_PORT),
    },
    Variable {
        system: SystemKind::Skywalking,
        name: "CHAOSBED_SKYWALKING_GRAPHQL",
        value: |a| first_url(a, skywalking::HTTP_PORT, "/graphql"),
    },
    Variable {
        system: SystemKind::Nginx,
        name: "CHAOSBED_SKYWALKING_LB_GRPC",
        value: |a| each(a, skywalking::GRPC_PORT),
    },
    Variable {
        system: SystemKind::PinpointApp,
        name: "CHAOSBED_PINPOINT_APP_URL",
        value: |a| first_url(a, pinpoint::app::HTTP_PORT, ""),
    },
    Variable {
        system: SystemKind::PinpointWeb,
        name: "CHAOSBED_PINPOINT_WEB_URL",
        value: |a| first_url(a, pinpoint::web::HTTP_PORT, ""),
    },
];

/// The variables for every system that has nodes, plus `CHAOSBED_NODES` (`name=address,...`
/// of every node).
pub fn client_env(nodes: &[(SystemKind, String, Ipv4Addr)]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for variable in VARIABLES {
        let addresses: Vec<Ipv4Addr> = nodes
            .iter()
            .filter(|(system, _, _)| *system == variable.system)
            .map(|(_, _, address)| *address)
            .collect();
        if !addresses.is_empty() {
            env.push((variable.name.to_owned(), (variable.value)(&addresses)));
        }
    }
    let all: Vec<String> = nodes
        .iter()
        .map(|(_, name, address)| format!("{name}={address}"))
        .collect();
    env.push(("CHAOSBED_NODES".to_owned(), all.join(",")));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_system_present_gets_its_variables() {
        let node =
            |system, name: &str, last| (system, name.to_owned(), Ipv4Addr::new(10, 0, 0, last));
        let env = client_env(&[
            node(SystemKind::Zookeeper, "zk-1", 2),
            node(SystemKind::Zookeeper, "zk-2", 3),
            node(SystemKind::Pulsar, "pulsar-1", 4),
        ]);
        let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(
            get("CHAOSBED_ZOOKEEPER"),
            Some("10.0.0.2:2181,10.0.0.3:2181")
        );
        assert_eq!(get("CHAOSBED_PULSAR_URL"), Some("pulsar://10.0.0.4:6650"));
        assert_eq!(
            get("CHAOSBED_PULSAR_ADMIN_URL"),
            Some("http://10.0.0.4:8080")
        );
        assert_eq!(get("CHAOSBED_SKYWALKING_GRPC"), None);
        assert_eq!(
            get("CHAOSBED_NODES"),
            Some("zk-1=10.0.0.2,zk-2=10.0.0.3,pulsar-1=10.0.0.4")
        );
    }
}

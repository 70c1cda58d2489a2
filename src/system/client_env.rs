//! What a user's own client (a `container` workload) is told of the cluster: one `CHAOSBED_*`
//! variable per way in, with the nodes' addresses on the run's network.

use std::net::Ipv4Addr;

use crate::scenario::SystemKind;

/// `address:port` of every address, comma-separated.
pub(crate) fn each(addresses: &[Ipv4Addr], port: u16) -> String {
    addresses
        .iter()
        .map(|a| format!("{a}:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `http://<first address>:port<path>`, or nothing without an address.
pub(crate) fn first_url(addresses: &[Ipv4Addr], port: u16, path: &str) -> String {
    addresses
        .first()
        .map(|a| format!("http://{a}:{port}{path}"))
        .unwrap_or_default()
}

/// The variables for every system that has nodes, plus `CHAOSBED_NODES` (`name=address,...`
/// of every node).
pub fn client_env(nodes: &[(SystemKind, String, Ipv4Addr)]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for system in super::SYSTEMS {
        let addresses: Vec<Ipv4Addr> = nodes
            .iter()
            .filter(|(s, _, _)| s == system)
            .map(|(_, _, address)| *address)
            .collect();
        if !addresses.is_empty() {
            env.extend(
                system
                    .client_env(&addresses)
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value)),
            );
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
            node(crate::system::zookeeper::KIND, "zk-1", 2),
            node(crate::system::zookeeper::KIND, "zk-2", 3),
            node(crate::system::pulsar::KIND, "pulsar-1", 4),
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

    #[test]
    fn the_variables_a_cluster_of_every_system_gives_are_those_the_readme_lists() {
        let nodes: Vec<_> = crate::scenario::SystemKind::all()
            .iter()
            .zip(2..)
            .map(|(system, last)| {
                let name = format!("{}-1", system.node_prefix());
                (*system, name, Ipv4Addr::new(10, 0, 0, last))
            })
            .collect();
        let env = client_env(&nodes);
        // The README's list of what a container client's environment names.
        let readme = include_str!("../../README.md");
        let list = readme
            .split_once("Its environment names")
            .and_then(|(_, rest)| rest.split_once("Every line it"))
            .expect("the README lists a container client's environment")
            .0;
        let documented = list.split('`').filter(|word| word.starts_with("CHAOSBED_"));
        // Set by the runner for the client's phase and the run, not by the cluster's systems.
        let from_the_runner = ["CHAOSBED_PULSAR_TOPIC", "CHAOSBED_SEED"];
        for variable in documented {
            let variable = variable.split('=').next().unwrap_or(variable);
            if from_the_runner.contains(&variable)
                || !variable.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            {
                continue;
            }
            assert!(
                env.iter().any(|(k, _)| k == variable),
                "README documents {variable}, which no system gives a client"
            );
        }
        for (variable, _) in &env {
            assert!(
                list.contains(&format!("`{variable}`")),
                "{variable} is given to clients but missing from the README's list"
            );
        }
    }
}

//! Run identity and the labels every resource of a run carries, so cleanup can find it.

/// Every container, network and volume of a run carries `chaosbed.run=<run id>`.
pub const LABEL_RUN: &str = "chaosbed.run";
/// The node a container or volume belongs to.
pub const LABEL_NODE: &str = "chaosbed.node";
/// The process id of the chaosbed that owns the run; a leftover whose owner is gone is reaped.
pub const LABEL_PID: &str = "chaosbed.pid";

/// A run's identity: short, unique, safe in container names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// A fresh id from the scenario name and the current time.
    pub fn new(scenario: &str) -> Self {
        let stamp = chrono::Utc::now().format("%H%M%S");
        let nonce: u32 = rand::random();
        let slug: String = scenario
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(24)
            .collect();
        Self(format!("{slug}-{stamp}-{nonce:08x}"))
    }

    pub fn from_existing(id: &str) -> Self {
        Self(id.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Name of a node's container: `cb-<run>-<node>`.
    pub fn container_name(&self, node: &str) -> String {
        format!("cb-{}-{node}", self.0)
    }

    pub fn network_name(&self) -> String {
        format!("cb-{}", self.0)
    }

    pub fn volume_name(&self, node: &str) -> String {
        format!("cb-{}-{node}-data", self.0)
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_safe_in_names_and_unique() {
        let a = RunId::new("zk leader/kill");
        let b = RunId::new("zk leader/kill");
        assert!(a.as_str().starts_with("zk-leader-kill-"));
        assert!(
            a.as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
        assert_ne!(a, b);
        assert_eq!(a.container_name("zk-1"), format!("cb-{a}-zk-1"));
    }
}

//! The one table of systems chaosbed knows, and `SystemKind`, the handle naming one of them.

use std::fmt;
use std::hash::{Hash, Hasher};

use super::protocol::System;
use super::{
    bookkeeper, hbase, nginx, opensearch, pinpoint, postgres, pulsar, skywalking, zookeeper,
};

/// Every system, in start order: each needs only systems before it. Adding a system is a
/// folder implementing `System` and one line here.
pub static SYSTEMS: &[SystemKind] = &[
    zookeeper::KIND,
    bookkeeper::KIND,
    pulsar::KIND,
    postgres::KIND,
    opensearch::KIND,
    skywalking::KIND,
    nginx::KIND,
    hbase::KIND,
    pinpoint::collector::KIND,
    pinpoint::web::KIND,
    pinpoint::app::KIND,
];

/// One system of the registry; compares, orders and prints by its place and name there.
#[derive(Clone, Copy)]
pub struct SystemKind(&'static dyn System);

impl SystemKind {
    /// The handle of a system implementation (each system module's `KIND`).
    pub const fn of(system: &'static dyn System) -> Self {
        Self(system)
    }

    /// Every system chaosbed knows, in start order.
    pub fn all() -> &'static [SystemKind] {
        SYSTEMS
    }

    /// The system scenarios call `name`.
    pub fn named(name: &str) -> Option<SystemKind> {
        SYSTEMS.iter().copied().find(|s| s.name() == name)
    }

    /// Every system's name, for messages listing what exists.
    pub fn names() -> Vec<&'static str> {
        SYSTEMS.iter().map(|s| s.name()).collect()
    }

    fn position(self) -> usize {
        SYSTEMS
            .iter()
            .position(|s| s.name() == self.name())
            .unwrap_or(usize::MAX)
    }
}

impl std::ops::Deref for SystemKind {
    type Target = dyn System;

    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for SystemKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for SystemKind {}

impl Hash for SystemKind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl PartialOrd for SystemKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SystemKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.position()
            .cmp(&other.position())
            .then_with(|| self.name().cmp(other.name()))
    }
}

impl fmt::Display for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for SystemKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for SystemKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        SystemKind::named(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown system `{name}`; chaosbed knows {}",
                SystemKind::names().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_needs_only_systems_before_it_and_names_are_unique() {
        for (i, system) in SYSTEMS.iter().enumerate() {
            for need in system.needs().iter().chain(system.needs_one_of()) {
                assert!(
                    SYSTEMS[..i].contains(need),
                    "{system} needs {need}, which starts after it"
                );
            }
            assert_eq!(SystemKind::named(system.name()), Some(*system));
            let same_prefix = SYSTEMS
                .iter()
                .filter(|s| s.node_prefix() == system.node_prefix())
                .count();
            assert_eq!(same_prefix, 1, "{system}'s node prefix is not unique");
        }
    }

    #[test]
    fn a_system_reads_and_writes_as_its_name() {
        let kind: SystemKind = serde_json::from_str("\"pinpoint-collector\"").unwrap();
        assert_eq!(kind, pinpoint::collector::KIND);
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            "\"pinpoint-collector\""
        );
        let err = serde_json::from_str::<SystemKind>("\"etcd\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown system `etcd`; chaosbed knows zookeeper"),
            "{err}"
        );
        assert!(zookeeper::KIND < pulsar::KIND);
    }
}

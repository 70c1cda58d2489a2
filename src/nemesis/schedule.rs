//! Turning a scenario's fault list into a time-ordered list of apply and heal events.

use std::time::Duration;

use crate::scenario::{FaultKind, FaultParams, FaultSpec, SystemKind, Target};

/// Apply or heal fault number `fault` of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Apply,
    Heal,
}

/// One step of the nemesis' plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Since the workload started.
    pub at: Duration,
    pub action: Action,
    /// Index into the scenario's faults.
    pub fault: usize,
    pub kind: FaultKind,
    pub target: Target,
    pub system: SystemKind,
    /// The kind-specific parameters (loss, offset, ...).
    pub params: FaultParams,
}

/// Every apply, and the heal of every fault with a duration, ordered by time (heals before
/// applies at the same instant, so a fault never overlaps the one it makes room for).
pub fn plan(faults: &[FaultSpec], default_system: SystemKind) -> Vec<Event> {
    let mut events = Vec::new();
    for (index, fault) in faults.iter().enumerate() {
        let kind = *fault.kind.get_ref();
        let at = fault.at.get_ref().as_duration();
        let system = fault.system(default_system);
        let target = fault.target.get_ref().clone();
        let params = fault.params();
        events.push(Event {
            at,
            action: Action::Apply,
            fault: index,
            kind,
            target: target.clone(),
            system,
            params: params.clone(),
        });
        if let Some(duration) = &fault.duration
            && kind.heals()
        {
            events.push(Event {
                at: at + duration.get_ref().as_duration(),
                action: Action::Heal,
                fault: index,
                kind,
                target,
                system,
                params,
            });
        }
    }
    events.sort_by_key(|e| (e.at, e.action == Action::Apply, e.fault));
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    #[test]
    fn heals_follow_their_fault_and_precede_a_simultaneous_apply() {
        let s = parse(
            "p.toml",
            r#"
name = "p"
tier = "full"
[topology.zookeeper]
[workload]
kind = "zk-register"
duration = "60s"
[[fault]]
kind = "kill"
target = "leader"
at = "10s"
duration = "10s"
[[fault]]
kind = "pause"
target = "one"
at = "20s"
[[check]]
kind = "quorum"
"#,
        )
        .unwrap();
        let events = plan(&s.faults, crate::system::zookeeper::KIND);
        let summary: Vec<(u64, Action, usize)> = events
            .iter()
            .map(|e| (e.at.as_secs(), e.action, e.fault))
            .collect();
        assert_eq!(
            summary,
            vec![
                (10, Action::Apply, 0),
                (20, Action::Heal, 0),
                (20, Action::Apply, 1)
            ]
        );
    }
}

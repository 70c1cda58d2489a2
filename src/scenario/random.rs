//! The `[random]` table of a scenario: the limits within which `cargo xtask chaos --random` draws
//! fault schedules, their defaults, and their validation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use super::error::Diagnostics;
use super::fault::FaultKind;
use super::model::{Scenario, Target};
use super::units::Dur;
use super::validate::{check_target, systems};
use crate::nemesis::random::Limits;

/// The kinds a random schedule may draw: process faults that need no target state of their own
/// (`start` needs nodes that are down, which a random target does not promise).
pub const RANDOM_KINDS: [FaultKind; 4] = [
    FaultKind::Kill,
    FaultKind::Stop,
    FaultKind::Restart,
    FaultKind::Pause,
];

/// `[random]`: what a random fault schedule for this scenario may contain.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSpec {
    /// At most this many faults in a schedule (default 3).
    #[serde(default = "default_faults")]
    pub faults: Spanned<usize>,
    /// Kinds to draw from, simplest first: shrinking moves towards the first (default kill,
    /// pause).
    #[serde(default = "default_kinds")]
    pub kinds: Vec<Spanned<FaultKind>>,
    /// Targets to draw from, simplest first (default `one`). A role target acts in its role's
    /// system (`ensemble`: bookies), any other in the workload's.
    #[serde(default = "default_targets")]
    pub targets: Vec<Spanned<Target>>,
    /// Shortest fault that heals (default 3s).
    #[serde(default = "default_min_duration")]
    pub min_duration: Spanned<Dur>,
    /// Longest fault that heals (default 15s).
    #[serde(default = "default_max_duration")]
    pub max_duration: Spanned<Dur>,
    /// No fault is active in the last `settle` of the workload (default 15s), so the cluster can
    /// recover before it ends.
    #[serde(default = "default_settle")]
    pub settle: Spanned<Dur>,
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn default_faults() -> Spanned<usize> {
    unspanned(3)
}

fn default_kinds() -> Vec<Spanned<FaultKind>> {
    vec![unspanned(FaultKind::Kill), unspanned(FaultKind::Pause)]
}

fn default_targets() -> Vec<Spanned<Target>> {
    vec![unspanned(Target::One)]
}

fn default_min_duration() -> Spanned<Dur> {
    unspanned(Dur::secs(3))
}

fn default_max_duration() -> Spanned<Dur> {
    unspanned(Dur::secs(15))
}

fn default_settle() -> Spanned<Dur> {
    unspanned(Dur::secs(15))
}

impl RandomSpec {
    /// The limits schedules for `scenario` are drawn within: its workload's duration and this
    /// table.
    pub fn limits(&self, scenario: &Scenario) -> Limits {
        Limits {
            duration: scenario.workload.duration.get_ref().as_duration(),
            kinds: self.kinds.iter().map(|k| *k.get_ref()).collect(),
            targets: self.targets.iter().map(|t| t.get_ref().clone()).collect(),
            max_faults: *self.faults.get_ref(),
            min_len: self.min_duration.get_ref().as_duration(),
            max_len: self.max_duration.get_ref().as_duration(),
            settle: self.settle.get_ref().as_duration(),
        }
    }
}

/// A span inside the table when the key was written, else the table's own.
fn at<T>(field: &Spanned<T>, table: &Spanned<RandomSpec>) -> std::ops::Range<usize> {
    if field.span().is_empty() {
        table.span()
    } else {
        field.span()
    }
}

/// Refuses a `[random]` table no schedule could be drawn from or run: kinds that are not process
/// faults, targets the topology cannot match, limits that leave no room for a fault.
pub(super) fn check_random(scenario: &Scenario, out: &mut Diagnostics) {
    let Some(table) = &scenario.random else {
        return;
    };
    let spec = table.get_ref();
    let allowed = RANDOM_KINDS.map(FaultKind::name).join(", ");
    if *spec.faults.get_ref() == 0 {
        out.error(
            at(&spec.faults, table),
            "faults = 0 draws only empty schedules",
            Some("allow at least 1 fault (3 is the default)".into()),
        );
    }
    let mut seen = BTreeSet::new();
    for kind in &spec.kinds {
        let k = *kind.get_ref();
        if !seen.insert(k.name()) {
            out.error(at(kind, table), format!("kind `{k}` is listed twice"), None);
        } else if k == FaultKind::Start {
            out.error(
                at(kind, table),
                "random schedules cannot draw `start`: it acts only on nodes that are down, and a random target does not pick those",
                Some(format!(
                    "kinds: {allowed} (kill and stop start the node again when they heal)"
                )),
            );
        } else if !RANDOM_KINDS.contains(&k) {
            out.error(
                at(kind, table),
                format!(
                    "random schedules draw only process faults, and `{k}` is not one (it needs parameters a schedule does not draw)"
                ),
                Some(format!("kinds: {allowed}")),
            );
        }
    }
    let workload = scenario.workload.system();
    let declared = systems(scenario);
    let mut seen = BTreeSet::new();
    for target in &spec.targets {
        let t = target.get_ref();
        if !seen.insert(t.to_string()) {
            out.error(
                at(target, table),
                format!("target `{t}` is listed twice"),
                None,
            );
            continue;
        }
        let system = t.role_system().unwrap_or(workload);
        let Some((_, system_spec, _)) = declared.iter().find(|(k, _, _)| *k == system) else {
            out.error(
                at(target, table),
                format!("target `{t}` selects {system} nodes, which the topology does not declare"),
                None,
            );
            continue;
        };
        let spanned = Spanned::new(at(target, table), t.clone());
        check_target(system, system_spec, FaultKind::Kill, &spanned, out);
    }
    if let Err(problem) = spec.limits(scenario).validate() {
        out.error(
            table.span(),
            format!("[random] leaves no schedule to draw: {problem}"),
            Some(format!(
                "the workload lasts {}; faults last min_duration..=max_duration and end before the last `settle`",
                scenario.workload.duration.get_ref()
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::scenario::parse;

    use super::*;

    fn scenario(random: &str) -> String {
        format!(
            "name = \"t\"\ntier = \"full\"\n[topology.zookeeper]\nnodes = 3\n[workload]\nkind = \"zk-register\"\nduration = \"60s\"\n[[check]]\nkind = \"recovery\"\nwithin = \"10s\"\n{random}"
        )
    }

    fn error_of(text: &str) -> String {
        parse("r.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn an_empty_table_takes_the_defaults() {
        let s = parse("r.toml", &scenario("[random]\n")).unwrap();
        let limits = s.random.as_ref().unwrap().get_ref().limits(&s);
        assert_eq!(
            limits,
            Limits {
                duration: Duration::from_secs(60),
                kinds: vec![FaultKind::Kill, FaultKind::Pause],
                targets: vec![Target::One],
                max_faults: 3,
                min_len: Duration::from_secs(3),
                max_len: Duration::from_secs(15),
                settle: Duration::from_secs(15),
            }
        );
        assert!(s.faults.is_empty());
    }

    #[test]
    fn a_recovery_check_needs_faults_or_a_random_table() {
        let err = error_of(&scenario(""));
        assert!(err.contains("needs at least one [[fault]]"), "{err}");
        assert!(err.contains("[random]"), "{err}");
    }

    #[test]
    fn kinds_must_be_process_faults_and_say_which_are() {
        let err = error_of(&scenario(
            "[random]\nkinds = [\"kill\", \"partition\", \"start\"]\n",
        ));
        assert!(err.contains("r.toml:12:18"), "{err}");
        assert!(err.contains("`partition` is not one"), "{err}");
        assert!(err.contains("kinds: kill, stop, restart, pause"), "{err}");
        assert!(err.contains("r.toml:12:31"), "{err}");
        assert!(err.contains("cannot draw `start`"), "{err}");
    }

    #[test]
    fn targets_must_match_the_topology() {
        let err = error_of(&scenario(
            "[random]\ntargets = [\"one\", \"zk-7\", \"owner\", \"down\"]\n",
        ));
        assert!(err.contains("r.toml:12:19: unknown target `zk-7`"), "{err}");
        assert!(
            err.contains("`owner` selects pulsar nodes, which the topology does not declare"),
            "{err}"
        );
        assert!(err.contains("`down` can never match"), "{err}");
    }

    #[test]
    fn limits_that_hold_no_fault_are_reported_at_the_table() {
        let err = error_of(&scenario(
            "[random]\nmin_duration = \"20s\"\nmax_duration = \"10s\"\n",
        ));
        assert!(
            err.contains("r.toml:11:1: [random] leaves no schedule"),
            "{err}"
        );
        assert!(err.contains("longer than the longest"), "{err}");
        let err = error_of(&scenario("[random]\nsettle = \"60s\"\n"));
        assert!(err.contains("leaves no time for faults"), "{err}");
        let err = error_of(&scenario("[random]\nfaults = 0\n"));
        assert!(err.contains("r.toml:12:10: faults = 0"), "{err}");
    }
}

//! Random fault schedules within a scenario's limits: seeded generation from a proptest strategy
//! (so a failing schedule shrinks), shrink candidates for the loop in [`super::shrink`] that
//! reruns them, overlaps.
//!
//! A [`Schedule`] is plain data a replay manifest stores (times as humantime strings, `"12s
//! 345ms"`); [`Schedule::events`] turns it into the nemesis' apply and heal events through
//! [`plan`], so a random schedule runs exactly as a scenario's `[[fault]]` list would. Times are
//! whole milliseconds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::schedule::{Event, plan};
use crate::scenario::{Dur, FaultKind, FaultParams, FaultSpec, SystemKind, Target};

/// What a random schedule may contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Length of the workload; faults are timed from its start.
    pub duration: Duration,
    /// Fault kinds to draw from, simplest first (shrinking moves towards the first).
    pub kinds: Vec<FaultKind>,
    /// Targets to draw from, simplest first (shrinking moves towards the first).
    pub targets: Vec<Target>,
    /// At most this many faults (a generated schedule has at least one when this is not 0).
    pub max_faults: usize,
    /// Shortest duration of a fault that heals (kill, stop, pause); at least 1ms.
    pub min_len: Duration,
    /// Longest duration of a fault that heals.
    pub max_len: Duration,
    /// No fault fires or is still active in the last `settle` before the end, so the cluster
    /// has time to recover before the workload stops.
    pub settle: Duration,
}

impl Limits {
    /// Every fault fires and heals within `[0, window]`: `duration - settle`.
    pub fn window(&self) -> Duration {
        self.duration.saturating_sub(self.settle)
    }

    /// Why no schedule can be drawn within these limits, if so.
    pub fn validate(&self) -> Result<(), String> {
        if self.kinds.is_empty() {
            return Err("random faults need at least one fault kind".into());
        }
        if self.targets.is_empty() {
            return Err("random faults need at least one target".into());
        }
        if self.min_len < Duration::from_millis(1) {
            return Err("the shortest fault must last at least 1ms".into());
        }
        if self.min_len > self.max_len {
            return Err(format!(
                "the shortest fault ({}) is longer than the longest ({})",
                Dur(self.min_len),
                Dur(self.max_len)
            ));
        }
        if self.settle >= self.duration {
            return Err(format!(
                "settle ({}) leaves no time for faults in a {} workload",
                Dur(self.settle),
                Dur(self.duration)
            ));
        }
        if self.min_len > self.window() {
            return Err(format!(
                "the shortest fault ({}) does not fit in the {} before settle",
                Dur(self.min_len),
                Dur(self.window())
            ));
        }
        Ok(())
    }

    /// Whether `schedule` stays within these limits (a replayed manifest, a shrink candidate);
    /// the error names the first fault that does not.
    pub fn admits(&self, schedule: &Schedule) -> Result<(), String> {
        if schedule.0.len() > self.max_faults {
            return Err(format!(
                "{} faults, more than the {} allowed",
                schedule.0.len(),
                self.max_faults
            ));
        }
        for (index, fault) in schedule.0.iter().enumerate() {
            let problem = if !self.kinds.contains(&fault.kind) {
                Some(format!(
                    "kind {} is not one of the allowed kinds",
                    fault.kind
                ))
            } else if !self.targets.contains(&fault.target) {
                Some(format!(
                    "target {} is not one of the allowed targets",
                    fault.target
                ))
            } else {
                match (fault.kind.heals(), fault.duration) {
                    (true, None) => Some("it heals only when the workload ends".into()),
                    (false, Some(_)) => Some(format!("{} has nothing to heal", fault.kind)),
                    (true, Some(len)) if len < self.min_len || len > self.max_len => Some(format!(
                        "it lasts {}, outside {}..={}",
                        Dur(len),
                        Dur(self.min_len),
                        Dur(self.max_len)
                    )),
                    _ if fault.end().is_none_or(|end| end > self.window()) => Some(format!(
                        "it is still active after {} (the last {} are left to settle)",
                        Dur(self.window()),
                        Dur(self.settle)
                    )),
                    _ => None,
                }
            };
            if let Some(problem) = problem {
                return Err(format!("fault {index} ({fault}): {problem}"));
            }
        }
        Ok(())
    }
}

/// One fault of a random schedule, with the fields of a scenario's `[[fault]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedFault {
    pub kind: FaultKind,
    /// Resolved when the fault fires, in the target's role system or else the workload's.
    pub target: Target,
    /// Since the workload started.
    #[serde(with = "humantime_dur")]
    pub at: Duration,
    /// Until it is healed; `None` for kinds with nothing to heal (start, restart).
    #[serde(
        default,
        with = "humantime_opt_dur",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// Kind-specific parameters (loss, offset, ...), none for process faults.
    #[serde(default, skip_serializing_if = "FaultParams::is_empty")]
    pub params: FaultParams,
}

impl PlannedFault {
    /// When the fault stops being active: its heal, or `at` itself for a fault with nothing to
    /// heal. `None` for a fault healed only when the workload ends.
    pub fn end(&self) -> Option<Duration> {
        match (self.kind.heals(), self.duration) {
            (false, _) => Some(self.at),
            (true, Some(len)) => Some(self.at + len),
            (true, None) => None,
        }
    }

    /// How long it is active: its duration when it heals, else zero.
    pub fn length(&self) -> Duration {
        match (self.kind.heals(), self.duration) {
            (true, Some(len)) => len,
            _ => Duration::ZERO,
        }
    }
}

impl fmt::Display for PlannedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} at {}", self.kind, self.target, Dur(self.at))?;
        if let Some(len) = self.duration {
            write!(f, " for {}", Dur(len))?;
        }
        Ok(())
    }
}

/// A random fault schedule, ordered by start time; the index of a fault is its number in the
/// nemesis' events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Schedule(pub Vec<PlannedFault>);

impl Schedule {
    /// The nemesis' apply and heal events, exactly as [`plan`] orders a scenario's faults.
    /// `workload` is the system a target without a role system selects in.
    pub fn events(&self, workload: SystemKind) -> Vec<Event> {
        plan(&self.fault_specs(), workload)
    }

    /// The sum of every fault's [`PlannedFault::length`].
    pub fn total_fault_time(&self) -> Duration {
        self.0.iter().map(PlannedFault::length).sum()
    }

    /// The faults as a scenario's `[[fault]]` list (no positions in a file), to run the schedule.
    pub fn fault_specs(&self) -> Vec<FaultSpec> {
        self.0
            .iter()
            .map(|fault| {
                FaultSpec::new(fault.kind, fault.target.clone(), fault.at, fault.duration)
                    .with_params(&fault.params)
            })
            .collect()
    }
}

impl fmt::Display for Schedule {
    /// `kill one at 12s for 5s; restart leader at 40s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no faults");
        }
        let faults: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&faults.join("; "))
    }
}

/// Every pair `(i, j)`, `i < j`, of faults active at the same time. A fault is active from
/// `at` until its heal (a heal and an apply at the same instant do not overlap: heals go
/// first); one with nothing to heal is an instant, which overlaps what is active then.
pub fn overlapping(schedule: &Schedule) -> Vec<(usize, usize)> {
    let faults = &schedule.0;
    let mut pairs = Vec::new();
    for i in 0..faults.len() {
        for j in i + 1..faults.len() {
            if overlap(&faults[i], &faults[j]) {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

fn overlap(a: &PlannedFault, b: &PlannedFault) -> bool {
    // Active on [start, end) when end > start; an instant otherwise. `None`: until the end.
    let is_instant = |f: &PlannedFault| f.end() == Some(f.at);
    let active_at = |f: &PlannedFault, t: Duration| f.at <= t && f.end().is_none_or(|end| t < end);
    match (is_instant(a), is_instant(b)) {
        (true, true) => a.at == b.at,
        (true, false) => active_at(b, a.at),
        (false, true) => active_at(a, b.at),
        (false, false) => {
            a.end().is_none_or(|end| b.at < end) && b.end().is_none_or(|end| a.at < end)
        }
    }
}

/// Smaller variants of `schedule`, simplest first, for a shrinking loop that reruns each until
/// one still fails: without one fault (each in turn), then one fault's duration halved (not
/// below `limits.min_len`), then one fault moved to half its start time. A candidate has fewer
/// faults, or as many with no more total fault time; a schedule within `limits` gives
/// candidates within them. An empty list means nothing is left to shrink.
pub fn shrink_candidates(schedule: &Schedule, limits: &Limits) -> Vec<Schedule> {
    let faults = &schedule.0;
    let mut candidates: Vec<Schedule> = Vec::new();
    let mut push = |faults: Vec<PlannedFault>| {
        let mut candidate = Schedule(faults);
        candidate.0.sort_by_key(|f| f.at);
        if candidate != *schedule && !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    };
    for index in 0..faults.len() {
        let mut fewer = faults.clone();
        fewer.remove(index);
        push(fewer);
    }
    let shortest = limits.min_len.max(Duration::from_millis(1));
    for (index, fault) in faults.iter().enumerate() {
        if let (true, Some(len)) = (fault.kind.heals(), fault.duration) {
            let half = whole_millis(len / 2).max(shortest);
            if half < len {
                let mut shorter = faults.clone();
                shorter[index].duration = Some(half);
                push(shorter);
            }
        }
    }
    for (index, fault) in faults.iter().enumerate() {
        if fault.at > Duration::ZERO {
            let mut earlier = faults.clone();
            earlier[index].at = whole_millis(fault.at / 2);
            push(earlier);
        }
    }
    candidates
}

/// `duration` rounded down to whole milliseconds.
fn whole_millis(duration: Duration) -> Duration {
    Duration::from_millis(millis(duration))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub use generation::{generate, schedules};

mod generation {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    use super::*;

    /// Resolution of a fault's position in the room it has: `at = room * position / SCALE`.
    const SCALE: u64 = 1_000_000;

    /// Random schedules within `limits`: 1 to `max_faults` faults, sorted by start time. Shrinks
    /// to fewer faults, shorter durations, earlier starts, and kinds and targets earlier in their
    /// lists.
    ///
    /// # Panics
    /// When the limits are invalid; see [`Limits::validate`].
    pub fn schedules(limits: &Limits) -> impl Strategy<Value = Schedule> + use<> {
        if let Err(problem) = limits.validate() {
            panic!("invalid limits for random faults: {problem}");
        }
        let window = millis(limits.window());
        let min_len = millis(limits.min_len);
        let max_len = millis(limits.max_len).min(window);
        let fault = (
            select(limits.kinds.clone()),
            select(limits.targets.clone()),
            min_len..=max_len,
            0..=SCALE,
        )
            .prop_map(move |(kind, target, len, position)| {
                let len = kind.heals().then_some(len);
                let room = window - len.unwrap_or(0);
                let at = u128::from(room) * u128::from(position) / u128::from(SCALE);
                PlannedFault {
                    kind,
                    target,
                    at: Duration::from_millis(u64::try_from(at).unwrap_or(room)),
                    duration: len.map(Duration::from_millis),
                    params: FaultParams::default(),
                }
            });
        let count = limits.max_faults.min(1)..=limits.max_faults;
        proptest::collection::vec(fault, count).prop_map(|mut faults| {
            faults.sort_by_key(|f| f.at);
            Schedule(faults)
        })
    }

    /// The schedule that `seed` draws from [`schedules`]: the same limits and seed give the same
    /// schedule (with the same proptest version; a manifest stores the schedule itself).
    ///
    /// # Panics
    /// When the limits are invalid; see [`Limits::validate`].
    pub fn generate(limits: &Limits, seed: u64) -> Schedule {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        schedules(limits)
            .new_tree(&mut runner)
            .expect("the schedule strategy rejects nothing")
            .current()
    }
}

mod humantime_dur {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::scenario::Dur;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        Dur(*duration).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Dur::deserialize(deserializer).map(Dur::as_duration)
    }
}

mod humantime_opt_dur {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::scenario::Dur;

    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        duration.map(Dur).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<Dur>::deserialize(deserializer).map(|d| d.map(Dur::as_duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::Action;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn fault(kind: FaultKind, target: &str, at: u64, len: Option<u64>) -> PlannedFault {
        PlannedFault {
            kind,
            target: Target::parse(target),
            at: secs(at),
            duration: len.map(secs),
            params: FaultParams::default(),
        }
    }

    fn two_minutes() -> Limits {
        Limits {
            duration: secs(120),
            kinds: vec![FaultKind::Kill, FaultKind::Pause, FaultKind::Restart],
            targets: vec![Target::One, Target::Leader, Target::Minority],
            max_faults: 6,
            min_len: secs(2),
            max_len: secs(30),
            settle: secs(20),
        }
    }

    /// Two faults that heal (kill, stop, pause) active at once.
    fn two_heal_at_once(s: &Schedule) -> bool {
        overlapping(s)
            .iter()
            .any(|&(i, j)| s.0[i].kind.heals() && s.0[j].kind.heals())
    }

    #[test]
    fn events_are_ordered_as_plan_orders_them() {
        let s = Schedule(vec![
            fault(FaultKind::Kill, "leader", 10, Some(10)),
            fault(FaultKind::Pause, "one", 20, Some(5)),
            fault(FaultKind::Restart, "zk-3", 22, None),
        ]);
        let summary: Vec<(u64, Action, usize, SystemKind)> = s
            .events(crate::system::pulsar::KIND)
            .iter()
            .map(|e| (e.at.as_secs(), e.action, e.fault, e.system))
            .collect();
        assert_eq!(
            summary,
            vec![
                (10, Action::Apply, 0, crate::system::zookeeper::KIND),
                (20, Action::Heal, 0, crate::system::zookeeper::KIND),
                (20, Action::Apply, 1, crate::system::pulsar::KIND),
                (22, Action::Apply, 2, crate::system::pulsar::KIND),
                (25, Action::Heal, 1, crate::system::pulsar::KIND),
            ]
        );
        assert_eq!(s.events(crate::system::pulsar::KIND)[4].target, Target::One);
    }

    #[test]
    fn a_schedule_serializes_with_humantime_strings() {
        let s = Schedule(vec![
            PlannedFault {
                at: Duration::from_millis(12_345),
                ..fault(FaultKind::Kill, "one", 0, Some(5))
            },
            fault(FaultKind::Restart, "leader", 40, None),
        ]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"[{"kind":"kill","target":"one","at":"12s 345ms","duration":"5s"},{"kind":"restart","target":"leader","at":"40s"}]"#
        );
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);

        #[derive(Serialize, Deserialize)]
        struct Manifest {
            seed: u64,
            schedule: Schedule,
        }
        let text = toml::to_string(&Manifest {
            seed: 7,
            schedule: s.clone(),
        })
        .unwrap();
        assert!(text.contains(r#"at = "12s 345ms""#), "{text}");
        assert_eq!(toml::from_str::<Manifest>(&text).unwrap().schedule, s);
        assert_eq!(
            s.to_string(),
            "kill one at 12s 345ms for 5s; restart leader at 40s"
        );
    }

    #[test]
    fn overlaps_count_active_windows_and_instants() {
        let s = Schedule(vec![
            fault(FaultKind::Kill, "one", 10, Some(10)),  // [10, 20)
            fault(FaultKind::Pause, "one", 15, Some(10)), // [15, 25)
            fault(FaultKind::Kill, "one", 25, Some(5)),   // [25, 30): touches 1, no overlap
            fault(FaultKind::Restart, "one", 27, None),   // inside 2
            fault(FaultKind::Restart, "one", 30, None),   // at 2's heal: after it
            fault(FaultKind::Restart, "one", 30, None),   // the same instant as 4
            fault(FaultKind::Stop, "one", 50, None),      // until the end
            fault(FaultKind::Pause, "one", 60, Some(1)),  // inside 6
        ]);
        assert_eq!(overlapping(&s), vec![(0, 1), (2, 3), (4, 5), (6, 7)]);
        assert!(overlapping(&Schedule::default()).is_empty());
    }

    #[test]
    fn candidates_come_simplest_first() {
        let limits = two_minutes();
        let s = Schedule(vec![
            fault(FaultKind::Kill, "one", 10, Some(8)),
            fault(FaultKind::Pause, "leader", 14, Some(3)),
        ]);
        let candidates = shrink_candidates(&s, &limits);
        let expected = vec![
            Schedule(vec![s.0[1].clone()]),
            Schedule(vec![s.0[0].clone()]),
            Schedule(vec![
                fault(FaultKind::Kill, "one", 10, Some(4)),
                s.0[1].clone(),
            ]),
            // 3s halves to 1.5s, below the 2s minimum.
            Schedule(vec![
                s.0[0].clone(),
                fault(FaultKind::Pause, "leader", 14, Some(2)),
            ]),
            Schedule(vec![
                fault(FaultKind::Kill, "one", 5, Some(8)),
                s.0[1].clone(),
            ]),
            // Moved before fault 0, so it comes first.
            Schedule(vec![
                fault(FaultKind::Pause, "leader", 7, Some(3)),
                s.0[0].clone(),
            ]),
        ];
        assert_eq!(candidates, expected);

        let smallest = Schedule(vec![fault(FaultKind::Kill, "one", 0, Some(2))]);
        assert_eq!(
            shrink_candidates(&smallest, &limits),
            vec![Schedule::default()]
        );
        assert!(shrink_candidates(&Schedule::default(), &limits).is_empty());
    }

    #[test]
    fn limits_that_cannot_hold_a_fault_are_refused() {
        let ok = two_minutes();
        assert_eq!(ok.validate(), Ok(()));
        let bad = [
            Limits {
                kinds: vec![],
                ..ok.clone()
            },
            Limits {
                targets: vec![],
                ..ok.clone()
            },
            Limits {
                min_len: Duration::ZERO,
                ..ok.clone()
            },
            Limits {
                min_len: secs(31),
                ..ok.clone()
            },
            Limits {
                settle: secs(120),
                ..ok.clone()
            },
            Limits {
                settle: secs(119),
                ..ok.clone()
            },
        ];
        for limits in bad {
            assert!(limits.validate().is_err(), "{limits:?}");
        }
    }

    #[test]
    fn admits_names_the_fault_that_breaks_the_limits() {
        let limits = two_minutes();
        let late = Schedule(vec![fault(FaultKind::Kill, "one", 95, Some(10))]);
        let err = limits.admits(&late).unwrap_err();
        assert!(
            err.contains("fault 0 (kill one at 1m 35s for 10s)"),
            "{err}"
        );
        assert!(err.contains("after 1m 40s"), "{err}");
        let stop = Schedule(vec![fault(FaultKind::Stop, "one", 5, Some(10))]);
        assert!(limits.admits(&stop).unwrap_err().contains("kind stop"));
        let forever = Schedule(vec![fault(FaultKind::Kill, "one", 5, None)]);
        assert!(
            limits
                .admits(&forever)
                .unwrap_err()
                .contains("workload ends")
        );
        let restart = Schedule(vec![fault(FaultKind::Restart, "one", 100, None)]);
        assert_eq!(limits.admits(&restart), Ok(()));
    }

    #[test]
    fn different_seeds_give_different_schedules() {
        let limits = two_minutes();
        let drawn: Vec<Schedule> = (0..8).map(|seed| generate(&limits, seed)).collect();
        assert!(drawn.iter().any(|s| *s != drawn[0]));
        assert!(drawn.iter().all(|s| !s.0.is_empty()));
    }

    /// The issue's acceptance example: a failure caused by two overlapping kills/pauses
    /// shrinks, through proptest, to two overlapping faults of the simplest kind and target.
    /// (Proptest shrinks one fault at a time, so the two are not moved to 0 together.)
    #[test]
    fn proptest_shrinks_an_overlap_failure_to_two_faults() {
        let limits = two_minutes();
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let result = runner.run(&schedules(&limits), |s| {
            prop_assert!(!two_heal_at_once(&s));
            Ok(())
        });
        let Err(TestError::Fail(_, minimal)) = result else {
            panic!("expected a failure, got {result:?}");
        };
        assert_eq!(minimal.0.len(), 2, "{minimal}");
        assert_eq!(overlapping(&minimal), vec![(0, 1)], "{minimal}");
        for f in &minimal.0 {
            assert_eq!(
                (f.kind, &f.target),
                (FaultKind::Kill, &Target::One),
                "{minimal}"
            );
        }
    }

    /// The same failure shrunk by a loop that reruns candidates, as `cargo xtask chaos` will.
    #[test]
    fn shrink_candidates_reduce_an_overlap_failure_to_two_faults() {
        let limits = two_minutes();
        let mut current = (0..)
            .map(|seed| generate(&limits, seed))
            .find(|s| s.0.len() >= 4 && two_heal_at_once(s))
            .unwrap();
        let mut runs = 0;
        while let Some(next) = shrink_candidates(&current, &limits)
            .into_iter()
            .inspect(|_| runs += 1)
            .find(two_heal_at_once)
        {
            current = next;
        }
        assert_eq!(current.0.len(), 2, "{current}");
        assert_eq!(overlapping(&current), vec![(0, 1)]);
        assert!(current.0.iter().all(|f| f.kind.heals()));
        assert!(runs < 200, "{runs} runs");
    }

    fn arbitrary_limits() -> impl Strategy<Value = Limits> {
        let targets = vec![
            Target::One,
            Target::Minority,
            Target::Majority,
            Target::Leader,
            Target::Node("zk-1".into()),
        ];
        (
            10u64..=600,
            0u64..=1000,
            1u64..=5_000,
            0u64..=60_000,
            0usize..=6,
            proptest::sample::subsequence(FaultKind::PROCESS.to_vec(), 1..=5),
            proptest::sample::subsequence(targets, 1..=5),
        )
            .prop_map(
                |(duration, settle_permille, min_ms, extra_ms, max_faults, kinds, targets)| {
                    let duration = secs(duration);
                    Limits {
                        duration,
                        settle: duration / 2 * u32::try_from(settle_permille).unwrap() / 1000,
                        min_len: Duration::from_millis(min_ms),
                        max_len: Duration::from_millis(min_ms + extra_ms),
                        max_faults,
                        kinds,
                        targets,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn generated_schedules_stay_within_their_limits(limits in arbitrary_limits(), seed: u64) {
            prop_assert_eq!(limits.validate(), Ok(()));
            let s = generate(&limits, seed);
            prop_assert_eq!(limits.admits(&s), Ok(()), "{}", s);
            prop_assert!(s.0.len() <= limits.max_faults);
            prop_assert_eq!(s.0.is_empty(), limits.max_faults == 0);
            for f in &s.0 {
                prop_assert!(f.end().is_some_and(|end| end <= limits.window()), "{}", f);
                if let Some(len) = f.duration {
                    prop_assert!(limits.min_len <= len && len <= limits.max_len, "{}", f);
                }
            }
            prop_assert!(s.0.windows(2).all(|w| w[0].at <= w[1].at));
            prop_assert_eq!(&generate(&limits, seed), &s);
            let events = s.events(crate::system::zookeeper::KIND);
            let heals = s.0.iter().filter(|f| f.kind.heals()).count();
            prop_assert_eq!(events.len(), s.0.len() + heals);
        }

        #[test]
        fn shrink_candidates_are_smaller_and_within_limits(limits in arbitrary_limits(), seed: u64) {
            let s = generate(&limits, seed);
            for candidate in shrink_candidates(&s, &limits) {
                prop_assert_eq!(limits.admits(&candidate), Ok(()), "{}", candidate);
                prop_assert_ne!(&candidate, &s);
                prop_assert!(
                    candidate.0.len() < s.0.len()
                        || (candidate.0.len() == s.0.len()
                            && candidate.total_fault_time() <= s.total_fault_time()),
                    "{} is not smaller than {}", candidate, s
                );
            }
        }
    }
}

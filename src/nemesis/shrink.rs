//! Shrinking a failing random schedule by rerunning smaller candidates: the loop, its time
//! budget and its record, with no I/O. [`Shrinker`] is the loop as a state machine for async
//! callers (`cargo xtask chaos --random`); [`shrink`] drives it with a closure.
//!
//! Only an `Invalid` verdict counts as "still fails": a candidate whose run is `Unknown` (a fault
//! not applied, a run that stopped early) proves nothing about the failure, so it is not
//! adopted, exactly like a `Valid` one.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::random::{Limits, Schedule, shrink_candidates};
use crate::checker::Verdict;
use crate::scenario::Dur;

/// Why shrinking stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stopped {
    /// Every candidate of the current schedule passed (or was unknown): it is minimal.
    Minimal,
    /// The time budget was spent before every candidate was tried.
    Budget,
    /// The caller stopped it (Ctrl-C).
    Interrupted,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stopped::Minimal => "no smaller candidate still fails",
            Stopped::Budget => "the time budget was spent",
            Stopped::Interrupted => "interrupted",
        })
    }
}

/// One candidate run while shrinking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub schedule: Schedule,
    pub verdict: Verdict,
    /// How long its run took.
    #[serde(with = "humantime_dur")]
    pub took: Duration,
    /// Whether it still failed and became the current schedule.
    pub adopted: bool,
}

/// What shrinking found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shrunk {
    /// The schedule shrinking started from.
    pub original: Schedule,
    /// The smallest schedule found that still fails (the original if none did).
    pub schedule: Schedule,
    pub stopped: Stopped,
    /// The time budget, and the time the candidate runs took together.
    #[serde(with = "humantime_dur")]
    pub budget: Duration,
    #[serde(with = "humantime_dur")]
    pub spent: Duration,
    /// Every candidate run, in order.
    pub attempts: Vec<Attempt>,
}

impl Shrunk {
    /// How many candidates were run.
    pub fn runs(&self) -> usize {
        self.attempts.len()
    }

    /// How many of them still failed (each a step to a smaller schedule).
    pub fn steps(&self) -> usize {
        self.attempts.iter().filter(|a| a.adopted).count()
    }
}

/// The shrink loop: take the candidates of the current failing schedule simplest first, run each
/// until one still fails, adopt it and start over from its candidates; stop when none fails or
/// the budget is spent. The budget is checked before each run, so the last run may overrun it.
///
/// ```text
/// while let Some(candidate) = shrinker.next() { shrinker.record(run(&candidate), took) }
/// ```
#[derive(Debug)]
pub struct Shrinker {
    limits: Limits,
    original: Schedule,
    current: Schedule,
    candidates: VecDeque<Schedule>,
    pending: Option<Schedule>,
    budget: Duration,
    spent: Duration,
    attempts: Vec<Attempt>,
    stopped: Option<Stopped>,
}

impl Shrinker {
    /// Shrinks `failing`, a schedule whose run was `Invalid`, within `limits`, spending at most
    /// about `budget` on candidate runs.
    pub fn new(failing: Schedule, limits: &Limits, budget: Duration) -> Self {
        let candidates = shrink_candidates(&failing, limits).into();
        Self {
            limits: limits.clone(),
            original: failing.clone(),
            current: failing,
            candidates,
            pending: None,
            budget,
            spent: Duration::ZERO,
            attempts: Vec::new(),
            stopped: None,
        }
    }

    /// The next candidate to run, or `None` when shrinking is over. Every candidate returned
    /// must be answered with [`Shrinker::record`] before the next call.
    ///
    /// # Panics
    /// When the previous candidate was not recorded.
    pub fn next_candidate(&mut self) -> Option<Schedule> {
        assert!(
            self.pending.is_none(),
            "record the verdict of the previous candidate first"
        );
        if self.stopped.is_some() {
            return None;
        }
        if self.candidates.is_empty() {
            self.stopped = Some(Stopped::Minimal);
            return None;
        }
        if self.spent >= self.budget {
            self.stopped = Some(Stopped::Budget);
            return None;
        }
        let candidate = self.candidates.pop_front().expect("not empty");
        self.pending = Some(candidate.clone());
        Some(candidate)
    }

    /// The verdict of the candidate [`Shrinker::next_candidate`] returned, and how long its run
    /// took (kept to the millisecond). Only `Invalid` adopts it.
    ///
    /// # Panics
    /// When there is no candidate to record.
    pub fn record(&mut self, verdict: Verdict, took: Duration) {
        let schedule = self.pending.take().expect("no candidate to record");
        let took = Duration::from_millis(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
        self.spent += took;
        let adopted = verdict == Verdict::Invalid;
        if adopted {
            self.candidates = shrink_candidates(&schedule, &self.limits).into();
            self.current = schedule.clone();
        }
        self.attempts.push(Attempt {
            schedule,
            verdict,
            took,
            adopted,
        });
    }

    /// Stops shrinking now (Ctrl-C); a pending candidate is dropped.
    pub fn interrupt(&mut self) {
        self.pending = None;
        self.stopped.get_or_insert(Stopped::Interrupted);
    }

    /// The smallest failing schedule so far.
    pub fn current(&self) -> &Schedule {
        &self.current
    }

    /// How many candidate runs were recorded.
    pub fn runs(&self) -> usize {
        self.attempts.len()
    }

    /// Time the recorded runs took together.
    pub fn spent(&self) -> Duration {
        self.spent
    }

    /// How many candidates of the current schedule are left to try.
    pub fn remaining(&self) -> usize {
        self.candidates.len()
    }

    /// What shrinking found. A shrinker finished before it stopped by itself counts as
    /// interrupted.
    pub fn finish(self) -> Shrunk {
        Shrunk {
            original: self.original,
            schedule: self.current,
            stopped: self.stopped.unwrap_or(Stopped::Interrupted),
            budget: self.budget,
            spent: self.spent,
            attempts: self.attempts,
        }
    }
}

/// Shrinks `failing` by calling `run` on each candidate; `run` returns the candidate's verdict
/// and how long it took (for the budget).
pub fn shrink(
    failing: Schedule,
    limits: &Limits,
    budget: Duration,
    mut run: impl FnMut(&Schedule) -> (Verdict, Duration),
) -> Shrunk {
    let mut shrinker = Shrinker::new(failing, limits, budget);
    while let Some(candidate) = shrinker.next_candidate() {
        let (verdict, took) = run(&candidate);
        shrinker.record(verdict, took);
    }
    shrinker.finish()
}

mod humantime_dur {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Dur;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        Dur(*duration).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Dur::deserialize(deserializer).map(Dur::as_duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::random::{PlannedFault, generate, overlapping};
    use crate::scenario::{FaultKind, Target};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// zk-random's limits: 60 s of workload, kill and pause of one node, up to 3 faults.
    fn zk_random() -> Limits {
        Limits {
            duration: secs(60),
            kinds: vec![FaultKind::Kill, FaultKind::Pause],
            targets: vec![Target::One],
            max_faults: 4,
            min_len: secs(3),
            max_len: secs(15),
            settle: secs(15),
        }
    }

    /// A stand-in for a run whose check demands quorum is never lost: two faults that take a
    /// node down (kill, pause) active at once fail it.
    fn quorum_run(schedule: &Schedule) -> Verdict {
        let lost = overlapping(schedule)
            .iter()
            .any(|&(i, j)| schedule.0[i].kind.heals() && schedule.0[j].kind.heals());
        if lost {
            Verdict::Invalid
        } else {
            Verdict::Valid
        }
    }

    fn overlap_schedule(limits: &Limits) -> (u64, Schedule) {
        (0..)
            .map(|seed| (seed, generate(limits, seed)))
            .find(|(_, s)| s.0.len() >= 3 && quorum_run(s) == Verdict::Invalid)
            .unwrap()
    }

    #[test]
    fn an_overlap_failure_shrinks_to_the_two_overlapping_faults() {
        let limits = zk_random();
        let (seed, failing) = overlap_schedule(&limits);
        let shrunk = shrink(failing.clone(), &limits, secs(3600), |s| {
            (quorum_run(s), secs(40))
        });
        assert_eq!(shrunk.stopped, Stopped::Minimal, "seed {seed}: {failing}");
        assert_eq!(shrunk.original, failing);
        let minimal = &shrunk.schedule;
        assert_eq!(minimal.0.len(), 2, "seed {seed}: {failing} -> {minimal}");
        assert_eq!(overlapping(minimal), vec![(0, 1)], "{minimal}");
        assert_eq!(limits.admits(minimal), Ok(()));
        // Minimal: every candidate of it passes, and the last attempts were exactly those.
        let candidates = shrink_candidates(minimal, &limits);
        assert!(candidates.iter().all(|c| quorum_run(c) == Verdict::Valid));
        let tail: Vec<&Schedule> = shrunk
            .attempts
            .iter()
            .rev()
            .take(candidates.len())
            .map(|a| &a.schedule)
            .collect();
        assert_eq!(tail, candidates.iter().rev().collect::<Vec<_>>());
        assert_eq!(shrunk.spent, secs(40) * shrunk.runs() as u32);
        assert!(shrunk.steps() >= 1);
        assert!(
            shrunk
                .attempts
                .iter()
                .all(|a| a.adopted == (a.verdict == Verdict::Invalid))
        );
    }

    #[test]
    fn every_generated_overlap_shrinks_to_two_faults() {
        let limits = zk_random();
        let mut shrunk_some = 0;
        for seed in 0..200 {
            let failing = generate(&limits, seed);
            if quorum_run(&failing) != Verdict::Invalid {
                continue;
            }
            let shrunk = shrink(failing.clone(), &limits, Duration::MAX, |s| {
                (quorum_run(s), secs(1))
            });
            assert_eq!(shrunk.schedule.0.len(), 2, "seed {seed}: {failing}");
            assert_eq!(overlapping(&shrunk.schedule), vec![(0, 1)]);
            shrunk_some += 1;
        }
        assert!(shrunk_some > 10, "{shrunk_some}");
    }

    #[test]
    fn the_budget_stops_shrinking_after_the_run_that_spends_it() {
        let limits = zk_random();
        let (_, failing) = overlap_schedule(&limits);
        let shrunk = shrink(failing.clone(), &limits, secs(100), |s| {
            (quorum_run(s), secs(40))
        });
        assert_eq!(shrunk.stopped, Stopped::Budget);
        // 40 + 40 < 100, so a third run starts; 120 >= 100 stops before a fourth.
        assert_eq!(shrunk.runs(), 3);
        assert_eq!(shrunk.spent, secs(120));
        let nothing = shrink(failing.clone(), &limits, Duration::ZERO, |_| {
            panic!("no run within a zero budget")
        });
        assert_eq!(nothing.stopped, Stopped::Budget);
        assert_eq!(nothing.schedule, failing);
        assert_eq!(nothing.runs(), 0);
    }

    #[test]
    fn unknown_is_not_a_failure() {
        let limits = zk_random();
        let (_, failing) = overlap_schedule(&limits);
        let shrunk = shrink(failing.clone(), &limits, Duration::MAX, |_| {
            (Verdict::Unknown, secs(1))
        });
        assert_eq!(shrunk.schedule, failing);
        assert_eq!(shrunk.stopped, Stopped::Minimal);
        assert_eq!(shrunk.runs(), shrink_candidates(&failing, &limits).len());
        assert_eq!(shrunk.steps(), 0);
    }

    #[test]
    fn an_interrupted_shrink_keeps_what_it_found() {
        let limits = zk_random();
        let (_, failing) = overlap_schedule(&limits);
        let mut shrinker = Shrinker::new(failing.clone(), &limits, Duration::MAX);
        let first = shrinker.next_candidate().unwrap();
        shrinker.record(Verdict::Invalid, Duration::from_nanos(5_000_123_456));
        assert_eq!(shrinker.spent(), Duration::from_millis(5_000));
        assert_eq!(shrinker.current(), &first);
        assert!(shrinker.next_candidate().is_some());
        shrinker.interrupt();
        assert_eq!(shrinker.next_candidate(), None);
        let shrunk = shrinker.finish();
        assert_eq!(shrunk.stopped, Stopped::Interrupted);
        assert_eq!(shrunk.schedule, first);
        assert_eq!(shrunk.runs(), 1);
    }

    #[test]
    fn a_shrunk_record_round_trips_through_json() {
        let limits = zk_random();
        let failing = Schedule(vec![
            PlannedFault {
                kind: FaultKind::Kill,
                target: Target::One,
                at: secs(10),
                duration: Some(secs(8)),
                params: Default::default(),
            },
            PlannedFault {
                kind: FaultKind::Pause,
                target: Target::One,
                at: secs(14),
                duration: Some(secs(4)),
                params: Default::default(),
            },
        ]);
        let shrunk = shrink(failing, &limits, secs(600), |s| {
            (quorum_run(s), Duration::from_millis(41_500))
        });
        let json = serde_json::to_string(&shrunk).unwrap();
        assert!(json.contains(r#""took":"41s 500ms""#), "{json}");
        assert!(json.contains(r#""stopped":"minimal""#), "{json}");
        assert_eq!(serde_json::from_str::<Shrunk>(&json).unwrap(), shrunk);
    }
}

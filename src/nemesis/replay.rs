//! Replay manifests: what reruns a random schedule exactly (the scenario's text, the seed, the
//! original and shrunk schedules, the images, how shrinking went), and the scenario a schedule
//! runs as. No I/O but reading and writing the manifest and reading the scenario file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::random::Schedule;
use super::shrink::{Attempt, Shrunk, Stopped};
use crate::checker::Verdict;
use crate::scenario::{Dur, Scenario, ScenarioError, parse};

/// `scenario` with its `[[fault]]` list replaced by `schedule` and its seed (target picks, client
/// jitter) set to `seed`, as `--random` and `--replay` run it.
pub fn scenario_with(scenario: &Scenario, schedule: &Schedule, seed: u64) -> Scenario {
    let mut run = scenario.clone();
    run.faults = schedule.fault_specs();
    run.seed = seed;
    run
}

/// An image a run used: the tag it ran (content-hashed for local builds) and the engine's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// How shrinking went: why it stopped, the runs and the time they took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrinkRecord {
    pub stopped: Stopped,
    pub runs: usize,
    /// Candidates that still failed, each a step to a smaller schedule.
    pub steps: usize,
    pub budget: Dur,
    pub spent: Dur,
    pub attempts: Vec<Attempt>,
}

impl From<&Shrunk> for ShrinkRecord {
    fn from(shrunk: &Shrunk) -> Self {
        Self {
            stopped: shrunk.stopped,
            runs: shrunk.runs(),
            steps: shrunk.steps(),
            budget: Dur(shrunk.budget),
            spent: Dur(shrunk.spent),
            attempts: shrunk.attempts.clone(),
        }
    }
}

/// Everything `cargo xtask chaos --replay` needs to rerun a failing random schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub chaosbed_version: String,
    /// The git commit of the workspace that wrote it, `-dirty` with local changes, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub created_at: String,
    pub scenario: String,
    /// The scenario file as it was run; the replay parses `scenario_text`, not this file.
    pub scenario_file: PathBuf,
    pub scenario_text: String,
    /// `--seed`, and the index of the failing schedule among the `--random` ones.
    pub seed: u64,
    pub index: u64,
    /// `seed + index`: drew the schedule and seeded the run's random choices.
    pub run_seed: u64,
    pub original: Schedule,
    pub original_verdict: Verdict,
    /// The shrunk schedule the replay runs.
    pub schedule: Schedule,
    /// Its verdict, which the replay must reproduce.
    pub verdict: Verdict,
    /// Per system, the image the failing run used.
    pub images: BTreeMap<String, ImageRecord>,
    pub shrink: ShrinkRecord,
}

impl Manifest {
    /// `replay-<seed>-<index>.json`.
    pub fn file_name(seed: u64, index: u64) -> String {
        format!("replay-{seed}-{index}.json")
    }

    /// Writes it as pretty JSON to `dir/replay-<seed>-<index>.json` and returns the path.
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(Self::file_name(self.seed, self.index));
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the replay manifest {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a replay manifest", path.display()))
    }

    /// The scenario as recorded (its stored text, not the file on disk now), with the shrunk
    /// schedule and the run's seed.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        let file = self.scenario_file.display().to_string();
        let recorded = parse(&file, &self.scenario_text)?;
        Ok(scenario_with(&recorded, &self.schedule, self.run_seed))
    }

    /// Why the scenario file on disk is not the one recorded, if it is not.
    pub fn scenario_file_changed(&self) -> Option<String> {
        match std::fs::read_to_string(&self.scenario_file) {
            Ok(text) if text == self.scenario_text => None,
            Ok(_) => Some(format!(
                "{} has changed since the manifest was written; replaying the recorded text",
                self.scenario_file.display()
            )),
            Err(e) => Some(format!(
                "{} cannot be read ({e}); replaying the recorded text",
                self.scenario_file.display()
            )),
        }
    }

    /// How `now` differs from the recorded images, one line per system.
    pub fn image_differences(&self, now: &BTreeMap<String, ImageRecord>) -> Vec<String> {
        let mut differences = Vec::new();
        for (system, recorded) in &self.images {
            match now.get(system) {
                None => {
                    differences.push(format!("{system}: recorded {}, not used now", recorded.tag))
                }
                Some(current) if current.tag != recorded.tag => differences.push(format!(
                    "{system}: recorded {}, now {}",
                    recorded.tag, current.tag
                )),
                Some(current)
                    if recorded.id.is_some()
                        && current.id.is_some()
                        && current.id != recorded.id =>
                {
                    differences.push(format!(
                        "{system}: {} was image {}, is now {}",
                        recorded.tag,
                        recorded.id.as_deref().unwrap_or_default(),
                        current.id.as_deref().unwrap_or_default()
                    ))
                }
                Some(_) => {}
            }
        }
        for (system, current) in now {
            if !self.images.contains_key(system) {
                differences.push(format!("{system}: {} was not recorded", current.tag));
            }
        }
        differences
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::nemesis::random::{PlannedFault, overlapping};
    use crate::nemesis::shrink::shrink;
    use crate::scenario::{FaultKind, Target};

    const SCENARIO: &str = r#"name = "zk-random"
description = "random kills and pauses; quorum must never be lost"
tier = "full"
seed = 1

[topology.zookeeper]
nodes = 3

[workload]
kind = "zk-register"
duration = "60s"

[random]
kinds = ["kill", "pause"]
faults = 3

[[check]]
kind = "quorum"
never_lost = true
"#;

    fn fault(kind: FaultKind, at: u64, len: u64) -> PlannedFault {
        PlannedFault {
            kind,
            target: Target::One,
            at: Duration::from_secs(at),
            duration: Some(Duration::from_secs(len)),
            params: Default::default(),
        }
    }

    fn images() -> BTreeMap<String, ImageRecord> {
        BTreeMap::from([(
            "zookeeper".to_string(),
            ImageRecord {
                tag: "chaosbed/zookeeper:3.8.0-d418769930c1".into(),
                id: Some("sha256:abc".into()),
            },
        )])
    }

    fn manifest(dir: &Path) -> Manifest {
        let file = dir.join("zk-random.toml");
        std::fs::write(&file, SCENARIO).unwrap();
        let scenario = parse("zk-random.toml", SCENARIO).unwrap();
        let limits = scenario
            .random
            .as_ref()
            .unwrap()
            .get_ref()
            .limits(&scenario);
        let original = Schedule(vec![
            fault(FaultKind::Pause, 2, 5),
            fault(FaultKind::Kill, 10, 12),
            fault(FaultKind::Pause, 16, 9),
        ]);
        let shrunk = shrink(original.clone(), &limits, Duration::from_secs(3600), |s| {
            let verdict = if overlapping(s).is_empty() {
                Verdict::Valid
            } else {
                Verdict::Invalid
            };
            (verdict, Duration::from_secs(10))
        });
        Manifest {
            chaosbed_version: env!("CARGO_PKG_VERSION").into(),
            commit: Some("8682cd7-dirty".into()),
            created_at: "2026-11-22T10:00:00+00:00".into(),
            scenario: scenario.name.clone(),
            scenario_file: file,
            scenario_text: SCENARIO.into(),
            seed: 1,
            index: 2,
            run_seed: 3,
            original,
            original_verdict: Verdict::Invalid,
            schedule: shrunk.schedule.clone(),
            verdict: Verdict::Invalid,
            images: images(),
            shrink: ShrinkRecord::from(&shrunk),
        }
    }

    #[test]
    fn a_manifest_round_trips_and_replays_the_shrunk_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let written = manifest(dir.path());
        assert_eq!(written.schedule.0.len(), 2, "{}", written.schedule);
        assert_eq!(written.shrink.stopped, Stopped::Minimal);
        assert_eq!(
            written.shrink.spent.as_duration(),
            Duration::from_secs(10) * written.shrink.runs as u32
        );
        let path = written.write(dir.path()).unwrap();
        assert_eq!(path, dir.path().join("replay-1-2.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""at": "10s""#), "{text}");
        assert!(text.contains(r#""verdict": "invalid""#), "{text}");
        let read = Manifest::read(&path).unwrap();
        assert_eq!(read, written);

        let scenario = read.scenario().unwrap();
        assert_eq!(scenario.seed, 3);
        assert_eq!(scenario.faults.len(), 2);
        let specs = read.schedule.fault_specs();
        for (ran, planned) in scenario.faults.iter().zip(&specs) {
            assert_eq!(ran.kind.get_ref(), planned.kind.get_ref());
            assert_eq!(ran.target.get_ref(), planned.target.get_ref());
            assert_eq!(ran.at.get_ref(), planned.at.get_ref());
            assert_eq!(
                ran.duration.as_ref().map(|d| *d.get_ref()),
                planned.duration.as_ref().map(|d| *d.get_ref())
            );
        }
        assert_eq!(read.scenario_file_changed(), None);
    }

    #[test]
    fn the_recorded_text_is_replayed_even_when_the_file_changed() {
        let dir = tempfile::tempdir().unwrap();
        let written = manifest(dir.path());
        std::fs::write(
            &written.scenario_file,
            SCENARIO.replace("duration = \"60s\"", "duration = \"90s\""),
        )
        .unwrap();
        let warning = written.scenario_file_changed().unwrap();
        assert!(warning.contains("has changed"), "{warning}");
        assert_eq!(
            written
                .scenario()
                .unwrap()
                .workload
                .duration
                .get_ref()
                .as_duration(),
            Duration::from_secs(60)
        );
        std::fs::remove_file(&written.scenario_file).unwrap();
        assert!(
            written
                .scenario_file_changed()
                .unwrap()
                .contains("cannot be read")
        );
    }

    #[test]
    fn image_differences_name_the_system() {
        let dir = tempfile::tempdir().unwrap();
        let written = manifest(dir.path());
        assert!(written.image_differences(&images()).is_empty());
        let mut rebuilt = images();
        rebuilt.get_mut("zookeeper").unwrap().tag = "chaosbed/zookeeper:3.8.0-ffffffffffff".into();
        assert_eq!(
            written.image_differences(&rebuilt),
            vec![
                "zookeeper: recorded chaosbed/zookeeper:3.8.0-d418769930c1, now chaosbed/zookeeper:3.8.0-ffffffffffff"
            ]
        );
        let mut retagged = images();
        retagged.get_mut("zookeeper").unwrap().id = Some("sha256:def".into());
        assert!(written.image_differences(&retagged)[0].contains("sha256:def"));
        assert!(written.image_differences(&BTreeMap::new())[0].contains("not used now"));
    }

    #[test]
    fn a_file_that_is_not_a_manifest_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{}").unwrap();
        let err = format!("{:#}", Manifest::read(&path).unwrap_err());
        assert!(err.contains("is not a replay manifest"), "{err}");
    }
}

//! A user's own client in a container: started on the run's network with the cluster's
//! addresses in its environment, run once for the workload and once for the final read, each
//! time its standard output read line by line into the history as it comes.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Deadline;
use super::client_lines::{self, Malformed};
use crate::backend::{Backend, ContainerSpec};
use crate::history::Recorder;

/// How long a client has between SIGTERM and SIGKILL when its time is up.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Which run of the client: the workload while faults come and go, or the final read after heal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Workload,
    FinalRead,
}

impl Phase {
    /// The value of `CHAOSBED_PHASE`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Workload => "workload",
            Phase::FinalRead => "final-read",
        }
    }

    /// The container's name on the run's network.
    pub fn node(self) -> &'static str {
        match self {
            Phase::Workload => "client",
            Phase::FinalRead => "client-final-read",
        }
    }
}

/// The client as a scenario describes it, with the cluster's addresses resolved.
#[derive(Debug, Clone)]
pub struct Client {
    pub image: String,
    pub command: Option<Vec<String>>,
    /// chaosbed's `CHAOSBED_*` variables, then the scenario's own `env`.
    pub env: Vec<(String, String)>,
    /// The Pulsar topic the client uses, when the scenario names one: `owner` and `ensemble`
    /// targets find their nodes through it.
    pub topic: Option<String>,
}

impl Client {
    /// The container of `phase`, told how long it has.
    pub fn spec(&self, phase: Phase, duration: Duration) -> ContainerSpec {
        let mut env = vec![
            ("CHAOSBED_PHASE".to_owned(), phase.name().to_owned()),
            (
                "CHAOSBED_DURATION_SECONDS".to_owned(),
                duration.as_secs().to_string(),
            ),
        ];
        env.extend(self.env.iter().cloned());
        ContainerSpec {
            node: phase.node().to_owned(),
            aliases: Vec::new(),
            image: self.image.clone(),
            env,
            cmd: self.command.clone(),
            memory: None,
            data_dir: None,
            data_size: None,
            cap_add: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// What one run of the client did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub phase: Phase,
    /// Lines read as operations into the history.
    pub operations: u64,
    pub malformed: Malformed,
    /// The exit code, once it exited.
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// Whether chaosbed stopped it because its time was up.
    pub stopped: bool,
    /// How long it ran.
    pub ran: Duration,
    /// Whether it ended on its own before its deadline.
    pub ended_before_deadline: bool,
}

impl Outcome {
    /// Why this run counts as the client failing, like a node that exited: it ended on its
    /// own with a non-zero code, or was OOM-killed. None when it did its job.
    pub fn failure(&self) -> Option<String> {
        let code = self.exit_code?;
        if self.stopped || (code == 0 && !self.oom_killed) {
            return None;
        }
        let how = if self.oom_killed {
            format!("was OOM-killed (exit code {code})")
        } else {
            format!("exited with code {code}")
        };
        let when = if self.ended_before_deadline {
            " before its time was up"
        } else {
            ""
        };
        Some(format!(
            "the client container {} ({} phase) {how} after {:.1}s{when}",
            self.phase.node(),
            self.phase.name(),
            self.ran.as_secs_f64()
        ))
    }

    /// One line for the run's story.
    pub fn summary(&self) -> String {
        let end = match (self.stopped, self.exit_code) {
            (true, _) => "stopped when its time was up".to_owned(),
            (false, Some(code)) => format!("exited with code {code}"),
            (false, None) => "ended".to_owned(),
        };
        let malformed = if self.malformed.count > 0 {
            let (number, line, why) = &self.malformed.examples[0];
            format!(
                "; {} lines were no operation (first, line {number}: {why}: {line:?})",
                self.malformed.count
            )
        } else {
            String::new()
        };
        format!(
            "client {}: {} operations read in {:.1}s, {end}{malformed}",
            self.phase.name(),
            self.operations,
            self.ran.as_secs_f64()
        )
    }
}

/// Reads the running `phase` container's standard output into `recorder` until it exits, and
/// stops it (SIGTERM, then SIGKILL after [`STOP_GRACE`]) once `end` passes.
pub async fn follow(
    backend: &impl Backend,
    phase: Phase,
    recorder: &Recorder,
    end: &Deadline,
) -> Outcome {
    let node = phase.node();
    let started = Instant::now();
    let (lines, mut incoming) = mpsc::unbounded_channel();
    let follower = backend.follow_stdout(node, lines);
    tokio::pin!(follower);
    let mut following = true;
    let mut stopped = false;
    let mut ended_before_deadline = false;
    let mut number = 0u64;
    let mut operations = 0u64;
    let mut malformed = Malformed::default();
    loop {
        // The deadline can move earlier while the client runs; look again at least each second.
        let wake = end.at().min(Instant::now() + Duration::from_secs(1));
        tokio::select! {
            line = incoming.recv() => {
                let Some(line) = line else { break };
                number += 1;
                match client_lines::parse(&line) {
                    Ok(Some(op)) => {
                        recorder.record(&op.process, op.f, op.kind, op.value, op.error);
                        operations += 1;
                    }
                    Ok(None) => {}
                    Err(why) => malformed.note(number, &line, why),
                }
            }
            result = &mut follower, if following => {
                following = false;
                ended_before_deadline = !end.passed();
                if let Err(e) = result {
                    tracing::warn!(node, error = %format!("{e:#}"), "following the client's output");
                }
            }
            () = tokio::time::sleep_until(wake), if !stopped && following => {
                if end.passed() {
                    stopped = true;
                    let grace = i32::try_from(STOP_GRACE.as_secs()).unwrap_or(10);
                    if let Err(e) = backend.stop(node, grace).await {
                        tracing::warn!(node, error = %format!("{e:#}"), "stopping the client");
                    }
                }
            }
        }
    }
    let state = backend.state(node).await.ok();
    Outcome {
        phase,
        operations,
        malformed,
        exit_code: state.as_ref().and_then(|s| s.exit_code),
        oom_killed: state.as_ref().is_some_and(|s| s.oom_killed),
        stopped,
        ran: started.elapsed(),
        ended_before_deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fake::FakeBackend;
    use crate::history::{F, OpKind};

    fn client() -> Client {
        Client {
            image: "my/client:1".into(),
            command: Some(vec!["python3".into(), "client.py".into()]),
            env: vec![("CHAOSBED_ZOOKEEPER".into(), "10.0.0.2:2181".into())],
            topic: None,
        }
    }

    #[test]
    fn each_phase_is_its_own_container_told_its_phase_and_time() {
        let spec = client().spec(Phase::FinalRead, Duration::from_secs(60));
        assert_eq!(spec.node, "client-final-read");
        assert_eq!(spec.env_var("CHAOSBED_PHASE"), Some("final-read"));
        assert_eq!(spec.env_var("CHAOSBED_DURATION_SECONDS"), Some("60"));
        assert_eq!(spec.env_var("CHAOSBED_ZOOKEEPER"), Some("10.0.0.2:2181"));
        assert_eq!(spec.cmd.as_deref().unwrap()[1], "client.py");
    }

    #[tokio::test]
    async fn operations_are_recorded_and_other_lines_counted() {
        let mut backend = FakeBackend::new();
        backend
            .create(&client().spec(Phase::Workload, Duration::from_secs(5)))
            .await
            .unwrap();
        backend.script_stdout(
            "client",
            &[
                r#"{"process": 0, "type": "invoke", "f": "write", "value": {"key": "a", "value": 1}}"#,
                "connecting to zk-1",
                r#"{"process": 0, "type": "ok", "f": "write", "value": {"key": "a", "value": 1}}"#,
                "",
            ],
        );
        let recorder = Recorder::new();
        let outcome = follow(
            &backend,
            Phase::Workload,
            &recorder,
            &Deadline::after(Duration::from_secs(30)),
        )
        .await;
        assert_eq!(outcome.operations, 2);
        assert_eq!(outcome.malformed.count, 1);
        assert_eq!(outcome.malformed.examples[0].0, 2);
        assert!(outcome.summary().contains("1 lines were no operation"));
        let ops = recorder.snapshot().ops;
        assert_eq!(ops.len(), 2);
        assert_eq!((ops[0].f, ops[0].kind), (F::Write, OpKind::Invoke));
        assert_eq!(
            (ops[1].process.as_str(), ops[1].kind),
            ("client-0", OpKind::Ok)
        );
        assert!(ops[0].time <= ops[1].time);
    }

    #[test]
    fn a_client_that_exits_badly_on_its_own_fails_and_one_stopped_does_not() {
        let outcome = |code, stopped, early| Outcome {
            phase: Phase::Workload,
            operations: 0,
            malformed: Malformed::default(),
            exit_code: Some(code),
            oom_killed: false,
            stopped,
            ran: Duration::from_secs(3),
            ended_before_deadline: early,
        };
        let failure = outcome(1, false, true).failure().unwrap();
        assert_eq!(
            failure,
            "the client container client (workload phase) exited with code 1 after 3.0s before \
             its time was up"
        );
        assert_eq!(outcome(0, false, true).failure(), None);
        assert_eq!(outcome(143, true, false).failure(), None);
    }
}

//! A user's client container as the runner follows it: its stdout lines become history
//! operations as they come, other lines are counted, and an early bad exit is a failure.

use std::time::Duration;

use futures_util::FutureExt as _;
use libtest_mimic::Trial;

use chaosbed::backend::Backend as _;
use chaosbed::backend::RunId;
use chaosbed::backend::docker::DockerBackend;
use chaosbed::history::{F, OpKind, Recorder};
use chaosbed::workload::Deadline;
use chaosbed::workload::container::{Client, Phase, follow};

use super::support::{block_on, docker, finish};

pub fn trials() -> Vec<Trial> {
    vec![Trial::test(
        "client::a_client_that_exits_early_is_read_then_failed",
        || block_on(exits_early()),
    )]
}

/// Prints an operation pair, a line that is none, a line on stderr, then exits 3 long before
/// its time is up.
const SCRIPT: &str = r#"echo '{"process": 0, "type": "invoke", "f": "write", "value": {"key": "a", "value": 1}}'
sleep 0.3
echo '{"process": 0, "type": "ok", "f": "write", "value": {"key": "a", "value": 1}}'
echo 'connected to zk-1'
echo 'Traceback: boom' >&2
exit 3"#;

async fn exits_early() -> anyhow::Result<()> {
    let docker = docker().await?;
    let mut backend = DockerBackend::new(docker.clone(), RunId::new("client-exits"));
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let outcome = std::panic::AssertUnwindSafe(async {
        // Any image with a shell will do; the ZooKeeper entrypoint execs other commands.
        let image = chaosbed::image::ensure(&docker, "zookeeper", "3.9", &progress).await?;
        backend.create_network().await?;
        let client = Client {
            image,
            command: Some(vec!["sh".into(), "-c".into(), SCRIPT.into()]),
            env: Vec::new(),
            topic: None,
        };
        let spec = client.spec(Phase::Workload, Duration::from_secs(60));
        backend.create(&spec).await?;
        backend.start(&spec.node).await?;
        let recorder = Recorder::new();
        let end = Deadline::after(Duration::from_secs(60));
        let outcome = follow(&backend, Phase::Workload, &recorder, &end).await;
        anyhow::ensure!(outcome.operations == 2, "{}", outcome.summary());
        anyhow::ensure!(outcome.malformed.count == 1, "{}", outcome.summary());
        anyhow::ensure!(
            outcome.ran < Duration::from_secs(30),
            "following did not end when the client exited: {:?}",
            outcome.ran
        );
        let failure = outcome.failure().unwrap_or_default();
        anyhow::ensure!(
            failure.contains("exited with code 3") && failure.contains("before its time was up"),
            "failure: {failure:?}"
        );
        let ops = recorder.snapshot().ops;
        anyhow::ensure!(
            ops.len() == 2
                && ops
                    .iter()
                    .all(|op| op.f == F::Write && op.process == "client-0")
                && ops[1].kind == OpKind::Ok
                && ops[1].time >= ops[0].time + 200_000_000,
            "the operations, stamped as read (the ok 0.3 s after the invoke): {ops:?}"
        );
        let log = backend.logs(&spec.node).await?;
        anyhow::ensure!(log.contains("Traceback: boom"), "its log: {log}");
        Ok(())
    })
    .catch_unwind()
    .await;
    finish(&docker, &backend, outcome, "the client exit test").await
}

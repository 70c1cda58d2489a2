//! A user's own test of a ZooKeeper ensemble, written against chaosbed's public API only: the
//! cluster from a builder, the test's own client (zookeeper-client) recording into chaosbed's
//! history, a leader killed from code and healed, then chaosbed's checkers on what happened.
//! Needs a Docker engine (chaosbed starts one if it can); CHAOSBED_SKIP_DOCKER=1 skips it.

use std::collections::BTreeMap;
use std::time::Duration;

use chaosbed::api::TestCluster;
use chaosbed::checker::Verdict;
use chaosbed::history::{F, OpKind, Recorder};
use chaosbed::scenario::Target;
use rstest::rstest;
use serde_json::json;
use zookeeper_client as zk;

const ROOT: &str = "/my-app";

fn skipped() -> bool {
    let skip = std::env::var("CHAOSBED_SKIP_DOCKER").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("CHAOSBED_SKIP_DOCKER=1: skipping 1 Docker test of the Rust API example");
    }
    skip
}

async fn session(connect: &str) -> anyhow::Result<zk::Client> {
    Ok(tokio::time::timeout(
        Duration::from_secs(20),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(connect),
    )
    .await??)
}

/// The test's own client: one znode per write, each recorded as chaosbed's no-lost-writes check
/// reads them (`write` with key and value; an error whose outcome is unknown is `info`).
async fn write_for(connect: String, recorder: Recorder, run: Duration) -> anyhow::Result<u32> {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let mut client = session(&connect).await?;
    match client.create(ROOT, b"", &options).await {
        Ok(_) | Err(zk::Error::NodeExists) => {}
        Err(e) => return Err(e.into()),
    }
    let end = tokio::time::Instant::now() + run;
    let mut written = 0;
    let mut n = 0;
    while tokio::time::Instant::now() < end {
        n += 1;
        let key = format!("{ROOT}/w-{n}");
        let value = json!({"key": key, "value": n.to_string()});
        recorder.record("my-client", F::Write, OpKind::Invoke, value.clone(), None);
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            client.create(&key, n.to_string().as_bytes(), &options),
        )
        .await;
        match outcome {
            Ok(Ok(_)) => {
                recorder.record("my-client", F::Write, OpKind::Ok, value, None);
                written += 1;
            }
            Ok(Err(zk::Error::NodeExists)) => {
                recorder.record("my-client", F::Write, OpKind::Ok, value, None);
            }
            Ok(Err(e)) => {
                recorder.record(
                    "my-client",
                    F::Write,
                    OpKind::Info,
                    value,
                    Some(e.to_string()),
                );
                // A new session for the next write, wherever the ensemble now serves.
                if let Ok(fresh) = session(&connect).await {
                    client = fresh;
                }
            }
            Err(_) => {
                let error = Some("timed out".to_owned());
                recorder.record("my-client", F::Write, OpKind::Info, value, error);
                if let Ok(fresh) = session(&connect).await {
                    client = fresh;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(written)
}

/// Every znode under ROOT, recorded as the final read.
async fn final_read(connect: &str, recorder: &Recorder) -> anyhow::Result<usize> {
    recorder.record(
        "my-final-read",
        F::FinalRead,
        OpKind::Invoke,
        json!(null),
        None,
    );
    let client = session(connect).await?;
    client.sync(ROOT).await?;
    let mut keys = BTreeMap::new();
    for child in client.list_children(ROOT).await? {
        let path = format!("{ROOT}/{child}");
        let (data, _) = client.get_data(&path).await?;
        keys.insert(path, String::from_utf8_lossy(&data).into_owned());
    }
    let count = keys.len();
    recorder.record(
        "my-final-read",
        F::FinalRead,
        OpKind::Ok,
        json!({ "keys": keys }),
        None,
    );
    Ok(count)
}

#[rstest]
#[case::leader(Target::Leader)]
#[tokio::test]
async fn acknowledged_writes_survive_a_kill(#[case] target: Target) -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let mut cluster = TestCluster::builder("api-example-zk-kill")
        .system(chaosbed::system::zookeeper::KIND, 3)
        .version(chaosbed::system::zookeeper::KIND, "3.9")
        .start()
        .await?;
    let connect = cluster
        .env("CHAOSBED_ZOOKEEPER")
        .expect("a ZooKeeper cluster has its connect string");
    let writer = tokio::spawn(write_for(
        connect.clone(),
        cluster.recorder().clone(),
        Duration::from_secs(9),
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fault = cluster.kill(target).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.heal(fault).await;
    let written = writer.await??;
    cluster.wait_ready(Duration::from_secs(60)).await?;
    let read = final_read(&connect, cluster.recorder()).await?;
    let results = cluster.check(
        "[[check]]\nkind = \"no-lost-writes\"\n\n\
         [[check]]\nkind = \"quorum\"\ngrace = \"10s\"\n\n\
         [[check]]\nkind = \"availability\"\nmax_unavailable = \"10s\"\n",
    )?;
    for result in &results {
        println!(
            "{:<16} {:<8} {}",
            result.name, result.verdict, result.summary
        );
    }
    println!("{written} writes acknowledged, {read} znodes in the final read");
    cluster.stop().await?;
    assert!(written > 0, "the client never wrote");
    for result in &results {
        assert_eq!(
            result.verdict,
            Verdict::Valid,
            "{}: {}",
            result.name,
            result.summary
        );
    }
    assert_eq!(
        results.len(),
        4,
        "three checks and faults-applied: {results:?}"
    );
    Ok(())
}

/// The containers labelled with `run`, as the docker CLI lists them.
fn containers_of(run: &str) -> Vec<String> {
    let output = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=chaosbed.run={run}"),
        ])
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[rstest]
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_dropped_by_a_failing_test_leaves_nothing() -> anyhow::Result<()> {
    if skipped() {
        return Ok(());
    }
    let cluster = TestCluster::builder("api-example-drop")
        .system(chaosbed::system::zookeeper::KIND, 1)
        .start()
        .await?;
    let run = cluster.run_id();
    assert_eq!(containers_of(&run).len(), 1, "the one node runs");
    // A failed assertion unwinds through the test without `stop`: the drop removes the cluster.
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _cluster = cluster;
        panic!("the user's assertion failed");
    }));
    assert!(unwound.is_err());
    assert_eq!(
        containers_of(&run),
        Vec::<String>::new(),
        "run {run} left containers"
    );
    Ok(())
}

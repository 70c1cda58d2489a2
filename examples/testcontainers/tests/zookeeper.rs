//! A testcontainers user's test: chaosbed's ZooKeeper image, started by testcontainers with no
//! registry, answers a real client on its mapped port. Needs a Docker engine.

use std::time::Duration;

use chaosbed_testcontainers::{ZOOKEEPER_PORT, ZooKeeper};
use testcontainers::runners::AsyncRunner;
use zookeeper_client as zk;

#[tokio::test]
async fn a_zookeeper_from_chaosbed_answers_through_testcontainers() -> anyhow::Result<()> {
    if std::env::var("CHAOSBED_SKIP_DOCKER").is_ok_and(|v| v == "1") {
        eprintln!("CHAOSBED_SKIP_DOCKER=1: skipping 1 Docker test");
        return Ok(());
    }
    let image = ZooKeeper::build("3.9")
        .await?
        .with_env("ZOO_TICK_TIME", "500");
    let container = image.start().await?;
    let port = container.get_host_port_ipv4(ZOOKEEPER_PORT).await?;
    let client = tokio::time::timeout(
        Duration::from_secs(30),
        zk::Client::connector().connect(&format!("127.0.0.1:{port}")),
    )
    .await??;
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client
        .create("/from-testcontainers", b"hello", &options)
        .await?;
    let (data, _) = client.get_data("/from-testcontainers").await?;
    assert_eq!(data, b"hello");
    // The negotiated session timeout follows the tickTime set through the image's contract
    // (between 2 and 20 ticks: at most 10 s with 500 ms ticks).
    assert!(
        client.session_timeout() <= Duration::from_secs(10),
        "session timeout {:?}",
        client.session_timeout()
    );
    Ok(())
}

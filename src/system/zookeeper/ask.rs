//! A short ZooKeeper session for reading what other systems register in the ensemble (the OAP
//! nodes, Pinpoint's collectors and webs): opened with short timeouts, the whole question bounded.

use std::time::Duration;

use anyhow::Context as _;
use zookeeper_client as zk;

const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a session to the ensemble at `connect` (`host:port,...`) and asks `question` on it,
/// all within twice ASK_TIMEOUT; `what` names the question in the errors.
pub async fn ask<T>(
    connect: &str,
    what: &str,
    question: impl AsyncFnOnce(&zk::Client) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let asked = async {
        let client = zk::Client::connector()
            .with_session_timeout(SESSION_TIMEOUT)
            .with_connection_timeout(ASK_TIMEOUT)
            .connect(connect)
            .await
            .with_context(|| format!("opening a ZooKeeper session to {connect}"))?;
        question(&client).await
    };
    tokio::time::timeout(ASK_TIMEOUT * 2, asked)
        .await
        .with_context(|| {
            format!(
                "no answer from ZooKeeper at {connect} within {:?} while {what}",
                ASK_TIMEOUT * 2
            )
        })?
}

//! The four-letter-word protocol (`srvr`, `ruok`, `mntr`) and the roles it reveals.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::CLIENT_PORT;

/// A node's role as its `srvr` answer (or silence) shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Leader,
    Follower,
    Observer,
    Standalone,
    /// Answers, but has no quorum ("not currently serving requests").
    NotServing,
    /// No answer within the timeout: stopped, paused or cut off.
    Unreachable,
}

impl Role {
    /// Serving clients as part of a quorum (or alone).
    pub fn is_serving(self) -> bool {
        matches!(
            self,
            Role::Leader | Role::Follower | Role::Observer | Role::Standalone
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::Standalone => "standalone",
            Role::NotServing => "not-serving",
            Role::Unreachable => "unreachable",
        }
    }
}

/// The parts of a `srvr` answer chaosbed uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srvr {
    pub role: Role,
    pub zxid: Option<u64>,
    pub version: Option<String>,
}

impl Srvr {
    pub fn parse(text: &str) -> Self {
        if text.contains("not currently serving requests") {
            return Self {
                role: Role::NotServing,
                zxid: None,
                version: None,
            };
        }
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name).map(|rest| rest.trim().to_string()))
        };
        let role = match field("Mode:").as_deref() {
            Some("leader") => Role::Leader,
            Some("follower") => Role::Follower,
            Some("observer") => Role::Observer,
            Some("standalone") => Role::Standalone,
            _ => Role::NotServing,
        };
        Self {
            role,
            zxid: field("Zxid:")
                .and_then(|z| u64::from_str_radix(z.trim_start_matches("0x"), 16).ok()),
            version: field("Zookeeper version:"),
        }
    }
}

/// Sends one four-letter word and returns the whole answer.
pub async fn four_letter(
    address: Ipv4Addr,
    word: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let target = SocketAddr::from((address, CLIENT_PORT));
    tokio::time::timeout(timeout, async {
        let mut stream = TcpStream::connect(target).await?;
        stream.write_all(word.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    })
    .await
    .with_context(|| format!("no answer to `{word}` from {target} within {timeout:?}"))?
    .with_context(|| format!("sending `{word}` to {target}"))
}

/// `srvr` on one node; silence or a refused connection is `Unreachable`.
pub async fn srvr(address: Ipv4Addr, timeout: Duration) -> Srvr {
    match four_letter(address, "srvr", timeout).await {
        Ok(answer) if !answer.trim().is_empty() => Srvr::parse(&answer),
        _ => Srvr {
            role: Role::Unreachable,
            zxid: None,
            version: None,
        },
    }
}

impl Srvr {
    /// The leader epoch this node is in: the high 32 bits of its last zxid.
    pub fn epoch(&self) -> Option<u64> {
        self.zxid.map(|zxid| zxid >> 32)
    }
}

/// Every node's `srvr` answer, asked concurrently.
pub async fn answers(nodes: &[(String, Ipv4Addr)], timeout: Duration) -> BTreeMap<String, Srvr> {
    let answers =
        futures_util::future::join_all(nodes.iter().map(|(_, address)| srvr(*address, timeout)))
            .await;
    nodes
        .iter()
        .zip(answers)
        .map(|((name, _), answer)| (name.clone(), answer))
        .collect()
}

/// Every node's role, asked concurrently.
pub async fn roles(nodes: &[(String, Ipv4Addr)], timeout: Duration) -> BTreeMap<String, Role> {
    answers(nodes, timeout)
        .await
        .into_iter()
        .map(|(name, answer)| (name, answer.role))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEADER: &str = "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 2\nSent: 1\nConnections: 1\nOutstanding: 0\nZxid: 0x100000003\nMode: leader\nNode count: 5\n";

    #[test]
    fn a_leader_answer_parses() {
        let s = Srvr::parse(LEADER);
        assert_eq!(s.role, Role::Leader);
        assert_eq!(s.zxid, Some(0x1_0000_0003));
        assert_eq!(s.epoch(), Some(1));
        assert!(s.version.unwrap().starts_with("3.8.0"));
    }

    #[test]
    fn a_node_without_quorum_is_not_serving() {
        let s = Srvr::parse("This ZooKeeper instance is not currently serving requests\n");
        assert_eq!(s.role, Role::NotServing);
        assert!(!s.role.is_serving());
    }

    #[test]
    fn followers_and_standalone_serve() {
        assert_eq!(Srvr::parse("Mode: follower\n").role, Role::Follower);
        assert!(Srvr::parse("Mode: standalone\n").role.is_serving());
    }
}

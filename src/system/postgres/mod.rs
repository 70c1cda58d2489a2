//! PostgreSQL, the store the OAP nodes share: the official image's POSTGRES_* contract and a
//! readiness probe that speaks the wire protocol's startup message.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use futures_util::future::BoxFuture;

use super::config_keys::{KnownKey, one_of, whole};
use super::protocol::{self, Deploy, System};
use crate::backend::ContainerSpec;
use crate::scenario::{SystemKind, SystemSpec};

/// PostgreSQL in the registry.
pub const KIND: SystemKind = SystemKind::of(&Postgres);

/// PostgreSQL: the official image's contract, ready once it accepts a session.
pub struct Postgres;

impl System for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn node_prefix(&self) -> &'static str {
        "pg"
    }

    fn default_version(&self) -> &'static str {
        "15"
    }

    fn config_keys(&self) -> &'static [KnownKey] {
        CONFIG_KEYS
    }

    fn client_port(&self) -> Option<u16> {
        Some(PORT)
    }

    fn disk_per_node(&self) -> u64 {
        // SkyWalking's tables and their write-ahead log (16 MiB segments).
        512 << 20
    }

    fn container_spec(&self, deploy: &Deploy, index: u32, _address: Ipv4Addr) -> ContainerSpec {
        container_spec(deploy.spec, deploy.image, index)
    }

    fn wait_ready<'a>(
        &'a self,
        ready: protocol::Readiness<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            wait_ready(&ready.started_nodes(), ready.timeout).await?;
            Ok(None)
        })
    }
}

pub const PORT: u16 = 5432;
/// Server options whose values chaosbed checks at validation.
pub const CONFIG_KEYS: &[KnownKey] = &[
    whole("max_connections", 1, "connections"),
    one_of("fsync", &["on", "off"], "fsync of the write-ahead log"),
    one_of(
        "synchronous_commit",
        &["on", "off", "local", "remote_write", "remote_apply"],
        "when a commit is acknowledged",
    ),
];
/// The role, password and database chaosbed gives the OAP nodes.
pub const USER: &str = "skywalking";
pub const PASSWORD: &str = "skywalking";
pub const DATABASE: &str = "skywalking";
const DATA_DIR: &str = "/var/lib/postgresql/data";
const POLL: Duration = Duration::from_millis(500);
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The container of node `index`, in the official image's terms. A scenario's `config` entries
/// become `-c key=value` server options, as with `docker run postgres -c ...`.
pub fn container_spec(spec: &SystemSpec, image: &str, index: u32) -> ContainerSpec {
    let cmd = (!spec.config.is_empty()).then(|| {
        let mut cmd = vec!["postgres".to_string()];
        for (key, value) in &spec.config {
            let value = super::config_text(value.get_ref());
            cmd.extend(["-c".to_string(), format!("{key}={value}")]);
        }
        cmd
    });
    ContainerSpec {
        node: super::node_name(KIND, index),
        image: image.to_string(),
        env: vec![
            ("POSTGRES_USER".into(), USER.into()),
            ("POSTGRES_PASSWORD".into(), PASSWORD.into()),
            ("POSTGRES_DB".into(), DATABASE.into()),
            ("PGDATA".into(), DATA_DIR.into()),
        ],
        cmd,
        memory: spec.memory.map(|m| m.0),
        data_dir: Some(DATA_DIR.into()),
        ..Default::default()
    }
}

/// The JDBC URL the OAP nodes use for `node`.
pub fn jdbc_url(node: &str) -> String {
    format!("jdbc:postgresql://{node}:{PORT}/{DATABASE}")
}

/// What the server answered a startup message with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It asked for authentication: it accepts sessions.
    Accepting,
    /// It refused the session, e.g. "the database system is starting up".
    Refused(String),
}

/// Sends a protocol 3.0 startup message and reads the first reply.
pub async fn ask(address: Ipv4Addr) -> anyhow::Result<Answer> {
    let exchange = async {
        let mut stream = TcpStream::connect((address, PORT)).await?;
        stream.write_all(&startup_message(USER, DATABASE)).await?;
        let mut kind = [0u8; 1];
        stream.read_exact(&mut kind).await?;
        let mut length = [0u8; 4];
        stream.read_exact(&mut length).await?;
        let body_len = (u32::from_be_bytes(length) as usize)
            .saturating_sub(4)
            .min(4096);
        let mut body = vec![0u8; body_len];
        stream.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(parse_reply(kind[0], &body))
    };
    tokio::time::timeout(ASK_TIMEOUT, exchange)
        .await
        .with_context(|| {
            format!("no answer from PostgreSQL at {address}:{PORT} within {ASK_TIMEOUT:?}")
        })?
        .with_context(|| format!("asking PostgreSQL at {address}:{PORT} for a session"))
}

fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec(); // protocol 3.0
    for (key, value) in [("user", user), ("database", database)] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend(body);
    message
}

fn parse_reply(kind: u8, body: &[u8]) -> Answer {
    match kind {
        b'R' => Answer::Accepting,
        b'E' => {
            // Fields are a type byte and a NUL-terminated string; 'M' is the message.
            let message = body
                .split(|b| *b == 0)
                .find(|field| field.first() == Some(&b'M'))
                .map(|field| String::from_utf8_lossy(&field[1..]).into_owned())
                .unwrap_or_else(|| "an error without a message".into());
            Answer::Refused(message)
        }
        other => Answer::Refused(format!("an unexpected reply of type {:?}", other as char)),
    }
}

/// Polls until every node accepts sessions or `timeout` passes.
pub async fn wait_ready(
    nodes: &[(String, Ipv4Addr)],
    timeout: Duration,
) -> anyhow::Result<Duration> {
    super::poll_ready("PostgreSQL", timeout, POLL, || async {
        let mut waiting = Vec::new();
        for (name, address) in nodes {
            match ask(*address).await {
                Ok(Answer::Accepting) => {}
                Ok(Answer::Refused(why)) => waiting.push(format!("{name}: {why}")),
                Err(e) => waiting.push(format!("{name}: {e:#}")),
            }
        }
        waiting
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_official_image_contract() {
        let spec: SystemSpec =
            toml::from_str("nodes = 1\n[config]\nmax_connections = 50\n").unwrap();
        let c = container_spec(&spec, "img", 1);
        assert_eq!(c.node, "pg-1");
        assert_eq!(c.env_var("POSTGRES_DB"), Some(DATABASE));
        assert_eq!(c.data_dir.as_deref(), Some(DATA_DIR));
        assert_eq!(
            c.cmd,
            Some(vec![
                "postgres".into(),
                "-c".into(),
                "max_connections=50".into()
            ])
        );
    }

    #[test]
    fn startup_message_is_length_prefixed_protocol_three() {
        let m = startup_message("u", "d");
        assert_eq!(
            u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(&m[4..8], &[0, 3, 0, 0]);
        assert!(m.ends_with(b"database\0d\0\0"));
    }

    #[test]
    fn an_error_reply_carries_its_message() {
        let body = b"SFATAL\0C57P03\0Mthe database system is starting up\0\0";
        assert_eq!(
            parse_reply(b'E', body),
            Answer::Refused("the database system is starting up".into())
        );
        assert_eq!(parse_reply(b'R', &[0, 0, 0, 10]), Answer::Accepting);
    }
}

//! `chaosbed-proxy`'s command line and process life: start the proxy, write the port it took,
//! write its statistics every half second, heal on SIGUSR1 (writing them at once), and end on
//! SIGTERM or once healed with no connection left.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::{Config, Toxic};
use crate::schedule::Delay;
use crate::server::Proxy;

/// How often the statistics file is rewritten.
const STATS_EVERY: Duration = Duration::from_millis(500);

/// chaosbed's transparent TCP proxy, run in a node's network namespace from its nemesis helper.
#[derive(Debug, Parser)]
#[command(name = "chaosbed-proxy", version)]
pub struct Args {
    /// The node's own address: connections to it came in, all others went out.
    #[arg(long)]
    pub node: Ipv4Addr,
    /// Port to listen on (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the port taken.
    #[arg(long)]
    pub port_file: Option<PathBuf>,
    /// Where to write the statistics (JSON).
    #[arg(long)]
    pub stats_file: Option<PathBuf>,
    /// Firewall mark of the proxy's own connections (hex with 0x, or decimal).
    #[arg(long, default_value = "0", value_parser = parse_mark)]
    pub mark: u32,
    #[arg(long, default_value_t = 0.0)]
    pub delay_ms: f64,
    #[arg(long, default_value_t = 0.0)]
    pub jitter_ms: f64,
    /// Bytes per second the node may send on each connection.
    #[arg(long)]
    pub rate: Option<u64>,
    /// none, reset-peer, blackhole, slow-close or limit-data.
    #[arg(long, default_value = "none")]
    pub toxic: String,
    /// reset-peer: after how long; slow-close: by how long.
    #[arg(long, default_value_t = 0.0)]
    pub toxic_ms: f64,
    /// limit-data: the bytes a connection may carry.
    #[arg(long, default_value_t = 0)]
    pub limit_bytes: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn parse_mark(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("`{text}` is not a mark: {e}"))
}

fn millis(ms: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).with_context(|| format!("{ms} ms is not a duration"))
}

impl Args {
    pub fn config(&self) -> anyhow::Result<Config> {
        let toxic = match self.toxic.as_str() {
            "none" => Toxic::None,
            "reset-peer" => Toxic::ResetPeer {
                after: millis(self.toxic_ms)?,
            },
            "blackhole" => Toxic::Blackhole,
            "slow-close" => Toxic::SlowClose {
                delay: millis(self.toxic_ms)?,
            },
            "limit-data" => Toxic::LimitData {
                bytes: self.limit_bytes,
            },
            other => anyhow::bail!(
                "unknown toxic `{other}` (none, reset-peer, blackhole, slow-close, limit-data)"
            ),
        };
        Ok(Config {
            port: self.port,
            port_file: self.port_file.clone(),
            stats_file: self.stats_file.clone(),
            node: self.node,
            mark: self.mark,
            delay: Delay {
                delay: millis(self.delay_ms)?,
                jitter: millis(self.jitter_ms)?,
            },
            rate: self.rate,
            toxic,
            seed: self.seed,
            fallback_destination: None,
        })
    }
}

/// Writes `text` to `path` through a temporary file, so a reader never sees half of it.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("renaming to {}", path.display()))
}

fn write_stats(proxy: &Proxy, path: Option<&Path>) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    let json = serde_json::to_string_pretty(&proxy.report())?;
    write_atomically(path, &json)
}

/// Runs the proxy until SIGTERM (or SIGINT), or until it healed and its last connection closed.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let stats_file = config.stats_file.clone();
    let port_file = config.port_file.clone();
    let proxy = Proxy::start(config).await?;
    let mut heal = signal(SignalKind::user_defined1()).context("handling SIGUSR1")?;
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    if let Some(path) = &port_file {
        write_atomically(path, &proxy.local_addr().port().to_string())?;
    }
    let mut tick = tokio::time::interval(STATS_EVERY);
    loop {
        tokio::select! {
            _ = heal.recv() => {
                proxy.heal();
                // Whoever healed waits for this file to say so.
                write_stats(&proxy, stats_file.as_deref())?;
            }
            _ = term.recv() => break,
            _ = interrupt.recv() => break,
            _ = tick.tick() => {
                write_stats(&proxy, stats_file.as_deref())?;
                if proxy.is_healed() && proxy.active() == 0 {
                    break;
                }
            }
        }
    }
    write_stats(&proxy, stats_file.as_deref())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// The binary's `main`: the proxy, or with `echo` / `probe` first the benchmark's two ends.
pub fn main() -> std::process::ExitCode {
    let mode = std::env::args().nth(1);
    let outcome = match mode.as_deref() {
        Some("echo") => {
            let args = crate::tools::EchoArgs::parse_from(std::env::args().skip(1));
            runtime().and_then(|rt| rt.block_on(crate::tools::echo(args)))
        }
        Some("probe") => {
            let args = crate::tools::ProbeArgs::parse_from(std::env::args().skip(1));
            runtime()
                .and_then(|rt| rt.block_on(crate::tools::probe(args)))
                .and_then(|probe| {
                    println!("{}", serde_json::to_string(&probe)?);
                    Ok(())
                })
        }
        _ => Args::parse()
            .config()
            .and_then(|config| runtime()?.block_on(run(config))),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaosbed-proxy: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_makes_the_config() {
        let args = Args::parse_from([
            "chaosbed-proxy",
            "--node",
            "172.20.0.11",
            "--mark",
            "0xcb0b",
            "--delay-ms",
            "200",
            "--toxic",
            "slow-close",
            "--toxic-ms",
            "1500",
        ]);
        let config = args.config().unwrap();
        assert_eq!(config.mark, 0xcb0b);
        assert_eq!(config.delay.delay, Duration::from_millis(200));
        assert_eq!(
            config.toxic,
            Toxic::SlowClose {
                delay: Duration::from_millis(1500)
            }
        );
        let bad = Args::parse_from(["chaosbed-proxy", "--node", "1.2.3.4", "--toxic", "latency"]);
        assert!(format!("{:#}", bad.config().unwrap_err()).contains("unknown toxic `latency`"));
    }
}

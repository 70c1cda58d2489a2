//! The two ends `cargo xtask bench faults` measures a link with, shipped in the same binary so
//! any container with the proxy has them: `chaosbed-proxy echo` answers pings and swallows bulk
//! data; `chaosbed-proxy probe` times pings and a bulk transfer and prints one JSON line.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A ping: this many bytes out, the same back.
const PING_BYTES: usize = 64;
const WRITE_CHUNK: usize = 256 * 1024;

#[derive(Debug, Parser)]
#[command(name = "chaosbed-proxy echo")]
pub struct EchoArgs {
    #[arg(long, default_value_t = 7000)]
    pub port: u16,
}

#[derive(Debug, Parser)]
#[command(name = "chaosbed-proxy probe")]
pub struct ProbeArgs {
    /// The echo server, `ip:port`.
    #[arg(long)]
    pub to: SocketAddr,
    /// Pings to time (one connection, one at a time).
    #[arg(long, default_value_t = 200)]
    pub pings: usize,
    /// Bytes of the bulk transfer (0: none).
    #[arg(long, default_value_t = 512 * 1024 * 1024)]
    pub bytes: u64,
}

/// What a probe measured.
#[derive(Debug, Serialize)]
pub struct Probe {
    pub pings: usize,
    pub rtt_ms_p50: f64,
    pub rtt_ms_p99: f64,
    pub rtt_ms_max: f64,
    pub bytes: u64,
    pub transfer_secs: f64,
    pub megabytes_per_sec: f64,
}

/// Serves pings (`P` then 64-byte messages, echoed) and bulk transfers (`T`, a length, the
/// bytes; answered with one byte once all arrived) until killed.
pub async fn echo(args: EchoArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, args.port))
        .await
        .with_context(|| format!("listening on port {}", args.port))?;
    loop {
        let (sock, _) = listener.accept().await.context("accepting")?;
        tokio::spawn(async move {
            if let Err(e) = serve(sock).await {
                eprintln!("chaosbed-proxy echo: {e:#}");
            }
        });
    }
}

async fn serve(mut sock: TcpStream) -> anyhow::Result<()> {
    sock.set_nodelay(true)?;
    let mut mode = [0u8; 1];
    sock.read_exact(&mut mode).await?;
    match mode[0] {
        b'P' => {
            let mut ping = [0u8; PING_BYTES];
            while sock.read_exact(&mut ping).await.is_ok() {
                sock.write_all(&ping).await?;
            }
            Ok(())
        }
        b'T' => {
            let length = sock.read_u64().await?;
            let mut left = length;
            let mut buf = vec![0u8; WRITE_CHUNK];
            while left > 0 {
                let n = sock.read(&mut buf).await?;
                if n == 0 {
                    bail!("the transfer ended {left} bytes short");
                }
                left = left.saturating_sub(n as u64);
            }
            sock.write_all(b"k").await?;
            Ok(())
        }
        other => bail!("unknown mode byte {other}"),
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Times `pings` round trips, then one bulk transfer of `bytes`.
pub async fn probe(args: ProbeArgs) -> anyhow::Result<Probe> {
    let mut sock = TcpStream::connect(args.to)
        .await
        .with_context(|| format!("connecting to {}", args.to))?;
    sock.set_nodelay(true)?;
    sock.write_all(b"P").await?;
    let ping = [7u8; PING_BYTES];
    let mut back = [0u8; PING_BYTES];
    let mut rtts = Vec::with_capacity(args.pings);
    for _ in 0..args.pings {
        let started = Instant::now();
        sock.write_all(&ping).await?;
        sock.read_exact(&mut back).await?;
        rtts.push(started.elapsed().as_secs_f64() * 1000.0);
        // Apart, so each ping meets an idle link.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(sock);
    rtts.sort_by(f64::total_cmp);
    let mut transfer_secs = 0.0;
    if args.bytes > 0 {
        let mut sock = TcpStream::connect(args.to).await?;
        let chunk = vec![1u8; WRITE_CHUNK];
        let started = Instant::now();
        sock.write_all(b"T").await?;
        sock.write_u64(args.bytes).await?;
        let mut left = args.bytes;
        while left > 0 {
            let n = (left as usize).min(WRITE_CHUNK);
            sock.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
        let mut ack = [0u8; 1];
        sock.read_exact(&mut ack)
            .await
            .context("waiting for the transfer's answer")?;
        transfer_secs = started.elapsed().as_secs_f64();
    }
    Ok(Probe {
        pings: rtts.len(),
        rtt_ms_p50: percentile(&rtts, 0.50),
        rtt_ms_p99: percentile(&rtts, 0.99),
        rtt_ms_max: rtts.last().copied().unwrap_or(0.0),
        bytes: args.bytes,
        transfer_secs,
        megabytes_per_sec: if transfer_secs > 0.0 {
            args.bytes as f64 / transfer_secs / 1e6
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_probe_times_pings_and_a_transfer_against_the_echo() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        tokio::spawn(echo(EchoArgs { port }));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let probe = probe(ProbeArgs {
            to: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            pings: 20,
            bytes: 8 * 1024 * 1024,
        })
        .await
        .unwrap();
        assert_eq!(probe.pings, 20);
        assert!(probe.rtt_ms_p50 > 0.0 && probe.rtt_ms_p50 <= probe.rtt_ms_p99);
        assert!(probe.megabytes_per_sec > 0.0);
    }
}

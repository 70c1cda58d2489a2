//! What one proxy does: the delay, jitter and bandwidth of what its node sends, and at most one
//! toxic on every connection it takes.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use crate::schedule::Delay;

/// A toxic, as Toxiproxy names them, on each connection the proxy takes while the fault holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Toxic {
    #[default]
    None,
    /// Reset both ends (a TCP RST: "connection reset by peer") `after` the connection was taken.
    ResetPeer { after: Duration },
    /// Take the connection and never answer: nothing is read or sent on it (and no connection is
    /// made to its destination) until the fault heals. The other side sees a timeout.
    Blackhole,
    /// When one end closes, pass the close on only `delay` later.
    SlowClose { delay: Duration },
    /// Close both ends once `bytes` have passed, in both directions together.
    LimitData { bytes: u64 },
}

impl Toxic {
    pub fn name(&self) -> &'static str {
        match self {
            Toxic::None => "none",
            Toxic::ResetPeer { .. } => "reset-peer",
            Toxic::Blackhole => "blackhole",
            Toxic::SlowClose { .. } => "slow-close",
            Toxic::LimitData { .. } => "limit-data",
        }
    }
}

/// One proxy's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The port to listen on (0: any free one); the one taken is written to `port_file`.
    pub port: u16,
    pub port_file: Option<PathBuf>,
    /// Where the statistics are written (JSON, every half second and at exit).
    pub stats_file: Option<PathBuf>,
    /// The node's own address: a connection to it came in, any other went out.
    pub node: Ipv4Addr,
    /// The firewall mark of the proxy's own connections, which the redirect rules let pass.
    pub mark: u32,
    /// Added to what the node sends.
    pub delay: Delay,
    /// Bytes per second the node may send on each connection (`None`: no limit).
    pub rate: Option<u64>,
    pub toxic: Toxic,
    pub seed: u64,
    /// Where to connect when a connection was not redirected (tests on loopback); without it
    /// such a connection is refused.
    pub fallback_destination: Option<SocketAddrV4>,
}

impl Config {
    /// A proxy that passes everything through unchanged.
    pub fn passthrough(node: Ipv4Addr) -> Self {
        Config {
            port: 0,
            port_file: None,
            stats_file: None,
            node,
            mark: 0,
            delay: Delay::default(),
            rate: None,
            toxic: Toxic::None,
            seed: 0,
            fallback_destination: None,
        }
    }
}

//! chaosbed-proxy: the transparent TCP proxy chaosbed runs in a node's network namespace (from
//! the node's nemesis helper) to put latency, jitter, a bandwidth limit or a toxic on its links
//! where the kernel has no netem. iptables `REDIRECT` sends the node's TCP connections to it;
//! it finds each one's real destination (`SO_ORIGINAL_DST`), connects there with a firewall mark
//! that keeps its own connections out of the redirect, and shapes what the node sends.
//!
//! `tools` are the two ends `cargo xtask bench faults` measures a link with.

pub mod cli;
pub mod config;
pub mod schedule;
pub mod server;
mod sockopt;
pub mod stats;
pub mod tools;

pub use cli::run;
pub use config::{Config, Toxic};
pub use server::Proxy;

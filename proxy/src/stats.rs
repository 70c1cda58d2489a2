//! Per-link statistics, the evidence of a proxied fault: connections and bytes each way, what
//! was delayed and by how much (measured: write time minus read time), what each toxic did.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// Added-delay samples kept per link for its percentiles; later chunks still count in the mean
/// and the maximum.
const MAX_SAMPLES: usize = 200_000;

/// What the proxy did on the link between its node and one peer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Connections taken (both ways).
    pub connections: u64,
    /// Of those, the ones the node opened (the rest came in).
    pub outgoing: u64,
    /// Open now.
    pub active: u64,
    /// Connections the destination refused or never answered.
    pub connect_failures: u64,
    pub bytes_from_node: u64,
    pub bytes_to_node: u64,
    /// Bytes and chunks the node sent while a delay was set.
    pub bytes_delayed: u64,
    pub chunks_delayed: u64,
    /// Write time minus read time of the delayed chunks, in milliseconds.
    pub added_ms_mean: f64,
    pub added_ms_p50: f64,
    pub added_ms_p99: f64,
    pub added_ms_max: f64,
    /// Connections reset (reset-peer), held unanswered (blackhole), closed late (slow-close),
    /// closed at the data limit (limit-data).
    pub resets: u64,
    pub held: u64,
    pub slow_closes: u64,
    pub limited: u64,
}

/// Everything the proxy writes to its statistics file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub pid: u32,
    pub port: u16,
    pub toxic: String,
    pub delay_ms: f64,
    pub jitter_ms: f64,
    pub rate_bytes_per_sec: Option<u64>,
    /// Set once the fault healed: everything passes untouched from then on.
    pub healed: bool,
    /// By peer address.
    pub links: BTreeMap<String, LinkStats>,
}

#[derive(Default)]
struct LinkAcc {
    stats: LinkStats,
    sum_added_ms: f64,
    samples: Vec<f32>,
}

/// The links' statistics as they accumulate.
#[derive(Default)]
pub struct Links(Mutex<BTreeMap<Ipv4Addr, LinkAcc>>);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Links {
    /// Changes the statistics of the link to `peer`.
    pub fn update(&self, peer: Ipv4Addr, change: impl FnOnce(&mut LinkStats)) {
        change(&mut lock(&self.0).entry(peer).or_default().stats);
    }

    /// Counts a delayed chunk of `bytes` that waited `added_ms` in the proxy.
    pub fn delayed(&self, peer: Ipv4Addr, bytes: usize, added_ms: f64) {
        let mut links = lock(&self.0);
        let link = links.entry(peer).or_default();
        link.stats.bytes_delayed += bytes as u64;
        link.stats.chunks_delayed += 1;
        link.stats.added_ms_max = link.stats.added_ms_max.max(added_ms);
        link.sum_added_ms += added_ms;
        if link.samples.len() < MAX_SAMPLES {
            link.samples.push(added_ms as f32);
        }
    }

    pub fn active(&self) -> u64 {
        lock(&self.0).values().map(|l| l.stats.active).sum()
    }

    /// Every link's statistics now, percentiles computed.
    pub fn snapshot(&self) -> BTreeMap<String, LinkStats> {
        lock(&self.0)
            .iter()
            .map(|(peer, link)| {
                let mut stats = link.stats.clone();
                if stats.chunks_delayed > 0 {
                    stats.added_ms_mean = link.sum_added_ms / stats.chunks_delayed as f64;
                    let mut sorted = link.samples.clone();
                    sorted.sort_by(f32::total_cmp);
                    stats.added_ms_p50 = percentile(&sorted, 0.50);
                    stats.added_ms_p99 = percentile(&sorted, 0.99);
                }
                (peer.to_string(), stats)
            })
            .collect()
    }
}

/// The `q` quantile of sorted samples (nearest rank).
fn percentile(sorted: &[f32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_delayed_chunks_of_each_link() {
        let links = Links::default();
        let a = Ipv4Addr::new(10, 0, 0, 2);
        for ms in 1..=100 {
            links.delayed(a, 10, f64::from(ms));
        }
        links.update(a, |s| s.connections += 1);
        let snapshot = links.snapshot();
        let stats = &snapshot["10.0.0.2"];
        assert_eq!(stats.chunks_delayed, 100);
        assert_eq!(stats.bytes_delayed, 1000);
        assert_eq!(stats.added_ms_p50, 50.0);
        assert_eq!(stats.added_ms_p99, 99.0);
        assert_eq!(stats.added_ms_max, 100.0);
        assert!((stats.added_ms_mean - 50.5).abs() < 1e-9);
        assert_eq!(stats.connections, 1);
    }
}

//! Due times for the chunks of one direction of a connection: a delay plus a uniform jitter,
//! never earlier than the chunk read ahead, so jitter cannot reorder bytes.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// A delay and the jitter around it (uniform in `[-jitter, +jitter]`, clamped at zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delay {
    pub delay: Duration,
    pub jitter: Duration,
}

impl Delay {
    pub fn is_zero(&self) -> bool {
        self.delay.is_zero() && self.jitter.is_zero()
    }
}

/// The due times of one direction's chunks, seeded so a run's jitter can be reproduced.
pub struct Schedule {
    rng: ChaCha8Rng,
    prev_due: Option<Instant>,
}

impl Schedule {
    pub fn new(seed: u64) -> Self {
        Schedule {
            rng: ChaCha8Rng::seed_from_u64(seed),
            prev_due: None,
        }
    }

    /// When a chunk read at `read_at` may be written under `delay`.
    pub fn due(&mut self, read_at: Instant, delay: Delay) -> Instant {
        let added = if delay.jitter.is_zero() {
            delay.delay
        } else {
            let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            let jitter = nanos(delay.jitter);
            let offset = self.rng.random_range(0..=jitter.saturating_mul(2));
            // delay + (offset − jitter), clamped at zero.
            Duration::from_nanos(
                nanos(delay.delay)
                    .saturating_add(offset)
                    .saturating_sub(jitter),
            )
        };
        let due = read_at + added;
        let due = self.prev_due.map_or(due, |prev| due.max(prev));
        self.prev_due = Some(due);
        due
    }
}

/// A stable hash (unlike `std`'s), so jitter is reproducible for a link and connection number.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_keeps_order_and_bounds() {
        let mut schedule = Schedule::new(1);
        let delay = Delay {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(40),
        };
        let start = Instant::now();
        let mut prev = start;
        let mut distinct = std::collections::HashSet::new();
        for i in 0..1000u64 {
            let read_at = start + Duration::from_micros(100 * i);
            let due = schedule.due(read_at, delay);
            assert!(due >= prev, "chunk {i} due before the one ahead of it");
            assert!(due >= read_at + Duration::from_millis(10));
            distinct.insert(due - read_at);
            prev = due;
        }
        assert!(distinct.len() > 100, "jitter not applied");

        // Jitter larger than the delay is clamped at zero, never before the read.
        let mut schedule = Schedule::new(2);
        let delay = Delay {
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(40),
        };
        let read_at = Instant::now();
        assert!((0..100).all(|_| schedule.due(read_at, delay) >= read_at));
    }
}

//! When a workload stops: its scenario's `duration` after the start, or earlier, once the faults
//! are over and the scenario's `after_faults` has passed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::scenario::WorkloadSpec;

/// The moment a workload's clients stop starting operations. Shared: the runner may bring it
/// forward while the clients run, and every clone sees the change at its next check.
#[derive(Debug, Clone)]
pub struct Deadline(Arc<Mutex<Instant>>);

impl Deadline {
    /// `duration` from now.
    pub fn after(duration: Duration) -> Self {
        Self(Arc::new(Mutex::new(Instant::now() + duration)))
    }

    /// The workload's own `duration` from now.
    pub fn for_workload(spec: &WorkloadSpec) -> Self {
        Self::after(spec.duration.get_ref().as_duration())
    }

    pub fn at(&self) -> Instant {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at()
    }

    /// Brings the end forward to `at`; a later `at` changes nothing.
    pub fn shorten_to(&self, at: Instant) {
        let mut end = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *end = (*end).min(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn shortening_moves_the_end_only_earlier() {
        let deadline = Deadline::after(Duration::from_secs(60));
        let seen_by_a_client = deadline.clone();
        deadline.shorten_to(Instant::now() + Duration::from_secs(90));
        assert_eq!(
            seen_by_a_client.at(),
            Instant::now() + Duration::from_secs(60)
        );
        deadline.shorten_to(Instant::now() + Duration::from_secs(5));
        assert!(!seen_by_a_client.passed());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(seen_by_a_client.passed());
    }
}

//! The life of a bench's stack: its images built (or found) before the clock starts, and the
//! measurement run so that the stack is removed whichever way it ends (done, error, panic,
//! Ctrl-C).

use std::panic::AssertUnwindSafe;

use anyhow::Context as _;
use futures_util::FutureExt as _;
use indicatif::MultiProgress;

use chaosbed::backend::Backend as _;
use chaosbed::backend::docker::DockerBackend;
use chaosbed::scenario::SystemKind;

use super::stats::panic_message;

/// Builds (or finds) the default image of each of `systems`, so the ready time measured later
/// is the stack's, not the image pipeline's content hashing.
pub async fn ensure_images(
    docker: &bollard::Docker,
    systems: &[SystemKind],
    progress: &MultiProgress,
) -> anyhow::Result<()> {
    for &system in systems {
        let version = system.default_version();
        chaosbed::image::ensure(docker, system.name(), version, progress)
            .await
            .with_context(|| format!("building the {system} {version} image"))?;
    }
    Ok(())
}

/// Runs `measure` on `backend`, then removes everything labelled with the backend's run,
/// whatever way the measurement ended; returns the measurement's outcome.
pub async fn measure_then_remove<F, T>(backend: &mut DockerBackend, measure: F) -> anyhow::Result<T>
where
    F: AsyncFnOnce(&mut DockerBackend) -> anyhow::Result<T>,
{
    let outcome = {
        let body = AssertUnwindSafe(measure(&mut *backend)).catch_unwind();
        tokio::select! {
            outcome = body => match outcome {
                Ok(result) => result,
                Err(panic) => Err(anyhow::anyhow!("the bench panicked: {}", panic_message(&*panic))),
            },
            _ = chaosbed::signal::stop_requested() => Err(anyhow::anyhow!(chaosbed::runner::INTERRUPTED)),
        }
    };
    match backend.cleanup().await {
        Ok(removed) => println!("removed the bench stack: {removed}"),
        Err(e) => eprintln!("cleanup of the bench run failed: {e:#}; run `cargo xtask clean`"),
    }
    outcome
}

//! What asks a run to stop from outside: Ctrl-C (SIGINT) or SIGTERM, which `kill`, `timeout`
//! and CI runners send. Whoever waits on it still removes what the run made.

/// Resolves when the process is asked to stop. Never resolves if no handler can be installed.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    ctrl_c().await;
}

async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

//! The monitor: every container's memory and CPU once a second for the whole run, and each
//! system's own probe (`System::monitor`: ZooKeeper roles, Pulsar ownership, bookies) while the
//! workload runs.

use std::time::Duration;

use serde_json::json;

use crate::history::{F, OpKind, Recorder};
use crate::system::probe_ticker as ticker;

const RESOURCES_EVERY: Duration = Duration::from_secs(1);

/// Samples what each running container of `run` uses until the task is aborted (the runner
/// starts it before the first container and aborts it before the run's files are written).
pub async fn sample_resources(
    docker: bollard::Docker,
    run: crate::backend::RunId,
    recorder: Recorder,
) {
    let host = crate::backend::docker::stats::host_memory(&docker).await;
    let mut tick = ticker(RESOURCES_EVERY);
    loop {
        tick.tick().await;
        match crate::backend::docker::stats::usage(&docker, &run, host).await {
            Ok(nodes) if !nodes.is_empty() => {
                recorder.record(
                    "resources",
                    F::Resources,
                    OpKind::Ok,
                    json!({ "nodes": nodes }),
                    None,
                );
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("sampling resources: {e:#}"),
        }
    }
}

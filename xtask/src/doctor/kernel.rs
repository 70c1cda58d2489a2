//! The doctor's kernel lines: where the config was read, each feature faults rely on (a
//! missing one warns and says what happens without it), and the cgroup hierarchy.

use std::path::Path;

use chaosbed::host::kernel::{self, Cgroups, FEATURES, Presence};

use super::report::{Line, Status};

/// The kernel line, a line per feature, and the cgroups line. `engine_kernel` is the kernel
/// the engine reports, when one answered.
pub fn lines(engine_kernel: Option<&str>) -> Vec<Line> {
    let release = kernel::release();
    let cgroups = kernel::cgroups(Path::new("/sys/fs/cgroup"));
    let mut out = Vec::new();
    let source = kernel::read();
    match (&source, engine_kernel) {
        (Ok(source), Some(engine)) if engine != release => out.push(Line::warning(
            Status::Warn,
            "kernel",
            format!(
                "{release}, config from {}; but the engine runs on kernel {engine} (in a VM?), \
                 whose features the lines below do not describe",
                source.path.display()
            ),
            "the engine runs on another kernel than this host's",
        )),
        (Ok(source), _) => out.push(Line::ok(
            "kernel",
            format!("{release}, config from {}", source.path.display()),
        )),
        (Err(e), _) => out.push(Line::warning(
            Status::Unknown,
            "kernel",
            format!("{release}: cannot read its config: {e:#}"),
            "kernel config unknown",
        )),
    }
    for feature in FEATURES {
        let Ok(source) = &source else {
            out.push(Line::quiet(
                Status::Unknown,
                feature.name,
                format!("{}: no kernel config to read", feature.purpose),
            ));
            continue;
        };
        out.push(match feature.check(&source.config, &cgroups) {
            Presence::Present(through) => Line::ok(
                feature.name,
                format!("{}: {}", feature.purpose, through.join(", ")),
            ),
            Presence::Missing(unmet) => Line::warning(
                Status::Missing,
                feature.name,
                format!(
                    "{}: {} not set — {}",
                    feature.purpose,
                    unmet.join(", "),
                    feature.without
                ),
                feature.short,
            ),
        });
    }
    out.push(Line::ok(
        "cgroups",
        match cgroups {
            Cgroups::V2 => "v2 (unified hierarchy at /sys/fs/cgroup)".to_owned(),
            Cgroups::V1 { unified: Some(dir) } => format!(
                "v1, with a v2 hierarchy also mounted at {} (hybrid); Docker uses v1",
                dir.display()
            ),
            Cgroups::V1 { unified: None } => "v1".to_owned(),
        },
    ));
    out
}

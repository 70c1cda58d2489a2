//! `cargo xtask compose`: writes compose/<scenario>.yml for every scenario; `--check` fails when
//! any is stale.

use std::process::ExitCode;

use anyhow::Context;

pub fn run(check: bool) -> anyhow::Result<ExitCode> {
    let dir = crate::root().join("compose");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut stale = Vec::new();
    for file in crate::chaos::all_scenarios()? {
        let scenario = chaosbed::scenario::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
        let yaml = chaosbed::compose::compose_file(&scenario);
        let out = dir.join(format!("{}.yml", scenario.name));
        let current = std::fs::read_to_string(&out).unwrap_or_default();
        if current == yaml {
            continue;
        }
        if check {
            stale.push(out.display().to_string());
        } else {
            std::fs::write(&out, yaml).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
        }
    }
    if stale.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "stale compose files (run `cargo xtask compose`): {}",
            stale.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

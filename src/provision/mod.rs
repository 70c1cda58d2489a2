//! Makes a fresh machine able to run chaosbed: when no Docker engine answers, or a tool an image
//! build needs is missing, installs it with apt and starts dockerd — as root on Debian or Ubuntu,
//! saying so on the console first — and everywhere else stops with the exact commands to run.
//!
//! `chaosbed run`, `cargo xtask chaos | images | provision`, the Docker tests and `.ci/run` all
//! come through here. `CHAOSBED_NO_PROVISION=1` forbids touching the machine.

mod plan;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use bollard::Docker;

pub use plan::{DOCKERD, MAVEN, MMDEBSTRAP, Machine, Tool, manual_commands, missing};

/// Set to 1 to forbid chaosbed from installing packages or starting dockerd.
pub const NO_PROVISION_VAR: &str = "CHAOSBED_NO_PROVISION";
/// Where a dockerd that chaosbed started writes its log.
pub const DOCKERD_LOG: &str = "/tmp/chaosbed-dockerd.log";
/// How long a freshly started dockerd may take to answer.
const DOCKERD_START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long an apt-get call may take (an update plus docker.io and maven is ~1–3 minutes).
const APT_TIMEOUT: Duration = Duration::from_secs(900);

/// One provisioning at a time in this process: concurrent callers wait for the first.
static PROVISION_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This machine, read from /etc/os-release, the PATH and the effective uid.
pub fn machine() -> Machine {
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    Machine {
        root: crate::host::tools::is_root(),
        apt: plan::is_debian_like(&os_release) && on_path("apt-get").is_some(),
        name: plan::pretty_name(&os_release),
    }
}

/// The full path of `binary` on the PATH or in the sbin directories, if any.
pub fn on_path(binary: &str) -> Option<PathBuf> {
    crate::host::tools::find(binary)
}

fn provisioning_forbidden() -> bool {
    std::env::var(NO_PROVISION_VAR).is_ok_and(|v| v == "1")
}

/// The Docker engine: the one that answers, or — when none does and DOCKER_HOST is not set — a
/// local dockerd that this call installs (if needed) and starts. Errors carry the commands that
/// would have made it work.
pub async fn engine() -> anyhow::Result<Docker> {
    if let Ok(docker) = crate::backend::docker::connect().await {
        return Ok(docker);
    }
    let _one_at_a_time = PROVISION_LOCK.lock().await;
    // Another caller may have started it while this one waited.
    let first_error = match crate::backend::docker::connect().await {
        Ok(docker) => return Ok(docker),
        Err(e) => e,
    };
    if std::env::var_os("DOCKER_HOST").is_some() {
        return Err(first_error.context(
            "DOCKER_HOST names an engine that does not answer; chaosbed starts a local dockerd \
             only when DOCKER_HOST is unset",
        ));
    }
    if format!("{first_error:#}").contains("Permission denied") {
        bail!(
            "a Docker engine runs, but this user may not use its socket ({first_error:#}); add the \
             user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run \
             as root"
        );
    }
    let machine = machine();
    let tools = missing(&[&DOCKERD], |b| on_path(b).is_some());
    if !machine.can_install() || provisioning_forbidden() {
        bail!(
            "no Docker engine answers ({first_error:#}), and chaosbed {}. Run:\n{}\nthen try again \
             (or set CHAOSBED_SKIP_DOCKER=1 to skip the Docker tests)",
            why_not(&machine),
            manual_commands(&machine, &tools, true)
        );
    }
    let started = Instant::now();
    if tools.is_empty() {
        say("no Docker engine answers: starting dockerd");
    } else {
        say(&format!(
            "no Docker engine answers: installing {} with apt-get, then starting dockerd",
            packages(&tools)
        ));
        apt_install(&tools).await?;
    }
    start_dockerd()?;
    let docker = wait_for_engine().await?;
    let version = docker.version().await.ok();
    say(&format!(
        "dockerd is up after {:.0} s: Docker {} (API {}); its log is {DOCKERD_LOG}",
        started.elapsed().as_secs_f64(),
        version
            .as_ref()
            .and_then(|v| v.version.clone())
            .unwrap_or_else(|| "?".into()),
        version
            .as_ref()
            .and_then(|v| v.api_version.clone())
            .unwrap_or_else(|| "?".into()),
    ));
    Ok(docker)
}

/// Makes sure `tool` is on the PATH before an image build runs it: installs its package as root
/// on Debian or Ubuntu (saying so first), else fails with the command to run.
pub async fn tool(tool: &Tool) -> anyhow::Result<()> {
    if on_path(tool.command).is_some() {
        return Ok(());
    }
    let _one_at_a_time = PROVISION_LOCK.lock().await;
    if on_path(tool.command).is_some() {
        return Ok(());
    }
    let machine = machine();
    if !machine.can_install() || provisioning_forbidden() {
        bail!(
            "`{}` is not installed; it is needed for {}, and chaosbed {}. Run:\n{}",
            tool.command,
            tool.purpose,
            why_not(&machine),
            manual_commands(&machine, &[tool], false)
        );
    }
    say(&format!(
        "`{}` is missing ({}): installing {} with apt-get",
        tool.command, tool.purpose, tool.package
    ));
    apt_install(&[tool]).await?;
    on_path(tool.command).map(|_| ()).ok_or_else(|| {
        anyhow!(
            "apt-get installed {} but `{}` is still not on the PATH",
            tool.package,
            tool.command
        )
    })
}

/// Everything a run and an image build need, made present now (`cargo xtask provision`, which
/// `.ci/run` calls): the engine, then mmdebstrap and Maven, and Chromium for the test that
/// loads a report.
pub async fn everything() -> anyhow::Result<Docker> {
    let docker = engine().await?;
    for needed in [&MMDEBSTRAP, &MAVEN, &crate::host::tools::CHROMIUM] {
        tool(needed).await?;
    }
    Ok(docker)
}

fn why_not(machine: &Machine) -> String {
    if provisioning_forbidden() {
        format!("does not install anything because {NO_PROVISION_VAR}=1")
    } else if !machine.apt {
        format!(
            "installs packages itself only on Debian or Ubuntu with apt-get (this is {})",
            machine.name
        )
    } else {
        "installs packages itself only when run as root".to_owned()
    }
}

fn packages(tools: &[&Tool]) -> String {
    tools
        .iter()
        .map(|t| t.package)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line on stderr, before chaosbed changes anything on the machine and after.
fn say(line: &str) {
    eprintln!("chaosbed: {line}");
}

/// `apt-get update` then `apt-get install` of the tools' packages, quietly; apt's own output is
/// shown when it fails.
async fn apt_install(tools: &[&Tool]) -> anyhow::Result<()> {
    apt(&["update", "-q"]).await?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(tools.iter().map(|t| t.package));
    args.push("ca-certificates");
    apt(&args).await
}

async fn apt(args: &[&str]) -> anyhow::Result<()> {
    let command = format!("apt-get {}", args.join(" "));
    let child = tokio::process::Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting `{command}`"))?;
    let output = tokio::time::timeout(APT_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("`{command}` did not finish within {APT_TIMEOUT:?}"))?
        .with_context(|| format!("waiting for `{command}`"))?;
    if !output.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        bail!(
            "`{command}` failed ({}); its last lines:\n{}",
            output.status,
            last_lines(&text, 20)
        );
    }
    Ok(())
}

/// Starts dockerd detached (its own process group, so Ctrl-C on chaosbed leaves it running),
/// logging to DOCKERD_LOG.
fn start_dockerd() -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let dockerd = on_path("dockerd").context("dockerd is not on the PATH after installing it")?;
    let log = std::fs::File::create(DOCKERD_LOG)
        .with_context(|| format!("creating dockerd's log {DOCKERD_LOG}"))?;
    std::process::Command::new(&dockerd)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", dockerd.display()))?;
    Ok(())
}

async fn wait_for_engine() -> anyhow::Result<Docker> {
    let deadline = Instant::now() + DOCKERD_START_TIMEOUT;
    loop {
        match crate::backend::docker::connect().await {
            Ok(docker) => return Ok(docker),
            Err(e) if Instant::now() >= deadline => {
                let log = std::fs::read_to_string(DOCKERD_LOG).unwrap_or_default();
                bail!(
                    "dockerd did not answer within {DOCKERD_START_TIMEOUT:?} ({e:#}); the last \
                     lines of {DOCKERD_LOG}:\n{}",
                    last_lines(&log, 30)
                );
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The last `count` lines of `text`, in order.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

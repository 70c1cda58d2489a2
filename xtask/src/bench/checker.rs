//! `cargo xtask bench checker`: chaosbed's linearizable checker against Porcupine (the Go
//! library, v1.3.1, `xtask/porcupine/`) on the same compare-and-set register histories.
//!
//! It builds the Go program with this machine's Go toolchain (`go build`, GOFLAGS=-mod=mod, so
//! the module comes from the Go module proxy into Go's module cache), generates histories with
//! `chaosbed::checker::linearizable::generate` (sizes × 5 and 50 processes × with and without
//! operations of unknown outcome × valid and with one injected violation — a stale read: a
//! read returning a value an acknowledged write overwrote before the read was invoked, which
//! both checkers can only refute by search; plus any `--history` files), and runs each checker as a child process on each file with the same time limit:
//! chaosbed's through `cargo xtask check-history` (this binary), Porcupine's through its
//! program. Both print the seconds their check took (reading the file excluded); their peak
//! memory is the child's maximum resident set size from `wait4`, measured the same way for
//! both. A child past its time limit plus a grace for reading the file, or past
//! `--child-memory-cap`, is killed and "did not finish". Any disagreement where both decided,
//! or a verdict other than the generator's, makes the bench fail.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use chaosbed::checker::linearizable::generate::{self, Spec};

#[derive(clap::Args, Clone)]
#[group(id = "checker-bench")]
pub struct Args {
    /// Time limit of each check, for both checkers.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// History sizes (operations) to generate.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    history_sizes: Vec<usize>,
    /// Process counts to generate histories with.
    #[arg(long, value_delimiter = ',', default_value = "5,50")]
    history_processes: Vec<usize>,
    /// Keys (registers) in each generated history.
    #[arg(long, default_value_t = 10)]
    history_keys: usize,
    /// Also check these history.jsonl files (e.g. from zk-cas runs).
    #[arg(long = "history")]
    histories: Vec<PathBuf>,
    /// Kill a checker whose resident memory passes this many MiB.
    #[arg(long, default_value_t = 8192)]
    child_memory_cap: u64,
}

/// What one child run produced.
struct Run {
    /// valid / invalid / unknown, or why it did not finish.
    verdict: String,
    /// The check's own seconds (without reading the file), when it finished.
    seconds: Option<f64>,
    wall: f64,
    peak_mb: f64,
}

impl Run {
    fn decided(&self) -> bool {
        matches!(self.verdict.as_str(), "valid" | "invalid")
    }
}

struct Case {
    name: String,
    path: PathBuf,
    ops: Option<usize>,
    processes: Option<usize>,
    info: Option<bool>,
    violation: Option<bool>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = crate::root();
    let dir = root.join("target/bench-checker");
    std::fs::create_dir_all(&dir)?;
    let porcupine = build_porcupine(&root, &dir)?;
    let us = std::env::current_exe().context("finding this program")?;
    println!(
        "time limit {} per check; {} keys per generated history; child memory cap {} MiB; \
         on {} cores",
        humantime::format_duration(args.timeout),
        args.history_keys,
        args.child_memory_cap,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut cases = Vec::new();
    for &ops in &args.history_sizes {
        for &processes in &args.history_processes {
            for info in [false, true] {
                for violation in [false, true] {
                    let name = format!(
                        "gen-{ops}-p{processes}-{}-{}",
                        if info { "info" } else { "noinfo" },
                        if violation { "violation" } else { "valid" }
                    );
                    cases.push(Case {
                        path: dir.join(format!("{name}.jsonl")),
                        name,
                        ops: Some(ops),
                        processes: Some(processes),
                        info: Some(info),
                        violation: Some(violation),
                    });
                }
            }
        }
    }
    for path in &args.histories {
        cases.push(Case {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            path: path.clone(),
            ops: None,
            processes: None,
            info: None,
            violation: None,
        });
    }

    let header = format!(
        "{:<34} {:>8} {:>5} {:>5} {:>9} {:>11} {:>9} {:>12} {:>9} {:>9} {:>17} {:>6}",
        "history",
        "ops",
        "procs",
        "info",
        "violation",
        "chaosbed s",
        "chaos MB",
        "porcupine s",
        "porc MB",
        "ratio",
        "verdicts",
        "agree"
    );
    let mut rows = vec![header.clone()];
    println!("{header}");
    let mut failed = false;
    for case in &cases {
        if let (Some(ops), Some(processes), Some(info), Some(violation)) =
            (case.ops, case.processes, case.info, case.violation)
        {
            let spec = Spec {
                ops,
                processes,
                keys: args.history_keys,
                info: if info { 0.05 } else { 0.0 },
                violation,
                stale: true,
                seed: 42,
                values: None,
            };
            let file = std::fs::File::create(&case.path)
                .with_context(|| format!("creating {}", case.path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            generate::write_jsonl(&spec, &mut out)?;
            std::io::Write::flush(&mut out)?;
        }
        let secs = args.timeout.as_secs_f64().to_string() + "s";
        let mut ours_cmd = Command::new(&us);
        ours_cmd
            .args(["check-history", "--time-limit", &secs])
            .arg(&case.path);
        let ours = measure(ours_cmd, args.timeout, args.child_memory_cap)?;
        let mut theirs_cmd = Command::new(&porcupine);
        theirs_cmd.arg(format!("-timeout={secs}")).arg(&case.path);
        let theirs = measure(theirs_cmd, args.timeout, args.child_memory_cap)?;

        let agree = if ours.decided() && theirs.decided() {
            if ours.verdict == theirs.verdict {
                "yes"
            } else {
                failed = true;
                "NO"
            }
        } else {
            "-"
        };
        if let Some(violation) = case.violation {
            let expected = if violation { "invalid" } else { "valid" };
            if ours.verdict != expected {
                failed = true;
            }
        }
        let ratio = match (ours.seconds, theirs.seconds, theirs.decided()) {
            (Some(a), Some(b), true) => format!("{:.1}x", b / a.max(1e-6)),
            // Porcupine ran out of time (its own limit, or killed past it): at least that.
            (Some(a), _, false) if theirs.verdict != "memory" => {
                format!(">{:.0}x", args.timeout.as_secs_f64() / a.max(1e-6))
            }
            // Killed for memory: it had run this long.
            (Some(a), _, false) => format!(">{:.0}x", theirs.wall / a.max(1e-6)),
            _ => "-".into(),
        };
        let flag = |b: Option<bool>| b.map_or("?", |b| if b { "yes" } else { "no" });
        let row = format!(
            "{:<34} {:>8} {:>5} {:>5} {:>9} {:>11} {:>9.0} {:>12} {:>9.0} {:>9} {:>17} {:>6}",
            case.name,
            case.ops.map_or("?".into(), |n| n.to_string()),
            case.processes.map_or("?".into(), |n| n.to_string()),
            flag(case.info),
            flag(case.violation),
            seconds(&ours),
            ours.peak_mb,
            seconds(&theirs),
            theirs.peak_mb,
            ratio,
            format!("{}/{}", short(&ours.verdict), short(&theirs.verdict)),
            agree
        );
        println!("{row}");
        eprintln!(
            "  {}: wall {:.2}s chaosbed, {:.2}s porcupine (reading the file included)",
            case.name, ours.wall, theirs.wall
        );
        rows.push(row);
        if case.ops.is_some_and(|n| n >= 1_000_000) {
            // A million operations is a few hundred MB of JSON: do not leave them around.
            let _ = std::fs::remove_file(&case.path);
        }
    }
    let table = rows.join("\n") + "\n";
    std::fs::write(dir.join("results.txt"), &table)?;
    println!("table written to {}", dir.join("results.txt").display());
    if failed {
        println!("FAILED: a verdict differs from Porcupine's or from the generator's");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn seconds(run: &Run) -> String {
    match (run.decided() || run.verdict == "unknown", run.seconds) {
        (true, Some(s)) if run.verdict == "unknown" => format!("{s:.3} (unk)"),
        (true, Some(s)) => format!("{s:.3}"),
        _ => "did not finish".into(),
    }
}

fn short(verdict: &str) -> &str {
    match verdict {
        "valid" => "ok",
        "invalid" => "BAD",
        "unknown" => "unk",
        "timeout" => "dnf",
        "memory" => "oom",
        other => other,
    }
}

/// Builds the Porcupine program into `dir`.
fn build_porcupine(root: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let source = root.join("xtask/porcupine");
    let out = dir.join("porcupine-check");
    println!(
        "building the Porcupine baseline: go build in {} (GOFLAGS=-mod=mod: \
         github.com/anishathalye/porcupine v1.3.1 from the Go module proxy)",
        source.display()
    );
    let go = which::which("go").context(
        "the Porcupine baseline needs Go (`go` on PATH); install it, e.g. `apt-get install golang`",
    )?;
    let status = Command::new(go)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&source)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .context("running go build")?;
    if !status.success() {
        bail!("go build of {} failed ({status})", source.display());
    }
    Ok(out)
}

/// Runs a checker, killing it past its time limit (plus a grace for reading the file) or past
/// the memory cap; its peak resident memory comes from `wait4`.
fn measure(mut command: Command, timeout: Duration, cap_mib: u64) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let pid = child.id() as libc::pid_t;
    let grace = Duration::from_secs(60) + timeout / 2;
    // Read the pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().context("child stdout")?;
    let mut stderr = child.stderr.take().context("child stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut killed: Option<&str> = None;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; zeroed is a valid value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child, writing into the locals above.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if r < 0 {
            bail!("wait4: {}", std::io::Error::last_os_error());
        }
        if killed.is_none() {
            if started.elapsed() > timeout + grace {
                killed = Some("timeout");
            } else if rss_mib(pid).is_some_and(|m| m > cap_mib) {
                killed = Some("memory");
            }
            if killed.is_some() {
                // SAFETY: signals our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = started.elapsed().as_secs_f64();
    let peak_mb = usage.ru_maxrss as f64 / 1024.0;
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if let Some(why) = killed {
        return Ok(Run {
            verdict: why.into(),
            seconds: None,
            wall,
            peak_mb,
        });
    }
    let line: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .with_context(|| {
            format!("{command:?} printed no result line (stdout {stdout:?}, stderr {stderr:?})")
        })?;
    let verdict = match line["verdict"].as_str().unwrap_or("?") {
        "ok" | "valid" => "valid",
        "illegal" | "invalid" => "invalid",
        "unknown" => "unknown",
        other => bail!("{command:?}: unknown verdict {other}"),
    };
    Ok(Run {
        verdict: verdict.into(),
        seconds: line["seconds"].as_f64(),
        wall,
        peak_mb,
    })
}

/// The child's resident set size now, from /proc.
fn rss_mib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

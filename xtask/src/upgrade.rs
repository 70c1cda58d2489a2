//! `cargo xtask upgrade --system S --from A --to B`: runs the standard workload of S, rolls it
//! from A to B (and back with `--rollback`, with a leader kill in the roll with `--with-faults`)
//! through the normal runner, and prints the verdict per phase and the rejoin time per node.
//! ZooKeeper rolls under zk-register; Pulsar rolls its brokers, then its bookies (each to the
//! BookKeeper version of the Pulsar release), under pulsar-produce-consume; SkyWalking rolls its
//! OAP nodes behind NGINX under skywalking-traces, the new version's schema job first, on
//! PostgreSQL or (`--storage opensearch`) OpenSearch.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::MultiProgress;

use chaosbed::checker::upgrade::{Phase, phases};
use chaosbed::history::History;
use chaosbed::runner::{self, RunOptions};
use chaosbed::scenario::{self, Scenario};

#[derive(clap::Args)]
pub struct Args {
    /// The system to roll: zookeeper, pulsar (brokers, then the bookies to the matching
    /// BookKeeper version), or skywalking (the OAP nodes).
    #[arg(long)]
    system: String,
    /// skywalking: the OAP's storage, postgres or opensearch.
    #[arg(long, default_value = "postgres")]
    storage: String,
    /// The version the cluster starts on, e.g. 3.8 or 3.8.4 (pulsar: 3.0 or 3.0.2): chaosbed's
    /// own, or any release on Maven Central.
    #[arg(long, required_unless_present_any = ["from_image", "scenario"])]
    from: Option<String>,
    /// The version it rolls to, e.g. 3.9 or 3.9.3 (pulsar: 4.0).
    #[arg(long, required_unless_present_any = ["to_image", "scenario"])]
    to: Option<String>,
    /// Start on this image instead of --from: a chaosbed-contract/ image (built here the way
    /// the official one is) or one the engine has, e.g. apachepulsar/pulsar:3.3.2.
    #[arg(long, conflicts_with = "from")]
    from_image: Option<String>,
    /// Roll to this image instead of --to.
    #[arg(long, conflicts_with = "to")]
    to_image: Option<String>,
    /// Roll back to --from after the upgrade.
    #[arg(long)]
    rollback: bool,
    /// Kill the leader in the middle of the roll (zookeeper; pulsar: the topic's owner).
    #[arg(long)]
    with_faults: bool,
    /// Run this scenario file instead of the built-in one (its upgrade steps decide the roll).
    #[arg(long, value_name = "FILE")]
    scenario: Option<std::path::PathBuf>,
    /// Keep a failed run's containers for debugging.
    #[arg(long)]
    keep: bool,
    /// Upper bound on the run.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// One side of the roll: a version chaosbed builds, or an image.
enum Side {
    Version(String),
    Image(String),
}

impl Side {
    fn of(version: &Option<String>, image: &Option<String>, flag: &str) -> anyhow::Result<Side> {
        match (version, image) {
            (Some(version), None) => Ok(Side::Version(version.clone())),
            (None, Some(image)) => Ok(Side::Image(image.clone())),
            _ => anyhow::bail!("give --{flag} or --{flag}-image"),
        }
    }

    /// The scenario line that names it.
    fn key(&self) -> String {
        match self {
            Side::Version(version) => format!("version = \"{version}\""),
            Side::Image(image) => format!("image = \"{image}\""),
        }
    }

    fn label(&self) -> &str {
        match self {
            Side::Version(v) | Side::Image(v) => v,
        }
    }

    /// For the scenario's name: `chaosbed-contract/zookeeper` -> `chaosbed-contract-zookeeper`.
    fn slug(&self) -> String {
        self.label().replace(['/', ':', '@'], "-")
    }
}

/// The built-in scenario: the zk-register workload, the roll (and rollback), the checks.
fn zookeeper_scenario(args: &Args) -> anyhow::Result<String> {
    let from = Side::of(&args.from, &args.from_image, "from")?;
    let to = Side::of(&args.to, &args.to_image, "to")?;
    let duration = if args.rollback { 110 } else { 60 };
    let mut text = format!(
        r#"name = "zk-upgrade-{from_slug}-to-{to_slug}{suffix}"
description = "cargo xtask upgrade: ZooKeeper {from} rolled to {to}{back}{kill} under zk-register load."
tier = "full"
seed = 1

[topology.zookeeper]
nodes = 3
{from_key}

[workload]
kind = "zk-register"
clients = 3
rate = 30
duration = "{duration}s"

[[fault]]
kind = "upgrade"
target = "all"
at = "10s"
{to_key}
"#,
        from = from.label(),
        to = to.label(),
        from_slug = from.slug(),
        to_slug = to.slug(),
        from_key = from.key(),
        to_key = to.key(),
        suffix = match (args.rollback, args.with_faults) {
            (true, true) => "-and-back-with-leader-kill",
            (true, false) => "-and-back",
            (false, true) => "-with-leader-kill",
            (false, false) => "",
        },
        back = if args.rollback { " and back" } else { "" },
        kill = if args.with_faults {
            ", the leader killed mid-roll,"
        } else {
            ""
        },
    );
    if args.rollback {
        text.push_str(&format!(
            "\n[[fault]]\nkind = \"upgrade\"\ntarget = \"all\"\nat = \"60s\"\n{}\n",
            from.key()
        ));
    }
    if args.with_faults {
        text.push_str(
            "\n[[fault]]\nkind = \"kill\"\ntarget = \"leader\"\nat = \"12s\"\nduration = \"8s\"\n",
        );
        // Two nodes down at once (one rolling, the leader killed) loses the quorum on purpose.
        text.push_str("\n[[check]]\nkind = \"quorum\"\ngrace = \"15s\"\n");
    } else {
        text.push_str("\n[[check]]\nkind = \"quorum\"\ngrace = \"10s\"\nnever_lost = true\n");
        text.push_str("\n[[check]]\nkind = \"availability\"\nmax_unavailable = \"10s\"\n");
    }
    text.push_str("\n[[check]]\nkind = \"no-lost-writes\"\n\n[[check]]\nkind = \"upgrade\"\n");
    Ok(text)
}

/// The bookies a Pulsar release runs beside: the BookKeeper its own build names (3.0.2: 4.16.3;
/// chaosbed's 3.0 and 4.0: 4.16.6 and 4.17.2), built by that number.
fn bookkeeper_of(pulsar: &str) -> anyhow::Result<String> {
    chaosbed::image::bookkeeper_of_pulsar(pulsar)
        .with_context(|| format!("finding the BookKeeper that Pulsar {pulsar} bundles"))
}

/// The built-in Pulsar scenario: pulsar-produce-consume with a read-back, brokers rolled then
/// bookies (and, with `--rollback`, bookies back then brokers back), ZooKeeper 3.9 throughout.
fn pulsar_scenario(args: &Args) -> anyhow::Result<String> {
    let from = Side::of(&args.from, &args.from_image, "from")?;
    let to = Side::of(&args.to, &args.to_image, "to")?;
    // An image runs bookies as well as brokers, as apachepulsar/pulsar does.
    let bookies = |side: &Side| -> anyhow::Result<Side> {
        Ok(match side {
            Side::Version(v) => Side::Version(bookkeeper_of(v)?),
            Side::Image(image) => Side::Image(image.clone()),
        })
    };
    let (bk_from, bk_to) = (bookies(&from)?, bookies(&to)?);
    // Each step after the first fires while the roll before it is in progress and waits behind
    // it; a broker restart takes ~20 s, a bookie's ~35 s, and the load outlasts the last.
    let duration = if args.rollback { 390 } else { 230 };
    let step = |system: &str, at: u32, side: &Side| {
        let system = if system == "bookkeeper" {
            "system = \"bookkeeper\"\n"
        } else {
            ""
        };
        format!(
            "\n[[fault]]\nkind = \"upgrade\"\n{system}target = \"all\"\nat = \"{at}s\"\n\
             {}\norder = \"listed\"\nrejoin = \"180s\"\n",
            side.key()
        )
    };
    let mut text = format!(
        r#"name = "pulsar-upgrade-{from_slug}-to-{to_slug}{suffix}"
description = "cargo xtask upgrade: Pulsar {from} with BookKeeper {bk_from} rolled to Pulsar {to} with BookKeeper {bk_to}{back}{kill}, brokers then bookies, under pulsar-produce-consume load."
tier = "full"
seed = 31

[topology.zookeeper]
nodes = 3
version = "3.9"

[topology.bookkeeper]
nodes = 3
{bk_from_key}

[topology.pulsar]
nodes = 3
{from_key}

[topology.pulsar.config]
managedLedgerDefaultEnsembleSize = 2
managedLedgerDefaultWriteQuorum = 2
managedLedgerDefaultAckQuorum = 2

[workload]
kind = "pulsar-produce-consume"
clients = 2
rate = 50
duration = "{duration}s"
subscription = "exclusive"
read_back = true
"#,
        from = from.label(),
        to = to.label(),
        from_slug = from.slug(),
        to_slug = to.slug(),
        from_key = from.key(),
        bk_from_key = bk_from.key(),
        bk_from = bk_from.label(),
        bk_to = bk_to.label(),
        suffix = match (args.rollback, args.with_faults) {
            (true, true) => "-and-back-with-owner-kill",
            (true, false) => "-and-back",
            (false, true) => "-with-owner-kill",
            (false, false) => "",
        },
        back = if args.rollback { " and back" } else { "" },
        kill = if args.with_faults {
            ", the topic's owner killed mid-roll,"
        } else {
            ""
        },
    );
    text.push_str(&step("pulsar", 15, &to));
    text.push_str(&step("bookkeeper", 20, &bk_to));
    if args.rollback {
        text.push_str(&step("bookkeeper", 25, &bk_from));
        text.push_str(&step("pulsar", 30, &from));
    }
    if args.with_faults {
        text.push_str(
            "\n[[fault]]\nkind = \"kill\"\ntarget = \"owner\"\nat = \"40s\"\nduration = \"15s\"\n",
        );
    }
    text.push_str(
        "\n[[check]]\nkind = \"delivery\"\n\n[[check]]\nkind = \"upgrade\"\n\n\
         [[check]]\nkind = \"bookies-registered\"\n",
    );
    Ok(text)
}

/// The built-in SkyWalking scenario: skywalking-traces through NGINX while the three OAP nodes
/// roll (the new version's schema job first), and back with `--rollback`.
fn skywalking_scenario(args: &Args) -> anyhow::Result<String> {
    let from = Side::of(&args.from, &args.from_image, "from")?;
    let to = Side::of(&args.to, &args.to_image, "to")?;
    let storage = match args.storage.as_str() {
        "postgres" => "[topology.postgres]\nnodes = 1\n",
        "opensearch" => "[topology.opensearch]\nnodes = 3\n",
        other => anyhow::bail!("unknown storage `{other}`; give postgres or opensearch"),
    };
    // The OAP's Elasticsearch bulk writer holds 15 s of writes by default and a stopping OAP
    // does not flush them (158 of 3448 traces lost in a roll); sw-rolling-upgrade-es flushes
    // every second, as an operator would.
    let skywalking_config = if args.storage == "opensearch" {
        "\n[topology.skywalking.config]\nSW_STORAGE_ES_FLUSH_INTERVAL = 1\n"
    } else {
        ""
    };
    let step = |at: u32, side: &Side| {
        format!(
            "\n[[fault]]\nkind = \"upgrade\"\ntarget = \"all\"\nat = \"{at}s\"\n{}\n\
             order = \"listed\"\nrejoin = \"240s\"\nsettle = \"15s\"\n",
            side.key()
        )
    };
    let mut text = format!(
        r#"name = "sw-upgrade-{from_slug}-to-{to_slug}-on-{storage_name}{suffix}"
description = "cargo xtask upgrade: SkyWalking OAP {from} rolled to {to}{back} on {storage_name}, node by node behind NGINX, under skywalking-traces."
tier = "full"
seed = 37

[topology.zookeeper]
nodes = 3

{storage}
[topology.skywalking]
nodes = 3
{from_key}
{skywalking_config}
[topology.nginx]
nodes = 1

[workload]
kind = "skywalking-traces"
clients = 2
rate = 20
duration = "900s"
after_faults = "30s"
"#,
        from = from.label(),
        to = to.label(),
        from_slug = from.slug(),
        to_slug = to.slug(),
        from_key = from.key(),
        storage_name = args.storage,
        suffix = if args.rollback { "-and-back" } else { "" },
        back = if args.rollback { " and back" } else { "" },
    );
    text.push_str(&step(15, &to));
    if args.rollback {
        text.push_str(&step(20, &from));
    }
    // A restarted OAP takes the segments on its open streams with it, as a killed one does:
    // 20 for each of the three nodes' restarts (sw-oap-kill-behind-lb bounds one at 20).
    let restarts = if args.rollback { 6 } else { 3 };
    text.push_str(&format!(
        "\n[[check]]\nkind = \"upgrade\"\n\n[[check]]\nkind = \"trace-queries\"\n\
         recover_within = \"30s\"\n\n[[check]]\nkind = \"traces\"\nmax_lost = {}\n",
        20 * restarts
    ));
    Ok(text)
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let built_in = match args.system.as_str() {
        _ if args.scenario.is_some() => String::new(),
        "zookeeper" => zookeeper_scenario(&args)?,
        "pulsar" => pulsar_scenario(&args)?,
        "skywalking" => skywalking_scenario(&args)?,
        "bookkeeper" => {
            eprintln!(
                "bookies roll with their brokers: use --system pulsar --from 3.0 --to 4.0 (brokers, then bookies to the matching BookKeeper version)"
            );
            return Ok(ExitCode::from(2));
        }
        other => anyhow::bail!(
            "unknown system `{other}`; upgradable systems: zookeeper, pulsar, skywalking"
        ),
    };
    let scenario: Scenario = match &args.scenario {
        Some(file) => scenario::load(file).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => {
            scenario::parse("cargo xtask upgrade", &built_in).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    println!("== {}: {}", scenario.name, scenario.description);
    let options = RunOptions {
        keep: args.keep,
        timeout: args.timeout,
        ..RunOptions::default()
    };
    let progress = MultiProgress::new();
    let outcome = runner::run(&scenario, &options, &progress).await?;
    crate::chaos::print_outcome(&outcome);
    let text = std::fs::read_to_string(outcome.dir.join("history.jsonl"))
        .with_context(|| format!("reading the history in {}", outcome.dir.display()))?;
    let history = History::from_jsonl(&text)?;
    print_phases(&phases(&history), &args.system);
    Ok(ExitCode::from(outcome.exit_code() as u8))
}

fn print_phases(phases: &[Phase], system: &str) {
    let pulsar = system == "pulsar";
    let (sent, lost_header) = match system {
        "pulsar" => ("sent ok/failed/unknown", "lost/not read back"),
        "skywalking" => ("traces ok/failed/unknown", "lost"),
        _ => ("writes ok/failed/unknown", "lost"),
    };
    println!(
        "phase                                          from     to  verdict      {sent:<25} {lost_header:>4}  zk leader samples  rejoin"
    );
    for p in phases {
        let mut lost = p.lost.map_or("-".to_string(), |l| l.to_string());
        if pulsar {
            lost.push_str(&format!(
                "/{}",
                p.not_read_back.map_or("-".to_string(), |l| l.to_string())
            ));
        }
        let rejoin = p
            .rejoin_ms
            .map_or(String::new(), |ms| format!("{:.1} s", ms as f64 / 1e3));
        println!(
            "{:<44} {:>6.1} {:>6.1}  {:<11} {:>8}/{}/{:<14} {:>4}  {:>6}/{:<7} {}",
            p.name,
            p.start as f64 / 1e9,
            p.end as f64 / 1e9,
            p.verdict(),
            p.writes_ok,
            p.writes_failed,
            p.writes_unknown,
            lost,
            p.one_leader,
            p.samples,
            rejoin
        );
    }
    let rejoins: Vec<String> = phases
        .iter()
        .filter_map(|p| {
            let node = p.node.as_ref()?;
            Some(match p.rejoin_ms {
                Some(ms) => format!("{node} {:.1} s", ms as f64 / 1e3),
                None => format!("{node} did not rejoin"),
            })
        })
        .collect();
    println!("rejoin time per node: {}", rejoins.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(line: &str) -> Args {
        Cli::parse_from(std::iter::once("upgrade").chain(line.split_whitespace())).args
    }

    #[test]
    fn the_built_in_skywalking_scenarios_parse() {
        for line in [
            // Catalogue versions and contract images only: no Maven lookup in a unit test.
            "--system skywalking --from 9.6 --to-image chaosbed-contract/skywalking-oap-server",
            "--system skywalking --from 9.6 --to-image chaosbed-contract/skywalking-oap-server \
             --rollback --storage opensearch",
        ] {
            let text = skywalking_scenario(&args(line)).unwrap();
            let scenario = scenario::parse("built-in", &text).unwrap_or_else(|e| panic!("{e}"));
            let steps = scenario
                .faults
                .iter()
                .filter(|f| f.params().upgrade_to().is_some())
                .count();
            assert_eq!(steps, if line.contains("rollback") { 2 } else { 1 });
            let opensearch = scenario.topology.has(chaosbed::system::opensearch::KIND);
            assert_eq!(opensearch, line.contains("opensearch"));
            let oap = scenario
                .topology
                .spec(chaosbed::system::skywalking::KIND)
                .unwrap();
            let flush = oap.config.contains_key("SW_STORAGE_ES_FLUSH_INTERVAL");
            assert_eq!(
                flush, opensearch,
                "the bulk writer flushes every second on OpenSearch"
            );
        }
        let unknown = args("--system skywalking --from 9.6 --to 9.6 --storage x");
        assert!(skywalking_scenario(&unknown).is_err());
    }

    #[test]
    fn the_built_in_pulsar_scenarios_parse() {
        for line in [
            "--system pulsar --from 3.0 --to 4.0",
            "--system pulsar --from 3.0 --to 4.0 --rollback",
            "--system pulsar --from 3.0 --to 4.0 --rollback --with-faults",
        ] {
            let text = pulsar_scenario(&args(line)).unwrap();
            let scenario = scenario::parse("built-in", &text).unwrap_or_else(|e| panic!("{e}"));
            let upgrades = scenario
                .faults
                .iter()
                .filter(|f| f.params().version.is_some())
                .count();
            assert_eq!(upgrades, if line.contains("rollback") { 4 } else { 2 });
        }
    }
}

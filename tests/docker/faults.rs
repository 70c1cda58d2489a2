//! Every network, clock and resource fault against one real 3-node ZooKeeper ensemble, once on
//! chaosbed's own images and once on an image made the way the official `zookeeper` image is,
//! with none of chaosbed's tools inside: each fault applied through the nemesis, its evidence
//! shows it took effect, an independent probe sees the effect, after the heal nothing of it is
//! left (no rule, qdisc, offset, limit or fill file), and no container of the run but the
//! nemesis helpers holds a capability. Packet loss scoped to a UDP port runs against two bare
//! netcat containers instead.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use futures_util::FutureExt as _;
use libtest_mimic::Trial;

use chaosbed::backend::docker::DockerBackend;
use chaosbed::backend::{Backend, ContainerSpec, RunId};
use chaosbed::history::{F, OpKind, Recorder};
use chaosbed::nemesis::{self, Action, Nemesis, Observed};

use super::support::{block_on, docker, finish};

/// Where a probe runs: inside the node (its own shell and tools), or in the node's network
/// namespace from its nemesis helper, which works whatever the node's image holds.
#[derive(Clone, Copy)]
enum ProbeFrom {
    Node,
    Namespace,
}

/// One fault kind: its `[[fault]]` lines (always on zk-1) and a probe of its effect.
struct Case {
    name: &'static str,
    fault: &'static str,
    /// A shell command run on a node while the fault is active, and whether it must fail.
    probe: Option<(ProbeFrom, &'static str, &'static str, bool)>,
}

/// zk-2 asks zk-1 `ruok` and gets `imok`, from zk-2's network namespace (bash's /dev/tcp), so
/// the probe needs nothing in the node's image.
const RUOK_ZK1: &str = "timeout 4 bash -c 'exec 3<>/dev/tcp/zk-1/2181; printf ruok >&3; \
                        read -r -t 3 -n 4 answer <&3; [ \"$answer\" = imok ]'";

/// As [`RUOK_ZK1`], and the close after the answer reaches zk-2 at least 1.5 s later.
const LATE_CLOSE_ZK1: &str = "timeout 8 bash -c 'exec 3<>/dev/tcp/zk-1/2181; \
                              start=$(date +%s%N); printf ruok >&3; cat <&3 >/dev/null; \
                              [ $(( ($(date +%s%N) - start) / 1000000 )) -ge 1500 ]'";

/// As [`RUOK_ZK1`], and the answer takes at least 280 ms.
const SLOW_RUOK_ZK1: &str = "timeout 6 bash -c 'start=$(date +%s%N); exec 3<>/dev/tcp/zk-1/2181; \
                             printf ruok >&3; read -r -t 5 -n 4 answer <&3; [ \"$answer\" = imok ] && \
                             [ $(( ($(date +%s%N) - start) / 1000000 )) -ge 280 ]'";

const CASES: [Case; 13] = [
    Case {
        name: "partition",
        fault: "kind = \"partition\"\ntarget = \"zk-1\"",
        // zk-2 cannot reach zk-1's client port while zk-1 is isolated.
        probe: Some((ProbeFrom::Namespace, "zk-2", RUOK_ZK1, true)),
    },
    Case {
        name: "packet_loss",
        fault: "kind = \"packet-loss\"\ntarget = \"zk-1\"\nloss = 100\npeers = [\"zk-2\"]",
        probe: Some((ProbeFrom::Namespace, "zk-2", RUOK_ZK1, true)),
    },
    Case {
        name: "bandwidth",
        fault: "kind = \"bandwidth\"\ntarget = \"zk-1\"\nrate = \"256kbit\"",
        // Slower, not cut: zk-1's answer passes the shaping qdisc.
        probe: Some((ProbeFrom::Namespace, "zk-2", RUOK_ZK1, false)),
    },
    Case {
        name: "latency",
        fault: "kind = \"latency\"\ntarget = \"zk-1\"\ndelay = \"300ms\"",
        // Probed from the harness, whose connections zk-1 accepts: see `round_trip`.
        probe: None,
    },
    Case {
        name: "latency_to_a_peer",
        fault: "kind = \"latency\"\ntarget = \"zk-1\"\npeers = [\"zk-2\"]\ndelay = \"300ms\"",
        // Node to node: zk-1's answer to zk-2 waits.
        probe: Some((ProbeFrom::Namespace, "zk-2", SLOW_RUOK_ZK1, false)),
    },
    Case {
        name: "reset_peer",
        fault: "kind = \"reset-peer\"\ntarget = \"zk-1\"\npeers = [\"zk-2\"]",
        probe: Some((ProbeFrom::Namespace, "zk-2", RUOK_ZK1, true)),
    },
    Case {
        name: "blackhole",
        fault: "kind = \"blackhole\"\ntarget = \"zk-1\"\npeers = [\"zk-2\"]",
        probe: Some((ProbeFrom::Namespace, "zk-2", RUOK_ZK1, true)),
    },
    Case {
        name: "slow_close",
        fault: "kind = \"slow-close\"\ntarget = \"zk-1\"\npeers = [\"zk-2\"]\ndelay = \"2s\"",
        probe: Some((ProbeFrom::Namespace, "zk-2", LATE_CLOSE_ZK1, false)),
    },
    Case {
        name: "limit_data",
        fault: "kind = \"limit-data\"\ntarget = \"zk-1\"\npeers = [\"zk-2\"]\nbytes = \"6B\"",
        // `ruok` (4 bytes) passes, then only 2 bytes of `imok`.
        probe: Some((ProbeFrom::Namespace, "zk-2", RUOK_ZK1, true)),
    },
    Case {
        name: "clock_skew",
        fault: "kind = \"clock-skew\"\ntarget = \"zk-1\"\noffset = \"+1h\"",
        // A process started now sees the hour; one without libfaketime sees the true time.
        probe: Some((
            ProbeFrom::Node,
            "zk-1",
            "test $(( $(date +%s) - $(LD_PRELOAD= date +%s) )) -ge 3500",
            false,
        )),
    },
    Case {
        name: "memory",
        fault: "kind = \"memory\"\ntarget = \"zk-1\"\nmemory = \"384MiB\"",
        probe: None,
    },
    Case {
        name: "cpu",
        fault: "kind = \"cpu\"\ntarget = \"zk-1\"\ncpus = 0.25",
        probe: None,
    },
    Case {
        name: "disk_full",
        fault: "kind = \"disk-full\"\ntarget = \"zk-1\"",
        probe: Some((
            ProbeFrom::Node,
            "zk-1",
            "echo probe > /data/chaosbed-probe",
            true,
        )),
    },
];

/// The images an ensemble of the test runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Images {
    Chaosbed,
    /// chaosbed-contract/zookeeper: the official image's contract, none of chaosbed's tools.
    ToolLess,
}

impl std::fmt::Display for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Images::Chaosbed => "chaosbed's images",
            Images::ToolLess => "a tool-less image",
        })
    }
}

pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("faults::every_kind_on_chaosbed_images", || {
            block_on(every_kind(Images::Chaosbed))
        }),
        Trial::test("faults::every_kind_on_a_tool_less_image", || {
            block_on(every_kind(Images::ToolLess))
        }),
        Trial::test("faults::packet_loss_udp_port", || block_on(udp_port_loss())),
    ]
}

/// A scenario of the ensemble with the case's fault first. The partition, clock skew and
/// blackhole after it never run here: they make the run build the nemesis helper image (with
/// chaosbed-proxy in each helper) and the clock volume, so every case can run on the one
/// ensemble and the leftover check can read every node's rules, qdiscs and clock offset.
fn scenario_text(case: &Case, image: Option<&str>) -> String {
    let image = image
        .map(|tag| format!("image = \"{tag}\"\n"))
        .unwrap_or_default();
    format!(
        "name = \"fault-{name}\"\ntier = \"full\"\n[topology.zookeeper]\nnodes = 3\ndisk = \"64MiB\"\n{image}\
         [workload]\nkind = \"zk-register\"\nduration = \"60s\"\n\
         [[fault]]\nat = \"1s\"\nduration = \"30s\"\n{fault}\n\
         [[fault]]\nkind = \"partition\"\ntarget = \"zk-3\"\nat = \"50s\"\nduration = \"1s\"\n\
         [[fault]]\nkind = \"clock-skew\"\ntarget = \"zk-3\"\noffset = \"+1s\"\nat = \"50s\"\nduration = \"1s\"\n\
         [[fault]]\nkind = \"blackhole\"\ntarget = \"zk-3\"\nat = \"50s\"\nduration = \"1s\"\n\
         [[check]]\nkind = \"quorum\"\n",
        name = case.name,
        fault = case.fault
    )
}

/// Stands up one ensemble of `images` and runs every case on it in turn; each case must leave
/// nothing behind, so the next starts clean. Every case runs even when one fails.
async fn every_kind(images: Images) -> anyhow::Result<()> {
    let docker = docker().await?;
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let tag = match images {
        Images::Chaosbed => None,
        Images::ToolLess => {
            let contract = chaosbed::image::contract::named("chaosbed-contract/zookeeper")
                .context("no contract image for ZooKeeper")?;
            Some(chaosbed::image::contract::ensure(&docker, contract, &progress).await?)
        }
    };
    let scenarios = CASES
        .iter()
        .map(|case| {
            chaosbed::scenario::parse("faults.toml", &scenario_text(case, tag.as_deref()))
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let slug = match images {
        Images::Chaosbed => "faults-chaosbed",
        Images::ToolLess => "faults-toolless",
    };
    let mut backend = DockerBackend::new(docker.clone(), RunId::new(slug));
    let outcome = std::panic::AssertUnwindSafe(async {
        let (cluster, _) = chaosbed::runner::stand_up(
            &scenarios[0],
            &docker,
            &mut backend,
            chaosbed::runner::FaultTools::of(&scenarios[0]),
            Duration::from_secs(300),
            &progress,
        )
        .await
        .with_context(|| format!("standing up a ZooKeeper ensemble of {images}"))?;
        let mut failed = Vec::new();
        for (case, scenario) in CASES.iter().zip(&scenarios) {
            let started = Instant::now();
            match apply_and_heal(case, scenario, &cluster, &backend).await {
                Ok(()) => println!(
                    "{} on {images}: passed in {:.1?}",
                    case.name,
                    started.elapsed()
                ),
                Err(e) => {
                    println!("{} on {images}: FAILED: {e:#}", case.name);
                    failed.push(format!("{}: {e:#}", case.name));
                }
            }
        }
        only_helpers_hold_capabilities(&backend).await?;
        ensure!(
            failed.is_empty(),
            "{} of {} fault kinds failed on {images}: {}",
            failed.len(),
            CASES.len(),
            failed.join("; ")
        );
        Ok(())
    })
    .catch_unwind()
    .await;
    finish(
        &docker,
        &backend,
        outcome,
        &format!("the fault test on {images}"),
    )
    .await
}

async fn apply_and_heal(
    case: &Case,
    scenario: &chaosbed::scenario::Scenario,
    cluster: &chaosbed::runner::Cluster,
    backend: &DockerBackend,
) -> anyhow::Result<()> {
    let nodes: Vec<String> = cluster.names(chaosbed::system::zookeeper::KIND);
    let recorder = Recorder::new();
    // Latency is timed from the harness: zk-1's replies wait (netem, or the transparent proxy
    // its helper runs where the kernel has no netem).
    let zk1 = cluster
        .of(chaosbed::system::zookeeper::KIND)
        .into_iter()
        .find(|(name, _)| name == "zk-1")
        .map(|(_, ip)| std::net::SocketAddr::from((ip, 2181)))
        .context("the ensemble has no zk-1")?;
    let timed = case.name == "latency";
    let mut nemesis = Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 7)
        .with_info(cluster.node_info());
    let events: Vec<_> = nemesis::plan(&scenario.faults[..1], chaosbed::system::zookeeper::KIND);
    let apply = events.iter().find(|e| e.action == Action::Apply).unwrap();
    let heal = events.iter().find(|e| e.action == Action::Heal).unwrap();

    let applied = run_and_record(&mut nemesis, backend, apply, &recorder, F::Fault).await?;
    println!("{} applied: {}", case.name, applied.value["evidence"]);
    only_helpers_hold_capabilities(backend).await?;
    let mechanism = applied.value["evidence"]["mechanism"]
        .as_str()
        .unwrap_or("");
    if mechanism == "iptables"
        || mechanism.starts_with("tc ")
        || mechanism.starts_with("chaosbed-proxy")
    {
        let helper = &applied.value["evidence"]["helpers"]["zk-1"];
        ensure!(
            helper["container"]
                .as_str()
                .is_some_and(|c| c.ends_with("-zk-1-nemesis")),
            "the evidence of {} names no nemesis helper for zk-1: {}",
            case.name,
            applied.value["evidence"]
        );
    }
    ensure!(
        applied.kind == OpKind::Ok,
        "applying {} failed: {:?}",
        case.name,
        applied.error
    );
    ensure!(
        applied.value["evidence"]["took_effect"] == true,
        "the evidence of {} does not show its effect: {}",
        case.name,
        applied.value["evidence"]
    );
    if let Some((from, node, command, must_fail)) = case.probe {
        let cmd = ["sh", "-c", command];
        let out = match from {
            ProbeFrom::Node => backend.exec(node, &cmd).await?,
            ProbeFrom::Namespace => backend.exec_net(node, &cmd).await?,
        };
        let failed = out.exit_code != 0;
        ensure!(
            failed == must_fail,
            "probe `{command}` on {node} exited {} while {} was active (expected {}): {}{}",
            out.exit_code,
            case.name,
            if must_fail { "failure" } else { "success" },
            out.stdout,
            out.stderr
        );
    }
    if timed {
        let rtt = round_trip(zk1).await?;
        println!("ruok to zk-1 while delayed: {rtt:?}");
        ensure!(
            rtt >= Duration::from_millis(280),
            "a ruok round trip to zk-1 took {rtt:?} with 300 ms of latency applied"
        );
    }
    // The probes above sent traffic through the rules, qdiscs and proxies; a second more of the
    // ensemble's own traffic moves their counters for the heal's evidence.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let healed = run_and_record(&mut nemesis, backend, heal, &recorder, F::Heal).await?;
    println!("{} healed: {}", case.name, healed.value["evidence"]);
    ensure!(
        healed.kind == OpKind::Ok && healed.value["evidence"]["took_effect"] == true,
        "healing {} left something or showed no effect: {} {:?}",
        case.name,
        healed.value["evidence"],
        healed.error
    );
    if timed {
        let rtt = round_trip(zk1).await?;
        println!("ruok to zk-1 after the heal: {rtt:?}");
        ensure!(
            rtt < Duration::from_millis(250),
            "a ruok round trip to zk-1 still took {rtt:?} after the latency was healed"
        );
    }
    if let Some((ProbeFrom::Namespace, node, command, true)) = case.probe {
        let out = backend.exec_net(node, &["sh", "-c", command]).await?;
        ensure!(
            out.exit_code == 0,
            "probe `{command}` on {node} still fails after {} was healed: {}{}",
            case.name,
            out.stdout,
            out.stderr
        );
    }
    nothing_left(backend, &nodes).await
}

/// Runs one nemesis event and returns what it recorded last as `f` (its fault or its heal).
async fn run_and_record(
    nemesis: &mut Nemesis,
    backend: &DockerBackend,
    event: &nemesis::Event,
    recorder: &Recorder,
    f: F,
) -> anyhow::Result<chaosbed::history::Op> {
    nemesis
        .run_event(backend, event, &Observed::default())
        .await;
    recorder
        .snapshot()
        .with_f(f)
        .last()
        .cloned()
        .with_context(|| format!("no {f:?} recorded"))
}

/// One ZooKeeper `ruok` on a new connection, timed from the first byte sent to the reply.
async fn round_trip(address: std::net::SocketAddr) -> anyhow::Result<Duration> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let started = std::time::Instant::now();
    stream.write_all(b"ruok").await?;
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await??;
    ensure!(
        reply == b"imok",
        "ruok got {:?}",
        String::from_utf8_lossy(&reply)
    );
    Ok(started.elapsed())
}

/// Every container of the run, found by its label: only the nemesis helpers hold a capability
/// (NET_ADMIN and NET_RAW), none is privileged and none mounts the Docker socket, whatever
/// fault is active.
async fn only_helpers_hold_capabilities(backend: &DockerBackend) -> anyhow::Result<()> {
    use bollard::query_parameters::ListContainersOptions;
    let docker = backend.docker();
    let label = format!("chaosbed.run={}", backend.run_id());
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some([("label".to_string(), vec![label])].into()),
            ..Default::default()
        }))
        .await?;
    ensure!(
        !containers.is_empty(),
        "the run has no containers to inspect"
    );
    for container in containers {
        let id = container.id.unwrap_or_default();
        let inspect = docker.inspect_container(&id, None).await?;
        let name = inspect.name.unwrap_or_default();
        let helper = inspect
            .config
            .and_then(|c| c.labels)
            .is_some_and(|l| l.get("chaosbed.helper-for").is_some_and(|v| v != "clock"));
        let host = inspect.host_config.unwrap_or_default();
        let caps = host.cap_add.unwrap_or_default();
        let allowed: &[&str] = if helper {
            &["NET_ADMIN", "NET_RAW"]
        } else {
            &[]
        };
        ensure!(
            caps.iter().all(|c| allowed.contains(&c.as_str())),
            "container {name} was given capabilities {caps:?}"
        );
        ensure!(
            host.privileged != Some(true),
            "container {name} is privileged"
        );
        let socket = host.mounts.unwrap_or_default().iter().any(|m| {
            m.source
                .as_deref()
                .is_some_and(|s| s.ends_with("docker.sock"))
        }) || host
            .binds
            .unwrap_or_default()
            .iter()
            .any(|b| b.contains("docker.sock"));
        ensure!(!socket, "container {name} mounts the Docker socket");
    }
    Ok(())
}

/// Reads every node's rules, qdisc, clock offset, limits and data volume independently of the
/// nemesis' own evidence (rules and qdiscs from outside the node, as the nemesis reads them).
async fn nothing_left(backend: &DockerBackend, nodes: &[String]) -> anyhow::Result<()> {
    let network = "iptables -w -S | grep -c cb-f; iptables -w -t nat -S | grep -c cb-f; \
                   tc qdisc show dev eth0 | grep -cE 'tbf|netem|prio'";
    for node in nodes {
        let script = format!(
            "cat {}; \
             cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max; \
             ls -a /data | grep -c chaosbed-fill; true",
            chaosbed::backend::clock::offset_file(node)
        );
        let net = backend.exec_net(node, &["sh", "-c", network]).await?;
        let out = backend.exec(node, &["sh", "-c", &script]).await?;
        let text = format!("{}{}", net.stdout, out.stdout);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        ensure!(
            lines == ["0", "0", "0", "+0", "-1", "0"] || lines == ["0", "0", "0", "+0", "max", "0"],
            "node {node} still carries a fault (rules, nat rules, qdiscs, offset, CPU quota, fill files): {lines:?} {}",
            out.stderr
        );
    }
    Ok(())
}

/// zk-1's UDP and TCP listeners in the port-scoped loss test; what arrives over UDP is logged.
const UDP_PORT: u16 = 9995;
const TCP_PORT: u16 = 9993;
const UDP_LOG: &str = "/tmp/udp.log";

/// Packet loss with `protocol = "udp"` and `ports`: every UDP datagram to zk-1's UDP port is
/// dropped while TCP to its other port still connects; after the heal UDP arrives again and no
/// chaosbed rule is left.
async fn udp_port_loss() -> anyhow::Result<()> {
    let docker = docker().await?;
    let case = Case {
        name: "packet_loss_udp_port",
        fault: "kind = \"packet-loss\"\ntarget = \"zk-1\"\nloss = 100\nprotocol = \"udp\"\nports = [9995]",
        probe: None,
    };
    let scenario = chaosbed::scenario::parse("faults.toml", &scenario_text(&case, None))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut backend = DockerBackend::new(docker.clone(), RunId::new("fault-udp-port"));
    let progress =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let outcome = std::panic::AssertUnwindSafe(async {
        let image = chaosbed::image::ensure(&docker, "zookeeper", "3.9", &progress).await?;
        let nemesis = chaosbed::image::ensure_tool(&docker, "nemesis", &progress).await?;
        backend.use_nemesis_image(&nemesis, None);
        let info = start_listeners(&mut backend, &image).await?;
        udp_port_apply_and_heal(&scenario, &backend, info).await
    })
    .catch_unwind()
    .await;
    finish(
        &docker,
        &backend,
        outcome,
        "the packet_loss_udp_port fault test",
    )
    .await
}

/// zk-1 listens on the UDP and TCP ports (netcat-openbsd from the ZooKeeper image); zk-2 only
/// sends. Returns their addresses once zk-2 can connect to zk-1's TCP port.
async fn start_listeners(
    backend: &mut DockerBackend,
    image: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, chaosbed::nemesis::NodeInfo>> {
    backend.create_network().await?;
    let listen = format!("nc -lk {TCP_PORT} >/dev/null & exec nc -luk {UDP_PORT} > {UDP_LOG}");
    let nodes = [("zk-1", listen.as_str()), ("zk-2", "exec sleep infinity")];
    let mut info = std::collections::BTreeMap::new();
    for (node, script) in nodes {
        let spec = ContainerSpec {
            node: node.into(),
            image: image.into(),
            cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
            ..Default::default()
        };
        let address = backend.create(&spec).await?;
        backend.start(node).await?;
        info.insert(
            node.to_string(),
            chaosbed::nemesis::NodeInfo {
                address: Some(address),
                ..Default::default()
            },
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !tcp_reaches(backend).await? {
        ensure!(
            std::time::Instant::now() < deadline,
            "zk-2 could not connect to zk-1:{TCP_PORT} within 30s: did `nc -lk` start in zk-1?"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(info)
}

async fn tcp_reaches(backend: &DockerBackend) -> anyhow::Result<bool> {
    let probe = format!("nc -z -w 2 zk-1 {TCP_PORT}");
    Ok(backend.exec("zk-2", &["sh", "-c", &probe]).await?.exit_code == 0)
}

/// Sends `word` from zk-2 to zk-1's UDP port (three datagrams) and reports whether zk-1 logged it.
async fn udp_arrives(backend: &DockerBackend, word: &str) -> anyhow::Result<bool> {
    let send = format!("for i in 1 2 3; do echo {word} | nc -u -w 1 zk-1 {UDP_PORT}; done");
    let out = backend.exec("zk-2", &["sh", "-c", &send]).await?;
    ensure!(
        out.exit_code == 0,
        "sending UDP from zk-2 to zk-1:{UDP_PORT} failed: {}{}",
        out.stdout,
        out.stderr
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let check = format!("grep -c {word} {UDP_LOG} || true");
    let out = backend.exec("zk-1", &["sh", "-c", &check]).await?;
    Ok(out.stdout.trim() != "0")
}

async fn udp_port_apply_and_heal(
    scenario: &chaosbed::scenario::Scenario,
    backend: &DockerBackend,
    info: std::collections::BTreeMap<String, chaosbed::nemesis::NodeInfo>,
) -> anyhow::Result<()> {
    ensure!(
        udp_arrives(backend, "before").await?,
        "UDP from zk-2 did not reach zk-1:{UDP_PORT} before any fault: the probe itself is broken"
    );
    let nodes: Vec<String> = info.keys().cloned().collect();
    let recorder = Recorder::new();
    let mut nemesis =
        Nemesis::new(nodes.clone(), BTreeSet::new(), recorder.clone(), 7).with_info(info);
    let events: Vec<_> = nemesis::plan(&scenario.faults[..1], chaosbed::system::zookeeper::KIND);
    let apply = events.iter().find(|e| e.action == Action::Apply).unwrap();
    let heal = events.iter().find(|e| e.action == Action::Heal).unwrap();

    // Twice: the second time after zk-1 restarted, which gave it a new network namespace that
    // the first helper is not in.
    for round in ["first", "after a restart"] {
        if round != "first" {
            backend.restart("zk-1", 1).await?;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !tcp_reaches(backend).await? {
                ensure!(
                    std::time::Instant::now() < deadline,
                    "zk-1's listeners did not come back within 30s of its restart"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let applied = run_and_record(&mut nemesis, backend, apply, &recorder, F::Fault).await?;
        let evidence = &applied.value["evidence"];
        println!("packet_loss_udp_port applied: {evidence}");
        ensure!(
            applied.kind == OpKind::Ok && evidence["took_effect"] == true,
            "applying UDP packet loss to zk-1 failed or showed no effect: {evidence} {:?}",
            applied.error
        );
        ensure!(
            evidence["protocol"] == "udp" && evidence["ports"] == serde_json::json!([UDP_PORT]),
            "the fault's record does not name its protocol and ports: {evidence}"
        );
        ensure!(
            !udp_arrives(backend, "during").await?,
            "UDP to zk-1:{UDP_PORT} still arrived while every such packet was to be dropped"
        );
        ensure!(
            tcp_reaches(backend).await?,
            "TCP to zk-1:{TCP_PORT} was cut by packet loss scoped to UDP port {UDP_PORT}"
        );

        let healed = run_and_record(&mut nemesis, backend, heal, &recorder, F::Heal).await?;
        println!("packet_loss_udp_port healed: {}", healed.value["evidence"]);
        ensure!(
            healed.kind == OpKind::Ok && healed.value["evidence"]["took_effect"] == true,
            "healing UDP packet loss left something or dropped nothing: {} {:?}",
            healed.value["evidence"],
            healed.error
        );
        ensure!(
            udp_arrives(backend, "after").await?,
            "UDP to zk-1:{UDP_PORT} still does not arrive after the heal"
        );
        let created = evidence["helpers"]["zk-1"]["created"]
            .as_str()
            .unwrap_or("");
        let expected = if round == "first" {
            "first network fault"
        } else {
            "started again"
        };
        ensure!(
            created.contains(expected),
            "the {round} fault's helper for zk-1 should have been made for \"{expected}\": {evidence}"
        );
    }
    let out = backend
        .exec_net(
            "zk-1",
            &["sh", "-c", "iptables -w -S | grep -c cb-f || true"],
        )
        .await?;
    ensure!(
        out.stdout.trim() == "0",
        "zk-1 still has {} of chaosbed's iptables rules after the heal",
        out.stdout.trim()
    );
    Ok(())
}

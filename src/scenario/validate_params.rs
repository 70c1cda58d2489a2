//! Semantic checks of a fault's kind-specific parameters (loss, ports, rate, offset, peers, ...).

use std::ops::Range;

use super::error::Diagnostics;
use super::fault::{ClockMode, FaultKind, FaultSpec, PartitionShape};
use super::model::{SystemKind, SystemSpec, Target};

/// The smallest memory limit Docker accepts.
const MIN_MEMORY: u64 = 6 << 20;
const MAX_CPUS: f64 = 64.0;

/// The parameters present on `fault`, with their positions.
fn present(fault: &FaultSpec) -> Vec<(&'static str, Range<usize>)> {
    fn span<T>(field: &Option<serde_spanned::Spanned<T>>) -> Option<Range<usize>> {
        field.as_ref().map(|f| f.span())
    }
    [
        ("shape", span(&fault.shape)),
        ("peers", span(&fault.peers)),
        ("loss", span(&fault.loss)),
        ("ports", span(&fault.ports)),
        ("protocol", span(&fault.protocol)),
        ("rate", span(&fault.rate)),
        ("delay", span(&fault.delay)),
        ("jitter", span(&fault.jitter)),
        ("direction", span(&fault.direction)),
        ("timeout", span(&fault.timeout)),
        ("bytes", span(&fault.bytes)),
        ("offset", span(&fault.offset)),
        ("clock", span(&fault.clock)),
        ("period", span(&fault.period)),
        ("memory", span(&fault.memory)),
        ("cpus", span(&fault.cpus)),
        ("version", span(&fault.version)),
        ("image", span(&fault.image)),
        ("order", span(&fault.order)),
        ("rejoin", span(&fault.rejoin)),
        ("settle", span(&fault.settle)),
    ]
    .into_iter()
    .filter_map(|(name, span)| span.map(|s| (name, s)))
    .collect()
}

/// Refuses parameters the kind does not take, missing required ones, and impossible values.
pub(super) fn check_params(
    systems: &[(SystemKind, &SystemSpec, Range<usize>)],
    fault: &FaultSpec,
    system: SystemKind,
    out: &mut Diagnostics,
) {
    let kind = *fault.kind.get_ref();
    let (required, optional) = kind.parameters();
    let present = present(fault);
    let takes = || {
        let all: Vec<&str> = required.iter().chain(optional).copied().collect();
        if all.is_empty() {
            format!("a {kind} fault takes no parameters beyond target, at and duration")
        } else {
            format!("a {kind} fault takes: {}", all.join(", "))
        }
    };
    for (name, span) in &present {
        if !required.contains(name) && !optional.contains(name) {
            out.error(
                span.clone(),
                format!("`{name}` does not apply to a {kind} fault"),
                Some(takes()),
            );
        }
    }
    for name in required {
        if !present.iter().any(|(p, _)| p == name) {
            out.error(
                fault.kind.span(),
                format!("a {kind} fault needs `{name}`"),
                Some(example(name).into()),
            );
        }
    }
    check_values(systems, fault, system, out);
}

fn example(param: &str) -> &'static str {
    match param {
        "loss" => "e.g. loss = 30 (percent of packets dropped)",
        "rate" => "e.g. rate = \"1mbit\"",
        "delay" => "e.g. delay = \"200ms\"",
        "bytes" => "e.g. bytes = \"64KiB\" (what a connection may carry before it is closed)",
        "offset" => "e.g. offset = \"+1h\" or \"-10m\"",
        "memory" => "e.g. memory = \"512MiB\"",
        "cpus" => "e.g. cpus = 0.2",
        "version" => "e.g. version = \"3.9\" (a version the catalogue builds for the system)",
        _ => "see the README's fault table",
    }
}

fn check_values(
    systems: &[(SystemKind, &SystemSpec, Range<usize>)],
    fault: &FaultSpec,
    system: SystemKind,
    out: &mut Diagnostics,
) {
    let kind = *fault.kind.get_ref();
    if let Some(loss) = &fault.loss {
        let value = *loss.get_ref();
        if !(value > 0.0 && value <= 100.0) {
            out.error(
                loss.span(),
                format!("loss = {value} is not a percentage of packets"),
                Some("use a value above 0 and at most 100".into()),
            );
        }
    }
    if let Some(ports) = &fault.ports {
        check_ports(ports.get_ref(), ports.span(), out);
    }
    if let Some(cpus) = &fault.cpus {
        let value = *cpus.get_ref();
        if !(value > 0.0 && value <= MAX_CPUS) {
            out.error(
                cpus.span(),
                format!("cpus = {value} is not a CPU share"),
                Some(format!(
                    "use a value above 0 and at most {MAX_CPUS}, e.g. 0.2"
                )),
            );
        }
    }
    if let Some(rate) = &fault.rate
        && !is_tc_rate(rate.get_ref())
    {
        out.error(
            rate.span(),
            format!("`{}` is not a rate", rate.get_ref()),
            Some("write a number and a unit: bit, kbit, mbit or gbit, e.g. \"1mbit\"".into()),
        );
    }
    if let Some(bytes) = &fault.bytes
        && bytes.get_ref().0 == 0
    {
        out.error(
            bytes.span(),
            "bytes = 0 closes every connection before it carries anything",
            Some("e.g. bytes = \"64KiB\"; a blackhole fault holds connections instead".into()),
        );
    }
    if let Some(delay) = &fault.delay
        && delay.get_ref().as_duration().is_zero()
        && matches!(kind, FaultKind::Latency | FaultKind::SlowClose)
    {
        out.error(
            delay.span(),
            format!("delay = 0s makes a {kind} fault do nothing"),
            Some("e.g. delay = \"200ms\"".into()),
        );
    }
    if let Some(memory) = &fault.memory
        && memory.get_ref().0 < MIN_MEMORY
    {
        out.error(
            memory.span(),
            format!(
                "Docker refuses memory limits below {}",
                super::ByteSize(MIN_MEMORY)
            ),
            None,
        );
    }
    let mode = fault
        .clock
        .as_ref()
        .map(|c| *c.get_ref())
        .unwrap_or_default();
    match (mode, &fault.period) {
        (ClockMode::Strobe, None) if kind == FaultKind::ClockSkew => out.error(
            fault.kind.span(),
            "a strobing clock needs `period` (how often it flips)",
            Some("e.g. period = \"5s\"".into()),
        ),
        (ClockMode::Fixed, Some(period)) => out.error(
            period.span(),
            "`period` applies only to clock = \"strobe\"",
            None,
        ),
        _ => {}
    }
    if let Some(shape) = &fault.shape
        && shape.get_ref().splits_system()
        && *fault.target.get_ref() != Target::All
    {
        out.error(
            fault.target.span(),
            format!(
                "a {} partition splits the whole {system} system, so its target is `all`",
                shape.get_ref().name()
            ),
            None,
        );
    }
    if let Some(shape) = &fault.shape
        && shape.get_ref().splits_system()
        && fault.peers.is_some()
    {
        out.error(
            shape.span(),
            format!(
                "a {} partition picks its own sides; `peers` applies to isolate and one-way",
                shape.get_ref().name()
            ),
            None,
        );
    }
    if let Some(shape) = &fault.shape
        && *shape.get_ref() == PartitionShape::Bridge
        && systems
            .iter()
            .find(|(k, _, _)| *k == system)
            .is_some_and(|(_, spec, _)| spec.node_count() < 3)
    {
        out.error(
            shape.span(),
            format!("a bridge needs at least 3 {system} nodes"),
            None,
        );
    }
    if let Some(version) = &fault.version {
        check_version(system, version.get_ref(), version.span(), out);
    }
    if *fault.kind.get_ref() == FaultKind::Upgrade {
        match (&fault.version, &fault.image) {
            (None, None) => out.error(
                fault.kind.span(),
                "an upgrade fault needs `version` (or `image`): what the nodes roll to",
                Some("e.g. version = \"3.9\", or image = \"chaosbed-contract/zookeeper\"".into()),
            ),
            (Some(_), Some(image)) => out.error(
                image.span(),
                "an upgrade names both `version` and `image`",
                Some("roll to a version chaosbed builds, or to an image, not both".into()),
            ),
            (None, Some(image)) => {
                if let Some(known) = crate::image::contract::unknown(image.get_ref()) {
                    out.error(
                        image.span(),
                        format!("`{}` is no contract image of chaosbed's", image.get_ref()),
                        Some(format!("contract images: {known}")),
                    );
                }
            }
            (Some(_), None) => {}
        }
    }
    if let Some(rejoin) = &fault.rejoin
        && rejoin.get_ref().as_duration().is_zero()
    {
        out.error(
            rejoin.span(),
            "rejoin = 0s leaves no node time to rejoin",
            Some("e.g. rejoin = \"120s\" (the default)".into()),
        );
    }
    if let Some(peers) = &fault.peers {
        check_peers(systems, peers.get_ref(), peers.span(), out);
    }
    if kind == FaultKind::DiskFull
        && systems
            .iter()
            .find(|(k, _, _)| *k == system)
            .is_some_and(|(_, spec, _)| spec.disk.is_none())
    {
        out.error(
            fault.kind.span(),
            format!("a disk-full fault needs a sized data volume, and {system} has none"),
            Some(format!(
                "add disk = \"256MiB\" to [topology.{system}] (a tmpfs of that size)"
            )),
        );
    }
}

fn check_peers(
    systems: &[(SystemKind, &SystemSpec, Range<usize>)],
    peers: &[String],
    span: Range<usize>,
    out: &mut Diagnostics,
) {
    let mut known: Vec<String> = Vec::new();
    for (kind, spec, _) in systems {
        known.push(kind.name().to_string());
        known.extend((1..=spec.node_count()).map(|i| format!("{}-{i}", kind.node_prefix())));
    }
    if peers.is_empty() {
        out.error(
            span.clone(),
            "`peers` is empty",
            Some("leave it out to mean every other node".into()),
        );
    }
    for peer in peers {
        if !known.contains(peer) {
            out.error(
                span.clone(),
                format!("unknown peer `{peer}`"),
                Some(format!("peers are systems or nodes: {}", known.join(", "))),
            );
        }
    }
}

/// packet-loss `ports`: destination ports of the target, each once.
fn check_ports(ports: &[i64], span: Range<usize>, out: &mut Diagnostics) {
    if ports.is_empty() {
        out.error(
            span.clone(),
            "`ports` is empty",
            Some("leave it out to drop packets to every port".into()),
        );
    }
    for (i, port) in ports.iter().enumerate() {
        if !(1..=65535).contains(port) {
            out.error(
                span.clone(),
                format!("port {port} is not a port number"),
                Some(
                    "use ports 1 to 65535 the target listens on, e.g. ports = [9995, 9996]".into(),
                ),
            );
        } else if ports[..i].contains(port) {
            out.error(
                span.clone(),
                format!("port {port} is listed twice in `ports`"),
                None,
            );
        }
    }
}

/// An upgrade's `version`: one chaosbed can build for the system it rolls (the one the
/// topology already runs is allowed: that roll restarts every node on the same image).
fn check_version(system: SystemKind, version: &str, span: Range<usize>, out: &mut Diagnostics) {
    if let Some((message, help)) = crate::image::refuse_version(system.name(), version) {
        out.error(span, message, Some(help));
    }
}

/// `1mbit`, `512kbit`, `2.5mbit`, `100bit`.
fn is_tc_rate(text: &str) -> bool {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    number.parse::<f64>().is_ok_and(|n| n > 0.0) && matches!(unit, "bit" | "kbit" | "mbit" | "gbit")
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;
    use rstest::rstest;

    fn zk_fault(fault: &str) -> String {
        format!(
            "name = \"t\"\ntier = \"full\"\n[topology.zookeeper]\nnodes = 3\n[workload]\nkind = \"zk-register\"\nduration = \"30s\"\n[[fault]]\nat = \"5s\"\nduration = \"5s\"\n{fault}\n[[check]]\nkind = \"quorum\"\n"
        )
    }

    #[rstest]
    #[case("kind = \"partition\"\ntarget = \"leader\"")]
    #[case("kind = \"partition\"\ntarget = \"all\"\nshape = \"halves\"")]
    #[case("kind = \"packet-loss\"\ntarget = \"one\"\nloss = 30\npeers = [\"zk-1\"]")]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nprotocol = \"udp\"\nports = [9995, 9996]"
    )]
    #[case("kind = \"packet-loss\"\ntarget = \"one\"\nloss = 50\nports = [1, 65535]")]
    #[case("kind = \"packet-loss\"\ntarget = \"one\"\nloss = 50\nprotocol = \"tcp\"")]
    #[case("kind = \"bandwidth\"\ntarget = \"one\"\nrate = \"1mbit\"")]
    #[case("kind = \"latency\"\ntarget = \"one\"\ndelay = \"100ms\"\njitter = \"10ms\"")]
    #[case("kind = \"clock-skew\"\ntarget = \"zk-1\"\noffset = \"+1h\"")]
    #[case(
        "kind = \"clock-skew\"\ntarget = \"zk-1\"\noffset = \"-10m\"\nclock = \"strobe\"\nperiod = \"2s\""
    )]
    #[case("kind = \"memory\"\ntarget = \"one\"\nmemory = \"256MiB\"")]
    #[case("kind = \"cpu\"\ntarget = \"one\"\ncpus = 0.2")]
    fn valid_parameters_pass(#[case] fault: &str) {
        parse("p.toml", &zk_fault(fault)).unwrap();
    }

    #[rstest]
    #[case(
        "kind = \"kill\"\ntarget = \"one\"\nloss = 30",
        "`loss` does not apply to a kill fault"
    )]
    #[case("kind = \"packet-loss\"\ntarget = \"one\"", "needs `loss`")]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 130",
        "not a percentage"
    )]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nports = []",
        "`ports` is empty"
    )]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nports = [0]",
        "port 0 is not a port number"
    )]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nports = [9995, 70000]",
        "port 70000 is not a port number"
    )]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nports = [9995, 9995]",
        "listed twice"
    )]
    #[case(
        "kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nprotocol = \"sctp\"",
        "`tcp`, `udp`, `all`"
    )]
    #[case(
        "kind = \"partition\"\ntarget = \"one\"\nports = [2181]",
        "`ports` does not apply to a partition fault"
    )]
    #[case(
        "kind = \"latency\"\ntarget = \"one\"\ndelay = \"100ms\"\nprotocol = \"udp\"",
        "`protocol` does not apply to a latency fault"
    )]
    #[case(
        "kind = \"bandwidth\"\ntarget = \"one\"\nrate = \"fast\"",
        "not a rate"
    )]
    #[case("kind = \"cpu\"\ntarget = \"one\"\ncpus = 0", "not a CPU share")]
    #[case(
        "kind = \"clock-skew\"\ntarget = \"one\"\noffset = \"+1h\"\nclock = \"strobe\"",
        "needs `period`"
    )]
    #[case(
        "kind = \"partition\"\ntarget = \"one\"\nshape = \"halves\"",
        "its target is `all`"
    )]
    #[case(
        "kind = \"partition\"\ntarget = \"one\"\npeers = [\"pulsar\"]",
        "unknown peer `pulsar`"
    )]
    #[case("kind = \"disk-full\"\ntarget = \"one\"", "add disk = ")]
    #[case("kind = \"memory\"\ntarget = \"one\"\nmemory = \"1MiB\"", "below")]
    #[case(
        "kind = \"kill\"\ntarget = \"one\"\nversion = \"3.9\"",
        "`version` does not apply to a kill fault"
    )]
    fn bad_parameters_are_refused(#[case] fault: &str, #[case] expected: &str) {
        let err = parse("p.toml", &zk_fault(fault)).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }

    /// An upgrade step: one-shot, so no `duration`.
    fn zk_step(step: &str) -> String {
        zk_fault(step).replace("duration = \"5s\"\n", "")
    }

    #[rstest]
    #[case("kind = \"upgrade\"\ntarget = \"all\"\nversion = \"3.9\"")]
    #[case(
        "kind = \"upgrade\"\ntarget = \"all\"\nversion = \"3.8\"\norder = \"listed\"\nrejoin = \"60s\"\nsettle = \"15s\""
    )]
    #[case("kind = \"upgrade\"\ntarget = \"all\"\nimage = \"chaosbed-contract/zookeeper\"")]
    fn valid_upgrade_steps_pass(#[case] step: &str) {
        if step.contains("image") {
            let scenario = parse("p.toml", &zk_step(step)).unwrap();
            let params = scenario.faults[0].params();
            assert_eq!(params.upgrade_to(), Some("chaosbed-contract/zookeeper"));
            return;
        }
        let text = zk_step(step);
        let scenario = parse("p.toml", &text).unwrap();
        assert_eq!(
            scenario.faults[0].params().version.as_deref(),
            Some(step.split('"').nth(5).unwrap())
        );
    }

    #[rstest]
    #[case("kind = \"upgrade\"\ntarget = \"all\"", "needs `version`")]
    #[case(
        "kind = \"upgrade\"\ntarget = \"all\"\nversion = \"4.2-beta\"",
        "versions: 3.8.0, 3.9.5, or any release of zookeeper on Maven Central"
    )]
    #[case(
        "kind = \"upgrade\"\ntarget = \"all\"\nversion = \"3.9\"\nrejoin = \"0s\"",
        "no node time"
    )]
    #[case(
        "kind = \"upgrade\"\ntarget = \"all\"\nversion = \"3.9\"\norder = \"random\"",
        "followers-first"
    )]
    #[case(
        "kind = \"upgrade\"\ntarget = \"all\"\nversion = \"3.9\"\nimage = \"my/zk:1\"",
        "both `version` and `image`"
    )]
    #[case(
        "kind = \"upgrade\"\ntarget = \"all\"\nimage = \"chaosbed-contract/zk\"",
        "contract images: chaosbed-contract/zookeeper"
    )]
    fn bad_upgrade_steps_are_refused(#[case] step: &str, #[case] expected: &str) {
        let err = parse("p.toml", &zk_step(step)).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }

    #[test]
    fn a_bad_port_points_at_the_ports_list() {
        let text =
            zk_fault("kind = \"packet-loss\"\ntarget = \"one\"\nloss = 100\nports = [9995, 0]");
        let line = text.lines().position(|l| l.starts_with("ports")).unwrap() + 1;
        let err = parse("p.toml", &text).unwrap_err().to_string();
        assert!(err.contains(&format!("p.toml:{line}:9")), "{err}");
        assert!(err.contains("1 to 65535"), "{err}");
    }

    #[test]
    fn an_unknown_upgrade_version_points_at_its_value() {
        let text = zk_step("kind = \"upgrade\"\ntarget = \"all\"\nversion = \"4.2\"");
        let line = text.lines().position(|l| l.starts_with("version")).unwrap() + 1;
        let err = parse("p.toml", &text).unwrap_err().to_string();
        assert!(err.contains(&format!("p.toml:{line}:11")), "{err}");
    }
}

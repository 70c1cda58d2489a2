//! Semantic checks of a parsed scenario: things TOML accepts but no run could do.

use super::error::{Diagnostics, ScenarioError};
use super::fault::FaultKind;
use super::model::{CheckSpec, Scenario, SystemKind, SystemSpec, Target};

const MAX_NODES: u32 = 9;

/// Refuses scenarios that are valid TOML but impossible, each error pointing at its line.
pub(super) fn validate(file: &str, source: &str, scenario: &Scenario) -> Result<(), ScenarioError> {
    let mut out = Diagnostics::new(file, source);
    if scenario.name.trim().is_empty() {
        out.error(0..0, "the scenario has an empty `name`", None);
    }
    check_topology(scenario, &mut out);
    check_workload(scenario, &mut out);
    check_faults(scenario, &mut out);
    check_checks(scenario, &mut out);
    super::random::check_random(scenario, &mut out);
    out.finish()
}

/// The systems a scenario declares, with their specs and the span of their tables.
pub fn systems(scenario: &Scenario) -> Vec<(SystemKind, &SystemSpec, std::ops::Range<usize>)> {
    scenario
        .topology
        .spanned()
        .map(|(kind, spec)| (kind, spec.get_ref(), spec.span()))
        .collect()
}

fn check_topology(scenario: &Scenario, out: &mut Diagnostics) {
    let systems = systems(scenario);
    if systems.is_empty() {
        out.error(
            0..0,
            "the topology declares no system",
            Some(format!(
                "add a table such as [topology.zookeeper]; systems: {}",
                names(SystemKind::names().into_iter())
            )),
        );
    }
    let declared: Vec<SystemKind> = systems.iter().map(|(k, _, _)| *k).collect();
    for (kind, spec, span) in systems {
        for needed in kind.needs() {
            if !declared.contains(needed) {
                out.error(
                    span.clone(),
                    format!("{kind} needs {needed}, but the topology does not declare it"),
                    Some(format!("add [topology.{needed}]")),
                );
            }
        }
        let choices = kind.needs_one_of();
        if !choices.is_empty() && !choices.iter().any(|c| declared.contains(c)) {
            let listed: Vec<String> = choices.iter().map(|c| format!("[topology.{c}]")).collect();
            out.error(
                span.clone(),
                format!(
                    "{kind} needs one of {}, but the topology declares none",
                    names(choices.iter().map(|c| c.name()))
                ),
                Some(format!("add {}", listed.join(" or "))),
            );
        }
        let nodes = *spec.nodes.get_ref();
        let nodes_span = if spec.nodes.span().is_empty() {
            span.clone()
        } else {
            spec.nodes.span()
        };
        if nodes == 0 || nodes > MAX_NODES {
            out.error(
                nodes_span,
                format!("{kind} cannot have {nodes} nodes"),
                Some(format!(
                    "use 1 to {MAX_NODES} nodes (3 is the usual ensemble)"
                )),
            );
        }
        if let Some(start) = &spec.start
            && *start.get_ref() > nodes
        {
            out.error(
                start.span(),
                format!(
                    "start = {} asks for more nodes than the {nodes}-node {kind} ensemble has",
                    start.get_ref()
                ),
                Some(format!("start at most {nodes} nodes, or raise `nodes`")),
            );
        }
        let node_names = crate::system::node_names(kind, nodes);
        for name in spec.node.keys() {
            if !node_names.contains(name) {
                out.error(
                    span.clone(),
                    format!("[topology.{kind}.node.{name}] names no node of this {kind}"),
                    Some(format!("its nodes are {}", node_names.join(", "))),
                );
            }
        }
        if spec.version.is_some() && spec.image.is_some() {
            out.error(
                span.clone(),
                format!("{kind} names both `version` and `image`"),
                Some("use `version` for a locally built image or `image` for one you pulled, not both".into()),
            );
        }
        for (key, value) in &spec.config {
            if let Some(known) = crate::system::known_config_key(kind, key)
                && let Some((message, help)) =
                    crate::system::config_keys::refuse(known, value.get_ref())
            {
                out.error(value.span(), format!("{kind} config {message}"), Some(help));
            }
        }
        if let Some(known) = spec
            .image
            .as_deref()
            .and_then(crate::image::contract::unknown)
        {
            out.error(
                span.clone(),
                format!(
                    "{kind} names image `{}`, which is no contract image of chaosbed's",
                    spec.image.as_deref().unwrap_or_default()
                ),
                Some(format!("contract images: {known}")),
            );
        }
        if let Some(version) = &spec.version
            && let Some((message, help)) = crate::image::refuse_version(kind.name(), version)
        {
            out.error(span.clone(), message, Some(help));
        }
    }
}

/// A `container` workload names its system and one image source; the other kinds use none of
/// the container keys.
fn check_container(scenario: &Scenario, out: &mut Diagnostics) -> bool {
    let workload = &scenario.workload;
    let span = workload.duration.span();
    if workload.kind != super::WorkloadKind::Container {
        let set: Vec<&str> = [
            ("system", workload.system.is_some()),
            ("image", workload.image.is_some()),
            ("build", workload.build.is_some()),
            ("command", workload.command.is_some()),
            ("env", !workload.env.is_empty()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        if !set.is_empty() {
            out.error(
                span,
                format!(
                    "workload {} has no use for {}",
                    workload.kind.name(),
                    set.join(", ")
                ),
                Some("those keys are for kind = \"container\", a client of your own".into()),
            );
        }
        return true;
    }
    let mut ok = true;
    if workload.system.is_none() {
        out.error(
            span.clone(),
            "a container workload needs `system`: the system its client drives",
            Some("e.g. system = \"zookeeper\" (the checks judge that system's nodes)".into()),
        );
        ok = false;
    }
    match (&workload.image, &workload.build) {
        (Some(image), Some(_)) => out.error(
            image.span(),
            "a container workload names both `image` and `build`",
            Some(
                "use `image` for an image the engine has, `build` for a directory to build".into(),
            ),
        ),
        (None, None) => out.error(
            span.clone(),
            "a container workload needs `image` or `build`",
            Some(
                "image = \"my/client:1\" (in the engine), or build = \"client\" (a directory with \
                 a Dockerfile, relative to the scenario file)"
                    .into(),
            ),
        ),
        (Some(image), None) if image.get_ref().trim().is_empty() => {
            out.error(image.span(), "`image` is empty", None)
        }
        _ => {}
    }
    if workload.command.as_ref().is_some_and(Vec::is_empty) {
        out.error(
            span,
            "`command` is empty",
            Some("leave it out to run the image's own command".into()),
        );
    }
    for key in workload.env.keys() {
        if key.starts_with("CHAOSBED_") {
            out.error(
                workload.duration.span(),
                format!("workload env {key} is chaosbed's own"),
                Some("chaosbed sets the CHAOSBED_* variables; name yours otherwise".into()),
            );
        }
    }
    ok
}

fn check_workload(scenario: &Scenario, out: &mut Diagnostics) {
    let workload = &scenario.workload;
    let needed = workload.system();
    if check_container(scenario, out)
        && !systems(scenario).iter().any(|(kind, _, _)| *kind == needed)
    {
        out.error(
            workload.duration.span(),
            format!("the workload needs a {needed} cluster, but the topology has none"),
            Some(format!("add [topology.{needed}]")),
        );
    }
    if workload.duration.get_ref().as_duration().is_zero() {
        out.error(
            workload.duration.span(),
            "the workload duration must be longer than zero",
            None,
        );
    }
    if !(workload.rate > 0.0 && workload.rate <= 10_000.0) {
        out.error(
            workload.duration.span(),
            format!("workload rate {} is out of range", workload.rate),
            Some("use an operation rate between 0 and 10000 per second".into()),
        );
    }
    if workload.clients == 0 || workload.clients > 64 {
        out.error(
            workload.duration.span(),
            format!("workload clients = {} is out of range", workload.clients),
            Some("use 1 to 64 clients".into()),
        );
    }
    if let Some(persistence) = workload.persistence {
        let bookies = scenario
            .topology
            .spec(crate::system::bookkeeper::KIND)
            .map_or(0, SystemSpec::node_count);
        let quorum = crate::system::pulsar::Quorum {
            ensemble: persistence.ensemble,
            write: persistence.write_quorum,
            ack: persistence.ack_quorum,
        };
        if let Err(why) = quorum.check(bookies) {
            out.error(
                workload.duration.span(),
                format!("[workload.persistence]: {why}"),
                Some("need ensemble >= write_quorum >= ack_quorum >= 1, and enough bookies".into()),
            );
        }
    }
    if workload.subscription == super::SubscriptionKind::Exclusive && workload.consumers > 1 {
        out.error(
            workload.duration.span(),
            format!(
                "an exclusive subscription admits one consumer, but the workload asks for {}",
                workload.consumers
            ),
            Some(
                "use consumers = 1, or subscription = \"shared\", \"failover\" or \"key-shared\""
                    .into(),
            ),
        );
    }
    if let Some(after) = &workload.after_faults {
        if scenario.faults.is_empty() && scenario.random.is_none() {
            out.error(
                after.span(),
                "after_faults ends the workload after the last fault, but there is none",
                Some("remove after_faults, or add a [[fault]]".into()),
            );
        }
        let needs = scenario
            .checks
            .iter()
            .filter_map(|check| match &check.get_ref().spec {
                super::CheckSpec::Recovery { within } => Some(("recovery", "within", *within)),
                super::CheckSpec::TraceQueries {
                    recover_within: Some(within),
                    ..
                } => Some(("trace-queries", "recover_within", *within)),
                _ => None,
            });
        for (check, key, bound) in needs {
            if after.get_ref().0 < bound.0 {
                out.error(
                    after.span(),
                    format!(
                        "after_faults = \"{}\" would end the workload before the {check} check's `{key} = \"{bound}\"` has passed after the last heal",
                        after.get_ref()
                    ),
                    Some(format!("use after_faults = \"{bound}\" or more")),
                );
            }
        }
    }
    if workload.readers > 0 && workload.readers >= workload.clients {
        out.error(
            workload.duration.span(),
            format!(
                "readers = {} leaves no client to write ({} clients)",
                workload.readers, workload.clients
            ),
            Some("use fewer readers than clients".into()),
        );
    }
    if !(0.0..=1.0).contains(&workload.read_ratio) {
        out.error(
            workload.duration.span(),
            format!("read_ratio {} is not a fraction", workload.read_ratio),
            Some("use a value from 0.0 to 1.0".into()),
        );
    }
    if workload.kind == super::WorkloadKind::PinpointUdpSpans {
        check_udp_spans(scenario, out);
    }
}

/// chaosbed's own Pinpoint agents: their spans are only found through a web, and a pace the
/// collectors' span queues cannot take would lose spans with no fault to blame.
fn check_udp_spans(scenario: &Scenario, out: &mut Diagnostics) {
    let workload = &scenario.workload;
    let web = crate::system::pinpoint::web::KIND;
    if !scenario.topology.has(web) {
        out.error(
            workload.duration.span(),
            format!(
                "the {} workload finds each span through the Pinpoint web, but the topology has no {web}",
                workload.kind.name()
            ),
            Some(format!("add [topology.{web}]")),
        );
    }
    let most = crate::workload::traces::UDP_MAX_RATE;
    if workload.rate > most {
        out.error(
            workload.duration.span(),
            format!(
                "rate = {} spans/s is more than a collector's span queue takes from UDP without dropping some silently",
                workload.rate
            ),
            Some(format!("use rate = {most} or less")),
        );
    }
}

fn check_faults(scenario: &Scenario, out: &mut Diagnostics) {
    let end = *scenario.workload.duration.get_ref();
    let systems = systems(scenario);
    for fault in &scenario.faults {
        let kind = *fault.kind.get_ref();
        let at = *fault.at.get_ref();
        if at >= end {
            out.error(
                fault.at.span(),
                format!("this {kind} fault fires at {at}, but the workload ends at {end}"),
                Some(format!(
                    "schedule it before {end}, or lengthen the workload"
                )),
            );
        }
        if let Some(duration) = &fault.duration {
            if !kind.heals() {
                out.error(
                    duration.span(),
                    format!("a {kind} fault has nothing to heal, so it takes no `duration`"),
                    Some("remove `duration`; kill, stop and pause take one".into()),
                );
            } else if at.0 + duration.get_ref().0 > end.0 {
                out.error(
                    duration.span(),
                    format!(
                        "this {kind} fault would heal at {}, after the workload ends at {end}",
                        super::Dur(at.0 + duration.get_ref().0)
                    ),
                    Some("shorten it, or lengthen the workload".into()),
                );
            }
        }
        let system = fault.system(scenario.workload.system());
        if let Some(role_system) = fault.target.get_ref().role_system()
            && role_system != system
        {
            out.error(
                fault.target.span(),
                format!(
                    "target `{}` selects {role_system} nodes, but this fault is on {system}",
                    fault.target.get_ref()
                ),
                Some(format!("remove `system`, or set it to \"{role_system}\"")),
            );
            continue;
        }
        let Some((_, spec, _)) = systems.iter().find(|(k, _, _)| *k == system) else {
            out.error(
                fault.target.span(),
                format!("this fault targets {system}, which the topology does not declare"),
                None,
            );
            continue;
        };
        if let Target::Node(name) = fault.target.get_ref()
            && fault.system.is_none()
            && let Some((owner, _, _)) = systems.iter().find(|(k, s, _)| {
                *k != system && crate::system::node_names(*k, s.node_count()).contains(name)
            })
        {
            out.error(
                fault.target.span(),
                format!(
                    "`{name}` is a node of {owner}, but this fault is on the workload's system, \
                     {system}"
                ),
                Some(format!("add system = \"{owner}\" to this [[fault]]")),
            );
            continue;
        }
        check_target(system, spec, kind, &fault.target, out);
        super::validate_params::check_params(&systems, fault, system, out);
    }
}

pub(super) fn check_target(
    system: SystemKind,
    spec: &SystemSpec,
    kind: FaultKind,
    target: &serde_spanned::Spanned<Target>,
    out: &mut Diagnostics,
) {
    let nodes = spec.node_count();
    let node_names: Vec<String> = (1..=nodes)
        .map(|i| format!("{}-{i}", system.node_prefix()))
        .collect();
    let never = |why: String| {
        (
            format!("target `{}` can never match: {why}", target.get_ref()),
            None,
        )
    };
    let problem: Option<(String, Option<String>)> = match target.get_ref() {
        Target::Node(name) if !node_names.contains(name) => Some((
            format!("unknown target `{name}`: the {nodes}-node {system} ensemble has no such node"),
            Some(format!(
                "targets: {}, or a node name: {}",
                Target::KEYWORDS.join(", "),
                node_names.join(", ")
            )),
        )),
        Target::Follower | Target::Followers if nodes < 2 => {
            Some(never(format!("a {nodes}-node {system} has no followers")))
        }
        Target::Minority if nodes < 2 => {
            Some(never(format!("a {nodes}-node {system} has no minority")))
        }
        Target::Down if kind != FaultKind::Start => Some(never(format!(
            "a {kind} fault needs running nodes, and `down` selects nodes that are not running"
        ))),
        Target::Down if spec.started_count() == nodes => Some((
            format!("target `down` can never match: all {nodes} nodes start at setup"),
            Some("set `start` in the topology to start fewer nodes".into()),
        )),
        _ => None,
    };
    if let Some((message, help)) = problem {
        out.error(target.span(), message, help);
    }
}

fn check_checks(scenario: &Scenario, out: &mut Diagnostics) {
    if scenario.checks.is_empty() {
        out.error(
            scenario.workload.duration.span(),
            "the scenario has no [[check]]; a run without checks proves nothing",
            Some(format!("checks: {}", CheckSpec::KINDS.join(", "))),
        );
    }
    for check in &scenario.checks {
        let feeding = check.get_ref().workloads();
        if !feeding.is_empty() && !feeding.contains(&scenario.workload.kind) {
            let names: Vec<&str> = feeding.iter().map(|w| w.name()).collect();
            out.error(
                check.span(),
                format!(
                    "the {} check reads what the {} workload records, but this scenario runs {}",
                    check.get_ref().name(),
                    names.join(" or "),
                    scenario.workload.kind.name()
                ),
                Some(format!(
                    "use kind = \"{}\" in [workload], or drop this check",
                    names.join("\" or \"")
                )),
            );
        }
        if check.get_ref().because.is_some() && check.get_ref().expect == super::Expect::Valid {
            out.error(
                check.span(),
                "`because` names why a negative control fails, but this check expects valid",
                Some("add verdict = \"invalid\", or remove `because`".into()),
            );
        }
        if matches!(check.get_ref().spec, CheckSpec::Recovery { .. })
            && scenario.faults.is_empty()
            && scenario.random.is_none()
        {
            out.error(
                check.span(),
                "a recovery check needs at least one [[fault]] to recover from",
                Some("add a [[fault]], or a [random] table to draw faults from".into()),
            );
        }
    }
}

fn names<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn scenario(topology: &str, faults: &str) -> String {
        format!(
            "name = \"t\"\ntier = \"full\"\n{topology}\n[workload]\nkind = \"zk-register\"\nduration = \"30s\"\n{faults}\n[[check]]\nkind = \"quorum\"\n"
        )
    }

    const ZK3: &str = "[topology.zookeeper]\nnodes = 3\n";

    fn error_of(text: &str) -> String {
        parse("v.toml", text).unwrap_err().to_string()
    }

    fn container(workload: &str, check: &str) -> String {
        format!(
            "name = \"t\"\ntier = \"full\"\n{ZK3}\n[workload]\nkind = \"container\"\nduration = \"30s\"\n\
             {workload}\n[[check]]\nkind = \"{check}\"\n"
        )
    }

    #[test]
    fn a_container_workload_names_its_system_and_one_image_source() {
        let ok = parse(
            "v.toml",
            &container(
                "system = \"zookeeper\"\nimage = \"my/client:1\"",
                "no-lost-writes",
            ),
        )
        .unwrap();
        assert_eq!(ok.workload.system(), crate::system::zookeeper::KIND);
        let err = error_of(&container("image = \"my/client:1\"", "quorum"));
        assert!(err.contains("needs `system`"), "{err}");
        let err = error_of(&container("system = \"zookeeper\"", "quorum"));
        assert!(err.contains("needs `image` or `build`"), "{err}");
        let err = error_of(&container(
            "system = \"zookeeper\"\nimage = \"a\"\nbuild = \"b\"",
            "quorum",
        ));
        assert!(err.contains("both `image` and `build`"), "{err}");
        let err = error_of(&container("system = \"pulsar\"\nimage = \"a\"", "quorum"));
        assert!(err.contains("needs a pulsar cluster"), "{err}");
        let err = error_of(&container(
            "system = \"zookeeper\"\nimage = \"a\"\nenv = { CHAOSBED_ZOOKEEPER = \"x\" }",
            "quorum",
        ));
        assert!(err.contains("chaosbed's own"), "{err}");
        // Checks a client feeds by reporting their operations are allowed; the traces check,
        // fed by chaosbed's own reader, is not.
        let err = error_of(&container(
            "system = \"zookeeper\"\nimage = \"a\"",
            "traces",
        ));
        assert!(err.contains("the traces check reads what"), "{err}");
    }

    #[test]
    fn container_keys_on_another_workload_are_refused() {
        let text = scenario(ZK3, "").replace(
            "duration = \"30s\"",
            "duration = \"30s\"\nimage = \"my/client:1\"",
        );
        let err = error_of(&text);
        assert!(
            err.contains("workload zk-register has no use for image"),
            "{err}"
        );
    }

    #[test]
    fn a_node_that_does_not_exist_is_refused_with_the_valid_names() {
        let err = error_of(&scenario(
            ZK3,
            "[[fault]]\nkind = \"kill\"\ntarget = \"zk-4\"\nat = \"5s\"\n",
        ));
        assert!(err.contains("v.toml:11:10"), "{err}");
        assert!(err.contains("zk-1, zk-2, zk-3"), "{err}");
        assert!(err.contains("leader"), "{err}");
    }

    #[test]
    fn a_known_config_key_with_a_value_of_the_wrong_type_is_refused_at_the_value() {
        let text = "name = \"t\"\ntier = \"full\"\n[topology.zookeeper]\nnodes = 3\n\
            [topology.zookeeper.config]\ntickTime = \"fast\"\nsomethingElse = \"fast\"\n\
            [workload]\nkind = \"zk-register\"\nduration = \"30s\"\n\
            [[check]]\nkind = \"quorum\"\n";
        let err = error_of(text);
        assert!(err.contains("v.toml:6:12"), "{err}");
        assert!(
            err.contains("zookeeper config `tickTime = \"fast\"`: tickTime takes a whole number"),
            "{err}"
        );
        assert!(err.contains("for example tickTime = 10"), "{err}");
        assert!(
            !err.contains("somethingElse"),
            "an unknown key passes: {err}"
        );
        let fine = text.replace("tickTime = \"fast\"", "tickTime = 100");
        assert!(parse("v.toml", &fine).is_ok());
    }

    #[test]
    fn a_node_of_another_system_asks_for_its_system() {
        let text = "name = \"t\"\ntier = \"full\"\n[topology.zookeeper]\nnodes = 3\n\
            [topology.hbase]\nnodes = 1\n[topology.pinpoint-collector]\nnodes = 1\n\
            [topology.pinpoint-web]\nnodes = 1\n[topology.pinpoint-agent-app]\nnodes = 1\n\
            [workload]\nkind = \"pinpoint-requests\"\nduration = \"30s\"\n\
            [[fault]]\nkind = \"stop\"\ntarget = \"hbase-1\"\nat = \"5s\"\n\
            [[check]]\nkind = \"traces\"\n";
        let err = error_of(text);
        assert!(err.contains("`hbase-1` is a node of hbase"), "{err}");
        assert!(err.contains("add system = \"hbase\""), "{err}");
    }

    #[test]
    fn after_faults_must_outlast_the_recovery_bound_and_needs_a_fault() {
        let fault =
            "[[fault]]\nkind = \"kill\"\ntarget = \"one\"\nat = \"5s\"\nduration = \"5s\"\n";
        let with_recovery = |after: &str, faults: &str| {
            scenario(ZK3, faults).replace(
                "duration = \"30s\"",
                &format!("duration = \"30s\"\nafter_faults = \"{after}\""),
            ) + "[[check]]\nkind = \"recovery\"\nwithin = \"10s\"\n"
        };
        let err = error_of(&with_recovery("5s", fault));
        assert!(err.contains("v.toml:9:16"), "{err}");
        assert!(err.contains("recovery check's `within = \"10s\"`"), "{err}");
        assert!(err.contains("after_faults = \"10s\" or more"), "{err}");
        assert!(parse("v.toml", &with_recovery("10s", fault)).is_ok());
        let err = error_of(&with_recovery("10s", ""));
        assert!(err.contains("there is none"), "{err}");
    }

    #[test]
    fn readers_must_leave_a_client_to_write() {
        let with_readers = |readers: u32| {
            scenario(ZK3, "").replace(
                "duration = \"30s\"",
                &format!("duration = \"30s\"\nclients = 3\nreaders = {readers}"),
            )
        };
        let err = error_of(&with_readers(3));
        assert!(
            err.contains("readers = 3 leaves no client to write (3 clients)"),
            "{err}"
        );
        assert!(crate::scenario::parse("v.toml", &with_readers(2)).is_ok());
    }

    #[test]
    fn because_belongs_to_a_negative_control() {
        let text = scenario(ZK3, "").replace(
            "kind = \"quorum\"",
            "kind = \"quorum\"\nbecause = \"two leaders\"",
        );
        let err = error_of(&text);
        assert!(err.contains("add verdict = \"invalid\""), "{err}");
        let text = text.replace("because", "verdict = \"invalid\"\nbecause");
        assert!(parse("v.toml", &text).is_ok());
    }

    #[test]
    fn a_check_of_another_workload_is_refused() {
        let text = scenario(ZK3, "").replace("kind = \"quorum\"", "kind = \"traces\"");
        let err = error_of(&text);
        assert!(err.contains("skywalking-traces"), "{err}");
        assert!(err.contains("zk-register"), "{err}");
    }

    #[test]
    fn more_started_nodes_than_the_ensemble_has_is_refused() {
        let err = error_of(&scenario(
            "[topology.zookeeper]\nnodes = 3\nstart = 4\n",
            "",
        ));
        assert!(err.contains("start = 4"), "{err}");
        assert!(err.contains(":5:9"), "{err}");
    }

    #[test]
    fn a_fault_after_the_workload_ends_is_refused() {
        let err = error_of(&scenario(
            ZK3,
            "[[fault]]\nkind = \"kill\"\ntarget = \"one\"\nat = \"45s\"\n",
        ));
        assert!(
            err.contains("fires at 45s, but the workload ends at 30s"),
            "{err}"
        );
    }

    #[test]
    fn a_fault_healing_after_the_workload_ends_is_refused() {
        let err = error_of(&scenario(
            ZK3,
            "[[fault]]\nkind = \"pause\"\ntarget = \"one\"\nat = \"25s\"\nduration = \"10s\"\n",
        ));
        assert!(err.contains("would heal at 35s"), "{err}");
    }

    #[test]
    fn followers_of_a_single_node_can_never_match() {
        let err = error_of(&scenario(
            "[topology.zookeeper]\nnodes = 1\n",
            "[[fault]]\nkind = \"kill\"\ntarget = \"follower\"\nat = \"5s\"\n",
        ));
        assert!(err.contains("can never match"), "{err}");
    }

    #[test]
    fn restart_takes_no_duration() {
        let err = error_of(&scenario(
            ZK3,
            "[[fault]]\nkind = \"restart\"\ntarget = \"one\"\nat = \"5s\"\nduration = \"5s\"\n",
        ));
        assert!(err.contains("nothing to heal"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let err = parse(
            "v.toml",
            &scenario(
                ZK3,
                "[[fault]]\nkind = \"kill\"\ntarget = \"zk-9\"\nat = \"50s\"\n",
            ),
        )
        .unwrap_err();
        assert_eq!(err.diagnostics.len(), 2, "{err}");
    }

    #[test]
    fn pinpoint_tables_start_after_their_needs_and_name_what_is_missing() {
        let pinpoint = "[topology.zookeeper]\n[topology.hbase]\nnodes = 1\n\
            [topology.pinpoint-collector]\nnodes = 1\n[topology.pinpoint-web]\nnodes = 1\n\
            [topology.pinpoint-agent-app]\nnodes = 1\n";
        let parsed = parse("v.toml", &scenario(pinpoint, "")).unwrap();
        let order: Vec<_> = super::systems(&parsed).iter().map(|(k, _, _)| *k).collect();
        assert_eq!(
            order,
            [
                crate::system::zookeeper::KIND,
                crate::system::hbase::KIND,
                crate::system::pinpoint::collector::KIND,
                crate::system::pinpoint::web::KIND,
                crate::system::pinpoint::app::KIND,
            ]
        );
        let err = error_of(&scenario(
            "[topology.zookeeper]\n[topology.pinpoint-agent-app]\nnodes = 1\n",
            "",
        ));
        assert!(
            err.contains("pinpoint-agent-app needs pinpoint-collector"),
            "{err}"
        );
        assert!(err.contains("add [topology.pinpoint-collector]"), "{err}");
    }

    #[test]
    fn an_unknown_version_lists_the_built_ones() {
        let err = error_of(&scenario("[topology.zookeeper]\nversion = \"2.0\"\n", ""));
        assert!(err.contains("version `2.0`"), "{err}");
        assert!(err.contains("3.8"), "{err}");
    }

    fn udp_spans(topology: &str, rate: &str, checks: &str) -> String {
        format!(
            "name = \"t\"\ntier = \"full\"\n[topology.zookeeper]\n[topology.hbase]\nnodes = 1\n\
             [topology.pinpoint-collector]\nnodes = 2\n{topology}\n[workload]\n\
             kind = \"pinpoint-udp-spans\"\nclients = 2\nrate = {rate}\nduration = \"30s\"\n{checks}"
        )
    }

    #[test]
    fn udp_spans_run_on_collectors_and_a_web_without_the_agent_app() {
        let web = "[topology.pinpoint-web]\nnodes = 1\n";
        let checks = "[[check]]\nkind = \"traces\"\n[[check]]\nkind = \"trace-queries\"\n";
        let parsed = parse("v.toml", &udp_spans(web, "100", checks)).unwrap();
        assert_eq!(
            parsed.workload.system(),
            crate::system::pinpoint::collector::KIND
        );

        let err = error_of(&udp_spans("", "100", checks));
        assert!(
            err.contains("pinpoint-udp-spans workload finds each span through the Pinpoint web"),
            "{err}"
        );
        assert!(err.contains("add [topology.pinpoint-web]"), "{err}");

        let err = error_of(&udp_spans(web, "2000", checks));
        assert!(err.contains("rate = 2000 spans/s"), "{err}");
        assert!(err.contains("use rate = 500 or less"), "{err}");
        assert!(parse("v.toml", &udp_spans(web, "500", checks)).is_ok());

        let err = error_of(&udp_spans(web, "100", "[[check]]\nkind = \"delivery\"\n"));
        assert!(err.contains("delivery"), "{err}");

        let collectorless =
            udp_spans(web, "100", checks).replace("[topology.pinpoint-collector]\nnodes = 2\n", "");
        let err = error_of(&collectorless);
        assert!(err.contains("pinpoint-collector"), "{err}");
    }
}

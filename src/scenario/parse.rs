//! Reading a scenario file: TOML into the typed model, then the semantic checks.

use std::path::Path;

use super::error::ScenarioError;
use super::model::Scenario;
use super::validate::validate;

/// Reads, parses and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::whole_file(&file, format!("cannot read the file: {e}")))?;
    let mut scenario = parse(&file, &source)?;
    resolve_build(path, &file, &source, &mut scenario)?;
    Ok(scenario)
}

/// A container workload's `build` directory, relative to the scenario file, made absolute; it
/// must hold a Dockerfile.
fn resolve_build(
    path: &Path,
    file: &str,
    source: &str,
    scenario: &mut Scenario,
) -> Result<(), ScenarioError> {
    let Some(build) = &scenario.workload.build else {
        return Ok(());
    };
    let dir = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(build.get_ref());
    if !dir.join("Dockerfile").is_file() {
        return Err(ScenarioError::at(
            file,
            source,
            build.span(),
            format!(
                "build = {:?}: {} holds no Dockerfile (the path is relative to the scenario file)",
                build.get_ref(),
                dir.display()
            ),
        ));
    }
    let absolute = std::fs::canonicalize(&dir).unwrap_or(dir);
    scenario.workload.build = Some(serde_spanned::Spanned::new(
        build.span(),
        absolute.display().to_string(),
    ));
    Ok(())
}

/// Parses and validates scenario text; `file` names it in errors.
pub fn parse(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(source).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ScenarioError::at(file, source, span, explain(e.message()))
    })?;
    validate(file, source, &scenario)?;
    Ok(scenario)
}

/// Rewords serde's messages so that they name the scenario vocabulary.
fn explain(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field") {
        // Only the topology table lists system names as its keys.
        if rest.contains("expected `zookeeper`") || rest.contains("`zookeeper`, `") {
            return format!("unknown system{rest}");
        }
        return format!("unknown key{rest}");
    }
    if let Some(rest) = message.strip_prefix("unknown variant") {
        return format!("unknown kind{rest}");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{FaultKind, Target, Tier};

    #[test]
    fn a_container_clients_build_directory_is_found_beside_the_scenario_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clients/mine")).unwrap();
        let text = "name = \"t\"\ntier = \"full\"\n[topology.zookeeper]\nnodes = 3\n\
            [workload]\nkind = \"container\"\nsystem = \"zookeeper\"\n\
            build = \"clients/mine\"\nduration = \"30s\"\n[[check]]\nkind = \"quorum\"\n";
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("s.toml:8:9"), "{err}");
        assert!(err.contains("holds no Dockerfile"), "{err}");
        std::fs::write(dir.path().join("clients/mine/Dockerfile"), "FROM x\n").unwrap();
        let scenario = load(&path).unwrap();
        let build = scenario.workload.build.unwrap().into_inner();
        assert!(std::path::Path::new(&build).is_absolute(), "{build}");
        assert!(build.ends_with("clients/mine"), "{build}");
    }

    const VALID: &str = r#"
name = "zk-leader-kill"
description = "the leader is killed under load"
tier = "smoke"
seed = 7

[topology.zookeeper]
nodes = 3
version = "3.8"

[topology.zookeeper.config]
tickTime = 2000

[workload]
kind = "zk-register"
clients = 3
rate = 20
duration = "30s"

[[fault]]
kind = "kill"
target = "leader"
at = "10s"
duration = "10s"

[[check]]
kind = "quorum"

[[check]]
kind = "recovery"
within = "20s"
"#;

    fn first_error(source: &str) -> String {
        parse("bad.toml", source).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_scenario_parses() {
        let s = parse("ok.toml", VALID).unwrap();
        assert_eq!(s.tier, Tier::Smoke);
        assert_eq!(s.faults.len(), 1);
        assert_eq!(*s.faults[0].kind.get_ref(), FaultKind::Kill);
        assert_eq!(*s.faults[0].target.get_ref(), Target::Leader);
        assert_eq!(s.checks.len(), 2);
    }

    #[test]
    fn an_unknown_fault_kind_names_line_and_choices() {
        let err = first_error(&VALID.replace("kind = \"kill\"", "kind = \"kil\""));
        assert!(err.contains("bad.toml:21:8"), "{err}");
        assert!(err.contains("kill") && err.contains("pause"), "{err}");
    }

    #[test]
    fn an_unknown_system_is_named() {
        let err = first_error(&VALID.replace("[topology.zookeeper]", "[topology.zookeper]"));
        assert!(err.contains("unknown system `zookeper`"), "{err}");
        assert!(err.contains("bad.toml:7:"), "{err}");
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        let err = first_error(&VALID.replace("at = \"10s\"", "at = \"ten seconds\""));
        assert!(err.contains(":23:"), "{err}");
        assert!(err.contains("\"10s\""), "{err}");
    }

    #[test]
    fn a_node_override_must_name_a_node_of_its_system() {
        let own = "[topology.zookeeper.node.zk-3]\nenv = { ZOO_SERVERS = \"server.3=zk-3:2888:3888;2181\" }\n\n[workload]";
        let s = parse("ok.toml", &VALID.replacen("[workload]", own, 1)).unwrap();
        let zk = s.topology.spec(crate::system::zookeeper::KIND).unwrap();
        assert_eq!(
            zk.node["zk-3"].env["ZOO_SERVERS"],
            "server.3=zk-3:2888:3888;2181"
        );
        let err = first_error(&VALID.replacen("[workload]", &own.replace("zk-3]", "zk-4]"), 1));
        assert!(
            err.contains("[topology.zookeeper.node.zk-4] names no node of this zookeeper"),
            "{err}"
        );
        assert!(err.contains("zk-1, zk-2, zk-3"), "{err}");
    }

    #[test]
    fn a_namespace_persistence_must_fit_the_bookies() {
        let pulsar = |persistence: &str| {
            format!(
                "name = \"p\"\ndescription = \"d\"\ntier = \"full\"\nseed = 1\n\
                 [topology.zookeeper]\n[topology.bookkeeper]\n[topology.pulsar]\n\
                 [workload]\nkind = \"pulsar-produce-consume\"\nduration = \"30s\"\n\
                 [workload.persistence]\n{persistence}\n[[check]]\nkind = \"delivery\"\n"
            )
        };
        let ok = parse(
            "ok.toml",
            &pulsar("ensemble = 1\nwrite_quorum = 1\nack_quorum = 1"),
        )
        .unwrap();
        assert_eq!(ok.workload.persistence.unwrap().ensemble, 1);
        let err = first_error(&pulsar("ensemble = 4\nwrite_quorum = 2\nack_quorum = 2"));
        assert!(err.contains("[workload.persistence]"), "{err}");
        assert!(err.contains("needs at least 4 bookies"), "{err}");
        let err = first_error(&pulsar("ensemble = 2\nwrite_quorum = 1\nack_quorum = 2"));
        assert!(err.contains("ack quorum") || err.contains("ack"), "{err}");
    }

    #[test]
    fn an_unknown_check_kind_lists_the_kinds() {
        let err = first_error(&VALID.replace("kind = \"quorum\"", "kind = \"qorum\""));
        assert!(err.contains("no-lost-writes"), "{err}");
    }

    #[test]
    fn the_linearizable_check_takes_a_read_model_and_a_budget() {
        let s = parse(
            "ok.toml",
            &VALID.replace("kind = \"zk-register\"", "kind = \"zk-cas-register\"").replace(
                "kind = \"quorum\"",
                "kind = \"linearizable\"\nreads = \"sequential\"\ntime_limit = \"30s\"\nmemory_limit = \"512MiB\"",
            ),
        )
        .unwrap();
        assert_eq!(
            s.checks[0].get_ref().spec,
            crate::scenario::CheckSpec::Linearizable {
                reads: crate::scenario::ReadModel::Sequential,
                time_limit: crate::scenario::Dur::secs(30),
                memory_limit: crate::scenario::ByteSize(512 << 20),
            }
        );
        let s = parse(
            "ok.toml",
            &VALID
                .replace("kind = \"zk-register\"", "kind = \"zk-cas-register\"")
                .replace("kind = \"quorum\"", "kind = \"linearizable\""),
        )
        .unwrap();
        assert!(matches!(
            s.checks[0].get_ref().spec,
            crate::scenario::CheckSpec::Linearizable {
                reads: crate::scenario::ReadModel::Linearizable,
                ..
            }
        ));
        let err = first_error(
            &VALID
                .replace("kind = \"zk-register\"", "kind = \"zk-cas-register\"")
                .replace(
                    "kind = \"quorum\"",
                    "kind = \"linearizable\"\nreads = \"stale\"",
                ),
        );
        // Internally tagged: the span is the check's table.
        assert!(err.contains("bad.toml:26:1"), "{err}");
        assert!(
            err.contains(
                "unknown read model `stale`, expected one of `linearizable`, `sequential`"
            ),
            "{err}"
        );
    }

    #[test]
    fn invalid_toml_points_at_the_syntax_error() {
        let err = first_error("name = \"x\"\ntier = \n");
        assert!(err.contains("bad.toml:2:"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(text in "\\PC{0,400}") {
            let _ = parse("any.toml", &text);
        }

        #[test]
        fn no_mutation_of_a_valid_file_panics(start in 0usize..600, len in 0usize..40, insert in "\\PC{0,12}") {
            let start = start.min(VALID.len());
            let end = (start + len).min(VALID.len());
            if VALID.is_char_boundary(start) && VALID.is_char_boundary(end) {
                let mutated = format!("{}{insert}{}", &VALID[..start], &VALID[end..]);
                if let Err(e) = parse("mutated.toml", &mutated) {
                    let text = e.to_string();
                    proptest::prop_assert!(text.starts_with("error: mutated.toml:"), "{}", text);
                }
            }
        }
    }
}

//! Mutations of the healed check: one system's readiness probe after the heal made to fail, or
//! removed; on simulated runs of every shape (one system for ZooKeeper, three for Pulsar, four or
//! five for the trace stacks) and the recorded pp-collector-kill run.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::{CheckContext, Verdict, check};
use super::recorded::declaring;
use super::sim::{PulsarRun, RegisterRun, TraceRun};
use super::{CASES, RECORDED_CASES, config, expect, inject, nothing};
use crate::history::History;
use crate::scenario::CheckSpec;

const HEALED: CheckSpec = CheckSpec::Healed {
    expect_unhealed: None,
};

/// Makes one system's probe fail: not ready again, named.
fn failed_probe_caught(
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    expect(&HEALED, history, ctx, Verdict::Valid, what)?;
    let (mutated, system) =
        inject::fail_healed(history, at).ok_or_else(|| nothing(what, "fail"))?;
    let result = expect(&HEALED, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert!(
        result
            .summary
            .starts_with("not ready again after the heal: ")
            && result.summary.contains(&format!("{system} (")),
        "{}: {} not named: {}",
        what,
        system,
        result.summary
    );
    let listed = result.details["systems"].as_array().is_some_and(|all| {
        all.iter()
            .any(|s| s["system"] == json!(system) && s["ready"] == json!(false))
    });
    prop_assert!(listed, "{}: {}", what, result.details);
    Ok(())
}

/// Removes one system's probe. Found by this test and fixed: the check did not know which
/// systems the run has, so with two or more systems it judged the others alone and said "all N
/// systems ready" with one fewer. It now takes the run's systems from its context; with a single
/// system nothing is left and it says Unknown ("the run ended before it"), never valid.
fn missing_probe_caught(
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, system) =
        inject::drop_healed(history, at).ok_or_else(|| nothing(what, "drop"))?;
    let result = check(&HEALED, &mutated, ctx);
    prop_assert_ne!(
        result.verdict,
        Verdict::Valid,
        "{}: the probe of {} removed, yet: {}",
        what,
        system,
        result.summary
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn a_system_not_ready_after_the_heal_is_caught(
        register in RegisterRun::strategy(),
        pulsar in PulsarRun::strategy(),
        traces in TraceRun::strategy(),
        at in any::<Index>(),
    ) {
        failed_probe_caught(&register.history(), &register.ctx(), &at, "simulated zookeeper")?;
        failed_probe_caught(&pulsar.history(), &pulsar.ctx(), &at, "simulated pulsar")?;
        failed_probe_caught(&traces.history(), &traces.ctx(), &at, "simulated traces")?;
    }

    #[test]
    fn a_system_never_probed_after_the_heal_is_not_valid(
        register in RegisterRun::strategy(),
        pulsar in PulsarRun::strategy(),
        traces in TraceRun::strategy(),
        at in any::<Index>(),
    ) {
        missing_probe_caught(&register.history(), &register.ctx(), &at, "simulated zookeeper")?;
        missing_probe_caught(&pulsar.history(), &pulsar.ctx(), &at, "simulated pulsar")?;
        missing_probe_caught(&traces.history(), &traces.ctx(), &at, "simulated traces")?;
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_systems_not_ready_after_the_heal_are_caught(at in any::<Index>()) {
        for (recorded, _) in declaring("healed") {
            failed_probe_caught(&recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    #[test]
    fn recorded_systems_never_probed_after_the_heal_are_not_valid(at in any::<Index>()) {
        for (recorded, _) in declaring("healed") {
            missing_probe_caught(&recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }
}

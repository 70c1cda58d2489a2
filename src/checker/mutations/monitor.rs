//! Mutations of the Pulsar monitor checks: two owners of one bundle in one ownership sample
//! (topic-ownership) and a bookie missing from the last registered sample (bookies-registered),
//! on simulated Pulsar runs and the recorded pulsar-* runs.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::timeline::secs;
use super::super::{CheckContext, Verdict};
use super::recorded::declaring;
use super::sim::PulsarRun;
use super::{CASES, RECORDED_CASES, config, expect, inject, lists, nothing};
use crate::history::History;
use crate::scenario::CheckSpec;

/// Adds a second broker to a bundle one broker owns in one sample: named by time, bundle and
/// both owners.
fn two_owners_caught(
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, time, bundle, added) =
        inject::second_owner(history, at, &ctx.brokers).ok_or_else(|| nothing(what, "co-own"))?;
    let result = expect(
        &CheckSpec::TopicOwnership,
        &mutated,
        ctx,
        Verdict::Invalid,
        what,
    )?;
    let examples = &result.details["two_owners"]["examples"];
    let named = examples.as_array().is_some_and(|all| {
        all.iter().any(|e| {
            e["at"] == json!(secs(time))
                && e["topic"] == json!(bundle)
                && e["owners"]
                    .as_array()
                    .is_some_and(|owners| owners.len() == 2 && owners.contains(&json!(added)))
        })
    });
    prop_assert!(
        named,
        "{}: {} of {} at {} not named: {}",
        what,
        added,
        bundle,
        secs(time),
        examples
    );
    prop_assert_eq!(
        &result.details["two_owners"]["samples"],
        &json!(1),
        "{}",
        what
    );
    Ok(())
}

/// Removes one bookie from the last registered sample: missing at the end, and named.
fn missing_bookie_caught(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, bookie) =
        inject::drop_bookie_at_end(history, at).ok_or_else(|| nothing(what, "deregister"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert!(
        lists(&result.details["missing"], "bookie", &json!(bookie)),
        "{}: {} not named: {}",
        what,
        bookie,
        result.details["missing"]
    );
    prop_assert!(result.summary.contains(&bookie), "{}", result.summary);
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn two_owners_of_one_bundle_in_one_sample_are_caught(run in PulsarRun::strategy(), at in any::<Index>()) {
        two_owners_caught(&run.history(), &run.ctx(), &at, "simulated")?;
    }

    #[test]
    fn a_bookie_missing_from_the_last_sample_is_caught(run in PulsarRun::strategy(), at in any::<Index>()) {
        let spec = CheckSpec::BookiesRegistered { expected: None };
        missing_bookie_caught(&spec, &run.history(), &run.ctx(), &at, "simulated")?;
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_two_owners_of_one_bundle_are_caught(at in any::<Index>()) {
        for (recorded, _) in declaring("topic-ownership") {
            two_owners_caught(&recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    #[test]
    fn recorded_bookies_missing_at_the_end_are_caught(at in any::<Index>()) {
        for (recorded, spec) in declaring("bookies-registered") {
            missing_bookie_caught(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }
}

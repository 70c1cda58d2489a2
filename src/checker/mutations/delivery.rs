//! Mutations of the delivery check (Pulsar): a delivered message's deliveries dropped (lost), a
//! delivery duplicated beyond `max_duplicates`, two consecutive deliveries of one producer
//! swapped (reordered), a message dropped from the read-back; on simulated Pulsar runs and the
//! recorded pulsar-broker-kill and (thinned) pulsar-rolling-upgrade runs.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::{CheckContext, Verdict, check};
use super::recorded::declaring;
use super::sim::PulsarRun;
use super::{CASES, RECORDED_CASES, config, expect, inject, lists, nothing};
use crate::history::History;
use crate::scenario::CheckSpec;

fn delivery(max_duplicates: Option<u64>) -> CheckSpec {
    CheckSpec::Delivery { max_duplicates }
}

/// Drops every delivery of one acknowledged message: lost, and named by its id.
fn lost_message_named(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, id) = inject::drop_delivery(history, at).ok_or_else(|| nothing(what, "drop"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert_eq!(&result.details["lost"]["count"], &json!(1), "{}", what);
    prop_assert!(
        lists(&result.details["lost"]["examples"], "id", &json!(id)),
        "{}: {} not named: {}",
        what,
        id,
        result.summary
    );
    Ok(())
}

/// Delivers one message again, as often as it takes to exceed `max` duplicates when the history
/// had `extra`: named among the duplicated. Without `max_duplicates` duplicates are counted, not
/// judged: the same history is valid by design.
fn duplicate_caught(
    max: u64,
    extra: u64,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let copies = (max + 1 - extra) as usize;
    let (mutated, id) = inject::duplicate_delivery(history, at, copies)
        .ok_or_else(|| nothing(what, "duplicate"))?;
    let result = expect(&delivery(Some(max)), &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert_eq!(
        &result.details["duplicated"]["extra_deliveries"],
        &json!(max + 1),
        "{}",
        what
    );
    let named = result.details["duplicated"]["examples"]
        .as_array()
        .is_some_and(|all| {
            all.iter()
                .any(|e| e["id"] == json!(id) && e["deliveries"] == json!(copies + 1))
        });
    prop_assert!(
        named,
        "{}: {} not named: {}",
        what,
        id,
        result.details["duplicated"]
    );
    expect(&delivery(None), &mutated, ctx, Verdict::Valid, what)?;
    Ok(())
}

/// Swaps two consecutive first deliveries of one producer: on a subscription that keeps order
/// the earlier message is reported as reordered; on one that does not, order is not judged (by
/// design) and the history stays valid, the reorder counted.
fn reorder_caught(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, id) = inject::reorder(history, at).ok_or_else(|| nothing(what, "reorder"))?;
    let ordered = CheckContext {
        ordered_delivery: true,
        ..ctx.clone()
    };
    let result = expect(spec, &mutated, &ordered, Verdict::Invalid, what)?;
    let reordered = &result.details["reordered"];
    prop_assert_eq!(&reordered["count"], &json!(1), "{}: {}", what, reordered);
    prop_assert_eq!(&reordered["examples"][0]["id"], &json!(id), "{}", what);
    let unordered = CheckContext {
        ordered_delivery: false,
        ..ctx.clone()
    };
    let result = expect(spec, &mutated, &unordered, Verdict::Valid, what)?;
    prop_assert_eq!(&result.details["reordered"]["count"], &json!(1), "{}", what);
    Ok(())
}

/// Drops one acknowledged message from the read-back: named as not read back.
fn read_back_gap_caught(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, id) = inject::drop_read_back(history, at)
        .ok_or_else(|| nothing(what, "drop from the read-back"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    let missing = &result.details["read_back"]["not_read_back"];
    prop_assert_eq!(&missing["count"], &json!(1), "{}", what);
    prop_assert!(
        lists(&missing["examples"], "id", &json!(id)),
        "{}: {} not named: {}",
        what,
        id,
        result.summary
    );
    Ok(())
}

fn reading_back() -> impl Strategy<Value = PulsarRun> {
    PulsarRun::strategy().prop_map(|mut run| {
        run.read_back = true;
        run
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    /// The same properties with no mutation: every simulated Pulsar run is valid for every check
    /// it is judged by (delivery, availability, recovery, ownership, bookies, healed).
    #[test]
    fn simulated_pulsar_runs_are_valid(run in PulsarRun::strategy()) {
        let (history, ctx) = (run.history(), run.ctx());
        for spec in run.checks() {
            expect(&spec, &history, &ctx, Verdict::Valid, "unmutated")?;
        }
    }

    #[test]
    fn a_delivered_message_never_delivered_is_lost(run in PulsarRun::strategy(), at in any::<Index>()) {
        lost_message_named(&run.delivery(), &run.history(), &run.ctx(), &at, "simulated")?;
    }

    #[test]
    fn a_delivery_duplicated_beyond_max_duplicates_is_caught(
        run in PulsarRun::strategy(),
        at in any::<Index>(),
    ) {
        let (history, ctx) = (run.history(), run.ctx());
        let max = run.max_duplicates();
        let before = expect(&delivery(Some(max)), &history, &ctx, Verdict::Valid, "unmutated")?;
        let extra = before.details["duplicated"]["extra_deliveries"].as_u64().unwrap_or(0);
        duplicate_caught(max, extra, &history, &ctx, &at, "simulated")?;
    }

    #[test]
    fn a_producer_s_deliveries_swapped_are_reordered(run in PulsarRun::strategy(), at in any::<Index>()) {
        reorder_caught(&run.delivery(), &run.history(), &run.ctx(), &at, "simulated")?;
    }

    #[test]
    fn a_message_missing_from_the_read_back_is_caught(run in reading_back(), at in any::<Index>()) {
        read_back_gap_caught(&run.delivery(), &run.history(), &run.ctx(), &at, "simulated")?;
    }

    /// Found by this test and fixed: a read-back that subscribed and read nothing leaves no op in
    /// the history (the workload records only the messages it read), and the check took it for
    /// a run without `read_back`. The check now knows from its context whether the scenario
    /// reads back. The mutation removes every read-back message; that must not be valid.
    #[test]
    fn a_read_back_that_read_nothing_is_not_valid(run in reading_back()) {
        let (history, ctx) = (run.history(), run.ctx());
        let (mutated, read) = inject::empty_read_back(&history).ok_or_else(|| nothing("simulated", "empty"))?;
        let result = check(&run.delivery(), &mutated, &ctx);
        prop_assert_ne!(
            result.verdict,
            Verdict::Valid,
            "all {} read-back messages removed, yet: {}",
            read,
            result.summary
        );
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_delivered_messages_never_delivered_are_lost(at in any::<Index>()) {
        for (recorded, spec) in declaring("delivery") {
            lost_message_named(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    /// The recorded runs declare no `max_duplicates` (duplicates counted, not judged); they are
    /// judged against the duplicates they had, the tightest bound they pass.
    #[test]
    fn recorded_deliveries_duplicated_beyond_max_duplicates_are_caught(at in any::<Index>()) {
        for (recorded, _) in declaring("delivery") {
            let observed = recorded.judged(&delivery(None));
            let extra = observed.details["duplicated"]["extra_deliveries"].as_u64().unwrap_or(0);
            let tight = recorded.judged(&delivery(Some(extra)));
            prop_assert_eq!(tight.verdict, Verdict::Valid, "{}: {}", recorded.name, tight.summary);
            duplicate_caught(extra, extra, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    #[test]
    fn recorded_deliveries_swapped_are_reordered(at in any::<Index>()) {
        for (recorded, spec) in declaring("delivery") {
            reorder_caught(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    #[test]
    fn recorded_messages_missing_from_the_read_back_are_caught(at in any::<Index>()) {
        for (recorded, spec) in declaring("delivery") {
            if recorded.scenario.workload.read_back {
                read_back_gap_caught(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
            }
        }
    }
}

/// Found by this test on a real history and fixed: pulsar-rolling-upgrade's read-back (1150
/// messages in the thinned history) emptied, as a read-back that read nothing leaves it, was
/// judged valid.
#[test]
fn a_recorded_read_back_that_read_nothing_is_not_valid() {
    for (recorded, spec) in declaring("delivery") {
        if !recorded.scenario.workload.read_back {
            continue;
        }
        let (mutated, read) = inject::empty_read_back(&recorded.history).expect("a read-back");
        let result = check(&spec, &mutated, &recorded.ctx);
        assert_ne!(
            result.verdict,
            Verdict::Valid,
            "{}: all {read} read-back messages removed, yet: {}",
            recorded.name,
            result.summary
        );
    }
}

//! Mutations of the quorum check: a second leader of the newest epoch in one monitor sample, on
//! simulated register runs (a leader killed, or cut off and still answering `leader` in its old
//! epoch beside the new one: a finding, not a violation) and the recorded zk-* runs.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::timeline::secs;
use super::super::{CheckContext, Verdict};
use super::recorded::declaring;
use super::sim::RegisterRun;
use super::{CASES, RECORDED_CASES, config, expect, inject, nothing};
use crate::history::History;
use crate::scenario::{CheckSpec, Dur};

/// Makes a follower of one sample answer `leader` in the newest epoch: two leaders of one epoch,
/// named by the sample's time and the node.
fn second_leader_caught(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, time, node) =
        inject::second_leader(history, at).ok_or_else(|| nothing(what, "promote"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    let examples = &result.details["violations"]["two_leaders"]["examples"];
    let named = examples.as_array().is_some_and(|all| {
        all.iter().any(|e| {
            e["at"] == json!(secs(time))
                && e["leaders"]
                    .as_array()
                    .is_some_and(|leaders| leaders.contains(&json!(node)))
        })
    });
    prop_assert!(
        named,
        "{}: {} at {} not named: {}",
        what,
        node,
        secs(time),
        examples
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn a_second_leader_of_one_epoch_in_a_sample_is_caught(
        run in RegisterRun::strategy(),
        at in any::<Index>(),
    ) {
        let spec = CheckSpec::Quorum { grace: Dur::secs(10), never_lost: true };
        second_leader_caught(&spec, &run.history(), &run.ctx(), &at, "simulated")?;
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_second_leaders_of_one_epoch_are_caught(at in any::<Index>()) {
        for (recorded, spec) in declaring("quorum") {
            second_leader_caught(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }
}

//! Mutations of the upgrade check: a rolled node that never rejoined (its roll's completion
//! removed), on simulated rolling upgrades (ZooKeeper, brokers or bookies, 3 to 5 nodes, any
//! order) and the recorded zk-rolling-upgrade and pulsar-rolling-upgrade runs.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::{CheckContext, Verdict};
use super::recorded::declaring;
use super::sim::UpgradeRun;
use super::{CASES, RECORDED_CASES, config, expect, inject, nothing};
use crate::history::History;
use crate::scenario::CheckSpec;

/// Removes one roll's completion: that node never rejoined, and the check names it.
fn never_rejoined_caught(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, node) =
        inject::never_rejoined(history, at).ok_or_else(|| nothing(what, "strand"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    let problem = json!(format!("{node} never rejoined"));
    let named = result.details["problems"]
        .as_array()
        .is_some_and(|all| all.contains(&problem));
    prop_assert!(
        named,
        "{}: {} not named: {}",
        what,
        node,
        result.details["problems"]
    );
    prop_assert!(
        result.summary.contains(&format!("{node} never")),
        "{}",
        result.summary
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    /// The same property with no mutation: every simulated upgrade is valid for the upgrade
    /// check (every rejoin within `max_rejoin`) and no-lost-writes.
    #[test]
    fn simulated_upgrades_are_valid(run in UpgradeRun::strategy()) {
        let (history, ctx) = (run.history(), run.ctx());
        expect(&run.spec(), &history, &ctx, Verdict::Valid, "unmutated")?;
        expect(&CheckSpec::NoLostWrites, &history, &ctx, Verdict::Valid, "unmutated")?;
    }

    #[test]
    fn a_rolled_node_that_never_rejoined_is_caught(run in UpgradeRun::strategy(), at in any::<Index>()) {
        never_rejoined_caught(&run.spec(), &run.history(), &run.ctx(), &at, "simulated")?;
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_rolled_nodes_that_never_rejoined_are_caught(at in any::<Index>()) {
        for (recorded, spec) in declaring("upgrade") {
            never_rejoined_caught(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }
}

//! Mutations of the trace checks (SkyWalking, Pinpoint): a found trace lost and a trace found
//! late (traces), queries failing past the recovery bound after the heal (trace-queries); on
//! simulated trace runs and the recorded sw-oap-kill-behind-lb and pp-collector-kill runs.
//!
//! `max_lost` and `max_late` are budgets: one more lost or late trace is a violation only when
//! the budget is used up, so the traces check is judged with budgets equal to what the history
//! had (for the recorded runs, declared with `max_lost = 20` and no `max_late`, the tightest
//! budgets they pass). With room left in a budget, one more loss is valid by design.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::recovery::recovery_point;
use super::super::timeline::script::MS;
use super::super::timeline::{nanos, secs};
use super::super::{CheckContext, Verdict};
use super::recorded::{Recorded, declaring};
use super::sim::TraceRun;
use super::{CASES, RECORDED_CASES, config, expect, inject, lists, nothing};
use crate::history::{F, History, OpKind};
use crate::scenario::CheckSpec;

/// `spec` with the lost and late budgets the recorded history uses up exactly.
fn tight(recorded: &Recorded, spec: &CheckSpec) -> Result<CheckSpec, TestCaseError> {
    let CheckSpec::Traces {
        late_after,
        p99_max,
        ..
    } = spec.clone()
    else {
        unreachable!("a traces check");
    };
    let observed = recorded.judged(spec);
    let tight = CheckSpec::Traces {
        max_lost: observed.details["lost"]["count"].as_u64().unwrap_or(0),
        expect_lost: false,
        late_after,
        max_late: Some(observed.details["late"]["count"].as_u64().unwrap_or(0)),
        p99_max,
    };
    let result = recorded.judged(&tight);
    prop_assert_eq!(
        result.verdict,
        Verdict::Valid,
        "{}: {}",
        recorded.name,
        result.summary
    );
    Ok(tight)
}

fn late_after(spec: &CheckSpec) -> Duration {
    match spec {
        CheckSpec::Traces { late_after, .. } => late_after.as_duration(),
        _ => unreachable!("a traces check"),
    }
}

/// Removes every find of one found trace: one lost over the budget, named by its id.
fn lost_trace_named(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, id) = inject::lose_trace(history, at).ok_or_else(|| nothing(what, "lose"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert!(
        lists(&result.details["lost"]["examples"], "id", &json!(id)),
        "{}: {} not named: {}",
        what,
        id,
        result.summary
    );
    Ok(())
}

/// Moves one trace's finds to `by` ns past `late_after` after its emission: one late over the
/// budget, named by its id.
fn late_trace_named(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    by: u64,
    what: &str,
) -> Result<(), TestCaseError> {
    let late = nanos(late_after(spec));
    let (mutated, id) =
        inject::make_late(history, at, late, by).ok_or_else(|| nothing(what, "delay"))?;
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert!(
        lists(&result.details["late"]["examples"], "id", &json!(id)),
        "{}: {} not named: {}",
        what,
        id,
        result.summary
    );
    Ok(())
}

/// Fails every query from the recovery point for `within` and `margin` more: the first query
/// to succeed after the heal comes too late or never, and the check says when it came.
fn query_outage_caught(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    margin: u64,
    what: &str,
) -> Result<(), TestCaseError> {
    let CheckSpec::TraceQueries {
        recover_within: Some(within),
        ..
    } = spec
    else {
        unreachable!("a bounded trace-queries check");
    };
    let point = recovery_point(history)
        .ok_or_else(|| nothing(what, "recover from"))?
        .time;
    let to = point + nanos(within.as_duration()) + margin;
    let (mutated, failed) = inject::fail_between(history, &[F::TraceQuery], point, to);
    prop_assert!(failed > 0, "{}: no query succeeded after the heal", what);
    let first_ok = mutated
        .pairs()
        .into_iter()
        .filter(|(invoke, _)| invoke.f == F::TraceQuery && invoke.time >= point)
        .filter_map(|(_, done)| done.filter(|op| op.kind == OpKind::Ok))
        .map(|op| op.time)
        .min();
    let result = expect(spec, &mutated, ctx, Verdict::Invalid, what)?;
    let recovery = &result.details["recovery"];
    prop_assert_eq!(&recovery["point"]["at"], &json!(secs(point)), "{}", what);
    prop_assert_eq!(
        &recovery["recovered_at"],
        &json!(first_ok.map(secs)),
        "{}: {}",
        what,
        result.summary
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    /// The same properties with no mutation: every simulated trace run is valid for every check
    /// it is judged by (traces, trace-queries, healed).
    #[test]
    fn simulated_trace_runs_are_valid(run in TraceRun::strategy()) {
        let (history, ctx) = (run.history(), run.ctx());
        for spec in run.checks() {
            expect(&spec, &history, &ctx, Verdict::Valid, "unmutated")?;
        }
    }

    #[test]
    fn a_found_trace_lost_over_the_budget_is_caught(run in TraceRun::strategy(), at in any::<Index>()) {
        lost_trace_named(&run.traces_spec(), &run.history(), &run.ctx(), &at, "simulated")?;
    }

    #[test]
    fn a_trace_found_late_over_the_budget_is_caught(
        run in TraceRun::strategy(),
        at in any::<Index>(),
        by in 1u64..10_000,
    ) {
        late_trace_named(&run.traces_spec(), &run.history(), &run.ctx(), &at, by * MS, "simulated")?;
    }

    #[test]
    fn queries_failing_past_the_recovery_bound_after_the_heal_are_caught(
        run in TraceRun::strategy(),
        margin in 1u64..3_000,
    ) {
        query_outage_caught(&run.queries_spec(), &run.history(), &run.ctx(), margin * MS, "simulated")?;
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_found_traces_lost_over_the_budget_are_caught(at in any::<Index>()) {
        for (recorded, spec) in declaring("traces") {
            let spec = tight(recorded, &spec)?;
            lost_trace_named(&spec, &recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    #[test]
    fn recorded_traces_found_late_over_the_budget_are_caught(at in any::<Index>(), by in 1u64..10_000) {
        for (recorded, spec) in declaring("traces") {
            let spec = tight(recorded, &spec)?;
            late_trace_named(&spec, &recorded.history, &recorded.ctx, &at, by * MS, recorded.name)?;
        }
    }

    #[test]
    fn recorded_queries_failing_past_the_recovery_bound_are_caught(margin in 1u64..3_000) {
        for (recorded, spec) in declaring("trace-queries") {
            query_outage_caught(&spec, &recorded.history, &recorded.ctx, margin * MS, recorded.name)?;
        }
    }
}

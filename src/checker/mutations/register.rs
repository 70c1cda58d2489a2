//! Mutations of the ZooKeeper register checks — no-lost-writes, availability, recovery and
//! session-expiry — on simulated register runs and the recorded zk-* runs.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use super::super::availability::WRITES;
use super::super::recovery::recovery_point;
use super::super::timeline::script::MS;
use super::super::timeline::{nanos, secs, workload_end};
use super::super::{CheckContext, Verdict};
use super::recorded::declaring;
use super::sim::{RegisterFault, RegisterRun};
use super::{CASES, RECORDED_CASES, config, expect, inject, lists, nothing};
use crate::history::{F, History, OpKind};
use crate::scenario::{CheckSpec, Dur};

/// Drops an acknowledged write from the final read: it is lost, and named by its key.
fn lost_write_named(
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, key) =
        inject::drop_from_final_read(history, at).ok_or_else(|| nothing(what, "drop"))?;
    let result = expect(
        &CheckSpec::NoLostWrites,
        &mutated,
        ctx,
        Verdict::Invalid,
        what,
    )?;
    prop_assert_eq!(&result.details["lost"]["count"], &json!(1), "{}", what);
    prop_assert!(
        lists(&result.details["lost"]["examples"], "key", &json!(key)),
        "{}: {} not named: {}",
        what,
        key,
        result.details["lost"]
    );
    prop_assert!(result.summary.contains(&key), "{}", result.summary);
    Ok(())
}

/// Fails every write from the invoke of one write for `max` and `margin` more: the check must
/// report a window longer than `max` covering the injected stretch. Only writes that leave the
/// stretch inside the workload are drawn.
fn outage_caught(
    history: &History,
    ctx: &CheckContext,
    max: Duration,
    at: &Index,
    margin: u64,
    what: &str,
) -> Result<(), TestCaseError> {
    let spec = CheckSpec::Availability {
        max_unavailable: Some(Dur(max)),
        expect_outage: false,
    };
    let end = workload_end(history, ctx.workload_end);
    let span = nanos(max) + margin;
    let anchors: Vec<u64> = history
        .pairs()
        .into_iter()
        .filter(|(invoke, _)| WRITES.contains(&invoke.f) && invoke.time + span <= end)
        .map(|(invoke, _)| invoke.time)
        .collect();
    prop_assert!(!anchors.is_empty(), "{}: no room for {:?}", what, max);
    let from = anchors[at.index(anchors.len())];
    let to = from + span;
    let (mutated, _) = inject::fail_between(history, &WRITES, from, to);
    let result = expect(&spec, &mutated, ctx, Verdict::Invalid, what)?;
    let longest = &result.details["longest"];
    let (start, stop) = (
        longest["start"].as_f64().unwrap_or(f64::MAX),
        longest["end"].as_f64().unwrap_or(0.0),
    );
    prop_assert!(
        start <= secs(from) && stop >= secs(to),
        "{}: the longest window {} does not cover the injected {}..{}",
        what,
        longest,
        secs(from),
        secs(to)
    );
    Ok(())
}

/// Fails every write from the recovery point (the last heal) for `within` and `margin` more:
/// the first success after it comes too late or never, and the check names when it came.
fn slow_recovery_caught(
    history: &History,
    ctx: &CheckContext,
    within: Duration,
    margin: u64,
    what: &str,
) -> Result<(), TestCaseError> {
    let spec = CheckSpec::Recovery {
        within: Dur(within),
    };
    let point = recovery_point(history)
        .ok_or_else(|| nothing(what, "recover from"))?
        .time;
    let to = point + nanos(within) + margin;
    let (mutated, failed) = inject::fail_between(history, &WRITES, point, to);
    prop_assert!(failed > 0, "{}: no write succeeded after the heal", what);
    let first_ok = mutated
        .pairs()
        .into_iter()
        .filter(|(invoke, _)| WRITES.contains(&invoke.f) && invoke.time >= point)
        .filter_map(|(_, done)| done.filter(|op| op.kind == OpKind::Ok))
        .map(|op| op.time)
        .min();
    let result = expect(&spec, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert_eq!(
        &result.details["point"]["at"],
        &json!(secs(point)),
        "{}",
        what
    );
    prop_assert_eq!(
        &result.details["recovered_at"],
        &json!(first_ok.map(secs)),
        "{}: {}",
        what,
        result.summary
    );
    Ok(())
}

/// Removes every session expiry of a run that expected one.
fn missing_expiry_caught(
    history: &History,
    ctx: &CheckContext,
    what: &str,
) -> Result<(), TestCaseError> {
    let (mutated, _) = inject::drop_expiries(history).ok_or_else(|| nothing(what, "unexpire"))?;
    let spec = CheckSpec::SessionExpiry { expect: true };
    let result = expect(&spec, &mutated, ctx, Verdict::Invalid, what)?;
    prop_assert!(
        result
            .summary
            .starts_with("expected a session to expire, but none did"),
        "{}",
        result.summary
    );
    Ok(())
}

/// Adds a session expiry of one client, at a point `when` (0..1) of the run, to a run that
/// expected none: it is named by client and time.
fn unexpected_expiry_caught(
    history: &History,
    ctx: &CheckContext,
    at: &Index,
    when: f64,
    what: &str,
) -> Result<(), TestCaseError> {
    let mut clients: Vec<&str> = history
        .with_f(F::Write)
        .map(|op| op.process.as_str())
        .collect();
    clients.sort_unstable();
    clients.dedup();
    prop_assert!(!clients.is_empty(), "{}: no client", what);
    let client = clients[at.index(clients.len())];
    let end = workload_end(history, ctx.workload_end);
    let time = (end as f64 * when) as u64;
    let mutated = inject::add_expiry(history, client, time);
    let spec = CheckSpec::SessionExpiry { expect: false };
    let result = expect(&spec, &mutated, ctx, Verdict::Invalid, what)?;
    let named = result.details["examples"].as_array().is_some_and(|all| {
        all.iter()
            .any(|e| e["client"] == client && e["at"] == json!(secs(time)))
    });
    prop_assert!(
        named,
        "{}: {} at {} not named: {}",
        what,
        client,
        secs(time),
        result.details
    );
    Ok(())
}

/// Register runs whose stall outlasts the session timeout: the sessions expire.
fn expiring_runs() -> impl Strategy<Value = RegisterRun> {
    RegisterRun::strategy().prop_map(|mut run| {
        run.fault = RegisterFault::Stall;
        run.session_timeout = 2_000;
        run.fault_for = run.fault_for.max(2_500);
        run
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    /// The same property with no mutation: every simulated run is valid for every check it is
    /// judged by.
    #[test]
    fn simulated_register_runs_are_valid(run in RegisterRun::strategy()) {
        let (history, ctx) = (run.history(), run.ctx());
        for spec in run.checks() {
            expect(&spec, &history, &ctx, Verdict::Valid, "unmutated")?;
        }
    }

    #[test]
    fn an_acknowledged_write_missing_from_the_final_read_is_lost(
        run in RegisterRun::strategy(),
        at in any::<Index>(),
    ) {
        lost_write_named(&run.history(), &run.ctx(), &at, "simulated")?;
    }

    #[test]
    fn writes_failing_longer_than_max_unavailable_are_caught(
        run in RegisterRun::strategy(),
        at in any::<Index>(),
        margin in 1u64..2_000,
    ) {
        let CheckSpec::Availability { max_unavailable: Some(max), .. } = run.availability() else {
            unreachable!("the simulated run bounds availability");
        };
        outage_caught(&run.history(), &run.ctx(), max.as_duration(), &at, margin * MS, "simulated")?;
    }

    #[test]
    fn no_write_succeeding_within_the_bound_after_the_heal_is_caught(
        run in RegisterRun::strategy(),
        margin in 1u64..2_000,
    ) {
        let within = Duration::from_secs(5);
        slow_recovery_caught(&run.history(), &run.ctx(), within, margin * MS, "simulated")?;
    }

    #[test]
    fn an_expiry_when_none_is_expected_is_caught(
        run in RegisterRun::strategy().prop_filter("no expiry", |run| !run.expires()),
        at in any::<Index>(),
        when in 0.05f64..0.95,
    ) {
        unexpected_expiry_caught(&run.history(), &run.ctx(), &at, when, "simulated")?;
    }

    #[test]
    fn no_expiry_when_one_is_expected_is_caught(run in expiring_runs()) {
        let (history, ctx) = (run.history(), run.ctx());
        expect(&CheckSpec::SessionExpiry { expect: true }, &history, &ctx, Verdict::Valid, "unmutated")?;
        missing_expiry_caught(&history, &ctx, "simulated")?;
    }
}

proptest! {
    #![proptest_config(config(RECORDED_CASES))]

    #[test]
    fn recorded_acknowledged_writes_missing_from_the_final_read_are_lost(at in any::<Index>()) {
        for (recorded, _) in declaring("no-lost-writes") {
            lost_write_named(&recorded.history, &recorded.ctx, &at, recorded.name)?;
        }
    }

    /// With the declared `max_unavailable` when the workload leaves room for a longer outage;
    /// pulsar-broker-kill allows 45 s in a 45 s workload, which no outage inside it can exceed
    /// (by design: the bound says the run may lose writes the whole time), so it is judged
    /// against its longest window instead, the tightest bound it passes.
    #[test]
    fn recorded_writes_failing_longer_than_max_unavailable_are_caught(
        at in any::<Index>(),
        margin in 1u64..2_000,
    ) {
        for (recorded, spec) in declaring("availability") {
            let CheckSpec::Availability { max_unavailable: Some(max), .. } = spec else {
                continue;
            };
            let (history, ctx) = (&recorded.history, &recorded.ctx);
            let span = nanos(max.as_duration()) + margin * MS;
            let first = history.ops.iter().find(|op| WRITES.contains(&op.f)).map_or(0, |op| op.time);
            let max = if first + span <= workload_end(history, ctx.workload_end) {
                max.as_duration()
            } else {
                let observed = recorded.judged(&spec);
                let longest = observed.details["longest"]["duration"].as_f64().unwrap_or(0.0);
                Duration::from_millis((longest * 1e3).round() as u64 + 1)
            };
            outage_caught(history, ctx, max, &at, margin * MS, recorded.name)?;
        }
    }

    #[test]
    fn recorded_runs_without_a_write_within_the_bound_after_the_heal_are_caught(
        margin in 1u64..2_000,
    ) {
        for (recorded, spec) in declaring("recovery") {
            let CheckSpec::Recovery { within } = spec else { continue };
            slow_recovery_caught(
                &recorded.history,
                &recorded.ctx,
                within.as_duration(),
                margin * MS,
                recorded.name,
            )?;
        }
    }

    #[test]
    fn recorded_session_expiries_are_judged_against_what_was_expected(
        at in any::<Index>(),
        when in 0.05f64..0.95,
    ) {
        for (recorded, spec) in declaring("session-expiry") {
            let (history, ctx) = (&recorded.history, &recorded.ctx);
            match spec {
                CheckSpec::SessionExpiry { expect: true } => {
                    missing_expiry_caught(history, ctx, recorded.name)?;
                }
                _ => unexpected_expiry_caught(history, ctx, &at, when, recorded.name)?,
            }
        }
    }
}

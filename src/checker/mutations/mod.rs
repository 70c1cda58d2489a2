//! Mutation tests for the checkers: valid histories stay VALID, and one injected violation makes
//! the checker say INVALID and name what was injected.
//!
//! The valid histories are simulated runs of each workload shape drawn by proptest (`sim`) and
//! real runs' histories (`recorded`, from `tests/fixtures/histories`). `inject` puts exactly
//! one violation into one of them; a module per checker (or family of checkers) holds the
//! properties. Where a checker's contract cannot see a mutation (a budget with room left, a
//! bound as long as the workload, order on a subscription that does not keep it), the property
//! says so and asserts that contract instead.

mod inject;
mod recorded;
mod sim;

mod delivery;
mod healed;
mod monitor;
mod quorum;
mod register;
mod traces;
mod upgrade;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

use super::{CheckContext, CheckResult, Verdict, check};
use crate::history::History;
use crate::scenario::CheckSpec;

/// Cases per property over simulated runs.
const CASES: u32 = 64;
/// Cases per property over the recorded runs: only the victim varies.
const RECORDED_CASES: u32 = 12;

/// `cases` cases; a failure shrinks for at most 256 steps (a simulated run has a dozen
/// parameters, and a recorded history is cloned at each step).
fn config(cases: u32) -> Config {
    Config {
        cases,
        max_shrink_iters: 256,
        ..Config::default()
    }
}

/// Judges `history` with `spec` and requires `verdict`; `what` names the history in a failure.
fn expect(
    spec: &CheckSpec,
    history: &History,
    ctx: &CheckContext,
    verdict: Verdict,
    what: &str,
) -> Result<CheckResult, TestCaseError> {
    let result = check(spec, history, ctx);
    prop_assert_eq!(
        result.verdict,
        verdict,
        "{}: {}: {}",
        what,
        result.name,
        result.summary
    );
    Ok(result)
}

/// Whether one of `examples` (a JSON array) has `field` equal to `wanted`.
fn lists(examples: &Value, field: &str, wanted: &Value) -> bool {
    examples
        .as_array()
        .is_some_and(|all| all.iter().any(|example| &example[field] == wanted))
}

/// The injection found nothing to mutate: a failure, since every history here offers it.
fn nothing(what: &str, mutation: &str) -> TestCaseError {
    TestCaseError::fail(format!("{what}: nothing to {mutation}"))
}

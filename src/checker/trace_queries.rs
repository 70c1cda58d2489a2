//! Availability of the trace query API (being written).

use super::{CheckContext, CheckResult, Verdict};
use crate::history::History;

pub fn check(
    _history: &History,
    _ctx: &CheckContext,
    _expect_outage: bool,
    _recover_within: Option<std::time::Duration>,
) -> anyhow::Result<CheckResult> {
    Ok(CheckResult::new("trace-queries", Verdict::Unknown, "not written yet"))
}

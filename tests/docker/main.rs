//! Docker tests: real containers, one module per system. Needs a Docker engine; with
//! CHAOSBED_SKIP_DOCKER=1 every test here is reported as ignored (skipped) instead.
//!
//! Runs one test at a time by default (each stands up a real cluster on a 2-core machine).

mod cleanup;
mod client;
mod faults;
mod housekeeping;
mod images;
mod pinpoint_stack;
mod pulsar_stack;
mod report;
mod scenarios;
mod skywalking_stack;
mod stack;
mod support;

use libtest_mimic::{Arguments, Trial};

chaosbed::use_jemalloc!();

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let skip = support::skip_requested();
    let trials: Vec<Trial> = [
        images::trials(),
        housekeeping::trials(),
        scenarios::trials(),
        report::trials(),
        pulsar_stack::trials(),
        skywalking_stack::trials(),
        pinpoint_stack::trials(),
        faults::trials(),
        cleanup::trials(),
        client::trials(),
    ]
    .into_iter()
    .flatten()
    .map(|t| t.with_ignored_flag(skip))
    .collect();
    if skip {
        eprintln!(
            "CHAOSBED_SKIP_DOCKER=1: skipping all {} Docker tests (they show as ignored below)",
            trials.len()
        );
    }
    libtest_mimic::run(&args, trials).exit();
}

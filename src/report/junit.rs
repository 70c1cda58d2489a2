//! junit.xml: one test suite per scenario, one test case per check, for CI dashboards.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::Results;
use crate::checker::Verdict;

pub fn junit_xml(results: &Results) -> anyhow::Result<String> {
    let mut report = Report::new("chaosbed");
    let mut suite = TestSuite::new(results.scenario.as_str());
    if let Some(error) = &results.error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(error.as_str());
        suite.add_test_case(TestCase::new("run", status));
    }
    for check in &results.checks {
        let status = match check.verdict {
            Verdict::Valid => TestCaseStatus::success(),
            Verdict::Invalid => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(check.summary.as_str());
                s
            }
            Verdict::Unknown => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(check.summary.as_str());
                s
            }
        };
        let mut case = TestCase::new(check.name.as_str(), status);
        case.set_classname(results.scenario.as_str());
        case.set_system_out(check.summary.as_str());
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::CheckResult;

    #[test]
    fn an_invalid_check_is_a_failure() {
        let results = Results {
            scenario: "zk-leader-kill".into(),
            description: String::new(),
            run_id: "r".into(),
            started_at: "now".into(),
            chaosbed: None,
            seed: None,
            duration_secs: 1.0,
            verdict: Verdict::Invalid,
            error: None,
            checks: vec![
                CheckResult::new("quorum", Verdict::Valid, "ok"),
                CheckResult::new("no-lost-writes", Verdict::Invalid, "3 lost"),
            ],
            faults: vec![],
            nodes: Default::default(),
            images: Default::default(),
            operations: Default::default(),
            phases: vec![],
        };
        let xml = junit_xml(&results).unwrap();
        assert!(xml.contains("tests=\"2\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("3 lost"), "{xml}");
    }
}

//! Every broken or awkward case in `sample_data/test_cases/` yields exactly
//! the findings its `expected.json` lists: no more, no fewer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;

use dtg_core::Severity;
use serde::Deserialize;

use common::{sample, validate_dir};

#[derive(Debug, Deserialize)]
struct Expected {
    description: String,
    findings: Vec<ExpectedFinding>,
    #[serde(default)]
    items: Option<BTreeMap<String, usize>>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct ExpectedFinding {
    file: String,
    code: String,
    line: Option<u32>,
    severity: Severity,
}

#[test]
fn every_test_case_yields_exactly_its_expected_findings() {
    let root = sample("test_cases");
    let mut cases: Vec<_> = fs::read_dir(&root)
        .expect("sample_data/test_cases exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "only {} test cases", cases.len());

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected: Expected = serde_json::from_slice(
            &fs::read(case.join("expected.json"))
                .unwrap_or_else(|e| panic!("{name}: expected.json: {e}")),
        )
        .unwrap_or_else(|e| panic!("{name}: expected.json: {e}"));
        let report = validate_dir(case);

        let mut actual: Vec<ExpectedFinding> = report
            .findings
            .iter()
            .map(|f| ExpectedFinding {
                file: f.file.clone(),
                code: f.code.as_str().to_owned(),
                line: f.line,
                severity: f.severity,
            })
            .collect();
        let mut wanted = expected.findings.clone();
        actual.sort();
        wanted.sort();
        if actual != wanted {
            failures.push(format!(
                "{name} ({})\n  expected: {wanted:?}\n  actual:   {actual:?}\n  messages: {:#?}",
                expected.description,
                report
                    .findings
                    .iter()
                    .map(|f| &f.message)
                    .collect::<Vec<_>>()
            ));
        }
        // Every finding says what, where and how: a message, and a line or a file-level code.
        for f in &report.findings {
            assert!(f.message.len() > 20, "{name}: terse message {f:?}");
        }
        if let Some(items) = &expected.items {
            for (file, count) in items {
                let got = report
                    .files
                    .iter()
                    .find(|f| &f.name == file)
                    .map(|f| f.items);
                if got != Some(*count) {
                    failures.push(format!(
                        "{name}: {file} has {got:?} items, expected {count}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

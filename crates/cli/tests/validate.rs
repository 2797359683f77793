//! `dtg validate` end to end: exit codes, the JSON contract, the human output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dtg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dtg"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("dtg runs")
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn json_lists_every_file_with_its_type() {
    // WHEN the complete sample set is validated as JSON
    let out = dtg(&["validate", "sample_data/uwec_complete", "--format", "json"]);

    // THEN it exits 0 and every file is listed with its detected type
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 14);
    for file in files {
        let name = file["name"].as_str().unwrap();
        assert_eq!(format!("{}.csv", file["type"].as_str().unwrap()), name);
        assert_eq!(file["dialect"], "canonical");
        assert!(file["rows"].as_u64().unwrap() > 0);
        assert_eq!(file["rows"], file["items"]);
    }
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0);
    assert_eq!(doc["summary"]["errors"], 0);
}

#[test]
fn errors_exit_1_with_located_findings() {
    let out = dtg(&[
        "validate",
        "sample_data/test_cases/07_bad_machine_names",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    let finding = &doc["findings"][0];
    for key in [
        "file", "line", "column", "value", "severity", "code", "message",
    ] {
        assert!(finding.get(key).is_some(), "finding lacks {key}: {finding}");
    }
    assert_eq!(finding["severity"], "error");
}

#[test]
fn warnings_alone_exit_0() {
    let shared = repo().join("reference/drupal/drupal_standard");
    let out = dtg(&["validate", shared.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("warning"), "{text}");
    assert!(text.contains("unknown_field_type"), "{text}");
}

#[test]
fn a_drupal_site_export_validates_as_drupal_writes_it() {
    // GIVEN a standard site's configuration, with view paths as Drupal writes them
    let out = dtg(&[
        "validate",
        "reference/drupal/drupal_standard_site",
        "--format",
        "json",
    ]);

    // THEN it has no error, and its paths raise no finding at all
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_eq!(doc["summary"]["errors"], 0);
    assert_eq!(doc["summary"]["info"], 0);
    for f in doc["findings"].as_array().unwrap() {
        assert_ne!(f["code"], "invalid_path", "{f}");
    }
}

#[test]
fn notes_are_shown_and_counted_but_do_not_fail() {
    // GIVEN permissions that had to be read in Drupal's exact spelling
    let out = dtg(&[
        "validate",
        "sample_data/test_cases/48_drupal_role_permissions",
    ]);

    // THEN the run succeeds, and the notes are shown and counted
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("[normalised_value]"))
        .expect("a note line");
    assert!(line.trim_start().starts_with("info"), "{line}");
    assert!(text.contains("0 warnings, 2 info"), "{text}");
    let doc = json(&dtg(&[
        "validate",
        "sample_data/test_cases/48_drupal_role_permissions",
        "--format",
        "json",
    ]));
    assert_eq!(doc["summary"]["info"], 2);
    assert_eq!(doc["summary"]["warnings"], 0);
    assert_eq!(doc["findings"][0]["severity"], "info");
}

#[test]
fn human_output_groups_by_file_with_line_column_and_fix() {
    let out = dtg(&["validate", "sample_data/test_cases/07_bad_machine_names"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{1b}'), "no colour when not on a terminal");
    let line = text
        .lines()
        .find(|l| l.contains("[invalid_machine_name]"))
        .expect("a finding line");
    assert!(line.contains("line "), "{line}");
    assert!(line.contains("e.g. "), "the fix is shown: {line}");
    assert!(text.contains("✖"), "{text}");
}

#[test]
fn usage_problems_exit_2() {
    let out = dtg(&["validate", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/folder"));

    let empty = tempfile::tempdir().unwrap();
    let out = dtg(&["validate", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no CSV file"));

    let out = dtg(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
}

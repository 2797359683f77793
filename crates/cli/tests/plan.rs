//! `dtg plan` end to end: the JSON exchange format, the other formats, errors.

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

#[test]
fn a_drupal_site_export_is_planned() {
    // GIVEN a standard site's configuration as Drupal writes it
    let out = dtg(&[
        "plan",
        "reference/drupal/drupal_standard_site",
        "--format",
        "json",
    ]);

    // THEN it is planned, its views with their paths in the canonical form
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let view = doc["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["items"][0] == "views.view.taxonomy_term")
        .expect("the taxonomy term view has a ticket");
    let html = view["description_html"].as_str().unwrap();
    assert!(html.contains("/taxonomy/term/%"), "{html}");
}

#[test]
fn json_is_the_exchange_format() {
    let out = dtg(&["plan", "sample_data/uwec_complete", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "granularity",
        "epics",
        "tickets",
        "dependencies",
        "order",
        "summary",
    ] {
        assert!(doc.get(key).is_some(), "no {key}");
    }
    let ticket = &doc["tickets"][0];
    for key in [
        "id",
        "title",
        "type",
        "epic",
        "labels",
        "priority",
        "estimate",
        "items",
        "description_html",
        "description_adf",
    ] {
        assert!(ticket.get(key).is_some(), "ticket lacks {key}: {ticket}");
    }
    assert_eq!(ticket["description_adf"]["type"], "doc");
    assert_eq!(
        doc["order"].as_array().unwrap().len(),
        doc["tickets"].as_array().unwrap().len()
    );
    assert_eq!(doc["summary"]["items"], 415);
}

#[test]
fn out_writes_a_file_and_formats_differ() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("plan.md");
    let csv = dir.path().join("plan.csv");
    let out = dtg(&[
        "plan",
        "sample_data/uwec_complete",
        "--format",
        "markdown",
        "--out",
        md.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .starts_with("# Build plan")
    );
    let out = dtg(&[
        "plan",
        "sample_data/uwec_complete",
        "--format",
        "jira-csv",
        "--granularity",
        "per-field",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("Issue ID,Parent,Summary,Issue Type,Priority,Labels"));
    assert!(text.contains("Add field "), "per-field tickets");
    // Only the two files: no temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn files_with_errors_are_not_planned() {
    let out = dtg(&["plan", "sample_data/test_cases/07_bad_machine_names"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_machine_name"));
}

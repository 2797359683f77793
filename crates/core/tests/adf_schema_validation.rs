//! Every corpus file and construct sample, converted and fitted, must pass the official ADF
//! JSON schema (in-process) and Atlassian's own validator (through Node, see
//! `tests/adf/validate.mjs`).

// Test code: a failed expectation should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod adf_common;

use dtg_core::adf::{
    Block, Document, JIRA_DESCRIPTION_LIMIT, OVERFLOW_FILE_NAME, fit_description, html_to_adf,
    json_len, overflow_notice,
};
use serde_json::Value;

/// Limits the corpus is also fitted to, to exercise splitting of every kind of block.
const SMALL_LIMITS: &[usize] = &[400, 1_500, 5_000];

fn labelled_documents() -> Vec<(String, Document)> {
    let mut docs = Vec::new();
    for (label, html) in adf_common::CONSTRUCTS {
        docs.push((format!("construct: {label}"), html_to_adf(html)));
    }
    for (name, html) in adf_common::corpus() {
        let doc = html_to_adf(&html);
        let fitted = fit_description(doc.clone(), JIRA_DESCRIPTION_LIMIT);
        let len = json_len(&fitted.description);
        assert!(len <= JIRA_DESCRIPTION_LIMIT, "{name}: fitted length {len}");
        if json_len(&doc) > JIRA_DESCRIPTION_LIMIT {
            let overflow = fitted
                .overflow
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no overflow"));
            assert_eq!(overflow.file_name, OVERFLOW_FILE_NAME);
            assert!(!overflow.content.is_empty());
            assert_eq!(
                fitted.description.content.last(),
                Some(&overflow_notice(OVERFLOW_FILE_NAME)),
                "{name}: notice missing"
            );
            docs.push((format!("{name} (fitted)"), fitted.description));
        } else {
            assert!(fitted.overflow.is_none(), "{name}: unexpected overflow");
        }
        for &limit in SMALL_LIMITS {
            let small = fit_description(doc.clone(), limit);
            let len = json_len(&small.description);
            assert!(len <= limit, "{name}: fitted to {limit} gives {len}");
            docs.push((format!("{name} (fitted to {limit})"), small.description));
        }
        docs.push((name, doc));
    }
    docs
}

#[test]
fn corpus_is_large_enough() {
    let corpus = adf_common::corpus();
    assert!(corpus.len() >= 40, "only {} corpus files", corpus.len());
    assert!(
        corpus
            .iter()
            .any(|(_, html)| html.chars().count() >= 40_000),
        "the corpus needs a description of 40,000+ characters"
    );
}

#[test]
fn corpus_passes_the_json_schema_in_process() {
    let mut failures = Vec::new();
    for (label, doc) in labelled_documents() {
        let value = serde_json::to_value(&doc).expect("serialise");
        let errors = adf_common::schema_errors(&value);
        if !errors.is_empty() {
            failures.push(format!("{label}: {errors:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "schema failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn corpus_passes_the_official_node_validators() {
    let labelled = labelled_documents();
    let values: Vec<Value> = labelled
        .iter()
        .map(|(_, doc)| serde_json::to_value(doc).expect("serialise"))
        .collect();
    let result = adf_common::run_node_validator(&values);
    let names: Vec<&str> = result
        .failed
        .iter()
        .map(|&i| labelled[i].0.as_str())
        .collect();
    assert!(
        result.status == Some(0) && result.failed.is_empty(),
        "validate.mjs failed for {names:?}\nstatus {:?}\n{}\n{}",
        result.status,
        serde_json::to_string_pretty(&result.report).unwrap_or_default(),
        result.stderr
    );
    println!(
        "node validators: {} documents passed both the JSON schema and @atlaskit/adf-utils validator",
        values.len()
    );
}

#[test]
fn node_validator_rejects_invalid_documents() {
    // Guards against a validator script that passes everything.
    let invalid: Vec<Value> = vec![
        serde_json::json!({"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}),
        serde_json::json!({"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{"type": "code"}, {"type": "strong"}]}]}]}),
        serde_json::json!({"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{"type": "link", "attrs": {"href": "page.html"}}]}]}]}),
        serde_json::json!({"version": 1, "type": "doc", "content": [{"type": "blockquote", "content": [{"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "x"}]}]}]}),
        serde_json::to_value(Document::new(vec![Block::Table {
            attrs: None,
            content: vec![],
        }]))
        .expect("serialise"),
    ];
    let result = adf_common::run_node_validator(&invalid);
    assert_eq!(result.status, Some(1));
    assert_eq!(result.failed, (0..invalid.len()).collect::<Vec<_>>());
}

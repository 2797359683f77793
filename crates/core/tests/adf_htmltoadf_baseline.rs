//! Baseline: how many of the `htmltoadf` crate's outputs for the corpus fail the official
//! schema and validator. This measures the other crate; it asserts nothing about it. Run with
//! `cargo test --test htmltoadf_baseline -- --nocapture` to see the counts.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod adf_common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

#[test]
fn count_htmltoadf_schema_failures_on_the_corpus() {
    let corpus = adf_common::corpus();
    let mut names = Vec::new();
    let mut docs: Vec<Value> = Vec::new();
    let mut panicked = Vec::new();
    let mut unparsable = Vec::new();
    let mut schema_failed = Vec::new();
    for (name, html) in &corpus {
        let output = catch_unwind(AssertUnwindSafe(|| {
            htmltoadf::convert_html_str_to_adf_str(html.clone())
        }));
        let Ok(json) = output else {
            panicked.push(name.clone());
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&json) else {
            unparsable.push(name.clone());
            continue;
        };
        if !adf_common::schema_errors(&doc).is_empty() {
            schema_failed.push(name.clone());
        }
        names.push(name.clone());
        docs.push(doc);
    }
    let node = adf_common::run_node_validator(&docs);
    let node_failed: Vec<&String> = node.failed.iter().map(|&i| &names[i]).collect();
    let total_failed = panicked.len() + unparsable.len() + node_failed.len();
    println!("htmltoadf on {} corpus files:", corpus.len());
    println!("  panicked: {} {:?}", panicked.len(), panicked);
    println!("  not JSON: {} {:?}", unparsable.len(), unparsable);
    println!(
        "  failing the JSON schema (jsonschema crate): {} {:?}",
        schema_failed.len(),
        schema_failed
    );
    println!(
        "  failing validate.mjs (JSON schema and/or @atlaskit/adf-utils validator): {} {:?}",
        node_failed.len(),
        node_failed
    );
    println!("  total failing: {total_failed} of {}", corpus.len());
}

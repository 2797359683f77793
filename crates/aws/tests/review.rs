//! The review stage's contract against DynamoDB and S3, served by moto on a
//! free loopback port (started here and stopped when the test ends): the
//! same checks the embedded adapters pass, one call at a time. The racing
//! checks are left out here: moto undoes a failed transaction by restoring a
//! snapshot of the whole table taken when it started, which also undoes the
//! transactions that landed meanwhile (DynamoDB serialises them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dtg_aws::{DynamoTable, S3Blobs};
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Plan, PlanSettings, plan};
use dtg_moto::Moto;

/// The plan of `sample_data/uwec_complete`: a real site, well over one transaction of tickets.
fn uwec_plan() -> Plan {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample_data/uwec_complete");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            SourceFile::new(
                p.file_name().unwrap().to_string_lossy(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let report = validate(&files, &Limits::default());
    assert!(!report.has_errors());
    plan(&report.items, &PlanSettings::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_review_stage_keeps_its_contract_on_dynamodb_and_s3() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), "dtg-review");
    table.create_if_missing().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let blobs = S3Blobs::new(s3, "dtg-review");
    blobs.create_if_missing().await.unwrap();
    dtg_app::review::contract::run_review_checks_one_at_a_time(&table, &blobs, &uwec_plan()).await;
}

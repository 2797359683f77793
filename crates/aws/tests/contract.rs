//! The store contract against DynamoDB and S3, served by moto on a free
//! loopback port (started here and stopped when the test ends).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dtg_app::store::Blobs;
use dtg_app::store::contract::{
    blobs_get_absent, blobs_presign_get, blobs_presign_put, blobs_put_get_delete,
    blobs_put_replaces, run_table_contract,
};
use dtg_aws::{DynamoTable, S3Blobs};
use dtg_moto::Moto;

/// The plan of `sample_data/uwec_complete`: a real site, well over one transaction of tickets.
fn uwec_plan() -> dtg_core::plan::Plan {
    use dtg_core::csv::{Limits, SourceFile, validate};
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
    dtg_core::plan::plan(&report.items, &dtg_core::plan::PlanSettings::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_and_s3_pass_the_store_contract() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;

    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), "dtg-contract");
    table.create_if_missing().await.unwrap();
    run_table_contract(&table).await;
    dtg_app::repo::contract::run_repo_contract(&table, &uwec_plan()).await;
    // The racing editors run on SQLite only (crates/embedded): a ticket is
    // written with its list row in one transaction, and moto undoes a failed
    // transaction by restoring a snapshot of the whole table, which also
    // drops transactions that landed meanwhile. DynamoDB serialises them.

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let blobs = S3Blobs::new(s3, "dtg-contract");
    blobs.create_if_missing().await.unwrap();
    blobs_put_get_delete(&blobs).await;
    blobs_put_replaces(&blobs).await;
    blobs_get_absent(&blobs).await;
    blobs_presign_put(&blobs).await;
    blobs_presign_get(&blobs).await;
    // moto does not check presigned signatures or their expiry (S3 does), so
    // the refusal checks run against the embedded store only; here the URL
    // itself must carry the signed start and lifetime S3 enforces.
    let url = blobs
        .presign_get("uploads/x.csv", Duration::from_secs(900), 1_700_000_000)
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Date=20231114T221320Z"), "{url}");
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
}

//! The review stage's contract against DynamoDB and S3, served by moto on a
//! free loopback port (started here and stopped when the test ends): the
//! same checks the embedded adapters pass, one call at a time.
//!
//! Each check has a table and a moto server of its own. moto backs every
//! item a transaction writes with a copy of the whole table, so one table
//! that all checks fill would make each transaction slower than the last;
//! apart, the checks also run in parallel. The racing checks are left out
//! here: moto undoes a failed transaction by restoring that copy, which also
//! undoes the transactions that landed meanwhile (DynamoDB serialises them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use dtg_app::review::contract as review;
use dtg_aws::{DynamoTable, S3Blobs};
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Plan, PlanSettings, plan};
use dtg_moto::Moto;

/// The plan of `sample_data/uwec_complete`: a real site, well over one transaction of tickets.
static UWEC: LazyLock<Plan> = LazyLock::new(|| {
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
});

/// A moto server with a fresh table and bucket.
struct Aws {
    _moto: Moto,
    table: DynamoTable,
    blobs: S3Blobs,
}

async fn aws() -> Aws {
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
    Aws {
        _moto: moto,
        table,
        blobs,
    }
}

#[tokio::test]
async fn stale_edits_get_the_current_version_and_lose_nothing() {
    let a = aws().await;
    review::stale_edits_get_the_current_version_and_lose_nothing(&a.table, &UWEC).await;
}

#[tokio::test]
async fn a_move_to_another_epic_updates_the_epics() {
    let a = aws().await;
    review::a_move_to_another_epic_updates_the_epics(&a.table, &UWEC).await;
}

#[tokio::test]
async fn a_cycle_is_refused_named_and_nothing_stored() {
    let a = aws().await;
    review::a_cycle_is_refused_named_and_nothing_stored(&a.table, &UWEC).await;
}

#[tokio::test]
async fn dependencies_are_added_and_removed() {
    let a = aws().await;
    review::dependencies_are_added_and_removed(&a.table, &UWEC).await;
}

#[tokio::test]
async fn merging_combines_items_dependencies_and_description() {
    let a = aws().await;
    review::merging_combines_items_dependencies_and_description(&a.table, &a.blobs, &UWEC).await;
}

#[tokio::test]
async fn deleting_keeps_the_order_through_the_ticket() {
    let a = aws().await;
    review::deleting_keeps_the_order_through_the_ticket(&a.table, &a.blobs, &UWEC).await;
}

#[tokio::test]
async fn attachments_are_checked_listed_and_deleted() {
    let a = aws().await;
    review::attachments_are_checked_listed_and_deleted(&a.table, &a.blobs, &UWEC).await;
}

#[tokio::test]
async fn tickets_page_and_filter_in_build_order() {
    let a = aws().await;
    review::tickets_page_and_filter_in_build_order(&a.table, &UWEC).await;
}

#[tokio::test]
async fn list_rows_agree_with_the_tickets_after_every_edit() {
    let a = aws().await;
    review::list_rows_agree_with_the_tickets_after_every_edit(&a.table, &a.blobs, &UWEC).await;
}

#[tokio::test]
async fn downloads_render_the_stored_plan() {
    let a = aws().await;
    review::downloads_render_the_stored_plan(&a.table, &UWEC).await;
}

//! The review stage on SQLite and a blob folder: stale edits, cycles,
//! merges, deletes, attachments, listing and racing editors, as the shared
//! review contract states them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Plan, PlanSettings, plan};
use dtg_embedded::{FolderBlobs, SqliteTable};

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
async fn the_review_stage_keeps_its_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let blobs = FolderBlobs::new(dir.path(), "http://127.0.0.1:9", "review-secret").unwrap();
    dtg_app::review::contract::run_review_contract(table, &blobs, &uwec_plan()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_review_stage_keeps_its_contract_on_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(SqliteTable::open(dir.path().join("review.sqlite3")).unwrap());
    let blobs = FolderBlobs::new(dir.path().join("blobs"), "http://127.0.0.1:9", "s").unwrap();
    dtg_app::review::contract::run_review_contract(table, &blobs, &uwec_plan()).await;
}

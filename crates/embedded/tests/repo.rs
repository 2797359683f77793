//! Repositories on SQLite: the repository contract (sessions, plans, files,
//! tasks, audit, tokens, connections, expiry), and racing edits of one ticket
//! ending with exactly one winner per version and no lost update.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{PlanSettings, Ticket, plan};
use dtg_embedded::SqliteTable;

fn a_ticket() -> Ticket {
    let report = validate(
        &[SourceFile::new(
            "content_types.csv",
            "machine_name,label\nnews,News\n",
        )],
        &Limits::default(),
    );
    plan(&report.items, &PlanSettings::default())
        .unwrap()
        .tickets
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_editors_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(SqliteTable::open(dir.path().join("store.sqlite")).unwrap());
    let conflicts = dtg_app::store::contract::repo_racing_editors(table, a_ticket(), 50).await;
    println!("50 editors on SQLite: {conflicts} conflicts retried");
}

#[tokio::test]
async fn repositories_keep_their_contract_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let table = SqliteTable::open(dir.path().join("store.sqlite")).unwrap();
    dtg_app::repo::contract::run_repo_contract(&table, &uwec_plan()).await;
}

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

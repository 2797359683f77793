//! Repositories on SQLite: racing edits of one ticket end with exactly one
//! winner per version and no lost update; session moves follow the rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use dtg_app::repo::{DEFAULT_TTL_SECONDS, RepoError, Repos};
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{PlanSettings, Ticket, plan};
use dtg_core::session::{Position, Stage, Status};
use dtg_embedded::SqliteTable;

const NOW: i64 = 1_800_000_000;

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
async fn sessions_move_only_as_the_rules_allow_and_not_from_a_stale_read() {
    let table = SqliteTable::open_in_memory().unwrap();
    let repos = Repos::new(&table, DEFAULT_TTL_SECONDS);
    let created = repos.create_session("s1", "u1", NOW).await.unwrap();
    assert!(matches!(
        repos.create_session("s1", "u2", NOW).await,
        Err(RepoError::Conflict(_))
    ));

    let upload = repos
        .move_session(
            &created,
            Position::new(Stage::Upload, Status::Active),
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(upload.version, 2);
    // A move from the stale read is a conflict, not an overwrite.
    let stale = repos
        .move_session(
            &created,
            Position::new(Stage::Upload, Status::Active),
            NOW + 2,
        )
        .await;
    assert!(matches!(stale, Err(RepoError::Conflict(_))), "{stale:?}");
    // Skipping review is refused by the rules.
    let skip = repos
        .move_session(
            &upload,
            Position::new(Stage::JiraExport, Status::Exporting),
            NOW + 3,
        )
        .await;
    assert!(matches!(skip, Err(RepoError::Transition(_))), "{skip:?}");

    // Items expire after the TTL.
    assert!(
        repos
            .session("s1", NOW + 1 + DEFAULT_TTL_SECONDS - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        repos
            .session("s1", NOW + 1 + DEFAULT_TTL_SECONDS)
            .await
            .unwrap()
            .is_none()
    );
}

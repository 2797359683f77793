//! The export engine's checks before anything is sent to Jira, on SQLite:
//! an export needs a passing ADF check of the tickets as they are now.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dtg_app::export::{ExportError, ExportSettings, check_adf, start_export};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_app::workflow::{Run, plan_session, upload_files};
use dtg_core::csv::{Limits, SourceFile};
use dtg_core::plan::PlanSettings;
use dtg_core::session::{Stage, Status};
use dtg_embedded::{FolderBlobs, SqliteTable};

const NOW: i64 = 1_800_000_000;

fn run(id: &str, now: i64) -> Run<'_> {
    Run {
        actor: "tester",
        id,
        now,
    }
}

fn uwec_files() -> Vec<SourceFile> {
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
    files
}

fn settings() -> ExportSettings {
    ExportSettings {
        project_key: "DTG".to_owned(),
        batch_size: 50,
        ..ExportSettings::default()
    }
}

#[tokio::test]
async fn an_export_needs_a_fresh_passing_adf_check() {
    let dir = tempfile::tempdir().unwrap();
    let table = SqliteTable::open(dir.path().join("store.sqlite")).unwrap();
    let blobs = FolderBlobs::new(dir.path().join("blobs"), "http://127.0.0.1:1", "s").unwrap();
    let repos = Repos::new(&table, DEFAULT_TTL_SECONDS);
    repos.create_session("s1", "u", "", NOW).await.unwrap();
    upload_files(&repos, &blobs, "s1", &uwec_files(), run("r1", NOW))
        .await
        .unwrap();
    let limits = Limits::default();
    plan_session(
        &repos,
        &blobs,
        "s1",
        &PlanSettings::default(),
        &limits,
        run("r2", NOW),
    )
    .await
    .unwrap();

    // GIVEN no check WHEN the export starts THEN validation is required.
    let refused = start_export(&repos, "s1", settings(), run("r3", NOW)).await;
    assert!(
        matches!(&refused, Err(ExportError::AdfNotFresh(m)) if m.contains("Validation required")),
        "{refused:?}"
    );

    // GIVEN a passing check WHEN a ticket is edited afterwards THEN the check is stale.
    let report = check_adf(&repos, "s1", run("r4", NOW + 1)).await.unwrap();
    assert!(
        report.all_passed,
        "{:?}",
        report.results.iter().find(|r| r.status != "passed")
    );
    assert_eq!(report.tickets_tested, 128, "8 epics and 120 tickets");
    let session = repos.session("s1", NOW).await.unwrap().unwrap();
    assert_eq!(
        (session.value.position.stage, session.value.position.status),
        (Stage::Review, Status::Active),
        "the check returns the session to review"
    );
    let ticket = repos.tickets("s1", NOW).await.unwrap().remove(0);
    let mut edited = ticket.value.clone();
    edited.description_html.push_str("<p>One more note.</p>");
    repos
        .update_ticket(&session.value, &ticket, edited, NOW + 2)
        .await
        .unwrap();
    let stale = start_export(&repos, "s1", settings(), run("r5", NOW + 3)).await;
    assert!(
        matches!(&stale, Err(ExportError::AdfNotFresh(m)) if m.contains("changed since")),
        "{stale:?}"
    );

    // GIVEN a failing check (a title over Jira's 255 characters) THEN no export.
    let ticket = repos.tickets("s1", NOW).await.unwrap().remove(0);
    let mut long = ticket.value.clone();
    long.title = "x".repeat(256);
    repos
        .update_ticket(&session.value, &ticket, long, NOW + 4)
        .await
        .unwrap();
    let report = check_adf(&repos, "s1", run("r6", NOW + 5)).await.unwrap();
    assert_eq!(report.failed, 1);
    let failed = report
        .results
        .iter()
        .find(|r| r.status == "failed")
        .unwrap();
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap()
            .contains("256 characters")
    );
    let refused = start_export(&repos, "s1", settings(), run("r7", NOW + 6)).await;
    assert!(
        matches!(&refused, Err(ExportError::AdfNotFresh(m)) if m.contains("failed")),
        "{refused:?}"
    );

    // GIVEN the title fixed and checked again THEN the export starts.
    let ticket = repos.tickets("s1", NOW).await.unwrap().remove(0);
    let mut fixed = ticket.value.clone();
    fixed.title = "A fixed title".to_owned();
    repos
        .update_ticket(&session.value, &ticket, fixed, NOW + 7)
        .await
        .unwrap();
    assert!(
        check_adf(&repos, "s1", run("r8", NOW + 8))
            .await
            .unwrap()
            .all_passed
    );
    let state = start_export(&repos, "s1", settings(), run("r9", NOW + 9))
        .await
        .unwrap();
    assert_eq!(state.run_label, "dtg-s1");
    let session = repos.session("s1", NOW + 9).await.unwrap().unwrap();
    assert_eq!(
        (session.value.position.stage, session.value.position.status),
        (Stage::JiraExport, Status::Exporting)
    );
}

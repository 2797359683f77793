//! The decisions of an export and the progress of the stages, on SQLite,
//! before anything reaches Jira: start or answer the running export, resume
//! one cut short, refuse another project, retry at most three times, say
//! where it is in the seed's shapes; validation and planning publish their
//! messages through the in-process hub; a worded plan is saved with its report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use dtg_app::export::{
    Begun, ErrorCategory, ExportError, ExportFailure, ExportRequest, ExportStatus, LEASE_SECS,
    Phase, begin_export, export_status, retry_failed,
};
use dtg_app::progress::{ProgressMessage, Publish};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, JiraTarget, Repos, TaskKind, TaskStatus};
use dtg_app::workflow::{
    Run, plan_session_with, save_wording, upload_files, validate_session_with,
};
use dtg_core::csv::{Limits, SourceFile};
use dtg_core::plan::PlanSettings;
use dtg_core::session::{Position, Stage, Status};
use dtg_embedded::{FolderBlobs, Hub, SqliteTable};

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

/// Keeps every message published.
#[derive(Default)]
struct Recorder(Mutex<Vec<ProgressMessage>>);

impl Publish for Recorder {
    async fn publish(&self, session: &str, message: &ProgressMessage) {
        assert_eq!(session, message.session_id());
        self.0.lock().unwrap().push(message.clone());
    }
}

struct Store {
    _dir: tempfile::TempDir,
    table: SqliteTable,
    blobs: FolderBlobs,
}

impl Store {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let table = SqliteTable::open(dir.path().join("store.sqlite")).unwrap();
        let blobs = FolderBlobs::new(dir.path().join("blobs"), "http://127.0.0.1:1", "s").unwrap();
        Self {
            _dir: dir,
            table,
            blobs,
        }
    }

    fn repos(&self) -> Repos<'_, SqliteTable> {
        Repos::new(&self.table, DEFAULT_TTL_SECONDS)
    }

    /// A session holding the sample site, validated and planned, in review.
    async fn planned(&self, id: &str, publish: &impl Publish) {
        let repos = self.repos();
        repos.create_session(id, "u", "", NOW).await.unwrap();
        upload_files(&repos, &self.blobs, id, &uwec_files(), run("up", NOW))
            .await
            .unwrap();
        let limits = Limits::default();
        validate_session_with(&repos, &self.blobs, publish, id, &limits, run("val", NOW))
            .await
            .unwrap();
        plan_session_with(
            &repos,
            &self.blobs,
            publish,
            id,
            &PlanSettings::default(),
            &limits,
            run("plan", NOW),
        )
        .await
        .unwrap();
    }

    async fn position(&self, id: &str) -> Position {
        self.repos()
            .session(id, NOW)
            .await
            .unwrap()
            .unwrap()
            .value
            .position
    }

    /// Stops the export as a Jira failure at ticket 5 would.
    async fn fail(&self, id: &str, now: i64) {
        let repos = self.repos();
        let session = repos.session(id, now).await.unwrap().unwrap();
        let stored = repos.export_state(id, now).await.unwrap().unwrap();
        let mut state = stored.value.clone();
        state.failure = Some(ExportFailure {
            error_category: ErrorCategory::Temporary,
            code: "jira_unavailable".to_owned(),
            user_message: "Jira is unavailable".to_owned(),
            recovery_actions: vec!["Wait a few minutes".to_owned()],
            failed_at_ticket_order: Some(5),
            ticket_id: None,
            retry_available: true,
            at: now,
        });
        state.first_failure_at.get_or_insert(now);
        repos
            .save_export_state(&session.value, &state, Some(stored.version), now)
            .await
            .unwrap();
        repos
            .move_session(
                &session,
                Position::new(Stage::JiraExport, Status::ExportFailed),
                now,
            )
            .await
            .unwrap();
    }
}

fn request(project: Option<&str>) -> ExportRequest {
    ExportRequest {
        project_key: project.map(str::to_owned),
        ..ExportRequest::default()
    }
}

#[tokio::test]
async fn an_export_starts_once_answers_while_running_and_resumes_when_cut_short() {
    let store = Store::new();
    store.planned("s1", &Recorder::default()).await;
    let repos = store.repos();

    // GIVEN no project named and none recorded THEN none is guessed.
    let none = begin_export(&repos, "s1", request(None), run("b0", NOW)).await;
    assert!(matches!(none, Err(ExportError::NoProject(_))), "{none:?}");
    assert_eq!(
        store.position("s1").await,
        Position::new(Stage::Review, Status::Active)
    );

    // WHEN it starts THEN an export task is recorded and the driver holds the lease.
    let Begun::Started(started) = begin_export(&repos, "s1", request(Some("DTG")), run("b1", NOW))
        .await
        .unwrap()
    else {
        panic!("a new export starts");
    };
    assert_eq!(started.status, "exporting");
    assert_eq!(started.jira_project_key, "DTG");
    assert_eq!(started.total_tickets, 128, "8 epics and 120 tickets");
    assert!(started.estimated_duration_minutes >= 1);
    assert_eq!(started.started_at, NOW);
    let json = serde_json::to_value(Begun::Started(started.clone())).unwrap();
    assert_eq!(json["started_at"], "2027-01-15T08:00:00Z");
    let task = repos
        .task("s1", &started.task_id, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (task.value.kind, task.value.status),
        (TaskKind::Export, TaskStatus::Running)
    );
    let lease = repos.export_lease("s1", NOW).await.unwrap().unwrap();
    assert_eq!(lease.value.holder, "b1");

    // WHEN asked again while it runs THEN the same export is answered, nothing changes.
    let Begun::AlreadyRunning(running) =
        begin_export(&repos, "s1", request(Some("DTG")), run("b2", NOW + 5))
            .await
            .unwrap()
    else {
        panic!("the running export is answered");
    };
    assert_eq!(running.task_id, started.task_id);
    assert_eq!(running.status, "exporting");
    assert_eq!(running.progress_percentage, 0.0);
    assert!(!running.current_ticket_title.is_empty());
    assert_eq!(
        repos.export_lease("s1", NOW).await.unwrap().unwrap().value,
        lease.value
    );
    let retry = retry_failed(&repos, "s1", None, run("r0", NOW + 5)).await;
    assert!(
        matches!(&retry, Err(ExportError::Running { task_id, .. }) if *task_id == started.task_id),
        "{retry:?}"
    );

    // Another project than the one it started with is refused, running or not.
    let other = begin_export(&repos, "s1", request(Some("OTHER")), run("b3", NOW + 5)).await;
    assert!(
        matches!(&other, Err(ExportError::ProjectMismatch { started, asked, .. }) if started == "DTG" && asked == "OTHER"),
        "{other:?}"
    );

    // The status answers in the seed's "exporting" shape.
    let status = export_status(&repos, "s1", NOW + 5).await.unwrap();
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["status"], "exporting");
    assert_eq!(json["task_id"], started.task_id.as_str());
    assert_eq!(json["total_tickets"], 128);
    assert_eq!(json["tickets_completed"], 0);

    // GIVEN the driver died mid-create (the cursor at the tickets) WHEN its
    // lease lapses THEN a new call resumes it, from prepare, in the same task.
    let session = repos.session("s1", NOW).await.unwrap().unwrap();
    let stored = repos.export_state("s1", NOW).await.unwrap().unwrap();
    let mut cut = stored.value.clone();
    cut.phase = Phase::Tickets;
    repos
        .save_export_state(&session.value, &cut, Some(stored.version), NOW + 6)
        .await
        .unwrap();
    let later = NOW + LEASE_SECS + 1;
    let Begun::Started(resumed) = begin_export(&repos, "s1", request(None), run("b4", later))
        .await
        .unwrap()
    else {
        panic!("a cut-short export resumes");
    };
    assert_eq!(resumed.task_id, started.task_id);
    let state = repos
        .export_state("s1", later)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        state.phase,
        Phase::Prepare,
        "it looks for lost creates first"
    );
    let lease = repos.export_lease("s1", later).await.unwrap().unwrap();
    assert_eq!(lease.value.holder, "b4");
    assert!(matches!(
        begin_export(&repos, "s1", request(None), run("b5", later + 1))
            .await
            .unwrap(),
        Begun::AlreadyRunning(_)
    ));
}

#[tokio::test]
async fn a_failed_export_is_retried_three_times_at_most_in_its_own_project() {
    let store = Store::new();
    store.planned("s1", &Recorder::default()).await;
    let repos = store.repos();
    // The project the session records is used when the request names none.
    let session = repos.session("s1", NOW).await.unwrap().unwrap();
    repos
        .set_jira_target(
            &session,
            Some(JiraTarget {
                site: "https://example.atlassian.net".to_owned(),
                project_key: "WEB".to_owned(),
            }),
            NOW,
        )
        .await
        .unwrap();
    let begun = begin_export(&repos, "s1", request(None), run("b1", NOW))
        .await
        .unwrap();
    let Begun::Started(started) = begun else {
        panic!("started");
    };
    assert_eq!(started.jira_project_key, "WEB");

    let mut now = NOW + 10;
    for attempt in 1..=3 {
        store.fail("s1", now).await;
        let status = export_status(&repos, "s1", now).await.unwrap();
        let ExportStatus::Failed {
            failed_at_ticket_order,
            error_category,
            retry_available,
            retry_attempts_used,
            ..
        } = &status
        else {
            panic!("{status:?}");
        };
        assert_eq!(*failed_at_ticket_order, Some(5));
        assert_eq!(*error_category, ErrorCategory::Temporary);
        assert!(*retry_available);
        assert_eq!(*retry_attempts_used, attempt - 1);
        assert_eq!(serde_json::to_value(&status).unwrap()["status"], "failed");

        // Without a retry, a stopped export is not resumed by accident.
        let plain = begin_export(&repos, "s1", request(None), run("again", now)).await;
        assert!(
            matches!(
                plain,
                Err(ExportError::Stopped {
                    admin_required: false,
                    ..
                })
            ),
            "{plain:?}"
        );
        let elsewhere = retry_failed(&repos, "s1", Some("DTG"), run("x", now)).await;
        assert!(
            matches!(elsewhere, Err(ExportError::ProjectMismatch { .. })),
            "{elsewhere:?}"
        );
        assert_eq!(
            store.position("s1").await,
            Position::new(Stage::JiraExport, Status::ExportFailed)
        );

        let id = format!("retry{attempt}");
        let retried = retry_failed(&repos, "s1", Some("WEB"), run(&id, now))
            .await
            .unwrap();
        assert_eq!(retried.retry_attempt, attempt);
        assert_eq!(retried.remaining_retries, 3 - attempt);
        assert_eq!(retried.resuming_from_ticket_order, Some(5));
        assert_eq!(retried.preserved_successful_tickets, 0);
        assert_ne!(retried.task_id, started.task_id, "a new task per retry");
        let task = repos.task("s1", &retried.task_id, now).await.unwrap();
        assert_eq!(task.unwrap().value.kind, TaskKind::Export);
        assert_eq!(
            repos
                .export_lease("s1", now)
                .await
                .unwrap()
                .unwrap()
                .value
                .holder,
            id
        );
        now += LEASE_SECS + 10;
    }
    store.fail("s1", now).await;
    let refused = retry_failed(&repos, "s1", None, run("retry4", now)).await;
    assert!(
        matches!(refused, Err(ExportError::MaxRetries { used: 3, first_error_at: Some(at) }) if at == NOW + 10),
        "{refused:?}"
    );
    assert_eq!(
        store.position("s1").await,
        Position::new(Stage::JiraExport, Status::AdminRequired)
    );
    let ExportStatus::Failed {
        retry_available, ..
    } = export_status(&repos, "s1", now).await.unwrap()
    else {
        panic!("failed");
    };
    assert!(!retry_available);
    let plain = begin_export(&repos, "s1", request(None), run("again", now)).await;
    assert!(
        matches!(
            plain,
            Err(ExportError::Stopped {
                admin_required: true,
                ..
            })
        ),
        "{plain:?}"
    );
}

#[tokio::test]
async fn a_completed_export_is_not_started_again_and_says_when_it_finished() {
    let store = Store::new();
    store.planned("s1", &Recorder::default()).await;
    let repos = store.repos();
    begin_export(&repos, "s1", request(Some("DTG")), run("b1", NOW))
        .await
        .unwrap();
    let session = repos.session("s1", NOW).await.unwrap().unwrap();
    let stored = repos.export_state("s1", NOW).await.unwrap().unwrap();
    let mut done = stored.value.clone();
    done.phase = Phase::Done;
    done.finished_at = Some(NOW + 168);
    repos
        .save_export_state(&session.value, &done, Some(stored.version), NOW + 168)
        .await
        .unwrap();
    repos
        .move_session(
            &session,
            Position::new(Stage::Completed, Status::Completed),
            NOW + 168,
        )
        .await
        .unwrap();

    let status = export_status(&repos, "s1", NOW + 200).await.unwrap();
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["status"], "completed");
    assert_eq!(json["completed_at"], "2027-01-15T08:02:48Z");
    assert_eq!(json["total_processing_time_minutes"], 2.8);
    assert_eq!(json["jira_tickets_created"], 0);
    for result in [
        begin_export(&repos, "s1", request(None), run("b2", NOW + 200))
            .await
            .map(|_| ()),
        retry_failed(&repos, "s1", None, run("r", NOW + 200))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(ExportError::AlreadyExported(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn tickets_jira_would_refuse_are_listed_and_nothing_starts() {
    let store = Store::new();
    store.planned("s1", &Recorder::default()).await;
    let repos = store.repos();
    let session = repos.session("s1", NOW).await.unwrap().unwrap();
    let ticket = repos.tickets("s1", NOW).await.unwrap().remove(0);
    let mut long = ticket.value.clone();
    long.title = "x".repeat(256);
    repos
        .update_ticket(&session.value, &ticket, long, NOW + 1)
        .await
        .unwrap();
    let refused = begin_export(&repos, "s1", request(Some("DTG")), run("b1", NOW + 2)).await;
    let Err(ExportError::AdfFailed { failed, .. }) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].ticket_id, ticket.value.id);
    assert!(
        failed[0]
            .error_message
            .as_deref()
            .unwrap()
            .contains("256 characters")
    );
    assert_eq!(
        store.position("s1").await,
        Position::new(Stage::Review, Status::Active)
    );
    assert!(repos.export_state("s1", NOW).await.unwrap().is_none());
}

#[tokio::test]
async fn validation_and_planning_publish_their_progress_to_the_hub() {
    let store = Store::new();
    let hub = Hub::new();
    let mut listener = hub.subscribe("s1");
    store.planned("s1", &hub).await;
    let mut messages = Vec::new();
    while let Ok(json) = listener.try_recv() {
        messages.push(serde_json::from_str::<ProgressMessage>(&json).unwrap());
    }
    let files = uwec_files().len();
    let kinds: Vec<&str> = messages.iter().map(ProgressMessage::kind).collect();
    let mut expected = vec!["validation_progress"; files];
    expected.extend(["validation_complete", "processing_complete"]);
    assert_eq!(kinds, expected);
    let ProgressMessage::ValidationProgress(last) = &messages[files - 1] else {
        panic!("progress");
    };
    assert_eq!((last.files_done, last.files_total), (files, files));
    let ProgressMessage::ValidationComplete(done) = &messages[files] else {
        panic!("complete");
    };
    assert_eq!(done.errors, 0);
    assert_eq!(done.errors, last.errors);
    assert_eq!(done.warnings, last.warnings);
    let ProgressMessage::ProcessingComplete(planned) = &messages[files + 1] else {
        panic!("planned");
    };
    assert_eq!((planned.tickets, planned.epics), (120, 8));
    assert_eq!(planned.provider, "deterministic");

    // Planning a session at a stage that cannot plan publishes nothing;
    // planning files that cannot be read publishes the failure.
    let repos = store.repos();
    repos.create_session("s2", "u", "", NOW).await.unwrap();
    let recorder = Recorder::default();
    let refused = validate_session_with(
        &repos,
        &store.blobs,
        &recorder,
        "s2",
        &Limits::default(),
        run("v", NOW),
    )
    .await;
    assert!(refused.is_err());
    assert!(recorder.0.lock().unwrap().is_empty());
    let session = repos.session("s2", NOW).await.unwrap().unwrap();
    repos
        .move_session(&session, Position::new(Stage::Upload, Status::Active), NOW)
        .await
        .unwrap();
    let failed = validate_session_with(
        &repos,
        &store.blobs,
        &recorder,
        "s2",
        &Limits::default(),
        run("v2", NOW),
    )
    .await;
    assert!(failed.is_err(), "no files");
    let published = recorder.0.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    let ProgressMessage::ValidationFailed(f) = &published[0] else {
        panic!("{published:?}");
    };
    assert_eq!(f.error_category, ErrorCategory::UserFixable);
    assert!(f.error_message.contains("no files"), "{}", f.error_message);
}

#[tokio::test]
async fn a_worded_plan_is_saved_with_its_report_while_in_review() {
    let store = Store::new();
    store.planned("s1", &Recorder::default()).await;
    let repos = store.repos();
    let mut plan = repos.plan("s1", NOW).await.unwrap().unwrap();
    plan.tickets[0].title = "Worded by a model".to_owned();
    let report = serde_json::json!({
        "provider": "openai", "model": "gpt-4o-mini", "prompt_version": "v3",
        "tickets_written": 120, "tickets_kept": 0, "chunks": [{}, {}, {}],
        "findings": [], "usage": { "input_tokens": 10 }, "cost": { "pico_usd": 5 }
    });
    let task = save_wording(
        &repos,
        "s1",
        &plan,
        report.clone(),
        "openai",
        "gpt-4o-mini",
        run("w1", NOW + 1),
    )
    .await
    .unwrap();
    assert_eq!(
        (task.kind, task.status),
        (TaskKind::Processing, TaskStatus::Succeeded)
    );
    assert_eq!((task.progress.done, task.progress.total), (3, 3));
    let stored = repos.task("s1", &task.id, NOW).await.unwrap().unwrap();
    assert_eq!(stored.value.result, Some(report.clone()));
    let saved = repos.plan("s1", NOW).await.unwrap().unwrap();
    assert_eq!(saved.tickets[0].title, "Worded by a model");
    let log = repos.audit_log("s1", NOW + 2).await.unwrap();
    let worded = log.iter().find(|e| e.action == "plan.worded").unwrap();
    assert_eq!(worded.detail["model"], "gpt-4o-mini");
    assert_eq!(worded.detail["chunks"], 3);

    // Outside review it is refused.
    begin_export(&repos, "s1", request(Some("DTG")), run("b1", NOW + 3))
        .await
        .unwrap();
    let refused = save_wording(
        &repos,
        "s1",
        &plan,
        report,
        "openai",
        "gpt-4o-mini",
        run("w2", NOW + 4),
    )
    .await;
    assert!(refused.is_err());
}

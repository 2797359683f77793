//! The session's stages as use cases, written once for the command line and
//! the serverless functions: upload files into a session, validate them,
//! plan the backlog from them. Each moves the session through the stage
//! machine, records a task the client can poll and an audit entry, and
//! leaves the session where the next stage can pick it up. The `*_with`
//! variants also publish the stage's progress messages
//! ([`crate::progress`]) to the session's listeners.

use dtg_core::csv::{Limits, Report, SourceFile, validate};
use dtg_core::finding::Severity;
use dtg_core::plan::{Plan, PlanError, PlanSettings, plan};
use dtg_core::session::{Position, Stage, Status};

use crate::export::ErrorCategory;
use crate::progress::{
    NoPublish, ProcessingComplete, ProcessingFailed, ProgressMessage, ProtocolVersion, Publish,
    ValidationComplete, ValidationFailed, ValidationProgress,
};
use crate::repo::{
    AuditEntry, FileRecord, FileStatus, Progress, RepoError, Repos, Session, SessionSummary, Task,
    TaskError, TaskKind, TaskStatus, Versioned,
};
use crate::store::{Blobs, StoreError, Table, Timestamp};

/// What a stage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// No such session (or it expired).
    #[error("there is no session {0}; `dtg session list` shows the sessions there are")]
    NoSession(String),
    /// The session is not at a stage where this can happen.
    #[error("session {session} is at {position}, where it cannot {action}")]
    WrongStage {
        /// Session id.
        session: String,
        /// Where it is.
        position: Position,
        /// What was asked.
        action: &'static str,
    },
    /// The session holds no file to work on.
    #[error("session {0} has no files yet; upload the CSV files first")]
    NoFiles(String),
    /// A file's bytes are missing from the blob store.
    #[error("the bytes of {name} are missing from the blob store ({key}); upload the file again")]
    MissingBlob {
        /// File name.
        name: String,
        /// Blob key.
        key: String,
    },
    /// The files have errors, so there is nothing to plan.
    #[error("the files have {errors} errors; fix them before planning")]
    Invalid {
        /// How many errors.
        errors: usize,
        /// The validation report.
        report: Box<Report>,
    },
    /// The planner refused the items.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A repository call failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The blob store failed.
    #[error(transparent)]
    Blobs(#[from] StoreError),
}

/// Result of a stage.
pub type Result<T, E = WorkflowError> = std::result::Result<T, E>;

const UPLOAD: Position = Position::new(Stage::Upload, Status::Active);
const VALIDATING: Position = Position::new(Stage::Upload, Status::Validating);
const PROCESSING: Position = Position::new(Stage::Processing, Status::Processing);
const PROCESSING_FAILED: Position = Position::new(Stage::Processing, Status::Failed);
const REVIEW: Position = Position::new(Stage::Review, Status::Active);

/// Who runs a stage and when: the actor for the audit log, a run id unique
/// to this call (task and file ids derive from it), and the clock.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// User id, or `system`.
    pub actor: &'a str,
    /// Unique id of this run.
    pub id: &'a str,
    /// The time.
    pub now: Timestamp,
}

/// The blob key of an uploaded file.
#[must_use]
pub fn file_blob_key(session: &str, file: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sessions/{session}/files/{file}/{safe}")
}

async fn load<T: Table>(
    repos: &Repos<'_, T>,
    id: &str,
    now: Timestamp,
) -> Result<Versioned<Session>> {
    repos
        .session(id, now)
        .await?
        .ok_or_else(|| WorkflowError::NoSession(id.to_owned()))
}

/// Moves `session` to `to` unless it is there already.
async fn move_to<T: Table>(
    repos: &Repos<'_, T>,
    session: Versioned<Session>,
    to: Position,
    now: Timestamp,
) -> Result<Versioned<Session>> {
    if session.value.position == to {
        return Ok(session);
    }
    Ok(repos.move_session(&session, to, now).await?)
}

async fn audit<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    run: Run<'_>,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let entry = AuditEntry {
        id: format!("{}-{action}", run.id),
        at: run.now,
        actor: run.actor.to_owned(),
        action: action.to_owned(),
        detail,
    };
    Ok(repos.append_audit(session, &entry).await?)
}

/// Stores `files` in a session, replacing the files it had, and brings the
/// session to the upload stage. The bytes go to the blob store first, the
/// records after, so a record never points at missing bytes.
///
/// # Errors
/// [`WorkflowError::WrongStage`] while processing or exporting.
pub async fn upload_files<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    files: &[SourceFile],
    run: Run<'_>,
) -> Result<Vec<FileRecord>> {
    let current = load(repos, session, run.now).await?;
    let position = current.value.position;
    let current = match (position.stage, position.status) {
        (Stage::Setup, Status::Active)
        | (Stage::Upload, Status::Active)
        | (Stage::Review, Status::Active)
        | (Stage::Processing, Status::Failed) => move_to(repos, current, UPLOAD, run.now).await?,
        // A validation cut short by a crash: its files may be replaced.
        (Stage::Upload, Status::Validating) => current,
        _ => {
            return Err(WorkflowError::WrongStage {
                session: session.to_owned(),
                position,
                action: "take new files",
            });
        }
    };
    let records: Vec<FileRecord> = files
        .iter()
        .enumerate()
        .map(|(n, f)| {
            let id = format!("{}-{n:03}", run.id);
            FileRecord {
                blob_key: file_blob_key(session, &id, &f.name),
                id,
                name: f.name.clone(),
                size: f.bytes.len() as u64,
                status: FileStatus::Uploaded,
                report: None,
                findings: Vec::new(),
                uploaded_at: run.now,
            }
        })
        .collect();
    for (record, file) in records.iter().zip(files) {
        blobs
            .put(&record.blob_key, file.bytes.clone(), "text/csv")
            .await?;
    }
    let old = repos.files(session, run.now).await?;
    repos
        .insert_files(&current.value, &records, run.now)
        .await?;
    let old_ids: Vec<String> = old.iter().map(|f| f.value.id.clone()).collect();
    repos.delete_files(session, &old_ids, run.now).await?;
    for file in &old {
        blobs.delete(&file.value.blob_key).await?;
    }
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    audit(
        repos,
        &current.value,
        run,
        "files.uploaded",
        serde_json::json!({ "files": names, "replaced": old.len() }),
    )
    .await?;
    Ok(records)
}

/// Reads a session's files back from the blob store, in upload order.
async fn sources<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    now: Timestamp,
) -> Result<Vec<(Versioned<FileRecord>, SourceFile)>> {
    let records = repos.files(session, now).await?;
    if records.is_empty() {
        return Err(WorkflowError::NoFiles(session.to_owned()));
    }
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let Some(bytes) = blobs.get(&record.value.blob_key).await? else {
            return Err(WorkflowError::MissingBlob {
                name: record.value.name.clone(),
                key: record.value.blob_key.clone(),
            });
        };
        let source = SourceFile::new(record.value.name.clone(), bytes);
        out.push((record, source));
    }
    Ok(out)
}

/// Validates the files of a session, stores what was found in each, and
/// returns the report. The session is left in the upload stage, ready to plan
/// when the report has no error.
///
/// # Errors
/// [`WorkflowError::NoFiles`] before any upload; [`WorkflowError::WrongStage`]
/// outside the upload stage.
pub async fn validate_session<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    limits: &Limits,
    run: Run<'_>,
) -> Result<Report> {
    validate_session_with(repos, blobs, &NoPublish, session, limits, run).await
}

/// [`validate_session`], publishing `validation_progress` after each file's
/// findings are stored, then `validation_complete` (findings with errors
/// included: the report says what to fix), or `validation_failed` when the
/// files could not be read.
///
/// # Errors
/// As [`validate_session`].
pub async fn validate_session_with<T: Table, B: Blobs, P: Publish>(
    repos: &Repos<'_, T>,
    blobs: &B,
    publish: &P,
    session: &str,
    limits: &Limits,
    run: Run<'_>,
) -> Result<Report> {
    let current = load(repos, session, run.now).await?;
    if current.value.position.stage != Stage::Upload {
        return Err(WorkflowError::WrongStage {
            session: session.to_owned(),
            position: current.value.position,
            action: "validate files (upload them first)",
        });
    }
    let current = move_to(repos, current, VALIDATING, run.now).await?;
    let task = start_task(repos, &current.value, TaskKind::Validation, run).await?;
    let files = match sources(repos, blobs, session, run.now).await {
        Ok(files) => files,
        Err(err) => {
            let message = ProgressMessage::ValidationFailed(ValidationFailed {
                v: ProtocolVersion,
                session_id: session.to_owned(),
                status: "failed".to_owned(),
                files_done: 0,
                files_total: 0,
                errors: 0,
                warnings: 0,
                notes: 0,
                error_category: error_category(&err),
                error_message: err.to_string(),
            });
            fail_task(repos, &current.value, task, &err, run).await?;
            move_to(repos, current, UPLOAD, run.now).await?;
            publish.publish(session, &message).await;
            return Err(err);
        }
    };
    let (records, sources): (Vec<_>, Vec<_>) = files.into_iter().unzip();
    let report = validate(&sources, limits);
    let mut so_far = ValidationProgress {
        v: ProtocolVersion,
        session_id: session.to_owned(),
        files_done: 0,
        files_total: records.len(),
        current_file: None,
        errors: 0,
        warnings: 0,
        notes: 0,
    };
    for (record, file) in records.iter().zip(&report.files) {
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.file == record.value.name)
            .cloned()
            .collect();
        for f in &findings {
            match f.severity {
                Severity::Error => so_far.errors += 1,
                Severity::Warning => so_far.warnings += 1,
                Severity::Info => so_far.notes += 1,
            }
        }
        let status = if findings.iter().any(|f| f.severity == Severity::Error) {
            FileStatus::Invalid
        } else {
            FileStatus::Valid
        };
        let updated = FileRecord {
            status,
            report: Some(file.clone()),
            findings,
            ..record.value.clone()
        };
        repos
            .update_file(&current.value, record, updated, run.now)
            .await?;
        so_far.files_done += 1;
        so_far.current_file = Some(record.value.name.clone());
        publish
            .publish(
                session,
                &ProgressMessage::ValidationProgress(so_far.clone()),
            )
            .await;
    }
    let (errors, warnings) = report.counts();
    let detail = serde_json::json!({
        "files": report.files.len(), "items": report.items.len(),
        "errors": errors, "warnings": warnings, "notes": report.infos(),
    });
    finish_task(repos, &current.value, task, detail.clone(), run).await?;
    audit(repos, &current.value, run, "files.validated", detail).await?;
    let summary = SessionSummary {
        files: report.files.len(),
        items: report.items.len(),
        errors,
        warnings,
        notes: report.infos(),
        ..current.value.summary.clone()
    };
    let current = repos.update_summary(&current, summary, run.now).await?;
    move_to(repos, current, UPLOAD, run.now).await?;
    let message = ProgressMessage::ValidationComplete(ValidationComplete {
        v: ProtocolVersion,
        session_id: session.to_owned(),
        status: "completed".to_owned(),
        files_done: so_far.files_done,
        files_total: so_far.files_total,
        items: report.items.len(),
        errors,
        warnings,
        notes: report.infos(),
    });
    publish.publish(session, &message).await;
    Ok(report)
}

/// Plans the backlog from a session's files and saves it into the session,
/// which moves on to review. Files with errors stop it before anything
/// changes; a planner failure leaves the session in `processing/failed`.
///
/// # Errors
/// [`WorkflowError::Invalid`] when the files have errors;
/// [`WorkflowError::WrongStage`] outside upload, review or a failed processing.
pub async fn plan_session<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    settings: &PlanSettings,
    limits: &Limits,
    run: Run<'_>,
) -> Result<(Report, Plan)> {
    plan_session_with(repos, blobs, &NoPublish, session, settings, limits, run).await
}

/// [`plan_session`], publishing `processing_complete` once the plan is
/// saved, or `processing_failed` when planning could not run or the planner
/// refused the items (the deterministic planner is one chunk, provider
/// `deterministic`, model `planner`; wording by a model reports its own
/// chunks).
///
/// # Errors
/// As [`plan_session`].
pub async fn plan_session_with<T: Table, B: Blobs, P: Publish>(
    repos: &Repos<'_, T>,
    blobs: &B,
    publish: &P,
    session: &str,
    settings: &PlanSettings,
    limits: &Limits,
    run: Run<'_>,
) -> Result<(Report, Plan)> {
    let planned = plan_and_save(repos, blobs, session, settings, limits, run).await;
    let message = match &planned {
        Ok((_, plan)) => ProgressMessage::ProcessingComplete(ProcessingComplete {
            v: ProtocolVersion,
            session_id: session.to_owned(),
            status: "completed".to_owned(),
            chunks_done: 1,
            chunks_total: 1,
            tickets: plan.tickets.len(),
            epics: plan.epics.len(),
            dependencies: plan.dependencies.len(),
            cost_usd: None,
            provider: PLANNER_PROVIDER.to_owned(),
            model: PLANNER_MODEL.to_owned(),
        }),
        // Asked at a stage that cannot plan: nothing started, nothing to report.
        Err(WorkflowError::WrongStage { .. } | WorkflowError::NoSession(_)) => return planned,
        Err(err) => ProgressMessage::ProcessingFailed(ProcessingFailed {
            v: ProtocolVersion,
            session_id: session.to_owned(),
            status: "failed".to_owned(),
            chunks_done: 0,
            chunks_total: 1,
            tickets: 0,
            cost_usd: None,
            provider: PLANNER_PROVIDER.to_owned(),
            model: PLANNER_MODEL.to_owned(),
            error_category: error_category(err),
            error_message: err.to_string(),
        }),
    };
    publish.publish(session, &message).await;
    planned
}

/// The provider name of the planner's own text, in progress messages.
pub const PLANNER_PROVIDER: &str = "deterministic";
/// The model name of the planner's own text, in progress messages.
pub const PLANNER_MODEL: &str = "planner";

/// The error category of seed `004_*` for a stage's failure.
#[must_use]
pub fn error_category(err: &WorkflowError) -> ErrorCategory {
    match err {
        WorkflowError::Repo(_) | WorkflowError::Blobs(_) => ErrorCategory::Temporary,
        _ => ErrorCategory::UserFixable,
    }
}

async fn plan_and_save<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    settings: &PlanSettings,
    limits: &Limits,
    run: Run<'_>,
) -> Result<(Report, Plan)> {
    let current = load(repos, session, run.now).await?;
    let position = current.value.position;
    if !matches!(position, UPLOAD | REVIEW | PROCESSING | PROCESSING_FAILED) {
        return Err(WorkflowError::WrongStage {
            session: session.to_owned(),
            position,
            action: "plan (upload and validate the files first)",
        });
    }
    let (_, files): (Vec<_>, Vec<_>) = sources(repos, blobs, session, run.now)
        .await?
        .into_iter()
        .unzip();
    let report = validate(&files, limits);
    let (errors, warnings) = report.counts();
    if errors > 0 {
        return Err(WorkflowError::Invalid {
            errors,
            report: Box::new(report),
        });
    }
    let current = move_to(repos, current, PROCESSING, run.now).await?;
    let task = start_task(repos, &current.value, TaskKind::Processing, run).await?;
    let planned = match plan(&report.items, settings) {
        Ok(planned) => planned,
        Err(err) => {
            let err = WorkflowError::Plan(err);
            fail_task(repos, &current.value, task, &err, run).await?;
            repos
                .move_session(&current, PROCESSING_FAILED, run.now)
                .await?;
            return Err(err);
        }
    };
    repos.save_plan(&current.value, &planned, run.now).await?;
    let summary = SessionSummary {
        files: report.files.len(),
        items: report.items.len(),
        errors,
        warnings,
        notes: report.infos(),
        tickets: planned.tickets.len(),
        epics: planned.epics.len(),
        dependencies: planned.dependencies.len(),
        story_points: planned.tickets.iter().map(|t| t.estimate).sum(),
    };
    let detail = serde_json::json!({
        "tickets": summary.tickets, "epics": summary.epics,
        "dependencies": summary.dependencies, "story_points": summary.story_points,
        "granularity": planned.granularity,
    });
    finish_task(repos, &current.value, task, detail.clone(), run).await?;
    audit(repos, &current.value, run, "plan.saved", detail).await?;
    let current = repos.update_summary(&current, summary, run.now).await?;
    move_to(repos, current, REVIEW, run.now).await?;
    Ok((report, planned))
}

/// Saves a plan worded by a language model into a session in review: the
/// plan replaces the planner's, a succeeded processing task carries the
/// generation `report` (usage, cost, findings) for the client to show, and
/// the audit log records who worded it with what.
///
/// # Errors
/// [`WorkflowError::WrongStage`] outside review; a ticket edited meanwhile
/// ([`RepoError::Conflict`]); the store failing.
pub async fn save_wording<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    worded_plan: &Plan,
    report: serde_json::Value,
    provider: &str,
    model: &str,
    run: Run<'_>,
) -> Result<Task> {
    let current = load(repos, session_id, run.now).await?;
    if current.value.position != REVIEW {
        return Err(WorkflowError::WrongStage {
            session: session_id.to_owned(),
            position: current.value.position,
            action: "take worded tickets (plan it first)",
        });
    }
    let chunks = report
        .get("chunks")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |c| c.len() as u64);
    let field = |name: &str| report.get(name).cloned().unwrap_or_default();
    let detail = serde_json::json!({
        "provider": provider,
        "model": model,
        "prompt_version": field("prompt_version"),
        "chunks": chunks,
        "tickets_written": field("tickets_written"),
        "tickets_kept": field("tickets_kept"),
        "findings": report.get("findings").and_then(serde_json::Value::as_array).map_or(0, Vec::len),
        "usage": field("usage"),
        "cost": field("cost"),
    });
    let task = Task {
        id: format!("{}-generation", run.id),
        kind: TaskKind::Processing,
        status: TaskStatus::Succeeded,
        progress: Progress {
            done: chunks,
            total: chunks,
            message: format!("tickets worded by {provider} {model}"),
        },
        error: None,
        result: Some(report),
        created_at: run.now,
        updated_at: run.now,
    };
    repos
        .save_plan(&current.value, worded_plan, run.now)
        .await?;
    repos.insert_task(&current.value, &task, run.now).await?;
    audit(repos, &current.value, run, "plan.worded", detail).await?;
    Ok(task)
}

async fn start_task<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    kind: TaskKind,
    run: Run<'_>,
) -> Result<Versioned<Task>> {
    let task = Task {
        id: format!("{}-{}", run.id, kind.as_str()),
        kind,
        status: TaskStatus::Running,
        progress: Progress::default(),
        error: None,
        result: None,
        created_at: run.now,
        updated_at: run.now,
    };
    Ok(repos.insert_task(session, &task, run.now).await?)
}

async fn finish_task<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    task: Versioned<Task>,
    result: serde_json::Value,
    run: Run<'_>,
) -> Result<()> {
    let done = Task {
        status: TaskStatus::Succeeded,
        progress: Progress {
            done: 1,
            total: 1,
            message: "Done".to_owned(),
        },
        result: Some(result),
        ..task.value.clone()
    };
    repos.update_task(session, &task, done, run.now).await?;
    Ok(())
}

async fn fail_task<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    task: Versioned<Task>,
    err: &WorkflowError,
    run: Run<'_>,
) -> Result<()> {
    let category = match err {
        WorkflowError::Plan(_) | WorkflowError::Invalid { .. } | WorkflowError::NoFiles(_) => {
            "validation"
        }
        _ => "system",
    };
    let failed = Task {
        status: TaskStatus::Failed,
        error: Some(TaskError {
            category: category.to_owned(),
            message: err.to_string(),
        }),
        ..task.value.clone()
    };
    repos.update_task(session, &task, failed, run.now).await?;
    Ok(())
}

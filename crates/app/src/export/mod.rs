//! The export engine: a session's reviewed plan becomes Jira issues, one
//! [`step`] at a time, so a state machine (or the command line) can drive it,
//! pause between steps as Jira's rate limits ask, and resume after any crash.
//!
//! - [`check_adf`] converts every description afresh and records a
//!   fingerprint of the tickets it checked; [`start_export`] refuses a check
//!   that is missing, failed or older than the last edit (seed `002_*`,
//!   Decision 8).
//! - Prepare checks the project (issue types, required fields, priorities,
//!   link types, assignee, sprint) and finds, by the session's run label and
//!   the `dtg.ticket` entity property, every issue an earlier run created.
//! - Epics, then tickets in build order, go out in bulk creates of up to 50;
//!   each key is stored the moment Jira answers, before the next request.
//! - A field Jira refuses for one ticket falls back (unassigned, no sprint,
//!   default priority, Task) and is recorded as a manual fix; anything else
//!   stops the export with the seed's error category and recovery actions.
//! - Attachments go up, then a `Blocks` link per dependency once both ends
//!   exist ("A blocks B": `inwardIssue=A`, `outwardIssue=B`).
//! - [`retry_export`] resumes from the failure point, at most
//!   [`MAX_RETRIES`] times, then the session needs an administrator.
//!
//! Nothing is created twice: an issue is recorded before anything else is
//! sent, and every start or retry first looks for issues whose answer was
//! lost.

mod state;

pub use state::{
    ADF_CHECK, AdfCheck, Counters, DEFAULT_SETTLE_SECS, EXPORT, EXPORT_LEASE, ErrorCategory,
    ExportFailure, ExportLease, ExportSettings, ExportState, Exported, ExportedKind, Fallback,
    IN_FLIGHT, ISSUES, InFlight, LinkMode, ManualFix, Phase, Resolved,
};

mod control;

pub use control::{
    Begun, Clock, ExportAlreadyRunning, ExportRequest, ExportRetried, ExportStarted, ExportStatus,
    LEASE_SECS, SystemClock, begin_export, drive_step, export_status, fail_run, finish_run,
    is_running, retry_failed, rfc3339, run_export,
};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use dtg_core::adf::{JIRA_DESCRIPTION_LIMIT, fit_description, html_to_adf, json_len};
use dtg_core::plan::{Dependency, IssueType, Plan, Ticket};
use dtg_core::session::{Position, Stage, Status};

use crate::jira::{
    BlockedBy, IssueRef, Jira, JiraError, NewIssue, NewLink, Refusal, TICKET_PROPERTY,
};
use crate::repo::{
    AuditEntry, Progress, RepoError, Repos, Session, Task, TaskError, TaskKind, TaskStatus,
    Versioned,
};
use crate::store::{Table, Timestamp, keys};
use crate::workflow::Run;

/// Retries an export may use before an administrator must look at it.
pub const MAX_RETRIES: u32 = 3;
/// Jira's limit of issues in one bulk create.
pub const BULK_LIMIT: usize = 50;
/// Links sent per step.
const LINKS_PER_STEP: usize = 400;
/// Links in flight at once.
const LINK_CONCURRENCY: usize = 32;
/// Attachments uploaded per step.
const ATTACHMENTS_PER_STEP: usize = 10;
/// Jira's summary limit, in characters.
pub const SUMMARY_LIMIT: usize = 255;
/// Links to one existing issue sent inside one bulk create: each is a write
/// to that issue, and Jira allows 20 writes to an issue in 2 seconds; the
/// rest wait for a later create or go as separate links.
const LINKS_PER_ISSUE_PER_CREATE: usize = 10;
/// Keys read per call when looking for what a lost create made (Jira's
/// bulk fetch takes 100).
const FETCH_LIMIT: u64 = 100;
/// Windows of keys read at most when looking for what a lost create made.
const MAX_SCAN_WINDOWS: u64 = 1_000;

const REVIEW: Position = Position::new(Stage::Review, Status::Active);
const ADF_VALIDATING: Position = Position::new(Stage::Review, Status::AdfValidating);
const EXPORTING: Position = Position::new(Stage::JiraExport, Status::Exporting);
const EXPORT_FAILED: Position = Position::new(Stage::JiraExport, Status::ExportFailed);
const ADMIN_REQUIRED: Position = Position::new(Stage::JiraExport, Status::AdminRequired);
const COMPLETED: Position = Position::new(Stage::Completed, Status::Completed);

/// Why an export call could not run at all (Jira's own failures are not
/// errors here: they stop the export and are kept in its state).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No such session.
    #[error("there is no session {0}")]
    NoSession(String),
    /// The session is not where this can happen.
    #[error("session {session} is at {position}, where it cannot {action}")]
    WrongStage {
        /// Session id.
        session: String,
        /// Where it is.
        position: Position,
        /// What was asked.
        action: &'static str,
    },
    /// The session has no plan.
    #[error("session {0} has no plan yet; plan it first")]
    NoPlan(String),
    /// The export was never started.
    #[error("session {0} has no export to continue; start one first")]
    NotStarted(String),
    /// No ADF check, a failed one, or one older than the last edit.
    #[error("{0}")]
    AdfNotFresh(String),
    /// The retries are used up.
    #[error(
        "Maximum retry attempts ({MAX_RETRIES}) exceeded; a Jira administrator must look at the project, and the session may need manual cleanup"
    )]
    MaxRetries {
        /// Retries used.
        used: u32,
        /// When the first failure happened.
        first_error_at: Option<Timestamp>,
    },
    /// No project was named, and the session records none.
    #[error("session {0} names no Jira project to export to; name one (the session records none)")]
    NoProject(String),
    /// The ADF check run before the export failed for these tickets.
    #[error("{} tickets would not be accepted by Jira; fix them in review first", failed.len())]
    AdfFailed {
        /// Session id.
        session: String,
        /// The tickets that failed, with what is wrong and how to fix it.
        failed: Vec<AdfResult>,
    },
    /// The session is exported already.
    #[error("session {0} is already exported")]
    AlreadyExported(String),
    /// Another project than the one the export started with.
    #[error(
        "the export of session {session} goes to project {started}, where it started; it cannot move to {asked}"
    )]
    ProjectMismatch {
        /// Session id.
        session: String,
        /// The project it started with.
        started: String,
        /// The project asked for.
        asked: String,
    },
    /// The export is running now (its driver's lease has not lapsed).
    #[error("the export of session {session} is running now; wait for it to finish or stop")]
    Running {
        /// Session id.
        session: String,
        /// Its task.
        task_id: String,
    },
    /// The export stopped on a failure: only a retry goes on with it.
    #[error("the export of session {session} stopped; retry it to go on from where it stopped")]
    Stopped {
        /// Session id.
        session: String,
        /// Whether the retries are used up (an administrator must look).
        admin_required: bool,
    },
    /// A repository call failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Result of an export call.
pub type Result<T, E = ExportError> = std::result::Result<T, E>;

/// The `export_progress` message of seed `004_*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportProgress {
    /// Always `export_progress`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Session id.
    pub session_id: String,
    /// `exporting`, `completed` or `failed`.
    pub status: String,
    /// Share done, 0 to 100.
    pub progress_percentage: f64,
    /// What is happening.
    pub current_stage: String,
    /// Epics and tickets created.
    pub tickets_completed: usize,
    /// Tickets that could not be created.
    pub tickets_failed: usize,
    /// Epics and tickets in all.
    pub total_tickets: usize,
    /// Links created.
    pub dependencies_created: usize,
    /// Links in all.
    pub total_dependencies: usize,
    /// The Jira project.
    pub current_jira_project: String,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The cursor after the step.
    pub state: ExportState,
    /// Progress, in the seed's message shape.
    pub progress: ExportProgress,
    /// How long to wait before the next step (Jira asked to slow down).
    pub wait_hint: Duration,
    /// Whether the export has ended (completed, or stopped by a failure).
    pub done: bool,
}

/// The result of checking one ticket's ADF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdfResult {
    /// Ticket or epic id.
    pub ticket_id: String,
    /// Its title.
    pub ticket_title: String,
    /// `passed` or `failed`.
    pub status: String,
    /// Size of the ADF description, in characters of JSON.
    pub adf_size_bytes: usize,
    /// Whether the description overflows into an attachment.
    pub attachment: bool,
    /// What is wrong.
    pub error_message: Option<String>,
    /// How to fix it.
    pub suggested_fix: Option<String>,
}

/// The result of [`check_adf`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdfReport {
    /// Session id.
    pub session_id: String,
    /// Tickets and epics checked.
    pub tickets_tested: usize,
    /// Whether all passed.
    pub all_passed: bool,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
    /// Per ticket.
    pub results: Vec<AdfResult>,
}

/// One created issue, for the results page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JiraTicketReference {
    /// Our id.
    pub ticket_id: String,
    /// Jira key.
    pub jira_key: String,
    /// Link.
    pub jira_url: String,
    /// Title.
    pub title: String,
    /// Epic or ticket.
    pub kind: ExportedKind,
}

/// A manual fix, for the results page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManualFixGuidance {
    /// Jira key of the issue to fix.
    pub jira_key: String,
    /// Its title.
    pub title: String,
    /// What was dropped or replaced.
    pub issue_type: Fallback,
    /// What to do.
    pub recommended_action: String,
    /// Link.
    pub jira_url: String,
    /// Jira's words.
    pub detail: String,
}

/// The export results of seed `004_*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportResults {
    /// Session id.
    pub session_id: String,
    /// `exporting`, `completed`, `export_failed` or `admin_required`.
    pub status: String,
    /// Issues created (epics and tickets).
    pub total_tickets_created: usize,
    /// Every issue, in plan order.
    pub jira_tickets: Vec<JiraTicketReference>,
    /// Links created.
    pub dependencies_created: usize,
    /// Fields to finish by hand.
    pub manual_fixes: Vec<ManualFixGuidance>,
    /// Why it stopped, while stopped.
    pub failure: Option<ExportFailure>,
    /// Retries used.
    pub retry_attempts_used: u32,
    /// Minutes from start to finish (or to now).
    pub total_processing_time_minutes: f64,
}

async fn load<T: Table>(
    repos: &Repos<'_, T>,
    id: &str,
    now: Timestamp,
) -> Result<Versioned<Session>> {
    repos
        .session(id, now)
        .await?
        .ok_or_else(|| ExportError::NoSession(id.to_owned()))
}

async fn load_plan<T: Table>(repos: &Repos<'_, T>, id: &str, now: Timestamp) -> Result<Plan> {
    repos
        .plan(id, now)
        .await?
        .ok_or_else(|| ExportError::NoPlan(id.to_owned()))
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

/// A fingerprint of what an ADF check saw: the plan's version and every
/// ticket's id and version. Any edit changes it.
async fn fingerprint<T: Table>(repos: &Repos<'_, T>, id: &str, now: Timestamp) -> Result<String> {
    let pk = keys::session(id);
    let plan_version = repos
        .table()
        .get(&pk, keys::PLAN, now)
        .await
        .map_err(RepoError::from)?
        .map_or(0, |p| p.version);
    let mut hash = Sha256::new();
    hash.update(plan_version.to_le_bytes());
    for t in repos.tickets(id, now).await? {
        hash.update(t.value.id.as_bytes());
        hash.update([0]);
        hash.update(t.version.to_le_bytes());
    }
    Ok(hex::encode(hash.finalize()))
}

/// A description as Jira gets it: converted afresh from the HTML, fitted to
/// Jira's limit, with the overflow (if any) for an attachment.
fn description(html: &str) -> (serde_json::Value, Option<(String, String)>) {
    let fitted = fit_description(html_to_adf(html), JIRA_DESCRIPTION_LIMIT);
    let doc = serde_json::to_value(&fitted.description).unwrap_or(serde_json::Value::Null);
    (doc, fitted.overflow.map(|o| (o.file_name, o.content)))
}

fn summary_problem(title: &str) -> Option<String> {
    if title.trim().is_empty() {
        Some("the summary is empty".to_owned())
    } else if title.contains(['\n', '\r']) {
        Some("the summary has a line break; Jira takes one line".to_owned())
    } else if title.chars().count() > SUMMARY_LIMIT {
        Some(format!(
            "the summary has {} characters; Jira takes at most {SUMMARY_LIMIT}",
            title.chars().count()
        ))
    } else {
        None
    }
}

/// Converts every description of a session's plan afresh and checks it as
/// Jira will (summary one line of at most 255 characters, ADF within
/// 32,767 characters, overflow as an attachment), and records the result
/// with a fingerprint of the tickets, which [`start_export`] compares.
///
/// # Errors
/// [`ExportError::WrongStage`] outside review.
pub async fn check_adf<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    run: Run<'_>,
) -> Result<AdfReport> {
    let session = load(repos, session_id, run.now).await?;
    if session.value.position != REVIEW {
        return Err(ExportError::WrongStage {
            session: session_id.to_owned(),
            position: session.value.position,
            action: "check descriptions (that happens in review)",
        });
    }
    let session = repos
        .move_session(&session, ADF_VALIDATING, run.now)
        .await?;
    let plan = load_plan(repos, session_id, run.now).await?;
    let mut results = Vec::new();
    let items = plan
        .epics
        .iter()
        .map(|e| (&e.id, &e.title, &e.description_html))
        .chain(
            plan.tickets
                .iter()
                .map(|t| (&t.id, &t.title, &t.description_html)),
        );
    for (id, title, html) in items {
        let (doc, overflow) = description(html);
        let size = json_len(&doc);
        let problem = summary_problem(title).or_else(|| {
            (size > JIRA_DESCRIPTION_LIMIT)
                .then(|| format!("the description is {size} characters of ADF; Jira takes at most {JIRA_DESCRIPTION_LIMIT}"))
        });
        results.push(AdfResult {
            ticket_id: id.clone(),
            ticket_title: title.clone(),
            status: if problem.is_some() {
                "failed"
            } else {
                "passed"
            }
            .to_owned(),
            adf_size_bytes: size,
            attachment: overflow.is_some(),
            suggested_fix: problem.as_ref().map(|_| {
                "Edit the ticket's title or description in review, then check again.".to_owned()
            }),
            error_message: problem,
        });
    }
    let failed = results.iter().filter(|r| r.status == "failed").count();
    let report = AdfReport {
        session_id: session_id.to_owned(),
        tickets_tested: results.len(),
        all_passed: failed == 0,
        passed: results.len() - failed,
        failed,
        results,
    };
    let check = AdfCheck {
        at: run.now,
        fingerprint: fingerprint(repos, session_id, run.now).await?,
        all_passed: report.all_passed,
    };
    repos
        .save_adf_check(&session.value, &check, run.now)
        .await?;
    audit(
        repos,
        &session.value,
        run,
        "adf.checked",
        serde_json::json!({ "tested": report.tickets_tested, "failed": failed }),
    )
    .await?;
    repos.move_session(&session, REVIEW, run.now).await?;
    Ok(report)
}

/// Starts exporting a reviewed session to `settings.project_key`: checks the
/// ADF check is fresh, moves the session to `jira_export/exporting`, and
/// writes the cursor at the prepare phase. An earlier export's issues are
/// kept and found again, never created twice.
///
/// # Errors
/// [`ExportError::AdfNotFresh`] without a passing, current ADF check;
/// [`ExportError::WrongStage`] outside review.
pub async fn start_export<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    settings: ExportSettings,
    run: Run<'_>,
) -> Result<ExportState> {
    let session = load(repos, session_id, run.now).await?;
    if session.value.position != REVIEW {
        return Err(ExportError::WrongStage {
            session: session_id.to_owned(),
            position: session.value.position,
            action: "start an export (it must be in review)",
        });
    }
    load_plan(repos, session_id, run.now).await?;
    match repos.adf_check(session_id, run.now).await? {
        None => {
            return Err(ExportError::AdfNotFresh(
                "Validation required: check the descriptions (ADF) before exporting".to_owned(),
            ));
        }
        Some(check) if !check.all_passed => {
            return Err(ExportError::AdfNotFresh(
                "Validation required: the last ADF check failed; fix the tickets it names and check again".to_owned(),
            ));
        }
        Some(check) if check.fingerprint != fingerprint(repos, session_id, run.now).await? => {
            return Err(ExportError::AdfNotFresh(
                "Validation required: tickets changed since the last ADF check; check again"
                    .to_owned(),
            ));
        }
        Some(_) => {}
    }
    let before = repos.export_state(session_id, run.now).await?;
    let mut settings = settings;
    settings.batch_size = settings.batch_size.clamp(1, BULK_LIMIT);
    let task_id = format!("{}-export", run.id);
    let state = match &before {
        Some(old) => ExportState {
            settings,
            task_id: task_id.clone(),
            phase: Phase::Prepare,
            links_done: 0,
            failure: None,
            finished_at: None,
            started_at: run.now,
            ..old.value.clone()
        },
        None => ExportState {
            settings,
            task_id: task_id.clone(),
            run_label: format!("dtg-{session_id}"),
            phase: Phase::Prepare,
            links_done: 0,
            resolved: Resolved::default(),
            fallbacks: BTreeMap::new(),
            manual_fixes: Vec::new(),
            separate_links: BTreeSet::new(),
            failure: None,
            first_failure_at: None,
            retries_used: 0,
            counters: Counters::default(),
            started_at: run.now,
            finished_at: None,
        },
    };
    let session = repos.move_session(&session, EXPORTING, run.now).await?;
    repos
        .save_export_state(&session.value, &state, before.map(|b| b.version), run.now)
        .await?;
    let task = Task {
        id: task_id,
        kind: TaskKind::Export,
        status: TaskStatus::Running,
        progress: Progress::default(),
        error: None,
        result: None,
        created_at: run.now,
        updated_at: run.now,
    };
    repos.insert_task(&session.value, &task, run.now).await?;
    audit(
        repos,
        &session.value,
        run,
        "export.started",
        serde_json::json!({ "project": state.settings.project_key, "run_label": state.run_label }),
    )
    .await?;
    Ok(state)
}

/// Resumes a stopped export from its failure point. After
/// [`MAX_RETRIES`] retries the session goes to `admin_required`.
///
/// # Errors
/// [`ExportError::MaxRetries`] when the retries are used up;
/// [`ExportError::WrongStage`] when the export has not failed.
pub async fn retry_export<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    run: Run<'_>,
) -> Result<ExportState> {
    let session = load(repos, session_id, run.now).await?;
    let state = repos
        .export_state(session_id, run.now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?;
    let position = session.value.position;
    if position == ADMIN_REQUIRED {
        return Err(ExportError::MaxRetries {
            used: state.value.retries_used,
            first_error_at: state.value.first_failure_at,
        });
    }
    if position != EXPORT_FAILED {
        return Err(ExportError::WrongStage {
            session: session_id.to_owned(),
            position,
            action: "retry (only a failed export can be retried)",
        });
    }
    if state.value.retries_used >= MAX_RETRIES {
        let session = repos
            .move_session(&session, ADMIN_REQUIRED, run.now)
            .await?;
        audit(
            repos,
            &session.value,
            run,
            "export.admin_required",
            serde_json::json!({ "retries_used": state.value.retries_used }),
        )
        .await?;
        return Err(ExportError::MaxRetries {
            used: state.value.retries_used,
            first_error_at: state.value.first_failure_at,
        });
    }
    let task_id = format!("{}-export", run.id);
    let next = ExportState {
        retries_used: state.value.retries_used + 1,
        failure: None,
        phase: Phase::Prepare,
        task_id: task_id.clone(),
        ..state.value.clone()
    };
    let session = repos.move_session(&session, EXPORTING, run.now).await?;
    repos
        .save_export_state(&session.value, &next, Some(state.version), run.now)
        .await?;
    let task = Task {
        id: task_id,
        kind: TaskKind::Export,
        status: TaskStatus::Running,
        progress: Progress::default(),
        error: None,
        result: None,
        created_at: run.now,
        updated_at: run.now,
    };
    repos.insert_task(&session.value, &task, run.now).await?;
    audit(
        repos,
        &session.value,
        run,
        "export.retried",
        serde_json::json!({
            "retry_attempt": next.retries_used,
            "remaining_retries": MAX_RETRIES - next.retries_used,
            "resuming_from_ticket_order": state.value.failure.as_ref().and_then(|f| f.failed_at_ticket_order),
        }),
    )
    .await?;
    Ok(next)
}

/// Why a step stopped short.
enum Stop {
    /// Jira failed; `ticket` is what was being sent.
    Jira(JiraError, Option<String>),
    /// A rule of ours or of the project stops the export.
    Failure(Box<ExportFailure>),
    /// Not a failure: run the step again after this long.
    Wait(Duration),
    /// The store failed: the step did not happen.
    Repo(RepoError),
}

impl From<RepoError> for Stop {
    fn from(err: RepoError) -> Self {
        Self::Repo(err)
    }
}

impl From<JiraError> for Stop {
    fn from(err: JiraError) -> Self {
        Self::Jira(err, None)
    }
}

fn failure_record(
    category: ErrorCategory,
    code: &str,
    message: String,
    actions: &[&str],
    now: Timestamp,
) -> ExportFailure {
    ExportFailure {
        error_category: category,
        code: code.to_owned(),
        user_message: message,
        recovery_actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        failed_at_ticket_order: None,
        ticket_id: None,
        retry_available: true,
        at: now,
    }
}

fn failure(
    category: ErrorCategory,
    code: &str,
    message: String,
    actions: &[&str],
    now: Timestamp,
) -> Stop {
    Stop::Failure(Box::new(failure_record(
        category, code, message, actions, now,
    )))
}

/// The seed's category, code and recovery actions for a Jira failure.
pub fn classify(err: &JiraError, project: &str, now: Timestamp) -> ExportFailure {
    use ErrorCategory as C;
    let (category, code, actions): (C, &str, &[&str]) = match err {
        JiraError::Unauthorized(_) => (
            C::UserFixable,
            "jira_unauthorized",
            &[
                "Sign in to Jira again (or renew the API token)",
                "Then retry the export",
            ],
        ),
        JiraError::Forbidden(_) => (
            C::AdminRequired,
            "jira_permission_denied",
            &[
                "Ask a Jira administrator for the Create Issues and Link Issues permissions in the project",
                "Then retry the export",
            ],
        ),
        JiraError::NotFound(_) => (
            C::AdminRequired,
            "jira_project_not_found",
            &[
                "Check that the project still exists and you can see it",
                "Choose another project, or ask a Jira administrator to restore it",
            ],
        ),
        JiraError::Refused(_) => (
            C::UserFixable,
            "jira_refused",
            &[
                "Fix the ticket Jira refused (see the message) in review",
                "Then retry the export",
            ],
        ),
        JiraError::Unreadable { .. } => (
            C::AdminRequired,
            "jira_answer_unreadable",
            &[
                "Update dtg: Jira answered in a form this version cannot read (the operation is named in the message)",
                "If the newest version fails the same way, report the message to the dtg maintainers",
                "Then retry the export; it resumes where it stopped",
            ],
        ),
        JiraError::RateLimited { .. }
        | JiraError::Unavailable { .. }
        | JiraError::Network { .. } => (
            C::Temporary,
            "jira_unavailable",
            &[
                "Wait a few minutes",
                "Then retry the export; it resumes where it stopped",
            ],
        ),
    };
    let message = match err {
        JiraError::NotFound(_) => format!("Project {project} was not found in Jira: {err}"),
        _ => err.to_string(),
    };
    ExportFailure {
        error_category: category,
        code: code.to_owned(),
        user_message: message,
        recovery_actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        failed_at_ticket_order: None,
        ticket_id: None,
        retry_available: true,
        at: now,
    }
}

/// The plan of the export a process is running, kept between its steps so
/// that a step reads the few items it changes, not every ticket again. A
/// plan cannot change while its session exports (review edits are refused
/// outside review, and going back to review starts a new export task), so
/// the plan read at one step of an export task holds for all of them.
///
/// It also keeps the issues created so far, as they stood when this process
/// saved the export's cursor. Those do change between steps, so they are
/// used only while the stored cursor is still the version this process
/// saved: a step run anywhere else saves the cursor too, and the next step
/// here then reads them afresh.
#[derive(Debug, Default)]
pub struct PlanCache {
    slot: std::sync::Mutex<Option<CachedPlan>>,
}

#[derive(Debug)]
struct CachedPlan {
    session: String,
    task_id: String,
    started_at: Timestamp,
    plan: std::sync::Arc<Plan>,
    /// The issues created, and the version of the cursor they go with.
    exported: Option<(u64, BTreeMap<String, Exported>)>,
}

impl CachedPlan {
    fn holds(&self, session_id: &str, state: &ExportState) -> bool {
        self.session == session_id
            && self.task_id == state.task_id
            && self.started_at == state.started_at
    }
}

impl PlanCache {
    /// The plan of `state`'s export of `session_id`, read once per export task.
    pub(crate) async fn plan<T: Table>(
        &self,
        repos: &Repos<'_, T>,
        session_id: &str,
        state: &ExportState,
        now: Timestamp,
    ) -> Result<std::sync::Arc<Plan>> {
        if let Some(c) = self.lock().as_ref().filter(|c| c.holds(session_id, state)) {
            return Ok(std::sync::Arc::clone(&c.plan));
        }
        let plan = std::sync::Arc::new(load_plan(repos, session_id, now).await?);
        *self.lock() = Some(CachedPlan {
            session: session_id.to_owned(),
            task_id: state.task_id.clone(),
            started_at: state.started_at,
            plan: std::sync::Arc::clone(&plan),
            exported: None,
        });
        Ok(plan)
    }

    /// The issues created for `state`'s export, when the stored cursor is
    /// still at `version`, the one this process saved with them; otherwise
    /// read from the store. They leave the cache until [`Self::keep`] puts
    /// them back, so a step that fails reads them afresh next time.
    async fn exported<T: Table>(
        &self,
        repos: &Repos<'_, T>,
        session_id: &str,
        stored: &Versioned<ExportState>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, Exported>> {
        let kept = self
            .lock()
            .as_mut()
            .filter(|c| c.holds(session_id, &stored.value))
            .and_then(|c| c.exported.take())
            .filter(|(version, _)| *version == stored.version);
        match kept {
            Some((_, exported)) => Ok(exported),
            None => Ok(repos.exported(session_id, now).await?),
        }
    }

    /// Keeps the issues created as they stand at the cursor's `version`.
    fn keep(
        &self,
        session_id: &str,
        state: &ExportState,
        version: u64,
        exported: BTreeMap<String, Exported>,
    ) {
        if let Some(c) = self.lock().as_mut().filter(|c| c.holds(session_id, state)) {
            c.exported = Some((version, exported));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CachedPlan>> {
        // A panic while holding it left a whole value or none: still usable.
        self.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs the next step of a started export.
///
/// # Errors
/// [`ExportError::NotStarted`] before [`start_export`]; repository failures.
/// Jira's failures stop the export and come back in the report.
pub async fn step<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    session_id: &str,
    run: Run<'_>,
) -> Result<StepReport> {
    step_with(repos, jira, &PlanCache::default(), session_id, run).await
}

/// [`step`], with the plan from `plans` when it holds this export's.
///
/// # Errors
/// As [`step`].
pub async fn step_with<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    plans: &PlanCache,
    session_id: &str,
    run: Run<'_>,
) -> Result<StepReport> {
    let session = load(repos, session_id, run.now).await?;
    if session.value.position != EXPORTING {
        return at_rest(repos, &session.value, run.now).await;
    }
    let stored = repos
        .export_state(session_id, run.now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?;
    let plan = plans
        .plan(repos, session_id, &stored.value, run.now)
        .await?;
    let mut state = stored.value.clone();
    // The first step of a run reads what Jira holds afresh in any case.
    let mut exported = if state.phase == Phase::Prepare {
        repos.exported(session_id, run.now).await?
    } else {
        plans.exported(repos, session_id, &stored, run.now).await?
    };
    let outcome = match state.phase {
        Phase::Prepare => {
            prepare(
                repos,
                jira,
                &session.value,
                &plan,
                &mut state,
                &mut exported,
                run,
            )
            .await
        }
        Phase::Epics | Phase::Tickets => {
            create_batch(
                repos,
                jira,
                &session.value,
                &plan,
                &mut state,
                &mut exported,
                run,
            )
            .await
        }
        Phase::Attachments => {
            attach(
                repos,
                jira,
                &session.value,
                &plan,
                &mut state,
                &mut exported,
                run,
            )
            .await
        }
        Phase::Links => link(jira, &plan, &mut state, &exported).await,
        Phase::Done => Ok(()),
    };
    let mut wait_hint = Duration::ZERO;
    let mut session = session;
    let stopped = match outcome {
        Ok(()) => None,
        // Not a failure: the state machine waits and runs the step again.
        Err(Stop::Jira(JiraError::RateLimited { retry_after, .. }, _)) => {
            wait_hint = retry_after;
            None
        }
        Err(Stop::Wait(wait)) => {
            wait_hint = wait;
            None
        }
        Err(Stop::Repo(err)) => return Err(ExportError::Repo(err)),
        Err(Stop::Jira(err, ticket)) => {
            let mut f = classify(&err, &state.settings.project_key, run.now);
            f.failed_at_ticket_order = ticket
                .as_ref()
                .and_then(|id| plan.order.iter().position(|o| o == id).map(|p| p + 1));
            f.ticket_id = ticket;
            Some(f)
        }
        Err(Stop::Failure(f)) => Some(*f),
    };
    if let Some(failed) = stopped {
        return record_stop(
            repos,
            session,
            stored.version,
            state,
            Stopped {
                plan: &plan,
                exported: &exported,
                failed,
                wait_hint,
            },
            run,
        )
        .await;
    }
    if state.phase == Phase::Done && state.finished_at.is_none() {
        state.finished_at = Some(run.now);
    }
    let saved = repos
        .save_export_state(&session.value, &state, Some(stored.version), run.now)
        .await?;
    let done = state.phase == Phase::Done;
    if done {
        session = repos.move_session(&session, COMPLETED, run.now).await?;
        update_task(
            repos,
            &session.value,
            &state,
            TaskStatus::Succeeded,
            &plan,
            &exported,
            run,
        )
        .await?;
        audit(
            repos,
            &session.value,
            run,
            "export.completed",
            serde_json::to_value(&state.counters).unwrap_or_default(),
        )
        .await?;
    } else {
        update_task(
            repos,
            &session.value,
            &state,
            TaskStatus::Running,
            &plan,
            &exported,
            run,
        )
        .await?;
    }
    let progress = progress(session_id, &state, &plan, &exported);
    if !done {
        plans.keep(session_id, &state, saved.version, exported);
    }
    Ok(StepReport {
        state,
        progress,
        wait_hint,
        done,
    })
}

async fn update_task<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    state: &ExportState,
    status: TaskStatus,
    plan: &Plan,
    exported: &BTreeMap<String, Exported>,
    run: Run<'_>,
) -> Result<()> {
    let Some(task) = repos.task(&session.id, &state.task_id, run.now).await? else {
        return Ok(());
    };
    let p = progress(&session.id, state, plan, exported);
    let next = Task {
        status,
        progress: Progress {
            done: (p.tickets_completed + p.dependencies_created) as u64,
            total: (p.total_tickets + p.total_dependencies) as u64,
            message: p.current_stage.clone(),
        },
        error: state.failure.as_ref().map(|f| TaskError {
            category: serde_json::to_value(f.error_category)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message: f.user_message.clone(),
        }),
        result: Some(serde_json::to_value(&state.counters).unwrap_or_default()),
        ..task.value.clone()
    };
    repos.update_task(session, &task, next, run.now).await?;
    Ok(())
}

fn progress(
    session_id: &str,
    state: &ExportState,
    plan: &Plan,
    exported: &BTreeMap<String, Exported>,
) -> ExportProgress {
    let total_tickets = plan.epics.len() + plan.tickets.len();
    let created = exported.len().min(total_tickets);
    let total_deps = plan.dependencies.len();
    let links = (links_made_at_create(exported) + state.links_done).min(total_deps);
    let total = (total_tickets + total_deps).max(1);
    let stage = match state.phase {
        Phase::Prepare => "Checking the Jira project".to_owned(),
        Phase::Epics => format!("Creating epics ({created} of {})", plan.epics.len()),
        Phase::Tickets => {
            let next = plan.tickets.iter().find(|t| !exported.contains_key(&t.id));
            match next {
                Some(t) => format!(
                    "Creating ticket {} of {total_tickets}: {}",
                    created + 1,
                    t.title
                ),
                None => "Creating tickets".to_owned(),
            }
        }
        Phase::Attachments => "Uploading attachments".to_owned(),
        Phase::Links => format!("Linking dependencies ({links} of {total_deps})"),
        Phase::Done => "Done".to_owned(),
    };
    let status = if state.failure.is_some() {
        "failed"
    } else if state.phase == Phase::Done {
        "completed"
    } else {
        "exporting"
    };
    let done = if state.phase == Phase::Done {
        total
    } else {
        created + links
    };
    ExportProgress {
        kind: "export_progress".to_owned(),
        session_id: session_id.to_owned(),
        status: status.to_owned(),
        progress_percentage: (done as f64 * 1000.0 / total as f64).round() / 10.0,
        current_stage: stage,
        tickets_completed: created,
        tickets_failed: usize::from(
            state
                .failure
                .as_ref()
                .is_some_and(|f| f.ticket_id.is_some()),
        ),
        total_tickets,
        dependencies_created: links,
        total_dependencies: total_deps,
        current_jira_project: state.settings.project_key.clone(),
    }
}

fn titles(plan: &Plan) -> BTreeMap<&str, &str> {
    plan.epics
        .iter()
        .map(|e| (e.id.as_str(), e.title.as_str()))
        .chain(
            plan.tickets
                .iter()
                .map(|t| (t.id.as_str(), t.title.as_str())),
        )
        .collect()
}

fn add_fallback(
    state: &mut ExportState,
    id: &str,
    title: &str,
    fallback: Fallback,
    detail: &str,
) -> bool {
    let applied = state.fallbacks.entry(id.to_owned()).or_default();
    if applied.contains(&fallback) {
        return false;
    }
    applied.push(fallback);
    state.manual_fixes.push(ManualFix {
        ticket_id: id.to_owned(),
        title: title.to_owned(),
        issue_type: fallback,
        detail: detail.to_owned(),
    });
    true
}

/// The prepare phase: what the project offers, what our plan needs of it,
/// and which of our issues an earlier run already created.
async fn prepare<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    session: &Session,
    plan: &Plan,
    state: &mut ExportState,
    exported: &mut BTreeMap<String, Exported>,
    run: Run<'_>,
) -> Result<(), Stop> {
    use ErrorCategory as C;
    let key = state.settings.project_key.clone();
    if let Some(call) = repos.in_flight(&session.id, run.now).await? {
        recover_lost_create(repos, jira, session, plan, state, exported, call, run).await?;
    }
    for (id, title) in titles(plan) {
        if let Some(problem) = summary_problem(title) {
            let mut f = failure_record(
                C::UserFixable,
                "summary_invalid",
                format!("Ticket {id}: {problem}"),
                &["Edit the ticket's title in review", "Then export again"],
                run.now,
            );
            f.ticket_id = Some(id.to_owned());
            return Err(Stop::Failure(Box::new(f)));
        }
    }
    let project = jira.project(&key).await?;
    let find = |name: &str| {
        project
            .issue_types
            .iter()
            .find(|t| !t.subtask && t.name.eq_ignore_ascii_case(name))
    };
    let epic = find("Epic").or_else(|| project.issue_types.iter().find(|t| t.hierarchy_level == 1));
    let Some(epic) = epic else {
        return Err(failure(
            C::AdminRequired,
            "issue_type_unavailable",
            format!("Project {key} has no Epic issue type; the plan's epics need one"),
            &[
                "Ask a Jira administrator to add Epic to the project's issue types",
                "Then retry the export",
            ],
            run.now,
        ));
    };
    let task = find("Task").or_else(|| {
        project
            .issue_types
            .iter()
            .find(|t| !t.subtask && t.hierarchy_level == 0)
    });
    let Some(task) = task else {
        return Err(failure(
            C::AdminRequired,
            "issue_type_unavailable",
            format!(
                "Project {key} has no standard issue type (Task, Story) to create tickets with"
            ),
            &[
                "Ask a Jira administrator to add Task to the project's issue types",
                "Then retry the export",
            ],
            run.now,
        ));
    };
    let mut types = BTreeMap::from([
        ("Epic".to_owned(), epic.id.clone()),
        ("Task".to_owned(), task.id.clone()),
    ]);
    match find("Story") {
        Some(story) => {
            types.insert("Story".to_owned(), story.id.clone());
        }
        None => {
            for t in plan
                .tickets
                .iter()
                .filter(|t| t.issue_type == IssueType::Story)
            {
                add_fallback(
                    state,
                    &t.id,
                    &t.title,
                    Fallback::IssueTypeUnavailable,
                    &format!("Project {key} has no Story type; created as {}", task.name),
                );
            }
        }
    }
    // Fields the create screens require that the export does not fill stop it
    // before anything is created.
    const FILLED: [&str; 9] = [
        "summary",
        "issuetype",
        "project",
        "description",
        "reporter",
        "labels",
        "priority",
        "assignee",
        "parent",
    ];
    let mut resolved = Resolved {
        issue_types: types.clone(),
        ..Resolved::default()
    };
    for (name, type_id) in &types {
        let fields = jira.create_fields(&key, type_id).await?;
        if fields.iter().any(|f| f.id == "issuelinks") {
            resolved.links_at_create.insert(type_id.clone());
        }
        for f in &fields {
            let estimate = f.schema_type == "number"
                && ["story point estimate", "story points"]
                    .contains(&f.name.to_ascii_lowercase().as_str());
            let sprint = f.custom.as_deref() == Some("com.pyxis.greenhopper.jira:gh-sprint");
            if estimate && name != "Epic" {
                resolved.estimate_field.get_or_insert_with(|| f.id.clone());
            } else if sprint && name != "Epic" {
                resolved.sprint_field.get_or_insert_with(|| f.id.clone());
            } else if f.required && !f.has_default && !FILLED.contains(&f.id.as_str()) {
                return Err(failure(
                    C::UserFixable,
                    "required_field",
                    format!(
                        "Project {key} requires the field \"{}\" ({}) on {name} issues, which the export does not fill",
                        f.name, f.id
                    ),
                    &[
                        "Make the field optional or give it a default value in the project's field configuration",
                        "Then retry the export",
                    ],
                    run.now,
                ));
            }
        }
    }
    resolved.priorities = jira
        .priorities()
        .await?
        .into_iter()
        .map(|p| (p.name, p.id))
        .collect();
    for t in &plan.tickets {
        if !resolved.priorities.contains_key(t.priority.as_str()) {
            add_fallback(
                state,
                &t.id,
                &t.title,
                Fallback::PriorityUnavailable,
                &format!("Priority {} is not available", t.priority.as_str()),
            );
        }
    }
    let link_types = jira.link_types().await?;
    let Some(blocks) = link_types
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case("Blocks"))
        .or_else(|| {
            link_types
                .iter()
                .find(|l| l.outward.eq_ignore_ascii_case("blocks"))
        })
    else {
        return Err(failure(
            C::AdminRequired,
            "link_type_unavailable",
            "Jira has no \"Blocks\" issue link type to link dependencies with".to_owned(),
            &[
                "Ask a Jira administrator to restore the Blocks link type",
                "Then retry the export",
            ],
            run.now,
        ));
    };
    resolved.blocks_link = blocks.name.clone();
    // The export's assignee and sprint, and those set on single tickets in
    // review (which take their place for that ticket), each looked up once;
    // a ticket whose own or inherited one Jira cannot take falls back.
    let wanted_assignees: BTreeSet<&str> = state
        .settings
        .assignee
        .as_deref()
        .into_iter()
        .chain(plan.tickets.iter().filter_map(|t| t.assignee.as_deref()))
        .collect();
    if !wanted_assignees.is_empty() {
        let users = jira.assignable_users(&key).await?;
        for wanted in wanted_assignees {
            let found = users.iter().find(|u| {
                u.account_id == wanted
                    || u.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(wanted))
                    || u.display_name.eq_ignore_ascii_case(wanted)
            });
            if let Some(user) = found {
                resolved
                    .assignees
                    .insert(wanted.to_owned(), user.account_id.clone());
            }
        }
        resolved.assignee = state
            .settings
            .assignee
            .as_ref()
            .and_then(|w| resolved.assignees.get(w).cloned());
    }
    let wanted_sprints: BTreeSet<&str> = state
        .settings
        .sprint
        .as_deref()
        .into_iter()
        .chain(plan.tickets.iter().filter_map(|t| t.sprint.as_deref()))
        .collect();
    if !wanted_sprints.is_empty() {
        let sprints = jira.sprints(&key).await?;
        if resolved.sprint_field.is_some() {
            for wanted in wanted_sprints {
                let found = sprints.iter().find(|s| {
                    s.state != "closed"
                        && (s.id.to_string() == wanted || s.name.eq_ignore_ascii_case(wanted))
                });
                if let Some(sprint) = found {
                    resolved.sprints.insert(wanted.to_owned(), sprint.id);
                }
            }
        }
        resolved.sprint = state
            .settings
            .sprint
            .as_ref()
            .and_then(|w| resolved.sprints.get(w).copied());
    }
    for t in &plan.tickets {
        if let Some(wanted) = t.assignee.as_ref().or(state.settings.assignee.as_ref())
            && !resolved.assignees.contains_key(wanted)
        {
            add_fallback(
                state,
                &t.id,
                &t.title,
                Fallback::AssigneeInvalid,
                &format!("{wanted} cannot be assigned issues in {key}"),
            );
        }
        if let Some(wanted) = t.sprint.as_ref().or(state.settings.sprint.as_ref())
            && !resolved.sprints.contains_key(wanted)
        {
            add_fallback(
                state,
                &t.id,
                &t.title,
                Fallback::SprintNotFound,
                &format!("No open sprint {wanted} in {key}"),
            );
        }
    }
    resolved.key_floor = key_floor_by_search(jira, &key).await?;
    state.resolved = resolved;
    reconcile(repos, jira, session, plan, state, exported, run).await?;
    state.phase = Phase::Epics;
    Ok(())
}

/// The highest issue number of `project` that a search sees. Search lags
/// Jira's writes, so this may be below the truth, never above it: a floor.
async fn key_floor_by_search<J: Jira>(jira: &J, project: &str) -> Result<u64, Stop> {
    let jql = format!("project = \"{project}\" ORDER BY key DESC");
    let page = jira.search(&jql, &[], None).await?;
    Ok(page
        .issues
        .first()
        .and_then(|i| key_number(&i.key, project))
        .unwrap_or(0))
}

/// The number of `PROJ-123` in project `PROJ`.
fn key_number(key: &str, project: &str) -> Option<u64> {
    key.strip_prefix(project)?.strip_prefix('-')?.parse().ok()
}

/// The highest issue number known in the project: any issue created from
/// now on gets a higher one (Jira numbers a project's issues in order).
fn key_floor(state: &ExportState, exported: &BTreeMap<String, Exported>) -> u64 {
    let project = &state.settings.project_key;
    exported
        .values()
        .filter_map(|e| key_number(&e.key, project))
        .fold(state.resolved.key_floor, u64::max)
}

/// Finds what a create whose answer was lost made.
///
/// Jira's JQL search is eventually consistent: an issue created seconds
/// ago (minutes, after bulk writes) can be missing from it, and
/// `reconcileIssues` helps only for ids already known, which a lost answer
/// never gave us. Reads of issues by key are strongly consistent, and a
/// project numbers its issues in order, so whatever the lost call made has
/// a key above the floor recorded before it was sent. The keys above it are
/// read in windows of 100 (`bulkfetch`) until every issue of the call is
/// found or a whole window holds no issue at all (the end of the project).
/// Each issue is ours only if it carries the run label and a `dtg.ticket`
/// property naming one of the call's epics or tickets. The call is looked
/// for only after it can no longer be running in Jira (see `prepare`).
async fn find_lost_creates<J: Jira>(
    jira: &J,
    state: &ExportState,
    call: &InFlight,
    exported: &BTreeMap<String, Exported>,
) -> Result<Vec<(String, IssueRef)>, Stop> {
    let project = &state.settings.project_key;
    let mut wanted: BTreeSet<&str> = call
        .ids
        .iter()
        .map(String::as_str)
        .filter(|id| !exported.contains_key(*id))
        .collect();
    let mut found = Vec::new();
    let mut next = call.key_floor + 1;
    for _ in 0..MAX_SCAN_WINDOWS {
        if wanted.is_empty() {
            break;
        }
        let keys: Vec<String> = (next..next + FETCH_LIMIT)
            .map(|n| format!("{project}-{n}"))
            .collect();
        let fetched = jira.fetch_issues(&keys, &[TICKET_PROPERTY]).await?;
        if fetched.issues.is_empty() {
            break;
        }
        for issue in fetched.issues {
            if !issue.labels.contains(&state.run_label) {
                continue;
            }
            let Some(id) = issue
                .properties
                .get(TICKET_PROPERTY)
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            if wanted.remove(id) {
                found.push((
                    id.to_owned(),
                    IssueRef {
                        id: issue.id,
                        key: issue.key,
                    },
                ));
            }
        }
        next += FETCH_LIMIT;
    }
    Ok(found)
}

/// Records what `call`, a create whose answer was never read, made, once
/// it can no longer be running in Jira: the answer was lost, or the process
/// sending it died (a Lambda timed out, `dtg` was killed). Until then the
/// step asks to be run again later. Runs before anything is created, in
/// prepare and before each bulk create, so no driver can skip it.
#[allow(clippy::too_many_arguments)]
async fn recover_lost_create<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    session: &Session,
    plan: &Plan,
    state: &mut ExportState,
    exported: &mut BTreeMap<String, Exported>,
    call: InFlight,
    run: Run<'_>,
) -> Result<(), Stop> {
    // Timestamps are whole seconds: wait until a full `settle_secs` has
    // passed since the call went out, whatever fraction it was sent at.
    let settled_at = call
        .sent_at
        .saturating_add(i64::try_from(state.settings.settle_secs).unwrap_or(i64::MAX));
    if run.now <= settled_at {
        let wait = u64::try_from(settled_at - run.now).unwrap_or(0) + 1;
        return Err(Stop::Wait(Duration::from_secs(wait)));
    }
    let epics: BTreeSet<&str> = plan.epics.iter().map(|e| e.id.as_str()).collect();
    let lost = find_lost_creates(jira, state, &call, exported).await?;
    let records: Vec<Exported> = lost
        .into_iter()
        .map(|(id, issue)| {
            let kind = if epics.contains(id.as_str()) {
                ExportedKind::Epic
            } else {
                ExportedKind::Ticket
            };
            record(jira, id, kind, issue, run.now)
        })
        .collect();
    repos.record_exported(session, &records, run.now).await?;
    state.counters.reconciled += records.len();
    for e in records {
        exported.insert(e.id.clone(), e);
    }
    repos.end_create(&session.id, run.now).await?;
    Ok(())
}

/// Finds, by the run label confirmed by the ticket-id property, issues an
/// earlier run created that the session has no record of. A search may
/// lag Jira's writes: this only adds to what [`recover_lost_create`] found
/// by reading keys, it is never the only safeguard.
async fn reconcile<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    session: &Session,
    plan: &Plan,
    state: &mut ExportState,
    exported: &mut BTreeMap<String, Exported>,
    run: Run<'_>,
) -> Result<(), Stop> {
    let epics: BTreeSet<&str> = plan.epics.iter().map(|e| e.id.as_str()).collect();
    let tickets: BTreeSet<&str> = plan.tickets.iter().map(|t| t.id.as_str()).collect();
    let jql = format!(
        "project = \"{}\" AND labels = \"{}\" ORDER BY key ASC",
        state.settings.project_key, state.run_label
    );
    let mut found = Vec::new();
    let mut next = None;
    loop {
        let page = jira.search(&jql, &[TICKET_PROPERTY], next.take()).await?;
        for issue in page.issues {
            let Some(id) = issue
                .properties
                .get(TICKET_PROPERTY)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
            else {
                continue;
            };
            let kind = if epics.contains(id.as_str()) {
                ExportedKind::Epic
            } else if tickets.contains(id.as_str()) {
                ExportedKind::Ticket
            } else {
                continue;
            };
            if exported.contains_key(&id) || found.iter().any(|f: &Exported| f.id == id) {
                continue;
            }
            let issue = IssueRef {
                id: issue.id,
                key: issue.key,
            };
            found.push(record(jira, id, kind, issue, run.now));
        }
        match page.next_page {
            Some(token) => next = Some(token),
            None => break,
        }
    }
    if !found.is_empty() {
        repos
            .record_exported(session, &found, run.now)
            .await
            .map_err(|e| {
                Stop::Jira(
                    JiraError::Network {
                        message: e.to_string(),
                        maybe_applied: false,
                    },
                    None,
                )
            })?;
        state.counters.reconciled += found.len();
        for e in found {
            exported.insert(e.id.clone(), e);
        }
    }
    Ok(())
}

/// The record of an issue Jira holds for our epic or ticket `id`.
fn record<J: Jira>(
    jira: &J,
    id: String,
    kind: ExportedKind,
    issue: IssueRef,
    now: Timestamp,
) -> Exported {
    Exported {
        url: jira.browse_url(&issue.key),
        id,
        kind,
        jira_id: issue.id,
        key: issue.key,
        attachments_done: false,
        at: now,
        linked_at_create: Vec::new(),
    }
}

/// Links made inside create calls, by the records of the issues made.
fn links_made_at_create(exported: &BTreeMap<String, Exported>) -> usize {
    exported.values().map(|e| e.linked_at_create.len()).sum()
}

/// One issue to create, with the fallbacks recorded for it applied.
fn new_issue(
    state: &ExportState,
    exported: &BTreeMap<String, Exported>,
    id: &str,
    title: &str,
    html: &str,
    ticket: Option<&Ticket>,
    blocked_by: Option<BlockedBy>,
) -> NewIssue {
    let r = &state.resolved;
    let fallbacks = state.fallbacks.get(id).map_or(&[][..], Vec::as_slice);
    let has = |f: Fallback| fallbacks.contains(&f);
    let (description, _) = description(html);
    let mut labels = ticket.map(|t| t.labels.clone()).unwrap_or_default();
    labels.push(state.run_label.clone());
    labels.retain(|l| !l.is_empty() && !l.contains(char::is_whitespace));
    labels.dedup();
    let type_name = match ticket.map(|t| t.issue_type) {
        None => "Epic",
        Some(IssueType::Story) if !has(Fallback::IssueTypeUnavailable) => "Story",
        Some(IssueType::Epic) => "Epic",
        Some(_) => "Task",
    };
    let issue_type_id = r
        .issue_types
        .get(type_name)
        .or_else(|| r.issue_types.get("Task"))
        .cloned()
        .unwrap_or_default();
    // Only where this type's create screen offers `issuelinks`.
    let blocked_by =
        blocked_by.filter(|b| !b.keys.is_empty() && r.links_at_create.contains(&issue_type_id));
    let mut extra_fields = BTreeMap::new();
    if let Some(t) = ticket {
        if let Some(field) = &r.estimate_field
            && !has(Fallback::EstimateFieldUnavailable)
        {
            extra_fields.insert(field.clone(), serde_json::json!(t.estimate));
        }
        let sprint = match &t.sprint {
            Some(own) => r.sprints.get(own).copied(),
            None => r.sprint,
        };
        if let (Some(field), Some(sprint)) = (&r.sprint_field, sprint)
            && !has(Fallback::SprintNotFound)
        {
            extra_fields.insert(field.clone(), serde_json::json!(sprint));
        }
    }
    NewIssue {
        project_key: state.settings.project_key.clone(),
        issue_type_id,
        summary: title.to_owned(),
        description,
        labels,
        priority_id: ticket
            .filter(|_| !has(Fallback::PriorityUnavailable))
            .and_then(|t| r.priorities.get(t.priority.as_str()).cloned()),
        assignee: ticket
            .filter(|_| !has(Fallback::AssigneeInvalid))
            .and_then(|t| match &t.assignee {
                Some(own) => r.assignees.get(own).cloned(),
                None => r.assignee.clone(),
            }),
        parent_key: ticket.and_then(|t| exported.get(&t.epic).map(|e| e.key.clone())),
        extra_fields,
        properties: BTreeMap::from([(TICKET_PROPERTY.to_owned(), serde_json::json!(id))]),
        blocked_by,
    }
}

/// The fallbacks that answer a refusal, or `None` when it has a problem no
/// fallback answers.
fn fallbacks_for(refusal: &Refusal, r: &Resolved) -> Option<Vec<Fallback>> {
    if refusal.fields.is_empty() {
        return None;
    }
    refusal
        .fields
        .keys()
        .map(|field| match field.as_str() {
            "assignee" => Some(Fallback::AssigneeInvalid),
            "priority" => Some(Fallback::PriorityUnavailable),
            "issuetype" => Some(Fallback::IssueTypeUnavailable),
            f if r.sprint_field.as_deref() == Some(f) => Some(Fallback::SprintNotFound),
            f if r.estimate_field.as_deref() == Some(f) => Some(Fallback::EstimateFieldUnavailable),
            _ => None,
        })
        .collect()
}

/// The epics or tickets phase: the next bulk create.
async fn create_batch<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    session: &Session,
    plan: &Plan,
    state: &mut ExportState,
    exported: &mut BTreeMap<String, Exported>,
    run: Run<'_>,
) -> Result<(), Stop> {
    if let Some(call) = repos.in_flight(&session.id, run.now).await? {
        // The last create of this export was never answered: find what it
        // made first (this step), create the rest afterwards.
        return recover_lost_create(repos, jira, session, plan, state, exported, call, run).await;
    }
    let epics = state.phase == Phase::Epics;
    let pending: Vec<(&str, &str, &str, Option<&Ticket>)> = if epics {
        plan.epics
            .iter()
            .filter(|e| !exported.contains_key(&e.id))
            .map(|e| {
                (
                    e.id.as_str(),
                    e.title.as_str(),
                    e.description_html.as_str(),
                    None,
                )
            })
            .take(state.settings.batch_size.clamp(1, BULK_LIMIT))
            .collect()
    } else {
        plan.tickets
            .iter()
            .filter(|t| !exported.contains_key(&t.id))
            .map(|t| {
                (
                    t.id.as_str(),
                    t.title.as_str(),
                    t.description_html.as_str(),
                    Some(t),
                )
            })
            .take(state.settings.batch_size.clamp(1, BULK_LIMIT))
            .collect()
    };
    if pending.is_empty() {
        state.phase = if epics {
            Phase::Tickets
        } else {
            Phase::Attachments
        };
        return Ok(());
    }
    let links = links_at_create(plan, state, exported, &pending);
    let issues: Vec<NewIssue> = pending
        .iter()
        .map(|(id, title, html, ticket)| {
            let blocked_by = links.get(*id).map(|needed| BlockedBy {
                type_name: state.resolved.blocks_link.clone(),
                keys: needed
                    .iter()
                    .filter_map(|n| exported.get(*n).map(|e| e.key.clone()))
                    .collect(),
            });
            new_issue(state, exported, id, title, html, *ticket, blocked_by)
        })
        .collect();
    let first = pending.first().map(|p| p.0.to_owned());
    // Recorded before it is sent: if the answer is lost, or this process
    // dies, the next start or retry looks for what the call made first.
    let call = InFlight {
        ids: pending.iter().map(|p| p.0.to_owned()).collect(),
        key_floor: key_floor(state, exported),
        sent_at: run.now,
    };
    repos.begin_create(session, &call, run.now).await?;
    let answers = match jira.create_issues(&issues).await {
        Ok(answers) => answers,
        Err(e) => {
            if !e.maybe_applied() {
                repos.end_create(&session.id, run.now).await?;
            }
            return Err(Stop::Jira(e, first));
        }
    };
    let mut created = Vec::new();
    let mut refused = None;
    for (((id, title, _, _), issue), answer) in pending.iter().zip(&issues).zip(answers) {
        match answer {
            Ok(made) => {
                let kind = if epics {
                    ExportedKind::Epic
                } else {
                    ExportedKind::Ticket
                };
                let mut e = record(jira, (*id).to_owned(), kind, made, run.now);
                if issue.blocked_by.is_some() {
                    e.linked_at_create = links
                        .get(*id)
                        .map(|n| n.iter().map(|s| (*s).to_owned()).collect())
                        .unwrap_or_default();
                }
                created.push(e);
            }
            Err(refusal) => {
                let detail = refusal.to_string();
                // Links Jira will not take inside the create go separately.
                let mut rest = refusal.clone();
                let links_refused =
                    issue.blocked_by.is_some() && rest.fields.remove("issuelinks").is_some();
                let mut new = links_refused && state.separate_links.insert((*id).to_owned());
                if !rest.fields.is_empty() || !links_refused {
                    new = match fallbacks_for(&rest, &state.resolved) {
                        Some(fallbacks) => fallbacks
                            .into_iter()
                            .map(|f| add_fallback(state, id, title, f, &detail))
                            .fold(new, |a, b| a | b),
                        None => false,
                    };
                }
                if !new && refused.is_none() {
                    refused = Some(((*id).to_owned(), refusal));
                }
            }
        }
    }
    // The keys are stored before anything else is sent.
    repos
        .record_exported(session, &created, run.now)
        .await
        .map_err(|e| {
            Stop::Jira(
                JiraError::Network {
                    message: e.to_string(),
                    maybe_applied: false,
                },
                None,
            )
        })?;
    repos.end_create(&session.id, run.now).await?;
    if epics {
        state.counters.epics_created += created.len();
    } else {
        state.counters.tickets_created += created.len();
    }
    let linked: usize = created.iter().map(|e| e.linked_at_create.len()).sum();
    state.counters.links_at_create += linked;
    state.counters.links_created += linked;
    for e in created {
        exported.insert(e.id.clone(), e);
    }
    if let Some((id, refusal)) = refused {
        // A project gone or a permission lost in the middle of a bulk create
        // stops the export as it would for the whole call.
        return Err(Stop::Jira(JiraError::refused(refusal), Some(id)));
    }
    Ok(())
}

/// For each ticket of a bulk create, the tickets it needs that exist
/// already, to link inside the call ([`LinkMode::AtCreate`], where the
/// create screen offers `issuelinks`). Tickets of the same call cannot be
/// linked there (they have no key yet); nor more than
/// [`LINKS_PER_ISSUE_PER_CREATE`] to one issue per call: those go to the
/// links phase.
fn links_at_create<'p>(
    plan: &'p Plan,
    state: &ExportState,
    exported: &BTreeMap<String, Exported>,
    pending: &[(&str, &str, &str, Option<&Ticket>)],
) -> HashMap<String, Vec<&'p str>> {
    let mut links = HashMap::new();
    if state.settings.link_mode != LinkMode::AtCreate || state.resolved.links_at_create.is_empty() {
        return links;
    }
    let wanted: BTreeSet<&str> = pending
        .iter()
        .filter(|p| p.3.is_some() && !state.separate_links.contains(p.0))
        .map(|p| p.0)
        .collect();
    let mut per_issue: HashMap<&str, usize> = HashMap::new();
    for dep in &plan.dependencies {
        if !wanted.contains(dep.from.as_str()) || !exported.contains_key(&dep.to) {
            continue;
        }
        let writes = per_issue.entry(dep.to.as_str()).or_default();
        if *writes >= LINKS_PER_ISSUE_PER_CREATE {
            continue;
        }
        *writes += 1;
        links
            .entry(dep.from.clone())
            .or_insert_with(Vec::new)
            .push(dep.to.as_str());
    }
    links
}

/// The dependencies the links phase sends, in its order: those not linked
/// inside a create call.
fn separate_links<'p>(
    plan: &'p Plan,
    exported: &BTreeMap<String, Exported>,
) -> Vec<&'p Dependency> {
    link_order(plan)
        .into_iter()
        .filter(|dep| {
            !exported
                .get(&dep.from)
                .is_some_and(|e| e.linked_at_create.contains(&dep.to))
        })
        .collect()
}

/// The attachments phase: descriptions that overflowed go up as files.
async fn attach<T: Table, J: Jira>(
    repos: &Repos<'_, T>,
    jira: &J,
    session: &Session,
    plan: &Plan,
    state: &mut ExportState,
    exported: &mut BTreeMap<String, Exported>,
    run: Run<'_>,
) -> Result<(), Stop> {
    let mut uploads = 0;
    let mut done = Vec::new();
    let htmls = plan
        .epics
        .iter()
        .map(|e| (&e.id, &e.description_html))
        .chain(plan.tickets.iter().map(|t| (&t.id, &t.description_html)));
    let mut result = Ok(());
    for (id, html) in htmls {
        let Some(record) = exported.get(id).filter(|e| !e.attachments_done) else {
            continue;
        };
        if let (_, Some((name, content))) = description(html) {
            if uploads == ATTACHMENTS_PER_STEP {
                break;
            }
            uploads += 1;
            if let Err(e) = jira.attach(&record.key, &name, content.into_bytes()).await {
                result = Err(Stop::Jira(e, Some(id.clone())));
                break;
            }
            state.counters.attachments_uploaded += 1;
        }
        done.push(Exported {
            attachments_done: true,
            ..record.clone()
        });
    }
    repos
        .record_exported(session, &done, run.now)
        .await
        .map_err(|e| {
            Stop::Jira(
                JiraError::Network {
                    message: e.to_string(),
                    maybe_applied: false,
                },
                None,
            )
        })?;
    let finished = result.is_ok() && uploads < ATTACHMENTS_PER_STEP;
    for e in done {
        exported.insert(e.id.clone(), e);
    }
    result?;
    if finished || exported.values().all(|e| e.attachments_done) {
        state.phase = Phase::Links;
    }
    Ok(())
}

/// The dependencies in the order their links are sent: rounds in which no
/// ticket appears twice, so that writes to one issue (Jira allows 20 per 2 s)
/// spread over the whole phase instead of queueing behind each other. Each
/// dependency goes in the first round after every earlier one touching
/// either of its tickets; the order depends on the plan alone, so the
/// phase's cursor means the same on every step.
fn link_order(plan: &Plan) -> Vec<&Dependency> {
    let mut next_round: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<(usize, &Dependency)> = plan
        .dependencies
        .iter()
        .map(|dep| {
            let round = next_round
                .get(dep.from.as_str())
                .copied()
                .unwrap_or(0)
                .max(next_round.get(dep.to.as_str()).copied().unwrap_or(0));
            next_round.insert(dep.from.as_str(), round + 1);
            next_round.insert(dep.to.as_str(), round + 1);
            (round, dep)
        })
        .collect();
    rounds.sort_by_key(|(round, _)| *round);
    rounds.into_iter().map(|(_, dep)| dep).collect()
}

/// The links phase: "to blocks from" for every dependency, both ends created.
/// One link request, tagged with the ticket that needs it. The requests
/// are made before they are streamed (no closure inside the stream), so the
/// export's future is `Send` for a multi-threaded runtime's spawned task.
async fn send_link<'a, J: Jira>(
    jira: &'a J,
    (from, link): &'a (String, NewLink),
) -> (&'a String, crate::jira::JiraResult<()>) {
    (from, jira.link(link).await)
}

async fn link<J: Jira>(
    jira: &J,
    plan: &Plan,
    state: &mut ExportState,
    exported: &BTreeMap<String, Exported>,
) -> Result<(), Stop> {
    let batch: Vec<_> = separate_links(plan, exported)
        .into_iter()
        .skip(state.links_done)
        .take(LINKS_PER_STEP)
        .collect();
    if batch.is_empty() {
        state.phase = Phase::Done;
        return Ok(());
    }
    let mut links = Vec::with_capacity(batch.len());
    for dep in &batch {
        let (Some(needed), Some(needing)) = (exported.get(&dep.to), exported.get(&dep.from)) else {
            return Err(Stop::Jira(
                JiraError::NotFound(format!(
                    "the issue of {} or {} is not recorded as created",
                    dep.to, dep.from
                )),
                Some(dep.from.clone()),
            ));
        };
        links.push((
            dep.from.clone(),
            NewLink {
                type_name: state.resolved.blocks_link.clone(),
                inward_key: needed.key.clone(),
                outward_key: needing.key.clone(),
            },
        ));
    }
    let requests: Vec<_> = links.iter().map(|pair| send_link(jira, pair)).collect();
    let results: Vec<_> = stream::iter(requests)
        .buffered(LINK_CONCURRENCY)
        .collect()
        .await;
    for (from, result) in results {
        match result {
            Ok(()) => {
                state.links_done += 1;
                state.counters.links_created += 1;
            }
            // Links after a failure are sent again on retry; Jira takes a duplicate link silently.
            Err(e) => return Err(Stop::Jira(e, Some(from.clone()))),
        }
    }
    Ok(())
}

/// The report of an export that is not running: completed or stopped.
///
/// # Errors
/// [`ExportError::WrongStage`] for a session that has not exported;
/// [`ExportError::NotStarted`]; repository failures.
pub(crate) async fn at_rest<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    now: Timestamp,
) -> Result<StepReport> {
    Ok(at_rest_with_plan(repos, session, now).await?.0)
}

/// [`at_rest`], with the plan it read.
pub(crate) async fn at_rest_with_plan<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    now: Timestamp,
) -> Result<(StepReport, Plan)> {
    let session_id = session.id.as_str();
    if !matches!(session.position, COMPLETED | EXPORT_FAILED | ADMIN_REQUIRED) {
        return Err(ExportError::WrongStage {
            session: session_id.to_owned(),
            position: session.position,
            action: "export (start the export first)",
        });
    }
    let stored = repos
        .export_state(session_id, now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?;
    let plan = load_plan(repos, session_id, now).await?;
    let progress = progress(session_id, &stored.value, &plan, &BTreeMap::new());
    let report = StepReport {
        state: stored.value,
        progress,
        wait_hint: Duration::ZERO,
        done: true,
    };
    Ok((report, plan))
}

/// How an export stopped, for [`record_stop`].
struct Stopped<'a> {
    plan: &'a Plan,
    exported: &'a BTreeMap<String, Exported>,
    failed: ExportFailure,
    wait_hint: Duration,
}

/// Records a hard stop: the failure point, the session at `export_failed`,
/// the task failed, the audit entry.
async fn record_stop<T: Table>(
    repos: &Repos<'_, T>,
    mut session: Versioned<Session>,
    stored_version: u64,
    mut state: ExportState,
    stopped: Stopped<'_>,
    run: Run<'_>,
) -> Result<StepReport> {
    let Stopped {
        plan,
        exported,
        mut failed,
        wait_hint,
    } = stopped;
    if failed.failed_at_ticket_order.is_none()
        && matches!(state.phase, Phase::Prepare | Phase::Epics | Phase::Tickets)
    {
        // Stopped before any one ticket: the failure point is the first not created.
        failed.failed_at_ticket_order = plan
            .order
            .iter()
            .position(|id| !exported.contains_key(id))
            .map(|p| p + 1);
    }
    failed.retry_available = state.retries_used < MAX_RETRIES;
    state.first_failure_at.get_or_insert(run.now);
    state.failure = Some(failed.clone());
    repos
        .save_export_state(&session.value, &state, Some(stored_version), run.now)
        .await?;
    session = repos.move_session(&session, EXPORT_FAILED, run.now).await?;
    update_task(
        repos,
        &session.value,
        &state,
        TaskStatus::Failed,
        plan,
        exported,
        run,
    )
    .await?;
    audit(
        repos,
        &session.value,
        run,
        "export.failed",
        serde_json::to_value(&failed).unwrap_or_default(),
    )
    .await?;
    let progress = progress(&session.value.id, &state, plan, exported);
    Ok(StepReport {
        state,
        progress,
        wait_hint,
        done: true,
    })
}

/// Stops a running export with `failed` from outside the engine (its
/// driver failed: a task timed out or crashed). A session that is not
/// exporting any more is left as it is.
///
/// # Errors
/// [`ExportError::NotStarted`]; repository failures.
pub(crate) async fn stop_from_outside<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    failed: ExportFailure,
    run: Run<'_>,
) -> Result<()> {
    let session = load(repos, session_id, run.now).await?;
    if session.value.position != EXPORTING {
        return Ok(());
    }
    let stored = repos
        .export_state(session_id, run.now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?;
    let plan = load_plan(repos, session_id, run.now).await?;
    let exported = repos.exported(session_id, run.now).await?;
    record_stop(
        repos,
        session,
        stored.version,
        stored.value,
        Stopped {
            plan: &plan,
            exported: &exported,
            failed,
            wait_hint: Duration::ZERO,
        },
        run,
    )
    .await?;
    Ok(())
}

/// The results of a session's export (seed `004_*`), as far as it got.
///
/// # Errors
/// [`ExportError::NotStarted`] before any export.
pub async fn results<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    now: Timestamp,
) -> Result<ExportResults> {
    let plan = load_plan(repos, session_id, now).await?;
    results_of(repos, session_id, &plan, now).await
}

/// [`results`] for `plan`, the session's.
pub(crate) async fn results_of<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    plan: &Plan,
    now: Timestamp,
) -> Result<ExportResults> {
    let session = load(repos, session_id, now).await?;
    let state = repos
        .export_state(session_id, now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?
        .value;
    let exported = repos.exported(session_id, now).await?;
    let titles = titles(plan);
    let jira_tickets: Vec<JiraTicketReference> = plan
        .epics
        .iter()
        .map(|e| e.id.as_str())
        .chain(plan.order.iter().map(String::as_str))
        .filter_map(|id| {
            exported.get(id).map(|e| JiraTicketReference {
                ticket_id: id.to_owned(),
                jira_key: e.key.clone(),
                jira_url: e.url.clone(),
                title: titles.get(id).copied().unwrap_or_default().to_owned(),
                kind: e.kind,
            })
        })
        .collect();
    let manual_fixes = state
        .manual_fixes
        .iter()
        .filter_map(|m| {
            exported.get(&m.ticket_id).map(|e| ManualFixGuidance {
                jira_key: e.key.clone(),
                title: m.title.clone(),
                issue_type: m.issue_type,
                recommended_action: m.issue_type.recommended_action().to_owned(),
                jira_url: e.url.clone(),
                detail: m.detail.clone(),
            })
        })
        .collect();
    let end = state.finished_at.unwrap_or(now);
    Ok(ExportResults {
        session_id: session_id.to_owned(),
        status: session.value.position.status.to_string(),
        total_tickets_created: jira_tickets.len(),
        jira_tickets,
        dependencies_created: links_made_at_create(&exported) + state.links_done,
        manual_fixes,
        failure: state.failure,
        retry_attempts_used: state.retries_used,
        total_processing_time_minutes: ((end - state.started_at).max(0) as f64 / 6.0).round()
            / 10.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_this_version_cannot_read_is_not_temporary() {
        let err = JiraError::Unreadable {
            operation: "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"
                .to_owned(),
            message: "fields[0]: invalid type".to_owned(),
            maybe_applied: false,
        };
        let f = classify(&err, "WEB", 0);
        assert_eq!(f.error_category, ErrorCategory::AdminRequired);
        assert_eq!(f.code, "jira_answer_unreadable");
        assert!(f.user_message.contains("createmeta"), "{}", f.user_message);
        assert!(f.recovery_actions[0].starts_with("Update dtg"));

        let lost = JiraError::Network {
            message: "connection closed".to_owned(),
            maybe_applied: true,
        };
        assert_eq!(
            classify(&lost, "WEB", 0).error_category,
            ErrorCategory::Temporary
        );
    }

    #[test]
    fn key_numbers_belong_to_their_project() {
        assert_eq!(key_number("WEB-12", "WEB"), Some(12));
        assert_eq!(key_number("WEBX-12", "WEB"), None);
        assert_eq!(key_number("WEB-", "WEB"), None);
        assert_eq!(key_number("OTHER-3", "WEB"), None);
    }
}

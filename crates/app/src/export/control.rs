//! The decisions of an export, as use cases the command line, the HTTP API
//! and the state machines all call (seed `004_*`): start one or answer the
//! one running ([`begin_export`]), resume a failed one ([`retry_failed`]),
//! say where it is ([`export_status`]), and drive it to its end
//! ([`run_export`]), publishing its progress.
//!
//! # Running, or cut short
//!
//! A session at `jira_export/exporting` is either being driven now or was
//! cut short (its process killed, a Lambda timed out). The driver holds a
//! lease (the `EXPORTLEASE` item, [`ExportLease`]) and renews it: every few
//! seconds while a step runs (a heartbeat), and for the whole wait before
//! sleeping when Jira asks it to slow down. The export is *running* while
//! the lease has not lapsed ([`is_running`]); a driver that died stops
//! renewing it and it lapses within [`LEASE_SECS`] seconds (or at the end of
//! the wait it announced). Taking the lease is a conditional write, so of
//! two callers racing to resume, one drives and the other answers "already
//! running". A cut-short export is resumed from its cursor, sent back first
//! to the prepare phase, which looks for issues a create whose answer was
//! lost made before anything is created again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{Either, select};
use serde::{Deserialize, Serialize};

use dtg_core::plan::Plan;
use dtg_core::session::Position;

use super::{
    ADMIN_REQUIRED, AdfResult, BULK_LIMIT, COMPLETED, DEFAULT_SETTLE_SECS, EXPORT_FAILED,
    EXPORTING, ErrorCategory, ExportError, ExportFailure, ExportLease, ExportSettings, ExportState,
    Exported, LinkMode, MAX_RETRIES, Phase, PlanCache, REVIEW, Result, StepReport, audit,
    check_adf, links_made_at_create, load, load_plan, progress, retry_export, start_export, step,
    step_with,
};
use crate::jira::Jira;
use crate::progress::{
    ExportComplete, ExportFailed, ExportProgressMessage, ProgressMessage, ProtocolVersion, Publish,
};
use crate::repo::{RepoError, Repos, Session, Versioned};
use crate::store::{Table, Timestamp};
use crate::workflow::Run;

/// Seconds a driver's lease lasts unless renewed: how long after a driver
/// dies its export counts as running still.
pub const LEASE_SECS: i64 = 20;
/// How often a driver renews its lease while a step runs.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// The longest a driver waits at once when Jira asks it to slow down.
const MAX_WAIT: Duration = Duration::from_secs(3_600);

/// The time, and waiting: the system's for the command line and the
/// server; tests may pass their own.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> Timestamp;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The system clock, sleeping with tokio's timer (needs a tokio runtime
/// with time enabled).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// What the user asks of an export when starting it (an empty request
/// takes every default and the session's own project).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ExportRequest {
    /// Jira project key; default the project the session records.
    pub project_key: Option<String>,
    /// Assign every ticket without its own assignee to this user.
    pub assignee: Option<String>,
    /// Put every ticket without its own sprint in this sprint.
    pub sprint: Option<String>,
    /// Issues per bulk create (at most 50).
    pub batch_size: usize,
    /// How dependency links are sent.
    pub link_mode: LinkMode,
    /// How long a create whose answer was lost may still be running in Jira.
    pub settle_secs: u64,
}

impl Default for ExportRequest {
    fn default() -> Self {
        Self {
            project_key: None,
            assignee: None,
            sprint: None,
            batch_size: BULK_LIMIT,
            link_mode: LinkMode::default(),
            settle_secs: DEFAULT_SETTLE_SECS,
        }
    }
}

/// An export started (or a cut-short one resumed): seed `004_*`'s
/// `ExportStartResponse` (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportStarted {
    /// The task the client polls.
    pub task_id: String,
    /// Session id.
    pub session_id: String,
    /// `exporting`.
    pub status: String,
    /// Epics and tickets in all.
    pub total_tickets: usize,
    /// A rough estimate of the whole export.
    pub estimated_duration_minutes: u64,
    /// The Jira project.
    pub jira_project_key: String,
    /// When the export started.
    #[serde(with = "at_rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: Timestamp,
}

/// The export is running already: seed `004_*`'s
/// `ExportAlreadyRunningResponse` (202, idempotent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportAlreadyRunning {
    /// Its task.
    pub task_id: String,
    /// Session id.
    pub session_id: String,
    /// `exporting`.
    pub status: String,
    /// Share done, 0 to 100.
    pub progress_percentage: f64,
    /// The ticket being created, or what is happening when none is.
    pub current_ticket_title: String,
    /// When the export started.
    #[serde(with = "at_rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: Timestamp,
}

/// What [`begin_export`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Begun {
    /// Started, or resumed after it was cut short: the caller drives it
    /// ([`run_export`] with the same run id).
    Started(ExportStarted),
    /// Already running: nothing was changed.
    AlreadyRunning(ExportAlreadyRunning),
}

impl Begun {
    /// The export's task.
    #[must_use]
    pub fn task_id(&self) -> &str {
        match self {
            Self::Started(s) => &s.task_id,
            Self::AlreadyRunning(r) => &r.task_id,
        }
    }
}

/// A failed export resumed: seed `004_*`'s `ExportRetryResponse` (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportRetried {
    /// The retry's task.
    pub task_id: String,
    /// Session id.
    pub session_id: String,
    /// `exporting`.
    pub status: String,
    /// Retries used, this one included.
    pub retry_attempt: u32,
    /// Retries left after this one.
    pub remaining_retries: u32,
    /// Build-order position (1-based) of the ticket it resumes at; `None`
    /// when every ticket exists already (attachments or links remain).
    pub resuming_from_ticket_order: Option<usize>,
    /// Issues created before, kept and not created again.
    pub preserved_successful_tickets: usize,
}

/// Where an export is: seed `004_*`'s three status answers, tagged by `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ExportStatus {
    /// Creating issues and links.
    Exporting {
        /// Session id.
        session_id: String,
        /// Its task.
        task_id: String,
        /// Share done, 0 to 100.
        progress_percentage: f64,
        /// Epics and tickets created.
        tickets_completed: usize,
        /// Epics and tickets in all.
        total_tickets: usize,
        /// The ticket being created, if one is.
        current_ticket_title: Option<String>,
        /// A rough estimate of what is left.
        estimated_time_remaining_minutes: Option<u64>,
    },
    /// Everything is in Jira.
    Completed {
        /// Session id.
        session_id: String,
        /// Its task.
        task_id: String,
        /// Issues created (epics and tickets).
        jira_tickets_created: usize,
        /// Links created.
        dependencies_created: usize,
        /// Fields to finish by hand in Jira.
        manual_fixes_needed: usize,
        /// Minutes from start to finish.
        total_processing_time_minutes: f64,
        /// When it finished.
        #[serde(with = "at_rfc3339")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        completed_at: Timestamp,
    },
    /// Stopped on a failure.
    Failed {
        /// Session id.
        session_id: String,
        /// Its task.
        task_id: String,
        /// Build-order position (1-based) of the ticket it stopped at, if any.
        failed_at_ticket_order: Option<usize>,
        /// Category of seed `004_*`.
        error_category: ErrorCategory,
        /// What happened.
        user_message: String,
        /// What to do about it.
        recovery_actions: Vec<String>,
        /// Whether [`retry_failed`] may resume it.
        retry_available: bool,
        /// Retries used.
        retry_attempts_used: u32,
    },
}

/// `2024-01-15T10:30:00Z` for a timestamp (RFC 3339, UTC).
#[must_use]
pub fn rfc3339(at: Timestamp) -> String {
    let c = crate::time::civil(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// The timestamp of an RFC 3339 date-time (`Z` or a `±HH:MM` offset; a
/// fraction of a second is dropped).
fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let num = |s: &str| -> Option<i64> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let (year, month, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || time.len() < 8 {
        return None;
    }
    let (clock, zone) = time.split_at(8);
    let mut c = clock.splitn(3, ':');
    let (h, m, s) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
    let zone = zone.trim_start_matches(|ch: char| ch == '.' || ch.is_ascii_digit());
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = zone.get(1..)?.split_once(':')?;
            sign * (num(oh)? * 3_600 + num(om)? * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + m * 60 + s - offset)
}

/// Serde for a [`Timestamp`] as an RFC 3339 string.
mod at_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::store::Timestamp;

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::rfc3339(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text}")))
    }
}

/// Whether the export of `session` is being driven now: the session is
/// exporting and the driver's lease has not lapsed.
#[must_use]
pub fn is_running(session: &Session, lease: Option<&ExportLease>, now: Timestamp) -> bool {
    session.position == EXPORTING && lease.is_some_and(|l| l.until >= now)
}

/// A rough duration of creating `issues` issues and `links` links: about
/// 10 s to check the project, 2 s per bulk create of 50 (paced to Jira's
/// limits) and 1 s per 50 links (sent 32 at a time), in whole minutes.
fn estimate_minutes(issues: usize, links: usize) -> u64 {
    let secs = 10 + 2 * issues.div_ceil(BULK_LIMIT) + links.div_ceil(50);
    (secs as u64).div_ceil(60).max(1)
}

/// The epic or ticket the export is creating now, if it is creating one.
fn current_title(
    state: &ExportState,
    plan: &Plan,
    exported: &std::collections::BTreeMap<String, Exported>,
) -> Option<String> {
    match state.phase {
        Phase::Epics => plan
            .epics
            .iter()
            .find(|e| !exported.contains_key(&e.id))
            .map(|e| e.title.clone()),
        Phase::Tickets => plan
            .tickets
            .iter()
            .find(|t| !exported.contains_key(&t.id))
            .map(|t| t.title.clone()),
        _ => None,
    }
}

/// Build-order position (1-based) of the first ticket not created yet.
fn first_missing(
    plan: &Plan,
    exported: &std::collections::BTreeMap<String, Exported>,
) -> Option<usize> {
    plan.order
        .iter()
        .position(|id| !exported.contains_key(id))
        .map(|p| p + 1)
}

/// Takes the export lease for `holder` until `until`, over the version
/// read (`None`: there was none).
///
/// # Errors
/// [`RepoError::Conflict`] when another caller took it meanwhile.
async fn take_lease<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    holder: &str,
    until: Timestamp,
    read: Option<u64>,
    now: Timestamp,
) -> Result<u64> {
    let lease = ExportLease {
        holder: holder.to_owned(),
        until,
    };
    Ok(repos.save_export_lease(session, &lease, read, now).await?)
}

async fn started<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    state: &ExportState,
    now: Timestamp,
) -> Result<ExportStarted> {
    let plan = load_plan(repos, session_id, now).await?;
    let exported = repos.exported(session_id, now).await?;
    let total = plan.epics.len() + plan.tickets.len();
    let left = total.saturating_sub(exported.len());
    let links = plan
        .dependencies
        .len()
        .saturating_sub(links_made_at_create(&exported) + state.links_done);
    Ok(ExportStarted {
        task_id: state.task_id.clone(),
        session_id: session_id.to_owned(),
        status: "exporting".to_owned(),
        total_tickets: total,
        estimated_duration_minutes: estimate_minutes(left, links),
        jira_project_key: state.settings.project_key.clone(),
        started_at: state.started_at,
    })
}

/// Resumes a cut-short export: takes the lease (so a racing caller sees it
/// running), then sends the cursor back to prepare when it was creating
/// issues, so that what a create whose answer was lost made is found
/// before anything is created again.
async fn resume<T: Table>(
    repos: &Repos<'_, T>,
    session: &Session,
    stored: Versioned<ExportState>,
    lease: Option<u64>,
    run: Run<'_>,
) -> Result<ExportState> {
    take_lease(repos, session, run.id, run.now + LEASE_SECS, lease, run.now).await?;
    let mut state = stored.value;
    if matches!(state.phase, Phase::Epics | Phase::Tickets) {
        state.phase = Phase::Prepare;
        repos
            .save_export_state(session, &state, Some(stored.version), run.now)
            .await?;
    }
    audit(
        repos,
        session,
        run,
        "export.resumed",
        serde_json::json!({ "task_id": state.task_id, "phase": state.phase }),
    )
    .await?;
    Ok(state)
}

/// Starts the export of a session, or answers the one running (seed
/// `004_*`, `POST /jira/export-session/{session_id}`):
///
/// - in review: the project is the request's, else the one the session
///   records, else the one an earlier export of it went to; the
///   descriptions are checked afresh ([`check_adf`]) and the export starts
///   ([`start_export`]) with a new export task;
/// - exporting and running ([`is_running`]): [`Begun::AlreadyRunning`],
///   nothing changed (the call is idempotent);
/// - exporting, cut short: resumed from its cursor, after a look for what
///   a create whose answer was lost made;
/// - stopped on a failure: [`ExportError::Stopped`] (only
///   [`retry_failed`] goes on); completed: [`ExportError::AlreadyExported`].
///
/// The caller takes it from here with [`run_export`] and the same run id
/// (the lease is taken for that run).
///
/// # Errors
/// [`ExportError::NoProject`], [`ExportError::AdfFailed`] (with the tickets
/// that fail), [`ExportError::ProjectMismatch`] when another project than
/// the one it started with is asked, [`ExportError::WrongStage`] before
/// review, and the cases above.
pub async fn begin_export<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    request: ExportRequest,
    run: Run<'_>,
) -> Result<Begun> {
    match begin_once(repos, session_id, &request, run).await {
        // Another caller moved the session or took the lease meanwhile:
        // look again, and answer what it did.
        Err(ExportError::Repo(RepoError::Conflict(_))) => {
            begin_once(repos, session_id, &request, run).await
        }
        other => other,
    }
}

async fn begin_once<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    request: &ExportRequest,
    run: Run<'_>,
) -> Result<Begun> {
    let session = load(repos, session_id, run.now).await?;
    let stored = repos.export_state(session_id, run.now).await?;
    let position = session.value.position;
    match position {
        REVIEW => {
            let project = request
                .project_key
                .clone()
                .or_else(|| session.value.jira.as_ref().map(|j| j.project_key.clone()))
                .or_else(|| {
                    stored
                        .as_ref()
                        .map(|s| s.value.settings.project_key.clone())
                })
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| ExportError::NoProject(session_id.to_owned()))?;
            if let Some(old) = &stored {
                let started = &old.value.settings.project_key;
                // Issues made there stay there: the export cannot move.
                if *started != project && !repos.exported(session_id, run.now).await?.is_empty() {
                    return Err(ExportError::ProjectMismatch {
                        session: session_id.to_owned(),
                        started: started.clone(),
                        asked: project,
                    });
                }
            }
            let report = check_adf(repos, session_id, run).await?;
            if !report.all_passed {
                return Err(ExportError::AdfFailed {
                    session: session_id.to_owned(),
                    failed: report
                        .results
                        .into_iter()
                        .filter(|r| r.status != "passed")
                        .collect::<Vec<AdfResult>>(),
                });
            }
            let settings = ExportSettings {
                project_key: project,
                assignee: request.assignee.clone(),
                sprint: request.sprint.clone(),
                batch_size: request.batch_size,
                link_mode: request.link_mode,
                settle_secs: request.settle_secs,
            };
            let lease = repos.export_lease(session_id, run.now).await?;
            let state = start_export(repos, session_id, settings, run).await?;
            take_lease(
                repos,
                &session.value,
                run.id,
                run.now + LEASE_SECS,
                lease.map(|l| l.version),
                run.now,
            )
            .await?;
            Ok(Begun::Started(
                started(repos, session_id, &state, run.now).await?,
            ))
        }
        EXPORTING => {
            let stored = stored.ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?;
            same_project(session_id, &stored.value, request.project_key.as_deref())?;
            let lease = repos.export_lease(session_id, run.now).await?;
            if is_running(&session.value, lease.as_ref().map(|l| &l.value), run.now) {
                let state = &stored.value;
                let plan = load_plan(repos, session_id, run.now).await?;
                let exported = repos.exported(session_id, run.now).await?;
                let p = progress(session_id, state, &plan, &exported);
                return Ok(Begun::AlreadyRunning(ExportAlreadyRunning {
                    task_id: state.task_id.clone(),
                    session_id: session_id.to_owned(),
                    status: "exporting".to_owned(),
                    progress_percentage: p.progress_percentage,
                    current_ticket_title: current_title(state, &plan, &exported)
                        .unwrap_or(p.current_stage),
                    started_at: state.started_at,
                }));
            }
            let state =
                resume(repos, &session.value, stored, lease.map(|l| l.version), run).await?;
            Ok(Begun::Started(
                started(repos, session_id, &state, run.now).await?,
            ))
        }
        EXPORT_FAILED | ADMIN_REQUIRED => Err(ExportError::Stopped {
            session: session_id.to_owned(),
            admin_required: position == ADMIN_REQUIRED,
        }),
        COMPLETED => Err(ExportError::AlreadyExported(session_id.to_owned())),
        _ => Err(ExportError::WrongStage {
            session: session_id.to_owned(),
            position,
            action: "start an export (plan it and review the tickets first)",
        }),
    }
}

/// A started export goes on to the project it started with.
fn same_project(session_id: &str, state: &ExportState, asked: Option<&str>) -> Result<()> {
    match asked {
        Some(asked) if asked != state.settings.project_key => Err(ExportError::ProjectMismatch {
            session: session_id.to_owned(),
            started: state.settings.project_key.clone(),
            asked: asked.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Resumes a failed export from where it stopped, in the project it
/// started with (seed `004_*`, `POST /jira/retry-failed/{session_id}`),
/// at most [`MAX_RETRIES`] times. `project`, when given, must be that
/// project. A cut-short export (exporting, not running) is resumed too,
/// without using a retry.
///
/// The caller drives it with [`run_export`] and the same run id.
///
/// # Errors
/// [`ExportError::Running`] while it runs (409); [`ExportError::MaxRetries`]
/// when the retries are used up (422); [`ExportError::ProjectMismatch`];
/// [`ExportError::AlreadyExported`]; [`ExportError::WrongStage`] when no
/// export has failed; [`ExportError::NotStarted`] before any export.
pub async fn retry_failed<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    project: Option<&str>,
    run: Run<'_>,
) -> Result<ExportRetried> {
    let session = load(repos, session_id, run.now).await?;
    let position = session.value.position;
    if position == COMPLETED {
        return Err(ExportError::AlreadyExported(session_id.to_owned()));
    }
    let stored = repos
        .export_state(session_id, run.now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?;
    same_project(session_id, &stored.value, project)?;
    let lease = repos.export_lease(session_id, run.now).await?;
    let plan = load_plan(repos, session_id, run.now).await?;
    let exported = repos.exported(session_id, run.now).await?;
    match position {
        EXPORTING => {
            if is_running(&session.value, lease.as_ref().map(|l| &l.value), run.now) {
                return Err(ExportError::Running {
                    session: session_id.to_owned(),
                    task_id: stored.value.task_id,
                });
            }
            let state =
                resume(repos, &session.value, stored, lease.map(|l| l.version), run).await?;
            Ok(ExportRetried {
                task_id: state.task_id.clone(),
                session_id: session_id.to_owned(),
                status: "exporting".to_owned(),
                retry_attempt: state.retries_used,
                remaining_retries: MAX_RETRIES.saturating_sub(state.retries_used),
                resuming_from_ticket_order: first_missing(&plan, &exported),
                preserved_successful_tickets: exported.len(),
            })
        }
        EXPORT_FAILED | ADMIN_REQUIRED => {
            let resuming_from = stored
                .value
                .failure
                .as_ref()
                .and_then(|f| f.failed_at_ticket_order)
                .or_else(|| first_missing(&plan, &exported));
            let next = retry_export(repos, session_id, run).await?;
            take_lease(
                repos,
                &session.value,
                run.id,
                run.now + LEASE_SECS,
                lease.map(|l| l.version),
                run.now,
            )
            .await?;
            Ok(ExportRetried {
                task_id: next.task_id.clone(),
                session_id: session_id.to_owned(),
                status: "exporting".to_owned(),
                retry_attempt: next.retries_used,
                remaining_retries: MAX_RETRIES.saturating_sub(next.retries_used),
                resuming_from_ticket_order: resuming_from,
                preserved_successful_tickets: exported.len(),
            })
        }
        _ => Err(ExportError::WrongStage {
            session: session_id.to_owned(),
            position,
            action: "retry (only a failed export can be retried)",
        }),
    }
}

/// Where the export of a session is (seed `004_*`,
/// `GET /jira/export-status/{session_id}`).
///
/// # Errors
/// [`ExportError::NotStarted`] before any export, and while the session is
/// back in review after one; repository failures.
pub async fn export_status<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    now: Timestamp,
) -> Result<ExportStatus> {
    let session = load(repos, session_id, now).await?;
    let state = repos
        .export_state(session_id, now)
        .await?
        .ok_or_else(|| ExportError::NotStarted(session_id.to_owned()))?
        .value;
    let position: Position = session.value.position;
    let plan = load_plan(repos, session_id, now).await?;
    let exported = repos.exported(session_id, now).await?;
    match position {
        EXPORTING => {
            let p = progress(session_id, &state, &plan, &exported);
            let links_left = p.total_dependencies.saturating_sub(p.dependencies_created);
            let issues_left = p.total_tickets.saturating_sub(p.tickets_completed);
            Ok(ExportStatus::Exporting {
                session_id: session_id.to_owned(),
                task_id: state.task_id.clone(),
                progress_percentage: p.progress_percentage,
                tickets_completed: p.tickets_completed,
                total_tickets: p.total_tickets,
                current_ticket_title: current_title(&state, &plan, &exported),
                estimated_time_remaining_minutes: Some(estimate_minutes(issues_left, links_left)),
            })
        }
        COMPLETED => {
            let end = state.finished_at.unwrap_or(session.value.updated_at);
            Ok(ExportStatus::Completed {
                session_id: session_id.to_owned(),
                task_id: state.task_id.clone(),
                jira_tickets_created: exported.len(),
                dependencies_created: (links_made_at_create(&exported) + state.links_done)
                    .min(plan.dependencies.len()),
                manual_fixes_needed: state
                    .manual_fixes
                    .iter()
                    .filter(|m| exported.contains_key(&m.ticket_id))
                    .count(),
                total_processing_time_minutes: ((end - state.started_at).max(0) as f64 / 6.0)
                    .round()
                    / 10.0,
                completed_at: end,
            })
        }
        EXPORT_FAILED | ADMIN_REQUIRED => {
            let f = state.failure.clone();
            Ok(ExportStatus::Failed {
                session_id: session_id.to_owned(),
                task_id: state.task_id.clone(),
                failed_at_ticket_order: f.as_ref().and_then(|f| f.failed_at_ticket_order),
                error_category: f
                    .as_ref()
                    .map_or(ErrorCategory::AdminRequired, |f| f.error_category),
                user_message: f.as_ref().map_or_else(
                    || "The export stopped.".to_owned(),
                    |f| f.user_message.clone(),
                ),
                recovery_actions: f
                    .as_ref()
                    .map(|f| f.recovery_actions.clone())
                    .unwrap_or_default(),
                retry_available: position == EXPORT_FAILED
                    && state.retries_used < MAX_RETRIES
                    && f.as_ref().is_none_or(|f| f.retry_available),
                retry_attempts_used: state.retries_used,
            })
        }
        _ => Err(ExportError::NotStarted(session_id.to_owned())),
    }
}

/// The lease of one driver, renewed while it runs.
struct Lease<'r, 'a, T: Table> {
    repos: &'r Repos<'a, T>,
    session: Session,
    holder: String,
    version: AtomicU64,
    lost: AtomicBool,
}

impl<T: Table> Lease<'_, '_, T> {
    /// Extends the lease to `until`. Best effort: a store failure leaves
    /// it as it was (the step that follows fails on the same store); a
    /// conflict means another driver took it, and this one stops after
    /// the step it is in.
    async fn renew(&self, until: Timestamp, now: Timestamp) {
        if self.lost.load(Ordering::Relaxed) {
            return;
        }
        let lease = ExportLease {
            holder: self.holder.clone(),
            until,
        };
        let read = self.version.load(Ordering::Relaxed);
        match self
            .repos
            .save_export_lease(&self.session, &lease, Some(read), now)
            .await
        {
            Ok(version) => self.version.store(version, Ordering::Relaxed),
            Err(RepoError::Conflict(_)) => self.lost.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
    }

    async fn release(&self, now: Timestamp) {
        if !self.lost.load(Ordering::Relaxed) {
            let version = self.version.load(Ordering::Relaxed);
            // Best effort: an unreleased lease lapses by itself.
            let _ = self
                .repos
                .release_export_lease(&self.session.id, version, now)
                .await;
        }
    }
}

/// Drives a started export to its end, or to its next stop: calls
/// [`step`] until it is done, waits as Jira asks between steps (at most an
/// hour at once), and publishes an `export_progress` message after every
/// step, then `export_complete` or `export_failed`.
///
/// It holds the export's lease while it runs (see the module
/// documentation): `run_id` is the id [`begin_export`] or [`retry_failed`]
/// ran with, whose lease it takes over; a session at another stage is
/// stepped once (which reports where it is) without one.
///
/// # Errors
/// [`ExportError::Running`] when another driver holds the lease, or takes
/// it meanwhile; repository failures (the export is then cut short, and
/// [`begin_export`] resumes it). Jira's failures stop the export and come
/// back in the report.
pub async fn run_export<T: Table, J: Jira, P: Publish, C: Clock>(
    repos: &Repos<'_, T>,
    jira: &J,
    publish: &P,
    clock: &C,
    session_id: &str,
    actor: &str,
    run_id: &str,
) -> Result<StepReport> {
    let plans = PlanCache::default();
    let driver = Driver {
        repos,
        jira,
        plans: &plans,
        publish,
        clock,
        session_id,
        actor,
        run_id,
    };
    let lease = match driver.acquire().await? {
        Acquired::Lease(lease) => lease,
        Acquired::NotExporting(report) => return Ok(report),
    };
    loop {
        let (report, message) = driver.step_under(&lease).await?;
        if report.done {
            driver.finish(&report, &lease).await;
            return Ok(report);
        }
        if lease.lost.load(Ordering::Relaxed) {
            return Err(driver.running(report.state.task_id));
        }
        if report.wait_hint.is_zero() {
            let now = clock.now();
            lease.renew(now + LEASE_SECS, now).await;
        } else {
            let wait = driver.pace(&report, message, &lease).await;
            clock.sleep(wait).await;
        }
    }
}

/// Runs one step of a started export for the run `run_id`, as one task of
/// the export state machine does: takes over (or renews) the run's lease,
/// runs [`step`] while renewing it, publishes `export_progress`, and then
/// either releases the lease when the export is over (the machine's last
/// task, [`finish_run`], publishes `export_complete` or `export_failed`), or
/// extends the lease past the wait the report asks for, which the caller
/// waits out (a `Wait` state) before the next step.
/// A session at another stage is stepped once (which reports where it is).
/// `plans` keeps the export's plan between the steps a process runs.
///
/// # Errors
/// As [`run_export`].
#[allow(clippy::too_many_arguments)]
pub async fn drive_step<T: Table, J: Jira, P: Publish, C: Clock>(
    repos: &Repos<'_, T>,
    jira: &J,
    publish: &P,
    clock: &C,
    plans: &PlanCache,
    session_id: &str,
    actor: &str,
    run_id: &str,
) -> Result<StepReport> {
    let driver = Driver {
        repos,
        jira,
        plans,
        publish,
        clock,
        session_id,
        actor,
        run_id,
    };
    let lease = match driver.acquire().await? {
        Acquired::Lease(lease) => lease,
        Acquired::NotExporting(report) => return Ok(report),
    };
    let (report, message) = driver.step_under(&lease).await?;
    if report.done {
        // The end is published once, by the machine's last task ([`finish_run`]).
        lease.release(clock.now()).await;
    } else if lease.lost.load(Ordering::Relaxed) {
        return Err(driver.running(report.state.task_id));
    } else if report.wait_hint.is_zero() {
        let now = clock.now();
        lease.renew(now + LEASE_SECS, now).await;
    } else {
        driver.pace(&report, message, &lease).await;
    }
    Ok(report)
}

/// Ends an export whose driver failed outside the engine (a task that
/// timed out or crashed, which the state machine catches): records the
/// failure at the first ticket not created yet with `failure`'s category
/// and message, unless the engine already recorded one; releases the run's
/// lease; publishes `export_failed`. An export that is not exporting any
/// more is left as it is, and its end is published again.
///
/// # Errors
/// Repository failures.
pub async fn fail_run<T: Table, P: Publish, C: Clock>(
    repos: &Repos<'_, T>,
    publish: &P,
    clock: &C,
    session_id: &str,
    run_id: &str,
    failure: ExportFailure,
) -> Result<StepReport> {
    let now = clock.now();
    let run = Run {
        actor: "",
        id: run_id,
        now,
    };
    super::stop_from_outside(repos, session_id, failure, run).await?;
    finish_run(repos, publish, clock, session_id, run_id).await
}

/// Publishes the end of a run that is over: `export_complete` or
/// `export_failed`, and releases the run's lease when it holds it. For the
/// state machine's last task.
///
/// # Errors
/// [`ExportError::WrongStage`] while the export is still running;
/// repository failures.
pub async fn finish_run<T: Table, P: Publish, C: Clock>(
    repos: &Repos<'_, T>,
    publish: &P,
    clock: &C,
    session_id: &str,
    run_id: &str,
) -> Result<StepReport> {
    let now = clock.now();
    if let Some(held) = repos.export_lease(session_id, now).await?
        && held.value.holder == run_id
    {
        let _ = repos
            .release_export_lease(session_id, held.version, now)
            .await;
    }
    let session = load(repos, session_id, now).await?;
    // A large plan is read once here (a 10,000-ticket plan is over 100 MB).
    let (report, plan) = super::at_rest_with_plan(repos, &session.value, now).await?;
    publish
        .publish(
            session_id,
            &finished(repos, &report, Some(&plan), session_id, now).await,
        )
        .await;
    Ok(report)
}

/// What a driver works with.
struct Driver<'a, 'r, T: Table, J: Jira, P: Publish, C: Clock> {
    repos: &'a Repos<'r, T>,
    jira: &'a J,
    plans: &'a PlanCache,
    publish: &'a P,
    clock: &'a C,
    session_id: &'a str,
    actor: &'a str,
    run_id: &'a str,
}

// One per step, on the stack for a moment: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Acquired<'a, 'r, T: Table> {
    Lease(Lease<'a, 'r, T>),
    /// The session is not exporting: the report of one step says where it is.
    NotExporting(StepReport),
}

impl<'a, 'r, T: Table, J: Jira, P: Publish, C: Clock> Driver<'a, 'r, T, J, P, C> {
    fn run(&self, now: Timestamp) -> Run<'a> {
        Run {
            actor: self.actor,
            id: self.run_id,
            now,
        }
    }

    fn running(&self, task_id: String) -> ExportError {
        ExportError::Running {
            session: self.session_id.to_owned(),
            task_id,
        }
    }

    /// Takes the lease for this run (or renews the one it holds).
    async fn acquire(&self) -> Result<Acquired<'a, 'r, T>> {
        let (repos, session_id, run_id) = (self.repos, self.session_id, self.run_id);
        let now = self.clock.now();
        let session = load(repos, session_id, now).await?;
        if session.value.position != EXPORTING {
            let report = step(repos, self.jira, session_id, self.run(now)).await?;
            return Ok(Acquired::NotExporting(report));
        }
        let task_id = || async {
            repos
                .export_state(session_id, now)
                .await
                .ok()
                .flatten()
                .map(|s| s.value.task_id)
                .unwrap_or_default()
        };
        let held = repos.export_lease(session_id, now).await?;
        if let Some(other) = &held
            && other.value.holder != run_id
            && other.value.until >= now
        {
            return Err(self.running(task_id().await));
        }
        let version = match take_lease(
            repos,
            &session.value,
            run_id,
            now + LEASE_SECS,
            held.map(|h| h.version),
            now,
        )
        .await
        {
            Ok(version) => version,
            Err(ExportError::Repo(RepoError::Conflict(_))) => {
                return Err(self.running(task_id().await));
            }
            Err(e) => return Err(e),
        };
        Ok(Acquired::Lease(Lease {
            repos,
            session: session.value,
            holder: run_id.to_owned(),
            version: AtomicU64::new(version),
            lost: AtomicBool::new(false),
        }))
    }

    /// One step, renewing the lease while it runs, then `export_progress`.
    async fn step_under(
        &self,
        lease: &Lease<'a, 'r, T>,
    ) -> Result<(StepReport, ExportProgressMessage)> {
        let clock = self.clock;
        let now = clock.now();
        let stepped = {
            let stepping = std::pin::pin!(step_with(
                self.repos,
                self.jira,
                self.plans,
                self.session_id,
                self.run(now)
            ));
            let heartbeat = std::pin::pin!(async {
                loop {
                    clock.sleep(HEARTBEAT).await;
                    let now = clock.now();
                    lease.renew(now + LEASE_SECS, now).await;
                }
            });
            match select(stepping, heartbeat).await {
                Either::Left((report, _)) => report,
                Either::Right(((), stepping)) => stepping.await,
            }
        };
        let report = match stepped {
            Ok(report) => report,
            Err(e) => {
                lease.release(clock.now()).await;
                return Err(e);
            }
        };
        let message = ExportProgressMessage::from(&report.progress);
        self.publish
            .publish(
                self.session_id,
                &ProgressMessage::ExportProgress(message.clone()),
            )
            .await;
        Ok((report, message))
    }

    /// The end of the run: `export_complete` or `export_failed`, lease released.
    async fn finish(&self, report: &StepReport, lease: &Lease<'a, 'r, T>) {
        let now = self.clock.now();
        // The plan this run kept (read again only when it holds none).
        let plan = self
            .plans
            .plan(self.repos, self.session_id, &report.state, now)
            .await
            .ok();
        self.publish
            .publish(
                self.session_id,
                &finished(self.repos, report, plan.as_deref(), self.session_id, now).await,
            )
            .await;
        lease.release(now).await;
    }

    /// Extends the lease past the wait the report asks for (at most an
    /// hour) and says so; returns the wait.
    async fn pace(
        &self,
        report: &StepReport,
        message: ExportProgressMessage,
        lease: &Lease<'a, 'r, T>,
    ) -> Duration {
        let wait = report.wait_hint.min(MAX_WAIT);
        let now = self.clock.now();
        let secs = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX);
        lease.renew(now + secs + 1 + LEASE_SECS, now).await;
        let waiting = ExportProgressMessage {
            current_stage: format!(
                "Jira asked to slow down; waiting {} s",
                wait.as_secs().max(1)
            ),
            ..message
        };
        self.publish
            .publish(self.session_id, &ProgressMessage::ExportProgress(waiting))
            .await;
        wait
    }
}

/// The results of `plan`'s export; without the plan, none.
async fn results_of<T: Table>(
    repos: &Repos<'_, T>,
    session_id: &str,
    plan: Option<&Plan>,
    now: Timestamp,
) -> Result<super::ExportResults> {
    match plan {
        Some(plan) => super::results_of(repos, session_id, plan, now).await,
        None => Err(ExportError::NoPlan(session_id.to_owned())),
    }
}

/// The `export_complete` or `export_failed` message of a finished run.
async fn finished<T: Table>(
    repos: &Repos<'_, T>,
    report: &StepReport,
    plan: Option<&Plan>,
    session_id: &str,
    now: Timestamp,
) -> ProgressMessage {
    if let Some(f) = &report.state.failure {
        return ProgressMessage::ExportFailed(ExportFailed {
            v: ProtocolVersion,
            session_id: session_id.to_owned(),
            status: "failed".to_owned(),
            failed_at_ticket: f.failed_at_ticket_order,
            error_category: f.error_category,
            retry_available: f.retry_available,
            error_message: f.user_message.clone(),
        });
    }
    let p = &report.progress;
    let (tickets_created, dependencies_created, manual_fixes_needed, minutes) =
        match results_of(repos, session_id, plan, now).await {
            Ok(r) => (
                r.total_tickets_created,
                r.dependencies_created,
                r.manual_fixes.len(),
                r.total_processing_time_minutes,
            ),
            // Best effort: the counts of the last step.
            Err(_) => (
                p.tickets_completed,
                p.dependencies_created,
                report.state.manual_fixes.len(),
                0.0,
            ),
        };
    ProgressMessage::ExportComplete(ExportComplete {
        v: ProtocolVersion,
        session_id: session_id.to_owned(),
        status: "completed".to_owned(),
        tickets_created,
        dependencies_created,
        manual_fixes_needed,
        total_processing_time_minutes: minutes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn times_are_written_and_read_as_rfc_3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_705_314_600), "2024-01-15T10:30:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for at in [0, 1_705_314_600, 951_782_400, 1_800_000_123, -86_401] {
            assert_eq!(parse_rfc3339(&rfc3339(at)), Some(at), "{at}");
        }
        assert_eq!(
            parse_rfc3339("2024-01-15T11:30:00.250+01:00"),
            Some(1_705_314_600)
        );
        assert_eq!(parse_rfc3339("2024-13-15T10:30:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn the_three_status_answers_have_the_seed_shapes() {
        let exporting = ExportStatus::Exporting {
            session_id: "s1".to_owned(),
            task_id: "t1".to_owned(),
            progress_percentage: 34.5,
            tickets_completed: 29,
            total_tickets: 87,
            current_ticket_title: Some("Configure Product Fields".to_owned()),
            estimated_time_remaining_minutes: Some(2),
        };
        assert_eq!(
            serde_json::to_value(&exporting).unwrap(),
            serde_json::json!({
                "status": "exporting", "session_id": "s1", "task_id": "t1",
                "progress_percentage": 34.5, "tickets_completed": 29, "total_tickets": 87,
                "current_ticket_title": "Configure Product Fields",
                "estimated_time_remaining_minutes": 2
            })
        );
        let completed = ExportStatus::Completed {
            session_id: "s1".to_owned(),
            task_id: "t1".to_owned(),
            jira_tickets_created: 87,
            dependencies_created: 12,
            manual_fixes_needed: 3,
            total_processing_time_minutes: 2.8,
            completed_at: 1_705_314_600,
        };
        let json = serde_json::to_value(&completed).unwrap();
        assert_eq!(json["status"], "completed");
        assert_eq!(json["completed_at"], "2024-01-15T10:30:00Z");
        let failed = ExportStatus::Failed {
            session_id: "s1".to_owned(),
            task_id: "t1".to_owned(),
            failed_at_ticket_order: Some(45),
            error_category: ErrorCategory::Temporary,
            user_message: "Network timeout connecting to Jira".to_owned(),
            recovery_actions: vec!["Wait a few minutes".to_owned()],
            retry_available: true,
            retry_attempts_used: 1,
        };
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["status"], "failed");
        assert_eq!(json["error_category"], "temporary");
        for status in [exporting, completed, failed] {
            let text = serde_json::to_string(&status).unwrap();
            assert_eq!(serde_json::from_str::<ExportStatus>(&text).unwrap(), status);
        }
    }

    #[test]
    fn an_empty_request_takes_the_defaults() {
        let request: ExportRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(request, ExportRequest::default());
        assert_eq!(request.batch_size, 50);
        let started = ExportStarted {
            task_id: "t".to_owned(),
            session_id: "s".to_owned(),
            status: "exporting".to_owned(),
            total_tickets: 128,
            estimated_duration_minutes: estimate_minutes(128, 252),
            jira_project_key: "DTG".to_owned(),
            started_at: 1_705_314_600,
        };
        let json = serde_json::to_value(Begun::Started(started)).unwrap();
        assert_eq!(json["started_at"], "2024-01-15T10:30:00Z");
        assert_eq!(json["estimated_duration_minutes"], 1);
        assert_eq!(estimate_minutes(1_050, 2_054), 2);
    }
}

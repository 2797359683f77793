//! Jira (seed `004_*`): the project check, the ADF test, export, its
//! status, retry and results, under `/api/v1/jira/...`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dtg_app::export::{
    AdfReport, Begun, ExportAlreadyRunning, ExportError, ExportRequest, ExportResults,
    ExportRetried, ExportStarted, ExportStatus, LinkMode, begin_export, check_adf, export_status,
    results, retry_failed,
};
use dtg_app::jira::{Jira, JiraAccess, JiraError};
use dtg_app::jobs::{Job, Jobs as _};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{Caller, site_url};
use crate::error::{ApiError, ApiResult, ErrorCategory};
use crate::extract::{JsonBody, OptionalJson, PathParams};
use crate::sessions::{new_id, owned, run};
use crate::{Api, Backend};

#[derive(OpenApi)]
#[openapi(paths(
    validate_project,
    test_adf_conversion,
    export_session,
    export_status_route,
    retry,
    export_results
))]
pub(crate) struct JiraDoc;

pub(crate) fn routes<B: Backend>() -> Router<Arc<Api<B>>> {
    Router::new()
        .route("/api/v1/jira/validate-project", post(validate_project::<B>))
        .route(
            "/api/v1/jira/test-adf-conversion/{session_id}",
            post(test_adf_conversion::<B>),
        )
        .route(
            "/api/v1/jira/export-session/{session_id}",
            post(export_session::<B>),
        )
        .route(
            "/api/v1/jira/export-status/{session_id}",
            get(export_status_route::<B>),
        )
        .route("/api/v1/jira/retry-failed/{session_id}", post(retry::<B>))
        .route(
            "/api/v1/jira/export-results/{session_id}",
            get(export_results::<B>),
        )
}

/// What the team needs of the project.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ProjectRequirements {
    /// Tickets must go into a sprint.
    pub requires_sprint_assignment: bool,
    /// Tickets must be assigned.
    pub requires_assignee: bool,
    /// Tickets must carry priorities.
    pub requires_priority_levels: bool,
}

/// A project to check.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectValidationRequest {
    /// Project key.
    pub project_key: String,
    /// What the team needs of it.
    #[serde(default)]
    pub user_requirements: ProjectRequirements,
    /// Jira site (default: the site signed in to).
    #[serde(default)]
    pub site: Option<String>,
}

/// A sprint to choose.
#[derive(Debug, Serialize, ToSchema)]
pub struct SprintOption {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `active`, `closed`, `future`.
    pub state: String,
}

/// A person to assign.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMemberOption {
    /// Account id.
    pub account_id: String,
    /// Name.
    pub display_name: String,
    /// Email, when Jira shows it.
    pub email: Option<String>,
}

/// A priority.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriorityOption {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A warning about the project.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationWarning {
    /// Stable code.
    pub code: String,
    /// What it means.
    pub message: String,
}

/// The project check of seed `004_*`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectValidationResponse {
    /// Project key.
    pub project_key: String,
    /// Project name.
    pub project_name: String,
    /// `valid` or `invalid`.
    pub validation_status: String,
    /// Tasks (or stories) can be created in it.
    pub can_create_tasks: bool,
    /// The user can see it.
    pub can_view_project: bool,
    /// Sprints of its boards.
    pub available_sprints: Vec<SprintOption>,
    /// People who can be assigned.
    pub team_members: Vec<TeamMemberOption>,
    /// Priorities.
    pub priority_levels: Vec<PriorityOption>,
    /// Warnings.
    pub validation_warnings: Vec<ValidationWarning>,
    /// What stops an export.
    pub blocking_issues: Vec<String>,
}

/// A Jira failure of a call made for the user.
pub(crate) fn jira_error(e: &JiraError) -> ApiError {
    match e {
        JiraError::Unauthorized(_) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCategory::UserFixable,
            "jira_sign_in_needed",
            "Jira refused your credentials; they may have expired.",
        )
        .action("Sign in to Jira again")
        .caused_by(e),
        JiraError::Forbidden(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCategory::AdminRequired,
            "jira_permission_denied",
            "Jira refused permission for this.",
        )
        .action("Ask a Jira administrator for the project's Browse and Create Issues permissions")
        .caused_by(e),
        JiraError::NotFound(_) => ApiError::not_found(
            "jira_project_not_found",
            "Jira has no such project, or you cannot see it.",
        )
        .action("Check the project key")
        .caused_by(e),
        JiraError::RateLimited { retry_after, .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCategory::Temporary,
            "jira_rate_limited",
            "Jira asked to slow down.",
        )
        .action("Try again in a minute")
        .caused_by(e)
        .retry_after(retry_after.as_secs().max(1)),
        _ => ApiError::unavailable(e).action("Check that the Jira site is reachable"),
    }
}

/// The site a call for `caller` goes to.
fn site_of(caller: &Caller, asked: Option<&str>, allow_http: bool) -> ApiResult<String> {
    match asked.filter(|s| !s.trim().is_empty()) {
        Some(s) => site_url(s, allow_http),
        None => caller.site.clone().ok_or_else(|| {
            ApiError::unprocessable(
                "jira_site_missing",
                "No Jira site is named, and you are not signed in to one.",
            )
            .action("Sign in to a Jira site, or name it")
        }),
    }
}

/// Checks a Jira project before a session uses it: permissions, issue
/// types, sprints, people and priorities.
#[utoipa::path(post, path = "/api/v1/jira/validate-project", tag = "jira",
    request_body = ProjectValidationRequest,
    responses((status = 200, description = "The project check", body = ProjectValidationResponse)))]
pub async fn validate_project<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    JsonBody(ask): JsonBody<ProjectValidationRequest>,
) -> ApiResult<Json<ProjectValidationResponse>> {
    let key = ask.project_key.trim().to_ascii_uppercase();
    if key.is_empty()
        || key.len() > 10
        || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ApiError::unprocessable(
            "invalid_project_key",
            format!("{:?} is not a Jira project key.", ask.project_key),
        ));
    }
    let site = site_of(&caller, ask.site.as_deref(), api.config.allow_http_sites)?;
    let jira = api
        .backend
        .jira()
        .client(&caller.user, &site)
        .await
        .map_err(|e| jira_error(&e))?;
    let project = match jira.project(&key).await {
        Ok(p) => p,
        Err(JiraError::NotFound(_) | JiraError::Forbidden(_)) => {
            return Ok(Json(ProjectValidationResponse {
                project_key: key.clone(),
                project_name: String::new(),
                validation_status: "invalid".to_owned(),
                can_create_tasks: false,
                can_view_project: false,
                available_sprints: Vec::new(),
                team_members: Vec::new(),
                priority_levels: Vec::new(),
                validation_warnings: Vec::new(),
                blocking_issues: vec![format!(
                    "Project {key} does not exist on {site}, or you cannot see it."
                )],
            }));
        }
        Err(e) => return Err(jira_error(&e)),
    };
    let mut warnings = Vec::new();
    let mut blocking = Vec::new();
    let has = |name: &str| {
        project
            .issue_types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(name))
    };
    let can_create_tasks = has("Task") || has("Story");
    if !can_create_tasks {
        blocking.push(format!(
            "Project {key} offers neither Task nor Story issues."
        ));
    }
    if !has("Epic") {
        warnings.push(ValidationWarning {
            code: "no_epic_type".to_owned(),
            message: "The project has no Epic issue type; epics become labels.".to_owned(),
        });
    }
    let sprints = jira.sprints(&key).await.unwrap_or_default();
    let users = jira.assignable_users(&key).await.unwrap_or_default();
    let priorities = jira.priorities().await.unwrap_or_default();
    let req = &ask.user_requirements;
    if req.requires_sprint_assignment && !sprints.iter().any(|s| s.state != "closed") {
        blocking.push("Sprints are required, and the project has no open sprint.".to_owned());
    }
    if req.requires_assignee && users.is_empty() {
        blocking
            .push("Assignees are required, and nobody can be assigned in the project.".to_owned());
    }
    if req.requires_priority_levels && priorities.is_empty() {
        warnings.push(ValidationWarning {
            code: "no_priorities".to_owned(),
            message: "The site offers no priorities; tickets keep Jira's default.".to_owned(),
        });
    }
    Ok(Json(ProjectValidationResponse {
        project_key: project.key,
        project_name: project.name,
        validation_status: if blocking.is_empty() {
            "valid"
        } else {
            "invalid"
        }
        .to_owned(),
        can_create_tasks,
        can_view_project: true,
        available_sprints: sprints
            .into_iter()
            .map(|s| SprintOption {
                id: s.id.to_string(),
                name: s.name,
                state: s.state,
            })
            .collect(),
        team_members: users
            .into_iter()
            .map(|u| TeamMemberOption {
                account_id: u.account_id,
                display_name: u.display_name,
                email: u.email,
            })
            .collect(),
        priority_levels: priorities
            .into_iter()
            .map(|p| PriorityOption {
                id: p.id,
                name: p.name,
            })
            .collect(),
        validation_warnings: warnings,
        blocking_issues: blocking,
    }))
}

/// Which tickets to test.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct AdfTestRequest {
    /// Ticket ids; empty for all.
    pub ticket_ids: Vec<String>,
    /// Whether attachments are checked too.
    pub include_attachments: Option<bool>,
}

/// Converts every description afresh and checks it as Jira will; the export
/// may start only after a passing check of the current tickets.
#[utoipa::path(post, path = "/api/v1/jira/test-adf-conversion/{session_id}", tag = "jira",
    params(("session_id" = String, Path, description = "Session id")),
    request_body = AdfTestRequest,
    responses((status = 200, description = "The ADF test", body = AdfReport)))]
pub async fn test_adf_conversion<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    OptionalJson(ask): OptionalJson<AdfTestRequest>,
) -> ApiResult<Json<AdfReport>> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    let mut report = check_adf(&api.repos(), &id, run(&caller, &run_id, api.backend.now()))
        .await
        .map_err(export_error)?;
    if !ask.ticket_ids.is_empty() {
        report
            .results
            .retain(|r| ask.ticket_ids.contains(&r.ticket_id));
        report.tickets_tested = report.results.len();
        report.passed = report
            .results
            .iter()
            .filter(|r| r.status == "passed")
            .count();
        report.failed = report.tickets_tested - report.passed;
        report.all_passed = report.failed == 0;
    }
    Ok(Json(report))
}

/// What the user asks of an export (every field optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExportAsk {
    /// Project key (default: the session's).
    pub project_key: Option<String>,
    /// Assign every ticket without its own assignee to this user.
    pub assignee: Option<String>,
    /// Put every ticket without its own sprint in this sprint.
    pub sprint: Option<String>,
    /// Issues per bulk create (1 to 50).
    pub batch_size: Option<usize>,
    /// `at_create` (default) or `separate`.
    pub link_mode: Option<LinkMode>,
}

/// An export started, or the one running.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExportAccepted {
    /// Started (or resumed).
    Started(ExportStarted),
    /// Already running.
    Running(ExportAlreadyRunning),
}

/// Starts exporting a reviewed session to Jira (202); while one runs, the
/// same call answers 202 with the running one.
#[utoipa::path(post, path = "/api/v1/jira/export-session/{session_id}", tag = "jira",
    params(("session_id" = String, Path, description = "Session id")),
    request_body = ExportAsk,
    responses((status = 202, description = "Exporting", body = ExportAccepted)))]
pub async fn export_session<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    OptionalJson(ask): OptionalJson<ExportAsk>,
) -> ApiResult<Response> {
    let session = owned(&api, &caller, &id).await?;
    if session.value.jira.is_none() && caller.site.is_none() {
        return Err(ApiError::unprocessable(
            "jira_site_missing",
            "This session names no Jira site.",
        )
        .action("Create the session with its Jira site and project"));
    }
    let batch_size = ask.batch_size.unwrap_or(dtg_app::export::BULK_LIMIT);
    if !(1..=dtg_app::export::BULK_LIMIT).contains(&batch_size) {
        return Err(ApiError::unprocessable(
            "invalid_batch_size",
            "batch_size is 1 to 50 (Jira's limit for one bulk create).",
        ));
    }
    let request = ExportRequest {
        project_key: ask.project_key,
        assignee: ask.assignee,
        sprint: ask.sprint,
        batch_size,
        link_mode: ask.link_mode.unwrap_or_default(),
        settle_secs: api.config.settle_secs,
    };
    let run_id = new_id();
    let begun = begin_export(
        &api.repos(),
        &id,
        request,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(export_error)?;
    let body = match begun {
        Begun::Started(started) => {
            api.backend
                .jobs()
                .start(Job::Export {
                    session: id.clone(),
                    actor: caller.user.clone(),
                    run: run_id,
                })
                .await
                .map_err(crate::map::job)?;
            ExportAccepted::Started(started)
        }
        Begun::AlreadyRunning(running) => ExportAccepted::Running(running),
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Where the export is (at most one poll per 2 seconds per session).
#[utoipa::path(get, path = "/api/v1/jira/export-status/{session_id}", tag = "jira",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Exporting, completed or failed", body = ExportStatus)))]
pub async fn export_status_route<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<ExportStatus>> {
    owned(&api, &caller, &id).await?;
    if let Err(wait) = api.poll_allowed(&id) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCategory::Temporary,
            "polling_too_fast",
            "The export status is polled at most once every 2 seconds.",
        )
        .action("Wait for Retry-After, or follow the WebSocket instead")
        .retry_after(wait));
    }
    export_status(&api.repos(), &id, api.backend.now())
        .await
        .map(Json)
        .map_err(export_error)
}

/// Resumes a failed export from where it stopped (3 retries at most).
#[utoipa::path(post, path = "/api/v1/jira/retry-failed/{session_id}", tag = "jira",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 202, description = "Retrying", body = ExportRetried)))]
pub async fn retry<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    let retried = retry_failed(
        &api.repos(),
        &id,
        None,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(export_error)?;
    api.backend
        .jobs()
        .start(Job::Export {
            session: id.clone(),
            actor: caller.user.clone(),
            run: run_id,
        })
        .await
        .map_err(crate::map::job)?;
    Ok((StatusCode::ACCEPTED, Json(retried)).into_response())
}

/// The export's results: issues made, links, manual fixes.
#[utoipa::path(get, path = "/api/v1/jira/export-results/{session_id}", tag = "jira",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Results", body = ExportResults)))]
pub async fn export_results<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<ExportResults>> {
    owned(&api, &caller, &id).await?;
    results(&api.repos(), &id, api.backend.now())
        .await
        .map(Json)
        .map_err(export_error)
}

/// An export failure as the seed's status codes.
pub(crate) fn export_error(e: ExportError) -> ApiError {
    match e {
        ExportError::NoSession(id) => ApiError::no_session(&id),
        ExportError::Running { ref task_id, .. } => {
            let task_id = task_id.clone();
            ApiError::conflict("export_running", e.to_string())
                .action("Wait for the export to finish or stop; its progress shows on the WebSocket")
                .with("task_id", task_id)
        }
        ExportError::MaxRetries { used, first_error_at } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCategory::AdminRequired,
            "max_retries_exceeded",
            "Maximum retry attempts (3) exceeded. Please contact administrator.",
        )
        .action("Contact system administrator")
        .action("Session may need manual cleanup")
        .with("retry_attempts_used", used)
        .with("first_error_at", first_error_at.map(dtg_app::export::rfc3339)),
        ExportError::AdfFailed { ref failed, .. } => {
            let failed = failed.clone();
            ApiError::unprocessable("adf_check_failed", e.to_string())
                .action("Fix the tickets listed in failed, then test the ADF conversion again")
                .with("failed", failed)
        }
        ExportError::AdfNotFresh(m) => ApiError::unprocessable("adf_check_required", m)
            .action("Run the ADF test (POST /api/v1/jira/test-adf-conversion/{session_id}) after the last edit"),
        ExportError::Stopped { admin_required, .. } => {
            let err = ApiError::unprocessable("export_stopped", e.to_string());
            if admin_required {
                err.action("A Jira administrator must look at the project")
            } else {
                err.action("Retry it: POST /api/v1/jira/retry-failed/{session_id}")
            }
        }
        ExportError::ProjectMismatch { .. } => ApiError::unprocessable("project_mismatch", e.to_string())
            .action("Leave out project_key to go on, or export from a new session"),
        ExportError::NoProject(_) => ApiError::unprocessable("jira_project_missing", e.to_string())
            .action("Name project_key, or create the session with its Jira project"),
        ExportError::AlreadyExported(_) => ApiError::unprocessable("already_exported", e.to_string())
            .action("See the results: GET /api/v1/jira/export-results/{session_id}"),
        ExportError::WrongStage { .. } | ExportError::NoPlan(_) | ExportError::NotStarted(_) => {
            ApiError::unprocessable("wrong_stage", e.to_string())
        }
        ExportError::Repo(r) => crate::map::repo(r),
    }
}

//! Sessions, their uploads, validation and processing.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dtg_app::jobs::Jobs as _;
use dtg_app::jobs::{Job, WordingChoice};
use dtg_app::repo::{JiraTarget, Session, SessionSummary, Task, TaskKind, TaskStatus, Versioned};
use dtg_app::store::Blobs as _;
use dtg_app::upload::{self, UploadRequest, UploadSlot};
use dtg_app::workflow::Run;
use dtg_core::csv::{ReportDocument, ReportSummary};
use dtg_core::finding::Severity;
use dtg_core::plan::Granularity;
use dtg_core::session::{Position, Stage, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, site_url};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use crate::{Api, Backend, WordingOption};

/// A new id, ordered by time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The `ETag` of a stored version.
pub(crate) fn etag(prefix: &str, version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{prefix}{version}\""))
        .unwrap_or(HeaderValue::from_static("\"0\""))
}

/// A session as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Stage (`setup`, `upload`, `processing`, `review`, `jira_export`, `completed`).
    pub stage: Stage,
    /// Status within the stage.
    pub status: Status,
    /// Counts of what it holds.
    pub summary: SessionSummary,
    /// The Jira site and project.
    pub jira: Option<JiraTarget>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// When it expires.
    pub expires_at: i64,
    /// Its version (also the `ETag`).
    pub version: u64,
    /// The latest task of each kind.
    pub tasks: Vec<Task>,
}

impl SessionView {
    pub(crate) fn of(session: &Versioned<Session>, tasks: Vec<Task>) -> Self {
        let s = &session.value;
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            stage: s.position.stage,
            status: s.position.status,
            summary: s.summary.clone(),
            jira: s.jira.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            expires_at: s.expires_at,
            version: session.version,
            tasks,
        }
    }
}

/// The caller's session `id`, or 404 (also for another user's session).
pub(crate) async fn owned<B: Backend>(
    api: &Api<B>,
    caller: &Caller,
    id: &str,
) -> ApiResult<Versioned<Session>> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::no_session(id));
    }
    match api
        .repos()
        .session(id, api.backend.now())
        .await
        .map_err(ApiError::internal)?
    {
        Some(s) if s.value.owner == caller.user => Ok(s),
        _ => Err(ApiError::no_session(id)),
    }
}

/// The latest task of each kind, in kind order.
pub(crate) async fn latest_tasks<B: Backend>(api: &Api<B>, session: &str) -> ApiResult<Vec<Task>> {
    let tasks = api
        .repos()
        .tasks(session, api.backend.now())
        .await
        .map_err(ApiError::internal)?;
    let mut latest: Vec<Task> = Vec::new();
    for t in tasks.into_iter().map(|t| t.value) {
        match latest.iter_mut().find(|l| l.kind == t.kind) {
            Some(l) if (l.created_at, &l.id) <= (t.created_at, &t.id) => *l = t,
            Some(_) => {}
            None => latest.push(t),
        }
    }
    latest.sort_by_key(|t| t.kind.as_str());
    Ok(latest)
}

pub(crate) fn run<'a>(caller: &'a Caller, id: &'a str, now: i64) -> Run<'a> {
    Run {
        actor: &caller.user,
        id,
        now,
    }
}

/// A new session.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSession {
    /// A name for it.
    #[serde(default)]
    pub name: String,
    /// Jira site its tickets go to (default: the site signed in to).
    #[serde(default)]
    pub jira_site: Option<String>,
    /// Jira project key.
    #[serde(default)]
    pub jira_project: Option<String>,
}

fn project_key(raw: &str) -> ApiResult<String> {
    let key = raw.trim().to_ascii_uppercase();
    let valid = (2..=10).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ApiError::unprocessable(
            "invalid_project_key",
            format!("{raw:?} is not a Jira project key."),
        )
        .action("Give the project's key, such as WEB (2 to 10 letters, digits or _)"));
    }
    Ok(key)
}

/// Starts a session.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = NewSession,
    responses((status = 201, description = "Created", body = SessionView)))]
pub async fn create<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    JsonBody(new): JsonBody<NewSession>,
) -> ApiResult<Response> {
    let name = new.name.trim();
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "invalid_session_name",
            "A session name is one line of at most 200 characters.",
        ));
    }
    let site = match new.jira_site.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(site_url(s, api.config.allow_http_sites)?),
        None => caller.site.clone(),
    };
    let jira = match (
        site,
        new.jira_project.as_deref().filter(|p| !p.trim().is_empty()),
    ) {
        (Some(site), Some(project)) => Some(JiraTarget {
            site,
            project_key: project_key(project)?,
        }),
        (None, Some(_)) => {
            return Err(ApiError::unprocessable(
                "jira_site_missing",
                "A Jira project needs its site.",
            )
            .action("Give jira_site, or sign in to a Jira site"));
        }
        _ => None,
    };
    let repos = api.repos();
    let now = api.backend.now();
    let id = new_id();
    let mut session = repos
        .create_session(&id, &caller.user, name, now)
        .await
        .map_err(ApiError::internal)?;
    if jira.is_some() {
        session = repos
            .set_jira_target(&session, jira, now)
            .await
            .map_err(ApiError::internal)?;
    }
    let mut response = (
        StatusCode::CREATED,
        Json(SessionView::of(&session, Vec::new())),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag("s", session.version));
    Ok(response)
}

/// The caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Oldest first.
    pub sessions: Vec<SessionView>,
}

/// Lists the caller's sessions.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", operation_id = "list_sessions",
    responses((status = 200, description = "The caller's sessions", body = SessionList)))]
pub async fn list<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<SessionList>> {
    let sessions = api
        .repos()
        .sessions_of(&caller.user, api.backend.now())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|s| SessionView::of(s, Vec::new()))
            .collect(),
    }))
}

/// Shows a session: stage, status, counts and its latest tasks.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "sessions", operation_id = "show_session",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The session", body = SessionView,
        headers(("ETag" = String, description = "The session's version")))))]
pub async fn show<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let session = owned(&api, &caller, &id).await?;
    let tasks = latest_tasks(&api, &id).await?;
    let mut response = Json(SessionView::of(&session, tasks)).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag("s", session.version));
    Ok(response)
}

/// Deletes a session with everything in it.
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}", tag = "sessions", operation_id = "delete_session",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Deleted")))]
pub async fn remove<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    let session = owned(&api, &caller, &id).await?;
    if session.value.position == Position::new(Stage::JiraExport, Status::Exporting) {
        return Err(ApiError::conflict(
            "export_running",
            "This session is being exported to Jira; it cannot be deleted now.",
        )
        .action("Wait for the export to finish or fail, then delete it"));
    }
    let keys = api
        .repos()
        .delete_session(&id, api.backend.now())
        .await
        .map_err(ApiError::internal)?;
    for key in keys {
        api.backend
            .blobs()
            .delete(&key)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Files about to be uploaded.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UploadAsk {
    /// Each file's name and size.
    pub files: Vec<UploadRequest>,
}

/// Where to upload each file.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadUrls {
    /// One per file, in the order asked.
    pub uploads: Vec<UploadSlot>,
    /// Most files in one upload.
    pub max_files: usize,
    /// Largest file, in bytes.
    pub max_file_bytes: usize,
}

/// Hands out presigned upload URLs for the session's CSV files.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/uploads", tag = "upload",
    params(("session_id" = String, Path, description = "Session id")),
    request_body = UploadAsk,
    responses((status = 200, description = "One URL per file", body = UploadUrls)))]
pub async fn request_uploads<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    JsonBody(ask): JsonBody<UploadAsk>,
) -> ApiResult<Json<UploadUrls>> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    let limits = api.config.limits;
    let uploads = upload::request_uploads(
        &api.repos(),
        api.backend.blobs(),
        &id,
        &ask.files,
        &limits,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(crate::map::upload)?;
    Ok(Json(UploadUrls {
        uploads,
        max_files: limits.max_files,
        max_file_bytes: limits.max_file_bytes,
    }))
}

/// Work accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Session id.
    pub session_id: String,
    /// What runs (`validation`, `processing`).
    pub task: String,
    /// `queued`.
    pub status: String,
    /// Where to poll.
    pub status_url: String,
}

/// Confirms the uploads; the files replace the session's and validation starts.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/uploads/confirm", tag = "upload",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 202, description = "Validation started", body = Accepted)))]
pub async fn confirm_uploads<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    upload::confirm_uploads(
        &api.repos(),
        api.backend.blobs(),
        &id,
        &api.config.limits,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(crate::map::upload)?;
    api.backend
        .jobs()
        .start(Job::Validate {
            session: id.clone(),
            actor: caller.user.clone(),
        })
        .await
        .map_err(crate::map::job)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status_url: format!("/api/v1/sessions/{id}/validation"),
            session_id: id,
            task: "validation".to_owned(),
            status: "queued".to_owned(),
        }),
    )
        .into_response())
}

/// The validation of a session's files.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationView {
    /// Session id.
    pub session_id: String,
    /// `not_started`, `running`, `complete`, `failed`.
    pub status: String,
    /// The report (as `dtg validate --format json` prints it), once complete.
    pub report: Option<ReportDocument>,
    /// Why it failed.
    pub error: Option<String>,
}

/// The validation report of the session's files.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/validation", tag = "upload",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Validation status and report", body = ValidationView)))]
pub async fn validation<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<ValidationView>> {
    let session = owned(&api, &caller, &id).await?;
    let now = api.backend.now();
    let task = latest_tasks(&api, &id)
        .await?
        .into_iter()
        .find(|t| t.kind == TaskKind::Validation);
    let files = api
        .repos()
        .files(&id, now)
        .await
        .map_err(ApiError::internal)?;
    let validated = !files.is_empty() && files.iter().all(|f| f.value.report.is_some());
    let (status, error) = match (&task, session.value.position.status) {
        (_, Status::Validating) => ("running", None),
        (Some(t), _) if t.status == TaskStatus::Failed => {
            ("failed", t.error.as_ref().map(|e| e.message.clone()))
        }
        (Some(t), _) if !t.status.is_final() => ("running", None),
        _ if validated => ("complete", None),
        (None, _) if files.is_empty() => ("not_started", None),
        _ => ("running", None),
    };
    let report = (status == "complete").then(|| {
        let findings: Vec<_> = files
            .iter()
            .flat_map(|f| f.value.findings.clone())
            .collect();
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        ReportDocument {
            files: files
                .iter()
                .filter_map(|f| f.value.report.clone())
                .collect(),
            summary: ReportSummary {
                files: files.len(),
                items: session.value.summary.items,
                errors: count(Severity::Error),
                warnings: count(Severity::Warning),
                info: count(Severity::Info),
            },
            findings,
        }
    });
    Ok(Json(ValidationView {
        session_id: id,
        status: status.to_owned(),
        report,
        error,
    }))
}

/// What to process.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProcessingAsk {
    /// Ticket granularity (default `per_item`... as the planner's default).
    #[serde(default)]
    pub granularity: Option<Granularity>,
    /// The model that words the tickets; absent keeps the planner's text.
    #[serde(default)]
    pub wording: Option<WordingChoice>,
}

/// Starts planning (and wording, when a model is chosen).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/processing", tag = "processing",
    params(("session_id" = String, Path, description = "Session id")),
    request_body = ProcessingAsk,
    responses((status = 202, description = "Processing started", body = Accepted)))]
pub async fn start_processing<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    JsonBody(ask): JsonBody<ProcessingAsk>,
) -> ApiResult<Response> {
    let session = owned(&api, &caller, &id).await?;
    let position = session.value.position;
    let ready = matches!(
        (position.stage, position.status),
        (Stage::Upload | Stage::Review, Status::Active) | (Stage::Processing, Status::Failed)
    );
    if position.status == Status::Processing || position.status == Status::Validating {
        return Err(ApiError::conflict(
            "stage_busy",
            format!("This session is {position} already."),
        )
        .action("Wait for it to finish; its progress shows on the session"));
    }
    if !ready {
        return Err(ApiError::unprocessable(
            "wrong_stage",
            format!("This session is at {position}, where it cannot be processed."),
        )
        .action("Upload and validate the files first"));
    }
    if session.value.summary.files == 0 {
        return Err(
            ApiError::unprocessable("no_files", "This session has no files yet.")
                .action("Upload the site's CSV files first"),
        );
    }
    if session.value.summary.errors > 0 {
        return Err(ApiError::unprocessable(
            "files_have_errors",
            format!(
                "The files have {} errors; nothing can be planned from them.",
                session.value.summary.errors
            ),
        )
        .action("Fix the errors the validation report lists and upload the files again"));
    }
    if let Some(choice) = &ask.wording
        && !api
            .config
            .wording
            .iter()
            .any(|w| w.provider == choice.provider && w.models.contains(&choice.model))
    {
        return Err(ApiError::unprocessable(
            "model_not_offered",
            format!(
                "This server does not offer {} {} for wording tickets.",
                choice.provider, choice.model
            ),
        )
        .action("Pick one of the models GET /api/v1/llm/models lists, or none"));
    }
    api.backend
        .jobs()
        .start(Job::Process {
            session: id.clone(),
            actor: caller.user.clone(),
            granularity: ask.granularity.unwrap_or_default(),
            wording: ask.wording,
        })
        .await
        .map_err(crate::map::job)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status_url: format!("/api/v1/sessions/{id}/processing"),
            session_id: id,
            task: "processing".to_owned(),
            status: "queued".to_owned(),
        }),
    )
        .into_response())
}

/// How processing goes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessingView {
    /// Session id.
    pub session_id: String,
    /// `not_started`, `running`, `complete`, `failed`.
    pub status: String,
    /// The planning or wording task, latest first.
    pub tasks: Vec<Task>,
    /// What the model cost so far, in US dollars (when priced).
    pub cost_usd: Option<f64>,
    /// Tickets planned.
    pub tickets: usize,
}

fn cost_of(task: &Task) -> Option<f64> {
    let result = task.result.as_ref()?;
    result
        .get("cost_usd")
        .and_then(serde_json::Value::as_f64)
        .or_else(|| {
            result
                .get("cost")
                .and_then(|c| c.get("total_usd").or_else(|| c.get("usd")))
                .and_then(serde_json::Value::as_f64)
        })
}

/// Processing status and cost so far.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/processing", tag = "processing",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "Processing status", body = ProcessingView)))]
pub async fn processing<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<ProcessingView>> {
    let session = owned(&api, &caller, &id).await?;
    let mut tasks: Vec<Task> = api
        .repos()
        .tasks(&id, api.backend.now())
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|t| t.value)
        .filter(|t| matches!(t.kind, TaskKind::Processing | TaskKind::Generation))
        .collect();
    tasks.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let position = session.value.position;
    let status = match (position.stage, position.status) {
        (Stage::Processing, Status::Processing) => "running",
        (Stage::Processing, Status::Failed) => "failed",
        (Stage::Review | Stage::JiraExport | Stage::Completed, _) => "complete",
        _ if tasks.iter().any(|t| !t.status.is_final()) => "running",
        _ => "not_started",
    };
    let cost_usd = tasks.iter().find_map(cost_of);
    Ok(Json(ProcessingView {
        session_id: id,
        status: status.to_owned(),
        cost_usd,
        tickets: session.value.summary.tickets,
        tasks,
    }))
}

/// The models offered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// By provider; empty when only the planner's own text is offered.
    pub providers: Vec<WordingOption>,
}

/// The language models this server offers for wording tickets (keys stay on the server).
#[utoipa::path(get, path = "/api/v1/llm/models", tag = "processing",
    responses((status = 200, description = "Models offered", body = ModelList)))]
pub async fn models<B: Backend>(State(api): State<Arc<Api<B>>>) -> Json<ModelList> {
    Json(ModelList {
        providers: api.config.wording.clone(),
    })
}

//! The OpenAPI 3.1 document, generated from the handlers and types, with
//! the error answers every operation can give added to each, and served at
//! `/api/v1/openapi.json`.

use axum::Json;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorCategory};
use crate::{auth, sessions, ws};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Drupal Ticket Generator API",
        description = "Turns a Drupal site's configuration spreadsheets into a reviewed, dependency-ordered Jira backlog. Sign in (cookie), then: sessions, upload, validation, processing, review, Jira export. State-changing requests carry X-CSRF-Token. Progress: POST /api/v1/ws/ticket, then a WebSocket to /api/v1/ws?ticket=... sending {\"action\":\"subscribe\",\"session_id\":...}.",
        version = "1.0.0"
    ),
    paths(
        auth::me, auth::options, auth::token_sign_in, auth::logout,
        auth::atlassian_start, auth::atlassian_callback,
        sessions::create, sessions::list, sessions::show, sessions::remove,
        sessions::request_uploads, sessions::confirm_uploads, sessions::validation,
        sessions::start_processing, sessions::processing, sessions::models,
        ws::ticket, serve, health,
    ),
    components(schemas(ErrorBody, ErrorCategory)),
    tags(
        (name = "auth", description = "Signing in"),
        (name = "sessions", description = "Sessions"),
        (name = "upload", description = "CSV files and their validation"),
        (name = "processing", description = "Planning and wording tickets"),
        (name = "review", description = "Reviewing and editing tickets"),
        (name = "jira", description = "Jira project checks and export"),
        (name = "progress", description = "Progress messages"),
    )
)]
struct ApiDoc;

/// Statuses every operation may answer with the error shape, besides its own.
const ERRORS: &[(&str, &str)] = &[
    ("400", "The request cannot be read"),
    ("401", "Not signed in"),
    (
        "403",
        "Refused: cross-site request, missing CSRF token, or no permission",
    ),
    ("404", "No such session or item (also another user's)"),
    (
        "409",
        "A timing conflict: something runs or changed meanwhile",
    ),
    ("412", "Stale If-Match: the current version is in the body"),
    ("413", "Over an upload limit"),
    ("415", "The body is not JSON"),
    ("422", "A business rule refuses it"),
    ("428", "If-Match is required"),
    ("429", "Too many requests; see Retry-After"),
    (
        "500",
        "The server failed; the correlation id names it in the log",
    ),
    ("503", "A service behind the API is not available now"),
];

/// The document, with the error answers added to every operation.
#[must_use]
pub fn document() -> Value {
    let mut api = ApiDoc::openapi();
    api.merge(crate::review::ReviewDoc::openapi());
    api.merge(crate::jira::JiraDoc::openapi());
    let mut doc = serde_json::to_value(api).unwrap_or(Value::Null);
    let error = json!({
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    });
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                    continue;
                };
                let public = path.starts_with("/api/v1/auth/")
                    || path.ends_with("/openapi.json")
                    || path.ends_with("/health");
                for (status, description) in ERRORS {
                    if public && path.ends_with("/openapi.json") || path.ends_with("/health") {
                        continue;
                    }
                    let _ = method;
                    responses.entry((*status).to_owned()).or_insert_with(|| {
                        let mut e = error.clone();
                        e["description"] = json!(description);
                        e
                    });
                }
            }
        }
    }
    doc
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "sessions",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn serve() -> Json<Value> {
    Json(document())
}

/// Liveness.
#[utoipa::path(get, path = "/api/v1/health", tag = "sessions",
    responses((status = 200, description = "Alive", content_type = "application/json", body = Object)))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

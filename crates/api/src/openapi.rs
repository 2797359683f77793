//! The OpenAPI 3.1 document, generated from the handlers and types, with
//! the error answers every operation can give added to each, links from a
//! created session to the operations on it, and served at
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

/// The document, with the error answers added to every operation and the
/// links of a created session.
#[must_use]
pub fn document() -> Value {
    // Merged rather than nested: nesting under "/" would write the paths as
    // "//api/v1/...".
    let api = ApiDoc::openapi()
        .merge_from(crate::review::ReviewDoc::openapi())
        .merge_from(crate::jira::JiraDoc::openapi());
    let mut doc = serde_json::to_value(api).unwrap_or(Value::Null);
    let error = json!({
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    });
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            if path.ends_with("/openapi.json") || path.ends_with("/health") {
                continue;
            }
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                    continue;
                };
                for (status, description) in ERRORS {
                    responses.entry((*status).to_owned()).or_insert_with(|| {
                        let mut e = error.clone();
                        e["description"] = json!(description);
                        e
                    });
                }
            }
        }
    }
    link_sessions(&mut doc);
    doc
}

/// Links from `POST /api/v1/sessions` (201, the new session's `id`) to
/// every operation that takes a `session_id`.
fn link_sessions(doc: &mut Value) {
    let mut links = serde_json::Map::new();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if !path.contains("{session_id}") {
            continue;
        }
        for op in item.as_object().into_iter().flat_map(|i| i.values()) {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                links.insert(
                    id.to_owned(),
                    json!({
                        "operationId": id,
                        "parameters": {"session_id": "$response.body#/id"},
                        "description": format!("The new session's id as session_id of {path}"),
                    }),
                );
            }
        }
    }
    if let Some(created) = doc.pointer_mut("/paths/~1api~1v1~1sessions/post/responses/201") {
        created["links"] = Value::Object(links);
    }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn paths_ids_and_links_are_sound() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut ids = BTreeSet::new();
        for (path, item) in paths {
            assert!(path.starts_with("/api/v1/"), "{path}");
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id), "operationId {id} twice");
            }
        }
        let links = doc["paths"]["/api/v1/sessions"]["post"]["responses"]["201"]["links"]
            .as_object()
            .unwrap();
        for id in [
            "show_session",
            "delete_session",
            "list_tickets",
            "export_session",
        ] {
            assert_eq!(links[id]["operationId"], id);
            assert_eq!(links[id]["parameters"]["session_id"], "$response.body#/id");
        }
        assert!(!links.contains_key("list_sessions"));
    }
}

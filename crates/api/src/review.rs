//! Review: tickets in build order (paged, filtered), one ticket read and
//! edited with `ETag`/`If-Match` (a stale write gets 412 and the current
//! version), deletes, merges, dependencies (a cycle is refused with the cycle
//! named), attachments through presigned uploads, and the plan as Markdown
//! and Jira CSV.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use dtg_app::review::{
    self, AttachmentRecord, PlanChange, ReviewError, TicketDetail, TicketPage, TicketQuery,
};
use dtg_core::plan::{Area, EditError, EditLimits, IssueType, TicketEdit};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCategory};
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::sessions::{etag, new_id, owned, run};
use crate::{Api, Backend};

#[derive(OpenApi)]
#[openapi(paths(
    list,
    show,
    edit,
    remove,
    merge,
    add_dependency,
    remove_dependency,
    request_attachment,
    confirm_attachment,
    list_attachments,
    delete_attachment,
    markdown,
    jira_csv
))]
pub(crate) struct ReviewDoc;

pub(crate) fn routes<B: Backend>() -> Router<Arc<Api<B>>> {
    let s = "/api/v1/sessions/{session_id}";
    Router::new()
        .route(&format!("{s}/tickets"), get(list::<B>))
        .route(&format!("{s}/tickets/merge"), post(merge::<B>))
        .route(
            &format!("{s}/tickets/{{ticket_id}}"),
            get(show::<B>).patch(edit::<B>).delete(remove::<B>),
        )
        .route(&format!("{s}/dependencies"), post(add_dependency::<B>))
        .route(
            &format!("{s}/dependencies/{{from}}/{{to}}"),
            delete(remove_dependency::<B>),
        )
        .route(
            &format!("{s}/tickets/{{ticket_id}}/attachments"),
            post(request_attachment::<B>).get(list_attachments::<B>),
        )
        .route(
            &format!("{s}/tickets/{{ticket_id}}/attachments/{{attachment_id}}"),
            delete(delete_attachment::<B>),
        )
        .route(
            &format!("{s}/tickets/{{ticket_id}}/attachments/{{attachment_id}}/confirm"),
            post(confirm_attachment::<B>),
        )
        .route(&format!("{s}/plan.md"), get(markdown::<B>))
        .route(&format!("{s}/plan.csv"), get(jira_csv::<B>))
}

/// A review failure as an API error.
pub(crate) fn review_error(e: ReviewError) -> ApiError {
    let code = e.code();
    match e {
        ReviewError::NoSession(id) => ApiError::no_session(&id),
        ReviewError::NoTicket { .. } => {
            ApiError::not_found("ticket_not_found", e.to_string()).action("Reload the ticket list")
        }
        ReviewError::NoAttachment { .. } => {
            ApiError::not_found("attachment_not_found", e.to_string())
        }
        ReviewError::Stale { current } => {
            let tag = etag("t", current.version);
            let err = ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                ErrorCategory::UserFixable,
                "stale_version",
                format!(
                    "Ticket {} was changed by someone else; it is at version {} now.",
                    current.value.id, current.version
                ),
            )
            .action("Apply your change to the current version (in current) and save again")
            .with("current", json_of(&current.value))
            .with("current_version", current.version);
            err.with("etag", tag.to_str().unwrap_or_default())
        }
        ReviewError::Edit(EditError::Cycle(cycle)) => ApiError::unprocessable(
            "dependency_cycle",
            format!(
                "{}; this change would close the circle, so it was not made.",
                cycle
            ),
        )
        .action("Remove one of the dependencies that close the circle, or add the other way round")
        .with("cycle", cycle.0),
        ReviewError::Edit(edit) => ApiError::unprocessable(edit.code(), edit.to_string())
            .action("Correct the field the message names"),
        ReviewError::PlanChanged => ApiError::conflict(code, e.to_string())
            .action("Reload the plan and make your change again"),
        ReviewError::AttachmentTooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCategory::UserFixable,
            code,
            e.to_string(),
        ),
        ReviewError::WrongStage { .. }
        | ReviewError::NoPlan(_)
        | ReviewError::TooManyAttachments { .. }
        | ReviewError::BadFileName { .. }
        | ReviewError::BadContentType { .. }
        | ReviewError::NotUploaded { .. } => ApiError::unprocessable(code, e.to_string()),
        ReviewError::Render { .. } => ApiError::internal(e),
        ReviewError::Repo(r) => crate::map::repo(r),
        ReviewError::Blobs(b) => ApiError::unavailable(b),
    }
}

fn json_of(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Tickets in build order, paged and filtered.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/tickets", tag = "review", operation_id = "list_tickets",
    params(("session_id" = String, Path, description = "Session id"),
        ("epic" = Option<String>, Query, description = "Epic id"),
        ("area" = Option<Area>, Query, description = "Area"),
        ("type" = Option<IssueType>, Query, description = "Story or Task"),
        ("text" = Option<String>, Query, description = "Text in title, items, config names or description"),
        ("page" = Option<usize>, Query, minimum = 1, description = "Page, from 1"),
        ("per_page" = Option<usize>, Query, minimum = 1, maximum = 200, description = "Tickets a page (1 to 200)")),
    responses((status = 200, description = "A page of tickets", body = TicketPage)))]
pub async fn list<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<TicketQuery>,
) -> ApiResult<Json<TicketPage>> {
    owned(&api, &caller, &id).await?;
    if query.page == 0 || query.per_page == 0 || query.per_page > review::MAX_PER_PAGE {
        return Err(ApiError::unprocessable(
            "invalid_page",
            "page starts at 1, and per_page is 1 to 200.",
        ));
    }
    review::list_tickets(&api.repos(), &id, &query, api.backend.now())
        .await
        .map(Json)
        .map_err(review_error)
}

fn with_etag(detail: &TicketDetail, status: StatusCode) -> Response {
    let mut response = (status, Json(detail)).into_response();
    response
        .headers_mut()
        .insert(header::ETAG, etag("t", detail.version));
    response
}

/// One ticket, with its dependencies and attachments; `ETag` is its version.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}", tag = "review", operation_id = "show_ticket",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "The ticket", body = TicketDetail,
        headers(("ETag" = String, description = "The ticket's version")))))]
pub async fn show<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let detail = review::ticket_detail(&api.repos(), &id, &ticket, api.backend.now())
        .await
        .map_err(review_error)?;
    Ok(with_etag(&detail, StatusCode::OK))
}

/// The version an `If-Match` header names (`"t12"`, `W/"t12"` or `12`).
fn if_match(headers: &HeaderMap) -> ApiResult<u64> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            ErrorCategory::UserFixable,
            "if_match_required",
            "An edit must say which version it changes (If-Match).",
        )
        .action("Send the ETag of the ticket you read as If-Match"));
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    let text = text.strip_prefix('t').unwrap_or(text);
    text.parse().map_err(|_| {
        ApiError::bad_request("If-Match is not an ETag this API gave out.")
            .action("Send the ETag of the ticket you read")
    })
}

/// Edits a ticket: `If-Match` must name the version read; a stale one gets
/// 412 with the current version, and nothing is lost.
#[utoipa::path(patch, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}", tag = "review",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id"),
        ("If-Match" = String, Header, pattern = r#"^(W/)?"?t?[0-9]{1,19}"?$"#,
            description = "The ETag of the version edited")),
    request_body = TicketEdit,
    responses((status = 200, description = "Saved", body = TicketDetail,
        headers(("ETag" = String, description = "The new version")))))]
pub async fn edit<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket)): PathParams<(String, String)>,
    headers: HeaderMap,
    JsonBody(change): JsonBody<TicketEdit>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let expected = if_match(&headers)?;
    let run_id = new_id();
    let repos = api.repos();
    let saved = review::edit_ticket(
        &repos,
        &id,
        &ticket,
        expected,
        &change,
        &EditLimits::default(),
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(review_error)?;
    let mut detail = review::ticket_detail(&repos, &id, &ticket, api.backend.now())
        .await
        .map_err(review_error)?;
    // The answer is this edit's version, even when another edit landed
    // between the write and the read of the neighbours.
    detail.ticket = saved.value;
    detail.version = saved.version;
    Ok(with_etag(&detail, StatusCode::OK))
}

/// Deletes a ticket; what needed it now needs what it needed.
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}", tag = "review", operation_id = "delete_ticket",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "Deleted; what changed", body = PlanChange)))]
pub async fn remove<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket)): PathParams<(String, String)>,
) -> ApiResult<Json<PlanChange>> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    review::delete_ticket(
        &api.repos(),
        api.backend.blobs(),
        &id,
        &ticket,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map(Json)
    .map_err(review_error)
}

/// Two tickets to merge.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MergeAsk {
    /// The ticket that stays.
    pub keep: String,
    /// The ticket merged into it (and deleted).
    pub absorb: String,
}

/// Merges two tickets: items, dependencies and descriptions combined.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/tickets/merge", tag = "review",
    params(("session_id" = String, Path, description = "Session id")),
    request_body = MergeAsk,
    responses((status = 200, description = "Merged; what changed", body = PlanChange)))]
pub async fn merge<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    JsonBody(ask): JsonBody<MergeAsk>,
) -> ApiResult<Json<PlanChange>> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    review::merge_tickets(
        &api.repos(),
        &id,
        &ask.keep,
        &ask.absorb,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map(Json)
    .map_err(review_error)
}

/// A dependency: `from` needs `to`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DependencyAsk {
    /// The ticket that needs the other.
    pub from: String,
    /// The ticket needed first.
    pub to: String,
}

/// Adds a dependency; one that would close a circle is refused, naming it.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/dependencies", tag = "review",
    params(("session_id" = String, Path, description = "Session id")),
    request_body = DependencyAsk,
    responses((status = 201, description = "Added; what changed", body = PlanChange)))]
pub async fn add_dependency<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
    JsonBody(ask): JsonBody<DependencyAsk>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    let change = review::add_dependency(
        &api.repos(),
        &id,
        &ask.from,
        &ask.to,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(review_error)?;
    Ok((StatusCode::CREATED, Json(change)).into_response())
}

/// Removes a dependency.
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/dependencies/{from}/{to}", tag = "review",
    params(("session_id" = String, Path, description = "Session id"),
        ("from" = String, Path, description = "The ticket that needs the other"),
        ("to" = String, Path, description = "The ticket needed")),
    responses((status = 200, description = "Removed; what changed", body = PlanChange)))]
pub async fn remove_dependency<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, from, to)): PathParams<(String, String, String)>,
) -> ApiResult<Json<PlanChange>> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    review::remove_dependency(
        &api.repos(),
        &id,
        &from,
        &to,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map(Json)
    .map_err(review_error)
}

/// A file to attach.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttachmentAsk {
    /// File name.
    pub file_name: String,
    /// Content type (`application/pdf`).
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where to upload an attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentUpload {
    /// The attachment, pending until confirmed.
    pub attachment: AttachmentRecord,
    /// The presigned URL to PUT the bytes to.
    pub upload_url: String,
}

/// Asks for an upload URL for a file to attach to a ticket.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}/attachments", tag = "review",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id")),
    request_body = AttachmentAsk,
    responses((status = 201, description = "Upload URL", body = AttachmentUpload)))]
pub async fn request_attachment<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket)): PathParams<(String, String)>,
    JsonBody(ask): JsonBody<AttachmentAsk>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    let (attachment, upload_url) = review::request_attachment_upload(
        &api.repos(),
        api.backend.blobs(),
        &id,
        &ticket,
        &ask.file_name,
        &ask.content_type,
        ask.size,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(review_error)?;
    Ok((
        StatusCode::CREATED,
        Json(AttachmentUpload {
            attachment,
            upload_url,
        }),
    )
        .into_response())
}

/// Confirms an attachment was uploaded.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}/attachments/{attachment_id}/confirm", tag = "review",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id"),
        ("attachment_id" = String, Path, description = "Attachment id")),
    responses((status = 200, description = "Confirmed", body = AttachmentRecord)))]
pub async fn confirm_attachment<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket, attachment)): PathParams<(String, String, String)>,
) -> ApiResult<Json<AttachmentRecord>> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    review::confirm_attachment(
        &api.repos(),
        api.backend.blobs(),
        &id,
        &ticket,
        &attachment,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map(Json)
    .map_err(review_error)
}

/// A ticket's attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentList {
    /// Oldest first.
    pub attachments: Vec<AttachmentRecord>,
}

/// Lists a ticket's attachments.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}/attachments", tag = "review",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "Attachments", body = AttachmentList)))]
pub async fn list_attachments<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket)): PathParams<(String, String)>,
) -> ApiResult<Json<AttachmentList>> {
    owned(&api, &caller, &id).await?;
    review::ticket_detail(&api.repos(), &id, &ticket, api.backend.now())
        .await
        .map_err(review_error)?;
    let attachments = review::attachments(&api.repos(), &id, &ticket, api.backend.now())
        .await
        .map_err(review_error)?;
    Ok(Json(AttachmentList { attachments }))
}

/// Deletes an attachment.
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/tickets/{ticket_id}/attachments/{attachment_id}", tag = "review",
    params(("session_id" = String, Path, description = "Session id"),
        ("ticket_id" = String, Path, description = "Ticket id"),
        ("attachment_id" = String, Path, description = "Attachment id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_attachment<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams((id, ticket, attachment)): PathParams<(String, String, String)>,
) -> ApiResult<StatusCode> {
    owned(&api, &caller, &id).await?;
    let run_id = new_id();
    review::delete_attachment(
        &api.repos(),
        api.backend.blobs(),
        &id,
        &ticket,
        &attachment,
        run(&caller, &run_id, api.backend.now()),
    )
    .await
    .map_err(review_error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn download(body: String, content_type: &'static str, file_name: &str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The plan as Markdown.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/plan.md", tag = "review",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The plan", content_type = "text/markdown", body = String)))]
pub async fn markdown<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let text = review::plan_markdown(&api.repos(), &id, api.backend.now())
        .await
        .map_err(review_error)?;
    Ok(download(
        text,
        "text/markdown; charset=utf-8",
        &review::plan_file_name(&id),
    ))
}

/// The plan in Jira's CSV import format.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/plan.csv", tag = "review",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, description = "The plan as Jira CSV", content_type = "text/csv", body = String)))]
pub async fn jira_csv<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    owned(&api, &caller, &id).await?;
    let csv = review::plan_jira_csv(&api.repos(), &id, api.backend.now())
        .await
        .map_err(review_error)?;
    Ok(download(
        csv.text,
        "text/csv; charset=utf-8",
        &format!("{id}-plan.csv"),
    ))
}

//! The app layer's errors as API errors: status codes and categories of
//! seed `004_*` (409 for timing conflicts, 422 for business rules, 403 for
//! permissions, 503 for passing trouble), the cause kept for the log.

use axum::http::StatusCode;
use dtg_app::jobs::JobError;
use dtg_app::repo::RepoError;
use dtg_app::upload::UploadError;

use crate::error::{ApiError, ErrorCategory};

/// A repository failure.
pub(crate) fn repo(e: RepoError) -> ApiError {
    match e {
        RepoError::Conflict(_) => ApiError::conflict(
            "changed_meanwhile",
            "Someone else changed this at the same time.",
        )
        .action("Reload and try again")
        .caused_by(e),
        RepoError::NotFound(_) => {
            ApiError::not_found("not_found", "This no longer exists.").caused_by(e)
        }
        RepoError::Transition(t) => ApiError::unprocessable("wrong_stage", t.to_string()),
        other => ApiError::internal(other),
    }
}

/// An upload failure.
pub(crate) fn upload(e: UploadError) -> ApiError {
    match e {
        UploadError::NoSession(id) => ApiError::no_session(&id),
        UploadError::WrongStage { .. } => ApiError::unprocessable("wrong_stage", e.to_string())
            .action("Start a new session to upload other files"),
        UploadError::Limit(m) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCategory::UserFixable,
            "upload_too_large",
            m,
        )
        .action("Upload fewer or smaller files"),
        UploadError::BadName(m) => ApiError::unprocessable("invalid_file_name", m),
        UploadError::NothingPending => ApiError::unprocessable("nothing_to_confirm", e.to_string())
            .action("Ask POST /uploads for URLs, send the files, then confirm"),
        UploadError::Missing(_) => ApiError::unprocessable("files_not_uploaded", e.to_string())
            .action("Send each file to its URL, then confirm again"),
        UploadError::Repo(r) => repo(r),
        UploadError::Blobs(b) => ApiError::unavailable(b),
    }
}

/// Work that could not be started.
pub(crate) fn job(e: JobError) -> ApiError {
    match e {
        JobError::Unavailable(_) => ApiError::unavailable(e),
        JobError::Refused(m) => ApiError::unprocessable("job_refused", m),
    }
}

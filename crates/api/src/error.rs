//! One error shape for every failure of the API, from the design:
//! `{error_category, code, user_message, recovery_actions, correlation_id}`
//! (plus what a particular answer adds, such as the current version of a
//! ticket after a stale write). The cause is logged with the correlation id
//! and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The seed's error categories: who can act on the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    /// The user can fix it (sign in, correct the input, reload).
    UserFixable,
    /// An administrator must act (Jira permissions, server configuration).
    AdminRequired,
    /// Passing: retrying later is likely to work.
    Temporary,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Who can act on it.
    pub error_category: ErrorCategory,
    /// A stable, machine-readable code (`session_not_found`, `stale_version`).
    pub code: String,
    /// What happened, for a person.
    pub user_message: String,
    /// What to do about it.
    pub recovery_actions: Vec<String>,
    /// The id under which the server logged the cause.
    pub correlation_id: String,
    /// More, for some errors (the current ticket after a stale write, the
    /// cycle a dependency would close, retries used).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

/// An error answer, before it is given its correlation id.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Category.
    pub category: ErrorCategory,
    /// Stable code.
    pub code: &'static str,
    /// Message for a person.
    pub message: String,
    /// The rest, boxed to keep results small.
    pub more: Box<More>,
}

/// What an error carries besides its status, code and message.
#[derive(Debug, Default)]
pub struct More {
    /// Recovery actions.
    pub actions: Vec<String>,
    /// Extra fields.
    pub extra: Map<String, Value>,
    /// Seconds to wait (`Retry-After`).
    pub retry_after: Option<u64>,
    /// The cause, for the log.
    pub cause: Option<String>,
}

impl ApiError {
    /// An error with a status, category, code and message.
    #[must_use]
    pub fn new(
        status: StatusCode,
        category: ErrorCategory,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            category,
            code,
            message: message.into(),
            more: Box::default(),
        }
    }

    /// Adds a recovery action.
    #[must_use]
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.more.actions.push(action.into());
        self
    }

    /// Adds a field to the body.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.more.extra.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Keeps the cause for the log.
    #[must_use]
    pub fn caused_by(mut self, cause: impl std::fmt::Display) -> Self {
        self.more.cause = Some(cause.to_string());
        self
    }

    /// Asks the client to wait `secs` seconds (`Retry-After`).
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.more.retry_after = Some(secs);
        self
    }

    /// 400: the request cannot be read.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCategory::UserFixable,
            "bad_request",
            message,
        )
        .action("Correct the request; the API document at /api/v1/openapi.json describes it")
    }

    /// 401: no sign-in.
    #[must_use]
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCategory::UserFixable,
            "not_signed_in",
            "You are not signed in, or your sign-in has ended.",
        )
        .action("Sign in again")
    }

    /// 404 for a session that does not exist or is not the caller's.
    #[must_use]
    pub fn no_session(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCategory::UserFixable,
            "session_not_found",
            format!("There is no session {id}."),
        )
        .action("Open the list of your sessions and pick one from it")
    }

    /// 404 for anything else missing.
    #[must_use]
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCategory::UserFixable,
            code,
            message,
        )
    }

    /// 422: a business rule refuses it.
    #[must_use]
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCategory::UserFixable,
            code,
            message,
        )
    }

    /// 409: a timing conflict.
    #[must_use]
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorCategory::Temporary,
            code,
            message,
        )
    }

    /// 500: something the server did not expect; the cause is logged.
    #[must_use]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCategory::Temporary,
            "internal_error",
            "The server failed to do this. Nothing was lost; try again in a moment.",
        )
        .action("Try again; if it keeps failing, give the correlation id to your administrator")
        .caused_by(cause)
    }

    /// 503: a service behind the API is not available now.
    #[must_use]
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCategory::Temporary,
            "service_unavailable",
            "A service this needs is not available now.",
        )
        .action("Try again in a minute")
        .caused_by(cause)
    }

    /// The body, with its correlation id.
    #[must_use]
    pub fn body(&self, correlation_id: &str) -> ErrorBody {
        ErrorBody {
            error_category: self.category,
            code: self.code.to_owned(),
            user_message: self.message.clone(),
            recovery_actions: self.more.actions.clone(),
            correlation_id: correlation_id.to_owned(),
            extra: self.more.extra.clone(),
        }
    }
}

/// The id of one request, for the log and for error answers.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

tokio::task_local! {
    /// The correlation id of the request being answered.
    pub static CORRELATION: String;
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let id = CORRELATION
            .try_with(Clone::clone)
            .unwrap_or_else(|_| crate::auth::random_token(8));
        if self.status.is_server_error() {
            tracing::error!(correlation_id = %id, code = self.code, cause = ?self.more.cause, "request failed");
        } else if let Some(cause) = &self.more.cause {
            tracing::info!(correlation_id = %id, code = self.code, cause = %cause, "request refused");
        }
        let mut response = (self.status, axum::Json(self.body(&id))).into_response();
        if let Some(secs) = self.more.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

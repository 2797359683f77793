//! Extractors whose rejections answer the API's error shape, and the
//! answers for unknown routes and methods.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ErrorCategory};

/// A JSON body; a body that is not JSON, or not of the expected shape, is a
/// 400 or 422 in the API's error shape, naming what is wrong. Every body of
/// this API is a JSON object: an array is refused, though serde would read a
/// struct from one.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => from_object(&value).map(Self),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// `T` from a JSON object; anything else, or an object without the expected
/// fields, is a 422.
fn from_object<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(invalid_body("the body must be a JSON object"));
    }
    T::deserialize(value).map_err(|e| {
        // Read once more from text, for the message that names the field.
        match axum::Json::<T>::from_bytes(&serde_json::to_vec(value).unwrap_or_default()) {
            Err(rejection) => json_rejection(&rejection),
            Ok(_) => invalid_body(&e.to_string()),
        }
    })
}

fn invalid_body(what: &str) -> ApiError {
    ApiError::unprocessable(
        "invalid_body",
        format!("The request body does not have the expected fields: {what}"),
    )
    .action("Correct the body; the API document at /api/v1/openapi.json describes it")
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => invalid_body(&e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCategory::UserFixable,
            "json_expected",
            "The request body must be JSON (Content-Type: application/json).",
        )
        .action("Send the body as JSON"),
        other => ApiError::bad_request(format!(
            "The request body is not JSON: {}",
            other.body_text()
        )),
    }
}

/// Path parameters, refused in the API's error shape.
#[derive(Debug, Clone)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::bad_request(format!(
        "The address is not valid: {}",
        rejection.body_text()
    ))
}

/// Query parameters, refused in the API's error shape.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::bad_request(format!(
        "The query parameters are not valid: {}",
        rejection.body_text()
    ))
}

/// 404 for an unknown route.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no_such_route", "There is no such address in this API.")
        .action("See /api/v1/openapi.json for the routes there are")
}

/// 405 for a known route with another method.
pub async fn no_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCategory::UserFixable,
        "method_not_allowed",
        "This address does not take this method.",
    )
    .action("See /api/v1/openapi.json for the methods it takes")
}

/// An optional JSON body: empty means `T::default()`.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "The request body cannot be read: {}",
                    e.body_text()
                ))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("The request body is not JSON: {e}")))?;
        from_object(&value).map(Self)
    }
}

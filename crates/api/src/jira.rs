//! Jira: project checks, the ADF test, export, status, retry and results (seed `004_*`).

use axum::Router;
use std::sync::Arc;
use utoipa::OpenApi;

use crate::{Api, Backend};

#[derive(OpenApi)]
#[openapi()]
pub(crate) struct JiraDoc;

pub(crate) fn routes<B: Backend>() -> Router<Arc<Api<B>>> {
    Router::new()
}

//! Review: tickets in build order, edits with `ETag`/`If-Match`, deletes,
//! merges, dependencies, attachments and downloads.

use axum::Router;
use std::sync::Arc;
use utoipa::OpenApi;

use crate::{Api, Backend};

#[derive(OpenApi)]
#[openapi()]
pub(crate) struct ReviewDoc;

pub(crate) fn routes<B: Backend>() -> Router<Arc<Api<B>>> {
    Router::new()
}

//! The `api` Lambda: the same axum Router `dtg serve` serves, behind API
//! Gateway's HTTP API.

use std::sync::Arc;

use dtg_lambda::{Deployment, handlers, init_tracing};
use lambda_http::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Arc::new(Deployment::from_env().await?);
    let router = handlers::api_router(deployment)?;
    lambda_http::run(router).await
}

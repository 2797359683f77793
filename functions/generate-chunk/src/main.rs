//! The `generate-chunk` Lambda: writes one chunk of tickets with the session's model, or keeps the planner's text for it.

use dtg_lambda::{Deployment, handlers, init_tracing};
use dtg_tasks::GenerateChunk;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::task::<GenerateChunk>(deployment, event).await
    }))
    .await
}

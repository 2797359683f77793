//! The `export-step` Lambda: runs one step of the export engine (a bulk create, links, an attachment) and says how long to wait.

use dtg_lambda::{Deployment, handlers, init_tracing};
use dtg_tasks::ExportStep;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::task::<ExportStep>(deployment, event).await
    }))
    .await
}

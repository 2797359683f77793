//! The `export-finish` Lambda: ends an export run: the last message, the lease released, or the failure recorded.

use dtg_lambda::{Deployment, handlers, init_tracing};
use dtg_tasks::ExportFinish;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::task::<ExportFinish>(deployment, event).await
    }))
    .await
}

//! The `export-prepare` Lambda: takes the export's lease for the run and runs its first step.

use dtg_lambda::{Deployment, handlers, init_tracing};
use dtg_tasks::ExportPrepare;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::task::<ExportPrepare>(deployment, event).await
    }))
    .await
}

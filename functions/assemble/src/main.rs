//! The `assemble` Lambda: assembles the written chunks into the session's tickets, or records the processing's failure.

use dtg_lambda::{Deployment, handlers, init_tracing};
use dtg_tasks::Assemble;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::task::<Assemble>(deployment, event).await
    }))
    .await
}

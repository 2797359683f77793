//! The `plan` Lambda: plans the session's tickets and names the chunks the model writes (the processing machine's first state).

use dtg_lambda::{Deployment, handlers, init_tracing};
use dtg_tasks::Plan;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::task::<Plan>(deployment, event).await
    }))
    .await
}

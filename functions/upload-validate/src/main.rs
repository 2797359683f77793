//! The `upload-validate` Lambda: S3 events for arriving uploads and the
//! API's validation jobs, from the upload queue; failed messages are
//! reported one by one (partial batch response), never the whole batch.

use aws_lambda_events::sqs::SqsEvent;
use dtg_lambda::{Deployment, handlers, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        handlers::upload_queue(deployment, event).await
    }))
    .await
}

//! The `ws-connect` Lambda: the progress WebSocket's `$connect` (the
//! single-use ticket in the query string) and its `subscribe` messages.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use dtg_lambda::{Deployment, handlers, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let deployment = Deployment::from_env().await?;
    let deployment = &deployment;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            handlers::ws_connect(deployment, event).await
        },
    ))
    .await
}

//! The `ws-disconnect` Lambda: forgets a closed progress WebSocket.

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
            handlers::ws_disconnect(deployment, event).await
        },
    ))
    .await
}

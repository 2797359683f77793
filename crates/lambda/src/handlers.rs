//! One handler per kind of event. Each turns the event into calls of the
//! tasks crate and the answer into what the event source expects; failures
//! become Lambda diagnostics whose `errorType` the state machines match.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use dtg_api::Backend;
use dtg_app::jobs::ValidateRun;
use dtg_app::store::Timestamp;
use dtg_aws::{AwsJobs, DynamoTable, S3Blobs};
use dtg_jira::SiteAccess;
use dtg_tasks::uploads::{Arrival, arrived, validate};
use dtg_tasks::{TaskError, TaskFunction};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::{ConfigError, Deployment};

/// A task failure as Lambda reports it: `errorType` is the stable name the
/// machines' `Retry` and `Catch` match.
#[must_use]
pub fn diagnostic(e: &TaskError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type().to_owned(),
        error_message: e.to_string(),
    }
}

/// The state machine task `F` (its Lambda links that task alone).
///
/// # Errors
/// The task's failure, as a diagnostic.
pub async fn task<F: TaskFunction>(
    deployment: &Deployment,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let function = F::NAME;
    F::run(&deployment.tasks, event.payload).await.map_err(|e| {
        tracing::warn!(function, error_type = e.error_type(), error = %e, "task failed");
        diagnostic(&e)
    })
}

/// The upload queue: S3's events for arriving files, S3's test event, and
/// the API's validation jobs. Each message is handled on its own; the ones
/// that failed are reported, so only they come back (partial batch
/// response), and after five tries they go to the dead-letter queue.
///
/// # Errors
/// Never as a whole: failures are per message.
pub async fn upload_queue(
    deployment: &Deployment,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Diagnostic> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        if let Err(e) = upload_message(deployment, body).await {
            tracing::warn!(message = %id, error_type = e.error_type(), error = %e, "upload message failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

async fn upload_message(deployment: &Deployment, body: &str) -> Result<(), TaskError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| TaskError::Input(format!("a queue message that is not JSON: {e}")))?;
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(());
    }
    if value.get("Records").is_some() {
        let event: S3Event = serde_json::from_value(value)
            .map_err(|e| TaskError::Input(format!("an S3 event that cannot be read: {e}")))?;
        for record in event.records {
            let Some(key) = record.s3.object.key.as_deref() else {
                continue;
            };
            let key = decode_key(key);
            match arrived(&deployment.tasks, &key).await? {
                Arrival::Refused(reason) => {
                    tracing::info!(key, reason, "an upload was not confirmed");
                }
                outcome => tracing::debug!(key, ?outcome, "an object arrived"),
            }
        }
        return Ok(());
    }
    let job: ValidateRun = serde_json::from_value(value)
        .map_err(|e| TaskError::Input(format!("a queue message of no known kind: {e}")))?;
    validate(&deployment.tasks, &job).await
}

/// S3 event keys are URL-encoded, spaces as `+`.
fn decode_key(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn now() -> Timestamp {
    dtg_tasks::now()
}

fn response(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.body = body.map(Body::Text);
    r
}

/// The WebSocket's `$connect` (with `?ticket=`) and its `subscribe` and
/// other messages.
///
/// # Errors
/// Store failures (API Gateway then refuses the connection).
pub async fn ws_connect(
    deployment: &Deployment,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Diagnostic> {
    let request = event.payload;
    let context = &request.request_context;
    let connection = context.connection_id.clone().unwrap_or_default();
    let repos = deployment.tasks.repos();
    let answer = match context.route_key.as_deref() {
        Some("$connect") => {
            let ticket = request.query_string_parameters.first("ticket");
            let accepted = dtg_tasks::websocket::connect(&repos, &connection, ticket, now())
                .await
                .map_err(|e| diagnostic(&e))?;
            if accepted {
                response(200, None)
            } else {
                response(
                    401,
                    Some("ask POST /api/v1/ws/ticket for a ticket".to_owned()),
                )
            }
        }
        _ => {
            let body = request.body.as_deref().unwrap_or_default();
            let reply = dtg_tasks::websocket::message(&repos, &connection, body, now())
                .await
                .map_err(|e| diagnostic(&e))?;
            response(200, Some(reply.to_string()))
        }
    };
    Ok(answer)
}

/// The WebSocket's `$disconnect`.
///
/// # Errors
/// Store failures.
pub async fn ws_disconnect(
    deployment: &Deployment,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Diagnostic> {
    let connection = event
        .payload
        .request_context
        .connection_id
        .unwrap_or_default();
    dtg_tasks::websocket::disconnect(&deployment.tasks.repos(), &connection, now())
        .await
        .map_err(|e| diagnostic(&e))?;
    Ok(response(200, None))
}

/// The API's ports in production.
#[derive(Debug)]
pub struct AwsBackend {
    deployment: Arc<Deployment>,
    jobs: AwsJobs,
}

impl Backend for AwsBackend {
    type Table = DynamoTable;
    type Blobs = S3Blobs;
    type Jobs = AwsJobs;
    type Jira = SiteAccess<DynamoTable>;

    fn table(&self) -> &DynamoTable {
        &self.deployment.tasks.table
    }
    fn blobs(&self) -> &S3Blobs {
        &self.deployment.tasks.blobs
    }
    fn jobs(&self) -> &AwsJobs {
        &self.jobs
    }
    fn jira(&self) -> &SiteAccess<DynamoTable> {
        &self.deployment.tasks.jira
    }
    fn now(&self) -> Timestamp {
        now()
    }
}

/// The HTTP API's Router over the AWS adapters.
///
/// # Errors
/// [`ConfigError::Missing`] for the queue or a machine.
pub fn api_router(deployment: Arc<Deployment>) -> Result<axum::Router, ConfigError> {
    let jobs = deployment.jobs()?;
    let config = deployment.api_config();
    let cipher = deployment.cipher.clone();
    Ok(dtg_api::router(
        Arc::new(AwsBackend { deployment, jobs }),
        config,
        cipher,
    ))
}

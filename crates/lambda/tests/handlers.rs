//! Every kind of Lambda event, as AWS sends it, through the handlers,
//! against moto's server for DynamoDB, S3, SQS, Step Functions and the API
//! Gateway Management API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::sqs::SqsEvent;
use base64::Engine as _;
use dtg_app::jobs::{Job, Jobs};
use dtg_app::progress::{ProgressMessage, ProtocolVersion, Publish, ValidationProgress};
use dtg_app::repo::{FileStatus, WsTicket};
use dtg_app::store::Blobs;
use dtg_app::upload::{UploadRequest, request_uploads};
use dtg_app::workflow::{Run, file_blob_key};
use dtg_core::csv::Limits;
use dtg_lambda::{Deployment, Secrets, Settings, handlers};
use dtg_moto::{Moto, unique_name};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const CONTENT_TYPES: &str = "machine_name,label,description\narticle,Article,News and posts\n";

async fn deployment(moto: &Moto, extra: impl FnOnce(&mut Settings)) -> Deployment {
    let sdk = moto.sdk_config().await;
    let name = format!("dtg-{}", unique_name());
    let table = dtg_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), &name);
    table.create_if_missing().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    dtg_aws::S3Blobs::new(s3, &name)
        .create_if_missing()
        .await
        .unwrap();
    let mut settings = Settings {
        table: name.clone(),
        bucket: name,
        ws_endpoint: Some(moto.endpoint.clone()),
        vars: BTreeMap::from([("DTG_S3_PATH_STYLE".to_owned(), "1".to_owned())]),
        ..Settings::default()
    };
    extra(&mut settings);
    let secrets = Secrets {
        token_key: "a key for the tests".to_owned(),
        ..Secrets::default()
    };
    Deployment::with_secrets(settings, sdk, &secrets).unwrap()
}

/// The definition with each `${Name}` replaced by a function ARN, as SAM does.
fn substituted(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = start + rest[start..].find('}').unwrap();
        out.push_str(&rest[..start]);
        out.push_str("arn:aws:lambda:us-east-1:123456789012:function:");
        out.push_str(&rest[start + 2..end]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn now() -> i64 {
    dtg_tasks::now()
}

fn context() -> Context {
    Context::default()
}

/// An SQS record wrapping `body`, as Lambda's SQS event source sends it.
fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764633600000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764633600001"
        },
        "messageAttributes": {},
        "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dtg-uploads",
        "awsRegion": "us-east-1"
    })
}

/// S3's notification of a created object, as S3 sends it to SQS.
fn s3_created(bucket: &str, key: &str, size: usize) -> String {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-12-02T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": key, "size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}
        }
    }]})
    .to_string()
}

// GIVEN a session whose browser uploaded its one file to S3
// WHEN the upload queue delivers S3's event, S3's test event and a message nobody can read
// THEN the upload is confirmed and validated, and only the unreadable message is reported failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_queue_validates_arrived_uploads_and_reports_only_failed_messages() {
    let moto = Moto::start();
    let d = deployment(&moto, |_| {}).await;
    let repos = d.tasks.repos();
    repos
        .create_session("s1", "alice", "Site", now())
        .await
        .unwrap();
    let run = Run {
        actor: "alice",
        id: "r1",
        now: now(),
    };
    let slots = request_uploads(
        &repos,
        d.tasks.blobs.as_ref(),
        "s1",
        &[UploadRequest {
            name: "content_types.csv".to_owned(),
            size: CONTENT_TYPES.len() as u64,
        }],
        &Limits::default(),
        run,
    )
    .await
    .unwrap();
    let key = file_blob_key("s1", &slots[0].file_id, &slots[0].name);
    d.tasks
        .blobs
        .put(&key, CONTENT_TYPES.as_bytes().to_vec(), "text/csv")
        .await
        .unwrap();

    let event: SqsEvent = serde_json::from_value(json!({"Records": [
        sqs_record("m1", &s3_created(&d.settings.bucket, &key, CONTENT_TYPES.len())),
        sqs_record("m2", &json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": d.settings.bucket}).to_string()),
        sqs_record("m3", "this is not JSON"),
        sqs_record("m4", &s3_created(&d.settings.bucket, "sessions/s1/attachments/a/b.png", 10)),
    ]}))
    .unwrap();
    let answer = handlers::upload_queue(&d, LambdaEvent::new(event, context()))
        .await
        .unwrap();

    let failed: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m3"]);
    let files = repos.files("s1", now()).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].value.status, FileStatus::Valid, "{files:?}");
}

/// A WebSocket event of API Gateway for `route` on `connection`.
fn ws_event(
    route: &str,
    connection: &str,
    ticket: Option<&str>,
    body: Option<&str>,
) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    let event_type = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    let mut value = json!({
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": "Yj6hWFHxIAMFbJQ=",
            "requestTime": "02/Dec/2026:00:00:00 +0000",
            "messageDirection": "IN",
            "stage": "v1",
            "connectedAt": 1764633600000_i64,
            "requestTimeEpoch": 1764633600000_i64,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "Yj6hWFHxIAMFbJQ=",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection,
            "apiId": "abc123"
        },
        "isBase64Encoded": false
    });
    if let Some(t) = ticket {
        value["queryStringParameters"] = json!({"ticket": t});
    }
    if let Some(b) = body {
        value["body"] = json!(b);
    }
    LambdaEvent::new(serde_json::from_value(value).unwrap(), context())
}

fn body_of(r: &aws_lambda_events::apigw::ApiGatewayProxyResponse) -> Value {
    match &r.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("no text body: {other:?}"),
    }
}

// GIVEN a ticket handed out by the HTTP API
// WHEN a browser connects with it, subscribes to its session, progress is published, and it leaves
// THEN the connection is accepted once, follows its session, gets the message through API Gateway, and is forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_routes_sign_in_with_a_ticket_follow_a_session_and_receive_progress() {
    let moto = Moto::start();
    let d = deployment(&moto, |_| {}).await;
    let repos = d.tasks.repos();
    repos
        .create_session("s1", "alice", "Site", now())
        .await
        .unwrap();
    repos
        .create_session("s2", "bob", "Other", now())
        .await
        .unwrap();
    let ticket = WsTicket {
        user: "alice".to_owned(),
        expires_at: now() + 60,
    };
    repos.save_ws_ticket("t1", &ticket, now()).await.unwrap();

    let refused = handlers::ws_connect(&d, ws_event("$connect", "c0", None, None))
        .await
        .unwrap();
    assert_eq!(refused.status_code, 401);
    let accepted = handlers::ws_connect(&d, ws_event("$connect", "c1", Some("t1"), None))
        .await
        .unwrap();
    assert_eq!(accepted.status_code, 200);
    let again = handlers::ws_connect(&d, ws_event("$connect", "c2", Some("t1"), None))
        .await
        .unwrap();
    assert_eq!(again.status_code, 401, "a ticket opens one connection");

    let other = handlers::ws_connect(
        &d,
        ws_event(
            "subscribe",
            "c1",
            None,
            Some(r#"{"action":"subscribe","session_id":"s2"}"#),
        ),
    )
    .await
    .unwrap();
    assert_eq!(body_of(&other)["code"], "session_not_found");
    let mine = handlers::ws_connect(
        &d,
        ws_event(
            "subscribe",
            "c1",
            None,
            Some(r#"{"action":"subscribe","session_id":"s1"}"#),
        ),
    )
    .await
    .unwrap();
    assert_eq!(body_of(&mine)["type"], "subscribed");
    assert_eq!(repos.connections("s1", now()).await.unwrap().len(), 1);
    assert!(repos.connections("s2", now()).await.unwrap().is_empty());

    dtg_jira::install_tls_crypto();
    let http = reqwest::Client::new();
    http.post(format!(
        "{}/moto-api/recorder/start-recording",
        moto.endpoint
    ))
    .send()
    .await
    .unwrap();
    let message = ProgressMessage::ValidationProgress(ValidationProgress {
        v: ProtocolVersion,
        session_id: "s1".to_owned(),
        files_done: 1,
        files_total: 2,
        current_file: Some("content_types.csv".to_owned()),
        errors: 0,
        warnings: 0,
        notes: 0,
    });
    d.tasks.publish.publish("s1", &message).await;
    d.tasks.publish.publish("s2", &message).await;
    let recording = http
        .get(format!(
            "{}/moto-api/recorder/download-recording",
            moto.endpoint
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let posts: Vec<Value> = recording
        .lines()
        .filter(|l| l.contains("/@connections/"))
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    assert_eq!(
        posts.len(),
        1,
        "one connection follows s1, none s2: {recording}"
    );
    assert!(
        posts[0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/@connections/c1")
    );
    let body = base64::engine::general_purpose::STANDARD
        .decode(posts[0]["body"].as_str().unwrap())
        .unwrap();
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["type"], "validation_progress");
    assert_eq!(sent["session_id"], "s1");

    handlers::ws_disconnect(&d, ws_event("$disconnect", "c1", None, None))
        .await
        .unwrap();
    assert!(repos.connections("s1", now()).await.unwrap().is_empty());
}

// GIVEN a session with validated files
// WHEN the processing machine's tasks run as their Lambdas would (plan, then assemble) and an export step is asked too early
// THEN the plan is saved, assembling without a model says so, and the early step fails with the type the machine matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machine_tasks_answer_small_json_and_fail_with_stable_error_types() {
    let moto = Moto::start();
    let d = deployment(&moto, |_| {}).await;
    let repos = d.tasks.repos();
    repos
        .create_session("s1", "alice", "Site", now())
        .await
        .unwrap();
    let run = Run {
        actor: "alice",
        id: "r1",
        now: now(),
    };
    let slots = request_uploads(
        &repos,
        d.tasks.blobs.as_ref(),
        "s1",
        &[UploadRequest {
            name: "content_types.csv".to_owned(),
            size: CONTENT_TYPES.len() as u64,
        }],
        &Limits::default(),
        run,
    )
    .await
    .unwrap();
    let key = file_blob_key("s1", &slots[0].file_id, &slots[0].name);
    d.tasks
        .blobs
        .put(&key, CONTENT_TYPES.as_bytes().to_vec(), "text/csv")
        .await
        .unwrap();
    dtg_tasks::uploads::arrived(&d.tasks, &key).await.unwrap();

    let input = json!({"session_id": "s1", "task_id": "p1", "actor": "alice", "granularity": "per_bundle", "wording": null});
    let planned = handlers::task::<dtg_tasks::Plan>(&d, LambdaEvent::new(input, context()))
        .await
        .unwrap();
    assert_eq!(planned, json!({"chunks": []}));
    assert!(
        repos
            .plan("s1", now())
            .await
            .unwrap()
            .is_some_and(|p| !p.tickets.is_empty())
    );
    let assembled = handlers::task::<dtg_tasks::Assemble>(
        &d,
        LambdaEvent::new(json!({"session_id": "s1", "task_id": "p1"}), context()),
    )
    .await
    .unwrap();
    assert_eq!(assembled["status"], "planned");

    let early = handlers::task::<dtg_tasks::ExportStep>(
        &d,
        LambdaEvent::new(
            json!({"session_id": "s1", "actor": "alice", "run_id": "x"}),
            context(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(early.error_type, "Input.Invalid", "{early:?}");
    let unreadable = handlers::task::<dtg_tasks::GenerateChunk>(
        &d,
        LambdaEvent::new(json!({"chunk": "one"}), context()),
    )
    .await
    .unwrap_err();
    assert_eq!(unreadable.error_type, "Input.Invalid");
}

// GIVEN the api Lambda's Router with the queue and both machines on moto
// WHEN API Gateway's HTTP API (payload 2.0) event asks for the sign-in options, and jobs start
// THEN it answers as `dtg serve` does; validation is queued; an export run starts one execution however often it is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_http_api_events_and_starts_jobs_on_sqs_and_step_functions() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("q{}", unique_name()))
        .send()
        .await
        .unwrap();
    let queue_url = queue.queue_url().unwrap().to_owned();
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let mut arns = Vec::new();
    for file in ["processing", "export"] {
        let text = std::fs::read_to_string(format!(
            "{}/../../statemachine/{file}.asl.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let machine = sfn
            .create_state_machine()
            .name(format!("{file}{}", unique_name()))
            .definition(substituted(&text))
            .role_arn("arn:aws:iam::123456789012:role/dtg")
            .send()
            .await
            .unwrap();
        arns.push(machine.state_machine_arn().to_owned());
    }
    let d = std::sync::Arc::new(
        deployment(&moto, |s| {
            s.queue_url = Some(queue_url.clone());
            s.processing_machine = Some(arns[0].clone());
            s.export_machine = Some(arns[1].clone());
            s.web_origin = Some("https://dtg.example.com".to_owned());
        })
        .await,
    );

    let event = json!({
        "version": "2.0",
        "routeKey": "ANY /api/{proxy+}",
        "rawPath": "/api/v1/auth/options",
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "abc.execute-api.us-east-1.amazonaws.com", "user-agent": "test"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc",
            "http": {"method": "GET", "path": "/api/v1/auth/options", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "id", "routeKey": "ANY /api/{proxy+}", "stage": "$default", "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 1764633600000_i64
        },
        "pathParameters": {"proxy": "v1/auth/options"},
        "isBase64Encoded": false
    });
    let request: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
    let request: lambda_http::Request = request.into();
    let router = handlers::api_router(std::sync::Arc::clone(&d)).unwrap();
    let response = router
        .oneshot(request.map(|b| axum::body::Body::from(b.to_vec())))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let options: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(options["mode"], "accounts", "{options}");

    let jobs = d.jobs().unwrap();
    jobs.start(Job::Validate {
        session: "s1".to_owned(),
        actor: "alice".to_owned(),
    })
    .await
    .unwrap();
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
    let message: Value = serde_json::from_str(received.messages()[0].body().unwrap()).unwrap();
    assert_eq!(message["session_id"], "s1");
    assert_eq!(message["actor"], "alice");

    for _ in 0..2 {
        jobs.start(Job::Export {
            session: "s1".to_owned(),
            actor: "alice".to_owned(),
            run: "run-1".to_owned(),
        })
        .await
        .unwrap();
    }
    let executions = sfn
        .list_executions()
        .state_machine_arn(&arns[1])
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 1);
    assert_eq!(executions.executions()[0].name(), "run-1");
    let described = sfn
        .describe_execution()
        .execution_arn(executions.executions()[0].execution_arn())
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"session_id": "s1", "actor": "alice", "run_id": "run-1", "task_id": "", "generation": 0})
    );
}

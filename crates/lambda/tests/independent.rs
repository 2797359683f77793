//! Both state machines under an independent interpreter: `tests/asl/run.mjs`
//! runs `statemachine/*.asl.json` with the npm package
//! `aws-local-stepfunctions`, each Task invoking the real function binaries
//! (`target/debug/<function>`, built by `cargo build --workspace --bins`)
//! through a stand-in of the Lambda Runtime API. The functions work against
//! moto's server (DynamoDB, S3, Secrets Manager and the API Gateway
//! Management API), the Jira emulator and the LLM emulator, on
//! `sample_data/uwec_complete`.
//!
//! Each export case arms one fault of the export fault suite
//! (`tests/e2e/tests/faults.rs`), runs the machine, and when the export
//! stops, repairs what a person would, retries it as the API does (a new
//! execution), and checks: completed, no ticket created twice, and the
//! progress messages the session's WebSocket connection received, in order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use dtg_app::export::{ExportRequest, LinkMode, begin_export, retry_failed};
use dtg_app::jobs::{ExportRun, ProcessingRun, WordingChoice};
use dtg_app::store::Blobs as _;
use dtg_app::upload::{UploadRequest, request_uploads};
use dtg_app::workflow::{Run, file_blob_key};
use dtg_core::csv::Limits;
use dtg_jira_emulator::{Config, JiraEmulator, LostAnswer};
use dtg_lambda::{Deployment, Secrets, Settings};
use dtg_llm_emulator::{Emulator as LlmEmulator, Fault, Script};
use dtg_moto::{Moto, unique_name};
use serde_json::{Value, json};

const ACTOR: &str = "alice";
const PROJECT: &str = "DTG";
const CONNECTION: &str = "conn-1";
const TOKEN_KEY: &str = "the token key of the tests";
const BULK: &str = "POST /rest/api/3/issue/bulk";
const LINK: &str = "POST /rest/api/3/issueLink";
const SEARCH: &str = "POST /rest/api/3/search/jql";
const PRIORITIES: &str = "GET /rest/api/3/priority/search";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `cargo build --workspace --bins` put the function binaries: beside
/// this test's own folder (`target/debug/deps`).
fn binaries() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    for f in FUNCTIONS {
        assert!(
            dir.join(f).is_file(),
            "{} is missing: build the functions first (`cargo build --workspace --bins`; make test does)",
            dir.join(f).display()
        );
    }
    dir
}

const FUNCTIONS: [&str; 6] = [
    "plan",
    "generate-chunk",
    "assemble",
    "export-prepare",
    "export-step",
    "export-finish",
];

/// moto, the emulators, and the functions' environment.
struct Stack {
    moto: Moto,
    d: Deployment,
    env: BTreeMap<String, String>,
    jira: JiraEmulator,
    llm: LlmEmulator,
}

async fn stack(jira: Config, script: Script) -> Stack {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let name = format!("dtg-{}", unique_name());
    dtg_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), &name)
        .create_if_missing()
        .await
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    dtg_aws::S3Blobs::new(s3, &name)
        .create_if_missing()
        .await
        .unwrap();
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_string(json!({"token_key": TOKEN_KEY, "llm_api_key": "sk-test"}).to_string())
        .send()
        .await
        .unwrap();
    let jira = JiraEmulator::start(jira).await.unwrap();
    let llm = LlmEmulator::start(script).await.unwrap();
    let env: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("DTG_TABLE", &name),
        ("DTG_BUCKET", &name),
        ("DTG_S3_PATH_STYLE", "1"),
        ("DTG_WS_ENDPOINT", moto.endpoint.as_str()),
        ("DTG_SECRETS_ARN", secret.arn().unwrap()),
        ("DTG_LLM_PROVIDER", "openai"),
        ("DTG_LLM_BASE_URL", &llm.openai_base_url()),
        ("DTG_LLM_MODELS", "gpt-4o-mini"),
        ("DTG_LLM_MAX_ATTEMPTS", "1"),
        ("DTG_JIRA_TIMEOUT_SECS", "1"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    let secrets = Secrets {
        token_key: TOKEN_KEY.to_owned(),
        ..Secrets::default()
    };
    let d = Deployment::with_secrets(settings, sdk, &secrets).unwrap();
    Stack {
        moto,
        d,
        env,
        jira,
        llm,
    }
}

fn now() -> i64 {
    dtg_tasks::now()
}

fn run(id: &str) -> Run<'_> {
    Run {
        actor: ACTOR,
        id,
        now: now(),
    }
}

/// What `tests/asl/run.mjs` reported of one execution.
#[derive(Debug)]
struct Report(Value);

impl Report {
    fn status(&self) -> &str {
        self.0["status"].as_str().unwrap_or("")
    }

    fn invocations(&self, function: &str) -> usize {
        self.0["invocations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["function"] == function)
            .count()
    }
}

/// Runs `machine` (`processing` or `export`) as execution `name` with `input`.
fn execute(s: &Stack, machine: &str, name: &str, input: &Value) -> Report {
    let bins = binaries();
    let functions: BTreeMap<&str, PathBuf> = FUNCTIONS.iter().map(|f| (*f, bins.join(f))).collect();
    let job = json!({
        "definition": root().join(format!("statemachine/{machine}.asl.json")),
        "substitutions": {
            "PlanFunctionArn": "plan",
            "GenerateChunkFunctionArn": "generate-chunk",
            "AssembleFunctionArn": "assemble",
            "ExportPrepareFunctionArn": "export-prepare",
            "ExportStepFunctionArn": "export-step",
            "ExportFinishFunctionArn": "export-finish",
        },
        "name": name,
        "input": input,
        "functions": functions,
        "env": s.env,
        "wait_seconds_cap": 2,
        "retry_interval_ms": 200,
        "timeout_seconds": 240,
    });
    let mut child = Command::new("node")
        .arg(root().join("tests/asl/run.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs tests/asl/run.mjs (make deps installs its packages)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the harness failed: {}", out.status);
    Report(serde_json::from_slice(&out.stdout).unwrap())
}

/// A session of `ACTOR` holding the sample site's files, validated, whose
/// Jira site is the emulator; its WebSocket connection follows it.
async fn uploaded(s: &Stack, id: &str) {
    let repos = s.d.tasks.repos();
    repos
        .create_session(id, ACTOR, "UWEC", now())
        .await
        .unwrap();
    dtg_e2e::sign_in_to_site(
        s.d.tasks.table.as_ref(),
        id,
        ACTOR,
        &s.jira.base_url(),
        PROJECT,
        &s.d.cipher,
        now(),
    )
    .await;
    repos
        .open_connection(CONNECTION, ACTOR, now())
        .await
        .unwrap();
    let connection = repos.connection(CONNECTION, now()).await.unwrap().unwrap();
    repos.follow(&connection, id, now()).await.unwrap();

    let folder = root().join("sample_data/uwec_complete");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    let asks: Vec<UploadRequest> = files
        .iter()
        .map(|(name, bytes)| UploadRequest {
            name: name.clone(),
            size: bytes.len() as u64,
        })
        .collect();
    let slots = request_uploads(
        &repos,
        s.d.tasks.blobs.as_ref(),
        id,
        &asks,
        &Limits::default(),
        run("upload"),
    )
    .await
    .unwrap();
    let mut last = String::new();
    for (slot, (_, bytes)) in slots.iter().zip(&files) {
        last = file_blob_key(id, &slot.file_id, &slot.name);
        s.d.tasks
            .blobs
            .put(&last, bytes.clone(), "text/csv")
            .await
            .unwrap();
    }
    dtg_tasks::uploads::arrived(&s.d.tasks, &last)
        .await
        .unwrap();
}

/// Runs the processing machine on session `id`.
fn process(s: &Stack, id: &str, wording: Option<WordingChoice>) -> Report {
    let input = ProcessingRun {
        session_id: id.to_owned(),
        task_id: format!("p-{id}"),
        actor: ACTOR.to_owned(),
        granularity: dtg_core::plan::Granularity::default(),
        wording,
    };
    execute(
        s,
        "processing",
        &input.task_id,
        &serde_json::to_value(&input).unwrap(),
    )
}

/// The messages moto's API Gateway Management API received for the test's
/// connection since the recorder started, in order.
async fn received(s: &Stack) -> Vec<Value> {
    dtg_jira::install_tls_crypto();
    let recording = reqwest::get(format!(
        "{}/moto-api/recorder/download-recording",
        s.moto.endpoint
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    recording
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| {
            r["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/@connections/{CONNECTION}")))
        })
        .map(|r| {
            let body = base64::engine::general_purpose::STANDARD
                .decode(r["body"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&body).unwrap()
        })
        .collect()
}

async fn record(s: &Stack) {
    dtg_jira::install_tls_crypto();
    let http = reqwest::Client::new();
    for action in ["reset-recording", "start-recording"] {
        http.post(format!("{}/moto-api/recorder/{action}", s.moto.endpoint))
            .send()
            .await
            .unwrap();
    }
}

fn kinds(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect()
}

// GIVEN the sample site uploaded, and a model that answers its first request 429 and its second 500
// WHEN the processing machine runs under the independent interpreter, one HTTP attempt per request
// THEN the throttled chunk is retried by the machine's Retry and written, the failed one keeps
//   the planner's text with a finding, and progress counts each chunk once, the end last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_retries_a_throttled_chunk_and_keeps_the_planners_text_for_a_failed_one() {
    let script = Script::default()
        .fault(Fault::RateLimit {
            retry_after: Some("1".to_owned()),
        })
        .fault(Fault::Status(500));
    let s = stack(Config::unlimited(), script).await;
    uploaded(&s, "s1").await;
    record(&s).await;

    let report = process(
        &s,
        "s1",
        Some(WordingChoice {
            provider: "openai".to_owned(),
            model: "gpt-4o-mini".to_owned(),
        }),
    );

    assert_eq!(report.status(), "SUCCEEDED", "{:#}", report.0);
    let messages = received(&s).await;
    let done: Vec<u64> = messages
        .iter()
        .filter(|m| m["type"] == "processing_progress")
        .map(|m| m["chunks_done"].as_u64().unwrap())
        .collect();
    let total = messages
        .iter()
        .rev()
        .find_map(|m| m["chunks_total"].as_u64())
        .unwrap();
    assert!(total >= 2, "the sample makes several chunks: {total}");
    assert_eq!(
        done.first(),
        Some(&0),
        "the plan announces its chunks first"
    );
    let mut counts = done.clone();
    counts.sort_unstable();
    assert_eq!(counts, (0..=total).collect::<Vec<_>>(), "{done:?}");
    assert_eq!(kinds(&messages).last(), Some(&"processing_complete"));
    assert_eq!(
        report.invocations("generate-chunk") as u64,
        total + 2,
        "a retry of the throttled chunk, and the failed one kept by the Catch"
    );
    assert_eq!(s.llm.requests().len() as u64, total + 1);

    let repos = s.d.tasks.repos();
    let plan = repos.plan("s1", now()).await.unwrap().unwrap();
    assert!(!plan.tickets.is_empty());
    let session = repos.session("s1", now()).await.unwrap().unwrap();
    assert_eq!(
        session.value.position,
        dtg_app::review::REVIEW,
        "{session:?}"
    );
    let tasks: Vec<dtg_app::repo::Task> = repos
        .tasks("s1", now())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.value)
        .collect();
    let tasks = serde_json::to_string(&tasks).unwrap();
    assert!(tasks.contains("provider_failed"), "{tasks}");
}

/// What a person does about a stopped export before retrying it.
type Repair = fn(&JiraEmulator);

/// One fault of the export fault suite.
struct Case {
    name: &'static str,
    arm: fn(&JiraEmulator),
    /// The category the export stops with; `None` when it completes at once.
    stops: Option<&'static str>,
    repair: Repair,
    batch: usize,
}

fn nothing(_: &JiraEmulator) {}

fn clear(emu: &JiraEmulator) {
    emu.faults().clear();
}

/// Exports a session in review with `case`'s fault, retrying once as the
/// API does when it stops, and checks it completed once, in order.
async fn export_with(case: &Case) {
    let s = stack(lagging(Config::unlimited()), Script::default()).await;
    uploaded(&s, "s1").await;
    let processed = process(&s, "s1", None);
    assert_eq!(
        processed.status(),
        "SUCCEEDED",
        "{}: {:#}",
        case.name,
        processed.0
    );
    let repos = s.d.tasks.repos();
    let plan = repos.plan("s1", now()).await.unwrap().unwrap();
    record(&s).await;
    (case.arm)(&s.jira);

    let run_id = format!("run-{}", unique_name());
    begin_export(
        &repos,
        "s1",
        ExportRequest {
            batch_size: case.batch,
            link_mode: LinkMode::default(),
            settle_secs: 2,
            ..ExportRequest::default()
        },
        run(&run_id),
    )
    .await
    .unwrap();
    let mut outcome = export_run(&s, &run_id);
    let mut retries = 0;
    if let Some(category) = case.stops {
        assert_eq!(
            outcome.status(),
            "SUCCEEDED",
            "{}: {:#}",
            case.name,
            outcome.0
        );
        let state = repos.export_state("s1", now()).await.unwrap().unwrap();
        let failure =
            state.value.failure.clone().unwrap_or_else(|| {
                panic!("{}: the export did not stop: {:?}", case.name, state.value)
            });
        assert_eq!(
            serde_json::to_value(failure.error_category).unwrap(),
            category,
            "{}: {failure:?}",
            case.name
        );
        let messages = received(&s).await;
        assert_eq!(
            kinds(&messages).last(),
            Some(&"export_failed"),
            "{}: {messages:?}",
            case.name
        );
        (case.repair)(&s.jira);
        let retry_id = format!("retry-{}", unique_name());
        retry_failed(&repos, "s1", None, run(&retry_id))
            .await
            .unwrap();
        retries += 1;
        outcome = export_run(&s, &retry_id);
    }
    assert_eq!(
        outcome.status(),
        "SUCCEEDED",
        "{}: {:#}",
        case.name,
        outcome.0
    );
    let state = repos.export_state("s1", now()).await.unwrap().unwrap();
    assert!(
        state.value.failure.is_none() && state.value.finished_at.is_some(),
        "{}: {:?}",
        case.name,
        state.value
    );
    assert!(
        s.jira.duplicates().is_empty(),
        "{}: tickets created twice: {:?}",
        case.name,
        s.jira.duplicates()
    );
    assert_eq!(
        s.jira.issues().len(),
        plan.tickets.len() + plan.epics.len(),
        "{}: every ticket and epic is in Jira",
        case.name
    );

    let messages = received(&s).await;
    let exports: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"].as_str().is_some_and(|t| t.starts_with("export_")))
        .collect();
    assert_eq!(
        exports.last().map(|m| m["type"].as_str().unwrap()),
        Some("export_complete"),
        "{}: {:?}",
        case.name,
        kinds(&messages)
    );
    assert_eq!(
        exports
            .iter()
            .filter(|m| m["type"] == "export_complete")
            .count(),
        1,
        "{}: the end is announced once",
        case.name
    );
    assert_eq!(
        exports
            .iter()
            .filter(|m| m["type"] == "export_failed")
            .count(),
        retries,
        "{}: one failure announced per stop",
        case.name
    );
    // The tickets done only grow, across the stop and the retry.
    let mut last = 0;
    for m in exports.iter().filter(|m| m["type"] == "export_progress") {
        let done = m["tickets_completed"].as_u64().unwrap();
        assert!(
            done >= last,
            "{}: progress went back: {exports:?}",
            case.name
        );
        last = done;
    }
    assert_eq!(
        exports.last().unwrap()["tickets_created"].as_u64(),
        Some((plan.tickets.len() + plan.epics.len()) as u64),
        "{}",
        case.name
    );
}

fn export_run(s: &Stack, run_id: &str) -> Report {
    let input = ExportRun {
        session_id: "s1".to_owned(),
        actor: ACTOR.to_owned(),
        run_id: run_id.to_owned(),
        task_id: String::new(),
        generation: 0,
    };
    execute(s, "export", run_id, &serde_json::to_value(&input).unwrap())
}

/// Jira's search lags its writes, as Jira Cloud's does.
fn lagging(config: Config) -> Config {
    Config {
        search_lag: Duration::from_millis(500),
        ..config
    }
}

const CASES: &[Case] = &[
    Case {
        name: "a burst of server errors on reads",
        arm: |emu| {
            emu.faults().fail_next(4, 503);
            emu.faults().fail_endpoint(PRIORITIES, 2, 502);
        },
        stops: None,
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "a server error on a bulk create",
        arm: |emu| emu.faults().fail_endpoint(BULK, 1, 500),
        stops: Some("temporary"),
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "server errors on links",
        arm: |emu| emu.faults().fail_endpoint(LINK, 3, 502),
        stops: Some("temporary"),
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "a dropped answer to a bulk create",
        arm: |emu| {
            emu.faults().lag_search_index(Duration::from_secs(30));
            emu.faults().lose_answer_of_create(1);
        },
        stops: Some("temporary"),
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "a dropped answer to a single create",
        arm: |emu| {
            emu.faults().lag_search_index(Duration::from_secs(30));
            emu.faults().lose_answer_of_create(2);
        },
        stops: Some("temporary"),
        repair: nothing,
        batch: 1,
    },
    Case {
        name: "a create answer held past the client's timeout",
        arm: |emu| {
            emu.faults()
                .lose_answers_by(LostAnswer::Delay(Duration::from_millis(1500)));
            emu.faults().lose_answer_of_create(1);
        },
        stops: Some("temporary"),
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "a create Jira completes after the client gave up",
        arm: |emu| {
            emu.faults()
                .lose_answers_by(LostAnswer::LateCommit(Duration::from_millis(1500)));
            emu.faults().lose_answer_of_create(1);
        },
        stops: Some("temporary"),
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "slow answers within the client's timeout",
        arm: |emu| emu.faults().slow_answers(Duration::from_millis(20)),
        stops: None,
        repair: nothing,
        batch: 50,
    },
    Case {
        name: "a search slower than the client's timeout",
        arm: |emu| {
            emu.faults()
                .slow_endpoint(SEARCH, Duration::from_millis(2500))
        },
        stops: Some("temporary"),
        repair: clear,
        batch: 50,
    },
    Case {
        name: "an expired API token",
        arm: |emu| emu.faults().expire_api_tokens(),
        stops: Some("user_fixable"),
        repair: |emu| emu.faults().renew_api_tokens(),
        batch: 50,
    },
    Case {
        name: "revoked write permission",
        arm: |emu| emu.faults().revoke_write_permission(),
        stops: Some("admin_required"),
        repair: |emu| emu.faults().restore_write_permission(),
        batch: 50,
    },
    Case {
        name: "the project deleted between two bulk creates",
        arm: |emu| emu.faults().delete_project_after_creates(PROJECT, 1),
        stops: Some("admin_required"),
        repair: |emu| emu.faults().restore_project(PROJECT),
        batch: 50,
    },
];

async fn export_cases(names: &[&str]) {
    for name in names {
        let case = CASES.iter().find(|c| c.name == *name).unwrap();
        export_with(case).await;
    }
}

// GIVEN the sample site in review, and Jira failing in passing ways
// WHEN the export machine runs under the independent interpreter (and is retried when it stops)
// THEN it completes, no ticket twice, progress in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_machine_rides_out_passing_trouble() {
    export_cases(&[
        "a burst of server errors on reads",
        "a server error on a bulk create",
        "server errors on links",
        "slow answers within the client's timeout",
        "a search slower than the client's timeout",
    ])
    .await;
}

// GIVEN the sample site in review, and a Jira whose answer to a create is lost in each way it can be
// WHEN the export machine runs, stops, and is retried
// THEN the retry finds what the lost create made: no ticket twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_machine_finds_what_a_lost_create_made() {
    export_cases(&[
        "a dropped answer to a bulk create",
        "a dropped answer to a single create",
        "a create answer held past the client's timeout",
        "a create Jira completes after the client gave up",
    ])
    .await;
}

// GIVEN the sample site in review, and a Jira that stops taking issues until a person acts
// WHEN the export machine runs, stops with the seed's category, the person acts, and it is retried
// THEN it completes from where it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_machine_stops_for_people_and_resumes_after_them() {
    export_cases(&[
        "an expired API token",
        "revoked write permission",
        "the project deleted between two bulk creates",
    ])
    .await;
}

// GIVEN the sample site in review, and a bulk create that fails every time
// WHEN the export is retried three times
// THEN each retry is a new execution that stops again, and a fourth is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_failed_retries_leave_the_export_to_an_administrator() {
    let s = stack(Config::unlimited(), Script::default()).await;
    uploaded(&s, "s1").await;
    assert_eq!(process(&s, "s1", None).status(), "SUCCEEDED");
    let repos = s.d.tasks.repos();
    s.jira.faults().fail_endpoint(BULK, 100, 500);
    let first = format!("run-{}", unique_name());
    begin_export(&repos, "s1", ExportRequest::default(), run(&first))
        .await
        .unwrap();
    assert_eq!(export_run(&s, &first).status(), "SUCCEEDED");
    for attempt in 1..=3 {
        let id = format!("retry-{attempt}-{}", unique_name());
        let retried = retry_failed(&repos, "s1", None, run(&id)).await.unwrap();
        assert_eq!(retried.retry_attempt, attempt);
        export_run(&s, &id);
    }
    let refused = retry_failed(&repos, "s1", None, run("retry-4")).await;
    assert!(
        matches!(
            refused,
            Err(dtg_app::export::ExportError::MaxRetries { .. })
        ),
        "{refused:?}"
    );
    assert!(s.jira.issues().is_empty());
}

// GIVEN an export whose retry is started twice under the same name (a double click, a redelivery)
// WHEN both executions are asked for
// THEN the interpreter refuses the second name, and the machine's lease refuses a second run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_export_execution_of_a_running_export_is_refused_by_the_lease() {
    let s = stack(Config::unlimited(), Script::default()).await;
    uploaded(&s, "s1").await;
    assert_eq!(process(&s, "s1", None).status(), "SUCCEEDED");
    let repos = s.d.tasks.repos();
    let first = format!("run-{}", unique_name());
    begin_export(&repos, "s1", ExportRequest::default(), run(&first))
        .await
        .unwrap();
    let other = ExportRun {
        session_id: "s1".to_owned(),
        actor: ACTOR.to_owned(),
        run_id: "not-the-lease-holder".to_owned(),
        task_id: String::new(),
        generation: 0,
    };
    let refused = execute(
        &s,
        "export",
        "intruder",
        &serde_json::to_value(&other).unwrap(),
    );
    assert_eq!(refused.status(), "FAILED", "{:#}", refused.0);
    assert_eq!(refused.0["error"], "Export.Running", "{:#}", refused.0);
    assert_eq!(export_run(&s, &first).status(), "SUCCEEDED");
    assert!(s.jira.duplicates().is_empty());
}

//! The in-process ASL runner: loading and checking definitions, and running
//! the real `statemachine/*.asl.json` files with fake tasks and a recording
//! waiter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dtg_embedded::asl::{
    AslError, ExecutionContext, ExecutionFailure, ExecutionReport, Machine, RecordingWaiter,
    TaskFailure, Tasks, run, run_with_report, substitution_names,
};
use proptest::prelude::*;
use serde_json::{Value, json};

type Answer = Result<Value, TaskFailure>;
type Handler = dyn Fn(&str, &Value, usize) -> Answer + Send + Sync;
type StartHandler = dyn Fn(&str, &str, &Value) -> Answer + Send + Sync;

/// Tasks answered by closures, recording every call and how many ran at once.
struct FakeTasks {
    /// Answers `(function, payload, earlier calls with the same function and payload)`.
    answer: Box<Handler>,
    start: Box<StartHandler>,
    calls: Mutex<Vec<(String, Value)>>,
    starts: Mutex<Vec<(String, String, Value)>>,
    running: AtomicUsize,
    most_running: AtomicUsize,
}

impl FakeTasks {
    fn new(answer: impl Fn(&str, &Value, usize) -> Answer + Send + Sync + 'static) -> FakeTasks {
        FakeTasks {
            answer: Box::new(answer),
            start: Box::new(|_, name, _| {
                Ok(json!({
                    "ExecutionArn": format!("arn:aws:states:eu-west-1:123456789012:execution:export:{name}"),
                    "StartDate": "2024-01-15T10:30:00.000Z"
                }))
            }),
            calls: Mutex::new(Vec::new()),
            starts: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            most_running: AtomicUsize::new(0),
        }
    }

    fn with_start(
        mut self,
        start: impl Fn(&str, &str, &Value) -> Answer + Send + Sync + 'static,
    ) -> FakeTasks {
        self.start = Box::new(start);
        self
    }

    fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }

    fn calls_to(&self, function: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(f, _)| f == function)
            .map(|(_, p)| p)
            .collect()
    }

    fn starts(&self) -> Vec<(String, String, Value)> {
        self.starts.lock().unwrap().clone()
    }
}

impl Tasks for FakeTasks {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        let earlier = {
            let mut calls = self.calls.lock().unwrap();
            let earlier = calls
                .iter()
                .filter(|(f, p)| f == function && *p == payload)
                .count();
            calls.push((function.to_owned(), payload.clone()));
            earlier
        };
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        (self.answer)(function, &payload, earlier)
    }

    async fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: Value,
    ) -> Result<Value, TaskFailure> {
        self.starts
            .lock()
            .unwrap()
            .push((machine.to_owned(), name.to_owned(), input.clone()));
        (self.start)(machine, name, &input)
    }
}

fn definition(name: &str) -> String {
    let path = format!(
        "{}/../../statemachine/{name}.asl.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn substitutions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const PROCESSING_FUNCTIONS: [(&str, &str); 3] = [
    ("PlanFunctionArn", "plan"),
    ("GenerateChunkFunctionArn", "generate-chunk"),
    ("AssembleFunctionArn", "assemble"),
];

const EXPORT_FUNCTIONS: [(&str, &str); 3] = [
    ("ExportPrepareFunctionArn", "export-prepare"),
    ("ExportStepFunctionArn", "export-step"),
    ("ExportFinishFunctionArn", "export-finish"),
];

const EXPORT_MACHINE: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:export";

fn processing() -> Machine {
    Machine::from_json(
        &definition("processing"),
        &substitutions(&PROCESSING_FUNCTIONS),
    )
    .unwrap()
}

fn export() -> Machine {
    Machine::from_json(&definition("export"), &substitutions(&EXPORT_FUNCTIONS)).unwrap()
}

fn machine(definition: &Value) -> Machine {
    Machine::from_json(&definition.to_string(), &BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(definition: &Value) -> AslError {
    match Machine::from_json(&definition.to_string(), &BTreeMap::new()) {
        Ok(_) => panic!("loaded: {definition}"),
        Err(e) => e,
    }
}

/// A machine of one state `S` (plus `states`), starting at `S`.
fn with_state(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

fn lambda(extra: Value) -> Value {
    let mut state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload.$": "$"},
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        state[k] = v.clone();
    }
    state
}

fn context(name: &str) -> ExecutionContext {
    ExecutionContext::new(EXPORT_MACHINE, name)
}

async fn run_on(machine: &Machine, tasks: &FakeTasks, input: Value) -> ExecutionReport {
    run_with_report(
        machine,
        tasks,
        &RecordingWaiter::new(),
        context("run-1"),
        input,
    )
    .await
}

fn failure(error: &str, cause: &str) -> Answer {
    Err(TaskFailure::new(error, cause))
}

// ---------------------------------------------------------------- loading

#[test]
fn both_machines_load_with_the_functions_they_name() {
    for (file, functions) in [
        ("processing", PROCESSING_FUNCTIONS),
        ("export", EXPORT_FUNCTIONS),
    ] {
        // GIVEN a real definition and a substitution for each function it names
        let text = definition(file);
        let names: BTreeSet<String> = functions.iter().map(|(k, _)| (*k).to_owned()).collect();
        assert_eq!(substitution_names(&text).unwrap(), names, "{file}");
        // WHEN it is loaded
        let machine = Machine::from_json(&text, &substitutions(&functions)).unwrap();
        // THEN its tasks name the substituted functions
        let expected: BTreeSet<String> = functions.iter().map(|(_, v)| (*v).to_owned()).collect();
        assert_eq!(machine.functions(), &expected, "{file}");
        assert!(machine.comment().is_some());
    }
    assert_eq!(processing().start_at(), "Plan");
    assert_eq!(export().start_at(), "Prepare");
}

#[test]
fn a_machine_without_its_substitutions_is_refused_naming_the_missing_one() {
    for (file, functions) in [
        ("processing", PROCESSING_FUNCTIONS),
        ("export", EXPORT_FUNCTIONS),
    ] {
        for (missing, _) in functions {
            // GIVEN the substitutions without one of them
            let partial: Vec<_> = functions
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            // WHEN the definition is loaded
            let error =
                Machine::from_json(&definition(file), &substitutions(&partial)).unwrap_err();
            // THEN the error names the missing substitution
            assert!(
                matches!(&error, AslError::MissingSubstitution { name } if name == missing),
                "{file}: {error}"
            );
            assert!(error.to_string().contains(missing));
        }
    }
    let error = Machine::from_json("{\"a\": \"${Open\"}", &BTreeMap::new()).unwrap_err();
    assert!(
        matches!(error, AslError::MalformedSubstitution { .. }),
        "{error}"
    );
}

#[test]
fn unsupported_features_are_refused_naming_the_state_and_the_field() {
    let map = |extra: Value| {
        let mut state = json!({
            "Type": "Map",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
            "End": true
        });
        for (k, v) in extra.as_object().unwrap() {
            state[k] = v.clone();
        }
        with_state(state)
    };
    let pass = |parameters: Value| {
        with_state(json!({"Type": "Pass", "Parameters": parameters, "End": true}))
    };
    let cases = [
        (
            json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
            "",
            "QueryLanguage",
        ),
        (
            with_state(json!({"Type": "Pass", "QueryLanguage": "JSONata", "End": true})),
            "S",
            "QueryLanguage",
        ),
        (
            with_state(json!({"Type": "Parallel", "Branches": [], "End": true})),
            "S",
            "Type",
        ),
        (
            map(json!({"ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})),
            "S",
            "ItemProcessor.ProcessorConfig.Mode",
        ),
        (
            map(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}})),
            "S",
            "ItemReader",
        ),
        (map(json!({"ResultWriter": {}})), "S", "ResultWriter"),
        (
            with_state(lambda(
                json!({"Resource": "arn:aws:states:::sqs:sendMessage"}),
            )),
            "S",
            "Resource",
        ),
        (
            with_state(lambda(
                json!({"Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken"}),
            )),
            "S",
            "Resource",
        ),
        (
            with_state(lambda(
                json!({"Parameters": {"FunctionName": "f", "InvocationType": "Event"}}),
            )),
            "S",
            "Parameters.InvocationType",
        ),
        (
            pass(json!({"x.$": "States.Hash($.a, 'SHA-256')"})),
            "S",
            "Parameters.x.$",
        ),
        (pass(json!({"x.$": "$.items[*].id"})), "S", "Parameters.x.$"),
        (
            pass(json!({"deep": {"x.$": "$.a[0:2]"}})),
            "S",
            "Parameters.deep.x.$",
        ),
        (
            pass(json!({"x.$": "$$.Execution.RoleArn"})),
            "S",
            "Parameters.x.$",
        ),
        (
            with_state(json!({"Type": "Pass", "InputPath": "$..a", "End": true})),
            "S",
            "InputPath",
        ),
        (
            with_state(json!({"Type": "Wait", "Timestamp": "2024-01-01T00:00:00Z", "End": true})),
            "S",
            "Timestamp",
        ),
        (
            with_state(json!({"Type": "Choice", "Choices": [
                {"Variable": "$.a", "StringMatches": "x*", "Next": "S"}]})),
            "S",
            "Choices[0].StringMatches",
        ),
        (
            with_state(json!({"Type": "Pass", "Assign": {"x": 1}, "End": true})),
            "S",
            "Assign",
        ),
        (
            with_state(json!({"Type": "Fail", "ErrorPath": "$.e"})),
            "S",
            "ErrorPath",
        ),
        (
            with_state(lambda(json!({"TimeoutSecondsPath": "$.t"}))),
            "S",
            "TimeoutSecondsPath",
        ),
    ];
    for (definition, state, field) in cases {
        // GIVEN a definition using something outside the subset
        // WHEN it is loaded
        let error = refused(&definition);
        // THEN the error names the state and the field and says why
        assert!(
            matches!(error, AslError::Unsupported { .. }),
            "{definition}: {error}"
        );
        assert_eq!((error.state(), error.field()), (state, field), "{error}");
        let message = error.to_string();
        assert!(message.contains("outside the subset"), "{message}");
        assert!(message.contains(&format!("field `{field}`")), "{message}");
    }
}

#[test]
fn invalid_definitions_are_refused_naming_the_state_and_the_field() {
    let two = |s: Value, t: Value| json!({"StartAt": "S", "States": {"S": s, "T": t}});
    let cases = [
        (
            with_state(json!({"Type": "Pass", "Next": "Nowhere"})),
            "S",
            "Next",
            "Nowhere",
        ),
        (
            json!({"StartAt": "Missing", "States": {"S": {"Type": "Succeed"}}}),
            "",
            "StartAt",
            "Missing",
        ),
        (
            two(json!({"Type": "Succeed"}), json!({"Type": "Succeed"})),
            "T",
            "(transitions)",
            "leads to this state",
        ),
        (
            with_state(lambda(json!({"Catch": [
                {"ErrorEquals": ["States.ALL", "X"], "Next": "S"}]}))),
            "S",
            "Catch[0].ErrorEquals",
            "alone",
        ),
        (
            with_state(lambda(json!({"Retry": [
                {"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}))),
            "S",
            "Retry[0].ErrorEquals",
            "last",
        ),
        (
            with_state(lambda(
                json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}),
            )),
            "S",
            "Retry[0].BackoffRate",
            "at least 1.0",
        ),
        (
            with_state(
                json!({"Type": "Map", "ItemProcessor": {"StartAt": "S", "States": {
                "S": {"Type": "Succeed"}}}, "End": true}),
            ),
            "S",
            "(name)",
            "unique",
        ),
        (
            two(
                json!({"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Next": "T"}}}, "Next": "T"}),
                json!({"Type": "Succeed"}),
            ),
            "I",
            "Next",
            "cannot leave its scope",
        ),
        (
            with_state(
                json!({"Type": "Pass", "Parameters": {"i.$": "$$.Map.Item.Index"}, "End": true}),
            ),
            "S",
            "Parameters.i.$",
            "ItemSelector",
        ),
        (
            with_state(
                json!({"Type": "Pass", "Parameters": {"x.$": "States.Format('{}-{}', $.a)"}, "End": true}),
            ),
            "S",
            "Parameters.x.$",
            "2 `{}` for 1 arguments",
        ),
        (
            with_state(json!({"Type": "Pass", "Parameters": {"x.$": "plain text"}, "End": true})),
            "S",
            "Parameters.x.$",
            "drop the `.$`",
        ),
        (
            with_state(json!({"Type": "Pass", "Next": "S", "End": true})),
            "S",
            "Next",
            "not both",
        ),
        (
            with_state(json!({"Type": "Pass"})),
            "S",
            "Next",
            "End: true",
        ),
        (
            with_state(json!({"Type": "Choice", "Choices": [
                {"Variable": "$.n", "NumericEquals": "one", "Next": "S"}]})),
            "S",
            "Choices[0].NumericEquals",
            "a number",
        ),
        (
            with_state(json!({"Type": "Wait", "Seconds": -1, "End": true})),
            "S",
            "Seconds",
            "integer",
        ),
        (
            with_state(json!({"Type": "Teleport", "End": true})),
            "S",
            "Type",
            "not a state type",
        ),
    ];
    for (definition, state, field, says) in cases {
        // GIVEN a definition that is not valid ASL
        // WHEN it is loaded
        let error = refused(&definition);
        // THEN the error names the state and the field and says what is wrong
        assert!(
            matches!(error, AslError::Invalid { .. }),
            "{definition}: {error}"
        );
        assert_eq!((error.state(), error.field()), (state, field), "{error}");
        assert!(error.to_string().contains(says), "{error}");
    }
    let error = Machine::from_json("{\"StartAt\": ", &BTreeMap::new()).unwrap_err();
    assert!(matches!(error, AslError::Json { .. }), "{error}");
}

// ---------------------------------------------------------------- processing

fn processing_input() -> Value {
    json!({"session_id": "s1", "task_id": "t1"})
}

fn chunk(id: &str) -> Value {
    json!({"id": id, "rows": [1, 2]})
}

/// Processing tasks: the plan names `chunks`, `generate` answers a chunk's
/// first attempt and retries (given the earlier calls), a fallback keeps the
/// planner's text, assemble succeeds.
fn processing_tasks(
    chunks: Vec<Value>,
    generate: impl Fn(&Value, usize) -> Answer + Send + Sync + 'static,
) -> FakeTasks {
    FakeTasks::new(move |function, payload, earlier| match function {
        "plan" => Ok(json!({"chunks": chunks, "ignored": true})),
        "generate-chunk" if payload.get("fallback").is_some() => Ok(json!({"outcome": "kept"})),
        "generate-chunk" => generate(&payload["chunk"], earlier),
        "assemble" => Ok(json!({"assembled": true})),
        other => panic!("unexpected function {other}"),
    })
}

#[tokio::test]
async fn processing_plans_writes_each_chunk_and_assembles() {
    // GIVEN a plan of three chunks whose prose is written at the first try
    let chunks = vec![chunk("c1"), chunk("c2"), chunk("c3")];
    let tasks = Arc::new(processing_tasks(chunks.clone(), |chunk, _| {
        Ok(json!({"outcome": format!("written {}", chunk["id"])}))
    }));
    let machine = Arc::new(processing());
    // WHEN the processing runs (spawned, as the server runs it)
    let report = tokio::spawn({
        let (tasks, machine) = (tasks.clone(), machine.clone());
        async move {
            run_with_report(
                &machine,
                &*tasks,
                &RecordingWaiter::new(),
                context("processing-s1"),
                processing_input(),
            )
            .await
        }
    })
    .await
    .unwrap();
    // THEN it plans, writes each chunk with the session's ids, then assembles
    let output = report.output.unwrap();
    assert_eq!(
        output,
        json!({"session_id": "s1", "task_id": "t1", "plan": {"chunks": chunks}})
    );
    let calls = tasks.calls();
    assert_eq!(calls.first().unwrap().0, "plan");
    assert_eq!(calls.first().unwrap().1, processing_input());
    let mut written = tasks.calls_to("generate-chunk");
    written.sort_by_key(|p| p["chunk"]["id"].to_string());
    let expected: Vec<Value> = chunks
        .iter()
        .map(|c| json!({"session_id": "s1", "task_id": "t1", "chunk": c}))
        .collect();
    assert_eq!(written, expected);
    assert_eq!(
        calls.last().unwrap(),
        &("assemble".to_owned(), processing_input())
    );
    // AND the report counts Plan, Chunks, three GenerateChunk and Assemble
    assert_eq!(report.state_transitions, 6);
    // 2 (execution) + Plan 5 + Chunks 2+2 + 3 × (2 + GenerateChunk 5) + Assemble 5.
    assert_eq!(report.history_events, 2 + 5 + 4 + 3 * 7 + 5);
}

#[tokio::test]
async fn a_throttled_chunk_is_retried_with_jittered_backoff_then_succeeds() {
    // GIVEN a chunk whose first two calls are throttled
    let tasks = processing_tasks(vec![chunk("c1")], |_, earlier| {
        if earlier < 2 {
            failure("Llm.Throttled", "429")
        } else {
            Ok(json!({"outcome": "written"}))
        }
    });
    let waiter = RecordingWaiter::new();
    // WHEN the processing runs
    let report = run_with_report(
        &processing(),
        &tasks,
        &waiter,
        context("p"),
        processing_input(),
    )
    .await;
    // THEN the chunk is written at the third call, after two backoff waits
    assert!(report.output.is_ok(), "{:?}", report.output);
    assert_eq!(tasks.calls_to("generate-chunk").len(), 3);
    let waits = waiter.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] <= Duration::from_secs(5), "{waits:?}");
    assert!(waits[1] <= Duration::from_secs(10), "{waits:?}");
    // AND each retry is a state transition
    assert_eq!(report.state_transitions, 4 + 2);
}

#[tokio::test]
async fn throttling_backoff_is_bounded_by_max_delay_seconds_and_jittered() {
    // GIVEN a chunk throttled six times (the retrier's MaxAttempts) then written
    let bounds = [5, 10, 20, 40, 80, 120].map(Duration::from_secs);
    let mut below_bound = 0;
    for _ in 0..5 {
        let tasks = processing_tasks(vec![chunk("c1")], |_, earlier| {
            if earlier < 6 {
                failure("Llm.Throttled", "429")
            } else {
                Ok(json!({"outcome": "written"}))
            }
        });
        let waiter = RecordingWaiter::new();
        // WHEN the processing runs
        let output = run(
            &processing(),
            &tasks,
            &waiter,
            context("p"),
            processing_input(),
        )
        .await;
        // THEN it succeeds after six waits, each at most 5 × 2^n seconds and
        // never more than MaxDelaySeconds (120, not 160)
        assert!(output.is_ok(), "{output:?}");
        let waits = waiter.waits();
        assert_eq!(waits.len(), 6);
        for (wait, bound) in waits.iter().zip(bounds) {
            assert!(*wait <= bound, "{waits:?}");
            if *wait < bound {
                below_bound += 1;
            }
        }
    }
    // AND the waits are jittered (FULL: uniform below the computed delay)
    assert!(below_bound > 0);
}

#[tokio::test]
async fn a_chunk_still_throttled_after_its_retries_keeps_the_planner_text() {
    // GIVEN a chunk that is always throttled
    let tasks = processing_tasks(vec![chunk("c1")], |_, _| failure("Llm.Throttled", "429"));
    // WHEN the processing runs
    let report = run_on(&processing(), &tasks, processing_input()).await;
    // THEN after 1 + 6 calls the chunk keeps the planner's text with the error
    assert!(report.output.is_ok(), "{:?}", report.output);
    let calls = tasks.calls_to("generate-chunk");
    assert_eq!(calls.len(), 8);
    assert_eq!(
        calls.last().unwrap()["fallback"],
        json!({"Error": "Llm.Throttled", "Cause": "429"})
    );
}

#[tokio::test]
async fn a_chunk_failing_with_another_error_keeps_the_planner_text() {
    // GIVEN a chunk whose answer is refused by the schema check
    let tasks = processing_tasks(vec![chunk("c1"), chunk("c2")], |chunk, _| {
        if chunk["id"] == "c2" {
            failure("Llm.InvalidAnswer", "the answer has no summary")
        } else {
            Ok(json!({"outcome": "written"}))
        }
    });
    let waiter = RecordingWaiter::new();
    // WHEN the processing runs
    let output = run(
        &processing(),
        &tasks,
        &waiter,
        context("p"),
        processing_input(),
    )
    .await;
    // THEN KeepPlannerText gets the chunk with the error as `fallback`, at once
    assert!(output.is_ok(), "{output:?}");
    let fallbacks: Vec<Value> = tasks
        .calls_to("generate-chunk")
        .into_iter()
        .filter(|p| p.get("fallback").is_some())
        .collect();
    assert_eq!(
        fallbacks,
        vec![json!({
            "session_id": "s1",
            "task_id": "t1",
            "chunk": chunk("c2"),
            "fallback": {"Error": "Llm.InvalidAnswer", "Cause": "the answer has no summary"}
        })]
    );
    assert!(waiter.waits().is_empty());
    assert_eq!(tasks.calls_to("assemble").len(), 1);
}

#[tokio::test]
async fn a_fatal_model_error_fails_the_map_and_records_the_failure() {
    // GIVEN a model that refuses the key
    let tasks = processing_tasks(vec![chunk("c1"), chunk("c2")], |_, _| {
        failure("Llm.Fatal", "401 from the provider")
    });
    // WHEN the processing runs
    let report = run_on(&processing(), &tasks, processing_input()).await;
    // THEN the Map fails, RecordFailure gets the error, and the execution
    // ends as Processing.Failed
    let failure = report.output.unwrap_err();
    assert_eq!(failure.error, "Processing.Failed");
    assert_eq!(failure.state, "Failed");
    let recorded = tasks.calls_to("assemble");
    assert_eq!(
        recorded,
        vec![json!({
            "session_id": "s1",
            "task_id": "t1",
            "failure": {
                "Error": "Llm.Fatal",
                "Cause": "The model provider refused the key or the model: the processing stops."
            }
        })]
    );
}

#[tokio::test]
async fn chunks_run_concurrently_up_to_max_concurrency() {
    // GIVEN a plan of ten chunks and a Map with MaxConcurrency 4
    let chunks: Vec<Value> = (0..10).map(|i| chunk(&format!("c{i}"))).collect();
    let tasks = processing_tasks(chunks, |_, _| Ok(json!({"outcome": "written"})));
    // WHEN the processing runs
    let output = run(
        &processing(),
        &tasks,
        &RecordingWaiter::new(),
        context("p"),
        processing_input(),
    )
    .await;
    // THEN at most four chunks were written at once, and more than one
    assert!(output.is_ok(), "{output:?}");
    assert_eq!(tasks.calls_to("generate-chunk").len(), 10);
    assert_eq!(tasks.most_running.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn map_results_keep_item_order_and_max_concurrency_zero_is_unbounded() {
    // GIVEN a Map without a concurrency bound whose first items finish last
    let machine = machine(&json!({
        "StartAt": "M",
        "States": {"M": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 0,
            "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
            "Iterator": {"StartAt": "W", "States": {"W": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "double", "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": true}}},
            "ResultPath": "$.doubled",
            "End": true
        }}
    }));
    let tasks = FakeTasks::new(|_, payload, _| {
        let (tag, n, i) = (&payload["tag"], &payload["n"], &payload["i"]);
        Ok(json!(format!(
            "{}{}@{i}",
            tag.as_str().unwrap(),
            n.as_i64().unwrap() * 2
        )))
    });
    // WHEN it runs on six items
    let output = run(
        &machine,
        &tasks,
        &RecordingWaiter::new(),
        context("m"),
        json!({"items": [1, 2, 3, 4, 5, 6], "tag": "x"}),
    )
    .await
    .unwrap();
    // THEN all six ran at once and the results are in the items' order
    assert_eq!(tasks.most_running.load(Ordering::SeqCst), 6);
    assert_eq!(
        output["doubled"],
        json!(["x2@0", "x4@1", "x6@2", "x8@3", "x10@4", "x12@5"])
    );
}

#[tokio::test]
async fn a_plan_without_chunks_goes_straight_to_assemble() {
    // GIVEN a session planned without a model (no chunks)
    let tasks = processing_tasks(Vec::new(), |_, _| panic!("no chunk to write"));
    // WHEN the processing runs
    let output = run_on(&processing(), &tasks, processing_input())
        .await
        .output;
    // THEN it assembles at once
    assert!(output.is_ok(), "{output:?}");
    let functions: Vec<String> = tasks.calls().into_iter().map(|(f, _)| f).collect();
    assert_eq!(functions, ["plan", "assemble"]);
}

// ---------------------------------------------------------------- export

fn export_input() -> Value {
    json!({"session_id": "s1", "actor": "u1", "run_id": "run-9", "task_id": "t9", "generation": 0})
}

fn step(done: bool, wait_seconds: u64, steps: u64) -> Answer {
    Ok(json!({"done": done, "wait_seconds": wait_seconds, "steps": steps, "extra": "dropped"}))
}

/// Export tasks: prepare answers `prepare`, each step is answered by
/// `next_step(steps so far)`, finish succeeds.
fn export_tasks(
    prepare: Answer,
    next_step: impl Fn(u64) -> Answer + Send + Sync + 'static,
) -> FakeTasks {
    FakeTasks::new(move |function, payload, _| match function {
        "export-prepare" => prepare.clone(),
        "export-step" => next_step(payload["steps"].as_u64().unwrap()),
        "export-finish" => Ok(json!({"finished": true})),
        other => panic!("unexpected function {other}"),
    })
}

#[tokio::test]
async fn the_export_loops_prepare_then_steps_until_done() {
    // GIVEN an export that takes three steps
    let tasks = export_tasks(step(false, 0, 1), |steps| {
        step(steps + 1 >= 3, 0, steps + 1)
    });
    let waiter = RecordingWaiter::new();
    // WHEN it runs
    let report =
        run_with_report(&export(), &tasks, &waiter, context("run-9"), export_input()).await;
    // THEN Prepare, two Steps (with the step count) and Finish ran, without waiting
    let output = report.output.unwrap();
    assert_eq!(
        output["step"],
        json!({"done": true, "wait_seconds": 0, "steps": 3})
    );
    let functions: Vec<String> = tasks.calls().into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        functions,
        [
            "export-prepare",
            "export-step",
            "export-step",
            "export-finish"
        ]
    );
    assert_eq!(tasks.calls_to("export-prepare"), vec![export_input()]);
    assert_eq!(
        tasks.calls_to("export-step")[1],
        json!({"session_id": "s1", "actor": "u1", "run_id": "run-9", "task_id": "t9", "steps": 2})
    );
    assert_eq!(
        tasks.calls_to("export-finish"),
        vec![json!({"session_id": "s1", "actor": "u1", "run_id": "run-9", "task_id": "t9"})]
    );
    assert!(waiter.waits().is_empty());
    // AND the counts match Step Functions': Prepare, 3 × Decide, 2 × Step, Finish
    assert_eq!(report.state_transitions, 7);
    assert_eq!(report.history_events, 2 + 5 + 3 * 2 + 2 * 5 + 5);
}

#[tokio::test]
async fn the_export_waits_exactly_what_a_step_asks() {
    // GIVEN steps that ask to wait 7 seconds, then 0, then 30
    let tasks = export_tasks(step(false, 7, 1), |steps| match steps {
        1 => step(false, 0, 2),
        2 => step(false, 30, 3),
        _ => step(true, 0, 4),
    });
    let waiter = RecordingWaiter::new();
    // WHEN the export runs
    let output = run(&export(), &tasks, &waiter, context("run-9"), export_input()).await;
    // THEN the Pace state waited exactly those seconds, and never for 0
    assert!(output.is_ok(), "{output:?}");
    assert_eq!(waiter.waits(), [7, 30].map(Duration::from_secs));
    assert_eq!(tasks.calls_to("export-step").len(), 3);
}

#[tokio::test]
async fn the_export_continues_as_new_at_2000_steps_under_the_history_limit() {
    // GIVEN an export that never finishes on its own, one step at a time
    let tasks = export_tasks(step(false, 0, 1), |steps| step(false, 0, steps + 1));
    // WHEN it runs
    let report = run_with_report(
        &export(),
        &tasks,
        &RecordingWaiter::new(),
        context("run-9"),
        export_input(),
    )
    .await;
    // THEN at 2,000 steps it starts generation 1 of the same run, named after
    // it, on the same machine, and succeeds
    let output = report.output.unwrap();
    assert_eq!(output["next"], json!({"generation": 1}));
    assert_eq!(tasks.calls_to("export-step").len(), 1999);
    assert_eq!(
        tasks.starts(),
        vec![(
            EXPORT_MACHINE.to_owned(),
            "run-9-1".to_owned(),
            json!({"session_id": "s1", "actor": "u1", "run_id": "run-9", "task_id": "t9", "generation": 1})
        )]
    );
    assert!(tasks.calls_to("export-finish").is_empty());
    // AND the execution stayed under Step Functions' 25,000 history events
    assert!(report.history_events < 25_000, "{}", report.history_events);
    assert!(report.history_events > 13_000, "{}", report.history_events);
}

#[tokio::test]
async fn a_continuation_that_already_exists_counts_as_continued() {
    // GIVEN a continuation already started by an earlier attempt
    let tasks = export_tasks(step(false, 0, 2000), |_| panic!("no step"))
        .with_start(|_, _, _| failure("StepFunctions.ExecutionAlreadyExistsException", "exists"));
    // WHEN the export runs
    let output = run_on(&export(), &tasks, export_input()).await.output;
    // THEN it ends as continued, without recording a failure
    assert!(output.is_ok(), "{output:?}");
    assert!(tasks.calls_to("export-finish").is_empty());
}

#[tokio::test]
async fn an_export_task_error_records_the_failure_and_ends_as_export_failed() {
    // GIVEN a step that fails with an error nothing retries
    let tasks = export_tasks(step(false, 0, 1), |_| {
        failure("Jira.Unexpected", "500 from Jira")
    });
    let waiter = RecordingWaiter::new();
    // WHEN the export runs
    let output = run(&export(), &tasks, &waiter, context("run-9"), export_input()).await;
    // THEN RecordFailure gets the error and cause, and the export ends failed
    assert_eq!(
        output.unwrap_err(),
        ExecutionFailure {
            error: "Export.Failed".into(),
            cause: "The export stopped; its status says where and why, and a retry resumes from \
                    that point."
                .into(),
            state: "Stopped".into(),
        }
    );
    assert_eq!(
        tasks.calls_to("export-finish"),
        vec![json!({
            "session_id": "s1", "actor": "u1", "run_id": "run-9", "task_id": "t9",
            "failure": {"Error": "Jira.Unexpected", "Cause": "500 from Jira"}
        })]
    );
    assert!(waiter.waits().is_empty());
}

#[tokio::test]
async fn a_store_outage_is_retried_three_times_before_the_failure_is_recorded() {
    // GIVEN a step that always meets an unavailable store
    let tasks = export_tasks(step(false, 0, 1), |_| failure("Store.Unavailable", "busy"));
    let waiter = RecordingWaiter::new();
    // WHEN the export runs
    let output = run(&export(), &tasks, &waiter, context("run-9"), export_input()).await;
    // THEN the step ran 1 + 3 times with jittered waits under 2, 4, 8 seconds
    assert_eq!(output.unwrap_err().error, "Export.Failed");
    assert_eq!(tasks.calls_to("export-step").len(), 4);
    let waits = waiter.waits();
    assert_eq!(waits.len(), 3);
    for (wait, bound) in waits.iter().zip([2, 4, 8]) {
        assert!(*wait <= Duration::from_secs(bound), "{waits:?}");
    }
}

#[tokio::test]
async fn an_export_already_running_ends_as_export_running() {
    // GIVEN another run holding the export's lease
    let tasks = export_tasks(failure("Export.Running", "lease held"), |_| {
        panic!("no step")
    });
    // WHEN the export runs
    let output = run_on(&export(), &tasks, export_input()).await.output;
    // THEN it ends as Export.Running without touching the other run's state
    let failure = output.unwrap_err();
    assert_eq!(
        (failure.error.as_str(), failure.state.as_str()),
        ("Export.Running", "AlreadyRunning")
    );
    assert!(tasks.calls_to("export-finish").is_empty());
}

// ---------------------------------------------------------------- data flow

fn no_tasks() -> FakeTasks {
    FakeTasks::new(|function, _, _| panic!("unexpected call to {function}"))
}

#[tokio::test]
async fn intrinsics_compute_formatted_strings_sums_json_arrays_and_uuids() {
    // GIVEN a Pass state whose Parameters call intrinsics
    let machine = machine(&with_state(json!({
        "Type": "Pass",
        "Parameters": {
            "format.$": "States.Format('{}-{} is \\'{}\\' ({})', $.run, $.n, $.flag, $.none)",
            "braces.$": "States.Format('\\{{}\\}', $.run)",
            "sum.$": "States.MathAdd($.n, -3)",
            "parsed.$": "States.StringToJson($.json)",
            "text.$": "States.JsonToString($.obj)",
            "array.$": "States.Array($.n, 'x', States.MathAdd(1, 2), true, null)",
            "uuid.$": "States.UUID()",
            "length.$": "States.ArrayLength($.list)",
            "item.$": "States.ArrayGetItem($.list, 1)",
            "contains.$": "States.ArrayContains($.list, 'b')",
            "nested": [{"name.$": "States.Format('gen {}', States.MathAdd($.n, 1))"}],
            "constant": {"kept": "$.not_a_path"}
        },
        "End": true
    })));
    let input = json!({
        "run": "r", "n": 1, "flag": true, "none": null,
        "json": "{\"a\":[1,2]}", "obj": {"b": "c"}, "list": ["a", "b", "c"]
    });
    // WHEN it runs
    let output = run(
        &machine,
        &no_tasks(),
        &RecordingWaiter::new(),
        context("i"),
        input,
    )
    .await
    .unwrap();
    // THEN each intrinsic gives what Step Functions gives
    assert_eq!(output["format"], "r-1 is 'true' (null)");
    assert_eq!(output["braces"], "{r}");
    assert_eq!(output["sum"], -2);
    assert_eq!(output["parsed"], json!({"a": [1, 2]}));
    assert_eq!(output["text"], "{\"b\":\"c\"}");
    assert_eq!(output["array"], json!([1, "x", 3, true, null]));
    let uuid = output["uuid"].as_str().unwrap();
    assert_eq!((uuid.len(), &uuid[14..15]), (36, "4"));
    assert_eq!(output["length"], 3);
    assert_eq!(output["item"], "b");
    assert_eq!(output["contains"], true);
    assert_eq!(output["nested"], json!([{"name": "gen 2"}]));
    assert_eq!(output["constant"], json!({"kept": "$.not_a_path"}));
}

#[tokio::test]
async fn paths_read_the_input_the_context_and_result_and_output_paths_shape_the_data() {
    // GIVEN states reading paths, the context, and shaping input and output
    let machine = machine(&json!({
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Pass",
                "InputPath": "$.data",
                "Parameters": {
                    "second.$": "$.list[1]",
                    "odd.$": "$['odd key']",
                    "deep.$": "$.a.b",
                    "execution.$": "$$.Execution.Name",
                    "execution_id.$": "$$.Execution.Id",
                    "machine.$": "$$.StateMachine.Id",
                    "machine_name.$": "$$.StateMachine.Name",
                    "state.$": "$$.State.Name",
                    "entered.$": "$$.State.EnteredTime",
                    "started.$": "$$.Execution.StartTime",
                    "original.$": "$$.Execution.Input.data.a"
                },
                "ResultPath": "$.read.values",
                "Next": "Keep"
            },
            "Keep": {"Type": "Pass", "Result": {"ignored": true}, "ResultPath": null, "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 3, "OutputPath": "$.read", "Next": "Done"},
            "Done": {"Type": "Succeed", "InputPath": "$.values"}
        }
    }));
    let input = json!({"data": {"list": [1, 2], "odd key": "o", "a": {"b": "c"}}});
    let waiter = RecordingWaiter::new();
    // WHEN it runs
    let output = run(&machine, &no_tasks(), &waiter, context("exec-1"), input)
        .await
        .unwrap();
    // THEN every path selected its node
    assert_eq!(
        output,
        json!({
            "second": 2,
            "odd": "o",
            "deep": "c",
            "execution": "exec-1",
            "execution_id": "arn:aws:states:eu-west-1:123456789012:execution:export:exec-1",
            "machine": EXPORT_MACHINE,
            "machine_name": "export",
            "state": "Read",
            "entered": "2023-11-14T22:13:20.000Z",
            "started": "2023-11-14T22:13:20.000Z",
            "original": {"b": "c"}
        })
    );
    assert_eq!(waiter.waits(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn a_path_that_selects_nothing_fails_the_execution_even_under_catch_all() {
    // GIVEN a task whose Parameters read a missing field, under Retry and Catch States.ALL
    let machine = machine(&json!({
        "StartAt": "S",
        "States": {
            "S": lambda(json!({
                "Parameters": {"FunctionName": "f", "Payload": {"id.$": "$.missing"}},
                "Retry": [{"ErrorEquals": ["States.ALL"]}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
            })),
            "Caught": {"Type": "Succeed"}
        }
    }));
    let waiter = RecordingWaiter::new();
    // WHEN it runs
    let output = run(
        &machine,
        &no_tasks(),
        &waiter,
        context("x"),
        json!({"id": 1}),
    )
    .await;
    // THEN the execution fails with States.Runtime, naming the path, untouched by Retry or Catch
    let failure = output.unwrap_err();
    assert_eq!(
        (failure.error.as_str(), failure.state.as_str()),
        ("States.Runtime", "S")
    );
    assert!(failure.cause.contains("$.missing"), "{}", failure.cause);
    assert!(waiter.waits().is_empty());
}

#[tokio::test]
async fn retry_defaults_wait_one_two_and_four_seconds_then_catch() {
    // GIVEN a retrier with only ErrorEquals (defaults: 1 s, 3 attempts, ×2, no jitter)
    let machine = machine(&json!({
        "StartAt": "S",
        "States": {
            "S": lambda(json!({
                "Retry": [{"ErrorEquals": ["Boom"]}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Caught"}]
            })),
            "Caught": {"Type": "Pass", "End": true}
        }
    }));
    let tasks = FakeTasks::new(|_, _, _| failure("Boom", "always"));
    let waiter = RecordingWaiter::new();
    // WHEN it runs
    let report = run_with_report(&machine, &tasks, &waiter, context("r"), json!({"k": 1})).await;
    // THEN the task ran four times, waiting 1, 2 and 4 seconds, then was caught
    assert_eq!(tasks.calls().len(), 4);
    assert_eq!(waiter.waits(), [1, 2, 4].map(Duration::from_secs));
    assert_eq!(
        report.output.unwrap(),
        json!({"k": 1, "error": {"Error": "Boom", "Cause": "always"}})
    );
    assert_eq!(report.state_transitions, 2 + 3);
    // 2 + S (2 + 4 × 3) + Caught 2.
    assert_eq!(report.history_events, 2 + 14 + 2);
}

#[tokio::test]
async fn an_uncaught_task_error_fails_the_execution_in_its_state() {
    // GIVEN a task without Catch that fails
    let tasks = FakeTasks::new(|_, _, _| failure("Lambda.Unknown", "crash"));
    // WHEN it runs
    let output = run_on(&machine(&with_state(lambda(json!({})))), &tasks, json!({}))
        .await
        .output;
    // THEN the execution fails with the task's error in that state
    assert_eq!(
        output.unwrap_err(),
        ExecutionFailure {
            error: "Lambda.Unknown".into(),
            cause: "crash".into(),
            state: "S".into()
        }
    );
}

#[tokio::test]
async fn choice_rules_combine_and_no_match_without_default_fails() {
    let rules = json!([
        {"And": [
            {"Variable": "$.kind", "StringEquals": "a"},
            {"Not": {"Variable": "$.n", "NumericLessThan": 10}},
            {"Or": [{"Variable": "$.gone", "IsPresent": true}, {"Variable": "$.none", "IsNull": true}]}
        ], "Next": "A"},
        {"Variable": "$.kind", "StringEqualsPath": "$.other", "Next": "Same"},
        {"Variable": "$.n", "NumericLessThanEquals": 1, "Next": "Small"},
        {"Variable": "$.flag", "BooleanEquals": true, "Next": "Flag"}
    ]);
    let machine = machine(&json!({
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": rules},
            "A": {"Type": "Pass", "Result": "a", "End": true},
            "Same": {"Type": "Pass", "Result": "same", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "End": true},
            "Flag": {"Type": "Pass", "Result": "flag", "End": true}
        }
    }));
    let cases = [
        (
            json!({"kind": "a", "n": 10, "none": null, "other": "x", "flag": false}),
            Ok("a"),
        ),
        (
            json!({"kind": "a", "n": 9, "none": null, "other": "a", "flag": false}),
            Ok("same"),
        ),
        (
            json!({"kind": "b", "n": 1, "none": 0, "other": "x", "flag": false}),
            Ok("small"),
        ),
        (
            json!({"kind": "b", "n": "1", "none": 0, "other": "x", "flag": true}),
            Ok("flag"),
        ),
        (
            json!({"kind": "b", "n": 5, "none": 0, "other": "x", "flag": false}),
            Err("States.NoChoiceMatched"),
        ),
        (
            json!({"kind": "b", "n": 5, "none": 0, "other": "x"}),
            Err("States.Runtime"),
        ),
    ];
    for (input, expected) in cases {
        // GIVEN an input WHEN the Choice runs THEN the first matching rule decides
        let output = run(
            &machine,
            &no_tasks(),
            &RecordingWaiter::new(),
            context("c"),
            input.clone(),
        )
        .await;
        match expected {
            Ok(result) => assert_eq!(output.unwrap(), json!(result), "{input}"),
            Err(error) => assert_eq!(output.unwrap_err().error, error, "{input}"),
        }
    }
}

#[tokio::test]
async fn a_runaway_loop_stops_at_the_history_limit() {
    // GIVEN a loop that never ends
    let machine = machine(&json!({
        "StartAt": "Again",
        "States": {"Again": {"Type": "Pass", "Next": "Again"}}
    }));
    // WHEN it runs
    let report = run_on(&machine, &no_tasks(), json!({})).await;
    // THEN it fails with States.Runtime at Step Functions' 25,000 history events
    let failure = report.output.unwrap_err();
    assert_eq!(failure.error, "States.Runtime");
    assert!(failure.cause.contains("25000"), "{}", failure.cause);
    assert_eq!(report.history_events, 25_001);
}

#[tokio::test]
async fn start_execution_takes_a_json_string_input_and_defaults_its_name() {
    // GIVEN a startExecution task with a JSON string input and no name
    let machine = machine(&with_state(json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": "other", "Input.$": "States.JsonToString($)"},
        "End": true
    })));
    let tasks = no_tasks();
    // WHEN it runs
    let output = run_on(&machine, &tasks, json!({"a": 1}))
        .await
        .output
        .unwrap();
    // THEN the execution starts with the parsed input and a UUID name
    let starts = tasks.starts();
    assert_eq!(starts.len(), 1);
    assert_eq!(
        (starts[0].0.as_str(), &starts[0].2),
        ("other", &json!({"a": 1}))
    );
    assert_eq!(starts[0].1.len(), 36);
    assert!(
        output["ExecutionArn"]
            .as_str()
            .unwrap()
            .ends_with(&starts[0].1)
    );
}

// ---------------------------------------------------------------- properties

/// Strings made of the pieces expressions are made of.
fn expression() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "$",
        "$$",
        ".a",
        ".b",
        "[0]",
        "[1",
        "['x']",
        "[*]",
        "..",
        "States.Format(",
        "States.MathAdd(",
        "States.Array(",
        "States.StringToJson(",
        "States.UUID(",
        "States.Hash(",
        "'",
        "'{}'",
        "\\'",
        "\\",
        "{",
        "}",
        ",",
        ")",
        "(",
        " ",
        "1",
        "-2.5",
        "1e999",
        "true",
        "null",
        ".Execution.Name",
        ".Map.Item.Value",
        ".State.RetryCount",
        "é",
        "\u{0}",
    ]);
    prop_oneof![
        prop::collection::vec(token, 0..12).prop_map(|t| t.concat()),
        any::<String>(),
    ]
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "Task",
            "Pass",
            "Map",
            "Choice",
            "Wait",
            "Succeed",
            "Fail",
            "S",
            "T",
            "$",
            "$.a",
            "States.ALL",
            "arn:aws:states:::lambda:invoke",
            "INLINE",
        ])
        .prop_map(Value::from),
        ".*".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop::sample::select(vec![
            "StartAt",
            "States",
            "Type",
            "Next",
            "End",
            "Parameters",
            "x.$",
            "Choices",
            "Variable",
            "ItemProcessor",
            "Retry",
            "Catch",
            "ErrorEquals",
            "ResultPath",
            "S",
            "T",
            "Seconds",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn expressions_never_panic_when_loaded_or_run(text in expression()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let definitions = [
            with_state(json!({"Type": "Pass", "Parameters": {"x.$": text}, "End": true})),
            with_state(json!({"Type": "Pass", "InputPath": text, "End": true})),
            with_state(json!({"Type": "Pass", "ResultPath": text, "End": true})),
            json!({"StartAt": "S", "States": {
                "S": {"Type": "Choice", "Choices": [
                    {"Variable": text, "IsPresent": true, "Next": "T"}], "Default": "T"},
                "T": {"Type": "Succeed"}}}),
        ];
        for definition in definitions {
            if let Ok(machine) = Machine::from_json(&definition.to_string(), &BTreeMap::new()) {
                let input = json!({"a": [1, {"b": "x"}], "x": "{}", "b": 2});
                let _ = runtime.block_on(run(&machine, &no_tasks(), &RecordingWaiter::new(), context("p"), input));
            }
        }
    }

    #[test]
    fn loading_never_panics_on_arbitrary_json(value in arbitrary_json()) {
        let _ = Machine::from_json(&value.to_string(), &BTreeMap::new());
    }

    #[test]
    fn loading_never_panics_on_a_real_definition_with_one_field_replaced(
        file in prop::sample::select(vec!["processing", "export"]),
        state_index in 0usize..20,
        field_index in 0usize..20,
        value in arbitrary_json(),
    ) {
        let functions = if file == "processing" { PROCESSING_FUNCTIONS } else { EXPORT_FUNCTIONS };
        let text = definition(file);
        let mut definition: Value = serde_json::from_str(&text).unwrap();
        let states = definition["States"].as_object_mut().unwrap();
        let name = states.keys().nth(state_index % states.len()).unwrap().clone();
        let state = states[&name].as_object_mut().unwrap();
        let field = state.keys().nth(field_index % state.len()).unwrap().clone();
        state.insert(field, value);
        let _ = Machine::from_json(&definition.to_string(), &substitutions(&functions));
    }
}

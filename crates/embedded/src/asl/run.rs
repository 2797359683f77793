//! Running a loaded [`Machine`]: the ports a caller implements ([`Tasks`]
//! for the task resources, [`Waiter`] for time), and the interpreter.
//!
//! One execution is one future: Map iterations are futures polled together
//! (at most `MaxConcurrency` at once), not spawned tasks, so the ports can be
//! borrowed. The interpreter counts what the execution would cost on Step
//! Functions: state transitions (each state entered and each retry) and
//! history events (execution started and ended; each state entered, and
//! exited unless it failed; three per task call: scheduled, started,
//! succeeded or failed; two per Map run and two per Map iteration). An
//! execution that would pass Step Functions' 25,000 history events fails
//! with `States.Runtime`, as it would there.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use serde_json::{Map, Value, json};

use super::Machine;
use super::intrinsic::random_uuid;
use super::load::{
    Body, DataPath, Kind, MapState, Policy, Resource, ResultPath, STATES_RUNTIME, State, Task,
    Transition, WaitFor, matches,
};
use super::path::{Context, Template, excerpt, kind_of, not_found};

/// Step Functions' limit of history events in one execution.
const MAX_HISTORY_EVENTS: u64 = 25_000;
/// History events of one task call: scheduled, started, succeeded or failed.
const TASK_EVENTS: u64 = 3;
/// The last moment [`timestamp`] writes (9999-12-31T23:59:59Z).
const LAST_SECOND: u64 = 253_402_300_799;

/// The task resources of a machine, implemented by the caller: in-process
/// handlers for `dtg serve`, fakes in tests.
pub trait Tasks: Send + Sync + 'static {
    /// Invokes the function `function` (the `FunctionName` after
    /// substitution) with `payload`, and answers its result (what the
    /// integration wraps in `{"Payload": ..., "StatusCode": 200}`).
    ///
    /// # Errors
    ///
    /// The function's failure: `error` is its error type (e.g.
    /// `Llm.Throttled`), which the state's `Retry` and `Catch` match.
    fn invoke(
        &self,
        function: &str,
        payload: Value,
    ) -> impl Future<Output = Result<Value, TaskFailure>> + Send;

    /// Starts an execution of the machine `machine` (an ARN or a name)
    /// named `name` with `input`, without waiting for it (like
    /// `startExecution` without `.sync`), and answers
    /// `{"ExecutionArn": ..., "StartDate": ...}`.
    ///
    /// # Errors
    ///
    /// The failure to start, e.g. `StepFunctions.ExecutionAlreadyExistsException`
    /// for a name already used.
    fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: Value,
    ) -> impl Future<Output = Result<Value, TaskFailure>> + Send;
}

/// A task's failure, as Step Functions sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The error name (a Lambda's `errorType`), e.g. `Llm.Throttled`.
    pub error: String,
    /// A human-readable cause.
    pub cause: String,
}

impl TaskFailure {
    /// A failure named `error` with `cause`.
    #[must_use]
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskFailure {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Time for a run: the waits of Wait states and retries, and the clock of
/// `$$.State.EnteredTime` and `$$.Execution.StartTime`.
pub trait Waiter: Send + Sync {
    /// Returns after `duration`.
    fn wait(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// The current time.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Waits on the tokio timer (needs a tokio runtime with time enabled).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioWaiter;

impl Waiter for TokioWaiter {
    fn wait(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// Records each wait and returns at once; its clock starts at a fixed time
/// and moves on by the waits, so runs are fast and repeatable (tests,
/// benchmarks).
#[derive(Debug)]
pub struct RecordingWaiter {
    start: SystemTime,
    waits: Mutex<Vec<Duration>>,
}

impl RecordingWaiter {
    /// A waiter whose clock starts at 2023-11-14T22:13:20Z.
    #[must_use]
    pub fn new() -> RecordingWaiter {
        RecordingWaiter::starting_at(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    }

    /// A waiter whose clock starts at `start`.
    #[must_use]
    pub fn starting_at(start: SystemTime) -> RecordingWaiter {
        RecordingWaiter {
            start,
            waits: Mutex::new(Vec::new()),
        }
    }

    /// The waits asked for so far, in order.
    #[must_use]
    pub fn waits(&self) -> Vec<Duration> {
        self.waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Default for RecordingWaiter {
    fn default() -> RecordingWaiter {
        RecordingWaiter::new()
    }
}

impl Waiter for RecordingWaiter {
    fn wait(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
        std::future::ready(())
    }

    fn now(&self) -> SystemTime {
        let waited: Duration = self
            .waits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .sum();
        self.start + waited
    }
}

/// Who is running: what the context object (`$$`) tells the states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionContext {
    /// `$$.Execution.Id`: the execution's ARN.
    pub execution_id: String,
    /// `$$.Execution.Name`.
    pub execution_name: String,
    /// `$$.StateMachine.Id`: the machine's ARN (what a continuation passes
    /// to `startExecution`).
    pub state_machine_id: String,
    /// `$$.StateMachine.Name`.
    pub state_machine_name: String,
}

impl ExecutionContext {
    /// The context of the execution `execution_name` of the machine
    /// `state_machine_id`, with the names and ids derived as Step Functions
    /// derives them: from `arn:aws:states:R:A:stateMachine:M`, the machine
    /// `M` and the execution `arn:aws:states:R:A:execution:M:NAME`; from any
    /// other id, the machine named by it and the execution `ID:NAME`.
    #[must_use]
    pub fn new(
        state_machine_id: impl Into<String>,
        execution_name: impl Into<String>,
    ) -> ExecutionContext {
        let state_machine_id = state_machine_id.into();
        let execution_name = execution_name.into();
        let (state_machine_name, execution_id) = match state_machine_id.split_once(":stateMachine:")
        {
            Some((prefix, machine)) => (
                machine.to_owned(),
                format!("{prefix}:execution:{machine}:{execution_name}"),
            ),
            None => (
                state_machine_id.clone(),
                format!("{state_machine_id}:{execution_name}"),
            ),
        };
        ExecutionContext {
            execution_id,
            execution_name,
            state_machine_id,
            state_machine_name,
        }
    }
}

/// How an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the execution failed in state `{state}` with {error}: {cause}")]
pub struct ExecutionFailure {
    /// The error name: a Fail state's `Error`, an uncaught task error, or
    /// `States.Runtime`, `States.NoChoiceMatched`...
    pub error: String,
    /// The cause.
    pub cause: String,
    /// The state where it failed.
    pub state: String,
}

/// An execution's outcome and what it would cost on Step Functions.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionReport {
    /// The execution's output, or how it failed.
    pub output: Result<Value, ExecutionFailure>,
    /// State transitions: each state entered and each retry (what Step
    /// Functions Standard bills).
    pub state_transitions: u64,
    /// History events, as the module documentation counts them.
    pub history_events: u64,
}

/// Runs `machine` on `input` to its end.
///
/// # Errors
///
/// How the execution failed: a Fail state, an error no `Catch` handled, or a
/// `States.Runtime` error.
pub async fn run(
    machine: &Machine,
    tasks: &impl Tasks,
    waiter: &impl Waiter,
    execution: ExecutionContext,
    input: Value,
) -> Result<Value, ExecutionFailure> {
    run_with_report(machine, tasks, waiter, execution, input)
        .await
        .output
}

/// Runs `machine` on `input` to its end, and counts its state transitions
/// and history events.
pub async fn run_with_report(
    machine: &Machine,
    tasks: &impl Tasks,
    waiter: &impl Waiter,
    execution: ExecutionContext,
    input: Value,
) -> ExecutionReport {
    let runner = Runner {
        tasks,
        waiter,
        execution: &execution,
        input: input.clone(),
        start_time: timestamp(waiter.now()),
        transitions: AtomicU64::new(0),
        // ExecutionStarted, and ExecutionSucceeded or ExecutionFailed.
        events: AtomicU64::new(2),
    };
    let output = runner
        .run_body(machine.body(), input)
        .await
        .map_err(|failure| ExecutionFailure {
            error: failure.error,
            cause: failure.cause,
            state: failure.state,
        });
    ExecutionReport {
        output,
        state_transitions: runner.transitions.into_inner(),
        history_events: runner.events.into_inner(),
    }
}

/// `2024-01-15T10:30:00.123Z`.
fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = i64::try_from(since.as_secs().min(LAST_SECOND)).unwrap_or_default();
    let c = dtg_app::time::civil(seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        since.subsec_millis()
    )
}

/// A uniform delay in `[0, delay]` (`JitterStrategy: FULL`); the whole
/// delay when the system has no randomness to give.
fn jittered(delay: Duration) -> Duration {
    match getrandom::u64() {
        #[allow(clippy::cast_precision_loss)]
        Ok(bits) => delay.mul_f64((bits >> 11) as f64 / (1u64 << 53) as f64),
        Err(_) => delay,
    }
}

/// A failure inside the run.
#[derive(Debug)]
struct Failure {
    error: String,
    cause: String,
    state: String,
}

impl Failure {
    /// A `States.Runtime` error: fails the execution.
    fn runtime(state: &str, cause: impl Into<String>) -> Failure {
        Failure {
            error: STATES_RUNTIME.to_owned(),
            cause: cause.into(),
            state: state.to_owned(),
        }
    }

    fn task(state: &State, failure: TaskFailure) -> Failure {
        Failure {
            error: failure.error,
            cause: failure.cause,
            state: state.name.clone(),
        }
    }

    /// Whether no Retry or Catch may handle it.
    fn is_terminal(&self) -> bool {
        self.error == STATES_RUNTIME
    }
}

/// Where a state leads.
enum Step<'s> {
    /// To the state named, with this input.
    Next(&'s str, Value),
    /// Its scope ends with this output.
    End(Value),
}

impl<'s> Step<'s> {
    fn after(transition: &'s Transition, output: Value) -> Step<'s> {
        match transition {
            Transition::Next(next) => Step::Next(next, output),
            Transition::End => Step::End(output),
        }
    }
}

/// What a state's `Retry` and `Catch` made of a failure.
enum Recovery<'s> {
    /// Try again (the wait is over).
    Retry,
    /// Go to the catcher's state with this input.
    Caught(&'s str, Value),
}

/// One execution in progress.
struct Runner<'a, T, W> {
    tasks: &'a T,
    waiter: &'a W,
    execution: &'a ExecutionContext,
    input: Value,
    start_time: String,
    transitions: AtomicU64,
    events: AtomicU64,
}

/// The node `path` selects in `value` (`InputPath`), copied.
fn select(
    state: &State,
    field: &str,
    path: &DataPath,
    value: &Value,
    context: &Context<'_>,
) -> Result<Value, Failure> {
    match path {
        DataPath::Empty => Ok(Value::Object(Map::new())),
        DataPath::Path(path) => path
            .get(value, context)
            .map(Cow::into_owned)
            .ok_or_else(|| Failure::runtime(&state.name, not_found(path, field, value))),
    }
}

/// The node `path` selects in `value` (`OutputPath`).
fn project(
    state: &State,
    path: &DataPath,
    value: Value,
    context: &Context<'_>,
) -> Result<Value, Failure> {
    match path {
        DataPath::Path(p) if p.is_root() => Ok(value),
        _ => select(state, "OutputPath", path, &value, context),
    }
}

/// `input` with `result` stored at the `ResultPath`.
fn store(
    state: &State,
    result_path: &ResultPath,
    input: Value,
    result: Value,
) -> Result<Value, Failure> {
    match result_path {
        ResultPath::Discard => Ok(input),
        ResultPath::Set(path) => path
            .set(input, result)
            .map_err(|cause| Failure::runtime(&state.name, cause)),
    }
}

/// A task's or Map's output: `ResultSelector`, `ResultPath`, `OutputPath`.
fn conclude(
    state: &State,
    selector: Option<&Template>,
    result_path: &ResultPath,
    input: &Value,
    result: Value,
    context: &Context<'_>,
) -> Result<Value, Failure> {
    let selected = match selector {
        Some(template) => template
            .eval(&result, context)
            .map_err(|cause| Failure::runtime(&state.name, format!("ResultSelector: {cause}")))?,
        None => result,
    };
    let combined = store(state, result_path, input.clone(), selected)?;
    project(state, &state.output_path, combined, context)
}

/// A `SecondsPath` value: a non-negative integer.
fn seconds_of(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|s| s.fract() == 0.0 && *s >= 0.0 && *s <= 99_999_999.0)
            .map(|s| s as u64)
    })
}

/// The string parameter `name` of a task's evaluated `Parameters`.
fn text_parameter(state: &State, parameters: &Value, name: &str) -> Result<String, Failure> {
    match parameters.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(Failure::runtime(
            &state.name,
            format!(
                "Parameters.{name} must be a string, it is {}",
                kind_of(other)
            ),
        )),
        None => Err(Failure::runtime(
            &state.name,
            format!("Parameters.{name} is missing"),
        )),
    }
}

impl<'a, T: Tasks, W: Waiter> Runner<'a, T, W> {
    fn count(&self, events: u64) {
        self.events.fetch_add(events, Ordering::Relaxed);
    }

    /// Counts a state entered; fails past the history limit.
    fn enter(&self, state: &str) -> Result<(), Failure> {
        self.transitions.fetch_add(1, Ordering::Relaxed);
        let events = self.events.fetch_add(1, Ordering::Relaxed) + 1;
        if events > MAX_HISTORY_EVENTS {
            return Err(Failure::runtime(
                state,
                format!(
                    "The execution reached Step Functions' limit of {MAX_HISTORY_EVENTS} history \
                     events; go on in a new execution before it (as the export machine does)"
                ),
            ));
        }
        Ok(())
    }

    fn context<'c>(&'c self, state: &'c str, entered: &'c str, retry_count: u32) -> Context<'c> {
        Context {
            execution_id: &self.execution.execution_id,
            execution_name: &self.execution.execution_name,
            execution_input: &self.input,
            execution_start_time: &self.start_time,
            state_machine_id: &self.execution.state_machine_id,
            state_machine_name: &self.execution.state_machine_name,
            state_name: state,
            state_entered_time: entered,
            state_retry_count: retry_count,
            map_item: None,
        }
    }

    /// Runs a scope from its `StartAt` to its end (boxed: a Map runs scopes
    /// within its own).
    fn run_body<'s>(
        &'s self,
        body: &'s Body,
        input: Value,
    ) -> BoxFuture<'s, Result<Value, Failure>> {
        Box::pin(async move {
            let mut name = body.start_at.as_str();
            let mut input = input;
            loop {
                let Some(state) = body.states.get(name) else {
                    return Err(Failure::runtime(
                        name,
                        format!("there is no state `{name}`"),
                    ));
                };
                self.enter(name)?;
                let entered = timestamp(self.waiter.now());
                let step = self.state(state, input, &entered).await?;
                // The state exited.
                self.count(1);
                match step {
                    Step::Next(next, output) => {
                        name = next;
                        input = output;
                    }
                    Step::End(output) => return Ok(output),
                }
            }
        })
    }

    async fn state<'s>(
        &'s self,
        state: &'s State,
        input: Value,
        entered: &str,
    ) -> Result<Step<'s>, Failure> {
        let context = self.context(&state.name, entered, 0);
        match &state.kind {
            Kind::Task(task) => self.task(state, task, input, entered).await,
            Kind::Map(map) => self.map(state, map, input, entered).await,
            Kind::Pass(pass) => {
                let effective = select(state, "InputPath", &state.input_path, &input, &context)?;
                let result = match (&pass.result, &pass.parameters) {
                    (Some(result), _) => result.clone(),
                    (None, Some(template)) => template
                        .eval(&effective, &context)
                        .map_err(|cause| Failure::runtime(&state.name, cause))?,
                    (None, None) => effective,
                };
                let combined = store(state, &pass.result_path, input, result)?;
                let output = project(state, &state.output_path, combined, &context)?;
                Ok(Step::after(&pass.next, output))
            }
            Kind::Wait(wait) => {
                let effective = select(state, "InputPath", &state.input_path, &input, &context)?;
                let seconds = match &wait.wait_for {
                    WaitFor::Seconds(seconds) => *seconds,
                    WaitFor::SecondsPath(path) => {
                        let value = path.get(&effective, &context).ok_or_else(|| {
                            Failure::runtime(
                                &state.name,
                                not_found(path, "SecondsPath", &effective),
                            )
                        })?;
                        seconds_of(&value).ok_or_else(|| {
                            Failure::runtime(
                                &state.name,
                                format!(
                                    "The SecondsPath `{}` must select a non-negative integer, it \
                                     selects {}",
                                    path.text(),
                                    excerpt(&value)
                                ),
                            )
                        })?
                    }
                };
                self.waiter.wait(Duration::from_secs(seconds)).await;
                let output = project(state, &state.output_path, effective, &context)?;
                Ok(Step::after(&wait.next, output))
            }
            Kind::Choice(choice) => {
                let effective = select(state, "InputPath", &state.input_path, &input, &context)?;
                let mut next = choice.default.as_deref();
                for (rule, to) in &choice.rules {
                    if rule
                        .holds(&effective, &context)
                        .map_err(|cause| Failure::runtime(&state.name, cause))?
                    {
                        next = Some(to);
                        break;
                    }
                }
                let Some(next) = next else {
                    return Err(Failure {
                        error: "States.NoChoiceMatched".to_owned(),
                        cause: format!(
                            "No Choices rule of `{}` matched its input {} and it has no Default",
                            state.name,
                            excerpt(&effective)
                        ),
                        state: state.name.clone(),
                    });
                };
                let output = project(state, &state.output_path, effective, &context)?;
                Ok(Step::Next(next, output))
            }
            Kind::Succeed => {
                let effective = select(state, "InputPath", &state.input_path, &input, &context)?;
                Ok(Step::End(project(
                    state,
                    &state.output_path,
                    effective,
                    &context,
                )?))
            }
            Kind::Fail { error, cause } => Err(Failure {
                error: error.clone(),
                cause: cause.clone(),
                state: state.name.clone(),
            }),
        }
    }

    /// After a failure: retry (having waited), catch, or fail the state.
    async fn recover<'s>(
        &'s self,
        state: &'s State,
        policy: &'s Policy,
        spent: &mut [u32],
        failure: Failure,
        input: &Value,
    ) -> Result<Recovery<'s>, Failure> {
        if failure.is_terminal() {
            return Err(failure);
        }
        let retrier = policy
            .retry
            .iter()
            .zip(spent.iter_mut())
            .find(|(retrier, _)| matches(&retrier.errors, &failure.error));
        if let Some((retrier, spent)) = retrier
            && *spent < retrier.max_attempts
        {
            let delay = retrier.delay(*spent);
            let delay = if retrier.full_jitter {
                jittered(delay)
            } else {
                delay
            };
            *spent += 1;
            self.transitions.fetch_add(1, Ordering::Relaxed);
            self.waiter.wait(delay).await;
            return Ok(Recovery::Retry);
        }
        if let Some(catcher) = policy
            .catch
            .iter()
            .find(|catcher| matches(&catcher.errors, &failure.error))
        {
            let error = json!({"Error": failure.error, "Cause": failure.cause});
            let output = store(state, &catcher.result_path, input.clone(), error)?;
            return Ok(Recovery::Caught(&catcher.next, output));
        }
        Err(Failure {
            state: state.name.clone(),
            ..failure
        })
    }

    async fn task<'s>(
        &'s self,
        state: &'s State,
        task: &'s Task,
        input: Value,
        entered: &str,
    ) -> Result<Step<'s>, Failure> {
        let context = self.context(&state.name, entered, 0);
        let effective = select(state, "InputPath", &state.input_path, &input, &context)?;
        let mut spent = vec![0; task.policy.retry.len()];
        let mut retry_count = 0;
        loop {
            let attempt = self
                .task_attempt(state, task, &input, &effective, entered, retry_count)
                .await;
            match attempt {
                Ok(output) => return Ok(Step::after(&task.next, output)),
                Err(failure) => match self
                    .recover(state, &task.policy, &mut spent, failure, &input)
                    .await?
                {
                    Recovery::Retry => retry_count += 1,
                    Recovery::Caught(next, output) => return Ok(Step::Next(next, output)),
                },
            }
        }
    }

    async fn task_attempt(
        &self,
        state: &State,
        task: &Task,
        input: &Value,
        effective: &Value,
        entered: &str,
        retry_count: u32,
    ) -> Result<Value, Failure> {
        let context = self.context(&state.name, entered, retry_count);
        let mut parameters = task
            .parameters
            .eval(effective, &context)
            .map_err(|cause| Failure::runtime(&state.name, cause))?;
        let result = match task.resource {
            Resource::LambdaInvoke => {
                let function = text_parameter(state, &parameters, "FunctionName")?;
                let payload = parameters
                    .as_object_mut()
                    .and_then(|fields| fields.remove("Payload"))
                    .unwrap_or_else(|| effective.clone());
                self.count(TASK_EVENTS);
                let answer = self
                    .tasks
                    .invoke(&function, payload)
                    .await
                    .map_err(|failure| Failure::task(state, failure))?;
                json!({"Payload": answer, "StatusCode": 200})
            }
            Resource::StartExecution => {
                let machine = text_parameter(state, &parameters, "StateMachineArn")?;
                let name = match parameters.get("Name") {
                    None => random_uuid().map_err(|cause| Failure::runtime(&state.name, cause))?,
                    Some(_) => text_parameter(state, &parameters, "Name")?,
                };
                let execution_input = match parameters.get("Input") {
                    None => Value::Object(Map::new()),
                    Some(Value::String(text)) => {
                        serde_json::from_str(text).map_err(|e| Failure {
                            error: "StepFunctions.InvalidExecutionInputException".to_owned(),
                            cause: format!("Parameters.Input is a string that is not JSON: {e}"),
                            state: state.name.clone(),
                        })?
                    }
                    Some(value) => value.clone(),
                };
                self.count(TASK_EVENTS);
                self.tasks
                    .start_execution(&machine, &name, execution_input)
                    .await
                    .map_err(|failure| Failure::task(state, failure))?
            }
        };
        conclude(
            state,
            task.result_selector.as_ref(),
            &task.result_path,
            input,
            result,
            &context,
        )
    }

    async fn map<'s>(
        &'s self,
        state: &'s State,
        map: &'s MapState,
        input: Value,
        entered: &str,
    ) -> Result<Step<'s>, Failure> {
        let context = self.context(&state.name, entered, 0);
        let effective = select(state, "InputPath", &state.input_path, &input, &context)?;
        let mut spent = vec![0; map.policy.retry.len()];
        let mut retry_count = 0;
        loop {
            let attempt = self
                .map_attempt(state, map, &input, &effective, entered, retry_count)
                .await;
            match attempt {
                Ok(output) => return Ok(Step::after(&map.next, output)),
                Err(failure) => match self
                    .recover(state, &map.policy, &mut spent, failure, &input)
                    .await?
                {
                    Recovery::Retry => retry_count += 1,
                    Recovery::Caught(next, output) => return Ok(Step::Next(next, output)),
                },
            }
        }
    }

    async fn map_attempt<'s>(
        &'s self,
        state: &'s State,
        map: &'s MapState,
        input: &Value,
        effective: &Value,
        entered: &str,
        retry_count: u32,
    ) -> Result<Value, Failure> {
        let context = self.context(&state.name, entered, retry_count);
        let selected = map.items_path.get(effective, &context).ok_or_else(|| {
            Failure::runtime(
                &state.name,
                not_found(&map.items_path, "ItemsPath", effective),
            )
        })?;
        let Value::Array(items) = selected.as_ref() else {
            return Err(Failure::runtime(
                &state.name,
                format!(
                    "The ItemsPath `{}` must select an array, it selects {}",
                    map.items_path.text(),
                    kind_of(&selected)
                ),
            ));
        };
        let inputs = items
            .iter()
            .enumerate()
            .map(|(index, item)| match &map.item_selector {
                Some(selector) => selector.eval(
                    effective,
                    &Context {
                        map_item: Some((index, item)),
                        ..context
                    },
                ),
                None => Ok(item.clone()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|cause| Failure::runtime(&state.name, format!("ItemSelector: {cause}")))?;
        // MapStateStarted, and MapStateSucceeded or MapStateFailed.
        self.count(2);
        let count = inputs.len();
        let limit = match map.max_concurrency {
            0 => count.max(1),
            n => n,
        };
        let processor = &map.processor;
        let mut iterations = stream::iter(inputs.into_iter().enumerate())
            .map(|(index, item)| async move {
                // MapIterationStarted, and MapIterationSucceeded or Failed.
                self.count(2);
                (index, self.run_body(processor, item).await)
            })
            .buffer_unordered(limit);
        let mut outputs = vec![Value::Null; count];
        while let Some((index, outcome)) = iterations.next().await {
            let output = outcome?;
            if let Some(slot) = outputs.get_mut(index) {
                *slot = output;
            }
        }
        drop(iterations);
        conclude(
            state,
            map.result_selector.as_ref(),
            &map.result_path,
            input,
            Value::Array(outputs),
            &context,
        )
    }
}

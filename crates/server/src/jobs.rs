//! Long work in-process, in the production shape: validation runs at once
//! (the upload queue's direct call), processing and export run the very
//! `statemachine/*.asl.json` files the deployment runs on Step Functions,
//! through the embedded ASL runner, each `Task` resolved to the in-process
//! handler of its Lambda ([`dtg_tasks::invoke`]). Progress goes to the hub;
//! a failure is recorded where the client polls it (the task and the
//! session), never lost in a log.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use dtg_app::jobs::{Job, JobError, JobRun, Jobs};
use dtg_app::store::{Blobs, Table};
use dtg_core::csv::Limits;
use dtg_embedded::Hub;
use dtg_embedded::asl::{
    ExecutionContext, Machine, TaskFailure, Tasks, TokioWaiter, run_with_report,
};
use dtg_jira::SiteAccess;
use dtg_llm::LlmConfig;
use dtg_tasks::{TaskContext, functions};
use serde_json::Value;

/// The processing machine, as deployed.
pub const PROCESSING_ASL: &str = include_str!("../../../statemachine/processing.asl.json");
/// The export machine, as deployed.
pub const EXPORT_ASL: &str = include_str!("../../../statemachine/export.asl.json");

/// The machines' names in-process (their `$$.StateMachine.Id`).
const PROCESSING: &str = "processing";
const EXPORT: &str = "export";

/// The `DefinitionSubstitutions` in-process: each function's ARN is its name.
#[must_use]
pub fn substitutions() -> BTreeMap<String, String> {
    [
        ("PlanFunctionArn", functions::PLAN),
        ("GenerateChunkFunctionArn", functions::GENERATE_CHUNK),
        ("AssembleFunctionArn", functions::ASSEMBLE),
        ("ExportPrepareFunctionArn", functions::EXPORT_PREPARE),
        ("ExportStepFunctionArn", functions::EXPORT_STEP),
        ("ExportFinishFunctionArn", functions::EXPORT_FINISH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Runs jobs as tokio tasks.
pub struct LocalJobs<T: Table, B: Blobs> {
    inner: Arc<Inner<T, B>>,
}

impl<T: Table, B: Blobs> Clone for LocalJobs<T, B> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<T: Table, B: Blobs> {
    ctx: TaskContext<T, B, Hub, SiteAccess<T>>,
    processing: Machine,
    export: Machine,
    /// Executions running now, by machine and name: a second start of the
    /// same name is the same execution, as on Step Functions.
    running: Mutex<BTreeSet<(String, String)>>,
}

impl<T: Table, B: Blobs> std::fmt::Debug for LocalJobs<T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalJobs")
            .field("providers", &self.inner.ctx.llm.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why the in-process machines cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("the state machine {machine} cannot run in-process: {source}")]
pub struct MachineError {
    machine: &'static str,
    #[source]
    source: dtg_embedded::asl::AslError,
}

impl<T: Table, B: Blobs> LocalJobs<T, B> {
    /// Jobs over these ports; `llm` maps each offered provider to its configuration.
    ///
    /// # Errors
    /// A machine file outside the runner's subset (a build of mismatched files).
    pub fn new(
        table: Arc<T>,
        blobs: Arc<B>,
        jira: Arc<SiteAccess<T>>,
        hub: Arc<Hub>,
        llm: BTreeMap<String, LlmConfig>,
    ) -> Result<Self, MachineError> {
        let subs = substitutions();
        let processing =
            Machine::from_json(PROCESSING_ASL, &subs).map_err(|source| MachineError {
                machine: PROCESSING,
                source,
            })?;
        let export = Machine::from_json(EXPORT_ASL, &subs).map_err(|source| MachineError {
            machine: EXPORT,
            source,
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                ctx: TaskContext {
                    table,
                    blobs,
                    publish: hub,
                    jira,
                    llm,
                    limits: Limits::default(),
                    plans: dtg_app::export::PlanCache::default(),
                },
                processing,
                export,
                running: Mutex::new(BTreeSet::new()),
            }),
        })
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl<T: Table, B: Blobs> Jobs for LocalJobs<T, B> {
    async fn start(&self, job: Job) -> Result<(), JobError> {
        let offered = |p: &str| self.inner.ctx.llm.contains_key(p);
        match job.into_run(offered, new_id())? {
            JobRun::Validate(run) => {
                let inner = Arc::clone(&self.inner);
                tokio::spawn(async move {
                    if let Err(e) = send(dtg_tasks::uploads::validate(&inner.ctx, &run)).await {
                        tracing::error!(session = %run.session_id, error = %e, "validation failed");
                    }
                });
                Ok(())
            }
            JobRun::Process(run) => {
                let input = to_value(&run)?;
                Inner::start(&self.inner, PROCESSING, run.task_id, input)
                    .map_err(|f| JobError::Unavailable(f.cause))
            }
            JobRun::Export(run) => {
                let input = to_value(&run)?;
                match Inner::start(&self.inner, EXPORT, run.run_id, input) {
                    Ok(()) => Ok(()),
                    // The same run: it runs already.
                    Err(f) if f.error == ALREADY_EXISTS => Ok(()),
                    Err(f) => Err(JobError::Unavailable(f.cause)),
                }
            }
        }
    }
}

fn to_value<V: serde::Serialize>(value: &V) -> Result<Value, JobError> {
    serde_json::to_value(value).map_err(|e| JobError::Unavailable(e.to_string()))
}

const ALREADY_EXISTS: &str = "StepFunctions.ExecutionAlreadyExistsException";

impl<T: Table, B: Blobs> Inner<T, B> {
    /// Starts an execution of `machine` named `name` as a tokio task.
    fn start(
        inner: &Arc<Self>,
        machine: &'static str,
        name: String,
        input: Value,
    ) -> Result<(), TaskFailure> {
        let key = (machine.to_owned(), name.clone());
        if !inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone())
        {
            return Err(TaskFailure::new(
                ALREADY_EXISTS,
                format!("an execution named {name} of {machine} is running"),
            ));
        }
        let runner = Arc::clone(inner);
        tokio::spawn(async move {
            let definition = if machine == EXPORT {
                &runner.export
            } else {
                &runner.processing
            };
            let tasks = InProcess(Arc::clone(&runner));
            let report = send(run_with_report(
                definition,
                &tasks,
                &TokioWaiter,
                ExecutionContext::new(machine, name.clone()),
                input,
            ))
            .await;
            match &report.output {
                Ok(_) => tracing::info!(
                    machine,
                    execution = %name,
                    transitions = report.state_transitions,
                    events = report.history_events,
                    "execution succeeded"
                ),
                Err(failure) => tracing::warn!(
                    machine,
                    execution = %name,
                    error = %failure.error,
                    cause = %failure.cause,
                    state = %failure.state,
                    "execution failed"
                ),
            }
            runner
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        });
        Ok(())
    }
}

/// The machines' tasks, resolved to the in-process handlers.
struct InProcess<T: Table, B: Blobs>(Arc<Inner<T, B>>);

impl<T: Table, B: Blobs> Tasks for InProcess<T, B> {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        send(dtg_tasks::invoke(&self.0.ctx, function, payload))
            .await
            .map_err(|e| TaskFailure::new(e.error_type(), e.to_string()))
    }

    async fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: Value,
    ) -> Result<Value, TaskFailure> {
        let machine = match machine {
            EXPORT => EXPORT,
            PROCESSING => PROCESSING,
            other => {
                return Err(TaskFailure::new(
                    "StepFunctions.StateMachineDoesNotExistException",
                    format!("there is no state machine {other}"),
                ));
            }
        };
        Inner::start(&self.0, machine, name.to_owned(), input)?;
        Ok(serde_json::json!({
            "ExecutionArn": format!("{machine}:{name}"),
            "StartDate": dtg_app::export::rfc3339(dtg_tasks::now()),
        }))
    }
}

/// Boxes a future as `Send`, where the compiler cannot prove it through
/// the ports' generic futures on its own.
fn send<'a, T>(
    future: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}

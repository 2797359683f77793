//! The tasks of the state machines (`statemachine/*.asl.json`) and of the
//! upload queue: one handler per Lambda of the serverless shape, over the
//! ports, so the same code runs in a Lambda (`functions/*`) and in-process
//! under `dtg serve` (the embedded state-machine runner calls [`invoke`]).
//!
//! Each handler takes the small JSON its state passes (ids, a chunk index,
//! a step count: never a plan, to stay far under Step Functions' 256 KB),
//! reads and writes the table and the blobs, publishes progress, and
//! answers small JSON again. Failures carry a stable error type
//! ([`TaskError::error_type`]) that the machines' `Retry` and `Catch` match.

mod context;
mod error;
pub mod export;
pub mod processing;
pub mod uploads;
pub mod websocket;

pub use context::{StateError, TaskContext, now};
pub use error::TaskError;

use dtg_app::jira::JiraAccess;
use dtg_app::progress::Publish;
use dtg_app::store::{Blobs, Table};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The function names the machines' `FunctionName`s resolve to in-process
/// (and the Lambda binaries' names).
pub mod functions {
    /// Plans the tickets and names the chunks.
    pub const PLAN: &str = "plan";
    /// Writes one chunk with the model.
    pub const GENERATE_CHUNK: &str = "generate-chunk";
    /// Assembles the chunks (or records a processing failure).
    pub const ASSEMBLE: &str = "assemble";
    /// Prepares an export run and runs its first step.
    pub const EXPORT_PREPARE: &str = "export-prepare";
    /// Runs one step of an export.
    pub const EXPORT_STEP: &str = "export-step";
    /// Ends an export run (or records its failure).
    pub const EXPORT_FINISH: &str = "export-finish";
    /// Every task function of the two machines.
    pub const ALL: [&str; 6] = [
        PLAN,
        GENERATE_CHUNK,
        ASSEMBLE,
        EXPORT_PREPARE,
        EXPORT_STEP,
        EXPORT_FINISH,
    ];
}

/// One task function, chosen when a binary is built: a Lambda runs its
/// task through this, and links that task's code alone (not every task's,
/// as a dispatch on the name at run time would).
pub trait TaskFunction {
    /// The function's name ([`functions`]).
    const NAME: &'static str;

    /// Runs the task with `payload`, as its Lambda would.
    ///
    /// # Errors
    /// [`TaskError::Input`] for a payload it cannot read; the task's own
    /// failures.
    fn run<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
        ctx: &TaskContext<T, B, P, A>,
        payload: serde_json::Value,
    ) -> impl Future<Output = Result<serde_json::Value, TaskError>>;
}

macro_rules! task_function {
    ($(#[$doc:meta])* $ty:ident, $name:expr, $task:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;

        impl TaskFunction for $ty {
            const NAME: &'static str = $name;

            async fn run<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
                ctx: &TaskContext<T, B, P, A>,
                payload: serde_json::Value,
            ) -> Result<serde_json::Value, TaskError> {
                answer($task(ctx, input(payload)?).await)
            }
        }
    };
}

task_function!(
    /// The `plan` task.
    Plan, functions::PLAN, processing::plan
);
task_function!(
    /// The `generate-chunk` task.
    GenerateChunk, functions::GENERATE_CHUNK, processing::generate_chunk
);
task_function!(
    /// The `assemble` task.
    Assemble, functions::ASSEMBLE, processing::assemble
);
task_function!(
    /// The `export-prepare` task.
    ExportPrepare, functions::EXPORT_PREPARE, export::prepare
);
task_function!(
    /// The `export-step` task.
    ExportStep, functions::EXPORT_STEP, export::step
);
task_function!(
    /// The `export-finish` task.
    ExportFinish, functions::EXPORT_FINISH, export::finish
);

/// Runs the task `function` with `payload`, as its Lambda would (the
/// embedded runner, which runs every task in one process).
///
/// # Errors
/// [`TaskError::Input`] for an unknown function or a payload it cannot
/// read; the task's own failures.
pub async fn invoke<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    function: &str,
    payload: serde_json::Value,
) -> Result<serde_json::Value, TaskError> {
    match function {
        functions::PLAN => Plan::run(ctx, payload).await,
        functions::GENERATE_CHUNK => GenerateChunk::run(ctx, payload).await,
        functions::ASSEMBLE => Assemble::run(ctx, payload).await,
        functions::EXPORT_PREPARE => ExportPrepare::run(ctx, payload).await,
        functions::EXPORT_STEP => ExportStep::run(ctx, payload).await,
        functions::EXPORT_FINISH => ExportFinish::run(ctx, payload).await,
        other => Err(TaskError::Input(format!(
            "there is no task function {other:?} (known: {})",
            functions::ALL.join(", ")
        ))),
    }
}

/// Reads a task's input.
///
/// # Errors
/// [`TaskError::Input`] naming what is wrong.
pub fn input<I: DeserializeOwned>(payload: serde_json::Value) -> Result<I, TaskError> {
    serde_json::from_value(payload).map_err(|e| TaskError::Input(e.to_string()))
}

fn answer<O: Serialize>(output: Result<O, TaskError>) -> Result<serde_json::Value, TaskError> {
    serde_json::to_value(output?).map_err(|e| TaskError::Input(e.to_string()))
}

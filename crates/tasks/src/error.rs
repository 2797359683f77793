//! Task failures, with the stable error types the state machines match.

use dtg_app::export::ExportError;
use dtg_app::repo::RepoError;
use dtg_app::store::StoreError;
use dtg_app::workflow::WorkflowError;

/// Why a task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The input is not what the task reads (a bug in the machine, or a
    /// hand-made call): never retried.
    #[error("the task's input is not what it reads: {0}")]
    Input(String),
    /// The provider refused the key or the model, or is not offered: the
    /// processing stops.
    #[error("{0}")]
    LlmFatal(String),
    /// The provider asked to slow down: the machine retries with backoff.
    #[error("{0}")]
    LlmThrottled(String),
    /// The provider did not answer: the chunk keeps the planner's text.
    #[error("{0}")]
    LlmUnavailable(String),
    /// A stage's use case refused or failed.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The export refused or failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The repositories failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The blob store failed.
    #[error(transparent)]
    Blobs(#[from] StoreError),
}

impl TaskError {
    /// The stable error type the machines' `Retry` and `Catch` match
    /// (`errorType` of the Lambda's answer).
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Input(_) => "Input.Invalid",
            Self::LlmFatal(_) => "Llm.Fatal",
            Self::LlmThrottled(_) => "Llm.Throttled",
            Self::LlmUnavailable(_) => "Llm.Unavailable",
            Self::Blobs(e) => store_type(e),
            Self::Repo(e) => repo_type(e),
            Self::Workflow(e) => match e {
                WorkflowError::Repo(e) => repo_type(e),
                WorkflowError::Blobs(e) => store_type(e),
                WorkflowError::NoSession(_) => "Session.NotFound",
                WorkflowError::WrongStage { .. } => "Session.WrongStage",
                _ => "Session.Invalid",
            },
            Self::Export(e) => match e {
                ExportError::Running { .. } => "Export.Running",
                ExportError::Repo(e) => repo_type(e),
                ExportError::NoSession(_) => "Session.NotFound",
                ExportError::WrongStage { .. } => "Session.WrongStage",
                _ => "Export.Refused",
            },
        }
    }
}

fn repo_type(e: &RepoError) -> &'static str {
    match e {
        RepoError::Store(e) => store_type(e),
        RepoError::Conflict(_) => "Store.Conflict",
        RepoError::NotFound(_) => "Session.NotFound",
        _ => "Store.Corrupt",
    }
}

fn store_type(e: &StoreError) -> &'static str {
    match e {
        StoreError::Conflict { .. } => "Store.Conflict",
        StoreError::NotFound { .. } => "Store.NotFound",
        StoreError::Invalid(_) => "Store.Invalid",
        StoreError::Throttled(_) | StoreError::Unexpected(_) => "Store.Unavailable",
    }
}

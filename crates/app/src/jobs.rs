//! The port that starts a stage's long work: validating uploaded files,
//! planning (and wording) tickets, exporting to Jira. The HTTP API asks for
//! the work and answers at once (202); where it runs is the adapter's
//! business: state machines and queues in production, tasks of the same
//! process under `dtg serve`.

use dtg_core::plan::Granularity;
use serde::{Deserialize, Serialize};

/// A language model to word the tickets with, among those the server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WordingChoice {
    /// Provider name (`openai`, `anthropic`, `openai_compatible`).
    pub provider: String,
    /// Model name.
    pub model: String,
}

/// Long work of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Validate the uploaded files.
    Validate {
        /// Session id.
        session: String,
        /// Who asked.
        actor: String,
    },
    /// Plan the tickets, then word them with a model when one is chosen.
    Process {
        /// Session id.
        session: String,
        /// Who asked.
        actor: String,
        /// Ticket granularity.
        granularity: Granularity,
        /// The model that words the tickets; `None` keeps the planner's text.
        wording: Option<WordingChoice>,
    },
    /// Run a started export to its end (or its next stop).
    Export {
        /// Session id.
        session: String,
        /// Who asked (whose Jira credentials are used).
        actor: String,
        /// The run that started (or resumed) it, whose lease the driver takes over.
        run: String,
    },
}

impl Job {
    /// The session the job works on.
    #[must_use]
    pub fn session(&self) -> &str {
        match self {
            Self::Validate { session, .. }
            | Self::Process { session, .. }
            | Self::Export { session, .. } => session,
        }
    }
}

/// Why work could not be started.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The runner is not available now (retry later).
    #[error("the work could not be started now: {0}")]
    Unavailable(String),
    /// The job names something the runner does not offer (a model, a provider).
    #[error("{0}")]
    Refused(String),
}

/// Starts long work; returns once it is accepted, not when it is done.
pub trait Jobs: Send + Sync + 'static {
    /// Accepts `job`.
    ///
    /// # Errors
    /// [`JobError::Unavailable`] when it cannot be queued; [`JobError::Refused`]
    /// for a job the runner does not offer.
    fn start(&self, job: Job) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// The input of a processing execution (the processing machine's first
/// state reads it; its name is `task_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingRun {
    /// Session id.
    pub session_id: String,
    /// The processing run (the execution's name).
    pub task_id: String,
    /// Who asked.
    pub actor: String,
    /// Ticket granularity.
    pub granularity: Granularity,
    /// The model that words the tickets; `None` keeps the planner's text.
    #[serde(default)]
    pub wording: Option<WordingChoice>,
}

/// The input of an export execution; its name is `run_id` (then
/// `run_id-1`, `run_id-2`... for continuations), so starting the same run
/// twice starts one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRun {
    /// Session id.
    pub session_id: String,
    /// Whose Jira credentials are used.
    pub actor: String,
    /// The run that started (or resumed) the export: its lease holder.
    pub run_id: String,
    /// The export task's id, when known.
    #[serde(default)]
    pub task_id: String,
    /// Which execution of the run (0 for the first).
    #[serde(default)]
    pub generation: u32,
}

/// A message on the upload queue: validate a session's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateRun {
    /// Session id.
    pub session_id: String,
    /// Who asked.
    pub actor: String,
    /// The run's id.
    pub run_id: String,
}

/// A job as its runner starts it: the input of its queue message or
/// state-machine execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRun {
    /// A validation message.
    Validate(ValidateRun),
    /// A processing execution, named by its `task_id`.
    Process(ProcessingRun),
    /// An export execution, named by its `run_id`.
    Export(ExportRun),
}

impl Job {
    /// The run that starts this job, with `id` as the id of a new
    /// validation or processing run; a model whose provider `offered` does
    /// not accept is refused.
    ///
    /// # Errors
    /// [`JobError::Refused`] for a provider not offered.
    pub fn into_run(self, offered: impl Fn(&str) -> bool, id: String) -> Result<JobRun, JobError> {
        Ok(match self {
            Self::Validate { session, actor } => JobRun::Validate(ValidateRun {
                session_id: session,
                actor,
                run_id: id,
            }),
            Self::Process {
                session,
                actor,
                granularity,
                wording,
            } => {
                if let Some(choice) = &wording
                    && !offered(&choice.provider)
                {
                    return Err(JobError::Refused(format!(
                        "this deployment does not offer {}",
                        choice.provider
                    )));
                }
                JobRun::Process(ProcessingRun {
                    session_id: session,
                    task_id: id,
                    actor,
                    granularity,
                    wording,
                })
            }
            Self::Export {
                session,
                actor,
                run,
            } => JobRun::Export(ExportRun {
                session_id: session,
                actor,
                run_id: run,
                task_id: String::new(),
                generation: 0,
            }),
        })
    }
}

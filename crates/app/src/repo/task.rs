//! Tasks: a validation, processing, generation or export run of a session,
//! with its status, progress and error, as the client polls them.

use serde::{Deserialize, Serialize};

use super::{Repos, Result, Session, Versioned};
use crate::store::{Table, Timestamp, keys};

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Validating uploaded files.
    Validation,
    /// Planning tickets.
    Processing,
    /// Writing ticket prose with a model.
    Generation,
    /// Checking descriptions against the ADF schema.
    AdfValidation,
    /// Creating the tickets in Jira.
    Export,
}

impl TaskKind {
    /// The name used in ids and messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::Processing => "processing",
            Self::Generation => "generation",
            Self::AdfValidation => "adf_validation",
            Self::Export => "export",
        }
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting to run.
    Queued,
    /// Running.
    Running,
    /// Finished.
    Succeeded,
    /// Stopped on an error.
    Failed,
    /// Stopped by the user.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task has ended.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// How far a task is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    /// Steps done.
    pub done: u64,
    /// Steps in all (0 while unknown).
    pub total: u64,
    /// What it is doing now.
    pub message: String,
}

/// Why a task failed, in the product's error categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskError {
    /// Error category (`authentication`, `network`, `validation`, ...).
    pub category: String,
    /// What went wrong and how to recover.
    pub message: String,
}

/// A task of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    /// Id within the session.
    pub id: String,
    /// What it does.
    pub kind: TaskKind,
    /// Where it is.
    pub status: TaskStatus,
    /// How far it is.
    #[serde(default)]
    pub progress: Progress,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<TaskError>,
    /// What it produced (counts, usage, cost), for the client to show.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: Timestamp,
}

impl<T: Table> Repos<'_, T> {
    /// Stores a new task.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when a task with that id exists.
    pub async fn insert_task(
        &self,
        session: &Session,
        task: &Task,
        now: Timestamp,
    ) -> Result<Versioned<Task>> {
        let version = self
            .store(
                &keys::session(&session.id),
                &keys::task(&task.id),
                task,
                None,
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: task.clone(),
            version,
        })
    }

    /// Reads a task.
    ///
    /// # Errors
    /// Store failures.
    pub async fn task(
        &self,
        session: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<Task>>> {
        self.load(&keys::session(session), &keys::task(id), now)
            .await
    }

    /// Replaces a task read at `version`, stamping `updated_at`.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when it changed since it was read.
    pub async fn update_task(
        &self,
        session: &Session,
        current: &Versioned<Task>,
        mut task: Task,
        now: Timestamp,
    ) -> Result<Versioned<Task>> {
        task.updated_at = now;
        let version = self
            .store(
                &keys::session(&session.id),
                &keys::task(&task.id),
                &task,
                Some(current.version),
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: task,
            version,
        })
    }

    /// Every task of a session, in id order.
    ///
    /// # Errors
    /// Store failures; a stored task of another shape.
    pub async fn tasks(&self, session: &str, now: Timestamp) -> Result<Vec<Versioned<Task>>> {
        self.load_all(&keys::session(session), keys::prefix::TASKS, now)
            .await
    }
}

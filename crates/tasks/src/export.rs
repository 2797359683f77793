//! The export machine's tasks: `export-prepare` (the run's first step),
//! `export-step` (one step of the engine: a bulk create, a page of links,
//! an attachment), `export-finish` (the end, or a failure the engine did not
//! see). The machine waits between steps as each step asks (`wait_seconds`),
//! so no task sleeps to pace Jira.

use dtg_app::export::{
    ErrorCategory, ExportFailure, StepReport, SystemClock, classify, drive_step, fail_run,
    finish_run,
};
use dtg_app::jira::JiraAccess;
use dtg_app::progress::Publish;
use dtg_app::store::{Blobs, Table};
use serde::{Deserialize, Serialize};

use crate::context::now;
use crate::{StateError, TaskContext, TaskError};

/// What each export task is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportInput {
    /// Session id.
    pub session_id: String,
    /// Whose Jira credentials are used.
    pub actor: String,
    /// The run that started (or resumed) the export: the lease holder.
    pub run_id: String,
    /// The export task's id.
    #[serde(default)]
    pub task_id: String,
    /// Which execution of the run this is (0, then 1, 2... after each
    /// continuation near the history limit).
    #[serde(default)]
    pub generation: u32,
    /// Steps this execution ran so far.
    #[serde(default)]
    pub steps: u64,
    /// Set when a state failed outside the engine.
    #[serde(default)]
    pub failure: Option<StateError>,
}

/// What a step answers: the machine's `Choice` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutput {
    /// Completed, or stopped on a failure: nothing more to step.
    pub done: bool,
    /// Seconds to wait before the next step (0: go on at once).
    pub wait_seconds: u64,
    /// Steps this execution ran, this one included.
    pub steps: u64,
}

/// The run's first step (the engine's prepare phase: the project checked
/// afresh, lost creates looked for). The descriptions' ADF check ran when the
/// export was asked for (`begin_export`), moments before.
///
/// # Errors
/// As [`step`].
pub async fn prepare<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: ExportInput,
) -> Result<StepOutput, TaskError> {
    step(ctx, ExportInput { steps: 0, ..input }).await
}

/// Runs one step of the export under the run's lease and publishes its
/// progress. Jira's failures stop the export in the engine (the answer is
/// then `done`); credentials that cannot be had stop it the same way.
///
/// # Errors
/// `Export.Running` when another run holds the lease; store failures.
pub async fn step<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: ExportInput,
) -> Result<StepOutput, TaskError> {
    let repos = ctx.repos();
    let session = repos
        .session(&input.session_id, now())
        .await?
        .ok_or_else(|| TaskError::Input(format!("there is no session {}", input.session_id)))?;
    let target = session.value.jira.clone();
    let client = match &target {
        Some(target) => ctx.jira.client(&input.actor, &target.site).await,
        None => {
            return Err(TaskError::Input(format!(
                "session {} names no Jira site",
                input.session_id
            )));
        }
    };
    let report = match client {
        Ok(client) => {
            drive_step(
                &repos,
                &client,
                ctx.publish.as_ref(),
                &SystemClock,
                &ctx.plans,
                &input.session_id,
                &input.actor,
                &input.run_id,
            )
            .await?
        }
        Err(e) => {
            let project = target.map(|t| t.project_key).unwrap_or_default();
            fail_run(
                &repos,
                ctx.publish.as_ref(),
                &SystemClock,
                &input.session_id,
                &input.run_id,
                classify(&e, &project, now()),
            )
            .await?
        }
    };
    Ok(output(&report, input.steps + 1))
}

fn output(report: &StepReport, steps: u64) -> StepOutput {
    let wait = report.wait_hint;
    StepOutput {
        done: report.done,
        wait_seconds: if report.done {
            0
        } else {
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        },
        steps,
    }
}

/// The end of a run: publishes `export_complete` or `export_failed` and
/// releases the lease; with `failure` (a state failed outside the engine:
/// a timeout, a crash), first records it as the export's failure point, in
/// the seed's category `temporary`, retry available.
///
/// # Errors
/// Store failures.
pub async fn finish<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: ExportInput,
) -> Result<StepOutput, TaskError> {
    let repos = ctx.repos();
    let report = match &input.failure {
        None => {
            finish_run(
                &repos,
                ctx.publish.as_ref(),
                &SystemClock,
                &input.session_id,
                &input.run_id,
            )
            .await?
        }
        Some(failed) => {
            let failure = ExportFailure {
                error_category: ErrorCategory::Temporary,
                code: "export_task_failed".to_owned(),
                user_message: format!(
                    "The export stopped: one of its steps failed ({}: {}).",
                    failed.error,
                    failed.message()
                ),
                recovery_actions: vec![
                    "Retry the export: it resumes where it stopped and creates nothing twice"
                        .to_owned(),
                ],
                failed_at_ticket_order: None,
                ticket_id: None,
                retry_available: true,
                at: now(),
            };
            fail_run(
                &repos,
                ctx.publish.as_ref(),
                &SystemClock,
                &input.session_id,
                &input.run_id,
                failure,
            )
            .await?
        }
    };
    Ok(output(&report, input.steps))
}

//! The upload queue's work: validation jobs the HTTP API sends, and the
//! blob store's events for files arriving.

use dtg_app::jira::JiraAccess;
use dtg_app::progress::Publish;
use dtg_app::store::{Blobs, Table};
use dtg_app::workflow::{Run, validate_session_with};

use crate::context::now;
use crate::{TaskContext, TaskError};

/// A validation job: validate a session's confirmed files.
pub use dtg_app::jobs::ValidateRun as ValidateJob;

/// Validates the session's files, publishing `validation_*` messages.
///
/// # Errors
/// A session at a stage that cannot validate; store failures.
pub async fn validate<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    job: &ValidateJob,
) -> Result<(), TaskError> {
    let repos = ctx.repos();
    validate_session_with(
        &repos,
        ctx.blobs.as_ref(),
        ctx.publish.as_ref(),
        &job.session_id,
        &ctx.limits,
        Run {
            actor: &job.actor,
            id: &job.run_id,
            now: now(),
        },
    )
    .await?;
    Ok(())
}

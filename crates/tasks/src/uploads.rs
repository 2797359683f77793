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

/// What an arriving blob came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Not a session's uploaded file (an attachment, a chunk request): nothing to do.
    Ignored,
    /// Other files of the upload are still on their way.
    Waiting,
    /// The browser confirmed the upload first: its validation runs already.
    AlreadyConfirmed,
    /// The last file arrived: the upload is confirmed and validated.
    Validated,
    /// The upload cannot be confirmed (a file over its limit): the
    /// browser's confirmation says why.
    Refused(String),
}

/// The session a blob key is an uploaded file of (`sessions/{id}/files/...`).
#[must_use]
pub fn session_of_upload(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("sessions/")?;
    let (session, rest) = rest.split_once('/')?;
    (rest.starts_with("files/") && !session.is_empty()).then_some(session)
}

/// A blob arrived (the store's event): when it is the last file of a
/// session's upload, confirms the upload and validates it, so the files are
/// checked even if the browser never confirms. Safe to receive twice, and
/// after the browser's confirmation.
///
/// # Errors
/// Store failures.
pub async fn arrived<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    key: &str,
) -> Result<Arrival, TaskError> {
    use dtg_app::upload::{UploadError, confirm_uploads};
    let Some(session_id) = session_of_upload(key) else {
        return Ok(Arrival::Ignored);
    };
    let repos = ctx.repos();
    let Some(session) = repos.session(session_id, now()).await? else {
        return Ok(Arrival::Ignored);
    };
    let owner = session.value.owner.clone();
    let run_id = format!("upload-{}", now());
    let run = Run {
        actor: &owner,
        id: &run_id,
        now: now(),
    };
    match confirm_uploads(&repos, ctx.blobs.as_ref(), session_id, &ctx.limits, run).await {
        Ok(_) => {}
        Err(UploadError::Missing(_)) => return Ok(Arrival::Waiting),
        Err(UploadError::NothingPending) => return Ok(Arrival::AlreadyConfirmed),
        Err(UploadError::Repo(e)) => return Err(e.into()),
        Err(UploadError::Blobs(e)) => return Err(e.into()),
        Err(e) => return Ok(Arrival::Refused(e.to_string())),
    }
    validate(
        ctx,
        &ValidateJob {
            session_id: session_id.to_owned(),
            actor: owner,
            run_id,
        },
    )
    .await?;
    Ok(Arrival::Validated)
}

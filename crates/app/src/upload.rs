//! Uploads from a browser: the files go straight to the blob store with
//! presigned URLs (S3 in production, the local server's signed URLs under
//! `dtg serve`), then a confirmation turns them into the session's files,
//! replacing the ones it had, and validation can run.
//!
//! Limits are enforced twice: on what the browser declares when it asks for
//! URLs, and on what actually arrived when it confirms, so a file larger than
//! it said is refused, never cut short.

use std::time::Duration;

use dtg_core::csv::Limits;
use dtg_core::session::{Position, Stage, Status};
use serde::{Deserialize, Serialize};

use crate::repo::{FileRecord, FileStatus, RepoError, Repos, Session, Versioned};
use crate::store::{Blobs, Condition, StoreError, Table, Timestamp, TransactOp, keys, query_all};
use crate::workflow::{Run, file_blob_key};

/// Presigned upload URLs last this long (15 minutes).
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

/// A file the browser is about to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadRequest {
    /// File name (`content_types.csv`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where to upload one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadSlot {
    /// The file's id in the session.
    pub file_id: String,
    /// File name.
    pub name: String,
    /// The URL to send the bytes to.
    pub url: String,
    /// The HTTP method (`PUT`).
    pub method: String,
    /// The `Content-Type` to send.
    pub content_type: String,
    /// When the URL stops working (Unix seconds).
    pub expires_at: Timestamp,
}

/// A pending upload, kept until it is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingUpload {
    id: String,
    name: String,
    blob_key: String,
    declared_size: u64,
    requested_at: Timestamp,
}

/// What an upload can fail with.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No such session.
    #[error("there is no session {0}")]
    NoSession(String),
    /// The session is past the point where files can change.
    #[error("session {session} is at {position}, where its files cannot change")]
    WrongStage {
        /// Session id.
        session: String,
        /// Where it is.
        position: Position,
    },
    /// Over a limit.
    #[error("{0}")]
    Limit(String),
    /// A file name that cannot be a CSV file.
    #[error("{0}")]
    BadName(String),
    /// Confirmed before any URL was asked for.
    #[error("no upload is waiting for confirmation; ask for upload URLs first")]
    NothingPending,
    /// Some files were not uploaded.
    #[error("these files were not uploaded yet: {}; send each to its URL, then confirm", .0.join(", "))]
    Missing(Vec<String>),
    /// A repository call failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The blob store failed.
    #[error(transparent)]
    Blobs(#[from] StoreError),
}

fn may_take_files(position: Position) -> bool {
    matches!(
        (position.stage, position.status),
        (Stage::Setup | Stage::Upload | Stage::Review, Status::Active)
            | (Stage::Processing, Status::Failed)
            | (Stage::Upload, Status::Validating)
    )
}

async fn load<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<Versioned<Session>, UploadError> {
    let found = repos
        .session(session, now)
        .await?
        .ok_or_else(|| UploadError::NoSession(session.to_owned()))?;
    if !may_take_files(found.value.position) {
        return Err(UploadError::WrongStage {
            session: session.to_owned(),
            position: found.value.position,
        });
    }
    Ok(found)
}

async fn pending<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<Vec<(u64, PendingUpload)>, UploadError> {
    let items = query_all(
        repos.table(),
        &keys::session(session),
        keys::prefix::UPLOADS,
        now,
    )
    .await
    .map_err(RepoError::from)?;
    items
        .into_iter()
        .map(|item| {
            let value = serde_json::from_value(item.body).map_err(|source| RepoError::Corrupt {
                what: format!("{} {}", item.pk, item.sk),
                source,
            })?;
            Ok((item.version, value))
        })
        .collect()
}

/// Checks the declared files against the limits and hands out one presigned
/// PUT URL for each. Uploads asked for earlier and never confirmed are
/// dropped.
///
/// # Errors
/// [`UploadError::Limit`] over the count or size limits (nothing is handed
/// out); [`UploadError::BadName`] for a name that is not a `.csv` file;
/// [`UploadError::WrongStage`] once processing or export started.
pub async fn request_uploads<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    files: &[UploadRequest],
    limits: &Limits,
    run: Run<'_>,
) -> Result<Vec<UploadSlot>, UploadError> {
    let current = load(repos, session, run.now).await?;
    if files.is_empty() {
        return Err(UploadError::Limit(
            "name at least one file to upload".to_owned(),
        ));
    }
    if files.len() > limits.max_files {
        return Err(UploadError::Limit(format!(
            "{} files is more than the {} one upload takes; upload the site's files in one set of at most {}",
            files.len(),
            limits.max_files,
            limits.max_files
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        let name = f.name.trim();
        if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            return Err(UploadError::BadName(format!(
                "{:?} is not a usable file name; name it like content_types.csv",
                f.name
            )));
        }
        if !name.to_ascii_lowercase().ends_with(".csv") {
            return Err(UploadError::BadName(format!(
                "{name} is not a CSV file; export the sheet as CSV (.csv) and upload that"
            )));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(UploadError::BadName(format!(
                "{name} is named twice; each file of a site once"
            )));
        }
        if f.size as usize > limits.max_file_bytes {
            return Err(UploadError::Limit(format!(
                "{name} is {} bytes, over the limit of {} bytes per file; split the sheet",
                f.size, limits.max_file_bytes
            )));
        }
    }
    drop_pending(repos, blobs, session, run.now).await?;
    let mut slots = Vec::with_capacity(files.len());
    let mut ops = Vec::with_capacity(files.len());
    let pk = keys::session(session);
    let expires_in = Duration::from_secs(UPLOAD_URL_SECONDS);
    for (n, f) in files.iter().enumerate() {
        let id = format!("{}-{n:03}", run.id);
        let name = f.name.trim().to_owned();
        let blob_key = file_blob_key(session, &id, &name);
        let url = blobs
            .presign_put(&blob_key, "text/csv", expires_in, run.now)
            .await?;
        let record = PendingUpload {
            id: id.clone(),
            name: name.clone(),
            blob_key,
            declared_size: f.size,
            requested_at: run.now,
        };
        let body = serde_json::to_value(&record).map_err(|source| RepoError::Corrupt {
            what: format!("{pk} {}", keys::upload(&id)),
            source,
        })?;
        ops.push(TransactOp::Put(
            crate::store::Item {
                pk: pk.clone(),
                sk: keys::upload(&id),
                body,
                version: 1,
                expires_at: Some(current.value.expires_at),
            },
            Condition::Absent,
        ));
        slots.push(UploadSlot {
            file_id: id,
            name,
            url,
            method: "PUT".to_owned(),
            content_type: "text/csv".to_owned(),
            expires_at: run.now + i64::try_from(UPLOAD_URL_SECONDS).unwrap_or(i64::MAX),
        });
    }
    repos.transact_in_batches(ops, run.now).await?;
    Ok(slots)
}

async fn drop_pending<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    now: Timestamp,
) -> Result<(), UploadError> {
    let old = pending(repos, session, now).await?;
    let ops = old
        .iter()
        .map(|(_, p)| TransactOp::Delete {
            pk: keys::session(session),
            sk: keys::upload(&p.id),
            condition: Condition::None,
        })
        .collect();
    repos.transact_in_batches(ops, now).await?;
    for (_, p) in old {
        blobs.delete(&p.blob_key).await?;
    }
    Ok(())
}

/// Turns the uploaded files into the session's files, replacing the ones it
/// had, and brings the session to the upload stage, ready to validate.
/// Every file must have arrived within its limit, or nothing changes.
///
/// # Errors
/// [`UploadError::NothingPending`] before URLs were asked for;
/// [`UploadError::Missing`] naming the files not uploaded;
/// [`UploadError::Limit`] for a file larger than the limit.
pub async fn confirm_uploads<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    limits: &Limits,
    run: Run<'_>,
) -> Result<Vec<FileRecord>, UploadError> {
    let current = load(repos, session, run.now).await?;
    let waiting = pending(repos, session, run.now).await?;
    if waiting.is_empty() {
        return Err(UploadError::NothingPending);
    }
    let mut records = Vec::with_capacity(waiting.len());
    let mut missing = Vec::new();
    for (_, p) in &waiting {
        match blobs.get(&p.blob_key).await? {
            None => missing.push(p.name.clone()),
            Some(bytes) if bytes.len() > limits.max_file_bytes => {
                return Err(UploadError::Limit(format!(
                    "{} is {} bytes, over the limit of {} bytes per file; split the sheet and upload again",
                    p.name,
                    bytes.len(),
                    limits.max_file_bytes
                )));
            }
            Some(bytes) => records.push(FileRecord {
                id: p.id.clone(),
                name: p.name.clone(),
                blob_key: p.blob_key.clone(),
                size: bytes.len() as u64,
                status: FileStatus::Uploaded,
                report: None,
                findings: Vec::new(),
                uploaded_at: run.now,
            }),
        }
    }
    if !missing.is_empty() {
        return Err(UploadError::Missing(missing));
    }
    let position = current.value.position;
    let upload = Position::new(Stage::Upload, Status::Active);
    let current = if position == upload || position.status == Status::Validating {
        current
    } else {
        repos.move_session(&current, upload, run.now).await?
    };
    let old = repos.files(session, run.now).await?;
    let pk = keys::session(session);
    let mut ops: Vec<TransactOp> = waiting
        .iter()
        .map(|(version, p)| TransactOp::Delete {
            pk: pk.clone(),
            sk: keys::upload(&p.id),
            condition: Condition::VersionIs(*version),
        })
        .collect();
    ops.extend(old.iter().map(|f| TransactOp::Delete {
        pk: pk.clone(),
        sk: keys::file(&f.value.id),
        condition: Condition::None,
    }));
    repos.transact_in_batches(ops, run.now).await?;
    repos
        .insert_files(&current.value, &records, run.now)
        .await?;
    for f in &old {
        blobs.delete(&f.value.blob_key).await?;
    }
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    repos
        .append_audit(
            &current.value,
            &crate::repo::AuditEntry {
                id: format!("{}-files.uploaded", run.id),
                at: run.now,
                actor: run.actor.to_owned(),
                action: "files.uploaded".to_owned(),
                detail: serde_json::json!({ "files": names, "replaced": old.len() }),
            },
        )
        .await?;
    Ok(records)
}

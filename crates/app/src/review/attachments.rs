//! Files a reviewer attaches to a ticket: the browser asks for a presigned
//! upload URL, sends the bytes straight to the blob store, then confirms; the
//! confirmation checks what arrived. Records live beside the ticket
//! (`ATTACH#<ticket>#<id>`) and expire, and are deleted, with the session;
//! deleting or merging the ticket deletes or moves them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Result, ReviewError, audit, check_stage, delete, load_session, put};
use crate::repo::{RepoError, Repos, Versioned};
use crate::store::{Blobs, Condition, StoreError, Table, Timestamp, TransactOp, keys};
use crate::workflow::Run;

/// The largest attachment, in bytes (10 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

/// The most attachments one ticket may have.
pub const MAX_ATTACHMENTS_PER_TICKET: usize = 20;

/// How long an attachment's upload URL works (15 minutes).
pub const ATTACHMENT_URL_SECONDS: u64 = 15 * 60;

/// How often a write lost to a concurrent change is tried again.
const ATTEMPTS: usize = 8;

/// Where an attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AttachmentStatus {
    /// Its upload URL was handed out; the bytes are not confirmed yet.
    Pending,
    /// The bytes arrived and were checked.
    Uploaded,
}

/// A file attached to a ticket in review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentRecord {
    /// Id, unique within the session.
    pub id: String,
    /// The ticket it is attached to.
    pub ticket_id: String,
    /// The file's name, as given (without any folder).
    pub file_name: String,
    /// Its content type.
    pub content_type: String,
    /// Its size in bytes: as declared while pending, as received once uploaded.
    pub size: u64,
    /// Where its bytes are in the blob store.
    pub blob_key: String,
    /// Whether the bytes arrived.
    pub status: AttachmentStatus,
    /// When the upload was asked for.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Timestamp,
}

/// A name made of letters, digits, `.`, `-` and `_` only.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The blob key of an attachment.
#[must_use]
pub fn attachment_blob_key(session: &str, ticket: &str, id: &str, file_name: &str) -> String {
    format!(
        "sessions/{session}/attachments/{}/{}/{}",
        safe(ticket),
        safe(id),
        safe(file_name)
    )
}

/// The name without any folder, trimmed; refused when empty, too long or
/// holding control characters.
fn file_name(given: &str) -> Result<String> {
    let name = given.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.chars().count() > 255
        || name.chars().any(char::is_control)
    {
        return Err(ReviewError::BadFileName {
            file_name: given.to_owned(),
        });
    }
    Ok(name.to_owned())
}

/// `type/subtype` (parameters allowed); empty means `application/octet-stream`.
fn content_type(given: &str) -> Result<String> {
    let value = given.trim();
    if value.is_empty() {
        return Ok("application/octet-stream".to_owned());
    }
    let essence = value.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let ok = value.len() <= 255
        && !value.chars().any(char::is_control)
        && essence
            .split_once('/')
            .is_some_and(|(a, b)| token(a) && token(b));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ReviewError::BadContentType {
            content_type: given.to_owned(),
        })
    }
}

/// A ticket's attachments with their versions, in id order.
pub(super) async fn load<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    ticket: &str,
    now: Timestamp,
) -> Result<Vec<Versioned<AttachmentRecord>>> {
    Ok(repos
        .load_all(&keys::session(session), &keys::attachments_of(ticket), now)
        .await?)
}

async fn load_one<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    ticket: &str,
    id: &str,
    now: Timestamp,
) -> Result<Versioned<AttachmentRecord>> {
    repos
        .load(&keys::session(session), &keys::attachment(ticket, id), now)
        .await?
        .ok_or_else(|| ReviewError::NoAttachment {
            ticket: ticket.to_owned(),
            id: id.to_owned(),
        })
}

/// Applies `ops` in one transaction; `Ok(false)` when a condition failed.
async fn landed<T: Table>(
    repos: &Repos<'_, T>,
    ops: Vec<TransactOp>,
    now: Timestamp,
) -> Result<bool> {
    match repos.table().transact(ops, now).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(RepoError::from(e).into()),
    }
}

fn gave_up(session: &str, sk: &str) -> ReviewError {
    RepoError::Conflict(format!("{} {sk}", keys::session(session))).into()
}

/// Records a pending attachment on a ticket and hands out the URL to PUT its
/// bytes to (with the record's `content_type`).
///
/// # Errors
/// [`ReviewError::AttachmentTooLarge`] over [`MAX_ATTACHMENT_BYTES`];
/// [`ReviewError::TooManyAttachments`] at [`MAX_ATTACHMENTS_PER_TICKET`];
/// [`ReviewError::BadFileName`], [`ReviewError::BadContentType`];
/// [`ReviewError::NoTicket`]; [`ReviewError::WrongStage`] outside review.
#[allow(clippy::too_many_arguments)]
pub async fn request_attachment_upload<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    ticket: &str,
    file_name_given: &str,
    content_type_given: &str,
    size: u64,
    run: Run<'_>,
) -> Result<(AttachmentRecord, String)> {
    let name = file_name(file_name_given)?;
    let content_type = content_type(content_type_given)?;
    if size > MAX_ATTACHMENT_BYTES {
        return Err(ReviewError::AttachmentTooLarge {
            file_name: name,
            size,
            limit: MAX_ATTACHMENT_BYTES,
        });
    }
    let id = safe(run.id);
    let record = AttachmentRecord {
        blob_key: attachment_blob_key(session, ticket, &id, &name),
        id: id.clone(),
        ticket_id: ticket.to_owned(),
        file_name: name,
        content_type,
        size,
        status: AttachmentStatus::Pending,
        created_at: run.now,
    };
    let mut url = None;
    for _ in 0..ATTEMPTS {
        let current = load_session(repos, session, run.now).await?;
        check_stage(&current.value, "attach a file")?;
        let found = repos
            .ticket(session, ticket, run.now)
            .await?
            .ok_or_else(|| ReviewError::NoTicket {
                id: ticket.to_owned(),
            })?;
        if load(repos, session, ticket, run.now).await?.len() >= MAX_ATTACHMENTS_PER_TICKET {
            return Err(ReviewError::TooManyAttachments {
                ticket: ticket.to_owned(),
                limit: MAX_ATTACHMENTS_PER_TICKET,
            });
        }
        if url.is_none() {
            url = Some(
                blobs
                    .presign_put(
                        &record.blob_key,
                        &record.content_type,
                        Duration::from_secs(ATTACHMENT_URL_SECONDS),
                        run.now,
                    )
                    .await?,
            );
        }
        let s = &current.value;
        let ops = vec![
            put(
                s,
                keys::attachment(ticket, &id),
                &record,
                1,
                Condition::Absent,
            )?,
            // The ticket must still be there (not deleted or merged away).
            TransactOp::Check {
                pk: keys::session(session),
                sk: keys::ticket(ticket),
                condition: Condition::VersionIs(found.version),
            },
            audit(
                s,
                run,
                "attachment.requested",
                serde_json::json!({
                    "ticket": ticket, "attachment": id, "file_name": record.file_name, "size": size,
                }),
            )?,
        ];
        if landed(repos, ops, run.now).await? {
            return Ok((record, url.unwrap_or_default()));
        }
    }
    Err(gave_up(session, &keys::attachment(ticket, &id)))
}

/// Checks that an attachment's bytes arrived within the limit and marks it
/// uploaded with the size received. Confirming an uploaded one returns it.
///
/// # Errors
/// [`ReviewError::NotUploaded`] before the bytes arrived;
/// [`ReviewError::AttachmentTooLarge`] when more than the limit arrived (the
/// bytes are dropped); [`ReviewError::NoAttachment`];
/// [`ReviewError::WrongStage`] outside review.
pub async fn confirm_attachment<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    ticket: &str,
    attachment: &str,
    run: Run<'_>,
) -> Result<AttachmentRecord> {
    for _ in 0..ATTEMPTS {
        let current = load_session(repos, session, run.now).await?;
        check_stage(&current.value, "confirm an attachment")?;
        let record = load_one(repos, session, ticket, attachment, run.now).await?;
        if record.value.status == AttachmentStatus::Uploaded {
            return Ok(record.value);
        }
        let Some(bytes) = blobs.get(&record.value.blob_key).await? else {
            return Err(ReviewError::NotUploaded {
                file_name: record.value.file_name,
            });
        };
        let size = bytes.len() as u64;
        drop(bytes);
        if size > MAX_ATTACHMENT_BYTES {
            blobs.delete(&record.value.blob_key).await?;
            return Err(ReviewError::AttachmentTooLarge {
                file_name: record.value.file_name,
                size,
                limit: MAX_ATTACHMENT_BYTES,
            });
        }
        let uploaded = AttachmentRecord {
            size,
            status: AttachmentStatus::Uploaded,
            ..record.value.clone()
        };
        let s = &current.value;
        let ops = vec![
            put(
                s,
                keys::attachment(ticket, attachment),
                &uploaded,
                record.version + 1,
                Condition::VersionIs(record.version),
            )?,
            audit(
                s,
                run,
                "attachment.uploaded",
                serde_json::json!({
                    "ticket": ticket, "attachment": attachment,
                    "file_name": uploaded.file_name, "size": size,
                }),
            )?,
        ];
        if landed(repos, ops, run.now).await? {
            return Ok(uploaded);
        }
    }
    Err(gave_up(session, &keys::attachment(ticket, attachment)))
}

/// A ticket's attachments, pending and uploaded, in id order.
///
/// # Errors
/// [`ReviewError::NoSession`]; store failures.
pub async fn attachments<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    ticket: &str,
    now: Timestamp,
) -> Result<Vec<AttachmentRecord>> {
    load_session(repos, session, now).await?;
    Ok(load(repos, session, ticket, now)
        .await?
        .into_iter()
        .map(|a| a.value)
        .collect())
}

/// Deletes an attachment: its record, then its bytes.
///
/// # Errors
/// [`ReviewError::NoAttachment`]; [`ReviewError::WrongStage`] outside review;
/// blob store failures once the record is gone.
pub async fn delete_attachment<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    ticket: &str,
    attachment: &str,
    run: Run<'_>,
) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let current = load_session(repos, session, run.now).await?;
        check_stage(&current.value, "delete an attachment")?;
        let record = load_one(repos, session, ticket, attachment, run.now).await?;
        let s = &current.value;
        let ops = vec![
            delete(s, keys::attachment(ticket, attachment), record.version),
            audit(
                s,
                run,
                "attachment.deleted",
                serde_json::json!({
                    "ticket": ticket, "attachment": attachment, "file_name": record.value.file_name,
                }),
            )?,
        ];
        if landed(repos, ops, run.now).await? {
            blobs.delete(&record.value.blob_key).await?;
            return Ok(());
        }
    }
    Err(gave_up(session, &keys::attachment(ticket, attachment)))
}

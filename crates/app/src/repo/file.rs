//! Uploaded files: where the bytes are, what they were detected as, and what
//! validation found in them.

use serde::{Deserialize, Serialize};

use dtg_core::csv::FileReport;
use dtg_core::finding::Finding;

use super::{Repos, Result, Session, Versioned, item};
use crate::store::{Condition, Table, Timestamp, TransactOp, keys};

/// Where a file is in validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Stored, not validated yet.
    Uploaded,
    /// Validated without errors.
    Valid,
    /// Validated with errors.
    Invalid,
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileRecord {
    /// Id within the session.
    pub id: String,
    /// Name as uploaded.
    pub name: String,
    /// Key of its bytes in the blob store.
    pub blob_key: String,
    /// Size in bytes.
    pub size: u64,
    /// Where it is in validation.
    pub status: FileStatus,
    /// What validation read it as.
    #[serde(default)]
    pub report: Option<FileReport>,
    /// What validation found in it.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// When it was uploaded.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub uploaded_at: Timestamp,
}

impl<T: Table> Repos<'_, T> {
    /// Stores a new file record.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when a file with that id exists.
    pub async fn insert_file(
        &self,
        session: &Session,
        file: &FileRecord,
        now: Timestamp,
    ) -> Result<Versioned<FileRecord>> {
        let version = self
            .store(
                &keys::session(&session.id),
                &keys::file(&file.id),
                file,
                None,
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: file.clone(),
            version,
        })
    }

    /// Replaces a file record read at `version`.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when it changed since it was read.
    pub async fn update_file(
        &self,
        session: &Session,
        current: &Versioned<FileRecord>,
        file: FileRecord,
        now: Timestamp,
    ) -> Result<Versioned<FileRecord>> {
        let version = self
            .store(
                &keys::session(&session.id),
                &keys::file(&file.id),
                &file,
                Some(current.version),
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: file,
            version,
        })
    }

    /// Every file of a session, in id order.
    ///
    /// # Errors
    /// Store failures; a stored file of another shape.
    pub async fn files(&self, session: &str, now: Timestamp) -> Result<Vec<Versioned<FileRecord>>> {
        self.load_all(&keys::session(session), keys::prefix::FILES, now)
            .await
    }

    /// Removes file records (their blobs are the caller's to delete).
    ///
    /// # Errors
    /// Store failures.
    pub async fn delete_files(&self, session: &str, ids: &[String], now: Timestamp) -> Result<()> {
        let ops = ids
            .iter()
            .map(|id| TransactOp::Delete {
                pk: keys::session(session),
                sk: keys::file(id),
                condition: Condition::None,
            })
            .collect();
        self.transact_in_batches(ops, now).await
    }

    /// Stores many new file records, in transactions of
    /// [`crate::store::MAX_TRANSACTION_OPS`].
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when one of the ids is taken (that batch is not written).
    pub async fn insert_files(
        &self,
        session: &Session,
        files: &[FileRecord],
        now: Timestamp,
    ) -> Result<()> {
        let pk = keys::session(&session.id);
        let ops = files
            .iter()
            .map(|f| {
                let (put, absent) =
                    item(&pk, &keys::file(&f.id), f, None, Some(session.expires_at))?;
                Ok(TransactOp::Put(put, absent))
            })
            .collect::<Result<Vec<_>>>()?;
        self.transact_in_batches(ops, now).await
    }
}

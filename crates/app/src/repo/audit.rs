//! The audit log of a session: who did what, when, in time order. Entries
//! are only ever added.

use serde::{Deserialize, Serialize};

use super::{Repos, Result, Session};
use crate::store::{Table, Timestamp, keys};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Id, unique within the session (with `at`, the entry's key).
    pub id: String,
    /// When it happened.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: Timestamp,
    /// Who did it (user id, or `system`).
    pub actor: String,
    /// What was done (`session.created`, `files.validated`, `plan.saved`, ...).
    pub action: String,
    /// Details for a reader.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl<T: Table> Repos<'_, T> {
    /// Adds an entry to a session's audit log.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when an entry with that time and id exists.
    pub async fn append_audit(&self, session: &Session, entry: &AuditEntry) -> Result<()> {
        self.store(
            &keys::session(&session.id),
            &keys::audit(entry.at, &entry.id),
            entry,
            None,
            Some(session.expires_at),
            entry.at,
        )
        .await?;
        Ok(())
    }

    /// A session's audit log, oldest first.
    ///
    /// # Errors
    /// Store failures; a stored entry of another shape.
    pub async fn audit_log(&self, session: &str, now: Timestamp) -> Result<Vec<AuditEntry>> {
        Ok(self
            .load_all(&keys::session(session), keys::prefix::AUDIT, now)
            .await?
            .into_iter()
            .map(|e| e.value)
            .collect())
    }
}

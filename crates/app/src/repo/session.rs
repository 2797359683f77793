//! Sessions: who owns one, where it is in the stage machine, what it holds,
//! and the index of a user's sessions.

use serde::{Deserialize, Serialize};

use dtg_core::session::{Position, check_transition};

use super::{Repos, Result, Versioned, item};
use crate::store::{Condition, Table, Timestamp, TransactOp, keys, query_all};

/// A session: who owns it, where it is, and when it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// Id.
    pub id: String,
    /// Owner (user id).
    pub owner: String,
    /// A name the owner gave it.
    #[serde(default)]
    pub name: String,
    /// Stage and status.
    pub position: Position,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub updated_at: Timestamp,
    /// When it and everything in it expire.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub expires_at: Timestamp,
    /// Counts of what it holds.
    #[serde(default)]
    pub summary: SessionSummary,
    /// The Jira site and project its tickets go to, chosen when it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub jira: Option<JiraTarget>,
}

/// The Jira site and project a session's tickets go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JiraTarget {
    /// Site URL (`https://example.atlassian.net`).
    pub site: String,
    /// Project key.
    pub project_key: String,
}

/// Counts of what a session holds, kept on the session so listing is cheap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    /// Files uploaded.
    pub files: usize,
    /// Config items read from them.
    pub items: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Notes: values read in another form and rewritten.
    #[serde(default)]
    pub notes: usize,
    /// Tickets planned.
    pub tickets: usize,
    /// Epics planned.
    pub epics: usize,
    /// Dependencies between tickets.
    pub dependencies: usize,
    /// Story points planned.
    pub story_points: u32,
}

/// The item under `USER#<owner>` that lists a session.
#[derive(Debug, Serialize, Deserialize)]
struct Owned {
    id: String,
    created_at: Timestamp,
}

impl<T: Table> Repos<'_, T> {
    /// Creates a session at the start position, listed under its owner.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when the id is taken.
    pub async fn create_session(
        &self,
        id: &str,
        owner: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        let session = Session {
            id: id.to_owned(),
            owner: owner.to_owned(),
            name: name.to_owned(),
            position: Position::START,
            created_at: now,
            updated_at: now,
            expires_at: now + self.ttl_seconds,
            summary: SessionSummary::default(),
            jira: None,
        };
        let expires = Some(session.expires_at);
        let (meta, absent) = item(&keys::session(id), keys::META, &session, None, expires)?;
        let owned = Owned {
            id: id.to_owned(),
            created_at: now,
        };
        let (listing, _) = item(
            &keys::user(owner),
            &keys::owned_session(id),
            &owned,
            None,
            expires,
        )?;
        let version = meta.version;
        self.table
            .transact(
                vec![
                    TransactOp::Put(meta, absent),
                    TransactOp::Put(listing, Condition::None),
                ],
                now,
            )
            .await?;
        Ok(Versioned {
            value: session,
            version,
        })
    }

    /// Reads a session; an expired one is absent.
    ///
    /// # Errors
    /// Store failures.
    pub async fn session(&self, id: &str, now: Timestamp) -> Result<Option<Versioned<Session>>> {
        self.load(&keys::session(id), keys::META, now).await
    }

    /// The live sessions of a user, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn sessions_of(
        &self,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<Versioned<Session>>> {
        let listed: Vec<Versioned<Owned>> = self
            .load_all(&keys::user(owner), keys::prefix::SESSIONS, now)
            .await?;
        let mut sessions = Vec::with_capacity(listed.len());
        for owned in listed {
            // A listing whose session was deleted half-way is skipped.
            if let Some(session) = self.session(&owned.value.id, now).await? {
                sessions.push(session);
            }
        }
        sessions.sort_by(|a, b| {
            (a.value.created_at, &a.value.id).cmp(&(b.value.created_at, &b.value.id))
        });
        Ok(sessions)
    }

    /// Moves a session read at `version` to `to`, if the rules allow it.
    ///
    /// # Errors
    /// [`super::RepoError::Transition`] for a move the rules refuse;
    /// [`super::RepoError::Conflict`] when the session changed since it was read.
    pub async fn move_session(
        &self,
        current: &Versioned<Session>,
        to: Position,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        check_transition(current.value.position, to)?;
        let session = Session {
            position: to,
            ..current.value.clone()
        };
        self.save_session(current, session, now).await
    }

    /// Replaces the summary of a session read at `version`.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when the session changed since it was read.
    pub async fn update_summary(
        &self,
        current: &Versioned<Session>,
        summary: SessionSummary,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        let session = Session {
            summary,
            ..current.value.clone()
        };
        self.save_session(current, session, now).await
    }

    /// Sets the Jira site and project of a session read at `version`.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when the session changed since it was read.
    pub async fn set_jira_target(
        &self,
        current: &Versioned<Session>,
        jira: Option<JiraTarget>,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        let session = Session {
            jira,
            ..current.value.clone()
        };
        self.save_session(current, session, now).await
    }

    async fn save_session(
        &self,
        current: &Versioned<Session>,
        mut session: Session,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        session.updated_at = now;
        let version = self
            .store(
                &keys::session(&session.id),
                keys::META,
                &session,
                Some(current.version),
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: session,
            version,
        })
    }

    /// Deletes a session and everything in it. Its parts go first and the
    /// session itself last, so a delete cut short can simply be run again.
    /// Returns the blob keys of its files and of its tickets' attachments,
    /// for the caller to delete.
    ///
    /// # Errors
    /// Store failures.
    pub async fn delete_session(&self, id: &str, now: Timestamp) -> Result<Vec<String>> {
        let pk = keys::session(id);
        let files = self.files(id, now).await?;
        let everything = query_all(self.table, &pk, keys::prefix::ALL, now).await?;
        let attached: Vec<String> = everything
            .iter()
            .filter(|part| part.sk.starts_with(keys::prefix::ATTACHMENTS))
            .filter_map(|part| part.body.get("blob_key")?.as_str().map(str::to_owned))
            .collect();
        let parts: Vec<TransactOp> = everything
            .into_iter()
            .filter(|part| part.sk != keys::META)
            .map(|part| TransactOp::Delete {
                pk: part.pk,
                sk: part.sk,
                condition: Condition::None,
            })
            .collect();
        self.transact_in_batches(parts, now).await?;
        if let Some(session) = self.session(id, now).await? {
            self.table
                .transact(
                    vec![
                        TransactOp::Delete {
                            pk: keys::user(&session.value.owner),
                            sk: keys::owned_session(id),
                            condition: Condition::None,
                        },
                        TransactOp::Delete {
                            pk,
                            sk: keys::META.to_owned(),
                            condition: Condition::None,
                        },
                    ],
                    now,
                )
                .await?;
        }
        Ok(files
            .into_iter()
            .map(|f| f.value.blob_key)
            .chain(attached)
            .collect())
    }
}

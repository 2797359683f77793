//! Repositories over the [`Table`] port, written once for every backend:
//! sessions (with the stage rules of `dtg_core::session` enforced) and
//! tickets. Every update is conditional on the version it read, so a lost race
//! is a [`RepoError::Conflict`], never a silent overwrite.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use dtg_core::plan::Ticket;
use dtg_core::session::{Position, TransitionError, check_transition};

use crate::store::{Condition, Item, StoreError, Table, Timestamp, keys, query_all};

/// Session-scoped items expire this long after their last write (30 days).
pub const DEFAULT_TTL_SECONDS: i64 = 30 * 24 * 60 * 60;

/// A value with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version; pass it back to update.
    pub version: u64,
}

/// What a repository call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// Someone else changed the item since it was read.
    #[error("{0} was changed by someone else; reload it and try again")]
    Conflict(String),
    /// The item does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The session rules refuse the move.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A stored item does not have the expected shape.
    #[error("{what} is stored in a shape this version cannot read")]
    Corrupt {
        /// Which item.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RepoError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { pk, sk } => Self::Conflict(format!("{pk} {sk}")),
            StoreError::NotFound { pk, sk } => Self::NotFound(format!("{pk} {sk}")),
            other => Self::Store(other),
        }
    }
}

/// Result of a repository call.
pub type Result<T, E = RepoError> = std::result::Result<T, E>;

/// Repositories over one table, with the TTL of session-scoped items.
#[derive(Debug)]
pub struct Repos<'a, T: Table> {
    table: &'a T,
    ttl_seconds: i64,
}

impl<'a, T: Table> Repos<'a, T> {
    /// Repositories over `table`, with session items expiring `ttl_seconds` after their last write.
    #[must_use]
    pub fn new(table: &'a T, ttl_seconds: i64) -> Self {
        Self { table, ttl_seconds }
    }

    async fn load<V: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<V>>> {
        let Some(item) = self.table.get(pk, sk, now).await? else {
            return Ok(None);
        };
        let value = serde_json::from_value(item.body).map_err(|source| RepoError::Corrupt {
            what: format!("{pk} {sk}"),
            source,
        })?;
        Ok(Some(Versioned {
            value,
            version: item.version,
        }))
    }

    /// Writes `value` as version `version`, if the stored version is `expected` (`None`: absent).
    async fn store<V: Serialize>(
        &self,
        pk: &str,
        sk: &str,
        value: &V,
        expected: Option<u64>,
        now: Timestamp,
    ) -> Result<u64> {
        let body = serde_json::to_value(value).map_err(|source| RepoError::Corrupt {
            what: format!("{pk} {sk}"),
            source,
        })?;
        let (condition, version) = match expected {
            None => (Condition::Absent, 1),
            Some(v) => (Condition::VersionIs(v), v + 1),
        };
        let item = Item {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            body,
            version,
            expires_at: Some(now + self.ttl_seconds),
        };
        self.table.put(item, condition, now).await?;
        Ok(version)
    }
}

/// A session: who owns it and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Id.
    pub id: String,
    /// Owner (user id).
    pub owner: String,
    /// Stage and status.
    pub position: Position,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl<T: Table> Repos<'_, T> {
    /// Creates a session at the start position.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when the id is taken.
    pub async fn create_session(
        &self,
        id: &str,
        owner: &str,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        let session = Session {
            id: id.to_owned(),
            owner: owner.to_owned(),
            position: Position::START,
            created_at: now,
            updated_at: now,
        };
        let version = self
            .store(&keys::session(id), keys::META, &session, None, now)
            .await?;
        Ok(Versioned {
            value: session,
            version,
        })
    }

    /// Reads a session.
    ///
    /// # Errors
    /// Store failures.
    pub async fn session(&self, id: &str, now: Timestamp) -> Result<Option<Versioned<Session>>> {
        self.load(&keys::session(id), keys::META, now).await
    }

    /// Moves a session read at `version` to `to`, if the rules allow it.
    ///
    /// # Errors
    /// [`RepoError::Transition`] for a move the rules refuse; [`RepoError::Conflict`]
    /// when the session changed since it was read.
    pub async fn move_session(
        &self,
        current: &Versioned<Session>,
        to: Position,
        now: Timestamp,
    ) -> Result<Versioned<Session>> {
        check_transition(current.value.position, to)?;
        let session = Session {
            position: to,
            updated_at: now,
            ..current.value.clone()
        };
        let version = self
            .store(
                &keys::session(&session.id),
                keys::META,
                &session,
                Some(current.version),
                now,
            )
            .await?;
        Ok(Versioned {
            value: session,
            version,
        })
    }

    /// Stores a new ticket of a session.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when a ticket with that id exists.
    pub async fn insert_ticket(
        &self,
        session: &str,
        ticket: &Ticket,
        now: Timestamp,
    ) -> Result<Versioned<Ticket>> {
        let version = self
            .store(
                &keys::session(session),
                &keys::ticket(&ticket.id),
                ticket,
                None,
                now,
            )
            .await?;
        Ok(Versioned {
            value: ticket.clone(),
            version,
        })
    }

    /// Reads a ticket.
    ///
    /// # Errors
    /// Store failures.
    pub async fn ticket(
        &self,
        session: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<Ticket>>> {
        self.load(&keys::session(session), &keys::ticket(id), now)
            .await
    }

    /// Replaces a ticket read at `version`.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when it changed since it was read.
    pub async fn update_ticket(
        &self,
        session: &str,
        current: &Versioned<Ticket>,
        ticket: Ticket,
        now: Timestamp,
    ) -> Result<Versioned<Ticket>> {
        let version = self
            .store(
                &keys::session(session),
                &keys::ticket(&ticket.id),
                &ticket,
                Some(current.version),
                now,
            )
            .await?;
        Ok(Versioned {
            value: ticket,
            version,
        })
    }

    /// Every ticket of a session, in id order.
    ///
    /// # Errors
    /// Store failures; a stored ticket of another shape.
    pub async fn tickets(&self, session: &str, now: Timestamp) -> Result<Vec<Versioned<Ticket>>> {
        let pk = keys::session(session);
        query_all(self.table, &pk, keys::prefix::TICKETS, now)
            .await?
            .into_iter()
            .map(|item| {
                let value =
                    serde_json::from_value(item.body).map_err(|source| RepoError::Corrupt {
                        what: format!("{pk} {}", item.sk),
                        source,
                    })?;
                Ok(Versioned {
                    value,
                    version: item.version,
                })
            })
            .collect()
    }
}

//! Repositories over the [`Table`] port, written once for every backend:
//! sessions (with the stage rules of `dtg_core::session` enforced), uploaded
//! files, tickets and the plan around them, dependencies, tasks, the audit
//! log, encrypted Jira tokens and WebSocket connections.
//!
//! Every update of a session, ticket or task is conditional on the version it
//! read, so a lost race is a [`RepoError::Conflict`], never a silent
//! overwrite. Everything in a session expires with it: the session's
//! `expires_at` is fixed when it is created and every item written into it
//! carries the same deadline, so a session never outlives its parts nor the
//! other way round.

mod audit;
mod connection;
#[cfg(feature = "contract-tests")]
pub mod contract;
mod file;
mod generation;
mod login;
mod session;
mod task;
mod ticket;
mod token;

pub use audit::AuditEntry;
pub use connection::{CONNECTION_TTL_SECONDS, Connection};
pub use file::{FileRecord, FileStatus};
pub use generation::{ChunksDone, GenerationManifest};
pub use login::{
    LOGIN_TTL_SECONDS, Login, OAUTH_TTL_SECONDS, PendingOAuth, WS_TICKET_TTL_SECONDS, WsTicket,
    digest,
};
pub use session::{JiraTarget, Session, SessionSummary};
pub use task::{Progress, Task, TaskError, TaskKind, TaskStatus};
pub use ticket::{SEARCH_TEXT_LIMIT, StoredPlan, TicketSummary};
pub(crate) use ticket::{row_delete, row_put};
pub use token::{JiraCredentials, KEY_LEN, TOKEN_TTL_SECONDS, TokenCipher, TokenError};

use serde::Serialize;
use serde::de::DeserializeOwned;

use dtg_core::session::TransitionError;

use crate::store::{
    Condition, Item, MAX_TRANSACTION_OPS, StoreError, Table, Timestamp, TransactOp, query_decoded,
};

/// Session-scoped items expire this long after the session is created (30 days).
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
    /// Stored Jira tokens could not be decrypted or encrypted.
    #[error(transparent)]
    Token(#[from] TokenError),
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

/// Repositories over one table, with the lifetime given to new sessions.
#[derive(Debug)]
pub struct Repos<'a, T: Table> {
    table: &'a T,
    ttl_seconds: i64,
}

impl<'a, T: Table> Repos<'a, T> {
    /// Repositories over `table`; new sessions expire `ttl_seconds` after they are created.
    #[must_use]
    pub fn new(table: &'a T, ttl_seconds: i64) -> Self {
        Self { table, ttl_seconds }
    }

    /// The table underneath.
    #[must_use]
    pub fn table(&self) -> &'a T {
        self.table
    }

    pub(crate) async fn load<V: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<V>>> {
        let Some(item) = self.table.get(pk, sk, now).await? else {
            return Ok(None);
        };
        decode(item).map(Some)
    }

    pub(crate) async fn load_all<V: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
        now: Timestamp,
    ) -> Result<Vec<Versioned<V>>> {
        // Decoded page by page: a large plan's items (a 10,000-ticket plan
        // is over 100 MB of JSON) are never all held as JSON values at once.
        query_decoded(self.table, pk, prefix, now, decode).await
    }

    /// Writes `value` under the condition that the stored version is
    /// `expected` (`None`: absent), and returns the new version.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store<V: Serialize>(
        &self,
        pk: &str,
        sk: &str,
        value: &V,
        expected: Option<u64>,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<u64> {
        let (item, condition) = item(pk, sk, value, expected, expires_at)?;
        let version = item.version;
        self.table.put(item, condition, now).await?;
        Ok(version)
    }

    /// Applies `ops` in transactions of at most [`MAX_TRANSACTION_OPS`]; each
    /// batch is whole or absent, batches land in order.
    pub(crate) async fn transact_in_batches(
        &self,
        ops: Vec<TransactOp>,
        now: Timestamp,
    ) -> Result<()> {
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let batch: Vec<_> = ops.by_ref().take(MAX_TRANSACTION_OPS).collect();
            self.table.transact(batch, now).await?;
        }
        Ok(())
    }

    /// Applies `units` in transactions of at most [`MAX_TRANSACTION_OPS`],
    /// never splitting a unit (a ticket and its row); batches land in order.
    pub(crate) async fn transact_units(
        &self,
        units: Vec<Vec<TransactOp>>,
        now: Timestamp,
    ) -> Result<()> {
        let mut batch: Vec<TransactOp> = Vec::new();
        for unit in units {
            if !batch.is_empty() && batch.len() + unit.len() > MAX_TRANSACTION_OPS {
                self.table.transact(std::mem::take(&mut batch), now).await?;
            }
            batch.extend(unit);
        }
        if !batch.is_empty() {
            self.table.transact(batch, now).await?;
        }
        Ok(())
    }
}

/// An item holding `value`, with the condition and version for an update
/// from `expected` (`None`: a new item).
fn item<V: Serialize>(
    pk: &str,
    sk: &str,
    value: &V,
    expected: Option<u64>,
    expires_at: Option<Timestamp>,
) -> Result<(Item, Condition)> {
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
        expires_at,
    };
    Ok((item, condition))
}

fn decode<V: DeserializeOwned>(item: Item) -> Result<Versioned<V>> {
    let value = serde_json::from_value(item.body).map_err(|source| RepoError::Corrupt {
        what: format!("{} {}", item.pk, item.sk),
        source,
    })?;
    Ok(Versioned {
        value,
        version: item.version,
    })
}

//! The storage ports: one table of JSON items keyed by partition and sort
//! key, and a blob store with presigned URLs.
//!
//! Both backends (DynamoDB and SQLite; S3 and a folder) implement the same
//! traits and pass the same contract tests. Writes that can race carry a
//! `version` and are conditional; a lost race is [`StoreError::Conflict`],
//! never a silent overwrite.

#[cfg(feature = "contract-tests")]
pub mod contract;
pub mod keys;

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch; the clock is always passed in.
pub type Timestamp = i64;

/// One stored item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Partition key (`SESSION#<id>`).
    pub pk: String,
    /// Sort key (`META`, `TICKET#<id>`, ...).
    pub sk: String,
    /// The item's fields.
    pub body: serde_json::Value,
    /// Optimistic-concurrency version: 1 for a new item, +1 on every update.
    pub version: u64,
    /// When the item expires (TTL); `None` keeps it.
    pub expires_at: Option<Timestamp>,
}

/// The condition a write needs to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    None,
    /// The item must not exist (or be expired).
    Absent,
    /// The stored item must have this version.
    VersionIs(u64),
}

/// A page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Items in sort-key order.
    pub items: Vec<Item>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    /// Put an item under a condition.
    Put(Item, Condition),
    /// Delete an item under a condition.
    Delete {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// Condition.
        condition: Condition,
    },
    /// Only check a condition on an item.
    Check {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// Condition.
        condition: Condition,
    },
}

/// The most operations in one transaction (DynamoDB's limit is 100; the
/// product keeps to 25 so a transaction stays small on both backends).
pub const MAX_TRANSACTION_OPS: usize = 25;

/// What can go wrong in the store, in the store's own terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: someone else wrote first, or the item exists.
    #[error("{pk} {sk} was changed by someone else; read it again and retry")]
    Conflict {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
    /// The item does not exist.
    #[error("{pk} {sk} does not exist")]
    NotFound {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
    /// The backend is busy; the same call may succeed later.
    #[error("the store is busy; retry after a short wait")]
    Throttled(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A request the store cannot take (too many operations, an item too large).
    #[error("the store cannot take this request: {0}")]
    Invalid(String),
    /// Anything else, with its cause.
    #[error("the store failed unexpectedly")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Whether retrying the same call may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled(_))
    }
}

/// Result of a store call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The single table.
pub trait Table: Send + Sync + 'static {
    /// Reads an item; expired items are absent.
    ///
    /// # Errors
    /// [`StoreError::Throttled`] or [`StoreError::Unexpected`].
    fn get(
        &self,
        pk: &str,
        sk: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Item>>> + Send;

    /// Writes an item under a condition.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the condition fails.
    fn put(
        &self,
        item: Item,
        condition: Condition,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Items of a partition whose sort key starts with `prefix`, in sort-key
    /// order, one page at a time (`start` is the previous page's `next`).
    /// Expired items are left out.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a `start` the store did not give out.
    fn query(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<String>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Page>> + Send;

    /// Deletes an item under a condition (deleting an absent item with no condition is fine).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the condition fails.
    fn delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Condition,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies up to [`MAX_TRANSACTION_OPS`] operations all together or not at all.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when any condition fails (nothing is written);
    /// [`StoreError::Invalid`] for too many operations or two on one item.
    fn transact(
        &self,
        ops: Vec<TransactOp>,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Every live item of a partition under a sort-key prefix, following the
/// pages of [`Table::query`] to the end.
///
/// # Errors
/// What [`Table::query`] returns.
pub async fn query_all(
    table: &impl Table,
    pk: &str,
    prefix: &str,
    now: Timestamp,
) -> Result<Vec<Item>> {
    query_decoded(table, pk, prefix, now, Ok).await
}

/// [`query_all`], each item turned by `decode` as its page arrives: a large
/// partition is never held whole as raw items.
///
/// # Errors
/// Table failures; `decode`'s.
pub async fn query_decoded<V, E: From<StoreError>>(
    table: &impl Table,
    pk: &str,
    prefix: &str,
    now: Timestamp,
    mut decode: impl FnMut(Item) -> std::result::Result<V, E>,
) -> std::result::Result<Vec<V>, E> {
    let mut values = Vec::new();
    let mut start = None;
    loop {
        let page = table.query(pk, prefix, start.take(), now).await?;
        for item in page.items {
            values.push(decode(item)?);
        }
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(values),
        }
    }
}

/// The blob store (uploads, attachments).
pub trait Blobs: Send + Sync + 'static {
    /// Stores bytes under a key (replacing what was there, atomically).
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] on backend failure.
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Reads a blob; `None` when absent.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] on backend failure.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;

    /// Deletes a blob (absent is fine).
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] on backend failure.
    fn delete(&self, key: &str) -> impl Future<Output = Result<()>> + Send;

    /// A URL a plain HTTP client can PUT the blob to until it expires.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the URL cannot be signed.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        expires_in: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<String>> + Send;

    /// A URL a plain HTTP client can GET the blob from until it expires.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the URL cannot be signed.
    fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        now: Timestamp,
    ) -> impl Future<Output = Result<String>> + Send;
}

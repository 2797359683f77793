//! A table that counts what DynamoDB would bill for each call: read and
//! write request units of on-demand capacity, as DynamoDB computes them for
//! the way `dtg-aws`'s `DynamoTable` calls it (strongly consistent reads).
//!
//! - `GetItem`: 1 unit per 4 KB of the item, rounded up (1 when absent).
//! - `Query`: 1 unit per 4 KB of all the items of one page, rounded up.
//! - `PutItem` and `DeleteItem`: 1 unit per 1 KB of the item, rounded up
//!   (a refused conditional write still costs its units).
//! - `TransactWriteItems`: twice the units of each item written or deleted;
//!   a condition check reads it (2 units per 4 KB).
//!
//! An item's size is that of its attribute names and values as the adapter
//! stores them: `pk`, `sk`, `body` (the JSON text), `version`, `expires_at`.

use std::sync::atomic::{AtomicU64, Ordering};

use dtg_app::store::{Condition, Item, Page, Result, Table, Timestamp, TransactOp};

const READ_UNIT: usize = 4096;
const WRITE_UNIT: usize = 1024;

/// `inner`, metered.
#[derive(Debug)]
pub struct Metered<T> {
    inner: T,
    reads: AtomicU64,
    writes: AtomicU64,
    calls: AtomicU64,
    items: AtomicU64,
}

/// Units and calls counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    /// Read request units.
    pub reads: u64,
    /// Write request units.
    pub writes: u64,
    /// Requests sent.
    pub calls: u64,
    /// Items read.
    pub items: u64,
}

impl<T: Table> Metered<T> {
    /// Meters `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            items: AtomicU64::new(0),
        }
    }

    /// What was counted since the last [`Metered::take`].
    pub fn take(&self) -> Units {
        Units {
            reads: self.reads.swap(0, Ordering::Relaxed),
            writes: self.writes.swap(0, Ordering::Relaxed),
            calls: self.calls.swap(0, Ordering::Relaxed),
            items: self.items.swap(0, Ordering::Relaxed),
        }
    }

    fn count(&self, reads: usize, writes: usize) {
        self.reads.fetch_add(reads as u64, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// The stored size of `item`, as DynamoDB counts it.
#[must_use]
pub fn item_size(item: &Item) -> usize {
    let number = |n: u64| n.to_string().len().div_ceil(2) + 1;
    let mut size = "pk".len() + item.pk.len() + "sk".len() + item.sk.len();
    size += "body".len() + item.body.to_string().len();
    size += "version".len() + number(item.version);
    if let Some(at) = item.expires_at {
        size += "expires_at".len() + number(at.unsigned_abs());
    }
    size
}

fn key_size(pk: &str, sk: &str) -> usize {
    "pk".len() + pk.len() + "sk".len() + sk.len()
}

fn units(size: usize, unit: usize) -> usize {
    size.div_ceil(unit).max(1)
}

impl<T: Table> Table for Metered<T> {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>> {
        let item = self.inner.get(pk, sk, now).await;
        let size = match &item {
            Ok(Some(i)) => {
                self.items.fetch_add(1, Ordering::Relaxed);
                item_size(i)
            }
            _ => 0,
        };
        self.count(units(size, READ_UNIT), 0);
        item
    }

    async fn put(&self, item: Item, condition: Condition, now: Timestamp) -> Result<()> {
        self.count(0, units(item_size(&item), WRITE_UNIT));
        self.inner.put(item, condition, now).await
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<String>,
        now: Timestamp,
    ) -> Result<Page> {
        let page = self.inner.query(pk, prefix, start, now).await;
        let size = match &page {
            Ok(p) => {
                self.items
                    .fetch_add(p.items.len() as u64, Ordering::Relaxed);
                p.items.iter().map(item_size).sum()
            }
            Err(_) => 0,
        };
        self.count(units(size, READ_UNIT), 0);
        page
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition, now: Timestamp) -> Result<()> {
        // The deleted item's size is what DynamoDB bills; its key is the
        // least of it, and what a delete without the item costs.
        let size = match self.inner.get(pk, sk, now).await {
            Ok(Some(item)) => item_size(&item),
            _ => key_size(pk, sk),
        };
        self.count(0, units(size, WRITE_UNIT));
        self.inner.delete(pk, sk, condition, now).await
    }

    async fn transact(&self, ops: Vec<TransactOp>, now: Timestamp) -> Result<()> {
        let (mut reads, mut writes) = (0, 0);
        for op in &ops {
            match op {
                TransactOp::Put(item, _) => writes += 2 * units(item_size(item), WRITE_UNIT),
                TransactOp::Delete { pk, sk, .. } => {
                    writes += 2 * units(key_size(pk, sk), WRITE_UNIT);
                }
                TransactOp::Check { pk, sk, .. } => {
                    reads += 2 * units(key_size(pk, sk), READ_UNIT);
                }
            }
        }
        self.count(reads, writes);
        self.inner.transact(ops, now).await
    }
}

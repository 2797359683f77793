//! The single table in SQLite: one row per item, keyed by partition and sort
//! key, with the JSON body, the version and the expiry beside it.
//!
//! Every call runs on tokio's blocking pool over one connection behind a
//! mutex (SQLite serialises writers anyway). Conditional writes check and
//! write inside one `BEGIN IMMEDIATE` transaction, so a condition cannot go
//! stale between the check and the write. Expired rows stay until
//! [`SqliteTable::remove_expired`] clears them, but no read ever sees them.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dtg_app::store::{
    Condition, Item, MAX_TRANSACTION_OPS, Page, Result, StoreError, Table, Timestamp, TransactOp,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

/// Most items in one page of a query.
const PAGE_ITEMS: usize = 100;
/// Most body bytes in one page of a query (DynamoDB's 1 MB); a single larger
/// item still makes a page of its own.
const PAGE_BYTES: usize = 1024 * 1024;
/// How long a call waits for another process's write lock before it is
/// [`StoreError::Throttled`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    item TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID";

/// Rows that have not expired at `?now` (the parameter is named `:now`).
const LIVE: &str = "(expires_at IS NULL OR expires_at > :now)";

/// The single table in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteTable {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteTable {
    /// Opens (or creates) the database file at `path`, in WAL mode, and
    /// creates the table if it is missing.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the file cannot be opened or set up;
    /// [`StoreError::Throttled`] when another process holds it locked.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let conn = Connection::open(path).map_err(store_error)?;
        // `journal_mode` answers with the mode it set, so it is read as a row.
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        })
        .map_err(store_error)?;
        Self::set_up(conn)
    }

    /// A table in memory, gone when the last clone is dropped.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when SQLite cannot start.
    pub fn open_in_memory() -> Result<Self> {
        Self::set_up(Connection::open_in_memory().map_err(store_error)?)
    }

    fn set_up(conn: Connection) -> Result<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(store_error)?;
        conn.execute_batch(SCHEMA).map_err(store_error)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Deletes the rows that expired at `now` (reads already skip them);
    /// returns how many went.
    ///
    /// # Errors
    /// [`StoreError::Throttled`] or [`StoreError::Unexpected`].
    pub async fn remove_expired(&self, now: Timestamp) -> Result<usize> {
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1",
                params![now],
            )
            .map_err(store_error)
        })
        .await
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while the lock was held cannot leave a transaction open
            // (it rolls back on drop), so the connection is still good.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unexpected(Box::new(e)))?
    }
}

/// SQLite's busy and locked answers are worth retrying; the rest are not.
fn store_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Throttled(Box::new(e))
        }
        _ => StoreError::Unexpected(Box::new(e)),
    }
}

/// A version as SQLite stores it.
fn stored_version(version: u64) -> Result<i64> {
    i64::try_from(version)
        .map_err(|_| StoreError::Invalid(format!("version {version} is too large to store")))
}

/// Starts a transaction that takes the write lock at once.
fn write_transaction(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_error)
}

/// The version of the live item at `pk`/`sk`, if there is one.
fn live_version(conn: &Connection, pk: &str, sk: &str, now: Timestamp) -> Result<Option<u64>> {
    let sql = format!("SELECT version FROM items WHERE pk = :pk AND sk = :sk AND {LIVE}");
    let version: Option<i64> = conn
        .query_row(
            &sql,
            rusqlite::named_params! { ":pk": pk, ":sk": sk, ":now": now },
            |row| row.get(0),
        )
        .optional()
        .map_err(store_error)?;
    version
        .map(|v| {
            u64::try_from(v).map_err(|e| {
                StoreError::Unexpected(format!("{pk} {sk} has a negative version: {e}").into())
            })
        })
        .transpose()
}

/// Fails with [`StoreError::Conflict`] unless `condition` holds for the item.
fn check(
    conn: &Connection,
    pk: &str,
    sk: &str,
    condition: Condition,
    now: Timestamp,
) -> Result<()> {
    let holds = match condition {
        Condition::None => true,
        Condition::Absent => live_version(conn, pk, sk, now)?.is_none(),
        Condition::VersionIs(expected) => live_version(conn, pk, sk, now)? == Some(expected),
    };
    if holds {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
        })
    }
}

/// Writes an item whatever is there.
fn write_item(conn: &Connection, item: &Item) -> Result<()> {
    let body = serde_json::to_string(&item.body).map_err(|e| StoreError::Unexpected(e.into()))?;
    conn.execute(
        "INSERT OR REPLACE INTO items (pk, sk, item, version, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            item.pk,
            item.sk,
            body,
            stored_version(item.version)?,
            item.expires_at
        ],
    )
    .map_err(store_error)?;
    Ok(())
}

/// Removes an item whatever is there.
fn remove_item(conn: &Connection, pk: &str, sk: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM items WHERE pk = ?1 AND sk = ?2",
        params![pk, sk],
    )
    .map_err(store_error)?;
    Ok(())
}

/// A row as SQLite gives it, before the body is parsed.
struct Row {
    pk: String,
    sk: String,
    body: String,
    version: i64,
    expires_at: Option<Timestamp>,
}

impl Row {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            pk: row.get(0)?,
            sk: row.get(1)?,
            body: row.get(2)?,
            version: row.get(3)?,
            expires_at: row.get(4)?,
        })
    }

    fn into_item(self) -> Result<Item> {
        let body = serde_json::from_str(&self.body).map_err(|e| {
            StoreError::Unexpected(
                format!("{} {} has a body that is not JSON: {e}", self.pk, self.sk).into(),
            )
        })?;
        let version = u64::try_from(self.version).map_err(|e| {
            StoreError::Unexpected(
                format!("{} {} has a negative version: {e}", self.pk, self.sk).into(),
            )
        })?;
        Ok(Item {
            pk: self.pk,
            sk: self.sk,
            body,
            version,
            expires_at: self.expires_at,
        })
    }
}

/// The `next` token of a page that ended at `sk`.
fn next_token(sk: &str) -> String {
    hex::encode(sk)
}

/// The sort key a `next` token stands for, if the token is one this table
/// gave out for this prefix.
fn token_sort_key(token: &str, prefix: &str) -> Result<String> {
    let refuse = || StoreError::Invalid(format!("{token:?} is not a page token of this query"));
    let bytes = hex::decode(token).map_err(|_| refuse())?;
    let sk = String::from_utf8(bytes).map_err(|_| refuse())?;
    if sk.starts_with(prefix) {
        Ok(sk)
    } else {
        Err(refuse())
    }
}

/// One page of a partition's items under a prefix, after `after`.
fn query_page(
    conn: &Connection,
    pk: &str,
    prefix: &str,
    after: Option<&str>,
    now: Timestamp,
) -> Result<Page> {
    // `sk >= :prefix` lets SQLite seek in the primary key; `substr` keeps
    // only the keys that really start with the prefix. Both compare the way
    // Rust compares strings (bytes of UTF-8), so pages follow `String` order.
    // The lower bound is a plain comparison so SQLite seeks to it in the key:
    // an `(:after IS NULL OR sk > :after)` would scan from the prefix on every page.
    let lower = if after.is_some() {
        "sk > :after"
    } else {
        "sk >= :prefix AND :after IS NULL"
    };
    let sql = format!(
        "SELECT pk, sk, item, version, expires_at FROM items
         WHERE pk = :pk AND {lower} AND substr(sk, 1, length(:prefix)) = :prefix AND {LIVE}
         ORDER BY sk LIMIT :limit"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(store_error)?;
    let limit = i64::try_from(PAGE_ITEMS + 1).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query(rusqlite::named_params! {
            ":pk": pk, ":prefix": prefix, ":after": after, ":now": now, ":limit": limit,
        })
        .map_err(store_error)?;
    let mut items: Vec<Item> = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    while let Some(row) = rows.next().map_err(store_error)? {
        let row = Row::read(row).map_err(store_error)?;
        if items.len() == PAGE_ITEMS || (!items.is_empty() && bytes + row.body.len() > PAGE_BYTES) {
            more = true;
            break;
        }
        bytes += row.body.len();
        items.push(row.into_item()?);
    }
    let next = if more {
        items.last().map(|last| next_token(&last.sk))
    } else {
        None
    };
    Ok(Page { items, next })
}

/// The item an operation of a transaction is about.
fn op_key(op: &TransactOp) -> (&str, &str) {
    match op {
        TransactOp::Put(item, _) => (&item.pk, &item.sk),
        TransactOp::Delete { pk, sk, .. } | TransactOp::Check { pk, sk, .. } => (pk, sk),
    }
}

/// Refuses a transaction DynamoDB would refuse too.
fn validate_transaction(ops: &[TransactOp]) -> Result<()> {
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction takes at most {MAX_TRANSACTION_OPS} operations, not {}",
            ops.len()
        )));
    }
    let mut seen = HashSet::new();
    for op in ops {
        let (pk, sk) = op_key(op);
        if !seen.insert((pk, sk)) {
            return Err(StoreError::Invalid(format!(
                "a transaction has more than one operation on {pk} {sk}"
            )));
        }
        if let TransactOp::Put(item, _) = op {
            stored_version(item.version)?;
        }
    }
    Ok(())
}

impl Table for SqliteTable {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.run(move |conn| {
            let sql = format!(
                "SELECT pk, sk, item, version, expires_at FROM items
                 WHERE pk = :pk AND sk = :sk AND {LIVE}"
            );
            let row = conn
                .query_row(
                    &sql,
                    rusqlite::named_params! { ":pk": pk, ":sk": sk, ":now": now },
                    Row::read,
                )
                .optional()
                .map_err(store_error)?;
            row.map(Row::into_item).transpose()
        })
        .await
    }

    async fn put(&self, item: Item, condition: Condition, now: Timestamp) -> Result<()> {
        self.run(move |conn| {
            let tx = write_transaction(conn)?;
            check(&tx, &item.pk, &item.sk, condition, now)?;
            write_item(&tx, &item)?;
            tx.commit().map_err(store_error)
        })
        .await
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<String>,
        now: Timestamp,
    ) -> Result<Page> {
        let after = start
            .map(|token| token_sort_key(&token, prefix))
            .transpose()?;
        let (pk, prefix) = (pk.to_owned(), prefix.to_owned());
        self.run(move |conn| query_page(conn, &pk, &prefix, after.as_deref(), now))
            .await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition, now: Timestamp) -> Result<()> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.run(move |conn| {
            let tx = write_transaction(conn)?;
            check(&tx, &pk, &sk, condition, now)?;
            remove_item(&tx, &pk, &sk)?;
            tx.commit().map_err(store_error)
        })
        .await
    }

    async fn transact(&self, ops: Vec<TransactOp>, now: Timestamp) -> Result<()> {
        validate_transaction(&ops)?;
        self.run(move |conn| {
            // Every item appears once, so checking each operation just before
            // applying it is the same as checking them all first; any failure
            // drops `tx`, which rolls back what was applied.
            let tx = write_transaction(conn)?;
            for op in &ops {
                match op {
                    TransactOp::Put(item, condition) => {
                        check(&tx, &item.pk, &item.sk, *condition, now)?;
                        write_item(&tx, item)?;
                    }
                    TransactOp::Delete { pk, sk, condition } => {
                        check(&tx, pk, sk, *condition, now)?;
                        remove_item(&tx, pk, sk)?;
                    }
                    TransactOp::Check { pk, sk, condition } => {
                        check(&tx, pk, sk, *condition, now)?;
                    }
                }
            }
            tx.commit().map_err(store_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_refuse_strangers() {
        let token = next_token("TICKET#0042");
        assert_eq!(token_sort_key(&token, "TICKET#").unwrap(), "TICKET#0042");
        assert!(matches!(
            token_sort_key(&token, "FILE#"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            token_sort_key("zz", ""),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn busy_and_locked_are_throttled() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(store_error(busy).is_retryable());
        let locked = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_LOCKED),
            None,
        );
        assert!(store_error(locked).is_retryable());
        assert!(!store_error(rusqlite::Error::QueryReturnedNoRows).is_retryable());
    }

    #[tokio::test]
    async fn pages_stop_at_about_one_megabyte() {
        // GIVEN 30 items of 100 KB (3 MB)
        let table = SqliteTable::open_in_memory().unwrap();
        let filler = "y".repeat(100 * 1024);
        for n in 0..30 {
            let item = Item {
                pk: "SESSION#1".to_owned(),
                sk: format!("TICKET#{n:02}"),
                body: serde_json::json!({ "filler": filler }),
                version: 1,
                expires_at: None,
            };
            table.put(item, Condition::None, 0).await.unwrap();
        }
        // WHEN the tickets are queried page by page
        let mut start = None;
        let mut seen = 0;
        let mut pages = 0;
        loop {
            let page = table.query("SESSION#1", "TICKET#", start, 0).await.unwrap();
            let bytes: usize = page.items.iter().map(|i| i.body.to_string().len()).sum();
            // THEN no page carries more than 1 MB of bodies, and none is empty
            assert!(bytes <= PAGE_BYTES, "a page of {bytes} bytes");
            assert!(!page.items.is_empty());
            seen += page.items.len();
            pages += 1;
            start = page.next;
            if start.is_none() {
                break;
            }
        }
        assert_eq!(seen, 30);
        assert_eq!(pages, 3);
    }

    #[tokio::test]
    async fn expired_rows_are_removed_on_request() {
        let table = SqliteTable::open_in_memory().unwrap();
        let item = |sk: &str, expires_at| Item {
            pk: "SESSION#1".to_owned(),
            sk: sk.to_owned(),
            body: serde_json::json!({}),
            version: 1,
            expires_at,
        };
        table
            .put(item("A", Some(10)), Condition::None, 0)
            .await
            .unwrap();
        table
            .put(item("B", None), Condition::None, 0)
            .await
            .unwrap();
        assert_eq!(table.remove_expired(9).await.unwrap(), 0);
        assert_eq!(table.remove_expired(10).await.unwrap(), 1);
        assert!(table.get("SESSION#1", "B", 10).await.unwrap().is_some());
    }
}

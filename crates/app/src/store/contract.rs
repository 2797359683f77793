//! The contract every [`Table`] and [`Blobs`] adapter keeps, as one reusable
//! suite (feature `contract-tests`).
//!
//! Each behaviour is a `pub async fn` that panics with a message saying what
//! the adapter got wrong; [`run_table_contract`] and [`run_blobs_contract`]
//! run them all. Every check writes under its own fresh partition or key
//! prefix, so the suite can run against a shared table or bucket and against
//! an adapter that already holds data. Items are kept as written: the store
//! keeps the `version` the caller gives and only checks it in conditions.
//!
//! The presigned-URL checks talk to the URLs with a plain blocking HTTP client
//! on tokio's blocking pool, so they need a tokio runtime; the adapter's
//! server (if it has one) must already be listening.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{
    Blobs, Condition, Item, MAX_TRANSACTION_OPS, StoreError, Table, Timestamp, TransactOp,
};

/// Items a paging check writes: 300 bodies of about 4 KB, over 1 MB in all.
const PAGING_ITEMS: usize = 300;
/// Size of each paging item's filler text.
const PAGING_BODY_BYTES: usize = 4 * 1024;
/// How long the suite's items live (a shared table's TTL clears them later).
const KEEP_FOR: i64 = 3_600;

/// The wall clock, in seconds since the Unix epoch.
fn wall_clock() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A name no other check (in this run or an earlier one) uses.
pub(crate) fn unique(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{nanos:x}-{n}")
}

/// A partition of the suite's own.
fn partition(name: &str) -> String {
    format!("CONTRACT#{}", unique(name))
}

/// An item of the suite with a small body.
fn item(pk: &str, sk: &str, version: u64, now: Timestamp) -> Item {
    Item {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
        body: json!({ "sk": sk, "version": version, "note": "contract" }),
        version,
        expires_at: Some(now + KEEP_FOR),
    }
}

/// Panics unless `result` is a conflict on `pk`/`sk`.
fn assert_conflict<T: std::fmt::Debug>(result: super::Result<T>, pk: &str, sk: &str, what: &str) {
    match result {
        Err(StoreError::Conflict { pk: p, sk: s }) if p == pk && s == sk => {}
        Err(StoreError::Conflict { pk: p, sk: s }) => {
            panic!("{what}: expected a conflict on {pk} {sk}, got a conflict on {p} {s}")
        }
        other => panic!("{what}: expected StoreError::Conflict on {pk} {sk}, got {other:?}"),
    }
}

/// Panics unless `result` is [`StoreError::Invalid`].
fn assert_invalid<T: std::fmt::Debug>(result: super::Result<T>, what: &str) {
    match result {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("{what}: expected StoreError::Invalid, got {other:?}"),
    }
}

/// Reads an item, panicking on a store error.
async fn read(t: &impl Table, pk: &str, sk: &str, now: Timestamp) -> Option<Item> {
    match t.get(pk, sk, now).await {
        Ok(found) => found,
        Err(e) => panic!("get {pk} {sk} failed: {e:?}"),
    }
}

/// Writes an item, panicking on a store error.
async fn write(t: &impl Table, item: Item, condition: Condition, now: Timestamp, what: &str) {
    let (pk, sk) = (item.pk.clone(), item.sk.clone());
    if let Err(e) = t.put(item, condition, now).await {
        panic!("{what}: put {pk} {sk} with {condition:?} failed: {e:?}");
    }
}

/// Every item of a partition under a prefix, following `next` to the end;
/// also returns how many pages it took.
async fn query_all(t: &impl Table, pk: &str, prefix: &str, now: Timestamp) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let page = match t.query(pk, prefix, start.take(), now).await {
            Ok(page) => page,
            Err(e) => panic!("query {pk} {prefix:?} (page {}) failed: {e:?}", pages + 1),
        };
        pages += 1;
        items.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return (items, pages),
        }
        assert!(pages <= 10_000, "query {pk} {prefix:?}: `next` never ends");
    }
}

/// The sort keys of some items, in their order.
fn sort_keys(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.sk.as_str()).collect()
}

// ----------------------------------------------------------------------------------------------
// Table
// ----------------------------------------------------------------------------------------------

/// GIVEN an item put with no condition WHEN it is read THEN it comes back as
/// written, and an absent item reads as `None`.
pub async fn table_put_get_round_trip(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("round-trip");
    let mut written = item(&pk, "META", 1, now);
    written.body = json!({
        "title": "Content type: Article ✓",
        "nested": { "list": [1, 2.5, "three", null, true] },
        "empty": {}
    });
    write(t, written.clone(), Condition::None, now, "round trip").await;
    let read_back = read(t, &pk, "META", now).await;
    assert_eq!(
        read_back.as_ref(),
        Some(&written),
        "get returns what put wrote"
    );

    let mut forever = item(&pk, "TICKET#forever", 1, now);
    forever.expires_at = None;
    write(
        t,
        forever.clone(),
        Condition::None,
        now,
        "round trip without TTL",
    )
    .await;
    assert_eq!(
        read(t, &pk, "TICKET#forever", now).await,
        Some(forever),
        "an item without expires_at comes back without it"
    );

    assert_eq!(
        read(t, &pk, "TICKET#missing", now).await,
        None,
        "get of an item never written is None"
    );
    assert_eq!(
        read(t, &partition("never-written"), "META", now).await,
        None,
        "get in a partition never written is None"
    );
}

/// GIVEN an existing item WHEN it is put again with [`Condition::Absent`]
/// THEN the store answers `Conflict` and keeps the first item.
pub async fn table_absent_refuses_existing(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("absent");
    let first = item(&pk, "META", 1, now);
    write(
        t,
        first.clone(),
        Condition::Absent,
        now,
        "Absent on a new item",
    )
    .await;

    let mut second = item(&pk, "META", 1, now);
    second.body = json!({ "overwritten": true });
    let result = t.put(second, Condition::Absent, now).await;
    assert_conflict(result, &pk, "META", "put with Absent over an existing item");
    assert_eq!(
        read(t, &pk, "META", now).await,
        Some(first),
        "a refused put leaves the item as it was"
    );
}

/// GIVEN an item at version 1 WHEN it is put with `VersionIs(1)` THEN that
/// succeeds; a second put with `VersionIs(1)` (now stale) and `VersionIs` on
/// an absent item are conflicts.
pub async fn table_version_condition(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("version");
    write(
        t,
        item(&pk, "META", 1, now),
        Condition::Absent,
        now,
        "create at version 1",
    )
    .await;

    let v2 = item(&pk, "META", 2, now);
    write(t, v2.clone(), Condition::VersionIs(1), now, "update 1 -> 2").await;
    assert_eq!(
        read(t, &pk, "META", now).await,
        Some(v2.clone()),
        "the update is stored"
    );

    let stale = item(&pk, "META", 2, now);
    let result = t.put(stale, Condition::VersionIs(1), now).await;
    assert_conflict(result, &pk, "META", "put with a stale VersionIs(1)");

    let ahead = item(&pk, "META", 4, now);
    let result = t.put(ahead, Condition::VersionIs(3), now).await;
    assert_conflict(result, &pk, "META", "put with VersionIs(3) on version 2");
    assert_eq!(
        read(t, &pk, "META", now).await,
        Some(v2.clone()),
        "refused puts change nothing"
    );

    let v3 = item(&pk, "META", 3, now);
    write(t, v3.clone(), Condition::VersionIs(2), now, "update 2 -> 3").await;
    assert_eq!(
        read(t, &pk, "META", now).await,
        Some(v3),
        "the second update is stored"
    );

    let result = t
        .put(
            item(&pk, "TICKET#none", 2, now),
            Condition::VersionIs(1),
            now,
        )
        .await;
    assert_conflict(
        result,
        &pk,
        "TICKET#none",
        "put with VersionIs on an absent item",
    );
    assert_eq!(
        read(t, &pk, "TICKET#none", now).await,
        None,
        "a refused put does not create the item"
    );
}

/// Deletes with and without a condition: absent items delete fine with no
/// condition; a wrong version is a conflict and keeps the item; the right
/// version deletes it; `VersionIs` on an absent item is a conflict.
pub async fn table_delete(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("delete");

    if let Err(e) = t.delete(&pk, "TICKET#never", Condition::None, now).await {
        panic!("delete of an absent item with no condition must succeed, got {e:?}");
    }

    write(
        t,
        item(&pk, "TICKET#a", 1, now),
        Condition::None,
        now,
        "delete setup",
    )
    .await;
    if let Err(e) = t.delete(&pk, "TICKET#a", Condition::None, now).await {
        panic!("delete with no condition failed: {e:?}");
    }
    assert_eq!(
        read(t, &pk, "TICKET#a", now).await,
        None,
        "a deleted item is gone"
    );

    write(
        t,
        item(&pk, "TICKET#b", 2, now),
        Condition::None,
        now,
        "delete setup",
    )
    .await;
    let result = t
        .delete(&pk, "TICKET#b", Condition::VersionIs(1), now)
        .await;
    assert_conflict(result, &pk, "TICKET#b", "delete with the wrong version");
    assert!(
        read(t, &pk, "TICKET#b", now).await.is_some(),
        "a refused delete keeps the item"
    );
    if let Err(e) = t
        .delete(&pk, "TICKET#b", Condition::VersionIs(2), now)
        .await
    {
        panic!("delete with the right version failed: {e:?}");
    }
    assert_eq!(
        read(t, &pk, "TICKET#b", now).await,
        None,
        "a conditional delete removes the item"
    );

    let result = t
        .delete(&pk, "TICKET#b", Condition::VersionIs(2), now)
        .await;
    assert_conflict(
        result,
        &pk,
        "TICKET#b",
        "delete with VersionIs on an absent item",
    );
}

/// GIVEN items under several prefixes, written out of order WHEN a prefix is
/// queried THEN only its items come back, in sort-key order, in one
/// partition only; a made-up `start` is `Invalid`.
pub async fn table_query_prefix(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("query");
    let other = partition("query-other");
    let tickets = [
        "TICKET#003",
        "TICKET#001",
        "TICKET#010",
        "TICKET#002",
        "TICKET#0025",
    ];
    for sk in tickets {
        write(
            t,
            item(&pk, sk, 1, now),
            Condition::None,
            now,
            "query setup",
        )
        .await;
    }
    for sk in [
        "META",
        "FILE#1",
        "TICKETS",
        "TASK#1",
        "DEP#TICKET#001#TICKET#002",
    ] {
        write(
            t,
            item(&pk, sk, 1, now),
            Condition::None,
            now,
            "query setup",
        )
        .await;
    }
    write(
        t,
        item(&other, "TICKET#004", 1, now),
        Condition::None,
        now,
        "query setup",
    )
    .await;

    let (items, _) = query_all(t, &pk, "TICKET#", now).await;
    assert_eq!(
        sort_keys(&items),
        [
            "TICKET#001",
            "TICKET#002",
            "TICKET#0025",
            "TICKET#003",
            "TICKET#010"
        ],
        "query by prefix returns exactly the matching items, in sort-key order"
    );
    assert!(
        items.iter().all(|i| i.pk == pk),
        "query stays in its partition"
    );
    assert_eq!(
        items[0],
        item(&pk, "TICKET#001", 1, now),
        "query returns whole items"
    );

    let (files, _) = query_all(t, &pk, "FILE#", now).await;
    assert_eq!(sort_keys(&files), ["FILE#1"], "query of another prefix");

    let (all, _) = query_all(t, &pk, "", now).await;
    let mut expected: Vec<&str> = tickets.to_vec();
    expected.extend([
        "META",
        "FILE#1",
        "TICKETS",
        "TASK#1",
        "DEP#TICKET#001#TICKET#002",
    ]);
    expected.sort_unstable();
    assert_eq!(
        sort_keys(&all),
        expected,
        "an empty prefix returns the whole partition in order"
    );

    match t.query(&pk, "NOTHING#", None, now).await {
        Ok(page) => {
            assert!(
                page.items.is_empty(),
                "a prefix with no items returns no items"
            );
            assert_eq!(page.next, None, "a prefix with no items has no next page");
        }
        Err(e) => panic!("query of a prefix with no items failed: {e:?}"),
    }

    let result = t
        .query(&pk, "TICKET#", Some("%%% not a token %%%".to_owned()), now)
        .await;
    assert_invalid(result, "query with a start the store did not give out");
}

/// GIVEN 300 items of about 4 KB (over 1 MB) WHEN the partition is queried
/// page by page THEN every item comes back exactly once, in order, over more
/// than one page.
pub async fn table_query_pages(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("pages");
    let filler = "x".repeat(PAGING_BODY_BYTES);
    let mut written = Vec::with_capacity(PAGING_ITEMS);
    for n in 0..PAGING_ITEMS {
        // Written in a scrambled order so the store, not the writer, sorts.
        let id = (n * 7919) % PAGING_ITEMS;
        let sk = format!("TICKET#{id:05}");
        let mut it = item(&pk, &sk, 1, now);
        it.body = json!({ "id": id, "filler": filler });
        write(t, it, Condition::None, now, "paging setup").await;
        written.push(sk);
    }
    write(
        t,
        item(&pk, "META", 1, now),
        Condition::None,
        now,
        "paging setup",
    )
    .await;
    written.sort_unstable();

    let (items, pages) = query_all(t, &pk, "TICKET#", now).await;
    assert!(
        pages > 1,
        "over 1 MB of items must come in more than one page, got {pages}"
    );
    let keys = sort_keys(&items);
    let distinct: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "paging returns no item twice");
    assert_eq!(
        keys, written,
        "paging returns every item once, in sort-key order"
    );
    for it in &items {
        assert_eq!(
            it.body["filler"].as_str().map(str::len),
            Some(PAGING_BODY_BYTES),
            "paged items keep their whole body ({})",
            it.sk
        );
    }
}

/// GIVEN items with `expires_at` WHEN the clock reaches it THEN they are
/// absent from get and query, and `Absent` succeeds over them.
pub async fn table_ttl(t: &impl Table) {
    let now = wall_clock();
    let later = now + 100;
    let pk = partition("ttl");
    let mut short = item(&pk, "TICKET#short", 1, now);
    short.expires_at = Some(later);
    write(t, short.clone(), Condition::Absent, now, "TTL setup").await;
    write(
        t,
        item(&pk, "TICKET#long", 1, now),
        Condition::Absent,
        now,
        "TTL setup",
    )
    .await;

    assert_eq!(
        read(t, &pk, "TICKET#short", later - 1).await,
        Some(short),
        "an item is there until its expires_at"
    );
    assert_eq!(
        read(t, &pk, "TICKET#short", later).await,
        None,
        "an item whose expires_at <= now is absent from get"
    );
    let (items, _) = query_all(t, &pk, "TICKET#", later).await;
    assert_eq!(
        sort_keys(&items),
        ["TICKET#long"],
        "expired items are absent from query"
    );
    let (items, _) = query_all(t, &pk, "TICKET#", later - 1).await;
    assert_eq!(
        sort_keys(&items),
        ["TICKET#long", "TICKET#short"],
        "live items are in the query"
    );

    let mut renewed = item(&pk, "TICKET#short", 1, later);
    renewed.body = json!({ "renewed": true });
    write(
        t,
        renewed.clone(),
        Condition::Absent,
        later,
        "Absent over an expired item",
    )
    .await;
    assert_eq!(
        read(t, &pk, "TICKET#short", later).await,
        Some(renewed),
        "the item written over an expired one is stored"
    );

    let mut gone = item(&pk, "TICKET#gone", 3, now);
    gone.expires_at = Some(later);
    write(t, gone, Condition::None, now, "TTL setup").await;
    let result = t
        .put(
            item(&pk, "TICKET#gone", 4, later),
            Condition::VersionIs(3),
            later,
        )
        .await;
    assert_conflict(result, &pk, "TICKET#gone", "VersionIs on an expired item");
}

/// GIVEN a transaction whose last condition fails WHEN it runs THEN it is a
/// conflict and nothing of it is written; a transaction whose conditions
/// hold applies every operation.
pub async fn table_transact_all_or_nothing(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("transact");
    write(
        t,
        item(&pk, "META", 1, now),
        Condition::None,
        now,
        "transact setup",
    )
    .await;
    write(
        t,
        item(&pk, "TICKET#old", 1, now),
        Condition::None,
        now,
        "transact setup",
    )
    .await;

    let failing = vec![
        TransactOp::Put(item(&pk, "TICKET#a", 1, now), Condition::Absent),
        TransactOp::Put(item(&pk, "TICKET#b", 1, now), Condition::None),
        TransactOp::Delete {
            pk: pk.clone(),
            sk: "TICKET#old".to_owned(),
            condition: Condition::VersionIs(1),
        },
        TransactOp::Check {
            pk: pk.clone(),
            sk: "META".to_owned(),
            condition: Condition::VersionIs(7),
        },
    ];
    assert_conflict(
        t.transact(failing, now).await,
        &pk,
        "META",
        "transaction with a failing Check",
    );
    assert_eq!(
        read(t, &pk, "TICKET#a", now).await,
        None,
        "a failed transaction writes nothing"
    );
    assert_eq!(
        read(t, &pk, "TICKET#b", now).await,
        None,
        "a failed transaction writes nothing"
    );
    assert!(
        read(t, &pk, "TICKET#old", now).await.is_some(),
        "a failed transaction deletes nothing"
    );

    let failing_put = vec![
        TransactOp::Put(item(&pk, "TICKET#a", 1, now), Condition::Absent),
        TransactOp::Put(item(&pk, "TICKET#old", 2, now), Condition::Absent),
    ];
    assert_conflict(
        t.transact(failing_put, now).await,
        &pk,
        "TICKET#old",
        "transaction with a failing Put",
    );
    assert_eq!(
        read(t, &pk, "TICKET#a", now).await,
        None,
        "a failed transaction writes nothing"
    );

    let meta_v2 = item(&pk, "META", 2, now);
    let ticket_a = item(&pk, "TICKET#a", 1, now);
    let holding = vec![
        TransactOp::Put(ticket_a.clone(), Condition::Absent),
        TransactOp::Put(meta_v2.clone(), Condition::VersionIs(1)),
        TransactOp::Delete {
            pk: pk.clone(),
            sk: "TICKET#old".to_owned(),
            condition: Condition::VersionIs(1),
        },
        TransactOp::Check {
            pk: pk.clone(),
            sk: "TICKET#c".to_owned(),
            condition: Condition::Absent,
        },
    ];
    if let Err(e) = t.transact(holding, now).await {
        panic!("a transaction whose conditions hold failed: {e:?}");
    }
    assert_eq!(
        read(t, &pk, "TICKET#a", now).await,
        Some(ticket_a),
        "transaction put"
    );
    assert_eq!(
        read(t, &pk, "META", now).await,
        Some(meta_v2),
        "transaction conditional put"
    );
    assert_eq!(
        read(t, &pk, "TICKET#old", now).await,
        None,
        "transaction delete"
    );
    assert_eq!(
        read(t, &pk, "TICKET#c", now).await,
        None,
        "a Check writes nothing"
    );
}

/// A transaction of more than [`MAX_TRANSACTION_OPS`] operations, or with
/// two operations on one item, is `Invalid` and writes nothing;
/// exactly [`MAX_TRANSACTION_OPS`] is fine.
pub async fn table_transact_invalid(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("transact-invalid");
    let puts = |n: usize, prefix: &str| -> Vec<TransactOp> {
        (0..n)
            .map(|i| {
                let sk = format!("{prefix}{i:03}");
                TransactOp::Put(item(&pk, &sk, 1, now), Condition::Absent)
            })
            .collect()
    };

    let result = t
        .transact(puts(MAX_TRANSACTION_OPS + 1, "TICKET#big"), now)
        .await;
    assert_invalid(
        result,
        "a transaction of MAX_TRANSACTION_OPS + 1 operations",
    );
    assert_eq!(
        read(t, &pk, "TICKET#big000", now).await,
        None,
        "a refused transaction writes nothing"
    );

    let twice = vec![
        TransactOp::Put(item(&pk, "TICKET#twice", 1, now), Condition::Absent),
        TransactOp::Check {
            pk: pk.clone(),
            sk: "TICKET#twice".to_owned(),
            condition: Condition::None,
        },
    ];
    assert_invalid(
        t.transact(twice, now).await,
        "a transaction with two operations on one item",
    );
    assert_eq!(
        read(t, &pk, "TICKET#twice", now).await,
        None,
        "a refused transaction writes nothing"
    );

    if let Err(e) = t
        .transact(puts(MAX_TRANSACTION_OPS, "TICKET#max"), now)
        .await
    {
        panic!("a transaction of exactly MAX_TRANSACTION_OPS operations failed: {e:?}");
    }
    let (items, _) = query_all(t, &pk, "TICKET#max", now).await;
    assert_eq!(
        items.len(),
        MAX_TRANSACTION_OPS,
        "every operation of the transaction is applied"
    );
}

/// GIVEN an item at version 1 WHEN four writers race to put version 2 with
/// `VersionIs(1)` THEN exactly one wins and the others get `Conflict`.
pub async fn table_racing_writers(t: &impl Table) {
    let now = wall_clock();
    let pk = partition("race");
    write(
        t,
        item(&pk, "META", 1, now),
        Condition::Absent,
        now,
        "race setup",
    )
    .await;
    let writer = |n: u64| {
        let mut next = item(&pk, "META", 2, now);
        next.body = json!({ "writer": n });
        t.put(next, Condition::VersionIs(1), now)
    };
    let results = tokio::join!(writer(0), writer(1), writer(2), writer(3));
    let results = [results.0, results.1, results.2, results.3];
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one racing writer wins, got {results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        assert_conflict(result, &pk, "META", "a racing writer that lost");
    }
    let stored = read(t, &pk, "META", now).await;
    assert_eq!(
        stored.map(|i| i.version),
        Some(2),
        "the winner's version is stored"
    );
}

/// Runs every [`Table`] check.
pub async fn run_table_contract(t: &impl Table) {
    table_put_get_round_trip(t).await;
    table_absent_refuses_existing(t).await;
    table_version_condition(t).await;
    table_racing_writers(t).await;
    table_delete(t).await;
    table_query_prefix(t).await;
    table_query_pages(t).await;
    table_ttl(t).await;
    table_transact_all_or_nothing(t).await;
    table_transact_invalid(t).await;
}

// ----------------------------------------------------------------------------------------------
// Blobs
// ----------------------------------------------------------------------------------------------

/// A blob key of the suite's own.
fn blob_key(name: &str) -> String {
    format!("contract/{}/file.csv", unique(name))
}

/// Bytes with every byte value, so nothing is treated as text.
fn sample_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).unwrap_or_default())
        .collect()
}

/// Reads a blob, panicking on a store error.
async fn read_blob(b: &impl Blobs, key: &str) -> Option<Vec<u8>> {
    match b.get(key).await {
        Ok(found) => found,
        Err(e) => panic!("blob get {key} failed: {e:?}"),
    }
}

/// Stores a blob, panicking on a store error.
async fn write_blob(b: &impl Blobs, key: &str, bytes: Vec<u8>) {
    if let Err(e) = b.put(key, bytes, "text/csv").await {
        panic!("blob put {key} failed: {e:?}");
    }
}

/// What a plain HTTP client got back.
#[derive(Debug)]
struct HttpAnswer {
    status: u16,
    body: Vec<u8>,
}

/// One request with a plain blocking HTTP client, off the async threads.
async fn http(method: &'static str, url: String, body: Option<(Vec<u8>, String)>) -> HttpAnswer {
    let shown = url.clone();
    let answer = tokio::task::spawn_blocking(move || -> Result<HttpAnswer, ureq::Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let response = match (method, body) {
            ("PUT", Some((bytes, content_type))) => agent
                .put(&url)
                .header("Content-Type", &content_type)
                .send(&bytes[..])?,
            ("PUT", None) => agent.put(&url).send_empty()?,
            _ => agent.get(&url).call()?,
        };
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()?;
        Ok(HttpAnswer { status, body })
    })
    .await;
    match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => panic!("HTTP {method} {shown} failed: {e}"),
        Err(e) => panic!("HTTP {method} {shown} did not finish: {e}"),
    }
}

/// The same URL with its signature changed (the last character of the
/// query parameter whose name ends in `signature`, any case).
fn tamper(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        panic!("a presigned URL needs a query with its signature: {url}");
    };
    let mut found = false;
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, value)) if name.to_ascii_lowercase().ends_with("signature") => {
                found = true;
                let mut value = value.to_owned();
                let last = value.pop().unwrap_or('0');
                value.push(if last == '0' { '1' } else { '0' });
                format!("{name}={value}")
            }
            _ => param.to_owned(),
        })
        .collect();
    assert!(found, "no signature parameter in the presigned URL {url}");
    format!("{base}?{}", params.join("&"))
}

/// Panics unless the answer refuses the request (a 4xx status).
fn assert_refused(answer: &HttpAnswer, what: &str) {
    assert!(
        (400..500).contains(&answer.status),
        "{what}: expected the request to be refused (403), got HTTP {}",
        answer.status
    );
}

/// GIVEN bytes put under a key WHEN read THEN they come back; after a
/// delete they are gone, and a second delete is fine.
pub async fn blobs_put_get_delete(b: &impl Blobs) {
    let key = blob_key("round-trip");
    let bytes = sample_bytes(70_000);
    write_blob(b, &key, bytes.clone()).await;
    assert_eq!(
        read_blob(b, &key).await,
        Some(bytes),
        "get returns the bytes put"
    );

    let empty = blob_key("empty");
    write_blob(b, &empty, Vec::new()).await;
    assert_eq!(
        read_blob(b, &empty).await,
        Some(Vec::new()),
        "an empty blob is not an absent one"
    );

    if let Err(e) = b.delete(&key).await {
        panic!("blob delete {key} failed: {e:?}");
    }
    assert_eq!(read_blob(b, &key).await, None, "a deleted blob is gone");
    if let Err(e) = b.delete(&key).await {
        panic!("deleting an absent blob must succeed, got {e:?}");
    }
    if let Err(e) = b.delete(&empty).await {
        panic!("blob delete {empty} failed: {e:?}");
    }
}

/// GIVEN a blob WHEN it is put again THEN the new bytes replace the old.
pub async fn blobs_put_replaces(b: &impl Blobs) {
    let key = blob_key("replace");
    write_blob(b, &key, sample_bytes(10_000)).await;
    let shorter = b"id,label\n1,Article\n".to_vec();
    write_blob(b, &key, shorter.clone()).await;
    assert_eq!(
        read_blob(b, &key).await,
        Some(shorter),
        "a second put replaces the blob whole"
    );
}

/// A key never written reads as `None`.
pub async fn blobs_get_absent(b: &impl Blobs) {
    assert_eq!(
        read_blob(b, &blob_key("absent")).await,
        None,
        "get of an absent blob is None"
    );
}

/// GIVEN a presigned PUT URL WHEN a plain HTTP client PUTs bytes to it THEN
/// get returns those bytes.
pub async fn blobs_presign_put(b: &impl Blobs) {
    let key = blob_key("presign-put");
    let url = match b
        .presign_put(&key, "text/csv", Duration::from_secs(300), wall_clock())
        .await
    {
        Ok(url) => url,
        Err(e) => panic!("presign_put {key} failed: {e:?}"),
    };
    let bytes = sample_bytes(200_000);
    let answer = http(
        "PUT",
        url.clone(),
        Some((bytes.clone(), "text/csv".to_owned())),
    )
    .await;
    assert!(
        (200..300).contains(&answer.status),
        "a PUT to a fresh presigned URL must succeed, got HTTP {} for {url}",
        answer.status
    );
    assert_eq!(
        read_blob(b, &key).await,
        Some(bytes),
        "get returns the bytes PUT to the URL"
    );
}

/// GIVEN a blob and a presigned GET URL WHEN a plain HTTP client fetches it
/// THEN it gets the bytes.
pub async fn blobs_presign_get(b: &impl Blobs) {
    let key = blob_key("presign-get");
    let bytes = sample_bytes(50_000);
    write_blob(b, &key, bytes.clone()).await;
    let url = match b
        .presign_get(&key, Duration::from_secs(300), wall_clock())
        .await
    {
        Ok(url) => url,
        Err(e) => panic!("presign_get {key} failed: {e:?}"),
    };
    let answer = http("GET", url.clone(), None).await;
    assert_eq!(
        answer.status, 200,
        "a GET of a fresh presigned URL must succeed: {url}"
    );
    assert_eq!(
        answer.body, bytes,
        "the presigned GET returns the blob's bytes"
    );
}

/// A URL signed an hour ago for one minute is refused, for GET and PUT, and
/// the refused PUT writes nothing.
pub async fn blobs_presign_expired(b: &impl Blobs) {
    let key = blob_key("presign-expired");
    let bytes = sample_bytes(1_000);
    write_blob(b, &key, bytes.clone()).await;
    let an_hour_ago = wall_clock() - 3_600;

    let url = match b
        .presign_get(&key, Duration::from_secs(60), an_hour_ago)
        .await
    {
        Ok(url) => url,
        Err(e) => panic!("presign_get {key} failed: {e:?}"),
    };
    let answer = http("GET", url, None).await;
    assert_refused(&answer, "GET of an expired presigned URL");

    let url = match b
        .presign_put(&key, "text/csv", Duration::from_secs(60), an_hour_ago)
        .await
    {
        Ok(url) => url,
        Err(e) => panic!("presign_put {key} failed: {e:?}"),
    };
    let answer = http(
        "PUT",
        url,
        Some((b"replaced".to_vec(), "text/csv".to_owned())),
    )
    .await;
    assert_refused(&answer, "PUT to an expired presigned URL");
    assert_eq!(
        read_blob(b, &key).await,
        Some(bytes),
        "a refused PUT changes nothing"
    );
}

/// A presigned URL whose signature was changed is refused, for GET and PUT.
pub async fn blobs_presign_tampered(b: &impl Blobs) {
    let key = blob_key("presign-tampered");
    let bytes = sample_bytes(1_000);
    write_blob(b, &key, bytes.clone()).await;

    let url = match b
        .presign_get(&key, Duration::from_secs(300), wall_clock())
        .await
    {
        Ok(url) => url,
        Err(e) => panic!("presign_get {key} failed: {e:?}"),
    };
    let answer = http("GET", tamper(&url), None).await;
    assert_refused(&answer, "GET with a tampered signature");

    let url = match b
        .presign_put(&key, "text/csv", Duration::from_secs(300), wall_clock())
        .await
    {
        Ok(url) => url,
        Err(e) => panic!("presign_put {key} failed: {e:?}"),
    };
    let answer = http(
        "PUT",
        tamper(&url),
        Some((b"replaced".to_vec(), "text/csv".to_owned())),
    )
    .await;
    assert_refused(&answer, "PUT with a tampered signature");
    assert_eq!(
        read_blob(b, &key).await,
        Some(bytes),
        "a refused PUT changes nothing"
    );
}

/// Runs every [`Blobs`] check.
pub async fn run_blobs_contract(b: &impl Blobs) {
    blobs_put_get_delete(b).await;
    blobs_put_replaces(b).await;
    blobs_get_absent(b).await;
    blobs_presign_put(b).await;
    blobs_presign_get(b).await;
    blobs_presign_expired(b).await;
    blobs_presign_tampered(b).await;
}

/// GIVEN a ticket WHEN `editors` tasks each add their own label by
/// read-modify-write through the ticket repository, retrying on conflict,
/// THEN every version has exactly one winner and no update is lost.
/// Returns how many conflicts were retried.
pub async fn repo_racing_editors<T: Table>(
    t: std::sync::Arc<T>,
    ticket: dtg_core::plan::Ticket,
    editors: usize,
) -> usize {
    use crate::repo::{DEFAULT_TTL_SECONDS, RepoError, Repos};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    let now = 1_800_000_000;
    let repos = Repos::new(t.as_ref(), DEFAULT_TTL_SECONDS);
    let session = match repos
        .create_session(&unique("race"), "racer", "race", now)
        .await
    {
        Ok(s) => s.value,
        Err(e) => panic!("create the session to race in: {e}"),
    };
    if let Err(e) = repos.insert_ticket(&session, &ticket, now).await {
        panic!("insert the ticket to race on: {e}");
    }
    let winners: Arc<Mutex<BTreeMap<u64, Vec<usize>>>> = Arc::default();
    let mut tasks = Vec::new();
    for editor in 0..editors {
        let (t, winners, id, session) = (
            Arc::clone(&t),
            Arc::clone(&winners),
            ticket.id.clone(),
            session.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let repos = Repos::new(t.as_ref(), DEFAULT_TTL_SECONDS);
            let mut conflicts = 0;
            loop {
                let current = match repos.ticket(&session.id, &id, now).await {
                    Ok(Some(c)) => c,
                    other => panic!("editor {editor}: read the ticket: {other:?}"),
                };
                let mut edited = current.value.clone();
                edited.labels.push(format!("editor-{editor}"));
                match repos.update_ticket(&session, &current, edited, now).await {
                    Ok(saved) => {
                        if let Ok(mut w) = winners.lock() {
                            w.entry(saved.version).or_default().push(editor);
                        }
                        return conflicts;
                    }
                    Err(RepoError::Conflict(_)) => conflicts += 1,
                    Err(other) => panic!("editor {editor}: {other}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        match task.await {
            Ok(c) => conflicts += c,
            Err(e) => panic!("an editor failed: {e}"),
        }
    }
    let winners = match winners.lock() {
        Ok(w) => w.clone(),
        Err(e) => panic!("{e}"),
    };
    let last = editors as u64 + 1;
    assert_eq!(
        winners.keys().copied().collect::<Vec<_>>(),
        (2..=last).collect::<Vec<u64>>(),
        "every version from 2 to {last} is won once"
    );
    assert!(
        winners.values().all(|w| w.len() == 1),
        "one winner per version: {winners:?}"
    );
    let stored = match Repos::new(t.as_ref(), DEFAULT_TTL_SECONDS)
        .ticket(&session.id, &ticket.id, now)
        .await
    {
        Ok(Some(s)) => s,
        other => panic!("read the raced ticket: {other:?}"),
    };
    assert_eq!(stored.version, last);
    for editor in 0..editors {
        assert!(
            stored.value.labels.contains(&format!("editor-{editor}")),
            "editor {editor}'s update was lost"
        );
    }
    conflicts
}

/// The store benchmark's workload: `writes` conditional ticket writes to one
/// session, then a full read of them. Returns (write time, read time).
pub async fn bench_ticket_writes_and_read(
    t: &impl Table,
    writes: usize,
) -> (std::time::Duration, std::time::Duration) {
    let now = 1_800_000_000;
    let pk = super::keys::session(&unique("bench"));
    let start = std::time::Instant::now();
    for n in 0..writes {
        let item = Item {
            pk: pk.clone(),
            sk: super::keys::ticket(&format!("t{n:05}")),
            body: json!({
                "id": format!("t{n:05}"),
                "title": format!("Add fields to Bundle {n} (12)"),
                "description_html": "<p>".to_owned() + &"Field table and steps. ".repeat(40) + "</p>",
                "labels": ["drupal", "content-model", "fields"],
                "estimate": 3,
            }),
            version: 1,
            expires_at: Some(now + 30 * 86_400),
        };
        if let Err(e) = t.put(item, Condition::Absent, now).await {
            panic!("write {n}: {e}");
        }
    }
    let writing = start.elapsed();
    let start = std::time::Instant::now();
    let read = match super::query_all(t, &pk, super::keys::prefix::TICKETS, now).await {
        Ok(items) => items.len(),
        Err(e) => panic!("read: {e}"),
    };
    let reading = start.elapsed();
    assert_eq!(read, writes, "the full read returns every write");
    (writing, reading)
}

/// Prints the store benchmark's figures.
pub fn report_bench(
    store: &str,
    writes: usize,
    (writing, reading): (std::time::Duration, std::time::Duration),
) {
    println!(
        "{store}: {writes} ticket writes in {:.2} s ({:.0} writes/s); full session read of {writes} tickets in {:.1} ms ({:.0} items/s)",
        writing.as_secs_f64(),
        writes as f64 / writing.as_secs_f64(),
        reading.as_secs_f64() * 1e3,
        writes as f64 / reading.as_secs_f64()
    );
}

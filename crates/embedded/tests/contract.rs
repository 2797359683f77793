//! The shared storage contract, run against the embedded adapters: a SQLite
//! table in a temporary folder, and a blob folder served over HTTP on a
//! loopback port.

use std::sync::Arc;

use dtg_app::store::contract::{run_blobs_contract, run_table_contract};
use dtg_embedded::{FolderBlobs, SqliteTable, blob_routes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_table_keeps_the_table_contract() {
    // GIVEN a fresh database file
    let dir = tempfile::tempdir().unwrap();
    let table = SqliteTable::open(dir.path().join("dtg.sqlite3")).unwrap();
    // WHEN / THEN every behaviour of the contract holds
    run_table_contract(&table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_table_keeps_its_items_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dtg.sqlite3");
    run_table_contract(&SqliteTable::open(&path).unwrap()).await;
    // A second connection on the same file (as after a restart) sees the
    // same items and still keeps the contract.
    run_table_contract(&SqliteTable::open(&path).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_blobs_keep_the_blobs_contract() {
    // GIVEN a blob folder whose presigned URLs point at a server on a free
    // loopback port
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let blobs = Arc::new(FolderBlobs::new(dir.path(), base_url, "contract-secret").unwrap());
    let server = tokio::spawn(axum::serve(listener, blob_routes(Arc::clone(&blobs))).into_future());

    // WHEN / THEN every behaviour of the contract holds
    run_blobs_contract(&*blobs).await;

    server.abort();
}

//! The store on SQLite: 10,000 ticket writes (each conditional, as the
//! repositories write them), then a full read of the session's tickets.

use dtg_app::store::contract::{bench_ticket_writes_and_read, report_bench};
use dtg_embedded::SqliteTable;

const WRITES: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let table =
            SqliteTable::open(dir.path().join("bench.sqlite")).unwrap_or_else(|e| panic!("{e}"));
        report_bench(
            "sqlite",
            WRITES,
            bench_ticket_writes_and_read(&table, WRITES).await,
        );
    });
}

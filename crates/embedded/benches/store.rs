//! The store on SQLite: 10,000 ticket writes (each conditional, as the
//! repositories write them), then a full read of the session's tickets.

use std::time::Instant;

use dtg_app::store::{Condition, Item, Table, keys};
use dtg_embedded::SqliteTable;

const WRITES: usize = 10_000;
const NOW: i64 = 1_800_000_000;

fn ticket(n: usize) -> Item {
    Item {
        pk: keys::session("bench"),
        sk: keys::ticket(&format!("t{n:05}")),
        body: serde_json::json!({
            "id": format!("t{n:05}"),
            "title": format!("Add fields to Bundle {n} (12)"),
            "description_html": "<p>".to_owned() + &"Field table and steps. ".repeat(40) + "</p>",
            "labels": ["drupal", "content-model", "fields"],
            "estimate": 3,
        }),
        version: 1,
        expires_at: Some(NOW + 30 * 86_400),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let table = SqliteTable::open(dir.path().join("bench.sqlite")).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        for n in 0..WRITES {
            if let Err(e) = table.put(ticket(n), Condition::Absent, NOW).await {
                panic!("write {n}: {e}");
            }
        }
        let writes = start.elapsed();
        let start = Instant::now();
        let (mut read, mut token) = (0, None);
        loop {
            let page = match table.query(&keys::session("bench"), keys::prefix::TICKETS, token.take(), NOW).await {
                Ok(p) => p,
                Err(e) => panic!("read: {e}"),
            };
            read += page.items.len();
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let reading = start.elapsed();
        assert_eq!(read, WRITES);
        println!(
            "sqlite: {WRITES} ticket writes in {:.2} s ({:.0} writes/s); full session read of {read} tickets in {:.1} ms ({:.0} items/s)",
            writes.as_secs_f64(),
            WRITES as f64 / writes.as_secs_f64(),
            reading.as_secs_f64() * 1e3,
            read as f64 / reading.as_secs_f64()
        );
    });
}

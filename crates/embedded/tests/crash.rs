//! A process killed in the middle of writing leaves the SQLite store readable
//! with every acknowledged write present.
//!
//! The test runs itself again as a child (`writer_child`) that writes items
//! and prints `ack <n>` after each write returns; the parent kills it with
//! SIGKILL mid-stream, then opens the store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use dtg_app::store::{Condition, Item, Table};
use dtg_embedded::SqliteTable;

const CHILD: &str = "DTG_CRASH_CHILD_STORE";
const NOW: i64 = 1_800_000_000;

/// The child: writes until killed. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let table = SqliteTable::open(path).unwrap();
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let item = Item {
            pk: "SESSION#crash".into(),
            sk: format!("TICKET#{n:08}"),
            body: serde_json::json!({ "n": n, "text": "x".repeat(2000) }),
            version: 1,
            expires_at: None,
        };
        table.put(item, Condition::Absent, NOW).await.unwrap();
        writeln!(out, "ack {n}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test]
async fn killed_writer_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("ack ") {
            let n: u64 = n.parse().unwrap();
            acked = Some(n);
            if n >= 300 {
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    let acked = acked.expect("the child acknowledged writes");

    // The store opens, and every acknowledged write is there, whole.
    let table = SqliteTable::open(&path).unwrap();
    for n in 0..=acked {
        let item = table
            .get("SESSION#crash", &format!("TICKET#{n:08}"), NOW)
            .await
            .unwrap();
        let item = item.unwrap_or_else(|| panic!("acknowledged write {n} is missing"));
        assert_eq!(item.body["n"], n);
        assert_eq!(item.body["text"].as_str().unwrap().len(), 2000);
    }
    // And it still takes writes.
    let item = Item {
        pk: "SESSION#crash".into(),
        sk: "META".into(),
        body: serde_json::json!({}),
        version: 1,
        expires_at: None,
    };
    table.put(item, Condition::Absent, NOW).await.unwrap();
}

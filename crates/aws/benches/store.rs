//! The same store workload as the SQLite benchmark, against DynamoDB served
//! by moto (for reference: moto is an emulator, not DynamoDB's speed).
//! Needs `moto_server` (`make test` installs it; set `DTG_MOTO_SERVER`).

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use dtg_app::store::{Condition, Item, Table, keys};
use dtg_aws::DynamoTable;

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
    let program = std::env::var("DTG_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(5055);
    let mut moto = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await;
        let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), "dtg-bench");
        if let Err(e) = table.create_if_missing().await {
            panic!("create table: {e}");
        }
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
            "dynamodb on moto: {WRITES} ticket writes in {:.2} s ({:.0} writes/s); full session read of {read} tickets in {:.1} ms ({:.0} items/s)",
            writes.as_secs_f64(),
            WRITES as f64 / writes.as_secs_f64(),
            reading.as_secs_f64() * 1e3,
            read as f64 / reading.as_secs_f64()
        );
    });
    let _ = moto.kill();
    let _ = moto.wait();
}

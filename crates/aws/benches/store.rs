//! The same store workload as the SQLite benchmark, against DynamoDB served
//! by moto (for reference: moto is an emulator, not DynamoDB's speed).
//! Needs `moto_server` (`make test` installs it; set `DTG_MOTO_SERVER`).

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use dtg_app::store::contract::{bench_ticket_writes_and_read, report_bench};
use dtg_aws::DynamoTable;

const WRITES: usize = 10_000;
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
        report_bench(
            "dynamodb on moto",
            WRITES,
            bench_ticket_writes_and_read(&table, WRITES).await,
        );
    });
    let _ = moto.kill();
    let _ = moto.wait();
}

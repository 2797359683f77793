//! The same store workload as the SQLite benchmark, against DynamoDB served
//! by moto (for reference: moto is an emulator, not DynamoDB's speed).
//! Needs `moto_server` (`make test` installs it; set `DTG_MOTO_SERVER`).

use dtg_app::store::contract::{bench_ticket_writes_and_read, report_bench};
use dtg_aws::DynamoTable;
use dtg_moto::Moto;

const WRITES: usize = 10_000;
fn main() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let config = moto.sdk_config().await;
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
}

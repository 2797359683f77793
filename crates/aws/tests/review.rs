//! The review stage's contract against DynamoDB and S3, served by moto on a
//! free loopback port (started here and stopped when the test ends): the
//! same checks the embedded adapters pass, one call at a time. The racing
//! checks are left out here: moto undoes a failed transaction by restoring a
//! snapshot of the whole table taken when it started, which also undoes the
//! transactions that landed meanwhile (DynamoDB serialises them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use dtg_aws::{DynamoTable, S3Blobs};
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Plan, PlanSettings, plan};

/// A moto server child process, killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let program = std::env::var("DTG_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} ({e}): run `make test`, which installs moto (pip install 'moto[server]')")
        });
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// The plan of `sample_data/uwec_complete`: a real site, well over one transaction of tickets.
fn uwec_plan() -> Plan {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample_data/uwec_complete");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            SourceFile::new(
                p.file_name().unwrap().to_string_lossy(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let report = validate(&files, &Limits::default());
    assert!(!report.has_errors());
    plan(&report.items, &PlanSettings::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_review_stage_keeps_its_contract_on_dynamodb_and_s3() {
    let moto = start_moto();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), "dtg-review");
    table.create_if_missing().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let blobs = S3Blobs::new(s3, "dtg-review");
    blobs.create_if_missing().await.unwrap();
    dtg_app::review::contract::run_review_checks_one_at_a_time(&table, &blobs, &uwec_plan()).await;
}

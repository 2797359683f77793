//! moto's server for the AWS adapters' tests and benchmarks.
//!
//! `make test` installs moto and sets `DTG_MOTO_SERVER` to its `moto_server`.
//! A free port is chosen by binding port 0 and releasing it, so another test
//! in the same process can take it before moto binds it: the server is only
//! used once it answers moto's own `/moto-api/data.json`, and a moto that
//! exits (its port taken) is started again on another port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

/// How many ports are tried before giving up.
const ATTEMPTS: usize = 5;
/// How long one moto may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A moto server child process, killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// Where its request recorder writes.
    recording: std::path::PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.recording);
    }
}

impl Moto {
    /// Starts moto's server on a free loopback port.
    ///
    /// # Panics
    /// When moto cannot be started: it says to run `make test`, which installs it.
    pub fn start() -> Self {
        let program = std::env::var("DTG_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            match start_once(&program) {
                Ok(moto) => return moto,
                Err(reason) => last = reason,
            }
        }
        panic!("moto did not start after {ATTEMPTS} attempts: {last}")
    }

    /// SDK configuration for moto: its endpoint, `us-east-1`, test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        // The client the product uses (`dtg_aws::https_client`), on plain HTTP here.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }
}

fn start_once(program: &str) -> Result<Moto, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    // moto's request recorder writes to a file, by default in the working
    // directory; each server gets its own, fresh.
    let recording = std::env::temp_dir().join(format!("dtg-moto-{port}.recording"));
    let _ = std::fs::remove_file(&recording);
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_RECORDER_FILEPATH", &recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} ({e}): run `make test`, which installs moto")
        });
    let mut moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        recording,
    };
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = moto.child.try_wait() {
            return Err(format!("moto exited ({status}) on port {port}"));
        }
        if answers_as_moto(port) {
            return Ok(moto);
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!(
                "nothing answered as moto on port {port} within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the server on `port` answers moto's state document with 200.
fn answers_as_moto(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = "GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.starts_with("HTTP/1.") && answer.split(' ').nth(1) == Some("200")
}

/// A name no other test of this run uses (tables, buckets, queues, runs):
/// the current time in nanoseconds, in hex.
///
/// # Panics
/// When the clock is before 1970.
#[must_use]
pub fn unique_name() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_else(|e| panic!("the clock is before 1970: {e}"))
            .as_nanos()
    )
}

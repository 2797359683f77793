//! `dtg-jira-emulator [--port N] [--no-limits]`: the Jira Cloud emulator as a
//! server, to try `dtg export` without a real site. Point the Jira base URL
//! at `http://127.0.0.1:N` and sign in with the printed credentials.

use std::process::ExitCode;

use dtg_jira_emulator::config::{DEFAULT_API_TOKEN, DEFAULT_EMAIL, DEFAULT_PAT};
use dtg_jira_emulator::{Config, JiraEmulator, Limits};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let port = arg("--port").unwrap_or_else(|| "8090".to_owned());
    let mut config = Config::default();
    if std::env::args().any(|a| a == "--no-limits") {
        config.limits = Limits::off();
    }
    match JiraEmulator::start_on(&format!("127.0.0.1:{port}"), config).await {
        Ok(emulator) => {
            eprintln!(
                "Jira emulator on {} (project DTG; email {DEFAULT_EMAIL}, API token {DEFAULT_API_TOKEN}, PAT {DEFAULT_PAT}; OAuth gateway {})",
                emulator.base_url(),
                emulator.gateway_url()
            );
            std::future::pending::<()>().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dtg-jira-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `dtg-llm-emulator [--port N] [--delay-ms MS]`: the LLM emulator as a
//! server, to try `dtg plan --llm ...` without a real provider. Point
//! `--base-url` at `http://127.0.0.1:N/v1` (OpenAI) or `http://127.0.0.1:N`
//! (Anthropic); any key is accepted.

use std::process::ExitCode;
use std::time::Duration;

use dtg_llm_emulator::{Emulator, Script};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let port = arg("--port").unwrap_or_else(|| "8089".to_owned());
    let delay = arg("--delay-ms").and_then(|d| d.parse().ok()).unwrap_or(0);
    let script = Script::with_delay(Duration::from_millis(delay));
    match Emulator::start_on(&format!("127.0.0.1:{port}"), script).await {
        Ok(emulator) => {
            eprintln!(
                "LLM emulator on {} (OpenAI: {}, Anthropic: {})",
                emulator.addr(),
                emulator.openai_base_url(),
                emulator.anthropic_base_url()
            );
            std::future::pending::<()>().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dtg-llm-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

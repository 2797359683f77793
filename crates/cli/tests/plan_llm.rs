//! `dtg plan --llm ...` end to end, against the LLM emulator: the tickets
//! worded, the plan's structure untouched, usage and cost reported.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dtg_llm_emulator::{Emulator, Script};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dtg(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dtg"));
    cmd.args(args).current_dir(repo()).env("NO_COLOR", "1");
    for var in [
        "DTG_LLM_PROVIDER",
        "DTG_LLM_MODEL",
        "DTG_LLM_BASE_URL",
        "DTG_LLM_API_KEY",
        "DTG_LLM_PRICES",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("dtg runs")
}

fn json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

// GIVEN the emulator answering as OpenAI with 1,000 input and 500 output tokens a chunk
// WHEN `dtg plan --llm openai` runs on the sample site
// THEN every ticket is worded, ids and dependencies are the planner's, the
// answer format names the chunk's and the plan's ids, and the cost is
// exactly chunks x (1,000 x $0.15 + 500 x $0.60) per million.
#[test]
fn plan_with_a_model_reports_usage_and_exact_cost() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emu = runtime
        .block_on(Emulator::start(Script::default()))
        .unwrap();
    let base = emu.openai_base_url();
    let plain = json(&dtg(&["plan", "sample_data/uwec_complete"], &[]));
    assert!(plain.get("generation").is_none(), "no model without --llm");
    let out = dtg(
        &[
            "plan",
            "sample_data/uwec_complete",
            "--llm",
            "openai",
            "--model",
            "gpt-4o-mini",
            "--base-url",
            &base,
        ],
        &[("DTG_LLM_API_KEY", "sk-test")],
    );
    let doc = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("sk-test"));
    let g = &doc["generation"];
    let chunks = g["chunks"].as_array().unwrap().len() as u64;
    assert_eq!(chunks, emu.requests().len() as u64);
    assert!(emu.requests().iter().all(|r| r.schema_errors.is_empty()));
    // The model may only answer for its chunk's tickets and suggest the plan's.
    let plan_ids: Vec<Value> = plain["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    for r in emu.requests() {
        let schema = r.answer_schema().unwrap();
        let item = &schema["properties"]["tickets"]["items"]["properties"];
        assert_eq!(item["id"]["enum"], serde_json::json!(r.ticket_ids));
        assert_eq!(
            item["suggested_dependencies"]["items"]["properties"]["id"]["enum"],
            Value::Array(plan_ids.clone())
        );
    }
    assert_eq!(
        g["tickets_written"],
        plain["tickets"].as_array().unwrap().len()
    );
    assert_eq!(g["usage"]["input_tokens"].as_u64(), Some(1_000 * chunks));
    assert_eq!(g["usage"]["output_tokens"].as_u64(), Some(500 * chunks));
    let per_chunk: u64 = 1_000 * 150_000 + 500 * 600_000;
    assert_eq!(g["cost"]["pico_usd"].as_u64(), Some(per_chunk * chunks));
    assert!(
        stderr.contains(&format!("cost $0.{:06}", per_chunk * chunks / 1_000_000)),
        "{stderr}"
    );
    assert_eq!(doc["order"], plain["order"]);
    assert_eq!(doc["dependencies"], plain["dependencies"]);
    assert_eq!(doc["epics"], plain["epics"]);
    for (a, b) in doc["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(plain["tickets"].as_array().unwrap())
    {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["items"], b["items"]);
        assert_ne!(a["title"], b["title"]);
    }
}

// GIVEN a session and the emulator answering as OpenAI
// WHEN `dtg plan --session ID --llm openai` runs on the sample site
// THEN the worded plan is the session's, and its audit log says which model
// wrote it, over how many chunks, at what cost.
#[test]
fn a_worded_plan_in_a_session_is_audited_with_its_model_and_cost() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emu = runtime
        .block_on(Emulator::start(Script::default()))
        .unwrap();
    let base = emu.openai_base_url();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_str().unwrap();
    let env = [("DTG_HOME", home_path), ("DTG_LLM_API_KEY", "sk-test")];
    let created = dtg(&["session", "new", "--name", "worded"], &env);
    assert!(created.status.success());
    let id = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let out = dtg(
        &[
            "plan",
            "--session",
            &id,
            "sample_data/uwec_complete",
            "--llm",
            "openai",
            "--model",
            "gpt-4o-mini",
            "--base-url",
            &base,
        ],
        &env,
    );
    let doc = json(&out);
    let shown = json(&dtg(&["session", "show", &id, "--format", "json"], &env));
    let worded: Vec<&Value> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "plan.worded")
        .collect();
    assert_eq!(worded.len(), 1, "{shown}");
    let detail = &worded[0]["detail"];
    assert_eq!(detail["provider"], "openai");
    assert_eq!(detail["model"], "gpt-4o-mini");
    assert_eq!(detail["chunks"].as_u64(), Some(emu.requests().len() as u64));
    assert_eq!(detail["cost"], doc["generation"]["cost"]);
    assert_eq!(detail["usage"], doc["generation"]["usage"]);
    assert!(!shown.to_string().contains("sk-test"));
}

// A provider named without what it needs is a usage error, explained.
#[test]
fn a_missing_key_is_explained() {
    let out = dtg(
        &["plan", "sample_data/uwec_complete", "--llm", "anthropic"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("API key"));
}

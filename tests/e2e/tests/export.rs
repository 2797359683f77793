//! The export end to end: the engine, the real Jira client and the Jira
//! emulator, with Jira Cloud's rate limits and injected faults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use dtg_app::export::{ExportSettings, step};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_e2e::{NOW, assert_exported_exactly_once, run, session_ready_to_export, uwec_plan};
use dtg_embedded::SqliteTable;
use dtg_jira::{Auth, JiraClient, JiraConfig, Secret};
use dtg_jira_emulator::config::{DEFAULT_API_TOKEN, DEFAULT_EMAIL};
use dtg_jira_emulator::{Config, JiraEmulator};

fn client(emu: &JiraEmulator) -> JiraClient {
    JiraClient::new(
        JiraConfig::new(emu.base_url()),
        Auth::api_token(DEFAULT_EMAIL, &Secret::new(DEFAULT_API_TOKEN)),
    )
    .unwrap()
}

fn settings() -> ExportSettings {
    ExportSettings {
        project_key: "DTG".to_owned(),
        batch_size: 50,
        ..ExportSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_site_exports_whole_with_links_the_right_way() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let table = SqliteTable::open_in_memory().unwrap();
    let plan = uwec_plan();
    session_ready_to_export(&table, "s1", &plan, settings()).await;
    let repos = Repos::new(&table, DEFAULT_TTL_SECONDS);
    let jira = client(&emu);
    let started = Instant::now();
    let mut steps = 0;
    loop {
        let t = Instant::now();
        let report = step(&repos, &jira, "s1", run("export", NOW)).await.unwrap();
        steps += 1;
        println!(
            "step {steps}: {:?} {:.2}s {}",
            report.state.phase,
            t.elapsed().as_secs_f64(),
            report.progress.current_stage
        );
        assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
        if report.done {
            break;
        }
    }
    println!(
        "exported in {:.1}s, {:?}",
        started.elapsed().as_secs_f64(),
        jira.stats()
    );
    let exported = repos.exported("s1", NOW).await.unwrap();
    assert_exported_exactly_once(&emu, &plan, &exported);
}

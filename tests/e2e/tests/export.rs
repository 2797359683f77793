//! The export end to end: the engine, the real Jira client and the Jira
//! emulator, with Jira Cloud's rate limits and injected faults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use dtg_app::export::{ExportSettings, Phase, PlanCache, step, step_with};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_e2e::metered::Metered;
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

/// One export stepped by two processes taking turns, as a function's warm
/// instances do: each keeps the plan and the issues created between its own
/// steps, and reads the issues afresh when the other process stepped since.
/// Nothing is created twice, and a process that steps again reads a few
/// items, not every issue created so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_taking_turns_create_nothing_twice_and_read_the_issues_only_after_the_other() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let table = Metered::new(SqliteTable::open_in_memory().unwrap());
    let plan = uwec_plan();
    let settings = ExportSettings {
        batch_size: 10,
        ..settings()
    };
    session_ready_to_export(&table, "s1", &plan, settings).await;
    let repos = Repos::new(&table, DEFAULT_TTL_SECONDS);
    let jira = client(&emu);
    let processes = [PlanCache::default(), PlanCache::default()];
    let turns = [0, 0, 0, 1, 0, 1, 1, 0];
    let (mut continuing, mut switching) = (0, 0);
    for n in 0.. {
        assert!(n < 500, "the export did not end");
        let who = turns[n % turns.len()];
        let previous = (n > 0).then(|| turns[(n - 1) % turns.len()]);
        let before = repos.export_state("s1", NOW).await.unwrap().unwrap().value;
        let issues = repos.exported("s1", NOW).await.unwrap().len() as u64;
        table.take();
        let report = step_with(&repos, &jira, &processes[who], "s1", run("export", NOW))
            .await
            .unwrap();
        let read = table.take().items;
        assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
        if before.phase != Phase::Prepare && issues > 0 {
            if previous == Some(who) {
                continuing += 1;
                assert!(
                    read < 10,
                    "step {n} by the process that stepped last read {read} items ({issues} issues)"
                );
            } else {
                switching += 1;
                assert!(
                    read >= issues,
                    "step {n} after the other process read {read} items, not the {issues} issues"
                );
            }
        }
        if report.done {
            break;
        }
    }
    assert!(continuing > 5 && switching > 5, "{continuing} {switching}");
    let exported = repos.exported("s1", NOW).await.unwrap();
    assert_exported_exactly_once(&emu, &plan, &exported);
}

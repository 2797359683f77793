//! Export throughput: 1,000 tickets in 50 epics and all their dependency
//! links, from a session on SQLite to the Jira emulator with Jira Cloud's
//! rate limits on (burst per endpoint, per-issue writes, hourly points),
//! through the real client and the engine's steps. The baseline is the seed
//! design's sequential export at 1.5 s per ticket (1,500 s for 1,000).
//! Run with `cargo bench -p dtg-e2e`.
//!
//! The plan is the sample site's real plan copied until it holds 1,000
//! tickets ([`dtg_e2e::scaled_sample_plan`]). The export runs twice, on a
//! fresh site each: with a separate `issueLink` request per dependency, and
//! with the links sent inside the create calls where Jira allows it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dtg_app::export::{ExportSettings, LinkMode, step};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_core::plan::Plan;
use dtg_e2e::{
    NOW, assert_exported_exactly_once, run, scaled_sample_plan, session_ready_to_export,
};
use dtg_embedded::SqliteTable;
use dtg_jira::{Auth, JiraClient, JiraConfig, Secret};
use dtg_jira_emulator::config::{DEFAULT_API_TOKEN, DEFAULT_EMAIL};
use dtg_jira_emulator::{Config, JiraEmulator};

const TICKETS: usize = 1_000;
const EPICS: usize = 50;
const BASELINE: Duration = Duration::from_millis(1_500 * TICKETS as u64);
const TARGET: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let plan = scaled_sample_plan(TICKETS, EPICS);
        let mut degree: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &plan.dependencies {
            *degree.entry(&d.from).or_default() += 1;
            *degree.entry(&d.to).or_default() += 1;
        }
        let busiest = degree.values().max().copied().unwrap_or(0);
        println!(
            "plan: {} tickets, {} epics, {} dependencies (busiest issue: {busiest} links)",
            plan.tickets.len(),
            plan.epics.len(),
            plan.dependencies.len()
        );

        let separate = export(&plan, LinkMode::Separate).await;
        let at_create = export(&plan, LinkMode::AtCreate).await;
        let (Some(separate), Some(at_create)) = (separate, at_create) else {
            return ExitCode::FAILURE;
        };
        println!(
            "links inside the create calls against separate link requests: {:.2} s against {:.2} s wall ({:.2}x), {} against {} requests, {} against {} answered 429",
            at_create.wall.as_secs_f64(),
            separate.wall.as_secs_f64(),
            separate.wall.as_secs_f64() / at_create.wall.as_secs_f64(),
            at_create.requests,
            separate.requests,
            at_create.throttled,
            separate.throttled,
        );
        ExitCode::SUCCESS
    })
}

/// What one export run measured.
struct Figures {
    wall: Duration,
    requests: u64,
    throttled: u64,
}

/// Exports `plan` to a fresh site with Jira Cloud's limits, sending links as
/// `mode` says, and prints what it measured; `None` when the export failed.
async fn export(plan: &Plan, mode: LinkMode) -> Option<Figures> {
    println!("links {mode:?}:");
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let table = SqliteTable::open_in_memory().unwrap();
    let settings = ExportSettings {
        project_key: "DTG".to_owned(),
        batch_size: 50,
        link_mode: mode,
        ..ExportSettings::default()
    };
    session_ready_to_export(&table, "bench", plan, settings).await;
    let repos = Repos::new(&table, DEFAULT_TTL_SECONDS);
    let jira = JiraClient::new(
        JiraConfig::new(emu.base_url()),
        Auth::api_token(DEFAULT_EMAIL, &Secret::new(DEFAULT_API_TOKEN)),
    )
    .unwrap();

    let started = Instant::now();
    let mut phases: Vec<(String, Duration, usize)> = Vec::new();
    let mut soft_waits = Duration::ZERO;
    let links_at_create = loop {
        let t = Instant::now();
        let report = step(&repos, &jira, "bench", run("bench", NOW))
            .await
            .unwrap();
        if let Some(failure) = &report.state.failure {
            eprintln!("export failed: {failure:?}");
            return None;
        }
        let phase = format!("{:?}", report.state.phase);
        match phases.last_mut() {
            Some((p, d, n)) if *p == phase => {
                *d += t.elapsed();
                *n += 1;
            }
            _ => phases.push((phase, t.elapsed(), 1)),
        }
        if report.done {
            break report.state.counters.links_at_create;
        }
        if !report.wait_hint.is_zero() {
            soft_waits += report.wait_hint;
            tokio::time::sleep(report.wait_hint).await;
        }
    };
    let wall = started.elapsed();
    let stats = jira.stats();

    let issues = emu.issues();
    let expected = plan.epics.len() + plan.tickets.len();
    let links = emu.links().len();
    let duplicates = emu.duplicates().len();
    println!("  steps by the phase they ended in:");
    for (phase, d, n) in &phases {
        println!("    {phase:<12} {n:>3} steps {:>7.2} s", d.as_secs_f64());
    }
    println!(
        "  export: {:.2} s wall ({:.2} s of it waiting as Jira asked), {} requests sent, {} answered 429 ({} refused by the emulator), {} retries",
        wall.as_secs_f64(),
        soft_waits.as_secs_f64(),
        stats.requests_sent,
        stats.rate_limited,
        emu.throttled(),
        stats.retries
    );
    println!(
        "  created: {} issues of {expected}, {links} links of {} ({links_at_create} inside create calls), {duplicates} duplicates",
        issues.len(),
        plan.dependencies.len()
    );
    println!(
        "  baseline (sequential, 1.5 s per ticket): {:.0} s; this run is {:.1}x faster; target {} s",
        BASELINE.as_secs_f64(),
        BASELINE.as_secs_f64() / wall.as_secs_f64(),
        TARGET.as_secs()
    );
    let exported = repos.exported("bench", NOW).await.unwrap();
    assert_exported_exactly_once(&emu, plan, &exported);
    Some(Figures {
        wall,
        requests: stats.requests_sent,
        throttled: stats.rate_limited,
    })
}

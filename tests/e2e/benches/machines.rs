//! What the serverless export costs per 1,000 tickets. The export machine
//! (`statemachine/export.asl.json`) runs under the embedded ASL runner, each
//! Task the in-process handler of its Lambda (`dtg_tasks::invoke`), over a
//! table metering DynamoDB's request units ([`dtg_e2e::metered`]), to the
//! Jira emulator (rate limits off: they change when steps run, not what they
//! read and write; a Wait costs a state transition and no Lambda time).
//!
//! For 1,000 and 10,000 tickets of the sample site's scaled plan it reports:
//! executions (a run continues in a new execution near the history limit),
//! state transitions and history events, Lambda invocations and GB-seconds at
//! each function's memory in `infra/template.yaml` (durations measured here,
//! against an emulator that answers at once: Jira Cloud's latency adds to
//! them on AWS), DynamoDB read and write units, WebSocket messages, and the
//! bill at on-demand prices (us-east-1, arm64). The baseline, run the same
//! way, reads the plan afresh at every step (a process keeping nothing
//! between steps): the ratio of read units is the cache's gain.
//!
//! Run with `cargo bench -p dtg-e2e --bench machines`; `DTG_BENCH_TICKETS`
//! sets the sizes (`1000,10000`), `DTG_BENCH_BASELINE_MAX` the largest size
//! the baseline runs at (2,000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dtg_app::export::{ExportSettings, PlanCache};
use dtg_app::jobs::ExportRun;
use dtg_app::progress::{ProgressMessage, Publish};
use dtg_app::repo::TokenCipher;
use dtg_core::csv::Limits;
use dtg_e2e::metered::{Metered, Units};
use dtg_e2e::{scaled_sample_plan, session_ready_to_export, sign_in_to_site};
use dtg_embedded::asl::{
    ExecutionContext, Machine, RecordingWaiter, TaskFailure, Tasks, run_with_report,
};
use dtg_embedded::{FolderBlobs, SqliteTable};
use dtg_jira::{JiraConfig, SiteAccess};
use dtg_jira_emulator::{Config, JiraEmulator};
use dtg_tasks::TaskContext;
use serde_json::{Value, json};

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");
const SESSION: &str = "bench";
const ACTOR: &str = "tester";

// On-demand prices, us-east-1 (USD).
const TRANSITION: f64 = 0.025 / 1_000.0;
const GB_SECOND_ARM: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1_000_000.0;
const READ_UNIT: f64 = 0.125 / 1_000_000.0;
const WRITE_UNIT: f64 = 0.625 / 1_000_000.0;
const WS_MESSAGE: f64 = 1.00 / 1_000_000.0;

type Table = Metered<SqliteTable>;
type Context = TaskContext<Table, FolderBlobs, Counting, SiteAccess<Table>>;

/// Counts the messages the WebSocket would carry.
#[derive(Debug, Default)]
struct Counting(AtomicU64);

impl Publish for Counting {
    async fn publish(&self, _session: &str, _message: &ProgressMessage) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The machine's tasks, run in-process and timed; continuations queued.
struct Bench {
    ctx: Arc<Context>,
    /// The baseline: each invocation keeps nothing from the one before.
    fresh: bool,
    calls: Mutex<Vec<(String, Duration)>>,
    continued: Mutex<Vec<(String, Value)>>,
}

impl Tasks for Bench {
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        let started = Instant::now();
        let answer = if self.fresh {
            let ctx = TaskContext {
                table: Arc::clone(&self.ctx.table),
                blobs: Arc::clone(&self.ctx.blobs),
                publish: Arc::clone(&self.ctx.publish),
                jira: Arc::clone(&self.ctx.jira),
                llm: BTreeMap::new(),
                limits: Limits::default(),
                plans: PlanCache::default(),
            };
            dtg_tasks::invoke(&ctx, function, payload).await
        } else {
            dtg_tasks::invoke(&self.ctx, function, payload).await
        };
        self.calls
            .lock()
            .unwrap()
            .push((function.to_owned(), started.elapsed()));
        answer.map_err(|e| TaskFailure::new(e.error_type(), e.to_string()))
    }

    async fn start_execution(
        &self,
        _machine: &str,
        name: &str,
        input: Value,
    ) -> Result<Value, TaskFailure> {
        self.continued
            .lock()
            .unwrap()
            .push((name.to_owned(), input));
        Ok(
            json!({"ExecutionArn": format!("arn:aws:states:us-east-1:123456789012:execution:export:{name}"), "StartDate": 0}),
        )
    }
}

/// Each function's memory in the template, in MB.
fn memory() -> BTreeMap<String, u64> {
    let mut memory = BTreeMap::new();
    let mut binary = None;
    for line in TEMPLATE.lines().map(str::trim) {
        if let Some(b) = line.strip_prefix("Binary: ") {
            binary = Some(b.to_owned());
        } else if let Some(m) = line.strip_prefix("MemorySize: ")
            && let Some(b) = binary.take()
        {
            memory.insert(b, m.parse().unwrap());
        }
    }
    memory
}

#[derive(Debug, Default)]
struct Figures {
    executions: usize,
    transitions: u64,
    max_events: u64,
    invocations: BTreeMap<String, (usize, Duration)>,
    gb_seconds: f64,
    units: Units,
    messages: u64,
    jira: BTreeMap<String, usize>,
    elapsed: Duration,
}

impl Figures {
    fn cost(&self) -> f64 {
        let requests: usize = self.invocations.values().map(|(n, _)| n).sum();
        self.transitions as f64 * TRANSITION
            + self.gb_seconds * GB_SECOND_ARM
            + requests as f64 * LAMBDA_REQUEST
            + self.units.reads as f64 * READ_UNIT
            + self.units.writes as f64 * WRITE_UNIT
            + self.messages as f64 * WS_MESSAGE
    }
}

async fn export(tickets: usize, fresh: bool) -> Figures {
    let plan = scaled_sample_plan(tickets, (tickets / 20).max(1));
    let emu = JiraEmulator::start(Config::unlimited()).await.unwrap();
    let site = emu.base_url();
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(Metered::new(SqliteTable::open_in_memory().unwrap()));
    let cipher = TokenCipher::from_hex(&TokenCipher::generate_key_hex()).unwrap();
    let ctx = Arc::new(TaskContext {
        table: Arc::clone(&table),
        blobs: Arc::new(
            FolderBlobs::new(dir.path(), "http://127.0.0.1:1", b"bench".to_vec()).unwrap(),
        ),
        publish: Arc::new(Counting::default()),
        jira: Arc::new(
            SiteAccess::new(
                Arc::clone(&table),
                cipher.clone(),
                |s: &str| JiraConfig::new(s),
                None,
            )
            .unwrap(),
        ),
        llm: BTreeMap::new(),
        limits: Limits::default(),
        plans: PlanCache::default(),
    });
    let settings = ExportSettings {
        project_key: "DTG".to_owned(),
        ..ExportSettings::default()
    };
    session_ready_to_export(table.as_ref(), SESSION, &plan, settings).await;
    sign_in_to_site(
        table.as_ref(),
        SESSION,
        ACTOR,
        &site,
        "DTG",
        &cipher,
        dtg_tasks::now(),
    )
    .await;
    table.take();

    let machine = Machine::from_json(dtg_server::EXPORT_ASL, &dtg_server::substitutions()).unwrap();
    let bench = Bench {
        ctx: Arc::clone(&ctx),
        fresh,
        calls: Mutex::new(Vec::new()),
        continued: Mutex::new(Vec::new()),
    };
    let mut figures = Figures::default();
    let started = Instant::now();
    let mut next = Some((
        "bench-run".to_owned(),
        serde_json::to_value(ExportRun {
            session_id: SESSION.to_owned(),
            actor: ACTOR.to_owned(),
            run_id: "bench-run".to_owned(),
            task_id: String::new(),
            generation: 0,
        })
        .unwrap(),
    ));
    while let Some((name, input)) = next.take() {
        let report = run_with_report(
            &machine,
            &bench,
            &RecordingWaiter::new(),
            ExecutionContext::new("export", name.clone()),
            input,
        )
        .await;
        if let Err(failure) = &report.output {
            panic!("execution {name} failed: {failure:?}");
        }
        figures.executions += 1;
        figures.transitions += report.state_transitions;
        figures.max_events = figures.max_events.max(report.history_events);
        next = bench.continued.lock().unwrap().pop();
    }
    figures.elapsed = started.elapsed();
    assert_eq!(
        emu.issues().len(),
        plan.tickets.len() + plan.epics.len(),
        "every ticket and epic exported"
    );
    assert!(emu.duplicates().is_empty(), "no ticket twice");
    let memory = memory();
    for (function, took) in bench.calls.lock().unwrap().iter() {
        let entry = figures.invocations.entry(function.clone()).or_default();
        entry.0 += 1;
        entry.1 += *took;
        figures.gb_seconds += took.as_secs_f64() * memory[function.as_str()] as f64 / 1024.0;
    }
    figures.units = table.take();
    figures.messages = ctx.publish.0.load(Ordering::Relaxed);
    figures.jira = emu.request_counts();
    figures
}

fn print(tickets: usize, label: &str, f: &Figures) {
    let per = 1_000.0 / tickets as f64;
    println!(
        "{tickets} tickets, {label}: {:.1} s here",
        f.elapsed.as_secs_f64()
    );
    println!(
        "  executions {}, state transitions {} ({:.0} per 1,000 tickets), most history events in one execution {} (limit 25,000)",
        f.executions,
        f.transitions,
        f.transitions as f64 * per,
        f.max_events
    );
    for (function, (n, took)) in &f.invocations {
        println!(
            "  {function}: {n} invocations, {:.1} ms each on average",
            took.as_secs_f64() * 1_000.0 / *n as f64
        );
    }
    println!(
        "  Lambda {:.2} GB-s ({:.2} per 1,000 tickets); DynamoDB {} read units, {} write units, {} requests ({:.0} RRU and {:.0} WRU per 1,000 tickets); {} WebSocket messages",
        f.gb_seconds,
        f.gb_seconds * per,
        f.units.reads,
        f.units.writes,
        f.units.calls,
        f.units.reads as f64 * per,
        f.units.writes as f64 * per,
        f.messages
    );
    let requests: usize = f.jira.values().sum();
    println!("  Jira: {requests} requests");
    for (endpoint, n) in &f.jira {
        println!("    {endpoint}: {n}");
    }
    println!(
        "  cost ${:.4} (${:.4} per 1,000 tickets)",
        f.cost(),
        f.cost() * per
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // DTG_BENCH_TICKETS=1000 runs one size.
        let sizes: Vec<usize> = std::env::var("DTG_BENCH_TICKETS")
            .unwrap_or_else(|_| "1000,10000".to_owned())
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("DTG_BENCH_TICKETS: sizes, comma-separated")
            })
            .collect();
        for tickets in sizes {
            let kept = export(tickets, false).await;
            print(tickets, "plan kept between steps", &kept);
            // The baseline reads the whole plan at every step: past a few
            // thousand tickets it takes many minutes.
            let most: usize = std::env::var("DTG_BENCH_BASELINE_MAX")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(2_000);
            if tickets > most {
                println!("  baseline skipped above {most} tickets (DTG_BENCH_BASELINE_MAX)");
                continue;
            }
            let fresh = export(tickets, true).await;
            print(tickets, "baseline: plan read at every step", &fresh);
            println!(
                "  read units: {:.1}x fewer with the plan kept",
                fresh.units.reads as f64 / kept.units.reads.max(1) as f64
            );
        }
    });
}

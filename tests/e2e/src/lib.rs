//! Helpers for the end-to-end tests of the export: the sample site's plan, a
//! synthetic plan of any size, and a session ready to export, on SQLite.

use dtg_app::export::{ExportSettings, check_adf, start_export};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_app::workflow::Run;
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Dependency, Plan, PlanSettings, plan};
use dtg_core::session::{Position, Stage, Status};
use dtg_embedded::SqliteTable;

/// A fixed clock for the tests.
pub const NOW: i64 = 1_800_000_000;

/// A run by the tester at `now`.
#[must_use]
pub fn run(id: &str, now: i64) -> Run<'_> {
    Run {
        actor: "tester",
        id,
        now,
    }
}

/// The plan of `sample_data/uwec_complete` (8 epics, 120 tickets, 248 dependencies).
///
/// # Panics
/// When the sample data cannot be read or planned.
#[must_use]
pub fn uwec_plan() -> Plan {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample_data/uwec_complete");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "csv"))
                .filter_map(|p| {
                    let name = p.file_name()?.to_string_lossy().into_owned();
                    Some(SourceFile::new(name, std::fs::read(&p).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let report = validate(&files, &Limits::default());
    assert!(!report.has_errors(), "the sample site validates");
    match plan(&report.items, &PlanSettings::default()) {
        Ok(p) => p,
        Err(e) => panic!("the sample site plans: {e}"),
    }
}

/// A plan of `tickets` tickets in `epics` epics, shaped from the sample
/// site's real tickets, each needing the ticket before it and one further
/// back (about two dependencies per ticket).
#[must_use]
pub fn synthetic_plan(tickets: usize, epics: usize) -> Plan {
    let sample = uwec_plan();
    let epic_template = sample.epics[0].clone();
    let mut out = Plan {
        granularity: sample.granularity,
        epics: Vec::new(),
        tickets: Vec::new(),
        dependencies: Vec::new(),
        order: Vec::new(),
    };
    for e in 0..epics {
        let mut epic = epic_template.clone();
        epic.id = format!("epic-{e:03}");
        epic.title = format!("Area {e}");
        epic.tickets = Vec::new();
        out.epics.push(epic);
    }
    for n in 0..tickets {
        let mut t = sample.tickets[n % sample.tickets.len()].clone();
        t.id = format!("ticket-{n:05}");
        t.title = format!("{} #{n}", t.title);
        t.epic = format!("epic-{:03}", n % epics.max(1));
        if let Some(epic) = out.epics.get_mut(n % epics.max(1)) {
            epic.tickets.push(t.id.clone());
        }
        for back in [1, 7] {
            if n >= back {
                out.dependencies.push(Dependency {
                    from: t.id.clone(),
                    to: format!("ticket-{:05}", n - back),
                    because: vec!["synthetic".to_owned()],
                });
            }
        }
        out.order.push(t.id.clone());
        out.tickets.push(t);
    }
    out.dependencies.sort();
    out
}

/// A session in review holding `plan`, its descriptions checked, its export
/// started to `project`.
///
/// # Panics
/// When the store refuses any step.
pub async fn session_ready_to_export(
    table: &SqliteTable,
    id: &str,
    plan: &Plan,
    settings: ExportSettings,
) {
    let repos = Repos::new(table, DEFAULT_TTL_SECONDS);
    let created = repos.create_session(id, "tester", "", NOW).await;
    let mut session = created.unwrap_or_else(|e| panic!("create: {e}"));
    for to in [
        Position::new(Stage::Upload, Status::Active),
        Position::new(Stage::Processing, Status::Processing),
    ] {
        session = repos
            .move_session(&session, to, NOW)
            .await
            .unwrap_or_else(|e| panic!("move: {e}"));
    }
    if let Err(e) = repos.save_plan(&session.value, plan, NOW).await {
        panic!("save plan: {e}");
    }
    if let Err(e) = repos
        .move_session(&session, Position::new(Stage::Review, Status::Active), NOW)
        .await
    {
        panic!("to review: {e}");
    }
    match check_adf(&repos, id, run("check", NOW)).await {
        Ok(r) if r.all_passed => {}
        other => panic!("ADF check: {other:?}"),
    }
    if let Err(e) = start_export(&repos, id, settings, run("start", NOW)).await {
        panic!("start: {e}");
    }
}

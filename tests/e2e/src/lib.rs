//! Helpers for the end-to-end tests of the export: the sample site's plan, a
//! synthetic plan of any size, a session ready to export on any table, a
//! table metering DynamoDB's units, and the check that an export ended with
//! everything in Jira exactly once.

pub mod metered;

use std::collections::{BTreeMap, BTreeSet};

use dtg_app::export::{ExportSettings, Exported, ExportedKind, check_adf, start_export};
use dtg_app::jira::TICKET_PROPERTY;
use dtg_app::repo::{DEFAULT_TTL_SECONDS, JiraCredentials, JiraTarget, Repos, TokenCipher};
use dtg_app::store::Table;
use dtg_app::workflow::Run;
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Dependency, Plan, PlanSettings, Ticket, plan};
use dtg_core::session::{Position, Stage, Status};
use dtg_jira_emulator::config::{DEFAULT_API_TOKEN, DEFAULT_EMAIL};
use dtg_jira_emulator::{Issue, JiraEmulator};

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

/// The plan of `sample_data/uwec_complete` (8 epics, 120 tickets, 252 dependencies).
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
    let mut out = empty_epics(&sample, epics);
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

/// The sample site's plan copied until it holds `tickets` tickets, spread
/// evenly over `epics` epics: the same ticket shapes, descriptions and
/// dependency structure (content types needed by many fields, roles needed
/// by many permissions), so the per-issue write limit meets the hubs it
/// meets on real sites. Dependencies to tickets past the cut are dropped.
#[must_use]
pub fn scaled_sample_plan(tickets: usize, epics: usize) -> Plan {
    let sample = uwec_plan();
    let mut out = empty_epics(&sample, epics);
    let by_id: BTreeMap<&str, &Ticket> =
        sample.tickets.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut copies = 0;
    while out.tickets.len() < tickets {
        for id in sample.order.iter().take(tickets - out.tickets.len()) {
            let mut t = by_id[id.as_str()].clone();
            t.id = format!("{}~{copies}", t.id);
            t.title = format!("{} ({})", t.title, copies + 1);
            let epic = &mut out.epics[out.tickets.len() * epics / tickets];
            t.epic.clone_from(&epic.id);
            epic.tickets.push(t.id.clone());
            out.order.push(t.id.clone());
            out.tickets.push(t);
        }
        copies += 1;
    }
    let present: BTreeSet<&str> = out.order.iter().map(String::as_str).collect();
    let mut dependencies = Vec::new();
    for c in 0..copies {
        for d in &sample.dependencies {
            let dep = Dependency {
                from: format!("{}~{c}", d.from),
                to: format!("{}~{c}", d.to),
                because: d.because.clone(),
            };
            if present.contains(dep.from.as_str()) && present.contains(dep.to.as_str()) {
                dependencies.push(dep);
            }
        }
    }
    dependencies.sort();
    out.dependencies = dependencies;
    out
}

/// A plan of `epics` empty epics shaped from the sample's first epic.
fn empty_epics(sample: &Plan, epics: usize) -> Plan {
    let epics = (0..epics)
        .map(|e| {
            let mut epic = sample.epics[0].clone();
            epic.id = format!("epic-{e:03}");
            epic.title = format!("Area {e}");
            epic.tickets = Vec::new();
            epic
        })
        .collect();
    Plan {
        granularity: sample.granularity,
        epics,
        tickets: Vec::new(),
        dependencies: Vec::new(),
        order: Vec::new(),
    }
}

/// A session in review holding `plan`, its descriptions checked, its export
/// started to `project`.
///
/// # Panics
/// When the store refuses any step.
pub async fn session_ready_to_export<T: Table>(
    table: &T,
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

/// Points session `id` at the emulator's site `site` and project
/// `project`, and stores `actor`'s API token for it (the emulator's default
/// account) sealed with `cipher`, as signing in with the token form does.
///
/// # Panics
/// When the store refuses any step.
pub async fn sign_in_to_site<T: Table>(
    table: &T,
    id: &str,
    actor: &str,
    site: &str,
    project: &str,
    cipher: &TokenCipher,
    now: i64,
) {
    let repos = Repos::new(table, DEFAULT_TTL_SECONDS);
    let session = repos
        .session(id, now)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"))
        .unwrap_or_else(|| panic!("there is no session {id}"));
    let target = JiraTarget {
        site: site.to_owned(),
        project_key: project.to_owned(),
    };
    if let Err(e) = repos.set_jira_target(&session, Some(target), now).await {
        panic!("set the site: {e}");
    }
    let credentials = JiraCredentials::ApiToken {
        email: DEFAULT_EMAIL.to_owned(),
        token: DEFAULT_API_TOKEN.to_owned(),
    };
    if let Err(e) = repos
        .save_tokens(actor, site, &credentials, None, cipher, now)
        .await
    {
        panic!("save the token: {e}");
    }
}

/// Our ticket (or epic) id of every issue in Jira, with its issue.
#[must_use]
pub fn issues_by_ticket(emu: &JiraEmulator) -> BTreeMap<String, Issue> {
    emu.issues()
        .into_iter()
        .filter_map(|i| {
            let id = i.properties.get(TICKET_PROPERTY)?.as_str()?.to_owned();
            Some((id, i))
        })
        .collect()
}

/// The ids of every epic and ticket of `plan`.
#[must_use]
pub fn all_ids(plan: &Plan) -> BTreeSet<String> {
    plan.epics
        .iter()
        .map(|e| e.id.clone())
        .chain(plan.tickets.iter().map(|t| t.id.clone()))
        .collect()
}

/// The export ended with every epic and ticket in Jira exactly once, each
/// ticket under its epic's issue, every dependency linked once as
/// "`to` blocks `from`", and each issue's key recorded for the session.
///
/// # Panics
/// When any of that is not so.
pub fn assert_exported_exactly_once(
    emu: &JiraEmulator,
    plan: &Plan,
    exported: &BTreeMap<String, Exported>,
) {
    assert!(
        emu.duplicates().is_empty(),
        "created twice: {:?}",
        emu.duplicates()
    );
    let issues = issues_by_ticket(emu);
    assert_eq!(
        emu.issues().len(),
        plan.epics.len() + plan.tickets.len(),
        "one issue per epic and ticket, nothing else"
    );
    assert_eq!(
        issues.keys().cloned().collect::<BTreeSet<_>>(),
        all_ids(plan)
    );
    assert_eq!(exported.len(), issues.len());
    let key = |id: &str| -> String {
        let issue = &issues[id];
        assert_eq!(exported[id].key, issue.key, "the recorded key of {id}");
        issue.key.clone()
    };
    for epic in &plan.epics {
        assert_eq!(issues[&epic.id].issue_type, "Epic");
        assert_eq!(exported[&epic.id].kind, ExportedKind::Epic);
        key(&epic.id);
    }
    for ticket in &plan.tickets {
        assert_eq!(exported[&ticket.id].kind, ExportedKind::Ticket);
        assert_eq!(
            issues[&ticket.id].parent_key.as_deref(),
            Some(key(&ticket.epic).as_str()),
            "{} is under its epic",
            ticket.id
        );
    }
    let links = emu.links();
    assert!(links.iter().all(|l| l.type_name == "Blocks"), "{links:?}");
    assert_eq!(
        links.len(),
        plan.dependencies.len(),
        "one link per dependency"
    );
    let linked: BTreeSet<(String, String)> = links
        .into_iter()
        .map(|l| (l.inward_key, l.outward_key))
        .collect();
    let wanted: BTreeSet<(String, String)> = plan
        .dependencies
        .iter()
        .map(|d| (key(&d.to), key(&d.from)))
        .collect();
    assert_eq!(
        linked, wanted,
        "the needed ticket blocks the one needing it"
    );
}

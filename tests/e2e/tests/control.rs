//! The export's use cases end to end against the Jira emulator: begun,
//! driven to its end on a spawned task while the hub carries its progress,
//! one driver at a time; and the assignee and sprint set on single tickets
//! in review taking the place of the export's own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use dtg_app::export::{
    Begun, Clock, ExportError, ExportRequest, ExportSettings, ExportStatus, Fallback, SystemClock,
    begin_export, export_status, results, run_export,
};
use dtg_app::progress::{ProgressMessage, Publish};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_core::plan::Plan;
use dtg_core::session::{Position, Stage, Status};
use dtg_e2e::{
    assert_exported_exactly_once, issues_by_ticket, run, session_ready_to_export, synthetic_plan,
    uwec_plan,
};
use dtg_embedded::{Hub, SqliteTable};
use dtg_jira::{Auth, JiraClient, JiraConfig, Secret};
use dtg_jira_emulator::config::{DEFAULT_API_TOKEN, DEFAULT_EMAIL, UserConfig};
use dtg_jira_emulator::{Config, JiraEmulator};

fn client(emu: &JiraEmulator) -> JiraClient {
    JiraClient::new(
        JiraConfig::new(emu.base_url()),
        Auth::api_token(DEFAULT_EMAIL, &Secret::new(DEFAULT_API_TOKEN)),
    )
    .unwrap()
}

/// Keeps every message published.
#[derive(Default)]
struct Recorder(Mutex<Vec<ProgressMessage>>);

impl Publish for Recorder {
    async fn publish(&self, _session: &str, message: &ProgressMessage) {
        self.0.lock().unwrap().push(message.clone());
    }
}

/// A session holding `plan`, in review, at the system clock's time.
async fn reviewed(table: &SqliteTable, id: &str, plan: &Plan, now: i64) {
    let repos = Repos::new(table, DEFAULT_TTL_SECONDS);
    let mut session = repos.create_session(id, "tester", "", now).await.unwrap();
    for to in [
        Position::new(Stage::Upload, Status::Active),
        Position::new(Stage::Processing, Status::Processing),
    ] {
        session = repos.move_session(&session, to, now).await.unwrap();
    }
    repos.save_plan(&session.value, plan, now).await.unwrap();
    repos
        .move_session(&session, Position::new(Stage::Review, Status::Active), now)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_begun_export_runs_on_a_spawned_task_one_driver_at_a_time_and_the_hub_carries_it() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let hub = Arc::new(Hub::new());
    let plan = synthetic_plan(30, 3);
    let now = SystemClock.now();
    reviewed(&table, "s1", &plan, now).await;
    let repos = Repos::new(&*table, DEFAULT_TTL_SECONDS);
    let request = ExportRequest {
        project_key: Some("DTG".to_owned()),
        batch_size: 10,
        ..ExportRequest::default()
    };
    let begun = begin_export(&repos, "s1", request, run("b1", now))
        .await
        .unwrap();
    let Begun::Started(started) = begun else {
        panic!("started");
    };

    // Another driver than the one that began it is refused while it holds the lease.
    let intruder = run_export(
        &repos,
        &client(&emu),
        &*hub,
        &SystemClock,
        "s1",
        "tester",
        "intruder",
    )
    .await;
    assert!(
        matches!(&intruder, Err(ExportError::Running { task_id, .. }) if *task_id == started.task_id),
        "{intruder:?}"
    );

    let mut listener = hub.subscribe("s1");
    let driver = {
        let (table, hub, jira) = (Arc::clone(&table), Arc::clone(&hub), client(&emu));
        tokio::spawn(async move {
            let repos = Repos::new(&*table, DEFAULT_TTL_SECONDS);
            run_export(&repos, &jira, &hub, &SystemClock, "s1", "tester", "b1").await
        })
    };
    let mut messages = Vec::new();
    loop {
        let json = listener.recv().await.unwrap();
        let message: ProgressMessage = serde_json::from_str(&json).unwrap();
        let last = !matches!(message, ProgressMessage::ExportProgress(_));
        messages.push(message);
        if last {
            break;
        }
    }
    let report = driver.await.unwrap().unwrap();
    assert!(report.done && report.state.failure.is_none());
    assert!(messages.len() >= 3, "{messages:?}");
    let ProgressMessage::ExportProgress(before_last) = &messages[messages.len() - 2] else {
        panic!("progress before the end");
    };
    assert_eq!(before_last.status, "completed");
    assert_eq!(before_last.progress_percentage, 100.0);
    let ProgressMessage::ExportComplete(complete) = messages.last().unwrap() else {
        panic!("{:?}", messages.last());
    };
    assert_eq!(complete.tickets_created, 33, "3 epics and 30 tickets");
    assert_eq!(complete.dependencies_created, plan.dependencies.len());
    assert_eq!(complete.manual_fixes_needed, 0);

    let exported = repos.exported("s1", now).await.unwrap();
    assert_exported_exactly_once(&emu, &plan, &exported);
    let status = export_status(&repos, "s1", SystemClock.now())
        .await
        .unwrap();
    let ExportStatus::Completed {
        jira_tickets_created,
        task_id,
        ..
    } = status
    else {
        panic!("{status:?}");
    };
    assert_eq!(jira_tickets_created, 33);
    assert_eq!(task_id, started.task_id);
    assert!(
        repos.export_lease("s1", now).await.unwrap().is_none(),
        "the lease is given up at the end"
    );
    let again = begin_export(&repos, "s1", ExportRequest::default(), run("b2", now)).await;
    assert!(matches!(again, Err(ExportError::AlreadyExported(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_own_assignee_and_sprint_take_the_place_of_the_export_ones() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let table = SqliteTable::open_in_memory().unwrap();
    let mut plan = uwec_plan();
    let users = UserConfig::standard();
    let (theo, dana) = (&users[2], &users[1]);
    // Own assignee by email; own open sprint; own unknown assignee; own closed sprint.
    plan.tickets[0].assignee = Some("dana@example.com".to_owned());
    plan.tickets[1].sprint = Some("DTG Sprint 3".to_owned());
    plan.tickets[2].assignee = Some("nobody@example.com".to_owned());
    plan.tickets[3].sprint = Some("DTG Sprint 1".to_owned());
    let settings = ExportSettings {
        project_key: "DTG".to_owned(),
        assignee: Some("Theo Tester".to_owned()),
        sprint: Some("DTG Sprint 2".to_owned()),
        ..ExportSettings::default()
    };
    session_ready_to_export(&table, "s1", &plan, settings).await;
    let repos = Repos::new(&table, DEFAULT_TTL_SECONDS);
    let recorder = Recorder::default();
    let report = run_export(
        &repos,
        &client(&emu),
        &recorder,
        &SystemClock,
        "s1",
        "tester",
        "drive",
    )
    .await
    .unwrap();
    assert!(report.state.failure.is_none(), "{:?}", report.state.failure);

    let issues = issues_by_ticket(&emu);
    let t = |n: usize| &issues[&plan.tickets[n].id];
    assert_eq!(t(0).assignee.as_deref(), Some(dana.account_id.as_str()));
    assert_eq!(t(0).sprint, Some(2), "the export's sprint");
    assert_eq!(t(1).assignee.as_deref(), Some(theo.account_id.as_str()));
    assert_eq!(t(1).sprint, Some(3), "its own sprint");
    assert_eq!(t(2).assignee, None, "its own assignee is not assignable");
    assert_eq!(t(3).sprint, None, "its own sprint is closed");
    assert_eq!(t(3).assignee.as_deref(), Some(theo.account_id.as_str()));
    for n in 4..plan.tickets.len() {
        assert_eq!(t(n).assignee.as_deref(), Some(theo.account_id.as_str()));
        assert_eq!(t(n).sprint, Some(2));
    }
    for epic in &plan.epics {
        assert_eq!(issues[&epic.id].assignee, None, "epics are not assigned");
    }

    let found = results(&repos, "s1", SystemClock.now()).await.unwrap();
    let fixes: Vec<(String, Fallback)> = found
        .manual_fixes
        .iter()
        .map(|m| (m.title.clone(), m.issue_type))
        .collect();
    assert_eq!(
        fixes,
        [
            (plan.tickets[2].title.clone(), Fallback::AssigneeInvalid),
            (plan.tickets[3].title.clone(), Fallback::SprintNotFound),
        ]
    );
    let published = recorder.0.lock().unwrap();
    let Some(ProgressMessage::ExportComplete(complete)) = published.last() else {
        panic!("{:?}", published.last());
    };
    assert_eq!(complete.manual_fixes_needed, 2);
}

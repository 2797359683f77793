//! The export against faults injected by the Jira emulator, as seed `004_*`
//! has it. Server errors on reads and an expired OAuth access token are
//! absorbed by the client (retries, a refresh) and the export goes on. A
//! write that may have been applied (a 5xx answer, a lost or late answer),
//! an expired API token or PAT, a revoked permission and a deleted project
//! stop it, with the seed's category, code and recovery actions, at the
//! ticket it was creating. A retry resumes there without creating anything
//! twice (issues whose answer was lost are found, not made again), and the
//! retry after the third is left to an administrator.
//!
//! Jira's search lags its writes here, as Jira Cloud's does (3 s by default,
//! 30 s where lost answers are reconciled): what a lost create made is found
//! by reading keys, which is strongly consistent, not by searching.
//!
//! Every test ends with the same check: one issue per epic and ticket, each
//! ticket under its epic, each dependency linked once and the right way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dtg_app::export::{
    ErrorCategory, ExportError, ExportFailure, ExportResults, ExportSettings, ExportState,
    Exported, LinkMode, MAX_RETRIES, Phase, StepReport, results, retry_export, step,
};
use dtg_app::jira::{Jira, TICKET_PROPERTY};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos, TokenCipher};
use dtg_core::plan::Plan;
use dtg_core::session::Status;
use dtg_e2e::{
    NOW, all_ids, assert_exported_exactly_once, issues_by_ticket, run, session_ready_to_export,
    synthetic_plan,
};
use dtg_embedded::SqliteTable;
use dtg_jira::auth::system_now;
use dtg_jira::{
    AtlassianOAuth, Auth, JiraClient, JiraConfig, OAuthApp, RepoTokenStore, RetryPolicy, Secret,
};
use dtg_jira_emulator::config::{
    DEFAULT_API_TOKEN, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_EMAIL, DEFAULT_PAT,
};
use dtg_jira_emulator::{Config, JiraEmulator, LostAnswer};

const SESSION: &str = "s1";
const PROJECT: &str = "DTG";
/// Issues per bulk create: small, so that a fault can land between batches.
const BATCH: usize = 20;
/// Steps after which an export that has not ended is a bug.
const MAX_STEPS: usize = 200;
/// How far Jira's search lags its writes in these tests, unless a test says.
const SEARCH_LAG: Duration = Duration::from_secs(3);
/// The lag where lost answers are reconciled: far longer than the retry
/// waits, so a search could never find what the lost create made.
const LONG_SEARCH_LAG: Duration = Duration::from_secs(30);
/// How long a lost create may still be running in Jira, for these tests.
const SETTLE_SECS: u64 = 2;

const BULK: &str = "POST /rest/api/3/issue/bulk";
const LINK: &str = "POST /rest/api/3/issueLink";
const SEARCH: &str = "POST /rest/api/3/search/jql";
const FETCH: &str = "POST /rest/api/3/issue/bulkfetch";
const SINGLE: &str = "POST /rest/api/3/issue";
const PROJECT_GET: &str = "GET /rest/api/3/project/{projectIdOrKey}";
const PRIORITIES: &str = "GET /rest/api/3/priority/search";

// ------------------------------------------------------------ set-up

/// The client's configuration for the emulator, with retries short enough
/// for tests.
fn jira_config(emu: &JiraEmulator) -> JiraConfig {
    let base = emu.base_url();
    let mut config = JiraConfig::new(&base).with_bases(&base, &base);
    config.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_total_wait: Duration::from_secs(3),
    };
    config.request_timeout = Duration::from_secs(3);
    config
}

fn api_token() -> Auth {
    Auth::api_token(DEFAULT_EMAIL, &Secret::new(DEFAULT_API_TOKEN))
}

fn client(emu: &JiraEmulator) -> JiraClient {
    JiraClient::new(jira_config(emu), api_token()).unwrap()
}

/// A client signed in with OAuth 2.0, its tokens in a store it refreshes.
async fn oauth_client(emu: &JiraEmulator) -> JiraClient {
    let app = OAuthApp {
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: Secret::new(DEFAULT_CLIENT_SECRET),
    };
    let config = jira_config(emu);
    let oauth = AtlassianOAuth::new(&config, app.clone()).unwrap();
    let tokens = oauth
        .exchange_code(&emu.authorization_code(), "http://localhost/callback")
        .await
        .unwrap();
    let sites = oauth
        .accessible_resources(&tokens.access_token)
        .await
        .unwrap();
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let cipher = TokenCipher::new(&[7u8; 32]);
    let credentials = tokens.into_credentials(&sites[0].id, "", system_now());
    Repos::new(table.as_ref(), DEFAULT_TTL_SECONDS)
        .save_tokens("tester", "site", &credentials, None, &cipher, system_now())
        .await
        .unwrap();
    let store = Arc::new(RepoTokenStore::new(table, "tester", "site", cipher));
    JiraClient::new(config, Auth::Stored { store, app }).unwrap()
}

/// A Jira site without rate limits (they are not what these tests are
/// about) and a session ready to export `plan` to it.
async fn site(plan: &Plan) -> (JiraEmulator, SqliteTable) {
    site_linking(plan, LinkMode::AtCreate).await
}

/// [`site`], with the dependency links sent as `mode` says.
async fn site_linking(plan: &Plan, mode: LinkMode) -> (JiraEmulator, SqliteTable) {
    let emu = JiraEmulator::start(lagging(Config::unlimited()))
        .await
        .unwrap();
    let table = SqliteTable::open_in_memory().unwrap();
    let settings = ExportSettings {
        link_mode: mode,
        ..settings(BATCH)
    };
    session_ready_to_export(&table, SESSION, plan, settings).await;
    (emu, table)
}

/// A site whose search lags its writes by [`SEARCH_LAG`].
fn lagging(config: Config) -> Config {
    Config {
        search_lag: SEARCH_LAG,
        ..config
    }
}

fn settings(batch: usize) -> ExportSettings {
    ExportSettings {
        project_key: PROJECT.to_owned(),
        batch_size: batch,
        settle_secs: SETTLE_SECS,
        ..ExportSettings::default()
    }
}

/// 3 epics, 60 tickets, 113 dependencies.
fn small_plan() -> Plan {
    synthetic_plan(60, 3)
}

/// The export of the test's session, driven step by step as the state
/// machine drives it; every step and retry is a run of its own.
struct Export<'a> {
    repos: Repos<'a, SqliteTable>,
    runs: usize,
    started: Instant,
}

impl<'a> Export<'a> {
    fn new(table: &'a SqliteTable) -> Self {
        Self {
            repos: Repos::new(table, DEFAULT_TTL_SECONDS),
            runs: 0,
            started: Instant::now(),
        }
    }

    /// The clock of the runs: from the sessions' time on, in step with
    /// the emulator's.
    fn now(&self) -> i64 {
        NOW + i64::try_from(self.started.elapsed().as_secs()).unwrap()
    }

    fn next_run(&mut self, what: &str) -> String {
        self.runs += 1;
        format!("{what}-{}", self.runs)
    }

    async fn step<J: Jira>(&mut self, jira: &J) -> StepReport {
        let id = self.next_run("step");
        let report = step(&self.repos, jira, SESSION, run(&id, self.now()))
            .await
            .unwrap();
        tokio::time::sleep(report.wait_hint).await;
        report
    }

    /// Steps until the export ends or `pause` holds after a step.
    async fn until<J: Jira>(
        &mut self,
        jira: &J,
        pause: impl Fn(&StepReport) -> bool,
    ) -> StepReport {
        for _ in 0..MAX_STEPS {
            let report = self.step(jira).await;
            if report.done || pause(&report) {
                return report;
            }
        }
        panic!("the export did not end in {MAX_STEPS} steps");
    }

    async fn until_done<J: Jira>(&mut self, jira: &J) -> StepReport {
        self.until(jira, |_| false).await
    }

    /// Steps until the first batch of tickets is created.
    async fn past_first_ticket_batch<J: Jira>(&mut self, jira: &J) -> StepReport {
        let report = self
            .until(jira, |r| r.state.counters.tickets_created >= BATCH)
            .await;
        assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
        assert_eq!(report.state.phase, Phase::Tickets);
        report
    }

    async fn retry(&mut self) -> Result<ExportState, ExportError> {
        let id = self.next_run("retry");
        retry_export(&self.repos, SESSION, run(&id, self.now())).await
    }

    async fn exported(&self) -> BTreeMap<String, Exported> {
        self.repos.exported(SESSION, NOW).await.unwrap()
    }

    async fn status(&self) -> Status {
        self.repos
            .session(SESSION, NOW)
            .await
            .unwrap()
            .unwrap()
            .value
            .position
            .status
    }

    async fn results(&self) -> ExportResults {
        results(&self.repos, SESSION, NOW).await.unwrap()
    }
}

// ------------------------------------------------------------ checks

/// The ids of the epics and tickets Jira holds an issue for.
fn ids_in_jira(emu: &JiraEmulator) -> BTreeSet<String> {
    issues_by_ticket(emu).into_keys().collect()
}

/// The ids of every epic and ticket sent in a create since the log was
/// last cleared, in the order sent.
fn ids_sent_to_create(emu: &JiraEmulator) -> Vec<String> {
    emu.requests()
        .into_iter()
        .filter(|r| r.endpoint == BULK || r.endpoint == SINGLE)
        .flat_map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let updates = match body["issueUpdates"].as_array() {
                Some(updates) => updates.clone(),
                None => vec![body],
            };
            updates
                .into_iter()
                .flat_map(|u| u["properties"].as_array().cloned().unwrap_or_default())
                .filter(|p| p["key"] == TICKET_PROPERTY)
                .filter_map(|p| p["value"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A completed export, as the session and the results say.
async fn assert_completed(export: &Export<'_>, report: &StepReport, retries: u32) {
    assert!(report.done);
    assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
    assert_eq!(report.state.phase, Phase::Done);
    assert_eq!(report.progress.status, "completed");
    assert_eq!(export.status().await, Status::Completed);
    let results = export.results().await;
    assert_eq!(results.status, "completed");
    assert_eq!(results.retry_attempts_used, retries);
    assert_eq!(results.failure, None);
}

/// The failure of a stopped export, checked against what every stop says.
async fn stopped(
    export: &Export<'_>,
    report: &StepReport,
    category: ErrorCategory,
    code: &str,
) -> ExportFailure {
    assert!(report.done, "the export stopped");
    let failure = report
        .state
        .failure
        .clone()
        .unwrap_or_else(|| panic!("no failure at {:?}", report.state.phase));
    assert_eq!(failure.error_category, category, "{failure:?}");
    assert_eq!(failure.code, code, "{failure:?}");
    assert!(!failure.user_message.is_empty());
    assert_eq!(
        failure.retry_available,
        report.state.retries_used < MAX_RETRIES
    );
    assert_eq!(report.progress.status, "failed");
    assert_eq!(export.status().await, Status::ExportFailed);
    let results = export.results().await;
    assert_eq!(results.status, "export_failed");
    assert_eq!(results.failure.as_ref(), Some(&failure));
    failure
}

/// The failure names `ticket` and its place in the build order.
fn assert_failed_at(failure: &ExportFailure, plan: &Plan, ticket: &str) {
    assert_eq!(failure.ticket_id.as_deref(), Some(ticket), "{failure:?}");
    let order = plan.order.iter().position(|o| o == ticket).unwrap() + 1;
    assert_eq!(failure.failed_at_ticket_order, Some(order), "{failure:?}");
}

/// The first ticket, in creation order, with no recorded issue.
fn first_not_exported(plan: &Plan, exported: &BTreeMap<String, Exported>) -> String {
    plan.tickets
        .iter()
        .find(|t| !exported.contains_key(&t.id))
        .unwrap()
        .id
        .clone()
}

/// What was sent to be created after the retry (log cleared at the retry)
/// is exactly what Jira did not hold yet, each once.
fn assert_resumed_without_recreating(
    emu: &JiraEmulator,
    plan: &Plan,
    in_jira_before: &BTreeSet<String>,
) {
    let sent = ids_sent_to_create(emu);
    let unique: BTreeSet<String> = sent.iter().cloned().collect();
    assert_eq!(unique.len(), sent.len(), "nothing sent twice: {sent:?}");
    assert!(
        unique.is_disjoint(in_jira_before),
        "created again: {:?}",
        unique.intersection(in_jira_before).collect::<Vec<_>>()
    );
    let missing: BTreeSet<String> = all_ids(plan).difference(in_jira_before).cloned().collect();
    assert_eq!(unique, missing);
}

// ------------------------------------------------------------ passing trouble

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_server_errors_on_reads_is_retried_and_the_export_completes() {
    // GIVEN a Jira that answers 503 to the next four requests and 502 twice
    // to the priorities
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    emu.faults().fail_next(4, 503);
    emu.faults().fail_endpoint(PRIORITIES, 2, 502);

    // WHEN the export runs
    let report = export.until_done(&jira).await;

    // THEN the client's retries absorb them: the reads are sent again and
    // the export never stops
    assert_eq!(emu.faults().server_errors_sent(), 6);
    assert_eq!(emu.count(PROJECT_GET), 5);
    assert_eq!(emu.count(PRIORITIES), 3);
    assert!(jira.stats().retries >= 6, "{:?}", jira.stats());
    assert_completed(&export, &report, 0).await;
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_on_a_bulk_create_stops_the_export_as_temporary_and_the_retry_resumes_there()
{
    // GIVEN an export past its first batch of tickets, and a bulk create
    // that Jira answers 500
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    export.past_first_ticket_batch(&jira).await;
    let next = first_not_exported(&plan, &export.exported().await);
    emu.faults().fail_endpoint(BULK, 1, 500);

    // WHEN the next step sends it
    let report = export.step(&jira).await;

    // THEN the create is not sent again (it may have been applied): the
    // export stops as temporary at the first ticket of the batch
    let failure = stopped(
        &export,
        &report,
        ErrorCategory::Temporary,
        "jira_unavailable",
    )
    .await;
    assert_failed_at(&failure, &plan, &next);
    assert!(failure.user_message.contains("500"), "{failure:?}");
    assert_eq!(
        failure.recovery_actions,
        [
            "Wait a few minutes",
            "Then retry the export; it resumes where it stopped"
        ]
    );
    assert_eq!(emu.faults().server_errors_sent(), 1);

    // WHEN the user retries, with two 504s on the search that looks for
    // issues an earlier run created
    let in_jira = ids_in_jira(&emu);
    emu.clear_log();
    emu.faults().fail_endpoint(SEARCH, 2, 504);
    let retried = export.retry().await.unwrap();
    assert_eq!(retried.retries_used, 1);
    let audit = export.repos.audit_log(SESSION, NOW).await.unwrap();
    let entry = audit.iter().find(|e| e.action == "export.retried").unwrap();
    assert_eq!(
        entry.detail,
        serde_json::json!({
            "retry_attempt": 1,
            "remaining_retries": MAX_RETRIES - 1,
            "resuming_from_ticket_order": failure.failed_at_ticket_order,
        })
    );
    let report = export.until_done(&jira).await;

    // THEN the search is retried and the export resumes at that ticket
    assert_eq!(emu.faults().server_errors_sent(), 3);
    assert_completed(&export, &report, 1).await;
    assert_eq!(ids_sent_to_create(&emu).first(), Some(&next));
    assert_resumed_without_recreating(&emu, &plan, &in_jira);
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_on_links_stop_the_export_and_the_retry_sends_only_the_links_not_done() {
    // GIVEN an export whose issues are all created, its links all left for
    // the links phase, and three links Jira answers 502
    let plan = small_plan();
    let (emu, table) = site_linking(&plan, LinkMode::Separate).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    let report = export.until(&jira, |r| r.state.phase == Phase::Links).await;
    assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
    assert_eq!(report.state.links_done, 0);
    emu.faults().fail_endpoint(LINK, 3, 502);

    // WHEN the links are sent
    let report = export.until_done(&jira).await;

    // THEN the export stops as temporary, at the ticket whose link failed
    let failure = stopped(
        &export,
        &report,
        ErrorCategory::Temporary,
        "jira_unavailable",
    )
    .await;
    let ticket = failure.ticket_id.clone().unwrap();
    assert_failed_at(&failure, &plan, &ticket);
    let links_done = report.state.links_done;
    assert!(links_done < plan.dependencies.len());
    assert_eq!(export.results().await.dependencies_created, links_done);

    // WHEN the user retries
    let in_jira = ids_in_jira(&emu);
    emu.clear_log();
    export.retry().await.unwrap();
    let report = export.until_done(&jira).await;

    // THEN nothing is created again, and only the links not done are sent
    assert_completed(&export, &report, 1).await;
    assert_eq!(emu.count(BULK), 0);
    assert_eq!(emu.count(LINK), plan.dependencies.len() - links_done);
    assert_resumed_without_recreating(&emu, &plan, &in_jira);
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
    assert_eq!(
        export.results().await.dependencies_created,
        plan.dependencies.len()
    );
}

/// A create whose answer is lost stops the export as temporary at the
/// first ticket of the batch, and the retry finds the batch's issues by
/// reading the keys above the project's last known one, though the search
/// (lagging [`LONG_SEARCH_LAG`]) does not show them yet, instead of
/// creating them again. `batch` 1 sends single creates.
async fn a_lost_answer_is_found_again_by_the_retry(
    emu: &JiraEmulator,
    jira: &JiraClient,
    batch: usize,
) {
    let plan = small_plan();
    let table = SqliteTable::open_in_memory().unwrap();
    session_ready_to_export(&table, SESSION, &plan, settings(batch)).await;
    let mut export = Export::new(&table);
    let report = export
        .until(jira, |r| r.state.counters.tickets_created >= batch)
        .await;
    assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
    let before = export.exported().await;
    let next = first_not_exported(&plan, &before);
    emu.faults().lag_search_index(LONG_SEARCH_LAG);
    emu.faults().lose_answer_of_create(1);

    let report = export.step(jira).await;

    let failure = stopped(
        &export,
        &report,
        ErrorCategory::Temporary,
        "jira_unavailable",
    )
    .await;
    assert_failed_at(&failure, &plan, &next);
    // Jira made the batch (by now, even where it worked on it after the
    // client gave up); the session knows nothing of it.
    let made = tokio::time::timeout(Duration::from_secs(10), async {
        while ids_in_jira(emu).len() < before.len() + batch {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(made.is_ok(), "Jira made the lost batch");
    assert_eq!(emu.faults().answers_lost(), 1);
    assert_eq!(export.exported().await, before);
    let in_jira = ids_in_jira(emu);
    assert_eq!(in_jira.len(), before.len() + batch);

    emu.clear_log();
    let retried = export.retry().await.unwrap();
    assert_eq!(retried.retries_used, 1);
    let report = export.until_done(jira).await;

    assert_completed(&export, &report, 1).await;
    assert_eq!(report.state.counters.reconciled, batch);
    assert!(
        emu.count(FETCH) >= 1,
        "the lost batch is found by reading keys"
    );
    assert_resumed_without_recreating(emu, &plan, &in_jira);
    assert_exported_exactly_once(emu, &plan, &export.exported().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_create_answer_stops_the_export_and_the_retry_finds_the_issues_it_made() {
    let emu = JiraEmulator::start(lagging(Config::unlimited()))
        .await
        .unwrap();
    let jira = client(&emu);
    a_lost_answer_is_found_again_by_the_retry(&emu, &jira, BATCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_answer_to_a_single_create_is_found_again_by_the_retry() {
    let emu = JiraEmulator::start(lagging(Config::unlimited()))
        .await
        .unwrap();
    let jira = client(&emu);
    a_lost_answer_is_found_again_by_the_retry(&emu, &jira, 1).await;
    assert!(emu.count(SINGLE) > 0, "single creates were sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answer_held_past_the_client_timeout_is_a_lost_answer_too() {
    let emu = JiraEmulator::start(lagging(Config::unlimited()))
        .await
        .unwrap();
    emu.faults()
        .lose_answers_by(LostAnswer::Delay(Duration::from_millis(1500)));
    let mut config = jira_config(&emu);
    config.request_timeout = Duration::from_millis(500);
    let jira = JiraClient::new(config, api_token()).unwrap();
    a_lost_answer_is_found_again_by_the_retry(&emu, &jira, BATCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_jira_completes_after_the_client_gave_up_is_found_once_it_settled() {
    // GIVEN a Jira that starts on a bulk create only after the client's
    // timeout, and makes the issues while nobody listens
    let emu = JiraEmulator::start(lagging(Config::unlimited()))
        .await
        .unwrap();
    emu.faults()
        .lose_answers_by(LostAnswer::LateCommit(Duration::from_millis(1500)));
    let mut config = jira_config(&emu);
    config.request_timeout = Duration::from_millis(500);
    config.retry.max_attempts = 1;
    let jira = JiraClient::new(config, api_token()).unwrap();
    // THEN the retry waits until the create can no longer be running, and
    // finds what it made
    a_lost_answer_is_found_again_by_the_retry(&emu, &jira, BATCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_within_the_client_timeout_only_slow_the_export_down() {
    // GIVEN a Jira that answers everything 20 ms late
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    emu.faults().slow_answers(Duration::from_millis(20));

    // WHEN the export runs
    let report = export.until_done(&jira).await;

    // THEN it completes without a retry
    assert_eq!(jira.stats().retries, 0);
    assert_completed(&export, &report, 0).await;
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_slower_than_the_client_timeout_stops_the_export_until_jira_is_fast_again() {
    // GIVEN a Jira whose search answers after the client gave up
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let mut config = jira_config(&emu);
    config.request_timeout = Duration::from_millis(300);
    config.retry.max_attempts = 2;
    let jira = JiraClient::new(config, api_token()).unwrap();
    let mut export = Export::new(&table);
    emu.faults()
        .slow_endpoint(SEARCH, Duration::from_millis(1000));

    // WHEN the export prepares (the search finds issues of an earlier run)
    let report = export.until_done(&jira).await;

    // THEN the search is tried twice, then the export stops as temporary
    // before creating anything
    let failure = stopped(
        &export,
        &report,
        ErrorCategory::Temporary,
        "jira_unavailable",
    )
    .await;
    assert!(failure.user_message.contains("timed out"), "{failure:?}");
    assert_eq!(
        failure.failed_at_ticket_order,
        Some(1),
        "nothing was created yet"
    );
    assert_eq!(jira.stats().retries, 1, "the search is sent twice");
    assert_eq!(emu.count(BULK), 0);
    assert!(emu.issues().is_empty());

    // WHEN Jira is fast again and the user retries
    emu.faults().clear();
    export.retry().await.unwrap();
    let report = export.until_done(&jira).await;

    // THEN the export completes
    assert_completed(&export, &report, 1).await;
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

// ------------------------------------------------------------ credentials

/// An export signed with a long-lived token that expires stops for the user
/// at the ticket it was creating, stops again on a retry before the token
/// is renewed, and resumes there once it is.
async fn an_expired_token_stops_the_export_until_it_is_renewed(auth: Auth) {
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = JiraClient::new(jira_config(&emu), auth).unwrap();
    let mut export = Export::new(&table);
    export.past_first_ticket_batch(&jira).await;
    let next = first_not_exported(&plan, &export.exported().await);
    emu.faults().expire_api_tokens();

    let report = export.step(&jira).await;

    let failure = stopped(
        &export,
        &report,
        ErrorCategory::UserFixable,
        "jira_unauthorized",
    )
    .await;
    assert_failed_at(&failure, &plan, &next);
    assert_eq!(
        failure.recovery_actions,
        [
            "Sign in to Jira again (or renew the API token)",
            "Then retry the export"
        ]
    );
    assert_eq!(emu.count(BULK), 3, "the refused create is not sent again");

    // A retry before the token is renewed stops the same way.
    export.retry().await.unwrap();
    let report = export.until_done(&jira).await;
    let again = stopped(
        &export,
        &report,
        ErrorCategory::UserFixable,
        "jira_unauthorized",
    )
    .await;
    assert!(again.retry_available);
    assert_eq!(emu.count(BULK), 3);

    let in_jira = ids_in_jira(&emu);
    emu.clear_log();
    emu.faults().renew_api_tokens();
    export.retry().await.unwrap();
    let report = export.until_done(&jira).await;

    assert_completed(&export, &report, 2).await;
    assert_eq!(ids_sent_to_create(&emu).first(), Some(&next));
    assert_resumed_without_recreating(&emu, &plan, &in_jira);
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_api_token_stops_the_export_until_it_is_renewed() {
    an_expired_token_stops_the_export_until_it_is_renewed(api_token()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_personal_access_token_stops_the_export_until_it_is_renewed() {
    an_expired_token_stops_the_export_until_it_is_renewed(Auth::personal_access_token(
        &Secret::new(DEFAULT_PAT),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_oauth_access_token_is_refreshed_and_the_export_goes_on() {
    // GIVEN an export signed in with OAuth, past its first batch of tickets
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = oauth_client(&emu).await;
    let mut export = Export::new(&table);
    export.past_first_ticket_batch(&jira).await;

    // WHEN the access token expires
    emu.faults().expire_access_tokens();
    let report = export.until_done(&jira).await;

    // THEN the client refreshes it once, sends the refused create again,
    // and the export completes
    assert_eq!(jira.stats().refreshes, 1);
    assert_completed(&export, &report, 0).await;
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

// ------------------------------------------------------------ hard stops

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_write_permission_stops_the_export_for_an_administrator_while_creating_and_linking()
{
    // GIVEN an export past its first batch of tickets, its links left for
    // the links phase
    let plan = small_plan();
    let (emu, table) = site_linking(&plan, LinkMode::Separate).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    export.past_first_ticket_batch(&jira).await;
    let next = first_not_exported(&plan, &export.exported().await);

    // WHEN write permission is revoked
    emu.faults().revoke_write_permission();
    let report = export.step(&jira).await;

    // THEN the export stops for an administrator at the next ticket
    let failure = stopped(
        &export,
        &report,
        ErrorCategory::AdminRequired,
        "jira_permission_denied",
    )
    .await;
    assert_failed_at(&failure, &plan, &next);
    assert!(
        failure.user_message.contains("permission to create issues"),
        "{failure:?}"
    );
    assert_eq!(
        failure.recovery_actions,
        [
            "Ask a Jira administrator for the Create Issues and Link Issues permissions in the project",
            "Then retry the export"
        ]
    );

    // WHEN the permission is given back and the user retries, and it is
    // revoked again once the links are being sent
    let in_jira = ids_in_jira(&emu);
    emu.clear_log();
    emu.faults().restore_write_permission();
    export.retry().await.unwrap();
    let report = export.until(&jira, |r| r.state.phase == Phase::Links).await;
    assert!(report.state.failure.is_none(), "{:?}", report.state.failure);
    assert_resumed_without_recreating(&emu, &plan, &in_jira);
    emu.faults().revoke_write_permission();
    let report = export.step(&jira).await;

    // THEN it stops again, at a ticket whose link was refused, with no link made
    let failure = stopped(
        &export,
        &report,
        ErrorCategory::AdminRequired,
        "jira_permission_denied",
    )
    .await;
    let ticket = failure.ticket_id.clone().unwrap();
    assert_failed_at(&failure, &plan, &ticket);
    assert!(failure.user_message.contains("link issues"), "{failure:?}");
    assert_eq!(report.state.links_done, 0);
    assert!(emu.links().is_empty());

    // WHEN the permission is back and the user retries once more
    emu.clear_log();
    emu.faults().restore_write_permission();
    export.retry().await.unwrap();
    let report = export.until_done(&jira).await;

    // THEN the links are made and nothing is created again
    assert_completed(&export, &report, 2).await;
    assert_eq!(emu.count(BULK), 0);
    assert_exported_exactly_once(&emu, &plan, &export.exported().await);
}

/// Checks the stop of an export whose project was deleted before `next`
/// was created, a retry while it is still deleted, and the retry that
/// resumes at `next` once the project is restored.
async fn a_deleted_project_stops_the_export_until_it_is_restored(
    emu: &JiraEmulator,
    export: &mut Export<'_>,
    plan: &Plan,
    jira: &JiraClient,
    report: &StepReport,
    next: &str,
) {
    let failure = stopped(
        export,
        report,
        ErrorCategory::AdminRequired,
        "jira_project_not_found",
    )
    .await;
    assert_failed_at(&failure, plan, next);
    assert!(
        failure.user_message.contains("Project DTG was not found"),
        "{failure:?}"
    );
    assert_eq!(
        failure.recovery_actions,
        [
            "Check that the project still exists and you can see it",
            "Choose another project, or ask a Jira administrator to restore it"
        ]
    );
    let exported = export.exported().await;
    assert_eq!(first_not_exported(plan, &exported), next);
    let in_jira = ids_in_jira(emu);
    assert_eq!(
        in_jira,
        exported.keys().cloned().collect(),
        "every issue Jira made is recorded"
    );

    // A retry while the project is still deleted stops when it looks at it.
    emu.clear_log();
    export.retry().await.unwrap();
    let report = export.until_done(jira).await;
    stopped(
        export,
        &report,
        ErrorCategory::AdminRequired,
        "jira_project_not_found",
    )
    .await;
    assert_eq!(emu.count(BULK), 0);

    emu.clear_log();
    emu.faults().restore_project(PROJECT);
    export.retry().await.unwrap();
    let report = export.until_done(jira).await;

    assert_completed(export, &report, 2).await;
    assert_eq!(
        ids_sent_to_create(emu).first().map(String::as_str),
        Some(next)
    );
    assert_resumed_without_recreating(emu, plan, &in_jira);
    assert_exported_exactly_once(emu, plan, &export.exported().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_deleted_between_two_bulk_creates_stops_the_export_for_an_administrator() {
    // GIVEN an export past its first batch of tickets
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    export.past_first_ticket_batch(&jira).await;
    let next = first_not_exported(&plan, &export.exported().await);

    // WHEN the project is deleted before the next bulk create
    emu.faults().delete_project(PROJECT);
    let report = export.step(&jira).await;

    // THEN the export stops at its first ticket, and resumes there once
    // the project is restored
    a_deleted_project_stops_the_export_until_it_is_restored(
        &emu,
        &mut export,
        &plan,
        &jira,
        &report,
        &next,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_deleted_in_the_middle_of_a_bulk_create_stops_at_the_first_ticket_not_made() {
    // GIVEN a project deleted once the epics and 25 tickets exist: 5 into
    // the second bulk create of tickets
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    emu.faults()
        .delete_project_after_creates(PROJECT, plan.epics.len() + 25);

    // WHEN the export runs
    let report = export.until_done(&jira).await;

    // THEN the 25 tickets Jira made are recorded, and the export stops at
    // the 26th
    assert_eq!(report.state.counters.tickets_created, 25);
    let next = plan.tickets[25].id.clone();
    a_deleted_project_stops_the_export_until_it_is_restored(
        &emu,
        &mut export,
        &plan,
        &jira,
        &report,
        &next,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_failed_retries_leave_the_export_to_an_administrator() {
    // GIVEN an export whose epics exist, and write permission revoked for good
    let plan = small_plan();
    let (emu, table) = site(&plan).await;
    let jira = client(&emu);
    let mut export = Export::new(&table);
    export
        .until(&jira, |r| r.state.phase == Phase::Tickets)
        .await;
    emu.faults().revoke_write_permission();
    let first = plan.tickets[0].id.clone();

    // WHEN the export and each of its three retries fail
    let report = export.step(&jira).await;
    let failure = stopped(
        &export,
        &report,
        ErrorCategory::AdminRequired,
        "jira_permission_denied",
    )
    .await;
    assert_failed_at(&failure, &plan, &first);
    for attempt in 1..=MAX_RETRIES {
        let retried = export.retry().await.unwrap();
        assert_eq!(retried.retries_used, attempt);
        let report = export.until_done(&jira).await;
        let failure = stopped(
            &export,
            &report,
            ErrorCategory::AdminRequired,
            "jira_permission_denied",
        )
        .await;
        assert_failed_at(&failure, &plan, &first);
        assert_eq!(failure.retry_available, attempt < MAX_RETRIES);
        assert_eq!(export.results().await.retry_attempts_used, attempt);
    }

    // THEN a fourth retry is refused and the session needs an administrator,
    // even once the permission is back
    emu.faults().restore_write_permission();
    let refused = export.retry().await;
    assert!(
        matches!(
            refused,
            Err(ExportError::MaxRetries {
                used: MAX_RETRIES,
                first_error_at: Some(NOW)
            })
        ),
        "{refused:?}"
    );
    assert_eq!(export.status().await, Status::AdminRequired);
    let results = export.results().await;
    assert_eq!(results.status, "admin_required");
    assert_eq!(results.retry_attempts_used, MAX_RETRIES);
    assert_eq!(
        results.failure.map(|f| f.error_category),
        Some(ErrorCategory::AdminRequired)
    );
    assert!(matches!(
        export.retry().await,
        Err(ExportError::MaxRetries { .. })
    ));
    emu.clear_log();
    let report = export.step(&jira).await;
    assert!(report.done);
    assert!(emu.requests().is_empty(), "Jira is not called any more");

    // Nothing was created twice on the way: the epics, once each.
    assert!(emu.duplicates().is_empty());
    assert_eq!(emu.issues().len(), plan.epics.len());
}

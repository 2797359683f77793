//! `dtg export` and `dtg results` end to end: the sample site validated and
//! planned into a session by the command line, then exported to the Jira
//! emulator (with Jira Cloud's rate limits), a fresh local store per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dtg_jira_emulator::config::{DEFAULT_API_TOKEN, DEFAULT_EMAIL};
use dtg_jira_emulator::{BackgroundEmulator, Config, JiraEmulator, LostAnswer};

const SAMPLE: &str = "sample_data/uwec_complete";
const BULK_CREATE: &str = "POST /rest/api/3/issue/bulk";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A local store and an emulated Jira site, both private to one test.
struct Site {
    home: tempfile::TempDir,
    jira: BackgroundEmulator,
}

impl Site {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            jira: JiraEmulator::start_in_background(Config::default()).unwrap(),
        }
    }

    /// `dtg` with the given Jira credentials (none when `token` is `None`).
    fn command(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dtg"));
        command
            .args(args)
            .current_dir(repo())
            .env("DTG_HOME", self.home.path())
            .env("NO_COLOR", "1")
            // A create whose answer was lost is looked for 2 s after it was sent.
            .env("DTG_JIRA_SETTLE_SECS", "2")
            .env_remove("DTG_JIRA_SITE")
            .env_remove("DTG_JIRA_PROJECT")
            .env_remove("DTG_JIRA_PAT");
        match token {
            Some(token) => command
                .env("DTG_JIRA_EMAIL", DEFAULT_EMAIL)
                .env("DTG_JIRA_API_TOKEN", token),
            None => command
                .env_remove("DTG_JIRA_EMAIL")
                .env_remove("DTG_JIRA_API_TOKEN"),
        };
        command
    }

    fn dtg_as(&self, token: Option<&str>, args: &[&str]) -> Output {
        self.command(token, args).output().expect("dtg runs")
    }

    fn dtg(&self, args: &[&str]) -> Output {
        self.dtg_as(Some(DEFAULT_API_TOKEN), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.dtg(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "dtg {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// A new session holding the sample site, validated and planned; its id
    /// and the plan.
    fn planned_session(&self) -> (String, serde_json::Value) {
        let id = self
            .ok(&["session", "new", "--name", "UWEC"])
            .trim()
            .to_owned();
        let validated = self.json(&["validate", "--session", &id, SAMPLE, "--format", "json"]);
        assert_eq!(validated["summary"]["errors"], 0);
        let plan = self.json(&["plan", "--session", &id]);
        (id, plan)
    }

    fn export_args<'a>(&'a self, site: &'a str, id: &'a str, more: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "export",
            "--session",
            id,
            "--site",
            site,
            "--project",
            "DTG",
        ];
        args.extend_from_slice(more);
        args
    }

    fn position(&self, id: &str) -> (String, String) {
        let shown = self.json(&["session", "show", id, "--format", "json"]);
        let p = &shown["session"]["position"];
        (
            p["stage"].as_str().unwrap().to_owned(),
            p["status"].as_str().unwrap().to_owned(),
        )
    }
}

fn ids(plan: &serde_json::Value, list: &str) -> Vec<String> {
    plan[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks that the site holds exactly the plan: one issue per epic and
/// ticket, no duplicates, one `Blocks` link per dependency the right way
/// round, and that `dtg results` names every issue.
fn assert_exported_whole(site: &Site, id: &str, plan: &serde_json::Value) {
    let jira = &site.jira;
    let planned: BTreeSet<String> = ids(plan, "epics")
        .into_iter()
        .chain(ids(plan, "tickets"))
        .collect();
    let issues = jira.issues();
    assert_eq!(issues.len(), planned.len(), "one issue per epic and ticket");
    assert!(jira.duplicates().is_empty(), "{:?}", jira.duplicates());
    let exported: BTreeSet<String> = issues
        .iter()
        .map(|i| i.properties["dtg.ticket"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(exported, planned);
    let run_label = format!("dtg-{id}");
    assert!(issues.iter().all(|i| i.labels.contains(&run_label)));

    // A description over Jira's limit comes whole as an attachment.
    let overflowing: BTreeMap<String, String> = plan["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| {
            let file = t["attachments"].as_array()?.first()?;
            Some((
                t["id"].as_str().unwrap().to_owned(),
                file["file_name"].as_str().unwrap().to_owned(),
            ))
        })
        .collect();
    assert!(
        !overflowing.is_empty(),
        "the sample site has long descriptions"
    );
    for issue in &issues {
        let names: Vec<&str> = issue
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        match overflowing.get(issue.properties["dtg.ticket"].as_str().unwrap()) {
            Some(file) => assert_eq!(names, [file.as_str()], "{}", issue.key),
            None => assert!(names.is_empty(), "{}: {names:?}", issue.key),
        }
    }

    let results = site.json(&["results", "--session", id, "--format", "json"]);
    assert_eq!(results["status"], "completed");
    assert!(results["failure"].is_null());
    let listed: BTreeMap<String, String> = results["jira_tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["ticket_id"].as_str().unwrap().to_owned(),
                t["jira_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed.keys().cloned().collect::<BTreeSet<_>>(),
        planned,
        "every issue is listed"
    );
    let keys: BTreeSet<String> = issues.iter().map(|i| i.key.clone()).collect();
    assert_eq!(listed.values().cloned().collect::<BTreeSet<_>>(), keys);
    assert_eq!(results["total_tickets_created"], planned.len());

    let dependencies = plan["dependencies"].as_array().unwrap();
    let links = jira.links();
    assert_eq!(links.len(), dependencies.len(), "one link per dependency");
    assert_eq!(results["dependencies_created"], dependencies.len());
    let linked: BTreeSet<(String, String)> = links
        .iter()
        .map(|l| {
            assert_eq!(l.type_name, "Blocks");
            (l.inward_key.clone(), l.outward_key.clone())
        })
        .collect();
    for dep in dependencies {
        // "from needs to": the needed ticket blocks the one that needs it.
        let blocker = &listed[dep["to"].as_str().unwrap()];
        let blocked = &listed[dep["from"].as_str().unwrap()];
        assert!(
            linked.contains(&(blocker.clone(), blocked.clone())),
            "{blocker} blocks {blocked}"
        );
    }
}

#[test]
fn the_sample_site_is_exported_once_and_a_second_run_creates_nothing() {
    let site = Site::new();
    let url = site.jira.base_url();
    let (id, plan) = site.planned_session();
    assert_eq!(site.position(&id), ("review".into(), "active".into()));

    let results: serde_json::Value =
        serde_json::from_str(&site.ok(&site.export_args(&url, &id, &["--format", "json"])))
            .unwrap();
    assert_eq!(results["status"], "completed");
    assert_eq!(site.position(&id), ("completed".into(), "completed".into()));
    assert_exported_whole(&site, &id, &plan);
    let tickets = plan["tickets"].as_array().unwrap().len();
    let epics = plan["epics"].as_array().unwrap().len();
    assert_eq!(
        site.jira.count(BULK_CREATE),
        epics.div_ceil(50) + tickets.div_ceil(50),
        "epics, then tickets, in bulk creates of up to 50"
    );

    // Exporting a completed session again sends no create and changes nothing.
    site.jira.clear_log();
    let again = site.dtg(&site.export_args(&url, &id, &[]));
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exported"));
    assert_eq!(site.jira.count(BULK_CREATE), 0);
    assert_eq!(site.jira.count("POST /rest/api/3/issue"), 0);
    assert_eq!(site.jira.count("POST /rest/api/3/issueLink"), 0);
    assert_exported_whole(&site, &id, &plan);

    // A reader that stops early (`dtg results --format json | head`) is not an error.
    let mut early = site
        .command(None, &["results", "--session", &id, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(early.stdout.take());
    let early = early.wait_with_output().unwrap();
    assert_eq!(
        early.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );

    // The human table names every key too.
    let table = site.ok(&["results", "--session", &id]);
    for issue in site.jira.issues() {
        assert!(table.contains(&issue.key), "{} in {table}", issue.key);
    }
}

#[test]
fn a_dry_run_prints_the_requests_and_sends_nothing() {
    let site = Site::new();
    let url = site.jira.base_url();
    let (id, plan) = site.planned_session();

    let out = site.ok(&site.export_args(&url, &id, &["--dry-run"]));
    assert!(site.jira.requests().is_empty(), "nothing reaches Jira");
    assert!(site.jira.issues().is_empty());
    assert_eq!(
        site.position(&id),
        ("review".into(), "active".into()),
        "the session is unchanged"
    );

    let requests: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bulk: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| r["method"] == "POST" && r["url"] == format!("{url}/rest/api/3/issue/bulk"))
        .collect();
    assert!(!bulk.is_empty(), "a bulk create is printed");
    let created: usize = bulk
        .iter()
        .map(|r| {
            assert_eq!(r["body"]["kind"], "json");
            let updates = r["body"]["content"]["issueUpdates"].as_array().unwrap();
            assert!(updates.len() <= 50);
            assert!(
                updates
                    .iter()
                    .all(|u| u["fields"]["project"]["key"] == "DTG")
            );
            updates.len()
        })
        .sum();
    assert_eq!(
        created,
        plan["epics"].as_array().unwrap().len() + plan["tickets"].as_array().unwrap().len()
    );
    let links = requests
        .iter()
        .filter(|r| r["url"] == format!("{url}/rest/api/3/issueLink"))
        .count();
    assert_eq!(links, plan["dependencies"].as_array().unwrap().len());
    assert!(!out.contains(DEFAULT_API_TOKEN), "no secret is printed");
    let auth = requests[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("authorization"))
        .unwrap();
    assert!(auth[1].as_str().unwrap().contains("<redacted>"), "{auth}");

    // The session is still ready for the real export.
    site.ok(&site.export_args(&url, &id, &[]));
    assert_exported_whole(&site, &id, &plan);
}

#[test]
fn bad_credentials_stop_the_export_clearly_and_a_retry_completes_it() {
    let site = Site::new();
    let url = site.jira.base_url();
    let (id, plan) = site.planned_session();

    let out = site.dtg_as(Some("not-the-token"), &site.export_args(&url, &id, &[]));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("The export stopped"), "{said}");
    assert!(said.contains("API token"), "{said}");
    assert!(said.contains("category: user_fixable"), "{said}");
    assert!(said.contains("--retry"), "{said}");
    assert!(site.jira.issues().is_empty());
    assert_eq!(
        site.position(&id),
        ("jira_export".into(), "export_failed".into())
    );
    let failed = site.dtg(&["results", "--session", &id, "--format", "json"]);
    assert_eq!(failed.status.code(), Some(1));
    let failed: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(failed["failure"]["error_category"], "user_fixable");
    assert_eq!(failed["failure"]["code"], "jira_unauthorized");
    assert_eq!(failed["failure"]["retry_available"], true);

    // Without --retry the stopped export is not resumed by accident.
    let plain = site.dtg(&site.export_args(&url, &id, &[]));
    assert_eq!(plain.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("--retry"));

    // A retry goes on in the project the export started in.
    let elsewhere = site.dtg(&[
        "export",
        "--session",
        &id,
        "--site",
        &url,
        "--project",
        "OTHER",
        "--retry",
    ]);
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("goes to project DTG"));
    assert_eq!(
        site.position(&id),
        ("jira_export".into(), "export_failed".into())
    );

    let retried = site.json(&site.export_args(&url, &id, &["--retry", "--format", "json"]));
    assert_eq!(retried["status"], "completed");
    assert_eq!(retried["retry_attempts_used"], 1);
    assert_exported_whole(&site, &id, &plan);
}

#[test]
fn missing_credentials_are_named_before_anything_is_sent() {
    let site = Site::new();
    let url = site.jira.base_url();
    let (id, _) = site.planned_session();
    let out = site.dtg_as(None, &site.export_args(&url, &id, &[]));
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("DTG_JIRA_EMAIL") && said.contains("DTG_JIRA_API_TOKEN"),
        "{said}"
    );
    assert!(site.jira.requests().is_empty());
    assert_eq!(site.position(&id), ("review".into(), "active".into()));
}

#[test]
fn an_export_cut_short_while_jira_creates_goes_on_without_creating_twice() {
    let site = Site::new();
    let url = site.jira.base_url();
    let (id, plan) = site.planned_session();
    // Jira makes the epics, then holds its answer: the run is killed before
    // it learns their keys.
    site.jira.faults().lose_answer_of_create(1);
    site.jira
        .faults()
        .lose_answers_by(LostAnswer::Delay(Duration::from_secs(120)));
    let mut run = site
        .command(Some(DEFAULT_API_TOKEN), &site.export_args(&url, &id, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while site.jira.issues().is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(60), "no create came");
        std::thread::sleep(Duration::from_millis(50));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    let made = site.jira.issues().len();
    assert_eq!(made, plan["epics"].as_array().unwrap().len());
    assert_eq!(
        site.position(&id),
        ("jira_export".into(), "exporting".into())
    );

    site.jira.faults().clear();
    site.ok(&site.export_args(&url, &id, &[]));
    assert_exported_whole(&site, &id, &plan);
}

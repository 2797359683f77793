//! `dtg session` and `--session` end to end, on a fresh local store per test:
//! results kept in a session are what later stages read back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dtg_app::repo::Repos;
use dtg_embedded::SqliteTable;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn dtg(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dtg"))
            .args(args)
            .current_dir(repo())
            .env("DTG_HOME", self.0.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("dtg runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.dtg(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "dtg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn new_session(&self, name: &str) -> String {
        self.ok(&["session", "new", "--name", name])
            .trim()
            .to_owned()
    }
}

#[test]
fn a_session_keeps_files_findings_and_plan_for_the_next_stage() {
    let home = Home::new();
    let id = home.new_session("UWEC");
    assert_eq!(id.len(), 32, "{id}");

    let validated = home.json(&[
        "validate",
        "--session",
        &id,
        "sample_data/uwec_complete",
        "--format",
        "json",
    ]);
    assert_eq!(validated["summary"]["files"], 14);
    let shown = home.json(&["session", "show", &id, "--format", "json"]);
    assert_eq!(shown["session"]["position"]["stage"], "upload");
    assert_eq!(shown["files"].as_array().unwrap().len(), 14);
    assert!(
        shown["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "valid" && f["report"]["type"].is_string())
    );

    // Planning needs no paths: the session's files are used.
    let planned = home.json(&["plan", "--session", &id]);
    let direct = home.json(&["plan", "sample_data/uwec_complete"]);
    assert_eq!(planned, direct, "the session plans what the files plan");

    let shown = home.json(&["session", "show", &id, "--format", "json"]);
    assert_eq!(shown["session"]["position"]["stage"], "review");
    assert_eq!(shown["session"]["position"]["status"], "active");
    assert_eq!(
        shown["session"]["summary"]["tickets"],
        direct["summary"]["tickets"]
    );
    let actions: Vec<_> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["files.uploaded", "files.validated", "plan.saved"]);
    let tasks: Vec<_> = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].clone(), t["status"].clone()))
        .collect();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|(_, s)| s == "succeeded"), "{tasks:?}");

    // A later stage reads the plan back from the store, whole.
    let table = SqliteTable::open(home.0.path().join("store.sqlite")).unwrap();
    let repos = Repos::new(&table, dtg_app::repo::DEFAULT_TTL_SECONDS);
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let stored = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(repos.plan(&id, now))
        .unwrap()
        .unwrap();
    let mut direct_plan: dtg_core::plan::Plan = serde_json::from_value(direct).unwrap();
    let mut stored = stored;
    direct_plan.dependencies.sort();
    stored.dependencies.sort();
    assert_eq!(stored, direct_plan);
}

#[test]
fn files_with_errors_are_kept_with_their_findings_and_not_planned() {
    let home = Home::new();
    let id = home.new_session("broken");
    let case = "sample_data/test_cases/07_bad_machine_names";
    assert!(repo().join(case).is_dir(), "{case} exists");
    let out = home.dtg(&["plan", "--session", &id, case]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fix them before planning"));
    let shown = home.json(&["session", "show", &id, "--format", "json"]);
    assert_eq!(
        shown["session"]["position"]["stage"], "upload",
        "not planned"
    );
    assert!(shown["tasks"].as_array().unwrap().is_empty());

    let out = home.dtg(&["validate", "--session", &id, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the stored files are validated again"
    );
    let shown = home.json(&["session", "show", &id, "--format", "json"]);
    assert!(
        shown["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["status"] == "invalid" && !f["findings"].as_array().unwrap().is_empty())
    );
    assert!(shown["session"]["summary"]["errors"].as_u64().unwrap() > 0);
}

#[test]
fn sessions_are_listed_found_by_prefix_and_deleted_whole() {
    let home = Home::new();
    assert!(home.ok(&["session", "list"]).contains("No sessions yet"));
    let a = home.new_session("first");
    let b = home.new_session("second");
    let list = home.json(&["session", "list", "--format", "json"]);
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, [a.as_str(), b.as_str()], "oldest first");
    let table = home.ok(&["session", "list"]);
    assert!(
        table.contains("first") && table.contains("setup/active"),
        "{table}"
    );

    // Ids are time-ordered, so they share a start: the shortest unique one finds the session.
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let ambiguous = home.dtg(&["session", "show", &a[..common]]);
    assert_eq!(ambiguous.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ambiguous.stderr).contains("2 sessions start with"));
    let shown = home.json(&["session", "show", &a[..=common], "--format", "json"]);
    assert_eq!(shown["session"]["id"], a.as_str());
    let unknown = home.dtg(&["session", "show", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no session nope"));

    home.ok(&["validate", "--session", &a, "sample_data/uwec_complete"]);
    let blobs = home.0.path().join("blobs");
    let count = |dir: &Path| walk(dir).len();
    assert_eq!(count(&blobs), 14);
    home.ok(&["session", "delete", &a]);
    assert_eq!(count(&blobs), 0, "the files' bytes go with the session");
    let list = home.json(&["session", "list", "--format", "json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(home.dtg(&["session", "show", &a]).status.code(), Some(2));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

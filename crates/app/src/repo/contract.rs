//! The repositories' contract, run against every [`Table`] adapter
//! (feature `contract-tests`): each repository round-trips its values, keeps
//! the stage rules and version checks, expires with its session, and keeps
//! Jira tokens sealed. Every check works in its own fresh session or user.

use dtg_core::plan::Plan;
use dtg_core::session::{Position, Stage, Status};

use super::{
    AuditEntry, Connection, FileRecord, FileStatus, JiraCredentials, Progress, RepoError, Repos,
    SessionSummary, Task, TaskError, TaskKind, TaskStatus, TokenCipher, TokenError,
};
use crate::store::contract::unique;
use crate::store::{Table, keys};

const NOW: i64 = 1_800_000_000;
const TTL: i64 = 3_600;

fn ok<V, E: std::fmt::Display>(what: &str, r: Result<V, E>) -> V {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Runs every repository check; `plan` should have more tickets than one
/// transaction holds (a real site's plan).
pub async fn run_repo_contract(t: &impl Table, plan: &Plan) {
    sessions_follow_the_rules_and_list_per_owner(t).await;
    plans_round_trip_and_replace_conditionally(t, plan).await;
    files_tasks_and_audit_round_trip(t).await;
    everything_expires_with_its_session(t, plan).await;
    deleting_a_session_removes_everything(t, plan).await;
    tokens_are_sealed_and_bound(t).await;
    connections_are_found_by_session(t).await;
}

/// GIVEN two sessions of one owner WHEN they move and are listed THEN only
/// allowed moves from a fresh read succeed, and the owner sees both.
pub async fn sessions_follow_the_rules_and_list_per_owner(t: &impl Table) {
    let repos = Repos::new(t, TTL);
    let owner = unique("owner");
    let (a, b) = (unique("s"), unique("s"));
    let created = ok(
        "create",
        repos.create_session(&a, &owner, "First", NOW).await,
    );
    assert_eq!(created.version, 1);
    assert_eq!(created.value.expires_at, NOW + TTL);
    let taken = repos.create_session(&a, "someone-else", "", NOW).await;
    assert!(
        matches!(taken, Err(RepoError::Conflict(_))),
        "a taken id is a conflict: {taken:?}"
    );
    ok(
        "create second",
        repos.create_session(&b, &owner, "Second", NOW + 1).await,
    );

    let upload = Position::new(Stage::Upload, Status::Active);
    let moved = ok("move", repos.move_session(&created, upload, NOW + 2).await);
    assert_eq!(
        (moved.version, moved.value.position, moved.value.updated_at),
        (2, upload, NOW + 2)
    );
    let stale = repos.move_session(&created, upload, NOW + 3).await;
    assert!(
        matches!(stale, Err(RepoError::Conflict(_))),
        "a move from a stale read is a conflict: {stale:?}"
    );
    let skip = repos
        .move_session(
            &moved,
            Position::new(Stage::JiraExport, Status::Exporting),
            NOW + 3,
        )
        .await;
    assert!(
        matches!(skip, Err(RepoError::Transition(_))),
        "skipping review is refused: {skip:?}"
    );
    let summary = SessionSummary {
        files: 3,
        tickets: 7,
        ..SessionSummary::default()
    };
    let counted = ok(
        "summary",
        repos.update_summary(&moved, summary.clone(), NOW + 4).await,
    );
    assert_eq!(counted.version, 3);

    let listed = ok("list", repos.sessions_of(&owner, NOW + 5).await);
    let ids: Vec<_> = listed.iter().map(|s| s.value.id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), b.as_str()], "oldest first");
    assert_eq!(listed[0].value.summary, summary);
    assert_eq!(listed[0].value.position, upload);
    assert!(
        ok("other", repos.sessions_of(&unique("nobody"), NOW).await).is_empty(),
        "another owner sees none"
    );
}

/// GIVEN a saved plan WHEN it is read back, one ticket is edited, and a
/// smaller plan replaces it THEN the plan is whole, versions carry on, and
/// the replacement removes what it no longer has.
pub async fn plans_round_trip_and_replace_conditionally(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let id = unique("plan");
    let session = ok(
        "create",
        repos.create_session(&id, "planner", "", NOW).await,
    )
    .value;
    assert!(ok("no plan", repos.plan(&id, NOW).await).is_none());
    ok("save", repos.save_plan(&session, plan, NOW).await);
    let mut read = ok("read", repos.plan(&id, NOW).await).unwrap_or_else(|| panic!("saved"));
    let mut expected = plan.clone();
    expected.dependencies.sort();
    read.dependencies.sort();
    assert_eq!(read, expected, "the plan reads back whole");
    assert_eq!(
        ok("deps", repos.dependencies(&id, NOW).await).len(),
        plan.dependencies.len()
    );

    // An edit in review, then a replan that keeps that ticket: versions carry on.
    let first = &plan.tickets[0];
    let current = ok("ticket", repos.ticket(&id, &first.id, NOW).await)
        .unwrap_or_else(|| panic!("ticket {} stored", first.id));
    let mut edited = current.value.clone();
    edited.title = "Edited in review".to_owned();
    let edited = ok(
        "edit",
        repos
            .update_ticket(&session, &current, edited, NOW + 1)
            .await,
    );
    assert_eq!(edited.version, 2);
    let mut smaller = plan.clone();
    let kept: Vec<String> = smaller.order.iter().take(3).cloned().collect();
    smaller.tickets.retain(|t| kept.contains(&t.id));
    smaller.order = kept.clone();
    smaller
        .dependencies
        .retain(|d| kept.contains(&d.from) && kept.contains(&d.to));
    ok("replan", repos.save_plan(&session, &smaller, NOW + 2).await);
    let replanned = ok("reread", repos.plan(&id, NOW + 2).await).unwrap_or_else(|| panic!("saved"));
    assert_eq!(replanned.order, kept);
    let stored = ok("tickets", repos.tickets(&id, NOW + 2).await);
    assert_eq!(stored.len(), 3, "tickets the new plan dropped are deleted");
    let again =
        ok("ticket", repos.ticket(&id, &first.id, NOW + 2).await).unwrap_or_else(|| panic!("kept"));
    assert_eq!(
        again.version, 3,
        "a replan writes over the edit as a new version"
    );
    let stale = repos
        .update_ticket(&session, &current, first.clone(), NOW + 3)
        .await;
    assert!(
        matches!(stale, Err(RepoError::Conflict(_))),
        "an edit from before the replan is a conflict: {stale:?}"
    );
}

/// GIVEN a session WHEN files, a task and audit entries are written THEN
/// they read back in order, and a task update from a stale read conflicts.
pub async fn files_tasks_and_audit_round_trip(t: &impl Table) {
    let repos = Repos::new(t, TTL);
    let id = unique("parts");
    let session = ok("create", repos.create_session(&id, "u", "", NOW).await).value;
    let files: Vec<FileRecord> = (0..30)
        .map(|n| FileRecord {
            id: format!("f{n:02}"),
            name: format!("file-{n}.csv"),
            blob_key: format!("sessions/{id}/files/f{n:02}"),
            size: 100 + n,
            status: FileStatus::Uploaded,
            report: None,
            findings: Vec::new(),
            uploaded_at: NOW,
        })
        .collect();
    ok("files", repos.insert_files(&session, &files, NOW).await);
    let again = repos.insert_files(&session, &files[..1], NOW).await;
    assert!(
        matches!(again, Err(RepoError::Conflict(_))),
        "a file id is taken once: {again:?}"
    );
    let stored = ok("read files", repos.files(&id, NOW).await);
    assert_eq!(
        stored.iter().map(|f| &f.value).collect::<Vec<_>>(),
        files.iter().collect::<Vec<_>>()
    );
    let mut valid = stored[0].value.clone();
    valid.status = FileStatus::Valid;
    ok(
        "update file",
        repos.update_file(&session, &stored[0], valid, NOW).await,
    );
    let gone: Vec<String> = files[10..].iter().map(|f| f.id.clone()).collect();
    ok("delete files", repos.delete_files(&id, &gone, NOW).await);
    let left = ok("read files", repos.files(&id, NOW).await);
    assert_eq!(left.len(), 10);
    assert_eq!(left[0].value.status, FileStatus::Valid);

    let task = Task {
        id: "t1".to_owned(),
        kind: TaskKind::Export,
        status: TaskStatus::Running,
        progress: Progress {
            done: 0,
            total: 10,
            message: "Creating epics".to_owned(),
        },
        error: None,
        result: None,
        created_at: NOW,
        updated_at: NOW,
    };
    let started = ok("task", repos.insert_task(&session, &task, NOW).await);
    let mut failed = task.clone();
    failed.status = TaskStatus::Failed;
    failed.error = Some(TaskError {
        category: "network".to_owned(),
        message: "Jira did not answer".to_owned(),
    });
    let saved = ok(
        "fail task",
        repos.update_task(&session, &started, failed, NOW + 5).await,
    );
    assert_eq!((saved.version, saved.value.updated_at), (2, NOW + 5));
    let stale = repos.update_task(&session, &started, task, NOW + 6).await;
    assert!(matches!(stale, Err(RepoError::Conflict(_))), "{stale:?}");
    let tasks = ok("tasks", repos.tasks(&id, NOW + 6).await);
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].value.status.is_final());

    for (n, at) in [NOW + 10, NOW + 2, NOW + 1_000].into_iter().enumerate() {
        let entry = AuditEntry {
            id: format!("a{n}"),
            at,
            actor: "u".to_owned(),
            action: "plan.saved".to_owned(),
            detail: serde_json::json!({ "n": n }),
        };
        ok("audit", repos.append_audit(&session, &entry).await);
    }
    let log = ok("log", repos.audit_log(&id, NOW + 1_000).await);
    let order: Vec<_> = log.iter().map(|e| e.at).collect();
    assert_eq!(order, [NOW + 2, NOW + 10, NOW + 1_000], "time order");
}

/// GIVEN a session with a plan, written over an hour WHEN its deadline
/// passes THEN the session and every part of it are gone together.
pub async fn everything_expires_with_its_session(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let id = unique("ttl");
    let session = ok("create", repos.create_session(&id, "u", "", NOW).await).value;
    // Written late in the session's life: still expires with it.
    ok(
        "save",
        repos.save_plan(&session, plan, NOW + TTL - 10).await,
    );
    let last = NOW + TTL - 1;
    assert!(ok("alive", repos.session(&id, last).await).is_some());
    assert_eq!(
        ok("tickets", repos.tickets(&id, last).await).len(),
        plan.tickets.len()
    );
    let gone = NOW + TTL;
    assert!(ok("expired", repos.session(&id, gone).await).is_none());
    assert!(ok("tickets", repos.tickets(&id, gone).await).is_empty());
    assert!(ok("plan", repos.plan(&id, gone).await).is_none());
    assert!(
        ok("listing", repos.sessions_of("u", gone).await)
            .iter()
            .all(|s| s.value.id != id)
    );
}

/// GIVEN a session with files and a plan WHEN it is deleted THEN nothing of
/// it is left, and its file blob keys are handed back.
pub async fn deleting_a_session_removes_everything(t: &impl Table, plan: &Plan) {
    let repos = Repos::new(t, TTL);
    let owner = unique("owner");
    let id = unique("del");
    let session = ok("create", repos.create_session(&id, &owner, "", NOW).await).value;
    ok("save", repos.save_plan(&session, plan, NOW).await);
    let file = FileRecord {
        id: "f1".to_owned(),
        name: "fields.csv".to_owned(),
        blob_key: format!("sessions/{id}/f1"),
        size: 1,
        status: FileStatus::Valid,
        report: None,
        findings: Vec::new(),
        uploaded_at: NOW,
    };
    ok("file", repos.insert_files(&session, &[file], NOW).await);
    let blobs = ok("delete", repos.delete_session(&id, NOW).await);
    assert_eq!(blobs, [format!("sessions/{id}/f1")]);
    let left = ok(
        "query",
        crate::store::query_all(t, &keys::session(&id), keys::prefix::ALL, NOW).await,
    );
    assert!(
        left.is_empty(),
        "left behind: {:?}",
        left.iter().map(|i| &i.sk).collect::<Vec<_>>()
    );
    assert!(ok("list", repos.sessions_of(&owner, NOW).await).is_empty());
    // Deleting again is fine.
    ok("delete again", repos.delete_session(&id, NOW).await);
}

/// GIVEN credentials saved for a user WHEN they are read with the right key,
/// a wrong key, or from another user's item THEN only the right key in the
/// right place opens them, and the stored item holds no secret in clear.
pub async fn tokens_are_sealed_and_bound(t: &impl Table) {
    let repos = Repos::new(t, TTL);
    let key = TokenCipher::generate_key_hex();
    let cipher = ok("key", TokenCipher::from_hex(&key));
    let user = unique("user");
    let site = "example.atlassian.net";
    let creds = JiraCredentials::OAuth {
        access_token: "access-secret-1".to_owned(),
        refresh_token: "refresh-secret-1".to_owned(),
        expires_at: NOW + 3_600,
        cloud_id: "cloud-1".to_owned(),
    };
    let v1 = ok(
        "save",
        repos
            .save_tokens(&user, site, &creds, None, &cipher, NOW)
            .await,
    );
    let raw = ok(
        "raw",
        t.get(&keys::user(&user), &keys::token(site), NOW).await,
    )
    .unwrap_or_else(|| panic!("stored"));
    let raw = raw.body.to_string();
    assert!(
        !raw.contains("secret") && !raw.contains("cloud-1"),
        "stored in clear: {raw}"
    );
    let read = ok("read", repos.tokens(&user, site, &cipher, NOW).await)
        .unwrap_or_else(|| panic!("stored"));
    assert_eq!((read.value.clone(), read.version), (creds.clone(), v1));
    assert!(
        !format!("{:?}", read.value).contains("secret"),
        "Debug redacts"
    );

    let wrong = ok(
        "key",
        TokenCipher::from_hex(&TokenCipher::generate_key_hex()),
    );
    let refused = repos.tokens(&user, site, &wrong, NOW).await;
    assert!(
        matches!(refused, Err(RepoError::Token(TokenError::Undecryptable(_)))),
        "a wrong key is refused: {refused:?}"
    );
    // The sealed item copied under another user does not open.
    let mut copied = ok(
        "raw",
        t.get(&keys::user(&user), &keys::token(site), NOW).await,
    )
    .unwrap_or_else(|| panic!("stored"));
    let thief = unique("thief");
    copied.pk = keys::user(&thief);
    ok(
        "copy",
        t.put(copied, crate::store::Condition::None, NOW).await,
    );
    let moved = repos.tokens(&thief, site, &cipher, NOW).await;
    assert!(
        matches!(moved, Err(RepoError::Token(_))),
        "a copied item is refused: {moved:?}"
    );

    // Rotation: two refreshers from the same read, one wins.
    let rotated = JiraCredentials::OAuth {
        access_token: "access-secret-2".to_owned(),
        refresh_token: "refresh-secret-2".to_owned(),
        expires_at: NOW + 7_200,
        cloud_id: "cloud-1".to_owned(),
    };
    ok(
        "rotate",
        repos
            .save_tokens(&user, site, &rotated, Some(v1), &cipher, NOW + 1)
            .await,
    );
    let loser = repos
        .save_tokens(&user, site, &creds, Some(v1), &cipher, NOW + 1)
        .await;
    assert!(matches!(loser, Err(RepoError::Conflict(_))), "{loser:?}");
    assert!(matches!(
        TokenCipher::from_hex("abc"),
        Err(TokenError::BadKey)
    ));
    ok("forget", repos.delete_tokens(&user, site, NOW + 2).await);
    assert!(ok("gone", repos.tokens(&user, site, &cipher, NOW + 2).await).is_none());
}

/// GIVEN connections to two sessions WHEN one disconnects (twice) THEN each
/// session lists exactly its live listeners.
pub async fn connections_are_found_by_session(t: &impl Table) {
    let repos = Repos::new(t, TTL);
    let (s1, s2) = (unique("ws"), unique("ws"));
    let conn = |id: &str, session: &str| Connection {
        id: id.to_owned(),
        session: session.to_owned(),
        user: "u".to_owned(),
        connected_at: NOW,
    };
    let (c1, c2, c3) = (unique("c"), unique("c"), unique("c"));
    for c in [conn(&c1, &s1), conn(&c2, &s1), conn(&c3, &s2)] {
        ok("connect", repos.connect(&c, NOW).await);
    }
    let mut listening: Vec<_> = ok("list", repos.connections(&s1, NOW).await)
        .into_iter()
        .map(|c| c.id)
        .collect();
    listening.sort();
    let mut want = vec![c1.clone(), c2.clone()];
    want.sort();
    assert_eq!(listening, want);
    ok("disconnect", repos.disconnect(&c1, NOW).await);
    ok("disconnect twice", repos.disconnect(&c1, NOW).await);
    let left: Vec<_> = ok("list", repos.connections(&s1, NOW).await)
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, [c2]);
    assert_eq!(ok("list", repos.connections(&s2, NOW).await).len(), 1);
    let after = NOW + super::CONNECTION_TTL_SECONDS;
    assert!(
        ok("expired", repos.connections(&s2, after).await).is_empty(),
        "a connection expires after API Gateway's two hours"
    );
}

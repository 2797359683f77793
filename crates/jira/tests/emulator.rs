//! The client against the Jira emulator (`tests/jira-emulator`): the happy
//! path of every operation (links made at creation and reads by key
//! included) with an API token and a personal access token,
//! the OAuth sign-in and a refresh after the access token expires, and the
//! emulator's lost create answer seen as a write that may have been applied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dtg_app::jira::{BlockedBy, Jira, JiraError, NewIssue, NewLink, TICKET_PROPERTY};
use dtg_app::repo::{Repos, TokenCipher};
use dtg_embedded::SqliteTable;
use dtg_jira::auth::system_now;
use dtg_jira::{AtlassianOAuth, Auth, JiraClient, JiraConfig, OAuthApp, RepoTokenStore, Secret};
use dtg_jira_emulator::config::{
    DEFAULT_API_TOKEN, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_CLOUD_ID, DEFAULT_EMAIL,
    DEFAULT_PAT, SPRINT_FIELD,
};
use dtg_jira_emulator::{Config, JiraEmulator};
use serde_json::json;

fn config(emu: &JiraEmulator) -> JiraConfig {
    let base = emu.base_url();
    let mut config = JiraConfig::new(&base).with_bases(&base, &base);
    config.retry.base_delay = Duration::from_millis(20);
    config
}

fn api_token() -> Auth {
    Auth::api_token(DEFAULT_EMAIL, &Secret::new(DEFAULT_API_TOKEN))
}

fn adf(text: &str) -> serde_json::Value {
    json!({ "type": "doc", "version": 1,
            "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": text }] }] })
}

fn new_issue(type_id: &str, summary: &str, ticket: &str) -> NewIssue {
    let mut properties = BTreeMap::new();
    properties.insert(TICKET_PROPERTY.to_owned(), json!(ticket));
    NewIssue {
        project_key: "DTG".into(),
        issue_type_id: type_id.into(),
        summary: summary.into(),
        description: adf(summary),
        labels: vec!["dtg-run-7".into()],
        priority_id: None,
        assignee: None,
        parent_key: None,
        extra_fields: BTreeMap::new(),
        properties,
        blocked_by: None,
    }
}

#[tokio::test]
async fn every_operation_works_against_the_emulator() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let client = JiraClient::new(config(&emu), api_token()).unwrap();

    let me = client.myself().await.unwrap();
    assert!(!me.account_id.is_empty());

    let project = client.project("DTG").await.unwrap();
    let type_id = |name: &str| {
        project
            .issue_types
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.id.clone())
            .unwrap()
    };
    let (epic, story) = (type_id("Epic"), type_id("Story"));
    assert_eq!(
        project
            .issue_types
            .iter()
            .find(|t| t.name == "Epic")
            .unwrap()
            .hierarchy_level,
        1
    );

    let fields = client.create_fields("DTG", &story).await.unwrap();
    assert!(fields.iter().any(|f| f.id == "summary" && f.required));
    assert!(fields.iter().any(|f| f.id == SPRINT_FIELD));

    let priorities = client.priorities().await.unwrap();
    assert!(priorities.iter().any(|p| p.name == "Medium"));
    let users = client.assignable_users("DTG").await.unwrap();
    assert!(!users.is_empty());
    let link_types = client.link_types().await.unwrap();
    let blocks = link_types.iter().find(|t| t.name == "Blocks").unwrap();
    assert_eq!(
        (blocks.inward.as_str(), blocks.outward.as_str()),
        ("is blocked by", "blocks")
    );
    let sprints = client.sprints("DTG").await.unwrap();
    assert!(
        !sprints.is_empty()
            && sprints
                .iter()
                .all(|s| s.state == "active" || s.state == "future")
    );

    // One create, then a bulk under the epic with a priority, an assignee and a sprint.
    let parent = client
        .create_issue(&new_issue(&epic, "Content model", "t-epic"))
        .await
        .unwrap();
    let mut full = new_issue(&story, "Create the Article type", "t-1");
    full.parent_key = Some(parent.key.clone());
    full.priority_id = Some(priorities[0].id.clone());
    full.assignee = Some(users[0].account_id.clone());
    full.extra_fields
        .insert(SPRINT_FIELD.into(), json!(sprints[0].id));
    let results = client
        .create_issues(&[full, new_issue(&story, "Create the Page type", "t-2")])
        .await
        .unwrap();
    let keys: Vec<String> = results.into_iter().map(|r| r.unwrap().key).collect();
    let stored = emu.issue(&keys[0]).unwrap();
    assert_eq!(stored.summary, "Create the Article type");
    assert_eq!(stored.parent_key.as_deref(), Some(parent.key.as_str()));
    assert_eq!(stored.sprint, Some(sprints[0].id));
    assert_eq!(stored.properties[TICKET_PROPERTY], json!("t-1"));
    assert_eq!(emu.issue(&keys[1]).unwrap().summary, "Create the Page type");

    // A bulk element Jira refuses comes back in its place.
    let mut bad = new_issue(&story, "Bad priority", "t-3");
    bad.priority_id = Some("999999".into());
    let mixed = client
        .create_issues(&[new_issue(&story, "Fine", "t-4"), bad])
        .await
        .unwrap();
    assert!(mixed[0].is_ok());
    assert!(mixed[1].is_err(), "{mixed:?}");

    // "A blocks B": the blocker inward.
    client
        .link(&NewLink {
            type_name: "Blocks".into(),
            inward_key: keys[0].clone(),
            outward_key: keys[1].clone(),
        })
        .await
        .unwrap();
    let link = emu.links().pop().unwrap();
    assert_eq!(
        (link.inward_key.as_str(), link.outward_key.as_str()),
        (keys[0].as_str(), keys[1].as_str())
    );

    client
        .attach(&keys[0], "description.html", b"<p>long</p>".to_vec())
        .await
        .unwrap();
    assert_eq!(
        emu.issue(&keys[0]).unwrap().attachments[0].file_name,
        "description.html"
    );

    client
        .set_property(&keys[1], TICKET_PROPERTY, &json!("t-2b"))
        .await
        .unwrap();
    assert_eq!(
        emu.issue(&keys[1]).unwrap().properties[TICKET_PROPERTY],
        json!("t-2b")
    );

    // Search by run label, every page, with the ticket property.
    let mut found = Vec::new();
    let mut next = None;
    loop {
        let page = client
            .search(
                "project = DTG AND labels = dtg-run-7",
                &[TICKET_PROPERTY],
                next,
            )
            .await
            .unwrap();
        found.extend(page.issues);
        next = page.next_page;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(
        found.len(),
        4,
        "the epic, two stories and the fine one of the mixed bulk"
    );
    let by_key: BTreeMap<_, _> = found.iter().map(|f| (f.key.clone(), f)).collect();
    assert_eq!(by_key[&keys[1]].properties[TICKET_PROPERTY], json!("t-2b"));
    assert!(by_key[&keys[0]].labels.contains(&"dtg-run-7".to_owned()));

    // Links made by the create call itself: both blockers inward.
    let mut blocked = new_issue(&story, "Needs both types", "t-5");
    blocked.blocked_by = Some(BlockedBy {
        type_name: "Blocks".into(),
        keys: keys.clone(),
    });
    let created = client.create_issue(&blocked).await.unwrap();
    let mut in_bulk = new_issue(&story, "Needs the Article type", "t-6");
    in_bulk.blocked_by = Some(BlockedBy {
        type_name: "Blocks".into(),
        keys: vec![keys[0].clone()],
    });
    let alongside = new_issue(&story, "Alongside it", "t-7");
    let bulk_key = client.create_issues(&[in_bulk, alongside]).await.unwrap()[0]
        .clone()
        .unwrap()
        .key;
    let links: Vec<(String, String)> = emu
        .links()
        .into_iter()
        .filter(|l| l.type_name == "Blocks")
        .map(|l| (l.inward_key, l.outward_key))
        .collect();
    for (blocker, blocked) in [
        (&keys[0], &created.key),
        (&keys[1], &created.key),
        (&keys[0], &bulk_key),
    ] {
        assert!(
            links.contains(&(blocker.clone(), blocked.clone())),
            "{blocker} blocks {blocked}: {links:?}"
        );
    }

    // Read by key or id, read-after-write; unknown keys are missing.
    let fetched = client
        .fetch_issues(
            &[
                created.key.clone(),
                keys[1].clone(),
                created.id.clone(),
                "DTG-9999".into(),
            ],
            &[TICKET_PROPERTY],
        )
        .await
        .unwrap();
    let fetched_keys: Vec<&str> = fetched.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(fetched_keys, [created.key.as_str(), keys[1].as_str()]);
    assert_eq!(fetched.issues[0].properties[TICKET_PROPERTY], json!("t-5"));
    assert!(fetched.issues[0].labels.contains(&"dtg-run-7".to_owned()));
    assert_eq!(fetched.missing, ["DTG-9999"]);

    assert!(emu.duplicates().is_empty());
    assert_eq!(
        client.browse_url(&keys[0]),
        format!("{}/browse/{}", emu.base_url(), keys[0])
    );
}

#[tokio::test]
async fn a_personal_access_token_signs_in() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let client = JiraClient::new(
        config(&emu),
        Auth::personal_access_token(&Secret::new(DEFAULT_PAT)),
    )
    .unwrap();
    client.myself().await.unwrap();
    let wrong = JiraClient::new(
        config(&emu),
        Auth::personal_access_token(&Secret::new("nope")),
    )
    .unwrap();
    assert!(matches!(
        wrong.myself().await,
        Err(JiraError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn oauth_sign_in_then_a_refresh_after_the_access_token_expires() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let app = OAuthApp {
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: Secret::new(DEFAULT_CLIENT_SECRET),
    };
    let config = config(&emu);
    let oauth = AtlassianOAuth::new(&config, app.clone()).unwrap();
    let redirect = "http://localhost/callback";
    let tokens = oauth
        .exchange_code(&emu.authorization_code(), redirect)
        .await
        .unwrap();
    let sites = oauth
        .accessible_resources(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(sites[0].id, DEFAULT_CLOUD_ID);

    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let cipher = TokenCipher::new(&[9u8; 32]);
    let credentials = tokens.into_credentials(&sites[0].id, "", system_now());
    Repos::new(table.as_ref(), 3600)
        .save_tokens("u", "site", &credentials, None, &cipher, system_now())
        .await
        .unwrap();
    let store = Arc::new(RepoTokenStore::new(table, "u", "site", cipher));
    let client = JiraClient::new(config, Auth::Stored { store, app }).unwrap();
    assert_eq!(client.project("DTG").await.unwrap().key, "DTG");

    emu.faults().expire_access_tokens();
    assert_eq!(client.project("DTG").await.unwrap().key, "DTG");
    assert_eq!(client.stats().refreshes, 1);
}

#[tokio::test]
async fn a_lost_create_answer_is_a_write_that_may_have_been_applied() {
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let client = JiraClient::new(config(&emu), api_token()).unwrap();
    let story = client
        .project("DTG")
        .await
        .unwrap()
        .issue_types
        .into_iter()
        .find(|t| t.name == "Story")
        .unwrap()
        .id;
    emu.faults().lose_answer_of_create(1);
    let err = client
        .create_issues(&[
            new_issue(&story, "Lost", "t-lost"),
            new_issue(&story, "Lost too", "t-lost-2"),
        ])
        .await
        .unwrap_err();
    assert!(err.maybe_applied(), "{err:?}");
    // It was applied, once, and the client did not send it again.
    assert_eq!(emu.count("POST /rest/api/3/issue/bulk"), 1);
    assert_eq!(emu.issues().len(), 2);
    // The same for one issue alone, which goes as a plain create.
    emu.faults().lose_answer_of_create(1);
    let err = client
        .create_issues(&[new_issue(&story, "Alone", "t-alone")])
        .await
        .unwrap_err();
    assert!(err.maybe_applied(), "{err:?}");
    assert_eq!(emu.count("POST /rest/api/3/issue"), 1);
    assert_eq!(emu.issues().len(), 3);
}

async fn burst_of_reads(client: Arc<JiraClient>, n: usize) -> Vec<Result<(), JiraError>> {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        calls.spawn(async move { client.myself().await.map(|_| ()) });
    }
    calls.join_all().await
}

#[tokio::test]
async fn client_pacing_keeps_a_burst_under_jiras_limit() {
    // GIVEN Jira Cloud's burst limit (100/s per endpoint) and a client paced at 80/s
    let emu = JiraEmulator::start(Config::default()).await.unwrap();
    let mut config = config(&emu);
    config.pacing.get_post_per_second = 80.0;
    let client = Arc::new(JiraClient::new(config, api_token()).unwrap());
    // WHEN 200 reads are fired at once
    let started = std::time::Instant::now();
    let results = burst_of_reads(client.clone(), 200).await;
    // THEN all succeed without a single 429, spread over the time the pace needs
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(emu.throttled(), 0);
    assert_eq!(client.stats().rate_limited, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn jiras_429s_are_waited_out_when_the_client_does_not_pace() {
    let emu = JiraEmulator::start(Config::default().with_limits(dtg_jira_emulator::Limits {
        burst: Some(dtg_jira_emulator::Burst {
            get_post_per_second: 20.0,
            put_delete_per_second: 10.0,
        }),
        per_issue: None,
        quota: None,
    }))
    .await
    .unwrap();
    let mut config = config(&emu);
    config.pacing.enabled = false;
    let client = Arc::new(JiraClient::new(config, api_token()).unwrap());
    let results = burst_of_reads(client.clone(), 60).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(emu.throttled() > 0);
    assert_eq!(client.stats().rate_limited, emu.throttled() as u64);
    assert!(client.stats().retries >= client.stats().rate_limited);
}

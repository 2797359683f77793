//! OAuth 2.0 (3LO) against a scripted Atlassian: code exchange, accessible
//! resources, the cloud-id API base, and rotating refresh tokens refreshed
//! through the real SQLite token store by one worker at a time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dtg_app::jira::{Jira, JiraError};
use dtg_app::repo::{JiraCredentials, Repos, TokenCipher};
use dtg_embedded::SqliteTable;
use dtg_jira::auth::system_now;
use dtg_jira::{AtlassianOAuth, Auth, JiraClient, OAuthApp, RepoTokenStore, Secret, TokenStore};
use serde_json::json;

use crate::helpers::{Reply, Seen, Server, config};

const USER: &str = "user-1";
const SITE: &str = "example.atlassian.net";
const CLOUD: &str = "cloud-1";

fn app() -> OAuthApp {
    OAuthApp {
        client_id: "client-1".into(),
        client_secret: Secret::new("client-secret-1"),
    }
}

fn cipher() -> TokenCipher {
    TokenCipher::new(&[7u8; 32])
}

/// Atlassian as the tests see it: access tokens valid only once issued,
/// refresh tokens that rotate (only the latest one works).
#[derive(Debug)]
struct Atlassian {
    generation: u32,
    valid_access: Option<String>,
    valid_refresh: String,
}

fn atlassian_script(
    state: Arc<Mutex<Atlassian>>,
    refresh_delay: Duration,
) -> impl Fn(&Seen, &[Seen]) -> Reply {
    move |seen, _| {
        let mut state = state.lock().unwrap();
        match seen.path() {
            "/oauth/token" => {
                let body = seen.json();
                let granted = match body["grant_type"].as_str() {
                    Some("refresh_token") => body["refresh_token"] == state.valid_refresh.as_str(),
                    Some("authorization_code") => body["code"] == "code-1",
                    _ => false,
                };
                if !granted || body["client_secret"] != "client-secret-1" {
                    return Reply::json(
                        403,
                        json!({ "error": "invalid_grant", "error_description": "Unknown or invalid refresh token." }),
                    );
                }
                state.generation += 1;
                let n = state.generation;
                state.valid_access = Some(format!("access-{n}"));
                state.valid_refresh = format!("refresh-{n}");
                Reply::json(200, json!({
                    "access_token": format!("access-{n}"), "refresh_token": format!("refresh-{n}"),
                    "expires_in": 3600, "scope": "read:jira-work write:jira-work offline_access",
                    "token_type": "Bearer"
                }))
                .after(refresh_delay)
            }
            "/oauth/token/accessible-resources" => Reply::json(
                200,
                json!([{
                    "id": CLOUD, "url": "https://example.atlassian.net", "name": "example",
                    "scopes": ["read:jira-work"], "avatarUrl": "https://x"
                }]),
            ),
            path if path == format!("/ex/jira/{CLOUD}/rest/api/3/myself") => {
                let expected = state.valid_access.as_ref().map(|a| format!("Bearer {a}"));
                if seen.header("authorization").map(str::to_owned) == expected {
                    Reply::json(200, json!({ "accountId": "a-1", "displayName": "Me" }))
                } else {
                    Reply::json(401, json!({ "code": 401, "message": "Unauthorized" }))
                }
            }
            _ => Reply::empty(404),
        }
    }
}

async fn seeded_store(
    table: &Arc<SqliteTable>,
    expires_at: i64,
) -> Arc<RepoTokenStore<SqliteTable>> {
    let credentials = JiraCredentials::OAuth {
        access_token: "access-0".into(),
        refresh_token: "refresh-0".into(),
        expires_at,
        cloud_id: CLOUD.into(),
    };
    Repos::new(table.as_ref(), 3600)
        .save_tokens(USER, SITE, &credentials, None, &cipher(), system_now())
        .await
        .unwrap();
    Arc::new(RepoTokenStore::new(table.clone(), USER, SITE, cipher()))
}

fn fresh_state() -> Arc<Mutex<Atlassian>> {
    Arc::new(Mutex::new(Atlassian {
        generation: 0,
        valid_access: None,
        valid_refresh: "refresh-0".into(),
    }))
}

async fn stored_access(store: &RepoTokenStore<SqliteTable>) -> (String, String, u64) {
    let stored = store.load().await.unwrap();
    match stored.value {
        JiraCredentials::OAuth {
            access_token,
            refresh_token,
            ..
        } => (access_token, refresh_token, stored.version),
        other => panic!("not OAuth: {other:?}"),
    }
}

#[tokio::test]
async fn a_401_refreshes_through_the_store_and_the_request_is_retried() {
    // GIVEN stored tokens Jira no longer accepts
    let state = fresh_state();
    let server = Server::start(atlassian_script(state.clone(), Duration::ZERO)).await;
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let store = seeded_store(&table, system_now() + 3000).await;
    let client = JiraClient::new(
        config(&server.url),
        Auth::Stored {
            store: store.clone(),
            app: app(),
        },
    )
    .unwrap();
    // WHEN a call is made
    let user = client.myself().await.unwrap();
    // THEN it was refused once, refreshed, and retried with the new token
    assert_eq!(user.account_id, "a-1");
    let api: Vec<_> = server.seen_on(&format!("/ex/jira/{CLOUD}/rest/api/3/myself"));
    assert_eq!(api.len(), 2);
    assert_eq!(api[0].header("authorization"), Some("Bearer access-0"));
    assert_eq!(api[1].header("authorization"), Some("Bearer access-1"));
    let token = server.seen_on("/oauth/token");
    assert_eq!(token.len(), 1);
    assert_eq!(
        token[0].json(),
        json!({ "grant_type": "refresh_token", "client_id": "client-1",
                "client_secret": "client-secret-1", "refresh_token": "refresh-0" })
    );
    // AND the rotated tokens are stored, sealed, under a new version
    let (access, refresh, version) = stored_access(&store).await;
    assert_eq!(
        (access.as_str(), refresh.as_str()),
        ("access-1", "refresh-1")
    );
    assert!(version > 1);
    assert_eq!(client.stats().refreshes, 1);
    // AND the next call uses them without refreshing
    client.myself().await.unwrap();
    assert_eq!(server.seen_on("/oauth/token").len(), 1);
}

#[tokio::test]
async fn tokens_about_to_expire_are_refreshed_before_sending() {
    let state = fresh_state();
    let server = Server::start(atlassian_script(state.clone(), Duration::ZERO)).await;
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let store = seeded_store(&table, system_now() + 10).await;
    let client = JiraClient::new(config(&server.url), Auth::Stored { store, app: app() }).unwrap();
    client.myself().await.unwrap();
    let api = server.seen_on(&format!("/ex/jira/{CLOUD}/rest/api/3/myself"));
    assert_eq!(api.len(), 1, "no request with the expiring token");
    assert_eq!(api[0].header("authorization"), Some("Bearer access-1"));
}

#[tokio::test]
async fn two_workers_refreshing_at_once_spend_the_refresh_token_once() {
    // GIVEN two workers (two clients) sharing one token store, and a slow token endpoint
    let state = fresh_state();
    let server = Server::start(atlassian_script(state.clone(), Duration::from_millis(400))).await;
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let store = seeded_store(&table, system_now() + 3000).await;
    let worker = || {
        let store = Arc::new(RepoTokenStore::new(table.clone(), USER, SITE, cipher()));
        JiraClient::new(config(&server.url), Auth::Stored { store, app: app() }).unwrap()
    };
    let (a, b) = (worker(), worker());
    // WHEN both are refused at once
    let (ra, rb) = tokio::join!(a.myself(), b.myself());
    // THEN both go on, and only one refresh reached Atlassian
    ra.unwrap();
    rb.unwrap();
    assert_eq!(server.seen_on("/oauth/token").len(), 1);
    assert_eq!(a.stats().refreshes + b.stats().refreshes, 1);
    let (access, refresh, _) = stored_access(&store).await;
    assert_eq!(
        (access.as_str(), refresh.as_str()),
        ("access-1", "refresh-1")
    );
}

#[tokio::test]
async fn a_refused_refresh_is_unauthorized_and_leaves_the_tokens_in_place() {
    let state = fresh_state();
    state.lock().unwrap().valid_refresh = "someone-elses".into();
    let server = Server::start(atlassian_script(state, Duration::ZERO)).await;
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let store = seeded_store(&table, system_now() + 3000).await;
    let client = JiraClient::new(
        config(&server.url),
        Auth::Stored {
            store: store.clone(),
            app: app(),
        },
    )
    .unwrap();
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(err, JiraError::Unauthorized(ref m) if m.contains("invalid_grant")),
        "{err:?}"
    );
    let (access, refresh, _) = stored_access(&store).await;
    assert_eq!(
        (access.as_str(), refresh.as_str()),
        ("access-0", "refresh-0")
    );
}

#[tokio::test]
async fn code_exchange_and_accessible_resources() {
    let state = fresh_state();
    let server = Server::start(atlassian_script(state, Duration::ZERO)).await;
    let oauth = AtlassianOAuth::new(&config(&server.url), app()).unwrap();
    let tokens = oauth
        .exchange_code("code-1", "https://app.example/callback")
        .await
        .unwrap();
    assert_eq!(tokens.access_token, "access-1");
    assert!(!format!("{tokens:?}").contains("access-1"));
    let sent = server.seen_on("/oauth/token");
    assert_eq!(sent[0].json()["grant_type"], "authorization_code");
    assert_eq!(
        sent[0].json()["redirect_uri"],
        "https://app.example/callback"
    );

    let sites = oauth
        .accessible_resources(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(sites[0].id, CLOUD);
    let asked = server.seen_on("/oauth/token/accessible-resources");
    assert_eq!(asked[0].header("authorization"), Some("Bearer access-1"));

    assert!(matches!(
        oauth
            .exchange_code("wrong", "https://app.example/callback")
            .await,
        Err(JiraError::Unauthorized(_))
    ));
    let url = oauth
        .authorize_url("https://app.example/callback", "state-1")
        .unwrap();
    assert!(url.starts_with(&format!(
        "{}/authorize?audience=api.atlassian.com&client_id=client-1",
        server.url
    )));
    assert!(url.contains("offline_access") && !url.contains("client-secret"));

    let credentials = tokens.into_credentials(CLOUD, "", 1000);
    assert!(matches!(
        credentials,
        JiraCredentials::OAuth {
            expires_at: 4600,
            ..
        }
    ));
}

#[tokio::test]
async fn oauth_requests_go_to_the_cloud_id_api_base() {
    let table = Arc::new(SqliteTable::open_in_memory().unwrap());
    let store = seeded_store(&table, system_now() + 3000).await;
    let mut config = config("https://example.atlassian.net");
    config.api_base = "https://api.atlassian.com".into();
    let client = JiraClient::dry_run(config, Auth::Stored { store, app: app() }).unwrap();
    client.myself().await.unwrap();
    let recorded = client.take_recorded();
    assert_eq!(
        recorded[0].url,
        format!("https://api.atlassian.com/ex/jira/{CLOUD}/rest/api/3/myself")
    );
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Bearer <redacted>")
    );
    assert_eq!(
        client.browse_url("PROJ-1"),
        "https://example.atlassian.net/browse/PROJ-1"
    );
}

//! What the client retries (reads on 429, 5xx and network errors; any
//! request answered 429) and what it never retries (a write whose outcome is
//! unknown), with rate-limit headers honoured.

use std::time::{Duration, Instant};

use dtg_app::jira::{Jira, JiraError};
use dtg_jira::{Auth, JiraClient, Secret};
use serde_json::json;

use crate::helpers::{Reply, Server, config, dropping_server, issue};

fn auth() -> Auth {
    Auth::api_token("me@example.com", &Secret::new("api-token-1"))
}

fn me() -> Reply {
    Reply::json(
        200,
        json!({ "accountId": "a-1", "displayName": "Me", "emailAddress": "me@example.com" }),
    )
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    // GIVEN Jira refuses the first call with a burst 429 asking for 1 s
    let server = Server::start(|_, before| {
        if before.is_empty() {
            Reply::json(429, json!({ "errorMessages": ["Rate limit exceeded"] }))
                .header("Retry-After", "1")
                .header("RateLimit-Reason", "jira-burst-based")
                .header("X-RateLimit-Remaining", "0")
        } else {
            me().header("X-RateLimit-Remaining", "99")
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    // WHEN we ask who we are
    let started = Instant::now();
    let user = client.myself().await.unwrap();
    // THEN the client waited as asked, retried once, and counted it
    assert_eq!(user.account_id, "a-1");
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(server.seen().len(), 2);
    let stats = client.stats();
    assert_eq!(
        (stats.requests_sent, stats.rate_limited, stats.retries),
        (2, 1, 1)
    );
    assert_eq!(client.rate_limit_remaining(), Some(99));
}

#[tokio::test]
async fn a_write_answered_429_is_retried_because_jira_did_not_apply_it() {
    let server = Server::start(|_, before| {
        if before.is_empty() {
            Reply::empty(429).header("RateLimit-Reason", "jira-burst-based")
        } else {
            Reply::json(
                201,
                json!({ "issues": [{ "id": "1", "key": "PROJ-2" }, { "id": "2", "key": "PROJ-3" }], "errors": [] }),
            )
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let results = client
        .create_issues(&[issue("One"), issue("Two")])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().key, "PROJ-2");
    assert_eq!(server.seen_on("/rest/api/3/issue/bulk").len(), 2);
}

#[tokio::test]
async fn a_quota_429_longer_than_the_wait_budget_stops_at_once_with_the_reset() {
    let server = Server::start(|_, _| {
        Reply::empty(429)
            .header("Retry-After", "3600")
            .header("RateLimit-Reason", "jira-quota-tenant-based")
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let err = client.myself().await.unwrap_err();
    match err {
        JiraError::RateLimited {
            retry_after,
            reason,
        } => {
            assert_eq!(retry_after, Duration::from_secs(3600));
            assert_eq!(reason, "jira-quota-tenant-based");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 1);
    // The engine learns how long to pause everything.
    assert!(client.wait_hint() > Duration::from_secs(3500));
    // And the next call does not even reach Jira before the reset.
    assert!(matches!(
        client.priorities().await,
        Err(JiraError::RateLimited { .. })
    ));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn persistent_429s_end_in_rate_limited_after_max_attempts() {
    let server =
        Server::start(|_, _| Reply::empty(429).header("RateLimit-Reason", "jira-burst-based"))
            .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(err, JiraError::RateLimited { ref reason, .. } if reason == "jira-burst-based"),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 4);
    assert_eq!(client.stats().rate_limited, 4);
}

#[tokio::test]
async fn near_limit_warning_shows_in_the_wait_hint() {
    let server = Server::start(|_, _| me().header("X-RateLimit-NearLimit", "true")).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    assert_eq!(client.wait_hint(), Duration::ZERO);
    client.myself().await.unwrap();
    assert_eq!(client.wait_hint(), Duration::from_secs(1));
}

#[tokio::test]
async fn a_get_answered_5xx_is_retried() {
    let server = Server::start(|_, before| match before.len() {
        0 => Reply::json(503, json!({ "errorMessages": ["busy"] })),
        1 => Reply::empty(502),
        _ => Reply::json(
            200,
            json!({ "id": "100", "key": "PROJ", "name": "Project", "issueTypes": [] }),
        ),
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let project = client.project("PROJ").await.unwrap();
    assert_eq!(project.key, "PROJ");
    assert_eq!(server.seen().len(), 3);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_get_failing_5xx_every_time_is_unavailable_but_not_maybe_applied() {
    let server = Server::start(|_, _| Reply::json(500, json!({ "errorMessages": ["boom"] }))).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let err = client.myself().await.unwrap_err();
    assert_eq!(
        err,
        JiraError::Unavailable {
            status: 500,
            message: "boom".into(),
            maybe_applied: false
        }
    );
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn a_create_answered_5xx_is_not_retried_and_may_have_been_applied() {
    let server = Server::start(|_, _| {
        Reply::json(500, json!({ "errorMessages": ["Internal server error"] }))
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let err = client.create_issues(&[issue("One")]).await.unwrap_err();
    assert!(
        matches!(
            err,
            JiraError::Unavailable {
                status: 500,
                maybe_applied: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.maybe_applied());
    assert_eq!(
        server.seen().len(),
        1,
        "a write with an unknown outcome is never sent twice"
    );
    let err = client.create_issue(&issue("Two")).await.unwrap_err();
    assert!(err.maybe_applied());
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_create_whose_connection_drops_is_a_network_error_that_may_have_been_applied() {
    let (url, count) = dropping_server().await;
    let client = JiraClient::new(config(&url), auth()).unwrap();
    let err = client.create_issues(&[issue("One")]).await.unwrap_err();
    assert!(
        matches!(
            err,
            JiraError::Network {
                maybe_applied: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(*count.lock().unwrap(), 1, "not retried");
    // A read on the same server is retried, and never maybe applied.
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(
            err,
            JiraError::Network {
                maybe_applied: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(*count.lock().unwrap(), 5);
}

#[tokio::test]
async fn a_create_that_times_out_is_not_retried() {
    let server = Server::start(|_, _| {
        Reply::json(201, json!({ "id": "1", "key": "PROJ-9" })).after(Duration::from_secs(3))
    })
    .await;
    let mut config = config(&server.url);
    config.request_timeout = Duration::from_millis(300);
    let client = JiraClient::new(config, auth()).unwrap();
    let err = client.create_issue(&issue("Slow")).await.unwrap_err();
    assert!(
        matches!(
            err,
            JiraError::Network {
                maybe_applied: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_was_never_applied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = JiraClient::new(config(&url), auth()).unwrap();
    let err = client.create_issue(&issue("Nowhere")).await.unwrap_err();
    assert!(
        matches!(
            err,
            JiraError::Network {
                maybe_applied: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn refusals_map_to_the_ports_errors_with_jiras_messages() {
    let server = Server::start(|seen, _| match seen.path() {
        "/rest/api/3/myself" => Reply::json(401, json!({ "errorMessages": ["Client must be authenticated"] })),
        "/rest/api/3/project/GONE" => Reply::json(404, json!({ "errorMessages": ["No project could be found with key 'GONE'."] })),
        "/rest/api/3/project/SECRET" => Reply::json(403, json!({ "errorMessages": ["You do not have permission"] })),
        _ => Reply::json(400, json!({
            "errorMessages": [],
            "errors": { "priority": "Field 'priority' cannot be set.", "summary": "Summary is required." }
        })),
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    assert_eq!(
        client.myself().await.unwrap_err(),
        JiraError::Unauthorized("Client must be authenticated".into())
    );
    assert!(
        matches!(client.project("GONE").await, Err(JiraError::NotFound(m)) if m.contains("GONE"))
    );
    assert!(matches!(
        client.project("SECRET").await,
        Err(JiraError::Forbidden(_))
    ));
    match client.create_issue(&issue("Bad")).await.unwrap_err() {
        JiraError::Refused(refusal) => {
            assert_eq!(refusal.status, 400);
            assert_eq!(
                refusal.fields["priority"],
                "Field 'priority' cannot be set."
            );
            assert_eq!(refusal.fields.len(), 2);
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    // None of these were retried.
    assert_eq!(server.seen().len(), 4);
}

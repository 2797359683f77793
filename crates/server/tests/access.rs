//! Access to every route of the API document: no sign-in gets 401, another
//! user's session 404 (the WebSocket included), a cross-site or token-less
//! change 403; and the sign-in cookie is what the design says.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, Options, spawn};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Every operation of the served document: (method, path template).
async fn operations(client: &Client) -> Vec<(reqwest::Method, String)> {
    let doc = client.get("/api/v1/openapi.json").await.body;
    assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if let Ok(m) = method.to_uppercase().parse::<reqwest::Method>()
                && ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str())
            {
                out.push((m, path.clone()));
            }
        }
    }
    assert!(
        out.len() >= 30,
        "every route is in the document: {}",
        out.len()
    );
    out
}

fn public(path: &str) -> bool {
    path.starts_with("/api/v1/auth/")
        || path.ends_with("/openapi.json")
        || path.ends_with("/health")
}

fn fill(path: &str, session: &str) -> String {
    path.replace("{session_id}", session)
        .replace("{ticket_id}", "content-type-news")
        .replace("{attachment_id}", "a1")
        .replace("{from}", "content-type-news")
        .replace("{to}", "vocabulary-tags")
}

fn body_for(method: &reqwest::Method) -> Option<Value> {
    (*method != reqwest::Method::GET && *method != reqwest::Method::DELETE).then(|| json!({}))
}

// GIVEN a server with accounts, Alice with a session, and Dana signed in
// WHEN every operation is called without a cookie, by Dana on Alice's
// session, and cross-site
// THEN the answers are 401, 404 and 403 in the error shape, and nothing of
// Alice's changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_who_calls() {
    let app = spawn(Options {
        accounts: true,
        llm: false,
        aws: None,
        ..Options::default()
    })
    .await;
    let alice = Client::signed_in(
        &app,
        dtg_jira_emulator::config::DEFAULT_EMAIL,
        dtg_jira_emulator::config::DEFAULT_API_TOKEN,
    )
    .await;
    let dana = Client::signed_in(&app, "dana@example.com", "dana-token").await;
    let me = dana.get("/api/v1/auth/me").await;
    assert_eq!(me.body["name"], "Dana Developer");
    let created = alice
        .post(
            "/api/v1/sessions",
            json!({"name": "Alice's", "jira_project": "DTG"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let session = created.body["id"].as_str().unwrap().to_owned();
    let anonymous = Client::anonymous(&app);

    let ops = operations(&alice).await;
    for (method, template) in &ops {
        if public(template) {
            continue;
        }
        let path = fill(template, &session);
        let answer = anonymous
            .send(method.clone(), &path, body_for(method), None)
            .await;
        assert_eq!(
            answer.status, 401,
            "{method} {path} without a cookie: {}",
            answer.text
        );
        assert_eq!(answer.body["code"], "not_signed_in");
        assert!(
            answer.body["correlation_id"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        );

        if template.contains("{session_id}") {
            let answer = dana
                .send(method.clone(), &path, body_for(method), Some("\"t1\""))
                .await;
            assert_eq!(
                answer.status, 404,
                "{method} {path} by another user: {}",
                answer.text
            );
            assert_eq!(answer.body["code"], "session_not_found", "{method} {path}");
        }

        if *method != reqwest::Method::GET {
            let mut evil = alice.clone();
            evil.origin = Some("https://evil.example".to_owned());
            let answer = evil
                .send(method.clone(), &path, body_for(method), None)
                .await;
            assert_eq!(
                answer.status, 403,
                "{method} {path} cross-site: {}",
                answer.text
            );
            assert_eq!(answer.body["code"], "cross_site_request");
            let mut tokenless = alice.clone();
            tokenless.csrf = None;
            let answer = tokenless
                .send(method.clone(), &path, body_for(method), None)
                .await;
            assert_eq!(
                answer.status, 403,
                "{method} {path} without the token: {}",
                answer.text
            );
            assert_eq!(answer.body["code"], "csrf_token_invalid");
        }
    }
    // Dana's listing has none of Alice's; Alice's session is untouched.
    let listed = dana.get("/api/v1/sessions").await;
    assert_eq!(listed.body["sessions"].as_array().unwrap().len(), 0);
    let mine = alice.get(&format!("/api/v1/sessions/{session}")).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body["name"], "Alice's");
    // A cross-site sign-in form is refused too.
    let mut evil = Client::anonymous(&app);
    evil.origin = Some("https://evil.example".to_owned());
    let forged = evil
        .post(
            "/api/v1/auth/token",
            json!({"site": app.jira.base_url(), "email": "dana@example.com", "api_token": "dana-token"}),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text);

    // The WebSocket: a bad ticket is refused; another user's session is not there.
    let url = app.server.url.replace("http://", "ws://");
    assert!(
        tokio_tungstenite::connect_async(format!("{url}/api/v1/ws?ticket=forged"))
            .await
            .is_err()
    );
    let ticket = dana.post("/api/v1/ws/ticket", json!({})).await;
    let t = ticket.body["ticket"].as_str().unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{url}/api/v1/ws?ticket={t}"))
        .await
        .unwrap();
    socket
        .send(Message::text(
            json!({"action": "subscribe", "session_id": session}).to_string(),
        ))
        .await
        .unwrap();
    let Some(Ok(Message::Text(reply))) = socket.next().await else {
        panic!("no answer to subscribe");
    };
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "session_not_found");
    // A ticket is good once.
    assert!(
        tokio_tungstenite::connect_async(format!("{url}/api/v1/ws?ticket={t}"))
            .await
            .is_err()
    );
}

// GIVEN a signed-in user
// WHEN they sign out
// THEN the cookie is cleared and no longer opens anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_cookie() {
    let app = spawn(Options {
        accounts: true,
        llm: false,
        aws: None,
        ..Options::default()
    })
    .await;
    let alice = Client::signed_in(
        &app,
        dtg_jira_emulator::config::DEFAULT_EMAIL,
        dtg_jira_emulator::config::DEFAULT_API_TOKEN,
    )
    .await;
    assert_eq!(alice.get("/api/v1/sessions").await.status, 200);
    let out = alice.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(out.status, 204);
    assert!(
        common::header(&out, "set-cookie")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(alice.get("/api/v1/sessions").await.status, 401);
    let wrong = Client::anonymous(&app)
        .post(
            "/api/v1/auth/token",
            json!({"site": app.jira.base_url(), "email": "dana@example.com", "api_token": "wrong"}),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(wrong.body["code"], "jira_credentials_refused");
}

// GIVEN Atlassian's OAuth (the emulator) set up
// WHEN a browser starts the sign-in, consents and comes back
// THEN the state is checked once, the code is exchanged with the PKCE
// verifier, and the cookie signs the user in to the granted site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_atlassian() {
    let app = spawn(Options {
        accounts: true,
        llm: false,
        aws: None,
        ..Options::default()
    })
    .await;
    let browser = Client::anonymous(&app);
    let start = browser
        .get("/api/v1/auth/atlassian?return_to=/review")
        .await;
    assert_eq!(start.status, 303, "{}", start.text);
    let consent = common::header(&start, "location").unwrap().to_owned();
    assert!(consent.contains("code_challenge=") && consent.contains("code_challenge_method=S256"));
    assert!(consent.contains("state="));
    // The emulator consents at once and sends the browser back.
    let back = browser.get(&consent).await;
    let callback = common::header(&back, "location").unwrap().to_owned();
    let query = callback.split_once('?').unwrap().1;
    let signed = browser
        .get(&format!("/api/v1/auth/atlassian/callback?{query}"))
        .await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    assert!(
        common::header(&signed, "location")
            .unwrap()
            .ends_with("/review")
    );
    let cookie = common::header(&signed, "set-cookie").unwrap();
    let mut client = Client::anonymous(&app);
    client.cookie = Some(cookie.split(';').next().unwrap().to_owned());
    let me = client.get("/api/v1/auth/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert!(me.body["site"].as_str().is_some());
    // The same state cannot be used twice.
    let replay = browser
        .get(&format!("/api/v1/auth/atlassian/callback?{query}"))
        .await;
    assert_eq!(replay.status, 401, "{}", replay.text);
    assert_eq!(replay.body["code"], "atlassian_state_unknown");
}

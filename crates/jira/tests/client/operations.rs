//! Each operation's request (path, query, headers, body) and how its answer
//! is read: bulk creates mapped element by element, links made at creation,
//! attachments, searches paged by token, reads by key, paged reads, link
//! direction, answers that cannot be read, signing, dry runs.

use dtg_app::jira::{BlockedBy, Fetched, Jira, JiraError, TICKET_PROPERTY};
use dtg_app::repo::JiraCredentials;
use dtg_jira::{Auth, JiraClient, RecordedBody, Secret};
use serde_json::json;

use crate::helpers::{Reply, Server, blocks, config, issue};

fn auth() -> Auth {
    Auth::api_token("me@example.com", &Secret::new("api-token-1"))
}

#[tokio::test]
async fn bulk_create_maps_failures_by_element_number_and_successes_in_order() {
    // GIVEN Jira refuses elements 1 and 3 of five
    let server = Server::start(|_, _| {
        Reply::json(201, json!({
            "issues": [
                { "id": "10", "key": "PROJ-10", "self": "x" },
                { "id": "11", "key": "PROJ-11", "self": "x" },
                { "id": "12", "key": "PROJ-12", "self": "x" }
            ],
            "errors": [
                { "failedElementNumber": 3, "status": 400,
                  "elementErrors": { "errorMessages": [], "errors": { "customfield_10020": "Sprint is closed" } } },
                { "failedElementNumber": 1, "status": 400,
                  "elementErrors": { "errorMessages": ["assignee cannot be assigned"], "errors": {} } }
            ]
        }))
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let issues: Vec<_> = (0..5).map(|n| issue(&format!("Ticket {n}"))).collect();
    // WHEN they are created in one call
    let results = client.create_issues(&issues).await.unwrap();
    // THEN each result is in its place
    let keys: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map(|i| i.key.clone()).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(
        keys,
        vec![
            Ok("PROJ-10".to_owned()),
            Err("assignee cannot be assigned".to_owned()),
            Ok("PROJ-11".to_owned()),
            Err("customfield_10020: Sprint is closed".to_owned()),
            Ok("PROJ-12".to_owned()),
        ]
    );
    let sent = server.seen_on("/rest/api/3/issue/bulk");
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    assert_eq!(body["issueUpdates"].as_array().unwrap().len(), 5);
    assert_eq!(body["issueUpdates"][2]["fields"]["summary"], "Ticket 2");
}

#[tokio::test]
async fn bulk_create_with_every_element_refused_is_a_400_mapped_per_element() {
    let server = Server::start(|_, _| {
        Reply::json(400, json!({
            "issues": [],
            "errors": [
                { "failedElementNumber": 0, "status": 400, "elementErrors": { "errors": { "summary": "too long" } } },
                { "failedElementNumber": 1, "status": 400, "elementErrors": { "errors": { "summary": "too long" } } }
            ]
        }))
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let results = client
        .create_issues(&[issue("a"), issue("b")])
        .await
        .unwrap();
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_err_and(|e| e.fields["summary"] == "too long"))
    );
}

#[tokio::test]
async fn one_issue_goes_as_a_plain_create_and_its_refusal_is_its_element_result() {
    let server = Server::start(|seen, before| {
        assert_eq!(seen.path(), "/rest/api/3/issue");
        if before.is_empty() {
            Reply::json(201, json!({ "id": "10001", "key": "PROJ-1", "self": "x" }))
        } else {
            Reply::json(
                400,
                json!({ "errorMessages": [], "errors": { "priority": "not on the screen" } }),
            )
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let made = client.create_issues(&[issue("a")]).await.unwrap();
    assert_eq!(made[0].as_ref().unwrap().key, "PROJ-1");
    let refused = client.create_issues(&[issue("b")]).await.unwrap();
    assert_eq!(
        refused[0].as_ref().unwrap_err().fields["priority"],
        "not on the screen"
    );
    assert_eq!(server.seen_on("/rest/api/3/issue").len(), 2);
}

#[tokio::test]
async fn bulk_create_refuses_more_than_fifty_without_sending() {
    let server = Server::start(|_, _| Reply::empty(500)).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let issues: Vec<_> = (0..51).map(|n| issue(&n.to_string())).collect();
    assert!(matches!(
        client.create_issues(&issues).await,
        Err(JiraError::Refused(_))
    ));
    assert!(client.create_issues(&[]).await.unwrap().is_empty());
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn attachments_carry_the_no_check_header_and_a_file_part() {
    let server =
        Server::start(|_, _| Reply::json(200, json!([{ "id": "1", "filename": "notes.txt" }])))
            .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    client
        .attach(
            "PROJ-7",
            "notes.txt",
            b"the overflow of a description".to_vec(),
        )
        .await
        .unwrap();
    let sent = server.seen_on("/rest/api/3/issue/PROJ-7/attachments");
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("x-atlassian-token"), Some("no-check"));
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let body = String::from_utf8_lossy(&request.body);
    assert!(
        body.contains("Content-Disposition: form-data; name=\"file\"; filename=\"notes.txt\""),
        "{body}"
    );
    assert!(body.contains("the overflow of a description"));
}

#[tokio::test]
async fn search_pages_by_token_and_asks_for_fields_and_properties() {
    let server = Server::start(|seen, _| {
        let body = seen.json();
        if body.get("nextPageToken").is_none() {
            Reply::json(
                200,
                json!({
                    "issues": [{ "id": "1", "key": "PROJ-1", "fields": { "labels": ["dtg-run-1"] },
                                 "properties": { "dtg.ticket": { "ticket": "t1" } } }],
                    "nextPageToken": "page-2", "isLast": false
                }),
            )
        } else {
            Reply::json(
                200,
                json!({
                    "issues": [{ "id": "2", "key": "PROJ-2", "fields": { "labels": [] } }],
                    "isLast": true
                }),
            )
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let jql = "project = PROJ AND labels = dtg-run-1";
    let first = client.search(jql, &[TICKET_PROPERTY], None).await.unwrap();
    assert_eq!(first.issues[0].key, "PROJ-1");
    assert_eq!(first.issues[0].labels, vec!["dtg-run-1"]);
    assert_eq!(
        first.issues[0].properties[TICKET_PROPERTY],
        json!({ "ticket": "t1" })
    );
    assert_eq!(first.next_page.as_deref(), Some("page-2"));
    let second = client
        .search(jql, &[TICKET_PROPERTY], first.next_page)
        .await
        .unwrap();
    assert_eq!(second.issues[0].key, "PROJ-2");
    assert!(second.issues[0].properties.is_empty());
    assert_eq!(second.next_page, None);

    let sent = server.seen_on("/rest/api/3/search/jql");
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.method == "POST"));
    assert_eq!(sent[0].json()["jql"], jql);
    assert_eq!(sent[0].json()["fields"], json!(["labels"]));
    assert_eq!(sent[0].json()["properties"], json!([TICKET_PROPERTY]));
    assert_eq!(sent[1].json()["nextPageToken"], "page-2");
    assert!(
        server.seen_on("/rest/api/3/search").is_empty(),
        "never the old search"
    );
}

#[tokio::test]
async fn a_search_is_a_read_and_is_retried_on_5xx() {
    let server = Server::start(|_, before| {
        if before.is_empty() {
            Reply::empty(503)
        } else {
            Reply::json(200, json!({ "issues": [], "isLast": true }))
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    client.search("project = PROJ", &[], None).await.unwrap();
    assert_eq!(server.seen().len(), 2);
}

fn page_of(values: serde_json::Value, is_last: bool) -> Reply {
    Reply::json(200, json!({ "values": values, "isLast": is_last }))
}

fn query_param(uri: &str, name: &str) -> Option<String> {
    uri.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

#[tokio::test]
async fn paged_reads_follow_every_page() {
    let server = Server::start(|seen, _| {
        let start = query_param(&seen.uri, "startAt").unwrap_or_default();
        match (seen.path(), start.as_str()) {
            ("/rest/api/3/priority/search", "0") => page_of(json!([{ "id": "1", "name": "High" }]), false),
            ("/rest/api/3/priority/search", _) => page_of(json!([{ "id": "2", "name": "Low" }]), true),
            ("/rest/api/3/issue/createmeta/PROJ/issuetypes/10002", "0") => Reply::json(200, json!({
                "startAt": 0, "maxResults": 1, "total": 2,
                "fields": [{ "fieldId": "summary", "key": "summary", "name": "Summary", "required": true,
                             "hasDefaultValue": false, "operations": ["set"], "schema": { "type": "string" } }]
            })),
            ("/rest/api/3/issue/createmeta/PROJ/issuetypes/10002", _) => Reply::json(200, json!({
                "startAt": 1, "maxResults": 1, "total": 2,
                "fields": [{ "fieldId": "customfield_10020", "key": "customfield_10020", "name": "Sprint",
                             "required": false, "hasDefaultValue": false, "operations": ["set"],
                             "schema": { "type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint" } }]
            })),
            ("/rest/api/3/user/assignable/search", "0") => Reply::json(200, json!([
                { "accountId": "u1", "displayName": "Ann" }
            ])),
            ("/rest/api/3/user/assignable/search", _) => Reply::json(200, json!([])),
            ("/rest/agile/1.0/board", "0") => page_of(json!([{ "id": 1 }]), false),
            ("/rest/agile/1.0/board", _) => page_of(json!([{ "id": 2 }, { "id": 3 }]), true),
            ("/rest/agile/1.0/board/1/sprint", _) => page_of(json!([
                { "id": 5, "name": "Sprint 5", "state": "active" },
                { "id": 6, "name": "Sprint 6", "state": "future" }
            ]), true),
            // A kanban board: no sprints.
            ("/rest/agile/1.0/board/2/sprint", _) => Reply::json(400, json!({ "errorMessages": ["The board does not support sprints"] })),
            ("/rest/agile/1.0/board/3/sprint", _) => page_of(json!([{ "id": 6, "name": "Sprint 6", "state": "future" }]), true),
            ("/rest/api/3/issueLinkType", _) => Reply::json(200, json!({ "issueLinkTypes": [
                { "id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks" }
            ]})),
            ("/rest/api/3/project/PROJ", _) => Reply::json(200, json!({
                "id": "100", "key": "PROJ", "name": "Project",
                "issueTypes": [
                    { "id": "1", "name": "Epic", "subtask": false, "hierarchyLevel": 1 },
                    { "id": "2", "name": "Sub-task", "subtask": true }
                ]
            })),
            _ => Reply::empty(404),
        }
    })
    .await;
    let mut config = config(&server.url);
    config.page_size = 1;
    let client = JiraClient::new(config, auth()).unwrap();

    let priorities = client.priorities().await.unwrap();
    assert_eq!(
        priorities
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["High", "Low"]
    );

    let fields = client.create_fields("PROJ", "10002").await.unwrap();
    assert_eq!(fields.len(), 2);
    assert!(fields[0].required);
    assert_eq!(
        fields[1].custom.as_deref(),
        Some("com.pyxis.greenhopper.jira:gh-sprint")
    );
    assert_eq!(fields[1].schema_type, "array");

    let users = client.assignable_users("PROJ").await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].display_name, "Ann");
    let asked = server.seen_on("/rest/api/3/user/assignable/search");
    assert_eq!(
        query_param(&asked[0].uri, "project").as_deref(),
        Some("PROJ")
    );

    let sprints = client.sprints("PROJ").await.unwrap();
    assert_eq!(sprints.iter().map(|s| s.id).collect::<Vec<_>>(), [5, 6]);
    let boards = server.seen_on("/rest/agile/1.0/board");
    assert_eq!(
        query_param(&boards[0].uri, "projectKeyOrId").as_deref(),
        Some("PROJ")
    );
    let sprint_asks = server.seen_on("/rest/agile/1.0/board/1/sprint");
    assert_eq!(
        query_param(&sprint_asks[0].uri, "state").as_deref(),
        Some("active%2Cfuture")
    );

    let types = client.link_types().await.unwrap();
    assert_eq!(types[0].outward, "blocks");

    let project = client.project("PROJ").await.unwrap();
    assert_eq!(project.issue_types[0].hierarchy_level, 1);
    assert_eq!(project.issue_types[1].hierarchy_level, -1);
}

#[tokio::test]
async fn a_blocks_link_puts_the_blocker_inward() {
    let server = Server::start(|_, _| Reply::empty(201)).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let link = blocks();
    client.link(&link).await.unwrap();
    let sent = server.seen_on("/rest/api/3/issueLink");
    assert_eq!(
        sent[0].json(),
        json!({ "type": { "name": "Blocks" }, "inwardIssue": { "key": "PROJ-1" }, "outwardIssue": { "key": "PROJ-2" } })
    );
}

#[tokio::test]
async fn create_and_property_bodies_carry_every_field() {
    let server = Server::start(|seen, _| match seen.method.as_str() {
        "PUT" => Reply::empty(200),
        _ => Reply::json(201, json!({ "id": "10001", "key": "PROJ-3", "self": "x" })),
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let created = client
        .create_issue(&issue("Create the Article type"))
        .await
        .unwrap();
    assert_eq!(created.key, "PROJ-3");
    let body = server.seen_on("/rest/api/3/issue")[0].json();
    let fields = &body["fields"];
    assert_eq!(fields["project"], json!({ "key": "PROJ" }));
    assert_eq!(fields["issuetype"], json!({ "id": "10002" }));
    assert_eq!(fields["summary"], "Create the Article type");
    assert_eq!(fields["description"]["type"], "doc");
    assert_eq!(fields["labels"], json!(["dtg-run-1"]));
    assert_eq!(fields["priority"], json!({ "id": "3" }));
    assert_eq!(
        fields["assignee"],
        json!({ "accountId": "5b10ac8d82e05b22cc7d4ef5" })
    );
    assert_eq!(fields["parent"], json!({ "key": "PROJ-1" }));
    assert_eq!(fields["customfield_10020"], json!(7));
    assert_eq!(
        body["properties"],
        json!([{ "key": TICKET_PROPERTY, "value": { "ticket": "Create the Article type" } }])
    );

    client
        .set_property("PROJ-3", TICKET_PROPERTY, &json!({ "ticket": "t9" }))
        .await
        .unwrap();
    let put = server.seen_on("/rest/api/3/issue/PROJ-3/properties/dtg.ticket");
    assert_eq!(put[0].method, "PUT");
    assert_eq!(put[0].json(), json!({ "ticket": "t9" }));
}

#[tokio::test]
async fn requests_are_signed_per_auth_mode_and_secrets_never_print() {
    let server =
        Server::start(|_, _| Reply::json(200, json!({ "accountId": "a", "displayName": "A" })))
            .await;
    let basic = JiraClient::new(config(&server.url), auth())
        .unwrap()
        .capturing();
    basic.myself().await.unwrap();
    let pat = JiraClient::new(
        config(&server.url),
        Auth::personal_access_token(&Secret::new("pat-secret-2")),
    )
    .unwrap();
    pat.myself().await.unwrap();
    let seen = server.seen();
    // base64("me@example.com:api-token-1")
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic bWVAZXhhbXBsZS5jb206YXBpLXRva2VuLTE=")
    );
    assert_eq!(seen[1].header("authorization"), Some("Bearer pat-secret-2"));
    assert_eq!(seen[0].header("accept"), Some("application/json"));

    let recorded = basic.recorded();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Basic <redacted>")
    );
    let printed = format!(
        "{basic:?} {pat:?} {recorded:?} {:?} {:?}",
        Auth::api_token("me@example.com", &Secret::new("api-token-1")),
        JiraCredentials::PersonalAccessToken {
            token: "pat-secret-2".into()
        }
    );
    assert!(
        !printed.contains("api-token-1") && !printed.contains("pat-secret-2"),
        "{printed}"
    );
}

#[tokio::test]
async fn browse_urls_point_at_the_site() {
    let client = JiraClient::new(config("https://example.atlassian.net/"), auth()).unwrap();
    assert_eq!(
        client.browse_url("PROJ-12"),
        "https://example.atlassian.net/browse/PROJ-12"
    );
}

#[tokio::test]
async fn a_dry_run_records_every_request_and_sends_none() {
    // GIVEN a site that does not exist
    let client = JiraClient::dry_run(config("http://127.0.0.1:9"), auth()).unwrap();
    // WHEN an export's calls are made
    client.myself().await.unwrap();
    let project = client.project("PROJ").await.unwrap();
    assert!(project.issue_types.iter().any(|t| t.name == "Story"));
    assert!(
        !client
            .create_fields("PROJ", "10002")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(client.priorities().await.unwrap().len(), 5);
    client.assignable_users("PROJ").await.unwrap();
    assert!(
        client
            .link_types()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "Blocks")
    );
    client.sprints("PROJ").await.unwrap();
    let created = client
        .create_issues(&[issue("a"), issue("b")])
        .await
        .unwrap();
    let keys: Vec<_> = created
        .iter()
        .map(|r| r.as_ref().unwrap().key.clone())
        .collect();
    assert_eq!(keys, ["PROJ-1", "PROJ-2"]);
    client.link(&blocks()).await.unwrap();
    client
        .attach("PROJ-1", "notes.txt", vec![1, 2, 3])
        .await
        .unwrap();
    client
        .set_property("PROJ-1", TICKET_PROPERTY, &json!("t1"))
        .await
        .unwrap();
    assert!(
        client
            .search("project = PROJ", &[TICKET_PROPERTY], None)
            .await
            .unwrap()
            .issues
            .is_empty()
    );
    // THEN each request is recorded as it would have gone, secrets left out
    let recorded = client.take_recorded();
    let lines: Vec<String> = recorded
        .iter()
        .map(|r| format!("{} {}", r.method, r.url))
        .collect();
    assert_eq!(
        lines,
        [
            "GET http://127.0.0.1:9/rest/api/3/myself",
            "GET http://127.0.0.1:9/rest/api/3/project/PROJ",
            "GET http://127.0.0.1:9/rest/api/3/issue/createmeta/PROJ/issuetypes/10002?startAt=0&maxResults=50",
            "GET http://127.0.0.1:9/rest/api/3/priority/search?startAt=0&maxResults=50",
            "GET http://127.0.0.1:9/rest/api/3/user/assignable/search?project=PROJ&startAt=0&maxResults=50",
            "GET http://127.0.0.1:9/rest/api/3/issueLinkType",
            "GET http://127.0.0.1:9/rest/agile/1.0/board?projectKeyOrId=PROJ&startAt=0&maxResults=50",
            "POST http://127.0.0.1:9/rest/api/3/issue/bulk",
            "POST http://127.0.0.1:9/rest/api/3/issueLink",
            "POST http://127.0.0.1:9/rest/api/3/issue/PROJ-1/attachments",
            "PUT http://127.0.0.1:9/rest/api/3/issue/PROJ-1/properties/dtg.ticket",
            "POST http://127.0.0.1:9/rest/api/3/search/jql",
        ]
    );
    assert!(
        recorded
            .iter()
            .all(|r| r.header("authorization") == Some("Basic <redacted>"))
    );
    assert_eq!(
        recorded[9].body,
        RecordedBody::Multipart {
            part: "file".into(),
            file_name: "notes.txt".into(),
            size: 3
        }
    );
    assert_eq!(recorded[9].header("x-atlassian-token"), Some("no-check"));
    assert_eq!(
        recorded[7].json().unwrap()["issueUpdates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let printed = serde_json::to_string(&recorded).unwrap();
    assert!(!printed.contains("api-token-1"));
    assert!(client.take_recorded().is_empty());
    assert_eq!(client.stats().requests_sent, 12);
}

#[tokio::test]
async fn blocking_issues_are_linked_in_the_create_call_itself() {
    let server = Server::start(|seen, _| {
        if seen.path() == "/rest/api/3/issue/bulk" {
            Reply::json(
                201,
                json!({ "issues": [{ "id": "1", "key": "PROJ-5" }, { "id": "2", "key": "PROJ-6" }], "errors": [] }),
            )
        } else {
            Reply::json(201, json!({ "id": "3", "key": "PROJ-7" }))
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let mut linked = issue("Needs two");
    linked.blocked_by = Some(BlockedBy {
        type_name: "Blocks".into(),
        keys: vec!["PROJ-1".into(), "PROJ-2".into()],
    });
    let mut unlinked = issue("Needs none");
    unlinked.blocked_by = Some(BlockedBy {
        type_name: "Blocks".into(),
        keys: Vec::new(),
    });
    client.create_issue(&linked).await.unwrap();
    client
        .create_issues(&[linked.clone(), unlinked])
        .await
        .unwrap();
    // THEN each blocker is inward ("PROJ-1 blocks the new issue"), in the
    // single create and in the bulk create's element; no links, no `update`.
    let links = json!({ "issuelinks": [
        { "add": { "type": { "name": "Blocks" }, "inwardIssue": { "key": "PROJ-1" } } },
        { "add": { "type": { "name": "Blocks" }, "inwardIssue": { "key": "PROJ-2" } } }
    ]});
    let single = server.seen_on("/rest/api/3/issue")[0].json();
    assert_eq!(single["update"], links);
    assert_eq!(single["fields"]["summary"], "Needs two");
    let bulk = server.seen_on("/rest/api/3/issue/bulk")[0].json();
    assert_eq!(bulk["issueUpdates"][0]["update"], links);
    assert!(bulk["issueUpdates"][1].get("update").is_none());
    assert!(
        server.seen_on("/rest/api/3/issueLink").is_empty(),
        "no separate link calls"
    );
}

/// A bulk fetch answer with the issues of `keys` that exist, as Jira sends them.
fn fetched(seen: &crate::helpers::Seen, exists: &[(&str, &str)]) -> serde_json::Value {
    let asked: Vec<String> = seen.json()["issueIdsOrKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let issues: Vec<_> = exists
        .iter()
        .filter(|(id, key)| asked.iter().any(|a| a == id || a.eq_ignore_ascii_case(key)))
        .map(|(id, key)| {
            json!({ "id": id, "key": key, "self": "x",
                    "fields": { "labels": ["dtg-run-1"] },
                    "properties": { TICKET_PROPERTY: { "ticket": key } } })
        })
        .collect();
    json!({ "expand": "", "issues": issues, "issueErrors": [] })
}

#[tokio::test]
async fn fetch_issues_reads_by_key_or_id_and_names_the_missing() {
    let server = Server::start(|seen, _| {
        Reply::json(
            200,
            fetched(seen, &[("10001", "PROJ-1"), ("10003", "PROJ-3")]),
        )
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    // WHEN three issues are asked for, one by id, one twice, one unknown
    let asked: Vec<String> = ["PROJ-3", "PROJ-2", "10001", "proj-3"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let result = client
        .fetch_issues(&asked, &[TICKET_PROPERTY])
        .await
        .unwrap();
    // THEN the found ones come in the order asked, the unknown one is missing
    let keys: Vec<_> = result.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["PROJ-3", "PROJ-1"]);
    assert_eq!(result.missing, ["PROJ-2"]);
    assert_eq!(result.issues[0].labels, ["dtg-run-1"]);
    assert_eq!(
        result.issues[0].properties[TICKET_PROPERTY],
        json!({ "ticket": "PROJ-3" })
    );
    let sent = server.seen_on("/rest/api/3/issue/bulkfetch");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].json(),
        json!({ "issueIdsOrKeys": ["PROJ-3", "PROJ-2", "10001"], "fields": ["labels"],
                "properties": [TICKET_PROPERTY] })
    );
    // Nothing asked, nothing sent.
    assert_eq!(
        client.fetch_issues(&[], &[]).await.unwrap(),
        Fetched::default()
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn fetch_issues_asks_a_hundred_at_a_time_and_at_most_five_properties() {
    let server =
        Server::start(|seen, _| Reply::json(200, fetched(seen, &[("10150", "PROJ-150")]))).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let keys: Vec<String> = (1..=250).map(|n| format!("PROJ-{n}")).collect();
    let result = client.fetch_issues(&keys, &[]).await.unwrap();
    assert_eq!(result.issues.len(), 1);
    assert_eq!(result.missing.len(), 249);
    let sizes: Vec<usize> = server
        .seen_on("/rest/api/3/issue/bulkfetch")
        .iter()
        .map(|s| s.json()["issueIdsOrKeys"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    let six = ["a", "b", "c", "d", "e", "f"];
    assert!(matches!(
        client.fetch_issues(&keys[..1], &six).await,
        Err(JiraError::Refused(_))
    ));
    assert_eq!(server.seen().len(), 3, "refused without sending");
}

#[tokio::test]
async fn fetch_issues_is_a_read_retried_on_5xx() {
    let server = Server::start(|seen, before| {
        if before.is_empty() {
            Reply::empty(503)
        } else {
            Reply::json(200, fetched(seen, &[("10001", "PROJ-1")]))
        }
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let result = client
        .fetch_issues(&["PROJ-1".to_owned()], &[])
        .await
        .unwrap();
    assert_eq!(result.issues[0].id, "10001");
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn issues_jira_could_not_return_are_asked_again_never_called_missing() {
    // GIVEN Jira cannot return PROJ-2 the first time (a retriable error)
    let server = Server::start(|seen, before| {
        let mut answer = fetched(seen, &[("10001", "PROJ-1"), ("10002", "PROJ-2")]);
        if before.is_empty() {
            answer["issues"].as_array_mut().unwrap().truncate(1);
            answer["issueErrors"] = json!([{ "id": "10002", "errorMessage": "Try again later" }]);
        }
        Reply::json(200, answer)
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let asked = vec!["PROJ-1".to_owned(), "PROJ-2".to_owned()];
    let result = client.fetch_issues(&asked, &[]).await.unwrap();
    // THEN it is asked again and found
    assert_eq!(result.issues.len(), 2);
    assert!(result.missing.is_empty());
    assert_eq!(server.seen().len(), 2);

    // GIVEN Jira never can: the fetch fails as unavailable, nothing missing
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            json!({ "issues": [], "issueErrors": [{ "id": "10002", "errorMessage": "Try again later" }] }),
        )
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let err = client.fetch_issues(&asked, &[]).await.unwrap_err();
    assert!(
        matches!(&err, JiraError::Unavailable { message, maybe_applied: false, .. } if message.contains("Try again later")),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 4, "the retry policy's attempts");
}

#[tokio::test]
async fn an_issue_answered_under_another_key_is_told_apart_from_a_missing_one() {
    // GIVEN PROJ-2 was moved to OTHER-9, and PROJ-3 does not exist
    let server = Server::start(|seen, _| {
        let asked = seen.json()["issueIdsOrKeys"].clone();
        let mut issues = Vec::new();
        for value in asked.as_array().unwrap() {
            match value.as_str().unwrap() {
                "PROJ-1" => issues.push(json!({ "id": "10001", "key": "PROJ-1" })),
                "PROJ-2" => issues.push(json!({ "id": "10002", "key": "OTHER-9" })),
                _ => {}
            }
        }
        Reply::json(200, json!({ "issues": issues }))
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let asked: Vec<String> = ["PROJ-1", "PROJ-2", "PROJ-3"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let result = client.fetch_issues(&asked, &[]).await.unwrap();
    let keys: Vec<_> = result.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["PROJ-1", "OTHER-9"]);
    assert_eq!(result.missing, ["PROJ-3"]);
}

#[tokio::test]
async fn a_create_metadata_page_with_fields_and_results_is_read_once() {
    // GIVEN a page carrying both lists Jira's document declares
    let field = json!({ "fieldId": "summary", "key": "summary", "name": "Summary", "required": true,
                        "operations": ["set"], "schema": { "type": "string", "system": "summary" } });
    let page = json!({ "startAt": 0, "maxResults": 50, "total": 1, "fields": [field], "results": [field] });
    let server = Server::start(move |_, _| Reply::json(200, page.clone())).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let fields = client.create_fields("PROJ", "10002").await.unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].id, "summary");
}

#[tokio::test]
async fn an_answer_the_client_cannot_read_names_the_operation_and_is_not_retried() {
    let server = Server::start(|seen, _| match seen.path() {
        "/rest/api/3/issue/createmeta/PROJ/issuetypes/10002" => {
            Reply::json(200, json!({ "fields": [{ "fieldId": ["summary"] }] }))
        }
        "/rest/api/3/issue/bulk" => Reply::json(201, json!({ "issues": "PROJ-1" })),
        _ => Reply::json(200, json!([1, 2])),
    })
    .await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    let err = client.create_fields("PROJ", "10002").await.unwrap_err();
    match &err {
        JiraError::Unreadable {
            operation,
            message,
            maybe_applied,
        } => {
            assert_eq!(
                operation,
                "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"
            );
            assert!(message.starts_with("fields[0]: "), "{message}");
            assert!(!maybe_applied);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("cannot read"), "{err}");
    // A write whose answer cannot be read was applied.
    let err = client
        .create_issues(&[issue("a"), issue("b")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JiraError::Unreadable { operation, maybe_applied: true, .. } if operation == "POST /rest/api/3/issue/bulk"),
        "{err:?}"
    );
    assert!(matches!(
        client.myself().await,
        Err(JiraError::Unreadable { .. })
    ));
    // None of them was sent twice.
    assert_eq!(server.seen().len(), 3);
}

//! Synthetic answers for dry runs: what a plain Jira Cloud site would answer
//! each request the client sends, so an export can run to its end without
//! touching Jira. Created issues get keys `{PROJECT}-{n}` in order.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::client::{Answer, Body, Call};

fn ok(status: u16, body: &Value) -> Answer {
    Answer {
        status,
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

fn project_of(issue: &Value) -> String {
    issue
        .pointer("/fields/project/key")
        .and_then(Value::as_str)
        .unwrap_or("DRY")
        .to_owned()
}

fn created(issue: &Value, sequence: &AtomicU64) -> Value {
    let n = sequence.fetch_add(1, Ordering::Relaxed) + 1;
    json!({ "id": (10_000 + n).to_string(), "key": format!("{}-{n}", project_of(issue)) })
}

/// The answer a plain site would give to `call`.
pub(crate) fn answer(call: &Call, sequence: &AtomicU64) -> Answer {
    let body = match &call.body {
        Body::Json(value) => value.clone(),
        _ => Value::Null,
    };
    match call.endpoint {
        "GET /rest/api/3/myself" => ok(
            200,
            &json!({ "accountId": "dry-run", "displayName": "Dry run", "emailAddress": null }),
        ),
        "GET /rest/api/3/project/{projectIdOrKey}" => {
            let key = call.path.rsplit('/').next().unwrap_or("DRY");
            ok(
                200,
                &json!({
                    "id": "10000", "key": key, "name": key,
                    "issueTypes": [
                        { "id": "10001", "name": "Epic", "subtask": false, "hierarchyLevel": 1 },
                        { "id": "10002", "name": "Story", "subtask": false, "hierarchyLevel": 0 },
                        { "id": "10003", "name": "Task", "subtask": false, "hierarchyLevel": 0 },
                        { "id": "10004", "name": "Bug", "subtask": false, "hierarchyLevel": 0 },
                        { "id": "10005", "name": "Subtask", "subtask": true, "hierarchyLevel": -1 }
                    ]
                }),
            )
        }
        "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}" => {
            let field = |id: &str, name: &str, required: bool, kind: &str| {
                json!({ "fieldId": id, "key": id, "name": name, "required": required,
                        "hasDefaultValue": false, "operations": ["set"], "schema": { "type": kind } })
            };
            ok(
                200,
                &json!({ "startAt": 0, "maxResults": 50, "total": 8, "fields": [
                    field("summary", "Summary", true, "string"),
                    field("issuetype", "Issue Type", true, "issuetype"),
                    field("project", "Project", true, "project"),
                    field("description", "Description", false, "string"),
                    field("labels", "Labels", false, "array"),
                    field("priority", "Priority", false, "priority"),
                    field("assignee", "Assignee", false, "user"),
                    field("parent", "Parent", false, "issuelink"),
                ]}),
            )
        }
        "GET /rest/api/3/priority/search" => ok(
            200,
            &json!({ "isLast": true, "values": [
                { "id": "1", "name": "Highest" }, { "id": "2", "name": "High" },
                { "id": "3", "name": "Medium" }, { "id": "4", "name": "Low" },
                { "id": "5", "name": "Lowest" }
            ]}),
        ),
        "GET /rest/api/3/issueLinkType" => ok(
            200,
            &json!({ "issueLinkTypes": [
                { "id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks" },
                { "id": "10001", "name": "Relates", "inward": "relates to", "outward": "relates to" }
            ]}),
        ),
        "GET /rest/api/3/user/assignable/search" => ok(200, &json!([])),
        "GET /rest/agile/1.0/board" | "GET /rest/agile/1.0/board/{boardId}/sprint" => {
            ok(200, &json!({ "isLast": true, "values": [] }))
        }
        "POST /rest/api/3/issue" => ok(201, &created(&body, sequence)),
        "POST /rest/api/3/issue/bulk" => {
            let issues: Vec<Value> = body
                .get("issueUpdates")
                .and_then(Value::as_array)
                .map(|all| all.iter().map(|i| created(i, sequence)).collect())
                .unwrap_or_default();
            ok(201, &json!({ "issues": issues, "errors": [] }))
        }
        "POST /rest/api/3/search/jql" => ok(200, &json!({ "issues": [], "isLast": true })),
        // Nothing a dry run made exists in Jira.
        "POST /rest/api/3/issue/bulkfetch" => ok(200, &json!({ "issues": [], "issueErrors": [] })),
        "POST /rest/api/3/issue/{issueIdOrKey}/attachments" => ok(200, &json!([])),
        _ => Answer {
            status: if call.method == reqwest::Method::PUT {
                200
            } else {
                201
            },
            body: Vec::new(),
        },
    }
}

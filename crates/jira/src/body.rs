//! The JSON bodies the client sends, built in one place so tests can check
//! each against the request schemas of Jira's published OpenAPI document.

use serde_json::{Map, Value, json};

use dtg_app::jira::{BlockedBy, NewIssue, NewLink};

/// The body of `POST /rest/api/3/issue` (and one element of a bulk create):
/// `fields` (project, issue type, summary, description, labels, priority,
/// assignee, parent, then the extra fields), `update.issuelinks` for the
/// issues that block it, and `properties`.
#[must_use]
pub fn create_issue(issue: &NewIssue) -> Value {
    let mut fields = Map::new();
    for (id, value) in &issue.extra_fields {
        fields.insert(id.clone(), value.clone());
    }
    fields.insert("project".into(), json!({ "key": issue.project_key }));
    fields.insert("issuetype".into(), json!({ "id": issue.issue_type_id }));
    fields.insert("summary".into(), json!(issue.summary));
    if !issue.description.is_null() {
        fields.insert("description".into(), issue.description.clone());
    }
    if !issue.labels.is_empty() {
        fields.insert("labels".into(), json!(issue.labels));
    }
    if let Some(id) = &issue.priority_id {
        fields.insert("priority".into(), json!({ "id": id }));
    }
    if let Some(account_id) = &issue.assignee {
        fields.insert("assignee".into(), json!({ "accountId": account_id }));
    }
    if let Some(key) = &issue.parent_key {
        fields.insert("parent".into(), json!({ "key": key }));
    }
    let mut body = Map::new();
    body.insert("fields".into(), Value::Object(fields));
    if let Some(blocked_by) = issue.blocked_by.as_ref().filter(|b| !b.keys.is_empty()) {
        body.insert(
            "update".into(),
            json!({ "issuelinks": issue_links(blocked_by) }),
        );
    }
    if !issue.properties.is_empty() {
        let properties: Vec<Value> = issue
            .properties
            .iter()
            .map(|(key, value)| json!({ "key": key, "value": value }))
            .collect();
        body.insert("properties".into(), Value::Array(properties));
    }
    Value::Object(body)
}

/// The `update.issuelinks` operations of a create: one `add` per blocking
/// issue, that issue inward. Seen from the new issue, `inwardIssue` reads
/// with the type's inward description ("is blocked by"), so Jira stores
/// each link as "K blocks the new issue", as [`link`] does with
/// `inward_key = K`.
fn issue_links(blocked_by: &BlockedBy) -> Vec<Value> {
    blocked_by
        .keys
        .iter()
        .map(|key| {
            json!({ "add": {
                "type": { "name": blocked_by.type_name },
                "inwardIssue": { "key": key },
            }})
        })
        .collect()
}

/// The body of `POST /rest/api/3/issue/bulk`.
#[must_use]
pub fn bulk_create(issues: &[NewIssue]) -> Value {
    json!({ "issueUpdates": issues.iter().map(create_issue).collect::<Vec<_>>() })
}

/// The body of `POST /rest/api/3/issueLink`.
///
/// Direction: for `Blocks`, "A blocks B" is `inwardIssue: A, outwardIssue: B`
/// ([`NewLink::inward_key`] is the blocker). Jira shows it on A as "blocks B"
/// and on B as "is blocked by A".
#[must_use]
pub fn link(link: &NewLink) -> Value {
    json!({
        "type": { "name": link.type_name },
        "inwardIssue": { "key": link.inward_key },
        "outwardIssue": { "key": link.outward_key },
    })
}

/// The body of `POST /rest/api/3/search/jql`: the query, the fields and
/// entity properties asked for explicitly, the page size and where to go on.
#[must_use]
pub fn search(
    jql: &str,
    properties: &[&str],
    max_results: u32,
    next_page: Option<&str>,
    reconcile: &[u64],
) -> Value {
    let mut body = Map::new();
    body.insert("jql".into(), json!(jql));
    body.insert("fields".into(), json!(["labels"]));
    if !properties.is_empty() {
        body.insert("properties".into(), json!(properties));
    }
    body.insert("maxResults".into(), json!(max_results));
    if let Some(token) = next_page {
        body.insert("nextPageToken".into(), json!(token));
    }
    if !reconcile.is_empty() {
        body.insert("reconcileIssues".into(), json!(reconcile));
    }
    Value::Object(body)
}

/// The body of `POST /rest/api/3/issue/bulkfetch`: the issues by key or id,
/// their labels and the entity properties asked for.
#[must_use]
pub fn bulk_fetch(keys_or_ids: &[String], properties: &[&str]) -> Value {
    json!({
        "issueIdsOrKeys": keys_or_ids,
        "fields": ["labels"],
        "properties": properties,
    })
}

//! Every JSON body the client sends, checked against the request schema of
//! its operation in Jira Cloud's published OpenAPI document (REST v3).
//!
//! The schemas live in `tests/fixtures/jira-request-schemas.json`: each
//! operation's request schema with every `$ref` it reaches gathered under
//! `definitions`, OpenAPI's `nullable` turned into JSON Schema. The test
//! resolves them afresh from the document (`reference/specs/
//! jira-cloud-platform.v3.json`, or `DTG_JIRA_OPENAPI`) and fails if the
//! fixture differs; `DTG_UPDATE_FIXTURES=1`
//! rewrites the fixture instead. (The OAuth token
//! requests go to auth.atlassian.com, which that document does not cover.)

use std::collections::{BTreeMap, BTreeSet};

use dtg_app::jira::{BlockedBy, Jira, TICKET_PROPERTY};
use dtg_jira::{Auth, JiraClient, Secret};
use serde_json::{Map, Value, json};

use crate::helpers::{blocks, config, issue};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jira-request-schemas.json"
);

/// The operations whose JSON bodies the client sends.
const OPERATIONS: [(&str, &str); 6] = [
    ("POST", "/rest/api/3/issue"),
    ("POST", "/rest/api/3/issue/bulk"),
    ("POST", "/rest/api/3/issue/bulkfetch"),
    ("POST", "/rest/api/3/issueLink"),
    (
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
    ),
    ("POST", "/rest/api/3/search/jql"),
];

/// Atlassian's document, kept in the repository (`reference/`).
pub const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../reference/specs/jira-cloud-platform.v3.json"
);

const COMPONENTS: &str = "#/components/schemas/";

fn collect_refs(node: &Value, out: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix(COMPONENTS)
            {
                out.insert(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// OpenAPI 3.0 schema -> JSON Schema: `$ref`s into `definitions`, `nullable` as a `null` type.
pub fn to_json_schema(node: &Value) -> Value {
    match node {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "nullable" && k.as_str() != "example")
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect();
            if let Some(Value::String(r)) = out.get("$ref")
                && let Some(name) = r.strip_prefix(COMPONENTS)
            {
                out.insert("$ref".into(), json!(format!("#/definitions/{name}")));
            }
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(kind)) = out.get("type").cloned()
            {
                out.insert("type".into(), json!([kind, "null"]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// The self-contained request schema of one operation.
fn resolve(spec: &Value, method: &str, path: &str) -> Value {
    let schema = &spec["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} has no JSON request body in the document"
    );
    self_contained(spec, schema)
}

/// `schema` as JSON Schema, with every component it reaches under `definitions`.
pub fn self_contained(spec: &Value, schema: &Value) -> Value {
    let components = &spec["components"]["schemas"];
    let mut names = BTreeSet::new();
    collect_refs(schema, &mut names);
    let mut pending: Vec<String> = names.iter().cloned().collect();
    while let Some(name) = pending.pop() {
        let mut found = BTreeSet::new();
        collect_refs(&components[&name], &mut found);
        for f in found {
            if names.insert(f.clone()) {
                pending.push(f);
            }
        }
    }
    let definitions: Map<String, Value> = names
        .iter()
        .map(|n| (n.clone(), to_json_schema(&components[n])))
        .collect();
    json!({ "allOf": [to_json_schema(schema)], "definitions": definitions })
}

fn schemas() -> BTreeMap<String, Value> {
    let fixture: BTreeMap<String, Value> = std::fs::read_to_string(FIXTURE)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let spec_path = std::env::var("DTG_JIRA_OPENAPI")
        .ok()
        .or_else(|| std::path::Path::new(SPEC).exists().then(|| SPEC.to_owned()));
    let Some(spec_path) = spec_path else {
        assert!(
            !fixture.is_empty(),
            "{FIXTURE} is missing; see this test's header"
        );
        return fixture;
    };
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    let fresh: BTreeMap<String, Value> = OPERATIONS
        .iter()
        .map(|(method, path)| (format!("{method} {path}"), resolve(&spec, method, path)))
        .collect();
    if std::env::var_os("DTG_UPDATE_FIXTURES").is_some() {
        std::fs::write(
            FIXTURE,
            serde_json::to_string_pretty(&fresh).unwrap() + "\n",
        )
        .unwrap();
    } else {
        assert!(
            fixture == fresh,
            "{FIXTURE} is stale: rerun with DTG_UPDATE_FIXTURES=1"
        );
    }
    fresh
}

/// The operation of a recorded request: method and path template.
fn operation(method: &str, url: &str) -> Option<String> {
    let path = url
        .split("/rest/")
        .nth(1)
        .map(|p| format!("/rest/{}", p.split('?').next().unwrap_or_default()))?;
    OPERATIONS.iter().find_map(|(m, template)| {
        let parts: Vec<_> = template.split('/').collect();
        let actual: Vec<_> = path.split('/').collect();
        let same = *m == method
            && parts.len() == actual.len()
            && parts
                .iter()
                .zip(&actual)
                .all(|(t, a)| t.starts_with('{') || t == a);
        same.then(|| format!("{m} {template}"))
    })
}

pub fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .unwrap()
}

#[tokio::test]
async fn every_json_body_the_client_sends_matches_jiras_request_schemas() {
    let schemas = schemas();
    // GIVEN the client in a dry run, making every call that has a JSON body
    let client = JiraClient::dry_run(
        config("https://example.atlassian.net"),
        Auth::api_token("me@example.com", &Secret::new("t")),
    )
    .unwrap();
    let mut bare = issue("Bare");
    bare.description = Value::Null;
    bare.labels.clear();
    bare.priority_id = None;
    bare.assignee = None;
    bare.parent_key = None;
    bare.extra_fields.clear();
    bare.properties.clear();
    let mut linked = issue("Linked");
    linked.blocked_by = Some(BlockedBy {
        type_name: "Blocks".into(),
        keys: vec!["PROJ-1".into(), "PROJ-2".into()],
    });
    client.create_issue(&issue("Full")).await.unwrap();
    client.create_issue(&bare).await.unwrap();
    client.create_issue(&linked).await.unwrap();
    let mut many: Vec<_> = (0..49).map(|n| issue(&format!("Ticket {n}"))).collect();
    many.push(linked.clone());
    client.create_issues(&many).await.unwrap();
    client.create_issues(&[bare.clone()]).await.unwrap();
    let keys: Vec<String> = (1..=100).map(|n| format!("PROJ-{n}")).collect();
    client
        .fetch_issues(&keys, &[TICKET_PROPERTY])
        .await
        .unwrap();
    client
        .fetch_issues(&["10001".to_owned()], &[])
        .await
        .unwrap();
    client.link(&blocks()).await.unwrap();
    client
        .set_property("PROJ-1", TICKET_PROPERTY, &json!({ "ticket": "t1" }))
        .await
        .unwrap();
    client
        .search("project = PROJ AND labels = run", &[TICKET_PROPERTY], None)
        .await
        .unwrap();
    client
        .search("project = PROJ", &[], Some("token-2".into()))
        .await
        .unwrap();
    client
        .search_reconciled("project = PROJ", &[TICKET_PROPERTY], None, &[10001, 10002])
        .await
        .unwrap();

    // THEN each body is valid for its operation, and every operation was seen
    let mut covered = BTreeSet::new();
    let mut linked_bodies = 0;
    for request in client.take_recorded() {
        let Some(body) = request.json() else { continue };
        let op = operation(&request.method, &request.url).unwrap_or_else(|| {
            panic!(
                "{} {} sends JSON to an operation not checked here",
                request.method, request.url
            )
        });
        if body.pointer("/update/issuelinks").is_some()
            || body.pointer("/issueUpdates/49/update/issuelinks").is_some()
        {
            linked_bodies += 1;
        }
        let validator = validator(&schemas[&op]);
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{op}: {errors:?}\n{body:#}");
        covered.insert(op);
    }
    assert_eq!(covered.len(), OPERATIONS.len(), "covered only {covered:?}");
    assert_eq!(linked_bodies, 2, "a single and a bulk create with links");
}

#[test]
fn the_schemas_do_refuse_bodies_jira_would_refuse() {
    let schemas = schemas();
    let link = validator(&schemas["POST /rest/api/3/issueLink"]);
    assert!(link.is_valid(&json!({ "type": { "name": "Blocks" }, "inwardIssue": { "key": "A-1" }, "outwardIssue": { "key": "A-2" } })));
    assert!(
        !link.is_valid(&json!({ "type": { "name": "Blocks" }, "inwardIssue": { "key": "A-1" } }))
    );
    assert!(!link.is_valid(&json!({ "type": { "name": "Blocks" }, "inwardIssue": { "issueKey": "A-1" }, "outwardIssue": { "key": "A-2" } })));
    let search = validator(&schemas["POST /rest/api/3/search/jql"]);
    assert!(
        !search.is_valid(&json!({ "jql": "project = A", "startAt": 0 })),
        "the old paging is not accepted"
    );
    let fetch = validator(&schemas["POST /rest/api/3/issue/bulkfetch"]);
    assert!(
        fetch.is_valid(
            &json!({ "issueIdsOrKeys": ["A-1"], "fields": ["labels"], "properties": [] })
        )
    );
    assert!(
        !fetch.is_valid(&json!({ "issueKeys": ["A-1"] })),
        "the keys go in issueIdsOrKeys"
    );
    let create = validator(&schemas["POST /rest/api/3/issue"]);
    assert!(!create.is_valid(
        &json!({ "fields": {}, "properties": [{ "key": "k", "value": 1, "extra": true }] })
    ));
}

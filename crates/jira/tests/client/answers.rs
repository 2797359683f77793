//! Jira's answers as Jira may send them: for every operation the client
//! uses, answers generated from the operation's response schema in
//! Atlassian's OpenAPI document (`reference/specs/jira-cloud-platform.v3.json`)
//! are served by a scripted Jira and read by the client.
//!
//! Each answer is generated four ways:
//! - `Full`: every declared property, recursively to a bounded depth, two
//!   items in each list, two entries in each map, and an unknown property
//!   in each object;
//! - `Nulls`: the same with every `nullable` property `null`;
//! - `Required`: only the properties the document requires;
//! - `Lists`: only the required properties, except that the answer's own
//!   lists are there, each with one item of only required properties.
//!
//! Values are valid for their schema (type, format, enum, bounds): each
//! answer, less its unknown properties, is checked against the schema
//! before it is served. The Agile API (boards, sprints) and Atlassian's
//! OAuth endpoints are not in that document: their answers are written
//! here after Atlassian's reference pages, with every documented property.
//!
//! Where the document leaves out a value the product cannot do without
//! (the key of a created issue, the account id of the signed-in user), the
//! client says so with [`JiraError::Unreadable`], naming the operation;
//! items of a list that cannot be used (a priority without an id) are left
//! out.

use std::collections::BTreeSet;

use dtg_app::jira::{Jira, JiraError, TICKET_PROPERTY};
use dtg_jira::{AtlassianOAuth, Auth, JiraClient, OAuthApp, Secret};
use serde_json::{Map, Value, json};

use crate::helpers::{Reply, Server, blocks, config, issue};
use crate::schema::{SPEC, self_contained};

/// Below this depth `Full` answers carry every property; deeper, only the
/// required ones.
const FULL_DEPTH: usize = 7;

/// Below this depth objects carry anything at all (a guard against schemas
/// that require themselves).
const MAX_DEPTH: usize = 14;

/// The property added to each object of a `Full` answer, unknown to the document.
const UNKNOWN: &str = "dtgUnknownProperty";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    Nulls,
    Required,
    Lists,
}

const MODES: [Mode; 4] = [Mode::Full, Mode::Nulls, Mode::Required, Mode::Lists];

impl Mode {
    fn full(self) -> bool {
        matches!(self, Self::Full | Self::Nulls)
    }
}

fn spec() -> &'static Value {
    static SPEC_VALUE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SPEC_VALUE.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC).expect("Jira's OpenAPI document in reference/");
        serde_json::from_str(&text).unwrap()
    })
}

/// Answers generated from an OpenAPI schema, deterministically.
struct Generator<'a> {
    components: &'a Map<String, Value>,
    mode: Mode,
    unknown: bool,
    count: usize,
}

impl<'a> Generator<'a> {
    fn new(spec: &'a Value, mode: Mode, unknown: bool) -> Self {
        Self {
            components: spec["components"]["schemas"].as_object().unwrap(),
            mode,
            unknown,
            count: 0,
        }
    }

    fn next(&mut self) -> usize {
        self.count += 1;
        self.count
    }

    /// `schema` with its `$ref` resolved, its `allOf` merged and the first
    /// branch of a `oneOf`/`anyOf` taken.
    fn flatten(&self, schema: &Value) -> Map<String, Value> {
        let mut out = schema.as_object().cloned().unwrap_or_default();
        if let Some(Value::String(r)) = out.remove("$ref") {
            let name = r.trim_start_matches("#/components/schemas/");
            let target = self
                .components
                .get(name)
                .unwrap_or_else(|| panic!("{r} is not in the document"));
            // OpenAPI 3.0 ignores a `$ref`'s siblings but `nullable`.
            let nullable = out.remove("nullable");
            out = self.flatten(target);
            if let Some(n) = nullable {
                out.insert("nullable".into(), n);
            }
        }
        let mut branches: Vec<Value> = Vec::new();
        if let Some(Value::Array(all)) = out.remove("allOf") {
            branches.extend(all);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(any)) = out.remove(key)
                && let Some(first) = any.into_iter().next()
            {
                branches.push(first);
            }
        }
        for branch in branches {
            let branch = self.flatten(&branch);
            for (key, value) in branch {
                match (key.as_str(), out.get_mut(&key), value) {
                    ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                        for (k, v) in theirs {
                            mine.entry(k).or_insert(v);
                        }
                    }
                    ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                        mine.extend(theirs);
                    }
                    (_, Some(_), _) => {}
                    (_, None, value) => {
                        out.insert(key, value);
                    }
                }
            }
        }
        out
    }

    fn value(&mut self, schema: &Value, name: &str, depth: usize, top: bool) -> Value {
        let schema = self.flatten(schema);
        if self.mode == Mode::Nulls && schema.get("nullable") == Some(&Value::Bool(true)) {
            return Value::Null;
        }
        if let Some(Value::Array(choices)) = schema.get("enum")
            && let Some(first) = choices.first()
        {
            return first.clone();
        }
        let kind = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_else(|| {
                if schema.contains_key("properties") || schema.contains_key("additionalProperties")
                {
                    "object"
                } else if schema.contains_key("items") {
                    "array"
                } else {
                    ""
                }
            });
        let number = |key: &str| schema.get(key).and_then(Value::as_i64);
        match kind {
            "object" => self.object(&schema, depth, top),
            "array" => {
                let mut items = if self.mode.full() { 2 } else { 1 };
                if depth >= MAX_DEPTH {
                    items = 0;
                }
                let min = number("minItems").unwrap_or(0).max(0) as usize;
                let max = number("maxItems").map_or(usize::MAX, |m| m.max(0) as usize);
                let items = items.max(min).min(max);
                let item = schema.get("items").cloned().unwrap_or(json!({}));
                Value::Array(
                    (0..items)
                        .map(|_| self.value(&item, name, depth + 1, false))
                        .collect(),
                )
            }
            "string" => {
                let n = self.next();
                let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
                let mut text = match format {
                    "date-time" => format!("2025-12-01T10:{:02}:30.123+00:00", n % 60),
                    "date" => format!("2025-12-{:02}", n % 28 + 1),
                    "uri" => format!("https://example.atlassian.net/rest/api/3/{name}/{n}"),
                    "uuid" => format!("6f9c2a4e-0b1d-4c3a-9e8f-{n:012}"),
                    _ => format!("{name}-{n}"),
                };
                if let Some(max) = number("maxLength") {
                    text.truncate(max.max(0) as usize);
                }
                while (text.len() as i64) < number("minLength").unwrap_or(0) {
                    text.push('x');
                }
                json!(text)
            }
            "integer" => {
                let low = number("minimum").unwrap_or(1);
                json!(number("maximum").map_or(low, |high| low.min(high)))
            }
            "number" => json!(1.5),
            "boolean" => json!(true),
            // Anything: an object in full answers, a string otherwise.
            _ => {
                let n = self.next();
                if self.mode.full() {
                    json!({ "value": format!("{name}-{n}") })
                } else {
                    json!(format!("{name}-{n}"))
                }
            }
        }
    }

    fn object(&mut self, schema: &Map<String, Value>, depth: usize, top: bool) -> Value {
        let mut out = Map::new();
        if depth >= MAX_DEPTH {
            return Value::Object(out);
        }
        let full = self.mode.full() && depth < FULL_DEPTH;
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let declared = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, property) in &declared {
            let is_list = self.flatten(property).get("type") == Some(&json!("array"));
            let wanted = full
                || required.contains(name.as_str())
                || (self.mode == Mode::Lists && top && is_list);
            if wanted {
                let value = self.value(property, name, depth + 1, false);
                out.insert(name.clone(), value);
            }
        }
        if full {
            match schema.get("additionalProperties") {
                Some(Value::Object(entry)) => {
                    for n in 1..=2 {
                        let value =
                            self.value(&Value::Object(entry.clone()), "entry", depth + 1, false);
                        out.insert(format!("entry{n}"), value);
                    }
                }
                Some(Value::Bool(true)) => {
                    let n = self.next();
                    out.insert("additional".into(), json!(format!("additional-{n}")));
                }
                _ => {}
            }
            // Maps take any key; objects with declared properties get one
            // they do not declare.
            if self.unknown && !declared.is_empty() {
                out.insert(
                    UNKNOWN.into(),
                    json!({ "added": ["by", 2, "a later Jira"] }),
                );
            }
        }
        Value::Object(out)
    }
}

/// The success status and JSON schema of an operation's answer.
fn response_schema(method: &str, path: &str) -> (u16, Value) {
    let operation = &spec()["paths"][path][method.to_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {path} is not in the document"
    );
    let responses = operation["responses"].as_object().unwrap();
    let (status, response) = responses
        .iter()
        .find(|(status, _)| status.starts_with('2'))
        .unwrap_or_else(|| panic!("{method} {path} has no success answer"));
    let schema = response["content"]["application/json"]["schema"].clone();
    assert!(!schema.is_null(), "{method} {path} answers no JSON");
    (status.parse().unwrap(), schema)
}

/// The answer to serve for an operation in `mode`, checked against its
/// schema first.
fn generated(method: &str, path: &str, mode: Mode) -> (u16, Value) {
    let (status, schema) = response_schema(method, path);
    let plain = Generator::new(spec(), mode, false).value(&schema, "answer", 0, true);
    let checked = self_contained(spec(), &schema);
    let errors: Vec<String> = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&checked)
        .unwrap()
        .iter_errors(&plain)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} ({mode:?}): the generated answer is not valid: {errors:?}"
    );
    let served = Generator::new(spec(), mode, true).value(&schema, "answer", 0, true);
    (status, served)
}

fn auth() -> Auth {
    Auth::api_token("me@example.com", &Secret::new("api-token-1"))
}

/// A client of a Jira that answers every request with `body`.
async fn serving(status: u16, body: Value) -> (Server, JiraClient) {
    let server = Server::start(move |_, _| Reply::json(status, body.clone())).await;
    let client = JiraClient::new(config(&server.url), auth()).unwrap();
    (server, client)
}

/// That `result` is [`JiraError::Unreadable`] for `operation`, mentioning `what`.
fn assert_unreadable<T: std::fmt::Debug>(
    result: Result<T, JiraError>,
    operation: &str,
    what: &str,
    applied: bool,
) {
    match result {
        Err(JiraError::Unreadable {
            operation: named,
            message,
            maybe_applied,
        }) => {
            assert_eq!(named, operation);
            assert!(message.contains(what), "{message}");
            assert_eq!(maybe_applied, applied, "{message}");
        }
        other => panic!("{operation}: expected an unreadable answer, got {other:?}"),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// The operations this file covers, as the client names them.
const COVERED: [&str; 17] = [
    "GET /rest/api/3/myself",
    "GET /rest/api/3/project/{projectIdOrKey}",
    "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
    "GET /rest/api/3/priority/search",
    "GET /rest/api/3/user/assignable/search",
    "GET /rest/api/3/issueLinkType",
    "GET /rest/agile/1.0/board",
    "GET /rest/agile/1.0/board/{boardId}/sprint",
    "POST /rest/api/3/issue",
    "POST /rest/api/3/issue/bulk",
    "POST /rest/api/3/issueLink",
    "POST /rest/api/3/issue/{issueIdOrKey}/attachments",
    "PUT /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
    "POST /rest/api/3/search/jql",
    "POST /rest/api/3/issue/bulkfetch",
    "POST https://auth.atlassian.com/oauth/token",
    "GET https://api.atlassian.com/oauth/token/accessible-resources",
];

#[test]
fn every_operation_the_client_sends_is_covered_here() {
    // The client's operations, as its source names them.
    let source = [
        include_str!("../../src/client.rs"),
        include_str!("../../src/oauth.rs"),
    ]
    .concat();
    let mut named = BTreeSet::new();
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let quoted = format!("\"{method} ");
        for (at, _) in source.match_indices(&quoted) {
            let rest = &source[at + quoted.len()..];
            let name = rest.split('"').next().unwrap_or_default();
            if name.starts_with('/') || name.starts_with("https://") {
                named.insert(format!("{method} {name}"));
            }
        }
    }
    let covered: BTreeSet<String> = COVERED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        named, covered,
        "operations of the client vs those covered here"
    );
    // Each platform operation is in Atlassian's document, as named.
    for op in COVERED.iter().filter(|op| op.contains(" /rest/api/3/")) {
        let (method, path) = op.split_once(' ').unwrap();
        response_schema(method, path);
    }
}

#[tokio::test]
async fn myself() {
    for mode in MODES {
        let (status, answer) = generated("GET", "/rest/api/3/myself", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let result = client.myself().await;
        if mode.full() {
            let user = result.unwrap();
            assert_eq!(user.account_id, text(&answer["accountId"]));
            assert_eq!(user.display_name, text(&answer["displayName"]));
            assert_eq!(user.email, Some(text(&answer["emailAddress"])));
        } else {
            // The document requires nothing of a user, not even its id.
            assert_unreadable(result, "GET /rest/api/3/myself", "accountId", false);
        }
    }
}

#[tokio::test]
async fn project() {
    for mode in MODES {
        let (status, answer) = generated("GET", "/rest/api/3/project/{projectIdOrKey}", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let project = client.project("PROJ").await.unwrap();
        if mode.full() {
            assert_eq!(project.id, text(&answer["id"]));
            assert_eq!(project.key, text(&answer["key"]));
            assert_eq!(project.name, text(&answer["name"]));
            let types = answer["issueTypes"].as_array().unwrap();
            assert_eq!(project.issue_types.len(), types.len());
            for (parsed, sent) in project.issue_types.iter().zip(types) {
                assert_eq!(parsed.id, text(&sent["id"]));
                assert_eq!(parsed.name, text(&sent["name"]));
                assert_eq!(parsed.subtask, sent["subtask"].as_bool().unwrap());
                assert_eq!(
                    i64::from(parsed.hierarchy_level),
                    sent["hierarchyLevel"].as_i64().unwrap()
                );
            }
        } else {
            assert_eq!(project.key, "PROJ", "the key asked for");
            assert!(
                project.issue_types.is_empty(),
                "types without ids are left out"
            );
        }
    }
}

#[tokio::test]
async fn create_metadata_fields() {
    let path = "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}";
    for mode in MODES {
        let (status, answer) = generated("GET", path, mode);
        let (server, client) = serving(status, answer.clone()).await;
        let fields = client.create_fields("PROJ", "10002").await.unwrap();
        // The document declares both `fields` and `results`; the client
        // reads `fields`, once.
        let sent = answer["fields"].as_array().cloned().unwrap_or_default();
        if mode == Mode::Required {
            assert!(sent.is_empty());
        } else {
            assert!(answer["results"].is_array(), "both lists are served");
        }
        assert_eq!(fields.len(), sent.len(), "{mode:?}");
        for (parsed, sent) in fields.iter().zip(&sent) {
            assert_eq!(parsed.id, text(&sent["fieldId"]));
            assert_eq!(parsed.name, text(&sent["name"]));
            assert_eq!(parsed.required, sent["required"].as_bool().unwrap());
            assert_eq!(parsed.schema_type, text(&sent["schema"]["type"]));
            assert_eq!(
                parsed.custom,
                sent["schema"]["custom"].as_str().map(str::to_owned)
            );
        }
        assert_eq!(server.seen().len(), 1, "one page");
    }
}

#[tokio::test]
async fn priorities() {
    for mode in MODES {
        let (status, answer) = generated("GET", "/rest/api/3/priority/search", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let priorities = client.priorities().await.unwrap();
        if mode.full() {
            let sent = answer["values"].as_array().unwrap();
            assert_eq!(priorities.len(), sent.len());
            for (parsed, sent) in priorities.iter().zip(sent) {
                assert_eq!(parsed.id, text(&sent["id"]));
                assert_eq!(parsed.name, text(&sent["name"]));
            }
        } else {
            assert!(priorities.is_empty(), "priorities without ids are left out");
        }
    }
}

#[tokio::test]
async fn assignable_users() {
    for mode in MODES {
        let (status, answer) = generated("GET", "/rest/api/3/user/assignable/search", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let users = client.assignable_users("PROJ").await.unwrap();
        if mode.full() {
            let sent = answer.as_array().unwrap();
            assert_eq!(users.len(), sent.len());
            for (parsed, sent) in users.iter().zip(sent) {
                assert_eq!(parsed.account_id, text(&sent["accountId"]));
                assert_eq!(parsed.display_name, text(&sent["displayName"]));
            }
        } else {
            assert_eq!(answer, json!([{}]));
            assert!(users.is_empty(), "users without account ids are left out");
        }
    }
}

#[tokio::test]
async fn link_types() {
    for mode in MODES {
        let (status, answer) = generated("GET", "/rest/api/3/issueLinkType", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let types = client.link_types().await.unwrap();
        if mode.full() {
            let sent = answer["issueLinkTypes"].as_array().unwrap();
            assert_eq!(types.len(), sent.len());
            for (parsed, sent) in types.iter().zip(sent) {
                assert_eq!(parsed.id, text(&sent["id"]));
                assert_eq!(parsed.name, text(&sent["name"]));
                assert_eq!(parsed.inward, text(&sent["inward"]));
                assert_eq!(parsed.outward, text(&sent["outward"]));
            }
        } else {
            assert!(types.is_empty(), "types without names are left out");
        }
    }
}

/// A board of the Agile API with every property its reference documents.
fn board(id: Value) -> Value {
    json!({
        "id": id,
        "self": "https://example.atlassian.net/rest/agile/1.0/board/84",
        "name": "PROJ board",
        "type": "scrum",
        "admins": {
            "users": [{
                "self": "https://example.atlassian.net/rest/api/3/user?accountId=a-1",
                "displayName": "Ann", "active": true, "accountId": "a-1",
                "avatarUrls": { "16x16": "https://a/16", "24x24": "https://a/24",
                                "32x32": "https://a/32", "48x48": "https://a/48" },
                UNKNOWN: true
            }],
            "groups": [{ "name": "admins", "self": "https://example.atlassian.net/group", UNKNOWN: 1 }],
            UNKNOWN: []
        },
        "location": {
            "projectId": 10000, "userId": 7, "userAccountId": "a-1", "displayName": "PROJ",
            "projectName": "Project", "projectKey": "PROJ", "projectTypeKey": "software",
            "avatarURI": "/secure/projectavatar?size=small", "name": "Project (PROJ)",
            UNKNOWN: null
        },
        "canEdit": true,
        "isPrivate": false,
        "favourite": false,
        UNKNOWN: { "nested": [1] }
    })
}

/// A sprint of the Agile API with every property its reference documents.
fn sprint(id: Value, state: &str) -> Value {
    json!({
        "id": id,
        "self": "https://example.atlassian.net/rest/agile/1.0/sprint/37",
        "state": state,
        "name": format!("Sprint {}", id.as_str().map_or_else(|| id.to_string(), str::to_owned)),
        "startDate": "2025-12-01T10:00:00.000+10:00",
        "endDate": "2025-12-15T10:00:00.000+10:00",
        "completeDate": "2025-12-15T11:00:00.000+10:00",
        "createdDate": "2025-11-30T09:00:00.000+10:00",
        "originBoardId": 84,
        "goal": "Ship the content model",
        UNKNOWN: "x"
    })
}

/// A page of the Agile API.
fn agile_page(values: Vec<Value>) -> Value {
    json!({ "maxResults": 50, "startAt": 0, "total": values.len(), "isLast": true,
            "values": values, UNKNOWN: 0 })
}

#[tokio::test]
async fn boards_and_sprints_of_the_agile_api() {
    // The Agile API is not in the platform document: every property of
    // Atlassian's reference, ids as numbers and as strings, then nothing
    // but empty items.
    let cases: Vec<(Value, Value, Vec<u64>)> = vec![
        (
            agile_page(vec![board(json!(84)), board(json!(85))]),
            agile_page(vec![
                sprint(json!(37), "active"),
                sprint(json!(72), "future"),
            ]),
            vec![37, 72],
        ),
        (
            agile_page(vec![board(json!("84"))]),
            agile_page(vec![sprint(json!("37"), "active")]),
            vec![37],
        ),
        (json!({ "values": [{}] }), json!({ "values": [{}] }), vec![]),
        (
            json!({ "values": [{ "id": 84 }] }),
            json!({ "values": [{}] }),
            vec![],
        ),
        (json!({}), json!({}), vec![]),
    ];
    for (boards, sprints, expected) in cases {
        let server = Server::start(move |seen, _| {
            if seen.path() == "/rest/agile/1.0/board" {
                Reply::json(200, boards.clone())
            } else {
                Reply::json(200, sprints.clone())
            }
        })
        .await;
        let client = JiraClient::new(config(&server.url), auth()).unwrap();
        let found = client.sprints("PROJ").await.unwrap();
        assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), expected);
        if let Some(first) = found.first() {
            assert_eq!(first.name, "Sprint 37");
            assert_eq!(first.state, "active");
        }
    }
}

#[tokio::test]
async fn create_one_issue() {
    for mode in MODES {
        let (status, answer) = generated("POST", "/rest/api/3/issue", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let result = client.create_issue(&issue("One")).await;
        if mode.full() {
            let created = result.unwrap();
            assert_eq!(created.id, text(&answer["id"]));
            assert_eq!(created.key, text(&answer["key"]));
        } else {
            // Created, but which issue Jira does not say.
            assert_unreadable(result, "POST /rest/api/3/issue", "no id and no key", true);
        }
    }
}

#[tokio::test]
async fn create_issues_in_bulk() {
    for mode in MODES {
        let (status, answer) = generated("POST", "/rest/api/3/issue/bulk", mode);
        let (_server, client) = serving(status, answer.clone()).await;
        let issues: Vec<_> = (0..3).map(|n| issue(&format!("Ticket {n}"))).collect();
        let result = client.create_issues(&issues).await;
        match mode {
            Mode::Full | Mode::Nulls => {
                // Two issues created, two errors both naming element 1.
                let results = result.unwrap();
                let sent = answer["issues"].as_array().unwrap();
                assert_eq!(answer["errors"][0]["failedElementNumber"], 1);
                assert_eq!(answer["errors"][1]["failedElementNumber"], 1);
                assert_eq!(results[0].as_ref().unwrap().key, text(&sent[0]["key"]));
                assert_eq!(results[0].as_ref().unwrap().id, text(&sent[0]["id"]));
                assert_eq!(results[2].as_ref().unwrap().key, text(&sent[1]["key"]));
                let refused = results[1].as_ref().unwrap_err();
                let messages: Vec<String> = answer["errors"][1]["elementErrors"]["errorMessages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(text)
                    .collect();
                assert_eq!(refused.messages, messages);
                assert_eq!(
                    refused.status, 400,
                    "a status that is not an error reads as 400"
                );
            }
            Mode::Required => assert_unreadable(
                result,
                "POST /rest/api/3/issue/bulk",
                "fewer issues and errors than were sent",
                true,
            ),
            Mode::Lists => assert_unreadable(
                result,
                "POST /rest/api/3/issue/bulk",
                "errors[0] has no failedElementNumber",
                true,
            ),
        }
    }
}

#[tokio::test]
async fn link_attach_and_set_a_property() {
    for mode in MODES {
        let (status, answer) = generated("POST", "/rest/api/3/issueLink", mode);
        let (_server, client) = serving(status, answer).await;
        client.link(&blocks()).await.unwrap();

        let (status, answer) =
            generated("POST", "/rest/api/3/issue/{issueIdOrKey}/attachments", mode);
        let (_server, client) = serving(status, answer).await;
        client
            .attach("PROJ-1", "notes.txt", b"notes".to_vec())
            .await
            .unwrap();

        let (status, answer) = generated(
            "PUT",
            "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
            mode,
        );
        let (_server, client) = serving(status, answer).await;
        client
            .set_property("PROJ-1", TICKET_PROPERTY, &json!({ "ticket": "t1" }))
            .await
            .unwrap();
    }
}

/// Labels in each issue's `fields` (a map of whatever fields were asked
/// for, in the document), as Jira sends the field the client asks for.
fn with_labels(mut answer: Value) -> Value {
    if let Some(issues) = answer["issues"].as_array_mut() {
        for (n, issue) in issues.iter_mut().enumerate() {
            if let Some(fields) = issue["fields"].as_object_mut() {
                fields.insert("labels".into(), json!([format!("dtg-run-{n}")]));
            }
        }
    }
    answer
}

#[tokio::test]
async fn search() {
    for mode in MODES {
        let (status, answer) = generated("POST", "/rest/api/3/search/jql", mode);
        let answer = with_labels(answer);
        let (_server, client) = serving(status, answer.clone()).await;
        let result = client
            .search("project = PROJ", &[TICKET_PROPERTY], None)
            .await;
        match mode {
            Mode::Full | Mode::Nulls => {
                let page = result.unwrap();
                let sent = answer["issues"].as_array().unwrap();
                assert_eq!(page.issues.len(), sent.len());
                for (parsed, sent) in page.issues.iter().zip(sent) {
                    assert_eq!(parsed.id, text(&sent["id"]));
                    assert_eq!(parsed.key, text(&sent["key"]));
                    assert_eq!(json!(parsed.labels), sent["fields"]["labels"]);
                    assert_eq!(json!(parsed.properties), sent["properties"]);
                }
                assert_eq!(answer["isLast"], true);
                assert_eq!(page.next_page, None);
            }
            Mode::Required => {
                let page = result.unwrap();
                assert!(page.issues.is_empty());
                assert_eq!(page.next_page, None);
            }
            // An issue without id and key cannot be told from none at all.
            Mode::Lists => assert_unreadable(
                result,
                "POST /rest/api/3/search/jql",
                "issues[0] has no id or no key",
                false,
            ),
        }
    }
}

#[tokio::test]
async fn bulk_fetch() {
    for mode in MODES {
        let (status, answer) = generated("POST", "/rest/api/3/issue/bulkfetch", mode);
        let answer = with_labels(answer);
        let (server, client) = serving(status, answer.clone()).await;
        match mode {
            Mode::Full | Mode::Nulls => {
                let sent = answer["issues"].as_array().unwrap();
                // One by key, one by id (in another case): both found, so
                // the answer's `issueErrors` concern neither.
                let asked = [text(&sent[0]["key"]).to_uppercase(), text(&sent[1]["id"])];
                let fetched = client
                    .fetch_issues(&asked, &[TICKET_PROPERTY])
                    .await
                    .unwrap();
                assert!(!answer["issueErrors"].as_array().unwrap().is_empty());
                assert_eq!(fetched.issues.len(), 2);
                for (parsed, sent) in fetched.issues.iter().zip(sent) {
                    assert_eq!(parsed.id, text(&sent["id"]));
                    assert_eq!(parsed.key, text(&sent["key"]));
                    assert_eq!(json!(parsed.labels), sent["fields"]["labels"]);
                    assert_eq!(json!(parsed.properties), sent["properties"]);
                }
                assert!(fetched.missing.is_empty());
                assert_eq!(server.seen().len(), 1);
            }
            Mode::Required => {
                let fetched = client
                    .fetch_issues(&["PROJ-1".to_owned()], &[TICKET_PROPERTY])
                    .await
                    .unwrap();
                assert!(fetched.issues.is_empty());
                assert_eq!(fetched.missing, ["PROJ-1"]);
            }
            Mode::Lists => assert_unreadable(
                client
                    .fetch_issues(&["PROJ-1".to_owned()], &[TICKET_PROPERTY])
                    .await,
                "POST /rest/api/3/issue/bulkfetch",
                "issues[0] has no id or no key",
                false,
            ),
        }
    }
}

#[tokio::test]
async fn oauth_tokens_and_accessible_resources() {
    // Atlassian's OAuth endpoints are not in the platform document: every
    // property of Atlassian's OAuth 2.0 (3LO) reference, then only what the
    // client needs.
    let cases = [
        (
            json!({ "access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 3600,
                    "scope": "read:jira-work write:jira-work read:jira-user offline_access",
                    "token_type": "Bearer", UNKNOWN: { "a": 1 } }),
            json!([{ "id": "cloud-1", "url": "https://example.atlassian.net", "name": "example",
                     "scopes": ["read:jira-work", "write:jira-work"],
                     "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png",
                     UNKNOWN: [] }]),
        ),
        (
            json!({ "access_token": "access-1", "refresh_token": null, "expires_in": "3600", "scope": null }),
            json!([{ "id": "cloud-1", "url": null, "name": null, "scopes": null }]),
        ),
        (
            json!({ "access_token": "access-1" }),
            json!([{ "id": "cloud-1" }]),
        ),
    ];
    for (tokens, sites) in cases {
        let server = Server::start(move |seen, _| {
            if seen.path() == "/oauth/token" {
                Reply::json(200, tokens.clone())
            } else {
                Reply::json(200, sites.clone())
            }
        })
        .await;
        let app = OAuthApp {
            client_id: "client-1".into(),
            client_secret: Secret::new("secret-1"),
        };
        let oauth = AtlassianOAuth::new(&config(&server.url), app).unwrap();
        let got = oauth.refresh("refresh-0").await.unwrap();
        assert_eq!(got.access_token, "access-1");
        assert_eq!(got.expires_in, 3600);
        let found = oauth.accessible_resources("access-1").await.unwrap();
        assert_eq!(found[0].id, "cloud-1");
    }
    let server = Server::start(|seen, _| {
        if seen.path() == "/oauth/token" {
            Reply::json(200, json!({ "token": "no access_token" }))
        } else {
            Reply::json(200, json!({ "sites": [] }))
        }
    })
    .await;
    let app = OAuthApp {
        client_id: "client-1".into(),
        client_secret: Secret::new("secret-1"),
    };
    let oauth = AtlassianOAuth::new(&config(&server.url), app).unwrap();
    assert_unreadable(
        oauth.refresh("refresh-0").await,
        "POST https://auth.atlassian.com/oauth/token",
        "access_token",
        true,
    );
    assert_unreadable(
        oauth.accessible_resources("access-1").await,
        "GET https://api.atlassian.com/oauth/token/accessible-resources",
        "expected a sequence",
        false,
    );
}

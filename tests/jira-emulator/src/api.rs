//! The HTTP face of the emulator: one handler that routes every request
//! the way Jira Cloud's gateway and REST API would, in Jira's order:
//! authentication, injected faults, burst limits and the points quota, then
//! the endpoint itself (with per-issue write limits), then the request log.
//!
//! Routing is done by hand rather than with axum's router so that every
//! answer, refusals of malformed bodies included, has Jira's shape, and so
//! that the same endpoints serve both the site (`/rest/...`) and the OAuth
//! gateway (`/ex/jira/{cloudid}/rest/...`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use crate::config::{IssueTypeConfig, ProjectConfig, UserConfig};
use crate::jql::{self, Field, SortField, Subject};
use crate::limits::Throttle;
use crate::validate::{self, Refusal};
use crate::wire;
use crate::world::{Attachment, Issue, LostAnswer, RequestRecord, World};

/// Closes the connection a request came on, without an answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct KillSwitch(pub Arc<Notify>);

/// State shared by the server and the test's handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub base_url: String,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The request schemas of Jira's OpenAPI document the emulator checks
/// bodies against (see `fixtures/`).
pub const JIRA_SCHEMAS: &str = include_str!("../fixtures/jira-schemas.json");

/// A validator for one component schema of Jira's OpenAPI document
/// (`IssueUpdateDetails`, `CreatedIssues`, `SearchAndReconcileResults`, ...).
///
/// Formats are not asserted: the document calls Jira's timestamps
/// `date-time`, but Jira writes them as `2024-05-01T12:00:00.000+0000`,
/// which RFC 3339 does not allow, and the emulator writes what Jira writes.
///
/// # Errors
/// When the fixture lacks the schema or it does not compile.
pub fn schema_validator(name: &str) -> Result<jsonschema::Validator, String> {
    let mut doc: Value = serde_json::from_str(JIRA_SCHEMAS).map_err(|e| e.to_string())?;
    if doc
        .pointer(&format!("/components/schemas/{name}"))
        .is_none()
    {
        return Err(format!("no schema {name} in the fixture"));
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "$ref".to_owned(),
            json!(format!("#/components/schemas/{name}")),
        );
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(false)
        .build(&doc)
        .map_err(|e| e.to_string())
}

/// The request schemas checked, compiled once per process.
fn request_validator(name: &str) -> Option<&'static jsonschema::Validator> {
    static REQUESTS: OnceLock<BTreeMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    REQUESTS
        .get_or_init(|| {
            [
                "IssueUpdateDetails",
                "IssuesUpdateBean",
                "LinkIssueRequestJsonBean",
                "SearchAndReconcileRequestBean",
                "BulkFetchIssueRequestBean",
            ]
            .into_iter()
            .filter_map(|n| schema_validator(n).ok().map(|v| (n, v)))
            .collect()
        })
        .get(name)
}

const INVALID_PAYLOAD: &str =
    "Invalid request payload. Refer to the REST API documentation and try again.";

/// An answer before it becomes an HTTP response.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Option<Box<Value>>,
    pub text: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    pub lose: bool,
}

impl Answer {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(Box::new(body)),
            text: None,
            headers: Vec::new(),
            lose: false,
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            text: None,
            headers: Vec::new(),
            lose: false,
        }
    }

    pub(crate) fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            body: None,
            text: Some(text.to_owned()),
            headers: Vec::new(),
            lose: false,
        }
    }

    fn refusal(r: &Refusal) -> Self {
        Self::json(r.status, r.body())
    }

    fn error(status: u16, message: impl Into<String>) -> Self {
        Self::refusal(&Refusal::message(status, message))
    }

    fn throttled(t: &Throttle) -> Self {
        let mut a = Self::json(
            429,
            json!({"errorMessages": ["Rate limit exceeded."], "errors": {}}),
        );
        a.headers = vec![
            ("Retry-After", t.retry_after_secs.to_string()),
            ("X-RateLimit-Limit", t.limit.to_string()),
            ("X-RateLimit-Remaining", t.remaining.to_string()),
            ("X-RateLimit-Reset", wire::iso8601(t.reset)),
            ("RateLimit-Reason", t.reason.to_owned()),
        ];
        a
    }

    fn body_text(&self) -> String {
        self.body
            .as_ref()
            .map(|b| b.to_string())
            .or_else(|| self.text.clone())
            .unwrap_or_default()
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match (self.body, self.text) {
            (Some(body), _) => (status, axum::Json(*body)).into_response(),
            (None, Some(text)) => (status, text).into_response(),
            (None, None) => (status, Body::empty()).into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
        response
    }
}

/// An endpoint of the REST API, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Myself,
    Project(String),
    CreateMetaTypes(String),
    CreateMetaFields(String, String),
    PrioritySearch,
    Priorities,
    Assignable,
    LinkTypes,
    Boards,
    Sprints(String),
    CreateIssue,
    BulkCreate,
    BulkFetch,
    GetIssue(String),
    IssueLink,
    Attach(String),
    PutProperty(String, String),
    GetProperty(String, String),
    Search,
}

impl Route {
    fn is_write(&self) -> bool {
        matches!(
            self,
            Self::CreateIssue
                | Self::BulkCreate
                | Self::IssueLink
                | Self::Attach(_)
                | Self::PutProperty(..)
        )
    }
}

fn route(method: &Method, path: &str) -> Option<(Route, &'static str)> {
    let segs: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(|s| {
            wire::query_pairs(Some(&format!("x={s}")))
                .pop()
                .map_or_else(|| s.to_owned(), |p| p.1)
        })
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let put = method == Method::PUT;
    Some(match s.as_slice() {
        ["rest", "api", "3", "myself"] if get => (Route::Myself, "/rest/api/3/myself"),
        ["rest", "api", "3", "project", p] if get => (
            Route::Project((*p).to_owned()),
            "/rest/api/3/project/{projectIdOrKey}",
        ),
        ["rest", "api", "3", "issue", "createmeta", p, "issuetypes"] if get => (
            Route::CreateMetaTypes((*p).to_owned()),
            "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
        ),
        [
            "rest",
            "api",
            "3",
            "issue",
            "createmeta",
            p,
            "issuetypes",
            t,
        ] if get => (
            Route::CreateMetaFields((*p).to_owned(), (*t).to_owned()),
            "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        ),
        ["rest", "api", "3", "priority", "search"] if get => {
            (Route::PrioritySearch, "/rest/api/3/priority/search")
        }
        ["rest", "api", "3", "priority"] if get => (Route::Priorities, "/rest/api/3/priority"),
        ["rest", "api", "3", "user", "assignable", "search"] if get => {
            (Route::Assignable, "/rest/api/3/user/assignable/search")
        }
        ["rest", "api", "3", "issueLinkType"] if get => {
            (Route::LinkTypes, "/rest/api/3/issueLinkType")
        }
        ["rest", "agile", "1.0", "board"] if get => (Route::Boards, "/rest/agile/1.0/board"),
        ["rest", "agile", "1.0", "board", b, "sprint"] if get => (
            Route::Sprints((*b).to_owned()),
            "/rest/agile/1.0/board/{boardId}/sprint",
        ),
        ["rest", "api", "3", "issue"] if post => (Route::CreateIssue, "/rest/api/3/issue"),
        ["rest", "api", "3", "issue", "bulk"] if post => {
            (Route::BulkCreate, "/rest/api/3/issue/bulk")
        }
        ["rest", "api", "3", "issue", "bulkfetch"] if post => {
            (Route::BulkFetch, "/rest/api/3/issue/bulkfetch")
        }
        ["rest", "api", "3", "issue", k] if get => (
            Route::GetIssue((*k).to_owned()),
            "/rest/api/3/issue/{issueIdOrKey}",
        ),
        ["rest", "api", "3", "issueLink"] if post => (Route::IssueLink, "/rest/api/3/issueLink"),
        ["rest", "api", "3", "issue", k, "attachments"] if post => (
            Route::Attach((*k).to_owned()),
            "/rest/api/3/issue/{issueIdOrKey}/attachments",
        ),
        ["rest", "api", "3", "issue", k, "properties", p] if put || get => (
            if put {
                Route::PutProperty((*k).to_owned(), (*p).to_owned())
            } else {
                Route::GetProperty((*k).to_owned(), (*p).to_owned())
            },
            "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
        ),
        ["rest", "api", "3", "search", "jql"] if get || post => {
            (Route::Search, "/rest/api/3/search/jql")
        }
        _ => return None,
    })
}

/// How the caller signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Site,
    Gateway,
}

/// One request, as the handlers see it.
struct Call<'a> {
    method: &'a Method,
    query: Vec<(String, String)>,
    headers: &'a HeaderMap,
    body: &'a [u8],
    api_base: String,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable, comma-separated parameter.
    fn list(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn number(&self, name: &str, default: usize) -> Result<usize, Answer> {
        match self.param(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                Answer::error(
                    400,
                    format!("The value '{v}' is invalid for the parameter '{name}'."),
                )
            }),
        }
    }

    fn json(&self, schema: &'static str) -> Result<Value, Answer> {
        let value: Value = serde_json::from_slice(self.body).map_err(|e| {
            Answer::json(
                400,
                json!({"errorMessages": [INVALID_PAYLOAD, format!("Unexpected content: {e}")], "errors": {}}),
            )
        })?;
        if let Some(v) = request_validator(schema)
            && let Err(e) = v.validate(&value)
        {
            return Err(Answer::json(
                400,
                json!({"errorMessages": [INVALID_PAYLOAD, format!("{e} at {}", e.instance_path())], "errors": {}}),
            ));
        }
        Ok(value)
    }
}

/// The fallback handler serving everything.
pub(crate) async fn dispatch(
    State(shared): State<Arc<Shared>>,
    Extension(kill): Extension<KillSwitch>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let full_path = uri
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let query = wire::query_pairs(uri.query());

    let slow = {
        let world = shared.world();
        let endpoint = route_of(&method, &path).map(|t| format!("{method} {t}"));
        world.faults.slow_all
            + endpoint
                .and_then(|e| world.faults.slow_endpoints.get(&e).copied())
                .unwrap_or_default()
    };
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    // A create whose answer is to be lost by a late commit: Jira works on it
    // after the client has given up.
    let late = {
        let world = shared.world();
        let create = method == Method::POST
            && matches!(
                route_of(&method, &path),
                Some("/rest/api/3/issue" | "/rest/api/3/issue/bulk")
            );
        match world.faults.lost_mode {
            LostAnswer::LateCommit(d)
                if create
                    && world
                        .faults
                        .lose_creates
                        .contains(&(world.creates_seen + 1)) =>
            {
                Some(d)
            }
            _ => None,
        }
    };
    let work = async move {
        if let Some(d) = late {
            tokio::time::sleep(d).await;
        }
        let (answer, lost_mode) = {
            let mut world = shared.world();
            let (endpoint, answer) = handle(
                &mut world,
                &shared.base_url,
                &method,
                &path,
                query,
                &headers,
                &body,
            );
            let lose = answer.lose;
            if answer.status == 429 {
                world.throttled += 1;
            }
            *world.counts.entry(endpoint.clone()).or_default() += 1;
            let dropped = lose && world.faults.lost_mode == LostAnswer::Drop;
            world.log.push(RequestRecord {
                method: method.to_string(),
                path: full_path,
                endpoint,
                status: if dropped { 0 } else { answer.status },
                body: String::from_utf8_lossy(&body).into_owned(),
                answer: answer.body_text(),
            });
            if lose {
                world.faults.answers_lost += 1;
            }
            (answer, lose.then_some(world.faults.lost_mode))
        };
        match lost_mode {
            Some(LostAnswer::Drop) => {
                kill.0.notify_one();
                std::future::pending::<()>().await;
                Answer::empty(500).into_response()
            }
            Some(LostAnswer::Delay(d)) => {
                tokio::time::sleep(d).await;
                answer.into_response()
            }
            // Held before the work: the client gave up long ago.
            Some(LostAnswer::LateCommit(_)) => answer.into_response(),
            None => answer.into_response(),
        }
    };
    if late.is_some() {
        // Jira goes on with a request whose client has gone: the work runs
        // on its own task, not in this connection's future, which hyper
        // drops when the client disconnects.
        tokio::spawn(work)
            .await
            .unwrap_or_else(|_| Answer::empty(500).into_response())
    } else {
        work.await
    }
}

fn route_of(method: &Method, path: &str) -> Option<&'static str> {
    let rest = match path.strip_prefix("/ex/jira/") {
        Some(r) => r.split_once('/').map_or("", |(_, r)| r),
        None => path.trim_start_matches('/'),
    };
    route(method, &format!("/{rest}")).map(|(_, t)| t)
}

fn handle(
    world: &mut World,
    base_url: &str,
    method: &Method,
    path: &str,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
    body: &[u8],
) -> (String, Answer) {
    if path == "/oauth/token" && method == Method::POST {
        return (
            "POST /oauth/token".to_owned(),
            crate::auth::token(world, headers, body),
        );
    }
    if path == "/authorize" && method == Method::GET {
        return (
            "GET /authorize".to_owned(),
            crate::auth::authorize(world, &query),
        );
    }
    if path == "/oauth/token/accessible-resources" && method == Method::GET {
        return (
            "GET /oauth/token/accessible-resources".to_owned(),
            crate::auth::resources(world, base_url, headers),
        );
    }
    let (caller, rest, api_base) = match path.strip_prefix("/ex/jira/") {
        Some(r) => {
            let (cloud, rest) = r.split_once('/').unwrap_or((r, ""));
            let known = world
                .config
                .credentials
                .oauth
                .as_ref()
                .is_some_and(|o| o.cloud_id == cloud);
            if !known {
                return (
                    format!("{method} {path}"),
                    Answer::json(404, json!({"code": 404, "message": "Cloud id not found"})),
                );
            }
            (
                Caller::Gateway,
                format!("/{rest}"),
                format!("{base_url}/ex/jira/{cloud}"),
            )
        }
        None => (Caller::Site, path.to_owned(), base_url.to_owned()),
    };
    let Some((route, template)) = route(method, &rest) else {
        return (
            format!("{method} {rest}"),
            Answer::error(404, format!("null for uri: {base_url}{path}")),
        );
    };
    let endpoint = format!("{method} {template}");
    let answer = serve(
        world, caller, route, template, method, query, headers, body, api_base,
    );
    (endpoint, answer)
}

#[allow(clippy::too_many_arguments)]
fn serve(
    world: &mut World,
    caller: Caller,
    route: Route,
    template: &str,
    method: &Method,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
    body: &[u8],
    api_base: String,
) -> Answer {
    if let Err(a) = crate::auth::authenticate(world, caller, headers) {
        return a;
    }
    let endpoint = format!("{method} {template}");
    let injected = world
        .faults
        .endpoint_errors
        .get_mut(&endpoint)
        .and_then(std::collections::VecDeque::pop_front)
        .or_else(|| world.faults.next_errors.pop_front());
    if let Some(status) = injected {
        world.faults.errors_sent += 1;
        return match status {
            500 => Answer::error(500, "Internal server error"),
            502 => Answer::text(502, "Bad Gateway"),
            503 => Answer::text(503, "Service Unavailable"),
            504 => Answer::text(504, "Gateway Timeout"),
            other => Answer::error(other, "Injected failure"),
        };
    }
    let now = Instant::now();
    if let Err(t) = world.limiter.burst(method.as_str(), template, now) {
        return Answer::throttled(&t);
    }
    let creates = match route {
        Route::CreateIssue => 1,
        Route::BulkCreate => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("issueUpdates")
                    .and_then(Value::as_array)
                    .map(Vec::len)
            })
            .unwrap_or(0),
        _ => 0,
    };
    let cost = world.limiter.cost(creates);
    // Jira sends `X-RateLimit-NearLimit` for the points-based quota only.
    let headroom = match world.limiter.quota(cost, now) {
        Ok(h) => h,
        Err(t) => return Answer::throttled(&t),
    };
    if route.is_write() && world.faults.write_forbidden {
        let message = match route {
            Route::CreateIssue | Route::BulkCreate => {
                "You do not have permission to create issues in this project."
            }
            Route::IssueLink => "You do not have the permission to link issues.",
            Route::Attach(_) => "You do not have permission to create attachments for this issue.",
            _ => "You do not have permission to edit issues in this project.",
        };
        return Answer::error(403, message);
    }
    let call = Call {
        method,
        query,
        headers,
        body,
        api_base,
    };
    let mut answer = match route {
        Route::Myself => myself(world, &call),
        Route::Project(p) => project(world, &call, &p),
        Route::CreateMetaTypes(p) => createmeta_types(world, &call, &p),
        Route::CreateMetaFields(p, t) => createmeta_fields(world, &call, &p, &t),
        Route::PrioritySearch => priority_search(world, &call),
        Route::Priorities => Answer::json(
            200,
            Value::Array(
                world
                    .config
                    .priorities
                    .iter()
                    .map(|p| priority_json(&call.api_base, p))
                    .collect(),
            ),
        ),
        Route::Assignable => assignable(world, &call),
        Route::LinkTypes => link_types(world, &call),
        Route::Boards => boards(world, &call),
        Route::Sprints(b) => sprints(world, &call, &b),
        Route::CreateIssue => create_issue(world, &call),
        Route::BulkCreate => bulk_create(world, &call),
        Route::BulkFetch => bulk_fetch(world, &call),
        Route::GetIssue(k) => get_issue(world, &call, &k),
        Route::IssueLink => issue_link(world, &call),
        Route::Attach(k) => attach(world, &call, &k),
        Route::PutProperty(k, p) => put_property(world, &call, &k, &p),
        Route::GetProperty(k, p) => get_property(world, &k, &p),
        Route::Search => search(world, &call),
    };
    if answer.status < 400 && headroom.near_limit() {
        answer
            .headers
            .push(("X-RateLimit-NearLimit", "true".to_owned()));
    }
    answer
}

// ---------------------------------------------------------------- shapes

fn avatar_urls(seed: &str) -> Value {
    let url = |s: u32| {
        format!(
            "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/{seed}/{s}.png"
        )
    };
    json!({"48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32)})
}

fn user_json(base: &str, u: &UserConfig) -> Value {
    let mut user = json!({
        "self": format!("{base}/rest/api/3/user?accountId={}", u.account_id),
        "accountId": u.account_id,
        "accountType": "atlassian",
        "avatarUrls": avatar_urls(&u.account_id),
        "displayName": u.display_name,
        "active": true,
        "timeZone": "Etc/UTC",
        "locale": "en_US",
    });
    if let (Some(email), Some(obj)) = (&u.email, user.as_object_mut()) {
        obj.insert("emailAddress".to_owned(), json!(email));
    }
    user
}

fn issue_type_json(base: &str, t: &IssueTypeConfig) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/issuetype/{}", t.id),
        "id": t.id,
        "description": format!("{}s track work.", t.name),
        "iconUrl": format!("{base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{}?size=medium", t.id),
        "name": t.name,
        "subtask": t.subtask,
        "avatarId": 10300,
        "hierarchyLevel": t.hierarchy_level,
    })
}

fn priority_json(base: &str, p: &crate::config::PriorityConfig) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/priority/{}", p.id),
        "statusColor": "#ffab00",
        "description": format!("{} priority.", p.name),
        "iconUrl": format!("{base}/images/icons/priorities/{}.svg", p.name.to_ascii_lowercase()),
        "name": p.name,
        "id": p.id,
        "isDefault": p.is_default,
    })
}

fn project_json(base: &str, p: &ProjectConfig, lead: Option<&UserConfig>) -> Value {
    let mut project = json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": format!("{base}/rest/api/3/project/{}", p.id),
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "description": "",
        "avatarUrls": avatar_urls(&p.key),
        "assigneeType": "UNASSIGNED",
        "projectTypeKey": "software",
        "simplified": false,
        "style": "classic",
        "isPrivate": false,
        "issueTypes": p.issue_types.iter().map(|t| issue_type_json(base, t)).collect::<Vec<_>>(),
        "properties": {},
    });
    if let (Some(lead), Some(obj)) = (lead, project.as_object_mut()) {
        obj.insert("lead".to_owned(), user_json(base, lead));
    }
    project
}

fn not_found_project(key: &str) -> Answer {
    Answer::error(404, format!("No project could be found with key '{key}'."))
}

fn find_project<'a>(world: &'a World, key_or_id: &str) -> Option<&'a ProjectConfig> {
    world
        .config
        .projects
        .iter()
        .find(|p| p.key.eq_ignore_ascii_case(key_or_id) || p.id == key_or_id)
        .filter(|p| !world.deleted_projects.contains(&p.key))
}

fn page(items: Vec<Value>, start: usize, max: usize) -> (Vec<Value>, usize, bool) {
    let total = items.len();
    let values: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let last = start + values.len() >= total;
    (values, total, last)
}

// ---------------------------------------------------------------- endpoints

fn myself(world: &World, call: &Call<'_>) -> Answer {
    // An API token's account is the user with its email; other credentials
    // belong to the site's first user.
    let email = crate::auth::basic_email(call.headers);
    let user = email
        .and_then(|e| {
            world.config.users.iter().find(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(&e))
            })
        })
        .or_else(|| world.config.users.first());
    match user {
        Some(u) => Answer::json(200, user_json(&call.api_base, u)),
        None => Answer::error(404, "User not found"),
    }
}

fn project(world: &World, call: &Call<'_>, key: &str) -> Answer {
    match find_project(world, key) {
        Some(p) => Answer::json(
            200,
            project_json(&call.api_base, p, world.config.users.first()),
        ),
        None => not_found_project(key),
    }
}

fn createmeta_types(world: &World, call: &Call<'_>, key: &str) -> Answer {
    let Some(p) = find_project(world, key) else {
        return not_found_project(key);
    };
    let (start, max) = match (call.number("startAt", 0), call.number("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(200)),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let items = p
        .issue_types
        .iter()
        .map(|t| issue_type_json(&call.api_base, t))
        .collect();
    let (values, total, _) = page(items, start, max);
    Answer::json(
        200,
        json!({"maxResults": max, "startAt": start, "total": total, "issueTypes": values}),
    )
}

fn createmeta_fields(world: &World, call: &Call<'_>, key: &str, type_id: &str) -> Answer {
    let Some(p) = find_project(world, key) else {
        return not_found_project(key);
    };
    let Some(t) = p.issue_types.iter().find(|t| t.id == type_id) else {
        return Answer::error(
            400,
            "The issue type ID provided is not valid for this project.",
        );
    };
    let (start, max) = match (call.number("startAt", 0), call.number("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(200)),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let base = &call.api_base;
    let items = t
        .fields
        .iter()
        .map(|f| {
            let mut schema = json!({"type": f.schema_type});
            if let Some(o) = schema.as_object_mut() {
                if let Some(items) = &f.items {
                    o.insert("items".to_owned(), json!(items));
                }
                if let Some(system) = &f.system {
                    o.insert("system".to_owned(), json!(system));
                }
                if let Some(custom) = &f.custom {
                    o.insert("custom".to_owned(), json!(custom));
                }
                if let Some(id) = f.custom_id {
                    o.insert("customId".to_owned(), json!(id));
                }
            }
            let operations: &[&str] = match f.id.as_str() {
                "labels" => &["add", "set", "remove"],
                "issuelinks" => &["add"],
                _ => &["set"],
            };
            let mut field = json!({
                "required": f.required,
                "schema": schema,
                "name": f.name,
                "key": f.id,
                "fieldId": f.id,
                "hasDefaultValue": f.has_default,
                "operations": operations,
            });
            if let Some(o) = field.as_object_mut() {
                match f.id.as_str() {
                    "priority" => {
                        let values: Vec<Value> = world
                            .config
                            .priorities
                            .iter()
                            .map(|p| priority_json(base, p))
                            .collect();
                        o.insert("allowedValues".to_owned(), Value::Array(values));
                        if let Some(d) = world.config.priorities.iter().find(|p| p.is_default) {
                            o.insert("defaultValue".to_owned(), priority_json(base, d));
                        }
                    }
                    "issuetype" => {
                        o.insert(
                            "allowedValues".to_owned(),
                            json!([issue_type_json(base, t)]),
                        );
                    }
                    "assignee" | "reporter" => {
                        o.insert(
                            "autoCompleteUrl".to_owned(),
                            json!(format!("{base}/rest/api/3/user/search?query=")),
                        );
                    }
                    _ => {}
                }
            }
            field
        })
        .collect();
    let (values, total, _) = page(items, start, max);
    Answer::json(
        200,
        // Both lists the document declares for this page (`results` is not
        // read-only), as a Jira may send them.
        json!({"maxResults": max, "startAt": start, "total": total, "fields": values.clone(), "results": values}),
    )
}

fn priority_search(world: &World, call: &Call<'_>) -> Answer {
    let (start, max) = match (call.number("startAt", 0), call.number("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(100)),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let ids = call.list("id");
    let only_default = call.param("onlyDefault") == Some("true");
    let items = world
        .config
        .priorities
        .iter()
        .filter(|p| ids.is_empty() || ids.contains(&p.id))
        .filter(|p| !only_default || p.is_default)
        .map(|p| priority_json(&call.api_base, p))
        .collect();
    let (values, total, last) = page(items, start, max);
    let mut body = json!({
        "self": format!("{}/rest/api/3/priority/search?maxResults={max}&startAt={start}", call.api_base),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": last,
        "values": values,
    });
    if !last && let Some(o) = body.as_object_mut() {
        o.insert(
            "nextPage".to_owned(),
            json!(format!(
                "{}/rest/api/3/priority/search?maxResults={max}&startAt={}",
                call.api_base,
                start + max
            )),
        );
    }
    Answer::json(200, body)
}

fn assignable(world: &World, call: &Call<'_>) -> Answer {
    let Some(key) = call.param("project").or(call.param("issueKey")) else {
        return Answer::error(
            400,
            "One of the following parameters must be specified: project, issueKey, issueId.",
        );
    };
    let key = key.split('-').next().unwrap_or(key);
    let Some(p) = find_project(world, key) else {
        return not_found_project(key);
    };
    let (start, max) = match (call.number("startAt", 0), call.number("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(1000)),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let wanted = call.param("query").map(str::to_lowercase);
    let users: Vec<Value> = world
        .config
        .users
        .iter()
        .filter(|u| p.assignable.contains(&u.account_id))
        .filter(|u| {
            wanted.as_ref().is_none_or(|q| {
                u.display_name.to_lowercase().contains(q)
                    || u.email
                        .as_ref()
                        .is_some_and(|e| e.to_lowercase().contains(q))
            })
        })
        .skip(start)
        .take(max)
        .map(|u| user_json(&call.api_base, u))
        .collect();
    Answer::json(200, Value::Array(users))
}

fn link_types(world: &World, call: &Call<'_>) -> Answer {
    let types: Vec<Value> = world
        .config
        .link_types
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "inward": t.inward,
                "outward": t.outward,
                "self": format!("{}/rest/api/3/issueLinkType/{}", call.api_base, t.id),
            })
        })
        .collect();
    Answer::json(200, json!({"issueLinkTypes": types}))
}

fn boards(world: &World, call: &Call<'_>) -> Answer {
    let (start, max) = match (call.number("startAt", 0), call.number("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(50)),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let filter = call.param("projectKeyOrId");
    if let Some(f) = filter
        && find_project(world, f).is_none()
    {
        return Answer::error(
            400,
            format!("No project could be found with key or id '{f}'."),
        );
    }
    let items: Vec<Value> = world
        .config
        .projects
        .iter()
        .filter(|p| !world.deleted_projects.contains(&p.key))
        .filter(|p| filter.is_none_or(|f| p.key.eq_ignore_ascii_case(f) || p.id == f))
        .flat_map(|p| {
            p.boards.iter().map(move |b| {
                json!({
                    "id": b.id,
                    "self": format!("{}/rest/agile/1.0/board/{}", call.api_base, b.id),
                    "name": b.name,
                    "type": "scrum",
                    "location": {
                        "projectId": p.id.parse::<u64>().unwrap_or(0),
                        "displayName": format!("{} ({})", p.name, p.key),
                        "projectName": p.name,
                        "projectKey": p.key,
                        "projectTypeKey": "software",
                        "avatarURI": format!("/secure/projectavatar?size=small&pid={}", p.id),
                        "name": format!("{} ({})", p.name, p.key),
                    },
                })
            })
        })
        .collect();
    let (values, total, last) = page(items, start, max);
    Answer::json(
        200,
        json!({"maxResults": max, "startAt": start, "total": total, "isLast": last, "values": values}),
    )
}

fn sprints(world: &World, call: &Call<'_>, board: &str) -> Answer {
    let found = world
        .config
        .projects
        .iter()
        .filter(|p| !world.deleted_projects.contains(&p.key))
        .flat_map(|p| p.boards.iter())
        .find(|b| b.id.to_string() == board);
    let Some(b) = found else {
        return Answer::error(
            404,
            "Board does not exist or you do not have permission to see it.",
        );
    };
    let (start, max) = match (call.number("startAt", 0), call.number("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(50)),
        (Err(a), _) | (_, Err(a)) => return a,
    };
    let states = call.list("state");
    let items: Vec<Value> = b
        .sprints
        .iter()
        .filter(|s| states.is_empty() || states.contains(&s.state))
        .map(|s| {
            let mut sprint = json!({
                "id": s.id,
                "self": format!("{}/rest/agile/1.0/sprint/{}", call.api_base, s.id),
                "state": s.state,
                "name": s.name,
                "originBoardId": b.id,
                "goal": "",
            });
            if s.state != "future"
                && let Some(o) = sprint.as_object_mut()
            {
                o.insert("startDate".to_owned(), json!("2025-01-06T09:00:00.000Z"));
                o.insert("endDate".to_owned(), json!("2025-01-20T09:00:00.000Z"));
            }
            sprint
        })
        .collect();
    let (values, _, last) = page(items, start, max);
    Answer::json(
        200,
        json!({"maxResults": max, "startAt": start, "isLast": last, "values": values}),
    )
}

fn created_json(base: &str, issue: &Issue) -> Value {
    json!({"id": issue.id, "key": issue.key, "self": format!("{base}/rest/api/3/issue/{}", issue.id)})
}

/// Counts a create call and whether its answer is to be lost.
fn create_call_lost(world: &mut World) -> bool {
    world.creates_seen += 1;
    world.faults.lose_creates.remove(&world.creates_seen)
}

fn after_commit(world: &mut World, project: &str) {
    if let Some(left) = world.faults.delete_after.get_mut(project) {
        *left = left.saturating_sub(1);
        if *left == 0 {
            world.faults.delete_after.remove(project);
            world.deleted_projects.insert(project.to_owned());
        }
    }
}

/// The existing issues a create request links to (`update.issuelinks`),
/// once per link: each link is a write to that issue too.
fn linked_by_create(world: &World, update: &Value) -> Vec<String> {
    update
        .pointer("/update/issuelinks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|op| {
            let add = op.get("add")?;
            let other = add.get("inwardIssue").or_else(|| add.get("outwardIssue"))?;
            let wanted = crate::validate::id_or_name(other, &["key", "id"])?;
            world.issue(wanted).map(|i| i.key.clone())
        })
        .collect()
}

fn create_issue(world: &mut World, call: &Call<'_>) -> Answer {
    let body = match call.json("IssueUpdateDetails") {
        Ok(b) => b,
        Err(a) => return a,
    };
    let linked = linked_by_create(world, &body);
    if !linked.is_empty()
        && let Err(a) = issue_write(world, &linked)
    {
        return a;
    }
    let lose = create_call_lost(world);
    let mut answer = match validate::check_create(world, &body) {
        Ok(draft) => {
            let project = draft.project_key().to_owned();
            let issue = validate::commit(world, draft);
            after_commit(world, &project);
            Answer::json(201, created_json(&call.api_base, &issue))
        }
        Err(r) => Answer::refusal(&r),
    };
    answer.lose = lose;
    answer
}

fn bulk_create(world: &mut World, call: &Call<'_>) -> Answer {
    let body = match call.json("IssuesUpdateBean") {
        Ok(b) => b,
        Err(a) => return a,
    };
    let updates = body
        .get("issueUpdates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if updates.is_empty() {
        return Answer::error(400, "Issue updates must not be empty.");
    }
    if updates.len() > 50 {
        return Answer::json(
            400,
            json!({"issues": [], "errors": [{
                "status": 400,
                "elementErrors": {"errorMessages": ["The number of issues to create must not exceed 50."], "errors": {}},
                "failedElementNumber": 50,
            }]}),
        );
    }
    // Links made at creation write to the issues they name: over an issue's
    // per-issue limit the whole call is refused before anything is made.
    let linked: Vec<String> = updates
        .iter()
        .flat_map(|u| linked_by_create(world, u))
        .collect();
    if !linked.is_empty()
        && let Err(a) = issue_write(world, &linked)
    {
        return a;
    }
    let lose = create_call_lost(world);
    let mut issues = Vec::new();
    let mut errors = Vec::new();
    for (n, update) in updates.iter().enumerate() {
        match validate::check_create(world, update) {
            Ok(draft) => {
                let project = draft.project_key().to_owned();
                let issue = validate::commit(world, draft);
                after_commit(world, &project);
                issues.push(created_json(&call.api_base, &issue));
            }
            Err(r) if r.status == 404 && issues.is_empty() => {
                let mut answer = Answer::refusal(&r);
                answer.lose = lose;
                return answer;
            }
            // Some may have been made before the project went away: Jira
            // answers the partial result, with an error for every element
            // it did not make.
            Err(r) => errors.push(json!({
                "status": r.status,
                "elementErrors": r.body(),
                "failedElementNumber": n,
            })),
        }
    }
    let status = if issues.is_empty() { 400 } else { 201 };
    let mut answer = Answer::json(status, json!({"issues": issues, "errors": errors}));
    answer.lose = lose;
    answer
}

/// `POST /rest/api/3/issue/bulkfetch`: up to 100 issues by id or key, read
/// from the issues themselves (no index lag), in ascending id order; ids and
/// keys that match nothing are left out, as Jira does.
fn bulk_fetch(world: &World, call: &Call<'_>) -> Answer {
    let body = match call.json("BulkFetchIssueRequestBean") {
        Ok(b) => b,
        Err(a) => return a,
    };
    let strings = |name: &str| -> Vec<String> {
        body.get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let wanted = strings("issueIdsOrKeys");
    if wanted.is_empty() {
        return Answer::error(400, "issueIdsOrKeys must not be empty.");
    }
    if wanted.len() > 100 {
        return Answer::error(400, "The number of issues requested must not exceed 100.");
    }
    let fields = strings("fields");
    let properties = strings("properties");
    let mut found: Vec<&Issue> = wanted
        .iter()
        .filter_map(|w| world.issue(w))
        .filter(|i| !world.deleted_projects.contains(&i.project_key))
        .collect();
    found.sort_by(|a, b| a.id.len().cmp(&b.id.len()).then(a.id.cmp(&b.id)));
    found.dedup_by(|a, b| a.id == b.id);
    let issues: Vec<Value> = found
        .into_iter()
        .map(|i| issue_json(world, &call.api_base, i, &fields, &properties))
        .collect();
    Answer::json(200, json!({"issues": issues, "issueErrors": []}))
}

fn status_json(base: &str) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/status/10000"),
        "description": "",
        "iconUrl": format!("{base}/"),
        "name": "To Do",
        "id": "10000",
        "statusCategory": {
            "self": format!("{base}/rest/api/3/statuscategory/2"),
            "id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do",
        },
    })
}

fn issue_fields(world: &World, base: &str, issue: &Issue) -> Map<String, Value> {
    let project = world
        .config
        .projects
        .iter()
        .find(|p| p.key == issue.project_key);
    let issue_type = project
        .and_then(|p| p.issue_types.iter().find(|t| t.id == issue.issue_type_id))
        .map_or(Value::Null, |t| issue_type_json(base, t));
    let user = |id: &str| {
        world
            .config
            .users
            .iter()
            .find(|u| u.account_id == id)
            .map_or(Value::Null, |u| user_json(base, u))
    };
    let mut f = Map::new();
    f.insert("summary".to_owned(), json!(issue.summary));
    f.insert(
        "description".to_owned(),
        issue.description.clone().unwrap_or(Value::Null),
    );
    f.insert("labels".to_owned(), json!(issue.labels));
    f.insert("issuetype".to_owned(), issue_type);
    f.insert(
        "project".to_owned(),
        project.map_or(Value::Null, |p| {
            json!({"self": format!("{base}/rest/api/3/project/{}", p.id), "id": p.id, "key": p.key,
                   "name": p.name, "projectTypeKey": "software", "simplified": false,
                   "avatarUrls": avatar_urls(&p.key)})
        }),
    );
    f.insert(
        "priority".to_owned(),
        world
            .config
            .priorities
            .iter()
            .find(|p| p.id == issue.priority_id)
            .map_or(Value::Null, |p| {
                json!({"self": format!("{base}/rest/api/3/priority/{}", p.id), "iconUrl": format!("{base}/images/icons/priorities/{}.svg", p.name.to_ascii_lowercase()), "name": p.name, "id": p.id})
            }),
    );
    f.insert(
        "assignee".to_owned(),
        issue.assignee.as_deref().map_or(Value::Null, user),
    );
    f.insert(
        "reporter".to_owned(),
        world
            .config
            .users
            .first()
            .map_or(Value::Null, |u| user_json(base, u)),
    );
    f.insert("status".to_owned(), status_json(base));
    if let Some(parent) = issue
        .parent_key
        .as_deref()
        .and_then(|k| world.issues.iter().find(|i| i.key == k))
    {
        f.insert(
            "parent".to_owned(),
            json!({"id": parent.id, "key": parent.key, "self": format!("{base}/rest/api/3/issue/{}", parent.id),
                   "fields": {"summary": parent.summary, "status": status_json(base)}}),
        );
    }
    let sprint_fields: Vec<&str> = project
        .and_then(|p| p.issue_types.iter().find(|t| t.id == issue.issue_type_id))
        .map(|t| {
            t.fields
                .iter()
                .filter(|f| {
                    f.custom
                        .as_deref()
                        .is_some_and(|c| c.ends_with(":gh-sprint"))
                })
                .map(|f| f.id.as_str())
                .collect()
        })
        .unwrap_or_default();
    for id in sprint_fields {
        let sprint = issue.sprint.and_then(|s| {
            world
                .config
                .projects
                .iter()
                .flat_map(|p| {
                    p.boards
                        .iter()
                        .flat_map(|b| b.sprints.iter().map(move |s| (b.id, s)))
                })
                .find(|(_, sp)| sp.id == s)
        });
        f.insert(
            id.to_owned(),
            sprint.map_or(Value::Null, |(board, s)| {
                json!([{"id": s.id, "name": s.name, "state": s.state, "boardId": board, "goal": ""}])
            }),
        );
    }
    for (id, value) in &issue.custom_fields {
        f.insert(id.clone(), value.clone());
    }
    f.insert(
        "attachment".to_owned(),
        Value::Array(
            issue
                .attachments
                .iter()
                .map(|a| attachment_json(world, base, a))
                .collect(),
        ),
    );
    let links: Vec<Value> = world
        .links
        .iter()
        .filter(|l| l.inward_key == issue.key || l.outward_key == issue.key)
        .filter_map(|l| {
            let t = world.config.link_types.iter().find(|t| t.name == l.type_name)?;
            let ty = json!({"id": t.id, "name": t.name, "inward": t.inward, "outward": t.outward,
                            "self": format!("{base}/rest/api/3/issueLinkType/{}", t.id)});
            // On the inward issue the link shows the outward one, and the other way round.
            let (side, other) = if l.inward_key == issue.key {
                ("outwardIssue", &l.outward_key)
            } else {
                ("inwardIssue", &l.inward_key)
            };
            let other = world.issues.iter().find(|i| &i.key == other)?;
            Some(json!({"id": l.id, "self": format!("{base}/rest/api/3/issueLink/{}", l.id), "type": ty,
                        side: {"id": other.id, "key": other.key, "self": format!("{base}/rest/api/3/issue/{}", other.id),
                               "fields": {"summary": other.summary, "status": status_json(base)}}}))
        })
        .collect();
    f.insert("issuelinks".to_owned(), Value::Array(links));
    f.insert("created".to_owned(), json!(wire::jira_time(issue.created)));
    f.insert("updated".to_owned(), json!(wire::jira_time(issue.created)));
    f
}

fn filter_fields(all: Map<String, Value>, wanted: &[String]) -> Map<String, Value> {
    let everything = wanted.is_empty() || wanted.iter().any(|w| w == "*all" || w == "*navigable");
    let excluded: Vec<&str> = wanted.iter().filter_map(|w| w.strip_prefix('-')).collect();
    let included: Vec<&str> = wanted
        .iter()
        .filter(|w| !w.starts_with('-') && !w.starts_with('*'))
        .map(String::as_str)
        .collect();
    let everything = everything || (included.is_empty() && !excluded.is_empty());
    all.into_iter()
        .filter(|(k, _)| {
            (everything || included.contains(&k.as_str())) && !excluded.contains(&k.as_str())
        })
        .collect()
}

fn issue_json(
    world: &World,
    base: &str,
    issue: &Issue,
    fields: &[String],
    properties: &[String],
) -> Value {
    let all = issue_fields(world, base, issue);
    let mut bean = json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": format!("{base}/rest/api/3/issue/{}", issue.id),
        "key": issue.key,
        "fields": filter_fields(all, fields),
    });
    if !properties.is_empty()
        && let Some(o) = bean.as_object_mut()
    {
        o.insert("properties".to_owned(), properties_json(issue, properties));
    }
    bean
}

fn properties_json(issue: &Issue, properties: &[String]) -> Value {
    let all = properties.iter().any(|p| p == "*all");
    Value::Object(
        issue
            .properties
            .iter()
            .filter(|(k, _)| all || properties.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

fn not_found_issue() -> Answer {
    Answer::error(
        404,
        "Issue does not exist or you do not have permission to see it.",
    )
}

fn get_issue(world: &World, call: &Call<'_>, key: &str) -> Answer {
    match world.issue(key) {
        Some(issue) => Answer::json(
            200,
            issue_json(
                world,
                &call.api_base,
                issue,
                &call.list("fields"),
                &call.list("properties"),
            ),
        ),
        None => not_found_issue(),
    }
}

/// Counts a write to each issue, or refuses it when one is at its limit.
fn issue_write(world: &mut World, keys: &[String]) -> Result<(), Answer> {
    world
        .limiter
        .issue_writes(keys, Instant::now())
        .map(|_| ())
        .map_err(|t| Answer::throttled(&t))
}

fn issue_link(world: &mut World, call: &Call<'_>) -> Answer {
    let body = match call.json("LinkIssueRequestJsonBean") {
        Ok(b) => b,
        Err(a) => return a,
    };
    let type_wanted = body
        .pointer("/type/name")
        .or(body.pointer("/type/id"))
        .and_then(Value::as_str);
    let Some(link_type) = world
        .config
        .link_types
        .iter()
        .find(|t| type_wanted.is_some_and(|w| t.name.eq_ignore_ascii_case(w) || t.id == w))
        .cloned()
    else {
        return Answer::error(
            404,
            format!(
                "No issue link type with name '{}' found.",
                type_wanted.unwrap_or_default()
            ),
        );
    };
    let side = |name: &str| {
        body.pointer(&format!("/{name}/key"))
            .or(body.pointer(&format!("/{name}/id")))
            .and_then(Value::as_str)
            .and_then(|k| world.issue(k))
            .map(|i| i.key.clone())
    };
    let (Some(inward), Some(outward)) = (side("inwardIssue"), side("outwardIssue")) else {
        return not_found_issue();
    };
    if inward == outward {
        return Answer::error(400, "You cannot link an issue to itself.");
    }
    if world.links_of(&inward) >= 2000 || world.links_of(&outward) >= 2000 {
        return Answer::error(
            413,
            "The number of links to the issue has reached the limit of 2000.",
        );
    }
    if let Err(a) = issue_write(world, &[inward.clone(), outward.clone()]) {
        return a;
    }
    world.add_link(link_type.name, inward, outward);
    Answer::empty(201)
}

fn attachment_json(world: &World, base: &str, a: &Attachment) -> Value {
    let mut att = json!({
        "self": format!("{base}/rest/api/3/attachment/{}", a.id),
        "id": a.id,
        "filename": a.file_name,
        "created": wire::jira_time(std::time::SystemTime::now()),
        "size": a.size,
        "mimeType": a.mime_type,
        "content": format!("{base}/rest/api/3/attachment/content/{}", a.id),
    });
    if let (Some(u), Some(o)) = (world.config.users.first(), att.as_object_mut()) {
        o.insert(
            "author".to_owned(),
            json!({"self": format!("{base}/rest/api/3/user?accountId={}", u.account_id), "accountId": u.account_id,
                   "accountType": "atlassian", "displayName": u.display_name, "active": true,
                   "avatarUrls": avatar_urls(&u.account_id)}),
        );
    }
    att
}

fn attach(world: &mut World, call: &Call<'_>, key: &str) -> Answer {
    let xsrf_ok = call
        .headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("no-check") || v.eq_ignore_ascii_case("nocheck"));
    if !xsrf_ok {
        return Answer::text(403, "XSRF check failed");
    }
    let Some(issue_key) = world.issue(key).map(|i| i.key.clone()) else {
        return not_found_issue();
    };
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(parts) = wire::multipart(content_type, call.body) else {
        return Answer::error(415, "The request is not a multipart/form-data request.");
    };
    let files: Vec<_> = parts.into_iter().filter(|p| p.name == "file").collect();
    if files.is_empty() {
        return Answer::error(
            400,
            "No files were attached. The form field must be named 'file'.",
        );
    }
    let max = world.config.max_attachment_bytes;
    if files.iter().any(|f| f.content.len() > max) {
        return Answer::error(
            413,
            format!("The attachment exceeds the maximum attachment size of {max} bytes."),
        );
    }
    if world
        .issue(&issue_key)
        .is_some_and(|i| i.attachments.len() + files.len() > 2000)
    {
        return Answer::error(
            413,
            "The number of attachments to the issue has reached the limit of 2000.",
        );
    }
    if let Err(a) = issue_write(world, std::slice::from_ref(&issue_key)) {
        return a;
    }
    let mut made = Vec::new();
    for f in files {
        let id = world.other_id();
        made.push(Attachment {
            id,
            file_name: f.file_name.unwrap_or_else(|| "file".to_owned()),
            size: f.content.len(),
            mime_type: f
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
        });
    }
    let answer: Vec<Value> = made
        .iter()
        .map(|a| attachment_json(world, &call.api_base, a))
        .collect();
    if let Some(issue) = world.issue_mut(&issue_key) {
        issue.attachments.extend(made);
    }
    Answer::json(200, Value::Array(answer))
}

fn put_property(world: &mut World, call: &Call<'_>, key: &str, property: &str) -> Answer {
    let value: Value = match serde_json::from_slice(call.body) {
        Ok(v) => v,
        Err(_) => return Answer::error(400, "The property value must be valid JSON."),
    };
    if let Err(message) = validate::check_property(property, &value) {
        return Answer::error(400, message);
    }
    let Some(issue_key) = world.issue(key).map(|i| i.key.clone()) else {
        return not_found_issue();
    };
    if let Err(a) = issue_write(world, std::slice::from_ref(&issue_key)) {
        return a;
    }
    let Some(issue) = world.issue_mut(&issue_key) else {
        return not_found_issue();
    };
    let existed = issue
        .properties
        .insert(property.to_owned(), value)
        .is_some();
    Answer::empty(if existed { 200 } else { 201 })
}

fn get_property(world: &World, key: &str, property: &str) -> Answer {
    let Some(issue) = world.issue(key) else {
        return not_found_issue();
    };
    match issue.properties.get(property) {
        Some(v) => Answer::json(200, json!({"key": property, "value": v})),
        None => Answer::error(
            404,
            format!("The property with key '{property}' does not exist."),
        ),
    }
}

fn search(world: &World, call: &Call<'_>) -> Answer {
    struct Request {
        jql: String,
        token: Option<String>,
        max: usize,
        fields: Vec<String>,
        properties: Vec<String>,
        reconcile: Vec<String>,
    }
    let request = if call.method == Method::POST {
        let body = match call.json("SearchAndReconcileRequestBean") {
            Ok(b) => b,
            Err(a) => return a,
        };
        let strings = |k: &str| -> Vec<String> {
            body.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Request {
            jql: body
                .get("jql")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            token: body
                .get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_owned),
            max: body
                .get("maxResults")
                .and_then(Value::as_u64)
                .map_or(50, |m| m as usize),
            fields: strings("fields"),
            properties: strings("properties"),
            reconcile: strings("reconcileIssues"),
        }
    } else {
        let max = match call.number("maxResults", 50) {
            Ok(m) => m,
            Err(a) => return a,
        };
        Request {
            jql: call.param("jql").unwrap_or_default().to_owned(),
            token: call.param("nextPageToken").map(str::to_owned),
            max,
            fields: call.list("fields"),
            properties: call.list("properties"),
            reconcile: call.list("reconcileIssues"),
        }
    };
    if request.properties.len() > 5 {
        return Answer::error(400, "A maximum of 5 issue properties can be requested.");
    }
    if request.reconcile.len() > 50 {
        return Answer::error(400, "A maximum of 50 issue ids can be reconciled.");
    }
    let query = match jql::parse(&request.jql) {
        Ok(q) => q,
        Err(message) => return Answer::error(400, message),
    };
    let Some(condition) = query.condition.as_ref().filter(|c| c.is_bounded()) else {
        return Answer::error(
            400,
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        );
    };
    let mut messages = Vec::new();
    for clause in condition.clauses() {
        for v in &clause.values {
            let known = match clause.field {
                Field::Project => find_project(world, v).is_some(),
                Field::Key | Field::Parent => world.issue(v).is_some(),
                _ => true,
            };
            if !known {
                messages.push(match clause.field {
                    Field::Project => {
                        format!("The value '{v}' does not exist for the field 'project'.")
                    }
                    Field::Key => {
                        format!("An issue with key '{v}' does not exist for field 'key'.")
                    }
                    _ => format!("An issue with key '{v}' does not exist for field 'parent'."),
                });
            }
        }
    }
    if !messages.is_empty() {
        return Answer::json(
            400,
            json!({"errorMessages": messages, "errors": {}, "warningMessages": []}),
        );
    }
    let start = match request.token.as_deref() {
        None => 0,
        Some(t) => match t
            .strip_prefix("dtg-page-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => {
                return Answer::error(400, "The provided next page token is invalid or expired.");
            }
        },
    };
    let only_ids = request.fields.is_empty() || request.fields.iter().all(|f| f == "id");
    let max = request.max.clamp(1, if only_ids { 5000 } else { 100 });
    let lag = world.config.search_lag;
    let now = Instant::now();
    let mut found: Vec<&Issue> = world
        .issues
        .iter()
        .filter(|i| !world.deleted_projects.contains(&i.project_key))
        .filter(|i| {
            lag.is_zero()
                || now.duration_since(i.created_at) >= lag
                || request.reconcile.contains(&i.id)
        })
        .filter(|i| {
            let project = world
                .config
                .projects
                .iter()
                .find(|p| p.key == i.project_key);
            let parent = i
                .parent_key
                .as_deref()
                .and_then(|k| world.issues.iter().find(|p| p.key == k))
                .map(|p| (p.key.as_str(), p.id.as_str()));
            condition.matches(&Subject {
                project: (
                    i.project_key.as_str(),
                    project.map_or("", |p| p.id.as_str()),
                ),
                issue: (i.key.as_str(), i.id.as_str()),
                labels: &i.labels,
                parent,
                issue_type: (i.issue_type.as_str(), i.issue_type_id.as_str()),
            })
        })
        .collect();
    found.sort_by(|a, b| {
        for (field, desc) in &query.order {
            let o = match field {
                SortField::Created => a
                    .created_at
                    .cmp(&b.created_at)
                    .then(a.number.cmp(&b.number)),
                SortField::Key => jql::compare_keys(&a.key, &b.key),
                SortField::Id => a.id.len().cmp(&b.id.len()).then(a.id.cmp(&b.id)),
            };
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        a.id.len().cmp(&b.id.len()).then(a.id.cmp(&b.id))
    });
    let total = found.len();
    let issues: Vec<Value> = found
        .into_iter()
        .skip(start)
        .take(max)
        .map(|i| {
            if only_ids {
                let mut bean = json!({"id": i.id});
                if !request.properties.is_empty()
                    && let Some(o) = bean.as_object_mut()
                {
                    o.insert(
                        "properties".to_owned(),
                        properties_json(i, &request.properties),
                    );
                }
                bean
            } else {
                issue_json(
                    world,
                    &call.api_base,
                    i,
                    &request.fields,
                    &request.properties,
                )
            }
        })
        .collect();
    let next = start + issues.len();
    let mut body = json!({"issues": issues, "isLast": next >= total});
    if next < total
        && let Some(o) = body.as_object_mut()
    {
        o.insert(
            "nextPageToken".to_owned(),
            json!(format!("dtg-page-{next}")),
        );
    }
    Answer::json(200, body)
}

//! The client: one request path that paces, signs, sends, records and
//! retries what is safe; the operations of the [`Jira`] port on top of it,
//! and a few more the product needs (single create, entity properties,
//! searches with reconciliation).
//!
//! What is retried: reads (GET, and the search POST) on 429, 5xx and
//! network errors; any request answered 429 (Jira did not apply it); any
//! request that never connected. A write answered 5xx, timed out, or whose
//! answer was lost is not retried: it comes back with `maybe_applied`. A
//! 2xx answer that cannot be read (see [`crate::answer`]) is not retried
//! either: it is [`JiraError::Unreadable`], naming the operation, with
//! `maybe_applied` for a write.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use dtg_app::jira::{
    Fetched, FoundIssue, IssueRef, IssueTypeInfo, Jira, JiraError, JiraField, JiraProject,
    JiraResult, JiraUser, LinkType, Named, NewIssue, NewLink, Refusal, SearchPage, Sprint,
};
use dtg_app::repo::JiraCredentials;
use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::answer::{self, unreadable};
use crate::auth::{Auth, Authenticator};
use crate::body;
use crate::config::JiraConfig;
use crate::dry_run;
use crate::pacing::{ClientStats, Counters, MethodClass, Pacer, RateLimitHeaders, backoff};
use crate::record::{RecordedBody, RecordedRequest};

/// Jira's limit of issues in one bulk create.
pub const MAX_BULK: usize = 50;

/// Pages read at most from one paged endpoint (a guard against a server that never ends).
const MAX_PAGES: usize = 1000;

/// Jira's limit of issues in one bulk fetch.
pub const MAX_FETCH: usize = 100;

/// Jira's limit of entity properties one bulk fetch may ask for.
const MAX_FETCH_PROPERTIES: usize = 5;

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A configured base URL is not a URL.
    #[error("not a usable URL: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be set up (TLS).
    #[error("the HTTP client cannot be set up")]
    Http(#[from] reqwest::Error),
}

/// The body of one request, before it is sent.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(Value),
    File { name: String, content: Vec<u8> },
}

/// One request, as the operations describe it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    /// Path under the API base (`/rest/api/3/...`), segments already encoded.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Body,
    /// The operation as Jira's OpenAPI document names it
    /// (`POST /rest/api/3/issue/bulk`): paced as one endpoint, and named
    /// when its answer cannot be read.
    pub(crate) endpoint: &'static str,
    /// Whether repeating it is harmless (reads and searches).
    pub(crate) safe: bool,
    /// Issues it writes to (per-issue limits).
    pub(crate) issues: Vec<String>,
}

impl Call {
    fn get(path: String, endpoint: &'static str) -> Self {
        Self {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: Body::None,
            endpoint,
            safe: true,
            issues: Vec::new(),
        }
    }

    fn write(method: Method, path: String, body: Body, endpoint: &'static str) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            body,
            endpoint,
            safe: false,
            issues: Vec::new(),
        }
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    fn class(&self) -> MethodClass {
        if self.method == Method::PUT || self.method == Method::DELETE {
            MethodClass::PutDelete
        } else {
            MethodClass::GetPost
        }
    }
}

/// A final answer (any status the caller maps itself).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Percent-encodes one path segment.
pub(crate) fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Jira's `errorMessages` and `errors` of a refusal.
#[must_use]
pub fn refusal(status: u16, bytes: &[u8]) -> Refusal {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct ErrorCollection {
        #[serde(default)]
        error_messages: Vec<String>,
        #[serde(default)]
        errors: serde_json::Map<String, Value>,
    }
    let parsed: ErrorCollection = serde_json::from_slice(bytes).unwrap_or_default();
    let mut refusal = Refusal {
        status,
        messages: parsed.error_messages,
        fields: parsed
            .errors
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
    };
    if refusal.messages.is_empty() && refusal.fields.is_empty() {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        if !text.is_empty() {
            refusal.messages.push(text.chars().take(500).collect());
        }
    }
    refusal
}

/// The port's error for a final non-2xx answer.
fn failure(answer: &Answer, safe: bool) -> JiraError {
    let refused = refusal(answer.status, &answer.body);
    match answer.status {
        s if s >= 500 => JiraError::Unavailable {
            status: s,
            message: refused.to_string(),
            maybe_applied: !safe,
        },
        _ => JiraError::refused(refused),
    }
}

/// The reqwest client every request goes through.
pub(crate) fn http_client(config: &JiraConfig) -> Result<reqwest::Client, BuildError> {
    crate::install_tls_crypto();
    Ok(reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .user_agent(concat!("dtg-jira/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A Jira Cloud REST v3 client.
pub struct JiraClient {
    config: JiraConfig,
    site_url: String,
    api_base: String,
    http: reqwest::Client,
    auth: Authenticator,
    pacer: Pacer,
    counters: Counters,
    log: Option<Mutex<Vec<RecordedRequest>>>,
    dry_run: bool,
    sequence: AtomicU64,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClient")
            .field("site_url", &self.site_url)
            .field("auth", &self.auth)
            .field("dry_run", &self.dry_run)
            .field("capturing", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

fn base_url(value: &str) -> Result<String, BuildError> {
    let trimmed = value.trim_end_matches('/');
    Url::parse(trimmed).map_err(|e| BuildError::InvalidUrl(format!("{value}: {e}")))?;
    Ok(trimmed.to_owned())
}

impl JiraClient {
    /// A client for the site of `config`, signing with `auth`.
    ///
    /// # Errors
    /// [`BuildError`] for a base URL that is not one, or no TLS.
    pub fn new(config: JiraConfig, auth: Auth) -> Result<Self, BuildError> {
        let http = http_client(&config)?;
        let site_url = base_url(&config.site_url)?;
        base_url(&config.auth_base)?;
        let api_base = base_url(&config.api_base)?;
        Ok(Self {
            auth: Authenticator::new(auth, &http, &config),
            pacer: Pacer::new(config.pacing),
            site_url,
            api_base,
            http,
            config,
            counters: Counters::default(),
            log: None,
            dry_run: false,
            sequence: AtomicU64::new(0),
        })
    }

    /// A client that sends nothing: it records every request it would send
    /// (method, URL, headers without secrets, body) and answers each with a
    /// plausible success (see [`JiraClient::recorded`]).
    ///
    /// # Errors
    /// As [`JiraClient::new`].
    pub fn dry_run(config: JiraConfig, auth: Auth) -> Result<Self, BuildError> {
        let mut client = Self::new(config, auth)?.capturing();
        client.dry_run = true;
        Ok(client)
    }

    /// The same client, recording every request it sends.
    #[must_use]
    pub fn capturing(mut self) -> Self {
        self.log = Some(Mutex::new(Vec::new()));
        self
    }

    /// Whether this client only records.
    #[must_use]
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    fn log(&self) -> Option<std::sync::MutexGuard<'_, Vec<RecordedRequest>>> {
        self.log.as_ref().map(|log| {
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// The requests recorded so far (dry runs and capturing clients).
    #[must_use]
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        self.log().map(|log| log.clone()).unwrap_or_default()
    }

    /// The requests recorded so far, forgetting them.
    #[must_use]
    pub fn take_recorded(&self) -> Vec<RecordedRequest> {
        self.log()
            .map(|mut log| std::mem::take(&mut *log))
            .unwrap_or_default()
    }

    /// Counters for the benchmark report.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        self.counters.snapshot()
    }

    /// How long to wait before the next batch: a quota pause Jira asked for,
    /// an endpoint it throttled, or a short pause while it says the quota is
    /// nearly spent. Zero when nothing holds the client back.
    #[must_use]
    pub fn wait_hint(&self) -> Duration {
        self.pacer.wait_hint()
    }

    /// `X-RateLimit-Remaining` of the latest answer that carried it.
    #[must_use]
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        self.pacer.remaining()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &JiraConfig {
        &self.config
    }

    fn base_for(&self, credentials: Option<&JiraCredentials>) -> String {
        match credentials {
            Some(JiraCredentials::OAuth { cloud_id, .. }) => {
                format!("{}/ex/jira/{}", self.api_base, segment(cloud_id))
            }
            _ => self.site_url.clone(),
        }
    }

    fn build(
        &self,
        call: &Call,
        credentials: Option<&JiraCredentials>,
    ) -> JiraResult<(reqwest::Request, RecordedRequest)> {
        let raw = format!("{}{}", self.base_for(credentials), call.path);
        let mut url = Url::parse(&raw).map_err(|e| {
            JiraError::Refused(Refusal {
                status: 0,
                messages: vec![format!("not a usable URL {raw}: {e}")],
                fields: Default::default(),
            })
        })?;
        if !call.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &call.query {
                pairs.append_pair(name, value);
            }
        }
        let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
        let mut builder = self
            .http
            .request(call.method.clone(), url.clone())
            .header("Accept", "application/json");
        let recorded_body = match &call.body {
            Body::None => RecordedBody::None,
            Body::Json(value) => {
                headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
                builder = builder.json(value);
                RecordedBody::Json(value.clone())
            }
            Body::File { name, content } => {
                headers.push(("Content-Type".to_owned(), "multipart/form-data".to_owned()));
                headers.push(("X-Atlassian-Token".to_owned(), "no-check".to_owned()));
                let part = reqwest::multipart::Part::bytes(content.clone()).file_name(name.clone());
                builder = builder
                    .header("X-Atlassian-Token", "no-check")
                    .multipart(reqwest::multipart::Form::new().part("file", part));
                RecordedBody::Multipart {
                    part: "file".to_owned(),
                    file_name: name.clone(),
                    size: content.len(),
                }
            }
        };
        match credentials {
            Some(JiraCredentials::ApiToken { email, token }) => {
                builder = builder.basic_auth(email, Some(token));
                headers.push(("Authorization".to_owned(), "Basic <redacted>".to_owned()));
            }
            Some(
                JiraCredentials::PersonalAccessToken { token }
                | JiraCredentials::OAuth {
                    access_token: token,
                    ..
                },
            ) => {
                builder = builder.bearer_auth(token);
                headers.push(("Authorization".to_owned(), "Bearer <redacted>".to_owned()));
            }
            None => {}
        }
        let request = builder.build().map_err(|e| JiraError::Network {
            message: format!("the request could not be built: {e}"),
            maybe_applied: false,
        })?;
        let recorded = RecordedRequest {
            method: call.method.to_string(),
            url: url.into(),
            headers,
            body: recorded_body,
        };
        Ok((request, recorded))
    }

    fn rate_limited(&self, retry_after: Duration) -> JiraError {
        JiraError::RateLimited {
            retry_after,
            reason: self
                .pacer
                .last_reason()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "client-pacing".to_owned()),
        }
    }

    /// Sends a call, pacing, signing and retrying what is safe. Returns the
    /// final answer whatever its status, except for the failures decided
    /// here (network, retries spent).
    pub(crate) async fn send(&self, call: &Call) -> JiraResult<Answer> {
        let policy = self.config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut waited = Duration::ZERO;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        'attempts: loop {
            attempt += 1;
            let pace = self
                .pacer
                .reserve(call.endpoint, call.class(), &call.issues);
            if !pace.is_zero() {
                if waited + pace > policy.max_total_wait {
                    return Err(self.rate_limited(pace));
                }
                tokio::time::sleep(pace).await;
                waited += pace;
            }
            let credentials = self.auth.current(&self.counters).await?;
            let (request, recorded) = self.build(call, credentials.as_ref())?;
            if let Some(mut log) = self.log() {
                log.push(recorded);
            }
            Counters::bump(&self.counters.requests_sent);
            if attempt > 1 {
                Counters::bump(&self.counters.retries);
            }
            if self.dry_run {
                return Ok(dry_run::answer(call, &self.sequence));
            }
            let (wait, error) = 'outcome: {
                match self.http.execute(request).await {
                    Err(err) => {
                        // A request that never connected was never applied.
                        let sent = !err.is_connect();
                        let error = JiraError::Network {
                            message: describe(&err),
                            maybe_applied: sent && !call.safe,
                        };
                        if sent && !call.safe {
                            return Err(error);
                        }
                        (backoff(&policy, attempt), error)
                    }
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let limits = RateLimitHeaders::read(response.headers(), SystemTime::now());
                        let hinted =
                            self.pacer
                                .observe(call.endpoint, &call.issues, &limits, status == 429);
                        let body = match response.bytes().await {
                            Ok(bytes) => Ok(bytes.to_vec()),
                            Err(err) => {
                                let lost_write = !call.safe && status != 429;
                                let error = JiraError::Network {
                                    message: format!("the answer was lost: {}", describe(&err)),
                                    maybe_applied: lost_write,
                                };
                                if lost_write {
                                    return Err(error);
                                }
                                Err((backoff(&policy, attempt), error))
                            }
                        };
                        let body = match body {
                            Ok(body) => body,
                            Err(retry) => break 'outcome retry,
                        };
                        match status {
                            200..=299 => return Ok(Answer { status, body }),
                            429 => {
                                Counters::bump(&self.counters.rate_limited);
                                let wait = hinted.unwrap_or_else(|| backoff(&policy, attempt));
                                let error = JiraError::RateLimited {
                                    retry_after: wait,
                                    reason: limits
                                        .reason
                                        .unwrap_or_else(|| "unspecified".to_owned()),
                                };
                                (wait, error)
                            }
                            401 if !refreshed && self.auth.can_refresh() => {
                                refreshed = true;
                                let stale = match &credentials {
                                    Some(JiraCredentials::OAuth { access_token, .. }) => {
                                        access_token.clone()
                                    }
                                    _ => String::new(),
                                };
                                self.auth.refresh(&stale, &self.counters).await?;
                                attempt -= 1;
                                continue 'attempts;
                            }
                            s if s >= 500 && call.safe => {
                                let answer = Answer { status, body };
                                (backoff(&policy, attempt), failure(&answer, true))
                            }
                            _ => return Ok(Answer { status, body }),
                        }
                    }
                }
            };
            if attempt >= max_attempts || waited + wait > policy.max_total_wait {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    /// Sends a call and reads a 2xx answer as `T`.
    async fn json<T: DeserializeOwned>(&self, call: &Call) -> JiraResult<T> {
        let answer = self.send(call).await?;
        if !(200..300).contains(&answer.status) {
            return Err(failure(&answer, call.safe));
        }
        answer::read(call.endpoint, &answer.body, !call.safe)
    }

    /// Sends a call that answers nothing of interest.
    async fn done(&self, call: &Call) -> JiraResult<()> {
        let answer = self.send(call).await?;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(failure(&answer, call.safe))
        }
    }

    /// Reads every page of a `startAt`-paged endpoint. `members` names the
    /// page's lists that may hold the items, by preference: Jira's document
    /// declares both `fields` and `results` on a create-metadata page, and
    /// a page that carries both is read from the first that has items.
    async fn paged<T: DeserializeOwned>(
        &self,
        call: Call,
        members: &[&'static str],
    ) -> JiraResult<Vec<T>> {
        let size = self.config.page_size.max(1);
        let mut all = Vec::new();
        let mut start: u64 = 0;
        for _ in 0..MAX_PAGES {
            let page_call = call
                .clone()
                .query("startAt", start.to_string())
                .query("maxResults", size.to_string());
            let page: serde_json::Map<String, Value> = self.json(&page_call).await?;
            let mut items: (&str, Vec<Value>) = ("", Vec::new());
            for member in members {
                match page.get(*member) {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(values)) => {
                        if items.1.is_empty() {
                            items = (member, values.clone());
                        }
                    }
                    Some(other) => {
                        return Err(unreadable(
                            call.endpoint,
                            format!("`{member}` is not a list: {other}"),
                            false,
                        ));
                    }
                }
            }
            let (member, values) = items;
            let count = values.len() as u64;
            for (n, value) in values.into_iter().enumerate() {
                all.push(answer::read_item(
                    call.endpoint,
                    &format!("{member}[{n}]"),
                    value,
                    false,
                )?);
            }
            start += count;
            let is_last = page.get("isLast").and_then(Value::as_bool);
            let total = page.get("total").and_then(Value::as_u64);
            let last = match (is_last, total) {
                (Some(is_last), _) => is_last,
                (None, Some(total)) => start >= total,
                (None, None) => count < u64::from(size),
            };
            if last || count == 0 {
                break;
            }
        }
        Ok(all)
    }

    /// Creates one issue (`POST /rest/api/3/issue`).
    ///
    /// # Errors
    /// [`JiraError::Refused`] with Jira's field messages; a lost answer is
    /// [`JiraError::Network`] with `maybe_applied`, an unreadable one
    /// [`JiraError::Unreadable`] with `maybe_applied`.
    pub async fn create_issue(&self, issue: &NewIssue) -> JiraResult<IssueRef> {
        let mut call = Call::write(
            Method::POST,
            "/rest/api/3/issue".to_owned(),
            Body::Json(body::create_issue(issue)),
            "POST /rest/api/3/issue",
        );
        call.issues = blockers(std::slice::from_ref(issue));
        let created: answer::Created = self.json(&call).await?;
        created_ref(call.endpoint, created, "the created issue")
    }

    /// Sets an entity property of an issue
    /// (`PUT /rest/api/3/issue/{key}/properties/{propertyKey}`).
    ///
    /// # Errors
    /// [`JiraError::NotFound`] when the issue is gone.
    pub async fn set_property(
        &self,
        issue_key: &str,
        property_key: &str,
        value: &Value,
    ) -> JiraResult<()> {
        let mut call = Call::write(
            Method::PUT,
            format!(
                "/rest/api/3/issue/{}/properties/{}",
                segment(issue_key),
                segment(property_key)
            ),
            Body::Json(value.clone()),
            "PUT /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
        );
        // Setting a property twice to the same value is harmless.
        call.safe = true;
        call.issues.push(issue_key.to_owned());
        self.done(&call).await
    }

    /// One page of a JQL search, with `reconcile` (issue ids, at most 50)
    /// read-after-write consistent.
    ///
    /// # Errors
    /// [`JiraError::Refused`] for invalid JQL.
    pub async fn search_reconciled(
        &self,
        jql: &str,
        properties: &[&str],
        next_page: Option<String>,
        reconcile: &[u64],
    ) -> JiraResult<SearchPage> {
        let mut call = Call::write(
            Method::POST,
            "/rest/api/3/search/jql".to_owned(),
            Body::Json(body::search(
                jql,
                properties,
                self.config.page_size.clamp(1, 100),
                next_page.as_deref(),
                reconcile,
            )),
            "POST /rest/api/3/search/jql",
        );
        call.safe = true;
        let page: answer::SearchPage = self.json(&call).await?;
        Ok(SearchPage {
            issues: found_issues(call.endpoint, page.issues)?,
            next_page: if page.is_last == Some(true) {
                None
            } else {
                page.next_page_token.filter(|t| !t.is_empty())
            },
        })
    }

    /// One bulk fetch of at most [`MAX_FETCH`] issues: those Jira
    /// returned, and the ones it says it could not return this time.
    async fn fetch_some(
        &self,
        keys_or_ids: &[String],
        properties: &[&str],
    ) -> JiraResult<(Vec<FoundIssue>, Vec<answer::IssueError>)> {
        let mut call = Call::write(
            Method::POST,
            "/rest/api/3/issue/bulkfetch".to_owned(),
            Body::Json(body::bulk_fetch(keys_or_ids, properties)),
            "POST /rest/api/3/issue/bulkfetch",
        );
        call.safe = true;
        let fetched: answer::BulkIssues = self.json(&call).await?;
        Ok((
            found_issues(call.endpoint, fetched.issues)?,
            fetched.issue_errors,
        ))
    }

    /// The boards of a project (Agile API), their ids.
    ///
    /// # Errors
    /// Transport and permission failures.
    pub async fn boards(&self, project_key: &str) -> JiraResult<Vec<u64>> {
        let call = Call::get(
            "/rest/agile/1.0/board".to_owned(),
            "GET /rest/agile/1.0/board",
        )
        .query("projectKeyOrId", project_key);
        let boards: Vec<answer::Board> = self.paged(call, &["values"]).await?;
        // A board without an id cannot be asked for its sprints.
        Ok(boards
            .into_iter()
            .filter_map(|b| b.id.and_then(|id| u64::try_from(id).ok()))
            .collect())
    }
}

/// The issues a create call also writes to: those its links make blockers
/// of the new issues, once per link.
fn blockers(issues: &[NewIssue]) -> Vec<String> {
    issues
        .iter()
        .filter_map(|i| i.blocked_by.as_ref())
        .flat_map(|b| b.keys.iter().cloned())
        .collect()
}

/// The reference of an issue Jira says it created: its id and key, which
/// the product cannot do without.
fn created_ref(operation: &str, created: answer::Created, what: &str) -> JiraResult<IssueRef> {
    match (created.id, created.key) {
        (Some(id), Some(key)) if !id.is_empty() && !key.is_empty() => Ok(IssueRef { id, key }),
        (id, key) => Err(unreadable(
            operation,
            format!(
                "{what} has no {}",
                match (
                    id.is_some_and(|i| !i.is_empty()),
                    key.is_some_and(|k| !k.is_empty())
                ) {
                    (false, false) => "id and no key",
                    (false, true) => "id",
                    _ => "key",
                }
            ),
            true,
        )),
    }
}

/// Issues of a search or bulk fetch. An issue without its id or key cannot
/// be told apart from a missing one, so it makes the answer unreadable
/// rather than being skipped.
fn found_issues(operation: &str, issues: Vec<answer::Issue>) -> JiraResult<Vec<FoundIssue>> {
    issues
        .into_iter()
        .enumerate()
        .map(|(n, issue)| match (issue.id, issue.key) {
            (Some(id), Some(key)) => Ok(FoundIssue {
                id,
                key,
                labels: issue.fields.labels,
                properties: issue.properties,
            }),
            _ => Err(unreadable(
                operation,
                format!("issues[{n}] has no id or no key"),
                false,
            )),
        })
        .collect()
}

fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    let mut message = format!("{what}: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

impl Jira for JiraClient {
    fn browse_url(&self, key: &str) -> String {
        format!("{}/browse/{}", self.site_url, segment(key))
    }

    async fn myself(&self) -> JiraResult<JiraUser> {
        let call = Call::get("/rest/api/3/myself".to_owned(), "GET /rest/api/3/myself");
        let user: answer::User = self.json(&call).await?;
        user_of(user).ok_or_else(|| unreadable(call.endpoint, "the user has no accountId", false))
    }

    async fn project(&self, key: &str) -> JiraResult<JiraProject> {
        let call = Call::get(
            format!("/rest/api/3/project/{}", segment(key)),
            "GET /rest/api/3/project/{projectIdOrKey}",
        );
        let project: answer::Project = self.json(&call).await?;
        let key = project.key.unwrap_or_else(|| key.to_owned());
        Ok(JiraProject {
            id: project.id.unwrap_or_default(),
            name: if project.name.is_empty() {
                key.clone()
            } else {
                project.name
            },
            key,
            // An issue type without an id cannot be created.
            issue_types: project
                .issue_types
                .into_iter()
                .filter_map(|t| {
                    Some(IssueTypeInfo {
                        hierarchy_level: t
                            .hierarchy_level
                            .and_then(|l| i32::try_from(l).ok())
                            .unwrap_or(if t.subtask { -1 } else { 0 }),
                        id: t.id?,
                        name: t.name,
                        subtask: t.subtask,
                    })
                })
                .collect(),
        })
    }

    async fn create_fields(
        &self,
        project_key: &str,
        issue_type_id: &str,
    ) -> JiraResult<Vec<JiraField>> {
        let call = Call::get(
            format!(
                "/rest/api/3/issue/createmeta/{}/issuetypes/{}",
                segment(project_key),
                segment(issue_type_id)
            ),
            "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
        );
        let operation = call.endpoint;
        let fields: Vec<answer::CreateField> = self.paged(call, &["fields", "results"]).await?;
        fields
            .into_iter()
            .enumerate()
            .map(|(n, f)| {
                let id = f.field_id.or(f.key).ok_or_else(|| {
                    unreadable(operation, format!("field {n} has no fieldId"), false)
                })?;
                Ok(JiraField {
                    name: if f.name.is_empty() {
                        id.clone()
                    } else {
                        f.name
                    },
                    id,
                    required: f.required,
                    has_default: f.has_default_value,
                    schema_type: f.schema.kind,
                    custom: f.schema.custom,
                })
            })
            .collect()
    }

    async fn priorities(&self) -> JiraResult<Vec<Named>> {
        let call = Call::get(
            "/rest/api/3/priority/search".to_owned(),
            "GET /rest/api/3/priority/search",
        );
        let priorities: Vec<answer::Priority> = self.paged(call, &["values"]).await?;
        // A priority without an id cannot be set.
        Ok(priorities
            .into_iter()
            .filter_map(|p| {
                let id = p.id?;
                Some(Named {
                    name: if p.name.is_empty() {
                        id.clone()
                    } else {
                        p.name
                    },
                    id,
                })
            })
            .collect())
    }

    async fn assignable_users(&self, project_key: &str) -> JiraResult<Vec<JiraUser>> {
        let size = self.config.page_size.max(1);
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let call = Call::get(
                "/rest/api/3/user/assignable/search".to_owned(),
                "GET /rest/api/3/user/assignable/search",
            )
            .query("project", project_key)
            .query("startAt", (page as u64 * u64::from(size)).to_string())
            .query("maxResults", size.to_string());
            let users: Vec<answer::User> = self.json(&call).await?;
            let count = users.len();
            // A user without an account id cannot be assigned.
            all.extend(users.into_iter().filter_map(user_of));
            if count < size as usize {
                break;
            }
        }
        Ok(all)
    }

    async fn link_types(&self) -> JiraResult<Vec<LinkType>> {
        let call = Call::get(
            "/rest/api/3/issueLinkType".to_owned(),
            "GET /rest/api/3/issueLinkType",
        );
        let types: answer::LinkTypes = self.json(&call).await?;
        // Links are made by type name: a type without one cannot be used.
        Ok(types
            .issue_link_types
            .into_iter()
            .filter(|t| !t.name.is_empty())
            .map(|t| LinkType {
                id: t.id.unwrap_or_default(),
                name: t.name,
                inward: t.inward,
                outward: t.outward,
            })
            .collect())
    }

    async fn sprints(&self, project_key: &str) -> JiraResult<Vec<Sprint>> {
        let mut sprints: Vec<Sprint> = Vec::new();
        for board in self.boards(project_key).await? {
            let call = Call::get(
                format!("/rest/agile/1.0/board/{board}/sprint"),
                "GET /rest/agile/1.0/board/{boardId}/sprint",
            )
            .query("state", "active,future");
            let found: Vec<answer::Sprint> = match self.paged(call, &["values"]).await {
                Ok(found) => found,
                // Kanban boards have no sprints: Jira answers 400.
                Err(JiraError::Refused(_)) => continue,
                Err(other) => return Err(other),
            };
            // A sprint without an id cannot be set on an issue.
            for sprint in found {
                let Some(id) = sprint.id.and_then(|id| u64::try_from(id).ok()) else {
                    continue;
                };
                if !sprints.iter().any(|s| s.id == id) {
                    sprints.push(Sprint {
                        id,
                        name: sprint.name,
                        state: sprint.state,
                    });
                }
            }
        }
        Ok(sprints)
    }

    async fn create_issues(
        &self,
        issues: &[NewIssue],
    ) -> JiraResult<Vec<Result<IssueRef, Refusal>>> {
        if issues.is_empty() {
            return Ok(Vec::new());
        }
        if issues.len() > MAX_BULK {
            return Err(JiraError::Refused(Refusal {
                status: 0,
                messages: vec![format!(
                    "a bulk create takes at most {MAX_BULK} issues; {} were given",
                    issues.len()
                )],
                fields: Default::default(),
            }));
        }
        if let [issue] = issues {
            // One issue goes as a plain create: the same work for Jira, and
            // a refusal of it comes back as that element's, as in a bulk.
            return match self.create_issue(issue).await {
                Ok(created) => Ok(vec![Ok(created)]),
                Err(JiraError::Refused(refusal)) => Ok(vec![Err(refusal)]),
                Err(e) => Err(e),
            };
        }
        let mut call = Call::write(
            Method::POST,
            "/rest/api/3/issue/bulk".to_owned(),
            Body::Json(body::bulk_create(issues)),
            "POST /rest/api/3/issue/bulk",
        );
        call.issues = blockers(issues);
        let operation = call.endpoint;
        let answer = self.send(&call).await?;
        let bulk: answer::CreatedIssues = match answer.status {
            200..=299 => answer::read(operation, &answer.body, true)?,
            // 400 when every element failed: the same shape, no issues.
            400 => match serde_json::from_slice::<answer::CreatedIssues>(&answer.body) {
                Ok(bulk) if !bulk.errors.is_empty() => bulk,
                _ => return Err(failure(&answer, false)),
            },
            _ => return Err(failure(&answer, false)),
        };
        // Whatever happens from here on, Jira has created what it says.
        let broken = |message: String| unreadable(operation, message, true);
        let mut results: Vec<Option<Result<IssueRef, Refusal>>> = vec![None; issues.len()];
        for (n, error) in bulk.errors.into_iter().enumerate() {
            let Some(element) = error.failed_element_number else {
                return Err(broken(format!("errors[{n}] has no failedElementNumber")));
            };
            let slot = usize::try_from(element)
                .ok()
                .and_then(|e| results.get_mut(e))
                .ok_or_else(|| {
                    broken(format!(
                        "errors[{n}] names element {element} of a call of {} issues",
                        issues.len()
                    ))
                })?;
            let status = error
                .status
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..600).contains(s))
                .unwrap_or(400);
            let bytes = serde_json::to_vec(&error.element_errors).unwrap_or_default();
            *slot = Some(Err(refusal(status, &bytes)));
        }
        let mut created = bulk.issues.into_iter().enumerate();
        for slot in results.iter_mut().filter(|s| s.is_none()) {
            let Some((n, issue)) = created.next() else {
                return Err(broken(
                    "the answer has fewer issues and errors than were sent".to_owned(),
                ));
            };
            *slot = Some(Ok(created_ref(operation, issue, &format!("issues[{n}]"))?));
        }
        if created.next().is_some() {
            return Err(broken(
                "the answer has more issues than were sent".to_owned(),
            ));
        }
        Ok(results.into_iter().flatten().collect())
    }

    async fn link(&self, link: &NewLink) -> JiraResult<()> {
        let mut call = Call::write(
            Method::POST,
            "/rest/api/3/issueLink".to_owned(),
            Body::Json(body::link(link)),
            "POST /rest/api/3/issueLink",
        );
        call.issues = vec![link.inward_key.clone(), link.outward_key.clone()];
        self.done(&call).await
    }

    async fn attach(&self, issue_key: &str, file_name: &str, content: Vec<u8>) -> JiraResult<()> {
        let mut call = Call::write(
            Method::POST,
            format!("/rest/api/3/issue/{}/attachments", segment(issue_key)),
            Body::File {
                name: file_name.to_owned(),
                content,
            },
            "POST /rest/api/3/issue/{issueIdOrKey}/attachments",
        );
        call.issues.push(issue_key.to_owned());
        self.done(&call).await
    }

    async fn fetch_issues(
        &self,
        keys_or_ids: &[String],
        properties: &[&str],
    ) -> JiraResult<Fetched> {
        if properties.len() > MAX_FETCH_PROPERTIES {
            return Err(JiraError::Refused(Refusal {
                status: 0,
                messages: vec![format!(
                    "a bulk fetch asks for at most {MAX_FETCH_PROPERTIES} properties; {} were given",
                    properties.len()
                )],
                fields: Default::default(),
            }));
        }
        let mut asked: Vec<String> = Vec::new();
        for value in keys_or_ids {
            if !asked.iter().any(|a| same_issue(a, value)) {
                asked.push(value.clone());
            }
        }
        let policy = self.config.retry;
        let mut fetched = Fetched::default();
        for chunk in asked.chunks(MAX_FETCH) {
            let mut attempt: u32 = 0;
            let (mut found, others) = loop {
                attempt += 1;
                let (issues, errors) = self.fetch_some(chunk, properties).await?;
                let (found, others) = attribute(chunk, issues);
                if found.iter().all(Option::is_some) || errors.is_empty() {
                    break (found, others);
                }
                // Jira says some issues could not be returned this time
                // (not that they do not exist); any unmatched one may be
                // among them, so none can be called missing yet.
                if attempt >= policy.max_attempts.max(1) {
                    return Err(not_returned(&errors));
                }
                tokio::time::sleep(backoff(&policy, attempt)).await;
            };
            for (value, slot) in chunk.iter().zip(found.iter_mut()) {
                if slot.is_some() {
                    continue;
                }
                if others.is_empty() {
                    fetched.missing.push(value.clone());
                    continue;
                }
                // Jira answered some of the keys with an issue under
                // another key (an issue moved since): ask for each
                // unmatched one alone to learn which it was.
                let (issues, errors) = self
                    .fetch_some(std::slice::from_ref(value), properties)
                    .await?;
                match issues.into_iter().next() {
                    Some(issue) => *slot = Some(issue),
                    None if errors.is_empty() => fetched.missing.push(value.clone()),
                    None => return Err(not_returned(&errors)),
                }
            }
            for issue in found.into_iter().flatten() {
                if !fetched.issues.iter().any(|i| i.id == issue.id) {
                    fetched.issues.push(issue);
                }
            }
        }
        Ok(fetched)
    }

    async fn search(
        &self,
        jql: &str,
        properties: &[&str],
        next_page: Option<String>,
    ) -> JiraResult<SearchPage> {
        self.search_reconciled(jql, properties, next_page, &[])
            .await
    }
}

/// The user of an answer, if it has an account id.
fn user_of(user: answer::User) -> Option<JiraUser> {
    let account_id = user.account_id.filter(|a| !a.is_empty())?;
    Some(JiraUser {
        account_id,
        display_name: user.display_name,
        email: Some(user.email_address).filter(|e| !e.is_empty()),
    })
}

/// Whether two keys or ids name the same issue (keys in any case).
fn same_issue(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The issues a bulk fetch returned, matched to the keys or ids asked: for
/// each asked value in order its issue (if any), and the issues that
/// matched no value.
fn attribute(
    asked: &[String],
    issues: Vec<FoundIssue>,
) -> (Vec<Option<FoundIssue>>, Vec<FoundIssue>) {
    let mut found: Vec<Option<FoundIssue>> = vec![None; asked.len()];
    let mut others = Vec::new();
    for issue in issues {
        let mut matched = false;
        for (value, slot) in asked.iter().zip(found.iter_mut()) {
            if same_issue(value, &issue.id) || same_issue(value, &issue.key) {
                *slot = Some(issue.clone());
                matched = true;
            }
        }
        if !matched {
            others.push(issue);
        }
    }
    (found, others)
}

/// The error for issues Jira kept saying it could not return.
fn not_returned(errors: &[answer::IssueError]) -> JiraError {
    let detail: Vec<String> = errors
        .iter()
        .map(|e| match &e.id {
            Some(id) => format!("{id}: {}", e.error_message),
            None => e.error_message.clone(),
        })
        .collect();
    JiraError::Unavailable {
        status: 200,
        message: format!(
            "Jira could not return some of the issues asked for: {}",
            detail.join("; ")
        ),
        maybe_applied: false,
    }
}

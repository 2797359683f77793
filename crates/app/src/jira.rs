//! The Jira port: what the export engine needs from Jira Cloud, in the
//! product's terms. `crates/jira` implements it over Jira's REST API (with
//! authentication, pacing and retries inside); tests drive it against the
//! Jira emulator in `tests/jira-emulator`.
//!
//! The client retries only what is safe: reads, and any request Jira
//! refused with 429 (a refused request did nothing). A write whose answer
//! was lost comes back as [`JiraError::Network`] with `maybe_applied`, and
//! the engine reconciles by searching before it sends anything again.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The name of the entity property each exported issue carries: our ticket id.
pub const TICKET_PROPERTY: &str = "dtg.ticket";

/// A Jira project and the issue types it offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraProject {
    /// Project id.
    pub id: String,
    /// Project key (`PROJ`).
    pub key: String,
    /// Project name.
    pub name: String,
    /// Issue types that can be created in it.
    pub issue_types: Vec<IssueTypeInfo>,
}

/// An issue type of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueTypeInfo {
    /// Id.
    pub id: String,
    /// Name (`Epic`, `Story`, `Task`, ...).
    pub name: String,
    /// Whether it is a sub-task type.
    pub subtask: bool,
    /// Hierarchy level: 1 for epics, 0 for standard types, -1 for sub-tasks.
    pub hierarchy_level: i32,
}

/// A field the create screen of an issue type has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraField {
    /// Field id (`summary`, `customfield_10020`).
    pub id: String,
    /// Display name (`Sprint`, `Story point estimate`).
    pub name: String,
    /// Whether Jira requires it.
    pub required: bool,
    /// Whether Jira fills it in when it is left out.
    pub has_default: bool,
    /// Schema type (`string`, `number`, `array`, `user`, `priority`, ...).
    pub schema_type: String,
    /// Custom field type, for custom fields
    /// (`com.pyxis.greenhopper.jira:gh-sprint`).
    pub custom: Option<String>,
}

/// A Jira user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraUser {
    /// Account id.
    pub account_id: String,
    /// Display name.
    pub display_name: String,
    /// Email, when Jira shows it.
    pub email: Option<String>,
}

/// Something Jira knows by id and name (a priority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// An issue link type (`Blocks`: outward "blocks", inward "is blocked by").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkType {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Inward description.
    pub inward: String,
    /// Outward description.
    pub outward: String,
}

/// A sprint of one of the project's boards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sprint {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `active`, `future` or `closed`.
    pub state: String,
}

/// An issue to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewIssue {
    /// Project key.
    pub project_key: String,
    /// Issue type id.
    pub issue_type_id: String,
    /// Summary (one line, at most 255 characters).
    pub summary: String,
    /// Description, as an ADF document.
    pub description: serde_json::Value,
    /// Labels.
    pub labels: Vec<String>,
    /// Priority id.
    pub priority_id: Option<String>,
    /// Assignee account id.
    pub assignee: Option<String>,
    /// Parent issue key (the epic).
    pub parent_key: Option<String>,
    /// Other fields by id (sprint, story points), as Jira takes them.
    pub extra_fields: BTreeMap<String, serde_json::Value>,
    /// Entity properties set at creation (the ticket id under [`TICKET_PROPERTY`]).
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Links made by the create call itself (`update.issuelinks`), where the
    /// create screen offers the `issuelinks` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<BlockedBy>,
}

/// Issues that block a new issue, linked in its create call: for each key
/// `K`, one `{"add": {"type": {"name": type_name}, "inwardIssue": {"key": K}}}`
/// under `update.issuelinks`. Seen from the new issue, `inwardIssue` reads
/// with the type's inward description ("is blocked by"), so Jira stores the
/// link as inward `K`, outward the new issue: "K blocks it", the same link
/// [`NewLink`] makes with `inward_key = K`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedBy {
    /// Link type name (`Blocks`).
    pub type_name: String,
    /// Keys of the issues the new one needs, each already in Jira.
    pub keys: Vec<String>,
}

/// An issue Jira created or found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    /// Issue id.
    pub id: String,
    /// Issue key (`PROJ-123`).
    pub key: String,
}

/// Why Jira refused a request or one element of a bulk create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// Jira's general messages (`errorMessages`).
    pub messages: Vec<String>,
    /// Jira's messages per field id (`errors`).
    pub fields: BTreeMap<String, String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self.messages.clone();
        parts.extend(self.fields.iter().map(|(k, v)| format!("{k}: {v}")));
        if parts.is_empty() {
            write!(f, "HTTP {}", self.status)
        } else {
            write!(f, "{}", parts.join("; "))
        }
    }
}

/// A link to create: `inward` blocks `outward` for the `Blocks` type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLink {
    /// Link type name (`Blocks`).
    pub type_name: String,
    /// Key of the inward issue (for `Blocks`: the one that blocks).
    pub inward_key: String,
    /// Key of the outward issue (for `Blocks`: the one blocked).
    pub outward_key: String,
}

/// An issue found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundIssue {
    /// Issue id.
    pub id: String,
    /// Issue key.
    pub key: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// The entity properties asked for, by key.
    pub properties: BTreeMap<String, serde_json::Value>,
}

/// What a strongly consistent read by key or id found: the issues that
/// exist (in the order asked, with labels and the properties asked for) and
/// the keys or ids Jira does not have (never created, deleted, or not
/// visible).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fetched {
    /// The issues found.
    pub issues: Vec<FoundIssue>,
    /// The keys or ids asked for that Jira does not have.
    pub missing: Vec<String>,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// Issues on this page.
    pub issues: Vec<FoundIssue>,
    /// Token of the next page; `None` on the last.
    pub next_page: Option<String>,
}

/// What a Jira call can fail with, after the client's own retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JiraError {
    /// 401: the credentials are wrong or expired (and could not be refreshed).
    #[error("Jira refused the credentials: {0}")]
    Unauthorized(String),
    /// 403: the user may not do this (permission revoked, project archived).
    #[error("Jira refused permission: {0}")]
    Forbidden(String),
    /// 404: the project or issue does not exist (any more).
    #[error("not found in Jira: {0}")]
    NotFound(String),
    /// 400 and other refusals of the request itself.
    #[error("Jira refused the request: {0}")]
    Refused(Refusal),
    /// Still rate limited after the client's retries.
    #[error("Jira is rate limiting ({reason}); retry after {retry_after:?}")]
    RateLimited {
        /// How long Jira asked to wait.
        retry_after: Duration,
        /// `RateLimit-Reason`.
        reason: String,
    },
    /// 5xx after the client's retries.
    #[error("Jira is unavailable (HTTP {status}): {message}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// What Jira said.
        message: String,
        /// Whether a write may have been applied before the failure.
        maybe_applied: bool,
    },
    /// Jira could not be reached, or its answer was lost.
    #[error("cannot reach Jira: {message}")]
    Network {
        /// What happened.
        message: String,
        /// Whether the request may have reached Jira (its answer was lost).
        maybe_applied: bool,
    },
    /// Jira answered (2xx) with a body this version cannot read: a change of
    /// Jira's API, not a passing trouble, so retrying the same call will not
    /// help.
    #[error("Jira answered {operation} with something this version cannot read: {message}")]
    Unreadable {
        /// The operation (`GET /rest/api/3/project/{projectIdOrKey}`).
        operation: String,
        /// What could not be read (the parser's message, with its path).
        message: String,
        /// Whether the call was a write Jira has applied (its answer is the
        /// part that could not be read).
        maybe_applied: bool,
    },
}

impl JiraError {
    /// The error for a refusal that is not a server failure: 401, 403 and
    /// 404 by what they mean, anything else as a refused request.
    #[must_use]
    pub fn refused(refusal: Refusal) -> Self {
        match refusal.status {
            401 => Self::Unauthorized(refusal.to_string()),
            403 => Self::Forbidden(refusal.to_string()),
            404 => Self::NotFound(refusal.to_string()),
            _ => Self::Refused(refusal),
        }
    }

    /// Whether a write that failed this way may still have been applied by Jira.
    #[must_use]
    pub fn maybe_applied(&self) -> bool {
        match self {
            Self::Unavailable { maybe_applied, .. }
            | Self::Network { maybe_applied, .. }
            | Self::Unreadable { maybe_applied, .. } => *maybe_applied,
            _ => false,
        }
    }
}

/// Result of a Jira call.
pub type JiraResult<T> = Result<T, JiraError>;

/// Jira, as the export engine uses it.
pub trait Jira: Send + Sync + 'static {
    /// The site's base URL for people (`https://example.atlassian.net`), for issue links.
    fn browse_url(&self, key: &str) -> String;

    /// The signed-in user.
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] for bad credentials.
    fn myself(&self) -> impl Future<Output = JiraResult<JiraUser>> + Send;

    /// A project with its issue types.
    ///
    /// # Errors
    /// [`JiraError::NotFound`] when it does not exist or is not visible.
    fn project(&self, key: &str) -> impl Future<Output = JiraResult<JiraProject>> + Send;

    /// The fields of the create screen of an issue type in a project.
    ///
    /// # Errors
    /// [`JiraError::NotFound`] for an unknown project or type.
    fn create_fields(
        &self,
        project_key: &str,
        issue_type_id: &str,
    ) -> impl Future<Output = JiraResult<Vec<JiraField>>> + Send;

    /// The priorities of the site.
    ///
    /// # Errors
    /// Transport and permission failures.
    fn priorities(&self) -> impl Future<Output = JiraResult<Vec<Named>>> + Send;

    /// Users who can be assigned issues in a project.
    ///
    /// # Errors
    /// Transport and permission failures.
    fn assignable_users(
        &self,
        project_key: &str,
    ) -> impl Future<Output = JiraResult<Vec<JiraUser>>> + Send;

    /// Issue link types.
    ///
    /// # Errors
    /// Transport and permission failures.
    fn link_types(&self) -> impl Future<Output = JiraResult<Vec<LinkType>>> + Send;

    /// Open (active and future) sprints of the project's boards.
    ///
    /// # Errors
    /// Transport and permission failures.
    fn sprints(&self, project_key: &str) -> impl Future<Output = JiraResult<Vec<Sprint>>> + Send;

    /// Creates up to 50 issues in one call (a bulk create; one issue alone
    /// goes as a plain create); one result per issue, in order.
    ///
    /// # Errors
    /// A failure of the whole call (each element's refusal is in its result).
    fn create_issues(
        &self,
        issues: &[NewIssue],
    ) -> impl Future<Output = JiraResult<Vec<Result<IssueRef, Refusal>>>> + Send;

    /// Links two issues.
    ///
    /// # Errors
    /// [`JiraError::NotFound`] when an issue is gone.
    fn link(&self, link: &NewLink) -> impl Future<Output = JiraResult<()>> + Send;

    /// Attaches a file to an issue.
    ///
    /// # Errors
    /// [`JiraError::Refused`] when attachments are off or the file is too large.
    fn attach(
        &self,
        issue_key: &str,
        file_name: &str,
        content: Vec<u8>,
    ) -> impl Future<Output = JiraResult<()>> + Send;

    /// Reads up to 100 issues by key or id (`POST /rest/api/3/issue/bulkfetch`),
    /// with their labels and the entity properties named in `properties`.
    /// Unlike a search, this reads the issues themselves: an issue created a
    /// moment ago is there (read-after-write), which is what reconciling a
    /// lost create needs.
    ///
    /// # Errors
    /// Transport and permission failures; unknown keys are in `missing`, not
    /// an error.
    fn fetch_issues(
        &self,
        keys_or_ids: &[String],
        properties: &[&str],
    ) -> impl Future<Output = JiraResult<Fetched>> + Send;

    /// Issues matching a bounded JQL query, one page at a time, with the
    /// entity properties named in `properties`.
    ///
    /// # Errors
    /// [`JiraError::Refused`] for invalid JQL.
    fn search(
        &self,
        jql: &str,
        properties: &[&str],
        next_page: Option<String>,
    ) -> impl Future<Output = JiraResult<SearchPage>> + Send;
}

/// A Jira site an Atlassian sign-in may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JiraSite {
    /// Site URL (`https://example.atlassian.net`).
    pub url: String,
    /// Site name.
    pub name: String,
}

/// What a finished sign-in with Atlassian gives: who signed in, and the
/// credentials for each site they granted.
#[derive(Debug, Clone)]
pub struct OAuthSignIn {
    /// The account.
    pub account: JiraUser,
    /// Each site granted, with its credentials.
    pub sites: Vec<(JiraSite, crate::repo::JiraCredentials)>,
}

/// Access to Jira on behalf of the product's users: a client with a user's
/// stored credentials, a check of credentials typed in a sign-in form, and
/// Atlassian's OAuth 2.0 (3LO) sign-in.
pub trait JiraAccess: Send + Sync + 'static {
    /// The client it makes.
    type Client: Jira;

    /// A client acting for `user` on `site`, with the credentials stored for
    /// them (OAuth tokens are refreshed in the store as they expire).
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] when nothing is stored for them.
    fn client(
        &self,
        user: &str,
        site: &str,
    ) -> impl Future<Output = JiraResult<Self::Client>> + Send;

    /// Checks `credentials` against `site`; the account they belong to.
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] when Jira refuses them.
    fn check(
        &self,
        site: &str,
        credentials: &crate::repo::JiraCredentials,
    ) -> impl Future<Output = JiraResult<JiraUser>> + Send;

    /// Where to send a browser to sign in with Atlassian, or `None` when
    /// OAuth is not set up: `state` comes back to the callback, and
    /// `code_challenge` is the PKCE S256 challenge of the verifier the
    /// callback hands to [`JiraAccess::complete_oauth`].
    fn authorize_url(&self, state: &str, code_challenge: &str) -> Option<String>;

    /// Exchanges the code a sign-in came back with for tokens, and reads
    /// who signed in and the sites they granted.
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] when Atlassian refuses the code.
    fn complete_oauth(
        &self,
        code: &str,
        code_verifier: &str,
        now: crate::store::Timestamp,
    ) -> impl Future<Output = JiraResult<OAuthSignIn>> + Send;
}

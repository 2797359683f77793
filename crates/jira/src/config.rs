//! Where Jira is and how to talk to it: base URLs (configurable so tests
//! point them at an emulator), timeouts, retries and pacing.

use std::fmt;
use std::time::Duration;

/// Atlassian's authorization server (OAuth 2.0 3LO token endpoint).
pub const ATLASSIAN_AUTH_BASE: &str = "https://auth.atlassian.com";

/// Atlassian's API gateway (accessible resources, `/ex/jira/{cloudid}/...`).
pub const ATLASSIAN_API_BASE: &str = "https://api.atlassian.com";

/// A secret (token, password, client secret): never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for a request only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// When to try again, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each later one.
    pub base_delay: Duration,
    /// Cap on one backoff.
    pub max_delay: Duration,
    /// Cap on the time one call spends waiting (backoffs, `Retry-After`,
    /// quota pauses); past it the call returns `RateLimited` or `Unavailable`.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(120),
        }
    }
}

/// Client-side pacing under Jira's documented burst limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacingConfig {
    /// Whether requests are paced at all (tests of raw behaviour turn it off).
    pub enabled: bool,
    /// Requests per second per endpoint for GET and POST (Jira: about 100).
    pub get_post_per_second: f64,
    /// Requests per second per endpoint for PUT and DELETE (Jira: about 50).
    pub put_delete_per_second: f64,
    /// Writes allowed to one issue within sliding windows (Jira: 20 per 2 s
    /// and 100 per 30 s).
    pub issue_writes: [WriteWindow; 2],
    /// Extra pause suggested by [`crate::JiraClient::wait_hint`] while Jira
    /// says `X-RateLimit-NearLimit: true`.
    pub near_limit_pause: Duration,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            get_post_per_second: 100.0,
            put_delete_per_second: 50.0,
            issue_writes: [
                WriteWindow {
                    writes: 20,
                    window: Duration::from_secs(2),
                },
                WriteWindow {
                    writes: 100,
                    window: Duration::from_secs(30),
                },
            ],
            near_limit_pause: Duration::from_secs(1),
        }
    }
}

/// At most `writes` writes to one issue within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteWindow {
    /// Writes allowed.
    pub writes: usize,
    /// The sliding window they are counted over.
    pub window: Duration,
}

/// Everything the client needs besides credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraConfig {
    /// The site people browse (`https://example.atlassian.net`); the API base
    /// for API tokens and personal access tokens.
    pub site_url: String,
    /// Atlassian's authorization server ([`ATLASSIAN_AUTH_BASE`]).
    pub auth_base: String,
    /// Atlassian's API gateway ([`ATLASSIAN_API_BASE`]); the API base for OAuth.
    pub api_base: String,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, answer included.
    pub request_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Pacing.
    pub pacing: PacingConfig,
    /// Refresh an OAuth access token this long before it expires.
    pub refresh_skew: Duration,
    /// How long to wait for another worker's refresh before refreshing anew.
    pub refresh_wait: Duration,
    /// Items asked for per page of the paged endpoints.
    pub page_size: u32,
}

impl JiraConfig {
    /// Defaults for a site: Atlassian's real auth and API bases, 10 s to
    /// connect, 60 s per request.
    #[must_use]
    pub fn new(site_url: impl Into<String>) -> Self {
        Self {
            site_url: site_url.into(),
            auth_base: ATLASSIAN_AUTH_BASE.to_owned(),
            api_base: ATLASSIAN_API_BASE.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            pacing: PacingConfig::default(),
            refresh_skew: Duration::from_secs(60),
            refresh_wait: Duration::from_secs(15),
            page_size: 50,
        }
    }

    /// The same, with the auth and API bases moved (to an emulator).
    #[must_use]
    pub fn with_bases(mut self, auth_base: impl Into<String>, api_base: impl Into<String>) -> Self {
        self.auth_base = auth_base.into();
        self.api_base = api_base.into();
        self
    }
}

//! Atlassian's OAuth 2.0 (3LO) endpoints: the authorize URL, the code
//! exchange and the refresh at `{auth_base}/oauth/token`, and the sites a
//! token may use at `{api_base}/oauth/token/accessible-resources`.
//!
//! Refresh tokens rotate: each refresh returns a new one and invalidates the
//! old, so a refresh is a write. It is never retried after its answer was
//! lost; [`crate::auth`] makes sure one worker at a time refreshes.

use std::fmt;

use dtg_app::repo::JiraCredentials;
use dtg_app::store::Timestamp;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};

use dtg_app::jira::{JiraError, JiraResult, Refusal};

use crate::config::{JiraConfig, Secret};

/// The token endpoint, as named when its answer cannot be read.
const TOKEN_OPERATION: &str = "POST https://auth.atlassian.com/oauth/token";

/// The site list, as named when its answer cannot be read.
const RESOURCES_OPERATION: &str = "GET https://api.atlassian.com/oauth/token/accessible-resources";

/// Scopes the product asks for.
pub const SCOPES: &str = "read:jira-work write:jira-work read:jira-user offline_access";

/// The OAuth app registered with Atlassian.
#[derive(Clone)]
pub struct OAuthApp {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// What the token endpoint answers.
#[derive(Clone, Deserialize)]
pub struct OAuthTokens {
    /// Access token (an hour).
    pub access_token: String,
    /// The new refresh token (the previous one is now invalid).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lasts.
    #[serde(default = "default_expires_in", deserialize_with = "expires_in")]
    pub expires_in: i64,
    /// Granted scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

fn default_expires_in() -> i64 {
    3600
}

/// `expires_in` as a number or a string holding one; `null` as the default.
fn expires_in<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(crate::answer::whole(d)?.unwrap_or_else(default_expires_in))
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

impl OAuthTokens {
    /// Credentials for the site `cloud_id`, received at `now`. Without a new
    /// refresh token in the answer, `previous_refresh` is kept.
    #[must_use]
    pub fn into_credentials(
        self,
        cloud_id: &str,
        previous_refresh: &str,
        now: Timestamp,
    ) -> JiraCredentials {
        JiraCredentials::OAuth {
            access_token: self.access_token,
            refresh_token: self
                .refresh_token
                .unwrap_or_else(|| previous_refresh.to_owned()),
            expires_at: now.saturating_add(self.expires_in),
            cloud_id: cloud_id.to_owned(),
        }
    }
}

/// A site the token may use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessibleResource {
    /// The cloud id (what the API base needs).
    pub id: String,
    /// Site URL (`https://example.atlassian.net`).
    #[serde(default, deserialize_with = "crate::answer::or_default")]
    pub url: String,
    /// Site name.
    #[serde(default, deserialize_with = "crate::answer::or_default")]
    pub name: String,
    /// Scopes granted on it.
    #[serde(default, deserialize_with = "crate::answer::or_default")]
    pub scopes: Vec<String>,
}

/// Atlassian's OAuth endpoints for one app.
#[derive(Debug, Clone)]
pub struct AtlassianOAuth {
    http: reqwest::Client,
    auth_base: String,
    api_base: String,
    app: OAuthApp,
}

impl AtlassianOAuth {
    /// The endpoints of `config` (its auth and API bases) for `app`.
    ///
    /// # Errors
    /// [`crate::BuildError`] when the HTTP client cannot be built.
    pub fn new(config: &JiraConfig, app: OAuthApp) -> Result<Self, crate::BuildError> {
        Ok(Self::with_http(
            crate::client::http_client(config)?,
            config,
            app,
        ))
    }

    pub(crate) fn with_http(http: reqwest::Client, config: &JiraConfig, app: OAuthApp) -> Self {
        Self {
            http,
            auth_base: config.auth_base.trim_end_matches('/').to_owned(),
            api_base: config.api_base.trim_end_matches('/').to_owned(),
            app,
        }
    }

    /// Where to send the user to sign in (audience `api.atlassian.com`,
    /// consent prompt, [`SCOPES`]).
    ///
    /// # Errors
    /// [`crate::BuildError::InvalidUrl`] when the auth base is not a URL.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
    ) -> Result<String, crate::BuildError> {
        let mut url = Url::parse(&format!("{}/authorize", self.auth_base))
            .map_err(|e| crate::BuildError::InvalidUrl(format!("{}: {e}", self.auth_base)))?;
        url.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", &self.app.client_id)
            .append_pair("scope", SCOPES)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent");
        Ok(url.into())
    }

    /// [`AtlassianOAuth::authorize_url`] with a PKCE S256 `code_challenge`.
    ///
    /// # Errors
    /// [`crate::BuildError::InvalidUrl`] when the auth base is not a URL.
    pub fn authorize_url_pkce(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, crate::BuildError> {
        let mut url = Url::parse(&self.authorize_url(redirect_uri, state)?)
            .map_err(|e| crate::BuildError::InvalidUrl(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// [`AtlassianOAuth::exchange_code`] proving the PKCE verifier.
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] when Atlassian refuses the code or the verifier.
    pub async fn exchange_code_pkce(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> JiraResult<OAuthTokens> {
        self.token(json!({
            "grant_type": "authorization_code",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret.expose(),
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }))
        .await
    }

    /// Exchanges an authorization code for tokens.
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] when Atlassian refuses the code.
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> JiraResult<OAuthTokens> {
        self.token(json!({
            "grant_type": "authorization_code",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret.expose(),
            "code": code,
            "redirect_uri": redirect_uri,
        }))
        .await
    }

    /// Exchanges a refresh token for new tokens (the old refresh token is
    /// then invalid). Not retried: a lost answer has burnt the old token.
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] when the refresh token is invalid or expired.
    pub async fn refresh(&self, refresh_token: &str) -> JiraResult<OAuthTokens> {
        self.token(json!({
            "grant_type": "refresh_token",
            "client_id": self.app.client_id,
            "client_secret": self.app.client_secret.expose(),
            "refresh_token": refresh_token,
        }))
        .await
    }

    async fn token(&self, body: Value) -> JiraResult<OAuthTokens> {
        let url = format!("{}/oauth/token", self.auth_base);
        let answer =
            self.http
                .post(&url)
                .json(&body)
                .send()
                .await
                .map_err(|e| JiraError::Network {
                    message: format!("the token endpoint: {e}"),
                    maybe_applied: !e.is_connect(),
                })?;
        let status = answer.status().as_u16();
        let bytes = answer.bytes().await.map_err(|e| JiraError::Network {
            message: format!("the token endpoint's answer was lost: {e}"),
            maybe_applied: true,
        })?;
        if (200..300).contains(&status) {
            // The old refresh token may be spent already: `maybe_applied`.
            return crate::answer::read(TOKEN_OPERATION, &bytes, true);
        }
        let detail: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = |key: &str| detail.get(key).and_then(Value::as_str).unwrap_or("");
        let message = format!("{} {}", text("error"), text("error_description"))
            .trim()
            .to_owned();
        let message = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        };
        Err(match status {
            400 | 401 | 403 => JiraError::Unauthorized(format!(
                "Atlassian refused the sign-in ({message}); sign in to Jira again"
            )),
            429 => JiraError::RateLimited {
                retry_after: std::time::Duration::from_secs(60),
                reason: "oauth-token".to_owned(),
            },
            s if s >= 500 => JiraError::Unavailable {
                status,
                message,
                maybe_applied: true,
            },
            _ => JiraError::Refused(Refusal {
                status,
                messages: vec![message],
                fields: Default::default(),
            }),
        })
    }

    /// The sites an access token may use (their cloud ids).
    ///
    /// # Errors
    /// [`JiraError::Unauthorized`] for a bad token; transport failures.
    pub async fn accessible_resources(
        &self,
        access_token: &str,
    ) -> JiraResult<Vec<AccessibleResource>> {
        let url = format!("{}/oauth/token/accessible-resources", self.api_base);
        let answer = self
            .http
            .get(&url)
            .bearer_auth(access_token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| JiraError::Network {
                message: format!("accessible resources: {e}"),
                maybe_applied: false,
            })?;
        let status = answer.status().as_u16();
        let bytes = answer.bytes().await.map_err(|e| JiraError::Network {
            message: format!("accessible resources: {e}"),
            maybe_applied: false,
        })?;
        match status {
            200..=299 => crate::answer::read(RESOURCES_OPERATION, &bytes, false),
            401 | 403 => Err(JiraError::Unauthorized(format!(
                "Atlassian refused the access token (HTTP {status})"
            ))),
            s if s >= 500 => Err(JiraError::Unavailable {
                status,
                message: String::from_utf8_lossy(&bytes).into_owned(),
                maybe_applied: false,
            }),
            _ => Err(JiraError::Refused(crate::client::refusal(status, &bytes))),
        }
    }
}

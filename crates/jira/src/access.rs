//! [`JiraAccess`] over Jira's REST API: clients with a user's stored
//! credentials, a check of typed-in credentials, and the sign-in with
//! Atlassian (OAuth 2.0 3LO with PKCE).

use std::sync::Arc;

use dtg_app::jira::{Jira, JiraAccess, JiraError, JiraResult, JiraSite, JiraUser, OAuthSignIn};
use dtg_app::repo::{JiraCredentials, Repos, TokenCipher};
use dtg_app::store::{Table, Timestamp};

use crate::auth::{Auth, RepoTokenStore, system_now};
use crate::client::JiraClient;
use crate::config::JiraConfig;
use crate::oauth::{AtlassianOAuth, OAuthApp};

/// The OAuth app and where Atlassian sends the browser back.
#[derive(Debug, Clone)]
pub struct OAuthSetup {
    /// The app registered with Atlassian.
    pub app: OAuthApp,
    /// The callback URL registered with it.
    pub redirect_uri: String,
}

/// Jira for the product's users, with their credentials sealed in `table`.
pub struct SiteAccess<T: Table> {
    table: Arc<T>,
    cipher: TokenCipher,
    config: Arc<dyn Fn(&str) -> JiraConfig + Send + Sync>,
    oauth: Option<(OAuthSetup, AtlassianOAuth)>,
}

impl<T: Table> std::fmt::Debug for SiteAccess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteAccess")
            .field("oauth", &self.oauth.as_ref().map(|(s, _)| s))
            .finish_non_exhaustive()
    }
}

impl<T: Table> SiteAccess<T> {
    /// Access with credentials in `table` sealed by `cipher`; `config` gives
    /// the client configuration of a site (its auth and API bases, timeouts).
    ///
    /// # Errors
    /// [`crate::BuildError`] when the OAuth client cannot be built.
    pub fn new(
        table: Arc<T>,
        cipher: TokenCipher,
        config: impl Fn(&str) -> JiraConfig + Send + Sync + 'static,
        oauth: Option<OAuthSetup>,
    ) -> Result<Self, crate::BuildError> {
        let config: Arc<dyn Fn(&str) -> JiraConfig + Send + Sync> = Arc::new(config);
        let oauth = match oauth {
            Some(setup) => {
                let client = AtlassianOAuth::new(&config(""), setup.app.clone())?;
                Some((setup, client))
            }
            None => None,
        };
        Ok(Self {
            table,
            cipher,
            config,
            oauth,
        })
    }
}

fn build_error(e: &crate::BuildError) -> JiraError {
    JiraError::Network {
        message: format!("the Jira client cannot be set up: {e}"),
        maybe_applied: false,
    }
}

impl<T: Table> JiraAccess for SiteAccess<T> {
    type Client = JiraClient;

    async fn client(&self, user: &str, site: &str) -> JiraResult<JiraClient> {
        let repos = Repos::new(self.table.as_ref(), dtg_app::repo::DEFAULT_TTL_SECONDS);
        let stored = repos
            .tokens(user, site, &self.cipher, system_now())
            .await
            .map_err(|e| JiraError::Unauthorized(e.to_string()))?
            .ok_or_else(|| {
                JiraError::Unauthorized(format!(
                    "no Jira credentials are stored for {site}; sign in to it again"
                ))
            })?;
        let auth = match (&stored.value, &self.oauth) {
            (JiraCredentials::OAuth { .. }, Some((setup, _))) => Auth::Stored {
                store: Arc::new(RepoTokenStore::new(
                    Arc::clone(&self.table),
                    user,
                    site,
                    self.cipher.clone(),
                )),
                app: setup.app.clone(),
            },
            (credentials, _) => Auth::Fixed(credentials.clone()),
        };
        JiraClient::new((self.config)(site), auth).map_err(|e| build_error(&e))
    }

    async fn check(&self, site: &str, credentials: &JiraCredentials) -> JiraResult<JiraUser> {
        let client = JiraClient::new((self.config)(site), Auth::Fixed(credentials.clone()))
            .map_err(|e| build_error(&e))?;
        client.myself().await
    }

    fn authorize_url(&self, state: &str, code_challenge: &str) -> Option<String> {
        let (setup, client) = self.oauth.as_ref()?;
        client
            .authorize_url_pkce(&setup.redirect_uri, state, code_challenge)
            .ok()
    }

    async fn complete_oauth(
        &self,
        code: &str,
        code_verifier: &str,
        now: Timestamp,
    ) -> JiraResult<OAuthSignIn> {
        let Some((setup, client)) = self.oauth.as_ref() else {
            return Err(JiraError::Unauthorized(
                "sign-in with Atlassian is not set up on this server".to_owned(),
            ));
        };
        let tokens = client
            .exchange_code_pkce(code, &setup.redirect_uri, code_verifier)
            .await?;
        let resources = client.accessible_resources(&tokens.access_token).await?;
        let refresh = tokens.refresh_token.clone().unwrap_or_default();
        let sites: Vec<(JiraSite, JiraCredentials)> = resources
            .into_iter()
            .filter(|r| !r.url.is_empty())
            .map(|r| {
                let credentials = tokens.clone().into_credentials(&r.id, &refresh, now);
                (
                    JiraSite {
                        url: r.url.trim_end_matches('/').to_owned(),
                        name: r.name,
                    },
                    credentials,
                )
            })
            .collect();
        let Some((first, credentials)) = sites.first() else {
            return Err(JiraError::Forbidden(
                "the Atlassian account granted no Jira site; sign in again and choose a site"
                    .to_owned(),
            ));
        };
        let account = JiraClient::new((self.config)(&first.url), Auth::Fixed(credentials.clone()))
            .map_err(|e| build_error(&e))?
            .myself()
            .await?;
        Ok(OAuthSignIn { account, sites })
    }
}

//! How the client signs its requests: an API token (Basic `email:token`,
//! Jira Cloud), a personal access token (Bearer, Jira Data Center), or OAuth
//! 2.0 (3LO) tokens kept in a [`TokenStore`] and refreshed there.
//!
//! Refresh tokens rotate, so two workers must never both spend the same one.
//! Refreshing is a single-writer affair through the store's conditional put:
//!
//! 1. reload; if the stored access token is not the one Jira refused and is
//!    not about to expire, someone else already refreshed: use theirs;
//! 2. otherwise *claim* the refresh: save, conditionally on the version
//!    read, the same refresh token with an empty access token and the
//!    claim's deadline (`now + refresh_wait`) as its expiry. One worker wins
//!    the conditional put; the others get [`TokenStoreError::Conflict`];
//! 3. the winner refreshes at Atlassian and saves the new tokens on top of
//!    its claim. Anyone who finds a claim (empty access token, deadline
//!    ahead) polls the store until the new tokens appear; only a claim left
//!    past its deadline (its worker died) is claimed anew.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dtg_app::jira::{JiraError, JiraResult};
use dtg_app::repo::{JiraCredentials, RepoError, Repos, TokenCipher, Versioned};
use dtg_app::store::{Table, Timestamp};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::Secret;
use crate::oauth::AtlassianOAuth;
use crate::pacing::Counters;

/// How often a worker waiting for another's refresh looks at the store.
const REFRESH_POLL: Duration = Duration::from_millis(100);

/// What a token store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    /// The stored version is not the one expected: someone else saved first.
    #[error("the stored Jira tokens were changed by someone else")]
    Conflict,
    /// Nothing is stored.
    #[error("no Jira tokens are stored; sign in to Jira")]
    Missing,
    /// The store failed.
    #[error("the token store failed: {0}")]
    Failed(String),
}

/// A boxed future of a token store call.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, TokenStoreError>> + Send + 'a>>;

/// Where one user's credentials for one site live, with a version for
/// conditional saves.
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The stored credentials and their version.
    ///
    /// # Errors
    /// [`TokenStoreError::Missing`] when nothing is stored.
    fn load(&self) -> StoreFuture<'_, Versioned<JiraCredentials>>;

    /// Saves `credentials` if the stored version is still `expected`; the new version.
    ///
    /// # Errors
    /// [`TokenStoreError::Conflict`] when someone else saved first.
    fn save<'a>(&'a self, credentials: &'a JiraCredentials, expected: u64) -> StoreFuture<'a, u64>;
}

/// Seconds since the Unix epoch, from the system clock.
#[must_use]
pub fn system_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A [`TokenStore`] over the repositories: a user's sealed tokens for a site.
pub struct RepoTokenStore<T: Table> {
    table: Arc<T>,
    ttl_seconds: i64,
    user: String,
    site: String,
    cipher: TokenCipher,
    clock: fn() -> Timestamp,
}

impl<T: Table> fmt::Debug for RepoTokenStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepoTokenStore")
            .field("user", &self.user)
            .field("site", &self.site)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl<T: Table> RepoTokenStore<T> {
    /// The tokens of `user` for `site` in `table`, sealed with `cipher`, on the system clock.
    #[must_use]
    pub fn new(
        table: Arc<T>,
        user: impl Into<String>,
        site: impl Into<String>,
        cipher: TokenCipher,
    ) -> Self {
        Self {
            table,
            ttl_seconds: dtg_app::repo::DEFAULT_TTL_SECONDS,
            user: user.into(),
            site: site.into(),
            cipher,
            clock: system_now,
        }
    }

    /// The same on another clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    fn repos(&self) -> Repos<'_, T> {
        Repos::new(self.table.as_ref(), self.ttl_seconds)
    }
}

fn store_error(err: RepoError) -> TokenStoreError {
    match err {
        RepoError::Conflict(_) => TokenStoreError::Conflict,
        RepoError::NotFound(_) => TokenStoreError::Missing,
        other => TokenStoreError::Failed(other.to_string()),
    }
}

impl<T: Table> TokenStore for RepoTokenStore<T> {
    fn load(&self) -> StoreFuture<'_, Versioned<JiraCredentials>> {
        Box::pin(async move {
            self.repos()
                .tokens(&self.user, &self.site, &self.cipher, (self.clock)())
                .await
                .map_err(store_error)?
                .ok_or(TokenStoreError::Missing)
        })
    }

    fn save<'a>(&'a self, credentials: &'a JiraCredentials, expected: u64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            self.repos()
                .save_tokens(
                    &self.user,
                    &self.site,
                    credentials,
                    Some(expected),
                    &self.cipher,
                    (self.clock)(),
                )
                .await
                .map_err(store_error)
        })
    }
}

/// How the client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// No credentials (dry runs).
    None,
    /// Fixed credentials: an API token or a personal access token (an OAuth
    /// access token here is used as is and never refreshed).
    Fixed(JiraCredentials),
    /// Credentials in a store, OAuth tokens refreshed there with this app.
    Stored {
        /// The store.
        store: Arc<dyn TokenStore>,
        /// The OAuth app that refreshes.
        app: crate::oauth::OAuthApp,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Fixed(credentials) => f.debug_tuple("Fixed").field(credentials).finish(),
            Self::Stored { store, app } => f
                .debug_struct("Stored")
                .field("store", store)
                .field("app", app)
                .finish(),
        }
    }
}

impl Auth {
    /// Jira Cloud: Basic `email:token`.
    #[must_use]
    pub fn api_token(email: impl Into<String>, token: &Secret) -> Self {
        Self::Fixed(JiraCredentials::ApiToken {
            email: email.into(),
            token: token.expose().to_owned(),
        })
    }

    /// Jira Data Center: Bearer personal access token.
    #[must_use]
    pub fn personal_access_token(token: &Secret) -> Self {
        Self::Fixed(JiraCredentials::PersonalAccessToken {
            token: token.expose().to_owned(),
        })
    }
}

/// The access token of OAuth credentials.
fn access_token(credentials: &JiraCredentials) -> Option<&str> {
    match credentials {
        JiraCredentials::OAuth { access_token, .. } => Some(access_token),
        _ => None,
    }
}

/// The client's side of [`Auth`]: current credentials, refreshed when needed.
pub(crate) struct Authenticator {
    source: Source,
    skew: i64,
    refresh_wait: Duration,
}

enum Source {
    None,
    Fixed(JiraCredentials),
    Stored(Box<Stored>),
}

struct Stored {
    store: Arc<dyn TokenStore>,
    oauth: AtlassianOAuth,
    cached: Mutex<Option<Versioned<JiraCredentials>>>,
    refreshing: Mutex<()>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.source {
            Source::None => "none",
            Source::Fixed(_) => "fixed",
            Source::Stored(_) => "stored",
        };
        f.debug_struct("Authenticator")
            .field("source", &kind)
            .finish_non_exhaustive()
    }
}

fn store_failure(err: TokenStoreError) -> JiraError {
    match err {
        TokenStoreError::Missing => JiraError::Unauthorized(err.to_string()),
        other => JiraError::Unavailable {
            status: 0,
            message: other.to_string(),
            maybe_applied: false,
        },
    }
}

impl Authenticator {
    pub(crate) fn new(
        auth: Auth,
        http: &reqwest::Client,
        config: &crate::config::JiraConfig,
    ) -> Self {
        let source = match auth {
            Auth::None => Source::None,
            Auth::Fixed(credentials) => Source::Fixed(credentials),
            Auth::Stored { store, app } => Source::Stored(Box::new(Stored {
                store,
                oauth: AtlassianOAuth::with_http(http.clone(), config, app),
                cached: Mutex::new(None),
                refreshing: Mutex::new(()),
            })),
        };
        Self {
            source,
            skew: i64::try_from(config.refresh_skew.as_secs()).unwrap_or(i64::MAX),
            refresh_wait: config.refresh_wait,
        }
    }

    /// Whether a 401 may be cured by refreshing.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self.source, Source::Stored(_))
    }

    fn fresh(&self, credentials: &JiraCredentials, now: Timestamp) -> bool {
        match credentials {
            JiraCredentials::OAuth { expires_at, .. } => expires_at.saturating_sub(self.skew) > now,
            _ => true,
        }
    }

    /// The credentials to send now (`None` without any): loaded from the
    /// store the first time, refreshed first when about to expire.
    pub(crate) async fn current(&self, counters: &Counters) -> JiraResult<Option<JiraCredentials>> {
        let (store, cached) = match &self.source {
            Source::None => return Ok(None),
            Source::Fixed(credentials) => return Ok(Some(credentials.clone())),
            Source::Stored(stored) => (&stored.store, &stored.cached),
        };
        let current = {
            let mut cached = cached.lock().await;
            if cached.is_none() {
                *cached = Some(store.load().await.map_err(store_failure)?);
            }
            cached.as_ref().map(|c| c.value.clone())
        };
        let Some(current) = current else {
            return Err(JiraError::Unauthorized("no Jira credentials".to_owned()));
        };
        if self.fresh(&current, system_now()) {
            return Ok(Some(current));
        }
        let stale = access_token(&current).unwrap_or_default().to_owned();
        self.refresh(&stale, counters).await.map(Some)
    }

    /// Fresh credentials after Jira refused (or is about to refuse) the
    /// access token `stale`: someone else's refresh if there was one, else ours.
    pub(crate) async fn refresh(
        &self,
        stale: &str,
        counters: &Counters,
    ) -> JiraResult<JiraCredentials> {
        let Source::Stored(stored) = &self.source else {
            return Err(JiraError::Unauthorized(
                "Jira refused the credentials".to_owned(),
            ));
        };
        let Stored {
            store,
            oauth,
            cached,
            refreshing,
        } = stored.as_ref();
        let _single = refreshing.lock().await;
        let usable = |c: &JiraCredentials| {
            access_token(c).is_some_and(|token| !token.is_empty() && token != stale)
                && self.fresh(c, system_now())
        };
        let claim_seconds = i64::try_from(self.refresh_wait.as_secs().max(1)).unwrap_or(i64::MAX);
        let give_up = Instant::now() + self.refresh_wait.saturating_mul(3);
        loop {
            let current = store.load().await.map_err(store_failure)?;
            if usable(&current.value) {
                let value = current.value.clone();
                *cached.lock().await = Some(current);
                return Ok(value);
            }
            let JiraCredentials::OAuth {
                access_token: stored_access,
                refresh_token,
                expires_at,
                cloud_id,
            } = &current.value
            else {
                return Err(JiraError::Unauthorized(
                    "Jira refused the stored credentials, which cannot be refreshed; sign in again"
                        .to_owned(),
                ));
            };
            let now = system_now();
            if stored_access.is_empty() && *expires_at > now {
                // Another worker's claim: wait for its tokens.
                if Instant::now() >= give_up {
                    return Err(JiraError::Unavailable {
                        status: 0,
                        message: "another worker's Jira sign-in refresh did not finish".to_owned(),
                        maybe_applied: false,
                    });
                }
                tokio::time::sleep(REFRESH_POLL).await;
                continue;
            }
            // Claim: no access token, a refresh in progress until the deadline.
            let claimed = JiraCredentials::OAuth {
                access_token: String::new(),
                refresh_token: refresh_token.clone(),
                expires_at: now.saturating_add(claim_seconds),
                cloud_id: cloud_id.clone(),
            };
            let claim = match store.save(&claimed, current.version).await {
                Ok(claim) => claim,
                Err(TokenStoreError::Conflict) => continue,
                Err(other) => return Err(store_failure(other)),
            };
            Counters::bump(&counters.refreshes);
            let renewed = match oauth.refresh(refresh_token).await {
                Ok(tokens) => tokens.into_credentials(cloud_id, refresh_token, system_now()),
                Err(err) => {
                    // Put back what was there, so others do not wait for the deadline.
                    let _ = store.save(&current.value, claim).await;
                    return Err(err);
                }
            };
            match store.save(&renewed, claim).await {
                Ok(version) => {
                    *cached.lock().await = Some(Versioned {
                        value: renewed.clone(),
                        version,
                    });
                    return Ok(renewed);
                }
                // Our claim ran past its deadline and was taken over: theirs stands.
                Err(TokenStoreError::Conflict) => {}
                Err(other) => return Err(store_failure(other)),
            }
        }
    }
}

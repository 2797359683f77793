//! A Jira Cloud REST v3 client: the production adapter of the
//! [`dtg_app::jira::Jira`] port.
//!
//! - [`auth`]: API tokens (Basic), personal access tokens (Bearer), and
//!   OAuth 2.0 (3LO) tokens kept in a [`TokenStore`] and refreshed by one
//!   worker at a time through the store's conditional put.
//! - [`oauth`]: Atlassian's authorize URL, code exchange, refresh and
//!   accessible resources.
//! - [`pacing`]: Jira's burst, per-issue and quota limits, client side, and
//!   what its rate-limit headers say.
//! - [`JiraClient`]: every request paced, signed, retried only when that is
//!   safe, and optionally recorded; [`JiraClient::dry_run`] records without
//!   sending.
//! - [`body`]: the JSON bodies sent, checked in tests against Jira's OpenAPI
//!   document; Jira's answers are read as its document declares them, and
//!   one that cannot be read is [`dtg_app::jira::JiraError::Unreadable`].

mod access;
mod answer;
pub mod auth;
pub mod body;
mod client;
pub mod config;
mod dry_run;
pub mod oauth;
pub mod pacing;
pub mod record;

pub use access::{OAuthSetup, SiteAccess};
pub use auth::{Auth, RepoTokenStore, StoreFuture, TokenStore, TokenStoreError};
pub use client::{BuildError, JiraClient, MAX_BULK, MAX_FETCH, refusal};
pub use config::{
    ATLASSIAN_API_BASE, ATLASSIAN_AUTH_BASE, JiraConfig, PacingConfig, RetryPolicy, Secret,
    WriteWindow,
};
pub use oauth::{AccessibleResource, AtlassianOAuth, OAuthApp, OAuthTokens};
pub use pacing::ClientStats;
pub use record::{RecordedBody, RecordedRequest};

/// Makes ring the process's TLS crypto (rustls' provider), which every HTTP
/// client of this product uses: the Jira and LLM clients here, the AWS SDK's
/// through `dtg_aws::https_client`. Call it before building a `reqwest`
/// client of your own; calling it again does nothing.
pub fn install_tls_crypto() {
    // Refused only when a provider is installed already, which then serves.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

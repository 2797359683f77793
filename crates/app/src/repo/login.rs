//! Sign-ins of the web client: the app's own session behind an opaque
//! cookie, a sign-in with Atlassian under way (its `state` and PKCE
//! verifier), and the short-lived tickets that open a WebSocket.
//!
//! Secrets handed to a browser (the cookie, a ticket) are stored under their
//! SHA-256 digest, so whoever reads the table cannot sign in with them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Repos, Result, Versioned};
use crate::store::{Condition, Table, Timestamp, keys};

/// A signed-in browser lasts this long (12 hours).
pub const LOGIN_TTL_SECONDS: i64 = 12 * 60 * 60;
/// A sign-in with Atlassian must come back within this (10 minutes).
pub const OAUTH_TTL_SECONDS: i64 = 10 * 60;
/// A WebSocket ticket must be used within this (60 seconds).
pub const WS_TICKET_TTL_SECONDS: i64 = 60;

/// A signed-in user, as the cookie finds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// User id (the Atlassian account id, or `local`).
    pub user: String,
    /// Name to show.
    pub name: String,
    /// The Jira site signed in to, when there is one.
    #[serde(default)]
    pub site: Option<String>,
    /// The token state-changing requests must carry (`X-CSRF-Token`).
    pub csrf: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// A sign-in with Atlassian under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOAuth {
    /// The PKCE code verifier.
    pub verifier: String,
    /// Where the browser goes once signed in (a path of the web client).
    pub return_to: String,
    /// When it started.
    pub created_at: Timestamp,
}

/// A ticket that opens one WebSocket for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsTicket {
    /// The user it was given to.
    pub user: String,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// The hex SHA-256 of a secret, under which it is stored.
#[must_use]
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl<T: Table> Repos<'_, T> {
    /// Records a sign-in under the digest of its cookie.
    ///
    /// # Errors
    /// Store failures; [`super::RepoError::Conflict`] for a cookie in use.
    pub async fn save_login(&self, cookie: &str, login: &Login, now: Timestamp) -> Result<()> {
        self.store(
            &keys::login(&digest(cookie)),
            keys::META,
            login,
            None,
            Some(login.expires_at),
            now,
        )
        .await?;
        Ok(())
    }

    /// The sign-in behind a cookie; an expired one is absent.
    ///
    /// # Errors
    /// Store failures.
    pub async fn login(&self, cookie: &str, now: Timestamp) -> Result<Option<Login>> {
        let found: Option<Versioned<Login>> = self
            .load(&keys::login(&digest(cookie)), keys::META, now)
            .await?;
        Ok(found.map(|l| l.value).filter(|l| l.expires_at > now))
    }

    /// Ends a sign-in.
    ///
    /// # Errors
    /// Store failures.
    pub async fn delete_login(&self, cookie: &str, now: Timestamp) -> Result<()> {
        self.table
            .delete(
                &keys::login(&digest(cookie)),
                keys::META,
                Condition::None,
                now,
            )
            .await?;
        Ok(())
    }

    /// Records a sign-in with Atlassian under way, by its `state`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn save_pending_oauth(
        &self,
        state: &str,
        pending: &PendingOAuth,
        now: Timestamp,
    ) -> Result<()> {
        self.store(
            &keys::oauth(state),
            keys::META,
            pending,
            None,
            Some(pending.created_at + OAUTH_TTL_SECONDS),
            now,
        )
        .await?;
        Ok(())
    }

    /// Takes (reads and deletes) the sign-in under way with `state`: a
    /// `state` is good once.
    ///
    /// # Errors
    /// Store failures.
    pub async fn take_pending_oauth(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingOAuth>> {
        let pk = keys::oauth(state);
        let Some(found) = self.load::<PendingOAuth>(&pk, keys::META, now).await? else {
            return Ok(None);
        };
        match self
            .table
            .delete(&pk, keys::META, Condition::VersionIs(found.version), now)
            .await
        {
            Ok(()) => Ok(Some(found.value)),
            // Someone else took it first.
            Err(crate::store::StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
        .map(|p| p.filter(|p| now < p.created_at + OAUTH_TTL_SECONDS))
    }

    /// Records a WebSocket ticket under its digest.
    ///
    /// # Errors
    /// Store failures.
    pub async fn save_ws_ticket(
        &self,
        ticket: &str,
        value: &WsTicket,
        now: Timestamp,
    ) -> Result<()> {
        self.store(
            &keys::ws_ticket(&digest(ticket)),
            keys::META,
            value,
            None,
            Some(value.expires_at),
            now,
        )
        .await?;
        Ok(())
    }

    /// Takes a WebSocket ticket: good once, and only before it expires.
    ///
    /// # Errors
    /// Store failures.
    pub async fn take_ws_ticket(&self, ticket: &str, now: Timestamp) -> Result<Option<WsTicket>> {
        let pk = keys::ws_ticket(&digest(ticket));
        let Some(found) = self.load::<WsTicket>(&pk, keys::META, now).await? else {
            return Ok(None);
        };
        match self
            .table
            .delete(&pk, keys::META, Condition::VersionIs(found.version), now)
            .await
        {
            Ok(()) => Ok(Some(found.value).filter(|t| now < t.expires_at)),
            Err(crate::store::StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

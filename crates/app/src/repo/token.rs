//! Jira credentials of a user, per site, encrypted at rest with
//! XChaCha20-Poly1305. The key comes from configuration; the credentials
//! never appear in `Debug` output or logs, and the ciphertext is bound to
//! its user and site, so it cannot be copied to another user's item.

use std::fmt;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use super::{Repos, Result, Versioned};
use crate::store::{Condition, Table, Timestamp, keys};

/// Bytes in a token key.
pub const KEY_LEN: usize = 32;

/// Stored tokens expire when unused this long (90 days, as Atlassian's refresh tokens do).
pub const TOKEN_TTL_SECONDS: i64 = 90 * 24 * 60 * 60;

/// What can go wrong with stored tokens.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The configured key is not 64 hex digits.
    #[error(
        "the token key must be {} hex digits (32 random bytes, e.g. from `openssl rand -hex 32`)",
        KEY_LEN * 2
    )]
    BadKey,
    /// The stored tokens do not decrypt with this key, or were altered.
    #[error(
        "the stored Jira tokens for {0} cannot be decrypted (the token key changed, or the item was altered); sign in to Jira again"
    )]
    Undecryptable(String),
}

/// Credentials for one Jira site.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JiraCredentials {
    /// Jira Cloud: an Atlassian account's email and API token (Basic).
    ApiToken {
        /// Account email.
        email: String,
        /// API token.
        token: String,
    },
    /// Jira Data Center: a personal access token (Bearer).
    PersonalAccessToken {
        /// The token.
        token: String,
    },
    /// OAuth 2.0 (3LO): an access token and its rotating refresh token.
    OAuth {
        /// Access token (an hour).
        access_token: String,
        /// Refresh token (rotates on every use).
        refresh_token: String,
        /// When the access token expires.
        expires_at: Timestamp,
        /// The site's cloud id.
        cloud_id: String,
    },
}

impl fmt::Debug for JiraCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiToken { email, .. } => f
                .debug_struct("ApiToken")
                .field("email", email)
                .field("token", &"<redacted>")
                .finish(),
            Self::PersonalAccessToken { .. } => f
                .debug_struct("PersonalAccessToken")
                .field("token", &"<redacted>")
                .finish(),
            Self::OAuth {
                expires_at,
                cloud_id,
                ..
            } => f
                .debug_struct("OAuth")
                .field("access_token", &"<redacted>")
                .field("refresh_token", &"<redacted>")
                .field("expires_at", expires_at)
                .field("cloud_id", cloud_id)
                .finish(),
        }
    }
}

/// The AEAD that seals stored tokens.
#[derive(Clone)]
pub struct TokenCipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher(<key redacted>)")
    }
}

impl TokenCipher {
    /// A cipher from a 32-byte key.
    #[must_use]
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// A cipher from the key as 64 hex digits (how configuration holds it).
    ///
    /// # Errors
    /// [`TokenError::BadKey`] for anything else.
    pub fn from_hex(key: &str) -> Result<Self, TokenError> {
        let mut bytes = [0u8; KEY_LEN];
        hex::decode_to_slice(key.trim(), &mut bytes).map_err(|_| TokenError::BadKey)?;
        Ok(Self::new(&bytes))
    }

    /// A new random key, as 64 hex digits.
    #[must_use]
    pub fn generate_key_hex() -> String {
        hex::encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    fn seal(&self, plain: &[u8], bound_to: &str) -> Sealed {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain,
            aad: bound_to.as_bytes(),
        };
        // Encryption only fails for messages beyond 256 GiB.
        let ciphertext = self.aead.encrypt(&nonce, payload).unwrap_or_default();
        Sealed {
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        }
    }

    fn open(&self, sealed: &Sealed, bound_to: &str) -> Option<Vec<u8>> {
        let nonce = hex::decode(&sealed.nonce).ok()?;
        if nonce.len() != 24 {
            return None;
        }
        let ciphertext = hex::decode(&sealed.ciphertext).ok()?;
        let payload = Payload {
            msg: &ciphertext,
            aad: bound_to.as_bytes(),
        };
        self.aead.decrypt(XNonce::from_slice(&nonce), payload).ok()
    }
}

/// What is stored: the nonce and the sealed credentials, never the plain text.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
}

impl<T: Table> Repos<'_, T> {
    /// Stores a user's credentials for a site, sealed with `cipher`. With
    /// `expected`, only if the stored version is still that one: two workers
    /// refreshing a rotating token cannot both win.
    ///
    /// # Errors
    /// [`super::RepoError::Conflict`] when the stored version differs.
    #[allow(clippy::too_many_arguments)]
    pub async fn save_tokens(
        &self,
        user: &str,
        site: &str,
        credentials: &JiraCredentials,
        expected: Option<u64>,
        cipher: &TokenCipher,
        now: Timestamp,
    ) -> Result<u64> {
        let (pk, sk) = (keys::user(user), keys::token(site));
        let plain =
            serde_json::to_vec(credentials).map_err(|source| super::RepoError::Corrupt {
                what: format!("{pk} {sk}"),
                source,
            })?;
        let sealed = cipher.seal(&plain, &format!("{pk} {sk}"));
        self.store(
            &pk,
            &sk,
            &sealed,
            expected,
            Some(now + TOKEN_TTL_SECONDS),
            now,
        )
        .await
    }

    /// A user's credentials for a site, opened with `cipher`.
    ///
    /// # Errors
    /// [`TokenError::Undecryptable`] when the key is not the one they were
    /// sealed with or the item was altered.
    pub async fn tokens(
        &self,
        user: &str,
        site: &str,
        cipher: &TokenCipher,
        now: Timestamp,
    ) -> Result<Option<Versioned<JiraCredentials>>> {
        let (pk, sk) = (keys::user(user), keys::token(site));
        let Some(sealed) = self.load::<Sealed>(&pk, &sk, now).await? else {
            return Ok(None);
        };
        let undecryptable = || TokenError::Undecryptable(site.to_owned());
        let plain = cipher
            .open(&sealed.value, &format!("{pk} {sk}"))
            .ok_or_else(undecryptable)?;
        let value = serde_json::from_slice(&plain).map_err(|_| undecryptable())?;
        Ok(Some(Versioned {
            value,
            version: sealed.version,
        }))
    }

    /// Forgets a user's credentials for a site.
    ///
    /// # Errors
    /// Store failures.
    pub async fn delete_tokens(&self, user: &str, site: &str, now: Timestamp) -> Result<()> {
        self.table
            .delete(&keys::user(user), &keys::token(site), Condition::None, now)
            .await?;
        Ok(())
    }
}

//! Blobs as files under a root folder, with presigned URLs that
//! [`blob_routes`] serves the way S3 serves its own.
//!
//! A key such as `sessions/42/uploads/fields.csv` is a relative path under
//! the root; keys that could leave the root (`..`, absolute paths, empty
//! segments) are refused, and names starting with `.` are kept for the
//! temporary files that make writes atomic (write beside, then rename).
//!
//! A presigned URL carries its expiry and an HMAC-SHA256 of method, key and
//! expiry under a secret only the server knows, so a browser can PUT an
//! upload or GET an attachment straight from the folder without a session.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dtg_app::store::{Blobs, Result, StoreError, Timestamp};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Longest key taken, in bytes (S3's limit).
const MAX_KEY_BYTES: usize = 1024;
/// Largest body a presigned PUT takes.
const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Blobs in a folder, with presigned URLs under a base URL.
#[derive(Clone)]
pub struct FolderBlobs {
    root: PathBuf,
    base_url: String,
    secret: Arc<[u8]>,
}

impl fmt::Debug for FolderBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FolderBlobs")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl FolderBlobs {
    /// Blobs under `root` (created if missing), with presigned URLs of the
    /// form `{base_url}/blobs/{key}?expires=..&signature=..` signed with
    /// `secret`.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty secret; [`StoreError::Unexpected`]
    /// when the folder cannot be created.
    pub fn new(
        root: impl Into<PathBuf>,
        base_url: impl Into<String>,
        secret: impl Into<Vec<u8>>,
    ) -> Result<Self> {
        let root = root.into();
        let secret = secret.into();
        if secret.is_empty() {
            return Err(StoreError::Invalid(
                "presigned URLs need a non-empty secret".to_owned(),
            ));
        }
        std::fs::create_dir_all(&root).map_err(|e| StoreError::Unexpected(e.into()))?;
        Ok(Self {
            root,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            secret: secret.into(),
        })
    }

    /// Whether `signature` is this store's signature of `method` on `key`
    /// until `expires`, and `now` is before `expires`.
    #[must_use]
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        expires: Timestamp,
        signature: &str,
        now: Timestamp,
    ) -> bool {
        if now >= expires {
            return false;
        }
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        self.mac(method, key, expires)
            .is_some_and(|mac| mac.verify_slice(&given).is_ok())
    }

    /// The MAC of one presigned request, before it is finished.
    fn mac(&self, method: &str, key: &str, expires: Timestamp) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.secret).ok()?;
        // Keys hold no control characters (see `relative_path`), so the
        // newlines keep the three fields apart.
        mac.update(method.to_ascii_uppercase().as_bytes());
        mac.update(b"\n");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Some(mac)
    }

    /// A URL for `method` on `key` until `expires_in` after `now`.
    fn presign(
        &self,
        method: &str,
        key: &str,
        expires_in: Duration,
        now: Timestamp,
    ) -> Result<String> {
        relative_path(key)?;
        let lifetime = i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX);
        let expires = now.saturating_add(lifetime);
        let mac = self.mac(method, key, expires).ok_or_else(|| {
            StoreError::Unexpected("the presigning secret cannot key HMAC-SHA256".into())
        })?;
        let signature = hex::encode(mac.finalize().into_bytes());
        Ok(format!(
            "{}/blobs/{}?expires={expires}&signature={signature}",
            self.base_url,
            encode_path(key)
        ))
    }

    /// Where a key's file is.
    fn path_of(&self, key: &str) -> Result<PathBuf> {
        Ok(self.root.join(relative_path(key)?))
    }
}

/// The relative path of a key, or `Invalid` for a key that could leave the
/// root or collide with a temporary file.
fn relative_path(key: &str) -> Result<PathBuf> {
    let refuse = |why: &str| Err(StoreError::Invalid(format!("blob key {key:?} {why}")));
    if key.is_empty() {
        return refuse("is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return refuse("is longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return refuse("holds a control character or a backslash");
    }
    let mut path = PathBuf::new();
    for segment in key.split('/') {
        if segment.is_empty() {
            return refuse("has an empty segment (a leading, trailing or doubled `/`)");
        }
        if segment.starts_with('.') {
            return refuse("has a segment starting with `.`");
        }
        path.push(segment);
    }
    Ok(path)
}

/// A key as a URL path: every byte but unreserved ones and `/` percent-encoded.
fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An I/O error as a store error.
fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Unexpected(Box::new(e))
}

/// Runs file work on the blocking pool.
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unexpected(Box::new(e)))?
}

impl Blobs for FolderBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<()> {
        let path = self.path_of(key)?;
        blocking(move || {
            let folder = path.parent().ok_or_else(|| {
                StoreError::Unexpected(format!("{} has no parent folder", path.display()).into())
            })?;
            std::fs::create_dir_all(folder).map_err(io_error)?;
            // Written beside the target and renamed over it, so a reader sees
            // the old bytes or the new ones, never half of them.
            let mut file = tempfile::Builder::new()
                .prefix(".upload-")
                .tempfile_in(folder)
                .map_err(io_error)?;
            file.write_all(&bytes).map_err(io_error)?;
            file.as_file().sync_all().map_err(io_error)?;
            file.persist(&path).map_err(|e| io_error(e.error))?;
            Ok(())
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(key)?;
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(io_error(e)),
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(()),
            Err(e) => Err(io_error(e)),
        })
        .await
    }

    async fn presign_put(
        &self,
        key: &str,
        _content_type: &str,
        expires_in: Duration,
        now: Timestamp,
    ) -> Result<String> {
        self.presign("PUT", key, expires_in, now)
    }

    async fn presign_get(&self, key: &str, expires_in: Duration, now: Timestamp) -> Result<String> {
        self.presign("GET", key, expires_in, now)
    }
}

/// The query of a presigned URL.
#[derive(Debug, Deserialize)]
struct Signed {
    expires: Timestamp,
    signature: String,
}

/// The wall clock, in seconds since the Unix epoch.
fn wall_clock() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a request carries a valid signature for `method` on `key`.
fn authorised(
    blobs: &FolderBlobs,
    method: &str,
    key: &str,
    query: &std::result::Result<Query<Signed>, QueryRejection>,
) -> bool {
    match query {
        Ok(Query(signed)) => {
            blobs.verify(method, key, signed.expires, &signed.signature, wall_clock())
        }
        Err(_) => false,
    }
}

/// The answer to a refused signature.
fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "this link is not valid or has expired; ask for a new one",
    )
        .into_response()
}

/// The answer to a store failure (the cause stays on the server).
fn failed(e: &StoreError) -> Response {
    match e {
        StoreError::Invalid(_) => {
            (StatusCode::BAD_REQUEST, "this blob key is not valid").into_response()
        }
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the blob store failed; try again later",
        )
            .into_response(),
    }
}

async fn get_blob(
    State(blobs): State<Arc<FolderBlobs>>,
    Path(key): Path<String>,
    query: std::result::Result<Query<Signed>, QueryRejection>,
) -> Response {
    if !authorised(&blobs, "GET", &key, &query) {
        return forbidden();
    }
    match blobs.get(&key).await {
        Ok(Some(bytes)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )],
            bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such blob").into_response(),
        Err(e) => failed(&e),
    }
}

async fn put_blob(
    State(blobs): State<Arc<FolderBlobs>>,
    Path(key): Path<String>,
    query: std::result::Result<Query<Signed>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&blobs, "PUT", &key, &query) {
        return forbidden();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    match blobs.put(&key, body.to_vec(), content_type).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => failed(&e),
    }
}

/// `GET` and `PUT /blobs/{*key}`, honouring the URLs of
/// [`FolderBlobs::presign_get`](Blobs::presign_get) and
/// [`FolderBlobs::presign_put`](Blobs::presign_put): 403 for a missing, bad
/// or expired signature, 404 for an absent blob.
pub fn blob_routes(blobs: Arc<FolderBlobs>) -> Router {
    Router::new()
        .route("/blobs/{*key}", get(get_blob).put(put_blob))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (tempfile::TempDir, FolderBlobs) {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FolderBlobs::new(dir.path(), "http://localhost/", "secret").unwrap();
        (dir, blobs)
    }

    #[test]
    fn keys_that_leave_the_root_are_refused() {
        for key in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/",
            "./a",
            "a/.upload-x",
            "a\\b",
            "a\nb",
        ] {
            assert!(
                matches!(relative_path(key), Err(StoreError::Invalid(_))),
                "{key:?} must be refused"
            );
        }
        assert_eq!(
            relative_path("sessions/42/fields v2.csv").unwrap(),
            PathBuf::from("sessions/42/fields v2.csv")
        );
    }

    #[test]
    fn signatures_bind_method_key_and_expiry() {
        let (_dir, blobs) = blobs();
        let url = blobs
            .presign("GET", "a/b #1.csv", Duration::from_secs(60), 1_000)
            .unwrap();
        assert!(url.starts_with("http://localhost/blobs/a/b%20%231.csv?expires=1060&signature="));
        let signature = url.rsplit('=').next().unwrap();
        assert!(blobs.verify("GET", "a/b #1.csv", 1_060, signature, 1_059));
        assert!(
            !blobs.verify("GET", "a/b #1.csv", 1_060, signature, 1_060),
            "expired"
        );
        assert!(
            !blobs.verify("PUT", "a/b #1.csv", 1_060, signature, 1_000),
            "other method"
        );
        assert!(
            !blobs.verify("GET", "a/b #2.csv", 1_060, signature, 1_000),
            "other key"
        );
        assert!(
            !blobs.verify("GET", "a/b #1.csv", 1_061, signature, 1_000),
            "other expiry"
        );
        assert!(!blobs.verify("GET", "a/b #1.csv", 1_060, "not hex", 1_000));
        let other = FolderBlobs::new(blobs.root.clone(), "http://localhost", "other").unwrap();
        assert!(
            !other.verify("GET", "a/b #1.csv", 1_060, signature, 1_000),
            "other secret"
        );
    }

    #[test]
    fn an_empty_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            FolderBlobs::new(dir.path(), "http://localhost", ""),
            Err(StoreError::Invalid(_))
        ));
    }
}

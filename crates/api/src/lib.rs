//! The HTTP API of the Drupal Ticket Generator: one axum [`Router`] over the
//! app layer's use cases, served inside the `api` Lambda (through
//! `lambda_http`) and by `dtg serve`. It knows no AWS and no SQLite: it
//! receives the ports through a [`Backend`].
//!
//! Every route is under `/api/v1`, described by the OpenAPI document served
//! at `/api/v1/openapi.json` ([`openapi::document`]); every failure answers
//! the one error shape of [`error::ErrorBody`].

pub mod auth;
pub mod error;
pub mod extract;
mod jira;
mod map;
pub mod openapi;
mod review;
mod sessions;
pub mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::middleware;
use axum::routing::{get, post};
use dtg_app::jira::JiraAccess;
use dtg_app::jobs::Jobs;
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos, TokenCipher};
use dtg_app::store::{Blobs, Table, Timestamp};
use dtg_core::csv::Limits;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

pub use auth::{AuthMode, Caller};

/// The ports the API works over.
pub trait Backend: Send + Sync + 'static {
    /// The single table.
    type Table: Table;
    /// The blob store.
    type Blobs: Blobs;
    /// Where long work runs.
    type Jobs: Jobs;
    /// Jira for the signed-in users.
    type Jira: JiraAccess;

    /// The table.
    fn table(&self) -> &Self::Table;
    /// The blob store.
    fn blobs(&self) -> &Self::Blobs;
    /// The runner of long work.
    fn jobs(&self) -> &Self::Jobs;
    /// Jira access.
    fn jira(&self) -> &Self::Jira;
    /// The time (Unix seconds).
    fn now(&self) -> Timestamp;
    /// The progress messages of a session, where the WebSocket is served in
    /// process (`dtg serve`); `None` where API Gateway carries it.
    fn listen(&self, session: &str) -> Option<broadcast::Receiver<Arc<str>>> {
        let _ = session;
        None
    }
}

/// A model the server offers for wording tickets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WordingOption {
    /// Provider (`openai`, `anthropic`, `openai_compatible`).
    pub provider: String,
    /// Models offered.
    pub models: Vec<String>,
    /// The model used when none is named.
    pub default_model: String,
}

/// How the API is set up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How people sign in.
    pub auth: AuthMode,
    /// The web client's origin (`https://tickets.example.com`): the only
    /// origin CORS allows and state-changing requests may come from.
    pub web_origin: Option<String>,
    /// Whether cookies carry `Secure` (not on plain-HTTP loopback).
    pub secure_cookies: bool,
    /// Whether `http://` Jira sites are accepted (tests, Data Center on a LAN).
    pub allow_http_sites: bool,
    /// Upload limits.
    pub limits: Limits,
    /// Models offered for wording.
    pub wording: Vec<WordingOption>,
    /// How long sessions live.
    pub session_ttl_seconds: i64,
    /// The URL browsers open WebSockets at (`wss://.../` in production; the
    /// server's own `/api/v1/ws` under `dtg serve`).
    pub websocket_url: Option<String>,
    /// Seconds between two export-status polls of one session.
    pub status_poll_seconds: u64,
    /// Other spellings of the web origin that may change things too
    /// (`http://localhost:8080` beside `http://127.0.0.1:8080`); CORS still
    /// allows only `web_origin`.
    pub same_origins: Vec<String>,
    /// How long a Jira create whose answer was lost may still be running
    /// there: an export's retry waits that long before looking for it.
    pub settle_secs: u64,
}

impl ApiConfig {
    /// Local defaults: the given auth mode, no web origin beyond the server's own.
    #[must_use]
    pub fn new(auth: AuthMode) -> Self {
        Self {
            auth,
            web_origin: None,
            secure_cookies: true,
            allow_http_sites: false,
            limits: Limits::default(),
            wording: Vec::new(),
            session_ttl_seconds: DEFAULT_TTL_SECONDS,
            websocket_url: None,
            status_poll_seconds: 2,
            same_origins: Vec::new(),
            settle_secs: dtg_app::export::DEFAULT_SETTLE_SECS,
        }
    }

    /// Whether a browser request from `origin` may change things here.
    #[must_use]
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.web_origin
            .iter()
            .chain(&self.same_origins)
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

/// The API's state: the backend, its configuration and the token cipher.
pub struct Api<B: Backend> {
    /// The ports.
    pub backend: Arc<B>,
    /// The configuration.
    pub config: ApiConfig,
    /// Seals Jira tokens.
    pub cipher: TokenCipher,
    /// When each session's export status was last polled.
    polls: Mutex<HashMap<String, Instant>>,
}

impl<B: Backend> std::fmt::Debug for Api<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Api<B> {
    /// The repositories.
    #[must_use]
    pub fn repos(&self) -> Repos<'_, B::Table> {
        auth::repos_of(self.backend.as_ref(), self.config.session_ttl_seconds)
    }

    /// Whether a poll of `session`'s export status is allowed now; if not,
    /// the seconds to wait.
    fn poll_allowed(&self, session: &str) -> Result<(), u64> {
        let gap = Duration::from_secs(self.config.status_poll_seconds);
        let now = Instant::now();
        let mut polls = self
            .polls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if polls.len() > 10_000 {
            polls.retain(|_, at| now.duration_since(*at) < gap);
        }
        match polls.get(session) {
            Some(at) if now.duration_since(*at) < gap => {
                Err((gap - now.duration_since(*at)).as_secs().max(1))
            }
            _ => {
                polls.insert(session.to_owned(), now);
                Ok(())
            }
        }
    }
}

/// The API router: every route under `/api/v1`, the error shape, sign-in,
/// CSRF and CORS.
pub fn router<B: Backend>(backend: Arc<B>, config: ApiConfig, cipher: TokenCipher) -> Router {
    let cors = config.web_origin.as_deref().and_then(|o| {
        HeaderValue::from_str(o.trim_end_matches('/'))
            .ok()
            .map(|origin| {
                tower_http::cors::CorsLayer::new()
                    .allow_origin(origin)
                    .allow_credentials(true)
                    .allow_methods([
                        Method::GET,
                        Method::POST,
                        Method::PUT,
                        Method::PATCH,
                        Method::DELETE,
                    ])
                    .allow_headers([
                        header::CONTENT_TYPE,
                        header::IF_MATCH,
                        header::HeaderName::from_static(auth::CSRF_HEADER),
                    ])
                    .expose_headers([header::ETAG, header::RETRY_AFTER])
            })
    });
    let api = Arc::new(Api {
        backend,
        config,
        cipher,
        polls: Mutex::new(HashMap::new()),
    });
    let signed_in = Router::new()
        .route(
            "/api/v1/sessions",
            post(sessions::create::<B>).get(sessions::list::<B>),
        )
        .route(
            "/api/v1/sessions/{session_id}",
            get(sessions::show::<B>).delete(sessions::remove::<B>),
        )
        .route(
            "/api/v1/sessions/{session_id}/uploads",
            post(sessions::request_uploads::<B>),
        )
        .route(
            "/api/v1/sessions/{session_id}/uploads/confirm",
            post(sessions::confirm_uploads::<B>),
        )
        .route(
            "/api/v1/sessions/{session_id}/validation",
            get(sessions::validation::<B>),
        )
        .route(
            "/api/v1/sessions/{session_id}/processing",
            post(sessions::start_processing::<B>).get(sessions::processing::<B>),
        )
        .route("/api/v1/llm/models", get(sessions::models::<B>))
        .merge(review::routes::<B>())
        .merge(jira::routes::<B>())
        .route("/api/v1/ws/ticket", post(ws::ticket::<B>))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&api),
            auth::require_caller::<B>,
        ));
    let public = Router::new()
        .route("/api/v1/auth/me", get(auth::me::<B>))
        .route("/api/v1/auth/options", get(auth::options::<B>))
        .route("/api/v1/auth/token", post(auth::token_sign_in::<B>))
        .route("/api/v1/auth/logout", post(auth::logout::<B>))
        .route("/api/v1/auth/atlassian", get(auth::atlassian_start::<B>))
        .route(
            "/api/v1/auth/atlassian/callback",
            get(auth::atlassian_callback::<B>),
        )
        .route("/api/v1/ws", get(ws::connect::<B>))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/health", get(openapi::health));
    let mut router = signed_in
        .merge(public)
        .fallback(extract::no_route)
        .method_not_allowed_fallback(extract::no_method)
        .with_state(api);
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router.layer(middleware::from_fn(auth::correlate))
}

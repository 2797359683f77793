//! An emulator of Jira Cloud for tests: an HTTP server on a loopback port
//! that answers the REST API v3, Agile 1.0 and OAuth 2.0 (3LO) endpoints the
//! product uses, with Jira's validation and error bodies, Jira Cloud's rate
//! limits, and faults that tests inject on demand.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dtg_jira_emulator::EmulatorError> {
//! use dtg_jira_emulator::{Config, JiraEmulator};
//! let emu = JiraEmulator::start(Config::default()).await?;
//! emu.faults().lose_answer_of_create(2);
//! // ... point the client at emu.base_url() with emu.basic_auth() ...
//! assert!(emu.duplicates().is_empty());
//! # Ok(()) }
//! ```
//!
//! A plain `#[test]` (one that runs the `dtg` binary, say) uses
//! [`JiraEmulator::start_in_background`], which runs the server on a thread
//! with its own runtime.
//!
//! What the emulator holds is in [`config`] (what it starts with) and
//! [`world`] (what requests made); the endpoints are in `api`, sign-in in
//! `auth`, create checks in [`validate`], search in [`jql`], rate limits in
//! [`limits`].

mod api;
mod auth;
pub mod config;
pub mod jql;
pub mod limits;
pub mod validate;
pub mod wire;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use api::{JIRA_SCHEMAS, schema_validator};
pub use config::{
    BoardConfig, Config, Credentials, FieldConfig, IssueTypeConfig, LinkTypeConfig, OAuthApp,
    PriorityConfig, ProjectConfig, SprintConfig, UserConfig,
};
pub use limits::{Burst, Limits, PerIssue, Quota};
pub use world::{Attachment, Issue, Link, LostAnswer, RequestRecord};

use api::{KillSwitch, Shared};
use world::World;

/// The entity property each exported issue carries (the product's ticket id).
pub const TICKET_PROPERTY: &str = "dtg.ticket";

/// Why the emulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The port cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The official ADF schema cannot be loaded (run `make deps`).
    #[error("{0}")]
    AdfSchema(String),
    /// The background runtime cannot be built.
    #[error("cannot start the emulator's runtime: {0}")]
    Runtime(std::io::Error),
}

/// A running emulator; it stops when dropped.
#[derive(Debug)]
pub struct JiraEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for JiraEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, router: Router) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let kill = KillSwitch::default();
        let service = TowerToHyperService::new(router.clone().layer(axum::Extension(kill.clone())));
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = kill.0.notified() => {}
            }
        });
    }
}

impl JiraEmulator {
    /// Starts on `127.0.0.1` on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or the ADF schema cannot be loaded.
    pub async fn start(config: Config) -> Result<Self, EmulatorError> {
        Self::start_on("127.0.0.1:0", config).await
    }

    /// Starts on the given address (`127.0.0.1:8090`).
    ///
    /// # Errors
    /// When the port cannot be bound or the ADF schema cannot be loaded.
    pub async fn start_on(addr: &str, config: Config) -> Result<Self, EmulatorError> {
        validate::adf_validator().map_err(EmulatorError::AdfSchema)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let local = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(config)),
            base_url: format!("http://{local}"),
        });
        let router = Router::new()
            .fallback(api::dispatch)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(serve(listener, router));
        Ok(Self {
            shared,
            addr: local,
            server,
        })
    }

    /// Starts on a thread of its own with its own runtime, for tests that
    /// are not async (a test that runs the `dtg` binary).
    ///
    /// # Errors
    /// When the runtime cannot be built or the emulator cannot start.
    pub fn start_in_background(config: Config) -> Result<BackgroundEmulator, EmulatorError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(EmulatorError::Runtime)?;
        let emulator = runtime.block_on(Self::start(config))?;
        Ok(BackgroundEmulator {
            emulator,
            runtime: Some(runtime),
        })
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The site's base URL (`http://127.0.0.1:PORT`): REST under `/rest/api/3`,
    /// Agile under `/rest/agile/1.0`, OAuth under `/oauth/token`.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The gateway URL OAuth apps use: `{base}/ex/jira/{cloudid}`.
    #[must_use]
    pub fn gateway_url(&self) -> String {
        let cloud = self
            .shared
            .world()
            .config
            .credentials
            .oauth
            .as_ref()
            .map(|o| o.cloud_id.clone())
            .unwrap_or_default();
        format!("{}/ex/jira/{cloud}", self.shared.base_url)
    }

    /// The `Authorization` header value of the first configured API token
    /// (`Basic base64(email:token)`).
    #[must_use]
    pub fn basic_auth(&self) -> String {
        let world = self.shared.world();
        let (email, token) = world
            .config
            .credentials
            .api_tokens
            .first()
            .cloned()
            .unwrap_or_default();
        format!(
            "Basic {}",
            wire::base64_encode(format!("{email}:{token}").as_bytes())
        )
    }

    /// Fault injection.
    #[must_use]
    pub fn faults(&self) -> Faults {
        Faults {
            shared: Arc::clone(&self.shared),
        }
    }

    /// A fresh authorization code the token endpoint accepts once (what the
    /// browser would bring back from `auth.atlassian.com/authorize`).
    #[must_use]
    pub fn authorization_code(&self) -> String {
        let mut world = self.shared.world();
        let code = world.token("code");
        world.codes.insert(code.clone());
        code
    }

    /// Replaces the rate limits (and resets their counters).
    pub fn set_limits(&self, limits: Limits) {
        self.shared.world().limiter.set_limits(limits);
    }

    /// The rate limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.shared.world().limiter.limits().clone()
    }

    /// Every issue, in creation order (those of deleted projects included).
    #[must_use]
    pub fn issues(&self) -> Vec<Issue> {
        self.shared.world().issues.clone()
    }

    /// One issue by key or id.
    #[must_use]
    pub fn issue(&self, key_or_id: &str) -> Option<Issue> {
        self.shared
            .world()
            .issues
            .iter()
            .find(|i| i.key == key_or_id || i.id == key_or_id)
            .cloned()
    }

    /// Every link, in creation order (duplicates were not stored).
    #[must_use]
    pub fn links(&self) -> Vec<Link> {
        self.shared.world().links.clone()
    }

    /// Every request received, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.world().log.clone()
    }

    /// Requests by endpoint (`POST /rest/api/3/issue/bulk`).
    #[must_use]
    pub fn request_counts(&self) -> BTreeMap<String, usize> {
        self.shared.world().counts.clone()
    }

    /// Requests received by one endpoint (`POST /rest/api/3/issue/bulk`).
    #[must_use]
    pub fn count(&self, endpoint: &str) -> usize {
        self.shared
            .world()
            .counts
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// How many 429 answers were sent.
    #[must_use]
    pub fn throttled(&self) -> usize {
        self.shared.world().throttled
    }

    /// Issues that share a [`TICKET_PROPERTY`] value: ticket id and the keys
    /// of its issues. Empty when no ticket was exported twice.
    #[must_use]
    pub fn duplicates(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_ticket: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for issue in &self.shared.world().issues {
            if let Some(v) = issue.properties.get(TICKET_PROPERTY) {
                let ticket = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                by_ticket.entry(ticket).or_default().push(issue.key.clone());
            }
        }
        by_ticket.retain(|_, keys| keys.len() > 1);
        by_ticket
    }

    /// Forgets the request log and counters (issues and links stay).
    pub fn clear_log(&self) {
        let mut world = self.shared.world();
        world.log.clear();
        world.counts.clear();
        world.throttled = 0;
    }
}

/// Faults to inject, set by tests while the emulator runs. Endpoints are
/// named as in the request counts: method and path template
/// (`POST /rest/api/3/issue/bulk`).
#[derive(Debug, Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl Faults {
    /// The answer to the `n`-th create call from now (single or bulk; 1 is
    /// the next) is lost after the issues were made: by default the
    /// connection is closed without an answer.
    pub fn lose_answer_of_create(&self, n: u64) {
        let mut world = self.shared.world();
        let at = world.creates_seen + n.max(1);
        world.faults.lose_creates.insert(at);
    }

    /// How lost answers are lost: dropped (the default), held back, or the
    /// whole request held back so the issues appear after the client gave up.
    pub fn lose_answers_by(&self, mode: LostAnswer) {
        self.shared.world().faults.lost_mode = mode;
    }

    /// How long a new issue stays out of JQL search results (Jira Cloud's
    /// search index lags its writes by seconds, more after bulk writes).
    /// Reads by key or id (`GET /issue/{key}`, `POST /issue/bulkfetch`) and
    /// ids named in `reconcileIssues` see it at once.
    pub fn lag_search_index(&self, lag: std::time::Duration) {
        self.shared.world().config.search_lag = lag;
    }

    /// The next `n` requests (any endpoint, after authentication) answer
    /// `status` (500, 502, 503 or 504) without doing anything.
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut world = self.shared.world();
        world
            .faults
            .next_errors
            .extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` requests to `endpoint` answer `status`.
    pub fn fail_endpoint(&self, endpoint: &str, n: usize, status: u16) {
        let mut world = self.shared.world();
        world
            .faults
            .endpoint_errors
            .entry(endpoint.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(status, n));
    }

    /// Every OAuth access token issued so far expires now (calls with them
    /// get 401; refresh tokens still work).
    pub fn expire_access_tokens(&self) {
        let mut world = self.shared.world();
        let now = std::time::Instant::now();
        for token in world.access_tokens.values_mut() {
            token.expires = now;
        }
    }

    /// Every API token and personal access token expires now: calls signed
    /// with one get 401 until [`Faults::renew_api_tokens`] (OAuth access
    /// tokens are not affected).
    pub fn expire_api_tokens(&self) {
        self.shared.world().faults.tokens_expired = true;
    }

    /// The API tokens and personal access tokens are renewed (they work again).
    pub fn renew_api_tokens(&self) {
        self.shared.world().faults.tokens_expired = false;
    }

    /// Write permission is revoked: creates, links, attachments and
    /// property writes answer 403.
    pub fn revoke_write_permission(&self) {
        self.shared.world().faults.write_forbidden = true;
    }

    /// Write permission is given back.
    pub fn restore_write_permission(&self) {
        self.shared.world().faults.write_forbidden = false;
    }

    /// The project is deleted now: 404 on it, on creates into it and on its issues.
    pub fn delete_project(&self, key: &str) {
        self.shared.world().deleted_projects.insert(key.to_owned());
    }

    /// A deleted project is restored from the trash, with its issues.
    pub fn restore_project(&self, key: &str) {
        let mut world = self.shared.world();
        world.deleted_projects.remove(key);
        world.faults.delete_after.remove(key);
    }

    /// The project is deleted once `n` more issues were created in it.
    pub fn delete_project_after_creates(&self, key: &str, n: usize) {
        let mut world = self.shared.world();
        if n == 0 {
            world.deleted_projects.insert(key.to_owned());
        } else {
            world.faults.delete_after.insert(key.to_owned(), n);
        }
    }

    /// Every answer is sent this much later.
    pub fn slow_answers(&self, delay: Duration) {
        self.shared.world().faults.slow_all = delay;
    }

    /// Answers of one endpoint are sent this much later.
    pub fn slow_endpoint(&self, endpoint: &str, delay: Duration) {
        self.shared
            .world()
            .faults
            .slow_endpoints
            .insert(endpoint.to_owned(), delay);
    }

    /// Clears every pending fault (counters stay).
    pub fn clear(&self) {
        let mut world = self.shared.world();
        let (lost, sent) = (world.faults.answers_lost, world.faults.errors_sent);
        world.faults = world::FaultPlan::default();
        world.faults.answers_lost = lost;
        world.faults.errors_sent = sent;
    }

    /// How many answers were lost on purpose.
    #[must_use]
    pub fn answers_lost(&self) -> usize {
        self.shared.world().faults.answers_lost
    }

    /// How many injected 5xx answers were sent.
    #[must_use]
    pub fn server_errors_sent(&self) -> usize {
        self.shared.world().faults.errors_sent
    }

    /// Creates still to be answered normally before a pending lost answer,
    /// if one is pending.
    #[must_use]
    pub fn pending_lost_answer(&self) -> Option<u64> {
        let world = self.shared.world();
        world
            .faults
            .lose_creates
            .iter()
            .next()
            .map(|at| at.saturating_sub(world.creates_seen + 1))
    }
}

/// An emulator running on its own runtime, for tests that are not async.
/// It stops when dropped.
#[derive(Debug)]
pub struct BackgroundEmulator {
    emulator: JiraEmulator,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::ops::Deref for BackgroundEmulator {
    type Target = JiraEmulator;

    fn deref(&self) -> &JiraEmulator {
        &self.emulator
    }
}

impl Drop for BackgroundEmulator {
    fn drop(&mut self) {
        self.emulator.server.abort();
        // Without waiting, so that it may be dropped inside another runtime too.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

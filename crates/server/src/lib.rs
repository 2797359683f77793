//! `dtg serve`: the HTTP API's [`Router`](axum::Router) over the embedded
//! adapters (SQLite, a blob folder), with the long work run as tasks of the
//! same process, progress through an in-process WebSocket hub, presigned
//! URLs served by the blob routes, and the static web client when present.

mod jobs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dtg_api::{ApiConfig, AuthMode, Backend, WordingOption};
use dtg_app::repo::TokenCipher;
use dtg_app::store::{Blobs, Table, Timestamp};
use dtg_embedded::{FolderBlobs, Hub, SqliteTable, blob_routes};
use dtg_jira::{JiraConfig, OAuthSetup, SiteAccess};
use dtg_llm::LlmConfig;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

pub use jobs::{EXPORT_ASL, LocalJobs, PROCESSING_ASL, substitutions};

/// Seconds since the Unix epoch.
#[must_use]
pub fn system_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The ports of one process: a table and a blob store (SQLite and a
/// folder for `dtg serve`; any adapters for tests), jobs in process, the hub.
pub struct LocalBackend<T: Table = SqliteTable, B: Blobs = FolderBlobs> {
    table: Arc<T>,
    blobs: Arc<B>,
    jobs: LocalJobs<T, B>,
    jira: Arc<SiteAccess<T>>,
    hub: Arc<Hub>,
}

impl<T: Table, B: Blobs> std::fmt::Debug for LocalBackend<T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend").finish_non_exhaustive()
    }
}

impl<T: Table, B: Blobs> Backend for LocalBackend<T, B> {
    type Table = T;
    type Blobs = B;
    type Jobs = LocalJobs<T, B>;
    type Jira = SiteAccess<T>;

    fn table(&self) -> &T {
        &self.table
    }
    fn blobs(&self) -> &B {
        &self.blobs
    }
    fn jobs(&self) -> &LocalJobs<T, B> {
        &self.jobs
    }
    fn jira(&self) -> &SiteAccess<T> {
        &self.jira
    }
    fn now(&self) -> Timestamp {
        system_now()
    }
    fn listen(&self, session: &str) -> Option<broadcast::Receiver<Arc<str>>> {
        Some(self.hub.subscribe(session))
    }
}

/// How `dtg serve` is set up.
#[derive(Clone)]
pub struct ServeConfig {
    /// Where to listen (`127.0.0.1:8080`; port 0 for any free port).
    pub addr: SocketAddr,
    /// The SQLite file (`None`: in memory).
    pub database: Option<PathBuf>,
    /// The blob folder.
    pub blobs: PathBuf,
    /// Secret signing presigned URLs.
    pub blob_secret: Vec<u8>,
    /// Key sealing Jira tokens (hex, 64 digits).
    pub token_key: String,
    /// The web client's folder (served at `/` when it has an `index.html`).
    pub web_dir: Option<PathBuf>,
    /// Sign-in: `None` runs as one local user (loopback only).
    pub accounts: Option<Accounts>,
    /// Models offered for wording, with the configuration of each provider.
    pub llm: Vec<(WordingOption, LlmConfig)>,
    /// The client configuration of a Jira site (bases, timeouts, pacing).
    pub jira: Arc<dyn Fn(&str) -> JiraConfig + Send + Sync>,
    /// Whether `http://` Jira sites are accepted.
    pub allow_http_sites: bool,
    /// The web origin, when the web client is served from elsewhere.
    pub web_origin: Option<String>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("addr", &self.addr)
            .field("database", &self.database)
            .field("blobs", &self.blobs)
            .field("web_dir", &self.web_dir)
            .field("accounts", &self.accounts)
            .finish_non_exhaustive()
    }
}

/// Sign-in with accounts.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// Atlassian OAuth, when set up.
    pub oauth: Option<OAuthSetup>,
    /// Whether the API-token form is offered.
    pub token_form: bool,
}

/// A running server.
#[derive(Debug)]
pub struct Running<T: Table = SqliteTable, B: Blobs = FolderBlobs> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The server task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The ports (tests read the store through them).
    pub backend: Arc<LocalBackend<T, B>>,
}

/// What starting can fail with.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Binds the address and serves the API over SQLite (or memory) and the
/// blob folder, whose presigned URLs it serves too.
///
/// # Errors
/// The address cannot be bound; the store or the blob folder cannot be opened.
pub async fn start(config: ServeConfig) -> Result<Running, StartError> {
    let listener = TcpListener::bind(config.addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let table = Arc::new(match &config.database {
        Some(path) => SqliteTable::open(path)?,
        None => SqliteTable::open_in_memory()?,
    });
    let blobs = Arc::new(FolderBlobs::new(
        &config.blobs,
        &url,
        config.blob_secret.clone(),
    )?);
    let routes = blob_routes(Arc::clone(&blobs));
    serve_with(listener, config, table, blobs, routes).await
}

/// Serves the API on `listener` over any table and blob store (DynamoDB and
/// S3 in the AWS adapters' tests), with `extra` routes beside it.
///
/// # Errors
/// The token key or the Jira client configuration is wrong.
pub async fn serve_with<T: Table, B: Blobs>(
    listener: TcpListener,
    config: ServeConfig,
    table: Arc<T>,
    blobs: Arc<B>,
    extra: axum::Router,
) -> Result<Running<T, B>, StartError> {
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let cipher = TokenCipher::from_hex(&config.token_key)?;
    let jira = Arc::new(SiteAccess::new(
        Arc::clone(&table),
        cipher.clone(),
        {
            let jira = Arc::clone(&config.jira);
            move |site: &str| jira(site)
        },
        config.accounts.as_ref().and_then(|a| a.oauth.clone()),
    )?);
    let hub = Arc::new(Hub::new());
    let jobs = LocalJobs::new(
        Arc::clone(&table),
        Arc::clone(&blobs),
        Arc::clone(&jira),
        Arc::clone(&hub),
        config
            .llm
            .iter()
            .map(|(o, c)| (o.provider.clone(), c.clone()))
            .collect(),
    )?;
    let backend = Arc::new(LocalBackend {
        table,
        blobs,
        jobs,
        jira,
        hub,
    });
    let auth = match &config.accounts {
        None => AuthMode::Local {
            csrf: dtg_api::auth::random_token(32),
        },
        Some(a) => AuthMode::Accounts {
            token_form: a.token_form,
        },
    };
    let mut api_config = ApiConfig::new(auth);
    api_config.secure_cookies = false;
    api_config.allow_http_sites = config.allow_http_sites;
    api_config.web_origin = Some(config.web_origin.clone().unwrap_or_else(|| url.clone()));
    api_config.wording = config.llm.iter().map(|(o, _)| o.clone()).collect();
    if addr.ip().is_loopback() {
        api_config.same_origins = vec![
            format!("http://localhost:{}", addr.port()),
            format!("http://127.0.0.1:{}", addr.port()),
            format!("http://[::1]:{}", addr.port()),
        ];
    }
    let mut router = dtg_api::router(Arc::clone(&backend), api_config, cipher).merge(extra);
    if let Some(dir) = config.web_dir.filter(|d| d.join("index.html").is_file()) {
        let index = dir.join("index.html");
        router = router.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(index)),
        );
    }
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running {
        addr,
        url,
        task,
        backend,
    })
}

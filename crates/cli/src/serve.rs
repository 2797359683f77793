//! `dtg serve`: the HTTP API and the web client on this machine, over the
//! local store (SQLite and the blob folder under `$DTG_HOME`), with the long
//! work run in process and progress over a WebSocket.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use dtg_api::WordingOption;
use dtg_jira::{JiraConfig, OAuthApp, OAuthSetup, Secret};
use dtg_llm::LlmConfig;
use dtg_server::{Accounts, ServeConfig};

use crate::local::{home, new_id};

/// Arguments of `dtg serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080, value_name = "P")]
    port: u16,
    /// Address to listen on; anything but loopback requires sign-in.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST), value_name = "ADDR")]
    host: IpAddr,
    /// Open the web client in the browser once listening.
    #[arg(long)]
    open: bool,
    /// Require sign-in (API token form; Atlassian when `DTG_OAUTH_CLIENT_ID` is set)
    /// even on loopback.
    #[arg(long)]
    accounts: bool,
    /// The web client's folder (default: `web/dist` when it exists, or `$DTG_WEB_DIR`).
    #[arg(long, value_name = "DIR", env = "DTG_WEB_DIR")]
    web: Option<PathBuf>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret file under the store, made on first use and private to the user.
fn secret_file(name: &str, make: impl FnOnce() -> String) -> Result<String> {
    let home = home()?;
    std::fs::create_dir_all(&home)
        .with_context(|| format!("cannot create the session store {}", home.display()))?;
    let path = home.join(name);
    if let Ok(text) = std::fs::read_to_string(&path)
        && !text.trim().is_empty()
    {
        return Ok(text.trim().to_owned());
    }
    let value = make();
    let tmp = home.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &value).with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(value)
}

/// The models the server offers: the provider `DTG_LLM_*` configures, with
/// `DTG_LLM_MODEL` and any of `DTG_LLM_MODELS` (comma-separated).
fn wording() -> Result<Vec<(WordingOption, LlmConfig)>> {
    let Some(offer) = dtg_llm::offer_from_lookup(var)? else {
        if var("DTG_LLM_PROVIDER").is_some_and(|p| p != "deterministic") {
            eprintln!(
                "dtg serve: DTG_LLM_PROVIDER is set but no API key is: tickets keep the planner's text"
            );
        }
        return Ok(Vec::new());
    };
    Ok(vec![(
        WordingOption {
            provider: offer.provider,
            models: offer.models,
            default_model: offer.default_model,
        },
        offer.config,
    )])
}

/// Runs `dtg serve` until interrupted.
///
/// # Errors
/// The port is taken; the store cannot be opened; a configuration value is wrong.
pub fn run(args: &Args) -> Result<u8> {
    // Logs (with each failure's correlation id) on stderr; `DTG_LOG` filters them.
    let filter = tracing_subscriber::EnvFilter::try_from_env("DTG_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,dtg_api=info,dtg_server=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let addr = SocketAddr::new(args.host, args.port);
    let oauth = match (var("DTG_OAUTH_CLIENT_ID"), var("DTG_OAUTH_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Some(OAuthSetup {
            app: OAuthApp {
                client_id: id,
                client_secret: Secret::new(secret),
            },
            redirect_uri: var("DTG_OAUTH_REDIRECT_URI")
                .unwrap_or_else(|| format!("http://{addr}/api/v1/auth/atlassian/callback")),
        }),
        (None, None) => None,
        _ => bail!("set both DTG_OAUTH_CLIENT_ID and DTG_OAUTH_CLIENT_SECRET, or neither"),
    };
    let loopback = args.host.is_loopback();
    let accounts = if oauth.is_some() || args.accounts || !loopback {
        Some(Accounts {
            oauth,
            token_form: true,
        })
    } else {
        None
    };
    let home = home()?;
    let blob_secret = secret_file("blob.secret", || format!("{}{}", new_id(), new_id()))?;
    let token_key = match var("DTG_TOKEN_KEY") {
        Some(k) => k,
        None => secret_file("token.key", dtg_app::repo::TokenCipher::generate_key_hex)?,
    };
    let auth_base = var("DTG_JIRA_AUTH_BASE");
    let api_base = var("DTG_JIRA_API_BASE");
    let web = args.web.clone().or_else(|| {
        let dist = PathBuf::from("web/dist");
        dist.join("index.html").is_file().then_some(dist)
    });
    let config = ServeConfig {
        addr,
        database: Some(home.join("store.sqlite")),
        blobs: home.join("blobs"),
        blob_secret: blob_secret.into_bytes(),
        token_key,
        web_dir: web.clone(),
        accounts: accounts.clone(),
        llm: wording()?,
        jira: Arc::new(move |site: &str| {
            let config = JiraConfig::new(site);
            match (&auth_base, &api_base) {
                (Some(a), Some(b)) => config.with_bases(a.clone(), b.clone()),
                _ => config,
            }
        }),
        allow_http_sites: var("DTG_ALLOW_HTTP_JIRA").is_some_and(|v| v == "1" || v == "true"),
        web_origin: var("DTG_WEB_ORIGIN"),
    };
    let models = config.llm.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = dtg_server::start(config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve on {addr}: {e}"))?;
        let mode = match &accounts {
            None => "one local user, no sign-in (loopback only)".to_owned(),
            Some(a) if a.oauth.is_some() => "sign-in with Atlassian or an API token".to_owned(),
            Some(_) => "sign-in with a Jira API token".to_owned(),
        };
        println!("dtg serve: listening on {} ({mode})", running.url);
        println!("  API document: {}/api/v1/openapi.json", running.url);
        println!("  store: {}", home.display());
        match &web {
            Some(dir) => println!("  web client: {}/ (from {})", running.url, dir.display()),
            None => println!("  web client: not built (the API alone is served)"),
        }
        if models == 0 {
            println!("  wording: the planner's text (set DTG_LLM_PROVIDER and a key to offer a model)");
        }
        if args.open {
            open_browser(&running.url);
        }
        tokio::select! {
            served = running.task => served.context("the server stopped")?.context("the server failed")?,
            _ = tokio::signal::ctrl_c() => eprintln!("dtg serve: stopped"),
        }
        anyhow::Ok(())
    })?;
    Ok(crate::exit::OK)
}

/// Opens `url` in the desktop's browser, if there is one.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(opener).arg(url).spawn().is_err() {
        eprintln!("dtg serve: open {url} in your browser");
    }
}

//! Spawning `dtg serve` on port 0 with its own store, the Jira and LLM
//! emulators beside it, and a small client that signs in and carries the
//! cookie, the CSRF token and the web origin as the web client does.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dtg_api::WordingOption;
use dtg_jira::{JiraConfig, OAuthApp, OAuthSetup, Secret};
use dtg_jira_emulator::{Config, JiraEmulator};
use dtg_llm::LlmConfig;
use dtg_llm_emulator::{Emulator as LlmEmulator, Script};
use dtg_server::{Accounts, ServeConfig, serve_with, start};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A running server, whichever adapters it runs on.
pub struct Server {
    pub url: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server, its emulators and its folder.
pub struct TestApp {
    pub server: Server,
    pub jira: JiraEmulator,
    pub llm: Option<LlmEmulator>,
    pub dir: tempfile::TempDir,
}

/// How to spawn.
#[derive(Default)]
pub struct Options {
    /// DynamoDB and S3 where this configuration points (moto) instead of SQLite and a folder.
    pub aws: Option<aws_config::SdkConfig>,
    /// Accounts (API-token form and OAuth) instead of the local user.
    pub accounts: bool,
    /// Offer OpenAI's gpt-4o-mini through the LLM emulator.
    pub llm: bool,
    /// The LLM emulator's script (default: good answers at once).
    pub llm_script: Option<Script>,
    /// HTTP attempts per LLM request (`DTG_LLM_MAX_ATTEMPTS`; default the client's).
    pub llm_attempts: Option<u32>,
}

pub async fn spawn(options: Options) -> TestApp {
    let mut config = Config::unlimited();
    config
        .credentials
        .api_tokens
        .push(("dana@example.com".to_owned(), "dana-token".to_owned()));
    let jira = JiraEmulator::start(config).await.unwrap();
    let base = jira.base_url();
    let llm = if options.llm {
        Some(
            LlmEmulator::start(options.llm_script.clone().unwrap_or_default())
                .await
                .unwrap(),
        )
    } else {
        None
    };
    let llm_options = llm
        .as_ref()
        .map(|emu| {
            let url = emu.openai_base_url();
            let config = LlmConfig::from_lookup(|k| match k {
                "DTG_LLM_PROVIDER" => Some("openai".to_owned()),
                "DTG_LLM_BASE_URL" => Some(url.clone()),
                "DTG_LLM_API_KEY" => Some("sk-test".to_owned()),
                "DTG_LLM_MAX_ATTEMPTS" => options.llm_attempts.map(|n| n.to_string()),
                _ => None,
            })
            .unwrap();
            vec![(
                WordingOption {
                    provider: "openai".to_owned(),
                    models: vec!["gpt-4o-mini".to_owned()],
                    default_model: "gpt-4o-mini".to_owned(),
                },
                config,
            )]
        })
        .unwrap_or_default();
    let dir = tempfile::tempdir().unwrap();
    let bases = base.clone();
    let config = ServeConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: Some(dir.path().join("store.sqlite")),
        blobs: dir.path().join("blobs"),
        blob_secret: b"test-secret".to_vec(),
        token_key: dtg_app::repo::TokenCipher::generate_key_hex(),
        web_dir: None,
        accounts: options.accounts.then(|| Accounts {
            oauth: Some(OAuthSetup {
                app: OAuthApp {
                    client_id: dtg_jira_emulator::config::DEFAULT_CLIENT_ID.to_owned(),
                    client_secret: Secret::new(dtg_jira_emulator::config::DEFAULT_CLIENT_SECRET),
                },
                redirect_uri: "http://127.0.0.1/api/v1/auth/atlassian/callback".to_owned(),
            }),
            token_form: true,
        }),
        llm: llm_options,
        jira: Arc::new(move |site: &str| {
            let mut c = JiraConfig::new(site).with_bases(bases.clone(), bases.clone());
            c.request_timeout = Duration::from_secs(20);
            c
        }),
        allow_http_sites: true,
        web_origin: None,
    };
    let server = match &options.aws {
        None => {
            let running = start(config).await.unwrap();
            Server {
                url: running.url,
                task: running.task,
            }
        }
        Some(sdk) => {
            let (table, blobs) = aws_adapters(sdk).await;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let running = serve_with(
                listener,
                config,
                Arc::new(table),
                Arc::new(blobs),
                axum::Router::new(),
            )
            .await
            .unwrap();
            Server {
                url: running.url,
                task: running.task,
            }
        }
    };
    TestApp {
        server,
        jira,
        llm,
        dir,
    }
}

/// An HTTP answer, read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// A browser-like client: the cookie, the CSRF token, the web origin.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub origin: Option<String>,
}

impl Client {
    /// A client with nothing: no cookie, no token.
    pub fn anonymous(app: &TestApp) -> Self {
        Self {
            base: app.server.url.clone(),
            http: {
                dtg_jira::install_tls_crypto();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap()
            },
            cookie: None,
            csrf: None,
            origin: Some(app.server.url.clone()),
        }
    }

    /// Signs in with an API token of the Jira emulator.
    pub async fn signed_in(app: &TestApp, email: &str, token: &str) -> Self {
        let mut client = Self::anonymous(app);
        let answer = client
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/token",
                Some(json!({"site": app.jira.base_url(), "email": email, "api_token": token})),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "sign-in: {}", answer.text);
        let set = answer.headers["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        client.cookie = Some(set.split(';').next().unwrap().to_owned());
        client.csrf = Some(answer.body["csrf_token"].as_str().unwrap().to_owned());
        client
    }

    /// The local user of a server without accounts (reads its CSRF token).
    pub async fn local(app: &TestApp) -> Self {
        let mut client = Self::anonymous(app);
        let me = client.get("/api/v1/auth/me").await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.body["mode"], "local");
        client.csrf = Some(me.body["csrf_token"].as_str().unwrap().to_owned());
        client
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.http.request(method, url);
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        if let Some(t) = &self.csrf {
            request = request.header("x-csrf-token", t);
        }
        if let Some(o) = &self.origin {
            request = request.header("origin", o);
        }
        if let Some(m) = if_match {
            request = request.header("if-match", m);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body), None)
            .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None, None).await
    }

    /// Uploads a folder's CSV files: URLs, PUTs, confirmation.
    pub async fn upload(&self, session: &str, folder: &Path) -> Answer {
        let files = csv_files(folder);
        let ask: Vec<Value> = files
            .iter()
            .map(|p| json!({"name": p.file_name().unwrap().to_str().unwrap(), "size": std::fs::metadata(p).unwrap().len()}))
            .collect();
        let urls = self
            .post(
                &format!("/api/v1/sessions/{session}/uploads"),
                json!({"files": ask}),
            )
            .await;
        assert_eq!(urls.status, 200, "{}", urls.text);
        for (slot, path) in urls.body["uploads"].as_array().unwrap().iter().zip(&files) {
            let put = self
                .http
                .put(slot["url"].as_str().unwrap())
                .header("content-type", "text/csv")
                .body(std::fs::read(path).unwrap())
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success(), "PUT {}", put.status());
        }
        self.post(
            &format!("/api/v1/sessions/{session}/uploads/confirm"),
            json!({}),
        )
        .await
    }

    /// Polls `path` until `done(body)`, for at most `secs` seconds.
    pub async fn wait_for(&self, path: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let answer = self.get(path).await;
            if answer.status == 200 && done(&answer.body) {
                return answer.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} did not get there: {} {}",
                answer.status,
                answer.text
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The CSV files of a folder, by name.
pub fn csv_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

pub fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A DynamoDB table and an S3 bucket of their own, where `config` points.
async fn aws_adapters(config: &aws_config::SdkConfig) -> (dtg_aws::DynamoTable, dtg_aws::S3Blobs) {
    let name = format!("dtg-{}", uuid::Uuid::now_v7().simple());
    let table = dtg_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(config), &name);
    table.create_if_missing().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    let blobs = dtg_aws::S3Blobs::new(s3, &name);
    blobs.create_if_missing().await.unwrap();
    (table, blobs)
}

/// Opens the progress WebSocket for `session` and forwards every message.
pub async fn follow(client: &Client, session: &str) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let ticket = client.post("/api/v1/ws/ticket", json!({})).await;
    assert_eq!(ticket.status, 200, "{}", ticket.text);
    let url = format!(
        "{}{}?ticket={}",
        client.base.replace("http://", "ws://"),
        ticket.body["url"].as_str().unwrap(),
        ticket.body["ticket"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    futures_util::SinkExt::send(
        &mut socket,
        tokio_tungstenite::tungstenite::Message::text(
            json!({"action": "subscribe", "session_id": session}).to_string(),
        ),
    )
    .await
    .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) =
            futures_util::StreamExt::next(&mut socket).await
        {
            if let Ok(v) = serde_json::from_str::<Value>(&text)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Messages until one of type `until` (or the time runs out).
pub async fn until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    until: &str,
    secs: u64,
) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => {
                let done = m["type"] == until;
                seen.push(m);
                if done {
                    return seen;
                }
            }
            _ => panic!(
                "no {until} message within {secs} s; saw {:?}",
                seen.iter().map(|m| m["type"].clone()).collect::<Vec<_>>()
            ),
        }
    }
}

pub fn sample() -> std::path::PathBuf {
    root().join("sample_data/uwec_complete")
}

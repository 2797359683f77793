//! Scripted Jira servers for the client's tests: a tiny axum app on port 0
//! that records every request and answers from a per-test script, and a raw
//! TCP server that drops the connection without answering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dtg_jira::{JiraConfig, RetryPolicy};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer of the script.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
            delay: Duration::ZERO,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// The script: an answer for each request, given the ones before it.
pub type Script = Arc<dyn Fn(&Seen, &[Seen]) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Script,
}

/// A running scripted server.
pub struct Server {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Starts a server answering with `script`.
    pub async fn start(script: impl Fn(&Seen, &[Seen]) -> Reply + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            seen: seen.clone(),
            script: Arc::new(script),
        };
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { url, seen }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests received on a path.
    pub fn seen_on(&self, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path() == path)
            .collect()
    }
}

async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default()
        .to_vec();
    let seen = Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body,
    };
    let reply = {
        let mut all = shared.seen.lock().unwrap();
        let reply = (shared.script)(&seen, &all);
        all.push(seen);
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap();
    let mut response = match reply.body {
        Some(body) => (
            status,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response(),
        None => (status, Body::empty()).into_response(),
    };
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A server that reads each request and closes the connection without a
/// word; how many requests it read.
pub async fn dropping_server() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(Mutex::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 64 * 1024];
            let _ =
                tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buffer)).await;
            *counted.lock().unwrap() += 1;
            drop(socket);
        }
    });
    (url, count)
}

/// A config for `url` with quick retries.
pub fn config(url: &str) -> JiraConfig {
    let mut config = JiraConfig::new(url).with_bases(url, url);
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(10),
    };
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    config
}

/// "PROJ-1 blocks PROJ-2".
pub fn blocks() -> dtg_app::jira::NewLink {
    dtg_app::jira::NewLink {
        type_name: "Blocks".into(),
        inward_key: "PROJ-1".into(),
        outward_key: "PROJ-2".into(),
    }
}

/// An issue to create.
pub fn issue(summary: &str) -> dtg_app::jira::NewIssue {
    let mut properties = std::collections::BTreeMap::new();
    properties.insert(
        dtg_app::jira::TICKET_PROPERTY.to_owned(),
        serde_json::json!({ "ticket": summary }),
    );
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("customfield_10020".to_owned(), serde_json::json!(7));
    dtg_app::jira::NewIssue {
        project_key: "PROJ".into(),
        issue_type_id: "10002".into(),
        summary: summary.into(),
        description: serde_json::json!({
            "type": "doc", "version": 1,
            "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": summary }] }]
        }),
        labels: vec!["dtg-run-1".into()],
        priority_id: Some("3".into()),
        assignee: Some("5b10ac8d82e05b22cc7d4ef5".into()),
        parent_key: Some("PROJ-1".into()),
        extra_fields: extra,
        properties,
        blocked_by: None,
    }
}

//! An emulator of the two LLM APIs the ticket writer speaks, for tests: an
//! HTTP server on a loopback port answering OpenAI Chat Completions
//! (`POST /v1/chat/completions`) and Anthropic Messages (`POST /v1/messages`)
//! with scripted answers.
//!
//! Every request body is checked against the provider's published request
//! schema (fixtures: OpenAI's OpenAPI document, extracted by
//! `fixtures/extract_openai_schema.py`; Anthropic's documented Messages
//! fields), a strict answer format against the rules OpenAI documents for
//! it ([`strict`]), a tool's input schema against JSON Schema, and recorded
//! with what the checks found; a body that fails is answered 400, as the
//! real API would.
//!
//! By default every request gets a valid answer for the tickets its prompt
//! names (the ids in the prompt's JSON block), after the script's delay and
//! with the script's token counts. Faults are queued globally (first come,
//! first served) or per ticket id (for the next request naming that ticket):
//! 429 with or without `Retry-After`, any status, a hang past the client's
//! timeout, a malformed answer, a body that is not JSON, an answer that
//! breaks the answer schema, or any scripted answer. A good answer keeps to
//! the request's answer format (the ids it names are the prompt's, which the
//! format's `enum` lists); a scripted answer is sent as it is, like a model
//! ignoring its format.

pub mod strict;

pub use strict::check_strict_schema;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// OpenAI's Chat Completions request schema (see `fixtures/`).
pub const OPENAI_REQUEST_SCHEMA: &str =
    include_str!("../fixtures/openai-chat-completions-request.schema.json");

/// Anthropic's Messages request schema (see `fixtures/`).
pub const ANTHROPIC_REQUEST_SCHEMA: &str =
    include_str!("../fixtures/anthropic-messages-request.schema.json");

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
    /// A request schema fixture does not compile.
    #[error("request schema {0} does not compile: {1}")]
    Schema(&'static str, String),
}

/// Which API a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// Something to do instead of a good answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429, with this `Retry-After` value when given.
    RateLimit {
        /// The header's value (`"1"`, or an HTTP date).
        retry_after: Option<String>,
    },
    /// This HTTP status, with an error body.
    Status(u16),
    /// Answer only after this long (past the client's timeout, usually).
    Hang(Duration),
    /// An answer whose text is cut-off JSON.
    MalformedAnswer,
    /// A 200 whose body is not JSON at all.
    BrokenBody,
    /// A JSON answer that breaks the answer schema (no acceptance criteria).
    SchemaViolation,
    /// This answer (the object with `tickets`), whatever was asked.
    Answer(Value),
}

/// Tokens reported for every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptedUsage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// Prompt tokens read from the cache.
    pub cached_tokens: u64,
}

impl Default for ScriptedUsage {
    fn default() -> Self {
        Self {
            input_tokens: 1_000,
            output_tokens: 500,
            cached_tokens: 0,
        }
    }
}

/// What the emulator does.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Every answer is sent after this delay.
    pub delay: Duration,
    /// Tokens reported per answer.
    pub usage: ScriptedUsage,
    /// Faults for the next requests, in arrival order.
    pub faults: VecDeque<Fault>,
    /// Faults for the next requests naming a ticket id.
    pub by_ticket: HashMap<String, VecDeque<Fault>>,
}

impl Script {
    /// Good answers after `delay`.
    #[must_use]
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    /// Queues a fault for the next request.
    #[must_use]
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push_back(fault);
        self
    }

    /// Queues a fault for the next request that names `ticket`.
    #[must_use]
    pub fn fault_for(mut self, ticket: &str, fault: Fault) -> Self {
        self.by_ticket
            .entry(ticket.to_owned())
            .or_default()
            .push_back(fault);
        self
    }
}

/// One request as the emulator saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The API.
    pub api: Api,
    /// When it arrived.
    pub at: Instant,
    /// The body (`Null` when it was not JSON).
    pub body: Value,
    /// What the request schema check found (empty: the body is valid).
    pub schema_errors: Vec<String>,
    /// Ticket ids named in the prompt.
    pub ticket_ids: Vec<String>,
    /// Whether the request carried a key (`Authorization` or `x-api-key`).
    pub has_key: bool,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
}

impl Recorded {
    /// The schema the request asked the answer to satisfy: OpenAI's
    /// `response_format.json_schema.schema`, or the input schema of the tool
    /// Anthropic's `tool_choice` names.
    #[must_use]
    pub fn answer_schema(&self) -> Option<&Value> {
        answer_schema(self.api, &self.body)
    }
}

fn answer_schema(api: Api, body: &Value) -> Option<&Value> {
    match api {
        Api::OpenAi => body.pointer("/response_format/json_schema/schema"),
        Api::Anthropic => {
            let name = body.pointer("/tool_choice/name")?.as_str()?;
            body.get("tools")?
                .as_array()?
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(name))?
                .get("input_schema")
        }
    }
}

#[derive(Debug)]
struct Shared {
    script: Mutex<Script>,
    recorded: Mutex<Vec<Recorded>>,
}

/// A running emulator; stopped when dropped.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emulator {
    /// Starts on a free loopback port.
    ///
    /// # Errors
    /// [`EmulatorError`] when no port can be bound or a fixture is broken.
    pub async fn start(script: Script) -> Result<Self, EmulatorError> {
        Self::start_on("127.0.0.1:0", script).await
    }

    /// Starts on `addr`.
    ///
    /// # Errors
    /// [`EmulatorError`] when the address cannot be bound or a fixture is broken.
    pub async fn start_on(addr: &str, script: Script) -> Result<Self, EmulatorError> {
        validators()?;
        let listener = tokio::net::TcpListener::bind(addr)
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
            script: Mutex::new(script),
            recorded: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr: local,
            shared,
            task,
        })
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL for an OpenAI client (`http://127.0.0.1:PORT/v1`).
    #[must_use]
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL for an Anthropic client (`http://127.0.0.1:PORT`).
    #[must_use]
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.recorded).clone()
    }

    /// Replaces the script.
    pub fn set_script(&self, script: Script) {
        *lock(&self.shared.script) = script;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Validators = (jsonschema::Validator, jsonschema::Validator);

fn validators() -> Result<&'static Validators, EmulatorError> {
    static V: OnceLock<Result<Validators, EmulatorError>> = OnceLock::new();
    let compile = |name: &'static str, text: &str| {
        let schema: Value =
            serde_json::from_str(text).map_err(|e| EmulatorError::Schema(name, e.to_string()))?;
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .map_err(|e| EmulatorError::Schema(name, e.to_string()))
    };
    V.get_or_init(|| {
        Ok((
            compile("openai", OPENAI_REQUEST_SCHEMA)?,
            compile("anthropic", ANTHROPIC_REQUEST_SCHEMA)?,
        ))
    })
    .as_ref()
    .map_err(|e| match e {
        EmulatorError::Schema(n, m) => EmulatorError::Schema(n, m.clone()),
        EmulatorError::Bind { addr, source } => EmulatorError::Bind {
            addr: addr.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
    })
}

/// Checks a body against an API's request schema, and its answer format
/// against what the API takes (a strict OpenAI format against
/// [`check_strict_schema`], an Anthropic tool's input schema against JSON
/// Schema): the problems found, as messages (empty when the body is valid; a
/// broken fixture is a problem too).
#[must_use]
pub fn check_request(api: Api, body: &Value) -> Vec<String> {
    let (openai, anthropic) = match validators() {
        Ok(v) => v,
        Err(e) => return vec![e.to_string()],
    };
    let v = match api {
        Api::OpenAi => openai,
        Api::Anthropic => anthropic,
    };
    let mut problems: Vec<String> = v
        .iter_errors(body)
        .take(10)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    match api {
        Api::OpenAi => {
            let format = body.pointer("/response_format/json_schema");
            let strict = format.and_then(|f| f.get("strict")) == Some(&Value::Bool(true));
            if let Some(schema) = format.and_then(|f| f.get("schema"))
                && strict
            {
                problems.extend(
                    check_strict_schema(schema)
                        .into_iter()
                        .map(|p| format!("/response_format/json_schema/schema: {p}")),
                );
            }
        }
        Api::Anthropic => {
            let tools = body.get("tools").and_then(Value::as_array);
            for (i, tool) in tools.into_iter().flatten().enumerate() {
                if let Some(schema) = tool.get("input_schema")
                    && let Err(e) = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(schema)
                {
                    problems.push(format!(
                        "/tools/{i}/input_schema: not a valid JSON Schema: {e}"
                    ));
                }
            }
        }
    }
    problems
}

/// The user prompt's text: the last user message.
fn user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        })
        .unwrap_or_default()
}

/// The tickets the prompt's JSON block names: (id, title).
fn asked_tickets(body: &Value) -> Vec<(String, String)> {
    let text = user_text(body);
    let Some(start) = text.find("```json\n") else {
        return Vec::new();
    };
    let rest = &text[start + 8..];
    let Some(end) = rest.find("\n```") else {
        return Vec::new();
    };
    let Ok(block) = serde_json::from_str::<Value>(&rest[..end]) else {
        return Vec::new();
    };
    block
        .get("tickets")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| {
                    let id = t.get("id")?.as_str()?.to_owned();
                    let title = t
                        .get("title")
                        .and_then(Value::as_str)
                        .unwrap_or(&id)
                        .to_owned();
                    Some((id, title))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A good answer for the tickets asked.
#[must_use]
pub fn good_answer(tickets: &[(String, String)]) -> Value {
    let tickets: Vec<Value> = tickets
        .iter()
        .map(|(id, title)| {
            json!({
                "id": id,
                "summary": format!("{title} (reviewed)"),
                "overview_html": format!("<p>Delivers <strong>{title}</strong> as the site specification describes, so the build can go on.</p>"),
                "implementation_html": format!("<ul><li>Work from the planner's table for <code>{id}</code>.</li><li>Export the configuration with <code>drush config:export</code>.</li></ul>"),
                "acceptance_criteria": [format!("{title} is built as specified."), "The configuration export contains the new config.".to_owned()],
                "risks": ["Later changes to field storage need a data migration."],
                "notes": "",
                "suggested_dependencies": [],
            })
        })
        .collect();
    json!({ "tickets": tickets })
}

fn error_body(api: Api, status: u16, message: &str) -> String {
    match api {
        Api::OpenAi => json!({"error": {"message": message, "type": "emulated_error", "param": null, "code": status.to_string()}}),
        Api::Anthropic => json!({"type": "error", "error": {"type": "emulated_error", "message": message}}),
    }
    .to_string()
}

fn answer_body(
    api: Api,
    model: &str,
    text: &str,
    tool_input: Option<&Value>,
    usage: ScriptedUsage,
) -> String {
    match api {
        Api::OpenAi => json!({
            "id": "chatcmpl-emulated",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": text, "refusal": null },
                "finish_reason": "stop",
                "logprobs": null,
            }],
            "usage": {
                "prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.input_tokens + usage.output_tokens,
                "prompt_tokens_details": { "cached_tokens": usage.cached_tokens },
            },
        }),
        Api::Anthropic => {
            let content = match tool_input {
                Some(input) => json!([{ "type": "tool_use", "id": "toolu_emulated", "name": "record_ticket_prose", "input": input }]),
                None => json!([{ "type": "text", "text": text }]),
            };
            json!({
                "id": "msg_emulated",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": if tool_input.is_some() { "tool_use" } else { "end_turn" },
                "stop_sequence": null,
                "usage": {
                    "input_tokens": usage.input_tokens - usage.cached_tokens.min(usage.input_tokens),
                    "cache_read_input_tokens": usage.cached_tokens,
                    "cache_creation_input_tokens": 0,
                    "output_tokens": usage.output_tokens,
                },
            })
        }
    }
    .to_string()
}

fn respond(status: u16, body: String, extra: Option<(&'static str, String)>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some((name, value)) = extra
        && let Ok(v) = HeaderValue::from_str(&value)
    {
        headers.insert(name, v);
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, headers, body).into_response()
}

async fn openai(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(Api::OpenAi, &shared, &headers, &body).await
}

async fn anthropic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(Api::Anthropic, &shared, &headers, &body).await
}

async fn handle(api: Api, shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let at = Instant::now();
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let value = parsed.clone().unwrap_or(Value::Null);
    let mut schema_errors = match &parsed {
        Some(v) => check_request(api, v),
        None => vec!["the body is not JSON".to_owned()],
    };
    let has_key = match api {
        Api::OpenAi => headers.contains_key(header::AUTHORIZATION),
        Api::Anthropic => headers.contains_key("x-api-key"),
    };
    if api == Api::Anthropic && headers.get("anthropic-version").is_none() {
        schema_errors.push("the anthropic-version header is missing".to_owned());
    }
    let tickets = asked_tickets(&value);
    let (delay, usage, fault) = {
        let mut script = lock(&shared.script);
        let mut fault = None;
        for (id, _) in &tickets {
            if let Some(f) = script.by_ticket.get_mut(id).and_then(VecDeque::pop_front) {
                fault = Some(f);
                break;
            }
        }
        if fault.is_none() {
            fault = script.faults.pop_front();
        }
        (script.delay, script.usage, fault)
    };
    lock(&shared.recorded).push(Recorded {
        api,
        at,
        body: value.clone(),
        schema_errors: schema_errors.clone(),
        ticket_ids: tickets.iter().map(|(id, _)| id.clone()).collect(),
        has_key,
        fault: fault.clone(),
    });
    if !schema_errors.is_empty() {
        return respond(400, error_body(api, 400, &schema_errors.join("; ")), None);
    }
    let model = value
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("emulated");
    let answer = match fault {
        Some(Fault::RateLimit { retry_after }) => {
            return respond(
                429,
                error_body(api, 429, "rate limited (emulated)"),
                retry_after.map(|v| ("retry-after", v)),
            );
        }
        Some(Fault::Status(s)) => return respond(s, error_body(api, s, "emulated failure"), None),
        Some(Fault::BrokenBody) => {
            tokio::time::sleep(delay).await;
            return respond(200, "{\"id\": \"chatcmpl-".to_owned(), None);
        }
        Some(Fault::Hang(d)) => {
            tokio::time::sleep(d).await;
            good_answer(&tickets)
        }
        Some(Fault::MalformedAnswer) => {
            tokio::time::sleep(delay).await;
            let text = good_answer(&tickets).to_string();
            let cut: String = text.chars().take(text.len() / 2).collect();
            return respond(200, answer_body(api, model, &cut, None, usage), None);
        }
        Some(Fault::SchemaViolation) => {
            let mut a = good_answer(&tickets);
            if let Some(ts) = a.get_mut("tickets").and_then(Value::as_array_mut) {
                for t in ts {
                    if let Some(o) = t.as_object_mut() {
                        o.remove("acceptance_criteria");
                    }
                }
            }
            a
        }
        Some(Fault::Answer(a)) => a,
        None => good_answer(&tickets),
    };
    tokio::time::sleep(delay).await;
    respond(
        200,
        answer_body(api, model, &answer.to_string(), Some(&answer), usage),
        None,
    )
}

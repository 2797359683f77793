//! Anthropic's Messages API: the answer format is the input schema of a tool
//! the model is made to call (`tool_choice: tool`), and the prose comes back
//! as that tool call's input.
//!
//! Nothing is marked for prompt caching: a cached prefix starts with the
//! tools, and the tool's schema names the chunk's tickets
//! ([`crate::answer::chunk_schema`]), so an entry would serve only a
//! chunk's repair answer while every write costs more than plain input.

use serde_json::{Value, json};

use crate::answer::wire_schema;
use crate::error::LlmError;
use crate::http::{ApiKey, HttpSettings, Transport};
use crate::port::{ChunkRequest, Llm, LlmFuture, RawAnswer, Usage};

/// Anthropic's API root.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// The API version header this client is written against.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The tool whose input is the answer.
const TOOL_NAME: &str = "record_ticket_prose";

/// A Messages API provider.
#[derive(Debug)]
pub struct Anthropic {
    model: String,
    url: String,
    key: ApiKey,
    temperature: Option<f64>,
    transport: Transport,
}

impl Anthropic {
    /// A provider for `model` at `base_url` (`https://api.anthropic.com`).
    ///
    /// # Errors
    /// [`LlmError::Config`] when the HTTP client cannot be built.
    pub fn new(
        model: &str,
        base_url: &str,
        key: ApiKey,
        settings: HttpSettings,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            model: model.to_owned(),
            url: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            key,
            temperature: None,
            transport: Transport::new("anthropic", settings)?,
        })
    }

    /// Sets the sampling temperature (the API's default otherwise).
    #[must_use]
    pub fn with_temperature(mut self, temperature: Option<f64>) -> Self {
        self.temperature = temperature;
        self
    }

    /// The request body for `request`.
    #[must_use]
    pub fn body(&self, request: &ChunkRequest) -> Value {
        let mut body = json!({
            "model": self.model,
            "max_tokens": request.max_output_tokens,
            "system": [
                { "type": "text", "text": request.system }
            ],
            "messages": [
                { "role": "user", "content": request.user }
            ],
            "tools": [{
                "name": TOOL_NAME,
                "description": "Record the prose of every ticket asked for, in the given format.",
                "input_schema": wire_schema(&request.answer_schema),
            }],
            "tool_choice": { "type": "tool", "name": TOOL_NAME },
        });
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        body
    }

    fn read(body: &Value) -> Result<(String, Usage), LlmError> {
        let blocks = body
            .get("content")
            .and_then(Value::as_array)
            .ok_or_else(|| LlmError::MalformedResponse {
                provider: "anthropic".to_owned(),
                message: "no content".to_owned(),
            })?;
        let tool_input = blocks.iter().find(|b| {
            b.get("type").and_then(Value::as_str) == Some("tool_use")
                && b.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
        });
        // Without the tool call, the text is checked as the answer (and most
        // likely refused, with a reason the retry can show the model).
        let text = match tool_input.and_then(|b| b.get("input")) {
            Some(input) => input.to_string(),
            None => blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let n = |p: &str| body.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        let cached = n("/usage/cache_read_input_tokens");
        let usage = Usage {
            input_tokens: n("/usage/input_tokens")
                + cached
                + n("/usage/cache_creation_input_tokens"),
            output_tokens: n("/usage/output_tokens"),
            cached_tokens: cached,
        };
        Ok((text, usage))
    }
}

impl Llm for Anthropic {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn write<'a>(&'a self, request: &'a ChunkRequest) -> LlmFuture<'a> {
        Box::pin(async move {
            let body = self.body(request);
            let headers = [
                ("x-api-key", self.key.expose()),
                ("anthropic-version", ANTHROPIC_VERSION),
            ];
            let answered = self.transport.post_json(&self.url, &headers, &body).await?;
            let (text, usage) = Self::read(&answered.body)?;
            Ok(RawAnswer {
                text,
                usage,
                retries: answered.retries,
            })
        })
    }
}

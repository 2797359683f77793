//! OpenAI's Chat Completions API, and any server that speaks it (Ollama,
//! vLLM, llama.cpp's server, LiteLLM): the answer format is a JSON schema
//! (`response_format: json_schema`, strict), the prose comes back as the
//! message content.

use serde_json::{Value, json};

use crate::answer::wire_schema;
use crate::error::LlmError;
use crate::http::{ApiKey, HttpSettings, Transport};
use crate::port::{ChunkRequest, Llm, LlmFuture, RawAnswer, Usage};

/// OpenAI's API root.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Name of the answer format in requests.
const FORMAT_NAME: &str = "ticket_prose";

/// Which flavour of the API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// OpenAI itself (`max_completion_tokens`, key required).
    OpenAi,
    /// An OpenAI-compatible server (`max_tokens`, key optional).
    Compatible,
}

/// A Chat Completions provider.
#[derive(Debug)]
pub struct OpenAi {
    flavour: Flavour,
    model: String,
    url: String,
    key: Option<ApiKey>,
    temperature: Option<f64>,
    transport: Transport,
}

impl OpenAi {
    /// A provider for `model` at `base_url` (the API root, such as
    /// `https://api.openai.com/v1` or `http://localhost:11434/v1`).
    ///
    /// # Errors
    /// [`LlmError::Config`] when OpenAI itself is asked without a key, or the
    /// HTTP client cannot be built.
    pub fn new(
        flavour: Flavour,
        model: &str,
        base_url: &str,
        key: Option<ApiKey>,
        settings: HttpSettings,
    ) -> Result<Self, LlmError> {
        if flavour == Flavour::OpenAi && key.is_none() {
            return Err(LlmError::Config(
                "OpenAI needs an API key: set DTG_LLM_API_KEY (or OPENAI_API_KEY)".to_owned(),
            ));
        }
        let name = match flavour {
            Flavour::OpenAi => "openai",
            Flavour::Compatible => "openai-compatible",
        };
        Ok(Self {
            flavour,
            model: model.to_owned(),
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            key,
            temperature: None,
            transport: Transport::new(name, settings)?,
        })
    }

    /// Sets the sampling temperature (left to the server's default otherwise).
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
            "messages": [
                { "role": "system", "content": request.system },
                { "role": "user", "content": request.user },
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": FORMAT_NAME,
                    "description": "The prose of each ticket asked for.",
                    "strict": true,
                    "schema": wire_schema(&request.answer_schema),
                },
            },
        });
        let limit = match self.flavour {
            Flavour::OpenAi => "max_completion_tokens",
            Flavour::Compatible => "max_tokens",
        };
        body[limit] = json!(request.max_output_tokens);
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        body
    }

    fn read(&self, body: &Value) -> Result<(String, Usage), LlmError> {
        let bad = |message: &str| LlmError::MalformedResponse {
            provider: self.name().to_owned(),
            message: message.to_owned(),
        };
        let message = body
            .pointer("/choices/0/message")
            .ok_or_else(|| bad("no choices[0].message"))?;
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            return Err(bad(&format!("the model refused: {refusal}")));
        }
        let text = message
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no message content"))?
            .to_owned();
        let n = |p: &str| body.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        let usage = Usage {
            input_tokens: n("/usage/prompt_tokens"),
            output_tokens: n("/usage/completion_tokens"),
            cached_tokens: n("/usage/prompt_tokens_details/cached_tokens"),
        };
        Ok((text, usage))
    }
}

impl Llm for OpenAi {
    fn name(&self) -> &str {
        match self.flavour {
            Flavour::OpenAi => "openai",
            Flavour::Compatible => "openai-compatible",
        }
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn write<'a>(&'a self, request: &'a ChunkRequest) -> LlmFuture<'a> {
        Box::pin(async move {
            let body = self.body(request);
            let auth = self.key.as_ref().map(|k| format!("Bearer {}", k.expose()));
            let mut headers = Vec::new();
            if let Some(auth) = auth.as_deref() {
                headers.push(("authorization", auth));
            }
            let answered = self.transport.post_json(&self.url, &headers, &body).await?;
            let (text, usage) = self.read(&answered.body)?;
            Ok(RawAnswer {
                text,
                usage,
                retries: answered.retries,
            })
        })
    }
}

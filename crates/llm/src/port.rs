//! The `Llm` port: one chunk of tickets in, the model's answer text and the
//! tokens it cost out. Providers implement it; the engine ([`crate::engine`])
//! checks and merges what they return.

use std::fmt;
use std::future::Future;
use std::ops::AddAssign;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::LlmError;

/// What a provider is asked for one chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRequest {
    /// Index of the chunk in the generation.
    pub chunk: usize,
    /// The tickets the answer must cover, in plan order.
    pub ticket_ids: Vec<String>,
    /// The system prompt (the same for every chunk, so providers can cache it).
    pub system: String,
    /// The user prompt: site context, the tickets, what to write.
    pub user: String,
    /// The JSON schema the answer must satisfy: the answer schema with ids
    /// limited to this chunk's tickets and, when the plan is small enough, the
    /// suggested dependencies to the plan's ([`crate::answer::chunk_schema`]).
    pub answer_schema: Arc<serde_json::Value>,
    /// Upper bound on the answer's tokens.
    pub max_output_tokens: u32,
    /// The planner's own wording of each ticket, for the deterministic writer.
    pub planner_prose: Vec<(String, dtg_core::plan::prose::TicketProse)>,
}

/// Tokens one or more calls used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache (part of `input_tokens`).
    pub cached_tokens: u64,
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
    }
}

/// A provider's answer to one chunk, before any checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    /// The answer text: JSON, if the model kept to the format.
    pub text: String,
    /// Tokens this answer cost.
    pub usage: Usage,
    /// HTTP attempts that failed and were retried before this answer.
    pub retries: u32,
}

/// The future a provider returns.
pub type LlmFuture<'a> = Pin<Box<dyn Future<Output = Result<RawAnswer, LlmError>> + Send + 'a>>;

/// A ticket writer: a language model behind an API, or the deterministic writer.
pub trait Llm: Send + Sync + fmt::Debug + 'static {
    /// The provider's name (`openai`, `anthropic`, `openai-compatible`, `deterministic`).
    fn name(&self) -> &str;

    /// The model asked.
    fn model(&self) -> &str;

    /// Whether this is the planner's own writer (nothing to ask, nothing to pay).
    fn is_deterministic(&self) -> bool {
        false
    }

    /// Asks for the prose of one chunk of tickets.
    ///
    /// # Errors
    /// [`LlmError`] when no answer came after the provider's retries, or the
    /// response is not what the API documents.
    fn write<'a>(&'a self, request: &'a ChunkRequest) -> LlmFuture<'a>;
}

//! LLM ticket writing: the planner decides which tickets exist; a model makes
//! each one read like a senior Drupal developer wrote it, without any say over
//! the plan itself.
//!
//! - [`port`]: the [`Llm`] port every provider implements.
//! - [`openai`], [`anthropic`]: OpenAI Chat Completions (and any
//!   OpenAI-compatible server) and Anthropic Messages, over [`http`] with
//!   timeouts, retries and a concurrency limit.
//! - [`deterministic`]: the planner's own writer, the default.
//! - [`prompt`]: versioned prompt templates per CSV type.
//! - [`answer`]: strict checking of every answer.
//! - [`engine`]: chunked, concurrent generation with fallbacks and findings.
//! - [`cost`]: price tables and exact cost arithmetic.
//! - [`config`]: providers from the `DTG_LLM_*` environment.

pub mod answer;
pub mod anthropic;
pub mod config;
pub mod cost;
pub mod deterministic;
pub mod engine;
pub mod error;
pub mod http;
pub mod openai;
pub mod port;
pub mod prompt;

pub use config::{LlmConfig, Offer, ProviderKind, offer_from_lookup};
pub use cost::{Cost, Price, PriceTable};
pub use deterministic::Deterministic;
pub use engine::{
    ChunkOutcome, ChunkReport, FindingCode, Generation, GenerationFinding, GenerationReport,
    GenerationSettings, Progress, generate,
};
pub use error::LlmError;
pub use port::{ChunkRequest, Llm, RawAnswer, Usage};

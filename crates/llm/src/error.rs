//! What can go wrong when asking a model to write tickets.

/// An error of a provider or of the generation engine.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider answered with an HTTP error status (after any retries).
    #[error("{provider} answered HTTP {status}: {message}")]
    Status {
        /// Provider name.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// The provider's error message (never the request, never a key).
        message: String,
    },
    /// No answer in time (after any retries).
    #[error("{provider} did not answer within {seconds} s")]
    Timeout {
        /// Provider name.
        provider: String,
        /// The per-request timeout.
        seconds: u64,
    },
    /// The provider could not be reached (after any retries).
    #[error("cannot reach {provider}: {message}")]
    Transport {
        /// Provider name.
        provider: String,
        /// What failed.
        message: String,
    },
    /// The response is not the shape the API documents (not JSON, no content).
    #[error("{provider} sent an unreadable response: {message}")]
    MalformedResponse {
        /// Provider name.
        provider: String,
        /// What is wrong with it.
        message: String,
    },
    /// The provider or the engine is configured wrongly.
    #[error("LLM configuration: {0}")]
    Config(String),
}

impl LlmError {
    /// Whether going on with other chunks is pointless: the key is refused,
    /// the model does not exist, or the configuration is wrong.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Status {
                status: 401 | 403 | 404,
                ..
            } | Self::Config(_)
        )
    }

    /// Whether the answer itself was unreadable, so asking again may help.
    #[must_use]
    pub fn is_bad_answer(&self) -> bool {
        matches!(self, Self::MalformedResponse { .. })
    }
}

/// Results of this crate.
pub type Result<T, E = LlmError> = std::result::Result<T, E>;

//! Provider configuration from the `DTG_LLM_*` environment (and overrides
//! from the command line).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DTG_LLM_PROVIDER` | `openai`, `anthropic`, `openai-compatible` or `deterministic` | `deterministic` |
//! | `DTG_LLM_MODEL` | the model | `gpt-4o-mini` (OpenAI), `claude-haiku-4-5` (Anthropic); required otherwise |
//! | `DTG_LLM_BASE_URL` | the API root | the provider's public API; required for `openai-compatible` |
//! | `DTG_LLM_API_KEY` | the key (else `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`) | none; optional for `openai-compatible` |
//! | `DTG_LLM_CONCURRENCY` | chunks and requests in flight at once | 8 |
//! | `DTG_LLM_TIMEOUT_SECS` | time allowed per request | 180 |
//! | `DTG_LLM_MAX_ATTEMPTS` | HTTP attempts per request (429, 5xx, timeouts) | 4 |
//! | `DTG_LLM_TOKEN_BUDGET` | estimated prompt tokens per chunk | 12000 |
//! | `DTG_LLM_MAX_TICKETS_PER_CHUNK` | tickets per chunk | 12 |
//! | `DTG_LLM_TEMPERATURE` | sampling temperature | the provider's |
//! | `DTG_LLM_PRICES` | a price table file (format of `config/prices.json`), over the built-in one | none |

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::anthropic::{ANTHROPIC_BASE_URL, Anthropic};
use crate::cost::PriceTable;
use crate::deterministic::Deterministic;
use crate::engine::GenerationSettings;
use crate::error::LlmError;
use crate::http::{ApiKey, HttpSettings};
use crate::openai::{Flavour, OPENAI_BASE_URL, OpenAi};
use crate::port::Llm;

/// Which provider writes the prose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProviderKind {
    /// The planner's own text.
    #[default]
    Deterministic,
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Any OpenAI-compatible server (Ollama, vLLM, llama.cpp, LiteLLM).
    OpenAiCompatible,
}

impl FromStr for ProviderKind {
    type Err = LlmError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "deterministic" | "none" => Ok(Self::Deterministic),
            "openai" => Ok(Self::OpenAi),
            "anthropic" => Ok(Self::Anthropic),
            "openai-compatible" | "openai_compatible" | "compatible" => Ok(Self::OpenAiCompatible),
            other => Err(LlmError::Config(format!(
                "unknown provider '{other}': use openai, anthropic, openai-compatible or deterministic"
            ))),
        }
    }
}

/// Everything needed to build a provider and run a generation.
#[derive(Debug, Clone, Default)]
pub struct LlmConfig {
    /// The provider.
    pub provider: ProviderKind,
    /// The model (a default per provider when unset).
    pub model: Option<String>,
    /// The API root (the provider's public API when unset).
    pub base_url: Option<String>,
    /// The API key.
    pub api_key: Option<ApiKey>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// HTTP timeouts, retries and concurrency.
    pub http: HttpSettings,
    /// Chunking, concurrency and prices.
    pub generation: GenerationSettings,
}

fn parse<T: FromStr>(name: &str, value: Option<String>) -> Result<Option<T>, LlmError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| LlmError::Config(format!("{name}='{v}' is not a valid value")))
        })
        .transpose()
}

impl LlmConfig {
    /// The configuration the process environment describes.
    ///
    /// # Errors
    /// [`LlmError::Config`] for a malformed value or an unreadable price file.
    pub fn from_env() -> Result<Self, LlmError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The configuration `lookup` describes (`lookup("DTG_LLM_MODEL")`, ...).
    ///
    /// # Errors
    /// [`LlmError::Config`] for a malformed value or an unreadable price file.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LlmError> {
        let provider: ProviderKind =
            parse("DTG_LLM_PROVIDER", lookup("DTG_LLM_PROVIDER"))?.unwrap_or_default();
        let mut config = Self {
            provider,
            model: lookup("DTG_LLM_MODEL").filter(|v| !v.is_empty()),
            base_url: lookup("DTG_LLM_BASE_URL").filter(|v| !v.is_empty()),
            temperature: parse("DTG_LLM_TEMPERATURE", lookup("DTG_LLM_TEMPERATURE"))?,
            ..Self::default()
        };
        config.api_key = lookup("DTG_LLM_API_KEY")
            .or_else(|| match provider {
                ProviderKind::OpenAi => lookup("OPENAI_API_KEY"),
                ProviderKind::Anthropic => lookup("ANTHROPIC_API_KEY"),
                _ => None,
            })
            .filter(|k| !k.trim().is_empty())
            .map(ApiKey::new);
        if let Some(n) = parse::<usize>("DTG_LLM_CONCURRENCY", lookup("DTG_LLM_CONCURRENCY"))? {
            config.http.concurrency = n.max(1);
            config.generation.concurrency = n.max(1);
        }
        if let Some(s) = parse::<u64>("DTG_LLM_TIMEOUT_SECS", lookup("DTG_LLM_TIMEOUT_SECS"))? {
            config.http.timeout = Duration::from_secs(s.max(1));
        }
        if let Some(n) = parse::<u32>("DTG_LLM_MAX_ATTEMPTS", lookup("DTG_LLM_MAX_ATTEMPTS"))? {
            config.http.retry.max_attempts = n.max(1);
        }
        if let Some(n) = parse::<usize>("DTG_LLM_TOKEN_BUDGET", lookup("DTG_LLM_TOKEN_BUDGET"))? {
            config.generation.token_budget = n;
        }
        if let Some(n) = parse::<usize>(
            "DTG_LLM_MAX_TICKETS_PER_CHUNK",
            lookup("DTG_LLM_MAX_TICKETS_PER_CHUNK"),
        )? {
            config.generation.max_tickets_per_chunk = n.max(1);
        }
        let mut prices = PriceTable::builtin()?;
        if let Some(path) = lookup("DTG_LLM_PRICES").filter(|p| !p.is_empty()) {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                LlmError::Config(format!("cannot read DTG_LLM_PRICES file {path}: {e}"))
            })?;
            prices.extend(PriceTable::from_json(&text)?);
        }
        config.generation.prices = prices;
        Ok(config)
    }

    /// Sets the concurrency of both chunks and HTTP requests.
    pub fn set_concurrency(&mut self, n: usize) {
        self.http.concurrency = n.max(1);
        self.generation.concurrency = n.max(1);
    }

    /// The model that will be asked.
    ///
    /// # Errors
    /// [`LlmError::Config`] when an OpenAI-compatible server is named without a model.
    pub fn model_name(&self) -> Result<String, LlmError> {
        match (&self.model, self.provider) {
            (Some(m), _) => Ok(m.clone()),
            (None, ProviderKind::OpenAi) => Ok("gpt-4o-mini".to_owned()),
            (None, ProviderKind::Anthropic) => Ok("claude-haiku-4-5".to_owned()),
            (None, ProviderKind::Deterministic) => Ok("planner".to_owned()),
            (None, ProviderKind::OpenAiCompatible) => Err(LlmError::Config(
                "an OpenAI-compatible server needs a model: --model or DTG_LLM_MODEL".to_owned(),
            )),
        }
    }

    /// The provider this configuration describes.
    ///
    /// # Errors
    /// [`LlmError::Config`] when a key, model or base URL is missing.
    pub fn build(&self) -> Result<Arc<dyn Llm>, LlmError> {
        let model = self.model_name()?;
        Ok(match self.provider {
            ProviderKind::Deterministic => Arc::new(Deterministic),
            ProviderKind::OpenAi => Arc::new(
                OpenAi::new(
                    Flavour::OpenAi,
                    &model,
                    self.base_url.as_deref().unwrap_or(OPENAI_BASE_URL),
                    self.api_key.clone(),
                    self.http,
                )?
                .with_temperature(self.temperature),
            ),
            ProviderKind::OpenAiCompatible => {
                let Some(base) = self.base_url.as_deref() else {
                    return Err(LlmError::Config(
                        "an OpenAI-compatible server needs a base URL: --base-url or DTG_LLM_BASE_URL (such as http://localhost:11434/v1)".to_owned(),
                    ));
                };
                Arc::new(
                    OpenAi::new(
                        Flavour::Compatible,
                        &model,
                        base,
                        self.api_key.clone(),
                        self.http,
                    )?
                    .with_temperature(self.temperature),
                )
            }
            ProviderKind::Anthropic => {
                let Some(key) = self.api_key.clone() else {
                    return Err(LlmError::Config(
                        "Anthropic needs an API key: set DTG_LLM_API_KEY (or ANTHROPIC_API_KEY)"
                            .to_owned(),
                    ));
                };
                Arc::new(
                    Anthropic::new(
                        &model,
                        self.base_url.as_deref().unwrap_or(ANTHROPIC_BASE_URL),
                        key,
                        self.http,
                    )?
                    .with_temperature(self.temperature),
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<LlmConfig, LlmError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LlmConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn no_configuration_means_the_deterministic_writer() {
        let c = config(&[]).unwrap_or_default();
        assert_eq!(c.provider, ProviderKind::Deterministic);
        assert!(c.build().map(|l| l.is_deterministic()).unwrap_or(false));
    }

    #[test]
    fn environment_is_read_and_keys_stay_hidden() {
        let c = config(&[
            ("DTG_LLM_PROVIDER", "anthropic"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("DTG_LLM_CONCURRENCY", "3"),
            ("DTG_LLM_MAX_ATTEMPTS", "2"),
        ])
        .unwrap_or_default();
        assert_eq!(c.provider, ProviderKind::Anthropic);
        assert_eq!(c.generation.concurrency, 3);
        assert_eq!(c.http.retry.max_attempts, 2);
        assert!(!format!("{c:?}").contains("secret"));
        let llm = c.build();
        assert!(
            llm.as_ref()
                .is_ok_and(|l| !format!("{l:?}").contains("secret"))
        );
    }

    #[test]
    fn missing_pieces_are_explained() {
        let e = config(&[
            ("DTG_LLM_PROVIDER", "openai-compatible"),
            ("DTG_LLM_MODEL", "llama3"),
        ])
        .and_then(|c| c.build().map(|_| ()));
        assert!(e.is_err_and(|e| e.to_string().contains("base URL")));
        let e = config(&[("DTG_LLM_PROVIDER", "anthropic")]).and_then(|c| c.build().map(|_| ()));
        assert!(e.is_err_and(|e| e.to_string().contains("API key")));
        assert!(config(&[("DTG_LLM_CONCURRENCY", "many")]).is_err());
        assert!(config(&[("DTG_LLM_PROVIDER", "gemini")]).is_err());
    }
}

/// A provider a deployment offers for wording tickets, with its models.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Provider name (`openai`, `anthropic`, `openai_compatible`).
    pub provider: String,
    /// Models offered, the default first.
    pub models: Vec<String>,
    /// The model used when none is named.
    pub default_model: String,
    /// Its configuration.
    pub config: LlmConfig,
}

/// What a deployment offers from its `DTG_LLM_*` settings: the provider
/// `DTG_LLM_PROVIDER` names, with `DTG_LLM_MODEL` and any of
/// `DTG_LLM_MODELS` (comma-separated). `None` when no provider is set, or
/// when one needs a key and has none.
///
/// # Errors
/// A setting that cannot be read.
pub fn offer_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Offer>, LlmError> {
    let config = LlmConfig::from_lookup(&lookup)?;
    if config.provider == ProviderKind::Deterministic
        || (config.api_key.is_none() && config.provider != ProviderKind::OpenAiCompatible)
    {
        return Ok(None);
    }
    let default_model = config.model_name()?;
    let mut models = vec![default_model.clone()];
    for m in lookup("DTG_LLM_MODELS").unwrap_or_default().split(',') {
        let m = m.trim();
        if !m.is_empty() && !models.iter().any(|x| x == m) {
            models.push(m.to_owned());
        }
    }
    let provider = match config.provider {
        ProviderKind::OpenAi => "openai",
        ProviderKind::Anthropic => "anthropic",
        _ => "openai_compatible",
    };
    Ok(Some(Offer {
        provider: provider.to_owned(),
        models,
        default_model,
        config,
    }))
}

//! The HTTP side every provider shares: one `reqwest` client with timeouts,
//! retries on 429 and 5xx (and on timeouts and connection errors) with
//! exponential backoff and jitter, `Retry-After` honoured (seconds or an
//! HTTP date), and a concurrency limit per provider.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::error::LlmError;

/// A secret sent in a header: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    #[must_use]
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the request header only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

/// When and how often to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each later one.
    pub base_delay: Duration,
    /// Cap on the backoff.
    pub max_delay: Duration,
    /// Cap on a server's `Retry-After` (a longer one is waited for this long).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `attempt + 1` (`attempt` counts from 1):
    /// `base x 2^(attempt-1)`, capped, with jitter in its upper half.
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_delay);
        let half = exp / 2;
        let span = u64::try_from((exp - half).as_millis()).unwrap_or(u64::MAX);
        let jitter = if span == 0 { 0 } else { random() % (span + 1) };
        half + Duration::from_millis(jitter)
    }
}

/// A random number from the standard library's hasher keys (good enough for jitter).
fn random() -> u64 {
    RandomState::new().hash_one(std::time::Instant::now())
}

/// How a provider talks HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time allowed for one whole request, answer included.
    pub timeout: Duration,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Requests in flight at once, at most.
    pub concurrency: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(180),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            concurrency: 8,
        }
    }
}

/// The delay a `Retry-After` header asks for, if it has a readable one.
#[must_use]
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A JSON answer and the number of failed attempts before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// The response body.
    pub body: Value,
    /// Attempts retried before this one.
    pub retries: u32,
}

/// One provider's HTTP client, limit and policy.
#[derive(Debug, Clone)]
pub struct Transport {
    provider: String,
    client: reqwest::Client,
    limit: Arc<Semaphore>,
    settings: HttpSettings,
}

/// The outcome of one attempt.
enum Attempt {
    Done(Value),
    Retry(Option<Duration>, LlmError),
    Fail(LlmError),
}

impl Transport {
    /// A transport for `provider`.
    ///
    /// # Errors
    /// [`LlmError::Config`] when the HTTP client cannot be built.
    pub fn new(provider: &str, settings: HttpSettings) -> Result<Self, LlmError> {
        // rustls on ring, as every HTTP client here (refused only when a
        // provider is installed already, which then serves).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("dtg/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            provider: provider.to_owned(),
            client,
            limit: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
        })
    }

    /// Posts `body` as JSON to `url` with `headers`, retrying as the policy says.
    ///
    /// # Errors
    /// The last attempt's [`LlmError`] once attempts are used up, or at once
    /// for a status that retrying cannot fix (400, 401, 403, 404, ...).
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> Result<Answered, LlmError> {
        let policy = self.settings.retry;
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(url, headers, body).await;
            match outcome {
                Attempt::Done(body) => {
                    return Ok(Answered {
                        body,
                        retries: attempt - 1,
                    });
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(_, e) if attempt >= policy.max_attempts.max(1) => return Err(e),
                Attempt::Retry(after, _) => {
                    let wait = after.map_or_else(
                        || policy.backoff(attempt),
                        |d| d.min(policy.max_retry_after),
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, url: &str, headers: &[(&str, &str)], body: &Value) -> Attempt {
        let Ok(_permit) = self.limit.acquire().await else {
            return Attempt::Fail(LlmError::Config("the provider is shut down".to_owned()));
        };
        let mut request = self.client.post(url).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return self.transport_error(&e),
        };
        let status = response.status();
        let after = retry_after(response.headers(), SystemTime::now());
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return self.transport_error(&e),
        };
        if status.is_success() {
            return match serde_json::from_str(&text) {
                Ok(v) => Attempt::Done(v),
                Err(e) => Attempt::Fail(LlmError::MalformedResponse {
                    provider: self.provider.clone(),
                    message: format!("the body is not JSON ({e})"),
                }),
            };
        }
        let error = LlmError::Status {
            provider: self.provider.clone(),
            status: status.as_u16(),
            message: error_message(&text),
        };
        if is_retryable(status) {
            Attempt::Retry(after, error)
        } else {
            Attempt::Fail(error)
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> Attempt {
        if e.is_timeout() {
            Attempt::Retry(
                None,
                LlmError::Timeout {
                    provider: self.provider.clone(),
                    seconds: self.settings.timeout.as_secs(),
                },
            )
        } else if e.is_connect() || e.is_request() || e.is_body() {
            Attempt::Retry(
                None,
                LlmError::Transport {
                    provider: self.provider.clone(),
                    message: e.to_string(),
                },
            )
        } else {
            Attempt::Fail(LlmError::Transport {
                provider: self.provider.clone(),
                message: e.to_string(),
            })
        }
    }
}

/// 429 and the 5xx statuses that mean "try later".
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504 | 529)
}

/// The message of an OpenAI or Anthropic error body, or its start.
fn error_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    message.unwrap_or_else(|| text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&later).unwrap_or(HeaderValue::from_static("x")),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(400),
            max_delay: Duration::from_millis(1_000),
            max_retry_after: Duration::from_secs(5),
        };
        for _ in 0..50 {
            let b1 = p.backoff(1);
            assert!(b1 >= Duration::from_millis(200) && b1 <= Duration::from_millis(400));
            let b2 = p.backoff(2);
            assert!(b2 >= Duration::from_millis(400) && b2 <= Duration::from_millis(800));
            assert!(p.backoff(6) <= Duration::from_millis(1_000));
        }
    }

    #[test]
    fn keys_are_not_printed() {
        let k = ApiKey::new("sk-secret");
        assert!(!format!("{k:?}").contains("secret"));
    }
}

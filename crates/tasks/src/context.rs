//! What every task works with: the ports, the models offered, the limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use dtg_app::export::PlanCache;
use dtg_app::jira::JiraAccess;
use dtg_app::progress::Publish;
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_app::store::{Blobs, Table, Timestamp};
use dtg_core::csv::Limits;
use dtg_llm::LlmConfig;
use serde::{Deserialize, Serialize};

use crate::TaskError;

/// The ports and settings of the tasks; built once per Lambda (or per
/// `dtg serve`) and shared by every call.
#[derive(Debug)]
pub struct TaskContext<T: Table, B: Blobs, P: Publish, A: JiraAccess> {
    /// The table.
    pub table: Arc<T>,
    /// The blob store.
    pub blobs: Arc<B>,
    /// Where progress goes.
    pub publish: Arc<P>,
    /// Jira, for users' stored credentials.
    pub jira: Arc<A>,
    /// The language models offered, by provider name.
    pub llm: BTreeMap<String, LlmConfig>,
    /// File limits for validation.
    pub limits: Limits,
    /// The plan of the export this process steps, kept between its steps.
    pub plans: PlanCache,
}

impl<T: Table, B: Blobs, P: Publish, A: JiraAccess> TaskContext<T, B, P, A> {
    /// The repositories over the table.
    #[must_use]
    pub fn repos(&self) -> Repos<'_, T> {
        Repos::new(self.table.as_ref(), DEFAULT_TTL_SECONDS)
    }

    /// The configuration of `provider` with `model`.
    ///
    /// # Errors
    /// [`TaskError::LlmFatal`] when the provider is not offered.
    pub fn model(&self, provider: &str, model: &str) -> Result<LlmConfig, TaskError> {
        let mut config = self.llm.get(provider).cloned().ok_or_else(|| {
            TaskError::LlmFatal(format!(
                "this deployment does not offer the provider {provider}"
            ))
        })?;
        config.model = Some(model.to_owned());
        Ok(config)
    }
}

/// The error a state machine's `Catch` hands to the next state
/// (`{"Error": ..., "Cause": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateError {
    /// The error type (`Llm.Throttled`, `States.Timeout`, ...).
    #[serde(rename = "Error")]
    pub error: String,
    /// What it said.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl StateError {
    /// What went wrong, in words: Step Functions gives a Lambda's error as
    /// the JSON `{"errorType", "errorMessage", "trace"}`, whose message is
    /// taken; any other cause is kept as it is.
    #[must_use]
    pub fn message(&self) -> String {
        #[derive(Deserialize)]
        struct LambdaCause {
            #[serde(rename = "errorMessage")]
            error_message: String,
        }
        serde_json::from_str::<LambdaCause>(&self.cause)
            .map_or_else(|_| self.cause.clone(), |c| c.error_message)
    }
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

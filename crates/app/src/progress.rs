//! Progress of a session's long work, as its listeners see it: the
//! `*_progress`, `*_complete` and `*_failed` messages of seed `004_*` for
//! validation, processing and export, and the [`Publish`] port that carries
//! them (the API Gateway Management API in production, an in-process hub
//! under `dtg serve`, nothing on the command line).
//!
//! Every message is one JSON object tagged by `"type"` and versioned by
//! `"v": 1`; a listener that gets a version it does not know should fall
//! back to polling the REST status, which gives the same facts. The shapes
//! are fixed by the tests below: change them only with a new version.

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::export::{ErrorCategory, ExportProgress};

/// The version of the message protocol: always serialised as `1`, and only
/// `1` is read back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProtocolVersion;

impl ProtocolVersion {
    /// The number on the wire.
    pub const NUMBER: u32 = 1;
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(Self::NUMBER)
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(deserializer)?;
        if v == Self::NUMBER {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format!(
                "progress message version {v}; this version reads {}",
                Self::NUMBER
            )))
        }
    }
}

/// A progress message of a session, tagged by `"type"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressMessage {
    /// One more file validated.
    ValidationProgress(ValidationProgress),
    /// Every file validated (findings may include errors: see `errors`).
    ValidationComplete(ValidationComplete),
    /// Validation could not run to its end (files missing, the store failing).
    ValidationFailed(ValidationFailed),
    /// One more chunk of tickets planned or worded.
    ProcessingProgress(ProcessingProgress),
    /// The plan is saved; the session is in review.
    ProcessingComplete(ProcessingComplete),
    /// Planning or wording stopped.
    ProcessingFailed(ProcessingFailed),
    /// One more export step done.
    ExportProgress(ExportProgressMessage),
    /// Every issue and link is in Jira.
    ExportComplete(ExportComplete),
    /// The export stopped; it may be retried from where it stopped.
    ExportFailed(ExportFailed),
}

impl ProgressMessage {
    /// The session the message is about.
    #[must_use]
    pub fn session_id(&self) -> &str {
        match self {
            Self::ValidationProgress(m) => &m.session_id,
            Self::ValidationComplete(m) => &m.session_id,
            Self::ValidationFailed(m) => &m.session_id,
            Self::ProcessingProgress(m) => &m.session_id,
            Self::ProcessingComplete(m) => &m.session_id,
            Self::ProcessingFailed(m) => &m.session_id,
            Self::ExportProgress(m) => &m.session_id,
            Self::ExportComplete(m) => &m.session_id,
            Self::ExportFailed(m) => &m.session_id,
        }
    }

    /// The `"type"` tag.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ValidationProgress(_) => "validation_progress",
            Self::ValidationComplete(_) => "validation_complete",
            Self::ValidationFailed(_) => "validation_failed",
            Self::ProcessingProgress(_) => "processing_progress",
            Self::ProcessingComplete(_) => "processing_complete",
            Self::ProcessingFailed(_) => "processing_failed",
            Self::ExportProgress(_) => "export_progress",
            Self::ExportComplete(_) => "export_complete",
            Self::ExportFailed(_) => "export_failed",
        }
    }

    /// The message as JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Every field is a string, a number, a bool or a list of them:
        // serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `validation_progress`: files validated so far, with the findings so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationProgress {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// Files done.
    pub files_done: usize,
    /// Files in all.
    pub files_total: usize,
    /// The file just done.
    pub current_file: Option<String>,
    /// Error findings so far.
    pub errors: usize,
    /// Warning findings so far.
    pub warnings: usize,
    /// Notes (values read in another form and rewritten) so far.
    pub notes: usize,
}

/// `validation_complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationComplete {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `completed`.
    pub status: String,
    /// Files done.
    pub files_done: usize,
    /// Files in all.
    pub files_total: usize,
    /// Config items read.
    pub items: usize,
    /// Error findings (planning waits until there are none).
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Notes.
    pub notes: usize,
}

/// `validation_failed`: the work itself could not finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationFailed {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `failed`.
    pub status: String,
    /// Files done before it stopped.
    pub files_done: usize,
    /// Files in all (0 when they could not be read).
    pub files_total: usize,
    /// Error findings so far.
    pub errors: usize,
    /// Warning findings so far.
    pub warnings: usize,
    /// Notes so far.
    pub notes: usize,
    /// Category of seed `004_*`.
    pub error_category: ErrorCategory,
    /// What happened, for the user.
    pub error_message: String,
}

/// `processing_progress`: chunks of tickets planned or worded so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingProgress {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// Chunks done.
    pub chunks_done: usize,
    /// Chunks in all.
    pub chunks_total: usize,
    /// Tickets done so far.
    pub tickets: usize,
    /// Cost so far in US dollars, when the model's price is known.
    pub cost_usd: Option<f64>,
    /// Provider (`deterministic` for the planner's own text).
    pub provider: String,
    /// Model (`planner` for the planner's own text).
    pub model: String,
}

/// `processing_complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingComplete {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `completed`.
    pub status: String,
    /// Chunks done.
    pub chunks_done: usize,
    /// Chunks in all.
    pub chunks_total: usize,
    /// Tickets planned.
    pub tickets: usize,
    /// Epics planned.
    pub epics: usize,
    /// Dependencies between tickets.
    pub dependencies: usize,
    /// Cost in US dollars, when the model's price is known.
    pub cost_usd: Option<f64>,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
}

/// `processing_failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingFailed {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `failed`.
    pub status: String,
    /// Chunks done before it stopped.
    pub chunks_done: usize,
    /// Chunks in all.
    pub chunks_total: usize,
    /// Tickets done before it stopped.
    pub tickets: usize,
    /// Cost so far in US dollars, when the model's price is known.
    pub cost_usd: Option<f64>,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Category of seed `004_*`.
    pub error_category: ErrorCategory,
    /// What happened, for the user.
    pub error_message: String,
}

/// `export_progress`: the fields of [`ExportProgress`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportProgressMessage {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `exporting`, `completed` or `failed`.
    pub status: String,
    /// Share done, 0 to 100.
    pub progress_percentage: f64,
    /// What is happening.
    pub current_stage: String,
    /// Epics and tickets created.
    pub tickets_completed: usize,
    /// Tickets that could not be created.
    pub tickets_failed: usize,
    /// Epics and tickets in all.
    pub total_tickets: usize,
    /// Links created.
    pub dependencies_created: usize,
    /// Links in all.
    pub total_dependencies: usize,
    /// The Jira project.
    pub current_jira_project: String,
}

impl From<&ExportProgress> for ExportProgressMessage {
    fn from(p: &ExportProgress) -> Self {
        Self {
            v: ProtocolVersion,
            session_id: p.session_id.clone(),
            status: p.status.clone(),
            progress_percentage: p.progress_percentage,
            current_stage: p.current_stage.clone(),
            tickets_completed: p.tickets_completed,
            tickets_failed: p.tickets_failed,
            total_tickets: p.total_tickets,
            dependencies_created: p.dependencies_created,
            total_dependencies: p.total_dependencies,
            current_jira_project: p.current_jira_project.clone(),
        }
    }
}

/// `export_complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportComplete {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `completed`.
    pub status: String,
    /// Issues created (epics and tickets).
    pub tickets_created: usize,
    /// Links created.
    pub dependencies_created: usize,
    /// Fields to finish by hand in Jira.
    pub manual_fixes_needed: usize,
    /// Minutes from start to finish.
    pub total_processing_time_minutes: f64,
}

/// `export_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFailed {
    /// Protocol version (`1`).
    pub v: ProtocolVersion,
    /// Session id.
    pub session_id: String,
    /// `failed`.
    pub status: String,
    /// Build-order position (1-based) of the ticket it stopped at, if any.
    pub failed_at_ticket: Option<usize>,
    /// Category of seed `004_*`.
    pub error_category: ErrorCategory,
    /// Whether a retry may resume it.
    pub retry_available: bool,
    /// What happened, for the user.
    pub error_message: String,
}

/// The port that sends a session's progress to its listeners.
///
/// Best effort: a message that cannot be delivered is dropped (and the
/// adapter may log it); publishing never fails or delays the work beyond
/// the send itself. Listeners that miss messages catch up by polling the
/// REST status.
pub trait Publish: Send + Sync + 'static {
    /// Sends `message` to whoever listens to `session` now.
    fn publish(&self, session: &str, message: &ProgressMessage) -> impl Future<Output = ()> + Send;
}

/// Publishes nothing: for the command line and the tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPublish;

impl Publish for NoPublish {
    async fn publish(&self, _session: &str, _message: &ProgressMessage) {}
}

impl<P: Publish> Publish for Arc<P> {
    fn publish(&self, session: &str, message: &ProgressMessage) -> impl Future<Output = ()> + Send {
        P::publish(self, session, message)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn examples() -> Vec<(ProgressMessage, serde_json::Value)> {
        let s = "s1".to_owned();
        vec![
            (
                ProgressMessage::ValidationProgress(ValidationProgress {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    files_done: 2,
                    files_total: 5,
                    current_file: Some("bundles.csv".to_owned()),
                    errors: 1,
                    warnings: 3,
                    notes: 0,
                }),
                json!({
                    "type": "validation_progress", "v": 1, "session_id": "s1",
                    "files_done": 2, "files_total": 5, "current_file": "bundles.csv",
                    "errors": 1, "warnings": 3, "notes": 0
                }),
            ),
            (
                ProgressMessage::ValidationComplete(ValidationComplete {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    status: "completed".to_owned(),
                    files_done: 5,
                    files_total: 5,
                    items: 240,
                    errors: 0,
                    warnings: 4,
                    notes: 2,
                }),
                json!({
                    "type": "validation_complete", "v": 1, "session_id": "s1",
                    "status": "completed", "files_done": 5, "files_total": 5, "items": 240,
                    "errors": 0, "warnings": 4, "notes": 2
                }),
            ),
            (
                ProgressMessage::ValidationFailed(ValidationFailed {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    status: "failed".to_owned(),
                    files_done: 0,
                    files_total: 0,
                    errors: 0,
                    warnings: 0,
                    notes: 0,
                    error_category: ErrorCategory::UserFixable,
                    error_message: "upload the CSV files first".to_owned(),
                }),
                json!({
                    "type": "validation_failed", "v": 1, "session_id": "s1",
                    "status": "failed", "files_done": 0, "files_total": 0,
                    "errors": 0, "warnings": 0, "notes": 0,
                    "error_category": "user_fixable",
                    "error_message": "upload the CSV files first"
                }),
            ),
            (
                ProgressMessage::ProcessingProgress(ProcessingProgress {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    chunks_done: 3,
                    chunks_total: 12,
                    tickets: 30,
                    cost_usd: Some(0.0125),
                    provider: "openai".to_owned(),
                    model: "gpt-4o-mini".to_owned(),
                }),
                json!({
                    "type": "processing_progress", "v": 1, "session_id": "s1",
                    "chunks_done": 3, "chunks_total": 12, "tickets": 30,
                    "cost_usd": 0.0125, "provider": "openai", "model": "gpt-4o-mini"
                }),
            ),
            (
                ProgressMessage::ProcessingComplete(ProcessingComplete {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    status: "completed".to_owned(),
                    chunks_done: 1,
                    chunks_total: 1,
                    tickets: 120,
                    epics: 8,
                    dependencies: 252,
                    cost_usd: None,
                    provider: "deterministic".to_owned(),
                    model: "planner".to_owned(),
                }),
                json!({
                    "type": "processing_complete", "v": 1, "session_id": "s1",
                    "status": "completed", "chunks_done": 1, "chunks_total": 1,
                    "tickets": 120, "epics": 8, "dependencies": 252, "cost_usd": null,
                    "provider": "deterministic", "model": "planner"
                }),
            ),
            (
                ProgressMessage::ProcessingFailed(ProcessingFailed {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    status: "failed".to_owned(),
                    chunks_done: 0,
                    chunks_total: 1,
                    tickets: 0,
                    cost_usd: None,
                    provider: "deterministic".to_owned(),
                    model: "planner".to_owned(),
                    error_category: ErrorCategory::UserFixable,
                    error_message: "the dependencies form a cycle".to_owned(),
                }),
                json!({
                    "type": "processing_failed", "v": 1, "session_id": "s1",
                    "status": "failed", "chunks_done": 0, "chunks_total": 1, "tickets": 0,
                    "cost_usd": null, "provider": "deterministic", "model": "planner",
                    "error_category": "user_fixable",
                    "error_message": "the dependencies form a cycle"
                }),
            ),
            (
                ProgressMessage::ExportProgress(ExportProgressMessage {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    status: "exporting".to_owned(),
                    progress_percentage: 34.5,
                    current_stage: "Creating ticket 30 of 87: Configure Product Fields".to_owned(),
                    tickets_completed: 29,
                    tickets_failed: 0,
                    total_tickets: 87,
                    dependencies_created: 0,
                    total_dependencies: 12,
                    current_jira_project: "PROJ".to_owned(),
                }),
                json!({
                    "type": "export_progress", "v": 1, "session_id": "s1",
                    "status": "exporting", "progress_percentage": 34.5,
                    "current_stage": "Creating ticket 30 of 87: Configure Product Fields",
                    "tickets_completed": 29, "tickets_failed": 0, "total_tickets": 87,
                    "dependencies_created": 0, "total_dependencies": 12,
                    "current_jira_project": "PROJ"
                }),
            ),
            (
                ProgressMessage::ExportComplete(ExportComplete {
                    v: ProtocolVersion,
                    session_id: s.clone(),
                    status: "completed".to_owned(),
                    tickets_created: 87,
                    dependencies_created: 12,
                    manual_fixes_needed: 3,
                    total_processing_time_minutes: 2.8,
                }),
                json!({
                    "type": "export_complete", "v": 1, "session_id": "s1",
                    "status": "completed", "tickets_created": 87, "dependencies_created": 12,
                    "manual_fixes_needed": 3, "total_processing_time_minutes": 2.8
                }),
            ),
            (
                ProgressMessage::ExportFailed(ExportFailed {
                    v: ProtocolVersion,
                    session_id: s,
                    status: "failed".to_owned(),
                    failed_at_ticket: Some(45),
                    error_category: ErrorCategory::Temporary,
                    retry_available: true,
                    error_message: "Network timeout connecting to Jira".to_owned(),
                }),
                json!({
                    "type": "export_failed", "v": 1, "session_id": "s1",
                    "status": "failed", "failed_at_ticket": 45,
                    "error_category": "temporary", "retry_available": true,
                    "error_message": "Network timeout connecting to Jira"
                }),
            ),
        ]
    }

    #[test]
    fn every_message_has_its_fixed_shape_and_reads_back() {
        let examples = examples();
        assert_eq!(examples.len(), 9, "one example per type");
        for (message, shape) in examples {
            let json = serde_json::to_value(&message).unwrap();
            assert_eq!(json, shape, "{}", message.kind());
            assert_eq!(json["type"], message.kind());
            assert_eq!(json["session_id"], message.session_id());
            let back: ProgressMessage = serde_json::from_str(&message.to_json()).unwrap();
            assert_eq!(back, message);
        }
    }

    #[test]
    fn another_version_or_an_unknown_type_is_refused() {
        let v2 = json!({
            "type": "export_complete", "v": 2, "session_id": "s1", "status": "completed",
            "tickets_created": 1, "dependencies_created": 0, "manual_fixes_needed": 0,
            "total_processing_time_minutes": 0.1
        });
        let err = serde_json::from_value::<ProgressMessage>(v2).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        let unknown = json!({ "type": "export_paused", "v": 1, "session_id": "s1" });
        assert!(serde_json::from_value::<ProgressMessage>(unknown).is_err());
    }

    #[test]
    fn the_export_engine_progress_becomes_the_message() {
        let p = ExportProgress {
            kind: "export_progress".to_owned(),
            session_id: "s1".to_owned(),
            status: "exporting".to_owned(),
            progress_percentage: 50.0,
            current_stage: "Linking dependencies (1 of 2)".to_owned(),
            tickets_completed: 3,
            tickets_failed: 0,
            total_tickets: 3,
            dependencies_created: 1,
            total_dependencies: 2,
            current_jira_project: "WEB".to_owned(),
        };
        let engine = serde_json::to_value(&p).unwrap();
        let mut message =
            serde_json::to_value(ProgressMessage::ExportProgress((&p).into())).unwrap();
        assert_eq!(message["v"], 1);
        message.as_object_mut().unwrap().remove("v");
        assert_eq!(message, engine, "the same fields as the engine's progress");
    }

    #[tokio::test]
    async fn publishing_to_nobody_does_nothing() {
        let m = examples().remove(0).0;
        NoPublish.publish("s1", &m).await;
        Arc::new(NoPublish).publish("s1", &m).await;
    }
}

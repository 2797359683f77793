//! Errors of the ADF module.
//!
//! Conversion from HTML never fails (any input yields a valid document); errors only arise when
//! reading ADF JSON back in or parsing names of model values.

use thiserror::Error;

/// An error raised by the ADF model.
#[derive(Debug, Error)]
pub enum AdfError {
    /// The JSON could not be read or written as an ADF document.
    #[error("invalid ADF JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A panel type name that ADF does not define.
    #[error("unknown panel type `{0}` (expected info, note, tip, warning, error or success)")]
    UnknownPanelType(String),
}

//! Requests as recorded by dry runs and capturing clients: what would go on
//! the wire, secrets left out, in a shape `dtg export --dry-run` can print.

use serde::Serialize;
use serde_json::Value;

/// The body of a recorded request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "content", rename_all = "snake_case")]
pub enum RecordedBody {
    /// No body.
    None,
    /// A JSON body, exactly as sent.
    Json(Value),
    /// A multipart upload: the part's name and the file in it (not its bytes).
    Multipart {
        /// Part name (`file`).
        part: String,
        /// File name.
        file_name: String,
        /// Bytes in the file.
        size: usize,
    },
}

/// One request as it would be sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Full URL, query included.
    pub url: String,
    /// Headers, with the credentials of `Authorization` replaced by `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: RecordedBody,
}

impl RecordedRequest {
    /// The value of a header, by case-insensitive name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body, if it has one.
    #[must_use]
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            RecordedBody::Json(value) => Some(value),
            _ => None,
        }
    }
}

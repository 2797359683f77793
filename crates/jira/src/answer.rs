//! Jira's answers as Jira sends them: the parts of each answer the client
//! reads, typed after the response schemas of Atlassian's published OpenAPI
//! document (the Agile API's after its reference pages).
//!
//! Jira's documents mark few response properties as required, and Jira
//! leaves out, adds and re-types properties between releases, so every
//! property here is optional unless the document requires it, unknown
//! properties are ignored, `null` reads as absent, and ids read whether
//! Jira sends them as strings or as numbers. What the product cannot do
//! without (the key of a created issue) is checked where it is used, and a
//! body that still cannot be read is [`JiraError::Unreadable`], naming the
//! operation: a change of Jira's API, not a passing trouble.

use std::collections::BTreeMap;

use dtg_app::jira::{JiraError, JiraResult};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Characters of the answer shown on each side of where reading failed.
const EXCERPT: usize = 60;

/// The error for a 2xx answer of `operation` that cannot be read.
pub(crate) fn unreadable(
    operation: &str,
    message: impl Into<String>,
    maybe_applied: bool,
) -> JiraError {
    JiraError::Unreadable {
        operation: operation.to_owned(),
        message: message.into(),
        maybe_applied,
    }
}

/// Reads the 2xx answer of `operation` as `T`.
pub(crate) fn read<T: DeserializeOwned>(
    operation: &str,
    body: &[u8],
    maybe_applied: bool,
) -> JiraResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| unreadable(operation, describe(&e, body), maybe_applied))
}

/// Reads one item of a list in an answer; `at` says where it was
/// (`values[3]`).
pub(crate) fn read_item<T: DeserializeOwned>(
    operation: &str,
    at: &str,
    item: Value,
    maybe_applied: bool,
) -> JiraResult<T> {
    serde_json::from_value(item)
        .map_err(|e| unreadable(operation, format!("{at}: {e}"), maybe_applied))
}

/// The parser's message, with the text of the answer around where it
/// stopped.
fn describe(err: &serde_json::Error, body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "the answer is empty".to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let Some(line) = text.lines().nth(err.line().saturating_sub(1)) else {
        return err.to_string();
    };
    let at = err.column().min(line.len());
    let mut start = at.saturating_sub(EXCERPT);
    while !line.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + EXCERPT).min(line.len());
    while !line.is_char_boundary(end) {
        end += 1;
    }
    format!(
        "{err}, near `{}{}{}`",
        if start > 0 { "…" } else { "" },
        &line[start..end],
        if end < line.len() { "…" } else { "" }
    )
}

/// A string, or a number as its text; `null` as absent. For ids, which
/// Jira sends as strings in some answers and as numbers in others.
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

/// A whole number, or a string holding one; `null` as absent.
pub(crate) fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a whole number, found {n}"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a whole number, found \"{s}\""))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a whole number, found {other}"
        ))),
    }
}

/// `null` as the default value.
pub(crate) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A user (`User`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    #[serde(default, deserialize_with = "text")]
    pub(crate) account_id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) display_name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) email_address: String,
}

/// A project (`Project`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Project {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) issue_types: Vec<IssueType>,
}

/// An issue type of a project (`IssueTypeDetails`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueType {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) subtask: bool,
    #[serde(default, deserialize_with = "whole")]
    pub(crate) hierarchy_level: Option<i64>,
}

/// A field of a create screen (`FieldCreateMetadata`: `fieldId`, `key`,
/// `name`, `operations`, `required` and `schema` are required there).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateField {
    #[serde(default, deserialize_with = "text")]
    pub(crate) field_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) required: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) has_default_value: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) schema: FieldSchema,
}

/// The type of a field (`JsonTypeBean`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FieldSchema {
    #[serde(default, rename = "type", deserialize_with = "or_default")]
    pub(crate) kind: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) custom: Option<String>,
}

/// A priority (`Priority`).
#[derive(Debug, Deserialize)]
pub(crate) struct Priority {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) name: String,
}

/// The issue link types (`IssueLinkTypes`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinkTypes {
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) issue_link_types: Vec<LinkType>,
}

/// An issue link type (`IssueLinkType`).
#[derive(Debug, Deserialize)]
pub(crate) struct LinkType {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) inward: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) outward: String,
}

/// A board of the Agile API (ids are numbers there).
#[derive(Debug, Deserialize)]
pub(crate) struct Board {
    #[serde(default, deserialize_with = "whole")]
    pub(crate) id: Option<i64>,
}

/// A sprint of the Agile API.
#[derive(Debug, Deserialize)]
pub(crate) struct Sprint {
    #[serde(default, deserialize_with = "whole")]
    pub(crate) id: Option<i64>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) state: String,
}

/// A created issue (`CreatedIssue`).
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: Option<String>,
}

/// The answer of a bulk create (`CreatedIssues`), also Jira's 400 when
/// every element failed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreatedIssues {
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) issues: Vec<Created>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) errors: Vec<ElementError>,
}

/// One failed element of a bulk create (`BulkOperationErrorResult`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ElementError {
    #[serde(default, deserialize_with = "whole")]
    pub(crate) failed_element_number: Option<i64>,
    #[serde(default, deserialize_with = "whole")]
    pub(crate) status: Option<i64>,
    #[serde(default)]
    pub(crate) element_errors: Value,
}

/// An issue as a search or a bulk fetch shows it (`IssueBean`), with the
/// fields and properties asked for.
#[derive(Debug, Deserialize)]
pub(crate) struct Issue {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub(crate) key: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) fields: IssueFields,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) properties: BTreeMap<String, Value>,
}

/// The fields the client asks for.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct IssueFields {
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) labels: Vec<String>,
}

/// A page of a JQL search (`SearchAndReconcileResults`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchPage {
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) issues: Vec<Issue>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) next_page_token: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) is_last: Option<bool>,
}

/// The answer of a bulk fetch (`BulkIssueResults`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkIssues {
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) issues: Vec<Issue>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) issue_errors: Vec<IssueError>,
}

/// An issue Jira could not return this time (`IssueError`): "a retriable
/// error or payload constraint", not an issue that does not exist.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueError {
    #[serde(default, deserialize_with = "text")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) error_message: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn ids_read_as_strings_or_numbers_and_null_as_absent() {
        let user: User =
            serde_json::from_str(r#"{"accountId": 42, "displayName": null, "x": [1]}"#).unwrap();
        assert_eq!(user.account_id.as_deref(), Some("42"));
        assert_eq!(user.display_name, "");
        let sprint: Sprint = serde_json::from_str(r#"{"id": "7", "name": "S"}"#).unwrap();
        assert_eq!(sprint.id, Some(7));
        let sprint: Sprint = serde_json::from_str(r#"{"id": null}"#).unwrap();
        assert_eq!(sprint.id, None);
        assert!(serde_json::from_str::<Sprint>(r#"{"id": "seven"}"#).is_err());
    }

    #[test]
    fn an_unreadable_answer_names_the_operation_and_shows_where() {
        let body = br#"{"issues": [{"id": {"nested": true}, "key": "PROJ-1"}]}"#;
        let err = read::<SearchPage>("POST /rest/api/3/search/jql", body, false).unwrap_err();
        let JiraError::Unreadable {
            operation,
            message,
            maybe_applied,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(operation, "POST /rest/api/3/search/jql");
        assert!(
            message.contains("expected a string or a number"),
            "{message}"
        );
        assert!(message.contains("PROJ-1"), "{message}");
        assert!(!maybe_applied);
        let err = read::<Created>("POST /rest/api/3/issue", b"", true).unwrap_err();
        assert!(err.maybe_applied());
        assert!(err.to_string().contains("the answer is empty"), "{err}");
    }
}

//! Strict checking of a model's answer: JSON, the answer schema
//! (`schema/answer.schema.json`), then the rules a schema cannot say (only
//! the ids asked for, each once, no field empty once sanitised).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use dtg_core::plan::prose::{TicketProse, is_complete};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The answer schema, as shipped.
pub const ANSWER_SCHEMA: &str = include_str!("../schema/answer.schema.json");

/// The answer schema, parsed once.
#[must_use]
pub fn answer_schema() -> Arc<Value> {
    static SCHEMA: OnceLock<Arc<Value>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Arc::new(serde_json::from_str(ANSWER_SCHEMA).unwrap_or(Value::Null)))
        .clone()
}

fn validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| jsonschema::validator_for(&answer_schema()).ok())
        .as_ref()
}

/// The schema as sent to a provider: the same shape without the length
/// bounds some structured-output modes refuse (they are still checked here).
#[must_use]
pub fn wire_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "minLength" | "maxLength" | "$schema" | "title")
                })
                .map(|(k, v)| (k.clone(), wire_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(wire_schema).collect()),
        other => other.clone(),
    }
}

/// A dependency a model suggests: kept for review, never applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SuggestedDependency {
    /// The ticket that would wait.
    pub from: String,
    /// The ticket it would wait for.
    pub to: String,
    /// The model's reason.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct WireAnswer {
    tickets: Vec<WireTicket>,
}

#[derive(Debug, Deserialize)]
struct WireTicket {
    id: String,
    summary: String,
    overview_html: String,
    implementation_html: String,
    acceptance_criteria: Vec<String>,
    risks: Vec<String>,
    notes: String,
    suggested_dependencies: Vec<WireSuggestion>,
}

#[derive(Debug, Deserialize)]
struct WireSuggestion {
    id: String,
    reason: String,
}

/// An answer that passed every check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckedAnswer {
    /// Prose per asked ticket id.
    pub prose: BTreeMap<String, TicketProse>,
    /// Ids in the answer that were not asked for (ignored).
    pub unknown_ids: Vec<String>,
    /// Asked ids the answer left out (they keep the planner's text).
    pub missing_ids: Vec<String>,
    /// Dependencies suggested for asked tickets.
    pub suggestions: Vec<SuggestedDependency>,
}

/// Why an answer was refused; the message goes back to the model on retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AnswerRejected(pub String);

/// Checks an answer's text against what was asked.
///
/// # Errors
/// [`AnswerRejected`] when the text is not JSON, breaks the schema, answers
/// an asked ticket twice, or leaves a required field empty once sanitised.
pub fn check(text: &str, asked: &[String]) -> Result<CheckedAnswer, AnswerRejected> {
    let body = strip_fence(text);
    let value: Value = serde_json::from_str(body)
        .map_err(|e| AnswerRejected(format!("the answer is not valid JSON: {e}")))?;
    let Some(validator) = validator() else {
        return Err(AnswerRejected(
            "the answer schema cannot be compiled".to_owned(),
        ));
    };
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .take(8)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { at.as_str() })
        })
        .collect();
    if !errors.is_empty() {
        return Err(AnswerRejected(format!(
            "the answer does not match the schema: {}",
            errors.join("; ")
        )));
    }
    let wire: WireAnswer = serde_json::from_value(value)
        .map_err(|e| AnswerRejected(format!("the answer does not match the schema: {e}")))?;

    let asked_set: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
    let mut out = CheckedAnswer::default();
    let mut problems = Vec::new();
    for t in wire.tickets {
        if !asked_set.contains(t.id.as_str()) {
            out.unknown_ids.push(t.id);
            continue;
        }
        if out.prose.contains_key(&t.id) {
            problems.push(format!("ticket {} is answered twice", t.id));
            continue;
        }
        let prose = TicketProse {
            summary: t.summary,
            overview_html: t.overview_html,
            implementation_html: t.implementation_html,
            acceptance_criteria: t.acceptance_criteria,
            risks: t.risks,
            notes: t.notes,
        };
        if !is_complete(&prose) {
            problems.push(format!(
                "ticket {} has an empty summary, overview or acceptance criteria once HTML is sanitised",
                t.id
            ));
            continue;
        }
        for s in t.suggested_dependencies {
            out.suggestions.push(SuggestedDependency {
                from: t.id.clone(),
                to: s.id,
                reason: s.reason,
            });
        }
        out.prose.insert(t.id, prose);
    }
    if !problems.is_empty() {
        return Err(AnswerRejected(problems.join("; ")));
    }
    out.missing_ids = asked
        .iter()
        .filter(|id| !out.prose.contains_key(*id))
        .cloned()
        .collect();
    Ok(out)
}

/// The JSON inside a Markdown code fence, for models that add one.
fn strip_fence(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .map_or(t, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket(id: &str) -> Value {
        json!({
            "id": id, "summary": "Build it", "overview_html": "<p>Why</p>",
            "implementation_html": "", "acceptance_criteria": ["It works"],
            "risks": [], "notes": "", "suggested_dependencies": [{"id": "b", "reason": "r"}]
        })
    }

    #[test]
    fn a_good_answer_passes_and_sorts_ids() {
        let text = json!({"tickets": [ticket("a"), ticket("zzz")]}).to_string();
        let asked = vec!["a".to_owned(), "c".to_owned()];
        let a = check(&text, &asked).unwrap_or_default();
        assert_eq!(a.prose.len(), 1);
        assert_eq!(a.unknown_ids, vec!["zzz"]);
        assert_eq!(a.missing_ids, vec!["c"]);
        assert_eq!(a.suggestions.len(), 1);
    }

    #[test]
    fn broken_answers_are_rejected_with_a_reason() {
        let asked = vec!["a".to_owned()];
        let e = check("{\"tickets\": [", &asked)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("not valid JSON"), "{e}");
        let mut t = ticket("a");
        t["acceptance_criteria"] = json!([]);
        let e = check(&json!({"tickets": [t]}).to_string(), &asked)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("schema"), "{e}");
        let mut t = ticket("a");
        t["overview_html"] = json!("<script>alert(1)</script>");
        let e = check(&json!({"tickets": [t]}).to_string(), &asked)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("empty"), "{e}");
        let t = ticket("a");
        let e = check(&json!({"tickets": [t.clone(), t]}).to_string(), &asked)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn wire_schema_drops_length_bounds() {
        let w = wire_schema(&answer_schema());
        assert!(!w.to_string().contains("maxLength"));
        assert!(w.to_string().contains("acceptance_criteria"));
    }

    #[test]
    fn fenced_answers_are_read() {
        let text = format!("```json\n{}\n```", json!({"tickets": [ticket("a")]}));
        assert!(check(&text, &["a".to_owned()]).is_ok());
    }
}

//! The answer format and strict checking of a model's answer.
//!
//! Each chunk is sent the answer schema (`schema/answer.schema.json`) with
//! its ids spelled out ([`chunk_schema`]): a model that keeps to the format
//! can only answer for the chunk's tickets and suggest tickets of the plan.
//! A model may still ignore a schema, so every answer is checked here
//! against the shipped schema, then against the rules a schema does not say
//! (only the ids asked for, each once, no field empty once sanitised); the
//! engine drops suggestions of tickets the plan does not have.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use dtg_core::plan::prose::{TicketProse, is_complete};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

/// Enum values a strict schema may hold across all its enums (OpenAI
/// Structured Outputs, "Supported schemas").
pub const MAX_ENUM_VALUES: usize = 1_000;

/// A string enum of more than this many values is held to
/// [`MAX_LARGE_ENUM_CHARS`] (OpenAI Structured Outputs).
pub const LARGE_ENUM_VALUES: usize = 250;

/// Characters the values of one large string enum may total (OpenAI
/// Structured Outputs).
pub const MAX_LARGE_ENUM_CHARS: usize = 15_000;

/// Characters a strict schema's property names, definition names, enum
/// values and const values may total (OpenAI Structured Outputs).
pub const MAX_SCHEMA_CHARS: usize = 120_000;

/// Where the answered ticket's id sits in the answer schema.
const TICKET_ID: &str = "/properties/tickets/items/properties/id";

/// Where a suggested dependency's id sits in the answer schema.
const SUGGESTED_ID: &str =
    "/properties/tickets/items/properties/suggested_dependencies/items/properties/id";

/// The answer schema for one chunk: the shipped schema with the answered
/// `id` limited to `chunk_ids` and each suggested dependency's `id` to
/// `plan_ids` (`enum`), so a model that keeps to the format cannot answer
/// for a ticket it was not asked about nor suggest one that does not exist.
///
/// The schema stays within OpenAI's limits on a strict schema
/// ([`within_strict_limits`]) whatever the provider: one schema for all, and
/// every id in an enum is input paid for on every chunk. A large plan's ids
/// do not fit (at most 1,000 enum values in all; at most 15,000 characters
/// for an enum of more than 250 values): then suggestions are left a free
/// string, and the chunk's ids alone are constrained (a chunk too large even
/// for that leaves them free as well). Nothing is lost by it: the answer is
/// still checked against the ids asked ([`check`]), and the engine still
/// drops suggestions of tickets the plan does not have.
///
/// A ticket cannot be kept from suggesting itself here (one item schema
/// serves every ticket of the chunk); the engine drops such suggestions.
#[must_use]
pub fn chunk_schema(chunk_ids: &[String], plan_ids: &[String]) -> Value {
    let mut schema = (*answer_schema()).clone();
    for (pointer, ids) in [(TICKET_ID, chunk_ids), (SUGGESTED_ID, plan_ids)] {
        let ids = distinct(ids);
        // An empty enum admits nothing: better a free string than no answer.
        if ids.is_empty() {
            continue;
        }
        if let Some(Value::Object(node)) = schema.pointer_mut(pointer) {
            node.insert("enum".to_owned(), json!(ids));
        }
    }
    // The plan's ids go first: the chunk's are the ones worth keeping.
    for pointer in [SUGGESTED_ID, TICKET_ID] {
        if within_strict_limits(&schema) {
            break;
        }
        if let Some(Value::Object(node)) = schema.pointer_mut(pointer) {
            node.remove("enum");
        }
    }
    schema
}

/// The ids in their first order, each once (an enum's values must differ).
fn distinct(ids: &[String]) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    ids.iter()
        .map(String::as_str)
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Whether a schema stays within OpenAI's documented limits on the enums
/// and names of a strict schema ([`MAX_ENUM_VALUES`],
/// [`MAX_LARGE_ENUM_CHARS`], [`MAX_SCHEMA_CHARS`]).
#[must_use]
pub fn within_strict_limits(schema: &Value) -> bool {
    let mut tally = Tally::default();
    tally.schema(schema);
    tally.enum_values <= MAX_ENUM_VALUES
        && tally.chars <= MAX_SCHEMA_CHARS
        && !tally.large_enum_too_long
}

/// What [`within_strict_limits`] counts.
#[derive(Debug, Default)]
struct Tally {
    enum_values: usize,
    chars: usize,
    large_enum_too_long: bool,
}

impl Tally {
    fn schema(&mut self, schema: &Value) {
        let Value::Object(node) = schema else {
            return;
        };
        for (keyword, value) in node {
            match (keyword.as_str(), value) {
                ("properties" | "$defs" | "definitions", Value::Object(named)) => {
                    for (name, sub) in named {
                        self.chars += name.chars().count();
                        self.schema(sub);
                    }
                }
                ("enum", Value::Array(values)) => {
                    let chars: usize = values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|v| v.chars().count())
                        .sum();
                    self.enum_values += values.len();
                    self.chars += chars;
                    if values.len() > LARGE_ENUM_VALUES && chars > MAX_LARGE_ENUM_CHARS {
                        self.large_enum_too_long = true;
                    }
                }
                ("const", Value::String(v)) => self.chars += v.chars().count(),
                ("items" | "additionalProperties", sub @ Value::Object(_)) => self.schema(sub),
                ("anyOf", Value::Array(subs)) => subs.iter().for_each(|s| self.schema(s)),
                _ => {}
            }
        }
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
/// The schema checked is the shipped one, not the chunk's: a model that
/// ignored the chunk's `enum` and answered for a ticket it was not asked
/// about has that ticket ignored and named in
/// [`CheckedAnswer::unknown_ids`], not its whole answer refused.
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

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|&id| id.to_owned()).collect()
    }

    fn enum_at(schema: &Value, pointer: &str) -> Option<Vec<String>> {
        schema.pointer(pointer)?.get("enum")?.as_array().map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    }

    #[test]
    fn a_chunk_schema_names_the_chunk_and_the_plan() {
        let chunk = ids(&["b", "c"]);
        let plan = ids(&["a", "b", "c", "d", "b"]);
        let w = wire_schema(&chunk_schema(&chunk, &plan));
        assert_eq!(enum_at(&w, TICKET_ID), Some(chunk));
        assert_eq!(enum_at(&w, SUGGESTED_ID), Some(ids(&["a", "b", "c", "d"])));
        let validator = jsonschema::validator_for(&w).ok();
        let answer = |id: &str, to: &str| {
            let mut t = ticket(id);
            t["suggested_dependencies"] = json!([{"id": to, "reason": "r"}]);
            json!({"tickets": [t]})
        };
        let valid = |v: &Value| validator.as_ref().is_some_and(|c| c.is_valid(v));
        assert!(valid(&answer("b", "d")));
        assert!(!valid(&answer("a", "d")), "a is not in the chunk");
        assert!(!valid(&answer("b", "z")), "z is not in the plan");
        // The shipped schema is left as it was: answers are checked against it.
        assert_eq!(enum_at(&answer_schema(), TICKET_ID), None);
    }

    #[test]
    fn a_plan_too_large_for_a_strict_schema_leaves_suggestions_free() {
        let plan: Vec<String> = (0..1_200).map(|i| format!("content-type-{i:04}")).collect();
        let chunk = plan[..12].to_vec();
        let s = chunk_schema(&chunk, &plan);
        assert!(within_strict_limits(&s));
        assert_eq!(enum_at(&s, TICKET_ID), Some(chunk.clone()));
        assert_eq!(enum_at(&s, SUGGESTED_ID), None);
        // Under 1,000 values but over 15,000 characters in one enum.
        let long: Vec<String> = (0..600)
            .map(|i| format!("{i:04}-{}", "x".repeat(30)))
            .collect();
        let s = chunk_schema(&long[..1], &long);
        assert_eq!(enum_at(&s, SUGGESTED_ID), None);
        assert_eq!(enum_at(&s, TICKET_ID), Some(long[..1].to_vec()));
        // Under both: kept.
        let small = &plan[..250];
        assert_eq!(
            enum_at(&chunk_schema(&chunk, small), SUGGESTED_ID),
            Some(small.to_vec())
        );
        // A chunk larger than the limit itself: its ids are left free too.
        let s = chunk_schema(&plan, &plan);
        assert!(within_strict_limits(&s));
        assert_eq!(enum_at(&s, TICKET_ID), None);
    }

    #[test]
    fn strict_limits_count_every_enum_and_name() {
        let many = |n: usize| json!({"type": "string", "enum": (0..n).map(|i| i.to_string()).collect::<Vec<_>>()});
        let two = |a: Value, b: Value| json!({"type": "object", "properties": {"a": a, "b": b}});
        assert!(within_strict_limits(&two(many(500), many(500))));
        assert!(!within_strict_limits(&two(many(500), many(501))));
        let names: serde_json::Map<String, Value> = (0..4_000)
            .map(|i| {
                (
                    format!("{i:04}-{}", "p".repeat(30)),
                    json!({"type": "string"}),
                )
            })
            .collect();
        assert!(!within_strict_limits(
            &json!({"type": "object", "properties": names})
        ));
    }

    #[test]
    fn fenced_answers_are_read() {
        let text = format!("```json\n{}\n```", json!({"tickets": [ticket("a")]}));
        assert!(check(&text, &["a".to_owned()]).is_ok());
    }
}

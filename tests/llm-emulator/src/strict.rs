//! The rules OpenAI holds a strict answer format to (`response_format:
//! json_schema` with `strict: true`), as its Structured Outputs guide
//! documents them ("Supported schemas"). The OpenAPI document types the
//! format's `schema` as any object, so these are checked here: a schema
//! that breaks them is answered 400, as the real API would.
//!
//! Written apart from the client's own limit check, so a test of one is not
//! a test of itself.

use serde_json::Value;

/// Object properties a strict schema may hold in all.
const MAX_PROPERTIES: usize = 5_000;
/// Levels of object nesting a strict schema may have.
const MAX_DEPTH: usize = 10;
/// Enum values across every enum of a strict schema.
const MAX_ENUM_VALUES: usize = 1_000;
/// A string enum of more than this many values is held to [`MAX_LARGE_ENUM_CHARS`].
const LARGE_ENUM_VALUES: usize = 250;
/// Characters of the values of one large string enum.
const MAX_LARGE_ENUM_CHARS: usize = 15_000;
/// Characters of property names, definition names, enum and const values.
const MAX_SCHEMA_CHARS: usize = 120_000;

/// Keywords the guide names as unsupported.
const UNSUPPORTED: [&str; 9] = [
    "allOf",
    "not",
    "dependentRequired",
    "dependentSchemas",
    "if",
    "then",
    "else",
    // String keywords the guide does not list as supported (pattern and
    // format are).
    "minLength",
    "maxLength",
];

#[derive(Debug, Default)]
struct Walk {
    problems: Vec<String>,
    properties: usize,
    enum_values: usize,
    chars: usize,
}

/// The problems a strict schema has (empty when OpenAI would take it).
#[must_use]
pub fn check_strict_schema(schema: &Value) -> Vec<String> {
    let mut walk = Walk::default();
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        walk.problems
            .push("the root of a strict schema must be an object".to_owned());
    }
    if schema.get("anyOf").is_some() {
        walk.problems
            .push("the root of a strict schema must not be anyOf".to_owned());
    }
    walk.node(schema, "#", 0);
    if walk.properties > MAX_PROPERTIES {
        walk.problems.push(format!(
            "{} object properties, at most {MAX_PROPERTIES} allowed",
            walk.properties
        ));
    }
    if walk.enum_values > MAX_ENUM_VALUES {
        walk.problems.push(format!(
            "expected at most {MAX_ENUM_VALUES} enum values in total within a single schema, but received {}",
            walk.enum_values
        ));
    }
    if walk.chars > MAX_SCHEMA_CHARS {
        walk.problems.push(format!(
            "property names, definition names, enum and const values total {} characters, at most {MAX_SCHEMA_CHARS} allowed",
            walk.chars
        ));
    }
    walk.problems
}

impl Walk {
    fn node(&mut self, schema: &Value, at: &str, depth: usize) {
        let Value::Object(node) = schema else {
            return;
        };
        for keyword in UNSUPPORTED {
            if node.contains_key(keyword) {
                self.problems
                    .push(format!("{at}: '{keyword}' is not supported in strict mode"));
            }
        }
        let is_object = node.get("type").and_then(Value::as_str) == Some("object")
            || node.contains_key("properties");
        let depth = if is_object { depth + 1 } else { depth };
        if is_object {
            if depth > MAX_DEPTH {
                self.problems.push(format!(
                    "{at}: objects nested {depth} deep, at most {MAX_DEPTH} allowed"
                ));
            }
            if node.get("additionalProperties") != Some(&Value::Bool(false)) {
                self.problems.push(format!(
                    "{at}: 'additionalProperties' is required to be supplied and to be false"
                ));
            }
            let required: Vec<&str> = node
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = node.get("properties") {
                for name in properties.keys() {
                    if !required.contains(&name.as_str()) {
                        self.problems.push(format!(
                            "{at}: 'required' must list every property; '{name}' is missing"
                        ));
                    }
                }
            }
        }
        for (keyword, value) in node {
            match (keyword.as_str(), value) {
                ("properties", Value::Object(named)) => {
                    self.properties += named.len();
                    for (name, sub) in named {
                        self.chars += name.chars().count();
                        self.node(sub, &format!("{at}/properties/{name}"), depth);
                    }
                }
                ("$defs" | "definitions", Value::Object(named)) => {
                    for (name, sub) in named {
                        self.chars += name.chars().count();
                        self.node(sub, &format!("{at}/{keyword}/{name}"), depth);
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
                        self.problems.push(format!(
                            "{at}: an enum of {} values totals {chars} characters, at most {MAX_LARGE_ENUM_CHARS} allowed above {LARGE_ENUM_VALUES} values",
                            values.len()
                        ));
                    }
                }
                ("const", Value::String(v)) => self.chars += v.chars().count(),
                ("items", sub) => self.node(sub, &format!("{at}/items"), depth),
                ("anyOf", Value::Array(subs)) => {
                    for (i, sub) in subs.iter().enumerate() {
                        self.node(sub, &format!("{at}/anyOf/{i}"), depth);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(properties: Value) -> Value {
        let required: Vec<String> = properties
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
    }

    fn strings(n: usize, width: usize) -> Value {
        json!({"type": "string", "enum": (0..n).map(|i| format!("{i:0width$}")).collect::<Vec<_>>()})
    }

    #[test]
    fn a_strict_schema_passes() {
        let s = object(
            json!({"a": strings(500, 3), "b": {"type": "array", "items": object(json!({"c": strings(500, 3)}))}}),
        );
        assert!(
            check_strict_schema(&s).is_empty(),
            "{:?}",
            check_strict_schema(&s)
        );
    }

    #[test]
    fn each_rule_has_teeth() {
        let refused = |s: Value, what: &str| {
            let p = check_strict_schema(&s);
            assert!(p.iter().any(|m| m.contains(what)), "{what}: {p:?}");
        };
        let mut open = object(json!({"a": {"type": "string"}}));
        open["additionalProperties"] = json!(true);
        refused(open, "additionalProperties");
        let mut optional = object(json!({"a": {"type": "string"}, "b": {"type": "string"}}));
        optional["required"] = json!(["a"]);
        refused(optional, "'b' is missing");
        refused(
            object(json!({"a": strings(500, 3), "b": strings(501, 3)})),
            "enum values",
        );
        refused(object(json!({"a": strings(300, 60)})), "at most 15000");
        refused(
            object(json!({"a": {"type": "string", "minLength": 1}})),
            "minLength",
        );
        refused(
            json!({"type": "array", "items": {"type": "string"}}),
            "root",
        );
        let mut deep = object(json!({"leaf": {"type": "string"}}));
        for _ in 0..10 {
            deep = object(json!({"next": deep}));
        }
        refused(deep, "nested 11 deep");
    }
}

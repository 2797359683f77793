//! Choice rules: parsed and checked when the definition is loaded, evaluated
//! against a Choice state's input at run time.
//!
//! A rule is `And`/`Or` (a non-empty list of rules), `Not` (one rule), or a
//! `Variable` path with one comparison: `String`/`Numeric` with `Equals`,
//! `LessThan`, `GreaterThan`, `LessThanEquals`, `GreaterThanEquals`,
//! `BooleanEquals` (each also in its `...Path` form, comparing with another
//! path), and `IsPresent`, `IsNull`, `IsString`, `IsNumeric`, `IsBoolean`.
//! As on Step Functions, a value of another kind than the comparison's makes
//! the rule false, and a `Variable` that selects nothing is a `States.Runtime`
//! error except for `IsPresent`.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::AslError;
use super::path::{Context, Path, kind_of, not_found};

/// A Choice rule.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// Every rule holds.
    And(Vec<Rule>),
    /// Some rule holds.
    Or(Vec<Rule>),
    /// The rule does not hold.
    Not(Box<Rule>),
    /// A test of the value at `variable`.
    Test {
        /// The `Variable` path.
        variable: Path,
        /// The comparison.
        test: Test,
    },
}

/// The kind of value a comparison takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
}

/// A comparison's relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

/// What a comparison compares with.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Literal(Value),
    Path(Path),
}

/// A test of a `Variable`'s value.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// `StringEquals`, `NumericGreaterThanPath`...
    Compare {
        /// The operator as written, for messages.
        operator: String,
        kind: Kind,
        relation: Relation,
        operand: Operand,
    },
    /// `IsPresent`, `IsNull`, `IsString`, `IsNumeric`, `IsBoolean`, with the
    /// expected answer.
    Is { what: Is, expected: bool },
}

/// The type tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Is {
    Present,
    Null,
    String,
    Numeric,
    Boolean,
}

/// The comparison operators, for messages.
const OPERATORS: &str = "StringEquals, StringLessThan, StringGreaterThan, \
    StringLessThanEquals, StringGreaterThanEquals, NumericEquals, NumericLessThan, \
    NumericGreaterThan, NumericLessThanEquals, NumericGreaterThanEquals, BooleanEquals (each \
    also as ...Path), IsPresent, IsNull, IsString, IsNumeric, IsBoolean";

/// Parses an operator name (`NumericGreaterThanEqualsPath`).
fn operator(name: &str) -> Option<(Kind, Relation, bool)> {
    let (name, by_path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let (kind, relation) = if let Some(rest) = name.strip_prefix("String") {
        (Kind::String, rest)
    } else if let Some(rest) = name.strip_prefix("Numeric") {
        (Kind::Numeric, rest)
    } else if let Some(rest) = name.strip_prefix("Boolean") {
        (Kind::Boolean, rest)
    } else {
        return None;
    };
    let relation = match relation {
        "Equals" => Relation::Equals,
        "LessThan" => Relation::LessThan,
        "GreaterThan" => Relation::GreaterThan,
        "LessThanEquals" => Relation::LessThanEquals,
        "GreaterThanEquals" => Relation::GreaterThanEquals,
        _ => return None,
    };
    if kind == Kind::Boolean && relation != Relation::Equals {
        return None;
    }
    Some((kind, relation, by_path))
}

fn is_test(name: &str) -> Option<Is> {
    Some(match name {
        "IsPresent" => Is::Present,
        "IsNull" => Is::Null,
        "IsString" => Is::String,
        "IsNumeric" => Is::Numeric,
        "IsBoolean" => Is::Boolean,
        _ => return None,
    })
}

/// Parses the rule at `field` (e.g. `Choices[0]`) of the Choice state
/// `state`. A top rule has a `Next` (returned); a nested one must not.
pub(crate) fn parse(
    value: &Value,
    state: &str,
    field: &str,
    top: bool,
) -> Result<(Rule, Option<String>), AslError> {
    let Value::Object(map) = value else {
        return Err(AslError::invalid(
            state,
            field,
            format!("a choice rule is an object, not {}", kind_of(value)),
        ));
    };
    let mut next = None;
    let mut variable = None;
    let mut combinator: Option<Rule> = None;
    let mut test: Option<Test> = None;
    let mut conditions = 0;
    for (key, value) in map {
        let at = format!("{field}.{key}");
        match key.as_str() {
            "Comment" => {}
            "Next" => {
                if !top {
                    return Err(AslError::invalid(
                        state,
                        &at,
                        "a rule nested in And, Or or Not has no Next: only the top rule of a \
                         Choices entry names the next state",
                    ));
                }
                let Value::String(name) = value else {
                    return Err(AslError::invalid(state, &at, "Next must be a state name"));
                };
                next = Some(name.clone());
            }
            "Variable" => {
                let Value::String(text) = value else {
                    return Err(AslError::invalid(state, &at, "Variable must be a path"));
                };
                variable = Some(Path::parse(text).map_err(|e| AslError::expr(state, &at, e))?);
            }
            "And" | "Or" => {
                conditions += 1;
                let rules = match value {
                    Value::Array(items) if !items.is_empty() => items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            parse(item, state, &format!("{at}[{i}]"), false).map(|(r, _)| r)
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => {
                        return Err(AslError::invalid(
                            state,
                            &at,
                            format!("{key} takes a non-empty array of rules"),
                        ));
                    }
                };
                combinator = Some(if key == "And" {
                    Rule::And(rules)
                } else {
                    Rule::Or(rules)
                });
            }
            "Not" => {
                conditions += 1;
                let (rule, _) = parse(value, state, &at, false)?;
                combinator = Some(Rule::Not(Box::new(rule)));
            }
            name => {
                conditions += 1;
                if let Some(what) = is_test(name) {
                    let Value::Bool(expected) = value else {
                        return Err(AslError::invalid(
                            state,
                            &at,
                            format!("{name} takes true or false"),
                        ));
                    };
                    test = Some(Test::Is {
                        what,
                        expected: *expected,
                    });
                } else if let Some((kind, relation, by_path)) = operator(name) {
                    let operand = if by_path {
                        let Value::String(text) = value else {
                            return Err(AslError::invalid(
                                state,
                                &at,
                                format!("{name} takes a path"),
                            ));
                        };
                        Operand::Path(Path::parse(text).map_err(|e| AslError::expr(state, &at, e))?)
                    } else {
                        let fits = match kind {
                            Kind::String => value.is_string(),
                            Kind::Numeric => value.is_number(),
                            Kind::Boolean => value.is_boolean(),
                        };
                        if !fits {
                            return Err(AslError::invalid(
                                state,
                                &at,
                                format!(
                                    "{name} compares with {}",
                                    match kind {
                                        Kind::String => "a string",
                                        Kind::Numeric => "a number",
                                        Kind::Boolean => "true or false",
                                    }
                                ),
                            ));
                        }
                        Operand::Literal(value.clone())
                    };
                    test = Some(Test::Compare {
                        operator: name.to_owned(),
                        kind,
                        relation,
                        operand,
                    });
                } else {
                    return Err(AslError::unsupported(
                        state,
                        &at,
                        format!("the choice operator `{name}` (supported: {OPERATORS})"),
                    ));
                }
            }
        }
    }
    if conditions != 1 {
        return Err(AslError::invalid(
            state,
            field,
            format!(
                "a choice rule has exactly one condition (And, Or, Not or one comparison), this \
                 one has {conditions}"
            ),
        ));
    }
    let rule = match (combinator, test, variable) {
        (Some(rule), None, None) => rule,
        (Some(_), None, Some(_)) => {
            return Err(AslError::invalid(
                state,
                &format!("{field}.Variable"),
                "And, Or and Not rules take no Variable: put it in their nested rules",
            ));
        }
        (None, Some(test), Some(variable)) => Rule::Test { variable, test },
        _ => {
            return Err(AslError::invalid(
                state,
                &format!("{field}.Variable"),
                "a comparison needs a Variable path",
            ));
        }
    };
    if top && next.is_none() {
        return Err(AslError::invalid(
            state,
            &format!("{field}.Next"),
            "each Choices entry names the state to go to in Next",
        ));
    }
    Ok((rule, next))
}

impl Rule {
    /// Whether the rule holds for `input`.
    ///
    /// # Errors
    ///
    /// A path that selects nothing, as the cause of a `States.Runtime` error.
    pub(crate) fn holds(&self, input: &Value, context: &Context<'_>) -> Result<bool, String> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.holds(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.holds(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.holds(input, context)?),
            Rule::Test { variable, test } => {
                let value = variable.get(input, context);
                if let Test::Is {
                    what: Is::Present,
                    expected,
                } = test
                {
                    return Ok(value.is_some() == *expected);
                }
                let Some(value) = value else {
                    return Err(not_found(variable, "Variable", input));
                };
                test.holds(&value, input, context)
            }
        }
    }
}

impl Test {
    fn holds(&self, value: &Value, input: &Value, context: &Context<'_>) -> Result<bool, String> {
        match self {
            Test::Is { what, expected } => {
                let is = match what {
                    Is::Present => true,
                    Is::Null => value.is_null(),
                    Is::String => value.is_string(),
                    Is::Numeric => value.is_number(),
                    Is::Boolean => value.is_boolean(),
                };
                Ok(is == *expected)
            }
            Test::Compare {
                operator,
                kind,
                relation,
                operand,
            } => {
                let other: Cow<'_, Value> = match operand {
                    Operand::Literal(v) => Cow::Borrowed(v),
                    Operand::Path(path) => path
                        .get(input, context)
                        .ok_or_else(|| not_found(path, operator, input))?,
                };
                let ordering = match (kind, value, other.as_ref()) {
                    (Kind::String, Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                    (Kind::Numeric, Value::Number(a), Value::Number(b)) => {
                        match (a.as_f64(), b.as_f64()) {
                            (Some(a), Some(b)) => a.partial_cmp(&b),
                            _ => None,
                        }
                    }
                    (Kind::Boolean, Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
                    _ => None,
                };
                Ok(ordering.is_some_and(|o| match relation {
                    Relation::Equals => o == Ordering::Equal,
                    Relation::LessThan => o == Ordering::Less,
                    Relation::GreaterThan => o == Ordering::Greater,
                    Relation::LessThanEquals => o != Ordering::Greater,
                    Relation::GreaterThanEquals => o != Ordering::Less,
                }))
            }
        }
    }
}

//! Reference paths and payload templates of the JSONPath query language.
//!
//! A [`Path`] is a reference path: `$` (the state's input) or `$$` (the
//! context object) followed by `.field`, `['field']` or `[index]` steps. The
//! JSONPath forms that select several nodes (`*`, `..`, filters, slices,
//! unions, negative indexes) are refused when the definition is loaded, so a
//! path always selects one node or nothing.
//!
//! A [`Template`] is a `Parameters`, `ItemSelector` or `ResultSelector`
//! object: a key ending in `.$` takes its value from a path or an intrinsic
//! function, other values are copied, nested objects and arrays recurse.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::intrinsic::Intrinsic;

/// Why an expression (a path or an intrinsic call) was refused at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExprError {
    /// Valid ASL outside the runner's subset.
    Unsupported(String),
    /// Not valid ASL at all.
    Invalid(String),
}

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the data the state works on.
    Input,
    /// `$$`: the context object.
    Context,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// `.name` or `['name']`.
    Field(String),
    /// `[3]`.
    Index(usize),
}

/// A reference path, checked when the definition is loaded.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

/// The context object (`$$`) of one state, as far as the runner supports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) execution_id: &'a str,
    pub(crate) execution_name: &'a str,
    pub(crate) execution_input: &'a Value,
    pub(crate) execution_start_time: &'a str,
    pub(crate) state_machine_id: &'a str,
    pub(crate) state_machine_name: &'a str,
    pub(crate) state_name: &'a str,
    pub(crate) state_entered_time: &'a str,
    pub(crate) state_retry_count: u32,
    /// `$$.Map.Item.Index` and `$$.Map.Item.Value`, in a Map's `ItemSelector`.
    pub(crate) map_item: Option<(usize, &'a Value)>,
}

/// The context paths the runner supports, for messages.
pub(crate) const CONTEXT_PATHS: &str = "$$.Execution.Id, $$.Execution.Name, \
    $$.Execution.Input[...], $$.Execution.StartTime, $$.StateMachine.Id, \
    $$.StateMachine.Name, $$.State.Name, $$.State.EnteredTime, $$.State.RetryCount, \
    $$.Map.Item.Index, $$.Map.Item.Value[...]";

impl Path {
    /// The path `$`.
    pub(crate) fn root() -> Path {
        Path {
            text: "$".to_owned(),
            root: Root::Input,
            segments: Vec::new(),
        }
    }

    /// Parses a whole string as a path.
    pub(crate) fn parse(text: &str) -> Result<Path, ExprError> {
        let (path, used) = Path::parse_prefix(text)?;
        match text.get(used..) {
            Some("") | None => Ok(path),
            Some(rest) => Err(ExprError::Invalid(format!(
                "`{text}` is not a reference path: `{rest}` follows `{}`; write `$.field`, \
                 `$.field[0]` or `$['field name']`",
                path.text
            ))),
        }
    }

    /// Parses the path at the start of `text`; returns it and the bytes it
    /// takes (an intrinsic's argument list goes on after them).
    pub(crate) fn parse_prefix(text: &str) -> Result<(Path, usize), ExprError> {
        let bytes = text.as_bytes();
        let (root, mut pos) = if text.starts_with("$$") {
            (Root::Context, 2)
        } else if text.starts_with('$') {
            (Root::Input, 1)
        } else {
            return Err(ExprError::Invalid(format!(
                "`{text}` is not a path: a path starts with `$` (the input) or `$$` (the context)"
            )));
        };
        let mut segments = Vec::new();
        loop {
            match bytes.get(pos) {
                Some(b'.') => {
                    pos += 1;
                    match bytes.get(pos) {
                        Some(b'.') => return Err(unsupported(text, "recursive descent `..`")),
                        Some(b'*') => return Err(unsupported(text, "the wildcard `.*`")),
                        _ => {}
                    }
                    let start = pos;
                    let rest = text.get(pos..).unwrap_or_default();
                    let len: usize = rest
                        .chars()
                        .take_while(|c| is_name_char(*c))
                        .map(char::len_utf8)
                        .sum();
                    pos += len;
                    let name = text.get(start..pos).unwrap_or_default();
                    if name.is_empty() {
                        return Err(ExprError::Invalid(format!(
                            "`{text}`: `.` at byte {} is not followed by a field name; \
                             write `['...']` for a name with special characters",
                            start - 1
                        )));
                    }
                    segments.push(Segment::Field(name.to_owned()));
                }
                Some(b'[') => {
                    let (segment, used) = bracket(text, pos)?;
                    segments.push(segment);
                    pos += used;
                }
                _ => break,
            }
        }
        let path = Path {
            text: text.get(..pos).unwrap_or_default().to_owned(),
            root,
            segments,
        };
        if root == Root::Context {
            path.check_context()?;
        }
        Ok((path, pos))
    }

    /// The path as written.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is `$`.
    pub(crate) fn is_root(&self) -> bool {
        self.root == Root::Input && self.segments.is_empty()
    }

    /// Whether the path reads the context object (`$$`).
    pub(crate) fn is_context(&self) -> bool {
        self.root == Root::Context
    }

    /// Whether the path reads `$$.Map.Item`, which exists only in a Map's
    /// `ItemSelector`.
    pub(crate) fn uses_map_item(&self) -> bool {
        self.is_context() && matches!(self.segments.first(), Some(Segment::Field(f)) if f == "Map")
    }

    /// Whether every step is a field name (what a `ResultPath` may use).
    pub(crate) fn is_fields_only(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Field(_)))
    }

    /// Refuses the context paths the runner does not fill in.
    fn check_context(&self) -> Result<(), ExprError> {
        let name = |i: usize| match self.segments.get(i) {
            Some(Segment::Field(f)) => Some(f.as_str()),
            _ => None,
        };
        let (leaf_len, open) = match (name(0), name(1), name(2)) {
            (Some("Execution"), Some("Input"), _) => (2, true),
            (Some("Execution"), Some("Id" | "Name" | "StartTime"), _)
            | (Some("StateMachine"), Some("Id" | "Name"), _)
            | (Some("State"), Some("Name" | "EnteredTime" | "RetryCount"), _) => (2, false),
            (Some("Map"), Some("Item"), Some("Value")) => (3, true),
            (Some("Map"), Some("Item"), Some("Index")) => (3, false),
            _ => {
                return Err(ExprError::Unsupported(format!(
                    "the context path `{}` (supported: {CONTEXT_PATHS})",
                    self.text
                )));
            }
        };
        if !open && self.segments.len() > leaf_len {
            return Err(ExprError::Invalid(format!(
                "`{}` goes past a context value that is a string or a number",
                self.text
            )));
        }
        Ok(())
    }

    /// The node the path selects, or `None` when it selects nothing.
    pub(crate) fn get<'v>(
        &self,
        input: &'v Value,
        context: &Context<'v>,
    ) -> Option<Cow<'v, Value>> {
        match self.root {
            Root::Input => walk(input, &self.segments).map(Cow::Borrowed),
            Root::Context => context.lookup(&self.segments),
        }
    }

    /// `target` with `value` stored where the path points (a `ResultPath`):
    /// missing objects on the way are created.
    ///
    /// # Errors
    ///
    /// A step that meets something other than an object, as a message.
    pub(crate) fn set(&self, target: Value, value: Value) -> Result<Value, String> {
        let Some((last, init)) = self.segments.split_last() else {
            return Ok(value);
        };
        let mut target = target;
        let mut node = &mut target;
        for (i, segment) in init.iter().enumerate() {
            let Segment::Field(field) = segment else {
                return Err(format!("`{}` has an array index", self.text));
            };
            let Value::Object(map) = node else {
                return Err(not_object(&self.text, &self.segments[..i], node));
            };
            node = map
                .entry(field.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let Segment::Field(field) = last else {
            return Err(format!("`{}` ends with an array index", self.text));
        };
        let Value::Object(map) = node else {
            return Err(not_object(&self.text, init, node));
        };
        map.insert(field.clone(), value);
        Ok(target)
    }
}

/// The message for a `ResultPath` step that meets a non-object.
fn not_object(path: &str, before: &[Segment], node: &Value) -> String {
    let mut at = String::from("$");
    for segment in before {
        match segment {
            Segment::Field(f) => {
                at.push('.');
                at.push_str(f);
            }
            Segment::Index(i) => at.push_str(&format!("[{i}]")),
        }
    }
    format!(
        "The ResultPath `{path}` cannot be applied: `{at}` is {}, not an object",
        kind_of(node)
    )
}

/// "a string", "an array"...: a JSON value's kind, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The start of a JSON value, for messages.
pub(crate) fn excerpt(value: &Value) -> String {
    const MAX: usize = 200;
    let text = value.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", text.get(..end).unwrap_or_default())
}

fn unsupported(text: &str, what: &str) -> ExprError {
    ExprError::Unsupported(format!(
        "{what} in the JSONPath `{text}` (only reference paths that select one node are supported)"
    ))
}

/// A character of a field name after `.`.
fn is_name_char(c: char) -> bool {
    !matches!(
        c,
        '.' | '[' | ']' | '(' | ')' | ',' | '\'' | '"' | '*' | '?' | '\\' | '{' | '}'
    ) && !c.is_whitespace()
        && !c.is_control()
}

/// Parses `[3]` or `['name']` at byte `pos` of `text`; returns the step and
/// the bytes it takes.
fn bracket(text: &str, pos: usize) -> Result<(Segment, usize), ExprError> {
    let rest = text.get(pos + 1..).unwrap_or_default();
    let mut chars = rest.chars();
    match chars.next() {
        Some(quote @ ('\'' | '"')) => {
            let body = chars.as_str();
            let Some(end) = body.find(quote) else {
                return Err(ExprError::Invalid(format!(
                    "`{text}`: the quoted name at byte {pos} is not closed"
                )));
            };
            let name = body.get(..end).unwrap_or_default();
            if body.get(end + 1..end + 2) != Some("]") {
                return Err(ExprError::Invalid(format!(
                    "`{text}`: `[{quote}{name}{quote}` at byte {pos} is not followed by `]`"
                )));
            }
            // `[`, the quotes, the name and `]`.
            Ok((Segment::Field(name.to_owned()), 2 + end + 2))
        }
        Some(c) if c.is_ascii_digit() => {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            match rest.get(digits.len()..).and_then(|r| r.chars().next()) {
                Some(']') => {}
                Some(':') => return Err(unsupported(text, "an array slice")),
                Some(',') => return Err(unsupported(text, "a union `[a,b]`")),
                _ => {
                    return Err(ExprError::Invalid(format!(
                        "`{text}`: the index at byte {pos} is not closed by `]`"
                    )));
                }
            }
            let index = digits.parse::<usize>().map_err(|_| {
                ExprError::Invalid(format!("`{text}`: the index `{digits}` is too large"))
            })?;
            Ok((Segment::Index(index), 1 + digits.len() + 1))
        }
        Some('*') => Err(unsupported(text, "the wildcard `[*]`")),
        Some('?' | '(') => Err(unsupported(text, "a filter or script expression")),
        Some('-') => Err(unsupported(text, "a negative index")),
        Some(':') => Err(unsupported(text, "an array slice")),
        _ => Err(ExprError::Invalid(format!(
            "`{text}`: `[` at byte {pos} must be followed by an index (`[0]`) or a quoted name \
             (`['name']`)"
        ))),
    }
}

/// The node under `value` the steps lead to.
fn walk<'v>(value: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    let mut node = value;
    for segment in segments {
        node = match (segment, node) {
            (Segment::Field(f), Value::Object(map)) => map.get(f)?,
            (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

impl<'a> Context<'a> {
    /// The context value the steps (after `$$`) lead to.
    fn lookup(&self, segments: &[Segment]) -> Option<Cow<'a, Value>> {
        let name = |i: usize| match segments.get(i) {
            Some(Segment::Field(f)) => Some(f.as_str()),
            _ => None,
        };
        let text = |s: &str| Some(Cow::Owned(Value::String(s.to_owned())));
        match (name(0)?, name(1)?) {
            ("Execution", "Input") => {
                walk(self.execution_input, segments.get(2..)?).map(Cow::Borrowed)
            }
            ("Execution", "Id") => text(self.execution_id),
            ("Execution", "Name") => text(self.execution_name),
            ("Execution", "StartTime") => text(self.execution_start_time),
            ("StateMachine", "Id") => text(self.state_machine_id),
            ("StateMachine", "Name") => text(self.state_machine_name),
            ("State", "Name") => text(self.state_name),
            ("State", "EnteredTime") => text(self.state_entered_time),
            ("State", "RetryCount") => Some(Cow::Owned(Value::from(self.state_retry_count))),
            ("Map", "Item") => {
                let (index, value) = self.map_item?;
                match name(2)? {
                    "Index" => Some(Cow::Owned(Value::from(index))),
                    "Value" => walk(value, segments.get(3..)?).map(Cow::Borrowed),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A value computed from a path or an intrinsic call.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// A reference path.
    Path(Path),
    /// An intrinsic function call.
    Call(Intrinsic),
}

impl Expr {
    /// Parses the value of a `.$` field.
    pub(crate) fn parse(text: &str) -> Result<Expr, ExprError> {
        if text.starts_with('$') {
            Path::parse(text).map(Expr::Path)
        } else if text.starts_with("States.") {
            Intrinsic::parse(text).map(Expr::Call)
        } else {
            Err(ExprError::Invalid(format!(
                "`{text}` is neither a path (`$...`, `$$...`) nor an intrinsic function \
                 (`States.Format(...)`...); for a constant, drop the `.$` from the key"
            )))
        }
    }

    /// Whether the expression reads `$$.Map.Item`.
    fn uses_map_item(&self) -> bool {
        match self {
            Expr::Path(path) => path.uses_map_item(),
            Expr::Call(call) => {
                let mut paths = Vec::new();
                call.paths(&mut paths);
                paths.iter().any(|p| p.uses_map_item())
            }
        }
    }

    /// The value, for the field `field` (named in messages).
    ///
    /// # Errors
    ///
    /// A path that selects nothing or an intrinsic that fails, as the cause
    /// of a `States.Runtime` error.
    pub(crate) fn eval(
        &self,
        field: &str,
        input: &Value,
        context: &Context<'_>,
    ) -> Result<Value, String> {
        match self {
            Expr::Path(path) => path
                .get(input, context)
                .map(Cow::into_owned)
                .ok_or_else(|| not_found(path, field, input)),
            Expr::Call(call) => call
                .eval(input, context)
                .map_err(|why| format!("The field `{field}`: {why}")),
        }
    }
}

/// The cause of a path that selects nothing (worded as Step Functions does).
pub(crate) fn not_found(path: &Path, field: &str, input: &Value) -> String {
    if path.is_context() {
        format!(
            "The JSONPath `{}` specified for the field `{field}` could not be found in the \
             context object",
            path.text()
        )
    } else {
        format!(
            "The JSONPath `{}` specified for the field `{field}` could not be found in the \
             input `{}`",
            path.text(),
            excerpt(input)
        )
    }
}

/// A payload template: `Parameters`, `ItemSelector` or `ResultSelector`.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    /// A value copied as it is.
    Literal(Value),
    /// An object whose fields are templates.
    Object(Vec<(String, Template)>),
    /// An array whose items are templates.
    Array(Vec<Template>),
    /// A `key.$` field's value: `field` is the key, for messages.
    Expr {
        /// The key as written, with its `.$`.
        field: String,
        /// What computes the value.
        expr: Expr,
    },
}

impl Template {
    /// Compiles the template found in the field `field`; `map_item` says
    /// whether `$$.Map.Item` may be read (a Map's `ItemSelector`).
    ///
    /// # Errors
    ///
    /// The field (dotted from `field`) and why it is refused.
    pub(crate) fn compile(
        value: &Value,
        field: &str,
        map_item: bool,
    ) -> Result<Template, (String, ExprError)> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let at = format!("{field}.{key}");
                    let Some(name) = key.strip_suffix(".$") else {
                        fields.push((key.clone(), Template::compile(value, &at, map_item)?));
                        continue;
                    };
                    if name.is_empty() {
                        return Err((at, ExprError::Invalid("a key must not be just `.$`".into())));
                    }
                    if map.contains_key(name) {
                        return Err((
                            at,
                            ExprError::Invalid(format!(
                                "both `{name}` and `{key}` are given: keep one of them"
                            )),
                        ));
                    }
                    let Value::String(text) = value else {
                        return Err((
                            at,
                            ExprError::Invalid(format!(
                                "the value of `{key}` must be a string holding a path or an \
                                 intrinsic function, not {}",
                                kind_of(value)
                            )),
                        ));
                    };
                    let expr = Expr::parse(text).map_err(|e| (at.clone(), e))?;
                    if !map_item && expr.uses_map_item() {
                        return Err((
                            at,
                            ExprError::Invalid(
                                "`$$.Map.Item` exists only in a Map state's `ItemSelector` \
                                 (or its legacy `Parameters`)"
                                    .into(),
                            ),
                        ));
                    }
                    fields.push((
                        name.to_owned(),
                        Template::Expr {
                            field: key.clone(),
                            expr,
                        },
                    ));
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Template::compile(item, &format!("{field}[{i}]"), map_item))
                .collect::<Result<Vec<_>, _>>()
                .map(Template::Array),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// The template's value for `input`.
    ///
    /// # Errors
    ///
    /// The cause of the `States.Runtime` error: a path that selects nothing
    /// or an intrinsic that fails.
    pub(crate) fn eval(&self, input: &Value, context: &Context<'_>) -> Result<Value, String> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Object(fields) => {
                let mut map = Map::new();
                for (name, template) in fields {
                    map.insert(name.clone(), template.eval(input, context)?);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => items
                .iter()
                .map(|item| item.eval(input, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Expr { field, expr } => expr.eval(field, input, context),
        }
    }

    /// The names of the template's top-level fields (without `.$`), when it
    /// is an object.
    pub(crate) fn field_names(&self) -> Vec<&str> {
        match self {
            Template::Object(fields) => fields.iter().map(|(name, _)| name.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The top-level field `name`, when the template is an object.
    pub(crate) fn field(&self, name: &str) -> Option<&Template> {
        match self {
            Template::Object(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, t)| t),
            _ => None,
        }
    }
}

//! Intrinsic functions: `States.Format('{}-{}', $.a, $.b)` and its kin, as
//! the value of a template's `.$` field.
//!
//! Parsed when the definition is loaded (an unknown or unsupported function,
//! a wrong number of arguments or a malformed literal is refused then),
//! evaluated at run time. Arguments are paths, literals (quoted strings with
//! `\'`, `\{`, `\}` and `\\` escapes, numbers, `true`, `false`, `null`) or
//! nested calls.

use serde_json::Value;

use super::path::{Context, ExprError, Path, kind_of, not_found};

/// How deep calls may nest: far beyond any real definition, well within the
/// stack.
const MAX_DEPTH: usize = 16;

/// The intrinsic functions the runner supports, for messages.
pub(crate) const SUPPORTED: &str = "States.Format, States.MathAdd, States.StringToJson, \
    States.JsonToString, States.Array, States.UUID, States.ArrayLength, States.ArrayGetItem, \
    States.ArrayContains";

/// A supported intrinsic function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Format,
    MathAdd,
    StringToJson,
    JsonToString,
    Array,
    Uuid,
    ArrayLength,
    ArrayGetItem,
    ArrayContains,
}

impl Function {
    fn from_name(name: &str) -> Option<Function> {
        Some(match name {
            "Format" => Function::Format,
            "MathAdd" => Function::MathAdd,
            "StringToJson" => Function::StringToJson,
            "JsonToString" => Function::JsonToString,
            "Array" => Function::Array,
            "UUID" => Function::Uuid,
            "ArrayLength" => Function::ArrayLength,
            "ArrayGetItem" => Function::ArrayGetItem,
            "ArrayContains" => Function::ArrayContains,
            _ => return None,
        })
    }

    /// The least and most arguments the function takes.
    fn arity(self) -> (usize, usize) {
        match self {
            Function::Format => (1, usize::MAX),
            Function::Array => (0, usize::MAX),
            Function::Uuid => (0, 0),
            Function::StringToJson | Function::JsonToString | Function::ArrayLength => (1, 1),
            Function::MathAdd | Function::ArrayGetItem | Function::ArrayContains => (2, 2),
        }
    }
}

/// One argument of a call.
#[derive(Debug, Clone)]
enum Arg {
    /// A quoted string, as written between the quotes (escapes kept, so
    /// `States.Format` can tell `\{` from `{`).
    Text(String),
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    /// A reference path.
    Path(Path),
    /// A nested call.
    Call(Intrinsic),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub(crate) struct Intrinsic {
    name: String,
    function: Function,
    args: Vec<Arg>,
}

impl Intrinsic {
    /// Parses a whole string as a call.
    pub(crate) fn parse(text: &str) -> Result<Intrinsic, ExprError> {
        let mut parser = Parser { text, pos: 0 };
        let call = parser.call(0)?;
        parser.skip_spaces();
        match parser.rest() {
            "" => Ok(call),
            rest => Err(ExprError::Invalid(format!(
                "`{text}`: `{rest}` follows the call to `{}`",
                call.name
            ))),
        }
    }

    /// Collects the paths the call reads, nested calls included.
    pub(crate) fn paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        for arg in &self.args {
            match arg {
                Arg::Path(path) => out.push(path),
                Arg::Call(call) => call.paths(out),
                Arg::Text(_) | Arg::Literal(_) => {}
            }
        }
    }

    /// The call's value.
    ///
    /// # Errors
    ///
    /// Why the call failed (a path that selects nothing, an argument of the
    /// wrong kind), as the cause of a `States.Runtime` error.
    pub(crate) fn eval(&self, input: &Value, context: &Context<'_>) -> Result<Value, String> {
        if self.function == Function::Format {
            return self.format(input, context);
        }
        let args = self
            .args
            .iter()
            .map(|arg| arg.eval(&self.name, input, context))
            .collect::<Result<Vec<_>, _>>()?;
        let name = &self.name;
        match (self.function, args.as_slice()) {
            (Function::MathAdd, [a, b]) => {
                let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) else {
                    return Err(format!(
                        "{name} adds two integers, got {} and {}",
                        kind_or_number(a),
                        kind_or_number(b)
                    ));
                };
                x.checked_add(y)
                    .map(Value::from)
                    .ok_or_else(|| format!("{name}({x}, {y}) overflows"))
            }
            (Function::StringToJson, [Value::String(text)]) => serde_json::from_str(text)
                .map_err(|e| format!("{name}: `{text}` is not JSON ({e})")),
            (Function::StringToJson, [other]) => {
                Err(format!("{name} takes a string, got {}", kind_of(other)))
            }
            (Function::JsonToString, [value]) => Ok(Value::String(value.to_string())),
            (Function::Array, values) => Ok(Value::Array(values.to_vec())),
            (Function::Uuid, []) => uuid_v4().map(Value::String),
            (Function::ArrayLength, [Value::Array(items)]) => Ok(Value::from(items.len())),
            (Function::ArrayGetItem, [Value::Array(items), index]) => {
                let Some(i) = index.as_u64() else {
                    return Err(format!(
                        "{name} takes a non-negative integer index, got {}",
                        kind_or_number(index)
                    ));
                };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "{name}: index {i} is past the array's {} items",
                            items.len()
                        )
                    })
            }
            (Function::ArrayContains, [Value::Array(items), value]) => {
                Ok(Value::Bool(items.contains(value)))
            }
            (
                Function::ArrayLength | Function::ArrayGetItem | Function::ArrayContains,
                [first, ..],
            ) => Err(format!(
                "{name} takes an array first, got {}",
                kind_of(first)
            )),
            _ => Err(format!("{name} got {} arguments", args.len())),
        }
    }

    /// `States.Format`: the template's `{}` replaced by the other arguments.
    fn format(&self, input: &Value, context: &Context<'_>) -> Result<Value, String> {
        let name = &self.name;
        let (template, rest) = self
            .args
            .split_first()
            .ok_or_else(|| format!("{name} needs a template"))?;
        let pieces = match template {
            Arg::Text(raw) => pieces(raw)?,
            other => match other.eval(name, input, context)? {
                Value::String(text) => pieces(&text)?,
                value => {
                    return Err(format!(
                        "{name} takes a string template first, got {}",
                        kind_of(&value)
                    ));
                }
            },
        };
        let slots = pieces.iter().filter(|p| matches!(p, Piece::Slot)).count();
        if slots != rest.len() {
            return Err(format!(
                "{name}: the template has {slots} `{{}}` for {} arguments",
                rest.len()
            ));
        }
        let mut values = rest.iter();
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(&text),
                Piece::Slot => {
                    let Some(arg) = values.next() else {
                        return Err(format!("{name}: too few arguments"));
                    };
                    match arg.eval(name, input, context)? {
                        Value::String(text) => out.push_str(&text),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(format!(
                                "{name} formats strings, numbers, booleans and null, not arrays \
                                 or objects; use States.JsonToString first"
                            ));
                        }
                        scalar => out.push_str(&scalar.to_string()),
                    }
                }
            }
        }
        Ok(Value::String(out))
    }
}

impl Arg {
    fn eval(&self, function: &str, input: &Value, context: &Context<'_>) -> Result<Value, String> {
        match self {
            Arg::Text(raw) => Ok(Value::String(unescape(raw))),
            Arg::Literal(value) => Ok(value.clone()),
            Arg::Path(path) => path
                .get(input, context)
                .map(std::borrow::Cow::into_owned)
                .ok_or_else(|| not_found(path, function, input)),
            Arg::Call(call) => call.eval(input, context),
        }
    }
}

/// "a string", or the number itself.
fn kind_or_number(value: &Value) -> String {
    match value {
        Value::Number(n) => format!("the number {n}"),
        other => kind_of(other).to_owned(),
    }
}

/// A quoted string's text without its escapes.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A part of a `States.Format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot,
}

/// Splits a `States.Format` template into text and `{}` slots.
fn pieces(template: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    text.push(next);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Slot);
            }
            '{' | '}' => {
                return Err(format!(
                    "the template `{template}` has a lone `{c}`: write `{{}}` for an argument or \
                     `\\{c}` for the character"
                ));
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// A random (version 4) UUID.
fn uuid_v4() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("States.UUID: no randomness ({e})"))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32)
    ))
}

/// A random UUID (version 4), for execution names.
pub(crate) fn random_uuid() -> Result<String, String> {
    uuid_v4()
}

/// A recursive-descent parser over the call's text.
struct Parser<'t> {
    text: &'t str,
    /// A byte offset, always on a character boundary.
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn invalid(&self, what: &str) -> ExprError {
        ExprError::Invalid(format!("`{}`: {what} at byte {}", self.text, self.pos))
    }

    fn call(&mut self, depth: usize) -> Result<Intrinsic, ExprError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(&format!("calls nest deeper than {MAX_DEPTH}")));
        }
        let Some(after) = self.rest().strip_prefix("States.") else {
            return Err(self.invalid("expected an intrinsic function (`States.Name(...)`)"));
        };
        let len = after
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count();
        let short = after.get(..len).unwrap_or_default();
        let name = format!("States.{short}");
        let Some(function) = Function::from_name(short) else {
            return Err(ExprError::Unsupported(format!(
                "the intrinsic function `{name}` (supported: {SUPPORTED})"
            )));
        };
        self.pos += "States.".len() + len;
        self.skip_spaces();
        if !self.rest().starts_with('(') {
            return Err(self.invalid(&format!("expected `(` after `{name}`")));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.rest().starts_with(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_spaces();
                args.push(self.arg(depth)?);
                self.skip_spaces();
                match self.rest().chars().next() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.invalid(&format!("expected `,` or `)` in `{name}(...)`"))),
                }
            }
        }
        let (least, most) = function.arity();
        if args.len() < least || args.len() > most {
            let wanted = if least == most {
                format!("{least}")
            } else if most == usize::MAX {
                format!("at least {least}")
            } else {
                format!("{least} to {most}")
            };
            return Err(ExprError::Invalid(format!(
                "`{}`: `{name}` takes {wanted} arguments, not {}",
                self.text,
                args.len()
            )));
        }
        if function == Function::Format {
            match args.first() {
                Some(Arg::Text(raw)) => {
                    let slots = pieces(raw)
                        .map_err(ExprError::Invalid)?
                        .iter()
                        .filter(|p| matches!(p, Piece::Slot))
                        .count();
                    if slots + 1 != args.len() {
                        return Err(ExprError::Invalid(format!(
                            "`{}`: the template of `{name}` has {slots} `{{}}` for {} arguments",
                            self.text,
                            args.len() - 1
                        )));
                    }
                }
                Some(Arg::Literal(_)) => {
                    return Err(ExprError::Invalid(format!(
                        "`{}`: the template of `{name}` must be a quoted string or a path",
                        self.text
                    )));
                }
                _ => {}
            }
        }
        Ok(Intrinsic {
            name,
            function,
            args,
        })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, ExprError> {
        let rest = self.rest();
        match rest.chars().next() {
            Some('\'') => self.text_literal(),
            Some('$') => {
                let (path, used) = Path::parse_prefix(rest)?;
                self.pos += used;
                Ok(Arg::Path(path))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let len = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                    .count();
                let number = rest.get(..len).unwrap_or_default();
                match serde_json::from_str::<Value>(number) {
                    Ok(value @ Value::Number(_)) => {
                        self.pos += len;
                        Ok(Arg::Literal(value))
                    }
                    _ => Err(self.invalid(&format!("`{number}` is not a number"))),
                }
            }
            _ if rest.starts_with("States.") => Ok(Arg::Call(self.call(depth + 1)?)),
            _ => {
                let word: String = rest
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                let value = match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => {
                        return Err(self.invalid(
                            "expected an argument: a quoted string, a number, true, false, \
                             null, a path or an intrinsic function",
                        ));
                    }
                };
                self.pos += word.len();
                Ok(Arg::Literal(value))
            }
        }
    }

    /// A quoted string, with the parser on its opening quote.
    fn text_literal(&mut self) -> Result<Arg, ExprError> {
        let start = self.pos;
        let mut raw = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped @ ('\'' | '{' | '}' | '\\'))) => {
                        raw.push('\\');
                        raw.push(escaped);
                    }
                    _ => {
                        return Err(ExprError::Invalid(format!(
                            "`{}`: the string at byte {start} has a `\\` that escapes nothing: \
                             only `\\'`, `\\{{`, `\\}}` and `\\\\` are escapes",
                            self.text
                        )));
                    }
                },
                '\'' => {
                    self.pos += i + 1;
                    return Ok(Arg::Text(raw));
                }
                other => raw.push(other),
            }
        }
        Err(ExprError::Invalid(format!(
            "`{}`: the string at byte {start} is not closed by `'`",
            self.text
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_pieces_keep_escaped_braces() {
        assert_eq!(
            pieces(r"a\{b\}{}").unwrap(),
            vec![Piece::Text("a{b}".into()), Piece::Slot]
        );
        assert!(pieces("a{b").is_err());
    }

    #[test]
    fn uuid_is_version_4() {
        let id = uuid_v4().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
    }
}

//! The in-process runner of Amazon States Language (ASL) state machines, so
//! `dtg serve` runs the very `statemachine/*.asl.json` definitions that AWS
//! Step Functions runs in production, with each Task's Lambda resolved to an
//! in-process handler through the [`Tasks`] port.
//!
//! [`Machine::from_json`] substitutes `${Name}` placeholders (as SAM's
//! `DefinitionSubstitutions` does) and checks the whole definition when it is
//! loaded: every transition names a state of its scope, every state is
//! reachable, names are unique, and anything outside the subset below is
//! refused with an [`AslError`] naming the state and the field, never
//! skipped. [`run`] executes it; [`run_with_report`] also counts the state
//! transitions and history events the execution would cost on Step Functions.
//!
//! # Supported subset (query language JSONPath only)
//!
//! - Top level: `StartAt`, `States`, `Comment`, `Version`; `TimeoutSeconds`
//!   is accepted and not enforced.
//! - States and their fields (each also takes `Type`, `Comment` and
//!   `QueryLanguage: "JSONPath"`):
//!   - `Task`: `Resource`, `Parameters`, `ResultSelector`, `ResultPath`,
//!     `InputPath`, `OutputPath`, `Next`/`End`, `Retry`, `Catch`;
//!     `TimeoutSeconds` and `HeartbeatSeconds` are checked and not enforced
//!     (the in-process handlers run to completion). Resources:
//!     - `arn:aws:states:::lambda:invoke` with `Parameters.FunctionName` and
//!       an optional `Parameters.Payload` (default: the state's effective
//!       input); the result is `{"Payload": <function result>,
//!       "StatusCode": 200}`, as the AWS integration returns it;
//!     - `arn:aws:states:::states:startExecution` (fire and forget) with
//!       `StateMachineArn`, an optional `Name` (default: a random UUID) and
//!       an optional `Input` (an object, or a JSON string; default `{}`); the
//!       result is what [`Tasks::start_execution`] answers
//!       (`{"ExecutionArn": ..., "StartDate": ...}`).
//!   - `Map` (inline): `ItemsPath` (default `$`), `ItemSelector` (or the
//!     legacy `Parameters`), `ItemProcessor` with `ProcessorConfig.Mode`
//!     `INLINE` (or the legacy `Iterator`), `MaxConcurrency` (0: unbounded),
//!     `ResultSelector`, `ResultPath`, `InputPath`, `OutputPath`,
//!     `Next`/`End`, `Retry`, `Catch`. Iterations run concurrently as
//!     futures; the results keep the items' order. The first failing
//!     iteration fails the Map with its error and cause.
//!   - `Pass`: `Result`, `Parameters`, `ResultPath`, `InputPath`,
//!     `OutputPath`, `Next`/`End`.
//!   - `Wait`: `Seconds` or `SecondsPath` (a non-negative integer),
//!     `InputPath`, `OutputPath`, `Next`/`End`.
//!   - `Choice`: `Choices`, `Default`, `InputPath`, `OutputPath`; rules as
//!     in the `choice` module: `And`, `Or`, `Not`, `Variable` with
//!     `String*`, `Numeric*`, `BooleanEquals` (and their `...Path` forms),
//!     `IsPresent`, `IsNull`, `IsString`, `IsNumeric`, `IsBoolean`. No rule
//!     matching and no `Default` is the error `States.NoChoiceMatched`.
//!   - `Succeed`: `InputPath`, `OutputPath`.
//!   - `Fail`: `Error`, `Cause`.
//! - `InputPath`/`OutputPath` `null` give `{}`; `ResultPath` `null` keeps the
//!   input and drops the result; a `ResultPath` uses field steps only.
//! - `Retry`: `ErrorEquals`, `IntervalSeconds` (default 1), `MaxAttempts`
//!   (default 3), `BackoffRate` (default 2.0), `MaxDelaySeconds`,
//!   `JitterStrategy` (`FULL`: a uniform delay in [0, computed]; `NONE`, the
//!   default). The first retrier whose `ErrorEquals` matches decides; once
//!   its attempts are spent the `Catch` list is tried. `Catch`:
//!   `ErrorEquals`, `ResultPath`, `Next`; the error output is
//!   `{"Error": ..., "Cause": ...}`.
//! - Error names: `States.ALL` matches any error (alone in its list, in the
//!   last retrier or catcher); `States.TaskFailed` any error but
//!   `States.Timeout`; other names match exactly. `States.Runtime` (a path
//!   that selects nothing, an intrinsic that fails, a value of the wrong
//!   kind, the 25,000 history events limit) is neither retried nor caught:
//!   it fails the execution, as on Step Functions.
//! - Paths: reference paths only (`$`, `$.a.b`, `$.a[0]`, `$['a b']`) and
//!   the context paths `$$.Execution.Id`, `$$.Execution.Name`,
//!   `$$.Execution.Input...`, `$$.Execution.StartTime`, `$$.StateMachine.Id`,
//!   `$$.StateMachine.Name`, `$$.State.Name`, `$$.State.EnteredTime`,
//!   `$$.State.RetryCount`, and, in a Map's `ItemSelector`,
//!   `$$.Map.Item.Index` and `$$.Map.Item.Value...`. No wildcards, filters,
//!   slices, unions or recursive descent.
//! - Templates (`Parameters`, `ItemSelector`, `ResultSelector`): a key ending
//!   in `.$` takes a path or an intrinsic; nested objects and arrays recurse.
//! - Intrinsics: `States.Format` (`{}` placeholders; strings, numbers,
//!   booleans and null), `States.MathAdd` (integers), `States.StringToJson`,
//!   `States.JsonToString`, `States.Array`, `States.UUID`,
//!   `States.ArrayLength`, `States.ArrayGetItem`, `States.ArrayContains`;
//!   arguments are paths, literals (`'text'` with `\'`, `\{`, `\}`, `\\`
//!   escapes, numbers, `true`, `false`, `null`) or nested calls.
//!
//! Refused at load, among others: `QueryLanguage: "JSONata"` (and its
//! `Arguments`, `Output`, `Assign`), `Parallel`, Map modes other than
//! `INLINE`, `ItemReader`, `ResultWriter`, `ItemBatcher`, tolerated failures,
//! `Wait` timestamps, `*Path` variants of timeouts, `ErrorPath`/`CausePath`,
//! other Task resources (`.sync`, `.waitForTaskToken`, SDK integrations).

mod choice;
mod intrinsic;
mod load;
mod path;
mod run;

use std::collections::{BTreeMap, BTreeSet};

pub use run::{
    ExecutionContext, ExecutionFailure, ExecutionReport, RecordingWaiter, TaskFailure, Tasks,
    TokioWaiter, Waiter, run, run_with_report,
};

use load::Body;
use path::ExprError;

/// A loaded and checked state machine definition.
#[derive(Debug, Clone)]
pub struct Machine {
    body: Body,
    comment: Option<String>,
    functions: BTreeSet<String>,
}

impl Machine {
    /// Loads a definition: replaces each `${Name}` with its substitution,
    /// parses the JSON and checks the whole definition.
    ///
    /// # Errors
    ///
    /// A `${Name}` without a substitution, malformed JSON, a definition that
    /// is not valid ASL, or one that uses anything outside the supported
    /// subset (see the module documentation).
    pub fn from_json(
        text: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<Machine, AslError> {
        let text = substitute(text, substitutions)?;
        let definition: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| AslError::Json { source })?;
        let loaded = load::load(&definition)?;
        Ok(Machine {
            body: loaded.body,
            comment: loaded.comment,
            functions: loaded.functions,
        })
    }

    /// The definition's top-level `Comment`.
    #[must_use]
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The name of the first state.
    #[must_use]
    pub fn start_at(&self) -> &str {
        &self.body.start_at
    }

    /// The functions the machine's `lambda:invoke` tasks name (their
    /// `FunctionName` after substitution), so a caller can check it has a
    /// handler for each before running anything.
    #[must_use]
    pub fn functions(&self) -> &BTreeSet<String> {
        &self.functions
    }

    pub(crate) fn body(&self) -> &Body {
        &self.body
    }
}

/// The names of the `${Name}` placeholders in a definition's text (what its
/// substitutions must give).
///
/// # Errors
///
/// A `${` that is not closed or has an empty or malformed name.
pub fn substitution_names(text: &str) -> Result<BTreeSet<String>, AslError> {
    let mut names = BTreeSet::new();
    scan(text, |name| {
        names.insert(name.to_owned());
        Ok(String::new())
    })?;
    Ok(names)
}

/// The text with each `${Name}` replaced, as SAM's `DefinitionSubstitutions`
/// does (in one pass: a substituted value is not scanned again).
fn substitute(text: &str, substitutions: &BTreeMap<String, String>) -> Result<String, AslError> {
    scan(text, |name| {
        substitutions
            .get(name)
            .cloned()
            .ok_or_else(|| AslError::MissingSubstitution {
                name: name.to_owned(),
            })
    })
}

/// Copies `text`, replacing each `${Name}` with `replace(Name)`.
fn scan(
    text: &str,
    mut replace: impl FnMut(&str) -> Result<String, AslError>,
) -> Result<String, AslError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let at = text.len() - rest.len() + start;
        let end = after
            .find('}')
            .ok_or(AslError::MalformedSubstitution { at })?;
        let name = after.get(..end).unwrap_or_default();
        let well_formed = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
        if !well_formed {
            return Err(AslError::MalformedSubstitution { at });
        }
        out.push_str(&replace(name)?);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// Why a definition cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AslError {
    /// A `${Name}` has no substitution.
    #[error(
        "the definition uses `${{{name}}}` but no substitution named `{name}` is given: add it \
         to the substitutions (as in SAM's DefinitionSubstitutions)"
    )]
    MissingSubstitution {
        /// The placeholder's name.
        name: String,
    },
    /// A `${` with no closing `}` or a malformed name.
    #[error(
        "the definition has a malformed `${{...}}` at byte {at}: write `${{Name}}` with a name of \
         letters, digits, `_`, `.`, `:` or `-`"
    )]
    MalformedSubstitution {
        /// The byte offset of the `${` in the text.
        at: usize,
    },
    /// The text (after substitution) is not JSON.
    #[error("the definition is not valid JSON after substitution: {source}; fix its syntax")]
    Json {
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// Valid ASL, but outside the subset this runner supports.
    #[error(
        "{}, field `{field}`: {detail} is outside the subset the in-process runner supports; \
         rewrite it with the supported forms listed in `dtg_embedded::asl`, or extend the runner",
        where_(.state)
    )]
    Unsupported {
        /// The state's name (empty for the definition's top level).
        state: String,
        /// The field, dotted from the state (`Retry[0].JitterStrategy`).
        field: String,
        /// What is unsupported.
        detail: String,
    },
    /// Not a valid state machine definition.
    #[error("{}, field `{field}`: {detail}", where_(.state))]
    Invalid {
        /// The state's name (empty for the definition's top level).
        state: String,
        /// The field, dotted from the state.
        field: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
}

/// "state `Plan`" or "the top level", for messages.
fn where_(state: &str) -> String {
    if state.is_empty() {
        "the definition's top level".to_owned()
    } else {
        format!("state `{state}`")
    }
}

impl AslError {
    /// The state the error is about (empty for the top level or for errors
    /// that are not about a state).
    #[must_use]
    pub fn state(&self) -> &str {
        match self {
            AslError::Unsupported { state, .. } | AslError::Invalid { state, .. } => state,
            _ => "",
        }
    }

    /// The field the error is about, dotted from the state.
    #[must_use]
    pub fn field(&self) -> &str {
        match self {
            AslError::Unsupported { field, .. } | AslError::Invalid { field, .. } => field,
            _ => "",
        }
    }

    pub(crate) fn unsupported(state: &str, field: &str, detail: impl Into<String>) -> AslError {
        AslError::Unsupported {
            state: state.to_owned(),
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(state: &str, field: &str, detail: impl Into<String>) -> AslError {
        AslError::Invalid {
            state: state.to_owned(),
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    /// The error for an expression refused at `field` of `state`.
    pub(crate) fn expr(state: &str, field: &str, error: ExprError) -> AslError {
        match error {
            ExprError::Unsupported(detail) => AslError::unsupported(state, field, detail),
            ExprError::Invalid(detail) => AslError::invalid(state, field, detail),
        }
    }
}

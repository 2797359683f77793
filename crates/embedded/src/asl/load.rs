//! The checked model of a definition, and its loading: every field of every
//! state is parsed and checked once, when the machine is loaded, so a run
//! never meets an unknown field, a dangling transition or an unparsable path.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{Map, Value};

use super::AslError;
use super::choice::{self, Rule};
use super::path::{Path, Template, kind_of};

/// The `lambda:invoke` integration.
pub(crate) const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
/// The `startExecution` integration (fire and forget).
pub(crate) const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";
/// Matches any error but `States.Runtime`.
pub(crate) const STATES_ALL: &str = "States.ALL";
/// Matches any error but `States.Timeout` (and `States.Runtime`).
const STATES_TASK_FAILED: &str = "States.TaskFailed";
/// A task that ran past its `TimeoutSeconds`.
const STATES_TIMEOUT: &str = "States.Timeout";
/// A data-flow error: never retried nor caught.
pub(crate) const STATES_RUNTIME: &str = "States.Runtime";

/// Step Functions' largest `Seconds`, `IntervalSeconds` and `MaxAttempts`.
const MAX_SECONDS: u64 = 99_999_999;
/// Step Functions' largest `MaxDelaySeconds`.
const MAX_DELAY_SECONDS: u64 = 31_622_400;
/// Step Functions' longest state name.
const MAX_NAME_LEN: usize = 80;

const COMMON_FIELDS: &[&str] = &["Type", "Comment", "QueryLanguage"];
const TASK_FIELDS: &[&str] = &[
    "Resource",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "InputPath",
    "OutputPath",
    "Next",
    "End",
    "Retry",
    "Catch",
    "TimeoutSeconds",
    "HeartbeatSeconds",
];
const MAP_FIELDS: &[&str] = &[
    "ItemsPath",
    "ItemSelector",
    "Parameters",
    "ItemProcessor",
    "Iterator",
    "MaxConcurrency",
    "ResultSelector",
    "ResultPath",
    "InputPath",
    "OutputPath",
    "Next",
    "End",
    "Retry",
    "Catch",
];
const PASS_FIELDS: &[&str] = &[
    "Result",
    "Parameters",
    "ResultPath",
    "InputPath",
    "OutputPath",
    "Next",
    "End",
];
const WAIT_FIELDS: &[&str] = &[
    "Seconds",
    "SecondsPath",
    "InputPath",
    "OutputPath",
    "Next",
    "End",
];
const CHOICE_FIELDS: &[&str] = &["Choices", "Default", "InputPath", "OutputPath"];
const SUCCEED_FIELDS: &[&str] = &["InputPath", "OutputPath"];
const FAIL_FIELDS: &[&str] = &["Error", "Cause"];
const TOP_FIELDS: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
const PROCESSOR_FIELDS: &[&str] = &["StartAt", "States", "Comment", "ProcessorConfig"];
const RETRY_FIELDS: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];
const CATCH_FIELDS: &[&str] = &["ErrorEquals", "ResultPath", "Next", "Comment"];

/// A scope of states: the machine, or a Map's item processor.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    /// The first state.
    pub(crate) start_at: String,
    /// The states by name.
    pub(crate) states: HashMap<String, State>,
}

/// One state.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// Its name.
    pub(crate) name: String,
    /// What it reads from its input.
    pub(crate) input_path: DataPath,
    /// What it passes on of its output.
    pub(crate) output_path: DataPath,
    /// What it does.
    pub(crate) kind: Kind,
}

/// An `InputPath` or `OutputPath`.
#[derive(Debug, Clone)]
pub(crate) enum DataPath {
    /// The node the path selects.
    Path(Path),
    /// `null`: the empty object.
    Empty,
}

/// A `ResultPath`.
#[derive(Debug, Clone)]
pub(crate) enum ResultPath {
    /// `null`: the input goes on, the result is dropped.
    Discard,
    /// The result is stored there in the input (`$`: it replaces the input).
    Set(Path),
}

/// Where a state goes when it is done.
#[derive(Debug, Clone)]
pub(crate) enum Transition {
    /// `Next`.
    Next(String),
    /// `End: true`.
    End,
}

/// A `Retry` entry.
#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    /// `ErrorEquals`.
    pub(crate) errors: Vec<String>,
    interval_seconds: u64,
    /// `MaxAttempts`: the retries allowed.
    pub(crate) max_attempts: u32,
    backoff_rate: f64,
    max_delay_seconds: Option<u64>,
    /// `JitterStrategy: FULL`.
    pub(crate) full_jitter: bool,
}

impl Retrier {
    /// The delay before retry number `done + 1`, before jitter:
    /// `IntervalSeconds × BackoffRate^done`, at most `MaxDelaySeconds`.
    pub(crate) fn delay(&self, done: u32) -> Duration {
        let exponent = i32::try_from(done).unwrap_or(i32::MAX);
        #[allow(clippy::cast_precision_loss)]
        let seconds = self.interval_seconds as f64 * self.backoff_rate.powi(exponent);
        #[allow(clippy::cast_precision_loss)]
        let cap = self.max_delay_seconds.unwrap_or(MAX_SECONDS) as f64;
        Duration::try_from_secs_f64(seconds.min(cap)).unwrap_or(Duration::from_secs(MAX_SECONDS))
    }
}

/// A `Catch` entry.
#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    /// `ErrorEquals`.
    pub(crate) errors: Vec<String>,
    /// Where the error output goes in the state's input.
    pub(crate) result_path: ResultPath,
    /// The state to go to.
    pub(crate) next: String,
}

/// A state's `Retry` and `Catch`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
}

/// Whether `error` is one of `names`.
pub(crate) fn matches(names: &[String], error: &str) -> bool {
    error != STATES_RUNTIME
        && names.iter().any(|name| {
            name == STATES_ALL
                || name == error
                || (name == STATES_TASK_FAILED && error != STATES_TIMEOUT)
        })
}

/// A Task's integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `arn:aws:states:::lambda:invoke`.
    LambdaInvoke,
    /// `arn:aws:states:::states:startExecution`.
    StartExecution,
}

/// A Task state.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) resource: Resource,
    pub(crate) parameters: Template,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) policy: Policy,
    pub(crate) next: Transition,
}

/// An inline Map state.
#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub(crate) items_path: Path,
    pub(crate) item_selector: Option<Template>,
    pub(crate) processor: Body,
    /// 0: unbounded.
    pub(crate) max_concurrency: usize,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) policy: Policy,
    pub(crate) next: Transition,
}

/// A Pass state.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    pub(crate) result: Option<Value>,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) next: Transition,
}

/// How long a Wait state waits.
#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    /// `Seconds`.
    Seconds(u64),
    /// `SecondsPath`.
    SecondsPath(Path),
}

/// A Wait state.
#[derive(Debug, Clone)]
pub(crate) struct Wait {
    pub(crate) wait_for: WaitFor,
    pub(crate) next: Transition,
}

/// A Choice state.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// Each rule with the state it leads to.
    pub(crate) rules: Vec<(Rule, String)>,
    pub(crate) default: Option<String>,
}

/// What a state does.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Task(Task),
    Map(Box<MapState>),
    Pass(Pass),
    Wait(Wait),
    Choice(Choice),
    Succeed,
    Fail { error: String, cause: String },
}

/// A loaded definition.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) body: Body,
    pub(crate) comment: Option<String>,
    pub(crate) functions: BTreeSet<String>,
}

/// Loads and checks a parsed definition.
pub(crate) fn load(definition: &Value) -> Result<Loaded, AslError> {
    let Value::Object(top) = definition else {
        return Err(AslError::invalid(
            "",
            "(definition)",
            format!(
                "a state machine definition is a JSON object, not {}",
                kind_of(definition)
            ),
        ));
    };
    check_fields("", "", top, TOP_FIELDS, "the definition's top level")?;
    query_language("", top)?;
    let comment = comment("", "Comment", top)?;
    if let Some(version) = top.get("Version")
        && version.as_str() != Some("1.0")
    {
        return Err(AslError::invalid(
            "",
            "Version",
            "the only ASL Version is \"1.0\"",
        ));
    }
    if let Some(value) = top.get("TimeoutSeconds") {
        uint("", "TimeoutSeconds", value, 1, MAX_SECONDS)?;
    }
    let mut loader = Loader::default();
    let body = loader.body("", "", top, "the top level")?;
    Ok(Loaded {
        body,
        comment,
        functions: loader.functions,
    })
}

/// What loading gathers across scopes.
#[derive(Debug, Default)]
struct Loader {
    /// Every state name seen: names are unique across the whole machine.
    names: HashSet<String>,
    /// The `lambda:invoke` functions named.
    functions: BTreeSet<String>,
}

/// Refuses fields outside `allowed` (and the common ones for a state).
fn check_fields(
    state: &str,
    prefix: &str,
    map: &Map<String, Value>,
    allowed: &[&str],
    what: &str,
) -> Result<(), AslError> {
    for key in map.keys() {
        // A state's own fields (no prefix) may also be the common ones.
        let common =
            !state.is_empty() && prefix.is_empty() && COMMON_FIELDS.contains(&key.as_str());
        if !allowed.contains(&key.as_str()) && !common {
            let hint = match key.as_str() {
                "Arguments" | "Output" | "Items" => " (a JSONata field)",
                "Assign" => " (variables)",
                "ItemReader" | "ResultWriter" | "ItemBatcher" => " (a distributed Map field)",
                "ToleratedFailurePercentage"
                | "ToleratedFailureCount"
                | "ToleratedFailurePercentagePath"
                | "ToleratedFailureCountPath" => " (tolerated failures)",
                _ => "",
            };
            return Err(AslError::unsupported(
                state,
                &format!("{prefix}{key}"),
                format!("the field `{key}`{hint} in {what}"),
            ));
        }
    }
    Ok(())
}

/// Refuses `QueryLanguage` other than `JSONPath`.
fn query_language(state: &str, map: &Map<String, Value>) -> Result<(), AslError> {
    match map.get("QueryLanguage") {
        None => Ok(()),
        Some(Value::String(language)) if language == "JSONPath" => Ok(()),
        Some(Value::String(language)) if language == "JSONata" => Err(AslError::unsupported(
            state,
            "QueryLanguage",
            "the query language JSONata (only JSONPath is supported)",
        )),
        Some(other) => Err(AslError::invalid(
            state,
            "QueryLanguage",
            format!("`{other}` is not a query language: use \"JSONPath\""),
        )),
    }
}

/// An optional `Comment`, which must be a string.
fn comment(state: &str, field: &str, map: &Map<String, Value>) -> Result<Option<String>, AslError> {
    match map.get("Comment") {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(AslError::invalid(
            state,
            field,
            format!("a Comment is a string, not {}", kind_of(other)),
        )),
    }
}

/// An integer in `[min, max]`.
fn uint(state: &str, field: &str, value: &Value, min: u64, max: u64) -> Result<u64, AslError> {
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(AslError::invalid(
            state,
            field,
            format!("expected an integer from {min} to {max}, got {value}"),
        )),
    }
}

/// A required string field.
fn string<'m>(
    state: &str,
    field: &str,
    map: &'m Map<String, Value>,
    key: &str,
) -> Result<&'m str, AslError> {
    match map.get(key) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(AslError::invalid(
            state,
            field,
            format!("expected a string, got {}", kind_of(other)),
        )),
        None => Err(AslError::invalid(
            state,
            field,
            format!("`{key}` is required here"),
        )),
    }
}

/// The template in `value` at `field` of `state`.
fn template(state: &str, field: &str, value: &Value, map_item: bool) -> Result<Template, AslError> {
    Template::compile(value, field, map_item).map_err(|(at, e)| AslError::expr(state, &at, e))
}

/// A path that does not read `$$.Map.Item` (which only an `ItemSelector` may).
fn data_path(state: &str, field: &str, text: &str) -> Result<Path, AslError> {
    let path = Path::parse(text).map_err(|e| AslError::expr(state, field, e))?;
    if path.uses_map_item() {
        return Err(AslError::invalid(
            state,
            field,
            "`$$.Map.Item` exists only in a Map state's `ItemSelector`",
        ));
    }
    Ok(path)
}

/// `InputPath` or `OutputPath`: absent is `$`, `null` the empty object.
fn io_path(state: &str, map: &Map<String, Value>, key: &str) -> Result<DataPath, AslError> {
    match map.get(key) {
        None => Ok(DataPath::Path(Path::root())),
        Some(Value::Null) => Ok(DataPath::Empty),
        Some(Value::String(text)) => data_path(state, key, text).map(DataPath::Path),
        Some(other) => Err(AslError::invalid(
            state,
            key,
            format!("expected a path or null, got {}", kind_of(other)),
        )),
    }
}

/// A `ResultPath` (absent is `$`).
fn result_path(state: &str, field: &str, value: Option<&Value>) -> Result<ResultPath, AslError> {
    match value {
        None => Ok(ResultPath::Set(Path::root())),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(text)) => {
            let path = Path::parse(text).map_err(|e| AslError::expr(state, field, e))?;
            if path.is_context() {
                return Err(AslError::invalid(
                    state,
                    field,
                    "a ResultPath writes into the state's input: start it with `$.`, not `$$`",
                ));
            }
            if !path.is_fields_only() {
                return Err(AslError::unsupported(
                    state,
                    field,
                    format!("the array index in the ResultPath `{text}`"),
                ));
            }
            Ok(ResultPath::Set(path))
        }
        Some(other) => Err(AslError::invalid(
            state,
            field,
            format!("expected a path or null, got {}", kind_of(other)),
        )),
    }
}

/// `Next` or `End: true`, exactly one.
fn transition(state: &str, map: &Map<String, Value>) -> Result<Transition, AslError> {
    let end = match map.get("End") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => {
            return Err(AslError::invalid(
                state,
                "End",
                format!("End is true or false, not {}", kind_of(other)),
            ));
        }
    };
    match (map.get("Next"), end) {
        (Some(Value::String(next)), false) => Ok(Transition::Next(next.clone())),
        (None, true) => Ok(Transition::End),
        (Some(Value::String(_)), true) => Err(AslError::invalid(
            state,
            "Next",
            "a state has either Next or End: true, not both",
        )),
        (Some(other), _) => Err(AslError::invalid(
            state,
            "Next",
            format!("Next names a state, it is not {}", kind_of(other)),
        )),
        (None, false) => Err(AslError::invalid(
            state,
            "Next",
            "the state needs Next (the state that follows) or End: true",
        )),
    }
}

/// `ErrorEquals`: a non-empty list of error names, `States.ALL` alone.
fn error_equals(state: &str, field: &str, value: Option<&Value>) -> Result<Vec<String>, AslError> {
    let Some(Value::Array(items)) = value else {
        return Err(AslError::invalid(
            state,
            field,
            "ErrorEquals is a non-empty array of error names",
        ));
    };
    let mut names = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(name) if !name.is_empty() => names.push(name.clone()),
            _ => {
                return Err(AslError::invalid(
                    state,
                    field,
                    format!("an error name is a non-empty string, not {item}"),
                ));
            }
        }
    }
    if names.is_empty() {
        return Err(AslError::invalid(
            state,
            field,
            "ErrorEquals names at least one error",
        ));
    }
    if names.iter().any(|n| n == STATES_ALL) && names.len() > 1 {
        return Err(AslError::invalid(
            state,
            field,
            "States.ALL must be alone in its ErrorEquals: it already matches every error",
        ));
    }
    if names.iter().any(|n| n == STATES_RUNTIME) {
        return Err(AslError::invalid(
            state,
            field,
            "States.Runtime is never retried nor caught (it fails the execution): remove it",
        ));
    }
    Ok(names)
}

/// Refuses `States.ALL` in any entry but the last.
fn all_last(state: &str, list: &str, entries: &[&Vec<String>]) -> Result<(), AslError> {
    let last = entries.len().saturating_sub(1);
    for (i, errors) in entries.iter().enumerate() {
        if i != last && errors.iter().any(|e| e == STATES_ALL) {
            return Err(AslError::invalid(
                state,
                &format!("{list}[{i}].ErrorEquals"),
                format!(
                    "States.ALL must be in the last {list} entry: the entries after it could never match"
                ),
            ));
        }
    }
    Ok(())
}

/// A state's `Retry` and `Catch`.
fn policy(state: &str, map: &Map<String, Value>) -> Result<Policy, AslError> {
    let mut policy = Policy::default();
    if let Some(value) = map.get("Retry") {
        let Value::Array(items) = value else {
            return Err(AslError::invalid(
                state,
                "Retry",
                "Retry is an array of retriers",
            ));
        };
        for (i, item) in items.iter().enumerate() {
            policy
                .retry
                .push(retrier(state, &format!("Retry[{i}]."), item)?);
        }
        let lists: Vec<_> = policy.retry.iter().map(|r| &r.errors).collect();
        all_last(state, "Retry", &lists)?;
    }
    if let Some(value) = map.get("Catch") {
        let Value::Array(items) = value else {
            return Err(AslError::invalid(
                state,
                "Catch",
                "Catch is an array of catchers",
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("Catch[{i}].");
            let Value::Object(fields) = item else {
                return Err(AslError::invalid(
                    state,
                    &format!("Catch[{i}]"),
                    "a catcher is an object",
                ));
            };
            check_fields(state, &prefix, fields, CATCH_FIELDS, "a catcher")?;
            policy.catch.push(Catcher {
                errors: error_equals(
                    state,
                    &format!("{prefix}ErrorEquals"),
                    fields.get("ErrorEquals"),
                )?,
                result_path: result_path(
                    state,
                    &format!("{prefix}ResultPath"),
                    fields.get("ResultPath"),
                )?,
                next: string(state, &format!("{prefix}Next"), fields, "Next")?.to_owned(),
            });
        }
        let lists: Vec<_> = policy.catch.iter().map(|c| &c.errors).collect();
        all_last(state, "Catch", &lists)?;
    }
    Ok(policy)
}

/// One `Retry` entry.
fn retrier(state: &str, prefix: &str, value: &Value) -> Result<Retrier, AslError> {
    let Value::Object(fields) = value else {
        return Err(AslError::invalid(
            state,
            prefix.trim_end_matches('.'),
            "a retrier is an object",
        ));
    };
    check_fields(state, prefix, fields, RETRY_FIELDS, "a retrier")?;
    let at = |key: &str| format!("{prefix}{key}");
    let optional = |key: &str, min: u64, max: u64| -> Result<Option<u64>, AslError> {
        fields
            .get(key)
            .map(|v| uint(state, &at(key), v, min, max))
            .transpose()
    };
    let backoff_rate = match fields.get("BackoffRate") {
        None => 2.0,
        Some(value) => match value.as_f64() {
            Some(rate) if rate >= 1.0 && rate.is_finite() => rate,
            _ => {
                return Err(AslError::invalid(
                    state,
                    &at("BackoffRate"),
                    format!("BackoffRate is a number of at least 1.0, got {value}"),
                ));
            }
        },
    };
    let full_jitter = match fields.get("JitterStrategy") {
        None => false,
        Some(Value::String(s)) if s == "NONE" => false,
        Some(Value::String(s)) if s == "FULL" => true,
        Some(other) => {
            return Err(AslError::invalid(
                state,
                &at("JitterStrategy"),
                format!("JitterStrategy is \"FULL\" or \"NONE\", not {other}"),
            ));
        }
    };
    let max_attempts = optional("MaxAttempts", 0, MAX_SECONDS)?.unwrap_or(3);
    Ok(Retrier {
        errors: error_equals(state, &at("ErrorEquals"), fields.get("ErrorEquals"))?,
        interval_seconds: optional("IntervalSeconds", 1, MAX_SECONDS)?.unwrap_or(1),
        max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
        backoff_rate,
        max_delay_seconds: optional("MaxDelaySeconds", 1, MAX_DELAY_SECONDS)?,
        full_jitter,
    })
}

impl Loader {
    /// A scope: `StartAt` and `States` of `map`, owned by the state `owner`
    /// (empty for the top level), its fields named from `prefix`.
    fn body(
        &mut self,
        owner: &str,
        prefix: &str,
        map: &Map<String, Value>,
        scope: &str,
    ) -> Result<Body, AslError> {
        let start_field = format!("{prefix}StartAt");
        let start_at = string(owner, &start_field, map, "StartAt")?.to_owned();
        let states_field = format!("{prefix}States");
        let Some(Value::Object(definitions)) = map.get("States") else {
            return Err(AslError::invalid(
                owner,
                &states_field,
                "States is required: an object of states by name",
            ));
        };
        if definitions.is_empty() {
            return Err(AslError::invalid(
                owner,
                &states_field,
                "States has no state",
            ));
        }
        let mut states = HashMap::with_capacity(definitions.len());
        for (name, definition) in definitions {
            if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
                return Err(AslError::invalid(
                    owner,
                    &states_field,
                    format!("the state name `{name}` must have 1 to {MAX_NAME_LEN} characters"),
                ));
            }
            if !self.names.insert(name.clone()) {
                return Err(AslError::invalid(
                    name,
                    "(name)",
                    "another state has this name: state names are unique across the whole \
                     machine, Map processors included; rename one of them",
                ));
            }
            states.insert(name.clone(), self.state(name, definition)?);
        }
        let body = Body { start_at, states };
        check_transitions(owner, &start_field, &body, scope)?;
        Ok(body)
    }

    /// One state.
    fn state(&mut self, name: &str, definition: &Value) -> Result<State, AslError> {
        let Value::Object(map) = definition else {
            return Err(AslError::invalid(
                name,
                "(definition)",
                format!("a state is a JSON object, not {}", kind_of(definition)),
            ));
        };
        let kind_name = string(name, "Type", map, "Type")?;
        query_language(name, map)?;
        let allowed = match kind_name {
            "Task" => TASK_FIELDS,
            "Map" => MAP_FIELDS,
            "Pass" => PASS_FIELDS,
            "Wait" => WAIT_FIELDS,
            "Choice" => CHOICE_FIELDS,
            "Succeed" => SUCCEED_FIELDS,
            "Fail" => FAIL_FIELDS,
            "Parallel" => {
                return Err(AslError::unsupported(
                    name,
                    "Type",
                    "the state type `Parallel`",
                ));
            }
            other => {
                return Err(AslError::invalid(
                    name,
                    "Type",
                    format!(
                        "`{other}` is not a state type: use Task, Map, Pass, Wait, Choice, \
                         Succeed or Fail"
                    ),
                ));
            }
        };
        check_fields(name, "", map, allowed, &format!("a {kind_name} state"))?;
        comment(name, "Comment", map)?;
        let kind = match kind_name {
            "Task" => Kind::Task(self.task(name, map)?),
            "Map" => Kind::Map(Box::new(self.map(name, map)?)),
            "Pass" => Kind::Pass(pass(name, map)?),
            "Wait" => Kind::Wait(wait(name, map)?),
            "Choice" => Kind::Choice(choice(name, map)?),
            "Succeed" => Kind::Succeed,
            _ => Kind::Fail {
                error: optional_string(name, map, "Error")?,
                cause: optional_string(name, map, "Cause")?,
            },
        };
        Ok(State {
            name: name.to_owned(),
            input_path: io_path(name, map, "InputPath")?,
            output_path: io_path(name, map, "OutputPath")?,
            kind,
        })
    }

    fn task(&mut self, name: &str, map: &Map<String, Value>) -> Result<Task, AslError> {
        let resource = match string(name, "Resource", map, "Resource")? {
            LAMBDA_INVOKE => Resource::LambdaInvoke,
            START_EXECUTION => Resource::StartExecution,
            other => {
                return Err(AslError::unsupported(
                    name,
                    "Resource",
                    format!(
                        "the resource `{other}` (supported: `{LAMBDA_INVOKE}` and \
                         `{START_EXECUTION}`)"
                    ),
                ));
            }
        };
        let (resource_name, allowed, required) = match resource {
            Resource::LambdaInvoke => (
                LAMBDA_INVOKE,
                &["FunctionName", "Payload"][..],
                "FunctionName",
            ),
            Resource::StartExecution => (
                START_EXECUTION,
                &["StateMachineArn", "Name", "Input"][..],
                "StateMachineArn",
            ),
        };
        let Some(value @ Value::Object(_)) = map.get("Parameters") else {
            return Err(AslError::invalid(
                name,
                "Parameters",
                format!("a `{resource_name}` task needs a Parameters object with `{required}`"),
            ));
        };
        let parameters = template(name, "Parameters", value, false)?;
        for field in parameters.field_names() {
            if !allowed.contains(&field) {
                return Err(AslError::unsupported(
                    name,
                    &format!("Parameters.{field}"),
                    format!(
                        "the parameter `{field}` of `{resource_name}` (supported: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        match parameters.field(required) {
            None => {
                return Err(AslError::invalid(
                    name,
                    &format!("Parameters.{required}"),
                    format!("a `{resource_name}` task needs `{required}` (or `{required}.$`)"),
                ));
            }
            Some(Template::Literal(Value::String(function)))
                if resource == Resource::LambdaInvoke =>
            {
                self.functions.insert(function.clone());
            }
            Some(Template::Literal(other)) if !other.is_string() => {
                return Err(AslError::invalid(
                    name,
                    &format!("Parameters.{required}"),
                    format!("`{required}` is a string, not {}", kind_of(other)),
                ));
            }
            Some(_) => {}
        }
        let timeout = map
            .get("TimeoutSeconds")
            .map(|v| uint(name, "TimeoutSeconds", v, 1, MAX_SECONDS))
            .transpose()?;
        let heartbeat = map
            .get("HeartbeatSeconds")
            .map(|v| uint(name, "HeartbeatSeconds", v, 1, MAX_SECONDS))
            .transpose()?;
        if let (Some(timeout), Some(heartbeat)) = (timeout, heartbeat)
            && heartbeat >= timeout
        {
            return Err(AslError::invalid(
                name,
                "HeartbeatSeconds",
                "HeartbeatSeconds must be less than TimeoutSeconds",
            ));
        }
        Ok(Task {
            resource,
            parameters,
            result_selector: map
                .get("ResultSelector")
                .map(|v| template(name, "ResultSelector", v, false))
                .transpose()?,
            result_path: result_path(name, "ResultPath", map.get("ResultPath"))?,
            policy: policy(name, map)?,
            next: transition(name, map)?,
        })
    }

    fn map(&mut self, name: &str, map: &Map<String, Value>) -> Result<MapState, AslError> {
        let items_path = match map.get("ItemsPath") {
            None => Path::root(),
            Some(Value::String(text)) => data_path(name, "ItemsPath", text)?,
            Some(other) => {
                return Err(AslError::invalid(
                    name,
                    "ItemsPath",
                    format!("ItemsPath is a path, not {}", kind_of(other)),
                ));
            }
        };
        let item_selector = match (map.get("ItemSelector"), map.get("Parameters")) {
            (Some(_), Some(_)) => {
                return Err(AslError::invalid(
                    name,
                    "Parameters",
                    "ItemSelector and its legacy name Parameters are both given: keep ItemSelector",
                ));
            }
            (Some(value), None) => Some(template(name, "ItemSelector", value, true)?),
            (None, Some(value)) => Some(template(name, "Parameters", value, true)?),
            (None, None) => None,
        };
        let (field, processor) = match (map.get("ItemProcessor"), map.get("Iterator")) {
            (Some(_), Some(_)) => {
                return Err(AslError::invalid(
                    name,
                    "Iterator",
                    "ItemProcessor and its legacy name Iterator are both given: keep ItemProcessor",
                ));
            }
            (Some(value), None) => ("ItemProcessor", value),
            (None, Some(value)) => ("Iterator", value),
            (None, None) => {
                return Err(AslError::invalid(
                    name,
                    "ItemProcessor",
                    "a Map state needs an ItemProcessor (StartAt and States run for each item)",
                ));
            }
        };
        let Value::Object(processor) = processor else {
            return Err(AslError::invalid(
                name,
                field,
                format!("{field} is an object"),
            ));
        };
        let prefix = format!("{field}.");
        check_fields(
            name,
            &prefix,
            processor,
            PROCESSOR_FIELDS,
            &format!("a Map's {field}"),
        )?;
        if let Some(config) = processor.get("ProcessorConfig") {
            processor_config(name, &format!("{prefix}ProcessorConfig"), config)?;
        }
        let body = self.body(
            name,
            &prefix,
            processor,
            &format!("the {field} of `{name}`"),
        )?;
        let max_concurrency = map
            .get("MaxConcurrency")
            .map(|v| uint(name, "MaxConcurrency", v, 0, u64::from(u32::MAX)))
            .transpose()?
            .unwrap_or(0);
        Ok(MapState {
            items_path,
            item_selector,
            processor: body,
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(usize::MAX),
            result_selector: map
                .get("ResultSelector")
                .map(|v| template(name, "ResultSelector", v, false))
                .transpose()?,
            result_path: result_path(name, "ResultPath", map.get("ResultPath"))?,
            policy: policy(name, map)?,
            next: transition(name, map)?,
        })
    }
}

/// `ProcessorConfig`: only `Mode: INLINE`.
fn processor_config(state: &str, field: &str, value: &Value) -> Result<(), AslError> {
    let Value::Object(config) = value else {
        return Err(AslError::invalid(
            state,
            field,
            "ProcessorConfig is an object",
        ));
    };
    match config.get("Mode") {
        None => {}
        Some(Value::String(mode)) if mode == "INLINE" => {}
        Some(Value::String(mode)) => {
            return Err(AslError::unsupported(
                state,
                &format!("{field}.Mode"),
                format!("the Map mode `{mode}` (only INLINE is supported)"),
            ));
        }
        Some(other) => {
            return Err(AslError::invalid(
                state,
                &format!("{field}.Mode"),
                format!("Mode is \"INLINE\" or \"DISTRIBUTED\", not {other}"),
            ));
        }
    }
    if let Some(key) = config.keys().find(|key| *key != "Mode") {
        return Err(AslError::unsupported(
            state,
            &format!("{field}.{key}"),
            format!("the field `{key}` in a ProcessorConfig"),
        ));
    }
    Ok(())
}

fn optional_string(state: &str, map: &Map<String, Value>, key: &str) -> Result<String, AslError> {
    match map.get(key) {
        None => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(AslError::invalid(
            state,
            key,
            format!("{key} is a string, not {}", kind_of(other)),
        )),
    }
}

fn pass(name: &str, map: &Map<String, Value>) -> Result<Pass, AslError> {
    Ok(Pass {
        result: map.get("Result").cloned(),
        parameters: map
            .get("Parameters")
            .map(|v| template(name, "Parameters", v, false))
            .transpose()?,
        result_path: result_path(name, "ResultPath", map.get("ResultPath"))?,
        next: transition(name, map)?,
    })
}

fn wait(name: &str, map: &Map<String, Value>) -> Result<Wait, AslError> {
    let wait_for = match (map.get("Seconds"), map.get("SecondsPath")) {
        (Some(value), None) => WaitFor::Seconds(uint(name, "Seconds", value, 0, MAX_SECONDS)?),
        (None, Some(Value::String(text))) => {
            WaitFor::SecondsPath(data_path(name, "SecondsPath", text)?)
        }
        (None, Some(other)) => {
            return Err(AslError::invalid(
                name,
                "SecondsPath",
                format!("SecondsPath is a path, not {}", kind_of(other)),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(AslError::invalid(
                name,
                "SecondsPath",
                "a Wait state takes Seconds or SecondsPath, not both",
            ));
        }
        (None, None) => {
            return Err(AslError::invalid(
                name,
                "Seconds",
                "a Wait state needs Seconds or SecondsPath (Timestamp and TimestampPath are \
                 outside the supported subset)",
            ));
        }
    };
    Ok(Wait {
        wait_for,
        next: transition(name, map)?,
    })
}

fn choice(name: &str, map: &Map<String, Value>) -> Result<Choice, AslError> {
    let Some(Value::Array(items)) = map.get("Choices") else {
        return Err(AslError::invalid(
            name,
            "Choices",
            "a Choice state needs a Choices array",
        ));
    };
    if items.is_empty() {
        return Err(AslError::invalid(
            name,
            "Choices",
            "Choices has at least one rule",
        ));
    }
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (rule, next) = choice::parse(item, name, &format!("Choices[{i}]"), true)?;
        let Some(next) = next else {
            return Err(AslError::invalid(
                name,
                &format!("Choices[{i}].Next"),
                "each Choices entry names the state to go to in Next",
            ));
        };
        rules.push((rule, next));
    }
    let default = match map.get("Default") {
        None => None,
        Some(Value::String(next)) => Some(next.clone()),
        Some(other) => {
            return Err(AslError::invalid(
                name,
                "Default",
                format!("Default names a state, it is not {}", kind_of(other)),
            ));
        }
    };
    Ok(Choice { rules, default })
}

/// The transitions out of a state, with the field naming each.
fn targets(state: &State) -> Vec<(String, &str)> {
    fn next<'s>(transition: &'s Transition, out: &mut Vec<(String, &'s str)>) {
        if let Transition::Next(to) = transition {
            out.push(("Next".to_owned(), to.as_str()));
        }
    }
    fn catches<'s>(policy: &'s Policy, out: &mut Vec<(String, &'s str)>) {
        for (i, catcher) in policy.catch.iter().enumerate() {
            out.push((format!("Catch[{i}].Next"), catcher.next.as_str()));
        }
    }
    let mut out = Vec::new();
    match &state.kind {
        Kind::Task(task) => {
            next(&task.next, &mut out);
            catches(&task.policy, &mut out);
        }
        Kind::Map(map) => {
            next(&map.next, &mut out);
            catches(&map.policy, &mut out);
        }
        Kind::Pass(pass) => next(&pass.next, &mut out),
        Kind::Wait(wait) => next(&wait.next, &mut out),
        Kind::Choice(choice) => {
            for (i, (_, to)) in choice.rules.iter().enumerate() {
                out.push((format!("Choices[{i}].Next"), to.as_str()));
            }
            if let Some(to) = &choice.default {
                out.push(("Default".to_owned(), to.as_str()));
            }
        }
        Kind::Succeed | Kind::Fail { .. } => {}
    }
    out
}

/// Every transition names a state of the scope, and every state is reached.
fn check_transitions(
    owner: &str,
    start_field: &str,
    body: &Body,
    scope: &str,
) -> Result<(), AslError> {
    let known = || {
        let mut names: Vec<&str> = body.states.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.join(", ")
    };
    if !body.states.contains_key(&body.start_at) {
        return Err(AslError::invalid(
            owner,
            start_field,
            format!(
                "StartAt names `{}`, which is not a state of {scope}: name one of {}",
                body.start_at,
                known()
            ),
        ));
    }
    let mut names: Vec<&String> = body.states.keys().collect();
    names.sort_unstable();
    for name in &names {
        let Some(state) = body.states.get(*name) else {
            continue;
        };
        for (field, to) in targets(state) {
            if !body.states.contains_key(to) {
                return Err(AslError::invalid(
                    name,
                    &field,
                    format!(
                        "`{to}` is not a state of {scope} (a transition cannot leave its scope): \
                         name one of {}",
                        known()
                    ),
                ));
            }
        }
    }
    let mut reached: HashSet<&str> = HashSet::from([body.start_at.as_str()]);
    let mut queue = VecDeque::from([body.start_at.as_str()]);
    while let Some(name) = queue.pop_front() {
        let Some(state) = body.states.get(name) else {
            continue;
        };
        for (_, to) in targets(state) {
            if reached.insert(to) {
                queue.push_back(to);
            }
        }
    }
    if let Some(lost) = names.iter().find(|n| !reached.contains(n.as_str())) {
        return Err(AslError::invalid(
            lost,
            "(transitions)",
            format!(
                "no StartAt, Next, Default or Catch of {scope} leads to this state: remove it or \
                 point a transition at it"
            ),
        ));
    }
    Ok(())
}

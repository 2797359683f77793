//! Jira's checks of a create request, with Jira's messages: the project and
//! issue type, the fields of the type's create screen (unknown ones refused,
//! required ones demanded), summary and description rules (ADF checked
//! against the official schema), priorities, assignable users, open
//! sprints, parents of the right hierarchy level, and entity properties.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};

use crate::config::{FieldConfig, IssueTypeConfig, ProjectConfig};
use crate::world::{Issue, World};

/// Where `make deps` installs the official ADF JSON schema, from this crate.
pub const ADF_SCHEMA_PATH: &str =
    "../adf/node_modules/@atlaskit/adf-schema/dist/json-schema/v1/full.json";

/// Longest description, in characters of its JSON.
pub const MAX_DESCRIPTION_CHARS: usize = 32_767;
/// Longest summary.
pub const MAX_SUMMARY_CHARS: usize = 255;
/// Largest entity property value, in bytes of JSON.
pub const MAX_PROPERTY_BYTES: usize = 32_768;

const NOT_ADF: &str =
    "Operation value must be an Atlassian Document (see the Atlassian Document Format)";

/// Jira's refusal: status, `errorMessages`, `errors`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// General messages.
    pub messages: Vec<String>,
    /// Messages per field.
    pub errors: BTreeMap<String, String>,
}

impl Refusal {
    /// A refusal with one general message.
    #[must_use]
    pub fn message(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            messages: vec![message.into()],
            errors: BTreeMap::new(),
        }
    }

    /// A 400 with one field message.
    #[must_use]
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = BTreeMap::new();
        errors.insert(field.to_owned(), message.into());
        Self {
            status: 400,
            messages: Vec::new(),
            errors,
        }
    }

    /// Jira's `ErrorCollection` body.
    #[must_use]
    pub fn body(&self) -> Value {
        serde_json::json!({"errorMessages": self.messages, "errors": self.errors})
    }
}

/// The compiled ADF schema, loaded once per process.
///
/// # Errors
/// Why the schema file cannot be read or compiled (run `make deps`).
pub fn adf_validator() -> Result<&'static jsonschema::Validator, String> {
    static ADF: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    ADF.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(ADF_SCHEMA_PATH);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read the ADF schema {} (run `make deps`): {e}",
                path.display()
            )
        })?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("ADF schema is not JSON: {e}"))?;
        jsonschema::draft4::new(&json).map_err(|e| format!("ADF schema does not compile: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// An issue that passed the checks, before it gets an id.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    project_key: String,
    issue_type: IssueTypeConfig,
    summary: String,
    description: Option<Value>,
    labels: Vec<String>,
    parent_key: Option<String>,
    priority_id: String,
    assignee: Option<String>,
    sprint: Option<u64>,
    custom_fields: BTreeMap<String, Value>,
    properties: BTreeMap<String, Value>,
    links: Vec<DraftLink>,
}

/// A link asked for in a create call (`update.issuelinks`).
#[derive(Debug, Clone)]
struct DraftLink {
    type_name: String,
    other_key: String,
    /// Whether the other issue is the inward one (for `Blocks`: it blocks the new issue).
    other_is_inward: bool,
}

impl Draft {
    /// The project the issue goes into.
    pub(crate) fn project_key(&self) -> &str {
        &self.project_key
    }
}

pub(crate) fn id_or_name<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| value.get(*k))
        .and_then(Value::as_str)
}

fn project_of<'a>(world: &'a World, value: Option<&Value>) -> Option<&'a ProjectConfig> {
    let value = value?;
    let wanted = id_or_name(value, &["key", "id"])?;
    world
        .config
        .projects
        .iter()
        .find(|p| p.key.eq_ignore_ascii_case(wanted) || p.id == wanted)
}

/// Checks a create request (`IssueUpdateDetails`), as Jira would.
pub(crate) fn check_create(world: &World, body: &Value) -> Result<Draft, Refusal> {
    let Some(body) = body.as_object() else {
        return Err(Refusal::message(
            400,
            "Invalid request payload. Refer to the REST API documentation and try again.",
        ));
    };
    let empty = Map::new();
    let fields = match body.get("fields") {
        None => &empty,
        Some(Value::Object(f)) => f,
        Some(_) => {
            return Err(Refusal::message(
                400,
                "Invalid request payload. Refer to the REST API documentation and try again.",
            ));
        }
    };
    let mut errors = BTreeMap::new();
    let Some(project) = project_of(world, fields.get("project")) else {
        errors.insert(
            "project".to_owned(),
            "Specify a valid project ID or key".to_owned(),
        );
        if fields.get("issuetype").is_none() {
            errors.insert("issuetype".to_owned(), "Specify an issue type".to_owned());
        }
        return Err(Refusal {
            status: 400,
            messages: Vec::new(),
            errors,
        });
    };
    if world.deleted_projects.contains(&project.key) {
        return Err(Refusal::message(
            404,
            format!("No project could be found with key '{}'.", project.key),
        ));
    }
    let issue_type = match fields.get("issuetype") {
        None => None,
        Some(v) => {
            let wanted = id_or_name(v, &["id", "name"]).unwrap_or_default();
            let found = project
                .issue_types
                .iter()
                .find(|t| t.id == wanted || t.name.eq_ignore_ascii_case(wanted));
            if found.is_none() {
                errors.insert(
                    "issuetype".to_owned(),
                    "The issue type selected is invalid.".to_owned(),
                );
            }
            found
        }
    };
    let Some(issue_type) = issue_type else {
        errors
            .entry("issuetype".to_owned())
            .or_insert_with(|| "Specify an issue type".to_owned());
        return Err(Refusal {
            status: 400,
            messages: Vec::new(),
            errors,
        });
    };
    let screen: BTreeMap<&str, &FieldConfig> = issue_type
        .fields
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    for id in fields.keys() {
        if !screen.contains_key(id.as_str()) {
            errors.insert(
                id.clone(),
                format!(
                    "Field '{id}' cannot be set. It is not on the appropriate screen, or unknown."
                ),
            );
        }
    }

    let summary = match fields.get("summary") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            if s.chars().count() > MAX_SUMMARY_CHARS {
                errors.insert(
                    "summary".to_owned(),
                    "Summary must be less than 255 characters.".to_owned(),
                );
            } else if s.contains(['\n', '\r']) {
                errors.insert(
                    "summary".to_owned(),
                    "The summary is invalid because it contains newline characters.".to_owned(),
                );
            }
            s.clone()
        }
        Some(Value::String(_) | Value::Null) | None => {
            errors.insert(
                "summary".to_owned(),
                "You must specify a summary of the issue.".to_owned(),
            );
            String::new()
        }
        Some(_) => {
            errors.insert(
                "summary".to_owned(),
                "Operation value must be a string".to_owned(),
            );
            String::new()
        }
    };

    let description = match fields.get("description") {
        None | Some(Value::Null) => None,
        Some(doc @ Value::Object(_)) => {
            let chars = doc.to_string().chars().count();
            if chars > MAX_DESCRIPTION_CHARS {
                errors.insert(
                    "description".to_owned(),
                    format!("The entered text is too long. It exceeds the allowed limit of {MAX_DESCRIPTION_CHARS} characters."),
                );
            } else {
                match adf_validator() {
                    Ok(v) if v.is_valid(doc) => {}
                    Ok(_) => {
                        errors.insert("description".to_owned(), NOT_ADF.to_owned());
                    }
                    Err(e) => return Err(Refusal::message(500, e)),
                }
            }
            Some(doc.clone())
        }
        Some(_) => {
            errors.insert("description".to_owned(), NOT_ADF.to_owned());
            None
        }
    };

    let labels = match fields.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut labels = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(l) if l.chars().any(char::is_whitespace) || l.is_empty() => {
                        errors.insert(
                            "labels".to_owned(),
                            format!("The label '{l}' contains spaces which is invalid."),
                        );
                    }
                    Some(l) if l.chars().count() > 255 => {
                        errors.insert(
                            "labels".to_owned(),
                            format!("The label '{l}' exceeds the maximum length for a single label of 255 characters."),
                        );
                    }
                    Some(l) => labels.push(l.to_owned()),
                    None => {
                        errors.insert(
                            "labels".to_owned(),
                            "Operation value must be a string".to_owned(),
                        );
                    }
                }
            }
            labels
        }
        Some(_) => {
            errors.insert(
                "labels".to_owned(),
                "Operation value must be an array of strings".to_owned(),
            );
            Vec::new()
        }
    };

    let default_priority = world
        .config
        .priorities
        .iter()
        .find(|p| p.is_default)
        .or(world.config.priorities.first())
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let priority_id = match fields.get("priority") {
        None | Some(Value::Null) => default_priority,
        Some(v) => {
            let wanted = id_or_name(v, &["id", "name"]).unwrap_or_default();
            match world
                .config
                .priorities
                .iter()
                .find(|p| p.id == wanted || p.name.eq_ignore_ascii_case(wanted))
            {
                Some(p) => p.id.clone(),
                None => {
                    errors.insert(
                        "priority".to_owned(),
                        "The priority selected is invalid.".to_owned(),
                    );
                    default_priority
                }
            }
        }
    };

    let assignee = match fields.get("assignee") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let wanted = id_or_name(v, &["accountId", "id"]).unwrap_or_default();
            if !project.assignable.iter().any(|a| a == wanted)
                || !world.config.users.iter().any(|u| u.account_id == wanted)
            {
                errors.insert(
                    "assignee".to_owned(),
                    "Specified user does not exist or you do not have required permissions"
                        .to_owned(),
                );
            }
            Some(wanted.to_owned())
        }
    };

    if let Some(v) = fields.get("reporter").filter(|v| !v.is_null()) {
        let wanted = id_or_name(v, &["accountId", "id"]).unwrap_or_default();
        if !world.config.users.iter().any(|u| u.account_id == wanted) {
            errors.insert(
                "reporter".to_owned(),
                "Specified user does not exist or you do not have required permissions".to_owned(),
            );
        }
    }

    let parent_key = match fields.get("parent") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let wanted = id_or_name(v, &["key", "id"]).unwrap_or_default();
            match world.issue(wanted) {
                None => {
                    errors.insert(
                        "parent".to_owned(),
                        "Could not find issue by id or key.".to_owned(),
                    );
                    None
                }
                Some(parent) => {
                    let level = project
                        .issue_types
                        .iter()
                        .chain(
                            world
                                .config
                                .projects
                                .iter()
                                .flat_map(|p| p.issue_types.iter()),
                        )
                        .find(|t| t.id == parent.issue_type_id)
                        .map_or(0, |t| t.hierarchy_level);
                    if level != issue_type.hierarchy_level + 1 {
                        errors.insert(
                            "parent".to_owned(),
                            "Given parent work item does not belong to appropriate hierarchy."
                                .to_owned(),
                        );
                    }
                    Some(parent.key.clone())
                }
            }
        }
    };

    let mut sprint = None;
    let mut custom_fields = BTreeMap::new();
    for field in &issue_type.fields {
        let given = fields.get(&field.id).filter(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        });
        let Some(value) = given else {
            if field.required && !field.has_default && !errors.contains_key(&field.id) {
                let message = match field.id.as_str() {
                    "summary" => "You must specify a summary of the issue.".to_owned(),
                    "parent" => "Parent is required.".to_owned(),
                    _ => format!("{} is required.", field.name),
                };
                errors.insert(field.id.clone(), message);
            }
            continue;
        };
        if field.system.is_some() {
            continue;
        }
        let custom = field.custom.as_deref().unwrap_or_default();
        if custom.ends_with(":gh-sprint") {
            let id = value.as_u64().or_else(|| {
                value
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_u64)
            });
            match id {
                None => {
                    errors.insert(
                        field.id.clone(),
                        "Number value expected as the Sprint id.".to_owned(),
                    );
                }
                Some(id) => {
                    let found = world
                        .config
                        .projects
                        .iter()
                        .flat_map(|p| p.boards.iter())
                        .flat_map(|b| b.sprints.iter())
                        .find(|s| s.id == id);
                    match found {
                        None => {
                            errors.insert(
                                field.id.clone(),
                                format!("Sprint with id {id} does not exist."),
                            );
                        }
                        Some(s) if s.state == "closed" => {
                            errors.insert(
                                field.id.clone(),
                                "Issue can be assigned only active or future sprints.".to_owned(),
                            );
                        }
                        Some(_) => sprint = Some(id),
                    }
                }
            }
        } else if field.schema_type == "number" && !value.is_number() {
            errors.insert(
                field.id.clone(),
                "Operation value must be a number".to_owned(),
            );
        } else if field.schema_type == "string" && !value.is_string() && !value.is_object() {
            errors.insert(
                field.id.clone(),
                "Operation value must be a string".to_owned(),
            );
        } else {
            custom_fields.insert(field.id.clone(), value.clone());
        }
    }

    let properties = check_properties(body.get("properties"), &mut errors);
    let links = check_update(world, body.get("update"), &screen, &mut errors);

    if errors.is_empty() {
        Ok(Draft {
            project_key: project.key.clone(),
            issue_type: issue_type.clone(),
            summary,
            description,
            labels,
            parent_key,
            priority_id,
            assignee,
            sprint,
            custom_fields,
            properties,
            links,
        })
    } else {
        Err(Refusal {
            status: 400,
            messages: Vec::new(),
            errors,
        })
    }
}

/// Checks the `update` of a create call. Jira takes field operations there;
/// the emulator knows `issuelinks` (`add` with a link type and the other
/// issue as `inwardIssue` or `outwardIssue`), the only one the product sends.
fn check_update(
    world: &World,
    update: Option<&Value>,
    screen: &BTreeMap<&str, &FieldConfig>,
    errors: &mut BTreeMap<String, String>,
) -> Vec<DraftLink> {
    let mut links = Vec::new();
    let Some(update) = update.and_then(Value::as_object) else {
        return links;
    };
    for (field, ops) in update {
        if !screen.contains_key(field.as_str()) {
            errors.insert(
                field.clone(),
                format!(
                    "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
                ),
            );
            continue;
        }
        if field != "issuelinks" {
            errors.insert(
                field.clone(),
                format!("The emulator does not take operations on '{field}' under `update`."),
            );
            continue;
        }
        for op in ops.as_array().into_iter().flatten() {
            let Some(add) = op.get("add") else {
                errors.insert(
                    field.clone(),
                    "Only the 'add' operation is supported when creating an issue.".to_owned(),
                );
                continue;
            };
            let wanted_type = add
                .pointer("/type/name")
                .or_else(|| add.pointer("/type/id"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(link_type) = world
                .config
                .link_types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(wanted_type) || t.id == wanted_type)
            else {
                errors.insert(
                    field.clone(),
                    format!("No issue link type with name '{wanted_type}' found."),
                );
                continue;
            };
            let (side, other_is_inward) = match (add.get("inwardIssue"), add.get("outwardIssue")) {
                (Some(v), None) => (v, true),
                (None, Some(v)) => (v, false),
                _ => {
                    errors.insert(
                        field.clone(),
                        "Specify either inwardIssue or outwardIssue for a link.".to_owned(),
                    );
                    continue;
                }
            };
            let wanted = id_or_name(side, &["key", "id"]).unwrap_or_default();
            let Some(other) = world.issue(wanted) else {
                errors.insert(
                    field.clone(),
                    format!(
                        "Issue '{wanted}' does not exist or you do not have permission to see it."
                    ),
                );
                continue;
            };
            if world.links_of(&other.key) >= 2000 {
                errors.insert(
                    field.clone(),
                    "The number of links to the issue has reached the limit of 2000.".to_owned(),
                );
                continue;
            }
            links.push(DraftLink {
                type_name: link_type.name.clone(),
                other_key: other.key.clone(),
                other_is_inward,
            });
        }
    }
    links
}

fn check_properties(
    value: Option<&Value>,
    errors: &mut BTreeMap<String, String>,
) -> BTreeMap<String, Value> {
    let mut properties = BTreeMap::new();
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return properties;
    };
    let Some(items) = value.as_array() else {
        errors.insert(
            "properties".to_owned(),
            "Invalid request payload.".to_owned(),
        );
        return properties;
    };
    for item in items {
        let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
        if let Err(message) = check_property(key, item.get("value").unwrap_or(&Value::Null)) {
            errors.insert("properties".to_owned(), message);
        } else {
            properties.insert(
                key.to_owned(),
                item.get("value").cloned().unwrap_or(Value::Null),
            );
        }
    }
    properties
}

/// Checks an entity property's key and value.
pub(crate) fn check_property(key: &str, value: &Value) -> Result<(), String> {
    if key.is_empty() {
        return Err("The property key cannot be empty.".to_owned());
    }
    if key.chars().count() > 255 {
        return Err("The property key cannot be longer than 255 characters.".to_owned());
    }
    if value.to_string().len() > MAX_PROPERTY_BYTES {
        return Err(format!(
            "The property value cannot be longer than {MAX_PROPERTY_BYTES} bytes."
        ));
    }
    Ok(())
}

/// Stores a checked issue and gives it an id and key.
pub(crate) fn commit(world: &mut World, draft: Draft) -> Issue {
    world.next_issue_id += 1;
    let number = world
        .next_number
        .entry(draft.project_key.clone())
        .or_insert(0);
    *number += 1;
    let issue = Issue {
        id: world.next_issue_id.to_string(),
        key: format!("{}-{number}", draft.project_key),
        project_key: draft.project_key,
        issue_type_id: draft.issue_type.id,
        issue_type: draft.issue_type.name,
        summary: draft.summary,
        description: draft.description,
        labels: draft.labels,
        parent_key: draft.parent_key,
        priority_id: draft.priority_id,
        assignee: draft.assignee,
        sprint: draft.sprint,
        custom_fields: draft.custom_fields,
        properties: draft.properties,
        attachments: Vec::new(),
        created: SystemTime::now(),
        created_at: Instant::now(),
        number: *number,
    };
    world.issues.push(issue.clone());
    for link in draft.links {
        let (inward_key, outward_key) = if link.other_is_inward {
            (link.other_key, issue.key.clone())
        } else {
            (issue.key.clone(), link.other_key)
        };
        world.add_link(link.type_name, inward_key, outward_key);
    }
    issue
}

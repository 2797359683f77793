//! The OpenAPI schemas derived for the API's types describe exactly the JSON
//! serde writes: real reports and plans validate against them, every enum
//! value is listed, and nothing serde writes is missing from a schema.
//!
//! Run with `cargo test -p dtg-core --features openapi`.

#![cfg(feature = "openapi")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use dtg_core::csv::ReportDocument;
use dtg_core::finding::{Code, Severity};
use dtg_core::plan::{
    Area, Attachment, Granularity, IssueType, Plan, PlanSettings, Priority, Ticket, plan,
};
use dtg_core::session::{Position, Stage, Status};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use common::{sample, validate_dir};

#[derive(OpenApi)]
#[openapi(components(schemas(
    ReportDocument,
    Ticket,
    Plan,
    PlanSettings,
    Position,
    Code,
    Severity,
    Stage,
    Status,
    Area,
    IssueType,
    Priority,
    Granularity,
)))]
struct Schemas;

/// The generated component schemas, tightened for the test: every object
/// that lists its properties refuses any other, so a field serde writes
/// under a name the schema does not know fails instead of passing unseen.
fn components() -> Value {
    fn close(schema: &mut Value) {
        match schema {
            Value::Object(map) => {
                if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                    map.insert("additionalProperties".to_owned(), Value::Bool(false));
                }
                map.values_mut().for_each(close);
            }
            Value::Array(list) => list.iter_mut().for_each(close),
            _ => {}
        }
    }
    let doc = serde_json::to_value(Schemas::openapi()).unwrap();
    let mut components = doc["components"].clone();
    close(&mut components);
    components
}

/// A validator of the component `name`, its `$ref`s resolved within the
/// same document.
fn validator(name: &str) -> jsonschema::Validator {
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": components(),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema of {name}: {e}"))
}

/// Panics with every error when `value` does not validate.
fn assert_valid(validator: &jsonschema::Validator, what: &str, value: &impl Serialize) {
    let json = serde_json::to_value(value).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

#[test]
fn validation_reports_match_their_schema() {
    let v = validator("ReportDocument");
    let mut folders = vec![sample("uwec_complete"), sample("uwec_spec_tool")];
    let mut cases: Vec<_> = fs::read_dir(sample("test_cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    folders.extend(cases);
    let (mut files, mut findings, mut undetected) = (0, 0, 0);
    for dir in &folders {
        let doc = validate_dir(dir).document();
        assert_valid(&v, &dir.display().to_string(), &doc);
        files += doc.files.len();
        findings += doc.findings.len();
        undetected += doc.files.iter().filter(|f| f.csv_type.is_none()).count();
        // What the schema describes reads back as the same document.
        let json = serde_json::to_string(&doc).unwrap();
        let back: ReportDocument = serde_json::from_str(&json).unwrap();
        assert_eq!(back, doc, "{}", dir.display());
    }
    // The corpus reaches the optional parts: findings, and files not recognised.
    assert!(files > 50 && findings > 50 && undetected > 0);
}

#[test]
fn a_real_plan_and_its_tickets_match_their_schema() {
    let report = validate_dir(&sample("uwec_complete"));
    assert!(!report.has_errors());
    let tickets = validator("Ticket");
    let plans = validator("Plan");
    for granularity in [Granularity::PerBundle, Granularity::PerField] {
        let p = plan(&report.items, &PlanSettings { granularity }).unwrap();
        assert!(p.tickets.len() > 20);
        for t in &p.tickets {
            assert_valid(&tickets, &t.id, t);
        }
        assert_valid(&plans, "plan", &p);
    }

    // The fields serde leaves out when empty, present.
    let p = plan(&report.items, &PlanSettings::default()).unwrap();
    let mut t = p.tickets[0].clone();
    t.assignee = Some("5b10a2844c20165700ede21g".to_owned());
    t.sprint = Some("Sprint 3".to_owned());
    t.attachments = vec![Attachment {
        file_name: "description.md".to_owned(),
        content: "# The rest".to_owned(),
    }];
    assert_valid(&tickets, "ticket with assignee, sprint, attachment", &t);
}

#[test]
fn the_schemas_refuse_what_serde_would_not_write() {
    let report = validate_dir(&sample("uwec_complete"));
    let p = plan(&report.items, &PlanSettings::default()).unwrap();
    let ticket = serde_json::to_value(&p.tickets[0]).unwrap();
    let v = validator("Ticket");
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut t = ticket.clone();
        f(&mut t);
        t
    };
    assert!(v.is_valid(&ticket));
    // The Rust field name instead of serde's.
    assert!(!v.is_valid(&broken(&|t| {
        let ty = t.as_object_mut().unwrap().remove("type").unwrap();
        t["issue_type"] = ty;
    })));
    // Case of an enum value.
    assert!(!v.is_valid(&broken(&|t| t["priority"] = json!("medium"))));
    assert!(!v.is_valid(&broken(&|t| t["area"] = json!("ContentModel"))));
    // null where serde leaves the field out.
    assert!(!v.is_valid(&broken(&|t| t["assignee"] = Value::Null)));
    // An unknown field.
    assert!(!v.is_valid(&broken(&|t| t["story_points"] = json!(3))));

    let v = validator("ReportDocument");
    let doc = serde_json::to_value(validate_dir(&sample("test_cases/05_ragged_rows")).document())
        .unwrap();
    assert!(v.is_valid(&doc));
    let mut bad = doc.clone();
    bad["findings"][0]["code"] = json!("no_such_code");
    assert!(!v.is_valid(&bad));
    let mut bad = doc;
    bad["summary"].as_object_mut().unwrap().remove("info");
    assert!(!v.is_valid(&bad));
}

/// Every value of each enum serde writes is one its schema lists.
#[test]
fn every_enum_value_is_in_its_schema() {
    fn all<T: Serialize>(name: &str, values: &[T]) {
        let v = validator(name);
        for value in values {
            assert_valid(&v, name, value);
        }
        let listed = Schemas::openapi().components.unwrap().schemas[name].clone();
        let listed = serde_json::to_value(listed).unwrap();
        assert_eq!(
            listed["enum"].as_array().map(Vec::len),
            Some(values.len()),
            "{name}"
        );
    }
    all("Code", Code::ALL);
    all(
        "Severity",
        &[Severity::Info, Severity::Warning, Severity::Error],
    );
    all("Area", &Area::ALL);
    all(
        "IssueType",
        &[IssueType::Epic, IssueType::Story, IssueType::Task],
    );
    all(
        "Priority",
        &[
            Priority::Highest,
            Priority::High,
            Priority::Medium,
            Priority::Low,
        ],
    );
    all(
        "Granularity",
        &[Granularity::PerBundle, Granularity::PerField],
    );
    use Stage as S;
    all(
        "Stage",
        &[
            S::Setup,
            S::Upload,
            S::Processing,
            S::Review,
            S::JiraExport,
            S::Completed,
        ],
    );
    use Status as T;
    all(
        "Status",
        &[
            T::Active,
            T::Validating,
            T::Processing,
            T::AdfValidating,
            T::Exporting,
            T::ExportFailed,
            T::AdminRequired,
            T::Failed,
            T::Completed,
        ],
    );
    let v = validator("Position");
    assert_valid(&v, "position", &Position::START);
    assert_valid(
        &v,
        "position",
        &Position::new(S::JiraExport, T::ExportFailed),
    );
    assert_valid(
        &validator("PlanSettings"),
        "settings",
        &PlanSettings::default(),
    );
}

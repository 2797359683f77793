//! The shipped sample sets and Drupal core's standard profile validate as expected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use dtg_core::csv::{CsvType, Report};
use dtg_core::{Code, ItemData, Severity};

use common::{drupal, oracle, sample, validate_dir};

#[test]
fn uwec_complete_is_valid_and_complete() {
    // GIVEN the complete university site in the canonical dialect
    let report = validate_dir(&sample("uwec_complete"));

    // THEN it has no finding at all
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    // AND every type of the registry is present, each file detected as its own type
    let types: BTreeSet<&str> = report
        .files
        .iter()
        .filter_map(|f| f.csv_type.as_deref())
        .collect();
    let all: BTreeSet<&str> = CsvType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(types, all);
    for file in &report.files {
        assert_eq!(
            Some(format!("{}.csv", file.csv_type.as_deref().unwrap())),
            Some(file.name.clone())
        );
        assert_eq!(file.rows, file.items, "{}", file.name);
    }

    // AND it is realistic in size: at least 25 bundles and 200 fields
    let bundles = report
        .items
        .iter()
        .filter(|i| i.defines_bundle().is_some())
        .count();
    let fields = report
        .items
        .iter()
        .filter(|i| i.csv_type == CsvType::Fields)
        .count();
    assert!(bundles >= 25, "{bundles} bundles");
    assert!(fields >= 200, "{fields} fields");

    // AND items carry Drupal config names
    let keys: BTreeSet<&str> = report.items.iter().map(|i| i.key.as_str()).collect();
    for key in [
        "node.type.event",
        "taxonomy.vocabulary.department",
        "system.menu.main",
    ] {
        assert!(keys.contains(key), "{key} missing");
    }
    assert!(
        keys.iter()
            .any(|k| k.starts_with("field.field.node.event.field_"))
    );
}

#[test]
fn drupal_standard_profile_has_only_its_known_warnings() {
    // GIVEN Drupal core's standard profile written in our CSV format
    let report = validate_dir(&drupal("drupal_standard"));

    // THEN nothing blocks processing
    assert!(!report.has_errors(), "{:#?}", report.findings);

    // AND the warnings are exactly the known quirks of real data
    let warnings: BTreeSet<(String, Code, Option<u32>)> = report
        .findings
        .iter()
        .map(|f| (f.file.clone(), f.code, f.line))
        .collect();
    let expected: BTreeSet<(String, Code, Option<u32>)> = [
        // comment_body lives on the comment module's bundle, which no file defines
        ("fields.csv", Code::UnknownBundleReference, Some(3)),
        // the `comment` field type comes from the comment module
        ("fields.csv", Code::UnknownFieldType, Some(10)),
        ("menus.csv", Code::NoDataRows, None),
        ("views.csv", Code::NoDataRows, None),
    ]
    .into_iter()
    .map(|(f, c, l)| (f.to_owned(), c, l))
    .collect();
    assert_eq!(warnings, expected);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity == Severity::Warning)
    );

    // AND every item of Drupal's own config, by its config name, comes out,
    // in Drupal's counts per type
    assert_items_match_oracle(&report, "drupal_standard");
}

/// Every item of a reference site's config, by its config name, comes out
/// of `report`, in Drupal's counts per type.
fn assert_items_match_oracle(report: &Report, site: &str) {
    let oracle = oracle(site);
    let keys: BTreeSet<&str> = report.items.iter().map(|i| i.key.as_str()).collect();
    for item in oracle["items"].as_array().unwrap() {
        let item = item.as_str().unwrap();
        assert!(keys.contains(item), "{site}: {item} not produced");
    }
    for (ty, count) in oracle["counts"].as_object().unwrap() {
        let n = report
            .items
            .iter()
            .filter(|i| i.csv_type.as_str() == ty)
            .count();
        assert_eq!(n as u64, count.as_u64().unwrap(), "{site}: {ty}");
    }
}

#[test]
fn drupal_standard_site_as_drupal_writes_it_has_no_error() {
    // GIVEN a fresh standard install, written as Drupal writes its values
    // (view paths without their leading slash, `taxonomy/term/%`, two page displays on a view)
    let report = validate_dir(&drupal("drupal_standard_site"));

    // THEN nothing blocks processing, and nothing is reported but the known quirks
    let findings: BTreeSet<(String, Code, Option<u32>)> = report
        .findings
        .iter()
        .map(|f| (f.file.clone(), f.code, f.line))
        .collect();
    let expected: BTreeSet<(String, Code, Option<u32>)> = [
        // comment_body lives on the comment module's bundle, which no file defines
        ("fields.csv", Code::UnknownBundleReference, Some(3)),
        // the `comment` field type comes from the comment module
        ("fields.csv", Code::UnknownFieldType, Some(10)),
        ("menus.csv", Code::NoDataRows, None),
    ]
    .into_iter()
    .map(|(f, c, l)| (f.to_owned(), c, l))
    .collect();
    assert_eq!(findings, expected, "{:#?}", report.findings);
    assert!(!report.has_errors());

    // AND every item of Drupal's config comes out, in Drupal's counts
    assert_items_match_oracle(&report, "drupal_standard_site");

    // AND view paths are read in the canonical form, placeholders kept
    let view = |name: &str| {
        report
            .items
            .iter()
            .find_map(|i| match &i.data {
                ItemData::View(v) if v.machine_name == name => Some(v),
                _ => None,
            })
            .unwrap_or_else(|| panic!("view {name}"))
    };
    assert_eq!(view("frontpage").path.as_deref(), Some("/node"));
    assert_eq!(view("content").path.as_deref(), Some("/admin/content/node"));
    assert_eq!(
        view("taxonomy_term").path.as_deref(),
        Some("/taxonomy/term/%")
    );
    // AND a view with two page displays keeps both
    assert_eq!(view("comment").displays, ["page", "page"]);
    assert_eq!(view("files").displays, ["page", "page"]);
}

/// What must agree between the dialects for one item.
fn essence(item: &dtg_core::ConfigItem) -> String {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    let detail = match &item.data {
        ItemData::Field(f) => format!(
            "{} required={} cardinality={} target={:?} {:?} help={:?} translatable={:?}",
            f.field_type,
            f.required,
            f.cardinality,
            f.target_type,
            set(&f.target_bundles),
            f.help_text,
            f.translatable
        ),
        ItemData::View(v) => format!("{} {:?}", v.base_table, set(&v.displays)),
        ItemData::ImageStyle(s) => format!("{:?}", s.effects),
        ItemData::Workflow(w) => format!(
            "{} {:?} {:?}",
            w.workflow_type,
            set(&w.states),
            w.transitions
                .iter()
                .map(|t| format!("{}>{}", t.from, t.to))
                .collect::<BTreeSet<_>>()
        ),
        ItemData::Role(r) => format!("{:?}", set(&r.permissions)),
        _ => String::new(),
    };
    format!("{} {} {detail}", item.csv_type, item.label)
}

#[test]
fn spec_tool_copy_yields_the_same_items() {
    // GIVEN part of the site in Acquia's Spec Tool dialect, and the whole in canonical form
    let spec = validate_dir(&sample("uwec_spec_tool"));
    let canonical = validate_dir(&sample("uwec_complete"));

    // THEN the Spec Tool copy has no error (references to bundles outside the part are warnings)
    assert!(!spec.has_errors(), "{:#?}", spec.findings);
    assert!(
        spec.findings
            .iter()
            .all(|f| f.code == Code::UnknownBundleReference),
        "{:#?}",
        spec.findings
    );
    assert!(
        spec.files.iter().all(|f| f.dialect.is_some()),
        "every sheet detected"
    );

    // AND every item it yields is the same item in the canonical set
    let by_key: BTreeMap<&str, &dtg_core::ConfigItem> = canonical
        .items
        .iter()
        .map(|i| (i.key.as_str(), i))
        .collect();
    let mut types = BTreeSet::new();
    for item in &spec.items {
        let other = by_key
            .get(item.key.as_str())
            .unwrap_or_else(|| panic!("{} not in uwec_complete", item.key));
        assert_eq!(essence(item), essence(other), "{}", item.key);
        types.insert(item.csv_type);
    }
    // AND the part spans every sheet of the dialect
    for ty in [
        CsvType::ContentTypes,
        CsvType::Vocabularies,
        CsvType::ParagraphTypes,
        CsvType::BlockTypes,
        CsvType::Fields,
        CsvType::Views,
        CsvType::Menus,
        CsvType::ImageStyles,
        CsvType::Workflows,
        CsvType::Roles,
    ] {
        assert!(types.contains(&ty), "{ty} missing from the Spec Tool copy");
    }
    // AND a bundle's fields are all there: same field count per bundle as the canonical set
    let count = |items: &[dtg_core::ConfigItem], bundle: &str| {
        items.iter().filter(|i| matches!(&i.data, ItemData::Field(f) if f.entity_type == "node" && f.bundle == bundle)).count()
    };
    assert_eq!(
        count(&spec.items, "event"),
        count(&canonical.items, "event")
    );
}

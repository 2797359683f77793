//! The build plan honours Drupal's own dependencies and is deterministic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};

use dtg_core::plan::{Granularity, Graph, PlanSettings, plan};

use common::{drupal, oracle, sample, validate_dir};

fn reachability(p: &dtg_core::plan::Plan) -> (HashMap<&str, usize>, Graph) {
    let index: HashMap<&str, usize> = p
        .tickets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut g = Graph::new(p.tickets.len());
    for d in &p.dependencies {
        g.add(index[d.from.as_str()], index[d.to.as_str()]);
    }
    (index, g)
}

/// Checks that every dependency Drupal declares between the items of a
/// `reference/drupal` folder is a dependency of the plan, directly or through
/// other tickets, at both granularities, and that the order honours them.
fn assert_oracle_honoured(folder: &str, min_checked: usize) {
    let report = validate_dir(&drupal(folder));
    assert!(!report.has_errors(), "{folder}: {:#?}", report.findings);
    let oracle = oracle(folder);
    for granularity in [Granularity::PerBundle, Granularity::PerField] {
        let p = plan(&report.items, &PlanSettings { granularity }).unwrap();
        let ticket_of: HashMap<&str, &str> = p
            .tickets
            .iter()
            .flat_map(|t| t.items.iter().map(move |i| (i.as_str(), t.id.as_str())))
            .collect();
        let (index, g) = reachability(&p);
        let mut checked = 0;
        let mut missed = Vec::new();
        for edge in oracle["edges"].as_array().unwrap() {
            let (from, to) = (edge["from"].as_str().unwrap(), edge["to"].as_str().unwrap());
            let (a, b) = (ticket_of[from], ticket_of[to]);
            if a == b {
                continue;
            }
            checked += 1;
            if !g.reaches(index[a], index[b]) {
                missed.push(format!("{from} -> {to} ({a} does not depend on {b})"));
            }
        }
        assert!(
            checked >= min_checked,
            "{folder}: {checked} cross-ticket edges checked"
        );
        assert!(
            missed.is_empty(),
            "{folder} {granularity:?}: {} of {checked} missed: {missed:#?}",
            missed.len()
        );
        // AND every module Drupal declares an item needs (a role's among them,
        // from the modules that provide its permissions) is built first
        for edge in oracle["module_edges"].as_array().unwrap() {
            let from = edge["from"].as_str().unwrap();
            let module = format!("module.{}", edge["module"].as_str().unwrap());
            let (a, b) = (ticket_of[from], ticket_of[module.as_str()]);
            assert!(
                a == b || g.reaches(index[a], index[b]),
                "{folder} {granularity:?}: {from} needs {module}"
            );
        }
        // AND the order puts every needed ticket first
        let position: HashMap<&str, usize> = p
            .order
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        for d in &p.dependencies {
            assert!(
                position[d.to.as_str()] < position[d.from.as_str()],
                "{} before {}",
                d.to,
                d.from
            );
        }
    }
}

#[test]
fn every_oracle_dependency_of_drupal_standard_is_honoured() {
    assert_oracle_honoured("drupal_standard", 12);
}

#[test]
fn every_oracle_dependency_of_a_drupal_site_export_is_honoured() {
    // GIVEN a standard site's configuration as Drupal writes it
    assert_oracle_honoured("drupal_standard_site", 12);
    let report = validate_dir(&drupal("drupal_standard_site"));
    let p = plan(&report.items, &PlanSettings::default()).unwrap();

    // THEN its views, with paths as Drupal writes them, are planned with their
    // canonical paths: both page displays of the comment view, and the
    // taxonomy term page with its placeholder
    let ticket = |key: &str| {
        p.tickets
            .iter()
            .find(|t| t.items.iter().any(|i| i == key))
            .unwrap_or_else(|| panic!("no ticket holds {key}"))
    };
    for (key, path, displays) in [
        (
            "views.view.frontpage",
            "/node",
            "<code>feed</code>, <code>page</code>",
        ),
        (
            "views.view.comment",
            "/admin/content/comment",
            "<code>page</code>, <code>page</code>",
        ),
        (
            "views.view.files",
            "/admin/content/files",
            "<code>page</code>, <code>page</code>",
        ),
        (
            "views.view.taxonomy_term",
            "/taxonomy/term/%",
            "<code>feed</code>, <code>page</code>",
        ),
    ] {
        let t = ticket(key);
        assert!(t.title.starts_with("Build view: "), "{key}");
        assert!(
            t.description_html.contains(&format!("<code>{path}</code>")),
            "{key}: {}",
            t.description_html
        );
        assert!(
            t.description_html.contains(displays),
            "{key}: {}",
            t.description_html
        );
    }
    let views: Vec<_> = report
        .items
        .iter()
        .filter(|i| i.key.starts_with("views.view."))
        .collect();
    assert_eq!(views.len(), 11);
    assert!(views.iter().all(|v| match &v.data {
        dtg_core::ItemData::View(v) => v.path.as_deref().is_none_or(|p| p.starts_with('/')),
        _ => false,
    }));
}

#[test]
fn uwec_plan_covers_every_item_once_with_stable_ids() {
    let report = validate_dir(&sample("uwec_complete"));
    let settings = PlanSettings::default();
    let p = plan(&report.items, &settings).unwrap();

    // Every item in exactly one ticket.
    let mut seen = BTreeSet::new();
    for t in &p.tickets {
        for i in &t.items {
            assert!(seen.insert(i.clone()), "{i} in two tickets");
        }
    }
    let all: BTreeSet<String> = report.items.iter().map(|i| i.key.clone()).collect();
    assert_eq!(seen, all);

    // Planning twice gives the same plan.
    assert_eq!(plan(&report.items, &settings).unwrap(), p);
    // And the same ids when items come in another order.
    let mut reversed = report.items.clone();
    reversed.reverse();
    let q = plan(&reversed, &settings).unwrap();
    let ids = |p: &dtg_core::plan::Plan| {
        p.tickets
            .iter()
            .map(|t| t.id.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(ids(&q), ids(&p));
    assert_eq!(
        q.order, p.order,
        "order depends only on the graph, area and title"
    );

    // Titles as a tech lead writes them.
    let titles: BTreeSet<&str> = p.tickets.iter().map(|t| t.title.as_str()).collect();
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Create content type: "))
    );
    assert!(
        titles
            .iter()
            .any(|t| t.starts_with("Add fields to Event (")),
        "{titles:#?}"
    );
    assert!(titles.iter().any(|t| t.starts_with("Build view: ")));

    // No transitive duplicates among the exported dependencies.
    let (index, g) = reachability(&p);
    for d in &p.dependencies {
        let (a, b) = (index[d.from.as_str()], index[d.to.as_str()]);
        let mut without = g.clone();
        without.needs[a].remove(&b);
        assert!(
            !without.reaches(a, b),
            "{} -> {} is implied by other links",
            d.from,
            d.to
        );
        assert!(!d.because.is_empty());
    }
    // Every ticket belongs to an epic of the plan.
    let epics: BTreeSet<&str> = p.epics.iter().map(|e| e.id.as_str()).collect();
    assert!(p.tickets.iter().all(|t| epics.contains(t.epic.as_str())));
}

#[test]
fn per_field_makes_one_ticket_per_field() {
    let report = validate_dir(&sample("uwec_complete"));
    let p = plan(
        &report.items,
        &PlanSettings {
            granularity: Granularity::PerField,
        },
    )
    .unwrap();
    let fields = report
        .items
        .iter()
        .filter(|i| i.key.starts_with("field.field."))
        .count();
    assert_eq!(
        p.tickets
            .iter()
            .filter(|t| t.id.starts_with("field-"))
            .count(),
        fields
    );
}

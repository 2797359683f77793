//! Every description of a real plan is valid ADF for Atlassian's schema and
//! validator, within Jira's limit; the Jira CSV and Markdown renderings carry
//! the hierarchy, the links in the right direction and the descriptions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adf_common;
mod common;

use std::collections::HashMap;

use dtg_core::adf::{JIRA_DESCRIPTION_LIMIT, html_to_adf, json_len};
use dtg_core::plan::{Granularity, PlanSettings, plan, render};

fn uwec_plan(granularity: Granularity) -> dtg_core::plan::Plan {
    let report = common::validate_dir(&common::sample("uwec_complete"));
    plan(&report.items, &PlanSettings { granularity }).unwrap()
}

#[test]
fn every_ticket_and_epic_description_is_valid_adf() {
    let mut docs = Vec::new();
    for granularity in [Granularity::PerBundle, Granularity::PerField] {
        let p = uwec_plan(granularity);
        for t in &p.tickets {
            assert!(
                json_len(&t.description_adf) <= JIRA_DESCRIPTION_LIMIT,
                "{}",
                t.id
            );
            assert!(
                !t.description_adf.content.is_empty(),
                "{} has an empty description",
                t.id
            );
            let value = serde_json::to_value(&t.description_adf).unwrap();
            let errors = adf_common::schema_errors(&value);
            assert!(errors.is_empty(), "{}: {errors:?}", t.id);
            docs.push(value);
        }
        for e in &p.epics {
            docs.push(serde_json::to_value(html_to_adf(&e.description_html)).unwrap());
        }
    }
    let node = adf_common::run_node_validator(&docs);
    assert_eq!(
        node.status,
        Some(0),
        "{} of {} fail Atlassian's validator: {}",
        node.failed.len(),
        docs.len(),
        node.report
    );
    assert!(node.failed.is_empty());
}

#[test]
fn jira_csv_has_hierarchy_links_and_epics_first() {
    let p = uwec_plan(Granularity::PerBundle);
    let out = render::jira_csv(&p, "plan.json").unwrap();
    assert!(out.shortened.is_empty());
    let mut reader = csv::ReaderBuilder::new().from_reader(out.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    for column in [
        "Issue ID",
        "Parent",
        "Summary",
        "Issue Type",
        "Priority",
        "Labels",
        "Description",
        "Inward issue link (Blocks)",
    ] {
        assert!(header.iter().any(|h| h == column), "no {column} column");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), p.epics.len() + p.tickets.len());

    // Epics first, then tickets in build order.
    let types: Vec<&str> = rows.iter().map(|r| &r[col("Issue Type")]).collect();
    let first_ticket = types.iter().position(|t| *t != "Epic").unwrap();
    assert_eq!(first_ticket, p.epics.len());
    assert!(types[first_ticket..].iter().all(|t| *t != "Epic"));

    // Parents are epics' Issue IDs; every ticket has one.
    let by_id: HashMap<&str, &csv::StringRecord> =
        rows.iter().map(|r| (&r[col("Issue ID")], r)).collect();
    for r in &rows[first_ticket..] {
        let parent = by_id[&r[col("Parent")]];
        assert_eq!(&parent[col("Issue Type")], "Epic");
    }

    // "A blocks B": B's row names A as an inward Blocks link; A comes earlier.
    let id_of: HashMap<&str, &str> = rows
        .iter()
        .map(|r| (&r[col("Summary")], &r[col("Issue ID")]))
        .collect();
    let links: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| *h == "Inward issue link (Blocks)")
        .map(|(i, _)| i)
        .collect();
    let mut count = 0;
    for d in &p.dependencies {
        let from = id_of[p.ticket(&d.from).unwrap().title.as_str()];
        let to = id_of[p.ticket(&d.to).unwrap().title.as_str()];
        let row = by_id[from];
        assert!(
            links.iter().any(|&i| &row[i] == to),
            "{} should be blocked by {}",
            d.from,
            d.to
        );
        assert!(to.parse::<usize>().unwrap() < from.parse::<usize>().unwrap());
        count += 1;
    }
    assert_eq!(count, p.dependencies.len());
    let total_links: usize = rows
        .iter()
        .map(|r| links.iter().filter(|&&i| !r[i].is_empty()).count())
        .sum();
    assert_eq!(
        total_links,
        p.dependencies.len(),
        "no link that the plan does not have"
    );

    // Descriptions are wiki markup with the field table.
    let event = rows
        .iter()
        .find(|r| &r[col("Summary")] == "Add fields to Event (19)")
        .unwrap();
    let description = &event[col("Description")];
    assert!(description.contains("h2. Fields"), "{description}");
    assert!(
        description.contains("||Label||Machine name||Type||"),
        "{description}"
    );
    assert!(
        description.contains("{{field_event_date}}"),
        "{description}"
    );
}

#[test]
fn markdown_backlog_reads_in_build_order() {
    let p = uwec_plan(Granularity::PerBundle);
    let md = render::markdown(&p);
    let position = |title: &str| {
        md.find(&format!(". {title}\n"))
            .unwrap_or_else(|| panic!("{title} missing"))
    };
    assert!(position("Create content type: Event") < position("Add fields to Event (19)"));
    assert!(position("Create vocabulary: Department") < position("Add fields to Event (19)"));
    assert!(md.contains(
        "| Label | Machine name | Type | Required | Cardinality | Target / values | Help text |"
    ));
    assert!(md.contains("- [ ] "), "acceptance criteria as a checklist");
    assert_eq!(md.matches("\n### ").count(), p.tickets.len());
}

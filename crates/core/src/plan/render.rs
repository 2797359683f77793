//! The plan in the formats people use: a Markdown backlog to read, and a CSV
//! file that Jira's own importer accepts (hierarchy and links included), for
//! teams with no API access.

use std::fmt::Write as _;

use crate::adf::{Block, Document, adf_to_markdown, adf_to_wiki};

use super::{Plan, Ticket};

/// Jira's limit on a description, in characters.
const DESCRIPTION_LIMIT: usize = crate::adf::JIRA_DESCRIPTION_LIMIT;

/// The ticket's ADF with headings moved down `by` levels (for nesting under a title).
fn demoted(doc: &Document, by: u8) -> Document {
    let mut doc = doc.clone();
    for block in &mut doc.content {
        if let Block::Heading { attrs, .. } = block {
            attrs.level = (attrs.level + by).min(6);
        }
    }
    doc
}

/// A readable backlog: epics, then every ticket in build order with its description.
#[must_use]
pub fn markdown(plan: &Plan) -> String {
    let points: u32 = plan.tickets.iter().map(|t| t.estimate).sum();
    let mut out = String::new();
    let _ = writeln!(out, "# Build plan\n");
    let _ = writeln!(
        out,
        "{} tickets in {} epics, {points} story points, granularity {}. Build them in the order \
         below: every ticket comes after the tickets it needs.\n",
        plan.tickets.len(),
        plan.epics.len(),
        match plan.granularity {
            super::Granularity::PerBundle => "per bundle",
            super::Granularity::PerField => "per field",
        }
    );
    let _ = writeln!(
        out,
        "## Epics\n\n| Epic | Tickets | Story points |\n|---|---|---|"
    );
    for e in &plan.epics {
        let pts: u32 = plan
            .tickets
            .iter()
            .filter(|t| t.epic == e.id)
            .map(|t| t.estimate)
            .sum();
        let _ = writeln!(out, "| {} | {} | {pts} |", e.title, e.tickets.len());
    }
    let _ = writeln!(out, "\n## Tickets in build order\n");
    let title_of = |id: &str| plan.ticket(id).map_or(id.to_owned(), |t| t.title.clone());
    for (n, t) in plan.tickets.iter().enumerate() {
        let needs: Vec<String> = plan
            .dependencies
            .iter()
            .filter(|d| d.from == t.id)
            .map(|d| format!("{} (`{}`)", title_of(&d.to), d.to))
            .collect();
        let epic = plan
            .epics
            .iter()
            .find(|e| e.id == t.epic)
            .map_or("", |e| e.title.as_str());
        let _ = writeln!(out, "### {}. {}\n", n + 1, t.title);
        let _ = writeln!(
            out,
            "`{}` · {} · {epic} · priority {} · {} point{} · labels {}  ",
            t.id,
            t.issue_type.as_str(),
            t.priority.as_str(),
            t.estimate,
            if t.estimate == 1 { "" } else { "s" },
            t.labels.join(", ")
        );
        let _ = writeln!(
            out,
            "Needs: {}\n",
            if needs.is_empty() {
                "nothing".to_owned()
            } else {
                needs.join("; ")
            }
        );
        out.push_str(&adf_to_markdown(&demoted(&t.description_adf, 2)));
        out.push('\n');
    }
    out
}

/// A description in wiki markup that fits Jira's limit; a longer one keeps
/// its first whole blocks and says where the rest is.
fn wiki_description(t: &Ticket, plan_file: &str) -> (String, bool) {
    let full = adf_to_wiki(&t.description_adf);
    if full.chars().count() <= DESCRIPTION_LIMIT {
        return (full, false);
    }
    let notice = format!(
        "\n(The description continues in {plan_file}, ticket {}: the full text did not fit Jira's limit.)\n",
        t.id
    );
    let budget = DESCRIPTION_LIMIT - notice.chars().count();
    let mut kept = Document::new(Vec::new());
    for block in &t.description_adf.content {
        kept.content.push(block.clone());
        if adf_to_wiki(&kept).chars().count() > budget {
            kept.content.pop();
            break;
        }
    }
    (adf_to_wiki(&kept) + &notice, true)
}

/// What the Jira CSV of a plan holds, and which descriptions did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraCsv {
    /// The file's text (UTF-8, comma-separated, RFC 4180 quoting).
    pub text: String,
    /// Ticket ids whose description was shortened, with a note saying where the rest is.
    pub shortened: Vec<String>,
}

/// A file for Jira's CSV importer: `Issue ID`, `Parent` (the epic's Issue ID),
/// `Summary`, `Issue Type`, `Priority`, `Labels` (one column each), `Story
/// Points`, `Description` (wiki markup) and `Inward issue link (Blocks)` (one
/// column per ticket needed first). Epics come first.
///
/// # Errors
/// Only if the CSV writer fails, which it does not for in-memory text.
pub fn jira_csv(plan: &Plan, plan_file: &str) -> Result<JiraCsv, csv::Error> {
    let max_labels = plan
        .tickets
        .iter()
        .map(|t| t.labels.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let max_links = plan
        .tickets
        .iter()
        .map(|t| plan.dependencies.iter().filter(|d| d.from == t.id).count())
        .max()
        .unwrap_or(0);
    let mut header = vec![
        "Issue ID".to_owned(),
        "Parent".to_owned(),
        "Summary".to_owned(),
        "Issue Type".to_owned(),
        "Priority".to_owned(),
    ];
    header.extend(std::iter::repeat_n("Labels".to_owned(), max_labels));
    header.push("Story Points".to_owned());
    header.push("Description".to_owned());
    header.extend(std::iter::repeat_n(
        "Inward issue link (Blocks)".to_owned(),
        max_links,
    ));

    let number: std::collections::HashMap<&str, usize> = plan
        .epics
        .iter()
        .map(|e| e.id.as_str())
        .chain(plan.tickets.iter().map(|t| t.id.as_str()))
        .enumerate()
        .map(|(i, id)| (id, i + 1))
        .collect();
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    writer.write_record(&header)?;
    for e in &plan.epics {
        let mut row = vec![
            number[e.id.as_str()].to_string(),
            String::new(),
            e.title.clone(),
            "Epic".to_owned(),
            "Medium".to_owned(),
        ];
        row.extend(std::iter::repeat_n(String::new(), max_labels));
        row.push(String::new());
        row.push(adf_to_wiki(&crate::adf::html_to_adf(&e.description_html)));
        row.extend(std::iter::repeat_n(String::new(), max_links));
        writer.write_record(&row)?;
    }
    let mut shortened = Vec::new();
    for t in &plan.tickets {
        let (description, cut) = wiki_description(t, plan_file);
        if cut {
            shortened.push(t.id.clone());
        }
        let mut row = vec![
            number[t.id.as_str()].to_string(),
            number
                .get(t.epic.as_str())
                .map(ToString::to_string)
                .unwrap_or_default(),
            t.title.clone(),
            t.issue_type.as_str().to_owned(),
            t.priority.as_str().to_owned(),
        ];
        let mut labels = t.labels.clone();
        labels.resize(max_labels, String::new());
        row.extend(labels);
        row.push(t.estimate.to_string());
        row.push(description);
        let mut links: Vec<String> = plan
            .dependencies
            .iter()
            .filter(|d| d.from == t.id)
            .filter_map(|d| number.get(d.to.as_str()).map(ToString::to_string))
            .collect();
        links.resize(max_links, String::new());
        row.extend(links);
        writer.write_record(&row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(JiraCsv {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        shortened,
    })
}

//! Ticket prose written elsewhere (by a language model, for instance) merged
//! into a plan without giving it any say over the plan itself.
//!
//! The planner owns the facts: ids, items, dependencies, order, epics, types,
//! priorities, estimates, the tables of what to create, the configuration
//! steps and the config names to export. Prose owns the wording: the summary,
//! an overview, implementation notes, acceptance criteria, risks and notes.
//! [`apply`] rebuilds one ticket's description from both, through the same
//! sanitiser and ADF converter as the planner's own text, and [`merge`] does
//! it for a whole plan while keeping everything else as it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::writer::{escape, fit_title, strip_tags};
use super::{Attachment, Plan, Ticket};
use crate::adf::{JIRA_DESCRIPTION_LIMIT, fit_description, html_to_adf, sanitize};

/// The wording of one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TicketProse {
    /// One-line summary (the Jira summary; cut to 255 characters).
    pub summary: String,
    /// What the ticket is for and why, as limited HTML.
    pub overview_html: String,
    /// Implementation notes specific to the fields and modules involved, as limited HTML.
    pub implementation_html: String,
    /// Acceptance criteria, plain text, one check each.
    pub acceptance_criteria: Vec<String>,
    /// Risks and pitfalls, plain text.
    pub risks: Vec<String>,
    /// Anything else a developer should know, plain text (may be empty).
    pub notes: String,
}

/// Headings of the planner's description that prose replaces.
const REPLACED_SECTIONS: [&str; 2] = ["Context", "Acceptance criteria"];

/// Heading of the planner's section kept at the very end.
const CONFIG_SECTION: &str = "Config to export";

/// The planner's description cut at its `<h2>` headings: (heading, whole section HTML).
fn sections(html: &str) -> Vec<(String, &str)> {
    let mut starts: Vec<usize> = html.match_indices("<h2>").map(|(i, _)| i).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(html.len());
        let section = &html[start..end];
        let heading = section
            .strip_prefix("<h2>")
            .and_then(|rest| rest.split_once("</h2>"))
            .map(|(h, _)| h.to_owned())
            .unwrap_or_default();
        if !section.is_empty() {
            out.push((heading, section));
        }
    }
    out
}

/// Sanitised HTML, or `None` when nothing visible is left.
fn clean_block(html: &str) -> Option<String> {
    let clean = sanitize(html);
    let visible = strip_tags(&clean);
    (!visible.trim().is_empty()).then_some(clean)
}

/// Plain text with no tags and collapsed white space.
fn plain(text: &str) -> String {
    strip_tags(&sanitize(text))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `prose` has every field a ticket needs (a summary, an overview and
/// at least one acceptance criterion with visible text once sanitised).
#[must_use]
pub fn is_complete(prose: &TicketProse) -> bool {
    !plain(&prose.summary).is_empty()
        && clean_block(&prose.overview_html).is_some()
        && prose
            .acceptance_criteria
            .iter()
            .any(|c| !plain(c).is_empty())
}

/// The ticket with its wording replaced by `prose`; every planner-owned field
/// (id, type, epic, area, labels, priority, estimate, items, config names) and
/// every factual section of the description is kept. A field of `prose` that
/// is empty once sanitised keeps the planner's version.
#[must_use]
pub fn apply(ticket: &Ticket, prose: &TicketProse) -> Ticket {
    let planner = sections(&ticket.description_html);
    let summary = plain(&prose.summary);
    let criteria: Vec<String> = prose
        .acceptance_criteria
        .iter()
        .map(|c| plain(c))
        .filter(|c| !c.is_empty())
        .collect();

    let mut html = String::new();
    match clean_block(&prose.overview_html) {
        Some(overview) => {
            let _ = write!(html, "<h2>Summary</h2>{overview}");
        }
        None => {
            if let Some((_, s)) = planner.iter().find(|(h, _)| h == "Context") {
                html.push_str(s);
            }
        }
    }
    for (heading, section) in &planner {
        if !REPLACED_SECTIONS.contains(&heading.as_str()) && heading != CONFIG_SECTION {
            html.push_str(section);
        }
    }
    if let Some(notes) = clean_block(&prose.implementation_html) {
        let _ = write!(html, "<h2>Implementation notes</h2>{notes}");
    }
    if criteria.is_empty() {
        if let Some((_, s)) = planner.iter().find(|(h, _)| h == "Acceptance criteria") {
            html.push_str(s);
        }
    } else {
        html.push_str("<h2>Acceptance criteria</h2><ul data-type=\"taskList\">");
        for c in &criteria {
            let _ = write!(html, "<li><input type=\"checkbox\"> {}</li>", escape(c));
        }
        html.push_str("</ul>");
    }
    let risks: Vec<String> = prose
        .risks
        .iter()
        .map(|r| plain(r))
        .filter(|r| !r.is_empty())
        .collect();
    if !risks.is_empty() {
        html.push_str("<h2>Risks</h2><ul>");
        for r in &risks {
            let _ = write!(html, "<li>{}</li>", escape(r));
        }
        html.push_str("</ul>");
    }
    let notes = plain(&prose.notes);
    if !notes.is_empty() {
        let _ = write!(html, "<h2>Notes</h2><p>{}</p>", escape(&notes));
    }
    if let Some((_, s)) = planner.iter().find(|(h, _)| h == CONFIG_SECTION) {
        html.push_str(s);
    }
    let html = sanitize(&html);

    let fitted = fit_description(html_to_adf(&html), JIRA_DESCRIPTION_LIMIT);
    let attachments = fitted
        .overflow
        .map(|o| Attachment {
            file_name: o.file_name,
            content: o.content,
        })
        .into_iter()
        .collect();
    Ticket {
        title: if summary.is_empty() {
            ticket.title.clone()
        } else {
            fit_title(summary)
        },
        description_html: html,
        description_adf: fitted.description,
        attachments,
        acceptance_criteria: if criteria.is_empty() {
            ticket.acceptance_criteria.clone()
        } else {
            criteria
        },
        ..ticket.clone()
    }
}

/// The plan with the prose of the tickets named in `prose` applied; tickets
/// not named keep the planner's text. Ids, items, dependencies, order and
/// epics are the plan's, whatever `prose` holds; prose for an id the plan
/// does not have is ignored.
#[must_use]
pub fn merge(plan: &Plan, prose: &BTreeMap<String, TicketProse>) -> Plan {
    let tickets = plan
        .tickets
        .iter()
        .map(|t| match prose.get(&t.id) {
            Some(p) => apply(t, p),
            None => t.clone(),
        })
        .collect();
    Plan {
        tickets,
        ..plan.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_at_headings() {
        let s = sections("<h2>Context</h2><p>a</p><h2>Settings</h2><table></table>");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "Context");
        assert_eq!(s[1].1, "<h2>Settings</h2><table></table>");
    }

    #[test]
    fn complete_prose_needs_visible_text() {
        let mut p = TicketProse {
            summary: "Build it".into(),
            overview_html: "<p>Why</p>".into(),
            acceptance_criteria: vec!["It works".into()],
            ..TicketProse::default()
        };
        assert!(is_complete(&p));
        p.overview_html = "<script>x</script>".into();
        assert!(!is_complete(&p));
    }
}

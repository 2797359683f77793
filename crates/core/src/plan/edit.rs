//! Review edits: what a person may change in a planned ticket, and the
//! plan-level edits (dependencies added or removed, tickets deleted or
//! merged) that keep the plan whole.
//!
//! Every function here is pure and returns a new value; nothing is changed in
//! place. A ticket's description goes through the planner's own pipeline
//! (sanitiser, HTML to ADF, the fitter and its overflow attachment), after
//! cheap size and nesting checks that refuse a hostile document before any
//! parser sees it. A plan-level edit recomputes the build order with the
//! previous order as the tie-break, so an edit moves as few tickets as it can,
//! keeps every epic's ticket list in build order, and keeps the dependencies
//! sorted. Every refusal is an [`EditError`] that says what is wrong, in which
//! field, and how to put it right, with a stable [`EditError::code`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize};

use super::writer::{SUMMARY_LIMIT, escape, strip_tags};
use super::{Attachment, Cycle, Dependency, Epic, Graph, IssueType, Plan, Priority, Ticket};
use crate::adf::{Document, JIRA_DESCRIPTION_LIMIT, fit_description, html_to_adf, sanitize};

/// The most story points a ticket may carry.
pub const MAX_ESTIMATE: u32 = 100;

/// The longest Jira label, in characters.
pub const LABEL_LIMIT: usize = 255;

/// The longest assignee or sprint reference, in characters.
pub const REFERENCE_LIMIT: usize = 255;

/// The longest acceptance criterion, in characters.
pub const CRITERION_LIMIT: usize = 2_000;

/// The most labels, and the most acceptance criteria, a ticket may have.
pub const LIST_LIMIT: usize = 100;

/// Why the dependencies a review adds are there.
pub const ADDED_IN_REVIEW: &str = "added in review";

/// Changes to one ticket; a field left out (`None`) stays as it is.
///
/// `assignee` and `sprint` take three forms: left out keeps the value, `null`
/// (`Some(None)`) unsets it, a string sets it (an empty one unsets it too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketEdit {
    /// New summary: one line, 1 to 255 characters once trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description as HTML (sanitised and converted as the planner's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_html: Option<String>,
    /// New issue type (`Story` or `Task`).
    #[serde(default, rename = "type", alias = "issue_type")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<IssueType>,
    /// New priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// New labels (no white space in any; duplicates dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// New estimate in story points (0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<u32>,
    /// New epic: the id of one of the plan's epics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epic: Option<String>,
    /// New acceptance criteria, plain text; the description's checklist follows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance_criteria: Option<Vec<String>>,
    /// New assignee (`null` unsets it).
    #[serde(
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub assignee: Option<Option<String>>,
    /// New sprint (`null` unsets it).
    #[serde(
        default,
        deserialize_with = "some",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub sprint: Option<Option<String>>,
}

/// A field that is present, even as `null`, is `Some`.
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// How much HTML an edit may carry, checked before any parser runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditLimits {
    /// The largest description, in bytes of HTML.
    pub max_html_bytes: usize,
    /// The deepest element nesting.
    pub max_depth: usize,
}

impl Default for EditLimits {
    fn default() -> Self {
        Self {
            max_html_bytes: 256 * 1024,
            max_depth: 64,
        }
    }
}

/// Why an edit is refused. Each message says what is wrong, where, and how to
/// fix it; [`EditError::code`] names the case for programs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The title is empty once trimmed.
    #[error("title: the title is empty; write a one-line summary of the work")]
    EmptyTitle,
    /// A one-line field (title, assignee, sprint) has a line break or another control character.
    #[error("{field}: the value must be one line; remove the line breaks and control characters")]
    NotOneLine {
        /// The field.
        field: &'static str,
    },
    /// The title is longer than Jira's summary limit.
    #[error(
        "title: the title has {length} characters, Jira takes at most {limit}; shorten it and put the detail in the description"
    )]
    TitleTooLong {
        /// Its length in characters.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// The description's HTML is over the size limit.
    #[error(
        "description_html: the description is {bytes} bytes of HTML, at most {limit} are taken; shorten it or attach the long parts as a file"
    )]
    HtmlTooLarge {
        /// Its size in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The description's elements nest deeper than the limit.
    #[error(
        "description_html: elements are nested more than {limit} deep; flatten the nesting (close the tags that are left open)"
    )]
    HtmlTooDeep {
        /// The deepest nesting taken.
        limit: usize,
    },
    /// A label is empty.
    #[error("labels: label {position} is empty; remove it or give it a name")]
    EmptyLabel {
        /// Its position (1-based).
        position: usize,
    },
    /// A label contains white space, which Jira does not allow.
    #[error(
        "labels: the label '{label}' contains white space, which Jira labels cannot; join the words with '-' or '_'"
    )]
    LabelWithWhitespace {
        /// The label.
        label: String,
    },
    /// A label is longer than Jira allows.
    #[error("labels: the label '{label}' is longer than {limit} characters; shorten it")]
    LabelTooLong {
        /// The label.
        label: String,
        /// The limit.
        limit: usize,
    },
    /// A text field is longer than it may be.
    #[error("{field}: the value has {length} characters, at most {limit} are taken; shorten it")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length in characters.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A list field has too many entries.
    #[error("{field}: {count} entries, at most {limit} are taken; remove some")]
    TooMany {
        /// The field.
        field: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The estimate is out of range.
    #[error("estimate: {value} story points is out of range; give 0 to {max}")]
    EstimateOutOfRange {
        /// The value given.
        value: u32,
        /// The largest allowed.
        max: u32,
    },
    /// The epic is not one of the plan's.
    #[error("epic: '{epic}' is not an epic of this plan; use one of: {}", .known.join(", "))]
    UnknownEpic {
        /// The id given.
        epic: String,
        /// The plan's epic ids.
        known: Vec<String>,
    },
    /// A ticket cannot become an epic.
    #[error(
        "type: a ticket cannot be an Epic (the plan's epics are its areas); use Story or Task, and the epic field to move it"
    )]
    TicketAsEpic,
    /// A ticket id the plan does not have.
    #[error("{field}: there is no ticket '{id}' in the plan; reload the plan and pick one it has")]
    UnknownTicket {
        /// Which argument named it.
        field: &'static str,
        /// The id given.
        id: String,
    },
    /// A ticket cannot need itself.
    #[error("to: ticket '{id}' cannot depend on itself; pick another ticket")]
    SelfDependency {
        /// The ticket.
        id: String,
    },
    /// A ticket cannot be merged into itself.
    #[error("absorb: ticket '{id}' cannot be merged into itself; pick another ticket to merge")]
    MergeIntoItself {
        /// The ticket.
        id: String,
    },
    /// The edit would make tickets need each other in a circle.
    #[error("{0}; this change would close the circle, so it was not made")]
    Cycle(Cycle),
}

impl EditError {
    /// A stable name for the case, for programs and the HTTP API.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::EmptyTitle => "title_empty",
            Self::NotOneLine { .. } => "not_one_line",
            Self::TitleTooLong { .. } => "title_too_long",
            Self::HtmlTooLarge { .. } => "html_too_large",
            Self::HtmlTooDeep { .. } => "html_too_deep",
            Self::EmptyLabel { .. } => "label_empty",
            Self::LabelWithWhitespace { .. } => "label_has_whitespace",
            Self::LabelTooLong { .. } => "label_too_long",
            Self::TooLong { .. } => "value_too_long",
            Self::TooMany { .. } => "too_many_values",
            Self::EstimateOutOfRange { .. } => "estimate_out_of_range",
            Self::UnknownEpic { .. } => "unknown_epic",
            Self::TicketAsEpic => "ticket_as_epic",
            Self::UnknownTicket { .. } => "unknown_ticket",
            Self::SelfDependency { .. } => "self_dependency",
            Self::MergeIntoItself { .. } => "merge_into_itself",
            Self::Cycle(_) => "dependency_cycle",
        }
    }

    /// The field (or argument) the error is about.
    #[must_use]
    pub const fn field(&self) -> &'static str {
        match self {
            Self::EmptyTitle | Self::TitleTooLong { .. } => "title",
            Self::HtmlTooLarge { .. } | Self::HtmlTooDeep { .. } => "description_html",
            Self::EmptyLabel { .. }
            | Self::LabelWithWhitespace { .. }
            | Self::LabelTooLong { .. } => "labels",
            Self::NotOneLine { field }
            | Self::TooLong { field, .. }
            | Self::TooMany { field, .. }
            | Self::UnknownTicket { field, .. } => field,
            Self::EstimateOutOfRange { .. } => "estimate",
            Self::UnknownEpic { .. } => "epic",
            Self::TicketAsEpic => "type",
            Self::SelfDependency { .. } | Self::Cycle(_) => "to",
            Self::MergeIntoItself { .. } => "absorb",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTML limits
// ---------------------------------------------------------------------------------------------

/// Elements that never have content (no end tag).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// Elements a following sibling of the same name closes (`<li>a<li>b`).
const SELF_CLOSING_SIBLINGS: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot",
];

/// Elements whose text is raw (no tags inside until their end tag).
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp", "plaintext"];

/// Checks a description's size and nesting depth with a cheap scan of its
/// tags, before any parser sees it.
///
/// # Errors
/// [`EditError::HtmlTooLarge`] over `max_html_bytes`; [`EditError::HtmlTooDeep`]
/// when elements nest deeper than `max_depth`.
pub fn check_html(html: &str, limits: &EditLimits) -> Result<(), EditError> {
    if html.len() > limits.max_html_bytes {
        return Err(EditError::HtmlTooLarge {
            bytes: html.len(),
            limit: limits.max_html_bytes,
        });
    }
    if html_depth(html, limits.max_depth) > limits.max_depth {
        return Err(EditError::HtmlTooDeep {
            limit: limits.max_depth,
        });
    }
    Ok(())
}

/// The deepest element nesting of `html`, found by scanning its tags (end
/// tags close up to their element, void elements and `/>` open nothing, a
/// `<li>` closes an open `<li>` before it). The scan stops as soon as the
/// depth passes `stop_above`, so its cost is bounded by the input's length
/// and its memory by `stop_above`.
#[must_use]
pub fn html_depth(html: &str, stop_above: usize) -> usize {
    let bytes = html.as_bytes();
    let mut open: Vec<String> = Vec::new();
    let mut deepest = 0;
    let mut i = 0;
    while let Some(at) = find_byte(bytes, i, b'<') {
        i = at + 1;
        if bytes[i..].starts_with(b"!--") {
            i = find_seq(bytes, i + 3, b"-->").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        let closing = bytes.get(i) == Some(&b'/');
        let name_start = if closing { i + 1 } else { i };
        let name_end = bytes[name_start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b':'))
            .map_or(bytes.len(), |p| name_start + p);
        let Some(first) = bytes.get(name_start) else {
            break;
        };
        if !first.is_ascii_alphabetic() {
            // `<!doctype>`, `<?xml>` or a lone `<`: not an element.
            if matches!(first, b'!' | b'?') {
                i = tag_end(bytes, name_start).0;
            }
            continue;
        }
        let name = String::from_utf8_lossy(&bytes[name_start..name_end]).to_ascii_lowercase();
        let (end, self_closed) = tag_end(bytes, name_end);
        i = end;
        if closing {
            if let Some(pos) = open.iter().rposition(|o| *o == name) {
                open.truncate(pos);
            }
            continue;
        }
        if VOID.contains(&name.as_str()) || self_closed {
            continue;
        }
        if SELF_CLOSING_SIBLINGS.contains(&name.as_str()) && open.last() == Some(&name) {
            open.pop();
        }
        if RAW_TEXT.contains(&name.as_str()) {
            // Its text holds no elements: skip to its end tag.
            let close = format!("</{name}");
            i = find_ascii_ci(bytes, i, close.as_bytes()).unwrap_or(bytes.len());
            deepest = deepest.max(open.len() + 1);
            if deepest > stop_above {
                return deepest;
            }
            continue;
        }
        open.push(name);
        deepest = deepest.max(open.len());
        if deepest > stop_above {
            return deepest;
        }
    }
    deepest
}

fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|p| from + p)
}

fn find_seq(bytes: &[u8], from: usize, seq: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(seq.len())
        .position(|w| w == seq)
        .map(|p| from + p)
}

fn find_ascii_ci(bytes: &[u8], from: usize, seq: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(seq.len())
        .position(|w| w.eq_ignore_ascii_case(seq))
        .map(|p| from + p)
}

/// Where a tag that continues at `from` ends (just past its `>`, quotes
/// respected), and whether it ends with `/>`.
fn tag_end(bytes: &[u8], from: usize) -> (usize, bool) {
    let mut quote: Option<u8> = None;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return (i + 1, i > from && bytes[i - 1] == b'/'),
            None => {}
        }
        i += 1;
    }
    (bytes.len(), false)
}

// ---------------------------------------------------------------------------------------------
// One ticket
// ---------------------------------------------------------------------------------------------

/// A description through the planner's pipeline: sanitised HTML, its ADF
/// within Jira's limit, and the overflow attachment when it did not fit.
fn describe(html: &str) -> (String, Document, Vec<Attachment>) {
    let html = sanitize(html);
    let fitted = fit_description(html_to_adf(&html), JIRA_DESCRIPTION_LIMIT);
    let attachments = fitted
        .overflow
        .map(|o| Attachment {
            file_name: o.file_name,
            content: o.content,
        })
        .into_iter()
        .collect();
    (html, fitted.description, attachments)
}

/// The heading of the description's checklist section.
const CRITERIA_HEADING: &str = "Acceptance criteria";

/// `html` with its `<h2>Acceptance criteria</h2>` section replaced by a
/// checklist of `criteria` (appended when it has none; removed when
/// `criteria` is empty).
fn with_criteria(html: &str, criteria: &[String]) -> String {
    let mut list = String::new();
    if !criteria.is_empty() {
        let _ = write!(
            list,
            "<h2>{CRITERIA_HEADING}</h2><ul data-type=\"taskList\">"
        );
        for c in criteria {
            let _ = write!(list, "<li><input type=\"checkbox\"> {}</li>", escape(c));
        }
        list.push_str("</ul>");
    }
    let lower = html.to_ascii_lowercase();
    let heading = format!("<h2>{}</h2>", CRITERIA_HEADING.to_ascii_lowercase());
    match lower.find(&heading) {
        Some(start) => {
            let after = start + heading.len();
            let end = lower[after..].find("<h2").map_or(html.len(), |p| after + p);
            format!("{}{list}{}", &html[..start], &html[end..])
        }
        None => format!("{html}{list}"),
    }
}

fn check_title(title: &str) -> Result<String, EditError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(EditError::EmptyTitle);
    }
    if title.chars().any(char::is_control) {
        return Err(EditError::NotOneLine { field: "title" });
    }
    let length = title.chars().count();
    if length > SUMMARY_LIMIT {
        return Err(EditError::TitleTooLong {
            length,
            limit: SUMMARY_LIMIT,
        });
    }
    Ok(title.to_owned())
}

fn check_labels(labels: &[String]) -> Result<Vec<String>, EditError> {
    if labels.len() > LIST_LIMIT {
        return Err(EditError::TooMany {
            field: "labels",
            count: labels.len(),
            limit: LIST_LIMIT,
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for (n, label) in labels.iter().enumerate() {
        let label = label.trim();
        if label.is_empty() {
            return Err(EditError::EmptyLabel { position: n + 1 });
        }
        if label.chars().any(char::is_whitespace) {
            return Err(EditError::LabelWithWhitespace {
                label: label.to_owned(),
            });
        }
        if label.chars().count() > LABEL_LIMIT {
            return Err(EditError::LabelTooLong {
                label: label.to_owned(),
                limit: LABEL_LIMIT,
            });
        }
        if !out.iter().any(|l| l == label) {
            out.push(label.to_owned());
        }
    }
    Ok(out)
}

fn check_criteria(criteria: &[String]) -> Result<Vec<String>, EditError> {
    if criteria.len() > LIST_LIMIT {
        return Err(EditError::TooMany {
            field: "acceptance_criteria",
            count: criteria.len(),
            limit: LIST_LIMIT,
        });
    }
    let mut out = Vec::with_capacity(criteria.len());
    for c in criteria {
        let c = c.split_whitespace().collect::<Vec<_>>().join(" ");
        let length = c.chars().count();
        if length > CRITERION_LIMIT {
            return Err(EditError::TooLong {
                field: "acceptance_criteria",
                length,
                limit: CRITERION_LIMIT,
            });
        }
        if !c.is_empty() {
            out.push(c);
        }
    }
    Ok(out)
}

fn check_reference(
    field: &'static str,
    value: Option<&Option<String>>,
    current: &Option<String>,
) -> Result<Option<String>, EditError> {
    match value {
        None => Ok(current.clone()),
        Some(None) => Ok(None),
        Some(Some(v)) => {
            let v = v.trim();
            if v.chars().any(char::is_control) {
                return Err(EditError::NotOneLine { field });
            }
            let length = v.chars().count();
            if length > REFERENCE_LIMIT {
                return Err(EditError::TooLong {
                    field,
                    length,
                    limit: REFERENCE_LIMIT,
                });
            }
            Ok((!v.is_empty()).then(|| v.to_owned()))
        }
    }
}

/// The ticket with `edit` applied, every field checked. The description (or
/// the checklist section in it, when only the acceptance criteria change)
/// goes through the planner's sanitiser, converter and fitter. A new epic
/// must be one of `epics` (the ticket's own is always accepted); moving a
/// ticket to another epic moves it to that epic's area and swaps the area's
/// label, unless the edit sets the labels itself.
///
/// # Errors
/// An [`EditError`] for the first field that is refused; nothing is applied.
pub fn apply_edit(
    ticket: &Ticket,
    edit: &TicketEdit,
    epics: &[Epic],
    limits: &EditLimits,
) -> Result<Ticket, EditError> {
    if let Some(html) = &edit.description_html {
        check_html(html, limits)?;
    }
    let mut out = ticket.clone();
    if let Some(title) = &edit.title {
        out.title = check_title(title)?;
    }
    if let Some(issue_type) = edit.issue_type {
        if issue_type == IssueType::Epic {
            return Err(EditError::TicketAsEpic);
        }
        out.issue_type = issue_type;
    }
    if let Some(priority) = edit.priority {
        out.priority = priority;
    }
    if let Some(estimate) = edit.estimate {
        if estimate > MAX_ESTIMATE {
            return Err(EditError::EstimateOutOfRange {
                value: estimate,
                max: MAX_ESTIMATE,
            });
        }
        out.estimate = estimate;
    }
    if let Some(epic) = &edit.epic {
        let epic = epic.trim();
        if epic != ticket.epic {
            let Some(found) = epics.iter().find(|e| e.id == epic) else {
                return Err(EditError::UnknownEpic {
                    epic: epic.to_owned(),
                    known: epics.iter().map(|e| e.id.clone()).collect(),
                });
            };
            out.epic = found.id.clone();
            if found.area != ticket.area {
                let (old, new) = (ticket.area.slug(), found.area.slug());
                for label in &mut out.labels {
                    if label == old {
                        new.clone_into(label);
                    }
                }
                let mut seen = BTreeSet::new();
                out.labels.retain(|l| seen.insert(l.clone()));
                out.area = found.area;
            }
        }
    }
    if let Some(labels) = &edit.labels {
        out.labels = check_labels(labels)?;
    }
    out.assignee = check_reference("assignee", edit.assignee.as_ref(), &ticket.assignee)?;
    out.sprint = check_reference("sprint", edit.sprint.as_ref(), &ticket.sprint)?;
    if let Some(criteria) = &edit.acceptance_criteria {
        out.acceptance_criteria = check_criteria(criteria)?;
    }

    let criteria_changed = out.acceptance_criteria != ticket.acceptance_criteria;
    if edit.description_html.is_some() || criteria_changed {
        let html = edit
            .description_html
            .as_deref()
            .unwrap_or(&ticket.description_html);
        let html = if criteria_changed {
            with_criteria(&sanitize(html), &out.acceptance_criteria)
        } else {
            html.to_owned()
        };
        let (html, adf, attachments) = describe(&html);
        out.description_html = html;
        out.description_adf = adf;
        out.attachments = attachments;
    }
    Ok(out)
}

/// The names of the fields that differ between two versions of a ticket.
#[must_use]
pub fn changed_fields(before: &Ticket, after: &Ticket) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name, changed: bool| {
        if changed {
            out.push(name);
        }
    };
    check("title", before.title != after.title);
    check(
        "description_html",
        before.description_html != after.description_html,
    );
    check("type", before.issue_type != after.issue_type);
    check("priority", before.priority != after.priority);
    check("labels", before.labels != after.labels);
    check("estimate", before.estimate != after.estimate);
    check("epic", before.epic != after.epic);
    check(
        "acceptance_criteria",
        before.acceptance_criteria != after.acceptance_criteria,
    );
    check("assignee", before.assignee != after.assignee);
    check("sprint", before.sprint != after.sprint);
    check("items", before.items != after.items);
    check("config_names", before.config_names != after.config_names);
    out
}

// ---------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------

/// Edges of a plan: (from, to) to reasons.
type Edges = BTreeMap<(String, String), Vec<String>>;

fn edges(plan: &Plan) -> Edges {
    plan.dependencies
        .iter()
        .map(|d| ((d.from.clone(), d.to.clone()), d.because.clone()))
        .collect()
}

fn known<'p>(plan: &'p Plan, field: &'static str, id: &str) -> Result<&'p Ticket, EditError> {
    plan.ticket(id).ok_or_else(|| EditError::UnknownTicket {
        field,
        id: id.to_owned(),
    })
}

/// The plan made of `tickets` and `edges`: the build order recomputed with
/// the previous order as the tie-break, the graph transitively reduced when
/// `reduce` is set, tickets in build order, epics' lists in build order (an
/// epic left with no ticket is dropped, as the planner drops it), the
/// dependencies sorted.
fn rebuild(
    plan: &Plan,
    tickets: Vec<Ticket>,
    edges: Edges,
    reduce: bool,
) -> Result<Plan, EditError> {
    let previous: HashMap<&str, usize> = plan
        .order
        .iter()
        .enumerate()
        .map(|(p, id)| (id.as_str(), p))
        .collect();
    let index: HashMap<&str, usize> = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut graph = Graph::new(tickets.len());
    for (from, to) in edges.keys() {
        if let (Some(&a), Some(&b)) = (index.get(from.as_str()), index.get(to.as_str())) {
            graph.add(a, b);
        }
    }
    let order = graph
        .order(
            |i| {
                (
                    previous
                        .get(tickets[i].id.as_str())
                        .copied()
                        .unwrap_or(usize::MAX),
                    tickets[i].id.clone(),
                )
            },
            |i| format!("{} ({})", tickets[i].title, tickets[i].id),
        )
        .map_err(EditError::Cycle)?;
    let kept = if reduce { graph.reduced(&order) } else { graph };
    let dependencies: Vec<Dependency> = edges
        .into_iter()
        .filter_map(|((from, to), because)| {
            let (&a, &b) = (index.get(from.as_str())?, index.get(to.as_str())?);
            kept.needs[a]
                .contains(&b)
                .then_some(Dependency { from, to, because })
        })
        .collect();
    let mut slots: Vec<Option<Ticket>> = tickets.into_iter().map(Some).collect();
    let tickets: Vec<Ticket> = order.iter().filter_map(|&i| slots[i].take()).collect();
    let epics = plan
        .epics
        .iter()
        .filter_map(|e| {
            let ids: Vec<String> = tickets
                .iter()
                .filter(|t| t.epic == e.id)
                .map(|t| t.id.clone())
                .collect();
            (!ids.is_empty()).then(|| epic_with(e, ids, &tickets))
        })
        .collect();
    let mut dependencies = dependencies;
    dependencies.sort();
    Ok(Plan {
        granularity: plan.granularity,
        epics,
        order: tickets.iter().map(|t| t.id.clone()).collect(),
        tickets,
        dependencies,
    })
}

/// `epic` with its ticket list replaced and its summary line recounted.
fn epic_with(epic: &Epic, ids: Vec<String>, tickets: &[Ticket]) -> Epic {
    let points: u32 = tickets
        .iter()
        .filter(|t| t.epic == epic.id)
        .map(|t| t.estimate)
        .sum();
    Epic {
        description_html: format!(
            "<p>Every ticket of the {} area of the site build: {} ticket{}, {points} story points in all.</p>",
            escape(&epic.title),
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
        ),
        tickets: ids,
        ..epic.clone()
    }
}

/// The plan with `ticket` in place of the ticket of the same id (epics'
/// lists and counts follow a move to another epic).
///
/// # Errors
/// [`EditError::UnknownTicket`] when the plan has no ticket of that id.
pub fn replace_ticket(plan: &Plan, ticket: Ticket) -> Result<Plan, EditError> {
    known(plan, "id", &ticket.id)?;
    let tickets = plan
        .tickets
        .iter()
        .map(|t| {
            if t.id == ticket.id {
                ticket.clone()
            } else {
                t.clone()
            }
        })
        .collect();
    rebuild(plan, tickets, edges(plan), false)
}

/// The plan with `from` needing `to`. An edge already there changes nothing.
///
/// # Errors
/// [`EditError::UnknownTicket`], [`EditError::SelfDependency`], or
/// [`EditError::Cycle`] naming the circle the edge would close.
pub fn add_dependency(plan: &Plan, from: &str, to: &str) -> Result<Plan, EditError> {
    known(plan, "from", from)?;
    known(plan, "to", to)?;
    if from == to {
        return Err(EditError::SelfDependency {
            id: from.to_owned(),
        });
    }
    let mut edges = edges(plan);
    edges
        .entry((from.to_owned(), to.to_owned()))
        .or_insert_with(|| vec![ADDED_IN_REVIEW.to_owned()]);
    rebuild(plan, plan.tickets.clone(), edges, false)
}

/// The plan without `from` needing `to` (directly). An edge not there changes nothing.
///
/// # Errors
/// [`EditError::UnknownTicket`].
pub fn remove_dependency(plan: &Plan, from: &str, to: &str) -> Result<Plan, EditError> {
    known(plan, "from", from)?;
    known(plan, "to", to)?;
    let mut edges = edges(plan);
    edges.remove(&(from.to_owned(), to.to_owned()));
    rebuild(plan, plan.tickets.clone(), edges, false)
}

/// The plan without ticket `id`: the tickets that needed it now need what it
/// needed (so the build order holds), and implied edges are dropped.
///
/// # Errors
/// [`EditError::UnknownTicket`].
pub fn remove_ticket(plan: &Plan, id: &str) -> Result<Plan, EditError> {
    let removed = known(plan, "id", id)?;
    let mut edges = edges(plan);
    let needs: Vec<String> = edges
        .keys()
        .filter(|(f, _)| f == id)
        .map(|(_, t)| t.clone())
        .collect();
    let needed_by: Vec<String> = edges
        .keys()
        .filter(|(_, t)| t == id)
        .map(|(f, _)| f.clone())
        .collect();
    edges.retain(|(f, t), _| f != id && t != id);
    for a in &needed_by {
        for b in &needs {
            edges.entry((a.clone(), b.clone())).or_insert_with(|| {
                vec![format!(
                    "through {} ({id}), deleted in review",
                    removed.title
                )]
            });
        }
    }
    let tickets = plan
        .tickets
        .iter()
        .filter(|t| t.id != id)
        .cloned()
        .collect();
    rebuild(plan, tickets, edges, true)
}

/// Appends the entries of `more` not already in `list`, in order.
fn union(list: &mut Vec<String>, more: &[String]) {
    let mut seen: BTreeSet<String> = list.iter().cloned().collect();
    for m in more {
        if seen.insert(m.clone()) {
            list.push(m.clone());
        }
    }
}

/// The plan with ticket `absorb` merged into `keep`: items, config names and
/// labels joined (order kept), acceptance criteria concatenated without
/// duplicates, estimates summed (at most [`MAX_ESTIMATE`]), the higher
/// priority, `keep`'s description followed by a `Merged from` heading and the
/// absorbed description (through the planner's pipeline, its overflow
/// attachment included), and every dependency of `absorb` moved to `keep`
/// (edges between the two dropped, implied ones reduced). `keep`'s title,
/// type and epic stay; its assignee and sprint too, or `absorb`'s when unset.
///
/// # Errors
/// [`EditError::UnknownTicket`], [`EditError::MergeIntoItself`], or
/// [`EditError::Cycle`] when a path through other tickets joins the two.
pub fn merge_tickets(plan: &Plan, keep: &str, absorb: &str) -> Result<Plan, EditError> {
    let kept = known(plan, "keep", keep)?;
    let absorbed = known(plan, "absorb", absorb)?;
    if keep == absorb {
        return Err(EditError::MergeIntoItself {
            id: keep.to_owned(),
        });
    }
    let mut merged = kept.clone();
    union(&mut merged.items, &absorbed.items);
    union(&mut merged.config_names, &absorbed.config_names);
    union(&mut merged.labels, &absorbed.labels);
    union(
        &mut merged.acceptance_criteria,
        &absorbed.acceptance_criteria,
    );
    merged.estimate = kept
        .estimate
        .saturating_add(absorbed.estimate)
        .min(MAX_ESTIMATE);
    merged.priority = kept.priority.min(absorbed.priority);
    if merged.assignee.is_none() {
        merged.assignee.clone_from(&absorbed.assignee);
    }
    if merged.sprint.is_none() {
        merged.sprint.clone_from(&absorbed.sprint);
    }
    let html = format!(
        "{}<h3>Merged from: {}</h3>{}",
        kept.description_html,
        escape(&absorbed.title),
        absorbed.description_html
    );
    let (html, adf, attachments) = describe(&html);
    merged.description_html = html;
    merged.description_adf = adf;
    merged.attachments = attachments;

    let mut rewired: Edges = BTreeMap::new();
    for ((from, to), because) in edges(plan) {
        let from = if from == absorb {
            keep.to_owned()
        } else {
            from
        };
        let to = if to == absorb { keep.to_owned() } else { to };
        if from == to {
            continue;
        }
        let reasons = rewired.entry((from, to)).or_default();
        union(reasons, &because);
    }
    for reasons in rewired.values_mut() {
        reasons.sort();
    }
    let tickets = plan
        .tickets
        .iter()
        .filter(|t| t.id != absorb)
        .map(|t| {
            if t.id == keep {
                merged.clone()
            } else {
                t.clone()
            }
        })
        .collect();
    rebuild(plan, tickets, rewired, true)
}

/// Plain text of a ticket's description (tags dropped), for searching.
#[must_use]
pub fn description_text(ticket: &Ticket) -> String {
    strip_tags(&ticket.description_html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_open_elements_only() {
        assert_eq!(html_depth("<p>a</p><p>b</p>", 64), 1);
        assert_eq!(html_depth("<ul><li>a<li>b<li>c</ul>", 64), 2);
        assert_eq!(html_depth("<div><br><img src='x>y'/><input></div>", 64), 1);
        assert_eq!(html_depth("<!-- <div><div> --><b>x</b>", 64), 1);
        assert_eq!(html_depth("<script>if (a<b) { x<c }</script>", 64), 1);
        assert_eq!(html_depth("a < b and c<3", 64), 0);
        assert_eq!(html_depth(&"<div>".repeat(1000), 64), 65);
    }

    #[test]
    fn criteria_section_is_replaced_or_appended() {
        let html = "<h2>Context</h2><p>x</p><h2>Acceptance criteria</h2><ul><li>old</li></ul><h2>Config to export</h2>";
        let out = with_criteria(html, &["new <one>".to_owned()]);
        assert!(out.contains("new &lt;one&gt;") && !out.contains("old"));
        assert!(out.ends_with("<h2>Config to export</h2>"));
        let out = with_criteria("<p>x</p>", &["a".to_owned()]);
        assert!(out.starts_with("<p>x</p><h2>Acceptance criteria</h2>"));
    }
}

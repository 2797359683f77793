//! Prompts: versioned templates kept as files (`prompts/v1/`), one guidance
//! text per CSV type, filled with the site context (its modules and the
//! bundles the chunk touches) and the planner's tickets.
//!
//! What is sent about the site is exactly what [`ticket_brief`] and
//! [`SiteContext`] put in: labels, machine names, descriptions and notes from
//! the spreadsheets, item settings, dependencies between tickets, and the
//! names of modules and bundles. File names and line numbers are not sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use dtg_core::ItemData;
use dtg_core::csv::CsvType;
use dtg_core::item::ConfigItem;
use dtg_core::plan::prose::TicketProse;
use dtg_core::plan::writer::escape;
use dtg_core::plan::{Plan, Ticket};
use serde_json::{Value, json};

/// The version of the prompt templates; recorded with every generation.
pub const PROMPT_VERSION: &str = "v1";

/// The system prompt (the same for every chunk).
pub const SYSTEM: &str = include_str!("../prompts/v1/system.md");

const USER: &str = include_str!("../prompts/v1/user.md");

/// The guidance text for tickets of a CSV type.
#[must_use]
pub fn guidance(csv_type: Option<CsvType>) -> &'static str {
    match csv_type {
        Some(CsvType::ContentTypes) => include_str!("../prompts/v1/content_types.md"),
        Some(CsvType::Fields) => include_str!("../prompts/v1/fields.md"),
        Some(CsvType::Vocabularies) => include_str!("../prompts/v1/vocabularies.md"),
        Some(CsvType::Views) => include_str!("../prompts/v1/views.md"),
        Some(CsvType::Menus) => include_str!("../prompts/v1/menus.md"),
        Some(CsvType::MenuLinks) => include_str!("../prompts/v1/menu_links.md"),
        Some(CsvType::Roles) => include_str!("../prompts/v1/roles.md"),
        Some(CsvType::MediaTypes) => include_str!("../prompts/v1/media_types.md"),
        Some(CsvType::ParagraphTypes) => include_str!("../prompts/v1/paragraph_types.md"),
        Some(CsvType::BlockTypes) => include_str!("../prompts/v1/block_types.md"),
        Some(CsvType::ImageStyles) => include_str!("../prompts/v1/image_styles.md"),
        Some(CsvType::Workflows) => include_str!("../prompts/v1/workflows.md"),
        Some(CsvType::UrlPatterns) => include_str!("../prompts/v1/url_patterns.md"),
        Some(CsvType::Modules) => include_str!("../prompts/v1/modules.md"),
        None => "Write each ticket for the Drupal configuration it covers.",
    }
}

/// What the prompts may say about the site as a whole.
#[derive(Debug, Clone, Default)]
pub struct SiteContext<'a> {
    items: HashMap<&'a str, &'a ConfigItem>,
    modules: Vec<String>,
    bundle_labels: BTreeMap<(String, String), String>,
    titles: HashMap<&'a str, &'a str>,
    needs: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> SiteContext<'a> {
    /// The context of a plan made from `items`.
    #[must_use]
    pub fn new(plan: &'a Plan, items: &'a [ConfigItem]) -> Self {
        let mut modules: Vec<String> = items
            .iter()
            .filter_map(|i| match &i.data {
                ItemData::Module(m) => Some(m.machine_name.clone()),
                _ => None,
            })
            .collect();
        modules.sort();
        modules.dedup();
        let bundle_labels = items
            .iter()
            .filter_map(|i| {
                i.defines_bundle()
                    .map(|b| ((b.entity_type, b.bundle), i.label.clone()))
            })
            .collect();
        let mut needs: HashMap<&str, Vec<&str>> = HashMap::new();
        for d in &plan.dependencies {
            needs
                .entry(d.from.as_str())
                .or_default()
                .push(d.to.as_str());
        }
        Self {
            items: items.iter().map(|i| (i.key.as_str(), i)).collect(),
            modules,
            bundle_labels,
            titles: plan
                .tickets
                .iter()
                .map(|t| (t.id.as_str(), t.title.as_str()))
                .collect(),
            needs,
        }
    }

    /// The CSV type a ticket's first item came from.
    #[must_use]
    pub fn csv_type(&self, ticket: &Ticket) -> Option<CsvType> {
        ticket
            .items
            .first()
            .and_then(|k| self.items.get(k.as_str()))
            .map(|i| i.csv_type)
    }

    /// The bundles a set of tickets touches: those their items define, hold
    /// fields of, or reference.
    fn related_bundles(&self, tickets: &[&Ticket]) -> Vec<String> {
        let mut found: BTreeSet<(String, String)> = BTreeSet::new();
        for key in tickets.iter().flat_map(|t| t.items.iter()) {
            let Some(item) = self.items.get(key.as_str()) else {
                continue;
            };
            if let Some(b) = item.defines_bundle() {
                found.insert((b.entity_type, b.bundle));
            }
            if let ItemData::Field(f) = &item.data {
                found.insert((f.entity_type.clone(), f.bundle.clone()));
                if let Some(target) = &f.target_type {
                    for b in &f.target_bundles {
                        found.insert((target.clone(), b.clone()));
                    }
                }
            }
        }
        found
            .into_iter()
            .map(
                |(e, b)| match self.bundle_labels.get(&(e.clone(), b.clone())) {
                    Some(label) => format!("{e}.{b} ({label})"),
                    None => format!("{e}.{b}"),
                },
            )
            .collect()
    }

    /// The JSON brief of one ticket, as the model sees it.
    #[must_use]
    pub fn ticket_brief(&self, ticket: &Ticket) -> Value {
        let items: Vec<Value> = ticket
            .items
            .iter()
            .filter_map(|k| self.items.get(k.as_str()))
            .map(|i| {
                let mut v = json!({
                    "key": i.key,
                    "type": i.csv_type.as_str(),
                    "label": i.label,
                    "settings": i.data,
                });
                if let Some(d) = &i.description {
                    v["description"] = json!(d);
                }
                if let Some(n) = &i.notes {
                    v["notes"] = json!(n);
                }
                v
            })
            .collect();
        let depends_on: Vec<Value> = self
            .needs
            .get(ticket.id.as_str())
            .map(|ids| {
                ids.iter()
                    .map(|id| json!({ "id": id, "title": self.titles.get(id).copied().unwrap_or(id) }))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "id": ticket.id,
            "title": ticket.title,
            "issue_type": ticket.issue_type.as_str(),
            "area": ticket.area.slug(),
            "items": items,
            "depends_on": depends_on,
            "planner_acceptance_criteria": ticket.acceptance_criteria,
            "config_names": ticket.config_names,
        })
    }

    /// The user prompt for a chunk of tickets of one CSV type.
    #[must_use]
    pub fn user_prompt(&self, csv_type: Option<CsvType>, tickets: &[&Ticket]) -> String {
        let briefs: Vec<Value> = tickets.iter().map(|t| self.ticket_brief(t)).collect();
        let tickets_json =
            serde_json::to_string_pretty(&json!({ "tickets": briefs })).unwrap_or_default();
        let list = |v: &[String]| {
            if v.is_empty() {
                "none listed".to_owned()
            } else {
                v.join(", ")
            }
        };
        USER.replace("{{csv_type}}", csv_type.map_or("general", CsvType::as_str))
            .replace("{{prompt_version}}", PROMPT_VERSION)
            .replace("{{guidance}}", guidance(csv_type).trim())
            .replace("{{modules}}", &list(&self.modules))
            .replace("{{bundles}}", &list(&self.related_bundles(tickets)))
            .replace("{{count}}", &tickets.len().to_string())
            .replace("{{tickets}}", &tickets_json)
    }
}

/// Estimated tokens of a text (four characters a token, rounded up).
#[must_use]
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// The planner's own wording of a ticket, in prose form.
#[must_use]
pub fn planner_prose(ticket: &Ticket) -> TicketProse {
    let mut overview = String::new();
    let _ = write!(overview, "<p>{}</p>", escape(&ticket.title));
    TicketProse {
        summary: ticket.title.clone(),
        overview_html: overview,
        implementation_html: String::new(),
        acceptance_criteria: ticket.acceptance_criteria.clone(),
        risks: Vec::new(),
        notes: String::new(),
    }
}

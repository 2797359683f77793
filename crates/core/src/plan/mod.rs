//! The build plan: config items grouped into tickets, tickets into epics,
//! dependencies lifted from items to tickets, and one deterministic order.
//!
//! Planning is deterministic: the same items give the same tickets, ids and
//! order every time. Which tickets exist and in which order is decided here,
//! never by a model; the ticket writer ([`writer`]) only words them.

pub mod deps;
pub mod edit;
pub mod graph;
pub mod prose;
pub mod render;
pub mod writer;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::item::{ConfigItem, ItemData};

pub use deps::{ItemDependency, item_dependencies};
pub use edit::{EditError, EditLimits, TicketEdit, apply_edit};
pub use graph::{Cycle, Graph};

/// How finely items are split into tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One ticket per bundle-like item, and one "Add fields to <bundle>" per bundle.
    #[default]
    PerBundle,
    /// As `per_bundle`, but one ticket per field.
    PerField,
}

impl std::str::FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "per_bundle" | "per-bundle" => Ok(Self::PerBundle),
            "per_field" | "per-field" => Ok(Self::PerField),
            other => Err(format!(
                "unknown granularity '{other}': use per_bundle or per_field"
            )),
        }
    }
}

/// The areas a site build is organised in; one epic each. The order is the
/// tie-break of the build order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Modules and platform set-up.
    Platform,
    /// Vocabularies and their fields.
    Taxonomy,
    /// Media types, image styles and media fields.
    Media,
    /// Content types, paragraph types, block types and their fields.
    ContentModel,
    /// Roles, permissions and user fields.
    Users,
    /// Editorial workflows.
    Workflow,
    /// Views.
    Views,
    /// Menus, links and URL aliases.
    Navigation,
}

impl Area {
    /// Every area, in order.
    pub const ALL: [Area; 8] = [
        Self::Platform,
        Self::Taxonomy,
        Self::Media,
        Self::ContentModel,
        Self::Users,
        Self::Workflow,
        Self::Views,
        Self::Navigation,
    ];

    /// The epic's title.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Platform => "Platform and modules",
            Self::Taxonomy => "Taxonomy",
            Self::Media => "Media",
            Self::ContentModel => "Content model",
            Self::Users => "Users and permissions",
            Self::Workflow => "Editorial workflow",
            Self::Views => "Views and listings",
            Self::Navigation => "Navigation",
        }
    }

    /// A label-safe slug (`content-model`).
    #[must_use]
    pub const fn slug(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Taxonomy => "taxonomy",
            Self::Media => "media",
            Self::ContentModel => "content-model",
            Self::Users => "users",
            Self::Workflow => "workflow",
            Self::Views => "views",
            Self::Navigation => "navigation",
        }
    }

    /// The epic's ticket id.
    #[must_use]
    pub fn epic_id(self) -> String {
        format!("epic-{}", self.slug())
    }
}

/// Jira issue types the plan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IssueType {
    /// An area of work.
    Epic,
    /// Something an editor or visitor sees.
    Story,
    /// Configuration work behind the scenes.
    Task,
}

impl IssueType {
    /// The Jira name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Epic => "Epic",
            Self::Story => "Story",
            Self::Task => "Task",
        }
    }
}

/// Jira's default priorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    /// Blocks a large part of the build.
    Highest,
    /// Blocks several tickets.
    High,
    /// Blocks at least one ticket.
    Medium,
    /// Blocks nothing.
    Low,
}

impl Priority {
    /// The Jira name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Highest => "Highest",
            Self::High => "High",
            Self::Medium => "Medium",
            Self::Low => "Low",
        }
    }

    /// The priority of a ticket that `dependents` tickets need, directly or not.
    #[must_use]
    pub const fn from_dependents(dependents: usize) -> Self {
        match dependents {
            10.. => Self::Highest,
            4.. => Self::High,
            1.. => Self::Medium,
            0 => Self::Low,
        }
    }
}

/// One ticket of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ticket {
    /// Stable id, derived from the items (`content-type-event`, `fields-node-event`).
    pub id: String,
    /// One-line summary (at most 255 characters).
    pub title: String,
    /// Jira issue type.
    #[serde(rename = "type")]
    pub issue_type: IssueType,
    /// The epic's id.
    pub epic: String,
    /// The area.
    pub area: Area,
    /// Jira labels.
    pub labels: Vec<String>,
    /// Priority, from how much of the plan needs this ticket.
    pub priority: Priority,
    /// Story points, from the documented heuristic (`writer::estimate`).
    pub estimate: u32,
    /// Config names of the items it covers.
    pub items: Vec<String>,
    /// The description, as sanitised HTML.
    pub description_html: String,
    /// The description in Atlassian Document Format, within Jira's size limit.
    /// Its schema is Atlassian's (`@atlaskit/adf-schema`): a JSON object here.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub description_adf: crate::adf::Document,
    /// Files to attach: the full description when it is over Jira's limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Acceptance criteria (also in the description, as a checklist).
    pub acceptance_criteria: Vec<String>,
    /// Config names that must exist on the site once the ticket is done.
    pub config_names: Vec<String>,
    /// Who the ticket goes to in Jira (account id, email or display name),
    /// set in review; the export's own assignee applies when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub assignee: Option<String>,
    /// The sprint it goes into (id or name), set in review; the export's own
    /// sprint applies when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub sprint: Option<String>,
}

/// A file to attach to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// File name.
    pub file_name: String,
    /// Its text.
    pub content: String,
}

/// One epic of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Epic {
    /// Stable id (`epic-content-model`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Area.
    pub area: Area,
    /// Description as HTML.
    pub description_html: String,
    /// Ids of its tickets, in build order.
    pub tickets: Vec<String>,
}

/// `from` needs `to`: a ticket dependency, with the item dependencies behind it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dependency {
    /// The ticket that needs the other.
    pub from: String,
    /// The ticket needed first.
    pub to: String,
    /// Item-level reasons (`field.field.node.event.field_tags needs taxonomy.vocabulary.tags`).
    pub because: Vec<String>,
}

/// Settings of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanSettings {
    /// Ticket granularity.
    pub granularity: Granularity,
}

/// The build plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    /// Granularity it was made with.
    pub granularity: Granularity,
    /// Epics, in area order (only areas with tickets).
    pub epics: Vec<Epic>,
    /// Tickets, in build order.
    pub tickets: Vec<Ticket>,
    /// Direct ticket dependencies (implied ones left out).
    pub dependencies: Vec<Dependency>,
    /// Ticket ids in build order (what is needed first).
    pub order: Vec<String>,
}

impl Plan {
    /// A ticket by id.
    #[must_use]
    pub fn ticket(&self, id: &str) -> Option<&Ticket> {
        self.tickets.iter().find(|t| t.id == id)
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Tickets depend on each other in a circle.
    #[error("{0}; remove one of the references that close the circle")]
    Cycle(#[from] Cycle),
}

/// Which ticket an item belongs to: (id, kind of group).
fn group_of(item: &ConfigItem, granularity: Granularity) -> (String, Group) {
    match &item.data {
        ItemData::ContentType(t) => (format!("content-type-{}", t.machine_name), Group::Single),
        ItemData::Vocabulary(v) => (format!("vocabulary-{}", v.machine_name), Group::Single),
        ItemData::MediaType(m) => (format!("media-type-{}", m.machine_name), Group::Single),
        ItemData::ParagraphType(p) => (format!("paragraph-type-{}", p.machine_name), Group::Single),
        ItemData::BlockType(b) => (format!("block-type-{}", b.machine_name), Group::Single),
        ItemData::View(v) => (format!("view-{}", v.machine_name), Group::Single),
        ItemData::Role(r) => (format!("role-{}", r.machine_name), Group::Single),
        ItemData::ImageStyle(s) => (format!("image-style-{}", s.machine_name), Group::Single),
        ItemData::Workflow(w) => (format!("workflow-{}", w.machine_name), Group::Single),
        ItemData::Menu(m) => (
            format!("menu-{}", m.machine_name),
            Group::Menu(m.machine_name.clone()),
        ),
        ItemData::MenuLink(l) => (format!("menu-{}", l.menu), Group::Menu(l.menu.clone())),
        ItemData::Field(f) => match granularity {
            Granularity::PerBundle => (
                format!("fields-{}-{}", f.entity_type, f.bundle),
                Group::Fields(f.entity_type.clone(), f.bundle.clone()),
            ),
            Granularity::PerField => (
                format!("field-{}-{}-{}", f.entity_type, f.bundle, f.field_name),
                Group::Single,
            ),
        },
        ItemData::UrlPattern(_) => ("url-aliases".to_owned(), Group::UrlPatterns),
        ItemData::Module(m) => match m.project_type.as_deref() {
            Some("custom") => (format!("module-{}", m.machine_name), Group::Single),
            Some("core") => ("modules-core".to_owned(), Group::Modules),
            Some("contrib") => ("modules-contrib".to_owned(), Group::Modules),
            _ => ("modules-other".to_owned(), Group::Modules),
        },
    }
}

/// What kind of ticket a group of items makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Group {
    Single,
    Fields(String, String),
    Menu(String),
    UrlPatterns,
    Modules,
}

/// The area of an item.
#[must_use]
pub fn area_of(item: &ConfigItem) -> Area {
    match &item.data {
        ItemData::ContentType(_) | ItemData::ParagraphType(_) | ItemData::BlockType(_) => {
            Area::ContentModel
        }
        ItemData::Vocabulary(_) => Area::Taxonomy,
        ItemData::MediaType(_) | ItemData::ImageStyle(_) => Area::Media,
        ItemData::View(_) => Area::Views,
        ItemData::Menu(_) | ItemData::MenuLink(_) | ItemData::UrlPattern(_) => Area::Navigation,
        ItemData::Role(_) => Area::Users,
        ItemData::Workflow(_) => Area::Workflow,
        ItemData::Module(_) => Area::Platform,
        ItemData::Field(f) => match f.entity_type.as_str() {
            "taxonomy_term" => Area::Taxonomy,
            "media" => Area::Media,
            "user" => Area::Users,
            _ => Area::ContentModel,
        },
    }
}

/// Plans tickets for validated items.
///
/// # Errors
/// [`PlanError::Cycle`] when the tickets' dependencies form a circle.
pub fn plan(items: &[ConfigItem], settings: &PlanSettings) -> Result<Plan, PlanError> {
    // Group items into tickets, keeping first-seen order for stability.
    let mut ticket_of: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut groups: Vec<(String, Group, Vec<&ConfigItem>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in items {
        let (id, group) = group_of(item, settings.granularity);
        let i = *index.entry(id.clone()).or_insert_with(|| {
            groups.push((id, group, Vec::new()));
            groups.len() - 1
        });
        groups[i].2.push(item);
        ticket_of.insert(&item.key, i);
    }
    let bundles: HashMap<(String, String), &ConfigItem> = items
        .iter()
        .filter_map(|i| i.defines_bundle().map(|b| ((b.entity_type, b.bundle), i)))
        .collect();

    // Lift item dependencies to tickets.
    let item_deps = item_dependencies(items);
    let mut graph = Graph::new(groups.len());
    let mut because: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for d in &item_deps {
        if let (Some(&a), Some(&b)) = (ticket_of.get(d.from.as_str()), ticket_of.get(d.to.as_str()))
            && a != b
        {
            graph.add(a, b);
            because
                .entry((a, b))
                .or_default()
                .push(format!("{} needs {} ({})", d.from, d.to, d.reason));
        }
    }

    let drafts: Vec<writer::Draft> = groups
        .iter()
        .map(|(id, group, members)| writer::draft(id, group, members, &bundles))
        .collect();
    let order = graph.order(
        |i| {
            (
                drafts[i].area,
                drafts[i].rank,
                drafts[i].title.clone(),
                drafts[i].id.clone(),
            )
        },
        |i| format!("{} ({})", drafts[i].title, drafts[i].id),
    )?;
    let reduced = graph.reduced(&order);

    // Priority from how many tickets need this one, directly or not (counted up to 10).
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (from, tos) in graph.needs.iter().enumerate() {
        for &to in tos {
            needed_by[to].push(from);
        }
    }
    let dependents = |i: usize| -> usize {
        let mut seen = BTreeSet::new();
        let mut stack = vec![i];
        while let Some(n) = stack.pop() {
            for &m in &needed_by[n] {
                if seen.insert(m) {
                    if seen.len() >= 10 {
                        return seen.len();
                    }
                    stack.push(m);
                }
            }
        }
        seen.len()
    };

    let mut tickets = Vec::with_capacity(groups.len());
    for &i in &order {
        let needs: Vec<&writer::Draft> = reduced.needs[i].iter().map(|&j| &drafts[j]).collect();
        tickets.push(writer::finish(
            &drafts[i],
            &needs,
            Priority::from_dependents(dependents(i)),
        ));
    }
    let mut dependencies = Vec::new();
    for &i in &order {
        for &j in &reduced.needs[i] {
            let mut reasons = because.remove(&(i, j)).unwrap_or_default();
            reasons.sort();
            dependencies.push(Dependency {
                from: drafts[i].id.clone(),
                to: drafts[j].id.clone(),
                because: reasons,
            });
        }
    }
    let epics = Area::ALL
        .iter()
        .filter_map(|&area| {
            let ids: Vec<String> = tickets
                .iter()
                .filter(|t| t.area == area)
                .map(|t| t.id.clone())
                .collect();
            (!ids.is_empty()).then(|| writer::epic(area, ids, &tickets))
        })
        .collect();
    Ok(Plan {
        granularity: settings.granularity,
        epics,
        order: tickets.iter().map(|t| t.id.clone()).collect(),
        tickets,
        dependencies,
    })
}

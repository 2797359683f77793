//! The deterministic ticket writer: titles, types, labels, estimates and an
//! HTML description a developer can build from (context, a table of what to
//! create, configuration steps, acceptance criteria as a checklist, and the
//! config names `drush config:export` must contain afterwards).
//!
//! Estimates are story points on the Fibonacci scale, from effort units:
//! a content, paragraph or block type 1; a vocabulary 1 (2 with more than 20
//! seed terms); a media type 2; an image style 1; a menu 1 plus 1 per 10
//! links; a role 1 plus 1 per 15 permissions; a workflow 2 plus 1 per 3 states
//! and 1 per 4 moderated bundles; a view 1 plus 1 per display and 0.5 per
//! exposed filter; URL patterns 1 plus 1 per 10; contrib modules 1 plus 1 per
//! 5; core modules 1; a custom module 5; fields 0.5 each for plain types
//! (string, number, boolean, email, telephone, timestamp), 1 for lists,
//! links, dates, files, images and long text, 1.5 for entity references and
//! 2 for paragraphs, addresses, geofields, smart dates, metatags, views
//! references and webforms, halved. The sum is rounded up to 1, 2, 3, 5, 8 or 13.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::item::{ConfigItem, Field, ItemData};

use super::{Area, Group, IssueType, Priority, Ticket, area_of};

/// Jira's limit for a summary.
pub const SUMMARY_LIMIT: usize = 255;

/// A ticket before the graph is known (no priority, no dependency list yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Draft {
    pub id: String,
    /// Tie-break within an area: what a tech lead builds first among equals.
    pub rank: u8,
    pub title: String,
    pub issue_type: IssueType,
    pub area: Area,
    pub labels: Vec<String>,
    pub estimate: u32,
    pub items: Vec<String>,
    pub config_names: Vec<String>,
    pub context: String,
    pub body: String,
    pub steps: Vec<String>,
    pub criteria: Vec<String>,
}

/// Escapes text for HTML.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// A summary that fits Jira's limit (the full label stays in the description).
pub(crate) fn fit_title(title: String) -> String {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.chars().count() <= SUMMARY_LIMIT {
        return title;
    }
    let mut cut: String = title.chars().take(SUMMARY_LIMIT - 1).collect();
    cut.push('…');
    cut
}

/// Rounds effort units up to a Fibonacci story-point value.
#[must_use]
pub fn story_points(units: f64) -> u32 {
    [1, 2, 3, 5, 8]
        .into_iter()
        .find(|&p| units <= f64::from(p))
        .unwrap_or(13)
}

/// Effort units of one field, by type (see the module documentation).
#[must_use]
pub fn field_units(field: &Field) -> f64 {
    match field.field_type.as_str() {
        "string" | "integer" | "decimal" | "float" | "boolean" | "email" | "telephone"
        | "timestamp" => 0.5,
        "entity_reference" => 1.5,
        "entity_reference_revisions"
        | "address"
        | "geofield"
        | "smartdate"
        | "metatag"
        | "viewsreference"
        | "webform" => 2.0,
        _ => 1.0,
    }
}

fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "Yes".to_owned(),
        Some(false) => "No".to_owned(),
        None => "Drupal default".to_owned(),
    }
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            // Cells are already HTML (escaped values, maybe <code>).
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn settings(rows: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(k, v)| vec![escape(k), v.clone()])
        .collect();
    table(&["Setting", "Value"], &rows)
}

fn describe_source(item: &ConfigItem) -> String {
    let mut out = String::new();
    if let Some(d) = &item.description {
        let _ = write!(out, " {}", escape(d.trim_end_matches('.')));
        out.push('.');
    }
    if let Some(n) = &item.notes {
        let _ = write!(out, " Notes from the spec: {}", escape(n));
    }
    out
}

/// Where a bundle's fields are managed in the admin UI.
fn manage_fields_path(entity_type: &str, bundle: &str) -> String {
    match entity_type {
        "node" => format!("/admin/structure/types/manage/{bundle}/fields"),
        "taxonomy_term" => format!("/admin/structure/taxonomy/manage/{bundle}/overview/fields"),
        "media" => format!("/admin/structure/media/manage/{bundle}/fields"),
        "paragraph" => format!("/admin/structure/paragraphs_type/{bundle}/fields"),
        "block_content" => format!("/admin/structure/block-content/manage/{bundle}/fields"),
        "user" => "/admin/config/people/accounts/fields".to_owned(),
        "comment" => format!("/admin/structure/comment/manage/{bundle}/fields"),
        other => format!("the Manage fields page of {other} bundle {bundle}"),
    }
}

fn bundle_label(
    entity_type: &str,
    bundle: &str,
    bundles: &HashMap<(String, String), &ConfigItem>,
) -> String {
    match bundles.get(&(entity_type.to_owned(), bundle.to_owned())) {
        Some(item) => item.label.clone(),
        None if entity_type == "user" && bundle == "user" => "User".to_owned(),
        None => bundle.to_owned(),
    }
}

fn cardinality(n: i32) -> String {
    if n == -1 {
        "Unlimited".to_owned()
    } else {
        n.to_string()
    }
}

fn field_target(f: &Field) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &f.target_type {
        if f.target_bundles.is_empty() {
            parts.push(code(t));
        } else {
            parts.push(format!(
                "{}: {}",
                code(t),
                f.target_bundles
                    .iter()
                    .map(|b| code(b))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !f.allowed_values.is_empty() {
        let values: Vec<String> = f
            .allowed_values
            .iter()
            .map(|v| format!("{} ({})", code(&v.key), escape(&v.label)))
            .collect();
        parts.push(format!("Allowed: {}", values.join(", ")));
    }
    if let Some(d) = &f.default_value {
        parts.push(format!("Default: {}", escape(d)));
    }
    parts.join("<br>")
}

fn fields_table(fields: &[(&ConfigItem, &Field)]) -> String {
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|(item, f)| {
            vec![
                escape(&item.label),
                code(&f.field_name),
                code(&f.field_type),
                if f.required {
                    "Yes".to_owned()
                } else {
                    "No".to_owned()
                },
                cardinality(f.cardinality),
                field_target(f),
                f.help_text.as_deref().map(escape).unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "Label",
            "Machine name",
            "Type",
            "Required",
            "Cardinality",
            "Target / values",
            "Help text",
        ],
        &rows,
    )
}

fn field_steps(
    entity_type: &str,
    bundle: &str,
    label: &str,
    fields: &[(&ConfigItem, &Field)],
) -> Vec<String> {
    let mut steps = vec![format!(
        "Open Manage fields of {} at {}.",
        escape(label),
        code(&manage_fields_path(entity_type, bundle))
    )];
    steps.push(
        "Add each field of the table with its label, machine name and type; where the storage already exists on another bundle of the same entity type, use <strong>Re-use an existing field</strong>."
            .to_owned(),
    );
    steps.push("Set required, cardinality, target bundles or allowed values, default value and help text as listed.".to_owned());
    let widgets: Vec<String> = fields
        .iter()
        .filter_map(|(_, f)| {
            f.widget
                .as_ref()
                .map(|w| format!("{} {}", code(&f.field_name), code(w)))
        })
        .collect();
    if !widgets.is_empty() {
        steps.push(format!(
            "On Manage form display, set the widgets: {}.",
            widgets.join(", ")
        ));
    }
    let formatters: Vec<String> = fields
        .iter()
        .filter_map(|(_, f)| {
            f.formatter
                .as_ref()
                .map(|w| format!("{} {}", code(&f.field_name), code(w)))
        })
        .collect();
    if !formatters.is_empty() {
        steps.push(format!(
            "On Manage display, set the formatters: {}.",
            formatters.join(", ")
        ));
    }
    steps.push(
        "Export the configuration (<code>drush config:export</code>) and commit it.".to_owned(),
    );
    steps
}

fn field_criteria(label: &str, fields: &[(&ConfigItem, &Field)]) -> Vec<String> {
    let mut c = vec![format!(
        "{} has the {} field{} of the table, each with the listed type, cardinality and required setting.",
        label,
        fields.len(),
        if fields.len() == 1 { "" } else { "s" }
    )];
    if fields.iter().any(|(_, f)| f.is_reference()) {
        c.push("Reference fields offer only the listed target bundles.".to_owned());
    }
    if fields.iter().any(|(_, f)| !f.allowed_values.is_empty()) {
        c.push("List fields offer exactly the listed allowed values, in order.".to_owned());
    }
    if fields.iter().any(|(_, f)| f.help_text.is_some()) {
        c.push("The help texts show on the edit form as written in the table.".to_owned());
    }
    c.push("An editor can create and save an item with every required field filled, and saving without one shows a validation error.".to_owned());
    c
}

fn field_config(fields: &[(&ConfigItem, &Field)]) -> Vec<String> {
    let mut names = Vec::new();
    for (item, f) in fields {
        names.push(f.storage_key());
        names.push(item.key.clone());
    }
    names.dedup();
    names
}

/// Drafts the ticket of a group of items.
pub(crate) fn draft(
    id: &str,
    group: &Group,
    members: &[&ConfigItem],
    bundles: &HashMap<(String, String), &ConfigItem>,
) -> Draft {
    let first = members[0];
    let area = area_of(first);
    let items: Vec<String> = members.iter().map(|i| i.key.clone()).collect();
    let rank = match (group, &first.data) {
        (Group::Modules, _) if id == "modules-core" => 0,
        (Group::Modules, _) => 1,
        (Group::Single, ItemData::Module(_)) => 2,
        (Group::Single, ItemData::Field(_)) | (Group::Fields(..), _) => 4,
        (Group::Single, _) => 3,
        _ => 5,
    };
    let mut d = Draft {
        id: id.to_owned(),
        rank,
        title: String::new(),
        issue_type: IssueType::Task,
        area,
        labels: vec![
            "drupal".to_owned(),
            area.slug().to_owned(),
            first.csv_type.as_str().replace('_', "-"),
        ],
        estimate: 1,
        config_names: items.clone(),
        items,
        context: String::new(),
        body: String::new(),
        steps: Vec::new(),
        criteria: Vec::new(),
    };
    match group {
        Group::Fields(entity_type, bundle) => {
            let fields: Vec<(&ConfigItem, &Field)> = members
                .iter()
                .filter_map(|i| match &i.data {
                    ItemData::Field(f) => Some((*i, f)),
                    _ => None,
                })
                .collect();
            let label = bundle_label(entity_type, bundle, bundles);
            d.title = format!("Add fields to {label} ({})", fields.len());
            d.context = format!(
                "Add {} field{} to {} ({} bundle {}). The bundle itself is created by its own ticket.",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" },
                escape(&label),
                escape(entity_type),
                code(bundle)
            );
            d.body = format!("<h2>Fields</h2>{}", fields_table(&fields));
            d.steps = field_steps(entity_type, bundle, &label, &fields);
            d.criteria = field_criteria(&escape(&label), &fields);
            d.config_names = field_config(&fields);
            d.estimate =
                story_points(fields.iter().map(|(_, f)| field_units(f)).sum::<f64>() / 2.0);
        }
        Group::Menu(menu) => menu_ticket(&mut d, menu, members),
        Group::UrlPatterns => {
            let rows: Vec<Vec<String>> = members
                .iter()
                .filter_map(|i| match &i.data {
                    ItemData::UrlPattern(p) => Some(vec![
                        escape(&p.entity_type),
                        escape(&bundle_label(&p.entity_type, &p.bundle, bundles)),
                        code(&p.pattern),
                    ]),
                    _ => None,
                })
                .collect();
            d.title = format!("Configure URL alias patterns ({})", rows.len());
            d.context = "Give every listed bundle a clean, predictable URL with Pathauto patterns."
                .to_owned();
            d.body = format!(
                "<h2>Patterns</h2>{}",
                table(&["Entity type", "Bundle", "Pattern"], &rows)
            );
            d.steps = vec![
                "Go to Configuration › Search and metadata › URL aliases › Patterns (<code>/admin/config/search/path/patterns</code>).".to_owned(),
                "Add one pattern per row, of the pattern type of its entity type, limited to its bundle.".to_owned(),
                "Run Bulk generate for existing content, then export the configuration.".to_owned(),
            ];
            d.criteria = vec![
                format!("{} patterns exist, one per listed bundle.", rows.len()),
                "New content of each bundle gets an alias following its pattern.".to_owned(),
                "Existing content has aliases after bulk generation.".to_owned(),
            ];
            d.estimate = story_points(1.0 + rows.len() as f64 / 10.0);
        }
        Group::Modules => modules_ticket(&mut d, id, members),
        Group::Single => single_ticket(&mut d, first, bundles),
    }
    if matches!(group, Group::Menu(_)) {
        d.labels[2] = "menus".to_owned();
    }
    d.labels.dedup();
    d.title = fit_title(std::mem::take(&mut d.title));
    d
}

fn menu_ticket(d: &mut Draft, menu: &str, members: &[&ConfigItem]) {
    let defined = members.iter().find(|i| matches!(i.data, ItemData::Menu(_)));
    let links: Vec<&crate::item::MenuLink> = members
        .iter()
        .filter_map(|i| match &i.data {
            ItemData::MenuLink(l) => Some(l),
            _ => None,
        })
        .collect();
    let label = defined.map_or_else(|| menu.to_owned(), |m| m.label.clone());
    d.issue_type = IssueType::Story;
    d.title = match (defined.is_some(), links.len()) {
        (true, 0) => format!("Create menu: {label}"),
        (true, n) => format!("Create menu: {label} ({n} links)"),
        (false, n) => format!("Add links to menu: {label} ({n})"),
    };
    d.context = match defined {
        Some(m) => format!(
            "Create the menu {} ({}).{}",
            escape(&label),
            code(menu),
            describe_source(m)
        ),
        None => format!("Add links to the existing menu {}.", code(menu)),
    };
    if !links.is_empty() {
        let rows: Vec<Vec<String>> = links
            .iter()
            .map(|l| {
                vec![
                    escape(&l.title),
                    code(&l.link),
                    l.parent.as_deref().map(escape).unwrap_or_default(),
                    l.weight.map(|w| w.to_string()).unwrap_or_default(),
                    yes_no(l.expanded),
                ]
            })
            .collect();
        d.body = format!(
            "<h2>Links</h2>{}",
            table(&["Title", "Link", "Parent", "Weight", "Expanded"], &rows)
        );
    }
    d.steps = Vec::new();
    if defined.is_some() {
        d.steps.push(format!(
            "Go to Structure › Menus › Add menu (<code>/admin/structure/menu/add</code>); title {}, machine name {}.",
            escape(&label),
            code(menu)
        ));
    }
    if !links.is_empty() {
        d.steps.push(
            "Add the links of the table, parents before their children, with the listed weights."
                .to_owned(),
        );
        d.steps.push("Links to pages that do not exist yet can point to <code>&lt;nolink&gt;</code> until their ticket is done; list them in a comment.".to_owned());
    }
    d.steps.push("Export the configuration (menu links are content: add them in the deploy script or a content migration).".to_owned());
    d.criteria = Vec::new();
    if defined.is_some() {
        d.criteria.push(format!(
            "The menu {} exists with machine name {}.",
            escape(&label),
            code(menu)
        ));
    }
    if !links.is_empty() {
        d.criteria.push(format!(
            "The menu holds the {} links of the table, nested and ordered as listed.",
            links.len()
        ));
        d.criteria
            .push("Every link opens its page (no 404).".to_owned());
    }
    d.config_names = defined.map(|m| vec![m.key.clone()]).unwrap_or_default();
    d.area = Area::Navigation;
    d.estimate = story_points(1.0 + links.len() as f64 / 10.0);
}

fn modules_ticket(d: &mut Draft, id: &str, members: &[&ConfigItem]) {
    let modules: Vec<(&ConfigItem, &crate::item::Module)> = members
        .iter()
        .filter_map(|i| match &i.data {
            ItemData::Module(m) => Some((*i, m)),
            _ => None,
        })
        .collect();
    let n = modules.len();
    let contrib = id == "modules-contrib";
    d.title = match id {
        "modules-core" => format!("Enable core modules ({n})"),
        "modules-contrib" => format!("Install contrib modules ({n})"),
        _ => format!("Enable modules ({n})"),
    };
    d.context = "Enable the modules the rest of the build relies on; tickets that need a module link to this one.".to_owned();
    let rows: Vec<Vec<String>> = modules
        .iter()
        .map(|(item, m)| {
            vec![
                code(&m.machine_name),
                escape(&item.label),
                m.version.as_deref().map(escape).unwrap_or_default(),
                m.purpose.as_deref().map(escape).unwrap_or_default(),
            ]
        })
        .collect();
    d.body = format!(
        "<h2>Modules</h2>{}",
        table(&["Machine name", "Name", "Version", "Purpose"], &rows)
    );
    let names: Vec<&str> = modules
        .iter()
        .map(|(_, m)| m.machine_name.as_str())
        .collect();
    d.steps = Vec::new();
    if contrib {
        let requires: Vec<String> = modules
            .iter()
            .map(|(_, m)| match &m.version {
                Some(v) => format!("drupal/{}:{v}", m.machine_name),
                None => format!("drupal/{}", m.machine_name),
            })
            .collect();
        d.steps.push(format!(
            "Add them with Composer: {}.",
            code(&format!("composer require {}", requires.join(" ")))
        ));
    }
    d.steps.push(format!(
        "Enable them: {}.",
        code(&format!("drush en -y {}", names.join(" ")))
    ));
    d.steps
        .push("Export the configuration and commit <code>core.extension.yml</code>.".to_owned());
    d.criteria = vec![
        format!(
            "{} lists all {n} modules as enabled.",
            code("drush pm:list --status=enabled")
        ),
        "The site's status report shows no error after enabling them.".to_owned(),
    ];
    d.config_names = vec!["core.extension".to_owned()];
    d.estimate = if contrib {
        story_points(1.0 + n as f64 / 5.0)
    } else {
        1
    };
}

fn single_ticket(
    d: &mut Draft,
    item: &ConfigItem,
    bundles: &HashMap<(String, String), &ConfigItem>,
) {
    let label = escape(&item.label);
    let export = format!(
        "{} contains {}.",
        code("drush config:export"),
        code(&item.key)
    );
    match &item.data {
        ItemData::ContentType(t) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Create content type: {}", item.label);
            d.context = format!(
                "Create the content type {label} ({}).{}",
                code(&t.machine_name),
                describe_source(item)
            );
            let menus = if t.menus.is_empty() {
                "Drupal default".to_owned()
            } else {
                t.menus
                    .iter()
                    .map(|m| code(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            d.body = format!(
                "<h2>Settings</h2>{}",
                settings(&[
                    ("Machine name", code(&t.machine_name)),
                    ("Create new revisions", yes_no(t.revisions)),
                    ("Published by default", yes_no(t.published_by_default)),
                    (
                        "Preview before submitting",
                        t.preview_mode
                            .clone()
                            .unwrap_or_else(|| "Drupal default".to_owned())
                    ),
                    ("Display author and date", yes_no(t.display_submitted)),
                    ("Available menus", menus),
                ])
            );
            d.steps = vec![
                "Go to Structure › Content types › Add content type (<code>/admin/structure/types/add</code>).".to_owned(),
                format!("Name {label}, machine name {}; fill in the description.", code(&t.machine_name)),
                "Set the publishing, preview, display and menu settings of the table.".to_owned(),
                "Save. Fields are added by their own ticket; remove the body field if the fields ticket does not list it.".to_owned(),
                "Export the configuration and commit it.".to_owned(),
            ];
            d.criteria = vec![
                format!(
                    "The content type {label} exists with machine name {}.",
                    code(&t.machine_name)
                ),
                "Its publishing, revision, preview and display settings match the table."
                    .to_owned(),
                "An editor with the right role can open the add form for it.".to_owned(),
                export,
            ];
            d.estimate = 1;
        }
        ItemData::Vocabulary(v) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Create vocabulary: {}", item.label);
            d.context = format!(
                "Create the taxonomy vocabulary {label} ({}).{}",
                code(&v.machine_name),
                describe_source(item)
            );
            let terms = if v.terms.is_empty() {
                "None".to_owned()
            } else {
                v.terms
                    .iter()
                    .map(|t| escape(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            d.body = format!(
                "<h2>Settings</h2>{}",
                settings(&[
                    ("Machine name", code(&v.machine_name)),
                    (
                        "Hierarchy",
                        v.hierarchy.clone().unwrap_or_else(|| "flat".to_owned())
                    ),
                    ("Seed terms", terms),
                ])
            );
            d.steps = vec![
                "Go to Structure › Taxonomy › Add vocabulary (<code>/admin/structure/taxonomy/add</code>).".to_owned(),
                format!("Name {label}, machine name {}.", code(&v.machine_name)),
                "Add the seed terms (as default content or in the deploy script, since terms are content).".to_owned(),
            ];
            d.criteria = vec![
                format!(
                    "The vocabulary {label} exists with machine name {}.",
                    code(&v.machine_name)
                ),
                format!("It holds the {} seed terms listed.", v.terms.len()),
                export,
            ];
            d.estimate = if v.terms.len() > 20 { 2 } else { 1 };
        }
        ItemData::MediaType(m) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Create media type: {}", item.label);
            d.context = format!(
                "Create the media type {label} ({}).{}",
                code(&m.machine_name),
                describe_source(item)
            );
            d.body = format!(
                "<h2>Settings</h2>{}",
                settings(&[
                    ("Machine name", code(&m.machine_name)),
                    (
                        "Media source",
                        m.source
                            .as_deref()
                            .map(code)
                            .unwrap_or_else(|| "to decide".to_owned())
                    ),
                    (
                        "Source field",
                        m.source_field
                            .as_deref()
                            .map(code)
                            .unwrap_or_else(|| "created by the source".to_owned())
                    ),
                ])
            );
            d.steps = vec![
                "Go to Structure › Media types › Add media type (<code>/admin/structure/media/add</code>).".to_owned(),
                format!("Name {label}, machine name {}, media source as listed; Drupal creates the source field.", code(&m.machine_name)),
                "Map the metadata fields and set the form and view displays, then export the configuration.".to_owned(),
            ];
            d.criteria = vec![
                format!("The media type {label} exists with the listed source."),
                "An editor can add a media item of this type through the media library.".to_owned(),
                export,
            ];
            d.estimate = 2;
        }
        ItemData::ParagraphType(p) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Create paragraph type: {}", item.label);
            d.context = format!(
                "Create the paragraph type {label} ({}).{}",
                code(&p.machine_name),
                describe_source(item)
            );
            d.body = format!(
                "<h2>Settings</h2>{}",
                settings(&[
                    ("Machine name", code(&p.machine_name)),
                    (
                        "Icon",
                        p.icon
                            .as_deref()
                            .map(escape)
                            .unwrap_or_else(|| "None".to_owned())
                    ),
                ])
            );
            d.steps = vec![
                "Go to Structure › Paragraph types › Add paragraph type (<code>/admin/structure/paragraphs_type/add</code>).".to_owned(),
                format!("Label {label}, machine name {}; upload the icon if listed.", code(&p.machine_name)),
                "Fields are added by their own ticket; export the configuration.".to_owned(),
            ];
            d.criteria = vec![
                format!(
                    "The paragraph type {label} exists with machine name {}.",
                    code(&p.machine_name)
                ),
                export,
            ];
            d.estimate = 1;
        }
        ItemData::BlockType(b) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Create block type: {}", item.label);
            d.context = format!(
                "Create the custom block type {label} ({}).{}",
                code(&b.machine_name),
                describe_source(item)
            );
            d.steps = vec![
                "Go to Structure › Block types › Add block type (<code>/admin/structure/block-content/add</code>).".to_owned(),
                format!("Label {label}, machine name {}.", code(&b.machine_name)),
                "Fields are added by their own ticket; export the configuration.".to_owned(),
            ];
            d.criteria = vec![
                format!(
                    "The block type {label} exists with machine name {}.",
                    code(&b.machine_name)
                ),
                export,
            ];
            d.estimate = 1;
        }
        ItemData::View(v) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Build view: {}", item.label);
            d.context = format!(
                "Build the view {label} ({}).{}",
                code(&v.machine_name),
                describe_source(item)
            );
            let entity_type = v.entity_type().unwrap_or("node");
            let listed = if v.bundles.is_empty() {
                "All".to_owned()
            } else {
                v.bundles
                    .iter()
                    .map(|b| escape(&bundle_label(entity_type, b, bundles)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let list = |xs: &[String]| {
                if xs.is_empty() {
                    "None".to_owned()
                } else {
                    xs.iter().map(|x| code(x)).collect::<Vec<_>>().join(", ")
                }
            };
            d.body = format!(
                "<h2>Settings</h2>{}",
                settings(&[
                    ("Machine name", code(&v.machine_name)),
                    ("Base table", code(&v.base_table)),
                    ("Bundles", listed.clone()),
                    ("Displays", list(&v.displays)),
                    (
                        "Path",
                        v.path
                            .as_deref()
                            .map(code)
                            .unwrap_or_else(|| "None".to_owned())
                    ),
                    (
                        "Items per page",
                        v.items_per_page
                            .map_or_else(|| "Drupal default".to_owned(), |n| n.to_string())
                    ),
                    ("Exposed filters", list(&v.exposed_filters)),
                    (
                        "Sort",
                        v.sort
                            .as_deref()
                            .map(code)
                            .unwrap_or_else(|| "Drupal default".to_owned())
                    ),
                    (
                        "Access",
                        v.access_permission
                            .as_deref()
                            .map(escape)
                            .unwrap_or_else(|| "Drupal default".to_owned())
                    ),
                ])
            );
            d.steps = vec![
                format!("Go to Structure › Views › Add view (<code>/admin/structure/views/add</code>); name {label}, machine name {}.", code(&v.machine_name)),
                format!("Show {} filtered to: {listed}; only published items.", code(&v.base_table)),
                "Add the displays of the table, with the path, pager and access settings listed.".to_owned(),
                "Add the exposed filters and the sort of the table; check the preview, then export the configuration.".to_owned(),
            ];
            d.criteria = vec![format!(
                "The view {label} exists with the displays {}.",
                list(&v.displays)
            )];
            if let Some(p) = &v.path {
                d.criteria.push(format!(
                    "Visiting {} lists published {listed} items.",
                    code(p)
                ));
            }
            if let Some(s) = &v.sort {
                d.criteria
                    .push(format!("Results are sorted by {}.", code(s)));
            }
            if let Some(n) = v.items_per_page {
                d.criteria.push(format!(
                    "A page shows at most {n} items, with a pager past that."
                ));
            }
            if !v.exposed_filters.is_empty() {
                d.criteria.push(format!(
                    "The exposed filters {} narrow the results.",
                    list(&v.exposed_filters)
                ));
            }
            if let Some(a) = &v.access_permission {
                d.criteria.push(format!(
                    "Only users with the permission \"{}\" can see it.",
                    escape(a)
                ));
            }
            d.criteria.push(export);
            d.estimate =
                story_points(1.0 + v.displays.len() as f64 + v.exposed_filters.len() as f64 * 0.5);
        }
        ItemData::Role(r) => {
            d.title = format!("Create role: {}", item.label);
            d.context = format!(
                "Create the role {label} ({}).{}",
                code(&r.machine_name),
                describe_source(item)
            );
            let perms: Vec<Vec<String>> = r.permissions.iter().map(|p| vec![escape(p)]).collect();
            d.body = if r.is_admin {
                "<p>This role is the administrator role: it gets every permission.</p>".to_owned()
            } else {
                format!(
                    "<h2>Permissions ({})</h2>{}",
                    perms.len(),
                    table(&["Permission"], &perms)
                )
            };
            d.steps = vec![
                format!("Go to People › Roles › Add role (<code>/admin/people/roles/add</code>); name {label}, machine name {}.", code(&r.machine_name)),
                "Grant exactly the permissions listed on the role's permission page, then export the configuration.".to_owned(),
            ];
            d.criteria = vec![
                format!("The role {label} exists with machine name {}.", code(&r.machine_name)),
                if r.is_admin {
                    "It is set as the administrator role.".to_owned()
                } else {
                    format!("It has exactly the {} permissions listed, no more.", r.permissions.len())
                },
                "A test user with only this role can do what the permissions allow and nothing else.".to_owned(),
                export,
            ];
            d.estimate = story_points(1.0 + r.permissions.len() as f64 / 15.0);
        }
        ItemData::ImageStyle(s) => {
            d.title = format!("Create image style: {}", item.label);
            d.context = format!(
                "Create the image style {label} ({}).{}",
                code(&s.machine_name),
                describe_source(item)
            );
            let rows: Vec<Vec<String>> = s
                .effects
                .iter()
                .enumerate()
                .map(|(i, e)| vec![(i + 1).to_string(), code(&e.name), escape(&e.arguments)])
                .collect();
            d.body = format!(
                "<h2>Effects</h2>{}",
                table(&["#", "Effect", "Arguments"], &rows)
            );
            d.steps = vec![
                "Go to Configuration › Media › Image styles › Add image style (<code>/admin/config/media/image-styles/add</code>).".to_owned(),
                format!("Name {label}, machine name {}; add the effects in the listed order.", code(&s.machine_name)),
            ];
            d.criteria = vec![
                format!(
                    "The image style {label} applies the {} effects in order.",
                    s.effects.len()
                ),
                "A derivative generated from a large test image has the expected size and format."
                    .to_owned(),
                export,
            ];
            d.estimate = 1;
        }
        ItemData::Workflow(w) => {
            d.issue_type = IssueType::Story;
            d.title = format!("Set up workflow: {}", item.label);
            d.context = format!(
                "Set up the editorial workflow {label} ({}).{}",
                code(&w.machine_name),
                describe_source(item)
            );
            let transitions: Vec<Vec<String>> = w
                .transitions
                .iter()
                .map(|t| vec![code(&t.from), code(&t.to)])
                .collect();
            let moderated: Vec<String> = w
                .bundles
                .iter()
                .map(|b| escape(&bundle_label(&b.entity_type, &b.bundle, bundles)))
                .collect();
            d.body = format!(
                "<h2>States</h2><p>{}</p><h2>Transitions</h2>{}<h2>Applies to</h2><p>{}</p>",
                w.states
                    .iter()
                    .map(|s| code(s))
                    .collect::<Vec<_>>()
                    .join(", "),
                table(&["From", "To"], &transitions),
                if moderated.is_empty() {
                    "No bundle listed yet".to_owned()
                } else {
                    moderated.join(", ")
                }
            );
            d.steps = vec![
                format!("Go to Configuration › Workflow › Workflows › Add workflow (<code>/admin/config/workflow/workflows/add</code>), type {}.", code(&w.workflow_type)),
                "Add the states and transitions of the tables; apply the workflow to the listed bundles.".to_owned(),
                "Grant the transition permissions through the roles tickets; export the configuration.".to_owned(),
            ];
            d.criteria = vec![
                format!(
                    "The workflow {label} has the {} states and {} transitions listed.",
                    w.states.len(),
                    w.transitions.len()
                ),
                "Content of the listed bundles moves only through the listed transitions."
                    .to_owned(),
                export,
            ];
            d.estimate =
                story_points(2.0 + w.states.len() as f64 / 3.0 + w.bundles.len() as f64 / 4.0);
        }
        ItemData::Field(f) => {
            let blabel = bundle_label(&f.entity_type, &f.bundle, bundles);
            d.title = format!("Add field {} to {blabel}", item.label);
            d.context = format!(
                "Add the field {label} to {} ({} bundle {}).",
                escape(&blabel),
                escape(&f.entity_type),
                code(&f.bundle)
            );
            let fields = [(item, f)];
            d.body = format!("<h2>Field</h2>{}", fields_table(&fields));
            d.steps = field_steps(&f.entity_type, &f.bundle, &blabel, &fields);
            d.criteria = field_criteria(&escape(&blabel), &fields);
            d.config_names = field_config(&fields);
            d.estimate = story_points(field_units(f) / 2.0);
        }
        ItemData::Module(m) => {
            d.title = format!("Build custom module: {}", item.label);
            d.context = format!(
                "Build the custom module {} ({}).{}",
                label,
                code(&m.machine_name),
                m.purpose
                    .as_deref()
                    .map(|p| format!(" Purpose: {}", escape(p)))
                    .unwrap_or_default()
            );
            d.steps = vec![
                format!(
                    "Scaffold it with {} under <code>web/modules/custom</code>.",
                    code(&format!(
                        "drush generate module --answer={}",
                        m.machine_name
                    ))
                ),
                "Implement the purpose above with tests; enable it and export the configuration."
                    .to_owned(),
            ];
            d.criteria = vec![
                format!(
                    "{} shows it enabled.",
                    code(&format!("drush pm:list --filter={}", m.machine_name))
                ),
                "It has automated tests covering its purpose, and they pass in CI.".to_owned(),
            ];
            d.config_names = vec!["core.extension".to_owned()];
            d.estimate = 5;
        }
        ItemData::Menu(_) | ItemData::MenuLink(_) | ItemData::UrlPattern(_) => {}
    }
}

/// Completes a draft with its priority and the tickets it directly needs.
pub(crate) fn finish(d: &Draft, needs: &[&Draft], priority: Priority) -> Ticket {
    let mut html = format!("<h2>Context</h2><p>{}</p>", d.context);
    html.push_str(&d.body);
    if !needs.is_empty() {
        html.push_str("<h2>Depends on</h2><ul>");
        for n in needs {
            let _ = write!(html, "<li>{} ({})</li>", escape(&n.title), code(&n.id));
        }
        html.push_str("</ul>");
    }
    html.push_str("<h2>Configuration steps</h2><ol>");
    for s in &d.steps {
        let _ = write!(html, "<li>{s}</li>");
    }
    html.push_str("</ol><h2>Acceptance criteria</h2><ul data-type=\"taskList\">");
    for c in &d.criteria {
        let _ = write!(html, "<li><input type=\"checkbox\"> {c}</li>");
    }
    html.push_str("</ul>");
    if !d.config_names.is_empty() {
        html.push_str("<h2>Config to export</h2><p>After the work, <code>drush config:export</code> must contain:</p><ul>");
        for n in &d.config_names {
            let _ = write!(html, "<li>{}</li>", code(n));
        }
        html.push_str("</ul>");
    }
    let fitted = crate::adf::fit_description(
        crate::adf::html_to_adf(&html),
        crate::adf::JIRA_DESCRIPTION_LIMIT,
    );
    let attachments = fitted
        .overflow
        .map(|o| super::Attachment {
            file_name: o.file_name,
            content: o.content,
        })
        .into_iter()
        .collect();
    Ticket {
        id: d.id.clone(),
        title: d.title.clone(),
        issue_type: d.issue_type,
        epic: d.area.epic_id(),
        area: d.area,
        labels: d.labels.clone(),
        priority,
        estimate: d.estimate,
        items: d.items.clone(),
        description_html: html,
        description_adf: fitted.description,
        attachments,
        acceptance_criteria: d.criteria.iter().map(|c| strip_tags(c)).collect(),
        config_names: d.config_names.clone(),
        assignee: None,
        sprint: None,
    }
}

/// Text without the tags and entities this writer uses (for plain lists).
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The epic of an area.
pub(crate) fn epic(area: Area, tickets: Vec<String>, all: &[Ticket]) -> super::Epic {
    let points: u32 = all
        .iter()
        .filter(|t| t.area == area)
        .map(|t| t.estimate)
        .sum();
    let description_html = format!(
        "<p>Every ticket of the {} area of the site build: {} ticket{}, {points} story points in all.</p>",
        escape(area.title()),
        tickets.len(),
        if tickets.len() == 1 { "" } else { "s" },
    );
    super::Epic {
        id: area.epic_id(),
        title: area.title().to_owned(),
        area,
        description_html,
        tickets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_up_to_fibonacci() {
        assert_eq!(story_points(0.2), 1);
        assert_eq!(story_points(2.5), 3);
        assert_eq!(story_points(6.0), 8);
        assert_eq!(story_points(40.0), 13);
    }

    #[test]
    fn titles_fit_jira() {
        let t = fit_title("x".repeat(300));
        assert_eq!(t.chars().count(), SUMMARY_LIMIT);
        assert_eq!(
            fit_title("Build view:\n  Events".to_owned()),
            "Build view: Events"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(strip_tags("a <code>b</code> &amp; c"), "a b & c");
    }
}

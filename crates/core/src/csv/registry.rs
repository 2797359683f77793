//! The CSV type registry: every type, its columns, and every sheet of every
//! dialect that maps onto those types.
//!
//! This is data, not code paths: a sheet lists the (normalised) headers it
//! accepts, which canonical column each one feeds, whether it is required, and
//! how its human values map to machine values. Detection, reading and building
//! items all work from these tables.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The CSV types of `csv-types.md`, one per kind of config item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvType {
    /// Node bundles.
    ContentTypes,
    /// Fields on bundles.
    Fields,
    /// Taxonomy vocabularies.
    Vocabularies,
    /// Views.
    Views,
    /// Menus.
    Menus,
    /// Menu links.
    MenuLinks,
    /// User roles.
    Roles,
    /// Media types.
    MediaTypes,
    /// Paragraph types.
    ParagraphTypes,
    /// Custom block types.
    BlockTypes,
    /// Image styles.
    ImageStyles,
    /// Workflows.
    Workflows,
    /// URL alias patterns.
    UrlPatterns,
    /// Modules to enable.
    Modules,
}

impl CsvType {
    /// Every type, in the order of the registry.
    pub const ALL: [CsvType; 14] = [
        Self::ContentTypes,
        Self::Fields,
        Self::Vocabularies,
        Self::Views,
        Self::Menus,
        Self::MenuLinks,
        Self::Roles,
        Self::MediaTypes,
        Self::ParagraphTypes,
        Self::BlockTypes,
        Self::ImageStyles,
        Self::Workflows,
        Self::UrlPatterns,
        Self::Modules,
    ];

    /// The type's name as used in files and JSON (`content_types`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ContentTypes => "content_types",
            Self::Fields => "fields",
            Self::Vocabularies => "vocabularies",
            Self::Views => "views",
            Self::Menus => "menus",
            Self::MenuLinks => "menu_links",
            Self::Roles => "roles",
            Self::MediaTypes => "media_types",
            Self::ParagraphTypes => "paragraph_types",
            Self::BlockTypes => "block_types",
            Self::ImageStyles => "image_styles",
            Self::Workflows => "workflows",
            Self::UrlPatterns => "url_patterns",
            Self::Modules => "modules",
        }
    }

    /// What one row of this type is, in words.
    #[must_use]
    pub const fn item_noun(self) -> &'static str {
        match self {
            Self::ContentTypes => "content type",
            Self::Fields => "field",
            Self::Vocabularies => "vocabulary",
            Self::Views => "view",
            Self::Menus => "menu",
            Self::MenuLinks => "menu link",
            Self::Roles => "role",
            Self::MediaTypes => "media type",
            Self::ParagraphTypes => "paragraph type",
            Self::BlockTypes => "block type",
            Self::ImageStyles => "image style",
            Self::Workflows => "workflow",
            Self::UrlPatterns => "URL pattern",
            Self::Modules => "module",
        }
    }

    /// The canonical sheet of this type.
    #[must_use]
    pub fn sheet(self) -> &'static Sheet {
        SHEETS
            .iter()
            .find(|s| s.dialect == Dialect::Canonical && s.target == Target::Items(self))
            .unwrap_or(&SHEETS[0])
    }

    /// The entity type whose bundles this type defines, for bundle-like types.
    #[must_use]
    pub const fn bundle_entity_type(self) -> Option<&'static str> {
        match self {
            Self::ContentTypes => Some("node"),
            Self::Vocabularies => Some("taxonomy_term"),
            Self::MediaTypes => Some("media"),
            Self::ParagraphTypes => Some("paragraph"),
            Self::BlockTypes => Some("block_content"),
            _ => None,
        }
    }
}

impl fmt::Display for CsvType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A family of spreadsheets the registry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// The columns of `csv-types.md`.
    Canonical,
    /// Acquia's Drupal Spec Tool sheets.
    SpecTool,
    /// Drush `--format=csv` outputs.
    Drush,
}

impl Dialect {
    /// The dialect's name as used in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Canonical => "canonical",
            Self::SpecTool => "spec_tool",
            Self::Drush => "drush",
        }
    }
}

/// What the rows of a sheet become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// One item of this type per row.
    Items(CsvType),
    /// One bundle per row, its type given by the row (Spec Tool "Bundles").
    Bundles,
    /// Rows add to items defined by another sheet.
    Child(Child),
}

/// Sheets whose rows complete items of another sheet, found by label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    /// A display of a view.
    ViewDisplays,
    /// An effect of an image style.
    ImageEffects,
    /// A state of a workflow.
    WorkflowStates,
    /// A transition of a workflow.
    WorkflowTransitions,
    /// A permission of a role.
    RolePermissions,
}

impl Child {
    /// The type of the items the rows complete.
    #[must_use]
    pub const fn parent(self) -> CsvType {
        match self {
            Self::ViewDisplays => CsvType::Views,
            Self::ImageEffects => CsvType::ImageStyles,
            Self::WorkflowStates | Self::WorkflowTransitions => CsvType::Workflows,
            Self::RolePermissions => CsvType::Roles,
        }
    }
}

/// How a dialect's human values become machine values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueMap {
    /// The value is used as written.
    AsIs,
    /// `Text (plain)` -> `string`, ... (unknown labels are kept).
    FieldTypeLabel,
    /// `Content` -> `node_field_data`, ...
    BaseTableLabel,
    /// `Page` -> `page`, `Default` -> nothing, ...
    DisplayPluginLabel,
    /// `Scale and crop` -> `scale_and_crop`, ...
    EffectLabel,
    /// `Content moderation` -> `content_moderation`.
    WorkflowTypeLabel,
    /// `Content type` -> content type, ... (Spec Tool "Bundles" Type column).
    BundleTypeLabel,
    /// The column's own name (`Required`, `Translatable`) means yes, blank means no.
    Flag(&'static str),
    /// `✔` means yes, blank means no (Drush).
    Tick,
    /// A comma-joined list (Drush).
    CommaList,
    /// `default:taxonomy_term` -> `taxonomy_term` (Drush selection handler).
    SelectionHandler,
    /// A module machine name, also out of `Label (machine_name)`.
    ModuleMachineName,
    /// A module label, also out of `Label (machine_name)`.
    ModuleLabel,
    /// `core/modules/node` -> `core`, `modules/contrib/x` -> `contrib`, ...
    PathProjectType,
}

/// Rows a sheet leaves out on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowFilter {
    /// Every row is kept.
    None,
    /// Drush `pm:list`: enabled modules only.
    EnabledModules,
}

/// One column a sheet accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column {
    /// Normalised header name.
    pub header: &'static str,
    /// Other normalised names accepted for it.
    pub aliases: &'static [&'static str],
    /// The canonical column it feeds; empty: known but kept as context only.
    pub to: &'static str,
    /// Whether detection needs it.
    pub required: bool,
    /// How its values map.
    pub map: ValueMap,
}

impl Column {
    const fn new(header: &'static str, required: bool) -> Self {
        Self {
            header,
            aliases: &[],
            to: header,
            required,
            map: ValueMap::AsIs,
        }
    }
    const fn aliases(self, aliases: &'static [&'static str]) -> Self {
        Self { aliases, ..self }
    }
    const fn to(self, to: &'static str) -> Self {
        Self { to, ..self }
    }
    const fn map(self, map: ValueMap) -> Self {
        Self { map, ..self }
    }
    /// Whether a normalised header names this column.
    #[must_use]
    pub fn accepts(&self, header: &str) -> bool {
        self.header == header || self.aliases.contains(&header)
    }
}

const fn req(header: &'static str) -> Column {
    Column::new(header, true)
}
const fn opt(header: &'static str) -> Column {
    Column::new(header, false)
}

/// A kind of file the registry recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sheet {
    /// Stable id (`fields`, `spec_tool.views_displays`, `drush.field_info`).
    pub id: &'static str,
    /// Human title (`Fields`, `Spec Tool "Views displays" sheet`).
    pub title: &'static str,
    /// Dialect.
    pub dialect: Dialect,
    /// What the rows become.
    pub target: Target,
    /// Columns accepted.
    pub columns: &'static [Column],
    /// File-name stems that point at this sheet (normalised like headers).
    pub file_names: &'static [&'static str],
    /// Rows left out on purpose.
    pub filter: RowFilter,
}

impl Sheet {
    /// The CSV type the sheet contributes to (`None` for Spec Tool "Bundles").
    #[must_use]
    pub const fn csv_type(&self) -> Option<CsvType> {
        match self.target {
            Target::Items(t) => Some(t),
            Target::Bundles => None,
            Target::Child(c) => Some(c.parent()),
        }
    }

    /// The column a normalised header names, if any.
    #[must_use]
    pub fn column(&self, header: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.accepts(header))
    }
}

const DESCRIPTION: Column = opt("description");
const NOTES: Column = opt("notes").aliases(&["note", "comments"]);

const fn canonical(
    ty: CsvType,
    title: &'static str,
    columns: &'static [Column],
    file_names: &'static [&'static str],
) -> Sheet {
    Sheet {
        id: ty.as_str(),
        title,
        dialect: Dialect::Canonical,
        target: Target::Items(ty),
        columns,
        file_names,
        filter: RowFilter::None,
    }
}

const fn dialect_sheet(
    id: &'static str,
    title: &'static str,
    dialect: Dialect,
    target: Target,
    columns: &'static [Column],
    file_names: &'static [&'static str],
) -> Sheet {
    Sheet {
        id,
        title,
        dialect,
        target,
        columns,
        file_names,
        filter: RowFilter::None,
    }
}

/// Every sheet the registry knows: the 14 canonical types first, then the dialects.
pub static SHEETS: &[Sheet] = &[
    canonical(
        CsvType::ContentTypes,
        "Content types",
        &[
            req("machine_name"),
            req("label"),
            DESCRIPTION,
            opt("revisions").aliases(&["create_new_revision", "new_revision"]),
            opt("published_by_default").aliases(&["published"]),
            opt("preview_mode").aliases(&["preview"]),
            opt("display_submitted").aliases(&["display_author_and_date"]),
            opt("menus").aliases(&["menu", "available_menus"]),
            NOTES,
        ],
        &["content_types", "content_type", "node_types", "node_type"],
    ),
    canonical(
        CsvType::Fields,
        "Fields",
        &[
            req("entity_type"),
            req("bundle"),
            req("field_name"),
            req("label").aliases(&["field_label"]),
            req("field_type"),
            opt("required"),
            opt("cardinality").aliases(&["number_of_values"]),
            opt("target_type"),
            opt("target_bundles").aliases(&["target_bundle"]),
            opt("allowed_values").aliases(&["allowed_value"]),
            opt("default_value"),
            opt("help_text").aliases(&["help"]),
            opt("widget").aliases(&["form_widget"]),
            opt("formatter").aliases(&["field_formatter"]),
            opt("translatable"),
            DESCRIPTION,
            NOTES,
        ],
        &["fields", "field"],
    ),
    canonical(
        CsvType::Vocabularies,
        "Vocabularies",
        &[
            req("machine_name"),
            req("label"),
            DESCRIPTION,
            opt("hierarchy"),
            opt("terms").aliases(&["term", "seed_terms"]),
            NOTES,
        ],
        &["vocabularies", "vocabulary", "taxonomy", "taxonomies"],
    ),
    canonical(
        CsvType::Views,
        "Views",
        &[
            req("machine_name"),
            req("label"),
            DESCRIPTION,
            opt("base_table"),
            opt("bundles").aliases(&["bundle"]),
            opt("displays").aliases(&["display"]),
            opt("path"),
            opt("items_per_page"),
            opt("exposed_filters").aliases(&["exposed_filter"]),
            opt("sort").aliases(&["sorts"]),
            opt("access_permission").aliases(&["access"]),
            NOTES,
        ],
        &["views", "view"],
    ),
    canonical(
        CsvType::Menus,
        "Menus",
        &[req("machine_name"), req("label"), DESCRIPTION, NOTES],
        &["menus", "menu"],
    ),
    canonical(
        CsvType::MenuLinks,
        "Menu links",
        &[
            req("menu"),
            req("title").aliases(&["link_title"]),
            req("link").aliases(&["url", "path"]),
            opt("parent").aliases(&["parent_link"]),
            opt("weight"),
            opt("expanded"),
            DESCRIPTION,
            NOTES,
        ],
        &["menu_links", "menu_link", "menu_items", "links"],
    ),
    canonical(
        CsvType::Roles,
        "Roles",
        &[
            req("machine_name"),
            req("label"),
            opt("permissions").aliases(&["permission"]),
            opt("is_admin").aliases(&["admin"]),
            DESCRIPTION,
            NOTES,
        ],
        &["roles", "role", "user_roles"],
    ),
    canonical(
        CsvType::MediaTypes,
        "Media types",
        &[
            req("machine_name"),
            req("label"),
            req("source").aliases(&["media_source"]),
            opt("source_field"),
            DESCRIPTION,
            NOTES,
        ],
        &["media_types", "media_type", "media"],
    ),
    canonical(
        CsvType::ParagraphTypes,
        "Paragraph types",
        &[
            req("machine_name"),
            req("label"),
            DESCRIPTION,
            opt("icon"),
            NOTES,
        ],
        &[
            "paragraph_types",
            "paragraph_type",
            "paragraphs",
            "paragraphs_types",
        ],
    ),
    canonical(
        CsvType::BlockTypes,
        "Block types",
        &[req("machine_name"), req("label"), DESCRIPTION, NOTES],
        &[
            "block_types",
            "block_type",
            "custom_block_types",
            "block_content_types",
        ],
    ),
    canonical(
        CsvType::ImageStyles,
        "Image styles",
        &[
            req("machine_name"),
            req("label"),
            opt("effects").aliases(&["effect"]),
            DESCRIPTION,
            NOTES,
        ],
        &["image_styles", "image_style"],
    ),
    canonical(
        CsvType::Workflows,
        "Workflows",
        &[
            req("machine_name"),
            req("label"),
            opt("type")
                .aliases(&["workflow_type"])
                .map(ValueMap::WorkflowTypeLabel),
            opt("states").aliases(&["state"]),
            opt("transitions").aliases(&["transition"]),
            opt("bundles").aliases(&["bundle"]),
            DESCRIPTION,
            NOTES,
        ],
        &["workflows", "workflow"],
    ),
    canonical(
        CsvType::UrlPatterns,
        "URL patterns",
        &[
            req("entity_type"),
            req("bundle"),
            req("pattern").aliases(&["alias_pattern", "path_pattern"]),
            DESCRIPTION,
            NOTES,
        ],
        &[
            "url_patterns",
            "url_pattern",
            "pathauto",
            "pathauto_patterns",
            "url_aliases",
        ],
    ),
    canonical(
        CsvType::Modules,
        "Modules",
        &[
            req("machine_name"),
            opt("name").aliases(&["label"]),
            opt("project_type"),
            opt("version"),
            opt("purpose"),
            DESCRIPTION,
            NOTES,
        ],
        &["modules", "module", "extensions"],
    ),
    // Acquia Drupal Spec Tool.
    dialect_sheet(
        "spec_tool.bundles",
        "Spec Tool \"Bundles\" sheet",
        Dialect::SpecTool,
        Target::Bundles,
        &[
            req("name").to("label"),
            req("machine_name"),
            req("type").to("bundle_type").map(ValueMap::BundleTypeLabel),
            DESCRIPTION,
            opt("source").aliases(&["media_source"]),
            opt("source_field"),
            NOTES,
        ],
        &["bundles", "bundle"],
    ),
    dialect_sheet(
        "spec_tool.fields",
        "Spec Tool \"Fields\" sheet",
        Dialect::SpecTool,
        Target::Items(CsvType::Fields),
        &[
            req("bundle").to("bundle_label"),
            req("field_label").to("label"),
            req("machine_name").to("field_name"),
            req("field_type").map(ValueMap::FieldTypeLabel),
            opt("required").map(ValueMap::Flag("required")),
            opt("cardinality"),
            opt("form_widget").to("widget"),
            opt("translatable").map(ValueMap::Flag("translatable")),
            opt("help_text"),
            opt("target_type"),
            opt("target_bundles").aliases(&["target_bundle"]),
            opt("allowed_values"),
            opt("formatter").aliases(&["field_formatter"]),
            DESCRIPTION,
            NOTES,
        ],
        &["fields", "field"],
    ),
    dialect_sheet(
        "spec_tool.views",
        "Spec Tool \"Views\" sheet",
        Dialect::SpecTool,
        Target::Items(CsvType::Views),
        &[
            req("name").to("label"),
            req("machine_name"),
            req("base_table").map(ValueMap::BaseTableLabel),
            opt("status").to(""),
            DESCRIPTION,
            NOTES,
        ],
        &["views", "view"],
    ),
    dialect_sheet(
        "spec_tool.views_displays",
        "Spec Tool \"Views displays\" sheet",
        Dialect::SpecTool,
        Target::Child(Child::ViewDisplays),
        &[
            req("view").to("parent"),
            opt("title").to(""),
            opt("machine_name").to(""),
            req("display_plugin")
                .to("value")
                .map(ValueMap::DisplayPluginLabel),
            DESCRIPTION,
            NOTES,
        ],
        &["views_displays", "view_displays", "displays"],
    ),
    dialect_sheet(
        "spec_tool.menus",
        "Spec Tool \"Menus\" sheet",
        Dialect::SpecTool,
        Target::Items(CsvType::Menus),
        &[
            req("name").to("label"),
            req("machine_name"),
            DESCRIPTION,
            NOTES,
        ],
        &["menus", "menu"],
    ),
    dialect_sheet(
        "spec_tool.image_styles",
        "Spec Tool \"Image styles\" sheet",
        Dialect::SpecTool,
        Target::Items(CsvType::ImageStyles),
        &[
            req("style_name").to("label"),
            req("machine_name"),
            DESCRIPTION,
            NOTES,
        ],
        &["image_styles", "image_style"],
    ),
    dialect_sheet(
        "spec_tool.image_effects",
        "Spec Tool \"Image effects\" sheet",
        Dialect::SpecTool,
        Target::Child(Child::ImageEffects),
        &[
            req("image_style").to("parent"),
            req("effect").to("value").map(ValueMap::EffectLabel),
            opt("summary"),
            DESCRIPTION,
            NOTES,
        ],
        &["image_effects", "image_effect", "effects"],
    ),
    dialect_sheet(
        "spec_tool.workflow_states",
        "Spec Tool \"Workflow states\" sheet",
        Dialect::SpecTool,
        Target::Child(Child::WorkflowStates),
        &[
            req("workflow").to("parent"),
            req("label"),
            req("machine_name"),
            DESCRIPTION,
            NOTES,
        ],
        &["workflow_states", "states"],
    ),
    dialect_sheet(
        "spec_tool.workflow_transitions",
        "Spec Tool \"Workflow transitions\" sheet",
        Dialect::SpecTool,
        Target::Child(Child::WorkflowTransitions),
        &[
            req("workflow").to("parent"),
            opt("label"),
            opt("machine_name"),
            req("from_state"),
            req("to_state"),
            DESCRIPTION,
            NOTES,
        ],
        &["workflow_transitions", "transitions"],
    ),
    dialect_sheet(
        "spec_tool.roles",
        "Spec Tool \"Roles\" sheet",
        Dialect::SpecTool,
        Target::Items(CsvType::Roles),
        &[
            req("name").to("label"),
            req("machine_name"),
            DESCRIPTION,
            NOTES,
        ],
        &["roles", "role"],
    ),
    dialect_sheet(
        "spec_tool.role_permissions",
        "Spec Tool permissions sheet",
        Dialect::SpecTool,
        Target::Child(Child::RolePermissions),
        &[
            req("role").to("parent"),
            req("permission").to("value"),
            DESCRIPTION,
            NOTES,
        ],
        &["role_permissions", "permissions", "permission"],
    ),
    // Drush --format=csv outputs.
    dialect_sheet(
        "drush.views_list",
        "Drush views:list output",
        Dialect::Drush,
        Target::Items(CsvType::Views),
        &[
            req("machine_name"),
            req("name").to("label"),
            opt("description"),
            req("status").to(""),
            opt("tag").to(""),
        ],
        &["views_list", "views"],
    ),
    Sheet {
        id: "drush.pm_list",
        title: "Drush pm:list output",
        dialect: Dialect::Drush,
        target: Target::Items(CsvType::Modules),
        columns: &[
            req("package").to(""),
            opt("project").to(""),
            req("name")
                .to("machine_name")
                .map(ValueMap::ModuleMachineName),
            opt("name_2").to("name").map(ValueMap::ModuleLabel),
            opt("type").to(""),
            opt("path")
                .to("project_type")
                .map(ValueMap::PathProjectType),
            req("status").to(""),
            opt("version"),
        ],
        file_names: &["pm_list", "modules", "extensions"],
        filter: RowFilter::EnabledModules,
    },
    dialect_sheet(
        "drush.role_list",
        "Drush role:list output",
        Dialect::Drush,
        Target::Items(CsvType::Roles),
        &[
            req("id").to("machine_name"),
            req("role_label").to("label"),
            opt("permissions").map(ValueMap::CommaList),
        ],
        &["role_list", "roles"],
    ),
    dialect_sheet(
        "drush.field_info",
        "Drush field:info output",
        Dialect::Drush,
        Target::Items(CsvType::Fields),
        &[
            req("label"),
            opt("description"),
            req("field_name"),
            req("field_type"),
            opt("required").map(ValueMap::Tick),
            opt("translatable").map(ValueMap::Tick),
            opt("cardinality"),
            opt("default_value"),
            opt("default_value_callback").to(""),
            opt("allowed_values").map(ValueMap::CommaList),
            opt("allowed_values_function").to(""),
            opt("selection_handler")
                .to("target_type")
                .map(ValueMap::SelectionHandler),
            opt("target_bundles").map(ValueMap::CommaList),
        ],
        &["field_info"],
    ),
];

/// Field types the registry knows; others are a warning.
pub const FIELD_TYPES: &[&str] = &[
    "string",
    "string_long",
    "text",
    "text_long",
    "text_with_summary",
    "boolean",
    "integer",
    "decimal",
    "float",
    "list_string",
    "list_integer",
    "list_float",
    "email",
    "telephone",
    "link",
    "datetime",
    "daterange",
    "timestamp",
    "image",
    "file",
    "entity_reference",
    "entity_reference_revisions",
    "address",
    "geofield",
    "smartdate",
    "metatag",
    "viewsreference",
    "webform",
];

/// Entity types a field may be attached to.
pub const ENTITY_TYPES: &[&str] = &[
    "node",
    "taxonomy_term",
    "user",
    "media",
    "paragraph",
    "block_content",
    "comment",
    "contact_message",
];

/// Entity type labels, as Drupal shows them (lower-case), and their machine names.
pub const ENTITY_TYPE_LABELS: &[(&str, &str)] = &[
    ("content", "node"),
    ("content item", "node"),
    ("taxonomy term", "taxonomy_term"),
    ("term", "taxonomy_term"),
    ("user", "user"),
    ("media", "media"),
    ("media item", "media"),
    ("paragraph", "paragraph"),
    ("paragraphs", "paragraph"),
    ("content block", "block_content"),
    ("custom block", "block_content"),
    ("block content", "block_content"),
    ("comment", "comment"),
    ("contact message", "contact_message"),
];

/// The entity type machine name a cell means: the machine name in any case
/// (`Node`), Drupal's label (`Content`, `Taxonomy term`, `Content block`), or
/// Pathauto's pattern type (`canonical_entities:node`). `None` for anything else.
#[must_use]
pub fn entity_type(value: &str) -> Option<&'static str> {
    let value = value.trim();
    let value = value
        .get(..19)
        .filter(|p| p.eq_ignore_ascii_case("canonical_entities:"))
        .map_or(value, |_| &value[19..]);
    let lower = value.to_ascii_lowercase();
    ENTITY_TYPES
        .iter()
        .find(|t| **t == lower)
        .copied()
        .or_else(|| lookup(ENTITY_TYPE_LABELS, value))
}

/// The field type a cell means: a machine name in any case, with or without
/// Drupal's typed-data prefix (`field_item:string`), or a Spec Tool / Field UI
/// label (`Text (plain)`). A type the registry does not know is kept as
/// written (lower-cased when it is a machine name in capitals).
#[must_use]
pub fn field_type(value: &str) -> String {
    let value = value.trim();
    let bare = value
        .get(..11)
        .filter(|p| p.eq_ignore_ascii_case("field_item:"))
        .map_or(value, |_| &value[11..])
        .trim();
    let lower = bare.to_lowercase();
    if FIELD_TYPES.contains(&lower.as_str()) {
        return lower;
    }
    // The providing module in front: `text:text_long`, `datetime_range.daterange`.
    if let Some((_, short)) = lower.rsplit_once([':', '.'])
        && FIELD_TYPES.contains(&short)
    {
        return short.to_owned();
    }
    if let Some(m) = lookup(FIELD_TYPE_LABELS, bare) {
        return m.to_owned();
    }
    if super::values::is_machine_name(&lower, false) {
        lower
    } else {
        value.to_owned()
    }
}

/// The base table a cell means: the table in any case, or its label
/// (`Content`, `Taxonomy terms`, `Log entries`); anything else as written.
#[must_use]
pub fn base_table(value: &str) -> String {
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    if BASE_TABLES.iter().any(|(t, _)| *t == lower) || KNOWN_TABLES.contains(&lower.as_str()) {
        return lower;
    }
    lookup(BASE_TABLE_LABELS, value).map_or_else(|| value.to_owned(), str::to_owned)
}

/// Media source plugin labels, as Drupal shows them (lower-case), and their ids.
pub const MEDIA_SOURCE_LABELS: &[(&str, &str)] = &[
    ("audio file", "audio_file"),
    ("video file", "video_file"),
    ("remote video", "oembed:video"),
    ("oembed video", "oembed:video"),
];

/// Media source plugins.
pub const MEDIA_SOURCES: &[&str] = &[
    "image",
    "file",
    "audio_file",
    "video_file",
    "oembed:video",
    "oembed:remote_video",
];

/// View display plugins.
pub const DISPLAY_TYPES: &[&str] = &[
    "page",
    "block",
    "feed",
    "attachment",
    "entity_reference",
    "rest_export",
    "embed",
];

/// The display plugin a cell means: the plugin id in any case (`Page`), its
/// label (`REST export`), or a display id as Views names displays
/// (`page_1`, `feed_2`, `page_published`); `""` for the default display every
/// view has.
#[must_use]
pub fn display_plugin(value: &str) -> Option<&'static str> {
    let lower = value.trim().to_lowercase();
    let known = |v: &str| {
        DISPLAY_TYPES
            .iter()
            .chain(DISPLAY_PLUGIN_LABELS.iter().map(|(_, t)| t))
            .find(|t| !t.is_empty() && **t == v)
            .copied()
    };
    if let Some(t) = known(&lower) {
        return Some(t);
    }
    if let Some(t) = lookup(DISPLAY_PLUGIN_LABELS, value) {
        return Some(t);
    }
    // Views names a display `<plugin>_<n>` (`page_1`), or as its builder chose
    // (`page_published`): the longest plugin the id starts with.
    if lower.starts_with("default_") {
        return Some("");
    }
    DISPLAY_TYPES
        .iter()
        .filter(|t| {
            lower
                .strip_prefix(**t)
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('_'))
        })
        .max_by_key(|t| t.len())
        .copied()
}

/// Image effects (`name:arguments`), by their short names.
pub const IMAGE_EFFECTS: &[&str] = &[
    "scale",
    "scale_and_crop",
    "crop",
    "resize",
    "rotate",
    "desaturate",
    "convert",
    "convert_avif",
];

/// Content preview modes.
pub const PREVIEW_MODES: &[&str] = &["optional", "required", "disabled"];

/// Preview modes as Drupal stores them (`DRUPAL_DISABLED` is 0, ...).
pub const PREVIEW_MODE_ALIASES: &[(&str, &str)] =
    &[("0", "disabled"), ("1", "optional"), ("2", "required")];

/// Vocabulary hierarchies.
pub const HIERARCHIES: &[&str] = &["flat", "single", "multiple"];

/// Hierarchies as Drupal numbers them (`VocabularyInterface::HIERARCHY_*`).
pub const HIERARCHY_ALIASES: &[(&str, &str)] = &[("0", "flat"), ("1", "single"), ("2", "multiple")];

/// Module project types.
pub const PROJECT_TYPES: &[&str] = &["core", "contrib", "custom"];

/// Project types in the words drupal.org and Drush use.
pub const PROJECT_TYPE_ALIASES: &[(&str, &str)] =
    &[("contributed", "contrib"), ("drupal core", "core")];

/// Base tables and the entity types whose bundles they list.
const BASE_TABLES: &[(&str, &str)] = &[
    ("node_field_data", "node"),
    ("node_field_revision", "node"),
    ("taxonomy_term_field_data", "taxonomy_term"),
    ("users_field_data", "user"),
    ("media_field_data", "media"),
    ("block_content_field_data", "block_content"),
    ("comment_field_data", "comment"),
    ("paragraphs_item_field_data", "paragraph"),
];

/// Base tables of core views that list no bundles.
const KNOWN_TABLES: &[&str] = &["file_managed", "watchdog"];

/// The entity type a view's base table lists, when the table is known.
#[must_use]
pub fn base_table_entity_type(table: &str) -> Option<&'static str> {
    BASE_TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, e)| *e)
}

/// Human field-type labels of the Spec Tool (lower-case) and their machine types.
pub const FIELD_TYPE_LABELS: &[(&str, &str)] = &[
    ("text (plain)", "string"),
    ("text (plain, long)", "string_long"),
    ("text (formatted)", "text"),
    ("text (formatted, long)", "text_long"),
    ("text (formatted, long, with summary)", "text_with_summary"),
    ("boolean", "boolean"),
    ("number (integer)", "integer"),
    ("number (decimal)", "decimal"),
    ("number (float)", "float"),
    ("list (text)", "list_string"),
    ("list (integer)", "list_integer"),
    ("list (float)", "list_float"),
    ("email", "email"),
    ("telephone number", "telephone"),
    ("telephone", "telephone"),
    ("link", "link"),
    ("date", "datetime"),
    ("date range", "daterange"),
    ("timestamp", "timestamp"),
    ("image", "image"),
    ("file", "file"),
    ("entity reference", "entity_reference"),
    ("entity reference revisions", "entity_reference_revisions"),
    ("address", "address"),
    ("geofield", "geofield"),
    ("smart date range", "smartdate"),
    ("smart date", "smartdate"),
    ("meta tags", "metatag"),
    ("viewsreference", "viewsreference"),
    ("views reference", "viewsreference"),
    ("webform", "webform"),
    ("comments", "comment"),
];

/// Human base-table labels (lower-case) and their tables.
pub const BASE_TABLE_LABELS: &[(&str, &str)] = &[
    ("content", "node_field_data"),
    ("content revisions", "node_field_revision"),
    ("media", "media_field_data"),
    ("users", "users_field_data"),
    ("files", "file_managed"),
    ("taxonomy terms", "taxonomy_term_field_data"),
    ("custom block", "block_content_field_data"),
    ("comments", "comment_field_data"),
    ("comment", "comment_field_data"),
    ("log entries", "watchdog"),
    ("paragraphs", "paragraphs_item_field_data"),
    ("paragraph", "paragraphs_item_field_data"),
    ("user", "users_field_data"),
    ("file", "file_managed"),
    ("taxonomy term", "taxonomy_term_field_data"),
    ("content block", "block_content_field_data"),
];

/// Human display-plugin labels (lower-case) and their plugins; `default` is the
/// master display every view has, so it adds nothing.
pub const DISPLAY_PLUGIN_LABELS: &[(&str, &str)] = &[
    ("default", ""),
    ("master", ""),
    ("page", "page"),
    ("block", "block"),
    ("feed", "feed"),
    ("attachment", "attachment"),
    ("entity reference", "entity_reference"),
    ("rest export", "rest_export"),
    ("entity browser", "entity_browser"),
    ("embed", "embed"),
    ("data export", "data_export"),
];

/// Human image-effect labels (lower-case) and their short names.
pub const EFFECT_LABELS: &[(&str, &str)] = &[
    ("scale", "scale"),
    ("scale and crop", "scale_and_crop"),
    ("crop", "crop"),
    ("resize", "resize"),
    ("rotate", "rotate"),
    ("desaturate", "desaturate"),
    ("convert", "convert"),
    ("convert avif", "convert_avif"),
    ("convert to avif", "convert_avif"),
];

/// Human workflow-type labels (lower-case) and their plugins.
pub const WORKFLOW_TYPE_LABELS: &[(&str, &str)] = &[("content moderation", "content_moderation")];

/// Spec Tool bundle types (lower-case) and the CSV type they become.
pub const BUNDLE_TYPE_LABELS: &[(&str, CsvType)] = &[
    ("content type", CsvType::ContentTypes),
    ("media type", CsvType::MediaTypes),
    ("custom block type", CsvType::BlockTypes),
    ("block type", CsvType::BlockTypes),
    ("vocabulary", CsvType::Vocabularies),
    ("taxonomy vocabulary", CsvType::Vocabularies),
    ("paragraph type", CsvType::ParagraphTypes),
    ("paragraphs type", CsvType::ParagraphTypes),
];

/// Which module provides a Drupal permission, for the permissions with fixed
/// names: Drupal core's `*.permissions.yml` (as of core 11.3, where
/// `access content` and `administer menu` are System's) and the contrib
/// modules the registry knows. A permission not listed here may come from a
/// custom module; it is not an error.
pub const PERMISSION_MODULES: &[(&str, &str)] = &[
    // system
    ("administer modules", "system"),
    ("administer site configuration", "system"),
    ("administer themes", "system"),
    ("administer software updates", "system"),
    ("access administration pages", "system"),
    ("access site in maintenance mode", "system"),
    ("view the administration theme", "system"),
    ("access content", "system"),
    ("access site reports", "system"),
    ("link to any page", "system"),
    ("administer menu", "system"),
    // user
    ("administer permissions", "user"),
    ("administer account settings", "user"),
    ("administer users", "user"),
    ("access user profiles", "user"),
    ("change own username", "user"),
    ("select account cancellation method", "user"),
    ("cancel account", "user"),
    // node
    ("bypass node access", "node"),
    ("administer content types", "node"),
    ("administer nodes", "node"),
    ("access content overview", "node"),
    ("view own unpublished content", "node"),
    ("view all revisions", "node"),
    ("revert all revisions", "node"),
    ("delete all revisions", "node"),
    ("rebuild node access permissions", "node"),
    // comment
    ("administer comments", "comment"),
    ("administer comment types", "comment"),
    ("access comments", "comment"),
    ("post comments", "comment"),
    ("skip comment approval", "comment"),
    ("edit own comments", "comment"),
    // taxonomy
    ("administer taxonomy", "taxonomy"),
    ("access taxonomy overview", "taxonomy"),
    // file
    ("access files overview", "file"),
    ("edit own files", "file"),
    ("edit any files", "file"),
    ("delete own files", "file"),
    ("delete any files", "file"),
    // search, shortcut, contextual, toolbar, path, filter, help
    ("administer search", "search"),
    ("search content", "search"),
    ("use advanced search", "search"),
    ("administer shortcuts", "shortcut"),
    ("customize shortcut links", "shortcut"),
    ("switch shortcut sets", "shortcut"),
    ("access shortcuts", "shortcut"),
    ("access contextual links", "contextual"),
    ("access toolbar", "toolbar"),
    ("administer url aliases", "path"),
    ("create url aliases", "path"),
    ("administer filters", "filter"),
    ("access help pages", "help"),
    // block, block_content
    ("administer blocks", "block"),
    ("access block library", "block_content"),
    ("administer block types", "block_content"),
    ("administer block content", "block_content"),
    // media
    ("administer media", "media"),
    ("administer media types", "media"),
    ("view media", "media"),
    ("update media", "media"),
    ("update any media", "media"),
    ("delete media", "media"),
    ("delete any media", "media"),
    ("create media", "media"),
    // views, field_ui, image, contact, config, announcements
    ("administer views", "views_ui"),
    ("access all views", "views"),
    ("administer display modes", "field_ui"),
    ("administer image styles", "image"),
    ("administer contact forms", "contact"),
    ("access site-wide contact form", "contact"),
    ("access user contact forms", "contact"),
    ("synchronize configuration", "config"),
    ("export configuration", "config"),
    ("import configuration", "config"),
    ("access announcements", "announcements_feed"),
    // workflows, content_moderation
    ("administer workflows", "workflows"),
    ("view any unpublished content", "content_moderation"),
    ("view content moderation", "content_moderation"),
    ("view latest version", "content_moderation"),
    // language, locale, content_translation
    ("administer languages", "language"),
    ("translate interface", "locale"),
    ("administer content translation", "content_translation"),
    ("create content translations", "content_translation"),
    ("update content translations", "content_translation"),
    ("delete content translations", "content_translation"),
    ("translate any entity", "content_translation"),
    ("translate editable entities", "content_translation"),
    // contrib
    ("administer pathauto", "pathauto"),
    ("notify of path changes", "pathauto"),
    ("administer paragraphs types", "paragraphs"),
    ("administer meta tags", "metatag"),
    ("administer webform", "webform"),
    ("administer webform submission", "webform"),
    ("access webform overview", "webform"),
    ("create webform", "webform"),
];

/// Permissions Drupal builds from a bundle, a text format, a workflow or an
/// entity type, as templates where `*` stands for one machine name, and the
/// module that provides them.
pub const PERMISSION_PATTERNS: &[(&str, &str)] = &[
    ("create * content", "node"),
    ("edit own * content", "node"),
    ("edit any * content", "node"),
    ("delete own * content", "node"),
    ("delete any * content", "node"),
    ("view * revisions", "node"),
    ("revert * revisions", "node"),
    ("delete * revisions", "node"),
    ("create terms in *", "taxonomy"),
    ("edit terms in *", "taxonomy"),
    ("delete terms in *", "taxonomy"),
    ("create * media", "media"),
    ("edit own * media", "media"),
    ("edit any * media", "media"),
    ("delete own * media", "media"),
    ("delete any * media", "media"),
    ("create * block content", "block_content"),
    ("edit any * block content", "block_content"),
    ("delete any * block content", "block_content"),
    ("use text format *", "filter"),
    ("use * transition *", "content_moderation"),
    ("administer * fields", "field_ui"),
    ("administer * form display", "field_ui"),
    ("administer * display", "field_ui"),
];

/// The module that provides a Drupal permission, when the registry knows it:
/// an exact name first, then the patterns Drupal builds names from.
#[must_use]
pub fn permission_module(permission: &str) -> Option<&'static str> {
    let words: Vec<&str> = permission.split_whitespace().collect();
    let wanted = words.join(" ");
    if let Some((_, module)) = PERMISSION_MODULES.iter().find(|(p, _)| *p == wanted) {
        return Some(module);
    }
    PERMISSION_PATTERNS
        .iter()
        .find(|(template, _)| {
            let parts: Vec<&str> = template.split(' ').collect();
            parts.len() == words.len() && parts.iter().zip(&words).all(|(t, w)| *t == "*" || t == w)
        })
        .map(|(_, module)| *module)
}

/// Looks a human label up in a table, ignoring case and repeated spaces.
#[must_use]
pub fn lookup<T: Copy>(table: &[(&str, T)], label: &str) -> Option<T> {
    let wanted = label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    table.iter().find(|(l, _)| *l == wanted).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_one_canonical_sheet() {
        for ty in CsvType::ALL {
            let n = SHEETS
                .iter()
                .filter(|s| s.dialect == Dialect::Canonical && s.target == Target::Items(ty))
                .count();
            assert_eq!(n, 1, "{ty}");
            assert_eq!(ty.sheet().id, ty.as_str());
        }
    }

    #[test]
    fn sheet_ids_are_unique_and_headers_normalised() {
        let mut ids: Vec<_> = SHEETS.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SHEETS.len());
        for sheet in SHEETS {
            for col in sheet.columns {
                for h in std::iter::once(&col.header).chain(col.aliases) {
                    assert_eq!(&super::super::read::normalise_header(h), h, "{}", sheet.id);
                }
            }
        }
    }

    #[test]
    fn values_as_drupal_writes_them() {
        assert_eq!(entity_type("Content"), Some("node"));
        assert_eq!(entity_type("Taxonomy term"), Some("taxonomy_term"));
        assert_eq!(entity_type("Custom block"), Some("block_content"));
        assert_eq!(entity_type("canonical_entities:node"), Some("node"));
        assert_eq!(entity_type("NODE"), Some("node"));
        assert_eq!(entity_type("nodes"), None);
        assert_eq!(field_type("field_item:string"), "string");
        assert_eq!(field_type("text:text_long"), "text_long");
        assert_eq!(field_type("datetime_range.daterange"), "daterange");
        assert_eq!(field_type("Text (plain)"), "string");
        assert_eq!(field_type("Comment"), "comment");
        assert_eq!(field_type("Fancy thing"), "Fancy thing");
        assert_eq!(base_table("Log entries"), "watchdog");
        assert_eq!(base_table("NODE_FIELD_DATA"), "node_field_data");
        assert_eq!(display_plugin("page_1"), Some("page"));
        assert_eq!(display_plugin("default"), Some(""));
        assert_eq!(display_plugin("REST export"), Some("rest_export"));
        assert_eq!(display_plugin("page_published"), Some("page"));
        assert_eq!(display_plugin("rest_export_1"), Some("rest_export"));
        assert_eq!(display_plugin("carousel"), None);
        assert_eq!(display_plugin("page_"), None);
    }

    #[test]
    fn permissions_name_the_modules_that_provide_them() {
        assert_eq!(permission_module("access comments"), Some("comment"));
        assert_eq!(permission_module("search content"), Some("search"));
        assert_eq!(permission_module("access content"), Some("system"));
        assert_eq!(permission_module("access  toolbar"), Some("toolbar"));
        assert_eq!(permission_module("administer url aliases"), Some("path"));
        assert_eq!(permission_module("view all revisions"), Some("node"));
        assert_eq!(
            permission_module("view any unpublished content"),
            Some("content_moderation")
        );
        assert_eq!(permission_module("administer pathauto"), Some("pathauto"));
        // Bundle patterns.
        assert_eq!(permission_module("create article content"), Some("node"));
        assert_eq!(permission_module("delete page revisions"), Some("node"));
        assert_eq!(permission_module("edit terms in tags"), Some("taxonomy"));
        assert_eq!(permission_module("edit own image media"), Some("media"));
        assert_eq!(
            permission_module("edit any alert block content"),
            Some("block_content")
        );
        assert_eq!(
            permission_module("use text format basic_html"),
            Some("filter")
        );
        assert_eq!(
            permission_module("use editorial transition publish"),
            Some("content_moderation")
        );
        assert_eq!(
            permission_module("administer node form display"),
            Some("field_ui")
        );
        assert_eq!(
            permission_module("administer node display"),
            Some("field_ui")
        );
        // Unknown (a custom module's) permissions and near misses name none.
        assert_eq!(permission_module("administer uwec catalog sync"), None);
        assert_eq!(permission_module("create content"), None);
        assert_eq!(permission_module("create article page content"), None);
    }

    #[test]
    fn permission_tables_hold_each_name_once() {
        let mut names: Vec<_> = PERMISSION_MODULES.iter().map(|(p, _)| *p).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PERMISSION_MODULES.len());
        for (p, _) in PERMISSION_MODULES {
            assert_eq!(p.split_whitespace().collect::<Vec<_>>().join(" "), *p);
            assert!(!p.contains('*'), "{p}");
        }
    }

    #[test]
    fn labels_are_found_regardless_of_case_and_spacing() {
        assert_eq!(lookup(FIELD_TYPE_LABELS, "Text  (Plain)"), Some("string"));
        assert_eq!(
            lookup(BASE_TABLE_LABELS, "Taxonomy terms"),
            Some("taxonomy_term_field_data")
        );
        assert_eq!(
            lookup(BUNDLE_TYPE_LABELS, "Content type"),
            Some(CsvType::ContentTypes)
        );
        assert_eq!(lookup(EFFECT_LABELS, "Unknown"), None);
    }
}

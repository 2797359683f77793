//! Config items: what each CSV row becomes once read and checked.
//!
//! Every item carries the Drupal config name it will have on the site
//! (`node.type.event`, `field.field.node.event.field_event_date`, ...), so the
//! planner and a reviewer can compare the plan with `drush config:export`.
//! Menu links and modules are not config entities in Drupal; their keys
//! (`menu_link_content.<menu>.<link>`, `module.<name>`) follow the same shape.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::csv::CsvType;

/// One buildable piece of site configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigItem {
    /// Drupal config name (or the equivalent key for non-config items).
    pub key: String,
    /// The CSV type the item came from.
    #[serde(rename = "type")]
    pub csv_type: CsvType,
    /// Human label (the title, for menu links; the pattern, for URL patterns).
    pub label: String,
    /// Optional description from the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Optional notes from the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Where the item was defined.
    pub source: SourceRef,
    /// Columns the registry does not know, as written in the file: kept as context.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub extra: BTreeMap<String, String>,
    /// The type-specific settings.
    pub data: ItemData,
}

/// The file and line an item was defined on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// File name as uploaded.
    pub file: String,
    /// 1-based line of the CSV record.
    pub line: u32,
}

/// Type-specific settings of a config item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemData {
    /// A node bundle.
    ContentType(ContentType),
    /// A field on a bundle.
    Field(Field),
    /// A taxonomy vocabulary.
    Vocabulary(Vocabulary),
    /// A view.
    View(View),
    /// A menu.
    Menu(Menu),
    /// A menu link.
    MenuLink(MenuLink),
    /// A user role.
    Role(Role),
    /// A media type.
    MediaType(MediaType),
    /// A paragraph type.
    ParagraphType(ParagraphType),
    /// A custom block type.
    BlockType(BlockType),
    /// An image style.
    ImageStyle(ImageStyle),
    /// A workflow.
    Workflow(Workflow),
    /// A URL alias pattern.
    UrlPattern(UrlPattern),
    /// A module to enable.
    Module(Module),
}

/// A content type (`node.type.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentType {
    /// Machine name.
    pub machine_name: String,
    /// Create new revisions by default.
    pub revisions: Option<bool>,
    /// New content published by default.
    pub published_by_default: Option<bool>,
    /// `optional`, `required` or `disabled`.
    pub preview_mode: Option<String>,
    /// Display author and date.
    pub display_submitted: Option<bool>,
    /// Menus available when editing this type.
    pub menus: Vec<String>,
}

/// A field (`field.field.<entity_type>.<bundle>.<field_name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Entity type the bundle belongs to.
    pub entity_type: String,
    /// Bundle machine name.
    pub bundle: String,
    /// Field machine name.
    pub field_name: String,
    /// Field type machine name (kept as written when unknown).
    pub field_type: String,
    /// Whether a value is required.
    pub required: bool,
    /// Number of values; -1 means unlimited.
    pub cardinality: i32,
    /// Target entity type of a reference field.
    pub target_type: Option<String>,
    /// Target bundles of a reference field.
    pub target_bundles: Vec<String>,
    /// Allowed values of a list field.
    pub allowed_values: Vec<AllowedValue>,
    /// Default value as written.
    pub default_value: Option<String>,
    /// Help text shown to editors.
    pub help_text: Option<String>,
    /// Form widget plugin.
    pub widget: Option<String>,
    /// Display formatter plugin.
    pub formatter: Option<String>,
    /// Whether the field is translatable.
    pub translatable: Option<bool>,
}

impl Field {
    /// The field storage config name shared by every bundle using this field.
    #[must_use]
    pub fn storage_key(&self) -> String {
        format!("field.storage.{}.{}", self.entity_type, self.field_name)
    }

    /// Whether the field references other entities.
    #[must_use]
    pub fn is_reference(&self) -> bool {
        matches!(
            self.field_type.as_str(),
            "entity_reference" | "entity_reference_revisions"
        )
    }
}

/// One allowed value of a list field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedValue {
    /// Stored key.
    pub key: String,
    /// Label shown to editors.
    pub label: String,
}

/// A taxonomy vocabulary (`taxonomy.vocabulary.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Machine name.
    pub machine_name: String,
    /// `flat`, `single` or `multiple`.
    pub hierarchy: Option<String>,
    /// Seed terms.
    pub terms: Vec<String>,
}

/// A view (`views.view.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Machine name.
    pub machine_name: String,
    /// Base table (default `node_field_data`).
    pub base_table: String,
    /// Bundles listed.
    pub bundles: Vec<String>,
    /// Display plugins (`page`, `block`, ...).
    pub displays: Vec<String>,
    /// Page path.
    pub path: Option<String>,
    /// Items per page.
    pub items_per_page: Option<u32>,
    /// Exposed filters (field names).
    pub exposed_filters: Vec<String>,
    /// Sort, as written (`field_event_date ASC`).
    pub sort: Option<String>,
    /// Permission needed to see the view.
    pub access_permission: Option<String>,
}

impl View {
    /// The entity type whose bundles the view lists, when the base table is known.
    #[must_use]
    pub fn entity_type(&self) -> Option<&'static str> {
        crate::csv::registry::base_table_entity_type(&self.base_table)
    }
}

/// A menu (`system.menu.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Menu {
    /// Machine name (hyphens allowed).
    pub machine_name: String,
}

/// A menu link (a `menu_link_content` entity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuLink {
    /// Menu machine name.
    pub menu: String,
    /// Link title.
    pub title: String,
    /// Path or URL.
    pub link: String,
    /// Title of the parent link in the same menu.
    pub parent: Option<String>,
    /// Weight.
    pub weight: Option<i64>,
    /// Show as expanded.
    pub expanded: Option<bool>,
}

/// A user role (`user.role.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Machine name.
    pub machine_name: String,
    /// Permissions granted.
    pub permissions: Vec<String>,
    /// Administrator role.
    pub is_admin: bool,
}

/// A media type (`media.type.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaType {
    /// Machine name.
    pub machine_name: String,
    /// Source plugin (`image`, `oembed:video`, ...).
    pub source: Option<String>,
    /// Source field name.
    pub source_field: Option<String>,
}

/// A paragraph type (`paragraphs.paragraphs_type.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParagraphType {
    /// Machine name.
    pub machine_name: String,
    /// Icon file name.
    pub icon: Option<String>,
}

/// A custom block type (`block_content.type.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockType {
    /// Machine name.
    pub machine_name: String,
}

/// An image style (`image.style.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStyle {
    /// Machine name.
    pub machine_name: String,
    /// Effects in order.
    pub effects: Vec<ImageEffect>,
}

/// One image effect, `name:arguments` in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEffect {
    /// Effect name (`scale`, `scale_and_crop`, `convert`, ...).
    pub name: String,
    /// Arguments as written (`1200x`, `480x320`, `webp`).
    pub arguments: String,
}

/// A workflow (`workflows.workflow.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    /// Machine name.
    pub machine_name: String,
    /// Workflow type plugin (default `content_moderation`).
    pub workflow_type: String,
    /// State machine names.
    pub states: Vec<String>,
    /// Transitions between states.
    pub transitions: Vec<Transition>,
    /// Bundles moderated.
    pub bundles: Vec<BundleRef>,
}

/// A workflow transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// From state.
    pub from: String,
    /// To state.
    pub to: String,
}

/// A bundle of an entity type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BundleRef {
    /// Entity type.
    pub entity_type: String,
    /// Bundle machine name.
    pub bundle: String,
}

/// A URL alias pattern (`pathauto.pattern.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlPattern {
    /// Entity type.
    pub entity_type: String,
    /// Bundle.
    pub bundle: String,
    /// Pattern (`/news/[node:title]`).
    pub pattern: String,
}

/// A module to enable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// Machine name.
    pub machine_name: String,
    /// `core`, `contrib` or `custom`.
    pub project_type: Option<String>,
    /// Version constraint.
    pub version: Option<String>,
    /// Why the site needs it.
    pub purpose: Option<String>,
}

impl ConfigItem {
    /// The item in a site builder's words: `field 'field_tags' of node bundle 'news'`.
    #[must_use]
    pub fn describe(&self) -> String {
        let noun = self.csv_type.item_noun();
        match &self.data {
            ItemData::Field(f) => {
                format!(
                    "field '{}' of {} bundle '{}'",
                    f.field_name, f.entity_type, f.bundle
                )
            }
            ItemData::MenuLink(l) => format!("menu link '{}' of menu '{}'", l.title, l.menu),
            ItemData::UrlPattern(p) => {
                format!("URL pattern of {} bundle '{}'", p.entity_type, p.bundle)
            }
            _ => format!(
                "{noun} '{}'",
                self.key.rsplit('.').next().unwrap_or(&self.key)
            ),
        }
    }

    /// The bundle this item defines, if it is a bundle-like item.
    #[must_use]
    pub fn defines_bundle(&self) -> Option<BundleRef> {
        let (entity_type, bundle) = match &self.data {
            ItemData::ContentType(t) => ("node", &t.machine_name),
            ItemData::Vocabulary(v) => ("taxonomy_term", &v.machine_name),
            ItemData::MediaType(m) => ("media", &m.machine_name),
            ItemData::ParagraphType(p) => ("paragraph", &p.machine_name),
            ItemData::BlockType(b) => ("block_content", &b.machine_name),
            _ => return None,
        };
        Some(BundleRef {
            entity_type: entity_type.to_owned(),
            bundle: bundle.clone(),
        })
    }
}

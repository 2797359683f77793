//! Item dependencies, derived from the data the way Drupal derives config
//! dependencies: a field needs its bundle and the bundles it references, a
//! view the bundles and fields it lists, a role the bundles its permissions
//! name and the modules that provide them, and so on. Never from the ticket
//! writer or a model.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::csv::registry::permission_module;
use crate::item::{ConfigItem, ItemData};

/// `from` needs `to` to exist first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemDependency {
    /// The item that needs the other.
    pub from: String,
    /// The item needed.
    pub to: String,
    /// Why, in words (`field on bundle`, `references bundle`, ...).
    pub reason: &'static str,
}

/// The config key of the bundle item of an entity type, when bundles of that
/// type are config items of the registry.
#[must_use]
pub fn bundle_key(entity_type: &str, bundle: &str) -> Option<String> {
    let prefix = match entity_type {
        "node" => "node.type",
        "taxonomy_term" => "taxonomy.vocabulary",
        "media" => "media.type",
        "paragraph" => "paragraphs.paragraphs_type",
        "block_content" => "block_content.type",
        _ => return None,
    };
    Some(format!("{prefix}.{bundle}"))
}

/// The module that provides a field type, where one does.
#[must_use]
pub fn field_type_module(field_type: &str) -> Option<&'static str> {
    Some(match field_type {
        "text" | "text_long" | "text_with_summary" => "text",
        "list_string" | "list_integer" | "list_float" => "options",
        "datetime" => "datetime",
        "daterange" => "datetime_range",
        "link" => "link",
        "image" => "image",
        "file" => "file",
        "telephone" => "telephone",
        "comment" => "comment",
        "entity_reference_revisions" => "entity_reference_revisions",
        "address" => "address",
        "geofield" => "geofield",
        "smartdate" => "smart_date",
        "metatag" => "metatag",
        "viewsreference" => "viewsreference",
        "webform" => "webform",
        _ => return None,
    })
}

/// The modules an item needs beyond its field type.
fn item_modules(item: &ConfigItem) -> &'static [&'static str] {
    match &item.data {
        ItemData::ContentType(_) => &["node"],
        ItemData::Vocabulary(_) => &["taxonomy"],
        ItemData::View(_) => &["views"],
        ItemData::Menu(_) => &["menu_ui"],
        ItemData::MenuLink(_) => &["menu_link_content"],
        ItemData::MediaType(_) => &["media"],
        ItemData::ParagraphType(_) => &["paragraphs"],
        ItemData::BlockType(_) => &["block_content"],
        ItemData::ImageStyle(_) => &["image"],
        ItemData::Workflow(_) => &["workflows", "content_moderation"],
        ItemData::UrlPattern(_) => &["pathauto", "token"],
        ItemData::Field(f) if f.field_type == "entity_reference_revisions" => &["paragraphs"],
        _ => &[],
    }
}

/// The bundle a Drupal permission names, as (entity type, bundle), for the
/// permission patterns of node, taxonomy, media and block content.
#[must_use]
pub fn permission_bundle(permission: &str) -> Option<(&'static str, &str)> {
    let p = permission.trim();
    if let Some(rest) = p
        .strip_prefix("create terms in ")
        .or_else(|| p.strip_prefix("edit terms in "))
        .or_else(|| p.strip_prefix("delete terms in "))
    {
        return Some(("taxonomy_term", rest.trim()));
    }
    let middle = |s: &'static str| -> Option<&str> {
        let without = p.strip_suffix(s)?;
        [
            "create ",
            "edit own ",
            "edit any ",
            "delete own ",
            "delete any ",
            "view ",
            "revert ",
            "delete ",
        ]
        .iter()
        .find_map(|prefix| without.strip_prefix(prefix))
        .map(str::trim)
        .filter(|b| !b.is_empty() && !b.contains(' '))
    };
    if let Some(b) = middle(" content") {
        return Some(("node", b));
    }
    if let Some(b) = middle(" revisions") {
        return Some(("node", b));
    }
    if let Some(b) = middle(" block content") {
        return Some(("block_content", b));
    }
    if let Some(b) = middle(" media") {
        return Some(("media", b));
    }
    None
}

/// Every dependency between the given items (edges to items not in the set are left out).
#[must_use]
pub fn item_dependencies(items: &[ConfigItem]) -> Vec<ItemDependency> {
    let keys: BTreeSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let mut fields_by_name: HashMap<(&str, &str, &str), &str> = HashMap::new();
    let mut links_by_title: HashMap<(&str, &str), &str> = HashMap::new();
    for item in items {
        match &item.data {
            ItemData::Field(f) => {
                fields_by_name.insert((&f.entity_type, &f.bundle, &f.field_name), &item.key);
            }
            ItemData::MenuLink(l) => {
                links_by_title
                    .entry((&l.menu, &l.title))
                    .or_insert(&item.key);
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    let mut add = |from: &str, to: String, reason: &'static str| {
        if from != to && keys.contains(to.as_str()) {
            out.insert(ItemDependency {
                from: from.to_owned(),
                to,
                reason,
            });
        }
    };
    for item in items {
        let from = item.key.as_str();
        for module in item_modules(item) {
            add(from, format!("module.{module}"), "needs module");
        }
        match &item.data {
            ItemData::Field(f) => {
                if let Some(bundle) = bundle_key(&f.entity_type, &f.bundle) {
                    add(from, bundle, "field on bundle");
                }
                if let Some(module) = field_type_module(&f.field_type) {
                    add(from, format!("module.{module}"), "field type module");
                }
                if f.is_reference()
                    && let Some(target) = &f.target_type
                {
                    for b in &f.target_bundles {
                        if let Some(key) = bundle_key(target, b) {
                            add(from, key, "references bundle");
                        }
                    }
                }
            }
            ItemData::View(v) => {
                if let Some(entity_type) = v.entity_type() {
                    for b in &v.bundles {
                        if let Some(key) = bundle_key(entity_type, b) {
                            add(from, key, "lists bundle");
                        }
                    }
                    let sort = v.sort.as_deref().and_then(|s| s.split_whitespace().next());
                    for name in v.exposed_filters.iter().map(String::as_str).chain(sort) {
                        for (&(e, b, n), key) in &fields_by_name {
                            let listed = v.bundles.is_empty() || v.bundles.iter().any(|x| x == b);
                            if e == entity_type && n == name && listed {
                                add(from, (*key).to_owned(), "filters or sorts by field");
                            }
                        }
                    }
                }
            }
            ItemData::MenuLink(l) => {
                add(from, format!("system.menu.{}", l.menu), "link in menu");
                if let Some(parent) = &l.parent
                    && let Some(key) = links_by_title.get(&(l.menu.as_str(), parent.as_str()))
                {
                    add(from, (*key).to_owned(), "child of link");
                }
            }
            ItemData::ContentType(t) => {
                for m in &t.menus {
                    add(from, format!("system.menu.{m}"), "available menu");
                }
            }
            ItemData::Workflow(w) => {
                for b in &w.bundles {
                    if let Some(key) = bundle_key(&b.entity_type, &b.bundle) {
                        add(from, key, "moderates bundle");
                    }
                }
            }
            ItemData::UrlPattern(p) => {
                if let Some(key) = bundle_key(&p.entity_type, &p.bundle) {
                    add(from, key, "pattern for bundle");
                }
            }
            ItemData::Role(r) => {
                for permission in &r.permissions {
                    // Drupal leaves out the role's own provider (`user`).
                    if let Some(module) = permission_module(permission)
                        && module != "user"
                    {
                        add(from, format!("module.{module}"), "permission module");
                    }
                    if let Some((entity_type, bundle)) = permission_bundle(permission)
                        && let Some(key) = bundle_key(entity_type, bundle)
                    {
                        add(from, key, "permission on bundle");
                    }
                    if let Some(rest) = permission.strip_prefix("use ")
                        && let Some((workflow, _)) = rest.split_once(" transition ")
                    {
                        add(
                            from,
                            format!("workflows.workflow.{}", workflow.trim()),
                            "workflow permission",
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_name_bundles() {
        assert_eq!(
            permission_bundle("create article content"),
            Some(("node", "article"))
        );
        assert_eq!(
            permission_bundle("edit own page content"),
            Some(("node", "page"))
        );
        assert_eq!(
            permission_bundle("delete article revisions"),
            Some(("node", "article"))
        );
        assert_eq!(
            permission_bundle("create terms in tags"),
            Some(("taxonomy_term", "tags"))
        );
        assert_eq!(
            permission_bundle("edit any image media"),
            Some(("media", "image"))
        );
        assert_eq!(
            permission_bundle("create basic block content"),
            Some(("block_content", "basic"))
        );
        assert_eq!(permission_bundle("access content"), None);
        assert_eq!(permission_bundle("view own unpublished content"), None);
        assert_eq!(permission_bundle("access content overview"), None);
    }
}

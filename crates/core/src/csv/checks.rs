//! Checks across items and files: duplicates, references that no uploaded
//! file defines, and fields whose shared storage disagrees.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::finding::{Code, Finding};
use crate::item::{BundleRef, ConfigItem, ItemData};

use super::values::preview;

/// Entity types whose bundles are defined by uploaded files.
const BUNDLE_ENTITY_TYPES: &[&str] = &[
    "node",
    "taxonomy_term",
    "media",
    "paragraph",
    "block_content",
];

/// Base properties a view may filter or sort by without a field.
fn is_field_name(name: &str) -> bool {
    name.starts_with("field_")
}

fn at(item: &ConfigItem, column: &str, code: Code, value: &str, message: String) -> Finding {
    Finding::at(
        &item.source.file,
        item.source.line,
        code,
        format!("line {}: {message}", item.source.line),
    )
    .column(column.to_owned())
    .value(preview(value))
}

/// Drops duplicate items (keeping the first) and reports each duplicate.
pub fn dedupe(items: Vec<ConfigItem>, findings: &mut Vec<Finding>) -> Vec<ConfigItem> {
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut duplicates = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match first.get(item.key.as_str()) {
            Some(&f) => duplicates.push((i, f)),
            None => {
                first.insert(&item.key, i);
            }
        }
    }
    if duplicates.is_empty() {
        return items;
    }
    for &(i, f) in &duplicates {
        let (item, original) = (&items[i], &items[f]);
        let column = match &item.data {
            ItemData::Field(_) => "field_name",
            ItemData::MenuLink(_) => "title",
            ItemData::UrlPattern(_) => "bundle",
            _ => "machine_name",
        };
        let line = original.source.line;
        let place = if original.source.file == item.source.file {
            format!("line {line}")
        } else {
            format!("line {line} of {}", original.source.file)
        };
        findings.push(at(
            item,
            column,
            Code::DuplicateMachineName,
            &item.key,
            format!(
                "{} is already defined on {place}; remove one of the two rows or give this one \
                 another name",
                item.describe()
            ),
        ));
    }
    let dropped: HashSet<usize> = duplicates.iter().map(|(i, _)| *i).collect();
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, item)| item)
        .collect()
}

/// Reports references to bundles, menus, links and fields that no uploaded file defines.
pub fn references(items: &[ConfigItem], findings: &mut Vec<Finding>) {
    let owned: Vec<BundleRef> = items
        .iter()
        .filter_map(ConfigItem::defines_bundle)
        .collect();
    let mut bundles: HashSet<(&str, &str)> = owned
        .iter()
        .map(|b| (b.entity_type.as_str(), b.bundle.as_str()))
        .collect();
    bundles.insert(("user", "user"));
    let defined_entity_types: HashSet<&str> = bundles.iter().map(|b| b.0).collect();
    let menus: HashSet<&str> = items
        .iter()
        .filter_map(|i| match &i.data {
            ItemData::Menu(m) => Some(m.machine_name.as_str()),
            _ => None,
        })
        .collect();
    let links: HashSet<(&str, &str)> = items
        .iter()
        .filter_map(|i| match &i.data {
            ItemData::MenuLink(l) => Some((l.menu.as_str(), l.title.as_str())),
            _ => None,
        })
        .collect();
    // Only views look fields up by bundle; most uploads have far fewer views than fields.
    let has_views = items.iter().any(|i| matches!(i.data, ItemData::View(_)));
    let mut fields_by_bundle: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
    for item in items.iter().filter(|_| has_views) {
        if let ItemData::Field(f) = &item.data {
            fields_by_bundle
                .entry((f.entity_type.as_str(), f.bundle.as_str()))
                .or_default()
                .insert(&f.field_name);
        }
    }

    let bundle = |item: &ConfigItem,
                  column: &str,
                  entity_type: &str,
                  name: &str|
     -> Option<Finding> {
        // Only entity types whose bundles come from uploaded files can be checked;
        // `user` has one bundle, `comment` types come from the comment module.
        let known_kind = BUNDLE_ENTITY_TYPES.contains(&entity_type)
            || entity_type == "user"
            || entity_type == "comment";
        if !known_kind {
            return None;
        }
        if !bundles.contains(&(entity_type, name)) {
            let hint = if defined_entity_types.contains(entity_type) {
                "check the spelling, or add it to the file that defines those bundles"
            } else {
                "no uploaded file defines bundles of that entity type"
            };
            return Some(at(
                item,
                column,
                Code::UnknownBundleReference,
                name,
                format!(
                    "{entity_type} bundle '{name}' is not defined in the uploaded files ({hint}); fine if it already exists on the site"
                ),
            ));
        }
        None
    };

    for item in items {
        match &item.data {
            ItemData::Field(f) => {
                findings.extend(bundle(item, "bundle", &f.entity_type, &f.bundle));
                if f.is_reference()
                    && let Some(target) = &f.target_type
                {
                    for b in &f.target_bundles {
                        findings.extend(bundle(item, "target_bundles", target, b));
                    }
                }
            }
            ItemData::View(v) => {
                if let Some(entity_type) = v.entity_type() {
                    for b in &v.bundles {
                        findings.extend(bundle(item, "bundles", entity_type, b));
                    }
                    let listed: Vec<&HashSet<&str>> = if v.bundles.is_empty() {
                        fields_by_bundle
                            .iter()
                            .filter(|((e, _), _)| *e == entity_type)
                            .map(|(_, f)| f)
                            .collect()
                    } else {
                        v.bundles
                            .iter()
                            .filter_map(|b| fields_by_bundle.get(&(entity_type, b.as_str())))
                            .collect()
                    };
                    let sort_field = v.sort.as_deref().and_then(|s| s.split_whitespace().next());
                    for (column, name) in v
                        .exposed_filters
                        .iter()
                        .map(|f| ("exposed_filters", f.as_str()))
                        .chain(sort_field.map(|s| ("sort", s)))
                    {
                        if is_field_name(name)
                            && !listed.is_empty()
                            && !listed.iter().any(|f| f.contains(name))
                        {
                            findings.push(at(
                                item,
                                column,
                                Code::UnknownFieldReference,
                                name,
                                format!("the view uses {name}, but no bundle it lists has that field; add the field or fix the name"),
                            ));
                        }
                    }
                }
            }
            ItemData::Workflow(w) => {
                for b in &w.bundles {
                    findings.extend(bundle(item, "bundles", &b.entity_type, &b.bundle));
                }
            }
            ItemData::UrlPattern(p) => {
                findings.extend(bundle(item, "bundle", &p.entity_type, &p.bundle))
            }
            ItemData::ContentType(t) => {
                for m in &t.menus {
                    if !menus.contains(m.as_str()) {
                        findings.push(at(
                            item,
                            "menus",
                            Code::UnknownMenuReference,
                            m,
                            format!("menu '{m}' is not defined in the uploaded files; add it to menus.csv, fine if it already exists on the site"),
                        ));
                    }
                }
            }
            ItemData::MenuLink(l) => {
                if !menus.contains(l.menu.as_str()) {
                    findings.push(at(
                        item,
                        "menu",
                        Code::UnknownMenuReference,
                        &l.menu,
                        format!("menu '{}' is not defined in the uploaded files; add it to menus.csv, fine if it already exists on the site", l.menu),
                    ));
                }
                if let Some(parent) = &l.parent
                    && !links.contains(&(l.menu.as_str(), parent.as_str()))
                {
                    findings.push(at(
                        item,
                        "parent",
                        Code::UnknownParentLink,
                        parent,
                        format!("no link titled '{parent}' in menu '{}'; the parent must be the title of another link of the same menu", l.menu),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Reports fields that share a storage (same entity type and name) but
/// disagree on what the storage holds: type, cardinality or target type.
pub fn field_storage(items: &[ConfigItem], findings: &mut Vec<Finding>) {
    let mut first: HashMap<(&str, &str), &ConfigItem> = HashMap::new();
    let mut reported = BTreeSet::new();
    for item in items {
        let ItemData::Field(f) = &item.data else {
            continue;
        };
        let key = (f.entity_type.as_str(), f.field_name.as_str());
        let Some(other) = first.get(&key) else {
            first.insert(key, item);
            continue;
        };
        let ItemData::Field(g) = &other.data else {
            continue;
        };
        let mut differences = Vec::new();
        if f.field_type != g.field_type {
            differences.push(format!("type {} vs {}", f.field_type, g.field_type));
        }
        if f.cardinality != g.cardinality {
            differences.push(format!(
                "cardinality {} vs {}",
                f.cardinality, g.cardinality
            ));
        }
        if f.target_type != g.target_type {
            differences.push(format!(
                "target_type {} vs {}",
                f.target_type.as_deref().unwrap_or("none"),
                g.target_type.as_deref().unwrap_or("none")
            ));
        }
        if !differences.is_empty() && reported.insert(item.key.clone()) {
            findings.push(at(
                item,
                "field_name",
                Code::FieldStorageConflict,
                &f.field_name,
                format!(
                    "{} on {} disagrees with the same field on {} (line {}): {}; Drupal stores one {} per entity type, so make them match or rename one",
                    f.field_name,
                    f.bundle,
                    g.bundle,
                    other.source.line,
                    differences.join(", "),
                    f.storage_key()
                ),
            ));
        }
    }
}

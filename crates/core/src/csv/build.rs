//! Item builders: one per CSV type, from a canonical record to a config item,
//! checking every cell and reporting what is wrong in the file's own terms.

use std::collections::BTreeMap;

use crate::finding::{Code, Finding};
use crate::item::{
    AllowedValue, BlockType, BundleRef, ConfigItem, ContentType, Field, ImageEffect, ImageStyle,
    ItemData, MediaType, Menu, MenuLink, Module, ParagraphType, Role, SourceRef, Transition,
    UrlPattern, View, Vocabulary, Workflow,
};

use super::FileInfo;
use super::normalise;
use super::record::{Cell, Record};
use super::registry::{self, CsvType, Dialect, lookup};
use super::values::{
    NameStart, is_drupal_machine_name, is_machine_name, parse_bool, preview, split_list, split_on,
    suggest_machine_name,
};

/// Drupal's limit for bundle, vocabulary, menu and field machine names.
pub const MACHINE_NAME_MAX: usize = 32;

/// Reads one record's cells and reports problems with them.
struct Row<'a> {
    record: &'a Record,
    files: &'a [FileInfo],
    findings: &'a mut Vec<Finding>,
}

impl<'a> Row<'a> {
    fn column_name(&self, cell: Option<&Cell>, to: &str) -> String {
        cell.and_then(|c| {
            let info = &self.files[c.origin.file];
            c.origin.col.and_then(|i| info.headers.get(i)).cloned()
        })
        .unwrap_or_else(|| to.to_owned())
    }

    /// Reports a problem with a column of this row; the finding's value is the cell.
    fn report(&mut self, to: &str, code: Code, message: String) {
        let value = self.record.cell(to).map(|c| c.value.clone());
        self.report_value(to, code, value.as_deref(), message);
    }

    /// Reports a problem with one value of a column (an item of a list cell).
    fn report_value(&mut self, to: &str, code: Code, value: Option<&str>, message: String) {
        let cell = self.record.cell(to);
        let column = self.column_name(cell, to);
        let (file, line) = match cell {
            Some(c) => (&self.files[c.origin.file].name, c.origin.line),
            None => (
                &self.files[self.record.origin.file].name,
                self.record.origin.line,
            ),
        };
        let mut finding =
            Finding::at(file, line, code, format!("line {line}: {message}")).column(column);
        if let Some(v) = value {
            finding = finding.value(preview(v));
        }
        self.findings.push(finding);
    }

    fn text(&self, to: &str) -> Option<&'a str> {
        self.record.get(to)
    }

    fn owned(&self, to: &str) -> Option<String> {
        self.text(to).map(str::to_owned)
    }

    fn required(&mut self, to: &str) -> Option<&'a str> {
        let value = self.text(to);
        if value.is_none() {
            let column = self.column_name(None, to);
            self.report(
                to,
                Code::MissingRequiredValue,
                format!("{column} is required but blank; fill it in"),
            );
        }
        value
    }

    fn bool(&mut self, to: &str) -> Option<bool> {
        let value = self.text(to)?;
        parse_bool(value).unwrap_or_else(|_| {
            let column = self.column_name(self.record.cell(to), to);
            self.report(
                to,
                Code::InvalidBoolean,
                format!(
                    "{column} '{}' is not a yes/no value; use true/false, yes/no, 1/0, y/n, \
                     on/off, or x for yes",
                    preview(value)
                ),
            );
            None
        })
    }

    fn int(&mut self, to: &str) -> Option<i64> {
        let value = self.text(to)?;
        value.parse::<i64>().map_or_else(
            |_| {
                let column = self.column_name(self.record.cell(to), to);
                self.report(
                    to,
                    Code::InvalidInteger,
                    format!(
                        "{column} '{}' is not a whole number, e.g. 10",
                        preview(value)
                    ),
                );
                None
            },
            Some,
        )
    }

    fn list(&self, to: &str) -> Vec<String> {
        self.text(to).map(split_list).unwrap_or_default()
    }

    /// A value out of a fixed list, in any case, or one of its other spellings
    /// (`aliases`: lower-case spelling and the value it means).
    fn choice(
        &mut self,
        to: &str,
        allowed: &[&str],
        aliases: &[(&str, &'static str)],
    ) -> Option<String> {
        let value = self.text(to)?;
        let lower = value.to_lowercase();
        if allowed.contains(&lower.as_str()) {
            return Some(lower);
        }
        if let Some(mapped) = lookup(aliases, value) {
            return Some(mapped.to_owned());
        }
        let column = self.column_name(self.record.cell(to), to);
        self.report(
            to,
            Code::InvalidChoice,
            format!(
                "{column} '{}' must be one of: {}",
                preview(value),
                allowed.join(", ")
            ),
        );
        None
    }

    /// A machine name, checked for characters and (where given) length.
    fn machine_name(&mut self, to: &str, max: Option<usize>, hyphens: bool) -> Option<String> {
        self.machine_name_starting(to, max, hyphens, NameStart::Any)
    }

    /// [`Self::machine_name`], with what Drupal lets this kind of name start with.
    fn machine_name_starting(
        &mut self,
        to: &str,
        max: Option<usize>,
        hyphens: bool,
        start: NameStart,
    ) -> Option<String> {
        let value = self.required(to)?;
        self.check_machine_name_starting(to, value, max, hyphens, start)
            .then(|| value.to_owned())
    }

    fn check_machine_name(
        &mut self,
        to: &str,
        value: &str,
        max: Option<usize>,
        hyphens: bool,
    ) -> bool {
        self.check_machine_name_starting(to, value, max, hyphens, NameStart::Any)
    }

    /// A machine name is refused only where Drupal refuses it; one Drupal
    /// takes that does not start with a letter is kept, with a warning.
    fn check_machine_name_starting(
        &mut self,
        to: &str,
        value: &str,
        max: Option<usize>,
        hyphens: bool,
        start: NameStart,
    ) -> bool {
        let valid = is_drupal_machine_name(value, hyphens, start);
        let too_long = max.is_some_and(|m| value.len() > m);
        let column = self.column_name(self.record.cell(to), to);
        if valid && !is_machine_name(value, hyphens) {
            let suggestion = suggest_machine_name(value);
            let example = if suggestion.is_empty() || suggestion == value {
                String::new()
            } else {
                format!(" (e.g. {suggestion})")
            };
            self.report_value(
                to,
                Code::UnusualMachineName,
                Some(value),
                format!(
                    "{column} '{}' starts with a {}: Drupal accepts it, but names starting with a letter are the convention; consider renaming it{example}",
                    preview(value),
                    if value.starts_with('_') { "an underscore" } else { "digit" }
                ),
            );
        }
        if valid && !too_long {
            return true;
        }
        if !valid {
            let allowed = if hyphens {
                "lower-case letters, digits, underscores and hyphens"
            } else {
                "lower-case letters, digits and underscores"
            };
            let suggestion = suggest_machine_name(value);
            let example = if suggestion.is_empty() {
                String::new()
            } else {
                format!(", e.g. {suggestion}")
            };
            let starting = match start {
                NameStart::Letter => ", starting with a letter",
                NameStart::LetterOrUnderscore => ", starting with a letter or an underscore",
                NameStart::Any => "",
            };
            self.report_value(
                to,
                Code::InvalidMachineName,
                Some(value),
                format!(
                    "{column} '{}' must be {allowed}{starting}{example}",
                    preview(value)
                ),
            );
            return false;
        }
        if let Some(max) = max
            && value.len() > max
        {
            let code = if to == "field_name" {
                Code::FieldNameTooLong
            } else {
                Code::MachineNameTooLong
            };
            self.report_value(
                to,
                code,
                Some(value),
                format!(
                    "{column} '{value}' is {} characters; Drupal allows at most {max}{}",
                    value.len(),
                    if to == "field_name" {
                        " including the field_ prefix; shorten it"
                    } else {
                        "; shorten it"
                    }
                ),
            );
            return false;
        }
        true
    }
}

/// Builds the config item of a record, or `None` when a required part is missing.
pub fn build(
    record: &Record,
    files: &[FileInfo],
    findings: &mut Vec<Finding>,
) -> Option<ConfigItem> {
    let ty = record.ty?;
    let mut row = Row {
        record,
        files,
        findings,
    };
    let (key, label, data) = match ty {
        CsvType::ContentTypes => content_type(&mut row)?,
        CsvType::Fields => field(&mut row)?,
        CsvType::Vocabularies => vocabulary(&mut row)?,
        CsvType::Views => view(&mut row)?,
        CsvType::Menus => menu(&mut row)?,
        CsvType::MenuLinks => menu_link(&mut row)?,
        CsvType::Roles => role(&mut row)?,
        CsvType::MediaTypes => media_type(&mut row)?,
        CsvType::ParagraphTypes => paragraph_type(&mut row)?,
        CsvType::BlockTypes => block_type(&mut row)?,
        CsvType::ImageStyles => image_style(&mut row)?,
        CsvType::Workflows => workflow(&mut row)?,
        CsvType::UrlPatterns => url_pattern(&mut row)?,
        CsvType::Modules => module(&mut row)?,
    };
    let info = &files[record.origin.file];
    let extra: BTreeMap<String, String> = record
        .extra
        .iter()
        .map(|(i, v)| (info.headers.get(*i).cloned().unwrap_or_default(), v.clone()))
        .collect();
    Some(ConfigItem {
        key,
        csv_type: ty,
        label,
        description: row.owned("description"),
        notes: row.owned("notes"),
        source: SourceRef {
            file: info.name.clone(),
            line: record.origin.line,
        },
        extra,
        data,
    })
}

type Built = (String, String, ItemData);

fn label(row: &mut Row<'_>) -> Option<String> {
    row.required("label").map(str::to_owned)
}

fn bundle_name(row: &mut Row<'_>) -> Option<String> {
    row.machine_name("machine_name", Some(MACHINE_NAME_MAX), false)
}

fn content_type(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (bundle_name(row), label(row));
    let preview_mode = row.choice(
        "preview_mode",
        registry::PREVIEW_MODES,
        registry::PREVIEW_MODE_ALIASES,
    );
    let menus = row.list("menus");
    for menu in &menus {
        row.check_machine_name("menus", menu, Some(MACHINE_NAME_MAX), true);
    }
    let data = ContentType {
        machine_name: m?,
        revisions: row.bool("revisions"),
        published_by_default: row.bool("published_by_default"),
        preview_mode,
        display_submitted: row.bool("display_submitted"),
        menus,
    };
    Some((
        format!("node.type.{}", data.machine_name),
        label?,
        ItemData::ContentType(data),
    ))
}

fn field(row: &mut Row<'_>) -> Option<Built> {
    let entity_type = row.required("entity_type").map(str::to_owned);
    let entity_type = entity_type.and_then(|e| {
        if let Some(known) = registry::entity_type(&e) {
            Some(known.to_owned())
        } else {
            row.report(
                "entity_type",
                Code::UnknownEntityType,
                format!(
                    "entity_type '{}' is not one of: {} (or their labels, such as Content or \
                     Taxonomy term)",
                    preview(&e),
                    registry::ENTITY_TYPES.join(", ")
                ),
            );
            None
        }
    });
    let bundle = row.machine_name("bundle", Some(MACHINE_NAME_MAX), false);
    let field_name = row.machine_name_starting(
        "field_name",
        Some(MACHINE_NAME_MAX),
        false,
        NameStart::LetterOrUnderscore,
    );
    let label = label(row);
    let field_type = row.required("field_type").map(registry::field_type);
    if let Some(t) = &field_type
        && !registry::FIELD_TYPES.contains(&t.as_str())
    {
        row.report(
            "field_type",
            Code::UnknownFieldType,
            format!(
                "field_type '{}' is not in the registry's list; it is kept as written, check it is \
                 a field type your site's modules provide",
                preview(t)
            ),
        );
    }
    let cardinality = match row.text("cardinality") {
        None => 1,
        Some(v) if v.eq_ignore_ascii_case("unlimited") => -1,
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n == -1 || n >= 1 => n,
            _ => {
                row.report(
                    "cardinality",
                    Code::InvalidCardinality,
                    format!(
                        "cardinality '{}' must be a positive whole number, or -1 or unlimited \
                         for no limit",
                        preview(v)
                    ),
                );
                1
            }
        },
    };
    let required = row.bool("required").unwrap_or(false);
    let translatable = row.bool("translatable");
    let field_type = field_type?;
    let is_reference = matches!(
        field_type.as_str(),
        "entity_reference" | "entity_reference_revisions"
    );
    let is_list = field_type.starts_with("list_");
    // Entity type ids are lower-case: `File` can only mean `file`, `Content` is `node`.
    let mut target_type = row.text("target_type").map(|t| {
        registry::entity_type(t).map_or_else(
            || {
                let lower = t.to_lowercase();
                if is_machine_name(&lower, false) {
                    lower
                } else {
                    t.to_owned()
                }
            },
            str::to_owned,
        )
    });
    if let Some(t) = target_type.clone()
        && !row.check_machine_name("target_type", &t, None, false)
    {
        target_type = None;
    }
    if is_reference && target_type.is_none() && row.text("target_type").is_none() {
        let default = (field_type == "entity_reference_revisions").then(|| "paragraph".to_owned());
        row.report(
            "target_type",
            Code::MissingTargetType,
            format!(
                "the {field_type} field has no target_type; say what it references (node, \
                 taxonomy_term, media, user, paragraph, ...){}",
                if default.is_some() {
                    ", paragraph is assumed"
                } else {
                    ""
                }
            ),
        );
        target_type = default;
    }
    let target_bundles = row.list("target_bundles");
    for b in &target_bundles {
        row.check_machine_name("target_bundles", b, Some(MACHINE_NAME_MAX), false);
    }
    if !target_bundles.is_empty() && !is_reference {
        row.report(
            "target_bundles",
            Code::IgnoredSetting,
            format!(
                "target_bundles only applies to reference fields, not {field_type}; it is ignored"
            ),
        );
    }
    let mut allowed_values = Vec::new();
    if let Some(raw) = row.text("allowed_values") {
        for item in split_on(raw, &[';', '\n', '\r']) {
            let (key, label) = match item.split_once('|') {
                Some((k, l)) => (k.trim().to_owned(), l.trim().to_owned()),
                None => (item.clone(), item.clone()),
            };
            if field_type == "list_integer" && key.parse::<i64>().is_err() {
                row.report_value(
                    "allowed_values",
                    Code::InvalidInteger,
                    Some(&key),
                    format!(
                        "allowed value key '{}' of a list_integer field must be a whole number",
                        preview(&key)
                    ),
                );
            }
            allowed_values.push(AllowedValue { key, label });
        }
        if !is_list {
            row.report(
                "allowed_values",
                Code::IgnoredSetting,
                format!(
                    "allowed_values only applies to list fields, not {field_type}; it is ignored"
                ),
            );
        }
    } else if is_list {
        row.report(
            "allowed_values",
            Code::MissingAllowedValues,
            "the list field has no allowed_values; add them as key|Label items separated by ;"
                .to_owned(),
        );
    }
    let data = Field {
        entity_type: entity_type?,
        bundle: bundle?,
        field_name: field_name?,
        field_type,
        required,
        cardinality,
        target_type,
        target_bundles,
        allowed_values,
        default_value: row.owned("default_value"),
        help_text: row.owned("help_text"),
        widget: row.owned("widget"),
        formatter: row.owned("formatter"),
        translatable,
    };
    let key = format!(
        "field.field.{}.{}.{}",
        data.entity_type, data.bundle, data.field_name
    );
    Some((key, label?, ItemData::Field(data)))
}

fn vocabulary(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (bundle_name(row), label(row));
    let hierarchy = row.choice(
        "hierarchy",
        registry::HIERARCHIES,
        registry::HIERARCHY_ALIASES,
    );
    let data = Vocabulary {
        machine_name: m?,
        hierarchy,
        terms: row.list("terms"),
    };
    Some((
        format!("taxonomy.vocabulary.{}", data.machine_name),
        label?,
        ItemData::Vocabulary(data),
    ))
}

fn view(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (row.machine_name("machine_name", None, false), label(row));
    let base_table = row
        .text("base_table")
        .map_or_else(|| "node_field_data".to_owned(), registry::base_table);
    let bundles = row.list("bundles");
    for b in &bundles {
        row.check_machine_name("bundles", b, Some(MACHINE_NAME_MAX), false);
    }
    let mut displays = Vec::new();
    for d in row.list("displays") {
        match registry::display_plugin(&d) {
            Some("") => {}
            Some(m) if registry::DISPLAY_TYPES.contains(&m) => displays.push(m.to_owned()),
            _ => {
                // Spec Tool labels were already reported as unknown labels.
                if row.record.sheet.dialect == Dialect::Canonical {
                    row.report_value(
                        "displays",
                        Code::UnknownDisplayType,
                        Some(&d),
                        format!(
                            "display '{}' is not one of {}; it is kept, check a module provides it",
                            preview(&d),
                            registry::DISPLAY_TYPES.join(", ")
                        ),
                    );
                }
                displays.push(d);
            }
        }
    }
    // Drupal writes a view's path without its leading slash (`admin/content/node`).
    let path = row.text("path").map(|p| match normalise::view_path(p) {
        Ok(n) => {
            if let Some(note) = n.note {
                row.report(
                    "path",
                    Code::NormalisedValue,
                    format!(
                        "path '{}' is read as {}: {note}",
                        preview(p),
                        preview(&n.value)
                    ),
                );
            }
            n.value
        }
        Err(problem) => {
            row.report(
                "path",
                Code::InvalidPath,
                format!("path '{}' {problem}", preview(p)),
            );
            p.to_owned()
        }
    });
    let items_per_page = row.int("items_per_page").and_then(|n| {
        u32::try_from(n).ok().or_else(|| {
            row.report(
                "items_per_page",
                Code::InvalidInteger,
                format!("items_per_page {n} must be 0 (all) or more"),
            );
            None
        })
    });
    let data = View {
        machine_name: m?,
        base_table,
        bundles,
        displays,
        path,
        items_per_page,
        exposed_filters: row.list("exposed_filters"),
        sort: row.owned("sort"),
        access_permission: row
            .text("access_permission")
            .map(|p| permission(row, "access_permission", p)),
    };
    Some((
        format!("views.view.{}", data.machine_name),
        label?,
        ItemData::View(data),
    ))
}

fn menu(row: &mut Row<'_>) -> Option<Built> {
    let m = row.machine_name("machine_name", Some(MACHINE_NAME_MAX), true);
    let label = label(row);
    let data = Menu { machine_name: m? };
    Some((
        format!("system.menu.{}", data.machine_name),
        label?,
        ItemData::Menu(data),
    ))
}

/// A permission name as Drupal spells it, with a note when it was written otherwise.
fn permission(row: &mut Row<'_>, to: &str, raw: &str) -> String {
    let n = normalise::permission(raw);
    if let Some(note) = n.note {
        row.report_value(
            to,
            Code::NormalisedValue,
            Some(raw),
            format!(
                "permission '{}' is read as '{}': {note}; check it against the site's list \
                 (People › Permissions)",
                preview(raw),
                preview(&n.value)
            ),
        );
    }
    n.value
}

fn menu_link(row: &mut Row<'_>) -> Option<Built> {
    let menu = row.machine_name("menu", Some(MACHINE_NAME_MAX), true);
    let title = row.required("title").map(str::to_owned);
    // Drupal stores links as URIs (`internal:/node/1`, `entity:node/1`, `route:<nolink>`).
    let link = row.required("link").map(|l| match normalise::menu_link(l) {
        Ok(n) => n.value,
        Err(problem) => {
            row.report(
                "link",
                Code::InvalidPath,
                format!("link '{}' {problem}", preview(l)),
            );
            l.to_owned()
        }
    });
    let data = MenuLink {
        menu: menu?,
        title: title?,
        link: link?,
        parent: row.owned("parent"),
        weight: row.int("weight"),
        expanded: row.bool("expanded"),
    };
    let mut key = format!("menu_link_content.{}", data.menu);
    if let Some(parent) = &data.parent {
        key.push('.');
        key.push_str(&suggest_machine_name(parent));
    }
    key.push('.');
    key.push_str(&suggest_machine_name(&data.title));
    let label = data.title.clone();
    Some((key, label, ItemData::MenuLink(data)))
}

fn role(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (row.machine_name("machine_name", None, false), label(row));
    // Drush and people copying from it join permissions with commas; no
    // Drupal permission name holds one.
    let permissions: Vec<String> = row
        .text("permissions")
        .map(|p| split_on(p, &[';', '|', '\n', '\r', ',']))
        .unwrap_or_default()
        .iter()
        .map(|p| permission(row, "permissions", p))
        .collect();
    let data = Role {
        machine_name: m?,
        permissions,
        is_admin: row.bool("is_admin").unwrap_or(false),
    };
    Some((
        format!("user.role.{}", data.machine_name),
        label?,
        ItemData::Role(data),
    ))
}

fn media_type(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (bundle_name(row), label(row));
    let source = if row.record.sheet.dialect == Dialect::Canonical {
        row.required("source")
    } else {
        row.text("source")
    }
    .and_then(|_| {
        row.choice(
            "source",
            registry::MEDIA_SOURCES,
            registry::MEDIA_SOURCE_LABELS,
        )
    });
    let source_field = row.owned("source_field");
    if let Some(f) = source_field.clone() {
        row.check_machine_name_starting(
            "source_field",
            &f,
            Some(MACHINE_NAME_MAX),
            false,
            NameStart::LetterOrUnderscore,
        );
    }
    let data = MediaType {
        machine_name: m?,
        source,
        source_field,
    };
    Some((
        format!("media.type.{}", data.machine_name),
        label?,
        ItemData::MediaType(data),
    ))
}

fn paragraph_type(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (bundle_name(row), label(row));
    let data = ParagraphType {
        machine_name: m?,
        icon: row.owned("icon"),
    };
    Some((
        format!("paragraphs.paragraphs_type.{}", data.machine_name),
        label?,
        ItemData::ParagraphType(data),
    ))
}

fn block_type(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (bundle_name(row), label(row));
    let data = BlockType { machine_name: m? };
    Some((
        format!("block_content.type.{}", data.machine_name),
        label?,
        ItemData::BlockType(data),
    ))
}

fn image_style(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (row.machine_name("machine_name", None, false), label(row));
    let mut effects = Vec::new();
    for e in row.list("effects") {
        let (name, arguments) = match e.split_once(':') {
            Some((n, a)) => (n.trim().to_lowercase(), a.trim().to_owned()),
            None => (e.trim().to_lowercase(), String::new()),
        };
        let name = name
            .strip_prefix("image_")
            .map_or(name.clone(), str::to_owned);
        // Spec Tool labels were already reported as unknown labels.
        if !registry::IMAGE_EFFECTS.contains(&name.as_str())
            && row.record.sheet.dialect == Dialect::Canonical
        {
            row.report_value(
                "effects",
                Code::UnknownImageEffect,
                Some(&e),
                format!(
                    "image effect '{}' is not one of {}; write effects as name:arguments, e.g. \
                     scale:1200x or scale_and_crop:480x320",
                    preview(&e),
                    registry::IMAGE_EFFECTS.join(", ")
                ),
            );
        }
        effects.push(ImageEffect { name, arguments });
    }
    let data = ImageStyle {
        machine_name: m?,
        effects,
    };
    Some((
        format!("image.style.{}", data.machine_name),
        label?,
        ItemData::ImageStyle(data),
    ))
}

fn workflow(row: &mut Row<'_>) -> Option<Built> {
    let (m, label) = (row.machine_name("machine_name", None, false), label(row));
    let workflow_type = row.text("type").map_or_else(
        || "content_moderation".to_owned(),
        |t| {
            let lower = t.to_lowercase();
            if is_machine_name(&lower, false) {
                lower
            } else {
                lookup(registry::WORKFLOW_TYPE_LABELS, t)
                    .map_or_else(|| t.to_owned(), str::to_owned)
            }
        },
    );
    let states = row.list("states");
    for s in &states {
        row.check_machine_name("states", s, None, false);
    }
    // A state named in another case (`Draft`) is the state (`draft`).
    let state = |name: &str| {
        states
            .iter()
            .find(|s| s.as_str() == name)
            .or_else(|| states.iter().find(|s| s.eq_ignore_ascii_case(name)))
            .cloned()
    };
    let mut transitions = Vec::new();
    for t in row.list("transitions") {
        let parts: Vec<&str> = t
            .split(['>', '→'])
            .map(|p| p.trim().trim_end_matches('-').trim())
            .collect();
        match parts.as_slice() {
            [from, to] if !from.is_empty() && !to.is_empty() => {
                // Drupal's transitions have several from states: `draft,published>published`.
                let froms = split_on(from, &[',']);
                let tos = split_on(to, &[',']);
                let unknown: Vec<&str> = froms
                    .iter()
                    .chain(&tos)
                    .map(String::as_str)
                    .filter(|s| state(s).is_none())
                    .collect();
                if unknown.is_empty() {
                    for f in &froms {
                        for t in &tos {
                            if let (Some(from), Some(to)) = (state(f), state(t)) {
                                transitions.push(Transition { from, to });
                            }
                        }
                    }
                } else {
                    row.report_value(
                        "transitions",
                        Code::InvalidTransition,
                        Some(&t),
                        format!(
                            "transition '{}' uses {} not listed in states ({}); add the state or fix the name",
                            preview(&t),
                            unknown.join(" and "),
                            states.join(", ")
                        ),
                    );
                }
            }
            _ => row.report_value(
                "transitions",
                Code::InvalidTransition,
                Some(&t),
                format!(
                    "transition '{}' must be written from>to, e.g. draft>published",
                    preview(&t)
                ),
            ),
        }
    }
    let mut bundles = Vec::new();
    for b in row.list("bundles") {
        let (entity_type, bundle) = b
            .split_once(['.', ':'])
            .map_or(("node", b.as_str()), |(e, b)| (e.trim(), b.trim()));
        let entity_type = registry::entity_type(entity_type).unwrap_or(entity_type);
        if row.check_machine_name("bundles", bundle, Some(MACHINE_NAME_MAX), false)
            && row.check_machine_name("bundles", entity_type, None, false)
        {
            bundles.push(BundleRef {
                entity_type: entity_type.to_owned(),
                bundle: bundle.to_owned(),
            });
        }
    }
    let data = Workflow {
        machine_name: m?,
        workflow_type,
        states,
        transitions,
        bundles,
    };
    Some((
        format!("workflows.workflow.{}", data.machine_name),
        label?,
        ItemData::Workflow(data),
    ))
}

fn url_pattern(row: &mut Row<'_>) -> Option<Built> {
    // Pathauto writes the type as `canonical_entities:node`; people write `Content`.
    let entity_type = match row.text("entity_type").and_then(registry::entity_type) {
        Some(known) => Some(known.to_owned()),
        None => row.machine_name("entity_type", None, false),
    };
    let bundle = row.machine_name("bundle", Some(MACHINE_NAME_MAX), false);
    let pattern = row
        .required("pattern")
        .map(|p| match normalise::url_pattern(p) {
            Ok(n) => n.value,
            Err(problem) => {
                row.report(
                    "pattern",
                    Code::InvalidPattern,
                    format!(
                        "pattern '{}' {problem}; write e.g. /news/[node:title]",
                        preview(p)
                    ),
                );
                p.to_owned()
            }
        });
    let data = UrlPattern {
        entity_type: entity_type?,
        bundle: bundle?,
        pattern: pattern?,
    };
    let key = format!("pathauto.pattern.{}_{}", data.entity_type, data.bundle);
    Some((key, data.pattern.clone(), ItemData::UrlPattern(data)))
}

fn module(row: &mut Row<'_>) -> Option<Built> {
    let m = row.machine_name_starting("machine_name", None, false, NameStart::Letter)?;
    let project_type = row.choice(
        "project_type",
        registry::PROJECT_TYPES,
        registry::PROJECT_TYPE_ALIASES,
    );
    let label = row.owned("name").unwrap_or_else(|| m.clone());
    let data = Module {
        machine_name: m,
        project_type,
        version: row.owned("version"),
        purpose: row.owned("purpose"),
    };
    Some((
        format!("module.{}", data.machine_name),
        label,
        ItemData::Module(data),
    ))
}

//! Cross-file label resolution for the Spec Tool dialect.
//!
//! Spec Tool rows refer to each other by human label: a field names its bundle
//! as `Basic page (Content type)`, a display names its view, a transition its
//! workflow and states. Resolution turns those labels into machine names and
//! folds child rows (displays, effects, states, transitions, permissions) into
//! the items they complete, before items are built.

use std::collections::HashMap;

use crate::finding::{Code, Finding};

use super::FileInfo;
use super::record::{Origin, Record};
use super::registry::{self, Child, CsvType, Target, lookup};
use super::values::{preview, split_on};

/// Index of item records by type and lower-cased label or machine name.
struct LabelIndex {
    by_label: HashMap<(CsvType, String), Vec<usize>>,
    by_machine_name: HashMap<(CsvType, String), usize>,
}

impl LabelIndex {
    fn new(records: &[Record]) -> Self {
        let mut by_label: HashMap<(CsvType, String), Vec<usize>> = HashMap::new();
        let mut by_machine_name = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let Some(ty) = r.ty else { continue };
            // Only bundles and the parents of child sheets are referred to by label.
            let referable = ty.bundle_entity_type().is_some()
                || matches!(
                    ty,
                    CsvType::Views | CsvType::ImageStyles | CsvType::Workflows | CsvType::Roles
                );
            if !referable || matches!(r.sheet.target, Target::Child(_)) {
                continue;
            }
            if let Some(label) = r.get("label") {
                by_label
                    .entry((ty, label.to_lowercase()))
                    .or_default()
                    .push(i);
            }
            if let Some(m) = r.get("machine_name") {
                by_machine_name.entry((ty, m.to_owned())).or_insert(i);
            }
        }
        Self {
            by_label,
            by_machine_name,
        }
    }

    fn find(&self, ty: CsvType, label: &str) -> Lookup {
        match self
            .by_label
            .get(&(ty, label.to_lowercase()))
            .map(Vec::as_slice)
        {
            Some([one]) => Lookup::One(*one),
            Some(many) if many.len() > 1 => Lookup::Many(many.to_vec()),
            _ => self
                .by_machine_name
                .get(&(ty, label.to_owned()))
                .map_or(Lookup::None, |i| Lookup::One(*i)),
        }
    }
}

enum Lookup {
    One(usize),
    Many(Vec<usize>),
    None,
}

fn describe(records: &[Record], files: &[FileInfo], many: &[usize]) -> String {
    many.iter()
        .map(|i| {
            let o = records[*i].origin;
            format!("line {} of {}", o.line, files[o.file].name)
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Resolves labels in place; child records are emptied of their work (their
/// `ty` set to `None`) once folded into their parents.
pub fn resolve(records: &mut [Record], files: &[FileInfo], findings: &mut Vec<Finding>) {
    let needed = records
        .iter()
        .any(|r| matches!(r.sheet.target, Target::Child(_)) || r.cell("bundle_label").is_some());
    if !needed {
        return;
    }
    let index = LabelIndex::new(records);
    let mut report = |origin: Origin, column: &str, code: Code, value: &str, message: String| {
        let file = &files[origin.file].name;
        findings.push(
            Finding::at(
                file,
                origin.line,
                code,
                format!("line {}: {message}", origin.line),
            )
            .column(column.to_owned())
            .value(preview(value)),
        );
    };
    let header = |o: Origin, fallback: &str| {
        o.col
            .and_then(|c| files[o.file].headers.get(c))
            .cloned()
            .unwrap_or_else(|| fallback.to_owned())
    };

    // Fields: "Basic page (Content type)" -> entity type and bundle.
    for i in 0..records.len() {
        let Some(cell) = records[i].cell("bundle_label").cloned() else {
            continue;
        };
        let column = header(cell.origin, "Bundle");
        let (label, type_label) = match cell.value.rfind(" (") {
            Some(open) if cell.value.ends_with(')') => (
                cell.value[..open].trim(),
                Some(&cell.value[open + 2..cell.value.len() - 1]),
            ),
            _ => (cell.value.trim(), None),
        };
        let types: Vec<CsvType> = match type_label {
            Some("User") | Some("user") => {
                records[i].set("entity_type", "user".to_owned(), cell.origin);
                records[i].set("bundle", "user".to_owned(), cell.origin);
                continue;
            }
            Some(t) => match lookup(registry::BUNDLE_TYPE_LABELS, t) {
                Some(ty) => vec![ty],
                None => {
                    report(
                        cell.origin,
                        &column,
                        Code::UnknownLabel,
                        &cell.value,
                        format!(
                            "the bundle type \"{t}\" is not one the registry knows; write the \
                             bundle as e.g. \"Basic page (Content type)\""
                        ),
                    );
                    records[i].ty = None;
                    continue;
                }
            },
            None => CsvType::ALL
                .into_iter()
                .filter(|t| t.bundle_entity_type().is_some())
                .collect(),
        };
        let found: Vec<(CsvType, Lookup)> =
            types.iter().map(|t| (*t, index.find(*t, label))).collect();
        let hits: Vec<(CsvType, usize)> = found
            .iter()
            .flat_map(|(t, l)| match l {
                Lookup::One(i) => vec![(*t, *i)],
                Lookup::Many(v) => v.iter().map(|i| (*t, *i)).collect(),
                Lookup::None => vec![],
            })
            .collect();
        match hits.as_slice() {
            [(ty, parent)] => {
                let bundle = records[*parent]
                    .get("machine_name")
                    .unwrap_or_default()
                    .to_owned();
                let entity_type = ty.bundle_entity_type().unwrap_or_default();
                records[i].set("entity_type", entity_type.to_owned(), cell.origin);
                records[i].set("bundle", bundle, cell.origin);
            }
            [] => {
                let guess = super::values::suggest_machine_name(label);
                let ty = types.first().copied().unwrap_or(CsvType::ContentTypes);
                report(
                    cell.origin,
                    &column,
                    Code::UnknownLabelReference,
                    &cell.value,
                    format!(
                        "no uploaded {} is labelled \"{label}\"; the bundle is assumed to be \
                         '{guess}', upload the Bundles sheet or fix the label",
                        ty.item_noun()
                    ),
                );
                records[i].set(
                    "entity_type",
                    ty.bundle_entity_type().unwrap_or("node").to_owned(),
                    cell.origin,
                );
                records[i].set("bundle", guess, cell.origin);
            }
            many => {
                let idx: Vec<usize> = many.iter().map(|(_, i)| *i).collect();
                report(
                    cell.origin,
                    &column,
                    Code::AmbiguousLabelReference,
                    &cell.value,
                    format!(
                        "\"{label}\" names more than one bundle ({}); the field is left out, give \
                         the bundles distinct labels or add the type in parentheses",
                        describe(records, files, &idx)
                    ),
                );
                records[i].ty = None;
            }
        }
    }

    // Child sheets: states first, since transitions refer to state labels.
    let mut state_labels: HashMap<(usize, String), String> = HashMap::new();
    for pass in [
        Child::WorkflowStates,
        Child::ViewDisplays,
        Child::ImageEffects,
        Child::RolePermissions,
        Child::WorkflowTransitions,
    ] {
        for i in 0..records.len() {
            if records[i].sheet.target != Target::Child(pass) || records[i].ty.is_none() {
                continue;
            }
            let child = records[i].clone();
            records[i].ty = None;
            let Some(parent_cell) = child.cell("parent") else {
                report(
                    child.origin,
                    "",
                    Code::MissingRequiredValue,
                    "",
                    format!(
                        "the {} cell is blank; say which {} this row belongs to",
                        first_header(&child, files),
                        pass.parent().item_noun()
                    ),
                );
                continue;
            };
            let column = header(parent_cell.origin, "parent");
            let parent = match index.find(pass.parent(), &parent_cell.value) {
                Lookup::One(p) => p,
                Lookup::None => {
                    report(
                        parent_cell.origin,
                        &column,
                        Code::UnknownLabelReference,
                        &parent_cell.value,
                        format!(
                            "no uploaded {} is named \"{}\"; this row is left out, fix the name \
                             or upload the sheet that defines it",
                            pass.parent().item_noun(),
                            preview(&parent_cell.value)
                        ),
                    );
                    continue;
                }
                Lookup::Many(many) => {
                    report(
                        parent_cell.origin,
                        &column,
                        Code::AmbiguousLabelReference,
                        &parent_cell.value,
                        format!(
                            "\"{}\" names more than one {} ({}); this row is attached to neither, \
                             give them distinct names",
                            preview(&parent_cell.value),
                            pass.parent().item_noun(),
                            describe(records, files, &many)
                        ),
                    );
                    continue;
                }
            };
            let origin = child.origin;
            match pass {
                Child::ViewDisplays => {
                    if let Some(d) = child.get("value").filter(|d| !d.is_empty()) {
                        records[parent].append("displays", d, origin);
                    }
                }
                Child::ImageEffects => {
                    if let Some(effect) = child.get("value") {
                        let args =
                            effect_arguments(effect, child.get("summary").unwrap_or_default());
                        let item = if args.is_empty() {
                            effect.to_owned()
                        } else {
                            format!("{effect}:{args}")
                        };
                        records[parent].append("effects", &item, origin);
                    }
                }
                Child::RolePermissions => {
                    if let Some(p) = child.get("value") {
                        records[parent].append("permissions", p, origin);
                    }
                }
                Child::WorkflowStates => {
                    if let (Some(m), label) = (child.get("machine_name"), child.get("label")) {
                        if let Some(label) = label {
                            state_labels.insert((parent, label.to_lowercase()), m.to_owned());
                        }
                        state_labels.insert((parent, m.to_lowercase()), m.to_owned());
                        records[parent].append("states", m, origin);
                    }
                }
                Child::WorkflowTransitions => {
                    let mut ends = Vec::new();
                    for side in ["from_state", "to_state"] {
                        let Some(cell) = child.cell(side) else {
                            continue;
                        };
                        let mut names = Vec::new();
                        for label in split_on(&cell.value, &[',', ';', '\n']) {
                            match state_labels.get(&(parent, label.to_lowercase())) {
                                Some(m) => names.push(m.clone()),
                                None => report(
                                    cell.origin,
                                    &header(cell.origin, side),
                                    Code::UnknownLabelReference,
                                    &label,
                                    format!(
                                        "the workflow has no state labelled \"{label}\"; add it \
                                         to the Workflow states sheet or fix the label"
                                    ),
                                ),
                            }
                        }
                        ends.push(names);
                    }
                    if let [from, to] = ends.as_slice() {
                        for f in from {
                            for t in to {
                                records[parent].append("transitions", &format!("{f}>{t}"), origin);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn first_header(record: &Record, files: &[FileInfo]) -> String {
    files[record.origin.file]
        .headers
        .first()
        .cloned()
        .unwrap_or_default()
}

/// Turns a Spec Tool effect summary into `name:arguments` arguments:
/// `480×480` -> `480x480`, `width 1024` -> `1024x`, `WEBP` -> `webp`.
fn effect_arguments(effect: &str, summary: &str) -> String {
    let summary = summary.trim().to_lowercase().replace('×', "x");
    if summary.is_empty() {
        return String::new();
    }
    if effect == "convert" || effect == "convert_avif" {
        return summary
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_owned();
    }
    let number_after = |word: &str| {
        summary.split(word).nth(1).and_then(|rest| {
            let digits: String = rest
                .trim_start_matches([' ', ':', '='])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (!digits.is_empty()).then_some(digits)
        })
    };
    let (w, h) = (number_after("width"), number_after("height"));
    if w.is_some() || h.is_some() {
        return format!("{}x{}", w.unwrap_or_default(), h.unwrap_or_default());
    }
    summary
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(')
        .find(|t| t.contains('x') && t.chars().any(|c| c.is_ascii_digit()))
        .map_or_else(|| summary.replace(' ', ""), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::effect_arguments;

    #[test]
    fn effect_summaries() {
        assert_eq!(effect_arguments("scale", "480×480"), "480x480");
        assert_eq!(effect_arguments("scale", "width 1024"), "1024x");
        assert_eq!(effect_arguments("scale", "height 300"), "x300");
        assert_eq!(
            effect_arguments("scale_and_crop", "480×320 (upscaling allowed)"),
            "480x320"
        );
        assert_eq!(effect_arguments("convert", "WEBP"), "webp");
        assert_eq!(effect_arguments("desaturate", ""), "");
    }
}

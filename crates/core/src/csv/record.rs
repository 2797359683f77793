//! Records: a table's rows with their headers mapped to canonical columns and
//! their dialect values mapped to machine values.
//!
//! Every sheet of every dialect ends here in one shape, so the item builders
//! are written once for the canonical columns.

use crate::finding::{Code, Finding};

use super::read::Table;
use super::registry::{self, CsvType, RowFilter, Sheet, Target, ValueMap, lookup};
use super::values::{preview, split_on};

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index of the file in the upload.
    pub file: usize,
    /// 1-based line.
    pub line: u32,
    /// Header cell index, if the value is a cell.
    pub col: Option<usize>,
}

/// One canonical cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Canonical column.
    pub to: &'static str,
    /// Trimmed, mapped value (never empty).
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

/// A row in canonical shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where the row is.
    pub origin: Origin,
    /// The sheet it was read with.
    pub sheet: &'static Sheet,
    /// The type of item it becomes (for child sheets: the parent's type).
    pub ty: Option<CsvType>,
    /// Canonical cells with a value.
    pub cells: Vec<Cell>,
    /// Unknown (or context-only) columns with a value: header index and value.
    pub extra: Vec<(usize, String)>,
}

impl Record {
    /// The value of a canonical column, if it has one.
    #[must_use]
    pub fn get(&self, to: &str) -> Option<&str> {
        self.cell(to).map(|c| c.value.as_str())
    }

    /// The cell of a canonical column, if it has a value.
    #[must_use]
    pub fn cell(&self, to: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.to == to)
    }

    /// Sets a canonical column.
    pub fn set(&mut self, to: &'static str, value: String, origin: Origin) {
        match self.cells.iter_mut().find(|c| c.to == to) {
            Some(cell) => cell.value = value,
            None => self.cells.push(Cell { to, value, origin }),
        }
    }

    /// Appends an item to a list column (items are joined with `;`).
    pub fn append(&mut self, to: &'static str, item: &str, origin: Origin) {
        match self.cells.iter_mut().find(|c| c.to == to) {
            Some(cell) => {
                cell.value.push(';');
                cell.value.push_str(item);
            }
            None => self.cells.push(Cell {
                to,
                value: item.to_owned(),
                origin,
            }),
        }
    }
}

/// Maps a dialect value; `Err` keeps the raw value and means the label is unknown.
fn map_value(map: ValueMap, value: &str) -> Result<String, String> {
    let found = |table: &[(&str, &str)]| {
        lookup(table, value)
            .map(str::to_owned)
            .ok_or_else(|| value.to_owned())
    };
    match map {
        ValueMap::AsIs => Ok(value.to_owned()),
        // Unknown field types are reported by the field builder, with their own code.
        ValueMap::FieldTypeLabel => Ok(found(registry::FIELD_TYPE_LABELS).unwrap_or_else(|v| v)),
        ValueMap::BaseTableLabel => {
            if registry::base_table_entity_type(value).is_some() {
                Ok(value.to_owned())
            } else {
                found(registry::BASE_TABLE_LABELS)
            }
        }
        ValueMap::DisplayPluginLabel => {
            if registry::DISPLAY_TYPES.contains(&value) {
                Ok(value.to_owned())
            } else {
                found(registry::DISPLAY_PLUGIN_LABELS)
            }
        }
        ValueMap::EffectLabel => {
            if registry::IMAGE_EFFECTS.contains(&value) {
                Ok(value.to_owned())
            } else {
                found(registry::EFFECT_LABELS)
            }
        }
        ValueMap::WorkflowTypeLabel => {
            if super::values::is_machine_name(value, false) {
                Ok(value.to_owned())
            } else {
                found(registry::WORKFLOW_TYPE_LABELS)
            }
        }
        ValueMap::BundleTypeLabel => lookup(registry::BUNDLE_TYPE_LABELS, value)
            .map(|t| t.as_str().to_owned())
            .ok_or_else(|| value.to_owned()),
        ValueMap::Flag(word) => Ok(if value.eq_ignore_ascii_case(word) {
            "true".to_owned()
        } else {
            value.to_owned()
        }),
        ValueMap::Tick => Ok(match value {
            "✔" | "✓" | "✔️" => "true".to_owned(),
            other => other.to_owned(),
        }),
        ValueMap::CommaList => Ok(split_on(value, &[',', ';', '\n']).join(";")),
        ValueMap::SelectionHandler => Ok(value
            .strip_prefix("default:")
            .map_or_else(|| value.to_owned(), str::to_owned)),
        ValueMap::ModuleMachineName => Ok(split_label(value).1.to_owned()),
        ValueMap::ModuleLabel => Ok(split_label(value).0.to_owned()),
        ValueMap::PathProjectType => {
            let path = value.replace('\\', "/");
            Ok(if path.starts_with("core/") {
                "core"
            } else if path.contains("/custom/") || path.starts_with("custom/") {
                "custom"
            } else if path.contains("/contrib/") || path.starts_with("contrib/") {
                "contrib"
            } else {
                ""
            }
            .to_owned())
        }
    }
}

/// `Label (machine)` -> (`Label`, `machine`); anything else is both.
fn split_label(value: &str) -> (&str, &str) {
    if let Some(open) = value.rfind(" (")
        && let Some(inner) = value[open + 2..].strip_suffix(')')
        && super::values::is_machine_name(inner, false)
    {
        return (value[..open].trim(), inner);
    }
    (value, value)
}

/// A spreadsheet's name for the column at `index` (0 -> `A`, 26 -> `AA`).
#[must_use]
pub fn spreadsheet_column(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// What a sheet's label means in words, for findings.
fn label_kind(map: ValueMap) -> &'static str {
    match map {
        ValueMap::BaseTableLabel => "base table",
        ValueMap::DisplayPluginLabel => "display plugin",
        ValueMap::EffectLabel => "image effect",
        ValueMap::WorkflowTypeLabel => "workflow type",
        ValueMap::BundleTypeLabel => "bundle type",
        _ => "value",
    }
}

/// Turns a table read with a sheet into records, reporting header problems
/// and unknown dialect labels.
pub fn records(
    file_index: usize,
    file: &str,
    sheet: &'static Sheet,
    table: Table,
    findings: &mut Vec<Finding>,
) -> Vec<Record> {
    let columns: Vec<_> = table
        .headers
        .iter()
        .map(|h| sheet.column(&h.name))
        .collect();
    for (i, h) in table.headers.iter().enumerate() {
        if h.repeated && columns[i].is_none() {
            let base = h.name.rsplit_once('_').map_or(h.name.as_str(), |(b, _)| b);
            let first = table
                .headers
                .iter()
                .find(|o| o.name == base)
                .map_or_else(|| base.to_owned(), |o| o.raw.clone());
            findings.push(
                Finding::file(
                    file,
                    Code::DuplicateColumn,
                    format!(
                        "the header has two columns that both mean \"{base}\": \"{first}\" and \
                         \"{}\" (column {}); the first is used, remove or rename the other",
                        h.raw,
                        spreadsheet_column(i)
                    ),
                )
                .column(h.raw.clone()),
            );
        }
        if h.raw.is_empty() && table.rows.iter().any(|r| !r.cells[i].trim().is_empty()) {
            findings.push(Finding::file(
                file,
                Code::BlankColumnName,
                format!(
                    "column {} has values but no name in the header; its values are kept as \
                     context under \"{}\", give it a name",
                    spreadsheet_column(i),
                    h.name
                ),
            ));
        }
    }
    let index = |name: &str| table.headers.iter().position(|h| h.name == name);
    let (status_col, type_col) = (index("status"), index("type"));
    let Table { headers, rows, .. } = table;
    let table_headers = headers;
    let mut out = Vec::with_capacity(rows.len());
    for mut row in rows {
        if sheet.filter == RowFilter::EnabledModules {
            let cell = |c: Option<usize>| c.map_or("", |i| row.cells[i].trim());
            let enabled = status_col.is_none() || cell(status_col).eq_ignore_ascii_case("enabled");
            let module = type_col.is_none() || cell(type_col).eq_ignore_ascii_case("module");
            if !(enabled && module) {
                continue;
            }
        }
        let origin = Origin {
            file: file_index,
            line: row.line,
            col: None,
        };
        let mut record = Record {
            origin,
            sheet,
            ty: sheet.csv_type(),
            cells: Vec::with_capacity(columns.len()),
            extra: Vec::new(),
        };
        for (i, raw) in row.cells.iter_mut().enumerate() {
            let trimmed = raw.trim();
            // Most cells need no trimming and no mapping: move them instead of copying.
            let owned = if trimmed.len() == raw.len() {
                std::mem::take(raw)
            } else {
                trimmed.to_owned()
            };
            let value = owned.as_str();
            let column = columns[i].filter(|c| !c.to.is_empty());
            if value.is_empty() {
                // In flag columns (`Required` or blank, `✔` or blank) blank means no.
                if let Some(c) =
                    column.filter(|c| matches!(c.map, ValueMap::Flag(_) | ValueMap::Tick))
                {
                    record.set(
                        c.to,
                        "false".to_owned(),
                        Origin {
                            col: Some(i),
                            ..origin
                        },
                    );
                }
                continue;
            }
            let Some(column) = column else {
                record.extra.push((i, owned));
                continue;
            };
            if table_headers[i].repeated && !column.accepts(&table_headers[i].name) {
                continue;
            }
            let cell_origin = Origin {
                col: Some(i),
                ..origin
            };
            let mapped = match if column.map == ValueMap::AsIs {
                Ok(owned)
            } else {
                map_value(column.map, value)
            } {
                Ok(v) => v,
                Err(raw) => {
                    let header = &table_headers[i].raw;
                    let kind = label_kind(column.map);
                    let consequence = if column.map == ValueMap::BundleTypeLabel {
                        "the row is left out; use Content type, Vocabulary, Media type, \
                         Paragraph type or Custom block type"
                    } else {
                        "it is kept as written; check the spelling against the Spec Tool's labels"
                    };
                    findings.push(
                        Finding::at(
                            file,
                            row.line,
                            Code::UnknownLabel,
                            format!(
                                "line {}: the {kind} \"{}\" in {header} is not one the registry \
                                 knows; {consequence}",
                                row.line,
                                preview(&raw)
                            ),
                        )
                        .column(header.clone())
                        .value(preview(&raw)),
                    );
                    if column.map == ValueMap::BundleTypeLabel {
                        record.ty = None;
                    }
                    raw
                }
            };
            if column.map == ValueMap::BundleTypeLabel {
                record.ty = CsvType::ALL.into_iter().find(|t| t.as_str() == mapped);
            }
            if !mapped.is_empty() || column.map == ValueMap::DisplayPluginLabel {
                record.set(column.to, mapped, cell_origin);
            }
        }
        if sheet.target == Target::Bundles
            && record.ty.is_none()
            && record.get("bundle_type").is_none()
        {
            findings.push(Finding::at(
                file,
                row.line,
                Code::MissingRequiredValue,
                format!(
                    "line {}: the Type cell is blank, so this bundle is left out; use Content \
                     type, Vocabulary, Media type, Paragraph type or Custom block type",
                    row.line
                ),
            ));
        }
        out.push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_columns() {
        assert_eq!(spreadsheet_column(0), "A");
        assert_eq!(spreadsheet_column(25), "Z");
        assert_eq!(spreadsheet_column(26), "AA");
        assert_eq!(spreadsheet_column(701), "ZZ");
    }

    #[test]
    fn dialect_values_map() {
        assert_eq!(
            map_value(ValueMap::FieldTypeLabel, "Text (plain)"),
            Ok("string".into())
        );
        assert_eq!(
            map_value(ValueMap::FieldTypeLabel, "Fancy"),
            Ok("Fancy".into())
        );
        assert_eq!(
            map_value(ValueMap::BaseTableLabel, "Content"),
            Ok("node_field_data".into())
        );
        assert_eq!(
            map_value(ValueMap::BaseTableLabel, "Nope"),
            Err("Nope".into())
        );
        assert_eq!(
            map_value(ValueMap::DisplayPluginLabel, "Default"),
            Ok(String::new())
        );
        assert_eq!(
            map_value(ValueMap::Flag("required"), "Required"),
            Ok("true".into())
        );
        assert_eq!(map_value(ValueMap::Tick, "✔"), Ok("true".into()));
        assert_eq!(map_value(ValueMap::CommaList, "a, b,c"), Ok("a;b;c".into()));
        assert_eq!(
            map_value(ValueMap::SelectionHandler, "default:taxonomy_term"),
            Ok("taxonomy_term".into())
        );
        assert_eq!(
            map_value(ValueMap::ModuleMachineName, "Node (node)"),
            Ok("node".into())
        );
        assert_eq!(
            map_value(ValueMap::ModuleLabel, "Node (node)"),
            Ok("Node".into())
        );
        assert_eq!(
            map_value(ValueMap::PathProjectType, "modules/contrib/token"),
            Ok("contrib".into())
        );
        assert_eq!(
            map_value(ValueMap::PathProjectType, "core/modules/node"),
            Ok("core".into())
        );
    }
}

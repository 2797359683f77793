//! The CSV type registry and the validator.
//!
//! [`validate`] takes the files of an upload and returns, in one pass, what
//! each file is, the config items they define and every finding. The steps:
//! read each file ([`read`]), detect its sheet ([`detect`]), map its rows to
//! canonical records ([`record`]), resolve Spec Tool labels across files
//! ([`dialect`]), build typed items ([`build`]), and check references across
//! files ([`checks`]).

pub(crate) mod build;
pub(crate) mod checks;
pub mod detect;
pub(crate) mod dialect;
pub mod normalise;
pub mod read;
pub mod record;
pub mod registry;
pub mod values;

use serde::{Deserialize, Serialize};

use crate::finding::{Code, Finding, Severity};
use crate::item::ConfigItem;

pub use detect::{Detection, detect};
pub use registry::{CsvType, Dialect, SHEETS, Sheet, Target};

use read::Encoding;
use record::Record;

/// Limits on an upload; over a limit is an error, never a silent truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest file, in bytes.
    pub max_file_bytes: usize,
    /// Most files in one upload.
    pub max_files: usize,
    /// Most data rows in one file.
    pub max_rows: usize,
    /// Largest single cell, in bytes.
    pub max_cell_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_files: 50,
            max_rows: 20_000,
            max_cell_bytes: 64 * 1024,
        }
    }
}

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// File name as uploaded (a path is fine; only the last part is shown).
    pub name: String,
    /// Raw bytes.
    pub bytes: Vec<u8>,
}

impl SourceFile {
    /// A file from its name and bytes.
    #[must_use]
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

/// What the validator learned about a file, for reports and for findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileInfo {
    pub name: String,
    /// Header cells as written.
    pub headers: Vec<String>,
}

/// What one file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileReport {
    /// File name as uploaded.
    pub name: String,
    /// The CSV type it contributes to (`bundles` for a Spec Tool Bundles
    /// sheet, which holds several); absent when it could not be detected.
    #[serde(rename = "type")]
    pub csv_type: Option<String>,
    /// The registry sheet it was read as (`fields`, `spec_tool.fields`, `drush.field_info`).
    pub sheet: Option<String>,
    /// The dialect of that sheet.
    pub dialect: Option<Dialect>,
    /// Encoding it was read with (`utf-8`, `utf-8-bom`, `utf-16`, `windows-1252`).
    pub encoding: Option<String>,
    /// Data rows read (blank rows not counted).
    pub rows: usize,
    /// Config items defined by its rows.
    pub items: usize,
    /// Header cells the registry does not know, kept as context.
    pub unknown_columns: Vec<String>,
}

/// The JSON document of a validation: each file, every finding and the
/// counts (`dtg validate --format json`, and the API's validation result).
/// The config items are left out; `summary.items` counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportDocument {
    /// One report per file, in upload order.
    pub files: Vec<FileReport>,
    /// Every finding, by file (in upload order) and line.
    pub findings: Vec<Finding>,
    /// The counts.
    pub summary: ReportSummary,
}

/// The counts of a validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportSummary {
    /// Files validated.
    pub files: usize,
    /// Config items defined by their rows.
    pub items: usize,
    /// Findings of severity `error`.
    pub errors: usize,
    /// Findings of severity `warning`.
    pub warnings: usize,
    /// Findings of severity `info`.
    pub info: usize,
}

/// The result of validating an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// One report per file, in upload order.
    pub files: Vec<FileReport>,
    /// Config items, in file and row order.
    pub items: Vec<ConfigItem>,
    /// Every finding, by file (in upload order) and line.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding blocks processing.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }

    /// Number of errors and of warnings: (errors, warnings). Notes (severity
    /// `info`) are in neither; [`Report::infos`] counts them.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.count(Severity::Error), self.count(Severity::Warning))
    }

    /// Number of notes: values read in another form than the one written.
    #[must_use]
    pub fn infos(&self) -> usize {
        self.count(Severity::Info)
    }

    /// The counts of the report.
    #[must_use]
    pub fn summary(&self) -> ReportSummary {
        let (errors, warnings) = self.counts();
        ReportSummary {
            files: self.files.len(),
            items: self.items.len(),
            errors,
            warnings,
            info: self.infos(),
        }
    }

    /// The report as its JSON document: files, findings and counts.
    #[must_use]
    pub fn document(&self) -> ReportDocument {
        ReportDocument {
            files: self.files.clone(),
            findings: self.findings.clone(),
            summary: self.summary(),
        }
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// The entity type and bundle a Drush `field:info` file name says:
/// `<entity_type>.<bundle>.csv` or `field-info.<entity_type>.<bundle>.csv`.
fn drush_bundle(name: &str) -> Option<(String, String)> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let parts: Vec<&str> = base.split('.').collect();
    let parts = match parts.as_slice() {
        [first, rest @ ..]
            if first.eq_ignore_ascii_case("field-info")
                || first.eq_ignore_ascii_case("field_info") =>
        {
            rest
        }
        all => all,
    };
    match parts {
        [entity_type, bundle, ext] if ext.eq_ignore_ascii_case("csv") => {
            let ok = registry::ENTITY_TYPES.contains(entity_type)
                && values::is_machine_name(bundle, false);
            ok.then(|| ((*entity_type).to_owned(), (*bundle).to_owned()))
        }
        _ => None,
    }
}

fn columns_needed(sheet: &Sheet) -> String {
    sheet
        .columns
        .iter()
        .filter(|c| c.required)
        .map(|c| c.header)
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(columns: &[&registry::Column]) -> String {
    columns
        .iter()
        .map(|c| c.header)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates an upload: every file detected and checked, items built, references checked.
#[must_use]
pub fn validate(files: &[SourceFile], limits: &Limits) -> Report {
    let mut findings = Vec::new();
    let mut infos = Vec::with_capacity(files.len());
    let mut reports = Vec::with_capacity(files.len());
    let mut records: Vec<Record> = Vec::new();

    for (index, file) in files.iter().enumerate() {
        let name = file.name.clone();
        let mut report = FileReport {
            name: name.clone(),
            csv_type: None,
            sheet: None,
            dialect: None,
            encoding: None,
            rows: 0,
            items: 0,
            unknown_columns: Vec::new(),
        };
        infos.push(FileInfo {
            name: name.clone(),
            headers: Vec::new(),
        });
        if index >= limits.max_files {
            findings.push(Finding::file(
                &name,
                Code::TooManyFiles,
                format!(
                    "an upload takes at most {} files and this is file {}; it was not read, \
                     merge files of the same type or upload the rest in another session",
                    limits.max_files,
                    index + 1
                ),
            ));
            reports.push(report);
            continue;
        }
        let Some(table) = read::read_table(&name, &file.bytes, limits, &mut findings) else {
            reports.push(report);
            continue;
        };
        report.encoding = Some(
            match table.encoding {
                Encoding::Utf8 => "utf-8",
                Encoding::Utf8Bom => "utf-8-bom",
                Encoding::Utf16 => "utf-16",
                Encoding::Windows1252 => "windows-1252",
            }
            .to_owned(),
        );
        report.rows = table.rows.len();
        infos[index].headers = table.headers.iter().map(|h| h.raw.clone()).collect();
        let header_names: Vec<&str> = table.headers.iter().map(|h| h.name.as_str()).collect();
        let sheet = match detect(&name, &header_names) {
            Detection::Found(sheet) => sheet,
            Detection::MissingColumns(sheet, missing) => {
                report.csv_type = sheet.csv_type().map(|t| t.as_str().to_owned());
                report.sheet = Some(sheet.id.to_owned());
                report.dialect = Some(sheet.dialect);
                for column in missing {
                    findings.push(
                        Finding::file(
                            &name,
                            Code::MissingRequiredColumn,
                            format!(
                                "the file looks like {} but has no {} column; {} needs {}. Add \
                                 the column to the header row",
                                sheet.title,
                                column.header,
                                sheet.title,
                                columns_needed(sheet)
                            ),
                        )
                        .column(column.header),
                    );
                }
                reports.push(report);
                continue;
            }
            Detection::Unknown(closest) => {
                // A title or notes row above the header is common in exported sheets.
                let shifted = table.rows.iter().take(5).find_map(|row| {
                    let names: Vec<String> = row
                        .cells
                        .iter()
                        .map(|c| read::normalise_header(c))
                        .collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    match detect(&name, &names) {
                        Detection::Found(sheet) => Some((row.line, sheet)),
                        _ => None,
                    }
                });
                if let Some((line, sheet)) = shifted {
                    findings.push(Finding::file(
                        &name,
                        Code::UnknownCsvType,
                        format!(
                            "the first row is not a header, but line {line} is the header of {}; \
                             delete the rows above it so the header is the first row",
                            sheet.title
                        ),
                    ));
                    reports.push(report);
                    continue;
                }
                let header = table
                    .headers
                    .iter()
                    .map(|h| h.raw.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let hints = closest
                    .iter()
                    .map(|(s, missing)| {
                        format!(
                            "{} needs {} (missing: {})",
                            s.title,
                            columns_needed(s),
                            names(missing)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                findings.push(
                    Finding::file(
                        &name,
                        Code::UnknownCsvType,
                        format!(
                            "the header ({header}) matches no CSV type. Closest: {hints}. Check \
                             that the first row is the header; see docs/csv-formats.md"
                        ),
                    )
                    .value(values::preview(&header)),
                );
                reports.push(report);
                continue;
            }
            Detection::Ambiguous(sheets) => {
                let options = sheets
                    .iter()
                    .map(|s| {
                        format!(
                            "{} ({}.csv)",
                            s.title,
                            s.file_names.first().copied().unwrap_or(s.id)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                findings.push(Finding::file(
                    &name,
                    Code::AmbiguousCsvType,
                    format!(
                        "the header fits several CSV types equally: {options}; name the file \
                         after its type (e.g. menus.csv) or add a column only that type has"
                    ),
                ));
                reports.push(report);
                continue;
            }
        };
        report.csv_type = Some(
            sheet
                .csv_type()
                .map_or("bundles", CsvType::as_str)
                .to_owned(),
        );
        report.sheet = Some(sheet.id.to_owned());
        report.dialect = Some(sheet.dialect);
        report.unknown_columns = table
            .headers
            .iter()
            .filter(|h| sheet.column(&h.name).is_none())
            .map(|h| h.raw.clone())
            .collect();
        let mut file_records = record::records(index, &name, sheet, table, &mut findings);
        if sheet.id == "drush.field_info" {
            match drush_bundle(&name) {
                Some((entity_type, bundle)) => {
                    for r in &mut file_records {
                        let origin = r.origin;
                        r.set("entity_type", entity_type.clone(), origin);
                        r.set("bundle", bundle.clone(), origin);
                    }
                }
                None => {
                    findings.push(Finding::file(
                        &name,
                        Code::MissingBundleInFileName,
                        "Drush field:info prints no entity type or bundle, so the file name must \
                         say them: rename it <entity_type>.<bundle>.csv, e.g. node.article.csv",
                    ));
                    file_records.clear();
                }
            }
        }
        records.extend(file_records);
        reports.push(report);
    }

    dialect::resolve(&mut records, &infos, &mut findings);
    let mut items = Vec::with_capacity(records.len());
    for record in &records {
        if let Some(item) = build::build(record, &infos, &mut findings) {
            reports[record.origin.file].items += 1;
            items.push(item);
        }
    }
    let before = items.len();
    let items = checks::dedupe(items, &mut findings);
    if items.len() != before {
        for r in &mut reports {
            r.items = items.iter().filter(|i| i.source.file == r.name).count();
        }
    }
    checks::references(&items, &mut findings);
    checks::field_storage(&items, &mut findings);

    // A Spec Tool label that matched no bundle is one problem: the bundle name
    // assumed for it is not reported again as an unknown bundle.
    let unresolved: std::collections::HashSet<(String, Option<u32>)> = findings
        .iter()
        .filter(|f| f.code == Code::UnknownLabelReference)
        .map(|f| (f.file.clone(), f.line))
        .collect();
    if !unresolved.is_empty() {
        findings.retain(|f| {
            f.code != Code::UnknownBundleReference
                || !unresolved.contains(&(f.file.clone(), f.line))
        });
    }

    let order: std::collections::HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    findings.sort_by_cached_key(|f| {
        (
            order.get(f.file.as_str()).copied().unwrap_or(usize::MAX),
            f.line.unwrap_or(0),
        )
    });
    Report {
        files: reports,
        items,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drush_file_names() {
        assert_eq!(
            drush_bundle("node.article.csv"),
            Some(("node".into(), "article".into()))
        );
        assert_eq!(
            drush_bundle("dir/field-info.taxonomy_term.tags.csv"),
            Some(("taxonomy_term".into(), "tags".into()))
        );
        assert_eq!(drush_bundle("fields.csv"), None);
        assert_eq!(drush_bundle("widget.article.csv"), None);
    }
}

//! Detection: which sheet of the registry a file is.
//!
//! The header decides first: a sheet is a candidate when every required column
//! is present, and the candidate that recognises the most of the header's
//! columns wins. The file name breaks ties (`fields.csv`, `Content Types.csv`,
//! `uwec_views.csv`). A file the header and name cannot place is explained:
//! which sheets came closest and which of their columns are missing.

use super::read::normalise_header;
use super::registry::{Column, Dialect, SHEETS, Sheet};

/// The outcome of detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    /// The file is this sheet.
    Found(&'static Sheet),
    /// The file name says this sheet, but required columns are missing.
    MissingColumns(&'static Sheet, Vec<&'static Column>),
    /// No sheet matches; the closest ones, with their missing columns.
    Unknown(Vec<(&'static Sheet, Vec<&'static Column>)>),
    /// Two or more sheets match equally and the file name does not decide.
    Ambiguous(Vec<&'static Sheet>),
}

/// The file name without its extension, normalised like a header.
#[must_use]
pub fn file_stem(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = ["csv", "tsv", "txt"]
        .iter()
        .find_map(|ext| {
            base.len()
                .checked_sub(ext.len() + 1)
                .filter(|&i| {
                    base.is_char_boundary(i) && base[i..].eq_ignore_ascii_case(&format!(".{ext}"))
                })
                .map(|i| &base[..i])
        })
        .unwrap_or(base);
    normalise_header(stem)
}

/// How well a file name points at a sheet: the length of the longest of its
/// names found in the stem as whole `_`-separated words; 0 when none is.
fn name_score(sheet: &Sheet, stem: &str) -> usize {
    sheet
        .file_names
        .iter()
        .filter(|hint| {
            stem == **hint
                || stem.starts_with(&format!("{hint}_"))
                || stem.ends_with(&format!("_{hint}"))
                || stem.contains(&format!("_{hint}_"))
        })
        .map(|hint| hint.len())
        .max()
        .unwrap_or(0)
}

fn missing_columns(sheet: &'static Sheet, headers: &[&str]) -> Vec<&'static Column> {
    sheet
        .columns
        .iter()
        .filter(|c| c.required && !headers.iter().any(|h| c.accepts(h)))
        .collect()
}

fn recognised(sheet: &Sheet, headers: &[&str]) -> usize {
    headers.iter().filter(|h| sheet.column(h).is_some()).count()
}

/// Detects the sheet of a file from its normalised headers and its name.
#[must_use]
pub fn detect(file_name: &str, headers: &[&str]) -> Detection {
    let stem = file_stem(file_name);
    let candidates: Vec<&'static Sheet> = SHEETS
        .iter()
        .filter(|s| missing_columns(s, headers).is_empty())
        .collect();

    if candidates.is_empty() {
        let named = best_by(SHEETS.iter().collect(), |s| name_score(s, &stem));
        if named.first().is_some_and(|s| name_score(s, &stem) > 0) {
            let best = best_by(named, |s| recognised(s, headers));
            let pick = best
                .iter()
                .find(|s| s.dialect == Dialect::Canonical)
                .or(best.first());
            if let Some(sheet) = pick {
                return Detection::MissingColumns(sheet, missing_columns(sheet, headers));
            }
        }
        let mut closest: Vec<&'static Sheet> = SHEETS.iter().collect();
        closest.sort_by_key(|s| {
            (
                std::cmp::Reverse(recognised(s, headers)),
                missing_columns(s, headers).len(),
            )
        });
        return Detection::Unknown(
            closest
                .into_iter()
                .take(3)
                .map(|s| (s, missing_columns(s, headers)))
                .collect(),
        );
    }

    let top = best_by(candidates, |s| recognised(s, headers));
    // A file whose name says a type, and whose header that type recognises
    // better than the header-detected one, is that type with columns missing
    // (a `content_types.csv` without `label` is not a modules file).
    let won = top.first().map_or(0, |s| recognised(s, headers));
    let named = best_by(SHEETS.iter().collect(), |s| name_score(s, &stem));
    if let Some(sheet) = named
        .into_iter()
        .filter(|s| name_score(s, &stem) > 0 && !top.contains(s))
        .max_by_key(|s| recognised(s, headers))
        .filter(|s| recognised(s, headers) > won)
    {
        return Detection::MissingColumns(sheet, missing_columns(sheet, headers));
    }
    if let [only] = top.as_slice() {
        return Detection::Found(only);
    }
    let named = best_by(top.clone(), |s| name_score(s, &stem));
    match named.as_slice() {
        [only] if name_score(only, &stem) > 0 => Detection::Found(only),
        _ => Detection::Ambiguous(top),
    }
}

/// The items with the highest score.
fn best_by(items: Vec<&'static Sheet>, score: impl Fn(&Sheet) -> usize) -> Vec<&'static Sheet> {
    let max = items.iter().map(|s| score(s)).max().unwrap_or(0);
    items.into_iter().filter(|s| score(s) == max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(d: &Detection) -> &'static str {
        match d {
            Detection::Found(s) | Detection::MissingColumns(s, _) => s.id,
            _ => "",
        }
    }

    #[test]
    fn header_signature_decides() {
        let d = detect("anything.csv", &["machine_name", "label", "hierarchy"]);
        assert_eq!(id(&d), "vocabularies");
        let d = detect(
            "x.csv",
            &[
                "entity_type",
                "bundle",
                "field_name",
                "label",
                "field_type",
                "required",
            ],
        );
        assert_eq!(id(&d), "fields");
    }

    #[test]
    fn file_name_breaks_ties() {
        for (name, want) in [
            ("menus.csv", "menus"),
            ("Content Types.csv", "content_types"),
            ("uwec_block_types.csv", "block_types"),
            ("site-roles.CSV", "roles"),
        ] {
            let d = detect(name, &["machine_name", "label", "description"]);
            assert_eq!(id(&d), want, "{name}");
        }
        let d = detect("data.csv", &["machine_name", "label"]);
        assert!(
            matches!(d, Detection::Ambiguous(ref s) if s.len() > 2),
            "{d:?}"
        );
    }

    #[test]
    fn dialect_sheets_are_recognised() {
        let d = detect(
            "Fields.csv",
            &["bundle", "field_label", "machine_name", "field_type"],
        );
        assert_eq!(id(&d), "spec_tool.fields");
        let d = detect("Roles.csv", &["name", "machine_name"]);
        assert_eq!(id(&d), "spec_tool.roles");
        let d = detect(
            "x.csv",
            &["machine_name", "name", "description", "status", "tag"],
        );
        assert_eq!(id(&d), "drush.views_list");
        let d = detect("Workflows.csv", &["label", "machine_name", "type"]);
        assert_eq!(id(&d), "workflows");
        let d = detect(
            "node.article.csv",
            &[
                "label",
                "description",
                "field_name",
                "field_type",
                "required",
            ],
        );
        assert_eq!(id(&d), "drush.field_info");
    }

    #[test]
    fn named_file_missing_a_column_is_explained() {
        let d = detect(
            "fields.csv",
            &["entity_type", "bundle", "field_name", "label"],
        );
        match d {
            Detection::MissingColumns(s, missing) => {
                assert_eq!(s.id, "fields");
                assert_eq!(
                    missing.iter().map(|c| c.header).collect::<Vec<_>>(),
                    ["field_type"]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(detect("stuff.csv", &["foo", "bar"]), Detection::Unknown(ref c) if c.len() == 3)
        );
    }

    #[test]
    fn a_named_file_is_not_taken_for_a_weaker_match() {
        let d = detect(
            "content_types.csv",
            &["machine_name", "description", "revisions", "menus"],
        );
        match d {
            Detection::MissingColumns(s, missing) => {
                assert_eq!(s.id, "content_types");
                assert_eq!(
                    missing.iter().map(|c| c.header).collect::<Vec<_>>(),
                    ["label"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stems() {
        assert_eq!(file_stem("dir/Content Types.CSV"), "content_types");
        assert_eq!(
            file_stem("field-info.node.article.csv"),
            "field_info_node_article"
        );
        assert_eq!(file_stem("noext"), "noext");
    }
}

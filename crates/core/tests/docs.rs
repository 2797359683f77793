//! The user documentation of the CSV formats stays true to the registry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use dtg_core::Code;
use dtg_core::csv::{Dialect, SHEETS};

fn doc() -> String {
    std::fs::read_to_string(common::repo().join("docs/csv-formats.md"))
        .expect("docs/csv-formats.md")
}

#[test]
fn every_finding_code_is_documented_with_its_severity() {
    let doc = doc();
    for code in Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.severity());
        assert!(
            doc.contains(&row),
            "docs/csv-formats.md lacks the row {row}"
        );
    }
}

#[test]
fn every_canonical_column_is_documented() {
    let doc = doc();
    for sheet in SHEETS.iter().filter(|s| s.dialect == Dialect::Canonical) {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", sheet.id)))
            .unwrap_or_else(|| panic!("no row for {}", sheet.id));
        for column in sheet
            .columns
            .iter()
            .filter(|c| !matches!(c.header, "notes" | "description"))
        {
            let shown = if column.required {
                format!("**{}**", column.header)
            } else {
                column.header.to_owned()
            };
            assert!(row.contains(&shown), "{}: {shown} not documented", sheet.id);
        }
    }
}

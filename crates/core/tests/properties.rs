//! Property tests: the reader and the validator never panic, whatever the bytes,
//! and what they report always points inside the input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dtg_core::csv::read::read_table;
use dtg_core::csv::{Limits, SourceFile, validate};
use proptest::prelude::*;

/// Text built from the characters that make CSV hard.
fn csvish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        ",",
        ";",
        "\t",
        "\"",
        "\"\"",
        "\n",
        "\r\n",
        "\r",
        " ",
        "a",
        "Z",
        "é",
        "✔",
        "|",
        ">",
        ":",
        "0",
        "-1",
        "machine_name",
        "label",
        "field_name",
        "entity_type",
        "bundle",
        "field_type",
        "node",
        "article",
        "true",
        "x",
        "unlimited",
        "Name",
        "Machine name",
        "Type",
        "Content type",
        "(",
        ")",
        "\u{feff}",
    ]);
    prop::collection::vec(atoms, 0..200).prop_map(|v| v.concat())
}

fn file_names() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "fields.csv",
        "content_types.csv",
        "menus.csv",
        "Bundles.csv",
        "Fields.csv",
        "data.csv",
        "node.article.csv",
        "Views displays.csv",
        "roles.csv",
        "workflows.csv",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut findings = Vec::new();
        let table = read_table("f.csv", &bytes, &Limits::default(), &mut findings);
        if let Some(table) = table {
            for row in &table.rows {
                prop_assert_eq!(row.cells.len(), table.headers.len());
                prop_assert!(row.line >= 2);
            }
        } else {
            prop_assert!(findings.iter().any(|f| f.is_error()));
        }
    }

    #[test]
    fn validator_never_panics_and_findings_point_inside(
        files in prop::collection::vec((file_names(), csvish()), 1..5),
    ) {
        let files: Vec<SourceFile> = files
            .into_iter()
            .enumerate()
            .map(|(i, (n, t))| SourceFile::new(if i == 0 { n } else { format!("{i}/{n}") }, t.into_bytes()))
            .collect();
        let report = validate(&files, &Limits::default());
        prop_assert_eq!(report.files.len(), files.len());
        for f in &report.findings {
            let file = files.iter().find(|s| s.name == f.file);
            prop_assert!(file.is_some(), "finding for an unknown file: {:?}", f);
            if let (Some(line), Some(file)) = (f.line, file) {
                let lines = file.bytes.iter().filter(|b| **b == b'\n' || **b == b'\r').count() as u32 + 1;
                prop_assert!(f.line.is_some_and(|l| l >= 1));
                prop_assert!(line >= 1 && line <= lines, "line {} of {} in {:?}", line, lines, f);
            }
            prop_assert!(!f.message.is_empty());
        }
        for item in &report.items {
            prop_assert!(!item.key.is_empty());
        }
    }

    #[test]
    fn limits_are_errors_never_truncation(rows in 1usize..50, limit in 1usize..50) {
        let mut text = String::from("machine_name,label\n");
        for i in 0..rows {
            text.push_str(&format!("menu_{i},Menu {i}\n"));
        }
        let limits = Limits { max_rows: limit, ..Limits::default() };
        let report = validate(&[SourceFile::new("menus.csv", text)], &limits);
        if rows > limit {
            prop_assert!(report.items.is_empty());
            prop_assert!(report.findings.iter().any(|f| f.code == dtg_core::Code::TooManyRows));
        } else {
            prop_assert_eq!(report.items.len(), rows);
        }
    }
}

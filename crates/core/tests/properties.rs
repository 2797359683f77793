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

mod planner {
    use std::collections::BTreeSet;

    use dtg_core::csv::{Limits, SourceFile, validate};
    use dtg_core::plan::{Granularity, PlanSettings, plan};
    use proptest::prelude::*;

    /// A generated site: content types, vocabularies, paragraph types, fields
    /// referencing any of them, views, roles and workflows over them.
    fn site() -> impl Strategy<Value = Vec<SourceFile>> {
        (1usize..8, 1usize..5, 0usize..4, prop::collection::vec((0usize..20, 0usize..6, 0usize..20), 0..60), 0usize..5, any::<bool>())
            .prop_map(|(types, vocabs, paras, fields, views, per_field_menu)| {
                let mut ct = String::from("machine_name,label,menus\n");
                for i in 0..types {
                    ct.push_str(&format!("type_{i},Type {i},{}\n", if per_field_menu { "main" } else { "" }));
                }
                let mut vo = String::from("machine_name,label\n");
                for i in 0..vocabs {
                    vo.push_str(&format!("vocab_{i},Vocab {i}\n"));
                }
                let mut pa = String::from("machine_name,label\n");
                for i in 0..paras {
                    pa.push_str(&format!("para_{i},Para {i}\n"));
                }
                let mut fi = String::from("entity_type,bundle,field_name,label,field_type,target_type,target_bundles\n");
                for (n, (bundle, kind, target)) in fields.iter().enumerate() {
                    let (entity, b) = match kind % 3 {
                        0 => ("node", format!("type_{}", bundle % types)),
                        1 => ("taxonomy_term", format!("vocab_{}", bundle % vocabs)),
                        _ if paras > 0 => ("paragraph", format!("para_{}", bundle % paras)),
                        _ => ("node", format!("type_{}", bundle % types)),
                    };
                    let (ft, tt, tb) = match kind {
                        3 => ("entity_reference", "node", format!("type_{}", target % types)),
                        4 => ("entity_reference", "taxonomy_term", format!("vocab_{}", target % vocabs)),
                        5 if paras > 0 => ("entity_reference_revisions", "paragraph", format!("para_{}", target % paras)),
                        _ => ("string", "", String::new()),
                    };
                    fi.push_str(&format!("{entity},{b},field_f{n},F {n},{ft},{tt},{tb}\n"));
                }
                let mut vi = String::from("machine_name,label,bundles,exposed_filters\n");
                for i in 0..views {
                    vi.push_str(&format!("view_{i},View {i},type_{},field_f{i}\n", i % types));
                }
                let mut ro = String::from("machine_name,label,permissions\n");
                ro.push_str("editor,Editor,create type_0 content;create terms in vocab_0;use editorial transition publish\n");
                let wf = "machine_name,label,states,transitions,bundles\neditorial,Editorial,draft;published,draft>published,node.type_0\n";
                let me = "machine_name,label\nmain,Main\n";
                let ml = "menu,title,link,parent\nmain,Home,/,\nmain,About,/about,Home\n";
                vec![
                    SourceFile::new("content_types.csv", ct),
                    SourceFile::new("vocabularies.csv", vo),
                    SourceFile::new("paragraph_types.csv", pa),
                    SourceFile::new("fields.csv", fi),
                    SourceFile::new("views.csv", vi),
                    SourceFile::new("roles.csv", ro),
                    SourceFile::new("workflows.csv", wf),
                    SourceFile::new("menus.csv", me),
                    SourceFile::new("menu_links.csv", ml),
                ]
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn plans_are_acyclic_ordered_and_cover_every_item_once(files in site(), per_field in any::<bool>()) {
            let report = validate(&files, &Limits::default());
            let granularity = if per_field { Granularity::PerField } else { Granularity::PerBundle };
            let p = plan(&report.items, &PlanSettings { granularity }).expect("generated sites have no cycle");
            let mut seen = BTreeSet::new();
            for t in &p.tickets {
                for i in &t.items {
                    prop_assert!(seen.insert(i.clone()), "{} twice", i);
                }
                prop_assert!(t.title.chars().count() <= 255);
            }
            prop_assert_eq!(seen.len(), report.items.len());
            let position: std::collections::HashMap<&str, usize> =
                p.order.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
            for d in &p.dependencies {
                prop_assert!(position[d.to.as_str()] < position[d.from.as_str()]);
            }
        }
    }
}

mod normalisers {
    use dtg_core::csv::normalise::{Normalised, menu_link, permission, url_pattern, view_path};
    use dtg_core::csv::registry::{base_table, display_plugin, entity_type, field_type};
    use dtg_core::csv::values::parse_bool;
    use proptest::prelude::*;

    /// Text built from what paths, links, permissions and labels are made of.
    fn valueish() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "/",
            "//",
            "%",
            "%1",
            "{",
            "}",
            "{node}",
            "node",
            "admin",
            "taxonomy/term",
            " ",
            "  ",
            "?",
            "#",
            "<",
            ">",
            "<front>",
            "<Front>",
            "internal:",
            "entity:",
            "route:",
            "base:",
            "https:",
            "HTTPS://",
            "mailto:",
            "www.",
            ".org",
            ":",
            "1",
            "é",
            "İ",
            "[",
            "]",
            "[node:title]",
            "_",
            "-",
            ".",
            "Content",
            "Taxonomy term",
            "canonical_entities:",
            "field_item:",
            "Text (plain)",
            "String",
            "page_1",
            "default",
            "Page",
            "Log entries",
            "Access",
            "access content",
            "\t",
            "\u{a0}",
            "✔",
            "On",
        ]);
        prop::collection::vec(atoms, 0..12).prop_map(|v| v.concat())
    }

    fn any_value() -> impl Strategy<Value = String> {
        prop_oneof![valueish(), any::<String>()]
    }

    /// Read again, a normalised value comes back unchanged and without a note.
    fn settled(n: &Normalised) -> Normalised {
        Normalised {
            value: n.value.clone(),
            note: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn view_paths_settle_in_one_step(raw in any_value()) {
            if let Ok(n) = view_path(&raw) {
                prop_assert!(n.value.starts_with('/'), "{:?}", n);
                prop_assert!(!n.value.contains("//"), "{:?}", n);
                prop_assert_eq!(view_path(&n.value), Ok(settled(&n)));
            }
        }

        #[test]
        fn menu_links_settle_in_one_step(raw in any_value()) {
            if let Ok(n) = menu_link(&raw) {
                prop_assert_eq!(menu_link(&n.value), Ok(settled(&n)));
            }
        }

        #[test]
        fn permissions_settle_in_one_step(raw in any_value()) {
            let n = permission(&raw);
            prop_assert_eq!(permission(&n.value), settled(&n));
        }

        #[test]
        fn url_patterns_settle_in_one_step(raw in any_value()) {
            if let Ok(n) = url_pattern(&raw) {
                prop_assert_eq!(url_pattern(&n.value), Ok(settled(&n)));
            }
        }

        #[test]
        fn labels_and_machine_names_settle_in_one_step(raw in any_value()) {
            if let Some(t) = entity_type(&raw) {
                prop_assert_eq!(entity_type(t), Some(t));
            }
            let f = field_type(&raw);
            prop_assert_eq!(field_type(&f), f.clone());
            let b = base_table(&raw);
            prop_assert_eq!(base_table(&b), b.clone());
            if let Some(d) = display_plugin(&raw).filter(|d| !d.is_empty()) {
                prop_assert_eq!(display_plugin(d), Some(d));
            }
            let _ = parse_bool(&raw);
        }
    }
}

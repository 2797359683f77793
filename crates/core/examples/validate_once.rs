//! Validates a generated 20,000-row fields file once (for profilers).
#![allow(clippy::unwrap_used)]
use dtg_core::csv::{Limits, SourceFile, validate};

/// The allocator the `dtg` binary and the Lambda functions use.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::fmt::Write as _;
fn main() {
    let mut fields = String::from(
        "entity_type,bundle,field_name,label,field_type,required,cardinality,target_type,target_bundles,allowed_values,default_value,help_text,widget,formatter,translatable\n",
    );
    for i in 0..20000 {
        let (ty, extra) = match i % 5 {
            0 => ("string", ",,,"),
            1 => ("entity_reference", "taxonomy_term,tags;topics,,"),
            2 => ("list_string", ",,a|Alpha;b|Beta;c|Gamma,"),
            3 => ("text_long", ",,,"),
            _ => ("datetime", ",,,"),
        };
        writeln!(fields, "node,bundle_{},field_f{i},Field {i},{ty},true,1,{extra},\"Help for field {i}, with a comma and \"\"quotes\"\"\",string_textfield,string,true", i % 400).unwrap();
    }
    let mut types = String::from("machine_name,label\n");
    for b in 0..400 {
        writeln!(types, "bundle_{b},B {b}").unwrap();
    }
    let files = vec![
        SourceFile::new("fields.csv", fields),
        SourceFile::new("content_types.csv", types),
        SourceFile::new(
            "vocabularies.csv",
            "machine_name,label\ntags,Tags\ntopics,Topics\n",
        ),
    ];
    let t = std::time::Instant::now();
    let r = validate(&files, &Limits::default());
    eprintln!(
        "{:?} items {} findings {}",
        t.elapsed(),
        r.items.len(),
        r.findings.len()
    );
}

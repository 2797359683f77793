//! Validation throughput: a generated 20,000-row `fields.csv` (the per-file
//! row limit) and the whole `uwec_complete` sample set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dtg_core::csv::{Limits, SourceFile, validate};

/// The allocator the `dtg` binary and the Lambda functions use.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A realistic fields file: 20,000 fields over 400 content types, with help
/// texts, lists and references.
fn generated_fields(rows: usize) -> (SourceFile, SourceFile, SourceFile) {
    let mut fields = String::from(
        "entity_type,bundle,field_name,label,field_type,required,cardinality,target_type,target_bundles,allowed_values,default_value,help_text,widget,formatter,translatable\n",
    );
    let mut types = String::from("machine_name,label,description\n");
    let bundles = rows / 50;
    for b in 0..bundles {
        writeln!(
            types,
            "bundle_{b},Bundle {b},\"Content type {b}, generated\""
        )
        .unwrap();
    }
    for i in 0..rows {
        let b = i % bundles;
        let (ty, extra) = match i % 5 {
            0 => ("string", ",,,".to_owned()),
            1 => ("entity_reference", "taxonomy_term,tags;topics,,".to_owned()),
            2 => ("list_string", ",,a|Alpha;b|Beta;c|Gamma,".to_owned()),
            3 => ("text_long", ",,,".to_owned()),
            _ => ("datetime", ",,,".to_owned()),
        };
        writeln!(
            fields,
            "node,bundle_{b},field_f{i},Field {i},{ty},{},{},{extra},\"Help for field {i}, with a comma and \"\"quotes\"\"\",string_textfield,string,true",
            if i % 3 == 0 { "true" } else { "false" },
            if i % 7 == 0 { "-1" } else { "1" },
        )
        .unwrap();
    }
    (
        SourceFile::new("fields.csv", fields),
        SourceFile::new("content_types.csv", types),
        SourceFile::new(
            "vocabularies.csv",
            "machine_name,label\ntags,Tags\ntopics,Topics\n",
        ),
    )
}

fn sample_set() -> Vec<SourceFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample_data/uwec_complete");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("sample_data/uwec_complete")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            SourceFile::new(name, std::fs::read(&p).expect("read"))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let (fields, types, vocabularies) = generated_fields(20_000);
    let upload = vec![fields, types, vocabularies];
    let report = validate(&upload, &limits);
    assert_eq!(
        report.items.len(),
        20_000 + 400 + 2,
        "{:?}",
        report.findings.first()
    );

    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(20_000));
    group.bench_function("fields_20000_rows", |b| {
        b.iter(|| validate(black_box(&upload), &limits))
    });

    let samples = sample_set();
    let rows: usize = validate(&samples, &limits)
        .files
        .iter()
        .map(|f| f.rows)
        .sum();
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function("uwec_complete", |b| {
        b.iter(|| validate(black_box(&samples), &limits))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

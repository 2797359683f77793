//! Planning throughput: 5,000 generated config items (content types,
//! vocabularies, paragraph types, fields that reference them, views, roles)
//! to a full plan, descriptions and their ADF included.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dtg_core::csv::{Limits, SourceFile, validate};
use dtg_core::plan::{Granularity, PlanSettings, plan};

/// The allocator the `dtg` binary and the Lambda functions use.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn site() -> Vec<SourceFile> {
    let (types, vocabs, paras, views, roles) = (100, 60, 40, 100, 20);
    let mut ct = String::from("machine_name,label,description\n");
    for i in 0..types {
        writeln!(ct, "type_{i},Type {i},\"Content type {i}, for the site\"").unwrap_or_default();
    }
    let mut vo = String::from("machine_name,label,terms\n");
    for i in 0..vocabs {
        writeln!(vo, "vocab_{i},Vocabulary {i},One;Two;Three").unwrap_or_default();
    }
    let mut pa = String::from("machine_name,label\n");
    for i in 0..paras {
        writeln!(pa, "para_{i},Paragraph {i}").unwrap_or_default();
    }
    let mut fi = String::from(
        "entity_type,bundle,field_name,label,field_type,required,cardinality,target_type,target_bundles,allowed_values,help_text\n",
    );
    let fields = 5_000 - types - vocabs - paras - views - roles;
    for n in 0..fields {
        let t = n % types;
        let line = match n % 6 {
            0 => format!(
                "node,type_{t},field_ref_{n},Ref {n},entity_reference,false,-1,taxonomy_term,vocab_{},,Pick terms",
                n % vocabs
            ),
            1 => format!(
                "node,type_{t},field_para_{n},Para {n},entity_reference_revisions,false,-1,paragraph,para_{},,Sections",
                n % paras
            ),
            2 => format!(
                "node,type_{t},field_list_{n},List {n},list_string,true,1,,,a|Alpha;b|Beta,Choose one"
            ),
            3 => format!(
                "node,type_{t},field_node_{n},Node {n},entity_reference,false,1,node,type_{},,Related",
                (n + 1) % types
            ),
            4 => format!(
                "paragraph,para_{},field_p_{n},Text {n},text_long,false,1,,,,Body text",
                n % paras
            ),
            _ => format!(
                "node,type_{t},field_s_{n},String {n},string,false,1,,,,\"Short text, plain\""
            ),
        };
        writeln!(fi, "{line}").unwrap_or_default();
    }
    let mut vi = String::from("machine_name,label,bundles,displays,path,exposed_filters,sort\n");
    for i in 0..views {
        writeln!(
            vi,
            "view_{i},View {i},type_{},page;block,/view-{i},field_s_{},created DESC",
            i % types,
            5 + 6 * (i % types)
        )
        .unwrap_or_default();
    }
    let mut ro = String::from("machine_name,label,permissions\n");
    for i in 0..roles {
        writeln!(ro, "role_{i},Role {i},create type_{i} content;edit own type_{i} content;create terms in vocab_{i}")
            .unwrap_or_default();
    }
    vec![
        SourceFile::new("content_types.csv", ct),
        SourceFile::new("vocabularies.csv", vo),
        SourceFile::new("paragraph_types.csv", pa),
        SourceFile::new("fields.csv", fi),
        SourceFile::new("views.csv", vi),
        SourceFile::new("roles.csv", ro),
    ]
}

fn bench(c: &mut Criterion) {
    let report = validate(&site(), &Limits::default());
    assert!(!report.has_errors(), "{:?}", report.findings.first());
    assert_eq!(report.items.len(), 5_000);
    let mut group = c.benchmark_group("plan_5000_items");
    group.sample_size(10);
    group.throughput(Throughput::Elements(5_000));
    for granularity in [Granularity::PerBundle, Granularity::PerField] {
        let settings = PlanSettings { granularity };
        let tickets = plan(&report.items, &settings)
            .map(|p| p.tickets.len())
            .unwrap_or(0);
        println!("{granularity:?}: {tickets} tickets");
        group.bench_function(format!("{granularity:?}"), |b| {
            b.iter(|| plan(black_box(&report.items), &settings));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Throughput of `html_to_adf` on ~10 MB of generated ticket HTML (tables, lists, paragraphs,
//! headings, code, task lists, panels), with the `htmltoadf` crate as the baseline on the same
//! input. Criterion reports the throughput of each; a summary line with MB/s is printed too.
//!
//! `cargo bench --bench convert` (set `ADF_BENCH_MB` to change the input size).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use dtg_core::adf::html_to_adf;

/// A small deterministic generator (SplitMix64), so every run converts the same HTML.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "content",
    "type",
    "field",
    "view",
    "block",
    "menu",
    "taxonomy",
    "term",
    "media",
    "image",
    "paragraph",
    "layout",
    "builder",
    "workflow",
    "moderation",
    "revision",
    "translation",
    "editor",
    "publish",
    "draft",
    "archive",
    "module",
    "config",
    "export",
    "import",
    "cache",
    "permission",
    "role",
    "user",
    "node",
    "entity",
    "reference",
    "display",
    "form",
    "widget",
    "formatter",
    "the",
    "a",
    "should",
    "must",
    "when",
    "then",
    "given",
    "and",
    "or",
    "with",
    "for",
    "é",
    "ü",
    "日本",
    "😀",
];

fn sentence(g: &mut Gen, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(g.pick(WORDS));
    }
    s.push('.');
    s
}

fn ticket(g: &mut Gen, n: usize) -> String {
    let mut h = String::new();
    h.push_str(&format!("<h2>Ticket {n}: {}</h2>", sentence(g, 5)));
    h.push_str(&format!(
        "<p>As a <strong>site editor</strong> I want to {} so that <em>{}</em> See <a href=\"https://example.com/node/{n}\">the spec</a> &amp; notes.</p>",
        sentence(g, 12),
        sentence(g, 6)
    ));
    h.push_str("<h3>Acceptance criteria</h3><ul>");
    for _ in 0..(3 + g.below(4)) {
        h.push_str(&format!("<li>{}", sentence(g, 10)));
        if g.below(3) == 0 {
            h.push_str(&format!(
                "<ul><li>{}</li><li><code>{}</code></li></ul>",
                sentence(g, 6),
                g.pick(WORDS)
            ));
        }
        h.push_str("</li>");
    }
    h.push_str("</ul><h3>Fields</h3><table><thead><tr><th>Machine name</th><th>Type</th><th>Required</th><th>Notes</th></tr></thead><tbody>");
    for i in 0..(4 + g.below(6)) {
        h.push_str(&format!(
            "<tr><td><code>field_{}_{i}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            g.pick(WORDS),
            g.pick(&["text", "entity_reference", "image", "boolean", "datetime"]),
            g.pick(&["yes", "no"]),
            sentence(g, 8)
        ));
    }
    h.push_str("</tbody></table>");
    h.push_str("<ol>");
    for _ in 0..3 {
        h.push_str(&format!("<li>{}</li>", sentence(g, 9)));
    }
    h.push_str("</ol>");
    if g.below(2) == 0 {
        h.push_str(&format!(
            "<pre><code class=\"language-yaml\">langcode: en\nstatus: true\nid: node.{}\nlabel: '{}'\n</code></pre>",
            g.pick(WORDS),
            sentence(g, 3)
        ));
    }
    if g.below(3) == 0 {
        h.push_str(&format!(
            "<ul class=\"task-list\"><li><input type=\"checkbox\" checked> {}</li><li><input type=\"checkbox\"> {}</li></ul>",
            sentence(g, 5),
            sentence(g, 5)
        ));
    }
    if g.below(4) == 0 {
        h.push_str(&format!(
            "<div class=\"panel panel-warning\"><p>{}</p></div>",
            sentence(g, 10)
        ));
    }
    h.push_str(&format!(
        "<p>{}<br>{}</p><hr>\n",
        sentence(g, 20),
        sentence(g, 15)
    ));
    h
}

/// About `bytes` of realistic ticket HTML.
fn generate(bytes: usize) -> String {
    let mut g = Gen(2024);
    let mut html = String::with_capacity(bytes + 4096);
    let mut n = 0;
    while html.len() < bytes {
        html.push_str(&ticket(&mut g, n));
        n += 1;
    }
    html
}

fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1_000_000.0 / elapsed.as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let mb: usize = std::env::var("ADF_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let html = generate(mb * 1_000_000);
    let bytes = html.len();

    // One timed run of each first, for a plain MB/s summary.
    let start = Instant::now();
    let ours = html_to_adf(&html);
    let ours_time = start.elapsed();
    let start = Instant::now();
    let theirs = htmltoadf::convert_html_str_to_adf_str(html.clone());
    let theirs_time = start.elapsed();
    println!(
        "input {:.2} MB: html_to_adf {:.2} MB/s ({} top-level blocks), htmltoadf {:.2} MB/s ({} bytes of JSON)",
        bytes as f64 / 1e6,
        mb_per_s(bytes, ours_time),
        ours.content.len(),
        mb_per_s(bytes, theirs_time),
        theirs.len()
    );

    let mut group = c.benchmark_group("html_to_adf_10mb");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("dtg_core::adf::html_to_adf", |b| {
        b.iter(|| black_box(html_to_adf(black_box(&html))));
    });
    group.bench_function("htmltoadf::convert_html_str_to_adf_str", |b| {
        b.iter(|| {
            black_box(htmltoadf::convert_html_str_to_adf_str(black_box(
                html.clone(),
            )))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

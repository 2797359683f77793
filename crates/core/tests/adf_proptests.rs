//! Property tests: arbitrary strings and generated HTML-ish trees never panic and always give
//! ADF that passes the official JSON schema; normalising is idempotent; fitting always fits.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod adf_common;

use dtg_core::adf::{
    Document, adf_to_plain_text, fit_description, html_to_adf, json_len, normalize,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

const TAGS: &[&str] = &[
    "p",
    "div",
    "span",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "article",
    "section",
    "font",
    "label",
    "script",
    "style",
    "iframe",
    "textarea",
    "select",
    "svg",
    "caption",
    "img",
];

const ATTRS: &[&str] = &[
    "",
    r#" class="task-list""#,
    r#" data-type="taskList""#,
    r#" data-checked="true""#,
    r#" class="panel panel-info""#,
    r#" class="panel panel-warning""#,
    r#" class="panel-error""#,
    r#" class="language-rust""#,
    r#" href="https://example.com/x?a=1&amp;b=2""#,
    r#" href="javascript:alert(1)""#,
    r#" href="relative/page""#,
    r#" href="/root""#,
    r#" href="mailto:a@b.example""#,
    r#" href="""#,
    r#" colspan="3""#,
    r#" rowspan="0""#,
    r#" rowspan="4" colspan="2""#,
    r#" colspan="100000""#,
    r#" start="7""#,
    r#" start="-2""#,
    r#" style="color:red" onclick="x()""#,
];

const HREFS: &[&str] = &[
    "https://example.com/a?b=1&amp;c=2",
    "http://example.org",
    "mailto:dev@example.com",
    "/node/1",
    "#section",
    "//cdn.example.com/x",
    "relative/page.html",
    "javascript:alert(1)",
    " JAVASCRIPT:alert(1)",
    "data:text/html,x",
    "",
    "https://example.com/with space",
    "https://例え.jp/パス",
];

const LEAVES: &[&str] = &[
    "",
    " ",
    "\n\t ",
    "text",
    "two  words",
    "&amp;",
    "&lt;tag&gt;",
    "&nbsp;",
    "&#128512;",
    "😀👍🏽",
    "مرحبا",
    "שלום",
    "<br>",
    "<br/>",
    "<hr>",
    r#"<input type="checkbox">"#,
    r#"<input type="checkbox" checked>"#,
    "<!-- c -->",
    "&bogus;",
    "\u{200b}",
    "<",
    ">",
    "</p>",
    "</li>",
    "<td>",
    "<tr>",
    "<li>",
    "&#0;",
    "\u{0}",
];

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(LEAVES).prop_map(str::to_owned),
        1 => "[a-z ]{1,12}",
    ]
}

/// HTML-ish trees: lists, tables, task lists, panels and code built the way editors write
/// them, mixed with arbitrary elements that are sometimes unclosed or stray.
fn html_tree() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 256, 8, |inner| {
        let kids = proptest::collection::vec(inner, 0..6);
        prop_oneof![
            4 => (
                proptest::sample::select(TAGS),
                proptest::sample::select(ATTRS),
                kids.clone(),
                0u8..10,
            )
                .prop_map(|(tag, attrs, children, shape)| {
                    let body: String = children.concat();
                    match shape {
                        0 => format!("<{tag}{attrs}>{body}"),
                        1 => format!("{body}</{tag}>"),
                        _ => format!("<{tag}{attrs}>{body}</{tag}>"),
                    }
                }),
            2 => (any::<bool>(), proptest::sample::select(ATTRS), kids.clone()).prop_map(
                |(ordered, attrs, items)| {
                    let tag = if ordered { "ol" } else { "ul" };
                    let items: String = items.iter().map(|i| format!("<li>{i}</li>")).collect();
                    format!("<{tag}{attrs}>{items}</{tag}>")
                }
            ),
            2 => (
                any::<bool>(),
                proptest::collection::vec(
                    proptest::collection::vec(
                        (any::<bool>(), proptest::sample::select(ATTRS), kids.clone()),
                        0..4,
                    ),
                    0..4,
                ),
            )
                .prop_map(|(head, rows)| {
                    let mut html = String::from("<table>");
                    for (r, row) in rows.iter().enumerate() {
                        if head && r == 0 {
                            html.push_str("<thead>");
                        }
                        html.push_str("<tr>");
                        for (th, attrs, content) in row {
                            let tag = if *th { "th" } else { "td" };
                            html.push_str(&format!("<{tag}{attrs}>{}</{tag}>", content.concat()));
                        }
                        html.push_str("</tr>");
                        if head && r == 0 {
                            html.push_str("</thead>");
                        }
                    }
                    html.push_str("</table>");
                    html
                }),
            1 => proptest::collection::vec((any::<bool>(), kids.clone()), 0..5).prop_map(|items| {
                let items: String = items
                    .iter()
                    .map(|(done, body)| {
                        let checked = if *done { " checked" } else { "" };
                        format!(r#"<li><input type="checkbox"{checked}> {}</li>"#, body.concat())
                    })
                    .collect();
                format!(r#"<ul class="task-list">{items}</ul>"#)
            }),
            1 => (proptest::sample::select(&["info", "note", "warning", "success", "error"][..]), kids.clone())
                .prop_map(|(kind, body)| format!(r#"<div class="panel panel-{kind}">{}</div>"#, body.concat())),
            1 => kids.clone().prop_map(|body| format!(r#"<pre><code class="language-x">{}</code></pre>"#, body.concat())),
            2 => (proptest::sample::select(HREFS), proptest::sample::select(&["", "b", "code", "em"][..]), kids)
                .prop_map(|(href, mark, body)| {
                    let body = body.concat();
                    let inner = if mark.is_empty() { body } else { format!("<{mark}>{body}</{mark}>") };
                    format!(r#"<a href="{href}">{inner}</a>"#)
                }),
        ]
    })
}

fn check_document(doc: &Document) -> Result<(), TestCaseError> {
    let value = serde_json::to_value(doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let errors = adf_common::schema_errors(&value);
    prop_assert!(errors.is_empty(), "schema errors {:?} in {}", errors, value);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_convert_to_valid_adf(input in any::<String>()) {
        let doc = html_to_adf(&input);
        check_document(&doc)?;
        let _ = adf_to_plain_text(&doc);
    }

    #[test]
    fn html_like_soup_converts_to_valid_adf(input in "[<>/a-z0-9=\"' &;#\n\t!-]{0,300}") {
        check_document(&html_to_adf(&input))?;
    }

    #[test]
    fn generated_trees_convert_to_valid_adf(html in html_tree()) {
        let doc = html_to_adf(&html);
        check_document(&doc)?;
        prop_assert_eq!(normalize(doc.clone()), doc.clone(), "normalize is idempotent");
        let json = doc.to_json().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Document::from_json(&json).ok(), Some(doc.clone()));
        prop_assert_eq!(html_to_adf(&html), doc, "deterministic");
    }

    #[test]
    fn fitted_documents_fit_and_stay_valid(
        trees in proptest::collection::vec(html_tree(), 1..12),
        limit in 200usize..4_000,
    ) {
        let doc = html_to_adf(&trees.concat());
        let fitted = fit_description(doc.clone(), limit);
        let len = json_len(&fitted.description);
        prop_assert!(len <= limit, "length {} over limit {}", len, limit);
        check_document(&fitted.description)?;
        if json_len(&doc) > limit {
            prop_assert!(fitted.overflow.is_some());
        } else {
            prop_assert!(fitted.overflow.is_none());
            prop_assert_eq!(fitted.description, doc);
        }
    }
}

/// A deterministic sample of generated trees, converted and fitted, also passes Atlassian's
/// own validator (which checks rules the JSON schema does not, such as safe link URLs).
#[test]
fn generated_trees_pass_the_node_validators() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = html_tree();
    let mut docs: Vec<Value> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for i in 0..400 {
        let html = strategy.new_tree(&mut runner).expect("generate").current();
        let doc = html_to_adf(&html);
        let doc = if i % 4 == 0 {
            fit_description(doc, 300 + i * 7).description
        } else {
            doc
        };
        docs.push(serde_json::to_value(&doc).expect("serialise"));
        sources.push(html);
    }
    let result = adf_common::run_node_validator(&docs);
    let failing: Vec<&String> = result.failed.iter().map(|&i| &sources[i]).collect();
    assert!(
        result.failed.is_empty() && result.status == Some(0),
        "failing inputs: {failing:#?}\n{}",
        serde_json::to_string_pretty(&result.report).unwrap_or_default()
    );
}

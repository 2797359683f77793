//! One test per supported HTML construct, checking the exact ADF produced.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use dtg_core::adf::{Document, html_to_adf};
use serde_json::{Value, json};

fn adf(html: &str) -> Value {
    serde_json::to_value(html_to_adf(html)).expect("serialise")
}

fn content(html: &str) -> Value {
    adf(html)["content"].clone()
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

fn marked(t: &str, marks: Value) -> Value {
    json!({"type": "text", "text": t, "marks": marks})
}

fn para(inline: Value) -> Value {
    json!({"type": "paragraph", "content": inline})
}

fn local_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("localId") {
                out.push(id.clone());
            }
            map.values().for_each(|x| local_ids(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| local_ids(x, out)),
        _ => {}
    }
}

fn strip_ids(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("localId") {
                map.insert("localId".into(), json!("ID"));
            }
            map.values_mut().for_each(strip_ids);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

#[test]
fn document_envelope() {
    assert_eq!(
        adf("<p>x</p>"),
        json!({"version": 1, "type": "doc", "content": [para(json!([text("x")]))]})
    );
}

#[test]
fn empty_input_is_an_empty_document() {
    for html in [
        "",
        "   \n\t",
        "<p></p>",
        "<script>x</script>",
        "<!-- c -->",
        "<div><span> </span></div>",
    ] {
        assert_eq!(
            adf(html),
            json!({"version": 1, "type": "doc", "content": []}),
            "{html:?}"
        );
    }
}

#[test]
fn headings() {
    let c = content("<h1>One</h1><h6>Six</h6>");
    assert_eq!(
        c,
        json!([
            {"type": "heading", "attrs": {"level": 1}, "content": [text("One")]},
            {"type": "heading", "attrs": {"level": 6}, "content": [text("Six")]}
        ])
    );
}

#[test]
fn heading_keeps_links_and_breaks() {
    let c = content(r#"<h2>A <a href="https://x.example">link</a><br>next</h2>"#);
    assert_eq!(
        c,
        json!([{"type": "heading", "attrs": {"level": 2}, "content": [
            text("A "),
            marked("link", json!([{"type": "link", "attrs": {"href": "https://x.example"}}])),
            {"type": "hardBreak"},
            text("next")
        ]}])
    );
}

#[test]
fn bare_text_becomes_a_paragraph() {
    assert_eq!(
        content("hello   world"),
        json!([para(json!([text("hello world")]))])
    );
}

#[test]
fn marks() {
    let c = content("<p><strong>s</strong><em>e</em><u>u</u><s>x</s><code>c</code></p>");
    assert_eq!(
        c,
        json!([para(json!([
            marked("s", json!([{"type": "strong"}])),
            marked("e", json!([{"type": "em"}])),
            marked("u", json!([{"type": "underline"}])),
            marked("x", json!([{"type": "strike"}])),
            marked("c", json!([{"type": "code"}]))
        ]))])
    );
}

#[test]
fn alias_marks() {
    assert_eq!(
        content("<p><b>b</b><i>i</i><del>d</del><strike>s</strike></p>"),
        json!([para(json!([
            marked("b", json!([{"type": "strong"}])),
            marked("i", json!([{"type": "em"}])),
            marked("ds", json!([{"type": "strike"}]))
        ]))])
    );
}

#[test]
fn nested_marks_are_ordered_and_unique() {
    assert_eq!(
        content("<p><b><i><b>x</b></i></b></p>"),
        json!([para(json!([marked(
            "x",
            json!([{"type": "em"}, {"type": "strong"}])
        )]))])
    );
}

#[test]
fn code_mark_only_combines_with_link() {
    assert_eq!(
        content(r#"<p><a href="https://d.example"><b><code>x</code></b></a></p>"#),
        json!([para(json!([marked(
            "x",
            json!([{"type": "link", "attrs": {"href": "https://d.example"}}, {"type": "code"}])
        )]))])
    );
}

#[test]
fn links() {
    assert_eq!(
        content(r#"<p><a href="mailto:a@b.example">mail</a> <a href="/node/7">rel</a></p>"#),
        json!([para(json!([
            marked(
                "mail",
                json!([{"type": "link", "attrs": {"href": "mailto:a@b.example"}}])
            ),
            text(" "),
            marked(
                "rel",
                json!([{"type": "link", "attrs": {"href": "/node/7"}}])
            )
        ]))])
    );
}

#[test]
fn unsafe_or_unresolvable_links_keep_only_text() {
    assert_eq!(
        content(r#"<p><a href="javascript:alert(1)">js</a> <a href="page.html">rel</a></p>"#),
        json!([para(json!([text("js rel")]))])
    );
}

#[test]
fn bullet_and_ordered_lists() {
    assert_eq!(
        content(r#"<ul><li>a<ol start="4"><li>b</li></ol></li></ul>"#),
        json!([{"type": "bulletList", "content": [
            {"type": "listItem", "content": [
                para(json!([text("a")])),
                {"type": "orderedList", "attrs": {"order": 4}, "content": [
                    {"type": "listItem", "content": [para(json!([text("b")]))]}
                ]}
            ]}
        ]}])
    );
}

#[test]
fn list_item_starting_with_a_list_gets_an_empty_paragraph_first() {
    assert_eq!(
        content("<ul><li><ul><li>x</li></ul></li></ul>"),
        json!([{"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": []},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [para(json!([text("x")]))]}]}
        ]}]}])
    );
}

#[test]
fn tables() {
    assert_eq!(
        content(
            r#"<table><thead><tr><th>H</th><th>I</th></tr></thead><tbody><tr><td colspan="2">C</td></tr><tr><td rowspan="1">D</td></tr></tbody></table>"#
        ),
        json!([{"type": "table", "content": [
            {"type": "tableRow", "content": [
                {"type": "tableHeader", "content": [para(json!([text("H")]))]},
                {"type": "tableHeader", "content": [para(json!([text("I")]))]}
            ]},
            {"type": "tableRow", "content": [
                {"type": "tableCell", "attrs": {"colspan": 2}, "content": [para(json!([text("C")]))]}
            ]},
            {"type": "tableRow", "content": [
                {"type": "tableCell", "content": [para(json!([text("D")]))]},
                {"type": "tableCell", "content": [{"type": "paragraph", "content": []}]}
            ]}
        ]}])
    );
}

#[test]
fn table_rowspan() {
    let c =
        content(r#"<table><tr><td rowspan="2">R</td><td>a</td></tr><tr><td>b</td></tr></table>"#);
    assert_eq!(
        c[0]["content"][0]["content"][0]["attrs"],
        json!({"rowspan": 2})
    );
    assert_eq!(
        c[0]["content"][1]["content"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn code_blocks() {
    assert_eq!(
        content(
            "<pre>a  <b>b</b>\n  c</pre><pre><code class=\"language-sql\">SELECT 1;</code></pre>"
        ),
        json!([
            {"type": "codeBlock", "content": [text("a  b\n  c")]},
            {"type": "codeBlock", "attrs": {"language": "sql"}, "content": [text("SELECT 1;")]}
        ])
    );
}

#[test]
fn blockquote() {
    assert_eq!(
        content("<blockquote>quoted <b>text</b></blockquote>"),
        json!([{"type": "blockquote", "content": [para(json!([text("quoted "), marked("text", json!([{"type": "strong"}]))]))]}])
    );
}

#[test]
fn rule_and_hard_break() {
    assert_eq!(
        content("<p>a<br>b</p><hr>"),
        json!([para(json!([text("a"), {"type": "hardBreak"}, text("b")])), {"type": "rule"}])
    );
}

#[test]
fn task_lists() {
    let mut c = content(
        r#"<ul class="task-list"><li><input type="checkbox" checked> done</li><li><input type="checkbox"> todo<ul class="task-list"><li><input type="checkbox"> sub</li></ul></li></ul>"#,
    );
    let mut ids = Vec::new();
    local_ids(&c, &mut ids);
    assert_eq!(ids.len(), 5);
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 5);
    assert!(
        ids.iter()
            .all(|id| id.len() == 36 && id.matches('-').count() == 4)
    );
    strip_ids(&mut c);
    assert_eq!(
        c,
        json!([{"type": "taskList", "attrs": {"localId": "ID"}, "content": [
            {"type": "taskItem", "attrs": {"localId": "ID", "state": "DONE"}, "content": [text("done")]},
            {"type": "taskItem", "attrs": {"localId": "ID", "state": "TODO"}, "content": [text("todo")]},
            {"type": "taskList", "attrs": {"localId": "ID"}, "content": [
                {"type": "taskItem", "attrs": {"localId": "ID", "state": "TODO"}, "content": [text("sub")]}
            ]}
        ]}])
    );
}

#[test]
fn task_list_forms_are_recognised() {
    for html in [
        r#"<ul data-type="taskList"><li data-checked="true"><p>x</p></li></ul>"#,
        r#"<ul class="contains-task-list"><li class="task-list-item"><input type="checkbox" disabled checked> x</li></ul>"#,
        r#"<ul><li><input type="checkbox" checked>x</li></ul>"#,
        r#"<ul><li><p><input type="checkbox" checked> x</p></li></ul>"#,
    ] {
        let mut c = content(html);
        strip_ids(&mut c);
        assert_eq!(
            c,
            json!([{"type": "taskList", "attrs": {"localId": "ID"}, "content": [
                {"type": "taskItem", "attrs": {"localId": "ID", "state": "DONE"}, "content": [text("x")]}
            ]}]),
            "{html}"
        );
    }
}

#[test]
fn local_ids_are_deterministic() {
    let html = r#"<ul class="task-list"><li><input type="checkbox"> a</li></ul>"#;
    assert_eq!(html_to_adf(html), html_to_adf(html));
    assert_ne!(
        html_to_adf(html),
        html_to_adf(r#"<ul class="task-list"><li><input type="checkbox"> b</li></ul>"#)
    );
}

#[test]
fn panels() {
    for kind in ["info", "note", "warning", "success", "error"] {
        let html = format!(r#"<div class="panel panel-{kind}"><p>x</p></div>"#);
        assert_eq!(
            content(&html),
            json!([{"type": "panel", "attrs": {"panelType": kind}, "content": [para(json!([text("x")]))]}]),
            "{kind}"
        );
    }
    assert_eq!(
        content(r#"<div class="panel">plain</div>"#),
        json!([para(json!([text("plain")]))])
    );
}

#[test]
fn entities_and_unicode_are_preserved() {
    assert_eq!(
        content("<p>&amp; &lt;x&gt; a&nbsp;b &#169; &#x1F600; 😀 مرحبا</p>"),
        json!([para(json!([text("& <x> a\u{a0}b © 😀 😀 مرحبا")]))])
    );
}

#[test]
fn scripts_and_styles_are_removed_with_content() {
    assert_eq!(
        content("<p>a<script>evil()</script><style>x{}</style>b</p>"),
        json!([para(json!([text("ab")]))])
    );
}

#[test]
fn json_round_trip() {
    let doc = html_to_adf(
        r#"<h1>t</h1><ul class="task-list"><li><input type="checkbox"> a</li></ul><table><tr><td>c</td></tr></table><div class="panel panel-info">p</div><pre><code class="language-x">c</code></pre><blockquote>q</blockquote><hr><ol start="2"><li>o</li></ol>"#,
    );
    let json = doc.to_json().expect("serialise");
    assert_eq!(Document::from_json(&json).expect("parse"), doc);
}

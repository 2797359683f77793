//! Allow-list HTML sanitiser run before conversion.
//!
//! Built on `ammonia`. Only the tags and attributes the converter understands survive; every
//! other element is unwrapped (its text is kept), except active or embedded content such as
//! `<script>`, `<style>` and `<iframe>`, which is removed together with everything inside it.
//! Links keep `href` only for `http`, `https` and `mailto` URLs and for relative URLs.
//!
//! A few attributes beyond the visible markup are kept because the converter needs them to
//! recognise task lists and code languages: `class` on `ul`, `li`, `pre` and `code` (filtered to
//! the task-list and `language-*` / `lang-*` tokens), `data-type` on `ul`/`li` and
//! `data-checked` on `li` (the task-list markup of common rich-text editors).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};

/// Tags that survive sanitisation.
pub const ALLOWED_TAGS: &[&str] = &[
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "br",
    "hr",
    "strong",
    "b",
    "em",
    "i",
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
    "th",
    "td",
    "blockquote",
    "div",
    "span",
    "input",
];

/// Tags removed together with their whole content.
pub const REMOVED_WITH_CONTENT: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "noframes", "noscript", "noembed", "object",
    "embed", "applet", "template", "svg", "math", "textarea", "select", "title", "canvas", "audio",
    "video",
];

/// Class tokens kept on `ul` and `li` (task-list markers).
const TASK_CLASSES: &[&str] = &["task-list", "contains-task-list", "task-list-item"];

/// Sanitises `html` with the converter's allow-list and returns the cleaned HTML.
///
/// The output is well-formed HTML (the input is parsed like a browser parses a `<div>`'s
/// content, so unclosed and stray tags are repaired) containing only the allowed tags:
/// `h1`-`h6`, `p`, `br`, `hr`, `strong`, `b`, `em`, `i`, `u`, `s`, `strike`, `del`, `code`,
/// `pre`, `a` (`href`: `http`, `https`, `mailto` or relative), `ul`, `ol` (`start`), `li`,
/// `table`, `thead`, `tbody`, `tfoot`, `tr`, `th`/`td` (`colspan`, `rowspan`), `blockquote`,
/// `div` and `span` (`class`), and `input` (`type="checkbox"`, `checked`). Comments are removed.
pub fn sanitize(html: &str) -> String {
    builder().clean(html).to_string()
}

fn builder() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(make_builder)
}

fn make_builder() -> Builder<'static> {
    let tag_attributes: HashMap<&'static str, HashSet<&'static str>> = [
        ("a", &["href"][..]),
        ("ol", &["start"]),
        ("ul", &["class", "data-type"]),
        ("li", &["class", "data-type", "data-checked"]),
        ("td", &["colspan", "rowspan"]),
        ("th", &["colspan", "rowspan"]),
        ("div", &["class"]),
        ("span", &["class"]),
        ("pre", &["class"]),
        ("code", &["class"]),
        ("input", &["type", "checked"]),
    ]
    .into_iter()
    .map(|(tag, attrs)| (tag, attrs.iter().copied().collect()))
    .collect();

    let mut builder = Builder::empty();
    builder
        .tags(ALLOWED_TAGS.iter().copied().collect())
        .clean_content_tags(REMOVED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(HashSet::new())
        .tag_attributes(tag_attributes)
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .url_relative(UrlRelative::PassThrough)
        .link_rel(None)
        .strip_comments(true)
        .attribute_filter(filter_attribute);
    builder
}

/// Narrows attribute values to what the converter understands; `None` drops the attribute.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("input", "type") => value
            .trim()
            .eq_ignore_ascii_case("checkbox")
            .then_some(Cow::Borrowed("checkbox")),
        ("ul" | "li", "class") => keep_tokens(value, |t| TASK_CLASSES.contains(&t)),
        ("pre" | "code", "class") => keep_tokens(value, |t| {
            t.starts_with("language-") || t.starts_with("lang-")
        }),
        ("ul" | "li", "data-type") => {
            let v = value.trim();
            (v == "taskList" || v == "taskItem").then(|| Cow::Owned(v.to_owned()))
        }
        ("li", "data-checked") => {
            let v = value.trim().to_ascii_lowercase();
            (v == "true" || v == "false").then_some(Cow::Owned(v))
        }
        ("ol", "start") => value
            .trim()
            .parse::<i64>()
            .ok()
            .map(|n| Cow::Owned(n.to_string())),
        ("td" | "th", "colspan" | "rowspan") => value
            .trim()
            .parse::<u32>()
            .ok()
            .map(|n| Cow::Owned(n.to_string())),
        _ => Some(Cow::Borrowed(value)),
    }
}

fn keep_tokens<'u>(value: &'u str, keep: impl Fn(&str) -> bool) -> Option<Cow<'u, str>> {
    let kept: Vec<&str> = value.split_ascii_whitespace().filter(|t| keep(t)).collect();
    if kept.is_empty() {
        None
    } else {
        Some(Cow::Owned(kept.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_script_and_style_with_content() {
        let out = sanitize("<p>a<script>alert(1)</script>b<style>p{}</style>c</p>");
        assert_eq!(out, "<p>abc</p>");
    }

    #[test]
    fn removes_iframe_with_content_and_unwraps_unknown_tags() {
        let out = sanitize("<iframe src=x>inner</iframe><article><blink>kept</blink></article>");
        assert_eq!(out, "kept");
    }

    #[test]
    fn keeps_safe_links_and_drops_javascript() {
        assert_eq!(
            sanitize(r#"<a href="https://example.com/x">x</a>"#),
            r#"<a href="https://example.com/x">x</a>"#
        );
        assert_eq!(
            sanitize(r#"<a href="javascript:alert(1)">x</a>"#),
            "<a>x</a>"
        );
        assert_eq!(
            sanitize(r#"<a href="mailto:a@b.c">m</a>"#),
            r#"<a href="mailto:a@b.c">m</a>"#
        );
        assert_eq!(
            sanitize(r#"<a href="/node/1">r</a>"#),
            r#"<a href="/node/1">r</a>"#
        );
        assert_eq!(sanitize(r#"<a href="ftp://x/y">f</a>"#), "<a>f</a>");
    }

    #[test]
    fn keeps_only_listed_attributes() {
        let out = sanitize(
            r#"<td colspan="2" rowspan="x" style="color:red" onclick="x()">c</td><span class="k" id="i">s</span>"#,
        );
        // A lone <td> outside a table is not parsed as a cell; its content is kept.
        assert_eq!(out, r#"c<span class="k">s</span>"#);
        let out = sanitize(r#"<table><tr><td colspan="2" rowspan="x">c</td></tr></table>"#);
        assert!(out.contains(r#"<td colspan="2">c</td>"#), "{out}");
    }

    #[test]
    fn input_only_as_checkbox() {
        assert_eq!(
            sanitize(r#"<input type="CheckBox" checked name="n">"#),
            r#"<input type="checkbox" checked="">"#
        );
        assert_eq!(sanitize(r#"<input type="text" value="v">"#), "<input>");
    }

    #[test]
    fn class_tokens_filtered_on_lists_and_code() {
        assert_eq!(
            sanitize(r#"<ul class="foo task-list"><li class="task-list-item bar">x</li></ul>"#),
            r#"<ul class="task-list"><li class="task-list-item">x</li></ul>"#
        );
        assert_eq!(
            sanitize(r#"<pre><code class="hljs language-rust">x</code></pre>"#),
            r#"<pre><code class="language-rust">x</code></pre>"#
        );
    }

    #[test]
    fn comments_are_stripped() {
        assert_eq!(sanitize("a<!-- secret -->b"), "ab");
    }
}

//! ADF rendered as Markdown (for readable backlogs) and as Jira wiki markup
//! (what Jira's CSV importer reads in a Description column).

use std::fmt::Write as _;

use super::{Block, Document, Inline, ListItem, Mark, TableCell, TaskListEntry, TaskState};

/// The two text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Markdown,
    Wiki,
}

/// Renders a document as GitHub-flavoured Markdown.
#[must_use]
pub fn adf_to_markdown(doc: &Document) -> String {
    render(doc, Flavor::Markdown)
}

/// Renders a document as Jira wiki markup.
#[must_use]
pub fn adf_to_wiki(doc: &Document) -> String {
    render(doc, Flavor::Wiki)
}

fn render(doc: &Document, flavor: Flavor) -> String {
    let mut out = String::new();
    for block in &doc.content {
        block_to(&mut out, block, flavor, "");
    }
    out.trim_end().to_owned() + "\n"
}

fn escape_text(text: &str, flavor: Flavor, in_code: bool) -> String {
    let special: &[char] = match (flavor, in_code) {
        (_, true) => return text.replace('\n', " "),
        // Intraword `_` is literal in GitHub Markdown; machine names stay readable.
        (Flavor::Markdown, false) => &['\\', '*', '`', '[', ']', '<', '>', '|'],
        (Flavor::Wiki, false) => &['\\', '*', '_', '{', '}', '[', ']', '|', '^', '~', '+', '?'],
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn inline(out: &mut String, content: &[Inline], flavor: Flavor, in_table: bool) {
    for node in content {
        match node {
            Inline::HardBreak => match (flavor, in_table) {
                (Flavor::Markdown, true) => out.push_str("<br>"),
                (Flavor::Markdown, false) => out.push_str("  \n"),
                (Flavor::Wiki, true) => out.push_str(" \\\\ "),
                (Flavor::Wiki, false) => out.push_str("\\\\\n"),
            },
            Inline::Text { text, marks } => {
                let is_code = marks.contains(&Mark::Code);
                let mut s = escape_text(text, flavor, is_code);
                if in_table && is_code {
                    s = s.replace('|', "\\|");
                }
                let mut link = None;
                for mark in marks {
                    s = match (mark, flavor) {
                        (Mark::Code, Flavor::Markdown) => format!("`{s}`"),
                        (Mark::Code, Flavor::Wiki) => format!("{{{{{s}}}}}"),
                        (Mark::Strong, Flavor::Markdown) => format!("**{s}**"),
                        (Mark::Strong, Flavor::Wiki) => format!("*{s}*"),
                        (Mark::Em, Flavor::Markdown) => format!("_{s}_"),
                        (Mark::Em, Flavor::Wiki) => format!("_{s}_"),
                        (Mark::Strike, Flavor::Markdown) => format!("~~{s}~~"),
                        (Mark::Strike, Flavor::Wiki) => format!("-{s}-"),
                        (Mark::Underline, Flavor::Markdown) => s,
                        (Mark::Underline, Flavor::Wiki) => format!("+{s}+"),
                        (Mark::Link { attrs }, _) => {
                            link = Some(attrs.href.clone());
                            s
                        }
                    };
                }
                if let Some(href) = link {
                    s = match flavor {
                        Flavor::Markdown => {
                            format!("[{s}]({})", href.replace(')', "%29").replace(' ', "%20"))
                        }
                        Flavor::Wiki => {
                            format!("[{s}|{}]", href.replace('|', "%7C").replace(']', "%5D"))
                        }
                    };
                }
                out.push_str(&s);
            }
        }
    }
}

fn inline_string(content: &[Inline], flavor: Flavor, in_table: bool) -> String {
    let mut s = String::new();
    inline(&mut s, content, flavor, in_table);
    s
}

/// Block content flattened to one line (for table cells).
fn flat(blocks: &[Block], flavor: Flavor) -> String {
    let sep = match flavor {
        Flavor::Markdown => "<br>",
        Flavor::Wiki => " \\\\ ",
    };
    let mut parts = Vec::new();
    for b in blocks {
        match b {
            Block::Paragraph { content }
            | Block::Heading { content, .. }
            | Block::CodeBlock { content, .. } => {
                let s = inline_string(content, flavor, true);
                if !s.is_empty() {
                    parts.push(s);
                }
            }
            Block::BulletList { content } | Block::OrderedList { content, .. } => {
                for item in content {
                    parts.push(format!("• {}", flat(&item.content, flavor)));
                }
            }
            Block::TaskList { content, .. } => {
                for entry in content {
                    if let TaskListEntry::TaskItem { attrs, content } = entry {
                        let mark = if attrs.state == TaskState::Done {
                            "[x]"
                        } else {
                            "[ ]"
                        };
                        parts.push(format!("{mark} {}", inline_string(content, flavor, true)));
                    }
                }
            }
            Block::Blockquote { content } | Block::Panel { content, .. } => {
                parts.push(flat(content, flavor))
            }
            Block::Table { .. } | Block::Rule => {}
        }
    }
    let joined = parts.join(sep);
    joined.replace('\n', " ")
}

fn list(out: &mut String, items: &[ListItem], ordered: Option<u32>, flavor: Flavor, prefix: &str) {
    for (i, item) in items.iter().enumerate() {
        let (marker, child_prefix) = match flavor {
            Flavor::Markdown => {
                let m = match ordered {
                    Some(start) => format!("{}. ", start as usize + i),
                    None => "- ".to_owned(),
                };
                let indent = format!("{prefix}{}", " ".repeat(m.len()));
                (format!("{prefix}{m}"), indent)
            }
            Flavor::Wiki => {
                let c = if ordered.is_some() { '#' } else { '*' };
                let p = format!("{prefix}{c}");
                (format!("{p} "), p)
            }
        };
        let mut first = true;
        for block in &item.content {
            match block {
                Block::Paragraph { content } if first => {
                    let _ = writeln!(out, "{marker}{}", inline_string(content, flavor, false));
                }
                Block::BulletList { content } => list(out, content, None, flavor, &child_prefix),
                Block::OrderedList { content, attrs } => {
                    list(
                        out,
                        content,
                        Some(attrs.map_or(1, |a| a.order)),
                        flavor,
                        &child_prefix,
                    );
                }
                other => {
                    if first {
                        let _ =
                            writeln!(out, "{marker}{}", flat(std::slice::from_ref(other), flavor));
                    } else {
                        let pad = match flavor {
                            Flavor::Markdown => child_prefix.clone(),
                            Flavor::Wiki => String::new(),
                        };
                        let _ = writeln!(out, "{pad}{}", flat(std::slice::from_ref(other), flavor));
                    }
                }
            }
            first = false;
        }
    }
}

fn tasks(out: &mut String, entries: &[TaskListEntry], flavor: Flavor, depth: usize) {
    for entry in entries {
        match entry {
            TaskListEntry::TaskItem { attrs, content } => {
                let done = attrs.state == TaskState::Done;
                let text = inline_string(content, flavor, false);
                match flavor {
                    Flavor::Markdown => {
                        let _ = writeln!(
                            out,
                            "{}- [{}] {text}",
                            "  ".repeat(depth),
                            if done { "x" } else { " " }
                        );
                    }
                    Flavor::Wiki => {
                        let _ = writeln!(
                            out,
                            "{} {} {text}",
                            "*".repeat(depth + 1),
                            if done { "(/)" } else { "(x)" }
                        );
                    }
                }
            }
            TaskListEntry::TaskList { content, .. } => tasks(out, content, flavor, depth + 1),
        }
    }
}

fn block_to(out: &mut String, block: &Block, flavor: Flavor, quote: &str) {
    let mut s = String::new();
    match block {
        Block::Paragraph { content } => {
            let text = inline_string(content, flavor, false);
            let text = match flavor {
                // A paragraph starting like a list or heading would become one.
                Flavor::Wiki if text.starts_with(['#', '*', '-']) || text.starts_with("h1.") => {
                    format!("\\{text}")
                }
                Flavor::Markdown if text.starts_with(['#', '-', '+']) => format!("\\{text}"),
                _ => text,
            };
            let _ = writeln!(s, "{text}");
        }
        Block::Heading { attrs, content } => {
            let text = inline_string(content, flavor, false);
            match flavor {
                Flavor::Markdown => {
                    let _ = writeln!(
                        s,
                        "{} {text}",
                        "#".repeat(usize::from(attrs.level.clamp(1, 6)))
                    );
                }
                Flavor::Wiki => {
                    let _ = writeln!(s, "h{}. {text}", attrs.level.clamp(1, 6));
                }
            }
        }
        Block::BulletList { content } => list(&mut s, content, None, flavor, ""),
        Block::OrderedList { attrs, content } => list(
            &mut s,
            content,
            Some(attrs.map_or(1, |a| a.order)),
            flavor,
            "",
        ),
        Block::TaskList { content, .. } => tasks(&mut s, content, flavor, 0),
        Block::CodeBlock { attrs, content } => {
            let lang = attrs
                .as_ref()
                .and_then(|a| a.language.clone())
                .unwrap_or_default();
            let text: String = content
                .iter()
                .map(|i| match i {
                    Inline::Text { text, .. } => text.as_str(),
                    Inline::HardBreak => "\n",
                })
                .collect();
            match flavor {
                Flavor::Markdown => {
                    let _ = writeln!(s, "```{lang}\n{text}\n```");
                }
                Flavor::Wiki if lang.is_empty() => {
                    let _ = writeln!(s, "{{code}}\n{text}\n{{code}}");
                }
                Flavor::Wiki => {
                    let _ = writeln!(s, "{{code:{lang}}}\n{text}\n{{code}}");
                }
            }
        }
        Block::Blockquote { content } => match flavor {
            Flavor::Markdown => {
                let inner = format!("{quote}> ");
                for b in content {
                    block_to(out, b, flavor, &inner);
                }
                return;
            }
            Flavor::Wiki => {
                s.push_str("{quote}\n");
                for b in content {
                    block_to(&mut s, b, flavor, "");
                }
                s.push_str("{quote}\n");
            }
        },
        Block::Panel { attrs, content } => match flavor {
            Flavor::Markdown => {
                let inner = format!("{quote}> ");
                let _ = writeln!(
                    out,
                    "{inner}**{}:**\n{inner}",
                    capitalise(attrs.panel_type.as_str())
                );
                for b in content {
                    block_to(out, b, flavor, &inner);
                }
                return;
            }
            Flavor::Wiki => {
                let macro_name = match attrs.panel_type.as_str() {
                    "warning" | "error" => "warning",
                    "note" => "note",
                    "success" | "tip" => "tip",
                    _ => "info",
                };
                let _ = writeln!(s, "{{{macro_name}}}");
                for b in content {
                    block_to(&mut s, b, flavor, "");
                }
                let _ = writeln!(s, "{{{macro_name}}}");
            }
        },
        Block::Rule => s.push_str("----\n"),
        Block::Table { content, .. } => {
            let width = content.iter().map(|r| r.content.len()).max().unwrap_or(0);
            for (i, row) in content.iter().enumerate() {
                let header = row
                    .content
                    .iter()
                    .all(|c| matches!(c, TableCell::TableHeader { .. }));
                let cells: Vec<String> = row
                    .content
                    .iter()
                    .map(|c| flat(c.content(), flavor))
                    .collect();
                match flavor {
                    Flavor::Markdown => {
                        let mut cells = cells;
                        cells.resize(width, String::new());
                        if i == 0 && !header {
                            let _ = writeln!(s, "|{}|", vec![" "; width].join("|"));
                            let _ = writeln!(s, "|{}|", vec!["---"; width].join("|"));
                        }
                        let _ = writeln!(s, "| {} |", cells.join(" | "));
                        if i == 0 && header {
                            let _ = writeln!(s, "|{}|", vec!["---"; width].join("|"));
                        }
                    }
                    Flavor::Wiki => {
                        let sep = if header { "||" } else { "|" };
                        let cells: Vec<String> = cells
                            .into_iter()
                            .map(|c| if c.is_empty() { " ".to_owned() } else { c })
                            .collect();
                        let _ = writeln!(s, "{sep}{}{sep}", cells.join(sep));
                    }
                }
            }
        }
    }
    for line in s.lines() {
        let _ = writeln!(out, "{quote}{line}");
    }
    let _ = writeln!(out, "{}", quote.trim_end());
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adf::html_to_adf;

    const HTML: &str = "<h2>Fields</h2><p>Add <code>field_event_date</code> to <strong>Event</strong>, see <a href=\"https://drupal.org\">docs</a>.</p>\
        <table><thead><tr><th>Label</th><th>Type</th></tr></thead><tbody><tr><td>Date | time</td><td><code>daterange</code></td></tr></tbody></table>\
        <ol><li>One<ul><li>Nested</li></ul></li><li>Two</li></ol><ul data-type=\"taskList\"><li><input type=\"checkbox\"> Check it</li></ul>";

    #[test]
    fn markdown() {
        let md = adf_to_markdown(&html_to_adf(HTML));
        assert!(md.contains("## Fields"), "{md}");
        assert!(
            md.contains("Add `field_event_date` to **Event**, see [docs](https://drupal.org)."),
            "{md}"
        );
        assert!(
            md.contains("| Label | Type |\n|---|---|\n| Date \\| time | `daterange` |"),
            "{md}"
        );
        assert!(md.contains("1. One\n   - Nested\n2. Two"), "{md}");
        assert!(md.contains("- [ ] Check it"), "{md}");
    }

    #[test]
    fn wiki() {
        let wiki = adf_to_wiki(&html_to_adf(HTML));
        assert!(wiki.contains("h2. Fields"), "{wiki}");
        assert!(
            wiki.contains("Add {{field_event_date}} to *Event*, see [docs|https://drupal.org]."),
            "{wiki}"
        );
        assert!(
            wiki.contains("||Label||Type||\n|Date \\| time|{{daterange}}|"),
            "{wiki}"
        );
        assert!(wiki.contains("# One\n#* Nested\n# Two"), "{wiki}");
        assert!(wiki.contains("* (x) Check it"), "{wiki}");
    }
}

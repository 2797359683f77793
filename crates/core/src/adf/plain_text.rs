//! Plain-text rendering of ADF documents, for previews and for the overflow attachment.
//!
//! Top-level blocks are separated by a blank line. Headings and paragraphs are their text
//! (hard breaks become newlines, links are followed by their URL in parentheses unless the text
//! already is the URL). List items start with `- ` or `1. `, task items with `[ ] ` or `[x] `,
//! nested lists are indented by two spaces. Table rows are one line each, cells separated by
//! `" | "`. Block quotes are prefixed with `> `, panels start with their type (`Info: `), code
//! blocks are their text and rules are `---`.

use super::model::{
    Block, Document, Inline, ListItem, Mark, PanelType, TableRow, TaskListEntry, TaskState,
};

/// Renders `doc` as readable plain text.
pub fn adf_to_plain_text(doc: &Document) -> String {
    join_blocks(&doc.content, "\n\n")
}

fn join_blocks(blocks: &[Block], separator: &str) -> String {
    let mut out = String::new();
    for block in blocks {
        let text = block_text(block);
        if text.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(separator);
        }
        out.push_str(&text);
    }
    out
}

fn block_text(block: &Block) -> String {
    match block {
        Block::Paragraph { content } | Block::Heading { content, .. } => inline_text(content),
        Block::CodeBlock { content, .. } => content
            .iter()
            .map(|i| match i {
                Inline::Text { text, .. } => text.as_str(),
                Inline::HardBreak => "\n",
            })
            .collect(),
        Block::BulletList { content } => list_text(content, |_| "- ".to_owned()),
        Block::OrderedList { attrs, content } => {
            let start = u64::from(attrs.map_or(1, |a| a.order));
            list_text(content, |i| format!("{}. ", start + i as u64))
        }
        Block::TaskList { content, .. } => task_text(content),
        Block::Blockquote { content } => prefix_lines(&join_blocks(content, "\n\n"), "> ", ">"),
        Block::Panel { attrs, content } => {
            let body = join_blocks(content, "\n\n");
            format!("{}: {body}", panel_label(attrs.panel_type))
        }
        Block::Rule => "---".to_owned(),
        Block::Table { content, .. } => content.iter().map(row_text).collect::<Vec<_>>().join("\n"),
    }
}

fn panel_label(panel_type: PanelType) -> &'static str {
    match panel_type {
        PanelType::Info => "Info",
        PanelType::Note => "Note",
        PanelType::Tip => "Tip",
        PanelType::Warning => "Warning",
        PanelType::Error => "Error",
        PanelType::Success => "Success",
    }
}

fn row_text(row: &TableRow) -> String {
    row.content
        .iter()
        .map(|cell| {
            join_blocks(cell.content(), " ")
                .split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn list_text(items: &[ListItem], marker: impl Fn(usize) -> String) -> String {
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let marker = marker(i);
        let mut body = join_blocks(&item.content, "\n");
        // An item that starts with a nested list shows that list on the next line.
        if matches!(item.content.first(), Some(Block::Paragraph { content }) if content.is_empty())
        {
            body.insert(0, '\n');
        }
        lines.push(hang(&marker, &body));
    }
    lines.join("\n")
}

fn task_text(entries: &[TaskListEntry]) -> String {
    let mut lines = Vec::new();
    for entry in entries {
        match entry {
            TaskListEntry::TaskItem { attrs, content } => {
                let marker = match attrs.state {
                    TaskState::Todo => "[ ] ",
                    TaskState::Done => "[x] ",
                };
                lines.push(hang(marker, &inline_text(content)));
            }
            TaskListEntry::TaskList { content, .. } => {
                lines.push(prefix_lines(&task_text(content), "  ", ""));
            }
        }
    }
    lines.join("\n")
}

/// `marker` before the first line, continuation lines indented to line up with it.
fn hang(marker: &str, body: &str) -> String {
    let indent = " ".repeat(marker.chars().count());
    let mut out = String::new();
    for (i, line) in body.split('\n').enumerate() {
        if i == 0 {
            out.push_str(marker.trim_end());
            if !line.is_empty() {
                out.push(' ');
                out.push_str(line);
            }
        } else {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&indent);
                out.push_str(line);
            }
        }
    }
    out
}

fn prefix_lines(text: &str, prefix: &str, empty_prefix: &str) -> String {
    text.split('\n')
        .map(|l| {
            if l.is_empty() {
                empty_prefix.to_owned()
            } else {
                format!("{prefix}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn link_of(marks: &[Mark]) -> Option<&str> {
    marks.iter().find_map(|m| match m {
        Mark::Link { attrs } => Some(attrs.href.as_str()),
        _ => None,
    })
}

/// Inline content as text; a link's URL follows its text unless they are the same.
fn inline_text(content: &[Inline]) -> String {
    let mut out = String::new();
    let mut open: Option<(&str, usize)> = None;
    for inline in content {
        let href = match inline {
            Inline::Text { marks, .. } => link_of(marks),
            Inline::HardBreak => None,
        };
        if open.map(|(h, _)| h) != href {
            close_link(&mut out, open.take());
            open = href.map(|h| (h, out.len()));
        }
        match inline {
            Inline::Text { text, .. } => out.push_str(text),
            Inline::HardBreak => out.push('\n'),
        }
    }
    close_link(&mut out, open);
    out
}

fn close_link(out: &mut String, open: Option<(&str, usize)>) {
    if let Some((href, start)) = open {
        let text = out[start..].trim();
        let same = text == href || href.strip_prefix("mailto:") == Some(text);
        if !same {
            out.push_str(" (");
            out.push_str(href);
            out.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adf::html_to_adf;

    fn text(html: &str) -> String {
        adf_to_plain_text(&html_to_adf(html))
    }

    #[test]
    fn paragraphs_and_headings_are_separated_by_blank_lines() {
        assert_eq!(
            text("<h1>Title</h1><p>one<br>two</p><p>three</p>"),
            "Title\n\none\ntwo\n\nthree"
        );
    }

    #[test]
    fn lists_are_marked_and_indented() {
        assert_eq!(
            text(
                "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul><ol start=\"3\"><li>x</li><li>y</li></ol>"
            ),
            "- a\n  - b\n- c\n\n3. x\n4. y"
        );
    }

    #[test]
    fn task_items_show_state() {
        assert_eq!(
            text(
                r#"<ul><li><input type="checkbox" checked> done</li><li><input type="checkbox"> todo</li></ul>"#
            ),
            "[x] done\n[ ] todo"
        );
    }

    #[test]
    fn tables_are_rows_of_cells() {
        assert_eq!(
            text("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"),
            "a | b\n1 | 2"
        );
    }

    #[test]
    fn links_show_their_url() {
        assert_eq!(
            text(r#"<a href="https://x.y">site</a> and <a href="https://x.y">https://x.y</a>"#),
            "site (https://x.y) and https://x.y"
        );
    }

    #[test]
    fn quotes_panels_code_and_rules() {
        assert_eq!(
            text(
                r#"<blockquote><p>q</p></blockquote><div class="panel panel-warning">w</div><pre>c  d</pre><hr>"#
            ),
            "> q\n\nWarning: w\n\nc  d\n\n---"
        );
    }
}

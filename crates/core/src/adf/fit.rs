//! Fitting a description into Jira's field size limit.
//!
//! Jira Cloud rejects a description whose ADF JSON is longer than 32,767 characters. When a
//! document is too long, [`fit_description`] keeps whole top-level blocks from the start while
//! they fit, splits the first block that does not fit (a paragraph or code block between
//! characters, preferring a word boundary; lists, quotes, panels and tables between their
//! children, recursively), and ends with a paragraph pointing to an attachment. The
//! attachment's name and content (the whole description as plain text) are returned for the
//! caller to upload. Nothing is cut without that notice, and the result is always valid ADF.

use serde::Serialize;

use super::model::{Block, Document, Inline, ListItem, TableCell, TableRow, TaskListEntry};
use super::normalize::normalize;
use super::plain_text::adf_to_plain_text;

/// Jira Cloud's limit on the length of a description's ADF JSON (see [`json_len`]).
pub const JIRA_DESCRIPTION_LIMIT: usize = 32_767;

/// Name of the attachment holding a description that did not fit.
pub const OVERFLOW_FILE_NAME: &str = "full-description.txt";

/// Search window, in characters, for a word boundary when splitting text.
const WORD_BOUNDARY_WINDOW: usize = 80;

/// A description that fits the limit, and what did not fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// The (possibly shortened) description; never longer than the limit when the limit
    /// leaves room for an empty document.
    pub description: Document,
    /// Set when the description was shortened: the attachment to upload.
    pub overflow: Option<Overflow>,
}

/// An attachment carrying the full text of a shortened description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overflow {
    /// The attachment's file name (the notice in the description names it).
    pub file_name: String,
    /// The full original description as plain text (see [`adf_to_plain_text`]).
    pub content: String,
}

/// The paragraph appended to a shortened description.
pub fn overflow_notice(file_name: &str) -> Block {
    Block::text_paragraph(&format!(
        "This description continues in the attached file {file_name}; the full text is there."
    ))
}

/// Length of `value`'s compact JSON as Jira counts it: in UTF-16 code units (Java string
/// length). That is the number of characters, plus one for each character outside the Basic
/// Multilingual Plane (such as most emoji), so a length within the limit is within it whether
/// the limit counts characters or code units.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            // serde_json writes whole UTF-8 sequences; count each by its leading byte.
            self.0 += buf
                .iter()
                .map(|&b| match b {
                    0x80..=0xBF => 0,
                    0xF0..=0xFF => 2,
                    _ => 1,
                })
                .sum::<usize>();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        // Cannot happen for the model's types; treating it as "too long" is the safe side.
        Err(_) => usize::MAX,
    }
}

/// Fits `doc` into `limit` (normally [`JIRA_DESCRIPTION_LIMIT`]) as measured by [`json_len`].
///
/// The document is normalised first. If it fits, it is returned unchanged with no overflow.
/// Otherwise the description keeps as much of the start as fits followed by
/// [`overflow_notice`], and `overflow` carries the full text for the attachment. If `limit` is
/// too small even for the notice, as much of the notice as fits is kept (an empty document at
/// worst).
pub fn fit_description(doc: Document, limit: usize) -> Fitted {
    let doc = normalize(doc);
    if json_len(&doc) <= limit {
        return Fitted {
            description: doc,
            overflow: None,
        };
    }
    let overflow = Overflow {
        file_name: OVERFLOW_FILE_NAME.to_owned(),
        content: adf_to_plain_text(&doc),
    };
    let notice = overflow_notice(OVERFLOW_FILE_NAME);
    let with_notice_only = json_len(&Document::new(vec![notice.clone()]));
    let mut content = Vec::new();
    if with_notice_only <= limit {
        // Each kept block adds its own length plus a comma.
        let mut remaining = limit - with_notice_only;
        for block in doc.content {
            let cost = json_len(&block).saturating_add(1);
            if cost <= remaining {
                remaining -= cost;
                content.push(block);
                continue;
            }
            if remaining > 1
                && let Some(part) = truncate_block(&block, remaining - 1)
            {
                content.push(part);
            }
            break;
        }
        content.push(notice);
    } else {
        let empty = json_len(&Document::default());
        if limit > empty
            && let Some(part) = truncate_block(&notice, limit - empty)
        {
            content.push(part);
        }
    }
    let mut description = normalize(Document::new(content));
    // Normalising a prefix never makes it longer; this only guards the guarantee.
    while json_len(&description) > limit && description.content.len() > 1 {
        let before_notice = description.content.len() - 2;
        description.content.remove(before_notice);
    }
    Fitted {
        description,
        overflow: Some(overflow),
    }
}

/// The longest prefix of `block` whose JSON fits in `budget` characters, if any is worth
/// keeping.
fn truncate_block(block: &Block, budget: usize) -> Option<Block> {
    if json_len(block) <= budget {
        return Some(block.clone());
    }
    match block {
        Block::Paragraph { content } => {
            truncate_inline(content, budget, |content| Block::Paragraph { content })
        }
        Block::Heading { attrs, content } => {
            truncate_inline(content, budget, |content| Block::Heading {
                attrs: *attrs,
                content,
            })
        }
        Block::CodeBlock { attrs, content } => {
            truncate_inline(content, budget, |content| Block::CodeBlock {
                attrs: attrs.clone(),
                content,
            })
        }
        Block::BulletList { content } => truncate_seq(
            content,
            budget,
            |content| Block::BulletList { content },
            truncate_list_item,
        ),
        Block::OrderedList { attrs, content } => truncate_seq(
            content,
            budget,
            |content| Block::OrderedList {
                attrs: *attrs,
                content,
            },
            truncate_list_item,
        ),
        Block::TaskList { attrs, content } => truncate_seq(
            content,
            budget,
            |content| Block::TaskList {
                attrs: attrs.clone(),
                content,
            },
            truncate_task_entry,
        ),
        Block::Blockquote { content } => truncate_seq(
            content,
            budget,
            |content| Block::Blockquote { content },
            truncate_block,
        ),
        Block::Panel { attrs, content } => truncate_seq(
            content,
            budget,
            |content| Block::Panel {
                attrs: *attrs,
                content,
            },
            truncate_block,
        ),
        Block::Table { attrs, content } => truncate_seq(
            content,
            budget,
            |content| Block::Table {
                attrs: attrs.clone(),
                content,
            },
            truncate_row,
        ),
        Block::Rule => None,
    }
}

/// Keeps whole children while they fit, then a shortened next child if one fits.
fn truncate_seq<T, W>(
    items: &[T],
    budget: usize,
    wrap: impl Fn(Vec<T>) -> W,
    shrink: impl Fn(&T, usize) -> Option<T>,
) -> Option<W>
where
    T: Clone + Serialize,
    W: Serialize,
{
    let empty = json_len(&wrap(Vec::new()));
    if empty >= budget {
        return None;
    }
    let mut remaining = budget - empty;
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        let comma = usize::from(!kept.is_empty());
        let cost = json_len(item).saturating_add(comma);
        if cost <= remaining {
            remaining -= cost;
            kept.push(item.clone());
            continue;
        }
        if remaining > comma
            && let Some(part) = shrink(item, remaining - comma)
        {
            kept.push(part);
        }
        break;
    }
    (!kept.is_empty()).then(|| wrap(kept))
}

fn truncate_list_item(item: &ListItem, budget: usize) -> Option<ListItem> {
    truncate_seq(&item.content, budget, ListItem::new, truncate_block)
}

fn truncate_task_entry(entry: &TaskListEntry, budget: usize) -> Option<TaskListEntry> {
    match entry {
        TaskListEntry::TaskItem { attrs, content } => {
            truncate_inline(content, budget, |content| TaskListEntry::TaskItem {
                attrs: attrs.clone(),
                content,
            })
        }
        TaskListEntry::TaskList { attrs, content } => truncate_seq(
            content,
            budget,
            |content| TaskListEntry::TaskList {
                attrs: attrs.clone(),
                content,
            },
            truncate_task_entry,
        ),
    }
}

/// A row keeps all its cells; each cell's content is shortened to an equal share.
fn truncate_row(row: &TableRow, budget: usize) -> Option<TableRow> {
    let n = row.content.len();
    if n == 0 {
        return None;
    }
    let fixed = json_len(&TableRow::new(Vec::new())) + (n - 1);
    let share = budget.checked_sub(fixed)? / n;
    let mut cells = Vec::with_capacity(n);
    for cell in &row.content {
        if json_len(cell) <= share {
            cells.push(cell.clone());
            continue;
        }
        let rebuild = |content: Vec<Block>| match cell {
            TableCell::TableHeader { attrs, .. } => TableCell::TableHeader {
                attrs: *attrs,
                content,
            },
            TableCell::TableCell { attrs, .. } => TableCell::TableCell {
                attrs: *attrs,
                content,
            },
        };
        let shortened =
            truncate_seq(cell.content(), share, rebuild, truncate_block).or_else(|| {
                let minimal = rebuild(vec![Block::Paragraph {
                    content: Vec::new(),
                }]);
                (json_len(&minimal) <= share).then_some(minimal)
            })?;
        cells.push(shortened);
    }
    Some(TableRow::new(cells))
}

/// Number of units in inline content: one per character of text, one per hard break.
fn inline_units(content: &[Inline]) -> usize {
    content
        .iter()
        .map(|i| match i {
            Inline::Text { text, .. } => text.chars().count(),
            Inline::HardBreak => 1,
        })
        .sum()
}

/// The first `units` units of `content`, cutting text at a character boundary.
fn inline_prefix(content: &[Inline], units: usize) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut left = units;
    for inline in content {
        if left == 0 {
            break;
        }
        match inline {
            Inline::Text { text, marks } => {
                let len = text.chars().count();
                if len <= left {
                    out.push(inline.clone());
                    left -= len;
                } else {
                    let cut: String = text.chars().take(left).collect();
                    out.push(Inline::marked(cut, marks.clone()));
                    left = 0;
                }
            }
            Inline::HardBreak => {
                out.push(Inline::HardBreak);
                left -= 1;
            }
        }
    }
    out
}

/// If the last text node was cut inside a word, moves the cut back to the preceding white
/// space when there is one nearby.
fn back_off_to_word_boundary(prefix: &mut [Inline], original: &[Inline]) {
    let index = prefix.len().saturating_sub(1);
    let (Some(Inline::Text { text: cut, .. }), Some(Inline::Text { text: full, .. })) =
        (prefix.last_mut(), original.get(index))
    else {
        return;
    };
    if cut.len() == full.len() {
        return;
    }
    let next_is_space = full[cut.len()..].starts_with(char::is_whitespace);
    if next_is_space || cut.ends_with(char::is_whitespace) {
        return;
    }
    let window_start = cut
        .char_indices()
        .rev()
        .nth(WORD_BOUNDARY_WINDOW)
        .map_or(0, |(i, _)| i);
    if let Some((pos, _)) = cut[window_start..]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
    {
        let new_len = window_start + pos;
        if cut[..new_len].trim_end().is_empty() {
            return;
        }
        cut.truncate(new_len);
        let trimmed = cut.trim_end().len();
        cut.truncate(trimmed);
    }
}

fn truncate_inline<W: Serialize>(
    content: &[Inline],
    budget: usize,
    wrap: impl Fn(Vec<Inline>) -> W,
) -> Option<W> {
    // Every unit adds at least one character of JSON, so more than `budget` units never fit.
    let mut lo = 0usize;
    let mut hi = inline_units(content).min(budget);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if json_len(&wrap(inline_prefix(content, mid))) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        return None;
    }
    let mut prefix = inline_prefix(content, lo);
    back_off_to_word_boundary(&mut prefix, content);
    Some(wrap(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adf::html_to_adf;

    #[test]
    fn short_documents_are_untouched() {
        let doc = html_to_adf("<p>short</p>");
        let fitted = fit_description(doc.clone(), JIRA_DESCRIPTION_LIMIT);
        assert_eq!(fitted.description, doc);
        assert!(fitted.overflow.is_none());
    }

    #[test]
    fn long_documents_keep_whole_blocks_and_add_notice() {
        let html: String = (0..2000)
            .map(|i| format!("<p>Paragraph number {i} with some words.</p>"))
            .collect();
        let doc = html_to_adf(&html);
        let fitted = fit_description(doc.clone(), JIRA_DESCRIPTION_LIMIT);
        assert!(json_len(&fitted.description) <= JIRA_DESCRIPTION_LIMIT);
        let overflow = fitted.overflow.as_ref().map(|o| o.file_name.as_str());
        assert_eq!(overflow, Some(OVERFLOW_FILE_NAME));
        let last = fitted.description.content.last().cloned();
        assert_eq!(last, Some(overflow_notice(OVERFLOW_FILE_NAME)));
        let kept = fitted.description.content.len() - 1;
        assert_eq!(fitted.description.content[..kept], doc.content[..kept]);
        let text = fitted.overflow.map(|o| o.content).unwrap_or_default();
        assert!(text.contains("Paragraph number 1999 with some words."));
    }

    #[test]
    fn one_huge_paragraph_is_split() {
        let html = format!("<p>{}</p>", "word ".repeat(20_000));
        let fitted = fit_description(html_to_adf(&html), JIRA_DESCRIPTION_LIMIT);
        let len = json_len(&fitted.description);
        assert!(len <= JIRA_DESCRIPTION_LIMIT, "{len}");
        assert!(len > JIRA_DESCRIPTION_LIMIT - 200, "{len}");
        assert_eq!(fitted.description.content.len(), 2);
        let Block::Paragraph { content } = &fitted.description.content[0] else {
            panic!("expected paragraph");
        };
        let Some(Inline::Text { text, .. }) = content.first() else {
            panic!("expected text");
        };
        assert!(text.ends_with("word"), "cut at a word boundary");
    }

    #[test]
    fn huge_table_is_split_by_rows() {
        let rows: String = (0..3000)
            .map(|i| format!("<tr><td>row {i}</td><td>value</td></tr>"))
            .collect();
        let html = format!("<table><tr><th>a</th><th>b</th></tr>{rows}</table>");
        let fitted = fit_description(html_to_adf(&html), JIRA_DESCRIPTION_LIMIT);
        assert!(json_len(&fitted.description) <= JIRA_DESCRIPTION_LIMIT);
        let Block::Table { content, .. } = &fitted.description.content[0] else {
            panic!("expected table");
        };
        assert!(content.len() > 100);
        assert!(content.iter().all(|r| r.content.len() == 2));
    }

    #[test]
    fn length_is_counted_in_utf16_code_units() {
        assert_eq!(json_len("é"), 3);
        assert_eq!(json_len("😀"), 4);
        let html = format!("<p>{}</p>", "😀é".repeat(40_000));
        let fitted = fit_description(html_to_adf(&html), JIRA_DESCRIPTION_LIMIT);
        let json = fitted.description.to_json().unwrap_or_default();
        let units = json.encode_utf16().count();
        assert_eq!(units, json_len(&fitted.description));
        assert!(units <= JIRA_DESCRIPTION_LIMIT);
        assert!(units > JIRA_DESCRIPTION_LIMIT - 200, "{units}");
    }

    #[test]
    fn tiny_limits_degrade_gracefully() {
        let doc = html_to_adf(&"<p>text</p>".repeat(100));
        for limit in [0, 10, 40, 60, 100, 150] {
            let fitted = fit_description(doc.clone(), limit);
            assert!(fitted.overflow.is_some());
            let len = json_len(&fitted.description);
            assert!(
                len <= limit.max(json_len(&Document::default())),
                "{limit}: {len}"
            );
        }
    }
}

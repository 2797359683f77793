//! Repairs an ADF document so that it satisfies the official schema's context rules.
//!
//! The model's types fix each node's shape; this pass fixes what depends on where a node
//! sits, following `@atlaskit/adf-schema` (JSON schema `v1/full.json`) and the stricter of it and
//! Atlassian's validator (`@atlaskit/adf-utils/validator`) where they differ:
//!
//! | container   | blocks allowed                                                    |
//! |-------------|-------------------------------------------------------------------|
//! | doc         | everything                                                        |
//! | listItem    | paragraph, bulletList, orderedList, taskList, codeBlock           |
//! | tableCell   | everything but table (no nested tables)                           |
//! | blockquote  | paragraph, bulletList, orderedList, codeBlock                     |
//! | panel       | paragraph, heading, bulletList, orderedList, taskList, codeBlock, rule |
//!
//! A block that is not allowed where it sits is lowered: a heading becomes a bold paragraph, a
//! blockquote or panel is unwrapped into its content, a table becomes one paragraph per row
//! (cells separated by `" | "`), a task list becomes a bullet list with `[ ]`/`[x]` markers and a
//! rule is dropped. A table inside a top-level panel or blockquote is lifted out instead,
//! splitting the container around it.
//!
//! Beyond that: empty text nodes, paragraphs, headings, lists, items, code blocks, containers and
//! rows are dropped; adjacent text nodes with the same marks are merged; marks are de-duplicated,
//! put in canonical order, and `code` keeps only `link` beside it; links must have a safe `href`;
//! a list item starts with a paragraph (or code block); a task list starts with a task item;
//! table cells hold at least one paragraph, spans are clamped and ragged rows are padded; every
//! task list and task item gets a deterministic `localId` (see [`super::ids`]).
//!
//! Normalising is idempotent.

use std::collections::VecDeque;

use super::ids::{IdGenerator, document_seed};
use super::model::{
    Block, CellAttrs, CodeBlockAttrs, Document, HeadingAttrs, Inline, ListItem, Mark, TableCell,
    TableRow, TaskListEntry, TaskState,
};

/// Widest column span kept; wider spans are clamped.
const MAX_COLSPAN: u32 = 64;
/// Tables wider than this (counting spans) are not padded to a rectangle.
const MAX_PADDED_WIDTH: usize = 256;

/// Where a block sits, which decides the blocks it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Doc,
    ListItem,
    TableCell,
    Blockquote,
    Panel,
}

fn allows(ctx: Ctx, block: &Block) -> bool {
    use Block as B;
    match ctx {
        Ctx::Doc => true,
        Ctx::ListItem => matches!(
            block,
            B::Paragraph { .. }
                | B::BulletList { .. }
                | B::OrderedList { .. }
                | B::TaskList { .. }
                | B::CodeBlock { .. }
        ),
        Ctx::TableCell => !matches!(block, B::Table { .. }),
        Ctx::Blockquote => matches!(
            block,
            B::Paragraph { .. }
                | B::BulletList { .. }
                | B::OrderedList { .. }
                | B::CodeBlock { .. }
        ),
        Ctx::Panel => matches!(
            block,
            B::Paragraph { .. }
                | B::Heading { .. }
                | B::BulletList { .. }
                | B::OrderedList { .. }
                | B::TaskList { .. }
                | B::CodeBlock { .. }
                | B::Rule
        ),
    }
}

/// Returns `doc` repaired so that it satisfies the ADF schema (see the module documentation).
pub fn normalize(doc: Document) -> Document {
    let mut content = Vec::new();
    normalize_into(doc.content, Ctx::Doc, &mut content);
    let mut doc = Document::new(content);
    assign_local_ids(&mut doc);
    doc
}

fn normalize_into(blocks: Vec<Block>, ctx: Ctx, out: &mut Vec<Block>) {
    for block in blocks {
        normalize_block(block, ctx, out);
    }
}

fn normalize_block(block: Block, ctx: Ctx, out: &mut Vec<Block>) {
    if !allows(ctx, &block) {
        normalize_into(lower(block), ctx, out);
        return;
    }
    match block {
        Block::Paragraph { content } => {
            let content = normalize_inlines(content);
            if !content.is_empty() {
                out.push(Block::Paragraph { content });
            }
        }
        Block::Heading { attrs, content } => {
            let content = normalize_inlines(content);
            if !content.is_empty() {
                out.push(Block::Heading {
                    attrs: HeadingAttrs {
                        level: attrs.level.clamp(1, 6),
                    },
                    content,
                });
            }
        }
        Block::BulletList { content } => {
            let items = normalize_items(content);
            if !items.is_empty() {
                out.push(Block::BulletList { content: items });
            }
        }
        Block::OrderedList { attrs, content } => {
            let items = normalize_items(content);
            if !items.is_empty() {
                out.push(Block::OrderedList {
                    attrs,
                    content: items,
                });
            }
        }
        Block::TaskList { attrs, content } => {
            let entries = normalize_task_entries(content);
            if !entries.is_empty() {
                out.push(Block::TaskList {
                    attrs,
                    content: entries,
                });
            }
        }
        Block::CodeBlock { attrs, content } => {
            if let Some(block) = normalize_code_block(attrs, content) {
                out.push(block);
            }
        }
        Block::Blockquote { content } => {
            normalize_container(content, Ctx::Blockquote, ctx, out, |content| {
                Block::Blockquote { content }
            });
        }
        Block::Panel { attrs, content } => {
            normalize_container(content, Ctx::Panel, ctx, out, |content| Block::Panel {
                attrs,
                content,
            });
        }
        Block::Rule => out.push(Block::Rule),
        Block::Table { attrs, content } => {
            if let Some(rows) = normalize_rows(content) {
                out.push(Block::Table {
                    attrs,
                    content: rows,
                });
            }
        }
    }
}

/// Normalises the children of a blockquote or panel sitting in `outer`. Nested blockquotes and
/// panels are unwrapped in place, and tables are lifted out next to the container when `outer`
/// accepts them.
fn normalize_container(
    children: Vec<Block>,
    inner: Ctx,
    outer: Ctx,
    out: &mut Vec<Block>,
    wrap: impl Fn(Vec<Block>) -> Block,
) {
    let mut queue: VecDeque<Block> = children.into();
    let mut segment = Vec::new();
    while let Some(child) = queue.pop_front() {
        if allows(inner, &child) {
            normalize_block(child, inner, &mut segment);
            continue;
        }
        match child {
            Block::Table { .. } if allows(outer, &child) => {
                if !segment.is_empty() {
                    out.push(wrap(std::mem::take(&mut segment)));
                }
                normalize_block(child, outer, out);
            }
            Block::Blockquote { content } | Block::Panel { content, .. } => {
                for block in content.into_iter().rev() {
                    queue.push_front(block);
                }
            }
            other => normalize_block(other, inner, &mut segment),
        }
    }
    if !segment.is_empty() {
        out.push(wrap(segment));
    }
}

/// Rewrites a block that may not sit where it is into blocks that are allowed in more places.
/// Every result is smaller or more widely allowed, so repeated lowering ends.
fn lower(block: Block) -> Vec<Block> {
    match block {
        Block::Heading { content, .. } => vec![Block::Paragraph {
            content: content.into_iter().map(embolden).collect(),
        }],
        Block::Blockquote { content } | Block::Panel { content, .. } => content,
        Block::Table { content, .. } => table_to_paragraphs(content),
        Block::TaskList { content, .. } => vec![Block::BulletList {
            content: task_entries_to_items(content),
        }],
        Block::Rule => Vec::new(),
        other => vec![other],
    }
}

fn embolden(inline: Inline) -> Inline {
    match inline {
        Inline::Text { text, mut marks } => {
            if !marks.contains(&Mark::Code) && !marks.contains(&Mark::Strong) {
                marks.push(Mark::Strong);
            }
            Inline::Text { text, marks }
        }
        other => other,
    }
}

fn table_to_paragraphs(rows: Vec<TableRow>) -> Vec<Block> {
    rows.into_iter()
        .filter_map(|row| {
            let content = row_to_inline(row, Separator::Space);
            (!content.is_empty()).then_some(Block::Paragraph { content })
        })
        .collect()
}

fn row_to_inline(row: TableRow, sep: Separator) -> Vec<Inline> {
    let mut content = Vec::new();
    for cell in row.content {
        let blocks = match cell {
            TableCell::TableHeader { content, .. } | TableCell::TableCell { content, .. } => {
                content
            }
        };
        let cell_inline = flatten_blocks(blocks, sep);
        if cell_inline.is_empty() {
            continue;
        }
        if !content.is_empty() {
            content.push(Inline::text(" | "));
        }
        content.extend(cell_inline);
    }
    content
}

fn task_marker(state: TaskState) -> &'static str {
    match state {
        TaskState::Todo => "[ ] ",
        TaskState::Done => "[x] ",
    }
}

fn task_entries_to_items(entries: Vec<TaskListEntry>) -> Vec<ListItem> {
    let mut items: Vec<ListItem> = Vec::new();
    for entry in entries {
        match entry {
            TaskListEntry::TaskItem { attrs, content } => {
                let mut inline = vec![Inline::text(task_marker(attrs.state))];
                inline.extend(content);
                items.push(ListItem::new(vec![Block::Paragraph { content: inline }]));
            }
            TaskListEntry::TaskList { content, .. } => {
                let nested = Block::BulletList {
                    content: task_entries_to_items(content),
                };
                match items.last_mut() {
                    Some(last) => last.content.push(nested),
                    None => items.push(ListItem::new(vec![nested])),
                }
            }
        }
    }
    items
}

/// How flattened blocks are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Separator {
    /// A single space (inside a table row flattened to a line).
    Space,
    /// A hard break (inside a task item).
    LineBreak,
}

impl Separator {
    fn node(self) -> Inline {
        match self {
            Separator::Space => Inline::text(" "),
            Separator::LineBreak => Inline::HardBreak,
        }
    }
}

/// Flattens blocks into inline content for places that only take inline content, keeping
/// every piece of text: list items get `• ` / `1. ` / `[ ] ` markers, code becomes code-marked
/// text, table cells are separated by `" | "`.
pub(crate) fn flatten_blocks(blocks: Vec<Block>, sep: Separator) -> Vec<Inline> {
    let mut out = Vec::new();
    for block in blocks {
        let mut part = Vec::new();
        flatten_block(block, sep, &mut part);
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(sep.node());
        }
        out.extend(part);
    }
    out
}

fn flatten_block(block: Block, sep: Separator, out: &mut Vec<Inline>) {
    match block {
        Block::Paragraph { content } | Block::Heading { content, .. } => out.extend(content),
        Block::CodeBlock { content, .. } => {
            let text = plain_text_of(&content);
            for (i, line) in text.split('\n').enumerate() {
                if i > 0 {
                    out.push(sep.node());
                }
                if !line.is_empty() {
                    out.push(Inline::marked(line, vec![Mark::Code]));
                }
            }
        }
        Block::BulletList { content } => flatten_items(content, None, sep, out),
        Block::OrderedList { attrs, content } => {
            let start = attrs.map_or(1, |a| a.order);
            flatten_items(content, Some(start), sep, out);
        }
        Block::TaskList { content, .. } => flatten_task_entries(content, sep, out),
        Block::Blockquote { content } | Block::Panel { content, .. } => {
            out.extend(flatten_blocks(content, sep));
        }
        Block::Rule => {}
        Block::Table { content, .. } => {
            for row in content {
                let line = row_to_inline(row, Separator::Space);
                if line.is_empty() {
                    continue;
                }
                if !out.is_empty() {
                    out.push(sep.node());
                }
                out.extend(line);
            }
        }
    }
}

fn flatten_items(items: Vec<ListItem>, start: Option<u32>, sep: Separator, out: &mut Vec<Inline>) {
    for (i, item) in items.into_iter().enumerate() {
        if !out.is_empty() {
            out.push(sep.node());
        }
        let marker = match start {
            Some(n) => format!("{}. ", u64::from(n) + i as u64),
            None => "• ".to_owned(),
        };
        out.push(Inline::text(marker));
        out.extend(flatten_blocks(item.content, sep));
    }
}

fn flatten_task_entries(entries: Vec<TaskListEntry>, sep: Separator, out: &mut Vec<Inline>) {
    for entry in entries {
        match entry {
            TaskListEntry::TaskItem { attrs, content } => {
                if !out.is_empty() {
                    out.push(sep.node());
                }
                out.push(Inline::text(task_marker(attrs.state)));
                out.extend(content);
            }
            TaskListEntry::TaskList { content, .. } => flatten_task_entries(content, sep, out),
        }
    }
}

fn plain_text_of(content: &[Inline]) -> String {
    let mut text = String::new();
    for inline in content {
        match inline {
            Inline::Text { text: t, .. } => text.push_str(t),
            Inline::HardBreak => text.push('\n'),
        }
    }
    text
}

/// Drops empty text, normalises marks and merges neighbours with equal marks.
fn normalize_inlines(content: Vec<Inline>) -> Vec<Inline> {
    let mut out: Vec<Inline> = Vec::with_capacity(content.len());
    for inline in content {
        match inline {
            Inline::Text { text, marks } => {
                if text.is_empty() {
                    continue;
                }
                let marks = normalize_marks(marks);
                if let Some(Inline::Text {
                    text: last,
                    marks: last_marks,
                }) = out.last_mut()
                    && *last_marks == marks
                {
                    last.push_str(&text);
                    continue;
                }
                out.push(Inline::Text { text, marks });
            }
            Inline::HardBreak => out.push(Inline::HardBreak),
        }
    }
    out
}

/// One mark of each kind (the last link wins), links only with a safe `href`, `code` only with
/// `link`, in canonical order.
fn normalize_marks(marks: Vec<Mark>) -> Vec<Mark> {
    let mut kept: Vec<Mark> = Vec::with_capacity(marks.len());
    for mark in marks.into_iter().rev() {
        let mark = match mark {
            Mark::Link { attrs } => match safe_href(&attrs.href) {
                Some(href) => Mark::link(href),
                None => continue,
            },
            other => other,
        };
        if !kept.iter().any(|m| m.rank() == mark.rank()) {
            kept.push(mark);
        }
    }
    if kept.contains(&Mark::Code) {
        kept.retain(|m| matches!(m, Mark::Code | Mark::Link { .. }));
    }
    kept.sort_by_key(Mark::rank);
    kept
}

/// The `href` to put on a link mark, or `None` when the link should be dropped (its text is
/// kept).
///
/// Accepted: `http:`/`https:` and `mailto:` URLs, root-relative paths (`/node/1`), fragments
/// (`#top`) and protocol-relative URLs (made `https:`). Document-relative paths such as
/// `page.html` cannot be resolved without a base URL and are rejected, as are other schemes.
pub fn safe_href(raw: &str) -> Option<String> {
    let href = raw.trim();
    if href.is_empty() || href.chars().any(char::is_control) {
        return None;
    }
    if href.starts_with("//") {
        return Some(format!("https:{href}"));
    }
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    let ok = lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
        || href.starts_with('/')
        || href.starts_with('#');
    ok.then(|| href.to_owned())
}

fn normalize_items(items: Vec<ListItem>) -> Vec<ListItem> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut blocks = Vec::new();
        normalize_into(item.content, Ctx::ListItem, &mut blocks);
        if blocks.is_empty() {
            continue;
        }
        if !matches!(
            blocks.first(),
            Some(Block::Paragraph { .. } | Block::CodeBlock { .. })
        ) {
            blocks.insert(
                0,
                Block::Paragraph {
                    content: Vec::new(),
                },
            );
        }
        out.push(ListItem::new(blocks));
    }
    out
}

fn normalize_task_entries(entries: Vec<TaskListEntry>) -> Vec<TaskListEntry> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            TaskListEntry::TaskItem { attrs, content } => {
                let content = normalize_inlines(content);
                if !content.is_empty() {
                    out.push(TaskListEntry::TaskItem { attrs, content });
                }
            }
            TaskListEntry::TaskList { attrs, content } => {
                let content = normalize_task_entries(content);
                if !content.is_empty() {
                    out.push(TaskListEntry::TaskList { attrs, content });
                }
            }
        }
    }
    if matches!(out.first(), Some(TaskListEntry::TaskList { .. })) {
        out.insert(
            0,
            TaskListEntry::TaskItem {
                attrs: super::model::TaskItemAttrs {
                    local_id: String::new(),
                    state: TaskState::Todo,
                },
                content: Vec::new(),
            },
        );
    }
    out
}

fn normalize_code_block(attrs: Option<CodeBlockAttrs>, content: Vec<Inline>) -> Option<Block> {
    let text = plain_text_of(&content);
    if text.is_empty() {
        return None;
    }
    let language = attrs
        .and_then(|a| a.language)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    Some(Block::CodeBlock {
        attrs: language.map(|l| CodeBlockAttrs { language: Some(l) }),
        content: vec![Inline::text(text)],
    })
}

fn normalize_cell(cell: TableCell) -> TableCell {
    let (header, attrs, content) = match cell {
        TableCell::TableHeader { attrs, content } => (true, attrs, content),
        TableCell::TableCell { attrs, content } => (false, attrs, content),
    };
    let mut blocks = Vec::new();
    normalize_into(content, Ctx::TableCell, &mut blocks);
    if blocks.is_empty() {
        blocks.push(Block::Paragraph {
            content: Vec::new(),
        });
    }
    let attrs = attrs.and_then(|a| {
        CellAttrs {
            colspan: a.colspan.map(|c| c.min(MAX_COLSPAN)).filter(|&c| c > 1),
            rowspan: a.rowspan.filter(|&r| r > 1),
        }
        .non_empty()
    });
    if header {
        TableCell::TableHeader {
            attrs,
            content: blocks,
        }
    } else {
        TableCell::TableCell {
            attrs,
            content: blocks,
        }
    }
}

fn set_rowspan(cell: &mut TableCell, rowspan: u32) {
    let attrs = match cell {
        TableCell::TableHeader { attrs, .. } | TableCell::TableCell { attrs, .. } => attrs,
    };
    let colspan = attrs.and_then(|a| a.colspan);
    *attrs = CellAttrs {
        colspan,
        rowspan: (rowspan > 1).then_some(rowspan),
    }
    .non_empty();
}

fn spans(cell: &TableCell) -> (usize, usize) {
    let attrs = cell.attrs().unwrap_or_default();
    (
        attrs.colspan.unwrap_or(1) as usize,
        attrs.rowspan.unwrap_or(1) as usize,
    )
}

/// Normalises cells, drops rows without cells (shrinking the row spans that crossed them),
/// clamps row spans to the table and pads short rows with empty cells.
fn normalize_rows(rows: Vec<TableRow>) -> Option<Vec<TableRow>> {
    let mut grid: Vec<Vec<TableCell>> = rows
        .into_iter()
        .map(|row| row.content.into_iter().map(normalize_cell).collect())
        .collect();

    // empty_before[i]: number of empty rows among rows 0..i.
    let mut empty_before = Vec::with_capacity(grid.len() + 1);
    empty_before.push(0usize);
    for row in &grid {
        let last = empty_before.last().copied().unwrap_or(0);
        empty_before.push(last + usize::from(row.is_empty()));
    }
    let total = grid.len();
    for (r, row) in grid.iter_mut().enumerate() {
        for cell in row.iter_mut() {
            let (_, rowspan) = spans(cell);
            let end = r.saturating_add(rowspan).min(total);
            let crossed_empty = empty_before[end] - empty_before[r + 1];
            let span = (end - r - crossed_empty).max(1);
            set_rowspan(cell, u32::try_from(span).unwrap_or(u32::MAX));
        }
    }
    grid.retain(|row| !row.is_empty());
    if grid.is_empty() {
        return None;
    }

    // Occupied columns per row, counting cells spanning down from rows above.
    let n = grid.len();
    let mut delta = vec![0isize; n + 1];
    for (r, row) in grid.iter().enumerate() {
        for cell in row {
            let (colspan, rowspan) = spans(cell);
            let colspan = isize::try_from(colspan).unwrap_or(isize::MAX / 2);
            delta[r] += colspan;
            delta[(r + rowspan).min(n)] -= colspan;
        }
    }
    let mut occupied = Vec::with_capacity(n);
    let mut running = 0isize;
    for d in delta.iter().take(n) {
        running += d;
        occupied.push(usize::try_from(running).unwrap_or(0));
    }
    let width = occupied.iter().copied().max().unwrap_or(0);
    if width <= MAX_PADDED_WIDTH {
        for (row, &used) in grid.iter_mut().zip(&occupied) {
            for _ in used..width {
                row.push(TableCell::TableCell {
                    attrs: None,
                    content: vec![Block::Paragraph {
                        content: Vec::new(),
                    }],
                });
            }
        }
    }
    Some(grid.into_iter().map(TableRow::new).collect())
}

/// Gives every task list and task item a fresh deterministic `localId`.
fn assign_local_ids(doc: &mut Document) {
    if !doc.content.iter().any(contains_task_list) {
        return;
    }
    for_each_local_id(&mut doc.content, &mut |id| id.clear());
    let mut ids = IdGenerator::new(document_seed(doc));
    for_each_local_id(&mut doc.content, &mut |id| *id = ids.next_id());
}

fn contains_task_list(block: &Block) -> bool {
    match block {
        Block::TaskList { .. } => true,
        Block::BulletList { content } | Block::OrderedList { content, .. } => content
            .iter()
            .any(|item| item.content.iter().any(contains_task_list)),
        Block::Blockquote { content } | Block::Panel { content, .. } => {
            content.iter().any(contains_task_list)
        }
        Block::Table { content, .. } => content.iter().any(|row| {
            row.content
                .iter()
                .any(|cell| cell.content().iter().any(contains_task_list))
        }),
        Block::Paragraph { .. } | Block::Heading { .. } | Block::CodeBlock { .. } | Block::Rule => {
            false
        }
    }
}

/// Calls `f` on every `localId` of task lists and items, in document order.
fn for_each_local_id(blocks: &mut [Block], f: &mut dyn FnMut(&mut String)) {
    for block in blocks {
        match block {
            Block::TaskList { attrs, content } => {
                f(&mut attrs.local_id);
                for_each_task_entry(content, f);
            }
            Block::BulletList { content } | Block::OrderedList { content, .. } => {
                for item in content {
                    for_each_local_id(&mut item.content, f);
                }
            }
            Block::Blockquote { content } | Block::Panel { content, .. } => {
                for_each_local_id(content, f);
            }
            Block::Table { content, .. } => {
                for row in content {
                    for cell in &mut row.content {
                        match cell {
                            TableCell::TableHeader { content, .. }
                            | TableCell::TableCell { content, .. } => {
                                for_each_local_id(content, f);
                            }
                        }
                    }
                }
            }
            Block::Paragraph { .. }
            | Block::Heading { .. }
            | Block::CodeBlock { .. }
            | Block::Rule => {}
        }
    }
}

fn for_each_task_entry(entries: &mut [TaskListEntry], f: &mut dyn FnMut(&mut String)) {
    for entry in entries {
        match entry {
            TaskListEntry::TaskItem { attrs, .. } => f(&mut attrs.local_id),
            TaskListEntry::TaskList { attrs, content } => {
                f(&mut attrs.local_id);
                for_each_task_entry(content, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adf::model::{LocalIdAttrs, PanelAttrs, PanelType, TaskItemAttrs};

    fn p(text: &str) -> Block {
        Block::text_paragraph(text)
    }

    fn table(rows: Vec<Vec<TableCell>>) -> Block {
        Block::Table {
            attrs: None,
            content: rows.into_iter().map(TableRow::new).collect(),
        }
    }

    fn td(blocks: Vec<Block>) -> TableCell {
        TableCell::TableCell {
            attrs: None,
            content: blocks,
        }
    }

    fn norm(blocks: Vec<Block>) -> Vec<Block> {
        normalize(Document::new(blocks)).content
    }

    #[test]
    fn empty_document_stays_empty() {
        assert_eq!(norm(vec![]), vec![]);
        assert_eq!(
            norm(vec![p(""), Block::BulletList { content: vec![] }]),
            vec![]
        );
    }

    #[test]
    fn nested_table_is_flattened_to_rows() {
        let inner = table(vec![vec![td(vec![p("a")]), td(vec![p("b")])]]);
        let out = norm(vec![table(vec![vec![td(vec![inner])]])]);
        assert_eq!(
            out,
            vec![table(vec![vec![td(vec![Block::paragraph(vec![
                Inline::text("a | b")
            ])])]])]
        );
    }

    #[test]
    fn table_is_lifted_out_of_top_level_panel() {
        let panel = Block::Panel {
            attrs: PanelAttrs {
                panel_type: PanelType::Info,
            },
            content: vec![p("before"), table(vec![vec![td(vec![p("x")])]]), p("after")],
        };
        let out = norm(vec![panel]);
        assert_eq!(out.len(), 3);
        assert!(matches!(out[0], Block::Panel { .. }));
        assert!(matches!(out[1], Block::Table { .. }));
        assert!(matches!(out[2], Block::Panel { .. }));
    }

    #[test]
    fn heading_in_list_item_becomes_bold_paragraph() {
        let list = Block::BulletList {
            content: vec![ListItem::new(vec![Block::Heading {
                attrs: HeadingAttrs { level: 2 },
                content: vec![Inline::text("h")],
            }])],
        };
        assert_eq!(
            norm(vec![list]),
            vec![Block::BulletList {
                content: vec![ListItem::new(vec![Block::paragraph(vec![Inline::marked(
                    "h",
                    vec![Mark::Strong]
                )])])]
            }]
        );
    }

    #[test]
    fn list_item_starts_with_paragraph() {
        let nested = Block::BulletList {
            content: vec![ListItem::new(vec![p("inner")])],
        };
        let out = norm(vec![Block::BulletList {
            content: vec![ListItem::new(vec![nested.clone()])],
        }]);
        assert_eq!(
            out,
            vec![Block::BulletList {
                content: vec![ListItem::new(vec![Block::paragraph(vec![]), nested])]
            }]
        );
    }

    #[test]
    fn ragged_rows_are_padded_and_rowspans_clamped() {
        let span = TableCell::TableCell {
            attrs: Some(CellAttrs {
                colspan: None,
                rowspan: Some(5),
            }),
            content: vec![p("s")],
        };
        let out = norm(vec![table(vec![
            vec![span, td(vec![p("a")]), td(vec![p("b")])],
            vec![td(vec![p("c")])],
            vec![],
        ])]);
        let Block::Table { content, .. } = &out[0] else {
            panic!("not a table: {out:?}");
        };
        assert_eq!(content.len(), 2);
        assert_eq!(
            content[0].content[0].attrs().and_then(|a| a.rowspan),
            Some(2)
        );
        assert_eq!(content[1].content.len(), 2);
    }

    #[test]
    fn marks_are_normalised() {
        let out = norm(vec![Block::paragraph(vec![
            Inline::marked(
                "a",
                vec![Mark::Strong, Mark::Code, Mark::link("javascript:x")],
            ),
            Inline::marked("b", vec![Mark::Code]),
            Inline::text(""),
        ])]);
        assert_eq!(
            out,
            vec![Block::paragraph(vec![Inline::marked(
                "ab",
                vec![Mark::Code]
            )])]
        );
    }

    #[test]
    fn task_lists_get_deterministic_unique_ids() {
        let make = || {
            Document::new(vec![Block::TaskList {
                attrs: LocalIdAttrs::default(),
                content: vec![
                    TaskListEntry::TaskItem {
                        attrs: TaskItemAttrs {
                            local_id: String::new(),
                            state: TaskState::Todo,
                        },
                        content: vec![Inline::text("a")],
                    },
                    TaskListEntry::TaskItem {
                        attrs: TaskItemAttrs {
                            local_id: "old".into(),
                            state: TaskState::Done,
                        },
                        content: vec![Inline::text("b")],
                    },
                ],
            }])
        };
        let a = normalize(make());
        let b = normalize(make());
        assert_eq!(a, b);
        assert_eq!(normalize(a.clone()), a, "idempotent");
        let json = serde_json::to_string(&a).unwrap_or_default();
        let ids: Vec<&str> = json
            .split("\"localId\":\"")
            .skip(1)
            .map(|s| &s[..36])
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    }

    #[test]
    fn safe_href_rules() {
        assert_eq!(safe_href(" https://x.y/z "), Some("https://x.y/z".into()));
        assert_eq!(safe_href("HTTP://X"), Some("HTTP://X".into()));
        assert_eq!(safe_href("mailto:a@b"), Some("mailto:a@b".into()));
        assert_eq!(safe_href("/node/1"), Some("/node/1".into()));
        assert_eq!(safe_href("#top"), Some("#top".into()));
        assert_eq!(
            safe_href("//cdn.example"),
            Some("https://cdn.example".into())
        );
        assert_eq!(safe_href("page.html"), None);
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert_eq!(safe_href(""), None);
    }
}

//! Conversion of (already sanitised) HTML into ADF blocks.
//!
//! The HTML is parsed with `html5ever` the way a browser parses the content of a `<div>`, then
//! the DOM is walked once. Formatting elements push marks on a stack that stays active across
//! block boundaries (`<b><p>one</p><p>two</p></b>` gives two bold paragraphs). Loose inline
//! content is gathered into paragraphs, with white space collapsed as a browser collapses it
//! outside `<pre>`.
//!
//! The output of this module follows the model's shapes but not yet every context rule of the
//! schema (a table may still sit in a table cell, a list item may be empty, ...):
//! [`super::normalize`] takes care of those.

use std::rc::Rc;

use html5ever::tendril::TendrilSink;
use html5ever::{ParseOpts, QualName, local_name, ns, parse_fragment};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

use super::model::{
    Block, CellAttrs, CodeBlockAttrs, HeadingAttrs, Inline, ListItem, LocalIdAttrs, Mark,
    OrderedListAttrs, PanelAttrs, PanelType, TableCell, TableRow, TaskItemAttrs, TaskListEntry,
    TaskState,
};
use super::normalize::{Separator, flatten_blocks, safe_href};

/// Elements nested deeper than this are converted to their plain text content, which keeps the
/// recursive walk (and everything that later walks the document) within a small stack.
const MAX_DEPTH: usize = 96;

/// Parses `html` (expected to be sanitised) and converts it to raw ADF blocks.
pub(crate) fn html_to_blocks(html: &str) -> Vec<Block> {
    let dom = parse_fragment(
        RcDom::default(),
        ParseOpts::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        Vec::new(),
        false,
    )
    .one(html);
    let root = dom.document.children.borrow().first().cloned();
    match root {
        Some(root) => Walker::default().collect(&root),
        None => Vec::new(),
    }
}

/// Collects the inline content of the paragraph being built, collapsing white space.
#[derive(Debug)]
struct InlineBuilder {
    nodes: Vec<Inline>,
    /// A collapsed space waiting for the next visible character, with the marks of the
    /// white space it stands for.
    pending_space: Option<Vec<Mark>>,
    /// True at the start of the paragraph and right after a hard break, where white space is
    /// dropped.
    at_line_start: bool,
}

impl Default for InlineBuilder {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            pending_space: None,
            at_line_start: true,
        }
    }
}

impl InlineBuilder {
    fn push_text(&mut self, text: &str, marks: &[Mark]) {
        let mut rest = text;
        while !rest.is_empty() {
            let word_start = rest.find(|c: char| !is_html_space(c)).unwrap_or(rest.len());
            if word_start > 0 {
                if !self.at_line_start && self.pending_space.is_none() {
                    self.pending_space = Some(marks.to_vec());
                }
                rest = &rest[word_start..];
                continue;
            }
            let word_end = rest.find(is_html_space).unwrap_or(rest.len());
            if let Some(space_marks) = self.pending_space.take() {
                self.append(" ", &space_marks);
            }
            self.append(&rest[..word_end], marks);
            self.at_line_start = false;
            rest = &rest[word_end..];
        }
    }

    /// Appends visible text without collapsing (used for generated text such as checkboxes).
    fn push_literal(&mut self, text: &str, marks: &[Mark]) {
        if let Some(space_marks) = self.pending_space.take() {
            self.append(" ", &space_marks);
        }
        self.append(text, marks);
        self.at_line_start = false;
    }

    fn append(&mut self, text: &str, marks: &[Mark]) {
        if text.is_empty() {
            return;
        }
        if let Some(Inline::Text {
            text: last,
            marks: last_marks,
        }) = self.nodes.last_mut()
            && last_marks.as_slice() == marks
        {
            last.push_str(text);
            return;
        }
        self.nodes.push(Inline::marked(text, marks.to_vec()));
    }

    fn hard_break(&mut self) {
        self.pending_space = None;
        self.nodes.push(Inline::HardBreak);
        self.at_line_start = true;
    }

    /// Ends the paragraph: trailing white space and one trailing line break are dropped, as a
    /// browser does not render them.
    fn take(&mut self) -> Vec<Inline> {
        self.pending_space = None;
        self.at_line_start = true;
        let mut nodes = std::mem::take(&mut self.nodes);
        if matches!(nodes.last(), Some(Inline::HardBreak)) {
            nodes.pop();
        }
        nodes
    }
}

/// HTML's ASCII white space (U+00A0 and other Unicode spaces are content, not white space).
fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

/// Blocks of one container plus the paragraph currently being filled.
#[derive(Debug, Default)]
struct Sink {
    blocks: Vec<Block>,
    inline: InlineBuilder,
}

impl Sink {
    fn flush(&mut self) {
        let content = self.inline.take();
        if !content.is_empty() {
            self.blocks.push(Block::Paragraph { content });
        }
    }

    fn push_block(&mut self, block: Block) {
        self.flush();
        self.blocks.push(block);
    }

    fn finish(mut self) -> Vec<Block> {
        self.flush();
        self.blocks
    }
}

/// Walks the DOM, tracking active marks.
#[derive(Debug, Default)]
struct Walker {
    /// Marks of the enclosing formatting elements, outermost first.
    marks: Vec<Mark>,
    depth: usize,
    /// The checkbox of the task item being converted, which is not rendered as text.
    skip: Option<Handle>,
}

impl Walker {
    /// Converts the children of `node` into blocks.
    fn collect(&mut self, node: &Handle) -> Vec<Block> {
        let mut sink = Sink::default();
        self.walk_children(node, &mut sink);
        sink.finish()
    }

    fn walk_children(&mut self, node: &Handle, sink: &mut Sink) {
        if self.depth >= MAX_DEPTH {
            let text = text_content(node);
            let marks = effective_marks(&self.marks);
            sink.inline.push_text(&text, &marks);
            return;
        }
        self.depth += 1;
        for child in node.children.borrow().iter() {
            self.walk(child, sink);
        }
        self.depth -= 1;
    }

    fn walk(&mut self, node: &Handle, sink: &mut Sink) {
        match &node.data {
            NodeData::Text { contents } => {
                let marks = effective_marks(&self.marks);
                sink.inline.push_text(&contents.borrow(), &marks);
            }
            NodeData::Element { name, .. } => self.element(node, &name.local, sink),
            NodeData::Document
            | NodeData::Doctype { .. }
            | NodeData::Comment { .. }
            | NodeData::ProcessingInstruction { .. } => {}
        }
    }

    fn element(&mut self, node: &Handle, tag: &str, sink: &mut Sink) {
        match tag {
            "br" => sink.inline.hard_break(),
            "strong" | "b" => self.with_mark(Mark::Strong, node, sink),
            "em" | "i" => self.with_mark(Mark::Em, node, sink),
            "u" => self.with_mark(Mark::Underline, node, sink),
            "s" | "strike" | "del" => self.with_mark(Mark::Strike, node, sink),
            "code" => self.with_mark(Mark::Code, node, sink),
            "a" => match attr(node, "href").as_deref().and_then(safe_href) {
                Some(href) => self.with_mark(Mark::link(href), node, sink),
                None => self.walk_children(node, sink),
            },
            "input" => self.checkbox(node, sink),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = tag[1..].parse::<u8>().unwrap_or(1);
                sink.flush();
                for block in self.collect(node) {
                    sink.push_block(match block {
                        Block::Paragraph { content } => Block::Heading {
                            attrs: HeadingAttrs { level },
                            content,
                        },
                        other => other,
                    });
                }
            }
            "ul" | "ol" => {
                sink.flush();
                let list = self.list(node, tag == "ol");
                sink.push_block(list);
            }
            "li" => {
                // A list item outside a list still renders as a bulleted item.
                let content = self.collect(node);
                sink.push_block(Block::BulletList {
                    content: vec![ListItem::new(content)],
                });
            }
            "table" => {
                sink.flush();
                let table = self.table(node);
                sink.push_block(table);
            }
            "pre" => sink.push_block(code_block(node)),
            "blockquote" => {
                sink.flush();
                let content = self.collect(node);
                sink.push_block(Block::Blockquote { content });
            }
            "hr" => sink.push_block(Block::Rule),
            "div" => match panel_type(node) {
                Some(panel_type) => {
                    sink.flush();
                    let content = self.collect(node);
                    sink.push_block(Block::Panel {
                        attrs: PanelAttrs { panel_type },
                        content,
                    });
                }
                None => self.transparent_block(node, sink),
            },
            "p" | "thead" | "tbody" | "tfoot" | "tr" | "td" | "th" => {
                self.transparent_block(node, sink);
            }
            _ => self.walk_children(node, sink),
        }
    }

    /// A block without its own ADF node: its content starts and ends a paragraph.
    fn transparent_block(&mut self, node: &Handle, sink: &mut Sink) {
        sink.flush();
        self.walk_children(node, sink);
        sink.flush();
    }

    fn with_mark(&mut self, mark: Mark, node: &Handle, sink: &mut Sink) {
        self.marks.push(mark);
        self.walk_children(node, sink);
        self.marks.pop();
    }

    /// A checkbox outside a recognised task list is kept as `[ ]` / `[x]` text.
    fn checkbox(&mut self, node: &Handle, sink: &mut Sink) {
        if self.skip.as_ref().is_some_and(|s| Rc::ptr_eq(s, node)) {
            return;
        }
        if attr(node, "type").as_deref() == Some("checkbox") {
            let marks = effective_marks(&self.marks);
            let text = if has_attr(node, "checked") {
                "[x]"
            } else {
                "[ ]"
            };
            sink.inline.push_literal(text, &marks);
            sink.inline.push_text(" ", &marks);
        }
    }

    fn list(&mut self, node: &Handle, ordered: bool) -> Block {
        if !ordered && is_task_list(node) {
            return self.task_list(node);
        }
        let mut items: Vec<ListItem> = Vec::new();
        for child in node.children.borrow().iter() {
            let blocks = if is_element(child, "li") {
                items.push(ListItem::new(self.collect(child)));
                continue;
            } else if is_whitespace_text(child) {
                continue;
            } else {
                // A nested list or stray content directly inside the list belongs to the item
                // before it, as a browser shows it.
                let mut sink = Sink::default();
                self.walk(child, &mut sink);
                sink.finish()
            };
            if blocks.is_empty() {
                continue;
            }
            match items.last_mut() {
                Some(last) => last.content.extend(blocks),
                None => items.push(ListItem::new(blocks)),
            }
        }
        if ordered {
            let attrs = attr(node, "start")
                .and_then(|s| s.trim().parse::<i64>().ok())
                .and_then(|n| u32::try_from(n).ok())
                .map(|order| OrderedListAttrs { order });
            Block::OrderedList {
                attrs,
                content: items,
            }
        } else {
            Block::BulletList { content: items }
        }
    }

    fn task_list(&mut self, node: &Handle) -> Block {
        let mut entries: Vec<TaskListEntry> = Vec::new();
        for child in node.children.borrow().iter() {
            if is_element(child, "li") {
                let checkbox = leading_checkbox(child);
                let state = task_state(child, checkbox.as_ref());
                let previous = std::mem::replace(&mut self.skip, checkbox);
                let blocks = self.collect(child);
                self.skip = previous;
                let (content, nested) = split_task_blocks(blocks);
                entries.push(TaskListEntry::TaskItem {
                    attrs: TaskItemAttrs {
                        local_id: String::new(),
                        state,
                    },
                    content,
                });
                entries.extend(nested);
            } else if !is_whitespace_text(child) {
                let mut sink = Sink::default();
                self.walk(child, &mut sink);
                let (content, nested) = split_task_blocks(sink.finish());
                match entries.last_mut() {
                    Some(TaskListEntry::TaskItem { content: last, .. }) if nested.is_empty() => {
                        if !content.is_empty() {
                            if !last.is_empty() {
                                last.push(Inline::HardBreak);
                            }
                            last.extend(content);
                        }
                    }
                    _ => {
                        if !content.is_empty() {
                            entries.push(TaskListEntry::TaskItem {
                                attrs: TaskItemAttrs {
                                    local_id: String::new(),
                                    state: TaskState::Todo,
                                },
                                content,
                            });
                        }
                        entries.extend(nested);
                    }
                }
            }
        }
        Block::TaskList {
            attrs: LocalIdAttrs::default(),
            content: entries,
        }
    }

    fn table(&mut self, node: &Handle) -> Block {
        let mut head = Vec::new();
        let mut body = Vec::new();
        let mut foot = Vec::new();
        for child in node.children.borrow().iter() {
            match element_name(child).as_deref() {
                Some("thead") => self.rows_of(child, &mut head),
                Some("tbody") => self.rows_of(child, &mut body),
                Some("tfoot") => self.rows_of(child, &mut foot),
                Some("tr") => body.push(self.row(child)),
                _ => {}
            }
        }
        head.extend(body);
        head.extend(foot);
        Block::Table {
            attrs: None,
            content: head,
        }
    }

    fn rows_of(&mut self, section: &Handle, rows: &mut Vec<TableRow>) {
        for child in section.children.borrow().iter() {
            if is_element(child, "tr") {
                rows.push(self.row(child));
            }
        }
    }

    fn row(&mut self, tr: &Handle) -> TableRow {
        let mut cells = Vec::new();
        for child in tr.children.borrow().iter() {
            let header = match element_name(child).as_deref() {
                Some("th") => true,
                Some("td") => false,
                _ => continue,
            };
            let attrs = CellAttrs {
                colspan: span_attr(child, "colspan"),
                rowspan: span_attr(child, "rowspan"),
            }
            .non_empty();
            let content = self.collect(child);
            cells.push(if header {
                TableCell::TableHeader { attrs, content }
            } else {
                TableCell::TableCell { attrs, content }
            });
        }
        TableRow::new(cells)
    }
}

/// Splits the blocks of a task item into its inline content and the task lists nested under
/// it. Other blocks are flattened into the item's text, one line each.
fn split_task_blocks(blocks: Vec<Block>) -> (Vec<Inline>, Vec<TaskListEntry>) {
    let mut nested = Vec::new();
    let mut rest = Vec::new();
    for block in blocks {
        match block {
            Block::TaskList { attrs, content } => {
                nested.push(TaskListEntry::TaskList { attrs, content });
            }
            other => rest.push(other),
        }
    }
    (flatten_blocks(rest, Separator::LineBreak), nested)
}

/// The marks for text under `stack`: one of each kind (the innermost link wins), `code` only
/// with `link`, in canonical order.
fn effective_marks(stack: &[Mark]) -> Vec<Mark> {
    let mut marks: Vec<Mark> = Vec::with_capacity(stack.len());
    for mark in stack.iter().rev() {
        if !marks.iter().any(|m| m.rank() == mark.rank()) {
            marks.push(mark.clone());
        }
    }
    if marks.contains(&Mark::Code) {
        marks.retain(|m| matches!(m, Mark::Code | Mark::Link { .. }));
    }
    marks.sort_by_key(Mark::rank);
    marks
}

fn code_block(node: &Handle) -> Block {
    let mut text = String::new();
    pre_text(node, &mut text);
    let trimmed_len = text.trim_end_matches('\n').len();
    text.truncate(trimmed_len);
    let language = code_language(node).or_else(|| {
        node.children
            .borrow()
            .iter()
            .find(|c| is_element(c, "code"))
            .and_then(code_language)
    });
    let content = if text.is_empty() {
        Vec::new()
    } else {
        vec![Inline::text(text)]
    };
    Block::CodeBlock {
        attrs: language.map(|l| CodeBlockAttrs { language: Some(l) }),
        content,
    }
}

/// The text of a `<pre>`, verbatim; `<br>` becomes a newline. Iterative, so depth is no issue.
fn pre_text(node: &Handle, out: &mut String) {
    let mut stack: Vec<Handle> = node.children.borrow().iter().rev().cloned().collect();
    while let Some(current) = stack.pop() {
        match &current.data {
            NodeData::Text { contents } => out.push_str(&contents.borrow()),
            NodeData::Element { name, .. } if &*name.local == "br" => out.push('\n'),
            NodeData::Element { .. } => {
                stack.extend(current.children.borrow().iter().rev().cloned());
            }
            _ => {}
        }
    }
}

/// The concatenated text of a subtree, used past [`MAX_DEPTH`].
fn text_content(node: &Handle) -> String {
    let mut out = String::new();
    let mut stack: Vec<Handle> = node.children.borrow().iter().rev().cloned().collect();
    while let Some(current) = stack.pop() {
        match &current.data {
            NodeData::Text { contents } => out.push_str(&contents.borrow()),
            NodeData::Element { .. } => {
                out.push(' ');
                stack.extend(current.children.borrow().iter().rev().cloned());
            }
            _ => {}
        }
    }
    out
}

fn code_language(node: &Handle) -> Option<String> {
    let class = attr(node, "class")?;
    class
        .split_ascii_whitespace()
        .find_map(|t| {
            t.strip_prefix("language-")
                .or_else(|| t.strip_prefix("lang-"))
        })
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

/// `div.panel-info` (and note, tip, warning, success, error) marks a panel.
fn panel_type(node: &Handle) -> Option<PanelType> {
    let class = attr(node, "class")?;
    class
        .split_ascii_whitespace()
        .find_map(|t| t.strip_prefix("panel-").and_then(|k| k.parse().ok()))
}

fn is_task_list(ul: &Handle) -> bool {
    if attr(ul, "data-type").as_deref() == Some("taskList") {
        return true;
    }
    if attr(ul, "class").is_some_and(|c| {
        c.split_ascii_whitespace()
            .any(|t| t == "task-list" || t == "contains-task-list")
    }) {
        return true;
    }
    let children = ul.children.borrow();
    let mut items = children.iter().filter(|c| is_element(c, "li")).peekable();
    items.peek().is_some() && items.all(|li| leading_checkbox(li).is_some())
}

/// The checkbox that starts a list item, looking through leading wrappers such as `<p>` or
/// `<span>` and skipping white space.
fn leading_checkbox(li: &Handle) -> Option<Handle> {
    let mut current = li.clone();
    for _ in 0..8 {
        let next = current
            .children
            .borrow()
            .iter()
            .find(|c| !is_whitespace_text(c) && !matches!(c.data, NodeData::Comment { .. }))
            .cloned()?;
        match element_name(&next).as_deref() {
            Some("input") => {
                return (attr(&next, "type").as_deref() == Some("checkbox")).then_some(next);
            }
            Some("p" | "span" | "div" | "label") => current = next,
            _ => return None,
        }
    }
    None
}

fn task_state(li: &Handle, checkbox: Option<&Handle>) -> TaskState {
    match attr(li, "data-checked").as_deref() {
        Some("true") => return TaskState::Done,
        Some("false") => return TaskState::Todo,
        _ => {}
    }
    if checkbox.is_some_and(|cb| has_attr(cb, "checked")) {
        TaskState::Done
    } else {
        TaskState::Todo
    }
}

fn span_attr(cell: &Handle, name: &str) -> Option<u32> {
    let value = attr(cell, name)?.trim().parse::<u32>().ok()?;
    match value {
        // rowspan="0" spans to the end of the table; normalisation clamps it.
        0 if name == "rowspan" => Some(u32::MAX),
        0 | 1 => None,
        n => Some(n),
    }
}

fn element_name(node: &Handle) -> Option<String> {
    match &node.data {
        NodeData::Element { name, .. } => Some(name.local.to_string()),
        _ => None,
    }
}

fn is_element(node: &Handle, tag: &str) -> bool {
    matches!(&node.data, NodeData::Element { name, .. } if &*name.local == tag)
}

fn is_whitespace_text(node: &Handle) -> bool {
    matches!(&node.data, NodeData::Text { contents } if contents.borrow().chars().all(is_html_space))
}

fn attr(node: &Handle, name: &str) -> Option<String> {
    match &node.data {
        NodeData::Element { attrs, .. } => attrs
            .borrow()
            .iter()
            .find(|a| &*a.name.local == name)
            .map(|a| a.value.to_string()),
        _ => None,
    }
}

fn has_attr(node: &Handle, name: &str) -> bool {
    match &node.data {
        NodeData::Element { attrs, .. } => attrs.borrow().iter().any(|a| &*a.name.local == name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline_of(html: &str) -> Vec<Inline> {
        match html_to_blocks(html).into_iter().next() {
            Some(Block::Paragraph { content }) => content,
            other => panic!("expected a paragraph, got {other:?}"),
        }
    }

    #[test]
    fn collapses_white_space_like_a_browser() {
        assert_eq!(
            inline_of("  a \n\t b  <b> c </b> d  "),
            vec![
                Inline::text("a b "),
                Inline::marked("c ", vec![Mark::Strong]),
                Inline::text("d"),
            ]
        );
    }

    #[test]
    fn nbsp_is_content() {
        assert_eq!(
            inline_of("a&nbsp;&nbsp;b"),
            vec![Inline::text("a\u{a0}\u{a0}b")]
        );
    }

    #[test]
    fn space_around_breaks_is_dropped() {
        assert_eq!(
            inline_of("a <br> b<br>"),
            vec![Inline::text("a"), Inline::HardBreak, Inline::text("b")]
        );
    }

    #[test]
    fn marks_are_deduplicated_and_code_excludes_others() {
        assert_eq!(
            effective_marks(&[Mark::Strong, Mark::Strong, Mark::Em]),
            vec![Mark::Em, Mark::Strong]
        );
        assert_eq!(
            effective_marks(&[Mark::link("/a"), Mark::Strong, Mark::Code]),
            vec![Mark::link("/a"), Mark::Code]
        );
        assert_eq!(
            effective_marks(&[Mark::link("/outer"), Mark::link("/inner")]),
            vec![Mark::link("/inner")]
        );
    }

    #[test]
    fn marks_survive_block_boundaries() {
        let blocks = html_to_blocks("<b><p>one</p><p>two</p></b>");
        assert_eq!(
            blocks,
            vec![
                Block::paragraph(vec![Inline::marked("one", vec![Mark::Strong])]),
                Block::paragraph(vec![Inline::marked("two", vec![Mark::Strong])]),
            ]
        );
    }

    #[test]
    fn deep_nesting_is_flattened_to_text() {
        let html = format!("{}deep{}", "<span>".repeat(500), "</span>".repeat(500));
        assert_eq!(inline_of(&html), vec![Inline::text("deep")]);
    }

    #[test]
    fn pre_keeps_text_verbatim() {
        let blocks =
            html_to_blocks("<pre><code class=\"language-rust\">fn  main()\n  {}\n</code></pre>");
        assert_eq!(
            blocks,
            vec![Block::CodeBlock {
                attrs: Some(CodeBlockAttrs {
                    language: Some("rust".into())
                }),
                content: vec![Inline::text("fn  main()\n  {}")],
            }]
        );
    }
}

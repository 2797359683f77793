//! Typed serde model of the subset of the Atlassian Document Format (ADF) that the
//! HTML converter produces.
//!
//! Serialising a [`Document`] yields the JSON that Jira Cloud's REST API v3 expects in
//! rich-text fields such as an issue description:
//! `{"version":1,"type":"doc","content":[...]}`.
//!
//! The types follow the shape of the official schema (`@atlaskit/adf-schema`, JSON schema
//! `v1/full.json`) for the nodes and marks listed here. They make the *shape* of each node
//! impossible to get wrong (a `tableRow` can only sit in a `table`, a `taskItem` only in a
//! `taskList`, marks only on text), but some rules depend on where a block sits (for example a
//! table may not be nested in a table cell). [`crate::adf::normalize`] repairs a document so that
//! those context rules hold too.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::AdfError;

/// The only ADF version that exists.
pub const ADF_VERSION: u32 = 1;

/// The `type` tag of the root node; it is always `"doc"`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DocType {
    /// `"doc"`.
    #[default]
    #[serde(rename = "doc")]
    Doc,
}

/// The root of an ADF document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Document {
    /// Always [`ADF_VERSION`].
    pub version: u32,
    /// Always [`DocType::Doc`].
    #[serde(rename = "type")]
    pub doc_type: DocType,
    /// The top-level blocks. An empty list is a valid (empty) document.
    pub content: Vec<Block>,
}

impl Default for Document {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl Document {
    /// Creates a version-1 document holding `content`.
    pub fn new(content: Vec<Block>) -> Self {
        Self {
            version: ADF_VERSION,
            doc_type: DocType::Doc,
            content,
        }
    }

    /// Serialises the document to compact ADF JSON.
    ///
    /// # Errors
    /// Returns [`AdfError::Json`] if serialisation fails (it cannot for the types of this
    /// module, but the serde contract allows it).
    pub fn to_json(&self) -> Result<String, AdfError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Parses ADF JSON into a document.
    ///
    /// Only the nodes and marks modelled here are accepted; anything else is an error.
    ///
    /// # Errors
    /// Returns [`AdfError::Json`] when the text is not JSON of this model's shape.
    pub fn from_json(json: &str) -> Result<Self, AdfError> {
        Ok(serde_json::from_str(json)?)
    }
}

/// A block node.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Block {
    /// `paragraph`: inline content (may be empty).
    Paragraph {
        /// Inline content.
        #[serde(default)]
        content: Vec<Inline>,
    },
    /// `heading`, level 1 to 6.
    Heading {
        /// The heading level.
        attrs: HeadingAttrs,
        /// Inline content.
        #[serde(default)]
        content: Vec<Inline>,
    },
    /// `bulletList`: one or more list items.
    BulletList {
        /// The items.
        content: Vec<ListItem>,
    },
    /// `orderedList`: one or more list items, optionally starting at `order`.
    OrderedList {
        /// The start number, when not 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attrs: Option<OrderedListAttrs>,
        /// The items.
        content: Vec<ListItem>,
    },
    /// `taskList`: task items and nested task lists.
    TaskList {
        /// The list's `localId`.
        attrs: LocalIdAttrs,
        /// Items and nested lists; the first entry is always an item.
        content: Vec<TaskListEntry>,
    },
    /// `codeBlock`: unmarked text, optionally with a language.
    CodeBlock {
        /// The language, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attrs: Option<CodeBlockAttrs>,
        /// Text nodes without marks.
        #[serde(default)]
        content: Vec<Inline>,
    },
    /// `blockquote`.
    Blockquote {
        /// Paragraphs, lists and code blocks.
        content: Vec<Block>,
    },
    /// `panel`: a coloured call-out box.
    Panel {
        /// The kind of panel.
        attrs: PanelAttrs,
        /// The panel's blocks.
        content: Vec<Block>,
    },
    /// `rule`: a horizontal line.
    Rule,
    /// `table`: one or more rows.
    Table {
        /// Table layout attributes, when any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attrs: Option<TableAttrs>,
        /// The rows.
        content: Vec<TableRow>,
    },
}

impl Block {
    /// A paragraph holding `content`.
    pub fn paragraph(content: Vec<Inline>) -> Self {
        Block::Paragraph { content }
    }

    /// A paragraph holding one unmarked text node (or nothing if `text` is empty).
    pub fn text_paragraph(text: &str) -> Self {
        let content = if text.is_empty() {
            Vec::new()
        } else {
            vec![Inline::text(text)]
        };
        Block::Paragraph { content }
    }

    /// The ADF `type` name of this block.
    pub fn type_name(&self) -> &'static str {
        match self {
            Block::Paragraph { .. } => "paragraph",
            Block::Heading { .. } => "heading",
            Block::BulletList { .. } => "bulletList",
            Block::OrderedList { .. } => "orderedList",
            Block::TaskList { .. } => "taskList",
            Block::CodeBlock { .. } => "codeBlock",
            Block::Blockquote { .. } => "blockquote",
            Block::Panel { .. } => "panel",
            Block::Rule => "rule",
            Block::Table { .. } => "table",
        }
    }
}

/// Attributes of a heading.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadingAttrs {
    /// 1 to 6.
    pub level: u8,
}

/// Attributes of an ordered list.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderedListAttrs {
    /// The number of the first item (0 or more).
    pub order: u32,
}

/// Attributes of a code block.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CodeBlockAttrs {
    /// The language name, e.g. `"rust"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Attributes holding only a `localId`, as task lists have.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct LocalIdAttrs {
    /// A UUID string, unique within the document.
    #[serde(rename = "localId")]
    pub local_id: String,
}

/// Attributes of a table. All optional; the converter emits none.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TableAttrs {
    /// Whether the first column shows row numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_number_column_enabled: Option<bool>,
    /// The layout, e.g. `"default"`, `"wide"`, `"full-width"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
}

/// The kinds of panel.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum PanelType {
    /// Blue "info" panel.
    Info,
    /// Purple "note" panel.
    Note,
    /// Green "tip" panel.
    Tip,
    /// Yellow "warning" panel.
    Warning,
    /// Red "error" panel.
    Error,
    /// Green "success" panel.
    Success,
}

impl PanelType {
    /// The ADF name of the panel type.
    pub fn as_str(self) -> &'static str {
        match self {
            PanelType::Info => "info",
            PanelType::Note => "note",
            PanelType::Tip => "tip",
            PanelType::Warning => "warning",
            PanelType::Error => "error",
            PanelType::Success => "success",
        }
    }
}

impl fmt::Display for PanelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PanelType {
    type Err = AdfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(PanelType::Info),
            "note" => Ok(PanelType::Note),
            "tip" => Ok(PanelType::Tip),
            "warning" => Ok(PanelType::Warning),
            "error" => Ok(PanelType::Error),
            "success" => Ok(PanelType::Success),
            other => Err(AdfError::UnknownPanelType(other.to_owned())),
        }
    }
}

/// Attributes of a panel.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanelAttrs {
    /// The kind of panel.
    #[serde(rename = "panelType")]
    pub panel_type: PanelType,
}

/// The `type` tag of a list item; it is always `"listItem"`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ListItemType {
    /// `"listItem"`.
    #[default]
    #[serde(rename = "listItem")]
    ListItem,
}

/// A `listItem` of a bullet or ordered list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ListItem {
    /// Always [`ListItemType::ListItem`].
    #[serde(rename = "type")]
    pub item_type: ListItemType,
    /// Blocks; after normalisation the first one is a paragraph or a code block.
    pub content: Vec<Block>,
}

impl ListItem {
    /// A list item holding `content`.
    pub fn new(content: Vec<Block>) -> Self {
        Self {
            item_type: ListItemType::ListItem,
            content,
        }
    }
}

/// The state of a task item.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Not done.
    #[serde(rename = "TODO")]
    Todo,
    /// Done.
    #[serde(rename = "DONE")]
    Done,
}

/// Attributes of a task item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TaskItemAttrs {
    /// A UUID string, unique within the document.
    #[serde(rename = "localId")]
    pub local_id: String,
    /// Whether the task is done.
    pub state: TaskState,
}

/// An entry of a task list: an item, or a nested task list (which is how ADF nests tasks).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TaskListEntry {
    /// `taskItem`: inline content with a state.
    TaskItem {
        /// Id and state.
        attrs: TaskItemAttrs,
        /// Inline content (may be empty).
        #[serde(default)]
        content: Vec<Inline>,
    },
    /// A nested `taskList`, indented under the entry before it.
    TaskList {
        /// The list's `localId`.
        attrs: LocalIdAttrs,
        /// Items and nested lists; the first entry is always an item.
        content: Vec<TaskListEntry>,
    },
}

/// The `type` tag of a table row; it is always `"tableRow"`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TableRowType {
    /// `"tableRow"`.
    #[default]
    #[serde(rename = "tableRow")]
    TableRow,
}

/// A `tableRow`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TableRow {
    /// Always [`TableRowType::TableRow`].
    #[serde(rename = "type")]
    pub row_type: TableRowType,
    /// The cells.
    pub content: Vec<TableCell>,
}

impl TableRow {
    /// A row holding `content`.
    pub fn new(content: Vec<TableCell>) -> Self {
        Self {
            row_type: TableRowType::TableRow,
            content,
        }
    }
}

/// Attributes of a table cell or header cell.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CellAttrs {
    /// Number of columns the cell spans, when more than 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colspan: Option<u32>,
    /// Number of rows the cell spans, when more than 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rowspan: Option<u32>,
}

impl CellAttrs {
    /// `None` when both spans are absent, so that no empty `attrs` object is written.
    pub fn non_empty(self) -> Option<Self> {
        (self.colspan.is_some() || self.rowspan.is_some()).then_some(self)
    }
}

/// A cell of a table row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TableCell {
    /// `tableHeader` (from `<th>`).
    TableHeader {
        /// Spans.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attrs: Option<CellAttrs>,
        /// One or more blocks.
        content: Vec<Block>,
    },
    /// `tableCell` (from `<td>`).
    TableCell {
        /// Spans.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attrs: Option<CellAttrs>,
        /// One or more blocks.
        content: Vec<Block>,
    },
}

impl TableCell {
    /// The cell's blocks.
    pub fn content(&self) -> &[Block] {
        match self {
            TableCell::TableHeader { content, .. } | TableCell::TableCell { content, .. } => {
                content
            }
        }
    }

    /// The cell's span attributes, when any.
    pub fn attrs(&self) -> Option<CellAttrs> {
        match self {
            TableCell::TableHeader { attrs, .. } | TableCell::TableCell { attrs, .. } => *attrs,
        }
    }
}

/// An inline node.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Inline {
    /// `text`: a non-empty string with marks.
    Text {
        /// The text; never empty after normalisation.
        text: String,
        /// Formatting marks.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        marks: Vec<Mark>,
    },
    /// `hardBreak`: a line break inside a paragraph.
    HardBreak,
}

impl Inline {
    /// An unmarked text node.
    pub fn text(text: impl Into<String>) -> Self {
        Inline::Text {
            text: text.into(),
            marks: Vec::new(),
        }
    }

    /// A text node with marks.
    pub fn marked(text: impl Into<String>, marks: Vec<Mark>) -> Self {
        Inline::Text {
            text: text.into(),
            marks,
        }
    }
}

/// A formatting mark on a text node.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Mark {
    /// `link` with an `href`.
    Link {
        /// The target.
        attrs: LinkAttrs,
    },
    /// `em` (italic).
    Em,
    /// `strong` (bold).
    Strong,
    /// `strike` (strikethrough).
    Strike,
    /// `underline`.
    Underline,
    /// `code` (monospace); combines only with `link`.
    Code,
}

impl Mark {
    /// A link mark to `href`.
    pub fn link(href: impl Into<String>) -> Self {
        Mark::Link {
            attrs: LinkAttrs { href: href.into() },
        }
    }

    /// Position in the canonical mark order (the order of the official editor schema).
    pub fn rank(&self) -> u8 {
        match self {
            Mark::Link { .. } => 0,
            Mark::Em => 1,
            Mark::Strong => 2,
            Mark::Strike => 3,
            Mark::Underline => 4,
            Mark::Code => 5,
        }
    }
}

/// Attributes of a link mark.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkAttrs {
    /// The link target.
    pub href: String,
}

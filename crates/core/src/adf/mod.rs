//! HTML to Atlassian Document Format (ADF) conversion for Jira Cloud descriptions.
//!
//! Jira Cloud's REST API v3 takes rich text (such as an issue description) as ADF JSON. This
//! module turns HTML into a typed ADF [`Document`] that satisfies the official schema
//! (`@atlaskit/adf-schema`) and Atlassian's validator (`@atlaskit/adf-utils/validator`),
//! renders ADF as plain text, and fits a document into Jira's size limit.
//!
//! The pipeline of [`html_to_adf`] is:
//!
//! 1. [`sanitize`]: an allow-list sanitiser (`ammonia`) drops everything the converter does not
//!    understand; scripts, styles and embedded content go with their content.
//! 2. conversion: the sanitised HTML is parsed (`html5ever`) and walked into ADF blocks, with
//!    white space collapsed as a browser does and entities decoded by the parser.
//! 3. [`normalize`]: the context rules of the schema are enforced (what may nest in what, no
//!    empty text, valid marks, deterministic `localId`s).
//!
//! Supported HTML:
//!
//! | HTML | ADF |
//! |------|-----|
//! | `h1`-`h6` | `heading` (level 1-6) |
//! | `p`, loose inline content | `paragraph` |
//! | `strong`/`b`, `em`/`i`, `u`, `s`/`strike`/`del`, `code` | `strong`, `em`, `underline`, `strike`, `code` marks |
//! | `a href` (http, https, mailto, `/path`, `#frag`) | `link` mark |
//! | `br` | `hardBreak` |
//! | `ul`, `ol start` | `bulletList`, `orderedList` (`order`) |
//! | `ul.task-list`, `ul.contains-task-list`, `ul[data-type=taskList]`, or a `ul` whose every `li` starts with `<input type=checkbox>` | `taskList` / `taskItem` (`TODO`/`DONE` from `checked` or `li[data-checked]`) |
//! | `table`, `tr`, `th`, `td` (`colspan`, `rowspan`) | `table`, `tableRow`, `tableHeader`, `tableCell` |
//! | `pre`, `pre > code.language-x` | `codeBlock` (`language`) |
//! | `blockquote` | `blockquote` |
//! | `hr` | `rule` |
//! | `div.panel-info`, `-note`, `-tip`, `-warning`, `-success`, `-error` (usually with `panel`) | `panel` (`panelType`) |
//!
//! Everything here is pure: no I/O, no clock, no randomness. Converting the same HTML always
//! gives the same document, ids included.

mod convert;
mod error;
mod fit;
mod ids;
mod markup;
mod model;
mod normalize;
mod plain_text;
mod sanitize;

pub use error::AdfError;
pub use fit::{
    Fitted, JIRA_DESCRIPTION_LIMIT, OVERFLOW_FILE_NAME, Overflow, fit_description, json_len,
    overflow_notice,
};
pub use markup::{adf_to_markdown, adf_to_wiki};
pub use model::{
    ADF_VERSION, Block, CellAttrs, CodeBlockAttrs, DocType, Document, HeadingAttrs, Inline,
    LinkAttrs, ListItem, ListItemType, LocalIdAttrs, Mark, OrderedListAttrs, PanelAttrs, PanelType,
    TableAttrs, TableCell, TableRow, TableRowType, TaskItemAttrs, TaskListEntry, TaskState,
};
pub use normalize::{normalize, safe_href};
pub use plain_text::adf_to_plain_text;
pub use sanitize::sanitize;

/// Converts HTML to an ADF document.
///
/// The HTML is sanitised with [`sanitize`] first. Any input, including empty or malformed
/// HTML, yields a valid document; input without visible content yields an empty document
/// (`"content": []`, which the schema allows).
pub fn html_to_adf(html: &str) -> Document {
    let clean = sanitize(html);
    let blocks = convert::html_to_blocks(&clean);
    normalize(Document::new(blocks))
}

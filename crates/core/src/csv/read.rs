//! Reading bytes into a table: encodings, delimiters, headers, rows, limits.
//!
//! The reading rules are those of `csv-types.md`: UTF-8 with or without BOM,
//! Windows-1252 as the fallback (with a warning), `;` or tab when the header
//! has no comma, blank rows skipped, ragged rows reported per row. A file over
//! a limit is rejected whole with an error; nothing is silently cut.

use crate::finding::{Code, Finding};

use super::Limits;
use super::values::preview;

/// The text encoding a file was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// UTF-16 (with a byte-order mark).
    Utf16,
    /// Windows-1252, the fallback for bytes that are not UTF-8.
    Windows1252,
}

/// One header cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// As written in the file (trimmed).
    pub raw: String,
    /// Normalised name; a repeated name gets `_2`, `_3`, ... appended.
    pub name: String,
    /// Whether the normalised name was already taken by an earlier cell.
    pub repeated: bool,
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line where the record starts (the header is line 1).
    pub line: u32,
    /// Cells as read (quotes removed, not trimmed).
    pub cells: Vec<String>,
}

/// A file read into a header and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Header cells.
    pub headers: Vec<Header>,
    /// Data rows with as many cells as the header (ragged rows are reported and left out).
    pub rows: Vec<Row>,
    /// Encoding used.
    pub encoding: Encoding,
    /// Cell delimiter used.
    pub delimiter: u8,
}

/// Normalises a header name: trim, lower-case, spaces/hyphens/dots to `_`,
/// a trailing `(s)` dropped, runs of `_` collapsed.
#[must_use]
pub fn normalise_header(raw: &str) -> String {
    let mut s = raw.trim().to_lowercase();
    if let Some(stripped) = s.strip_suffix("(s)") {
        s = stripped.trim_end().to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if matches!(c, ' ' | '-' | '.' | '\t') {
            '_'
        } else {
            c
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches('_').to_owned()
}

/// Decodes bytes to text, reporting a non-UTF-8 file.
fn decode(file: &str, bytes: &[u8], findings: &mut Vec<Finding>) -> (String, Encoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        if let Ok(s) = std::str::from_utf8(rest) {
            return (s.to_owned(), Encoding::Utf8Bom);
        }
    } else if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_owned(), Encoding::Utf8);
    }
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes)
        && encoding != encoding_rs::UTF_8
    {
        let (text, _, _) = encoding.decode(bytes);
        findings.push(Finding::file(
            file,
            Code::NotUtf8,
            "the file is UTF-16 and was read as such; save it as \"CSV UTF-8\" to avoid surprises",
        ));
        return (text.into_owned(), Encoding::Utf16);
    }
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    findings.push(Finding::file(
        file,
        Code::NotUtf8,
        "the file is not UTF-8 and was read as Windows-1252 (what Excel writes on Windows); \
         check accented characters, or save it as \"CSV UTF-8\"",
    ));
    (text.into_owned(), Encoding::Windows1252)
}

/// Picks the delimiter from the first record: a comma unless the header
/// parses into one column that holds `;` or tabs.
fn sniff_delimiter(text: &str) -> u8 {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) if record.iter().all(|c| c.trim().is_empty()) => continue,
            Ok(true) if record.len() == 1 => {
                let cell = &record[0];
                let semis = cell.matches(';').count();
                let tabs = cell.matches('\t').count();
                return match (semis, tabs) {
                    (0, 0) => b',',
                    (s, t) if t > s => b'\t',
                    _ => b';',
                };
            }
            _ => return b',',
        }
    }
}

/// Whether the record starting at `start` ends inside an open quote
/// (a quote that is never closed swallows the rest of the file).
fn ends_in_open_quote(text: &str, start: usize, delimiter: u8) -> bool {
    let bytes = text.as_bytes().get(start..).unwrap_or_default();
    let mut in_quotes = false;
    let mut at_field_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
        } else if b == b'"' && at_field_start {
            in_quotes = true;
        } else if b == delimiter || b == b'\n' || b == b'\r' {
            at_field_start = true;
            i += 1;
            continue;
        }
        at_field_start = false;
        i += 1;
    }
    in_quotes
}

/// Reads a file into a table, or explains why it cannot be read.
///
/// Returns `None` when the file must be rejected whole (too large, empty,
/// too many rows); the reasons are in `findings`.
pub fn read_table(
    file: &str,
    bytes: &[u8],
    limits: &Limits,
    findings: &mut Vec<Finding>,
) -> Option<Table> {
    if bytes.len() > limits.max_file_bytes {
        findings.push(Finding::file(
            file,
            Code::FileTooLarge,
            format!(
                "the file is {} bytes, over the limit of {} bytes; split it into several files \
                 of the same type",
                bytes.len(),
                limits.max_file_bytes
            ),
        ));
        return None;
    }
    let (mut text, encoding) = decode(file, bytes, findings);
    // Line ends become LF (Windows CRLF, old Mac CR): the parser's line
    // numbers are only exact for LF.
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    if text.trim().is_empty() {
        findings.push(Finding::file(
            file,
            Code::EmptyFile,
            "the file is empty; export the sheet again with its header row and data",
        ));
        return None;
    }
    let delimiter = sniff_delimiter(&text);
    if delimiter != b',' {
        let name = if delimiter == b';' {
            "semicolons"
        } else {
            "tabs"
        };
        findings.push(Finding::file(
            file,
            Code::NonCommaDelimiter,
            format!("the file separates cells with {name}, not commas; it was read that way"),
        ));
    }

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut headers: Option<Vec<Header>> = None;
    let mut rows = Vec::new();
    let mut data_rows = 0usize;
    let mut last_start = 0usize;
    let mut last_line = 1u32;
    let mut header_width = 0usize;
    let mut rejected = false;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => {
                findings.push(Finding::file(
                    file,
                    Code::CsvSyntax,
                    format!("the file cannot be read as CSV ({err}); save it again as CSV"),
                ));
                return None;
            }
        }
        let (byte, line) = record.position().map_or((0, 0), |p| (p.byte(), p.line()));
        last_start = usize::try_from(byte).unwrap_or(usize::MAX);
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        last_line = line;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(_) = headers else {
            let hs = header_cells(&record);
            header_width = hs.len();
            headers = Some(hs);
            continue;
        };
        data_rows += 1;
        if data_rows > limits.max_rows {
            rejected = true;
            continue;
        }
        if record.len() != header_width {
            let fix = if record.len() > header_width {
                "a cell holding a comma must be in double quotes; otherwise remove the extra cells"
            } else {
                "add the missing cells (empty ones are fine: ,,)"
            };
            findings.push(
                Finding::at(
                    file,
                    line,
                    Code::RaggedRow,
                    format!(
                        "line {line} has {} cells but the header has {header_width}; {fix}",
                        record.len()
                    ),
                )
                .value(preview(&record.iter().collect::<Vec<_>>().join(","))),
            );
            continue;
        }
        let mut too_large = false;
        if let Some(hs) = &headers {
            for (i, cell) in record.iter().enumerate() {
                if cell.len() > limits.max_cell_bytes {
                    too_large = true;
                    let column = hs.get(i).map(|h| h.raw.clone()).unwrap_or_default();
                    findings.push(
                        Finding::at(
                            file,
                            line,
                            Code::CellTooLarge,
                            format!(
                                "line {line}: the {column} cell holds {} bytes, over the limit \
                                 of {}; move long text to a document and link to it",
                                cell.len(),
                                limits.max_cell_bytes
                            ),
                        )
                        .column(column)
                        .value(preview(cell)),
                    );
                }
            }
        }
        if !too_large {
            rows.push(Row {
                line,
                cells: record.iter().map(str::to_owned).collect(),
            });
        }
    }
    if ends_in_open_quote(&text, last_start, delimiter) {
        // The record that swallowed the rest of the file is reported once, as
        // what it is; a ragged-row finding about it would point the wrong way.
        if let Some(i) = findings
            .iter()
            .rposition(|f| f.file == file && f.code == Code::RaggedRow && f.line == Some(last_line))
        {
            findings.remove(i);
        }
        if rows.last().is_some_and(|r| r.line == last_line) {
            rows.pop();
        }
        findings.push(Finding::at(
            file,
            last_line,
            Code::CsvSyntax,
            format!(
                "line {last_line}: a double quote opened in this row is never closed, so the rest \
                 of the file was read as one cell; close the quote, or double it (\"\") inside a \
                 quoted cell"
            ),
        ));
        if data_rows == 0 {
            return None;
        }
    }
    if rejected {
        findings.push(Finding::file(
            file,
            Code::TooManyRows,
            format!(
                "the file has {data_rows} data rows, over the limit of {}; split it into several \
                 files of the same type",
                limits.max_rows
            ),
        ));
        return None;
    }
    let headers = headers?;
    if data_rows == 0 {
        findings.push(Finding::file(
            file,
            Code::NoDataRows,
            "the file has a header but no data rows; nothing will be planned from it",
        ));
    }
    Some(Table {
        headers,
        rows,
        encoding,
        delimiter,
    })
}

fn header_cells(record: &csv::StringRecord) -> Vec<Header> {
    let mut out: Vec<Header> = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let raw = raw.trim().trim_start_matches('\u{feff}').to_owned();
        let mut name = normalise_header(&raw);
        if name.is_empty() {
            name = format!("column_{}", i + 1);
        }
        let mut repeated = false;
        if out.iter().any(|h| h.name == name) {
            repeated = true;
            let mut n = 2;
            while out.iter().any(|h| h.name == format!("{name}_{n}")) {
                n += 1;
            }
            name = format!("{name}_{n}");
        }
        out.push(Header {
            raw,
            name,
            repeated,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> (Option<Table>, Vec<Finding>) {
        let mut findings = Vec::new();
        let table = read_table("t.csv", bytes, &Limits::default(), &mut findings);
        (table, findings)
    }

    #[test]
    fn header_names_are_normalised() {
        assert_eq!(normalise_header(" Machine Name "), "machine_name");
        assert_eq!(normalise_header("machine-name"), "machine_name");
        assert_eq!(normalise_header("Permission(s)"), "permission");
        assert_eq!(normalise_header("items.per.page"), "items_per_page");
        assert_eq!(normalise_header("Text  -  body"), "text_body");
    }

    #[test]
    fn bom_and_crlf_are_read() {
        let (table, findings) = read(b"\xEF\xBB\xBFmachine_name,label\r\nnews,News\r\n");
        let table = table.unwrap();
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(table.encoding, Encoding::Utf8Bom);
        assert_eq!(table.headers[0].name, "machine_name");
        assert_eq!(table.rows[0].cells, vec!["news", "News"]);
        assert_eq!(table.rows[0].line, 2);
    }

    #[test]
    fn windows_1252_is_read_with_a_warning() {
        let (table, findings) = read(b"machine_name,label\ncafe,Caf\xe9\n");
        assert_eq!(table.unwrap().rows[0].cells[1], "Café");
        assert_eq!(findings[0].code, Code::NotUtf8);
    }

    #[test]
    fn semicolons_and_tabs_are_sniffed() {
        let (table, findings) = read(b"machine_name;label\nnews;News\n");
        assert_eq!(table.unwrap().delimiter, b';');
        assert_eq!(findings[0].code, Code::NonCommaDelimiter);
        let (table, _) = read(b"machine_name\tlabel\nnews\tNews\n");
        assert_eq!(table.unwrap().delimiter, b'\t');
    }

    #[test]
    fn blank_rows_are_skipped_and_lines_count_them() {
        let (table, findings) = read(b"a,b\n\n,\n1,2\n");
        let table = table.unwrap();
        assert!(findings.is_empty());
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0].line, 4);
    }

    #[test]
    fn ragged_rows_are_errors_for_that_row() {
        let (table, findings) = read(b"a,b\n1,2,3\n4,5\n");
        assert_eq!(table.unwrap().rows.len(), 1);
        assert_eq!(findings[0].code, Code::RaggedRow);
        assert_eq!(findings[0].line, Some(2));
    }

    #[test]
    fn unclosed_quote_is_reported() {
        let (_, findings) = read(b"a,b\n1,\"two\n3,4\n");
        assert!(
            findings.iter().any(|f| f.code == Code::CsvSyntax),
            "{findings:?}"
        );
    }

    #[test]
    fn limits_reject_whole_files() {
        let limits = Limits {
            max_rows: 2,
            ..Limits::default()
        };
        let mut findings = Vec::new();
        assert!(read_table("t.csv", b"a\n1\n2\n3\n", &limits, &mut findings).is_none());
        assert_eq!(findings[0].code, Code::TooManyRows);
        assert!(findings[0].message.contains("3 data rows"));
    }

    #[test]
    fn repeated_headers_are_suffixed() {
        let (table, _) = read(b"Name,Name\nnode,Node\n");
        let table = table.unwrap();
        assert_eq!(table.headers[1].name, "name_2");
        assert!(table.headers[1].repeated);
    }

    #[test]
    fn empty_and_header_only_files() {
        let (table, findings) = read(b"  \n");
        assert!(table.is_none());
        assert_eq!(findings[0].code, Code::EmptyFile);
        let (table, findings) = read(b"a,b\n");
        assert!(table.is_some());
        assert_eq!(findings[0].code, Code::NoDataRows);
    }
}
